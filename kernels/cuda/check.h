/* Error checks for the CUDA backend: every CUDA runtime and cuBLAS call goes through
 * DBX_CU / DBX_CUBLAS, which record "file:line: call: message" as the thread's last error
 * (dbx__fail, core/status.h) and return DBX_ECUDA from the enclosing function (never exit).
 * DBX_CU_LAUNCHED(name) follows every kernel launch: it reports launch errors (bad
 * configuration, no kernel image for this GPU); faults inside a kernel surface at the next
 * synchronising call. Plain C too (comm/comm_nccl.c uses DBX_CU); no state, thread-safe. */
#ifndef DBX_KERNELS_CUDA_CHECK_H
#define DBX_KERNELS_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/status.h" /* C and C++ */

#define DBX_CU(call)                                                                        \
    do {                                                                                    \
        cudaError_t e_ = (call);                                                            \
        if (e_ != cudaSuccess) {                                                            \
            (void)cudaGetLastError(); /* not reported again by a later launch check */      \
            return dbx__fail(DBX_ECUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,         \
                             cudaGetErrorString(e_));                                       \
        }                                                                                   \
    } while (0)

#define DBX_CUBLAS(call)                                                                    \
    do {                                                                                    \
        cublasStatus_t e_ = (call);                                                         \
        if (e_ != CUBLAS_STATUS_SUCCESS)                                                    \
            return dbx__fail(DBX_ECUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,         \
                             cublasGetStatusString(e_));                                    \
    } while (0)

/* After a kernel launch (name: the kernel, for the message). */
#define DBX_CU_LAUNCHED(name)                                                               \
    do {                                                                                    \
        cudaError_t e_ = cudaGetLastError();                                                \
        if (e_ != cudaSuccess)                                                              \
            return dbx__fail(DBX_ECUDA, "%s:%d: launch of %s: %s", __FILE__, __LINE__, name, \
                             cudaGetErrorString(e_));                                       \
    } while (0)

#endif /* DBX_KERNELS_CUDA_CHECK_H */
