/* Reader for word/character lattices (shared/data/lattice, ED-Batch's Lattice-LSTM data):
 * whitespace-separated integers N_LATTICES, then per lattice LENGTH, LENGTH tags and, per
 * node, N_ARCS followed by N_ARCS pairs FROM ID.
 *
 * A first scan counts the tokens (runs of non-blank bytes); the parse itself is one linear
 * pass that knows how many tokens are left, so every count (N_LATTICES, LENGTH, N_ARCS) is
 * checked against what follows before anything is reserved for it: memory stays
 * proportional to the input, and an impossible count is reported at the count itself. Nodes
 * and arcs go to growing scratch arrays; at the end the header, the lattice records and all
 * id arrays are laid out in one malloc'd block, which dbx_latticeset_free() releases.
 * Error messages are built only on the error path. The result is owned by the caller.
 * Thread-safe (no shared state).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/data.h"

typedef enum lat_tok_kind { LAT_NUM, LAT_TEXT, LAT_BAD, LAT_EOF } lat_tok_kind;

typedef struct lat_tok {
    lat_tok_kind kind;
    size_t start, len; /* byte range (LAT_BAD, LAT_EOF: start only) */
    int64_t v;         /* LAT_NUM: the value (saturated beyond 32 bits, see over) */
    int over;          /* LAT_NUM: outside int32 */
} lat_tok;

/* What the parser reads next; names the token in error messages. */
typedef enum lat_what {
    LAT_W_NLAT,
    LAT_W_LENGTH,
    LAT_W_TAG,
    LAT_W_NARCS,
    LAT_W_FROM,
    LAT_W_ID,
    LAT_W_END
} lat_what;

typedef struct lat_rec {
    int64_t node0, arc0; /* first node and first arc in the scratch arrays */
    int32_t n;
} lat_rec;

typedef struct lat_parser {
    const char *name;
    const unsigned char *t;
    size_t len, pos, line, line_start;
    int64_t left;     /* tokens not read yet: an upper bound on the numbers that follow */
    int64_t ntok;     /* tokens read */
    size_t tok_start; /* offset of the last token read */
    /* context for messages */
    lat_what what;
    int32_t nlat, lat, node, arc, is_char;
    /* scratch */
    lat_rec *recs;
    int32_t *tag, *start, *from, *id; /* tag: (nodes); start: (nodes + lattices); arcs */
    size_t tag_cap, start_cap, from_cap, id_cap;
    int64_t nnodes, nstart, narcs;
    /* statistics */
    int64_t nchar_arcs;
    int32_t max_tag, max_char, max_word, max_indegree, max_n;
} lat_parser;

static int lat_is_blank(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static int lat_is_control(unsigned char c) { return (c < 0x20 && !lat_is_blank(c)) || c == 0x7f; }

/* Runs of non-blank bytes in t[pos..len). */
static int64_t lat_count_tokens(const unsigned char *t, size_t pos, size_t len)
{
    int64_t n = 0;
    int in = 0;
    for (size_t i = pos; i < len; i++) {
        int b = lat_is_blank(t[i]);
        n += !b && !in;
        in = !b;
    }
    return n;
}

/* The next token; blanks before it are consumed (line counting). LAT_BAD and LAT_EOF leave
 * pos at the control byte or the end. */
static void lat_next(lat_parser *p, lat_tok *k)
{
    const unsigned char *t = p->t;
    size_t i = p->pos, n = p->len;
    for (; i < n; i++) {
        unsigned char c = t[i];
        if (c == '\n') {
            p->line++;
            p->line_start = i + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            break;
        }
    }
    p->pos = i;
    p->tok_start = i;
    k->start = i;
    k->len = 0;
    k->v = 0;
    k->over = 0;
    if (i >= n) {
        k->kind = LAT_EOF;
        return;
    }
    if (lat_is_control(t[i])) {
        k->kind = LAT_BAD;
        return;
    }
    size_t e = i;
    int neg = t[e] == '-';
    e += (size_t)neg;
    size_t digits = e;
    int64_t v = 0;
    while (e < n && t[e] >= '0' && t[e] <= '9') {
        if (v <= INT32_MAX) v = v * 10 + (t[e] - '0'); /* saturates below 2^35 */
        e++;
    }
    int num = e > digits;
    while (e < n && !lat_is_blank(t[e]) && !lat_is_control(t[e])) {
        num = 0;
        e++;
    }
    if (neg) v = -v;
    k->kind = num ? LAT_NUM : LAT_TEXT;
    k->len = e - i;
    k->v = v;
    k->over = v > INT32_MAX || v < INT32_MIN;
    p->pos = e;
    p->left--;
    p->ntok++;
}

/* Fails with "name:line:col: expected <what>[, <constraint>] (got <token>)" for the token k
 * read as p->what with the bounds lo..hi and per (see lat_int). */
static dbx_status lat_expected(const lat_parser *p, const lat_tok *k, int64_t lo, int64_t hi,
                               int per)
{
    char what[128], cons[128], got[96];
    int32_t i = p->node, j = p->lat;
    switch (p->what) {
    case LAT_W_NLAT: snprintf(what, sizeof what, "N_LATTICES"); break;
    case LAT_W_LENGTH: snprintf(what, sizeof what, "LENGTH of lattice %d", (int)j); break;
    case LAT_W_TAG: snprintf(what, sizeof what, "the tag of node %d of lattice %d", i, j); break;
    case LAT_W_NARCS: snprintf(what, sizeof what, "N_ARCS of node %d of lattice %d", i, j); break;
    case LAT_W_FROM:
        snprintf(what, sizeof what, "FROM of arc %d into node %d of lattice %d", (int)p->arc, i, j);
        break;
    case LAT_W_ID:
        snprintf(what, sizeof what, "the %s ID of arc %d into node %d of lattice %d",
                 p->is_char ? "character" : "word", (int)p->arc, i, j);
        break;
    case LAT_W_END:
        snprintf(what, sizeof what, "end of file after the %d lattice%s declared", (int)p->nlat,
                 p->nlat == 1 ? "" : "s");
        break;
    }
    cons[0] = '\0';
    int in_range = k->kind == LAT_NUM && !k->over && k->v >= lo;
    if (p->what == LAT_W_END) {
        /* no constraint */
    } else if (p->what == LAT_W_FROM) {
        snprintf(cons, sizeof cons, ", a node 0..%lld", (long long)hi);
    } else if (p->what == LAT_W_NARCS && hi == 0) {
        snprintf(cons, sizeof cons, ", 0 as node 0 is the start node");
    } else if (in_range && per && k->v <= hi) {
        snprintf(cons, sizeof cons, ", at most %lld for the %lld token%s that follow%s",
                 (long long)(p->left / per), (long long)p->left, p->left == 1 ? "" : "s",
                 p->left == 1 ? "s" : "");
    } else {
        snprintf(cons, sizeof cons, ", an integer >= %lld", (long long)lo);
    }
    switch (k->kind) {
    case LAT_EOF:
        snprintf(got, sizeof got, "%s", p->ntok ? "end of file" : "end of file: the file is empty");
        break;
    case LAT_BAD: snprintf(got, sizeof got, "byte 0x%02x", p->t[k->start]); break;
    case LAT_NUM:
    case LAT_TEXT: {
        int shown = k->len > 40 ? 40 : (int)k->len;
        snprintf(got, sizeof got, "'%.*s%s'%s", shown, (const char *)p->t + k->start,
                 k->len > 40 ? "..." : "", k->kind == LAT_NUM && k->over ? ", beyond 32 bits" : "");
        break;
    }
    }
    return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected %s%s (got %s)", p->name, p->line,
                     k->start - p->line_start + 1, what, cons, got);
}

/* Reads the next token as an integer in lo..hi into *out. per > 0 marks a count whose items
 * take at least per tokens each: it must also be at most left / per. */
static dbx_status lat_int(lat_parser *p, int64_t lo, int64_t hi, int per, int32_t *out)
{
    lat_tok k;
    lat_next(p, &k);
    if (k.kind == LAT_NUM && !k.over && k.v >= lo && k.v <= hi && (!per || k.v <= p->left / per)) {
        *out = (int32_t)k.v;
        return DBX_OK;
    }
    return lat_expected(p, &k, lo, hi, per);
}

static dbx_status lat_nodes(lat_parser *p, int32_t n)
{
    int32_t *tag = p->tag + p->nnodes, *start = p->start + p->nstart;
    p->what = LAT_W_TAG;
    for (int32_t i = 0; i < n; i++) {
        p->node = i;
        DBX_TRY(lat_int(p, 0, INT32_MAX, 0, &tag[i]));
        if (tag[i] > p->max_tag) p->max_tag = tag[i];
    }
    int64_t arcs = 0; /* arcs of this lattice so far */
    start[0] = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t k = 0;
        p->node = i;
        p->what = LAT_W_NARCS;
        DBX_TRY(lat_int(p, 0, i ? INT32_MAX : 0, 2, &k));
        if (arcs + k > INT32_MAX) /* arc_start is int32 */
            return dbx__fail(DBX_EPARSE,
                             "%s:%zu:%zu: expected N_ARCS of node %d of lattice %d, at most %lld "
                             "for %d arcs per lattice (got %d)",
                             p->name, p->line, p->tok_start - p->line_start + 1, (int)i,
                             (int)p->lat, (long long)(INT32_MAX - arcs), INT32_MAX, (int)k);
        DBX_TRY(DBX_GROW(p->from, p->from_cap, (size_t)(p->narcs + k)));
        DBX_TRY(DBX_GROW(p->id, p->id_cap, (size_t)(p->narcs + k)));
        int32_t *from = p->from + p->narcs, *id = p->id + p->narcs;
        for (int32_t a = 0; a < k; a++) {
            p->arc = a;
            p->what = LAT_W_FROM;
            DBX_TRY(lat_int(p, 0, i - 1, 0, &from[a]));
            p->is_char = from[a] == i - 1;
            p->what = LAT_W_ID;
            DBX_TRY(lat_int(p, 0, INT32_MAX, 0, &id[a]));
            if (p->is_char) {
                p->nchar_arcs++;
                if (id[a] > p->max_char) p->max_char = id[a];
            } else if (id[a] > p->max_word) {
                p->max_word = id[a];
            }
        }
        if (k > p->max_indegree) p->max_indegree = k;
        p->narcs += k;
        arcs += k;
        start[i + 1] = (int32_t)arcs;
    }
    return DBX_OK;
}

static dbx_status lat_body(lat_parser *p)
{
    if (p->len >= 3 && memcmp(p->t, "\xEF\xBB\xBF", 3) == 0) p->pos = 3; /* UTF-8 BOM */
    p->left = lat_count_tokens(p->t, p->pos, p->len);
    p->what = LAT_W_NLAT;
    DBX_TRY(lat_int(p, 1, INT32_MAX, 3, &p->nlat)); /* >= 3 tokens per lattice */
    p->recs = malloc((size_t)p->nlat * sizeof(*p->recs));
    if (!p->recs) return dbx__fail(DBX_ENOMEM, "%s: out of memory reading lattices", p->name);
    for (int32_t j = 0; j < p->nlat; j++) {
        int32_t n = 0;
        p->lat = j;
        p->what = LAT_W_LENGTH;
        DBX_TRY(lat_int(p, 1, INT32_MAX, 2, &n)); /* >= 2 tokens per node */
        DBX_TRY(DBX_GROW(p->tag, p->tag_cap, (size_t)(p->nnodes + n)));
        DBX_TRY(DBX_GROW(p->start, p->start_cap, (size_t)(p->nstart + n + 1)));
        p->recs[j] = (lat_rec){p->nnodes, p->narcs, n};
        DBX_TRY(lat_nodes(p, n));
        p->nnodes += n;
        p->nstart += n + 1;
        if (n > p->max_n) p->max_n = n;
    }
    lat_tok k;
    lat_next(p, &k);
    p->what = LAT_W_END;
    if (k.kind != LAT_EOF) return lat_expected(p, &k, 0, 0, 0);
    return DBX_OK;
}

/* Lays the header, the lattice records and the id arrays out in one block. */
static dbx_status lat_build(const lat_parser *p, dbx_latticeset **out)
{
    size_t head = (sizeof(dbx_latticeset) + 15) & ~(size_t)15;
    size_t recs = ((size_t)p->nlat * sizeof(dbx_lattice) + 15) & ~(size_t)15;
    size_t words = (size_t)p->nnodes + (size_t)p->nstart + 2 * (size_t)p->narcs;
    if (words > (SIZE_MAX - head - recs) / sizeof(int32_t))
        return dbx__fail(DBX_ENOMEM, "%s: lattices too large", p->name);
    char *mem = malloc(head + recs + words * sizeof(int32_t));
    if (!mem) return dbx__fail(DBX_ENOMEM, "%s: out of memory building the lattices", p->name);
    dbx_latticeset *ls = (dbx_latticeset *)mem;
    int32_t *tag = (int32_t *)(mem + head + recs);
    int32_t *start = tag + p->nnodes, *from = start + p->nstart, *id = from + p->narcs;
    memcpy(tag, p->tag, (size_t)p->nnodes * sizeof(int32_t));
    memcpy(start, p->start, (size_t)p->nstart * sizeof(int32_t));
    if (p->narcs) {
        memcpy(from, p->from, (size_t)p->narcs * sizeof(int32_t));
        memcpy(id, p->id, (size_t)p->narcs * sizeof(int32_t));
    }
    *ls = (dbx_latticeset){
        .nlat = p->nlat,
        .lats = (dbx_lattice *)(mem + head),
        .nnodes = p->nnodes,
        .narcs = p->narcs,
        .nchar_arcs = p->nchar_arcs,
        .max_tag = p->max_tag,
        .max_char = p->max_char,
        .max_word = p->max_word,
        .max_indegree = p->max_indegree,
        .max_n = p->max_n,
    };
    int64_t s = 0;
    for (int32_t j = 0; j < p->nlat; j++) {
        const lat_rec *r = &p->recs[j];
        ls->lats[j] = (dbx_lattice){r->n, tag + r->node0, start + s, from + r->arc0, id + r->arc0};
        s += r->n + 1;
    }
    *out = ls;
    return DBX_OK;
}

dbx_status dbx_latticeset_parse(const char *name, const char *text, size_t len,
                                dbx_latticeset **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_latticeset_parse: out is NULL");
    *out = NULL;
    if (!name) name = "<input>";
    if (!text && len) return dbx__fail(DBX_EINVAL, "dbx_latticeset_parse: NULL text");
    lat_parser p = {0};
    p.name = name;
    p.t = (const unsigned char *)(text ? text : "");
    p.len = len;
    p.line = 1;
    p.max_tag = p.max_char = p.max_word = -1;
    dbx_status s = lat_body(&p);
    if (s == DBX_OK) s = lat_build(&p, out);
    free(p.recs);
    free(p.tag);
    free(p.start);
    free(p.from);
    free(p.id);
    return s;
}

dbx_status dbx_latticeset_read(const char *path, dbx_latticeset **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_latticeset_read: out is NULL");
    *out = NULL;
    char *text;
    size_t len;
    DBX_TRY(dbx_read_file(path, &text, &len));
    dbx_status s = dbx_latticeset_parse(path, text, len, out);
    free(text);
    return s;
}

void dbx_latticeset_free(dbx_latticeset *ls) { free(ls); }
