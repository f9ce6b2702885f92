/* Authorities for the escrow unit tests, and their clean-up. */
#ifndef DOORMAT_TESTS_ESCROW_FIXTURE_H
#define DOORMAT_TESTS_ESCROW_FIXTURE_H

#include <stdlib.h>

#include "doormat/escrow.h"

/* A 2-of-3 authority called name: agents doj, court and vendor. */
static inline int authority_of_three(const char *name, dm_escrow_authority **auth,
                                     dm_escrow_agent_key ***keys, dm_escrow_court_key **court) {
    static const char *const three[] = {"doj", "court", "vendor"};
    return dm_escrow_authority_new(name, three, 3, 2, auth, keys, court);
}

/* Frees an authority with every agent key and the court key that came with it. */
static inline void authority_free_all(dm_escrow_authority *auth, dm_escrow_agent_key **keys,
                                      dm_escrow_court_key *court) {
    dm_escrow_agent_keys_free(keys, auth ? dm_escrow_authority_agents(auth) : 0);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
}

#endif
