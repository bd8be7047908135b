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

#include <stdio.h>

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
/* A parse_unlabelled callback: trees with or without labels (dbx_tree_opts.unlabelled:
 * "((the cat) (sat down))", "(3 (2 An) (4 good))"), every label of a bare tree 0. */
dbx_status dbx_sst_parse_unlabelled(dbx_meta *meta, const char *name, const char *text,
                                    size_t len, dbx_dataset *ds);
/* A view of record s as a tree (pointing into s); DBX_EPARSE unless it is a well-formed tree
 * with words < vocab and labels < labels. */
dbx_status dbx_sst_tree(const dbx_sample *s, int32_t vocab, int32_t labels, dbx_tree *out);

/* ---- token|TAG sentences as samples ---------------------------------------------------------
 * Record: [n, word[n], tag[n]]; vocabularies "words" and "tags". */
dbx_status dbx_tags_parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                          dbx_dataset *ds);
/* A parse_unlabelled callback: plain sentences, one per line (dbx_tagset_parse_untagged;
 * lines of token|TAG items have their tags ignored), every tag 0 (<unk>). */
dbx_status dbx_tags_parse_unlabelled(dbx_meta *meta, const char *name, const char *text,
                                     size_t len, dbx_dataset *ds);
/* A view of record s as a sentence; DBX_EPARSE unless words < vocab and tags < tags. */
dbx_status dbx_tags_sentence(const dbx_sample *s, int32_t vocab, int32_t tags,
                             dbx_sentence *out);

/* ---- evaluation helpers for model types ----------------------------------------------------
 * Argmax accuracy: stats[0] += correct, stats[1] += scored. */
void dbx_score_argmax(const float *scores, int n, int32_t gold, double *stats);
/* Reports {"accuracy": stats[0] / stats[1]} (NaN when nothing was scored). */
int dbx_report_accuracy(void *self, const double *stats, dbx_metric *out, int max);
/* The softmax of logits[0..n) into probs[0..n) (probs may be NULL); returns the argmax (the
 * first of equal maxima). */
int dbx_probs_softmax(const float *logits, int n, double *probs);

/* Writes the prediction of n labelled items (tokens, lattice nodes) whose output i holds the K
 * logits out[i]: {"tags":[...],"probs":[...]} with each item's argmax (its name from
 * names[0..K), or its index when names is NULL) and that label's probability, and with detail
 * also "dists": every item's distribution. probs: scratch of K doubles. */
void dbx_predict_write_tags(FILE *f, int32_t n, int K, const float *const *out,
                            const char *const *names, int detail, double *probs);
/* Writes s as a JSON string (quoted, escaped) to f. */
void dbx_json_string(FILE *f, const char *s);

/* Entity spans (chunks) of tag sequences, counted by the CoNLL rules (conlleval), for IOB1,
 * IOB2 and IOBES tag sets alike:
 *  - a tag "B-X", "I-X", "E-X" or "S-X" has the role B, I, E or S and the type X (BILOU's
 *    "L-X" and "U-X" read as E and S); any other tag ("O", a tag without such a prefix,
 *    "<unk>") is outside every span;
 *  - a span starts at B-X or S-X, at I-X or E-X after O, E-Y or S-Y, and at a tag whose type
 *    differs from the previous tag's (I-X after O or after I-Y starts a span);
 *  - a span ends before O, B or S, after E or S, and before a tag of another type;
 *  - a predicted span is correct when a gold span has the same first token, last token and
 *    type. */
typedef struct dbx_spans {
    int64_t gold, pred, correct;   /* gold spans, predicted spans, correct predicted spans */
} dbx_spans;

/* The role of tag: 'B', 'I', 'E', 'S' or 'O' (as above); *type (if type is not NULL) points
 * at the type inside tag ("" for 'O'). */
char dbx_chunk_role(const char *tag, const char **type);
/* Adds the spans of one sequence of n tags: gold[i] and pred[i] are the gold and predicted tag
 * names of token i. Sequences are independent (a span never crosses two calls). */
void dbx_spans_add(dbx_spans *c, int32_t n, const char *const *gold, const char *const *pred);
/* Precision = correct / pred (0 when nothing was predicted), recall = correct / gold (0 when
 * there is no gold span), F1 = 2 P R / (P + R) (0 when P + R = 0). NULL outputs are skipped. */
void dbx_spans_prf(const dbx_spans *c, double *precision, double *recall, double *f1);

#ifdef __cplusplus
}
#endif
#endif /* DBX_MODELS_H */
