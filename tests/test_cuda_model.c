/* Whole models on the CUDA backend (label cuda): the Tree-LSTM and the BiLSTM tagger built
 * through the public API, executed by the executor on a GPU, checked against themselves and
 * against the CPU backend:
 *  - batched equals unbatched on the device: a minibatch run as one graph (depth, agenda;
 *    dedup on) gives the loss and parameter gradients of its samples run one graph each
 *    (node by node, dedup off), summed;
 *  - the device matches the CPU backend: identically seeded models (bit-identical values
 *    after dbx_model_init on either device) give the same loss and full flat gradient with
 *    every scheduler, and the same parameters after one SGD step (dense and sparse rows);
 *  - training works on the device: 30 Adam steps on a fixed minibatch bring the loss below
 *    0.7 x the first step's;
 *  - save/load: parameters trained on the device, saved, load bit for bit into a CPU model
 *    and into a fresh device model.
 * Gradients of a device model are read through core/model.h (the backend's download of the
 * model's gradient buffer): the public API only reads them on the CPU (dbx_model_grads).
 * Tolerances, normwise per parameter tensor (max |a - b| / max |ref|, worst over tensors):
 * TOL_BATCH 1e-4 for batched vs unbatched (cuBLAS sums in another order for other batch
 * widths, shared arguments accumulate with atomics) and TOL_CPU 1e-4 for device vs CPU
 * (FP32 everywhere, TF32 off; GEMMs in another order, through 10+ levels of recurrence);
 * losses, relative, the same. The worst differences are printed.
 * Without a usable GPU (or in a build without the CUDA backend) the suite prints why and
 * exits 77 (skipped). DBX_TEST_DEVICE=cpu runs every check with the CPU backend as the
 * device under test (device vs CPU then compares the CPU with itself; the rest really runs),
 * a self-check of this suite on machines without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model.h" /* nfloats, grad, be: gradients of a model on a device */
#include "dbx/data.h"
#include "dbx/dbx.h"
#include "dbx/models.h"
#include "testdata.h"
#include "testutil.h"

#define TOL_BATCH 1e-4 /* batched vs unbatched on the device */
#define TOL_CPU 1e-4   /* device vs CPU backend */

static const char *g_dev = "cuda"; /* the device under test ("cpu" with DBX_TEST_DEVICE=cpu) */
static const char *const scheds[3] = {"none", "depth", "agenda"};

/* ---- a model on a device ------------------------------------------------------------------ */
typedef struct net {
    dbx_model *m;
    dbx_treelstm *tl;
    dbx_tagger *tg;
    const char *dev;
} net;

/* The model for d's kind on device dev, initialised from seed (the same values on every
   device: initialisation draws on the host and uploads). */
static void net_new(net *n, const dbx_test_data *d, const char *dev, uint64_t seed)
{
    memset(n, 0, sizeof *n);
    n->dev = dev;
    CU_ASSERT_FATAL(dbx_model_new(&n->m) == DBX_OK);
    if (d->tagger) {
        dbx_tagger_opts o = {.vocab = dbx_vocab_size(d->wv), .embed = 12, .hidden = 16,
                             .mlp = 20, .tags = dbx_vocab_size(d->tv)};
        CU_ASSERT_FATAL(dbx_tagger_new(n->m, &o, &n->tg) == DBX_OK);
    } else {
        dbx_treelstm_opts o = {.vocab = dbx_vocab_size(d->wv), .embed = 16, .hidden = 24,
                               .labels = 5};
        CU_ASSERT_FATAL(dbx_treelstm_new(n->m, &o, &n->tl) == DBX_OK);
    }
    dbx_status s = dbx_model_set_device(n->m, dev, 0);
    if (s != DBX_OK) printf("\n  dbx_model_set_device(%s): %s\n", dev, dbx_last_error());
    CU_ASSERT_FATAL(s == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_init(n->m, seed) == DBX_OK);
    /* host views exist on the CPU only */
    const int host = strcmp(dev, "cpu") == 0;
    CU_ASSERT((dbx_model_grads(n->m) != NULL) == host);
    CU_ASSERT((dbx_model_values(n->m) != NULL) == host);
}

static void net_free(net *n)
{
    dbx_treelstm_free(n->tl);
    dbx_tagger_free(n->tg);
    dbx_model_free(n->m);
    memset(n, 0, sizeof *n);
}

static size_t net_floats(const net *n) { return n->m->nfloats; }

/* Host copy of the accumulated gradients (nfloats, the dbx_model_param_offset layout): the
   backend's download of the model's gradient buffer, on every device (so that
   DBX_TEST_DEVICE=cpu runs this path too). */
static void read_grads(net *n, float *out)
{
    dbx_backend *be = n->m->be;
    CU_ASSERT_FATAL(be->ops->sync(be) == DBX_OK);
    CU_ASSERT_FATAL(be->ops->download(be, out, n->m->grad, net_floats(n) * sizeof *out) == DBX_OK);
}

static void read_values(net *n, float *out)
{
    dbx_status s = dbx_model_read_values(n->m, out, net_floats(n));
    if (s != DBX_OK) printf("\n  dbx_model_read_values: %s\n", dbx_last_error());
    CU_ASSERT_FATAL(s == DBX_OK);
}

/* Forward and backward of samples [lo, hi) of d as one graph with the given scheduler; the
   gradients accumulate in the model (not zeroed). Returns the loss (NaN on failure). */
static double run_graph(net *n, const dbx_test_data *d, const char *sched, int dedup, int lo,
                        int hi)
{
    dbx_exec_opts eo = {.scheduler = sched, .device = n->dev, .device_index = 0, .fuse = 1};
    dbx_exec *ex = NULL;
    dbx_graph *g = NULL;
    double loss = NAN;
    CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
    CU_ASSERT_FATAL(dbx_graph_new(n->m, dedup, &g) == DBX_OK);
    for (int i = lo; i < hi; i++) {
        dbx_status s = d->tagger ? dbx_tagger_build(n->tg, g, &d->ts->sents[i], NULL)
                                 : dbx_treelstm_build(n->tl, g, &d->tb->trees[i], NULL);
        CU_ASSERT(s == DBX_OK);
    }
    dbx_status s = dbx_exec_forward(ex, g, &loss);
    if (s == DBX_OK) s = dbx_exec_backward(ex, g, 1.0f);
    if (s != DBX_OK) {
        printf("\n  %s %s: %s: %s\n", n->dev, sched, dbx_status_str(s),
               dbx_last_error());
        loss = NAN;
    }
    CU_ASSERT(s == DBX_OK);
    dbx_graph_free(g);
    dbx_exec_free(ex);
    return loss;
}

/* Normwise relative difference per parameter tensor, max |a - ref| / max |ref| (absolute
   where ref is all zeros), worst over tensors; NaN counts as worst. */
static double worst_param_diff(const dbx_model *m, const float *a, const float *ref, int *which)
{
    double worst = 0;
    if (which) *which = 0;
    for (int p = 0; p < dbx_model_num_params(m); p++) {
        int rows, cols;
        dbx_model_param_shape(m, p, &rows, &cols);
        size_t off = dbx_model_param_offset(m, p), cnt = (size_t)rows * (size_t)cols;
        double maxref = 0, maxdiff = 0;
        for (size_t i = 0; i < cnt; i++) {
            maxref = fmax(maxref, fabs(ref[off + i]));
            double dd = fabs((double)a[off + i] - (double)ref[off + i]);
            if (!(dd <= maxdiff)) maxdiff = dd;
        }
        double rel = maxref > 0 ? maxdiff / maxref : maxdiff;
        if (!(rel <= worst)) {
            worst = rel;
            if (which) *which = p;
        }
    }
    return worst;
}

static double rel_diff(double a, double ref) { return fabs(a - ref) / fmax(fabs(ref), 1e-30); }

/* 1 when every tensor of a and b is bit-identical (padding between tensors ignored). */
static int same_bits(const dbx_model *m, const float *a, const float *b)
{
    for (int p = 0; p < dbx_model_num_params(m); p++) {
        int rows, cols;
        dbx_model_param_shape(m, p, &rows, &cols);
        size_t off = dbx_model_param_offset(m, p);
        if (memcmp(a + off, b + off, (size_t)rows * (size_t)cols * sizeof(float)) != 0) return 0;
    }
    return 1;
}

static float *xmalloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

/* ---- batched == unbatched, on the device --------------------------------------------------- */
static void check_batched(dbx_test_data *d, const char *what)
{
    net n;
    net_new(&n, d, g_dev, 7);
    const size_t nf = net_floats(&n);
    float *ref = xmalloc_floats(nf), *got = xmalloc_floats(nf);
    /* reference: every sample alone (its own graph, node by node, no dedup); the gradients of
       the samples add up in the model */
    double lref = 0;
    for (int i = 0; i < d->n; i++) lref += run_graph(&n, d, "none", 0, i, i + 1);
    read_grads(&n, ref);
    dbx_model_zero_grads(n.m);
    CU_ASSERT(isfinite(lref) && lref > 0);
    for (int k = 1; k < 3; k++) {
        double l = run_graph(&n, d, scheds[k], 1, 0, d->n);
        read_grads(&n, got);
        dbx_model_zero_grads(n.m);
        int p = 0;
        double dl = rel_diff(l, lref), dg = worst_param_diff(n.m, got, ref, &p);
        printf("\n  %s on %s, %d samples, %s vs one graph per sample: loss %.6f vs %.6f (rel "
               "%.2e), worst gradient rel diff %.2e (%s)", what, g_dev, d->n,
               scheds[k], l, lref, dl, dg,
               dbx_model_param_name(n.m, p));
        CU_ASSERT(dl <= TOL_BATCH);
        CU_ASSERT(dg <= TOL_BATCH);
    }
    free(ref);
    free(got);
    net_free(&n);
}

static void test_batched_equals_unbatched_treelstm(void)
{
    dbx_test_data d;
    dbx_test_data_trees(&d, 24, 11);
    check_batched(&d, "treelstm");
    dbx_test_data_free(&d);
}

static void test_batched_equals_unbatched_tagger(void)
{
    dbx_test_data d;
    dbx_test_data_tags(&d, 24, 99);
    check_batched(&d, "tagger");
    dbx_test_data_free(&d);
}

/* ---- the device matches the CPU backend ---------------------------------------------------- */
static void check_vs_cpu(dbx_test_data *d, const char *what)
{
    net cpu, dut;
    net_new(&cpu, d, "cpu", 5);
    net_new(&dut, d, g_dev, 5);
    const size_t nf = net_floats(&cpu);
    CU_ASSERT_FATAL(net_floats(&dut) == nf);
    float *a = xmalloc_floats(nf), *b = xmalloc_floats(nf);
    /* the same initial parameters on both devices, bit for bit */
    read_values(&cpu, a);
    read_values(&dut, b);
    CU_ASSERT(same_bits(cpu.m, a, b));
    for (int k = 0; k < 3; k++) {
        double lc = run_graph(&cpu, d, scheds[k], 1, 0, d->n);
        double lg = run_graph(&dut, d, scheds[k], 1, 0, d->n);
        read_grads(&cpu, a);
        read_grads(&dut, b);
        int p = 0;
        double dl = rel_diff(lg, lc), dg = worst_param_diff(cpu.m, b, a, &p);
        printf("\n  %s %s, %d samples: loss %s %.6f, cpu %.6f (rel %.2e), worst gradient rel "
               "diff %.2e (%s)", what, scheds[k], d->n, g_dev, lg, lc,
               dl, dg, dbx_model_param_name(cpu.m, p));
        CU_ASSERT(isfinite(lc) && lc > 0);
        CU_ASSERT(dl <= TOL_CPU);
        CU_ASSERT(dg <= TOL_CPU);
        if (k != 2) { /* keep agenda's gradients for the step below */
            dbx_model_zero_grads(cpu.m);
            dbx_model_zero_grads(dut.m);
        }
    }
    /* one SGD step from the agenda run's gradients (dense tensors and the touched embedding
       rows): the optimizer on the device moves the parameters as on the CPU; lr is large
       so that the step is visible next to the values */
    dbx_optim opt = dbx_optim_default(DBX_OPT_SGD);
    opt.lr = 0.5f;
    opt.grad_scale = 1.0f / (float)d->n;
    CU_ASSERT_FATAL(dbx_model_update(cpu.m, &opt) == DBX_OK);
    CU_ASSERT_FATAL(dbx_model_update(dut.m, &opt) == DBX_OK);
    float *init = xmalloc_floats(nf);
    net fresh;
    net_new(&fresh, d, "cpu", 5);
    read_values(&fresh, init);
    net_free(&fresh);
    read_values(&cpu, a);
    read_values(&dut, b);
    int p = 0;
    double moved = worst_param_diff(cpu.m, a, init, NULL);
    double dv = worst_param_diff(cpu.m, b, a, &p);
    printf("\n  %s after one SGD step: parameters moved by up to %.2e (rel), %s vs cpu worst "
           "rel diff %.2e (%s)", what, moved, g_dev, dv, dbx_model_param_name(cpu.m, p));
    CU_ASSERT(moved > 1e-3);
    CU_ASSERT(dv <= TOL_CPU);
    free(init);
    free(a);
    free(b);
    net_free(&cpu);
    net_free(&dut);
}

static void test_gradients_match_cpu_treelstm(void)
{
    dbx_test_data d;
    dbx_test_data_trees(&d, 16, 3);
    check_vs_cpu(&d, "treelstm");
    dbx_test_data_free(&d);
}

static void test_gradients_match_cpu_tagger(void)
{
    dbx_test_data d;
    dbx_test_data_tags(&d, 16, 5);
    check_vs_cpu(&d, "tagger");
    dbx_test_data_free(&d);
}

/* ---- training on the device ------------------------------------------------------------------ */
/* 30 Adam steps (lr 0.02, gradients scaled by 1 / batch) on one fixed minibatch: the loss of
   the last step is below 0.7 x the first's, and every loss is finite. */
static void check_learns(dbx_test_data *d, const char *what)
{
    enum { STEPS = 30 };
    net n;
    net_new(&n, d, g_dev, 1);
    dbx_optim opt = dbx_optim_default(DBX_OPT_ADAM);
    opt.lr = 0.02f;
    opt.grad_scale = 1.0f / (float)d->n;
    dbx_exec_opts eo = {.scheduler = "agenda", .device = g_dev, .device_index = 0, .fuse = 1};
    dbx_exec *ex = NULL;
    dbx_graph *g = NULL;
    CU_ASSERT_FATAL(dbx_exec_new(&eo, &ex) == DBX_OK);
    CU_ASSERT_FATAL(dbx_graph_new(n.m, 1, &g) == DBX_OK);
    double first = NAN, last = NAN;
    int finite = 1;
    for (int step = 0; step < STEPS; step++) {
        dbx_graph_clear(g);
        for (int i = 0; i < d->n; i++) {
            if (d->tagger) dbx_tagger_build(n.tg, g, &d->ts->sents[i], NULL);
            else dbx_treelstm_build(n.tl, g, &d->tb->trees[i], NULL);
        }
        CU_ASSERT_FATAL(dbx_graph_status(g) == DBX_OK);
        double loss = NAN;
        dbx_status s = dbx_exec_forward(ex, g, &loss);
        if (s == DBX_OK) s = dbx_exec_backward(ex, g, 1.0f);
        if (s == DBX_OK) s = dbx_model_update(n.m, &opt);
        if (s != DBX_OK) printf("\n  step %d: %s\n", step, dbx_last_error());
        CU_ASSERT_FATAL(s == DBX_OK);
        if (!isfinite(loss)) finite = 0;
        if (step == 0) first = loss;
        last = loss;
    }
    printf("\n  %s on %s: %d Adam steps on %d samples, loss %.4f -> %.4f (x%.3f)", what, g_dev,
           STEPS, d->n, first, last, last / first);
    CU_ASSERT(finite);
    CU_ASSERT(last < 0.7 * first);
    dbx_graph_free(g);
    dbx_exec_free(ex);
    net_free(&n);
}

static void test_training_loss_falls_treelstm(void)
{
    dbx_test_data d;
    dbx_test_data_trees(&d, 16, 21);
    check_learns(&d, "treelstm");
    dbx_test_data_free(&d);
}

static void test_training_loss_falls_tagger(void)
{
    dbx_test_data d;
    dbx_test_data_tags(&d, 16, 23);
    check_learns(&d, "tagger");
    dbx_test_data_free(&d);
}

/* ---- save / load ---------------------------------------------------------------------------- */
/* Two Adam steps on the device (so that optimizer updates, not only initial values, are
   saved), dbx_model_save from the device, dbx_model_load into a CPU model and into a fresh
   device model (both initialised from another seed first): all three hold bit-identical
   parameters and checksums. */
static void test_save_load_round_trip(void)
{
    dbx_test_data d;
    dbx_test_data_trees(&d, 12, 31);
    net n, cpu, back;
    net_new(&n, &d, g_dev, 2);
    dbx_optim opt = dbx_optim_default(DBX_OPT_ADAM);
    opt.lr = 0.01f;
    opt.grad_scale = 1.0f / (float)d.n;
    const size_t nf = net_floats(&n);
    float *init = xmalloc_floats(nf), *trained = xmalloc_floats(nf), *got = xmalloc_floats(nf);
    read_values(&n, init);
    for (int step = 0; step < 2; step++) {
        run_graph(&n, &d, "agenda", 1, 0, d.n);
        CU_ASSERT_FATAL(dbx_model_update(n.m, &opt) == DBX_OK);
    }
    read_values(&n, trained);
    CU_ASSERT(!same_bits(n.m, init, trained));
    const char *tmp = dbx_test_tmp_path("cuda_model.params");
    char *path = malloc(strlen(tmp) + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    strcpy(path, tmp);
    dbx_status s = dbx_model_save(n.m, path);
    if (s != DBX_OK) printf("\n  dbx_model_save: %s\n", dbx_last_error());
    CU_ASSERT_FATAL(s == DBX_OK);

    net_new(&cpu, &d, "cpu", 99);
    CU_ASSERT(dbx_model_checksum(cpu.m) != dbx_model_checksum(n.m));
    CU_ASSERT_EQUAL(dbx_model_load(cpu.m, path), DBX_OK);
    read_values(&cpu, got);
    CU_ASSERT(same_bits(n.m, trained, got));
    CU_ASSERT(dbx_model_checksum(cpu.m) == dbx_model_checksum(n.m));

    net_new(&back, &d, g_dev, 99);
    CU_ASSERT_EQUAL(dbx_model_load(back.m, path), DBX_OK);
    read_values(&back, got);
    CU_ASSERT(same_bits(n.m, trained, got));
    CU_ASSERT(dbx_model_checksum(back.m) == dbx_model_checksum(n.m));
    printf("\n  saved on %s, loaded on cpu and %s: checksum 0x%016llx", g_dev, g_dev,
           (unsigned long long)dbx_model_checksum(n.m));
    unlink(path);
    free(path);
    free(init);
    free(trained);
    free(got);
    net_free(&back);
    net_free(&cpu);
    net_free(&n);
    dbx_test_data_free(&d);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_batched_equals_unbatched_treelstm),
        DBX_TEST(test_batched_equals_unbatched_tagger),
        DBX_TEST(test_gradients_match_cpu_treelstm),
        DBX_TEST(test_gradients_match_cpu_tagger),
        DBX_TEST(test_training_loss_falls_treelstm),
        DBX_TEST(test_training_loss_falls_tagger),
        DBX_TEST(test_save_load_round_trip),
        DBX_TEST_END,
    };
    const char *env = getenv("DBX_TEST_DEVICE");
    if (env && strcmp(env, "cpu") == 0) {
        g_dev = "cpu";
        printf("DBX_TEST_DEVICE=cpu: the CPU backend stands in for the GPU (a self-check of "
               "this suite; device vs CPU compares the CPU with itself)\n");
    } else if (env && *env && strcmp(env, "cuda") != 0) {
        fprintf(stderr, "test_cuda_model: DBX_TEST_DEVICE must be cpu or cuda, got '%s'\n", env);
        return 2;
    } else {
        /* the probe: a model placed on GPU 0 (fails without the CUDA backend or a GPU) */
        dbx_model *m = NULL;
        if (dbx_model_new(&m) != DBX_OK) {
            fprintf(stderr, "test_cuda_model: dbx_model_new: %s\n", dbx_last_error());
            return 1;
        }
        dbx_status s = dbx_model_set_device(m, "cuda", 0);
        if (s != DBX_OK) {
            printf("SKIP: cannot place a model on GPU 0: %s: %s\n", dbx_status_str(s),
                   dbx_last_error());
            dbx_model_free(m);
            return 77;
        }
        dbx_model_free(m);
    }
    return dbx_test_run("cuda_model", tests);
}
