/* Finite-difference gradient checks (see gradcheck.h). Central differences of the float32
 * loss, accumulated in double. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double eval_loss(const dbx_gc_spec *s, dbx_exec *ex, dbx_graph *g)
{
    dbx_graph_clear(g);
    s->build(g, s->ctx, s->inputs, NULL);
    double loss = NAN;
    if (dbx_exec_forward(ex, g, &loss)) return NAN;
    return loss;
}

static void check_one(const dbx_gc_spec *s, dbx_exec *ex, dbx_graph *g, float *x, double analytic,
                      double atol, double rtol, const char *what, int idx, dbx_gc_result *r)
{
    double eps = s->eps > 0 ? s->eps : 1e-2;
    float x0 = *x;
    *x = (float)(x0 + eps);
    double lp = eval_loss(s, ex, g);
    *x = (float)(x0 - eps);
    double lm = eval_loss(s, ex, g);
    *x = x0;
    double num = (lp - lm) / (2 * eps);
    double diff = fabs(num - analytic), m = fmax(fabs(num), fabs(analytic));
    double rel = diff / fmax(m, 1e-2);
    r->checked++;
    if (!(diff <= atol + rtol * m)) r->failed++;
    if (!(rel <= r->worst)) {
        r->worst = rel;
        snprintf(r->where, sizeof r->where, "%s[%d]: analytic %.6g numeric %.6g", what, idx,
                 analytic, num);
    }
}

int dbx_gc_run(const dbx_gc_spec *s, double atol, double rtol, dbx_gc_result *r)
{
    memset(r, 0, sizeof *r);
    dbx_exec_opts eo = {.scheduler = s->scheduler};
    dbx_exec *ex = NULL;
    dbx_graph *g = NULL;
    if (dbx_exec_new(&eo, &ex) || dbx_graph_new(s->m, s->dedup, &g)) {
        r->failed = 1;
        snprintf(r->where, sizeof r->where, "setup: %s", dbx_last_error());
        dbx_exec_free(ex);
        return 1;
    }
    dbx_node in_nodes[64];
    dbx_model_zero_grads(s->m);
    dbx_graph_clear(g);
    s->build(g, s->ctx, s->inputs, in_nodes);
    double loss;
    if (dbx_exec_forward(ex, g, &loss) || dbx_exec_backward(ex, g, 1.0f)) {
        r->failed = 1;
        snprintf(r->where, sizeof r->where, "run: %s", dbx_last_error());
        goto out;
    }
    /* analytic input gradients, copied before the graph is rebuilt */
    int total_in = 0;
    for (int i = 0; i < s->ninput_vecs; i++) total_in += s->input_dims[i];
    float *gin = calloc((size_t)total_in + 1, sizeof *gin);
    for (int i = 0, at = 0; i < s->ninput_vecs; i++) {
        dbx_exec_grad(ex, g, in_nodes[i], gin + at);
        at += s->input_dims[i];
    }
    size_t nf = 0;
    for (int p = 0; p < dbx_model_num_params(s->m); p++) {
        int rows, cols;
        dbx_model_param_shape(s->m, p, &rows, &cols);
        size_t end = dbx_model_param_offset(s->m, p) + (size_t)rows * cols;
        if (end > nf) nf = end;
    }
    float *gp = malloc((nf + 1) * sizeof *gp);
    memcpy(gp, dbx_model_grads(s->m), nf * sizeof *gp);
    dbx_model_zero_grads(s->m);
    float *vals = dbx_model_values(s->m);
    for (int p = 0; p < dbx_model_num_params(s->m); p++) {
        int rows, cols;
        dbx_model_param_shape(s->m, p, &rows, &cols);
        int n = rows * cols, step = 1;
        if (s->max_checks > 0 && n > s->max_checks) step = (n + s->max_checks - 1) / s->max_checks;
        size_t off = dbx_model_param_offset(s->m, p);
        for (int k = 0; k < n; k += step)
            check_one(s, ex, g, vals + off + k, gp[off + k], atol, rtol,
                      dbx_model_param_name(s->m, p), k, r);
    }
    for (int i = 0, at = 0; i < s->ninput_vecs; i++) {
        int n = s->input_dims[i], step = 1;
        if (s->max_checks > 0 && n > s->max_checks) step = (n + s->max_checks - 1) / s->max_checks;
        for (int k = 0; k < n; k += step)
            check_one(s, ex, g, s->inputs + at + k, gin[at + k], atol, rtol, "input", at + k, r);
        at += n;
    }
    free(gp);
    free(gin);
out:
    dbx_graph_free(g);
    dbx_exec_free(ex);
    return r->failed != 0;
}
