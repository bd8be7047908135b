/* CPU optimizer kernels: SGD, Adagrad and Adam over a flat range (dense parameters) or over
 * a list of rows (sparse lookup-table updates). Each zeroes the gradient it consumed.
 * Vectorised; stateless. */
#include <math.h>

#include "kernels/cpu/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DBX_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DBX_CLONES
#endif

DBX_CLONES void dbx__cpu_optim_dense(const dbx_koptim *o, float *p, float *g, float *m, float *v,
                                     size_t n)
{
    const float s = o->grad_scale, lr = o->lr, eps = o->eps;
    switch (o->kind) {
    case DBX_OPT_SGD:
        for (size_t i = 0; i < n; i++) {
            p[i] -= lr * s * g[i];
            g[i] = 0.0f;
        }
        break;
    case DBX_OPT_ADAGRAD:
        for (size_t i = 0; i < n; i++) {
            float gi = s * g[i];
            v[i] += gi * gi;
            p[i] -= lr * gi / (sqrtf(v[i]) + eps);
            g[i] = 0.0f;
        }
        break;
    case DBX_OPT_ADAM: {
        const float b1 = o->beta1, b2 = o->beta2, ib1 = 1.0f / o->bc1, ib2 = 1.0f / o->bc2;
        for (size_t i = 0; i < n; i++) {
            float gi = s * g[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            p[i] -= lr * (m[i] * ib1) / (sqrtf(v[i] * ib2) + eps);
            g[i] = 0.0f;
        }
        break;
    }
    }
}

void dbx__cpu_optim_rows(const dbx_koptim *o, float *p, float *g, float *m, float *v,
                         const int32_t *rows, int nrows, int dim)
{
    for (int r = 0; r < nrows; r++) {
        size_t at = (size_t)rows[r] * (size_t)dim;
        dbx__cpu_optim_dense(o, p + at, g + at, m + at, v + at, (size_t)dim);
    }
}
