/* NCCL all-reduce for GPU workers (see comm/nccl.h). Compiled only into the CUDA object
 * library (kernels/cuda/CMakeLists.txt), never into the CPU-only libdbx. Not run on a GPU
 * yet. One object per rank, used by one thread. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>

#include "comm/nccl.h"
#include "core/status.h"
#include "kernels/cuda/check.h" /* DBX_CU */

struct dbx__nccl {
    ncclComm_t comm;
    cudaStream_t stream;  /* the collectives' own stream */
    cudaStream_t compute; /* the backend's stream (borrowed) */
    cudaEvent_t ready;    /* compute work before the all-reduce is done */
    cudaEvent_t done;     /* the all-reduce is done */
    int rank;
};

/* An NCCL error aborts the communicator: the other ranks' NCCL calls then fail instead of
   waiting forever. */
static dbx_status nccl_fail(dbx__nccl *n, ncclResult_t r, const char *call, int line)
{
    if (n && n->comm) {
        ncclCommAbort(n->comm);
        n->comm = NULL;
    }
    return dbx__fail(DBX_ENCCL, "%s:%d: %s: %s", __FILE__, line, call, ncclGetErrorString(r));
}

#define DBX_NCCL_TRY(n, call)                                                                \
    do {                                                                                     \
        ncclResult_t r_ = (call);                                                            \
        if (r_ != ncclSuccess) return nccl_fail((n), r_, #call, __LINE__);                   \
    } while (0)

dbx_status dbx__nccl_new(dbx__comm *c, void *compute_stream, dbx__nccl **out)
{
    *out = NULL;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    int rank = dbx__comm_rank(c), size = dbx__comm_size(c);
    ncclResult_t r = rank == 0 ? ncclGetUniqueId(&id) : ncclSuccess;
    int64_t ok = r == ncclSuccess;
    /* collective (all ranks): did rank 0 get an id? then the id itself */
    DBX_TRY(dbx__comm_allreduce_i64(c, &ok, 1, DBX_COMM_MIN));
    if (!ok) return dbx__fail(DBX_ENCCL, "ncclGetUniqueId failed on rank 0");
    DBX_TRY(dbx__comm_bcast(c, &id, sizeof id, 0));
    dbx__nccl *n = calloc(1, sizeof *n);
    if (!n) return dbx__fail(DBX_ENOMEM, "out of memory");
    n->compute = (cudaStream_t)compute_stream;
    n->rank = rank;
    dbx_status s = DBX_OK;
    if (cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking) != cudaSuccess ||
        cudaEventCreateWithFlags(&n->ready, cudaEventDisableTiming) != cudaSuccess ||
        cudaEventCreateWithFlags(&n->done, cudaEventDisableTiming) != cudaSuccess)
        s = dbx__fail(DBX_ECUDA, "NCCL setup: cannot create a stream or events: %s",
                      cudaGetErrorString(cudaGetLastError()));
    /* collective (all ranks): enter ncclCommInitRank only when every rank will, else the
       ranks that did would wait there for the failed one forever */
    int64_t setup = s == DBX_OK;
    dbx_status sa = dbx__comm_allreduce_i64(c, &setup, 1, DBX_COMM_MIN);
    if (!s && sa) s = sa;
    if (!s && !setup) s = dbx__fail(DBX_ENCCL, "NCCL setup failed on another rank");
    if (!s) {
        r = ncclCommInitRank(&n->comm, size, id, rank);
        if (r != ncclSuccess) s = nccl_fail(n, r, "ncclCommInitRank", __LINE__);
    }
    if (s) {
        dbx__nccl_free(n);
        return s;
    }
    *out = n;
    return DBX_OK;
}

/* A CUDA call of the all-reduce path; on failure the communicator is aborted too, so that
   no peer is left in an all-reduce this rank will not join. */
#define DBX_CU_ABORT(n, call)                                                                \
    do {                                                                                     \
        cudaError_t e_ = (call);                                                             \
        if (e_ != cudaSuccess) {                                                             \
            (void)cudaGetLastError();                                                        \
            if ((n)->comm) ncclCommAbort((n)->comm);                                         \
            (n)->comm = NULL;                                                                \
            return dbx__fail(DBX_ECUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,          \
                             cudaGetErrorString(e_));                                        \
        }                                                                                    \
    } while (0)

dbx_status dbx__nccl_allreduce_f32(dbx__nccl *n, float *dev, size_t count)
{
    if (!n->comm) return dbx__fail(DBX_ENCCL, "NCCL communicator was aborted");
    DBX_CU_ABORT(n, cudaEventRecord(n->ready, n->compute));
    DBX_CU_ABORT(n, cudaStreamWaitEvent(n->stream, n->ready, 0));
    DBX_NCCL_TRY(n, ncclAllReduce(dev, dev, count, ncclFloat, ncclSum, n->comm, n->stream));
    DBX_CU_ABORT(n, cudaEventRecord(n->done, n->stream));
    DBX_CU_ABORT(n, cudaStreamWaitEvent(n->compute, n->done, 0));
    /* asynchronous NCCL errors (a peer died) surface here on the next call */
    ncclResult_t async = ncclSuccess;
    DBX_NCCL_TRY(n, ncclCommGetAsyncError(n->comm, &async));
    if (async != ncclSuccess) return nccl_fail(n, async, "ncclCommGetAsyncError", __LINE__);
    return DBX_OK;
}

void dbx__nccl_free(dbx__nccl *n)
{
    if (!n) return;
    if (n->comm) ncclCommDestroy(n->comm);
    if (n->done) cudaEventDestroy(n->done);
    if (n->ready) cudaEventDestroy(n->ready);
    if (n->stream) cudaStreamDestroy(n->stream);
    free(n);
}
