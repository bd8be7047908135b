/* GEMM speed of the CPU backend's two libraries on the shapes dbx runs: the three GEMM forms
 * of an affine term (forward out += W x, dx += W^T dy, dW += dy x^T), called exactly as
 * kernels/cpu/cpu_backend.c calls them, for W (rows, cols) = (5H, H) (the Tree-LSTM's gates)
 * and (5, H) (its output layer), H = 128, 256, 512, and batch widths N = 1, 8, 32, 96, 256.
 * OpenBLAS: forward NN on the column-major copy, dx NN, dW NT. oneDNN: forward and dx with
 * the weights packed in its blocked layout (once, outside the timing: dbx packs once per
 * step) and, for comparison, with the plain weights; dW plain. oneDNN bf16 (--precision
 * bf16): the same three calls with bfloat16 operands and f32 accumulation and output, the
 * packed weights converted with the packing (outside the timing), the activations (x, dy)
 * converted inside every call, as dbx runs them.
 * Each cell is the median GFLOP/s of REPS samples (of at least MS milliseconds each), the
 * libraries interleaved sample by sample. A measurement, not a test.
 * Usage: bench_gemm [--reps R (5)] [--ms MS (20)] [--sizes 128,256,512] [--ns 1,8,32,96,256]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "dbx/dbx.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/dnnl.h"

enum { C_OB_FWD, C_DN_FWD, C_DN_FWD_PLAIN, C_BF_FWD, C_OB_DX, C_DN_DX, C_DN_DX_PLAIN, C_BF_DX,
       C_OB_DW, C_DN_DW, C_BF_DW, NCASES };
static const char *const case_names[NCASES] = {
    "fwd OpenBLAS", "fwd oneDNN", "fwd oneDNN plain", "fwd oneDNN bf16",
    "dx OpenBLAS",  "dx oneDNN",  "dx oneDNN plain",  "dx oneDNN bf16",
    "dW OpenBLAS",  "dW oneDNN",  "dW oneDNN bf16"};

typedef struct op {
    int rows, cols, n;
    float *w, *wt, *x, *out, *dy, *dx, *dw;
} op;

static int run_case(op *o, int c)
{
    const int R = o->rows, K = o->cols, n = o->n;
    switch (c) {
    case C_OB_FWD:
        dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, R, n, K, o->wt, R, o->x, K, 1.0f, o->out,
                  R);
        return 0;
    case C_DN_FWD: return dbx__dnnl_fwd(R, K, n, o->w, 1, o->x, o->out, R, 0);
    case C_DN_FWD_PLAIN: return dbx__dnnl_fwd(R, K, n, o->w, 0, o->x, o->out, R, 0);
    case C_BF_FWD: return dbx__dnnl_fwd(R, K, n, o->w, 1, o->x, o->out, R, 1);
    case C_OB_DX:
        dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, K, n, R, o->w, K, o->dy, R, 1.0f, o->dx,
                  K);
        return 0;
    case C_DN_DX: return dbx__dnnl_dx(R, K, n, o->w, 1, o->dy, R, o->dx, 1, 0);
    case C_DN_DX_PLAIN: return dbx__dnnl_dx(R, K, n, o->w, 0, o->dy, R, o->dx, 1, 0);
    case C_BF_DX: return dbx__dnnl_dx(R, K, n, o->w, 1, o->dy, R, o->dx, 1, 1);
    case C_OB_DW:
        dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_TRANS, K, R, n, o->x, K, o->dy, R, 1.0f, o->dw, K);
        return 0;
    case C_BF_DW: return dbx__dnnl_dw(R, K, n, o->dy, R, o->x, o->dw, 1);
    default: return dbx__dnnl_dw(R, K, n, o->dy, R, o->x, o->dw, 0);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_list(const char *s, int *out, int cap)
{
    int k = 0;
    while (s && *s && k < cap) {
        out[k++] = atoi(s);
        s = strchr(s, ',');
        if (s) s++;
    }
    return k;
}

static float *fill(size_t n)
{
    float *p = aligned_alloc(64, ((n * sizeof(float)) + 63) & ~(size_t)63);
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 7) % 13) * 0.01f - 0.06f;
    return p;
}

int main(int argc, char **argv)
{
    int reps = 5, ms = 20, sizes[8] = {128, 256, 512}, nsz = 3, ns[8] = {1, 8, 32, 96, 256};
    int nn = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ms")) ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sizes")) nsz = parse_list(argv[i + 1], sizes, 8);
        else if (!strcmp(argv[i], "--ns")) nn = parse_list(argv[i + 1], ns, 8);
        else {
            fprintf(stderr, "usage: bench_gemm [--reps R] [--ms MS] [--sizes A,B] [--ns A,B]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 99) reps = 5;
    if (dbx_blas_init() != DBX_OK || dbx__dnnl_init() != DBX_OK) {
        fprintf(stderr, "bench_gemm: %s\n", dbx_last_error());
        return 1;
    }
    printf("BLAS: %s\noneDNN: %s (bf16: %s)\n", dbx_blas_describe(), dbx__dnnl_describe(),
           dbx__dnnl_bf16_native() ? "native" : "emulated, no AVX512-BF16");
    printf("median GFLOP/s of %d samples of >= %d ms, single thread\n\n", reps, ms);
    printf("| W (rows x cols) | N |");
    for (int c = 0; c < NCASES; c++) printf(" %s |", case_names[c]);
    printf(" oneDNN impl (fwd, dx, dW) | bf16 impl |\n|---|---|");
    for (int c = 0; c < NCASES; c++) printf("---|");
    printf("---|---|\n");
    for (int si = 0; si < nsz; si++)
        for (int shape = 0; shape < 2; shape++)
            for (int ni = 0; ni < nn; ni++) {
                const int H = sizes[si];
                op o = {.rows = shape ? 5 : 5 * H, .cols = H, .n = ns[ni]};
                const size_t R = (size_t)o.rows, K = (size_t)o.cols, n = (size_t)o.n;
                o.w = fill(R * K), o.wt = fill(R * K), o.x = fill(K * n), o.out = fill(R * n);
                o.dy = fill(R * n), o.dx = fill(K * n), o.dw = fill(R * K);
                for (size_t r = 0; r < R; r++)
                    for (size_t k = 0; k < K; k++) o.wt[k * R + r] = o.w[r * K + k];
                dbx__dnnl_weights_changed(o.w);
                const double flops = 2.0 * (double)R * (double)K * (double)n;
                double gf[NCASES][100];
                char impl[6][64] = {"", "", "", "", "", ""};
                for (int c = 0; c < NCASES; c++) { /* warm-up: primitives, packing, caches */
                    if (run_case(&o, c)) {
                        fprintf(stderr, "bench_gemm: %s\n", dbx_last_error());
                        return 1;
                    }
                    int slot = c == C_DN_FWD ? 0 : c == C_DN_DX ? 1 : c == C_DN_DW ? 2
                             : c == C_BF_FWD ? 3 : c == C_BF_DX ? 4 : c == C_BF_DW ? 5 : -1;
                    if (slot >= 0) snprintf(impl[slot], sizeof impl[slot], "%s",
                                            dbx__dnnl_last_impl());
                }
                for (int r = 0; r < reps; r++)
                    for (int c = 0; c < NCASES; c++) {
                        long calls = 0;
                        double t0 = now_s(), t;
                        do {
                            for (int i = 0; i < 8; i++) run_case(&o, c);
                            calls += 8;
                            t = now_s() - t0;
                        } while (t < ms * 1e-3);
                        gf[c][r] = flops * (double)calls / t * 1e-9;
                    }
                printf("| %d x %d | %d |", o.rows, o.cols, o.n);
                for (int c = 0; c < NCASES; c++) {
                    qsort(gf[c], (size_t)reps, sizeof(double), cmp_d);
                    printf(" %.1f |", gf[c][reps / 2]);
                }
                printf(" %s, %s, %s | %s, %s, %s |\n", impl[0], impl[1], impl[2], impl[3],
                       impl[4], impl[5]);
                fflush(stdout);
                free(o.w), free(o.wt), free(o.x), free(o.out), free(o.dy), free(o.dx), free(o.dw);
            }
    return 0;
}
