/* Atomic text files (core/afile.h). No global state; thread-safe per object. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/status.h"

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

dbx_status dbx__afile_write(const char *path, const void *data, size_t len)
{
    dbx__afile a;
    DBX_TRY(dbx__afile_open(&a, path));
    if (len && fwrite(data, 1, len, a.f) != len) {
        dbx_status s = dbx__fail(DBX_EIO, "%s: cannot write: %s", path, strerror(errno));
        dbx__afile_abort(&a);
        return s;
    }
    return dbx__afile_commit(&a);
}
