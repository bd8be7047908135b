/* The backend interface: a table of function pointers plus a context. A backend executes
 * one batch at a time (it never sees a graph), on memory it allocated itself: pointers and
 * offsets below address backend memory (host memory for the CPU backend, device memory for
 * a CUDA backend). Calls may run asynchronously on the backend's stream; results are
 * visible to the host only after sync(). Per-batch index arrays (arg_off, attr) are host
 * memory, valid for the duration of the call; a device backend copies them.
 * NULL entries mean "unsupported". */
#ifndef DBX_KERNELS_BACKEND_H
#define DBX_KERNELS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/ops.h"
#include "dbx/dbx.h"

/* One affine term: out[row_off : row_off+rows] += W (rows, cols) * x, or += W when arg < 0
 * (a bias), or += x when w is NULL (an identity term, rows = cols = dim(x)). */
typedef struct dbx_kterm {
    const float *w;  /* (rows, cols) row-major, backend memory */
    const float *wt; /* the same matrix column-major, leading dimension wt_ld (refreshed
                        before each forward), or NULL */
    int wt_ld;
    float *dw;       /* (rows, cols) gradient accumulator */
    int rows, cols, row_off;
    int arg;         /* index of the node argument x, or -1 for a bias term */
} dbx_kterm;

typedef struct dbx_kbatch {
    enum dbx_op op;
    int n;                          /* nodes in the batch (columns) */
    int dim;                        /* output floats per node */
    int nargs;                      /* an op whose arity varies inside a batch (sum: see
                                       core/ops.h): the most any node of the batch has */
    const int *arg_dim;             /* (nargs) floats per node of each argument */
    /* (nargs, n) offsets (floats) of each node's args. Ops of varying arity: node j with
       k < nargs arguments has arg_off[a*n + j] = -1 for a >= k (its absent arguments are
       always the last ones); kernels skip them, forward and backward. */
    const int64_t *arg_off;
    const unsigned char *arg_contig;/* (nargs) 1: arg a of node j at arg_off[a*n] + j*dim_a
                                       (never for an argument some node lacks) */
    int64_t out_off;                /* node j's output at out_off + j * dim */
    const int32_t *attr;            /* (n) per-node integers: labels, table rows */
    int iparam;                     /* signature-level integer: slice begin, lstm k */
    float fparam[2];                /* signature-level floats: scale and shift, dropout rate,
                                       hinge margin, constant value */
    int nterms;
    const dbx_kterm *terms;         /* affine terms */
    const float *table;             /* lookup: (table_rows, dim); parameter: its values */
    float *dtable;                  /* lookup: gradient rows; parameter: its gradient */
    int bf16;                       /* affine on the CPU: 1 = bfloat16 GEMM operands, f32
                                       accumulation and outputs (dbx_exec_opts.precision) */
    const struct dbx_kbatch *chain; /* lstm_c: the lstm_h batch fused into this kernel (node j
                                       of chain reads this batch's gates j and cell j), or NULL */
    /* Device backends: copies of arg_off, attr and arg_dim in backend memory, made by the
       executor once per step for all batches (one copy instead of one per batch); NULL when
       absent, and the backend then copies the host arrays itself. */
    const int64_t *d_arg_off;
    const int32_t *d_attr;
    const int *d_arg_dim;
} dbx_kbatch;

typedef struct dbx_koptim {
    dbx_optim_kind kind;
    float lr, beta1, beta2, eps, grad_scale;
    float bc1, bc2;  /* Adam bias corrections 1 - beta^t */
} dbx_koptim;

typedef struct dbx_backend dbx_backend;

typedef struct dbx_backend_ops {
    const char *name;
    /* The name of an op the backend has no forward or backward kernel for, NULL when it has
       them all. Backends generate their kernel tables from DBX_OP_TABLE (a missing kernel
       does not link); dbx__backend_get refuses a backend that still reports one. */
    const char *(*missing_kernel)(void);
    int device; /* 1: memory is device memory (not addressable by the host) */
    dbx_status (*alloc)(dbx_backend *be, size_t bytes, void **out);
    void (*free)(dbx_backend *be, void *p);
    dbx_status (*upload)(dbx_backend *be, void *dst, const void *src, size_t bytes);
    dbx_status (*download)(dbx_backend *be, void *dst, const void *src, size_t bytes);
    dbx_status (*memset0)(dbx_backend *be, void *dst, size_t bytes);
    dbx_status (*fill)(dbx_backend *be, float *dst, const int64_t *offs, int n, float v);
    dbx_status (*sync)(dbx_backend *be);
    /* Ensures scratch space for gathers of at least `floats` floats (call outside a step). */
    dbx_status (*reserve)(dbx_backend *be, size_t floats);
    /* Runs batch b through the backend's kernel for b->op. */
    dbx_status (*forward)(dbx_backend *be, float *vals, const dbx_kbatch *b);
    /* Accumulates into grads (argument gradients) and into terms' dw / dtable. */
    dbx_status (*backward)(dbx_backend *be, const float *vals, float *grads,
                           const dbx_kbatch *b);
    /* dst = src (rows, cols) row-major stored column-major with leading dimension ld */
    dbx_status (*transpose)(dbx_backend *be, float *dst, int ld, const float *src, int rows,
                            int cols);
    dbx_status (*optim_dense)(dbx_backend *be, const dbx_koptim *o, float *p, float *g,
                              float *m, float *v, size_t n);
    /* The compute stream (a cudaStream_t) that device collectives must order against;
       NULL for host backends. */
    void *(*stream)(dbx_backend *be);
    /* Sparse update of rows (each `dim` floats) of a lookup table; zeroes their gradient. */
    dbx_status (*optim_rows)(dbx_backend *be, const dbx_koptim *o, float *p, float *g,
                             float *m, float *v, const int32_t *rows, int nrows, int dim);
    /* out[i] = base[offs[i]] for i < n, into host memory; waits for the work enqueued so far
       (one copy however many values: the losses of a step). */
    dbx_status (*gather)(dbx_backend *be, float *out, const float *base, const int64_t *offs,
                         int n);
    /* Device backends (NULL otherwise): operations enqueued since the backend was created,
       kernels (cuBLAS calls and memsets included) and host<->device copies. */
    void (*counters)(dbx_backend *be, int64_t *kernels, int64_t *copies);
    /* Device backends (NULL otherwise): records timing marker slot (0..DBX_BE_MARKS-1) on the
       stream; elapsed() waits for marker b and gives the stream time from marker a to b. */
    dbx_status (*mark)(dbx_backend *be, int slot);
    dbx_status (*elapsed)(dbx_backend *be, int a, int b, double *seconds);
    /* DBX_OK when the backend runs affine GEMMs at `precision` (dbx_precision, non-FP32),
       else DBX_ENOTSUP saying why; NULL: FP32 only. dbx_exec_new asks once. */
    dbx_status (*precision)(dbx_backend *be, int precision);
} dbx_backend_ops;

enum { DBX_BE_MARKS = 8 };

struct dbx_backend {
    const dbx_backend_ops *ops;
    void *ctx;
};

/* The process-wide CPU backend (BLAS + vectorised C). Initialises the BLAS on first use. */
dbx_status dbx__cpu_backend(dbx_backend **out);
/* "cpu" or "cuda" (GPU `device` of this process); DBX_ENOTSUP when dbx was built without
 * CUDA, a CUDA error status when no GPU can be used. */
dbx_status dbx__backend_get(const char *name, int device, dbx_backend **out);
/* The PCI bus ids ("0000:41:00.0") of the GPUs that "cuda" can use, at most max, in device
 * index order (dbx__cuda_devices in kernels/cuda); *count gets how many. DBX_ENOTSUP when dbx
 * was built without CUDA, a CUDA error status when the driver cannot list the GPUs. */
dbx_status dbx__backend_gpus(int max, char (*busid)[32], int *count);
/* The op the named backend ("cpu", "cuda") lacks a kernel for, NULL when it has them all;
 * answers without a device. "(not built)" for a backend not linked into this program. */
const char *dbx__backend_missing_kernel(const char *name);
/* 1 when the CUDA backend is linked into this program. */
int dbx__backend_has_cuda(void);

#endif /* DBX_KERNELS_BACKEND_H */
