/* Vectorisable single-precision exp, sigmoid and tanh: branch-free arithmetic that the
 * compiler turns into SIMD code inside loops (libm's expf/tanhf are scalar calls).
 * exp: Cody-Waite range reduction x = n ln2 + r, degree-6 polynomial for e^r, exponent
 * built in the float's bits; relative error about 2 ulp over [-87, 88].
 * Files using these must be compiled with -ffinite-math-only -fno-trapping-math
 * -fno-math-errno (set in CMakeLists.txt): without them GCC keeps the clamps and the
 * rounding as scalar branches. Inputs are assumed finite. */
#ifndef DBX_KERNELS_CPU_VMATH_H
#define DBX_KERNELS_CPU_VMATH_H

#include <stdint.h>
#include <string.h>

static inline float dbx__expf(float x)
{
    x = __builtin_fminf(__builtin_fmaxf(x, -87.0f), 88.0f);
    float fn = __builtin_rintf(x * 1.44269504088896341f);
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

static inline float dbx__sigmoidf(float x) { return 1.0f / (1.0f + dbx__expf(-x)); }

static inline float dbx__tanhf(float x)
{
    float e = dbx__expf(-2.0f * __builtin_fabsf(x));
    return __builtin_copysignf((1.0f - e) / (1.0f + e), x);
}

#endif /* DBX_KERNELS_CPU_VMATH_H */
