/* libFuzzer target for the vault's format layer: header parser, armor
 * reader, Bech32 and base64. Besides "no crash", it checks the round-trip
 * properties the format relies on: whatever the header parser accepts
 * re-encodes to the very same bytes (MAC line aside), and whatever the
 * Bech32 and base64 decoders accept is the canonical encoding of its value.
 *
 *   clang -g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -Iinclude -Ivault -o build-fuzz/fuzz_format fuzz/fuzz_format.c \
 *     vault/header.c vault/stanza.c vault/base64.c vault/bech32.c \
 *     vault/armor.c vault/crypto.c vault/errors.c -lsodium -lcrypto
 *   build-fuzz/fuzz_format -max_len=4096 CORPUS_DIR
 *
 * Seeds: the age files inside tests/testkit/age vectors. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_init.h"
#include "internal.h"

typedef struct fuzz_src {
    const uint8_t *data;
    size_t len, pos, step;
} fuzz_src;

static ssize_t fuzz_read(void *ctx, uint8_t *buf, size_t n) {
    fuzz_src *s = ctx;
    size_t take = s->len - s->pos;
    if (take > n)
        take = n;
    if (take > s->step)
        take = s->step;
    memcpy(buf, s->data + s->pos, take);
    s->pos += take;
    return (ssize_t)take;
}

static void fuzz_header(const uint8_t *data, size_t size) {
    dm_header h;
    if (dm_header_parse(data, size, &h) != DM_OK)
        return;
    dm_header copy = {0};
    for (size_t i = 0; i < h.stanzas.len; i++) {
        const dm_stanza *st = &h.stanzas.items[i];
        if (dm_stanza_list_add(&copy.stanzas, st->type, (const char *const *)st->args, st->nargs,
                               st->body, st->body_len) != DM_OK)
            abort();
    }
    static const uint8_t key[DM_FILE_KEY_LEN];
    uint8_t *enc;
    size_t n;
    if (dm_header_encode(&copy, key, &enc, &n) != DM_OK || n != h.len ||
        memcmp(enc, data, n - 44) != 0)
        abort();
    free(enc);
    dm_header_clear(&copy);
    dm_header_clear(&h);
}

static void fuzz_armor(const uint8_t *data, size_t size) {
    /* The first and last bytes choose how much is "already read" and how
     * short the inner reads are. */
    size_t prefix = size ? data[0] % 40 : 0;
    if (prefix > size)
        prefix = size;
    fuzz_src s = {data + prefix, size - prefix, 0, size ? (size_t)data[size - 1] % 17 + 1 : 1};
    dm_source inner = {fuzz_read, &s, DM_SOURCE_STREAM};
    dm_armor_reader *r;
    if (dm_armor_reader_new(inner, data, prefix, &r) != DM_OK)
        return;
    dm_source a = dm_armor_reader_source(r);
    uint8_t buf[61];
    while (a.read(a.ctx, buf, sizeof buf) > 0)
        ;
    dm_armor_reader_free(r);
}

static void fuzz_encodings(const uint8_t *data, size_t size) {
    char *s = strndup((const char *)data, size);
    if (s == NULL)
        return;
    char hrp[128], again[512];
    uint8_t out[256];
    size_t n;
    if (dm_bech32_decode(s, hrp, sizeof hrp, out, sizeof out, &n) == DM_OK &&
        (dm_bech32_encode(hrp, out, n, again, sizeof again) != DM_OK || strcmp(again, s) != 0))
        abort();
    free(s);
    if (size <= 340 && dm_b64_decode((const char *)data, size, out, sizeof out, &n) == DM_OK) {
        if (dm_b64_encode(out, n, again, sizeof again) != DM_OK || strlen(again) != size ||
            memcmp(again, data, size) != 0)
            abort();
    }
}

DM_FUZZ_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_header(data, size);
    fuzz_armor(data, size);
    fuzz_encodings(data, size);
    return 0;
}
