/* Partitioning strategies, the online cost model and the evaluation of an assignment
 * (partition/partition.h).
 *
 * Keys of all samples are first renumbered densely (0..U-1); a worker's key set is then a
 * row of a W x U bitset, or, when that would be large, entries (w, id) of one hash set.
 * similarity visits workers in increasing order of their current modelled time and stops
 * as soon as no later worker can reach the best time found (a worker's time after adding
 * a sample is at least its time now plus B times the sample's nodes); counting a sample's
 * new keys on a worker stops as soon as that worker cannot win. Results are identical to
 * the plain scan over all workers.
 *
 * All memory is allocated per call and freed before returning; the caller's inputs are
 * only read. Reentrant: no global state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "partition/partition.h"

#define COST_FLOOR 1e-12
#define PRIOR_WEIGHT 1e-3
#define DEFAULT_A0 20e-6
#define DEFAULT_B0 1e-6
#define BITSET_MAX_BITS ((uint64_t)1 << 29) /* 64 MiB */
#define EMPTY_SLOT UINT64_MAX

/* ---- names ----------------------------------------------------------------------------------- */
static const char *const part_names[] = {"random", "round-robin", "lpt", "similarity"};
#define NSTRATEGIES ((int)(sizeof part_names / sizeof part_names[0]))

dbx_status dbx__part_parse(const char *name, dbx__part_strategy *out)
{
    if (!name || !out) return dbx__fail(DBX_EINVAL, "partition strategy: NULL argument");
    for (int i = 0; i < NSTRATEGIES; i++)
        if (strcmp(name, part_names[i]) == 0) {
            *out = (dbx__part_strategy)i;
            return DBX_OK;
        }
    return dbx__fail(DBX_EINVAL,
                     "unknown partition strategy '%s' (random, round-robin, lpt, similarity)",
                     name);
}

const char *dbx__part_name(dbx__part_strategy s)
{
    return (int)s >= 0 && (int)s < NSTRATEGIES ? part_names[s] : "unknown";
}

/* ---- cost model ------------------------------------------------------------------------------ */
static double sane_cost(double x) { return isfinite(x) && x >= COST_FLOOR ? x : COST_FLOOR; }

/* Non-negative least squares for two unknowns on the normal equations
 * [a11 a12; a12 a22] [A; B] = [b1; b2] (positive definite thanks to the prior). */
static void refit(dbx__cost_model *cm)
{
    double a11 = cm->sll + PRIOR_WEIGHT, a22 = cm->snn + PRIOR_WEIGHT, a12 = cm->sln;
    double b1 = cm->slt + PRIOR_WEIGHT * cm->A0, b2 = cm->snt + PRIOR_WEIGHT * cm->B0;
    double det = a11 * a22 - a12 * a12;
    double A = NAN, B = NAN;
    if (det > 0 && isfinite(det)) {
        A = (b1 * a22 - a12 * b2) / det;
        B = (a11 * b2 - a12 * b1) / det;
    }
    if (!(A >= COST_FLOOR && B >= COST_FLOOR)) {
        /* the unconstrained optimum is outside the feasible set (or degenerate): the best
         * feasible point lies on a boundary; take the better of the two */
        double Aa = COST_FLOOR, Ba = sane_cost((b2 - a12 * Aa) / a22);
        double Bb = COST_FLOOR, Ab = sane_cost((b1 - a12 * Bb) / a11);
        /* objective up to a constant: x' M x - 2 x' b */
        double fa = a11 * Aa * Aa + 2 * a12 * Aa * Ba + a22 * Ba * Ba - 2 * (b1 * Aa + b2 * Ba);
        double fb = a11 * Ab * Ab + 2 * a12 * Ab * Bb + a22 * Bb * Bb - 2 * (b1 * Ab + b2 * Bb);
        if (fa <= fb) {
            A = Aa;
            B = Ba;
        } else {
            A = Ab;
            B = Bb;
        }
    }
    cm->A = sane_cost(A);
    cm->B = sane_cost(B);
}

void dbx__cost_init(dbx__cost_model *cm, double A0, double B0, double decay)
{
    if (!cm) return;
    memset(cm, 0, sizeof *cm);
    cm->A0 = cm->A = sane_cost(A0);
    cm->B0 = cm->B = sane_cost(B0);
    cm->decay = isfinite(decay) && decay > 0 && decay <= 1 ? decay : 1.0;
}

void dbx__cost_observe(dbx__cost_model *cm, double launches, double nodes, double seconds)
{
    if (!cm) return;
    if (!isfinite(launches) || !isfinite(nodes) || !isfinite(seconds) || launches < 0 ||
        nodes < 0 || seconds < 0)
        return;
    double d = cm->decay;
    cm->sll = d * cm->sll + launches * launches;
    cm->sln = d * cm->sln + launches * nodes;
    cm->snn = d * cm->snn + nodes * nodes;
    cm->slt = d * cm->slt + launches * seconds;
    cm->snt = d * cm->snt + nodes * seconds;
    cm->nobs++;
    refit(cm);
}

double dbx__cost_eval(const dbx__cost_model *cm, double launches, double nodes)
{
    return cm->A * launches + cm->B * nodes;
}

static void default_model(dbx__cost_model *cm) { dbx__cost_init(cm, DEFAULT_A0, DEFAULT_B0, 1); }

/* ---- dense key ids --------------------------------------------------------------------------- */
typedef struct keyspace {
    int32_t *ids;   /* concatenated dense key ids, per sample in the order of its keys */
    size_t *off;    /* (n + 1) */
    int32_t nids;   /* U: distinct keys over all samples */
} keyspace;

static void keyspace_free(keyspace *ks)
{
    free(ks->ids);
    free(ks->off);
    memset(ks, 0, sizeof *ks);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

/* Renumbers the keys of all samples densely (in order of first appearance). */
static dbx_status keyspace_build(const dbx__psample *samples, int n, keyspace *ks)
{
    memset(ks, 0, sizeof *ks);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)samples[i].nkeys;
    ks->off = malloc(((size_t)n + 1) * sizeof *ks->off);
    ks->ids = malloc((total ? total : 1) * sizeof *ks->ids);
    /* map key -> id: open addressing over (key + 1) so that 0 marks an empty slot */
    size_t cap = pow2_at_least(2 * total + 2);
    uint64_t *slot_key = calloc(cap, sizeof *slot_key);
    int32_t *slot_id = malloc(cap * sizeof *slot_id);
    if (!ks->off || !ks->ids || !slot_key || !slot_id) {
        free(slot_key);
        free(slot_id);
        keyspace_free(ks);
        return dbx__fail(DBX_ENOMEM, "partition: out of memory");
    }
    size_t mask = cap - 1, k = 0;
    int32_t next = 0;
    for (int i = 0; i < n; i++) {
        ks->off[i] = k;
        for (int32_t j = 0; j < samples[i].nkeys; j++) {
            uint64_t key = (uint64_t)samples[i].keys[j] + 1;
            size_t h = (size_t)mix64(key) & mask;
            while (slot_key[h] && slot_key[h] != key) h = (h + 1) & mask;
            if (!slot_key[h]) {
                slot_key[h] = key;
                slot_id[h] = next++;
            }
            ks->ids[k++] = slot_id[h];
        }
    }
    ks->off[n] = k;
    ks->nids = next;
    free(slot_key);
    free(slot_id);
    return DBX_OK;
}

/* ---- per-worker key sets --------------------------------------------------------------------- */
typedef struct keysets {
    int32_t nids;
    uint64_t *bits;   /* W rows of `words` words, or NULL */
    size_t words;
    uint64_t *tab;    /* hash set of w * nids + id (EMPTY_SLOT marks empty), or NULL */
    size_t mask;
} keysets;

static dbx_status keysets_new(int W, const keyspace *ks, size_t max_entries, keysets *s)
{
    memset(s, 0, sizeof *s);
    s->nids = ks->nids;
    uint64_t nbits = (uint64_t)W * (uint64_t)(ks->nids ? ks->nids : 1);
    if (nbits <= BITSET_MAX_BITS) {
        s->words = ((size_t)ks->nids + 63) / 64;
        if (!s->words) s->words = 1;
        s->bits = calloc((size_t)W * s->words, sizeof *s->bits);
        if (!s->bits) return dbx__fail(DBX_ENOMEM, "partition: out of memory");
        return DBX_OK;
    }
    size_t cap = pow2_at_least(2 * max_entries + 2);
    s->tab = malloc(cap * sizeof *s->tab);
    if (!s->tab) return dbx__fail(DBX_ENOMEM, "partition: out of memory");
    memset(s->tab, 0xff, cap * sizeof *s->tab);
    s->mask = cap - 1;
    return DBX_OK;
}

static void keysets_free(keysets *s)
{
    free(s->bits);
    free(s->tab);
    memset(s, 0, sizeof *s);
}

/* Whether worker w holds key id; with add, inserts it. Returns 1 if it was present. */
static int keysets_probe(keysets *s, int w, int32_t id, int add)
{
    if (s->bits) {
        uint64_t *word = &s->bits[(size_t)w * s->words + (size_t)id / 64];
        uint64_t bit = (uint64_t)1 << (id % 64);
        int had = (*word & bit) != 0;
        if (add) *word |= bit;
        return had;
    }
    uint64_t key = (uint64_t)w * (uint64_t)s->nids + (uint64_t)id;
    size_t h = (size_t)mix64(key) & s->mask;
    while (s->tab[h] != EMPTY_SLOT) {
        if (s->tab[h] == key) return 1;
        h = (h + 1) & s->mask;
    }
    if (add) s->tab[h] = key;
    return 0;
}

/* ---- validation ------------------------------------------------------------------------------ */
static dbx_status check_args(const dbx__psample *samples, int n, int W, const void *assign)
{
    if (W <= 0) return dbx__fail(DBX_EINVAL, "partition: W = %d workers (must be > 0)", W);
    if (n < 0) return dbx__fail(DBX_EINVAL, "partition: n = %d samples (must be >= 0)", n);
    if (n > 0 && (!samples || !assign))
        return dbx__fail(DBX_EINVAL, "partition: NULL samples or assignment");
    for (int i = 0; i < n; i++) {
        const dbx__psample *p = &samples[i];
        if (p->nodes < 0 || p->nkeys < 0 || (p->nkeys > 0 && !p->keys))
            return dbx__fail(DBX_EINVAL, "partition: sample %d has invalid counts or keys", i);
        for (int32_t j = 1; j < p->nkeys; j++)
            if (p->keys[j] <= p->keys[j - 1])
                return dbx__fail(DBX_EINVAL,
                                 "partition: keys of sample %d are not sorted and distinct", i);
    }
    return DBX_OK;
}

/* ---- evaluation ------------------------------------------------------------------------------ */
static dbx_status eval_with(const dbx__psample *samples, int n, int W, const int32_t *assign,
                            const dbx__cost_model *cm, const keyspace *ks, dbx__part_stats *st)
{
    int64_t *launches = calloc((size_t)W, sizeof *launches);
    int64_t *nodes = calloc((size_t)W, sizeof *nodes);
    keysets sets = {0};
    dbx_status s = DBX_OK;
    if (!launches || !nodes) {
        s = dbx__fail(DBX_ENOMEM, "partition: out of memory");
        goto out;
    }
    if ((s = keysets_new(W, ks, ks->off[n], &sets))) goto out;
    for (int i = 0; i < n; i++) {
        int w = assign[i];
        nodes[w] += samples[i].nodes;
        for (size_t k = ks->off[i]; k < ks->off[i + 1]; k++)
            if (!keysets_probe(&sets, w, ks->ids[k], 1)) launches[w]++;
    }
    memset(st, 0, sizeof *st);
    double sum = 0;
    for (int w = 0; w < W; w++) {
        double t = dbx__cost_eval(cm, (double)launches[w], (double)nodes[w]);
        sum += t;
        if (t > st->max_time) st->max_time = t;
        st->total_launches += launches[w];
        if (nodes[w] > st->max_nodes) st->max_nodes = nodes[w];
        if (w == 0 || nodes[w] < st->min_nodes) st->min_nodes = nodes[w];
    }
    st->mean_time = sum / W;
out:
    keysets_free(&sets);
    free(launches);
    free(nodes);
    return s;
}

dbx_status dbx__partition_eval(const dbx__psample *samples, int n, int W, const int32_t *assign,
                              const dbx__cost_model *cm, dbx__part_stats *stats)
{
    DBX_TRY(check_args(samples, n, W, assign));
    if (!stats) return dbx__fail(DBX_EINVAL, "dbx__partition_eval: NULL stats");
    for (int i = 0; i < n; i++)
        if (assign[i] < 0 || assign[i] >= W)
            return dbx__fail(DBX_EINVAL, "dbx__partition_eval: assign[%d] = %d not in [0, %d)", i,
                             (int)assign[i], W);
    dbx__cost_model def;
    if (!cm) {
        default_model(&def);
        cm = &def;
    }
    keyspace ks;
    DBX_TRY(keyspace_build(samples, n, &ks));
    dbx_status s = eval_with(samples, n, W, assign, cm, &ks, stats);
    keyspace_free(&ks);
    return s;
}

/* ---- strategies ------------------------------------------------------------------------------ */
static void part_random(int n, int W, uint64_t seed, int32_t *assign)
{
    uint64_t state = seed ^ 0x6a09e667f3bcc909ull;
    for (int i = 0; i < n; i++) assign[i] = (int32_t)dbx__splitmix64_below(&state, (uint64_t)W);
}

static void part_round_robin(int n, int W, int32_t *assign)
{
    for (int i = 0; i < n; i++) assign[i] = (int32_t)(i % W);
}

/* Sample indices by nodes descending, then index ascending (a stable merge sort). */
static dbx_status order_by_nodes(const dbx__psample *samples, int n, int32_t **out)
{
    int32_t *a = malloc(((size_t)n + 1) * sizeof *a), *b = malloc(((size_t)n + 1) * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return dbx__fail(DBX_ENOMEM, "partition: out of memory");
    }
    for (int i = 0; i < n; i++) a[i] = i;
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = samples[a[j]].nodes > samples[a[i]].nodes ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        int32_t *t = a;
        a = b;
        b = t;
    }
    free(b);
    *out = a;
    return DBX_OK;
}

/* Min-heap of workers by (nodes, id). */
static int heap_less(const int64_t *nodes, int32_t a, int32_t b)
{
    return nodes[a] < nodes[b] || (nodes[a] == nodes[b] && a < b);
}

static void heap_sift_down(int32_t *heap, int len, const int64_t *nodes, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && heap_less(nodes, heap[l], heap[m])) m = l;
        if (r < len && heap_less(nodes, heap[r], heap[m])) m = r;
        if (m == i) return;
        int32_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

static dbx_status part_lpt(const dbx__psample *samples, int n, int W, int32_t *assign)
{
    int32_t *order = NULL;
    DBX_TRY(order_by_nodes(samples, n, &order));
    int32_t *heap = malloc((size_t)W * sizeof *heap);
    int64_t *nodes = calloc((size_t)W, sizeof *nodes);
    if (!heap || !nodes) {
        free(order);
        free(heap);
        free(nodes);
        return dbx__fail(DBX_ENOMEM, "partition: out of memory");
    }
    for (int w = 0; w < W; w++) heap[w] = w; /* all zero: already a heap by id */
    for (int k = 0; k < n; k++) {
        int i = order[k], w = heap[0];
        assign[i] = w;
        nodes[w] += samples[i].nodes;
        heap_sift_down(heap, W, nodes, 0);
    }
    free(order);
    free(heap);
    free(nodes);
    return DBX_OK;
}

typedef struct sim_state {
    int W;
    int64_t *launches, *nodes;
    double *time;     /* modelled time of each worker now */
    int32_t *rank;    /* workers by (time, id) ascending */
} sim_state;

static int rank_less(const sim_state *st, int32_t a, int32_t b)
{
    return st->time[a] < st->time[b] || (st->time[a] == st->time[b] && a < b);
}

static dbx_status part_similarity(const dbx__psample *samples, int n, int W,
                                  const dbx__cost_model *cm, const keyspace *ks,
                                  int32_t *assign)
{
    const double A = cm->A, B = cm->B;
    int32_t *order = NULL;
    DBX_TRY(order_by_nodes(samples, n, &order));
    sim_state st = {.W = W};
    keysets sets = {0};
    dbx_status s = DBX_OK;
    st.launches = calloc((size_t)W, sizeof *st.launches);
    st.nodes = calloc((size_t)W, sizeof *st.nodes);
    st.time = calloc((size_t)W, sizeof *st.time);
    st.rank = malloc((size_t)W * sizeof *st.rank);
    if (!st.launches || !st.nodes || !st.time || !st.rank) {
        s = dbx__fail(DBX_ENOMEM, "partition: out of memory");
        goto out;
    }
    if ((s = keysets_new(W, ks, ks->off[n], &sets))) goto out;
    for (int w = 0; w < W; w++) st.rank[w] = w;

    for (int k = 0; k < n; k++) {
        const int i = order[k];
        const int64_t sn = samples[i].nodes;
        const int32_t *ids = ks->ids + ks->off[i];
        const int64_t nk = (int64_t)(ks->off[i + 1] - ks->off[i]);
        const double lb_add = B * (double)sn;
        int best = -1, best_pos = -1;
        int64_t best_inc = 0;
        double best_t = 0;
        for (int pos = 0; pos < W; pos++) {
            const int w = st.rank[pos];
            /* every later worker's time is at least this one's: stop once even a sample
             * that adds no launch could not reach the best (the relative margin absorbs
             * rounding, so no worker that could win or tie is skipped) */
            if (best >= 0 && st.time[w] + lb_add > best_t * (1 + 1e-9)) break;
            const double node_t = B * (double)(st.nodes[w] + sn);
            const int64_t L = st.launches[w];
            int64_t inc = 0;
            int lost = 0;
            /* deep keys first: they are the rarest, so a worker that cannot win is
             * usually rejected after a few probes */
            for (int64_t j = nk - 1; j >= 0; j--) {
                if (keysets_probe(&sets, w, ids[j], 0)) continue;
                inc++;
                if (best >= 0 && A * (double)(L + inc) + node_t > best_t) {
                    lost = 1;
                    break;
                }
            }
            if (lost) continue;
            double t = A * (double)(L + inc) + node_t;
            if (best < 0 || t < best_t || (t == best_t && (inc < best_inc ||
                                                           (inc == best_inc && w < best)))) {
                best = w;
                best_pos = pos;
                best_inc = inc;
                best_t = t;
            }
        }
        assign[i] = best;
        for (int64_t j = 0; j < nk; j++) keysets_probe(&sets, best, ids[j], 1);
        st.launches[best] += best_inc;
        st.nodes[best] += sn;
        st.time[best] = best_t;
        /* its time only grew: move it towards the end of the ranking */
        int pos = best_pos;
        while (pos + 1 < W && rank_less(&st, st.rank[pos + 1], best)) {
            st.rank[pos] = st.rank[pos + 1];
            pos++;
        }
        st.rank[pos] = best;
    }
out:
    keysets_free(&sets);
    free(order);
    free(st.launches);
    free(st.nodes);
    free(st.time);
    free(st.rank);
    return s;
}

dbx_status dbx__partition(dbx__part_strategy s, const dbx__psample *samples, int n, int W,
                         const dbx__cost_model *cm, uint64_t seed, int32_t *assign,
                         dbx__part_stats *stats)
{
    DBX_TRY(check_args(samples, n, W, assign));
    if ((int)s < 0 || (int)s >= NSTRATEGIES)
        return dbx__fail(DBX_EINVAL, "partition: unknown strategy %d", (int)s);
    dbx__cost_model def;
    if (!cm) {
        default_model(&def);
        cm = &def;
    }
    int need_keys = s == DBX_PART_SIMILARITY || stats;
    keyspace ks = {0};
    if (need_keys) DBX_TRY(keyspace_build(samples, n, &ks));
    dbx_status st = DBX_OK;
    switch (s) {
    case DBX_PART_RANDOM: part_random(n, W, seed, assign); break;
    case DBX_PART_ROUND_ROBIN: part_round_robin(n, W, assign); break;
    case DBX_PART_LPT: st = part_lpt(samples, n, W, assign); break;
    case DBX_PART_SIMILARITY: st = part_similarity(samples, n, W, cm, &ks, assign); break;
    }
    if (!st && stats) st = eval_with(samples, n, W, assign, cm, &ks, stats);
    keyspace_free(&ks);
    return st;
}
