/* Prediction (include/dbx/predict.h) with briefly trained models: the predicted labels agree
 * with what evaluation scores (root_fine, root_binary and all_nodes of a Tree-LSTM computed by
 * hand from the predictions equal dbx_evaluate's; the tagger's token accuracy and span F1;
 * the Lattice-LSTM's accuracy), unlabelled and labelled input predict alike, the JSON lines
 * (one per sample, probabilities summing to 1), a model type without the prediction callbacks
 * ("does not support prediction", labelled input only), wrong model types, damaged input and
 * atomic output files. Self-contained: data is generated or written in the test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbx/models.h"
#include "dbx/predict.h"
#include "dbx/train.h"
#include "testutil.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* Trains briefly (o's model, data and sizes) and saves to path. */
static void train_save(dbx_train_opts *o, const char *path)
{
    o->save = path;
    o->quiet = 1;
    o->comm = 0;
    dbx_train_result r;
    dbx_status s = dbx_train(o, &r);
    if (s) printf("\n  training failed: %s\n", dbx_last_error());
    CU_ASSERT_EQUAL_FATAL(s, DBX_OK);
}

/* dbx_evaluate of data with the parameters at path, batched as the predictor (64, agenda). */
static dbx_eval_result evaluate(const char *model, const char *path, const char *data)
{
    dbx_train_opts e;
    dbx_train_opts_default(&e);
    e.model = model;
    e.load = path;
    e.data = data;
    dbx_eval_result er;
    CU_ASSERT_EQUAL_FATAL(dbx_evaluate(&e, &er), DBX_OK);
    return er;
}

static double metric(const dbx_eval_result *r, const char *name)
{
    for (int i = 0; i < r->nmetrics; i++)
        if (strcmp(r->metrics[i].name, name) == 0) return r->metrics[i].value;
    printf("\n  no metric '%s'\n", name);
    CU_FAIL("metric missing");
    return NAN;
}

/* The JSON lines dbx_predictor_write gives for ds (malloc'd). */
static char *json_of(dbx_predictor *p, const dbx_dataset *ds, unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    dbx_status s = dbx_predictor_write(p, ds, flags, f);
    fclose(f);
    if (s) printf("\n  write failed: %s\n", dbx_last_error());
    CU_ASSERT_EQUAL(s, DBX_OK);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Sums the numbers of the JSON array after key in line (up to its ']'); -1 if absent. */
static double sum_array(const char *line, const char *key, int *count)
{
    const char *a = strstr(line, key);
    if (!a) return -1;
    a = strchr(a, '[');
    double sum = 0;
    *count = 0;
    for (char *end; a && *a != ']'; a = end) {
        double v = strtod(a + 1, &end);
        if (end == a + 1) break;
        sum += v;
        (*count)++;
    }
    return sum;
}

/* ---- Tree-LSTM -------------------------------------------------------------------------- */
typedef struct tree_preds {
    int32_t n;
    int *root, *positive;   /* per sample */
    int64_t node_ok, nodes; /* against the gold labels of gold */
    const dbx_dataset *gold;
} tree_preds;

static dbx_status collect_tree(void *arg, int32_t i, const dbx_sample *s, int nout,
                               const float *const *out)
{
    tree_preds *t = arg;
    const int32_t n = s->w[0];
    CU_ASSERT_EQUAL(nout, n);
    CU_ASSERT_FATAL(i < t->n);
    double p[5];
    t->root[i] = dbx_probs_softmax(out[n - 1], 5, p);
    t->positive[i] = p[3] + p[4] > p[0] + p[1];
    dbx_sample g = dbx_dataset_get(t->gold, i);
    CU_ASSERT_EQUAL_FATAL(g.w[0], n);
    for (int32_t v = 0; v < n; v++)
        t->node_ok += dbx_probs_softmax(out[v], 5, NULL) == g.w[1 + 2 * n + v];
    t->nodes += n;
    return DBX_OK;
}

static void test_treelstm_predict(void)
{
    char *params = dbx_test_tmp_dup("tl.params"), *data = dbx_test_tmp_dup("tl.txt");
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_sst_generate(60, 5, &text, &len), DBX_OK);
    write_text(data, text);
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.data = data;
    o.embed = o.hidden = 16;
    o.batch = 8;
    o.steps = 20;
    o.optim.lr = 0.01f;
    train_save(&o, params);
    dbx_eval_result er = evaluate("treelstm", params, data);

    dbx_predictor *p = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_new(params, NULL, &p), DBX_OK); /* the type: P.vocab's */
    CU_ASSERT_PTR_EQUAL(dbx_predictor_type(p), &dbx_treelstm_type);
    /* labelled input as prediction input (labels ignored), and as gold labels */
    dbx_dataset *in = NULL, *gold = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "tl.txt", text, len, &in), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_dataset_new(&gold), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_sst_parse((dbx_meta *)dbx_predictor_meta(p), "tl.txt", text, len,
                                        gold),
                          DBX_OK);
    const int32_t n = dbx_dataset_size(in);
    CU_ASSERT_EQUAL_FATAL(n, 60);
    tree_preds t = {n, calloc(60, sizeof(int)), calloc(60, sizeof(int)), 0, 0, gold};
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_run(p, in, collect_tree, &t), DBX_OK);
    int root_ok = 0, bin_ok = 0, bin = 0;
    for (int32_t i = 0; i < n; i++) {
        dbx_sample g = dbx_dataset_get(gold, i);
        int32_t gl = g.w[1 + 2 * g.w[0] + g.w[0] - 1];
        root_ok += t.root[i] == gl;
        if (gl != 2) {
            bin++;
            bin_ok += t.positive[i] == (gl > 2);
        }
    }
    printf("\n  root_fine %.4f (eval %.4f), root_binary %.4f, all_nodes %.4f\n",
           (double)root_ok / n, metric(&er, "root_fine"), (double)bin_ok / bin,
           (double)t.node_ok / (double)t.nodes);
    CU_ASSERT_DOUBLE_EQUAL((double)root_ok / n, metric(&er, "root_fine"), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL((double)bin_ok / bin, metric(&er, "root_binary"), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL((double)t.node_ok / (double)t.nodes, metric(&er, "all_nodes"), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(er.acc, metric(&er, "root_fine"), 0); /* the headline */

    /* JSON lines: one per tree, the root label, probabilities summing to 1 */
    char *json = json_of(p, in, 0);
    CU_ASSERT_EQUAL(count_lines(json), 60);
    char *line = json;
    for (int32_t i = 0; i < n; i++) {
        char *nl = strchr(line, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
        *nl = '\0';
        int label = -1, k = 0;
        CU_ASSERT_EQUAL(sscanf(line, "{\"label\":%d,", &label), 1);
        CU_ASSERT_EQUAL(label, t.root[i]);
        CU_ASSERT_DOUBLE_EQUAL(sum_array(line, "\"probs\"", &k), 1.0, 1e-4);
        CU_ASSERT_EQUAL(k, 5);
        CU_ASSERT_PTR_NOT_NULL(strstr(line, t.positive[i] ? "\"binary\":\"positive\"}"
                                                           : "\"binary\":\"negative\"}"));
        line = nl + 1;
    }
    free(json);
    /* the same trees without labels predict alike; --detail adds every node's label */
    const char *bare_text = "((the cat) (sat down))\n(hello)\n";
    dbx_dataset *bare = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "bare", bare_text, strlen(bare_text), &bare),
                          DBX_OK);
    CU_ASSERT_EQUAL(dbx_dataset_size(bare), 2);
    json = json_of(p, bare, DBX_PREDICT_DETAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"nodes\":["));
    int k = 0;
    sum_array(json, "\"nodes\"", &k);
    CU_ASSERT_EQUAL(k, 7);
    free(json);
    dbx_dataset_free(bare);
    char *stripped = malloc(len + 1);
    size_t m = 0;
    for (size_t i = 0; i < len; i++) { /* "(3 " -> "(" */
        if (text[i] == '(' && i + 2 < len && text[i + 1] >= '0' && text[i + 1] <= '4' &&
            text[i + 2] == ' ') {
            stripped[m++] = '(';
            i += 2;
        } else {
            stripped[m++] = text[i];
        }
    }
    stripped[m] = '\0';
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "bare", stripped, m, &bare), DBX_OK);
    char *a = json_of(p, in, 0), *b = json_of(p, bare, 0);
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
    dbx_dataset_free(bare);

    /* damaged input: name:line:col; no sample */
    dbx_test_expect_error(dbx_predictor_parse(p, "bad.txt", "(a b)\n((a) b c)\n", 16, &bare),
                          DBX_EPARSE, "bad.txt:2:8: expected ')' after two children");
    CU_ASSERT_PTR_NULL(bare);
    dbx_test_expect_error(dbx_predictor_parse(p, "empty.txt", "\n", 1, &bare), DBX_EPARSE,
                          "empty.txt: expected at least one tree");
    dbx_test_expect_error(dbx_predictor_read(p, "/nonexistent/in.txt", &bare), DBX_EIO,
                          "/nonexistent/in.txt");
    /* output files: atomic, none left on failure */
    char *out = dbx_test_tmp_dup("tl.jsonl");
    CU_ASSERT_EQUAL(dbx_predictor_write_file(p, in, 0, out), DBX_OK);
    char *back = NULL;
    size_t blen = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_read_file(out, &back, &blen), DBX_OK);
    a = json_of(p, in, 0);
    CU_ASSERT_STRING_EQUAL(back, a);
    free(a);
    free(back);
    unlink(out);
    dbx_test_expect_error(dbx_predictor_write_file(p, in, 0, "/nonexistent/dir/out.jsonl"), DBX_EIO,
                          "/nonexistent/dir/out.jsonl");
    dbx_predictor_free(p);
    dbx_predictor_free(NULL);

    /* wrong model type, missing files */
    dbx_predict_opts po;
    dbx_predict_opts_default(&po);
    po.model = "bilstm-tagger";
    dbx_test_expect_error(dbx_predictor_new(params, &po, &p), DBX_EINVAL,
                          "the parameters are of a treelstm model, not bilstm-tagger");
    CU_ASSERT_PTR_NULL(p);
    po.model = "treelstm";
    CU_ASSERT_EQUAL(dbx_predictor_new(params, &po, &p), DBX_OK);
    dbx_predictor_free(p);
    dbx_test_expect_error(dbx_predictor_new("/nonexistent/p.bin", NULL, &p), DBX_EIO,
                          "p.bin.vocab");
    /* the meta from another file */
    char *meta = dbx_test_tmp_dup("tl.meta"), vp[4200];
    snprintf(vp, sizeof vp, "%s.vocab", params);
    CU_ASSERT_EQUAL_FATAL(rename(vp, meta), 0);
    dbx_test_expect_error(dbx_predictor_new(params, &po, &p), DBX_EIO, vp);
    po.vocab = meta;
    CU_ASSERT_EQUAL(dbx_predictor_new(params, &po, &p), DBX_OK);
    dbx_predictor_free(p);
    po.model = "lattice-lstm";
    dbx_test_expect_error(dbx_predictor_new(params, &po, &p), DBX_EINVAL,
                          "tl.meta: the parameters are of a treelstm model, not lattice-lstm");
    po.model = "treelstm";
    CU_ASSERT_EQUAL_FATAL(rename(meta, vp), 0);
    free(meta);
    po.batch = 0;
    dbx_test_expect_error(dbx_predictor_new(params, &po, &p), DBX_EINVAL, "batch");

    free(out);
    free(stripped);
    free(t.root);
    free(t.positive);
    dbx_dataset_free(in);
    dbx_dataset_free(gold);
    free(text);
    dbx_test_remove_params(params);
    unlink(data);
    free(params);
    free(data);
}

/* ---- tagger ------------------------------------------------------------------------------- */
typedef struct tag_preds {
    dbx_predictor *p;
    const dbx_dataset *gold;
    const dbx_vocab *tags;
    int64_t ok, tokens;
    dbx_spans spans;
} tag_preds;

static dbx_status collect_tags(void *arg, int32_t i, const dbx_sample *s, int nout,
                               const float *const *out)
{
    tag_preds *t = arg;
    const int32_t n = s->w[0], K = dbx_vocab_size(t->tags);
    CU_ASSERT_EQUAL_FATAL(nout, n);
    dbx_sample g = dbx_dataset_get(t->gold, i);
    CU_ASSERT_EQUAL_FATAL(g.w[0], n);
    const char *gold[64], *pred[64];
    CU_ASSERT_FATAL(n <= 64);
    for (int32_t j = 0; j < n; j++) {
        int32_t y = dbx_probs_softmax(out[j], K, NULL), want = g.w[1 + n + j];
        t->ok += y == want;
        gold[j] = dbx_vocab_str(t->tags, want);
        pred[j] = dbx_vocab_str(t->tags, y);
    }
    t->tokens += n;
    dbx_spans_add(&t->spans, n, gold, pred);
    return DBX_OK;
}

static void test_tagger_predict(void)
{
    char *params = dbx_test_tmp_dup("tg.params"), *data = dbx_test_tmp_dup("tg.txt");
    FILE *f = fopen(data, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 40; i++) {
        fprintf(f, "John|B-PER Smith|I-PER visited|O Paris|B-LOC w%d|O\n", i % 5);
        fprintf(f, "The|O Acme|I-ORG Corp|I-ORG hired|O Bob|I-PER w%d|I-MISC\n", i % 3);
    }
    CU_ASSERT_EQUAL(fclose(f), 0);
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model = "bilstm-tagger";
    o.data = data;
    o.embed = o.hidden = o.mlp = 16;
    o.batch = 10;
    o.steps = 12;
    o.optim.lr = 0.02f;
    train_save(&o, params);
    dbx_eval_result er = evaluate("bilstm-tagger", params, data);

    dbx_predictor *p = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_new(params, NULL, &p), DBX_OK);
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_read_file(data, &text, &len), DBX_OK);
    dbx_dataset *in = NULL, *gold = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "tg.txt", text, len, &in), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_dataset_new(&gold), DBX_OK);
    dbx_meta *meta = (dbx_meta *)dbx_predictor_meta(p);
    CU_ASSERT_EQUAL_FATAL(dbx_tags_parse(meta, "tg.txt", text, len, gold), DBX_OK);
    tag_preds t = {p, gold, dbx_meta_vocab(meta, "tags"), 0, 0, {0, 0, 0}};
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_run(p, in, collect_tags, &t), DBX_OK);
    double f1 = 0;
    dbx_spans_prf(&t.spans, NULL, NULL, &f1);
    printf("\n  tagger: accuracy %.4f (eval %.4f), span F1 %.4f (eval %.4f)\n",
           (double)t.ok / (double)t.tokens, metric(&er, "accuracy"), f1, metric(&er, "span_f1"));
    CU_ASSERT_DOUBLE_EQUAL((double)t.ok / (double)t.tokens, metric(&er, "accuracy"), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(f1, metric(&er, "span_f1"), 1e-12);
    CU_ASSERT_STRING_EQUAL(er.metrics[0].name, "span_f1");

    /* plain sentences predict as the tagged ones; one tag and probability per token */
    const char *plain = "John Smith visited Paris w1\nThe Acme Corp hired Bob w2\n";
    const char *tagged = "John|B-PER Smith|I-PER visited|O Paris|B-LOC w1|O\n"
                         "The|O Acme|I-ORG Corp|I-ORG hired|O Bob|I-PER w2|I-MISC\n";
    dbx_dataset *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "plain", plain, strlen(plain), &a), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "tagged", tagged, strlen(tagged), &b), DBX_OK);
    char *ja = json_of(p, a, 0), *jb = json_of(p, b, 0);
    CU_ASSERT_STRING_EQUAL(ja, jb);
    CU_ASSERT_EQUAL(count_lines(ja), 2);
    int k = 0;
    sum_array(ja, "\"probs\"", &k);
    CU_ASSERT_EQUAL(k, 5);
    CU_ASSERT(strncmp(ja, "{\"tags\":[\"", 10) == 0);
    free(ja);
    free(jb);
    jb = json_of(p, b, DBX_PREDICT_DETAIL); /* a distribution per token, summing to 1 */
    const char *d = strstr(jb, "\"dists\":[");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    double sum = sum_array(d + 9, "[", &k); /* the first token's */
    CU_ASSERT_EQUAL(k, dbx_vocab_size(t.tags));
    CU_ASSERT_DOUBLE_EQUAL(sum, 1.0, 1e-4);
    free(jb);
    dbx_dataset_free(a);
    dbx_dataset_free(b);
    dbx_test_expect_error(dbx_predictor_parse(p, "bin", "a b\nc \x01", 7, &a), DBX_EPARSE,
                          "bin:2:3: expected printable text");

    dbx_predictor_free(p);
    dbx_dataset_free(in);
    dbx_dataset_free(gold);
    free(text);
    dbx_test_remove_params(params);
    unlink(data);
    free(params);
    free(data);
}

/* ---- Lattice-LSTM ------------------------------------------------------------------------- */
typedef struct lat_preds {
    const dbx_dataset *gold;
    int32_t labels;
    int64_t ok, nodes;
} lat_preds;

static dbx_status collect_lat(void *arg, int32_t i, const dbx_sample *s, int nout,
                              const float *const *out)
{
    lat_preds *t = arg;
    const int32_t n = s->w[0];
    CU_ASSERT_EQUAL_FATAL(nout, n);
    dbx_sample g = dbx_dataset_get(t->gold, i);
    for (int32_t j = 0; j < n; j++)
        t->ok += dbx_probs_softmax(out[j], t->labels, NULL) == g.w[2 + j];
    t->nodes += n;
    return DBX_OK;
}

static void test_lattice_predict(void)
{
    char *params = dbx_test_tmp_dup("lat.params"), *data = dbx_test_tmp_dup("lat.txt");
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_type.generate(30, 3, &text, &len), DBX_OK);
    write_text(data, text);
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model = "lattice-lstm";
    o.data = data;
    o.embed = o.hidden = 16;
    o.batch = 10;
    o.steps = 6;
    train_save(&o, params);
    dbx_eval_result er = evaluate("lattice-lstm", params, data);
    dbx_predictor *p = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_new(params, NULL, &p), DBX_OK);
    dbx_dataset *in = NULL, *gold = NULL;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "lat.txt", text, len, &in), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_dataset_new(&gold), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(dbx_lattice_type.parse((dbx_meta *)dbx_predictor_meta(p), "lat.txt",
                                                 text, len, gold),
                          DBX_OK);
    lat_preds t = {gold, (int32_t)dbx_meta_get(dbx_predictor_meta(p), "labels", 0), 0, 0};
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_run(p, in, collect_lat, &t), DBX_OK);
    CU_ASSERT_DOUBLE_EQUAL((double)t.ok / (double)t.nodes, metric(&er, "accuracy"), 1e-12);
    char *json = json_of(p, in, 0);
    CU_ASSERT_EQUAL(count_lines(json), 30);
    int k = 0;
    sum_array(json, "\"tags\"", &k);
    CU_ASSERT_EQUAL(k, dbx_dataset_get(in, 0).w[0]);
    free(json);
    /* tags beyond the model's are ignored, not refused */
    const char *odd = "1\n2\n0 99\n0\n1 0 5\n";
    dbx_dataset *x = NULL;
    CU_ASSERT_EQUAL(dbx_predictor_parse(p, "odd", odd, strlen(odd), &x), DBX_OK);
    dbx_dataset_free(x);
    dbx_test_expect_error(dbx_predictor_parse(p, "bad", "1\n2\n0 1\n0\n1 1 5\n", 16, &x),
                          DBX_EPARSE, "bad:5:3: expected FROM");
    dbx_predictor_free(p);
    dbx_dataset_free(in);
    dbx_dataset_free(gold);
    free(text);
    dbx_test_remove_params(params);
    unlink(data);
    free(params);
    free(data);
}

/* ---- a model type without the prediction callbacks ----------------------------------------- */
static void test_no_predict_callback(void)
{
    static dbx_model_type plain;
    plain = dbx_treelstm_type;
    plain.name = "plain-tree";
    plain.parse_unlabelled = NULL;
    plain.predict = NULL;
    char *params = dbx_test_tmp_dup("plain.params");
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model_type = &plain;
    o.synthetic = 40;
    o.embed = o.hidden = 8;
    o.steps = 2;
    train_save(&o, params);
    dbx_predict_opts po;
    dbx_predict_opts_default(&po);
    dbx_predictor *p = NULL;
    /* not registered: found through model_type only */
    dbx_test_expect_error(dbx_predictor_new(params, NULL, &p), DBX_EINVAL,
                          "unknown model 'plain-tree'");
    po.model_type = &plain;
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_new(params, &po, &p), DBX_OK);
    /* input through parse: labelled only */
    dbx_dataset *ds = NULL;
    dbx_test_expect_error(dbx_predictor_parse(p, "in", "((a b) c)\n", 10, &ds), DBX_EPARSE,
                          "in:1:2:");
    CU_ASSERT_EQUAL_FATAL(dbx_predictor_parse(p, "in", "(1 (2 a) (3 b))\n", 16, &ds), DBX_OK);
    int calls = 0;
    CU_ASSERT_EQUAL(dbx_predictor_run(p, ds, NULL, &calls), DBX_OK); /* outputs: fine */
    dbx_test_expect_error(dbx_predictor_write(p, ds, 0, stdout), DBX_ENOTSUP,
                          "model plain-tree does not support prediction");
    char *out = dbx_test_tmp_dup("plain.jsonl");
    dbx_test_expect_error(dbx_predictor_write_file(p, ds, 0, out), DBX_ENOTSUP,
                          "does not support prediction");
    CU_ASSERT(access(out, F_OK) != 0);
    dbx_dataset_free(ds);
    dbx_predictor_free(p);
    dbx_test_remove_params(params);
    free(params);
    free(out);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_treelstm_predict), DBX_TEST(test_tagger_predict),
        DBX_TEST(test_lattice_predict),  DBX_TEST(test_no_predict_callback),
        DBX_TEST_END,
    };
    return dbx_test_run("predict", tests);
}
