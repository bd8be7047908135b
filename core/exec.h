/* Internal layout of the executor, as objects with their own lifetimes:
 *   dbx__cons      the graph's consumer lists (CSR), rebuilt per step; read by the ready set
 *                  and the planner
 *   dbx_sched_ready the scheduler driver's scratch: the ready set that a scheduler chooses
 *                  from (core/sched.c)
 *   dbx__schedule  the batches of node ids in execution order (core/sched.c), with node ->
 *                  batch and position (the planner reorders nodes inside a batch)
 *   dbx__layout    the memory plan of one schedule (core/plan.c): one contiguous output block
 *                  per batch, the kernels' offset lists, attributes, argument dims,
 *                  contiguity flags and affine terms, loss offsets, arena sizing, GEMM shapes
 *   dbx__arena     backend memory: values | gradients | device copies of the index arrays
 * A (schedule, layout) pair describes a step completely, so that a plan cache can keep it.
 * Every array is reused across steps and only grows. Not thread-safe. */
#ifndef DBX_CORE_EXEC_H
#define DBX_CORE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"
#include "dbx/dbx.h"
#include "dbx/sched.h"
#include "kernels/backend.h"

/* ---- consumers ------------------------------------------------------------------------- */
typedef struct dbx__cons {
    int32_t *start;         /* (nnodes + 1) consumers of node v: cons[start[v] .. start[v+1]) */
    int32_t *cons;          /* (total args) consumer node ids, ascending per node */
    int32_t *fill;          /* (nnodes) scratch */
    size_t cap_nodes, cap_cons;
} dbx__cons;

/* Builds the consumer lists of g. */
dbx_status dbx__cons_build(dbx__cons *c, const dbx_graph *g);
void dbx__cons_free(dbx__cons *c);

/* ---- schedule -------------------------------------------------------------------------- */
typedef struct dbx__batch {
    int32_t first;       /* index in order of the batch's first node */
    int32_t n;           /* nodes */
    int32_t sig;
    int32_t op;          /* enum dbx_op */
    int32_t dim;
    int32_t nargs;       /* an op of varying arity: the most any of its nodes has */
} dbx__batch;

typedef struct dbx__schedule {
    int32_t *order;          /* (nnodes) node ids grouped by batch */
    dbx__batch *batches;
    size_t nbatches, cap_batches;
    int32_t *batch_of, *pos; /* (nnodes) node -> batch, position in batch (set by the planner) */
    size_t cap_nodes;
} dbx__schedule;

void dbx__schedule_free(dbx__schedule *s);

/* ---- ready set (the scheduler driver's scratch; core/sched.c) ------------------------------ */
/* Where a group stands: its place in the ready list (>= 0), or one of these. */
enum { DBX__NOT_READY = -1, DBX__RAN = -2 };

/* DBX_SCHED_GROUP_DEPTH: the nodes of one (depth, signature), at sorted[start .. start + n). */
typedef struct dbx__run {
    int32_t start, n, depth, sig;
} dbx__run;

struct dbx_sched_ready {
    const dbx_graph *g;
    dbx_sched_grouping grouping;
    int32_t ngroups;        /* group ids are 0 .. ngroups - 1 */
    int32_t remaining;      /* nodes still to run */
    int32_t *list;          /* (nlist) the ready groups, in no order */
    int32_t nlist;
    int32_t *where;         /* (ngroups) place in list, DBX__NOT_READY or DBX__RAN */
    size_t cap_groups;
    int32_t first;          /* NODE, DEPTH: no group below it is still to run */
    int32_t *pending;       /* NODE, SIG: (nnodes) arguments still to run */
    size_t cap_nodes;
    /* SIG: the ready nodes of each signature */
    int32_t **sig_ready;
    int32_t *nsig_ready;
    size_t *cap_sig_ready;
    size_t nsig_alloc;
    /* DEPTH: the nodes sorted by (depth, signature, id), cut into runs; the runs of the
       depth being run are [first, level_end) */
    int32_t *sorted;
    uint64_t *keys;
    int32_t *buckets;       /* counting sort: (max depth + 1) * signatures */
    size_t cap_buckets;
    dbx__run *runs;
    size_t cap_runs;
    int32_t level_end;
};

void dbx__ready_free(dbx_sched_ready *r);

/* ---- memory layout ----------------------------------------------------------------------- */
/* Batch b's kernel descriptor in the layout (beside the schedule's batch b). */
typedef struct dbx__blayout {
    int64_t out_off;     /* value/gradient offset of the block (floats) */
    int64_t argoff_at;   /* (nargs, n) block in argoff */
    int64_t attr_at;     /* (n) block in attr */
    int32_t argdim_at;   /* (nargs) in argdim, contiguity flags in contig */
    int32_t term_at;     /* affine terms in kterms */
    int32_t nterms;
    int32_t iparam;      /* DBX__SH_INT ops: the node's aux */
    float fparam[2];     /* DBX__SH_FLOATS ops: the signature's floats */
    int32_t table;       /* DBX__SH_TABLE ops: the parameter */
    int32_t fuse;        /* 1: runs fused with the next batch; -1: runs inside the previous */
} dbx__blayout;

typedef struct dbx__layout {
    dbx__blayout *b;        /* (nbatches) */
    size_t cap_b;
    int64_t *off;           /* (nnodes) value offset of each node (floats) */
    size_t cap_off;
    int64_t *argoff;
    size_t nargoff, cap_argoff;
    int32_t *attr;
    size_t nattr, cap_attr;
    int *argdim;
    unsigned char *contig;
    size_t nargdim, cap_argdim;
    dbx_kterm *kterms;
    size_t nkterms, cap_kterms;
    int32_t *tparams;       /* dense matrices used by affine terms this step */
    size_t ntparams, cap_tparams;
    unsigned char *tmark;   /* (model params) scratch flags */
    size_t cap_tmark;
    int64_t *lossoff;       /* (nlosses) offsets of loss nodes */
    size_t nloss, cap_lossoff;
    int (*gemms)[3];        /* GEMM shapes (M, N, K) of forward + backward */
    size_t ngemms, cap_gemms;
    size_t floats;          /* value (and gradient) floats in use */
    size_t index_bytes;     /* device backends: bytes of argoff | attr | argdim, 64-aligned */
    size_t index_attr, index_argdim; /* their byte offsets in the index part */
    size_t scratch;         /* backend gather scratch (floats) the kernels need */
    void *sortbuf;          /* planner sort items (scratch) */
    size_t cap_sortbuf;
} dbx__layout;

void dbx__layout_free(dbx__layout *l);

/* ---- arena --------------------------------------------------------------------------------- */
/* One backend allocation: values | gradients (cap floats each) | on a device backend, the
 * step's index arrays (index_cap bytes: copies of the layout's argoff | attr | argdim, read
 * by the kernels as dbx_kbatch.d_*). */
typedef struct dbx__arena {
    float *vals, *grads;
    size_t cap;
    void *index;
    size_t index_cap;
    int64_t *dargoff;
    int32_t *dattr;
    int *dargdim;
    size_t scratch;         /* backend scratch reserved (floats) */
    float *losshost;        /* (nlosses) host copy of the losses */
    size_t cap_losshost;
} dbx__arena;

/* Makes the arena hold layout l (grown with headroom only when a step needs more than every
 * step before it) and points the device index copies at their place. */
dbx_status dbx__arena_fit(dbx__arena *a, dbx_backend *be, const dbx__layout *l);
void dbx__arena_free(dbx__arena *a, dbx_backend *be);

/* ---- executor ------------------------------------------------------------------------------ */
/* Called by dbx_exec_backward with the parameters whose gradient is complete: once before
 * the first backward batch with those the step does not use, then after each backward batch
 * with those whose last contribution it made (their first use in the forward order). Each
 * parameter of the model is named exactly once per backward pass. A non-OK status ends the
 * backward pass with it. */
typedef dbx_status (*dbx__grad_hook)(void *ctx, const int32_t *params, int n);
/* Sets (fn NULL: clears) ex's gradient hook. */
void dbx__exec_set_grad_hook(dbx_exec *ex, dbx__grad_hook fn, void *ctx);

struct dbx_exec {
    dbx_exec_opts opts;     /* opts.scheduler: the scheduler's registered name */
    dbx_backend *be;
    const dbx_sched_type *scheduler;
    void *sched_state;      /* made by scheduler->create, owned by the executor */
    dbx__cons cons;
    dbx_sched_ready ready;
    dbx__schedule schedule;
    dbx__layout layout;
    dbx__arena arena;
    dbx_exec_stats stats;

    dbx__grad_hook hook;    /* dbx__exec_set_grad_hook */
    void *hook_ctx;
    int32_t *pdone;         /* (model params) the hook's lists: parameters by first use */
    int32_t *pstart;        /* (batches + 2) where batch b's list starts in pdone */
    int32_t *pfirst;        /* (model params) scratch: first batch using each parameter */
    size_t cap_pdone, cap_pstart, cap_pfirst;

    const dbx_graph *graph; /* graph of the last forward */
    size_t graph_nodes;
    int have_forward;
};

/* Builds the batches of g into s: the ready set r (consumers c) offers groups, scheduler t
 * (state) chooses them. */
dbx_status dbx__schedule_build(dbx__schedule *s, dbx_sched_ready *r, const dbx__cons *c,
                               const dbx_sched_type *t, void *state, const dbx_graph *g);
/* Builds ex's consumer lists and schedule for g (the analysis before planning). */
dbx_status dbx__exec_schedule(dbx_exec *ex, const dbx_graph *g);
/* Orders each batch of s for its consumers (reordering s's nodes inside batches), assigns
 * output blocks, and builds the kernel descriptors into l; planning statistics go to st. */
dbx_status dbx__layout_build(dbx__layout *l, dbx__schedule *s, const dbx__cons *c,
                             const dbx_graph *g, const dbx_backend *be, int fuse,
                             dbx_exec_stats *st);

#endif /* DBX_CORE_EXEC_H */
