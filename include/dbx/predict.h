/* dbx: prediction with a trained model. A predictor loads the parameters that training saved
 * (P, and P.vocab with the sizes, the vocabularies and the model type's name), reads
 * unlabelled input through the model type's parse_unlabelled callback (dbx/model_type.h) and
 * runs it forward in minibatches, batched as in training:
 *
 *     dbx_predictor *p;
 *     dbx_predictor_new("sst.params", NULL, &p);        the model type named in sst.params.vocab
 *     dbx_dataset *ds;
 *     dbx_predictor_read(p, "sentences.txt", &ds);       or dbx_predictor_parse(p, ...)
 *     dbx_predictor_write(p, ds, 0, stdout);             one JSON object per line and sample
 *     dbx_predictor_run(p, ds, my_fn, my_arg);           or the outputs' values, per sample
 *     dbx_dataset_free(ds);
 *     dbx_predictor_free(p);
 *
 * JSON lines come from the model type's predict callback; the built-in models write
 *     treelstm:      {"label":3,"probs":[p0,p1,p2,p3,p4],"binary":"positive"}
 *                    (DBX_PREDICT_DETAIL: also "nodes":[the class of every node, post-order])
 *     bilstm-tagger: {"tags":["B-PER","I-PER","O"],"probs":[p of each tag]}
 *     lattice-lstm:  {"tags":[3,0,5],"probs":[p of each tag]}
 *                    (DBX_PREDICT_DETAIL: also "dists":[every token's or node's distribution])
 * with probabilities from the softmax of each output. One process, no MPI; not thread-safe per
 * predictor. */
#ifndef DBX_PREDICT_H
#define DBX_PREDICT_H

#include <stdint.h>
#include <stdio.h>

#include "dbx/dbx.h"
#include "dbx/model_type.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dbx_predict_opts {
    const char *model;        /* a registered model type's name, which must be the one P.vocab
                                 names; NULL (default): the one P.vocab names */
    const dbx_model_type *model_type; /* a model type of one's own (need not be registered);
                                         overrides model; P.vocab must name it */
    const char *vocab;        /* the meta file (sizes, vocabularies, model type) written
                                 beside the parameters; NULL (default): P.vocab */
    int batch;                /* samples per forward minibatch (default 64) */
    const char *scheduler;    /* batching scheduler (default "agenda"; see dbx/sched.h) */
    int dedup;                /* merge identical nodes across a minibatch (default 1) */
    const char *device;       /* "cpu" (default) | "cuda" */
    dbx_precision precision;  /* the affine GEMMs' arithmetic (default fp32; bf16: see
                                 dbx_exec_opts.precision) */
} dbx_predict_opts;

void dbx_predict_opts_default(dbx_predict_opts *o);

typedef struct dbx_predictor dbx_predictor;

/* Loads the parameters at params and the meta at params.vocab (or o->vocab; o NULL: the
 * defaults) and creates the model. DBX_EIO / DBX_EPARSE for missing or damaged files,
 * DBX_EINVAL when the model type does not match the meta's. */
dbx_status dbx_predictor_new(const char *params, const dbx_predict_opts *o,
                             dbx_predictor **out);
/* Accepts NULL. */
void dbx_predictor_free(dbx_predictor *p);
const dbx_model_type *dbx_predictor_type(const dbx_predictor *p);
/* The model's meta (frozen): its sizes and vocabularies, e.g. "tags" to name a tagger's
 * classes. Valid until dbx_predictor_free. */
const dbx_meta *dbx_predictor_meta(const dbx_predictor *p);

/* Reads unlabelled input text (len bytes; name for messages) with the model type's
 * parse_unlabelled (its parse when it has none) and the model's vocabularies (unknown strings
 * are <unk>). Errors: DBX_EPARSE "name:line:col: expected ...", also for input without any
 * sample. The dataset is the caller's (dbx_dataset_free). */
dbx_status dbx_predictor_parse(dbx_predictor *p, const char *name, const char *text,
                               size_t len, dbx_dataset **out);
/* The same on the file at path ("-": standard input); DBX_EIO when it cannot be read. */
dbx_status dbx_predictor_read(dbx_predictor *p, const char *path, dbx_dataset **out);

/* Runs the samples of ds forward (labels in them are ignored) and calls fn for each, in
 * order, with the values of its outputs: the nodes the model type's build marks with
 * dbx_graph_output (the built-in models: the logits of every tree node in post-order, of every
 * token, of every lattice node; dbx_softmax turns them into probabilities). A non-OK return of
 * fn stops the run and is returned. */
typedef dbx_status (*dbx_predict_fn)(void *arg, int32_t i, const dbx_sample *s, int nout,
                                     const float *const *out);
dbx_status dbx_predictor_run(dbx_predictor *p, const dbx_dataset *ds, dbx_predict_fn fn,
                             void *arg);
/* Writes one line per sample of ds to f: the JSON object of the model type's predict callback
 * (flags: DBX_PREDICT_* of dbx/model_type.h). DBX_ENOTSUP "model NAME does not support
 * prediction" when the model type has no predict callback; DBX_EIO when writing fails. */
dbx_status dbx_predictor_write(dbx_predictor *p, const dbx_dataset *ds, unsigned flags,
                               FILE *f);
/* The same into the file at path, atomically (a temporary file renamed on success: a failure
 * leaves no file behind); "-" writes to standard output. */
dbx_status dbx_predictor_write_file(dbx_predictor *p, const dbx_dataset *ds, unsigned flags,
                                    const char *path);

#ifdef __cplusplus
}
#endif
#endif /* DBX_PREDICT_H */
