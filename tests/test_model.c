/* Parameters and optimizers: deterministic init, save/load round trip bit for bit, refused
 * files leave the model unchanged, SGD / Adagrad / Adam steps equal a hand computation,
 * sparse lookup-table updates touch only the rows a step used, gradients are zeroed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbx/dbx.h"
#include "testutil.h"

static dbx_model *small_model(uint64_t seed, dbx_param *W, dbx_param *E, int rows)
{
    dbx_model *m = NULL;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "W", rows, 3, DBX_INIT_GLOROT, 0, W) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add_lookup(m, "E", 6, 3, 0.5f, E) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, seed) == DBX_OK);
    return m;
}

static void test_init_deterministic(void)
{
    dbx_param W, E;
    dbx_model *a = small_model(5, &W, &E, 4), *b = small_model(5, &W, &E, 4),
              *c = small_model(6, &W, &E, 4);
    CU_ASSERT(dbx_model_checksum(a) == dbx_model_checksum(b));
    CU_ASSERT(dbx_model_checksum(a) != dbx_model_checksum(c));
    CU_ASSERT(dbx_model_num_floats(a) == 4 * 3 + 6 * 3);
    dbx_model_free(a);
    dbx_model_free(b);
    dbx_model_free(c);
}

static void test_save_load_round_trip_and_refusals(void)
{
    dbx_param W, E;
    dbx_model *a = small_model(1, &W, &E, 4), *b = small_model(2, &W, &E, 4);
    const char *path = dbx_test_tmp_path("params.bin");
    CU_ASSERT_FATAL(dbx_model_save(a, path) == DBX_OK);
    CU_ASSERT(dbx_model_load(b, path) == DBX_OK);
    CU_ASSERT(dbx_model_checksum(a) == dbx_model_checksum(b));

    /* a model of another shape refuses the file and keeps its own values */
    dbx_model *c = small_model(3, &W, &E, 5);
    uint64_t before = dbx_model_checksum(c);
    CU_ASSERT(dbx_model_load(c, path) == DBX_EINVAL);
    CU_ASSERT(strstr(dbx_last_error(), "shape") != NULL);
    CU_ASSERT(dbx_model_checksum(c) == before);

    /* a flipped byte and a truncated file are refused, values unchanged */
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 40, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(ch ^ 0x5a, f);
    fclose(f);
    before = dbx_model_checksum(b);
    CU_ASSERT(dbx_model_load(b, path) == DBX_EPARSE);
    CU_ASSERT(strstr(dbx_last_error(), "checksum") != NULL);
    CU_ASSERT(truncate(path, 30) == 0);
    CU_ASSERT(dbx_model_load(b, path) == DBX_EPARSE);
    CU_ASSERT(dbx_model_checksum(b) == before);
    CU_ASSERT(dbx_model_load(b, "/nonexistent/dbx/params.bin") == DBX_EIO);
    unlink(path);
    dbx_model_free(a);
    dbx_model_free(b);
    dbx_model_free(c);
}

/* One step of each optimizer on hand-set gradients, compared with the formula. */
static void check_optimizer(dbx_optim_kind kind)
{
    dbx_param W, E;
    dbx_model *m = small_model(9, &W, &E, 4);
    size_t nf = dbx_model_num_floats(m);
    float *p0 = malloc(nf * sizeof *p0);
    float *vals = dbx_model_values(m), *grads = dbx_model_grads(m);
    size_t wo = dbx_model_param_offset(m, W);
    memcpy(p0, vals + wo, 12 * sizeof *p0);
    for (int i = 0; i < 12; i++) grads[wo + i] = 0.1f * (float)(i - 5);
    dbx_optim o = dbx_optim_default(kind);
    o.grad_scale = 0.5f;
    CU_ASSERT(dbx_model_update(m, &o) == DBX_OK);
    for (int i = 0; i < 12; i++) {
        double g = 0.5 * 0.1 * (i - 5), want;
        if (kind == DBX_OPT_SGD) {
            want = p0[i] - o.lr * g;
        } else if (kind == DBX_OPT_ADAGRAD) {
            want = p0[i] - o.lr * g / (sqrt(g * g) + o.eps);
        } else { /* Adam, t = 1: m = (1-b1) g, v = (1-b2) g^2, bias-corrected */
            double mh = (1 - o.beta1) * g / (1 - o.beta1), vh = (1 - o.beta2) * g * g / (1 - o.beta2);
            want = p0[i] - o.lr * mh / (sqrt(vh) + o.eps);
        }
        CU_ASSERT(dbx_test_close(vals[wo + i], want, 1e-6, 1e-5));
        CU_ASSERT(grads[wo + i] == 0.0f); /* consumed */
    }
    free(p0);
    dbx_model_free(m);
}

static void test_sgd_step(void) { check_optimizer(DBX_OPT_SGD); }
static void test_adagrad_step(void) { check_optimizer(DBX_OPT_ADAGRAD); }
static void test_adam_step(void) { check_optimizer(DBX_OPT_ADAM); }

/* Rows of a lookup table that a step did not use keep their values (and Adam state). */
static void test_sparse_lookup_updates(void)
{
    dbx_param W, E;
    dbx_model *m = small_model(4, &W, &E, 4);
    size_t eo = dbx_model_param_offset(m, E);
    float before[18];
    memcpy(before, dbx_model_values(m) + eo, sizeof before);
    dbx_graph *g = NULL;
    dbx_exec *ex = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(m, 1, &g) == DBX_OK);
    CU_ASSERT_FATAL(dbx_exec_new(NULL, &ex) == DBX_OK);
    dbx_graph_begin_sample(g);
    dbx_softmax_xent(g, dbx_matvec(g, W, dbx_lookup(g, E, 2)), 1);
    dbx_softmax_xent(g, dbx_matvec(g, W, dbx_lookup(g, E, 4)), 0);
    double loss;
    CU_ASSERT_FATAL(dbx_exec_forward(ex, g, &loss) == DBX_OK);
    CU_ASSERT_FATAL(dbx_exec_backward(ex, g, 1.0f) == DBX_OK);
    dbx_optim o = dbx_optim_default(DBX_OPT_ADAM);
    CU_ASSERT(dbx_model_update(m, &o) == DBX_OK);
    const float *after = dbx_model_values(m) + eo;
    for (int r = 0; r < 6; r++) {
        int changed = memcmp(before + 3 * r, after + 3 * r, 3 * sizeof(float)) != 0;
        CU_ASSERT(changed == (r == 2 || r == 4));
    }
    dbx_exec_free(ex);
    dbx_graph_free(g);
    dbx_model_free(m);
}

static void test_bad_declarations(void)
{
    dbx_model *m = NULL;
    dbx_param p;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT(dbx_model_add(m, "A", 0, 3, DBX_INIT_ZERO, 0, &p) == DBX_EINVAL);
    CU_ASSERT(dbx_model_add(m, "A", 2, 3, DBX_INIT_ZERO, 0, &p) == DBX_OK);
    CU_ASSERT(dbx_model_add(m, "A", 2, 3, DBX_INIT_ZERO, 0, &p) == DBX_EINVAL); /* twice */
    CU_ASSERT(dbx_model_init(m, 1) == DBX_OK);
    CU_ASSERT(dbx_model_add(m, "B", 2, 3, DBX_INIT_ZERO, 0, &p) == DBX_EINVAL); /* too late */
    dbx_optim_kind k;
    CU_ASSERT(dbx_optim_parse("adam", &k) == DBX_OK && k == DBX_OPT_ADAM);
    CU_ASSERT(dbx_optim_parse("rmsprop", &k) == DBX_EINVAL);
    dbx_model_free(m);
    dbx_model_free(NULL);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_init_deterministic), DBX_TEST(test_save_load_round_trip_and_refusals),
        DBX_TEST(test_sgd_step), DBX_TEST(test_adagrad_step), DBX_TEST(test_adam_step),
        DBX_TEST(test_sparse_lookup_updates), DBX_TEST(test_bad_declarations), DBX_TEST_END};
    return dbx_test_run("model", tests);
}
