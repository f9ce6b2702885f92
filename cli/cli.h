/* Shared pieces of the doormat command: one file per command group, and the
 * helpers in common.c for messages, input files and safe output. */
#ifndef DOORMAT_CLI_H
#define DOORMAT_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "doormat/base.h"
#include "doormat/vault.h"

/* Command groups: each returns the process exit code. argv[0] is the command name. */
int cmd_keygen(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
/* age's own command line (doormat -d -i key file, doormat -r age1... -o out in). */
int cmd_age(int argc, char **argv);
int cmd_rekey(int argc, char **argv);
int cmd_escrow(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_lab(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Exit codes of the doormat command (README, "Exit codes"; docs/doormat.1,
 * EXIT STATUS). Only the command knows them: the libraries return dm_err. */
enum {
    DM_EXIT_OK = 0,
    DM_EXIT_FAILURE = 1,
    DM_EXIT_USAGE = 2,
    DM_EXIT_MALFORMED = 3,
    DM_EXIT_NO_MATCH = 4,
    DM_EXIT_HMAC = 5,
    DM_EXIT_PAYLOAD = 6,
    DM_EXIT_POLICY = 7,
    DM_EXIT_DENIED = 8,
    DM_EXIT_LOG = 9
};
/* The exit code of an error class (cli/exit.c); an unknown value is a
 * failure (1), never success. */
int cli_exit_code(int err);

/* "doormat: <message>" on stderr, one line. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "doormat: <what>: <dm_escrow_strerror(err)>[: <dm_err_detail()>]" and
 * returns cli_exit_code(err). */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a usage error and returns DM_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a whole file ("-" or NULL: stdin) into malloc'd memory (NUL-terminated). */
int cli_read_file(const char *path, char **buf, size_t *len);
/* Same, into sodium guarded memory (for key files, passphrases): free with dm_secret_free.
 * Refuses (cli_check_secret_perms) a file readable by group or others: for
 * doormat's own secrets (escrow keys, shares, witness keys). */
int cli_read_secret_file(const char *path, char **buf, size_t *len);
/* An age identity file (-i, keygen -y) into guarded memory, whatever its mode,
 * as age reads it: an encrypted identity or a public key has no reason to be
 * private, and tools that write files 0666 minus the umask make key files 0644. */
int cli_read_identity_file(const char *path, char **buf, size_t *len);

/* Safe output: with a regular-file path, writes to a temporary file in the
 * same directory, fsyncs and renames over the path only on commit; on abort
 * (or a signal) the temporary file is removed and an existing file is untouched.
 * NULL or "-" means stdout; non-regular paths (/dev/null, FIFOs) are written directly. */
typedef struct cli_output {
    int fd;
    char *path;     /* final path, NULL for stdout/direct */
    char *tmp_path; /* temporary file, NULL when writing directly */
    int is_tty;
    int no_replace; /* commit fails with EEXIST rather than replace an existing path */
} cli_output;
int cli_output_open(cli_output *o, const char *path, int mode);
int cli_output_commit(cli_output *o);
void cli_output_abort(cli_output *o);

/* The exit-code table that closes every --help text. */
extern const char cli_exit_codes_help[];
/* Prints a command's help text followed by the exit-code table on stdout; returns 0. */
int cli_help(const char *text);
/* Flushes stdout; on failure (a full disk, a closed pipe) prints one line saying
 * what could not be written and returns DM_EXIT_FAILURE. */
int cli_flush_stdout(const char *what);
/* Reports a getopt failure for argv (unknown option, missing argument) as a usage error. */
int cli_bad_option(const char *cmd, char **argv, int optopt_seen);
/* True when the option c is in list (0-terminated; NULL: an empty list). */
int cli_option_in(int c, const int *list);

/* No core dumps and no ptrace-readable memory: secrets must not land on disk. */
void cli_harden(void);
/* The process-wide settings a service needs and the service library leaves
 * to its program (include/doormat/service.h): SIGXFSZ ignored, RLIMIT_NOFILE
 * at its hard limit. Called by the commands that run a server, before. */
void cli_serve_settings(void);
/* dm_init once, reporting a failure as cli_fail does (returns 0 or an exit code). */
int cli_init(void);

/* Opens IN for reading ("-" or NULL: stdin); returns the fd or -1 after printing one line. */
int cli_open_input(const char *path);
/* Refuses (DM_ERR_USAGE, detail set) an identity file readable by group or others. */
int cli_check_secret_perms(int fd, const char *path);
/* Reads a passphrase from /dev/tty without echo into guarded memory. With confirm,
 * asks twice and fails (DM_ERR_USAGE) if they differ. Empty passphrases are refused. */
/* confirm CLI_PASS_AUTOGENERATE: asks twice, and an empty first answer makes
 * (and shows on the terminal) a passphrase of ten random BIP 39 words, as age does. */
#define CLI_PASS_AUTOGENERATE 2
int cli_read_passphrase_tty(const char *prompt, int confirm, char **out, size_t *len);
/* One line from /dev/tty after PROMPT, echoed or not, into guarded memory
 * (empty lines allowed). */
int cli_read_tty_value(const char *prompt, int echo, char **out, size_t *len);
/* Gives the plugin recipients and identities among these the command's plugin
 * host: messages on standard error, requests on the terminal, the timeout from
 * DOORMAT_PLUGIN_TIMEOUT (seconds; 0: none), read only when there is a plugin.
 * Returns 0, or the exit code after printing why the variable is bad. */
int cli_plugin_attach(dm_recipient *const *rcpts, size_t n_rcpts, dm_identity *const *ids,
                      size_t n_ids);
/* The first line (without its newline) of a file, into guarded memory. */
int cli_read_passphrase_file(const char *path, char **out, size_t *len);
/* Parses a --threads argument (0..CLI_MAX_THREADS). */
int cli_parse_threads(const char *arg, unsigned *out);
#define CLI_MAX_THREADS 1024u

/* ---- util.c: one helper for each small job ---- */
/* s as a JSON string, quotes included; control characters, '"', '\\' and
 * every byte outside printable ASCII escaped (headers are hostile input). */
void cli_json_string(FILE *f, const char *s);
/* The command's one clock: the real time. Nothing in the environment moves
 * it; tests give the library a time through its `now` parameters. */
time_t cli_now(void);
/* A decimal number from lo to hi, digits only: DM_OK, or DM_ERR_USAGE
 * (the caller words the message; *out untouched). */
int cli_parse_ulong(const char *arg, unsigned long lo, unsigned long hi, unsigned long *out);

#endif
