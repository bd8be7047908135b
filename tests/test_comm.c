/* comm/: collectives with real MPI ranks (run under mpirun -np 1, 2, 3) and in a single
 * process (plain run, or --single): rank/size sanity, bucketed f32 all-reduce around bucket
 * boundaries against closed forms, f64/i64 SUM/MAX/MIN, all-gather(v), broadcast, the
 * nonblocking scatter (0-byte parts, root busy between start and wait, several in a row,
 * too-small receive buffers), argument refusals, binding descriptions, the assignment of
 * GPUs to local ranks by locality, and the GPU choice degrading to "locality unknown" for PCI
 * devices that hwloc does not see.
 *
 * Every rank runs the same tests in the same order (all asserts are non-fatal, so that no
 * rank skips a collective); the failure counts are summed over the ranks at the end and
 * every rank exits non-zero when any rank failed. Rank 0 prints the CUnit report; other
 * ranks print their own failures, prefixed with their rank.
 *
 * Modes for tests/test_comm_watchdog.sh: --watchdog-test (rank 1 stalls; the watchdog of
 * rank 0 must abort the job) and --abort-test (rank 1 calls dbx__comm_abort); and with
 * DBX_COMM_TEST_FAIL_RANK=k, rank k fails one assertion on purpose, so that the script can
 * check that every rank then exits non-zero. */
#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm.h"
#include "core/status.h"
#include "testutil.h"

#define BUCKET_BYTES 64 /* 16 floats: small, so that tests cross bucket boundaries */

static dbx__comm *g_comm;
static int g_single; /* --single: want_mpi = 0 */
static int R, N;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- basics -------------------------------------------------------------------------- */
static void test_ranks(void)
{
    dbx__comm *c = g_comm;
    CU_ASSERT(N >= 1);
    CU_ASSERT(R >= 0 && R < N);
    int lr = dbx__comm_local_rank(c), ls = dbx__comm_local_size(c);
    CU_ASSERT(ls >= 1 && ls <= N);
    CU_ASSERT(lr >= 0 && lr < ls);
    CU_ASSERT(dbx__comm_host(c) && strlen(dbx__comm_host(c)) > 0);
    const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
    if (ws && !g_single) {
        CU_ASSERT(dbx__comm_kind_of(c) == DBX_COMM_MPI);
        CU_ASSERT(N == atoi(ws));
        const char *wr = getenv("OMPI_COMM_WORLD_RANK");
        if (wr) CU_ASSERT(R == atoi(wr));
        const char *lsz = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        if (lsz) CU_ASSERT(ls == atoi(lsz));
    }
    if (dbx__comm_kind_of(c) == DBX_COMM_SINGLE) CU_ASSERT(N == 1 && R == 0 && ls == 1);
    /* every rank sees every rank exactly once */
    int *all = calloc((size_t)N, sizeof *all);
    CU_ASSERT(dbx__comm_allgather(c, &R, sizeof R, all) == DBX_OK);
    for (int r = 0; r < N; r++) CU_ASSERT(all[r] == r);
    free(all);
    /* accessors accept NULL */
    CU_ASSERT(dbx__comm_rank(NULL) == 0 && dbx__comm_size(NULL) == 1);
    CU_ASSERT(dbx__comm_barrier(NULL) == DBX_EINVAL);
    dbx__comm_free(NULL);
}

static void test_opts_default(void)
{
    dbx__comm_opts o = dbx__comm_opts_default();
    CU_ASSERT(o.want_mpi == -1);
    CU_ASSERT(o.bucket_bytes == (size_t)4 << 20);
    CU_ASSERT(o.timeout_s == 60.0);
    dbx__comm_opts bad = o;
    bad.want_mpi = 7;
    dbx__comm *x = NULL;
    CU_ASSERT(dbx__comm_init(&bad, NULL, NULL, &x) == DBX_EINVAL);
    CU_ASSERT(x == NULL);
}

/* ---- all-reduce ------------------------------------------------------------------------ */
static float f32_value(int rank, size_t i) { return (float)((rank + 1) * (int)(i % 13 + 1)); }

/* buf[i] = (R+1)*(i%13+1) on every rank: the sum is N(N+1)/2 * (i%13+1), exact in floats. */
static int allreduce_f32_exact(dbx__comm *c, size_t n)
{
    float *buf = malloc((n ? n : 1) * sizeof *buf);
    for (size_t i = 0; i < n; i++) buf[i] = f32_value(R, i);
    dbx_status s = dbx__comm_allreduce_f32(c, buf, n);
    CU_ASSERT(s == DBX_OK);
    if (s != DBX_OK) fprintf(stderr, "[r%d] allreduce_f32: %s\n", R, dbx_last_error());
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] != (float)(N * (N + 1) / 2 * (int)(i % 13 + 1))) bad++;
    CU_ASSERT(bad == 0);
    if (bad) fprintf(stderr, "[r%d] allreduce_f32 n=%zu: %zu wrong values\n", R, n, bad);
    double secs = -1;
    size_t bytes = 1;
    dbx__comm_last_allreduce(c, &secs, &bytes);
    CU_ASSERT(secs >= 0);
    CU_ASSERT(bytes == n * sizeof(float));
    free(buf);
    return bad == 0;
}

static void test_allreduce_f32_buckets(void)
{
    const size_t b = BUCKET_BYTES / sizeof(float);
    const size_t sizes[] = {0, 1, b - 1, b, b + 1, 3 * b + 7, 1000, 4099};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        allreduce_f32_exact(g_comm, sizes[k]);
    CU_ASSERT(dbx__comm_allreduce_f32(g_comm, NULL, 3) == DBX_EINVAL);
}

/* A second object while MPI is already up (it must neither initialise nor finalise MPI):
 * one unbucketed call, then the default 4 MiB buckets over 5 MiB. */
static void test_allreduce_f32_other_buckets(void)
{
    dbx__comm_opts o = dbx__comm_opts_default();
    o.want_mpi = g_single ? 0 : -1;
    o.bucket_bytes = 0;
    o.timeout_s = 0;
    dbx__comm *c2 = NULL;
    CU_ASSERT_FATAL(dbx__comm_init(&o, NULL, NULL, &c2) == DBX_OK);
    CU_ASSERT(dbx__comm_kind_of(c2) == dbx__comm_kind_of(g_comm));
    CU_ASSERT(dbx__comm_size(c2) == N && dbx__comm_rank(c2) == R);
    allreduce_f32_exact(c2, 100003);
    dbx__comm_free(c2);

    o.bucket_bytes = dbx__comm_opts_default().bucket_bytes;
    CU_ASSERT_FATAL(dbx__comm_init(&o, NULL, NULL, &c2) == DBX_OK);
    allreduce_f32_exact(c2, (5u << 20) / sizeof(float) + 3);
    dbx__comm_free(c2);
    /* the first object still works */
    allreduce_f32_exact(g_comm, 33);
}

static void test_allreduce_f64_i64(void)
{
    dbx__comm *c = g_comm;
    double n = N, tri = N * (N - 1) / 2.0, sq = (N - 1) * N * (2.0 * N - 1) / 6.0;
    const dbx__comm_op ops[] = {DBX_COMM_SUM, DBX_COMM_MAX, DBX_COMM_MIN};
    const double want_d[3][3] = {{tri + 0.5 * n, -tri, sq},
                                 {N - 1 + 0.5, 0, (double)(N - 1) * (N - 1)},
                                 {0.5, -(double)(N - 1), 0}};
    int64_t big = (int64_t)1 << 40, t = (int64_t)N * (N - 1) / 2;
    const int64_t want_i[3][3] = {{big * t, -t, 7 * (int64_t)N},
                                  {big * (N - 1), 0, 7},
                                  {0, -(int64_t)(N - 1), 7}};
    for (int k = 0; k < 3; k++) {
        double d[3] = {R + 0.5, -(double)R, (double)R * R};
        CU_ASSERT(dbx__comm_allreduce_f64(c, d, 3, ops[k]) == DBX_OK);
        for (int j = 0; j < 3; j++) CU_ASSERT(d[j] == want_d[k][j]);
        int64_t v[3] = {big * R, -(int64_t)R, 7};
        CU_ASSERT(dbx__comm_allreduce_i64(c, v, 3, ops[k]) == DBX_OK);
        for (int j = 0; j < 3; j++) CU_ASSERT(v[j] == want_i[k][j]);
    }
    CU_ASSERT(dbx__comm_allreduce_f64(c, NULL, 0, DBX_COMM_SUM) == DBX_OK);
    CU_ASSERT(dbx__comm_allreduce_i64(c, NULL, 0, DBX_COMM_MAX) == DBX_OK);
    int64_t one = 1;
    CU_ASSERT(dbx__comm_allreduce_i64(c, &one, 1, (dbx__comm_op)9) == DBX_EINVAL);
}

/* ---- all-gather, broadcast, barrier ----------------------------------------------------- */
static void test_allgather(void)
{
    dbx__comm *c = g_comm;
    unsigned char mine[5], *all = malloc(5 * (size_t)N);
    for (int j = 0; j < 5; j++) mine[j] = (unsigned char)(R * 10 + j);
    CU_ASSERT(dbx__comm_allgather(c, mine, 5, all) == DBX_OK);
    int bad = 0;
    for (int r = 0; r < N; r++)
        for (int j = 0; j < 5; j++) bad += all[5 * r + j] != (unsigned char)(r * 10 + j);
    CU_ASSERT(bad == 0);
    CU_ASSERT(dbx__comm_allgather(c, NULL, 0, NULL) == DBX_OK);
    CU_ASSERT(dbx__comm_allgather(c, mine, (size_t)INT_MAX + 1, all) == DBX_EINVAL);
    free(all);
}

/* Rank r sends 3r bytes (rank 0: none), placed in reverse rank order with one-byte gaps
 * that must stay untouched. */
static void test_allgatherv(void)
{
    dbx__comm *c = g_comm;
    size_t *counts = calloc((size_t)N, sizeof *counts), *displs = calloc((size_t)N, sizeof *displs);
    size_t off = 0;
    for (int r = N - 1; r >= 0; r--) {
        counts[r] = 3 * (size_t)r;
        displs[r] = off;
        off += counts[r] + 1;
    }
    unsigned char *recv = malloc(off + 1), mine[64];
    memset(recv, 0xEE, off + 1);
    for (size_t j = 0; j < counts[R]; j++) mine[j] = (unsigned char)(R * 16 + (int)j);
    CU_ASSERT(dbx__comm_allgatherv(c, mine, counts[R], recv, counts, displs) == DBX_OK);
    int bad = 0;
    for (int r = 0; r < N; r++) {
        for (size_t j = 0; j < counts[r]; j++)
            bad += recv[displs[r] + j] != (unsigned char)(r * 16 + (int)j);
        bad += recv[displs[r] + counts[r]] != 0xEE; /* the gap after rank r's part */
    }
    CU_ASSERT(bad == 0);
    /* refusals (the same on every rank: no collective is issued) */
    CU_ASSERT(dbx__comm_allgatherv(c, mine, counts[R] + 1, recv, counts, displs) == DBX_EINVAL);
    CU_ASSERT(strstr(dbx_last_error(), "counts[") != NULL);
    size_t saved = counts[0];
    counts[0] = (size_t)INT_MAX + 1;
    CU_ASSERT(dbx__comm_allgatherv(c, mine, counts[R], recv, counts, displs) == DBX_EINVAL);
    counts[0] = saved;
    CU_ASSERT(dbx__comm_allgatherv(c, mine, counts[R], recv, NULL, displs) == DBX_EINVAL);
    free(recv);
    free(counts);
    free(displs);
}

static void test_bcast_barrier(void)
{
    dbx__comm *c = g_comm;
    unsigned char buf[100];
    int root = N - 1;
    for (int i = 0; i < 100; i++) buf[i] = R == root ? (unsigned char)(i * 3 + 1) : 0;
    CU_ASSERT(dbx__comm_bcast(c, buf, sizeof buf, root) == DBX_OK);
    int bad = 0;
    for (int i = 0; i < 100; i++) bad += buf[i] != (unsigned char)(i * 3 + 1);
    CU_ASSERT(bad == 0);
    CU_ASSERT(dbx__comm_bcast(c, NULL, 0, 0) == DBX_OK);
    CU_ASSERT(dbx__comm_bcast(c, buf, 1, N) == DBX_EINVAL);
    CU_ASSERT(dbx__comm_bcast(c, buf, 1, -1) == DBX_EINVAL);
    CU_ASSERT(dbx__comm_barrier(c) == DBX_OK);
    CU_ASSERT(dbx__comm_barrier(c) == DBX_OK);
}

/* ---- scatter --------------------------------------------------------------------------- */
/* Rank r's part in scatter number it: rank 1 always empty, every part empty in round 2,
 * big parts (rendezvous protocol) in round 3. */
static size_t part_size(int it, int r)
{
    if (r == 1 || it == 2) return 0;
    if (it == 3) return 300000 + (size_t)r;
    return 50 * (size_t)r + 7 * (size_t)it + 1;
}

static unsigned char part_byte(int it, int r, size_t j)
{
    return (unsigned char)(it * 31 + r * 7 + (int)(j % 251));
}

static void test_scatter_rounds(void)
{
    dbx__comm *c = g_comm;
    const int rounds = 6;
    size_t *counts = calloc((size_t)N, sizeof *counts), *displs = calloc((size_t)N, sizeof *displs);
    for (int it = 0; it < rounds; it++) {
        int root = it % N;
        size_t total = 0;
        for (int r = 0; r < N; r++) {
            counts[r] = part_size(it, r);
            displs[r] = total;
            total += counts[r];
        }
        unsigned char *send = NULL;
        if (R == root) {
            send = malloc(total + 1);
            for (int r = 0; r < N; r++)
                for (size_t j = 0; j < counts[r]; j++)
                    send[displs[r] + j] = part_byte(it, r, j);
        }
        size_t cap = part_size(it, R) + 16;
        unsigned char *recv = calloc(cap, 1);
        /* round 1: the others arrive late; the root's start must not wait for them */
        if (it == 1 && R != root) sleep_ms(3000); /* late receivers: the root must not wait */
        double t0 = dbx__now();
        dbx_status s = dbx__comm_scatter_start(c, send, R == root ? counts : NULL,
                                              R == root ? displs : NULL, recv, cap, root);
        double dt = dbx__now() - t0;
        CU_ASSERT(s == DBX_OK);
        if (it == 1 && R == root && N > 1) CU_ASSERT(dt < 2.0); /* wide margin: no timing test */
        if (R == root) { /* the root plans the next step meanwhile */
            volatile double x = 0;
            for (int k = 0; k < 2000000; k++) x += k * 1e-9;
            sleep_ms(20);
        }
        size_t got = 12345;
        CU_ASSERT(dbx__comm_scatter_wait(c, &got) == DBX_OK);
        CU_ASSERT(got == part_size(it, R));
        size_t bad = 0;
        for (size_t j = 0; j < got && j < cap; j++) bad += recv[j] != part_byte(it, R, j);
        CU_ASSERT(bad == 0);
        if (bad || got != part_size(it, R))
            fprintf(stderr, "[r%d] scatter round %d: got %zu bytes (want %zu), %zu wrong\n", R,
                    it, got, part_size(it, R), bad);
        free(send);
        free(recv);
    }
    free(counts);
    free(displs);
}

/* The last rank's buffer is too small: its wait says DBX_EINVAL (with the real size), the
 * others are unaffected, and the next scatter works for everybody. */
static void test_scatter_small_cap(void)
{
    dbx__comm *c = g_comm;
    int victim = N - 1;
    const size_t sizes[] = {100, 200000};
    size_t *counts = calloc((size_t)N, sizeof *counts), *displs = calloc((size_t)N, sizeof *displs);
    for (int k = 0; k < 3; k++) {
        size_t part = k < 2 ? sizes[k] : 64;
        for (int r = 0; r < N; r++) {
            counts[r] = part;
            displs[r] = (size_t)r * part;
        }
        unsigned char *send = calloc((size_t)N * part, 1), *recv = calloc(part, 1);
        for (size_t j = 0; j < (size_t)N * part; j++) send[j] = (unsigned char)(j * 5 + 3);
        size_t cap = (R == victim && k < 2) ? 10 : part;
        CU_ASSERT(dbx__comm_scatter_start(c, send, counts, displs, recv, cap, 0) == DBX_OK);
        size_t got = 0;
        dbx_status s = dbx__comm_scatter_wait(c, &got);
        if (R == victim && k < 2) {
            CU_ASSERT(s == DBX_EINVAL);
            CU_ASSERT(strstr(dbx_last_error(), "recv_cap") != NULL);
            CU_ASSERT(got == part);
        } else {
            CU_ASSERT(s == DBX_OK);
            CU_ASSERT(got == part);
            int bad = 0;
            for (size_t j = 0; j < part; j++)
                bad += recv[j] != (unsigned char)((R * part + j) * 5 + 3);
            CU_ASSERT(bad == 0);
        }
        free(send);
        free(recv);
    }
    free(counts);
    free(displs);
}

static void test_scatter_misuse(void)
{
    dbx__comm *c = g_comm;
    size_t got;
    CU_ASSERT(dbx__comm_scatter_wait(c, &got) == DBX_EINVAL);
    CU_ASSERT(dbx__comm_scatter_start(c, NULL, NULL, NULL, NULL, 0, N) == DBX_EINVAL);
    size_t *counts = calloc((size_t)N, sizeof *counts), *displs = calloc((size_t)N, sizeof *displs);
    counts[0] = (size_t)INT_MAX + 1;
    if (R == 0)
        CU_ASSERT(dbx__comm_scatter_start(c, "x", counts, displs, NULL, 0, 0) == DBX_EINVAL);
    counts[0] = 0;
    /* all-empty scatter; a second start before the wait is refused */
    CU_ASSERT(dbx__comm_scatter_start(c, NULL, counts, displs, NULL, 0, 0) == DBX_OK);
    CU_ASSERT(dbx__comm_scatter_start(c, NULL, counts, displs, NULL, 0, 0) == DBX_EINVAL);
    got = 99;
    CU_ASSERT(dbx__comm_scatter_wait(c, &got) == DBX_OK);
    CU_ASSERT(got == 0);
    CU_ASSERT(dbx__comm_scatter_wait(c, NULL) == DBX_EINVAL);
    free(counts);
    free(displs);
}

/* ---- topology --------------------------------------------------------------------------- */
static void test_bind(void)
{
    dbx__bind b = DBX_BIND_CORE;
    CU_ASSERT(dbx__bind_parse("none", &b) == DBX_OK && b == DBX_BIND_NONE);
    CU_ASSERT(dbx__bind_parse("core", &b) == DBX_OK && b == DBX_BIND_CORE);
    CU_ASSERT(dbx__bind_parse("numa", &b) == DBX_OK && b == DBX_BIND_NUMA);
    CU_ASSERT(dbx__bind_parse("socket", &b) == DBX_EINVAL);
    CU_ASSERT(strstr(dbx_last_error(), "socket") != NULL);
    CU_ASSERT(dbx__bind_parse(NULL, &b) == DBX_EINVAL);
    CU_ASSERT(strcmp(dbx__bind_name(DBX_BIND_NUMA), "numa") == 0);

    char desc[512];
    CU_ASSERT(dbx__topo_bind(g_comm, DBX_BIND_NONE, desc, sizeof desc) == DBX_OK);
    CU_ASSERT(strstr(desc, dbx__comm_host(g_comm)) == desc);
    CU_ASSERT(strstr(desc, "core") != NULL && strstr(desc, "PU") != NULL);
    CU_ASSERT(strstr(desc, "local rank") != NULL && strstr(desc, "cpuset 0x") != NULL);
    if (R == 0) printf("\n    %s\n", desc);
    CU_ASSERT(dbx__topo_bind(g_comm, DBX_BIND_CORE, desc, sizeof desc) == DBX_OK);
    CU_ASSERT(strstr(desc, "bound to") != NULL);
    if (R == 0) printf("    %s\n", desc);
    CU_ASSERT(dbx__topo_bind(g_comm, DBX_BIND_NUMA, desc, sizeof desc) == DBX_OK);
    CU_ASSERT(strstr(desc, "NUMA node") != NULL);
    if (R == 0) printf("    %s\n", desc);
    CU_ASSERT(dbx__topo_bind(NULL, DBX_BIND_NONE, NULL, 0) == DBX_OK);
    CU_ASSERT(dbx__topo_bind(g_comm, (dbx__bind)7, desc, sizeof desc) == DBX_EINVAL);
    /* a tiny buffer is truncated, not overrun */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    CU_ASSERT(dbx__topo_bind(g_comm, DBX_BIND_NONE, tiny, 4) == DBX_OK);
    CU_ASSERT(strlen(tiny) == 3 && tiny[4] == 'x');
    dbx__comm_set_context(g_comm, "bind test %d", 1);
    dbx__comm_set_context(g_comm, NULL);
}

/* ---- GPU choice ------------------------------------------------------------------------- */
/* Ranks on each GPU of an assignment; returns the largest. */
static int loads(const int *assign, int nlocal, int ngpu, int *load)
{
    int most = 0;
    memset(load, 0, (size_t)ngpu * sizeof *load);
    for (int i = 0; i < nlocal; i++) {
        CU_ASSERT_FATAL(assign[i] >= 0 && assign[i] < ngpu);
        if (++load[assign[i]] > most) most = load[assign[i]];
    }
    return most;
}

static void test_gpu_assign_unknown(void)
{
    /* no locality known and no more ranks than GPUs: GPU = local rank */
    for (int ngpu = 1; ngpu <= 8; ngpu++)
        for (int n = 1; n <= ngpu; n++) {
            uint64_t near[8] = {0};
            int a[8], b[8];
            memset(a, 0xff, sizeof a);
            CU_ASSERT(dbx__gpu_assign(n, near, ngpu, a) == 1);
            CU_ASSERT(dbx__gpu_assign(n, NULL, ngpu, b) == 1);
            for (int i = 0; i < n; i++) CU_ASSERT(a[i] == i && b[i] == i);
        }
    /* no GPU: everyone gets 0, nobody shares */
    int a[3] = {7, 7, 7};
    CU_ASSERT(dbx__gpu_assign(3, NULL, 0, a) == 0);
    CU_ASSERT(a[0] == 0 && a[1] == 0 && a[2] == 0);
    CU_ASSERT(dbx__gpu_assign(0, NULL, 4, a) == 0);
}

static void test_gpu_assign_numa(void)
{
    /* GPUs 0, 1 on NUMA node A, 2, 3 on B: each rank gets a distinct GPU of its own node */
    const uint64_t A = 0x3, B = 0xc;
    uint64_t blocked[4] = {A, A, B, B}, inter[4] = {A, B, A, B}, rev[4] = {B, B, A, A};
    int a[4];
    CU_ASSERT(dbx__gpu_assign(4, blocked, 4, a) == 1);
    CU_ASSERT(a[0] == 0 && a[1] == 1 && a[2] == 2 && a[3] == 3);
    CU_ASSERT(dbx__gpu_assign(4, inter, 4, a) == 1);
    CU_ASSERT(a[0] == 0 && a[1] == 2 && a[2] == 1 && a[3] == 3);
    CU_ASSERT(dbx__gpu_assign(4, rev, 4, a) == 1);
    CU_ASSERT(a[0] == 2 && a[1] == 3 && a[2] == 0 && a[3] == 1);
    for (int i = 0; i < 4; i++) CU_ASSERT((rev[i] >> a[i]) & 1);
    /* 8 ranks interleaved over 2 nodes of 4 GPUs each: distinct, and each near its node */
    uint64_t eight[8];
    int e[8], load[8];
    for (int i = 0; i < 8; i++) eight[i] = i % 2 ? 0xf0 : 0x0f;
    CU_ASSERT(dbx__gpu_assign(8, eight, 8, e) == 1);
    CU_ASSERT(loads(e, 8, 8, load) == 1);
    for (int i = 0; i < 8; i++) CU_ASSERT((eight[i] >> e[i]) & 1);
}

static void test_gpu_assign_sharing(void)
{
    int a[5], load[2];
    /* 4 ranks on 2 GPUs: 2 per GPU */
    CU_ASSERT(dbx__gpu_assign(4, NULL, 2, a) == 2);
    CU_ASSERT(loads(a, 4, 2, load) == 2 && load[0] == 2 && load[1] == 2);
    CU_ASSERT(a[0] == 0 && a[1] == 1 && a[2] == 0 && a[3] == 1);
    /* ... and each pair on its near GPU when locality says so */
    uint64_t pairs[4] = {1, 1, 2, 2};
    CU_ASSERT(dbx__gpu_assign(4, pairs, 2, a) == 2);
    CU_ASSERT(a[0] == 0 && a[1] == 0 && a[2] == 1 && a[3] == 1);
    /* all 4 near GPU 0: still balanced (no GPU above ceil(4 / 2)) */
    uint64_t all0[4] = {1, 1, 1, 1};
    CU_ASSERT(dbx__gpu_assign(4, all0, 2, a) == 2);
    CU_ASSERT(loads(a, 4, 2, load) == 2 && load[0] == 2 && load[1] == 2);
    CU_ASSERT(a[0] == 0 && a[1] == 0);
    /* 5 ranks on 2 GPUs: 3 and 2 */
    CU_ASSERT(dbx__gpu_assign(5, NULL, 2, a) == 3);
    CU_ASSERT(loads(a, 5, 2, load) == 3 && load[0] + load[1] == 5 && load[1] == 2);
}

static void test_gpu_assign_taken(void)
{
    int a[4];
    /* rank 1's only near GPU (0) is taken: the least-loaded overall, GPU 1; rank 2's near
       GPUs 0 and 1 are both taken: GPU 2 */
    uint64_t m[3] = {0x1, 0x1, 0x3};
    CU_ASSERT(dbx__gpu_assign(3, m, 3, a) == 1);
    CU_ASSERT(a[0] == 0 && a[1] == 1 && a[2] == 2);
    /* rank 2's near GPU (2) taken by rank 0: the least-loaded, lowest index is GPU 0 */
    uint64_t n[3] = {0x4, 0x2, 0x4};
    CU_ASSERT(dbx__gpu_assign(3, n, 3, a) == 1);
    CU_ASSERT(a[0] == 2 && a[1] == 1 && a[2] == 0);
    /* equal masks: distinct GPUs while there are enough */
    uint64_t eq[4] = {0x1, 0x1, 0x1, 0x1};
    CU_ASSERT(dbx__gpu_assign(4, eq, 4, a) == 1);
    CU_ASSERT(a[0] == 0 && a[1] == 1 && a[2] == 2 && a[3] == 3);
    /* bits of GPUs that do not exist are ignored: rank 0 is treated as unknown */
    uint64_t hi[2] = {(uint64_t)1 << 40, 0x1};
    CU_ASSERT(dbx__gpu_assign(2, hi, 2, a) == 1);
    CU_ASSERT(a[0] == 0 && a[1] == 1);
    /* more GPUs than DBX_GPU_MAX: the extra ones are never chosen */
    int big[DBX_GPU_MAX + 2];
    CU_ASSERT(dbx__gpu_assign(DBX_GPU_MAX + 2, NULL, DBX_GPU_MAX + 8, big) == 2);
    for (int i = 0; i < DBX_GPU_MAX + 2; i++) CU_ASSERT(big[i] == i % DBX_GPU_MAX);
}

static void test_gpu_assign_deterministic(void)
{
    /* random masks: balanced (the largest load is ceil(n / g)), in range, and the same on
       every call (all ranks of a host compute it independently) */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int trial = 0; trial < 500; trial++) {
        uint64_t near[16];
        int a[16], b[16], load[16];
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int n = 1 + (int)(x >> 60), g = 1 + (int)((x >> 40) & 15);
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            near[i] = (x >> 20) & ((x >> 63) ? 0xffff : 0x3); /* often only the first GPUs */
        }
        int most = dbx__gpu_assign(n, near, g, a);
        CU_ASSERT(most == (n + g - 1) / g);
        CU_ASSERT(loads(a, n, g, load) == most);
        CU_ASSERT(dbx__gpu_assign(n, near, g, b) == most);
        CU_ASSERT(memcmp(a, b, (size_t)n * sizeof *a) == 0);
        /* a rank off its near GPUs only when each of them was already full */
        for (int i = 0; i < n; i++) {
            uint64_t m = near[i] & (g < 64 ? ((uint64_t)1 << g) - 1 : ~(uint64_t)0);
            if (!m || ((m >> a[i]) & 1)) continue;
            for (int k = 0; k < g; k++) {
                if (!((m >> k) & 1)) continue;
                int before = 0;
                for (int j = 0; j < i; j++) before += a[j] == k;
                CU_ASSERT(before >= most);
            }
        }
    }
}

/* Whether the cpu list text ("0-3,8,10-11") shares a cpu with this thread's affinity. */
static int cpulist_meets_affinity(const char *list)
{
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) return -1;
    for (const char *p = list; *p;) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p) break;
        if (*end == '-') hi = strtol(end + 1, &end, 10);
        for (long c = lo; c <= hi && c < CPU_SETSIZE; c++)
            if (c >= 0 && CPU_ISSET((int)c, &mine)) return 1;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    return 0;
}

/* The bus id of a PCI device that hwloc keeps as important (network, storage or display
 * class) and sysfs gives a locality for, with that locality in cpus; 0 when none. */
static int find_pci_device(char id[32], char *cpus, size_t cap)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 32) continue;
        char path[320], cls[32] = "";
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/class", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(cls, sizeof cls, f)) cls[0] = '\0';
        fclose(f);
        long c = strtol(cls, NULL, 16) >> 16; /* base class */
        if (c != 0x01 && c != 0x02 && c != 0x03) continue;
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/local_cpulist", e->d_name);
        f = fopen(path, "r");
        if (!f) continue;
        if (fgets(cpus, (int)cap, f) && cpus[0] >= '0' && cpus[0] <= '9') {
            cpus[strcspn(cpus, "\n")] = '\0';
            snprintf(id, 32, "%.31s", e->d_name); /* bus ids are 12 characters */
            found = 1;
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static void test_gpu_choose(void)
{
    int lr = dbx__comm_local_rank(g_comm), L = dbx__comm_local_size(g_comm);
    char desc[512];
    int gpu = -1, sharing = -1;
    /* no GPU (collective: every rank calls it) */
    CU_ASSERT(dbx__topo_gpu_choose(g_comm, 0, NULL, &gpu, &sharing, desc, sizeof desc) ==
              DBX_OK);
    CU_ASSERT(gpu == 0 && sharing == 0);
    CU_ASSERT(strcmp(desc, "no GPU visible") == 0);
    /* a device hwloc cannot find: unknown locality, not an error */
    char fake[2][32] = {"0000:ff:1f.7", "0000:fe:1f.6"};
    gpu = sharing = -1;
    CU_ASSERT(dbx__topo_gpu_choose(NULL, 1, fake, &gpu, &sharing, desc, sizeof desc) == DBX_OK);
    CU_ASSERT(gpu == 0 && sharing == 1);
    CU_ASSERT(strstr(desc, "GPU 0 (0000:ff:1f.7)") == desc);
    CU_ASSERT(strstr(desc, "locality unknown") != NULL);
    CU_ASSERT(strstr(desc, "1 local rank on 1 GPU") != NULL);
    if (R == 0) printf("\n    %s\n", desc);
    /* collective over 2 unknown GPUs: GPU = local rank mod 2 */
    gpu = sharing = -1;
    CU_ASSERT(dbx__topo_gpu_choose(g_comm, 2, fake, &gpu, &sharing, desc, sizeof desc) ==
              DBX_OK);
    CU_ASSERT(gpu == lr % 2);
    CU_ASSERT(sharing >= (L + 1) / 2 && sharing <= N);
    CU_ASSERT(strstr(desc, fake[gpu]) != NULL);
    if (R == 0) printf("    %s\n", desc);
    /* no outputs but the GPU; a tiny description is truncated, not overrun */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    CU_ASSERT(dbx__topo_gpu_choose(NULL, 2, fake, &gpu, NULL, tiny, 4) == DBX_OK);
    CU_ASSERT(strlen(tiny) == 3 && tiny[4] == 'x');
    CU_ASSERT(dbx__topo_gpu_choose(NULL, 2, fake, &gpu, NULL, NULL, 0) == DBX_OK);
    CU_ASSERT(gpu == 0);
    CU_ASSERT(dbx__topo_gpu_choose(NULL, 2, NULL, &gpu, NULL, NULL, 0) == DBX_EINVAL);
    CU_ASSERT(dbx__topo_gpu_choose(NULL, -1, fake, &gpu, NULL, NULL, 0) == DBX_EINVAL);
    CU_ASSERT(dbx__topo_gpu_choose(NULL, 2, fake, NULL, NULL, NULL, 0) == DBX_EINVAL);
    /* a real PCI device (a NIC, disk or display) as "GPU 1" beside a missing one: when its
       locality meets this rank's cpus, it is near and wins over GPU 0 */
    char ids[2][32] = {"0000:ff:1f.7", ""}, cpus[256] = "";
    if (!find_pci_device(ids[1], cpus, sizeof cpus)) {
        if (R == 0) printf("    (no PCI device with a locality in sysfs: real-device case "
                           "skipped)\n");
        return;
    }
    int meets = cpulist_meets_affinity(cpus);
    CU_ASSERT(meets >= 0);
    gpu = sharing = -1;
    CU_ASSERT(dbx__topo_gpu_choose(NULL, 2, ids, &gpu, &sharing, desc, sizeof desc) == DBX_OK);
    CU_ASSERT(gpu == (meets == 1 ? 1 : 0) && sharing == 1);
    if (meets == 1) {
        CU_ASSERT(strstr(desc, "near cpuset 0x") != NULL);
        CU_ASSERT(strstr(desc, "(this rank's cpus)") != NULL);
    }
    if (R == 0) printf("    %s (sysfs: %s local to cpus %s)\n", desc, ids[1], cpus);
}

/* DBX_COMM_TEST_FAIL_RANK=k: rank k fails here on purpose (checks the agreement). */
static void test_deliberate_failure(void)
{
    const char *k = getenv("DBX_COMM_TEST_FAIL_RANK");
    if (k && *k) CU_ASSERT(atoi(k) != R);
}

/* ---- runner ----------------------------------------------------------------------------- */
static const dbx_test_case k_tests[] = {
    DBX_TEST(test_ranks),
    DBX_TEST(test_opts_default),
    DBX_TEST(test_allreduce_f32_buckets),
    DBX_TEST(test_allreduce_f32_other_buckets),
    DBX_TEST(test_allreduce_f64_i64),
    DBX_TEST(test_allgather),
    DBX_TEST(test_allgatherv),
    DBX_TEST(test_bcast_barrier),
    DBX_TEST(test_scatter_rounds),
    DBX_TEST(test_scatter_small_cap),
    DBX_TEST(test_scatter_misuse),
    DBX_TEST(test_bind),
    DBX_TEST(test_gpu_assign_unknown),
    DBX_TEST(test_gpu_assign_numa),
    DBX_TEST(test_gpu_assign_sharing),
    DBX_TEST(test_gpu_assign_taken),
    DBX_TEST(test_gpu_assign_deterministic),
    DBX_TEST(test_gpu_choose),
    DBX_TEST(test_deliberate_failure),
    DBX_TEST_END,
};

/* Rank 1 stalls before a barrier; rank 0's watchdog (2 s) must abort the whole job. */
static int watchdog_mode(void)
{
    if (N < 2) {
        fprintf(stderr, "--watchdog-test needs 2 ranks\n");
        return 2;
    }
    dbx__comm_set_context(g_comm, "watchdog test step %d", 7);
    if (R == 1) sleep(30);
    dbx_status s = dbx__comm_barrier(g_comm);
    fprintf(stderr, "[r%d] the watchdog did not fire (barrier: %s)\n", R, dbx_status_str(s));
    return 1;
}

/* Rank 1 aborts while the others wait in a barrier. */
static int abort_mode(void)
{
    if (R == 1) dbx__comm_abort(g_comm, 5, "abort test: rank 1 gives up");
    dbx_status s = dbx__comm_barrier(g_comm);
    fprintf(stderr, "[r%d] dbx__comm_abort did not end the job (barrier: %s)\n", R,
            dbx_status_str(s));
    return 1;
}

int main(int argc, char **argv)
{
    int watchdog = 0, abort_test = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--single") == 0) g_single = 1;
        else if (strcmp(argv[i], "--watchdog-test") == 0) watchdog = 1;
        else if (strcmp(argv[i], "--abort-test") == 0) abort_test = 1;
        else {
            fprintf(stderr, "usage: test_comm [--single | --watchdog-test | --abort-test]\n");
            return 2;
        }
    }
    dbx__comm_opts o = dbx__comm_opts_default();
    o.want_mpi = g_single ? 0 : -1;
    o.bucket_bytes = BUCKET_BYTES;
    o.timeout_s = watchdog ? 2 : 60;
    if (dbx__comm_init(&o, &argc, &argv, &g_comm) != DBX_OK) {
        fprintf(stderr, "test_comm: dbx__comm_init: %s\n", dbx_last_error());
        return 1;
    }
    R = dbx__comm_rank(g_comm);
    N = dbx__comm_size(g_comm);
    if (watchdog || abort_test) {
        int rc = watchdog ? watchdog_mode() : abort_mode();
        dbx__comm_free(g_comm);
        return rc;
    }

    long fails = dbx_test_run_ranked("comm", k_tests, R, N);
    int64_t total = fails;
    if (dbx__comm_allreduce_i64(g_comm, &total, 1, DBX_COMM_SUM) != DBX_OK) {
        fprintf(stderr, "[r%d] cannot agree on the result: %s\n", R, dbx_last_error());
        total = fails ? fails : 1;
    }
    if (R == 0)
        printf("\ncomm: %d rank%s (%s), %lld failure%s on all ranks together\n", N,
               N == 1 ? "" : "s", dbx__comm_kind_of(g_comm) == DBX_COMM_MPI ? "MPI" : "single",
               (long long)total, total == 1 ? "" : "s");
    dbx__comm_free(g_comm);
    return total ? 1 : 0;
}
