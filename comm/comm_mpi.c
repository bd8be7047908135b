/* The MPI back end of comm/ (Open MPI, CPU workers) and the watchdog thread; dbx's own
 * all-reduce algorithms are in allreduce.c. comm.c has checked the arguments before any call
 * here.
 *
 * Every MPI return code is checked: MPI_COMM_WORLD and the two duplicated communicators
 * (grad: gradient all-reduces; ctrl: everything else) use MPI_ERRORS_RETURN, and DBX_MPI_TRY
 * turns a failure into DBX_EMPI with "host pid file:line: MPI_Xxx: <MPI error string>".
 * Nothing here calls exit() or abort(); the watchdog and dbx__comm_abort call MPI_Abort.
 *
 * Ownership: dbx_comm_mpi belongs to its dbx__comm. Thread safety: the owner thread makes
 * every MPI call (MPI_THREAD_FUNNELED) except the watchdog's final MPI_Abort. */
#define _POSIX_C_SOURCE 200809L
#include "comm/comm_mpi.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

/* The largest element count of one MPI call here: far below INT_MAX, a round number. */
#define COMM_MAX_ELEMS ((size_t)1 << 30)
/* Scatter tags cycle through 1..COMM_TAG_SPAN (MPI guarantees tags up to 32767). */
#define COMM_TAG_SPAN 32000u

struct dbx_comm_mpi {
    int initialised_here;       /* this object called MPI_Init_thread: finalise in free */
    MPI_Comm grad, ctrl;
    MPI_Request *sreq;          /* scatter: 2 per peer on the root, 2 on the others */
    MPI_Status *sst;
    int nsreq;
    uint64_t *hdr;              /* scatter: the size headers the root sends (one per rank) */
    uint64_t hdr_in;            /* scatter: the size header a non-root receives */
    int *icounts, *idispls;     /* allgatherv */
};

/* ---- errors ---------------------------------------------------------------------------- */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

dbx_status dbx__comm_mpi_fail(dbx__comm *c, int rc, const char *expr, const char *file, int line)
{
    char err[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS) snprintf(err, sizeof err, "code %d", rc);
    int name_len = (int)strcspn(expr, "(");
    dbx__comm_wd_leave(c);
    return dbx__fail(DBX_EMPI, "%s %ld %s:%d: %.*s: %s", c->host, (long)getpid(),
                     base_name(file), line, name_len, expr, err);
}

/* After MPI_Waitall returned MPI_ERR_IN_STATUS: the first request's own error. */
static int first_status_error(int rc, const MPI_Status *st, int n)
{
    if (rc != MPI_ERR_IN_STATUS) return rc;
    for (int i = 0; i < n; i++)
        if (st[i].MPI_ERROR != MPI_SUCCESS && st[i].MPI_ERROR != MPI_ERR_PENDING)
            return st[i].MPI_ERROR;
    return rc;
}

static MPI_Op mpi_op(dbx__comm_op op)
{
    return op == DBX_COMM_MAX ? MPI_MAX : op == DBX_COMM_MIN ? MPI_MIN : MPI_SUM;
}

/* ---- watchdog ------------------------------------------------------------------------- */
static void *watchdog_main(void *arg)
{
    dbx__comm *c = arg;
    pthread_mutex_lock(&c->wd_mu);
    while (!c->wd_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 500000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->wd_cv, &c->wd_mu, &ts);
        if (c->wd_stop || !c->wd_call) continue;
        double waited = dbx__now() - c->wd_since;
        if (waited <= c->timeout_s) continue;
        char msg[512];
        if (c->wd_context[0])
            snprintf(msg, sizeof msg, "no progress for %.1f s in %s (%s): a rank died or hangs",
                     waited, c->wd_call, c->wd_context);
        else
            snprintf(msg, sizeof msg, "no progress for %.1f s in %s: a rank died or hangs",
                     waited, c->wd_call);
        pthread_mutex_unlock(&c->wd_mu);
        dbx__comm_print_fatal(c, msg);
        /* Should MPI_Abort itself hang, SIGALRM ends this process and mpirun the job. */
        signal(SIGALRM, SIG_DFL);
        alarm(10);
        dbx__comm_mpi_abort(3);
    }
    pthread_mutex_unlock(&c->wd_mu);
    return NULL;
}

static dbx_status watchdog_start(dbx__comm *c)
{
    if (!(c->timeout_s > 0)) return DBX_OK;
    c->wd_stop = 0;
    int rc = pthread_create(&c->wd_thread, NULL, watchdog_main, c);
    if (rc != 0)
        return dbx__fail(DBX_ENOMEM, "%s %ld: cannot start the comm watchdog thread: %s",
                         c->host, (long)getpid(), strerror(rc));
    c->wd_running = 1;
    return DBX_OK;
}

static void watchdog_stop(dbx__comm *c)
{
    if (!c->wd_running) return;
    pthread_mutex_lock(&c->wd_mu);
    c->wd_stop = 1;
    pthread_cond_signal(&c->wd_cv);
    pthread_mutex_unlock(&c->wd_mu);
    pthread_join(c->wd_thread, NULL);
    c->wd_running = 0;
}

/* ---- life cycle ---------------------------------------------------------------------- */
int dbx__comm_mpi_initialized(void)
{
    int init = 0, fin = 0;
    if (MPI_Initialized(&init) != MPI_SUCCESS || MPI_Finalized(&fin) != MPI_SUCCESS) return 0;
    return init && !fin;
}

/* A Slurm step of several tasks whose MPI world has one rank: srun without PMI support. */
static dbx_status check_slurm_world(dbx__comm *c)
{
    const char *t = getenv("SLURM_STEP_NUM_TASKS");
    if (c->size == 1 && getenv("SLURM_STEP_ID") && t && atoi(t) > 1)
        return dbx__fail(DBX_EMPI, "%s %ld: Slurm step of %s tasks but MPI sees one rank: "
                         "launch with srun --mpi=pmix (or mpirun)", c->host, (long)getpid(), t);
    return DBX_OK;
}

dbx_status dbx__comm_mpi_init(dbx__comm *c, int *argc, char ***argv)
{
    dbx_comm_mpi *m = calloc(1, sizeof *m);
    if (!m) return dbx__fail(DBX_ENOMEM, "dbx__comm_init: out of memory");
    m->grad = m->ctrl = MPI_COMM_NULL;
    c->mpi = m;

    int init = 0, fin = 0;
    DBX_MPI_TRY(c, MPI_Initialized(&init));
    DBX_MPI_TRY(c, MPI_Finalized(&fin));
    if (fin)
        return dbx__fail(DBX_EMPI, "%s %ld: dbx__comm_init: MPI is already finalised", c->host,
                         (long)getpid());
    if (!init) {
        int provided = 0;
        DBX_MPI_TRY(c, MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
        m->initialised_here = 1;
    }
    DBX_MPI_TRY(c, MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    DBX_MPI_TRY(c, MPI_Comm_rank(MPI_COMM_WORLD, &c->rank));
    DBX_MPI_TRY(c, MPI_Comm_size(MPI_COMM_WORLD, &c->size));
    DBX_TRY(check_slurm_world(c));

    m->hdr = calloc((size_t)c->size, sizeof *m->hdr);
    m->sreq = malloc(2 * (size_t)c->size * sizeof *m->sreq);
    m->sst = malloc(2 * (size_t)c->size * sizeof *m->sst);
    m->icounts = malloc((size_t)c->size * sizeof *m->icounts);
    m->idispls = malloc((size_t)c->size * sizeof *m->idispls);
    if (!m->hdr || !m->sreq || !m->sst || !m->icounts || !m->idispls)
        return dbx__fail(DBX_ENOMEM, "dbx__comm_init: out of memory for %d ranks", c->size);

    DBX_TRY(watchdog_start(c));
    dbx__comm_wd_enter(c, "dbx__comm_init/MPI_Comm_dup");
    DBX_MPI_TRY(c, MPI_Comm_dup(MPI_COMM_WORLD, &m->grad));
    DBX_MPI_TRY(c, MPI_Comm_dup(MPI_COMM_WORLD, &m->ctrl));
    DBX_MPI_TRY(c, MPI_Comm_set_errhandler(m->grad, MPI_ERRORS_RETURN));
    DBX_MPI_TRY(c, MPI_Comm_set_errhandler(m->ctrl, MPI_ERRORS_RETURN));
    MPI_Comm local = MPI_COMM_NULL;
    DBX_MPI_TRY(c, MPI_Comm_split_type(m->ctrl, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL,
                                   &local));
    int lr = 0, ls = 1, leader = c->rank;
    int rc = MPI_Comm_rank(local, &lr);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(local, &ls);
    /* the node's leader: its lowest rank (local rank 0, as the split is keyed by rank) */
    if (rc == MPI_SUCCESS) rc = MPI_Bcast(&leader, 1, MPI_INT, 0, local);
    int frc = MPI_Comm_free(&local);
    if (rc != MPI_SUCCESS) return dbx__comm_mpi_fail(c, rc, "MPI_Comm_rank/size(local)", __FILE__, __LINE__);
    if (frc != MPI_SUCCESS) return dbx__comm_mpi_fail(c, frc, "MPI_Comm_free(local)", __FILE__, __LINE__);
    c->local_rank = lr;
    c->local_size = ls;
    int *leader_of = malloc((size_t)c->size * sizeof *leader_of);
    if (!leader_of) return dbx__fail(DBX_ENOMEM, "dbx__comm_init: out of memory");
    rc = MPI_Allgather(&leader, 1, MPI_INT, leader_of, 1, MPI_INT, m->ctrl);
    if (rc != MPI_SUCCESS) {
        free(leader_of);
        return dbx__comm_mpi_fail(c, rc, "MPI_Allgather(leaders)", __FILE__, __LINE__);
    }
    dbx__comm_wd_leave(c);
    dbx_status s = dbx__ar_init(c, leader_of, c->ar_hier_opt);
    free(leader_of);
    return s;
}

static void warn_mpi(const dbx__comm *c, int rc, const char *call)
{
    char err[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS) snprintf(err, sizeof err, "code %d", rc);
    fprintf(stderr, "[r%d/%d %s] dbx: warning: %s: %s\n", c->rank, c->size, c->host, call, err);
}

void dbx__comm_mpi_free(dbx__comm *c)
{
    watchdog_stop(c);
    dbx_comm_mpi *m = c->mpi;
    if (!m) return;
    int rc;
    if (c->scatter_pending) {
        /* contract violation: release the requests rather than hang on them */
        for (int i = 0; i < m->nsreq; i++)
            if (m->sreq[i] != MPI_REQUEST_NULL &&
                (rc = MPI_Request_free(&m->sreq[i])) != MPI_SUCCESS)
                warn_mpi(c, rc, "MPI_Request_free");
        c->scatter_pending = 0;
    }
    dbx__ar_free(c);
    if (m->grad != MPI_COMM_NULL && (rc = MPI_Comm_free(&m->grad)) != MPI_SUCCESS)
        warn_mpi(c, rc, "MPI_Comm_free");
    if (m->ctrl != MPI_COMM_NULL && (rc = MPI_Comm_free(&m->ctrl)) != MPI_SUCCESS)
        warn_mpi(c, rc, "MPI_Comm_free");
    if (m->initialised_here && dbx__comm_mpi_initialized() &&
        (rc = MPI_Finalize()) != MPI_SUCCESS)
        warn_mpi(c, rc, "MPI_Finalize");
    free(m->sreq);
    free(m->sst);
    free(m->hdr);
    free(m->icounts);
    free(m->idispls);
    free(m);
    c->mpi = NULL;
}

_Noreturn void dbx__comm_mpi_abort(int code)
{
    if (dbx__comm_mpi_initialized()) MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code); /* MPI_Abort does not return; nor may we */
}

/* ---- collectives ---------------------------------------------------------------------- */
MPI_Comm dbx__comm_mpi_grad(const dbx__comm *c) { return c->mpi->grad; }

static dbx_status allreduce_typed(dbx__comm *c, void *buf, size_t n, size_t es, MPI_Datatype t,
                                  dbx__comm_op op, const char *call)
{
    dbx__comm_wd_enter(c, call);
    for (size_t off = 0; off < n; off += COMM_MAX_ELEMS) {
        size_t len = n - off < COMM_MAX_ELEMS ? n - off : COMM_MAX_ELEMS;
        DBX_MPI_TRY(c, MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * es, (int)len, t, mpi_op(op),
                                 c->mpi->ctrl));
    }
    dbx__comm_wd_leave(c);
    return DBX_OK;
}

dbx_status dbx__comm_mpi_allreduce_f64(dbx__comm *c, double *buf, size_t n, dbx__comm_op op)
{
    return allreduce_typed(c, buf, n, sizeof *buf, MPI_DOUBLE, op,
                           "dbx__comm_allreduce_f64/MPI_Allreduce");
}

dbx_status dbx__comm_mpi_allreduce_i64(dbx__comm *c, int64_t *buf, size_t n, dbx__comm_op op)
{
    return allreduce_typed(c, buf, n, sizeof *buf, MPI_INT64_T, op,
                           "dbx__comm_allreduce_i64/MPI_Allreduce");
}

dbx_status dbx__comm_mpi_allgather(dbx__comm *c, const void *send, size_t bytes_each,
                                   void *recv)
{
    dbx__comm_wd_enter(c, "dbx__comm_allgather/MPI_Allgather");
    DBX_MPI_TRY(c, MPI_Allgather(send, (int)bytes_each, MPI_BYTE, recv, (int)bytes_each, MPI_BYTE,
                             c->mpi->ctrl));
    dbx__comm_wd_leave(c);
    return DBX_OK;
}

dbx_status dbx__comm_mpi_allgatherv(dbx__comm *c, const void *send, size_t bytes, void *recv,
                                    const size_t *counts, const size_t *displs)
{
    dbx_comm_mpi *m = c->mpi;
    for (int r = 0; r < c->size; r++) { /* comm.c checked: all <= INT_MAX */
        m->icounts[r] = (int)counts[r];
        m->idispls[r] = (int)displs[r];
    }
    dbx__comm_wd_enter(c, "dbx__comm_allgatherv/MPI_Allgatherv");
    DBX_MPI_TRY(c, MPI_Allgatherv(send, (int)bytes, MPI_BYTE, recv, m->icounts, m->idispls, MPI_BYTE,
                              m->ctrl));
    dbx__comm_wd_leave(c);
    return DBX_OK;
}

dbx_status dbx__comm_mpi_bcast(dbx__comm *c, void *buf, size_t bytes, int root)
{
    dbx__comm_wd_enter(c, "dbx__comm_bcast/MPI_Bcast");
    for (size_t off = 0; off < bytes; off += COMM_MAX_ELEMS) {
        size_t len = bytes - off < COMM_MAX_ELEMS ? bytes - off : COMM_MAX_ELEMS;
        DBX_MPI_TRY(c, MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, root, c->mpi->ctrl));
    }
    dbx__comm_wd_leave(c);
    return DBX_OK;
}

dbx_status dbx__comm_mpi_barrier(dbx__comm *c)
{
    dbx__comm_wd_enter(c, "dbx__comm_barrier/MPI_Barrier");
    DBX_MPI_TRY(c, MPI_Barrier(c->mpi->ctrl));
    dbx__comm_wd_leave(c);
    return DBX_OK;
}

/* ---- scatter: point-to-point on ctrl, one tag per scatter -------------------------------
 * The root sends each other rank a uint64 size header, then the data, both with the tag;
 * MPI's non-overtaking order matches them with the receiver's two Irecvs (posted in start,
 * the data one with recv_cap bytes: a shorter message is fine, a longer one truncates and
 * the header tells the real size). */
dbx_status dbx__comm_mpi_scatter_start(dbx__comm *c, const void *send, const size_t *counts,
                                       const size_t *displs, void *recv, size_t recv_cap,
                                       int root)
{
    dbx_comm_mpi *m = c->mpi;
    int tag = (int)(1 + c->scatter_seq % COMM_TAG_SPAN);
    m->nsreq = 0;
    if (c->rank == root) {
        for (int r = 0; r < c->size; r++) {
            if (r == root) continue;
            m->hdr[r] = counts[r];
            DBX_MPI_TRY(c, MPI_Isend(&m->hdr[r], 1, MPI_UINT64_T, r, tag, m->ctrl,
                                 &m->sreq[m->nsreq++]));
            DBX_MPI_TRY(c, MPI_Isend((const char *)send + displs[r], (int)counts[r], MPI_BYTE, r,
                                 tag, m->ctrl, &m->sreq[m->nsreq++]));
        }
    } else {
        int cap = recv_cap > INT_MAX ? INT_MAX : (int)recv_cap;
        m->hdr_in = 0;
        DBX_MPI_TRY(c, MPI_Irecv(&m->hdr_in, 1, MPI_UINT64_T, root, tag, m->ctrl,
                             &m->sreq[m->nsreq++]));
        DBX_MPI_TRY(c, MPI_Irecv(recv, cap, MPI_BYTE, root, tag, m->ctrl, &m->sreq[m->nsreq++]));
    }
    return DBX_OK;
}

dbx_status dbx__comm_mpi_scatter_wait(dbx__comm *c, size_t *recv_bytes)
{
    dbx_comm_mpi *m = c->mpi;
    *recv_bytes = 0;
    if (c->rank == c->scatter_root) {
        if (m->nsreq) {
            dbx__comm_wd_enter(c, "dbx__comm_scatter_wait/MPI_Waitall");
            int rc = MPI_Waitall(m->nsreq, m->sreq, m->sst);
            if (rc != MPI_SUCCESS)
                return dbx__comm_mpi_fail(c, first_status_error(rc, m->sst, m->nsreq), "MPI_Waitall",
                                __FILE__, __LINE__);
            dbx__comm_wd_leave(c);
        }
        return DBX_OK;
    }
    dbx__comm_wd_enter(c, "dbx__comm_scatter_wait/MPI_Wait");
    DBX_MPI_TRY(c, MPI_Wait(&m->sreq[0], MPI_STATUS_IGNORE));
    MPI_Status st;
    int rc = MPI_Wait(&m->sreq[1], &st);
    dbx__comm_wd_leave(c);
    *recv_bytes = (size_t)m->hdr_in;
    if (rc != MPI_SUCCESS) {
        int cls = 0;
        /* too small recv_cap: comm.c reports it as DBX_EINVAL from the header's size */
        if (MPI_Error_class(rc, &cls) == MPI_SUCCESS && cls == MPI_ERR_TRUNCATE &&
            m->hdr_in > c->scatter_cap)
            return DBX_OK;
        return dbx__comm_mpi_fail(c, rc, "MPI_Wait", __FILE__, __LINE__);
    }
    int got = 0;
    DBX_MPI_TRY(c, MPI_Get_count(&st, MPI_BYTE, &got));
    if ((uint64_t)got != m->hdr_in)
        return dbx__fail(DBX_EMPI, "%s %ld: scatter: the header says %llu bytes but %d arrived",
                         c->host, (long)getpid(), (unsigned long long)m->hdr_in, got);
    return DBX_OK;
}
