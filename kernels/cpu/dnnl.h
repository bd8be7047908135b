/* The CPU backend's second GEMM library: oneDNN FP32 matmul for the three GEMM forms of an
 * affine term (kernels/cpu/dnnl.c). No oneDNN type appears here: the library is loaded at
 * run time (dlopen of libdnnl.so.2, like the BLAS) when dbx was built with its headers
 * (DBX_HAVE_DNNL); otherwise every entry point reports it unavailable.
 *
 * Matrices follow the BLAS convention of cpu_backend.c: node batches are column-major
 * (features, n) blocks, weights W (rows, cols) row-major, dW row-major (rows, cols).
 * Primitives are cached per thread by shape, strides and form. With `packed`, the weights
 * are reordered once into oneDNN's preferred blocked layout and reused until
 * dbx__dnnl_weights_changed(w) (the executor's per-forward weight refresh) marks them
 * stale: callers pass packed = 1 only for weights that the executor refreshes. Where
 * oneDNN picks a plain layout for them (gemm:jit, e.g. for strided outputs), nothing is
 * packed: dx reads w, the forward the executor's column-major copy (dbx__cpu_colmajor). 
 *
 * Precision (bf16 = 1; dbx_exec_opts.precision DBX_PRECISION_BF16): A and B are bfloat16
 * (rounded to nearest even), the products accumulate in f32 and C stays f32. Packed weights
 * are converted by the packing reorder, once per weight update; the other operands
 * (activations, dy, plain weights) are converted into a per-thread buffer on every call. */
#ifndef DBX_KERNELS_CPU_DNNL_H
#define DBX_KERNELS_CPU_DNNL_H

#include "dbx/dbx.h"

enum { DBX_GEMM_OPENBLAS = 0, DBX_GEMM_ONEDNN = 1 };

/* The GEMM library the affine kernels use now (DBX_GEMM_*). */
extern int dbx__cpu_gemm;

/* 1 when dbx was built with oneDNN's headers. */
int dbx__dnnl_built(void);
/* Loads oneDNN (once per process): DBX_OK, or DBX_ENOTSUP with the reason. */
dbx_status dbx__dnnl_init(void);
/* "oneDNN 2.6.3 (...), ISA avx512_core_bf16, 1 thread(s)" after a successful init. */
const char *dbx__dnnl_describe(void);
/* 1 when oneDNN's ISA has bf16 dot products (AVX512-BF16, AMX); 0: bf16 matmuls run, but
   emulated (slower). */
int dbx__dnnl_bf16_native(void);
/* DBX_OK when oneDNN loads and has bf16 matmuls on this CPU (it creates one), else
   DBX_ENOTSUP saying why (oneDNN 2.6 has none below AVX-512). */
dbx_status dbx__dnnl_bf16_check(void);
/* Chooses the affine kernels' GEMM library (DBX_GEMM_*); loads oneDNN for DBX_GEMM_ONEDNN. */
dbx_status dbx__cpu_gemm_select(int lib);

/* out (rows, n; ld ldo) += W x, x (cols, n) contiguous. */
dbx_status dbx__dnnl_fwd(int rows, int cols, int n, const float *w, int packed, const float *x,
                         float *out, int ldo, int bf16);
/* dx (cols, n; ld cols) = W^T dy (+ dx when accumulate), dy (rows, n; ld ldy). */
dbx_status dbx__dnnl_dx(int rows, int cols, int n, const float *w, int packed, const float *dy,
                        int ldy, float *dx, int accumulate, int bf16);
/* dW (rows, cols) row-major += dy x^T, dy (rows, n; ld ldy), x (cols, n) contiguous. */
dbx_status dbx__dnnl_dw(int rows, int cols, int n, const float *dy, int ldy, const float *x,
                        float *dw, int bf16);
/* The values of weight matrix w changed: its packed copies are stale. */
void dbx__dnnl_weights_changed(const float *w);
/* Implementation names of the primitive the last dbx__dnnl_* call of this thread ran
   ("brg:avx512_core", "gemm:jit", ...), for benchmarks. */
const char *dbx__dnnl_last_impl(void);

#endif /* DBX_KERNELS_CPU_DNNL_H */
