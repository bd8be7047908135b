/* A small JSON reader (tools/json.h): recursive descent over one text, building a tree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/json.h"

#define MAX_DEPTH 64

typedef struct rd {
    const char *p, *end, *start;
    const char *err;
} rd;

static int fail(rd *r, const char *what)
{
    if (!r->err) r->err = what;
    return -1;
}

static void skip_ws(rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int literal(rd *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail(r, "expected a JSON value");
    r->p += n;
    return 0;
}

static int hex4(rd *r, unsigned *out)
{
    if (r->end - r->p < 4) return fail(r, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *r->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return fail(r, "bad \\u escape");
    }
    *out = v;
    return 0;
}

static void put_utf8(char *b, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        b[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        b[(*n)++] = (char)(0xc0 | cp >> 6);
        b[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        b[(*n)++] = (char)(0xe0 | cp >> 12);
        b[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        b[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        b[(*n)++] = (char)(0xf0 | cp >> 18);
        b[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
        b[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        b[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* At the opening quote; the decoded string is never longer than its source. */
static int string(rd *r, char **out)
{
    r->p++;
    const char *q = r->p;
    while (q < r->end && *q != '"') q += *q == '\\' ? 2 : 1;
    if (q >= r->end) return fail(r, "unterminated string");
    char *b = malloc((size_t)(q - r->p) + 1);
    if (!b) return fail(r, "out of memory");
    size_t n = 0;
    while (*r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;
        if (c < 0x20) {
            free(b);
            return fail(r, "control character in a string");
        }
        if (c != '\\') {
            b[n++] = (char)c;
            continue;
        }
        char e = *r->p++;
        unsigned cp;
        switch (e) {
        case '"': b[n++] = '"'; break;
        case '\\': b[n++] = '\\'; break;
        case '/': b[n++] = '/'; break;
        case 'b': b[n++] = '\b'; break;
        case 'f': b[n++] = '\f'; break;
        case 'n': b[n++] = '\n'; break;
        case 'r': b[n++] = '\r'; break;
        case 't': b[n++] = '\t'; break;
        case 'u':
            if (hex4(r, &cp)) {
                free(b);
                return -1;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' &&
                r->p[1] == 'u') { /* a surrogate pair: 12 source bytes, at most 4 out */
                unsigned lo;
                r->p += 2;
                if (hex4(r, &lo)) {
                    free(b);
                    return -1;
                }
                if (lo >= 0xdc00 && lo < 0xe000)
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(b, &n, cp);
            break;
        default: free(b); return fail(r, "bad escape in a string");
        }
    }
    r->p++;
    b[n] = 0;
    *out = b;
    return 0;
}

static int number(rd *r, double *out)
{
    const char *q = r->p;
    if (q < r->end && *q == '-') q++;
    if (q >= r->end || *q < '0' || *q > '9') return fail(r, "expected a JSON value");
    while (q < r->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' ||
                          *q == '+' || *q == '-'))
        q++;
    char buf[64];
    size_t n = (size_t)(q - r->p);
    if (n >= sizeof buf) return fail(r, "number too long");
    memcpy(buf, r->p, n);
    buf[n] = 0;
    char *e;
    *out = strtod(buf, &e);
    if (*e) return fail(r, "bad number");
    r->p = q;
    return 0;
}

static int value(rd *r, js *v, int depth);

/* Appends one item (and its key) to an array or object under construction. */
static js *grow(rd *r, js *v, int *cap, char *key)
{
    if (v->n == *cap) {
        int c = *cap ? 2 * *cap : 4;
        js *it = realloc(v->items, (size_t)c * sizeof *it);
        if (!it) return fail(r, "out of memory"), NULL;
        v->items = it;
        if (v->kind == JS_OBJ) {
            char **k = realloc(v->keys, (size_t)c * sizeof *k);
            if (!k) return fail(r, "out of memory"), NULL;
            v->keys = k;
        }
        *cap = c;
    }
    if (v->kind == JS_OBJ) v->keys[v->n] = key;
    js *it = &v->items[v->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static int container(rd *r, js *v, int depth, char close)
{
    int cap = 0;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(r);
        if (close == '}') {
            if (r->p >= r->end || *r->p != '"') return fail(r, "expected a member name");
            if (string(r, &key)) return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':') {
                free(key);
                return fail(r, "expected ':'");
            }
            r->p++;
        }
        js *it = grow(r, v, &cap, key);
        if (!it) {
            free(key);
            return -1;
        }
        if (value(r, it, depth + 1)) return -1;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return fail(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int value(rd *r, js *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth > MAX_DEPTH) return fail(r, "nested too deeply");
    skip_ws(r);
    if (r->p >= r->end) return fail(r, "expected a JSON value");
    switch (*r->p) {
    case '{': v->kind = JS_OBJ; return container(r, v, depth, '}');
    case '[': v->kind = JS_ARR; return container(r, v, depth, ']');
    case '"': v->kind = JS_STR; return string(r, &v->str);
    case 't': v->kind = JS_BOOL, v->num = 1; return literal(r, "true");
    case 'f': v->kind = JS_BOOL; return literal(r, "false");
    case 'n': v->kind = JS_NULL; return literal(r, "null");
    default: v->kind = JS_NUM; return number(r, &v->num);
    }
}

int js_parse(const char *text, size_t len, js *out, const char **err, size_t *at)
{
    rd r = {.p = text, .end = text + len, .start = text, .err = NULL};
    int rc = value(&r, out, 0);
    if (!rc) {
        skip_ws(&r);
        if (r.p != r.end) rc = fail(&r, "text after the JSON value");
    }
    if (rc) {
        js_free(out);
        if (err) *err = r.err;
        if (at) *at = (size_t)(r.p - r.start);
    }
    return rc;
}

void js_free(js *v)
{
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        js_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const js *js_get(const js *o, const char *key)
{
    if (!o || o->kind != JS_OBJ) return NULL;
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return &o->items[i];
    return NULL;
}

double js_num(const js *o, const char *key, double dflt)
{
    const js *v = js_get(o, key);
    return v && v->kind == JS_NUM ? v->num : dflt;
}

const char *js_str(const js *o, const char *key)
{
    const js *v = js_get(o, key);
    return v && v->kind == JS_STR ? v->str : NULL;
}
