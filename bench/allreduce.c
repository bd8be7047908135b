/* Collective microbenchmark over dbx's comm layer or MPI itself (run under mpirun / srun).
 *
 *   mpirun -np N bench_allreduce [--op allreduce|allgather] [--api dbx|mpi] [--max-bytes B]
 *                                [--sizes B1,B2,...] [--no-sweep] [--reps R] [--json FILE]
 *                                [--label TEXT]
 *
 * Sizes: the power-of-4 sweep 4 B .. --max-bytes (default 64 MiB; --no-sweep: none) and the
 * sizes dbx sends (--sizes replaces them): for the all-reduce the Tree-LSTM's dense gradient
 * at size 128 and 256 (727,040 and 2,895,872 bytes; dbx all-reduces them in buckets of at
 * most 4 MiB); for the all-gather (bytes per rank, as dbx's sparse embedding exchange sends
 * them: each rank its own touched rows) 686 row ids and 686 rows of 128 and of 256 floats
 * (about what a worker with 64 SST trees touches).
 *   --op allreduce: in-place float SUM; --op allgather: every rank contributes B bytes.
 *   --api dbx (default): dbx's comm layer as training calls it (dbx__comm_allreduce_f32,
 *     dbx__comm_allgatherv): with Open MPI 4.1 an in-place MPI_Iallreduce per bucket
 *     (coll libnbc), or what DBX_ALLREDUCE selects where dbx has its own algorithms;
 *   --api mpi: the blocking MPI_Allreduce / MPI_Allgather on MPI_COMM_WORLD (Open MPI's coll
 *     tuned: choose its algorithm with --mca coll_tuned_use_dynamic_rules 1 --mca
 *     coll_tuned_allreduce_algorithm K).
 * Each size: R timed repetitions after warm-up, each started by a barrier, a repetition's time
 * being the slowest rank's; R = --reps (default 20) below 64 KiB, half of it up to 1 MiB and
 * a quarter from 1 MiB on (at least 3). Rank 0 prints the median, algbw = bytes / time and
 * busbw (the nccl-tests convention: algbw * 2 (N - 1) / N for the all-reduce, algbw * (N - 1)
 * / N of the gathered bytes for the all-gather), and a least-squares alpha-beta fit t = a +
 * b * bytes. --json FILE (rank 0) writes all of it with what the MPI library reports (its
 * version, the coll tuned / libnbc algorithm variables in effect, DBX_ALLREDUCE):
 * {"ranks", "op", "api", "label", "alpha_s", "beta_s_per_byte", "mpi": {...},
 *  "sizes": [{"bytes", "seconds" (median), "min_s", "max_s", "reps"}]}. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/status.h"

enum { MAXS = 64 };

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int add_size(double *sz, int ns, double b)
{
    for (int i = 0; i < ns; i++)
        if (sz[i] == b) return ns;
    if (ns < MAXS) sz[ns++] = b;
    return ns;
}

/* the value of an integer MPI_T control variable ("" when the library has none by that name) */
static void cvar_int(const char *name, char *out, size_t cap)
{
    int idx, count, v = 0;
    MPI_T_cvar_handle h;
    snprintf(out, cap, "%s", "");
    if (MPI_T_cvar_get_index(name, &idx) != MPI_SUCCESS) return;
    if (MPI_T_cvar_handle_alloc(idx, NULL, &h, &count) != MPI_SUCCESS) return;
    if (count == 1 && MPI_T_cvar_read(h, &v) == MPI_SUCCESS) snprintf(out, cap, "%d", v);
    MPI_T_cvar_handle_free(&h);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static void usage(void)
{
    printf("usage: mpirun -np N bench_allreduce [--op allreduce|allgather] [--api dbx|mpi]\n"
           "         [--max-bytes B] [--sizes B1,B2,...] [--no-sweep] [--reps R] [--json FILE]\n"
           "         [--label TEXT]\n");
}

int main(int argc, char **argv)
{
    size_t max_bytes = 64u << 20;
    int reps = 20, sweep = 1, gather = 0, api_mpi = 0;
    const char *json = NULL, *sizes = NULL, *label = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--max-bytes") && v) max_bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--reps") && v) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--json") && v) json = argv[++i];
        else if (!strcmp(a, "--sizes") && v) sizes = argv[++i];
        else if (!strcmp(a, "--label") && v) label = argv[++i];
        else if (!strcmp(a, "--no-sweep")) sweep = 0;
        else if (!strcmp(a, "--op") && v && (!strcmp(v, "allreduce") || !strcmp(v, "allgather")))
            gather = !strcmp(argv[++i], "allgather");
        else if (!strcmp(a, "--api") && v && (!strcmp(v, "dbx") || !strcmp(v, "mpi")))
            api_mpi = !strcmp(argv[++i], "mpi");
        else {
            usage();
            if (strcmp(a, "--help")) fprintf(stderr, "bench_allreduce: bad argument '%s'\n", a);
            return strcmp(a, "--help") ? 2 : 0;
        }
    }
    if (reps < 3) reps = 3;
    double sz[MAXS];
    int ns = 0;
    if (sweep)
        for (double b = 4; b <= (double)max_bytes; b *= 4) ns = add_size(sz, ns, b);
    if (sizes) {
        for (const char *p = sizes; *p;) {
            char *e;
            double b = strtod(p, &e);
            if (e == p || b < 4 || (*e && *e != ',')) {
                fprintf(stderr, "bench_allreduce: --sizes wants byte counts >= 4 separated by "
                                "commas (got '%s')\n", sizes);
                return 2;
            }
            ns = add_size(sz, ns, floor(b / 4) * 4);
            p = *e ? e + 1 : e;
        }
    } else if (gather) {
        static const double dflt[] = {686 * 4.0, 686 * 128 * 4.0, 686 * 256 * 4.0};
        for (size_t k = 0; k < sizeof dflt / sizeof *dflt; k++) ns = add_size(sz, ns, dflt[k]);
    } else {
        static const double dflt[] = {727040, 2895872};
        for (size_t k = 0; k < sizeof dflt / sizeof *dflt; k++) ns = add_size(sz, ns, dflt[k]);
    }
    if (!ns) {
        fprintf(stderr, "bench_allreduce: no sizes (--no-sweep without --sizes)\n");
        return 2;
    }
    qsort(sz, (size_t)ns, sizeof *sz, cmp_d);

    dbx__comm *c = NULL;
    dbx__comm_opts co = dbx__comm_opts_default();
    co.timeout_s = 120;
    if (dbx__comm_init(&co, &argc, &argv, &c)) {
        fprintf(stderr, "bench_allreduce: %s\n", dbx_last_error());
        return 1;
    }
    int rank = dbx__comm_rank(c), N = dbx__comm_size(c);
    if (api_mpi && dbx__comm_kind_of(c) != DBX_COMM_MPI) {
        fprintf(stderr, "bench_allreduce: --api mpi needs an MPI launch (mpirun / srun)\n");
        dbx__comm_free(c);
        return 2;
    }
    size_t maxb = (size_t)sz[ns - 1];
    float *buf = calloc(maxb / sizeof(float) + 1, sizeof(float));
    char *recv = gather ? malloc(maxb * (size_t)N + 1) : NULL;
    size_t *counts = calloc((size_t)N, sizeof *counts), *displs = calloc((size_t)N, sizeof *displs);
    double *t = malloc((size_t)reps * sizeof *t);
    double med[MAXS], tmin[MAXS], tmax[MAXS];
    int nrep[MAXS];
    if (!buf || (gather && !recv) || !counts || !displs || !t) {
        fprintf(stderr, "bench_allreduce: out of memory (%zu bytes)\n", maxb);
        dbx__comm_abort(c, 1, "out of memory");
    }
    const char *opname = gather ? "all-gather" : "all-reduce";
    if (rank == 0) {
        printf("%s over %d rank(s), %s: %s, median of up to %d\n", opname, N,
               api_mpi ? "MPI directly" : "dbx's comm layer",
               gather ? "bytes per rank" : "in-place float SUM", reps);
        if (*label) printf("label: %s\n", label);
        printf("%12s %12s %12s %12s\n", "bytes", "time (us)", "algbw GB/s", "busbw GB/s");
    }
    for (int s = 0; s < ns; s++) {
        size_t bytes = (size_t)sz[s], n = bytes / sizeof(float);
        int R = bytes >= (1u << 20) ? reps / 4 : bytes >= (64u << 10) ? reps / 2 : reps;
        if (R < 3) R = 3;
        int warm = bytes >= (1u << 20) ? 1 : 2;
        for (int r = 0; r < N; r++) {
            counts[r] = bytes;
            displs[r] = (size_t)r * bytes;
        }
        for (int r = 0; r < R + warm; r++) {
            dbx__comm_barrier(c); /* collective (all ranks): aligned starts */
            double t0 = dbx__now();
            int rc = 0;
            if (gather && api_mpi)
                rc = MPI_Allgather(buf, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE,
                                   MPI_COMM_WORLD) != MPI_SUCCESS;
            else if (gather)
                rc = dbx__comm_allgatherv(c, buf, bytes, recv, counts, displs) != DBX_OK;
            else if (api_mpi)
                rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM,
                                   MPI_COMM_WORLD) != MPI_SUCCESS;
            else
                rc = dbx__comm_allreduce_f32(c, buf, n) != DBX_OK;
            if (rc) {
                fprintf(stderr, "bench_allreduce: %s of %zu bytes failed: %s\n", opname, bytes,
                        api_mpi ? "MPI error" : dbx_last_error());
                dbx__comm_abort(c, 1, "collective failed");
            }
            if (r >= warm) t[r - warm] = dbx__now() - t0;
        }
        /* collective (all ranks): the slowest rank's times define the collective's time */
        dbx__comm_allreduce_f64(c, t, (size_t)R, DBX_COMM_MAX);
        qsort(t, (size_t)R, sizeof *t, cmp_d);
        double m = R % 2 ? t[R / 2] : 0.5 * (t[R / 2 - 1] + t[R / 2]);
        double alg = (double)bytes / m / 1e9, bus = alg;
        if (N > 1) bus = gather ? alg * (N - 1) : alg * 2.0 * (N - 1) / N;
        med[s] = m;
        tmin[s] = t[0];
        tmax[s] = t[R - 1];
        nrep[s] = R;
        if (rank == 0) printf("%12zu %12.1f %12.3f %12.3f\n", bytes, 1e6 * m, alg, bus);
    }
    /* alpha-beta fit t = a + b * bytes (least squares) */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < ns; i++) {
        sx += sz[i];
        sy += med[i];
        sxx += sz[i] * sz[i];
        sxy += sz[i] * med[i];
    }
    double den = ns * sxx - sx * sx;
    double b = den > 0 ? (ns * sxy - sx * sy) / den : 0, a = (sy - b * sx) / ns;
    if (a < med[0] * 0.5) a = med[0]; /* latency: never below the smallest message's time */
    if (rank == 0) {
        printf("alpha-beta fit: alpha %.1f us, beta %.3f ns/byte (%.2f GB/s)\n", 1e6 * a, 1e9 * b,
               b > 0 ? 1e-9 / b : INFINITY);
        FILE *jf;
        if (json && !(jf = fopen(json, "w")))
            fprintf(stderr, "bench_allreduce: cannot write %s\n", json);
        else if (json) {
            char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "", v[32];
            int len = 0, prov;
            MPI_Get_library_version(lib, &len);
            char *nl = strchr(lib, '\n');
            if (nl) *nl = 0;
            fprintf(jf, "{\"ranks\":%d,\"op\":\"%s\",\"api\":\"%s\",\"label\":", N,
                    gather ? "allgather" : "allreduce", api_mpi ? "mpi" : "dbx");
            json_str(jf, label);
            fprintf(jf, ",\"alpha_s\":%.9g,\"beta_s_per_byte\":%.9g,\"mpi\":{\"library\":", a, b);
            json_str(jf, lib);
            static const char *cv[] = {"coll_tuned_use_dynamic_rules",
                                       "coll_tuned_allreduce_algorithm",
                                       "coll_tuned_allgather_algorithm",
                                       "coll_libnbc_iallreduce_algorithm"};
            if (MPI_T_init_thread(MPI_THREAD_SINGLE, &prov) == MPI_SUCCESS) {
                for (size_t k = 0; k < sizeof cv / sizeof *cv; k++) {
                    cvar_int(cv[k], v, sizeof v);
                    fprintf(jf, ",\"%s\":%s", cv[k], *v ? v : "null");
                }
                MPI_T_finalize();
            }
            fprintf(jf, ",\"DBX_ALLREDUCE\":");
            if (getenv("DBX_ALLREDUCE")) json_str(jf, getenv("DBX_ALLREDUCE"));
            else fprintf(jf, "null");
            fprintf(jf, "},\"sizes\":[");
            for (int i = 0; i < ns; i++)
                fprintf(jf, "%s{\"bytes\":%.0f,\"seconds\":%.9g,\"min_s\":%.9g,\"max_s\":%.9g,"
                            "\"reps\":%d}", i ? "," : "", sz[i], med[i], tmin[i], tmax[i],
                        nrep[i]);
            fprintf(jf, "]}\n");
            fclose(jf);
        }
    }
    free(buf);
    free(recv);
    free(counts);
    free(displs);
    free(t);
    dbx__comm_free(c);
    return 0;
}
