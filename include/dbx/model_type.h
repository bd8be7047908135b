/* dbx: the model interface. A model type is a table of callbacks plus the state its create()
 * returns; dbx's trainer (dbx/train.h) gives any model type data loading, the coordinator,
 * the structure-aware partitioner, distributed gradient all-reduce, evaluation, progress,
 * metrics and save/load, in one process or one worker per MPI rank. The built-in models
 * (treelstm, bilstm-tagger, lattice-lstm) are model types like a user's.
 *
 * The pieces:
 *  - dbx_meta: what defines a model besides its parameter values: integer settings (the
 *    sizes "embed", "hidden", "mlp" from the trainer options, and sizes a parser records,
 *    e.g. "labels") and named string vocabularies. Built on rank 0 while the training data
 *    is parsed, then frozen, broadcast to every rank and saved beside the parameters as
 *    P.vocab (text: "dbx-vocab 1 model=NAME key=value ...", then for each vocabulary a line
 *    "NAME N" and N entries, one per line). The trainer also records a training setting the
 *    model applies itself: DBX_META_DROPOUT, the dropout probability in millionths (from
 *    dbx_train_opts.dropout / --dropout; unset: 0), which create() reads, e.g.
 *        float p = (float)(dbx_meta_get(meta, DBX_META_DROPOUT, 0) / 1e6);
 *    and build() passes to dbx_dropout where the model wants it (only when p > 0, so that
 *    a model without dropout builds the graphs it always did). Evaluation graphs do not drop;
 *    each training sample's masks come from the run's seed, the step and the sample's
 *    index, so they are the same on any number of workers. With --load the value of the
 *    current run replaces the saved one.
 *  - dbx_dataset: the samples of one file. A sample is a record of int32 words whose layout
 *    its model type defines; the parser writes records, the coordinator ships them to the
 *    workers unchanged, and build() reads them back. build() must validate every index in a
 *    record (it may arrive from another rank).
 *  - dbx_model_type: parse text into records; optionally generate synthetic text; create the
 *    model's parameters from the meta; build one sample's graph; score a sample's outputs
 *    for evaluation and report the metrics; optionally parse unlabelled input and write a
 *    sample's prediction (dbx/predict.h, `dbx predict`).
 *
 * Structural signatures for the partitioner come from the graphs build() makes, never from
 * the model. Ownership: a dataset and a meta are owned by whoever made them (freed with
 * their _free(), which accepts NULL). Not thread-safe per object. */
#ifndef DBX_MODEL_TYPE_H
#define DBX_MODEL_TYPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dbx/data.h"
#include "dbx/dbx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- meta: settings, sizes and vocabularies ---------------------------------------------- */
typedef struct dbx_meta dbx_meta;

/* The integer setting holding the dropout probability in millionths (see above). */
#define DBX_META_DROPOUT "dropout_ppm"

dbx_status dbx_meta_new(dbx_meta **out);
void dbx_meta_free(dbx_meta *m);
/* The value of integer setting key ([a-z0-9_], 1..31 characters), or dflt when unset. */
int64_t dbx_meta_get(const dbx_meta *m, const char *key, int64_t dflt);
/* Sets key (also in a frozen meta: freezing stops parsers, not the owner); DBX_EINVAL for a
 * bad key. */
dbx_status dbx_meta_set(dbx_meta *m, const char *key, int64_t value);
/* Raises key to at least value (unset counts as below any value). Frozen: no change, DBX_OK
 * (a parser of dev or test data may call it like the training data's). */
dbx_status dbx_meta_raise(dbx_meta *m, const char *key, int64_t value);
/* The vocabulary called name ([a-z0-9_]), created empty on first use (id 0 is "<unk>");
 * frozen with the meta. NULL for a bad name, on allocation failure, or when the meta is
 * frozen and has no such vocabulary. Valid until dbx_meta_free. */
dbx_vocab *dbx_meta_vocab(dbx_meta *m, const char *name);
/* Freezes the meta and its vocabularies: unknown strings map to <unk>, dbx_meta_raise does
 * nothing, no vocabulary is added. */
void dbx_meta_freeze(dbx_meta *m);
int dbx_meta_frozen(const dbx_meta *m);
/* The model type name recorded in the meta ("" when unset). */
const char *dbx_meta_model(const dbx_meta *m);
dbx_status dbx_meta_set_model(dbx_meta *m, const char *name);
/* Writes a one-line summary, e.g. "embed 128, hidden 128, labels 5, vocab words 16583". */
void dbx_meta_describe(const dbx_meta *m, char *out, size_t cap);
/* Saves to path atomically (temporary file, fsync, rename) in the P.vocab text format. */
dbx_status dbx_meta_save(const dbx_meta *m, const char *path);
/* Loads a meta saved by dbx_meta_save (frozen); errors "path:line: expected ...". */
dbx_status dbx_meta_load(const char *path, dbx_meta **out);

/* ---- datasets ------------------------------------------------------------------------------ */
typedef struct dbx_dataset dbx_dataset;

/* One sample: a record of n int32 words (valid as long as its dataset or message is). */
typedef struct dbx_sample {
    const int32_t *w;
    int32_t n;
} dbx_sample;

dbx_status dbx_dataset_new(dbx_dataset **out);
void dbx_dataset_free(dbx_dataset *ds);
/* Appends a copy of the record w[0..n) (n >= 1); units is the sample's size for statistics
 * (tree nodes, tokens, lattice nodes). */
dbx_status dbx_dataset_add(dbx_dataset *ds, const int32_t *w, int32_t n, int32_t units);
int32_t dbx_dataset_size(const dbx_dataset *ds);   /* samples */
int64_t dbx_dataset_units(const dbx_dataset *ds);  /* summed units */
dbx_sample dbx_dataset_get(const dbx_dataset *ds, int32_t i);
int32_t dbx_dataset_units_of(const dbx_dataset *ds, int32_t i);

/* ---- model types -------------------------------------------------------------------------- */
typedef enum dbx_build_mode {
    DBX_BUILD_TRAIN, /* losses for training */
    DBX_BUILD_EVAL   /* losses, and the nodes to score marked with dbx_graph_output */
} dbx_build_mode;

typedef struct dbx_metric {
    const char *name;  /* static string, e.g. "accuracy" */
    double value;
} dbx_metric;

enum { DBX_MAX_STATS = 32, DBX_MAX_METRICS = 16 };

/* Flags of the predict callback. */
enum {
    DBX_PREDICT_DETAIL = 1 /* also per-unit details (built-in models: the label of every tree
                              node; the class distribution of every token or lattice node) */
};

typedef struct dbx_model_type {
    const char *name;        /* the --model name, [a-z0-9_-] */
    const char *summary;     /* one line for --help */
    const char *data_help;   /* the data format in a few words, for --help and errors */
    const char *sample_noun; /* "trees" */
    const char *unit_noun;   /* "nodes": what dbx_dataset_add's units count */
    int nstats;              /* evaluation accumulators score() adds to (0..DBX_MAX_STATS) */

    /* Reads the samples of one text (len bytes, name for messages) into ds. Errors: DBX_EPARSE
       with "name:line:col: expected ..." in dbx_last_error(). While meta is unfrozen (the
       training data) vocabularies and sizes grow; frozen, unknown strings map to <unk> and
       ids beyond the recorded sizes must be mapped or refused. Required. */
    dbx_status (*parse)(dbx_meta *meta, const char *name, const char *text, size_t len,
                        dbx_dataset *ds);
    /* Optional: n synthetic samples in parse()'s format (malloc'd, NUL-terminated), the data
       when none is given. */
    dbx_status (*generate)(int32_t n, uint64_t seed, char **text, size_t *len);
    /* Declares the parameters in m (before dbx_model_init) from the frozen meta and returns the
       model's build state in *self (on failure NULL, or a state destroy() frees).
       Required. */
    dbx_status (*create)(const dbx_meta *meta, dbx_model *m, void **self);
    void (*destroy)(void *self);
    /* Builds sample s as a new sample of g (dbx_graph_begin_sample first): losses through
       the loss ops (dbx_softmax_xent, dbx_nll, ...); in DBX_BUILD_EVAL also dbx_graph_output for each node score() reads.
       Validates s (DBX_EPARSE for a malformed record). Returns the graph status. Required. */
    dbx_status (*build)(void *self, dbx_graph *g, const dbx_sample *s, dbx_build_mode mode);
    /* Optional (evaluation): adds into stats[0..nstats) the score of sample s, whose outputs
       (in dbx_graph_output order) have the values out[0..nout). */
    void (*score)(void *self, const dbx_sample *s, int nout, const float *const *out,
                  double *stats);
    /* Optional: the metrics of summed stats (up to max, names static); returns the count.
       The names and their order must not depend on the stats (they may depend on the model,
       e.g. its tag set). The first metric is the model's headline metric: the one `dbx eval`
       prints first and the dev metric of training (dbx_eval_result.acc,
       dbx_train_result.dev_acc). Built-in models: treelstm root_fine, root_binary, all_nodes;
       bilstm-tagger span_f1, span_precision, span_recall, accuracy (accuracy alone for tags
       without entity chunks); lattice-lstm accuracy. */
    int (*report)(void *self, const double *stats, dbx_metric *out, int max);

    /* ---- prediction (optional; dbx/predict.h and `dbx predict`) ---- */
    /* Reads unlabelled input (the samples to predict) into records of parse()'s layout, with
       placeholders (e.g. 0) for the labels: values build() accepts and predict() never reads.
       Labelled input should be accepted too, its labels ignored. The meta is frozen: unknown
       strings map to <unk>. Errors as parse(). Optional: without it, prediction reads its
       input with parse() (labelled input only). */
    dbx_status (*parse_unlabelled)(dbx_meta *meta, const char *name, const char *text,
                                   size_t len, dbx_dataset *ds);
    /* Writes the prediction of sample s to f as one JSON object without a newline, from the
       values of its outputs (as in score(): the nodes build() marked with dbx_graph_output in
       DBX_BUILD_EVAL, in order): e.g. the argmax labels and their softmax probabilities
       (helpers: dbx_softmax, dbx_json_string in dbx/models.h). flags: DBX_PREDICT_*. Optional:
       without it prediction fails with "model NAME does not support prediction". */
    dbx_status (*predict)(void *self, const dbx_sample *s, int nout, const float *const *out,
                          unsigned flags, FILE *f);
} dbx_model_type;

/* The model type registered under name (built-ins: treelstm, bilstm-tagger, lattice-lstm),
 * or DBX_EINVAL naming the registered ones. */
dbx_status dbx_model_type_find(const char *name, const dbx_model_type **out);
/* Registers a model type for the process (dbx train --model, dbx_model_type_find); the table
 * is borrowed and must outlive its use. DBX_EINVAL for a taken name or a missing callback. */
dbx_status dbx_model_type_register(const dbx_model_type *t);
/* The registered names as a list ("treelstm, bilstm-tagger or lattice-lstm"). */
const char *dbx_model_type_names(void);
/* The i-th registered type (0-based), NULL past the end. */
const dbx_model_type *dbx_model_type_at(int i);

/* Reads path ("-": standard input) and parses it with t->parse into a new dataset. */
dbx_status dbx_dataset_read(const dbx_model_type *t, dbx_meta *meta, const char *path,
                            dbx_dataset **out);

#ifdef __cplusplus
}
#endif
#endif /* DBX_MODEL_TYPE_H */
