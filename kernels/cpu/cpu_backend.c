/* The CPU backend: host memory, batched affine transforms as one GEMM per term through the
 * BLAS, embedding lookups and parameter nodes, and dispatch to every op's kernels through
 * a table generated from the op table (kernels/cpu/cpu.h).
 * Operands the planner could not make contiguous are gathered into the backend's scratch
 * buffer (and gradients scattered back). Execution is synchronous, so sync() is a no-op.
 * One process-wide instance; it is used by one thread at a time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/dnnl.h"

/* A column-major copy of a weight matrix the executor asked for (transpose): made by the
   first GEMM of the step that reads it, so never for a matrix whose GEMMs all run in oneDNN
   (which packs the row-major weights itself) or in bf16. */
typedef struct colmajor {
    const float *w; /* (rows, cols) row-major; NULL: free slot */
    float *wt;      /* the copy, leading dimension ld */
    int ld, rows, cols, stale;
} colmajor;

typedef struct cpu_ctx {
    float *scratch;
    size_t scratch_floats;
    float *bf;            /* bf16-rounded operands of the OpenBLAS path in bf16 */
    size_t bf_floats;
    colmajor *cm;         /* open addressing by w, capacity cmcap (a power of two) */
    size_t ncm, cmcap;
} cpu_ctx;

static _Thread_local cpu_ctx cpu_context;

static dbx_status cpu_alloc(dbx_backend *be, size_t bytes, void **out)
{
    (void)be;
    *out = NULL;
    if (!bytes) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded);
    if (!p) return dbx__fail(DBX_ENOMEM, "out of memory allocating %zu bytes", bytes);
    *out = p;
    return DBX_OK;
}

static void cpu_free(dbx_backend *be, void *p)
{
    (void)be;
    free(p);
}

static dbx_status cpu_copy(dbx_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes) memmove(dst, src, bytes);
    return DBX_OK;
}

static dbx_status cpu_memset0(dbx_backend *be, void *dst, size_t bytes)
{
    (void)be;
    if (bytes) memset(dst, 0, bytes);
    return DBX_OK;
}

static dbx_status cpu_fill(dbx_backend *be, float *dst, const int64_t *offs, int n, float v)
{
    (void)be;
    for (int i = 0; i < n; i++) dst[offs[i]] = v;
    return DBX_OK;
}

static dbx_status cpu_sync(dbx_backend *be)
{
    (void)be;
    return DBX_OK;
}

static dbx_status cpu_reserve(dbx_backend *be, size_t floats)
{
    cpu_ctx *c = be->ctx;
    if (floats <= c->scratch_floats) return DBX_OK;
    free(c->scratch);
    c->scratch_floats = 0;
    c->scratch = aligned_alloc(64, ((floats * sizeof(float)) + 63) & ~(size_t)63);
    if (!c->scratch) return dbx__fail(DBX_ENOMEM, "out of memory for %zu scratch floats", floats);
    c->scratch_floats = floats;
    return DBX_OK;
}

/* Returns argument a of the batch as a contiguous (dim_a, n) block: in place when the
 * planner laid it out so, else gathered into buf. */
static const float *operand(const float *base, const dbx_kbatch *b, int a, float *buf)
{
    const int64_t *off = b->arg_off + (size_t)a * (size_t)b->n;
    if (b->arg_contig[a]) return base + off[0];
    const int d = b->arg_dim[a];
    for (int j = 0; j < b->n; j++)
        memcpy(buf + (size_t)j * d, base + off[j], (size_t)d * sizeof *buf);
    return buf;
}

/* With DBX_CPU_GEMM=onednn, the GEMMs that oneDNN runs faster than OpenBLAS (bench_gemm,
   README Benchmarks): not the narrow ones (its per-call overhead dominates a batch of a few
   nodes or a matrix of a few rows, e.g. an output layer), which stay with OpenBLAS. The choice
   depends on the shape only, so runs stay deterministic. form 0: forward and dx, 1: dW.
   In bf16 (b->bf16) every affine GEMM that bf16_blas does not take runs in oneDNN, whatever
   DBX_CPU_GEMM says. */
static int use_dnnl(const dbx_kbatch *b, int rows, int n, int form)
{
    if (b->bf16) return 1;
    return dbx__cpu_gemm == DBX_GEMM_ONEDNN && rows >= 32 && n >= (form ? 16 : 4);
}

/* In bf16, the GEMMs that oneDNN runs slowly (its per-call overhead: matrices of fewer than
   32 rows, e.g. an output layer, in every form; dW of batches of fewer than 16 nodes) run on
   OpenBLAS with their operands rounded to bfloat16 values (kept in float): a product of two
   such values is exact in FP32 and the sums accumulate in FP32, which is oneDNN's bf16
   arithmetic up to the order of the sums. Shape-only, so deterministic. */
static int bf16_blas(const dbx_kbatch *b, int rows, int n, int form)
{
    return b->bf16 && (rows < 32 || (form == 1 && n < 16));
}

/* float -> the nearest bfloat16 value (ties to even), as a float; NaN stays NaN */
static inline float round_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    if ((u & 0x7fffffffu) > 0x7f800000u) r = u | 0x00400000u;
    memcpy(&f, &r, sizeof f);
    return f;
}

dbx_status dbx__cpu_grow(void **buf, size_t *cap, size_t need, size_t elem, const char *what)
{
    if (need <= *cap) return DBX_OK;
    free(*buf);
    size_t n = need + need / 2 + 64;
    *buf = aligned_alloc(64, (n * elem + 63) & ~(size_t)63);
    *cap = *buf ? n : 0;
    if (!*buf) return dbx__fail(DBX_ENOMEM, "out of memory for %s", what);
    return DBX_OK;
}

/* Space for `floats` rounded operand floats in c->bf. */
static dbx_status bf_reserve(cpu_ctx *c, size_t floats)
{
    return dbx__cpu_grow((void **)&c->bf, &c->bf_floats, floats, sizeof(float),
                         "bf16 operands");
}

/* dst (rows, cols; compact, ld rows) = src (rows, cols; ld ld) rounded to bf16 */
static void bf_copy(float *dst, const float *src, int rows, int cols, int ld)
{
    for (int j = 0; j < cols; j++)
        for (int i = 0; i < rows; i++)
            dst[(size_t)j * rows + i] = round_bf16(src[(size_t)j * ld + i]);
}

static size_t cm_hash(const float *w, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)w * 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* The slot of w's copy in c->cm: its entry, or the free slot where it goes (NULL when the
   table is empty and grow is 0); grows the table at half load when grow. */
static dbx_status cm_slot(cpu_ctx *c, const float *w, int grow, colmajor **out)
{
    *out = NULL;
    if (grow && 2 * (c->ncm + 1) > c->cmcap) {
        size_t cap = c->cmcap ? 2 * c->cmcap : 64;
        colmajor *t = calloc(cap, sizeof *t);
        if (!t) return dbx__fail(DBX_ENOMEM, "out of memory for the weight copies' table");
        for (size_t i = 0; i < c->cmcap; i++) {
            if (!c->cm[i].w) continue;
            size_t j = cm_hash(c->cm[i].w, cap);
            while (t[j].w) j = (j + 1) & (cap - 1);
            t[j] = c->cm[i];
        }
        free(c->cm);
        c->cm = t;
        c->cmcap = cap;
    }
    if (!c->cmcap) return DBX_OK;
    size_t j = cm_hash(w, c->cmcap);
    while (c->cm[j].w && c->cm[j].w != w) j = (j + 1) & (c->cmcap - 1);
    *out = &c->cm[j];
    return DBX_OK;
}

/* dst (ld) = src (rows, cols) row-major stored column-major; tiles of 32 x 32, each written
   column by column (contiguous stores) */
static void transpose_now(float *dst, int ld, const float *src, int rows, int cols)
{
    enum { TB = 32 };
    for (int r0 = 0; r0 < rows; r0 += TB)
        for (int c0 = 0; c0 < cols; c0 += TB) {
            int r1 = r0 + TB < rows ? r0 + TB : rows, c1 = c0 + TB < cols ? c0 + TB : cols;
            for (int cc = c0; cc < c1; cc++)
                for (int r = r0; r < r1; r++) dst[(size_t)cc * ld + r] = src[(size_t)r * cols + cc];
        }
}

dbx_status dbx__cpu_colmajor(const float *w, int make, const float **wt, int *ld)
{
    cpu_ctx *c = &cpu_context;
    colmajor *e;
    *wt = NULL;
    *ld = 0;
    DBX_TRY(cm_slot(c, w, 0, &e));
    if (!e || e->w != w) return DBX_OK;
    if (make && e->stale) {
        transpose_now(e->wt, e->ld, e->w, e->rows, e->cols);
        e->stale = 0;
    }
    *wt = e->wt;
    *ld = e->ld;
    return DBX_OK;
}

/* Term tm's column-major copy tm->wt, made now when cpu_transpose recorded it since it was
   last made. A copy the backend was not asked for is the caller's, current by contract. */
static dbx_status colmajor_fresh(const dbx_kterm *tm)
{
    const float *wt;
    int ld;
    return dbx__cpu_colmajor(tm->w, 1, &wt, &ld);
}

static dbx_status affine_forward(cpu_ctx *c, float *vals, const dbx_kbatch *b)
{
    const int n = b->n, D = b->dim;
    float *out = vals + b->out_off; /* (D, n) */
    memset(out, 0, (size_t)n * (size_t)D * sizeof *out);
    for (int t = 0; t < b->nterms; t++) {
        const dbx_kterm *tm = &b->terms[t];
        if (tm->arg >= 0 && tm->w) continue;
        const int64_t *off = tm->arg >= 0 ? b->arg_off + (size_t)tm->arg * (size_t)n : NULL;
        /* identity term (x through offsets) or bias (the same vector in every column) */
        dbx__cpu_add_cols(out + tm->row_off, D, tm->rows, n, vals, off, tm->w);
    }
    for (int t = 0; t < b->nterms; t++) {
        const dbx_kterm *tm = &b->terms[t];
        if (tm->arg < 0 || !tm->w) continue;
        const float *x = operand(vals, b, tm->arg, c->scratch); /* (cols, n) */
        /* out[row_off:, :] += W (rows, cols) x. With the column-major copy this is an NN
           GEMM, which OpenBLAS runs 2-3x faster than TN for narrow batches (n < 16).
           oneDNN reads W in its blocked layout, packed once per forward for the weights
           the executor refreshes (those with a column-major copy). */
        if (bf16_blas(b, tm->rows, n, 0)) { /* out += bf16(W) bf16(x) */
            const size_t nw = (size_t)tm->rows * tm->cols;
            DBX_TRY(bf_reserve(c, nw + (size_t)tm->cols * n));
            bf_copy(c->bf, tm->w, (int)nw, 1, (int)nw);
            bf_copy(c->bf + nw, x, tm->cols * n, 1, tm->cols * n);
            dbx__gemm(DBX_CBLAS_TRANS, DBX_CBLAS_NOTRANS, tm->rows, n, tm->cols, c->bf,
                      tm->cols, c->bf + nw, tm->cols, 1.0f, out + tm->row_off, D);
        } else if (use_dnnl(b, tm->rows, n, 0))
            DBX_TRY(dbx__dnnl_fwd(tm->rows, tm->cols, n, tm->w, tm->wt != NULL, x,
                                  out + tm->row_off, D, b->bf16));
        else if (tm->wt) {
            DBX_TRY(colmajor_fresh(tm));
            dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, tm->rows, n, tm->cols, tm->wt,
                      tm->wt_ld, x, tm->cols, 1.0f, out + tm->row_off, D);
        } else
            dbx__gemm(DBX_CBLAS_TRANS, DBX_CBLAS_NOTRANS, tm->rows, n, tm->cols, tm->w, tm->cols,
                      x, tm->cols, 1.0f, out + tm->row_off, D);
    }
    return DBX_OK;
}

static dbx_status affine_backward(cpu_ctx *c, const float *vals, float *grads,
                                  const dbx_kbatch *b)
{
    const int n = b->n, D = b->dim;
    const float *dy = grads + b->out_off; /* (D, n) */
    for (int t = 0; t < b->nterms; t++) {
        const dbx_kterm *tm = &b->terms[t];
        const float *dyt = dy + tm->row_off;
        if (tm->arg < 0) {
            dbx__cpu_sum_cols(tm->dw, dyt, D, tm->rows, n);
            continue;
        }
        const int a = tm->arg, K = tm->cols;
        const int64_t *off = b->arg_off + (size_t)a * (size_t)n;
        if (!tm->w) { /* identity term: dx += dy rows */
            dbx__cpu_scatter_add(grads, off, K, n, dyt, D);
            continue;
        }
        const float *x = operand(vals, b, a, c->scratch);
        if (bf16_blas(b, tm->rows, n, 1)) { /* rounded x and dy (and W when it is small) */
            const int small = bf16_blas(b, tm->rows, n, 0);
            const size_t nx = (size_t)K * n, ny = (size_t)tm->rows * n;
            const size_t nw = small ? (size_t)tm->rows * K : 0;
            DBX_TRY(bf_reserve(c, nx + ny + nw));
            float *xr = c->bf, *dyr = c->bf + nx, *wr = c->bf + nx + ny;
            bf_copy(xr, x, (int)nx, 1, (int)nx);
            bf_copy(dyr, dyt, tm->rows, n, D);
            /* dW^T (cols, rows) += x dy^T */
            dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_TRANS, K, tm->rows, n, xr, K, dyr, tm->rows,
                      1.0f, tm->dw, K);
            float *dst = b->arg_contig[a] ? grads + off[0] : c->scratch + nx;
            if (small) { /* dx (cols, n) (+)= W^T dy */
                bf_copy(wr, tm->w, (int)nw, 1, (int)nw);
                dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, K, n, tm->rows, wr, K, dyr,
                          tm->rows, b->arg_contig[a] ? 1.0f : 0.0f, dst, K);
            } else {
                DBX_TRY(dbx__dnnl_dx(tm->rows, K, n, tm->w, tm->wt != NULL, dyt, D, dst,
                                     b->arg_contig[a], 1));
            }
            if (!b->arg_contig[a]) dbx__cpu_scatter_add(grads, off, K, n, dst, K);
            continue;
        }
        if (use_dnnl(b, tm->rows, n, 0)) {
            if (use_dnnl(b, tm->rows, n, 1))
                DBX_TRY(dbx__dnnl_dw(tm->rows, K, n, dyt, D, x, tm->dw, b->bf16));
            else
                dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_TRANS, K, tm->rows, n, x, K, dyt, D, 1.0f,
                          tm->dw, K);
            if (b->arg_contig[a]) {
                DBX_TRY(dbx__dnnl_dx(tm->rows, K, n, tm->w, tm->wt != NULL, dyt, D,
                                     grads + off[0], 1, b->bf16));
            } else {
                float *tmp = c->scratch + (size_t)n * (size_t)K;
                DBX_TRY(dbx__dnnl_dx(tm->rows, K, n, tm->w, tm->wt != NULL, dyt, D, tmp, 0,
                                     b->bf16));
                dbx__cpu_scatter_add(grads, off, K, n, tmp, K);
            }
            continue;
        }
        /* dW^T (cols, rows) += x (cols, n) dy_t^T (n, rows) */
        dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_TRANS, K, tm->rows, n, x, K, dyt, D, 1.0f, tm->dw,
                  K);
        /* dx (cols, n) += W^T (cols, rows) dy_t (rows, n) */
        if (b->arg_contig[a]) {
            dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, K, n, tm->rows, tm->w, K, dyt, D, 1.0f,
                      grads + off[0], K);
        } else {
            float *tmp = c->scratch + (size_t)n * (size_t)K;
            dbx__gemm(DBX_CBLAS_NOTRANS, DBX_CBLAS_NOTRANS, K, n, tm->rows, tm->w, K, dyt, D, 0.0f,
                      tmp, K);
            dbx__cpu_scatter_add(grads, off, K, n, tmp, K);
        }
    }
    return DBX_OK;
}

dbx_status dbx__cpu_fwd_AFFINE(dbx_backend *be, float *vals, const dbx_kbatch *b)
{
    return affine_forward(be->ctx, vals, b);
}

dbx_status dbx__cpu_bwd_AFFINE(dbx_backend *be, const float *vals, float *grads,
                               const dbx_kbatch *b)
{
    return affine_backward(be->ctx, vals, grads, b);
}

/* lookup: node j is row attr[j] of the table; a parameter: the whole parameter (attr 0) */
dbx_status dbx__cpu_fwd_LOOKUP(dbx_backend *be, float *vals, const dbx_kbatch *b)
{
    (void)be;
    for (int j = 0; j < b->n; j++)
        memcpy(vals + DBX__OUT(b, j), b->table + (size_t)b->attr[j] * b->dim,
               (size_t)b->dim * sizeof(float));
    return DBX_OK;
}

dbx_status dbx__cpu_bwd_LOOKUP(dbx_backend *be, const float *vals, float *grads,
                               const dbx_kbatch *b)
{
    (void)be;
    (void)vals;
    for (int j = 0; j < b->n; j++) { /* rows may repeat without dedup: one at a time */
        float *dt = b->dtable + (size_t)b->attr[j] * b->dim;
        dbx__cpu_sum_cols(dt, grads + DBX__OUT(b, j), b->dim, b->dim, 1);
    }
    return DBX_OK;
}

dbx_status dbx__cpu_fwd_PARAM(dbx_backend *be, float *vals, const dbx_kbatch *b)
{
    return dbx__cpu_fwd_LOOKUP(be, vals, b);
}

dbx_status dbx__cpu_bwd_PARAM(dbx_backend *be, const float *vals, float *grads,
                              const dbx_kbatch *b)
{
    return dbx__cpu_bwd_LOOKUP(be, vals, grads, b);
}

/* inputs: copied in by the executor; no gradient leaves them */
dbx_status dbx__cpu_fwd_INPUT(dbx_backend *be, float *vals, const dbx_kbatch *b)
{
    (void)be, (void)vals, (void)b;
    return DBX_OK;
}

dbx_status dbx__cpu_bwd_INPUT(dbx_backend *be, const float *vals, float *grads,
                              const dbx_kbatch *b)
{
    (void)be, (void)vals, (void)grads, (void)b;
    return DBX_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */
typedef struct cpu_kernel {
    dbx_status (*forward)(dbx_backend *be, float *vals, const dbx_kbatch *b);
    dbx_status (*backward)(dbx_backend *be, const float *vals, float *grads,
                           const dbx_kbatch *b);
} cpu_kernel;

static const cpu_kernel cpu_kernels[DBX_OP_COUNT] = {
#define DBX__CPU_KROW(NAME, ...) [DBX_OP_##NAME] = {dbx__cpu_fwd_##NAME, dbx__cpu_bwd_##NAME},
    DBX_OP_TABLE(DBX__CPU_KROW)
#undef DBX__CPU_KROW
};

static const char *cpu_missing_kernel(void)
{
    for (int op = 0; op < DBX_OP_COUNT; op++)
        if (!cpu_kernels[op].forward || !cpu_kernels[op].backward) return dbx__op_names[op];
    return NULL;
}

static dbx_status cpu_forward(dbx_backend *be, float *vals, const dbx_kbatch *b)
{
    if ((unsigned)b->op >= DBX_OP_COUNT)
        return dbx__fail(DBX_EINVAL, "cpu backend: unknown op %d", (int)b->op);
    return cpu_kernels[b->op].forward(be, vals, b);
}

static dbx_status cpu_backward(dbx_backend *be, const float *vals, float *grads,
                               const dbx_kbatch *b)
{
    if ((unsigned)b->op >= DBX_OP_COUNT)
        return dbx__fail(DBX_EINVAL, "cpu backend: unknown op %d", (int)b->op);
    return cpu_kernels[b->op].backward(be, vals, grads, b);
}

/* The executor's per-forward refresh of a weight's column-major copy (core/exec.c): records
   it, to be made by the first GEMM that reads it (colmajor_fresh), and marks the weight's
   oneDNN packed copies stale. */
static dbx_status cpu_transpose(dbx_backend *be, float *dst, int ld, const float *src, int rows,
                                int cols)
{
    cpu_ctx *c = be->ctx;
    dbx__dnnl_weights_changed(src);
    colmajor *e;
    DBX_TRY(cm_slot(c, src, 1, &e));
    if (!e->w) c->ncm++;
    *e = (colmajor){.w = src, .wt = dst, .ld = ld, .rows = rows, .cols = cols, .stale = 1};
    return DBX_OK;
}

static dbx_status cpu_optim_dense(dbx_backend *be, const dbx_koptim *o, float *p, float *g,
                                  float *m, float *v, size_t n)
{
    (void)be;
    dbx__cpu_optim_dense(o, p, g, m, v, n);
    return DBX_OK;
}

static dbx_status cpu_optim_rows(dbx_backend *be, const dbx_koptim *o, float *p, float *g,
                                 float *m, float *v, const int32_t *rows, int nrows, int dim)
{
    (void)be;
    dbx__cpu_optim_rows(o, p, g, m, v, rows, nrows, dim);
    return DBX_OK;
}

static dbx_status cpu_gather(dbx_backend *be, float *out, const float *base, const int64_t *offs,
                             int n)
{
    (void)be;
    for (int i = 0; i < n; i++) out[i] = base[offs[i]];
    return DBX_OK;
}

/* bf16 GEMMs run in oneDNN: it must load (built with its headers, libdnnl.so.2 present) and
   have bf16 matmuls for this CPU. */
static dbx_status cpu_precision(dbx_backend *be, int precision)
{
    (void)be;
    if (precision != DBX_PRECISION_BF16)
        return dbx__fail(DBX_EINVAL, "unknown precision %d", precision);
    if (dbx__dnnl_bf16_check() != DBX_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", dbx_last_error());
        return dbx__fail(DBX_ENOTSUP,
                         "precision bf16 needs oneDNN for its bfloat16 GEMMs: %s", why);
    }
    return DBX_OK;
}

static const dbx_backend_ops cpu_ops = {
    .name = "cpu",
    .missing_kernel = cpu_missing_kernel,
    .device = 0,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .memset0 = cpu_memset0,
    .fill = cpu_fill,
    .sync = cpu_sync,
    .reserve = cpu_reserve,
    .forward = cpu_forward,
    .backward = cpu_backward,
    .transpose = cpu_transpose,
    .optim_dense = cpu_optim_dense,
    .optim_rows = cpu_optim_rows,
    .gather = cpu_gather,
    .precision = cpu_precision,
};

static _Thread_local dbx_backend cpu_backend = {.ops = &cpu_ops, .ctx = NULL};

dbx_status dbx__cpu_backend(dbx_backend **out)
{
    DBX_TRY(dbx_blas_init());
    cpu_backend.ctx = &cpu_context;
    *out = &cpu_backend;
    return DBX_OK;
}
