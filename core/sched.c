/* Schedulers: turn a merged minibatch graph into an ordered list of batches, each a set of
 * nodes with one signature whose inputs are computed by earlier batches.
 *   none   node by node in creation order (the unbatched baseline)
 *   depth  nodes grouped by (depth, signature), in increasing depth (TensorFlow Fold)
 *   agenda repeatedly run every ready node of the ready signature whose nodes have the lowest
 *          average depth, averaged over all nodes of that signature in the graph; ties go
 *          to non-affine signatures (DyNet's agenda-based autobatching). A signature whose
 *          nodes sit deep on average (an MLP over both directions of a BiLSTM, the losses)
 *          thus waits until shallower work is exhausted and then runs as one wide batch.
 * Uses only the executor's reusable arrays. Not thread-safe. */
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

static dbx_status push_batch(dbx_exec *ex, const dbx_graph *g, int32_t first, int32_t n)
{
    DBX_TRY(DBX_GROW(ex->batches, ex->cap_batches, ex->nbatches + 1));
    const dbx__node *nd = &g->nodes[ex->order[first]];
    dbx__batch *b = &ex->batches[ex->nbatches++];
    memset(b, 0, sizeof *b);
    b->first = first;
    b->n = n;
    b->sig = nd->sig;
    b->op = nd->op;
    b->dim = nd->dim;
    b->nargs = nd->nargs;
    return DBX_OK;
}

static dbx_status build_consumers(dbx_exec *ex, const dbx_graph *g)
{
    size_t nn = g->nnodes;
    int32_t *cs = ex->cons_start;
    memset(cs, 0, (nn + 1) * sizeof *cs);
    for (size_t v = 0; v < nn; v++) {
        const dbx__node *n = &g->nodes[v];
        const int32_t *a = dbx__node_args(g, n);
        for (int i = 0; i < n->nargs; i++) cs[a[i] + 1]++;
    }
    for (size_t v = 0; v < nn; v++) cs[v + 1] += cs[v];
    DBX_TRY(DBX_GROW(ex->cons, ex->cap_cons, (size_t)cs[nn] + 1));
    int32_t *fill = ex->tmp;
    memcpy(fill, cs, nn * sizeof *fill);
    for (size_t v = 0; v < nn; v++) {
        const dbx__node *n = &g->nodes[v];
        const int32_t *a = dbx__node_args(g, n);
        for (int i = 0; i < n->nargs; i++) ex->cons[fill[a[i]]++] = (int32_t)v;
    }
    return DBX_OK;
}

static dbx_status sched_none(dbx_exec *ex, const dbx_graph *g)
{
    for (size_t v = 0; v < g->nnodes; v++) {
        ex->order[v] = (int32_t)v;
        DBX_TRY(push_batch(ex, g, (int32_t)v, 1));
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
static int sched_depth_counting(dbx_exec *ex, const dbx_graph *g, size_t *nbuckets_out)
{
    size_t nn = g->nnodes, ns = g->nsigs;
    int32_t maxd = 0;
    for (size_t v = 0; v < nn; v++)
        if (g->nodes[v].depth > maxd) maxd = g->nodes[v].depth;
    size_t nb = ((size_t)maxd + 1) * ns;
    if (nb > 4 * nn + 4096) return 0; /* sparse keys: the comparison sort is cheaper */
    if (DBX_GROW(ex->buckets, ex->cap_buckets, nb + 1)) return 0;
    memset(ex->buckets, 0, (nb + 1) * sizeof *ex->buckets);
    for (size_t v = 0; v < nn; v++)
        ex->buckets[(size_t)g->nodes[v].depth * ns + (size_t)g->nodes[v].sig + 1]++;
    for (size_t b = 0; b < nb; b++) ex->buckets[b + 1] += ex->buckets[b];
    for (size_t v = 0; v < nn; v++)
        ex->order[ex->buckets[(size_t)g->nodes[v].depth * ns + (size_t)g->nodes[v].sig]++] =
            (int32_t)v;
    *nbuckets_out = nb;
    return 1;
}

static dbx_status sched_depth(dbx_exec *ex, const dbx_graph *g)
{
    size_t nn = g->nnodes, nb = 0;
    if (sched_depth_counting(ex, g, &nb)) {
        /* after the scatter, buckets[b] is the end of bucket b: emit the non-empty runs */
        size_t start = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t end = (size_t)ex->buckets[b];
            if (end > start) DBX_TRY(push_batch(ex, g, (int32_t)start, (int32_t)(end - start)));
            start = end;
        }
        return DBX_OK;
    }
    /* key = depth, signature, node id: a sort gives batches in order */
    for (size_t v = 0; v < nn; v++) {
        const dbx__node *n = &g->nodes[v];
        ex->keys[v] = ((uint64_t)(uint32_t)n->depth << 44) | ((uint64_t)(uint32_t)n->sig << 24) | v;
    }
    if (nn >= (1u << 24)) return dbx__fail(DBX_ENOTSUP, "depth scheduler: graph over 16M nodes");
    qsort(ex->keys, nn, sizeof *ex->keys, cmp_key);
    size_t i = 0;
    while (i < nn) {
        size_t j = i;
        uint64_t k = ex->keys[i] >> 24;
        while (j < nn && (ex->keys[j] >> 24) == k) {
            ex->order[j] = (int32_t)(ex->keys[j] & 0xffffff);
            j++;
        }
        DBX_TRY(push_batch(ex, g, (int32_t)i, (int32_t)(j - i)));
        i = j;
    }
    return DBX_OK;
}

static dbx_status ready_push(dbx_exec *ex, const dbx_graph *g, int32_t v)
{
    int32_t s = g->nodes[v].sig;
    DBX_TRY(DBX_GROW(ex->ready[s], ex->cap_ready[s], ex->nready[s] + 1));
    ex->ready[s][ex->nready[s]++] = v;
    return DBX_OK;
}

static dbx_status sched_agenda(dbx_exec *ex, const dbx_graph *g)
{
    size_t nn = g->nnodes, ns = g->nsigs;
    if (ns > ex->nsig_alloc) {
        int32_t **r = realloc(ex->ready, ns * sizeof *r);
        size_t *nr = realloc(ex->nready, ns * sizeof *nr);
        size_t *cr = realloc(ex->cap_ready, ns * sizeof *cr);
        double *rd = realloc(ex->ready_depth, ns * sizeof *rd);
        if (r) ex->ready = r;
        if (nr) ex->nready = nr;
        if (cr) ex->cap_ready = cr;
        if (rd) ex->ready_depth = rd;
        if (!r || !nr || !cr || !rd) return dbx__fail(DBX_ENOMEM, "out of memory");
        for (size_t s = ex->nsig_alloc; s < ns; s++) {
            ex->ready[s] = NULL;
            ex->cap_ready[s] = 0;
        }
        ex->nsig_alloc = ns;
    }
    /* static priority: ready_depth[s] = mean depth of all nodes of signature s; the node
       counts are accumulated in nready first */
    memset(ex->nready, 0, ns * sizeof *ex->nready);
    memset(ex->ready_depth, 0, ns * sizeof *ex->ready_depth);
    for (size_t v = 0; v < nn; v++) {
        ex->ready_depth[g->nodes[v].sig] += g->nodes[v].depth;
        ex->nready[g->nodes[v].sig]++;
    }
    for (size_t s = 0; s < ns; s++) {
        if (ex->nready[s]) ex->ready_depth[s] /= (double)ex->nready[s];
        ex->nready[s] = 0;
    }
    for (size_t v = 0; v < nn; v++) {
        ex->pending[v] = g->nodes[v].nargs;
        if (!g->nodes[v].nargs) DBX_TRY(ready_push(ex, g, (int32_t)v));
    }
    size_t done = 0;
    while (done < nn) {
        /* the ready signature with the lowest average depth; ties: non-affine first, then
           the lowest signature id */
        int32_t best = -1;
        double bestd = 0;
        int best_affine = 0;
        for (size_t s = 0; s < ns; s++) {
            if (!ex->nready[s]) continue;
            double d = ex->ready_depth[s];
            int aff = g->sigkeys[g->sigkey_off[s]] == DBX_OP_AFFINE;
            if (best < 0 || d < bestd || (d == bestd && best_affine && !aff)) {
                best = (int32_t)s;
                bestd = d;
                best_affine = aff;
            }
        }
        if (best < 0) return dbx__fail(DBX_EINVAL, "agenda scheduler: graph has a cycle");
        size_t n = ex->nready[best];
        memcpy(ex->order + done, ex->ready[best], n * sizeof *ex->order);
        ex->nready[best] = 0;
        DBX_TRY(push_batch(ex, g, (int32_t)done, (int32_t)n));
        for (size_t i = done; i < done + n; i++) {
            int32_t v = ex->order[i];
            for (int32_t c = ex->cons_start[v]; c < ex->cons_start[v + 1]; c++) {
                int32_t u = ex->cons[c];
                if (--ex->pending[u] == 0) DBX_TRY(ready_push(ex, g, u));
            }
        }
        done += n;
    }
    return DBX_OK;
}

dbx_status dbx__schedule(dbx_exec *ex, const dbx_graph *g)
{
    size_t nn = g->nnodes;
    if (nn + 1 > ex->cap_nodes) {
        size_t c = ex->cap_nodes * 2 > nn + 1 ? ex->cap_nodes * 2 : nn + 1;
        void **arrs[] = {(void **)&ex->order, (void **)&ex->batch_of, (void **)&ex->pos,
                         (void **)&ex->pending, (void **)&ex->tmp, (void **)&ex->cons_start};
        for (size_t i = 0; i < sizeof arrs / sizeof *arrs; i++) {
            void *q = realloc(*arrs[i], c * sizeof(int32_t));
            if (!q) return dbx__fail(DBX_ENOMEM, "out of memory");
            *arrs[i] = q;
        }
        void *k = realloc(ex->keys, c * sizeof *ex->keys);
        if (k) ex->keys = k;
        void *o = realloc(ex->off, c * sizeof *ex->off);
        if (o) ex->off = o;
        if (!k || !o) return dbx__fail(DBX_ENOMEM, "out of memory");
        ex->cap_nodes = c;
    }
    ex->nbatches = 0;
    DBX_TRY(build_consumers(ex, g));
    switch (ex->opts.sched) {
    case DBX_SCHED_NONE: return sched_none(ex, g);
    case DBX_SCHED_DEPTH: return sched_depth(ex, g);
    case DBX_SCHED_AGENDA: return sched_agenda(ex, g);
    }
    return dbx__fail(DBX_EINVAL, "unknown scheduler %d", (int)ex->opts.sched);
}
