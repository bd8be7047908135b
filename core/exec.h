/* Internal layout of the executor: the schedule (batches of node ids), the memory plan
 * (one contiguous output block per batch, ordered for its consumers), per-batch kernel
 * descriptors, and the value / gradient arenas in backend memory. All arrays are reused
 * across steps and only grow. Not thread-safe. */
#ifndef DBX_CORE_EXEC_H
#define DBX_CORE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"
#include "dbx/dbx.h"
#include "kernels/backend.h"

typedef struct dbx__batch {
    int32_t first;       /* index in ex->order of the batch's first node */
    int32_t n;           /* nodes */
    int32_t sig;
    int32_t op;          /* enum dbx_op */
    int32_t dim;
    int32_t nargs;
    int64_t out_off;     /* value/gradient offset of the block (floats) */
    int64_t argoff_at;   /* (nargs, n) block in ex->argoff */
    int64_t attr_at;     /* (n) block in ex->attr */
    int32_t argdim_at;   /* (nargs) in ex->argdim, contiguity flags in ex->contig */
    int32_t term_at;     /* affine terms in ex->kterms */
    int32_t nterms;
    int32_t iparam;
    int32_t table;       /* lookup: parameter */
    int32_t fuse;        /* 1: runs fused with the next batch; -1: runs inside the previous */
} dbx__batch;

struct dbx_exec {
    dbx_exec_opts opts;
    dbx_backend *be;

    /* schedule */
    int32_t *order;         /* (nnodes) node ids grouped by batch */
    dbx__batch *batches;
    size_t nbatches, cap_batches, cap_order;
    int32_t *batch_of, *pos; /* (nnodes) node -> batch, position in batch */
    int32_t *cons_start, *cons; /* consumers CSR: (nnodes + 1), (total args) */
    size_t cap_nodes, cap_cons;
    int32_t *pending;       /* agenda: unfinished arguments per node */
    int32_t **ready;        /* agenda: ready nodes per signature */
    size_t *nready, *cap_ready;
    double *ready_depth;
    size_t nsig_alloc;
    uint64_t *keys;         /* depth scheduler sort keys (nnodes) */
    int32_t *buckets;       /* depth scheduler counting sort: (max depth + 1) * signatures */
    size_t cap_buckets;
    int32_t *tmp;           /* (nnodes) scratch */
    void *sortbuf;          /* planner sort items */
    size_t cap_sortbuf;

    /* plan */
    int64_t *off;           /* (nnodes) value offset of each node (floats) */
    int64_t *argoff;
    size_t cap_argoff;
    int32_t *attr;
    size_t cap_attr;
    int *argdim;
    unsigned char *contig;
    size_t cap_argdim, nargdim;
    size_t nargoff, nattr;  /* entries of argoff and attr in use */
    /* device backends: the arena's last part, copies of argoff | attr | argdim uploaded once
       per step (dbx_kbatch.d_*) */
    void *dindex;
    size_t dindex_cap;      /* bytes */
    int64_t *dargoff;
    int32_t *dattr;
    int *dargdim;
    int32_t *tparams;       /* dense matrices used by affine terms this step */
    size_t ntparams, cap_tparams;
    unsigned char *tmark;   /* (model params) scratch flags */
    size_t cap_tmark;
    dbx_kterm *kterms;
    size_t cap_kterms, nkterms;
    int64_t *lossoff;       /* offsets of loss nodes */
    size_t cap_lossoff;
    float *losshost;
    size_t cap_losshost;
    size_t arena_floats;    /* in use */
    size_t arena_cap;       /* allocated */
    float *vals, *grads;
    size_t scratch_floats;
    int (*gemms)[3];
    size_t ngemms, cap_gemms;

    const dbx_graph *graph; /* graph of the last forward */
    size_t graph_nodes;
    int have_forward;
    dbx_exec_stats stats;
};

/* Builds the consumer lists and the batches of g under ex->opts.sched. */
dbx_status dbx__schedule(dbx_exec *ex, const dbx_graph *g);
/* Orders each batch for its consumers, assigns output blocks, and builds the kernel
 * descriptors; grows the arenas when needed (outside the steady state). */
dbx_status dbx__plan(dbx_exec *ex, const dbx_graph *g);

#endif /* DBX_CORE_EXEC_H */
