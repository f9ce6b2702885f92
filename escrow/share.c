/* Releasing and combining shares.
 *
 * An agent releases a share only under a warrant that checks out, and only
 * after the release is in its transparency log (release.c). The share file it hands over is
 * signed with the agent's key, so that recovery can tell a genuine share from
 * a corrupted or invented one before combining anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"
#include "escrow_lab.h"

#define SHARE_MAGIC "doormat-escrow-share/v1"
#define SHARE_SIG_LABEL "doormat/v1/escrow/share"

/* Lives in guarded memory as a whole. */
struct dm_escrow_share {
    uint8_t authority_id[DM_ESCROW_ID_LEN];
    char agent[DM_ESCROW_MAX_AGENT_NAME + 1];
    uint8_t file_id[DM_FILE_ID_LEN];
    unsigned x, threshold;
    uint8_t warrant[DM_ESCROW_DIGEST_LEN];
    uint8_t value[DM_FILE_KEY_LEN];
    uint8_t sig[DM_ESCROW_SIG_LEN];
    char *receipt; /* the tlog-proof of its release (public, malloc'd), or NULL */
    size_t receipt_len;
};

void dm_escrow_share_free(dm_escrow_share *s) {
    if (s)
        free(s->receipt);
    dm_secret_free(s);
}

const char *dm_escrow_share_receipt(const dm_escrow_share *s, size_t *len) {
    if (len)
        *len = s->receipt_len;
    return s->receipt;
}

const uint8_t *dm_escrow_share_warrant(const dm_escrow_share *s) {
    return s->warrant;
}

int dm_escrow_share_set_receipt(dm_escrow_share *s, const char *receipt, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(copy, receipt, len);
    copy[len] = '\0';
    free(s->receipt);
    s->receipt = copy;
    s->receipt_len = len;
    return DM_OK;
}
const char *dm_escrow_share_agent(const dm_escrow_share *s) {
    return s->agent;
}
const uint8_t *dm_escrow_share_file_id(const dm_escrow_share *s) {
    return s->file_id;
}

/* The signed part: every line but the signature. */
static int share_body(const dm_escrow_share *s, dm_buf *b) {
    char id[2 * DM_ESCROW_ID_LEN + 1], file[2 * DM_FILE_ID_LEN + 1];
    char warrant[2 * DM_ESCROW_DIGEST_LEN + 1], value[32];
    dm_hex(s->authority_id, DM_ESCROW_ID_LEN, id);
    dm_hex(s->file_id, DM_FILE_ID_LEN, file);
    dm_hex(s->warrant, DM_ESCROW_DIGEST_LEN, warrant);
    int err = dm_escrow_b64(s->value, DM_FILE_KEY_LEN, value, sizeof value);
    if (err)
        return err;
    dm_buf_printf(b,
                         "%s\nauthority: %s\nagent: %s\nfile: %s\nx: %u\nthreshold: %u\n"
                         "warrant: %s\nshare: %s\n",
                         SHARE_MAGIC, id, s->agent, file, s->x, s->threshold, warrant, value);
    sodium_memzero(value, sizeof value);
    return b->failed ? dm_fail(DM_ERR_NOMEM, "out of memory") : DM_OK;
}

int dm_escrow_share_format(const dm_escrow_share *s, char **text, size_t *len) {
    dm_buf b = {.secret = true};
    int err = share_body(s, &b);
    char sig64[DM_ESCROW_SIG_B64_LEN + 1];
    if (!err)
        err = dm_escrow_b64(s->sig, sizeof s->sig, sig64, sizeof sig64);
    if (err) {
        dm_buf_clear(&b);
        return err;
    }
    dm_buf_printf(&b, "signature: %s\n", sig64);
    if (s->receipt)
        dm_buf_add(&b, s->receipt, s->receipt_len);
    return dm_escrow_buf_take(&b, text, len);
}

int dm_escrow_share_parse(const dm_escrow_authority *auth, const char *text, size_t len,
                          dm_escrow_share **out, size_t *line_out) {
    *out = NULL;
    dm_escrow_share *s = dm_escrow_parse_new(sizeof *s, line_out);
    if (!s)
        return DM_ERR_NOMEM;
    dm_escrow_lines it = {.text = text, .len = len};
    const char *line, *v;
    size_t llen, vlen;
    bool nl;
    int err = DM_OK;
    int idx = -1;

#define FIELD(key, ok, msg)                                                                        \
    do {                                                                                           \
        if (!dm_escrow_next_line(&it, &line, &llen, &nl) || !nl) {                                 \
            err = dm_fail(DM_ERR_USAGE, "the share ends early (want \"%s:\")", key);               \
            goto done;                                                                             \
        }                                                                                          \
        if (!dm_escrow_field(line, llen, key, &v, &vlen) || !(ok)) {                               \
            err = dm_fail(DM_ERR_USAGE, msg);                                                      \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

    if (!dm_escrow_next_line(&it, &line, &llen, &nl) || !nl || llen != strlen(SHARE_MAGIC) ||
        memcmp(line, SHARE_MAGIC, llen) != 0) {
        err = dm_fail(DM_ERR_USAGE, "not a doormat share (want \"%s\")", SHARE_MAGIC);
        goto done;
    }
    FIELD("authority", dm_escrow_unhex(v, vlen, s->authority_id, DM_ESCROW_ID_LEN),
          "want \"authority: \" and 32 lower-case hex digits");
    if (memcmp(s->authority_id, auth->id, DM_ESCROW_ID_LEN) != 0) {
        err = dm_fail(DM_ERR_USAGE, "the share is for authority %.*s, not %s (%s)", (int)vlen, v,
                      auth->name, auth->id_hex);
        goto done;
    }
    FIELD("agent", dm_escrow_valid_agent_name(v, vlen), "want \"agent: NAME\"");
    memcpy(s->agent, v, vlen);
    idx = dm_escrow_authority_find_agent(auth, s->agent);
    if (idx < 0) {
        err = dm_fail(DM_ERR_USAGE, "agent \"%s\" is not in authority %s", s->agent, auth->name);
        goto done;
    }
    FIELD("file", dm_escrow_unhex(v, vlen, s->file_id, DM_FILE_ID_LEN),
          "want \"file: \" and 32 lower-case hex digits");
    FIELD("x", dm_escrow_parse_uint(v, vlen, 255, &s->x) && s->x == (unsigned)idx + 1,
          "the share's x does not match the agent's place in the authority");
    FIELD("threshold",
          dm_escrow_parse_uint(v, vlen, 255, &s->threshold) && s->threshold == auth->threshold,
          "the share's threshold is not the authority's");
    FIELD("warrant", dm_escrow_unhex(v, vlen, s->warrant, DM_ESCROW_DIGEST_LEN),
          "want \"warrant: \" and 64 lower-case hex digits");
    FIELD("share", dm_escrow_unb64(v, vlen, s->value, DM_FILE_KEY_LEN),
          "want \"share: \" and 16 bytes of base64");
    size_t signed_len = it.pos;
    FIELD("signature", dm_escrow_unb64(v, vlen, s->sig, DM_ESCROW_SIG_LEN),
          "want \"signature: \" and 64 bytes of base64");
    if (!dm_escrow_verify_sig(auth->agents[idx].sign_pk, SHARE_SIG_LABEL, (const uint8_t *)text,
                              signed_len, s->sig)) {
        err = dm_fail(DM_ERR_USAGE,
                      "the signature does not verify with agent %s's key (edited or forged)",
                      s->agent);
        goto done;
    }
    /* What follows the signature can only be the release's receipt, checked
     * on its own (dm_escrow_share_check_receipt). */
    static const char proof_magic[] = "c2sp.org/tlog-proof@v1\n";
    if (it.pos != len) {
        if (len - it.pos < sizeof proof_magic - 1 ||
            memcmp(text + it.pos, proof_magic, sizeof proof_magic - 1) != 0) {
            it.lineno++;
            err = dm_fail(DM_ERR_USAGE, "unexpected text after the signature (not a receipt)");
        } else {
            err = dm_escrow_share_set_receipt(s, text + it.pos, len - it.pos);
        }
    }
#undef FIELD
done:
    if (err) {
        if (line_out)
            *line_out = it.lineno;
        dm_escrow_share_free(s);
        return err;
    }
    *out = s;
    return DM_OK;
}

static bool key_of(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent) {
    return memcmp(agent->authority_id, auth->id, DM_ESCROW_ID_LEN) == 0 &&
           agent->index < auth->n_agents &&
           strcmp(auth->agents[agent->index].name, agent->name) == 0;
}

static int not_key_of(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent) {
    return dm_fail(DM_ERR_USAGE, "agent key %s is not a key of authority %s", agent->name,
                   auth->name);
}

int dm_escrow_agent_open(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                         const dm_header *hdr, uint8_t share[DM_FILE_KEY_LEN], unsigned *x) {
    if (!key_of(auth, agent))
        return not_key_of(auth, agent);
    if (x)
        *x = (unsigned)agent->index + 1;
    uint8_t file_id[DM_FILE_ID_LEN];
    return dm_escrow_unwrap_share(auth, agent, hdr, share, file_id);
}

int dm_escrow_share_prepare(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                            const dm_escrow_warrant *w, const dm_header *hdr, time_t now,
                            dm_escrow_share **out) {
    *out = NULL;
    if (!key_of(auth, agent))
        return not_key_of(auth, agent);
    /* The file is the one the stanza's seal binds, never a hash of the
     * header as sent: a requester who rebuilds the header (a new hash) still
     * sends the sealed id, and an edited id does not open. */
    const dm_stanza *mine;
    uint8_t file_id[DM_FILE_ID_LEN];
    int err = dm_escrow_own_stanza(auth, agent, hdr, &mine, file_id);
    if (err)
        return err;
    err = dm_escrow_warrant_check(w, auth, file_id, now);
    if (err)
        return err;
    dm_escrow_share *s = dm_secret_new(sizeof *s);
    if (!s)
        return DM_ERR_NOMEM;
    memcpy(s->authority_id, auth->id, DM_ESCROW_ID_LEN);
    snprintf(s->agent, sizeof s->agent, "%s", agent->name);
    memcpy(s->file_id, file_id, DM_FILE_ID_LEN);
    s->x = (unsigned)agent->index + 1;
    s->threshold = auth->threshold;
    dm_escrow_warrant_digest(w, s->warrant);
    uint8_t sealed_id[DM_FILE_ID_LEN];
    err = dm_escrow_unwrap_share(auth, agent, hdr, s->value, sealed_id);
    if (!err && memcmp(sealed_id, file_id, DM_FILE_ID_LEN) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "the stanza's file id changed");
    dm_buf b = {.secret = true};
    if (!err)
        err = share_body(s, &b);
    if (!err)
        err =
            dm_escrow_sign(agent->sign_sk, SHARE_SIG_LABEL, (const uint8_t *)b.data, b.len, s->sig);
    dm_buf_clear(&b);
    if (err) {
        dm_escrow_share_free(s);
        return err;
    }
    *out = s;
    return DM_OK;
}

/* Next k-combination of {0..n-1} in lexicographic order; false after the last. */
static bool next_combination(size_t *c, size_t k, size_t n) {
    size_t i = k;
    while (i > 0 && c[i - 1] == n - k + i - 1)
        i--;
    if (i == 0)
        return false;
    c[i - 1]++;
    for (size_t j = i; j < k; j++)
        c[j] = c[j - 1] + 1;
    return true;
}

static int combine(const dm_escrow_authority *auth, const dm_header *hdr, const uint8_t *xs,
                   const uint8_t *const *ys, const size_t *pick, uint8_t *key) {
    uint8_t px[DM_ESCROW_MAX_AGENTS];
    const uint8_t *py[DM_ESCROW_MAX_AGENTS];
    for (size_t i = 0; i < auth->threshold; i++) {
        px[i] = xs[pick[i]];
        py[i] = ys[pick[i]];
    }
    int err = dm_shamir_combine(px, py, auth->threshold, DM_FILE_KEY_LEN, key);
    if (!err) /* crumple: the shares hold a locked key, and the search begins */
        err = dm_escrow_solve_key(auth, hdr, key, NULL);
    if (!err && dm_header_verify_mac(hdr, key) != DM_OK)
        err = DM_ERR_HMAC;
    return err;
}

int dm_escrow_recover_ex(const dm_escrow_authority *auth, const dm_header *hdr,
                         dm_escrow_share *const *shares, size_t n_shares,
                         uint8_t file_key[DM_FILE_KEY_LEN], uint8_t *misfit) {
    uint8_t file_id[DM_FILE_ID_LEN];
    int err = dm_escrow_file_id(auth, hdr, file_id);
    if (err)
        return err;
    if (misfit)
        memset(misfit, 0, n_shares);
    char want_hex[2 * DM_FILE_ID_LEN + 1];
    dm_hex(file_id, DM_FILE_ID_LEN, want_hex);
    uint8_t xs[DM_ESCROW_MAX_AGENTS];
    const uint8_t *ys[DM_ESCROW_MAX_AGENTS];
    size_t from[DM_ESCROW_MAX_AGENTS]; /* which share each point came from */
    size_t have = 0;
    for (size_t i = 0; i < n_shares; i++) {
        const dm_escrow_share *s = shares[i];
        if (memcmp(s->authority_id, auth->id, DM_ESCROW_ID_LEN) != 0)
            return dm_fail(DM_ERR_USAGE, "the share from agent %s is for another authority",
                           s->agent);
        if (memcmp(s->file_id, file_id, DM_FILE_ID_LEN) != 0) {
            char hex[2 * DM_FILE_ID_LEN + 1];
            dm_hex(s->file_id, DM_FILE_ID_LEN, hex);
            return dm_fail(DM_ERR_USAGE, "the share from agent %s is for file %s, not %s", s->agent,
                           hex, want_hex);
        }
        bool dup = false;
        for (size_t j = 0; j < have; j++)
            dup = dup || xs[j] == s->x;
        if (dup || s->x == 0 || s->x > auth->n_agents)
            continue;
        xs[have] = (uint8_t)s->x;
        from[have] = i;
        ys[have++] = s->value;
    }
    size_t k = auth->threshold;
    if (have < k)
        return dm_fail(DM_ERR_TOO_FEW_SHARES,
                       "%zu valid share%s from distinct agents, authority %s needs %u of %zu", have,
                       have == 1 ? "" : "s", auth->name, auth->threshold, auth->n_agents);
    /* Any k shares determine the polynomial and the header MAC says whether
     * they were the real ones. One wrong share (a rogue agent) spoils every
     * combination it is in, so the others are tried in turn. */
    size_t pick[DM_ESCROW_MAX_AGENTS];
    for (size_t i = 0; i < k; i++)
        pick[i] = i;
    uint64_t tries = 0;
    do {
        err = combine(auth, hdr, xs, ys, pick, file_key);
        tries++;
    } while (err == DM_ERR_HMAC && tries < DM_ESCROW_MAX_COMBINATIONS &&
             next_combination(pick, k, have));
    if (err == DM_ERR_HMAC) {
        sodium_memzero(file_key, DM_FILE_KEY_LEN);
        if (have == k)
            return dm_fail(DM_ERR_HMAC,
                           "the recovered key does not match the header MAC: the escrow stanzas "
                           "did not hold this file's key (a rogue sender?), or a share is wrong");
        return dm_fail(DM_ERR_HMAC,
                       "no %zu of the %zu shares give this file's key (%llu combinations tried): "
                       "the stanzas did not hold it (a rogue sender?), or fewer than %zu shares "
                       "are right",
                       k, have, (unsigned long long)tries, k);
    }
    if (err) {
        sodium_memzero(file_key, DM_FILE_KEY_LEN);
        return err;
    }
    /* A share fits when it can stand in for a member of the working set. */
    if (misfit && have > k) {
        uint8_t *probe = dm_secret_alloc(DM_FILE_KEY_LEN);
        if (!probe)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < have; j++) {
            bool member = false;
            for (size_t i = 0; i < k; i++)
                member = member || pick[i] == j;
            if (member)
                continue;
            size_t alt[DM_ESCROW_MAX_AGENTS];
            memcpy(alt, pick, k * sizeof *alt);
            alt[0] = j;
            uint8_t px[DM_ESCROW_MAX_AGENTS];
            const uint8_t *py[DM_ESCROW_MAX_AGENTS];
            for (size_t i = 0; i < k; i++) {
                px[i] = xs[alt[i]];
                py[i] = ys[alt[i]];
            }
            if (dm_shamir_combine(px, py, k, DM_FILE_KEY_LEN, probe) != DM_OK)
                continue;
            /* Compared with the combination that worked, before any crumple search. */
            uint8_t base[DM_FILE_KEY_LEN];
            for (size_t i = 0; i < k; i++) {
                px[i] = xs[pick[i]];
                py[i] = ys[pick[i]];
            }
            if (dm_shamir_combine(px, py, k, DM_FILE_KEY_LEN, base) == DM_OK &&
                sodium_memcmp(base, probe, DM_FILE_KEY_LEN) != 0)
                misfit[from[j]] = 1;
            sodium_memzero(base, sizeof base);
        }
        dm_secret_free(probe);
    }
    return DM_OK;
}

int dm_escrow_recover(const dm_escrow_authority *auth, const dm_header *hdr,
                      dm_escrow_share *const *shares, size_t n_shares,
                      uint8_t file_key[DM_FILE_KEY_LEN]) {
    return dm_escrow_recover_ex(auth, hdr, shares, n_shares, file_key, NULL);
}

int dm_escrow_combine(const dm_escrow_authority *auth, const dm_header *hdr, const uint8_t *xs,
                      const uint8_t *const *ys, size_t n_shares, uint8_t file_key[DM_FILE_KEY_LEN],
                      uint64_t *tries) {
    if (tries)
        *tries = 0;
    if (n_shares < auth->threshold)
        return dm_fail(DM_ERR_TOO_FEW_SHARES, "%zu share%s, authority %s needs %u", n_shares,
                       n_shares == 1 ? "" : "s", auth->name, auth->threshold);
    /* Any k shares determine the polynomial; the header MAC then says whether
     * the agents were given the real file key. */
    int err = dm_shamir_combine(xs, ys, auth->threshold, DM_FILE_KEY_LEN, file_key);
    if (!err) /* crumple: the shares hold a locked key, and the search begins */
        err = dm_escrow_solve_key(auth, hdr, file_key, tries);
    if (!err && dm_header_verify_mac(hdr, file_key) != DM_OK)
        err = dm_fail(DM_ERR_HMAC,
                      "the recovered key does not match the header MAC: the escrow stanzas did "
                      "not hold this file's key (a rogue sender?)");
    if (err)
        sodium_memzero(file_key, DM_FILE_KEY_LEN);
    return err;
}
