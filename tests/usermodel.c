/* A model written in the test itself, not built into dbx, trained through the public trainer:
 * a bag-of-words classifier over lines "LABEL: w1 w2 ...": h = tanh(W sum_i E[w_i] + b),
 * logits = V h, one softmax loss per line. Its own sample format (record [label, n words,
 * word ids...]), its own parser with file:line:col errors, its own synthetic data, meta
 * (vocabulary "words", setting "labels"), scoring and metrics. Run as one process or under
 * mpirun (tests/test_usermodel.sh compares 1 and 3 ranks).
 * Usage: usermodel [--steps K] [--save FILE] [--check-parse]
 *   --check-parse: checks the parser's errors and the registry, in one process; exit 0 when
 *   every check passes. Otherwise trains (and evaluates on the training data) and exits 0
 *   when the loss fell. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/models.h"
#include "dbx/train.h"

enum { LABELS = 3, MAXW = 64 };

/* ---- samples --------------------------------------------------------------------------- */
static dbx_status bad(const char *name, int line, int col, const char *what)
{
    return dbx_set_error(DBX_EPARSE, "%s:%d:%d: expected %s", name, line, col, what);
}

static dbx_status parse(dbx_meta *meta, const char *name, const char *text, size_t len,
                        dbx_dataset *ds)
{
    dbx_vocab *words = dbx_meta_vocab(meta, "words");
    if (!words) return DBX_ENOMEM;
    dbx_status s = dbx_meta_raise(meta, "labels", LABELS);
    int32_t rec[2 + MAXW];
    int line = 1;
    for (size_t p = 0; p < len && !s; line++) {
        size_t e = p;
        while (e < len && text[e] != '\n') e++;
        if (e > p) {
            const char *l = text + p;
            size_t n = e - p, i = 0;
            if (l[0] < '0' || l[0] >= '0' + LABELS || n < 2 || l[1] != ':')
                return bad(name, line, 1, "a label 0..2 and ':'");
            rec[0] = l[0] - '0';
            rec[1] = 0;
            for (i = 2; i < n;) {
                while (i < n && l[i] == ' ') i++;
                size_t b = i;
                while (i < n && l[i] != ' ') i++;
                if (i == b) break;
                if (rec[1] == MAXW) return bad(name, line, (int)b + 1, "at most 64 words");
                rec[2 + rec[1]++] = dbx_vocab_id(words, l + b, i - b);
            }
            if (rec[1] == 0) return bad(name, line, (int)n + 1, "a word");
            s = dbx_dataset_add(ds, rec, 2 + rec[1], rec[1]);
        }
        p = e + 1;
    }
    return s;
}

/* Lines whose label is the majority class of their words (word w belongs to class w % 3). */
static dbx_status generate(int32_t n, uint64_t seed, char **text, size_t *len)
{
    size_t cap = (size_t)n * 200 + 1, at = 0;
    char *t = malloc(cap);
    if (!t) return DBX_ENOMEM;
    uint64_t x = seed * 6364136223846793005ULL + 1;
    for (int32_t i = 0; i < n; i++) {
        int cls = (int)((x >> 33) % LABELS), nw = 3 + (int)((x >> 40) % 8);
        at += (size_t)snprintf(t + at, cap - at, "%d:", cls);
        for (int k = 0; k < nw; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            int w = (int)((x >> 33) % 30);
            if (k % 3 != 2) w = w - w % LABELS + cls; /* two of three words vote for cls */
            at += (size_t)snprintf(t + at, cap - at, " w%d", w);
        }
        t[at++] = '\n';
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    t[at] = '\0';
    *text = t;
    *len = at;
    return DBX_OK;
}

/* ---- the model ------------------------------------------------------------------------- */
typedef struct bow {
    int vocab, H;
    dbx_param E, W, b, V;
} bow;

static dbx_status create(const dbx_meta *meta, dbx_model *m, void **self)
{
    bow *t = calloc(1, sizeof *t);
    if (!t) return DBX_ENOMEM;
    *self = t;
    t->vocab = dbx_vocab_size(dbx_meta_vocab((dbx_meta *)meta, "words"));
    t->H = (int)dbx_meta_get(meta, "hidden", 16);
    int E = (int)dbx_meta_get(meta, "embed", 16);
    dbx_status s = dbx_model_add_lookup(m, "E", t->vocab, E, 0.1f, &t->E);
    if (!s) s = dbx_model_add(m, "W", t->H, E, DBX_INIT_GLOROT, 0, &t->W);
    if (!s) s = dbx_model_add(m, "b", t->H, 1, DBX_INIT_ZERO, 0, &t->b);
    if (!s) s = dbx_model_add(m, "V", LABELS, t->H, DBX_INIT_GLOROT, 0, &t->V);
    return s;
}

static void destroy(void *self) { free(self); }

static dbx_status build(void *self, dbx_graph *g, const dbx_sample *s, dbx_build_mode mode)
{
    bow *t = self;
    if (s->n < 3 || s->w[1] < 1 || s->w[1] > MAXW || s->n != 2 + s->w[1] || s->w[0] < 0 ||
        s->w[0] >= LABELS)
        return DBX_EPARSE;
    dbx_node xs[MAXW];
    dbx_graph_begin_sample(g);
    for (int i = 0; i < s->w[1]; i++) {
        if (s->w[2 + i] < 0 || s->w[2 + i] >= t->vocab) return DBX_EPARSE;
        xs[i] = dbx_lookup(g, t->E, s->w[2 + i]);
    }
    dbx_node x = s->w[1] == 1 ? xs[0] : dbx_sum(g, s->w[1], xs);
    dbx_term tm[2] = {{t->b, DBX_NONE, 0}, {t->W, x, 0}};
    dbx_node lg = dbx_matvec(g, t->V, dbx_tanh(g, dbx_affine(g, t->H, 2, tm)));
    dbx_softmax_xent(g, lg, s->w[0]);
    if (mode == DBX_BUILD_EVAL) dbx_graph_output(g, lg);
    return dbx_graph_status(g);
}

static void score(void *self, const dbx_sample *s, int nout, const float *const *out, double *st)
{
    (void)self;
    if (nout == 1) dbx_score_argmax(out[0], LABELS, s->w[0], st);
}

static const dbx_model_type bow_type = {
    .name = "test-bow", .summary = "bag of words (a test model)", .data_help = "LABEL: words",
    .sample_noun = "lines", .unit_noun = "words", .nstats = 2, .parse = parse,
    .generate = generate, .create = create, .destroy = destroy, .build = build,
    .score = score, .report = dbx_report_accuracy,
};

/* ---- checks ---------------------------------------------------------------------------- */
static int failures;
#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "usermodel: check failed at line %d: %s\n", __LINE__, #c);        \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

static void check_parse(void)
{
    const dbx_model_type *t = NULL;
    CHECK(dbx_model_type_find("test-bow", &t) == DBX_EINVAL);
    CHECK(dbx_model_type_register(&bow_type) == DBX_OK);
    CHECK(dbx_model_type_find("test-bow", &t) == DBX_OK && t == &bow_type);
    CHECK(strstr(dbx_model_type_names(), "test-bow") != NULL);
    dbx_model_type dup = bow_type;
    CHECK(dbx_model_type_register(&dup) == DBX_EINVAL); /* the name is taken */
    dbx_meta *meta = NULL;
    dbx_dataset *ds = NULL;
    CHECK(dbx_meta_new(&meta) == DBX_OK && dbx_dataset_new(&ds) == DBX_OK);
    const char *good = "0: a b\n2: c\n";
    CHECK(parse(meta, "good.txt", good, strlen(good), ds) == DBX_OK);
    CHECK(dbx_dataset_size(ds) == 2 && dbx_dataset_units(ds) == 3);
    CHECK(dbx_dataset_get(ds, 1).n == 3 && dbx_dataset_get(ds, 1).w[0] == 2);
    const char *badtext = "0: a\n7: b\n";
    CHECK(parse(meta, "bad.txt", badtext, strlen(badtext), ds) == DBX_EPARSE);
    CHECK(strstr(dbx_last_error(), "bad.txt:2:1: expected a label") != NULL);
    dbx_dataset_free(ds);
    dbx_meta_free(meta);
    /* the trainer runs a registered type by name, and reports its metric */
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model = "test-bow";
    o.embed = o.hidden = 8;
    o.synthetic = 100;
    o.batch = 10;
    o.quiet = 1;
    o.comm = 0;
    dbx_train_result r;
    CHECK(dbx_train(&o, &r) == DBX_OK && r.steps == 10 && r.samples == 100);
    o.model = NULL;
    o.model_type = &bow_type;
    o.data = "/nonexistent/file.txt";
    CHECK(dbx_train(&o, &r) == DBX_EIO);
}

int main(int argc, char **argv)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.model_type = &bow_type;
    o.synthetic = 600;
    o.embed = o.hidden = 16;
    o.batch = 24;
    o.epochs = 3;
    o.quiet = 1;
    o.check_replicas = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check-parse")) {
            check_parse();
            printf("usermodel: %s\n", failures ? "checks FAILED" : "all checks passed");
            return failures ? 1 : 0;
        }
        if (i + 1 < argc && !strcmp(argv[i], "--steps")) o.steps = atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--save")) o.save = argv[++i];
        else return 2;
    }
    dbx_trainer *t = NULL;
    dbx_train_result r;
    dbx_eval_result e;
    if (dbx_trainer_new(&o, &t) || dbx_trainer_run(t, &r)) {
        fprintf(stderr, "usermodel: %s\n", dbx_last_error());
        dbx_trainer_free(t);
        return 1;
    }
    /* collective evaluation: without a dev set every rank gets the same error */
    if (dbx_trainer_evaluate(t, NULL, &e) != DBX_EINVAL) failures++;
    int rank = dbx_trainer_rank(t), ranks = dbx_trainer_ranks(t);
    dbx_trainer_free(t);
    int falls = r.last_epoch_loss < 0.8 * r.first_loss && !failures;
    if (rank == 0)
        printf("usermodel: %d rank(s), %lld steps, loss/node %.4f -> %.4f (%s), checksum "
               "%016llx\n", ranks, (long long)r.steps, r.first_loss, r.last_epoch_loss,
               falls ? "falls" : "does NOT fall", (unsigned long long)r.checksum);
    return falls ? 0 : 1;
}
