/* NCCL collectives for GPU workers (comm/comm_nccl.c, built into the CUDA object library
 * dbx_cuda when CMake finds NCCL). The NCCL unique id is broadcast over the job's MPI (or
 * single-process) communicator; the all-reduce runs on its own stream, which waits for the
 * compute stream through an event, and the compute stream waits for the all-reduce's event
 * before the optimizer runs. On any NCCL error the communicator is aborted
 * (ncclCommAbort), so no rank is left waiting inside NCCL, and DBX_ENCCL is returned.
 * Callers reference these functions weakly (they exist only in programs linking dbx_cuda).
 * One dbx__nccl per rank, used by one thread. */
#ifndef DBX_COMM_NCCL_H
#define DBX_COMM_NCCL_H

#include <stddef.h>

#include "comm/comm.h"

typedef struct dbx__nccl dbx__nccl;

/* Collective (all ranks): creates the NCCL communicator of c's ranks for the GPU that
 * compute_stream (a cudaStream_t) belongs to. */
dbx_status dbx__nccl_new(dbx__comm *c, void *compute_stream, dbx__nccl **out);
/* Collective (all ranks): in-place SUM of n floats of device memory, ordered after the
 * work already enqueued on the compute stream and before the work enqueued after it. */
dbx_status dbx__nccl_allreduce_f32(dbx__nccl *n, float *dev, size_t count);
void dbx__nccl_free(dbx__nccl *n);

#endif /* DBX_COMM_NCCL_H */
