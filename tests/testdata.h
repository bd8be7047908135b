/* Small generated datasets shared by the suites that run whole model steps (test_cuda_model,
 * test_dnnl, test_bf16): SST-like trees and token|TAG sentences, deterministic from a seed. */
#ifndef DBX_TESTS_TESTDATA_H
#define DBX_TESTS_TESTDATA_H

#include <stdint.h>

#include "dbx/data.h"

typedef struct dbx_test_data {
    int tagger;        /* 0: trees (Tree-LSTM), 1: tagged sentences (BiLSTM tagger) */
    dbx_vocab *wv, *tv;
    dbx_treebank *tb;
    dbx_tagset *ts;
    int n;             /* samples */
} dbx_test_data;

/* n generated SST-like trees over a 60-word vocabulary (so words repeat: dedup merges). */
void dbx_test_data_trees(dbx_test_data *d, int n, uint64_t seed);
/* n token|TAG sentences of 1 to 25 tokens over 50 words; a word's tag is mostly its own
   (word % 7), so the tagger can learn it. */
void dbx_test_data_tags(dbx_test_data *d, int n, uint64_t seed);
void dbx_test_data_free(dbx_test_data *d);

#endif /* DBX_TESTS_TESTDATA_H */
