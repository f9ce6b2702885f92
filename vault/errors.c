/* Error classes: their words and exit codes (the classes and the per-thread
 * detail text are base's, base/err.c). */
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
};

static const int dm_err_exits[DM_ERR__COUNT] = {
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
};

const char *dm_strerror(int err) {
    if (err < 0 || err >= DM_ERR__COUNT)
        return "unknown error";
    return dm_err_words[err];
}

int dm_exit_code(int err) {
    /* An unknown code is still a failure: never let it read as success. */
    if (err < 0 || err >= DM_ERR__COUNT)
        return DM_EXIT_FAILURE;
    return dm_err_exits[err];
}

int dm_init(void) {
    /* sodium_init returns 1 when already initialised: that is success too. */
    if (sodium_init() < 0)
        return dm_fail(DM_ERR_INTERNAL, "libsodium failed to initialise");
    return DM_OK;
}
