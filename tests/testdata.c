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
