/* CUDA elementwise batches, forward and backward: add, cmult, tanh, sigmoid, relu, concat,
 * sum, slice, lstm_c (k cells; with kb->chain, the lstm_h of the same cells fused in) and
 * lstm_h. One thread per (node, output element); node arguments are read through the
 * batch's staged offset list, outputs are the batch's contiguous block. A sum node with fewer
 * arguments than its batch has offset -1 for the rest (kernels/backend.h). exp, sigmoid and
 * tanh are those of kernels/vmath.h, and the file is compiled with -fmad=false, so
 * each element is computed as the CPU backend computes it. Argument gradients are
 * accumulated with atomicAdd: nodes of a batch may share an argument and a node may name
 * the same argument twice (cmult(x, x)); one thread's adds run in the CPU's order.
 * Gate layout of the fused LSTM: [f_1, i, o, u, f_2..f_k] (k >= 1) or [i, o, u] (k = 0).
 * Stateless; kernels run on the context's stream. */
#include "kernels/cuda/cuda.h"
#include "kernels/vmath.h" /* exp, sigmoid, tanh: the CPU backend's */

typedef struct ew_args {
    float *vals;           /* forward: written; backward: read only */
    float *grads;          /* backward */
    const int64_t *off;    /* (nargs, n) argument offsets, device copy */
    const int32_t *adim;   /* (nargs) argument dims, device copy */
    int64_t out_off;       /* node j's output at out_off + j * dim */
    int64_t h_off;         /* chained lstm_h output (chain != 0) */
    int n, dim, nargs, iparam, chain;
    int op;                /* enum dbx_op */
} ew_args;

#define OFF(a, j) (A.off[(int64_t)(a) * A.n + (j)])
#define FOR_ELEMENTS(t, total)                                                              \
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < (total);          \
         t += (int64_t)gridDim.x * blockDim.x)

/* gate offset of i in the fused LSTM layout */
__device__ __forceinline__ int gi_off(int k, int H) { return k ? H : 0; }

__global__ void ew_forward_k(ew_args A)
{
    const int D = A.dim;
    const int64_t total = (int64_t)A.n * D;
    const float *V = A.vals;
    FOR_ELEMENTS(t, total)
    {
        const int64_t j = t / D;
        const int i = (int)(t - j * D);
        float *y = A.vals + A.out_off + t;
        switch (A.op) {
        case DBX_OP_TANH: *y = dbx__tanhf(V[OFF(0, j) + i]); break;
        case DBX_OP_SIGMOID: *y = dbx__sigmoidf(V[OFF(0, j) + i]); break;
        case DBX_OP_RELU: {
            float x = V[OFF(0, j) + i];
            *y = x > 0.0f ? x : 0.0f;
            break;
        }
        case DBX_OP_SLICE: *y = V[OFF(0, j) + A.iparam + i]; break;
        case DBX_OP_ADD: *y = V[OFF(0, j) + i] + V[OFF(1, j) + i]; break;
        case DBX_OP_CMULT: *y = V[OFF(0, j) + i] * V[OFF(1, j) + i]; break;
        case DBX_OP_CONCAT: {
            int r = i, a = 0;
            while (a < A.nargs - 1 && r >= A.adim[a]) r -= A.adim[a++];
            *y = V[OFF(a, j) + r];
            break;
        }
        case DBX_OP_SUM: { /* offset -1: the node has fewer arguments than the batch */
            float v = V[OFF(0, j) + i];
            for (int a = 1; a < A.nargs && OFF(a, j) >= 0; a++) v += V[OFF(a, j) + i];
            *y = v;
            break;
        }
        case DBX_OP_LSTM_C: {
            const int H = D, k = A.iparam, oi = gi_off(k, H), ou = oi + 2 * H;
            const float *g = V + OFF(0, j);
            float c = dbx__sigmoidf(g[oi + i]) * dbx__tanhf(g[ou + i]);
            for (int q = 0; q < k; q++) {
                const float *f = g + (q == 0 ? 0 : (3 + q) * H);
                c += dbx__sigmoidf(f[i]) * V[OFF(1 + q, j) + i];
            }
            *y = c;
            if (A.chain) A.vals[A.h_off + t] = dbx__sigmoidf(g[oi + H + i]) * dbx__tanhf(c);
            break;
        }
        case DBX_OP_LSTM_H: {
            const int H = D, oo = gi_off(A.iparam, H) + H;
            *y = dbx__sigmoidf(V[OFF(0, j) + oo + i]) * dbx__tanhf(V[OFF(1, j) + i]);
            break;
        }
        default: break;
        }
    }
}

__global__ void ew_backward_k(ew_args A)
{
    const int D = A.dim;
    const int64_t total = (int64_t)A.n * D;
    const float *V = A.vals;
    float *G = A.grads;
    FOR_ELEMENTS(t, total)
    {
        const int64_t j = t / D;
        const int i = (int)(t - j * D);
        const float dy = G[A.out_off + t];
        const float y = V[A.out_off + t];
        switch (A.op) {
        case DBX_OP_TANH: atomicAdd(G + OFF(0, j) + i, dy * (1.0f - y * y)); break;
        case DBX_OP_SIGMOID: atomicAdd(G + OFF(0, j) + i, dy * y * (1.0f - y)); break;
        case DBX_OP_RELU: atomicAdd(G + OFF(0, j) + i, y > 0.0f ? dy : 0.0f); break;
        case DBX_OP_SLICE: atomicAdd(G + OFF(0, j) + A.iparam + i, dy); break;
        case DBX_OP_ADD:
            atomicAdd(G + OFF(0, j) + i, dy);
            atomicAdd(G + OFF(1, j) + i, dy);
            break;
        case DBX_OP_CMULT: {
            const float x0 = V[OFF(0, j) + i], x1 = V[OFF(1, j) + i];
            atomicAdd(G + OFF(0, j) + i, dy * x1);
            atomicAdd(G + OFF(1, j) + i, dy * x0);
            break;
        }
        case DBX_OP_CONCAT: {
            int r = i, a = 0;
            while (a < A.nargs - 1 && r >= A.adim[a]) r -= A.adim[a++];
            atomicAdd(G + OFF(a, j) + r, dy);
            break;
        }
        case DBX_OP_SUM:
            for (int a = 0; a < A.nargs && OFF(a, j) >= 0; a++) atomicAdd(G + OFF(a, j) + i, dy);
            break;
        case DBX_OP_LSTM_C: {
            const int H = D, k = A.iparam, oi = gi_off(k, H), ou = oi + 2 * H, oo = oi + H;
            const float *g = V + OFF(0, j);
            float *dg = G + OFF(0, j);
            float dc = dy; /* this node's own gradient: no other thread touches it */
            if (A.chain) { /* the fused lstm_h's backward first */
                const float dh = G[A.h_off + t];
                const float so = dbx__sigmoidf(g[oo + i]), th = dbx__tanhf(y);
                atomicAdd(dg + oo + i, dh * th * so * (1.0f - so));
                dc += dh * so * (1.0f - th * th);
                G[A.out_off + t] = dc;
            }
            const float si = dbx__sigmoidf(g[oi + i]), u = dbx__tanhf(g[ou + i]);
            atomicAdd(dg + oi + i, dc * u * si * (1.0f - si));
            atomicAdd(dg + ou + i, dc * si * (1.0f - u * u));
            for (int q = 0; q < k; q++) {
                const int fo = q == 0 ? 0 : (3 + q) * H;
                const float cp = V[OFF(1 + q, j) + i], sf = dbx__sigmoidf(g[fo + i]);
                atomicAdd(dg + fo + i, dc * cp * sf * (1.0f - sf));
                atomicAdd(G + OFF(1 + q, j) + i, dc * sf);
            }
            break;
        }
        case DBX_OP_LSTM_H: {
            const int H = D, oo = gi_off(A.iparam, H) + H;
            const float so = dbx__sigmoidf(V[OFF(0, j) + oo + i]), th = dbx__tanhf(V[OFF(1, j) + i]);
            atomicAdd(G + OFF(0, j) + oo + i, dy * th * so * (1.0f - so));
            atomicAdd(G + OFF(1, j) + i, dy * so * (1.0f - th * th));
            break;
        }
        default: break;
        }
    }
}

static ew_args make_args(float *vals, float *grads, const dbx_kbatch *b, const cu_staged *s)
{
    ew_args A;
    A.vals = vals;
    A.grads = grads;
    A.off = s->off;
    A.adim = s->adim;
    A.out_off = b->out_off;
    A.chain = b->op == DBX_OP_LSTM_C && b->chain != NULL;
    A.h_off = A.chain ? b->chain->out_off : 0;
    A.n = b->n;
    A.dim = b->dim;
    A.nargs = b->nargs;
    A.iparam = b->iparam;
    A.op = (int)b->op;
    return A;
}

static dbx_status ew_forward(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s)
{
    const int64_t total = (int64_t)b->n * b->dim;
    if (total <= 0) return DBX_OK;
    ew_forward_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        make_args(vals, NULL, b, s));
    DBX_CU_KERNEL(c, "ew_forward_k");
    return DBX_OK;
}

static dbx_status ew_backward(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                               const cu_staged *s)
{
    const int64_t total = (int64_t)b->n * b->dim;
    if (total <= 0) return DBX_OK;
    /* the kernel only reads vals (ew_args holds one non-const pointer for both passes) */
    ew_backward_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        make_args(const_cast<float *>(vals), grads, b, s));
    DBX_CU_KERNEL(c, "ew_backward_k");
    return DBX_OK;
}

#define EW_ENTRY(NAME)                                                                      \
    dbx_status dbx__cu_fwd_##NAME(cu_ctx *c, float *vals, const dbx_kbatch *b,              \
                                  const cu_staged *s)                                       \
    {                                                                                       \
        return ew_forward(c, vals, b, s);                                                   \
    }                                                                                       \
    dbx_status dbx__cu_bwd_##NAME(cu_ctx *c, const float *vals, float *grads,               \
                                  const dbx_kbatch *b, const cu_staged *s)                  \
    {                                                                                       \
        return ew_backward(c, vals, grads, b, s);                                           \
    }
EW_ENTRY(ADD)
EW_ENTRY(CMULT)
EW_ENTRY(TANH)
EW_ENTRY(SIGMOID)
EW_ENTRY(RELU)
EW_ENTRY(CONCAT)
EW_ENTRY(SUM)
EW_ENTRY(SLICE)
EW_ENTRY(LSTM_C)
EW_ENTRY(LSTM_H)
