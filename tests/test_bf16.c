/* bfloat16 GEMMs on the CPU (dbx_exec_opts.precision DBX_PRECISION_BF16; oneDNN with bf16
 * operands, f32 accumulation and f32 outputs) against FP32.
 *
 * Tolerances. bfloat16 keeps 8 significant bits (7 stored): rounding to nearest costs at
 * most u = 2^-8 = 3.9e-3 relative per operand, so a product of two rounded operands is off
 * by at most ~2u, typically ~u. Accumulated in f32 over K terms of random sign, these
 * errors add like a random walk, as the terms themselves do, so the normwise error of a GEMM
 * (max |bf16 - fp32| / max |fp32|) stays about u whatever K is (measured up to 3.7e-3 for
 * K = 1..700): BAND_GEMM = 1e-2 (~2.5u, K-independent). Accumulation in bf16 would lose
 * ~log2(K)/2 more bits and fail it for large K; to make sure, the GEMMs are also checked
 * against an exact (double) product of the bf16-rounded operands within 1e-5: that is f32
 * accumulation of exact bf16 products, and an f32 (not rounded) C on accumulation. The
 * backend's affine kernels in bf16 are held to the same 1e-5 against rounded operands on
 * both of their paths (oneDNN, and OpenBLAS on rounded operands for few rows or narrow dW).
 * Through a whole model the per-GEMM errors compound over layers and tree depth, most in
 * the backward pass: BAND_GRAD = 3e-2 normwise per parameter tensor (measured <= 6.4e-3),
 * while the loss, a sum of many terms, averages them out: BAND_LOSS = 1e-3 relative
 * (measured <= 1e-5). Batched vs unbatched in bf16 round the same operands the same way
 * and differ only by the f32 summation order (and the rare bf16 rounding that this flips):
 * same bands (measured <= 7e-4 on gradients). Training: 40 steps on synthetic trees, the
 * bf16 loss per labelled node within BAND_TRAIN = 1e-2 relative of fp32's at every step
 * (measured <= 3.5e-4).
 * Gradient checks stay in FP32 (tests/test_grad*.c).
 * Without oneDNN (not built in, libdnnl.so.2 missing, or no bf16 matmul for this CPU: oneDNN
 * 2.6 has none below AVX-512) the suite prints why and exits 77. On AVX-512 without BF16
 * (DNNL_MAX_CPU_ISA=AVX512_CORE) oneDNN emulates bf16, and the suite passes as well. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/models.h"
#include "dbx/train.h"
#include "kernels/backend.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/dnnl.h"
#include "testdata.h"
#include "testutil.h"

#define BAND_GEMM 1e-2
#define EXACT 1e-5
#define BAND_LOSS 1e-3
#define BAND_GRAD 3e-2
#define BAND_TRAIN 1e-2

static uint64_t rng = 12345; /* the test values' stream (testutil.h) */
static float frand(void) { return dbx_test_frand(&rng); }
static int irand(int lo, int hi) { return dbx_test_irand(&rng, lo, hi); }
static float *randv(size_t n) { return dbx_test_randv(&rng, n); }
/* float -> bfloat16 -> float, rounding to nearest even */
static float bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- the three GEMM forms ------------------------------------------------------------------- */
/* out (rows, n; ld ldo) += W x; dx (cols, n) += W^T dy; dW += dy x^T, summed in double, from
   the operands as they are (round 0) or rounded to bf16 (round 1) */
static void ref_forms(int rows, int cols, int n, int ldo, int ldy, const float *w, const float *x,
                      const float *dy, float *out, float *dx, float *dw, int round)
{
    for (int j = 0; j < n; j++)
        for (int r = 0; r < rows; r++) {
            double s = out[(size_t)j * ldo + r];
            for (int k = 0; k < cols; k++) {
                float a = w[(size_t)r * cols + k], b = x[(size_t)j * cols + k];
                s += round ? (double)bf(a) * bf(b) : (double)a * b;
            }
            out[(size_t)j * ldo + r] = (float)s;
        }
    for (int j = 0; j < n; j++)
        for (int k = 0; k < cols; k++) {
            double s = dx[(size_t)j * cols + k];
            for (int r = 0; r < rows; r++) {
                float a = w[(size_t)r * cols + k], b = dy[(size_t)j * ldy + r];
                s += round ? (double)bf(a) * bf(b) : (double)a * b;
            }
            dx[(size_t)j * cols + k] = (float)s;
        }
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) {
            double s = dw[(size_t)r * cols + k];
            for (int j = 0; j < n; j++) {
                float a = dy[(size_t)j * ldy + r], b = x[(size_t)j * cols + k];
                s += round ? (double)bf(a) * bf(b) : (double)a * b;
            }
            dw[(size_t)r * cols + k] = (float)s;
        }
}

static double worst_gemm, worst_exact;

static void check_forms(int rows, int cols, int n, int packed)
{
    const int pad = irand(0, 3), ldo = rows + pad, ldy = rows + pad;
    const size_t no = (size_t)ldo * n, nx = (size_t)cols * n, nw = (size_t)rows * cols;
    float *w = randv(nw), *x = randv(nx), *dy = randv((size_t)ldy * n);
    /* zero accumulators: the error is the GEMM's alone */
    float *out_b = calloc(no, 4), *dx_b = calloc(nx, 4), *dw_b = calloc(nw, 4);
    float *out_f = calloc(no, 4), *dx_f = calloc(nx, 4), *dw_f = calloc(nw, 4);
    float *out_r = calloc(no, 4), *dx_r = calloc(nx, 4), *dw_r = calloc(nw, 4);
    CU_ASSERT_FATAL(out_b && dx_b && dw_b && out_f && dx_f && dw_f && out_r && dx_r && dw_r);
    if (packed) dbx__dnnl_weights_changed(w);
    CU_ASSERT_FATAL(dbx__dnnl_fwd(rows, cols, n, w, packed, x, out_b, ldo, 1) == DBX_OK);
    CU_ASSERT_FATAL(dbx__dnnl_dx(rows, cols, n, w, packed, dy, ldy, dx_b, 0, 1) == DBX_OK);
    CU_ASSERT_FATAL(dbx__dnnl_dw(rows, cols, n, dy, ldy, x, dw_b, 1) == DBX_OK);
    ref_forms(rows, cols, n, ldo, ldy, w, x, dy, out_f, dx_f, dw_f, 0);
    ref_forms(rows, cols, n, ldo, ldy, w, x, dy, out_r, dx_r, dw_r, 1);
    const double e[3] = {dbx_test_normwise(out_b, out_f, no), dbx_test_normwise(dx_b, dx_f, nx),
                         dbx_test_normwise(dw_b, dw_f, nw)};
    const double x3[3] = {dbx_test_normwise(out_b, out_r, no), dbx_test_normwise(dx_b, dx_r, nx),
                          dbx_test_normwise(dw_b, dw_r, nw)};
    for (int i = 0; i < 3; i++) {
        if (e[i] > worst_gemm) worst_gemm = e[i];
        if (x3[i] > worst_exact) worst_exact = x3[i];
        CU_ASSERT(e[i] <= BAND_GEMM);
        CU_ASSERT(x3[i] <= EXACT);
        if (!(e[i] <= BAND_GEMM) || !(x3[i] <= EXACT))
            printf("\n  form %d rows %d cols %d n %d packed %d: vs fp32 %.3g, vs exact bf16 %.3g",
                   i, rows, cols, n, packed, e[i], x3[i]);
    }
    /* accumulation into a non-zero output: the f32 value is added, not rounded to bf16 */
    for (size_t i = 0; i < no; i++) out_b[i] = out_f[i] = 1000.0f + (float)i * 1e-3f;
    CU_ASSERT_FATAL(dbx__dnnl_fwd(rows, cols, n, w, packed, x, out_b, ldo, 1) == DBX_OK);
    ref_forms(rows, cols, n, ldo, ldy, w, x, dy, out_f, dx_f, dw_f, 1);
    CU_ASSERT(dbx_test_normwise(out_b, out_f, no) <= EXACT);
    free(w), free(x), free(dy), free(out_b), free(dx_b), free(dw_b), free(out_f), free(dx_f);
    free(dw_f), free(out_r), free(dx_r), free(dw_r);
}

static void test_gemm_forms(void)
{
    static const int shapes[][3] = {{640, 128, 1},  {640, 128, 64}, {5, 256, 32},
                                    {1280, 256, 17}, {35, 700, 9},   {96, 33, 200}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int packed = 0; packed < 2; packed++)
            check_forms(shapes[s][0], shapes[s][1], shapes[s][2], packed);
    for (int t = 0; t < 10; t++)
        check_forms(irand(1, 80), irand(1, 80), irand(1, 40), irand(0, 1));
    printf("\n  worst normwise: vs fp32 %.3g (band %g), vs exact on bf16 operands %.3g (%g)",
           worst_gemm, BAND_GEMM, worst_exact, EXACT);
}

/* ---- the backend's affine kernels in bf16 --------------------------------------------------- */
/* One affine term out (rows, n) = W x through the CPU backend with bf16 set, forward and
   backward (x gathered when !contig), against the exact product of the bf16-rounded operands
   within EXACT: covers both paths, oneDNN (rows >= 32, and dW for n >= 16) and OpenBLAS on
   rounded operands (fewer rows, and dW of narrow batches). */
static void check_kernel(int rows, int cols, int n, int contig)
{
    dbx_backend *be;
    CU_ASSERT_FATAL(dbx__cpu_backend(&be) == DBX_OK);
    const int ld = cols + 5; /* gathered: node j's x at 100 + ld j */
    const size_t nv = 100 + (size_t)ld * n + (size_t)rows * n + 64;
    const int64_t out_off = 100 + (int64_t)ld * n;
    float *vals = randv(nv), *w = randv((size_t)rows * cols);
    float *wt = malloc(sizeof(float) * (size_t)rows * cols);
    float *dw = calloc((size_t)rows * cols, sizeof(float));
    float *grads = calloc(nv, sizeof(float));
    int64_t *off = malloc(sizeof(int64_t) * (size_t)n);
    CU_ASSERT_FATAL(wt && dw && grads && off);
    for (int j = 0; j < n; j++) off[j] = 100 + (int64_t)(contig ? cols : ld) * j;
    CU_ASSERT_FATAL(be->ops->transpose(be, wt, rows, w, rows, cols) == DBX_OK);
    dbx_kterm term = {.w = w, .wt = wt, .wt_ld = rows, .dw = dw, .rows = rows, .cols = cols,
                      .row_off = 0, .arg = 0};
    const unsigned char c8 = (unsigned char)contig;
    dbx_kbatch kb = {.op = DBX_OP_AFFINE, .n = n, .dim = rows, .nargs = 1, .arg_dim = &cols,
                     .arg_off = off, .arg_contig = &c8, .out_off = out_off, .nterms = 1,
                     .terms = &term, .bf16 = 1};
    CU_ASSERT_FATAL(be->ops->reserve(be, (size_t)2 * cols * n + 64) == DBX_OK);
    CU_ASSERT_FATAL(be->ops->forward(be, vals, &kb) == DBX_OK);
    float *dy = grads + out_off;
    for (size_t i = 0; i < (size_t)rows * n; i++) dy[i] = frand();
    CU_ASSERT_FATAL(be->ops->backward(be, vals, grads, &kb) == DBX_OK);
    /* exact references from rounded operands */
    float *ro = calloc((size_t)rows * n, 4), *rdx = calloc((size_t)cols * n, 4);
    float *rdw = calloc((size_t)rows * cols, 4), *x = malloc(sizeof(float) * (size_t)cols * n);
    float *gx = malloc(sizeof(float) * (size_t)cols * n);
    CU_ASSERT_FATAL(ro && rdx && rdw && x && gx);
    for (int j = 0; j < n; j++)
        for (int k = 0; k < cols; k++) {
            x[(size_t)j * cols + k] = vals[off[j] + k];
            gx[(size_t)j * cols + k] = grads[off[j] + k];
        }
    ref_forms(rows, cols, n, rows, rows, w, x, dy, ro, rdx, rdw, 1);
    double eo = dbx_test_normwise(vals + out_off, ro, (size_t)rows * n);
    double ex = dbx_test_normwise(gx, rdx, (size_t)cols * n);
    double ew = dbx_test_normwise(dw, rdw, (size_t)rows * cols);
    if (!(eo <= EXACT && ex <= EXACT && ew <= EXACT))
        printf("\n  kernel rows %d cols %d n %d contig %d: out %.3g dx %.3g dW %.3g", rows, cols,
               n, contig, eo, ex, ew);
    CU_ASSERT(eo <= EXACT);
    CU_ASSERT(ex <= EXACT);
    CU_ASSERT(ew <= EXACT);
    free(vals), free(w), free(wt), free(dw), free(grads), free(off), free(ro), free(rdx);
    free(rdw), free(x), free(gx);
}

static void test_affine_kernels(void)
{
    static const int shapes[][3] = {{5, 64, 1},  {5, 64, 40},   {7, 33, 12}, {40, 24, 3},
                                    {40, 24, 15}, {40, 24, 16}, {96, 50, 37}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int contig = 0; contig < 2; contig++)
            check_kernel(shapes[s][0], shapes[s][1], shapes[s][2], contig);
}

/* ---- whole model steps --------------------------------------------------------------------- */

typedef struct result {
    double loss;
    float *grads;
    size_t nfloats;
} result;

/* One forward/backward of the whole minibatch (dedup on) under scheduler sched at precision
   prec, after a first step whose gradients are dropped and a parameter change (x 0.9), so
   that packed bf16 weights must be refreshed. */
static void run_step(const dbx_test_data *d, const char *sched, dbx_precision prec, int size,
                     result *r)
{
    dbx_exec_opts eo = {.scheduler = sched, .device = "cpu", .fuse = 1, .precision = prec};
    double loss[2];
    float *grads[2];
    dbx_test_data_two_steps(d, size, &eo, loss, grads, &r->nfloats);
    free(grads[0]);
    r->loss = loss[1];
    r->grads = grads[1];
}

static void compare(const dbx_test_data *d, const char *what, int size, const result *a,
                    const result *ref, double *el, double *eg)
{
    *el = fabs(a->loss - ref->loss) / fmax(fabs(ref->loss), 1e-30);
    *eg = dbx_test_data_worst_tensor(d, size, a->grads, ref->grads);
    printf("\n  %s size %d: loss %.9g vs %.9g (rel %.2g), gradients %.2g", what, size, a->loss,
           ref->loss, *el, *eg);
}

/* bf16 vs fp32 (agenda), bf16 batched (agenda, depth) vs unbatched (none), bf16 twice. */
static void check_model(const dbx_test_data *d, const char *what, int size)
{
    result f, b, b2, bd, bn;
    run_step(d, "agenda", DBX_PRECISION_FP32, size, &f);
    run_step(d, "agenda", DBX_PRECISION_BF16, size, &b);
    run_step(d, "agenda", DBX_PRECISION_BF16, size, &b2);
    run_step(d, "depth", DBX_PRECISION_BF16, size, &bd);
    run_step(d, "none", DBX_PRECISION_BF16, size, &bn);
    double el, eg;
    char lab[96];
    snprintf(lab, sizeof lab, "%s bf16 vs fp32", what);
    compare(d, lab, size, &b, &f, &el, &eg);
    CU_ASSERT(el <= BAND_LOSS);
    CU_ASSERT(eg <= BAND_GRAD);
    CU_ASSERT(eg > 0); /* bf16 really ran */
    snprintf(lab, sizeof lab, "%s bf16 agenda vs none", what);
    compare(d, lab, size, &b, &bn, &el, &eg);
    CU_ASSERT(el <= BAND_LOSS);
    CU_ASSERT(eg <= BAND_GRAD);
    snprintf(lab, sizeof lab, "%s bf16 depth vs none", what);
    compare(d, lab, size, &bd, &bn, &el, &eg);
    CU_ASSERT(el <= BAND_LOSS);
    CU_ASSERT(eg <= BAND_GRAD);
    /* determinism: bit-identical run to run */
    CU_ASSERT(b.loss == b2.loss);
    CU_ASSERT(memcmp(b.grads, b2.grads, b.nfloats * sizeof(float)) == 0);
    free(f.grads), free(b.grads), free(b2.grads), free(bd.grads), free(bn.grads);
}

static void test_treelstm_step(void)
{
    dbx_test_data d;
    dbx_test_data_trees(&d, 24, 3);
    check_model(&d, "treelstm", 24);
    check_model(&d, "treelstm", 67);
    dbx_test_data_free(&d);
}

static void test_tagger_step(void)
{
    dbx_test_data d;
    dbx_test_data_tags(&d, 24, 5);
    check_model(&d, "tagger", 20);
    check_model(&d, "tagger", 67);
    dbx_test_data_free(&d);
}

/* ---- a short training run ------------------------------------------------------------------- */
enum { TRAIN_STEPS = 40 };

static void train(dbx_precision prec, double *loss, uint64_t *checksum)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model = "treelstm";
    o.synthetic = 640;
    o.embed = o.hidden = 64;
    o.batch = 32;
    o.steps = TRAIN_STEPS;
    o.optim.lr = 0.005f;
    o.quiet = 1;
    o.log_every = 0;
    o.comm = 0;
    o.precision = prec;
    dbx_trainer *t = NULL;
    dbx_status s = dbx_trainer_new(&o, &t);
    if (s) printf("\n  trainer: %s", dbx_last_error());
    CU_ASSERT_FATAL(s == DBX_OK);
    for (int i = 0; i < TRAIN_STEPS; i++) {
        dbx_step_info info;
        CU_ASSERT_FATAL(dbx_trainer_step(t, &info) == DBX_OK);
        loss[i] = info.loss / (double)info.labelled;
    }
    *checksum = dbx_model_checksum(dbx_trainer_model(t));
    dbx_trainer_free(t);
}

static void test_training(void)
{
    double lf[TRAIN_STEPS], lb[TRAIN_STEPS], lb2[TRAIN_STEPS], worst = 0;
    uint64_t cf, cb, cb2;
    train(DBX_PRECISION_FP32, lf, &cf);
    train(DBX_PRECISION_BF16, lb, &cb);
    train(DBX_PRECISION_BF16, lb2, &cb2);
    for (int i = 0; i < TRAIN_STEPS; i++) {
        double e = fabs(lb[i] - lf[i]) / lf[i];
        if (e > worst) worst = e;
    }
    printf("\n  %d steps: loss/node first %.4f (fp32 %.4f), last %.4f (fp32 %.4f), worst step "
           "rel %.3g (band %g)", TRAIN_STEPS, lb[0], lf[0], lb[TRAIN_STEPS - 1],
           lf[TRAIN_STEPS - 1], worst, BAND_TRAIN);
    CU_ASSERT(worst <= BAND_TRAIN);
    CU_ASSERT(lb[TRAIN_STEPS - 1] < lb[0]); /* it learns */
    CU_ASSERT(cb == cb2);                   /* deterministic */
    CU_ASSERT(memcmp(lb, lb2, sizeof lb) == 0);
    CU_ASSERT(cb != cf);                    /* and not fp32 */
}

/* bf16 on a backend without it is refused, saying why */
static void test_refused(void)
{
    dbx_exec_opts eo = {.scheduler = "agenda", .precision = (dbx_precision)7};
    dbx_exec *ex = NULL;
    CU_ASSERT(dbx_exec_new(&eo, &ex) == DBX_EINVAL && ex == NULL);
    dbx_precision p;
    CU_ASSERT(dbx_precision_parse("bf16", &p) == DBX_OK && p == DBX_PRECISION_BF16);
    CU_ASSERT(dbx_precision_parse("fp32", &p) == DBX_OK && p == DBX_PRECISION_FP32);
    CU_ASSERT(dbx_precision_parse("fp16", &p) == DBX_EINVAL);
}

int main(void)
{
    if (!dbx__dnnl_built()) {
        printf("skipped: dbx was built without oneDNN, which bf16 needs (install libdnnl-dev, "
               "reconfigure)\n");
        return 77;
    }
    if (dbx_blas_init() != DBX_OK || dbx__dnnl_bf16_check() != DBX_OK) {
        printf("skipped: bf16 needs oneDNN with bf16 matmuls: %s\n", dbx_last_error());
        return 77;
    }
    printf("%s; bf16 %s\n", dbx__dnnl_describe(),
           dbx__dnnl_bf16_native() ? "native (AVX512-BF16)" : "emulated (no AVX512-BF16)");
    static const dbx_test_case tests[] = {
        DBX_TEST(test_gemm_forms),  DBX_TEST(test_affine_kernels),
        DBX_TEST(test_treelstm_step), DBX_TEST(test_tagger_step),
        DBX_TEST(test_training),    DBX_TEST(test_refused),       DBX_TEST_END};
    return dbx_test_run("bf16", tests);
}
