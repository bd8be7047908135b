/* Internal interface of the CUDA backend (C++, nvcc only): the per-device context and the
 * entry points of the op-family files (affine.cu, ew.cu, lookup.cu, vec.cu, xent.cu,
 * loss.cu, optim.cu).
 * Every entry enqueues work on the context's stream and returns without waiting; index
 * arrays it reads have been staged to device memory by backend.cu (cu_staged).
 * A context belongs to one device and is used by one host thread at a time (like the CPU
 * backend); the process-wide table of contexts lives in backend.cu. */
#ifndef DBX_KERNELS_CUDA_CUDA_H
#define DBX_KERNELS_CUDA_CUDA_H

#include "kernels/cuda/check.h"

extern "C" {
#include "kernels/backend.h"
}

enum { DBX_CU_NEVENTS = 256 };

typedef struct cu_ctx {
    dbx_backend be; /* handed out by dbx__cuda_backend; be.ctx points here */
    int device;
    cudaStream_t stream;
    cublasHandle_t blas; /* bound to stream */
    /* staging ring for per-call host index arrays: pinned host bytes [0, ring_cap) mirrored
       by device bytes; blocks are appended at ring_head; an event after each block's copy
       says when its host bytes may be overwritten */
    unsigned char *ring_host, *ring_dev;
    size_t ring_cap, ring_head;
    cudaEvent_t ev[DBX_CU_NEVENTS];
    size_t ev_lo[DBX_CU_NEVENTS], ev_hi[DBX_CU_NEVENTS];
    int ev_first, ev_count;
    float *scratch; /* gathered GEMM operands and dX products (reserve()) */
    size_t scratch_floats;
    float *ones; /* ones_n ones: bias gradients as a GEMV */
    size_t ones_n;
    float *gdev, *ghost; /* gather(): device buffer and its pinned host mirror, gather_n floats */
    size_t gather_n;
    cudaEvent_t marks[DBX_BE_MARKS]; /* timing markers (mark(), elapsed()) */
    int64_t n_kernels, n_copies;     /* operations enqueued (counters()) */
    int sync_each;                   /* DBX_CUDA_SYNC: wait after every batch (backend.cu) */
} cu_ctx;

/* After a kernel launch or a cuBLAS call on context c: counts it and reports launch errors. */
#define DBX_CU_KERNEL(c, name)                                                              \
    do {                                                                                    \
        (c)->n_kernels++;                                                                   \
        DBX_CU_LAUNCHED(name);                                                              \
    } while (0)

/* A cuBLAS call that enqueues work on context c: counted like a kernel. */
#define DBX_CUBLAS_K(c, call)                                                               \
    do {                                                                                    \
        (c)->n_kernels++;                                                                   \
        DBX_CUBLAS(call);                                                                   \
    } while (0)

/* A batch's host index arrays, staged to device memory (NULL where absent). */
typedef struct cu_staged {
    const int64_t *off;  /* (nargs, n) argument offsets */
    const int32_t *attr; /* (n) labels / table rows (lookup, softmax_xent) */
    const int32_t *adim; /* (nargs) argument dims */
} cu_staged;

/* Threads per block of the one-thread-per-element kernels, and their grid: enough blocks
   to cover total (kernels loop with a grid stride, so the cap only bounds the grid). */
enum { DBX_CU_THREADS = 256 };
static inline unsigned dbx__cu_blocks(int64_t total, int threads)
{
    int64_t b = (total + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > (int64_t)1 << 20) b = (int64_t)1 << 20;
    return (unsigned)b;
}

/* Kernels with one warp per node (vec.cu, loss.cu): blocks of DBX_CU_WARPS warps, enough
   of them for n nodes (kernels loop over nodes with a grid stride). */
enum { DBX_CU_WARPS = 4 };
static inline unsigned dbx__cu_warp_blocks(int64_t n)
{
    return dbx__cu_blocks(n * 32, DBX_CU_WARPS * 32);
}

/* Reductions over the 32 lanes of a warp (all of them taking part): every lane gets the
   result. */
__device__ __forceinline__ double dbx__cu_warp_sum(double v)
{
    for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
    return v;
}

__device__ __forceinline__ int dbx__cu_warp_sum(int v)
{
    for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
    return v;
}

__device__ __forceinline__ float dbx__cu_warp_max(float v)
{
    for (int d = 16; d > 0; d >>= 1) {
        const float o = __shfl_xor_sync(0xffffffffu, v, d);
        v = o > v ? o : v;
    }
    return v;
}

/* backend.cu: scratch of at least floats floats (grows, synchronising, if reserve() was not
   called with enough); a device vector of at least n ones. */
dbx_status dbx__cu_scratch(cu_ctx *c, size_t floats, float **out);
dbx_status dbx__cu_ones(cu_ctx *c, int n, const float **out);

/* Every op of DBX_OP_TABLE has a forward and a backward kernel entry, named after it
   (dbx__cu_fwd_TANH, ...), defined by the op-family files: backend.cu (input), affine.cu,
   lookup.cu (lookup, parameter), ew.cu (element-wise, pooling, LSTM cells), vec.cu
   (per-node vector ops), xent.cu and loss.cu (losses). backend.cu's dispatch table is
   generated from the op table, so an op without kernels does not link. */
#define DBX__CU_KDECL(NAME, ...)                                                            \
    dbx_status dbx__cu_fwd_##NAME(cu_ctx *c, float *vals, const dbx_kbatch *b,              \
                                  const cu_staged *s);                                      \
    dbx_status dbx__cu_bwd_##NAME(cu_ctx *c, const float *vals, float *grads,               \
                                  const dbx_kbatch *b, const cu_staged *s);
DBX_OP_TABLE(DBX__CU_KDECL)
#undef DBX__CU_KDECL

/* optim.cu; rows: device copy of the row list */
dbx_status dbx__cu_optim_dense(cu_ctx *c, const dbx_koptim *o, float *p, float *g, float *m,
                               float *v, size_t n);
dbx_status dbx__cu_optim_rows(cu_ctx *c, const dbx_koptim *o, float *p, float *g, float *m,
                              float *v, const int32_t *rows, int nrows, int dim);


/* Inside a kernel: t runs over a thread's work items 0 .. total-1 with a grid stride. */
#define DBX_CU_FOR(t, total)                                                                \
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < (total);          \
         t += (int64_t)gridDim.x * blockDim.x)

/* DBX_OK when the staged index arrays batch b's kernels read are there: the argument offsets
   (an op with arguments) and the per-node integers (an op whose op-table attr column is 1). */
dbx_status dbx__cu_check_staged(const dbx_kbatch *b, const cu_staged *s);

/* ---- per-node kernels (vec.cu, loss.cu) ----------------------------------------------------
   A batch as its per-node kernels see it, and the entries of an op whose forward and backward
   kernels each run over a grid of one warp per node (BY_WARP) or one thread per item
   (BY_ITEM). */
typedef struct nk_args {
    float *vals;         /* forward: written; backward: read only */
    float *grads;        /* backward */
    const int64_t *off;  /* (nargs, n) argument offsets, device copy */
    const int32_t *attr; /* (n) per-node integers (labels, indices), device copy, or NULL */
    int64_t out_off;     /* node j's output at out_off + j * dim */
    int n, dim;
    int d0, d1;          /* floats per node of arguments 0 and 1 (0 when absent) */
    float fa;            /* the batch's fparam[0] (hinge: the margin) */
} nk_args;

enum nk_grid {
    BY_WARP, /* items: nodes, one warp each */
    BY_ITEM  /* items: one thread each */
};

/* nk_args of batch b (vals non-const for both passes: backward kernels only read it);
   DBX_EINVAL when the staged index arrays the op needs are missing. */
dbx_status dbx__cu_nk_args(float *vals, float *grads, const dbx_kbatch *b, const cu_staged *s,
                           nk_args *A);
/* Launches kernel over items on the grid's shape; counts it. */
dbx_status dbx__cu_nk_launch(cu_ctx *c, void (*kernel)(nk_args), const nk_args &A,
                             enum nk_grid grid, int64_t items, const char *name);

/* Inside a per-node kernel (nk_args A): node j's argument a, its gradient; and, for a kernel
   of one warp per node, j over the warp's nodes (the same in all its lanes) and the lane. */
#define DBX_NK_IN(a, j) (A.vals + A.off[(int64_t)(a) * A.n + (j)])
#define DBX_NK_DIN(a, j) (A.grads + A.off[(int64_t)(a) * A.n + (j)])
#define DBX_NK_FOR_NODES_BY_WARP(j, lane)                                                   \
    const int lane = threadIdx.x & 31;                                                      \
    for (int64_t j = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; j < A.n;       \
         j += ((int64_t)gridDim.x * blockDim.x) >> 5)

/* The entries of op NAME: kernels FK (forward) and BK (backward) over grids FG and BG of FI
   and BI items (expressions of the batch's nk_args A). */
#define DBX__NK_ENTRY(NAME, FK, FG, FI, BK, BG, BI)                                         \
    dbx_status dbx__cu_fwd_##NAME(cu_ctx *c, float *vals, const dbx_kbatch *b,              \
                                  const cu_staged *s)                                       \
    {                                                                                       \
        nk_args A;                                                                          \
        DBX_TRY(dbx__cu_nk_args(vals, NULL, b, s, &A));                                     \
        return dbx__cu_nk_launch(c, FK, A, FG, (FI), #FK);                                  \
    }                                                                                       \
    dbx_status dbx__cu_bwd_##NAME(cu_ctx *c, const float *vals, float *grads,               \
                                  const dbx_kbatch *b, const cu_staged *s)                  \
    {                                                                                       \
        nk_args A;                                                                          \
        DBX_TRY(dbx__cu_nk_args(const_cast<float *>(vals), grads, b, s, &A));               \
        return dbx__cu_nk_launch(c, BK, A, BG, (BI), #BK);                                  \
    }

#endif /* DBX_KERNELS_CUDA_CUDA_H */
