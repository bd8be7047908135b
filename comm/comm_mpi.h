/* Internal to comm/: what its MPI-facing files (comm_mpi.c: life cycle, collectives, the
 * watchdog; allreduce.c: dbx's own all-reduce algorithms) share. The only header of dbx that
 * includes mpi.h; no file outside comm/ includes it. */
#ifndef DBX_COMM_COMM_MPI_H
#define DBX_COMM_COMM_MPI_H

#include <mpi.h>

#include "comm/comm_internal.h"

/* Turns MPI return code rc of the call expr ("MPI_Xxx(args)") into DBX_EMPI with
 * "host pid file:line: MPI_Xxx: <MPI error string>", and clears the watchdog state. */
dbx_status dbx__comm_mpi_fail(dbx__comm *c, int rc, const char *expr, const char *file,
                              int line);

#define DBX_MPI_TRY(c, call)                                                                 \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ != MPI_SUCCESS) return dbx__comm_mpi_fail((c), rc_, #call, __FILE__, __LINE__); \
    } while (0)

/* The communicator of the gradient all-reduces (MPI_Iallreduce, DBX_AR_MPI). */
MPI_Comm dbx__comm_mpi_grad(const dbx__comm *c);

#endif /* DBX_COMM_COMM_MPI_H */
