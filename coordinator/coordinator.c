/* The coordinator (see coordinator.h): sample signatures from each sample's own graph,
 * per-epoch seeded shuffles, global batches, partitioning and message packing.
 * Owned by rank 0's trainer; not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "coordinator/coordinator.h"
#include "core/rng.h"
#include "core/status.h"

/* Seeded Fisher-Yates shuffle of perm[0..n) with a private splitmix64 stream. */
static void shuffle(int32_t *perm, int32_t n, uint64_t seed)
{
    uint64_t st = seed ^ 0xd1b54a32d192ed03ULL;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)dbx__splitmix64_below(&st, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static int cmp_size_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x < y) - (x > y);
}

/* Signatures: every sample built alone into one scratch graph (so signature ids agree). */
static dbx_status signatures(dbx__coord *c, dbx__worker *w)
{
    const dbx_dataset *d = c->train;
    dbx_graph *g = NULL;
    DBX_TRY(dbx_graph_new(w->model, 1, &g));
    size_t cap = 0, used = 0;
    uint32_t *tmp = NULL;
    size_t ntmp = 0;
    dbx_status s = DBX_OK;
    const int32_t n = dbx_dataset_size(d);
    for (int32_t i = 0; i < n && !s; i++) {
        dbx_graph_clear(g);
        dbx_sample smp = dbx_dataset_get(d, i);
        if ((s = w->type->build(w->self, g, &smp, DBX_BUILD_TRAIN))) break;
        c->gemm[i] = dbx_graph_gemm_flops(g);
        size_t nn = (size_t)dbx_graph_num_nodes(g);
        if ((s = DBX_GROW(tmp, ntmp, nn))) break;
        if ((s = dbx__psample_from_graph(g, tmp, &c->ps[i]))) break;
        if ((s = DBX_GROW(c->keys, cap, used + (size_t)c->ps[i].nkeys))) break;
        memcpy(c->keys + used, tmp, (size_t)c->ps[i].nkeys * sizeof *tmp);
        c->ps[i].keys = NULL; /* attached below, once the pool stops moving */
        used += (size_t)c->ps[i].nkeys;
    }
    free(tmp);
    dbx_graph_free(g);
    if (s) return s;
    for (int32_t i = 0, at = 0; i < n; i++) {
        c->ps[i].keys = c->keys + at;
        at += c->ps[i].nkeys;
    }
    return DBX_OK;
}

dbx_status dbx__coord_init(dbx__coord *c, dbx__worker *w, const dbx_dataset *train, int W,
                           int batch, uint64_t seed, int shuffle, dbx__part_strategy strategy)
{
    memset(c, 0, sizeof *c);
    c->train = train;
    c->W = W;
    c->batch = batch;
    c->seed = seed;
    c->shuffle = shuffle;
    c->strategy = strategy;
    const int32_t n = dbx_dataset_size(train);
    c->pos = n; /* the first plan starts epoch 1 */
    /* prior: a batched launch costs about as much as 20 nodes */
    dbx__cost_init(&c->cost, 20e-6, 1e-6, 0.95);
    c->ps = calloc((size_t)n, sizeof *c->ps);
    c->gemm = calloc((size_t)n, sizeof *c->gemm);
    c->perm = malloc((size_t)n * sizeof *c->perm);
    c->assign = malloc((size_t)batch * sizeof *c->assign);
    c->sub = malloc((size_t)batch * sizeof *c->sub);
    size_t *sz = malloc((size_t)n * sizeof *sz);
    if (!c->ps || !c->gemm || !c->perm || !c->assign || !c->sub || !sz) {
        free(sz);
        return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n; i++) {
        c->perm[i] = i;
        dbx_sample smp = dbx_dataset_get(train, i);
        sz[i] = dbx__msg_sample_words(&smp);
    }
    /* bound on a message: the largest `batch` samples all going to one worker */
    qsort(sz, (size_t)n, sizeof *sz, cmp_size_desc);
    size_t words = DBX_MSG_HEADER;
    for (int32_t i = 0; i < n && i < batch; i++) words += sz[i];
    free(sz);
    c->max_msg_bytes = words * sizeof(int32_t);
    return signatures(c, w);
}

void dbx__coord_free(dbx__coord *c)
{
    if (!c) return;
    free(c->ps);
    free(c->gemm);
    free(c->keys);
    free(c->perm);
    free(c->assign);
    free(c->sub);
    memset(c, 0, sizeof *c);
}

void dbx__shipment_free(dbx__shipment *p)
{
    if (!p) return;
    free(p->words);
    free(p->counts);
    free(p->displs);
    memset(p, 0, sizeof *p);
}

dbx_status dbx__coord_plan(dbx__coord *c, int64_t step, dbx__shipment *p)
{
    double t0 = dbx__now();
    const dbx_dataset *d = c->train;
    const int32_t n = dbx_dataset_size(d);
    if (!p->counts) {
        p->counts = calloc((size_t)c->W, sizeof *p->counts);
        p->displs = calloc((size_t)c->W, sizeof *p->displs);
        if (!p->counts || !p->displs) return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    if (c->pos >= n) { /* a new epoch: a fresh seeded order */
        c->epoch++;
        c->pos = 0;
        if (c->shuffle) shuffle(c->perm, n, c->seed + (uint64_t)c->epoch);
    }
    const int32_t *idx = c->perm + c->pos;
    int32_t bs = n - c->pos < c->batch ? n - c->pos : c->batch;
    c->pos += bs;
    p->step = step;
    p->global_bs = bs;
    p->epoch = c->epoch;
    p->epoch_end = c->pos >= n;
    p->model_gemm = 0;
    size_t words = (size_t)c->W * DBX_MSG_HEADER;
    for (int32_t k = 0; k < bs; k++) {
        c->sub[k] = c->ps[idx[k]];
        p->model_gemm += 3 * c->gemm[idx[k]]; /* forward, dX and dW */
        dbx_sample smp = dbx_dataset_get(d, idx[k]);
        words += dbx__msg_sample_words(&smp);
    }
    DBX_TRY(dbx__partition(c->strategy, c->sub, bs, c->W, &c->cost, c->seed ^ (uint64_t)step,
                          c->assign, &p->pstats));
    /* pack: worker after worker, samples in global-batch order */
    DBX_TRY(DBX_GROW(p->words, p->cap_words, words));
    size_t at = 0;
    for (int w = 0; w < c->W; w++) {
        size_t start = at;
        int32_t *h = p->words + at;
        at += DBX_MSG_HEADER;
        int32_t mine = 0;
        for (int32_t k = 0; k < bs; k++) {
            if (c->assign[k] != w) continue;
            dbx_sample smp = dbx_dataset_get(d, idx[k]);
            at += dbx__msg_put_sample(p->words + at, &smp, idx[k]);
            mine++;
        }
        dbx__msg_header hd = {.global_bs = bs, .epoch = p->epoch, .epoch_end = p->epoch_end,
                              .nsamples = mine};
        dbx__msg_put_header(h, step, &hd);
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
        if (nodes[w] > 0) dbx__cost_observe(&c->cost, launches[w], nodes[w], seconds[w]);
}
