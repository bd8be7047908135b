/* A model that is not built into dbx, written against the public API only: a gated
 * recursive unit over binary trees (Tree-GRU style). Leaf: h = tanh(W_x x + b_x).
 * Binary node with e = [h_l; h_r]: r = sigmoid(W_r e + b_r) (reset), z = sigmoid(W_z e + b_z)
 * (update), k = sigmoid(W_k e + b_k) (keep), u = tanh(U (r * e) + b_u),
 * h = z * u + k * (h_l + h_r). A softmax loss on every node. With --dropout P (the trainer
 * records it in the meta, DBX_META_DROPOUT), training graphs drop the word embeddings.
 * The model is a dbx_model_type (SST trees as samples, dbx's synthetic treebank as data); the
 * trainer batches its graphs and trains it in one process or on every rank of mpirun.
 * Usage: treegru [--trees N] [--seed S] [--steps K] [--dropout P] [--save FILE]
 * Exits 1 unless the loss falls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/models.h"
#include "dbx/train.h"

typedef struct treegru {
    int E, H, vocab;
    float drop;               /* dropout on the embeddings (0: none) */
    dbx_param Emb, Wx, bx, Wr, br, Wz, bz, Wk, bk, U, bu, Wo;
    dbx_node *h, *logits;     /* per tree node */
    size_t cap;
} treegru;

static dbx_status create(const dbx_meta *meta, dbx_model *m, void **self)
{
    treegru *t = calloc(1, sizeof *t);
    if (!t) return DBX_ENOMEM;
    t->E = (int)dbx_meta_get(meta, "embed", 32);
    t->H = (int)dbx_meta_get(meta, "hidden", 32);
    t->vocab = dbx_vocab_size(dbx_meta_vocab((dbx_meta *)meta, "words"));
    t->drop = (float)(dbx_meta_get(meta, DBX_META_DROPOUT, 0) / 1e6);
    *self = t;
    const int H = t->H, rows[] = {H, 2 * H, H, H, H}, cols[] = {t->E, 2 * H, 2 * H, 2 * H, 2 * H};
    dbx_param *w[] = {&t->Wx, &t->Wr, &t->Wz, &t->Wk, &t->U}, *b[] = {&t->bx, &t->br, &t->bz,
                                                                      &t->bk, &t->bu};
    const char *wn[] = {"Wx", "Wr", "Wz", "Wk", "U"}, *bn[] = {"bx", "br", "bz", "bk", "bu"};
    dbx_status s = dbx_model_add_lookup(m, "E", t->vocab, t->E, 0.1f, &t->Emb);
    for (int i = 0; i < 5 && !s; i++) {
        s = dbx_model_add(m, wn[i], rows[i], cols[i], DBX_INIT_GLOROT, 0, w[i]);
        if (!s) s = dbx_model_add(m, bn[i], rows[i], 1, DBX_INIT_ZERO, 0, b[i]);
    }
    return s ? s : dbx_model_add(m, "Wo", 5, H, DBX_INIT_GLOROT, 0, &t->Wo);
}

static void destroy(void *self)
{
    treegru *t = self;
    free(t->h);
    free(t->logits);
    free(t);
}

static dbx_node gate(dbx_graph *g, dbx_param w, dbx_param b, dbx_node x, int rows)
{
    dbx_term t[2] = {{b, DBX_NONE, 0}, {w, x, 0}};
    return dbx_affine(g, rows, 2, t);
}

static dbx_status build(void *self, dbx_graph *g, const dbx_sample *s, dbx_build_mode mode)
{
    treegru *t = self;
    dbx_tree tr;
    dbx_status st = dbx_sst_tree(s, t->vocab, 5, &tr);
    if (st) return st;
    if ((size_t)tr.n > t->cap) {
        t->cap = (size_t)tr.n;
        t->h = realloc(t->h, t->cap * sizeof *t->h);
        t->logits = realloc(t->logits, t->cap * sizeof *t->logits);
        if (!t->h || !t->logits) return DBX_ENOMEM;
    }
    dbx_graph_begin_sample(g);
    const int H = t->H;
    for (int v = 0; v < tr.n; v++) {
        if (tr.left[v] < 0) {
            dbx_node x = dbx_lookup(g, t->Emb, tr.word[v]);
            if (t->drop > 0) x = dbx_dropout(g, x, t->drop); /* training graphs only */
            t->h[v] = dbx_tanh(g, gate(g, t->Wx, t->bx, x, H));
        } else {
            dbx_node kids[2] = {t->h[tr.left[v]], t->h[tr.right[v]]};
            dbx_node e = dbx_concat(g, 2, kids);
            dbx_node r = dbx_sigmoid(g, gate(g, t->Wr, t->br, e, 2 * H));
            dbx_node z = dbx_sigmoid(g, gate(g, t->Wz, t->bz, e, H));
            dbx_node k = dbx_sigmoid(g, gate(g, t->Wk, t->bk, e, H));
            dbx_node u = dbx_tanh(g, gate(g, t->U, t->bu, dbx_cmult(g, r, e), H));
            t->h[v] = dbx_add(g, dbx_cmult(g, z, u), dbx_cmult(g, k, dbx_sum(g, 2, kids)));
        }
        t->logits[v] = dbx_matvec(g, t->Wo, t->h[v]);
        dbx_softmax_xent(g, t->logits[v], tr.label[v]);
        if (mode == DBX_BUILD_EVAL) dbx_graph_output(g, t->logits[v]);
    }
    return dbx_graph_status(g);
}

static void score(void *self, const dbx_sample *s, int nout, const float *const *out, double *st)
{
    (void)self;
    const int32_t n = s->w[0], *label = s->w + 1 + 2 * n; /* dbx_sst_tree's record layout */
    for (int v = 0; v < nout && v < n; v++) dbx_score_argmax(out[v], 5, label[v], st);
}

static const dbx_model_type treegru_type = {
    .name = "treegru", .summary = "Tree-GRU over binary trees", .data_help = "SST trees",
    .sample_noun = "trees", .unit_noun = "nodes", .nstats = 2,
    .parse = dbx_sst_parse, .generate = dbx_sst_generate, .create = create, .destroy = destroy,
    .build = build, .score = score, .report = dbx_report_accuracy,
};

int main(int argc, char **argv)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model_type = &treegru_type;
    o.synthetic = 512;
    o.embed = o.hidden = o.batch = 32;
    o.epochs = 4;
    o.optim.lr = 0.001f;
    o.quiet = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(argv[i], "--trees")) o.synthetic = atoi(v);
        else if (v && !strcmp(argv[i], "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (v && !strcmp(argv[i], "--steps")) o.steps = atoll(v);
        else if (v && !strcmp(argv[i], "--dropout")) o.dropout = atof(v);
        else if (v && !strcmp(argv[i], "--save")) o.save = v;
        else {
            fprintf(stderr, "usage: treegru [--trees N] [--seed S] [--steps K] [--dropout P] "
                            "[--save FILE]\n");
            return 2;
        }
        i++;
    }
    dbx_train_result r;
    if (dbx_train(&o, &r) != DBX_OK) {
        if (r.rank == 0) fprintf(stderr, "treegru: %s\n", dbx_last_error());
        return 1;
    }
    int falls = r.last_epoch_loss < 0.95 * r.first_loss;
    if (r.rank == 0)
        printf("treegru: %d rank(s), %lld steps, loss/node %.4f -> %.4f: %s\n", r.ranks,
               (long long)r.steps, r.first_loss, r.last_epoch_loss,
               falls ? "falls" : "does NOT fall");
    return falls ? 0 : 1;
}
