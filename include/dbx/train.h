/* dbx: the trainer. Any model type (dbx/model_type.h: a built-in one by name, or one of your
 * own) trains in one process, or with one worker per MPI rank under mpirun or srun, with the
 * coordinator, the structure-aware partitioner and the gradient all-reduce inside:
 *
 *     dbx_train_opts o;
 *     dbx_train_opts_default(&o);
 *     o.model_type = &my_model;            (or o.model = "treelstm")
 *     o.data = "train.txt";
 *     dbx_trainer *t;
 *     dbx_trainer_new(&o, &t);             every rank calls each of these
 *     dbx_trainer_run(t, &result);         or dbx_trainer_step() in your own loop
 *     dbx_trainer_save(t, "model.params");
 *     dbx_trainer_free(t);
 *
 * Rank 0 reads the data (a file, "-" for standard input, or the model type's synthetic data)
 * and hosts the coordinator beside its own worker; every rank holds a replica of the
 * parameters, identical after every step (gradients summed across ranks and scaled by
 * 1 / global batch). Output of rank 0: a header, progress lines of at most 100 characters
 * (o.log, default stderr), JSON-lines metrics (o.metrics). Files written with save = P: P
 * (parameters, see dbx_model_save) and P.vocab (the meta, see dbx/model_type.h), both
 * atomically.
 *
 * Every dbx_trainer_* call that says "collective" must be made by every rank, in the same
 * order. A failure during setup returns the same status on every rank; a failure inside a
 * step on one of several ranks ends the job (the others would wait forever), naming the
 * rank and the error. Not thread-safe: one trainer per process. */
#ifndef DBX_TRAIN_H
#define DBX_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "dbx/dbx.h"
#include "dbx/model_type.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dbx_train_opts {
    const char *model;       /* a registered model type's name (default "treelstm") */
    const dbx_model_type *model_type; /* a model type of one's own (need not be registered);
                                         overrides model when set */
    const char *data;        /* training file; NULL: the model type's synthetic data */
    const char *dev;         /* optional dev file, evaluated after each epoch */
    int synthetic;           /* synthetic samples when data is NULL (default 2000) */
    int embed, hidden, mlp;  /* model sizes (default 128, 128, mlp 0 = hidden), recorded in
                                the meta; ignored with load (the sizes come from P.vocab) */
    int batch;               /* samples per global minibatch (default 64) */
    const char *scheduler;   /* batching scheduler (default "agenda"; see dbx/sched.h) */
    int dedup;               /* merge identical nodes across a minibatch (default 1) */
    dbx_optim optim;         /* default Adam, lr 0.001 */
    int epochs;              /* default 1; ignored when steps > 0 */
    int64_t steps;           /* > 0: stop after this many minibatches (wrapping epochs) */
    uint64_t seed;           /* default 1: parameter init, shuffling, synthetic data */
    int shuffle;             /* default 1: reshuffle sample order every epoch (seeded) */
    const char *metrics;     /* JSON-lines metrics file, or NULL: created (replacing a file of
                                that name) before training, then one line appended per record
                                as it happens (config, step, eval, epoch, summary; README
                                "Metrics") */
    const char *save;        /* dbx_trainer_run saves the parameters here at the end (with
                                keep_best: the best ones, see keep_best), or NULL */
    const char *load;        /* parameter file (and its .vocab) to start from, or NULL */
    int log_every;           /* progress line every N steps (default 10; 0: none) */
    FILE *log;               /* progress output (default stderr) */
    int quiet;               /* 1: no header, progress or epoch lines (default 0) */
    int verbose;             /* 1: a timing breakdown under each progress line (default 0) */
    int fuse;                /* fuse lstm_c -> lstm_h signature chains (default 1) */
    dbx_precision precision; /* affine GEMM arithmetic: DBX_PRECISION_FP32 (default) | BF16
                                (bfloat16 operands, FP32 accumulation, outputs, master
                                weights and optimizer state; CPU with oneDNN; see
                                dbx_precision in dbx/dbx.h and README "BLAS") */
    /* ---- distributed training (one worker per rank; see README "Multi-node") ---- */
    int comm;                /* -1: MPI when launched by mpirun/srun (default), 0: single
                                process, 1: MPI */
    const char *partition;   /* "random" | "round-robin" | "lpt" | "similarity" (default) */
    const char *bind;        /* "none" | "core" | "numa" (default: core under MPI) */
    double timeout;          /* seconds a rank may wait in a collective before the job is
                                aborted naming it (default 60; <= 0: never) */
    int check_replicas;      /* every N steps compare a parameter checksum and a digest of the
                                collectives issued so far (count, order, sizes) across ranks
                                and fail if they differ (default 0: only at the end) */
    const char *trace;       /* Chrome/Perfetto trace file (one track per rank), or NULL */
    int trace_steps;         /* steps traced from the start (default 20) */
    const char *device;      /* "cpu" (default) | "cuda": each rank uses a GPU near its cores,
                                the ranks of a host spread over its GPUs (hwloc) */
    const char *allreduce;   /* the gradient all-reduce: "auto" (default: on the CPU the
                                algorithm a measured cost model predicts fastest per bucket;
                                on GPUs NCCL when dbx has it) | "rd" (recursive doubling) |
                                "rabenseifner" | "ring" | "mpi" (the MPI library's
                                MPI_Iallreduce; GPUs: through host memory) | "nccl" (GPUs) */
    int overlap;             /* 1 (default): each gradient bucket's all-reduce starts as soon
                                as the backward pass has completed its gradients; 0: after
                                the backward pass. The same sums either way */
    int hier;                /* hierarchical all-reduce (a node's ranks reduce to its leader,
                                the leaders all-reduce): -1 auto (default: when ranks share a
                                node and there are several nodes), 0 off, 1 on */
    double bucket_mb;        /* gradient bucket size in MiB (default 4; 0: one bucket per run
                                of adjacent dense parameters) */
    int grad_wire_bf16;      /* 1: dense gradients travel and are summed as bfloat16 (half the
                                bytes; CHANGES THE RESULTS: every partial sum is rounded to
                                bfloat16; not with allreduce "mpi"). Default 0 */
    int accum_steps;         /* K >= 1: gradients of K consecutive minibatches are summed
                                locally and then synchronised and applied once, as one batch
                                of K x batch samples (default 1; K > 1 CHANGES THE RESULTS:
                                K times fewer updates and all-reduces). The step count and
                                the learning-rate schedule stay per minibatch; the update
                                uses the schedule's value at its last minibatch */
    /* ---- regularisation, learning-rate schedule, model selection (README "Training
       options"); every one deterministic given the seed and the same on any number of
       workers ---- */
    double clip_norm;        /* > 0: when the global L2 norm of the step's gradient (the mean
                                over the global batch, after the all-reduce: dense parameters
                                and the lookup rows the step touched) exceeds clip_norm, the
                                whole gradient is rescaled to norm clip_norm (default 5, as
                                DyNet; 0: off) */
    double dropout;          /* dropout probability for the model, 0 <= p < 1 (default 0):
                                recorded in the meta as the setting "dropout_ppm" (p in
                                millionths, see dbx/model_type.h) that the model type reads
                                in create(); only training graphs drop */
    double weight_decay;     /* L2 decay >= 0 (default 0): coupled for SGD and Adagrad (wd * p
                                is added to the clipped gradient), decoupled for Adam (AdamW:
                                p -= lr_t * wd * p before the Adam step); lookup rows that a
                                step did not touch are not decayed in that step */
    const char *lr_schedule; /* "constant" (default; NULL too) | "step" | "cosine": the learning
                                rate of each step, see dbx_train_lr */
    int64_t warmup;          /* steps of linear warm-up before the schedule (default 0) */
    int64_t lr_step_every;   /* "step": multiply the rate by lr_step_factor every N steps after
                                the warm-up (required > 0 with "step") */
    double lr_step_factor;   /* "step": the factor, > 0 (default 0.5) */
    double lr_min;           /* "cosine": the rate it decays to, 0 <= lr_min <= lr (default 0) */
    int keep_best;           /* 1: dbx_trainer_run saves the parameters to save (P, P.vocab)
                                whenever the dev set's headline metric improves, and the final
                                parameters to P.last (P.last.vocab) instead of P; needs save and
                                dev (default 0) */
    int patience;            /* > 0: dbx_trainer_run stops when the headline metric has not
                                improved for this many dev evaluations in a row; needs dev
                                (default 0: never) */
} dbx_train_opts;

void dbx_train_opts_default(dbx_train_opts *o);

/* The learning rate of step (1-based) of a run of total steps under o's schedule, from the
 * base rate lr = o->optim.lr. With w = o->warmup and i = step - 1:
 *   i < w (warm-up):  lr * (i + 1) / w
 *   then, with j = i - w (steps since the warm-up) and T = total - w:
 *   "constant":  lr (exactly o->optim.lr: no schedule changes nothing)
 *   "step":      lr * lr_step_factor ^ floor(j / lr_step_every)
 *   "cosine":    lr_min + (lr - lr_min) * (1 + cos(pi * min(j, T) / T)) / 2  (lr at j = 0,
 *                lr_min after the last step; lr when T < 1)
 * NaN for an unknown schedule or a "step" schedule without lr_step_every > 0. */
double dbx_train_lr(const dbx_train_opts *o, int64_t step, int64_t total);

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
    double dev_loss, dev_acc;   /* last dev evaluation: loss per labelled node and the
                                   headline metric, dev_metrics[0] (NaN if none) */
    uint64_t checksum;          /* dbx_model_checksum of the final parameters */
    int ranks;                  /* workers (MPI ranks) that trained */
    int rank;                   /* this process's rank (0 prints; set even on failure) */
    double t_allreduce;         /* seconds in gradient all-reduces (this rank) */
    double imbalance;           /* mean over steps of max/mean worker compute time */
    int dev_nmetrics;           /* last dev evaluation: every metric of the model type's */
    dbx_metric dev_metrics[DBX_MAX_METRICS]; /* report(), the headline first */
    /* ---- training options (dbx_train_opts.clip_norm, keep_best, patience) ---- */
    int64_t clipped_steps;      /* steps whose gradient was rescaled by clip_norm */
    double max_grad_norm;       /* the largest gradient norm seen (NaN with clip_norm 0) */
    int evaluations;            /* dev evaluations done */
    double best_dev;            /* the best dev headline metric (dbx_eval_headline), NaN if
                                   no dev set */
    int best_epoch;             /* the epoch of best_dev (0: none) */
    int64_t best_step;          /* the step after which best_dev was measured */
    int stopped_early;          /* 1: patience ended the run before its last step */
} dbx_train_result;

typedef struct dbx_eval_result {
    int64_t samples, labelled;  /* labelled: loss terms */
    double loss;                /* mean loss per labelled node */
    double acc;                 /* the headline metric, metrics[0].value (NaN if none) */
    int nmetrics;
    dbx_metric metrics[DBX_MAX_METRICS]; /* the model type's report(), the headline first */
} dbx_eval_result;

/* The headline metric of an evaluation, which keep_best and patience follow (higher is
 * better): the model type's first reported metric, or minus the loss per labelled node when
 * the model type reports none (NaN when the evaluation has neither). *name (optional)
 * receives its name ("-loss" for the fallback). */
double dbx_eval_headline(const dbx_eval_result *r, const char **name);

/* What one step did, summed over the workers. */
typedef struct dbx_step_info {
    int64_t step;               /* 1-based */
    int epoch, epoch_end;       /* epoch_end: the step finished an epoch */
    int64_t samples, labelled;
    double loss;                /* summed over loss terms */
    double wall;                /* seconds */
    double lr;                  /* the learning rate this step used (dbx_train_lr) */
    double grad_norm;           /* the L2 norm of the step's mean gradient after the
                                   all-reduce, before clipping (NaN with clip_norm 0); the same
                                   on every rank */
    int clipped;                /* 1: the gradient was rescaled to clip_norm */
} dbx_step_info;

typedef struct dbx_trainer dbx_trainer;

/* Collective: starts the communication (MPI when launched by mpirun or srun), binds the
 * ranks, reads the data on rank 0, builds the meta (or loads P.vocab with o->load), creates
 * the model on every rank with identical parameters, plans the first step and prints the
 * header. The options are copied; their strings and model_type are borrowed. */
dbx_status dbx_trainer_new(const dbx_train_opts *o, dbx_trainer **out);
/* Collective: one step (one global batch): forward and backward on every worker, the
 * gradient all-reduce, clipping (o->clip_norm), weight decay and the optimizer at the rate
 * dbx_train_lr(o, step, dbx_trainer_total_steps(t)); info may be NULL. */
dbx_status dbx_trainer_step(dbx_trainer *t, dbx_step_info *info);
/* Collective: the steps left of the run (o->steps, else o->epochs epochs) with progress,
 * metrics, dev evaluation after each epoch (with o->keep_best: the best parameters saved to
 * o->save; with o->patience: an early stop) and replica checks; then o->save (o->save
 * ".last" with keep_best) and o->trace. */
dbx_status dbx_trainer_run(dbx_trainer *t, dbx_train_result *r);
/* Collective: evaluates the file at path (NULL: the dev set) on rank 0 with the current
 * parameters; every rank returns its result. */
dbx_status dbx_trainer_evaluate(dbx_trainer *t, const char *path, dbx_eval_result *r);
/* Collective: rank 0 writes P and P.vocab atomically. */
dbx_status dbx_trainer_save(dbx_trainer *t, const char *path);
/* Collective: rank 0 reads parameters saved from a model with the same names and shapes;
 * every rank gets them. */
dbx_status dbx_trainer_load(dbx_trainer *t, const char *path);
int dbx_trainer_rank(const dbx_trainer *t);
int dbx_trainer_ranks(const dbx_trainer *t);
int64_t dbx_trainer_total_steps(const dbx_trainer *t);
dbx_model *dbx_trainer_model(dbx_trainer *t);         /* this rank's replica */
const dbx_meta *dbx_trainer_meta(const dbx_trainer *t);
/* Collective: frees everything; finalises MPI if the trainer initialised it. Accepts NULL. */
void dbx_trainer_free(dbx_trainer *t);

/* dbx_trainer_new, dbx_trainer_run and dbx_trainer_free in one call; r->rank is set even on
 * failure (rank 0 reports errors). */
dbx_status dbx_train(const dbx_train_opts *o, dbx_train_result *r);

/* One process: evaluates o->data (NULL: the model type's synthetic data of o->synthetic
 * samples generated with o->seed, as in training) with parameters o->load (and its .vocab
 * file, which defines the model; its model type must be o->model's). Uses o->batch,
 * o->scheduler, o->dedup, o->device. */
dbx_status dbx_evaluate(const dbx_train_opts *o, dbx_eval_result *r);

#ifdef __cplusplus
}
#endif
#endif /* DBX_TRAIN_H */
