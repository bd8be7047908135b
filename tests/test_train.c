/* Tests for the training and evaluation drivers (include/dbx/train.h, worker/): loss falls
 * on the synthetic treebank and on a small tagging file, determinism by seed, save -> eval
 * and save -> load round trips, refusal of truncated or corrupted parameter files, the
 * metrics file, progress output, step wrapping, dev evaluation and bad options.
 * Self-contained: data is generated or written into temporary files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbx/data.h"
#include "dbx/models.h"
#include "dbx/train.h"
#include "testutil.h"

/* Small, fast treelstm options on the synthetic treebank. */
static dbx_train_opts small_opts(int trees)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.synthetic = trees;
    o.embed = o.hidden = 32;
    o.batch = 16;
    o.quiet = 1;
    return o;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* ---- tests --------------------------------------------------------------------------------- */
static void test_kind_names(void)
{
    const dbx_model_type *k;
    CU_ASSERT_EQUAL(dbx_model_type_find("treelstm", &k), DBX_OK);
    CU_ASSERT_PTR_EQUAL(k, &dbx_treelstm_type);
    CU_ASSERT_EQUAL(dbx_model_type_find("bilstm-tagger", &k), DBX_OK);
    CU_ASSERT_PTR_EQUAL(k, &dbx_tagger_type);
    CU_ASSERT_STRING_EQUAL(dbx_tagger_type.name, "bilstm-tagger");
    dbx_test_expect_error(dbx_model_type_find("lstm", &k), DBX_EINVAL, "unknown model 'lstm'");
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    CU_ASSERT_EQUAL(o.batch, 64);
    CU_ASSERT_EQUAL(o.embed, 128);
    CU_ASSERT_STRING_EQUAL(o.scheduler, "agenda");
    CU_ASSERT_STRING_EQUAL(o.model, "treelstm");
    CU_ASSERT_EQUAL(o.optim.kind, DBX_OPT_ADAM);
    CU_ASSERT_EQUAL(o.synthetic, 2000);
}

static void test_treelstm_learns(void)
{
    dbx_train_opts o = small_opts(300);
    o.epochs = 3;
    dbx_train_result r;
    dbx_status s = dbx_train(&o, &r);
    CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
    CU_ASSERT_EQUAL(r.steps, 3 * 19); /* ceil(300 / 16) per epoch */
    CU_ASSERT_EQUAL(r.samples, 900);
    CU_ASSERT(r.labelled > 900);
    CU_ASSERT(isfinite(r.first_loss) && isfinite(r.last_epoch_loss));
    CU_ASSERT(r.last_epoch_loss < r.first_loss - 0.1);
    printf("\n  first step %.4f, last epoch %.4f per node\n", r.first_loss, r.last_epoch_loss);
    CU_ASSERT(r.batches > 0 && r.nodes > 0 && r.nodes <= r.requested_nodes);
    CU_ASSERT(r.gemm_flops > 0 && r.model_gemm_flops > 0);
    CU_ASSERT(r.t_total > 0 && r.sents_per_s > 0);
    CU_ASSERT(isnan(r.dev_loss) && isnan(r.dev_acc));
    CU_ASSERT(r.checksum != 0);
}

static void test_determinism(void)
{
    dbx_train_opts o = small_opts(120);
    dbx_train_result a, b, c;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &a), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &b), DBX_OK);
    CU_ASSERT_EQUAL(a.checksum, b.checksum);
    CU_ASSERT_EQUAL(a.labelled, b.labelled);
    CU_ASSERT_DOUBLE_EQUAL(a.last_epoch_loss, b.last_epoch_loss, 0.0);
    o.seed = 2;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &c), DBX_OK);
    CU_ASSERT_NOT_EQUAL(a.checksum, c.checksum);
    /* no shuffling and a different scheduler still train deterministically */
    o.seed = 1;
    o.shuffle = 0;
    o.scheduler = "depth";
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &b), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &c), DBX_OK);
    CU_ASSERT_EQUAL(b.checksum, c.checksum);
}

static void test_steps_wrap_epochs(void)
{
    dbx_train_opts o = small_opts(100); /* 7 steps per epoch: 6 x 16 + 4 */
    o.steps = 25;
    o.epochs = 99; /* ignored */
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    CU_ASSERT_EQUAL(r.steps, 25);
    CU_ASSERT_EQUAL(r.samples, 3 * 100 + 4 * 16);
}

/* Reads the vocabulary size from P.vocab ("words N" on line 2). */
static int vocab_words(const char *params)
{
    char v[4200], line[256];
    snprintf(v, sizeof v, "%s.vocab", params);
    FILE *f = fopen(v, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int n = -1;
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
    CU_ASSERT(strncmp(line, "dbx-vocab 1 model=treelstm embed=32 hidden=32", 45) == 0);
    if (fgets(line, sizeof line, f)) CU_ASSERT_EQUAL(sscanf(line, "words %d", &n), 1);
    fclose(f);
    return n;
}

static void test_save_eval_load(void)
{
    char *p = dbx_test_tmp_dup("params.bin");
    dbx_train_opts o = small_opts(150);
    o.epochs = 2;
    o.save = p;
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    CU_ASSERT(file_exists(p));

    /* evaluate the training data through the saved files */
    dbx_train_opts e = small_opts(150);
    e.embed = e.hidden = 7; /* ignored: sizes come from P.vocab */
    e.load = p;
    dbx_eval_result er;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&e, &er), DBX_OK);
    CU_ASSERT_EQUAL(er.samples, 150);
    CU_ASSERT(er.labelled > 150);
    CU_ASSERT(isfinite(er.loss) && er.loss > 0);
    CU_ASSERT(er.acc >= 0 && er.acc <= 1);
    CU_ASSERT(er.loss < r.first_loss);
    /* evaluation is independent of batch size and scheduler */
    dbx_eval_result er2;
    e.batch = 7;
    e.scheduler = "none";
    e.dedup = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&e, &er2), DBX_OK);
    CU_ASSERT_DOUBLE_EQUAL(er2.acc, er.acc, 0.0);
    CU_ASSERT(dbx_test_close(er2.loss, er.loss, 1e-5, 1e-4));

    /* a fresh model with the saved sizes reproduces the checksum bit for bit */
    int V = vocab_words(p);
    CU_ASSERT_FATAL(V > 1);
    dbx_model *m = NULL;
    dbx_treelstm *t = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_model_new(&m), DBX_OK);
    dbx_treelstm_opts to = {.vocab = V, .embed = 32, .hidden = 32, .labels = 5};
    CU_ASSERT_EQUAL_FATAL(dbx_treelstm_new(m, &to, &t), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_model_init(m, 99), DBX_OK);
    CU_ASSERT_NOT_EQUAL(dbx_model_checksum(m), r.checksum);
    CU_ASSERT_EQUAL(dbx_model_load(m, p), DBX_OK);
    CU_ASSERT_EQUAL(dbx_model_checksum(m), r.checksum);
    dbx_treelstm_free(t);
    dbx_model_free(m);

    /* continue training from the saved parameters */
    dbx_train_opts c = small_opts(150);
    c.load = p;
    c.steps = 2;
    dbx_train_result rc;
    CU_ASSERT_EQUAL(dbx_train(&c, &rc), DBX_OK);
    CU_ASSERT(rc.first_loss < r.first_loss);

    /* wrong model kind and missing --load */
    e.model = "bilstm-tagger";
    e.data = p; /* never read: the kind check comes first */
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EINVAL, "treelstm");
    e.model = "treelstm";
    e.data = NULL;
    e.load = NULL;
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EINVAL, "eval needs --load");
    dbx_test_remove_params(p);
    free(p);
}

static void test_corrupt_params(void)
{
    char *p = dbx_test_tmp_dup("corrupt.bin");
    dbx_train_opts o = small_opts(60);
    o.save = p;
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_read_file(p, &text, &len), DBX_OK);
    CU_ASSERT_FATAL(len > 100);

    dbx_train_opts e = small_opts(60);
    e.load = p;
    dbx_eval_result er;
    CU_ASSERT_EQUAL(dbx_evaluate(&e, &er), DBX_OK);
    /* truncated */
    CU_ASSERT_EQUAL(truncate(p, (off_t)(len / 2)), 0);
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EPARSE, p);
    CU_ASSERT(isnan(er.loss));
    CU_ASSERT_EQUAL(truncate(p, 0), 0);
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EPARSE, p);
    /* one flipped byte in the values */
    text[len / 2] ^= 0x40;
    write_text(p, text, len);
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EPARSE, "checksum");
    dbx_train_opts c = small_opts(60);
    c.load = p;
    dbx_test_expect_error(dbx_train(&c, &r), DBX_EPARSE, "checksum");
    /* a damaged .vocab file */
    text[len / 2] ^= 0x40;
    write_text(p, text, len);
    char v[4200];
    snprintf(v, sizeof v, "%s.vocab", p);
    const char *bad =
        "dbx-vocab 1 model=treelstm embed=32 hidden=32 mlp=32 labels=5\nwords 9\n<unk>\n";
    write_text(v, bad, strlen(bad));
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EPARSE, "expected 9 words, found 1");
    unlink(v);
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EIO, ".vocab");
    dbx_test_remove_params(p);
    free(text);
    free(p);
}

/* A token|TAG file whose tags follow the words (and, for some words, the previous word). */
static void write_tag_file(const char *path, int nsent, unsigned seed)
{
    static const char *const tags[] = {"DET", "NOUN", "VERB", "ADJ"};
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint64_t x = seed;
    for (int s = 0; s < nsent; s++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int n = 3 + (int)((x >> 33) % 10), prev = 0;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            int w = (int)((x >> 33) % 40);
            int tag = w < 30 ? w % 4 : (prev + 1) % 4;
            fprintf(f, "%sw%d|%s", i ? " " : "", w, tags[tag]);
            prev = tag;
        }
        fputc('\n', f);
    }
    CU_ASSERT_EQUAL(fclose(f), 0);
}

static void test_tagger(void)
{
    char *data = dbx_test_tmp_dup("tags.txt"), *p = dbx_test_tmp_dup("tagger.bin");
    write_tag_file(data, 200, 7);
    dbx_train_opts o = small_opts(0);
    o.model = "bilstm-tagger";
    o.data = data;
    o.dev = data;
    o.epochs = 4;
    o.optim.lr = 0.01f;
    o.save = p;
    dbx_train_result r;
    dbx_status s = dbx_train(&o, &r);
    CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
    printf("\n  tagger: first step %.4f, last epoch %.4f, dev acc %.3f\n", r.first_loss,
           r.last_epoch_loss, r.dev_acc);
    CU_ASSERT(r.last_epoch_loss < r.first_loss - 0.3);
    CU_ASSERT(r.dev_acc > 0.5 && r.dev_acc <= 1);
    CU_ASSERT(r.model_gemm_flops > 0);

    dbx_train_opts e = small_opts(0);
    e.model = "bilstm-tagger";
    e.data = data;
    e.load = p;
    dbx_eval_result er;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&e, &er), DBX_OK);
    CU_ASSERT_EQUAL(er.samples, 200);
    CU_ASSERT(dbx_test_close(er.acc, r.dev_acc, 1e-9, 0));
    CU_ASSERT(dbx_test_close(er.loss, r.dev_loss, 1e-6, 1e-5));
    e.model = "treelstm";
    dbx_test_expect_error(dbx_evaluate(&e, &er), DBX_EINVAL, "bilstm-tagger");
    /* the tagger needs a data file */
    o.data = NULL;
    o.save = NULL;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "bilstm-tagger needs --data");
    dbx_test_remove_params(p);
    unlink(data);
    free(data);
    free(p);
}

static void test_dev_and_log(void)
{
    char *dev = dbx_test_tmp_dup("dev.txt");
    dbx_gen_opts go = {.ntrees = 40, .seed = 1};
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_treebank_generate(&go, &text, &len), DBX_OK);
    write_text(dev, text, len);
    free(text);
    FILE *log = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    dbx_train_opts o = small_opts(64);
    o.dev = dev;
    o.quiet = 0;
    o.log = log;
    o.log_every = 2;
    o.epochs = 2;
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    CU_ASSERT(r.dev_acc >= 0 && r.dev_acc <= 1 && isfinite(r.dev_loss));
    rewind(log);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, log);
    buf[n] = '\0';
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "train treelstm on <synthetic>: 64 trees"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "blas: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "step 2/8 ep 1 | 0:0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " elapsed, ETA "));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "step 8/8 ep 2 |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "| dev root_fine ")); /* after the first epoch's eval */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " sent/s\n"));
    CU_ASSERT_PTR_NULL(strstr(buf, "batches, width")); /* the breakdown needs verbose */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "epoch 2: loss/node"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "dev loss/node"));
    for (char *l = strstr(buf, "\nstep "); l; l = strstr(l + 1, "\nstep "))
        CU_ASSERT(strcspn(l + 1, "\n") <= 100);

    /* verbose: the timing breakdown under each progress line */
    CU_ASSERT_EQUAL_FATAL(fseek(log, 0, SEEK_SET), 0);
    CU_ASSERT_EQUAL_FATAL(ftruncate(fileno(log), 0), 0);
    o.verbose = 1;
    o.epochs = 1;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    rewind(log);
    n = fread(buf, 1, sizeof buf - 1, log);
    buf[n] = '\0';
    fclose(log);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "step 4/4 ep 1 |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\n  per step: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "batches, width"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\n  time/step: analysis "));
    unlink(dev);
    free(dev);
}

/* Counts the records of each type in a metrics file; every line must be a whole JSON
   object with a type, a time and no NaN/inf. */
typedef struct mcount {
    int config, steps, epochs, summaries, errors, lines;
} mcount;

static mcount count_metrics(const char *path)
{
    mcount c;
    memset(&c, 0, sizeof c);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL(f);
    if (!f) return c;
    static char line[65536];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        CU_ASSERT(n > 2 && line[n - 1] == '\n');
        line[--n] = '\0';
        c.lines++;
        CU_ASSERT(line[0] == '{' && line[n - 1] == '}');
        CU_ASSERT(strncmp(line, "{\"type\":\"", 9) == 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(line, ",\"time\":"));
        CU_ASSERT_PTR_NOT_NULL(strstr(line, ",\"utc\":\"20"));
        CU_ASSERT_PTR_NULL(strstr(line, ":nan"));
        CU_ASSERT_PTR_NULL(strstr(line, ":inf"));
        c.config += strstr(line, "\"type\":\"config\"") != NULL;
        c.steps += strstr(line, "\"type\":\"step\"") != NULL;
        c.epochs += strstr(line, "\"type\":\"epoch\"") != NULL;
        c.summaries += strstr(line, "\"type\":\"summary\"") != NULL;
        c.errors += strstr(line, "\"type\":\"error\"") != NULL;
        if (strstr(line, "\"type\":\"step\"")) {
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"loss_per_node\":"));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"backward_ms\":"));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"step_ms\":"));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"sents_per_s\":"));
            CU_ASSERT_PTR_NULL(strstr(line, "\"t_")); /* durations are *_ms */
        }
        if (strstr(line, "\"type\":\"config\"")) {
            CU_ASSERT_EQUAL(c.lines, 1); /* the first record */
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"dbx_version\":\""));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"git_commit\":\""));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"blas\":\""));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"ranks\":1"));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"options\":{\"model\":\"treelstm\""));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"synthetic\":50,"));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"allreduce\":null,"));
            CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"patience\":0}}")); /* the last option */
        }
    }
    fclose(f);
    return c;
}

static void test_metrics_file(void)
{
    char *m = dbx_test_tmp_dup("metrics.jsonl");
    dbx_train_opts o = small_opts(50);
    o.metrics = m;
    o.steps = 6;
    dbx_train_result r;
    CU_ASSERT_EQUAL_FATAL(dbx_train(&o, &r), DBX_OK);
    mcount c = count_metrics(m);
    CU_ASSERT_EQUAL(c.config, 1);
    CU_ASSERT_EQUAL(c.steps, 6);
    CU_ASSERT_EQUAL(c.epochs, 2); /* 4 steps per epoch: one full, one partial */
    CU_ASSERT_EQUAL(c.summaries, 1);
    CU_ASSERT_EQUAL(c.errors, 0);
    CU_ASSERT_EQUAL(c.lines, 10);

    /* a loop of its own over dbx_trainer_step gets a step record per step */
    unlink(m);
    dbx_trainer *own = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_trainer_new(&o, &own), DBX_OK);
    for (int k = 0; k < 3; k++) {
        dbx_step_info st;
        CU_ASSERT_EQUAL(dbx_trainer_step(own, k == 1 ? NULL : &st), DBX_OK); /* info optional */
    }
    dbx_trainer_free(own);
    c = count_metrics(m);
    CU_ASSERT_EQUAL(c.config, 1);
    CU_ASSERT_EQUAL(c.steps, 3);

    /* a run failing in setup (unwritable --save) leaves no metrics file, and an existing
       one as it was */
    unlink(m);
    o.save = "/nonexistent/dbx/p.bin";
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EIO, "/nonexistent/dbx/p.bin");
    CU_ASSERT(!file_exists(m));
    write_text(m, "old\n", 4);
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EIO, "/nonexistent/dbx/p.bin");
    FILE *f = fopen(m, "r");
    char old[8] = "";
    CU_ASSERT(f && fgets(old, sizeof old, f) && strcmp(old, "old\n") == 0);
    if (f) fclose(f);

    /* an unwritable metrics file fails before the data are read, naming it */
    o.save = NULL;
    o.metrics = "/nonexistent/dbx/m.jsonl";
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EIO, "metrics file /nonexistent/dbx/m.jsonl");

    /* the step loop through dbx_trainer_step, then a run that fails after training: the
       file keeps the config and step records and ends with an error record */
    o.metrics = m;
    o.steps = 3;
    char *dir = dbx_test_tmp_dup("tracedir"), trace[4200];
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    snprintf(trace, sizeof trace, "%s/trace.json", dir);
    o.trace = trace;
    dbx_trainer *t = NULL;
    dbx_status s = dbx_trainer_new(&o, &t);
    CU_ASSERT_EQUAL(s, DBX_OK);
    CU_ASSERT_EQUAL(rmdir(dir), 0); /* the trace cannot be written at the end */
    free(dir);
    if (s == DBX_OK) {
        CU_ASSERT_NOT_EQUAL(dbx_trainer_run(t, &r), DBX_OK);
        dbx_trainer_free(t);
        c = count_metrics(m);
        CU_ASSERT_EQUAL(c.config, 1);
        CU_ASSERT_EQUAL(c.steps, 3);
        CU_ASSERT_EQUAL(c.summaries, 0);
        CU_ASSERT_EQUAL(c.errors, 1);
    }
    unlink(m);
    free(m);
}

static void test_bad_options(void)
{
    dbx_train_result r;
    dbx_train_opts o = small_opts(20);
    o.batch = 0;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "batch");
    o = small_opts(20);
    o.embed = 0;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "embed");
    o = small_opts(20);
    o.optim.lr = 0;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "learning rate");
    o = small_opts(0);
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "synthetic");
    o = small_opts(20);
    o.epochs = 0;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "epochs");
    o = small_opts(20);
    o.dev = "/nonexistent/dev.txt";
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EIO, "/nonexistent/dev.txt");
    o = small_opts(20);
    o.save = "/nonexistent/dir/p.bin";
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EIO, "/nonexistent/dir/p.bin");
    CU_ASSERT_EQUAL(dbx_train(NULL, &r), DBX_EINVAL);

    /* malformed training data */
    char *bad = dbx_test_tmp_dup("bad.txt");
    const char *text = "(2 (2 a) (2 b))\n(3 (2 a)\n";
    write_text(bad, text, strlen(text));
    o = small_opts(20);
    o.data = bad;
    dbx_status s = dbx_train(&o, &r);
    CU_ASSERT_EQUAL(s, DBX_EPARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), ":2:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(dbx_last_error(), "expected"));
    unlink(bad);
    free(bad);

    /* a diverging run stops with an error */
    o = small_opts(40);
    o.optim = dbx_optim_default(DBX_OPT_SGD);
    o.optim.lr = 3e38f;
    o.steps = 6;
    dbx_test_expect_error(dbx_train(&o, &r), DBX_EINVAL, "loss became");
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_kind_names),     DBX_TEST(test_treelstm_learns),
        DBX_TEST(test_determinism),    DBX_TEST(test_steps_wrap_epochs),
        DBX_TEST(test_save_eval_load), DBX_TEST(test_corrupt_params),
        DBX_TEST(test_tagger),         DBX_TEST(test_dev_and_log),
        DBX_TEST(test_metrics_file),   DBX_TEST(test_bad_options),
        DBX_TEST_END,
    };
    return dbx_test_run("train", tests);
}
