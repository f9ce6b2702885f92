/* The ssh-rsa recipient type (age's agessh): the file key encrypted with
 * RSAES-OAEP (SHA-256, MGF1-SHA-256, label "age-encryption.org/v1/ssh-rsa")
 * to an SSH RSA key of at least 2048 bits, and a 4-byte key tag:
 *
 *   -> ssh-rsa TAG
 *   body = RSA-OAEP(file key)
 *
 * TAG is the base64 of the first 4 bytes of SHA-256 of the SSH public key
 * in wire format. All of the RSA is OpenSSL's (EVP_PKEY_encrypt/decrypt). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ssh.h"

#define LABEL "age-encryption.org/v1/ssh-rsa"
#define MIN_BITS 2048

typedef struct rsa_key {
    char tag[DM_SSH_TAG_B64_LEN + 1];
    uint8_t *blob;
    size_t blob_len;
    EVP_PKEY *pkey; /* public (recipient) or private (identity, once opened) */
} rsa_key;

static void rsa_key_clear(rsa_key *k) {
    free(k->blob);
    k->blob = NULL;
    void *pkey = k->pkey;
    dm_ssh_pkey_free(&pkey);
    k->pkey = NULL;
}

static int rsa_key_init(rsa_key *k, const dm_ssh_public *pub) {
    if ((k->blob = malloc(pub->blob_len)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "ssh-rsa key");
    memcpy(k->blob, pub->blob, pub->blob_len);
    k->blob_len = pub->blob_len;
    return dm_ssh_tag(pub->blob, pub->blob_len, k->tag);
}

/* The OAEP parameters; OpenSSL copies them (the label included). */
static void oaep_params(OSSL_PARAM params[5]) {
    static char pad[] = OSSL_PKEY_RSA_PAD_MODE_OAEP;
    static char digest[] = "SHA256";
    static char label[] = LABEL;
    OSSL_PARAM p[5] = {
        {OSSL_ASYM_CIPHER_PARAM_PAD_MODE, OSSL_PARAM_UTF8_STRING, pad, sizeof pad - 1, 0},
        {OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, OSSL_PARAM_UTF8_STRING, digest, sizeof digest - 1, 0},
        {OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, OSSL_PARAM_UTF8_STRING, digest, sizeof digest - 1, 0},
        {OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, OSSL_PARAM_OCTET_STRING, label, sizeof label - 1, 0},
        {NULL, 0, NULL, 0, 0},
    };
    memcpy(params, p, sizeof p);
}

/* A context for RSA-OAEP with k's key and the OAEP parameters in params, and
 * libcrypto in *c; NULL when there is no libcrypto (*c NULL) or OpenSSL could
 * not make one. */
static EVP_PKEY_CTX *oaep_ctx(const rsa_key *k, const dm_libcrypto **c, OSSL_PARAM params[5]) {
    if ((*c = dm_libcrypto_get(DM_LIBCRYPTO_PKEY)) == NULL)
        return NULL;
    oaep_params(params);
    return (*c)->EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
}

/* ------------------------------------------------------------ recipient */

static int rsa_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                    dm_stanza_list *out) {
    const rsa_key *k = self->ctx;
    const dm_libcrypto *c;
    OSSL_PARAM params[5];
    EVP_PKEY_CTX *ctx = oaep_ctx(k, &c, params);
    if (c == NULL)
        return DM_ERR_INTERNAL;
    size_t len = 0;
    uint8_t *body = NULL;
    int err = DM_OK;
    if (ctx == NULL || c->EVP_PKEY_encrypt_init_ex(ctx, params) != 1 ||
        c->EVP_PKEY_encrypt(ctx, NULL, &len, file_key, DM_FILE_KEY_LEN) != 1)
        err = dm_fail(DM_ERR_INTERNAL, "RSA-OAEP setup failed");
    if (err == DM_OK && (body = malloc(len)) == NULL)
        err = dm_fail(DM_ERR_NOMEM, "ssh-rsa wrap");
    if (err == DM_OK && c->EVP_PKEY_encrypt(ctx, body, &len, file_key, DM_FILE_KEY_LEN) != 1)
        err = dm_fail(DM_ERR_INTERNAL, "RSA-OAEP encryption failed");
    c->EVP_PKEY_CTX_free(ctx);
    if (err == DM_OK) {
        const char *args[1] = {k->tag};
        err = dm_stanza_list_add(out, DM_SSH_RSA, args, 1, body, len);
    }
    free(body);
    return err;
}

static void rsa_key_free(rsa_key *k) {
    if (k != NULL)
        rsa_key_clear(k);
    free(k);
}

static void rsa_recipient_destroy(dm_recipient *self) {
    rsa_key_free(self->ctx);
    self->ctx = NULL;
}

static const dm_recipient rsa_recipient_kind = {
    .type = DM_SSH_RSA, .wrap = rsa_wrap, .destroy = rsa_recipient_destroy};

int dm_ssh_rsa_recipient_new(const dm_ssh_public *pub, dm_recipient **out) {
    rsa_key *k = calloc(1, sizeof *k);
    int err = k ? DM_OK : dm_fail(DM_ERR_NOMEM, "ssh-rsa recipient");
    if (err == DM_OK)
        err = rsa_key_init(k, pub);
    void *pkey = NULL;
    if (err == DM_OK)
        err = dm_ssh_rsa_public_key(pub, &pkey);
    if (err == DM_OK) {
        k->pkey = pkey;
        const dm_libcrypto *c = dm_libcrypto_get(DM_LIBCRYPTO_PKEY);
        int bits = c->EVP_PKEY_get_bits(k->pkey);
        if (bits < MIN_BITS)
            err = dm_fail(DM_ERR_USAGE, "ssh-rsa key of %d bits is too small (at least %d)", bits,
                          MIN_BITS);
    }
    if (err != DM_OK) {
        rsa_key_free(k);
        return err;
    }
    return dm_recipient_make(&rsa_recipient_kind, k, "ssh-rsa recipient", out);
}

/* ------------------------------------------------------------- identity */

typedef struct rsa_identity {
    rsa_key key; /* pkey NULL until the file is opened */
    dm_ssh_pending *pending;
} rsa_identity;

static int rsa_open(rsa_identity *id) {
    dm_ssh_private priv;
    int err = dm_ssh_pending_open_key(id->pending, id->key.blob, id->key.blob_len, &priv);
    if (err != DM_OK)
        return err;
    id->key.pkey = priv.rsa;
    priv.rsa = NULL;
    dm_ssh_pending_free(id->pending);
    id->pending = NULL;
    dm_ssh_private_free(&priv);
    return DM_OK;
}

/* OAEP-decrypts body; DM_ERR_NO_MATCH when it does not decrypt to a file key. */
static int rsa_decrypt(const rsa_key *k, const dm_stanza *st, uint8_t file_key[DM_FILE_KEY_LEN]) {
    const dm_libcrypto *c;
    OSSL_PARAM params[5];
    EVP_PKEY_CTX *ctx = oaep_ctx(k, &c, params);
    if (c == NULL)
        return DM_ERR_INTERNAL;
    size_t cap = st->body_len;
    uint8_t *out = dm_secret_alloc(cap ? cap : 1);
    int err = DM_OK;
    if (ctx == NULL || out == NULL || c->EVP_PKEY_decrypt_init_ex(ctx, params) != 1)
        err = dm_fail(DM_ERR_INTERNAL, "RSA-OAEP setup failed");
    size_t len = cap;
    if (err == DM_OK && (c->EVP_PKEY_decrypt(ctx, out, &len, st->body, st->body_len) != 1 ||
                         len != DM_FILE_KEY_LEN))
        err = DM_ERR_NO_MATCH;
    if (err == DM_OK)
        memcpy(file_key, out, DM_FILE_KEY_LEN);
    c->EVP_PKEY_CTX_free(ctx);
    dm_secret_free(out);
    return err;
}

/* The body's length is the key's: checked when it is decrypted. */
static const dm_stanza_shape rsa_shape = {
    .nargs = 1,
    .arg_len = {DM_SSH_TAG_LEN},
    .bad_nargs = "ssh-rsa stanza must have one argument, a 4-byte tag in canonical base64",
    .bad_args = "ssh-rsa stanza must have one argument, a 4-byte tag in canonical base64",
};

static int rsa_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                      uint8_t file_key[DM_FILE_KEY_LEN]) {
    rsa_identity *id = self->ctx;
    int err = DM_ERR_NO_MATCH;
    for (size_t i = 0; i < stanzas->len; i++) {
        const dm_stanza *st = &stanzas->items[i];
        if (strcmp(st->type, DM_SSH_RSA) != 0)
            continue;
        uint8_t tag[DM_SSH_TAG_LEN];
        if (!dm_stanza_fits(&rsa_shape, st, (uint8_t *const[]){tag})) {
            err = DM_ERR_HEADER;
            break;
        }
        if (strcmp(st->args[0], id->key.tag) != 0)
            continue;
        if (id->key.pkey == NULL && (err = rsa_open(id)) != DM_OK)
            break;
        err = rsa_decrypt(&id->key, st, file_key);
        if (err != DM_ERR_NO_MATCH)
            break;
    }
    if (err == DM_ERR_NO_MATCH)
        dm_fail(err, NULL);
    return err;
}

static void rsa_identity_free(rsa_identity *id) {
    if (id != NULL) {
        rsa_key_clear(&id->key);
        dm_ssh_pending_free(id->pending);
    }
    free(id);
}

static void rsa_identity_destroy(dm_identity *self) {
    rsa_identity_free(self->ctx);
    self->ctx = NULL;
}

static const dm_identity rsa_identity_kind = {.unwrap = rsa_unwrap,
                                              .destroy = rsa_identity_destroy};

int dm_ssh_rsa_identity_new(dm_ssh_private *priv, dm_ssh_pending *pending, dm_identity **out) {
    rsa_identity *id = calloc(1, sizeof *id);
    int err = id ? DM_OK : dm_fail(DM_ERR_NOMEM, "ssh-rsa identity");
    if (err == DM_OK)
        err = rsa_key_init(&id->key, &priv->pub);
    if (err == DM_OK && pending == NULL) {
        id->key.pkey = priv->rsa;
        priv->rsa = NULL;
    }
    dm_ssh_private_free(priv);
    if (err != DM_OK) {
        rsa_identity_free(id);
        dm_ssh_pending_free(pending);
        return err;
    }
    id->pending = pending;
    return dm_identity_make(&rsa_identity_kind, id, "ssh-rsa identity", out);
}
