/* Gradient synchronisation (see dist.h). The sparse path sums the ranks' rows in rank order
 * on every rank, so the result is identical everywhere and independent of which rank
 * touched a row. Not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/model.h"
#include "core/status.h"
#include "worker/dist.h"

/* In programs that link the CUDA object library only (comm/comm_nccl.c). */
extern dbx_status dbx__nccl_allreduce_f32(dbx__nccl *n, float *dev, size_t count)
    __attribute__((weak));
extern void dbx__nccl_free(dbx__nccl *n) __attribute__((weak));

static dbx_status start_ready(dbx__sync *s, int all);

/* staged: the table's gradient was already summed densely (host-staged path); only the
   union of touched rows is exchanged. */
static dbx_status sync_lookup(dbx__comm *c, dbx_model *m, dbx__param *p, dbx__sync *s, int staged)
{
    const int W = dbx__comm_size(c), dim = p->cols;
    float *g = m->grad + p->off;
    /* collective 1 (all ranks): how many rows each rank touched */
    int64_t mine = (int64_t)p->ntrows;
    DBX_TRY(dbx__comm_allgather(c, &mine, sizeof mine, s->counts));
    int64_t total = 0;
    for (int r = 0; r < W; r++) total += s->counts[r];
    s->sparse_rows += total;
    size_t sparse_bytes = (size_t)total * (sizeof(int32_t) + (size_t)dim * sizeof(float));
    size_t dense_bytes = (size_t)p->rows * (size_t)dim * sizeof(float);
    /* collective 2 (all ranks): the touched row ids */
    DBX_TRY(DBX_GROW(s->rows, s->cap_rows, (size_t)total + 1));
    size_t at = 0;
    for (int r = 0; r < W; r++) {
        s->bcounts[r] = (size_t)s->counts[r] * sizeof(int32_t);
        s->bdispls[r] = at;
        at += s->bcounts[r];
    }
    DBX_TRY(dbx__comm_allgatherv(c, p->trows, (size_t)mine * sizeof(int32_t), s->rows, s->bcounts,
                                s->bdispls));
    if (staged) {
        /* nothing more to move: the values were reduced with the whole buffer */
    } else if (sparse_bytes < dense_bytes) {
        /* collective 3 (all ranks): the touched rows' gradients */
        DBX_TRY(DBX_GROW(s->vals, s->cap_vals, (size_t)total * (size_t)dim + 1));
        size_t off = 0;
        for (int r = 0; r < W; r++) {
            s->bcounts[r] = (size_t)s->counts[r] * (size_t)dim * sizeof(float);
            s->bdispls[r] = off;
            off += s->bcounts[r];
        }
        DBX_TRY(DBX_GROW(s->send, s->cap_send, p->ntrows * (size_t)dim + 1));
        float *my = s->send; /* MPI: the send buffer must not alias the receive buffer */
        double t0 = dbx__now();
        for (size_t k = 0; k < p->ntrows; k++)
            memcpy(my + k * (size_t)dim, g + (size_t)p->trows[k] * dim, (size_t)dim * sizeof *g);
        s->local += dbx__now() - t0;
        DBX_TRY(dbx__comm_allgatherv(c, my, (size_t)mine * (size_t)dim * sizeof(float), s->vals,
                                    s->bcounts, s->bdispls));
        s->bytes += (size_t)mine * (size_t)dim * sizeof(float);
        /* sum in rank order on every rank */
        t0 = dbx__now();
        for (size_t k = 0; k < p->ntrows; k++)
            memset(g + (size_t)p->trows[k] * dim, 0, (size_t)dim * sizeof *g);
        for (int64_t k = 0; k < total; k++) {
            float *dst = g + (size_t)s->rows[k] * dim;
            const float *src = s->vals + (size_t)k * dim;
            for (int i = 0; i < dim; i++) dst[i] += src[i];
        }
        s->local += dbx__now() - t0;
    } else {
        /* collective 3 (all ranks): the whole table */
        DBX_TRY(dbx__comm_allreduce_f32(c, g, (size_t)p->rows * (size_t)dim));
        s->bytes += dense_bytes;
    }
    /* every rank updates the union of the touched rows */
    dbx_param pid = (dbx_param)(p - m->params);
    double t1 = dbx__now();
    for (int64_t k = 0; k < total; k++) DBX_TRY(dbx__model_touch(m, pid, s->rows[k]));
    s->local += dbx__now() - t1;
    return DBX_OK;
}

dbx_status dbx__grad_sync(dbx__comm *c, dbx_model *m, dbx__sync *s)
{
    double t0 = dbx__now();
    s->bytes = 0;
    s->sparse_rows = 0;
    s->local = 0;
    const int W = dbx__comm_size(c);
    if (W <= 1) {
        s->seconds = 0;
        s->early = 0;
        return DBX_OK;
    }
    if (!s->counts) {
        s->counts = calloc((size_t)W, sizeof *s->counts);
        s->bcounts = calloc((size_t)W, sizeof *s->bcounts);
        s->bdispls = calloc((size_t)W, sizeof *s->bdispls);
        if (!s->counts || !s->bcounts || !s->bdispls) return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    if (!m->host) { /* a GPU model: the whole gradient buffer, with NCCL or through host */
        size_t bytes = m->nfloats * sizeof(float);
        if (s->nccl) {
            /* collective (all ranks): on the NCCL stream, ordered by events */
            DBX_TRY(dbx__nccl_allreduce_f32(s->nccl, m->grad, m->nfloats));
        } else {
            DBX_TRY(DBX_GROW(s->staged, s->cap_staged, m->nfloats + 1));
            DBX_TRY(m->be->ops->sync(m->be));
            DBX_TRY(m->be->ops->download(m->be, s->staged, m->grad, bytes));
            DBX_TRY(dbx__comm_allreduce_f32(c, s->staged, m->nfloats)); /* collective: all */
            DBX_TRY(m->be->ops->upload(m->be, m->grad, s->staged, bytes));
        }
        s->bytes += bytes;
        for (size_t k = 0; k < m->nparams; k++) /* collectives: all ranks, parameter order */
            if (m->params[k].lookup) DBX_TRY(sync_lookup(c, m, &m->params[k], s, 1));
        s->seconds = dbx__now() - t0;
        return DBX_OK;
    }
    /* dense parameters: the buckets the backward pass has not started (all of them without
       overlap), in index order; then the lookup tables (collectives, in parameter order on
       every rank) while the buckets are in flight; then the wait */
    if (s->model != m || s->comm != c)
        return dbx__fail(DBX_EINVAL, "dbx__grad_sync: buckets planned for another model or "
                                     "communicator (dbx__sync_attach)");
    s->early = 0; /* the buckets the backward pass started */
    for (size_t b = 0; b < s->nbuckets; b++)
        if (s->buckets[b].started) s->early += (s->buckets[b].hi - s->buckets[b].lo) * sizeof(float);
    DBX_TRY(start_ready(s, 1));
    for (size_t i = 0; i < m->nparams; i++)
        if (m->params[i].lookup) DBX_TRY(sync_lookup(c, m, &m->params[i], s, 0));
    DBX_TRY(dbx__comm_allreduce_wait(c));
    for (size_t b = 0; b < s->nbuckets; b++) {
        s->bytes += (s->buckets[b].hi - s->buckets[b].lo) * sizeof(float);
        s->buckets[b].pending = s->buckets[b].nparams;
        s->buckets[b].started = 0;
    }
    s->next = 0;
    s->seconds = dbx__now() - t0;
    return DBX_OK;
}

/* Starts the buckets that are complete (all: every bucket not started yet), in index order
   when the algorithm needs one order on every rank. */
static dbx_status start_ready(dbx__sync *s, int all)
{
    for (size_t b = s->in_order ? s->next : 0; b < s->nbuckets; b++) {
        dbx__bucket *k = &s->buckets[b];
        if (k->started) continue;
        if (k->pending > 0 && !all) {
            if (s->in_order) break;
            continue;
        }
        DBX_TRY(dbx__comm_iallreduce_f32(s->comm, s->model->grad + k->lo, k->hi - k->lo, (int)b));
        k->started = 1;
        if (s->in_order) s->next = b + 1;
    }
    return DBX_OK;
}

/* The executor's gradient hook: these parameters' gradients are complete. */
static dbx_status grad_ready(void *ctx, const int32_t *params, int n)
{
    dbx__sync *s = ctx;
    int any = 0;
    for (int i = 0; i < n; i++) {
        int32_t b = s->pbucket[params[i]];
        if (b >= 0 && --s->buckets[b].pending == 0) any = 1;
    }
    if (any) DBX_TRY(start_ready(s, 0));
    return dbx__comm_allreduce_progress(s->comm);
}

void dbx__sync_overlap_now(dbx__sync *s, dbx_exec *ex, int on)
{
    dbx__exec_set_grad_hook(ex, s->overlap && on ? grad_ready : NULL, s);
}

dbx_status dbx__sync_attach(dbx__sync *s, dbx__comm *c, dbx_model *m, dbx_exec *ex,
                            int overlap, size_t bucket_bytes)
{
    s->comm = c;
    s->model = m;
    s->nbuckets = 0;
    s->next = 0;
    s->in_order = dbx__comm_ar_algo(c) == DBX_AR_MPI;
    DBX_TRY(DBX_GROW(s->pbucket, s->cap_pbucket, m->nparams + 1));
    const size_t cap = bucket_bytes ? bucket_bytes / sizeof(float) : SIZE_MAX;
    /* in reverse parameter order: runs of adjacent dense parameters, cut at cap floats */
    for (size_t i = m->nparams; i-- > 0;) {
        const dbx__param *p = &m->params[i];
        if (p->lookup) {
            s->pbucket[i] = -1;
            continue;
        }
        size_t end = i + 1 < m->nparams ? m->params[i + 1].off : m->nfloats;
        dbx__bucket *k = s->nbuckets ? &s->buckets[s->nbuckets - 1] : NULL;
        if (!k || k->lo != end || k->hi - k->lo >= cap) { /* not adjacent (a lookup table
                                                             between), or full */
            DBX_TRY(DBX_GROW(s->buckets, s->cap_buckets, s->nbuckets + 1));
            k = &s->buckets[s->nbuckets++];
            *k = (dbx__bucket){.lo = p->off, .hi = end};
        }
        k->lo = p->off;
        k->nparams++;
        s->pbucket[i] = (int32_t)(k - s->buckets);
    }
    if (s->nbuckets > DBX_AR_MAX_KEY)
        return dbx__fail(DBX_EINVAL, "%zu gradient buckets: at most %d (a larger bucket size)",
                         s->nbuckets, DBX_AR_MAX_KEY);
    for (size_t b = 0; b < s->nbuckets; b++) s->buckets[b].pending = s->buckets[b].nparams;
    s->overlap = overlap && dbx__comm_size(c) > 1 && m->host;
    dbx__sync_overlap_now(s, ex, 1);
    return DBX_OK;
}

void dbx__sync_free(dbx__sync *s)
{
    if (!s) return;
    if (s->nccl && dbx__nccl_free) dbx__nccl_free(s->nccl);
    free(s->counts);
    free(s->bcounts);
    free(s->bdispls);
    free(s->rows);
    free(s->vals);
    free(s->send);
    free(s->staged);
    free(s->buckets);
    free(s->pbucket);
    memset(s, 0, sizeof *s);
}
