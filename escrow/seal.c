/* Sealing shares to the agents, the part every escrow mode shares: the
 * k-of-n split of what the mode escrows, one X25519 exchange per agent with an
 * ephemeral scalar, and ChaCha20-Poly1305 under a wrap key that binds every
 * argument of the stanza (authority, threshold, position, agent, and the file
 * id derived from the file key), so that editing an argument breaks the seal:
 * an agent can open a share only under the id of the file whose key it is.
 * docs/escrow-format.md, "Stanzas".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

static const uint8_t zero_nonce[12];

#define FILE_ID_LABEL "doormat/v2/escrow/file-id"

int dm_escrow_file_id_of_key(const uint8_t file_key[DM_FILE_KEY_LEN],
                             uint8_t id[DM_FILE_ID_LEN]) {
    return dm_hkdf_sha256(file_key, DM_FILE_KEY_LEN, NULL, 0, FILE_ID_LABEL,
                          strlen(FILE_ID_LABEL), id, DM_FILE_ID_LEN);
}

/* The secrets of wrapping one share, in guarded memory. */
typedef struct wrap_scratch {
    uint8_t shared[32];
    uint8_t key[32];
} wrap_scratch;

/* info = label || ID || byte(X) || byte(K) || byte(N) || FILE_ID || AGENT */
static int wrap_key(const char *label, const dm_escrow_authority *auth, size_t agent,
                    const uint8_t file_id[DM_FILE_ID_LEN], const uint8_t shared[32],
                    const uint8_t eph_pk[32], uint8_t key[32]) {
    const dm_escrow_agent_pub *a = &auth->agents[agent];
    uint8_t salt[64];
    uint8_t extra[3 + DM_FILE_ID_LEN + DM_ESCROW_MAX_AGENT_NAME];
    size_t nlen = strlen(a->name);
    memcpy(salt, eph_pk, 32);
    memcpy(salt + 32, a->box_pk, 32);
    extra[0] = (uint8_t)(agent + 1);
    extra[1] = (uint8_t)auth->threshold;
    extra[2] = (uint8_t)auth->n_agents;
    memcpy(extra + 3, file_id, DM_FILE_ID_LEN);
    memcpy(extra + 3 + DM_FILE_ID_LEN, a->name, nlen);
    return dm_escrow_kdf(shared, 32, salt, sizeof salt, label, auth->id, extra,
                         3 + DM_FILE_ID_LEN + nlen, key, 32);
}

/* eph_sk: DM_PQ_RAND_LEN bytes for a hybrid agent (the encapsulation's
 * randomness), 32 for an X25519 one. A hybrid agent's encapsulation goes to
 * enc; eph_pk is then its X25519 share (what the wrap key and the modes'
 * tails bind), else the X25519 ephemeral public key. */
static int seal_share(const char *label, const dm_escrow_authority *auth, size_t agent,
                      const uint8_t file_id[DM_FILE_ID_LEN], const uint8_t *eph_sk,
                      const uint8_t share[DM_FILE_KEY_LEN], wrap_scratch *s, uint8_t eph_pk[32],
                      uint8_t enc[DM_PQ_ENC_LEN], uint8_t body[DM_ESCROW_WRAPPED_LEN]) {
    const dm_escrow_agent_pub *a = &auth->agents[agent];
    if (a->pq) {
        int err = dm_pq_encapsulate(a->pq_pk, eph_sk, enc, s->shared);
        if (err)
            return err;
        memcpy(eph_pk, enc + DM_PQ_ENC_LEN - 32, 32);
    } else if (crypto_scalarmult_base(eph_pk, eph_sk) != 0 ||
               crypto_scalarmult(s->shared, eph_sk, a->box_pk) != 0)
        return dm_fail(DM_ERR_INTERNAL, "X25519 failed for agent %s", a->name);
    int err = wrap_key(label, auth, agent, file_id, s->shared, eph_pk, s->key);
    if (!err)
        err = dm_aead_seal(s->key, zero_nonce, share, DM_FILE_KEY_LEN, body);
    return err;
}

int dm_escrow_seal_stanzas(const dm_escrow_authority *auth, const dm_escrow_seal_plan *plan,
                           const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out) {
    const size_t k = auth->threshold, n = auth->n_agents;
    /* One guarded block for every secret of the split and the seals. */
    struct secrets {
        uint8_t coeffs[(DM_ESCROW_MAX_AGENTS - 1) * DM_FILE_KEY_LEN];
        uint8_t shares[DM_ESCROW_MAX_AGENTS * DM_FILE_KEY_LEN];
        uint8_t eph_sk[DM_PQ_RAND_LEN];
        wrap_scratch wrap;
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    uint8_t file_id[DM_FILE_ID_LEN] = {0};
    char file_hex[2 * DM_FILE_ID_LEN + 1];
    int err = dm_escrow_file_id_of_key(file_key, file_id);
    dm_hex(file_id, DM_FILE_ID_LEN, file_hex);
    if (!err && k > 1 && plan->coeff_label)
        err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, plan->coeff_label, auth->id, NULL,
                            0, s->coeffs, (k - 1) * DM_FILE_KEY_LEN);
    else if (!err && k > 1)
        randombytes_buf(s->coeffs, (k - 1) * DM_FILE_KEY_LEN);
    if (!err)
        err = dm_shamir_split(plan->secret, DM_FILE_KEY_LEN, (unsigned)k, (unsigned)n, s->coeffs,
                              s->shares);
    char kn[48], x[24];
    char *eph64 = malloc(DM_ESCROW_PQ_ENC_B64_LEN + 1);
    uint8_t *enc = malloc(DM_PQ_ENC_LEN);
    if (!eph64 || !enc)
        err = err ? err : dm_fail(DM_ERR_NOMEM, "out of memory");
    snprintf(kn, sizeof kn, "%zu-of-%zu", k, n);
    for (size_t i = 0; i < n && !err; i++) {
        const dm_escrow_agent_pub *a = &auth->agents[i];
        uint8_t eph_pk[32], body[DM_ESCROW_MAX_BODY_LEN];
        size_t body_len = DM_ESCROW_WRAPPED_LEN;
        size_t eph_len = a->pq ? DM_PQ_RAND_LEN : 32;
        if (plan->ephemeral_label)
            err = dm_escrow_kdf(file_key, DM_FILE_KEY_LEN, NULL, 0, plan->ephemeral_label, auth->id,
                                (const uint8_t *)a->name, strlen(a->name), s->eph_sk, eph_len);
        else
            randombytes_buf(s->eph_sk, eph_len);
        if (!err)
            err = seal_share(plan->wrap_label, auth, i, file_id, s->eph_sk,
                             s->shares + i * DM_FILE_KEY_LEN, &s->wrap, eph_pk, enc, body);
        if (!err && plan->tail)
            err = plan->tail(plan->tail_ctx, i, eph_pk, body, &body_len);
        if (!err)
            err = a->pq ? dm_escrow_b64(enc, DM_PQ_ENC_LEN, eph64, DM_ESCROW_PQ_ENC_B64_LEN + 1)
                        : dm_escrow_b64(eph_pk, 32, eph64, DM_ESCROW_PQ_ENC_B64_LEN + 1);
        if (err)
            break;
        snprintf(x, sizeof x, "%zu", i + 1);
        const char *args[DM_ESCROW_N_ARGS] = {plan->mode_arg, auth->id_hex, auth->name, kn, x,
                                              a->name,        eph64,        file_hex};
        err =
            dm_stanza_list_add(out, DM_ESCROW_STANZA_TYPE, args, DM_ESCROW_N_ARGS, body, body_len);
    }
    dm_secret_free(s);
    free(eph64);
    free(enc);
    return err;
}

bool dm_escrow_stanza_eph_pk(const dm_escrow_authority *auth, size_t agent, const dm_stanza *st,
                             uint8_t eph_pk[32]) {
    const char *eph = st->args[DM_ESCROW_ARG_EPHEMERAL];
    if (!auth->agents[agent].pq)
        return dm_escrow_unb64(eph, strlen(eph), eph_pk, 32);
    uint8_t *enc = malloc(DM_PQ_ENC_LEN);
    bool ok = enc && dm_escrow_unb64(eph, strlen(eph), enc, DM_PQ_ENC_LEN);
    if (ok)
        memcpy(eph_pk, enc + DM_PQ_ENC_LEN - 32, 32);
    free(enc);
    return ok;
}

int dm_escrow_open_stanza(const char *wrap_label, const dm_escrow_authority *auth,
                          const dm_escrow_agent_key *agent, const dm_stanza *st,
                          uint8_t share[DM_FILE_KEY_LEN], uint8_t file_id[DM_FILE_ID_LEN]) {
    uint8_t eph_pk[32];
    const char *eph = st->args[DM_ESCROW_ARG_EPHEMERAL];
    const char *file = st->args[DM_ESCROW_ARG_FILE];
    if (!dm_escrow_unhex(file, strlen(file), file_id, DM_FILE_ID_LEN))
        return dm_fail(DM_ERR_HEADER, "escrow stanza for agent %s: bad file id", agent->name);
    const bool pq = auth->agents[agent->index].pq;
    uint8_t *enc = pq ? malloc(DM_PQ_ENC_LEN) : NULL;
    if (pq && !enc)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    if (pq ? !dm_escrow_unb64(eph, strlen(eph), enc, DM_PQ_ENC_LEN)
           : !dm_escrow_unb64(eph, strlen(eph), eph_pk, 32)) {
        free(enc);
        return dm_fail(DM_ERR_HEADER, "escrow stanza for agent %s: bad ephemeral share",
                       agent->name);
    }
    wrap_scratch *s = dm_secret_alloc(sizeof *s);
    if (!s) {
        free(enc);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    int err = DM_OK;
    if (pq) {
        memcpy(eph_pk, enc + DM_PQ_ENC_LEN - 32, 32);
        err = dm_pq_decapsulate(agent->pq_seed, enc, s->shared);
        free(enc);
    } else if (crypto_scalarmult(s->shared, agent->box_sk, eph_pk) != 0)
        err = dm_fail(DM_ERR_HEADER, "escrow stanza for agent %s: low-order ephemeral share",
                      agent->name);
    if (!err)
        err = wrap_key(wrap_label, auth, agent->index, file_id, s->shared, eph_pk, s->key);
    if (!err && dm_aead_open(s->key, zero_nonce, st->body, DM_ESCROW_WRAPPED_LEN, share) != DM_OK)
        err = dm_fail(DM_ERR_NO_STANZA,
                      "the escrow stanza for agent %s does not open with its key (altered?)",
                      agent->name);
    dm_secret_free(s);
    return err;
}
