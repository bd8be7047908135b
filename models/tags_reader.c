/* Reader for tagged sentences: one sentence per line, "token|TAG" items separated by spaces
 * or tabs (the last '|' of an item splits token and tag); and for untagged sentences
 * (dbx_tagset_parse_untagged), whose items are tokens.
 *
 * One linear pass; lines may be of any length. At the end the header, the sentence records
 * and all id arrays are laid out in a single malloc'd block that dbx_tagset_free() releases.
 * The result is owned by the caller; both vocabularies are borrowed (words and tags are
 * added to them unless frozen; with a frozen tag vocabulary an unknown tag is an error).
 * Not thread-safe per vocabulary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "dbx/data.h"

typedef struct tags_pair {
    int32_t word, tag;
} tags_pair;

typedef struct tags_rec {
    int64_t start;
    int32_t n;
} tags_rec;

typedef struct tags_parser {
    const char *name, *text;
    size_t len, pos, line, line_start;
    dbx_vocab *words, *tags;  /* tags NULL: untagged input */
    int line_tagged;          /* untagged input: every item of this line is token|TAG */
    tags_pair *toks;
    size_t ntoks, toks_cap;
    tags_rec *sents;
    size_t nsents, sents_cap;
} tags_parser;

static int tags_is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }

static int tags_is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

static size_t tags_col(const tags_parser *p, size_t off) { return off - p->line_start + 1; }

/* The offset of the last '|' of the item [b, e), or e when the item is not token|TAG (no '|',
   or an empty token or tag). */
static size_t tags_bar(const char *t, size_t b, size_t e)
{
    for (size_t i = e; i > b; i--)
        if (t[i - 1] == '|') return i - 1 == b || i == e ? e : i - 1;
    return e;
}

/* Untagged input: is every item of the line starting at pos token|TAG? */
static int tags_line_tagged(const tags_parser *p, size_t pos)
{
    const unsigned char *t = (const unsigned char *)p->text;
    int items = 0;
    while (pos < p->len && t[pos] != '\n') {
        if (tags_is_space(t[pos]) || tags_is_control(t[pos])) {
            pos++;
            continue;
        }
        size_t e = pos;
        while (e < p->len && t[e] != '\n' && !tags_is_space(t[e]) && !tags_is_control(t[e])) e++;
        if (tags_bar(p->text, pos, e) == e) return 0;
        items++;
        pos = e;
    }
    return items > 0;
}

/* An item of untagged input: the token (before the last '|' on a tagged line), tag 0. */
static dbx_status tags_word(tags_parser *p, size_t b, size_t e)
{
    if (p->line_tagged) e = tags_bar(p->text, b, e);
    int32_t w = dbx_vocab_id(p->words, p->text + b, e - b);
    if (w < 0) return dbx__fail(DBX_ENOMEM, "%s: out of memory adding a word", p->name);
    DBX_TRY(DBX_GROW(p->toks, p->toks_cap, p->ntoks + 1));
    p->toks[p->ntoks++] = (tags_pair){w, 0};
    return DBX_OK;
}

static dbx_status tags_item(tags_parser *p, size_t b, size_t e)
{
    if (!p->tags) return tags_word(p, b, e);
    const char *t = p->text;
    size_t bar = e;
    for (size_t i = e; i > b; i--)
        if (t[i - 1] == '|') {
            bar = i - 1;
            break;
        }
    if (bar == e || bar == b || bar + 1 == e) {
        int shown = e - b > 40 ? 40 : (int)(e - b);
        return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected token|TAG (got '%.*s%s')", p->name,
                         p->line, tags_col(p, b), shown, t + b, e - b > 40 ? "..." : "");
    }
    int32_t g = dbx_vocab_find(p->tags, t + bar + 1, e - bar - 1);
    if (g < 0) {
        /* Unknown tag: an open vocabulary adds it; a frozen one answers <unk> (0) from
         * dbx_vocab_id, which is an error for tags. */
        g = dbx_vocab_id(p->tags, t + bar + 1, e - bar - 1);
        if (g == 0) {
            size_t tl = e - bar - 1;
            int shown = tl > 40 ? 40 : (int)tl;
            return dbx__fail(DBX_EPARSE,
                             "%s:%zu:%zu: expected a known tag (got unknown tag '%.*s%s')",
                             p->name, p->line, tags_col(p, bar + 1), shown, t + bar + 1,
                             tl > 40 ? "..." : "");
        }
    }
    int32_t w = dbx_vocab_id(p->words, t + b, bar - b);
    if (w < 0 || g < 0) return dbx__fail(DBX_ENOMEM, "%s: out of memory adding a word", p->name);
    DBX_TRY(DBX_GROW(p->toks, p->toks_cap, p->ntoks + 1));
    p->toks[p->ntoks++] = (tags_pair){w, g};
    return DBX_OK;
}

static dbx_status tags_lines(tags_parser *p)
{
    const unsigned char *t = (const unsigned char *)p->text;
    if (p->len >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0) p->pos = 3; /* UTF-8 BOM */
    size_t sent_start = p->ntoks;
    if (!p->tags) p->line_tagged = tags_line_tagged(p, p->pos);
    while (p->pos <= p->len) {
        if (p->pos == p->len || t[p->pos] == '\n') {
            size_t n = p->ntoks - sent_start;
            if (n) {
                if (n >= INT32_MAX || p->nsents >= INT32_MAX)
                    return dbx__fail(DBX_EPARSE, "%s:%zu: sentence or file too large", p->name,
                                     p->line);
                DBX_TRY(DBX_GROW(p->sents, p->sents_cap, p->nsents + 1));
                p->sents[p->nsents++] = (tags_rec){(int64_t)sent_start, (int32_t)n};
                sent_start = p->ntoks;
            }
            if (p->pos == p->len) break;
            p->pos++;
            p->line++;
            p->line_start = p->pos;
            if (!p->tags) p->line_tagged = tags_line_tagged(p, p->pos);
            continue;
        }
        unsigned char c = t[p->pos];
        if (tags_is_space(c)) {
            p->pos++;
            continue;
        }
        if (tags_is_control(c))
            return dbx__fail(DBX_EPARSE, "%s:%zu:%zu: expected printable text, got byte 0x%02x",
                             p->name, p->line, tags_col(p, p->pos), c);
        size_t b = p->pos, e = b;
        while (e < p->len && t[e] != '\n' && !tags_is_space(t[e]) && !tags_is_control(t[e])) e++;
        DBX_TRY(tags_item(p, b, e));
        p->pos = e;
    }
    if (!p->nsents)
        return dbx__fail(DBX_EPARSE, "%s: expected at least one sentence, file is empty",
                         p->name);
    return DBX_OK;
}

static dbx_status tags_build(const tags_parser *p, dbx_tagset **out)
{
    size_t head = (sizeof(dbx_tagset) + 15) & ~(size_t)15;
    size_t sents = (p->nsents * sizeof(dbx_sentence) + 15) & ~(size_t)15;
    size_t n = p->ntoks;
    if (n > (SIZE_MAX - head - sents) / (2 * sizeof(int32_t)))
        return dbx__fail(DBX_ENOMEM, "%s: tagset too large", p->name);
    char *mem = malloc(head + sents + 2 * n * sizeof(int32_t));
    if (!mem) return dbx__fail(DBX_ENOMEM, "%s: out of memory building the tagset", p->name);
    dbx_tagset *ts = (dbx_tagset *)mem;
    ts->nsent = (int32_t)p->nsents;
    ts->sents = (dbx_sentence *)(mem + head);
    ts->ntokens = (int64_t)n;
    int32_t *word = (int32_t *)(mem + head + sents), *tag = word + n;
    for (size_t i = 0; i < n; i++) {
        word[i] = p->toks[i].word;
        tag[i] = p->toks[i].tag;
    }
    for (size_t s = 0; s < p->nsents; s++) {
        size_t b = (size_t)p->sents[s].start;
        ts->sents[s] = (dbx_sentence){p->sents[s].n, word + b, tag + b};
    }
    *out = ts;
    return DBX_OK;
}

dbx_status dbx_tagset_parse(const char *name, const char *text, size_t len, dbx_vocab *words,
                            dbx_vocab *tags, dbx_tagset **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_tagset_parse: out is NULL");
    *out = NULL;
    if (!name) name = "<input>";
    if ((!text && len) || !words || !tags)
        return dbx__fail(DBX_EINVAL, "dbx_tagset_parse: NULL text or vocabulary");
    tags_parser p = {0};
    p.name = name;
    p.text = text;
    p.len = len;
    p.line = 1;
    p.words = words;
    p.tags = tags;
    dbx_status s = tags_lines(&p);
    if (s == DBX_OK) s = tags_build(&p, out);
    free(p.toks);
    free(p.sents);
    return s;
}

dbx_status dbx_tagset_parse_untagged(const char *name, const char *text, size_t len,
                                     dbx_vocab *words, dbx_tagset **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_tagset_parse_untagged: out is NULL");
    *out = NULL;
    if (!name) name = "<input>";
    if ((!text && len) || !words)
        return dbx__fail(DBX_EINVAL, "dbx_tagset_parse_untagged: NULL text or vocabulary");
    tags_parser p = {0};
    p.name = name;
    p.text = text;
    p.len = len;
    p.line = 1;
    p.words = words;
    dbx_status s = tags_lines(&p);
    if (s == DBX_OK) s = tags_build(&p, out);
    free(p.toks);
    free(p.sents);
    return s;
}

dbx_status dbx_tagset_read(const char *path, dbx_vocab *words, dbx_vocab *tags,
                           dbx_tagset **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_tagset_read: out is NULL");
    *out = NULL;
    char *text;
    size_t len;
    DBX_TRY(dbx_read_file(path, &text, &len));
    dbx_status s = dbx_tagset_parse(path, text, len, words, tags, out);
    free(text);
    return s;
}

void dbx_tagset_free(dbx_tagset *ts) { free(ts); }
