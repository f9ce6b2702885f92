/* The flags and keys of the commands that make and open age files: encrypt,
 * decrypt, rekey (cli/encrypt.c, decrypt.c, rekey.c) and age's own command
 * line (cli/age.c). One option table, one parser and the lists of keys
 * (cli/flags.c), the loading of recipients and identities (cli/keys.c), and
 * the passphrases (cli/passphrase.c). Every function that prints a failure returns its exit
 * code, DM_EXIT_OK otherwise. */
#ifndef DOORMAT_CLI_FLAGS_H
#define DOORMAT_CLI_FLAGS_H

#include <stddef.h>

#include "cli.h"
#include "cli_escrow.h"

/* ------------------------------------------------------------ the flags */

/* The long options without a short one (the values of cli_flags_parse's allowed). */
enum {
    CLI_OPT_PASSPHRASE_FILE = 256,
    CLI_OPT_THREADS,
    CLI_OPT_ESCROW,
    CLI_OPT_REQUIRE_ESCROW,
    CLI_OPT_LEAF_BITS,
    CLI_OPT_CRUMPLE_BITS,
    CLI_OPT_OLD_PASSPHRASE_FILE,
};

/* A -r, -R, -i or -j, kept in command-line order so the header lists the
 * recipients as given (and decrypt tries the identities in that order). */
typedef enum cli_spec_kind {
    CLI_SPEC_RECIPIENT = 0,
    CLI_SPEC_RECIPIENTS_FILE = 1,
    CLI_SPEC_IDENTITY_FILE = 2,
    CLI_SPEC_PLUGIN = 3,
} cli_spec_kind;
typedef struct cli_spec {
    cli_spec_kind kind;
    const char *value;
} cli_spec;

/* What the flags of one run say. For rekey, the -i files (CLI_SPEC_IDENTITY_FILE)
 * open the old file and the rest of specs are the new file's recipients. */
typedef struct cli_flags {
    cli_spec *specs; /* -r, -R, -i, -j; room for argc of them */
    size_t n_specs;
    int passphrase_tty;              /* -p */
    const char *passphrase_file;     /* --passphrase-file */
    const char *old_passphrase_file; /* rekey --old-passphrase-file */
    int armor;                       /* -a */
    const char *output;              /* -o (NULL: standard output) */
    const char *input;               /* IN (NULL: standard input) */
    unsigned threads;                /* --threads */
    const char *escrow;              /* encrypt, rekey --escrow */
    const char *require_escrow;      /* decrypt --require-escrow */
    dm_escrow_opts escrow_opts;      /* --leaf-bits, --crumple-bits */
    int help;                        /* -h was given: print the usage, do nothing else */
} cli_flags;

/* Makes room for argc specs (a failure is printed). */
int cli_flags_init(cli_flags *f, int argc, const char *cmd);
void cli_flags_clear(cli_flags *f);
/* Appends the spec of flag c ('r', 'R', 'i' or 'j'). */
void cli_flags_push_spec(cli_flags *f, int c, const char *value);
/* How many specs are of kind. */
size_t cli_flags_count(const cli_flags *f, cli_spec_kind kind);

/* Makes f (cli_flags_init; cli_flags_clear it whatever the result) and reads
 * argv into it with getopt_long: shortopts as getopt's, allowed the options
 * of the command (short letters and CLI_OPT_*, 0-terminated), in one table
 * for every command. Stops at -h (f->help set) or at the first bad flag
 * (its usage error printed, the exit code returned). f->input is left to
 * the command (argv[optind]). */
int cli_flags_parse(const char *cmd, int argc, char **argv, const char *shortopts,
                    const int *allowed, cli_flags *f);

/* What encrypt and rekey check once the flags are read: n_rcpts recipient
 * flags, rcpt_any and rcpt_all naming them ("-r, -R, -i or -j", "-r, -R, -i,
 * -j"), new_ "new " where they are a file's new recipients. */
int cli_flags_check_new(const char *cmd, const cli_flags *f, size_t n_rcpts, int argc, char **argv,
                        const char *rcpt_any, const char *rcpt_all, const char *new_);

/* Whether arg reads standard input: "-", or absent when absent_is_stdin. */
int cli_is_stdin(const char *arg, int absent_is_stdin);
/* age 1.3's warnings: a recipient, recipients file or identity file named
 * twice is used once... and said once. */
void cli_warn_duplicates(const cli_spec *specs, size_t n);
/* age 1.2's refusal (its issue 491): OUT is IN or one of files. */
int cli_refuse_output_over_input(const char *cmd, const char *out, const char *input,
                                 const char *const *files, size_t n_files);
/* Stdout is a terminal and no armor: said before any passphrase is asked. */
int cli_refuse_binary_tty(const char *cmd);
/* Keeps the output when the run went well (err DM_OK), drops it otherwise. */
int cli_finish_output(cli_output *out, int err, const char *cmd);

/* The runs, once the flags are checked (cli/encrypt.c, cli/decrypt.c). */
int cli_run_encrypt(const cli_flags *f);
int cli_run_decrypt(const cli_flags *f);

/* ------------------------------------------------------------- the keys */

typedef struct cli_rcpt_list {
    dm_recipient **items;
    size_t len, cap;
} cli_rcpt_list;

typedef struct cli_ident_list {
    dm_identity **items;
    size_t len, cap;
} cli_ident_list;

/* Takes r (or frees it on failure); DM_OK or DM_ERR_NOMEM. */
int cli_rcpt_push(cli_rcpt_list *l, dm_recipient *r);
int cli_ident_push(cli_ident_list *l, dm_identity *id);
/* Take every one of the n items (freeing those left on failure) and the array. */
int cli_rcpt_push_all(cli_rcpt_list *l, dm_recipient **items, size_t n);
int cli_ident_push_all(cli_ident_list *l, dm_identity **items, size_t n);
void cli_rcpt_list_clear(cli_rcpt_list *l);
void cli_ident_list_clear(cli_ident_list *l);

/* encrypt's recipients: -r, -R, -i (the identities' recipients), -j. */
int cli_add_recipient(cli_rcpt_list *l, const char *s);
int cli_add_recipients_file(cli_rcpt_list *l, const char *path);
int cli_add_identity_recipients(cli_rcpt_list *l, const char *path);
int cli_add_plugin_recipient(cli_rcpt_list *l, const char *name);
/* -p or --passphrase-file of f. */
int cli_add_passphrase_recipient(cli_rcpt_list *l, const cli_flags *f);
/* --escrow of f. */
int cli_add_escrow_recipient(cli_rcpt_list *l, const cli_flags *f, const char *cmd);

/* decrypt's identities: -i, -j, --passphrase-file, and the passphrase asked
 * on the terminal when a scrypt stanza wants one and nothing else was given. */
int cli_add_identity_file(cli_ident_list *l, const char *path);
int cli_add_plugin_identity(cli_ident_list *l, const char *name);
int cli_add_passphrase_identity(cli_ident_list *l, const char *path);
int cli_add_prompt_identity(cli_ident_list *l, const char *cmd);

/* -j batchpass: age 1.3's plugin, built in (cli/passphrase.c). */
int cli_batchpass_recipient(cli_rcpt_list *l);
int cli_batchpass_identity(cli_ident_list *l);

/* The message of a failure that has its own words ("incorrect passphrase"),
 * said without the generic "no identity matched" in front; path the
 * identity file (NULL: none). */
int cli_fail_plainly(int err, const char *cmd, const char *path);

#endif
