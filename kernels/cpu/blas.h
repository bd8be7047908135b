/* The BLAS as loaded at run time by kernels/cpu/blas.c: one sgemm entry point with the
 * CBLAS calling convention. dbx_blas_init() must have succeeded before use. */
#ifndef DBX_KERNELS_CPU_BLAS_H
#define DBX_KERNELS_CPU_BLAS_H

/* CBLAS enumerators (values fixed by the CBLAS standard). */
enum { DBX_CBLAS_COLMAJOR = 102, DBX_CBLAS_NOTRANS = 111, DBX_CBLAS_TRANS = 112 };

typedef void (*dbx__sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, float beta,
                              float *c, int ldc);

extern dbx__sgemm_fn dbx__sgemm;

/* Column-major C (m, n) = alpha * op(A) op(B) + beta * C. */
static inline void dbx__gemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
                             const float *b, int ldb, float beta, float *c, int ldc)
{
    dbx__sgemm(DBX_CBLAS_COLMAJOR, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

#endif /* DBX_KERNELS_CPU_BLAS_H */
