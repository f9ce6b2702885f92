/* The MLKEM768-X25519 hybrid post-quantum recipient type (c2sp.org/age,
 * "The MLKEM768-X25519 (i.e. X-Wing) hybrid post-quantum recipient type"):
 * HPKE (RFC 9180) SealBase with the MLKEM768-X25519 KEM of
 * draft-ietf-hpke-pq (draft-irtf-cfrg-concrete-hybrid-kems), HKDF-SHA-256
 * and ChaCha20-Poly1305.
 *
 * ML-KEM-768, SHA3-256 and SHAKE256 are OpenSSL's (3.5 or later: the build
 * defines DM_HAVE_MLKEM when its OpenSSL has them, see the Makefile); X25519
 * is libsodium's. Without DM_HAVE_MLKEM every entry point says in one line
 * what this build lacks. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "internal.h"

#define PQ_PUBLIC_HRP "age1pq"
#define PQ_SECRET_HRP "AGE-SECRET-KEY-PQ-"
#define PQ_PUBLIC_PREFIX "age1pq1"
#define PQ_SECRET_PREFIX "AGE-SECRET-KEY-PQ-1"

static const char unavailable[] =
    "this build cannot use age1pq (ML-KEM-768 hybrid post-quantum) recipients: it needs "
    "OpenSSL 3.5 or later, with ML-KEM-768 and SHA-3";

int dm_pq_is_recipient(const char *s) {
    return s != NULL && strncasecmp(s, PQ_PUBLIC_PREFIX, sizeof PQ_PUBLIC_PREFIX - 1) == 0;
}

int dm_pq_is_identity(const char *s) {
    return s != NULL && strncasecmp(s, PQ_SECRET_PREFIX, sizeof PQ_SECRET_PREFIX - 1) == 0;
}

const char *dm_pq_unavailable_reason(void) {
    return unavailable;
}

#ifndef DM_HAVE_MLKEM

int dm_pq_available(void) {
    return 0;
}

int dm_pq_keygen(char **secret_out, char **public_out) {
    (void)secret_out;
    (void)public_out;
    return dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

int dm_pq_recipient_parse(const char *s, dm_recipient **out) {
    (void)s;
    (void)out;
    return dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

int dm_pq_identity_parse(const char *s, dm_identity **out) {
    (void)s;
    (void)out;
    return dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

int dm_pq_identity_to_recipient(const char *s, char **public_out) {
    (void)s;
    (void)public_out;
    return dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

int dm_pq_public_from_seed(const uint8_t seed[32], uint8_t public[1216]) {
    (void)seed;
    (void)public;
    return dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

int dm_pq_encapsulate(const uint8_t public[1216], const uint8_t *rand, uint8_t enc[1120],
                      uint8_t shared[32]) {
    (void)public;
    (void)rand;
    (void)enc;
    (void)shared;
    return dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

int dm_pq_decapsulate(const uint8_t seed[32], const uint8_t enc[1120], uint8_t shared[32]) {
    (void)seed;
    (void)enc;
    (void)shared;
    return dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

#else /* DM_HAVE_MLKEM */

#include <stdio.h>

#include "lazylib.h"

/* libcrypto comes from the vault's loader (vault/lazylib.c) the first time a
 * hybrid key is used, as for payloads: a run without one maps no OpenSSL
 * (tests/e2e/startup.sh). Every entry point asks usable() first; below, each
 * name stands for its pointer in the loader's table, whose prototypes come
 * from OpenSSL's headers (__typeof__), so every call is type-checked. */
#define PQ_OSSL (dm_libcrypto_get(DM_LIBCRYPTO_MLKEM))
#define EVP_PKEY_CTX_new_from_name PQ_OSSL->EVP_PKEY_CTX_new_from_name
#define EVP_PKEY_CTX_new_from_pkey PQ_OSSL->EVP_PKEY_CTX_new_from_pkey
#define EVP_PKEY_CTX_free PQ_OSSL->EVP_PKEY_CTX_free
#define EVP_PKEY_CTX_set_params PQ_OSSL->EVP_PKEY_CTX_set_params
#define EVP_PKEY_keygen_init PQ_OSSL->EVP_PKEY_keygen_init
#define EVP_PKEY_keygen PQ_OSSL->EVP_PKEY_keygen
#define EVP_PKEY_fromdata_init PQ_OSSL->EVP_PKEY_fromdata_init
#define EVP_PKEY_fromdata PQ_OSSL->EVP_PKEY_fromdata
#define EVP_PKEY_get_octet_string_param PQ_OSSL->EVP_PKEY_get_octet_string_param
#define EVP_PKEY_free PQ_OSSL->EVP_PKEY_free
#define EVP_PKEY_encapsulate_init PQ_OSSL->EVP_PKEY_encapsulate_init
#define EVP_PKEY_encapsulate PQ_OSSL->EVP_PKEY_encapsulate
#define EVP_PKEY_decapsulate_init PQ_OSSL->EVP_PKEY_decapsulate_init
#define EVP_PKEY_decapsulate PQ_OSSL->EVP_PKEY_decapsulate
#define EVP_MD_fetch PQ_OSSL->EVP_MD_fetch
#define EVP_MD_free PQ_OSSL->EVP_MD_free
#define EVP_MD_CTX_new PQ_OSSL->EVP_MD_CTX_new
#define EVP_MD_CTX_free PQ_OSSL->EVP_MD_CTX_free
#define EVP_DigestInit_ex2 PQ_OSSL->EVP_DigestInit_ex2
#define EVP_DigestUpdate PQ_OSSL->EVP_DigestUpdate
#define EVP_DigestFinalXOF PQ_OSSL->EVP_DigestFinalXOF
#define EVP_DigestFinal_ex PQ_OSSL->EVP_DigestFinal_ex
#define EVP_shake256 PQ_OSSL->EVP_shake256
#define EVP_sha3_256 PQ_OSSL->EVP_sha3_256
#define EVP_KDF_fetch PQ_OSSL->EVP_KDF_fetch
#define EVP_KDF_free PQ_OSSL->EVP_KDF_free
#define EVP_KDF_CTX_new PQ_OSSL->EVP_KDF_CTX_new
#define EVP_KDF_CTX_free PQ_OSSL->EVP_KDF_CTX_free
#define EVP_KDF_derive PQ_OSSL->EVP_KDF_derive
#define OSSL_PARAM_construct_octet_string PQ_OSSL->OSSL_PARAM_construct_octet_string
#define OSSL_PARAM_construct_utf8_string PQ_OSSL->OSSL_PARAM_construct_utf8_string
#define OSSL_PARAM_construct_int PQ_OSSL->OSSL_PARAM_construct_int
#define OSSL_PARAM_construct_end PQ_OSSL->OSSL_PARAM_construct_end

#define PQ_TYPE "mlkem768x25519"
#define PQ_INFO "age-encryption.org/mlkem768x25519"

#define SEED_LEN 32
#define MLKEM_SEED_LEN 64
#define MLKEM_PK_LEN 1184
#define MLKEM_CT_LEN 1088
#define MLKEM_SS_LEN 32
#define X_LEN 32
#define PK_LEN (MLKEM_PK_LEN + X_LEN)  /* 1216: Npk */
#define ENC_LEN (MLKEM_CT_LEN + X_LEN) /* 1120: Nenc */
#define BODY_LEN (DM_FILE_KEY_LEN + DM_TAG_LEN)

/* The KEM's combiner label (X-Wing's "\.//^\"). */
static const uint8_t xwing_label[6] = {0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c};
/* RFC 9180 suite_id: "HPKE" || KEM 0x647a || KDF 0x0001 (HKDF-SHA256) || AEAD 0x0003. */
static const uint8_t hpke_suite[10] = {'H', 'P', 'K', 'E', 0x64, 0x7a, 0x00, 0x01, 0x00, 0x03};

/* Both key halves from the 32-byte seed: SHAKE256(seed, 96) gives the ML-KEM
 * seed (d || z, 64 bytes) and the X25519 secret key. */
typedef struct pq_keys {
    uint8_t seed[SEED_LEN];
    uint8_t expanded[MLKEM_SEED_LEN + X_LEN];
    uint8_t public[PK_LEN]; /* ML-KEM encapsulation key || X25519 public key */
} pq_keys;

typedef struct pq_recipient {
    uint8_t public[PK_LEN];
    EVP_PKEY *mlkem;
} pq_recipient;

typedef struct pq_identity {
    pq_keys keys;
    EVP_PKEY *mlkem;
} pq_identity;

int dm_pq_available(void) {
    return dm_libcrypto_ready(DM_LIBCRYPTO_MLKEM);
}

static int usable(void) {
    return dm_pq_available() ? DM_OK : dm_fail(DM_ERR_USAGE, "%s", unavailable);
}

static int shake256(const uint8_t *in, size_t n, uint8_t *out, size_t out_len) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, EVP_shake256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, in, n) == 1 && EVP_DigestFinalXOF(ctx, out, out_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? DM_OK : dm_fail(DM_ERR_INTERNAL, "SHAKE256 failed");
}

/* ML-KEM-768 key from its 64-byte seed (FIPS 203 KeyGen_internal(d, z)). */
static int mlkem_from_seed(const uint8_t seed[MLKEM_SEED_LEN], EVP_PKEY **out) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "ML-KEM-768", NULL);
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_ML_KEM_SEED,
                                                              (void *)seed, MLKEM_SEED_LEN),
                            OSSL_PARAM_construct_end()};
    *out = NULL;
    int ok = ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_params(ctx, params) == 1 && EVP_PKEY_keygen(ctx, out) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok ? DM_OK : dm_fail(DM_ERR_INTERNAL, "ML-KEM-768 key generation from a seed failed");
}

/* The encapsulation key, checked as FIPS 203 asks (OpenSSL refuses an
 * encoding whose coefficients are not reduced). */
static int mlkem_from_public(const uint8_t pk[MLKEM_PK_LEN], EVP_PKEY **out) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "ML-KEM-768", NULL);
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pk, MLKEM_PK_LEN),
        OSSL_PARAM_construct_end()};
    *out = NULL;
    int ok = ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok ? DM_OK : dm_fail(DM_ERR_USAGE, "age1pq recipient holds an invalid ML-KEM-768 key");
}

/* Expands the seed and computes the public key; *mlkem_out (if not NULL)
 * gets the ML-KEM private key. */
static int keys_from_seed(pq_keys *k, EVP_PKEY **mlkem_out) {
    EVP_PKEY *mlkem = NULL;
    size_t pk_len = 0;
    int err = shake256(k->seed, SEED_LEN, k->expanded, sizeof k->expanded);
    if (err == DM_OK)
        err = mlkem_from_seed(k->expanded, &mlkem);
    if (err == DM_OK && (EVP_PKEY_get_octet_string_param(mlkem, OSSL_PKEY_PARAM_PUB_KEY, k->public,
                                                         MLKEM_PK_LEN, &pk_len) != 1 ||
                         pk_len != MLKEM_PK_LEN))
        err = dm_fail(DM_ERR_INTERNAL, "ML-KEM-768 encapsulation key");
    if (err == DM_OK &&
        crypto_scalarmult_base(k->public + MLKEM_PK_LEN, k->expanded + MLKEM_SEED_LEN) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "X25519 base point multiplication failed");
    if (err == DM_OK && mlkem_out != NULL) {
        *mlkem_out = mlkem;
        mlkem = NULL;
    }
    EVP_PKEY_free(mlkem);
    return err;
}

/* ss = SHA3-256(ss_M || ss_X || ct_X || pk_X || label) */
static int combine(const uint8_t ss_m[MLKEM_SS_LEN], const uint8_t ss_x[X_LEN],
                   const uint8_t ct_x[X_LEN], const uint8_t pk_x[X_LEN], uint8_t ss[32]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, EVP_sha3_256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, ss_m, MLKEM_SS_LEN) == 1 &&
             EVP_DigestUpdate(ctx, ss_x, X_LEN) == 1 && EVP_DigestUpdate(ctx, ct_x, X_LEN) == 1 &&
             EVP_DigestUpdate(ctx, pk_x, X_LEN) == 1 &&
             EVP_DigestUpdate(ctx, xwing_label, sizeof xwing_label) == 1 &&
             EVP_DigestFinal_ex(ctx, ss, &n) == 1 && n == 32;
    EVP_MD_CTX_free(ctx);
    return ok ? DM_OK : dm_fail(DM_ERR_INTERNAL, "SHA3-256 failed");
}

/* HKDF-Extract or HKDF-Expand alone (OpenSSL's HKDF), as HPKE's labeled
 * functions need them apart. */
static int hkdf(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt, size_t salt_len,
                const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    static const uint8_t empty[1];
    OSSL_PARAM params[6], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key_len ? key : empty),
                                             key_len);
    if (mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                 (void *)(salt_len ? salt : empty), salt_len);
    else
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    int ok = ctx != NULL && EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok ? DM_OK : dm_fail(DM_ERR_INTERNAL, "HKDF-SHA-256 failed");
}

#define LABEL_MAX 96
/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm) */
static int labeled_extract(const uint8_t *salt, size_t salt_len, const char *label,
                           const uint8_t *ikm, size_t ikm_len, uint8_t prk[32]) {
    uint8_t *buf = dm_secret_alloc(7 + sizeof hpke_suite + LABEL_MAX + ikm_len);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "HPKE");
    size_t n = 0, l = strlen(label);
    memcpy(buf, "HPKE-v1", 7), n += 7;
    memcpy(buf + n, hpke_suite, sizeof hpke_suite), n += sizeof hpke_suite;
    memcpy(buf + n, label, l), n += l;
    if (ikm_len)
        memcpy(buf + n, ikm, ikm_len), n += ikm_len;
    int err = hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, buf, n, salt, salt_len, NULL, 0, prk, 32);
    dm_secret_free(buf);
    return err;
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label ||
 * info, L) */
static int labeled_expand(const uint8_t prk[32], const char *label, const uint8_t *info,
                          size_t info_len, uint8_t *out, size_t out_len) {
    uint8_t buf[2 + 7 + sizeof hpke_suite + LABEL_MAX + 65];
    size_t n = 0, l = strlen(label);
    if (l > LABEL_MAX || info_len > 65)
        return dm_fail(DM_ERR_INTERNAL, "HPKE label too long");
    buf[n++] = (uint8_t)(out_len >> 8);
    buf[n++] = (uint8_t)out_len;
    memcpy(buf + n, "HPKE-v1", 7), n += 7;
    memcpy(buf + n, hpke_suite, sizeof hpke_suite), n += sizeof hpke_suite;
    memcpy(buf + n, label, l), n += l;
    memcpy(buf + n, info, info_len), n += info_len;
    return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, 32, NULL, 0, buf, n, out, out_len);
}

/* RFC 9180 KeySchedule in mode_base with info = PQ_INFO: key and base_nonce. */
static int key_schedule(const uint8_t shared[32], uint8_t key[32], uint8_t nonce[12]) {
    uint8_t context[1 + 32 + 32], secret[32];
    context[0] = 0x00; /* mode_base */
    int err = labeled_extract(NULL, 0, "psk_id_hash", NULL, 0, context + 1);
    if (err == DM_OK)
        err = labeled_extract(NULL, 0, "info_hash", (const uint8_t *)PQ_INFO, sizeof PQ_INFO - 1,
                              context + 33);
    if (err == DM_OK)
        err = labeled_extract(shared, 32, "secret", NULL, 0, secret);
    if (err == DM_OK)
        err = labeled_expand(secret, "key", context, sizeof context, key, 32);
    if (err == DM_OK)
        err = labeled_expand(secret, "base_nonce", context, sizeof context, nonce, 12);
    sodium_memzero(secret, sizeof secret);
    return err;
}

/* -------------------------------------------------------------- strings */

static int decode(const char *s, const char *hrp, uint8_t *out, size_t want, const char *what) {
    size_t cap = want + 8, n = 0;
    uint8_t *data = dm_secret_alloc(cap);
    char *got_hrp = dm_secret_alloc(64);
    if (data == NULL || got_hrp == NULL) {
        dm_secret_free(data);
        dm_secret_free(got_hrp);
        return dm_fail(DM_ERR_NOMEM, "decoding %s", what);
    }
    int err = dm_bech32_decode(s, got_hrp, 64, data, cap, &n);
    if (err == DM_OK && (strcasecmp(got_hrp, hrp) != 0 || n != want))
        err = DM_ERR_USAGE;
    if (err == DM_OK)
        memcpy(out, data, want);
    dm_secret_free(data);
    dm_secret_free(got_hrp);
    if (err != DM_OK)
        return dm_fail(err == DM_ERR_NOMEM ? err : DM_ERR_USAGE, "%s is not valid Bech32 of a key",
                       what);
    return DM_OK;
}

static size_t bech32_len(const char *hrp, size_t n) {
    return strlen(hrp) + 1 + (n * 8 + 4) / 5 + 6;
}

static int encode_public(const uint8_t public[PK_LEN], char **out) {
    size_t cap = bech32_len(PQ_PUBLIC_HRP, PK_LEN) + 1;
    char *s = malloc(cap);
    if (s == NULL)
        return dm_fail(DM_ERR_NOMEM, "age1pq recipient string");
    int err = dm_bech32_encode(PQ_PUBLIC_HRP, public, PK_LEN, s, cap);
    if (err != DM_OK) {
        free(s);
        return err;
    }
    *out = s;
    return DM_OK;
}

/* ------------------------------------------------------------ recipient */

static int encapsulate(EVP_PKEY *mlkem, const uint8_t pk_x[X_LEN], const uint8_t *rand,
                       uint8_t enc[ENC_LEN], uint8_t shared[32]);
static int decapsulate(EVP_PKEY *mlkem, const pq_keys *k, const uint8_t enc[ENC_LEN],
                       uint8_t shared[32]);

static int pq_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                   dm_stanza_list *out) {
    const pq_recipient *rc = self->ctx;
    uint8_t enc[ENC_LEN], body[BODY_LEN], nonce[12];
    uint8_t *sec = dm_secret_alloc(2 * 32); /* ss, key */
    char *enc_b64 = malloc(dm_b64_encoded_len(ENC_LEN) + 1);
    int err = DM_OK;
    if (sec == NULL || enc_b64 == NULL) {
        err = dm_fail(DM_ERR_NOMEM, "mlkem768x25519 stanza");
        goto out;
    }
    uint8_t *ss = sec, *key = sec + 32;
    if ((err = encapsulate(rc->mlkem, rc->public + MLKEM_PK_LEN, NULL, enc, ss)) != DM_OK ||
        (err = key_schedule(ss, key, nonce)) != DM_OK ||
        (err = dm_aead_seal(key, nonce, file_key, DM_FILE_KEY_LEN, body)) != DM_OK ||
        (err = dm_b64_encode(enc, ENC_LEN, enc_b64, dm_b64_encoded_len(ENC_LEN) + 1)) != DM_OK)
        goto out;
    const char *args[1] = {enc_b64};
    err = dm_stanza_list_add(out, PQ_TYPE, args, 1, body, sizeof body);
out:
    dm_secret_free(sec);
    free(enc_b64);
    return err;
}

static void pq_recipient_destroy(dm_recipient *self) {
    pq_recipient *rc = self->ctx;
    if (rc != NULL) {
        EVP_PKEY_free(rc->mlkem);
        free(rc);
    }
    self->ctx = NULL;
}

/* age's label for this type: it goes with post-quantum recipients only. */
static size_t pq_labels(const dm_recipient *self, const dm_stanza *mine, size_t n_mine,
                        const char *out[DM_MAX_LABELS]) {
    (void)self, (void)mine, (void)n_mine;
    out[0] = DM_LABEL_PQ;
    return 1;
}

static const dm_recipient pq_recipient_kind = {
    .type = PQ_TYPE, .wrap = pq_wrap, .destroy = pq_recipient_destroy, .labels = pq_labels};

int dm_pq_recipient_parse(const char *s, dm_recipient **out) {
    int err = usable();
    if (err != DM_OK)
        return err;
    if (!dm_pq_is_recipient(s) || strncmp(s, PQ_PUBLIC_PREFIX, sizeof PQ_PUBLIC_PREFIX - 1) != 0)
        return dm_fail(DM_ERR_USAGE, "hybrid recipient does not start with %s", PQ_PUBLIC_PREFIX);
    pq_recipient *rc = calloc(1, sizeof *rc);
    if (rc == NULL)
        return dm_fail(DM_ERR_NOMEM, "age1pq recipient");
    err = decode(s, PQ_PUBLIC_HRP, rc->public, PK_LEN, "age1pq recipient");
    if (err == DM_OK)
        err = mlkem_from_public(rc->public, &rc->mlkem);
    if (err != DM_OK) {
        free(rc);
        return err;
    }
    return dm_recipient_make(&pq_recipient_kind, rc, "age1pq recipient", out);
}

/* ------------------------------------------------------------- identity */

static int pq_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                     uint8_t file_key[DM_FILE_KEY_LEN]) {
    const pq_identity *id = self->ctx;
    uint8_t enc[ENC_LEN + 1], nonce[12];
    uint8_t *sec = dm_secret_alloc(2 * 32); /* ss, key */
    if (sec == NULL)
        return dm_fail(DM_ERR_NOMEM, "mlkem768x25519 identity");
    uint8_t *ss = sec, *key = sec + 32;
    int err = DM_ERR_NO_MATCH;

    for (size_t i = 0; i < stanzas->len; i++) {
        const dm_stanza *st = &stanzas->items[i];
        if (strcmp(st->type, PQ_TYPE) != 0)
            continue;
        if (st->nargs != 1) {
            err = dm_fail(DM_ERR_HEADER, "mlkem768x25519 stanza has %zu arguments, want 1",
                          st->nargs);
            break;
        }
        size_t enc_len = 0;
        if (dm_b64_decode(st->args[0], strlen(st->args[0]), enc, sizeof enc, &enc_len) != DM_OK ||
            enc_len != ENC_LEN) {
            err = dm_fail(DM_ERR_HEADER, "mlkem768x25519 share is not canonical base64 of %d bytes",
                          ENC_LEN);
            break;
        }
        /* Checked before any decryption: a partitioning oracle feeds on odd lengths. */
        if (st->body_len != BODY_LEN) {
            err = dm_fail(DM_ERR_HEADER, "mlkem768x25519 stanza body is %zu bytes, want %d",
                          st->body_len, BODY_LEN);
            break;
        }
        if ((err = decapsulate(id->mlkem, &id->keys, enc, ss)) != DM_OK ||
            (err = key_schedule(ss, key, nonce)) != DM_OK)
            break;
        /* A body that does not open is another recipient's stanza. */
        if ((err = dm_stanza_body_open(key, nonce, st, file_key)) != DM_ERR_NO_MATCH)
            break;
    }
    dm_secret_free(sec);
    if (err == DM_ERR_NO_MATCH)
        dm_fail(err, NULL);
    return err;
}

static void pq_identity_destroy(dm_identity *self) {
    pq_identity *id = self->ctx;
    if (id != NULL) {
        EVP_PKEY_free(id->mlkem);
        dm_secret_free(id);
    }
    self->ctx = NULL;
}

static int parse_secret(const char *s, pq_keys *k) {
    if (!dm_pq_is_identity(s) || strncmp(s, PQ_SECRET_PREFIX, sizeof PQ_SECRET_PREFIX - 1) != 0)
        return dm_fail(DM_ERR_USAGE, "hybrid identity does not start with %s", PQ_SECRET_PREFIX);
    return decode(s, PQ_SECRET_HRP, k->seed, SEED_LEN, "hybrid identity");
}

static const dm_identity pq_identity_kind = {.unwrap = pq_unwrap, .destroy = pq_identity_destroy};

int dm_pq_identity_parse(const char *s, dm_identity **out) {
    int err = usable();
    if (err != DM_OK)
        return err;
    pq_identity *id = dm_secret_struct(sizeof *id);
    if (id == NULL)
        return dm_fail(DM_ERR_NOMEM, "hybrid identity");
    id->mlkem = NULL;
    err = parse_secret(s, &id->keys);
    if (err == DM_OK)
        err = keys_from_seed(&id->keys, &id->mlkem);
    if (err != DM_OK) {
        EVP_PKEY_free(id->mlkem);
        dm_secret_free(id);
        return err;
    }
    return dm_identity_make(&pq_identity_kind, id, "hybrid identity", out);
}

int dm_pq_identity_to_recipient(const char *s, char **public_out) {
    int err = usable();
    if (err != DM_OK)
        return err;
    pq_keys *k = dm_secret_struct(sizeof *k);
    if (k == NULL)
        return dm_fail(DM_ERR_NOMEM, "hybrid identity");
    err = parse_secret(s, k);
    if (err == DM_OK)
        err = keys_from_seed(k, NULL);
    if (err == DM_OK)
        err = encode_public(k->public, public_out);
    dm_secret_free(k);
    return err;
}

int dm_pq_keygen(char **secret_out, char **public_out) {
    int err = usable();
    if (err != DM_OK)
        return err;
    size_t cap = bech32_len(PQ_SECRET_HRP, SEED_LEN) + 1;
    pq_keys *k = dm_secret_struct(sizeof *k);
    char *secret = dm_secret_alloc(cap);
    char *public = NULL;
    if (k == NULL || secret == NULL) {
        err = dm_fail(DM_ERR_NOMEM, "hybrid keygen");
        goto out;
    }
    randombytes_buf(k->seed, SEED_LEN);
    if ((err = keys_from_seed(k, NULL)) != DM_OK ||
        (err = dm_bech32_encode(PQ_SECRET_HRP, k->seed, SEED_LEN, secret, cap)) != DM_OK ||
        (err = encode_public(k->public, &public)) != DM_OK)
        goto out;
    *secret_out = secret;
    *public_out = public;
    secret = NULL;
out:
    dm_secret_free(k);
    dm_secret_free(secret);
    return err;
}

/* ------------------------------------------------------ the KEM alone */

int dm_pq_public_from_seed(const uint8_t seed[DM_PQ_SEED_LEN], uint8_t public[DM_PQ_PUBLIC_LEN]) {
    int err = usable();
    if (err != DM_OK)
        return err;
    pq_keys *k = dm_secret_struct(sizeof *k);
    if (k == NULL)
        return dm_fail(DM_ERR_NOMEM, "hybrid key");
    memcpy(k->seed, seed, SEED_LEN);
    err = keys_from_seed(k, NULL);
    if (err == DM_OK)
        memcpy(public, k->public, PK_LEN);
    dm_secret_free(k);
    return err;
}

/* The encapsulation of pq_wrap, on raw keys; rand as dm_pq_encapsulate. */
static int encapsulate(EVP_PKEY *mlkem, const uint8_t pk_x[X_LEN], const uint8_t *rand,
                       uint8_t enc[ENC_LEN], uint8_t shared[32]) {
    uint8_t *sec = dm_secret_alloc(3 * 32); /* ss_M, eph_X, ss_X */
    if (sec == NULL)
        return dm_fail(DM_ERR_NOMEM, "hybrid encapsulation");
    uint8_t *ss_m = sec, *eph = sec + 32, *ss_x = sec + 64;
    size_t ct_len = MLKEM_CT_LEN, ss_len = MLKEM_SS_LEN;
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_end(), OSSL_PARAM_construct_end()};
    if (rand != NULL)
        params[0] =
            OSSL_PARAM_construct_octet_string(OSSL_KEM_PARAM_IKME, (void *)rand, MLKEM_SS_LEN);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mlkem, NULL);
    int err = DM_OK;
    if (ctx == NULL || EVP_PKEY_encapsulate_init(ctx, params) != 1 ||
        EVP_PKEY_encapsulate(ctx, enc, &ct_len, ss_m, &ss_len) != 1 || ct_len != MLKEM_CT_LEN ||
        ss_len != MLKEM_SS_LEN)
        err = dm_fail(DM_ERR_INTERNAL, "ML-KEM-768 encapsulation failed");
    EVP_PKEY_CTX_free(ctx);
    if (err == DM_OK) {
        if (rand != NULL)
            memcpy(eph, rand + 32, X_LEN);
        else
            randombytes_buf(eph, X_LEN);
        if (crypto_scalarmult_base(enc + MLKEM_CT_LEN, eph) != 0 ||
            crypto_scalarmult(ss_x, eph, pk_x) != 0)
            err = dm_fail(DM_ERR_USAGE, "the hybrid key's X25519 half is a low-order point");
    }
    if (err == DM_OK)
        err = combine(ss_m, ss_x, enc + MLKEM_CT_LEN, pk_x, shared);
    dm_secret_free(sec);
    return err;
}

int dm_pq_encapsulate(const uint8_t public[DM_PQ_PUBLIC_LEN], const uint8_t *rand,
                      uint8_t enc[DM_PQ_ENC_LEN], uint8_t shared[DM_PQ_SHARED_LEN]) {
    int err = usable();
    if (err != DM_OK)
        return err;
    EVP_PKEY *mlkem = NULL;
    err = mlkem_from_public(public, &mlkem);
    if (err == DM_OK)
        err = encapsulate(mlkem, public + MLKEM_PK_LEN, rand, enc, shared);
    EVP_PKEY_free(mlkem);
    return err;
}

/* The decapsulation of pq_unwrap, on raw keys. */
static int decapsulate(EVP_PKEY *mlkem, const pq_keys *k, const uint8_t enc[ENC_LEN],
                       uint8_t shared[32]) {
    uint8_t *sec = dm_secret_alloc(2 * 32); /* ss_M, ss_X */
    if (sec == NULL)
        return dm_fail(DM_ERR_NOMEM, "hybrid decapsulation");
    uint8_t *ss_m = sec, *ss_x = sec + 32;
    size_t ss_len = MLKEM_SS_LEN;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mlkem, NULL);
    int err = DM_OK;
    if (ctx == NULL || EVP_PKEY_decapsulate_init(ctx, NULL) != 1 ||
        EVP_PKEY_decapsulate(ctx, ss_m, &ss_len, enc, MLKEM_CT_LEN) != 1 || ss_len != MLKEM_SS_LEN)
        err = dm_fail(DM_ERR_INTERNAL, "ML-KEM-768 decapsulation failed");
    EVP_PKEY_CTX_free(ctx);
    if (err == DM_OK &&
        crypto_scalarmult(ss_x, k->expanded + MLKEM_SEED_LEN, enc + MLKEM_CT_LEN) != 0)
        err = dm_fail(DM_ERR_HEADER, "hybrid share is a low-order X25519 point");
    if (err == DM_OK)
        err = combine(ss_m, ss_x, enc + MLKEM_CT_LEN, k->public + MLKEM_PK_LEN, shared);
    dm_secret_free(sec);
    return err;
}

int dm_pq_decapsulate(const uint8_t seed[DM_PQ_SEED_LEN], const uint8_t enc[DM_PQ_ENC_LEN],
                      uint8_t shared[DM_PQ_SHARED_LEN]) {
    int err = usable();
    if (err != DM_OK)
        return err;
    pq_keys *k = dm_secret_struct(sizeof *k);
    EVP_PKEY *mlkem = NULL;
    if (k == NULL)
        return dm_fail(DM_ERR_NOMEM, "hybrid key");
    memcpy(k->seed, seed, SEED_LEN);
    err = keys_from_seed(k, &mlkem);
    if (err == DM_OK)
        err = decapsulate(mlkem, k, enc, shared);
    EVP_PKEY_free(mlkem);
    dm_secret_free(k);
    return err;
}

#endif /* DM_HAVE_MLKEM */
