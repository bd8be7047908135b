/* Internal to coordinator/: the trainer (include/dbx/train.h). trainer.c owns setup, the
 * step loop and the public calls; report.c the output of rank 0 (header, progress lines,
 * the JSON-lines metrics file written record by record, the trace). The trainer drives one
 * worker per rank (worker/) and, on rank 0, the coordinator. Not thread-safe. */
#ifndef DBX_COORDINATOR_TRAINER_H
#define DBX_COORDINATOR_TRAINER_H

#include <stdint.h>
#include <stdio.h>

#include "comm/comm.h"
#include "coordinator/coordinator.h"
#include "core/afile.h"
#include "dbx/train.h"
#include "worker/worker.h"

typedef struct dbx__trace_event {
    char name[32];
    int64_t step;
    double t0, t1;    /* seconds since the run's origin (after a barrier) */
} dbx__trace_event;

/* Sums over a window of steps (progress line, epoch, whole run). */
typedef struct dbx__sums {
    int64_t steps, samples, labelled, batches, nodes, requested, gathered, launches;
    double loss, wall, build, sched, plan, fwd, bwd, update, gemm, model_gemm;
    double imbalance, wait, allreduce, ar_bytes; /* distributed: summed over steps */
} dbx__sums;

/* One JSON-lines record being built in memory (report.c), written with one write(). */
typedef struct dbx__jl {
    char *buf;
    size_t len, cap;
    int oom;                    /* an append failed: the record is incomplete */
} dbx__jl;

/* Rank 0's metrics file: records are appended as they happen, each one whole line. */
typedef struct dbx__metrics {
    int fd, open;               /* open: fd is valid (a zeroed struct is closed) */
    char *path;
    int64_t records;            /* records written; none at close: the file is removed */
    dbx__jl rec;
} dbx__metrics;

struct dbx_trainer {
    dbx_train_opts o;
    const dbx_model_type *type;
    dbx__comm *comm;
    int rank, W;
    dbx__worker w;
    dbx_dataset *train, *dev;   /* rank 0 only */
    int has_dev;
    int32_t nsamples;
    int64_t train_units, total_steps;
    int64_t step;               /* steps done */
    int32_t accum_bs;           /* samples of the minibatches accumulated since the last update */
    dbx__coord coord;           /* rank 0 only */
    dbx__shipment ship[2];      /* rank 0: steps k and k+1 in flight */
    int32_t *rbuf[2];           /* this rank's share of steps k and k+1 */
    size_t recv_cap;
    int in_flight;              /* a scatter has been started and not waited for */
    char gpu[256];              /* this rank's GPU choice (--device cuda), or "" */
    char topo[768];             /* this rank's topology, binding and GPU */
    dbx__wstat *wstats;         /* (W) every worker's statistics of the last step */
    double *obs;                /* (3 W) scratch */
    double t_coord;             /* seconds the coordinator spent planning (rank 0) */
    double t_coord_step;        /* ... during the last step (planning the next one) */
    double last_model_gemm;     /* the model GEMM FLOPs of the last step (rank 0) */
    uint64_t collectives;       /* collectives and all-reduce operations each rank had issued
                                   at the last dbx__check_replicas (the same on every rank) */
    double last_lr;             /* the learning rate of the last step */
    /* output (rank 0) */
    FILE *log;                  /* rank 0 and not quiet, else NULL */
    dbx__metrics metrics;
    double t_report0;           /* when the config record was written (dbx__now) */
    double t_run;               /* when dbx_trainer_run started */
    dbx__sums last_sums;        /* the last step's sums over the ranks (dbx_trainer_step) */
    int64_t step_run;           /* steps done before dbx_trainer_run */
    int have_dev;               /* a dev evaluation has run: last_dev is valid */
    dbx_eval_result last_dev;
    dbx__trace_event *trace;
    size_t ntrace, cap_trace;
    int64_t trace_steps;
    double t_origin;
};

/* ---- trainer.c ---------------------------------------------------------------------------- */
/* Collective: the whole setup of dbx_trainer_new into a zeroed t (freed by the caller with
 * dbx_trainer_free, also on failure; t->rank is set once the communication is up). */
dbx_status dbx__trainer_init(dbx_trainer *t, const dbx_train_opts *o);
/* With several ranks, a failure ends the job (dbx__comm_abort) naming it; else returns s. */
dbx_status dbx__fatal(dbx_trainer *t, dbx_status s);
/* Collective: fails unless every rank holds bit-identical parameters. */
dbx_status dbx__check_replicas(dbx_trainer *t, uint64_t *checksum);
/* o->model_type, or the registered type named o->model. */
dbx_status dbx__model_type_of(const dbx_train_opts *o, const dbx_model_type **t);
/* The meta saved beside parameter file params (params.vocab), checked against type t. */
dbx_status dbx__load_meta(const dbx_model_type *t, const char *params, dbx_meta **out);
/* DBX_EINVAL "NAME needs --data (...)" when data is NULL and t has no synthetic data. */
dbx_status dbx__check_data(const dbx_model_type *t, const char *data);
/* The samples of file data, or synthetic samples of t when data is NULL (dbx__check_data). */
dbx_status dbx__load_train(const dbx_model_type *t, dbx_meta *meta, const char *data,
                           int synthetic, uint64_t seed, dbx_dataset **out);

/* ---- trainopts.c ------------------------------------------------------------------------- */
/* Checks the options of regularisation, schedule and model selection. */
dbx_status dbx__check_train_extra(const dbx_train_opts *o);
/* Records dropout p in meta as DBX_META_DROPOUT (millionths); leaves a meta without the
   setting unchanged when p is 0. */
dbx_status dbx__meta_set_dropout(dbx_meta *meta, double p);
/* path followed by suffix (malloc'd; NULL when out of memory). */
char *dbx__path_suffix(const char *path, const char *suffix);

/* ---- report.c (rank 0 unless noted) ------------------------------------------------------ */
/* Before any long work: fails with DBX_EIO naming path unless the metrics file can be
 * written (leaves an existing file as it is). */
dbx_status dbx__metrics_check(const char *path);
/* Creates (truncates) the metrics file; records are appended from then on. */
dbx_status dbx__metrics_open(dbx__metrics *m, const char *path);
/* Closes the file; removes it if no record was written (a run that failed in setup). */
void dbx__metrics_close(dbx__metrics *m);
/* At the end of setup: the header on the log (unless quiet); with o.metrics, creates the
 * metrics file and writes the config record. topo_all: every rank's topology line
 * (dbx__report_topology). */
dbx_status dbx__report_start(dbx_trainer *t, const char *topo_all);
/* A progress line (and, verbose, the timing breakdown) for the steps summed in w. */
void dbx__report_progress(const dbx_trainer *t, int64_t step, int epoch, const dbx__sums *w);
/* The sums of one step over the ranks' statistics (rank 0 holds every rank's). */
void dbx__step_sums(const dbx_trainer *t, const dbx_step_info *st, dbx__sums *s);
/* Rank 0: the step record of the metrics file (dbx_trainer_step writes it). */
dbx_status dbx__report_step(dbx_trainer *t, int64_t step, int epoch, const dbx__sums *s);
/* After a dev evaluation that took seconds: the eval record; kept for progress lines. */
dbx_status dbx__report_eval(dbx_trainer *t, int64_t step, int epoch, const char *set,
                            const dbx_eval_result *ev, double seconds);
dbx_status dbx__report_epoch(dbx_trainer *t, int epoch, int partial, const dbx__sums *e,
                             double loss, const dbx_eval_result *dev);
dbx_status dbx__report_summary(dbx_trainer *t, const dbx_train_result *r);
/* An error record (best effort: the run has already failed). */
void dbx__report_error(dbx_trainer *t, dbx_status s);
/* Collective: every rank's topology line, concatenated on rank 0 (out: rank 0 only). */
dbx_status dbx__report_topology(dbx_trainer *t, char *out, size_t cap);
/* Records a trace event of this rank (no-op beyond the traced steps). */
void dbx__trace_add(dbx_trainer *t, int64_t step, const char *name, double t0, double t1);
/* Collective: every rank's trace events, written by rank 0 as Chrome/Perfetto JSON. */
dbx_status dbx__trace_write(dbx_trainer *t, const char *path);
void dbx__sums_add(dbx__sums *a, const dbx__sums *b);
/* a / b, or NaN when b <= 0. */
double dbx__ratio(double a, double b);

/* JSON-lines records: jl_begin(j, type) empties j and opens the object, then fields, then
 * dbx__metrics_emit closes it and writes the line. Numbers use %.9g; non-finite numbers are
 * written as null; strings are escaped. jl_open/jl_close nest an object or an array
 * (key NULL inside arrays). Allocation failures are remembered in j->oom. */
void dbx__jl_begin(dbx__jl *j, const char *type);
void dbx__jl_int(dbx__jl *j, const char *key, int64_t v);
void dbx__jl_num(dbx__jl *j, const char *key, double v);
void dbx__jl_str(dbx__jl *j, const char *key, const char *v);
void dbx__jl_bool(dbx__jl *j, const char *key, int v);
void dbx__jl_open(dbx__jl *j, const char *key, char bracket);
void dbx__jl_close(dbx__jl *j, char bracket);
/* Ends the record in m->rec and appends it to the file with one write(). */
dbx_status dbx__metrics_emit(dbx__metrics *m);

#endif /* DBX_COORDINATOR_TRAINER_H */
