/* The coordinator (see coordinator.h): sample signatures from each sample's own graph,
 * per-epoch seeded shuffles, global batches, partitioning and message packing.
 * Owned by rank 0's trainer; not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "coordinator/coordinator.h"
#include "core/status.h"
#include "models/wire.h"

static size_t sample_words(const dbx__data *d, int32_t i)
{
    return d->tb ? dbx_wire_tree_words(&d->tb->trees[i]) : dbx_wire_sent_words(&d->ts->sents[i]);
}

static int cmp_size_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x < y) - (x > y);
}

/* Signatures: every sample built alone into one scratch graph (so signature ids agree). */
static dbx_status signatures(dbx__coord *c)
{
    const dbx__data *d = c->train;
    dbx__run *r = c->run;
    dbx_graph *g = NULL;
    DBX_TRY(dbx_graph_new(r->model, 1, &g));
    size_t cap = 0, used = 0;
    uint32_t *tmp = NULL;
    size_t ntmp = 0;
    dbx_status s = DBX_OK;
    for (int32_t i = 0; i < d->n && !s; i++) {
        dbx_graph_clear(g);
        s = d->tb ? dbx_treelstm_build(r->tl, g, &d->tb->trees[i], NULL)
                  : dbx_tagger_build(r->tg, g, &d->ts->sents[i], NULL);
        if (s) break;
        size_t nn = (size_t)dbx_graph_num_nodes(g);
        if ((s = DBX_GROW(tmp, ntmp, nn))) break;
        if ((s = dbx_psample_from_graph(g, tmp, &c->ps[i]))) break;
        if ((s = DBX_GROW(c->keys, cap, used + (size_t)c->ps[i].nkeys))) break;
        memcpy(c->keys + used, tmp, (size_t)c->ps[i].nkeys * sizeof *tmp);
        c->ps[i].keys = NULL; /* attached below, once the pool stops moving */
        used += (size_t)c->ps[i].nkeys;
    }
    free(tmp);
    dbx_graph_free(g);
    if (s) return s;
    for (int32_t i = 0, at = 0; i < d->n; i++) {
        c->ps[i].keys = c->keys + at;
        at += c->ps[i].nkeys;
    }
    return DBX_OK;
}

dbx_status dbx__coord_init(dbx__coord *c, dbx__run *run, const dbx__data *train, int W,
                           int batch, uint64_t seed, int shuffle, dbx_part_strategy strategy)
{
    memset(c, 0, sizeof *c);
    c->train = train;
    c->run = run;
    c->W = W;
    c->batch = batch;
    c->seed = seed;
    c->shuffle = shuffle;
    c->strategy = strategy;
    c->pos = train->n; /* the first plan starts epoch 1 */
    /* prior: a batched launch costs about as much as 20 nodes */
    dbx_cost_init(&c->cost, 20e-6, 1e-6, 0.95);
    int32_t n = train->n;
    c->ps = calloc((size_t)n, sizeof *c->ps);
    c->perm = malloc((size_t)n * sizeof *c->perm);
    c->assign = malloc((size_t)batch * sizeof *c->assign);
    c->sub = malloc((size_t)batch * sizeof *c->sub);
    size_t *sz = malloc((size_t)n * sizeof *sz);
    if (!c->ps || !c->perm || !c->assign || !c->sub || !sz) {
        free(sz);
        return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n; i++) {
        c->perm[i] = i;
        sz[i] = sample_words(train, i);
    }
    /* bound on a message: the largest `batch` samples all going to one worker */
    qsort(sz, (size_t)n, sizeof *sz, cmp_size_desc);
    size_t words = DBX_MSG_HEADER;
    for (int32_t i = 0; i < n && i < batch; i++) words += sz[i];
    free(sz);
    c->max_msg_bytes = words * sizeof(int32_t);
    double E = run->embed, H = run->hidden, M = run->mlp, T = run->labels;
    c->tagger_flops_per_token = 2 * (2 * 4 * H * (E + H)) + 2 * M * 2 * H + 2 * T * M;
    return signatures(c);
}

void dbx__coord_free(dbx__coord *c)
{
    if (!c) return;
    free(c->ps);
    free(c->keys);
    free(c->perm);
    free(c->assign);
    free(c->sub);
    memset(c, 0, sizeof *c);
}

void dbx__plan_free(dbx__plan *p)
{
    if (!p) return;
    free(p->words);
    free(p->counts);
    free(p->displs);
    memset(p, 0, sizeof *p);
}

dbx_status dbx__coord_plan(dbx__coord *c, int64_t step, dbx__plan *p)
{
    double t0 = dbx__now();
    const dbx__data *d = c->train;
    const int32_t n = d->n;
    if (!p->counts) {
        p->counts = calloc((size_t)c->W, sizeof *p->counts);
        p->displs = calloc((size_t)c->W, sizeof *p->displs);
        if (!p->counts || !p->displs) return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    if (c->pos >= n) { /* a new epoch: a fresh seeded order */
        c->epoch++;
        c->pos = 0;
        if (c->shuffle) dbx__shuffle(c->perm, n, c->seed + (uint64_t)c->epoch);
    }
    const int32_t *idx = c->perm + c->pos;
    int32_t bs = n - c->pos < c->batch ? n - c->pos : c->batch;
    c->pos += bs;
    p->step = step;
    p->global_bs = bs;
    p->epoch = c->epoch;
    p->epoch_end = c->pos >= n;
    p->labelled = 0;
    p->model_gemm = 0;
    for (int32_t k = 0; k < bs; k++) {
        c->sub[k] = c->ps[idx[k]];
        int32_t i = idx[k];
        p->labelled += dbx__data_labelled(d, i);
        p->model_gemm += d->tb ? 3 * dbx_treelstm_gemm_flops(c->run->tl, &d->tb->trees[i])
                               : 3 * c->tagger_flops_per_token * d->ts->sents[i].n;
    }
    DBX_TRY(dbx_partition(c->strategy, c->sub, bs, c->W, &c->cost, c->seed ^ (uint64_t)step,
                          c->assign, &p->pstats));
    /* pack: worker after worker, samples in global-batch order */
    size_t words = 0;
    for (int32_t k = 0; k < bs; k++) words += sample_words(d, idx[k]);
    words += (size_t)c->W * DBX_MSG_HEADER;
    DBX_TRY(DBX_GROW(p->words, p->cap_words, words));
    size_t at = 0;
    for (int w = 0; w < c->W; w++) {
        size_t start = at;
        int32_t *h = p->words + at;
        at += DBX_MSG_HEADER;
        int32_t mine = 0;
        for (int32_t k = 0; k < bs; k++) {
            if (c->assign[k] != w) continue;
            int32_t i = idx[k];
            at += d->tb ? dbx_wire_put_tree(p->words + at, &d->tb->trees[i])
                        : dbx_wire_put_sent(p->words + at, &d->ts->sents[i]);
            mine++;
        }
        h[0] = DBX_MSG_MAGIC;
        h[1] = (int32_t)step;
        h[2] = bs;
        h[3] = p->epoch;
        h[4] = p->epoch_end;
        h[5] = mine;
        p->displs[w] = start * sizeof(int32_t);
        p->counts[w] = (at - start) * sizeof(int32_t);
    }
    p->t_plan = dbx__now() - t0;
    return DBX_OK;
}

void dbx__coord_observe(dbx__coord *c, const double *launches, const double *nodes,
                        const double *seconds)
{
    for (int w = 0; w < c->W; w++)
        if (nodes[w] > 0) dbx_cost_observe(&c->cost, launches[w], nodes[w], seconds[w]);
}

dbx_status dbx__msg_read_header(const int32_t *words, size_t nbytes, int64_t step,
                                dbx__msg_header *h)
{
    if (nbytes < DBX_MSG_HEADER * sizeof(int32_t) || nbytes % sizeof(int32_t) ||
        words[0] != DBX_MSG_MAGIC || words[1] != (int32_t)step)
        return dbx__fail(DBX_EPARSE, "step %lld: malformed message from the coordinator",
                         (long long)step);
    h->step = words[1];
    h->global_bs = words[2];
    h->epoch = words[3];
    h->epoch_end = words[4];
    h->nsamples = words[5];
    if (h->global_bs < 1 || h->nsamples < 0 || h->nsamples > h->global_bs)
        return dbx__fail(DBX_EPARSE, "step %lld: bad message header", (long long)step);
    return DBX_OK;
}
