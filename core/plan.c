/* Memory planner. Gives each batch's outputs one contiguous block (node j of a batch at
 * out_off + j * dim), and orders the nodes of every batch for their consumers: walking the
 * schedule backwards, a batch sorts its nodes by (consumer batch, argument slot, position
 * in the consumer batch), preferring a consumer that reads the node as a GEMM operand.
 * A consuming batch then finds an operand contiguous whenever all of that operand's
 * producers sit in one producing batch; otherwise the backend gathers it, and the planner
 * counts the bytes. Elementwise kernels read through offset lists and never need copies.
 * Also builds each batch's kernel descriptor and records GEMM shapes. Not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/model.h"
#include "core/status.h"

typedef struct sort_item {
    uint64_t key;
    int32_t v;
} sort_item;

/* Sorts a[0, n) by key (keys are distinct here, so any correct sort gives one order): LSD
   radix sort by bytes, skipping the bytes in which all keys agree (most of them: batch ids
   and slots vary little within a batch), through tmp (n items); insertion sort when short. */
static void sort_items(sort_item *a, sort_item *tmp, int32_t n)
{
    if (n < 48) {
        for (int32_t i = 1; i < n; i++) {
            sort_item x = a[i];
            int32_t j = i;
            for (; j > 0 && a[j - 1].key > x.key; j--) a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    uint32_t count[8][256];
    memset(count, 0, sizeof count);
    for (int32_t i = 0; i < n; i++)
        for (int byte = 0; byte < 8; byte++) count[byte][(a[i].key >> (8 * byte)) & 255]++;
    sort_item *src = a, *dst = tmp;
    for (int byte = 0; byte < 8; byte++) {
        uint32_t *c = count[byte];
        if (c[(src[0].key >> (8 * byte)) & 255] == (uint32_t)n) continue; /* all agree */
        uint32_t sum = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t k = c[d];
            c[d] = sum;
            sum += k;
        }
        for (int32_t i = 0; i < n; i++) dst[c[(src[i].key >> (8 * byte)) & 255]++] = src[i];
        sort_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
}

/* Sort key of node v: where its preferred consumer wants it. */
static uint64_t consumer_key(const dbx_exec *ex, const dbx_graph *g, int32_t v, int32_t idx)
{
    int32_t pick = -1;
    for (int32_t c = ex->cons_start[v]; c < ex->cons_start[v + 1]; c++) {
        int32_t u = ex->cons[c];
        if (pick < 0) pick = u;
        if (g->nodes[u].op == DBX_OP_AFFINE) {
            pick = u;
            break;
        }
    }
    if (pick < 0) return (0xffffffULL << 32) | (uint64_t)(uint32_t)idx;
    const dbx__node *un = &g->nodes[pick];
    const int32_t *a = dbx__node_args(g, un);
    int slot = 0;
    while (slot < un->nargs && a[slot] != v) slot++;
    return ((uint64_t)(uint32_t)ex->batch_of[pick] << 32) | ((uint64_t)slot << 24) |
           (uint64_t)(uint32_t)ex->pos[pick];
}

static dbx_status order_batches(dbx_exec *ex, const dbx_graph *g)
{
    for (size_t b = 0; b < ex->nbatches; b++) {
        const dbx__batch *bt = &ex->batches[b];
        for (int32_t i = 0; i < bt->n; i++) {
            int32_t v = ex->order[bt->first + i];
            ex->batch_of[v] = (int32_t)b;
            ex->pos[v] = i;
        }
    }
    if (ex->nbatches >= (1u << 24) - 1 || g->nnodes >= (1u << 24)) return DBX_OK; /* keep order */
    for (size_t bb = ex->nbatches; bb-- > 0;) {
        const dbx__batch *bt = &ex->batches[bb];
        if (bt->n < 2) continue;
        DBX_TRY(dbx__grow(&ex->sortbuf, &ex->cap_sortbuf, 2 * (size_t)bt->n,
                          sizeof(sort_item))); /* items, then the radix sort's buffer */
        sort_item *buf = ex->sortbuf;
        for (int32_t i = 0; i < bt->n; i++) {
            int32_t v = ex->order[bt->first + i];
            buf[i].v = v;
            buf[i].key = consumer_key(ex, g, v, i);
        }
        sort_items(buf, buf + bt->n, bt->n);
        for (int32_t i = 0; i < bt->n; i++) {
            ex->order[bt->first + i] = buf[i].v;
            ex->pos[buf[i].v] = i;
        }
    }
    return DBX_OK;
}

static size_t up64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/* The executor's one arena, one allocation: values | gradients (arena_cap floats each) | on a
   device backend, the step's index arrays (dindex_cap bytes; see mirror_index in exec.c).
   Grown with headroom only when a step needs more than every step before it, so the steady
   state allocates nothing. */
static dbx_status ensure_arena(dbx_exec *ex, size_t floats, size_t index_bytes)
{
    if (floats <= ex->arena_cap && index_bytes <= ex->dindex_cap) return DBX_OK;
    const size_t cap = floats > ex->arena_cap ? floats + floats / 4 + 1024 : ex->arena_cap;
    const size_t icap = index_bytes > ex->dindex_cap ? up64(index_bytes + index_bytes / 4 + 4096)
                                                     : ex->dindex_cap;
    ex->be->ops->free(ex->be, ex->vals);
    ex->vals = ex->grads = NULL;
    ex->dindex = NULL;
    ex->arena_cap = ex->dindex_cap = 0;
    const size_t half = up64(cap * sizeof(float));
    unsigned char *p;
    DBX_TRY(ex->be->ops->alloc(ex->be, 2 * half + icap, (void **)&p));
    ex->vals = (float *)p;
    ex->grads = (float *)(p + half);
    ex->dindex = icap ? p + 2 * half : NULL;
    ex->arena_cap = cap;
    ex->dindex_cap = icap;
    return DBX_OK;
}

static dbx_status add_gemm(dbx_exec *ex, int m, int n, int k)
{
    DBX_TRY(DBX_GROW(ex->gemms, ex->cap_gemms, ex->ngemms + 1));
    ex->gemms[ex->ngemms][0] = m;
    ex->gemms[ex->ngemms][1] = n;
    ex->gemms[ex->ngemms][2] = k;
    ex->ngemms++;
    return DBX_OK;
}

/* Forward FLOPs of one node of an elementwise op (approximate operation counts). */
static double ew_flops(const dbx__batch *b)
{
    switch ((enum dbx_op)b->op) {
    case DBX_OP_INPUT:
    case DBX_OP_LOOKUP:
    case DBX_OP_CONCAT:
    case DBX_OP_SLICE:
    case DBX_OP_AFFINE: return 0;
    case DBX_OP_ADD:
    case DBX_OP_CMULT:
    case DBX_OP_RELU: return b->dim;
    case DBX_OP_TANH:
    case DBX_OP_SIGMOID: return 4.0 * b->dim;
    case DBX_OP_SUM: return (double)b->dim * (b->nargs - 1);
    case DBX_OP_LSTM_C: return (double)b->dim * (10 + 6 * (b->nargs - 1));
    case DBX_OP_LSTM_H: return 9.0 * b->dim;
    case DBX_OP_XENT: return 0; /* counted from the logits size below */
    }
    return 0;
}

dbx_status dbx__plan(dbx_exec *ex, const dbx_graph *g)
{
    DBX_TRY(order_batches(ex, g));
    dbx_model *m = g->m;
    dbx_exec_stats *st = &ex->stats;
    st->gathered_bytes = st->contiguous_operands = st->gathered_operands = 0;
    st->flops_forward = st->flops_backward = st->gemm_flops = 0;
    st->gemm_batches = 0;
    ex->ngemms = 0;
    ex->nkterms = 0;
    ex->ntparams = 0;
    DBX_TRY(DBX_GROW(ex->tmark, ex->cap_tmark, m->nparams));
    memset(ex->tmark, 0, m->nparams);
    ex->nargdim = 0;

    /* output blocks, 64-byte aligned */
    int64_t cursor = 0;
    size_t nargoff = 0, nattr = 0;
    for (size_t b = 0; b < ex->nbatches; b++) {
        dbx__batch *bt = &ex->batches[b];
        bt->out_off = cursor;
        for (int32_t i = 0; i < bt->n; i++)
            ex->off[ex->order[bt->first + i]] = cursor + (int64_t)i * bt->dim;
        cursor += ((int64_t)bt->n * bt->dim + 15) & ~(int64_t)15;
        nargoff += (size_t)bt->nargs * (size_t)bt->n;
        nattr += (size_t)bt->n;
    }
    ex->arena_floats = (size_t)cursor;
    ex->nargoff = nargoff;
    ex->nattr = nattr;
    DBX_TRY(DBX_GROW(ex->argoff, ex->cap_argoff, nargoff + 1));
    DBX_TRY(DBX_GROW(ex->attr, ex->cap_attr, nattr + 1));

    size_t scratch = 0;
    int64_t ao = 0, at = 0;
    for (size_t b = 0; b < ex->nbatches; b++) {
        dbx__batch *bt = &ex->batches[b];
        const dbx__node *n0 = &g->nodes[ex->order[bt->first]];
        const int32_t *a0 = dbx__node_args(g, n0);
        bt->argoff_at = ao;
        bt->attr_at = at;
        bt->argdim_at = (int32_t)ex->nargdim;
        if (ex->nargdim + (size_t)bt->nargs > ex->cap_argdim) {
            size_t c = ex->cap_argdim;
            DBX_TRY(DBX_GROW(ex->argdim, c, ex->nargdim + (size_t)bt->nargs));
            c = ex->cap_argdim;
            DBX_TRY(DBX_GROW(ex->contig, c, ex->nargdim + (size_t)bt->nargs));
            ex->cap_argdim = c;
        }
        for (int a = 0; a < bt->nargs; a++) {
            int dim_a = g->nodes[a0[a]].dim;
            int64_t *dst = ex->argoff + ao + (int64_t)a * bt->n;
            int contig = 1;
            for (int32_t i = 0; i < bt->n; i++) {
                const dbx__node *nd = &g->nodes[ex->order[bt->first + i]];
                dst[i] = ex->off[dbx__node_args(g, nd)[a]];
                if (dst[i] != dst[0] + (int64_t)i * dim_a) contig = 0;
            }
            ex->argdim[ex->nargdim + (size_t)a] = dim_a;
            ex->contig[ex->nargdim + (size_t)a] = (unsigned char)contig;
        }
        ex->nargdim += (size_t)bt->nargs;
        for (int32_t i = 0; i < bt->n; i++)
            ex->attr[at + i] = g->nodes[ex->order[bt->first + i]].attr;
        ao += (int64_t)bt->nargs * bt->n;
        at += bt->n;
        bt->iparam = 0;
        bt->nterms = 0;
        bt->table = -1;
        double ew = ew_flops(bt) * bt->n;
        st->flops_forward += ew;
        st->flops_backward += 2 * ew;
        switch ((enum dbx_op)bt->op) {
        case DBX_OP_AFFINE: {
            bt->term_at = (int32_t)ex->nkterms;
            bt->nterms = n0->attr;
            DBX_TRY(DBX_GROW(ex->kterms, ex->cap_kterms, ex->nkterms + (size_t)bt->nterms));
            size_t need = 0;
            st->gemm_batches++;
            for (int t = 0; t < bt->nterms; t++) {
                const dbx__term *tm = &g->terms[n0->aux + t];
                dbx_kterm *kt = &ex->kterms[ex->nkterms++];
                if (tm->w < 0) { /* identity term: read through offsets, no GEMM */
                    memset(kt, 0, sizeof *kt);
                    kt->rows = kt->cols = ex->argdim[bt->argdim_at + tm->arg];
                    kt->row_off = tm->row_off;
                    kt->arg = tm->arg;
                    st->flops_forward += (double)kt->rows * bt->n;
                    st->flops_backward += (double)kt->rows * bt->n;
                    continue;
                }
                const dbx__param *p = &m->params[tm->w];
                kt->w = m->val + p->off;
                kt->wt = NULL;
                if (tm->arg >= 0 && p->cols > 1) {
                    kt->wt = m->valt + p->toff;
                    kt->wt_ld = p->tld;
                    if (!ex->tmark[tm->w]) {
                        ex->tmark[tm->w] = 1;
                        DBX_TRY(DBX_GROW(ex->tparams, ex->cap_tparams, ex->ntparams + 1));
                        ex->tparams[ex->ntparams++] = tm->w;
                    }
                }
                kt->dw = m->grad + p->off;
                kt->rows = p->rows;
                kt->cols = p->cols;
                kt->row_off = tm->row_off;
                kt->arg = tm->arg;
                double fl = 2.0 * p->rows * p->cols * bt->n;
                if (tm->arg < 0) {
                    st->flops_forward += (double)p->rows * bt->n;
                    st->flops_backward += (double)p->rows * bt->n;
                    continue;
                }
                st->flops_forward += fl;
                st->flops_backward += 2 * fl;
                st->gemm_flops += 3 * fl;
                DBX_TRY(add_gemm(ex, p->rows, bt->n, p->cols));
                DBX_TRY(add_gemm(ex, p->cols, bt->n, p->rows));
                DBX_TRY(add_gemm(ex, p->cols, p->rows, bt->n));
                size_t opsz = (size_t)bt->n * (size_t)p->cols;
                if (ex->contig[bt->argdim_at + tm->arg]) {
                    st->contiguous_operands++;
                } else {
                    st->gathered_operands++;
                    /* forward gather; backward re-gather for dW and scatter-add of dX */
                    st->gathered_bytes += (int64_t)(3 * opsz * sizeof(float));
                }
                /* a gathered operand and a dX product, one term at a time */
                if (2 * opsz > need) need = 2 * opsz;
            }
            if (need > scratch) scratch = need;
            break;
        }
        case DBX_OP_LOOKUP: bt->table = n0->aux; break;
        case DBX_OP_SLICE:
        case DBX_OP_LSTM_C:
        case DBX_OP_LSTM_H: bt->iparam = n0->aux; break;
        case DBX_OP_XENT: {
            int L = ex->argdim[bt->argdim_at];
            st->flops_forward += 4.0 * L * bt->n;
            st->flops_backward += 4.0 * L * bt->n;
            break;
        }
        case DBX_OP_INPUT:
        case DBX_OP_ADD:
        case DBX_OP_CMULT:
        case DBX_OP_TANH:
        case DBX_OP_SIGMOID:
        case DBX_OP_RELU:
        case DBX_OP_CONCAT:
        case DBX_OP_SUM: break;
        }
    }
    /* signature chains: lstm_c batch b, then lstm_h batch b+1 with h_j = lstm_h(g_j, c_j) */
    for (size_t b = 0; b < ex->nbatches; b++) ex->batches[b].fuse = 0;
    for (size_t b = 0; ex->opts.fuse && b + 1 < ex->nbatches; b++) {
        dbx__batch *bc = &ex->batches[b], *bh = &ex->batches[b + 1];
        if (bc->op != DBX_OP_LSTM_C || bh->op != DBX_OP_LSTM_H || bc->n != bh->n) continue;
        const int64_t *cg = ex->argoff + bc->argoff_at, *hg = ex->argoff + bh->argoff_at;
        const int64_t *hc = hg + bh->n;
        int ok = 1;
        for (int32_t j = 0; j < bc->n && ok; j++)
            ok = hg[j] == cg[j] && hc[j] == bc->out_off + (int64_t)j * bc->dim;
        if (!ok) continue;
        bc->fuse = 1;
        bh->fuse = -1;
        st->fused_batches += 2;
        b++;
    }
    DBX_TRY(DBX_GROW(ex->lossoff, ex->cap_lossoff, g->nlosses + 1));
    for (size_t i = 0; i < g->nlosses; i++) ex->lossoff[i] = ex->off[g->losses[i]];
    /* device backends: the arena's index part holds argoff | attr | argdim, 64-byte aligned,
       copied there by the executor before the step runs */
    const size_t ia = up64(ex->nargoff * sizeof(int64_t)), it = up64(ex->nattr * sizeof(int32_t));
    const size_t index_bytes = ex->be->ops->device ? ia + it + up64(ex->nargdim * sizeof(int)) : 0;
    DBX_TRY(ensure_arena(ex, ex->arena_floats, index_bytes));
    unsigned char *ib = ex->dindex;
    ex->dargoff = ib ? (int64_t *)ib : NULL;
    ex->dattr = ib ? (int32_t *)(ib + ia) : NULL;
    ex->dargdim = ib ? (int *)(ib + ia + it) : NULL;
    if (scratch > ex->scratch_floats) {
        DBX_TRY(ex->be->ops->reserve(ex->be, scratch));
        ex->scratch_floats = scratch;
    }
    st->arena_bytes = 2 * ex->arena_floats * sizeof(float);
    return DBX_OK;
}
