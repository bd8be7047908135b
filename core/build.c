/* Builder calls of the ops beyond the core set (include/dbx/dbx.h, "more ops"): each checks
 * its arguments, then describes the node to dbx__graph_add. What an op shares with its batch
 * (floats, parameters) goes into the node's signature as extra items (core/ops.h). Not
 * thread-safe (one graph per thread). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/graph.h"
#include "core/model.h"
#include "core/rng.h"

static int32_t fbits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

dbx_node dbx_sub(dbx_graph *g, dbx_node a, dbx_node b)
{
    return dbx__graph_binary(g, DBX_OP_SUB, a, b);
}

dbx_node dbx_scale_shift(dbx_graph *g, dbx_node x, float a, float b)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    int32_t extra[2] = {fbits(a), fbits(b)};
    node_spec sp = {.op = DBX_OP_SCALE, .dim = g->nodes[x].dim, .nargs = 1, .args = &x,
                    .extra = extra, .nextra = 2};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_scale(dbx_graph *g, dbx_node x, float a) { return dbx_scale_shift(g, x, a, 0.0f); }
dbx_node dbx_shift(dbx_graph *g, dbx_node x, float b) { return dbx_scale_shift(g, x, 1.0f, b); }
dbx_node dbx_exp(dbx_graph *g, dbx_node x) { return dbx__graph_unary(g, DBX_OP_EXP, x); }
dbx_node dbx_log(dbx_graph *g, dbx_node x) { return dbx__graph_unary(g, DBX_OP_LOG, x); }
dbx_node dbx_softmax(dbx_graph *g, dbx_node x) { return dbx__graph_unary(g, DBX_OP_SOFTMAX, x); }
dbx_node dbx_log_softmax(dbx_graph *g, dbx_node x)
{
    return dbx__graph_unary(g, DBX_OP_LOG_SOFTMAX, x);
}

/* A scalar node of op over arguments xs[0..n) (checked), with per-node integer attr. */
static dbx_node scalar_of(dbx_graph *g, enum dbx_op op, int n, const dbx_node *xs, int32_t attr)
{
    node_spec sp = {.op = op, .dim = 1, .nargs = n, .args = xs, .attr = attr};
    return dbx__graph_add(g, &sp);
}

/* A scalar node of op over two nodes of one dim (err: the message when they differ). */
static dbx_node scalar_of_pair(dbx_graph *g, enum dbx_op op, dbx_node a, dbx_node b,
                               const char *err)
{
    dbx_node ab[2] = {a, b};
    if (!dbx__graph_check_args(g, 2, ab)) return DBX_NONE;
    if (g->nodes[a].dim != g->nodes[b].dim) return dbx__graph_bad(g, DBX_EINVAL, err);
    return scalar_of(g, op, 2, ab, 0);
}

dbx_node dbx_dot(dbx_graph *g, dbx_node a, dbx_node b)
{
    return scalar_of_pair(g, DBX_OP_DOT, a, b, "dot: argument sizes differ");
}

dbx_node dbx_sum_elems(dbx_graph *g, dbx_node x)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    return scalar_of(g, DBX_OP_SUM_ELEMS, 1, &x, 0);
}

dbx_node dbx_pick(dbx_graph *g, dbx_node x, int index)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    if (index < 0 || index >= g->nodes[x].dim)
        return dbx__graph_bad(g, DBX_EINVAL, "pick: index out of range");
    return scalar_of(g, DBX_OP_PICK, 1, &x, index);
}

/* max / average: n >= 1 arguments of one dim; nodes of any n share a batch (vary column) */
static dbx_node list_op(dbx_graph *g, enum dbx_op op, const char *what, int n,
                        const dbx_node *xs)
{
    if (g->err) return DBX_NONE;
    char msg[64];
    if (n <= 0 || n > DBX__MAX_ARGS) {
        snprintf(msg, sizeof msg, "%s: need 1..255 arguments", what);
        return dbx__graph_bad(g, DBX_EINVAL, msg);
    }
    if (!dbx__graph_check_args(g, n, xs)) return DBX_NONE;
    for (int i = 1; i < n; i++)
        if (g->nodes[xs[i]].dim != g->nodes[xs[0]].dim) {
            snprintf(msg, sizeof msg, "%s: argument sizes differ", what);
            return dbx__graph_bad(g, DBX_EINVAL, msg);
        }
    node_spec sp = {.op = op, .dim = g->nodes[xs[0]].dim, .nargs = n, .args = xs};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_max(dbx_graph *g, int n, const dbx_node *xs)
{
    return list_op(g, DBX_OP_MAX, "max", n, xs);
}

dbx_node dbx_average(dbx_graph *g, int n, const dbx_node *xs)
{
    return list_op(g, DBX_OP_MEAN, "average", n, xs);
}

dbx_node dbx_dropout(dbx_graph *g, dbx_node x, float p)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    if (!(p >= 0.0f && p < 1.0f)) return dbx__graph_bad(g, DBX_EINVAL, "dropout: need 0 <= p < 1");
    if (!g->training) return x;
    const uint64_t k = dbx__splitmix64(&g->rng_stream); /* the node's mask key: the next draw */
    int32_t extra[1] = {fbits(p)};
    node_spec sp = {.op = DBX_OP_DROPOUT, .dim = g->nodes[x].dim, .nargs = 1, .args = &x,
                    .attr = (int32_t)(uint32_t)k, .extra = extra, .nextra = 1};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_parameter(dbx_graph *g, dbx_param p)
{
    if (g->err) return DBX_NONE;
    if (!dbx__graph_valid_param(g, p) || g->m->params[p].lookup)
        return dbx__graph_bad(g, DBX_EINVAL, "parameter: not a dense parameter");
    const dbx__param *q = &g->m->params[p];
    int32_t extra[1] = {p};
    node_spec sp = {.op = DBX_OP_PARAM, .dim = q->rows * q->cols, .attr = 0, .aux = p,
                    .extra = extra, .nextra = 1};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_layer_norm(dbx_graph *g, dbx_node x, dbx_param gain, dbx_param bias)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    const int D = g->nodes[x].dim;
    for (int i = 0; i < 2; i++) {
        dbx_param p = i ? bias : gain;
        if (!dbx__graph_valid_param(g, p) || g->m->params[p].lookup ||
            g->m->params[p].rows != D || g->m->params[p].cols != 1)
            return dbx__graph_bad(g, DBX_EINVAL,
                                  "layer_norm: gain and bias must be dense (dim(x), 1) parameters");
    }
    dbx_node args[3] = {x, dbx_parameter(g, gain), dbx_parameter(g, bias)};
    if (g->err) return DBX_NONE;
    node_spec sp = {.op = DBX_OP_LAYER_NORM, .dim = D, .nargs = 3, .args = args};
    return dbx__graph_add(g, &sp);
}

/* M (rows * cols) times a vector v: out dim = dim(M) / dim(v) */
static dbx_node mat_op(dbx_graph *g, enum dbx_op op, dbx_node M, dbx_node v, const char *err)
{
    dbx_node args[2] = {M, v};
    if (!dbx__graph_check_args(g, 2, args)) return DBX_NONE;
    const int dm = g->nodes[M].dim, dv = g->nodes[v].dim;
    if (dm % dv != 0) return dbx__graph_bad(g, DBX_EINVAL, err);
    node_spec sp = {.op = op, .dim = dm / dv, .nargs = 2, .args = args};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_mat_vec(dbx_graph *g, dbx_node M, dbx_node x)
{
    return mat_op(g, DBX_OP_MAT_VEC, M, x, "mat_vec: dim(M) is not a multiple of dim(x)");
}

dbx_node dbx_mat_t_vec(dbx_graph *g, dbx_node M, dbx_node y)
{
    return mat_op(g, DBX_OP_MAT_T_VEC, M, y, "mat_t_vec: dim(M) is not a multiple of dim(y)");
}

dbx_node dbx_constant(dbx_graph *g, int dim, float value)
{
    if (g->err) return DBX_NONE;
    if (dim <= 0) return dbx__graph_bad(g, DBX_EINVAL, "constant: dim must be > 0");
    int32_t extra[1] = {fbits(value)};
    node_spec sp = {.op = DBX_OP_CONST, .dim = dim, .extra = extra, .nextra = 1};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_nll(dbx_graph *g, dbx_node logp, int label)
{
    if (!dbx__graph_check_args(g, 1, &logp)) return DBX_NONE;
    if (label < 0 || label >= g->nodes[logp].dim)
        return dbx__graph_bad(g, DBX_EINVAL, "nll: label out of range");
    return scalar_of(g, DBX_OP_NLL, 1, &logp, label);
}

dbx_node dbx_logistic_loss(dbx_graph *g, dbx_node s, int label)
{
    if (!dbx__graph_check_args(g, 1, &s)) return DBX_NONE;
    if (g->nodes[s].dim != 1)
        return dbx__graph_bad(g, DBX_EINVAL, "logistic_loss: the score must have dim 1");
    if (label != 0 && label != 1)
        return dbx__graph_bad(g, DBX_EINVAL, "logistic_loss: label must be 0 or 1");
    return scalar_of(g, DBX_OP_LOGISTIC, 1, &s, label);
}

dbx_node dbx_squared_error(dbx_graph *g, dbx_node a, dbx_node b)
{
    return scalar_of_pair(g, DBX_OP_SQ_ERR, a, b, "squared_error: argument sizes differ");
}

dbx_node dbx_hinge(dbx_graph *g, dbx_node x, int label, float margin)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    if (label < 0 || label >= g->nodes[x].dim)
        return dbx__graph_bad(g, DBX_EINVAL, "hinge: label out of range");
    int32_t extra[1] = {fbits(margin)};
    node_spec sp = {.op = DBX_OP_HINGE, .dim = 1, .nargs = 1, .args = &x, .attr = label,
                    .extra = extra, .nextra = 1};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_loss(dbx_graph *g, dbx_node x, float weight)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    if (g->nodes[x].dim != 1) return dbx__graph_bad(g, DBX_EINVAL, "loss: x must have dim 1");
    if (!isfinite(weight)) return dbx__graph_bad(g, DBX_EINVAL, "loss: the weight must be finite");
    int32_t extra[1] = {fbits(weight)};
    node_spec sp = {.op = DBX_OP_LOSS, .dim = 1, .nargs = 1, .args = &x, .extra = extra,
                    .nextra = 1};
    return dbx__graph_add(g, &sp);
}
