/* Small helpers shared by the benchmark programs (each .c file under bench/ is one program): a
 * monotonic clock, medians, JSON strings, the source tree's root and atomic report files; the
 * seeded generator
 * is core/rng.h's dbx__splitmix64. Header-only (static). */
#ifndef DBX_BENCH_UTIL_H
#define DBX_BENCH_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The source root: two levels above this header's compile-time path (".../bench/x.h"). */
static inline void source_root(char *out, size_t cap)
{
    snprintf(out, cap, "%s", __FILE__);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(out, '/');
        if (!slash) {
            snprintf(out, cap, ".");
            return;
        }
        *slash = '\0';
    }
    if (!out[0]) snprintf(out, cap, "/");
}

/* 1 when path is a regular file. */
static inline int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* qsort comparison of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0, n) (v is left as it is); NaN when n <= 0 or out of memory. */
static inline double median(const double *v, int n)
{
    if (n <= 0) return NAN;
    double *t = malloc((size_t)n * sizeof *t);
    if (!t) return NAN;
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double m = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
    return m;
}

/* s as a JSON string literal. */
static inline void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* Writes a report to path through path.tmp.<pid> (flushed, fsync()ed) and a rename, so that
 * a report is never half-written; fn(f, arg) writes the contents. Returns 0, or 1 with a
 * message naming prog on stderr. */
static inline int write_atomic(const char *prog, const char *path,
                               void (*fn)(FILE *f, const void *arg), const void *arg)
{
    char tmp[1200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        fprintf(stderr, "%s: path too long: %s\n", prog, path);
        return 1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, tmp, strerror(errno));
        return 1;
    }
    fn(f, arg);
    int bad = ferror(f) != 0;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

#endif /* DBX_BENCH_UTIL_H */
