/* The agents' and the court's secret key files: their text, parsed against
 * the authority they belong to, and loaded (read into guarded memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define AGENT_KEY_MAGIC "doormat-escrow-agent-key/v1"
#define COURT_KEY_MAGIC "doormat-escrow-court-key/v1"

static int key_text(const char *magic, const char *comment, const uint8_t id[DM_ESCROW_ID_LEN],
                    const char *agent, const uint8_t seed[32], char **text, size_t *len) {
    char id_hex[2 * DM_ESCROW_ID_LEN + 1];
    char seed64[DM_ESCROW_KEY_B64_LEN + 1];
    dm_hex(id, DM_ESCROW_ID_LEN, id_hex);
    int err = dm_escrow_b64(seed, 32, seed64, sizeof seed64);
    if (err)
        return err;
    dm_buf b = {.secret = true};
    dm_buf_printf(&b, "# %s\n%s\nauthority: %s\n", comment, magic, id_hex);
    if (agent)
        dm_buf_printf(&b, "agent: %s\n", agent);
    dm_buf_printf(&b, "seed: %s\n", seed64);
    sodium_memzero(seed64, sizeof seed64);
    return dm_escrow_buf_take(&b, text, len);
}

int dm_escrow_agent_key_format(const dm_escrow_agent_key *key, char **text, size_t *len) {
    return key_text(AGENT_KEY_MAGIC,
                    "doormat escrow agent key: SECRET. It releases shares of escrowed files.",
                    key->authority_id, key->name, key->seed, text, len);
}

int dm_escrow_court_key_format(const dm_escrow_court_key *key, char **text, size_t *len) {
    return key_text(COURT_KEY_MAGIC, "doormat escrow court key: SECRET. It signs warrants.",
                    key->authority_id, NULL, key->seed, text, len);
}

/* Shared grammar of both key files; agent_out NULL for the court key. */
static int key_parse(const dm_escrow_authority *auth, const char *magic, const char *text,
                     size_t len, char *agent_out, uint8_t seed[32], size_t *line_out) {
    dm_escrow_lines it = {.text = text, .len = len};
    const char *line, *v;
    size_t llen, vlen;
    int err = DM_OK;
    uint8_t id[DM_ESCROW_ID_LEN];
    if (!dm_escrow_next_content(&it, &line, &llen, &err)) {
        if (!err)
            err = dm_fail(DM_ERR_USAGE, "empty key file");
        goto done;
    }
    if (llen != strlen(magic) || memcmp(line, magic, llen) != 0) {
        err = dm_fail(DM_ERR_USAGE, "not a %s file (want \"%s\")",
                      agent_out ? "agent key" : "court key", magic);
        goto done;
    }
    if (!dm_escrow_next_content(&it, &line, &llen, &err) ||
        !dm_escrow_field(line, llen, "authority", &v, &vlen) ||
        !dm_escrow_unhex(v, vlen, id, DM_ESCROW_ID_LEN)) {
        if (!err)
            err = dm_fail(DM_ERR_USAGE, "want \"authority: \" and 32 lower-case hex digits");
        goto done;
    }
    if (memcmp(id, auth->id, DM_ESCROW_ID_LEN) != 0) {
        err = dm_fail(DM_ERR_USAGE, "key belongs to authority %.*s, not %s (%s)", (int)vlen, v,
                      auth->id_hex, auth->name);
        goto done;
    }
    if (agent_out) {
        if (!dm_escrow_next_content(&it, &line, &llen, &err) ||
            !dm_escrow_field(line, llen, "agent", &v, &vlen) ||
            !dm_escrow_valid_agent_name(v, vlen)) {
            if (!err)
                err = dm_fail(DM_ERR_USAGE, "want \"agent: NAME\"");
            goto done;
        }
        memcpy(agent_out, v, vlen);
        agent_out[vlen] = '\0';
        if (dm_escrow_authority_find_agent(auth, agent_out) < 0) {
            err =
                dm_fail(DM_ERR_USAGE, "agent \"%s\" is not in authority %s", agent_out, auth->name);
            goto done;
        }
    }
    if (!dm_escrow_next_content(&it, &line, &llen, &err) ||
        !dm_escrow_field(line, llen, "seed", &v, &vlen) || !dm_escrow_unb64(v, vlen, seed, 32)) {
        if (!err)
            err = dm_fail(DM_ERR_USAGE, "want \"seed: \" and 32 bytes of base64");
        goto done;
    }
    if (dm_escrow_next_content(&it, &line, &llen, &err) || err) {
        if (!err)
            err = dm_fail(DM_ERR_USAGE, "unexpected line after \"seed:\"");
        goto done;
    }
done:
    if (err && line_out)
        *line_out = it.lineno;
    return err;
}

int dm_escrow_agent_key_parse(const dm_escrow_authority *auth, const char *text, size_t len,
                              dm_escrow_agent_key **out, size_t *line_out) {
    *out = NULL;
    dm_escrow_agent_key *key = dm_escrow_parse_new(sizeof *key, line_out);
    if (!key)
        return DM_ERR_NOMEM;
    int err = key_parse(auth, AGENT_KEY_MAGIC, text, len, key->name, key->seed, line_out);
    if (!err)
        err = dm_escrow_agent_key_derive(key);
    if (!err) {
        int idx = dm_escrow_authority_find_agent(auth, key->name);
        key->index = (size_t)idx;
        memcpy(key->authority_id, auth->id, DM_ESCROW_ID_LEN);
        uint8_t pq_pk[DM_PQ_PUBLIC_LEN];
        bool pq = auth->agents[idx].pq;
        if (pq && dm_pq_public_from_seed(key->pq_seed, pq_pk) != DM_OK)
            memset(pq_pk, 0, sizeof pq_pk);
        if ((pq ? sodium_memcmp(pq_pk, auth->agents[idx].pq_pk, sizeof pq_pk)
                : sodium_memcmp(key->box_pk, auth->agents[idx].box_pk, 32)) != 0 ||
            sodium_memcmp(key->sign_pk, auth->agents[idx].sign_pk, 32) != 0 ||
            sodium_memcmp(key->log_pk, auth->agents[idx].log.pk, 32) != 0)
            err = dm_fail(DM_ERR_USAGE, "key does not match agent %s's keys in authority %s",
                          key->name, auth->name);
    }
    if (err) {
        dm_escrow_agent_key_free(key);
        return err;
    }
    *out = key;
    return DM_OK;
}

int dm_escrow_court_key_parse(const dm_escrow_authority *auth, const char *text, size_t len,
                              dm_escrow_court_key **out, size_t *line_out) {
    *out = NULL;
    dm_escrow_court_key *key = dm_escrow_parse_new(sizeof *key, line_out);
    if (!key)
        return DM_ERR_NOMEM;
    int err = key_parse(auth, COURT_KEY_MAGIC, text, len, NULL, key->seed, line_out);
    if (!err)
        err = dm_escrow_court_key_derive(key);
    if (!err) {
        memcpy(key->authority_id, auth->id, DM_ESCROW_ID_LEN);
        if (sodium_memcmp(key->sign_pk, auth->court_pk, 32) != 0)
            err = dm_fail(DM_ERR_USAGE, "key is not the court key of authority %s", auth->name);
    }
    if (err) {
        dm_escrow_court_key_free(key);
        return err;
    }
    *out = key;
    return DM_OK;
}
