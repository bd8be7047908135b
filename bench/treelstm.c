/* bench_treelstm (and bench_tagger, which compiles this file with another default model):
 * the dbx-versus-DyNet benchmark on one CPU core.
 *
 * Trains one epoch of a data set (SST train for the Tree-LSTM, the WikiNER tags dev set
 * for the BiLSTM tagger) with batch 64 and Adam, for every requested size x scheduler x
 * dedup configuration. Each configuration runs in its own fork()ed child so that its
 * peak RSS is its own; the child sends its measurements back through a pipe. A GEMM-only
 * lower bound on the epoch time is computed per size from the affine terms that the depth
 * scheduler really runs with deduplication off, each term shape timed in isolation through
 * the CPU backend's affine kernels, so with the run's GEMM library and precision
 * (bench/gemm_bound.h). Prints a table and writes bench/results/<model>.json and .md
 * (atomically).
 * This is a measurement program, never a pass/fail test. See bench/README.md. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/model_type.h"
#include "dbx/models.h"
#include "dbx/sched.h"
#include "kernels/cpu/blas.h"
#include "bench/bench_util.h"
#include "bench/gemm_bound.h"
#include "kernels/cpu/dnnl.h"

#ifndef BENCH_DEFAULT_MODEL
#define BENCH_DEFAULT_MODEL "treelstm"
#endif

enum { MAX_SIZES = 8, MAX_SCHEDS = 8, MAX_ROWS = 64 };

#define PROGRESS_EVERY_S 10.0

/* ---- options ------------------------------------------------------------------------- */
typedef struct bench_opts {
    const dbx_model_type *type; /* the model (dbx/model_type.h) */
    const char *data;       /* NULL: the default file of the model */
    int synthetic;          /* > 0: that many of the model type's synthetic samples */
    int sizes[MAX_SIZES], nsizes;
    const char *scheds[MAX_SCHEDS]; /* registered scheduler names (dbx/sched.h) */
    int nscheds;
    int dedups[2], ndedups;
    int batch;
    double max_seconds;
    int bound;              /* 1: compute the GEMM bound per size */
    int fuse;
    dbx_precision precision; /* --precision fp32|bf16 (the affine GEMMs' arithmetic) */
    uint64_t seed;
    const char *out_dir;    /* NULL: <source root>/bench/results */
} bench_opts;

/* ---- small utilities ----------------------------------------------------------------- */
static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* Peak resident set size of this process, MB (VmHWM), or NaN. */
static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    char line[256];
    double mb = NAN;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            mb = strtod(line + 6, NULL) / 1024.0;
            break;
        }
    fclose(f);
    return mb;
}

/* Resets the peak RSS to the current RSS (Linux >= 4.0), so that a forked child does not
 * report its parent's peak. Failure is harmless. */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

/* ---- data ---------------------------------------------------------------------------- */
/* The default data set of each model that has one, relative to the source root, and the
 * short name of its report files. */
typedef struct model_info {
    const char *model, *rel, *what, *base;
    int sizes[3];
} model_info;

static const model_info infos[] = {
    {"treelstm", "../shared/data/sst/train.txt", "SST train", "treelstm", {128, 256, 512}},
    {"bilstm-tagger", "../shared/data/tags/dev.txt", "WikiNER tags dev", "tagger", {256}},
    {"lattice-lstm", "../shared/data/lattice/train.txt", "lattice train", "lattice", {256}},
};

static const model_info *info_of(const dbx_model_type *t)
{
    for (size_t i = 0; i < sizeof infos / sizeof *infos; i++)
        if (!strcmp(infos[i].model, t->name)) return &infos[i];
    return NULL;
}

typedef struct bench_data {
    const dbx_model_type *type;
    char source[1024];      /* file path or "synthetic: N samples" */
    dbx_meta *meta;         /* frozen after parsing; sizes set per configuration */
    dbx_dataset *ds;
    int nsamples;
    int64_t units;          /* the samples' units (tree nodes, tokens, lattice nodes) */
    int32_t *order;         /* (nsamples) the fixed shuffled sample order */
} bench_data;

static void data_free(bench_data *d)
{
    dbx_dataset_free(d->ds);
    dbx_meta_free(d->meta);
    free(d->order);
}

/* Loads the data set; returns 0, or prints the reason and returns 1. */
static int data_load(const bench_opts *o, bench_data *d)
{
    memset(d, 0, sizeof *d);
    const dbx_model_type *t = d->type = o->type;
    const model_info *mi = info_of(t);
    dbx_status s = dbx_meta_new(&d->meta);
    if (!s) s = dbx_meta_set_model(d->meta, t->name);
    if (s) {
        fprintf(stderr, "bench: %s\n", dbx_last_error());
        return 1;
    }
    if (o->synthetic > 0) {
        if (!t->generate) {
            fprintf(stderr, "bench: model %s has no synthetic data\n", t->name);
            return 1;
        }
        char *text = NULL;
        size_t len = 0;
        s = t->generate(o->synthetic, 1, &text, &len);
        if (!s) s = dbx_dataset_new(&d->ds);
        if (!s) s = t->parse(d->meta, "synthetic", text, len, d->ds);
        free(text);
        if (s) {
            fprintf(stderr, "bench: synthetic data: %s\n", dbx_last_error());
            return 1;
        }
        snprintf(d->source, sizeof d->source, "synthetic (%s, %d samples)", t->name,
                 o->synthetic);
    } else {
        const char *path = o->data;
        char buf[1024];
        if (!path && !mi) {
            fprintf(stderr, "bench: model %s has no default data: pass --data\n", t->name);
            return 1;
        }
        if (!path) {
            char root[900];
            source_root(root, sizeof root);
            snprintf(buf, sizeof buf, "%s/%s", root, mi->rel);
            path = file_exists(buf) ? buf : mi->rel;
            if (!file_exists(path)) {
                fprintf(stderr, "bench: missing %s (%s, see shared/data/README.md)\n", mi->rel,
                        mi->what);
                return 1;
            }
        } else if (!file_exists(path)) {
            fprintf(stderr, "bench: missing %s\n", path);
            return 1;
        }
        if (dbx_dataset_read(t, d->meta, path, &d->ds)) {
            fprintf(stderr, "bench: %s\n", dbx_last_error());
            return 1;
        }
        /* a readable path for the reports: drop "<root>/" */
        char root[900];
        source_root(root, sizeof root);
        size_t rl = strlen(root);
        const char *shown = path;
        if (strncmp(path, root, rl) == 0 && path[rl] == '/') shown = path + rl + 1;
        snprintf(d->source, sizeof d->source, "%s", shown);
    }
    dbx_meta_freeze(d->meta);
    d->nsamples = dbx_dataset_size(d->ds);
    d->units = dbx_dataset_units(d->ds);
    d->order = xcalloc((size_t)d->nsamples, sizeof *d->order);
    for (int i = 0; i < d->nsamples; i++) d->order[i] = i;
    uint64_t st = o->seed ^ 0x243f6a8885a308d3ull;
    for (int i = d->nsamples - 1; i > 0; i--) {
        int j = (int)(dbx__splitmix64(&st) % (uint64_t)(i + 1));
        int32_t t2 = d->order[i];
        d->order[i] = d->order[j];
        d->order[j] = t2;
    }
    return 0;
}

/* ---- models -------------------------------------------------------------------------- */
typedef struct bench_model {
    const bench_data *d;
    dbx_model *m;
    void *self;             /* the model type's build state */
} bench_model;

static void bm_free(bench_model *bm)
{
    if (bm->self && bm->d->type->destroy) bm->d->type->destroy(bm->self);
    dbx_model_free(bm->m);
    memset(bm, 0, sizeof *bm);
}

/* The model of embed = hidden = mlp = size (runs in a child: the meta's sizes are its own). */
static dbx_status bm_new(bench_model *bm, const bench_data *d, int size, uint64_t seed)
{
    memset(bm, 0, sizeof *bm);
    bm->d = d;
    dbx_status s = dbx_meta_set(d->meta, "embed", size);
    if (!s) s = dbx_meta_set(d->meta, "hidden", size);
    if (!s) s = dbx_meta_set(d->meta, "mlp", size);
    if (!s) s = dbx_model_new(&bm->m);
    if (!s) s = d->type->create(d->meta, bm->m, &bm->self);
    if (!s) s = dbx_model_init(bm->m, seed);
    if (s) bm_free(bm);
    return s;
}

/* Builds one sample; adds its loss terms and the forward GEMM FLOPs the model defines for it
 * (before deduplication, as the graph counts them). */
static dbx_status bm_build(bench_model *bm, dbx_graph *g, int sample, int64_t *labelled,
                           double *gemm)
{
    int l0 = dbx_graph_num_losses(g);
    double f0 = dbx_graph_gemm_flops(g);
    dbx_sample smp = dbx_dataset_get(bm->d->ds, sample);
    dbx_status s = bm->d->type->build(bm->self, g, &smp, DBX_BUILD_TRAIN);
    if (s) return s;
    *labelled += dbx_graph_num_losses(g) - l0;
    *gemm += dbx_graph_gemm_flops(g) - f0;
    return DBX_OK;
}

/* ---- one training configuration (runs in a child) ------------------------------------ */
typedef struct config {
    int size;
    const char *sched;
    int dedup;
} config;

typedef struct run_result {
    int ok;                 /* 1: measured (complete or partial) */
    char err[256];
    int steps, steps_total;
    int64_t samples, labelled;
    double t_loop, t_build, t_sched, t_plan, t_forward, t_backward, t_update;
    int64_t batches, nodes, requested, gathered_bytes;
    double gemm_flops_exec, gemm_flops_model;
    double first_loss, mean_loss;   /* per loss term */
    double arena_mb_max;
    double peak_rss_mb;
} run_result;

static void fail_result(char *err, size_t cap, const char *what, dbx_status s)
{
    snprintf(err, cap, "%s: %s (%s)", what, dbx_status_str(s), dbx_last_error());
}

static void train_child(const bench_opts *o, const bench_data *d, const config *c,
                        run_result *r)
{
    reset_peak_rss();
    memset(r, 0, sizeof *r);
    r->steps_total = (d->nsamples + o->batch - 1) / o->batch;
    r->first_loss = r->mean_loss = NAN;
    bench_model bm;
    dbx_graph *g = NULL;
    dbx_exec *ex = NULL;
    dbx_status s = bm_new(&bm, d, c->size, o->seed);
    if (s) {
        fail_result(r->err, sizeof r->err, "model", s);
        return;
    }
    dbx_exec_opts eo = {.scheduler = c->sched, .fuse = o->fuse, .precision = o->precision};
    if ((s = dbx_graph_new(bm.m, c->dedup, &g)) || (s = dbx_exec_new(&eo, &ex))) {
        fail_result(r->err, sizeof r->err, "setup", s);
        goto out;
    }
    dbx_optim opt = dbx_optim_default(DBX_OPT_ADAM);
    opt.lr = 0.001f;
    double loss_sum = 0;
    const double t0 = now_s();
    double t_report = t0;
    for (int step = 0; step < r->steps_total; step++) {
        int lo = step * o->batch, hi = lo + o->batch < d->nsamples ? lo + o->batch : d->nsamples;
        int64_t lab = 0;
        double tb = now_s();
        dbx_graph_clear(g);
        for (int i = lo; i < hi && !s; i++) {
            int k = d->order[i];
            double gf = 0;
            s = bm_build(&bm, g, k, &lab, &gf);
            r->gemm_flops_model += 3 * gf;
        }
        r->t_build += now_s() - tb;
        if (s) {
            fail_result(r->err, sizeof r->err, "build", s);
            goto out;
        }
        r->requested += dbx_graph_num_requested(g);
        double loss = 0;
        if ((s = dbx_exec_forward(ex, g, &loss)) || (s = dbx_exec_backward(ex, g, 1.0f))) {
            fail_result(r->err, sizeof r->err, "execute", s);
            goto out;
        }
        const dbx_exec_stats *st = dbx_exec_last_stats(ex);
        r->t_sched += st->t_sched;
        r->t_plan += st->t_plan;
        r->t_forward += st->t_forward;
        r->t_backward += st->t_backward;
        r->batches += st->batches;
        r->nodes += st->nodes;
        r->gathered_bytes += st->gathered_bytes;
        r->gemm_flops_exec += st->gemm_flops;
        if ((double)st->arena_bytes / 1048576.0 > r->arena_mb_max)
            r->arena_mb_max = (double)st->arena_bytes / 1048576.0;
        opt.grad_scale = 1.0f / (float)(hi - lo);
        double tu = now_s();
        if ((s = dbx_model_update(bm.m, &opt))) {
            fail_result(r->err, sizeof r->err, "update", s);
            goto out;
        }
        r->t_update += now_s() - tu;
        if (step == 0) r->first_loss = loss / (double)lab;
        loss_sum += loss;
        r->labelled += lab;
        r->samples += hi - lo;
        r->steps++;
        double t = now_s();
        if (t - t_report >= PROGRESS_EVERY_S) {
            t_report = t;
            fprintf(stderr, "bench:   step %d/%d, %.0f s, %.1f sents/s\n", r->steps,
                    r->steps_total, t - t0, (double)r->samples / (t - t0));
        }
        if (t - t0 > o->max_seconds) break;
    }
    r->t_loop = now_s() - t0;
    r->mean_loss = r->labelled ? loss_sum / (double)r->labelled : NAN;
    r->ok = 1;
out:
    r->peak_rss_mb = peak_rss_mb();
    dbx_exec_free(ex);
    dbx_graph_free(g);
    bm_free(&bm);
}

/* ---- the GEMM bound (runs in a child; bench/gemm_bound.h) ------------------------------ */
typedef struct bound_result {
    int ok;
    char err[256];
    int64_t samples, calls;
    int distinct;           /* distinct term shapes (rows, cols, batch width) */
    double flops;           /* GEMM FLOPs of the recorded shapes (fwd + bwd) */
    double model_flops;     /* the model's GEMM FLOPs (3 x forward, no dedup) */
    double seconds;         /* sum over term shapes of count x isolated time */
    double t_collect, t_time;
} bound_result;

static void bound_child(const bench_opts *o, const bench_data *d, int size, bound_result *r)
{
    memset(r, 0, sizeof *r);
    bench_model bm;
    dbx_graph *g = NULL;
    dbx_exec *ex = NULL;
    term_map tmap = {0};
    int (*buf)[3] = NULL;
    int cap = 0;
    dbx_status s = bm_new(&bm, d, size, o->seed);
    if (s) {
        fail_result(r->err, sizeof r->err, "model", s);
        return;
    }
    dbx_exec_opts eo = {.scheduler = "depth", .fuse = o->fuse, .precision = o->precision};
    if ((s = dbx_graph_new(bm.m, 0, &g)) || (s = dbx_exec_new(&eo, &ex))) {
        fail_result(r->err, sizeof r->err, "setup", s);
        goto out;
    }
    /* 1. collect the shapes: shapes are recorded when a graph is planned, forward and
     * backward together, so a forward pass per minibatch suffices (no training). They come
     * three per weight term, the forward's (rows, n, cols) first (dbx_exec_gemm_shapes). */
    const int steps = (d->nsamples + o->batch - 1) / o->batch;
    double t0 = now_s(), t_report = t0;
    for (int step = 0; step < steps; step++) {
        int lo = step * o->batch, hi = lo + o->batch < d->nsamples ? lo + o->batch : d->nsamples;
        dbx_graph_clear(g);
        for (int i = lo; i < hi && !s; i++) {
            int64_t lab = 0;
            double gf = 0;
            s = bm_build(&bm, g, d->order[i], &lab, &gf);
            r->model_flops += 3 * gf;
        }
        double loss;
        if (s || (s = dbx_exec_forward(ex, g, &loss))) {
            fail_result(r->err, sizeof r->err, "shape pass", s);
            goto out;
        }
        int n = dbx_exec_gemm_shapes(ex, buf, cap);
        if (n > cap) {
            free(buf);
            cap = n + n / 2;
            buf = xcalloc((size_t)cap, sizeof *buf);
            n = dbx_exec_gemm_shapes(ex, buf, cap);
        }
        for (int i = 0; i + 2 < n; i += 3)
            if (term_add(&tmap, buf[i][0], buf[i][2], buf[i][1], 1)) {
                snprintf(r->err, sizeof r->err, "out of memory for the term shapes");
                goto out;
            }
        r->calls += n;
        r->samples += hi - lo;
        double t = now_s();
        if (t - t_report >= PROGRESS_EVERY_S) {
            t_report = t;
            fprintf(stderr, "bench:   bound: shapes of step %d/%d\n", step + 1, steps);
        }
    }
    r->t_collect = now_s() - t0;
    /* 2. time every distinct term in isolation, through the backend's affine kernels */
    t0 = now_s();
    t_report = t0;
    int done = 0;
    for (size_t i = 0; i < tmap.cap; i++) {
        const term_entry *e = &tmap.e[i];
        if (!e->rows) continue;
        double t = 0;
        if ((s = term_seconds(e, o->precision, &t))) {
            fail_result(r->err, sizeof r->err, "timing a term", s);
            goto out;
        }
        r->seconds += (double)e->count * t;
        r->flops += (double)e->count * 6.0 * e->rows * (double)e->cols * e->n;
        done++;
        double tn = now_s();
        if (tn - t_report >= PROGRESS_EVERY_S) {
            t_report = tn;
            fprintf(stderr, "bench:   bound: timed %d/%zu term shapes\n", done, tmap.len);
        }
    }
    r->distinct = (int)tmap.len;
    r->t_time = now_s() - t0;
    r->ok = 1;
out:
    free(buf);
    free(tmap.e);
    dbx_exec_free(ex);
    dbx_graph_free(g);
    bm_free(&bm);
}

/* ---- fork + pipe ----------------------------------------------------------------------- */
typedef void (*child_fn)(const bench_opts *o, const bench_data *d, const void *arg,
                         void *out);

static void train_entry(const bench_opts *o, const bench_data *d, const void *arg, void *out)
{
    train_child(o, d, arg, out);
}

static void bound_entry(const bench_opts *o, const bench_data *d, const void *arg, void *out)
{
    bound_child(o, d, *(const int *)arg, out);
}

/* Runs fn in a forked child and copies its result (size bytes) back. Returns 0, or -1 with
 * a reason in err when the child failed to deliver one. */
static int run_in_child(child_fn fn, const bench_opts *o, const bench_data *d, const void *arg,
                        void *out, size_t size, char *err, size_t errcap)
{
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(err, errcap, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        void *res = xcalloc(1, size);
        fn(o, d, arg, res);
        const char *p = res;
        size_t left = size;
        while (left > 0) {
            ssize_t w = write(fd[1], p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(2);
            p += w;
            left -= (size_t)w;
        }
        close(fd[1]);
        fflush(stderr);
        _exit(0);
    }
    close(fd[1]);
    char *p = out;
    size_t got = 0;
    while (got < size) {
        ssize_t rd = read(fd[0], p + got, size - got);
        if (rd < 0 && errno == EINTR) continue;
        if (rd <= 0) break;
        got += (size_t)rd;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got == size) return 0;
    if (WIFSIGNALED(status))
        snprintf(err, errcap, "child killed by signal %d", WTERMSIG(status));
    else
        snprintf(err, errcap, "child exited with status %d without a result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return -1;
}

/* ---- reference numbers ----------------------------------------------------------------- */
/* DyNet's sentences/s on one core (DyNet autobatching paper's setup); -1: no number.
 * agenda: the figures of issue 11, measured on this kind of machine (Tree-LSTM 1,907 / 874 /
 * 242 at 128 / 256 / 512, tagger 382); none and depth: the project brief's. 512/none: DyNet
 * did not finish an epoch in 175 s. */
static double dynet_ref(const char *model, int size, const char *sched)
{
    /* DyNet ran without autobatching (none), with depth-based and with agenda-based batching */
    const int k = !strcmp(sched, "none") ? 0 : !strcmp(sched, "depth") ? 1
                : !strcmp(sched, "agenda") ? 2 : -1;
    if (k < 0) return -1;
    if (!strcmp(model, "bilstm-tagger")) return size == 256 ? (double[]){91, 335, 382}[k] : -1;
    if (strcmp(model, "treelstm") != 0) return -1;
    switch (size) {
    case 128: return (double[]){1032, 1885, 1907}[k];
    case 256: return (double[]){172, 815, 874}[k];
    case 512: return (double[]){-1, 254, 242}[k];
    default: return -1;
    }
}

static const char *dynet_note(const char *model, int size, const char *sched)
{
    if (!strcmp(model, "treelstm") && size == 512 && !strcmp(sched, "none"))
        return "DyNet: no epoch in 175 s";
    return NULL;
}

/* ---- report ---------------------------------------------------------------------------- */
typedef struct row {
    config c;
    run_result r;
    char err[256];          /* run_in_child failure */
} row;

typedef struct size_bound {
    int size;
    int have;               /* 1: requested and computed */
    bound_result b;
    char err[256];
} size_bound;

typedef struct report {
    const bench_opts *o;
    const bench_data *d;
    const char *model_name;
    char cpu[256], blas[512], date[64], commit[64];
    const char *gemm_lib;   /* the affine GEMMs' library: "OpenBLAS" or "oneDNN" */
    int cpus_allowed;
    double peak_gflops;
    row rows[MAX_ROWS];
    int nrows;
    size_bound bounds[MAX_SIZES];
    int nbounds;
} report;

static const size_bound *bound_of(const report *rp, int size)
{
    for (int i = 0; i < rp->nbounds; i++)
        if (rp->bounds[i].size == size && rp->bounds[i].have && rp->bounds[i].b.ok)
            return &rp->bounds[i];
    return NULL;
}

/* Derived numbers of one row (NaN when unavailable). */
typedef struct derived {
    int ok;
    double sps, vs_dynet, dynet, pct_bound, analysis, batches_per_graph, width, gathered_mb,
        gflops, pct_peak, epoch_s;
} derived;

static derived derive(const report *rp, const row *w)
{
    derived v = {0};
    v.sps = v.vs_dynet = v.pct_bound = v.analysis = v.batches_per_graph = v.width = NAN;
    v.gathered_mb = v.gflops = v.pct_peak = v.epoch_s = NAN;
    v.dynet = dynet_ref(rp->o->type->name, w->c.size, w->c.sched);
    const run_result *r = &w->r;
    if (w->err[0] || !r->ok || r->steps == 0 || r->t_loop <= 0) return v;
    v.ok = 1;
    v.sps = (double)r->samples / r->t_loop;
    v.epoch_s = (double)rp->d->nsamples / v.sps;
    if (v.dynet > 0) v.vs_dynet = v.sps / v.dynet;
    const size_bound *sb = bound_of(rp, w->c.size);
    if (sb && sb->b.seconds > 0)
        v.pct_bound = 100.0 * v.sps / ((double)sb->b.samples / sb->b.seconds);
    v.analysis = 100.0 * (r->t_build + r->t_sched + r->t_plan) / r->t_loop;
    v.batches_per_graph = (double)r->batches / r->steps;
    if (r->batches) v.width = (double)r->nodes / (double)r->batches;
    v.gathered_mb = (double)r->gathered_bytes / r->steps / 1048576.0;
    v.gflops = r->gemm_flops_model / r->t_loop * 1e-9;
    if (rp->peak_gflops > 0) v.pct_peak = 100.0 * v.gflops / rp->peak_gflops;
    return v;
}

static void row_note(const report *rp, const row *w, char *out, size_t cap)
{
    const char *dn = dynet_note(rp->o->type->name, w->c.size, w->c.sched);
    const int room = (int)(cap > 9 ? cap - 9 : 0); /* errors are cut to the cell */
    if (w->err[0])
        snprintf(out, cap, "failed: %.*s", room, w->err);
    else if (!w->r.ok)
        snprintf(out, cap, "failed: %.*s", room, w->r.err);
    else if (w->r.steps < w->r.steps_total)
        snprintf(out, cap, "partial (%d/%d steps)%s%s", w->r.steps, w->r.steps_total,
                 dn ? "; " : "", dn ? dn : "");
    else
        snprintf(out, cap, "%s", dn ? dn : "");
}

static void fmt_num(char *out, size_t cap, double x, const char *fmt)
{
    if (isnan(x)) snprintf(out, cap, "n/a");
    else snprintf(out, cap, fmt, x);
}

enum { NCOLS = 15, NTEXT = 5 }; /* the first NTEXT columns and the last are text */
static const char *const col_names[NCOLS] = {
    "size", "sched", "dedup", "precision", "GEMM", "sents/s", "vs DyNet",
    "% GEMM bound at this precision", "analysis %", "batches/graph", "mean width",
    "gathered MB/step", "GFLOP/s (% peak)", "peak RSS MB", "note"};

static void row_cells(const report *rp, const row *w, char cells[NCOLS][160])
{
    derived v = derive(rp, w);
    snprintf(cells[0], 160, "%d", w->c.size);
    snprintf(cells[1], 160, "%s", w->c.sched);
    snprintf(cells[2], 160, "%s", w->c.dedup ? "on" : "off");
    snprintf(cells[3], 160, "%s", dbx_precision_name(rp->o->precision));
    snprintf(cells[4], 160, "%s", rp->gemm_lib);
    fmt_num(cells[5], 160, v.sps, "%.1f");
    if (v.dynet > 0 && !isnan(v.vs_dynet))
        snprintf(cells[6], 160, "%.2fx (%.0f)", v.vs_dynet, v.dynet);
    else
        snprintf(cells[6], 160, "n/a");
    fmt_num(cells[7], 160, v.pct_bound, "%.1f");
    fmt_num(cells[8], 160, v.analysis, "%.1f");
    fmt_num(cells[9], 160, v.batches_per_graph, "%.1f");
    fmt_num(cells[10], 160, v.width, "%.1f");
    fmt_num(cells[11], 160, v.gathered_mb, "%.2f");
    if (isnan(v.gflops))
        snprintf(cells[12], 160, "n/a");
    else
        snprintf(cells[12], 160, "%.2f (%.1f%%)", v.gflops, v.pct_peak);
    fmt_num(cells[13], 160, w->r.ok ? w->r.peak_rss_mb : NAN, "%.0f");
    row_note(rp, w, cells[14], 160);
}

static void bound_line(const report *rp, const size_bound *sb, char *out, size_t cap)
{
    if (sb->err[0] || !sb->b.ok) {
        snprintf(out, cap, "GEMM bound (%s, %s), size %d: failed: %s",
                 dbx_precision_name(rp->o->precision), rp->gemm_lib, sb->size,
                 sb->err[0] ? sb->err : sb->b.err);
        return;
    }
    const bound_result *b = &sb->b;
    double epoch = b->seconds * (double)rp->d->nsamples / (double)b->samples;
    snprintf(out, cap,
             "GEMM bound (%s, %s), size %d: %.2f s/epoch, %.1f sents/s (%" PRId64 " GEMM calls, "
             "%d distinct term shapes, %.1f GFLOP/epoch, %.2f GFLOP/s; model GEMM FLOPs %.1f "
             "GFLOP)",
             dbx_precision_name(rp->o->precision), rp->gemm_lib, sb->size, epoch, (double)b->samples / b->seconds, b->calls, b->distinct,
             b->flops * 1e-9 * (double)rp->d->nsamples / (double)b->samples,
             b->flops / b->seconds * 1e-9, b->model_flops * 1e-9);
}

static void print_table(const report *rp, FILE *f)
{
    static char cells[MAX_ROWS][NCOLS][160];
    int width[NCOLS];
    for (int j = 0; j < NCOLS; j++) width[j] = (int)strlen(col_names[j]);
    for (int i = 0; i < rp->nrows; i++) {
        row_cells(rp, &rp->rows[i], cells[i]);
        for (int j = 0; j < NCOLS; j++)
            if ((int)strlen(cells[i][j]) > width[j]) width[j] = (int)strlen(cells[i][j]);
    }
    /* text columns left-aligned, numbers right-aligned; the last column is not padded */
    width[NCOLS - 1] = 0;
    for (int j = 0; j < NCOLS; j++)
        fprintf(f, "%-*s%s", width[j], col_names[j], j + 1 < NCOLS ? "  " : "\n");
    for (int j = 0; j < NCOLS; j++) {
        int dashes = j + 1 < NCOLS ? width[j] : (int)strlen(col_names[j]);
        for (int k = 0; k < dashes; k++) fputc('-', f);
        fputs(j + 1 < NCOLS ? "  " : "\n", f);
    }
    for (int i = 0; i < rp->nrows; i++)
        for (int j = 0; j < NCOLS; j++)
            fprintf(f, j < NTEXT || j == NCOLS - 1 ? "%-*s%s" : "%*s%s", width[j], cells[i][j],
                    j + 1 < NCOLS ? "  " : "\n");
    char line[512];
    for (int i = 0; i < rp->nbounds; i++)
        if (rp->bounds[i].have) {
            bound_line(rp, &rp->bounds[i], line, sizeof line);
            fprintf(f, "%s\n", line);
        }
}

static void write_md(FILE *f, const void *arg)
{
    const report *rp = arg;
    fprintf(f, "## %s: dbx vs DyNet, one epoch, one CPU core\n\n", rp->model_name);
    fprintf(f, "- date: %s, commit: %s\n", rp->date, rp->commit[0] ? rp->commit : "n/a");
    fprintf(f, "- CPU: %s (%d CPU(s) allowed)\n", rp->cpu, rp->cpus_allowed);
    fprintf(f, "- BLAS: %s\n", rp->blas);
    fprintf(f, "- sgemm peak (1024^3, best of 10): %.1f GFLOP/s\n", rp->peak_gflops);
    fprintf(f, "- data: %s (%d samples, %d steps of batch %d), Adam lr 0.001, fuse %s, "
               "precision %s, GEMM library %s\n\n",
            rp->d->source, rp->d->nsamples, (rp->d->nsamples + rp->o->batch - 1) / rp->o->batch,
            rp->o->batch, rp->o->fuse ? "on" : "off", dbx_precision_name(rp->o->precision),
            rp->gemm_lib);
    static char cells[MAX_ROWS][NCOLS][160];
    fputs("|", f);
    for (int j = 0; j < NCOLS; j++) fprintf(f, " %s |", col_names[j]);
    fputs("\n|", f);
    for (int j = 0; j < NCOLS; j++) fputs(j < NTEXT || j == NCOLS - 1 ? "---|" : "---:|", f);
    fputs("\n", f);
    for (int i = 0; i < rp->nrows; i++) {
        row_cells(rp, &rp->rows[i], cells[i]);
        fputs("|", f);
        for (int j = 0; j < NCOLS; j++) fprintf(f, " %s |", cells[i][j]);
        fputs("\n", f);
    }
    char line[512];
    int any = 0;
    for (int i = 0; i < rp->nbounds; i++)
        if (rp->bounds[i].have) {
            if (!any) fputs("\n", f);
            any = 1;
            bound_line(rp, &rp->bounds[i], line, sizeof line);
            fprintf(f, "- %s\n", line);
        }
    fputs("\nvs DyNet: dbx sents/s divided by DyNet's (in parentheses) for the same size and "
          "scheduler. % GEMM bound at this precision: dbx sents/s as a share of the bound's, "
          "whose GEMMs are timed through the CPU backend's affine kernels with the row's GEMM "
          "library and precision. GFLOP/s: the "
          "model's GEMM FLOPs (forward + backward, no dedup) per second of the epoch.\n", f);
}

static void json_num(FILE *f, const char *key, double x, int last)
{
    fprintf(f, "\"%s\": ", key);
    if (isnan(x) || isinf(x)) fputs("null", f);
    else fprintf(f, "%.6g", x);
    fputs(last ? "" : ", ", f);
}

static void write_json(FILE *f, const void *arg)
{
    const report *rp = arg;
    const bench_opts *o = rp->o;
    fprintf(f, "{\n  \"benchmark\": ");
    json_str(f, rp->model_name);
    fprintf(f, ",\n  \"date\": ");
    json_str(f, rp->date);
    fprintf(f, ",\n  \"git_commit\": ");
    if (rp->commit[0]) json_str(f, rp->commit);
    else fputs("null", f);
    fprintf(f, ",\n  \"machine\": {\"cpu\": ");
    json_str(f, rp->cpu);
    fprintf(f, ", \"cpus_allowed\": %d, \"blas\": ", rp->cpus_allowed);
    json_str(f, rp->blas);
    fprintf(f, ", ");
    json_num(f, "sgemm_peak_gflops", rp->peak_gflops, 1);
    fprintf(f, "},\n  \"settings\": {\"data\": ");
    json_str(f, rp->d->source);
    char meta[512];
    dbx_meta_describe(rp->d->meta, meta, sizeof meta);
    fprintf(f, ", \"samples\": %d, \"units\": %" PRId64 ", \"meta\": \"%s\", "
               "\"batch\": %d, \"steps_per_epoch\": %d, \"optimizer\": \"adam\", \"lr\": 0.001, "
               "\"max_seconds\": %g, \"fuse\": %s, \"precision\": \"%s\", \"gemm_library\": "
               "\"%s\", \"seed\": %" PRIu64 "},\n",
            rp->d->nsamples, rp->d->units, meta, o->batch,
            (rp->d->nsamples + o->batch - 1) / o->batch, o->max_seconds,
            o->fuse ? "true" : "false", dbx_precision_name(o->precision), rp->gemm_lib,
            o->seed);
    fprintf(f, "  \"bounds\": [");
    int first = 1;
    for (int i = 0; i < rp->nbounds; i++) {
        const size_bound *sb = &rp->bounds[i];
        if (!sb->have) continue;
        const bound_result *b = &sb->b;
        fprintf(f, "%s\n    {\"size\": %d, \"ok\": %s, ", first ? "" : ",", sb->size,
                b->ok && !sb->err[0] ? "true" : "false");
        first = 0;
        if (b->ok && !sb->err[0]) {
            double scale = (double)rp->d->nsamples / (double)b->samples;
            fprintf(f, "\"scheduler\": \"depth\", \"dedup\": false, \"precision\": \"%s\", "
                       "\"gemm_library\": \"%s\", \"timed_through\": \"cpu backend affine "
                       "kernels\", \"samples\": %" PRId64 ", \"gemm_calls\": %" PRId64
                       ", \"distinct_term_shapes\": %d, ",
                    dbx_precision_name(o->precision), rp->gemm_lib, b->samples, b->calls,
                    b->distinct);
            json_num(f, "gemm_flops", b->flops, 0);
            json_num(f, "model_gemm_flops", b->model_flops, 0);
            json_num(f, "seconds", b->seconds, 0);
            json_num(f, "seconds_per_epoch", b->seconds * scale, 0);
            json_num(f, "sents_per_s", (double)b->samples / b->seconds, 0);
            json_num(f, "gflops", b->flops / b->seconds * 1e-9, 0);
            json_num(f, "t_collect", b->t_collect, 0);
            json_num(f, "t_time_shapes", b->t_time, 1);
        } else {
            fprintf(f, "\"error\": ");
            json_str(f, sb->err[0] ? sb->err : b->err);
        }
        fputs("}", f);
    }
    fprintf(f, "\n  ],\n  \"results\": [");
    for (int i = 0; i < rp->nrows; i++) {
        const row *w = &rp->rows[i];
        const run_result *r = &w->r;
        derived v = derive(rp, w);
        char note[512];
        row_note(rp, w, note, sizeof note);
        const char *status = !v.ok ? "failed" : r->steps < r->steps_total ? "partial" : "complete";
        fprintf(f, "%s\n    {\"size\": %d, \"embed\": %d, \"hidden\": %d, \"scheduler\": \"%s\", "
                   "\"dedup\": %s, \"precision\": \"%s\", \"gemm_library\": \"%s\", "
                   "\"status\": \"%s\", \"note\": ",
                i ? "," : "", w->c.size, w->c.size, w->c.size, w->c.sched,
                w->c.dedup ? "true" : "false", dbx_precision_name(o->precision), rp->gemm_lib,
                status);
        json_str(f, note);
        fprintf(f, ", \"steps\": %d, \"steps_total\": %d, \"samples\": %" PRId64
                   ", \"loss_terms\": %" PRId64 ", ",
                r->steps, r->steps_total, r->samples, r->labelled);
        json_num(f, "seconds", v.ok ? r->t_loop : NAN, 0);
        json_num(f, "sents_per_s", v.sps, 0);
        json_num(f, "epoch_seconds_est", v.epoch_s, 0);
        json_num(f, "dynet_sents_per_s", v.dynet > 0 ? v.dynet : NAN, 0);
        json_num(f, "vs_dynet", v.vs_dynet, 0);
        json_num(f, "pct_of_gemm_bound", v.pct_bound, 0); /* at the row's precision */
        json_num(f, "analysis_pct", v.analysis, 0);
        fprintf(f, "\n     ");
        json_num(f, "t_build", r->t_build, 0);
        json_num(f, "t_sched", r->t_sched, 0);
        json_num(f, "t_plan", r->t_plan, 0);
        json_num(f, "t_forward", r->t_forward, 0);
        json_num(f, "t_backward", r->t_backward, 0);
        json_num(f, "t_update", r->t_update, 0);
        fprintf(f, "\n     \"batches\": %" PRId64 ", \"nodes\": %" PRId64
                   ", \"requested_nodes\": %" PRId64 ", ",
                r->batches, r->nodes, r->requested);
        json_num(f, "batches_per_graph", v.batches_per_graph, 0);
        json_num(f, "mean_batch_width", v.width, 0);
        json_num(f, "gathered_mb_per_step", v.gathered_mb, 0);
        fprintf(f, "\n     ");
        json_num(f, "gemm_flops_executed", r->gemm_flops_exec, 0);
        json_num(f, "gemm_flops_model", r->gemm_flops_model, 0);
        json_num(f, "gflops", v.gflops, 0);
        json_num(f, "pct_of_peak", v.pct_peak, 0);
        json_num(f, "peak_rss_mb", v.ok ? r->peak_rss_mb : NAN, 0);
        json_num(f, "arena_mb_max", v.ok ? r->arena_mb_max : NAN, 0);
        json_num(f, "first_loss", r->first_loss, 0);
        json_num(f, "mean_loss", r->mean_loss, 1);
        fputs("}", f);
    }
    fprintf(f, "\n  ]\n}\n");
}

static int mkdir_p(const char *dir)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static void save_reports(const report *rp, const char *dir)
{
    const char *base = info_of(rp->o->type) ? info_of(rp->o->type)->base : rp->o->type->name;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.json", dir, base);
    write_atomic("bench", path, write_json, rp);
    snprintf(path, sizeof path, "%s/%s.md", dir, base);
    write_atomic("bench", path, write_md, rp);
}

/* ---- machine info ---------------------------------------------------------------------- */
static void machine_info(report *rp)
{
    snprintf(rp->cpu, sizeof rp->cpu, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (!p) continue;
                for (p++; *p == ' ' || *p == '\t'; p++) {}
                p[strcspn(p, "\n")] = '\0';
                snprintf(rp->cpu, sizeof rp->cpu, "%s", p);
                break;
            }
        fclose(f);
    }
    cpu_set_t set;
    rp->cpus_allowed = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(rp->date, sizeof rp->date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    char root[900], cmd[1100];
    source_root(root, sizeof root);
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short HEAD 2>/dev/null", root);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fgets(rp->commit, sizeof rp->commit, p)) rp->commit[strcspn(rp->commit, "\n")] = '\0';
        else rp->commit[0] = '\0';
        pclose(p);
    }
}

/* ---- command line ---------------------------------------------------------------------- */
static void usage(FILE *f, const char *argv0)
{
    char choices[256];
    fprintf(f,
            "usage: %s [options]\n"
            "Trains one epoch per configuration (size x scheduler x dedup), each in its own\n"
            "process, and reports throughput against DyNet and a GEMM-only bound.\n"
            "  --model M            a registered model: %s (default %s)\n"
            "  --data PATH          training file (default, relative to the source root:\n"
            "                       ../shared/data/sst/train.txt for treelstm,\n"
            "                       ../shared/data/tags/dev.txt for bilstm-tagger,\n"
            "                       ../shared/data/lattice/train.txt for lattice-lstm)\n"
            "  --synthetic N        N of the model's synthetic samples instead\n"
            "  --sizes A,B,...      embed = hidden (= mlp) sizes (default 128,256,512 for\n"
            "                       treelstm, 256 for the others)\n"
            "  --schedulers L       comma list of registered schedulers: %s (default\n"
            "                       none,depth,agenda)\n"
            "  --dedup on|off|both  node deduplication (default on); --no-dedup = off\n"
            "  --batch N            minibatch size (default 64)\n"
            "  --max-seconds S      per-configuration time limit (default 240): stop early\n"
            "                       and extrapolate from the steps done\n"
            "  --no-bound           skip the GEMM bound\n"
            "  --no-fuse            do not fuse elementwise chains\n"
            "  --precision P        fp32 | bf16: the affine GEMMs' arithmetic (default fp32;\n"
            "                       bf16: oneDNN, bfloat16 operands, fp32 accumulation)\n"
            "  --seed N             parameter init and sample order seed (default 1)\n"
            "  --out DIR            results directory (default <source root>/bench/results)\n",
            argv0, dbx_model_type_names(), BENCH_DEFAULT_MODEL, dbx_sched_choices(choices, sizeof choices));
}

static int parse_int_list(const char *s, int *out, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 65536 || n == max) return -1;
        out[n++] = (int)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    if (dbx_model_type_find(BENCH_DEFAULT_MODEL, &o->type)) return -1;
    o->batch = 64;
    o->max_seconds = 240;
    o->bound = 1;
    o->fuse = 1;
    o->seed = 1;
    o->dedups[0] = 1;
    o->ndedups = 1;
    o->scheds[0] = "none";
    o->scheds[1] = "depth";
    o->scheds[2] = "agenda";
    o->nscheds = 3;
    int sizes_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout, argv[0]);
            exit(0);
        } else if (!strcmp(a, "--no-dedup")) {
            o->dedups[0] = 0;
            o->ndedups = 1;
            takes = 0;
        } else if (!strcmp(a, "--no-bound")) {
            o->bound = 0;
            takes = 0;
        } else if (!strcmp(a, "--no-fuse")) {
            o->fuse = 0;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "bench: %s needs a value (see --help)\n", a);
            return -1;
        } else if (!strcmp(a, "--precision")) {
            if (dbx_precision_parse(v, &o->precision)) {
                fprintf(stderr, "bench: %s\n", dbx_last_error());
                return -1;
            }
        } else if (!strcmp(a, "--model")) {
            if (dbx_model_type_find(v, &o->type)) {
                fprintf(stderr, "bench: %s\n", dbx_last_error());
                return -1;
            }
        } else if (!strcmp(a, "--data")) {
            o->data = v;
        } else if (!strcmp(a, "--synthetic")) {
            o->synthetic = atoi(v);
            if (o->synthetic <= 0) {
                fprintf(stderr, "bench: --synthetic needs a positive count\n");
                return -1;
            }
        } else if (!strcmp(a, "--sizes")) {
            o->nsizes = parse_int_list(v, o->sizes, MAX_SIZES);
            if (o->nsizes <= 0) {
                fprintf(stderr, "bench: --sizes: expected up to %d positive integers, "
                                "comma-separated\n", MAX_SIZES);
                return -1;
            }
            sizes_given = 1;
        } else if (!strcmp(a, "--schedulers")) {
            o->nscheds = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                const dbx_sched_type *t;
                char choices[256];
                if (dbx_sched_find(tok, &t) != DBX_OK || o->nscheds == MAX_SCHEDS) {
                    fprintf(stderr, "bench: --schedulers: unknown '%s' (%s; at most %d)\n", tok,
                            dbx_sched_choices(choices, sizeof choices), MAX_SCHEDS);
                    return -1;
                }
                o->scheds[o->nscheds++] = t->name;
            }
            if (!o->nscheds) {
                fprintf(stderr, "bench: --schedulers: empty list\n");
                return -1;
            }
        } else if (!strcmp(a, "--dedup")) {
            if (!strcmp(v, "on")) o->dedups[0] = 1, o->ndedups = 1;
            else if (!strcmp(v, "off")) o->dedups[0] = 0, o->ndedups = 1;
            else if (!strcmp(v, "both")) o->dedups[0] = 1, o->dedups[1] = 0, o->ndedups = 2;
            else {
                fprintf(stderr, "bench: --dedup: expected on, off or both\n");
                return -1;
            }
        } else if (!strcmp(a, "--batch")) {
            o->batch = atoi(v);
            if (o->batch <= 0) {
                fprintf(stderr, "bench: --batch needs a positive count\n");
                return -1;
            }
        } else if (!strcmp(a, "--max-seconds")) {
            char *end;
            o->max_seconds = strtod(v, &end);
            if (*end || !(o->max_seconds > 0)) {
                fprintf(stderr, "bench: --max-seconds needs a positive number\n");
                return -1;
            }
        } else if (!strcmp(a, "--seed")) {
            o->seed = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--out")) {
            o->out_dir = v;
        } else {
            fprintf(stderr, "bench: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        i += takes;
    }
    if (!sizes_given) {
        const model_info *mi = info_of(o->type);
        o->nsizes = 0;
        for (int k = 0; k < 3 && (!mi || mi->sizes[k]); k++)
            o->sizes[o->nsizes++] = mi ? mi->sizes[k] : 128;
        if (!mi) o->nsizes = 1;
    }
    if (o->nsizes * o->nscheds * o->ndedups > MAX_ROWS) {
        fprintf(stderr, "bench: too many configurations\n");
        return -1;
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------------------- */
int main(int argc, char **argv)
{
    bench_opts o;
    if (parse_args(argc, argv, &o)) return 2;
    bench_data d;
    if (data_load(&o, &d)) return 1;
    if (dbx_blas_init() != DBX_OK) {
        fprintf(stderr, "bench: %s\n", dbx_last_error());
        return 1;
    }
    static report rp;
    rp.o = &o;
    rp.d = &d;
    rp.model_name = o.type->name;
    machine_info(&rp);
    snprintf(rp.blas, sizeof rp.blas, "%s", dbx_blas_describe());
    char root[900], outdir[1024];
    source_root(root, sizeof root);
    if (o.out_dir) snprintf(outdir, sizeof outdir, "%s", o.out_dir);
    else snprintf(outdir, sizeof outdir, "%s/bench/results", root);
    if (mkdir_p(outdir) != 0) {
        fprintf(stderr, "bench: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    char meta[512];
    dbx_meta_describe(d.meta, meta, sizeof meta);
    fprintf(stderr, "bench: %s, data %s: %d %s, %" PRId64 " %s, %s\n", rp.model_name, d.source,
            d.nsamples, o.type->sample_noun, d.units, o.type->unit_noun, meta);
    fprintf(stderr, "bench: CPU %s, %d CPU(s) allowed\n", rp.cpu, rp.cpus_allowed);
    fprintf(stderr, "bench: BLAS %s\n", rp.blas);
    rp.peak_gflops = dbx_blas_measure_gflops(1024, 10);
    /* bf16 runs every affine GEMM in oneDNN (the narrow ones on OpenBLAS, rounded) */
    rp.gemm_lib = o.precision == DBX_PRECISION_BF16 || dbx__cpu_gemm == DBX_GEMM_ONEDNN
                      ? "oneDNN" : "OpenBLAS";
    fprintf(stderr, "bench: sgemm peak %.1f GFLOP/s (1024^3, best of 10)\n", rp.peak_gflops);

    for (int si = 0; si < o.nsizes; si++) {
        int size = o.sizes[si];
        if (o.bound) {
            size_bound *sb = &rp.bounds[rp.nbounds++];
            sb->size = size;
            sb->have = 1;
            fprintf(stderr, "bench: size %d: GEMM bound (depth scheduler, dedup off)\n", size);
            run_in_child(bound_entry, &o, &d, &size, &sb->b, sizeof sb->b, sb->err,
                         sizeof sb->err);
            char line[512];
            bound_line(&rp, sb, line, sizeof line);
            fprintf(stderr, "bench:   %s\n", line);
        }
        for (int ci = 0; ci < o.nscheds; ci++)
            for (int di = 0; di < o.ndedups; di++) {
                row *w = &rp.rows[rp.nrows++];
                w->c = (config){size, o.scheds[ci], o.dedups[di]};
                fprintf(stderr, "bench: size %d, scheduler %s, dedup %s: training one epoch\n",
                        size, w->c.sched, w->c.dedup ? "on" : "off");
                run_in_child(train_entry, &o, &d, &w->c, &w->r, sizeof w->r, w->err,
                             sizeof w->err);
                derived v = derive(&rp, w);
                char note[512];
                row_note(&rp, w, note, sizeof note);
                if (v.ok)
                    fprintf(stderr, "bench:   %.1f sents/s, %.1f s, loss %.3f -> %.3f, "
                                    "peak RSS %.0f MB%s%s\n",
                            v.sps, w->r.t_loop, w->r.first_loss, w->r.mean_loss,
                            w->r.peak_rss_mb, note[0] ? ", " : "", note);
                else
                    fprintf(stderr, "bench:   %s\n", note);
                save_reports(&rp, outdir);
            }
    }
    save_reports(&rp, outdir);
    printf("%s: dbx vs DyNet, one epoch of %s, batch %d, one CPU core\n", rp.model_name,
           d.source, o.batch);
    printf("CPU: %s; BLAS: %s; sgemm peak %.1f GFLOP/s\n\n", rp.cpu, rp.blas, rp.peak_gflops);
    print_table(&rp, stdout);
    printf("\nwrote %s/%s.json and .md\n", outdir,
           info_of(o.type) ? info_of(o.type)->base : o.type->name);
    data_free(&d);
    return 0;
}
