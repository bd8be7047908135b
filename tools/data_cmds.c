/* The data subcommands of the `dbx` program: gen-data (writes a synthetic SST-like treebank
 * or synthetic word/character lattices, atomically when --out is given) and check-data
 * (parses SST, token|TAG or lattice files and prints their statistics, or the parse error).
 * Owned by tools/; single-threaded. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbx/data.h"
#include "tools/cli.h"

enum {
    OPT_TREES = 256,
    OPT_SAMPLES,
    OPT_VOCAB,
    OPT_CHARS,
    OPT_TAGS,
    OPT_SEED,
    OPT_OUT,
    OPT_FORMAT,
    OPT_HELP
};

/* ---- gen-data ----------------------------------------------------------------------------- */
#define GEN_MAX_TREES 10000000
#define GEN_MAX_LATTICES 1000000 /* ~600 bytes each */

static void gen_help(void)
{
    printf("usage: dbx gen-data [options]\n"
           "\n"
           "Writes synthetic data, deterministic given the options: an SST-like treebank (one\n"
           "tree per line; the same generator as the embedded treebank of 'dbx train') or\n"
           "word/character lattices in the format of shared/data/lattice (Lattice-LSTM).\n"
           "\n"
           "  --format F   sst | lattice (default sst)\n"
           "  --samples N  trees (1..%d, default 8544) or lattices (1..%d, default 1147)\n"
           "  --trees N    the same as --samples, for --format sst\n"
           "  --vocab V    distinct words, 1..10000000 (default 5000 for sst, 10130 for lattice)\n"
           "  --chars C    lattice: distinct characters, 1..10000000 (default 2212)\n"
           "  --tags T     lattice: distinct tags, 1..10000 (default 18)\n"
           "  --seed S     generator seed (default 1)\n"
           "  --out FILE   output file, written atomically (default: stdout)\n"
           "  --help       this help\n",
           GEN_MAX_TREES, GEN_MAX_LATTICES);
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
        {"format", required_argument, NULL, OPT_FORMAT},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"trees", required_argument, NULL, OPT_TREES},
        {"vocab", required_argument, NULL, OPT_VOCAB},
        {"chars", required_argument, NULL, OPT_CHARS},
        {"tags", required_argument, NULL, OPT_TAGS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"out", required_argument, NULL, OPT_OUT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "gen-data", *out = NULL;
    const char *samples = NULL, *samples_flag = NULL, *lattice_flag = NULL;
    int lattice = 0, vocab = 0, chars = 0, tags = 0, c, bad = 0;
    uint64_t seed = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP: gen_help(); return CLI_OK;
        case OPT_FORMAT:
            if (strcmp(optarg, "sst") && strcmp(optarg, "lattice")) {
                fprintf(stderr, "dbx gen-data: --format: expected sst or lattice, got '%s'\n",
                        optarg);
                return CLI_USAGE;
            }
            lattice = optarg[0] == 'l';
            break;
        case OPT_SAMPLES:
        case OPT_TREES: /* checked below, when the format is known */
            samples = optarg;
            samples_flag = c == OPT_TREES ? "--trees" : "--samples";
            break;
        case OPT_VOCAB: bad = cli_int32(cmd, "--vocab", optarg, 1, 10000000, &vocab); break;
        case OPT_CHARS:
            bad = cli_int32(cmd, "--chars", optarg, 1, 10000000, &chars);
            lattice_flag = "--chars";
            break;
        case OPT_TAGS:
            bad = cli_int32(cmd, "--tags", optarg, 1, 10000, &tags);
            lattice_flag = "--tags";
            break;
        case OPT_SEED: bad = cli_u64(cmd, "--seed", optarg, &seed); break;
        case OPT_OUT: out = optarg; break;
        default: return cli_opt_error(cmd, c, argv, longopts);
        }
        if (bad) return CLI_USAGE;
    }
    if (optind < argc) return cli_extra_arg(cmd, argv[optind]);
    if (lattice && samples_flag && !strcmp(samples_flag, "--trees")) {
        fprintf(stderr, "dbx gen-data: --trees is for --format sst; use --samples\n");
        return CLI_USAGE;
    }
    if (!lattice && lattice_flag) {
        fprintf(stderr, "dbx gen-data: %s is for --format lattice\n", lattice_flag);
        return CLI_USAGE;
    }
    int n = lattice ? 1147 : 8544;
    if (samples &&
        cli_int32(cmd, samples_flag, samples, 1, lattice ? GEN_MAX_LATTICES : GEN_MAX_TREES, &n))
        return CLI_USAGE;
    char *text = NULL;
    size_t len = 0;
    dbx_status s;
    if (lattice) {
        dbx_lattice_gen_opts lo = {
            .nlat = n, .chars = chars, .words = vocab, .tags = tags, .seed = seed};
        s = dbx_lattice_generate(&lo, &text, &len);
    } else {
        dbx_gen_opts go = {.ntrees = n, .vocab = vocab ? vocab : 5000, .seed = seed};
        s = dbx_treebank_generate(&go, &text, &len);
    }
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
    printf("usage: dbx check-data [--format sst|tags|lattice] FILE...\n"
           "\n"
           "Parses each FILE and prints its statistics, or the first parse error as\n"
           "file:line:col: expected ... Exits 0 only if every file parses.\n"
           "\n"
           "  --format F   sst (binary trees, labels 0..4) | tags (token|TAG lines) |\n"
           "               lattice (word/character lattices, shared/data/lattice)\n"
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

/* Prints "lo..hi" of the non-negative values seen, or "none". */
static void print_range(const char *what, int32_t lo, int32_t hi)
{
    if (hi < 0)
        printf(", %s none", what);
    else
        printf(", %s %d..%d", what, (int)lo, (int)hi);
}

static dbx_status check_lattice(const char *path)
{
    enum { HIST = 8 }; /* in-degrees 0..HIST-1, then HIST+ */
    dbx_latticeset *ls = NULL;
    dbx_status s = dbx_latticeset_read(path, &ls);
    if (s) return s;
    int64_t hist[HIST + 1] = {0};
    int32_t min_n = INT32_MAX, min_tag = INT32_MAX, min_char = INT32_MAX, min_word = INT32_MAX;
    for (int32_t j = 0; j < ls->nlat; j++) {
        const dbx_lattice *L = &ls->lats[j];
        if (L->n < min_n) min_n = L->n;
        for (int32_t i = 0; i < L->n; i++) {
            int32_t deg = L->arc_start[i + 1] - L->arc_start[i];
            hist[deg < HIST ? deg : HIST]++;
            if (L->tag[i] < min_tag) min_tag = L->tag[i];
            for (int32_t a = L->arc_start[i]; a < L->arc_start[i + 1]; a++) {
                int32_t *m = L->arc_from[a] == i - 1 ? &min_char : &min_word;
                if (L->arc_id[a] < *m) *m = L->arc_id[a];
            }
        }
    }
    printf("%s: %d lattices, %lld nodes (length %d..%d, mean %.1f), %lld arcs (%lld character, "
           "%lld word), in-degree",
           path, (int)ls->nlat, (long long)ls->nnodes, (int)min_n, (int)ls->max_n,
           (double)ls->nnodes / ls->nlat, (long long)ls->narcs, (long long)ls->nchar_arcs,
           (long long)(ls->narcs - ls->nchar_arcs));
    for (int d = 0; d <= HIST && d <= ls->max_indegree; d++)
        printf(" %d%s:%lld", d, d == HIST ? "+" : "", (long long)hist[d]);
    print_range("tags", min_tag, ls->max_tag);
    print_range("character ids", min_char, ls->max_char);
    print_range("word ids", min_word, ls->max_word);
    printf("\n");
    dbx_latticeset_free(ls);
    return DBX_OK;
}

static const struct check_format {
    const char *name;
    dbx_status (*check)(const char *path);
} check_formats[] = {{"sst", check_sst}, {"tags", check_tags}, {"lattice", check_lattice}};

int cli_check_data(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "check-data";
    const struct check_format *fmt = &check_formats[0];
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case OPT_HELP: check_help(); return CLI_OK;
        case OPT_FORMAT: {
            size_t nf = sizeof check_formats / sizeof check_formats[0], f = 0;
            while (f < nf && strcmp(optarg, check_formats[f].name)) f++;
            if (f < nf) {
                fmt = &check_formats[f];
                break;
            }
            fprintf(stderr, "dbx check-data: --format: expected sst, tags or lattice, got '%s'\n",
                    optarg);
            return CLI_USAGE;
        }
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
        dbx_status s = fmt->check(argv[i]);
        if (s != DBX_OK) rc = cli_fail(s);
    }
    if (fflush(stdout) != 0) rc = CLI_ERR;
    return rc;
}
