/* Memory planner. Gives each batch's outputs one contiguous block (node j of a batch at
 * out_off + j * dim), and orders the nodes of every batch for their consumers: walking the
 * schedule backwards, a batch sorts its nodes by (consumer batch, argument slot, position
 * in the consumer batch), preferring a consumer that reads the node as a GEMM operand.
 * A consuming batch then finds an operand contiguous whenever all of that operand's
 * producers sit in one producing batch; otherwise the backend gathers it, and the planner
 * counts the bytes. Elementwise kernels read through offset lists and never need copies.
 * Also builds each batch's kernel descriptor and records GEMM shapes into the layout, and
 * fits the executor's arena to a layout. Not thread-safe. */
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
static uint64_t consumer_key(const dbx__schedule *sc, const dbx__cons *cs, const dbx_graph *g,
                             int32_t v, int32_t idx)
{
    int32_t pick = -1;
    for (int32_t c = cs->start[v]; c < cs->start[v + 1]; c++) {
        int32_t u = cs->cons[c];
        if (pick < 0) pick = u;
        if (dbx__op_is_gemm[g->nodes[u].op]) {
            pick = u;
            break;
        }
    }
    if (pick < 0) return (0xffffffULL << 32) | (uint64_t)(uint32_t)idx;
    const dbx__node *un = &g->nodes[pick];
    const int32_t *a = dbx__node_args(g, un);
    int slot = 0;
    while (slot < un->nargs && a[slot] != v) slot++;
    return ((uint64_t)(uint32_t)sc->batch_of[pick] << 32) | ((uint64_t)slot << 24) |
           (uint64_t)(uint32_t)sc->pos[pick];
}

static dbx_status order_batches(dbx__layout *l, dbx__schedule *sc, const dbx__cons *cs,
                                const dbx_graph *g)
{
    for (size_t b = 0; b < sc->nbatches; b++) {
        const dbx__batch *bt = &sc->batches[b];
        for (int32_t i = 0; i < bt->n; i++) {
            int32_t v = sc->order[bt->first + i];
            sc->batch_of[v] = (int32_t)b;
            sc->pos[v] = i;
        }
    }
    if (sc->nbatches >= (1u << 24) - 1 || g->nnodes >= (1u << 24)) return DBX_OK; /* keep order */
    for (size_t bb = sc->nbatches; bb-- > 0;) {
        const dbx__batch *bt = &sc->batches[bb];
        if (bt->n < 2) continue;
        DBX_TRY(dbx__grow(&l->sortbuf, &l->cap_sortbuf, 2 * (size_t)bt->n,
                          sizeof(sort_item))); /* items, then the radix sort's buffer */
        sort_item *buf = l->sortbuf;
        for (int32_t i = 0; i < bt->n; i++) {
            int32_t v = sc->order[bt->first + i];
            buf[i].v = v;
            buf[i].key = consumer_key(sc, cs, g, v, i);
        }
        sort_items(buf, buf + bt->n, bt->n);
        for (int32_t i = 0; i < bt->n; i++) {
            sc->order[bt->first + i] = buf[i].v;
            sc->pos[buf[i].v] = i;
        }
    }
    return DBX_OK;
}

static size_t up64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

dbx_status dbx__arena_fit(dbx__arena *a, dbx_backend *be, const dbx__layout *l)
{
    const size_t floats = l->floats, index_bytes = l->index_bytes;
    if (floats > a->cap || index_bytes > a->index_cap) {
        const size_t cap = floats > a->cap ? floats + floats / 4 + 1024 : a->cap;
        const size_t icap = index_bytes > a->index_cap
                                ? up64(index_bytes + index_bytes / 4 + 4096)
                                : a->index_cap;
        be->ops->free(be, a->vals);
        a->vals = a->grads = NULL;
        a->index = NULL;
        a->cap = a->index_cap = 0;
        const size_t half = up64(cap * sizeof(float));
        unsigned char *p;
        DBX_TRY(be->ops->alloc(be, 2 * half + icap, (void **)&p));
        a->vals = (float *)p;
        a->grads = (float *)(p + half);
        a->index = icap ? p + 2 * half : NULL;
        a->cap = cap;
        a->index_cap = icap;
    }
    unsigned char *ib = a->index;
    a->dargoff = ib ? (int64_t *)ib : NULL;
    a->dattr = ib ? (int32_t *)(ib + l->index_attr) : NULL;
    a->dargdim = ib ? (int *)(ib + l->index_argdim) : NULL;
    if (l->scratch > a->scratch) {
        DBX_TRY(be->ops->reserve(be, l->scratch));
        a->scratch = l->scratch;
    }
    return DBX_OK;
}

void dbx__arena_free(dbx__arena *a, dbx_backend *be)
{
    be->ops->free(be, a->vals); /* values, gradients, device index */
    free(a->losshost);
}

void dbx__layout_free(dbx__layout *l)
{
    free(l->b);
    free(l->off);
    free(l->argoff);
    free(l->attr);
    free(l->argdim);
    free(l->contig);
    free(l->kterms);
    free(l->tparams);
    free(l->tmark);
    free(l->lossoff);
    free(l->gemms);
    free(l->sortbuf);
}

static dbx_status add_gemm(dbx__layout *l, int m, int n, int k)
{
    DBX_TRY(DBX_GROW(l->gemms, l->cap_gemms, l->ngemms + 1));
    l->gemms[l->ngemms][0] = m;
    l->gemms[l->ngemms][1] = n;
    l->gemms[l->ngemms][2] = k;
    l->ngemms++;
    return DBX_OK;
}

/* Forward FLOPs of a batch of a non-GEMM op (approximate operation counts, from the op
   table's per-float columns); in_floats: the argument floats its nodes have in all. */
static double ew_flops(const dbx__batch *b, double in_floats)
{
    return dbx__op_flops_in[b->op] * in_floats +
           dbx__op_flops_out[b->op] * (double)b->dim * (double)b->n;
}

dbx_status dbx__layout_build(dbx__layout *l, dbx__schedule *sc, const dbx__cons *cs,
                             const dbx_graph *g, const dbx_backend *be, int fuse,
                             dbx_exec_stats *st)
{
    DBX_TRY(order_batches(l, sc, cs, g));
    dbx_model *m = g->m;
    st->gathered_bytes = st->contiguous_operands = st->gathered_operands = 0;
    st->flops_forward = st->flops_backward = st->gemm_flops = 0;
    st->gemm_batches = 0;
    l->ngemms = 0;
    l->nkterms = 0;
    l->ntparams = 0;
    DBX_TRY(DBX_GROW(l->tmark, l->cap_tmark, m->nparams));
    memset(l->tmark, 0, m->nparams);
    l->nargdim = 0;
    DBX_TRY(DBX_GROW(l->b, l->cap_b, sc->nbatches + 1));
    DBX_TRY(DBX_GROW(l->off, l->cap_off, g->nnodes + 1));

    /* output blocks, 64-byte aligned */
    int64_t cursor = 0;
    size_t nargoff = 0, nattr = 0;
    for (size_t b = 0; b < sc->nbatches; b++) {
        const dbx__batch *bt = &sc->batches[b];
        l->b[b].out_off = cursor;
        for (int32_t i = 0; i < bt->n; i++)
            l->off[sc->order[bt->first + i]] = cursor + (int64_t)i * bt->dim;
        cursor += ((int64_t)bt->n * bt->dim + 15) & ~(int64_t)15;
        nargoff += (size_t)bt->nargs * (size_t)bt->n;
        nattr += (size_t)bt->n;
    }
    l->floats = (size_t)cursor;
    l->nargoff = nargoff;
    l->nattr = nattr;
    DBX_TRY(DBX_GROW(l->argoff, l->cap_argoff, nargoff + 1));
    DBX_TRY(DBX_GROW(l->attr, l->cap_attr, nattr + 1));

    size_t scratch = 0;
    int64_t ao = 0, at = 0;
    for (size_t b = 0; b < sc->nbatches; b++) {
        const dbx__batch *bt = &sc->batches[b];
        dbx__blayout *bl = &l->b[b];
        const dbx__node *n0 = &g->nodes[sc->order[bt->first]];
        const int32_t *a0 = dbx__node_args(g, n0);
        bl->argoff_at = ao;
        bl->attr_at = at;
        bl->argdim_at = (int32_t)l->nargdim;
        if (l->nargdim + (size_t)bt->nargs > l->cap_argdim) {
            size_t c = l->cap_argdim;
            DBX_TRY(DBX_GROW(l->argdim, c, l->nargdim + (size_t)bt->nargs));
            c = l->cap_argdim;
            DBX_TRY(DBX_GROW(l->contig, c, l->nargdim + (size_t)bt->nargs));
            l->cap_argdim = c;
        }
        /* an op of varying arity: every argument has the dim of the first node's first, and a
           node without argument a reads offset -1 there (never contiguous) */
        const int vary = dbx__op_vary_arity[bt->op];
        int64_t present = (int64_t)bt->nargs * bt->n;
        double in_floats = 0;
        for (int a = 0; a < bt->nargs; a++) {
            int dim_a = g->nodes[a0[vary ? 0 : a]].dim;
            int64_t *dst = l->argoff + ao + (int64_t)a * bt->n;
            int contig = 1;
            if (vary) {
                for (int32_t i = 0; i < bt->n; i++) {
                    const dbx__node *nd = &g->nodes[sc->order[bt->first + i]];
                    dst[i] = a < nd->nargs ? l->off[dbx__node_args(g, nd)[a]] : -1;
                    present -= dst[i] < 0;
                    if (dst[i] < 0 || dst[i] != dst[0] + (int64_t)i * dim_a) contig = 0;
                }
            } else {
                const int32_t *ord = sc->order + bt->first;
                const int64_t *off = l->off;
                for (int32_t i = 0; i < bt->n; i++) {
                    dst[i] = off[dbx__node_args(g, &g->nodes[ord[i]])[a]];
                    if (dst[i] != dst[0] + (int64_t)i * dim_a) contig = 0;
                }
            }
            in_floats += (double)dim_a * (vary ? 0 : bt->n);
            l->argdim[l->nargdim + (size_t)a] = dim_a;
            l->contig[l->nargdim + (size_t)a] = (unsigned char)contig;
        }
        l->nargdim += (size_t)bt->nargs;
        for (int32_t i = 0; i < bt->n; i++)
            l->attr[at + i] = g->nodes[sc->order[bt->first + i]].attr;
        ao += (int64_t)bt->nargs * bt->n;
        at += bt->n;
        bl->iparam = 0;
        bl->nterms = 0;
        bl->term_at = 0;
        bl->table = -1;
        if (vary) in_floats = (double)present * g->nodes[a0[0]].dim;
        double ew = ew_flops(bt, in_floats);
        st->flops_forward += ew;
        st->flops_backward += 2 * ew;
        bl->fparam[0] = bl->fparam[1] = 0;
        switch ((enum dbx__shared)dbx__op_shared[bt->op]) {
        case DBX__SH_TERMS: {
            bl->term_at = (int32_t)l->nkterms;
            bl->nterms = n0->attr;
            DBX_TRY(DBX_GROW(l->kterms, l->cap_kterms, l->nkterms + (size_t)bl->nterms));
            size_t need = 0;
            st->gemm_batches++;
            for (int t = 0; t < bl->nterms; t++) {
                const dbx__term *tm = &g->terms[n0->aux + t];
                dbx_kterm *kt = &l->kterms[l->nkterms++];
                if (tm->w < 0) { /* identity term: read through offsets, no GEMM */
                    memset(kt, 0, sizeof *kt);
                    kt->rows = kt->cols = l->argdim[bl->argdim_at + tm->arg];
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
                    if (!l->tmark[tm->w]) {
                        l->tmark[tm->w] = 1;
                        DBX_TRY(DBX_GROW(l->tparams, l->cap_tparams, l->ntparams + 1));
                        l->tparams[l->ntparams++] = tm->w;
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
                DBX_TRY(add_gemm(l, p->rows, bt->n, p->cols));
                DBX_TRY(add_gemm(l, p->cols, bt->n, p->rows));
                DBX_TRY(add_gemm(l, p->cols, p->rows, bt->n));
                size_t opsz = (size_t)bt->n * (size_t)p->cols;
                if (l->contig[bl->argdim_at + tm->arg]) {
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
        case DBX__SH_TABLE: bl->table = n0->aux; break;
        case DBX__SH_INT: bl->iparam = n0->aux; break;
        case DBX__SH_FLOATS: { /* the signature's extra items, float bits */
            int len;
            const int32_t *key = dbx__sig_key(g, n0->sig, &len);
            const int ndims = key[2] < 0 ? 1 : key[2];
            for (int i = 0; i < 2 && 3 + ndims + i < len; i++)
                memcpy(&bl->fparam[i], &key[3 + ndims + i], sizeof(float));
            break;
        }
        case DBX__SH_NONE:
        case DBX__SH_DATA: break;
        }
    }
    /* signature chains: lstm_c batch b, then lstm_h batch b+1 with h_j = lstm_h(g_j, c_j) */
    for (size_t b = 0; b < sc->nbatches; b++) l->b[b].fuse = 0;
    for (size_t b = 0; fuse && b + 1 < sc->nbatches; b++) {
        const dbx__batch *bc = &sc->batches[b], *bh = &sc->batches[b + 1];
        dbx__blayout *lc = &l->b[b], *lh = &l->b[b + 1];
        if (bc->op != DBX_OP_LSTM_C || bh->op != DBX_OP_LSTM_H || bc->n != bh->n) continue;
        const int64_t *cg = l->argoff + lc->argoff_at, *hg = l->argoff + lh->argoff_at;
        const int64_t *hc = hg + bh->n;
        int ok = 1;
        for (int32_t j = 0; j < bc->n && ok; j++)
            ok = hg[j] == cg[j] && hc[j] == lc->out_off + (int64_t)j * bc->dim;
        if (!ok) continue;
        lc->fuse = 1;
        lh->fuse = -1;
        st->fused_batches += 2;
        b++;
    }
    DBX_TRY(DBX_GROW(l->lossoff, l->cap_lossoff, g->nlosses + 1));
    for (size_t i = 0; i < g->nlosses; i++) l->lossoff[i] = l->off[g->losses[i]];
    l->nloss = g->nlosses;
    /* device backends: the arena's index part holds argoff | attr | argdim, 64-byte aligned,
       copied there by the executor before the step runs */
    const size_t ia = up64(l->nargoff * sizeof(int64_t)), it = up64(l->nattr * sizeof(int32_t));
    l->index_attr = ia;
    l->index_argdim = ia + it;
    l->index_bytes = be->ops->device ? ia + it + up64(l->nargdim * sizeof(int)) : 0;
    l->scratch = scratch;
    st->arena_bytes = 2 * l->floats * sizeof(float);
    return DBX_OK;
}
