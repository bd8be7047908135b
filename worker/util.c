/* Small helpers of the worker module (see worker/worker.h): the seeded shuffle, atomic text
 * files (temporary file, fsync, rename) and JSON-lines output. Owned by worker/; no global
 * state, so thread-safe as long as each object is used by one thread. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "core/status.h"
#include "worker/worker.h"

/* ---- shuffling --------------------------------------------------------------------------- */
void dbx__shuffle(int32_t *perm, int32_t n, uint64_t seed)
{
    uint64_t st = seed ^ 0xd1b54a32d192ed03ULL;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)dbx__splitmix64_below(&st, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---- atomic files ------------------------------------------------------------------------ */
static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

dbx_status dbx__afile_open(dbx__afile *a, const char *path)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(path) + 32;
    a->path = dup_str(path);
    a->tmp = malloc(n);
    if (!a->path || !a->tmp) {
        dbx__afile_abort(a);
        return dbx__fail(DBX_ENOMEM, "out of memory");
    }
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "w");
    if (!a->f) {
        dbx_status s = dbx__fail(DBX_EIO, "%s: cannot create: %s", a->tmp, strerror(errno));
        dbx__afile_abort(a);
        return s;
    }
    a->live = 1;
    return DBX_OK;
}

dbx_status dbx__afile_commit(dbx__afile *a)
{
    int err = ferror(a->f) != 0, e = EIO;
    if (!err && fflush(a->f) != 0) err = 1, e = errno;
    if (!err && fsync(fileno(a->f)) != 0) err = 1, e = errno;
    if (fclose(a->f) != 0 && !err) err = 1, e = errno;
    a->f = NULL;
    if (!err && rename(a->tmp, a->path) != 0) err = 1, e = errno;
    if (!err) a->live = 0;
    dbx_status s = DBX_OK;
    if (err) s = dbx__fail(DBX_EIO, "%s: cannot write: %s", a->path, strerror(e));
    dbx__afile_abort(a);
    return s;
}

void dbx__afile_abort(dbx__afile *a)
{
    if (a->f) {
        fclose(a->f);
        a->f = NULL;
    }
    if (a->live) unlink(a->tmp);
    a->live = 0;
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
}

/* ---- JSON lines -------------------------------------------------------------------------- */
static void jl_key(FILE *f, const char *key) { fprintf(f, ",\"%s\":", key); }

void dbx__jl_begin(FILE *f, const char *type) { fprintf(f, "{\"type\":\"%s\"", type); }

void dbx__jl_int(FILE *f, const char *key, int64_t v)
{
    jl_key(f, key);
    fprintf(f, "%lld", (long long)v);
}

void dbx__jl_num(FILE *f, const char *key, double v)
{
    jl_key(f, key);
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

void dbx__jl_str(FILE *f, const char *key, const char *v)
{
    jl_key(f, key);
    if (!v) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void dbx__jl_end(FILE *f) { fputs("}\n", f); }
