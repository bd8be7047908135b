/* Internal entry points of the CPU backend's kernel files. */
#ifndef DBX_KERNELS_CPU_CPU_H
#define DBX_KERNELS_CPU_CPU_H

#include "kernels/backend.h"

void dbx__cpu_ew_forward(float *vals, const dbx_kbatch *b);
void dbx__cpu_ew_backward(const float *vals, float *grads, const dbx_kbatch *b);
void dbx__cpu_add_cols(float *y, int ldy, int rows, int n, const float *base, const int64_t *off,
                       const float *src);
void dbx__cpu_scatter_add(float *base, const int64_t *off, int rows, int n, const float *x,
                          int ldx);
void dbx__cpu_sum_cols(float *acc, const float *x, int ldx, int rows, int n);
void dbx__cpu_optim_dense(const dbx_koptim *o, float *p, float *g, float *m, float *v, size_t n);
void dbx__cpu_optim_rows(const dbx_koptim *o, float *p, float *g, float *m, float *v,
                         const int32_t *rows, int nrows, int dim);

#endif /* DBX_KERNELS_CPU_CPU_H */
