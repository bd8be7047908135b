/* String vocabulary (string -> dense int32 id, id 0 = "<unk>") and dbx_read_file.
 *
 * A vocabulary owns copies of its strings in an arena of blocks that never move, so the
 * pointers from dbx_vocab_str() stay valid until dbx_vocab_free(). Lookup is an
 * open-addressing hash table (linear probing, power-of-two capacity, load <= 1/2).
 * Not thread-safe: a vocabulary must not be used from two threads at once (concurrent
 * dbx_vocab_find/str on a vocabulary nobody modifies is fine).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "dbx/data.h"

#define VOCAB_BLOCK 65536 /* arena block size; longer strings get a block of their own */

typedef struct vocab_block {
    struct vocab_block *next;
    size_t used, cap;
    char data[];
} vocab_block;

typedef struct vocab_entry {
    const char *s;  /* NUL-terminated copy in the arena */
    size_t len;
    uint64_t hash;
} vocab_entry;

struct dbx_vocab {
    vocab_entry *ents;  /* (n) by id */
    size_t n, ents_cap;
    int32_t *slots;     /* (nslots) id + 1, or 0 when empty */
    size_t nslots;
    vocab_block *blocks; /* newest first */
    int frozen;
};

static uint64_t vocab_hash(const char *s, size_t len)
{
    /* FNV-1a over the bytes, then a murmur-style finaliser for the low bits. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static const char *vocab_store(dbx_vocab *v, const char *s, size_t len)
{
    vocab_block *b = v->blocks;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > VOCAB_BLOCK ? len + 1 : VOCAB_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (!b) return NULL;
        b->used = 0;
        b->cap = cap;
        /* A string-sized block goes behind the current one so the current block keeps
         * filling up. */
        if (cap > VOCAB_BLOCK && v->blocks) {
            b->next = v->blocks->next;
            v->blocks->next = b;
        } else {
            b->next = v->blocks;
            v->blocks = b;
        }
    }
    char *p = b->data + b->used;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    b->used += len + 1;
    return p;
}

static dbx_status vocab_rehash(dbx_vocab *v, size_t nslots)
{
    int32_t *slots = calloc(nslots, sizeof(*slots));
    if (!slots) return dbx__fail(DBX_ENOMEM, "out of memory growing a vocabulary");
    for (size_t id = 0; id < v->n; id++) {
        size_t i = (size_t)v->ents[id].hash & (nslots - 1);
        while (slots[i]) i = (i + 1) & (nslots - 1);
        slots[i] = (int32_t)id + 1;
    }
    free(v->slots);
    v->slots = slots;
    v->nslots = nslots;
    return DBX_OK;
}

/* Slot of s, or the empty slot where it would go. */
static size_t vocab_probe(const dbx_vocab *v, const char *s, size_t len, uint64_t h)
{
    size_t mask = v->nslots - 1, i = (size_t)h & mask;
    for (;;) {
        int32_t id1 = v->slots[i];
        if (!id1) return i;
        const vocab_entry *e = &v->ents[id1 - 1];
        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->s, s, len) == 0)) return i;
        i = (i + 1) & mask;
    }
}

static int32_t vocab_add(dbx_vocab *v, const char *s, size_t len, uint64_t h)
{
    if (v->n >= INT32_MAX - 1) return -1;
    if (2 * (v->n + 1) > v->nslots && vocab_rehash(v, v->nslots * 2) != DBX_OK) return -1;
    if (DBX_GROW(v->ents, v->ents_cap, v->n + 1) != DBX_OK) return -1;
    const char *copy = vocab_store(v, s, len);
    if (!copy) {
        dbx__fail(DBX_ENOMEM, "out of memory adding a vocabulary string");
        return -1;
    }
    int32_t id = (int32_t)v->n;
    v->ents[id] = (vocab_entry){copy, len, h};
    v->n++;
    v->slots[vocab_probe(v, s, len, h)] = id + 1;
    return id;
}

dbx_status dbx_vocab_new(dbx_vocab **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx_vocab_new: out is NULL");
    *out = NULL;
    dbx_vocab *v = calloc(1, sizeof(*v));
    if (!v) return dbx__fail(DBX_ENOMEM, "out of memory allocating a vocabulary");
    if (vocab_rehash(v, 64) != DBX_OK || vocab_add(v, "<unk>", 5, vocab_hash("<unk>", 5)) != 0) {
        dbx_vocab_free(v);
        return dbx__fail(DBX_ENOMEM, "out of memory allocating a vocabulary");
    }
    *out = v;
    return DBX_OK;
}

void dbx_vocab_free(dbx_vocab *v)
{
    if (!v) return;
    vocab_block *b = v->blocks;
    while (b) {
        vocab_block *next = b->next;
        free(b);
        b = next;
    }
    free(v->ents);
    free(v->slots);
    free(v);
}

int32_t dbx_vocab_id(dbx_vocab *v, const char *s, size_t len)
{
    if (!v || (!s && len)) return -1;
    uint64_t h = vocab_hash(s, len);
    int32_t id1 = v->slots[vocab_probe(v, s, len, h)];
    if (id1) return id1 - 1;
    if (v->frozen) return 0;
    return vocab_add(v, s, len, h);
}

int32_t dbx_vocab_find(const dbx_vocab *v, const char *s, size_t len)
{
    if (!v || (!s && len)) return -1;
    return v->slots[vocab_probe(v, s, len, vocab_hash(s, len))] - 1;
}

void dbx_vocab_freeze(dbx_vocab *v)
{
    if (v) v->frozen = 1;
}

int32_t dbx_vocab_size(const dbx_vocab *v) { return v ? (int32_t)v->n : 0; }

/* NULL for an id out of range. The string stays valid until dbx_vocab_free(). */
const char *dbx_vocab_str(const dbx_vocab *v, int32_t id)
{
    if (!v || id < 0 || (size_t)id >= v->n) return NULL;
    return v->ents[id].s;
}

/* ---- whole files ----------------------------------------------------------------------- */

dbx_status dbx_read_file(const char *path, char **text, size_t *len)
{
    if (!path || !text || !len) return dbx__fail(DBX_EINVAL, "dbx_read_file: NULL argument");
    *text = NULL;
    *len = 0;
    int is_stdin = strcmp(path, "-") == 0; /* "-": standard input, read once */
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return dbx__fail(DBX_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* Size hint from fstat for regular files; read in growing chunks in any case, which
     * also works for pipes and /proc files. */
    struct stat st;
    int e = fstat(fileno(f), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        if (!is_stdin) fclose(f);
        return dbx__fail(DBX_EIO, "%s: cannot read: %s", path, strerror(e));
    }
    size_t cap = 4096, n = 0;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX - 2)
        cap = (size_t)st.st_size + 2; /* + 2: room for the NUL and the EOF probe */
    char *buf = malloc(cap);
    if (!buf) {
        if (!is_stdin) fclose(f);
        return dbx__fail(DBX_ENOMEM, "%s: out of memory reading the file", path);
    }
    for (;;) {
        if (cap - n < 2) {
            size_t nc = cap * 2;
            char *q = realloc(buf, nc);
            if (!q) {
                free(buf);
                if (!is_stdin) fclose(f);
                return dbx__fail(DBX_ENOMEM, "%s: out of memory reading the file", path);
            }
            buf = q;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        e = errno;
        free(buf);
        if (!is_stdin) fclose(f);
        return dbx__fail(DBX_EIO, "%s: cannot read: %s", path, strerror(e ? e : EIO));
    }
    if (!is_stdin) fclose(f);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return DBX_OK;
}
