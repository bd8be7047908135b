/* Finite-difference gradient checks for every op of the op table, each run batched (two
 * samples, so kernels see batch width 2 and the planner's offset lists) under the agenda
 * and depth schedulers and node by node. Gradients of parameters and of inputs are
 * checked. Sums over a varying number of inputs run as one batch and match node-by-node
 * execution. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/dbx.h"
#include "gradcheck.h"
#include "testutil.h"

enum op_case {
    C_AFFINE, C_MATVEC, C_ADD, C_CMULT, C_CMULT_SAME, C_TANH, C_SIGMOID, C_RELU, C_CONCAT,
    C_SUM, C_SLICE, C_LOOKUP, C_LSTM_C0, C_LSTM_C1, C_LSTM_C2, C_LSTM_H0, C_LSTM_H2, C_INPUT
};

/* per-sample inputs: x1(4) x2(4) x3(3) g12(12) g20(20) c1(4) c2(4) g16(16) */
static const int in_dims[8] = {4, 4, 3, 12, 20, 4, 4, 16};
#define NIN 8
#define PER_SAMPLE 67
#define NSAMPLES 2

typedef struct op_ctx {
    enum op_case c;
    dbx_param W, W3, b, E, Wout;
} op_ctx;

static int out_dim(enum op_case c)
{
    switch (c) {
    case C_AFFINE:
    case C_MATVEC: return 6;
    case C_CONCAT: return 11;
    case C_SLICE: return 2;
    default: return 4;
    }
}

static void build(dbx_graph *g, void *vctx, const float *inputs, dbx_node *in_nodes)
{
    op_ctx *o = vctx;
    for (int s = 0; s < NSAMPLES; s++) {
        dbx_graph_begin_sample(g);
        dbx_node x[NIN];
        const float *p = inputs + s * PER_SAMPLE;
        for (int i = 0; i < NIN; i++) {
            x[i] = dbx_input(g, in_dims[i], p);
            if (in_nodes) in_nodes[s * NIN + i] = x[i];
            p += in_dims[i];
        }
        dbx_node y = DBX_NONE;
        switch (o->c) {
        case C_AFFINE: {
            dbx_term t[4] = {{o->b, DBX_NONE, 0}, {o->W, x[0], 0}, {o->W3, x[2], 2},
                             {DBX_NONE, x[1], 1}}; /* bias, two GEMM terms, an identity term */
            y = dbx_affine(g, 6, 4, t);
            break;
        }
        case C_MATVEC: y = dbx_matvec(g, o->W, x[1]); break;
        case C_ADD: y = dbx_add(g, x[0], x[1]); break;
        case C_CMULT: y = dbx_cmult(g, x[0], x[1]); break;
        case C_CMULT_SAME: y = dbx_cmult(g, x[0], x[0]); break;
        case C_TANH: y = dbx_tanh(g, x[0]); break;
        case C_SIGMOID: y = dbx_sigmoid(g, x[1]); break;
        case C_RELU: y = dbx_relu(g, x[0]); break;
        case C_CONCAT: {
            dbx_node cs[3] = {x[0], x[2], x[1]};
            y = dbx_concat(g, 3, cs);
            break;
        }
        case C_SUM: {
            dbx_node cs[3] = {x[0], x[1], x[0]};
            y = dbx_sum(g, 3, cs);
            break;
        }
        case C_SLICE: y = dbx_slice(g, x[0], 1, 3); break;
        case C_LOOKUP:
            y = dbx_add(g, dbx_lookup(g, o->E, 2 + s), dbx_cmult(g, dbx_lookup(g, o->E, 2), x[0]));
            break;
        case C_LSTM_C0: y = dbx_lstm_c(g, x[3], 0, NULL); break;
        case C_LSTM_C1: y = dbx_lstm_c(g, x[7], 1, &x[5]); break;
        case C_LSTM_C2: {
            dbx_node cs[2] = {x[5], x[6]};
            y = dbx_lstm_c(g, x[4], 2, cs);
            break;
        }
        case C_LSTM_H0: y = dbx_lstm_h(g, x[3], x[5]); break;
        case C_LSTM_H2: y = dbx_lstm_h(g, x[4], x[6]); break;
        case C_INPUT: y = x[0]; break;
        }
        dbx_softmax_xent(g, dbx_matvec(g, o->Wout, y), s % 3);
    }
}

static void run_case(enum op_case c, const char *name)
{
    dbx_model *m = NULL;
    op_ctx o = {.c = c};
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "W", 6, 4, DBX_INIT_GLOROT, 0, &o.W) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "W3", 3, 3, DBX_INIT_GLOROT, 0, &o.W3) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "b", 6, 1, DBX_INIT_UNIFORM, 0.3f, &o.b) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add_lookup(m, "E", 5, 4, 0.5f, &o.E) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "Wout", 3, out_dim(c), DBX_INIT_UNIFORM, 1.0f, &o.Wout) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 42) == DBX_OK);
    float inputs[PER_SAMPLE * NSAMPLES];
    int dims[NIN * NSAMPLES];
    for (int i = 0; i < NIN * NSAMPLES; i++) dims[i] = in_dims[i % NIN];
    uint64_t st = 12345 + (uint64_t)c;
    for (int i = 0; i < PER_SAMPLE * NSAMPLES; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        float u = (float)((st >> 40) & 0xffffff) / (float)0x1000000; /* [0,1) */
        float v = 2.0f * u - 1.0f;
        /* keep relu inputs away from the kink at 0 */
        if (c == C_RELU && fabsf(v) < 0.1f) v = v < 0 ? -0.1f - v : 0.1f + v;
        inputs[i] = 1.5f * v;
    }
    static const char *const scheds[3] = {"agenda", "depth", "none"};
    for (int k = 0; k < 3; k++) {
        dbx_gc_spec s = {.m = m, .build = build, .ctx = &o, .inputs = inputs,
                         .ninput_vecs = NIN * NSAMPLES, .input_dims = dims,
                         .scheduler = scheds[k], .dedup = 1, .eps = 1e-2};
        dbx_gc_result r;
        int bad = dbx_gc_run(&s, 2e-3, 2e-2, &r);
        if (bad || k == 0)
            printf("\n  %-12s %-6s checked %4d failed %d worst %.2e %s", name,
                   scheds[k], r.checked, r.failed, r.worst, r.where);
        CU_ASSERT(bad == 0);
        CU_ASSERT(r.checked > 0);
    }
    dbx_model_free(m);
}

#define OP_TEST(fn, c)                                                                        \
    static void fn(void) { run_case(c, #c + 2); }
OP_TEST(test_grad_affine, C_AFFINE)
OP_TEST(test_grad_matvec, C_MATVEC)
OP_TEST(test_grad_add, C_ADD)
OP_TEST(test_grad_cmult, C_CMULT)
OP_TEST(test_grad_cmult_same_arg, C_CMULT_SAME)
OP_TEST(test_grad_tanh, C_TANH)
OP_TEST(test_grad_sigmoid, C_SIGMOID)
OP_TEST(test_grad_relu, C_RELU)
OP_TEST(test_grad_concat, C_CONCAT)
OP_TEST(test_grad_sum_repeated_arg, C_SUM)
OP_TEST(test_grad_slice, C_SLICE)
OP_TEST(test_grad_lookup, C_LOOKUP)
OP_TEST(test_grad_lstm_c_k0, C_LSTM_C0)
OP_TEST(test_grad_lstm_c_k1, C_LSTM_C1)
OP_TEST(test_grad_lstm_c_k2, C_LSTM_C2)
OP_TEST(test_grad_lstm_h_k0, C_LSTM_H0)
OP_TEST(test_grad_lstm_h_k2, C_LSTM_H2)
OP_TEST(test_grad_softmax_xent_input, C_INPUT)

/* ---- sums over a varying number of inputs (a Lattice-LSTM's incoming arcs) ---------------- */
/* VA_SAMPLES samples; sample s sums the first 1 + s % 4 of its VA_IN inputs (dim VA_DIM) in
   the order (x_k-1, ..., x_0, x_0 when k > 2: a repeated argument), takes tanh and scores the
   result with Wout. All sums sit at depth 1 with one signature: one batch. */
#define VA_SAMPLES 6
#define VA_IN 4
#define VA_DIM 5

typedef struct va_ctx {
    dbx_param Wout;
    dbx_node sums[VA_SAMPLES];
} va_ctx;

static void build_va(dbx_graph *g, void *vctx, const float *inputs, dbx_node *in_nodes)
{
    va_ctx *c = vctx;
    for (int s = 0; s < VA_SAMPLES; s++) {
        dbx_graph_begin_sample(g);
        dbx_node x[VA_IN], args[VA_IN + 1];
        for (int i = 0; i < VA_IN; i++) {
            x[i] = dbx_input(g, VA_DIM, inputs + (s * VA_IN + i) * VA_DIM);
            if (in_nodes) in_nodes[s * VA_IN + i] = x[i];
        }
        const int k = 1 + s % 4;
        int n = 0;
        for (int i = k - 1; i >= 0; i--) args[n++] = x[i];
        if (k > 2) args[n++] = x[0];
        c->sums[s] = dbx_sum(g, n, args);
        dbx_softmax_xent(g, dbx_matvec(g, c->Wout, dbx_tanh(g, c->sums[s])), s % 3);
    }
}

static dbx_model *va_model(va_ctx *c)
{
    dbx_model *m = NULL;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "Wout", 3, VA_DIM, DBX_INIT_UNIFORM, 1.0f, &c->Wout) ==
                    DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 7) == DBX_OK);
    return m;
}

static void va_inputs(float *x)
{
    uint64_t st = 99;
    for (int i = 0; i < VA_SAMPLES * VA_IN * VA_DIM; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = 3.0f * ((float)((st >> 40) & 0xffffff) / (float)0x1000000) - 1.5f;
    }
}

/* Sums of 1..4 arguments share one signature and run as one batch under depth and agenda;
   batched values and gradients equal node-by-node ones. */
static void test_sum_variable_arity_one_batch_equals_unbatched(void)
{
    va_ctx c;
    dbx_model *m = va_model(&c);
    static float x[VA_SAMPLES * VA_IN * VA_DIM];
    va_inputs(x);
    static const char *const scheds[3] = {"none", "depth", "agenda"};
    float val[3][VA_SAMPLES][VA_DIM], gin[3][VA_SAMPLES * VA_IN][VA_DIM], gw[3][3 * VA_DIM];
    double loss[3];
    for (int k = 0; k < 3; k++) {
        dbx_exec_opts eo = {.scheduler = scheds[k]};
        dbx_exec *ex = NULL;
        dbx_graph *g = NULL;
        dbx_node in[VA_SAMPLES * VA_IN];
        CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
        CU_ASSERT_FATAL(dbx_graph_new(m, 1, &g) == DBX_OK);
        build_va(g, &c, x, in);
        CU_ASSERT_FATAL(dbx_graph_status(g) == DBX_OK);
        for (int s = 1; s < VA_SAMPLES; s++)
            CU_ASSERT(dbx_node_sig(g, c.sums[s]) == dbx_node_sig(g, c.sums[0]));
        CU_ASSERT(dbx_graph_sig_nodes(g, dbx_node_sig(g, c.sums[0])) == VA_SAMPLES);
        CU_ASSERT_FATAL(dbx_exec_forward(ex, g, &loss[k]) == DBX_OK);
        CU_ASSERT_FATAL(dbx_exec_backward(ex, g, 1.0f) == DBX_OK);
        /* batched: one batch each for the inputs, sums, tanh, matvec and losses */
        const dbx_exec_stats *st = dbx_exec_last_stats(ex);
        CU_ASSERT(k == 0 ? st->batches == st->nodes : st->batches == 5);
        for (int s = 0; s < VA_SAMPLES; s++)
            CU_ASSERT(dbx_exec_value(ex, g, c.sums[s], val[k][s]) == DBX_OK);
        for (int i = 0; i < VA_SAMPLES * VA_IN; i++)
            CU_ASSERT(dbx_exec_grad(ex, g, in[i], gin[k][i]) == DBX_OK);
        memcpy(gw[k], dbx_model_grads(m) + dbx_model_param_offset(m, c.Wout), sizeof gw[k]);
        dbx_model_zero_grads(m);
        dbx_graph_free(g);
        dbx_exec_free(ex);
    }
    /* sample 3 sums x2 + x1 + x0 + x0: its x0 gradient is twice its x1 gradient */
    for (int i = 0; i < VA_DIM; i++)
        CU_ASSERT(dbx_test_close(gin[0][3 * VA_IN][i], 2 * gin[0][3 * VA_IN + 1][i], 1e-7, 1e-6));
    for (int i = 0; i < VA_DIM; i++) /* sample 0 sums x0 alone: x3 gets no gradient */
        CU_ASSERT(gin[0][3][i] == 0.0f);
    for (int k = 1; k < 3; k++) {
        CU_ASSERT(dbx_test_close(loss[k], loss[0], 0, 1e-6));
        CU_ASSERT(dbx_test_max_rel(&val[k][0][0], &val[0][0][0], sizeof val[0] / sizeof(float),
                                   1e-3) < 1e-6);
        CU_ASSERT(dbx_test_max_rel(&gin[k][0][0], &gin[0][0][0], sizeof gin[0] / sizeof(float),
                                   1e-3) < 1e-5);
        CU_ASSERT(dbx_test_max_rel(gw[k], gw[0], 3 * VA_DIM, 1e-3) < 1e-5);
    }
    dbx_model_free(m);
}

static void test_grad_sum_variable_arity(void)
{
    va_ctx c;
    dbx_model *m = va_model(&c);
    static float x[VA_SAMPLES * VA_IN * VA_DIM];
    va_inputs(x);
    int dims[VA_SAMPLES * VA_IN];
    for (int i = 0; i < VA_SAMPLES * VA_IN; i++) dims[i] = VA_DIM;
    static const char *const scheds[3] = {"agenda", "depth", "none"};
    for (int k = 0; k < 3; k++) {
        dbx_gc_spec s = {.m = m, .build = build_va, .ctx = &c, .inputs = x,
                         .ninput_vecs = VA_SAMPLES * VA_IN, .input_dims = dims,
                         .scheduler = scheds[k], .dedup = 1, .eps = 1e-2};
        dbx_gc_result r;
        int bad = dbx_gc_run(&s, 2e-3, 2e-2, &r);
        printf("\n  sum 1..4 args %-6s checked %4d failed %d worst %.2e %s", scheds[k],
               r.checked, r.failed, r.worst, r.where);
        CU_ASSERT(bad == 0);
        CU_ASSERT(r.checked == 3 * VA_DIM + VA_SAMPLES * VA_IN * VA_DIM);
    }
    dbx_model_free(m);
}

/* A wrong gradient must be caught: the checker compares against a deliberately perturbed
 * analytic value through a tolerance of zero width. */
static void test_gradcheck_detects_errors(void)
{
    dbx_model *m = NULL;
    op_ctx o = {.c = C_TANH};
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    dbx_model_add(m, "W", 6, 4, DBX_INIT_GLOROT, 0, &o.W);
    dbx_model_add(m, "W3", 3, 3, DBX_INIT_GLOROT, 0, &o.W3);
    dbx_model_add(m, "b", 6, 1, DBX_INIT_ZERO, 0, &o.b);
    dbx_model_add_lookup(m, "E", 5, 4, 0.5f, &o.E);
    dbx_model_add(m, "Wout", 3, 4, DBX_INIT_UNIFORM, 1.0f, &o.Wout);
    CU_ASSERT_FATAL(dbx_model_init(m, 1) == DBX_OK);
    float inputs[PER_SAMPLE * NSAMPLES];
    for (int i = 0; i < PER_SAMPLE * NSAMPLES; i++) inputs[i] = 0.1f * (float)(i % 7) - 0.3f;
    int dims[NIN * NSAMPLES];
    for (int i = 0; i < NIN * NSAMPLES; i++) dims[i] = in_dims[i % NIN];
    dbx_gc_spec s = {.m = m, .build = build, .ctx = &o, .inputs = inputs,
                     .ninput_vecs = NIN * NSAMPLES, .input_dims = dims,
                     .scheduler = "agenda", .dedup = 1, .eps = 1e-2};
    dbx_gc_result r;
    /* exact agreement is impossible with finite differences: the check must report it */
    CU_ASSERT(dbx_gc_run(&s, 0.0, 0.0, &r) != 0);
    CU_ASSERT(r.failed > 0);
    dbx_model_free(m);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_grad_affine), DBX_TEST(test_grad_matvec), DBX_TEST(test_grad_add),
        DBX_TEST(test_grad_cmult), DBX_TEST(test_grad_cmult_same_arg), DBX_TEST(test_grad_tanh),
        DBX_TEST(test_grad_sigmoid), DBX_TEST(test_grad_relu), DBX_TEST(test_grad_concat),
        DBX_TEST(test_grad_sum_repeated_arg), DBX_TEST(test_grad_slice),
        DBX_TEST(test_grad_lookup), DBX_TEST(test_grad_lstm_c_k0), DBX_TEST(test_grad_lstm_c_k1),
        DBX_TEST(test_grad_lstm_c_k2), DBX_TEST(test_grad_lstm_h_k0),
        DBX_TEST(test_grad_lstm_h_k2), DBX_TEST(test_grad_softmax_xent_input),
        DBX_TEST(test_sum_variable_arity_one_batch_equals_unbatched),
        DBX_TEST(test_grad_sum_variable_arity), DBX_TEST(test_gradcheck_detects_errors),
        DBX_TEST_END};
    return dbx_test_run("ops", tests);
}
