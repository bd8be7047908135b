/* Internal to worker/ (the training and evaluation drivers of include/dbx/train.h): the
 * state of one run (vocabularies, data sets, model, graph, executor), data loading, the
 * P.vocab file, evaluation of a data set, atomic text files, JSON-lines writing and the
 * shuffling stream. Owned by the worker module; nothing here is public API.
 * Not thread-safe: one dbx__run per thread. */
#ifndef DBX_WORKER_WORKER_H
#define DBX_WORKER_WORKER_H

#include <stdint.h>
#include <stdio.h>

#include "comm/comm.h"
#include "dbx/data.h"
#include "dbx/models.h"
#include "dbx/train.h"

/* A loaded data set: exactly one of tb (treelstm) and ts (tagger) is set. */
typedef struct dbx__data {
    dbx_treebank *tb;
    dbx_tagset *ts;
    int32_t n;          /* samples */
    int64_t labelled;   /* loss terms over all samples */
    int64_t nodes;      /* tree nodes (treelstm) or tokens (tagger) */
} dbx__data;

/* One model with everything needed to build, run and evaluate it. */
typedef struct dbx__run {
    dbx_model_kind kind;
    int embed, hidden, mlp, labels;   /* labels: classes (treelstm) or tags (tagger) */
    dbx_vocab *words, *tags;          /* tags: tagger only */
    dbx_model *model;
    dbx_treelstm *tl;
    dbx_tagger *tg;
    dbx_graph *g;
    dbx_exec *ex;
    dbx_node *logits;                 /* scratch for evaluation */
    size_t cap_logits;
    float *scores;                    /* (labels) scratch */
} dbx__run;

/* ---- setup.c ------------------------------------------------------------------------- */
/* Creates the vocabularies (unfrozen; tags only for the tagger). */
dbx_status dbx__run_vocab_new(dbx__run *r, dbx_model_kind kind);
/* Loads path (NULL: synth_trees generated trees with seed; treelstm only) with the run's
 * vocabularies. */
dbx_status dbx__data_load(dbx__run *r, const char *path, int synth_trees, uint64_t seed,
                          dbx__data *d);
void dbx__data_free(dbx__data *d);
/* Loss terms of sample i. */
int32_t dbx__data_labelled(const dbx__data *d, int32_t i);
/* Creates the model from the run's sizes and vocabularies, initialises it from seed and
 * creates a graph (dedup) and an executor (scheduler). */
dbx_status dbx__run_model(dbx__run *r, uint64_t seed, const char *scheduler, int dedup,
                          int fuse, const char *device, int device_index);
/* The device index of this rank for device: for "cuda" the GPU that dbx_topo_gpu_choose
 * picks (near the rank's cores, spread over the host's GPUs; collective over c, NULL: one
 * process), with *sharing and desc as there; for any other device the local rank, *sharing
 * 0 and desc "" (no PCI discovery). */
dbx_status dbx__gpu_pick(dbx_comm *c, const char *device, int *index, int *sharing, char *desc,
                         size_t desc_cap);
/* Builds sample i of d into the run's graph; logits (labelled entries) may be NULL. */
dbx_status dbx__build(dbx__run *r, const dbx__data *d, int32_t i, dbx_node *logits);
void dbx__run_free(dbx__run *r);
/* Writes "<params>.vocab" atomically (see include/dbx/train.h for the format). */
dbx_status dbx__vocab_save(const dbx__run *r, const char *params);
/* Reads "<params>.vocab" into a fresh run: kind (must equal want), sizes and frozen
 * vocabularies. */
dbx_status dbx__vocab_load(dbx__run *r, const char *params, dbx_model_kind want);

/* ---- eval.c -------------------------------------------------------------------------- */
/* Forward-only evaluation of d in file order, minibatches of batch samples. */
dbx_status dbx__eval_data(dbx__run *r, const dbx__data *d, int batch, dbx_eval_result *res);

/* ---- util.c -------------------------------------------------------------------------- */
/* Seeded Fisher-Yates shuffle of perm[0..n) with a private splitmix64 stream. */
void dbx__shuffle(int32_t *perm, int32_t n, uint64_t seed);

/* A text file written to "<path>.tmp.<pid>" and renamed over path on commit. */
typedef struct dbx__afile {
    FILE *f;
    char *path, *tmp;
    int live;   /* the temporary file exists */
} dbx__afile;

dbx_status dbx__afile_open(dbx__afile *a, const char *path);
/* Flushes, fsyncs, closes and renames; on failure removes the temporary file. */
dbx_status dbx__afile_commit(dbx__afile *a);
/* Closes and removes the temporary file (no-op if not open). */
void dbx__afile_abort(dbx__afile *a);

/* JSON-lines objects: jl_begin(f, type), then fields, then jl_end. Numbers use %.9g;
 * non-finite numbers are written as null. */
void dbx__jl_begin(FILE *f, const char *type);
void dbx__jl_int(FILE *f, const char *key, int64_t v);
void dbx__jl_num(FILE *f, const char *key, double v);
void dbx__jl_str(FILE *f, const char *key, const char *v);
void dbx__jl_end(FILE *f);

#endif /* DBX_WORKER_WORKER_H */
