/* Shared helpers of the `dbx` command-line program (tools/): strict number parsing with
 * the program's error messages, option-error reporting for getopt_long, and the
 * subcommands that live outside tools/dbx.c. Owned by tools/; single-threaded program. */
#ifndef DBX_TOOLS_CLI_H
#define DBX_TOOLS_CLI_H

#include <getopt.h>
#include <stdint.h>

/* Exit codes: 0 success, 1 runtime error, 2 usage error (compare: 0 equal, 1 different,
 * 2 trouble). */
#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

/* Parse s as a decimal integer in lo..hi into *out. On failure prints
 * "dbx <cmd>: <flag>: expected a positive integer, got 's'" (or the fitting description)
 * and returns -1. */
int cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
            int64_t *out);
/* Same for an int-sized result. */
int cli_int32(const char *cmd, const char *flag, const char *s, int lo, int hi, int *out);
/* Unsigned 64-bit decimal (seeds). */
int cli_u64(const char *cmd, const char *flag, const char *s, uint64_t *out);
/* A finite number > 0. */
int cli_pos_double(const char *cmd, const char *flag, const char *s, double *out);

/* Reports a getopt_long error (c is '?' or ':') for cmd and returns CLI_USAGE. argv and
 * longopts are those given to getopt_long. */
int cli_opt_error(const char *cmd, int c, char *const *argv, const struct option *longopts);
/* Reports an unexpected positional argument and returns CLI_USAGE. */
int cli_extra_arg(const char *cmd, const char *arg);
/* Prints "dbx: error: <dbx_last_error()>" (or the status string) and returns CLI_ERR. */
int cli_fail(int status);

/* tools/data_cmds.c */
int cli_gen_data(int argc, char **argv);
int cli_check_data(int argc, char **argv);
int cli_compare(int argc, char **argv);
/* tools/predict_cmd.c */
int cli_predict(int argc, char **argv);
/* tools/plot_cmd.c */
int cli_plot(int argc, char **argv);

#endif /* DBX_TOOLS_CLI_H */
