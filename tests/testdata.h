/* Small generated datasets shared by the suites that run whole model steps (test_cuda_model,
 * test_dnnl, test_bf16): SST-like trees and token|TAG sentences, deterministic from a seed. */
#ifndef DBX_TESTS_TESTDATA_H
#define DBX_TESTS_TESTDATA_H

#include <stdint.h>

#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/models.h"

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

/* A model of d's kind in a new *m, initialised from seed 7: a Tree-LSTM (5 labels) or a
   tagger (MLP size + 3) of embed = hidden = size, whose state goes to *tl or *tg (the other
   NULL); *nfloats: the floats its parameters span. Free with dbx_test_data_model_free. */
void dbx_test_data_model(const dbx_test_data *d, int size, dbx_model **m, dbx_treelstm **tl,
                         dbx_tagger **tg, size_t *nfloats);
void dbx_test_data_model_free(dbx_model *m, dbx_treelstm *tl, dbx_tagger *tg);
/* Builds every sample of d into g with the model state tl or tg. */
void dbx_test_data_build(const dbx_test_data *d, dbx_graph *g, dbx_treelstm *tl,
                         dbx_tagger *tg);
/* Two forward/backward passes of d's whole minibatch under executor options eo on a new model
   of the given size; between them every parameter is scaled by 0.9 (so that packed or
   converted weights must be refreshed). loss[k] and grads[k] (a copy, freed by the caller)
   after pass k; *nfloats: the floats the parameters span. */
void dbx_test_data_two_steps(const dbx_test_data *d, int size, const dbx_exec_opts *eo,
                             double loss[2], float *grads[2], size_t *nfloats);
/* The worst normwise difference (dbx_test_normwise) over the parameter tensors of the model
   dbx_test_data_model makes, of two flat arrays laid out as its parameters. */
double dbx_test_data_worst_tensor(const dbx_test_data *d, int size, const float *a,
                                  const float *ref);

#endif /* DBX_TESTS_TESTDATA_H */
