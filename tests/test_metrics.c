/* Evaluation metrics of the built-in model types against hand-computed values: entity spans
 * by the CoNLL rules (dbx_chunk_role, dbx_spans_add, dbx_spans_prf: IOB1, IOB2 and IOBES,
 * mismatched types and boundaries, no predicted spans), the softmax helper, the Tree-LSTM's
 * root_fine / root_binary / all_nodes and the tagger's span_f1 / span_precision / span_recall
 * / accuracy from hand-made outputs through the model types' score and report callbacks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/models.h"
#include "testutil.h"

/* ---- spans ------------------------------------------------------------------------------ */
static void test_chunk_roles(void)
{
    const char *t = NULL;
    CU_ASSERT_EQUAL(dbx_chunk_role("B-PER", &t), 'B');
    CU_ASSERT_STRING_EQUAL(t, "PER");
    CU_ASSERT_EQUAL(dbx_chunk_role("I-MISC", &t), 'I');
    CU_ASSERT_STRING_EQUAL(t, "MISC");
    CU_ASSERT_EQUAL(dbx_chunk_role("E-LOC", &t), 'E');
    CU_ASSERT_EQUAL(dbx_chunk_role("S-ORG", &t), 'S');
    CU_ASSERT_STRING_EQUAL(t, "ORG");
    CU_ASSERT_EQUAL(dbx_chunk_role("L-LOC", &t), 'E'); /* BILOU */
    CU_ASSERT_EQUAL(dbx_chunk_role("U-LOC", &t), 'S');
    CU_ASSERT_EQUAL(dbx_chunk_role("B-NP-SBJ", &t), 'B');
    CU_ASSERT_STRING_EQUAL(t, "NP-SBJ");
    static const char *const outside[] = {"O", "NOUN", "<unk>", "B-", "B", "X-PER", "", "-"};
    for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
        t = NULL;
        CU_ASSERT_EQUAL(dbx_chunk_role(outside[i], &t), 'O');
        CU_ASSERT_STRING_EQUAL(t, "");
    }
    CU_ASSERT_EQUAL(dbx_chunk_role(NULL, NULL), 'O');
}

/* Splits a space-separated tag string into at most 32 tags (pointers into buf). */
static int split(char *buf, const char **tags)
{
    int n = 0;
    for (char *p = strtok(buf, " "); p && n < 32; p = strtok(NULL, " ")) tags[n++] = p;
    return n;
}

/* The spans of one sequence: gold and predicted tags as space-separated strings. */
static dbx_spans spans_of(const char *gold, const char *pred)
{
    char gb[512], pb[512];
    const char *g[32], *p[32];
    snprintf(gb, sizeof gb, "%s", gold);
    snprintf(pb, sizeof pb, "%s", pred);
    int n = split(gb, g), m = split(pb, p);
    CU_ASSERT_EQUAL_FATAL(n, m);
    dbx_spans c = {0, 0, 0};
    dbx_spans_add(&c, n, g, p);
    return c;
}

#define EXPECT_SPANS(GOLD, PRED, G, P, C)                                                    \
    do {                                                                                     \
        dbx_spans c_ = spans_of(GOLD, PRED);                                                 \
        CU_ASSERT(c_.gold == (G) && c_.pred == (P) && c_.correct == (C));                    \
        if (c_.gold != (G) || c_.pred != (P) || c_.correct != (C))                           \
            printf("\n  '%s' / '%s': gold %lld pred %lld correct %lld, want %d %d %d\n", GOLD, \
                   PRED, (long long)c_.gold, (long long)c_.pred, (long long)c_.correct, G, P, \
                   C);                                                                       \
    } while (0)

static void test_spans_iob(void)
{
    /* IOB2, exact match */
    EXPECT_SPANS("B-PER I-PER O B-LOC", "B-PER I-PER O B-LOC", 2, 2, 2);
    /* IOB1: I- starts a span after O and at the sentence start; B- separates equal types */
    EXPECT_SPANS("I-PER I-PER O I-LOC", "I-PER I-PER O I-LOC", 2, 2, 2);
    EXPECT_SPANS("I-PER B-PER", "I-PER I-PER", 2, 1, 0);
    EXPECT_SPANS("O I-ORG I-ORG O", "O B-ORG I-ORG O", 1, 1, 1); /* IOB1 gold, IOB2 pred */
    /* B/I of mismatched types: two spans; I- after another type starts a span */
    EXPECT_SPANS("B-PER I-PER", "B-PER I-LOC", 1, 2, 0);
    EXPECT_SPANS("I-PER I-LOC I-LOC", "I-PER I-LOC I-LOC", 2, 2, 2);
    /* boundaries must match exactly: shorter, longer, shifted */
    EXPECT_SPANS("B-PER I-PER O", "B-PER O O", 1, 1, 0);
    EXPECT_SPANS("B-PER O O", "B-PER I-PER O", 1, 1, 0);
    EXPECT_SPANS("O B-PER I-PER", "B-PER I-PER O", 1, 1, 0);
    /* the type must match */
    EXPECT_SPANS("B-PER I-PER", "B-LOC I-LOC", 1, 1, 0);
    /* a span ending at the last token; adjacent spans */
    EXPECT_SPANS("O O B-MISC I-MISC", "O O B-MISC I-MISC", 1, 1, 1);
    EXPECT_SPANS("B-PER B-PER B-LOC", "B-PER B-PER B-LOC", 3, 3, 3);
    EXPECT_SPANS("B-PER B-PER", "B-PER I-PER", 2, 1, 0);
    /* nothing predicted, nothing gold, tags without chunks */
    EXPECT_SPANS("B-PER O I-LOC", "O O O", 2, 0, 0);
    EXPECT_SPANS("O O", "O O", 0, 0, 0);
    EXPECT_SPANS("O O", "B-PER O", 0, 1, 0);
    EXPECT_SPANS("DET NOUN VERB", "DET NOUN NOUN", 0, 0, 0);
    EXPECT_SPANS("<unk> B-PER", "B-PER B-PER", 1, 2, 1);
}

static void test_spans_iobes(void)
{
    /* singletons: each S- is a span of its own, also next to an equal type */
    EXPECT_SPANS("S-PER S-PER", "S-PER S-PER", 2, 2, 2);
    EXPECT_SPANS("S-PER O S-LOC", "S-PER O S-ORG", 2, 2, 1);
    /* B..E spans, E then B/I/S/E of the same type start anew */
    EXPECT_SPANS("B-LOC E-LOC S-LOC", "B-LOC E-LOC S-LOC", 2, 2, 2);
    EXPECT_SPANS("B-LOC I-LOC E-LOC B-LOC E-LOC", "B-LOC I-LOC E-LOC B-LOC E-LOC", 2, 2, 2);
    EXPECT_SPANS("B-LOC I-LOC E-LOC", "B-LOC E-LOC E-LOC", 1, 2, 0);
    EXPECT_SPANS("S-PER E-PER", "S-PER E-PER", 2, 2, 2);
    /* E- or I- after O starts a span (ill-formed IOBES, read as conlleval does) */
    EXPECT_SPANS("O E-PER", "O S-PER", 1, 1, 1);
    EXPECT_SPANS("O I-PER E-PER", "O B-PER E-PER", 1, 1, 1);
    /* a span cut short or run past its end */
    EXPECT_SPANS("B-ORG I-ORG E-ORG", "B-ORG E-ORG O", 1, 1, 0);
    EXPECT_SPANS("B-ORG E-ORG O", "B-ORG I-ORG I-ORG", 1, 1, 0);
    /* BILOU reads as IOBES */
    EXPECT_SPANS("B-LOC L-LOC U-PER", "B-LOC E-LOC S-PER", 2, 2, 2);
}

static void test_spans_accumulate_and_prf(void)
{
    dbx_spans c = {0, 0, 0};
    const char *g1[] = {"B-PER", "I-PER"}, *p1[] = {"B-PER", "I-PER"};
    const char *g2[] = {"I-PER", "O", "B-LOC"}, *p2[] = {"I-PER", "O", "O"};
    dbx_spans_add(&c, 2, g1, p1);
    dbx_spans_add(&c, 3, g2, p2); /* a new sequence: I-PER starts a span of its own */
    CU_ASSERT(c.gold == 3 && c.pred == 2 && c.correct == 2);
    double p = -1, r = -1, f = -1;
    dbx_spans_prf(&c, &p, &r, &f);
    CU_ASSERT_DOUBLE_EQUAL(p, 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r, 2.0 / 3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(f, 0.8, 1e-12);
    dbx_spans d = {4, 3, 2};
    dbx_spans_prf(&d, &p, &r, &f);
    CU_ASSERT_DOUBLE_EQUAL(p, 2.0 / 3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r, 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(f, 4.0 / 7, 1e-12);
    /* nothing predicted: P = 0 (defined), R = 0, F1 = 0; nothing at all: all 0 */
    dbx_spans e = {5, 0, 0}, z = {0, 0, 0};
    dbx_spans_prf(&e, &p, &r, &f);
    CU_ASSERT(p == 0 && r == 0 && f == 0);
    dbx_spans_prf(&z, &p, &r, &f);
    CU_ASSERT(p == 0 && r == 0 && f == 0);
    dbx_spans_prf(&d, NULL, NULL, &f);
    CU_ASSERT_DOUBLE_EQUAL(f, 4.0 / 7, 1e-12);
}

static void test_softmax(void)
{
    const float l[4] = {1, 3, 3, -2};
    double p[4];
    CU_ASSERT_EQUAL(dbx_probs_softmax(l, 4, p), 1); /* the first of equal maxima */
    double z = exp(1) + 2 * exp(3) + exp(-2);
    CU_ASSERT_DOUBLE_EQUAL(p[0], exp(1) / z, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p[1], exp(3) / z, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p[0] + p[1] + p[2] + p[3], 1.0, 1e-12);
    const float big[2] = {1000, 999}; /* no overflow */
    CU_ASSERT_EQUAL(dbx_probs_softmax(big, 2, p), 0);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 1 / (1 + exp(-1)), 1e-12);
    CU_ASSERT_EQUAL(dbx_probs_softmax(l, 4, NULL), 1);
}

/* ---- model types ---------------------------------------------------------------------------- */
/* A model instance of type t over the samples of text (tiny sizes), its dataset and self. */
typedef struct inst {
    const dbx_model_type *t;
    dbx_meta *meta;
    dbx_model *m;
    dbx_dataset *ds;
    void *self;
} inst;

static void inst_new(inst *x, const dbx_model_type *t, const char *text)
{
    memset(x, 0, sizeof *x);
    x->t = t;
    CU_ASSERT_EQUAL_FATAL(dbx_meta_new(&x->meta), DBX_OK);
    dbx_meta_set(x->meta, "embed", 4);
    dbx_meta_set(x->meta, "hidden", 4);
    dbx_meta_set(x->meta, "mlp", 4);
    CU_ASSERT_EQUAL_FATAL(dbx_dataset_new(&x->ds), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(t->parse(x->meta, "<test>", text, strlen(text), x->ds), DBX_OK);
    dbx_meta_freeze(x->meta);
    CU_ASSERT_EQUAL_FATAL(dbx_model_new(&x->m), DBX_OK);
    CU_ASSERT_EQUAL_FATAL(t->create(x->meta, x->m, &x->self), DBX_OK);
}

static void inst_free(inst *x)
{
    x->t->destroy(x->self);
    dbx_model_free(x->m);
    dbx_dataset_free(x->ds);
    dbx_meta_free(x->meta);
}

/* Scores sample i with outputs out[0..n) of k classes each (row j: out + j * k). */
static void score(inst *x, int32_t i, const float *out, int n, int k, double *stats)
{
    const float *rows[64];
    CU_ASSERT_FATAL(n <= 64);
    for (int j = 0; j < n; j++) rows[j] = out + (size_t)j * (size_t)k;
    dbx_sample s = dbx_dataset_get(x->ds, i);
    x->t->score(x->self, &s, n, rows, stats);
}

/* Logits of k classes with class c clearly the largest. */
static void onehot(float *row, int k, int c)
{
    for (int j = 0; j < k; j++) row[j] = j == c ? 5.0f : 0.0f;
}

static double metric(const dbx_metric *m, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0) return m[i].value;
    CU_FAIL("metric missing");
    printf("\n  no metric '%s'\n", name);
    return NAN;
}

static void test_treelstm_metrics(void)
{
    /* nodes in post-order, the root last: a b root */
    const char *text = "(3 (2 a) (4 b))\n(1 (1 c) (2 d))\n(2 (2 e) (2 f))\n(4 (3 g) (4 h))\n";
    inst x;
    inst_new(&x, &dbx_treelstm_type, text);
    CU_ASSERT_EQUAL_FATAL(x.t->nstats, 6);
    double stats[DBX_MAX_STATS] = {0};
    float out[3 * 5];
    /* tree 1: a right, b wrong (3 for 4); the root's argmax is the neutral 2 (gold 3: wrong),
       but P(3) + P(4) > P(0) + P(1): binary positive, right */
    onehot(out, 5, 2);
    onehot(out + 5, 5, 3);
    const float root1[5] = {0, 0, 3, 1, 1};
    memcpy(out + 10, root1, sizeof root1);
    score(&x, 0, out, 3, 5, stats);
    /* tree 2: all right (root 1: negative, right) */
    onehot(out, 5, 1);
    onehot(out + 5, 5, 2);
    onehot(out + 10, 5, 1);
    score(&x, 1, out, 3, 5, stats);
    /* tree 3: f wrong; the neutral root right, and not counted for binary */
    onehot(out, 5, 2);
    onehot(out + 5, 5, 1);
    onehot(out + 10, 5, 2);
    score(&x, 2, out, 3, 5, stats);
    /* tree 4: leaves right, root 1 for 4: fine and binary wrong */
    onehot(out, 5, 3);
    onehot(out + 5, 5, 4);
    onehot(out + 10, 5, 1);
    score(&x, 3, out, 3, 5, stats);
    dbx_metric m[DBX_MAX_METRICS];
    int n = x.t->report(x.self, stats, m, DBX_MAX_METRICS);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(m[0].name, "root_fine"); /* the headline */
    CU_ASSERT_STRING_EQUAL(m[1].name, "root_binary");
    CU_ASSERT_STRING_EQUAL(m[2].name, "all_nodes");
    CU_ASSERT_DOUBLE_EQUAL(m[0].value, 2.0 / 4, 1e-12); /* trees 2, 3 */
    CU_ASSERT_DOUBLE_EQUAL(m[1].value, 2.0 / 3, 1e-12); /* trees 1, 2 of 1, 2, 4 */
    CU_ASSERT_DOUBLE_EQUAL(m[2].value, 8.0 / 12, 1e-12);
    /* nothing scored: NaN, the same names; max limits the count */
    double zero[DBX_MAX_STATS] = {0};
    CU_ASSERT_EQUAL(x.t->report(x.self, zero, m, DBX_MAX_METRICS), 3);
    CU_ASSERT(isnan(m[0].value) && isnan(m[1].value) && isnan(m[2].value));
    CU_ASSERT_EQUAL(x.t->report(x.self, stats, m, 1), 1);
    CU_ASSERT_STRING_EQUAL(m[0].name, "root_fine");
    inst_free(&x);
}

static int32_t tag_id(inst *x, const char *name)
{
    int32_t id = dbx_vocab_find(dbx_meta_vocab(x->meta, "tags"), name, strlen(name));
    CU_ASSERT_FATAL(id > 0);
    return id;
}

/* Scores sentence i with the predicted tags (space-separated names). */
static void score_tags(inst *x, int32_t i, const char *pred, double *stats)
{
    char buf[512];
    const char *p[32];
    snprintf(buf, sizeof buf, "%s", pred);
    int n = split(buf, p);
    int k = dbx_vocab_size(dbx_meta_vocab(x->meta, "tags"));
    float *out = calloc((size_t)n * (size_t)k, sizeof *out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    for (int j = 0; j < n; j++) onehot(out + (size_t)j * (size_t)k, k, tag_id(x, p[j]));
    score(x, i, out, n, k, stats);
    free(out);
}

static void test_tagger_metrics(void)
{
    const char *text = "John|B-PER Smith|I-PER lives|O in|O New|B-LOC York|I-LOC\n"
                       "Acme|I-ORG Corp|I-ORG hired|O Bob|I-PER Lee|I-LOC\n"
                       "Paris|B-LOC\n";
    inst x;
    inst_new(&x, &dbx_tagger_type, text);
    double stats[DBX_MAX_STATS] = {0};
    /* sentence 1: PER right, LOC cut short (York wrong) */
    score_tags(&x, 0, "B-PER I-PER O O B-LOC O", stats);
    /* sentence 2 (IOB1 gold): ORG right, Bob a LOC span with Lee (wrong type and length) */
    score_tags(&x, 1, "I-ORG I-ORG O I-LOC I-LOC", stats);
    /* sentence 3: missed */
    score_tags(&x, 2, "O", stats);
    dbx_metric m[DBX_MAX_METRICS];
    int n = x.t->report(x.self, stats, m, DBX_MAX_METRICS);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_STRING_EQUAL(m[0].name, "span_f1"); /* the headline */
    /* gold spans: PER, LOC | ORG, PER, LOC | LOC = 6; predicted: PER, LOC | ORG, LOC = 4;
       correct: PER, ORG = 2 */
    double p = 2.0 / 4, r = 2.0 / 6;
    CU_ASSERT_DOUBLE_EQUAL(metric(m, n, "span_precision"), p, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(metric(m, n, "span_recall"), r, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(metric(m, n, "span_f1"), 2 * p * r / (p + r), 1e-12);
    /* tokens: 5 of 6, 4 of 5 (Bob), 0 of 1 */
    CU_ASSERT_DOUBLE_EQUAL(metric(m, n, "accuracy"), 9.0 / 12, 1e-12);
    /* predicting O everywhere: P = 0 by definition, F1 = 0 */
    double o[DBX_MAX_STATS] = {0};
    score_tags(&x, 0, "O O O O O O", o);
    n = x.t->report(x.self, o, m, DBX_MAX_METRICS);
    CU_ASSERT(metric(m, n, "span_precision") == 0 && metric(m, n, "span_f1") == 0);
    CU_ASSERT_DOUBLE_EQUAL(metric(m, n, "accuracy"), 2.0 / 6, 1e-12);
    inst_free(&x);

    /* IOBES tags */
    inst_new(&x, &dbx_tagger_type, "a|S-PER b|S-PER c|B-LOC d|E-LOC e|O\n");
    double s2[DBX_MAX_STATS] = {0};
    score_tags(&x, 0, "S-PER B-LOC E-LOC E-LOC O", s2);
    n = x.t->report(x.self, s2, m, DBX_MAX_METRICS);
    /* gold: PER (a), PER (b), LOC (c..d); predicted: PER (a), LOC (b..c), LOC (d, an E after
       an E starts anew); correct: PER (a) */
    CU_ASSERT_DOUBLE_EQUAL(metric(m, n, "span_precision"), 1.0 / 3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(metric(m, n, "span_recall"), 1.0 / 3, 1e-12);
    inst_free(&x);

    /* tags without entity chunks (parts of speech): accuracy alone, the headline */
    inst_new(&x, &dbx_tagger_type, "the|DET cat|NOUN sat|VERB\n");
    double s3[DBX_MAX_STATS] = {0};
    score_tags(&x, 0, "DET NOUN NOUN", s3);
    n = x.t->report(x.self, s3, m, DBX_MAX_METRICS);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_STRING_EQUAL(m[0].name, "accuracy");
    CU_ASSERT_DOUBLE_EQUAL(m[0].value, 2.0 / 3, 1e-12);
    inst_free(&x);
}

int main(void)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_chunk_roles),        DBX_TEST(test_spans_iob),
        DBX_TEST(test_spans_iobes),        DBX_TEST(test_spans_accumulate_and_prf),
        DBX_TEST(test_softmax),            DBX_TEST(test_treelstm_metrics),
        DBX_TEST(test_tagger_metrics),     DBX_TEST_END,
    };
    return dbx_test_run("metrics", tests);
}
