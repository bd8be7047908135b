/* Shared helpers for the CUnit suites: a runner that exits non-zero on any failure
 * (CU_basic_run_tests alone returns 0 even when assertions fail), float comparison with
 * tolerances, and paths to the source tree and to shared data. */
#ifndef DBX_TESTS_TESTUTIL_H
#define DBX_TESTS_TESTUTIL_H

#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdint.h>

#include "dbx/dbx.h"

typedef struct dbx_test_case {
    const char *name;
    void (*fn)(void);
} dbx_test_case;

/* Registers one suite with the given tests (NULL-terminated) and runs it; returns the
 * process exit code (0 when every assertion passed). */
int dbx_test_run(const char *suite, const dbx_test_case *tests);
/* The same on rank `rank` of `size` MPI ranks: rank 0 prints the CUnit report, the others
 * print their own failures prefixed "[rR/N]". Returns this rank's failure count (assertions
 * and failed tests), for the caller to sum over the ranks. */
long dbx_test_run_ranked(const char *suite, const dbx_test_case *tests, int rank, int size);

/* |a - b| <= atol + rtol * max(|a|, |b|) */
int dbx_test_close(double a, double b, double atol, double rtol);
/* Largest relative difference max_i |a_i - b_i| / max(|a_i|, |b_i|, floor). */
double dbx_test_max_rel(const float *a, const float *b, size_t n, double floor);

/* Normwise relative difference max_i |a_i - ref_i| / max_i |ref_i| (the difference itself
   when ref is all zeros). */
double dbx_test_normwise(const float *a, const float *ref, size_t n);

/* A deterministic stream of test values from *state (a 64-bit LCG): floats uniform in
   [-1, 1), integers uniform in [lo, hi], and n such floats in a new array (malloc'd; an
   allocation failure fails the test). */
float dbx_test_frand(uint64_t *state);
int dbx_test_irand(uint64_t *state, int lo, int hi);
float *dbx_test_randv(uint64_t *state, size_t n);
/* A malloc'd copy of a[0..n) (an allocation failure fails the test). */
float *dbx_test_dup(const float *a, size_t n);

/* The source tree (DBX_SOURCE_DIR, set by ctest) joined with rel; static buffer. */
const char *dbx_test_src_path(const char *rel);
/* A path for temporary files of this test: $TMPDIR/dbx-test-<pid>-<name>; static buffer. */
const char *dbx_test_tmp_path(const char *name);
/* The same path in a malloc'd copy (free it). */
char *dbx_test_tmp_dup(const char *name);
/* Asserts that a call returned want with needle in dbx_last_error(), printing both if not. */
void dbx_test_expect_error(dbx_status got, dbx_status want, const char *needle);
/* Removes saved parameters: path and path.vocab. */
void dbx_test_remove_params(const char *path);

#define DBX_TEST(fn) {#fn, fn}
#define DBX_TEST_END {NULL, NULL}

#endif /* DBX_TESTS_TESTUTIL_H */
