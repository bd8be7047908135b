/* Internal entry points of the CPU backend's kernel files. */
#ifndef DBX_KERNELS_CPU_CPU_H
#define DBX_KERNELS_CPU_CPU_H

#include "kernels/backend.h"

void dbx__cpu_ew_forward(float *vals, const dbx_kbatch *b);
void dbx__cpu_ew_backward(const float *vals, float *grads, const dbx_kbatch *b);
void dbx__cpu_optim_dense(const dbx_koptim *o, float *p, float *g, float *m, float *v, size_t n);
void dbx__cpu_optim_rows(const dbx_koptim *o, float *p, float *g, float *m, float *v,
                         const int32_t *rows, int nrows, int dim);

#endif /* DBX_KERNELS_CPU_CPU_H */
