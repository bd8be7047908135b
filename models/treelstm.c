/* Binary N-ary Tree-LSTM (Tai et al. 2015), as in the DyNet benchmark suite.
 * Preterminal:  i, o, u = sigmoid/sigmoid/tanh(W_leaf x + b_leaf); c = i*u; h = o*tanh(c).
 * Binary node:  i, o, u from e = [h_l; h_r]; f_l = sigmoid(F_l h_l + b_f),
 *               f_r = sigmoid(F_r h_r + b_f); c = i*u + f_l*c_l + f_r*c_r; h = o*tanh(c).
 * Gate pre-activations of a binary node are one affine node with rows [f_l, i, o, u, f_r]:
 * A_l = [F_l; W_iou_l] covers rows 0..4H and A_r = [W_iou_r; F_r] rows H..5H, so each
 * child costs one GEMM and no FLOP is wasted; the shared forget bias is added twice.
 * A unary inner node (allowed when the reader accepts it) uses A_l alone with one cell.
 * Every node carries a softmax loss through W_out (no bias). With dropout p > 0 (setting
 * DBX_META_DROPOUT), training graphs drop the word embeddings (x) and the h that W_out reads
 * (the parent reads the h without dropout). */
#include <math.h>
#include <stdlib.h>

#include "core/status.h"
#include "dbx/models.h"

struct dbx_treelstm {
    dbx_treelstm_opts o;
    dbx_param E, W_leaf, b_leaf, A_l, A_r, b_iou, b_f, W_out;
    dbx_node *h, *c;     /* per tree node, reused */
    size_t cap;
};

dbx_status dbx_treelstm_new(dbx_model *m, const dbx_treelstm_opts *o, dbx_treelstm **out)
{
    *out = NULL;
    if (o->vocab <= 0 || o->embed <= 0 || o->hidden <= 0 || o->labels <= 1)
        return dbx__fail(DBX_EINVAL, "treelstm: vocab, embed, hidden > 0 and labels > 1 required");
    dbx_treelstm *t = calloc(1, sizeof *t);
    if (!t) return dbx__fail(DBX_ENOMEM, "out of memory");
    t->o = *o;
    int H = o->hidden, E = o->embed;
    dbx_status s;
    if ((s = dbx_model_add_lookup(m, "E", o->vocab, E, 0.1f, &t->E)) ||
        (s = dbx_model_add(m, "W_leaf", 3 * H, E, DBX_INIT_GLOROT, 0, &t->W_leaf)) ||
        (s = dbx_model_add(m, "b_leaf", 3 * H, 1, DBX_INIT_ZERO, 0, &t->b_leaf)) ||
        (s = dbx_model_add(m, "A_l", 4 * H, H, DBX_INIT_GLOROT, 0, &t->A_l)) ||
        (s = dbx_model_add(m, "A_r", 4 * H, H, DBX_INIT_GLOROT, 0, &t->A_r)) ||
        (s = dbx_model_add(m, "b_iou", 3 * H, 1, DBX_INIT_ZERO, 0, &t->b_iou)) ||
        (s = dbx_model_add(m, "b_f", H, 1, DBX_INIT_ZERO, 0, &t->b_f)) ||
        (s = dbx_model_add(m, "W_out", o->labels, H, DBX_INIT_GLOROT, 0, &t->W_out))) {
        free(t);
        return s;
    }
    *out = t;
    return DBX_OK;
}

void dbx_treelstm_free(dbx_treelstm *t)
{
    if (!t) return;
    free(t->h);
    free(t->c);
    free(t);
}

dbx_status dbx_treelstm_build(dbx_treelstm *t, dbx_graph *g, const dbx_tree *tree,
                              dbx_node *logits)
{
    const int H = t->o.hidden;
    const float drop = t->o.dropout;
    if ((size_t)tree->n > t->cap) {
        size_t cap = t->cap;
        DBX_TRY(DBX_GROW(t->h, cap, (size_t)tree->n));
        cap = t->cap;
        DBX_TRY(DBX_GROW(t->c, cap, (size_t)tree->n));
        t->cap = cap;
    }
    dbx_graph_begin_sample(g);
    for (int v = 0; v < tree->n; v++) {
        int l = tree->left[v], r = tree->right[v];
        dbx_node gates, c;
        if (l < 0) { /* preterminal */
            if (tree->word[v] < 0 || tree->word[v] >= t->o.vocab)
                return dbx__fail(DBX_EINVAL, "treelstm: word id %d outside the vocabulary (%d)",
                                 tree->word[v], t->o.vocab);
            dbx_node x = dbx_lookup(g, t->E, tree->word[v]);
            if (drop > 0) x = dbx_dropout(g, x, drop);
            dbx_term tm[2] = {{t->b_leaf, DBX_NONE, 0}, {t->W_leaf, x, 0}};
            gates = dbx_affine(g, 3 * H, 2, tm);
            c = dbx_lstm_c(g, gates, 0, NULL);
        } else if (r < 0) { /* unary: [f, i, o, u] from A_l */
            dbx_term tm[3] = {{t->b_f, DBX_NONE, 0}, {t->b_iou, DBX_NONE, H}, {t->A_l, t->h[l], 0}};
            gates = dbx_affine(g, 4 * H, 3, tm);
            c = dbx_lstm_c(g, gates, 1, &t->c[l]);
        } else {
            dbx_term tm[5] = {{t->b_f, DBX_NONE, 0},
                              {t->b_iou, DBX_NONE, H},
                              {t->b_f, DBX_NONE, 4 * H},
                              {t->A_l, t->h[l], 0},
                              {t->A_r, t->h[r], H}};
            gates = dbx_affine(g, 5 * H, 5, tm);
            dbx_node cs[2] = {t->c[l], t->c[r]};
            c = dbx_lstm_c(g, gates, 2, cs);
        }
        t->c[v] = c;
        t->h[v] = dbx_lstm_h(g, gates, c);
        dbx_node hout = drop > 0 ? dbx_dropout(g, t->h[v], drop) : t->h[v];
        dbx_node lg = dbx_matvec(g, t->W_out, hout);
        if (logits) logits[v] = lg;
        dbx_softmax_xent(g, lg, tree->label[v] < t->o.labels ? tree->label[v] : 0);
    }
    return dbx_graph_status(g);
}

double dbx_treelstm_gemm_flops(const dbx_treelstm *t, const dbx_tree *tree)
{
    double H = t->o.hidden, E = t->o.embed, L = t->o.labels, f = 0;
    for (int v = 0; v < tree->n; v++) {
        if (tree->left[v] < 0) f += 2 * 3 * H * E;
        else if (tree->right[v] < 0) f += 2 * 4 * H * H;
        else f += 2 * 8 * H * H;
        f += 2 * L * H;
    }
    return f;
}

/* ---- the "treelstm" model type ----------------------------------------------------------- */
typedef struct tl_self {
    dbx_treelstm *t;
    int32_t vocab, labels;
    dbx_node *logits;   /* (cap) scratch: one tree's logits nodes */
    size_t cap;
    double *probs;      /* (labels) scratch: one node's class probabilities */
} tl_self;

static void tl_destroy(void *self)
{
    tl_self *s = self;
    if (!s) return;
    dbx_treelstm_free(s->t);
    free(s->logits);
    free(s->probs);
    free(s);
}

static dbx_status tl_create(const dbx_meta *meta, dbx_model *m, void **self)
{
    *self = NULL;
    tl_self *s = calloc(1, sizeof *s);
    if (!s) return dbx__fail(DBX_ENOMEM, "out of memory");
    dbx_vocab *words = dbx_meta_vocab((dbx_meta *)meta, "words");
    s->vocab = words ? dbx_vocab_size(words) : 0;
    s->labels = (int32_t)dbx_meta_get(meta, "labels", 5);
    dbx_treelstm_opts o = {.vocab = s->vocab, .embed = (int)dbx_meta_get(meta, "embed", 128),
                           .hidden = (int)dbx_meta_get(meta, "hidden", 128),
                           .labels = s->labels,
                           .dropout = (float)(dbx_meta_get(meta, DBX_META_DROPOUT, 0) / 1e6)};
    dbx_status st = words ? dbx_treelstm_new(m, &o, &s->t)
                          : dbx__fail(DBX_EINVAL, "treelstm: the meta has no 'words' vocabulary");
    if (!st && !(s->probs = calloc((size_t)s->labels + 1, sizeof *s->probs)))
        st = dbx__fail(DBX_ENOMEM, "out of memory");
    if (st) {
        tl_destroy(s);
        return st;
    }
    *self = s;
    return DBX_OK;
}

static dbx_status tl_build(void *self, dbx_graph *g, const dbx_sample *smp, dbx_build_mode mode)
{
    tl_self *s = self;
    dbx_tree tree;
    DBX_TRY(dbx_sst_tree(smp, s->vocab, s->labels, &tree));
    if (mode == DBX_BUILD_TRAIN) return dbx_treelstm_build(s->t, g, &tree, NULL);
    DBX_TRY(DBX_GROW(s->logits, s->cap, (size_t)tree.n));
    DBX_TRY(dbx_treelstm_build(s->t, g, &tree, s->logits));
    for (int32_t v = 0; v < tree.n; v++) dbx_graph_output(g, s->logits[v]);
    return dbx_graph_status(g);
}

/* Evaluation statistics: root fine-grained, root binary and all-node accuracy. */
enum { TL_ROOT_OK, TL_ROOTS, TL_BIN_OK, TL_BIN, TL_NODE_OK, TL_NODES, TL_NSTATS };

/* Binary sentiment from a fine-grained softmax, as the SST papers evaluate it: the classes
 * below the middle one are negative (SST: 0, 1), those above it positive (3, 4) and the middle
 * one neutral (2; with an even number of classes there is none). A root counts for the binary
 * accuracy only if its gold label is not neutral; the prediction is positive when the summed
 * probability of the positive classes exceeds that of the negative ones (the neutral class's
 * probability is ignored), else negative. */
static int tl_positive(const float *logits, int L, double *probs)
{
    dbx_probs_softmax(logits, L, probs);
    double pos = 0, neg = 0;
    for (int c = 0; c < L; c++) {
        if (c < L / 2) neg += probs[c];
        else if (c > (L - 1) / 2) pos += probs[c];
    }
    return pos > neg;
}

static void tl_score(void *self, const dbx_sample *smp, int nout, const float *const *out,
                     double *stats)
{
    tl_self *s = self;
    const int32_t n = smp->w[0], *label = smp->w + 1 + 2 * n, L = s->labels;
    if (nout < n || n < 1) return; /* one output per node, the root last */
    double node[2] = {0, 0}, root[2] = {0, 0};
    for (int32_t v = 0; v < n; v++) dbx_score_argmax(out[v], L, label[v], node);
    dbx_score_argmax(out[n - 1], L, label[n - 1], root);
    stats[TL_NODE_OK] += node[0];
    stats[TL_NODES] += node[1];
    stats[TL_ROOT_OK] += root[0];
    stats[TL_ROOTS] += root[1];
    const int32_t gold = label[n - 1];
    if (!(L % 2 == 1 && gold == L / 2)) {
        stats[TL_BIN_OK] += tl_positive(out[n - 1], L, s->probs) == (gold > (L - 1) / 2);
        stats[TL_BIN] += 1;
    }
}

static double tl_ratio(double a, double b) { return b > 0 ? a / b : NAN; }

/* root_fine (the headline), root_binary, all_nodes. */
static int tl_report(void *self, const double *stats, dbx_metric *out, int max)
{
    (void)self;
    const dbx_metric m[3] = {
        {"root_fine", tl_ratio(stats[TL_ROOT_OK], stats[TL_ROOTS])},
        {"root_binary", tl_ratio(stats[TL_BIN_OK], stats[TL_BIN])},
        {"all_nodes", tl_ratio(stats[TL_NODE_OK], stats[TL_NODES])},
    };
    int k = max < 3 ? max : 3;
    for (int i = 0; i < k; i++) out[i] = m[i];
    return k;
}

/* {"label": the root's class, "probs": its class probabilities, "binary": "positive" or
 * "negative" by root_binary's rule}, with DBX_PREDICT_DETAIL also "nodes": the class of every
 * node in post-order (children before their parent, left to right; the root last). */
static dbx_status tl_predict(void *self, const dbx_sample *smp, int nout,
                             const float *const *out, unsigned flags, FILE *f)
{
    tl_self *s = self;
    const int32_t n = smp->n > 0 ? smp->w[0] : 0, L = s->labels;
    if (n < 1 || nout < n)
        return dbx__fail(DBX_EINVAL, "treelstm: %d outputs for a tree of %d nodes", nout, n);
    const int positive = tl_positive(out[n - 1], L, s->probs);
    fprintf(f, "{\"label\":%d,\"probs\":[", dbx_probs_softmax(out[n - 1], L, s->probs));
    for (int32_t c = 0; c < L; c++) fprintf(f, "%s%.6g", c ? "," : "", s->probs[c]);
    fprintf(f, "],\"binary\":\"%s\"", positive ? "positive" : "negative");
    if (flags & DBX_PREDICT_DETAIL) {
        fputs(",\"nodes\":[", f);
        for (int32_t v = 0; v < n; v++)
            fprintf(f, "%s%d", v ? "," : "", dbx_probs_softmax(out[v], L, NULL));
        fputc(']', f);
    }
    fputc('}', f);
    return DBX_OK;
}

const dbx_model_type dbx_treelstm_type = {
    .name = "treelstm",
    .summary = "binary Tree-LSTM (Tai et al. 2015), a softmax loss on every node",
    .data_help = "SST trees, one PTB S-expression per line, labels 0..4",
    .sample_noun = "trees",
    .unit_noun = "nodes",
    .nstats = TL_NSTATS,
    .parse = dbx_sst_parse,
    .generate = dbx_sst_generate,
    .create = tl_create,
    .destroy = tl_destroy,
    .build = tl_build,
    .score = tl_score,
    .report = tl_report,
    .parse_unlabelled = dbx_sst_parse_unlabelled,
    .predict = tl_predict,
};
