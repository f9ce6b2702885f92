/* Thin wrappers over OpenSSL 3 EVP (HKDF, HMAC, SHA-256, ChaCha20-Poly1305)
 * and libsodium's guarded memory. No primitive is implemented here. */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include "internal.h"

/* Fetching an algorithm walks OpenSSL's provider tables and takes locks; the
 * payload path seals one chunk per 64 KiB, so fetch each algorithm once and
 * keep it for the life of the process (they are never freed on purpose). */
static pthread_once_t dm_algs_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *dm_alg_chacha;
static EVP_MAC *dm_alg_hmac;
static EVP_KDF *dm_alg_hkdf;
static EVP_MD *dm_alg_sha256;

static void dm_algs_fetch(void) {
    dm_alg_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    dm_alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    dm_alg_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    dm_alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int dm_algs_ready(void) {
    if (pthread_once(&dm_algs_once, dm_algs_fetch) != 0)
        return 0;
    return dm_alg_chacha && dm_alg_hmac && dm_alg_hkdf && dm_alg_sha256;
}

int dm_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                   const char *info, size_t info_len, uint8_t *out, size_t out_len) {
    if (!dm_algs_ready())
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL lacks HKDF");
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(dm_alg_hkdf);
    if (kctx == NULL)
        return dm_fail(DM_ERR_NOMEM, "HKDF context");

    OSSL_PARAM params[5];
    size_t np = 0;
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    /* An absent salt is HashLen zero bytes (RFC 5869 2.2), which HMAC treats
     * exactly like an empty key; OpenSSL rejects a NULL zero-length salt. */
    if (salt_len > 0)
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len > 0)
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[np] = OSSL_PARAM_construct_end();

    int ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(kctx);
    if (!ok) {
        sodium_memzero(out, out_len);
        return dm_fail(DM_ERR_INTERNAL, "HKDF-SHA-256 failed");
    }
    return DM_OK;
}

int dm_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                   uint8_t out[32]) {
    if (!dm_algs_ready())
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL lacks HMAC");
    EVP_MAC_CTX *mctx = EVP_MAC_CTX_new(dm_alg_hmac);
    if (mctx == NULL)
        return dm_fail(DM_ERR_NOMEM, "HMAC context");
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    /* OpenSSL refuses a NULL key even when it is empty. */
    static const uint8_t no_key[1];
    size_t got = 0;
    int ok = EVP_MAC_init(mctx, key_len ? key : no_key, key_len, params) == 1 &&
             EVP_MAC_update(mctx, msg_len ? msg : no_key, msg_len) == 1 &&
             EVP_MAC_final(mctx, out, &got, 32) == 1 && got == 32;
    EVP_MAC_CTX_free(mctx);
    if (!ok)
        return dm_fail(DM_ERR_INTERNAL, "HMAC-SHA-256 failed");
    return DM_OK;
}

int dm_sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
    if (!dm_algs_ready())
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL lacks SHA-256");
    unsigned int got = 0;
    static const uint8_t nothing[1];
    if (EVP_Digest(len ? msg : nothing, len, out, &got, dm_alg_sha256, NULL) != 1 || got != 32)
        return dm_fail(DM_ERR_INTERNAL, "SHA-256 failed");
    return DM_OK;
}

/* EVP's update takes an int length; feed larger buffers in slices. */
static int dm_cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t n) {
    const size_t slice = (size_t)1 << 30;
    while (n > 0) {
        int take = (int)(n < slice ? n : slice);
        int got = 0;
        if (EVP_CipherUpdate(ctx, out, &got, in, take) != 1 || got != take)
            return 0;
        in += take;
        out += take;
        n -= (size_t)take;
    }
    return 1;
}

/* Associated data goes in through an update with a NULL output buffer. */
static int dm_cipher_aad(EVP_CIPHER_CTX *ctx, const uint8_t *ad, size_t ad_len) {
    if (ad_len == 0)
        return 1;
    if (ad_len > INT_MAX)
        return 0;
    int got = 0;
    return EVP_CipherUpdate(ctx, NULL, &got, ad, (int)ad_len) == 1;
}

int dm_aead_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out) {
    return dm_aead_seal_ad(key, nonce, NULL, 0, in, n, out);
}

int dm_aead_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out) {
    return dm_aead_open_ad(key, nonce, NULL, 0, in, n, out);
}

int dm_aead_seal_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out) {
    if (!dm_algs_ready())
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL lacks ChaCha20-Poly1305");
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return dm_fail(DM_ERR_NOMEM, "cipher context");
    int fin = 0;
    int ok = EVP_EncryptInit_ex2(ctx, dm_alg_chacha, key, nonce, NULL) == 1 &&
             dm_cipher_aad(ctx, ad, ad_len) && dm_cipher_update(ctx, out, in, n) &&
             EVP_EncryptFinal_ex(ctx, out + n, &fin) == 1 && fin == 0 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, DM_TAG_LEN, out + n) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        sodium_memzero(out, n + DM_TAG_LEN);
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 seal failed");
    }
    return DM_OK;
}

int dm_aead_open_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out) {
    if (n < DM_TAG_LEN)
        return dm_fail(DM_ERR_PAYLOAD, "ciphertext shorter than its tag");
    if (!dm_algs_ready())
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL lacks ChaCha20-Poly1305");
    size_t pt_len = n - DM_TAG_LEN;
    /* The tag may share memory with out (in-place open); copy it first. */
    uint8_t tag[DM_TAG_LEN];
    memcpy(tag, in + pt_len, DM_TAG_LEN);

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return dm_fail(DM_ERR_NOMEM, "cipher context");
    int fin = 0;
    int setup = EVP_DecryptInit_ex2(ctx, dm_alg_chacha, key, nonce, NULL) == 1 &&
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, DM_TAG_LEN, tag) == 1 &&
                dm_cipher_aad(ctx, ad, ad_len) && dm_cipher_update(ctx, out, in, pt_len);
    /* OpenSSL compares the tag in constant time inside DecryptFinal. */
    int authentic = setup && EVP_DecryptFinal_ex(ctx, out + pt_len, &fin) == 1 && fin == 0;
    EVP_CIPHER_CTX_free(ctx);
    if (!authentic) {
        /* Unauthenticated plaintext must never reach the caller. */
        sodium_memzero(out, pt_len);
        if (!setup)
            return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 open failed");
        return dm_fail(DM_ERR_PAYLOAD, "authentication tag mismatch");
    }
    return DM_OK;
}

void *dm_secret_alloc(size_t n) {
    return sodium_malloc(n);
}

void dm_secret_free(void *p) {
    /* sodium_free zeroes the region before unmapping it and ignores NULL. */
    sodium_free(p);
}
