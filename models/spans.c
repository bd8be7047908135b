/* Entity spans (chunks) of tag sequences by the CoNLL rules (include/dbx/models.h), as
 * conlleval counts them, extended to IOBES as its common ports do:
 *  - a tag "B-X", "I-X", "E-X" or "S-X" has the role B, I, E or S and the type X (BILOU's
 *    "L-X" and "U-X" read as E and S); every other tag ("O", tags without such a prefix,
 *    "<unk>") is outside any span;
 *  - a span starts at B-X or S-X, at I-X or E-X after O, E or S, and at any tag whose type
 *    differs from the previous tag's (so I-X after O or after I-Y starts one: IOB1 and IOB2
 *    both read correctly);
 *  - a span ends before O, B or S, after E or S, and before a tag of another type;
 *  - a predicted span is correct when a gold span has the same first and last token and type.
 * Stateless; thread-safe. */
#include <string.h>

#include "dbx/models.h"

char dbx_chunk_role(const char *tag, const char **type)
{
    char role = 'O';
    const char *t = "";
    if (tag && tag[0] && tag[1] == '-' && tag[2]) {
        switch (tag[0]) {
        case 'B': role = 'B'; break;
        case 'I': role = 'I'; break;
        case 'E': case 'L': role = 'E'; break;
        case 'S': case 'U': role = 'S'; break;
        default: break;
        }
        if (role != 'O') t = tag + 2;
    }
    if (type) *type = t;
    return role;
}

/* One tag sequence's walk: the role and type of the previous tag and the open span. */
typedef struct span_walk {
    char prev;
    const char *prev_type;
    int32_t start;       /* first token of the open span */
    const char *type;    /* its type */
} span_walk;

/* Does the span open before a tag (role, type) end there? */
static int span_ends(const span_walk *w, char role, const char *type)
{
    if (w->prev == 'O') return 0;
    if (w->prev == 'E' || w->prev == 'S') return 1;
    if (role == 'B' || role == 'S' || role == 'O') return 1;
    return strcmp(w->prev_type, type) != 0;
}

/* Does a span start at a tag (role, type)? */
static int span_starts(const span_walk *w, char role, const char *type)
{
    if (role == 'O') return 0;
    if (role == 'B' || role == 'S') return 1;
    if (w->prev == 'O' || w->prev == 'E' || w->prev == 'S') return 1;
    return strcmp(w->prev_type, type) != 0;
}

void dbx_spans_add(dbx_spans *c, int32_t n, const char *const *gold, const char *const *pred)
{
    span_walk g = {'O', "", -1, ""}, p = {'O', "", -1, ""};
    for (int32_t i = 0; i <= n; i++) { /* position n: an O after the last tag */
        const char *gt = "", *pt = "";
        char gr = i < n ? dbx_chunk_role(gold[i], &gt) : 'O';
        char pr = i < n ? dbx_chunk_role(pred[i], &pt) : 'O';
        int gend = span_ends(&g, gr, gt), pend = span_ends(&p, pr, pt);
        if (gend && pend && g.start == p.start && strcmp(g.type, p.type) == 0) c->correct++;
        if (span_starts(&g, gr, gt)) {
            g.start = i;
            g.type = gt;
            c->gold++;
        }
        if (span_starts(&p, pr, pt)) {
            p.start = i;
            p.type = pt;
            c->pred++;
        }
        g.prev = gr;
        g.prev_type = gt;
        p.prev = pr;
        p.prev_type = pt;
    }
}

void dbx_spans_prf(const dbx_spans *c, double *precision, double *recall, double *f1)
{
    double p = c->pred > 0 ? (double)c->correct / (double)c->pred : 0;
    double r = c->gold > 0 ? (double)c->correct / (double)c->gold : 0;
    if (precision) *precision = p;
    if (recall) *recall = r;
    if (f1) *f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
}
