/* The CUDA backend against the CPU backend, through the backend vtable only (no graph, no
 * executor): every op forward and backward, memory entries, transpose and optimizers, on
 * identical inputs built in host memory. A scenario is one batch over a value arena and a
 * gradient arena (offsets shared by both backends) plus a parameter buffer (weights, their
 * column-major copies, biases, tables) and its gradient buffer; each backend allocates
 * them with alloc(), uploads, runs forward and backward, and the downloaded buffers are
 * compared in full (so stray writes are caught too). Batch widths 1, 7 and 1031; argument
 * layouts contiguous, permuted, strided and shared (several nodes naming one argument,
 * which makes the GPU accumulate with atomics), and aliased (cmult(x, x)); pooling ops (sum,
 * max, average) whose nodes have fewer arguments than the batch (offset -1 for the absent
 * ones) or a list of one child, and max with ties (its gradient goes to the first argument
 * holding the maximum); layer norm's gain and bias one node for the whole batch.
 * Tolerances, as max |a - b| / max(|a|, |b|, 1): elementwise ops, per-node vector ops,
 * losses, softmax-xent and optimizers 1e-5 (bitwise equality is expected for elementwise
 * ops and node-matrix products where no two nodes share an argument: the GPU uses the CPU's
 * exp/sigmoid/tanh and summation order without FMA contraction; reductions accumulate in
 * double in another order); paths through a GEMM, gradients summed over 1000+ nodes (lookup
 * rows, layer norm's gain and bias, the wide batch of test_stream) and node-matrix products
 * with shared arguments, 1e-4.
 * Exits 77 (skipped) when dbx was built without the CUDA backend or no GPU can be used. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/dbx.h"
#include "kernels/backend.h"
#include "testutil.h"

static dbx_backend *be_cpu, *be_gpu;

#define TOL_EW 1e-5
#define FLOOR_EW 1.0
#define TOL_GEMM 1e-4
#define FLOOR_GEMM 1.0
#define TOL_ACC 1e-4 /* sums of 1000+ terms that the GPU adds in another order */

static const int widths[3] = {1, 7, 1031};

/* ---- random numbers (deterministic) --------------------------------------------------------- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static int irand(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() >> 8) / 16777216.0f;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "test_cuda: out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- scenarios ------------------------------------------------------------------------------ */
/* An affine term with its matrices given as offsets into the parameter buffer (-1: NULL);
   dw is at the same offset in the parameter gradient buffer as w (as the bias). */
typedef struct tterm {
    int64_t w, wt;
    int wt_ld, rows, cols, row_off, arg;
} tterm;

enum { MAX_TERMS = 12 };

typedef struct scenario {
    char name[160];
    dbx_kbatch kb;        /* host index arrays below; terms, table filled per backend */
    int64_t *arg_off;
    int *arg_dim;
    unsigned char *arg_contig;
    int32_t *attr;
    int has_chain;
    dbx_kbatch chain;     /* lstm_h fused into an lstm_c batch */
    int64_t *chain_off;
    int chain_dim[2];
    unsigned char chain_contig[2];
    tterm terms[MAX_TERMS];
    int nterms;
    int64_t table;        /* offset of the lookup table in the parameter buffer, or -1 */
    size_t nvals, nparams;
    float *vals, *grads, *params, *pgrads;
    float vlo, vhi;       /* range of the random values */
    size_t scratch;
    double tol, floor;
} scenario;

static scenario *scen_new(enum dbx_op op, int n, int dim, int nargs)
{
    scenario *s = xcalloc(1, sizeof *s);
    s->kb.op = op;
    s->kb.n = n;
    s->kb.dim = dim;
    s->kb.nargs = nargs;
    s->arg_off = xcalloc((size_t)(nargs ? nargs : 1) * (size_t)n, sizeof *s->arg_off);
    s->arg_dim = xcalloc((size_t)(nargs ? nargs : 1), sizeof *s->arg_dim);
    s->arg_contig = xcalloc((size_t)(nargs ? nargs : 1), 1);
    s->attr = xcalloc((size_t)n, sizeof *s->attr);
    s->kb.arg_off = s->arg_off;
    s->kb.arg_dim = s->arg_dim;
    s->kb.arg_contig = s->arg_contig;
    s->kb.attr = s->attr;
    s->table = -1;
    s->vlo = -1.0f;
    s->vhi = 1.0f;
    s->tol = TOL_EW;
    s->floor = FLOOR_EW;
    snprintf(s->name, sizeof s->name, "op %d n %d dim %d", (int)op, n, dim);
    return s;
}

static void scen_free(scenario *s)
{
    free(s->arg_off);
    free(s->arg_dim);
    free(s->arg_contig);
    free(s->attr);
    free(s->chain_off);
    free(s->vals);
    free(s->grads);
    free(s->params);
    free(s->pgrads);
    free(s);
}

static int64_t take(scenario *s, size_t floats)
{
    int64_t at = (int64_t)s->nvals;
    s->nvals += floats + (size_t)irand(0, 3); /* small gaps between blocks */
    return at;
}

static int64_t ptake(scenario *s, size_t floats)
{
    int64_t at = (int64_t)s->nparams;
    s->nparams += floats;
    return at;
}

enum layout { L_CONTIG, L_PERMUTED, L_STRIDED, L_SHARED, NLAYOUTS };
static const char *const layout_names[NLAYOUTS] = {"contig", "permuted", "strided", "shared"};

/* Places argument a (dim floats per node) in the value arena with the given layout. */
static void place_arg(scenario *s, int a, int dim, enum layout L)
{
    const int n = s->kb.n;
    int64_t *off = s->arg_off + (size_t)a * (size_t)n;
    s->arg_dim[a] = dim;
    s->arg_contig[a] = L == L_CONTIG;
    switch (L) {
    case L_CONTIG: {
        int64_t base = take(s, (size_t)n * (size_t)dim);
        for (int j = 0; j < n; j++) off[j] = base + (int64_t)j * dim;
        break;
    }
    case L_PERMUTED: {
        int64_t base = take(s, (size_t)n * (size_t)dim);
        int *perm = xcalloc((size_t)n, sizeof *perm);
        for (int j = 0; j < n; j++) perm[j] = j;
        for (int j = n - 1; j > 0; j--) {
            int k = irand(0, j), t = perm[j];
            perm[j] = perm[k];
            perm[k] = t;
        }
        for (int j = 0; j < n; j++) off[j] = base + (int64_t)perm[j] * dim;
        free(perm);
        break;
    }
    case L_STRIDED: {
        int stride = dim + irand(1, 5);
        int64_t base = take(s, (size_t)n * (size_t)stride);
        for (int j = 0; j < n; j++) off[j] = base + (int64_t)j * stride;
        break;
    }
    case L_SHARED: {
        int m = n / 3 > 0 ? n / 3 : 1;
        int64_t base = take(s, (size_t)m * (size_t)dim);
        for (int j = 0; j < n; j++) off[j] = base + (int64_t)irand(0, m - 1) * dim;
        break;
    }
    case NLAYOUTS: break;
    }
}

/* Argument a names the same nodes as argument src (cmult(x, x)). */
static void alias_arg(scenario *s, int a, int src)
{
    const size_t n = (size_t)s->kb.n;
    memcpy(s->arg_off + (size_t)a * n, s->arg_off + (size_t)src * n, n * sizeof *s->arg_off);
    s->arg_dim[a] = s->arg_dim[src];
    s->arg_contig[a] = s->arg_contig[src];
}

static void place_out(scenario *s) { s->kb.out_off = take(s, (size_t)s->kb.n * (size_t)s->kb.dim); }

/* Allocates and fills the arenas and buffers (after every take/ptake). */
static void scen_fill(scenario *s)
{
    s->nvals += 16;
    s->vals = xcalloc(s->nvals, sizeof(float));
    s->grads = xcalloc(s->nvals, sizeof(float));
    for (size_t i = 0; i < s->nvals; i++) {
        s->vals[i] = frand(s->vlo, s->vhi);
        s->grads[i] = frand(-0.5f, 0.5f);
    }
    s->params = xcalloc(s->nparams + 16, sizeof(float));
    s->pgrads = xcalloc(s->nparams + 16, sizeof(float));
    for (size_t i = 0; i < s->nparams + 16; i++) {
        s->params[i] = frand(-1.0f, 1.0f);
        s->pgrads[i] = frand(-0.5f, 0.5f);
    }
}

/* ---- running a scenario on a backend -------------------------------------------------------- */
typedef struct result {
    float *vals, *grads, *params, *pgrads;
} result;

static void result_free(result *r)
{
    free(r->vals);
    free(r->grads);
    free(r->params);
    free(r->pgrads);
    memset(r, 0, sizeof *r);
}

#define OK(call)                                                                             \
    do {                                                                                     \
        dbx_status st_ = (call);                                                             \
        if (st_ != DBX_OK) {                                                                 \
            printf("\n  %s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call, dbx_status_str(st_), \
                   dbx_last_error());                                                        \
            CU_FAIL(#call);                                                                  \
            ok = 0;                                                                          \
            goto done;                                                                       \
        }                                                                                    \
    } while (0)

static float *put(dbx_backend *be, const float *host, size_t n)
{
    void *p = NULL;
    if (be->ops->alloc(be, n * sizeof(float), &p) != DBX_OK) return NULL;
    if (be->ops->upload(be, p, host, n * sizeof(float)) != DBX_OK) {
        be->ops->free(be, p);
        return NULL;
    }
    return p;
}

static float *get(dbx_backend *be, const float *dev, size_t n)
{
    float *h = xcalloc(n, sizeof(float));
    if (be->ops->sync(be) != DBX_OK || be->ops->download(be, h, dev, n * sizeof(float)) != DBX_OK)
        CU_FAIL("download");
    return h;
}

static int run(dbx_backend *be, const scenario *s, int backward, result *r)
{
    const dbx_backend_ops *o = be->ops;
    const size_t np = s->nparams + 16;
    int ok = 1;
    float *v = put(be, s->vals, s->nvals), *g = put(be, s->grads, s->nvals);
    float *p = put(be, s->params, np), *pg = put(be, s->pgrads, np);
    memset(r, 0, sizeof *r);
    if (!v || !g || !p || !pg) {
        printf("\n  %s: alloc/upload: %s\n", o->name, dbx_last_error());
        CU_FAIL("alloc/upload");
        ok = 0;
        goto done;
    }
    if (s->scratch) OK(o->reserve(be, s->scratch));
    dbx_kterm terms[MAX_TERMS];
    for (int t = 0; t < s->nterms; t++) {
        const tterm *tt = &s->terms[t];
        terms[t].w = tt->w >= 0 ? p + tt->w : NULL;
        terms[t].wt = tt->wt >= 0 ? p + tt->wt : NULL;
        terms[t].wt_ld = tt->wt_ld;
        terms[t].dw = tt->w >= 0 ? pg + tt->w : NULL;
        terms[t].rows = tt->rows;
        terms[t].cols = tt->cols;
        terms[t].row_off = tt->row_off;
        terms[t].arg = tt->arg;
    }
    dbx_kbatch kb = s->kb, ch = s->chain;
    kb.nterms = s->nterms;
    kb.terms = s->nterms ? terms : NULL;
    kb.table = s->table >= 0 ? p + s->table : NULL;
    kb.dtable = s->table >= 0 ? pg + s->table : NULL;
    kb.chain = s->has_chain ? &ch : NULL;
    OK(o->forward(be, v, &kb));
    if (backward) OK(o->backward(be, v, g, &kb));
    OK(o->sync(be));
    r->vals = get(be, v, s->nvals);
    r->grads = get(be, g, s->nvals);
    r->params = get(be, p, np);
    r->pgrads = get(be, pg, np);
done:
    if (v) o->free(be, v);
    if (g) o->free(be, g);
    if (p) o->free(be, p);
    if (pg) o->free(be, pg);
    return ok;
}

static void compare(const char *scen, const char *what, const float *cpu, const float *gpu,
                    size_t n, double tol, double floor)
{
    double worst = dbx_test_max_rel(cpu, gpu, n, floor);
    if (!(worst <= tol)) {
        size_t at = 0;
        double wr = -1;
        for (size_t i = 0; i < n; i++) {
            double m = fmax(fmax(fabs(cpu[i]), fabs(gpu[i])), floor);
            double rr = fabs((double)cpu[i] - (double)gpu[i]) / m;
            if (!(rr <= wr)) {
                wr = rr;
                at = i;
            }
        }
        printf("\n  %s: %s differ: max rel %.3g > %.3g at [%zu]: cpu %.9g cuda %.9g\n", scen,
               what, worst, tol, at, (double)cpu[at], (double)gpu[at]);
    }
    CU_ASSERT(worst <= tol);
}

/* Runs s forward (and backward) on both backends and compares every buffer. */
static void check(scenario *s, int backward)
{
    result rc, rg;
    int okc = run(be_cpu, s, backward, &rc);
    int okg = run(be_gpu, s, backward, &rg);
    if (okc && okg) {
        compare(s->name, "values", rc.vals, rg.vals, s->nvals, s->tol, s->floor);
        compare(s->name, "gradients", rc.grads, rg.grads, s->nvals, s->tol, s->floor);
        compare(s->name, "parameters", rc.params, rg.params, s->nparams + 16, s->tol, s->floor);
        compare(s->name, "parameter gradients", rc.pgrads, rg.pgrads, s->nparams + 16, s->tol,
                s->floor);
    }
    result_free(&rc);
    result_free(&rg);
}

/* ---- elementwise ops ------------------------------------------------------------------------ */
static void test_unary(void)
{
    static const enum dbx_op ops[4] = {DBX_OP_TANH, DBX_OP_SIGMOID, DBX_OP_RELU, DBX_OP_SLICE};
    for (int o = 0; o < 4; o++)
        for (int w = 0; w < 3; w++)
            for (int L = 0; L < NLAYOUTS; L++) {
                const int n = widths[w];
                const int D = (w == 2 && L == L_PERMUTED) ? 2560 : irand(1, 300);
                scenario *s = scen_new(ops[o], n, D, 1);
                int adim = D;
                if (ops[o] == DBX_OP_SLICE) {
                    adim = D + irand(0, 40);
                    s->kb.iparam = irand(0, adim - D);
                }
                place_arg(s, 0, adim, (enum layout)L);
                place_out(s);
                s->vlo = -4.0f;
                s->vhi = 4.0f;
                scen_fill(s);
                snprintf(s->name, sizeof s->name, "unary op %d n %d dim %d %s", (int)ops[o], n, D,
                         layout_names[L]);
                check(s, 1);
                scen_free(s);
            }
}

/* scale_shift (factor and shift in the signature), exp, log (of positive values), dropout
   (rate in the signature, 0 included; a mask key per node) and a weighted loss (dim 1, the
   weight in the signature). Layout contig at width 1: dim 1. */
static void test_unary_more(void)
{
    static const enum dbx_op ops[5] = {DBX_OP_SCALE, DBX_OP_EXP, DBX_OP_LOG, DBX_OP_DROPOUT,
                                       DBX_OP_LOSS};
    static const char *const names[5] = {"scale_shift", "exp", "log", "dropout", "loss"};
    for (int o = 0; o < 5; o++)
        for (int w = 0; w < 3; w++)
            for (int L = 0; L < NLAYOUTS; L++) {
                const int n = widths[w];
                const int D = ((w == 0 && L == L_CONTIG) || ops[o] == DBX_OP_LOSS)
                                  ? 1 : irand(1, 300);
                scenario *s = scen_new(ops[o], n, D, 1);
                place_arg(s, 0, D, (enum layout)L);
                place_out(s);
                s->vlo = -4.0f;
                s->vhi = 4.0f;
                if (ops[o] == DBX_OP_SCALE) {
                    s->kb.fparam[0] = frand(-2.0f, 2.0f);
                    s->kb.fparam[1] = frand(-1.0f, 1.0f);
                } else if (ops[o] == DBX_OP_LOG) {
                    s->vlo = 0.05f;
                } else if (ops[o] == DBX_OP_LOSS) {
                    s->kb.fparam[0] = frand(-2.0f, 2.0f);
                } else if (ops[o] == DBX_OP_DROPOUT) {
                    s->kb.fparam[0] = L == L_CONTIG ? 0.0f : frand(0.05f, 0.9f);
                    for (int j = 0; j < n; j++) s->attr[j] = (int32_t)(rnd() >> 1);
                }
                scen_fill(s);
                snprintf(s->name, sizeof s->name, "%s n %d dim %d %s p %g/%g", names[o], n, D,
                         layout_names[L], (double)s->kb.fparam[0], (double)s->kb.fparam[1]);
                check(s, 1);
                scen_free(s);
            }
}

/* constant: no arguments; backward leaves every buffer as it was */
static void test_const(void)
{
    for (int w = 0; w < 3; w++)
        for (int rep = 0; rep < 2; rep++) {
            const int n = widths[w], D = rep == 0 ? 1 : irand(2, 300);
            scenario *s = scen_new(DBX_OP_CONST, n, D, 0);
            s->kb.fparam[0] = frand(-3.0f, 3.0f);
            place_out(s);
            scen_fill(s);
            snprintf(s->name, sizeof s->name, "constant n %d dim %d value %g", n, D,
                     (double)s->kb.fparam[0]);
            check(s, 1);
            scen_free(s);
        }
}

static void test_binary(void)
{
    static const enum dbx_op ops[3] = {DBX_OP_ADD, DBX_OP_CMULT, DBX_OP_SUB};
    for (int o = 0; o < 3; o++)
        for (int w = 0; w < 3; w++)
            for (int L0 = 0; L0 < NLAYOUTS; L0++)
                for (int L1 = -1; L1 < NLAYOUTS; L1++) { /* -1: x1 is x0 */
                    const int n = widths[w], D = irand(1, 200);
                    scenario *s = scen_new(ops[o], n, D, 2);
                    place_arg(s, 0, D, (enum layout)L0);
                    if (L1 < 0) alias_arg(s, 1, 0);
                    else place_arg(s, 1, D, (enum layout)L1);
                    place_out(s);
                    scen_fill(s);
                    snprintf(s->name, sizeof s->name, "binary op %d n %d dim %d %s/%s", (int)ops[o],
                             n, D, layout_names[L0], L1 < 0 ? "same" : layout_names[L1]);
                    check(s, 1);
                    scen_free(s);
                }
}

/* concat, and the pooling ops over a list of nodes (sum, max, average): rep 0 one argument
   (a list of one child), rep 2 nodes with fewer arguments than the batch (pooling ops),
   rep 3 the last argument is the first; max at rep 1 on values with many ties. */
static void test_concat_pool(void)
{
    static const enum dbx_op ops[4] = {DBX_OP_CONCAT, DBX_OP_SUM, DBX_OP_MAX, DBX_OP_MEAN};
    static const char *const names[4] = {"concat", "sum", "max", "average"};
    for (int o = 0; o < 4; o++)
        for (int w = 0; w < 3; w++)
            for (int rep = 0; rep < 4; rep++) {
                const int pool = ops[o] != DBX_OP_CONCAT; /* all arguments of one dim */
                const int n = widths[w], nargs = rep == 0 ? 1 : irand(2, 6);
                int dims[6], D = 0;
                const int common = rep == 1 && w == 1 ? 1 : irand(1, 150);
                for (int a = 0; a < nargs; a++) dims[a] = pool ? common : irand(1, 80);
                if (rep == 3) dims[nargs - 1] = dims[0]; /* the last argument is the first */
                for (int a = 0; a < nargs; a++) D += pool ? (a == 0 ? common : 0) : dims[a];
                scenario *s = scen_new(ops[o], n, D, nargs);
                for (int a = 0; a < nargs; a++) {
                    if (rep == 3 && a == nargs - 1) alias_arg(s, a, 0); /* concat(x, ..., x) */
                    else place_arg(s, a, dims[a], (enum layout)irand(0, NLAYOUTS - 1));
                }
                for (int j = 1; rep == 2 && pool && j < n; j++)
                    for (int a = irand(1, nargs); a < nargs; a++) { /* pool of 1..nargs: -1 */
                        s->arg_off[(size_t)a * (size_t)n + (size_t)j] = -1;
                        s->arg_contig[a] = 0;
                    }
                place_out(s);
                scen_fill(s);
                if (ops[o] == DBX_OP_MAX && rep == 1) /* values -1, -0.5, 0, 0.5, 1: ties */
                    for (size_t i = 0; i < s->nvals; i++)
                        s->vals[i] = roundf(2.0f * s->vals[i]) / 2.0f;
                snprintf(s->name, sizeof s->name, "%s n %d nargs %d dim %d rep %d", names[o], n,
                         nargs, D, rep);
                check(s, 1);
                scen_free(s);
            }
}

/* lstm_c with k previous cells (gates (3+k)H, or 3H when k = 0), alone or with its lstm_h
   chained; then lstm_h alone. */
static void test_lstm(void)
{
    for (int w = 0; w < 3; w++)
        for (int k = 0; k <= 3; k++)
            for (int chain = 0; chain <= 1; chain++) {
                const int n = widths[w];
                const int H = (w == 2 && k == 1 && chain) ? 640 : irand(1, 120);
                const int G = (k ? 3 + k : 3) * H;
                scenario *s = scen_new(DBX_OP_LSTM_C, n, H, 1 + k);
                s->kb.iparam = k;
                place_arg(s, 0, G, (enum layout)irand(0, NLAYOUTS - 1));
                for (int q = 0; q < k; q++)
                    place_arg(s, 1 + q, H, (enum layout)irand(0, NLAYOUTS - 1));
                place_out(s);
                if (chain) {
                    s->has_chain = 1;
                    s->chain_off = xcalloc(2 * (size_t)n, sizeof *s->chain_off);
                    for (int j = 0; j < n; j++) {
                        s->chain_off[j] = s->arg_off[j];
                        s->chain_off[n + j] = s->kb.out_off + (int64_t)j * H;
                    }
                    s->chain_dim[0] = G;
                    s->chain_dim[1] = H;
                    s->chain_contig[0] = s->arg_contig[0];
                    s->chain_contig[1] = 1;
                    s->chain.op = DBX_OP_LSTM_H;
                    s->chain.n = n;
                    s->chain.dim = H;
                    s->chain.nargs = 2;
                    s->chain.arg_dim = s->chain_dim;
                    s->chain.arg_off = s->chain_off;
                    s->chain.arg_contig = s->chain_contig;
                    s->chain.attr = s->attr;
                    s->chain.iparam = k;
                    s->chain.out_off = take(s, (size_t)n * (size_t)H);
                }
                s->vlo = -3.0f;
                s->vhi = 3.0f;
                scen_fill(s);
                snprintf(s->name, sizeof s->name, "lstm_c n %d H %d k %d chain %d", n, H, k, chain);
                check(s, 1);
                scen_free(s);
            }
    for (int w = 0; w < 3; w++)
        for (int k = 0; k <= 2; k++) {
            const int n = widths[w], H = irand(1, 120), G = (k ? 3 + k : 3) * H;
            scenario *s = scen_new(DBX_OP_LSTM_H, n, H, 2);
            s->kb.iparam = k;
            place_arg(s, 0, G, (enum layout)irand(0, NLAYOUTS - 1));
            place_arg(s, 1, H, (enum layout)irand(0, NLAYOUTS - 1));
            place_out(s);
            s->vlo = -3.0f;
            s->vhi = 3.0f;
            scen_fill(s);
            snprintf(s->name, sizeof s->name, "lstm_h n %d H %d k %d", n, H, k);
            check(s, 1);
            scen_free(s);
        }
}

/* ---- affine --------------------------------------------------------------------------------- */
/* A weight term: W (rows, cols) with, when with_wt, its column-major copy (ld >= rows). */
static void add_gemm_term(scenario *s, int arg, int rows, int cols, int row_off, int with_wt)
{
    tterm *t = &s->terms[s->nterms++];
    t->arg = arg;
    t->rows = rows;
    t->cols = cols;
    t->row_off = row_off;
    t->w = ptake(s, (size_t)rows * (size_t)cols);
    t->wt = -1;
    if (with_wt) {
        t->wt_ld = rows + irand(0, 3);
        t->wt = ptake(s, (size_t)t->wt_ld * (size_t)cols);
    }
}

static void add_bias_term(scenario *s, int rows, int row_off)
{
    tterm *t = &s->terms[s->nterms++];
    t->arg = -1;
    t->rows = rows;
    t->cols = 1;
    t->row_off = row_off;
    t->w = ptake(s, (size_t)rows);
    t->wt = -1;
}

static void add_identity_term(scenario *s, int arg, int row_off)
{
    tterm *t = &s->terms[s->nterms++];
    t->arg = arg;
    t->rows = t->cols = s->arg_dim[arg];
    t->row_off = row_off;
    t->w = t->wt = -1;
}

/* After scen_fill: weights scaled by 1/sqrt(cols), column-major copies made from them. */
static void fix_weights(scenario *s)
{
    for (int t = 0; t < s->nterms; t++) {
        const tterm *tt = &s->terms[t];
        if (tt->arg < 0 || tt->w < 0) continue;
        float *W = s->params + tt->w, scale = 1.0f / sqrtf((float)tt->cols);
        for (size_t i = 0; i < (size_t)tt->rows * (size_t)tt->cols; i++) W[i] *= scale;
        if (tt->wt < 0) continue;
        float *Wt = s->params + tt->wt;
        for (int r = 0; r < tt->rows; r++)
            for (int c = 0; c < tt->cols; c++)
                Wt[(size_t)c * tt->wt_ld + r] = W[(size_t)r * tt->cols + c];
    }
}

static void test_affine(void)
{
    for (int w = 0; w < 3; w++)
        for (int variant = 0; variant < 6; variant++) {
            const int n = widths[w];
            const int D = irand(16, 300);
            const int c0 = irand(1, 300), c1 = irand(1, 200), r1 = irand(1, D);
            const int c2 = irand(1, D);
            int nargs = 3, maxc = c0 > c1 ? c0 : c1;
            if (variant == 5) nargs = 10;
            scenario *s = scen_new(DBX_OP_AFFINE, n, D, nargs);
            /* variant: 0 all contiguous; 1 x1 permuted; 2 x1 strided, no wt; 3 x0 and x1
               shared; 4 weights only (no bias, no identity); 5 eleven bias/identity terms
               (more than one launch of the adding kernel) */
            place_arg(s, 0, c0, variant == 3 ? L_SHARED : L_CONTIG);
            place_arg(s, 1, c1, variant == 1 ? L_PERMUTED : variant == 2 ? L_STRIDED
                                : variant == 3 ? L_SHARED : L_CONTIG);
            place_arg(s, 2, c2, (enum layout)(variant % NLAYOUTS));
            for (int a = 3; a < nargs; a++) {
                place_arg(s, a, irand(1, D), (enum layout)irand(0, NLAYOUTS - 1));
                if (a == 4) alias_arg(s, a, 3);
            }
            place_out(s);
            if (variant != 4) add_bias_term(s, D, 0);
            add_gemm_term(s, 0, D, c0, 0, variant != 2);
            add_gemm_term(s, 1, r1, c1, irand(0, D - r1), variant == 1 || variant == 3);
            if (variant != 4) add_identity_term(s, 2, irand(0, D - c2));
            if (variant == 5) {
                for (int a = 3; a < nargs; a++)
                    add_identity_term(s, a, irand(0, D - s->arg_dim[a]));
                int rb = irand(1, D);
                add_bias_term(s, rb, irand(0, D - rb));
            }
            s->scratch = 2 * (size_t)n * (size_t)maxc;
            s->tol = TOL_GEMM;
            s->floor = FLOOR_GEMM;
            scen_fill(s);
            fix_weights(s);
            snprintf(s->name, sizeof s->name, "affine n %d D %d cols %d/%d/%d variant %d", n, D, c0,
                     c1, c2, variant);
            check(s, 1);
            scen_free(s);
        }
}

/* ---- lookup, softmax cross-entropy ---------------------------------------------------------- */
static void test_lookup(void)
{
    static const int nrows[3] = {1, 50, 5000};
    for (int w = 0; w < 3; w++)
        for (int t = 0; t < 3; t++) {
            const int n = widths[w], dim = irand(1, 300), R = nrows[t];
            scenario *s = scen_new(DBX_OP_LOOKUP, n, dim, 0);
            for (int j = 0; j < n; j++) s->attr[j] = irand(0, R - 1); /* rows repeat */
            place_out(s);
            s->table = ptake(s, (size_t)R * (size_t)dim);
            s->tol = TOL_ACC;
            scen_fill(s);
            snprintf(s->name, sizeof s->name, "lookup n %d dim %d rows %d", n, dim, R);
            check(s, 1);
            scen_free(s);
        }
}

static void test_xent(void)
{
    static const int labels[4] = {1, 5, 37, 1000};
    for (int w = 0; w < 3; w++)
        for (int t = 0; t < 4; t++) {
            const int n = widths[w], Lc = labels[t];
            const enum layout L = (enum layout)((w + t) % NLAYOUTS);
            scenario *s = scen_new(DBX_OP_XENT, n, 1, 1);
            place_arg(s, 0, Lc, L);
            for (int j = 0; j < n; j++) s->attr[j] = irand(0, Lc - 1);
            place_out(s);
            s->vlo = -5.0f;
            s->vhi = 5.0f;
            scen_fill(s);
            snprintf(s->name, sizeof s->name, "softmax_xent n %d classes %d %s", n, Lc,
                     layout_names[L]);
            check(s, 1);
            scen_free(s);
        }
}

/* ---- per-node vector ops -------------------------------------------------------------------- */
/* Argument a of every node is one node of dim floats (layer norm's gain and bias). */
static void place_one(scenario *s, int a, int dim)
{
    const int n = s->kb.n;
    const int64_t at = take(s, (size_t)dim);
    s->arg_dim[a] = dim;
    s->arg_contig[a] = 0;
    for (int j = 0; j < n; j++) s->arg_off[(size_t)a * (size_t)n + (size_t)j] = at;
}

/* dot, sum_elems, softmax, log_softmax and pick; dot's second argument in another layout,
   or (layout shared) the first again: dot(x, x). Layout contig at width 1: dim 1; the wide
   batch permuted: dim 1000 (many strides of a warp). */
static void test_vec(void)
{
    static const enum dbx_op ops[5] = {DBX_OP_DOT, DBX_OP_SUM_ELEMS, DBX_OP_SOFTMAX,
                                       DBX_OP_LOG_SOFTMAX, DBX_OP_PICK};
    static const char *const names[5] = {"dot", "sum_elems", "softmax", "log_softmax", "pick"};
    for (int o = 0; o < 5; o++)
        for (int w = 0; w < 3; w++)
            for (int L = 0; L < NLAYOUTS; L++) {
                const int n = widths[w];
                const int D = (w == 0 && L == L_CONTIG) ? 1
                              : (w == 2 && L == L_PERMUTED) ? 1000 : irand(1, 300);
                const int same = ops[o] == DBX_OP_SOFTMAX || ops[o] == DBX_OP_LOG_SOFTMAX;
                scenario *s = scen_new(ops[o], n, same ? D : 1, ops[o] == DBX_OP_DOT ? 2 : 1);
                place_arg(s, 0, D, (enum layout)L);
                if (ops[o] == DBX_OP_DOT) {
                    if (L == L_SHARED) alias_arg(s, 1, 0);
                    else place_arg(s, 1, D, (enum layout)((L + 1) % NLAYOUTS));
                }
                if (ops[o] == DBX_OP_PICK)
                    for (int j = 0; j < n; j++) s->attr[j] = irand(0, D - 1);
                place_out(s);
                s->vlo = -5.0f;
                s->vhi = 5.0f;
                scen_fill(s);
                snprintf(s->name, sizeof s->name, "%s n %d dim %d %s", names[o], n, D,
                         layout_names[L]);
                check(s, 1);
                scen_free(s);
            }
}

/* layer_norm(x, gain, bias): gain and bias one node each for the whole batch (their
   gradients sum over every node); dim 1 (zero variance) at width 1. */
static void test_layer_norm(void)
{
    for (int w = 0; w < 3; w++)
        for (int L = 0; L < NLAYOUTS; L++) {
            const int n = widths[w];
            const int D = (w == 0 && L == L_CONTIG) ? 1
                          : (w == 2 && L == L_PERMUTED) ? 1000 : irand(2, 300);
            scenario *s = scen_new(DBX_OP_LAYER_NORM, n, D, 3);
            place_arg(s, 0, D, (enum layout)L);
            place_one(s, 1, D);
            place_one(s, 2, D);
            place_out(s);
            s->vlo = -3.0f;
            s->vhi = 3.0f;
            s->tol = n > 100 ? TOL_ACC : TOL_EW;
            scen_fill(s);
            snprintf(s->name, sizeof s->name, "layer_norm n %d dim %d %s", n, D, layout_names[L]);
            check(s, 1);
            scen_free(s);
        }
}

/* mat_vec (M x) and mat_t_vec (M^T y), M (rows, cols) column after column: shapes with one
   row or one column, and (variant 4) one row (mat_vec) or one column (mat_t_vec), where M
   and the vector have one dim, with the vector the matrix itself: mat_vec(M, M). */
static void test_mat_vec(void)
{
    static const int shapes[4][2] = {{1, 1}, {1, 9}, {13, 1}, {0, 0}}; /* 0: random */
    for (int t = 0; t < 2; t++)
        for (int w = 0; w < 3; w++)
            for (int variant = 0; variant < 5; variant++) {
                const enum dbx_op op = t == 0 ? DBX_OP_MAT_VEC : DBX_OP_MAT_T_VEC;
                const int n = widths[w];
                int rows, cols;
                if (variant < 3) {
                    rows = shapes[variant][0];
                    cols = shapes[variant][1];
                } else {
                    rows = irand(1, 40);
                    cols = irand(1, 40);
                }
                if (variant == 4) { /* M and the vector of one dim */
                    if (op == DBX_OP_MAT_VEC) rows = 1;
                    else cols = 1;
                }
                const int vdim = op == DBX_OP_MAT_VEC ? cols : rows;
                const int odim = op == DBX_OP_MAT_VEC ? rows : cols;
                const enum layout LM = (enum layout)((w + variant) % NLAYOUTS);
                const enum layout LV = (enum layout)((w + 2 * variant + 1) % NLAYOUTS);
                scenario *s = scen_new(op, n, odim, 2);
                place_arg(s, 0, rows * cols, LM);
                if (variant == 4) alias_arg(s, 1, 0);
                else place_arg(s, 1, vdim, LV);
                place_out(s);
                /* sums of products in float: the GPU adds them in the CPU's order, but nodes
                   sharing an argument add into its gradient in another order */
                if (LM == L_SHARED || (variant != 4 && LV == L_SHARED)) s->tol = TOL_ACC;
                scen_fill(s);
                snprintf(s->name, sizeof s->name, "%s n %d rows %d cols %d %s/%s",
                         op == DBX_OP_MAT_VEC ? "mat_vec" : "mat_t_vec", n, rows, cols,
                         layout_names[LM], variant == 4 ? "same" : layout_names[LV]);
                check(s, 1);
                scen_free(s);
            }
}

/* ---- losses --------------------------------------------------------------------------------- */
/* nll, logistic (dim 1, labels 0/1), squared error (the second argument in another layout,
   or, layout shared, the first again) and hinge (margins 1 and random); one class at width
   1, layout contig. */
static void test_losses(void)
{
    static const enum dbx_op ops[4] = {DBX_OP_NLL, DBX_OP_LOGISTIC, DBX_OP_SQ_ERR,
                                       DBX_OP_HINGE};
    static const char *const names[4] = {"nll", "logistic_loss", "squared_error", "hinge"};
    for (int o = 0; o < 4; o++)
        for (int w = 0; w < 3; w++)
            for (int L = 0; L < NLAYOUTS; L++) {
                const int n = widths[w];
                const int D = ops[o] == DBX_OP_LOGISTIC ? 1
                              : (w == 0 && L == L_CONTIG) ? 1
                              : (w == 2 && L == L_PERMUTED) ? 1000 : irand(2, 300);
                scenario *s = scen_new(ops[o], n, 1, ops[o] == DBX_OP_SQ_ERR ? 2 : 1);
                place_arg(s, 0, D, (enum layout)L);
                if (ops[o] == DBX_OP_SQ_ERR) {
                    if (L == L_SHARED) alias_arg(s, 1, 0);
                    else place_arg(s, 1, D, (enum layout)((L + 1) % NLAYOUTS));
                }
                for (int j = 0; j < n; j++)
                    s->attr[j] = ops[o] == DBX_OP_LOGISTIC ? irand(0, 1) : irand(0, D - 1);
                if (ops[o] == DBX_OP_HINGE) s->kb.fparam[0] = L % 2 ? 1.0f : frand(0.0f, 2.0f);
                place_out(s);
                s->vlo = -3.0f;
                s->vhi = 3.0f;
                scen_fill(s);
                snprintf(s->name, sizeof s->name, "%s n %d dim %d %s", names[o], n, D,
                         layout_names[L]);
                check(s, 1);
                scen_free(s);
            }
}

/* ---- memory entries, transpose -------------------------------------------------------------- */
static void test_memory(void)
{
    static const size_t sizes[4] = {1, 1000, 16384, 1 << 20}; /* floats: ring and direct paths */
    for (int i = 0; i < 4; i++) {
        const size_t n = sizes[i];
        float *h = xcalloc(n, sizeof *h), *orig = xcalloc(n, sizeof *orig);
        float *back = xcalloc(n, sizeof *back);
        for (size_t k = 0; k < n; k++) orig[k] = h[k] = frand(-1, 1);
        float *d = put(be_gpu, h, n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        memset(h, 0, n * sizeof *h); /* upload has copied it: the host buffer is free again */
        CU_ASSERT_EQUAL(be_gpu->ops->download(be_gpu, back, d, n * sizeof *back), DBX_OK);
        CU_ASSERT(memcmp(orig, back, n * sizeof *back) == 0);
        /* memset0 of a middle range, fill at offsets (one repeated) */
        const size_t lo = n / 4, len = n / 2;
        CU_ASSERT_EQUAL(be_gpu->ops->memset0(be_gpu, d + lo, len * sizeof(float)), DBX_OK);
        const int64_t offs[4] = {0, (int64_t)(n - 1), (int64_t)(n / 2), (int64_t)(n / 3)};
        CU_ASSERT_EQUAL(be_gpu->ops->fill(be_gpu, d, offs, 4, 2.5f), DBX_OK);
        memset(orig + lo, 0, len * sizeof *orig);
        for (int k = 0; k < 4; k++) orig[offs[k]] = 2.5f;
        CU_ASSERT_EQUAL(be_gpu->ops->sync(be_gpu), DBX_OK);
        CU_ASSERT_EQUAL(be_gpu->ops->download(be_gpu, back, d, n * sizeof *back), DBX_OK);
        CU_ASSERT(memcmp(orig, back, n * sizeof *back) == 0);
        be_gpu->ops->free(be_gpu, d);
        free(h);
        free(orig);
        free(back);
    }
    /* transpose against the CPU backend; dst prefilled so untouched padding is compared */
    static const int shapes[5][3] = {{1, 1, 1}, {33, 65, 40}, {64, 32, 64}, {1000, 300, 1003},
                                     {5, 70000, 7}};
    for (int i = 0; i < 5; i++) {
        const int rows = shapes[i][0], cols = shapes[i][1], ld = shapes[i][2];
        const size_t ns = (size_t)rows * (size_t)cols, nd = (size_t)cols * (size_t)ld;
        float *src = xcalloc(ns, sizeof *src), *dst = xcalloc(nd, sizeof *dst);
        for (size_t k = 0; k < ns; k++) src[k] = frand(-1, 1);
        for (size_t k = 0; k < nd; k++) dst[k] = frand(-1, 1);
        float *out[2] = {NULL, NULL};
        dbx_backend *bes[2] = {be_cpu, be_gpu};
        for (int b = 0; b < 2; b++) {
            float *ds = put(bes[b], src, ns), *dd = put(bes[b], dst, nd);
            CU_ASSERT_FATAL(ds && dd);
            CU_ASSERT_EQUAL(bes[b]->ops->transpose(bes[b], dd, ld, ds, rows, cols), DBX_OK);
            out[b] = get(bes[b], dd, nd);
            bes[b]->ops->free(bes[b], ds);
            bes[b]->ops->free(bes[b], dd);
        }
        CU_ASSERT(memcmp(out[0], out[1], nd * sizeof(float)) == 0);
        free(out[0]);
        free(out[1]);
        free(src);
        free(dst);
    }
}

/* ---- optimizers ----------------------------------------------------------------------------- */
static void test_optim(void)
{
    static const size_t dense_n[3] = {1, 7, 100003};
    static const int sparse_rows[3] = {1, 7, 500};
    for (int kind = DBX_OPT_SGD; kind <= DBX_OPT_ADAM; kind++)
        for (int c = 0; c < 3; c++)
            for (int sparse = 0; sparse <= 1; sparse++) {
                const int dim = 37, R = 1000;
                const size_t n = sparse ? (size_t)R * dim : dense_n[c];
                float *host[4], *res[2][4];
                for (int b = 0; b < 4; b++) {
                    host[b] = xcalloc(n, sizeof(float));
                    for (size_t i = 0; i < n; i++)
                        host[b][i] = b == 3 ? frand(0.0f, 1.0f) : frand(-1.0f, 1.0f); /* v >= 0 */
                }
                const int nr = sparse_rows[c], gap = R / nr;
                int32_t *rows = xcalloc((size_t)nr, sizeof *rows);
                for (int r = 0; r < nr; r++) rows[r] = r * gap + irand(0, gap - 1); /* sorted */
                dbx_backend *bes[2] = {be_cpu, be_gpu};
                for (int b = 0; b < 2; b++) {
                    float *d[4];
                    for (int k = 0; k < 4; k++) {
                        d[k] = put(bes[b], host[k], n);
                        CU_ASSERT_PTR_NOT_NULL_FATAL(d[k]);
                    }
                    for (int step = 1; step <= 3; step++) {
                        dbx_koptim o = {.kind = (dbx_optim_kind)kind, .lr = 0.05f, .beta1 = 0.9f,
                                        .beta2 = 0.999f, .eps = 1e-8f, .grad_scale = 0.5f};
                        o.bc1 = 1.0f - powf(o.beta1, (float)step);
                        o.bc2 = 1.0f - powf(o.beta2, (float)step);
                        if (step > 1) /* fresh gradients */
                            CU_ASSERT_EQUAL(bes[b]->ops->upload(bes[b], d[1], host[1],
                                                                n * sizeof(float)), DBX_OK);
                        const dbx_backend_ops *ops = bes[b]->ops;
                        dbx_status st =
                            sparse
                                ? ops->optim_rows(bes[b], &o, d[0], d[1], d[2], d[3], rows, nr, dim)
                                : ops->optim_dense(bes[b], &o, d[0], d[1], d[2], d[3], n);
                        CU_ASSERT_EQUAL(st, DBX_OK);
                    }
                    for (int k = 0; k < 4; k++) {
                        res[b][k] = get(bes[b], d[k], n);
                        bes[b]->ops->free(bes[b], d[k]);
                    }
                }
                static const char *const names[4] = {"p", "g", "m", "v"};
                char scen[96];
                snprintf(scen, sizeof scen, "optim kind %d %s n %zu", kind,
                         sparse ? "rows" : "dense", n);
                for (int k = 0; k < 4; k++) {
                    compare(scen, names[k], res[0][k], res[1][k], n, TOL_EW, FLOOR_EW);
                    free(res[0][k]);
                    free(res[1][k]);
                    free(host[k]);
                }
                free(rows);
            }
}

/* ---- many batches in flight ----------------------------------------------------------------- */
/* 700 add batches (6.4 kB of offsets each: several laps of the GPU's staging ring) and a
   wide sum batch (1.1 MB of offsets: the ring grows) enqueued without a sync; each call's
   index arrays live in one host buffer that the next call overwrites, so the backend must
   have copied them (and must not overwrite staged bytes not yet sent). Then the same
   backward, in reverse order. */
static void test_stream(void)
{
    enum { STEPS = 700, N = 400, D = 3, WIDE = 70000 };
    const size_t nvals = (size_t)(STEPS + 1) * N * D + (size_t)WIDE * 3 + 64;
    float *vals = xcalloc(nvals, sizeof *vals), *grads = xcalloc(nvals, sizeof *grads);
    for (size_t i = 0; i < nvals; i++) {
        vals[i] = frand(-1, 1);
        grads[i] = frand(-0.1f, 0.1f);
    }
    int64_t *off = xcalloc(2 * (size_t)WIDE, sizeof *off);
    int dims[2] = {D, D};
    unsigned char contig[2] = {0, 0};
    float *res[2][2];
    dbx_backend *bes[2] = {be_cpu, be_gpu};
    for (int b = 0; b < 2; b++) {
        const dbx_backend_ops *o = bes[b]->ops;
        float *v = put(bes[b], vals, nvals), *g = put(bes[b], grads, nvals);
        CU_ASSERT_FATAL(v && g);
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k <= STEPS; k++) {
                const int step = pass == 0 ? k : STEPS - k; /* backward in reverse order */
                dbx_kbatch kb;
                memset(&kb, 0, sizeof kb);
                kb.nargs = 2;
                kb.arg_dim = dims;
                kb.arg_contig = contig;
                kb.arg_off = off;
                if (step < STEPS) { /* y_k = x_k + y_{k-1}, node j reading node (j + k) % N */
                    kb.op = DBX_OP_ADD;
                    kb.n = N;
                    kb.dim = D;
                    kb.out_off = (int64_t)(step + 1) * N * D;
                    for (int j = 0; j < N; j++) {
                        off[j] = (int64_t)step * N * D + (int64_t)((j + step) % N) * D;
                        off[N + j] = (int64_t)((j * 3 + step) % N) * D;
                    }
                } else { /* wide: sum of the last outputs, each node two shared columns */
                    kb.op = DBX_OP_SUM;
                    kb.n = WIDE;
                    kb.dim = 1;
                    dims[0] = dims[1] = 1;
                    kb.out_off = (int64_t)(STEPS + 1) * N * D + 2 * (int64_t)WIDE;
                    for (int j = 0; j < WIDE; j++) {
                        off[j] = (int64_t)STEPS * N * D + (j * 7) % (N * D);
                        off[WIDE + j] = (int64_t)(STEPS + 1) * N * D + j;
                    }
                }
                dbx_status st = pass == 0 ? o->forward(bes[b], v, &kb)
                                          : o->backward(bes[b], v, g, &kb);
                CU_ASSERT_EQUAL(st, DBX_OK);
                memset(off, 0xff, 2 * (size_t)WIDE * sizeof *off); /* the call has copied them */
                dims[0] = dims[1] = D;
            }
        res[b][0] = get(bes[b], v, nvals);
        res[b][1] = get(bes[b], g, nvals);
        o->free(bes[b], v);
        o->free(bes[b], g);
    }
    compare("stream", "values", res[0][0], res[1][0], nvals, TOL_EW, FLOOR_EW);
    compare("stream", "gradients", res[0][1], res[1][1], nvals, TOL_ACC, FLOOR_EW);
    for (int b = 0; b < 2; b++) {
        free(res[b][0]);
        free(res[b][1]);
    }
    free(off);
    free(vals);
    free(grads);
}

static const dbx_test_case tests[] = {
    DBX_TEST(test_memory),     DBX_TEST(test_unary),      DBX_TEST(test_unary_more),
    DBX_TEST(test_const),      DBX_TEST(test_binary),     DBX_TEST(test_concat_pool),
    DBX_TEST(test_lstm),       DBX_TEST(test_affine),     DBX_TEST(test_lookup),
    DBX_TEST(test_xent),       DBX_TEST(test_vec),        DBX_TEST(test_layer_norm),
    DBX_TEST(test_mat_vec),    DBX_TEST(test_losses),     DBX_TEST(test_optim),
    DBX_TEST(test_stream),     DBX_TEST_END,
};

/* --cpu-vs-cpu: run the harness with the CPU backend on both sides (no GPU needed). */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--cpu-vs-cpu") == 0) {
        /* self-check of this harness on machines without a GPU: the CPU backend on both sides */
        if (dbx__backend_get("cpu", 0, &be_cpu) != DBX_OK) return 1;
        be_gpu = be_cpu;
        return dbx_test_run("cuda-harness", tests);
    }
    if (!dbx__backend_has_cuda()) {
        printf("SKIP: dbx built without the CUDA backend\n");
        return 77;
    }
    if (dbx__backend_get("cuda", 0, &be_gpu) != DBX_OK) {
        printf("SKIP: no usable GPU: %s\n", dbx_last_error());
        return 77;
    }
    if (dbx__backend_get("cpu", 0, &be_cpu) != DBX_OK) {
        fprintf(stderr, "test_cuda: cpu backend: %s\n", dbx_last_error());
        return 1;
    }
    return dbx_test_run("cuda", tests);
}
