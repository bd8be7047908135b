/* dbx: the command-line program. Subcommands: train, eval, gen-data, check-data (the last two
 * in tools/data_cmds.c). Options are parsed with getopt_long and validated strictly; usage
 * errors exit 2, runtime errors print "dbx: error: <message>" and exit 1. Owned by tools/;
 * a single-threaded program (the only place in the project that calls exit codes into the
 * shell: library code returns dbx_status). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/dbx.h"
#include "dbx/model_type.h"
#include "dbx/sched.h"
#include "dbx/train.h"
#include "tools/cli.h"

#define DBX_CLI_VERSION "0.1.0" /* keep in step with project(VERSION) in CMakeLists.txt */

static void usage(FILE *f)
{
    fputs("usage: dbx <command> [options]\n"
          "\n"
          "A batching executor for dynamic neural networks.\n"
          "\n"
          "Commands:\n"
          "  train        train a model (one process, or one worker per rank under\n"
          "               mpirun / srun)\n"
          "  eval         evaluate saved parameters on a data set\n"
          "  gen-data     write a synthetic SST-like treebank or word/character lattices\n"
          "  check-data   parse data files and print their statistics\n"
          "  compare      compare two parameter files within a relative tolerance\n"
          "\n"
          "  dbx --help              this help\n"
          "  dbx --version           the version\n"
          "  dbx <command> --help    the options of a command\n",
          f);
}

/* ---- shared option values --------------------------------------------------------------- */
enum {
    OPT_MODEL = 256, OPT_DATA, OPT_DEV, OPT_EMBED, OPT_HIDDEN, OPT_MLP, OPT_BATCH, OPT_SCHED,
    OPT_OPTIM, OPT_LR, OPT_EPOCHS, OPT_STEPS, OPT_SEED, OPT_METRICS, OPT_SAVE, OPT_LOAD,
    OPT_NO_DEDUP, OPT_NO_FUSE, OPT_LOG_EVERY, OPT_SYNTH, OPT_QUIET, OPT_HELP, OPT_PARTITION,
    OPT_BIND, OPT_TIMEOUT, OPT_CHECK_REPLICAS, OPT_TRACE, OPT_TRACE_STEPS, OPT_COMM, OPT_DEVICE,
    OPT_ALLREDUCE, OPT_CLIP_NORM, OPT_DROPOUT, OPT_WEIGHT_DECAY, OPT_LR_SCHEDULE, OPT_WARMUP,
    OPT_LR_STEP_EVERY, OPT_LR_STEP_FACTOR, OPT_LR_MIN, OPT_KEEP_BEST, OPT_PATIENCE
};

#define MAX_SIZE 65536
#define MAX_BATCH 1000000
#define MAX_SYNTH 10000000

static int parse_model(const char *cmd, const char *s, const char **model)
{
    const dbx_model_type *t;
    if (dbx_model_type_find(s, &t) == DBX_OK) {
        *model = s;
        return 0;
    }
    fprintf(stderr, "dbx %s: --model: expected %s, got '%s'\n", cmd, dbx_model_type_names(), s);
    return -1;
}

static int parse_sched(const char *cmd, const char *s, const char **p)
{
    const dbx_sched_type *t;
    char choices[256];
    if (dbx_sched_find(s, &t) == DBX_OK) {
        *p = t->name;
        return 0;
    }
    fprintf(stderr, "dbx %s: --scheduler: expected %s, got '%s'\n", cmd,
            dbx_sched_choices(choices, sizeof choices), s);
    return -1;
}

/* The registered model types, one per line, for --help. */
static void print_models(void)
{
    for (int i = 0; dbx_model_type_at(i); i++) {
        const dbx_model_type *t = dbx_model_type_at(i);
        printf("                     %-14s %s\n", t->name, t->summary ? t->summary : "");
        if (t->data_help) printf("                     %-14s data: %s\n", "", t->data_help);
    }
}

/* Options common to train and eval; returns 1 if handled, 0 if not, -1 on a bad value. */
static int common_opt(const char *cmd, int c, const char *arg, dbx_train_opts *o)
{
    switch (c) {
    case OPT_MODEL: return parse_model(cmd, arg, &o->model) ? -1 : 1;
    case OPT_DATA: o->data = arg; return 1;
    case OPT_LOAD: o->load = arg; return 1;
    case OPT_BATCH: return cli_int32(cmd, "--batch", arg, 1, MAX_BATCH, &o->batch) ? -1 : 1;
    case OPT_SCHED: return parse_sched(cmd, arg, &o->scheduler) ? -1 : 1;
    case OPT_SEED: return cli_u64(cmd, "--seed", arg, &o->seed) ? -1 : 1;
    case OPT_NO_DEDUP: o->dedup = 0; return 1;
    case OPT_DEVICE:
        if (strcmp(arg, "cpu") != 0 && strcmp(arg, "cuda") != 0) {
            fprintf(stderr, "dbx %s: --device: expected cpu or cuda, got '%s'\n", cmd, arg);
            return -1;
        }
        o->device = arg;
        return 1;
    case OPT_NO_FUSE: o->fuse = 0; return 1;
    case OPT_SYNTH:
        return cli_int32(cmd, "--synthetic", arg, 1, MAX_SYNTH, &o->synthetic) ? -1 : 1;
    default: return 0;
    }
}

/* ---- train -------------------------------------------------------------------------------- */
static void train_help(void)
{
    printf("usage: dbx train [options]\n"
           "\n"
           "Trains a model on one process: progress lines go to stderr, a summary line to\n"
           "stdout.\n"
           "\n"
           "  --model M        the model (default treelstm), one of:\n");
    print_models();
    printf("  --data FILE      training data in the model's format, '-' for standard input\n"
           "                   (default: the model's synthetic data, if it has any)\n"
           "  --dev FILE       dev data, evaluated after each epoch (default: none)\n"
           "  --synthetic N    synthetic samples when there is no --data (default 2000)\n"
           "  --embed E        embedding size, 1..%d (default 128)\n"
           "  --hidden H       hidden size, 1..%d (default 128)\n"
           "  --mlp M          MLP size of models that have one, 1..%d (default: hidden)\n"
           "  --batch B        samples per minibatch, 1..%d (default 64)\n"
           "  --scheduler S    none | depth | agenda (default agenda)\n"
           "  --optimizer O    adam | sgd | adagrad (default adam)\n"
           "  --lr X           learning rate > 0 (default: adam 0.001, sgd 0.1, adagrad 0.1)\n"
           "  --epochs N       passes over the data (default 1; ignored with --steps)\n"
           "  --steps N        stop after N minibatches, wrapping epochs (default 0: off)\n"
           "  --seed S         initialisation, shuffling, synthetic data (default 1)\n"
           "  --metrics FILE   JSON-lines metrics, one object per step (default: none)\n"
           "  --save FILE      write parameters to FILE and FILE.vocab (default: none)\n"
           "  --load FILE      start from FILE and FILE.vocab, whose sizes and vocabulary\n"
           "                   define the model (default: none)\n"
           "  --no-dedup       do not merge identical nodes in a minibatch (default: merge)\n"
           "  --device D       cpu | cuda (default cpu; cuda: a GPU near the rank's cores)\n"
           "  --no-fuse        run lstm_c and lstm_h batches as separate kernels (default: fused)\n"
           "  --log-every N    a progress line every N steps, 0: none (default 10)\n"
           "  --quiet          no header, progress or epoch lines (default: off)\n"
           "\n",
           MAX_SIZE, MAX_SIZE, MAX_SIZE, MAX_BATCH);
    fputs("Regularisation, learning-rate schedule and model selection (README \"Training\n"
          "options\"); all deterministic given --seed and the same on any number of ranks:\n"
          "  --clip-norm X    rescale the step's gradient (the mean over the global batch,\n"
          "                   after the all-reduce: dense parameters and the embedding rows\n"
          "                   the step touched) to L2 norm X when it is larger (default 5;\n"
          "                   0: off)\n"
          "  --dropout P      dropout probability 0 <= P < 1 for the model (default 0); the\n"
          "                   built-in models drop embeddings and the states feeding their\n"
          "                   output layers, only while training\n"
          "  --weight-decay X L2 decay >= 0 (default 0): coupled for sgd and adagrad (X * p\n"
          "                   added to the gradient), decoupled for adam (AdamW: p -= lr * X\n"
          "                   * p); embedding rows a step does not touch are not decayed\n"
          "  --lr-schedule S  constant | step | cosine (default constant)\n"
          "  --warmup N       linear warm-up over the first N steps: lr * k / N at step k\n"
          "                   (default 0)\n"
          "  --lr-step-every N  step: multiply the rate by --lr-step-factor every N steps\n"
          "                   after the warm-up (required with step)\n"
          "  --lr-step-factor F  step: the factor > 0 (default 0.5)\n"
          "  --lr-min X       cosine: decay from --lr to X over the steps after the warm-up\n"
          "                   (default 0)\n"
          "  --keep-best      whenever the dev metric (the model's first metric, e.g.\n"
          "                   accuracy) improves, save the parameters to --save FILE (and\n"
          "                   FILE.vocab); the final ones go to FILE.last (FILE.last.vocab).\n"
          "                   Needs --dev and --save\n"
          "  --patience N     stop when the dev metric has not improved for N evaluations\n"
          "                   in a row (one per epoch; default 0: never). Needs --dev\n"
          "\n",
          stdout);
    printf("Distributed training: launch with 'mpirun -np N dbx train ...' or\n"
           "'srun --mpi=pmix dbx train ...': one worker per rank, rank 0 also coordinates.\n"
           "  --partition S    random | round-robin | lpt | similarity: how each global\n"
           "                   batch is split across workers (default similarity)\n"
           "  --bind B         none | core | numa (default: core under MPI, else none)\n"
           "  --timeout SEC    abort the job when a rank waits longer in a collective\n"
           "                   (default 60; 0: never)\n"
           "  --check-replicas N  compare parameter checksums across ranks every N steps\n"
           "                   (default 0: at the end only)\n"
           "  --trace FILE     Chrome/Perfetto trace, one track per rank (default: none)\n"
           "  --trace-steps N  steps traced from the start (default 20)\n"
           "  --comm C         auto | single | mpi (default auto: MPI under mpirun/srun)\n"
           "  --allreduce A    GPU gradients across ranks: nccl | mpi (through host memory)\n"
           "                   (default nccl when dbx has NCCL)\n"
           "  --help           this help\n");
}

static const struct option train_longopts[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"data", required_argument, NULL, OPT_DATA},
    {"dev", required_argument, NULL, OPT_DEV},
    {"embed", required_argument, NULL, OPT_EMBED},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"mlp", required_argument, NULL, OPT_MLP},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"scheduler", required_argument, NULL, OPT_SCHED},
    {"optimizer", required_argument, NULL, OPT_OPTIM},
    {"lr", required_argument, NULL, OPT_LR},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"save", required_argument, NULL, OPT_SAVE},
    {"load", required_argument, NULL, OPT_LOAD},
    {"no-dedup", no_argument, NULL, OPT_NO_DEDUP},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"no-fuse", no_argument, NULL, OPT_NO_FUSE},
    {"log-every", required_argument, NULL, OPT_LOG_EVERY},
    {"synthetic", required_argument, NULL, OPT_SYNTH},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"partition", required_argument, NULL, OPT_PARTITION},
    {"bind", required_argument, NULL, OPT_BIND},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"check-replicas", required_argument, NULL, OPT_CHECK_REPLICAS},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"trace-steps", required_argument, NULL, OPT_TRACE_STEPS},
    {"comm", required_argument, NULL, OPT_COMM},
    {"allreduce", required_argument, NULL, OPT_ALLREDUCE},
    {"clip-norm", required_argument, NULL, OPT_CLIP_NORM},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
    {"lr-schedule", required_argument, NULL, OPT_LR_SCHEDULE},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"lr-step-every", required_argument, NULL, OPT_LR_STEP_EVERY},
    {"lr-step-factor", required_argument, NULL, OPT_LR_STEP_FACTOR},
    {"lr-min", required_argument, NULL, OPT_LR_MIN},
    {"keep-best", no_argument, NULL, OPT_KEEP_BEST},
    {"patience", required_argument, NULL, OPT_PATIENCE},
    {NULL, 0, NULL, 0},
};

/* A number >= 0 (0 itself allowed, unlike cli_pos_double), below hi when hi > 0. */
static int nonneg_double(const char *flag, const char *s, double hi, double *out)
{
    char *end = NULL;
    double v = s[0] && s[0] != ' ' && s[0] != '+' ? strtod(s, &end) : NAN;
    if (!end || end == s || *end != '\0' || !isfinite(v) || !(v >= 0) || (hi > 0 && !(v < hi))) {
        if (hi > 0) fprintf(stderr, "dbx train: %s: expected a number in [0, %g), got '%s'\n", flag,
                            hi, s);
        else fprintf(stderr, "dbx train: %s: expected a number >= 0, got '%s'\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Checks s against a list of words; prints "dbx train: FLAG: expected ..." if absent. */
static int one_of(const char *flag, const char *s, const char *const *words, const char *list)
{
    for (const char *const *w = words; *w; w++)
        if (strcmp(s, *w) == 0) return 0;
    fprintf(stderr, "dbx train: %s: expected %s, got '%s'\n", flag, list, s);
    return -1;
}

static int cmd_train(int argc, char **argv)
{
    const char *cmd = "train";
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    dbx_optim_kind okind = DBX_OPT_ADAM;
    double lr = 0;
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, ":h", train_longopts, NULL)) != -1) {
        int r = common_opt(cmd, c, optarg, &o);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h':
        case OPT_HELP: train_help(); return CLI_OK;
        case OPT_DEV: o.dev = optarg; break;
        case OPT_EMBED: bad = cli_int32(cmd, "--embed", optarg, 1, MAX_SIZE, &o.embed); break;
        case OPT_HIDDEN: bad = cli_int32(cmd, "--hidden", optarg, 1, MAX_SIZE, &o.hidden); break;
        case OPT_MLP: bad = cli_int32(cmd, "--mlp", optarg, 1, MAX_SIZE, &o.mlp); break;
        case OPT_OPTIM:
            if (dbx_optim_parse(optarg, &okind) != DBX_OK) {
                fprintf(stderr, "dbx train: --optimizer: expected adam, sgd or adagrad, got '%s'\n",
                        optarg);
                bad = -1;
            }
            break;
        case OPT_LR: bad = cli_pos_double(cmd, "--lr", optarg, &lr); break;
        case OPT_EPOCHS: bad = cli_int32(cmd, "--epochs", optarg, 1, 1000000, &o.epochs); break;
        case OPT_STEPS: bad = cli_int(cmd, "--steps", optarg, 0, INT64_C(1) << 40, &o.steps); break;
        case OPT_METRICS: o.metrics = optarg; break;
        case OPT_SAVE: o.save = optarg; break;
        case OPT_LOG_EVERY:
            bad = cli_int32(cmd, "--log-every", optarg, 0, 1000000000, &o.log_every);
            break;
        case OPT_QUIET: o.quiet = 1; break;
        case OPT_PARTITION: {
            static const char *const w[] = {"random", "round-robin", "lpt", "similarity", NULL};
            bad = one_of("--partition", optarg, w, "random, round-robin, lpt or similarity");
            o.partition = optarg;
            break;
        }
        case OPT_BIND: {
            static const char *const w[] = {"none", "core", "numa", NULL};
            bad = one_of("--bind", optarg, w, "none, core or numa");
            o.bind = optarg;
            break;
        }
        case OPT_COMM: {
            static const char *const w[] = {"auto", "single", "mpi", NULL};
            bad = one_of("--comm", optarg, w, "auto, single or mpi");
            o.comm = strcmp(optarg, "single") == 0 ? 0 : strcmp(optarg, "mpi") == 0 ? 1 : -1;
            break;
        }
        case OPT_TIMEOUT: {
            double v = 0;
            bad = strcmp(optarg, "0") == 0 ? 0 : cli_pos_double(cmd, "--timeout", optarg, &v);
            o.timeout = v;
            break;
        }
        case OPT_CHECK_REPLICAS:
            bad = cli_int32(cmd, "--check-replicas", optarg, 0, 1000000000, &o.check_replicas);
            break;
        case OPT_TRACE: o.trace = optarg; break;
        case OPT_ALLREDUCE: {
            static const char *const w[] = {"nccl", "mpi", NULL};
            bad = one_of("--allreduce", optarg, w, "nccl or mpi");
            o.allreduce = optarg;
            break;
        }
        case OPT_TRACE_STEPS:
            bad = cli_int32(cmd, "--trace-steps", optarg, 1, 1000000, &o.trace_steps);
            break;
        case OPT_CLIP_NORM: bad = nonneg_double("--clip-norm", optarg, 0, &o.clip_norm); break;
        case OPT_DROPOUT: bad = nonneg_double("--dropout", optarg, 1, &o.dropout); break;
        case OPT_WEIGHT_DECAY:
            bad = nonneg_double("--weight-decay", optarg, 0, &o.weight_decay);
            break;
        case OPT_LR_SCHEDULE: {
            static const char *const w[] = {"constant", "step", "cosine", NULL};
            bad = one_of("--lr-schedule", optarg, w, "constant, step or cosine");
            o.lr_schedule = optarg;
            break;
        }
        case OPT_WARMUP:
            bad = cli_int(cmd, "--warmup", optarg, 0, INT64_C(1) << 40, &o.warmup);
            break;
        case OPT_LR_STEP_EVERY:
            bad = cli_int(cmd, "--lr-step-every", optarg, 1, INT64_C(1) << 40, &o.lr_step_every);
            break;
        case OPT_LR_STEP_FACTOR:
            bad = cli_pos_double(cmd, "--lr-step-factor", optarg, &o.lr_step_factor);
            break;
        case OPT_LR_MIN: bad = nonneg_double("--lr-min", optarg, 0, &o.lr_min); break;
        case OPT_KEEP_BEST: o.keep_best = 1; break;
        case OPT_PATIENCE:
            bad = cli_int32(cmd, "--patience", optarg, 0, 1000000000, &o.patience);
            break;
        default: return cli_opt_error(cmd, c, argv, train_longopts);
        }
        if (bad) return CLI_USAGE;
    }
    if (optind < argc) return cli_extra_arg(cmd, argv[optind]);
    o.optim = dbx_optim_default(okind);
    if (lr > 0) o.optim.lr = (float)lr;
    dbx_train_result r;
    memset(&r, 0, sizeof r);
    dbx_status s = dbx_train(&o, &r);
    if (s != DBX_OK) return r.rank == 0 ? cli_fail(s) : CLI_ERR; /* rank 0 reports */
    if (r.rank != 0) return CLI_OK;
    printf("train: %d rank%s, %lld steps, %lld samples, %.1f sents/s, last-epoch loss/node %.4f",
           r.ranks, r.ranks == 1 ? "" : "s", (long long)r.steps, (long long)r.samples,
           r.sents_per_s, r.last_epoch_loss);
    if (o.dev) printf(", dev loss/node %.4f, dev accuracy %.2f%%", r.dev_loss, 100 * r.dev_acc);
    printf(", checksum 0x%016llx\n", (unsigned long long)r.checksum);
    if (fflush(stdout) != 0) return cli_fail(DBX_EIO);
    return CLI_OK;
}

/* ---- eval --------------------------------------------------------------------------------- */
static void eval_help(void)
{
    printf("usage: dbx eval --load FILE [options]\n"
           "\n"
           "Evaluates saved parameters (FILE and FILE.vocab, written by 'dbx train --save')\n"
           "and prints the loss per labelled node and the argmax accuracy.\n"
           "\n"
           "  --load FILE      parameter file (required)\n"
           "  --model M        %s; must match FILE (default treelstm)\n"
           "  --data FILE      data to evaluate (default: the model's synthetic data)\n"
           "  --synthetic N    synthetic samples when there is no --data (default 2000)\n"
           "  --seed S         seed of the synthetic treebank (default 1, as in training)\n"
           "  --batch B        samples per minibatch, 1..%d (default 64)\n"
           "  --scheduler S    none | depth | agenda (default agenda)\n"
           "  --no-dedup       do not merge identical nodes in a minibatch (default: merge)\n"
           "  --device D       cpu | cuda (default cpu; cuda: a GPU near the rank's cores)\n"
           "  --no-fuse        run lstm_c and lstm_h batches as separate kernels (default: fused)\n"
           "  --help           this help\n",
           dbx_model_type_names(), MAX_BATCH);
}

static const struct option eval_longopts[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"data", required_argument, NULL, OPT_DATA},
    {"load", required_argument, NULL, OPT_LOAD},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"scheduler", required_argument, NULL, OPT_SCHED},
    {"synthetic", required_argument, NULL, OPT_SYNTH},
    {"seed", required_argument, NULL, OPT_SEED},
    {"no-dedup", no_argument, NULL, OPT_NO_DEDUP},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"no-fuse", no_argument, NULL, OPT_NO_FUSE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    dbx_train_opts o;
    dbx_train_opts_default(&o);
    int c;
    while ((c = getopt_long(argc, argv, ":h", eval_longopts, NULL)) != -1) {
        int r = common_opt(cmd, c, optarg, &o);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (c == 'h' || c == OPT_HELP) {
            eval_help();
            return CLI_OK;
        }
        return cli_opt_error(cmd, c, argv, eval_longopts);
    }
    if (optind < argc) return cli_extra_arg(cmd, argv[optind]);
    if (!o.load) {
        fprintf(stderr, "dbx eval: --load is required\n"
                        "Try 'dbx eval --help' for the list of options.\n");
        return CLI_USAGE;
    }
    dbx_eval_result r;
    dbx_status s = dbx_evaluate(&o, &r);
    if (s != DBX_OK) return cli_fail(s);
    printf("eval: %lld samples, %lld labelled nodes, loss/node %.4f", (long long)r.samples,
           (long long)r.labelled, r.loss);
    for (int i = 0; i < r.nmetrics; i++)
        printf(", %s %.2f%%", r.metrics[i].name, 100 * r.metrics[i].value);
    putchar('\n');
    if (fflush(stdout) != 0) return cli_fail(DBX_EIO);
    return CLI_OK;
}

/* ---- main --------------------------------------------------------------------------------- */
int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("dbx %s\n", DBX_CLI_VERSION);
        return CLI_OK;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen-data")) return cli_gen_data(argc - 1, argv + 1);
    if (!strcmp(cmd, "check-data")) return cli_check_data(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare")) return cli_compare(argc - 1, argv + 1);
    fprintf(stderr, "dbx: unknown command '%s'\nTry 'dbx --help' for the list of commands.\n",
            cmd);
    return CLI_USAGE;
}
