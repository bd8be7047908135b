/* The coordinator (rank 0): holds the training samples read from the stream, their
 * structural signatures, the epoch order (seeded shuffle), cuts global batches of a fixed
 * size, assigns each global batch's samples to the workers with a partition strategy and a
 * cost model fitted online from the workers' measured step times, and packs one message per
 * worker (models/wire.h) behind a small header. Which worker gets which sample changes the
 * speed only: the global batch is fixed by the sample order. Owned by rank 0's trainer;
 * not thread-safe. */
#ifndef DBX_COORDINATOR_COORDINATOR_H
#define DBX_COORDINATOR_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>

#include "partition/partition.h"
#include "worker/worker.h"

/* Words of the header in front of each worker's message. */
enum { DBX_MSG_HEADER = 6, DBX_MSG_MAGIC = 0x44425853 /* "DBXS" */ };

/* Header fields: [magic, step, global batch size, epoch, epoch_end flag, samples here]. */
typedef struct dbx__msg_header {
    int32_t step, global_bs, epoch, epoch_end, nsamples;
} dbx__msg_header;

/* One planned step: per-worker messages in one buffer. */
typedef struct dbx__plan {
    int32_t *words;          /* all messages, worker after worker */
    size_t cap_words;
    size_t *counts, *displs; /* (W) bytes of worker w's message and its offset */
    int64_t step;
    int32_t global_bs;
    int epoch, epoch_end;
    int64_t labelled;        /* loss terms in the global batch */
    double model_gemm;       /* GEMM FLOPs the model defines for the batch (fwd + bwd) */
    dbx_part_stats pstats;   /* the partitioner's modelled per-worker times */
    double t_plan;           /* seconds the coordinator spent planning this step */
} dbx__plan;

typedef struct dbx__coord {
    const dbx__data *train;  /* borrowed */
    dbx__run *run;           /* borrowed: vocabulary sizes, model builders */
    int W, batch, shuffle;
    uint64_t seed;
    dbx_part_strategy strategy;
    dbx_cost_model cost;
    dbx_psample *ps;         /* (n) per-sample signatures; keys point into keys */
    uint32_t *keys;
    int32_t *perm, pos, epoch;
    int32_t *assign;         /* (batch) scratch */
    dbx_psample *sub;        /* (batch) scratch */
    size_t max_msg_bytes;    /* an upper bound on any worker's message */
    double tagger_flops_per_token;
} dbx__coord;

dbx_status dbx__coord_init(dbx__coord *c, dbx__run *run, const dbx__data *train, int W,
                           int batch, uint64_t seed, int shuffle, dbx_part_strategy strategy);
void dbx__coord_free(dbx__coord *c);
/* Plans the next step into p (its buffers are reused; free with dbx__plan_free). */
dbx_status dbx__coord_plan(dbx__coord *c, int64_t step, dbx__plan *p);
/* Feeds one step's measured worker times (W entries each) to the cost model. */
void dbx__coord_observe(dbx__coord *c, const double *launches, const double *nodes,
                        const double *seconds);
void dbx__plan_free(dbx__plan *p);

/* Reads the header of a received message (nbytes long) and checks it. */
dbx_status dbx__msg_read_header(const int32_t *words, size_t nbytes, int64_t step,
                                dbx__msg_header *h);

#endif /* DBX_COORDINATOR_COORDINATOR_H */
