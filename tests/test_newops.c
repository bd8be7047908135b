/* The ops beyond the core set (include/dbx/dbx.h, "more ops"): for each, a finite-difference
 * gradient check under the agenda, depth and node-by-node schedulers; batched execution
 * equal to node-by-node execution (loss, every parameter gradient and every input gradient,
 * with and without deduplication); and the edge cases: width-1 vectors, a list of one child,
 * log of small values, dropout with p = 0 and p close to 1, dropout off in evaluation graphs
 * and reproducible from the random stream's key. Also: every op of the op table has kernels
 * on every backend built into this program. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/dbx.h"
#include "gradcheck.h"
#include "kernels/backend.h"
#include "testutil.h"

/* per-sample inputs: x0..x6 of dim 4, x7 of dim 3, x8 and x9 of dim 1 */
#define NIN 10
static const int in_dims[NIN] = {4, 4, 4, 4, 4, 4, 4, 3, 1, 1};
#define PER_SAMPLE 33
#define NSAMPLES 3

enum nc {
    N_SUB, N_SCALE, N_EXP, N_LOG, N_DOT, N_SUM_ELEMS, N_SOFTMAX, N_LOG_SOFTMAX, N_PICK, N_MAX,
    N_MEAN, N_DROPOUT, N_LAYER_NORM, N_PARAM, N_MAT_VEC, N_MAT_T_VEC, N_ATTENTION, N_NLL,
    N_LOGISTIC, N_SQ_ERR, N_HINGE, N_CONST, N_LOSS, N_WIDTH1, N_COUNT
};
static const char *const nc_names[N_COUNT] = {
    "sub", "scale_shift", "exp", "log", "dot", "sum_elems", "softmax", "log_softmax", "pick",
    "max", "average", "dropout", "layer_norm", "parameter", "mat_vec", "mat_t_vec",
    "attention", "nll", "logistic_loss", "squared_error", "hinge", "constant", "loss",
    "width-1"};

typedef struct nctx {
    enum nc c;
    dbx_param Wout, gain, bias, P, g1, b1;
    float p;                       /* dropout rate */
} nctx;

/* the output size the case scores through Wout (0: the case builds its own loss) */
static int out_dim(enum nc c)
{
    switch (c) {
    case N_DOT:
    case N_SUM_ELEMS:
    case N_PICK:
    case N_WIDTH1: return 1;
    case N_MAT_T_VEC: return 3;
    case N_NLL:
    case N_LOGISTIC:
    case N_SQ_ERR:
    case N_HINGE:
    case N_LOSS: return 0;
    default: return 4;
    }
}

static void build(dbx_graph *g, void *vctx, const float *inputs, dbx_node *in_nodes)
{
    nctx *o = vctx;
    dbx_graph_set_rng(g, 2024); /* the same masks at every rebuild */
    for (int s = 0; s < NSAMPLES; s++) {
        dbx_graph_begin_sample(g);
        dbx_node x[NIN];
        const float *p = inputs + s * PER_SAMPLE;
        for (int i = 0; i < NIN; i++) {
            x[i] = dbx_input(g, in_dims[i], p);
            if (in_nodes) in_nodes[s * NIN + i] = x[i];
            p += in_dims[i];
        }
        dbx_node y = DBX_NONE, M = DBX_NONE;
        const dbx_node list[3] = {x[1], x[0], x[5]};
        switch (o->c) {
        case N_SUB: y = dbx_sub(g, x[0], x[1]); break;
        case N_SCALE: y = dbx_scale_shift(g, x[0], -1.7f, 0.4f); break;
        case N_EXP: y = dbx_exp(g, x[0]); break;
        case N_LOG: y = dbx_log(g, dbx_sigmoid(g, x[0])); break;
        case N_DOT: y = dbx_dot(g, x[0], x[1]); break;
        case N_SUM_ELEMS: y = dbx_sum_elems(g, x[0]); break;
        case N_SOFTMAX: y = dbx_softmax(g, x[0]); break;
        case N_LOG_SOFTMAX: y = dbx_log_softmax(g, x[0]); break;
        case N_PICK: y = dbx_pick(g, x[0], s % 4); break;
        case N_MAX: y = dbx_max(g, 1 + s % 3, list); break;  /* 1, 2, 3 children: one batch */
        case N_MEAN: y = dbx_average(g, 1 + s % 3, list); break;
        case N_DROPOUT: y = dbx_dropout(g, x[0], o->p); break;
        case N_LAYER_NORM: y = dbx_layer_norm(g, x[0], o->gain, o->bias); break;
        case N_PARAM: y = dbx_cmult(g, x[0], dbx_parameter(g, o->P)); break;
        case N_MAT_VEC:
        case N_MAT_T_VEC:
        case N_ATTENTION: {
            const dbx_node cols[3] = {x[0], x[1], x[5]};
            M = dbx_concat(g, 3, cols);                    /* (4, 3) */
            if (o->c == N_MAT_VEC) y = dbx_mat_vec(g, M, x[7]);
            else if (o->c == N_MAT_T_VEC) y = dbx_mat_t_vec(g, M, x[6]);
            else /* attention: weights over M's columns from a query, then their mix */
                y = dbx_mat_vec(g, M, dbx_softmax(g, dbx_mat_t_vec(g, M, x[6])));
            break;
        }
        case N_NLL: dbx_nll(g, dbx_log_softmax(g, x[0]), s % 4); break;
        case N_LOGISTIC: dbx_logistic_loss(g, dbx_dot(g, x[0], x[1]), s % 2); break;
        case N_SQ_ERR: dbx_squared_error(g, x[0], x[1]); break;
        case N_HINGE: dbx_hinge(g, x[0], s % 4, 1.0f); break;
        case N_LOSS: /* a weighted auxiliary loss beside a softmax loss */
            dbx_loss(g, dbx_dot(g, x[0], x[1]), 0.7f);
            dbx_softmax_xent(g, x[2], s % 4);
            break;
        case N_CONST: y = dbx_cmult(g, x[0], dbx_add(g, x[1], dbx_constant(g, 4, 0.5f))); break;
        case N_WIDTH1: { /* every op on vectors of one element */
            const dbx_node l2[2] = {x[8], x[9]};
            dbx_node t[8] = {dbx_exp(g, x[8]), dbx_log(g, dbx_sigmoid(g, x[9])),
                             dbx_softmax(g, x[8]), dbx_log_softmax(g, x[9]),
                             dbx_max(g, 2, l2), dbx_average(g, 1, l2),
                             dbx_layer_norm(g, x[8], o->g1, o->b1),
                             dbx_mat_vec(g, x[8], x[9])};
            y = dbx_sum(g, 8, t);
            dbx_squared_error(g, x[8], x[9]);
            dbx_hinge(g, x[9], 0, 1.0f);
            break;
        }
        case N_COUNT: break;
        }
        if (out_dim(o->c)) dbx_softmax_xent(g, dbx_matvec(g, o->Wout, y), s % 3);
    }
}

static dbx_model *model(nctx *o)
{
    dbx_model *m = NULL;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    int od = out_dim(o->c) ? out_dim(o->c) : 1;
    CU_ASSERT_FATAL(dbx_model_add(m, "Wout", 3, od, DBX_INIT_UNIFORM, 1.0f, &o->Wout) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "gain", 4, 1, DBX_INIT_UNIFORM, 1.0f, &o->gain) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "bias", 4, 1, DBX_INIT_UNIFORM, 0.5f, &o->bias) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "P", 4, 1, DBX_INIT_UNIFORM, 1.0f, &o->P) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "g1", 1, 1, DBX_INIT_UNIFORM, 1.0f, &o->g1) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "b1", 1, 1, DBX_INIT_UNIFORM, 1.0f, &o->b1) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 42) == DBX_OK);
    return m;
}

/* inputs in [-1.5, 1.5), distinct enough that max, relu-like kinks and hinge margins are
   away from ties at the finite-difference step */
static void fill_inputs(float *inputs, enum nc c)
{
    uint64_t st = 777 + (uint64_t)c;
    for (int i = 0; i < PER_SAMPLE * NSAMPLES; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        float u = (float)((st >> 40) & 0xffffff) / (float)0x1000000;
        inputs[i] = 3.0f * u - 1.5f;
    }
}

static void run_gradcheck(enum nc c, float p)
{
    nctx o = {.c = c, .p = p};
    dbx_model *m = model(&o);
    float inputs[PER_SAMPLE * NSAMPLES];
    int dims[NIN * NSAMPLES];
    for (int i = 0; i < NIN * NSAMPLES; i++) dims[i] = in_dims[i % NIN];
    fill_inputs(inputs, c);
    static const char *const scheds[3] = {"agenda", "depth", "none"};
    for (int k = 0; k < 3; k++) {
        dbx_gc_spec s = {.m = m, .build = build, .ctx = &o, .inputs = inputs,
                         .ninput_vecs = NIN * NSAMPLES, .input_dims = dims,
                         .scheduler = scheds[k], .dedup = 1, .eps = 1e-2};
        dbx_gc_result r;
        int bad = dbx_gc_run(&s, 2e-3, 2e-2, &r);
        if (bad || k == 0)
            printf("\n  %-13s %-6s checked %4d failed %d worst %.2e %s", nc_names[c], scheds[k],
                   r.checked, r.failed, r.worst, r.where);
        CU_ASSERT(bad == 0);
        CU_ASSERT(r.checked > 0);
    }
    dbx_model_free(m);
}

/* Loss, every parameter gradient and every input gradient under depth and agenda, with and
   without deduplication, equal those of node-by-node execution. */
static void run_batched_equals_unbatched(enum nc c)
{
    nctx o = {.c = c, .p = 0.4f};
    dbx_model *m = model(&o);
    float inputs[PER_SAMPLE * NSAMPLES];
    fill_inputs(inputs, c);
    const size_t nf = dbx_model_num_floats(m);
    float *gw[3], gin[3][NIN * NSAMPLES][4];
    double loss[3];
    for (int dedup = 0; dedup < 2; dedup++) {
        static const char *const scheds[3] = {"none", "depth", "agenda"};
        for (int k = 0; k < 3; k++) {
            dbx_exec_opts eo = {.scheduler = scheds[k]};
            dbx_exec *ex = NULL;
            dbx_graph *g = NULL;
            dbx_node in[NIN * NSAMPLES];
            CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
            CU_ASSERT_FATAL(dbx_graph_new(m, dedup, &g) == DBX_OK);
            build(g, &o, inputs, in);
            CU_ASSERT_FATAL(dbx_graph_status(g) == DBX_OK);
            CU_ASSERT_FATAL(dbx_exec_forward(ex, g, &loss[k]) == DBX_OK);
            CU_ASSERT_FATAL(dbx_exec_backward(ex, g, 1.0f) == DBX_OK);
            if (k > 0) /* batched: fewer kernels than nodes */
                CU_ASSERT(dbx_exec_last_stats(ex)->batches < dbx_exec_last_stats(ex)->nodes);
            memset(gin[k], 0, sizeof gin[k]);
            for (int i = 0; i < NIN * NSAMPLES; i++)
                CU_ASSERT(dbx_exec_grad(ex, g, in[i], gin[k][i]) == DBX_OK);
            gw[k] = malloc(nf * sizeof(float));
            memcpy(gw[k], dbx_model_grads(m), nf * sizeof(float));
            dbx_model_zero_grads(m);
            dbx_graph_free(g);
            dbx_exec_free(ex);
        }
        for (int k = 1; k < 3; k++) {
            CU_ASSERT(isfinite(loss[k]));
            CU_ASSERT(dbx_test_close(loss[k], loss[0], 1e-7, 1e-6));
            double dg = dbx_test_max_rel(gw[k], gw[0], nf, 1e-3);
            double di = dbx_test_max_rel(&gin[k][0][0], &gin[0][0][0],
                                         sizeof gin[0] / sizeof(float), 1e-3);
            if (dg >= 1e-5 || di >= 1e-5)
                printf("\n  %s dedup %d k %d: params %.2e inputs %.2e", nc_names[c], dedup, k,
                       dg, di);
            CU_ASSERT(dg < 1e-5);
            CU_ASSERT(di < 1e-5);
        }
        for (int k = 0; k < 3; k++) free(gw[k]);
    }
    dbx_model_free(m);
}

static void test_gradcheck_every_new_op(void)
{
    for (int c = 0; c < N_COUNT; c++) run_gradcheck((enum nc)c, 0.3f);
}

static void test_batched_equals_unbatched_every_new_op(void)
{
    for (int c = 0; c < N_COUNT; c++) run_batched_equals_unbatched((enum nc)c);
}

/* ---- values against hand-computed ones ------------------------------------------------------ */
/* Runs the forward pass of g on the CPU (agenda) and returns the executor. */
static dbx_exec *forward(dbx_graph *g, double *loss)
{
    dbx_exec_opts eo = {.scheduler = "agenda"};
    dbx_exec *ex = NULL;
    CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
    CU_ASSERT_FATAL(dbx_graph_status(g) == DBX_OK);
    CU_ASSERT_FATAL(dbx_exec_forward(ex, g, loss) == DBX_OK);
    return ex;
}

static void test_values(void)
{
    dbx_model *m = NULL;
    dbx_param gain, bias, ones;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "gain", 3, 1, DBX_INIT_ZERO, 0, &gain) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "bias", 3, 1, DBX_INIT_ZERO, 0, &bias) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "ones", 2, 2, DBX_INIT_CONSTANT, 1.5f, &ones) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 1) == DBX_OK);
    float *pv = dbx_model_values(m);
    for (int i = 0; i < 4; i++) /* a constant initialiser */
        CU_ASSERT(pv[dbx_model_param_offset(m, ones) + (size_t)i] == 1.5f);
    const float gv[3] = {1, 2, 3}, bv[3] = {0.5f, 0, -0.5f};
    memcpy(pv + dbx_model_param_offset(m, gain), gv, sizeof gv);
    memcpy(pv + dbx_model_param_offset(m, bias), bv, sizeof bv);
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(m, 1, &g) == DBX_OK);
    const float a[3] = {1, 2, 3}, b[3] = {4, -1, 0.5f}, m6[6] = {1, 2, 3, 4, 5, 6};
    const float small[2] = {1e-30f, 1e-6f};
    dbx_node xa = dbx_input(g, 3, a), xb = dbx_input(g, 3, b), xm = dbx_input(g, 6, m6);
    dbx_node xs = dbx_input(g, 2, small);
    const dbx_node ab[2] = {xa, xb};
    dbx_node n_sub = dbx_sub(g, xa, xb), n_ss = dbx_scale_shift(g, xa, 2, -1);
    dbx_node n_dot = dbx_dot(g, xa, xb), n_se = dbx_sum_elems(g, xb), n_pick = dbx_pick(g, xb, 1);
    dbx_node n_max = dbx_max(g, 2, ab), n_avg = dbx_average(g, 2, ab), n_one = dbx_max(g, 1, ab);
    dbx_node n_sm = dbx_softmax(g, xa), n_lsm = dbx_log_softmax(g, xa), n_log = dbx_log(g, xs);
    dbx_node n_ln = dbx_layer_norm(g, xa, gain, bias);
    dbx_node n_mv = dbx_mat_vec(g, xm, xa);   /* (2, 3) matrix: columns (1,2) (3,4) (5,6) */
    dbx_node n_mtv = dbx_mat_t_vec(g, xm, dbx_slice(g, xb, 0, 2));
    dbx_node n_c = dbx_constant(g, 3, 2.5f);
    dbx_nll(g, n_lsm, 2);
    dbx_squared_error(g, xa, xb);
    dbx_hinge(g, xb, 0, 1.0f);
    dbx_logistic_loss(g, n_pick, 0);
    dbx_loss(g, n_dot, -2.0f);
    double loss;
    dbx_exec *ex = forward(g, &loss);
    float v[6];
#define VAL(node, i) (dbx_exec_value(ex, g, node, v) == DBX_OK ? v[i] : NAN)
    CU_ASSERT(VAL(n_sub, 0) == -3.0f && v[1] == 3.0f && v[2] == 2.5f);
    CU_ASSERT(VAL(n_ss, 0) == 1.0f && v[2] == 5.0f);
    CU_ASSERT(dbx_test_close(VAL(n_dot, 0), 4 - 2 + 1.5, 0, 1e-6));
    CU_ASSERT(dbx_test_close(VAL(n_se, 0), 3.5, 0, 1e-6));
    CU_ASSERT(VAL(n_pick, 0) == -1.0f);
    CU_ASSERT(VAL(n_max, 0) == 4.0f && v[1] == 2.0f && v[2] == 3.0f);
    CU_ASSERT(VAL(n_avg, 0) == 2.5f && v[1] == 0.5f && v[2] == 1.75f);
    CU_ASSERT(VAL(n_one, 0) == 1.0f && v[1] == 2.0f && v[2] == 3.0f); /* a list of one */
    const double z = exp(1.0) + exp(2.0) + exp(3.0);
    CU_ASSERT(dbx_test_close(VAL(n_sm, 2), exp(3.0) / z, 0, 1e-6));
    CU_ASSERT(dbx_test_close(VAL(n_lsm, 0), 1 - log(z), 0, 1e-6));
    CU_ASSERT(dbx_test_close(VAL(n_log, 0), log(1e-30), 0, 1e-6)); /* log of small values */
    CU_ASSERT(dbx_test_close(v[1], log(1e-6), 0, 1e-6));
    /* x = (1, 2, 3): mean 2, var 2/3: normalised (-1, 0, 1) / sqrt(2/3 + 1e-5) */
    const double r = 1.0 / sqrt(2.0 / 3.0 + 1e-5);
    CU_ASSERT(dbx_test_close(VAL(n_ln, 0), 1 * -r + 0.5, 1e-6, 1e-6));
    CU_ASSERT(dbx_test_close(v[1], 0.0, 1e-6, 0) && dbx_test_close(v[2], 3 * r - 0.5, 1e-6, 1e-6));
    CU_ASSERT(VAL(n_mv, 0) == 1 * 1 + 3 * 2 + 5 * 3 && v[1] == 2 * 1 + 4 * 2 + 6 * 3);
    CU_ASSERT(VAL(n_mtv, 0) == 1 * 4 - 2 && v[1] == 3 * 4 - 4 && v[2] == 5 * 4 - 6);
    CU_ASSERT(VAL(n_c, 0) == 2.5f && v[2] == 2.5f);
#undef VAL
    /* losses: nll 3 - log z... = -(3 - log z); squared (9 + 9 + 6.25); hinge over labels != 0
       with x = (4, -1, 0.5): max(0, 1 - 4 - 1) + max(0, 1 - 4 + 0.5) = 0; logistic of -1
       with label 0: ln(1 + e^-1); the dot product 3.5 weighted by -2 */
    const double want = -(3 - log(z)) + 24.25 + 0 + log1p(exp(-1.0)) - 2.0 * 3.5;
    CU_ASSERT(dbx_test_close(loss, want, 1e-6, 1e-6));
    /* the gradient of log at 1e-6 is 1e6 */
    CU_ASSERT_FATAL(dbx_exec_backward(ex, g, 1.0f) == DBX_OK);
    dbx_exec_free(ex);
    dbx_graph_free(g);
    dbx_model_free(m);
}

/* log of small values: value and gradient 1/x stay finite down to 1e-30 */
static void test_log_small_values_gradient(void)
{
    dbx_model *m = NULL;
    dbx_param W;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "W", 1, 3, DBX_INIT_ZERO, 0, &W) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 1) == DBX_OK);
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(m, 1, &g) == DBX_OK);
    const float x[3] = {1e-30f, 1e-6f, 1e-3f};
    dbx_node in = dbx_input(g, 3, x);
    dbx_node s = dbx_sum_elems(g, dbx_log(g, in));
    dbx_squared_error(g, s, dbx_constant(g, 1, 0.0f));
    double loss;
    dbx_exec *ex = forward(g, &loss);
    CU_ASSERT_FATAL(dbx_exec_backward(ex, g, 1.0f) == DBX_OK);
    float v, d[3];
    CU_ASSERT(dbx_exec_value(ex, g, s, &v) == DBX_OK);
    const double sv = log(1e-30) + log(1e-6) + log(1e-3);
    CU_ASSERT(dbx_test_close(v, sv, 0, 1e-6));
    CU_ASSERT(dbx_exec_grad(ex, g, in, d) == DBX_OK);
    for (int i = 0; i < 3; i++) { /* d loss / d x_i = 2 s / x_i */
        CU_ASSERT(isfinite(d[i]));
        CU_ASSERT(dbx_test_close(d[i], 2 * sv / x[i], 0, 1e-5));
    }
    dbx_exec_free(ex);
    dbx_graph_free(g);
    dbx_model_free(m);
}

/* ---- dropout ------------------------------------------------------------------------------ */
/* The values of dropout(x, p) over D elements of ones, for rng key `key`, training or not. */
static void dropout_values(dbx_model *m, float p, uint64_t key, int training, int dedup, int D,
                           float *out)
{
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(m, dedup, &g) == DBX_OK);
    dbx_graph_set_training(g, training);
    dbx_graph_set_rng(g, key);
    float *ones = malloc((size_t)D * sizeof *ones);
    for (int i = 0; i < D; i++) ones[i] = 1.0f;
    dbx_graph_begin_sample(g);
    dbx_node x = dbx_input(g, D, ones);
    dbx_node y = dbx_dropout(g, x, p);
    CU_ASSERT(training ? y != x : y == x); /* evaluation: the identity, no node */
    dbx_node y2 = dbx_dropout(g, x, p); /* a second draw: another mask */
    dbx_squared_error(g, y, y2);
    double loss;
    dbx_exec *ex = forward(g, &loss);
    CU_ASSERT(dbx_exec_value(ex, g, y, out) == DBX_OK);
    if (training && p > 0 && D > 100) /* two masks of one stream differ */
        CU_ASSERT(loss > 0);
    dbx_exec_free(ex);
    dbx_graph_free(g);
    free(ones);
}

static void test_dropout(void)
{
    dbx_model *m = NULL;
    dbx_param W;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "W", 1, 1, DBX_INIT_ZERO, 0, &W) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 1) == DBX_OK);
    enum { D = 20000 };
    static float a[D], b[D];
    static const float rates[4] = {0.0f, 0.3f, 0.5f, 0.99f};
    for (int r = 0; r < 4; r++) {
        const float p = rates[r];
        dropout_values(m, p, 11, 1, 1, D, a);
        int kept = 0, wrong = 0;
        for (int i = 0; i < D; i++) {
            if (a[i] != 0.0f) kept++;
            if (a[i] != 0.0f && !dbx_test_close(a[i], 1.0 / (1.0 - p), 0, 1e-6)) wrong++;
        }
        const double keep = (double)kept / D, sd = sqrt((1 - p) * p / D);
        printf("\n  dropout p %.2f: kept %.4f (expected %.4f)", p, keep, 1 - p);
        CU_ASSERT(wrong == 0);                          /* kept values scaled by 1/(1-p) */
        CU_ASSERT(fabs(keep - (1 - p)) <= 5 * sd + 1e-12); /* p = 0 keeps everything */
        dropout_values(m, p, 11, 1, 0, D, b);           /* same key, no dedup: same mask */
        CU_ASSERT(memcmp(a, b, sizeof a) == 0);
        dropout_values(m, p, 12, 1, 1, D, b);           /* another key: another mask */
        CU_ASSERT(p == 0.0f ? memcmp(a, b, sizeof a) == 0 : memcmp(a, b, sizeof a) != 0);
        dropout_values(m, p, 11, 0, 1, D, b);           /* evaluation: the input itself */
        for (int i = 0; i < D; i++) CU_ASSERT_FATAL(b[i] == 1.0f);
    }
    dbx_model_free(m);
}

/* Bad arguments are builder errors, not crashes. */
static void test_builder_errors(void)
{
    dbx_model *m = NULL;
    dbx_param W, L;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "W", 3, 2, DBX_INIT_ZERO, 0, &W) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add_lookup(m, "L", 3, 2, 0.1f, &L) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 1) == DBX_OK);
    const float x4[4] = {0}, x3[3] = {0};
    for (int k = 0; k < 13; k++) {
        dbx_graph *g = NULL;
        CU_ASSERT_FATAL(dbx_graph_new(m, 1, &g) == DBX_OK);
        dbx_node a = dbx_input(g, 4, x4), b = dbx_input(g, 3, x3);
        const dbx_node ab[2] = {a, b};
        dbx_node r = DBX_NONE;
        switch (k) {
        case 0: r = dbx_sub(g, a, b); break;
        case 1: r = dbx_dot(g, a, b); break;
        case 2: r = dbx_pick(g, a, 4); break;
        case 3: r = dbx_max(g, 2, ab); break;
        case 4: r = dbx_average(g, 0, ab); break;
        case 5: r = dbx_dropout(g, a, 1.0f); break;
        case 6: r = dbx_layer_norm(g, a, W, W); break;
        case 7: r = dbx_parameter(g, L); break;
        case 8: r = dbx_mat_vec(g, a, b); break;
        case 9: r = dbx_logistic_loss(g, a, 0); break;
        case 10: r = dbx_hinge(g, a, -1, 1.0f); break;
        case 11: r = dbx_constant(g, 0, 1.0f); break;
        case 12: r = dbx_loss(g, a, 1.0f); break;
        }
        CU_ASSERT(r == DBX_NONE);
        CU_ASSERT(dbx_graph_status(g) == DBX_EINVAL);
        dbx_graph_free(g);
    }
    dbx_model_free(m);
}

/* Every op of the op table has a forward and a backward kernel on every backend built in. */
static void test_every_op_has_kernels(void)
{
    const char *cpu = dbx__backend_missing_kernel("cpu");
    CU_ASSERT(cpu == NULL);
    if (cpu) printf("\n  the cpu backend lacks op %s", cpu);
    if (dbx__backend_has_cuda()) {
        const char *cuda = dbx__backend_missing_kernel("cuda");
        CU_ASSERT(cuda == NULL);
        if (cuda) printf("\n  the cuda backend lacks op %s", cuda);
    } else {
        printf("\n  (CUDA backend not linked into this program: its table is checked where "
               "it is)");
    }
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_every_op_has_kernels), DBX_TEST(test_values),
        DBX_TEST(test_log_small_values_gradient), DBX_TEST(test_dropout),
        DBX_TEST(test_builder_errors), DBX_TEST(test_gradcheck_every_new_op),
        DBX_TEST(test_batched_equals_unbatched_every_new_op), DBX_TEST_END};
    return dbx_test_run("newops", tests);
}
