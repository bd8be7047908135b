/* Schedulers: turn a merged minibatch graph into an ordered list of batches, each a set of
 * nodes with one signature whose inputs are computed by earlier batches.
 *   none   node by node in creation order (the unbatched baseline)
 *   depth  nodes grouped by (depth, signature), in increasing depth (TensorFlow Fold)
 *   agenda repeatedly run every ready node of the ready signature whose nodes have the lowest
 *          average depth, averaged over all nodes of that signature in the graph; ties go
 *          to non-affine signatures (DyNet's agenda-based autobatching). A signature whose
 *          nodes sit deep on average (an MLP over both directions of a BiLSTM, the losses)
 *          thus waits until shallower work is exhausted and then runs as one wide batch.
 * Uses only the schedule's and the scratch's reusable arrays. Not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/status.h"

static const char *const sched_names[] = {"none", "depth", "agenda"};

dbx_status dbx_sched_parse(const char *name, dbx_sched_policy *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, sched_names[i]) == 0) {
            *out = (dbx_sched_policy)i;
            return DBX_OK;
        }
    return dbx__fail(DBX_EINVAL, "unknown scheduler '%s' (expected none, depth or agenda)", name);
}

const char *dbx_sched_name(dbx_sched_policy p) { return sched_names[p]; }

static dbx_status push_batch(dbx__schedule *sc, const dbx_graph *g, int32_t first, int32_t n)
{
    DBX_TRY(DBX_GROW(sc->batches, sc->cap_batches, sc->nbatches + 1));
    const dbx__node *nd = &g->nodes[sc->order[first]];
    dbx__batch *b = &sc->batches[sc->nbatches++];
    b->first = first;
    b->n = n;
    b->sig = nd->sig;
    b->op = nd->op;
    b->dim = nd->dim;
    b->nargs = nd->nargs;
    return DBX_OK;
}

dbx_status dbx__cons_build(dbx__cons *c, const dbx_graph *g)
{
    size_t nn = g->nnodes;
    if (nn + 1 > c->cap_nodes) {
        size_t cap = c->cap_nodes * 2 > nn + 1 ? c->cap_nodes * 2 : nn + 1;
        int32_t *st = realloc(c->start, cap * sizeof *st);
        if (st) c->start = st;
        int32_t *f = realloc(c->fill, cap * sizeof *f);
        if (f) c->fill = f;
        if (!st || !f) return dbx__fail(DBX_ENOMEM, "out of memory");
        c->cap_nodes = cap;
    }
    int32_t *cs = c->start;
    memset(cs, 0, (nn + 1) * sizeof *cs);
    for (size_t v = 0; v < nn; v++) {
        const dbx__node *n = &g->nodes[v];
        const int32_t *a = dbx__node_args(g, n);
        for (int i = 0; i < n->nargs; i++) cs[a[i] + 1]++;
    }
    for (size_t v = 0; v < nn; v++) cs[v + 1] += cs[v];
    DBX_TRY(DBX_GROW(c->cons, c->cap_cons, (size_t)cs[nn] + 1));
    int32_t *fill = c->fill;
    memcpy(fill, cs, nn * sizeof *fill);
    for (size_t v = 0; v < nn; v++) {
        const dbx__node *n = &g->nodes[v];
        const int32_t *a = dbx__node_args(g, n);
        for (int i = 0; i < n->nargs; i++) c->cons[fill[a[i]]++] = (int32_t)v;
    }
    return DBX_OK;
}

void dbx__cons_free(dbx__cons *c)
{
    free(c->start);
    free(c->cons);
    free(c->fill);
}

void dbx__schedule_free(dbx__schedule *s)
{
    free(s->order);
    free(s->batches);
    free(s->batch_of);
    free(s->pos);
}

void dbx__ready_free(dbx__ready *r)
{
    free(r->pending);
    for (size_t s = 0; s < r->nsig_alloc; s++) free(r->ready[s]);
    free(r->ready);
    free(r->nready);
    free(r->cap_ready);
    free(r->ready_depth);
    free(r->keys);
    free(r->buckets);
}

static dbx_status sched_none(dbx__schedule *sc, const dbx_graph *g)
{
    for (size_t v = 0; v < g->nnodes; v++) {
        sc->order[v] = (int32_t)v;
        DBX_TRY(push_batch(sc, g, (int32_t)v, 1));
    }
    return DBX_OK;
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Counting sort of the nodes by (depth, signature), stable in node id: the same order as
   sorting the (depth, signature, id) keys, in linear time. */
static int sched_depth_counting(dbx__schedule *sc, dbx__ready *r, const dbx_graph *g,
                                size_t *nbuckets_out)
{
    size_t nn = g->nnodes, ns = g->nsigs;
    int32_t maxd = 0;
    for (size_t v = 0; v < nn; v++)
        if (g->nodes[v].depth > maxd) maxd = g->nodes[v].depth;
    size_t nb = ((size_t)maxd + 1) * ns;
    if (nb > 4 * nn + 4096) return 0; /* sparse keys: the comparison sort is cheaper */
    if (DBX_GROW(r->buckets, r->cap_buckets, nb + 1)) return 0;
    memset(r->buckets, 0, (nb + 1) * sizeof *r->buckets);
    for (size_t v = 0; v < nn; v++)
        r->buckets[(size_t)g->nodes[v].depth * ns + (size_t)g->nodes[v].sig + 1]++;
    for (size_t b = 0; b < nb; b++) r->buckets[b + 1] += r->buckets[b];
    for (size_t v = 0; v < nn; v++)
        sc->order[r->buckets[(size_t)g->nodes[v].depth * ns + (size_t)g->nodes[v].sig]++] =
            (int32_t)v;
    *nbuckets_out = nb;
    return 1;
}

static dbx_status sched_depth(dbx__schedule *sc, dbx__ready *r, const dbx_graph *g)
{
    size_t nn = g->nnodes, nb = 0;
    if (sched_depth_counting(sc, r, g, &nb)) {
        /* after the scatter, buckets[b] is the end of bucket b: emit the non-empty runs */
        size_t start = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t end = (size_t)r->buckets[b];
            if (end > start) DBX_TRY(push_batch(sc, g, (int32_t)start, (int32_t)(end - start)));
            start = end;
        }
        return DBX_OK;
    }
    /* key = depth, signature, node id: a sort gives batches in order */
    for (size_t v = 0; v < nn; v++) {
        const dbx__node *n = &g->nodes[v];
        r->keys[v] = ((uint64_t)(uint32_t)n->depth << 44) | ((uint64_t)(uint32_t)n->sig << 24) | v;
    }
    if (nn >= (1u << 24)) return dbx__fail(DBX_ENOTSUP, "depth scheduler: graph over 16M nodes");
    qsort(r->keys, nn, sizeof *r->keys, cmp_key);
    size_t i = 0;
    while (i < nn) {
        size_t j = i;
        uint64_t k = r->keys[i] >> 24;
        while (j < nn && (r->keys[j] >> 24) == k) {
            sc->order[j] = (int32_t)(r->keys[j] & 0xffffff);
            j++;
        }
        DBX_TRY(push_batch(sc, g, (int32_t)i, (int32_t)(j - i)));
        i = j;
    }
    return DBX_OK;
}

static dbx_status ready_push(dbx__ready *r, const dbx_graph *g, int32_t v)
{
    int32_t s = g->nodes[v].sig;
    DBX_TRY(DBX_GROW(r->ready[s], r->cap_ready[s], r->nready[s] + 1));
    r->ready[s][r->nready[s]++] = v;
    return DBX_OK;
}

static dbx_status sched_agenda(dbx__schedule *sc, dbx__ready *r, const dbx__cons *c,
                               const dbx_graph *g)
{
    size_t nn = g->nnodes, ns = g->nsigs;
    if (ns > r->nsig_alloc) {
        int32_t **rr = realloc(r->ready, ns * sizeof *rr);
        size_t *nr = realloc(r->nready, ns * sizeof *nr);
        size_t *cr = realloc(r->cap_ready, ns * sizeof *cr);
        double *rd = realloc(r->ready_depth, ns * sizeof *rd);
        if (rr) r->ready = rr;
        if (nr) r->nready = nr;
        if (cr) r->cap_ready = cr;
        if (rd) r->ready_depth = rd;
        if (!rr || !nr || !cr || !rd) return dbx__fail(DBX_ENOMEM, "out of memory");
        for (size_t s = r->nsig_alloc; s < ns; s++) {
            r->ready[s] = NULL;
            r->cap_ready[s] = 0;
        }
        r->nsig_alloc = ns;
    }
    /* static priority: ready_depth[s] = mean depth of all nodes of signature s; the node
       counts are accumulated in nready first */
    memset(r->nready, 0, ns * sizeof *r->nready);
    memset(r->ready_depth, 0, ns * sizeof *r->ready_depth);
    for (size_t v = 0; v < nn; v++) {
        r->ready_depth[g->nodes[v].sig] += g->nodes[v].depth;
        r->nready[g->nodes[v].sig]++;
    }
    for (size_t s = 0; s < ns; s++) {
        if (r->nready[s]) r->ready_depth[s] /= (double)r->nready[s];
        r->nready[s] = 0;
    }
    for (size_t v = 0; v < nn; v++) {
        r->pending[v] = g->nodes[v].nargs;
        if (!g->nodes[v].nargs) DBX_TRY(ready_push(r, g, (int32_t)v));
    }
    size_t done = 0;
    while (done < nn) {
        /* the ready signature with the lowest average depth; ties: non-affine first, then
           the lowest signature id */
        int32_t best = -1;
        double bestd = 0;
        int best_affine = 0;
        for (size_t s = 0; s < ns; s++) {
            if (!r->nready[s]) continue;
            double d = r->ready_depth[s];
            int aff = g->sigkeys[g->sigkey_off[s]] == DBX_OP_AFFINE;
            if (best < 0 || d < bestd || (d == bestd && best_affine && !aff)) {
                best = (int32_t)s;
                bestd = d;
                best_affine = aff;
            }
        }
        if (best < 0) return dbx__fail(DBX_EINVAL, "agenda scheduler: graph has a cycle");
        size_t n = r->nready[best];
        memcpy(sc->order + done, r->ready[best], n * sizeof *sc->order);
        r->nready[best] = 0;
        DBX_TRY(push_batch(sc, g, (int32_t)done, (int32_t)n));
        for (size_t i = done; i < done + n; i++) {
            int32_t v = sc->order[i];
            for (int32_t k = c->start[v]; k < c->start[v + 1]; k++) {
                int32_t u = c->cons[k];
                if (--r->pending[u] == 0) DBX_TRY(ready_push(r, g, u));
            }
        }
        done += n;
    }
    return DBX_OK;
}

static dbx_status grow_nodes(void **arrs[], size_t narrs, size_t es, size_t *cap, size_t n)
{
    if (n <= *cap) return DBX_OK;
    size_t c = *cap * 2 > n ? *cap * 2 : n;
    for (size_t i = 0; i < narrs; i++) {
        void *q = realloc(*arrs[i], c * es);
        if (!q) return dbx__fail(DBX_ENOMEM, "out of memory");
        *arrs[i] = q;
    }
    *cap = c;
    return DBX_OK;
}

dbx_status dbx__schedule_build(dbx__schedule *sc, dbx__ready *r, const dbx__cons *c,
                               dbx_sched_policy policy, const dbx_graph *g)
{
    size_t nn = g->nnodes;
    void **sarrs[] = {(void **)&sc->order, (void **)&sc->batch_of, (void **)&sc->pos};
    DBX_TRY(grow_nodes(sarrs, 3, sizeof(int32_t), &sc->cap_nodes, nn + 1));
    if (nn + 1 > r->cap_nodes) {
        size_t cap = r->cap_nodes;
        void **p[] = {(void **)&r->pending};
        DBX_TRY(grow_nodes(p, 1, sizeof(int32_t), &cap, nn + 1));
        cap = r->cap_nodes;
        void **k[] = {(void **)&r->keys};
        DBX_TRY(grow_nodes(k, 1, sizeof(uint64_t), &cap, nn + 1));
        r->cap_nodes = cap;
    }
    sc->nbatches = 0;
    switch (policy) {
    case DBX_SCHED_NONE: return sched_none(sc, g);
    case DBX_SCHED_DEPTH: return sched_depth(sc, r, g);
    case DBX_SCHED_AGENDA: return sched_agenda(sc, r, c, g);
    }
    return dbx__fail(DBX_EINVAL, "unknown scheduler %d", (int)policy);
}
