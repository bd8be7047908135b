/* Schedulers behind the scheduler interface (include/dbx/sched.h): the built-in none, depth
 * and agenda give exactly the schedules of the algorithms they replaced (kept below as a
 * reference: same batches, same order, same node order inside each batch) on Tree-LSTM and
 * BiLSTM-tagger minibatches with and without dedup; every registered scheduler is
 * deterministic and gives valid schedules; schedulers defined here and registered at run
 * time (one per ready-set grouping, checking the ready set on every choice) run, and give
 * the results of the built-ins; the executor owns the scheduler's state; the registry's
 * lookups, listing and errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/graph.h"
#include "core/model.h"
#include "dbx/data.h"
#include "dbx/models.h"
#include "dbx/sched.h"
#include "testutil.h"

/* ---- the reference: the three algorithms as they were before the interface ---------------- */
typedef struct ref_sched {
    int32_t *order;          /* (nnodes) */
    int32_t *first, *n;      /* (nbatches) */
    size_t nbatches;
} ref_sched;

static void ref_push(ref_sched *r, int32_t first, int32_t n)
{
    r->first[r->nbatches] = first;
    r->n[r->nbatches++] = n;
}

static void ref_none(ref_sched *r, const dbx_graph *g)
{
    for (size_t v = 0; v < g->nnodes; v++) {
        r->order[v] = (int32_t)v;
        ref_push(r, (int32_t)v, 1);
    }
}

static int ref_cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nodes by (depth, signature) with a counting sort stable in node id when the keys are dense,
   else by sorting (depth, signature, id) keys; one batch per non-empty key. */
static void ref_depth(ref_sched *r, const dbx_graph *g)
{
    size_t nn = g->nnodes, ns = g->nsigs;
    int32_t maxd = 0;
    for (size_t v = 0; v < nn; v++)
        if (g->nodes[v].depth > maxd) maxd = g->nodes[v].depth;
    size_t nb = ((size_t)maxd + 1) * ns;
    if (nb <= 4 * nn + 4096) {
        int32_t *buckets = calloc(nb + 1, sizeof *buckets);
        for (size_t v = 0; v < nn; v++)
            buckets[(size_t)g->nodes[v].depth * ns + (size_t)g->nodes[v].sig + 1]++;
        for (size_t b = 0; b < nb; b++) buckets[b + 1] += buckets[b];
        for (size_t v = 0; v < nn; v++)
            r->order[buckets[(size_t)g->nodes[v].depth * ns + (size_t)g->nodes[v].sig]++] =
                (int32_t)v;
        size_t start = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t end = (size_t)buckets[b];
            if (end > start) ref_push(r, (int32_t)start, (int32_t)(end - start));
            start = end;
        }
        free(buckets);
        return;
    }
    uint64_t *keys = malloc(nn * sizeof *keys);
    for (size_t v = 0; v < nn; v++) {
        const dbx__node *n = &g->nodes[v];
        keys[v] = ((uint64_t)(uint32_t)n->depth << 44) | ((uint64_t)(uint32_t)n->sig << 24) | v;
    }
    qsort(keys, nn, sizeof *keys, ref_cmp_key);
    size_t i = 0;
    while (i < nn) {
        size_t j = i;
        uint64_t k = keys[i] >> 24;
        while (j < nn && (keys[j] >> 24) == k) {
            r->order[j] = (int32_t)(keys[j] & 0xffffff);
            j++;
        }
        ref_push(r, (int32_t)i, (int32_t)(j - i));
        i = j;
    }
    free(keys);
}

/* Repeatedly every ready node of the ready signature with the lowest mean depth over the
   graph; ties: non-affine first, then the lowest signature id. */
static void ref_agenda(ref_sched *r, const dbx_graph *g)
{
    size_t nn = g->nnodes, ns = g->nsigs;
    int32_t *cs = calloc(nn + 1, sizeof *cs), *fill = malloc((nn + 1) * sizeof *fill);
    for (size_t v = 0; v < nn; v++)
        for (int i = 0; i < g->nodes[v].nargs; i++) cs[dbx__node_args(g, &g->nodes[v])[i] + 1]++;
    for (size_t v = 0; v < nn; v++) cs[v + 1] += cs[v];
    int32_t *cons = malloc(((size_t)cs[nn] + 1) * sizeof *cons);
    memcpy(fill, cs, nn * sizeof *fill);
    for (size_t v = 0; v < nn; v++)
        for (int i = 0; i < g->nodes[v].nargs; i++)
            cons[fill[dbx__node_args(g, &g->nodes[v])[i]]++] = (int32_t)v;
    int32_t **ready = calloc(ns, sizeof *ready), *pending = malloc(nn * sizeof *pending);
    size_t *nready = calloc(ns, sizeof *nready);
    double *rd = calloc(ns, sizeof *rd);
    for (size_t s = 0; s < ns; s++) ready[s] = malloc((nn + 1) * sizeof **ready);
    for (size_t v = 0; v < nn; v++) {
        rd[g->nodes[v].sig] += g->nodes[v].depth;
        nready[g->nodes[v].sig]++;
    }
    for (size_t s = 0; s < ns; s++) {
        if (nready[s]) rd[s] /= (double)nready[s];
        nready[s] = 0;
    }
    for (size_t v = 0; v < nn; v++) {
        pending[v] = g->nodes[v].nargs;
        if (!pending[v]) ready[g->nodes[v].sig][nready[g->nodes[v].sig]++] = (int32_t)v;
    }
    size_t done = 0;
    while (done < nn) {
        int32_t best = -1;
        double bestd = 0;
        int best_affine = 0;
        for (size_t s = 0; s < ns; s++) {
            if (!nready[s]) continue;
            int aff = g->sigkeys[g->sigkey_off[s]] == DBX_OP_AFFINE;
            if (best < 0 || rd[s] < bestd || (rd[s] == bestd && best_affine && !aff)) {
                best = (int32_t)s;
                bestd = rd[s];
                best_affine = aff;
            }
        }
        CU_ASSERT_FATAL(best >= 0);
        size_t n = nready[best];
        memcpy(r->order + done, ready[best], n * sizeof *r->order);
        nready[best] = 0;
        ref_push(r, (int32_t)done, (int32_t)n);
        for (size_t i = done; i < done + n; i++)
            for (int32_t c = cs[r->order[i]]; c < cs[r->order[i] + 1]; c++) {
                int32_t u = cons[c];
                if (--pending[u] == 0) ready[g->nodes[u].sig][nready[g->nodes[u].sig]++] = u;
            }
        done += n;
    }
    for (size_t s = 0; s < ns; s++) free(ready[s]);
    free(ready);
    free(nready);
    free(rd);
    free(pending);
    free(cs);
    free(fill);
    free(cons);
}

/* ---- fixtures ----------------------------------------------------------------------------- */
typedef struct fixture {
    dbx_model *m;
    dbx_vocab *words, *tags;
    dbx_treebank *tb;        /* Tree-LSTM */
    dbx_treelstm *tl;
    dbx_tagset *ts;          /* BiLSTM tagger */
    dbx_tagger *tg;
} fixture;

static void fixture_trees(fixture *f, int ntrees, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    dbx_gen_opts go = {.ntrees = ntrees, .vocab = 60, .seed = seed};
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_FATAL(dbx_treebank_generate(&go, &text, &len) == DBX_OK);
    CU_ASSERT_FATAL(dbx_vocab_new(&f->words) == DBX_OK);
    CU_ASSERT_FATAL(dbx_treebank_parse("<gen>", text, len, NULL, f->words, &f->tb) == DBX_OK);
    free(text);
    CU_ASSERT_FATAL(dbx_model_new(&f->m) == DBX_OK);
    dbx_treelstm_opts o = {.vocab = dbx_vocab_size(f->words), .embed = 6, .hidden = 7,
                           .labels = 5};
    CU_ASSERT_FATAL(dbx_treelstm_new(f->m, &o, &f->tl) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(f->m, seed) == DBX_OK);
}

static void fixture_tags(fixture *f, int nsent, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    char *text = malloc((size_t)nsent * 512 + 1);
    size_t at = 0;
    uint64_t st = seed;
    for (int s = 0; s < nsent; s++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        int len = 1 + (int)((st >> 33) % 25);
        for (int i = 0; i < len; i++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            int w = (int)((st >> 33) % 50);
            at += (size_t)snprintf(text + at, 20, "%sw%d|T%d", i ? " " : "", w, w % 7);
        }
        text[at++] = '\n';
    }
    CU_ASSERT_FATAL(dbx_vocab_new(&f->words) == DBX_OK && dbx_vocab_new(&f->tags) == DBX_OK);
    CU_ASSERT_FATAL(dbx_tagset_parse("<tags>", text, at, f->words, f->tags, &f->ts) == DBX_OK);
    free(text);
    CU_ASSERT_FATAL(dbx_model_new(&f->m) == DBX_OK);
    dbx_tagger_opts o = {.vocab = dbx_vocab_size(f->words), .embed = 5, .hidden = 6, .mlp = 7,
                         .tags = dbx_vocab_size(f->tags)};
    CU_ASSERT_FATAL(dbx_tagger_new(f->m, &o, &f->tg) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(f->m, seed) == DBX_OK);
}

static int fixture_samples(const fixture *f) { return f->tb ? f->tb->ntrees : f->ts->nsent; }

static void fixture_build(const fixture *f, dbx_graph *g, int lo, int hi)
{
    for (int i = lo; i < hi; i++) {
        dbx_status s = f->tb ? dbx_treelstm_build(f->tl, g, &f->tb->trees[i], NULL)
                             : dbx_tagger_build(f->tg, g, &f->ts->sents[i], NULL);
        CU_ASSERT_FATAL(s == DBX_OK);
    }
}

static void fixture_free(fixture *f)
{
    dbx_treelstm_free(f->tl);
    dbx_tagger_free(f->tg);
    dbx_model_free(f->m);
    dbx_treebank_free(f->tb);
    dbx_tagset_free(f->ts);
    dbx_vocab_free(f->words);
    dbx_vocab_free(f->tags);
}

/* ---- checks ------------------------------------------------------------------------------- */
/* Each batch one signature, every argument run by an earlier batch, every node once. */
static int schedule_valid(const dbx__schedule *sc, const dbx_graph *g)
{
    int32_t *batch_of = malloc(g->nnodes * sizeof *batch_of);
    for (size_t v = 0; v < g->nnodes; v++) batch_of[v] = -1;
    int ok = 1;
    size_t total = 0;
    for (size_t b = 0; b < sc->nbatches; b++) {
        const dbx__batch *bt = &sc->batches[b];
        ok &= bt->n > 0 && (size_t)bt->first == total;
        for (int32_t i = 0; i < bt->n; i++) {
            const int32_t v = sc->order[bt->first + i];
            const dbx__node *nd = &g->nodes[v];
            ok &= batch_of[v] == -1 && nd->sig == bt->sig && nd->op == bt->op;
            for (int k = 0; k < nd->nargs; k++) {
                const int32_t a = dbx__node_args(g, nd)[k];
                ok &= batch_of[a] >= 0 && batch_of[a] < (int32_t)b;
            }
        }
        for (int32_t i = 0; i < bt->n; i++) batch_of[sc->order[bt->first + i]] = (int32_t)b;
        total += (size_t)bt->n;
    }
    ok &= total == g->nnodes;
    free(batch_of);
    return ok;
}

static int same_as_reference(const dbx__schedule *sc, const ref_sched *r, size_t nn)
{
    if (sc->nbatches != r->nbatches) return 0;
    for (size_t b = 0; b < r->nbatches; b++)
        if (sc->batches[b].first != r->first[b] || sc->batches[b].n != r->n[b]) return 0;
    return memcmp(sc->order, r->order, nn * sizeof *r->order) == 0;
}

/* Schedules g with the named scheduler (without planning: the planner reorders inside
   batches) and compares with the reference algorithm. */
static void check_reference(const dbx_graph *g, int k)
{
    static const char *const names[3] = {"none", "depth", "agenda"};
    static void (*const refs[3])(ref_sched *, const dbx_graph *) = {ref_none, ref_depth,
                                                                     ref_agenda};
    dbx_exec_opts eo = {.scheduler = names[k]};
    dbx_exec *ex = NULL;
    CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
    CU_ASSERT_FATAL(dbx__exec_schedule(ex, g) == DBX_OK);
    ref_sched r = {.order = malloc((g->nnodes + 1) * sizeof(int32_t)),
                   .first = malloc((g->nnodes + 1) * sizeof(int32_t)),
                   .n = malloc((g->nnodes + 1) * sizeof(int32_t))};
    refs[k](&r, g);
    int same = same_as_reference(&ex->schedule, &r, g->nnodes);
    if (!same)
        printf("\n  %s: %zu batches, reference %zu", names[k], ex->schedule.nbatches, r.nbatches);
    CU_ASSERT(same);
    CU_ASSERT(schedule_valid(&ex->schedule, g));
    free(r.order);
    free(r.first);
    free(r.n);
    dbx_exec_free(ex);
}

static void check_reference_fixture(fixture *f)
{
    const int n = fixture_samples(f);
    int graphs = 0;
    for (int dedup = 0; dedup < 2; dedup++) {
        dbx_graph *g = NULL;
        CU_ASSERT_FATAL(dbx_graph_new(f->m, dedup, &g) == DBX_OK);
        for (int lo = 0; lo < n; lo += 32) { /* minibatches of 32, 1 and the rest */
            for (int one = 0; one < 2; one++) {
                dbx_graph_clear(g);
                fixture_build(f, g, lo, one ? lo + 1 : (lo + 32 < n ? lo + 32 : n));
                for (int k = 0; k < 3; k++) check_reference(g, k);
                graphs++;
            }
        }
        dbx_graph_free(g);
    }
    CU_ASSERT(graphs >= 8);
}

static void test_sched_builtins_match_reference_treelstm(void)
{
    fixture f;
    fixture_trees(&f, 100, 5);
    check_reference_fixture(&f);
    fixture_free(&f);
}

static void test_sched_builtins_match_reference_tagger(void)
{
    fixture f;
    fixture_tags(&f, 70, 9);
    check_reference_fixture(&f);
    fixture_free(&f);
}

/* A graph whose (depth, signature) keys are sparse (many signatures interned earlier, one
   deep chain now) takes the depth ready set's comparison sort. */
static void test_sched_depth_sparse_keys_match_reference(void)
{
    dbx_model *m = NULL;
    dbx_param unused;
    CU_ASSERT_FATAL(dbx_model_new(&m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_add(m, "unused", 1, 1, DBX_INIT_ZERO, 0, &unused) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(m, 1) == DBX_OK);
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(m, 1, &g) == DBX_OK);
    float x[120] = {0};
    for (int d = 1; d <= 120; d++) dbx_tanh(g, dbx_input(g, d, x)); /* 240 signatures */
    dbx_graph_clear(g);
    dbx_node a = dbx_input(g, 3, x), b = dbx_input(g, 3, x);
    for (int i = 0; i < 300; i++) {
        a = dbx_tanh(g, dbx_add(g, a, b));
        b = dbx_sigmoid(g, a);
    }
    CU_ASSERT_FATAL(dbx_graph_status(g) == DBX_OK);
    size_t maxd = 0;
    for (size_t v = 0; v < g->nnodes; v++)
        if ((size_t)g->nodes[v].depth > maxd) maxd = (size_t)g->nodes[v].depth;
    const size_t nb = (maxd + 1) * g->nsigs;
    CU_ASSERT(nb > 4 * g->nnodes + 4096); /* really the sparse case */
    for (int k = 0; k < 3; k++) check_reference(g, k);
    dbx_graph_free(g);
    dbx_model_free(m);
}

/* ---- schedulers defined here, registered at run time ---------------------------------------- */
/* One type per grouping, each choosing unlike the built-in of its grouping: the widest ready
   group, ties to the highest id (NODE: the newest ready node; DEPTH: the widest signature of
   the level; SIG: the widest signature). On every choice the state checks what the ready set
   says against the nodes that have run. */
typedef struct checker {
    unsigned char *ran;      /* (nnodes) */
    size_t cap;
    int32_t remaining;
    int bad;                 /* ready-set inconsistencies seen */
} checker;

static int g_created, g_freed, g_begun;

static dbx_status checker_create(const dbx_sched_type *t, void **state)
{
    (void)t;
    g_created++;
    *state = calloc(1, sizeof(checker));
    return *state ? DBX_OK : DBX_ENOMEM;
}

static void checker_free(void *state)
{
    checker *c = state;
    if (!c) return;
    g_freed++;
    free(c->ran);
    free(c);
}

static dbx_status checker_begin(void *state, const dbx_graph *g, const dbx_sched_ready *r)
{
    checker *c = state;
    const size_t nn = (size_t)dbx_graph_num_nodes(g);
    g_begun++;
    if (nn > c->cap) {
        free(c->ran);
        c->ran = malloc(nn);
        c->cap = nn;
    }
    memset(c->ran, 0, nn);
    c->remaining = (int32_t)nn;
    c->bad += dbx_sched_ready_remaining(r) != c->remaining;
    return DBX_OK;
}

/* Every ready group's nodes: of its signature, not run yet, arguments all run. */
static void check_ready(checker *c, const dbx_graph *g, const dbx_sched_ready *r)
{
    const int32_t *ids;
    const int32_t n = dbx_sched_ready_groups(r, &ids);
    c->bad += n <= 0 || dbx_sched_ready_remaining(r) != c->remaining;
    int32_t lowest = n > 0 ? ids[0] : -1;
    for (int32_t i = 0; i < n; i++) {
        const int32_t grp = ids[i], sig = dbx_sched_group_sig(r, grp);
        const dbx_node *nodes = dbx_sched_group_nodes(r, grp);
        if (grp < lowest) lowest = grp;
        c->bad += dbx_sched_group_size(r, grp) <= 0 || !nodes;
        for (int32_t j = 0; nodes && j < dbx_sched_group_size(r, grp); j++) {
            const dbx__node *nd = &g->nodes[nodes[j]];
            c->bad += nd->sig != sig || c->ran[nodes[j]];
            for (int k = 0; k < nd->nargs; k++) c->bad += !c->ran[dbx__node_args(g, nd)[k]];
        }
    }
    c->bad += dbx_sched_ready_first(r) != lowest;
    c->bad += dbx_sched_group_size(r, -1) != 0 || dbx_sched_group_nodes(r, 1 << 30) != NULL;
}

static dbx_status checker_choose(void *state, const dbx_graph *g, const dbx_sched_ready *r,
                                 int32_t *group)
{
    checker *c = state;
    check_ready(c, g, r);
    const int32_t *ids;
    const int32_t n = dbx_sched_ready_groups(r, &ids);
    int32_t best = ids[0];
    for (int32_t i = 1; i < n; i++) {
        const int32_t s = ids[i];
        const int32_t ws = dbx_sched_group_size(r, s), wb = dbx_sched_group_size(r, best);
        if (ws > wb || (ws == wb && s > best)) best = s; /* widest, then the highest id */
    }
    for (int32_t j = 0; j < dbx_sched_group_size(r, best); j++)
        c->ran[dbx_sched_group_nodes(r, best)[j]] = 1;
    c->remaining -= dbx_sched_group_size(r, best);
    *group = best;
    return DBX_OK;
}

static const dbx_sched_type test_types[3] = {
    {.name = "test-node", .summary = "newest ready node", .grouping = DBX_SCHED_GROUP_NODE,
     .create = checker_create, .free = checker_free, .begin = checker_begin,
     .choose = checker_choose},
    {.name = "test-depth", .summary = "widest group of a level", .grouping = DBX_SCHED_GROUP_DEPTH,
     .create = checker_create, .free = checker_free, .begin = checker_begin,
     .choose = checker_choose},
    {.name = "test-sig", .summary = "widest ready signature", .grouping = DBX_SCHED_GROUP_SIG,
     .create = checker_create, .free = checker_free, .begin = checker_begin,
     .choose = checker_choose},
};

static void register_test_types(void)
{
    const dbx_sched_type *t;
    for (int i = 0; i < 3; i++)
        if (dbx_sched_find(test_types[i].name, &t) != DBX_OK)
            CU_ASSERT_FATAL(dbx_sched_register(&test_types[i]) == DBX_OK);
}

/* Forward + backward of samples [lo, hi); returns the loss, gradients into grads. */
static double run(fixture *f, const char *sched, int lo, int hi, float *grads, int *bad)
{
    dbx_exec_opts eo = {.scheduler = sched};
    dbx_exec *ex = NULL;
    dbx_graph *g = NULL;
    double loss = NAN;
    CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
    CU_ASSERT_FATAL(dbx_graph_new(f->m, 1, &g) == DBX_OK);
    fixture_build(f, g, lo, hi);
    CU_ASSERT(dbx_exec_forward(ex, g, &loss) == DBX_OK);
    CU_ASSERT(dbx_exec_backward(ex, g, 1.0f) == DBX_OK);
    memcpy(grads, dbx_model_grads(f->m), f->m->nfloats * sizeof *grads);
    dbx_model_zero_grads(f->m);
    if (bad) *bad = ex->sched_state ? ((checker *)ex->sched_state)->bad : 0;
    dbx_graph_free(g);
    dbx_exec_free(ex);
    return loss;
}

/* Normwise relative difference per parameter tensor (max |a - b| / max |b|), worst one. */
static double worst_param_diff(const dbx_model *m, const float *a, const float *b)
{
    double worst = 0;
    for (int p = 0; p < dbx_model_num_params(m); p++) {
        int rows, cols;
        dbx_model_param_shape(m, p, &rows, &cols);
        const size_t off = dbx_model_param_offset(m, p), n = (size_t)rows * (size_t)cols;
        double maxref = 0, maxdiff = 0;
        for (size_t i = 0; i < n; i++) {
            maxref = fmax(maxref, fabs(b[off + i]));
            maxdiff = fmax(maxdiff, fabs((double)a[off + i] - b[off + i]));
        }
        worst = fmax(worst, maxref > 0 ? maxdiff / maxref : maxdiff);
    }
    return worst;
}

static void check_runtime_registered(fixture *f)
{
    register_test_types();
    const size_t nf = f->m->nfloats;
    float *ref = malloc(nf * sizeof *ref), *got = malloc(nf * sizeof *got);
    const int hi = fixture_samples(f) < 24 ? fixture_samples(f) : 24;
    const double lref = run(f, "none", 0, hi, ref, NULL);
    const char *names[] = {"depth", "agenda", "test-node", "test-depth", "test-sig"};
    for (int k = 0; k < 5; k++) {
        int created = g_created, freed = g_freed, begun = g_begun, bad = 0;
        const double l = run(f, names[k], 0, hi, got, k >= 2 ? &bad : NULL);
        const double dg = worst_param_diff(f->m, got, ref);
        printf("\n  %-10s loss %.6f (none %.6f), gradients rel diff %.2e", names[k], l, lref, dg);
        CU_ASSERT(dbx_test_close(l, lref, 0, 1e-5));
        CU_ASSERT(dg < 1e-5);
        CU_ASSERT(bad == 0);
        if (k >= 2) { /* one state per executor, one begin per graph, freed with it */
            CU_ASSERT(g_created == created + 1 && g_freed == freed + 1 && g_begun == begun + 1);
        }
    }
    free(ref);
    free(got);
}

static void test_sched_runtime_registered_matches_builtins_treelstm(void)
{
    fixture f;
    fixture_trees(&f, 24, 3);
    check_runtime_registered(&f);
    fixture_free(&f);
}

static void test_sched_runtime_registered_matches_builtins_tagger(void)
{
    fixture f;
    fixture_tags(&f, 24, 4);
    check_runtime_registered(&f);
    fixture_free(&f);
}

/* Every registered scheduler: the same graph twice (and in another executor) gives the same
   schedule, and the schedule is valid. */
static void test_sched_every_registered_is_deterministic_and_valid(void)
{
    register_test_types();
    CU_ASSERT(dbx_sched_count() >= 6);
    fixture f;
    fixture_trees(&f, 40, 8);
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(f.m, 1, &g) == DBX_OK);
    fixture_build(&f, g, 0, 40);
    for (int i = 0; i < dbx_sched_count(); i++) {
        const dbx_sched_type *t = dbx_sched_at(i);
        if (strcmp(t->name, "test-liar") == 0) continue; /* fails on purpose (registry test) */
        dbx_exec_opts eo = {.scheduler = t->name};
        dbx_exec *a = NULL, *b = NULL;
        CU_ASSERT_FATAL(dbx_exec_new(&eo, &a) == DBX_OK && dbx_exec_new(&eo, &b) == DBX_OK);
        dbx_status st = dbx__exec_schedule(a, g);
        if (st) printf("\n  %s: %s", t->name, dbx_last_error());
        CU_ASSERT_FATAL(st == DBX_OK);
        const size_t nb = a->schedule.nbatches;
        int32_t *order = malloc(g->nnodes * sizeof *order);
        memcpy(order, a->schedule.order, g->nnodes * sizeof *order);
        CU_ASSERT(schedule_valid(&a->schedule, g));
        CU_ASSERT_FATAL(dbx__exec_schedule(a, g) == DBX_OK);
        CU_ASSERT_FATAL(dbx__exec_schedule(b, g) == DBX_OK);
        for (dbx_exec *e = a; e; e = e == a ? b : NULL) {
            CU_ASSERT(e->schedule.nbatches == nb);
            CU_ASSERT(memcmp(e->schedule.order, order, g->nnodes * sizeof *order) == 0);
        }
        printf("\n  %-10s %zu batches", t->name, nb);
        free(order);
        dbx_exec_free(a);
        dbx_exec_free(b);
    }
    dbx_graph_free(g);
    fixture_free(&f);
}

/* ---- the registry ------------------------------------------------------------------------- */
static dbx_status bad_choose(void *state, const dbx_graph *g, const dbx_sched_ready *r,
                             int32_t *group)
{
    (void)state;
    (void)g;
    (void)r;
    *group = 1 << 20; /* never a ready group */
    return DBX_OK;
}

static void test_sched_registry_find_list_and_errors(void)
{
    const dbx_sched_type *t = NULL;
    CU_ASSERT(dbx_sched_find(NULL, &t) == DBX_OK && strcmp(t->name, "none") == 0);
    CU_ASSERT(dbx_sched_find("", &t) == DBX_OK && strcmp(t->name, "none") == 0);
    CU_ASSERT(dbx_sched_find("agenda", &t) == DBX_OK && t->grouping == DBX_SCHED_GROUP_SIG);
    CU_ASSERT(dbx_sched_at(0) == dbx_sched_at(0) && dbx_sched_at(-1) == NULL);
    CU_ASSERT(dbx_sched_at(dbx_sched_count()) == NULL);
    char buf[256];
    if (dbx_sched_count() == 3) { /* before the test's own registrations */
        CU_ASSERT_STRING_EQUAL(dbx_sched_choices(buf, sizeof buf), "none, depth or agenda");
        CU_ASSERT(dbx_sched_find("fifo", &t) == DBX_EINVAL && t == NULL);
        CU_ASSERT_STRING_EQUAL(dbx_last_error(),
                               "unknown scheduler 'fifo' (expected none, depth or agenda)");
    }
    CU_ASSERT_STRING_EQUAL(dbx_sched_choices(buf, 8), "none, d");
    dbx_exec_opts eo = {.scheduler = "fifo"};
    dbx_exec *ex = NULL;
    CU_ASSERT(dbx_exec_new(&eo, &ex) == DBX_EINVAL && ex == NULL);
    CU_ASSERT(strstr(dbx_last_error(), "'fifo'") != NULL);

    static const dbx_sched_type dup = {.name = "depth", .choose = bad_choose};
    static const dbx_sched_type badname = {.name = "Has Space", .choose = bad_choose};
    static const dbx_sched_type nochoose = {.name = "nochoose"};
    static const dbx_sched_type badgroup = {.name = "badgroup", .grouping = 7,
                                            .choose = bad_choose};
    CU_ASSERT(dbx_sched_register(&dup) == DBX_EINVAL);
    CU_ASSERT(dbx_sched_register(&badname) == DBX_EINVAL);
    CU_ASSERT(dbx_sched_register(&nochoose) == DBX_EINVAL);
    CU_ASSERT(dbx_sched_register(&badgroup) == DBX_EINVAL);
    CU_ASSERT(dbx_sched_register(NULL) == DBX_EINVAL);

    /* a scheduler choosing a group that is not ready fails the step, naming itself */
    static const dbx_sched_type liar = {.name = "test-liar", .grouping = DBX_SCHED_GROUP_SIG,
                                        .choose = bad_choose};
    if (dbx_sched_find("test-liar", &t) != DBX_OK)
        CU_ASSERT_FATAL(dbx_sched_register(&liar) == DBX_OK);
    fixture f;
    fixture_trees(&f, 2, 1);
    dbx_graph *g = NULL;
    eo.scheduler = "test-liar";
    CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK && dbx_graph_new(f.m, 1, &g) == DBX_OK);
    fixture_build(&f, g, 0, 2);
    double loss;
    CU_ASSERT(dbx_exec_forward(ex, g, &loss) == DBX_EINVAL);
    CU_ASSERT(strstr(dbx_last_error(), "'test-liar' chose group") != NULL);
    dbx_graph_free(g);
    dbx_exec_free(ex);
    fixture_free(&f);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_sched_registry_find_list_and_errors),
        DBX_TEST(test_sched_builtins_match_reference_treelstm),
        DBX_TEST(test_sched_builtins_match_reference_tagger),
        DBX_TEST(test_sched_depth_sparse_keys_match_reference),
        DBX_TEST(test_sched_runtime_registered_matches_builtins_treelstm),
        DBX_TEST(test_sched_runtime_registered_matches_builtins_tagger),
        DBX_TEST(test_sched_every_registered_is_deterministic_and_valid),
        DBX_TEST_END};
    return dbx_test_run("sched", tests);
}
