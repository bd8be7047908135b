/* BiLSTM tagger, as in the DyNet benchmark suite: word embeddings, a forward and a backward
 * LSTM, a tanh MLP over [h_fwd; h_bwd] and a softmax loss per token.
 * LSTM step: gates [f, i, o, u] = b + Wx x_t + Wh h_{t-1};
 * c_t = sigmoid(i)*tanh(u) + sigmoid(f)*c_{t-1}; h_t = sigmoid(o)*tanh(c_t); the first step
 * has no Wh term (h_0 = 0) and a zero c_0. The input projection p_t = b + Wx x_t does not depend on
 * the recurrence, so it is its own node: every token's projection is ready at once and runs
 * as one wide GEMM, and a word repeated in the minibatch is projected once. The gates add
 * it through an identity term: gates = [I p_t] + Wh h_{t-1}. The MLP's W [h_f; h_b] is two
 * terms, so no concatenation is materialised. With dropout p > 0 (setting DBX_META_DROPOUT),
 * training graphs drop the word embeddings and the states h_fwd, h_bwd the MLP reads (the
 * recurrence reads them without dropout). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/models.h"

struct dbx_tagger {
    dbx_tagger_opts o;
    dbx_param E, Wx[2], Wh[2], b[2], W_af, W_ab, b_a, W_o, b_o;
    dbx_node *h[2];
    float *zeros;
    size_t cap;
};

dbx_status dbx_tagger_new(dbx_model *m, const dbx_tagger_opts *o, dbx_tagger **out)
{
    *out = NULL;
    if (o->vocab <= 0 || o->embed <= 0 || o->hidden <= 0 || o->mlp <= 0 || o->tags <= 1)
        return dbx__fail(DBX_EINVAL, "tagger: sizes must be positive and tags > 1");
    dbx_tagger *t = calloc(1, sizeof *t);
    if (!t) return dbx__fail(DBX_ENOMEM, "out of memory");
    t->o = *o;
    t->zeros = calloc((size_t)o->hidden, sizeof(float));
    int H = o->hidden, E = o->embed;
    static const char *const nx[2] = {"Wx_fwd", "Wx_bwd"}, *const nh[2] = {"Wh_fwd", "Wh_bwd"},
                             *const nb[2] = {"b_fwd", "b_bwd"};
    dbx_status s = t->zeros ? DBX_OK : dbx__fail(DBX_ENOMEM, "out of memory");
    if (!s) s = dbx_model_add_lookup(m, "E", o->vocab, E, 0.1f, &t->E);
    for (int d = 0; d < 2 && !s; d++) {
        if (!s) s = dbx_model_add(m, nx[d], 4 * H, E, DBX_INIT_GLOROT, 0, &t->Wx[d]);
        if (!s) s = dbx_model_add(m, nh[d], 4 * H, H, DBX_INIT_GLOROT, 0, &t->Wh[d]);
        if (!s) s = dbx_model_add(m, nb[d], 4 * H, 1, DBX_INIT_ZERO, 0, &t->b[d]);
    }
    if (!s) s = dbx_model_add(m, "W_af", o->mlp, H, DBX_INIT_GLOROT, 0, &t->W_af);
    if (!s) s = dbx_model_add(m, "W_ab", o->mlp, H, DBX_INIT_GLOROT, 0, &t->W_ab);
    if (!s) s = dbx_model_add(m, "b_a", o->mlp, 1, DBX_INIT_ZERO, 0, &t->b_a);
    if (!s) s = dbx_model_add(m, "W_o", o->tags, o->mlp, DBX_INIT_GLOROT, 0, &t->W_o);
    if (!s) s = dbx_model_add(m, "b_o", o->tags, 1, DBX_INIT_ZERO, 0, &t->b_o);
    if (s) {
        dbx_tagger_free(t);
        return s;
    }
    *out = t;
    return DBX_OK;
}

void dbx_tagger_free(dbx_tagger *t)
{
    if (!t) return;
    free(t->h[0]);
    free(t->h[1]);
    free(t->zeros);
    free(t);
}

dbx_status dbx_tagger_build(dbx_tagger *t, dbx_graph *g, const dbx_sentence *s,
                            dbx_node *logits)
{
    const int H = t->o.hidden, n = s->n;
    const float drop = t->o.dropout;
    if ((size_t)n > t->cap) {
        size_t cap = t->cap;
        DBX_TRY(DBX_GROW(t->h[0], cap, (size_t)n));
        cap = t->cap;
        DBX_TRY(DBX_GROW(t->h[1], cap, (size_t)n));
        t->cap = cap;
    }
    dbx_graph_begin_sample(g);
    for (int i = 0; i < n; i++)
        if (s->word[i] < 0 || s->word[i] >= t->o.vocab || s->tag[i] < 0 || s->tag[i] >= t->o.tags)
            return dbx__fail(DBX_EINVAL, "tagger: word or tag id outside the vocabulary");
    for (int d = 0; d < 2; d++) {
        dbx_node c = dbx_input(g, H, t->zeros), h = DBX_NONE;
        for (int k = 0; k < n; k++) {
            int i = d == 0 ? k : n - 1 - k;
            dbx_node x = dbx_lookup(g, t->E, s->word[i]);
            if (drop > 0) x = dbx_dropout(g, x, drop);
            dbx_term tp[2] = {{t->b[d], DBX_NONE, 0}, {t->Wx[d], x, 0}};
            dbx_node p = dbx_affine(g, 4 * H, 2, tp);
            dbx_term tm[2] = {{DBX_NONE, p, 0}, {t->Wh[d], h, 0}};
            dbx_node gates = k == 0 ? p : dbx_affine(g, 4 * H, 2, tm);
            c = dbx_lstm_c(g, gates, 1, &c);
            h = dbx_lstm_h(g, gates, c);
            t->h[d][i] = h;
        }
    }
    for (int i = 0; i < n; i++) {
        dbx_node hf = t->h[0][i], hb = t->h[1][i];
        if (drop > 0) {
            hf = dbx_dropout(g, hf, drop);
            hb = dbx_dropout(g, hb, drop);
        }
        dbx_term tm[3] = {{t->b_a, DBX_NONE, 0}, {t->W_af, hf, 0}, {t->W_ab, hb, 0}};
        dbx_node a = dbx_tanh(g, dbx_affine(g, t->o.mlp, 3, tm));
        dbx_term to[2] = {{t->b_o, DBX_NONE, 0}, {t->W_o, a, 0}};
        dbx_node lg = dbx_affine(g, t->o.tags, 2, to);
        if (logits) logits[i] = lg;
        dbx_softmax_xent(g, lg, s->tag[i]);
    }
    return dbx_graph_status(g);
}

/* ---- the "bilstm-tagger" model type ------------------------------------------------------
 * Evaluation: with a tag set of entity chunks (any tag "B-X", "I-X", "E-X", "S-X", see
 * dbx_spans_add) the metrics are span_f1 (the headline), span_precision and span_recall by the
 * CoNLL rules, and the token accuracy; with other tags (parts of speech) the token accuracy
 * alone. */
typedef struct tg_self {
    dbx_tagger *t;
    int32_t vocab, tags;
    dbx_node *logits;   /* (cap) scratch: one sentence's logits nodes */
    size_t cap;
    char **tagname;     /* (tags) the tag names, copied from the meta */
    int chunks;         /* the tag set has entity chunks */
    const char **gold, **pred; /* (cap_names) scratch: one sentence's tag names */
    size_t cap_names;
    double *probs;      /* (tags) scratch: one token's tag probabilities */
} tg_self;

enum { TG_TOK_OK, TG_TOKS, TG_GOLD, TG_PRED, TG_CORRECT, TG_NSTATS };

static void tg_destroy(void *self)
{
    tg_self *s = self;
    if (!s) return;
    dbx_tagger_free(s->t);
    free(s->logits);
    for (int32_t i = 0; s->tagname && i < s->tags; i++) free(s->tagname[i]);
    free(s->tagname);
    free(s->gold);
    free(s->pred);
    free(s->probs);
    free(s);
}

/* Copies the tag names and finds whether they are entity chunks. */
static dbx_status tg_names(tg_self *s, const dbx_vocab *tags)
{
    if (!(s->tagname = calloc((size_t)s->tags + 1, sizeof *s->tagname)) ||
        !(s->probs = calloc((size_t)s->tags + 1, sizeof *s->probs)))
        return dbx__fail(DBX_ENOMEM, "out of memory");
    for (int32_t i = 0; i < s->tags; i++) {
        const char *name = dbx_vocab_str(tags, i);
        size_t n = strlen(name ? name : "");
        if (!(s->tagname[i] = malloc(n + 1))) return dbx__fail(DBX_ENOMEM, "out of memory");
        memcpy(s->tagname[i], name ? name : "", n + 1);
        if (dbx_chunk_role(s->tagname[i], NULL) != 'O') s->chunks = 1;
    }
    return DBX_OK;
}

static dbx_status tg_create(const dbx_meta *meta, dbx_model *m, void **self)
{
    *self = NULL;
    tg_self *s = calloc(1, sizeof *s);
    if (!s) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_vocab *words = dbx_meta_vocab((dbx_meta *)meta, "words");
    dbx_vocab *tags = dbx_meta_vocab((dbx_meta *)meta, "tags");
    s->vocab = words ? dbx_vocab_size(words) : 0;
    s->tags = tags ? dbx_vocab_size(tags) : 0;
    int H = (int)dbx_meta_get(meta, "hidden", 128);
    dbx_tagger_opts o = {.vocab = s->vocab, .embed = (int)dbx_meta_get(meta, "embed", 128),
                         .hidden = H, .mlp = (int)dbx_meta_get(meta, "mlp", H), .tags = s->tags,
                         .dropout = (float)(dbx_meta_get(meta, DBX_META_DROPOUT, 0) / 1e6)};
    dbx_status st = words && tags ? dbx_tagger_new(m, &o, &s->t)
                                  : dbx__fail(DBX_EINVAL, "bilstm-tagger: the meta has no "
                                                          "'words' and 'tags' vocabularies");
    if (!st) st = tg_names(s, tags);
    if (st) {
        tg_destroy(s);
        return st;
    }
    *self = s;
    return DBX_OK;
}

/* Grows the scratch of one sentence's tag names to n. */
static dbx_status tg_names_fit(tg_self *s, int32_t n)
{
    size_t cap = s->cap_names;
    DBX_TRY(DBX_GROW(s->gold, cap, (size_t)n));
    cap = s->cap_names;
    DBX_TRY(DBX_GROW(s->pred, cap, (size_t)n));
    s->cap_names = cap;
    return DBX_OK;
}

static dbx_status tg_build(void *self, dbx_graph *g, const dbx_sample *smp, dbx_build_mode mode)
{
    tg_self *s = self;
    dbx_sentence sent;
    DBX_TRY(dbx_tags_sentence(smp, s->vocab, s->tags, &sent));
    if (mode == DBX_BUILD_TRAIN) return dbx_tagger_build(s->t, g, &sent, NULL);
    DBX_TRY(DBX_GROW(s->logits, s->cap, (size_t)sent.n));
    DBX_TRY(tg_names_fit(s, sent.n)); /* score()'s scratch: score() cannot fail */
    DBX_TRY(dbx_tagger_build(s->t, g, &sent, s->logits));
    for (int32_t i = 0; i < sent.n; i++) dbx_graph_output(g, s->logits[i]);
    return dbx_graph_status(g);
}

static void tg_score(void *self, const dbx_sample *smp, int nout, const float *const *out,
                     double *stats)
{
    tg_self *s = self;
    const int32_t n = smp->w[0], *tag = smp->w + 1 + n;
    if (nout < n || n < 1) return; /* one output per token */
    double tok[2] = {0, 0};
    for (int32_t i = 0; i < n; i++) dbx_score_argmax(out[i], s->tags, tag[i], tok);
    stats[TG_TOK_OK] += tok[0];
    stats[TG_TOKS] += tok[1];
    if (!s->chunks || tg_names_fit(s, n)) return; /* sized by build(), which can fail */
    for (int32_t i = 0; i < n; i++) {
        s->gold[i] = s->tagname[tag[i]];
        s->pred[i] = s->tagname[dbx_probs_softmax(out[i], s->tags, NULL)];
    }
    dbx_spans c = {0, 0, 0};
    dbx_spans_add(&c, n, s->gold, s->pred);
    stats[TG_GOLD] += (double)c.gold;
    stats[TG_PRED] += (double)c.pred;
    stats[TG_CORRECT] += (double)c.correct;
}

static int tg_report(void *self, const double *stats, dbx_metric *out, int max)
{
    const tg_self *s = self;
    double acc = stats[TG_TOKS] > 0 ? stats[TG_TOK_OK] / stats[TG_TOKS] : NAN;
    if (!s->chunks) {
        if (max < 1) return 0;
        out[0] = (dbx_metric){"accuracy", acc};
        return 1;
    }
    dbx_spans c = {(int64_t)stats[TG_GOLD], (int64_t)stats[TG_PRED], (int64_t)stats[TG_CORRECT]};
    double p, r, f1;
    dbx_spans_prf(&c, &p, &r, &f1);
    if (stats[TG_TOKS] <= 0) p = r = f1 = NAN; /* nothing was scored */
    const dbx_metric m[4] = {
        {"span_f1", f1}, {"span_precision", p}, {"span_recall", r}, {"accuracy", acc}};
    int k = max < 4 ? max : 4;
    for (int i = 0; i < k; i++) out[i] = m[i];
    return k;
}

/* {"tags": the tag of every token, "probs": its probability}, with DBX_PREDICT_DETAIL also
 * "dists": every token's distribution over the tag vocabulary (id 0 is <unk>). */
static dbx_status tg_predict(void *self, const dbx_sample *smp, int nout,
                             const float *const *out, unsigned flags, FILE *f)
{
    tg_self *s = self;
    const int32_t n = smp->n > 0 ? smp->w[0] : 0, K = s->tags;
    if (n < 1 || nout < n)
        return dbx__fail(DBX_EINVAL, "bilstm-tagger: %d outputs for %d tokens", nout, n);
    dbx_predict_write_tags(f, n, K, out, (const char *const *)s->tagname, (flags & DBX_PREDICT_DETAIL) != 0, s->probs);
    return DBX_OK;
}

const dbx_model_type dbx_tagger_type = {
    .name = "bilstm-tagger",
    .summary = "BiLSTM tagger (forward and backward LSTM, tanh MLP, a softmax loss per token)",
    .data_help = "token|TAG sentences, one per line",
    .sample_noun = "sentences",
    .unit_noun = "tokens",
    .nstats = TG_NSTATS,
    .parse = dbx_tags_parse,
    .create = tg_create,
    .destroy = tg_destroy,
    .build = tg_build,
    .score = tg_score,
    .report = tg_report,
    .parse_unlabelled = dbx_tags_parse_unlabelled,
    .predict = tg_predict,
};
