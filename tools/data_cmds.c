/* The data subcommands of the `dbx` program: gen-data (writes the synthetic SST-like
 * treebank, atomically when --out is given) and check-data (parses SST or token|TAG files
 * and prints their statistics, or the parse error). Owned by tools/; single-threaded. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbx/data.h"
#include "tools/cli.h"

enum { OPT_TREES = 256, OPT_VOCAB, OPT_SEED, OPT_OUT, OPT_FORMAT, OPT_HELP };

/* ---- gen-data ----------------------------------------------------------------------------- */
static void gen_help(void)
{
    printf("usage: dbx gen-data [options]\n"
           "\n"
           "Writes a synthetic SST-like treebank (one tree per line; deterministic given the\n"
           "options), the same generator as the embedded treebank of 'dbx train'.\n"
           "\n"
           "  --trees N    trees to generate, 1..10000000 (default 8544)\n"
           "  --vocab V    distinct words, 1..10000000 (default 5000)\n"
           "  --seed S     generator seed (default 1)\n"
           "  --out FILE   output file, written atomically (default: stdout)\n"
           "  --help       this help\n");
}

/* Writes buf to path through a temporary file, fsync and rename. */
static int write_atomic(const char *path, const char *buf, size_t len)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        fprintf(stderr, "dbx: error: out of memory\n");
        return CLI_ERR;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int e = 0;
    if (!f) e = errno;
    if (f && fwrite(buf, 1, len, f) != len) e = errno ? errno : EIO;
    if (f && !e && fflush(f) != 0) e = errno;
    if (f && !e && fsync(fileno(f)) != 0) e = errno;
    if (f && fclose(f) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        fprintf(stderr, "dbx: error: %s: cannot write: %s\n", path, strerror(e));
    }
    free(tmp);
    return e ? CLI_ERR : CLI_OK;
}

int cli_gen_data(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"trees", required_argument, NULL, OPT_TREES},
        {"vocab", required_argument, NULL, OPT_VOCAB},
        {"seed", required_argument, NULL, OPT_SEED},
        {"out", required_argument, NULL, OPT_OUT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "gen-data", *out = NULL;
    dbx_gen_opts go = {.ntrees = 8544, .vocab = 5000, .seed = 1};
    int c, bad = 0, v;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP: gen_help(); return CLI_OK;
        case OPT_TREES:
            bad = cli_int32(cmd, "--trees", optarg, 1, 10000000, &v);
            go.ntrees = v;
            break;
        case OPT_VOCAB:
            bad = cli_int32(cmd, "--vocab", optarg, 1, 10000000, &v);
            go.vocab = v;
            break;
        case OPT_SEED: bad = cli_u64(cmd, "--seed", optarg, &go.seed); break;
        case OPT_OUT: out = optarg; break;
        default: return cli_opt_error(cmd, c, argv, longopts);
        }
        if (bad) return CLI_USAGE;
    }
    if (optind < argc) return cli_extra_arg(cmd, argv[optind]);
    char *text = NULL;
    size_t len = 0;
    dbx_status s = dbx_treebank_generate(&go, &text, &len);
    if (s != DBX_OK) return cli_fail(s);
    int rc = CLI_OK;
    if (out) {
        rc = write_atomic(out, text, len);
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "dbx: error: writing to stdout: %s\n", strerror(errno));
        rc = CLI_ERR;
    }
    free(text);
    return rc;
}

/* ---- check-data --------------------------------------------------------------------------- */
static void check_help(void)
{
    printf("usage: dbx check-data [--format sst|tags] FILE...\n"
           "\n"
           "Parses each FILE and prints its statistics, or the first parse error as\n"
           "file:line:col: expected ... Exits 0 only if every file parses.\n"
           "\n"
           "  --format F   sst (binary trees, labels 0..4) | tags (token|TAG lines)\n"
           "               (default sst)\n"
           "  --help       this help\n");
}

static dbx_status check_sst(const char *path)
{
    dbx_vocab *v = NULL;
    dbx_treebank *tb = NULL;
    dbx_status s = dbx_vocab_new(&v);
    if (!s) s = dbx_treebank_read(path, NULL, v, &tb);
    if (!s) {
        double height = 0;
        for (int32_t i = 0; i < tb->ntrees; i++)
            height += tb->trees[i].depth[tb->trees[i].n - 1];
        printf("%s: %d trees, %lld nodes, %lld words, vocab %d, mean leaves %.1f, "
               "height mean %.1f max %d\n",
               path, (int)tb->ntrees, (long long)tb->nnodes, (long long)tb->nwords,
               (int)dbx_vocab_size(v) - 1, (double)tb->nwords / tb->ntrees, height / tb->ntrees,
               (int)tb->max_depth);
    }
    dbx_treebank_free(tb);
    dbx_vocab_free(v);
    return s;
}

static dbx_status check_tags(const char *path)
{
    dbx_vocab *w = NULL, *t = NULL;
    dbx_tagset *ts = NULL;
    dbx_status s = dbx_vocab_new(&w);
    if (!s) s = dbx_vocab_new(&t);
    if (!s) s = dbx_tagset_read(path, w, t, &ts);
    if (!s)
        printf("%s: %d sentences, %lld tokens, vocab %d, %d tags, mean length %.1f\n", path,
               (int)ts->nsent, (long long)ts->ntokens, (int)dbx_vocab_size(w) - 1,
               (int)dbx_vocab_size(t) - 1, (double)ts->ntokens / ts->nsent);
    dbx_tagset_free(ts);
    dbx_vocab_free(w);
    dbx_vocab_free(t);
    return s;
}

int cli_check_data(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "check-data";
    int c, tags = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP: check_help(); return CLI_OK;
        case OPT_FORMAT:
            if (!strcmp(optarg, "sst") || !strcmp(optarg, "tags")) {
                tags = optarg[0] == 't';
                break;
            }
            fprintf(stderr, "dbx check-data: --format: expected sst or tags, got '%s'\n", optarg);
            return CLI_USAGE;
        default: return cli_opt_error(cmd, c, argv, longopts);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "dbx check-data: expected at least one FILE\n"
                        "Try 'dbx check-data --help' for the list of options.\n");
        return CLI_USAGE;
    }
    int rc = CLI_OK;
    for (int i = optind; i < argc; i++) {
        dbx_status s = tags ? check_tags(argv[i]) : check_sst(argv[i]);
        if (s != DBX_OK) rc = cli_fail(s);
    }
    if (fflush(stdout) != 0) rc = CLI_ERR;
    return rc;
}
