/* Run-time BLAS loading. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise newer
 * AVX-512 CPUs (e.g. AMD Zen 4) and falls back to its generic "Prescott" SSE3 kernels, about
 * 5x slower. OpenBLAS reads OPENBLAS_CORETYPE once, while it initialises, so dbx loads it
 * with dlopen() after choosing the core type from CPUID: AVX-512 F/BW/DQ/VL -> SkylakeX.
 * A user's OPENBLAS_CORETYPE is respected. The library is pinned to one thread unless
 * OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) is set. Initialisation is idempotent and
 * thread-safe (pthread_once). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/dnnl.h"

dbx__sgemm_fn dbx__sgemm;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static dbx_status blas_status = DBX_OK;
static char blas_err[512];
static char blas_desc[512];

static int cpu_has_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

/* The affine kernels' GEMM library: DBX_CPU_GEMM=openblas|onednn; unset: oneDNN when it is
   built in and loads (its packed kernels measure faster on the shapes dbx runs; README, BLAS),
   else OpenBLAS. The choice and, for oneDNN, its version and ISA end the description. */
static void gemm_choose(void)
{
    const char *env = getenv("DBX_CPU_GEMM");
    size_t len = strlen(blas_desc);
    const int given = env && *env;
    if (given && strcmp(env, "openblas") != 0 && strcmp(env, "onednn") != 0) {
        blas_status = DBX_EINVAL;
        snprintf(blas_err, sizeof blas_err, "DBX_CPU_GEMM=%s: expected openblas or onednn", env);
        return;
    }
    int lib = given ? (strcmp(env, "onednn") == 0 ? DBX_GEMM_ONEDNN : DBX_GEMM_OPENBLAS)
                    : (dbx__dnnl_built() ? DBX_GEMM_ONEDNN : DBX_GEMM_OPENBLAS);
    char why[160] = "";
    if (lib == DBX_GEMM_ONEDNN && dbx__cpu_gemm_select(DBX_GEMM_ONEDNN) != DBX_OK) {
        if (given) {
            blas_status = DBX_ENOTSUP;
            snprintf(blas_err, sizeof blas_err, "DBX_CPU_GEMM=onednn: %s", dbx_last_error());
            return;
        }
        snprintf(why, sizeof why, " (oneDNN unavailable: %.120s)", dbx_last_error());
        lib = DBX_GEMM_OPENBLAS;
    }
    if (lib == DBX_GEMM_ONEDNN)
        snprintf(blas_desc + len, sizeof blas_desc - len, "; affine GEMMs: %s%s",
                 dbx__dnnl_describe(), given ? " (DBX_CPU_GEMM)" : " (default)");
    else if (given)
        snprintf(blas_desc + len, sizeof blas_desc - len, "; affine GEMMs: OpenBLAS (DBX_CPU_GEMM)");
    else
        snprintf(blas_desc + len, sizeof blas_desc - len, "; affine GEMMs: OpenBLAS%s", why);
}

static void blas_load(void)
{
    const char *why = "user's OPENBLAS_CORETYPE";
    if (!getenv("OPENBLAS_CORETYPE")) {
        if (cpu_has_avx512()) {
            setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
            why = "set by dbx: CPU has AVX-512";
        } else {
            why = "detected by OpenBLAS";
        }
    }
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS"))
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
    static const char *const libs[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
    void *h = NULL;
    const char *lib = NULL;
    for (size_t i = 0; i < sizeof libs / sizeof *libs && !h; i++) {
        h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
        lib = libs[i];
    }
    if (!h) {
        blas_status = DBX_ENOTSUP;
        snprintf(blas_err, sizeof blas_err,
                 "no BLAS found (tried libopenblas.so.0, libblas.so.3): %s; "
                 "install libopenblas0 (Debian: apt-get install libopenblas-dev)", dlerror());
        return;
    }
    *(void **)&dbx__sgemm = dlsym(h, "cblas_sgemm");
    if (!dbx__sgemm) {
        blas_status = DBX_ENOTSUP;
        snprintf(blas_err, sizeof blas_err, "%s has no cblas_sgemm", lib);
        return;
    }
    char *(*corename)(void), *(*config)(void);
    int (*nthreads)(void);
    /* POSIX: dlsym results are converted to function pointers through their storage */
    *(void **)&corename = dlsym(h, "openblas_get_corename");
    *(void **)&config = dlsym(h, "openblas_get_config");
    *(void **)&nthreads = dlsym(h, "openblas_get_num_threads");
    if (corename && config)
        snprintf(blas_desc, sizeof blas_desc, "%s (%s), core %s (%s), %d thread(s)", lib,
                 config(), corename(), why, nthreads ? nthreads() : 1);
    else
        snprintf(blas_desc, sizeof blas_desc, "%s (not OpenBLAS: kernel unknown)", lib);
    gemm_choose();
}

dbx_status dbx_blas_init(void)
{
    pthread_once(&blas_once, blas_load);
    if (blas_status) return dbx__fail(blas_status, "%s", blas_err);
    return DBX_OK;
}

const char *dbx_blas_describe(void) { return blas_desc[0] ? blas_desc : "BLAS not loaded"; }

double dbx_blas_measure_gflops(int n, int reps)
{
    if (dbx_blas_init() || n <= 0) return 0;
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = calloc(nn, sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < nn; i++) {
            a[i] = (float)((i * 7) % 13) * 0.01f;
            b[i] = (float)((i * 5) % 11) * 0.01f;
        }
        dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, n, n, n, a, n, b, n, 0.0f, c, n);
        for (int r = 0; r < reps; r++) {
            double t0 = dbx__now();
            dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, n, n, n, a, n, b, n, 0.0f, c, n);
            double dt = dbx__now() - t0;
            double gf = 2.0 * n * (double)n * n / dt * 1e-9;
            if (gf > best) best = gf;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}
