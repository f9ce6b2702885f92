/* Mode "crumple-C": Wright and Varia's crypto crumple zones (2018). The
 * agents hold shares of the file key locked under a key of which C bits are
 * withheld: every recovery is a 2^C search. Everything is derived from the
 * file key, so the sender pays nothing and the compliant client still
 * rebuilds the stanzas byte for byte. Each body is the sealed share, then
 * the per-file salt and a check value for the search.
 */
#include <stddef.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define SHAMIR_LABEL "doormat/v1/escrow/crumple-shamir"
#define EPHEMERAL_LABEL "doormat/v1/escrow/crumple-ephemeral"
#define WRAP_LABEL "doormat/v2/escrow/crumple-wrap"
#define SALT_LABEL "doormat/v1/escrow/crumple-salt"
#define PUZZLE_LABEL "doormat/v1/escrow/crumple-puzzle"
#define KEY_LABEL "doormat/v1/escrow/crumple-key"
#define SALT_LEN 16
#define CHECK_LEN 16

static const uint8_t zero_nonce[12];

static size_t crumple_body_len(const dm_escrow_opts *opts) {
    (void)opts;
    return DM_ESCROW_WRAPPED_LEN + SALT_LEN + CHECK_LEN;
}

/* The C-bit puzzle solution and the per-file salt, both from the file key. */
static int puzzle(const dm_escrow_authority *auth, unsigned bits,
                  const uint8_t file_key[DM_FILE_KEY_LEN], uint64_t *solution,
                  uint8_t salt[SALT_LEN]) {
    uint8_t r[8];
    int err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, PUZZLE_LABEL, auth->id, NULL, 0, r,
                            sizeof r);
    if (!err)
        err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, SALT_LABEL, auth->id, NULL, 0, salt,
                            SALT_LEN);
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = (v << 8) | r[i];
    *solution = bits >= 64 ? v : v & ((UINT64_C(1) << bits) - 1);
    sodium_memzero(r, sizeof r);
    return err;
}

/* One candidate: key(r) = HKDF(be64(r), salt, label || ID, 48) = lock key || check key;
 * check = HMAC(check key, locked)[0:16]. Only whoever holds the combined
 * shares (locked) can test a candidate. */
typedef struct candidate {
    uint8_t lock[32];
    uint8_t mk[16];
} candidate;

static int candidate_key(const dm_escrow_authority *auth, const uint8_t salt[SALT_LEN], uint64_t r,
                         candidate *k) {
    uint8_t be[8];
    for (size_t i = 0; i < 8; i++)
        be[i] = (uint8_t)(r >> (56 - 8 * i));
    return dm_escrow_kdf(be, sizeof be, salt, SALT_LEN, KEY_LABEL, auth->id, NULL, 0, (uint8_t *)k,
                         sizeof *k);
}

static int candidate_check(const candidate *k, const uint8_t locked[DM_FILE_KEY_LEN],
                           uint8_t check[CHECK_LEN]) {
    uint8_t mac[32];
    int err = dm_hmac_sha256(k->mk, sizeof k->mk, locked, DM_FILE_KEY_LEN, mac);
    memcpy(check, mac, CHECK_LEN);
    sodium_memzero(mac, sizeof mac);
    return err;
}

typedef struct salt_check {
    uint8_t salt[SALT_LEN];
    uint8_t check[CHECK_LEN];
} salt_check;

static int append_salt_check(void *ctx, size_t agent, const uint8_t eph_pk[32],
                             uint8_t body[DM_ESCROW_MAX_BODY_LEN], size_t *len) {
    (void)agent;
    (void)eph_pk;
    const salt_check *t = ctx;
    memcpy(body + *len, t->salt, SALT_LEN);
    memcpy(body + *len + SALT_LEN, t->check, CHECK_LEN);
    *len += SALT_LEN + CHECK_LEN;
    return DM_OK;
}

static int crumple_build(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                         const char *arg, const uint8_t file_key[DM_FILE_KEY_LEN],
                         dm_stanza_list *out) {
    struct secrets {
        uint8_t locked[DM_FILE_KEY_LEN]; /* what the agents share */
        candidate ck;
        uint64_t solution;
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    salt_check t;
    int err = puzzle(auth, opts->crumple_bits, file_key, &s->solution, t.salt);
    if (!err)
        err = candidate_key(auth, t.salt, s->solution, &s->ck);
    if (!err && crypto_stream_chacha20_ietf_xor(s->locked, file_key, DM_FILE_KEY_LEN, zero_nonce,
                                                s->ck.lock) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "ChaCha20 failed");
    if (!err)
        err = candidate_check(&s->ck, s->locked, t.check);
    const dm_escrow_seal_plan plan = {.mode_arg = arg,
                                      .secret = s->locked,
                                      .coeff_label = SHAMIR_LABEL,
                                      .ephemeral_label = EPHEMERAL_LABEL,
                                      .wrap_label = WRAP_LABEL,
                                      .tail = append_salt_check,
                                      .tail_ctx = &t};
    if (!err)
        err = dm_escrow_seal_stanzas(auth, &plan, file_key, out);
    dm_secret_free(s);
    return err;
}

static int crumple_solve(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                         const dm_stanza *st, uint8_t key[DM_FILE_KEY_LEN], uint64_t *tries) {
    const uint8_t *salt = st->body + DM_ESCROW_WRAPPED_LEN, *want = salt + SALT_LEN;
    struct {
        candidate ck;
        uint8_t check[CHECK_LEN];
        uint8_t locked[DM_FILE_KEY_LEN];
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(s->locked, key, DM_FILE_KEY_LEN);
    const uint64_t space = UINT64_C(1) << opts->crumple_bits;
    int err = DM_OK;
    bool found = false;
    uint64_t r;
    for (r = 0; r < space && !err; r++) {
        err = candidate_key(auth, salt, r, &s->ck);
        if (!err)
            err = candidate_check(&s->ck, s->locked, s->check);
        if (!err && sodium_memcmp(s->check, want, CHECK_LEN) == 0) {
            found = true;
            r++;
            break;
        }
    }
    if (tries)
        *tries = r;
    if (!err && !found)
        err = dm_fail(DM_ERR_HMAC,
                      "no solution among the 2^%u crumple candidates: the shares do not hold "
                      "this file's key",
                      opts->crumple_bits);
    if (!err && crypto_stream_chacha20_ietf_xor(key, s->locked, DM_FILE_KEY_LEN, zero_nonce,
                                                s->ck.lock) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "ChaCha20 failed");
    dm_secret_free(s);
    return err;
}

const dm_escrow_mode_ops dm_escrow_mode_crumple = {
    .mode = DM_ESCROW_MODE_CRUMPLE,
    .name = "crumple",
    .max_bits = DM_ESCROW_MAX_CRUMPLE_BITS,
    .bits_at = offsetof(dm_escrow_opts, crumple_bits),
    .bits_what = "crumple bits",
    .wrap_label = WRAP_LABEL,
    .body_len = crumple_body_len,
    .build = crumple_build,
    .solve = crumple_solve,
};
