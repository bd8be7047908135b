/* oneDNN as the CPU backend's GEMM library (kernels/cpu/dnnl.c, DBX_CPU_GEMM=onednn) against
 * OpenBLAS:
 *  - the three GEMM forms of an affine term (forward out += W x, dx (+)= W^T dy,
 *    dW += dy x^T), weights plain and packed, on random shapes with N = 1 and odd sizes and
 *    strided outputs, within 1e-5 relative (normwise: max |a - b| / max |ref|);
 *  - the backend's affine kernels on a batch whose arguments the planner could not make
 *    contiguous (gathered into scratch, gradients scattered back), with a bias and two
 *    weight terms: outputs, argument gradients and weight gradients within 1e-5;
 *  - whole steps of the Tree-LSTM and the BiLSTM tagger (loss and every parameter gradient,
 *    per tensor normwise) within 1e-5, also after the parameters change (packed weights
 *    must be repacked);
 *  - determinism: the same step twice through oneDNN is bit-identical.
 * Without oneDNN (not built in, or libdnnl.so.2 missing) the suite prints why and exits 77. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/models.h"
#include "kernels/backend.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/dnnl.h"
#include "testdata.h"
#include "testutil.h"

#define TOL 1e-5

static uint64_t rng = 12345; /* the test values' stream (testutil.h) */
static float frand(void) { return dbx_test_frand(&rng); }
static int irand(int lo, int hi) { return dbx_test_irand(&rng, lo, hi); }
static float *randv(size_t n) { return dbx_test_randv(&rng, n); }
/* ---- the three GEMM forms ------------------------------------------------------------------- */
static void check_forms(int rows, int cols, int n, int packed)
{
    const int pad = irand(0, 3), ldo = rows + pad, ldy = rows + pad;
    float *w = randv((size_t)rows * cols), *x = randv((size_t)cols * n);
    float *out0 = randv((size_t)ldo * n), *dy = randv((size_t)ldy * n);
    float *dx0 = randv((size_t)cols * n), *dw0 = randv((size_t)rows * cols);
    float *out_b = dbx_test_dup(out0, (size_t)ldo * n);
    float *out_d = dbx_test_dup(out0, (size_t)ldo * n);
    float *dx_b = dbx_test_dup(dx0, (size_t)cols * n), *dx_d = dbx_test_dup(dx0, (size_t)cols * n);
    float *dw_b = dbx_test_dup(dw0, (size_t)rows * cols);
    float *dw_d = dbx_test_dup(dw0, (size_t)rows * cols);
    /* OpenBLAS, as cpu_backend.c calls it */
    dbx__gemm(DBX_CBLAS_TRANS, DBX_CBLAS_NOTRANS, rows, n, cols, w, cols, x, cols, 1.0f, out_b,
              ldo);
    dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, cols, n, rows, w, cols, dy, ldy, 1.0f, dx_b,
              cols);
    dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_TRANS, cols, rows, n, x, cols, dy, ldy, 1.0f, dw_b,
              cols);
    if (packed) dbx__dnnl_weights_changed(w);
    CU_ASSERT_FATAL(dbx__dnnl_fwd(rows, cols, n, w, packed, x, out_d, ldo, 0) == DBX_OK);
    CU_ASSERT_FATAL(dbx__dnnl_dx(rows, cols, n, w, packed, dy, ldy, dx_d, 1, 0) == DBX_OK);
    CU_ASSERT_FATAL(dbx__dnnl_dw(rows, cols, n, dy, ldy, x, dw_d, 0) == DBX_OK);
    double e1 = dbx_test_normwise(out_d, out_b, (size_t)ldo * n);
    double e2 = dbx_test_normwise(dx_d, dx_b, (size_t)cols * n);
    double e3 = dbx_test_normwise(dw_d, dw_b, (size_t)rows * cols);
    /* dx without accumulation (the gathered case writes into scratch) */
    float *dxz_b = randv((size_t)cols * n), *dxz_d = randv((size_t)cols * n);
    dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, cols, n, rows, w, cols, dy, ldy, 0.0f, dxz_b,
              cols);
    CU_ASSERT_FATAL(dbx__dnnl_dx(rows, cols, n, w, packed, dy, ldy, dxz_d, 0, 0) == DBX_OK);
    double e4 = dbx_test_normwise(dxz_d, dxz_b, (size_t)cols * n);
    if (e1 > TOL || e2 > TOL || e3 > TOL || e4 > TOL)
        printf("\n  rows %d cols %d n %d packed %d: fwd %.2g dx %.2g dW %.2g dx0 %.2g\n", rows,
               cols, n, packed, e1, e2, e3, e4);
    CU_ASSERT(e1 <= TOL && e2 <= TOL && e3 <= TOL && e4 <= TOL);
    free(w), free(x), free(out0), free(dy), free(dx0), free(dw0), free(out_b), free(out_d);
    free(dx_b), free(dx_d), free(dw_b), free(dw_d), free(dxz_b), free(dxz_d);
}

static void test_gemm_forms(void)
{
    static const int fixed[][3] = {{640, 128, 1}, {640, 128, 8}, {1280, 256, 33}, {5, 128, 1},
                                   {5, 256, 96},  {1, 1, 1},     {3, 7, 1},       {129, 65, 17},
                                   {2560, 512, 9}};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        for (int packed = 0; packed < 2; packed++)
            check_forms(fixed[i][0], fixed[i][1], fixed[i][2], packed);
    for (int t = 0; t < 40; t++)
        check_forms(irand(1, 300), irand(1, 300), t % 5 == 0 ? 1 : irand(1, 130), t & 1);
}

/* Packed weights follow changes announced by dbx__dnnl_weights_changed. */
static void test_repack_after_change(void)
{
    const int rows = 40, cols = 24, n = 5;
    float *w = randv((size_t)rows * cols), *x = randv((size_t)cols * n);
    float *a = calloc((size_t)rows * n, sizeof *a), *b = calloc((size_t)rows * n, sizeof *b);
    dbx__dnnl_weights_changed(w);
    CU_ASSERT_FATAL(dbx__dnnl_fwd(rows, cols, n, w, 1, x, a, rows, 0) == DBX_OK);
    for (size_t i = 0; i < (size_t)rows * cols; i++) w[i] *= -0.5f;
    dbx__dnnl_weights_changed(w);
    memset(a, 0, (size_t)rows * n * sizeof *a);
    CU_ASSERT_FATAL(dbx__dnnl_fwd(rows, cols, n, w, 1, x, a, rows, 0) == DBX_OK);
    dbx__gemm(DBX_CBLAS_TRANS, DBX_CBLAS_NOTRANS, rows, n, cols, w, cols, x, cols, 0.0f, b, rows);
    CU_ASSERT(dbx_test_normwise(a, b, (size_t)rows * n) <= TOL);
    free(w), free(x), free(a), free(b);
}

/* ---- the backend's affine kernels on gathered operands -------------------------------------- */
static void test_affine_gathered(void)
{
    dbx_backend *be;
    CU_ASSERT_FATAL(dbx__cpu_backend(&be) == DBX_OK);
    /* shapes that the kernels give to oneDNN (use_dnnl in cpu_backend.c: rows >= 32, n >= 16
       for dW as well) */
    const int n = 17, d0 = 13, d1 = 9, r0 = 40, r1 = 33, D = r0 + r1;
    /* arena: arg0 scattered (node j at 1000 + 37 j), arg1 contiguous at 3000, out at 4000 */
    const size_t nv = 8000;
    float *vals = randv(nv), *w0 = randv((size_t)r0 * d0), *w1 = randv((size_t)r1 * d1);
    float *bias = randv((size_t)D), *wt0 = malloc(sizeof(float) * (size_t)(r0 + 3) * d0);
    float *wt1 = malloc(sizeof(float) * (size_t)(r1 + 3) * d1);
    CU_ASSERT_FATAL(wt0 && wt1);
    int64_t arg_off[2 * 17];
    for (int j = 0; j < n; j++) {
        arg_off[j] = 1000 + 37 * j;
        arg_off[n + j] = 3000 + (int64_t)d1 * j;
    }
    const int arg_dim[2] = {d0, d1};
    const unsigned char contig[2] = {0, 1};
    float *out[2], *grads[2], *dw[2][3];
    for (int lib = 0; lib < 2; lib++) {
        CU_ASSERT_FATAL(dbx__cpu_gemm_select(lib) == DBX_OK);
        CU_ASSERT_FATAL(be->ops->transpose(be, wt0, r0 + 3, w0, r0, d0) == DBX_OK);
        CU_ASSERT_FATAL(be->ops->transpose(be, wt1, r1 + 3, w1, r1, d1) == DBX_OK);
        for (int i = 0; i < 3; i++) dw[lib][i] = calloc((size_t)D * d0, sizeof(float));
        dbx_kterm terms[3] = {
            {.w = w0, .wt = wt0, .wt_ld = r0 + 3, .dw = dw[lib][0], .rows = r0, .cols = d0,
             .row_off = 0, .arg = 0},
            {.w = w1, .wt = lib ? NULL : wt1, .wt_ld = r1 + 3, .dw = dw[lib][1], .rows = r1,
             .cols = d1, .row_off = r0, .arg = 1},
            {.w = bias, .dw = dw[lib][2], .rows = D, .cols = 1, .row_off = 0, .arg = -1}};
        dbx_kbatch kb = {.op = DBX_OP_AFFINE, .n = n, .dim = D, .nargs = 2, .arg_dim = arg_dim,
                         .arg_off = arg_off, .arg_contig = contig, .out_off = 4000,
                         .nterms = 3, .terms = terms};
        CU_ASSERT_FATAL(be->ops->reserve(be, 4096) == DBX_OK);
        float *v = dbx_test_dup(vals, nv);
        CU_ASSERT_FATAL(be->ops->forward(be, v, &kb) == DBX_OK);
        out[lib] = dbx_test_dup(v + 4000, (size_t)D * n);
        float *g = randv(nv);
        rng = 99; /* the same upstream gradients and accumulators for both libraries */
        for (size_t i = 0; i < nv; i++) g[i] = frand();
        CU_ASSERT_FATAL(be->ops->backward(be, v, g, &kb) == DBX_OK);
        grads[lib] = g;
        free(v);
    }
    CU_ASSERT_FATAL(dbx__cpu_gemm_select(DBX_GEMM_OPENBLAS) == DBX_OK);
    CU_ASSERT(dbx_test_normwise(out[1], out[0], (size_t)D * n) <= TOL);
    CU_ASSERT(dbx_test_normwise(grads[1], grads[0], nv) <= TOL);
    CU_ASSERT(dbx_test_normwise(dw[1][0], dw[0][0], (size_t)r0 * d0) <= TOL);
    CU_ASSERT(dbx_test_normwise(dw[1][1], dw[0][1], (size_t)r1 * d1) <= TOL);
    CU_ASSERT(dbx_test_normwise(dw[1][2], dw[0][2], (size_t)D) <= TOL);
    for (int lib = 0; lib < 2; lib++) {
        free(out[lib]), free(grads[lib]);
        for (int i = 0; i < 3; i++) free(dw[lib][i]);
    }
    free(vals), free(w0), free(w1), free(bias), free(wt0), free(wt1);
}

/* ---- whole model steps --------------------------------------------------------------------- */

typedef struct result {
    double loss[2];
    float *grads[2]; /* after step 1, and after step 2 on perturbed parameters */
    size_t nfloats;
} result;

/* Two forward/backward steps of the whole minibatch (agenda scheduler, dedup on) with GEMM
   library lib; between them every parameter is scaled by 0.9, so that packed weights must be
   refreshed. */
static void run_steps(const dbx_test_data *d, int lib, int size, result *r)
{
    CU_ASSERT_FATAL(dbx__cpu_gemm_select(lib) == DBX_OK);
    dbx_exec_opts eo = {.scheduler = "agenda", .device = "cpu", .fuse = 1};
    dbx_test_data_two_steps(d, size, &eo, r->loss, r->grads, &r->nfloats);
    CU_ASSERT_FATAL(dbx__cpu_gemm_select(DBX_GEMM_OPENBLAS) == DBX_OK);
}

static void result_free(result *r)
{
    free(r->grads[0]);
    free(r->grads[1]);
}

static void check_model(dbx_test_data *d, const char *what, int size)
{
    result b, o, o2;
    run_steps(d, DBX_GEMM_OPENBLAS, size, &b);
    run_steps(d, DBX_GEMM_ONEDNN, size, &o);
    run_steps(d, DBX_GEMM_ONEDNN, size, &o2);
    for (int step = 0; step < 2; step++) {
        double el = fabs(o.loss[step] - b.loss[step]) / fmax(fabs(b.loss[step]), 1e-30);
        double eg = dbx_test_data_worst_tensor(d, size, o.grads[step], b.grads[step]);
        printf("\n  %s size %d step %d: loss %.9g vs %.9g (rel %.2g), gradients %.2g", what, size,
               step, o.loss[step], b.loss[step], el, eg);
        CU_ASSERT(el <= TOL);
        CU_ASSERT(eg <= TOL);
        /* determinism: bit-identical run to run */
        CU_ASSERT(o.loss[step] == o2.loss[step]);
        CU_ASSERT(memcmp(o.grads[step], o2.grads[step], o.nfloats * sizeof(float)) == 0);
    }
    result_free(&b), result_free(&o), result_free(&o2);
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

int main(void)
{
    if (!dbx__dnnl_built()) {
        printf("skipped: dbx was built without oneDNN (install libdnnl-dev, reconfigure)\n");
        return 77;
    }
    if (dbx_blas_init() != DBX_OK || dbx__dnnl_init() != DBX_OK) {
        printf("skipped: %s\n", dbx_last_error());
        return 77;
    }
    printf("%s\n", dbx_blas_describe());
    static const dbx_test_case tests[] = {
        DBX_TEST(test_gemm_forms),    DBX_TEST(test_repack_after_change),
        DBX_TEST(test_affine_gathered), DBX_TEST(test_treelstm_step),
        DBX_TEST(test_tagger_step),   DBX_TEST_END};
    return dbx_test_run("dnnl", tests);
}
