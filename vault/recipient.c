/* The one way a recipient or an identity of any type is made and freed. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void dm_recipient_free(dm_recipient *r) {
    if (r != NULL && r->destroy != NULL)
        r->destroy(r);
    free(r);
}

void dm_identity_free(dm_identity *id) {
    if (id != NULL && id->destroy != NULL)
        id->destroy(id);
    free(id);
}

/* A malloc'd copy of the size bytes of kind with ctx put at offset ctx_at,
 * or NULL: the one allocation of both recipients and identities. */
static void *copy_of_kind(const void *kind, size_t size, size_t ctx_at, void *ctx) {
    uint8_t *made = malloc(size);
    if (made != NULL) {
        memcpy(made, kind, size);
        memcpy(made + ctx_at, &ctx, sizeof ctx);
    }
    return made;
}

/* When there is no struct, kind's destroy releases ctx as dm_recipient_free
 * (dm_identity_free) would: destroy reads only self->ctx. */
int dm_recipient_make(const dm_recipient *kind, void *ctx, const char *what, dm_recipient **out) {
    if ((*out = copy_of_kind(kind, sizeof *kind, offsetof(dm_recipient, ctx), ctx)) == NULL)
        kind->destroy(&(dm_recipient){.ctx = ctx});
    return *out != NULL ? DM_OK : dm_fail(DM_ERR_NOMEM, "%s", what);
}

int dm_identity_make(const dm_identity *kind, void *ctx, const char *what, dm_identity **out) {
    if ((*out = copy_of_kind(kind, sizeof *kind, offsetof(dm_identity, ctx), ctx)) == NULL)
        kind->destroy(&(dm_identity){.ctx = ctx});
    return *out != NULL ? DM_OK : dm_fail(DM_ERR_NOMEM, "%s", what);
}

/* sodium_malloc puts the end of a block against its guard page: only a size
 * that is a multiple of 16 leaves the start aligned for a struct. */
void *dm_secret_struct(size_t n) {
    size_t size = (n + 15) & ~(size_t)15;
    return size < n ? NULL : dm_secret_alloc(size);
}
