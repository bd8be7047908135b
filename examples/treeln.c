/* A gated tree network with dropout and layer normalisation over SST trees, written against
 * the public API only. Leaf (word w): h = LN(tanh(W_x dropout(E[w]) + b_x)). Inner node with
 * children h_1..h_k: a = average(h_j), m = max(h_j), [z; u] = [sigmoid; tanh](W_a a + W_m m +
 * b), h = LN((1 - z) * a + z * u). Losses: a multi-class hinge on every node's logits W_o h +
 * b_o (5 classes), and at a non-neutral root a logistic loss on the polarity of the same
 * logits, ln P(3, 4) - ln P(0, 1) with P = softmax(logits). Exits 1 unless the loss falls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbx/models.h>
#include <dbx/train.h>

typedef struct treeln {
    int H, vocab;
    dbx_param Emb, Wx, bx, Wa, Wm, b, ln_gain, ln_bias, Wo, bo;
    dbx_node *h; /* per tree node */
    size_t cap;
} treeln;

static dbx_status create(const dbx_meta *meta, dbx_model *m, void **self)
{
    treeln *t = calloc(1, sizeof *t);
    if (!t) return DBX_ENOMEM;
    *self = t;
    const int E = (int)dbx_meta_get(meta, "embed", 32);
    const int H = t->H = (int)dbx_meta_get(meta, "hidden", 32);
    t->vocab = dbx_vocab_size(dbx_meta_vocab((dbx_meta *)meta, "words"));
    dbx_status s = dbx_model_add_lookup(m, "E", t->vocab, E, 0.1f, &t->Emb);
    if (!s) s = dbx_model_add(m, "Wx", H, E, DBX_INIT_GLOROT, 0, &t->Wx);
    if (!s) s = dbx_model_add(m, "bx", H, 1, DBX_INIT_ZERO, 0, &t->bx);
    if (!s) s = dbx_model_add(m, "Wa", 2 * H, H, DBX_INIT_GLOROT, 0, &t->Wa);
    if (!s) s = dbx_model_add(m, "Wm", 2 * H, H, DBX_INIT_GLOROT, 0, &t->Wm);
    if (!s) s = dbx_model_add(m, "b", 2 * H, 1, DBX_INIT_ZERO, 0, &t->b);
    if (!s) s = dbx_model_add(m, "ln_gain", H, 1, DBX_INIT_CONSTANT, 1.0f, &t->ln_gain);
    if (!s) s = dbx_model_add(m, "ln_bias", H, 1, DBX_INIT_ZERO, 0, &t->ln_bias);
    if (!s) s = dbx_model_add(m, "Wo", 5, H, DBX_INIT_GLOROT, 0, &t->Wo);
    return s ? s : dbx_model_add(m, "bo", 5, 1, DBX_INIT_ZERO, 0, &t->bo);
}

static void destroy(void *self)
{
    treeln *t = self;
    free(t->h);
    free(t);
}

static dbx_status build(void *self, dbx_graph *g, const dbx_sample *s, dbx_build_mode mode)
{
    treeln *t = self;
    dbx_tree tr;
    dbx_status st = dbx_sst_tree(s, t->vocab, 5, &tr);
    if (st) return st;
    if ((size_t)tr.n > t->cap) {
        if (!(t->h = realloc(t->h, (size_t)tr.n * sizeof *t->h))) return DBX_ENOMEM;
        t->cap = (size_t)tr.n;
    }
    dbx_graph_begin_sample(g);
    dbx_node logits = DBX_NONE;
    for (int v = 0; v < tr.n; v++) {
        dbx_node h;
        if (tr.left[v] < 0) {
            dbx_node x = dbx_dropout(g, dbx_lookup(g, t->Emb, tr.word[v]), 0.2f);
            dbx_term tx[2] = {{t->bx, DBX_NONE, 0}, {t->Wx, x, 0}};
            h = dbx_tanh(g, dbx_affine(g, t->H, 2, tx));
        } else {
            int k = tr.right[v] < 0 ? 1 : 2; /* SST trees are binary; a unary node has k = 1 */
            dbx_node kids[2] = {t->h[tr.left[v]], k == 2 ? t->h[tr.right[v]] : DBX_NONE};
            dbx_node a = dbx_average(g, k, kids), m = dbx_max(g, k, kids);
            dbx_term tg[3] = {{t->b, DBX_NONE, 0}, {t->Wa, a, 0}, {t->Wm, m, 0}};
            dbx_node gates = dbx_affine(g, 2 * t->H, 3, tg);
            dbx_node z = dbx_sigmoid(g, dbx_slice(g, gates, 0, t->H));
            dbx_node u = dbx_tanh(g, dbx_slice(g, gates, t->H, 2 * t->H));
            dbx_node keep = dbx_scale_shift(g, z, -1.0f, 1.0f); /* 1 - z */
            h = dbx_add(g, dbx_cmult(g, keep, a), dbx_cmult(g, z, u));
        }
        t->h[v] = h = dbx_layer_norm(g, h, t->ln_gain, t->ln_bias);
        dbx_term to[2] = {{t->bo, DBX_NONE, 0}, {t->Wo, h, 0}};
        logits = dbx_affine(g, 5, 2, to);
        dbx_hinge(g, logits, tr.label[v], 1.0f);
    }
    const int root = tr.label[tr.n - 1]; /* post-order: the root is the last node */
    if (root != 2) {                       /* 0, 1: negative; 3, 4: positive */
        dbx_node p = dbx_softmax(g, logits);
        dbx_node pos = dbx_shift(g, dbx_sum_elems(g, dbx_slice(g, p, 3, 5)), 1e-6f);
        dbx_node neg = dbx_shift(g, dbx_sum_elems(g, dbx_slice(g, p, 0, 2)), 1e-6f);
        dbx_logistic_loss(g, dbx_sub(g, dbx_log(g, pos), dbx_log(g, neg)), root > 2);
    }
    if (mode == DBX_BUILD_EVAL) dbx_graph_output(g, logits);
    return dbx_graph_status(g);
}

static void score(void *self, const dbx_sample *s, int nout, const float *const *out, double *st)
{
    treeln *t = self;
    dbx_tree tr;
    if (nout == 1 && dbx_sst_tree(s, t->vocab, 5, &tr) == DBX_OK)
        dbx_score_argmax(out[0], 5, tr.label[tr.n - 1], st);
}

static const dbx_model_type treeln_type = {
    .name = "treeln", .summary = "gated tree network with dropout and layer norm",
    .data_help = "SST trees", .sample_noun = "trees", .unit_noun = "nodes", .nstats = 2,
    .parse = dbx_sst_parse, .generate = dbx_sst_generate, .create = create, .destroy = destroy,
    .build = build, .score = score, .report = dbx_report_accuracy,
};

int main(int argc, char **argv)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model_type = &treeln_type;
    o.synthetic = 512;
    o.embed = o.hidden = o.batch = 32;
    o.epochs = 4;
    o.quiet = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(argv[i], "--data")) o.data = v;
        else if (v && !strcmp(argv[i], "--trees")) o.synthetic = atoi(v);
        else if (v && !strcmp(argv[i], "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (v && !strcmp(argv[i], "--steps")) o.steps = atoll(v);
        else if (v && !strcmp(argv[i], "--save")) o.save = v;
        else if (v && !strcmp(argv[i], "--partition")) o.partition = v;
        else {
            fprintf(stderr, "usage: treeln [--data FILE] [--trees N] [--seed S] [--steps K] "
                            "[--save FILE] [--partition S]\n");
            return 2;
        }
    }
    dbx_trainer *t = NULL;
    dbx_train_result r = {.rank = 0}; /* a failing dbx_trainer_new: every rank reports it */
    dbx_status s = dbx_trainer_new(&o, &t);
    if (!s) s = dbx_trainer_run(t, &r);
    int falls = !s && r.last_epoch_loss < 0.95 * r.first_loss;
    if (s && r.rank == 0) fprintf(stderr, "treeln: %s\n", dbx_last_error());
    else if (r.rank == 0)
        printf("treeln: %d rank(s), %lld steps, loss/node %.4f -> %.4f: %s\n", r.ranks,
               (long long)r.steps, r.first_loss, r.last_epoch_loss,
               falls ? "falls" : "does NOT fall");
    dbx_trainer_free(t);
    return falls ? 0 : 1;
}
