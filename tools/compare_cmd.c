/* The compare subcommand of the `dbx` program: compares two parameter files written by
 * `dbx train --save` (e.g. the same global batches trained on 1 and on 3 workers). Exit
 * status like cmp(1) and diff(1): 0 when every tensor agrees within the relative tolerance,
 * 1 when the files differ (beyond it, or in their tensors' names or shapes), 2 on errors
 * (a missing, unreadable or corrupted file, bad arguments). */
#include <getopt.h>
#include <stdio.h>

#include "dbx/dbx.h"
#include "tools/cli.h"

static void compare_help(void)
{
    printf("usage: dbx compare [--rtol X] A B\n"
           "\n"
           "Compares two parameter files of the same model. For each tensor the difference\n"
           "is max|a - b| / max|a|; prints the largest.\n"
           "\n"
           "  --rtol X   relative tolerance (default 1e-5)\n"
           "  --help     this help\n"
           "\n"
           "Exit status: 0 if the files agree within X, 1 if they differ (beyond X, or in\n"
           "their tensors' names or shapes), 2 on errors (a missing, unreadable or corrupted\n"
           "file, bad arguments).\n");
}

int cli_compare(int argc, char **argv)
{
    static const struct option opts[] = {{"rtol", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    double rtol = 1e-5;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            compare_help();
            return CLI_OK;
        }
        if (c == 'r') {
            if (cli_pos_double("compare", "--rtol", optarg, &rtol)) return CLI_USAGE;
            continue;
        }
        return cli_opt_error("compare", c, argv, opts);
    }
    if (argc - optind != 2) {
        fprintf(stderr, "dbx compare: expected two parameter files\n"
                        "Try 'dbx compare --help' for the list of options.\n");
        return CLI_USAGE;
    }
    double rel;
    char worst[64];
    dbx_status s =
        dbx_model_file_compare(argv[optind], argv[optind + 1], &rel, worst, sizeof worst);
    if (s == DBX_EINVAL) { /* two good files of different models */
        printf("compare: %s: DIFFERENT\n", dbx_last_error());
        return CLI_ERR;
    }
    if (s != DBX_OK) {
        cli_fail(s);
        return CLI_USAGE; /* trouble, not a difference */
    }
    int ok = rel <= rtol;
    printf("compare: max relative difference %.3g (%s), tolerance %.3g: %s\n", rel,
           worst[0] ? worst : "-", rtol, ok ? "equal" : "DIFFERENT");
    return ok ? CLI_OK : CLI_ERR;
}
