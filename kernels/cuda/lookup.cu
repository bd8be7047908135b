/* CUDA embedding lookups and parameter nodes: forward copies table row attr[j] into node j's
 * output column (a parameter node: the whole parameter, row 0); backward adds each node's
 * output gradient into its row of the table's gradient with atomicAdd (rows repeat within a
 * batch when the graph does not deduplicate). One thread per (node, element); the row list
 * is the batch's staged attr. Stateless; kernels run on the context's stream. */
#include "kernels/cuda/cuda.h"

__global__ void lookup_forward_k(float *out, const float *table, const int32_t *rows, int n,
                                 int dim)
{
    const int64_t total = (int64_t)n * dim;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = t / dim;
        out[t] = table[(int64_t)rows[j] * dim + (t - j * dim)];
    }
}

__global__ void lookup_backward_k(float *dtable, const float *dout, const int32_t *rows, int n,
                                  int dim)
{
    const int64_t total = (int64_t)n * dim;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = t / dim;
        atomicAdd(dtable + (int64_t)rows[j] * dim + (t - j * dim), dout[t]);
    }
}

dbx_status dbx__cu_fwd_LOOKUP(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s)
{
    const int64_t total = (int64_t)b->n * b->dim;
    if (total <= 0) return DBX_OK;
    if (!s->attr || !b->table)
        return dbx__fail(DBX_EINVAL, "cuda backend: lookup batch without rows or table");
    lookup_forward_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        vals + b->out_off, b->table, s->attr, b->n, b->dim);
    DBX_CU_KERNEL(c, "lookup_forward_k");
    return DBX_OK;
}

dbx_status dbx__cu_bwd_LOOKUP(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                              const cu_staged *s)
{
    (void)vals;
    const int64_t total = (int64_t)b->n * b->dim;
    if (total <= 0 || !b->dtable) return DBX_OK;
    if (!s->attr) return dbx__fail(DBX_EINVAL, "cuda backend: lookup batch without rows");
    lookup_backward_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        b->dtable, grads + b->out_off, s->attr, b->n, b->dim);
    DBX_CU_KERNEL(c, "lookup_backward_k");
    return DBX_OK;
}

/* a parameter node: the whole parameter as row 0 of a one-row table (attr 0) */
dbx_status dbx__cu_fwd_PARAM(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s)
{
    return dbx__cu_fwd_LOOKUP(c, vals, b, s);
}

dbx_status dbx__cu_bwd_PARAM(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                             const cu_staged *s)
{
    return dbx__cu_bwd_LOOKUP(c, vals, grads, b, s);
}
