/* Signatures seen from outside the graph: canonical hashes and the read-only accessors that
 * schedulers written outside core/ use (include/dbx/dbx.h).
 *
 * A signature's dense id is graph-local (first-seen order), and its key names parameters by
 * handle (declaration order). Its canonical hash names them by name and shape instead, so
 * that it is the same in every run, process and rank for the same structure: a learned
 * scheduling policy or a cached plan keyed by it can be saved, loaded and broadcast. The
 * hash is FNV-1a over a canonical little-endian serialisation (a version tag; the op's
 * name; the output dim; the arity rule and argument dims; the shared items of the op),
 * finished with a 64-bit mixer. Changing anything here changes every hash: the golden value
 * in tests/test_batching.c pins it. Computed once per signature, when it is interned.
 * Not thread-safe: the per-signature node counts are a cache brought up to date by the first
 * question after the graph grew (like the graph itself, use one thread per graph). */
#include <string.h>

#include "core/graph.h"
#include "core/hash.h"
#include "core/model.h"

static uint64_t put_i32(uint64_t h, int32_t v)
{
    const uint32_t u = (uint32_t)v;
    const unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
                                (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
    return dbx__fnv1a(h, b, sizeof b);
}

static uint64_t put_str(uint64_t h, const char *s)
{
    const size_t n = strlen(s);
    h = put_i32(h, (int32_t)n);
    return dbx__fnv1a(h, s, n);
}

/* A parameter by name and shape: "W" (rows, cols). */
static uint64_t put_param(uint64_t h, const dbx_model *m, int32_t p)
{
    const dbx__param *q = &m->params[p];
    h = put_str(h, q->name);
    h = put_i32(h, q->rows);
    return put_i32(h, q->cols);
}

static uint64_t finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* key: op, dim, nargs, nargs arg dims, then the op's shared items (core/graph.h). */
uint64_t dbx__sig_canon_hash(const dbx_graph *g, const int32_t *key, int len)
{
    const enum dbx_op op = (enum dbx_op)key[0];
    const int32_t nargs = key[2];
    const int32_t ndims = nargs < 0 ? 1 : nargs; /* -1: arity varies, one dim for all */
    const int32_t *extra = key + 3 + ndims;
    const int nextra = len - 3 - ndims;
    uint64_t h = dbx__fnv1a(DBX_FNV_SEED, "dbx-sig-1", 9);
    h = put_str(h, dbx__op_names[op]);
    h = put_i32(h, key[1]);
    h = put_i32(h, nargs);
    for (int32_t i = 0; i < ndims; i++) h = put_i32(h, key[3 + i]);
    switch ((enum dbx__shared)dbx__op_shared[op]) {
    case DBX__SH_TERMS: /* per term: W by name and shape (or identity), row_off, has_x */
        h = put_i32(h, nextra / 3);
        for (int t = 0; t + 2 < nextra; t += 3) {
            if (extra[t] >= 0) {
                h = put_i32(h, 1);
                h = put_param(h, g->m, extra[t]);
            } else {
                h = put_i32(h, 0);
            }
            h = put_i32(h, extra[t + 1]);
            h = put_i32(h, extra[t + 2]);
        }
        break;
    case DBX__SH_TABLE: h = put_param(h, g->m, extra[0]); break;
    case DBX__SH_INT:
    case DBX__SH_FLOATS: /* integers, or floats by their bits */
        for (int t = 0; t < nextra; t++) h = put_i32(h, extra[t]);
        break;
    case DBX__SH_NONE:
    case DBX__SH_DATA: break; /* everything shared is in the shapes */
    }
    return finish(h);
}

/* ---- public accessors -------------------------------------------------------------------- */
static int valid_sig(const dbx_graph *g, int32_t s) { return s >= 0 && (size_t)s < g->nsigs; }

int32_t dbx_graph_num_sigs(const dbx_graph *g) { return (int32_t)g->nsigs; }

uint64_t dbx_graph_sig_hash(const dbx_graph *g, int32_t sig)
{
    return valid_sig(g, sig) ? g->sighash[sig] : 0;
}

const char *dbx_graph_sig_op(const dbx_graph *g, int32_t sig)
{
    return valid_sig(g, sig) ? dbx__op_names[g->sigkeys[g->sigkey_off[sig]]] : NULL;
}

int dbx_graph_sig_is_gemm(const dbx_graph *g, int32_t sig)
{
    return valid_sig(g, sig) && dbx__op_is_gemm[g->sigkeys[g->sigkey_off[sig]]];
}

int32_t dbx_graph_sig_dim(const dbx_graph *g, int32_t sig)
{
    return valid_sig(g, sig) ? g->sigkeys[g->sigkey_off[sig] + 1] : -1;
}

/* Counts the nodes added since the last count into the per-signature statistics: building
   a graph costs nothing for them, and the first question after a build pays one pass. The
   graph is logically const here (the statistics are a cache). */
static void count_sigs(const dbx_graph *cg)
{
    dbx_graph *g = (dbx_graph *)cg;
    for (size_t v = g->sigstat_nodes; v < g->nnodes; v++) {
        const dbx__node *n = &g->nodes[v];
        g->sig_count[n->sig]++;
        g->sig_depth[n->sig] += n->depth;
    }
    g->sigstat_nodes = g->nnodes;
}

int32_t dbx_graph_sig_nodes(const dbx_graph *g, int32_t sig)
{
    if (!valid_sig(g, sig)) return 0;
    if (g->sigstat_nodes != g->nnodes) count_sigs(g);
    return g->sig_count[sig];
}

double dbx_graph_sig_mean_depth(const dbx_graph *g, int32_t sig)
{
    if (!valid_sig(g, sig)) return 0;
    if (g->sigstat_nodes != g->nnodes) count_sigs(g);
    if (!g->sig_count[sig]) return 0;
    return (double)g->sig_depth[sig] / (double)g->sig_count[sig];
}

int32_t dbx_node_sig(const dbx_graph *g, dbx_node x)
{
    return x >= 0 && (size_t)x < g->nnodes ? g->nodes[x].sig : -1;
}

int32_t dbx_node_depth(const dbx_graph *g, dbx_node x)
{
    return x >= 0 && (size_t)x < g->nnodes ? g->nodes[x].depth : -1;
}
