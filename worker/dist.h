/* Gradient synchronisation between workers (one per rank), built on comm/: dense parameter
 * runs are all-reduced with SUM in place (bucketed by comm/); lookup tables travel as the
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

typedef struct dbx__sync {
    dbx__nccl *nccl;      /* GPU models: NCCL all-reduce (owned), or NULL: through host memory */
    double seconds;      /* time in the synchronisation */
    size_t bytes;        /* gradient bytes this rank contributed */
    int64_t sparse_rows; /* embedding rows exchanged (all ranks) */
    /* scratch, reused across steps */
    int64_t *counts;
    size_t *bcounts, *bdispls;
    int32_t *rows;
    float *vals, *send, *staged;
    size_t cap_rows, cap_vals, cap_send, cap_staged;
} dbx__sync;

dbx_status dbx__grad_sync(dbx__comm *c, dbx_model *m, dbx__sync *s);
void dbx__sync_free(dbx__sync *s);

#endif /* DBX_WORKER_DIST_H */
