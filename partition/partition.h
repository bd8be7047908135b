/* Structure-aware partitioning of a global batch across workers: pure library code (no I/O,
 * no MPI), deterministic given its inputs.
 *
 * A sample's structural signature is its node count, its depth and the set of batching keys
 * its graph produces (a key is a (depth, signature) pair: nodes with equal keys on one worker
 * run in one batched launch). A worker's step time is modelled as
 *     t(w) = A * |union of the keys of its samples| + B * (sum of its samples' nodes)
 * so a sample whose structure a worker already holds costs only its nodes there. A and B are
 * fitted online from measured (launches, nodes, seconds) triples by least squares.
 *
 * Strategies: random (seeded), round-robin, lpt (longest processing time on node counts),
 * similarity (largest samples first, each to the worker whose modelled time after adding it
 * is lowest: LPT under the cost model above, which balances load and groups structurally
 * similar samples in one rule). Not thread-safe per object; the functions are reentrant. */
#ifndef DBX_PARTITION_PARTITION_H
#define DBX_PARTITION_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "dbx/dbx.h"

typedef enum dbx__part_strategy {
    DBX_PART_RANDOM,
    DBX_PART_ROUND_ROBIN,
    DBX_PART_LPT,
    DBX_PART_SIMILARITY
} dbx__part_strategy;

/* Parses "random" | "round-robin" | "lpt" | "similarity". */
dbx_status dbx__part_parse(const char *name, dbx__part_strategy *out);
const char *dbx__part_name(dbx__part_strategy s);

typedef struct dbx__psample {
    int32_t nodes;        /* graph nodes of the sample */
    int32_t depth;        /* longest path */
    int32_t nkeys;        /* distinct batching keys */
    const uint32_t *keys; /* (nkeys) sorted ascending, distinct; borrowed */
} dbx__psample;

/* Online least-squares fit of t = A * launches + B * nodes (no intercept), with a prior so
 * that it is defined before any observation. The prior is two pseudo-observations of weight
 * 1e-3 each, (1 launch, 0 nodes, A0 s) and (0 launches, 1 node, B0 s); it does not decay, so
 * the fit stays defined however the observations look, and it is negligible next to any
 * real worker step (tens of launches and nodes or more). */
typedef struct dbx__cost_model {
    double A, B;                     /* current estimates, seconds per launch / per node */
    double sll, sln, snn, slt, snt;  /* sums of l*l, l*n, n*n, l*t, n*t (decayed) */
    double decay;                    /* weight of old observations per update, e.g. 0.98 */
    int64_t nobs;
    double A0, B0;                   /* the prior (set by dbx__cost_init) */
} dbx__cost_model;

/* Starts from prior estimates A0, B0 (e.g. 20e-6 s per launch, 1e-6 s per node); values
 * that are not finite or below 1e-12 are raised to 1e-12. decay in (0, 1]; anything else
 * means 1 (no decay). */
void dbx__cost_init(dbx__cost_model *cm, double A0, double B0, double decay);
/* Adds one measured worker step: every sum is first multiplied by decay, then the
 * observation is added, and A and B are refitted by non-negative least squares (both kept
 * >= 1e-12). Observations with a negative or non-finite value are ignored. */
void dbx__cost_observe(dbx__cost_model *cm, double launches, double nodes, double seconds);
/* Modelled time of a worker holding these totals. */
double dbx__cost_eval(const dbx__cost_model *cm, double launches, double nodes);

typedef struct dbx__part_stats {
    double max_time, mean_time;  /* modelled per-worker step times */
    int64_t total_launches;      /* sum over workers of distinct keys */
    int64_t max_nodes, min_nodes;
} dbx__part_stats;

/* Assigns each of the n samples to one of W workers: assign[i] in [0, W). Every sample is
 * assigned exactly once; a worker may get none. seed is used by `random` only. scratch-free
 * for the caller: allocates internally (DBX_ENOMEM on failure). stats may be NULL.
 * cm may be NULL: the model of dbx__cost_init(cm, 20e-6, 1e-6, 1) is used then.
 * DBX_EINVAL for W <= 0, n < 0, NULL samples/assign with n > 0, an unknown strategy, or a
 * sample with negative counts or keys that are not sorted ascending and distinct.
 * Ties: lpt sends a sample to the worker with the fewest nodes so far, then the lowest id;
 * similarity to the lowest modelled time after adding it, then the smallest increase in
 * launches, then the lowest id; both take samples by nodes descending, then by index. */
dbx_status dbx__partition(dbx__part_strategy s, const dbx__psample *samples, int n, int W,
                         const dbx__cost_model *cm, uint64_t seed, int32_t *assign,
                         dbx__part_stats *stats);

/* Evaluates a given assignment under the cost model (fills stats; cm may be NULL as above).
 * mean_time is over all W workers, empty ones included; min_nodes is 0 if one is empty. */
dbx_status dbx__partition_eval(const dbx__psample *samples, int n, int W, const int32_t *assign,
                              const dbx__cost_model *cm, dbx__part_stats *stats);

/* The structural signature of the sample(s) in graph g (built but not executed): node count,
 * depth, and the sorted distinct batching keys (depth << 16 | signature id; depths and
 * signature ids above 65535 are clamped to 65535). keys must hold dbx_graph_num_nodes(g)
 * entries; out borrows it. DBX_EINVAL if g has a builder error. Signature ids are stable
 * for a graph object, so build every sample with the same graph (cleared in between) to
 * compare keys across samples. */
dbx_status dbx__psample_from_graph(const dbx_graph *g, uint32_t *keys, dbx__psample *out);

#endif /* DBX_PARTITION_PARTITION_H */
