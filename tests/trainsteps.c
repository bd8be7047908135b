/* Trains through the public trainer's step loop (dbx_trainer_step) and prints, on rank 0, one
 * line per step with what dbx_step_info reports of the training options:
 *     step K lr X grad_norm N clipped C loss L
 * (%.9g numbers), so that tests/test_trainopts.sh can compare the learning rates and the
 * gradient norms of runs on 1 and 3 MPI ranks and with and without clipping.
 * Usage: trainsteps [--model M] [--data FILE] [--synthetic N] [--steps K] [--batch B]
 *                   [--size S] [--seed S] [--optimizer O] [--lr X] [--clip-norm X]
 *                   [--dropout P] [--weight-decay X] [--lr-schedule S] [--warmup N]
 *                   [--save FILE]
 * Exit 0 when every step succeeded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/train.h"

int main(int argc, char **argv)
{
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    o.quiet = 1;
    o.steps = 10;
    o.synthetic = 200;
    o.batch = 16;
    o.embed = o.hidden = 16;
    const char *save = NULL, *optim = "adam";
    double lr = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "trainsteps: %s: missing value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model")) o.model = v;
        else if (!strcmp(a, "--data")) o.data = v;
        else if (!strcmp(a, "--synthetic")) o.synthetic = atoi(v);
        else if (!strcmp(a, "--steps")) o.steps = atoll(v);
        else if (!strcmp(a, "--batch")) o.batch = atoi(v);
        else if (!strcmp(a, "--size")) o.embed = o.hidden = atoi(v);
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--optimizer")) optim = v;
        else if (!strcmp(a, "--lr")) lr = atof(v);
        else if (!strcmp(a, "--clip-norm")) o.clip_norm = atof(v);
        else if (!strcmp(a, "--dropout")) o.dropout = atof(v);
        else if (!strcmp(a, "--weight-decay")) o.weight_decay = atof(v);
        else if (!strcmp(a, "--lr-schedule")) o.lr_schedule = v;
        else if (!strcmp(a, "--warmup")) o.warmup = atoll(v);
        else if (!strcmp(a, "--save")) save = v;
        else {
            fprintf(stderr, "trainsteps: unknown option %s\n", a);
            return 2;
        }
    }
    dbx_optim_kind kind;
    if (dbx_optim_parse(optim, &kind)) {
        fprintf(stderr, "trainsteps: %s\n", dbx_last_error());
        return 2;
    }
    o.optim = dbx_optim_default(kind);
    if (lr > 0) o.optim.lr = (float)lr;
    dbx_trainer *t = NULL;
    dbx_status s = dbx_trainer_new(&o, &t);
    if (s) {
        fprintf(stderr, "trainsteps: %s\n", dbx_last_error());
        return 1;
    }
    const int root = dbx_trainer_rank(t) == 0;
    while (!s && o.steps > 0) {
        dbx_step_info st;
        s = dbx_trainer_step(t, &st);
        if (!s && root)
            printf("step %lld lr %.9g grad_norm %.9g clipped %d loss %.9g\n", (long long)st.step,
                   st.lr, st.grad_norm, st.clipped, st.loss / (double)st.labelled);
        if (st.step >= o.steps) break;
    }
    if (!s && save) s = dbx_trainer_save(t, save);
    if (s && root) fprintf(stderr, "trainsteps: %s\n", dbx_last_error());
    dbx_trainer_free(t);
    return s ? 1 : 0;
}
