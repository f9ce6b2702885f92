/* What the ssh-ed25519 and ssh-rsa recipient types share: SSH wire format,
 * the key tag, reading key files, and the libraries that do the work.
 *
 * Key files are read by libssh (ssh_pki_import_privkey_base64 runs the
 * OpenSSH format's bcrypt KDF and cipher); what libssh does not hand out
 * through its API, the private numbers, is read from the clear key that
 * libssh exports again (ssh_pki_export_privkey_base64), or, for a clear
 * OpenSSH RSA key, from the file itself once libssh accepted it. The one
 * key libssh 0.10 opens but won't export, a passphrase-protected RSA key in
 * OpenSSH's format, is rewritten as encrypted PEM by OpenSSH's ssh-keygen
 * in memory (ssh_keygen.c) and read by OpenSSL; whatever path gave the
 * private key, its public key must be the one the file names. libssh and
 * libcrypto come from the vault's loader (vault/lazylib.c), on first use: a
 * run without SSH keys maps neither. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ssh.h"

#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END "-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_MAGIC "openssh-key-v1"
/* An SSH key file is small; anything bigger is not one (age: 16 KiB). */
#define MAX_KEY_FILE (16u << 10)

/* ----------------------------------------------------------- wire format */

int dm_wire_u32(dm_wire *w, uint32_t *out) {
    if (w->n < 4)
        return DM_ERR_USAGE;
    *out = (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 | (uint32_t)w->p[2] << 8 | w->p[3];
    w->p += 4;
    w->n -= 4;
    return DM_OK;
}

int dm_wire_string(dm_wire *w, const uint8_t **s, size_t *len) {
    uint32_t n = 0;
    if (dm_wire_u32(w, &n) != DM_OK || n > w->n)
        return DM_ERR_USAGE;
    *s = w->p;
    *len = n;
    w->p += n;
    w->n -= n;
    return DM_OK;
}

int dm_wire_mpint(dm_wire *w, const uint8_t **s, size_t *len) {
    if (dm_wire_string(w, s, len) != DM_OK || *len == 0 || ((*s)[0] & 0x80) != 0)
        return DM_ERR_USAGE;
    /* One leading zero only when the next byte has its top bit set. */
    if ((*s)[0] == 0) {
        if (*len < 2 || ((*s)[1] & 0x80) == 0)
            return DM_ERR_USAGE;
        (*s)++;
        (*len)--;
    }
    return DM_OK;
}

static int wire_is(const uint8_t *s, size_t len, const char *want) {
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

int dm_ssh_tag(const uint8_t *blob, size_t len, char out[DM_SSH_TAG_B64_LEN + 1]) {
    uint8_t digest[32];
    dm_sha256(blob, len, digest);
    return dm_b64_encode(digest, DM_SSH_TAG_LEN, out, DM_SSH_TAG_B64_LEN + 1);
}

/* Copies a type name for messages, printable characters only. */
void dm_ssh_safe_name(const uint8_t *s, size_t len, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++)
        out[n++] = s[i] >= 0x21 && s[i] <= 0x7e ? (char)s[i] : '?';
    out[n] = '\0';
}

/* ------------------------------------------------------------ public keys */

void dm_ssh_public_free(dm_ssh_public *pub) {
    free(pub->blob);
    memset(pub, 0, sizeof *pub);
}

int dm_ssh_public_from_blob(const uint8_t *blob, size_t len, dm_ssh_public *out) {
    memset(out, 0, sizeof *out);
    dm_wire w = {blob, len};
    const uint8_t *type;
    size_t type_len;
    if (dm_wire_string(&w, &type, &type_len) != DM_OK || type_len == 0)
        return dm_fail(DM_ERR_USAGE, "malformed SSH public key");
    dm_ssh_safe_name(type, type_len, out->type, sizeof out->type);
    if (!wire_is(type, type_len, DM_SSH_ED25519) && !wire_is(type, type_len, DM_SSH_RSA))
        return dm_fail(DM_ERR_USAGE,
                       "unsupported SSH key type \"%s\" (only ssh-ed25519 and "
                       "ssh-rsa are)",
                       out->type);
    if ((out->blob = malloc(len)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "SSH public key");
    memcpy(out->blob, blob, len);
    out->blob_len = len;
    w.p = out->blob + (w.p - blob);
    int bad;
    if (strcmp(out->type, DM_SSH_ED25519) == 0) {
        const uint8_t *pk;
        size_t pk_len;
        bad = dm_wire_string(&w, &pk, &pk_len) != DM_OK || pk_len != 32 || w.n != 0;
        out->ed25519 = pk;
    } else {
        bad = dm_wire_mpint(&w, &out->rsa_e, &out->rsa_e_len) != DM_OK ||
              dm_wire_mpint(&w, &out->rsa_n, &out->rsa_n_len) != DM_OK || w.n != 0;
    }
    if (bad) {
        char type_copy[32];
        snprintf(type_copy, sizeof type_copy, "%s", out->type);
        dm_ssh_public_free(out);
        return dm_fail(DM_ERR_USAGE, "malformed %s public key", type_copy);
    }
    /* libssh's word too: it must accept the key as what it claims to be. */
    const dm_libssh *sshlib = dm_libssh_get();
    if (sshlib == NULL) {
        dm_ssh_public_free(out);
        return DM_ERR_INTERNAL;
    }
    size_t b64_cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_cap);
    if (b64 == NULL) {
        dm_ssh_public_free(out);
        return dm_fail(DM_ERR_NOMEM, "SSH public key");
    }
    sodium_bin2base64(b64, b64_cap, blob, len, sodium_base64_VARIANT_ORIGINAL);
    ssh_key key = NULL;
    int rc =
        sshlib->ssh_pki_import_pubkey_base64(b64, sshlib->ssh_key_type_from_name(out->type), &key);
    free(b64);
    if (key != NULL)
        sshlib->ssh_key_free(key);
    if (rc != SSH_OK) {
        char type_copy[32];
        snprintf(type_copy, sizeof type_copy, "%s", out->type);
        dm_ssh_public_free(out);
        return dm_fail(DM_ERR_USAGE, "malformed %s public key", type_copy);
    }
    return DM_OK;
}

/* ------------------------------------------------------------ private keys */

void dm_ssh_pkey_free(void **pkey) {
    if (*pkey != NULL) {
        const dm_libcrypto *c = dm_libcrypto_get(DM_LIBCRYPTO_PKEY);
        if (c != NULL)
            c->EVP_PKEY_free(*pkey);
        *pkey = NULL;
    }
}

void dm_ssh_private_free(dm_ssh_private *priv) {
    dm_ssh_public_free(&priv->pub);
    dm_secret_free(priv->secret);
    priv->secret = NULL;
    dm_ssh_pkey_free(&priv->rsa);
}

int dm_ssh_is_private_key(const char *text, size_t len) {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    return len - i >= 11 && memcmp(text + i, "-----BEGIN ", 11) == 0;
}

/* The base64 between an OpenSSH key's BEGIN and END lines, decoded into
 * guarded memory (the body of a clear key is secret). */
static int openssh_body(const char *text, size_t len, uint8_t **out, size_t *out_len) {
    const char *begin = memmem(text, len, OPENSSH_BEGIN, sizeof OPENSSH_BEGIN - 1);
    if (begin == NULL)
        return dm_fail(DM_ERR_USAGE, "not an OpenSSH private key");
    const char *b64 = begin + sizeof OPENSSH_BEGIN - 1;
    const char *end = memmem(b64, len - (size_t)(b64 - text), OPENSSH_END, sizeof OPENSSH_END - 1);
    if (end == NULL)
        return dm_fail(DM_ERR_USAGE, "malformed OpenSSH private key (no END line)");
    size_t b64_len = (size_t)(end - b64);
    uint8_t *bin = dm_secret_alloc(b64_len + 1);
    if (bin == NULL)
        return dm_fail(DM_ERR_NOMEM, "SSH private key");
    size_t n = 0;
    const char *b64_end = NULL;
    if (sodium_base642bin(bin, b64_len + 1, b64, b64_len, " \t\r\n", &n, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != end) {
        dm_secret_free(bin);
        return dm_fail(DM_ERR_USAGE, "malformed OpenSSH private key (bad base64)");
    }
    *out = bin;
    *out_len = n;
    return DM_OK;
}

/* The parts of an openssh-key-v1 container (OpenSSH's PROTOCOL.key). */
typedef struct openssh_container {
    const uint8_t *cipher, *kdf, *pub, *priv;
    size_t cipher_len, kdf_len, pub_len, priv_len;
} openssh_container;

static int openssh_parse(const uint8_t *bin, size_t len, openssh_container *c) {
    const size_t magic_len = sizeof OPENSSH_MAGIC; /* with its NUL */
    if (len < magic_len || memcmp(bin, OPENSSH_MAGIC, magic_len) != 0)
        return dm_fail(DM_ERR_USAGE, "malformed OpenSSH private key (no openssh-key-v1 magic)");
    dm_wire w = {bin + magic_len, len - magic_len};
    const uint8_t *kdf_opts;
    size_t kdf_opts_len;
    uint32_t nkeys = 0;
    if (dm_wire_string(&w, &c->cipher, &c->cipher_len) != DM_OK ||
        dm_wire_string(&w, &c->kdf, &c->kdf_len) != DM_OK ||
        dm_wire_string(&w, &kdf_opts, &kdf_opts_len) != DM_OK || dm_wire_u32(&w, &nkeys) != DM_OK)
        return dm_fail(DM_ERR_USAGE, "malformed OpenSSH private key");
    if (nkeys != 1)
        return dm_fail(DM_ERR_USAGE, "OpenSSH private key file holds %u keys, want 1", nkeys);
    if (dm_wire_string(&w, &c->pub, &c->pub_len) != DM_OK ||
        dm_wire_string(&w, &c->priv, &c->priv_len) != DM_OK || w.n != 0)
        return dm_fail(DM_ERR_USAGE, "malformed OpenSSH private key");
    return DM_OK;
}

/* Builds an RSA EVP_PKEY from big-endian n, e and d. */
static int rsa_from_numbers(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                            const uint8_t *d, size_t d_len, void **out) {
    const dm_libcrypto *c = dm_libcrypto_get(DM_LIBCRYPTO_PKEY);
    if (c == NULL)
        return DM_ERR_INTERNAL;
    /* OSSL_PARAM integers are in native byte order. */
    size_t total = n_len + e_len + d_len;
    uint8_t *le = dm_secret_alloc(total ? total : 1);
    if (le == NULL)
        return dm_fail(DM_ERR_NOMEM, "RSA key");
    const uint16_t probe = 1;
    int little = *(const uint8_t *)&probe == 1;
    const uint8_t *src[3] = {n, e, d};
    size_t lens[3] = {n_len, e_len, d_len};
    uint8_t *dst[3] = {le, le + n_len, le + n_len + e_len};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < lens[k]; i++)
            dst[k][i] = little ? src[k][lens[k] - 1 - i] : src[k][i];
    OSSL_PARAM params[4] = {
        {OSSL_PKEY_PARAM_RSA_N, OSSL_PARAM_UNSIGNED_INTEGER, dst[0], n_len, 0},
        {OSSL_PKEY_PARAM_RSA_E, OSSL_PARAM_UNSIGNED_INTEGER, dst[1], e_len, 0},
        {d ? OSSL_PKEY_PARAM_RSA_D : NULL, OSSL_PARAM_UNSIGNED_INTEGER, dst[2], d_len, 0},
        {NULL, 0, NULL, 0, 0},
    };
    EVP_PKEY_CTX *ctx = c->EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    int ok =
        ctx != NULL && c->EVP_PKEY_fromdata_init(ctx) == 1 &&
        c->EVP_PKEY_fromdata(ctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) == 1;
    c->EVP_PKEY_CTX_free(ctx);
    dm_secret_free(le);
    if (!ok)
        return dm_fail(DM_ERR_USAGE, "OpenSSL refused the RSA key");
    *out = pkey;
    return DM_OK;
}

int dm_ssh_rsa_public_key(const dm_ssh_public *pub, void **out) {
    return rsa_from_numbers(pub->rsa_n, pub->rsa_n_len, pub->rsa_e, pub->rsa_e_len, NULL, 0, out);
}

/* The clear private section of an OpenSSH container: checkints, then the key. */
static int openssh_clear_private(const openssh_container *oc, dm_ssh_private *out) {
    dm_wire w = {oc->priv, oc->priv_len};
    uint32_t check1 = 0, check2 = 0;
    const uint8_t *type;
    size_t type_len;
    if (dm_wire_u32(&w, &check1) != DM_OK || dm_wire_u32(&w, &check2) != DM_OK ||
        check1 != check2 || dm_wire_string(&w, &type, &type_len) != DM_OK ||
        !wire_is(type, type_len, out->pub.type))
        return dm_fail(DM_ERR_USAGE, "malformed OpenSSH private key (private part)");
    if (strcmp(out->pub.type, DM_SSH_ED25519) == 0) {
        const uint8_t *pk, *sk;
        size_t pk_len, sk_len;
        if (dm_wire_string(&w, &pk, &pk_len) != DM_OK || pk_len != 32 ||
            dm_wire_string(&w, &sk, &sk_len) != DM_OK || sk_len != 64 ||
            sodium_memcmp(pk, out->pub.ed25519, 32) != 0 || sodium_memcmp(sk + 32, pk, 32) != 0)
            return dm_fail(DM_ERR_USAGE, "malformed ssh-ed25519 private key");
        if ((out->secret = dm_secret_alloc(64)) == NULL)
            return dm_fail(DM_ERR_NOMEM, "SSH private key");
        memcpy(out->secret, sk, 64);
        return DM_OK;
    }
    const uint8_t *n, *e, *d, *iqmp, *p, *q;
    size_t n_len, e_len, d_len, iqmp_len, p_len, q_len;
    if (dm_wire_mpint(&w, &n, &n_len) != DM_OK || dm_wire_mpint(&w, &e, &e_len) != DM_OK ||
        dm_wire_mpint(&w, &d, &d_len) != DM_OK || dm_wire_mpint(&w, &iqmp, &iqmp_len) != DM_OK ||
        dm_wire_mpint(&w, &p, &p_len) != DM_OK || dm_wire_mpint(&w, &q, &q_len) != DM_OK ||
        n_len != out->pub.rsa_n_len || memcmp(n, out->pub.rsa_n, n_len) != 0 ||
        e_len != out->pub.rsa_e_len || memcmp(e, out->pub.rsa_e, e_len) != 0)
        return dm_fail(DM_ERR_USAGE, "malformed ssh-rsa private key");
    return rsa_from_numbers(n, n_len, e, e_len, d, d_len, &out->rsa);
}

static int deny_prompt(const char *prompt, char *buf, size_t len, int echo, int verify,
                       void *userdata) {
    (void)prompt, (void)buf, (void)len, (void)echo, (void)verify, (void)userdata;
    return -1;
}

/* libssh's verdict on the file (with the passphrase, if any), and, when
 * export_clear is set, the clear key it writes back (guarded copy), or,
 * when libssh accepted the key but won't write it back, DM_OK with
 * *clear_out left NULL. */
static int libssh_open(const char *text, size_t len, const char *passphrase, int export_clear,
                       char **clear_out) {
    const dm_libssh *sshlib = dm_libssh_get();
    if (sshlib == NULL)
        return DM_ERR_INTERNAL;
    char *z = dm_secret_alloc(len + 1);
    if (z == NULL)
        return dm_fail(DM_ERR_NOMEM, "SSH private key");
    memcpy(z, text, len);
    z[len] = '\0';
    ssh_key key = NULL;
    int rc = sshlib->ssh_pki_import_privkey_base64(z, passphrase, deny_prompt, NULL, &key);
    dm_secret_free(z);
    if (rc != SSH_OK || key == NULL) {
        if (key != NULL)
            sshlib->ssh_key_free(key);
        return passphrase != NULL
                   ? dm_fail(DM_ERR_USAGE, "incorrect passphrase for the SSH key")
                   : dm_fail(DM_ERR_USAGE, "malformed SSH private key (libssh refused it)");
    }
    if (!export_clear) {
        sshlib->ssh_key_free(key);
        return DM_OK;
    }
    char *clear = NULL;
    rc = sshlib->ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &clear);
    sshlib->ssh_key_free(key);
    if (rc != SSH_OK || clear == NULL) {
        /* libssh 0.10 writes back no RSA key it read from OpenSSH's format. */
        free(clear);
        *clear_out = NULL;
        return DM_OK;
    }
    size_t n = strlen(clear);
    char *copy = dm_secret_alloc(n + 1);
    if (copy != NULL)
        memcpy(copy, clear, n + 1);
    sodium_memzero(clear, n);
    free(clear);
    if (copy == NULL)
        return dm_fail(DM_ERR_NOMEM, "SSH private key");
    *clear_out = copy;
    return DM_OK;
}

static int pem_password(char *buf, int size, int rwflag, void *u) {
    (void)rwflag;
    const char *pass = u;
    if (pass == NULL)
        return -1;
    size_t n = strlen(pass);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pass, n);
    return (int)n;
}

/* An RSA public blob from OpenSSL's numbers: string "ssh-rsa", mpint e, mpint n. */
static int rsa_blob(const dm_libcrypto *c, EVP_PKEY *pkey, uint8_t **blob, size_t *blob_len) {
    BIGNUM *bn[2] = {NULL, NULL};
    const char *names[2] = {OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_N};
    int err = DM_OK;
    for (int i = 0; i < 2 && err == DM_OK; i++)
        if (c->EVP_PKEY_get_bn_param(pkey, names[i], &bn[i]) != 1)
            err = dm_fail(DM_ERR_USAGE, "OpenSSL can't read the RSA key");
    size_t cap = 4 + 7 + 2 * 5 +
                 (err == DM_OK ? (size_t)(c->BN_num_bits(bn[0]) + 7) / 8 +
                                     (size_t)(c->BN_num_bits(bn[1]) + 7) / 8
                               : 0);
    uint8_t *out = err == DM_OK ? malloc(cap) : NULL;
    if (err == DM_OK && out == NULL)
        err = dm_fail(DM_ERR_NOMEM, "SSH public key");
    size_t pos = 0;
    if (err == DM_OK) {
        static const char t[] = DM_SSH_RSA;
        out[0] = out[1] = out[2] = 0;
        out[3] = 7;
        memcpy(out + 4, t, 7);
        pos = 11;
        for (int i = 0; i < 2; i++) {
            size_t n = (size_t)(c->BN_num_bits(bn[i]) + 7) / 8;
            uint8_t *lenp = out + pos;
            pos += 4;
            size_t body = n;
            c->BN_bn2bin(bn[i], out + pos);
            if (n > 0 && (out[pos] & 0x80)) {
                memmove(out + pos + 1, out + pos, n);
                out[pos] = 0;
                body++;
            }
            pos += body;
            lenp[0] = (uint8_t)(body >> 24);
            lenp[1] = (uint8_t)(body >> 16);
            lenp[2] = (uint8_t)(body >> 8);
            lenp[3] = (uint8_t)body;
        }
        *blob = out;
        *blob_len = pos;
    }
    for (int i = 0; i < 2; i++)
        if (bn[i] != NULL)
            c->BN_clear_free(bn[i]);
    return err;
}

/* An Ed25519 key that OpenSSL read (PKCS#8 "PRIVATE KEY", as age reads it since
 * its discussion 428): its 32-byte seed, expanded by libsodium into the
 * seed || public key form of OpenSSH files, and the ssh-ed25519 public blob. */
static int ed25519_from_pkey(const dm_libcrypto *c, EVP_PKEY *pkey, dm_ssh_private *out) {
    uint8_t *seed = dm_secret_alloc(32);
    uint8_t *sk = dm_secret_alloc(crypto_sign_SECRETKEYBYTES);
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    size_t seed_len = 32;
    int err = DM_OK;
    if (seed == NULL || sk == NULL)
        err = dm_fail(DM_ERR_NOMEM, "SSH private key");
    else if (c->EVP_PKEY_get_raw_private_key(pkey, seed, &seed_len) != 1 || seed_len != 32)
        err = dm_fail(DM_ERR_USAGE, "OpenSSL can't read the Ed25519 key");
    else if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "expanding the Ed25519 key");
    dm_secret_free(seed);
    if (err == DM_OK) {
        /* string "ssh-ed25519", string pk */
        uint8_t blob[4 + 11 + 4 + 32] = {0, 0, 0, 11};
        memcpy(blob + 4, DM_SSH_ED25519, 11);
        blob[18] = 32;
        memcpy(blob + 19, pk, 32);
        err = dm_ssh_public_from_blob(blob, sizeof blob, &out->pub);
    }
    if (err != DM_OK) {
        dm_secret_free(sk);
        return err;
    }
    out->secret = sk;
    return DM_OK;
}

/* A PEM private key (PKCS#1 "RSA PRIVATE KEY", PKCS#8), read by OpenSSL. */
static int pem_load(const char *text, size_t len, const char *passphrase, dm_ssh_private *out,
                    int *needs_passphrase) {
    const dm_libcrypto *c = dm_libcrypto_get(DM_LIBCRYPTO_PKEY);
    if (c == NULL)
        return DM_ERR_INTERNAL;
    int encrypted = memmem(text, len, "ENCRYPTED", 9) != NULL;
    if (encrypted && passphrase == NULL) {
        *needs_passphrase = 1;
        return DM_OK;
    }
    BIO *bio = c->BIO_new_mem_buf(text, (int)len);
    if (bio == NULL)
        return dm_fail(DM_ERR_NOMEM, "SSH private key");
    EVP_PKEY *pkey = c->PEM_read_bio_PrivateKey(bio, NULL, pem_password, (void *)passphrase);
    c->BIO_free(bio);
    if (pkey == NULL)
        return encrypted ? dm_fail(DM_ERR_USAGE, "incorrect passphrase for the SSH key")
                         : dm_fail(DM_ERR_USAGE, "malformed or unsupported PEM private key");
    if (c->EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        int err = ed25519_from_pkey(c, pkey, out);
        c->EVP_PKEY_free(pkey);
        return err;
    }
    if (c->EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        c->EVP_PKEY_free(pkey);
        return dm_fail(DM_ERR_USAGE, "unsupported PEM private key type (only RSA and Ed25519 "
                                     "PEM keys are)");
    }
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    int err = rsa_blob(c, pkey, &blob, &blob_len);
    if (err == DM_OK)
        err = dm_ssh_public_from_blob(blob, blob_len, &out->pub);
    free(blob);
    if (err != DM_OK) {
        c->EVP_PKEY_free(pkey);
        return err;
    }
    out->rsa = pkey;
    return DM_OK;
}

int dm_ssh_private_load(const char *text, size_t len, const char *passphrase, dm_ssh_private *out,
                        int *needs_passphrase) {
    memset(out, 0, sizeof *out);
    *needs_passphrase = 0;
    if (len > MAX_KEY_FILE)
        return dm_fail(DM_ERR_USAGE, "SSH private key file is larger than %u bytes", MAX_KEY_FILE);
    if (memmem(text, len, OPENSSH_BEGIN, sizeof OPENSSH_BEGIN - 1) == NULL) {
        if (memmem(text, len, "PRIVATE KEY-----", 16) == NULL)
            return dm_fail(DM_ERR_USAGE, "not an SSH private key");
        int err = pem_load(text, len, passphrase, out, needs_passphrase);
        if (err != DM_OK)
            dm_ssh_private_free(out);
        return err;
    }
    uint8_t *bin = NULL;
    size_t bin_len = 0;
    openssh_container oc;
    int err = openssh_body(text, len, &bin, &bin_len);
    if (err == DM_OK)
        err = openssh_parse(bin, bin_len, &oc);
    if (err == DM_OK)
        err = dm_ssh_public_from_blob(oc.pub, oc.pub_len, &out->pub);
    int clear = err == DM_OK && wire_is(oc.cipher, oc.cipher_len, "none");
    if (err == DM_OK && !clear && passphrase == NULL) {
        *needs_passphrase = 1;
    } else if (err == DM_OK && clear) {
        /* The numbers are read from the file, and libssh must accept it too. */
        err = openssh_clear_private(&oc, out);
        if (err == DM_OK)
            err = libssh_open(text, len, NULL, 0, NULL);
    } else if (err == DM_OK) {
        /* libssh checks the passphrase first (and says when it is wrong). */
        char *clear_text = NULL, *pem_pass = NULL;
        size_t clear_len = 0;
        err = libssh_open(text, len, passphrase, 1, &clear_text);
        if (err == DM_OK && clear_text != NULL) {
            clear_len = strlen(clear_text);
        } else if (err == DM_OK && strcmp(out->pub.type, DM_SSH_RSA) == 0) {
            /* The RSA key libssh opened but won't write back: ssh-keygen
             * rewrites it as PEM under a passphrase of ours, in memory. */
            err = dm_ssh_keygen_to_pem(text, len, passphrase, &clear_text, &clear_len, &pem_pass);
        } else if (err == DM_OK) {
            err = dm_fail(DM_ERR_USAGE,
                          "libssh opened the %s key but can't give back its "
                          "private numbers",
                          out->pub.type);
        }
        if (err == DM_OK) {
            dm_ssh_private inner;
            int again = 0;
            /* What libssh writes back is clear (an OpenSSH file or PEM);
             * what ssh-keygen wrote is PEM under pem_pass. Either way its
             * public key must be the one the file names. */
            err = dm_ssh_private_load(clear_text, clear_len, pem_pass, &inner, &again);
            if (err == DM_OK && (again || strcmp(inner.pub.type, out->pub.type) != 0 ||
                                 inner.pub.blob_len != out->pub.blob_len ||
                                 memcmp(inner.pub.blob, out->pub.blob, inner.pub.blob_len) != 0)) {
                dm_ssh_private_free(&inner);
                err = dm_fail(DM_ERR_USAGE, "the SSH key file's public and private keys differ");
            }
            if (err == DM_OK) {
                out->secret = inner.secret;
                out->rsa = inner.rsa;
                inner.secret = NULL;
                inner.rsa = NULL;
                dm_ssh_private_free(&inner);
            }
            dm_secret_free(clear_text);
        }
        dm_secret_free(pem_pass);
    }
    dm_secret_free(bin);
    if (err != DM_OK)
        dm_ssh_private_free(out);
    return err;
}

/* ------------------------------------------------------------- pending keys */

int dm_ssh_pending_open(dm_ssh_pending *p, dm_ssh_private *priv) {
    if (p->ask == NULL)
        return dm_fail(DM_ERR_USAGE, "the SSH key is protected by a passphrase and none can be "
                                     "asked for");
    char *pass = NULL;
    size_t pass_len = 0;
    int err = p->ask(p->ask_ctx, &pass, &pass_len);
    if (err != DM_OK)
        return err;
    int again = 0;
    err = dm_ssh_private_load(p->text, p->len, pass, priv, &again);
    dm_secret_free(pass);
    if (err == DM_OK && again) {
        dm_ssh_private_free(priv);
        err = dm_fail(DM_ERR_USAGE, "incorrect passphrase for the SSH key");
    }
    return err;
}

int dm_ssh_pending_open_key(dm_ssh_pending *p, const uint8_t *blob, size_t blob_len,
                            dm_ssh_private *priv) {
    int err = dm_ssh_pending_open(p, priv);
    if (err != DM_OK)
        return err;
    /* the private part: an EVP_PKEY for ssh-rsa, the seed for ssh-ed25519 */
    const void *part = strcmp(priv->pub.type, DM_SSH_RSA) == 0 ? priv->rsa : priv->secret;
    if (part == NULL || priv->pub.blob_len != blob_len ||
        memcmp(priv->pub.blob, blob, blob_len) != 0) {
        dm_ssh_private_free(priv);
        return p->public_from_file
                   ? dm_fail(DM_ERR_USAGE, "mismatched private and public SSH key (the .pub "
                                           "file beside the key is another key's)")
                   : dm_fail(DM_ERR_USAGE, "the SSH key file's public and private keys differ");
    }
    return DM_OK;
}

void dm_ssh_pending_free(dm_ssh_pending *p) {
    if (p == NULL)
        return;
    dm_secret_free(p->text);
    free(p);
}
