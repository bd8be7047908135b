/* CPU elementwise kernels, forward and backward, for one batch. Each node's arguments are
 * read through the batch's offset lists (no gather copies); outputs and output gradients
 * are the batch's contiguous block. Backward kernels accumulate (+=) into argument
 * gradients, which may alias (cmult(x, x)), so each argument is updated in its own loop.
 * Inner loops are vectorised; hot kernels are compiled for AVX-512, AVX2 and baseline
 * x86-64 and picked at load time. Stateless; thread-safe for disjoint outputs. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu.h"
#include "kernels/vmath.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DBX_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DBX_CLONES
#endif

#define ARG(a, j) (b->arg_off[(size_t)(a) * (size_t)b->n + (size_t)(j)])

/* ---- forward --------------------------------------------------------------------------- */
DBX_CLONES static void fwd_unary(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *x = vals + ARG(0, j);
        float *y = vals + b->out_off + (int64_t)j * D;
        switch (b->op) {
        case DBX_OP_TANH:
            for (int i = 0; i < D; i++) y[i] = dbx__tanhf(x[i]);
            break;
        case DBX_OP_SIGMOID:
            for (int i = 0; i < D; i++) y[i] = dbx__sigmoidf(x[i]);
            break;
        case DBX_OP_RELU:
            for (int i = 0; i < D; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
            break;
        case DBX_OP_SLICE: memcpy(y, x + b->iparam, (size_t)D * sizeof *y); break;
        default: break;
        }
    }
}

DBX_CLONES static void fwd_binary(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *x0 = vals + ARG(0, j), *x1 = vals + ARG(1, j);
        float *y = vals + b->out_off + (int64_t)j * D;
        if (b->op == DBX_OP_ADD)
            for (int i = 0; i < D; i++) y[i] = x0[i] + x1[i];
        else
            for (int i = 0; i < D; i++) y[i] = x0[i] * x1[i];
    }
}

static void fwd_concat_sum(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        float *y = vals + b->out_off + (int64_t)j * D;
        if (b->op == DBX_OP_CONCAT) {
            int r = 0;
            for (int a = 0; a < b->nargs; a++) {
                memcpy(y + r, vals + ARG(a, j), (size_t)b->arg_dim[a] * sizeof *y);
                r += b->arg_dim[a];
            }
        } else { /* sum: a node with fewer arguments than the batch has -1 for the rest */
            memcpy(y, vals + ARG(0, j), (size_t)D * sizeof *y);
            for (int a = 1; a < b->nargs && ARG(a, j) >= 0; a++) {
                const float *x = vals + ARG(a, j);
                for (int i = 0; i < D; i++) y[i] += x[i];
            }
        }
    }
}

/* gate offsets of the fused LSTM layout: [f_1, i, o, u, f_2..f_k] (k >= 1) or [i, o, u] */
static inline int gi_off(int k, int H) { return k ? H : 0; }

DBX_CLONES static void fwd_lstm_c(float *vals, const dbx_kbatch *b)
{
    const int H = b->dim, k = b->iparam, oi = gi_off(k, H), ou = oi + 2 * H;
    for (int j = 0; j < b->n; j++) {
        const float *g = vals + ARG(0, j);
        float *c = vals + b->out_off + (int64_t)j * H;
        for (int i = 0; i < H; i++) c[i] = dbx__sigmoidf(g[oi + i]) * dbx__tanhf(g[ou + i]);
        for (int q = 0; q < k; q++) {
            const float *cp = vals + ARG(1 + q, j);
            const float *f = g + (q == 0 ? 0 : (3 + q) * H);
            for (int i = 0; i < H; i++) c[i] += dbx__sigmoidf(f[i]) * cp[i];
        }
    }
}

/* lstm_c and, fused, lstm_h of the same cells: h_j = sigmoid(o_j) * tanh(c_j) while c_j is
   in cache. Per element the arithmetic is that of the two separate kernels. */
DBX_CLONES static void fwd_lstm_ch(float *vals, const dbx_kbatch *b)
{
    const dbx_kbatch *bh = b->chain;
    const int H = b->dim, k = b->iparam, oi = gi_off(k, H), ou = oi + 2 * H, oo = oi + H;
    for (int j = 0; j < b->n; j++) {
        const float *g = vals + ARG(0, j);
        float *c = vals + b->out_off + (int64_t)j * H;
        float *h = vals + bh->out_off + (int64_t)j * H;
        for (int i = 0; i < H; i++) c[i] = dbx__sigmoidf(g[oi + i]) * dbx__tanhf(g[ou + i]);
        for (int q = 0; q < k; q++) {
            const float *cp = vals + ARG(1 + q, j);
            const float *f = g + (q == 0 ? 0 : (3 + q) * H);
            for (int i = 0; i < H; i++) c[i] += dbx__sigmoidf(f[i]) * cp[i];
        }
        for (int i = 0; i < H; i++) h[i] = dbx__sigmoidf(g[oo + i]) * dbx__tanhf(c[i]);
    }
}

DBX_CLONES static void fwd_lstm_h(float *vals, const dbx_kbatch *b)
{
    const int H = b->dim, oo = gi_off(b->iparam, H) + H;
    for (int j = 0; j < b->n; j++) {
        const float *g = vals + ARG(0, j) + oo, *c = vals + ARG(1, j);
        float *h = vals + b->out_off + (int64_t)j * H;
        for (int i = 0; i < H; i++) h[i] = dbx__sigmoidf(g[i]) * dbx__tanhf(c[i]);
    }
}

static void fwd_xent(float *vals, const dbx_kbatch *b)
{
    const int L = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x = vals + ARG(0, j);
        float mx = x[0];
        for (int i = 1; i < L; i++) mx = x[i] > mx ? x[i] : mx;
        double s = 0;
        for (int i = 0; i < L; i++) s += exp((double)(x[i] - mx));
        vals[b->out_off + j] = (float)(log(s) + mx - x[b->attr[j]]);
    }
}

void dbx__cpu_ew_forward(float *vals, const dbx_kbatch *b)
{
    switch (b->op) {
    case DBX_OP_TANH:
    case DBX_OP_SIGMOID:
    case DBX_OP_RELU:
    case DBX_OP_SLICE: fwd_unary(vals, b); break;
    case DBX_OP_ADD:
    case DBX_OP_CMULT: fwd_binary(vals, b); break;
    case DBX_OP_CONCAT:
    case DBX_OP_SUM: fwd_concat_sum(vals, b); break;
    case DBX_OP_LSTM_C:
        if (b->chain) fwd_lstm_ch(vals, b);
        else fwd_lstm_c(vals, b);
        break;
    case DBX_OP_LSTM_H: fwd_lstm_h(vals, b); break;
    case DBX_OP_XENT: fwd_xent(vals, b); break;
    case DBX_OP_INPUT:
    case DBX_OP_LOOKUP:
    case DBX_OP_AFFINE: break;
    }
}

/* ---- column helpers for the backend's affine kernels ------------------------------------ */
/* y_j[0:rows] += src_j[0:rows] for the n columns of y (leading dimension ldy); src_j at
   base + off[j] when off is given, else the same vector src for every column. */
DBX_CLONES void dbx__cpu_add_cols(float *y, int ldy, int rows, int n, const float *base,
                                  const int64_t *off, const float *src)
{
    for (int j = 0; j < n; j++) {
        float *yj = y + (size_t)j * ldy;
        const float *s = off ? base + off[j] : src;
        for (int i = 0; i < rows; i++) yj[i] += s[i];
    }
}

/* dst_j += x_j: the scatter form: dst_j at base + off[j], x_j at x + j * ldx */
DBX_CLONES void dbx__cpu_scatter_add(float *base, const int64_t *off, int rows, int n,
                                     const float *x, int ldx)
{
    for (int j = 0; j < n; j++) {
        float *d = base + off[j];
        const float *s = x + (size_t)j * ldx;
        for (int i = 0; i < rows; i++) d[i] += s[i];
    }
}

/* acc[0:rows] += sum_j x_j[0:rows] (bias gradients) */
DBX_CLONES void dbx__cpu_sum_cols(float *acc, const float *x, int ldx, int rows, int n)
{
    for (int j = 0; j < n; j++) {
        const float *s = x + (size_t)j * ldx;
        for (int i = 0; i < rows; i++) acc[i] += s[i];
    }
}

/* ---- backward -------------------------------------------------------------------------- */
DBX_CLONES static void bwd_unary(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *y = vals + b->out_off + (int64_t)j * D;
        const float *dy = grads + b->out_off + (int64_t)j * D;
        float *dx = grads + ARG(0, j);
        switch (b->op) {
        case DBX_OP_TANH:
            for (int i = 0; i < D; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
            break;
        case DBX_OP_SIGMOID:
            for (int i = 0; i < D; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
            break;
        case DBX_OP_RELU:
            for (int i = 0; i < D; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
            break;
        case DBX_OP_SLICE:
            for (int i = 0; i < D; i++) dx[b->iparam + i] += dy[i];
            break;
        default: break;
        }
    }
}

DBX_CLONES static void bwd_binary(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *dy = grads + b->out_off + (int64_t)j * D;
        const float *x0 = vals + ARG(0, j), *x1 = vals + ARG(1, j);
        float *d0 = grads + ARG(0, j), *d1 = grads + ARG(1, j);
        if (b->op == DBX_OP_ADD) {
            for (int i = 0; i < D; i++) d0[i] += dy[i];
            for (int i = 0; i < D; i++) d1[i] += dy[i];
        } else {
            for (int i = 0; i < D; i++) d0[i] += dy[i] * x1[i];
            for (int i = 0; i < D; i++) d1[i] += dy[i] * x0[i];
        }
    }
}

static void bwd_concat_sum(float *grads, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *dy = grads + b->out_off + (int64_t)j * D;
        int r = 0;
        for (int a = 0; a < b->nargs && ARG(a, j) >= 0; a++) { /* -1: sum argument absent */
            float *dx = grads + ARG(a, j);
            int da = b->arg_dim[a];
            const float *src = b->op == DBX_OP_CONCAT ? dy + r : dy;
            for (int i = 0; i < da; i++) dx[i] += src[i];
            r += da;
        }
    }
}

DBX_CLONES static void bwd_lstm_c(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int H = b->dim, k = b->iparam, oi = gi_off(k, H), ou = oi + 2 * H, oo = oi + H;
    const dbx_kbatch *bh = b->chain; /* fused lstm_h: its backward first, per node */
    for (int j = 0; j < b->n; j++) {
        const float *g = vals + ARG(0, j);
        float *dg = grads + ARG(0, j);
        float *dc = grads + b->out_off + (int64_t)j * H;
        if (bh) {
            const float *c = vals + b->out_off + (int64_t)j * H;
            const float *dh = grads + bh->out_off + (int64_t)j * H;
            for (int i = 0; i < H; i++) {
                float so = dbx__sigmoidf(g[oo + i]), t = dbx__tanhf(c[i]);
                dg[oo + i] += dh[i] * t * so * (1.0f - so);
                dc[i] += dh[i] * so * (1.0f - t * t);
            }
        }
        for (int i = 0; i < H; i++) {
            float si = dbx__sigmoidf(g[oi + i]), u = dbx__tanhf(g[ou + i]);
            dg[oi + i] += dc[i] * u * si * (1.0f - si);
            dg[ou + i] += dc[i] * si * (1.0f - u * u);
        }
        for (int q = 0; q < k; q++) {
            const float *cp = vals + ARG(1 + q, j);
            float *dcp = grads + ARG(1 + q, j);
            int fo = q == 0 ? 0 : (3 + q) * H;
            /* dg and dcp are different nodes (sizes (3+k)H and H): one loop is safe */
            for (int i = 0; i < H; i++) {
                float sf = dbx__sigmoidf(g[fo + i]);
                dg[fo + i] += dc[i] * cp[i] * sf * (1.0f - sf);
                dcp[i] += dc[i] * sf;
            }
        }
    }
}

DBX_CLONES static void bwd_lstm_h(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int H = b->dim, oo = gi_off(b->iparam, H) + H;
    for (int j = 0; j < b->n; j++) {
        const float *g = vals + ARG(0, j) + oo, *c = vals + ARG(1, j);
        float *dg = grads + ARG(0, j) + oo, *dc = grads + ARG(1, j);
        const float *dh = grads + b->out_off + (int64_t)j * H;
        for (int i = 0; i < H; i++) {
            float so = dbx__sigmoidf(g[i]), t = dbx__tanhf(c[i]);
            dg[i] += dh[i] * t * so * (1.0f - so);
            dc[i] += dh[i] * so * (1.0f - t * t);
        }
    }
}

static void bwd_xent(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int L = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x = vals + ARG(0, j);
        float *dx = grads + ARG(0, j);
        float dl = grads[b->out_off + j];
        float mx = x[0];
        for (int i = 1; i < L; i++) mx = x[i] > mx ? x[i] : mx;
        double s = 0;
        for (int i = 0; i < L; i++) s += exp((double)(x[i] - mx));
        for (int i = 0; i < L; i++) {
            float p = (float)(exp((double)(x[i] - mx)) / s);
            dx[i] += dl * (p - (i == b->attr[j] ? 1.0f : 0.0f));
        }
    }
}

void dbx__cpu_ew_backward(const float *vals, float *grads, const dbx_kbatch *b)
{
    switch (b->op) {
    case DBX_OP_TANH:
    case DBX_OP_SIGMOID:
    case DBX_OP_RELU:
    case DBX_OP_SLICE: bwd_unary(vals, grads, b); break;
    case DBX_OP_ADD:
    case DBX_OP_CMULT: bwd_binary(vals, grads, b); break;
    case DBX_OP_CONCAT:
    case DBX_OP_SUM: bwd_concat_sum(grads, b); break;
    case DBX_OP_LSTM_C: bwd_lstm_c(vals, grads, b); break;
    case DBX_OP_LSTM_H: bwd_lstm_h(vals, grads, b); break;
    case DBX_OP_XENT: bwd_xent(vals, grads, b); break;
    case DBX_OP_INPUT:
    case DBX_OP_LOOKUP:
    case DBX_OP_AFFINE: break;
    }
}
