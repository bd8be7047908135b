/* Status strings, thread-local error messages, tracing and small utilities. */
#define _POSIX_C_SOURCE 200809L
#include "core/status.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static _Thread_local char dbx__errbuf[1024];

const char *dbx_status_str(dbx_status s)
{
    switch (s) {
#define DBX__STATUS_CASE(name, str) case DBX_##name: return str;
        DBX_STATUS_MAP(DBX__STATUS_CASE)
#undef DBX__STATUS_CASE
    }
    return "unknown status";
}

const char *dbx_last_error(void) { return dbx__errbuf; }

dbx_status dbx__fail(dbx_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dbx__errbuf, sizeof dbx__errbuf, fmt, ap);
    va_end(ap);
    return s;
}

dbx_status dbx_set_error(dbx_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dbx__errbuf, sizeof dbx__errbuf, fmt, ap);
    va_end(ap);
    return s;
}

void dbx__trace(dbx_status s, const char *expr, const char *file, int line)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("DBX_TRACE");
        on = e && *e && strcmp(e, "0") != 0;
    }
    if (on) fprintf(stderr, "dbx: trace: %s:%d: %s -> %s\n", file, line, expr, dbx_status_str(s));
}

DBX__NORETURN void dbx__abort(const char *file, int line, const char *msg)
{
    fprintf(stderr, "dbx: fatal: %s:%d: %s\n", file, line, msg);
    fflush(stderr);
    abort();
}

double dbx__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

dbx_status dbx__grow(void **p, size_t *cap, size_t n, size_t es)
{
    if (n <= *cap) return DBX_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < n) nc *= 2;
    void *q = realloc(*p, nc * es);
    if (!q) return dbx__fail(DBX_ENOMEM, "out of memory growing an array to %zu elements", nc);
    *p = q;
    *cap = nc;
    return DBX_OK;
}
