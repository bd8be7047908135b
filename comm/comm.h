/* One interface for the collectives and point-to-point transfers of distributed training,
 * with an MPI implementation (CPU workers), a single-process implementation (no MPI: every
 * collective is the identity), and room for NCCL (GPU workers). Only comm/ calls MPI.
 *
 * Every rank must issue the same collectives in the same order; call sites say so. All MPI
 * return codes are checked (the communicators use MPI_ERRORS_RETURN) and turned into
 * DBX_EMPI with "host pid file:line: MPI_Xxx: <MPI error string>". A watchdog thread aborts
 * the whole job (naming the rank that waits and on what) when a collective blocks longer
 * than the configured timeout, so a dead or frozen rank never leaves the others hanging.
 * A dbx__comm is used by one thread (the watchdog only reads its state). Sizes are size_t;
 * a count that MPI cannot express (> INT_MAX) is refused with DBX_EINVAL, except where a
 * function says it splits the transfer. */
#ifndef DBX_COMM_COMM_H
#define DBX_COMM_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "dbx/dbx.h"

typedef struct dbx__comm dbx__comm;

typedef enum dbx__comm_kind { DBX_COMM_SINGLE, DBX_COMM_MPI } dbx__comm_kind;

/* Gradient all-reduce algorithms (comm/allreduce.c has the details):
 *   DBX_AR_AUTO  per operation, the one the cost model (dbx__ar_model) predicts fastest for
 *                its participants and size, among rd, rabenseifner and ring;
 *   DBX_AR_MPI   MPI_Iallreduce, the MPI library's own choice;
 *   DBX_AR_RD    recursive doubling: log2 P steps of the whole buffer (latency-optimal);
 *   DBX_AR_RAB   Rabenseifner: reduce-scatter + all-gather, 2 log2 P steps, 2 (P-1)/P of
 *                the buffer (bandwidth- and latency-efficient);
 *   DBX_AR_RING  2 (P-1) steps of n/P (bandwidth-optimal, latency 2 (P-1) alpha).
 * rd and rabenseifner sum every element by the same tree: the same bits as each other, on
 * every rank and for any bucketing. */
typedef enum dbx__ar_algo {
    DBX_AR_AUTO, DBX_AR_MPI, DBX_AR_RD, DBX_AR_RAB, DBX_AR_RING, DBX_AR_NALGO
} dbx__ar_algo;
/* Parses "auto" | "mpi" | "rd" | "rabenseifner" (or "rab") | "ring". */
dbx_status dbx__ar_algo_parse(const char *name, dbx__ar_algo *out);
const char *dbx__ar_algo_name(dbx__ar_algo a);

/* Per-algorithm alpha-beta costs: alpha seconds per message step, beta seconds per byte. */
typedef struct dbx__ar_cost { double alpha, beta; } dbx__ar_cost;
typedef struct dbx__ar_model { dbx__ar_cost rd, rab, ring; } dbx__ar_model;
/* Predicted seconds of algorithm a (rd, rabenseifner, ring; else -1) on P participants. */
double dbx__ar_model_seconds(const dbx__ar_model *m, dbx__ar_algo a, int P, size_t bytes);
/* The algorithm m predicts fastest for P participants and bytes (ties: rd, rabenseifner,
 * ring in that order). */
dbx__ar_algo dbx__ar_choose(const dbx__ar_model *m, int P, size_t bytes);
/* Parses "rd=ALPHA_US,BETA_NS;rabenseifner=...;ring=..." (any subset; microseconds and
 * nanoseconds per byte) into m, which keeps the costs not named. */
dbx_status dbx__ar_model_parse(const char *spec, dbx__ar_model *m);

typedef struct dbx__comm_opts {
    int want_mpi;           /* -1: auto (MPI when launched by mpirun/srun), 0: single, 1: MPI */
    size_t bucket_bytes;    /* dbx__comm_allreduce_f32's bucket size (default 4 MiB); 0: one
                             * operation */
    double timeout_s;       /* watchdog: abort when a collective waits longer (default 60);
                             * <= 0 disables the watchdog */
    dbx__ar_algo algo;      /* gradient all-reduce algorithm (default DBX_AR_AUTO) */
    int hier;               /* hierarchical all-reduce (node leaders): -1 auto (when a node
                             * holds several ranks and there are several nodes; default),
                             * 0 off, 1 on */
    int wire_bf16;          /* 1: gradients travel (and are summed) as bfloat16: half the bytes,
                             * sums rounded to bfloat16 after each addition (changes the
                             * results; not with DBX_AR_MPI). Default 0 */
    dbx__ar_model model;    /* the costs DBX_AR_AUTO compares (default: dbx's measurement on
                             * TCP between namespace hosts, README "Multi-node benchmarks");
                             * the environment variable DBX_ALLREDUCE_MODEL overrides them */
} dbx__comm_opts;

/* The defaults: {want_mpi = -1, bucket_bytes = 4 MiB, timeout_s = 60, algo = auto, hier =
 * -1, model = the measured one}. dbx__comm_init with opts == NULL uses them. Auto means MPI
 * when OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK or PMI_SIZE is set, or a Slurm step of more
 * than one task (SLURM_STEP_ID, SLURM_PROCID, SLURM_STEP_NUM_TASKS > 1), or MPI is already
 * initialised; otherwise single. */
dbx__comm_opts dbx__comm_opts_default(void);

/* Initialises MPI if wanted (MPI_Init_thread, MPI_THREAD_FUNNELED; not when MPI is already
 * initialised, and then dbx__comm_free does not finalise it either), duplicates
 * MPI_COMM_WORLD for gradients and for control, sets MPI_ERRORS_RETURN on both (and on
 * MPI_COMM_WORLD), computes the local rank with MPI_Comm_split_type(MPI_COMM_TYPE_SHARED),
 * starts the watchdog. Collective over MPI_COMM_WORLD. argc/argv may be NULL. */
dbx_status dbx__comm_init(const dbx__comm_opts *opts, int *argc, char ***argv, dbx__comm **out);
/* Stops the watchdog, frees the communicators and finalises MPI (if this object initialised
 * it: free that object after any others). Collective. A started scatter must have been
 * waited for. Accepts NULL. */
void dbx__comm_free(dbx__comm *c);

dbx__comm_kind dbx__comm_kind_of(const dbx__comm *c);
int dbx__comm_rank(const dbx__comm *c);
int dbx__comm_size(const dbx__comm *c);
int dbx__comm_local_rank(const dbx__comm *c);   /* rank among the ranks of this host */
int dbx__comm_local_size(const dbx__comm *c);
const char *dbx__comm_host(const dbx__comm *c); /* this rank's host name */

/* In-place SUM all-reduce of n floats, in buckets of bucket_bytes (all in flight, then one
 * wait), with the configured algorithm. Any n: a bucket never exceeds 2^30 floats. Must not
 * be called while dbx__comm_iallreduce_f32 operations are in flight with keys of its range
 * (it uses keys DBX_AR_MAX_KEY and up). */
dbx_status dbx__comm_allreduce_f32(dbx__comm *c, float *buf, size_t n);

/* Nonblocking in-place SUM all-reduce of n <= INT_MAX floats, identified by key (0 <= key
 * < DBX_AR_MAX_KEY), which every rank gives the same operation (same n). Ranks may start
 * their keys in different orders (the algorithms match messages by key), except with
 * DBX_AR_MPI, whose operations every rank must start in the same order. One operation per
 * key in flight; buf must stay untouched until dbx__comm_allreduce_wait. Communication
 * advances in dbx__comm_allreduce_progress (never blocks) and dbx__comm_allreduce_wait
 * (returns when every operation in flight has completed). A single process: nothing to do. */
#define DBX_AR_MAX_KEY 16384
dbx_status dbx__comm_iallreduce_f32(dbx__comm *c, float *buf, size_t n, int key);
dbx_status dbx__comm_allreduce_progress(dbx__comm *c);
dbx_status dbx__comm_allreduce_wait(dbx__comm *c);
/* The all-reduce configuration in force: algorithm (as configured), hierarchical or not,
 * the number of ranks that run the algorithm (all, or the node leaders). */
size_t dbx__comm_bucket_bytes(const dbx__comm *c); /* the opts' bucket_bytes */
dbx__ar_algo dbx__comm_ar_algo(const dbx__comm *c);
int dbx__comm_ar_hier(const dbx__comm *c);
int dbx__comm_ar_participants(const dbx__comm *c);
/* Operations started so far with each algorithm (index dbx__ar_algo; auto's resolved). */
void dbx__comm_ar_counts(const dbx__comm *c, int64_t counts[DBX_AR_NALGO]);

/* What this rank has issued: d[0] collectives and all-reduce operations, d[1] a hash of
 * the ordered collectives (kind and size, in call order), d[2] an order-free sum over the
 * all-reduce operations' (key, size). Equal on every rank when they issued the same. */
void dbx__comm_digest(const dbx__comm *c, uint64_t d[3]);
/* In-place all-reduce of doubles / int64 with SUM, MAX or MIN (statistics, agreement), on
 * the control communicator; any n (split into calls of at most 2^30 elements). */
typedef enum dbx__comm_op { DBX_COMM_SUM, DBX_COMM_MAX, DBX_COMM_MIN } dbx__comm_op;
dbx_status dbx__comm_allreduce_f64(dbx__comm *c, double *buf, size_t n, dbx__comm_op op);
dbx_status dbx__comm_allreduce_i64(dbx__comm *c, int64_t *buf, size_t n, dbx__comm_op op);
/* The smallest and largest value over the ranks of each of v[0..n) (as int64 bit patterns;
 * lo[i] == hi[i]: every rank holds the same v[i]), in one MIN all-reduce of v and ~v on the
 * control communicator. n <= 8. */
dbx_status dbx__comm_range_u64(dbx__comm *c, const uint64_t *v, int n, int64_t *lo, int64_t *hi);
/* Concatenates each rank's bytes on every rank: recv gets size * bytes_each
 * (all ranks contribute the same number of bytes; send and recv must not overlap). */
dbx_status dbx__comm_allgather(dbx__comm *c, const void *send, size_t bytes_each, void *recv);
/* Variable-size all-gather: counts[r] bytes from rank r, placed at displs[r] in recv.
 * bytes must equal counts[rank]; every count and displacement must be <= INT_MAX. */
dbx_status dbx__comm_allgatherv(dbx__comm *c, const void *send, size_t bytes, void *recv,
                               const size_t *counts, const size_t *displs);
/* Root's bytes to every rank (any size: split into pieces of at most 1 GiB). */
dbx_status dbx__comm_bcast(dbx__comm *c, void *buf, size_t bytes, int root);
dbx_status dbx__comm_barrier(dbx__comm *c);

/* Root ships rank r the bytes send + displs[r] .. + counts[r] (control communicator); every
 * rank receives its part into recv (capacity recv_cap; *recv_bytes gets the size).
 * Nonblocking: start, then finish with dbx__comm_scatter_wait before touching the buffers,
 * so that the root can plan step k+1 while the workers compute step k. One outstanding
 * scatter at a time. Every rank calls start then wait, in the same order as the other ranks;
 * send, counts and displs matter on the root only (its start returns at once: point-to-point
 * Isends of a size header and the data, with a tag per scatter), and send must stay
 * untouched until its wait. A part of 0 bytes is fine. A part larger than recv_cap makes
 * that rank's wait return DBX_EINVAL (the other ranks are unaffected; recv holds the first
 * recv_cap bytes); starting twice or waiting without a start is DBX_EINVAL. */
dbx_status dbx__comm_scatter_start(dbx__comm *c, const void *send, const size_t *counts,
                                  const size_t *displs, void *recv, size_t recv_cap, int root);
dbx_status dbx__comm_scatter_wait(dbx__comm *c, size_t *recv_bytes);

/* Aborts every rank of the job (MPI_Abort) after printing "[rR/N host] dbx: fatal: msg".
 * In a single process: exits with code. Never returns. */
_Noreturn void dbx__comm_abort(dbx__comm *c, int code, const char *msg);

/* Statistics of the last dbx__comm_allreduce_f32: seconds and bytes. */
void dbx__comm_last_allreduce(const dbx__comm *c, double *seconds, size_t *bytes);

/* Sets the context that the watchdog names when it aborts ("all-reduce step 12"); printf
 * format, kept (truncated to 95 characters) until the next call; NULL or "" clears it. */
void dbx__comm_set_context(dbx__comm *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- topology (hwloc) ---------------------------------------------------------------------- */
typedef enum dbx__bind { DBX_BIND_NONE, DBX_BIND_CORE, DBX_BIND_NUMA } dbx__bind;
/* Parses "none" | "core" | "numa"; anything else is DBX_EINVAL. */
dbx_status dbx__bind_parse(const char *name, dbx__bind *out);
const char *dbx__bind_name(dbx__bind mode);   /* "none" | "core" | "numa" */
/* Binds this process (local rank l of L) to its own cores (or NUMA node) with hwloc and
 * describes the machine and the binding in desc ("h1: 1 package, 2 cores, 2 PUs, 1 NUMA node,
 * 7.8 GiB; local rank 0/2 bound to cores 0 (cpuset 0x00000001)"). CORE: cores
 * [l*n/L, (l+1)*n/L) of n cores, or core l % n when L > n ("oversubscribed"); NUMA: node
 * l % nodes. DBX_BIND_NONE only describes (the current binding). c may be NULL (rank 0 of
 * 1); desc may be NULL. Memory size comes from sysconf. */
dbx_status dbx__topo_bind(dbx__comm *c, dbx__bind mode, char *desc, size_t desc_cap);

/* ---- GPU choice (hwloc) -------------------------------------------------------------------- */
/* GPUs of one host that dbx__gpu_assign and dbx__topo_gpu_choose consider (more are ignored:
 * near masks are 64 bits wide). */
#define DBX_GPU_MAX 64
/* Assigns each local rank i (0..nlocal-1) of one host a GPU in assign[i], from near[i]: bit g
 * set when GPU g's PCI locality intersects rank i's cpuset (0: locality unknown; bits of
 * GPUs >= ngpu are ignored). Greedy in local-rank order, so every rank of the host computes
 * the same answer: the least-loaded near GPU that still has room (fewer than
 * ceil(nlocal / ngpu) ranks, so that the load stays balanced), lowest index on ties; a rank
 * with no near GPU with room gets the least-loaded GPU of all. Ranks with equal masks thus
 * get distinct GPUs while ngpu allows, and with nlocal <= ngpu and all masks 0 rank i gets
 * GPU i. Returns the largest number of ranks on one GPU (> 1: the ranks cannot use NCCL,
 * which needs distinct GPUs); ngpu <= 0: every rank gets 0 and the result is 0. ngpu is
 * capped at DBX_GPU_MAX. Pure: no state, thread-safe. */
int dbx__gpu_assign(int nlocal, const uint64_t *near, int ngpu, int *assign);
/* Chooses this rank's GPU among the ngpu GPUs it sees (busid[g]: GPU g's PCI bus id
 * "dddd:bb:dd.f", as cudaDeviceGetPCIBusId gives it) so that the ranks of a host spread over
 * its GPUs, each near its own cores: loads the hwloc topology with I/O devices, computes
 * this rank's near mask from its current binding (dbx__topo_bind first), all-gathers the
 * masks and applies dbx__gpu_assign to the ranks of each host (host name and boot id) in
 * local-rank order. A GPU that hwloc cannot find (no PCI discovery, a container) has unknown
 * locality, which is not an error; so do all GPUs when the records of a host do not name
 * each local rank once. When the ranks of a host do not see the same GPUs (a launcher that
 * sets CUDA_VISIBLE_DEVICES per rank), each rank chooses among its own as if alone.
 * Collective over c (every rank calls it, also with ngpu = 0; c NULL: one process).
 * Writes the CUDA device index to *gpu (0 when ngpu = 0), to *sharing (may be NULL) the
 * largest number of ranks of one host on one GPU over the whole job (the same on every
 * rank; 0 when no rank sees a GPU), and to desc (may be NULL) a description such as
 * "GPU 1 (0000:41:00.0), near cpuset 0x0000ff00 (this rank's cpus), 2 local ranks on 2
 * GPUs". Call it from the thread that owns c. */
dbx_status dbx__topo_gpu_choose(dbx__comm *c, int ngpu, char (*busid)[32], int *gpu, int *sharing,
                               char *desc, size_t desc_cap);

#endif /* DBX_COMM_COMM_H */
