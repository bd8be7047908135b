/* A sentence classifier with attention pooling, written against the public API only. The
 * sentence is an SST tree's words in order, the target its root label (5 classes):
 *   forward and backward LSTM over the word embeddings, s_t = [h_fwd_t; h_bwd_t] (2H);
 *   M = [s_1 ... s_n] (a node matrix: columns concatenated), a learned query q (2H):
 *   alpha = softmax(M^T q), context = M alpha, logits = W_o dropout(context) + b_o,
 *   loss = nll(log_softmax(logits), root label).
 * Usage: attnclf [--data FILE] [--dev FILE] [--trees N] [--seed S] [--steps K] [--save FILE]
 * Exits 1 unless the loss falls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbx/models.h>
#include <dbx/train.h>

typedef struct attnclf {
    int E, H, vocab;
    dbx_param Emb, Wx[2], Wh[2], b[2], q, Wo, bo;
    int32_t *words; /* the sentence: the tree's leaves, left to right */
    dbx_node *h;    /* per word i: h[2i] forward, h[2i + 1] backward state (M's columns) */
    size_t cap;
} attnclf;

static dbx_status create(const dbx_meta *meta, dbx_model *m, void **self)
{
    attnclf *a = calloc(1, sizeof *a);
    if (!a) return DBX_ENOMEM;
    *self = a;
    a->E = (int)dbx_meta_get(meta, "embed", 32);
    a->H = (int)dbx_meta_get(meta, "hidden", 32);
    a->vocab = dbx_vocab_size(dbx_meta_vocab((dbx_meta *)meta, "words"));
    const int H = a->H;
    const char *wx[2] = {"Wx_fwd", "Wx_bwd"}, *wh[2] = {"Wh_fwd", "Wh_bwd"},
               *b[2] = {"b_fwd", "b_bwd"};
    dbx_status s = dbx_model_add_lookup(m, "E", a->vocab, a->E, 0.1f, &a->Emb);
    for (int d = 0; d < 2 && !s; d++) {
        s = dbx_model_add(m, wx[d], 4 * H, a->E, DBX_INIT_GLOROT, 0, &a->Wx[d]);
        if (!s) s = dbx_model_add(m, wh[d], 4 * H, H, DBX_INIT_GLOROT, 0, &a->Wh[d]);
        if (!s) s = dbx_model_add(m, b[d], 4 * H, 1, DBX_INIT_ZERO, 0, &a->b[d]);
    }
    if (!s) s = dbx_model_add(m, "q", 2 * H, 1, DBX_INIT_UNIFORM, 0.1f, &a->q);
    if (!s) s = dbx_model_add(m, "Wo", 5, 2 * H, DBX_INIT_GLOROT, 0, &a->Wo);
    return s ? s : dbx_model_add(m, "bo", 5, 1, DBX_INIT_ZERO, 0, &a->bo);
}

static void destroy(void *self)
{
    attnclf *a = self;
    free(a->words);
    free(a->h);
    free(a);
}

static dbx_status build(void *self, dbx_graph *g, const dbx_sample *s, dbx_build_mode mode)
{
    attnclf *a = self;
    dbx_tree tr;
    dbx_status st = dbx_sst_tree(s, a->vocab, 5, &tr);
    if (st) return st;
    if ((size_t)tr.n > a->cap) {
        a->words = realloc(a->words, (size_t)tr.n * sizeof *a->words);
        a->h = realloc(a->h, 2 * (size_t)tr.n * sizeof *a->h);
        if (!a->words || !a->h) return DBX_ENOMEM;
        a->cap = (size_t)tr.n;
    }
    int n = 0; /* post-order lists the leaves left to right */
    for (int v = 0; v < tr.n; v++)
        if (tr.left[v] < 0) a->words[n++] = tr.word[v];
    dbx_graph_begin_sample(g);
    const int H = a->H;
    for (int d = 0; d < 2; d++) {
        dbx_node c = dbx_constant(g, H, 0.0f), h = DBX_NONE;
        for (int k = 0; k < n; k++) {
            int i = d == 0 ? k : n - 1 - k;
            dbx_node x = dbx_lookup(g, a->Emb, a->words[i]);
            dbx_term tp[2] = {{a->b[d], DBX_NONE, 0}, {a->Wx[d], x, 0}};
            dbx_node p = dbx_affine(g, 4 * H, 2, tp); /* input projection: no recurrence */
            dbx_term tg[2] = {{DBX_NONE, p, 0}, {a->Wh[d], h, 0}};
            dbx_node gates = k == 0 ? p : dbx_affine(g, 4 * H, 2, tg);
            c = dbx_lstm_c(g, gates, 1, &c);
            a->h[2 * i + d] = h = dbx_lstm_h(g, gates, c);
        }
    }
    dbx_node M = dbx_concat(g, 2 * n, a->h);                            /* 2H x n */
    dbx_node scores = dbx_mat_t_vec(g, M, dbx_parameter(g, a->q));      /* n: s_i . q */
    dbx_node alpha = dbx_softmax(g, scores);                            /* n */
    dbx_node context = dbx_dropout(g, dbx_mat_vec(g, M, alpha), 0.2f);  /* 2H */
    dbx_term to[2] = {{a->bo, DBX_NONE, 0}, {a->Wo, context, 0}};
    dbx_node logp = dbx_log_softmax(g, dbx_affine(g, 5, 2, to));
    dbx_nll(g, logp, tr.label[tr.n - 1]); /* the root is the last node */
    if (mode == DBX_BUILD_EVAL) dbx_graph_output(g, logp);
    return dbx_graph_status(g);
}

static void score(void *self, const dbx_sample *s, int nout, const float *const *out, double *st)
{
    attnclf *a = self;
    dbx_tree tr;
    if (nout == 1 && dbx_sst_tree(s, a->vocab, 5, &tr) == DBX_OK)
        dbx_score_argmax(out[0], 5, tr.label[tr.n - 1], st);
}

static const dbx_model_type attnclf_type = {
    .name = "attnclf", .summary = "attention-pooled BiLSTM sentence classifier",
    .data_help = "SST trees", .sample_noun = "sentences", .unit_noun = "nodes", .nstats = 2,
    .parse = dbx_sst_parse, .generate = dbx_sst_generate, .create = create, .destroy = destroy,
    .build = build, .score = score, .report = dbx_report_accuracy,
};

int main(int argc, char **argv)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model_type = &attnclf_type;
    o.synthetic = 512;
    o.embed = o.hidden = o.batch = 32;
    o.epochs = 4;
    o.quiet = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(argv[i], "--data")) o.data = v;
        else if (v && !strcmp(argv[i], "--dev")) o.dev = v;
        else if (v && !strcmp(argv[i], "--trees")) o.synthetic = atoi(v);
        else if (v && !strcmp(argv[i], "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (v && !strcmp(argv[i], "--steps")) o.steps = atoll(v);
        else if (v && !strcmp(argv[i], "--save")) o.save = v;
        else {
            fprintf(stderr, "usage: attnclf [--data FILE] [--dev FILE] [--trees N] [--seed S] "
                            "[--steps K] [--save FILE]\n");
            return 2;
        }
    }
    dbx_train_result r;
    if (dbx_train(&o, &r) != DBX_OK) {
        if (r.rank == 0) fprintf(stderr, "attnclf: %s\n", dbx_last_error());
        return 1;
    }
    int falls = r.last_epoch_loss < 0.95 * r.first_loss;
    if (r.rank == 0) {
        printf("attnclf: %d rank(s), %lld steps, loss/sentence %.4f -> %.4f: %s\n", r.ranks,
               (long long)r.steps, r.first_loss, r.last_epoch_loss,
               falls ? "falls" : "does NOT fall");
        if (o.dev) printf("attnclf: dev root accuracy %.4f\n", r.dev_acc);
    }
    return falls ? 0 : 1;
}
