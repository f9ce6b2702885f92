/* X25519 recipients and identities (c2sp.org/age, "The X25519 recipient type"). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "internal.h"

#define X25519_LEN 32
#define X25519_TYPE "X25519"
#define X25519_INFO "age-encryption.org/v1/X25519"
#define PUBLIC_HRP "age"
#define SECRET_HRP "age-secret-key-"
#define SECRET_PREFIX "AGE-SECRET-KEY-1"
#define PUBLIC_PREFIX "age1"
/* Bech32 of 32 bytes: hrp + '1' + 52 data chars + 6 checksum chars. */
#define BECH32_BODY_LEN (52 + 6)
#define SECRET_STR_LEN (sizeof SECRET_PREFIX - 1 + BECH32_BODY_LEN)
#define PUBLIC_STR_LEN (sizeof PUBLIC_PREFIX - 1 + BECH32_BODY_LEN)
#define BODY_LEN (DM_FILE_KEY_LEN + DM_TAG_LEN)

static const uint8_t zero_nonce[12];

/* Both contexts carry guarded scratch for the per-file secrets, so a wrap
 * or unwrap costs no guarded allocation (each is several system calls); the
 * lock keeps concurrent use of one recipient or identity correct. */
typedef struct x25519_recipient {
    pthread_mutex_t lock;
    uint8_t public[X25519_LEN];
    uint8_t scratch[3 * 32]; /* ephemeral secret, shared secret, wrap key */
} x25519_recipient;

typedef struct x25519_identity {
    pthread_mutex_t lock;
    uint8_t secret[X25519_LEN];
    uint8_t public[X25519_LEN];
    uint8_t scratch[2 * 32]; /* shared secret, wrap key */
} x25519_identity;

/* Decodes "<prefix>..." Bech32 into 32 bytes; the prefix check also fixes
 * the case: age writes recipients in lower case and secret keys in upper case,
 * and so do we. */
static int decode_key(const char *s, const char *prefix, const char *hrp, uint8_t *out,
                      const char *what) {
    size_t plen = strlen(prefix);
    if (s == NULL || strncmp(s, prefix, plen) != 0)
        return dm_fail(DM_ERR_USAGE, "%s does not start with %s", what, prefix);
    if (strlen(s) != plen + BECH32_BODY_LEN)
        return dm_fail(DM_ERR_USAGE, "%s has the wrong length", what);
    char got_hrp[32];
    /* Room for more than 32 bytes so that a longer payload fails the length check. */
    uint8_t *data = dm_secret_alloc(64);
    if (data == NULL)
        return dm_fail(DM_ERR_NOMEM, "decoding %s", what);
    size_t n = 0;
    int err = dm_bech32_decode(s, got_hrp, sizeof got_hrp, data, 64, &n);
    if (err == DM_OK && (strcasecmp(got_hrp, hrp) != 0 || n != X25519_LEN))
        err = DM_ERR_USAGE;
    if (err == DM_OK)
        memcpy(out, data, X25519_LEN);
    dm_secret_free(data);
    if (err != DM_OK)
        return dm_fail(err == DM_ERR_NOMEM ? err : DM_ERR_USAGE, "%s is not valid Bech32 of a key",
                       what);
    return DM_OK;
}

/* Writes the Bech32 string of a key; upper case for secrets, as age-keygen prints them. */
static int encode_key(const char *hrp, const uint8_t key[X25519_LEN], int upper, char *out,
                      size_t cap) {
    int err = dm_bech32_encode(hrp, key, X25519_LEN, out, cap);
    if (err != DM_OK)
        return err;
    if (upper)
        for (char *p = out; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
    return DM_OK;
}

/* wrap key = HKDF(shared, share || recipient, info); the caller owns secrets. */
static int derive_wrap_key(const uint8_t shared[X25519_LEN], const uint8_t share[X25519_LEN],
                           const uint8_t recipient[X25519_LEN], uint8_t wrap_key[32]) {
    uint8_t salt[2 * X25519_LEN];
    memcpy(salt, share, X25519_LEN);
    memcpy(salt + X25519_LEN, recipient, X25519_LEN);
    return dm_hkdf_sha256(shared, X25519_LEN, salt, sizeof salt, X25519_INFO,
                          sizeof X25519_INFO - 1, wrap_key, 32);
}

/* ------------------------------------------------------------ recipient */

static int x25519_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                       dm_stanza_list *out) {
    x25519_recipient *rc = self->ctx;
    const uint8_t *recipient = rc->public;
    if (pthread_mutex_lock(&rc->lock) != 0)
        return dm_fail(DM_ERR_INTERNAL, "X25519 recipient lock");
    uint8_t *eph = rc->scratch, *shared = rc->scratch + 32, *wrap_key = rc->scratch + 64;
    uint8_t share[X25519_LEN], body[BODY_LEN];
    char share_b64[64];
    int err = DM_OK;

    randombytes_buf(eph, X25519_LEN);
    if (crypto_scalarmult_base(share, eph) != 0 || crypto_scalarmult(shared, eph, recipient) != 0 ||
        sodium_is_zero(shared, X25519_LEN)) {
        err = dm_fail(DM_ERR_USAGE, "X25519 recipient is a low-order point");
        goto out;
    }
    if ((err = derive_wrap_key(shared, share, recipient, wrap_key)) != DM_OK)
        goto out;
    if ((err = dm_aead_seal(wrap_key, zero_nonce, file_key, DM_FILE_KEY_LEN, body)) != DM_OK)
        goto out;
    if ((err = dm_b64_encode(share, sizeof share, share_b64, sizeof share_b64)) != DM_OK)
        goto out;
    const char *args[1] = {share_b64};
    err = dm_stanza_list_add(out, X25519_TYPE, args, 1, body, sizeof body);
out:
    sodium_memzero(rc->scratch, sizeof rc->scratch);
    pthread_mutex_unlock(&rc->lock);
    return err;
}

static void x25519_recipient_destroy(dm_recipient *self) {
    x25519_recipient *rc = self->ctx;
    if (rc != NULL) {
        pthread_mutex_destroy(&rc->lock);
        dm_secret_free(rc);
    }
    self->ctx = NULL;
}

static const dm_recipient x25519_recipient_kind = {
    .type = X25519_TYPE, .wrap = x25519_wrap, .destroy = x25519_recipient_destroy};

static int new_recipient(const uint8_t public[X25519_LEN], dm_recipient **out) {
    x25519_recipient *rc = dm_secret_struct(sizeof *rc);
    if (rc == NULL)
        return dm_fail(DM_ERR_NOMEM, "X25519 recipient");
    if (pthread_mutex_init(&rc->lock, NULL) != 0) {
        dm_secret_free(rc);
        return dm_fail(DM_ERR_INTERNAL, "X25519 recipient lock");
    }
    memcpy(rc->public, public, X25519_LEN);
    return dm_recipient_make(&x25519_recipient_kind, rc, "X25519 recipient", out);
}

int dm_x25519_recipient_parse(const char *age1, dm_recipient **out) {
    uint8_t public[X25519_LEN];
    int err = decode_key(age1, PUBLIC_PREFIX, PUBLIC_HRP, public, "X25519 recipient");
    if (err != DM_OK)
        return err;
    /* A low-order recipient would make every shared secret zero: refuse it now. */
    uint8_t probe_secret[X25519_LEN], probe_shared[X25519_LEN];
    randombytes_buf(probe_secret, sizeof probe_secret);
    int bad = crypto_scalarmult(probe_shared, probe_secret, public) != 0 ||
              sodium_is_zero(probe_shared, X25519_LEN);
    sodium_memzero(probe_secret, sizeof probe_secret);
    sodium_memzero(probe_shared, sizeof probe_shared);
    if (bad)
        return dm_fail(DM_ERR_USAGE, "X25519 recipient is a low-order point");
    return new_recipient(public, out);
}

/* ------------------------------------------------------------- identity */

static const dm_stanza_shape x25519_shape = {
    .nargs = 1,
    .arg_len = {X25519_LEN},
    .bad_args = "X25519 share is not canonical base64 of 32 bytes",
    .body_len = BODY_LEN,
};

static int x25519_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                         uint8_t file_key[DM_FILE_KEY_LEN]) {
    x25519_identity *id = self->ctx;
    if (pthread_mutex_lock(&id->lock) != 0)
        return dm_fail(DM_ERR_INTERNAL, "X25519 identity lock");
    uint8_t *shared = id->scratch, *wrap_key = id->scratch + 32;
    int err = DM_ERR_NO_MATCH;

    for (size_t i = 0; i < stanzas->len; i++) {
        const dm_stanza *st = &stanzas->items[i];
        if (strcmp(st->type, X25519_TYPE) != 0)
            continue;
        uint8_t share[X25519_LEN];
        /* The body's length is checked before any decryption: a
         * partitioning oracle feeds on odd lengths. */
        if (!dm_stanza_fits(&x25519_shape, st, (uint8_t *const[]){share})) {
            err = DM_ERR_HEADER;
            break;
        }
        if (crypto_scalarmult(shared, id->secret, share) != 0 ||
            sodium_is_zero(shared, X25519_LEN)) {
            err = dm_fail(DM_ERR_HEADER, "X25519 share is a low-order point");
            break;
        }
        if ((err = derive_wrap_key(shared, share, id->public, wrap_key)) != DM_OK)
            break;
        /* A body that does not open is another recipient's stanza. */
        if ((err = dm_stanza_body_open(wrap_key, zero_nonce, st, file_key)) != DM_ERR_NO_MATCH)
            break;
    }
    sodium_memzero(id->scratch, sizeof id->scratch);
    pthread_mutex_unlock(&id->lock);
    if (err == DM_ERR_NO_MATCH)
        dm_fail(err, NULL);
    return err;
}

static void x25519_identity_destroy(dm_identity *self) {
    x25519_identity *id = self->ctx;
    if (id != NULL) {
        pthread_mutex_destroy(&id->lock);
        dm_secret_free(id);
    }
    self->ctx = NULL;
}

static const dm_identity x25519_identity_kind = {.unwrap = x25519_unwrap,
                                                 .destroy = x25519_identity_destroy};

int dm_x25519_identity_parse(const char *secret, dm_identity **out) {
    x25519_identity *id = dm_secret_struct(sizeof *id);
    if (id == NULL)
        return dm_fail(DM_ERR_NOMEM, "X25519 identity");
    int err = decode_key(secret, SECRET_PREFIX, SECRET_HRP, id->secret, "X25519 identity");
    if (err == DM_OK && crypto_scalarmult_base(id->public, id->secret) != 0)
        err = dm_fail(DM_ERR_USAGE, "X25519 identity is unusable");
    if (err != DM_OK) {
        dm_secret_free(id);
        return err;
    }
    if (pthread_mutex_init(&id->lock, NULL) != 0) {
        dm_secret_free(id);
        return dm_fail(DM_ERR_NOMEM, "X25519 identity");
    }
    return dm_identity_make(&x25519_identity_kind, id, "X25519 identity", out);
}

int dm_x25519_identity_to_recipient(const char *secret, char **public_out) {
    uint8_t *sec = dm_secret_alloc(X25519_LEN);
    if (sec == NULL)
        return dm_fail(DM_ERR_NOMEM, "X25519 identity");
    uint8_t public[X25519_LEN];
    int err = decode_key(secret, SECRET_PREFIX, SECRET_HRP, sec, "X25519 identity");
    if (err == DM_OK && crypto_scalarmult_base(public, sec) != 0)
        err = dm_fail(DM_ERR_USAGE, "X25519 identity is unusable");
    dm_secret_free(sec);
    if (err != DM_OK)
        return err;
    char *s = malloc(PUBLIC_STR_LEN + 1);
    if (s == NULL)
        return dm_fail(DM_ERR_NOMEM, "X25519 recipient string");
    if ((err = encode_key(PUBLIC_HRP, public, 0, s, PUBLIC_STR_LEN + 1)) != DM_OK) {
        free(s);
        return err;
    }
    *public_out = s;
    return DM_OK;
}

int dm_x25519_keygen(char **secret_out, char **public_out) {
    uint8_t *sec = dm_secret_alloc(X25519_LEN);
    char *secret_str = dm_secret_alloc(SECRET_STR_LEN + 1);
    char *public_str = malloc(PUBLIC_STR_LEN + 1);
    uint8_t public[X25519_LEN];
    int err = DM_OK;
    if (sec == NULL || secret_str == NULL || public_str == NULL) {
        err = dm_fail(DM_ERR_NOMEM, "X25519 keygen");
        goto fail;
    }
    randombytes_buf(sec, X25519_LEN);
    if (crypto_scalarmult_base(public, sec) != 0) {
        err = dm_fail(DM_ERR_INTERNAL, "X25519 base point multiplication failed");
        goto fail;
    }
    if ((err = encode_key(SECRET_HRP, sec, 1, secret_str, SECRET_STR_LEN + 1)) != DM_OK ||
        (err = encode_key(PUBLIC_HRP, public, 0, public_str, PUBLIC_STR_LEN + 1)) != DM_OK)
        goto fail;
    dm_secret_free(sec);
    *secret_out = secret_str;
    *public_out = public_str;
    return DM_OK;
fail:
    dm_secret_free(sec);
    dm_secret_free(secret_str);
    free(public_str);
    return err;
}
