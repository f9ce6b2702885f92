/* The payload's AEAD back end: ChaCha20-Poly1305 from libsodium or from
 * OpenSSL's libcrypto (loaded on first use), one context per thread that
 * seals or opens chunks. Internal to the vault (vault/stream.c). */
#ifndef DOORMAT_VAULT_AEAD_H
#define DOORMAT_VAULT_AEAD_H

#include "doormat/vault.h"

/* One thread's cipher: libsodium keeps no state, OpenSSL a context keyed
 * once (evp), reused for every chunk with a fresh nonce. */
typedef struct dm_aead_ctx {
    dm_aead_backend backend;         /* OPENSSL or SODIUM, never AUTO */
    const uint8_t *key;              /* 32 bytes, in the caller's guarded memory */
    void *evp;                       /* EVP_CIPHER_CTX, OpenSSL only */
    const struct dm_libcrypto *ossl; /* its functions (vault/lazylib.h) */
} dm_aead_ctx;

/* Turns DM_AEAD_AUTO into a back end: libsodium when the payload is small
 * (one job), OpenSSL otherwise when libcrypto can be loaded, else libsodium.
 * DM_AEAD_OPENSSL without a usable libcrypto is DM_ERR_INTERNAL, with why. */
int dm_aead_backend_resolve(dm_aead_backend *backend, int small);

/* Keys a context for sealing (sealing != 0) or opening; *backend resolved. */
int dm_aead_ctx_init(dm_aead_ctx *c, dm_aead_backend backend, const uint8_t key[32], int sealing);
/* Frees the OpenSSL context, if any (after a failed init too); the key is
 * the caller's to wipe. */
void dm_aead_ctx_clear(dm_aead_ctx *c);

/* Seals len bytes into out (len bytes, then the 16-byte tag). Returns 1 on
 * success, 0 on a library failure. */
int dm_aead_ctx_seal(dm_aead_ctx *c, const uint8_t nonce[12], const uint8_t *in, size_t len,
                     uint8_t *out);
/* Opens ct_len bytes (ciphertext then tag, ct_len >= 16) into out. Returns 1
 * when authentic, 0 when not, -1 on a library failure. The tag is compared
 * in constant time by both libraries. */
int dm_aead_ctx_open(dm_aead_ctx *c, const uint8_t nonce[12], const uint8_t *in, size_t ct_len,
                     uint8_t *out);

#endif
