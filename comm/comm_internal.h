/* Internal to comm/: the dbx__comm object shared by the front end (comm.c: argument checks,
 * the single-process implementation, watchdog bookkeeping) and the MPI back end
 * (comm_mpi.c: the only file that includes mpi.h). topo.c reads rank fields only.
 *
 * Thread safety: a dbx__comm is used by one thread; the watchdog thread (comm_mpi.c) reads
 * wd_call, wd_since and wd_context under wd_mu, which the owner thread takes briefly on
 * entry to and exit from every blocking call. */
#ifndef DBX_COMM_COMM_INTERNAL_H
#define DBX_COMM_COMM_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"

typedef struct dbx_comm_mpi dbx_comm_mpi; /* MPI state, defined in comm_mpi.c */
typedef struct dbx__ar dbx__ar;           /* all-reduce engine, defined in allreduce.c */

struct dbx__comm {
    dbx__comm_kind kind;
    int rank, size, local_rank, local_size;
    char host[256];
    size_t bucket_bytes;
    double timeout_s;

    double last_ar_seconds; /* dbx__comm_last_allreduce */
    size_t last_ar_bytes;

    /* gradient all-reduce (allreduce.c) */
    dbx__ar_algo ar_algo;
    int ar_hier_opt;         /* the option: -1 auto, 0, 1 */
    int ar_hier;             /* in force */
    int ar_participants;
    int ar_wire_bf16;        /* gradients travel as bfloat16 */
    dbx__ar_model ar_model;
    int64_t ar_started[DBX_AR_NALGO];
    dbx__ar *ar;             /* NULL in a single process */

    /* dbx__comm_digest */
    uint64_t dg_count, dg_hash, dg_arsum;

    /* the one outstanding scatter */
    int scatter_pending;
    int scatter_root;
    size_t scatter_cap;      /* recv_cap given to start */
    size_t scatter_own;      /* root (and single): the size of its own part */
    unsigned scatter_seq;    /* scatters started so far: the tag of the next one */

    /* watchdog: the blocking call in progress (NULL: none) since wd_since */
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;    /* signalled (with wd_stop) to end the watchdog */
    const char *wd_call;
    double wd_since;
    char wd_context[96];
    int wd_stop;
    int wd_running;
    pthread_t wd_thread;

    dbx_comm_mpi *mpi;       /* NULL in a single process */
};

/* Watchdog bookkeeping around a blocking call; call is a static string such as
 * "dbx__comm_barrier/MPI_Barrier". leave is idempotent. */
void dbx__comm_wd_enter(dbx__comm *c, const char *call);
void dbx__comm_wd_leave(dbx__comm *c);
/* Writes "[rR/N host] dbx: fatal: " + msg + newline to stderr and flushes it. */
void dbx__comm_print_fatal(const dbx__comm *c, const char *msg);

/* ---- MPI back end (comm_mpi.c). Arguments are checked by comm.c before these calls. ---- */
int dbx__comm_mpi_initialized(void); /* MPI_Init* done and MPI_Finalize not yet */
dbx_status dbx__comm_mpi_init(dbx__comm *c, int *argc, char ***argv);
void dbx__comm_mpi_free(dbx__comm *c);
_Noreturn void dbx__comm_mpi_abort(int code);
/* The all-reduce engine (allreduce.c), MPI only: init after the communicators exist
 * (leader_of[r]: the lowest rank on rank r's node; local: no communication),
 * start, progress (block: until every operation has completed). */
dbx_status dbx__ar_init(dbx__comm *c, const int *leader_of, int hier);
void dbx__ar_free(dbx__comm *c);
dbx_status dbx__ar_start(dbx__comm *c, float *buf, size_t n, int key, dbx__ar_algo algo);
dbx_status dbx__ar_progress(dbx__comm *c, int block);
dbx_status dbx__comm_mpi_allreduce_f64(dbx__comm *c, double *buf, size_t n, dbx__comm_op op);
dbx_status dbx__comm_mpi_allreduce_i64(dbx__comm *c, int64_t *buf, size_t n, dbx__comm_op op);
dbx_status dbx__comm_mpi_allgather(dbx__comm *c, const void *send, size_t bytes_each,
                                   void *recv);
dbx_status dbx__comm_mpi_allgatherv(dbx__comm *c, const void *send, size_t bytes, void *recv,
                                    const size_t *counts, const size_t *displs);
dbx_status dbx__comm_mpi_bcast(dbx__comm *c, void *buf, size_t bytes, int root);
dbx_status dbx__comm_mpi_barrier(dbx__comm *c);
dbx_status dbx__comm_mpi_scatter_start(dbx__comm *c, const void *send, const size_t *counts,
                                       const size_t *displs, void *recv, size_t recv_cap,
                                       int root);
dbx_status dbx__comm_mpi_scatter_wait(dbx__comm *c, size_t *recv_bytes);

#endif /* DBX_COMM_COMM_INTERNAL_H */
