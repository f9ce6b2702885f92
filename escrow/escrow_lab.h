/* Lab-only escrow operations: this header is not installed (make install
 * ships include/doormat/ alone), so no program built against the installed
 * library can call them; the labs, the unit tests and the fuzz targets can. */
#ifndef DOORMAT_ESCROW_LAB_H
#define DOORMAT_ESCROW_LAB_H

#include "doormat/escrow.h"

/* The agent's side of a release with no log at all, for a recovery shown in
 * memory: dm_escrow_release's checks (warrant, stanza: DM_ERR_DENIED,
 * DM_ERR_NO_MATCH) and its signed share, but no entry, no witnesses and no
 * receipt (dm_escrow_share_check_receipt refuses the share; dm_escrow_recover
 * takes it as given). Nothing is written. */
int dm_escrow_release_unlogged(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                               const dm_escrow_warrant *w, const dm_header *hdr, time_t now,
                               dm_escrow_share **out);

#endif
