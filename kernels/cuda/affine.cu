/* CUDA affine batches: out (dim, n) = sum of terms, one column per node, as the CPU backend
 * computes it. Bias and identity terms are added by one elementwise kernel that also
 * initialises the output; each weight term is one cublasSgemm on column-major views (NN
 * against the column-major copy wt when present, else TN against W). Operands the planner
 * could not make contiguous are gathered into the context's scratch; their gradients are
 * computed into scratch and scatter-added. Backward: dW += x dy^T, dx += W^T dy, bias
 * gradients as a GEMV against a ones vector. Argument gradients are accumulated with
 * atomics where nodes of the batch may share an argument (identity terms, scattered dX).
 * Everything is enqueued on the context's stream; one host thread per context. */
#include "kernels/cuda/cuda.h"

enum { MAX_ADD_TERMS = 8 };

typedef struct add_term {
    const float *src;   /* bias vector, when off is NULL */
    const int64_t *off; /* identity term: (n) offsets of x_j in vals */
    int rows, row_off;
} add_term;

typedef struct add_terms {
    add_term t[MAX_ADD_TERMS];
    int count;
} add_terms;

/* out (D, n) = (accumulate ? out : 0) + terms, added in order (the CPU's order). */
__global__ void affine_add_k(float *out, int D, int n, const float *vals, add_terms ts,
                             int accumulate)
{
    const int64_t total = (int64_t)n * D;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = t / D;
        const int r = (int)(t - j * D);
        float v = accumulate ? out[t] : 0.0f;
        for (int k = 0; k < ts.count; k++) {
            const int i = r - ts.t[k].row_off;
            if (i < 0 || i >= ts.t[k].rows) continue;
            v += ts.t[k].off ? vals[ts.t[k].off[j] + i] : ts.t[k].src[i];
        }
        out[t] = v;
    }
}

/* dst (d, n) column j = base[off[j] : off[j] + d] */
__global__ void gather_k(float *dst, const float *base, const int64_t *off, int d, int n)
{
    const int64_t total = (int64_t)n * d;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = t / d;
        dst[t] = base[off[j] + (t - j * d)];
    }
}

/* base[off[j] + i] += x[j * ldx + i] for i < rows; atomic: off may repeat */
__global__ void scatter_add_k(float *base, const int64_t *off, int rows, int n, const float *x,
                              int ldx)
{
    const int64_t total = (int64_t)n * rows;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = t / rows;
        const int i = (int)(t - j * rows);
        atomicAdd(base + off[j] + i, x[j * ldx + i]);
    }
}

static dbx_status scatter_add(cu_ctx *c, float *base, const int64_t *off, int rows, int n,
                              const float *x, int ldx)
{
    const int64_t total = (int64_t)n * rows;
    scatter_add_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        base, off, rows, n, x, ldx);
    DBX_CU_KERNEL(c, "scatter_add_k");
    return DBX_OK;
}

/* Argument a as a contiguous (dim_a, n) block: in place, or gathered into scratch[0, n dim_a).
   The contiguous case reads its base offset from the host copy of arg_off. */
static dbx_status operand(cu_ctx *c, const float *base, const dbx_kbatch *b, const cu_staged *s,
                          int a, const float **out)
{
    const int n = b->n, d = b->arg_dim[a];
    if (b->arg_contig[a]) {
        *out = base + b->arg_off[(size_t)a * (size_t)n];
        return DBX_OK;
    }
    float *buf;
    DBX_TRY(dbx__cu_scratch(c, (size_t)n * (size_t)d, &buf));
    const int64_t total = (int64_t)n * d;
    gather_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        buf, base, s->off + (int64_t)a * n, d, n);
    DBX_CU_KERNEL(c, "gather_k");
    *out = buf;
    return DBX_OK;
}

static dbx_status flush_add(cu_ctx *c, float *out, const dbx_kbatch *b, const float *vals,
                            add_terms *ts, int *launched)
{
    const int64_t total = (int64_t)b->n * b->dim;
    affine_add_k<<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        out, b->dim, b->n, vals, *ts, *launched);
    DBX_CU_KERNEL(c, "affine_add_k");
    *launched = 1;
    ts->count = 0;
    return DBX_OK;
}

dbx_status dbx__cu_fwd_AFFINE(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s)
{
    const int n = b->n, D = b->dim;
    float *out = vals + b->out_off; /* (D, n) */
    /* bias and identity terms, initialising out (to zero when there are none) */
    add_terms ts;
    ts.count = 0;
    int launched = 0;
    for (int t = 0; t < b->nterms; t++) {
        const dbx_kterm *tm = &b->terms[t];
        if (tm->arg >= 0 && tm->w) continue;
        add_term *e = &ts.t[ts.count++];
        e->src = tm->w;
        e->off = tm->arg >= 0 ? s->off + (int64_t)tm->arg * n : NULL;
        e->rows = tm->rows;
        e->row_off = tm->row_off;
        if (ts.count == MAX_ADD_TERMS) DBX_TRY(flush_add(c, out, b, vals, &ts, &launched));
    }
    if (ts.count || !launched) DBX_TRY(flush_add(c, out, b, vals, &ts, &launched));
    /* weight terms: out[row_off:, :] += W (rows, cols) x (cols, n) */
    const float one = 1.0f;
    for (int t = 0; t < b->nterms; t++) {
        const dbx_kterm *tm = &b->terms[t];
        if (tm->arg < 0 || !tm->w) continue;
        const float *x;
        DBX_TRY(operand(c, vals, b, s, tm->arg, &x));
        if (tm->wt)
            DBX_CUBLAS_K(c,
                         cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, tm->rows, n, tm->cols, &one,
                                     tm->wt, tm->wt_ld, x, tm->cols, &one, out + tm->row_off, D));
        else
            DBX_CUBLAS_K(c,
                         cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, tm->rows, n, tm->cols, &one,
                                     tm->w, tm->cols, x, tm->cols, &one, out + tm->row_off, D));
    }
    return DBX_OK;
}

dbx_status dbx__cu_bwd_AFFINE(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                                   const cu_staged *s)
{
    const int n = b->n, D = b->dim;
    const float *dy = grads + b->out_off; /* (D, n) */
    const float one = 1.0f, zero = 0.0f;
    for (int t = 0; t < b->nterms; t++) {
        const dbx_kterm *tm = &b->terms[t];
        const float *dyt = dy + tm->row_off;
        if (tm->arg < 0) { /* bias: dw (rows) += dy_t (rows, n) 1 */
            if (!tm->dw) continue;
            const float *ones;
            DBX_TRY(dbx__cu_ones(c, n, &ones));
            DBX_CUBLAS_K(c, cublasSgemv(c->blas, CUBLAS_OP_N, tm->rows, n, &one, dyt, D, ones, 1,
                                        &one, tm->dw, 1));
            continue;
        }
        const int a = tm->arg, K = tm->cols;
        const int64_t *off = s->off + (int64_t)a * n;
        if (!tm->w) { /* identity term: dx += dy rows */
            DBX_TRY(scatter_add(c, grads, off, K, n, dyt, D));
            continue;
        }
        float *buf = NULL; /* non-contiguous x: [gathered x | dx product], sized first so
                              that the gather is not moved by a later growth */
        if (!b->arg_contig[a]) DBX_TRY(dbx__cu_scratch(c, 2 * (size_t)n * (size_t)K, &buf));
        const float *x;
        DBX_TRY(operand(c, vals, b, s, a, &x));
        /* dW^T (cols, rows) += x (cols, n) dy_t^T (n, rows) */
        if (tm->dw)
            DBX_CUBLAS_K(c, cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, K, tm->rows, n, &one, x,
                                        K, dyt, D, &one, tm->dw, K));
        /* dx (cols, n) += W^T (cols, rows) dy_t (rows, n) */
        if (b->arg_contig[a]) {
            DBX_CUBLAS_K(c, cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, K, n, tm->rows, &one,
                                        tm->w, K, dyt, D, &one,
                                        grads + b->arg_off[(size_t)a * (size_t)n], K));
        } else {
            float *tmp = buf + (size_t)n * (size_t)K; /* after the gathered x */
            DBX_CUBLAS_K(c, cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, K, n, tm->rows, &one,
                                        tm->w, K, dyt, D, &zero, tmp, K));
            DBX_TRY(scatter_add(c, grads, off, K, n, tmp, K));
        }
    }
    return DBX_OK;
}
