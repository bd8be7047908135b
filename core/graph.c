/* Graph building: the expression-style builder API, batching signatures, and common
 * subexpression elimination across the samples of a minibatch.
 *
 * A node's signature (op, output and argument shapes, shared parameters) decides which
 * nodes may share one batched kernel. With dedup on, a node equal to an existing node
 * (same op, signature, per-node attribute and argument nodes) is not created again: the
 * existing handle is returned, so e.g. the same word's embedding and input transform are
 * computed once per minibatch. Inputs and losses are never merged.
 * The graph borrows its model. Not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/model.h"
#include "core/rng.h"
#include "core/status.h"

/* ---- hashing ----------------------------------------------------------------------------- */
static inline uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}

static uint64_t hash_ints(const int32_t *k, int n)
{
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (int i = 0; i < n; i++) h = mix64(h, (uint32_t)k[i]);
    return h | 1; /* never 0 */
}


/* ---- lifetime -------------------------------------------------------------------------- */
dbx_status dbx_graph_new(dbx_model *m, int dedup, dbx_graph **out)
{
    *out = NULL;
    if (!m || !m->inited)
        return dbx__fail(DBX_EINVAL, "dbx_graph_new: the model must be initialised first");
    dbx_graph *g = calloc(1, sizeof *g);
    if (!g) return dbx__fail(DBX_ENOMEM, "out of memory");
    g->m = m;
    g->dedup = dedup;
    g->gen = 1;
    g->training = 1;
    for (int op = 0; op < DBX_OP_COUNT; op++)
        for (int w = 0; w < DBX__SIG_WAYS; w++) g->sig_last[op][w] = -1;
    *out = g;
    return DBX_OK;
}

void dbx_graph_free(dbx_graph *g)
{
    if (!g) return;
    free(g->nodes);
    free(g->uses);
    free(g->args);
    free(g->terms);
    free(g->data);
    free(g->losses);
    free(g->outputs);
    free(g->cse);
    free(g->sigtab);
    free(g->sigkeys);
    free(g->sigkey_off);
    free(g->keybuf);
    free(g->sighash);
    free(g->sig_count);
    free(g->sig_depth);
    free(g);
}

static uint64_t rng_mix(uint64_t x);
static dbx_node bad(dbx_graph *g, dbx_status s, const char *msg);
static int valid_node(const dbx_graph *g, dbx_node x) { return x >= 0 && (size_t)x < g->nnodes; }

void dbx_graph_clear(dbx_graph *g)
{
    g->nnodes = g->nargs = g->nterms = g->ndata = g->nlosses = g->ncse = g->noutputs = 0;
    g->nsamples = 0;
    dbx_graph_set_rng(g, rng_mix(g->rng_key + 1)); /* a fresh stream per step */
    g->requested = 0;
    g->req_gemm_flops = 0;
    g->err = DBX_OK;
    g->errmsg[0] = 0;
    if (g->sigstat_nodes) {
        memset(g->sig_count, 0, g->nsigs * sizeof *g->sig_count);
        memset(g->sig_depth, 0, g->nsigs * sizeof *g->sig_depth);
        g->sigstat_nodes = 0;
    }
    if (++g->gen == 0) { /* wrapped: really clear the table */
        if (g->cse) memset(g->cse, 0, g->cse_cap * sizeof *g->cse);
        g->gen = 1;
    }
}

/* splitmix64 of x: the random streams' mixing step */
static uint64_t rng_mix(uint64_t x) { return dbx__splitmix64(&x); }

void dbx_graph_begin_sample(dbx_graph *g)
{
    g->nsamples++;
    g->rng_stream = rng_mix(g->rng_key ^ rng_mix((uint64_t)g->rng_samples++));
}

void dbx_graph_set_rng(dbx_graph *g, uint64_t key)
{
    g->rng_key = key;
    g->rng_stream = rng_mix(key);
    g->rng_samples = 0;
}

void dbx_graph_set_training(dbx_graph *g, int training) { g->training = training != 0; }
int dbx_graph_training(const dbx_graph *g) { return g->training; }
dbx_status dbx_graph_status(const dbx_graph *g) { return g->err; }
int dbx_graph_num_nodes(const dbx_graph *g) { return (int)g->nnodes; }
int dbx_graph_num_requested(const dbx_graph *g) { return (int)g->requested; }
int dbx_graph_num_samples(const dbx_graph *g) { return g->nsamples; }

dbx_node dbx_graph_output(dbx_graph *g, dbx_node x)
{
    if (g->err) return DBX_NONE;
    if (!valid_node(g, x)) return bad(g, DBX_EINVAL, "output: not a node of this graph");
    if (DBX_GROW(g->outputs, g->cap_outputs, g->noutputs + 1))
        return bad(g, DBX_ENOMEM, "out of memory");
    g->outputs[g->noutputs++] = x;
    return x;
}

int dbx_graph_num_outputs(const dbx_graph *g) { return (int)g->noutputs; }

dbx_node dbx_graph_output_at(const dbx_graph *g, int i)
{
    return i >= 0 && (size_t)i < g->noutputs ? g->outputs[i] : DBX_NONE;
}

int dbx_graph_num_losses(const dbx_graph *g) { return (int)g->nlosses; }
double dbx_graph_gemm_flops(const dbx_graph *g) { return g->req_gemm_flops; }

int dbx_node_dim(const dbx_graph *g, dbx_node x)
{
    if (x < 0 || (size_t)x >= g->nnodes) return -1;
    return g->nodes[x].dim;
}

/* Records the first builder error (sticky) and returns DBX_NONE. */
dbx_node dbx__graph_bad(dbx_graph *g, dbx_status s, const char *msg)
{
    if (g->err == DBX_OK) {
        g->err = s;
        snprintf(g->errmsg, sizeof g->errmsg, "%s", msg);
        dbx__fail(s, "graph builder: %s", msg);
    }
    return DBX_NONE;
}

static dbx_node bad(dbx_graph *g, dbx_status s, const char *msg)
{
    return dbx__graph_bad(g, s, msg);
}


int dbx__graph_valid_param(const dbx_graph *g, dbx_param p)
{
    return p >= 0 && (size_t)p < g->m->nparams;
}

/* ---- signatures ------------------------------------------------------------------------ */
/* Room for n signatures' hash and node statistics. */
static dbx_status grow_sigstat(dbx_graph *g, size_t n)
{
    if (n <= g->cap_sigstat) return DBX_OK;
    size_t c = g->cap_sigstat;
    DBX_TRY(DBX_GROW(g->sighash, c, n));
    c = g->cap_sigstat;
    DBX_TRY(DBX_GROW(g->sig_count, c, n));
    c = g->cap_sigstat;
    DBX_TRY(DBX_GROW(g->sig_depth, c, n));
    g->cap_sigstat = c;
    return DBX_OK;
}

static dbx_status sig_intern(dbx_graph *g, const int32_t *key, int len, int32_t *out)
{
    uint64_t h = hash_ints(key, len);
    if (g->nsigs * 2 + 2 > g->sigtab_cap) { /* grow and rehash */
        size_t nc = g->sigtab_cap ? g->sigtab_cap * 2 : 64;
        dbx__slot *t = calloc(nc, sizeof *t);
        if (!t) return dbx__fail(DBX_ENOMEM, "out of memory");
        for (size_t i = 0; i < g->sigtab_cap; i++) {
            if (!g->sigtab[i].gen) continue;
            size_t j = g->sigtab[i].h & (nc - 1);
            while (t[j].gen) j = (j + 1) & (nc - 1);
            t[j] = g->sigtab[i];
        }
        free(g->sigtab);
        g->sigtab = t;
        g->sigtab_cap = nc;
    }
    size_t mask = g->sigtab_cap - 1;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        dbx__slot *s = &g->sigtab[j];
        if (!s->gen) {
            DBX_TRY(DBX_GROW(g->sigkeys, g->cap_sigkeys, g->nsigkeys + (size_t)len));
            DBX_TRY(DBX_GROW(g->sigkey_off, g->cap_sigs, g->nsigs + 2));
            DBX_TRY(grow_sigstat(g, g->nsigs + 1));
            g->sighash[g->nsigs] = dbx__sig_canon_hash(g, key, len);
            g->sig_count[g->nsigs] = 0;
            g->sig_depth[g->nsigs] = 0;
            if (g->nsigs == 0) g->sigkey_off[0] = 0;
            memcpy(g->sigkeys + g->nsigkeys, key, (size_t)len * sizeof *key);
            g->nsigkeys += (size_t)len;
            g->sigkey_off[g->nsigs + 1] = (int32_t)g->nsigkeys;
            s->h = h;
            s->gen = 1;
            s->id = (int32_t)g->nsigs++;
            *out = s->id;
            return DBX_OK;
        }
        if (s->h == h) {
            int l;
            const int32_t *k = dbx__sig_key(g, s->id, &l);
            if (l == len && memcmp(k, key, (size_t)len * sizeof *key) == 0) {
                *out = s->id;
                return DBX_OK;
            }
        }
    }
}

/* ---- node creation --------------------------------------------------------------------- */

/* Longest use chain scanned for a duplicate: bounds the cost for nodes with very many
   consumers (such nodes then simply are not merged). */
#define DBX__DEDUP_SCAN 64

static int same_node(const dbx_graph *g, const dbx__node *n, const node_spec *sp, int32_t sig)
{
    return n->op == sp->op && n->sig == sig && n->attr == sp->attr && n->nargs == sp->nargs &&
           (sp->nargs == 0 || /* args may be NULL then: memcmp needs valid pointers */
            memcmp(dbx__node_args(g, n), sp->args, (size_t)sp->nargs * sizeof(dbx_node)) == 0);
}

/* What tells apart the consumers of one argument: signature, attr, arguments. Equal keys
   are compared in full; a collision costs a comparison, never a wrong merge. */
static uint32_t use_key(const node_spec *sp, int32_t sig)
{
    uint32_t k = (uint32_t)sig * 0x9e3779b1u ^ (uint32_t)sp->attr * 0x85ebca77u;
    for (int i = 0; i < sp->nargs; i++) k ^= (uint32_t)sp->args[i] * (0xc2b2ae3du + 2u * i);
    return k;
}

/* The argument whose use chain holds a node: its newest argument (highest id). A duplicate
   has the same arguments, so it is in the same chain, and the newest argument has had the
   least time to gather consumers (a frequent word's state has thousands; a fresh subtree's
   one), which keeps the walks short. */
static int32_t use_hub(const node_spec *sp)
{
    int32_t hub = sp->args[0];
    for (int i = 1; i < sp->nargs; i++)
        if (sp->args[i] > hub) hub = sp->args[i];
    return hub;
}

static int32_t cse_find(dbx_graph *g, uint64_t h, const node_spec *sp, int32_t sig)
{
    if (sp->nargs > 0) { /* a duplicate is an earlier consumer of the same newest argument */
        const uint32_t key = use_key(sp, sig);
        int steps = 0;
        for (int32_t u = g->uses[use_hub(sp)].head; u >= 0 && steps < DBX__DEDUP_SCAN;
             u = g->uses[u].next, steps++)
            if (g->uses[u].key == key && same_node(g, &g->nodes[u], sp, sig)) return u;
        return -1;
    }
    if (!g->cse_cap) return -1;
    size_t mask = g->cse_cap - 1;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        dbx__slot *s = &g->cse[j];
        if (s->gen != g->gen) return -1;
        if (s->h == h && same_node(g, &g->nodes[s->id], sp, sig)) return s->id;
    }
}

static dbx_status cse_insert(dbx_graph *g, uint64_t h, int32_t id, const node_spec *sp)
{
    if (sp->nargs > 0) {
        dbx__use *a = &g->uses[use_hub(sp)];
        g->uses[id].next = a->head;
        g->uses[id].key = use_key(sp, g->nodes[id].sig);
        a->head = id;
        return DBX_OK;
    }
    if (++g->ncse * 2 + 2 > g->cse_cap) {
        size_t nc = g->cse_cap ? g->cse_cap * 2 : 1024;
        dbx__slot *t = calloc(nc, sizeof *t);
        if (!t) return dbx__fail(DBX_ENOMEM, "out of memory");
        for (size_t i = 0; i < g->cse_cap; i++) {
            if (g->cse[i].gen != g->gen) continue;
            size_t j = g->cse[i].h & (nc - 1);
            while (t[j].gen == g->gen) j = (j + 1) & (nc - 1);
            t[j] = g->cse[i];
        }
        free(g->cse);
        g->cse = t;
        g->cse_cap = nc;
    }
    size_t mask = g->cse_cap - 1;
    size_t j = h & mask;
    while (g->cse[j].gen == g->gen) j = (j + 1) & mask;
    g->cse[j].h = h;
    g->cse[j].id = id;
    g->cse[j].gen = g->gen;
    return DBX_OK;
}

dbx_node dbx__graph_add(dbx_graph *g, const node_spec *sp)
{
    if (g->err) return DBX_NONE;
    if (sp->nargs > DBX__MAX_ARGS) return bad(g, DBX_EINVAL, "too many arguments (max 255)");
    g->requested++;
    g->req_gemm_flops += sp->gemm_flops;
    /* signature key: op, dim, nargs, arg dims, extra; an op whose arity varies inside a
       batch: op, dim, -1, the one arg dim, extra */
    const int vary = dbx__op_vary_arity[sp->op] && sp->nargs > 0;
    const int nkdims = vary ? 1 : sp->nargs;
    size_t klen = 3 + (size_t)nkdims + (size_t)sp->nextra;
    if (DBX_GROW(g->keybuf, g->cap_keybuf, 3 + (size_t)sp->nargs + (size_t)sp->nextra))
        return bad(g, DBX_ENOMEM, "out of memory");
    int32_t *key = g->keybuf;
    int depth = 0;
    key[0] = (int32_t)sp->op;
    key[1] = sp->dim;
    key[2] = vary ? -1 : sp->nargs;
    for (int i = 0; i < sp->nargs; i++) { /* varying arity: all dims equal, key[3] counts */
        const dbx__node *a = &g->nodes[sp->args[i]];
        key[3 + i] = a->dim;
        if (a->depth + 1 > depth) depth = a->depth + 1;
    }
    if (sp->nextra) memcpy(key + 3 + nkdims, sp->extra, (size_t)sp->nextra * sizeof *key);
    int32_t sig = -1, *ways = g->sig_last[sp->op];
    for (int w = 0; w < DBX__SIG_WAYS && ways[w] >= 0 && sig < 0; w++) {
        int l;
        const int32_t *k = dbx__sig_key(g, ways[w], &l);
        if ((size_t)l == klen && memcmp(k, key, klen * sizeof *key) == 0) sig = ways[w];
    }
    if (sig < 0) {
        if (sig_intern(g, key, (int)klen, &sig)) return bad(g, DBX_ENOMEM, "out of memory");
        ways[g->sig_next[sp->op]] = sig;
        g->sig_next[sp->op] = (uint8_t)((g->sig_next[sp->op] + 1) % DBX__SIG_WAYS);
    }

    int mergeable = g->dedup && dbx__op_merge[sp->op];
    uint64_t h = 0;
    if (mergeable) {
        if (sp->nargs == 0) h = mix64((uint64_t)sig * 31 + 7, (uint32_t)sp->attr);
        int32_t hit = cse_find(g, h, sp, sig);
        if (hit >= 0) return hit;
    }
    if (DBX_GROW(g->nodes, g->cap_nodes, g->nnodes + 1) ||
        DBX_GROW(g->uses, g->cap_uses, g->nnodes + 1) ||
        DBX_GROW(g->args, g->cap_args, g->nargs + (size_t)sp->nargs))
        return bad(g, DBX_ENOMEM, "out of memory");
    int32_t id = (int32_t)g->nnodes;
    dbx__node *n = &g->nodes[id];
    n->op = (uint8_t)sp->op;
    n->nargs = (uint8_t)sp->nargs;
    n->flags = 0;
    n->dim = sp->dim;
    n->sig = sig;
    n->args = (int32_t)g->nargs;
    n->attr = sp->attr;
    n->aux = sp->aux;
    n->depth = depth;
    n->sample = g->nsamples > 0 ? g->nsamples - 1 : 0;
    g->uses[id].head = g->uses[id].next = -1;
    if (sp->nargs) memcpy(g->args + g->nargs, sp->args, (size_t)sp->nargs * sizeof(dbx_node));
    g->nargs += (size_t)sp->nargs;
    g->nnodes++;
    if (mergeable && cse_insert(g, h, id, sp)) return bad(g, DBX_ENOMEM, "out of memory");
    if (dbx__op_is_loss[sp->op]) {
        if (DBX_GROW(g->losses, g->cap_losses, g->nlosses + 1))
            return bad(g, DBX_ENOMEM, "out of memory");
        g->losses[g->nlosses++] = id;
    }
    return id;
}

int dbx__graph_check_args(dbx_graph *g, int n, const dbx_node *xs)
{
    if (g->err) return 0;
    for (int i = 0; i < n; i++)
        if (!valid_node(g, xs[i])) {
            bad(g, DBX_EINVAL, "argument is not a node of this graph");
            return 0;
        }
    return 1;
}

/* ---- builder API ----------------------------------------------------------------------- */
dbx_node dbx_input(dbx_graph *g, int dim, const float *data)
{
    if (g->err) return DBX_NONE;
    if (dim <= 0 || !data) return bad(g, DBX_EINVAL, "input: dim must be > 0 and data non-NULL");
    if (DBX_GROW(g->data, g->cap_data, g->ndata + (size_t)dim))
        return bad(g, DBX_ENOMEM, "out of memory");
    memcpy(g->data + g->ndata, data, (size_t)dim * sizeof *data);
    node_spec sp = {.op = DBX_OP_INPUT, .dim = dim, .aux = (int32_t)g->ndata};
    g->ndata += (size_t)dim;
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_lookup(dbx_graph *g, dbx_param table, int32_t row)
{
    if (g->err) return DBX_NONE;
    if (!dbx__graph_valid_param(g, table) || !g->m->params[table].lookup)
        return bad(g, DBX_EINVAL, "lookup: not a lookup table parameter");
    const dbx__param *p = &g->m->params[table];
    if (row < 0 || row >= p->rows) return bad(g, DBX_EINVAL, "lookup: row out of range");
    int32_t extra[1] = {table};
    node_spec sp = {.op = DBX_OP_LOOKUP, .dim = p->cols, .attr = row, .aux = table,
                    .extra = extra, .nextra = 1};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_affine(dbx_graph *g, int dim, int nterms, const dbx_term *terms)
{
    if (g->err) return DBX_NONE;
    if (dim <= 0 || nterms <= 0 || nterms > DBX__MAX_ARGS)
        return bad(g, DBX_EINVAL, "affine: need dim > 0 and 1..255 terms");
    dbx_node args[DBX__MAX_ARGS];
    int32_t extra[3 * DBX__MAX_ARGS];
    int nargs = 0;
    double flops = 0;
    for (int t = 0; t < nterms; t++) {
        const dbx_term *tm = &terms[t];
        if (tm->w == DBX_NONE) { /* identity term: out[row_off : row_off + dim(x)] += x */
            if (tm->x == DBX_NONE) return bad(g, DBX_EINVAL, "affine: a term needs W or x");
            if (!dbx__graph_check_args(g, 1, &tm->x)) return DBX_NONE;
            if (tm->row_off < 0 || tm->row_off + g->nodes[tm->x].dim > dim)
                return bad(g, DBX_EINVAL, "affine: identity term exceeds the output");
            args[nargs++] = tm->x;
            extra[3 * t] = -1;
            extra[3 * t + 1] = tm->row_off;
            extra[3 * t + 2] = 1;
            continue;
        }
        if (!dbx__graph_valid_param(g, tm->w) || g->m->params[tm->w].lookup)
            return bad(g, DBX_EINVAL, "affine: term parameter is not a dense parameter");
        const dbx__param *w = &g->m->params[tm->w];
        if (tm->row_off < 0 || tm->row_off + w->rows > dim)
            return bad(g, DBX_EINVAL, "affine: term rows exceed the output (row_off + rows > dim)");
        if (tm->x == DBX_NONE) {
            if (w->cols != 1) return bad(g, DBX_EINVAL, "affine: a bias term must be (rows, 1)");
        } else {
            if (!dbx__graph_check_args(g, 1, &tm->x)) return DBX_NONE;
            if (g->nodes[tm->x].dim != w->cols)
                return bad(g, DBX_EINVAL, "affine: x's size does not match W's columns");
            flops += 2.0 * w->rows * w->cols;
            args[nargs++] = tm->x;
        }
        extra[3 * t] = tm->w;
        extra[3 * t + 1] = tm->row_off;
        extra[3 * t + 2] = tm->x != DBX_NONE;
    }
    if (DBX_GROW(g->terms, g->cap_terms, g->nterms + (size_t)nterms))
        return bad(g, DBX_ENOMEM, "out of memory");
    /* terms are appended tentatively; a deduplicated node leaves them unused until the next
       node overwrites them */
    int a = 0;
    for (int t = 0; t < nterms; t++) {
        dbx__term *dt = &g->terms[g->nterms + (size_t)t];
        dt->w = terms[t].w;
        dt->row_off = terms[t].row_off;
        dt->arg = terms[t].x == DBX_NONE ? -1 : a++;
    }
    node_spec sp = {.op = DBX_OP_AFFINE, .dim = dim, .nargs = nargs, .args = args,
                    .aux = (int32_t)g->nterms, .attr = nterms, .extra = extra,
                    .nextra = 3 * nterms, .gemm_flops = flops};
    size_t before = g->nnodes;
    dbx_node id = dbx__graph_add(g, &sp);
    if (id != DBX_NONE && g->nnodes > before) g->nterms += (size_t)nterms;
    return id;
}

dbx_node dbx_matvec(dbx_graph *g, dbx_param w, dbx_node x)
{
    if (g->err) return DBX_NONE;
    if (!dbx__graph_valid_param(g, w))
        return bad(g, DBX_EINVAL, "matvec: bad parameter");
    dbx_term t = {.w = w, .x = x, .row_off = 0};
    return dbx_affine(g, g->m->params[w].rows, 1, &t);
}

dbx_node dbx__graph_unary(dbx_graph *g, enum dbx_op op, dbx_node x)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    node_spec sp = {.op = op, .dim = g->nodes[x].dim, .nargs = 1, .args = &x};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx__graph_binary(dbx_graph *g, enum dbx_op op, dbx_node a, dbx_node b)
{
    dbx_node ab[2] = {a, b};
    if (!dbx__graph_check_args(g, 2, ab)) return DBX_NONE;
    if (g->nodes[a].dim != g->nodes[b].dim)
        return bad(g, DBX_EINVAL, "elementwise op: argument sizes differ");
    node_spec sp = {.op = op, .dim = g->nodes[a].dim, .nargs = 2, .args = ab};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_add(dbx_graph *g, dbx_node a, dbx_node b)
{
    return dbx__graph_binary(g, DBX_OP_ADD, a, b);
}
dbx_node dbx_cmult(dbx_graph *g, dbx_node a, dbx_node b)
{
    return dbx__graph_binary(g, DBX_OP_CMULT, a, b);
}
dbx_node dbx_tanh(dbx_graph *g, dbx_node x) { return dbx__graph_unary(g, DBX_OP_TANH, x); }
dbx_node dbx_sigmoid(dbx_graph *g, dbx_node x) { return dbx__graph_unary(g, DBX_OP_SIGMOID, x); }
dbx_node dbx_relu(dbx_graph *g, dbx_node x) { return dbx__graph_unary(g, DBX_OP_RELU, x); }

dbx_node dbx_concat(dbx_graph *g, int n, const dbx_node *xs)
{
    if (g->err) return DBX_NONE;
    if (n <= 0 || n > DBX__MAX_ARGS) return bad(g, DBX_EINVAL, "concat: need 1..255 arguments");
    if (!dbx__graph_check_args(g, n, xs)) return DBX_NONE;
    int dim = 0;
    for (int i = 0; i < n; i++) dim += g->nodes[xs[i]].dim;
    node_spec sp = {.op = DBX_OP_CONCAT, .dim = dim, .nargs = n, .args = xs};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_sum(dbx_graph *g, int n, const dbx_node *xs)
{
    if (g->err) return DBX_NONE;
    if (n <= 0 || n > DBX__MAX_ARGS) return bad(g, DBX_EINVAL, "sum: need 1..255 arguments");
    if (!dbx__graph_check_args(g, n, xs)) return DBX_NONE;
    for (int i = 1; i < n; i++)
        if (g->nodes[xs[i]].dim != g->nodes[xs[0]].dim)
            return bad(g, DBX_EINVAL, "sum: argument sizes differ");
    node_spec sp = {.op = DBX_OP_SUM, .dim = g->nodes[xs[0]].dim, .nargs = n, .args = xs};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_slice(dbx_graph *g, dbx_node x, int begin, int end)
{
    if (!dbx__graph_check_args(g, 1, &x)) return DBX_NONE;
    if (begin < 0 || end <= begin || end > g->nodes[x].dim)
        return bad(g, DBX_EINVAL, "slice: need 0 <= begin < end <= dim");
    int32_t extra[1] = {begin};
    node_spec sp = {.op = DBX_OP_SLICE, .dim = end - begin, .nargs = 1, .args = &x,
                    .aux = begin, .extra = extra, .nextra = 1};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_lstm_c(dbx_graph *g, dbx_node gates, int k, const dbx_node *cs)
{
    if (g->err) return DBX_NONE;
    if (k < 0 || k > 64) return bad(g, DBX_EINVAL, "lstm_c: need 0 <= k <= 64");
    dbx_node args[65];
    args[0] = gates;
    for (int i = 0; i < k; i++) args[1 + i] = cs[i];
    if (!dbx__graph_check_args(g, 1 + k, args)) return DBX_NONE;
    int gd = g->nodes[gates].dim;
    if (gd % (3 + k) != 0) return bad(g, DBX_EINVAL, "lstm_c: gates must have (3 + k) * H rows");
    int H = gd / (3 + k);
    for (int i = 0; i < k; i++)
        if (g->nodes[cs[i]].dim != H) return bad(g, DBX_EINVAL, "lstm_c: cell size is not H");
    node_spec sp = {.op = DBX_OP_LSTM_C, .dim = H, .nargs = 1 + k, .args = args, .aux = k};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_lstm_h(dbx_graph *g, dbx_node gates, dbx_node c)
{
    dbx_node args[2] = {gates, c};
    if (!dbx__graph_check_args(g, 2, args)) return DBX_NONE;
    int H = g->nodes[c].dim, gd = g->nodes[gates].dim;
    if (gd % H != 0 || gd / H < 3) return bad(g, DBX_EINVAL, "lstm_h: gates must be (3 + k) * H");
    node_spec sp = {.op = DBX_OP_LSTM_H, .dim = H, .nargs = 2, .args = args, .aux = gd / H - 3};
    return dbx__graph_add(g, &sp);
}

dbx_node dbx_softmax_xent(dbx_graph *g, dbx_node logits, int label)
{
    if (!dbx__graph_check_args(g, 1, &logits)) return DBX_NONE;
    if (label < 0 || label >= g->nodes[logits].dim)
        return bad(g, DBX_EINVAL, "softmax_xent: label out of range");
    node_spec sp = {.op = DBX_OP_XENT, .dim = 1, .nargs = 1, .args = &logits, .attr = label};
    return dbx__graph_add(g, &sp);
}
