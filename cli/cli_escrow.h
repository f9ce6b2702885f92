/* The escrow group's shared pieces (cli/escrow_common.c: its usage text, and
 * what encrypt and decrypt borrow), and its subcommands in other files. */
#ifndef DOORMAT_CLI_ESCROW_H
#define DOORMAT_CLI_ESCROW_H

#include "doormat/escrow.h"
#include "doormat/tlog.h"

/* doormat escrow --help (cli/escrow_common.c). */
extern const char cli_escrow_usage[];

/* The transparency-log commands (cli/escrow_log.c): "audit verify|prove",
 * "witness init|add-checkpoint", "monitor"; argv[0] is the subcommand word. */
int cli_escrow_audit(int argc, char **argv);
int cli_escrow_witness(int argc, char **argv);
int cli_escrow_monitor(int argc, char **argv);
/* "authority endpoint" (cli/escrow_authority.c); argv[0] is "authority". */
int cli_escrow_authority(int argc, char **argv);

/* A witness kept in a directory (WDIR/witness.key, WDIR/state/), trusting the
 * log keys of one authority: a dm_escrow_cosigner on files. open prints the
 * failure and returns its exit code. */
typedef struct cli_witness {
    dm_tlog_witness_dir *dir;
} cli_witness;
int cli_witness_open(const char *cmd, const char *wdir, const dm_escrow_authority *auth,
                     cli_witness *w);
void cli_witness_close(cli_witness *w);
int cli_witness_add_checkpoint(void *ctx, const char *body, size_t len, int *status,
                               char **response, size_t *response_len);

/* ---- cli/escrow_common.c */

/* encrypt --escrow FILE: a recipient for the authority in FILE. Prints the
 * failure and returns its exit code, or DM_EXIT_OK. */
int cli_escrow_recipient(const char *authority_path, const dm_escrow_opts *opts,
                         dm_recipient **out);

/* --leaf-bits N (leaf nonzero) or --crumple-bits C into opts; DM_EXIT_OK, or
 * the usage error's exit code (a bad number, both modes, a flag twice). */
int cli_escrow_mode_flag(const char *cmd, int leaf, const char *arg, dm_escrow_opts *opts);

/* decrypt: always lets doormat-escrow stanzas stand beside a scrypt stanza
 * (the documented doormat extension), and with --require-escrow FILE checks
 * the escrow for that authority before any plaintext is released. */
typedef struct cli_escrow_policy {
    dm_escrow_authority *auth;
    dm_escrow_opts opts;
    dm_escrow_policy policy;
} cli_escrow_policy;
/* Loads FILE (NULL: no policy); opts (NULL: shamir) is the mode the check
 * requires. Prints the failure and returns its exit code. */
int cli_escrow_policy_load(const char *authority_path, const dm_escrow_opts *opts,
                           cli_escrow_policy *p);
/* The command's decryption: escrow stanzas may stand beside a passphrase
 * (every identity of ids accepts them, dm_escrow_beside), and with p's
 * authority loaded the compliant check runs. */
void cli_escrow_decrypt_opts(cli_escrow_policy *p, dm_decrypt_opts *opts, dm_identity *const *ids,
                             size_t n_ids);
void cli_escrow_policy_free(cli_escrow_policy *p);

#endif
