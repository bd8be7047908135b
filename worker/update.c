/* The optimizer step of a worker (worker/worker.h: dbx__worker_update): after the gradient
 * all-reduce every rank holds the same summed gradient and the same set of touched lookup
 * rows, so the global norm, the clipping factor and the weight decay computed here are the
 * same on every rank and the replicas stay identical. The norm adds the dense parameters
 * in parameter order and each lookup table's touched rows in ascending row order (sorted
 * first), whatever order this rank touched them in. A model on a GPU goes through host
 * memory for the norm and the decay (one download, and an upload of what the decay
 * changed). Not thread-safe per worker. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "core/status.h"
#include "kernels/backend.h"
#include "worker/worker.h"

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sum of squares of x[0..n), in double (four independent chains). */
static double sumsq(const float *x, size_t n)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += (double)x[i] * x[i];
        a1 += (double)x[i + 1] * x[i + 1];
        a2 += (double)x[i + 2] * x[i + 2];
        a3 += (double)x[i + 3] * x[i + 3];
    }
    for (; i < n; i++) a0 += (double)x[i] * x[i];
    return (a0 + a1) + (a2 + a3);
}

/* Calls f(ctx, off, n) for every range the step updates: each dense parameter and each
   touched row of a lookup table (rows sorted ascending). */
static void for_updated(dbx_model *m, void (*f)(void *ctx, size_t off, size_t n), void *ctx)
{
    for (size_t k = 0; k < m->nparams; k++) {
        dbx__param *p = &m->params[k];
        if (!p->lookup) {
            f(ctx, p->off, (size_t)p->rows * (size_t)p->cols);
            continue;
        }
        if (p->ntrows > 1) qsort(p->trows, p->ntrows, sizeof *p->trows, cmp_i32);
        for (size_t r = 0; r < p->ntrows; r++)
            f(ctx, p->off + (size_t)p->trows[r] * (size_t)p->cols, (size_t)p->cols);
    }
}

typedef struct upd_ctx {
    float *val, *grad;
    double acc;
    float s, wd, keep; /* gradient scale, decay, the decoupled factor 1 - lr * wd */
} upd_ctx;

static void add_sumsq(void *ctx, size_t off, size_t n)
{
    upd_ctx *c = ctx;
    c->acc += sumsq(c->grad + off, n);
}

/* SGD, Adagrad: g <- s g + wd p (the optimizer then runs with scale 1). */
static void coupled(void *ctx, size_t off, size_t n)
{
    upd_ctx *c = ctx;
    float *g = c->grad + off;
    const float *p = c->val + off;
    for (size_t i = 0; i < n; i++) g[i] = c->s * g[i] + c->wd * p[i];
}

/* Adam (AdamW): p <- (1 - lr wd) p before the Adam step. */
static void decoupled(void *ctx, size_t off, size_t n)
{
    upd_ctx *c = ctx;
    float *p = c->val + off;
    for (size_t i = 0; i < n; i++) p[i] *= c->keep;
}

/* Host views of the model's values and gradients: the buffers themselves on the CPU, else
   copies in the worker's scratch. */
static dbx_status host_views(dbx__worker *w, int need_val, float **val, float **grad)
{
    dbx_model *m = w->model;
    if (m->host) {
        *val = m->val;
        *grad = m->grad;
        return DBX_OK;
    }
    const dbx_backend_ops *ops = m->be->ops;
    size_t bytes = m->nfloats * sizeof(float);
    DBX_TRY(DBX_GROW(w->hgrad, w->cap_hgrad, m->nfloats + 1));
    DBX_TRY(ops->sync(m->be));
    DBX_TRY(ops->download(m->be, w->hgrad, m->grad, bytes));
    *grad = w->hgrad;
    *val = NULL;
    if (need_val) {
        DBX_TRY(DBX_GROW(w->hval, w->cap_hval, m->nfloats + 1));
        DBX_TRY(ops->download(m->be, w->hval, m->val, bytes));
        *val = w->hval;
    }
    return DBX_OK;
}

dbx_status dbx__worker_update(dbx__worker *w, dbx__comm *c, const dbx__update_opts *u,
                              int32_t global_bs, dbx__wstat *st)
{
    DBX_TRY(dbx__grad_sync(c, w->model, &w->sync));
    st->allreduce = w->sync.seconds;
    st->ar_bytes = (double)w->sync.bytes;
    st->ar_early = (double)w->sync.early;
    st->ar_rows = (double)w->sync.sparse_rows;
    st->ar_local = w->sync.local;
    double t1 = dbx__now();
    dbx_model *m = w->model;
    dbx_optim o = u->optim;
    o.grad_scale = 1.0f / (float)global_bs;
    st->grad_norm = NAN;
    st->clipped = 0;
    const int decay = u->weight_decay > 0;
    if (u->clip_norm > 0 || decay) {
        upd_ctx x = {.acc = 0};
        DBX_TRY(host_views(w, decay, &x.val, &x.grad));
        if (u->clip_norm > 0) {
            for_updated(m, add_sumsq, &x);
            /* the norm of the mean gradient (the summed one scaled by 1 / global batch) */
            const double norm = sqrt(x.acc) / (double)global_bs;
            st->grad_norm = norm;
            if (isfinite(norm) && norm > u->clip_norm) {
                o.grad_scale = (float)(u->clip_norm / (norm * (double)global_bs));
                st->clipped = 1;
            }
        }
        if (decay) {
            x.wd = (float)u->weight_decay;
            x.s = o.grad_scale;
            x.keep = (float)(1.0 - (double)o.lr * u->weight_decay);
            if (o.kind == DBX_OPT_ADAM) {
                for_updated(m, decoupled, &x);
            } else {
                for_updated(m, coupled, &x);
                o.grad_scale = 1.0f;
            }
            if (!m->host) { /* back to the device: what the decay changed */
                const dbx_backend_ops *ops = m->be->ops;
                size_t bytes = m->nfloats * sizeof(float);
                if (o.kind == DBX_OPT_ADAM) DBX_TRY(ops->upload(m->be, m->val, x.val, bytes));
                else DBX_TRY(ops->upload(m->be, m->grad, x.grad, bytes));
            }
        }
    }
    DBX_TRY(dbx_model_update(m, &o));
    st->update = dbx__now() - t1;
    return DBX_OK;
}
