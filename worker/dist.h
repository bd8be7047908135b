/* Gradient synchronisation between workers (one per rank), built on comm/: dense parameter
 * runs are all-reduced with SUM in place, in buckets that can start during the backward pass
 * (overlap); lookup tables travel as the
 * rows each rank touched (all-gather) when that is smaller than the dense table, else
 * dense. A model on a GPU is summed through host memory (the whole buffer, then the union
 * of touched rows). Every rank ends with the same summed gradient and the same set of touched rows,
 * so the optimizer step keeps all replicas identical. Every rank issues the same
 * collectives in the same order, also a rank that processed no sample. Not thread-safe. */
#ifndef DBX_WORKER_DIST_H
#define DBX_WORKER_DIST_H

#include <stddef.h>

#include "comm/comm.h"
#include "comm/nccl.h"
#include "dbx/dbx.h"

/* A bucket of dense gradients: floats [lo, hi) of the model's gradient buffer, the dense
 * parameters of one run of adjacent ones, all-reduced as one operation (key = its index). */
typedef struct dbx__bucket {
    size_t lo, hi;
    int nparams;         /* its parameters */
    int pending;         /* of which the backward pass has not completed yet */
    int started;
} dbx__bucket;

typedef struct dbx__sync {
    dbx__nccl *nccl;      /* GPU models: NCCL all-reduce (owned), or NULL: through host memory */
    double seconds;      /* time in dbx__grad_sync (with overlap: what the backward pass did
                            not hide) */
    size_t bytes;        /* gradient bytes this rank contributed */
    double local;        /* of seconds: this rank's own work on the embedding rows (copies,
                            sums, marking the union touched), no communication */
    size_t early;        /* dense bytes whose all-reduce started during the backward pass */
    int64_t sparse_rows; /* embedding rows exchanged (all ranks) */
    /* buckets (host models on several ranks), planned at dbx__sync_attach */
    dbx__comm *comm;
    dbx_model *model;
    int overlap;         /* start a bucket as soon as its gradients are complete */
    int in_order;        /* start buckets in index order (the MPI library's all-reduce) */
    size_t next;         /* in order: the next bucket to start */
    dbx__bucket *buckets;
    size_t nbuckets, cap_buckets;
    int32_t *pbucket;    /* (model params) bucket of each parameter, -1: a lookup table */
    size_t cap_pbucket;
    /* scratch, reused across steps */
    int64_t *counts;
    size_t *bcounts, *bdispls;
    int32_t *rows;
    float *vals, *send, *staged;
    size_t cap_rows, cap_vals, cap_send, cap_staged;
} dbx__sync;

/* Plans s's buckets for model m (dense parameters in reverse order, so that the ones the
 * backward pass completes first come first, cut at bucket_bytes; 0: one bucket per run) and,
 * with overlap on several ranks and a host model, sets ex's gradient hook so that each
 * bucket's all-reduce starts as soon as the backward pass has completed its gradients (the
 * hook also advances the operations in flight). Call again after the model's parameters
 * change. */
dbx_status dbx__sync_attach(dbx__sync *s, dbx__comm *c, dbx_model *m, dbx_exec *ex,
                            int overlap, size_t bucket_bytes);
/* With overlap: whether the next backward pass starts the buckets (off for the minibatches
 * whose gradients are only accumulated locally). */
void dbx__sync_overlap_now(dbx__sync *s, dbx_exec *ex, int on);
/* After the backward pass: starts the buckets not started yet (in index order), exchanges
 * the lookup tables, waits for every operation. */
dbx_status dbx__grad_sync(dbx__comm *c, dbx_model *m, dbx__sync *s);
void dbx__sync_free(dbx__sync *s);

#endif /* DBX_WORKER_DIST_H */
