/* Error classes: their words (the classes and the per-thread detail text are
 * base's, base/err.c; the command's exit codes are cli/exit.c's). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "doormat/vault.h"

static const char *const dm_err_words[DM_ERR__COUNT] = {
    [DM_OK] = "success",
    [DM_ERR_IO] = "input/output error",
    [DM_ERR_NOMEM] = "out of memory",
    [DM_ERR_INTERNAL] = "internal error",
    [DM_ERR_USAGE] = "invalid argument",
    [DM_ERR_HEADER] = "malformed header",
    [DM_ERR_ARMOR] = "malformed ASCII armor",
    [DM_ERR_NO_MATCH] = "no identity matched any of the recipients",
    [DM_ERR_HMAC] = "header MAC mismatch",
    [DM_ERR_PAYLOAD] = "payload authentication failed",
    [DM_ERR_POLICY] = "policy violated",
    [DM_ERR_DENIED] = "access not authorised",
    [DM_ERR_LOG] = "a transparency log is inconsistent",
    [DM_ERR_PLUGIN] = "plugin failed",
    [DM_ERR_BUSY] = "in use",
    [DM_ERR_BAD_PASSPHRASE] = "incorrect passphrase",
    [DM_ERR_TOO_FEW_SHARES] = "fewer shares than the threshold",
    [DM_ERR_NO_STANZA] = "no stanza for this key opens",
    [DM_ERR_NOT_FOUND] = "not found",
};


const char *dm_strerror(int err) {
    if (err < 0 || err >= DM_ERR__COUNT)
        return "unknown error";
    return dm_err_words[err];
}

int dm_init(void) {
    /* sodium_init returns 1 when already initialised: that is success too. */
    if (sodium_init() < 0)
        return dm_fail(DM_ERR_INTERNAL, "libsodium failed to initialise");
    return DM_OK;
}
