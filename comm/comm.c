/* The comm/ front end: options, the choice between MPI and a single process, argument
 * checks shared by both, the single-process implementation (rank 0 of 1: every collective
 * is the identity or a copy), watchdog bookkeeping, dbx__comm_abort. The MPI back end is
 * comm_mpi.c, topology and binding topo.c.
 *
 * Ownership: dbx__comm_init allocates the object, dbx__comm_free releases it (and MPI, when
 * it initialised MPI). Thread safety: see comm.h and comm_internal.h. */
#define _POSIX_C_SOURCE 200809L
#include "comm/comm_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

#define DBX_COMM_DEFAULT_BUCKET ((size_t)4 << 20)
#define DBX_COMM_DEFAULT_TIMEOUT 60.0

/* The all-reduce costs {alpha s, beta s/byte} DBX_AR_AUTO compares by default: dbx's own
 * rd, rabenseifner and ring over TCP between network-namespace hosts on plain veth links,
 * 2-8 hosts on one 2-core machine, fitted to dbx__ar_model_seconds with the
 * oversubscription factor taken out, i.e. one rank per core (bench/collectives.sh with
 * TUNED= LIBNBC=, bench/allreduce_fit.py; README "Multi-node benchmarks", 2026-12-03, the
 * machine otherwise idle). Median fit errors 25%, 21%, 21%. DBX_ALLREDUCE_MODEL overrides
 * them. */
#define DBX_AR_DEFAULT_RD {10.9e-6, 0.528e-9}
#define DBX_AR_DEFAULT_RAB {11.3e-6, 0.504e-9}
#define DBX_AR_DEFAULT_RING {14.1e-6, 0.603e-9}

dbx__comm_opts dbx__comm_opts_default(void)
{
    dbx__comm_opts o = {.want_mpi = -1, .bucket_bytes = DBX_COMM_DEFAULT_BUCKET,
                       .timeout_s = DBX_COMM_DEFAULT_TIMEOUT, .algo = DBX_AR_AUTO, .hier = -1,
                       .model = {DBX_AR_DEFAULT_RD, DBX_AR_DEFAULT_RAB, DBX_AR_DEFAULT_RING}};
    return o;
}

dbx_status dbx__ar_model_parse(const char *spec, dbx__ar_model *m)
{
    const char *p = spec;
    while (p && *p) {
        char name[32];
        double a = 0, b = 0;
        int used = 0;
        if (sscanf(p, "%31[a-z]=%lf,%lf%n", name, &a, &b, &used) != 3 || a < 0 || b < 0)
            return dbx__fail(DBX_EINVAL, "all-reduce model '%s' at character %d: expected "
                             "NAME=ALPHA_US,BETA_NS_PER_BYTE[;...] with NAME rd, rabenseifner "
                             "or ring", spec, (int)(p - spec) + 1);
        dbx__ar_algo algo;
        DBX_TRY(dbx__ar_algo_parse(name, &algo));
        dbx__ar_cost *cost = algo == DBX_AR_RD ? &m->rd : algo == DBX_AR_RAB ? &m->rab
                           : algo == DBX_AR_RING ? &m->ring : NULL;
        if (!cost)
            return dbx__fail(DBX_EINVAL, "all-reduce model '%s': no cost model for '%s' "
                             "(rd, rabenseifner or ring)", spec, name);
        cost->alpha = a * 1e-6;
        cost->beta = b * 1e-9;
        p += used;
        if (*p == ';') p++;
        else if (*p)
            return dbx__fail(DBX_EINVAL, "all-reduce model '%s' at character %d: expected ';'",
                             spec, (int)(p - spec) + 1);
    }
    return DBX_OK;
}

/* DBX_ALLREDUCE, DBX_ALLREDUCE_HIER and DBX_ALLREDUCE_MODEL, where o keeps the defaults. */
static dbx_status ar_env(dbx__comm_opts *o)
{
    const char *v = getenv("DBX_ALLREDUCE");
    if (v && *v && o->algo == DBX_AR_AUTO) {
        dbx_status s = dbx__ar_algo_parse(v, &o->algo);
        if (s) return dbx__fail(s, "DBX_ALLREDUCE: %s", dbx_last_error());
    }
    v = getenv("DBX_ALLREDUCE_HIER");
    if (v && *v && o->hier < 0) {
        if (!strcmp(v, "1") || !strcmp(v, "on")) o->hier = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "off")) o->hier = 0;
        else if (strcmp(v, "auto"))
            return dbx__fail(DBX_EINVAL, "DBX_ALLREDUCE_HIER is '%s': expected on, off or auto", v);
    }
    v = getenv("DBX_ALLREDUCE_MODEL");
    if (v && *v) DBX_TRY(dbx__ar_model_parse(v, &o->model));
    return DBX_OK;
}

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

/* Launched as one rank of several? mpirun sets OMPI_COMM_WORLD_SIZE and PMIX_RANK,
 * srun --mpi=pmix PMIX_RANK, srun --mpi=pmi2 / MPICH's launchers PMI_RANK. A Slurm step of
 * several tasks counts too (a batch script alone is not a step of several tasks). */
static int auto_mpi(void)
{
    if (env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_RANK") ||
        env_set("PMI_SIZE"))
        return 1;
    if (env_set("SLURM_STEP_ID") && env_set("SLURM_PROCID")) {
        const char *t = getenv("SLURM_STEP_NUM_TASKS");
        if (t && atoi(t) > 1) return 1;
    }
    return dbx__comm_mpi_initialized();
}

dbx_status dbx__comm_init(const dbx__comm_opts *opts, int *argc, char ***argv, dbx__comm **out)
{
    if (!out) return dbx__fail(DBX_EINVAL, "dbx__comm_init: out is NULL");
    *out = NULL;
    dbx__comm_opts o = opts ? *opts : dbx__comm_opts_default();
    if (o.want_mpi < -1 || o.want_mpi > 1)
        return dbx__fail(DBX_EINVAL, "dbx__comm_init: want_mpi is %d (expected -1, 0 or 1)",
                         o.want_mpi);
    if ((unsigned)o.algo >= DBX_AR_NALGO || o.hier < -1 || o.hier > 1)
        return dbx__fail(DBX_EINVAL, "dbx__comm_init: all-reduce algorithm %d or hier %d out "
                         "of range", (int)o.algo, o.hier);
    DBX_TRY(ar_env(&o));
    dbx__comm *c = calloc(1, sizeof *c);
    if (!c) return dbx__fail(DBX_ENOMEM, "dbx__comm_init: out of memory");
    c->bucket_bytes = o.bucket_bytes;
    c->timeout_s = o.timeout_s;
    c->ar_algo = o.algo;
    c->ar_hier_opt = o.hier;
    c->ar_wire_bf16 = o.wire_bf16 != 0;
    c->ar_model = o.model;
    c->ar_participants = 1;
    c->rank = 0;
    c->size = 1;
    c->local_rank = 0;
    c->local_size = 1;
    if (gethostname(c->host, sizeof c->host - 1) != 0 || !c->host[0])
        snprintf(c->host, sizeof c->host, "unknown-host");

    pthread_condattr_t ca;
    if (pthread_mutex_init(&c->wd_mu, NULL) != 0 || pthread_condattr_init(&ca) != 0) {
        free(c);
        return dbx__fail(DBX_ENOMEM, "dbx__comm_init: cannot create the watchdog mutex");
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int cv_rc = pthread_cond_init(&c->wd_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (cv_rc != 0) {
        pthread_mutex_destroy(&c->wd_mu);
        free(c);
        return dbx__fail(DBX_ENOMEM, "dbx__comm_init: cannot create the watchdog condition");
    }

    int want = o.want_mpi < 0 ? auto_mpi() : o.want_mpi;
    c->kind = want ? DBX_COMM_MPI : DBX_COMM_SINGLE;
    if (want) {
        dbx_status s = dbx__comm_mpi_init(c, argc, argv);
        if (s != DBX_OK) {
            dbx__comm_free(c);
            return s;
        }
    }
    *out = c;
    return DBX_OK;
}

void dbx__comm_free(dbx__comm *c)
{
    if (!c) return;
    if (c->kind == DBX_COMM_MPI) dbx__comm_mpi_free(c);
    pthread_cond_destroy(&c->wd_cv);
    pthread_mutex_destroy(&c->wd_mu);
    free(c);
}

dbx__comm_kind dbx__comm_kind_of(const dbx__comm *c) { return c ? c->kind : DBX_COMM_SINGLE; }
int dbx__comm_rank(const dbx__comm *c) { return c ? c->rank : 0; }
int dbx__comm_size(const dbx__comm *c) { return c ? c->size : 1; }
int dbx__comm_local_rank(const dbx__comm *c) { return c ? c->local_rank : 0; }
int dbx__comm_local_size(const dbx__comm *c) { return c ? c->local_size : 1; }
const char *dbx__comm_host(const dbx__comm *c) { return c ? c->host : "unknown-host"; }

/* ---- watchdog bookkeeping ---------------------------------------------------------------- */
void dbx__comm_wd_enter(dbx__comm *c, const char *call)
{
    pthread_mutex_lock(&c->wd_mu);
    c->wd_call = call;
    c->wd_since = dbx__now();
    pthread_mutex_unlock(&c->wd_mu);
}

void dbx__comm_wd_leave(dbx__comm *c)
{
    pthread_mutex_lock(&c->wd_mu);
    c->wd_call = NULL;
    c->wd_since = 0;
    pthread_mutex_unlock(&c->wd_mu);
}

void dbx__comm_set_context(dbx__comm *c, const char *fmt, ...)
{
    if (!c) return;
    char buf[sizeof c->wd_context] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_lock(&c->wd_mu);
    memcpy(c->wd_context, buf, sizeof buf);
    pthread_mutex_unlock(&c->wd_mu);
}

void dbx__comm_print_fatal(const dbx__comm *c, const char *msg)
{
    /* one fprintf, so that lines of different ranks do not interleave mid-line */
    if (c)
        fprintf(stderr, "[r%d/%d %s] dbx: fatal: %s\n", c->rank, c->size, c->host, msg);
    else
        fprintf(stderr, "dbx: fatal: %s\n", msg);
    fflush(stderr);
}

_Noreturn void dbx__comm_abort(dbx__comm *c, int code, const char *msg)
{
    dbx__comm_print_fatal(c, msg ? msg : "aborted");
    if (c && c->kind == DBX_COMM_MPI) dbx__comm_mpi_abort(code);
    exit(code);
}

void dbx__comm_last_allreduce(const dbx__comm *c, double *seconds, size_t *bytes)
{
    if (seconds) *seconds = c ? c->last_ar_seconds : 0;
    if (bytes) *bytes = c ? c->last_ar_bytes : 0;
}

/* ---- collectives: checks, then the single-process identity or the MPI back end --------- */
/* dbx__comm_digest: an ordered collective of kind k and size n was issued. */
static void note(dbx__comm *c, unsigned k, uint64_t n)
{
    c->dg_count++;
    uint64_t h = c->dg_hash ^ (((uint64_t)k << 56) ^ n);
    c->dg_hash = h * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
}

void dbx__comm_digest(const dbx__comm *c, uint64_t d[3])
{
    d[0] = c ? c->dg_count : 0;
    d[1] = c ? c->dg_hash : 0;
    d[2] = c ? c->dg_arsum : 0;
}
#define COMM_CHECK_C(c, fn)                                                                  \
    do {                                                                                     \
        if (!(c)) return dbx__fail(DBX_EINVAL, "%s: comm is NULL", fn);                      \
    } while (0)

static dbx_status check_buf(const void *p, size_t n, const char *fn, const char *what)
{
    if (!p && n) return dbx__fail(DBX_EINVAL, "%s: %s is NULL but %zu elements", fn, what, n);
    return DBX_OK;
}

static dbx_status check_op(dbx__comm_op op, const char *fn)
{
    if (op != DBX_COMM_SUM && op != DBX_COMM_MAX && op != DBX_COMM_MIN)
        return dbx__fail(DBX_EINVAL, "%s: unknown reduction %d", fn, (int)op);
    return DBX_OK;
}

static dbx_status check_root(const dbx__comm *c, int root, const char *fn)
{
    if (root < 0 || root >= c->size)
        return dbx__fail(DBX_EINVAL, "%s: root %d is not a rank of %d", fn, root, c->size);
    return DBX_OK;
}

/* ---- gradient all-reduce: front end of allreduce.c ---------------------------------------- */
static dbx_status iallreduce(dbx__comm *c, float *buf, size_t n, int key)
{
    c->dg_count++;
    c->dg_arsum += ((uint64_t)key * 0x9e3779b97f4a7c15ull) ^ (n * 0xc2b2ae3d27d4eb4full);
    if (c->kind != DBX_COMM_MPI || c->size == 1) {
        dbx__ar_algo a = c->ar_algo == DBX_AR_AUTO ? DBX_AR_RD : c->ar_algo;
        c->ar_started[a]++;
        return DBX_OK;
    }
    return dbx__ar_start(c, buf, n, key, c->ar_algo);
}

dbx_status dbx__comm_iallreduce_f32(dbx__comm *c, float *buf, size_t n, int key)
{
    COMM_CHECK_C(c, "dbx__comm_iallreduce_f32");
    DBX_TRY(check_buf(buf, n, "dbx__comm_iallreduce_f32", "buf"));
    if (key < 0 || key >= DBX_AR_MAX_KEY)
        return dbx__fail(DBX_EINVAL, "dbx__comm_iallreduce_f32: key %d outside 0..%d", key,
                         DBX_AR_MAX_KEY - 1);
    if (n > INT_MAX)
        return dbx__fail(DBX_EINVAL, "dbx__comm_iallreduce_f32: %zu floats exceed INT_MAX", n);
    return iallreduce(c, buf, n, key);
}

dbx_status dbx__comm_allreduce_progress(dbx__comm *c)
{
    COMM_CHECK_C(c, "dbx__comm_allreduce_progress");
    return c->ar ? dbx__ar_progress(c, 0) : DBX_OK;
}

dbx_status dbx__comm_allreduce_wait(dbx__comm *c)
{
    COMM_CHECK_C(c, "dbx__comm_allreduce_wait");
    return c->ar ? dbx__ar_progress(c, 1) : DBX_OK;
}

dbx_status dbx__comm_allreduce_f32(dbx__comm *c, float *buf, size_t n)
{
    COMM_CHECK_C(c, "dbx__comm_allreduce_f32");
    DBX_TRY(check_buf(buf, n, "dbx__comm_allreduce_f32", "buf"));
    double t0 = dbx__now();
    size_t chunk = c->bucket_bytes ? c->bucket_bytes / sizeof(float) : n;
    if (chunk == 0) chunk = 1;
    if (chunk > ((size_t)1 << 30)) chunk = (size_t)1 << 30;
    size_t nb = n ? (n + chunk - 1) / chunk : 0;
    if (nb > (size_t)(32767 - DBX_AR_MAX_KEY))
        return dbx__fail(DBX_EINVAL, "dbx__comm_allreduce_f32: %zu buckets (bucket_bytes %zu): "
                         "at most %d", nb, c->bucket_bytes, 32767 - DBX_AR_MAX_KEY);
    for (size_t b = 0; b < nb; b++) {
        size_t off = b * chunk, len = n - off < chunk ? n - off : chunk;
        DBX_TRY(iallreduce(c, buf + off, len, DBX_AR_MAX_KEY + (int)b));
    }
    DBX_TRY(dbx__comm_allreduce_wait(c));
    c->last_ar_seconds = c->kind == DBX_COMM_MPI ? dbx__now() - t0 : 0;
    c->last_ar_bytes = n * sizeof(float);
    return DBX_OK;
}

size_t dbx__comm_bucket_bytes(const dbx__comm *c) { return c ? c->bucket_bytes : 0; }
dbx__ar_algo dbx__comm_ar_algo(const dbx__comm *c) { return c ? c->ar_algo : DBX_AR_AUTO; }
int dbx__comm_ar_hier(const dbx__comm *c) { return c ? c->ar_hier : 0; }
int dbx__comm_ar_participants(const dbx__comm *c) { return c ? c->ar_participants : 1; }

void dbx__comm_ar_counts(const dbx__comm *c, int64_t counts[DBX_AR_NALGO])
{
    for (int i = 0; i < DBX_AR_NALGO; i++) counts[i] = c ? c->ar_started[i] : 0;
}

dbx_status dbx__comm_allreduce_f64(dbx__comm *c, double *buf, size_t n, dbx__comm_op op)
{
    COMM_CHECK_C(c, "dbx__comm_allreduce_f64");
    DBX_TRY(check_buf(buf, n, "dbx__comm_allreduce_f64", "buf"));
    DBX_TRY(check_op(op, "dbx__comm_allreduce_f64"));
    note(c, 1 + (unsigned)op, n);
    if (c->kind == DBX_COMM_MPI) return dbx__comm_mpi_allreduce_f64(c, buf, n, op);
    return DBX_OK;
}

dbx_status dbx__comm_allreduce_i64(dbx__comm *c, int64_t *buf, size_t n, dbx__comm_op op)
{
    COMM_CHECK_C(c, "dbx__comm_allreduce_i64");
    DBX_TRY(check_buf(buf, n, "dbx__comm_allreduce_i64", "buf"));
    DBX_TRY(check_op(op, "dbx__comm_allreduce_i64"));
    note(c, 4 + (unsigned)op, n);
    if (c->kind == DBX_COMM_MPI) return dbx__comm_mpi_allreduce_i64(c, buf, n, op);
    return DBX_OK;
}

dbx_status dbx__comm_range_u64(dbx__comm *c, const uint64_t *v, int n, int64_t *lo, int64_t *hi)
{
    int64_t w[16];
    if (n < 0 || n > 8)
        return dbx__fail(DBX_EINVAL, "dbx__comm_range_u64: %d values (at most 8)", n);
    for (int i = 0; i < n; i++) {
        w[2 * i] = (int64_t)v[i];
        w[2 * i + 1] = ~(int64_t)v[i]; /* MIN of ~x = ~MAX of x */
    }
    DBX_TRY(dbx__comm_allreduce_i64(c, w, 2 * (size_t)n, DBX_COMM_MIN));
    for (int i = 0; i < n; i++) {
        lo[i] = w[2 * i];
        hi[i] = ~w[2 * i + 1];
    }
    return DBX_OK;
}

dbx_status dbx__comm_allgather(dbx__comm *c, const void *send, size_t bytes_each, void *recv)
{
    COMM_CHECK_C(c, "dbx__comm_allgather");
    DBX_TRY(check_buf(send, bytes_each, "dbx__comm_allgather", "send"));
    DBX_TRY(check_buf(recv, bytes_each, "dbx__comm_allgather", "recv"));
    if (bytes_each > INT_MAX)
        return dbx__fail(DBX_EINVAL, "dbx__comm_allgather: %zu bytes per rank exceed INT_MAX",
                         bytes_each);
    note(c, 7, bytes_each);
    if (c->kind == DBX_COMM_MPI) return dbx__comm_mpi_allgather(c, send, bytes_each, recv);
    if (bytes_each && recv != send) memmove(recv, send, bytes_each);
    return DBX_OK;
}

dbx_status dbx__comm_allgatherv(dbx__comm *c, const void *send, size_t bytes, void *recv,
                               const size_t *counts, const size_t *displs)
{
    const char *fn = "dbx__comm_allgatherv";
    COMM_CHECK_C(c, fn);
    if (!counts || !displs) return dbx__fail(DBX_EINVAL, "%s: counts or displs is NULL", fn);
    DBX_TRY(check_buf(send, bytes, fn, "send"));
    for (int r = 0; r < c->size; r++) {
        if (counts[r] > INT_MAX || displs[r] > INT_MAX)
            return dbx__fail(DBX_EINVAL, "%s: rank %d's count %zu or displacement %zu exceeds "
                             "INT_MAX", fn, r, counts[r], displs[r]);
        DBX_TRY(check_buf(recv, counts[r], fn, "recv"));
    }
    if (bytes != counts[c->rank])
        return dbx__fail(DBX_EINVAL, "%s: rank %d sends %zu bytes but counts[%d] is %zu", fn,
                         c->rank, bytes, c->rank, counts[c->rank]);
    uint64_t total = 0;
    for (int r = 0; r < c->size; r++) total += counts[r];
    note(c, 8, total);
    if (c->kind == DBX_COMM_MPI)
        return dbx__comm_mpi_allgatherv(c, send, bytes, recv, counts, displs);
    if (bytes && (char *)recv + displs[0] != (const char *)send)
        memmove((char *)recv + displs[0], send, bytes);
    return DBX_OK;
}

dbx_status dbx__comm_bcast(dbx__comm *c, void *buf, size_t bytes, int root)
{
    COMM_CHECK_C(c, "dbx__comm_bcast");
    DBX_TRY(check_buf(buf, bytes, "dbx__comm_bcast", "buf"));
    DBX_TRY(check_root(c, root, "dbx__comm_bcast"));
    note(c, 9, bytes);
    if (c->kind == DBX_COMM_MPI) return dbx__comm_mpi_bcast(c, buf, bytes, root);
    return DBX_OK;
}

dbx_status dbx__comm_barrier(dbx__comm *c)
{
    COMM_CHECK_C(c, "dbx__comm_barrier");
    note(c, 10, 0);
    if (c->kind == DBX_COMM_MPI) return dbx__comm_mpi_barrier(c);
    return DBX_OK;
}

dbx_status dbx__comm_scatter_start(dbx__comm *c, const void *send, const size_t *counts,
                                  const size_t *displs, void *recv, size_t recv_cap, int root)
{
    const char *fn = "dbx__comm_scatter_start";
    COMM_CHECK_C(c, fn);
    if (c->scatter_pending)
        return dbx__fail(DBX_EINVAL, "%s: the previous scatter was not waited for", fn);
    DBX_TRY(check_root(c, root, fn));
    DBX_TRY(check_buf(recv, recv_cap, fn, "recv"));
    if (c->rank == root) {
        if (!counts || !displs)
            return dbx__fail(DBX_EINVAL, "%s: counts or displs is NULL on the root", fn);
        for (int r = 0; r < c->size; r++) {
            if (counts[r] > INT_MAX)
                return dbx__fail(DBX_EINVAL, "%s: rank %d's part of %zu bytes exceeds INT_MAX",
                                 fn, r, counts[r]);
            DBX_TRY(check_buf(send, counts[r], fn, "send"));
        }
        /* the root's own part is a local copy (at most recv_cap bytes; wait reports more) */
        size_t own = counts[root];
        size_t n = own < recv_cap ? own : recv_cap;
        const char *src = (const char *)send + displs[root];
        if (n && (const char *)recv != src) memmove(recv, src, n);
        c->scatter_own = own;
    }
    note(c, 11, (uint64_t)root);
    if (c->kind == DBX_COMM_MPI)
        DBX_TRY(dbx__comm_mpi_scatter_start(c, send, counts, displs, recv, recv_cap, root));
    c->scatter_pending = 1;
    c->scatter_root = root;
    c->scatter_cap = recv_cap;
    c->scatter_seq++;
    return DBX_OK;
}

dbx_status dbx__comm_scatter_wait(dbx__comm *c, size_t *recv_bytes)
{
    const char *fn = "dbx__comm_scatter_wait";
    COMM_CHECK_C(c, fn);
    if (!c->scatter_pending) return dbx__fail(DBX_EINVAL, "%s: no scatter was started", fn);
    c->scatter_pending = 0;
    size_t got = c->scatter_own;
    if (c->kind == DBX_COMM_MPI) {
        size_t theirs = 0;
        dbx_status s = dbx__comm_mpi_scatter_wait(c, &theirs);
        if (c->rank != c->scatter_root) got = theirs;
        if (recv_bytes) *recv_bytes = got;
        if (s != DBX_OK) return s;
    }
    if (recv_bytes) *recv_bytes = got;
    if (got > c->scatter_cap)
        return dbx__fail(DBX_EINVAL, "%s: rank %d's part is %zu bytes but recv_cap is %zu", fn,
                         c->rank, got, c->scatter_cap);
    return DBX_OK;
}
