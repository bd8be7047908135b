/* The GEMM bound of bench_treelstm and bench_tagger (bench/treelstm.c): the affine terms
 * (weights rows x cols, batch width n) that an epoch runs, counted by shape, and the time of
 * one term's three GEMMs (forward out += W x, dx += W^T dy, dW += dy x^T) as the CPU
 * backend runs them: through its affine kernels (kernels/cpu/cpu_backend.c), so with the
 * same GEMM library (DBX_CPU_GEMM and the shape rules that send a GEMM to oneDNN or to
 * OpenBLAS), the same weight layouts (OpenBLAS's forward on the column-major copy, oneDNN's
 * packed weights) and the same precision (bf16: activations and dy converted in every call,
 * the weights packed and converted once per shape, outside the timing, as dbx does once per
 * step). Each term is timed alone: its argument contiguous, its output rows its own.
 * Header-only (static), for bench/treelstm.c; one thread. */
#ifndef DBX_BENCH_GEMM_BOUND_H
#define DBX_BENCH_GEMM_BOUND_H

#include <stdint.h>
#include <stdlib.h>

#include "bench/bench_util.h"
#include "dbx/dbx.h"
#include "core/status.h"
#include "kernels/backend.h"

#define BOUND_MIN_RUN_S 0.002 /* each timed run of a term lasts at least this long */
#define BOUND_RUNS 5          /* timed runs per term; the median is kept */

typedef struct term_entry {
    int rows, cols, n;      /* rows = 0: empty slot */
    int64_t count;
} term_entry;

typedef struct term_map {
    term_entry *e;
    size_t cap, len;
} term_map;

static size_t term_hash(int rows, int cols, int n)
{
    uint64_t h = (uint64_t)(uint32_t)rows * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)(uint32_t)cols * 0xc2b2ae3d27d4eb4full + (h << 6) + (h >> 2);
    h ^= (uint64_t)(uint32_t)n * 0x165667b19e3779f9ull + (h << 6) + (h >> 2);
    return (size_t)(h ^ (h >> 29));
}

/* Adds count terms of shape (rows, cols, n); 0, or -1 when out of memory. */
static int term_add(term_map *tm, int rows, int cols, int n, int64_t count)
{
    if (2 * (tm->len + 1) > tm->cap) {
        size_t cap = tm->cap ? 2 * tm->cap : 1024;
        term_map big = {calloc(cap, sizeof *big.e), cap, 0};
        if (!big.e) return -1;
        for (size_t i = 0; i < tm->cap; i++)
            if (tm->e[i].rows)
                term_add(&big, tm->e[i].rows, tm->e[i].cols, tm->e[i].n, tm->e[i].count);
        free(tm->e);
        *tm = big;
    }
    size_t i = term_hash(rows, cols, n) & (tm->cap - 1);
    while (tm->e[i].rows &&
           !(tm->e[i].rows == rows && tm->e[i].cols == cols && tm->e[i].n == n))
        i = (i + 1) & (tm->cap - 1);
    if (!tm->e[i].rows) {
        tm->e[i] = (term_entry){rows, cols, n, 0};
        tm->len++;
    }
    tm->e[i].count += count;
    return 0;
}

/* One affine batch of one weight term on the CPU backend, run forward or backward. */
typedef struct term_run {
    dbx_backend *be;
    dbx_kbatch kb;
    dbx_kterm tm;
    int arg_dim;
    unsigned char contig;
    int64_t *arg_off;       /* (n) */
    float *vals, *grads;    /* x (cols, n) at 0, out (rows, n) at kb.out_off */
    int backward;
} term_run;

static dbx_status term_call(term_run *t)
{
    return t->backward ? t->be->ops->backward(t->be, t->vals, t->grads, &t->kb)
                       : t->be->ops->forward(t->be, t->vals, &t->kb);
}

/* Seconds per call of t: the median of BOUND_RUNS runs of enough calls to last
   BOUND_MIN_RUN_S each, after a warm-up call. */
static dbx_status term_time(term_run *t, double *seconds)
{
    DBX_TRY(term_call(t));
    double t0 = now_s();
    DBX_TRY(term_call(t));
    double one = now_s() - t0;
    long reps = one > 0 ? (long)ceil(BOUND_MIN_RUN_S / one) : 1000;
    if (reps < 1) reps = 1;
    double runs[BOUND_RUNS];
    for (int r = 0; r < BOUND_RUNS; r++) {
        t0 = now_s();
        for (long i = 0; i < reps; i++) DBX_TRY(term_call(t));
        double dt = now_s() - t0;
        if (dt < BOUND_MIN_RUN_S && r == 0) { /* calibration was optimistic: redo longer */
            reps = (long)ceil((double)reps * BOUND_MIN_RUN_S / (dt > 0 ? dt : 1e-9) * 1.2);
            r--;
            continue;
        }
        runs[r] = dt / (double)reps;
    }
    qsort(runs, BOUND_RUNS, sizeof *runs, cmp_double);
    *seconds = runs[BOUND_RUNS / 2];
    return DBX_OK;
}

/* Seconds of the three GEMMs of one term of shape e (forward + backward of its batch) on
   the CPU backend at precision prec. */
static dbx_status term_seconds(const term_entry *e, dbx_precision prec, double *seconds)
{
    const int rows = e->rows, cols = e->cols, n = e->n, ld = rows + 16;
    term_run t = {.arg_dim = cols, .contig = 1};
    float *w = NULL, *wt = NULL, *dw = NULL;
    const size_t out_off = ((size_t)cols * n + 15) & ~(size_t)15;
    const size_t nv = out_off + (size_t)rows * n;
    dbx_status s = dbx__backend_get("cpu", 0, &t.be);
    if (s) return s;
    w = calloc((size_t)rows * cols, sizeof *w);
    wt = calloc((size_t)ld * cols, sizeof *wt);
    dw = calloc((size_t)rows * cols, sizeof *dw);
    t.vals = calloc(nv, sizeof *t.vals);
    t.grads = calloc(nv, sizeof *t.grads);
    t.arg_off = calloc((size_t)n, sizeof *t.arg_off);
    if (!w || !wt || !dw || !t.vals || !t.grads || !t.arg_off) {
        s = dbx__fail(DBX_ENOMEM, "out of memory timing a %d x %d term", rows, cols);
        goto out;
    }
    for (size_t i = 0; i < (size_t)rows * cols; i++) w[i] = 1e-3f * (float)(i % 7);
    for (size_t i = 0; i < nv; i++) t.vals[i] = t.grads[i] = 1e-3f * (float)(i % 5);
    for (int j = 0; j < n; j++) t.arg_off[j] = (int64_t)j * cols;
    t.tm = (dbx_kterm){.w = w, .wt = wt, .wt_ld = ld, .dw = dw, .rows = rows, .cols = cols,
                       .row_off = 0, .arg = 0};
    t.kb = (dbx_kbatch){.op = DBX_OP_AFFINE, .n = n, .dim = rows, .nargs = 1,
                        .arg_dim = &t.arg_dim, .arg_off = t.arg_off, .arg_contig = &t.contig,
                        .out_off = (int64_t)out_off, .nterms = 1, .terms = &t.tm,
                        .bf16 = prec == DBX_PRECISION_BF16};
    /* the executor's refresh of the weights, once per step: the first call packs them */
    if ((s = t.be->ops->reserve(t.be, 2 * (size_t)cols * n)) ||
        (s = t.be->ops->transpose(t.be, wt, ld, w, rows, cols)))
        goto out;
    double fwd, bwd;
    if ((s = term_time(&t, &fwd))) goto out;
    t.backward = 1;
    if ((s = term_time(&t, &bwd))) goto out;
    *seconds = fwd + bwd;
out:
    free(w), free(wt), free(dw), free(t.vals), free(t.grads), free(t.arg_off);
    return s;
}

#endif /* DBX_BENCH_GEMM_BOUND_H */
