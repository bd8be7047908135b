/* The NCCL all-reduce of GPU workers (comm/comm_nccl.c; label cuda). Run alone it makes a
 * 1-rank communicator (the single-process dbx__comm); under `mpirun -np W` (ctest nccl_mpi2)
 * one rank per GPU, GPU = local rank. For buffers of 1, 1000 and 1 << 20 floats in device
 * memory of the CUDA backend, rank r
 *   1. uploads (r + 1) * base[i] (base: multiples of 0.5 in [-124.5, 124.5]),
 *   2. enqueues on the backend's compute stream, without waiting: a memset0 of the upper
 *      half and a fill of the last element with (r + 1) * 4,
 *   3. all-reduces (sum) twice in a row (nothing waits in between),
 *   4. enqueues on the compute stream a fill of element 0 with 7,
 *   5. downloads.
 * Expected, exactly (small multiples of 0.5 add without rounding): W x S x base[i] below
 * the half, 0 above it, W x S x 4 at the last element, with S = 1 + 2 + ... + W (the first
 * all-reduce sums the ranks' r + 1, the second sums W equal copies; both factors are 1 for
 * one rank: the input comes back), and 7 at element 0. So the all-reduce must wait for the
 * compute stream's earlier work (else it sums the values before the memset and fill), the
 * compute stream must wait for the all-reduce (else the fill of step 4 is overwritten by the
 * sum of all ranks' 7s), and a second all-reduce must follow the first.
 * Exits 77 (skipped), printing why, when dbx was built without the CUDA backend and NCCL, or
 * when some rank has no usable GPU of its own (fewer GPUs than ranks on a host): the ranks
 * agree on that before any NCCL call. DBX_TEST_DEVICE=cpu runs the same checks on the CPU
 * backend with dbx__comm_allreduce_f32 (host memory, MPI or single process) in place of
 * NCCL: a self-check of this program on machines without GPUs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/nccl.h"
#include "kernels/backend.h"
#include "testutil.h"

/* In programs that link the CUDA object library only (comm/comm_nccl.c). */
extern dbx_status dbx__nccl_new(dbx__comm *c, void *compute_stream, dbx__nccl **out)
    __attribute__((weak));
extern dbx_status dbx__nccl_allreduce_f32(dbx__nccl *n, float *dev, size_t count)
    __attribute__((weak));
extern void dbx__nccl_free(dbx__nccl *n) __attribute__((weak));

static dbx__comm *g_comm;
static dbx_backend *g_be;
static dbx__nccl *g_nccl; /* NULL with DBX_TEST_DEVICE=cpu: dbx__comm_allreduce_f32 instead */
static int R, W;

static dbx_status allreduce(float *buf, size_t n)
{
    return g_nccl ? dbx__nccl_allreduce_f32(g_nccl, buf, n)
                  : dbx__comm_allreduce_f32(g_comm, buf, n);
}

static float base(size_t i) { return (float)((int)(i % 499) - 249) * 0.5f; }

#define OK(call)                                                                             \
    do {                                                                                     \
        dbx_status st_ = (call);                                                             \
        if (st_ != DBX_OK) {                                                                 \
            printf("\n  [r%d] %s:%d: %s: %s: %s\n", R, __FILE__, __LINE__, #call,           \
                   dbx_status_str(st_), dbx_last_error());                                   \
            CU_FAIL(#call);                                                                  \
            goto done;                                                                       \
        }                                                                                    \
    } while (0)

static void check_size(size_t n)
{
    const dbx_backend_ops *o = g_be->ops;
    const float f = (float)W * (float)W * (float)(W + 1) / 2.0f; /* W x S */
    const size_t half = n / 2;
    float *h = malloc(n * sizeof *h), *back = malloc(n * sizeof *back), *d = NULL;
    CU_ASSERT_FATAL(h && back);
    for (size_t i = 0; i < n; i++) h[i] = (float)(R + 1) * base(i);
    OK(o->alloc(g_be, n * sizeof(float), (void **)&d));
    OK(o->upload(g_be, d, h, n * sizeof(float)));
    /* compute-stream work the all-reduce must wait for */
    OK(o->memset0(g_be, d + half, (n - half) * sizeof(float)));
    const int64_t last = (int64_t)n - 1, first = 0;
    OK(o->fill(g_be, d, &last, 1, (float)(R + 1) * 4.0f));
    OK(allreduce(d, n));
    OK(allreduce(d, n));
    /* compute-stream work that must wait for the all-reduce */
    OK(o->fill(g_be, d, &first, 1, 7.0f));
    OK(o->sync(g_be));
    OK(o->download(g_be, back, d, n * sizeof(float)));
    size_t bad = 0, at = 0;
    float want_at = 0;
    for (size_t i = 0; i < n; i++) {
        float want = i < half ? f * base(i) : 0.0f;
        if (i == n - 1) want = f * 4.0f;
        if (i == 0) want = 7.0f;
        if (back[i] != want) {
            if (!bad) {
                at = i;
                want_at = want;
            }
            bad++;
        }
    }
    if (bad)
        printf("\n  [r%d] %zu floats: %zu wrong, first at [%zu]: got %.9g, want %.9g", R, n, bad,
               at, (double)back[at], (double)want_at);
    else
        printf("\n  [r%d] %zu floats: all-reduce over %d rank%s exact", R, n, W, W == 1 ? "" : "s");
    CU_ASSERT(bad == 0);
done:
    if (d) o->free(g_be, d);
    free(h);
    free(back);
}

static void test_allreduce_1(void) { check_size(1); }
static void test_allreduce_1000(void) { check_size(1000); }
static void test_allreduce_1m(void) { check_size((size_t)1 << 20); }

int main(int argc, char **argv)
{
    static const dbx_test_case tests[] = {
        DBX_TEST(test_allreduce_1),
        DBX_TEST(test_allreduce_1000),
        DBX_TEST(test_allreduce_1m),
        DBX_TEST_END,
    };
    const char *env = getenv("DBX_TEST_DEVICE");
    const int cpu = env && strcmp(env, "cpu") == 0;
    if (env && *env && !cpu && strcmp(env, "cuda") != 0) {
        fprintf(stderr, "test_nccl: DBX_TEST_DEVICE must be cpu or cuda, got '%s'\n", env);
        return 2;
    }
    if (!cpu && (!dbx__backend_has_cuda() || !dbx__nccl_new || !dbx__nccl_allreduce_f32 ||
                 !dbx__nccl_free)) {
        printf("SKIP: dbx built without the CUDA backend and NCCL\n");
        return 77;
    }
    dbx__comm_opts co = dbx__comm_opts_default(); /* single process, or MPI under mpirun */
    if (dbx__comm_init(&co, &argc, &argv, &g_comm) != DBX_OK) {
        fprintf(stderr, "test_nccl: dbx__comm_init: %s\n", dbx_last_error());
        return 1;
    }
    R = dbx__comm_rank(g_comm);
    W = dbx__comm_size(g_comm);
    const int gpu = dbx__comm_local_rank(g_comm);
    /* collective (all ranks): every rank has a GPU of its own, or all skip */
    char why[512] = "";
    int64_t have = dbx__backend_get(cpu ? "cpu" : "cuda", gpu, &g_be) == DBX_OK;
    if (!have) snprintf(why, sizeof why, "%s", dbx_last_error());
    int64_t all = have;
    if (dbx__comm_allreduce_i64(g_comm, &all, 1, DBX_COMM_MIN) != DBX_OK) {
        fprintf(stderr, "[r%d] test_nccl: cannot agree on the GPUs: %s\n", R, dbx_last_error());
        dbx__comm_free(g_comm);
        return 1;
    }
    if (!all) {
        if (!have) printf("SKIP: [r%d/%d] no usable GPU %d: %s\n", R, W, gpu, why);
        else printf("SKIP: [r%d/%d] another rank has no usable GPU\n", R, W);
        dbx__comm_free(g_comm);
        return 77;
    }
    if (cpu) {
        printf("nccl: DBX_TEST_DEVICE=cpu: rank %d of %d (%s), CPU backend, host all-reduce "
               "in place of NCCL\n", R, W,
               dbx__comm_kind_of(g_comm) == DBX_COMM_MPI ? "MPI" : "single process");
    } else {
        if (!g_be->ops->stream || !g_be->ops->stream(g_be)) {
            fprintf(stderr, "[r%d] test_nccl: the cuda backend has no compute stream\n", R);
            dbx__comm_free(g_comm);
            return 1;
        }
        /* collective (all ranks) */
        dbx_status s = dbx__nccl_new(g_comm, g_be->ops->stream(g_be), &g_nccl);
        if (s != DBX_OK) {
            fprintf(stderr, "[r%d] test_nccl: dbx__nccl_new: %s: %s\n", R, dbx_status_str(s),
                    dbx_last_error());
            dbx__comm_free(g_comm);
            return 1;
        }
        printf("nccl: rank %d of %d (%s), GPU %d\n", R, W,
               dbx__comm_kind_of(g_comm) == DBX_COMM_MPI ? "MPI" : "single process", gpu);
    }
    int rc = dbx_test_run("nccl", tests);
    /* collective (all ranks): one rank's failure fails every rank's exit status */
    int64_t fails = rc != 0;
    if (dbx__comm_allreduce_i64(g_comm, &fails, 1, DBX_COMM_SUM) != DBX_OK) fails = 1;
    if (g_nccl) dbx__nccl_free(g_nccl);
    dbx__comm_free(g_comm);
    return fails ? 1 : 0;
}
