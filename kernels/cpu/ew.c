/* CPU element-wise kernels, forward and backward, one batch at a time: the unary and binary
 * element-wise ops, pooling over a list of nodes (sum, max, average), dropout, constants,
 * concat and slice, and the LSTM cells. Each node's arguments are read through the batch's
 * offset lists (no gather copies); outputs and output gradients are the batch's contiguous
 * block. Backward kernels accumulate (+=) into argument gradients, which may alias
 * (cmult(x, x)), so each argument is updated in its own loop. Inner loops are vectorised;
 * hot kernels are compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time.
 * Stateless; thread-safe for disjoint outputs. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu.h"
#include "kernels/vmath.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DBX_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DBX_CLONES
#endif

#define ARG(a, j) DBX__ARG(b, a, j)

/* The kernels of an op of one argument: y[i] = FWD and x's gradient += BWD, expressions of
   x[i], y[i], dy[i] and the batch's floats fa, fb. */
#define EW_UNARY(NAME, FWD, BWD)                                                            \
    DBX_CLONES static void fwd_##NAME(float *vals, const dbx_kbatch *b)                     \
    {                                                                                       \
        const int D = b->dim;                                                               \
        const float fa = b->fparam[0], fb = b->fparam[1];                                   \
        (void)fa, (void)fb;                                                                 \
        for (int j = 0; j < b->n; j++) {                                                    \
            const float *x = vals + ARG(0, j);                                              \
            float *y = vals + DBX__OUT(b, j);                                               \
            for (int i = 0; i < D; i++) y[i] = (FWD);                                       \
        }                                                                                   \
    }                                                                                       \
    DBX_CLONES static void bwd_##NAME(const float *vals, float *grads, const dbx_kbatch *b) \
    {                                                                                       \
        const int D = b->dim;                                                               \
        const float fa = b->fparam[0], fb = b->fparam[1];                                   \
        (void)fa, (void)fb;                                                                 \
        for (int j = 0; j < b->n; j++) {                                                    \
            const float *x = vals + ARG(0, j);                                              \
            const float *y = vals + DBX__OUT(b, j), *dy = grads + DBX__OUT(b, j);           \
            float *dx = grads + ARG(0, j);                                                  \
            (void)x, (void)y;                                                               \
            for (int i = 0; i < D; i++) dx[i] += (BWD);                                     \
        }                                                                                   \
    }                                                                                       \
    DBX__CPU_WRAP(NAME)

/* The kernels of an op of two arguments of one dim: y[i] = FWD of x0[i], x1[i]; the
   arguments' gradients += BWD0 and BWD1 (expressions of x0[i], x1[i], dy[i]). */
#define EW_BINARY(NAME, FWD, BWD0, BWD1)                                                    \
    DBX_CLONES static void fwd_##NAME(float *vals, const dbx_kbatch *b)                     \
    {                                                                                       \
        const int D = b->dim;                                                               \
        for (int j = 0; j < b->n; j++) {                                                    \
            const float *x0 = vals + ARG(0, j), *x1 = vals + ARG(1, j);                     \
            float *y = vals + DBX__OUT(b, j);                                               \
            for (int i = 0; i < D; i++) y[i] = (FWD);                                       \
        }                                                                                   \
    }                                                                                       \
    DBX_CLONES static void bwd_##NAME(const float *vals, float *grads, const dbx_kbatch *b) \
    {                                                                                       \
        const int D = b->dim;                                                               \
        for (int j = 0; j < b->n; j++) {                                                    \
            const float *dy = grads + DBX__OUT(b, j);                                       \
            const float *x0 = vals + ARG(0, j), *x1 = vals + ARG(1, j);                     \
            float *d0 = grads + ARG(0, j), *d1 = grads + ARG(1, j);                         \
            (void)x0, (void)x1;                                                             \
            for (int i = 0; i < D; i++) d0[i] += (BWD0);                                    \
            for (int i = 0; i < D; i++) d1[i] += (BWD1);                                    \
        }                                                                                   \
    }                                                                                       \
    DBX__CPU_WRAP(NAME)

/* ---- element-wise ops ------------------------------------------------------------------- */
EW_UNARY(TANH, dbx__tanhf(x[i]), dy[i] * (1.0f - y[i] * y[i]))
EW_UNARY(SIGMOID, dbx__sigmoidf(x[i]), dy[i] * y[i] * (1.0f - y[i]))
EW_UNARY(RELU, x[i] > 0.0f ? x[i] : 0.0f, y[i] > 0.0f ? dy[i] : 0.0f)
EW_UNARY(EXP, dbx__expf(x[i]), dy[i] * y[i])
EW_UNARY(LOG, logf(x[i]), dy[i] / x[i])
EW_UNARY(SCALE, fa * x[i] + fb, fa * dy[i])
EW_UNARY(LOSS, fa * x[i], fa * dy[i]) /* a weighted loss term: weight * x */
EW_BINARY(ADD, x0[i] + x1[i], dy[i], dy[i])
EW_BINARY(SUB, x0[i] - x1[i], dy[i], -dy[i])
EW_BINARY(CMULT, x0[i] * x1[i], dy[i] * x1[i], dy[i] * x0[i])

/* dropout: element i of node j kept when dbx__unit_hash(key_j, i) >= p, scaled by 1/(1-p) */
static void fwd_DROPOUT(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    const float p = b->fparam[0], scale = 1.0f / (1.0f - p);
    for (int j = 0; j < b->n; j++) {
        const float *x = vals + ARG(0, j);
        float *y = vals + DBX__OUT(b, j);
        const uint32_t key = (uint32_t)b->attr[j];
        for (int i = 0; i < D; i++)
            y[i] = dbx__unit_hash(key, (uint32_t)i) >= p ? x[i] * scale : 0.0f;
    }
}

static void bwd_DROPOUT(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    const int D = b->dim;
    const float p = b->fparam[0], scale = 1.0f / (1.0f - p);
    for (int j = 0; j < b->n; j++) {
        const float *dy = grads + DBX__OUT(b, j);
        float *dx = grads + ARG(0, j);
        const uint32_t key = (uint32_t)b->attr[j];
        for (int i = 0; i < D; i++)
            if (dbx__unit_hash(key, (uint32_t)i) >= p) dx[i] += dy[i] * scale;
    }
}
DBX__CPU_WRAP(DROPOUT)

/* constant: every element fparam[0]; no arguments, no gradient */
static void fwd_CONST(float *vals, const dbx_kbatch *b)
{
    const int64_t total = (int64_t)b->n * b->dim;
    float *y = vals + b->out_off;
    for (int64_t t = 0; t < total; t++) y[t] = b->fparam[0];
}

static void bwd_CONST(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals, (void)grads, (void)b;
}
DBX__CPU_WRAP(CONST)

/* ---- slice and concat ------------------------------------------------------------------- */
static void fwd_SLICE(float *vals, const dbx_kbatch *b)
{
    for (int j = 0; j < b->n; j++)
        memcpy(vals + DBX__OUT(b, j), vals + ARG(0, j) + b->iparam, (size_t)b->dim * sizeof(float));
}

DBX_CLONES static void bwd_SLICE(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *dy = grads + DBX__OUT(b, j);
        float *dx = grads + ARG(0, j) + b->iparam;
        for (int i = 0; i < D; i++) dx[i] += dy[i];
    }
}
DBX__CPU_WRAP(SLICE)

static void fwd_CONCAT(float *vals, const dbx_kbatch *b)
{
    for (int j = 0; j < b->n; j++) {
        float *y = vals + DBX__OUT(b, j);
        int r = 0;
        for (int a = 0; a < b->nargs; a++) {
            memcpy(y + r, vals + ARG(a, j), (size_t)b->arg_dim[a] * sizeof *y);
            r += b->arg_dim[a];
        }
    }
}

static void bwd_CONCAT(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    for (int j = 0; j < b->n; j++) {
        const float *dy = grads + DBX__OUT(b, j);
        int r = 0;
        for (int a = 0; a < b->nargs; a++) {
            float *dx = grads + ARG(a, j);
            for (int i = 0; i < b->arg_dim[a]; i++) dx[i] += dy[r + i];
            r += b->arg_dim[a];
        }
    }
}
DBX__CPU_WRAP(CONCAT)

/* ---- pooling over a list of nodes: sum, max, average --------------------------------------
   A node with fewer arguments than its batch has offset -1 for the rest (kernels/backend.h). */
static int present(const dbx_kbatch *b, int j)
{
    int k = 1;
    while (k < b->nargs && ARG(k, j) >= 0) k++;
    return k;
}

DBX_CLONES static void fwd_SUM(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        float *y = vals + DBX__OUT(b, j);
        memcpy(y, vals + ARG(0, j), (size_t)D * sizeof *y);
        for (int a = 1; a < b->nargs && ARG(a, j) >= 0; a++) {
            const float *x = vals + ARG(a, j);
            for (int i = 0; i < D; i++) y[i] += x[i];
        }
    }
}

DBX_CLONES static void bwd_SUM(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *dy = grads + DBX__OUT(b, j);
        for (int a = 0; a < b->nargs && ARG(a, j) >= 0; a++) {
            float *dx = grads + ARG(a, j);
            for (int i = 0; i < D; i++) dx[i] += dy[i];
        }
    }
}
DBX__CPU_WRAP(SUM)

DBX_CLONES static void fwd_MAX(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        float *y = vals + DBX__OUT(b, j);
        memcpy(y, vals + ARG(0, j), (size_t)D * sizeof *y);
        for (int a = 1; a < b->nargs && ARG(a, j) >= 0; a++) {
            const float *x = vals + ARG(a, j);
            for (int i = 0; i < D; i++) y[i] = x[i] > y[i] ? x[i] : y[i];
        }
    }
}

/* the gradient of element i goes to the first argument equal to the maximum */
static void bwd_MAX(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *y = vals + DBX__OUT(b, j), *dy = grads + DBX__OUT(b, j);
        const int k = present(b, j);
        for (int i = 0; i < D; i++)
            for (int a = 0; a < k; a++)
                if (vals[ARG(a, j) + i] == y[i]) {
                    grads[ARG(a, j) + i] += dy[i];
                    break;
                }
    }
}
DBX__CPU_WRAP(MAX)

DBX_CLONES static void fwd_MEAN(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        float *y = vals + DBX__OUT(b, j);
        const int k = present(b, j);
        memcpy(y, vals + ARG(0, j), (size_t)D * sizeof *y);
        for (int a = 1; a < k; a++) {
            const float *x = vals + ARG(a, j);
            for (int i = 0; i < D; i++) y[i] += x[i];
        }
        const float inv = 1.0f / (float)k;
        for (int i = 0; i < D; i++) y[i] *= inv;
    }
}

DBX_CLONES static void bwd_MEAN(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *dy = grads + DBX__OUT(b, j);
        const int k = present(b, j);
        const float inv = 1.0f / (float)k;
        for (int a = 0; a < k; a++) {
            float *dx = grads + ARG(a, j);
            for (int i = 0; i < D; i++) dx[i] += dy[i] * inv;
        }
    }
}
DBX__CPU_WRAP(MEAN)

/* ---- LSTM cells --------------------------------------------------------------------------- */
/* gate offsets of the fused LSTM layout: [f_1, i, o, u, f_2..f_k] (k >= 1) or [i, o, u] */
static inline int gi_off(int k, int H) { return k ? H : 0; }

DBX_CLONES static void fwd_lstm_c(float *vals, const dbx_kbatch *b)
{
    const int H = b->dim, k = b->iparam, oi = gi_off(k, H), ou = oi + 2 * H;
    for (int j = 0; j < b->n; j++) {
        const float *g = vals + ARG(0, j);
        float *c = vals + DBX__OUT(b, j);
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
        float *c = vals + DBX__OUT(b, j);
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
        float *h = vals + DBX__OUT(b, j);
        for (int i = 0; i < H; i++) h[i] = dbx__sigmoidf(g[i]) * dbx__tanhf(c[i]);
    }
}

static void fwd_LSTM_C(float *vals, const dbx_kbatch *b)
{
    if (b->chain) fwd_lstm_ch(vals, b);
    else fwd_lstm_c(vals, b);
}

DBX_CLONES static void bwd_lstm_c(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int H = b->dim, k = b->iparam, oi = gi_off(k, H), ou = oi + 2 * H, oo = oi + H;
    const dbx_kbatch *bh = b->chain; /* fused lstm_h: its backward first, per node */
    for (int j = 0; j < b->n; j++) {
        const float *g = vals + ARG(0, j);
        float *dg = grads + ARG(0, j);
        float *dc = grads + DBX__OUT(b, j);
        if (bh) {
            const float *c = vals + DBX__OUT(b, j);
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
        const float *dh = grads + DBX__OUT(b, j);
        for (int i = 0; i < H; i++) {
            float so = dbx__sigmoidf(g[i]), t = dbx__tanhf(c[i]);
            dg[i] += dh[i] * t * so * (1.0f - so);
            dc[i] += dh[i] * so * (1.0f - t * t);
        }
    }
}

#define fwd_LSTM_H fwd_lstm_h
#define bwd_LSTM_C bwd_lstm_c
#define bwd_LSTM_H bwd_lstm_h
DBX__CPU_WRAP(LSTM_C)
DBX__CPU_WRAP(LSTM_H)

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

