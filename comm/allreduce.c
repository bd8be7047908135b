/* dbx's gradient all-reduce: in-place float SUM over all ranks, nonblocking, several in
 * flight, each identified by a key that every rank gives it (comm.h, "All-reduce").
 *
 * An operation is a schedule of steps computed when it starts; a step posts at most one
 * Isend and one Irecv on the engine's own communicator (tag = the key) and, once both have
 * completed, adds the received floats into the buffer (a reducing step) or leaves them where
 * they arrived (a copying step). dbx__ar_progress tests every operation in flight and posts
 * its next step, so communication advances whenever the owner calls in (the executor does
 * after each backward batch). Algorithms, for P participants of which p2 is the largest
 * power of two <= P (the r = P - p2 extra ones first fold into a partner and receive the
 * result at the end):
 *   rd            recursive doubling: log2(p2) exchanges of the whole buffer;
 *   rabenseifner  reduce-scatter by recursive halving, then all-gather by recursive
 *                 doubling: 2 log2(p2) steps moving 2 (p2-1)/p2 of the buffer;
 *   ring          P-1 reduce-scatter and P-1 all-gather steps of n/P floats each;
 *   mpi           MPI_Iallreduce (the MPI library's choice); started in the same order on
 *                 every rank.
 * rd and rabenseifner pair the ranks by the same bits in the same order (highest first),
 * so every element is summed by the same tree: they give the same bits as each other, on
 * every rank, for any bucketing of the buffer. ring sums each chunk in another order.
 * Hierarchical: the ranks of a node first send their buffer to the node's leader (its
 * lowest rank), which adds them in rank order; the leaders run the algorithm among
 * themselves and send the result back to their node's ranks.
 *
 * Messages of one key between two ranks are matched in the order sent (MPI's non-overtaking
 * rule), so ranks may start different keys in different orders and a key may be reused as
 * soon as this rank's operation on it has completed. Not thread-safe (the owner thread). */
#define _POSIX_C_SOURCE 200809L
#include "comm/comm_mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

typedef struct ar_step {
    int speer, rpeer;   /* world ranks, or -1: no send / no receive in this step */
    size_t soff, slen;  /* floats sent from buf + soff */
    size_t roff, rlen;  /* floats received for buf + roff */
    int reduce;         /* 1: received into tmp, then added into buf; 0: received into buf */
} ar_step;

typedef struct ar_op {
    int active, key;
    dbx__ar_algo algo;
    int wire16;         /* bfloat16 on the wire: the steps move and add wbuf */
    float *buf;
    size_t n;
    ar_step *steps;
    size_t nsteps, cap_steps, cur;
    float *tmp;         /* received floats (or bfloat16 pairs) of a reducing step */
    size_t cap_tmp;
    uint16_t *wbuf;     /* wire16: buf rounded to bfloat16; the sums are rounded after each add */
    size_t cap_wbuf;
} ar_op;

struct dbx__ar {
    MPI_Comm comm;        /* the gradient communicator (comm_mpi.c's, borrowed): dbx's
                             algorithms' point-to-point messages (tags = keys) and
                             DBX_AR_MPI's collectives, which MPI never matches together */
    ar_op *ops;           /* slots; an op's requests are req[2 * slot], req[2 * slot + 1] */
    MPI_Request *req;
    int *idx;
    MPI_Status *st;
    int nslots, active;
    int hier;             /* 1: two levels (node leaders) */
    int *part;            /* the ranks running the algorithm: all, or the node leaders */
    int npart, vme;       /* their number; this rank's index among them (-1: not a leader) */
    int *members;         /* hierarchical: the other ranks of this node (leader only) */
    int nmembers, leader; /* ... and this node's leader (world rank) */
};

/* ---- cost model and names ----------------------------------------------------------------- */
static const char *const algo_names[] = {"auto", "mpi", "rd", "rabenseifner", "ring"};

const char *dbx__ar_algo_name(dbx__ar_algo a)
{
    return (unsigned)a < sizeof algo_names / sizeof *algo_names ? algo_names[a] : "?";
}

dbx_status dbx__ar_algo_parse(const char *name, dbx__ar_algo *out)
{
    for (size_t i = 0; i < sizeof algo_names / sizeof *algo_names; i++)
        if (name && !strcmp(name, algo_names[i])) {
            *out = (dbx__ar_algo)i;
            return DBX_OK;
        }
    if (name && !strcmp(name, "rab")) {
        *out = DBX_AR_RAB;
        return DBX_OK;
    }
    return dbx__fail(DBX_EINVAL, "all-reduce algorithm '%s': expected auto, mpi, rd, "
                                 "rabenseifner or ring", name ? name : "(null)");
}

static int floor_log2(int p)
{
    int l = 0;
    while ((2 << l) <= p) l++;
    return l;
}

double dbx__ar_model_seconds(const dbx__ar_model *m, dbx__ar_algo a, int P, size_t bytes)
{
    if (P <= 1) return 0;
    const double nb = (double)bytes;
    const int L = floor_log2(P), p2 = 1 << L, fold = P != p2 ? 2 : 0;
    switch (a) {
    case DBX_AR_RD:
        return (L + fold) * (m->rd.alpha + nb * m->rd.beta);
    case DBX_AR_RAB:
        return (2 * L + fold) * m->rab.alpha +
               (2.0 * (p2 - 1) / p2 + fold) * nb * m->rab.beta;
    case DBX_AR_RING:
        return 2.0 * (P - 1) * m->ring.alpha + 2.0 * (P - 1) / P * nb * m->ring.beta;
    default:
        return -1;
    }
}

dbx__ar_algo dbx__ar_choose(const dbx__ar_model *m, int P, size_t bytes)
{
    const dbx__ar_algo cand[] = {DBX_AR_RD, DBX_AR_RAB, DBX_AR_RING};
    dbx__ar_algo best = DBX_AR_RD;
    double tb = dbx__ar_model_seconds(m, best, P, bytes);
    for (size_t i = 1; i < sizeof cand / sizeof *cand; i++) {
        double t = dbx__ar_model_seconds(m, cand[i], P, bytes);
        if (t < tb) { /* strictly: ties keep the earlier (rd before rabenseifner) */
            tb = t;
            best = cand[i];
        }
    }
    return best;
}

/* ---- schedules -------------------------------------------------------------------------- */
static dbx_status add_step(ar_op *op, int speer, size_t soff, size_t slen, int rpeer,
                           size_t roff, size_t rlen, int reduce)
{
    DBX_TRY(DBX_GROW(op->steps, op->cap_steps, op->nsteps + 1));
    op->steps[op->nsteps++] = (ar_step){speer, rpeer, soff, slen, roff, rlen, reduce};
    return DBX_OK;
}

/* The part of the schedule among the participants part[0..P) for participant v. */
static dbx_status sched_flat(ar_op *op, const int *part, int P, int v, dbx__ar_algo algo)
{
    const size_t n = op->n;
    if (P <= 1) return DBX_OK;
    if (algo == DBX_AR_RING) {
        /* chunk k = [k n / P, (k+1) n / P) */
#define CHUNK_LO(k) ((size_t)(k) * n / (size_t)P)
#define CHUNK_LEN(k) (CHUNK_LO((k) + 1) - CHUNK_LO(k))
        const int right = part[(v + 1) % P], left = part[(v + P - 1) % P];
        for (int s = 0; s < P - 1; s++) {
            int sc = ((v - s) % P + P) % P, rc = ((v - s - 1) % P + P) % P;
            DBX_TRY(add_step(op, right, CHUNK_LO(sc), CHUNK_LEN(sc), left, CHUNK_LO(rc),
                             CHUNK_LEN(rc), 1));
        }
        for (int s = 0; s < P - 1; s++) {
            int sc = ((v + 1 - s) % P + P) % P, rc = ((v - s) % P + P) % P;
            DBX_TRY(add_step(op, right, CHUNK_LO(sc), CHUNK_LEN(sc), left, CHUNK_LO(rc),
                             CHUNK_LEN(rc), 0));
        }
#undef CHUNK_LO
#undef CHUNK_LEN
        return DBX_OK;
    }
    /* rd, rabenseifner: fold the r extra participants (odd v < 2r) into v - 1 */
    const int L = floor_log2(P), p2 = 1 << L, r = P - p2;
    if (v < 2 * r && (v & 1)) {
        DBX_TRY(add_step(op, part[v - 1], 0, n, -1, 0, 0, 0));
        return add_step(op, -1, 0, 0, part[v - 1], 0, n, 0);
    }
    if (v < 2 * r) DBX_TRY(add_step(op, -1, 0, 0, part[v + 1], 0, n, 1));
    const int u = v < 2 * r ? v / 2 : v - r;
#define PEER(w) part[(w) < r ? 2 * (w) : (w) + r]
    if (algo == DBX_AR_RD) {
        for (int d = p2 / 2; d >= 1; d /= 2) DBX_TRY(add_step(op, PEER(u ^ d), 0, n, PEER(u ^ d), 0, n, 1));
    } else { /* rabenseifner */
        size_t lo[32], hi[32];
        size_t a = 0, b = n;
        int k = 0;
        for (int d = p2 / 2; d >= 1; d /= 2, k++) {
            size_t mid = a + (b - a) / 2;
            lo[k] = a;
            hi[k] = b;
            if (!(u & d)) { /* keep [a, mid), send [mid, b) */
                DBX_TRY(add_step(op, PEER(u ^ d), mid, b - mid, PEER(u ^ d), a, mid - a, 1));
                b = mid;
            } else {
                DBX_TRY(add_step(op, PEER(u ^ d), a, mid - a, PEER(u ^ d), mid, b - mid, 1));
                a = mid;
            }
        }
        /* all-gather: undo the halvings, smallest distance first */
        for (int d = 1; d < p2; d *= 2) {
            k--;
            size_t mid = lo[k] + (hi[k] - lo[k]) / 2;
            if (!(u & d))
                DBX_TRY(add_step(op, PEER(u ^ d), lo[k], mid - lo[k], PEER(u ^ d), mid, hi[k] - mid, 0));
            else
                DBX_TRY(add_step(op, PEER(u ^ d), mid, hi[k] - mid, PEER(u ^ d), lo[k], mid - lo[k], 0));
        }
    }
#undef PEER
    if (v < 2 * r) DBX_TRY(add_step(op, part[v + 1], 0, n, -1, 0, 0, 0));
    return DBX_OK;
}

static dbx_status build_schedule(const dbx__ar *e, ar_op *op, dbx__ar_algo algo)
{
    op->nsteps = 0;
    const size_t n = op->n;
    if (e->hier && e->vme < 0) { /* a node member: to the leader, and back */
        DBX_TRY(add_step(op, e->leader, 0, n, -1, 0, 0, 0));
        return add_step(op, -1, 0, 0, e->leader, 0, n, 0);
    }
    if (e->hier) /* leader: the node's sum, in rank order */
        for (int i = 0; i < e->nmembers; i++) DBX_TRY(add_step(op, -1, 0, 0, e->members[i], 0, n, 1));
    DBX_TRY(sched_flat(op, e->part, e->npart, e->vme, algo));
    if (e->hier)
        for (int i = 0; i < e->nmembers; i++) DBX_TRY(add_step(op, e->members[i], 0, n, -1, 0, 0, 0));
    return DBX_OK;
}

/* ---- bfloat16 on the wire --------------------------------------------------------------------- */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- engine ------------------------------------------------------------------------------- */
dbx_status dbx__ar_init(dbx__comm *c, const int *leader_of, int hier)
{
    dbx__ar *e = calloc(1, sizeof *e);
    if (!e) return dbx__fail(DBX_ENOMEM, "dbx__comm_init: out of memory");
    c->ar = e;
    e->comm = dbx__comm_mpi_grad(c);
    const int N = c->size;
    e->part = malloc((size_t)N * sizeof *e->part);
    e->members = malloc((size_t)N * sizeof *e->members);
    if (!e->part || !e->members) return dbx__fail(DBX_ENOMEM, "dbx__comm_init: out of memory");
    /* nodes: the ranks with one leader; hierarchical when asked, or (auto) when a node has
       several ranks and there are several nodes. Every rank sees the same leader_of. */
    int nodes = 0, shared = 0;
    for (int r = 0; r < N; r++) {
        if (leader_of[r] == r) nodes++;
        else shared = 1;
    }
    e->hier = hier > 0 || (hier < 0 && shared && nodes > 1);
    e->leader = leader_of[c->rank];
    e->vme = -1;
    e->npart = 0;
    for (int r = 0; r < N; r++) { /* in rank order */
        if (e->hier && leader_of[r] != r) continue;
        if (r == c->rank) e->vme = e->npart;
        e->part[e->npart++] = r;
    }
    e->nmembers = 0;
    if (e->hier && e->leader == c->rank)
        for (int r = 0; r < N; r++)
            if (r != c->rank && leader_of[r] == c->rank) e->members[e->nmembers++] = r;
    c->ar_hier = e->hier;
    c->ar_participants = e->npart;
    return DBX_OK;
}

void dbx__ar_free(dbx__comm *c)
{
    dbx__ar *e = c->ar;
    if (!e) return;
    for (int i = 0; i < 2 * e->nslots; i++)
        if (e->req[i] != MPI_REQUEST_NULL) MPI_Request_free(&e->req[i]);
    for (int i = 0; i < e->nslots; i++) {
        free(e->ops[i].steps);
        free(e->ops[i].tmp);
        free(e->ops[i].wbuf);
    }
    free(e->ops);
    free(e->req);
    free(e->idx);
    free(e->st);
    free(e->part);
    free(e->members);
    free(e);
    c->ar = NULL;
}

static dbx_status post_step(dbx__comm *c, dbx__ar *e, int slot)
{
    ar_op *op = &e->ops[slot];
    const ar_step *s = &op->steps[op->cur];
    const MPI_Datatype t = op->wire16 ? MPI_UINT16_T : MPI_FLOAT;
    const size_t es = op->wire16 ? sizeof(uint16_t) : sizeof(float);
    char *base = op->wire16 ? (char *)op->wbuf : (char *)op->buf;
    if (s->rpeer >= 0) {
        void *dst = base + s->roff * es;
        if (s->reduce) {
            DBX_TRY(DBX_GROW(op->tmp, op->cap_tmp, s->rlen + 1));
            dst = op->tmp;
        }
        DBX_MPI_TRY(c, MPI_Irecv(dst, (int)s->rlen, t, s->rpeer, op->key, e->comm,
                                 &e->req[2 * slot + 1]));
    }
    if (s->speer >= 0)
        DBX_MPI_TRY(c, MPI_Isend(base + s->soff * es, (int)s->slen, t, s->speer, op->key,
                                 e->comm, &e->req[2 * slot]));
    return DBX_OK;
}

/* The current step of slot's op has completed: reduce, then post the next step or finish. */
static dbx_status advance(dbx__comm *c, dbx__ar *e, int slot)
{
    ar_op *op = &e->ops[slot];
    if (op->algo != DBX_AR_MPI) {
        const ar_step *s = &op->steps[op->cur];
        if (s->rpeer >= 0 && s->reduce && op->wire16) {
            uint16_t *restrict dst = op->wbuf + s->roff;
            const uint16_t *restrict src = (const uint16_t *)op->tmp;
            for (size_t i = 0; i < s->rlen; i++)
                dst[i] = to_bf16(from_bf16(dst[i]) + from_bf16(src[i]));
        } else if (s->rpeer >= 0 && s->reduce) {
            float *restrict dst = op->buf + s->roff;
            const float *restrict src = op->tmp;
            for (size_t i = 0; i < s->rlen; i++) dst[i] += src[i];
        }
        if (++op->cur < op->nsteps) return post_step(c, e, slot);
        if (op->wire16)
            for (size_t i = 0; i < op->n; i++) op->buf[i] = from_bf16(op->wbuf[i]);
    }
    op->active = 0;
    e->active--;
    return DBX_OK;
}

dbx_status dbx__ar_start(dbx__comm *c, float *buf, size_t n, int key, dbx__ar_algo algo)
{
    dbx__ar *e = c->ar;
    if (n > (size_t)INT_MAX)
        return dbx__fail(DBX_EINVAL, "all-reduce of %zu floats: more than INT_MAX in one "
                                     "operation (use buckets)", n);
    int slot = -1;
    for (int i = 0; i < e->nslots; i++) {
        if (e->ops[i].active && e->ops[i].key == key)
            return dbx__fail(DBX_EINVAL, "all-reduce key %d is already in flight", key);
        if (!e->ops[i].active && slot < 0) slot = i;
    }
    if (slot < 0) {
        int ns = e->nslots ? 2 * e->nslots : 8;
        ar_op *ops = realloc(e->ops, (size_t)ns * sizeof *ops);
        if (ops) e->ops = ops;
        MPI_Request *req = ops ? realloc(e->req, 2 * (size_t)ns * sizeof *req) : NULL;
        if (req) e->req = req;
        int *idx = req ? realloc(e->idx, 2 * (size_t)ns * sizeof *idx) : NULL;
        if (idx) e->idx = idx;
        MPI_Status *st = idx ? realloc(e->st, 2 * (size_t)ns * sizeof *st) : NULL;
        if (!st) return dbx__fail(DBX_ENOMEM, "all-reduce: out of memory");
        e->st = st;
        for (int i = e->nslots; i < ns; i++) {
            memset(&e->ops[i], 0, sizeof e->ops[i]);
            e->req[2 * i] = e->req[2 * i + 1] = MPI_REQUEST_NULL;
        }
        slot = e->nslots;
        e->nslots = ns;
    }
    ar_op *op = &e->ops[slot];
    op->key = key;
    op->buf = buf;
    op->n = n;
    op->cur = 0;
    op->wire16 = c->ar_wire_bf16;
    const size_t wire_bytes = n * (op->wire16 ? sizeof(uint16_t) : sizeof(float));
    if (algo == DBX_AR_AUTO) algo = dbx__ar_choose(&c->ar_model, e->npart, wire_bytes);
    if (op->wire16 && algo == DBX_AR_MPI)
        return dbx__fail(DBX_EINVAL, "bfloat16 gradients on the wire need dbx's algorithms "
                                     "(auto, rd, rabenseifner or ring), not mpi");
    op->algo = algo;
    op->active = 1;
    e->active++;
    c->ar_started[algo]++;
    if (algo == DBX_AR_MPI) {
        DBX_MPI_TRY(c, MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM,
                                      e->comm, &e->req[2 * slot]));
        return DBX_OK;
    }
    if (op->wire16) {
        DBX_TRY(DBX_GROW(op->wbuf, op->cap_wbuf, n + 1));
        for (size_t i = 0; i < n; i++) op->wbuf[i] = to_bf16(buf[i]);
    }
    DBX_TRY(build_schedule(e, op, algo));
    if (!op->nsteps) return advance(c, e, slot);
    return post_step(c, e, slot);
}

dbx_status dbx__ar_progress(dbx__comm *c, int block)
{
    dbx__ar *e = c->ar;
    if (block) dbx__comm_wd_enter(c, "dbx__comm_allreduce_wait/MPI_Waitsome");
    while (e->active > 0) {
        int out = 0;
        int rc = block ? MPI_Waitsome(2 * e->nslots, e->req, &out, e->idx, e->st)
                       : MPI_Testsome(2 * e->nslots, e->req, &out, e->idx, e->st);
        if (rc != MPI_SUCCESS)
            return dbx__comm_mpi_fail(c, rc, block ? "MPI_Waitsome" : "MPI_Testsome",
                                      __FILE__, __LINE__);
        if (out == MPI_UNDEFINED) /* nothing posted: an op without steps cannot be here */
            return dbx__fail(DBX_EMPI, "all-reduce: %d operations in flight but no request",
                             e->active);
        if (out == 0 && !block) break;
        for (int i = 0; i < out; i++) {
            int slot = e->idx[i] / 2;
            if (e->ops[slot].active && e->req[2 * slot] == MPI_REQUEST_NULL &&
                e->req[2 * slot + 1] == MPI_REQUEST_NULL)
                DBX_TRY(advance(c, e, slot));
        }
    }
    if (block) dbx__comm_wd_leave(c);
    return DBX_OK;
}
