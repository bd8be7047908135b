/* Vectorisable single-precision exp, sigmoid and tanh, shared by the CPU backend
 * (kernels/cpu/ew.c) and the CUDA backend (kernels/cuda/ew.cu), so that both compute every
 * element the same way. Branch-free arithmetic that the C compiler turns into SIMD code
 * inside loops (libm's expf/tanhf are scalar calls); under nvcc the same functions are
 * host and device functions.
 * exp: Cody-Waite range reduction x = n ln2 + r, degree-6 polynomial for e^r, exponent
 * built in the float's bits; relative error about 2 ulp over [-87, 88].
 * C files using these must be compiled with -ffinite-math-only -fno-trapping-math
 * -fno-math-errno (set in CMakeLists.txt): without them GCC keeps the clamps and the
 * rounding as scalar branches. CUDA files must be compiled with -fmad=false, or the
 * polynomial contracts to FMAs and rounds differently from the CPU. Inputs are assumed
 * finite. */
#ifndef DBX_KERNELS_VMATH_H
#define DBX_KERNELS_VMATH_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define DBX__VMATH static __host__ __device__ __forceinline__
#define DBX__FMIN fminf
#define DBX__FMAX fmaxf
#define DBX__RINT rintf
#define DBX__FABS fabsf
#define DBX__COPYSIGN copysignf
#else
#define DBX__VMATH static inline
#define DBX__FMIN __builtin_fminf
#define DBX__FMAX __builtin_fmaxf
#define DBX__RINT __builtin_rintf
#define DBX__FABS __builtin_fabsf
#define DBX__COPYSIGN __builtin_copysignf
#endif

DBX__VMATH float dbx__expf(float x)
{
    x = DBX__FMIN(DBX__FMAX(x, -87.0f), 88.0f);
    float fn = DBX__RINT(x * 1.44269504088896341f);
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t e = ((uint32_t)(int32_t)fn + 127u) << 23; /* unsigned: no UB for NaN inputs */
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

DBX__VMATH float dbx__sigmoidf(float x) { return 1.0f / (1.0f + dbx__expf(-x)); }

DBX__VMATH float dbx__tanhf(float x)
{
    float e = dbx__expf(-2.0f * DBX__FABS(x));
    return DBX__COPYSIGN((1.0f - e) / (1.0f + e), x);
}

/* Dropout's mask: element i of the node whose key is key is kept when this value, uniform
   in [0, 1), is >= the rate (a 32-bit integer hash of key and i; the same on every backend). */
DBX__VMATH float dbx__unit_hash(uint32_t key, uint32_t i)
{
    uint32_t h = key ^ (i * 0x9e3779b9u);
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

#endif /* DBX_KERNELS_VMATH_H */
