/* The payload's ChaCha20-Poly1305, from libsodium or from OpenSSL.
 *
 * OpenSSL's libcrypto is loaded the first time a payload needs it, not when
 * the program starts: mapping and relocating it costs every process more than
 * all the cryptography of a 1 KiB file, which libsodium does (DM_AEAD_AUTO;
 * docs/benchmarks.md, "Start-up"). The build links with --as-needed, so
 * nothing else pulls it in. The prototypes still come from OpenSSL's headers
 * (__typeof__), so every call is type-checked. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <sodium.h>

#include "aead.h"

#define DM_STR_(x) #x
#define DM_STR(x) DM_STR_(x)
#define LIBCRYPTO_SONAME "libcrypto.so." DM_STR(OPENSSL_SHLIB_VERSION)

static struct {
    __typeof__(&EVP_CIPHER_fetch) cipher_fetch;
    __typeof__(&EVP_CIPHER_CTX_new) ctx_new;
    __typeof__(&EVP_CIPHER_CTX_free) ctx_free;
    __typeof__(&EVP_CIPHER_CTX_ctrl) ctx_ctrl;
    __typeof__(&EVP_CipherInit_ex2) cipher_init;
    __typeof__(&EVP_EncryptInit_ex2) encrypt_init;
    __typeof__(&EVP_EncryptUpdate) encrypt_update;
    __typeof__(&EVP_EncryptFinal_ex) encrypt_final;
    __typeof__(&EVP_DecryptInit_ex2) decrypt_init;
    __typeof__(&EVP_DecryptUpdate) decrypt_update;
    __typeof__(&EVP_DecryptFinal_ex) decrypt_final;
    __typeof__(&OpenSSL_version) version;
    EVP_CIPHER *chacha;
    char why[160]; /* why it could not be loaded */
} ossl;
static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;

/* POSIX guarantees that dlsym's object pointer converts to a function pointer. */
#define OSSL_SYM(lib, field, name)                                                                 \
    do {                                                                                           \
        void *sym_ = dlsym(lib, name);                                                             \
        if (sym_ == NULL)                                                                          \
            goto missing;                                                                          \
        memcpy(&ossl.field, &sym_, sizeof sym_);                                                   \
    } while (0)

static void ossl_load(void) {
    void *lib = dlopen(LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *why = dlerror();
        snprintf(ossl.why, sizeof ossl.why, "%s", why ? why : LIBCRYPTO_SONAME " not found");
        return;
    }
    OSSL_SYM(lib, cipher_fetch, "EVP_CIPHER_fetch");
    OSSL_SYM(lib, ctx_new, "EVP_CIPHER_CTX_new");
    OSSL_SYM(lib, ctx_free, "EVP_CIPHER_CTX_free");
    OSSL_SYM(lib, ctx_ctrl, "EVP_CIPHER_CTX_ctrl");
    OSSL_SYM(lib, cipher_init, "EVP_CipherInit_ex2");
    OSSL_SYM(lib, encrypt_init, "EVP_EncryptInit_ex2");
    OSSL_SYM(lib, encrypt_update, "EVP_EncryptUpdate");
    OSSL_SYM(lib, encrypt_final, "EVP_EncryptFinal_ex");
    OSSL_SYM(lib, decrypt_init, "EVP_DecryptInit_ex2");
    OSSL_SYM(lib, decrypt_update, "EVP_DecryptUpdate");
    OSSL_SYM(lib, decrypt_final, "EVP_DecryptFinal_ex");
    OSSL_SYM(lib, version, "OpenSSL_version");
    ossl.chacha = ossl.cipher_fetch(NULL, "ChaCha20-Poly1305", NULL);
    if (ossl.chacha == NULL)
        snprintf(ossl.why, sizeof ossl.why, "OpenSSL lacks ChaCha20-Poly1305");
    return;
missing:
    snprintf(ossl.why, sizeof ossl.why, "%s lacks an EVP function", LIBCRYPTO_SONAME);
    ossl.version = NULL;
}

/* 1 when OpenSSL's ChaCha20-Poly1305 is ready to use. */
static int ossl_ready(void) {
    return pthread_once(&ossl_once, ossl_load) == 0 && ossl.chacha != NULL;
}

const char *dm_openssl_version(void) {
    if (pthread_once(&ossl_once, ossl_load) != 0 || ossl.version == NULL)
        return NULL;
    return ossl.version(OPENSSL_VERSION);
}

int dm_aead_backend_resolve(dm_aead_backend *backend, int small) {
    /* Without a usable libcrypto, auto falls back on libsodium. */
    if (*backend == DM_AEAD_AUTO)
        *backend = !small && ossl_ready() ? DM_AEAD_OPENSSL : DM_AEAD_SODIUM;
    if (*backend == DM_AEAD_OPENSSL && !ossl_ready())
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL's ChaCha20-Poly1305 is not available: %s",
                       ossl.why);
    return DM_OK;
}

int dm_aead_ctx_init(dm_aead_ctx *c, dm_aead_backend backend, const uint8_t key[32], int sealing) {
    c->backend = backend;
    c->key = key;
    c->evp = NULL;
    if (backend == DM_AEAD_SODIUM)
        return DM_OK;
    EVP_CIPHER_CTX *evp = ossl.ctx_new();
    if (evp == NULL)
        return dm_fail(DM_ERR_NOMEM, "cipher context");
    c->evp = evp;
    if (ossl.cipher_init(evp, ossl.chacha, key, NULL, sealing, NULL) != 1)
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 key setup failed");
    return DM_OK;
}

void dm_aead_ctx_clear(dm_aead_ctx *c) {
    if (c->evp != NULL)
        ossl.ctx_free(c->evp);
    c->evp = NULL;
}

int dm_aead_ctx_seal(dm_aead_ctx *c, const uint8_t nonce[12], const uint8_t *in, size_t len,
                     uint8_t *out) {
    if (c->backend == DM_AEAD_SODIUM)
        return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                   out, out + len, NULL, in, len, NULL, 0, NULL, nonce, c->key) == 0;
    EVP_CIPHER_CTX *evp = c->evp;
    int got = 0, fin = 0;
    if (ossl.encrypt_init(evp, NULL, NULL, nonce, NULL) != 1)
        return 0;
    if (len > 0 && (ossl.encrypt_update(evp, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return 0;
    return ossl.encrypt_final(evp, out + len, &fin) == 1 && fin == 0 &&
           ossl.ctx_ctrl(evp, EVP_CTRL_AEAD_GET_TAG, DM_TAG_LEN, out + len) == 1;
}

int dm_aead_ctx_open(dm_aead_ctx *c, const uint8_t nonce[12], const uint8_t *in, size_t ct_len,
                     uint8_t *out) {
    size_t len = ct_len - DM_TAG_LEN;
    const uint8_t *tag = in + len;
    if (c->backend == DM_AEAD_SODIUM)
        return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, tag, NULL, 0,
                                                                  nonce, c->key) == 0;
    EVP_CIPHER_CTX *evp = c->evp;
    int got = 0, fin = 0;
    if (ossl.decrypt_init(evp, NULL, NULL, nonce, NULL) != 1 ||
        ossl.ctx_ctrl(evp, EVP_CTRL_AEAD_SET_TAG, DM_TAG_LEN, (void *)tag) != 1)
        return -1;
    if (len > 0 && (ossl.decrypt_update(evp, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return -1;
    return ossl.decrypt_final(evp, out + len, &fin) == 1 && fin == 0;
}
