/* bench_partition: partitioning strategies for a global batch, measured by really running
 * every worker's share of a Tree-LSTM step (forward + backward) on this machine.
 *
 * For global batches of trees (SST train by default) and several worker counts W, each
 * strategy of partition/partition.h (random, round-robin, lpt, similarity) splits the batch;
 * the shares are then executed one after another on one core, each timed from graph build
 * to the end of backward, and the step time of the simulated data-parallel step is the
 * slowest worker's time. The cost model that lpt ignores and similarity uses is calibrated
 * first from measured shares. Prints a table per W and writes bench/results/partition.json
 * and .md atomically (after every W). A measurement program, never a pass/fail test.
 * Single-threaded; owns everything it allocates. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/models.h"
#include "dbx/sched.h"
#include "partition/partition.h"
#include "bench/bench_util.h"

enum { MAX_W = 16, NSTRAT = 4 };

static const dbx__part_strategy strategies[NSTRAT] = {DBX_PART_RANDOM, DBX_PART_ROUND_ROBIN,
                                                     DBX_PART_LPT, DBX_PART_SIMILARITY};

/* ---- options --------------------------------------------------------------------------------- */
typedef struct opts {
    const char *data;      /* NULL: <source root>/../shared/data/sst/train.txt */
    int synthetic;         /* > 0: that many generated trees instead of a file */
    int batch, batches, reps, size;
    int workers[MAX_W], nworkers;
    const char *sched;          /* registered scheduler name (dbx/sched.h) */
    int wall;              /* 1: time shares by wall clock instead of thread CPU time */
    uint64_t seed;
    const char *out_dir;   /* NULL: <source root>/bench/results */
} opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_partition [options]\n"
            "Partitions global batches of trees across W workers with each strategy (random,\n"
            "round-robin, lpt, similarity), executes every worker's share (Tree-LSTM forward +\n"
            "backward) one after another on this machine and reports the step time (the\n"
            "slowest worker). Pin it to one core: taskset -c 0 build/bench_partition\n"
            "\n"
            "  --data PATH        SST-format trees (default ../shared/data/sst/train.txt\n"
            "                     relative to the source root)\n"
            "  --synthetic N      N generated trees (dbx_treebank_generate) instead of a file\n"
            "  --batch N          trees per global batch (default 256)\n"
            "  --batches N        global batches (default 4)\n"
            "  --workers L        comma list of worker counts (default 2,4,8,16,64)\n"
            "  --reps N           repetitions per batch (default 3); the step time is the\n"
            "                     median over batches x repetitions\n"
            "  --size N           embed = hidden size (default 128)\n"
            "  --scheduler S      none | depth | agenda (default agenda)\n"
            "  --clock cpu|wall   time each share by the thread's CPU time (default: other\n"
            "                     processes on the core do not count) or by wall time\n"
            "  --seed N           batch selection and random partition seed (default 1)\n"
            "  --out DIR          results directory (default <source root>/bench/results)\n"
            "  --help             this text\n"
            "BENCH_PARTITION_DEBUG=1 in the environment prints every measured share.\n");
}

static int parse_pos_int(const char *s, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

static int parse_workers(const char *s, opts *o)
{
    o->nworkers = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (o->nworkers == MAX_W || parse_pos_int(tok, &o->workers[o->nworkers])) return -1;
        o->nworkers++;
    }
    return o->nworkers ? 0 : -1;
}

/* Returns 0 to run, 1 after --help, -1 on a bad argument. */
static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 256;
    o->batches = 4;
    o->reps = 3;
    o->size = 128;
    o->sched = "agenda";
    o->seed = 1;
    parse_workers("2,4,8,16,64", o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "bench_partition: unknown option or missing value: %s\n", a);
            return -1;
        }
        if (strcmp(a, "--data") == 0)
            o->data = v;
        else if (strcmp(a, "--synthetic") == 0)
            bad = parse_pos_int(v, &o->synthetic);
        else if (strcmp(a, "--batch") == 0)
            bad = parse_pos_int(v, &o->batch);
        else if (strcmp(a, "--batches") == 0)
            bad = parse_pos_int(v, &o->batches);
        else if (strcmp(a, "--reps") == 0)
            bad = parse_pos_int(v, &o->reps);
        else if (strcmp(a, "--size") == 0)
            bad = parse_pos_int(v, &o->size);
        else if (strcmp(a, "--workers") == 0)
            bad = parse_workers(v, o);
        else if (strcmp(a, "--scheduler") == 0) {
            const dbx_sched_type *t;
            bad = dbx_sched_find(v, &t) != DBX_OK;
            if (!bad) o->sched = t->name;
        }
        else if (strcmp(a, "--clock") == 0) {
            o->wall = strcmp(v, "wall") == 0;
            bad = !o->wall && strcmp(v, "cpu") != 0;
        }
        else if (strcmp(a, "--seed") == 0)
            o->seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--out") == 0)
            o->out_dir = v;
        else {
            fprintf(stderr, "bench_partition: unknown option %s (see --help)\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "bench_partition: bad value for %s: %s\n", a, v);
            return -1;
        }
        i++;
    }
    return 0;
}

/* ---- utilities ------------------------------------------------------------------------------- */
/* CPU time of the calling thread: what a share costs on a core of its own. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fprintf(stderr, "bench_partition: out of memory\n");
        exit(1);
    }
    return p;
}

static int die(const char *what, dbx_status s)
{
    fprintf(stderr, "bench_partition: %s: %s (%s)\n", what, dbx_status_str(s),
            dbx_last_error());
    return 1;
}

/* ---- the benchmark state --------------------------------------------------------------------- */
typedef struct bench {
    opts o;
    char source[512];
    dbx_vocab *vocab;
    dbx_treebank *tb;
    int ntrees;              /* batches * batch */
    int32_t *trees;          /* (ntrees) tree of each batch position */
    dbx__psample *ps;         /* (ntrees) signature of each batch position */
    uint32_t *keypool;
    dbx_model *m;
    dbx_treelstm *tl;
    dbx_graph *g;
    dbx_exec *ex;
    dbx__cost_model cm;       /* calibrated once; used by every partition */
    dbx__cost_model cm_exec;  /* the same calibration on executor counts (for the report) */
    dbx__cost_model cm_all;   /* refitted on every measured worker (for the report) */
    int ncalib;
    double calib_err;        /* mean |modelled - measured| / measured on the calibration */
    double pred_err_sum;     /* same over all measured workers of the main runs */
    int64_t pred_err_n;
} bench;

static void bench_free(bench *b)
{
    dbx_exec_free(b->ex);
    dbx_graph_free(b->g);
    dbx_treelstm_free(b->tl);
    dbx_model_free(b->m);
    dbx_treebank_free(b->tb);
    dbx_vocab_free(b->vocab);
    free(b->trees);
    free(b->ps);
    free(b->keypool);
}

static int load_data(bench *b)
{
    const opts *o = &b->o;
    dbx_status s = dbx_vocab_new(&b->vocab);
    if (s) return die("vocabulary", s);
    if (o->synthetic > 0) {
        dbx_gen_opts go = {.ntrees = o->synthetic, .vocab = 5000, .seed = 1};
        char *text = NULL;
        size_t len = 0;
        s = dbx_treebank_generate(&go, &text, &len);
        if (!s) s = dbx_treebank_parse("synthetic", text, len, NULL, b->vocab, &b->tb);
        free(text);
        if (s) return die("synthetic treebank", s);
        snprintf(b->source, sizeof b->source, "synthetic (dbx_treebank_generate, %d trees)",
                 o->synthetic);
    } else {
        char root[400], path[512];
        source_root(root, sizeof root);
        const char *rel = "../shared/data/sst/train.txt";
        if (o->data)
            snprintf(path, sizeof path, "%s", o->data);
        else
            snprintf(path, sizeof path, "%s/%s", root, rel);
        if (!file_exists(path)) {
            fprintf(stderr, "bench_partition: missing %s (%s)\n", o->data ? o->data : rel,
                    o->data ? "--data" : "SST train; or use --synthetic N");
            return 1;
        }
        s = dbx_treebank_read(path, NULL, b->vocab, &b->tb);
        if (s) return die("reading trees", s);
        snprintf(b->source, sizeof b->source, "%s", o->data ? o->data : rel);
    }
    if (b->tb->ntrees < o->batch) {
        fprintf(stderr, "bench_partition: %d trees, fewer than one batch of %d\n",
                b->tb->ntrees, o->batch);
        return 1;
    }
    /* batches: a fixed shuffle, consecutive slices (reused from the start if too few) */
    int nt = b->tb->ntrees;
    int32_t *perm = xmalloc((size_t)nt * sizeof *perm);
    for (int i = 0; i < nt; i++) perm[i] = i;
    uint64_t st = b->o.seed ^ 0x5851f42d4c957f2dull;
    for (int i = nt - 1; i > 0; i--) {
        int j = (int)(dbx__splitmix64(&st) % (uint64_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    b->ntrees = o->batches * o->batch;
    b->trees = xmalloc((size_t)b->ntrees * sizeof *b->trees);
    for (int i = 0; i < b->ntrees; i++) b->trees[i] = perm[i % nt];
    free(perm);
    return 0;
}

static int setup_model(bench *b)
{
    dbx_status s = dbx_model_new(&b->m);
    dbx_treelstm_opts to = {.vocab = dbx_vocab_size(b->vocab), .embed = b->o.size,
                            .hidden = b->o.size, .labels = 5};
    if (!s) s = dbx_treelstm_new(b->m, &to, &b->tl);
    if (!s) s = dbx_model_init(b->m, 1);
    if (!s) s = dbx_graph_new(b->m, 1, &b->g);
    dbx_exec_opts eo = {.scheduler = b->o.sched, .fuse = 1};
    if (!s) s = dbx_exec_new(&eo, &b->ex);
    return s ? die("model setup", s) : 0;
}

/* Signatures: each tree alone in one scratch graph (signature ids are per graph object). */
static int compute_signatures(bench *b)
{
    dbx_graph *scratch = NULL;
    dbx_status s = dbx_graph_new(b->m, 1, &scratch);
    if (s) return die("scratch graph", s);
    size_t cap = 0, used = 0;
    uint32_t *buf = NULL;
    size_t *off = xmalloc((size_t)b->ntrees * sizeof *off);
    b->ps = xmalloc((size_t)b->ntrees * sizeof *b->ps);
    for (int i = 0; i < b->ntrees && !s; i++) {
        dbx_graph_clear(scratch);
        s = dbx_treelstm_build(b->tl, scratch, &b->tb->trees[b->trees[i]], NULL);
        if (s) break;
        size_t nn = (size_t)dbx_graph_num_nodes(scratch);
        if (used + nn > cap) {
            size_t nc = cap ? cap * 2 : 65536;
            while (nc < used + nn) nc *= 2;
            uint32_t *t = realloc(buf, nc * sizeof *t);
            if (!t) {
                fprintf(stderr, "bench_partition: out of memory\n");
                exit(1);
            }
            buf = t;
            cap = nc;
        }
        s = dbx__psample_from_graph(scratch, buf + used, &b->ps[i]);
        off[i] = used;
        used += (size_t)b->ps[i].nkeys;
    }
    dbx_graph_free(scratch);
    if (s) {
        free(buf);
        free(off);
        return die("signatures", s);
    }
    for (int i = 0; i < b->ntrees; i++) b->ps[i].keys = buf + off[i]; /* after the reallocs */
    b->keypool = buf;
    free(off);
    return 0;
}

/* Runs one worker's share (graph build, forward, backward); returns seconds or -1. */
static double run_share(bench *b, const int32_t *pos, int k, int64_t *batches, int64_t *nodes)
{
    double t0 = b->o.wall ? now_s() : thread_cpu_s();
    dbx_graph_clear(b->g);
    dbx_status s = DBX_OK;
    for (int i = 0; i < k && !s; i++)
        s = dbx_treelstm_build(b->tl, b->g, &b->tb->trees[b->trees[pos[i]]], NULL);
    double loss = 0;
    if (!s) s = dbx_exec_forward(b->ex, b->g, &loss);
    if (!s) s = dbx_exec_backward(b->ex, b->g, 1.0f);
    double t = (b->o.wall ? now_s() : thread_cpu_s()) - t0;
    dbx_model_zero_grads(b->m);
    if (s) {
        die("executing a share", s);
        return -1;
    }
    const dbx_exec_stats *st = dbx_exec_last_stats(b->ex);
    if (batches) *batches = st->batches;
    if (nodes) *nodes = st->nodes;
    return t;
}

/* The positions in [base, base + n) that assign sends to worker w, in batch order. */
static int share_of(const int32_t *assign, int n, int base, int w, int32_t *out)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (assign[i] == w) out[k++] = base + i;
    return k;
}

/* Model features of a share: distinct keys and nodes (one-worker partition_eval). */
static void share_features(const bench *b, const int32_t *pos, int k, double *launches,
                           double *nodes)
{
    dbx__psample *ps = xmalloc((size_t)(k ? k : 1) * sizeof *ps);
    int32_t *zero = xmalloc((size_t)(k ? k : 1) * sizeof *zero);
    for (int i = 0; i < k; i++) ps[i] = b->ps[pos[i]];
    dbx__cost_model unit;
    dbx__cost_init(&unit, 1, 0, 1);
    dbx__part_stats st;
    dbx__partition_eval(ps, k, 1, zero, &unit, &st);
    *launches = (double)st.total_launches;
    *nodes = (double)st.max_nodes;
    free(ps);
    free(zero);
}

/* Calibration: shares of the first batch from random and similarity partitions for many
 * W (1 to 128 workers), each run three times (the fastest counts). A and B are fitted on
 * the model's own features (distinct keys, nodes: what the partitioner evaluates) by least
 * squares on relative errors (each observation divided by its time). The same fit on the
 * executor's counts (batches, executed nodes) is kept for the report. */
static int calibrate(bench *b)
{
    const int n = b->o.batch;
    int32_t *assign = xmalloc((size_t)n * sizeof *assign);
    int32_t *pos = xmalloc((size_t)n * sizeof *pos);
    dbx__cost_model prior;
    dbx__cost_init(&prior, 20e-6, 1e-6, 1);
    dbx__cost_init(&b->cm, 20e-6, 1e-6, 1);
    dbx__cost_init(&b->cm_exec, 20e-6, 1e-6, 1);
    double feats[128][3];
    int nf = 0;
    for (int W = 1; W <= 128 && W <= n; W *= 2)
        for (int which = 0; which < 2; which++) {
            dbx__part_strategy s = which ? DBX_PART_SIMILARITY : DBX_PART_RANDOM;
            dbx_status st = dbx__partition(s, b->ps, n, W, &prior, b->o.seed, assign, NULL);
            if (st) {
                free(assign);
                free(pos);
                return die("calibration partition", st);
            }
            int picks[2] = {0, W - 1};
            for (int p = 0; p < (W > 1 ? 2 : 1) && nf < 128; p++) {
                int k = share_of(assign, n, 0, picks[p], pos);
                if (!k) continue;
                double best = INFINITY;
                int64_t nb = 0, nn = 0;
                for (int r = 0; r < 3; r++) {
                    double t = run_share(b, pos, k, &nb, &nn);
                    if (t < 0) {
                        free(assign);
                        free(pos);
                        return 1;
                    }
                    if (t < best) best = t;
                }
                double l, nodes;
                share_features(b, pos, k, &l, &nodes);
                /* relative errors: every share counts alike, whatever its size */
                dbx__cost_observe(&b->cm, l / best, nodes / best, 1.0);
                dbx__cost_observe(&b->cm_exec, (double)nb / best, (double)nn / best, 1.0);
                if (getenv("BENCH_PARTITION_DEBUG"))
                    fprintf(stderr, "calibration W=%d %s k=%d keys=%.0f nodes=%.0f batches=%lld "
                                    "exec_nodes=%lld %.3f ms\n",
                            W, dbx__part_name(s), k, l, nodes, (long long)nb, (long long)nn,
                            1e3 * best);
                feats[nf][0] = l;
                feats[nf][1] = nodes;
                feats[nf][2] = best;
                nf++;
            }
        }
    double err = 0;
    for (int i = 0; i < nf; i++)
        err += fabs(dbx__cost_eval(&b->cm, feats[i][0], feats[i][1]) - feats[i][2]) / feats[i][2];
    b->ncalib = nf;
    b->calib_err = nf ? err / nf : NAN;
    b->cm_all = b->cm;
    free(assign);
    free(pos);
    return 0;
}

/* ---- measurements ---------------------------------------------------------------------------- */
typedef struct result {
    int W;
    dbx__part_strategy strat;
    int nsteps;
    double *step;            /* (batches) slowest worker (median over reps per worker), s */
    double *imbalance;       /* (batches) max / mean of those worker times */
    double *rep_step;        /* (batches * reps) slowest worker of each repetition, s */
    double launches;         /* executor batches summed over workers, mean over batches */
    double keys;             /* modelled launches (distinct keys summed over workers), mean */
    double model_max;        /* modelled max worker time, mean over batches, seconds */
    double model_bound;      /* (A * distinct keys of the batch + B * nodes) / W, mean */
    double part_ms;          /* partitioning time, mean over batches */
    double step_med, imb_med, rep_step_med, speedup;
} result;

/* Runs worker w's share of assignment `as` (batch at base); 0 or 1 on error. */
static int time_worker(bench *b, const int32_t *as, int base, int W, int w, int32_t *pos,
                       double *t, int64_t *nbat)
{
    const int n = b->o.batch;
    int cnt = share_of(as, n, base, w, pos);
    *t = 0;
    *nbat = 0;
    if (!cnt) return 0;
    *t = run_share(b, pos, cnt, nbat, NULL);
    if (*t < 0) return 1;
    double l, nodes;
    share_features(b, pos, cnt, &l, &nodes);
    double pred = dbx__cost_eval(&b->cm, l, nodes);
    b->pred_err_sum += fabs(pred - *t) / *t;
    b->pred_err_n++;
    dbx__cost_observe(&b->cm_all, l / *t, nodes / *t, 1.0);
    if (getenv("BENCH_PARTITION_DEBUG"))
        fprintf(stderr, "share W=%d w=%d k=%d keys=%.0f nodes=%.0f: model %.3f ms, "
                        "measured %.3f ms\n",
                W, w, cnt, l, nodes, 1e3 * pred, 1e3 * *t);
    return 0;
}

/* One worker count: for every batch, every strategy partitions it; then the repetitions
 * run every strategy's shares (repetitions outermost, so that slow drifts of the machine
 * hit every strategy alike). A worker's time is the median over its repetitions (one
 * interrupted run of one of 64 workers must not make the step), the step time of a batch
 * is the slowest worker, and the reported step time the median over batches. */
static int measure_w(bench *b, int W, result *res)
{
    const int n = b->o.batch, nb = b->o.batches, reps = b->o.reps;
    int32_t *assign = xmalloc((size_t)NSTRAT * (size_t)n * sizeof *assign);
    int32_t *pos = xmalloc((size_t)n * sizeof *pos);
    double *wt = xmalloc((size_t)NSTRAT * (size_t)W * (size_t)reps * sizeof *wt);
    int32_t *zero = xmalloc((size_t)n * sizeof *zero);
    for (int k = 0; k < NSTRAT; k++) {
        memset(&res[k], 0, sizeof res[k]);
        res[k].W = W;
        res[k].strat = strategies[k];
        res[k].step = xmalloc((size_t)nb * sizeof(double));
        res[k].imbalance = xmalloc((size_t)nb * sizeof(double));
        res[k].rep_step = xmalloc((size_t)nb * (size_t)reps * sizeof(double));
    }
    int rc = 0;
    for (int bi = 0; bi < nb && !rc; bi++) {
        const int base = bi * n;
        dbx__part_stats whole;
        if (dbx__partition_eval(b->ps + base, n, 1, zero, &b->cm, &whole)) {
            rc = die("evaluating a batch", DBX_EINVAL);
            break;
        }
        for (int k = 0; k < NSTRAT && !rc; k++) {
            dbx__part_stats st;
            double t0 = now_s();
            dbx_status s = dbx__partition(strategies[k], b->ps + base, n, W, &b->cm,
                                         b->o.seed + (uint64_t)bi, assign + (size_t)k * n, &st);
            res[k].part_ms += 1e3 * (now_s() - t0) / nb;
            if (s) rc = die("partition", s);
            res[k].keys += (double)st.total_launches / nb;
            res[k].model_max += st.max_time / nb;
            res[k].model_bound += whole.max_time / W / nb;
        }
        for (int r = 0; r < reps && !rc; r++)
            for (int k = 0; k < NSTRAT && !rc; k++) {
                double mx = 0;
                int64_t launches = 0;
                for (int w = 0; w < W && !rc; w++) {
                    double *t = &wt[((size_t)k * W + (size_t)w) * (size_t)reps + (size_t)r];
                    int64_t nbat = 0;
                    rc = time_worker(b, assign + (size_t)k * n, base, W, w, pos, t, &nbat);
                    launches += nbat;
                    if (*t > mx) mx = *t;
                }
                res[k].rep_step[bi * reps + r] = mx;
                if (r == 0) res[k].launches += (double)launches / nb;
            }
        for (int k = 0; k < NSTRAT && !rc; k++) {
            double mx = 0, sum = 0;
            for (int w = 0; w < W; w++) {
                double m = median(&wt[((size_t)k * W + (size_t)w) * (size_t)reps], reps);
                sum += m;
                if (m > mx) mx = m;
            }
            res[k].step[bi] = mx;
            res[k].imbalance[bi] = sum > 0 ? mx / (sum / W) : NAN;
            res[k].nsteps++;
        }
        fprintf(stderr, "bench_partition: W=%d batch %d/%d done\n", W, bi + 1, nb);
    }
    if (!rc) {
        for (int k = 0; k < NSTRAT; k++) {
            res[k].step_med = median(res[k].step, res[k].nsteps);
            res[k].imb_med = median(res[k].imbalance, res[k].nsteps);
            res[k].rep_step_med = median(res[k].rep_step, res[k].nsteps * reps);
        }
        for (int k = 0; k < NSTRAT; k++) res[k].speedup = res[0].step_med / res[k].step_med;
    }
    free(assign);
    free(pos);
    free(wt);
    free(zero);
    return rc;
}

/* ---- reports --------------------------------------------------------------------------------- */
typedef struct report {
    const bench *b;
    result (*res)[NSTRAT];
    int nw;                  /* worker counts done */
    char date[32], cpu[128];
} report;

static const result *find(const report *rp, int W, dbx__part_strategy s)
{
    for (int i = 0; i < rp->nw; i++)
        if (rp->res[i][0].W == W)
            for (int k = 0; k < NSTRAT; k++)
                if (rp->res[i][k].strat == s) return &rp->res[i][k];
    return NULL;
}

static void target_line(const report *rp, char *out, size_t cap)
{
    const result *r = find(rp, 8, DBX_PART_RANDOM), *l = find(rp, 8, DBX_PART_LPT);
    const result *s = find(rp, 8, DBX_PART_SIMILARITY);
    if (!r || !l || !s) {
        snprintf(out, cap, "W=8 not measured");
        return;
    }
    double vr = r->step_med / s->step_med, vl = l->step_med / s->step_med;
    snprintf(out, cap,
             "W=8: similarity vs random %.2fx, vs lpt %.2fx (target >= 1.30x and >= 1.10x: %s; "
             "under the cost model no partition can beat lpt by more than %.2fx)",
             vr, vl, vr >= 1.3 && vl >= 1.1 ? "met" : "not met", l->model_max / l->model_bound);
}

static void write_tables(const report *rp, FILE *f, int md)
{
    const bench *b = rp->b;
    for (int i = 0; i < rp->nw; i++) {
        int W = rp->res[i][0].W;
        fprintf(f, "%sW = %d (%.0f trees per worker)\n\n", md ? "### " : "", W,
                (double)b->o.batch / W);
        if (md) {
            fprintf(f, "| strategy | imbalance | launches | modelled launches "
                       "| modelled max ms | step ms | speedup vs random | step ms per rep "
                       "| partition ms |\n");
            fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        } else {
            fprintf(f, "  %-12s %9s %9s %9s %9s %9s %8s %9s %9s\n", "strategy", "imbalance",
                    "launches", "mod.keys", "model ms", "step ms", "speedup", "per-rep",
                    "part. ms");
        }
        for (int k = 0; k < NSTRAT; k++) {
            const result *r = &rp->res[i][k];
            const char *fmt =
                md ? "| %s | %.3f | %.0f | %.0f | %.2f | %.2f | %.2fx | %.2f | %.3f |\n"
                   : "  %-12s %9.3f %9.0f %9.0f %9.2f %9.2f %7.2fx %9.2f %9.3f\n";
            fprintf(f, fmt, dbx__part_name(r->strat), r->imb_med, r->launches, r->keys,
                    1e3 * r->model_max, 1e3 * r->step_med, r->speedup, 1e3 * r->rep_step_med,
                    r->part_ms);
        }
        const result *l = &rp->res[i][2];
        fprintf(f, "%smodel lower bound (nodes perfectly balanced, every key launched once): "
                   "%.2f ms; lpt is within %.2fx of it%s\n\n",
                md ? "\n" : "  ", 1e3 * l->model_bound, l->model_max / l->model_bound,
                md ? "." : "");
    }
    char line[200];
    target_line(rp, line, sizeof line);
    fprintf(f, "%s\n", line);
}

static void write_md(FILE *f, const void *arg)
{
    const report *rp = arg;
    const bench *b = rp->b;
    fprintf(f, "## Partitioning a global batch (bench_partition)\n\n");
    fprintf(f, "%s, %s; data %s; %d global batches of %d trees x %d repetitions; Tree-LSTM, "
               "embed = hidden = %d, %s scheduler, dedup on. Each worker's share is built, "
               "scheduled, run forward and backward, one share after another on one core. "
               "Step ms: each worker's median over the repetitions, the slowest worker, the "
               "median over batches; per rep: the slowest worker of each repetition, median "
               "over batches x repetitions. Times are %s.\n\n",
            rp->date, rp->cpu, b->source, b->o.batches, b->o.batch, b->o.reps, b->o.size,
            b->o.sched,
            b->o.wall ? "wall-clock times (--clock wall)"
                      : "the thread's CPU time (--clock cpu), so that other processes on the "
                        "shared core do not count");
    fprintf(f, "Cost model t = A * launches + B * nodes, calibrated once on %d measured "
               "shares (mean error %.1f%%): A = %.2f us per launch, B = %.3f us per node; "
               "mean error on every measured worker share below %.1f%% (a refit on all of "
               "them: A = %.2f us, B = %.3f us). Imbalance: max / mean measured worker time. "
               "Launches: executor batched launches summed over workers; modelled launches: "
               "distinct (depth, signature) keys summed over workers.\n\n",
            b->ncalib, 100 * b->calib_err, 1e6 * b->cm.A, 1e6 * b->cm.B,
            b->pred_err_n ? 100 * b->pred_err_sum / (double)b->pred_err_n : NAN,
            1e6 * b->cm_all.A, 1e6 * b->cm_all.B);
    write_tables(rp, f, 1);
}

static void json_num(FILE *f, const char *key, double v, const char *sep)
{
    if (isfinite(v))
        fprintf(f, "\"%s\": %.9g%s", key, v, sep);
    else
        fprintf(f, "\"%s\": null%s", key, sep);
}

static void write_json(FILE *f, const void *arg)
{
    const report *rp = arg;
    const bench *b = rp->b;
    fprintf(f, "{\n  \"benchmark\": \"partition\",\n  \"date\": ");
    json_str(f, rp->date);
    fprintf(f, ",\n  \"cpu\": ");
    json_str(f, rp->cpu);
    fprintf(f, ",\n  \"data\": ");
    json_str(f, b->source);
    fprintf(f, ",\n  \"batch\": %d, \"batches\": %d, \"reps\": %d, \"size\": %d,\n", b->o.batch,
            b->o.batches, b->o.reps, b->o.size);
    fprintf(f, "  \"scheduler\": \"%s\", \"seed\": %llu, \"clock\": \"%s\",\n",
            b->o.sched, (unsigned long long)b->o.seed, b->o.wall ? "wall" : "cpu");
    fprintf(f, "  \"cost_model\": {");
    json_num(f, "A", b->cm.A, ", ");
    json_num(f, "B", b->cm.B, ", ");
    fprintf(f, "\"calibration_shares\": %d, ", b->ncalib);
    json_num(f, "calibration_mean_rel_error", b->calib_err, ", ");
    json_num(f, "runs_mean_rel_error",
             b->pred_err_n ? b->pred_err_sum / (double)b->pred_err_n : NAN, ", ");
    json_num(f, "A_exec_counts", b->cm_exec.A, ", ");
    json_num(f, "B_exec_counts", b->cm_exec.B, ", ");
    json_num(f, "A_refit_all_runs", b->cm_all.A, ", ");
    json_num(f, "B_refit_all_runs", b->cm_all.B, "},\n");
    fprintf(f, "  \"rows\": [\n");
    for (int i = 0; i < rp->nw; i++)
        for (int k = 0; k < NSTRAT; k++) {
            const result *r = &rp->res[i][k];
            fprintf(f, "    {\"W\": %d, \"strategy\": \"%s\", ", r->W, dbx__part_name(r->strat));
            json_num(f, "imbalance", r->imb_med, ", ");
            json_num(f, "launches", r->launches, ", ");
            json_num(f, "modelled_launches", r->keys, ", ");
            json_num(f, "modelled_max_s", r->model_max, ", ");
            json_num(f, "modelled_lower_bound_s", r->model_bound, ", ");
            json_num(f, "step_s", r->step_med, ", ");
            json_num(f, "step_per_rep_s", r->rep_step_med, ", ");
            json_num(f, "speedup_vs_random", r->speedup, ", ");
            json_num(f, "partition_s", 1e-3 * r->part_ms, ", ");
            fprintf(f, "\"batch_steps_s\": [");
            for (int j = 0; j < r->nsteps; j++) fprintf(f, "%s%.6g", j ? ", " : "", r->step[j]);
            fprintf(f, "], \"rep_steps_s\": [");
            for (int j = 0; j < r->nsteps * b->o.reps; j++)
                fprintf(f, "%s%.6g", j ? ", " : "", r->rep_step[j]);
            fprintf(f, "]}%s\n", i + 1 == rp->nw && k + 1 == NSTRAT ? "" : ",");
        }
    char line[200];
    target_line(rp, line, sizeof line);
    fprintf(f, "  ],\n  \"target\": ");
    json_str(f, line);
    fprintf(f, "\n}\n");
}

static void save(const report *rp)
{
    char dir[1000], path[1100];
    if (rp->b->o.out_dir) {
        snprintf(dir, sizeof dir, "%s", rp->b->o.out_dir);
    } else {
        char root[900];
        source_root(root, sizeof root);
        snprintf(dir, sizeof dir, "%s/bench/results", root);
    }
    mkdir(dir, 0755); /* may exist */
    snprintf(path, sizeof path, "%s/partition.json", dir);
    write_atomic("bench_partition", path, write_json, rp);
    snprintf(path, sizeof path, "%s/partition.md", dir);
    write_atomic("bench_partition", path, write_md, rp);
}

static void machine(report *rp)
{
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(rp->date, sizeof rp->date, "%Y-%m-%d", &tmv);
    snprintf(rp->cpu, sizeof rp->cpu, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        const char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && c) {
            c++;
            while (*c == ' ') c++;
            snprintf(rp->cpu, sizeof rp->cpu, "%s", c);
            rp->cpu[strcspn(rp->cpu, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    int pa = parse_args(argc, argv, &b.o);
    if (pa) return pa > 0 ? 0 : 2;
    dbx_status s = dbx_blas_init();
    if (s) return die("BLAS", s);
    int rc = load_data(&b);
    if (!rc) rc = setup_model(&b);
    if (!rc) rc = compute_signatures(&b);
    if (rc) {
        bench_free(&b);
        return rc;
    }
    fprintf(stderr, "bench_partition: %s, %d batches of %d trees, size %d, %s; %s\n", b.source,
            b.o.batches, b.o.batch, b.o.size, b.o.sched, dbx_blas_describe());
    /* warm-up: the largest share (a whole batch) sizes the executor's buffers */
    int32_t *all = xmalloc((size_t)b.o.batch * sizeof *all);
    for (int i = 0; i < b.o.batch; i++) all[i] = i;
    for (int r = 0; r < 2 && !rc; r++) rc = run_share(&b, all, b.o.batch, NULL, NULL) < 0;
    free(all);
    if (!rc) rc = calibrate(&b);
    if (rc) {
        bench_free(&b);
        return 1;
    }
    fprintf(stderr, "bench_partition: cost model A = %.2f us/launch, B = %.3f us/node "
                    "(%d shares, mean error %.1f%%)\n",
            1e6 * b.cm.A, 1e6 * b.cm.B, b.ncalib, 100 * b.calib_err);

    report rp = {.b = &b};
    machine(&rp);
    rp.res = xmalloc((size_t)b.o.nworkers * sizeof *rp.res);
    for (int i = 0; i < b.o.nworkers && !rc; i++) {
        double t0 = now_s();
        rc = measure_w(&b, b.o.workers[i], rp.res[i]);
        if (rc) break;
        rp.nw = i + 1;
        fprintf(stderr, "bench_partition: W=%d done in %.1f s\n", b.o.workers[i], now_s() - t0);
        save(&rp);
    }
    if (rp.nw) {
        printf("bench_partition: %s; %d x %d trees x %d reps; Tree-LSTM %d; %s; "
               "A = %.2f us/launch, B = %.3f us/node\n\n",
               b.source, b.o.batches, b.o.batch, b.o.reps, b.o.size, b.o.sched,
               1e6 * b.cm.A, 1e6 * b.cm.B);
        write_tables(&rp, stdout, 0);
    }
    for (int i = 0; i < b.o.nworkers; i++) /* zeroed by xmalloc where never measured */
        for (int k = 0; k < NSTRAT; k++) {
            free(rp.res[i][k].step);
            free(rp.res[i][k].imbalance);
            free(rp.res[i][k].rep_step);
        }
    free(rp.res);
    bench_free(&b);
    return rc ? 1 : 0;
}
