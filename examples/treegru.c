/* A model that is not built into dbx, written against the public API only: a gated
 * recursive unit over binary trees (Tree-GRU style). Leaf: h = tanh(W_x x + b_x).
 * Binary node with e = [h_l; h_r]: r = sigmoid(W_r e + b_r) (reset), z = sigmoid(W_z e + b_z)
 * (update), k = sigmoid(W_k e + b_k) (keep), u = tanh(U (r * e) + b_u),
 * h = z * u + k * (h_l + h_r). A softmax loss on every node. dbx batches the per-tree graphs.
 * Usage: treegru [trees] [epochs]. Exits 1 unless the loss falls. */
#include <stdio.h>
#include <stdlib.h>

#include "dbx/data.h"
#include "dbx/dbx.h"

enum { E = 32, H = 32, B = 32 };
static dbx_param Emb, Wx, bx, Wr, br, Wz, bz, Wk, bk, U, bu, Wo;

static dbx_node gate(dbx_graph *g, dbx_param w, dbx_param b, dbx_node x, int rows)
{
    dbx_term t[2] = {{b, DBX_NONE, 0}, {w, x, 0}};
    return dbx_affine(g, rows, 2, t);
}

static void build(dbx_graph *g, const dbx_tree *t, dbx_node *h)
{
    dbx_graph_begin_sample(g);
    for (int v = 0; v < t->n; v++) {
        if (t->left[v] < 0) {
            h[v] = dbx_tanh(g, gate(g, Wx, bx, dbx_lookup(g, Emb, t->word[v]), H));
        } else {
            dbx_node kids[2] = {h[t->left[v]], h[t->right[v]]};
            dbx_node e = dbx_concat(g, 2, kids);
            dbx_node r = dbx_sigmoid(g, gate(g, Wr, br, e, 2 * H));
            dbx_node z = dbx_sigmoid(g, gate(g, Wz, bz, e, H));
            dbx_node k = dbx_sigmoid(g, gate(g, Wk, bk, e, H));
            dbx_node u = dbx_tanh(g, gate(g, U, bu, dbx_cmult(g, r, e), H));
            h[v] = dbx_add(g, dbx_cmult(g, z, u), dbx_cmult(g, k, dbx_sum(g, 2, kids)));
        }
        dbx_softmax_xent(g, dbx_matvec(g, Wo, h[v]), t->label[v]);
    }
}

#define CHECK(x) do { if ((x) != DBX_OK) { fprintf(stderr, "treegru: %s\n", dbx_last_error()); return 1; } } while (0)

int main(int argc, char **argv)
{
    int ntrees = argc > 1 ? atoi(argv[1]) : 512, epochs = argc > 2 ? atoi(argv[2]) : 4;
    dbx_gen_opts go = {.ntrees = ntrees, .vocab = 500, .seed = 7};
    char *text; size_t len; dbx_vocab *vocab; dbx_treebank *tb; dbx_model *m;
    CHECK(dbx_treebank_generate(&go, &text, &len));
    CHECK(dbx_vocab_new(&vocab));
    CHECK(dbx_treebank_parse("<synthetic>", text, len, NULL, vocab, &tb));
    CHECK(dbx_model_new(&m));
    CHECK(dbx_model_add_lookup(m, "E", dbx_vocab_size(vocab), E, 0.1f, &Emb));
    dbx_param *ps[] = {&Wx, &Wr, &Wz, &Wk, &U, &bx, &br, &bz, &bk, &bu};
    const int rows[] = {H, 2 * H, H, H, H}, cols[] = {E, 2 * H, 2 * H, 2 * H, 2 * H};
    const char *names[] = {"Wx", "Wr", "Wz", "Wk", "U", "bx", "br", "bz", "bk", "bu"};
    for (int i = 0; i < 5; i++) {
        CHECK(dbx_model_add(m, names[i], rows[i], cols[i], DBX_INIT_GLOROT, 0, ps[i]));
        CHECK(dbx_model_add(m, names[i + 5], rows[i], 1, DBX_INIT_ZERO, 0, ps[i + 5]));
    }
    CHECK(dbx_model_add(m, "Wo", 5, H, DBX_INIT_GLOROT, 0, &Wo));
    CHECK(dbx_model_init(m, 1));
    dbx_exec_opts eo = {.scheduler = "agenda"};
    dbx_exec *ex; dbx_graph *g;
    CHECK(dbx_exec_new(&eo, &ex));
    CHECK(dbx_graph_new(m, 1, &g));
    dbx_optim opt = dbx_optim_default(DBX_OPT_ADAM);
    opt.lr = 0.01f;
    int maxn = 1;
    for (int i = 0; i < tb->ntrees; i++) maxn = tb->trees[i].n > maxn ? tb->trees[i].n : maxn;
    dbx_node *h = malloc(sizeof *h * (size_t)maxn);
    double first = 0, last = 0;
    for (int ep = 0; ep < epochs; ep++) {
        double sum = 0; long nodes = 0;
        for (int s = 0; s + B <= tb->ntrees; s += B) {
            dbx_graph_clear(g);
            for (int i = s; i < s + B; i++) { build(g, &tb->trees[i], h); nodes += tb->trees[i].n; }
            double loss;
            CHECK(dbx_exec_forward(ex, g, &loss));
            CHECK(dbx_exec_backward(ex, g, 1.0f));
            opt.grad_scale = 1.0f / B;
            CHECK(dbx_model_update(m, &opt));
            sum += loss;
        }
        last = sum / (double)nodes;
        if (ep == 0) first = last;
        printf("epoch %d: loss/node %.4f (%lld batches/step)\n", ep + 1, last,
               (long long)dbx_exec_last_stats(ex)->batches);
    }
    free(h); free(text);
    dbx_graph_free(g); dbx_exec_free(ex); dbx_model_free(m); dbx_treebank_free(tb); dbx_vocab_free(vocab);
    printf("treegru: loss/node %.4f -> %.4f: %s\n", first, last, last < 0.95 * first ? "falls" : "does NOT fall");
    return last < 0.95 * first ? 0 : 1;
}
