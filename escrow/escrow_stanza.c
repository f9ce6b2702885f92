/* The doormat-escrow stanzas: how the file key reaches the authority's agents,
 * and how a compliant client checks that it did.
 *
 *   -> doormat-escrow MODE AUTHORITY-ID AUTHORITY-NAME K-of-N X AGENT EPHEMERAL
 *   base64(ChaCha20-Poly1305(wrap key, zero nonce, share))
 *
 * Everything secret in a stanza (the Shamir coefficients, the ephemeral X25519
 * scalar) is derived from the file key by HKDF, domain-separated per authority
 * and agent. That is what makes the escrow verifiable: whoever holds the file
 * key rebuilds the stanzas and compares them byte for byte. It is also why a
 * rogue sender is stopped only by a compliant *recipient*: plain age ignores
 * stanzas it does not know. docs/escrow-format.md is the normative text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define COEFF_LABEL "doormat/v1/escrow/shamir"
#define EPHEMERAL_LABEL "doormat/v1/escrow/ephemeral"
#define WRAP_LABEL "doormat/v1/escrow/wrap"
#define N_ARGS 7

enum { ARG_MODE, ARG_ID, ARG_NAME, ARG_KN, ARG_X, ARG_AGENT, ARG_EPHEMERAL };

const char *const dm_escrow_alone_companions[] = {DM_ESCROW_STANZA_TYPE};

const char *dm_escrow_mode_name(dm_escrow_mode mode) {
    switch (mode) {
    case DM_ESCROW_MODE_SHAMIR:
        return "shamir";
    case DM_ESCROW_MODE_LEAF:
        return "leaf";
    case DM_ESCROW_MODE_CRUMPLE:
        return "crumple";
    }
    return "unknown";
}

/* LEAF and crumple live in modes.c. */
static int check_opts(const dm_escrow_opts *opts) {
    return dm_escrow_mode_check(opts);
}

/* The wrap key binds everything a stanza's arguments claim (authority,
 * threshold, position, agent) so that editing an argument breaks the AEAD;
 * each mode has its own label. */
static int wrap_key(const char *label, const dm_escrow_authority *auth, size_t agent,
                    const uint8_t shared[32], const uint8_t eph_pk[32], uint8_t key[32]) {
    const dm_escrow_agent_pub *a = &auth->agents[agent];
    uint8_t salt[64];
    uint8_t extra[3 + DM_ESCROW_MAX_AGENT_NAME];
    size_t nlen = strlen(a->name);
    memcpy(salt, eph_pk, 32);
    memcpy(salt + 32, a->box_pk, 32);
    extra[0] = (uint8_t)(agent + 1);
    extra[1] = (uint8_t)auth->threshold;
    extra[2] = (uint8_t)auth->n_agents;
    memcpy(extra + 3, a->name, nlen);
    return dm_escrow_kdf(shared, 32, salt, sizeof salt, label, auth->id, extra, 3 + nlen, key, 32);
}

int dm_escrow_seal_share(const char *label, const dm_escrow_authority *auth, size_t agent,
                         const uint8_t eph_sk[32], const uint8_t share[DM_FILE_KEY_LEN],
                         dm_escrow_wrap_scratch *s, uint8_t eph_pk[32],
                         uint8_t body[DM_ESCROW_WRAPPED_LEN]) {
    static const uint8_t zero_nonce[12];
    const dm_escrow_agent_pub *a = &auth->agents[agent];
    if (crypto_scalarmult_base(eph_pk, eph_sk) != 0 ||
        crypto_scalarmult(s->shared, eph_sk, a->box_pk) != 0)
        return dm_fail(DM_ERR_INTERNAL, "X25519 failed for agent %s", a->name);
    int err = wrap_key(label, auth, agent, s->shared, eph_pk, s->key);
    if (!err)
        err = dm_aead_seal(s->key, zero_nonce, share, DM_FILE_KEY_LEN, body);
    return err;
}

int dm_escrow_open_share(const char *label, const dm_escrow_authority *auth,
                         const dm_escrow_agent_key *agent, const uint8_t eph_pk[32],
                         const uint8_t body[DM_ESCROW_WRAPPED_LEN],
                         uint8_t share[DM_FILE_KEY_LEN]) {
    dm_escrow_wrap_scratch *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    static const uint8_t zero_nonce[12];
    int err = DM_OK;
    if (crypto_scalarmult(s->shared, agent->box_sk, eph_pk) != 0)
        err = dm_fail(DM_ERR_HEADER, "escrow stanza for agent %s: low-order ephemeral share",
                      agent->name);
    if (!err)
        err = wrap_key(label, auth, agent->index, s->shared, eph_pk, s->key);
    if (!err && dm_aead_open(s->key, zero_nonce, body, DM_ESCROW_WRAPPED_LEN, share) != DM_OK)
        err = dm_fail(DM_ERR_NO_MATCH,
                      "the escrow stanza for agent %s does not open with its key (altered?)",
                      agent->name);
    dm_secret_free(s);
    return err;
}

int dm_escrow_build_stanzas(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out) {
    int err = check_opts(opts);
    if (err)
        return err;
    if (opts && opts->mode != DM_ESCROW_MODE_SHAMIR)
        return dm_escrow_mode_build(auth, opts, file_key, out);
    const size_t k = auth->threshold, n = auth->n_agents;
    /* One guarded block for every secret of the derivation. */
    struct secrets {
        uint8_t coeffs[(DM_ESCROW_MAX_AGENTS - 1) * DM_FILE_KEY_LEN];
        uint8_t shares[DM_ESCROW_MAX_AGENTS * DM_FILE_KEY_LEN];
        uint8_t eph_sk[32];
        dm_escrow_wrap_scratch wrap;
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    if (k > 1)
        err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, COEFF_LABEL, auth->id, NULL, 0,
                            s->coeffs, (k - 1) * DM_FILE_KEY_LEN);
    if (!err)
        err = dm_shamir_split(file_key, DM_FILE_KEY_LEN, (unsigned)k, (unsigned)n, s->coeffs,
                              s->shares);
    char kn[48], x[24], eph64[DM_ESCROW_KEY_B64_LEN + 1];
    snprintf(kn, sizeof kn, "%zu-of-%zu", k, n);
    for (size_t i = 0; i < n && !err; i++) {
        const dm_escrow_agent_pub *a = &auth->agents[i];
        uint8_t eph_pk[32], body[DM_ESCROW_WRAPPED_LEN];
        err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, EPHEMERAL_LABEL, auth->id,
                            (const uint8_t *)a->name, strlen(a->name), s->eph_sk, 32);
        if (!err)
            err = dm_escrow_seal_share(WRAP_LABEL, auth, i, s->eph_sk,
                                       s->shares + i * DM_FILE_KEY_LEN, &s->wrap, eph_pk, body);
        if (!err)
            err = dm_escrow_b64(eph_pk, 32, eph64, sizeof eph64);
        if (err)
            break;
        snprintf(x, sizeof x, "%zu", i + 1);
        const char *args[N_ARGS] = {"shamir", auth->id_hex, auth->name, kn, x, a->name, eph64};
        err = dm_stanza_list_add(out, DM_ESCROW_STANZA_TYPE, args, N_ARGS, body, sizeof body);
    }
    dm_secret_free(s);
    return err;
}

/* ------------------------------------------------------------ recipient */

/* A copy of the authority, so the recipient outlives whatever loaded it. */
typedef struct escrow_rcpt {
    dm_escrow_authority auth;
    dm_escrow_opts opts;
} escrow_rcpt;

static int escrow_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                       dm_stanza_list *out) {
    const escrow_rcpt *r = self->ctx;
    return dm_escrow_build_stanzas(&r->auth, &r->opts, file_key, out);
}

/* dm_recipient_free frees the struct itself; destroy owns only ctx. */
static void escrow_destroy(dm_recipient *self) {
    free(self->ctx);
    self->ctx = NULL;
}

int dm_escrow_recipient_new(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            dm_recipient **out) {
    *out = NULL;
    int err = check_opts(opts);
    if (err)
        return err;
    dm_recipient *r = calloc(1, sizeof *r);
    escrow_rcpt *ctx = calloc(1, sizeof *ctx);
    if (!r || !ctx) {
        free(r);
        free(ctx);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    ctx->auth = *auth;
    if (opts)
        ctx->opts = *opts;
    r->type = DM_ESCROW_STANZA_TYPE;
    r->wrap = escrow_wrap;
    r->destroy = escrow_destroy;
    r->ctx = ctx;
    r->flags = 0;
    *out = r;
    return DM_OK;
}

int dm_escrow_encrypt(dm_source in, dm_sink out, dm_recipient *const *rcpts, size_t n_rcpts,
                      const dm_escrow_authority *auth, const dm_escrow_opts *eopts,
                      const dm_encrypt_opts *opts) {
    dm_recipient *escrow;
    int err = dm_escrow_recipient_new(auth, eopts, &escrow);
    if (err)
        return err;
    dm_recipient **all = calloc(n_rcpts + 1, sizeof *all);
    if (!all) {
        dm_recipient_free(escrow);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_rcpts; i++)
        all[i] = rcpts[i];
    all[n_rcpts] = escrow;
    dm_encrypt_opts o = {0};
    if (opts)
        o = *opts;
    o.alone_companions = dm_escrow_alone_companions;
    o.n_alone_companions = DM_ESCROW_N_ALONE_COMPANIONS;
    err = dm_encrypt(in, out, all, n_rcpts + 1, &o);
    free(all);
    dm_recipient_free(escrow);
    return err;
}

/* ------------------------------------------------------------ verification */

static bool is_escrow(const dm_stanza *st) {
    return strcmp(st->type, DM_ESCROW_STANZA_TYPE) == 0;
}

static bool claims_authority(const dm_stanza *st, const dm_escrow_authority *auth) {
    return is_escrow(st) && st->nargs > ARG_ID && strcmp(st->args[ARG_ID], auth->id_hex) == 0;
}

static bool same_stanza(const dm_stanza *a, const dm_stanza *b) {
    if (strcmp(a->type, b->type) != 0 || a->nargs != b->nargs || a->body_len != b->body_len)
        return false;
    for (size_t i = 0; i < a->nargs; i++)
        if (strcmp(a->args[i], b->args[i]) != 0)
            return false;
    return a->body_len == 0 || sodium_memcmp(a->body, b->body, a->body_len) == 0;
}

int dm_escrow_verify_header(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN]) {
    /* A LEAF is random: all a Clipper-style check can do is its checksum. */
    if (opts && opts->mode == DM_ESCROW_MODE_LEAF)
        return dm_escrow_leaf_verify(auth, opts, hdr, file_key);
    dm_stanza_list want = {0};
    int err = dm_escrow_build_stanzas(auth, opts, file_key, &want);
    if (err) {
        dm_stanza_list_free(&want);
        return err;
    }
    bool seen[DM_ESCROW_MAX_AGENTS] = {false};
    size_t claimed = 0;
    for (size_t i = 0; i < hdr->stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (!claims_authority(st, auth))
            continue;
        claimed++;
        int idx =
            st->nargs > ARG_AGENT ? dm_escrow_authority_find_agent(auth, st->args[ARG_AGENT]) : -1;
        if (idx < 0) {
            err = dm_fail(DM_ERR_POLICY,
                          "escrow stanza %zu names an agent that authority %s does not have", i + 1,
                          auth->name);
        } else if (seen[idx]) {
            err = dm_fail(DM_ERR_POLICY, "two escrow stanzas for agent %s", auth->agents[idx].name);
        } else {
            seen[idx] = true;
            if (st->nargs > ARG_MODE &&
                strcmp(st->args[ARG_MODE], want.items[idx].args[ARG_MODE]) != 0)
                err = dm_fail(DM_ERR_POLICY,
                              "the escrow stanza for agent %s is mode %s, the check wants %s",
                              auth->agents[idx].name, st->args[ARG_MODE],
                              want.items[idx].args[ARG_MODE]);
            else if (!same_stanza(st, &want.items[idx]))
                err = dm_fail(DM_ERR_POLICY,
                              "the escrow stanza for agent %s is not the one derived from the "
                              "file key (altered by the sender?)",
                              auth->agents[idx].name);
        }
    }
    if (!err && claimed == 0)
        err = dm_fail(DM_ERR_POLICY, "no escrow stanzas for authority %s (%s): escrow missing",
                      auth->name, auth->id_hex);
    for (size_t i = 0; i < auth->n_agents && !err; i++)
        if (!seen[i])
            err = dm_fail(DM_ERR_POLICY, "no escrow stanza for agent %s: escrow incomplete",
                          auth->agents[i].name);
    dm_stanza_list_free(&want);
    return err;
}

int dm_escrow_policy_check(void *ctx, const dm_header *hdr,
                           const uint8_t file_key[DM_FILE_KEY_LEN]) {
    const dm_escrow_policy *p = ctx;
    return dm_escrow_verify_header(p->auth, p->opts, hdr, file_key);
}

/* ------------------------------------------------------------ agent side */

int dm_escrow_unwrap_share(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                           const dm_header *hdr, uint8_t share[DM_FILE_KEY_LEN]) {
    const dm_stanza *mine = NULL;
    for (size_t i = 0; i < hdr->stanzas.len; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (!claims_authority(st, auth))
            continue;
        if (st->nargs != N_ARGS)
            return dm_fail(DM_ERR_HEADER, "escrow stanza with %zu arguments, want %d", st->nargs,
                           N_ARGS);
        if (strcmp(st->args[ARG_AGENT], agent->name) != 0)
            continue;
        if (mine)
            return dm_fail(DM_ERR_HEADER, "two escrow stanzas for agent %s", agent->name);
        mine = st;
    }
    if (!mine)
        return dm_fail(DM_ERR_NO_MATCH, "the file has no escrow stanza for agent %s of %s",
                       agent->name, auth->name);
    char kn[48], x[24];
    snprintf(kn, sizeof kn, "%u-of-%zu", auth->threshold, auth->n_agents);
    snprintf(x, sizeof x, "%zu", agent->index + 1);
    if (strcmp(mine->args[ARG_KN], kn) != 0 || strcmp(mine->args[ARG_X], x) != 0)
        return dm_fail(DM_ERR_HEADER,
                       "escrow stanza for agent %s says %s share %s, want %s share %s", agent->name,
                       mine->args[ARG_KN], mine->args[ARG_X], kn, x);
    if (strcmp(mine->args[ARG_MODE], "shamir") != 0)
        return dm_escrow_mode_unwrap(auth, agent, mine, share);
    uint8_t eph_pk[32];
    if (!dm_escrow_unb64(mine->args[ARG_EPHEMERAL], strlen(mine->args[ARG_EPHEMERAL]), eph_pk, 32))
        return dm_fail(DM_ERR_HEADER, "escrow stanza for agent %s: bad ephemeral share",
                       agent->name);
    if (mine->body_len != DM_ESCROW_WRAPPED_LEN)
        return dm_fail(DM_ERR_HEADER, "escrow stanza body is %zu bytes, want %d", mine->body_len,
                       DM_ESCROW_WRAPPED_LEN);
    return dm_escrow_open_share(WRAP_LABEL, auth, agent, eph_pk, mine->body, share);
}

/* ------------------------------------------------------------ inspect */

typedef struct group {
    const char *id, *name, *kn, *mode;
    const char *agents[DM_ESCROW_MAX_AGENTS];
    unsigned xs[DM_ESCROW_MAX_AGENTS];
    size_t n;
} group;

int dm_escrow_describe(const dm_header *hdr, char **text) {
    *text = NULL;
    enum { MAX_GROUPS = 8 };
    group *groups = calloc(MAX_GROUPS, sizeof *groups);
    if (!groups)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    size_t n_groups = 0, n_x25519 = 0, n_scrypt = 0, n_other = 0;
    int err = DM_OK;
    for (size_t i = 0; i < hdr->stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (!is_escrow(st)) {
            if (strcmp(st->type, "X25519") == 0)
                n_x25519++;
            else if (strcmp(st->type, "scrypt") == 0)
                n_scrypt++;
            else
                n_other++;
            continue;
        }
        unsigned x, k, n;
        const char *of;
        if (st->nargs != N_ARGS || !(of = strstr(st->args[ARG_KN], "-of-")) ||
            !dm_escrow_parse_uint(st->args[ARG_KN], (size_t)(of - st->args[ARG_KN]), 255, &k) ||
            !dm_escrow_parse_uint(of + 4, strlen(of + 4), 255, &n) ||
            !dm_escrow_parse_uint(st->args[ARG_X], strlen(st->args[ARG_X]), 255, &x)) {
            err = dm_fail(DM_ERR_HEADER, "malformed %s stanza (stanza %zu)", DM_ESCROW_STANZA_TYPE,
                          i + 1);
            break;
        }
        group *g = NULL;
        for (size_t j = 0; j < n_groups; j++)
            if (strcmp(groups[j].id, st->args[ARG_ID]) == 0)
                g = &groups[j];
        if (!g) {
            if (n_groups == MAX_GROUPS) {
                err = dm_fail(DM_ERR_HEADER, "more than %d escrow authorities", MAX_GROUPS);
                break;
            }
            g = &groups[n_groups++];
            g->id = st->args[ARG_ID];
            g->name = st->args[ARG_NAME];
            g->kn = st->args[ARG_KN];
            g->mode = st->args[ARG_MODE];
        }
        if (g->n < DM_ESCROW_MAX_AGENTS) {
            g->xs[g->n] = x;
            g->agents[g->n++] = st->args[ARG_AGENT];
        }
    }
    if (err || n_groups == 0) {
        free(groups);
        return err;
    }
    dm_escrow_buf b = {0};
    for (size_t j = 0; j < n_groups; j++) {
        group *g = &groups[j];
        /* In share order, so the text reads like authority.pub. */
        for (size_t a = 1; a < g->n; a++)
            for (size_t c = a; c > 0 && g->xs[c - 1] > g->xs[c]; c--) {
                unsigned tx = g->xs[c];
                const char *ta = g->agents[c];
                g->xs[c] = g->xs[c - 1];
                g->agents[c] = g->agents[c - 1];
                g->xs[c - 1] = tx;
                g->agents[c - 1] = ta;
            }
        dm_escrow_buf_printf(&b, "escrow: authority %s (%s), %s %s:", g->name, g->id, g->kn,
                             g->mode);
        for (size_t a = 0; a < g->n; a++)
            dm_escrow_buf_printf(&b, "%s %s", a ? "," : "", g->agents[a]);
        dm_escrow_buf_str(&b, "\n");
    }
    dm_escrow_buf_str(&b, "who can decrypt: ");
    bool first = true;
    if (n_x25519) {
        if (n_x25519 == 1)
            dm_escrow_buf_str(&b, "the holder of the X25519 identity");
        else
            dm_escrow_buf_printf(&b, "the holder of any of the %zu X25519 identities", n_x25519);
        first = false;
    }
    if (n_scrypt) {
        dm_escrow_buf_printf(&b, "%sanyone who knows the passphrase", first ? "" : ", or ");
        first = false;
    }
    if (n_other) {
        dm_escrow_buf_printf(&b, "%sthe holder of %zu other identit%s", first ? "" : ", or ",
                             n_other, n_other == 1 ? "y" : "ies");
        first = false;
    }
    for (size_t j = 0; j < n_groups; j++) {
        group *g = &groups[j];
        unsigned k = 0;
        const char *of = strstr(g->kn, "-of-");
        dm_escrow_parse_uint(g->kn, (size_t)(of - g->kn), 255, &k);
        dm_escrow_buf_str(&b, first ? "" : ", or ");
        first = false;
        if (g->n == 1)
            dm_escrow_buf_printf(&b, "agent %s", g->agents[0]);
        else if (k == g->n)
            dm_escrow_buf_printf(&b, "all %zu of", g->n);
        else
            dm_escrow_buf_printf(&b, "any %u of", k);
        if (g->n > 1)
            for (size_t a = 0; a < g->n; a++)
                dm_escrow_buf_printf(&b, "%s %s", a ? "," : "", g->agents[a]);
        if (n_groups > 1)
            dm_escrow_buf_printf(&b, " (authority %s)", g->name);
    }
    dm_escrow_buf_str(&b, "\n");
    free(groups);
    return dm_escrow_buf_take(&b, text, NULL);
}
