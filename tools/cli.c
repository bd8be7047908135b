/* Helpers of the `dbx` command-line program (see tools/cli.h): strict number parsing with
 * end-pointer and range checks, and uniform option-error messages. Owned by tools/;
 * single-threaded program (getopt state is global). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx/dbx.h"
#include "tools/cli.h"

static int bad(const char *cmd, const char *flag, const char *what, const char *s)
{
    fprintf(stderr, "dbx %s: %s: expected %s, got '%s'\n", cmd, flag, what, s);
    return -1;
}

/* Leading whitespace and signs other than '-' are refused so that " 5" and "+5" fail. */
static int looks_numeric(const char *s)
{
    return s[0] != '\0' && !isspace((unsigned char)s[0]) && s[0] != '+';
}

int cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
            int64_t *out)
{
    char what[80];
    const char *base = lo == 1 ? "a positive integer" : lo == 0 ? "a non-negative integer"
                                                                 : "an integer";
    snprintf(what, sizeof what, "%s", base);
    errno = 0;
    char *end = NULL;
    long long v = looks_numeric(s) ? strtoll(s, &end, 10) : 0;
    if (!looks_numeric(s) || !end || end == s || *end != '\0' || (errno == ERANGE && v < 0) ||
        v < lo) {
        if (lo != 0 && lo != 1) snprintf(what, sizeof what, "an integer in %lld..%lld",
                                         (long long)lo, (long long)hi);
        return bad(cmd, flag, what, s);
    }
    if (errno == ERANGE || v > hi) {
        snprintf(what, sizeof what, "%s <= %lld", base, (long long)hi);
        return bad(cmd, flag, what, s);
    }
    *out = v;
    return 0;
}

int cli_int32(const char *cmd, const char *flag, const char *s, int lo, int hi, int *out)
{
    int64_t v;
    if (cli_int(cmd, flag, s, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

int cli_u64(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    errno = 0;
    char *end = NULL;
    unsigned long long v = 0;
    if (looks_numeric(s) && s[0] != '-') v = strtoull(s, &end, 10);
    if (!end || end == s || *end != '\0' || errno == ERANGE)
        return bad(cmd, flag, "a non-negative 64-bit integer", s);
    *out = v;
    return 0;
}

int cli_pos_double(const char *cmd, const char *flag, const char *s, double *out)
{
    errno = 0;
    char *end = NULL;
    double v = looks_numeric(s) ? strtod(s, &end) : NAN;
    if (!end || end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || !(v > 0))
        return bad(cmd, flag, "a positive number", s);
    *out = v;
    return 0;
}

int cli_opt_error(const char *cmd, int c, char *const *argv, const struct option *longopts)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':') {
        const char *name = NULL;
        for (const struct option *o = longopts; o->name; o++)
            if (o->val == optopt) name = o->name;
        if (name) fprintf(stderr, "dbx %s: --%s: missing value\n", cmd, name);
        else fprintf(stderr, "dbx %s: '%s': missing value\n", cmd, arg);
    } else if (optopt && optopt < 256 && !(arg[0] == '-' && arg[1] == '-')) {
        fprintf(stderr, "dbx %s: unknown option '-%c'\n", cmd, optopt);
    } else {
        fprintf(stderr, "dbx %s: unknown option '%s'\n", cmd, arg);
    }
    fprintf(stderr, "Try 'dbx %s --help' for the list of options.\n", cmd);
    return CLI_USAGE;
}

int cli_extra_arg(const char *cmd, const char *arg)
{
    fprintf(stderr, "dbx %s: unexpected argument '%s'\n", cmd, arg);
    fprintf(stderr, "Try 'dbx %s --help' for the list of options.\n", cmd);
    return CLI_USAGE;
}

int cli_fail(int status)
{
    const char *e = dbx_last_error();
    fprintf(stderr, "dbx: error: %s\n", e && *e ? e : dbx_status_str((dbx_status)status));
    return CLI_ERR;
}
