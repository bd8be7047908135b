/* Internal to worker/: the training loop shared by one process and by many ranks (see
 * loop.c). dbx_train (train.c) owns a dbx__loop, runs setup, then one dbx__loop_step per
 * step, and prints and records what rank 0 sees. Not thread-safe. */
#ifndef DBX_WORKER_LOOP_H
#define DBX_WORKER_LOOP_H

#include <stdint.h>

#include "comm/comm.h"
#include "coordinator/coordinator.h"
#include "worker/dist.h"
#include "worker/worker.h"

/* One worker's statistics of one step (all doubles: all-gathered as a flat array). */
typedef struct dbx__wstat {
    double samples, labelled, nodes, requested, batches, gathered, loss, gemm;
    double build, sched, plan, fwd, bwd, update;
    double compute;   /* build + analysis + forward + backward */
    double wait;      /* waiting for this step's samples */
    double allreduce; /* gradient synchronisation */
    double ar_bytes;
    double launches;  /* device kernels and copies of forward + backward (0 on the CPU) */
} dbx__wstat;

/* What every rank learns about a finished step. */
typedef struct dbx__step {
    int epoch, epoch_end;
    int32_t global_bs;
    double wall;
} dbx__step;

typedef struct dbx__trace_event {
    char name[32];
    int64_t step;
    double t0, t1;    /* seconds since the loop's origin (after a barrier) */
} dbx__trace_event;

typedef struct dbx__loop {
    const dbx_train_opts *o;
    dbx_comm *comm;
    int rank, W;
    dbx__run run;
    dbx__data train, dev;     /* rank 0 only */
    int has_dev;
    int32_t nsamples;
    int64_t train_nodes, total_steps;
    dbx__coord coord;         /* rank 0 only */
    dbx__plan plan[2];        /* rank 0: steps k and k+1 in flight */
    int32_t *rbuf[2];         /* this rank's share of steps k and k+1 */
    size_t recv_cap;
    dbx__sync sync;
    char gpu[256];            /* this rank's GPU choice (--device cuda), or "" */
    dbx__wstat *wstats;       /* (W) every worker's statistics of the last step */
    double *obs;              /* (3 W) scratch */
    double t_coord;           /* seconds the coordinator spent planning (rank 0) */
    double t_coord_step;      /* ... during the last step (planning the next one) */
    dbx__trace_event *trace;
    size_t ntrace, cap_trace;
    int64_t trace_steps;
    double t_origin;
} dbx__loop;

/* Collective: reads the data on rank 0 and makes every rank's model identical. On failure
 * every rank returns the same error. */
dbx_status dbx__loop_setup(dbx__loop *t);
/* Collective: one training step; fills wstats on every rank. */
dbx_status dbx__loop_step(dbx__loop *t, int64_t step, dbx__step *out);
/* Collective: fails unless every rank holds bit-identical parameters. */
dbx_status dbx__loop_check_replicas(dbx__loop *t, uint64_t *checksum);
void dbx__loop_free(dbx__loop *t);

#endif /* DBX_WORKER_LOOP_H */
