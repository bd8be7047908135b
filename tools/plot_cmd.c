/* The plot subcommand of the `dbx` program: PNG plots, drawn by gnuplot, of
 *  - the JSON-lines metrics of `dbx train --metrics` (README "Metrics"): loss against step
 *    and against time (with the dev loss), the dev metrics against step, throughput, and for
 *    a run of several ranks each worker's compute, wait and all-reduce time per step;
 *  - the scaling report of bench/scaling.sh (scaling.json): throughput and efficiency over
 *    workers, measured points as points, the projection as dashed labelled lines.
 * dbx writes a gnuplot script with the data inline (datablocks) to a temporary file and runs
 * `gnuplot FILE` as a child process ($DBX_GNUPLOT, default gnuplot from PATH); the paths
 * written are printed one per line. Exit status: 0, 1 on errors (no gnuplot, a bad file), 2
 * on usage errors. Owned by tools/; single-threaded. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/json.h"

extern char **environ;

#define MAX_METRICS 8    /* dev metrics plotted */
#define MAX_RANK_LINES 8 /* more workers: min, mean and max instead of a line each */
#define MAX_PLOTS 8

static void plot_help(void)
{
    printf("usage: dbx plot [--out DIR] FILE\n"
           "\n"
           "Draws PNG plots with gnuplot and prints the paths written. FILE is either\n"
           "  the JSON-lines metrics of 'dbx train --metrics FILE': NAME-loss-step.png and\n"
           "    NAME-loss-time.png (training loss per labelled node, and the dev loss),\n"
           "    NAME-dev.png (dev metrics, if the run evaluated a dev set),\n"
           "    NAME-throughput.png (sentences/s) and, for a run of several ranks,\n"
           "    NAME-workers.png (each worker's compute, wait and all-reduce ms per step);\n"
           "  or the scaling.json of bench/scaling.sh: NAME-throughput.png and\n"
           "    NAME-efficiency.png (measured points, projection as dashed lines).\n"
           "NAME is FILE's name without its extension.\n"
           "\n"
           "  --out DIR  where to write the plots (default: FILE's directory; created if\n"
           "             missing)\n"
           "  --help     this help\n"
           "\n"
           "Needs gnuplot (Debian: apt-get install gnuplot-nox); DBX_GNUPLOT names another\n"
           "program. Exit status: 0, 1 on errors (no gnuplot, an unreadable file), 2 on\n"
           "usage errors.\n");
}

static int err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dbx plot: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_ERR;
}

/* ---- growable arrays ---------------------------------------------------------------------- */
typedef struct vec {
    double *v;
    size_t n, cap;
} vec;

static int push(vec *a, double x)
{
    if (a->n == a->cap) {
        size_t c = a->cap ? 2 * a->cap : 256;
        double *v = realloc(a->v, c * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = c;
    }
    a->v[a->n++] = x;
    return 0;
}

/* ---- the metrics of one run --------------------------------------------------------------- */
typedef struct run {
    char title[256];
    int ranks;
    /* per step */
    vec step, time_s, loss, sps;
    vec wk; /* per step, per rank: compute, wait, all-reduce ms (3 * ranks values) */
    /* per dev evaluation */
    vec ev_step, ev_time_s, ev_loss, ev_m[MAX_METRICS];
    char *metric[MAX_METRICS];
    int nmetrics;
    double t_cum; /* seconds, for files without elapsed_ms */
} run;

static void run_free(run *R)
{
    vec *all[] = {&R->step, &R->time_s, &R->loss, &R->sps, &R->wk, &R->ev_step, &R->ev_time_s,
                  &R->ev_loss};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->v);
    for (int i = 0; i < MAX_METRICS; i++) free(R->ev_m[i].v);
    for (int i = 0; i < R->nmetrics; i++) free(R->metric[i]);
    memset(R, 0, sizeof *R);
}

/* A config record: the title; a second one starts the plot afresh (the last run counts). */
static void take_config(run *R, const js *o)
{
    char title[256];
    const js *opt = js_get(o, "options");
    const char *model = js_str(o, "model");
    int ranks = (int)js_num(o, "ranks", 1);
    snprintf(title, sizeof title, "%s, %d rank%s, batch %g", model ? model : "?", ranks,
             ranks == 1 ? "" : "s", js_num(opt, "batch", NAN));
    run_free(R);
    snprintf(R->title, sizeof R->title, "%s", title);
    R->ranks = ranks;
}

static int take_step(run *R, const js *o)
{
    double step = js_num(o, "step", NAN), loss = js_num(o, "loss_per_node", NAN);
    double sps = js_num(o, "sents_per_s", NAN), el = js_num(o, "elapsed_ms", NAN);
    double ms = js_num(o, "step_ms", NAN);
    if (!isfinite(ms)) ms = 1e3 * js_num(o, "samples", NAN) / sps; /* older files */
    if (isfinite(ms)) R->t_cum += ms / 1e3;
    double t = isfinite(el) ? el / 1e3 : R->t_cum;
    int rc = push(&R->step, step) | push(&R->time_s, t) | push(&R->loss, loss) |
             push(&R->sps, sps);
    const js *w = js_get(o, "workers");
    int W = w && w->kind == JS_ARR ? w->n : 0;
    if (R->ranks < W) R->ranks = W; /* files without a config record */
    for (int r = 0; r < R->ranks; r++) {
        const js *x = r < W ? &w->items[r] : NULL;
        rc |= push(&R->wk, js_num(x, "compute_ms", NAN)) | push(&R->wk, js_num(x, "wait_ms", NAN)) |
              push(&R->wk, js_num(x, "allreduce_ms", NAN));
    }
    return rc;
}

static int take_eval(run *R, const js *o)
{
    double el = js_num(o, "elapsed_ms", NAN);
    int rc = push(&R->ev_step, js_num(o, "step", NAN)) |
             push(&R->ev_time_s, isfinite(el) ? el / 1e3 : R->t_cum) |
             push(&R->ev_loss, js_num(o, "loss_per_node", NAN));
    const js *m = js_get(o, "metrics");
    if (R->ev_step.n == 1 && m && m->kind == JS_OBJ) /* the names: from the first eval */
        for (int i = 0; i < m->n && R->nmetrics < MAX_METRICS; i++) {
            size_t n = strlen(m->keys[i]) + 1;
            if (!(R->metric[R->nmetrics] = malloc(n))) return -1;
            memcpy(R->metric[R->nmetrics++], m->keys[i], n);
        }
    for (int i = 0; i < R->nmetrics; i++) rc |= push(&R->ev_m[i], js_num(m, R->metric[i], NAN));
    return rc;
}

/* Reads a metrics file; a last line without its newline (a run being written) is skipped
   if it does not parse. */
static int read_metrics(const char *path, FILE *f, run *R)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        int whole = line[n - 1] == '\n';
        js o;
        const char *why;
        size_t at;
        if (n == 1 && whole) continue;
        if (js_parse(line, (size_t)n, &o, &why, &at)) {
            if (!whole) break;
            rc = err("%s:%ld:%zu: %s", path, lineno, at + 1, why);
            break;
        }
        const char *type = js_str(&o, "type");
        if (o.kind != JS_OBJ || !type) rc = err("%s:%ld: not a metrics record", path, lineno);
        else if (!strcmp(type, "config")) take_config(R, &o);
        else if (!strcmp(type, "step") && take_step(R, &o)) rc = err("out of memory");
        else if (!strcmp(type, "eval") && take_eval(R, &o)) rc = err("out of memory");
        js_free(&o);
    }
    free(line);
    if (!rc && R->step.n == 0) rc = err("%s: no step records (not a 'dbx train --metrics' file?)",
                                        path);
    return rc;
}

/* ---- gnuplot ------------------------------------------------------------------------------ */
/* A gnuplot single-quoted string ('' stands for a quote). */
static void gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        if (*s != '\n') fputc(*s, f);
    }
    fputc('\'', f);
}

static void gp_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, " %.9g", v);
    else fputs(" NaN", f);
}

static void gp_preamble(FILE *f)
{
    fputs("set terminal pngcairo size 900,540 noenhanced font 'Sans,10'\n"
          "set datafile missing 'NaN'\n"
          "set grid\n"
          "set autoscale xfix\n"
          "set key top right opaque box\n"
          "set style line 1 lc rgb '#1f77b4' lw 2\n"
          "set style line 2 lc rgb '#9ecae1' lw 1\n"
          "set style line 3 lc rgb '#d62728' lw 2 pt 7 ps 1.2\n"
          "set style line 4 lc rgb '#2ca02c' lw 2 pt 5 ps 1.2\n"
          "set style line 5 lc rgb '#ff7f0e' lw 2 pt 9 ps 1.2\n"
          "set style line 6 lc rgb '#9467bd' lw 2 pt 11 ps 1.2\n"
          "set style line 7 lc rgb '#888888' lw 1 dt 3\n",
          f);
}

typedef struct plots {
    const char *dir, *base;
    char *path[MAX_PLOTS];
    int n;
} plots;

/* "set output" for DIR/BASE-suffix.png, remembered for the check and the listing. */
static int gp_output(FILE *f, plots *P, const char *suffix)
{
    size_t n = strlen(P->dir) + strlen(P->base) + strlen(suffix) + 8;
    char *p = malloc(n);
    if (!p || P->n == MAX_PLOTS) {
        free(p);
        return -1;
    }
    snprintf(p, n, "%s/%s-%s.png", P->dir, P->base, suffix);
    P->path[P->n++] = p;
    fputs("set output ", f);
    gp_str(f, p);
    fputc('\n', f);
    return 0;
}

/* The mean of v[i - w + 1 .. i] (fewer at the start), NaNs skipped. */
static double running_mean(const vec *v, size_t i, size_t w)
{
    double s = 0;
    int k = 0;
    for (size_t j = i + 1 > w ? i + 1 - w : 0; j <= i; j++)
        if (isfinite(v->v[j])) s += v->v[j], k++;
    return k ? s / k : NAN;
}

static void metrics_script(FILE *f, const run *R, plots *P)
{
    size_t n = R->step.n, w = n / 25;
    w = w < 1 ? 1 : w > 100 ? 100 : w;
    char mean[64];
    snprintf(mean, sizeof mean, "mean of %zu steps", w);
    gp_preamble(f);
    /* $steps: step, time s, loss, mean loss, sents/s, mean sents/s */
    fputs("$steps << EOD\n", f);
    for (size_t i = 0; i < n; i++) {
        gp_num(f, R->step.v[i]);
        gp_num(f, R->time_s.v[i]);
        gp_num(f, R->loss.v[i]);
        gp_num(f, running_mean(&R->loss, i, w));
        gp_num(f, R->sps.v[i]);
        gp_num(f, running_mean(&R->sps, i, w));
        fputc('\n', f);
    }
    fputs("EOD\n", f);
    size_t ne = R->ev_step.n;
    /* $eval: step, time s, loss, metrics... */
    fputs("$eval << EOD\n", f);
    for (size_t i = 0; i < ne; i++) {
        gp_num(f, R->ev_step.v[i]);
        gp_num(f, R->ev_time_s.v[i]);
        gp_num(f, R->ev_loss.v[i]);
        for (int m = 0; m < R->nmetrics; m++) gp_num(f, 100 * R->ev_m[m].v[i]);
        fputc('\n', f);
    }
    fputs("EOD\n", f);
    for (int k = 0; k < 2; k++) { /* loss against step, against time */
        gp_output(f, P, k ? "loss-time" : "loss-step");
        fputs("set title ", f);
        gp_str(f, R->title);
        fprintf(f, "\nset xlabel '%s'\nset ylabel 'loss per labelled node'\n",
                k ? "elapsed time (s)" : "step");
        int x = k ? 2 : 1;
        fprintf(f, "plot $steps using %d:3 with lines ls 2 title 'training, per step'", x);
        if (w > 1) fprintf(f, ", $steps using %d:4 with lines ls 1 title '%s'", x, mean);
        if (ne) fprintf(f, ", $eval using %d:3 with linespoints ls 3 title 'dev'", x);
        fputc('\n', f);
    }
    if (ne) { /* dev metrics (%) against step, the dev loss on the right */
        gp_output(f, P, "dev");
        fputs("set title ", f);
        gp_str(f, R->title);
        fputs("\nset xlabel 'step'\n", f);
        if (R->nmetrics) {
            fputs("set ylabel 'dev metric (%)'\nset y2label 'dev loss per labelled node'\n"
                  "set y2tics\nset ytics nomirror\nplot ",
                  f);
            for (int m = 0; m < R->nmetrics; m++) {
                fprintf(f, "%s$eval using 1:%d with linespoints ls %d title ", m ? ", " : "",
                        4 + m, 3 + m % 4);
                gp_str(f, R->metric[m]);
            }
            fputs(", $eval using 1:3 axes x1y2 with linespoints ls 7 title 'dev loss (right)'\n"
                  "unset y2tics\nunset y2label\nset ytics mirror\n",
                  f);
        } else {
            fputs("set ylabel 'dev loss per labelled node'\n"
                  "plot $eval using 1:3 with linespoints ls 3 title 'dev loss'\n",
                  f);
        }
    }
    gp_output(f, P, "throughput");
    fputs("set title ", f);
    gp_str(f, R->title);
    fputs("\nset xlabel 'step'\nset ylabel 'sentences/s'\nset yrange [0:*]\n"
          "plot $steps using 1:5 with lines ls 2 title 'per step'",
          f);
    if (w > 1) fprintf(f, ", $steps using 1:6 with lines ls 1 title '%s'", mean);
    fputs("\nset yrange [*:*]\n", f);
    if (R->ranks < 2) return;
    /* workers: per step, per rank compute, wait, all-reduce ms; or min, mean, max over ranks */
    int W = R->ranks, each = W <= MAX_RANK_LINES;
    fputs("$workers << EOD\n", f);
    for (size_t i = 0; i < n; i++) {
        gp_num(f, R->step.v[i]);
        const double *x = R->wk.v + i * 3 * (size_t)W;
        for (int q = 0; q < 3; q++) {
            if (each) {
                for (int r = 0; r < W; r++) gp_num(f, x[3 * r + q]);
                continue;
            }
            double lo = INFINITY, hi = -INFINITY, s = 0;
            for (int r = 0; r < W; r++) {
                double v = x[3 * r + q];
                lo = v < lo ? v : lo, hi = v > hi ? v : hi, s += v;
            }
            gp_num(f, lo);
            gp_num(f, s / W);
            gp_num(f, hi);
        }
        fputc('\n', f);
    }
    fputs("EOD\n", f);
    gp_output(f, P, "workers");
    fputs("set terminal pngcairo size 900,900 noenhanced font 'Sans,10'\n"
          "set multiplot layout 3,1 title ",
          f);
    gp_str(f, R->title);
    fputs("\nset key outside right top\nset xlabel 'step'\n", f);
    static const char *const what[3] = {"compute (ms)", "wait for samples (ms)",
                                        "gradient all-reduce (ms)"};
    int cols = each ? W : 3;
    for (int q = 0; q < 3; q++) {
        fprintf(f, "set title '%s'\nset ylabel 'ms'\n", what[q]);
        int c0 = 2 + q * cols;
        if (each)
            fprintf(f, "plot for [r=0:%d] $workers using 1:(column(%d + r)) with lines lw 1.5 "
                       "title sprintf('rank %%d', r)\n", W - 1, c0);
        else
            fprintf(f, "plot $workers using 1:%d:%d with filledcurves lc rgb '#c6dbef' "
                       "title 'min..max over %d ranks', $workers using 1:%d with lines ls 1 "
                       "title 'mean'\n", c0, c0 + 2, W, c0 + 1);
    }
    fputs("unset multiplot\n", f);
}

/* ---- the scaling report of bench/scaling.sh ----------------------------------------------- */
static int scaling_script(FILE *f, const char *path, const js *doc, plots *P)
{
    const js *meas = js_get(doc, "measured"), *proj = js_get(js_get(doc, "projection"), "rows");
    if (!meas || meas->kind != JS_ARR || meas->n == 0)
        return err("%s: no \"measured\" rows (not a bench/scaling.sh report?)", path);
    /* the measured configurations, in order of appearance: one series each */
    const char *cfg[16];
    int ncfg = 0;
    double x1 = NAN; /* sents/s of one worker, for the ideal line */
    for (int i = 0; i < meas->n; i++) {
        const char *c = js_str(&meas->items[i], "config");
        c = c ? c : "measured";
        int k = 0;
        while (k < ncfg && strcmp(cfg[k], c)) k++;
        if (k == ncfg && ncfg < 16) cfg[ncfg++] = c;
        if (js_num(&meas->items[i], "workers", 0) == 1 && !isfinite(x1))
            x1 = js_num(&meas->items[i], "sents_per_s", NAN);
    }
    gp_preamble(f);
    for (int k = 0; k < ncfg; k++) { /* $m<k>: workers, sents/s, efficiency % */
        fprintf(f, "$m%d << EOD\n", k);
        for (int i = 0; i < meas->n; i++) {
            const js *r = &meas->items[i];
            const char *c = js_str(r, "config");
            if (strcmp(c ? c : "measured", cfg[k])) continue;
            gp_num(f, js_num(r, "workers", NAN));
            gp_num(f, js_num(r, "sents_per_s", NAN));
            gp_num(f, 100 * js_num(r, "efficiency", NAN));
            fputc('\n', f);
        }
        fputs("EOD\n", f);
    }
    /* the projections: "series" [{label, rows}] (one dashed line each), else "rows" */
    const js *ser = js_get(js_get(doc, "projection"), "series");
    int nser = ser && ser->kind == JS_ARR ? (ser->n < 8 ? ser->n : 8) : 0;
    if (nser == 0 && proj && proj->kind == JS_ARR && proj->n) nser = 1, ser = NULL;
    double xmax = 1;
    for (int k = 0; k < nser; k++) { /* $p<k>: nodes, sents/s, efficiency % */
        const js *rows = ser ? js_get(&ser->items[k], "rows") : proj;
        int np = rows && rows->kind == JS_ARR ? rows->n : 0;
        fprintf(f, "$p%d << EOD\n", k);
        for (int i = 0; i < np; i++) {
            const js *r = &rows->items[i];
            double x = js_num(r, "nodes", NAN);
            xmax = x > xmax ? x : xmax;
            gp_num(f, x);
            gp_num(f, js_num(r, "sents_per_s", NAN));
            gp_num(f, 100 * js_num(r, "efficiency", NAN));
            fputc('\n', f);
        }
        fputs("EOD\n", f);
    }
    for (int i = 0; i < meas->n; i++) {
        double x = js_num(&meas->items[i], "workers", 1);
        xmax = x > xmax ? x : xmax;
    }
    static const char *const pts[] = {"ls 3", "ls 4", "ls 5", "ls 6"};
    static const int dy[] = {-1, 1, -2, 2}; /* label offsets: series at one x stay apart */
    for (int k = 0; k < 2; k++) {
        gp_output(f, P, k ? "efficiency" : "throughput");
        fprintf(f, "set title 'dbx training, %s: measured (points) and projected (dashed)'\n"
                   "set xlabel 'workers (projection: nodes, one worker each)'\n"
                   "set logscale x 2\nset xrange [0.8:%g]\nset key %s opaque box\n",
                k ? "scaling efficiency" : "throughput", 1.25 * xmax,
                nser > 1 ? "below" : k ? "left bottom" : "left top");
        if (k) fputs("set ylabel 'efficiency (%)'\nunset logscale y\nset yrange [0:110]\n", f);
        else fputs("set ylabel 'sentences/s'\nset logscale y 10\nset yrange [*:*]\n", f);
        int col = k ? 3 : 2;
        fputs("plot ", f);
        if (k) fputs("100 with lines ls 7 title 'ideal (100%)'", f);
        else if (isfinite(x1)) fprintf(f, "%.9g * x with lines ls 7 title 'ideal (linear)'", x1);
        else fputs("NaN notitle", f);
        for (int c = 0; c < ncfg; c++) { /* points, and their values beside them */
            fprintf(f, ", $m%d using 1:%d with points %s title ", c, col, pts[c % 4]);
            char t[96];
            snprintf(t, sizeof t, "measured: %s", cfg[c]);
            gp_str(f, t);
            fprintf(f, ", $m%d using 1:%d:(sprintf('%s', $%d)) with labels left offset 1,%d "
                       "notitle", c, col, k ? "%.0f%%" : "%.0f", col, dy[c % 4]);
        }
        static const char *const pc[] = {"#555555", "#d62728", "#1f77b4", "#2ca02c",
                                         "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
        for (int q = 0; q < nser; q++) {
            const char *lab = ser ? js_str(&ser->items[q], "label") : NULL;
            char t[160];
            snprintf(t, sizeof t, "projected: %s (model, not measured)", lab ? lab : "model");
            fprintf(f, ", $p%d using 1:%d with linespoints lc rgb '%s' lw 2 dt %d pt 6 title ", q,
                    col, pc[q % 8], 2 + q % 4);
            gp_str(f, t);
            fprintf(f, ", $p%d using 1:%d:(sprintf('%s', $%d)) with labels offset 0,%d notitle",
                    q, col, k ? "%.0f%%" : "%.0f", col, q % 2 ? -1 : 1);
        }
        fputc('\n', f);
    }
    return 0;
}

/* ---- running gnuplot ---------------------------------------------------------------------- */
static int run_gnuplot(const char *script)
{
    const char *prog = getenv("DBX_GNUPLOT");
    if (!prog || !*prog) prog = "gnuplot";
    char *argv[] = {(char *)prog, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, prog, NULL, NULL, argv, environ);
    if (rc == ENOENT)
        return err("%s not found: install gnuplot (Debian: apt-get install gnuplot-nox) or "
                   "name it in DBX_GNUPLOT", prog);
    if (rc) return err("cannot run %s: %s", prog, strerror(rc));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return err("waiting for %s: %s", prog, strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return err("%s could not be started", prog);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return err("%s failed (%s %d)", prog, WIFEXITED(st) ? "exit status" : "signal",
                   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return 0;
}

/* The directory of path ("." for none), malloc'ed. */
static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    size_t n = s ? (size_t)(s - path) : 0;
    char *d = malloc(n + 2);
    if (!d) return NULL;
    if (!s) strcpy(d, ".");
    else if (n == 0) strcpy(d, "/");
    else memcpy(d, path, n), d[n] = 0;
    return d;
}

/* The file name of path without its extension (.jsonl, .json, ...), malloc'ed. */
static char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    size_t n = strlen(s);
    const char *dot = strrchr(s, '.');
    if (dot && dot != s) n = (size_t)(dot - s);
    char *b = malloc(n + 1);
    if (b) memcpy(b, s, n), b[n] = 0;
    return b;
}

/* Reads all of f (a scaling report is one JSON document). */
static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = realloc(b, cap *= 2);
        if (!nb) free(b);
        b = nb;
    }
    *len = n;
    return b;
}

int cli_plot(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            plot_help();
            return CLI_OK;
        }
        if (c == 'o') {
            out = optarg;
            continue;
        }
        return cli_opt_error("plot", c, argv, opts);
    }
    if (argc - optind != 1) {
        fprintf(stderr, "dbx plot: expected one FILE (metrics or scaling.json)\n"
                        "Try 'dbx plot --help' for the list of options.\n");
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    FILE *in = fopen(path, "r");
    if (!in) return err("%s: cannot open: %s", path, strerror(errno));
    char *dir = out ? NULL : dir_of(path), *base = base_of(path);
    plots P = {.dir = out ? out : dir, .base = base, .n = 0};
    const char *tmpdir = getenv("TMPDIR");
    char *sp = NULL;
    int rc = !base || (!out && !dir) ? err("out of memory") : 0;
    if (!rc && out && mkdir(out, 0777) != 0 && errno != EEXIST)
        rc = err("%s: cannot create: %s", out, strerror(errno));
    struct stat sb;
    if (!rc && (stat(P.dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        rc = err("%s: not a directory", P.dir);
    /* the kind of file: metrics lines are objects with a "type", one per line; a scaling
       report is one JSON object (over many lines) with "measured" */
    int scaling = 0;
    js doc;
    memset(&doc, 0, sizeof doc);
    run R;
    memset(&R, 0, sizeof R);
    if (!rc) {
        char *first = NULL;
        size_t cap = 0;
        ssize_t n1 = getline(&first, &cap, in);
        int metrics = 0;
        if (n1 > 0 && js_parse(first, (size_t)n1, &doc, NULL, NULL) == 0) {
            metrics = js_str(&doc, "type") != NULL;
            js_free(&doc);
        }
        free(first);
        rewind(in);
        if (!metrics && n1 > 0) {
            size_t len = 0;
            char *text = slurp(in, &len);
            if (text && js_parse(text, len, &doc, NULL, NULL) == 0 && js_get(&doc, "measured"))
                scaling = 1;
            free(text);
            rewind(in);
        }
        if (!scaling) {
            snprintf(R.title, sizeof R.title, "%s", path);
            rc = read_metrics(path, in, &R);
        }
    }
    fclose(in);
    FILE *f = NULL;
    if (!rc) { /* the script, in TMPDIR when set */
        size_t n = (tmpdir && *tmpdir ? strlen(tmpdir) : 4) + 24;
        sp = malloc(n);
        if (sp) snprintf(sp, n, "%s/dbx-plot-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        int fd = sp ? mkstemp(sp) : -1;
        if (fd < 0 || !(f = fdopen(fd, "w"))) {
            rc = err("cannot create a temporary file in %s: %s", tmpdir ? tmpdir : "/tmp",
                     strerror(errno));
            if (fd >= 0) close(fd), unlink(sp);
            free(sp);
            sp = NULL;
        }
    }
    if (!rc) {
        if (scaling) rc = scaling_script(f, path, &doc, &P);
        else metrics_script(f, &R, &P);
        if (fclose(f) != 0 && !rc) rc = err("%s: cannot write: %s", sp, strerror(errno));
    }
    if (!rc) rc = run_gnuplot(sp);
    for (int i = 0; !rc && i < P.n; i++) {
        struct stat ps;
        if (stat(P.path[i], &ps) != 0 || ps.st_size == 0)
            rc = err("gnuplot wrote no %s", P.path[i]);
    }
    for (int i = 0; !rc && i < P.n; i++) printf("%s\n", P.path[i]);
    if (sp) unlink(sp);
    free(sp);
    for (int i = 0; i < P.n; i++) free(P.path[i]);
    js_free(&doc);
    run_free(&R);
    free(dir);
    free(base);
    if (!rc && fflush(stdout) != 0) rc = err("cannot write to standard output");
    return rc;
}
