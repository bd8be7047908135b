/* Gradient synchronisation (see dist.h). The sparse path sums the ranks' rows in rank order
 * on every rank, so the result is identical everywhere and independent of which rank
 * touched a row. Not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "core/status.h"
#include "worker/dist.h"

/* In programs that link the CUDA object library only (comm/comm_nccl.c). */
extern dbx_status dbx__nccl_allreduce_f32(dbx__nccl *n, float *dev, size_t count)
    __attribute__((weak));
extern void dbx__nccl_free(dbx__nccl *n) __attribute__((weak));

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
        for (size_t k = 0; k < p->ntrows; k++)
            memcpy(my + k * (size_t)dim, g + (size_t)p->trows[k] * dim, (size_t)dim * sizeof *g);
        DBX_TRY(dbx__comm_allgatherv(c, my, (size_t)mine * (size_t)dim * sizeof(float), s->vals,
                                    s->bcounts, s->bdispls));
        s->bytes += (size_t)mine * (size_t)dim * sizeof(float);
        /* sum in rank order on every rank */
        for (size_t k = 0; k < p->ntrows; k++)
            memset(g + (size_t)p->trows[k] * dim, 0, (size_t)dim * sizeof *g);
        for (int64_t k = 0; k < total; k++) {
            float *dst = g + (size_t)s->rows[k] * dim;
            const float *src = s->vals + (size_t)k * dim;
            for (int i = 0; i < dim; i++) dst[i] += src[i];
        }
    } else {
        /* collective 3 (all ranks): the whole table */
        DBX_TRY(dbx__comm_allreduce_f32(c, g, (size_t)p->rows * (size_t)dim));
        s->bytes += dense_bytes;
    }
    /* every rank updates the union of the touched rows */
    dbx_param pid = (dbx_param)(p - m->params);
    for (int64_t k = 0; k < total; k++) DBX_TRY(dbx__model_touch(m, pid, s->rows[k]));
    return DBX_OK;
}

dbx_status dbx__grad_sync(dbx__comm *c, dbx_model *m, dbx__sync *s)
{
    double t0 = dbx__now();
    s->bytes = 0;
    s->sparse_rows = 0;
    const int W = dbx__comm_size(c);
    if (W <= 1) {
        s->seconds = 0;
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
    /* dense parameters: one in-place all-reduce per run of adjacent dense tensors, in
       parameter order on every rank */
    size_t i = 0;
    while (i < m->nparams) {
        if (m->params[i].lookup) {
            DBX_TRY(sync_lookup(c, m, &m->params[i], s, 0));
            i++;
            continue;
        }
        size_t j = i;
        while (j < m->nparams && !m->params[j].lookup) j++;
        size_t lo = m->params[i].off, hi = j < m->nparams ? m->params[j].off : m->nfloats;
        DBX_TRY(dbx__comm_allreduce_f32(c, m->grad + lo, hi - lo));
        s->bytes += (hi - lo) * sizeof(float);
        i = j;
    }
    s->seconds = dbx__now() - t0;
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
    memset(s, 0, sizeof *s);
}
