/* Tests of the Lattice-LSTM model type (models/lattice.c): its parser's records and meta, the
 * validation of records in build, a finite-difference gradient check under every scheduler,
 * batched == unbatched (every scheduler, dedup on and off), sums over any number of arcs
 * sharing one signature, and training through the trainer (loss falls, evaluation).
 * Self-contained: lattices are written in the test or generated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/models.h"
#include "dbx/train.h"
#include "gradcheck.h"
#include "testutil.h"

/* Two lattices: node i's arcs as (from, id) pairs; in-degrees 0..3. */
static const char *small_text =
    "2\n"
    "5\n"
    "0 1 2 1 0\n"
    "0\n"
    "1 0 3\n"
    "2 1 4 0 7\n"
    "3 2 5 1 8 0 9\n"
    "2 3 6 1 7\n"
    "3\n"
    "2 0 1\n"
    "0\n"
    "1 0 3\n"
    "1 1 5\n";

typedef struct lat_setup {
    dbx_meta *meta;
    dbx_dataset *ds;
    dbx_model *m;
    void *self;
} lat_setup;

static void setup_free(lat_setup *s)
{
    if (s->self) dbx_lattice_type.destroy(s->self);
    dbx_model_free(s->m);
    dbx_dataset_free(s->ds);
    dbx_meta_free(s->meta);
    memset(s, 0, sizeof *s);
}

/* Parses text (or nlat generated lattices when text is NULL) and creates a model of size H. */
static void setup_new(lat_setup *s, const char *text, int nlat, int H, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    CU_ASSERT_FATAL(dbx_meta_new(&s->meta) == DBX_OK && dbx_dataset_new(&s->ds) == DBX_OK);
    char *gen = NULL;
    size_t len = text ? strlen(text) : 0;
    if (!text) {
        CU_ASSERT_FATAL(dbx_lattice_type.generate(nlat, seed, &gen, &len) == DBX_OK);
        text = gen;
    }
    dbx_status st = dbx_lattice_type.parse(s->meta, "<test>", text, len, s->ds);
    if (st) printf("\n  parse: %s\n", dbx_last_error());
    CU_ASSERT_FATAL(st == DBX_OK);
    free(gen);
    dbx_meta_freeze(s->meta);
    CU_ASSERT_FATAL(dbx_meta_set(s->meta, "embed", H) == DBX_OK);
    CU_ASSERT_FATAL(dbx_meta_set(s->meta, "hidden", H) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_new(&s->m) == DBX_OK);
    CU_ASSERT_FATAL(dbx_lattice_type.create(s->meta, s->m, &s->self) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(s->m, seed) == DBX_OK);
}

static void build_all(lat_setup *s, dbx_graph *g, int lo, int hi)
{
    for (int i = lo; i < hi; i++) {
        dbx_sample smp = dbx_dataset_get(s->ds, i);
        CU_ASSERT(dbx_lattice_type.build(s->self, g, &smp, DBX_BUILD_TRAIN) == DBX_OK);
    }
}

/* ---- records and meta ---------------------------------------------------------------------- */
static void test_lattice_records(void)
{
    lat_setup s;
    setup_new(&s, small_text, 0, 4, 1);
    CU_ASSERT_EQUAL(dbx_dataset_size(s.ds), 2);
    CU_ASSERT_EQUAL(dbx_dataset_units(s.ds), 8);
    CU_ASSERT_EQUAL(dbx_meta_get(s.meta, "labels", 0), 3);
    CU_ASSERT_EQUAL(dbx_meta_get(s.meta, "char_ids", 0), 7);  /* char ids 3, 4, 6, 3, 5 */
    CU_ASSERT_EQUAL(dbx_meta_get(s.meta, "word_ids", 0), 10); /* word ids 7, 8, 9, 7 */
    dbx_sample a = dbx_dataset_get(s.ds, 0);
    /* [n, arcs, tag[5], start[6], from[8], id[8]] */
    CU_ASSERT_EQUAL_FATAL(a.n, 2 + 5 + 6 + 2 * 8);
    static const int32_t want[] = {5, 8, 0, 1, 2, 1, 0, 0, 0, 1, 3, 6, 8,
                                   0, 1, 0, 2, 1, 0, 3, 1, 3, 4, 7, 5, 8, 9, 6, 7};
    CU_ASSERT(memcmp(a.w, want, sizeof want) == 0);
    /* with the meta frozen, ids beyond the training data's map to the spare row and a tag
       beyond them is refused */
    dbx_dataset *ds = NULL;
    CU_ASSERT_FATAL(dbx_dataset_new(&ds) == DBX_OK);
    const char *dev = "1\n3\n0 2 1\n0\n1 0 50\n1 0 60\n";
    CU_ASSERT_EQUAL(dbx_lattice_type.parse(s.meta, "dev", dev, strlen(dev), ds), DBX_OK);
    dbx_sample d = dbx_dataset_get(ds, 0);
    CU_ASSERT_EQUAL(d.w[d.n - 2], 7);  /* char id 50 -> row 7 of 8 */
    CU_ASSERT_EQUAL(d.w[d.n - 1], 10); /* word id 60 -> row 10 of 11 */
    CU_ASSERT_EQUAL(dbx_meta_get(s.meta, "char_ids", 0), 7);
    const char *badtag = "1\n2\n0 3\n0\n1 0 1\n";
    CU_ASSERT_EQUAL(dbx_lattice_type.parse(s.meta, "dev", badtag, strlen(badtag), ds),
                    DBX_EPARSE);
    CU_ASSERT(strstr(dbx_last_error(), "tag 3") != NULL);
    /* the reader's errors come through with file:line:col */
    const char *later = "1\n2\n0 0\n0\n1 1 4\n";
    CU_ASSERT_EQUAL(dbx_lattice_type.parse(s.meta, "bad.txt", later, strlen(later), ds),
                    DBX_EPARSE);
    CU_ASSERT(strstr(dbx_last_error(), "bad.txt:5:3: expected FROM") != NULL);
    dbx_dataset_free(ds);
    setup_free(&s);
}

static void test_lattice_build_rejects_bad_records(void)
{
    lat_setup s;
    setup_new(&s, small_text, 0, 4, 1);
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(s.m, 1, &g) == DBX_OK);
    dbx_sample a = dbx_dataset_get(s.ds, 0);
    int32_t rec[64];
    memcpy(rec, a.w, (size_t)a.n * sizeof *rec);
    /* positions: tags at 2.., starts at 7.., from at 13.., ids at 21.. */
    struct { int at; int32_t v; } bad[] = {
        {0, 0}, {0, 6}, {1, 9}, {2, -1}, {2, 3}, {7, 1}, {8, 1}, {9, 4}, {13, 1}, {13, -1},
        {14, 5}, {21, -2}, {21, 8}, {24, 11},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        int32_t keep = rec[bad[k].at];
        rec[bad[k].at] = bad[k].v;
        dbx_sample smp = {rec, a.n};
        dbx_graph_clear(g);
        dbx_status st = dbx_lattice_type.build(s.self, g, &smp, DBX_BUILD_TRAIN);
        if (st != DBX_EPARSE) printf("\n  word %d = %d: status %d\n", bad[k].at, bad[k].v, st);
        CU_ASSERT_EQUAL(st, DBX_EPARSE);
        rec[bad[k].at] = keep;
    }
    dbx_sample shortened = {rec, a.n - 1};
    CU_ASSERT_EQUAL(dbx_lattice_type.build(s.self, g, &shortened, DBX_BUILD_TRAIN), DBX_EPARSE);
    dbx_graph_clear(g);
    dbx_sample ok = {rec, a.n};
    CU_ASSERT_EQUAL(dbx_lattice_type.build(s.self, g, &ok, DBX_BUILD_TRAIN), DBX_OK);
    CU_ASSERT_EQUAL(dbx_graph_num_losses(g), 5);
    dbx_graph_free(g);
    setup_free(&s);
}

/* ---- gradients ------------------------------------------------------------------------------- */
static void build_gc(dbx_graph *g, void *ctx, const float *in, dbx_node *nodes)
{
    (void)in;
    (void)nodes;
    lat_setup *s = ctx;
    build_all(s, g, 0, dbx_dataset_size(s->ds));
}

static void test_lattice_gradcheck(void)
{
    static const char *const scheds[] = {"none", "depth", "agenda"};
    lat_setup s;
    setup_new(&s, small_text, 0, 5, 3);
    for (int k = 0; k < 3; k++) {
        dbx_gc_spec spec = {.m = s.m, .build = build_gc, .ctx = &s, .max_checks = 40,
                            .eps = 1e-2, .dedup = 1};
        spec.scheduler = scheds[k];
        dbx_gc_result r;
        int bad = dbx_gc_run(&spec, 3e-3, 3e-2, &r);
        printf("\n  lattice %-6s checked %d failed %d worst %.2e %s", scheds[k], r.checked,
               r.failed, r.worst, r.where);
        CU_ASSERT(bad == 0);
        CU_ASSERT(r.checked > 200);
    }
    setup_free(&s);
}

/* Loss and all parameter gradients of lattices [0, n) under one scheduler. */
static double run_once(lat_setup *s, const char *sched, int dedup, int n, float *grads,
                       int64_t *batches)
{
    dbx_exec_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.scheduler = sched;
    eo.fuse = 1;
    dbx_exec *ex = NULL;
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
    CU_ASSERT_FATAL(dbx_graph_new(s->m, dedup, &g) == DBX_OK);
    build_all(s, g, 0, n);
    double loss = NAN;
    dbx_model_zero_grads(s->m);
    CU_ASSERT(dbx_exec_forward(ex, g, &loss) == DBX_OK);
    CU_ASSERT(dbx_exec_backward(ex, g, 1.0f) == DBX_OK);
    memcpy(grads, dbx_model_grads(s->m), dbx_model_num_floats(s->m) * sizeof *grads);
    *batches = dbx_exec_last_stats(ex)->batches;
    dbx_graph_free(g);
    dbx_exec_free(ex);
    return loss;
}

static void test_lattice_batched_equals_unbatched(void)
{
    lat_setup s;
    setup_new(&s, NULL, 24, 8, 5);
    size_t nf = dbx_model_num_floats(s.m);
    float *ref = malloc(nf * sizeof *ref), *got = malloc(nf * sizeof *got);
    CU_ASSERT_FATAL(ref && got);
    int64_t b_none = 0, b;
    double l0 = run_once(&s, "none", 0, 24, ref, &b_none);
    static const char *const scheds[] = {"none", "depth", "agenda"};
    for (int k = 0; k < 3; k++)
        for (int dedup = 0; dedup < 2; dedup++) {
            double l = run_once(&s, scheds[k], dedup, 24, got, &b);
            double rel = dbx_test_max_rel(ref, got, nf, 1e-3);
            if (!dbx_test_close(l, l0, 1e-5, 1e-5) || rel > 1e-4)
                printf("\n  %s dedup %d: loss %.9g vs %.9g, grads %.2e\n", scheds[k], dedup, l,
                       l0, rel);
            CU_ASSERT(dbx_test_close(l, l0, 1e-5, 1e-5));
            CU_ASSERT(rel < 1e-4);
            if (k > 0) CU_ASSERT(b * 5 < b_none); /* batching really batches */
        }
    free(ref);
    free(got);
    setup_free(&s);
}

/* Sums over 2, 3 and 4 arcs share one signature (the op's arity may vary inside a batch). */
static void test_lattice_sums_share_a_signature(void)
{
    lat_setup s;
    setup_new(&s, small_text, 0, 4, 1);
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_graph_new(s.m, 1, &g) == DBX_OK);
    build_all(&s, g, 0, 2);
    int sums = 0;
    for (int32_t k = 0; k < dbx_graph_num_sigs(g); k++)
        sums += strcmp(dbx_graph_sig_op(g, k), "sum") == 0;
    CU_ASSERT_EQUAL(sums, 1); /* h and c sums alike, in-degrees 2 and 3 */
    dbx_graph_free(g);
    setup_free(&s);
}

/* ---- training ------------------------------------------------------------------------------ */
static void test_lattice_trains(void)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model = "lattice-lstm";
    o.synthetic = 120;
    o.embed = o.hidden = 16;
    o.batch = 12;
    o.epochs = 4;
    o.optim.lr = 0.01f;
    o.quiet = 1;
    o.comm = 0;
    const char *p = dbx_test_tmp_path("lattice.params");
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    o.save = path;
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    printf("\n  lattice: first step %.4f, last epoch %.4f\n", r.first_loss, r.last_epoch_loss);
    CU_ASSERT(r.last_epoch_loss < r.first_loss - 0.2);
    CU_ASSERT_EQUAL(r.steps, 40);
    dbx_train_opts e = o;
    e.load = path;
    dbx_eval_result er;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&e, &er), DBX_OK);
    CU_ASSERT_EQUAL(er.samples, 120);
    CU_ASSERT(er.acc > 0.3 && er.acc <= 1);
    CU_ASSERT(er.nmetrics == 1 && strcmp(er.metrics[0].name, "accuracy") == 0);
    char v[600];
    snprintf(v, sizeof v, "%s.vocab", path);
    remove(path);
    remove(v);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_lattice_records),
        DBX_TEST(test_lattice_build_rejects_bad_records),
        DBX_TEST(test_lattice_gradcheck),
        DBX_TEST(test_lattice_batched_equals_unbatched),
        DBX_TEST(test_lattice_sums_share_a_signature),
        DBX_TEST(test_lattice_trains),
        DBX_TEST_END,
    };
    return dbx_test_run("lattice", tests);
}
