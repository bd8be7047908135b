/* Shared CUnit helpers (see testutil.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
