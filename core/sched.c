/* The scheduler driver: turns a merged minibatch graph into an ordered list of batches, each
 * a set of nodes with one signature whose inputs are computed by earlier batches.
 *
 * The driver owns the ready set (dbx_sched_ready); a scheduler (include/dbx/sched.h) only
 * chooses which ready group runs next. The driver then appends the group's nodes to the
 * schedule as one batch and updates the ready set:
 *   DBX_SCHED_GROUP_NODE   pending-argument counts per node; every ready node is a group;
 *   DBX_SCHED_GROUP_SIG    pending-argument counts per node; the ready nodes of each signature in
 *                    the order they became ready (nodes without arguments in id order, then
 *                    each batch's consumers in batch order and consumer-list order);
 *   DBX_SCHED_GROUP_DEPTH  the nodes sorted by (depth, signature, id) once (a counting sort, or a
 *                    comparison sort for sparse keys), cut into runs; a depth's runs become
 *                    ready together once every run of lower depth has run.
 * Ready groups sit in an unordered list with each group's place in it, so adding, removing
 * and listing them is O(1) per group; the lowest group still to run (NODE, DEPTH) is kept
 * by a cursor. Uses only the schedule's and the ready set's reusable arrays.
 * Not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/status.h"

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
    if (dbx__op_vary_arity[nd->op]) /* the batch's nargs: the most any node has */
        for (int32_t i = 1; i < n; i++) {
            const int na = g->nodes[sc->order[first + i]].nargs;
            if (na > b->nargs) b->nargs = na;
        }
    return DBX_OK;
}

/* ---- consumers, schedule ----------------------------------------------------------------- */
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

void dbx__ready_free(dbx_sched_ready *r)
{
    free(r->list);
    free(r->where);
    free(r->pending);
    for (size_t s = 0; s < r->nsig_alloc; s++) free(r->sig_ready[s]);
    free(r->sig_ready);
    free(r->nsig_ready);
    free(r->cap_sig_ready);
    free(r->sorted);
    free(r->keys);
    free(r->buckets);
    free(r->runs);
}

/* ---- the ready list ---------------------------------------------------------------------- */
static void list_add(dbx_sched_ready *r, int32_t grp)
{
    r->where[grp] = r->nlist;
    r->list[r->nlist++] = grp;
}

/* Takes grp out of the list, marking it DBX__NOT_READY or DBX__RAN. */
static void list_remove(dbx_sched_ready *r, int32_t grp, int32_t mark)
{
    const int32_t at = r->where[grp], last = r->list[--r->nlist];
    r->list[at] = last;
    r->where[last] = at;
    r->where[grp] = mark;
}

static dbx_status grow_groups(dbx_sched_ready *r, size_t n)
{
    if (n <= r->cap_groups) return DBX_OK;
    size_t c = r->cap_groups;
    DBX_TRY(DBX_GROW(r->list, c, n));
    c = r->cap_groups;
    DBX_TRY(DBX_GROW(r->where, c, n));
    r->cap_groups = c;
    return DBX_OK;
}

/* ---- DBX_SCHED_GROUP_SIG --------------------------------------------------------------------- */
/* Node v (signature s) became ready. Inline: once per node of every step. */
static inline dbx_status sig_push(dbx_sched_ready *r, int32_t s, int32_t v)
{
    if ((size_t)r->nsig_ready[s] == r->cap_sig_ready[s])
        DBX_TRY(DBX_GROW(r->sig_ready[s], r->cap_sig_ready[s], (size_t)r->nsig_ready[s] + 1));
    r->sig_ready[s][r->nsig_ready[s]++] = v;
    if (r->where[s] == DBX__NOT_READY) list_add(r, s);
    return DBX_OK;
}

static dbx_status init_sig(dbx_sched_ready *r, const dbx_graph *g)
{
    const size_t ns = g->nsigs;
    if (ns > r->nsig_alloc) {
        int32_t **rr = realloc(r->sig_ready, ns * sizeof *rr);
        if (rr) r->sig_ready = rr;
        int32_t *nr = realloc(r->nsig_ready, ns * sizeof *nr);
        if (nr) r->nsig_ready = nr;
        size_t *cr = realloc(r->cap_sig_ready, ns * sizeof *cr);
        if (cr) r->cap_sig_ready = cr;
        if (!rr || !nr || !cr) return dbx__fail(DBX_ENOMEM, "out of memory");
        for (size_t s = r->nsig_alloc; s < ns; s++) {
            r->sig_ready[s] = NULL;
            r->cap_sig_ready[s] = 0;
        }
        r->nsig_alloc = ns;
    }
    DBX_TRY(grow_groups(r, ns));
    r->ngroups = (int32_t)ns;
    memset(r->nsig_ready, 0, ns * sizeof *r->nsig_ready);
    for (size_t s = 0; s < ns; s++) r->where[s] = DBX__NOT_READY;
    for (size_t v = 0; v < g->nnodes; v++) {
        r->pending[v] = g->nodes[v].nargs;
        if (!g->nodes[v].nargs) DBX_TRY(sig_push(r, g->nodes[v].sig, (int32_t)v));
    }
    return DBX_OK;
}

/* ---- DBX_SCHED_GROUP_NODE -------------------------------------------------------------------- */
static dbx_status init_node(dbx_sched_ready *r, const dbx_graph *g)
{
    DBX_TRY(grow_groups(r, g->nnodes));
    r->ngroups = (int32_t)g->nnodes;
    for (size_t v = 0; v < g->nnodes; v++) {
        r->pending[v] = g->nodes[v].nargs;
        r->where[v] = DBX__NOT_READY;
        if (!g->nodes[v].nargs) list_add(r, (int32_t)v);
    }
    return DBX_OK;
}

/* ---- DBX_SCHED_GROUP_DEPTH ------------------------------------------------------------------- */
static dbx_status add_run(dbx_sched_ready *r, size_t *nruns, int32_t start, int32_t n,
                          int32_t depth, int32_t sig)
{
    DBX_TRY(DBX_GROW(r->runs, r->cap_runs, *nruns + 1));
    r->runs[(*nruns)++] = (dbx__run){.start = start, .n = n, .depth = depth, .sig = sig};
    return DBX_OK;
}

/* Counting sort of the nodes by (depth, signature), stable in node id: the same order as
   sorting the (depth, signature, id) keys, in linear time. 0: keys too sparse for it. */
static int depth_counting(dbx_sched_ready *r, const dbx_graph *g, size_t *nbuckets_out)
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
        r->sorted[r->buckets[(size_t)g->nodes[v].depth * ns + (size_t)g->nodes[v].sig]++] =
            (int32_t)v;
    *nbuckets_out = nb;
    return 1;
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Opens the next depth: its runs become ready. */
static void open_level(dbx_sched_ready *r)
{
    const int32_t d = r->runs[r->level_end].depth;
    while (r->level_end < r->ngroups && r->runs[r->level_end].depth == d)
        list_add(r, r->level_end++);
}

static dbx_status init_depth(dbx_sched_ready *r, const dbx_graph *g)
{
    size_t nn = g->nnodes, ns = g->nsigs, nb = 0, nruns = 0;
    if (depth_counting(r, g, &nb)) {
        /* after the scatter, buckets[b] is the end of bucket b: the non-empty ones are runs */
        size_t start = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t end = (size_t)r->buckets[b];
            if (end > start)
                DBX_TRY(add_run(r, &nruns, (int32_t)start, (int32_t)(end - start),
                                (int32_t)(b / ns), (int32_t)(b % ns)));
            start = end;
        }
    } else {
        /* key = depth, signature, node id: a sort gives the runs in order */
        if (nn >= (1u << 24) || ns >= (1u << 20))
            return dbx__fail(DBX_ENOTSUP, "depth batching: graph over 16M nodes or 1M signatures");
        for (size_t v = 0; v < nn; v++) {
            const dbx__node *n = &g->nodes[v];
            r->keys[v] = ((uint64_t)(uint32_t)n->depth << 44) |
                         ((uint64_t)(uint32_t)n->sig << 24) | v;
        }
        qsort(r->keys, nn, sizeof *r->keys, cmp_key);
        size_t i = 0;
        while (i < nn) {
            size_t j = i;
            uint64_t k = r->keys[i] >> 24;
            for (; j < nn && (r->keys[j] >> 24) == k; j++)
                r->sorted[j] = (int32_t)(r->keys[j] & 0xffffff);
            DBX_TRY(add_run(r, &nruns, (int32_t)i, (int32_t)(j - i), (int32_t)(k >> 20),
                            (int32_t)(k & 0xfffff)));
            i = j;
        }
    }
    DBX_TRY(grow_groups(r, nruns));
    r->ngroups = (int32_t)nruns;
    for (size_t i = 0; i < nruns; i++) r->where[i] = DBX__NOT_READY;
    r->level_end = 0;
    if (nruns) open_level(r);
    return DBX_OK;
}

/* ---- the driver -------------------------------------------------------------------------- */
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

static dbx_status ready_init(dbx_sched_ready *r, dbx_sched_grouping grouping, const dbx_graph *g)
{
    const size_t nn = g->nnodes;
    if (nn + 1 > r->cap_nodes) {
        size_t cap = r->cap_nodes;
        void **p[] = {(void **)&r->pending, (void **)&r->sorted};
        DBX_TRY(grow_nodes(p, 2, sizeof(int32_t), &cap, nn + 1));
        cap = r->cap_nodes;
        void **k[] = {(void **)&r->keys};
        DBX_TRY(grow_nodes(k, 1, sizeof(uint64_t), &cap, nn + 1));
        r->cap_nodes = cap;
    }
    r->g = g;
    r->grouping = grouping;
    r->remaining = (int32_t)nn;
    r->nlist = 0;
    r->first = 0;
    switch (grouping) {
    case DBX_SCHED_GROUP_NODE: return init_node(r, g);
    case DBX_SCHED_GROUP_DEPTH: return init_depth(r, g);
    case DBX_SCHED_GROUP_SIG: return init_sig(r, g);
    }
    return dbx__fail(DBX_EINVAL, "unknown scheduler grouping %d", (int)grouping);
}

/* Moves the cursor past the groups that ran. */
static void advance_first(dbx_sched_ready *r)
{
    while (r->first < r->ngroups && r->where[r->first] == DBX__RAN) r->first++;
}

/* Appends ready group grp to the schedule at order[done ..]; *n receives its node count. */
static int32_t take_group(dbx_sched_ready *r, int32_t grp, int32_t *dst)
{
    int32_t n = 0;
    switch (r->grouping) {
    case DBX_SCHED_GROUP_NODE:
        dst[0] = grp;
        n = 1;
        list_remove(r, grp, DBX__RAN);
        advance_first(r);
        break;
    case DBX_SCHED_GROUP_DEPTH: {
        const dbx__run *ru = &r->runs[grp];
        n = ru->n;
        memcpy(dst, r->sorted + ru->start, (size_t)n * sizeof *dst);
        list_remove(r, grp, DBX__RAN);
        advance_first(r);
        if (!r->nlist && r->level_end < r->ngroups) open_level(r);
        break;
    }
    case DBX_SCHED_GROUP_SIG:
        n = r->nsig_ready[grp];
        memcpy(dst, r->sig_ready[grp], (size_t)n * sizeof *dst);
        r->nsig_ready[grp] = 0;
        list_remove(r, grp, DBX__NOT_READY);
        break;
    }
    return n;
}

dbx_status dbx__schedule_build(dbx__schedule *sc, dbx_sched_ready *r, const dbx__cons *c,
                               const dbx_sched_type *t, void *state, const dbx_graph *g)
{
    const size_t nn = g->nnodes;
    void **sarrs[] = {(void **)&sc->order, (void **)&sc->batch_of, (void **)&sc->pos};
    DBX_TRY(grow_nodes(sarrs, 3, sizeof(int32_t), &sc->cap_nodes, nn + 1));
    sc->nbatches = 0;
    DBX_TRY(ready_init(r, t->grouping, g));
    if (t->begin) DBX_TRY(t->begin(state, g, r));
    const int counts = t->grouping != DBX_SCHED_GROUP_DEPTH; /* depth readiness is by level */
    int32_t done = 0;
    while (r->remaining > 0) {
        if (!r->nlist)
            return dbx__fail(DBX_EINVAL, "scheduler '%s': nothing is ready but %d nodes have "
                                         "not run (a cycle?)", t->name, (int)r->remaining);
        int32_t grp = -1;
        DBX_TRY(t->choose(state, g, r, &grp));
        if (grp < 0 || grp >= r->ngroups || r->where[grp] < 0)
            return dbx__fail(DBX_EINVAL, "scheduler '%s' chose group %d, which is not ready",
                             t->name, (int)grp);
        int32_t *dst = sc->order + done;
        const int32_t n = take_group(r, grp, dst);
        DBX_TRY(push_batch(sc, g, done, n));
        r->remaining -= n;
        done += n;
        if (!counts) continue;
        /* the consumers whose last argument just ran become ready */
        const int32_t *start = c->start, *cons = c->cons;
        int32_t *pending = r->pending;
        const dbx__node *nodes = g->nodes;
        for (int32_t i = 0; i < n; i++) {
            const int32_t v = dst[i], end = start[v + 1];
            for (int32_t k = start[v]; k < end; k++) {
                const int32_t u = cons[k];
                if (--pending[u] != 0) continue;
                if (r->grouping == DBX_SCHED_GROUP_SIG) DBX_TRY(sig_push(r, nodes[u].sig, u));
                else list_add(r, u);
            }
        }
    }
    return DBX_OK;
}

/* ---- the ready set seen by schedulers ---------------------------------------------------- */
static int is_ready(const dbx_sched_ready *r, int32_t grp)
{
    return grp >= 0 && grp < r->ngroups && r->where[grp] >= 0;
}

int32_t dbx_sched_ready_groups(const dbx_sched_ready *r, const int32_t **groups)
{
    *groups = r->list;
    return r->nlist;
}

int32_t dbx_sched_ready_first(const dbx_sched_ready *r)
{
    if (!r->nlist) return -1;
    if (r->grouping != DBX_SCHED_GROUP_SIG) return r->first; /* always ready: see advance_first */
    int32_t best = r->list[0];
    for (int32_t i = 1; i < r->nlist; i++)
        if (r->list[i] < best) best = r->list[i];
    return best;
}

int32_t dbx_sched_ready_remaining(const dbx_sched_ready *r) { return r->remaining; }

int32_t dbx_sched_group_sig(const dbx_sched_ready *r, int32_t grp)
{
    if (!is_ready(r, grp)) return -1;
    switch (r->grouping) {
    case DBX_SCHED_GROUP_NODE: return r->g->nodes[grp].sig;
    case DBX_SCHED_GROUP_DEPTH: return r->runs[grp].sig;
    case DBX_SCHED_GROUP_SIG: return grp;
    }
    return -1;
}

int32_t dbx_sched_group_size(const dbx_sched_ready *r, int32_t grp)
{
    if (!is_ready(r, grp)) return 0;
    switch (r->grouping) {
    case DBX_SCHED_GROUP_NODE: return 1;
    case DBX_SCHED_GROUP_DEPTH: return r->runs[grp].n;
    case DBX_SCHED_GROUP_SIG: return r->nsig_ready[grp];
    }
    return 0;
}

const dbx_node *dbx_sched_group_nodes(const dbx_sched_ready *r, int32_t grp)
{
    if (!is_ready(r, grp)) return NULL;
    switch (r->grouping) {
    case DBX_SCHED_GROUP_NODE: return &r->list[r->where[grp]]; /* the list entry is the node */
    case DBX_SCHED_GROUP_DEPTH: return r->sorted + r->runs[grp].start;
    case DBX_SCHED_GROUP_SIG: return r->sig_ready[grp];
    }
    return NULL;
}
