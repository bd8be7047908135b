/* Internal to dbx: one rank's worker. A worker holds a model instance (the model type and its
 * build state, the meta, the parameter replica, a graph and an executor) and does what a rank
 * does in a step: read its share of the global batch from a message, build each sample's
 * graph through the model type, run the minibatch forward and backward, take part in the
 * gradient all-reduce (worker/dist.h) and apply the optimizer; and it evaluates a dataset.
 * It never decides which samples it gets (coordinator/ does) and never looks at what a
 * model is. Also the message format the coordinator ships (a header, then each sample as
 * [n, its n record words]). Not thread-safe: one worker per thread. */
#ifndef DBX_WORKER_WORKER_H
#define DBX_WORKER_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"
#include "dbx/model_type.h"
#include "dbx/train.h"
#include "worker/dist.h"

/* ---- messages ------------------------------------------------------------------------------ */
/* Words of the header in front of each worker's message. */
enum { DBX_MSG_HEADER = 6, DBX_MSG_MAGIC = 0x44425853 /* "DBXS" */ };

/* Header fields: [magic, step, global batch size, epoch, epoch_end flag, samples here]. */
typedef struct dbx__msg_header {
    int32_t step, global_bs, epoch, epoch_end, nsamples;
} dbx__msg_header;

/* Words sample s takes in a message: [n, key, record]. */
static inline size_t dbx__msg_sample_words(const dbx_sample *s) { return 2 + (size_t)s->n; }
/* Appends sample s at dst (capacity checked by the caller) with its key (its index in the
 * training set: the worker derives the sample's random stream from it, so that random ops
 * draw the same on any number of workers); returns the words written. */
size_t dbx__msg_put_sample(int32_t *dst, const dbx_sample *s, int32_t key);
/* Writes the header at dst. */
void dbx__msg_put_header(int32_t *dst, int64_t step, const dbx__msg_header *h);
/* Reads and checks the header of a received message (nbytes long) for step. */
dbx_status dbx__msg_read_header(const int32_t *words, size_t nbytes, int64_t step,
                                dbx__msg_header *h);
/* Reads the sample at words[*pos] (a view into words), advancing *pos; DBX_EPARSE when the
 * message is too short. The record itself is validated by the model type's build. */
dbx_status dbx__msg_get_sample(const int32_t *words, size_t nwords, size_t *pos,
                               dbx_sample *out, int32_t *key);

/* ---- statistics ---------------------------------------------------------------------------- */
/* One worker's statistics of one step (all doubles: all-gathered as a flat array). */
typedef struct dbx__wstat {
    double samples, labelled, nodes, requested, batches, gathered, loss, gemm;
    double build, sched, plan, fwd, bwd, update;
    double compute;   /* build + analysis + forward + backward */
    double wait;      /* waiting for this step's samples */
    double allreduce; /* gradient synchronisation */
    double ar_bytes;
    double ar_early;  /* dense gradient bytes whose all-reduce started during the backward pass */
    double ar_rows;   /* embedding rows exchanged (all ranks together) */
    double ar_local;  /* of allreduce: local work on the embedding rows */
    double launches;  /* device kernels and copies of forward + backward (0 on the CPU) */
    double grad_norm; /* L2 norm of the mean gradient after the all-reduce (NaN: not computed) */
    double clipped;   /* 1: the gradient was rescaled to the clipping norm */
} dbx__wstat;

/* ---- the worker ---------------------------------------------------------------------------- */
typedef struct dbx__worker_opts {
    uint64_t seed;            /* parameter initialisation */
    const char *scheduler;
    int dedup, fuse;
    const char *device;       /* NULL or "cpu" | "cuda" */
    int device_index;
    dbx_precision precision;  /* GEMM arithmetic of the executor */
} dbx__worker_opts;

typedef struct dbx__worker {
    const dbx_model_type *type;
    void *self;               /* the model type's build state */
    dbx_meta *meta;           /* owned */
    dbx_model *model;
    dbx_graph *g;
    dbx_exec *ex;
    dbx__sync sync;           /* gradient synchronisation scratch */
    uint64_t seed;            /* the run's seed: random streams of training samples */
    /* evaluation scratch */
    float *outvals;           /* output values, back to back */
    const float **outp;       /* (outputs) pointers into outvals */
    size_t cap_outvals, cap_outp;
    /* update scratch: host copies of a GPU model's values and gradients */
    float *hval, *hgrad;
    size_t cap_hval, cap_hgrad;
} dbx__worker;

/* What the optimizer step does besides the optimizer (worker/update.c). */
typedef struct dbx__update_opts {
    dbx_optim optim;     /* with this step's learning rate; grad_scale is set here */
    double clip_norm;    /* > 0: rescale the mean gradient to this norm when it is larger */
    double weight_decay; /* > 0: L2 decay, coupled (SGD, Adagrad) or decoupled (Adam) */
} dbx__update_opts;

/* Creates the model instance from a frozen meta (taking ownership of it, also on failure):
 * the type's create, dbx_model_init(seed), a graph and an executor. */
dbx_status dbx__worker_init(dbx__worker *w, const dbx_model_type *t, dbx_meta *meta,
                            const dbx__worker_opts *o);
void dbx__worker_free(dbx__worker *w);
/* Builds the samples of a received message (after its header) and runs them forward and
 * backward (gradients accumulate in the model); fills the build / analysis / execution
 * fields of st. A message without samples does nothing (the rank contributes zeros). */
dbx_status dbx__worker_compute(dbx__worker *w, const int32_t *words, size_t nbytes,
                               const dbx__msg_header *h, dbx__wstat *st);
/* Collective (every rank, also one without samples): sums the gradients across the ranks of
 * c; then, on the mean gradient (the sum scaled by 1 / global_bs, the global batch, whoever
 * computed it), its L2 norm over the dense parameters and the touched lookup rows, the
 * clipping to u->clip_norm, the weight decay (coupled for SGD and Adagrad: g + wd p;
 * decoupled for Adam: p *= 1 - lr wd first; touched rows only in lookup tables) and the
 * optimizer u->optim, identically on every rank so every replica stays identical; fills
 * st->allreduce, ar_bytes, update, grad_norm and clipped (worker/update.c). */
dbx_status dbx__worker_update(dbx__worker *w, dbx__comm *c, const dbx__update_opts *u,
                              int32_t global_bs, dbx__wstat *st);
/* Called for sample i (s) of a dataset with the values of its outputs (the nodes its build
 * marked with dbx_graph_output in DBX_BUILD_EVAL, in order); a failure stops the pass. */
typedef dbx_status (*dbx__sample_fn)(void *arg, int32_t i, const dbx_sample *s, int nout,
                                     const float *const *out);
/* Forward-only pass over d in order, minibatches of batch samples built in DBX_BUILD_EVAL:
 * fn (if not NULL) for every sample, *loss and *labelled (if not NULL) the summed loss and
 * loss terms. */
dbx_status dbx__worker_forward(dbx__worker *w, const dbx_dataset *d, int batch,
                               dbx__sample_fn fn, void *arg, double *loss, int64_t *labelled);
/* Forward-only evaluation of d in order, minibatches of batch samples: loss per labelled
 * node and the model type's metrics (the headline first, also in res->acc). */
dbx_status dbx__worker_eval(dbx__worker *w, const dbx_dataset *d, int batch,
                            dbx_eval_result *res);
/* The device index of this rank for device: for "cuda" the GPU that dbx__topo_gpu_choose
 * picks (near the rank's cores, spread over the host's GPUs; collective over c, NULL: one
 * process), with *sharing and desc as there; for any other device the local rank, *sharing
 * 0 and desc "" (no PCI discovery). */
dbx_status dbx__gpu_pick(dbx__comm *c, const char *device, int *index, int *sharing, char *desc,
                         size_t desc_cap);

#endif /* DBX_WORKER_WORKER_H */
