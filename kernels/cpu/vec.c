/* CPU kernels of the per-node vector ops, forward and backward, one batch at a time: dot
 * product, sum of elements, softmax and log-softmax, pick, layer normalisation, and the
 * node-matrix products (M x and M^T y, M stored column after column). Arguments are read
 * through the batch's offset lists; backward kernels accumulate (+=) into argument
 * gradients, one argument at a time (arguments may alias). Reductions accumulate in double.
 * Stateless; thread-safe for disjoint outputs. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

#define ARG(a, j) DBX__ARG(b, a, j)
#define IN(a, j) (vals + ARG(a, j))
#define DIN(a, j) (grads + ARG(a, j))
#define OUTV(j) (vals + DBX__OUT(b, j))
#define DOUT(j) (grads + DBX__OUT(b, j))

/* ---- dot, sum of elements, pick ------------------------------------------------------------ */
static void fwd_DOT(float *vals, const dbx_kbatch *b)
{
    const int D = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x0 = IN(0, j), *x1 = IN(1, j);
        double s = 0;
        for (int i = 0; i < D; i++) s += (double)x0[i] * x1[i];
        *OUTV(j) = (float)s;
    }
}

static void bwd_DOT(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float dy = *DOUT(j), *x0 = IN(0, j), *x1 = IN(1, j);
        float *d0 = DIN(0, j), *d1 = DIN(1, j);
        for (int i = 0; i < D; i++) d0[i] += dy * x1[i];
        for (int i = 0; i < D; i++) d1[i] += dy * x0[i];
    }
}
DBX__CPU_WRAP(DOT)

static void fwd_SUM_ELEMS(float *vals, const dbx_kbatch *b)
{
    const int D = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j);
        double s = 0;
        for (int i = 0; i < D; i++) s += x[i];
        *OUTV(j) = (float)s;
    }
}

static void bwd_SUM_ELEMS(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    const int D = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float dy = *DOUT(j);
        float *dx = DIN(0, j);
        for (int i = 0; i < D; i++) dx[i] += dy;
    }
}
DBX__CPU_WRAP(SUM_ELEMS)

static void fwd_PICK(float *vals, const dbx_kbatch *b)
{
    for (int j = 0; j < b->n; j++) *OUTV(j) = IN(0, j)[b->attr[j]];
}

static void bwd_PICK(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    for (int j = 0; j < b->n; j++) DIN(0, j)[b->attr[j]] += *DOUT(j);
}
DBX__CPU_WRAP(PICK)

/* ---- softmax, log-softmax ------------------------------------------------------------------ */
/* max of x, and ln sum_i exp(x_i - max) */
static double log_norm(const float *x, int D, float *mx)
{
    float m = x[0];
    for (int i = 1; i < D; i++) m = x[i] > m ? x[i] : m;
    double s = 0;
    for (int i = 0; i < D; i++) s += exp((double)x[i] - m);
    *mx = m;
    return log(s);
}

static void fwd_SOFTMAX(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j);
        float *y = OUTV(j), m;
        const double ln = log_norm(x, D, &m);
        for (int i = 0; i < D; i++) y[i] = (float)exp((double)x[i] - m - ln);
    }
}

/* dx_i += y_i (dy_i - sum_k dy_k y_k) */
static void bwd_SOFTMAX(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *y = OUTV(j), *dy = DOUT(j);
        float *dx = DIN(0, j);
        double s = 0;
        for (int i = 0; i < D; i++) s += (double)dy[i] * y[i];
        for (int i = 0; i < D; i++) dx[i] += y[i] * (float)(dy[i] - s);
    }
}
DBX__CPU_WRAP(SOFTMAX)

static void fwd_LOG_SOFTMAX(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j);
        float *y = OUTV(j), m;
        const double ln = log_norm(x, D, &m);
        for (int i = 0; i < D; i++) y[i] = (float)((double)x[i] - m - ln);
    }
}

/* dx_i += dy_i - exp(y_i) sum_k dy_k */
static void bwd_LOG_SOFTMAX(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *y = OUTV(j), *dy = DOUT(j);
        float *dx = DIN(0, j);
        double s = 0;
        for (int i = 0; i < D; i++) s += dy[i];
        for (int i = 0; i < D; i++) dx[i] += (float)(dy[i] - exp((double)y[i]) * s);
    }
}
DBX__CPU_WRAP(LOG_SOFTMAX)

/* ---- layer normalisation: args x, gain, bias ------------------------------------------------ */
#define DBX_LN_EPS 1e-5

/* mean and 1 / sqrt(var + eps) of x */
static void ln_stats(const float *x, int D, double *mu, double *rstd)
{
    double s = 0, v = 0;
    for (int i = 0; i < D; i++) s += x[i];
    s /= D;
    for (int i = 0; i < D; i++) v += ((double)x[i] - s) * ((double)x[i] - s);
    *mu = s;
    *rstd = 1.0 / sqrt(v / D + DBX_LN_EPS);
}

static void fwd_LAYER_NORM(float *vals, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j), *g = IN(1, j), *bb = IN(2, j);
        float *y = OUTV(j);
        double mu, r;
        ln_stats(x, D, &mu, &r);
        for (int i = 0; i < D; i++) y[i] = (float)(g[i] * ((x[i] - mu) * r) + bb[i]);
    }
}

/* xhat = (x - mu) r: dbias += dy, dgain += dy xhat,
   dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with dxhat = dy gain */
static void bwd_LAYER_NORM(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->dim;
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j), *g = IN(1, j), *dy = DOUT(j);
        double mu, r, m1 = 0, m2 = 0;
        ln_stats(x, D, &mu, &r);
        for (int i = 0; i < D; i++) {
            const double xh = (x[i] - mu) * r, dxh = (double)dy[i] * g[i];
            m1 += dxh;
            m2 += dxh * xh;
        }
        m1 /= D;
        m2 /= D;
        float *dx = DIN(0, j), *dg = DIN(1, j), *db = DIN(2, j);
        for (int i = 0; i < D; i++) {
            const double xh = (x[i] - mu) * r;
            dx[i] += (float)(r * ((double)dy[i] * g[i] - m1 - xh * m2));
        }
        for (int i = 0; i < D; i++) dg[i] += (float)(dy[i] * ((x[i] - mu) * r));
        for (int i = 0; i < D; i++) db[i] += dy[i];
    }
}
DBX__CPU_WRAP(LAYER_NORM)

/* ---- node matrix times node vector ----------------------------------------------------------
   M: (rows, cols), column c at M + c * rows. mat_vec: out (rows) = M x, x (cols);
   mat_t_vec: out (cols) = M^T y, y (rows). */
static void fwd_MAT_VEC(float *vals, const dbx_kbatch *b)
{
    const int rows = b->dim, cols = b->arg_dim[1];
    for (int j = 0; j < b->n; j++) {
        const float *M = IN(0, j), *x = IN(1, j);
        float *y = OUTV(j);
        for (int r = 0; r < rows; r++) y[r] = 0.0f;
        for (int c = 0; c < cols; c++) {
            const float *mc = M + (size_t)c * rows, xc = x[c];
            for (int r = 0; r < rows; r++) y[r] += mc[r] * xc;
        }
    }
}

static void bwd_MAT_VEC(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int rows = b->dim, cols = b->arg_dim[1];
    for (int j = 0; j < b->n; j++) {
        const float *M = IN(0, j), *x = IN(1, j), *dy = DOUT(j);
        float *dM = DIN(0, j);
        for (int c = 0; c < cols; c++) {
            float *dmc = dM + (size_t)c * rows;
            const float xc = x[c];
            for (int r = 0; r < rows; r++) dmc[r] += dy[r] * xc;
        }
        float *dx = DIN(1, j);
        for (int c = 0; c < cols; c++) {
            const float *mc = M + (size_t)c * rows;
            float s = 0.0f;
            for (int r = 0; r < rows; r++) s += mc[r] * dy[r];
            dx[c] += s;
        }
    }
}
DBX__CPU_WRAP(MAT_VEC)

static void fwd_MAT_T_VEC(float *vals, const dbx_kbatch *b)
{
    const int cols = b->dim, rows = b->arg_dim[1];
    for (int j = 0; j < b->n; j++) {
        const float *M = IN(0, j), *y = IN(1, j);
        float *out = OUTV(j);
        for (int c = 0; c < cols; c++) {
            const float *mc = M + (size_t)c * rows;
            float s = 0.0f;
            for (int r = 0; r < rows; r++) s += mc[r] * y[r];
            out[c] = s;
        }
    }
}

static void bwd_MAT_T_VEC(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int cols = b->dim, rows = b->arg_dim[1];
    for (int j = 0; j < b->n; j++) {
        const float *M = IN(0, j), *y = IN(1, j), *dout = DOUT(j);
        float *dM = DIN(0, j);
        for (int c = 0; c < cols; c++) {
            float *dmc = dM + (size_t)c * rows;
            const float dc = dout[c];
            for (int r = 0; r < rows; r++) dmc[r] += dc * y[r];
        }
        float *dy = DIN(1, j);
        for (int c = 0; c < cols; c++) {
            const float *mc = M + (size_t)c * rows;
            const float dc = dout[c];
            for (int r = 0; r < rows; r++) dy[r] += mc[r] * dc;
        }
    }
}
DBX__CPU_WRAP(MAT_T_VEC)
