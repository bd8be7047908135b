/* All-reduce microbenchmark over dbx's comm layer (run under mpirun / srun): for message
 * sizes from 4 bytes to --max-bytes, the median time of an in-place float SUM all-reduce
 * (dbx__comm_allreduce_f32, bucketed like training), algbw = bytes / time and
 * busbw = algbw * 2 (N - 1) / N (the nccl-tests convention), and a least-squares fit of the
 * alpha-beta model t = a + b * bytes over the measured sizes (for the scaling projection).
 * Rank 0 prints a table and writes JSON (--json FILE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/status.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t max_bytes = 64u << 20;
    int reps = 20;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc)
            max_bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else {
            printf("usage: mpirun -np N bench_allreduce [--max-bytes B] [--reps R] "
                   "[--json FILE]\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (reps < 3) reps = 3;
    dbx__comm *c = NULL;
    dbx__comm_opts co = {.want_mpi = -1, .timeout_s = 120};
    if (dbx__comm_init(&co, &argc, &argv, &c)) {
        fprintf(stderr, "bench_allreduce: %s\n", dbx_last_error());
        return 1;
    }
    int rank = dbx__comm_rank(c), N = dbx__comm_size(c);
    float *buf = calloc(max_bytes / sizeof(float) + 1, sizeof(float));
    double *t = malloc((size_t)reps * sizeof *t);
    enum { MAXS = 32 };
    double sz[MAXS], med[MAXS];
    int ns = 0;
    FILE *jf = NULL;
    if (rank == 0) {
        printf("all-reduce over %d rank(s): in-place float SUM, median of %d\n", N, reps);
        printf("%12s %12s %12s %12s\n", "bytes", "time (us)", "algbw GB/s", "busbw GB/s");
    }
    for (size_t bytes = 4; bytes <= max_bytes && ns < MAXS; bytes *= 4) {
        size_t n = bytes / sizeof(float);
        for (int r = 0; r < reps + 2; r++) {
            dbx__comm_barrier(c); /* collective (all ranks): aligned starts */
            double t0 = dbx__now();
            if (dbx__comm_allreduce_f32(c, buf, n)) {
                fprintf(stderr, "bench_allreduce: %s\n", dbx_last_error());
                dbx__comm_abort(c, 1, "all-reduce failed");
            }
            if (r >= 2) t[r - 2] = dbx__now() - t0;
        }
        /* collective (all ranks): the slowest rank's times define the collective's time */
        dbx__comm_allreduce_f64(c, t, (size_t)reps, DBX_COMM_MAX);
        qsort(t, (size_t)reps, sizeof *t, cmp_d);
        double m = t[reps / 2], alg = (double)bytes / m / 1e9;
        double bus = N > 1 ? alg * 2.0 * (N - 1) / N : alg;
        sz[ns] = (double)bytes;
        med[ns++] = m;
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
    double b = (ns * sxy - sx * sy) / (ns * sxx - sx * sx), a = (sy - b * sx) / ns;
    if (a < med[0] * 0.5) a = med[0]; /* latency: never below the smallest message's time */
    if (rank == 0) {
        printf("alpha-beta fit: alpha %.1f us, beta %.3f ns/byte (%.2f GB/s)\n", 1e6 * a, 1e9 * b,
               b > 0 ? 1e-9 / b : INFINITY);
        if (json && (jf = fopen(json, "w"))) {
            fprintf(jf, "{\"ranks\":%d,\"alpha_s\":%.9g,\"beta_s_per_byte\":%.9g,\"sizes\":[",
                    N, a, b);
            for (int i = 0; i < ns; i++)
                fprintf(jf, "%s{\"bytes\":%.0f,\"seconds\":%.9g}", i ? "," : "", sz[i], med[i]);
            fprintf(jf, "]}\n");
            fclose(jf);
        }
    }
    free(buf);
    free(t);
    dbx__comm_free(c);
    return 0;
}
