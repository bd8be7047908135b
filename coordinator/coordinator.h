/* The coordinator (rank 0): holds the training samples read from the stream, their
 * structural signatures (from each sample's own graph, built once through the model type),
 * the epoch order (seeded shuffle), cuts global batches of a fixed size, assigns each global
 * batch's samples to the workers with a partition strategy and a cost model fitted online
 * from the workers' measured step times, and packs one message per worker (worker/worker.h)
 * behind a small header. Which worker gets which sample changes the speed only: the global
 * batch is fixed by the sample order. Owned by rank 0's trainer; not thread-safe. */
#ifndef DBX_COORDINATOR_COORDINATOR_H
#define DBX_COORDINATOR_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>

#include "partition/partition.h"
#include "worker/worker.h"

/* One planned step: per-worker messages in one buffer. */
typedef struct dbx__shipment {
    int32_t *words;          /* all messages, worker after worker */
    size_t cap_words;
    size_t *counts, *displs; /* (W) bytes of worker w's message and its offset */
    int64_t step;
    int32_t global_bs;
    int epoch, epoch_end;
    double model_gemm;       /* GEMM FLOPs the model defines for the batch (fwd + bwd) */
    dbx__part_stats pstats;   /* the partitioner's modelled per-worker times */
    double t_plan;           /* seconds the coordinator spent planning this step */
} dbx__shipment;

typedef struct dbx__coord {
    const dbx_dataset *train; /* borrowed */
    int W, batch, shuffle;
    uint64_t seed;
    dbx__part_strategy strategy;
    dbx__cost_model cost;
    dbx__psample *ps;         /* (n) per-sample signatures; keys point into keys */
    uint32_t *keys;
    double *gemm;            /* (n) forward GEMM FLOPs of each sample, before dedup */
    int32_t *perm, pos, epoch;
    int32_t *assign;         /* (batch) scratch */
    dbx__psample *sub;        /* (batch) scratch */
    size_t max_msg_bytes;    /* an upper bound on any worker's message */
} dbx__coord;

/* Computes every sample's signature by building it alone through the worker's model type
 * (into a scratch graph of the worker's model, so signature ids agree). */
dbx_status dbx__coord_init(dbx__coord *c, dbx__worker *w, const dbx_dataset *train, int W,
                           int batch, uint64_t seed, int shuffle, dbx__part_strategy strategy);
void dbx__coord_free(dbx__coord *c);
/* Plans step `step` into p (its buffers are reused; free with dbx__shipment_free). */
dbx_status dbx__coord_plan(dbx__coord *c, int64_t step, dbx__shipment *p);
/* Feeds one step's measured worker times (W entries each) to the cost model. */
void dbx__coord_observe(dbx__coord *c, const double *launches, const double *nodes,
                        const double *seconds);
void dbx__shipment_free(dbx__shipment *p);

#endif /* DBX_COORDINATOR_COORDINATOR_H */
