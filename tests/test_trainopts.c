/* Tests of the training options (include/dbx/train.h: clip_norm, dropout, weight_decay, the
 * learning-rate schedule, keep_best, patience) in one process: the schedule against
 * hand-computed values, clipping that rescales the applied update to the clipping norm and
 * reports the norm of the update it applied, a large clipping norm that changes nothing bit
 * for bit, coupled (SGD) and decoupled (Adam) weight decay against their formulas with
 * untouched embedding rows left alone, dropout recorded in the meta and taking effect in every
 * built-in model but never in evaluation, keep-best and patience (the kept file's dev metric
 * equals the best one reported, the stop where patience says, deterministic), and bad
 * options. The 1-vs-3-rank checks are in tests/test_trainopts.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbx/data.h"
#include "dbx/models.h"
#include "dbx/train.h"
#include "testutil.h"

static dbx_train_opts small_opts(int trees)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.synthetic = trees;
    o.embed = o.hidden = 16;
    o.batch = 16;
    o.quiet = 1;
    return o;
}

/* Writes n synthetic SST trees generated with seed to a temporary file; returns its path. */
static char *tree_file(const char *name, int n, uint64_t seed)
{
    char *path = dbx_test_tmp_dup(name);
    dbx_gen_opts go = {.ntrees = n, .seed = seed};
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&go, &text, &len), DBX_OK);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
    free(text);
    return path;
}

static int close_rel(double a, double b, double rtol)
{
    int ok = dbx_test_close(a, b, 1e-15, rtol);
    if (!ok) printf("\n  %.12g != %.12g (rtol %g)\n", a, b, rtol);
    return ok;
}

/* ---- the learning-rate schedule ------------------------------------------------------------ */
static void test_lr_schedule(void)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.optim.lr = 0.5f;
    /* constant, no warm-up: exactly the base rate at every step */
    CU_ASSERT_STRING_EQUAL(o.lr_schedule, "constant");
    for (int64_t k = 1; k < 2000; k += 97) CU_ASSERT(dbx_train_lr(&o, k, 2000) == 0.5);
    o.lr_schedule = NULL; /* NULL is constant too */
    CU_ASSERT(dbx_train_lr(&o, 3, 10) == 0.5);
    /* linear warm-up over 4 steps: 0.125, 0.25, 0.375, 0.5, then the schedule */
    o.warmup = 4;
    CU_ASSERT(close_rel(dbx_train_lr(&o, 1, 100), 0.125, 1e-15));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 2, 100), 0.25, 1e-15));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 3, 100), 0.375, 1e-15));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 4, 100), 0.5, 1e-15));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 5, 100), 0.5, 1e-15));
    /* step: warm-up 2, then x 0.5 every 3 steps: j = step - 3 */
    o.lr_schedule = "step";
    o.warmup = 2;
    o.lr_step_every = 3;
    o.lr_step_factor = 0.5;
    const double step_want[13] = {0, 0.25, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125,
                                  0.125, 0.125, 0.0625};
    for (int k = 1; k <= 12; k++)
        CU_ASSERT(close_rel(dbx_train_lr(&o, k, 12), step_want[k], 1e-15));
    o.lr_step_every = 0; /* step without a period: no rate */
    CU_ASSERT(isnan(dbx_train_lr(&o, 5, 12)));
    /* cosine: warm-up 5 of 25 steps, so T = 20 and j = step - 6 */
    o.lr_schedule = "cosine";
    o.warmup = 5;
    o.lr_min = 0;
    CU_ASSERT(close_rel(dbx_train_lr(&o, 1, 25), 0.1, 1e-15));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 5, 25), 0.5, 1e-15));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 6, 25), 0.5, 1e-15));             /* j = 0 */
    /* j = 5: 0.5 (1 + cos(pi / 4)) / 2; j = 10: half way; j = 15; j = 19, the last step */
    CU_ASSERT(close_rel(dbx_train_lr(&o, 11, 25), 0.426776695296637, 1e-12));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 16, 25), 0.25, 1e-12));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 21, 25), 0.0732233047033631, 1e-12));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 25, 25), 0.00307791485, 1e-8));
    CU_ASSERT(fabs(dbx_train_lr(&o, 26, 25)) < 1e-17); /* after the run: lr_min */
    CU_ASSERT(fabs(dbx_train_lr(&o, 500, 25)) < 1e-17);
    o.lr_min = 0.1; /* to 0.1: 0.1 + 0.4 (1 + cos(pi j / T)) / 2 */
    CU_ASSERT(close_rel(dbx_train_lr(&o, 16, 25), 0.3, 1e-12));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 26, 25), 0.1, 1e-12));
    o.warmup = 0; /* no warm-up: j = step - 1, T = total */
    CU_ASSERT(close_rel(dbx_train_lr(&o, 1, 10), 0.5, 1e-15));
    CU_ASSERT(close_rel(dbx_train_lr(&o, 6, 10), 0.3, 1e-12));
    o.lr_schedule = "linear";
    CU_ASSERT(isnan(dbx_train_lr(&o, 1, 10)));

    /* the trainer's steps use these rates */
    dbx_train_opts t = small_opts(64);
    t.steps = 12;
    t.lr_schedule = "cosine";
    t.warmup = 3;
    dbx_trainer *tr = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(&t, &tr), DBX_OK);
    for (int k = 1; k <= 12; k++) {
        dbx_step_info st;
        CU_ASSERT_EQUAL_FATAL(dbx_trainer_step(tr, &st), DBX_OK);
        CU_ASSERT_EQUAL(st.step, k);
        CU_ASSERT(st.lr == dbx_train_lr(&t, k, 12));
    }
    dbx_trainer_free(tr);
}

/* ---- clipping ------------------------------------------------------------------------------ */
/* One step of a fresh trainer: the step's info and the L2 norm of the parameter change. */
static double one_step(const dbx_train_opts *o, dbx_step_info *st, uint64_t *checksum)
{
    dbx_trainer *t = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(o, &t), DBX_OK);
    dbx_model *m = dbx_trainer_model(t);
    size_t n = dbx_model_num_floats(m);
    float *before = malloc(n * sizeof *before);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    memcpy(before, dbx_model_values(m), n * sizeof *before);
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_step(t, st), DBX_OK);
    const float *after = dbx_model_values(m);
    double sq = 0;
    for (size_t i = 0; i < n; i++) sq += ((double)after[i] - before[i]) * (after[i] - before[i]);
    *checksum = dbx_model_checksum(m);
    free(before);
    dbx_trainer_free(t);
    return sqrt(sq);
}

static void test_clip_norm(void)
{
    CU_ASSERT(small_opts(1).clip_norm == 5); /* DyNet's default */
    dbx_train_opts o = small_opts(64);
    o.optim = dbx_optim_default(DBX_OPT_SGD);
    o.optim.lr = 0.1f;
    o.steps = 1;
    dbx_step_info off, big, tiny;
    uint64_t c_off, c_big, c_tiny;
    /* off: no norm computed */
    o.clip_norm = 0;
    double d_off = one_step(&o, &off, &c_off);
    CU_ASSERT(isnan(off.grad_norm));
    CU_ASSERT_EQUAL(off.clipped, 0);
    /* a norm above the gradient's: the norm is reported, nothing changes, bit for bit, and
       SGD moved the parameters by lr times exactly that norm */
    o.clip_norm = 1e9;
    double d_big = one_step(&o, &big, &c_big);
    CU_ASSERT(isfinite(big.grad_norm) && big.grad_norm > 0);
    CU_ASSERT_EQUAL(big.clipped, 0);
    CU_ASSERT_EQUAL(c_big, c_off);
    CU_ASSERT(close_rel(d_big, d_off, 0));
    CU_ASSERT(close_rel(d_big, 0.1 * big.grad_norm, 1e-4));
    /* a tiny norm: clipped, the update is lr * clip_norm long, another result */
    o.clip_norm = 0.01;
    double d_tiny = one_step(&o, &tiny, &c_tiny);
    CU_ASSERT_EQUAL(tiny.clipped, 1);
    CU_ASSERT(close_rel(tiny.grad_norm, big.grad_norm, 1e-12)); /* the norm before clipping */
    CU_ASSERT(close_rel(d_tiny, 0.1 * 0.01, 1e-4));
    CU_ASSERT_NOT_EQUAL(c_tiny, c_off);
    printf("\n  gradient norm %.4f; update %.3g unclipped, %.3g clipped at 0.01\n",
           big.grad_norm, d_big, d_tiny);

    /* a whole run: clipped steps counted, the largest norm reported */
    dbx_train_opts r = small_opts(64);
    r.steps = 8;
    r.clip_norm = 0.5;
    dbx_train_result res;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&r, &res), DBX_OK);
    CU_ASSERT(res.clipped_steps >= 1 && res.clipped_steps <= 8);
    CU_ASSERT(res.max_grad_norm > 0.5);
    r.clip_norm = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&r, &res), DBX_OK);
    CU_ASSERT_EQUAL(res.clipped_steps, 0);
    CU_ASSERT(isnan(res.max_grad_norm));
}

/* ---- weight decay -------------------------------------------------------------------------- */
/* One step from the same initial parameters with weight decay 0 and wd: for every updated
   value p_wd - p_0 = -lr * wd * p (SGD: wd * p added to the gradient; Adam: p shrunk by
   1 - lr * wd before the same Adam step); embedding rows the step did not touch keep their
   initial values in both. */
static void check_decay(dbx_optim_kind kind)
{
    const double lr = 0.05, wd = 0.02;
    dbx_train_opts o = small_opts(64);
    o.optim = dbx_optim_default(kind);
    o.optim.lr = (float)lr;
    o.steps = 1;
    o.clip_norm = 0;
    dbx_trainer *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(&o, &a), DBX_OK);
    o.weight_decay = wd;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(&o, &b), DBX_OK);
    dbx_model *ma = dbx_trainer_model(a), *mb = dbx_trainer_model(b);
    size_t n = dbx_model_num_floats(ma);
    float *p0 = malloc(n * sizeof *p0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p0);
    memcpy(p0, dbx_model_values(ma), n * sizeof *p0);
    CU_ASSERT_EQUAL(memcmp(p0, dbx_model_values(mb), n * sizeof *p0), 0);
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_step(a, NULL), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_step(b, NULL), DBX_OK);
    const float *pa = dbx_model_values(ma), *pb = dbx_model_values(mb);
    size_t bad = 0, untouched = 0, decayed = 0;
    for (int k = 0; k < dbx_model_num_params(ma); k++) {
        int rows, cols;
        dbx_model_param_shape(ma, k, &rows, &cols);
        size_t off = dbx_model_param_offset(ma, k);
        int lookup = strcmp(dbx_model_param_name(ma, k), "E") == 0;
        for (int r = 0; r < rows; r++) {
            const size_t at = off + (size_t)r * (size_t)cols;
            int changed = memcmp(pa + at, p0 + at, (size_t)cols * sizeof *pa) != 0;
            if (lookup && !changed) { /* not touched: no update, no decay */
                untouched++;
                if (memcmp(pb + at, p0 + at, (size_t)cols * sizeof *pb) != 0) bad++;
                continue;
            }
            for (int c = 0; c < cols; c++) {
                double want = -lr * wd * p0[at + c], got = (double)pb[at + c] - pa[at + c];
                double tol = 1e-6 * (fabs(p0[at + c]) + fabs(pa[at + c] - p0[at + c])) + 1e-10;
                if (fabs(got - want) > tol) bad++;
                decayed++;
            }
        }
    }
    printf("\n  %s: %zu values decayed, %zu untouched embedding rows kept, %zu off",
           dbx_optim_name(kind), decayed, untouched, bad);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(untouched > 0 && decayed > 0);
    free(p0);
    dbx_trainer_free(a);
    dbx_trainer_free(b);
}

static void test_weight_decay(void)
{
    CU_ASSERT(small_opts(1).weight_decay == 0);
    check_decay(DBX_OPT_SGD);
    check_decay(DBX_OPT_ADAM);
    /* Adagrad (coupled) trains, and decay changes its result */
    dbx_train_opts o = small_opts(64);
    o.optim = dbx_optim_default(DBX_OPT_ADAGRAD);
    o.steps = 4;
    dbx_train_result r0, r1;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r0), DBX_OK);
    o.weight_decay = 0.01;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r1), DBX_OK);
    CU_ASSERT_NOT_EQUAL(r0.checksum, r1.checksum);
}

/* ---- dropout ------------------------------------------------------------------------------- */
/* The first step's loss per labelled node of model (data: NULL for synthetic) with dropout p. */
static double first_loss(const char *model, const char *data, double p, uint64_t *checksum)
{
    dbx_train_opts o = small_opts(48);
    o.model = model;
    o.data = data;
    o.steps = 2;
    o.dropout = p;
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    *checksum = r.checksum;
    return r.first_loss;
}

static void test_dropout(void)
{
    CU_ASSERT(small_opts(1).dropout == 0);
    /* every built-in model drops in training: another loss and other parameters; the same
       dropout twice trains the same */
    char *tags = dbx_test_tmp_dup("tags.txt");
    FILE *f = fopen(tags, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int s = 0; s < 60; s++) {
        for (int i = 0; i < 4 + s % 7; i++)
            fprintf(f, "%sw%d|%s", i ? " " : "", (s * 7 + i * 3) % 37, (s + i) % 3 ? "N" : "V");
        fputc('\n', f);
    }
    CU_ASSERT_EQUAL(fclose(f), 0);
    static const char *const models[3] = {"treelstm", "bilstm-tagger", "lattice-lstm"};
    for (int k = 0; k < 3; k++) {
        const char *data = k == 1 ? tags : NULL;
        uint64_t c0, c1, c2;
        double l0 = first_loss(models[k], data, 0, &c0), l1 = first_loss(models[k], data, 0.4, &c1);
        double l2 = first_loss(models[k], data, 0.4, &c2);
        printf("\n  %s: first loss %.5f, with dropout 0.4 %.5f", models[k], l0, l1);
        CU_ASSERT(l0 != l1);
        CU_ASSERT_NOT_EQUAL(c0, c1);
        CU_ASSERT(l1 == l2);
        CU_ASSERT_EQUAL(c1, c2);
    }
    unlink(tags);
    free(tags);

    /* recorded in the meta (and P.vocab) in millionths; absent without dropout */
    char *p = dbx_test_tmp_dup("drop.bin"), *dev = tree_file("drop-dev.txt", 30, 5);
    dbx_train_opts o = small_opts(64);
    o.steps = 3;
    o.dropout = 0.35;
    o.dev = dev;
    dbx_trainer *t = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(&o, &t), DBX_OK);
    CU_ASSERT_EQUAL(dbx_meta_get(dbx_trainer_meta(t), DBX_META_DROPOUT, -1), 350000);
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_run(t, &r), DBX_OK);
    /* evaluation graphs do not drop: the same numbers every time, and as dbx_evaluate's */
    dbx_eval_result e1, e2, e3;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_evaluate(t, NULL, &e1), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_evaluate(t, NULL, &e2), DBX_OK);
    CU_ASSERT(e1.loss == e2.loss && e1.acc == e2.acc && e1.loss == r.dev_loss);
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_save(t, p), DBX_OK);
    dbx_trainer_free(t);
    dbx_train_opts ev = small_opts(0);
    ev.data = dev;
    ev.load = p;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&ev, &e3), DBX_OK);
    CU_ASSERT(e3.loss == e1.loss && e3.acc == e1.acc);
    /* --load with another dropout: this run's value replaces the saved one */
    o.load = p;
    o.dropout = 0;
    o.dev = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(&o, &t), DBX_OK);
    CU_ASSERT_EQUAL(dbx_meta_get(dbx_trainer_meta(t), DBX_META_DROPOUT, -1), 0);
    dbx_trainer_free(t);
    /* no dropout: no setting (P.vocab as it always was) */
    o = small_opts(64);
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(&o, &t), DBX_OK);
    CU_ASSERT_EQUAL(dbx_meta_get(dbx_trainer_meta(t), DBX_META_DROPOUT, -1), -1);
    dbx_trainer_free(t);
    dbx_test_remove_params(p);
    unlink(dev);
    free(p);
    free(dev);
}

/* ---- keep-best and patience ---------------------------------------------------------------- */
static void test_keep_best_patience(void)
{
    char *p = dbx_test_tmp_dup("best.bin"), *dev = tree_file("best-dev.txt", 60, 11);
    char last[4200];
    snprintf(last, sizeof last, "%s.last", p);
    dbx_train_opts o = small_opts(200);
    o.batch = 20; /* 10 steps per epoch */
    o.epochs = 40;
    o.optim.lr = 0.003f; /* the dev accuracy peaks after a few epochs */
    o.dev = dev;
    o.save = p;
    o.keep_best = 1;
    o.patience = 2;
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    printf("\n  best dev headline metric %.4f after epoch %d (step %lld); stopped after %d "
           "evaluations", r.best_dev, r.best_epoch, (long long)r.best_step, r.evaluations);
    /* stopped where patience says: two evaluations after the best one */
    CU_ASSERT_EQUAL(r.stopped_early, 1);
    CU_ASSERT(r.best_epoch >= 1);
    CU_ASSERT_EQUAL(r.evaluations, r.best_epoch + 2); /* P.last is two epochs after P */
    CU_ASSERT_EQUAL(r.steps, 10 * (int64_t)r.evaluations);
    CU_ASSERT_EQUAL(r.best_step, 10 * (int64_t)r.best_epoch);
    CU_ASSERT(r.best_dev >= r.dev_acc);
    /* P holds the best parameters: their dev metric is the best one reported; P.last the
       final ones, whose metric is the last evaluation's */
    dbx_train_opts ev = small_opts(0);
    ev.data = dev;
    ev.batch = o.batch;
    ev.load = p;
    dbx_eval_result e;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&ev, &e), DBX_OK);
    CU_ASSERT(dbx_eval_headline(&e, NULL) == r.best_dev);
    CU_ASSERT(e.acc == r.best_dev);
    ev.load = last;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&ev, &e), DBX_OK);
    CU_ASSERT(e.acc == r.dev_acc);
    CU_ASSERT(e.loss == r.dev_loss);
    /* deterministic: the same run stops at the same step with the same files */
    char *p2 = dbx_test_tmp_dup("best2.bin");
    o.save = p2;
    dbx_train_result r2;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r2), DBX_OK);
    CU_ASSERT_EQUAL(r2.evaluations, r.evaluations);
    CU_ASSERT_EQUAL(r2.best_epoch, r.best_epoch);
    CU_ASSERT_EQUAL(r2.checksum, r.checksum);
    double rel = 1;
    char worst[64];
    CU_ASSERT_EQUAL(dbx_model_file_compare(p, p2, &rel, worst, sizeof worst), DBX_OK);
    CU_ASSERT(rel == 0);
    /* keep-best alone runs every epoch; the kept file is still the best evaluation's */
    o.patience = 0;
    o.epochs = 4;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r2), DBX_OK);
    CU_ASSERT_EQUAL(r2.stopped_early, 0);
    CU_ASSERT_EQUAL(r2.evaluations, 4);
    CU_ASSERT(r2.best_epoch >= 1 && r2.best_epoch <= 4);
    ev.load = p2;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&ev, &e), DBX_OK);
    CU_ASSERT(e.acc == r2.best_dev);
    /* patience alone: --save gets the final parameters */
    o.keep_best = 0;
    o.patience = 1;
    o.epochs = 40;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r2), DBX_OK);
    CU_ASSERT_EQUAL(r2.stopped_early, 1);
    CU_ASSERT_EQUAL(r2.evaluations, r2.best_epoch + 1);
    ev.load = p2;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&ev, &e), DBX_OK);
    CU_ASSERT(e.acc == r2.dev_acc);

    /* the headline: the first metric, else minus the loss */
    dbx_eval_result h;
    memset(&h, 0, sizeof h);
    h.loss = 1.25;
    const char *name = NULL;
    CU_ASSERT(dbx_eval_headline(&h, &name) == -1.25);
    CU_ASSERT_STRING_EQUAL(name, "-loss");
    h.nmetrics = 2;
    h.metrics[0].name = "f1";
    h.metrics[0].value = 0.75;
    h.metrics[1].name = "accuracy";
    h.metrics[1].value = 0.5;
    CU_ASSERT(dbx_eval_headline(&h, &name) == 0.75);
    CU_ASSERT_STRING_EQUAL(name, "f1");

    dbx_test_remove_params(p);
    dbx_test_remove_params(last);
    dbx_test_remove_params(p2);
    snprintf(last, sizeof last, "%s.last", p2);
    dbx_test_remove_params(last);
    unlink(dev);
    free(p);
    free(p2);
    free(dev);
}

static void test_bad_options(void)
{
    dbx_train_result r;
    dbx_train_opts o = small_opts(20);
    o.clip_norm = -1;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "clip norm");
    o = small_opts(20);
    o.dropout = 1;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "dropout");
    o.dropout = -0.1;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "dropout");
    o = small_opts(20);
    o.weight_decay = -1e-4;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "weight decay");
    o = small_opts(20);
    o.lr_schedule = "linear";
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "unknown learning-rate schedule 'linear'");
    o = small_opts(20);
    o.lr_schedule = "step";
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "lr_step_every");
    o.lr_step_every = 5;
    o.lr_step_factor = 0;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "factor");
    o = small_opts(20);
    o.warmup = -1;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "warm-up");
    o = small_opts(20);
    o.lr_schedule = "cosine";
    o.lr_min = 1; /* above lr 0.001 */
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "lr_min");
    o = small_opts(20);
    o.keep_best = 1;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "needs a dev set");
    o.dev = "dev.txt";
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "--keep-best needs --save");
    o = small_opts(20);
    o.patience = 3;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "--patience needs a dev set");
    o.patience = -1;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "patience");
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_lr_schedule), DBX_TEST(test_clip_norm),
        DBX_TEST(test_weight_decay), DBX_TEST(test_dropout),
        DBX_TEST(test_keep_best_patience), DBX_TEST(test_bad_options),
        DBX_TEST_END,
    };
    return dbx_test_run("trainopts", tests);
}
