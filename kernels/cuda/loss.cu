/* CUDA kernels of the losses other than softmax cross-entropy (xent.cu), forward and
 * backward: negative log-likelihood of a picked log-probability, binary logistic, squared
 * error and multi-class hinge. Each node's output is one float, its loss term; its gradient
 * (the loss scale, set by the executor) is read back in the backward pass. The arithmetic is
 * the CPU backend's (kernels/cpu/loss.c), in double where it computes in double, and the file
 * is compiled with -fmad=false. nll and logistic run one thread per node; the sums over a
 * node's vector (squared error, hinge) one warp per node (in another order than the CPU: the
 * float results agree to rounding); the squared error's gradient one thread per element.
 * Argument gradients are accumulated with atomicAdd (nodes of a batch may share an argument;
 * squared_error(x, x) names one twice). Labels are the batch's per-node integers.
 * Stateless; kernels run on the context's stream. */
#include "kernels/cuda/cuda.h"

#define LOSS(j) (A.vals[A.out_off + (j)])
#define DLOSS(j) (A.grads[A.out_off + (j)])

/* ---- negative log-likelihood: -logp[label] ------------------------------------------------- */
__global__ void nll_fwd_k(nk_args A)
{
    DBX_CU_FOR(j, A.n) LOSS(j) = -DBX_NK_IN(0, j)[A.attr[j]];
}

__global__ void nll_bwd_k(nk_args A)
{
    DBX_CU_FOR(j, A.n) atomicAdd(DBX_NK_DIN(0, j) + A.attr[j], -DLOSS(j));
}

/* ---- binary logistic: softplus(-z), z = s for label 1, -s for label 0 ------------------------ */
__global__ void logistic_fwd_k(nk_args A)
{
    DBX_CU_FOR(j, A.n)
    {
        const double s = DBX_NK_IN(0, j)[0], z = A.attr[j] ? s : -s;
        LOSS(j) = (float)(fmax(-z, 0.0) + log1p(exp(-fabs(z))));
    }
}

/* d/ds = sigmoid(s) - t */
__global__ void logistic_bwd_k(nk_args A)
{
    DBX_CU_FOR(j, A.n)
    {
        const double s = DBX_NK_IN(0, j)[0];
        const double sig = s >= 0 ? 1.0 / (1.0 + exp(-s)) : exp(s) / (1.0 + exp(s));
        atomicAdd(DBX_NK_DIN(0, j), (float)(DLOSS(j) * (sig - (A.attr[j] ? 1.0 : 0.0))));
    }
}

/* ---- squared error: sum_i (a_i - b_i)^2 -------------------------------------------------- */
__global__ void sq_err_fwd_k(nk_args A)
{
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x0 = DBX_NK_IN(0, j), *x1 = DBX_NK_IN(1, j);
        double s = 0;
        for (int i = lane; i < A.d0; i += 32)
            s += ((double)x0[i] - x1[i]) * ((double)x0[i] - x1[i]);
        s = dbx__cu_warp_sum(s);
        if (lane == 0) LOSS(j) = (float)s;
    }
}

/* one thread per element: a's gradient += 2 dl (a_i - b_i), b's -= the same */
__global__ void sq_err_bwd_k(nk_args A)
{
    const int D = A.d0;
    DBX_CU_FOR(t, (int64_t)A.n * D)
    {
        const int64_t j = t / D;
        const int i = (int)(t - j * D);
        const float g2 = 2.0f * DLOSS(j);
        const float d = g2 * (DBX_NK_IN(0, j)[i] - DBX_NK_IN(1, j)[i]);
        atomicAdd(DBX_NK_DIN(0, j) + i, d);
        atomicAdd(DBX_NK_DIN(1, j) + i, -d);
    }
}

/* ---- multi-class hinge: sum_{i != y} max(0, margin - x_y + x_i) ------------------------------ */
__global__ void hinge_fwd_k(nk_args A)
{
    const double margin = A.fa;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x = DBX_NK_IN(0, j);
        const int y = A.attr[j];
        double s = 0;
        for (int i = lane; i < A.d0; i += 32)
            if (i != y) s += fmax(0.0, margin - x[y] + x[i]);
        s = dbx__cu_warp_sum(s);
        if (lane == 0) LOSS(j) = (float)s;
    }
}

/* dl to each active x_i (margin - x_y + x_i > 0), minus dl times their count to x_y */
__global__ void hinge_bwd_k(nk_args A)
{
    const double margin = A.fa;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x = DBX_NK_IN(0, j);
        float *dx = DBX_NK_DIN(0, j);
        const int y = A.attr[j];
        const float dl = DLOSS(j);
        int active = 0;
        for (int i = lane; i < A.d0; i += 32)
            if (i != y && margin - x[y] + x[i] > 0) {
                atomicAdd(dx + i, dl);
                active++;
            }
        active = dbx__cu_warp_sum(active);
        if (lane == 0) atomicAdd(dx + y, -(dl * (float)active));
    }
}

/* ---- entries -------------------------------------------------------------------------------- */
DBX__NK_ENTRY(NLL, nll_fwd_k, BY_ITEM, A.n, nll_bwd_k, BY_ITEM, A.n)
DBX__NK_ENTRY(LOGISTIC, logistic_fwd_k, BY_ITEM, A.n, logistic_bwd_k, BY_ITEM, A.n)
DBX__NK_ENTRY(SQ_ERR, sq_err_fwd_k, BY_WARP, A.n, sq_err_bwd_k, BY_ITEM, (int64_t)A.n * A.d0)
DBX__NK_ENTRY(HINGE, hinge_fwd_k, BY_WARP, A.n, hinge_bwd_k, BY_WARP, A.n)
