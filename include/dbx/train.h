/* Single-process training and evaluation drivers used by the `dbx` program, the benchmarks
 * and the tests: data loading (or the embedded synthetic treebank), vocabulary files,
 * minibatch loop, progress lines, JSON-lines metrics, save/load.
 *
 * Files written by training with save = P: P (parameters, see dbx_model_save) and P.vocab
 * (text: a header line "dbx-vocab 1 model=M embed=E hidden=H mlp=X labels=L", then
 * "words N" and N lines, then "tags T" and T lines; tags only for the tagger), both written
 * atomically. Evaluation with load = P reads both. Not thread-safe. */
#ifndef DBX_TRAIN_H
#define DBX_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "dbx/dbx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dbx_model_kind { DBX_MODEL_TREELSTM, DBX_MODEL_TAGGER } dbx_model_kind;

/* Parses "treelstm" | "bilstm-tagger". */
dbx_status dbx_model_kind_parse(const char *name, dbx_model_kind *out);
const char *dbx_model_kind_name(dbx_model_kind k);

typedef struct dbx_train_opts {
    dbx_model_kind model;    /* default treelstm */
    const char *data;        /* training file; NULL: the embedded synthetic treebank */
    const char *dev;         /* optional dev file, evaluated after each epoch */
    int synth_trees;         /* synthetic treebank size when data is NULL (default 2000) */
    int embed, hidden, mlp;  /* default 128, 128, mlp 0 (= hidden; used by the tagger only) */
    int batch;               /* samples per minibatch (default 64) */
    const char *scheduler;   /* a registered scheduler (dbx/sched.h); default "agenda" */
    int dedup;               /* merge identical nodes across a minibatch (default 1) */
    dbx_optim optim;         /* default Adam, lr 0.001 */
    int epochs;              /* default 1; ignored when steps > 0 */
    int64_t steps;           /* > 0: stop after this many minibatches (wrapping epochs) */
    uint64_t seed;           /* default 1: parameter init and shuffling */
    int shuffle;             /* default 1: reshuffle sample order every epoch (seeded) */
    const char *metrics;     /* JSON-lines metrics file, or NULL */
    const char *save;        /* parameter file to write at the end, or NULL */
    const char *load;        /* parameter file to start from, or NULL */
    int log_every;           /* progress line every N steps (default 10; 0: none) */
    FILE *log;               /* progress output (default stderr) */
    int quiet;               /* 1: no header, progress or epoch lines (default 0) */
    int fuse;                /* fuse lstm_c -> lstm_h signature chains (default 1) */
    /* ---- distributed training (one worker per rank; see README "Multi-node") ---- */
    int comm;                /* -1: MPI when launched by mpirun/srun (default), 0: single
                                process, 1: MPI */
    const char *partition;   /* "random" | "round-robin" | "lpt" | "similarity" (default) */
    const char *bind;        /* "none" | "core" | "numa" (default: core under MPI) */
    double timeout;          /* seconds a rank may wait in a collective before the job is
                                aborted naming it (default 60; <= 0: never) */
    int check_replicas;      /* every N steps compare a parameter checksum across ranks and
                                fail if they differ (default 0: only at the end) */
    const char *trace;       /* Chrome/Perfetto trace file (one track per rank), or NULL */
    int trace_steps;         /* steps traced from the start (default 20) */
    const char *device;      /* "cpu" (default) | "cuda": each rank uses a GPU near its cores,
                                the ranks of a host spread over its GPUs (hwloc) */
    const char *allreduce;   /* GPU gradients across ranks: "nccl" (default when dbx has
                                NCCL) | "mpi" (through host memory) */
} dbx_train_opts;

void dbx_train_opts_default(dbx_train_opts *o);

typedef struct dbx_train_result {
    int64_t steps, samples;
    int64_t labelled;           /* loss terms (labelled nodes / tokens) processed */
    double first_loss;          /* loss per labelled node of the first step */
    double last_epoch_loss;     /* mean loss per labelled node over the last epoch */
    double t_total;             /* wall time of the training loop, s (dev evaluation excluded) */
    double t_build, t_sched, t_plan, t_forward, t_backward, t_update; /* sums, s */
    int64_t batches;            /* batched kernel launches (forward), summed */
    int64_t nodes;              /* executed nodes, summed */
    int64_t requested_nodes;    /* nodes before deduplication, summed */
    int64_t gathered_bytes;     /* summed */
    double gemm_flops;          /* executed GEMM FLOPs (fwd + bwd), summed */
    double model_gemm_flops;    /* GEMM FLOPs the model defines, no dedup (fwd + bwd) */
    double sents_per_s;         /* samples / t_total */
    double dev_loss, dev_acc;   /* last dev evaluation (NaN if none) */
    uint64_t checksum;          /* dbx_model_checksum of the final parameters */
    int ranks;                  /* workers (MPI ranks) that trained */
    int rank;                   /* this process's rank (0 prints; set even on failure) */
    double t_allreduce;         /* seconds in gradient all-reduces (this rank) */
    double imbalance;           /* mean over steps of max/mean worker compute time */
} dbx_train_result;

dbx_status dbx_train(const dbx_train_opts *o, dbx_train_result *r);

typedef struct dbx_eval_result {
    int64_t samples, labelled, correct;
    double loss;                /* mean loss per labelled node */
    double acc;                 /* correct / labelled */
} dbx_eval_result;

/* Evaluates o->data (NULL: the embedded synthetic treebank of o->synth_trees trees generated
 * with o->seed, as in training) with parameters o->load (and its .vocab file; sizes come
 * from it, and its model kind must equal o->model). Uses o->batch, o->scheduler, o->dedup. */
dbx_status dbx_evaluate(const dbx_train_opts *o, dbx_eval_result *r);

#ifdef __cplusplus
}
#endif
#endif /* DBX_TRAIN_H */
