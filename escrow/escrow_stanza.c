/* The doormat-escrow stanzas: how the file key reaches the authority's agents,
 * and how a compliant client checks that it did.
 *
 *   -> doormat-escrow MODE AUTHORITY-ID AUTHORITY-NAME K-of-N X AGENT EPHEMERAL FILE-ID
 *   base64(sealed share || what the mode appends)
 *
 * FILE-ID is bound by the seal: an agent names a release by it alone, never
 * by anything it computes from the header it is sent (the header-swap attack).
 *
 * This file is the part every mode shares: building through the mode's entry
 * (modes.c), the one compliance loop, finding an agent's own stanza, and the
 * description of who can decrypt. docs/escrow-format.md is the normative text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define N_ARGS DM_ESCROW_N_ARGS
#define ARG_MODE DM_ESCROW_ARG_MODE
#define ARG_ID DM_ESCROW_ARG_ID
#define ARG_NAME DM_ESCROW_ARG_NAME
#define ARG_KN DM_ESCROW_ARG_KN
#define ARG_X DM_ESCROW_ARG_X
#define ARG_AGENT DM_ESCROW_ARG_AGENT
#define ARG_FILE DM_ESCROW_ARG_FILE

#define V1_REFUSED                                                                                 \
    "is of the old format v1, which binds no file id: agents refuse it (re-encrypt the file)"

int dm_escrow_beside(const dm_identity *self, const char *stanza_type) {
    (void)self;
    return stanza_type != NULL && strcmp(stanza_type, DM_ESCROW_STANZA_TYPE) == 0;
}

bool dm_escrow_stanza_is_for(const dm_stanza *st, const dm_escrow_authority *auth) {
    return strcmp(st->type, DM_ESCROW_STANZA_TYPE) == 0 && st->nargs > ARG_ID &&
           strcmp(st->args[ARG_ID], auth->id_hex) == 0;
}

int dm_escrow_build_stanzas(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out) {
    char arg[24];
    int err = dm_escrow_mode_check(opts);
    if (!err)
        err = dm_escrow_mode_arg(opts, arg, sizeof arg);
    if (!err)
        err = dm_escrow_mode_ops_of(opts)->build(auth, opts, arg, file_key, out);
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

/* Shares sealed to hybrid agent keys make the authority a post-quantum
 * recipient: it then goes with post-quantum recipients only, and a
 * classical authority with classical ones (the vault's label rule). */
static size_t escrow_labels(const dm_recipient *self, const dm_stanza *mine, size_t n_mine,
                            const char *out[DM_MAX_LABELS]) {
    (void)mine, (void)n_mine;
    const escrow_rcpt *ctx = self->ctx;
    bool pq = ctx->auth.n_agents > 0;
    for (size_t i = 0; i < ctx->auth.n_agents; i++)
        pq = pq && ctx->auth.agents[i].pq;
    if (!pq)
        return 0;
    out[0] = DM_LABEL_PQ;
    return 1;
}

int dm_escrow_recipient_new(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            dm_recipient **out) {
    *out = NULL;
    int err = dm_escrow_mode_check(opts);
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
    /* Escrow stanzas may stand beside a passphrase's: a documented doormat
     * extension (age refuses such files). Shares sealed to hybrid agent keys
     * make the authority a post-quantum recipient (escrow_labels). */
    r->flags = DM_RCPT_COMPANION;
    r->labels = escrow_labels;
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
    err = dm_encrypt(in, out, all, n_rcpts + 1, &o);
    free(all);
    dm_recipient_free(escrow);
    return err;
}

/* ------------------------------------------------------------ verification */

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
    char arg[24];
    int err = dm_escrow_mode_check(opts);
    if (!err)
        err = dm_escrow_mode_arg(opts, arg, sizeof arg);
    if (err)
        return err;
    const dm_escrow_mode_ops *mode = dm_escrow_mode_ops_of(opts);
    /* Modes without a check of their own are derived: rebuild and compare. */
    dm_stanza_list want = {0};
    if (!mode->verify)
        err = mode->build(auth, opts, arg, file_key, &want);
    uint8_t file_id[DM_FILE_ID_LEN] = {0};
    char file_hex[2 * DM_FILE_ID_LEN + 1];
    if (!err)
        err = dm_escrow_file_id_of_key(file_key, file_id);
    dm_hex(file_id, DM_FILE_ID_LEN, file_hex);
    bool seen[DM_ESCROW_MAX_AGENTS] = {false};
    size_t claimed = 0;
    for (size_t i = 0; i < hdr->stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (!dm_escrow_stanza_is_for(st, auth))
            continue;
        claimed++;
        int idx =
            st->nargs > ARG_AGENT ? dm_escrow_authority_find_agent(auth, st->args[ARG_AGENT]) : -1;
        if (idx < 0) {
            err = dm_fail(DM_ERR_POLICY,
                          "escrow stanza %zu names an agent that authority %s does not have", i + 1,
                          auth->name);
            break;
        }
        const char *name = auth->agents[idx].name;
        if (seen[idx])
            err = dm_fail(DM_ERR_POLICY, "two escrow stanzas for agent %s", name);
        else if (st->nargs == DM_ESCROW_N_ARGS_V1)
            err = dm_fail(DM_ERR_POLICY, "the escrow stanza for agent %s " V1_REFUSED, name);
        else if (strcmp(st->args[ARG_MODE], arg) != 0)
            err = dm_fail(DM_ERR_POLICY,
                          "the escrow stanza for agent %s is mode %s, the check wants %s", name,
                          st->args[ARG_MODE], arg);
        else if (st->nargs != N_ARGS || strcmp(st->args[ARG_FILE], file_hex) != 0)
            err = dm_fail(DM_ERR_POLICY,
                          "the escrow stanza for agent %s does not name the file id %s derived "
                          "from the file key: its releases would be logged under another id",
                          name, file_hex);
        else if (mode->verify)
            err = mode->verify(auth, opts, (size_t)idx, st, file_key);
        else if (!same_stanza(st, &want.items[idx]))
            err = dm_fail(DM_ERR_POLICY,
                          "the escrow stanza for agent %s is not the one derived from the "
                          "file key (altered by the sender?)",
                          name);
        seen[idx] = true;
    }
    if (!err && claimed == 0)
        err = dm_fail(DM_ERR_POLICY, "no escrow stanzas for authority %s (%s): escrow missing",
                      auth->name, auth->id_hex);
    for (size_t i = 0; i < auth->n_agents && !err; i++)
        if (!seen[i])
            err = dm_fail(DM_ERR_POLICY, "no escrow stanza for agent %s: escrow incomplete",
                          auth->agents[i].name);
    dm_stanza_list_clear(&want);
    return err;
}

const char *dm_escrow_strerror(int err) {
    return err == DM_ERR_POLICY ? "escrow policy violated" : dm_strerror(err);
}

int dm_escrow_policy_check(void *ctx, const dm_header *hdr,
                           const uint8_t file_key[DM_FILE_KEY_LEN]) {
    const dm_escrow_policy *p = ctx;
    return dm_escrow_verify_header(p->auth, p->opts, hdr, file_key);
}

/* ------------------------------------------------------------ agent side */

/* The mode of one of the authority's stanzas, with its body length checked. */
static int stanza_mode(const dm_stanza *st, dm_escrow_opts *o, const dm_escrow_mode_ops **mode) {
    if (!dm_escrow_mode_parse(st->args[ARG_MODE], o))
        return dm_fail(DM_ERR_HEADER, "escrow mode \"%s\" is not known", st->args[ARG_MODE]);
    *mode = dm_escrow_mode_ops_of(o);
    size_t want = (*mode)->body_len(o);
    if (st->body_len != want)
        return dm_fail(DM_ERR_HEADER, "%s escrow stanza body is %zu bytes, want %zu",
                       st->args[ARG_MODE], st->body_len, want);
    return DM_OK;
}

int dm_escrow_own_stanza(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                         const dm_header *hdr, const dm_stanza **st,
                         uint8_t file_id[DM_FILE_ID_LEN]) {
    const dm_stanza *mine = NULL;
    *st = NULL;
    for (size_t i = 0; i < hdr->stanzas.len; i++) {
        const dm_stanza *s = &hdr->stanzas.items[i];
        if (!dm_escrow_stanza_is_for(s, auth))
            continue;
        if (s->nargs == DM_ESCROW_N_ARGS_V1)
            return dm_fail(DM_ERR_HEADER, "the escrow stanza for agent %s " V1_REFUSED,
                           s->args[ARG_AGENT]);
        if (s->nargs != N_ARGS)
            return dm_fail(DM_ERR_HEADER, "escrow stanza with %zu arguments, want %d", s->nargs,
                           N_ARGS);
        if (strcmp(s->args[ARG_AGENT], agent->name) != 0)
            continue;
        if (mine)
            return dm_fail(DM_ERR_HEADER, "two escrow stanzas for agent %s", agent->name);
        mine = s;
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
    const char *file = mine->args[ARG_FILE];
    if (!dm_escrow_unhex(file, strlen(file), file_id, DM_FILE_ID_LEN))
        return dm_fail(DM_ERR_HEADER, "escrow stanza for agent %s: bad file id", agent->name);
    *st = mine;
    return DM_OK;
}

int dm_escrow_unwrap_share(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                           const dm_header *hdr, uint8_t share[DM_FILE_KEY_LEN],
                           uint8_t file_id[DM_FILE_ID_LEN]) {
    const dm_stanza *mine;
    int err = dm_escrow_own_stanza(auth, agent, hdr, &mine, file_id);
    if (err)
        return err;
    dm_escrow_opts o;
    const dm_escrow_mode_ops *mode;
    err = stanza_mode(mine, &o, &mode);
    if (!err)
        err = dm_escrow_open_stanza(mode->wrap_label, auth, agent, mine, share, file_id);
    return err;
}

int dm_escrow_file_id(const dm_escrow_authority *auth, const dm_header *hdr,
                      uint8_t id[DM_FILE_ID_LEN]) {
    size_t found = 0;
    for (size_t i = 0; i < hdr->stanzas.len; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (!dm_escrow_stanza_is_for(st, auth))
            continue;
        if (st->nargs == DM_ESCROW_N_ARGS_V1)
            return dm_fail(DM_ERR_HEADER, "escrow stanza %zu " V1_REFUSED, i + 1);
        uint8_t named[DM_FILE_ID_LEN];
        const char *file = st->nargs == N_ARGS ? st->args[ARG_FILE] : "";
        if (!dm_escrow_unhex(file, strlen(file), named, DM_FILE_ID_LEN))
            return dm_fail(DM_ERR_HEADER, "escrow stanza %zu is malformed (no file id)", i + 1);
        if (found++ > 0 && memcmp(named, id, DM_FILE_ID_LEN) != 0)
            return dm_fail(DM_ERR_HEADER,
                           "the escrow stanzas of authority %s name different file ids", auth->name);
        memcpy(id, named, DM_FILE_ID_LEN);
    }
    if (found == 0)
        return dm_fail(DM_ERR_NO_MATCH, "no escrow stanza of authority %s (%s)", auth->name,
                       auth->id_hex);
    return DM_OK;
}

int dm_escrow_solve_key(const dm_escrow_authority *auth, const dm_header *hdr,
                        uint8_t key[DM_FILE_KEY_LEN], uint64_t *tries) {
    if (tries)
        *tries = 0;
    const dm_stanza *st = NULL;
    for (size_t i = 0; i < hdr->stanzas.len && !st; i++)
        if (dm_escrow_stanza_is_for(&hdr->stanzas.items[i], auth) &&
            hdr->stanzas.items[i].nargs == N_ARGS)
            st = &hdr->stanzas.items[i];
    dm_escrow_opts o;
    if (!st || !dm_escrow_mode_parse(st->args[ARG_MODE], &o) || !dm_escrow_mode_ops_of(&o)->solve)
        return DM_OK; /* nothing to solve: the shares combine to the file key */
    const dm_escrow_mode_ops *mode;
    int err = stanza_mode(st, &o, &mode);
    if (!err)
        err = mode->solve(auth, &o, st, key, tries);
    if (err)
        sodium_memzero(key, DM_FILE_KEY_LEN);
    return err;
}

/* ------------------------------------------------------------ inspect */

/* "K-of-N" and X, as the grammar allows them. */
static bool parse_position(const dm_stanza *st, unsigned *k, unsigned *n, unsigned *x) {
    const char *kn = st->args[ARG_KN], *of = strstr(kn, "-of-");
    return of && dm_escrow_parse_uint(kn, (size_t)(of - kn), 255, k) &&
           dm_escrow_parse_uint(of + 4, strlen(of + 4), 255, n) &&
           dm_escrow_parse_uint(st->args[ARG_X], strlen(st->args[ARG_X]), 255, x);
}

int dm_escrow_describe(const dm_header *hdr, dm_escrow_description *out) {
    memset(out, 0, sizeof *out);
    unsigned xs[DM_ESCROW_MAX_DESCRIBED][DM_ESCROW_MAX_AGENTS];
    for (size_t i = 0; i < hdr->stanzas.len; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (strcmp(st->type, DM_ESCROW_STANZA_TYPE) != 0)
            continue;
        unsigned x, k, n;
        if ((st->nargs != N_ARGS && st->nargs != DM_ESCROW_N_ARGS_V1) ||
            !parse_position(st, &k, &n, &x))
            return dm_fail(DM_ERR_HEADER, "malformed %s stanza (stanza %zu)", DM_ESCROW_STANZA_TYPE,
                           i + 1);
        dm_escrow_holders *g = NULL;
        size_t gi = 0;
        for (; gi < out->n_authorities && !g; gi++)
            if (strcmp(out->authorities[gi].id_hex, st->args[ARG_ID]) == 0)
                g = &out->authorities[gi];
        if (g)
            gi--;
        if (!g) {
            if (out->n_authorities == DM_ESCROW_MAX_DESCRIBED)
                return dm_fail(DM_ERR_HEADER, "more than %d escrow authorities",
                               DM_ESCROW_MAX_DESCRIBED);
            gi = out->n_authorities++;
            g = &out->authorities[gi];
            g->id_hex = st->args[ARG_ID];
            g->name = st->args[ARG_NAME];
            g->mode = st->args[ARG_MODE];
            g->file_id = st->nargs == N_ARGS ? st->args[ARG_FILE] : NULL;
            g->k = k;
            g->n = n;
            /* A hybrid seal's EPHEMERAL is the ML-KEM ciphertext and the X25519
             * share (1120 bytes), a classical one the X25519 share alone. */
            g->post_quantum = strlen(st->args[DM_ESCROW_ARG_EPHEMERAL]) > DM_ESCROW_KEY_B64_LEN;
        }
        if (g->n_agents == DM_ESCROW_MAX_AGENTS)
            continue;
        /* In share order, so that the agents read as in authority.pub. */
        size_t at = g->n_agents++;
        for (; at > 0 && xs[gi][at - 1] > x; at--) {
            xs[gi][at] = xs[gi][at - 1];
            g->agents[at] = g->agents[at - 1];
        }
        xs[gi][at] = x;
        g->agents[at] = st->args[ARG_AGENT];
    }
    return DM_OK;
}
