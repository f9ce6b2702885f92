/* The one map from the libraries' error classes to the command's exit codes
 * (README, "Exit codes"; docs/doormat.1, EXIT STATUS). */
#include "cli.h"

static const int exits[DM_ERR__COUNT] = {
    [DM_OK] = DM_EXIT_OK,
    [DM_ERR_IO] = DM_EXIT_FAILURE,
    [DM_ERR_NOMEM] = DM_EXIT_FAILURE,
    [DM_ERR_INTERNAL] = DM_EXIT_FAILURE,
    [DM_ERR_USAGE] = DM_EXIT_USAGE,
    [DM_ERR_HEADER] = DM_EXIT_MALFORMED,
    [DM_ERR_ARMOR] = DM_EXIT_MALFORMED,
    [DM_ERR_NO_MATCH] = DM_EXIT_NO_MATCH,
    [DM_ERR_HMAC] = DM_EXIT_HMAC,
    [DM_ERR_PAYLOAD] = DM_EXIT_PAYLOAD,
    [DM_ERR_POLICY] = DM_EXIT_POLICY,
    [DM_ERR_DENIED] = DM_EXIT_DENIED,
    [DM_ERR_LOG] = DM_EXIT_LOG,
    [DM_ERR_PLUGIN] = DM_EXIT_FAILURE,
    [DM_ERR_BUSY] = DM_EXIT_FAILURE,
    [DM_ERR_BAD_PASSPHRASE] = DM_EXIT_NO_MATCH,
    [DM_ERR_TOO_FEW_SHARES] = DM_EXIT_NO_MATCH,
    [DM_ERR_NO_STANZA] = DM_EXIT_NO_MATCH,
    [DM_ERR_NOT_FOUND] = DM_EXIT_FAILURE,
};

int cli_exit_code(int err) {
    if (err < 0 || err >= DM_ERR__COUNT)
        return DM_EXIT_FAILURE;
    return exits[err];
}
