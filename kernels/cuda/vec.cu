/* CUDA kernels of the per-node vector ops, forward and backward: dot product, sum of
 * elements, pick, softmax and log-softmax, layer normalisation (arguments x, gain, bias; eps
 * 1e-5), and the node-matrix products mat_vec (M x) and mat_t_vec (M^T y), M (rows, cols)
 * stored column after column. The arithmetic is the CPU backend's (kernels/cpu/vec.c),
 * formula for formula, and the file is compiled with -fmad=false:
 * - reductions over a node's vector (dot, sum of elements, the softmax normaliser, layer
 *   norm's statistics and gradient means) run one warp per node, accumulating in double as
 *   the CPU does (in another order: the float results agree to rounding);
 * - the node-matrix products run one thread per output element, summing in float in the
 *   CPU's order (the same result to the bit); their argument gradients one thread per
 *   element of M and of the vector;
 * - element-wise backward parts (dot, sum of elements) run one thread per element, pick
 *   one thread per node.
 * Argument gradients are accumulated with atomicAdd: nodes of a batch may share an argument
 * (layer norm's gain and bias are one node for the whole batch) and a node may name the
 * same argument twice (dot(x, x)). Stateless; kernels run on the context's stream. */
#include "kernels/cuda/cuda.h"

#define DBX_LN_EPS 1e-5

#define OUTV(j) (A.vals + A.out_off + (int64_t)(j) * A.dim)
#define DOUT(j) (A.grads + A.out_off + (int64_t)(j) * A.dim)

/* ---- dot, sum of elements, pick ------------------------------------------------------------ */
__global__ void dot_fwd_k(nk_args A)
{
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x0 = DBX_NK_IN(0, j), *x1 = DBX_NK_IN(1, j);
        double s = 0;
        for (int i = lane; i < A.d0; i += 32) s += (double)x0[i] * x1[i];
        s = dbx__cu_warp_sum(s);
        if (lane == 0) *OUTV(j) = (float)s;
    }
}

__global__ void dot_bwd_k(nk_args A)
{
    const int D = A.d0;
    DBX_CU_FOR(t, (int64_t)A.n * D)
    {
        const int64_t j = t / D;
        const int i = (int)(t - j * D);
        const float dy = *DOUT(j);
        const float x0 = DBX_NK_IN(0, j)[i], x1 = DBX_NK_IN(1, j)[i];
        atomicAdd(DBX_NK_DIN(0, j) + i, dy * x1);
        atomicAdd(DBX_NK_DIN(1, j) + i, dy * x0);
    }
}

__global__ void sum_elems_fwd_k(nk_args A)
{
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x = DBX_NK_IN(0, j);
        double s = 0;
        for (int i = lane; i < A.d0; i += 32) s += x[i];
        s = dbx__cu_warp_sum(s);
        if (lane == 0) *OUTV(j) = (float)s;
    }
}

__global__ void sum_elems_bwd_k(nk_args A)
{
    const int D = A.d0;
    DBX_CU_FOR(t, (int64_t)A.n * D)
    {
        const int64_t j = t / D;
        const int i = (int)(t - j * D);
        atomicAdd(DBX_NK_DIN(0, j) + i, *DOUT(j));
    }
}

__global__ void pick_fwd_k(nk_args A)
{
    DBX_CU_FOR(j, A.n) *OUTV(j) = DBX_NK_IN(0, j)[A.attr[j]];
}

__global__ void pick_bwd_k(nk_args A)
{
    DBX_CU_FOR(j, A.n) atomicAdd(DBX_NK_DIN(0, j) + A.attr[j], *DOUT(j));
}

/* ---- softmax, log-softmax ------------------------------------------------------------------ */
/* max of x (*mx), and ln sum_i exp(x_i - max); the same in every lane */
__device__ __forceinline__ double log_norm(const float *x, int D, int lane, float *mx)
{
    float m = x[0];
    for (int i = lane; i < D; i += 32) m = x[i] > m ? x[i] : m;
    m = dbx__cu_warp_max(m);
    double s = 0;
    for (int i = lane; i < D; i += 32) s += exp((double)x[i] - m);
    s = dbx__cu_warp_sum(s);
    *mx = m;
    return log(s);
}

__global__ void softmax_fwd_k(nk_args A)
{
    const int D = A.dim;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x = DBX_NK_IN(0, j);
        float *y = OUTV(j), m;
        const double ln = log_norm(x, D, lane, &m);
        for (int i = lane; i < D; i += 32) y[i] = (float)exp((double)x[i] - m - ln);
    }
}

/* dx_i += y_i (dy_i - sum_k dy_k y_k) */
__global__ void softmax_bwd_k(nk_args A)
{
    const int D = A.dim;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *y = OUTV(j), *dy = DOUT(j);
        float *dx = DBX_NK_DIN(0, j);
        double s = 0;
        for (int i = lane; i < D; i += 32) s += (double)dy[i] * y[i];
        s = dbx__cu_warp_sum(s);
        for (int i = lane; i < D; i += 32) atomicAdd(dx + i, y[i] * (float)(dy[i] - s));
    }
}

__global__ void log_softmax_fwd_k(nk_args A)
{
    const int D = A.dim;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x = DBX_NK_IN(0, j);
        float *y = OUTV(j), m;
        const double ln = log_norm(x, D, lane, &m);
        for (int i = lane; i < D; i += 32) y[i] = (float)((double)x[i] - m - ln);
    }
}

/* dx_i += dy_i - exp(y_i) sum_k dy_k */
__global__ void log_softmax_bwd_k(nk_args A)
{
    const int D = A.dim;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *y = OUTV(j), *dy = DOUT(j);
        float *dx = DBX_NK_DIN(0, j);
        double s = 0;
        for (int i = lane; i < D; i += 32) s += dy[i];
        s = dbx__cu_warp_sum(s);
        for (int i = lane; i < D; i += 32)
            atomicAdd(dx + i, (float)(dy[i] - exp((double)y[i]) * s));
    }
}

/* ---- layer normalisation: args x, gain, bias ------------------------------------------------ */
/* mean and 1 / sqrt(var + eps) of x; the same in every lane */
__device__ __forceinline__ void ln_stats(const float *x, int D, int lane, double *mu,
                                         double *rstd)
{
    double s = 0, v = 0;
    for (int i = lane; i < D; i += 32) s += x[i];
    s = dbx__cu_warp_sum(s);
    s /= D;
    for (int i = lane; i < D; i += 32) v += ((double)x[i] - s) * ((double)x[i] - s);
    v = dbx__cu_warp_sum(v);
    *mu = s;
    *rstd = 1.0 / sqrt(v / D + DBX_LN_EPS);
}

__global__ void layer_norm_fwd_k(nk_args A)
{
    const int D = A.dim;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x = DBX_NK_IN(0, j), *g = DBX_NK_IN(1, j), *bb = DBX_NK_IN(2, j);
        float *y = OUTV(j);
        double mu, r;
        ln_stats(x, D, lane, &mu, &r);
        for (int i = lane; i < D; i += 32) y[i] = (float)(g[i] * ((x[i] - mu) * r) + bb[i]);
    }
}

/* xhat = (x - mu) r: dbias += dy, dgain += dy xhat,
   dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with dxhat = dy gain */
__global__ void layer_norm_bwd_k(nk_args A)
{
    const int D = A.dim;
    DBX_NK_FOR_NODES_BY_WARP(j, lane)
    {
        const float *x = DBX_NK_IN(0, j), *g = DBX_NK_IN(1, j), *dy = DOUT(j);
        double mu, r, m1 = 0, m2 = 0;
        ln_stats(x, D, lane, &mu, &r);
        for (int i = lane; i < D; i += 32) {
            const double xh = (x[i] - mu) * r, dxh = (double)dy[i] * g[i];
            m1 += dxh;
            m2 += dxh * xh;
        }
        m1 = dbx__cu_warp_sum(m1) / D;
        m2 = dbx__cu_warp_sum(m2) / D;
        float *dx = DBX_NK_DIN(0, j), *dg = DBX_NK_DIN(1, j), *db = DBX_NK_DIN(2, j);
        for (int i = lane; i < D; i += 32) {
            const double xh = (x[i] - mu) * r;
            atomicAdd(dx + i, (float)(r * ((double)dy[i] * g[i] - m1 - xh * m2)));
        }
        for (int i = lane; i < D; i += 32) atomicAdd(dg + i, (float)(dy[i] * ((x[i] - mu) * r)));
        for (int i = lane; i < D; i += 32) atomicAdd(db + i, dy[i]);
    }
}

/* ---- node matrix times node vector ----------------------------------------------------------
   M: (rows, cols), column c at M + c * rows. mat_vec: out (rows) = M x, x (cols);
   mat_t_vec: out (cols) = M^T y, y (rows). */
/* out[r] = sum_c M[c, r] x[c], in float, c in order (the CPU's y[r] += mc[r] * xc) */
__global__ void mat_vec_fwd_k(nk_args A)
{
    const int rows = A.dim, cols = A.d1;
    DBX_CU_FOR(t, (int64_t)A.n * rows)
    {
        const int64_t j = t / rows;
        const int r = (int)(t - j * rows);
        const float *M = DBX_NK_IN(0, j), *x = DBX_NK_IN(1, j);
        float y = 0.0f;
        for (int c = 0; c < cols; c++) y += M[(int64_t)c * rows + r] * x[c];
        OUTV(j)[r] = y;
    }
}

/* per node rows * cols + cols items: dM[c, r] += dy[r] x[c], then dx[c] += sum_r M[c, r] dy[r]
   (summed in float, r in order, then added) */
__global__ void mat_vec_bwd_k(nk_args A)
{
    const int rows = A.dim, cols = A.d1;
    const int64_t nm = (int64_t)rows * cols, per = nm + cols;
    DBX_CU_FOR(t, (int64_t)A.n * per)
    {
        const int64_t j = t / per, e = t - j * per;
        const float *M = DBX_NK_IN(0, j), *x = DBX_NK_IN(1, j), *dy = DOUT(j);
        if (e < nm) {
            const int c = (int)(e / rows), r = (int)(e - (int64_t)c * rows);
            atomicAdd(DBX_NK_DIN(0, j) + e, dy[r] * x[c]);
        } else {
            const int c = (int)(e - nm);
            const float *mc = M + (int64_t)c * rows;
            float s = 0.0f;
            for (int r = 0; r < rows; r++) s += mc[r] * dy[r];
            atomicAdd(DBX_NK_DIN(1, j) + c, s);
        }
    }
}

/* out[c] = sum_r M[c, r] y[r], in float, r in order */
__global__ void mat_t_vec_fwd_k(nk_args A)
{
    const int cols = A.dim, rows = A.d1;
    DBX_CU_FOR(t, (int64_t)A.n * cols)
    {
        const int64_t j = t / cols;
        const int c = (int)(t - j * cols);
        const float *mc = DBX_NK_IN(0, j) + (int64_t)c * rows, *y = DBX_NK_IN(1, j);
        float s = 0.0f;
        for (int r = 0; r < rows; r++) s += mc[r] * y[r];
        OUTV(j)[c] = s;
    }
}

/* per node rows * cols + rows items: dM[c, r] += dout[c] y[r], then dy[r] += M[c, r] dout[c]
   for c in order, each add on its own (the CPU's rounding when no other node shares dy) */
__global__ void mat_t_vec_bwd_k(nk_args A)
{
    const int cols = A.dim, rows = A.d1;
    const int64_t nm = (int64_t)rows * cols, per = nm + rows;
    DBX_CU_FOR(t, (int64_t)A.n * per)
    {
        const int64_t j = t / per, e = t - j * per;
        const float *M = DBX_NK_IN(0, j), *y = DBX_NK_IN(1, j), *dout = DOUT(j);
        if (e < nm) {
            const int c = (int)(e / rows), r = (int)(e - (int64_t)c * rows);
            atomicAdd(DBX_NK_DIN(0, j) + e, dout[c] * y[r]);
        } else {
            const int r = (int)(e - nm);
            float *dy = DBX_NK_DIN(1, j) + r;
            for (int c = 0; c < cols; c++) atomicAdd(dy, M[(int64_t)c * rows + r] * dout[c]);
        }
    }
}

/* ---- entries -------------------------------------------------------------------------------- */
DBX__NK_ENTRY(DOT, dot_fwd_k, BY_WARP, A.n, dot_bwd_k, BY_ITEM, (int64_t)A.n * A.d0)
DBX__NK_ENTRY(SUM_ELEMS, sum_elems_fwd_k, BY_WARP, A.n, sum_elems_bwd_k, BY_ITEM,
         (int64_t)A.n * A.d0)
DBX__NK_ENTRY(PICK, pick_fwd_k, BY_ITEM, A.n, pick_bwd_k, BY_ITEM, A.n)
DBX__NK_ENTRY(SOFTMAX, softmax_fwd_k, BY_WARP, A.n, softmax_bwd_k, BY_WARP, A.n)
DBX__NK_ENTRY(LOG_SOFTMAX, log_softmax_fwd_k, BY_WARP, A.n, log_softmax_bwd_k, BY_WARP, A.n)
DBX__NK_ENTRY(LAYER_NORM, layer_norm_fwd_k, BY_WARP, A.n, layer_norm_bwd_k, BY_WARP, A.n)
DBX__NK_ENTRY(MAT_VEC, mat_vec_fwd_k, BY_ITEM, (int64_t)A.n * A.dim, mat_vec_bwd_k, BY_ITEM,
         (int64_t)A.n * ((int64_t)A.dim * A.d1 + A.d1))
DBX__NK_ENTRY(MAT_T_VEC, mat_t_vec_fwd_k, BY_ITEM, (int64_t)A.n * A.dim, mat_t_vec_bwd_k, BY_ITEM,
         (int64_t)A.n * ((int64_t)A.dim * A.d1 + A.d1))

/* ---- the per-node kernel harness (kernels/cuda/cuda.h), shared with loss.cu ----------------- */
dbx_status dbx__cu_nk_args(float *vals, float *grads, const dbx_kbatch *b, const cu_staged *s,
                           nk_args *A)
{
    /* filled before the checks: a caller never sees it half-filled */
    A->vals = vals;
    A->grads = grads;
    A->off = s->off;
    A->attr = s->attr;
    A->out_off = b->out_off;
    A->n = b->n;
    A->dim = b->dim;
    A->d0 = b->nargs > 0 ? b->arg_dim[0] : 0;
    A->d1 = b->nargs > 1 ? b->arg_dim[1] : 0;
    A->fa = b->fparam[0];
    return dbx__cu_check_staged(b, s);
}

dbx_status dbx__cu_nk_launch(cu_ctx *c, void (*kernel)(nk_args), const nk_args &A,
                             enum nk_grid grid, int64_t items, const char *name)
{
    if (items <= 0) return DBX_OK;
    if (grid == BY_WARP)
        kernel<<<dbx__cu_warp_blocks(items), DBX_CU_WARPS * 32, 0, c->stream>>>(A);
    else
        kernel<<<dbx__cu_blocks(items, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(A);
    DBX_CU_KERNEL(c, name);
    return DBX_OK;
}
