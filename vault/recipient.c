/* The one way a recipient or an identity of any type is made and freed. */
#include <stdlib.h>

#include "internal.h"

void dm_recipient_free(dm_recipient *r) {
    if (r == NULL)
        return;
    if (r->destroy)
        r->destroy(r);
    free(r);
}

void dm_identity_free(dm_identity *id) {
    if (id == NULL)
        return;
    if (id->destroy)
        id->destroy(id);
    free(id);
}

int dm_recipient_make(const dm_recipient *kind, void *ctx, const char *what, dm_recipient **out) {
    dm_recipient *r = malloc(sizeof *r);
    if (r == NULL) {
        dm_recipient unmade = *kind;
        unmade.ctx = ctx;
        if (unmade.destroy)
            unmade.destroy(&unmade);
        return dm_fail(DM_ERR_NOMEM, "%s", what);
    }
    *r = *kind;
    r->ctx = ctx;
    *out = r;
    return DM_OK;
}

int dm_identity_make(const dm_identity *kind, void *ctx, const char *what, dm_identity **out) {
    dm_identity *id = malloc(sizeof *id);
    if (id == NULL) {
        dm_identity unmade = *kind;
        unmade.ctx = ctx;
        if (unmade.destroy)
            unmade.destroy(&unmade);
        return dm_fail(DM_ERR_NOMEM, "%s", what);
    }
    *id = *kind;
    id->ctx = ctx;
    *out = id;
    return DM_OK;
}

/* sodium_malloc puts the end of a block against its guard page: only a size
 * that is a multiple of 16 leaves the start aligned for a struct. */
void *dm_secret_struct(size_t n) {
    size_t size = (n + 15) & ~(size_t)15;
    return size < n ? NULL : dm_secret_alloc(size);
}
