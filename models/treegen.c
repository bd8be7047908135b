/* Deterministic generator of synthetic SST-like treebanks (SST-format text).
 *
 * Shapes: the number of leaves follows a gamma distribution (mean ~19, sd ~9) truncated to
 * 1..52; a span of k leaves is split with a bias toward the ends (mostly a single word on
 * the left, as in SST's right-branching trees), which gives a mean root height of ~11.
 * Words "w<id>" are drawn from a Zipf-like law over the vocabulary; each word has a hidden
 * polarity in -2..2 derived from (id, seed). A preterminal is labelled 2 + polarity (with a
 * little noise), an inner node clamp(round(2 + mean polarity of the words below)).
 * All randomness comes from a private splitmix64 stream seeded by opts->seed, so the output
 * depends on the options only. The text buffer is owned by the caller. Thread-safe (no
 * shared state).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "dbx/data.h"

#define GEN_MAX_LEAVES 52
#define GEN_LEN_MEAN 19.3   /* gamma parameters before truncation and rounding */
#define GEN_LEN_SD 9.6
#define GEN_P_LEFT1 0.42    /* P(split = 1 word | left) */
#define GEN_P_RIGHT1 0.12   /* P(split = 1 word | right) */
#define GEN_LABEL_NOISE 0.05
#define GEN_NEUTRAL_TOP 50  /* the most frequent words (function words) are neutral */
#define GEN_BIAS 0.25       /* P(a leaf follows the tree's sentiment) per unit of |sentiment| */

typedef struct gen_rng {
    uint64_t s;
} gen_rng;

static uint64_t gen_next(gen_rng *r) { return dbx__splitmix64(&r->s); }

/* Uniform in [0, 1). */
static double gen_unif(gen_rng *r) { return (double)(gen_next(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n). */
static int gen_below(gen_rng *r, int n) { return (int)(gen_unif(r) * n); }

static double gen_normal(gen_rng *r)
{
    double u = 1.0 - gen_unif(r), v = gen_unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Gamma(shape >= 1, scale 1) by Marsaglia and Tsang. */
static double gen_gamma(gen_rng *r, double shape)
{
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = gen_normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = gen_unif(r);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

static int gen_length(gen_rng *r)
{
    double shape = (GEN_LEN_MEAN / GEN_LEN_SD) * (GEN_LEN_MEAN / GEN_LEN_SD);
    double scale = GEN_LEN_MEAN / shape;
    for (;;) {
        int n = (int)floor(gen_gamma(r, shape) * scale + 0.5);
        if (n >= 1 && n <= GEN_MAX_LEAVES) return n;
    }
}

/* Word id in [0, V): continuous 1/x law on [1, V + 1), floored (Zipf with exponent 1). */
static int32_t gen_word(gen_rng *r, int32_t V)
{
    double x = exp(gen_unif(r) * log((double)V + 1.0));
    int64_t id = (int64_t)x - 1;
    return (int32_t)(id < 0 ? 0 : id >= V ? V - 1 : id);
}

/* Hidden polarity of a word: -2..2, mostly 0; a pure function of (id, seed). */
static int gen_polarity(int32_t id, uint64_t seed)
{
    if (id < GEN_NEUTRAL_TOP) return 0;
    gen_rng h = {seed ^ (0xd1b54a32d192ed03ull * ((uint64_t)id + 1))};
    double u = gen_unif(&h);
    if (u < 0.60) return 0;
    if (u < 0.74) return 1;
    if (u < 0.88) return -1;
    if (u < 0.94) return 2;
    return -2;
}

typedef struct gen_node {
    int32_t left, right, word, label;
    int32_t leaves, polsum;
} gen_node;

typedef struct gen_tree {
    gen_node nodes[2 * GEN_MAX_LEAVES];
    int n;
    int sentiment; /* -2..2 */
} gen_tree;

static int gen_clamp_label(int l) { return l < 0 ? 0 : l > 4 ? 4 : l; }

/* The tree's overall sentiment -2..2, drawn with SST's root label frequencies. */
static int gen_sentiment(gen_rng *r)
{
    double u = gen_unif(r);
    return u < 0.13 ? -2 : u < 0.39 ? -1 : u < 0.58 ? 0 : u < 0.85 ? 1 : 2;
}

/* A leaf's word: a Zipf draw; with probability GEN_BIAS * |sentiment| it is redrawn until
 * its polarity has the sign of the tree's sentiment (bounded tries). */
static int32_t gen_leaf_word(gen_tree *t, gen_rng *r, int32_t V, uint64_t seed)
{
    int32_t w = gen_word(r, V);
    int m = t->sentiment;
    if (m == 0 || gen_unif(r) >= GEN_BIAS * abs(m)) return w;
    for (int tries = 0; tries < 256; tries++) {
        int pol = gen_polarity(w, seed);
        if ((m > 0 && pol > 0) || (m < 0 && pol < 0)) break;
        w = gen_word(r, V);
    }
    return w;
}

/* Builds a subtree of k leaves (post-order); recursion depth <= GEN_MAX_LEAVES. */
static int gen_build(gen_tree *t, int k, gen_rng *r, int32_t V, uint64_t seed)
{
    gen_node nd = {-1, -1, -1, 2, k, 0};
    if (k == 1) {
        nd.word = gen_leaf_word(t, r, V, seed);
        nd.polsum = gen_polarity(nd.word, seed);
        int l = 2 + nd.polsum;
        if (gen_unif(r) < GEN_LABEL_NOISE) l += gen_unif(r) < 0.5 ? -1 : 1;
        nd.label = gen_clamp_label(l);
    } else {
        double u = gen_unif(r);
        int left = u < GEN_P_LEFT1 ? 1 : u < GEN_P_LEFT1 + GEN_P_RIGHT1 ? k - 1
                                                                         : 1 + gen_below(r, k - 1);
        nd.left = gen_build(t, left, r, V, seed);
        nd.right = gen_build(t, k - left, r, V, seed);
        nd.polsum = t->nodes[nd.left].polsum + t->nodes[nd.right].polsum;
        nd.label = gen_clamp_label((int)floor(2.0 + (double)nd.polsum / k + 0.5));
    }
    t->nodes[t->n] = nd;
    return t->n++;
}

typedef struct gen_buf {
    char *p;
    size_t n, cap;
} gen_buf;

static dbx_status gen_emit(gen_buf *b, const gen_tree *t, int i)
{
    const gen_node *nd = &t->nodes[i];
    /* "(L " + "w" + up to 10 digits + ") " */
    DBX_TRY(DBX_GROW(b->p, b->cap, b->n + 32));
    b->p[b->n++] = '(';
    b->p[b->n++] = (char)('0' + nd->label);
    b->p[b->n++] = ' ';
    if (nd->word >= 0) {
        b->n += (size_t)sprintf(b->p + b->n, "w%d)", (int)nd->word);
        return DBX_OK;
    }
    DBX_TRY(gen_emit(b, t, nd->left));
    b->p[b->n++] = ' ';
    DBX_TRY(gen_emit(b, t, nd->right));
    DBX_TRY(DBX_GROW(b->p, b->cap, b->n + 1));
    b->p[b->n++] = ')';
    return DBX_OK;
}

dbx_status dbx_treebank_generate(const dbx_gen_opts *opts, char **text, size_t *len)
{
    if (!opts || !text || !len)
        return dbx__fail(DBX_EINVAL, "dbx_treebank_generate: NULL argument");
    *text = NULL;
    *len = 0;
    if (opts->ntrees <= 0)
        return dbx__fail(DBX_EINVAL, "dbx_treebank_generate: ntrees must be > 0 (got %d)",
                         (int)opts->ntrees);
    if (opts->vocab < 0)
        return dbx__fail(DBX_EINVAL, "dbx_treebank_generate: vocab must be >= 0 (got %d)",
                         (int)opts->vocab);
    int32_t V = opts->vocab ? opts->vocab : 5000;
    gen_rng r = {opts->seed ^ 0x5851f42d4c957f2dull};
    gen_tree *t = malloc(sizeof(*t));
    if (!t) return dbx__fail(DBX_ENOMEM, "out of memory generating a treebank");
    gen_buf b = {NULL, 0, 0};
    dbx_status s = DBX_GROW(b.p, b.cap, 4096);
    for (int32_t i = 0; s == DBX_OK && i < opts->ntrees; i++) {
        t->n = 0;
        t->sentiment = gen_sentiment(&r);
        int root = gen_build(t, gen_length(&r), &r, V, opts->seed);
        s = gen_emit(&b, t, root);
        if (s == DBX_OK) s = DBX_GROW(b.p, b.cap, b.n + 2);
        if (s == DBX_OK) b.p[b.n++] = '\n';
    }
    free(t);
    if (s != DBX_OK) {
        free(b.p);
        return s;
    }
    b.p[b.n] = '\0';
    *text = b.p;
    *len = b.n;
    return DBX_OK;
}
