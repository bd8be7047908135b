/* Internal status helpers: DBX_TRY, error messages, tracing, timing.
 * The last-error message is thread-local. */
#ifndef DBX_CORE_STATUS_H
#define DBX_CORE_STATUS_H

#include <stdio.h>
#include <stdlib.h>

#include "dbx/dbx.h"

#if defined(__GNUC__)
#define DBX__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DBX__PRINTF(a, b)
#endif

/* Also included by the CUDA backend's C++ translation units. */
#ifdef __cplusplus
#define DBX__NORETURN [[noreturn]]
extern "C" {
#else
#define DBX__NORETURN _Noreturn
#endif

/* Sets the thread's last-error message (printf-style) and returns s. */
dbx_status dbx__fail(dbx_status s, const char *fmt, ...) DBX__PRINTF(2, 3);
/* Records where an error passed through (printed when DBX_TRACE=1 is set). */
void dbx__trace(dbx_status s, const char *expr, const char *file, int line);
/* Prints "dbx: fatal: file:line: msg" and aborts: programmer errors only. */
DBX__NORETURN void dbx__abort(const char *file, int line, const char *msg);

#define DBX_TRY(expr)                                                                        \
    do {                                                                                     \
        dbx_status s_ = (expr);                                                              \
        if (s_ != DBX_OK) {                                                                  \
            dbx__trace(s_, #expr, __FILE__, __LINE__);                                       \
            return s_;                                                                       \
        }                                                                                    \
    } while (0)

#define DBX_ASSERT(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) dbx__abort(__FILE__, __LINE__, "assertion failed: " #cond);             \
    } while (0)

/* Monotonic wall time in seconds. */
double dbx__now(void);

/* Grows *p (element size es) to hold at least n elements; capacity in *cap. */
dbx_status dbx__grow(void **p, size_t *cap, size_t n, size_t es);
#define DBX_GROW(p, cap, n) dbx__grow((void **)&(p), &(cap), (n), sizeof(*(p)))

#ifdef __cplusplus
}
#endif

#endif /* DBX_CORE_STATUS_H */
