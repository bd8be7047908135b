/* comm/allreduce.c: dbx's gradient all-reduce with real MPI ranks (run under mpirun -np 1, 2,
 * 3, 5; and alone, where every operation is the identity):
 *  - every algorithm (rd, rabenseifner, ring, mpi, auto), flat and hierarchical, on sizes
 *    around the splits of each algorithm (0, 1, fewer floats than ranks, odd, large), against
 *    a sum in double of every rank's values (regenerated locally): relative error <= 1e-6;
 *  - every rank ends with the same bits;
 *  - rd and rabenseifner give the same bits as each other, and a buffer reduced in slices
 *    (buckets of any size, started in a rank-dependent order) gives the same bits as the
 *    whole buffer in one operation;
 *  - bfloat16 on the wire: within its rounding, the same bits everywhere, rd = rabenseifner;
 *  - keys in flight: a duplicate key and keys out of range are refused;
 *  - the cost model: hand-computed times, the choice per size, the DBX_ALLREDUCE_MODEL
 *    syntax with its errors;
 *  - dbx__comm_range_u64 (min and max over the ranks);
 *  - the collective digest: equal on every rank after the same calls, different after a
 *    rank issued one more collective (then restored by the others doing the same).
 * Every rank runs the same tests in the same order; failures are summed over the ranks. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/status.h"
#include "testutil.h"

static int R, N;
static dbx__comm *g_flat; /* the defaults: DBX_AR_AUTO, flat on one node */

/* A value of rank r at index i: varied magnitudes and signs, so that the order of the sums
   shows in the bits. */
static float value(int r, size_t i)
{
    uint64_t x = (uint64_t)(r + 1) * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    double u = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
    return (float)((u - 0.5) * pow(10.0, (double)(x % 5) - 2.0));
}

static float *fill(size_t n)
{
    float *b = malloc((n ? n : 1) * sizeof *b);
    for (size_t i = 0; i < n; i++) b[i] = value(R, i);
    return b;
}

/* Every rank holds the same bytes? (FNV hash, compared through dbx__comm_range_u64.) */
static int same_everywhere(dbx__comm *c, const float *b, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)b;
    for (size_t i = 0; i < n * sizeof *b; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    int64_t lo, hi;
    if (dbx__comm_range_u64(c, &h, 1, &lo, &hi) != DBX_OK) return 0;
    return lo == hi;
}

/* max relative error of b against the double sum of every rank's values */
static double max_err(const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0, a = 0;
        for (int r = 0; r < N; r++) {
            s += value(r, i);
            a += fabs(value(r, i));
        }
        double e = fabs(b[i] - s) / (a > 0 ? a : 1);
        if (e > worst) worst = e;
    }
    return worst;
}

static int g_wire16; /* open_comm: bfloat16 on the wire */

static dbx__comm *open_comm(dbx__ar_algo algo, int hier, size_t bucket)
{
    dbx__comm_opts o = dbx__comm_opts_default();
    o.wire_bf16 = g_wire16;
    o.algo = algo;
    o.hier = hier;
    o.bucket_bytes = bucket;
    o.timeout_s = 60;
    dbx__comm *c = NULL;
    if (dbx__comm_init(&o, NULL, NULL, &c) != DBX_OK) {
        fprintf(stderr, "[r%d] dbx__comm_init: %s\n", R, dbx_last_error());
        return NULL;
    }
    return c;
}

static const size_t k_sizes[] = {0, 1, 2, 3, 4, 5, 7, 31, 1000, 65537};
#define NSIZES (sizeof k_sizes / sizeof *k_sizes)

/* ---- correctness of every algorithm, flat and hierarchical ----------------------------- */
static void check_algo(dbx__ar_algo algo, int hier)
{
    dbx__comm *c = open_comm(algo, hier, 0);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT(dbx__comm_ar_algo(c) == algo);
    if (N > 1) CU_ASSERT(dbx__comm_ar_hier(c) == (hier == 1));
    for (size_t k = 0; k < NSIZES; k++) {
        size_t n = k_sizes[k];
        float *b = fill(n);
        CU_ASSERT(dbx__comm_allreduce_f32(c, b, n) == DBX_OK);
        double e = max_err(b, n);
        CU_ASSERT(e <= 1e-6);
        CU_ASSERT(same_everywhere(c, b, n));
        if (e > 1e-6)
            fprintf(stderr, "[r%d] %s hier %d n=%zu: error %.3g\n", R, dbx__ar_algo_name(algo),
                    hier, n, e);
        free(b);
    }
    dbx__comm_free(c);
}

static void test_rd(void) { check_algo(DBX_AR_RD, 0); }
static void test_rabenseifner(void) { check_algo(DBX_AR_RAB, 0); }
static void test_ring(void) { check_algo(DBX_AR_RING, 0); }
static void test_mpi(void) { check_algo(DBX_AR_MPI, 0); }
static void test_auto(void) { check_algo(DBX_AR_AUTO, 0); }
static void test_hier_rd(void) { check_algo(DBX_AR_RD, 1); }
static void test_hier_rabenseifner(void) { check_algo(DBX_AR_RAB, 1); }
static void test_hier_ring(void) { check_algo(DBX_AR_RING, 1); }

/* ---- the same bits: rd = rabenseifner, any bucketing, any start order -------------------- */
static void reduce_whole(dbx__comm *c, float *b, size_t n)
{
    CU_ASSERT(dbx__comm_iallreduce_f32(c, b, n, 0) == DBX_OK);
    CU_ASSERT(dbx__comm_allreduce_wait(c) == DBX_OK);
}

/* slices of `len` floats, started last first on odd ranks and first first on even ones,
   with progress calls in between */
static void reduce_sliced(dbx__comm *c, float *b, size_t n, size_t len)
{
    size_t ns = (n + len - 1) / len;
    for (size_t j = 0; j < ns; j++) {
        size_t s = R % 2 ? ns - 1 - j : j;
        size_t off = s * len, m = n - off < len ? n - off : len;
        CU_ASSERT(dbx__comm_iallreduce_f32(c, b + off, m, (int)s) == DBX_OK);
        CU_ASSERT(dbx__comm_allreduce_progress(c) == DBX_OK);
    }
    CU_ASSERT(dbx__comm_allreduce_wait(c) == DBX_OK);
}

static void test_same_bits(void)
{
    const size_t n = 10007;
    dbx__comm *rd = open_comm(DBX_AR_RD, 0, 0), *rab = open_comm(DBX_AR_RAB, 0, 0);
    CU_ASSERT_FATAL(rd && rab);
    float *ref = fill(n);
    reduce_whole(rd, ref, n);
    const size_t lens[] = {1, 3, 64, 1000, 4096, 10007};
    for (int a = 0; a < 2; a++) {
        dbx__comm *c = a ? rab : rd;
        float *b = fill(n);
        reduce_whole(c, b, n);
        CU_ASSERT(memcmp(b, ref, n * sizeof *b) == 0);
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            float *s = fill(n);
            reduce_sliced(c, s, n, lens[k]);
            int same = memcmp(s, ref, n * sizeof *s) == 0;
            CU_ASSERT(same);
            if (!same)
                fprintf(stderr, "[r%d] %s in slices of %zu: other bits than whole rd\n", R,
                        a ? "rabenseifner" : "rd", lens[k]);
            free(s);
        }
        free(b);
    }
    /* ring sums in another order: close, and the same on every rank */
    dbx__comm *ring = open_comm(DBX_AR_RING, 0, 0);
    CU_ASSERT_FATAL(ring != NULL);
    float *g = fill(n);
    reduce_sliced(ring, g, n, 777);
    CU_ASSERT(max_err(g, n) <= 1e-6 && max_err(ref, n) <= 1e-6);
    CU_ASSERT(same_everywhere(ring, g, n));
    free(g);
    free(ref);
    dbx__comm_free(ring);
    dbx__comm_free(rab);
    dbx__comm_free(rd);
}

/* ---- bfloat16 on the wire: within bfloat16 rounding, the same bits everywhere; small
   integers exact; rd = rabenseifner; refused with the MPI library's all-reduce ------------ */
static void test_wire_bf16(void)
{
    g_wire16 = 1;
    const size_t n = 3001;
    float *ref = NULL;
    const dbx__ar_algo algos[] = {DBX_AR_RD, DBX_AR_RAB, DBX_AR_RING, DBX_AR_AUTO};
    for (size_t k = 0; k < sizeof algos / sizeof *algos; k++) {
        dbx__comm *c = open_comm(algos[k], 0, 0);
        CU_ASSERT_FATAL(c != NULL);
        float *b = fill(n);
        CU_ASSERT(dbx__comm_allreduce_f32(c, b, n) == DBX_OK);
        /* each of the <= log2(N) + 3 roundings costs at most 2^-9 of the partial sum */
        double e = max_err(b, n);
        CU_ASSERT(e <= 8 * 0.001953125);
        CU_ASSERT(same_everywhere(c, b, n));
        if (algos[k] == DBX_AR_RD) ref = b;
        else {
            if (algos[k] == DBX_AR_RAB) CU_ASSERT(memcmp(b, ref, n * sizeof *b) == 0);
            free(b);
        }
        float small[64];
        for (int i = 0; i < 64; i++) small[i] = (float)(R + i % 3);
        CU_ASSERT(dbx__comm_allreduce_f32(c, small, 64) == DBX_OK);
        for (int i = 0; i < 64; i++) CU_ASSERT(small[i] == (float)(N * (N - 1) / 2 + N * (i % 3)));
        dbx__comm_free(c);
    }
    free(ref);
    dbx__comm *m = open_comm(DBX_AR_MPI, 0, 0);
    CU_ASSERT_FATAL(m != NULL);
    float x[4] = {1, 2, 3, 4};
    CU_ASSERT(dbx__comm_iallreduce_f32(m, x, 4, 0) == (N > 1 ? DBX_EINVAL : DBX_OK));
    dbx__comm_free(m);
    g_wire16 = 0;
}

/* ---- keys --------------------------------------------------------------------------------- */
static void test_keys(void)
{
    dbx__comm *c = g_flat;
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    CU_ASSERT(dbx__comm_iallreduce_f32(c, a, 4, -1) == DBX_EINVAL);
    CU_ASSERT(dbx__comm_iallreduce_f32(c, a, 4, DBX_AR_MAX_KEY) == DBX_EINVAL);
    CU_ASSERT(dbx__comm_iallreduce_f32(c, NULL, 4, 0) == DBX_EINVAL);
    CU_ASSERT(dbx__comm_iallreduce_f32(c, a, 4, 7) == DBX_OK);
    if (N > 1) CU_ASSERT(dbx__comm_iallreduce_f32(c, b, 4, 7) == DBX_EINVAL); /* in flight */
    CU_ASSERT(dbx__comm_allreduce_wait(c) == DBX_OK);
    for (int i = 0; i < 4; i++) CU_ASSERT(a[i] == (float)(N * (i + 1)));
    /* the key is free again */
    CU_ASSERT(dbx__comm_iallreduce_f32(c, b, 4, 7) == DBX_OK);
    CU_ASSERT(dbx__comm_allreduce_wait(c) == DBX_OK);
    CU_ASSERT(b[3] == (float)(4 * N));
    CU_ASSERT(dbx__comm_allreduce_wait(c) == DBX_OK); /* nothing in flight */
}

/* ---- cost model ----------------------------------------------------------------------------- */
static void test_model(void)
{
    dbx__ar_model m = {{10e-6, 1e-9}, {20e-6, 2e-9}, {5e-6, 0.5e-9}};
    /* P = 8: rd 3 (a + n b); rab 6 a + 2 (7/8) n b; ring 14 a + 2 (7/8) n b */
    CU_ASSERT(fabs(dbx__ar_model_seconds(&m, DBX_AR_RD, 8, 1000) - 3 * (10e-6 + 1e-6)) < 1e-12);
    CU_ASSERT(fabs(dbx__ar_model_seconds(&m, DBX_AR_RAB, 8, 1000) -
                   (6 * 20e-6 + 1.75 * 1000 * 2e-9)) < 1e-12);
    CU_ASSERT(fabs(dbx__ar_model_seconds(&m, DBX_AR_RING, 8, 1000) -
                   (14 * 5e-6 + 1.75 * 1000 * 0.5e-9)) < 1e-12);
    /* P = 6 = 4 + 2: two extra steps of the whole buffer */
    CU_ASSERT(fabs(dbx__ar_model_seconds(&m, DBX_AR_RD, 6, 1000) - 4 * (10e-6 + 1e-6)) < 1e-12);
    CU_ASSERT(dbx__ar_model_seconds(&m, DBX_AR_RD, 1, 1000) == 0);
    CU_ASSERT(dbx__ar_model_seconds(&m, DBX_AR_MPI, 8, 1000) < 0);
    /* the measured default: rd for small messages, rabenseifner for large ones on many ranks */
    dbx__ar_model def = dbx__comm_opts_default().model;
    CU_ASSERT(dbx__ar_choose(&def, 64, 64) == DBX_AR_RD);
    CU_ASSERT(dbx__ar_choose(&def, 64, 4u << 20) == DBX_AR_RAB);
    /* one alpha-beta for all: the same, and on 2 ranks rd (it moves no more, in fewer steps) */
    dbx__ar_model u = {{10e-6, 1e-9}, {10e-6, 1e-9}, {10e-6, 1e-9}};
    CU_ASSERT(dbx__ar_choose(&u, 64, 64) == DBX_AR_RD);
    CU_ASSERT(dbx__ar_choose(&u, 64, 4u << 20) == DBX_AR_RAB);
    CU_ASSERT(dbx__ar_choose(&u, 2, 4u << 20) == DBX_AR_RD);
    /* a ring with a much cheaper byte wins large messages on few ranks */
    dbx__ar_model r = u;
    r.ring.beta = u.rab.beta / 4;
    CU_ASSERT(dbx__ar_choose(&r, 4, 64u << 20) == DBX_AR_RING);
    /* the environment syntax */
    dbx__ar_model p = u;
    CU_ASSERT(dbx__ar_model_parse("rd=2,0.08;ring=5,0.1", &p) == DBX_OK);
    CU_ASSERT(fabs(p.rd.alpha - 2e-6) < 1e-15 && fabs(p.rd.beta - 0.08e-9) < 1e-20);
    CU_ASSERT(fabs(p.ring.alpha - 5e-6) < 1e-15 && p.rab.alpha == u.rab.alpha);
    CU_ASSERT(dbx__ar_model_parse("rabenseifner=3,0.2", &p) == DBX_OK && p.rab.alpha == 3e-6);
    CU_ASSERT(dbx__ar_model_parse("", &p) == DBX_OK);
    CU_ASSERT(dbx__ar_model_parse("rd=2", &p) == DBX_EINVAL);
    CU_ASSERT(strstr(dbx_last_error(), "NAME=ALPHA_US,BETA_NS_PER_BYTE") != NULL);
    CU_ASSERT(dbx__ar_model_parse("mpi=2,1", &p) == DBX_EINVAL);
    CU_ASSERT(dbx__ar_model_parse("tree=2,1", &p) == DBX_EINVAL);
    CU_ASSERT(dbx__ar_model_parse("rd=2,1x", &p) == DBX_EINVAL);
    CU_ASSERT(dbx__ar_model_parse("rd=-2,1", &p) == DBX_EINVAL);
    dbx__ar_algo a;
    CU_ASSERT(dbx__ar_algo_parse("rab", &a) == DBX_OK && a == DBX_AR_RAB);
    CU_ASSERT(dbx__ar_algo_parse("tree", &a) == DBX_EINVAL);
    CU_ASSERT(strcmp(dbx__ar_algo_name(DBX_AR_RING), "ring") == 0);
}

/* ---- the digest of the collectives issued ---------------------------------------------------- */
/* Do the digests d of all ranks agree? (compared on g_flat) */
static int digests_agree(const uint64_t d[3])
{
    int64_t lo[3], hi[3];
    if (dbx__comm_range_u64(g_flat, d, 3, lo, hi) != DBX_OK) return -1;
    return lo[0] == hi[0] && lo[1] == hi[1] && lo[2] == hi[2];
}

/* A single-process communicator on each rank records what the rank issues without talking to
   the others, so the ranks can issue different things: the digests must tell. */
static dbx__comm *local_comm(void)
{
    dbx__comm_opts o = dbx__comm_opts_default();
    o.want_mpi = 0;
    dbx__comm *c = NULL;
    return dbx__comm_init(&o, NULL, NULL, &c) == DBX_OK ? c : NULL;
}

/* dbx__comm_range_u64: the smallest and largest value over the ranks */
static void test_range(void)
{
    uint64_t v[2] = {(uint64_t)R, 7};
    int64_t lo[2], hi[2];
    CU_ASSERT(dbx__comm_range_u64(g_flat, v, 2, lo, hi) == DBX_OK);
    CU_ASSERT(lo[0] == 0 && hi[0] == N - 1 && lo[1] == 7 && hi[1] == 7);
    uint64_t big[9] = {0};
    int64_t l9[9], h9[9];
    CU_ASSERT(dbx__comm_range_u64(g_flat, big, 9, l9, h9) == DBX_EINVAL);
}

static void test_digest(void)
{
    uint64_t d[3], e[3];
    dbx__comm_digest(g_flat, d);
    CU_ASSERT(digests_agree(d) == 1);
    /* one all-reduce more: the count and the all-reduce sum move, the ordered hash not */
    float x[8] = {0};
    CU_ASSERT(dbx__comm_iallreduce_f32(g_flat, x, 8, 3) == DBX_OK);
    CU_ASSERT(dbx__comm_allreduce_wait(g_flat) == DBX_OK);
    dbx__comm_digest(g_flat, e);
    CU_ASSERT(e[0] == d[0] + 2 && e[1] != d[1] && e[2] != d[2]); /* + digests_agree's MIN */
    CU_ASSERT(digests_agree(e) == 1);

    float y[16] = {0};
    int64_t one = 1;
    dbx__comm *a = local_comm(), *b = local_comm();
    CU_ASSERT_FATAL(a && b);
    /* the same collectives: equal; all-reduce keys in another order: still equal */
    CU_ASSERT(dbx__comm_allreduce_i64(a, &one, 1, DBX_COMM_SUM) == DBX_OK);
    CU_ASSERT(dbx__comm_iallreduce_f32(a, y, R % 2 ? 8 : 4, R % 2 ? 2 : 1) == DBX_OK);
    CU_ASSERT(dbx__comm_iallreduce_f32(a, y + 8, R % 2 ? 4 : 8, R % 2 ? 1 : 2) == DBX_OK);
    dbx__comm_digest(a, d);
    CU_ASSERT(digests_agree(d) == 1);
    if (N > 1) {
        /* rank 0 issues one barrier more */
        if (R == 0) CU_ASSERT(dbx__comm_barrier(b) == DBX_OK);
        dbx__comm_digest(b, d);
        CU_ASSERT(digests_agree(d) == 0);
        /* the same count, another order: bcast then barrier on rank 0, the reverse elsewhere */
        dbx__comm *c = local_comm();
        CU_ASSERT_FATAL(c != NULL);
        if (R == 0) CU_ASSERT(dbx__comm_bcast(c, &one, sizeof one, 0) == DBX_OK);
        CU_ASSERT(dbx__comm_barrier(c) == DBX_OK);
        if (R != 0) CU_ASSERT(dbx__comm_bcast(c, &one, sizeof one, 0) == DBX_OK);
        dbx__comm_digest(c, d);
        CU_ASSERT(digests_agree(d) == 0);
        dbx__comm_free(c);
        /* the same all-reduce keys with another size on one rank */
        c = local_comm();
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT(dbx__comm_iallreduce_f32(c, y, R == 1 ? 5 : 4, 0) == DBX_OK);
        dbx__comm_digest(c, d);
        CU_ASSERT(digests_agree(d) == 0);
        dbx__comm_free(c);
    }
    dbx__comm_free(a);
    dbx__comm_free(b);
}

/* ---- runner ------------------------------------------------------------------------------ */
static const dbx_test_case k_tests[] = {
    DBX_TEST(test_rd),
    DBX_TEST(test_rabenseifner),
    DBX_TEST(test_ring),
    DBX_TEST(test_mpi),
    DBX_TEST(test_auto),
    DBX_TEST(test_hier_rd),
    DBX_TEST(test_hier_rabenseifner),
    DBX_TEST(test_hier_ring),
    DBX_TEST(test_same_bits),
    DBX_TEST(test_wire_bf16),
    DBX_TEST(test_keys),
    DBX_TEST(test_model),
    DBX_TEST(test_range),
    DBX_TEST(test_digest),
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    dbx__comm_opts o = dbx__comm_opts_default();
    if (dbx__comm_init(&o, &argc, &argv, &g_flat) != DBX_OK) {
        fprintf(stderr, "test_allreduce: dbx__comm_init: %s\n", dbx_last_error());
        return 1;
    }
    R = dbx__comm_rank(g_flat);
    N = dbx__comm_size(g_flat);
    long fails = dbx_test_run_ranked("allreduce", k_tests, R, N);
    int64_t total = fails;
    if (dbx__comm_allreduce_i64(g_flat, &total, 1, DBX_COMM_SUM) != DBX_OK) total = fails ? fails : 1;
    if (R == 0)
        printf("\nallreduce: %d rank%s, %lld failure%s on all ranks together\n", N,
               N == 1 ? "" : "s", (long long)total, total == 1 ? "" : "s");
    dbx__comm_free(g_flat);
    return total ? 1 : 0;
}
