/* libFuzzer target for the key parsers: identity files, recipients files, and
 * single X25519 and hybrid post-quantum recipient and identity strings.
 * Besides "no crash", whatever parses as an identity must yield a recipient
 * that parses in turn.
 *
 *   make fuzz FUZZ_SECONDS=N         (builds build-fuzz/fuzz/fuzz_keys)
 * Seeds: fuzz/corpus/keys (fuzz/make-corpus.sh). */
#include <stdlib.h>
#include <string.h>

#include "doormat/vault.h"
#include "fuzz_init.h"

static void free_ids(dm_identity **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dm_identity_free(ids[i]);
    free(ids);
}

static void free_rcpts(dm_recipient **rs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dm_recipient_free(rs[i]);
    free(rs);
}

DM_FUZZ_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    dm_identity **ids = NULL;
    dm_recipient **rs = NULL;
    size_t n = 0, line = 0;
    if (dm_identity_file_parse(text, size, &ids, &n, &line) == DM_OK)
        free_ids(ids, n);
    else if (line > size + 1)
        abort(); /* a bad line past the end of the text */
    n = 0;
    line = 0;
    if (dm_recipient_file_parse(text, size, &rs, &n, &line) == DM_OK)
        free_rcpts(rs, n);
    else if (line > size + 1)
        abort();

    char *s = strndup(text, size);
    if (s == NULL)
        return 0;
    dm_recipient *r = NULL;
    if (dm_x25519_recipient_parse(s, &r) == DM_OK)
        dm_recipient_free(r);
    dm_identity *id = NULL;
    if (dm_x25519_identity_parse(s, &id) == DM_OK) {
        dm_identity_free(id);
        char *pub = NULL;
        if (dm_x25519_identity_to_recipient(s, &pub) != DM_OK)
            abort(); /* parses as an identity, yet has no recipient */
        if (dm_x25519_recipient_parse(pub, &r) != DM_OK)
            abort(); /* the recipient we made does not parse */
        dm_recipient_free(r);
        free(pub);
    }
    /* The hybrid post-quantum strings (a build without ML-KEM refuses them all). */
    r = NULL;
    if (dm_pq_recipient_parse(s, &r) == DM_OK)
        dm_recipient_free(r);
    id = NULL;
    if (dm_pq_identity_parse(s, &id) == DM_OK) {
        dm_identity_free(id);
        char *pub = NULL;
        if (dm_pq_identity_to_recipient(s, &pub) != DM_OK)
            abort(); /* parses as a hybrid identity, yet has no recipient */
        if (dm_pq_recipient_parse(pub, &r) != DM_OK)
            abort(); /* the recipient we made does not parse */
        dm_recipient_free(r);
        free(pub);
    }
    free(s);
    return 0;
}
