/* scrypt passphrase recipients and identities (c2sp.org/age, "The scrypt recipient type"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define SCRYPT_TYPE "scrypt"
#define SCRYPT_LABEL "age-encryption.org/v1/scrypt"
#define SCRYPT_LABEL_LEN (sizeof SCRYPT_LABEL - 1)
#define SALT_LEN 16
#define BODY_LEN (DM_FILE_KEY_LEN + DM_TAG_LEN)
/* N = 2^log_n must fit libsodium's uint64_t and its memory estimate. */
#define LOG_N_LIMIT 40

static const uint8_t zero_nonce[12];

typedef struct scrypt_ctx {
    int log_n; /* work factor for recipients, upper limit for identities */
    size_t len;
    char passphrase[]; /* the struct lives in guarded memory */
} scrypt_ctx;

static scrypt_ctx *ctx_new(const char *passphrase, size_t len, int log_n) {
    size_t size = sizeof(scrypt_ctx) + len + 1;
    if (size < len)
        return NULL;
    scrypt_ctx *c = dm_secret_struct(size);
    if (c == NULL)
        return NULL;
    c->log_n = log_n;
    c->len = len;
    if (len > 0)
        memcpy(c->passphrase, passphrase, len);
    c->passphrase[len] = '\0';
    return c;
}

static int derive_wrap_key(const scrypt_ctx *c, const uint8_t salt[SALT_LEN], int log_n,
                           uint8_t wrap_key[32]) {
    uint8_t full_salt[SCRYPT_LABEL_LEN + SALT_LEN];
    memcpy(full_salt, SCRYPT_LABEL, SCRYPT_LABEL_LEN);
    memcpy(full_salt + SCRYPT_LABEL_LEN, salt, SALT_LEN);
    if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)c->passphrase, c->len, full_salt,
                                              sizeof full_salt, (uint64_t)1 << log_n, 8, 1,
                                              wrap_key, 32) != 0)
        return dm_fail(DM_ERR_NOMEM, "scrypt with work factor 2^%d failed (memory?)", log_n);
    return DM_OK;
}

/* ------------------------------------------------------------ recipient */

static int scrypt_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                       dm_stanza_list *out) {
    const scrypt_ctx *c = self->ctx;
    uint8_t salt[SALT_LEN], body[BODY_LEN];
    char salt_b64[32], log_n_str[8];
    uint8_t *wrap_key = dm_secret_alloc(32);
    if (wrap_key == NULL)
        return dm_fail(DM_ERR_NOMEM, "scrypt wrap");
    randombytes_buf(salt, sizeof salt);
    int err = derive_wrap_key(c, salt, c->log_n, wrap_key);
    if (err == DM_OK)
        err = dm_aead_seal(wrap_key, zero_nonce, file_key, DM_FILE_KEY_LEN, body);
    dm_secret_free(wrap_key);
    if (err == DM_OK)
        err = dm_b64_encode(salt, sizeof salt, salt_b64, sizeof salt_b64);
    if (err != DM_OK)
        return err;
    snprintf(log_n_str, sizeof log_n_str, "%d", c->log_n);
    const char *args[2] = {salt_b64, log_n_str};
    return dm_stanza_list_add(out, SCRYPT_TYPE, args, 2, body, sizeof body);
}

static void scrypt_destroy_recipient(dm_recipient *self) {
    dm_secret_free(self->ctx);
    self->ctx = NULL;
}

/* Passphrase encryption implies the sender authenticates: no one else may
 * be able to decrypt, so nothing may sit beside it (DM_RCPT_ALONE). */
static const dm_recipient scrypt_recipient_kind = {.type = SCRYPT_TYPE,
                                                   .wrap = scrypt_wrap,
                                                   .destroy = scrypt_destroy_recipient,
                                                   .flags = DM_RCPT_ALONE};

/* The context of a recipient or an identity (what), after the checks of its
 * work factor (factor: how errors name it) and passphrase. */
static int ctx_checked(const char *passphrase, size_t len, int log_n, const char *factor,
                       const char *what, scrypt_ctx **out) {
    if (log_n < 1 || log_n > LOG_N_LIMIT)
        return dm_fail(DM_ERR_USAGE, "%s %d is out of range 1..%d", factor, log_n, LOG_N_LIMIT);
    if (passphrase == NULL && len > 0)
        return dm_fail(DM_ERR_USAGE, "no passphrase");
    *out = ctx_new(passphrase, len, log_n);
    return *out != NULL ? DM_OK : dm_fail(DM_ERR_NOMEM, "%s", what);
}

int dm_scrypt_recipient_new(const char *passphrase, size_t len, int log_n, dm_recipient **out) {
    scrypt_ctx *c = NULL;
    int err = ctx_checked(passphrase, len, log_n ? log_n : DM_SCRYPT_DEFAULT_LOG_N,
                          "scrypt work factor", "scrypt recipient", &c);
    return err ? err : dm_recipient_make(&scrypt_recipient_kind, c, "scrypt recipient", out);
}

/* ------------------------------------------------------------- identity */

/* The work factor must be canonical decimal, ^[1-9][0-9]*$: "018", "+18",
 * "0x12" are all refused. Returns -1 when malformed, or a value above
 * LOG_N_LIMIT (clamped) when too large to care about the exact number. */
static int parse_log_n(const char *s) {
    if (s[0] < '1' || s[0] > '9')
        return -1;
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v <= LOG_N_LIMIT)
            v = v * 10 + (*p - '0');
    }
    return v > LOG_N_LIMIT ? LOG_N_LIMIT + 1 : v;
}

/* The salt; the work factor and the body are checked by scrypt_unwrap. */
static const dm_stanza_shape scrypt_args = {
    .nargs = 2,
    .arg_len = {SALT_LEN},
    .bad_args = "scrypt salt is not canonical base64 of 16 bytes",
};

static int scrypt_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                         uint8_t file_key[DM_FILE_KEY_LEN]) {
    const scrypt_ctx *c = self->ctx;
    uint8_t *wrap_key = dm_secret_alloc(32);
    if (wrap_key == NULL)
        return dm_fail(DM_ERR_NOMEM, "scrypt unwrap");
    int err = DM_ERR_NO_MATCH;
    int seen = 0;
    for (size_t i = 0; i < stanzas->len; i++) {
        const dm_stanza *st = &stanzas->items[i];
        if (strcmp(st->type, SCRYPT_TYPE) != 0)
            continue;
        seen = 1;
        uint8_t salt[SALT_LEN];
        if (!dm_stanza_fits(&scrypt_args, st, (uint8_t *const[]){salt, NULL})) {
            err = DM_ERR_HEADER;
            break;
        }
        int log_n = parse_log_n(st->args[1]);
        if (log_n < 0) {
            err = dm_fail(DM_ERR_HEADER, "scrypt work factor is not a canonical decimal number");
            break;
        }
        if (log_n > c->log_n) {
            err = dm_fail(DM_ERR_HEADER, "scrypt work factor %s is above the limit of %d",
                          st->args[1], c->log_n);
            break;
        }
        if (st->body_len != BODY_LEN) {
            err = dm_fail(DM_ERR_HEADER, "scrypt stanza body is %zu bytes, want %d", st->body_len,
                          BODY_LEN);
            break;
        }
        if ((err = derive_wrap_key(c, salt, log_n, wrap_key)) != DM_OK)
            break;
        /* Wrong passphrase (or wrong work factor): try any other scrypt stanza. */
        if ((err = dm_stanza_body_open(wrap_key, zero_nonce, st, file_key)) != DM_ERR_NO_MATCH)
            break;
    }
    dm_secret_free(wrap_key);
    /* Said plainly, since dm_decrypt keeps an identity's own explanation. */
    if (err == DM_ERR_NO_MATCH && seen)
        err = dm_fail(DM_ERR_BAD_PASSPHRASE, "incorrect passphrase");
    else if (err == DM_ERR_NO_MATCH)
        dm_fail(err, NULL);
    return err;
}

static void scrypt_destroy_identity(dm_identity *self) {
    dm_secret_free(self->ctx);
    self->ctx = NULL;
}

static const dm_identity scrypt_identity_kind = {.unwrap = scrypt_unwrap,
                                                 .destroy = scrypt_destroy_identity};

int dm_scrypt_identity_new(const char *passphrase, size_t len, int max_log_n, dm_identity **out) {
    scrypt_ctx *c = NULL;
    int err = ctx_checked(passphrase, len, max_log_n ? max_log_n : DM_SCRYPT_MAX_LOG_N,
                          "scrypt work factor limit", "scrypt identity", &c);
    return err ? err : dm_identity_make(&scrypt_identity_kind, c, "scrypt identity", out);
}
