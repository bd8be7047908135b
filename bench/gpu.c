/* bench_gpu: Tree-LSTM training throughput on a GPU (or, for comparison and for testing
 * this program, on the CPU backend).
 *
 * Trains SST train (or a generated SST-like treebank when the file is absent, said so in the
 * report) with Adam for every requested size x batch x scheduler, in one process, one
 * configuration after the other. Per configuration it reports the median over measured
 * steps (the first --warmup steps, which size the arenas and the staging ring, are not
 * measured) of:
 *   - sentences/s (batch / wall time of a step: build + forward + backward + update);
 *   - device operations per step: kernel launches (cuBLAS calls and memsets included) and
 *     host<->device copies, counted by the backend;
 *   - host analysis time (graph building, scheduling, memory planning) per step;
 *   - GPU stream time per step: from a marker enqueued before the step's first operation to
 *     one after its last (the stream is busy from the previous step's work until the first
 *     marker, so on a GPU-bound run this is the GPU time of the step; on a host-bound run it
 *     includes gaps where the GPU waited for launches).
 * Writes <out>.json and <out>.md atomically (default bench/results/gpu) with the GPU model
 * reported by nvidia-smi. A measurement program, never a pass/fail test: see bench/README.md.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/model.h"
#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/models.h"
#include "dbx/sched.h"
#include "kernels/backend.h"
#include "bench/bench_util.h"

enum { MAX_LIST = 8, PROGRESS_EVERY_S = 5 };

typedef struct opts {
    const char *data, *device, *out;
    int sizes[MAX_LIST], nsizes;
    int batches[MAX_LIST], nbatches;
    const char *scheds[8];      /* registered scheduler names (dbx/sched.h) */
    int nscheds;
    int gpu, warmup, max_steps, synthetic;
    double max_seconds;
    uint64_t seed;
} opts;

typedef struct result {
    int size, batch, ok;
    const char *sched;
    char err[256];
    int steps;                                       /* measured steps */
    double sents_per_s;                              /* batch / median step wall time */
    double wall_ms, analysis_ms, enqueue_ms, gpu_ms; /* medians per step */
    double kernels, copies;                          /* medians per step */
    double first_loss, last_loss;                    /* per labelled node */
    double arena_mb;
} result;

/* ---- data ---------------------------------------------------------------------------- */
typedef struct data {
    dbx_vocab *words;
    dbx_treebank *tb;
    int32_t *order; /* shuffled tree order */
    char source[256];
} data;

static int data_load(const opts *o, data *d)
{
    memset(d, 0, sizeof *d);
    if (dbx_vocab_new(&d->words)) {
        fprintf(stderr, "bench_gpu: %s\n", dbx_last_error());
        return 1;
    }
    const char *path = o->data ? o->data : "../shared/data/sst/train.txt";
    dbx_status s;
    if (!o->synthetic && access(path, R_OK) == 0) {
        s = dbx_treebank_read(path, NULL, d->words, &d->tb);
        snprintf(d->source, sizeof d->source, "%s", path);
    } else if (o->data && !o->synthetic) {
        fprintf(stderr, "bench_gpu: %s: %s\n", o->data, strerror(errno));
        return 1;
    } else {
        /* as many trees as SST train has */
        const int n = o->synthetic > 0 ? o->synthetic : 8544;
        dbx_gen_opts go = {.ntrees = n, .vocab = 16000, .seed = 1};
        char *text = NULL;
        size_t len = 0;
        s = dbx_treebank_generate(&go, &text, &len);
        if (!s) s = dbx_treebank_parse("generated", text, len, NULL, d->words, &d->tb);
        free(text);
        snprintf(d->source, sizeof d->source,
                 "generated SST-like treebank (%d trees; %s not found)", n, path);
        if (o->synthetic)
            snprintf(d->source, sizeof d->source, "generated SST-like treebank (%d trees)", n);
    }
    if (s) {
        fprintf(stderr, "bench_gpu: %s\n", dbx_last_error());
        return 1;
    }
    d->order = malloc((size_t)d->tb->ntrees * sizeof *d->order);
    if (!d->order) {
        fprintf(stderr, "bench_gpu: out of memory\n");
        return 1;
    }
    for (int32_t i = 0; i < d->tb->ntrees; i++)
        d->order[i] = i;
    uint64_t st = o->seed ^ 0x243f6a8885a308d3ull;
    for (int32_t i = d->tb->ntrees - 1; i > 0; i--) {
        int32_t j = (int32_t)(dbx__splitmix64(&st) % (uint64_t)(i + 1)), t = d->order[i];
        d->order[i] = d->order[j];
        d->order[j] = t;
    }
    return 0;
}

static void data_free(data *d)
{
    free(d->order);
    dbx_treebank_free(d->tb);
    dbx_vocab_free(d->words);
}

/* ---- one configuration ---------------------------------------------------------------- */
static void counters(const dbx_model *m, int64_t *k, int64_t *c)
{
    *k = *c = 0;
    if (m->be->ops->counters) m->be->ops->counters(m->be, k, c);
}

/* Appends the stream time (ms) between step's two markers (slots 2 (step % 2) and the next:
   two steps' markers are in flight at once) to gpu[*n]. */
static dbx_status gpu_time(const dbx_model *m, int step, double *gpu, int *n)
{
    double sec = 0;
    const int a = 2 * (step % 2);
    const dbx_status s = m->be->ops->elapsed(m->be, a, a + 1, &sec);
    if (s == DBX_OK) gpu[(*n)++] = 1e3 * sec;
    return s;
}

static void fail(result *r, const char *what)
{
    snprintf(r->err, sizeof r->err, "%s: %s", what, dbx_last_error());
}

static void run_config(const opts *o, const data *d, result *r)
{
    dbx_model *m = NULL;
    dbx_treelstm *tl = NULL;
    dbx_graph *g = NULL;
    dbx_exec *ex = NULL;
    const int ntrees = d->tb->ntrees, B = r->batch;
    int steps_total = (ntrees + B - 1) / B;
    if (o->max_steps > 0 && steps_total > o->warmup + o->max_steps)
        steps_total = o->warmup + o->max_steps;
    double *wall = calloc((size_t)steps_total, sizeof *wall);
    double *ana = calloc((size_t)steps_total, sizeof *ana);
    double *enq = calloc((size_t)steps_total, sizeof *enq);
    double *gpu = calloc((size_t)steps_total, sizeof *gpu);
    double *kern = calloc((size_t)steps_total, sizeof *kern);
    double *copy = calloc((size_t)steps_total, sizeof *copy);
    int ngpu = 0;
    if (!wall || !ana || !enq || !gpu || !kern || !copy) {
        snprintf(r->err, sizeof r->err, "out of memory");
        goto out;
    }
    dbx_treelstm_opts to = {
        .vocab = dbx_vocab_size(d->words), .embed = r->size, .hidden = r->size, .labels = 5};
    if (dbx_model_new(&m) || dbx_treelstm_new(m, &to, &tl)) {
        fail(r, "model");
        goto out;
    }
    if (dbx_model_set_device(m, o->device, o->gpu)) {
        fail(r, "device");
        goto out;
    }
    if (dbx_model_init(m, o->seed)) {
        fail(r, "model");
        goto out;
    }
    dbx_exec_opts eo = {.scheduler = r->sched, .device = o->device, .device_index = o->gpu,
                        .fuse = 1};
    if (dbx_graph_new(m, 1, &g) || dbx_exec_new(&eo, &ex)) {
        fail(r, "setup");
        goto out;
    }
    const dbx_backend_ops *ops = m->be->ops;
    const int timed = ops->mark && ops->elapsed;
    dbx_optim opt = dbx_optim_default(DBX_OPT_ADAM);
    opt.lr = 0.001f;
    r->first_loss = r->last_loss = NAN;
    const double t0 = now_s();
    double t_report = t0;
    int measured = 0, pending = -1; /* step whose GPU time is still to be read */
    for (int step = 0; step < steps_total; step++) {
        const int lo = step * B, hi = lo + B < ntrees ? lo + B : ntrees;
        int64_t k0, c0, k1, c1, labelled = 0;
        counters(m, &k0, &c0);
        const double ts = now_s();
        dbx_graph_clear(g);
        for (int i = lo; i < hi; i++) {
            const dbx_tree *t = &d->tb->trees[d->order[i]];
            if (dbx_treelstm_build(tl, g, t, NULL)) {
                fail(r, "build");
                goto out;
            }
            labelled += t->n;
        }
        const double tb = now_s();
        const int slot = 2 * (step % 2);
        if (timed && ops->mark(m->be, slot)) {
            fail(r, "timing");
            goto out;
        }
        double loss = 0;
        if (dbx_exec_forward(ex, g, &loss) || dbx_exec_backward(ex, g, 1.0f)) {
            fail(r, "execute");
            goto out;
        }
        opt.grad_scale = 1.0f / (float)(hi - lo);
        if (dbx_model_update(m, &opt)) {
            fail(r, "update");
            goto out;
        }
        if (timed && ops->mark(m->be, slot + 1)) {
            fail(r, "timing");
            goto out;
        }
        const double te = now_s();
        counters(m, &k1, &c1);
        const dbx_exec_stats *st = dbx_exec_last_stats(ex);
        /* the previous step's markers have been passed: the forward pass waited for the
           losses, which come after them on the stream */
        if (pending >= 0 && gpu_time(m, pending, gpu, &ngpu)) {
            fail(r, "timing");
            goto out;
        }
        /* measured: after the warm-up, full batches only (like the wall times) */
        pending = timed && step >= o->warmup && hi - lo == B ? step : -1;
        if (step == 0) r->first_loss = loss / (double)labelled;
        r->last_loss = loss / (double)labelled;
        if ((double)st->arena_bytes / 1048576.0 > r->arena_mb)
            r->arena_mb = (double)st->arena_bytes / 1048576.0;
        if (step >= o->warmup && hi - lo == B) { /* full batches only */
            wall[measured] = 1e3 * (te - ts);
            ana[measured] = 1e3 * ((tb - ts) + st->t_sched + st->t_plan);
            enq[measured] = 1e3 * (te - tb - st->t_sched - st->t_plan);
            kern[measured] = (double)(k1 - k0);
            copy[measured] = (double)(c1 - c0);
            measured++;
        }
        const double t = now_s();
        if (t - t_report >= PROGRESS_EVERY_S) {
            t_report = t;
            fprintf(stderr, "bench_gpu:   step %d/%d, %.0f s\n", step + 1, steps_total, t - t0);
        }
        if (t - t0 > o->max_seconds && measured >= 3) break;
    }
    if (pending >= 0 && gpu_time(m, pending, gpu, &ngpu)) {
        fail(r, "timing");
        goto out;
    }
    if (ops->sync(m->be)) {
        fail(r, "sync");
        goto out;
    }
    if (!measured) {
        snprintf(r->err, sizeof r->err, "no full batch after %d warm-up steps (%d trees)",
                 o->warmup, ntrees);
        goto out;
    }
    r->steps = measured;
    r->wall_ms = median(wall, measured);
    r->analysis_ms = median(ana, measured);
    r->enqueue_ms = median(enq, measured);
    r->gpu_ms = ngpu ? median(gpu, ngpu) : NAN;
    r->kernels = median(kern, measured);
    r->copies = median(copy, measured);
    r->sents_per_s = (double)B / (r->wall_ms * 1e-3);
    r->ok = 1;
out:
    free(wall);
    free(ana);
    free(enq);
    free(gpu);
    free(kern);
    free(copy);
    dbx_exec_free(ex);
    dbx_graph_free(g);
    dbx_treelstm_free(tl);
    dbx_model_free(m);
}

/* ---- reports --------------------------------------------------------------------------- */
static void gpu_model(const opts *o, char *out, size_t cap)
{
    snprintf(out, cap, "%s", strcmp(o->device, "cuda") ? "none (CPU backend)" : "unknown");
    if (strcmp(o->device, "cuda")) return;
    char cmd[160];
    snprintf(cmd, sizeof cmd,
             "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader "
             "-i %d 2>/dev/null",
             o->gpu);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[256];
    if (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) snprintf(out, cap, "%s", line);
    }
    pclose(p);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

typedef struct report {
    const opts *o;
    const data *d;
    const result *r;
    int n;
    char gpu[256];
} report;

static void write_json(FILE *f, const void *arg)
{
    const report *rp = arg;
    fprintf(f, "{\n  \"benchmark\": \"bench_gpu\",\n  \"model\": \"treelstm\",\n  \"device\": ");
    json_str(f, rp->o->device);
    fprintf(f, ",\n  \"gpu\": ");
    json_str(f, rp->gpu);
    fprintf(f, ",\n  \"data\": ");
    json_str(f, rp->d->source);
    fprintf(f, ",\n  \"trees\": %d,\n  \"warmup_steps\": %d,\n  \"results\": [\n",
            rp->d->tb->ntrees, rp->o->warmup);
    for (int i = 0; i < rp->n; i++) {
        const result *r = &rp->r[i];
        fprintf(f, "    {\"size\": %d, \"batch\": %d, \"sched\": \"%s\", \"ok\": %s", r->size,
                r->batch, r->sched, r->ok ? "true" : "false");
        if (!r->ok) {
            fprintf(f, ", \"error\": ");
            json_str(f, r->err);
        } else {
            const char *k[] = {"sents_per_s", "wall_ms", "analysis_ms", "enqueue_ms", "gpu_ms",
                               "kernels",     "copies",  "first_loss",  "last_loss",  "arena_mb"};
            const double v[] = {r->sents_per_s, r->wall_ms, r->analysis_ms, r->enqueue_ms,
                                r->gpu_ms,      r->kernels, r->copies,      r->first_loss,
                                r->last_loss,   r->arena_mb};
            fprintf(f, ", \"steps\": %d", r->steps);
            for (size_t j = 0; j < sizeof v / sizeof *v; j++) {
                fprintf(f, ", \"%s\": ", k[j]);
                json_num(f, v[j]);
            }
        }
        fprintf(f, "}%s\n", i + 1 < rp->n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

static void table(FILE *f, const report *rp, int markdown)
{
    const char *hdr[] = {"size",        "batch",       "sched",  "sents/s", "launches/step",
                         "copies/step", "analysis ms", "GPU ms", "step ms", "loss first->last"};
    const int nh = (int)(sizeof hdr / sizeof *hdr);
    if (markdown) {
        for (int i = 0; i < nh; i++)
            fprintf(f, "| %s ", hdr[i]);
        fprintf(f, "|\n");
        for (int i = 0; i < nh; i++)
            fprintf(f, "|%s", i < 3 ? "---" : "--:");
        fprintf(f, "|\n");
    } else {
        fprintf(f, "%5s %5s %6s %9s %13s %11s %11s %8s %8s  %s\n", hdr[0], hdr[1], hdr[2], hdr[3],
                hdr[4], hdr[5], hdr[6], hdr[7], hdr[8], hdr[9]);
    }
    for (int i = 0; i < rp->n; i++) {
        const result *r = &rp->r[i];
        if (!r->ok) {
            fprintf(f, markdown ? "| %d | %d | %s | failed: %s |\n" : "%5d %5d %6s  failed: %s\n",
                    r->size, r->batch, r->sched, r->err);
            continue;
        }
        /* counters and stream time exist on a device only */
        const int dev = isfinite(r->gpu_ms);
        char kern[32] = "n/a", copies[32] = "n/a", gpu[32] = "n/a";
        if (dev) {
            snprintf(kern, sizeof kern, "%.0f", r->kernels);
            snprintf(copies, sizeof copies, "%.0f", r->copies);
            snprintf(gpu, sizeof gpu, "%.2f", r->gpu_ms);
        }
        fprintf(f,
                markdown ? "| %d | %d | %s | %.0f | %s | %s | %.2f | %s | %.2f | %.3f->%.3f |\n"
                         : "%5d %5d %6s %9.0f %13s %11s %11.2f %8s %8.2f  %.3f->%.3f\n",
                r->size, r->batch, r->sched, r->sents_per_s, kern, copies,
                r->analysis_ms, gpu, r->wall_ms, r->first_loss, r->last_loss);
    }
}

static void write_md(FILE *f, const void *arg)
{
    const report *rp = arg;
    fprintf(f, "# bench_gpu: Tree-LSTM training on %s\n\n", rp->o->device);
    fprintf(f, "- GPU: %s\n- data: %s (%d trees), Adam lr 0.001, one epoch at most, ", rp->gpu,
            rp->d->source, rp->d->tb->ntrees);
    fprintf(f, "medians over full steps after %d warm-up steps\n", rp->o->warmup);
    fprintf(f, "- analysis = graph building + scheduling + memory planning on the host; GPU = "
               "stream time between markers around a step\n\n");
    table(f, rp, 1);
}

/* ---- command line ---------------------------------------------------------------------- */
static void usage(FILE *f)
{
    fprintf(f, "usage: bench_gpu [options]\n"
               "Tree-LSTM training throughput per size x batch x scheduler on one device.\n"
               "  --device D         cuda | cpu (default cuda)\n"
               "  --gpu N            GPU index (default 0)\n"
               "  --data PATH        SST-format trees (default ../shared/data/sst/train.txt; a\n"
               "                     generated SST-like treebank of 8544 trees when absent)\n"
               "  --synthetic N      use N generated trees instead of a file\n"
               "  --sizes LIST       embedding = hidden sizes (default 256,512)\n"
               "  --batches LIST     trees per step (default 64,256)\n"
               "  --scheds LIST      none,depth,agenda (default all three)\n"
               "  --warmup N         unmeasured first steps (default 3)\n"
               "  --max-steps N      measured steps per configuration (default: one epoch)\n"
               "  --max-seconds S    stop a configuration after S seconds (default 60)\n"
               "  --seed N           parameter and shuffle seed (default 1)\n"
               "  --out PREFIX       writes PREFIX.json and PREFIX.md (default bench/results/gpu)\n"
               "  -h, --help         this text\n");
}

static int parse_int(const char *opt, const char *v, int lo, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > 1 << 30) {
        fprintf(stderr, "bench_gpu: %s: expected an integer >= %d, got '%s'\n", opt, lo, v);
        return 1;
    }
    *out = (int)x;
    return 0;
}

static int parse_list(const char *opt, const char *v, int *out, int *n)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_LIST) {
            fprintf(stderr, "bench_gpu: %s: at most %d values\n", opt, MAX_LIST);
            return 1;
        }
        if (parse_int(opt, t, 1, &out[(*n)++])) return 1;
    }
    if (!*n) {
        fprintf(stderr, "bench_gpu: %s: expected a comma-separated list\n", opt);
        return 1;
    }
    return 0;
}

static int parse_scheds(const char *v, opts *o)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", v);
    o->nscheds = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const dbx_sched_type *s;
        if (dbx_sched_find(t, &s) != DBX_OK) {
            char choices[256];
            fprintf(stderr, "bench_gpu: --scheds: expected %s, got '%s'\n",
                    dbx_sched_choices(choices, sizeof choices), t);
            return 1;
        }
        if (o->nscheds == (int)(sizeof o->scheds / sizeof *o->scheds)) {
            fprintf(stderr, "bench_gpu: --scheds: at most %d values\n", o->nscheds);
            return 1;
        }
        o->scheds[o->nscheds++] = s->name;
    }
    if (!o->nscheds) {
        fprintf(stderr, "bench_gpu: --scheds: expected a comma-separated list\n");
        return 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){.device = "cuda",
                .out = "bench/results/gpu",
                .nsizes = 2,
                .sizes = {256, 512},
                .nbatches = 2,
                .batches = {64, 256},
                .nscheds = 3,
                .scheds = {"none", "depth", "agenda"},
                .warmup = 3,
                .max_seconds = 60,
                .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_gpu: %s: %s\n", a,
                    a[0] == '-' ? "expected a value" : "unexpected argument");
            return 1;
        }
        const char *v = argv[++i];
        int x = 0;
        if (!strcmp(a, "--device")) {
            if (strcmp(v, "cuda") && strcmp(v, "cpu")) {
                fprintf(stderr, "bench_gpu: --device: expected cuda or cpu, got '%s'\n", v);
                return 1;
            }
            o->device = v;
        } else if (!strcmp(a, "--gpu")) {
            if (parse_int(a, v, 0, &o->gpu)) return 1;
        } else if (!strcmp(a, "--data")) {
            o->data = v;
        } else if (!strcmp(a, "--synthetic")) {
            if (parse_int(a, v, 1, &o->synthetic)) return 1;
        } else if (!strcmp(a, "--sizes")) {
            if (parse_list(a, v, o->sizes, &o->nsizes)) return 1;
        } else if (!strcmp(a, "--batches")) {
            if (parse_list(a, v, o->batches, &o->nbatches)) return 1;
        } else if (!strcmp(a, "--scheds")) {
            if (parse_scheds(v, o)) return 1;
        } else if (!strcmp(a, "--warmup")) {
            if (parse_int(a, v, 0, &o->warmup)) return 1;
        } else if (!strcmp(a, "--max-steps")) {
            if (parse_int(a, v, 1, &o->max_steps)) return 1;
        } else if (!strcmp(a, "--max-seconds")) {
            if (parse_int(a, v, 1, &x)) return 1;
            o->max_seconds = x;
        } else if (!strcmp(a, "--seed")) {
            if (parse_int(a, v, 0, &x)) return 1;
            o->seed = (uint64_t)x;
        } else if (!strcmp(a, "--out")) {
            o->out = v;
        } else {
            fprintf(stderr, "bench_gpu: unknown option '%s' (see --help)\n", a);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o)) return 2;
    data d;
    if (data_load(&o, &d)) return 1;
    report rp = {.o = &o, .d = &d};
    gpu_model(&o, rp.gpu, sizeof rp.gpu);
    const int total = o.nsizes * o.nbatches * o.nscheds;
    result *res = calloc((size_t)total, sizeof *res);
    if (!res) {
        fprintf(stderr, "bench_gpu: out of memory\n");
        return 1;
    }
    fprintf(stderr, "bench_gpu: device %s (%s), data %s (%d trees), %d configurations\n", o.device,
            rp.gpu, d.source, d.tb->ntrees, total);
    int failed = 0;
    for (int si = 0; si < o.nsizes; si++)
        for (int bi = 0; bi < o.nbatches; bi++)
            for (int ci = 0; ci < o.nscheds; ci++) {
                result *r = &res[rp.n++];
                r->size = o.sizes[si];
                r->batch = o.batches[bi];
                r->sched = o.scheds[ci];
                fprintf(stderr, "bench_gpu: [%d/%d] size %d, batch %d, %s\n", rp.n, total, r->size,
                        r->batch, r->sched);
                run_config(&o, &d, r);
                if (!r->ok) {
                    fprintf(stderr, "bench_gpu:   failed: %s\n", r->err);
                    failed++;
                } else {
                    fprintf(stderr, "bench_gpu:   %.0f sents/s, %.0f launches/step\n",
                            r->sents_per_s, r->kernels);
                }
            }
    rp.r = res;
    printf("bench_gpu: Tree-LSTM on %s (%s); data %s\n", o.device, rp.gpu, d.source);
    table(stdout, &rp, 0);
    char path[1100];
    int bad = 0;
    snprintf(path, sizeof path, "%s.json", o.out);
    bad |= write_atomic("bench_gpu", path, write_json, &rp);
    snprintf(path, sizeof path, "%s.md", o.out);
    bad |= write_atomic("bench_gpu", path, write_md, &rp);
    if (!bad) printf("bench_gpu: wrote %s.json and %s.md\n", o.out, o.out);
    free(res);
    data_free(&d);
    return bad || failed ? 1 : 0;
}
