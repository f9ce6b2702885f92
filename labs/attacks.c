/* Teaching tools for the labs: what a thief holding agent keys does, and
 * Blaze's LEAF forgery. They attack the escrow only through what a real
 * attacker has: keys, the file key a sender holds, and the compliance check
 * used as a yes/no oracle.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lab_internal.h"

int dm_lab_recover_with_keys(const dm_escrow_authority *auth, dm_escrow_agent_key *const *keys,
                             size_t n_keys, const dm_header *hdr, uint8_t file_key[DM_FILE_KEY_LEN],
                             uint64_t *tries) {
    if (tries)
        *tries = 0;
    struct {
        uint8_t ys[DM_ESCROW_MAX_AGENTS][DM_FILE_KEY_LEN];
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    const unsigned k = dm_escrow_authority_threshold(auth);
    uint8_t xs[DM_ESCROW_MAX_AGENTS];
    const uint8_t *ys[DM_ESCROW_MAX_AGENTS];
    size_t have = 0;
    int err = DM_OK;
    for (size_t i = 0; i < n_keys && have < k && !err; i++) {
        unsigned x = 0;
        int e = dm_escrow_agent_open(auth, keys[i], hdr, s->ys[have], &x);
        if (e == DM_ERR_NO_MATCH)
            continue; /* this file has no (opening) stanza for that agent */
        if (e) {
            err = e;
            break;
        }
        bool dup = false;
        for (size_t j = 0; j < have; j++)
            dup = dup || xs[j] == (uint8_t)x;
        if (dup)
            continue;
        xs[have] = (uint8_t)x;
        ys[have] = s->ys[have];
        have++;
    }
    if (!err && have < k)
        err = dm_fail(DM_ERR_NO_MATCH, "the keys open %zu share%s, authority %s needs %u", have,
                      have == 1 ? "" : "s", dm_escrow_authority_name(auth), k);
    if (!err)
        err = dm_escrow_combine(auth, hdr, xs, ys, have, file_key, tries);
    if (err)
        sodium_memzero(file_key, DM_FILE_KEY_LEN);
    dm_secret_free(s);
    return err;
}

/* The header's stanzas, with the authority's replaced by the given ones. */
static int replace_escrow(const dm_header *hdr, const dm_escrow_authority *auth,
                          const dm_stanza_list *escrow, dm_header *out) {
    memset(out, 0, sizeof *out);
    int err = DM_OK;
    for (size_t i = 0; i < hdr->stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (!dm_escrow_stanza_is_for(st, auth))
            err = dm_stanza_list_add(&out->stanzas, st->type, (const char *const *)st->args,
                                     st->nargs, st->body, st->body_len);
    }
    for (size_t i = 0; i < escrow->len && !err; i++) {
        const dm_stanza *st = &escrow->items[i];
        err = dm_stanza_list_add(&out->stanzas, st->type, (const char *const *)st->args, st->nargs,
                                 st->body, st->body_len);
    }
    return err;
}

/* A sender's own seal of value to agent i, as docs/escrow-format.md
 * specifies the v2 stanza (wrap key over the stanza's arguments and the file
 * id), under the file id the sender names: here the real file's, so that the
 * stanza names the id the compliant check derives, while the agents open the
 * decoy. Writes the body's wrapped part and the stanza's E and FILE-ID. */
static int seal_decoy(const dm_escrow_authority *auth, size_t i, const char *wrap_label,
                      const uint8_t file_id[DM_FILE_ID_LEN], const uint8_t value[DM_FILE_KEY_LEN],
                      dm_stanza *st) {
    const char *name = dm_escrow_authority_agent_name(auth, i);
    char hrp[8];
    uint8_t agent_pk[32], e[32], eph_pk[32], shared[32], w[32], salt[64];
    size_t pk_len = 0, nl = strlen(name), il = 0;
    char info[160];
    int err = dm_bech32_decode(dm_escrow_authority_agent_recipient(auth, i), hrp, sizeof hrp,
                               agent_pk, sizeof agent_pk, &pk_len);
    if (!err && pk_len != 32)
        err = dm_fail(DM_ERR_USAGE, "agent %s: not an X25519 recipient", name);
    randombytes_buf(e, sizeof e);
    if (!err && (crypto_scalarmult_base(eph_pk, e) != 0 ||
                 crypto_scalarmult(shared, e, agent_pk) != 0))
        err = dm_fail(DM_ERR_INTERNAL, "X25519 failed");
    if (!err) {
        il = strlen(wrap_label);
        memcpy(info, wrap_label, il);
        memcpy(info + il, dm_escrow_authority_id(auth), DM_ESCROW_ID_LEN);
        il += DM_ESCROW_ID_LEN;
        info[il++] = (char)(i + 1);
        info[il++] = (char)dm_escrow_authority_threshold(auth);
        info[il++] = (char)dm_escrow_authority_agents(auth);
        memcpy(info + il, file_id, DM_FILE_ID_LEN);
        il += DM_FILE_ID_LEN;
        memcpy(info + il, name, nl);
        il += nl;
        memcpy(salt, eph_pk, 32);
        memcpy(salt + 32, agent_pk, 32);
        err = dm_hkdf_sha256(shared, 32, salt, sizeof salt, info, il, w, sizeof w);
    }
    static const uint8_t zero_nonce[12];
    if (!err)
        err = dm_aead_seal(w, zero_nonce, value, DM_FILE_KEY_LEN, st->body);
    /* The arguments keep their lengths: E is 43 base64 characters, the id 32 hex digits. */
    if (!err)
        err = dm_b64_encode(eph_pk, 32, st->args[6], strlen(st->args[6]) + 1);
    for (size_t k = 0; !err && k < DM_FILE_ID_LEN; k++)
        snprintf(st->args[7] + 2 * k, 3, "%02x", file_id[k]);
    sodium_memzero(e, sizeof e);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(w, sizeof w);
    return err;
}

int dm_lab_leaf_forge(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                      const uint8_t *file, size_t len, const uint8_t file_key[DM_FILE_KEY_LEN],
                      uint64_t max_tries, uint8_t **out, size_t *out_len,
                      uint8_t decoy[DM_FILE_KEY_LEN], uint64_t *tries) {
    *out = NULL;
    *out_len = 0;
    *tries = 0;
    if (!opts || opts->mode != DM_ESCROW_MODE_LEAF)
        return dm_fail(DM_ERR_USAGE, "LEAF forgery needs a leaf-mode escrow");
    dm_header hdr = {0}, forged = {0};
    dm_stanza_list fake = {0};
    uint8_t *bogus = dm_secret_alloc(DM_FILE_KEY_LEN);
    if (!bogus)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    int err = dm_header_parse(file, len, &hdr);
    if (!err)
        err = dm_header_verify_mac(&hdr, file_key);
    /* Well-formed LEAFs for a random decoy key: what the agents will get. */
    randombytes_buf(bogus, DM_FILE_KEY_LEN);
    if (!err)
        err = dm_escrow_build_stanzas(auth, opts, bogus, &fake);
    if (!err)
        err = replace_escrow(&hdr, auth, &fake, &forged);
    /* The LEAF's seal binds the file id the stanza names, and the check
     * wants the real file's: the forger seals the decoy under it itself.
     * Every agent gets the decoy as its share (a constant polynomial), so
     * any k of them give the decoy. */
    uint8_t file_id[DM_FILE_ID_LEN];
    if (!err)
        err = dm_escrow_file_id_of_key(file_key, file_id);
    for (size_t i = 0; i < forged.stanzas.len && !err; i++) {
        dm_stanza *st = &forged.stanzas.items[i];
        if (!dm_escrow_stanza_is_for(st, auth) || st->nargs != 8)
            continue;
        for (size_t a = 0; a < dm_escrow_authority_agents(auth) && !err; a++)
            if (strcmp(st->args[5], dm_escrow_authority_agent_name(auth, a)) == 0)
                err = seal_decoy(auth, a, "doormat/v2/escrow/leaf-wrap", file_id, bogus, st);
    }
    const size_t tag_len = (opts->leaf_bits + 7) / 8;
    const unsigned top = opts->leaf_bits % 8;
    const size_t wrapped = DM_FILE_KEY_LEN + DM_TAG_LEN;
    bool passed = false;
    uint64_t t = 0;
    while (!err && !passed && t < max_tries) {
        for (size_t i = 0; i < forged.stanzas.len; i++) {
            dm_stanza *st = &forged.stanzas.items[i];
            if (!dm_escrow_stanza_is_for(st, auth) || st->body_len != wrapped + tag_len)
                continue;
            randombytes_buf(st->body + wrapped, tag_len);
            if (top)
                st->body[wrapped] &= (uint8_t)((1u << top) - 1);
        }
        t++;
        int e = dm_escrow_verify_header(auth, opts, &forged, file_key);
        if (e == DM_OK)
            passed = true;
        else if (e != DM_ERR_POLICY)
            err = e;
    }
    *tries = t;
    if (!err && !passed)
        err = dm_fail(DM_ERR_NO_MATCH, "no forged LEAF passed the check in %llu tries",
                      (unsigned long long)t);
    if (!err)
        err = dm_lab_splice_header(&forged, file_key, file, len, hdr.len, out, out_len);
    if (!err && decoy)
        memcpy(decoy, bogus, DM_FILE_KEY_LEN);
    dm_secret_free(bogus);
    dm_stanza_list_clear(&fake);
    dm_header_clear(&forged);
    dm_header_clear(&hdr);
    return err;
}

int dm_lab_random_fields(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                         const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN],
                         uint64_t tries, uint64_t *passed) {
    *passed = 0;
    dm_header h = {0};
    dm_stanza_list none = {0};
    /* A copy of the header, escrow stanzas last, whose bodies the loop rewrites. */
    int err = replace_escrow(hdr, auth, &none, &h);
    for (size_t i = 0; i < hdr->stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (dm_escrow_stanza_is_for(st, auth))
            err = dm_stanza_list_add(&h.stanzas, st->type, (const char *const *)st->args, st->nargs,
                                     st->body, st->body_len);
    }
    for (uint64_t t = 0; t < tries && !err; t++) {
        for (size_t i = 0; i < h.stanzas.len; i++) {
            dm_stanza *st = &h.stanzas.items[i];
            if (dm_escrow_stanza_is_for(st, auth))
                randombytes_buf(st->body, st->body_len);
        }
        int e = dm_escrow_verify_header(auth, opts, &h, file_key);
        if (e == DM_OK)
            (*passed)++;
        else if (e != DM_ERR_POLICY)
            err = e;
    }
    dm_header_clear(&h);
    return err;
}
