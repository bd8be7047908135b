/* CUDA element-wise batches, forward and backward: the unary and binary element-wise ops
 * (tanh, sigmoid, relu, exp, log, scale_shift, add, sub, cmult), pooling over a list of
 * nodes (sum, max, average), dropout, constants, concat, slice, lstm_c (k cells; with
 * kb->chain, the lstm_h of the same cells fused in) and lstm_h.
 * One thread per (node j, output element i). Each op is a functor, a struct whose fwd(A, j,
 * i, t) gives output element t = j * dim + i and whose bwd(A, j, i, t) adds that element's
 * contributions to the argument gradients; the templates ew_forward_k<Op> and
 * ew_backward_k<Op> run it over the batch, and the entries dbx__cu_fwd_NAME /
 * dbx__cu_bwd_NAME launch them (an op without arguments, constant, has no backward launch).
 * Each op's arithmetic is written once, in its functor, as the CPU backend writes it
 * (kernels/cpu/ew.c); exp, sigmoid, tanh and dropout's mask are those of kernels/vmath.h,
 * and the file is compiled with -fmad=false, so each element is computed as the CPU backend
 * computes it (log: CUDA's logf against the C library's, within an ulp).
 * Node arguments are read through the batch's staged offset list, outputs are the batch's
 * contiguous block. A node of a pooling op (sum, max, average) with fewer arguments than its
 * batch has offset -1 for the rest (kernels/backend.h). Argument gradients are accumulated
 * with atomicAdd: nodes of a batch may share an argument and a node may name the same
 * argument twice (cmult(x, x)); one thread's adds run in the CPU's order.
 * Gate layout of the fused LSTM: [f_1, i, o, u, f_2..f_k] (k >= 1) or [i, o, u] (k = 0).
 * Stateless; kernels run on the context's stream. */
#include "kernels/cuda/cuda.h"
#include "kernels/vmath.h" /* exp, sigmoid, tanh, dropout's hash: the CPU backend's */

typedef struct ew_args {
    float *vals;           /* forward: written; backward: read only */
    float *grads;          /* backward */
    const int64_t *off;    /* (nargs, n) argument offsets, device copy */
    const int32_t *adim;   /* (nargs) argument dims, device copy */
    const int32_t *attr;   /* (n) per-node integers (dropout's keys), device copy, or NULL */
    int64_t out_off;       /* node j's output at out_off + j * dim */
    int64_t h_off;         /* chained lstm_h output (chain != 0) */
    int n, dim, nargs, iparam, chain;
    float fa, fb;          /* the batch's fparam[0], fparam[1] */
} ew_args;

/* Inside a functor (A, j, i, t in scope): argument a's offset, its element i, the output
   element and its gradient, and += v on argument a's gradient at element i. */
#define OFF(a) (A.off[(int64_t)(a) * A.n + j])
#define X(a) (A.vals[OFF(a) + i])
#define Y (A.vals[A.out_off + t])
#define DY (A.grads[A.out_off + t])
#define DX(a, v) atomicAdd(A.grads + OFF(a) + i, (v))

#define EW_FN static __device__ __forceinline__
#define EW_FWD EW_FN float fwd(const ew_args &A, int64_t j, int i, int64_t t)
#define EW_BWD EW_FN void bwd(const ew_args &A, int64_t j, int i, int64_t t)

template <class Op> __global__ void ew_forward_k(ew_args A)
{
    const int D = A.dim;
    const int64_t total = (int64_t)A.n * D;
    DBX_CU_FOR(t, total)
    {
        const int64_t j = t / D;
        const int i = (int)(t - j * D);
        A.vals[A.out_off + t] = Op::fwd(A, j, i, t);
    }
}

template <class Op> __global__ void ew_backward_k(ew_args A)
{
    const int D = A.dim;
    const int64_t total = (int64_t)A.n * D;
    DBX_CU_FOR(t, total)
    {
        const int64_t j = t / D;
        const int i = (int)(t - j * D);
        Op::bwd(A, j, i, t);
    }
}

static ew_args make_args(float *vals, float *grads, const dbx_kbatch *b, const cu_staged *s)
{
    ew_args A;
    A.vals = vals;
    A.grads = grads;
    A.off = s->off;
    A.adim = s->adim;
    A.attr = s->attr;
    A.out_off = b->out_off;
    A.chain = b->op == DBX_OP_LSTM_C && b->chain != NULL;
    A.h_off = A.chain ? b->chain->out_off : 0;
    A.n = b->n;
    A.dim = b->dim;
    A.nargs = b->nargs;
    A.iparam = b->iparam;
    A.fa = b->fparam[0];
    A.fb = b->fparam[1];
    return A;
}

template <class Op>
static dbx_status ew_forward(cu_ctx *c, float *vals, const dbx_kbatch *b, const cu_staged *s,
                             const char *name)
{
    const int64_t total = (int64_t)b->n * b->dim;
    if (total <= 0) return DBX_OK;
    DBX_TRY(dbx__cu_check_staged(b, s));
    ew_forward_k<Op><<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        make_args(vals, NULL, b, s));
    DBX_CU_KERNEL(c, name);
    return DBX_OK;
}

template <class Op>
static dbx_status ew_backward(cu_ctx *c, const float *vals, float *grads, const dbx_kbatch *b,
                              const cu_staged *s, const char *name)
{
    const int64_t total = (int64_t)b->n * b->dim;
    if (total <= 0 || dbx__op_nargs[b->op] == 0) return DBX_OK; /* no argument: no gradient */
    DBX_TRY(dbx__cu_check_staged(b, s));
    /* the kernel only reads vals (ew_args holds one non-const pointer for both passes) */
    ew_backward_k<Op><<<dbx__cu_blocks(total, DBX_CU_THREADS), DBX_CU_THREADS, 0, c->stream>>>(
        make_args(const_cast<float *>(vals), grads, b, s));
    DBX_CU_KERNEL(c, name);
    return DBX_OK;
}

/* The backend entries of op NAME around its functor ew_NAME. */
#define EW_ENTRY(NAME)                                                                      \
    dbx_status dbx__cu_fwd_##NAME(cu_ctx *c, float *vals, const dbx_kbatch *b,              \
                                  const cu_staged *s)                                       \
    {                                                                                       \
        return ew_forward<ew_##NAME>(c, vals, b, s, "ew_forward_k<" #NAME ">");            \
    }                                                                                       \
    dbx_status dbx__cu_bwd_##NAME(cu_ctx *c, const float *vals, float *grads,               \
                                  const dbx_kbatch *b, const cu_staged *s)                  \
    {                                                                                       \
        return ew_backward<ew_##NAME>(c, vals, grads, b, s, "ew_backward_k<" #NAME ">");   \
    }

/* An op of one argument: y = FWD and x's gradient += BWD, expressions of x, y, dy (element
   i of the argument, the output and its gradient) and the batch's floats fa, fb. */
#define EW_UNARY(NAME, FWD, BWD)                                                            \
    struct ew_##NAME {                                                                      \
        EW_FWD                                                                              \
        {                                                                                   \
            (void)t;                                                                        \
            const float x = X(0), fa = A.fa, fb = A.fb;                                     \
            (void)fa, (void)fb;                                                             \
            return (FWD);                                                                   \
        }                                                                                   \
        EW_BWD                                                                              \
        {                                                                                   \
            const float x = X(0), y = Y, dy = DY, fa = A.fa, fb = A.fb;                     \
            (void)x, (void)y, (void)fa, (void)fb;                                           \
            DX(0, (BWD));                                                                   \
        }                                                                                   \
    };                                                                                      \
    EW_ENTRY(NAME)

/* An op of two arguments of one dim: y = FWD of x0, x1; the arguments' gradients += BWD0
   and BWD1 (expressions of x0, x1, dy), in that order. */
#define EW_BINARY(NAME, FWD, BWD0, BWD1)                                                    \
    struct ew_##NAME {                                                                      \
        EW_FWD                                                                              \
        {                                                                                   \
            (void)t;                                                                        \
            const float x0 = X(0), x1 = X(1);                                               \
            return (FWD);                                                                   \
        }                                                                                   \
        EW_BWD                                                                              \
        {                                                                                   \
            const float x0 = X(0), x1 = X(1), dy = DY;                                      \
            (void)x0, (void)x1;                                                             \
            DX(0, (BWD0));                                                                  \
            DX(1, (BWD1));                                                                  \
        }                                                                                   \
    };                                                                                      \
    EW_ENTRY(NAME)

/* ---- element-wise ops ------------------------------------------------------------------- */
EW_UNARY(TANH, dbx__tanhf(x), dy * (1.0f - y * y))
EW_UNARY(SIGMOID, dbx__sigmoidf(x), dy * y * (1.0f - y))
EW_UNARY(RELU, x > 0.0f ? x : 0.0f, y > 0.0f ? dy : 0.0f)
EW_UNARY(EXP, dbx__expf(x), dy * y)
EW_UNARY(LOG, logf(x), dy / x)
EW_UNARY(SCALE, fa * x + fb, fa * dy)
EW_UNARY(LOSS, fa * x, fa * dy) /* a weighted loss term: weight * x */
EW_BINARY(ADD, x0 + x1, dy, dy)
EW_BINARY(SUB, x0 - x1, dy, -dy)
EW_BINARY(CMULT, x0 * x1, dy * x1, dy * x0)

/* dropout: element i of node j kept when dbx__unit_hash(key_j, i) >= p (fa), scaled by
   1/(1-p); the key is the node's attr */
struct ew_DROPOUT {
    EW_FN bool kept(const ew_args &A, int64_t j, int i)
    {
        return dbx__unit_hash((uint32_t)A.attr[j], (uint32_t)i) >= A.fa;
    }
    EW_FWD
    {
        (void)t;
        return kept(A, j, i) ? X(0) * (1.0f / (1.0f - A.fa)) : 0.0f;
    }
    EW_BWD
    {
        if (kept(A, j, i)) DX(0, DY * (1.0f / (1.0f - A.fa)));
    }
};
EW_ENTRY(DROPOUT)

/* constant: every element fa; no arguments, no gradient (no backward launch) */
struct ew_CONST {
    EW_FWD
    {
        (void)j, (void)i, (void)t;
        return A.fa;
    }
    EW_BWD { (void)A, (void)j, (void)i, (void)t; }
};
EW_ENTRY(CONST)

/* ---- slice and concat ------------------------------------------------------------------- */
struct ew_SLICE {
    EW_FWD
    {
        (void)t;
        return A.vals[OFF(0) + A.iparam + i];
    }
    EW_BWD { atomicAdd(A.grads + OFF(0) + A.iparam + i, DY); }
};
EW_ENTRY(SLICE)

/* output element i is element r of argument a (arguments laid end to end) */
EW_FN int concat_arg(const ew_args &A, int i, int *r)
{
    int a = 0;
    *r = i;
    while (a < A.nargs - 1 && *r >= A.adim[a]) *r -= A.adim[a++];
    return a;
}

struct ew_CONCAT {
    EW_FWD
    {
        (void)t;
        int r;
        const int a = concat_arg(A, i, &r);
        return A.vals[OFF(a) + r];
    }
    EW_BWD
    {
        int r;
        const int a = concat_arg(A, i, &r);
        atomicAdd(A.grads + OFF(a) + r, DY);
    }
};
EW_ENTRY(CONCAT)

/* ---- pooling over a list of nodes: sum, max, average ------------------------------------
   Argument 0 is always present; a node's arguments end at the first offset -1. */
#define PRESENT(a) ((a) < A.nargs && OFF(a) >= 0)

struct ew_SUM {
    EW_FWD
    {
        (void)t;
        float v = X(0);
        for (int a = 1; PRESENT(a); a++) v += X(a);
        return v;
    }
    EW_BWD
    {
        const float dy = DY;
        for (int a = 0; PRESENT(a); a++) DX(a, dy);
    }
};
EW_ENTRY(SUM)

/* the gradient of element i goes to the first argument equal to the maximum */
struct ew_MAX {
    EW_FWD
    {
        (void)t;
        float v = X(0);
        for (int a = 1; PRESENT(a); a++) {
            const float x = X(a);
            v = x > v ? x : v;
        }
        return v;
    }
    EW_BWD
    {
        const float y = Y;
        for (int a = 0; PRESENT(a); a++)
            if (X(a) == y) {
                DX(a, DY);
                break;
            }
    }
};
EW_ENTRY(MAX)

struct ew_MEAN {
    EW_FWD
    {
        (void)t;
        float v = X(0);
        int k = 1;
        for (; PRESENT(k); k++) v += X(k);
        return v * (1.0f / (float)k);
    }
    EW_BWD
    {
        int k = 1;
        while (PRESENT(k)) k++;
        const float g = DY * (1.0f / (float)k);
        for (int a = 0; a < k; a++) DX(a, g);
    }
};
EW_ENTRY(MEAN)

/* ---- LSTM cells ------------------------------------------------------------------------- */
/* gate offset of i in the fused LSTM layout */
EW_FN int gi_off(int k, int H) { return k ? H : 0; }

/* c = sigmoid(i) tanh(u) + sum_q sigmoid(f_q) c_q; with a chain, also h = sigmoid(o) tanh(c)
   into the chained lstm_h batch's output */
struct ew_LSTM_C {
    EW_FWD
    {
        const int H = A.dim, k = A.iparam, oi = gi_off(k, H), ou = oi + 2 * H;
        const float *g = A.vals + OFF(0);
        float c = dbx__sigmoidf(g[oi + i]) * dbx__tanhf(g[ou + i]);
        for (int q = 0; q < k; q++) {
            const float *f = g + (q == 0 ? 0 : (3 + q) * H);
            c += dbx__sigmoidf(f[i]) * A.vals[OFF(1 + q) + i];
        }
        if (A.chain) A.vals[A.h_off + t] = dbx__sigmoidf(g[oi + H + i]) * dbx__tanhf(c);
        return c;
    }
    EW_BWD
    {
        const int H = A.dim, k = A.iparam, oi = gi_off(k, H), ou = oi + 2 * H, oo = oi + H;
        const float *g = A.vals + OFF(0);
        float *dg = A.grads + OFF(0);
        float dc = DY; /* this node's own gradient: no other thread touches it */
        if (A.chain) { /* the fused lstm_h's backward first */
            const float dh = A.grads[A.h_off + t];
            const float so = dbx__sigmoidf(g[oo + i]), th = dbx__tanhf(Y);
            atomicAdd(dg + oo + i, dh * th * so * (1.0f - so));
            dc += dh * so * (1.0f - th * th);
            DY = dc;
        }
        const float si = dbx__sigmoidf(g[oi + i]), u = dbx__tanhf(g[ou + i]);
        atomicAdd(dg + oi + i, dc * u * si * (1.0f - si));
        atomicAdd(dg + ou + i, dc * si * (1.0f - u * u));
        for (int q = 0; q < k; q++) {
            const int fo = q == 0 ? 0 : (3 + q) * H;
            const float cp = X(1 + q), sf = dbx__sigmoidf(g[fo + i]);
            atomicAdd(dg + fo + i, dc * cp * sf * (1.0f - sf));
            DX(1 + q, dc * sf);
        }
    }
};
EW_ENTRY(LSTM_C)

/* h = sigmoid(o) tanh(c); arguments: the gates and the cell */
struct ew_LSTM_H {
    EW_FWD
    {
        (void)t;
        const int oo = gi_off(A.iparam, A.dim) + A.dim;
        return dbx__sigmoidf(A.vals[OFF(0) + oo + i]) * dbx__tanhf(X(1));
    }
    EW_BWD
    {
        const int oo = gi_off(A.iparam, A.dim) + A.dim;
        const float dy = DY;
        const float so = dbx__sigmoidf(A.vals[OFF(0) + oo + i]), th = dbx__tanhf(X(1));
        atomicAdd(A.grads + OFF(0) + oo + i, dy * th * so * (1.0f - so));
        DX(1, dy * so * (1.0f - th * th));
    }
};
EW_ENTRY(LSTM_H)
