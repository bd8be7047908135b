/* CPU kernels of the losses, forward and backward, one batch at a time: softmax
 * cross-entropy, negative log-likelihood of a picked log-probability, binary logistic,
 * squared error and multi-class hinge. Each node's output is one float (its loss term); its
 * gradient (the loss scale, set by the executor) is read back in the backward pass.
 * Computed in double. Stateless; thread-safe for disjoint outputs. */
#include <math.h>

#include "kernels/cpu/cpu.h"

#define ARG(a, j) DBX__ARG(b, a, j)
#define IN(a, j) (vals + ARG(a, j))
#define DIN(a, j) (grads + ARG(a, j))
#define LOSS(j) (vals[b->out_off + (j)])
#define DLOSS(j) (grads[b->out_off + (j)])

/* max of x[0..L) and sum_i exp(x_i - max) */
static double softmax_sum(const float *x, int L, float *mx)
{
    float m = x[0];
    for (int i = 1; i < L; i++) m = x[i] > m ? x[i] : m;
    double s = 0;
    for (int i = 0; i < L; i++) s += exp((double)(x[i] - m));
    *mx = m;
    return s;
}

/* softmax cross-entropy: ln sum exp(x) - x[label] */
static void fwd_XENT(float *vals, const dbx_kbatch *b)
{
    const int L = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j);
        float mx;
        const double s = softmax_sum(x, L, &mx);
        LOSS(j) = (float)(log(s) + mx - x[b->attr[j]]);
    }
}

static void bwd_XENT(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int L = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j);
        float *dx = DIN(0, j);
        const float dl = DLOSS(j);
        float mx;
        const double s = softmax_sum(x, L, &mx);
        for (int i = 0; i < L; i++) {
            float p = (float)(exp((double)(x[i] - mx)) / s);
            dx[i] += dl * (p - (i == b->attr[j] ? 1.0f : 0.0f));
        }
    }
}
DBX__CPU_WRAP(XENT)

/* negative log-likelihood: -logp[label] */
static void fwd_NLL(float *vals, const dbx_kbatch *b)
{
    for (int j = 0; j < b->n; j++) LOSS(j) = -IN(0, j)[b->attr[j]];
}

static void bwd_NLL(const float *vals, float *grads, const dbx_kbatch *b)
{
    (void)vals;
    for (int j = 0; j < b->n; j++) DIN(0, j)[b->attr[j]] -= DLOSS(j);
}
DBX__CPU_WRAP(NLL)

/* binary logistic: softplus(-z), z = s for label 1, -s for label 0; d/ds = sigmoid(s) - t */
static void fwd_LOGISTIC(float *vals, const dbx_kbatch *b)
{
    for (int j = 0; j < b->n; j++) {
        const double s = IN(0, j)[0], z = b->attr[j] ? s : -s;
        LOSS(j) = (float)(fmax(-z, 0.0) + log1p(exp(-fabs(z))));
    }
}

static void bwd_LOGISTIC(const float *vals, float *grads, const dbx_kbatch *b)
{
    for (int j = 0; j < b->n; j++) {
        const double s = IN(0, j)[0];
        const double sig = s >= 0 ? 1.0 / (1.0 + exp(-s)) : exp(s) / (1.0 + exp(s));
        DIN(0, j)[0] += (float)(DLOSS(j) * (sig - (b->attr[j] ? 1.0 : 0.0)));
    }
}
DBX__CPU_WRAP(LOGISTIC)

/* squared error: sum_i (a_i - b_i)^2 */
static void fwd_SQ_ERR(float *vals, const dbx_kbatch *b)
{
    const int D = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x0 = IN(0, j), *x1 = IN(1, j);
        double s = 0;
        for (int i = 0; i < D; i++) s += ((double)x0[i] - x1[i]) * ((double)x0[i] - x1[i]);
        LOSS(j) = (float)s;
    }
}

static void bwd_SQ_ERR(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int D = b->arg_dim[0];
    for (int j = 0; j < b->n; j++) {
        const float *x0 = IN(0, j), *x1 = IN(1, j), g2 = 2.0f * DLOSS(j);
        float *d0 = DIN(0, j), *d1 = DIN(1, j);
        for (int i = 0; i < D; i++) d0[i] += g2 * (x0[i] - x1[i]);
        for (int i = 0; i < D; i++) d1[i] -= g2 * (x0[i] - x1[i]);
    }
}
DBX__CPU_WRAP(SQ_ERR)

/* multi-class hinge: sum_{i != y} max(0, margin - x_y + x_i) */
static void fwd_HINGE(float *vals, const dbx_kbatch *b)
{
    const int L = b->arg_dim[0];
    const double margin = b->fparam[0];
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j);
        const int y = b->attr[j];
        double s = 0;
        for (int i = 0; i < L; i++)
            if (i != y) s += fmax(0.0, margin - x[y] + x[i]);
        LOSS(j) = (float)s;
    }
}

static void bwd_HINGE(const float *vals, float *grads, const dbx_kbatch *b)
{
    const int L = b->arg_dim[0];
    const double margin = b->fparam[0];
    for (int j = 0; j < b->n; j++) {
        const float *x = IN(0, j);
        float *dx = DIN(0, j);
        const int y = b->attr[j];
        const float dl = DLOSS(j);
        int active = 0;
        for (int i = 0; i < L; i++)
            if (i != y && margin - x[y] + x[i] > 0) {
                dx[i] += dl;
                active++;
            }
        dx[y] -= dl * (float)active;
    }
}
DBX__CPU_WRAP(HINGE)
