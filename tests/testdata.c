/* Generated datasets for the model-step suites (tests/testdata.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdata.h"
#include "testutil.h"

/* n generated SST-like trees over a 60-word vocabulary (so words repeat: dedup merges). */
void dbx_test_data_trees(dbx_test_data *d, int n, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    dbx_gen_opts go = {.ntrees = n, .vocab = 60, .seed = seed};
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_FATAL(dbx_treebank_generate(&go, &text, &len) == DBX_OK);
    CU_ASSERT_FATAL(dbx_vocab_new(&d->wv) == DBX_OK);
    CU_ASSERT_FATAL(dbx_treebank_parse("<gen>", text, len, NULL, d->wv, &d->tb) == DBX_OK);
    free(text);
    d->n = d->tb->ntrees;
}

/* n token|TAG sentences of 1 to 25 tokens over 50 words; a word's tag is mostly its own
   (word % 7), so the tagger can learn it. */
void dbx_test_data_tags(dbx_test_data *d, int n, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->tagger = 1;
    size_t cap = (size_t)n * 25 * 16 + 1, at = 0;
    char *text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    uint64_t st = seed;
    for (int s = 0; s < n; s++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        int len = 1 + (int)((st >> 33) % 25);
        for (int i = 0; i < len; i++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            int w = (int)((st >> 33) % 50);
            at += (size_t)snprintf(text + at, cap - at, "%sw%d|T%d", i ? " " : "", w, w % 7);
        }
        text[at++] = '\n';
    }
    CU_ASSERT_FATAL(dbx_vocab_new(&d->wv) == DBX_OK && dbx_vocab_new(&d->tv) == DBX_OK);
    CU_ASSERT_FATAL(dbx_tagset_parse("<tags>", text, at, d->wv, d->tv, &d->ts) == DBX_OK);
    free(text);
    d->n = d->ts->nsent;
}

void dbx_test_data_free(dbx_test_data *d)
{
    dbx_treebank_free(d->tb);
    dbx_tagset_free(d->ts);
    dbx_vocab_free(d->wv);
    dbx_vocab_free(d->tv);
    memset(d, 0, sizeof *d);
}

void dbx_test_data_model(const dbx_test_data *d, int size, dbx_model **m, dbx_treelstm **tl,
                         dbx_tagger **tg, size_t *nfloats)
{
    *tl = NULL;
    *tg = NULL;
    CU_ASSERT_FATAL(dbx_model_new(m) == DBX_OK);
    if (d->tagger) {
        dbx_tagger_opts o = {.vocab = dbx_vocab_size(d->wv), .embed = size, .hidden = size,
                             .mlp = size + 3, .tags = dbx_vocab_size(d->tv)};
        CU_ASSERT_FATAL(dbx_tagger_new(*m, &o, tg) == DBX_OK);
    } else {
        dbx_treelstm_opts o = {.vocab = dbx_vocab_size(d->wv), .embed = size, .hidden = size,
                               .labels = 5};
        CU_ASSERT_FATAL(dbx_treelstm_new(*m, &o, tl) == DBX_OK);
    }
    CU_ASSERT_FATAL(dbx_model_init(*m, 7) == DBX_OK);
    size_t nf = 0;
    for (int p = 0; p < dbx_model_num_params(*m); p++) {
        int rows, cols;
        dbx_model_param_shape(*m, p, &rows, &cols);
        size_t end = dbx_model_param_offset(*m, p) + (size_t)rows * (size_t)cols;
        if (end > nf) nf = end;
    }
    *nfloats = nf;
}

void dbx_test_data_model_free(dbx_model *m, dbx_treelstm *tl, dbx_tagger *tg)
{
    dbx_treelstm_free(tl);
    dbx_tagger_free(tg);
    dbx_model_free(m);
}

void dbx_test_data_build(const dbx_test_data *d, dbx_graph *g, dbx_treelstm *tl,
                         dbx_tagger *tg)
{
    for (int i = 0; i < d->n; i++) {
        dbx_status s = d->tagger ? dbx_tagger_build(tg, g, &d->ts->sents[i], NULL)
                                 : dbx_treelstm_build(tl, g, &d->tb->trees[i], NULL);
        CU_ASSERT(s == DBX_OK);
    }
}

double dbx_test_data_worst_tensor(const dbx_test_data *d, int size, const float *a,
                                  const float *ref)
{
    dbx_model *m;
    dbx_treelstm *tl;
    dbx_tagger *tg;
    size_t nf;
    dbx_test_data_model(d, size, &m, &tl, &tg, &nf);
    double worst = 0;
    for (int p = 0; p < dbx_model_num_params(m); p++) {
        int rows, cols;
        dbx_model_param_shape(m, p, &rows, &cols);
        size_t off = dbx_model_param_offset(m, p);
        double e = dbx_test_normwise(a + off, ref + off, (size_t)rows * (size_t)cols);
        if (!(e <= worst)) worst = e;
    }
    dbx_test_data_model_free(m, tl, tg);
    return worst;
}

void dbx_test_data_two_steps(const dbx_test_data *d, int size, const dbx_exec_opts *eo,
                             double loss[2], float *grads[2], size_t *nfloats)
{
    dbx_model *m = NULL;
    dbx_treelstm *tl = NULL;
    dbx_tagger *tg = NULL;
    size_t nf = 0;
    dbx_test_data_model(d, size, &m, &tl, &tg, &nf);
    *nfloats = nf;
    dbx_exec *ex = NULL;
    CU_ASSERT_FATAL(dbx_exec_new(eo, &ex) == DBX_OK);
    for (int step = 0; step < 2; step++) {
        if (step) {
            float *v = dbx_model_values(m);
            for (size_t i = 0; i < nf; i++) v[i] *= 0.9f;
        }
        dbx_model_zero_grads(m);
        dbx_graph *g = NULL;
        CU_ASSERT_FATAL(dbx_graph_new(m, 1, &g) == DBX_OK);
        dbx_test_data_build(d, g, tl, tg);
        double l = NAN;
        dbx_status s = dbx_exec_forward(ex, g, &l);
        if (s == DBX_OK) s = dbx_exec_backward(ex, g, 1.0f);
        if (s != DBX_OK) printf("\n  step: %s\n", dbx_last_error());
        CU_ASSERT_FATAL(s == DBX_OK);
        loss[step] = l;
        grads[step] = dbx_test_dup(dbx_model_grads(m), nf);
        dbx_graph_free(g);
    }
    dbx_exec_free(ex);
    dbx_test_data_model_free(m, tl, tg);
}
