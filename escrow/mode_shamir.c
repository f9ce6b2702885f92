/* Mode "shamir": the file key itself, split k-of-n, every byte of every
 * stanza (coefficients, ephemeral scalars) derived from the file key, so that
 * whoever holds the file key rebuilds the stanzas and compares them byte for
 * byte. That is what makes the escrow verifiable; it is also why a rogue
 * sender is stopped only by a compliant recipient: plain age ignores stanzas
 * it does not know.
 */
#include <stddef.h>

#include "escrow_internal.h"

#define COEFF_LABEL "doormat/v1/escrow/shamir"
#define EPHEMERAL_LABEL "doormat/v1/escrow/ephemeral"
#define WRAP_LABEL "doormat/v2/escrow/wrap"

static size_t shamir_body_len(const dm_escrow_opts *opts) {
    (void)opts;
    return DM_ESCROW_WRAPPED_LEN;
}

static int shamir_build(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                        const char *arg, const uint8_t file_key[DM_FILE_KEY_LEN],
                        dm_stanza_list *out) {
    (void)opts;
    const dm_escrow_seal_plan plan = {.mode_arg = arg,
                                      .secret = file_key,
                                      .coeff_label = COEFF_LABEL,
                                      .ephemeral_label = EPHEMERAL_LABEL,
                                      .wrap_label = WRAP_LABEL};
    return dm_escrow_seal_stanzas(auth, &plan, file_key, out);
}

const dm_escrow_mode_ops dm_escrow_mode_shamir = {
    .mode = DM_ESCROW_MODE_SHAMIR,
    .name = "shamir",
    .wrap_label = WRAP_LABEL,
    .body_len = shamir_body_len,
    .build = shamir_build,
};
