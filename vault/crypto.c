/* HKDF-SHA-256, HMAC-SHA-256, SHA-256 and ChaCha20-Poly1305 for headers and
 * stanzas, from libsodium. No primitive is implemented here (guarded memory,
 * dm_secret_alloc, is base's: base/secret.c).
 *
 * Why libsodium rather than OpenSSL's EVP for these: every file needs a few of
 * them on tiny inputs, and the first EVP fetch initialises OpenSSL's provider
 * tables, which costs more CPU per process than all the cryptography of a
 * 1 KiB file (docs/benchmarks.md, "Start-up"). OpenSSL stays where it is faster: the
 * payload of large files (stream.c). The outputs are the same functions, bit
 * for bit (RFC 5869, RFC 4231, FIPS 180-4 and RFC 8439 vectors in test_crypto). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define SHA256_LEN crypto_auth_hmacsha256_BYTES

/* libsodium's HMAC wants a key pointer even for an empty key. */
static const uint8_t no_key[1];

/* RFC 5869 is HMAC applied twice over; libsodium 1.0.18 has HMAC-SHA-256 but
 * not HKDF, so the two steps are spelled out here. An absent salt is HashLen
 * zero bytes (2.2), which HMAC treats exactly like an empty key. */
int dm_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                   const char *info, size_t info_len, uint8_t *out, size_t out_len) {
    if (out_len > 255 * SHA256_LEN)
        return dm_fail(DM_ERR_INTERNAL, "HKDF-SHA-256 output of %zu bytes is too long", out_len);
    uint8_t prk[SHA256_LEN], t[SHA256_LEN];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, salt_len ? salt : no_key, salt_len);
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    size_t done = 0;
    for (uint8_t i = 1; done < out_len; i++) {
        crypto_auth_hmacsha256_init(&st, prk, sizeof prk);
        if (i > 1)
            crypto_auth_hmacsha256_update(&st, t, sizeof t);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, info_len);
        crypto_auth_hmacsha256_update(&st, &i, 1);
        crypto_auth_hmacsha256_final(&st, t);
        size_t take = out_len - done < sizeof t ? out_len - done : sizeof t;
        memcpy(out + done, t, take);
        done += take;
    }
    sodium_memzero(&st, sizeof st);
    sodium_memzero(prk, sizeof prk);
    sodium_memzero(t, sizeof t);
    return DM_OK;
}

int dm_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                   uint8_t out[32]) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key_len ? key : no_key, key_len);
    crypto_auth_hmacsha256_update(&st, msg, msg_len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
    return DM_OK;
}

void dm_sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
    crypto_hash_sha256(out, msg, len);
}

int dm_aead_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out) {
    return dm_aead_seal_ad(key, nonce, NULL, 0, in, n, out);
}

int dm_aead_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out) {
    return dm_aead_open_ad(key, nonce, NULL, 0, in, n, out);
}

int dm_stanza_body_open(const uint8_t key[32], const uint8_t nonce[12], const dm_stanza *st,
                        uint8_t file_key[DM_FILE_KEY_LEN]) {
    int err = dm_aead_open(key, nonce, st->body, st->body_len, file_key);
    return err == DM_ERR_PAYLOAD ? DM_ERR_NO_MATCH : err;
}

int dm_aead_seal_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out) {
    if (n > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 message of %zu bytes is too long", n);
    /* Detached: the tag goes right after the ciphertext, and in may be out. */
    if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + n, NULL, in, n, ad, ad_len,
                                                           NULL, nonce, key) != 0) {
        sodium_memzero(out, n + DM_TAG_LEN);
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 seal failed");
    }
    return DM_OK;
}

int dm_aead_open_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out) {
    if (n < DM_TAG_LEN)
        return dm_fail(DM_ERR_PAYLOAD, "ciphertext shorter than its tag");
    size_t pt_len = n - DM_TAG_LEN;
    /* The tag may share memory with out (in-place open); copy it first. */
    uint8_t tag[DM_TAG_LEN];
    memcpy(tag, in + pt_len, DM_TAG_LEN);
    /* libsodium checks the tag (in constant time) before it decrypts anything. */
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, pt_len, tag, ad, ad_len,
                                                           nonce, key) != 0) {
        /* Unauthenticated plaintext must never reach the caller. */
        sodium_memzero(out, pt_len);
        return dm_fail(DM_ERR_PAYLOAD, "authentication tag mismatch");
    }
    return DM_OK;
}
