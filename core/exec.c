/* The executor: schedules and plans a minibatch graph, then runs its batches forward and,
 * in reverse order, backward on the backend. Node gradients live in a gradient arena laid
 * out exactly like the value arena, so operands that are contiguous forward are contiguous
 * backward too. Parameter gradients accumulate into the model's flat gradient buffer.
 * The executor owns its arenas and its scheduler's state (made at dbx_exec_new, released at
 * dbx_exec_free, kept across steps); it borrows the graph between forward and backward.
 * Not thread-safe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/model.h"
#include "core/status.h"

dbx_status dbx_exec_new(const dbx_exec_opts *opts, dbx_exec **out)
{
    *out = NULL;
    const dbx_sched_type *t = NULL;
    DBX_TRY(dbx_sched_find(opts ? opts->scheduler : NULL, &t));
    dbx_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return dbx__fail(DBX_ENOMEM, "out of memory");
    if (opts) ex->opts = *opts;
    ex->opts.scheduler = t->name;
    dbx_status s = dbx__backend_get(ex->opts.device, ex->opts.device_index, &ex->be);
    if (!s && ex->opts.precision != DBX_PRECISION_FP32) /* bf16: the CPU with oneDNN */
        s = ex->be->ops->precision
                ? ex->be->ops->precision(ex->be, (int)ex->opts.precision)
                : dbx__fail(DBX_ENOTSUP, "precision %s: the %s backend runs fp32 only",
                            dbx_precision_name(ex->opts.precision), ex->be->ops->name);
    if (s) {
        free(ex);
        return s;
    }
    if (t->create && (s = t->create(t, &ex->sched_state)) != DBX_OK) {
        free(ex);
        return s;
    }
    ex->scheduler = t;
    *out = ex;
    return DBX_OK;
}

void dbx_exec_free(dbx_exec *ex)
{
    if (!ex) return;
    if (ex->scheduler->free) ex->scheduler->free(ex->sched_state);
    dbx__cons_free(&ex->cons);
    dbx__ready_free(&ex->ready);
    dbx__schedule_free(&ex->schedule);
    dbx__layout_free(&ex->layout);
    dbx__arena_free(&ex->arena, ex->be);
    free(ex->pdone);
    free(ex->pstart);
    free(ex->pfirst);
    free(ex);
}

void dbx__exec_set_grad_hook(dbx_exec *ex, dbx__grad_hook fn, void *ctx)
{
    ex->hook = fn;
    ex->hook_ctx = ctx;
}

/* The parameter whose values start at float offset off (params are laid out in order). */
static int32_t param_at(const dbx_model *m, size_t off)
{
    size_t lo = 0, hi = m->nparams;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->params[mid].off <= off) lo = mid;
        else hi = mid;
    }
    return (int32_t)lo;
}

/* The hook's lists: the parameters grouped by the batch that makes their last backward
   contribution (their first forward use), unused ones under nbatches. */
static dbx_status hook_lists(dbx_exec *ex, const dbx_model *m)
{
    const dbx__schedule *sc = &ex->schedule;
    const dbx__layout *l = &ex->layout;
    const size_t np = m->nparams, nb = sc->nbatches;
    DBX_TRY(DBX_GROW(ex->pfirst, ex->cap_pfirst, np + 1));
    DBX_TRY(DBX_GROW(ex->pdone, ex->cap_pdone, np + 1));
    DBX_TRY(DBX_GROW(ex->pstart, ex->cap_pstart, nb + 2));
    for (size_t p = 0; p < np; p++) ex->pfirst[p] = (int32_t)nb;
    for (size_t b = nb; b-- > 0;) {
        const dbx__blayout *bl = &l->b[b];
        /* a batch fused into the previous one runs its backward in that one's kernel */
        const int32_t at = bl->fuse < 0 && b > 0 ? (int32_t)b - 1 : (int32_t)b;
        if (bl->table >= 0) ex->pfirst[bl->table] = at;
        for (int32_t t = 0; t < bl->nterms; t++) {
            const dbx_kterm *kt = &l->kterms[bl->term_at + t];
            if (kt->dw) ex->pfirst[param_at(m, (size_t)(kt->dw - m->grad))] = at;
        }
    }
    memset(ex->pstart, 0, (nb + 2) * sizeof *ex->pstart);
    for (size_t p = 0; p < np; p++) ex->pstart[ex->pfirst[p] + 1]++;
    for (size_t b = 0; b <= nb; b++) ex->pstart[b + 1] += ex->pstart[b];
    for (size_t p = 0; p < np; p++) ex->pdone[ex->pstart[ex->pfirst[p]]++] = (int32_t)p;
    for (size_t b = nb + 1; b > 0; b--) ex->pstart[b] = ex->pstart[b - 1];
    ex->pstart[0] = 0;
    return DBX_OK;
}

static dbx_status hook_call(dbx_exec *ex, size_t b)
{
    int32_t at = ex->pstart[b], n = ex->pstart[b + 1] - at;
    return n ? ex->hook(ex->hook_ctx, ex->pdone + at, n) : DBX_OK;
}

dbx_status dbx__exec_schedule(dbx_exec *ex, const dbx_graph *g)
{
    DBX_TRY(dbx__cons_build(&ex->cons, g));
    return dbx__schedule_build(&ex->schedule, &ex->ready, &ex->cons, ex->scheduler,
                               ex->sched_state, g);
}

/* The kernel descriptor of batch b. */
static void fill_kbatch(const dbx_exec *ex, const dbx_model *m, size_t b, dbx_kbatch *kb)
{
    const dbx__batch *bt = &ex->schedule.batches[b];
    const dbx__layout *l = &ex->layout;
    const dbx__blayout *bl = &l->b[b];
    const dbx__arena *a = &ex->arena;
    kb->op = (enum dbx_op)bt->op;
    kb->n = bt->n;
    kb->dim = bt->dim;
    kb->nargs = bt->nargs;
    kb->arg_dim = l->argdim + bl->argdim_at;
    kb->arg_contig = l->contig + bl->argdim_at;
    kb->arg_off = l->argoff + bl->argoff_at;
    kb->out_off = bl->out_off;
    kb->attr = l->attr + bl->attr_at;
    kb->iparam = bl->iparam;
    kb->fparam[0] = bl->fparam[0];
    kb->fparam[1] = bl->fparam[1];
    kb->nterms = bl->nterms;
    kb->terms = bl->nterms ? l->kterms + bl->term_at : NULL;
    kb->table = bl->table >= 0 ? m->val + m->params[bl->table].off : NULL;
    kb->dtable = bl->table >= 0 ? m->grad + m->params[bl->table].off : NULL;
    kb->chain = NULL;
    kb->bf16 = ex->opts.precision == DBX_PRECISION_BF16;
    kb->d_arg_off = a->dargoff ? a->dargoff + bl->argoff_at : NULL;
    kb->d_attr = a->dattr ? a->dattr + bl->attr_at : NULL;
    kb->d_arg_dim = a->dargdim ? a->dargdim + bl->argdim_at : NULL;
}

/* Device backends: copies the step's index arrays (all batches) at once into the arena's
   index part (laid out by the planner). */
static dbx_status mirror_index(dbx_exec *ex)
{
    const dbx_backend_ops *ops = ex->be->ops;
    const dbx__layout *l = &ex->layout;
    const dbx__arena *a = &ex->arena;
    DBX_TRY(ops->upload(ex->be, a->dargoff, l->argoff, l->nargoff * sizeof(int64_t)));
    DBX_TRY(ops->upload(ex->be, a->dattr, l->attr, l->nattr * sizeof(int32_t)));
    return ops->upload(ex->be, a->dargdim, l->argdim, l->nargdim * sizeof(int));
}

static int64_t device_ops(const dbx_backend *be)
{
    int64_t k = 0, c = 0;
    if (be->ops->counters) be->ops->counters((dbx_backend *)be, &k, &c);
    return k + c;
}

dbx_status dbx_exec_forward(dbx_exec *ex, dbx_graph *g, double *loss)
{
    ex->have_forward = 0;
    if (g->err)
        return dbx__fail(g->err, "graph has a builder error: %s", g->errmsg);
    if (!g->nnodes) return dbx__fail(DBX_EINVAL, "dbx_exec_forward: the graph is empty");
    if (g->m->be != ex->be)
        return dbx__fail(DBX_EINVAL, "dbx_exec_forward: the executor and the model are on "
                                     "different devices (dbx_exec_opts.device, "
                                     "dbx_model_set_device)");
    dbx_exec_stats *st = &ex->stats;
    memset(st, 0, sizeof *st);
    double t0 = dbx__now();
    DBX_TRY(dbx__exec_schedule(ex, g));
    double t1 = dbx__now();
    DBX_TRY(dbx__layout_build(&ex->layout, &ex->schedule, &ex->cons, g, ex->be, ex->opts.fuse, st));
    DBX_TRY(dbx__arena_fit(&ex->arena, ex->be, &ex->layout));
    double t2 = dbx__now();
    st->t_sched = t1 - t0;
    st->t_plan = t2 - t1;
    st->nodes = (int64_t)g->nnodes;
    st->batches = (int64_t)ex->schedule.nbatches;

    const dbx_backend_ops *ops = ex->be->ops;
    const dbx__schedule *sc = &ex->schedule;
    const dbx__layout *l = &ex->layout;
    dbx__arena *a = &ex->arena;
    const int64_t ops0 = device_ops(ex->be);
    if (a->dargoff) DBX_TRY(mirror_index(ex));
    /* column-major weight copies for the forward GEMMs, from the current values (cheap:
       one pass over the weights; always consistent, even after users write parameters) */
    dbx_model *m = g->m;
    for (size_t i = 0; i < l->ntparams; i++) {
        const dbx__param *p = &m->params[l->tparams[i]];
        DBX_TRY(ops->transpose(ex->be, m->valt + p->toff, p->tld, m->val + p->off, p->rows,
                               p->cols));
    }
    for (size_t b = 0; b < sc->nbatches; b++) {
        const dbx__batch *bt = &sc->batches[b];
        if (dbx__op_shared[bt->op] == DBX__SH_DATA) { /* per-node data: copied in */
            for (int32_t i = 0; i < bt->n; i++) {
                const dbx__node *nd = &g->nodes[sc->order[bt->first + i]];
                DBX_TRY(ops->upload(ex->be, a->vals + l->b[b].out_off + (int64_t)i * bt->dim,
                                    g->data + nd->aux, (size_t)nd->dim * sizeof(float)));
            }
            continue;
        }
        if (l->b[b].fuse < 0) continue; /* ran inside the previous batch's kernel */
        dbx_kbatch kb, next;
        fill_kbatch(ex, g->m, b, &kb);
        if (l->b[b].fuse > 0) {
            fill_kbatch(ex, g->m, b + 1, &next);
            kb.chain = &next;
        }
        DBX_TRY(ops->forward(ex->be, a->vals, &kb));
    }
    /* total loss, summed in a fixed order */
    size_t nl = g->nlosses;
    DBX_TRY(DBX_GROW(a->losshost, a->cap_losshost, nl + 1));
    if (nl > (size_t)INT32_MAX) return dbx__fail(DBX_EINVAL, "too many loss nodes (%zu)", nl);
    DBX_TRY(ops->gather(ex->be, a->losshost, a->vals, l->lossoff, (int)nl));
    st->launches = device_ops(ex->be) - ops0;
    double sum = 0;
    for (size_t i = 0; i < nl; i++) sum += a->losshost[i];
    if (loss) *loss = sum;
    st->t_forward = dbx__now() - t2;
    ex->graph = g;
    ex->graph_nodes = g->nnodes;
    ex->have_forward = 1;
    return DBX_OK;
}

dbx_status dbx_exec_backward(dbx_exec *ex, dbx_graph *g, float loss_scale)
{
    if (!ex->have_forward || ex->graph != g || ex->graph_nodes != g->nnodes)
        return dbx__fail(DBX_EINVAL, "dbx_exec_backward: no forward pass of this graph");
    double t0 = dbx__now();
    const dbx_backend_ops *ops = ex->be->ops;
    const int64_t ops0 = device_ops(ex->be);
    dbx_model *m = g->m;
    const dbx__schedule *sc = &ex->schedule;
    const dbx__layout *l = &ex->layout;
    const dbx__arena *a = &ex->arena;
    DBX_TRY(ops->memset0(ex->be, a->grads, l->floats * sizeof(float)));
    DBX_TRY(ops->fill(ex->be, a->grads, l->lossoff, (int)g->nlosses, loss_scale));
    if (ex->hook) {
        DBX_TRY(hook_lists(ex, m));
        DBX_TRY(hook_call(ex, sc->nbatches));
    }
    for (size_t b = sc->nbatches; b-- > 0;) {
        const dbx__batch *bt = &sc->batches[b];
        const dbx__blayout *bl = &l->b[b];
        if (dbx__op_shared[bt->op] != DBX__SH_DATA) {
            if (bl->table >= 0 && m->params[bl->table].lookup) /* sparse rows: the ones used */
                for (int32_t i = 0; i < bt->n; i++)
                    DBX_TRY(dbx__model_touch(m, bl->table, l->attr[bl->attr_at + i]));
            if (bl->fuse >= 0) { /* fuse < 0: runs inside the previous batch's kernel */
                dbx_kbatch kb, next;
                fill_kbatch(ex, m, b, &kb);
                if (bl->fuse > 0) {
                    fill_kbatch(ex, m, b + 1, &next);
                    kb.chain = &next;
                }
                DBX_TRY(ops->backward(ex->be, a->vals, a->grads, &kb));
            }
        }
        if (ex->hook) DBX_TRY(hook_call(ex, b));
    }
    /* no wait: on a device the backward pass (and the optimizer after it) runs while the
       host builds and plans the next step; whoever reads results waits (download, sync) */
    ex->stats.launches += device_ops(ex->be) - ops0;
    ex->stats.t_backward = dbx__now() - t0;
    return DBX_OK;
}

static dbx_status copy_node(dbx_exec *ex, const dbx_graph *g, dbx_node x, const float *base,
                            float *out)
{
    if (!ex->have_forward || ex->graph != g)
        return dbx__fail(DBX_EINVAL, "no forward pass of this graph");
    if (x < 0 || (size_t)x >= g->nnodes) return dbx__fail(DBX_EINVAL, "node %d out of range", x);
    DBX_TRY(ex->be->ops->sync(ex->be));
    return ex->be->ops->download(ex->be, out, base + ex->layout.off[x],
                                 (size_t)g->nodes[x].dim * sizeof(float));
}

dbx_status dbx_exec_value(dbx_exec *ex, const dbx_graph *g, dbx_node x, float *out)
{
    return copy_node(ex, g, x, ex->arena.vals, out);
}

dbx_status dbx_exec_grad(dbx_exec *ex, const dbx_graph *g, dbx_node x, float *out)
{
    return copy_node(ex, g, x, ex->arena.grads, out);
}

const dbx_exec_stats *dbx_exec_last_stats(const dbx_exec *ex) { return &ex->stats; }

int dbx_exec_gemm_shapes(const dbx_exec *ex, int (*shapes)[3], int max)
{
    int n = (int)ex->layout.ngemms;
    for (int i = 0; i < n && i < max; i++)
        memcpy(shapes[i], ex->layout.gemms[i], sizeof shapes[i]);
    return n;
}
