/* The executor: schedules and plans a minibatch graph, then runs its batches forward and,
 * in reverse order, backward on the backend. Node gradients live in a gradient arena laid
 * out exactly like the value arena, so operands that are contiguous forward are contiguous
 * backward too. Parameter gradients accumulate into the model's flat gradient buffer.
 * The executor owns its arenas; it borrows the graph between forward and backward.
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
    dbx_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return dbx__fail(DBX_ENOMEM, "out of memory");
    if (opts) ex->opts = *opts;
    if ((unsigned)ex->opts.sched > DBX_SCHED_AGENDA) {
        free(ex);
        return dbx__fail(DBX_EINVAL, "dbx_exec_new: unknown scheduler %d", (int)opts->sched);
    }
    dbx_status s = dbx__backend_get(ex->opts.device, ex->opts.device_index, &ex->be);
    if (s) {
        free(ex);
        return s;
    }
    *out = ex;
    return DBX_OK;
}

void dbx_exec_free(dbx_exec *ex)
{
    if (!ex) return;
    free(ex->order);
    free(ex->batches);
    free(ex->batch_of);
    free(ex->pos);
    free(ex->cons_start);
    free(ex->cons);
    free(ex->pending);
    for (size_t s = 0; s < ex->nsig_alloc; s++) free(ex->ready[s]);
    free(ex->ready);
    free(ex->nready);
    free(ex->cap_ready);
    free(ex->ready_depth);
    free(ex->keys);
    free(ex->buckets);
    free(ex->tmp);
    free(ex->sortbuf);
    free(ex->off);
    free(ex->argoff);
    free(ex->attr);
    free(ex->argdim);
    free(ex->contig);
    free(ex->kterms);
    free(ex->tparams);
    free(ex->tmark);
    free(ex->lossoff);
    free(ex->losshost);
    free(ex->gemms);
    ex->be->ops->free(ex->be, ex->vals); /* the arena: values, gradients, device index */
    free(ex);
}

static void fill_kbatch(const dbx_exec *ex, const dbx_model *m, const dbx__batch *bt,
                        dbx_kbatch *kb)
{
    kb->op = (enum dbx_op)bt->op;
    kb->n = bt->n;
    kb->dim = bt->dim;
    kb->nargs = bt->nargs;
    kb->arg_dim = ex->argdim + bt->argdim_at;
    kb->arg_contig = ex->contig + bt->argdim_at;
    kb->arg_off = ex->argoff + bt->argoff_at;
    kb->out_off = bt->out_off;
    kb->attr = ex->attr + bt->attr_at;
    kb->iparam = bt->iparam;
    kb->nterms = bt->nterms;
    kb->terms = bt->nterms ? ex->kterms + bt->term_at : NULL;
    kb->table = bt->table >= 0 ? m->val + m->params[bt->table].off : NULL;
    kb->dtable = bt->table >= 0 ? m->grad + m->params[bt->table].off : NULL;
    kb->chain = NULL;
    kb->d_arg_off = ex->dargoff ? ex->dargoff + bt->argoff_at : NULL;
    kb->d_attr = ex->dattr ? ex->dattr + bt->attr_at : NULL;
    kb->d_arg_dim = ex->dargdim ? ex->dargdim + bt->argdim_at : NULL;
}

/* Device backends: copies the step's index arrays (all batches) at once into the arena's
   index part (laid out by the planner). */
static dbx_status mirror_index(dbx_exec *ex)
{
    const dbx_backend_ops *ops = ex->be->ops;
    DBX_TRY(ops->upload(ex->be, ex->dargoff, ex->argoff, ex->nargoff * sizeof(int64_t)));
    DBX_TRY(ops->upload(ex->be, ex->dattr, ex->attr, ex->nattr * sizeof(int32_t)));
    return ops->upload(ex->be, ex->dargdim, ex->argdim, ex->nargdim * sizeof(int));
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
    DBX_TRY(dbx__schedule(ex, g));
    double t1 = dbx__now();
    DBX_TRY(dbx__plan(ex, g));
    double t2 = dbx__now();
    st->t_sched = t1 - t0;
    st->t_plan = t2 - t1;
    st->nodes = (int64_t)g->nnodes;
    st->batches = (int64_t)ex->nbatches;

    const dbx_backend_ops *ops = ex->be->ops;
    const int64_t ops0 = device_ops(ex->be);
    if (ex->dargoff) DBX_TRY(mirror_index(ex));
    /* column-major weight copies for the forward GEMMs, from the current values (cheap:
       one pass over the weights; always consistent, even after users write parameters) */
    dbx_model *m = g->m;
    for (size_t i = 0; i < ex->ntparams; i++) {
        const dbx__param *p = &m->params[ex->tparams[i]];
        DBX_TRY(ops->transpose(ex->be, m->valt + p->toff, p->tld, m->val + p->off, p->rows,
                               p->cols));
    }
    for (size_t b = 0; b < ex->nbatches; b++) {
        const dbx__batch *bt = &ex->batches[b];
        if (bt->op == DBX_OP_INPUT) {
            for (int32_t i = 0; i < bt->n; i++) {
                const dbx__node *nd = &g->nodes[ex->order[bt->first + i]];
                DBX_TRY(ops->upload(ex->be, ex->vals + bt->out_off + (int64_t)i * bt->dim,
                                    g->data + nd->aux, (size_t)nd->dim * sizeof(float)));
            }
            continue;
        }
        if (bt->fuse < 0) continue; /* ran inside the previous batch's kernel */
        dbx_kbatch kb, next;
        fill_kbatch(ex, g->m, bt, &kb);
        if (bt->fuse > 0) {
            fill_kbatch(ex, g->m, bt + 1, &next);
            kb.chain = &next;
        }
        DBX_TRY(ops->forward(ex->be, ex->vals, &kb));
    }
    /* total loss, summed in a fixed order */
    size_t nl = g->nlosses;
    DBX_TRY(DBX_GROW(ex->losshost, ex->cap_losshost, nl + 1));
    if (nl > (size_t)INT32_MAX) return dbx__fail(DBX_EINVAL, "too many loss nodes (%zu)", nl);
    DBX_TRY(ops->gather(ex->be, ex->losshost, ex->vals, ex->lossoff, (int)nl));
    st->launches = device_ops(ex->be) - ops0;
    double sum = 0;
    for (size_t i = 0; i < nl; i++) sum += ex->losshost[i];
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
    DBX_TRY(ops->memset0(ex->be, ex->grads, ex->arena_floats * sizeof(float)));
    DBX_TRY(ops->fill(ex->be, ex->grads, ex->lossoff, (int)g->nlosses, loss_scale));
    for (size_t b = ex->nbatches; b-- > 0;) {
        const dbx__batch *bt = &ex->batches[b];
        if (bt->op == DBX_OP_INPUT) continue;
        if (bt->op == DBX_OP_LOOKUP)
            for (int32_t i = 0; i < bt->n; i++)
                DBX_TRY(dbx__model_touch(m, bt->table, ex->attr[bt->attr_at + i]));
        if (bt->fuse < 0) continue; /* runs inside the previous batch's kernel */
        dbx_kbatch kb, next;
        fill_kbatch(ex, m, bt, &kb);
        if (bt->fuse > 0) {
            fill_kbatch(ex, m, bt + 1, &next);
            kb.chain = &next;
        }
        DBX_TRY(ops->backward(ex->be, ex->vals, ex->grads, &kb));
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
    return ex->be->ops->download(ex->be, out, base + ex->off[x],
                                 (size_t)g->nodes[x].dim * sizeof(float));
}

dbx_status dbx_exec_value(dbx_exec *ex, const dbx_graph *g, dbx_node x, float *out)
{
    return copy_node(ex, g, x, ex->vals, out);
}

dbx_status dbx_exec_grad(dbx_exec *ex, const dbx_graph *g, dbx_node x, float *out)
{
    return copy_node(ex, g, x, ex->grads, out);
}

const dbx_exec_stats *dbx_exec_last_stats(const dbx_exec *ex) { return &ex->stats; }

int dbx_exec_gemm_shapes(const dbx_exec *ex, int (*shapes)[3], int max)
{
    int n = (int)ex->ngemms;
    for (int i = 0; i < n && i < max; i++) memcpy(shapes[i], ex->gemms[i], sizeof shapes[i]);
    return n;
}
