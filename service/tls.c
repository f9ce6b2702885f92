/* TLS identities of the services: a P-256 key, a self-signed certificate and
 * the pin clients check (OpenSSL does every step). Trust is the pin written
 * in authority.pub, not a certificate authority: the authority names its own
 * machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "doormat/service.h"
#include "service_internal.h"

static int pin_of_key(EVP_PKEY *key, char pin[DM_ESCROW_TLS_PIN_LEN + 1]) {
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(key, &der);
    if (der_len <= 0)
        return dm_fail(DM_ERR_INTERNAL, "cannot encode the public key");
    unsigned char digest[32];
    unsigned int dlen = 0;
    int ok = EVP_Digest(der, (size_t)der_len, digest, &dlen, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (!ok || dlen != sizeof digest)
        return dm_fail(DM_ERR_INTERNAL, "SHA-256 failed");
    memcpy(pin, "sha256//", 8);
    /* 32 bytes are 44 base64 characters with padding, as curl writes pins. */
    if (EVP_EncodeBlock((unsigned char *)pin + 8, digest, sizeof digest) != 44)
        return dm_fail(DM_ERR_INTERNAL, "base64 failed");
    pin[DM_ESCROW_TLS_PIN_LEN] = '\0';
    return DM_OK;
}

static X509 *self_signed(EVP_PKEY *key, const char *cn) {
    X509 *cert = X509_new();
    X509_NAME *name = NULL;
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    int ok = cert != NULL && RAND_bytes(serial, sizeof serial) == 1;
    serial[0] &= 0x7f; /* a positive serial */
    ok = ok && (bn = BN_bin2bn(serial, sizeof serial, NULL)) != NULL;
    ok = ok && X509_set_version(cert, 2) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 366 * 24 * 3600);
    ok = ok && X509_set_pubkey(cert, key) && (name = X509_get_subject_name(cert)) != NULL;
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                          -1, 0);
    ok = ok && X509_set_issuer_name(cert, name) && X509_sign(cert, key, EVP_sha256()) > 0;
    BN_free(bn);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* Copies a memory BIO's contents into guarded memory. */
static int bio_take_secret(BIO *bio, char **out, size_t *out_len) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        return dm_fail(DM_ERR_INTERNAL, "empty PEM");
    char *copy = dm_secret_alloc((size_t)n + 1);
    if (copy == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(copy, data, (size_t)n);
    copy[n] = '\0';
    *out = copy;
    *out_len = (size_t)n;
    return DM_OK;
}

int dm_service_tls_new(const char *common_name, char **pem, size_t *pem_len,
                       char pin[DM_ESCROW_TLS_PIN_LEN + 1]) {
    *pem = NULL;
    *pem_len = 0;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (key == NULL)
        return dm_fail(DM_ERR_INTERNAL, "cannot make a P-256 key");
    X509 *cert = self_signed(key, common_name);
    BIO *bio = BIO_new(BIO_s_secmem());
    int err = DM_OK;
    if (cert == NULL || bio == NULL ||
        !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(bio, cert))
        err = dm_fail(DM_ERR_INTERNAL, "cannot make a self-signed certificate");
    if (err == DM_OK)
        err = pin_of_key(key, pin);
    if (err == DM_OK)
        err = bio_take_secret(bio, pem, pem_len);
    BIO_free(bio);
    X509_free(cert);
    EVP_PKEY_free(key);
    return err;
}

int dm_service_tls_pin(const char *pem, size_t pem_len, char pin[DM_ESCROW_TLS_PIN_LEN + 1]) {
    if (pem_len > INT32_MAX)
        return dm_fail(DM_ERR_USAGE, "PEM too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    int err = cert == NULL ? dm_fail(DM_ERR_USAGE, "no PEM certificate") : DM_OK;
    if (err == DM_OK)
        err = pin_of_key(X509_get0_pubkey(cert), pin);
    X509_free(cert);
    BIO_free(bio);
    return err;
}

char *dm_service_tls_path_for(const char *key_path) {
    size_t n = strlen(key_path);
    size_t stem = n >= 4 && strcmp(key_path + n - 4, ".key") == 0 ? n - 4 : n;
    char *out = malloc(stem + sizeof ".tls.pem");
    if (out != NULL) {
        memcpy(out, key_path, stem);
        memcpy(out + stem, ".tls.pem", sizeof ".tls.pem");
    }
    return out;
}

SSL_CTX *dm_svc_server_ctx(const char *tls_path) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        dm_fail(DM_ERR_INTERNAL, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, tls_path) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        dm_fail(DM_ERR_USAGE, "%s: not a PEM key and certificate (escrow init writes one)",
                tls_path);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
