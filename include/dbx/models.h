/* Built-in models that build one graph per sample through the public graph API:
 *  - treelstm: binary N-ary Tree-LSTM (Tai et al. 2015) with a softmax loss on every node;
 *  - tagger:   BiLSTM tagger (forward + backward LSTM, tanh MLP, softmax loss per token).
 * Each is also a model type (dbx/model_type.h) that the trainer runs by name, and the sample
 * formats they read (SST trees, token|TAG sentences) are exported as parse/generate callbacks
 * and record views for models of one's own over the same data.
 * A model object declares its parameters in a dbx_model (before dbx_model_init) and
 * borrows it afterwards. Not thread-safe per object. */
#ifndef DBX_MODELS_H
#define DBX_MODELS_H

#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/model_type.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Tree-LSTM --------------------------------------------------------------------------- */
typedef struct dbx_treelstm dbx_treelstm;

typedef struct dbx_treelstm_opts {
    int vocab;   /* word vocabulary size (including <unk>) */
    int embed;   /* word embedding size E */
    int hidden;  /* hidden size H */
    int labels;  /* output classes (SST: 5) */
    float dropout; /* 0 <= p < 1: in training graphs, dropout on the word embeddings and on
                      each node's h before W_out (not on the h its parent reads); 0: none */
} dbx_treelstm_opts;

/* Declares the parameters: E (vocab, E) lookup; W_leaf (3H, E), b_leaf (3H); A_l (4H, H) =
 * [F_l; W_iou_l] and A_r (4H, H) = [W_iou_r; F_r] (the gate matrices of a binary node,
 * stacked so each child's transform is one GEMM), b_iou (3H), b_f (H, shared by both forget
 * gates); W_out (labels, H). */
dbx_status dbx_treelstm_new(dbx_model *m, const dbx_treelstm_opts *o, dbx_treelstm **out);
void dbx_treelstm_free(dbx_treelstm *t);
/* Builds tree's graph as a new sample of g: a loss on every node. If logits is not NULL it
 * receives the logits node of each tree node (tree->n entries). Returns the graph status. */
dbx_status dbx_treelstm_build(dbx_treelstm *t, dbx_graph *g, const dbx_tree *tree,
                              dbx_node *logits);
/* Forward FLOPs of the model's GEMMs for one tree, before any deduplication. */
double dbx_treelstm_gemm_flops(const dbx_treelstm *t, const dbx_tree *tree);

/* ---- BiLSTM tagger ----------------------------------------------------------------------- */
typedef struct dbx_tagger dbx_tagger;

typedef struct dbx_tagger_opts {
    int vocab, embed, hidden, mlp, tags;
    float dropout; /* 0 <= p < 1: in training graphs, dropout on the word embeddings and on the
                      BiLSTM outputs the MLP reads (not on the recurrent states); 0: none */
} dbx_tagger_opts;

dbx_status dbx_tagger_new(dbx_model *m, const dbx_tagger_opts *o, dbx_tagger **out);
void dbx_tagger_free(dbx_tagger *t);
/* Builds a sentence's graph as a new sample of g; logits (s->n entries) optional. */
dbx_status dbx_tagger_build(dbx_tagger *t, dbx_graph *g, const dbx_sentence *s,
                            dbx_node *logits);

/* ---- the built-in model types ------------------------------------------------------------ */
extern const dbx_model_type dbx_treelstm_type; /* "treelstm": SST trees, labels 0..4 */
extern const dbx_model_type dbx_tagger_type;   /* "bilstm-tagger": token|TAG sentences */
extern const dbx_model_type dbx_lattice_type;  /* "lattice-lstm": word/character lattices */

/* ---- SST trees as samples -------------------------------------------------------------------
 * Record: [n, left[n], right[n], label[n], word[n], depth[n]] (dbx_tree's arrays, post-order).
 * dbx_sst_parse is a model type's parse callback: words through meta vocabulary "words",
 * setting "labels" raised to 5. dbx_sst_generate is a generate callback (the synthetic
 * treebank of dbx_treebank_generate, 5000 words). */
dbx_status dbx_sst_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                         dbx_dataset *ds);
dbx_status dbx_sst_generate(int32_t n, uint64_t seed, char **text, size_t *len);
/* A view of record s as a tree (pointing into s); DBX_EPARSE unless it is a well-formed tree
 * with words < vocab and labels < labels. */
dbx_status dbx_sst_tree(const dbx_sample *s, int32_t vocab, int32_t labels, dbx_tree *out);

/* ---- token|TAG sentences as samples ---------------------------------------------------------
 * Record: [n, word[n], tag[n]]; vocabularies "words" and "tags". */
dbx_status dbx_tags_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                          dbx_dataset *ds);
/* A view of record s as a sentence; DBX_EPARSE unless words < vocab and tags < tags. */
dbx_status dbx_tags_sentence(const dbx_sample *s, int32_t vocab, int32_t tags,
                             dbx_sentence *out);

/* Argmax accuracy helpers for model types: stats[0] += correct, stats[1] += scored. */
void dbx_score_argmax(const float *scores, int n, int32_t gold, double *stats);
/* Reports {"accuracy": stats[0] / stats[1]}. */
int dbx_report_accuracy(void *self, const double *stats, dbx_metric *out, int max);

#ifdef __cplusplus
}
#endif
#endif /* DBX_MODELS_H */
