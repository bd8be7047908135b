/* CUDA softmax cross-entropy: node j's loss is log sum_i exp(x_i - max) + max - x_label
 * (label in attr[j]); backward adds dl * (softmax(x) - onehot(label)) to dx. One warp per
 * node: lanes stride over the logits, the max and the sum (of exp in double, as the CPU
 * backend computes them) are reduced with shuffles. dx is accumulated with atomicAdd (a
 * logits node may be shared by two losses of the batch). Stateless; kernels run on the
 * context's stream. */
#include "kernels/cuda/cuda.h"

enum { WARPS_PER_BLOCK = 4 };

/* max and sum of exp(x - max) over x[0, L), the same in every lane */
__device__ __forceinline__ void softmax_stats(const float *x, int L, int lane, float *mx_out,
                                              double *s_out)
{
    float mx = x[0];
    for (int i = lane; i < L; i += 32) mx = x[i] > mx ? x[i] : mx;
    for (int d = 16; d > 0; d >>= 1) {
        float o = __shfl_xor_sync(0xffffffffu, mx, d);
        mx = o > mx ? o : mx;
    }
    double s = 0;
    for (int i = lane; i < L; i += 32) s += exp((double)(x[i] - mx));
    for (int d = 16; d > 0; d >>= 1) s += __shfl_xor_sync(0xffffffffu, s, d);
    *mx_out = mx;
    *s_out = s;
}

__global__ void xent_forward_k(float *vals, const int64_t *off, const int32_t *labels,
                               int64_t out_off, int n, int L)
{
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t j = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; j < n; j += warps) {
        const float *x = vals + off[j];
        float mx;
        double s;
        softmax_stats(x, L, lane, &mx, &s);
        if (lane == 0) vals[out_off + j] = (float)(log(s) + mx - x[labels[j]]);
    }
}

__global__ void xent_backward_k(const float *vals, float *grads, const int64_t *off,
                                const int32_t *labels, int64_t out_off, int n, int L)
{
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t j = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; j < n; j += warps) {
        const float *x = vals + off[j];
        float *dx = grads + off[j];
        const float dl = grads[out_off + j];
        const int label = labels[j];
        float mx;
        double s;
        softmax_stats(x, L, lane, &mx, &s);
        for (int i = lane; i < L; i += 32) {
            float p = (float)(exp((double)(x[i] - mx)) / s);
            atomicAdd(dx + i, dl * (p - (i == label ? 1.0f : 0.0f)));
        }
    }
}

static unsigned warp_blocks(int n)
{
    return dbx__cu_blocks((int64_t)n * 32, WARPS_PER_BLOCK * 32);
}

dbx_status dbx__cu_fwd_XENT(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s)
{
    if (b->n <= 0) return DBX_OK;
    if (!s->attr || !s->off) return dbx__fail(DBX_EINVAL, "cuda backend: xent without labels");
    xent_forward_k<<<warp_blocks(b->n), WARPS_PER_BLOCK * 32, 0, c->stream>>>(
        vals, s->off, s->attr, b->out_off, b->n, b->arg_dim[0]);
    DBX_CU_KERNEL(c, "xent_forward_k");
    return DBX_OK;
}

dbx_status dbx__cu_bwd_XENT(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                                 const cu_staged *s)
{
    if (b->n <= 0) return DBX_OK;
    if (!s->attr || !s->off) return dbx__fail(DBX_EINVAL, "cuda backend: xent without labels");
    xent_backward_k<<<warp_blocks(b->n), WARPS_PER_BLOCK * 32, 0, c->stream>>>(
        vals, grads, s->off, s->attr, b->out_off, b->n, b->arg_dim[0]);
    DBX_CU_KERNEL(c, "xent_backward_k");
    return DBX_OK;
}
