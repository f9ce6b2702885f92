/* Shared pieces of the doormat command: one file per command group, and the
 * helpers in common.c for messages, input files and safe output. */
#ifndef DOORMAT_CLI_H
#define DOORMAT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "doormat/vault.h"

/* Command groups: each returns the process exit code. argv[0] is the command name. */
int cmd_keygen(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_escrow(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_lab(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* "doormat: <message>" on stderr, one line. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "doormat: <what>: <dm_strerror(err)>[: <dm_err_detail()>]" and
 * returns dm_exit_code(err). */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a usage error and returns DM_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a whole file ("-" or NULL: stdin) into malloc'd memory (NUL-terminated). */
int cli_read_file(const char *path, char **buf, size_t *len);
/* Same, into sodium guarded memory (for key files, passphrases): free with dm_secret_free. */
int cli_read_secret_file(const char *path, char **buf, size_t *len);

/* Safe output: with a regular-file path, writes to a temporary file in the
 * same directory, fsyncs and renames over the path only on commit; on abort
 * (or a signal) the temporary file is removed and an existing file is untouched.
 * NULL or "-" means stdout; non-regular paths (/dev/null, FIFOs) are written directly. */
typedef struct cli_output {
    int fd;
    char *path;     /* final path, NULL for stdout/direct */
    char *tmp_path; /* temporary file, NULL when writing directly */
    int is_tty;
} cli_output;
int cli_output_open(cli_output *o, const char *path, int mode);
int cli_output_commit(cli_output *o);
void cli_output_abort(cli_output *o);

#endif
