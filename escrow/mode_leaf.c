/* Mode "leaf-N": Clipper's Law Enforcement Access Field. The agents'
 * material is wrapped with fresh randomness (nothing a recipient can
 * rebuild), and all the compliant client checks is an N-bit checksum over the
 * file key and that material, under a "family key" that stands for the key
 * sealed in every Clipper chip. Blaze (1994) showed that 16 bits let a rogue
 * sender find a passing LEAF by trial; the leaf-forge lab does it again.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define FAMILY_LABEL "doormat/v1/escrow/leaf-family"
#define WRAP_LABEL "doormat/v2/escrow/leaf-wrap"
#define CHECK_LABEL "doormat/v1/escrow/leaf-checksum"
#define MAX_TAG_LEN ((DM_ESCROW_MAX_LEAF_BITS + 7) / 8)

static unsigned tag_len(unsigned bits) {
    return (bits + 7) / 8;
}

static size_t leaf_body_len(const dm_escrow_opts *opts) {
    return DM_ESCROW_WRAPPED_LEN + tag_len(opts->leaf_bits);
}

/* Derived from the public authority id: it stands for a key sealed in every chip. */
static int family_key(const dm_escrow_authority *auth, uint8_t key[32]) {
    return dm_escrow_kdf(auth->id, DM_ESCROW_ID_LEN, NULL, 0, FAMILY_LABEL, auth->id, NULL, 0, key,
                         32);
}

/* The N-bit checksum, big-endian in tag_len(N) bytes, unused top bits 0:
 * HMAC(family, label || FK || byte(X) || AGENT || E || wrapped). */
static int checksum(const dm_escrow_authority *auth, unsigned bits,
                    const uint8_t file_key[DM_FILE_KEY_LEN], size_t agent, const uint8_t eph_pk[32],
                    const uint8_t wrapped[DM_ESCROW_WRAPPED_LEN], uint8_t *tag) {
    const char *name = auth->agents[agent].name;
    uint8_t msg[sizeof CHECK_LABEL + DM_FILE_KEY_LEN + 1 + DM_ESCROW_MAX_AGENT_NAME + 32 +
                DM_ESCROW_WRAPPED_LEN];
    uint8_t family[32], mac[32];
    size_t n = 0, l = strlen(CHECK_LABEL), al = strlen(name);
    memcpy(msg, CHECK_LABEL, l);
    n += l;
    memcpy(msg + n, file_key, DM_FILE_KEY_LEN);
    n += DM_FILE_KEY_LEN;
    msg[n++] = (uint8_t)(agent + 1);
    memcpy(msg + n, name, al);
    n += al;
    memcpy(msg + n, eph_pk, 32);
    n += 32;
    memcpy(msg + n, wrapped, DM_ESCROW_WRAPPED_LEN);
    n += DM_ESCROW_WRAPPED_LEN;
    int err = family_key(auth, family);
    if (!err)
        err = dm_hmac_sha256(family, 32, msg, n, mac);
    if (!err) {
        memcpy(tag, mac, tag_len(bits));
        if (bits % 8)
            tag[0] &= (uint8_t)((1u << (bits % 8)) - 1);
    }
    sodium_memzero(msg, sizeof msg);
    sodium_memzero(family, sizeof family);
    sodium_memzero(mac, sizeof mac);
    return err;
}

typedef struct leaf_tail {
    const dm_escrow_authority *auth;
    unsigned bits;
    const uint8_t *file_key;
} leaf_tail;

static int append_checksum(void *ctx, size_t agent, const uint8_t eph_pk[32],
                           uint8_t body[DM_ESCROW_MAX_BODY_LEN], size_t *len) {
    const leaf_tail *t = ctx;
    int err = checksum(t->auth, t->bits, t->file_key, agent, eph_pk, body, body + *len);
    *len += tag_len(t->bits);
    return err;
}

static int leaf_build(const dm_escrow_authority *auth, const dm_escrow_opts *opts, const char *arg,
                      const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out) {
    leaf_tail t = {.auth = auth, .bits = opts->leaf_bits, .file_key = file_key};
    /* No labels: fresh randomness, nothing here can be rebuilt by a recipient. */
    const dm_escrow_seal_plan plan = {.mode_arg = arg,
                                      .secret = file_key,
                                      .wrap_label = WRAP_LABEL,
                                      .tail = append_checksum,
                                      .tail_ctx = &t};
    return dm_escrow_seal_stanzas(auth, &plan, file_key, out);
}

/* A LEAF is random: all a Clipper-style check can do is its checksum. */
static int leaf_verify(const dm_escrow_authority *auth, const dm_escrow_opts *opts, size_t agent,
                       const dm_stanza *st, const uint8_t file_key[DM_FILE_KEY_LEN]) {
    const char *name = auth->agents[agent].name;
    char kn[48], x[24];
    snprintf(kn, sizeof kn, "%u-of-%zu", auth->threshold, auth->n_agents);
    snprintf(x, sizeof x, "%zu", agent + 1);
    uint8_t eph_pk[32], tag[MAX_TAG_LEN];
    const unsigned len = tag_len(opts->leaf_bits);
    if (st->nargs != DM_ESCROW_N_ARGS || strcmp(st->args[DM_ESCROW_ARG_NAME], auth->name) != 0 ||
        strcmp(st->args[DM_ESCROW_ARG_KN], kn) != 0 || strcmp(st->args[DM_ESCROW_ARG_X], x) != 0 ||
        st->body_len != leaf_body_len(opts) || !dm_escrow_stanza_eph_pk(auth, agent, st, eph_pk))
        return dm_fail(DM_ERR_POLICY, "the escrow stanza for agent %s is malformed", name);
    int err = checksum(auth, opts->leaf_bits, file_key, agent, eph_pk, st->body, tag);
    if (!err && sodium_memcmp(tag, st->body + DM_ESCROW_WRAPPED_LEN, len) != 0)
        err = dm_fail(DM_ERR_POLICY,
                      "the LEAF checksum of agent %s's stanza does not match the file key", name);
    return err;
}

const dm_escrow_mode_ops dm_escrow_mode_leaf = {
    .mode = DM_ESCROW_MODE_LEAF,
    .name = "leaf",
    .max_bits = DM_ESCROW_MAX_LEAF_BITS,
    .bits_at = offsetof(dm_escrow_opts, leaf_bits),
    .bits_what = "LEAF checksum bits",
    .wrap_label = WRAP_LABEL,
    .body_len = leaf_body_len,
    .build = leaf_build,
    .verify = leaf_verify,
};
