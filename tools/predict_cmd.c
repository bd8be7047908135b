/* `dbx predict`: saved parameters (dbx train --save) and unlabelled input in, one JSON line per
 * sample out (include/dbx/predict.h). The whole input is read and checked before anything is
 * written, and --out is written atomically, so bad input leaves no output file. Owned by
 * tools/; single-threaded program. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "dbx/dbx.h"
#include "dbx/model_type.h"
#include "dbx/predict.h"
#include "dbx/sched.h"
#include "tools/cli.h"

#define MAX_BATCH 1000000

static void predict_help(void)
{
    printf("usage: dbx predict --load FILE --data FILE|- [options]\n"
           "\n"
           "Predicts with saved parameters (FILE and FILE.vocab, written by 'dbx train\n"
           "--save'): reads unlabelled samples and writes one JSON object per line and sample,\n"
           "in input order:\n"
           "  treelstm       trees with or without labels, \"((the cat) (sat down))\":\n"
           "                 {\"label\":3,\"probs\":[5 class probabilities],\n"
           "                  \"binary\":\"positive\"}\n"
           "  bilstm-tagger  sentences, one per line, tokens separated by blanks (token|TAG\n"
           "                 lines have their tags ignored):\n"
           "                 {\"tags\":[a tag per token],\"probs\":[the probability of each]}\n"
           "  lattice-lstm   lattices in the training format, tags ignored:\n"
           "                 {\"tags\":[a tag per node],\"probs\":[the probability of each]}\n"
           "\n"
           "  --load FILE      parameter file (required)\n"
           "  --data FILE      input, '-' for standard input (required)\n"
           "  --vocab V        the sizes, vocabularies and model type saved with the\n"
           "                   parameters (default: the --load FILE's FILE.vocab)\n"
           "  --out FILE       output file, written atomically (default: standard output)\n"
           "  --model M        %s; must match FILE.vocab\n"
           "                   (default: the model FILE.vocab names)\n"
           "  --detail         also the class of every tree node (post-order, root last), or the\n"
           "                   distribution of every token or lattice node (default: off)\n"
           "  --batch B        samples per minibatch, 1..%d (default 64)\n"
           "  --scheduler S    none | depth | agenda (default agenda)\n"
           "  --no-dedup       do not merge identical nodes in a minibatch (default: merge)\n"
           "  --device D       cpu | cuda (default cpu)\n"
           "  --precision P    fp32 | bf16: the affine GEMMs' arithmetic (default fp32; bf16\n"
           "                   needs oneDNN)\n"
           "  --help           this help\n",
           dbx_model_type_names(), MAX_BATCH);
}

enum {
    OPT_MODEL = 256, OPT_LOAD, OPT_VOCAB, OPT_DATA, OPT_OUT, OPT_DETAIL, OPT_BATCH, OPT_SCHED,
    OPT_NO_DEDUP, OPT_DEVICE, OPT_PRECISION, OPT_HELP
};

static const struct option predict_longopts[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"load", required_argument, NULL, OPT_LOAD},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"data", required_argument, NULL, OPT_DATA},
    {"out", required_argument, NULL, OPT_OUT},
    {"detail", no_argument, NULL, OPT_DETAIL},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"scheduler", required_argument, NULL, OPT_SCHED},
    {"no-dedup", no_argument, NULL, OPT_NO_DEDUP},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Checks an option's value; prints the usage error and returns -1 when it is bad. */
static int check_value(int c, const char *arg, dbx_predict_opts *o)
{
    const char *cmd = "predict";
    switch (c) {
    case OPT_MODEL: {
        const dbx_model_type *t;
        if (dbx_model_type_find(arg, &t) == DBX_OK) {
            o->model = arg;
            return 0;
        }
        fprintf(stderr, "dbx predict: --model: expected %s, got '%s'\n", dbx_model_type_names(),
                arg);
        return -1;
    }
    case OPT_BATCH: return cli_int32(cmd, "--batch", arg, 1, MAX_BATCH, &o->batch);
    case OPT_SCHED: {
        const dbx_sched_type *t;
        char choices[256];
        if (dbx_sched_find(arg, &t) == DBX_OK) {
            o->scheduler = t->name;
            return 0;
        }
        fprintf(stderr, "dbx predict: --scheduler: expected %s, got '%s'\n",
                dbx_sched_choices(choices, sizeof choices), arg);
        return -1;
    }
    case OPT_DEVICE:
        if (strcmp(arg, "cpu") != 0 && strcmp(arg, "cuda") != 0) {
            fprintf(stderr, "dbx predict: --device: expected cpu or cuda, got '%s'\n", arg);
            return -1;
        }
        o->device = arg;
        return 0;
    case OPT_PRECISION:
        if (dbx_precision_parse(arg, &o->precision) != DBX_OK) {
            fprintf(stderr, "dbx predict: --precision: expected fp32 or bf16, got '%s'\n", arg);
            return -1;
        }
        return 0;
    default: return 0;
    }
}

int cli_predict(int argc, char **argv)
{
    const char *cmd = "predict", *load = NULL, *data = NULL, *out = NULL;
    dbx_predict_opts o;
    dbx_predict_opts_default(&o);
    unsigned flags = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", predict_longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP: predict_help(); return CLI_OK;
        case OPT_LOAD: load = optarg; break;
        case OPT_VOCAB: o.vocab = optarg; break;
        case OPT_DATA: data = optarg; break;
        case OPT_OUT: out = optarg; break;
        case OPT_DETAIL: flags |= DBX_PREDICT_DETAIL; break;
        case OPT_NO_DEDUP: o.dedup = 0; break;
        case OPT_MODEL:
        case OPT_BATCH:
        case OPT_SCHED:
        case OPT_DEVICE:
        case OPT_PRECISION:
            if (check_value(c, optarg, &o)) return CLI_USAGE;
            break;
        default: return cli_opt_error(cmd, c, argv, predict_longopts);
        }
    }
    if (optind < argc) return cli_extra_arg(cmd, argv[optind]);
    if (!load || !data) {
        fprintf(stderr, "dbx predict: %s is required\n"
                        "Try 'dbx predict --help' for the list of options.\n",
                !load ? "--load" : "--data");
        return CLI_USAGE;
    }
    dbx_predictor *p = NULL;
    dbx_dataset *ds = NULL;
    dbx_status s = dbx_predictor_new(load, &o, &p);
    if (!s && !dbx_predictor_type(p)->predict) /* before reading any input */
        s = dbx_predictor_write(p, NULL, flags, NULL);
    if (!s) s = dbx_predictor_read(p, data, &ds);
    if (!s) s = dbx_predictor_write_file(p, ds, flags, out ? out : "-");
    int rc = s ? cli_fail(s) : CLI_OK;
    if (!s && out) {
        const dbx_model_type *t = dbx_predictor_type(p);
        fprintf(stderr, "predict: %d %s -> %s\n", (int)dbx_dataset_size(ds),
                t->sample_noun ? t->sample_noun : "samples", out);
    }
    dbx_dataset_free(ds);
    dbx_predictor_free(p);
    return rc;
}
