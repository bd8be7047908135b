/* Internal entry points of the CPU backend's kernel files. Every op of DBX_OP_TABLE has a
 * forward and a backward kernel here, named after it (dbx__cpu_fwd_TANH, ...); the backend's
 * dispatch table (cpu_backend.c) is generated from the op table, so an op without kernels
 * does not link. Kernels by file: cpu_backend.c (input, lookup, parameter, affine), ew.c
 * (element-wise, list pooling, LSTM cells), vec.c (per-node vector ops), loss.c (losses). */
#ifndef DBX_KERNELS_CPU_CPU_H
#define DBX_KERNELS_CPU_CPU_H

#include "kernels/backend.h"

#define DBX__CPU_KDECL(NAME, ...)                                                           \
    dbx_status dbx__cpu_fwd_##NAME(dbx_backend *be, float *vals, const dbx_kbatch *b);      \
    dbx_status dbx__cpu_bwd_##NAME(dbx_backend *be, const float *vals, float *grads,        \
                                   const dbx_kbatch *b);
DBX_OP_TABLE(DBX__CPU_KDECL)
#undef DBX__CPU_KDECL

/* The backend entry points of op NAME around the file's static fwd_NAME(vals, b) and
   bwd_NAME(vals, grads, b). */
#define DBX__CPU_WRAP(NAME)                                                                 \
    dbx_status dbx__cpu_fwd_##NAME(dbx_backend *be, float *vals, const dbx_kbatch *b)       \
    {                                                                                       \
        (void)be;                                                                           \
        fwd_##NAME(vals, b);                                                                \
        return DBX_OK;                                                                      \
    }                                                                                       \
    dbx_status dbx__cpu_bwd_##NAME(dbx_backend *be, const float *vals, float *grads,        \
                                   const dbx_kbatch *b)                                     \
    {                                                                                       \
        (void)be;                                                                           \
        bwd_##NAME(vals, grads, b);                                                         \
        return DBX_OK;                                                                      \
    }

/* Argument a of node j, and node j's output, of batch b (floats from the arena base). */
#define DBX__ARG(b, a, j) ((b)->arg_off[(size_t)(a) * (size_t)(b)->n + (size_t)(j)])
#define DBX__OUT(b, j) ((b)->out_off + (int64_t)(j) * (b)->dim)

/* The column-major copy of weight matrix w that the executor refreshes every forward (the
   backend's transpose), made now when make and it is older than the last refresh; *wt =
   NULL (and *ld = 0) when the executor has not asked this thread's backend for one. */
dbx_status dbx__cpu_colmajor(const float *w, int make, const float **wt, int *ld);
/* Makes *buf (64-byte aligned, *cap elements of elem bytes) hold at least need elements,
   growing it by half again when it does not (its contents are then lost); `what` names it in
   the out-of-memory error. */
dbx_status dbx__cpu_grow(void **buf, size_t *cap, size_t need, size_t elem, const char *what);
void dbx__cpu_add_cols(float *y, int ldy, int rows, int n, const float *base, const int64_t *off,
                       const float *src);
void dbx__cpu_scatter_add(float *base, const int64_t *off, int rows, int n, const float *x,
                          int ldx);
void dbx__cpu_sum_cols(float *acc, const float *x, int ldx, int rows, int n);
void dbx__cpu_optim_dense(const dbx_koptim *o, float *p, float *g, float *m, float *v, size_t n);
void dbx__cpu_optim_rows(const dbx_koptim *o, float *p, float *g, float *m, float *v,
                         const int32_t *rows, int nrows, int dim);

#endif /* DBX_KERNELS_CPU_CPU_H */
