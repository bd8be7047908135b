/* Atomic text files: written to "<path>.tmp.<pid>", then flushed, fsync'd and renamed over
 * path on commit, so a crash or an error never leaves a half-written file at path. Used for
 * metrics, traces and P.vocab. One object per file; not thread-safe per object. */
#ifndef DBX_CORE_AFILE_H
#define DBX_CORE_AFILE_H

#include <stdio.h>

#include "dbx/dbx.h"

typedef struct dbx__afile {
    FILE *f;
    char *path, *tmp;
    int live;   /* the temporary file exists */
} dbx__afile;

/* Creates the temporary file; DBX_EIO "<tmp>: cannot create: <reason>". */
dbx_status dbx__afile_open(dbx__afile *a, const char *path);
/* Flushes, fsyncs, closes and renames; on failure removes the temporary file. */
dbx_status dbx__afile_commit(dbx__afile *a);
/* Closes and removes the temporary file (no-op if not open). */
void dbx__afile_abort(dbx__afile *a);
/* Writes len bytes to path atomically. */
dbx_status dbx__afile_write(const char *path, const void *data, size_t len);

#endif /* DBX_CORE_AFILE_H */
