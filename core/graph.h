/* Internal layout of the minibatch graph (include/dbx/dbx.h has the builder API).
 * Nodes live in one growable array; argument lists, affine terms and input data in pools.
 * A graph is reused across steps: dbx_graph_clear() keeps capacity, and the signature
 * table persists, so signature ids are stable across steps. Each signature has a dense id
 * (first-seen order in this graph: for indexing arrays) and a canonical 64-bit hash (the
 * same in every run, process and rank: core/sig.c). Not thread-safe. */
#ifndef DBX_CORE_GRAPH_H
#define DBX_CORE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/ops.h"
#include "dbx/dbx.h"

enum { DBX__SIG_WAYS = 4 };

#define DBX__MAX_ARGS 255

typedef struct dbx__node {
    uint8_t op;       /* enum dbx_op */
    uint8_t nargs;
    uint16_t flags;
    int32_t dim;      /* output floats */
    int32_t sig;      /* signature id (graph-wide, stable) */
    int32_t args;     /* first argument in g->args */
    int32_t attr;     /* per-node integer: label (xent), row (lookup) */
    int32_t aux;      /* affine: first term in g->terms; lookup: table; slice: begin;
                         lstm_c: k; input: offset in g->data */
    int32_t depth;    /* 0 for leaves, else 1 + max(arg depths) */
    int32_t sample;   /* sample that created it */
} dbx__node;

/* Dedup use chains, beside the nodes (compact: a chain walk stays in cache). A node with
 * arguments is chained to its newest argument (graph.c: use_hub): per node, the latest node
 * chained to it, and per node the next older node chained to the same argument, with a 32-bit
 * key of its identity. */
typedef struct dbx__use {
    int32_t head;     /* latest node chained to this one, or -1 */
    int32_t next;     /* next older node chained to the same argument, or -1 */
    uint32_t key;     /* use_key(): signature, attr, arguments */
} dbx__use;

typedef struct dbx__term {
    int32_t w;        /* parameter */
    int32_t row_off;
    int32_t arg;      /* index into the node's args, or -1 for a bias */
} dbx__term;

typedef struct dbx__slot {
    uint64_t h;
    int32_t id;
    uint32_t gen;
} dbx__slot;

struct dbx_graph {
    dbx_model *m;
    int dedup;
    dbx_status err;
    char errmsg[256];

    dbx__node *nodes;
    size_t nnodes, cap_nodes;
    dbx__use *uses;               /* (nnodes) dedup use chains */
    size_t cap_uses;
    int32_t *args;
    size_t nargs, cap_args;
    dbx__term *terms;
    size_t nterms, cap_terms;
    float *data;
    size_t ndata, cap_data;
    int32_t *losses;
    size_t nlosses, cap_losses;
    int32_t *outputs;             /* dbx_graph_output, in call order */
    size_t noutputs, cap_outputs;
    int32_t nsamples;
    /* random ops: training flag (0: dropout is the identity), the key set by
       dbx_graph_set_rng, samples begun since, and the current sample's splitmix64 stream
       (core/rng.h), from which each random node draws its key */
    int training;
    uint64_t rng_key, rng_stream;
    int32_t rng_samples;
    int64_t requested;            /* nodes asked for, before deduplication */
    double req_gemm_flops;        /* forward GEMM FLOPs asked for, before deduplication */

    /* dedup of argument-less nodes (lookups): hash table, reset per step by bumping gen;
       nodes with arguments are deduplicated through their first argument's use chain */
    dbx__slot *cse;
    size_t cse_cap, ncse;
    uint32_t gen;

    /* signature table (persistent) */
    dbx__slot *sigtab;
    size_t sigtab_cap;
    int32_t *sigkeys;             /* concatenated keys */
    size_t nsigkeys, cap_sigkeys;
    int32_t *sigkey_off;          /* (nsigs + 1) */
    size_t nsigs, cap_sigs;
    int32_t *keybuf;              /* scratch for building a key */
    size_t cap_keybuf;
    /* per signature (nsigs; capacity cap_sigstat): canonical hash (persistent), and the
       nodes of this graph with the signature and the sum of their depths, counted lazily
       (core/sig.c) over nodes [0, sigstat_nodes) and reset by clear */
    uint64_t *sighash;
    int32_t *sig_count;
    int64_t *sig_depth;
    size_t cap_sigstat;
    size_t sigstat_nodes;
    /* per op, the signatures of its last DBX__SIG_WAYS distinct keys (-1: none), replaced
       round-robin: a model repeats a few per op, and comparing keys is cheaper than hashing */
    int32_t sig_last[DBX_OP_COUNT][DBX__SIG_WAYS];
    uint8_t sig_next[DBX_OP_COUNT];
};

/* The key of signature s: key[0] = op, key[1] = dim, key[2] = nargs, then arg dims, then
 * op-specific shared items (affine terms: w, row_off, has_x; lookup: table; slice: begin).
 * For an op whose arity varies inside a batch (dbx__op_vary_arity), key[2] = -1 and one arg
 * dim (that of every argument) follows. */
static inline const int32_t *dbx__sig_key(const dbx_graph *g, int32_t s, int *len)
{
    *len = g->sigkey_off[s + 1] - g->sigkey_off[s];
    return g->sigkeys + g->sigkey_off[s];
}

/* The canonical hash of a signature key (core/sig.c): computed from the op's name, the
 * shapes and the shared parameters by name and shape, never from handles or ids. */
uint64_t dbx__sig_canon_hash(const dbx_graph *g, const int32_t *key, int len);

/* What the builder asks dbx__graph_add for. */
typedef struct node_spec {
    enum dbx_op op;
    int dim;
    int nargs;
    const dbx_node *args;
    int32_t attr, aux;
    const int32_t *extra; /* op-specific signature items */
    int nextra;
    double gemm_flops;    /* forward GEMM FLOPs of this node */
} node_spec;

/* Builder internals (core/graph.c), for the op builders in core/build.c. Each returns
   DBX_NONE once the graph has an error (sticky). */
/* Adds (or, deduplicating, finds) the node described by sp; its arguments must be valid. */
dbx_node dbx__graph_add(dbx_graph *g, const node_spec *sp);
/* Records the first builder error and returns DBX_NONE. */
dbx_node dbx__graph_bad(dbx_graph *g, dbx_status s, const char *msg);
/* 1 when the n nodes are nodes of g (else records an error and returns 0). */
int dbx__graph_check_args(dbx_graph *g, int n, const dbx_node *xs);
int dbx__graph_valid_param(const dbx_graph *g, dbx_param p);
/* A node of op with one argument x (output dim = dim(x)), or two of the same dim. */
dbx_node dbx__graph_unary(dbx_graph *g, enum dbx_op op, dbx_node x);
dbx_node dbx__graph_binary(dbx_graph *g, enum dbx_op op, dbx_node a, dbx_node b);

static inline const int32_t *dbx__node_args(const dbx_graph *g, const dbx__node *n)
{
    return g->args + n->args;
}

#endif /* DBX_CORE_GRAPH_H */
