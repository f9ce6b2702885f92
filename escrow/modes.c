/* The historical escrow designs, as stanza modes beside "shamir":
 *
 *   leaf-N     Clipper's Law Enforcement Access Field. The agents' material is
 *              wrapped with fresh randomness (nothing a recipient can rebuild),
 *              and all the compliant client checks is an N-bit checksum over
 *              the file key and that material, under a "family key" that
 *              stands for the key sealed in every Clipper chip. Blaze (1994)
 *              showed that 16 bits let a rogue sender find a passing LEAF by
 *              trial; the leaf-forge lab does it again.
 *   crumple-C  Wright and Varia's crypto crumple zones (2018). The agents hold
 *              shares of the file key locked under a key of which C bits are
 *              withheld: every recovery is a 2^C search. Everything is derived
 *              from the file key, so the sender pays nothing and the compliant
 *              client still rebuilds the stanzas byte for byte.
 *
 * The stanza grammar is shamir's; the mode argument carries the bits
 * ("leaf-16", "crumple-20"). docs/escrow-format.md is the normative text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define LEAF_FAMILY_LABEL "doormat/v1/escrow/leaf-family"
#define LEAF_WRAP_LABEL "doormat/v1/escrow/leaf-wrap"
#define LEAF_CHECK_LABEL "doormat/v1/escrow/leaf-checksum"
#define CRUMPLE_SHAMIR_LABEL "doormat/v1/escrow/crumple-shamir"
#define CRUMPLE_EPHEMERAL_LABEL "doormat/v1/escrow/crumple-ephemeral"
#define CRUMPLE_WRAP_LABEL "doormat/v1/escrow/crumple-wrap"
#define CRUMPLE_SALT_LABEL "doormat/v1/escrow/crumple-salt"
#define CRUMPLE_PUZZLE_LABEL "doormat/v1/escrow/crumple-puzzle"
#define CRUMPLE_KEY_LABEL "doormat/v1/escrow/crumple-key"

#define N_ARGS 7
enum { ARG_MODE, ARG_ID, ARG_NAME, ARG_KN, ARG_X, ARG_AGENT, ARG_EPHEMERAL };
#define WRAPPED_LEN DM_ESCROW_WRAPPED_LEN
#define CRUMPLE_SALT_LEN 16
#define CRUMPLE_CHECK_LEN 16
#define CRUMPLE_BODY_LEN (WRAPPED_LEN + CRUMPLE_SALT_LEN + CRUMPLE_CHECK_LEN)

static unsigned leaf_tag_len(unsigned bits) {
    return (bits + 7) / 8;
}

int dm_escrow_mode_check(const dm_escrow_opts *opts) {
    if (!opts)
        return DM_OK;
    switch (opts->mode) {
    case DM_ESCROW_MODE_SHAMIR:
        return DM_OK;
    case DM_ESCROW_MODE_LEAF:
        if (opts->leaf_bits < 1 || opts->leaf_bits > DM_ESCROW_MAX_LEAF_BITS)
            return dm_fail(DM_ERR_USAGE, "LEAF checksum bits must be 1 to %d, not %u",
                           DM_ESCROW_MAX_LEAF_BITS, opts->leaf_bits);
        return DM_OK;
    case DM_ESCROW_MODE_CRUMPLE:
        if (opts->crumple_bits < 1 || opts->crumple_bits > DM_ESCROW_MAX_CRUMPLE_BITS)
            return dm_fail(DM_ERR_USAGE, "crumple bits must be 1 to %d, not %u",
                           DM_ESCROW_MAX_CRUMPLE_BITS, opts->crumple_bits);
        return DM_OK;
    }
    return dm_fail(DM_ERR_USAGE, "unknown escrow mode %d", (int)opts->mode);
}

int dm_escrow_mode_arg(const dm_escrow_opts *opts, char *out, size_t cap) {
    int n;
    if (!opts || opts->mode == DM_ESCROW_MODE_SHAMIR)
        n = snprintf(out, cap, "shamir");
    else if (opts->mode == DM_ESCROW_MODE_LEAF)
        n = snprintf(out, cap, "leaf-%u", opts->leaf_bits);
    else
        n = snprintf(out, cap, "crumple-%u", opts->crumple_bits);
    return n > 0 && (size_t)n < cap ? DM_OK : dm_fail(DM_ERR_INTERNAL, "mode name too long");
}

bool dm_escrow_mode_parse(const char *arg, dm_escrow_opts *out) {
    memset(out, 0, sizeof *out);
    if (strcmp(arg, "shamir") == 0)
        return true;
    unsigned v;
    if (strncmp(arg, "leaf-", 5) == 0 &&
        dm_escrow_parse_uint(arg + 5, strlen(arg + 5), DM_ESCROW_MAX_LEAF_BITS, &v) && v >= 1) {
        out->mode = DM_ESCROW_MODE_LEAF;
        out->leaf_bits = v;
        return true;
    }
    if (strncmp(arg, "crumple-", 8) == 0 &&
        dm_escrow_parse_uint(arg + 8, strlen(arg + 8), DM_ESCROW_MAX_CRUMPLE_BITS, &v) && v >= 1) {
        out->mode = DM_ESCROW_MODE_CRUMPLE;
        out->crumple_bits = v;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------ LEAF */

static int leaf_family_key(const dm_escrow_authority *auth, uint8_t key[32]) {
    return dm_escrow_kdf(auth->id, DM_ESCROW_ID_LEN, NULL, 0, LEAF_FAMILY_LABEL, auth->id, NULL, 0,
                         key, 32);
}

/* The N-bit checksum, big-endian in leaf_tag_len(N) bytes, unused top bits 0:
 * HMAC(family, label || FK || byte(X) || AGENT || E || wrapped). */
static int leaf_checksum(const uint8_t family[32], unsigned bits,
                         const uint8_t file_key[DM_FILE_KEY_LEN], size_t x, const char *agent,
                         const uint8_t eph_pk[32], const uint8_t wrapped[WRAPPED_LEN],
                         uint8_t *tag) {
    uint8_t msg[sizeof LEAF_CHECK_LABEL + DM_FILE_KEY_LEN + 1 + DM_ESCROW_MAX_AGENT_NAME + 32 +
                WRAPPED_LEN];
    size_t n = 0, l = strlen(LEAF_CHECK_LABEL), al = strlen(agent);
    memcpy(msg, LEAF_CHECK_LABEL, l);
    n += l;
    memcpy(msg + n, file_key, DM_FILE_KEY_LEN);
    n += DM_FILE_KEY_LEN;
    msg[n++] = (uint8_t)x;
    memcpy(msg + n, agent, al);
    n += al;
    memcpy(msg + n, eph_pk, 32);
    n += 32;
    memcpy(msg + n, wrapped, WRAPPED_LEN);
    n += WRAPPED_LEN;
    uint8_t mac[32];
    int err = dm_hmac_sha256(family, 32, msg, n, mac);
    sodium_memzero(msg, sizeof msg);
    if (err)
        return err;
    unsigned len = leaf_tag_len(bits);
    memcpy(tag, mac, len);
    if (bits % 8)
        tag[0] &= (uint8_t)((1u << (bits % 8)) - 1);
    sodium_memzero(mac, sizeof mac);
    return DM_OK;
}

/* ------------------------------------------------------------ crumple */

/* The C-bit puzzle solution and the per-file salt, both from the file key. */
static int crumple_puzzle(const dm_escrow_authority *auth, unsigned bits,
                          const uint8_t file_key[DM_FILE_KEY_LEN], uint64_t *solution,
                          uint8_t salt[CRUMPLE_SALT_LEN]) {
    uint8_t r[8];
    int err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, CRUMPLE_PUZZLE_LABEL, auth->id,
                            NULL, 0, r, sizeof r);
    if (!err)
        err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, CRUMPLE_SALT_LABEL, auth->id, NULL,
                            0, salt, CRUMPLE_SALT_LEN);
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
typedef struct crumple_key {
    uint8_t lock[32];
    uint8_t mk[16];
} crumple_key;

static int crumple_candidate(const dm_escrow_authority *auth, const uint8_t salt[CRUMPLE_SALT_LEN],
                             uint64_t r, crumple_key *k) {
    uint8_t be[8];
    for (size_t i = 0; i < 8; i++)
        be[i] = (uint8_t)(r >> (56 - 8 * i));
    return dm_escrow_kdf(be, sizeof be, salt, CRUMPLE_SALT_LEN, CRUMPLE_KEY_LABEL, auth->id, NULL,
                         0, (uint8_t *)k, sizeof *k);
}

static int crumple_check(const crumple_key *k, const uint8_t locked[DM_FILE_KEY_LEN],
                         uint8_t check[CRUMPLE_CHECK_LEN]) {
    uint8_t mac[32];
    int err = dm_hmac_sha256(k->mk, sizeof k->mk, locked, DM_FILE_KEY_LEN, mac);
    memcpy(check, mac, CRUMPLE_CHECK_LEN);
    sodium_memzero(mac, sizeof mac);
    return err;
}

/* ------------------------------------------------------------ building */

int dm_escrow_mode_build(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                         const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out) {
    int err = dm_escrow_mode_check(opts);
    if (err)
        return err;
    const bool leaf = opts->mode == DM_ESCROW_MODE_LEAF;
    const size_t k = auth->threshold, n = auth->n_agents;
    struct secrets {
        uint8_t coeffs[(DM_ESCROW_MAX_AGENTS - 1) * DM_FILE_KEY_LEN];
        uint8_t shares[DM_ESCROW_MAX_AGENTS * DM_FILE_KEY_LEN];
        uint8_t secret[DM_FILE_KEY_LEN]; /* what is shared: FK (leaf) or locked FK */
        uint8_t eph_sk[32];
        dm_escrow_wrap_scratch wrap;
        uint8_t family[32];
        crumple_key ck;
        uint64_t solution;
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    uint8_t salt[CRUMPLE_SALT_LEN] = {0}, check[CRUMPLE_CHECK_LEN] = {0};
    static const uint8_t zero_nonce[12];
    if (leaf) {
        /* Fresh randomness: nothing here can be rebuilt by a recipient. */
        memcpy(s->secret, file_key, DM_FILE_KEY_LEN);
        if (k > 1)
            randombytes_buf(s->coeffs, (k - 1) * DM_FILE_KEY_LEN);
        err = leaf_family_key(auth, s->family);
    } else {
        err = crumple_puzzle(auth, opts->crumple_bits, file_key, &s->solution, salt);
        if (!err)
            err = crumple_candidate(auth, salt, s->solution, &s->ck);
        if (!err && crypto_stream_chacha20_ietf_xor(s->secret, file_key, DM_FILE_KEY_LEN,
                                                    zero_nonce, s->ck.lock) != 0)
            err = dm_fail(DM_ERR_INTERNAL, "ChaCha20 failed");
        if (!err)
            err = crumple_check(&s->ck, s->secret, check);
        if (!err && k > 1)
            err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, CRUMPLE_SHAMIR_LABEL, auth->id,
                                NULL, 0, s->coeffs, (k - 1) * DM_FILE_KEY_LEN);
    }
    if (!err)
        err = dm_shamir_split(s->secret, DM_FILE_KEY_LEN, (unsigned)k, (unsigned)n, s->coeffs,
                              s->shares);
    char mode[24], kn[48], x[24], eph64[DM_ESCROW_KEY_B64_LEN + 1];
    if (!err)
        err = dm_escrow_mode_arg(opts, mode, sizeof mode);
    snprintf(kn, sizeof kn, "%zu-of-%zu", k, n);
    for (size_t i = 0; i < n && !err; i++) {
        const dm_escrow_agent_pub *a = &auth->agents[i];
        uint8_t eph_pk[32],
            body[CRUMPLE_BODY_LEN > WRAPPED_LEN + 8 ? CRUMPLE_BODY_LEN : WRAPPED_LEN + 8];
        size_t body_len;
        if (leaf)
            randombytes_buf(s->eph_sk, 32);
        else
            err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, CRUMPLE_EPHEMERAL_LABEL,
                                auth->id, (const uint8_t *)a->name, strlen(a->name), s->eph_sk, 32);
        if (!err)
            err = dm_escrow_seal_share(leaf ? LEAF_WRAP_LABEL : CRUMPLE_WRAP_LABEL, auth, i,
                                       s->eph_sk, s->shares + i * DM_FILE_KEY_LEN, &s->wrap, eph_pk,
                                       body);
        if (err)
            break;
        if (leaf) {
            err = leaf_checksum(s->family, opts->leaf_bits, file_key, i + 1, a->name, eph_pk, body,
                                body + WRAPPED_LEN);
            body_len = WRAPPED_LEN + leaf_tag_len(opts->leaf_bits);
        } else {
            memcpy(body + WRAPPED_LEN, salt, CRUMPLE_SALT_LEN);
            memcpy(body + WRAPPED_LEN + CRUMPLE_SALT_LEN, check, CRUMPLE_CHECK_LEN);
            body_len = CRUMPLE_BODY_LEN;
        }
        if (!err)
            err = dm_escrow_b64(eph_pk, 32, eph64, sizeof eph64);
        if (err)
            break;
        snprintf(x, sizeof x, "%zu", i + 1);
        const char *args[N_ARGS] = {mode, auth->id_hex, auth->name, kn, x, a->name, eph64};
        err = dm_stanza_list_add(out, DM_ESCROW_STANZA_TYPE, args, N_ARGS, body, body_len);
    }
    dm_secret_free(s);
    return err;
}

/* ------------------------------------------------------------ LEAF check */

int dm_escrow_leaf_verify(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                          const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN]) {
    int err = dm_escrow_mode_check(opts);
    if (err)
        return err;
    char mode[24], kn[48], x[24];
    if ((err = dm_escrow_mode_arg(opts, mode, sizeof mode)) != DM_OK)
        return err;
    snprintf(kn, sizeof kn, "%u-of-%zu", auth->threshold, auth->n_agents);
    const unsigned bits = opts->leaf_bits, tag_len = leaf_tag_len(bits);
    /* Derived from the public authority id (it stands for a key sealed in
     * every chip), so the stack will do: this runs once per forgery try. */
    uint8_t family[32];
    err = leaf_family_key(auth, family);
    bool seen[DM_ESCROW_MAX_AGENTS] = {false};
    size_t claimed = 0;
    for (size_t i = 0; i < hdr->stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (strcmp(st->type, DM_ESCROW_STANZA_TYPE) != 0 || st->nargs <= ARG_ID ||
            strcmp(st->args[ARG_ID], auth->id_hex) != 0)
            continue;
        claimed++;
        int idx =
            st->nargs == N_ARGS ? dm_escrow_authority_find_agent(auth, st->args[ARG_AGENT]) : -1;
        if (idx < 0) {
            err = dm_fail(DM_ERR_POLICY,
                          "escrow stanza %zu names an agent that authority %s does not have", i + 1,
                          auth->name);
            break;
        }
        const dm_escrow_agent_pub *a = &auth->agents[idx];
        if (seen[idx]) {
            err = dm_fail(DM_ERR_POLICY, "two escrow stanzas for agent %s", a->name);
            break;
        }
        seen[idx] = true;
        snprintf(x, sizeof x, "%d", idx + 1);
        uint8_t eph_pk[32], tag[8];
        if (strcmp(st->args[ARG_MODE], mode) != 0) {
            err = dm_fail(DM_ERR_POLICY,
                          "the escrow stanza for agent %s is mode %s, the check wants %s", a->name,
                          st->args[ARG_MODE], mode);
        } else if (strcmp(st->args[ARG_NAME], auth->name) != 0 ||
                   strcmp(st->args[ARG_KN], kn) != 0 || strcmp(st->args[ARG_X], x) != 0 ||
                   st->body_len != WRAPPED_LEN + tag_len ||
                   !dm_escrow_unb64(st->args[ARG_EPHEMERAL], strlen(st->args[ARG_EPHEMERAL]),
                                    eph_pk, 32)) {
            err = dm_fail(DM_ERR_POLICY, "the escrow stanza for agent %s is malformed", a->name);
        } else if ((err = leaf_checksum(family, bits, file_key, (size_t)idx + 1, a->name, eph_pk,
                                        st->body, tag)) == DM_OK &&
                   sodium_memcmp(tag, st->body + WRAPPED_LEN, tag_len) != 0) {
            err = dm_fail(DM_ERR_POLICY,
                          "the LEAF checksum of agent %s's stanza does not match the file key",
                          a->name);
        }
    }
    sodium_memzero(family, sizeof family);
    if (!err && claimed == 0)
        err = dm_fail(DM_ERR_POLICY, "no escrow stanzas for authority %s (%s): escrow missing",
                      auth->name, auth->id_hex);
    for (size_t i = 0; i < auth->n_agents && !err; i++)
        if (!seen[i])
            err = dm_fail(DM_ERR_POLICY, "no escrow stanza for agent %s: escrow incomplete",
                          auth->agents[i].name);
    return err;
}

/* ------------------------------------------------------------ agent side */

int dm_escrow_mode_unwrap(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                          const dm_stanza *st, uint8_t share[DM_FILE_KEY_LEN]) {
    dm_escrow_opts o;
    if (!dm_escrow_mode_parse(st->args[ARG_MODE], &o) || o.mode == DM_ESCROW_MODE_SHAMIR)
        return dm_fail(DM_ERR_HEADER, "escrow mode \"%s\" is not known", st->args[ARG_MODE]);
    const bool leaf = o.mode == DM_ESCROW_MODE_LEAF;
    size_t want = leaf ? WRAPPED_LEN + leaf_tag_len(o.leaf_bits) : CRUMPLE_BODY_LEN;
    if (st->body_len != want)
        return dm_fail(DM_ERR_HEADER, "%s escrow stanza body is %zu bytes, want %zu",
                       st->args[ARG_MODE], st->body_len, want);
    uint8_t eph_pk[32];
    if (!dm_escrow_unb64(st->args[ARG_EPHEMERAL], strlen(st->args[ARG_EPHEMERAL]), eph_pk, 32))
        return dm_fail(DM_ERR_HEADER, "escrow stanza for agent %s: bad ephemeral share",
                       agent->name);
    return dm_escrow_open_share(leaf ? LEAF_WRAP_LABEL : CRUMPLE_WRAP_LABEL, auth, agent, eph_pk,
                                st->body, share);
}

/* ------------------------------------------------------------ recovery */

int dm_escrow_crumple_solve(const dm_escrow_authority *auth, const dm_header *hdr,
                            uint8_t key[DM_FILE_KEY_LEN], uint64_t *tries) {
    if (tries)
        *tries = 0;
    const dm_stanza *st = NULL;
    for (size_t i = 0; i < hdr->stanzas.len && !st; i++) {
        const dm_stanza *c = &hdr->stanzas.items[i];
        if (strcmp(c->type, DM_ESCROW_STANZA_TYPE) == 0 && c->nargs == N_ARGS &&
            strcmp(c->args[ARG_ID], auth->id_hex) == 0)
            st = c;
    }
    dm_escrow_opts o;
    if (!st || !dm_escrow_mode_parse(st->args[ARG_MODE], &o) || o.mode != DM_ESCROW_MODE_CRUMPLE)
        return DM_OK; /* nothing to solve: the shares combine to the file key */
    if (st->body_len != CRUMPLE_BODY_LEN)
        return dm_fail(DM_ERR_HEADER, "crumple escrow stanza body is %zu bytes, want %d",
                       st->body_len, CRUMPLE_BODY_LEN);
    const uint8_t *salt = st->body + WRAPPED_LEN, *want = salt + CRUMPLE_SALT_LEN;
    struct {
        crumple_key ck;
        uint8_t check[CRUMPLE_CHECK_LEN];
        uint8_t locked[DM_FILE_KEY_LEN];
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(s->locked, key, DM_FILE_KEY_LEN);
    const uint64_t space = UINT64_C(1) << o.crumple_bits;
    static const uint8_t zero_nonce[12];
    int err = DM_OK;
    bool found = false;
    uint64_t r;
    for (r = 0; r < space && !err; r++) {
        err = crumple_candidate(auth, salt, r, &s->ck);
        if (!err)
            err = crumple_check(&s->ck, s->locked, s->check);
        if (!err && sodium_memcmp(s->check, want, CRUMPLE_CHECK_LEN) == 0) {
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
                      o.crumple_bits);
    if (!err && crypto_stream_chacha20_ietf_xor(key, s->locked, DM_FILE_KEY_LEN, zero_nonce,
                                                s->ck.lock) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "ChaCha20 failed");
    if (err)
        sodium_memzero(key, DM_FILE_KEY_LEN);
    dm_secret_free(s);
    return err;
}
