/* The payload's ChaCha20-Poly1305, from libsodium or from OpenSSL, whose
 * libcrypto the vault's loader opens the first time a payload needs it
 * (vault/lazylib.c): a small payload is sealed by libsodium and maps none. */
#include <sodium.h>

#include "aead.h"
#include "lazylib.h"

int dm_aead_backend_resolve(dm_aead_backend *backend, int small) {
    /* Without a usable libcrypto, auto falls back on libsodium. */
    if (*backend == DM_AEAD_AUTO)
        *backend =
            !small && dm_libcrypto_ready(DM_LIBCRYPTO_AEAD) ? DM_AEAD_OPENSSL : DM_AEAD_SODIUM;
    if (*backend == DM_AEAD_OPENSSL && dm_libcrypto_get(DM_LIBCRYPTO_AEAD) == NULL)
        return DM_ERR_INTERNAL; /* the detail says why */
    return DM_OK;
}

int dm_aead_ctx_init(dm_aead_ctx *c, dm_aead_backend backend, const uint8_t key[32], int sealing) {
    c->backend = backend;
    c->key = key;
    c->evp = NULL;
    c->ossl = NULL;
    if (backend == DM_AEAD_SODIUM)
        return DM_OK;
    /* Only after dm_aead_backend_resolve said OpenSSL is ready. */
    const dm_libcrypto *ossl = dm_libcrypto_get(DM_LIBCRYPTO_AEAD);
    if (ossl == NULL)
        return DM_ERR_INTERNAL;
    EVP_CIPHER_CTX *evp = ossl->EVP_CIPHER_CTX_new();
    if (evp == NULL)
        return dm_fail(DM_ERR_NOMEM, "cipher context");
    c->evp = evp;
    c->ossl = ossl;
    if (ossl->EVP_CipherInit_ex2(evp, ossl->chacha20_poly1305, key, NULL, sealing, NULL) != 1)
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 key setup failed");
    return DM_OK;
}

void dm_aead_ctx_clear(dm_aead_ctx *c) {
    if (c->evp != NULL)
        c->ossl->EVP_CIPHER_CTX_free(c->evp);
    c->evp = NULL;
}

int dm_aead_ctx_seal(dm_aead_ctx *c, const uint8_t nonce[12], const uint8_t *in, size_t len,
                     uint8_t *out) {
    if (c->backend == DM_AEAD_SODIUM)
        return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                   out, out + len, NULL, in, len, NULL, 0, NULL, nonce, c->key) == 0;
    const dm_libcrypto *ossl = c->ossl;
    EVP_CIPHER_CTX *evp = c->evp;
    int got = 0, fin = 0;
    if (ossl->EVP_EncryptInit_ex2(evp, NULL, NULL, nonce, NULL) != 1)
        return 0;
    if (len > 0 &&
        (ossl->EVP_EncryptUpdate(evp, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return 0;
    return ossl->EVP_EncryptFinal_ex(evp, out + len, &fin) == 1 && fin == 0 &&
           ossl->EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_GET_TAG, DM_TAG_LEN, out + len) == 1;
}

int dm_aead_ctx_open(dm_aead_ctx *c, const uint8_t nonce[12], const uint8_t *in, size_t ct_len,
                     uint8_t *out) {
    size_t len = ct_len - DM_TAG_LEN;
    const uint8_t *tag = in + len;
    if (c->backend == DM_AEAD_SODIUM)
        return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, tag, NULL, 0,
                                                                  nonce, c->key) == 0;
    const dm_libcrypto *ossl = c->ossl;
    EVP_CIPHER_CTX *evp = c->evp;
    int got = 0, fin = 0;
    if (ossl->EVP_DecryptInit_ex2(evp, NULL, NULL, nonce, NULL) != 1 ||
        ossl->EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_SET_TAG, DM_TAG_LEN, (void *)tag) != 1)
        return -1;
    if (len > 0 &&
        (ossl->EVP_DecryptUpdate(evp, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return -1;
    return ossl->EVP_DecryptFinal_ex(evp, out + len, &fin) == 1 && fin == 0;
}
