/* Finite-difference gradient checks for every op of the op table, each run batched (two
 * samples, so kernels see batch width 2 and the planner's offset lists) under the agenda
 * and depth schedulers and node by node. Gradients of parameters and of inputs are
 * checked. */
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
        DBX_TEST(test_gradcheck_detects_errors), DBX_TEST_END};
    return dbx_test_run("ops", tests);
}
