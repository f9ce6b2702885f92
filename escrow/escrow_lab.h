/* doormat escrow, lab-only operations. NOT INSTALLED: make install ships
 * include/doormat/ alone, and tests/e2e/install.sh checks that this file and
 * its names stay out of the installed headers.
 *
 * These steps skip what the installed API insists on (a warrant, a signed
 * and logged release): the attack labs and the tests use them to show what
 * the holder of an agent key, or of raw share values, can do. labs/ and
 * tests/ include this header; nothing installed does.
 */
#ifndef DM_ESCROW_LAB_H
#define DM_ESCROW_LAB_H

#include <stddef.h>
#include <stdint.h>

#include "doormat/escrow.h"
#include "doormat/vault.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the holder of an agent key can read in a header: the share in that
 * agent's stanza (the step of dm_escrow_unwrap after the warrant check, with
 * no warrant, signature or log entry: a key opens its stanza whoever holds
 * it). DM_ERR_USAGE for a key of another authority; DM_ERR_NO_STANZA when the
 * header has no stanza for this agent. *x (may be NULL) gets the share's
 * x coordinate (agent index + 1). */
DM_MUST_CHECK
int dm_escrow_agent_open(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                         const dm_header *hdr, uint8_t share[DM_FILE_KEY_LEN], unsigned *x);

/* The last step of recovery from share values: combines k of them (xs
 * distinct, 1..n), searches a crumple puzzle when the header's stanzas are
 * crumple, and checks the result against the header MAC (DM_ERR_HMAC).
 * n_shares below the threshold is DM_ERR_TOO_FEW_SHARES. *tries (may be NULL) gets
 * the crumple candidates tried (0 for other modes). */
DM_MUST_CHECK
int dm_escrow_combine(const dm_escrow_authority *auth, const dm_header *hdr, const uint8_t *xs,
                      const uint8_t *const *ys, size_t n_shares, uint8_t file_key[DM_FILE_KEY_LEN],
                      uint64_t *tries);

/* The agent's side of a release with no log at all, for a recovery shown in
 * memory: dm_escrow_release's checks (warrant, stanza: DM_ERR_DENIED,
 * DM_ERR_NO_STANZA) and its signed share, but no entry, no witnesses and no
 * receipt (dm_escrow_share_check_receipt refuses the share; dm_escrow_recover
 * takes it as given). Nothing is written. */
DM_MUST_CHECK
int dm_escrow_release_unlogged(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                               const dm_escrow_warrant *w, const dm_header *hdr, time_t now,
                               dm_escrow_share **out);

#ifdef __cplusplus
}
#endif

#endif
