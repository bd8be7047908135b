/* Deterministic generator of synthetic word/character lattices, in the format of
 * shared/data/lattice (see dbx_latticeset_parse).
 *
 * Shapes follow ED-Batch's Lattice-LSTM data: the number of nodes is log-normal (median 38,
 * mean ~44, 5%..95% about 15..94) truncated to 3..200; every node i >= 1 has a character arc
 * from i - 1, and a word arc from i - s with probability 0.47, 0.06, 0.012 for s = 2, 3, 4
 * (in-degrees 1..4, mostly 1 or 2, as in the real data). Character and word ids follow a
 * Zipf-like law (exponent 1) over their vocabularies. Each id has a hidden class, a pure
 * function of (seed, kind, id): 1 (the common "outside" tag) with probability 0.6, otherwise
 * one of 2..tags-1. Node 0 has tag 0; node i >= 1 takes the class of the longest word arc
 * entering it, or of its character arc when none enters, replaced by a random tag with
 * probability 0.03 -- so the tags depend on the arcs entering a node and can be learnt.
 * All randomness comes from splitmix64 streams seeded by opts->seed. The text buffer is
 * owned by the caller. Thread-safe (no shared state).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "dbx/data.h"

#define LG_MIN_NODES 3
#define LG_MAX_NODES 200
#define LG_LEN_MEDIAN 38.0 /* log-normal length: exp(N(log median, sigma)) */
#define LG_LEN_SIGMA 0.55
#define LG_MAX_SPAN 4  /* word arcs come from 2..LG_MAX_SPAN nodes back */
#define LG_OUTSIDE 0.6 /* P(hidden class = 1) */
#define LG_TAG_NOISE 0.03
#define LG_DEF_CHARS 2212 /* the vocabularies of shared/data/lattice/train.txt */
#define LG_DEF_WORDS 10130
#define LG_DEF_TAGS 18

static const double lg_p_word[LG_MAX_SPAN + 1] = {0, 0, 0.47, 0.06, 0.012};

/* Uniform in [0, 1). */
static double lg_unif(uint64_t *s) { return (double)(dbx__splitmix64(s) >> 11) * 0x1.0p-53; }

static double lg_normal(uint64_t *s)
{
    double u = 1.0 - lg_unif(s), v = lg_unif(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int32_t lg_length(uint64_t *s)
{
    for (;;) {
        double x = exp(log(LG_LEN_MEDIAN) + LG_LEN_SIGMA * lg_normal(s));
        if (x >= LG_MIN_NODES && x < LG_MAX_NODES + 1) return (int32_t)x;
    }
}

/* Id in [0, V): continuous 1/x law on [1, V + 1), floored (Zipf with exponent 1). */
static int32_t lg_zipf(uint64_t *s, int32_t V)
{
    double x = exp(lg_unif(s) * log((double)V + 1.0));
    int64_t id = (int64_t)x - 1;
    return (int32_t)(id < 0 ? 0 : id >= V ? V - 1 : id);
}

/* Hidden class of a character (word = 0) or word (word = 1) id: 1..tags-1 (0 if tags = 1). */
static int32_t lg_class(uint64_t seed, int word, int32_t id, int32_t tags)
{
    if (tags <= 2) return tags - 1;
    uint64_t h = seed ^ (0xd1b54a32d192ed03ull * (2 * (uint64_t)id + (uint64_t)word + 1));
    if (lg_unif(&h) < LG_OUTSIDE) return 1;
    return 2 + (int32_t)dbx__splitmix64_below(&h, (uint64_t)tags - 2);
}

typedef struct lg_lattice {
    int32_t n;
    int32_t tag[LG_MAX_NODES];
    int32_t narc[LG_MAX_NODES];
    int32_t from[LG_MAX_NODES][LG_MAX_SPAN], id[LG_MAX_NODES][LG_MAX_SPAN];
} lg_lattice;

static void lg_draw(lg_lattice *L, uint64_t *s, const dbx_lattice_gen_opts *o, int32_t chars,
                    int32_t words, int32_t tags)
{
    L->n = lg_length(s);
    L->tag[0] = 0;
    L->narc[0] = 0;
    for (int32_t i = 1; i < L->n; i++) {
        int32_t k = 0, cls;
        L->from[i][k] = i - 1;
        L->id[i][k++] = lg_zipf(s, chars);
        cls = lg_class(o->seed, 0, L->id[i][0], tags);
        for (int32_t span = 2; span <= LG_MAX_SPAN && span <= i; span++) {
            if (lg_unif(s) >= lg_p_word[span]) continue;
            L->from[i][k] = i - span;
            L->id[i][k] = lg_zipf(s, words);
            cls = lg_class(o->seed, 1, L->id[i][k], tags); /* the longest word arc wins */
            k++;
        }
        if (tags > 1 && lg_unif(s) < LG_TAG_NOISE)
            cls = 1 + (int32_t)dbx__splitmix64_below(s, (uint64_t)tags - 1);
        L->narc[i] = k;
        L->tag[i] = cls;
    }
}

/* Appends v >= 0 and the separator c. */
static char *lg_put(char *p, int32_t v, char c)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    *p++ = c;
    return p;
}

dbx_status dbx_lattice_generate(const dbx_lattice_gen_opts *o, char **text, size_t *len)
{
    if (!o || !text || !len) return dbx__fail(DBX_EINVAL, "dbx_lattice_generate: NULL argument");
    *text = NULL;
    *len = 0;
    if (o->nlat <= 0)
        return dbx__fail(DBX_EINVAL, "dbx_lattice_generate: nlat must be > 0 (got %d)",
                         (int)o->nlat);
    if (o->chars < 0 || o->words < 0 || o->tags < 0)
        return dbx__fail(DBX_EINVAL,
                         "dbx_lattice_generate: chars, words and tags must be >= 0 (got %d, %d, "
                         "%d)",
                         (int)o->chars, (int)o->words, (int)o->tags);
    int32_t chars = o->chars ? o->chars : LG_DEF_CHARS;
    int32_t words = o->words ? o->words : LG_DEF_WORDS;
    int32_t tags = o->tags ? o->tags : LG_DEF_TAGS;
    uint64_t s = o->seed ^ 0x2545f4914f6cdd1dull;
    lg_lattice *L = malloc(sizeof(*L));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    /* A lattice takes at most 1 + 2 * nodes + 2 * arcs numbers of up to 11 bytes each. */
    const size_t most = 12 * (2 + LG_MAX_NODES * (2 + 2 * LG_MAX_SPAN)) + 2;
    dbx_status st =
        L ? DBX_GROW(buf, cap, most) : dbx__fail(DBX_ENOMEM, "out of memory generating lattices");
    if (st == DBX_OK) n = (size_t)(lg_put(buf, o->nlat, '\n') - buf);
    for (int32_t j = 0; st == DBX_OK && j < o->nlat; j++) {
        lg_draw(L, &s, o, chars, words, tags);
        st = DBX_GROW(buf, cap, n + most);
        if (st != DBX_OK) break;
        char *p = lg_put(buf + n, L->n, '\n');
        for (int32_t i = 0; i < L->n; i++)
            p = lg_put(p, L->tag[i], i + 1 < L->n ? ' ' : '\n');
        for (int32_t i = 0; i < L->n; i++) {
            int32_t k = L->narc[i];
            p = lg_put(p, k, k ? ' ' : '\n');
            for (int32_t a = 0; a < k; a++) {
                p = lg_put(p, L->from[i][a], ' ');
                p = lg_put(p, L->id[i][a], a + 1 < k ? ' ' : '\n');
            }
        }
        *p++ = '\n'; /* a blank line between lattices, as in the real files */
        n = (size_t)(p - buf);
    }
    free(L);
    if (st != DBX_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return DBX_OK;
}
