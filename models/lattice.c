/* Lattice-LSTM over word/character lattices, the model of ED-Batch's Lattice-LSTM benchmark.
 * A lattice is a DAG of nodes 0..n-1; every arc runs an LSTM cell from its source node's
 * (h, c) and the arc's embedding x, with one set of weights for character arcs (from node
 * i - 1, x from the character table) and another for word arcs (x from the word table):
 *     gates [f, i, o, u] = b_k + U_k x + W_k h_src     (one affine node: 4H rows, k = char/word)
 *     c_arc = sigmoid(i) * tanh(u) + sigmoid(f) * c_src,   h_arc = sigmoid(o) * tanh(c_arc)
 * A node's (h, c) is the sum over its incoming arcs (the arc's own (h, c) for one arc); node 0
 * (and any node without arcs) takes the learned (h0, c0). Every node has a softmax tag loss
 * on W_out h (no bias). The sums over a variable number of arcs are one op whose arity may
 * vary inside a batch, so nodes of any in-degree batch together.
 * Sample record: [n, arcs, tag[n], arc_start[n + 1], arc_from[arcs], arc_id[arcs]].
 * Meta: settings "labels" (tags), "char_ids" and "word_ids" (id ranges of the training data;
 * each table has one more row, for ids beyond them in dev or test data). With dropout p > 0
 * (setting DBX_META_DROPOUT), training graphs drop the arc embeddings x. Not thread-safe
 * per model state. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/models.h"

enum { REC_HEAD = 2 };

/* ---- samples ------------------------------------------------------------------------------- */
/* The lattices of text as records; unlabelled: the tags are read and ignored (placeholders 0). */
static dbx_status lat_read(dbx_meta *meta, const char *name, const char *text, size_t len,
                           int unlabelled, dbx_dataset *ds)
{
    dbx_latticeset *ls = NULL;
    DBX_TRY(dbx_latticeset_parse(name, text, len, &ls));
    dbx_status s = dbx_meta_raise(meta, "labels", (int64_t)ls->max_tag + 1);
    if (!s) s = dbx_meta_raise(meta, "char_ids", (int64_t)ls->max_char + 1);
    if (!s) s = dbx_meta_raise(meta, "word_ids", (int64_t)ls->max_word + 1);
    const int32_t labels = (int32_t)dbx_meta_get(meta, "labels", 0);
    const int32_t chars = (int32_t)dbx_meta_get(meta, "char_ids", 0);
    const int32_t words = (int32_t)dbx_meta_get(meta, "word_ids", 0);
    int32_t *rec = NULL;
    size_t cap = 0;
    for (int32_t k = 0; k < ls->nlat && !s; k++) {
        const dbx_lattice *l = &ls->lats[k];
        const int32_t n = l->n, na = l->arc_start[n];
        if ((s = DBX_GROW(rec, cap, REC_HEAD + 2 * (size_t)n + 1 + 2 * (size_t)na))) break;
        int32_t *tag = rec + REC_HEAD, *start = tag + n, *from = start + n + 1, *id = from + na;
        rec[0] = n;
        rec[1] = na;
        for (int32_t i = 0; i < n && !s; i++) {
            if (unlabelled) {
                tag[i] = 0;
                continue;
            }
            if (l->tag[i] >= labels)
                s = dbx_set_error(DBX_EPARSE, "%s: lattice %d, node %d: tag %d is not one of the "
                                  "training data's tags (0..%d)", name, k + 1, i, l->tag[i],
                                  labels - 1);
            tag[i] = l->tag[i];
        }
        memcpy(start, l->arc_start, ((size_t)n + 1) * sizeof *start);
        memcpy(from, l->arc_from, (size_t)na * sizeof *from);
        for (int32_t i = 0; i < n; i++) /* ids beyond the training data's: the spare row */
            for (int32_t a = start[i]; a < start[i + 1]; a++) {
                int32_t lim = from[a] == i - 1 ? chars : words;
                id[a] = l->arc_id[a] < lim ? l->arc_id[a] : lim;
            }
        if (!s) s = dbx_dataset_add(ds, rec, (int32_t)(REC_HEAD + 2 * n + 1 + 2 * na), n);
    }
    free(rec);
    dbx_latticeset_free(ls);
    return s;
}

static dbx_status lat_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                            dbx_dataset *ds)
{
    return lat_read(meta, name, text, len, 0, ds);
}

/* Prediction input: lattices in the training format, their tags ignored. */
static dbx_status lat_parse_unlabelled(dbx_meta *meta, const char *name, const char *text,
                                       size_t len, dbx_dataset *ds)
{
    return lat_read(meta, name, text, len, 1, ds);
}

static dbx_status lat_generate(int32_t n, uint64_t seed, char **text, size_t *len)
{
    dbx_lattice_gen_opts go = {.nlat = n, .chars = 600, .words = 2000, .tags = 8, .seed = seed};
    return dbx_lattice_generate(&go, text, len);
}

/* A view of a record: the arrays of dbx_lattice, checked against the model's sizes. */
typedef struct lat_view {
    int32_t n, arcs;
    const int32_t *tag, *start, *from, *id;
} lat_view;

static dbx_status lat_view_of(const dbx_sample *s, int32_t labels, int32_t char_rows,
                              int32_t word_rows, lat_view *v)
{
    if (s->n < REC_HEAD + 3) return dbx__fail(DBX_EPARSE, "lattice sample: too short");
    v->n = s->w[0];
    v->arcs = s->w[1];
    if (v->n < 1 || v->arcs < 0 || v->n > s->n || v->arcs > s->n ||
        (int64_t)REC_HEAD + 2 * (int64_t)v->n + 1 + 2 * (int64_t)v->arcs != s->n)
        return dbx__fail(DBX_EPARSE, "lattice sample: bad size (%d words)", s->n);
    v->tag = s->w + REC_HEAD;
    v->start = v->tag + v->n;
    v->from = v->start + v->n + 1;
    v->id = v->from + v->arcs;
    if (v->start[0] != 0 || v->start[1] != 0 || v->start[v->n] != v->arcs)
        return dbx__fail(DBX_EPARSE, "lattice sample: bad arc offsets");
    for (int32_t i = 0; i < v->n; i++) {
        if (v->tag[i] < 0 || v->tag[i] >= labels || v->start[i + 1] < v->start[i])
            return dbx__fail(DBX_EPARSE, "lattice sample: bad node %d", i);
        for (int32_t a = v->start[i]; a < v->start[i + 1]; a++) {
            int32_t rows = v->from[a] == i - 1 ? char_rows : word_rows;
            if (v->from[a] < 0 || v->from[a] >= i || v->id[a] < 0 || v->id[a] >= rows)
                return dbx__fail(DBX_EPARSE, "lattice sample: bad arc %d into node %d", a, i);
        }
    }
    return DBX_OK;
}

/* ---- the model ----------------------------------------------------------------------------- */
typedef struct lat_model {
    int H, labels, char_rows, word_rows;
    float dropout;                    /* on the arc embeddings of training graphs */
    dbx_param E[2], U[2], W[2], b[2]; /* [0]: character arcs, [1]: word arcs */
    dbx_param H0, C0, W_out;
    dbx_node *h, *c, *hs, *cs;        /* per node; per arc of one node */
    size_t cap_n, cap_in;
    double *probs;                    /* (labels) scratch: one node's tag probabilities */
} lat_model;

static void lat_destroy(void *self)
{
    lat_model *t = self;
    if (!t) return;
    free(t->h);
    free(t->c);
    free(t->hs);
    free(t->cs);
    free(t->probs);
    free(t);
}

static dbx_status lat_create(const dbx_meta *meta, dbx_model *m, void **self)
{
    *self = NULL;
    lat_model *t = calloc(1, sizeof *t);
    if (!t) return dbx__fail(DBX_ENOMEM, "out of memory");
    const int E = (int)dbx_meta_get(meta, "embed", 128), H = (int)dbx_meta_get(meta, "hidden", 128);
    t->H = H;
    t->labels = (int)dbx_meta_get(meta, "labels", 0);
    t->char_rows = (int)dbx_meta_get(meta, "char_ids", 0) + 1;
    t->word_rows = (int)dbx_meta_get(meta, "word_ids", 0) + 1;
    t->dropout = (float)(dbx_meta_get(meta, DBX_META_DROPOUT, 0) / 1e6);
    static const char *const en[2] = {"E_char", "E_word"}, *const un[2] = {"U_char", "U_word"},
                             *const wn[2] = {"W_char", "W_word"}, *const bn[2] = {"b_char",
                                                                                  "b_word"};
    dbx_status s = t->labels < 2 ? dbx__fail(DBX_EINVAL, "lattice-lstm: the meta has %d tags "
                                             "(need 2 or more)", t->labels) : DBX_OK;
    for (int k = 0; k < 2 && !s; k++) {
        s = dbx_model_add_lookup(m, en[k], k ? t->word_rows : t->char_rows, E, 0.1f, &t->E[k]);
        if (!s) s = dbx_model_add(m, un[k], 4 * H, E, DBX_INIT_GLOROT, 0, &t->U[k]);
        if (!s) s = dbx_model_add(m, wn[k], 4 * H, H, DBX_INIT_GLOROT, 0, &t->W[k]);
        if (!s) s = dbx_model_add(m, bn[k], 4 * H, 1, DBX_INIT_ZERO, 0, &t->b[k]);
    }
    if (!s) s = dbx_model_add(m, "h0", H, 1, DBX_INIT_UNIFORM, 0.1f, &t->H0);
    if (!s) s = dbx_model_add(m, "c0", H, 1, DBX_INIT_UNIFORM, 0.1f, &t->C0);
    if (!s) s = dbx_model_add(m, "W_out", t->labels, H, DBX_INIT_GLOROT, 0, &t->W_out);
    if (!s && !(t->probs = calloc((size_t)t->labels + 1, sizeof *t->probs)))
        s = dbx__fail(DBX_ENOMEM, "out of memory");
    if (s) {
        lat_destroy(t);
        return s;
    }
    *self = t;
    return DBX_OK;
}

/* A learned vector as a node: an affine node with its bias term only. */
static dbx_node param_node(dbx_graph *g, dbx_param p, int dim)
{
    dbx_term t = {p, DBX_NONE, 0};
    return dbx_affine(g, dim, 1, &t);
}

static dbx_status lat_build(void *self, dbx_graph *g, const dbx_sample *smp, dbx_build_mode mode)
{
    lat_model *t = self;
    lat_view v = {0};
    DBX_TRY(lat_view_of(smp, t->labels, t->char_rows, t->word_rows, &v));
    size_t cap = t->cap_n;
    DBX_TRY(DBX_GROW(t->h, cap, (size_t)v.n));
    cap = t->cap_n;
    DBX_TRY(DBX_GROW(t->c, cap, (size_t)v.n));
    t->cap_n = cap;
    const int H = t->H;
    dbx_graph_begin_sample(g);
    dbx_node h0 = param_node(g, t->H0, H), c0 = param_node(g, t->C0, H);
    for (int32_t i = 0; i < v.n; i++) {
        const int32_t a0 = v.start[i], deg = v.start[i + 1] - a0;
        if (deg == 0) {
            t->h[i] = h0;
            t->c[i] = c0;
            continue;
        }
        if ((size_t)deg > t->cap_in) {
            cap = t->cap_in;
            DBX_TRY(DBX_GROW(t->hs, cap, (size_t)deg));
            cap = t->cap_in;
            DBX_TRY(DBX_GROW(t->cs, cap, (size_t)deg));
            t->cap_in = cap;
        }
        for (int32_t a = 0; a < deg; a++) {
            const int32_t src = v.from[a0 + a], k = src == i - 1 ? 0 : 1;
            dbx_node x = dbx_lookup(g, t->E[k], v.id[a0 + a]);
            if (t->dropout > 0) x = dbx_dropout(g, x, t->dropout);
            dbx_term tm[3] = {{t->b[k], DBX_NONE, 0}, {t->U[k], x, 0}, {t->W[k], t->h[src], 0}};
            dbx_node gates = dbx_affine(g, 4 * H, 3, tm);
            t->cs[a] = dbx_lstm_c(g, gates, 1, &t->c[src]);
            t->hs[a] = dbx_lstm_h(g, gates, t->cs[a]);
        }
        t->h[i] = deg == 1 ? t->hs[0] : dbx_sum(g, deg, t->hs);
        t->c[i] = deg == 1 ? t->cs[0] : dbx_sum(g, deg, t->cs);
    }
    for (int32_t i = 0; i < v.n; i++) {
        dbx_node lg = dbx_matvec(g, t->W_out, t->h[i]);
        dbx_softmax_xent(g, lg, v.tag[i]);
        if (mode == DBX_BUILD_EVAL) dbx_graph_output(g, lg);
    }
    return dbx_graph_status(g);
}

static void lat_score(void *self, const dbx_sample *smp, int nout, const float *const *out,
                      double *stats)
{
    const lat_model *t = self;
    const int32_t n = smp->w[0], *tag = smp->w + REC_HEAD;
    for (int i = 0; i < nout && i < n; i++) dbx_score_argmax(out[i], t->labels, tag[i], stats);
}

/* {"tags": the tag of every node (numbers), "probs": its probability}, with
 * DBX_PREDICT_DETAIL also "dists": every node's distribution over the tags. */
static dbx_status lat_predict(void *self, const dbx_sample *smp, int nout,
                              const float *const *out, unsigned flags, FILE *f)
{
    lat_model *t = self;
    const int32_t n = smp->n > 0 ? smp->w[0] : 0, K = t->labels;
    if (n < 1 || nout < n)
        return dbx__fail(DBX_EINVAL, "lattice-lstm: %d outputs for a lattice of %d nodes", nout,
                         n);
    dbx_predict_write_tags(f, n, K, out, NULL, (flags & DBX_PREDICT_DETAIL) != 0, t->probs);
    return DBX_OK;
}

const dbx_model_type dbx_lattice_type = {
    .name = "lattice-lstm",
    .summary = "Lattice-LSTM (ED-Batch): an LSTM cell per arc, sums over in-arcs, a tag per node",
    .data_help = "word/character lattices (ED-Batch's format, see shared/data/README.md)",
    .sample_noun = "lattices",
    .unit_noun = "nodes",
    .nstats = 2,
    .parse = lat_parse,
    .generate = lat_generate,
    .create = lat_create,
    .destroy = lat_destroy,
    .build = lat_build,
    .score = lat_score,
    .report = dbx_report_accuracy,
    .parse_unlabelled = lat_parse_unlabelled,
    .predict = lat_predict,
};
