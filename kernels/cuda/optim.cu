/* CUDA optimizer kernels: SGD, Adagrad and Adam over a flat range (dense parameters) or
 * over rows of a lookup table (row-sparse updates; the row list is staged by backend.cu).
 * Each zeroes the gradient it consumed. The formulas and their evaluation order are those
 * of kernels/cpu/optim.c; the file is compiled with -fmad=false, so the results equal the
 * CPU backend's. One thread per float; rows of a sparse update are distinct. Stateless;
 * kernels run on the context's stream. */
#include "kernels/cuda/cuda.h"

typedef struct optim_args {
    int kind; /* dbx_optim_kind */
    float lr, s, eps, b1, b2, ib1, ib2;
} optim_args;

__device__ __forceinline__ void update(const optim_args &o, float *p, float *g, float *m,
                                       float *v, int64_t i)
{
    switch (o.kind) {
    case DBX_OPT_SGD: p[i] -= o.lr * o.s * g[i]; break;
    case DBX_OPT_ADAGRAD: {
        float gi = o.s * g[i];
        v[i] += gi * gi;
        p[i] -= o.lr * gi / (sqrtf(v[i]) + o.eps);
        break;
    }
    case DBX_OPT_ADAM: {
        float gi = o.s * g[i];
        m[i] = o.b1 * m[i] + (1.0f - o.b1) * gi;
        v[i] = o.b2 * v[i] + (1.0f - o.b2) * gi * gi;
        p[i] -= o.lr * (m[i] * o.ib1) / (sqrtf(v[i] * o.ib2) + o.eps);
        break;
    }
    default: return;
    }
    g[i] = 0.0f;
}

__global__ void optim_dense_k(optim_args o, float *p, float *g, float *m, float *v, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        update(o, p, g, m, v, i);
}

__global__ void optim_rows_k(optim_args o, float *p, float *g, float *m, float *v,
                             const int32_t *rows, int nrows, int dim)
{
    const int64_t total = (int64_t)nrows * dim;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = t / dim;
        update(o, p, g, m, v, (int64_t)rows[r] * dim + (t - r * dim));
    }
}

static optim_args make_args(const dbx_koptim *k)
{
    optim_args o;
    o.kind = (int)k->kind;
    o.lr = k->lr;
    o.s = k->grad_scale;
    o.eps = k->eps;
    o.b1 = k->beta1;
    o.b2 = k->beta2;
    /* as the CPU backend: reciprocals of the bias corrections, computed once in float */
    o.ib1 = k->kind == DBX_OPT_ADAM ? 1.0f / k->bc1 : 0.0f;
    o.ib2 = k->kind == DBX_OPT_ADAM ? 1.0f / k->bc2 : 0.0f;
    return o;
}

dbx_status dbx__cu_optim_dense(cu_ctx *c, const dbx_koptim *o, float *p, float *g, float *m,
                               float *v, size_t n)
{
    optim_dense_k<<<dbx__cu_blocks((int64_t)n, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        make_args(o), p, g, m, v, (int64_t)n);
    DBX_CU_KERNEL(c, "optim_dense_k");
    return DBX_OK;
}

dbx_status dbx__cu_optim_rows(cu_ctx *c, const dbx_koptim *o, float *p, float *g, float *m,
                              float *v, const int32_t *rows, int nrows, int dim)
{
    const int64_t total = (int64_t)nrows * dim;
    optim_rows_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        make_args(o), p, g, m, v, rows, nrows, dim);
    DBX_CU_KERNEL(c, "optim_rows_k");
    return DBX_OK;
}
