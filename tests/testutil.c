/* Shared CUnit helpers (see testutil.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dbx_test_run(const char *suite, const dbx_test_case *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (!s) return 2;
    for (const dbx_test_case *t = tests; t->name; t++)
        if (!CU_add_test(s, t->name, t->fn)) return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

long dbx_test_run_ranked(const char *suite, const dbx_test_case *tests, int rank, int size)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (!s) return 1;
    for (const dbx_test_case *t = tests; t->name; t++)
        if (!CU_add_test(s, t->name, t->fn)) return 1;
    CU_basic_set_mode(rank == 0 ? CU_BRM_VERBOSE : CU_BRM_SILENT);
    CU_basic_run_tests();
    long fails = (long)CU_get_number_of_failures() + (long)CU_get_number_of_tests_failed();
    if (rank != 0) /* rank 0's report lists its own failures; the others list theirs here */
        for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext)
            fprintf(stderr, "[r%d/%d] FAILED %s: %s:%u: %s\n", rank, size,
                    f->pTest ? f->pTest->pName : "?", f->strFileName ? f->strFileName : "?",
                    f->uiLineNumber, f->strCondition ? f->strCondition : "?");
    CU_cleanup_registry();
    return fails;
}

int dbx_test_close(double a, double b, double atol, double rtol)
{
    double m = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= atol + rtol * m;
}

double dbx_test_max_rel(const float *a, const float *b, size_t n, double floor)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double m = fmax(fmax(fabs(a[i]), fabs(b[i])), floor);
        double r = fabs((double)a[i] - (double)b[i]) / m;
        if (!(r <= worst)) worst = r; /* NaN propagates as worst */
    }
    return worst;
}

const char *dbx_test_src_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("DBX_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

const char *dbx_test_tmp_path(const char *name)
{
    static char buf[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/dbx-test-%ld-%s", tmp ? tmp : "/tmp", (long)getpid(), name);
    return buf;
}

double dbx_test_normwise(const float *a, const float *ref, size_t n)
{
    double maxref = 0, maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        maxref = fmax(maxref, fabs(ref[i]));
        double d = fabs((double)a[i] - (double)ref[i]);
        if (!(d <= maxdiff)) maxdiff = d;
    }
    return maxref > 0 ? maxdiff / maxref : maxdiff;
}

float dbx_test_frand(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*state >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

int dbx_test_irand(uint64_t *state, int lo, int hi)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((*state >> 33) % (uint64_t)(hi - lo + 1));
}

float *dbx_test_randv(uint64_t *state, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (size_t i = 0; i < n; i++) p[i] = dbx_test_frand(state);
    return p;
}

float *dbx_test_dup(const float *a, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    memcpy(p, a, n * sizeof *p);
    return p;
}

char *dbx_test_tmp_dup(const char *name)
{
    const char *p = dbx_test_tmp_path(name);
    char *s = malloc(strlen(p) + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    strcpy(s, p);
    return s;
}

void dbx_test_expect_error(dbx_status got, dbx_status want, const char *needle)
{
    CU_ASSERT_EQUAL(got, want);
    const char *e = dbx_last_error();
    int ok = strstr(e, needle) != NULL;
    CU_ASSERT(ok);
    if (got != want || !ok)
        printf("\n  got status %d '%s', want %d with '%s'\n", (int)got, e, (int)want, needle);
}

void dbx_test_remove_params(const char *path)
{
    size_t n = strlen(path) + 8;
    char *v = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    snprintf(v, n, "%s.vocab", path);
    unlink(path);
    unlink(v);
    free(v);
}
