/* The meta of a model (include/dbx/model_type.h): the model type's name, integer settings and
 * sizes, and named string vocabularies; saved as P.vocab beside a parameter file and
 * broadcast as the same text. Format (text, one item per line):
 *     dbx-vocab 1 model=NAME key=value key=value ...
 *     NAME N          (for each vocabulary: its name and size, then N entries; entry 0
 *     <unk>            is "<unk>")
 *     ...
 * Keys and vocabularies keep their insertion order, so the text is the same on every rank.
 * Not thread-safe per object. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/status.h"
#include "models/meta.h"

#define META_MAGIC "dbx-vocab 1"
enum { NAME_MAX_LEN = 31, MAX_ITEMS = 64 };

typedef struct meta_key {
    char name[NAME_MAX_LEN + 1];
    int64_t value;
} meta_key;

typedef struct meta_vocab {
    char name[NAME_MAX_LEN + 1];
    dbx_vocab *v;
} meta_vocab;

struct dbx_meta {
    char model[64];
    meta_key keys[MAX_ITEMS];
    int nkeys;
    meta_vocab vocabs[MAX_ITEMS];
    int nvocabs;
    int frozen;
};

dbx_status dbx_meta_new(dbx_meta **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? DBX_OK : dbx__fail(DBX_ENOMEM, "out of memory");
}

void dbx_meta_free(dbx_meta *m)
{
    if (!m) return;
    for (int i = 0; i < m->nvocabs; i++) dbx_vocab_free(m->vocabs[i].v);
    free(m);
}

/* [a-z0-9_], 1..31 characters */
static int good_name(const char *s, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static meta_key *find_key(const dbx_meta *m, const char *key)
{
    for (int i = 0; i < m->nkeys; i++)
        if (strcmp(m->keys[i].name, key) == 0) return (meta_key *)&m->keys[i];
    return NULL;
}

int64_t dbx_meta_get(const dbx_meta *m, const char *key, int64_t dflt)
{
    const meta_key *k = m && key ? find_key(m, key) : NULL;
    return k ? k->value : dflt;
}

static dbx_status put(dbx_meta *m, const char *key, int64_t value)
{
    meta_key *k = find_key(m, key);
    if (k) {
        k->value = value;
        return DBX_OK;
    }
    if (!good_name(key, strlen(key)))
        return dbx__fail(DBX_EINVAL, "meta: bad setting name '%.40s' (expected [a-z0-9_], "
                                     "1..31 characters)", key);
    if (m->nkeys == MAX_ITEMS) return dbx__fail(DBX_EINVAL, "meta: more than %d settings", MAX_ITEMS);
    k = &m->keys[m->nkeys++];
    snprintf(k->name, sizeof k->name, "%s", key);
    k->value = value;
    return DBX_OK;
}

dbx_status dbx_meta_set(dbx_meta *m, const char *key, int64_t value)
{
    if (!m || !key) return dbx__fail(DBX_EINVAL, "dbx_meta_set: NULL argument");
    return put(m, key, value);
}

dbx_status dbx_meta_raise(dbx_meta *m, const char *key, int64_t value)
{
    if (!m || !key) return dbx__fail(DBX_EINVAL, "dbx_meta_raise: NULL argument");
    if (m->frozen) return DBX_OK;
    const meta_key *k = find_key(m, key);
    if (k && k->value >= value) return DBX_OK;
    return put(m, key, value);
}

static dbx_vocab *find_vocab(const dbx_meta *m, const char *name, size_t len)
{
    for (int i = 0; i < m->nvocabs; i++)
        if (strlen(m->vocabs[i].name) == len && memcmp(m->vocabs[i].name, name, len) == 0)
            return m->vocabs[i].v;
    return NULL;
}

static dbx_vocab *add_vocab(dbx_meta *m, const char *name, size_t len)
{
    if (!good_name(name, len) || m->nvocabs == MAX_ITEMS) return NULL;
    meta_vocab *mv = &m->vocabs[m->nvocabs];
    if (dbx_vocab_new(&mv->v) != DBX_OK) return NULL;
    memcpy(mv->name, name, len);
    mv->name[len] = '\0';
    m->nvocabs++;
    return mv->v;
}

dbx_vocab *dbx_meta_vocab(dbx_meta *m, const char *name)
{
    if (!m || !name) return NULL;
    dbx_vocab *v = find_vocab(m, name, strlen(name));
    if (v || m->frozen) return v;
    return add_vocab(m, name, strlen(name));
}

void dbx_meta_freeze(dbx_meta *m)
{
    m->frozen = 1;
    for (int i = 0; i < m->nvocabs; i++) dbx_vocab_freeze(m->vocabs[i].v);
}

int dbx_meta_frozen(const dbx_meta *m) { return m->frozen; }
const char *dbx_meta_model(const dbx_meta *m) { return m->model; }

dbx_status dbx_meta_set_model(dbx_meta *m, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof m->model || strpbrk(name, " \t\r\n="))
        return dbx__fail(DBX_EINVAL, "meta: bad model name '%.40s'", name ? name : "");
    memcpy(m->model, name, n + 1);
    return DBX_OK;
}

void dbx_meta_describe(const dbx_meta *m, char *out, size_t cap)
{
    size_t at = 0;
    if (!cap) return;
    out[0] = '\0';
    for (int i = 0; i < m->nkeys && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%s %" PRId64, at ? ", " : "",
                               m->keys[i].name, m->keys[i].value);
    for (int i = 0; i < m->nvocabs && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%svocab %s %d", at ? ", " : "",
                               m->vocabs[i].name, (int)dbx_vocab_size(m->vocabs[i].v));
}

/* ---- text ---------------------------------------------------------------------------------- */
dbx_status dbx__meta_pack(const dbx_meta *m, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return dbx__fail(DBX_ENOMEM, "out of memory");
    fprintf(f, META_MAGIC " model=%s", m->model);
    for (int i = 0; i < m->nkeys; i++)
        fprintf(f, " %s=%" PRId64, m->keys[i].name, m->keys[i].value);
    fputc('\n', f);
    for (int i = 0; i < m->nvocabs; i++) {
        const dbx_vocab *v = m->vocabs[i].v;
        int32_t size = dbx_vocab_size(v);
        fprintf(f, "%s %d\n", m->vocabs[i].name, (int)size);
        for (int32_t j = 0; j < size; j++) fprintf(f, "%s\n", dbx_vocab_str(v, j));
    }
    int err = ferror(f);
    if (fclose(f) != 0 || err || !buf) {
        free(buf);
        return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    *text = buf;
    *len = n;
    return DBX_OK;
}

/* A cursor over the lines of a text buffer, for "path:line: ..." messages. */
typedef struct lines {
    const char *path;
    char *p, *end;
    int line;
} lines;

/* Next line (NUL-terminated in place, without '\n'), or NULL at the end. */
static char *next_line(lines *L, size_t *len)
{
    if (L->p >= L->end) return NULL;
    char *s = L->p, *nl = memchr(s, '\n', (size_t)(L->end - s));
    char *e = nl ? nl : L->end;
    *e = '\0';
    L->p = e + 1;
    L->line++;
    *len = (size_t)(e - s);
    return s;
}

/* "key=value" items after the magic and the model; s is modified. */
static dbx_status parse_header(lines *L, char *s, dbx_meta *m)
{
    int first = 1;
    for (char *tok = strtok(s, " \t\r"); tok; tok = strtok(NULL, " \t\r"), first = 0) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            return dbx__fail(DBX_EPARSE, "%s:1: expected key=value, found '%.40s'", L->path, tok);
        *eq = '\0';
        const char *val = eq + 1;
        if (first != (strcmp(tok, "model") == 0))
            return dbx__fail(DBX_EPARSE, "%s:1: expected model=NAME first", L->path);
        if (first) {
            if (dbx_meta_set_model(m, val))
                return dbx__fail(DBX_EPARSE, "%s:1: expected a model name", L->path);
            continue;
        }
        char *endp = NULL;
        errno = 0;
        long long v = strtoll(val, &endp, 10);
        if (!*val || *endp || errno)
            return dbx__fail(DBX_EPARSE, "%s:1: expected an integer for '%s', found '%.40s'",
                             L->path, tok, val);
        if (!good_name(tok, strlen(tok)) || find_key(m, tok))
            return dbx__fail(DBX_EPARSE, "%s:1: bad or repeated setting '%.40s'", L->path, tok);
        DBX_TRY(put(m, tok, (int64_t)v));
    }
    if (first) return dbx__fail(DBX_EPARSE, "%s:1: expected model=NAME", L->path);
    return DBX_OK;
}

/* A section: "NAME N" then N entries, entry i getting id i. */
static dbx_status parse_vocab(lines *L, char *s, dbx_meta *m)
{
    char *sp = strchr(s, ' ');
    int n = -1, used = 0;
    if (!sp || !good_name(s, (size_t)(sp - s)) || sscanf(sp, " %d%n", &n, &used) != 1 ||
        sp[used] != '\0' || n < 1)
        return dbx__fail(DBX_EPARSE, "%s:%d: expected 'NAME N' (a vocabulary and its size N >= 1)",
                         L->path, L->line);
    *sp = '\0';
    if (find_vocab(m, s, strlen(s)))
        return dbx__fail(DBX_EPARSE, "%s:%d: vocabulary '%s' appears twice", L->path, L->line, s);
    const char *what = s;
    dbx_vocab *v = add_vocab(m, s, strlen(s));
    if (!v) return dbx__fail(DBX_ENOMEM, "out of memory or too many vocabularies");
    for (int i = 0; i < n; i++) {
        size_t len;
        char *e = next_line(L, &len);
        if (!e)
            return dbx__fail(DBX_EPARSE, "%s:%d: expected %d %s, found %d (truncated?)", L->path,
                             L->line + 1, n, what, i);
        if (len == 0 || memchr(e, '\0', len))
            return dbx__fail(DBX_EPARSE, "%s:%d: expected a non-empty entry", L->path, L->line);
        int32_t id = dbx_vocab_id(v, e, len);
        if (id < 0) return dbx__fail(DBX_ENOMEM, "out of memory");
        if (id != i)
            return dbx__fail(DBX_EPARSE, "%s:%d: expected entry %d, found duplicate '%.40s'",
                             L->path, L->line, i, e);
    }
    return DBX_OK;
}

dbx_status dbx__meta_unpack(const char *path, char *text, size_t len, dbx_meta **out)
{
    *out = NULL;
    dbx_meta *m;
    DBX_TRY(dbx_meta_new(&m));
    lines L = {path, text, text + len, 0};
    size_t n;
    char *s = next_line(&L, &n);
    dbx_status st = DBX_OK;
    if (!s || strncmp(s, META_MAGIC " ", sizeof META_MAGIC) != 0)
        st = dbx__fail(DBX_EPARSE, "%s:1: expected a '" META_MAGIC "' header", path);
    if (!st) st = parse_header(&L, s + sizeof META_MAGIC, m);
    while (!st && (s = next_line(&L, &n)) != NULL) {
        if (n == 0) continue;
        st = parse_vocab(&L, s, m);
    }
    if (st) {
        dbx_meta_free(m);
        return st;
    }
    dbx_meta_freeze(m);
    *out = m;
    return DBX_OK;
}

dbx_status dbx_meta_save(const dbx_meta *m, const char *path)
{
    char *text;
    size_t len;
    DBX_TRY(dbx__meta_pack(m, &text, &len));
    dbx_status s = dbx__afile_write(path, text, len);
    free(text);
    return s;
}

dbx_status dbx_meta_load(const char *path, dbx_meta **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    DBX_TRY(dbx_read_file(path, &text, &len));
    dbx_status s = dbx__meta_unpack(path, text, len, out);
    free(text);
    return s;
}
