/* authority.pub: the public text of an authority, the id that hashes it,
 * and the parser that checks a file against its own id.
 *
 * The authority id is a hash of everything else in authority.pub, so an
 * edited authority file (a swapped agent key, a lowered threshold) no longer
 * matches its own id, and every stanza and warrant names the id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define AUTHORITY_MAGIC "doormat-escrow-authority/v1"
#define ID_LABEL "doormat/v1/escrow/authority-id"

int dm_escrow_agent_recipient(const uint8_t pk[32], char out[DM_ESCROW_RECIPIENT_MAX]) {
    return dm_bech32_encode("age", pk, 32, out, DM_ESCROW_RECIPIENT_MAX);
}

/* The public text without comments; with_id false gives what the id hashes. */
static void authority_body(const dm_escrow_authority *auth, bool with_id, dm_buf *b) {
    char key64[DM_ESCROW_KEY_B64_LEN + 1];
    dm_buf_printf(b, "%s\nname: %s\n", AUTHORITY_MAGIC, auth->name);
    if (with_id)
        dm_buf_printf(b, "id: %s\n", auth->id_hex);
    dm_buf_printf(b, "threshold: %u\n", auth->threshold);
    for (size_t i = 0; i < auth->n_agents; i++) {
        dm_escrow_b64(auth->agents[i].sign_pk, 32, key64, sizeof key64);
        dm_buf_printf(b, "agent: %s %s %s\n", auth->agents[i].name, auth->agents[i].recipient,
                      key64);
    }
    dm_escrow_b64(auth->court_pk, 32, key64, sizeof key64);
    dm_buf_printf(b, "court: %s\n", key64);
    for (size_t i = 0; i < auth->n_agents; i++) {
        char *vkey = NULL;
        if (dm_tlog_verifier_format(&auth->agents[i].log, &vkey) != DM_OK) {
            b->failed = true;
            return;
        }
        dm_buf_printf(b, "log: %s %s\n", auth->agents[i].name, vkey);
        free(vkey);
    }
    for (size_t i = 0; i < auth->n_witnesses; i++) {
        char *vkey = NULL;
        if (dm_tlog_verifier_format(&auth->witnesses[i], &vkey) != DM_OK) {
            b->failed = true;
            return;
        }
        dm_buf_printf(b, "witness: %s\n", vkey);
        free(vkey);
    }
    if (auth->n_witnesses > 0)
        dm_buf_printf(b, "witness-threshold: %u\n", auth->witness_threshold);
}

int dm_escrow_authority_compute_id(const dm_escrow_authority *auth, uint8_t id[DM_ESCROW_ID_LEN]) {
    dm_buf b = {0};
    dm_buf_str(&b, ID_LABEL "\n");
    authority_body(auth, false, &b);
    char *text;
    size_t len;
    int err = dm_escrow_buf_take(&b, &text, &len);
    if (err)
        return err;
    uint8_t digest[32];
    dm_sha256((const uint8_t *)text, len, digest);
    free(text);
    memcpy(id, digest, DM_ESCROW_ID_LEN);
    return err;
}

/* ------------------------------------------------------------ text forms */

int dm_escrow_authority_format(const dm_escrow_authority *auth, char **text, size_t *len) {
    dm_buf b = {0};
    dm_buf_printf(&b, "# doormat escrow authority \"%s\": public, safe to publish.\n", auth->name);
    dm_buf_printf(&b, "# Files encrypted with --escrow to it can be opened by ");
    if (auth->n_agents == 1)
        dm_buf_printf(&b, "its single agent, %s.\n", auth->agents[0].name);
    else {
        dm_buf_printf(&b, "any %u of:", auth->threshold);
        for (size_t i = 0; i < auth->n_agents; i++)
            dm_buf_printf(&b, "%s %s", i ? "," : "", auth->agents[i].name);
        dm_buf_str(&b, ".\n");
    }
    authority_body(auth, true, &b);
    /* The network section, outside the id (dm_escrow_authority_endpoint_url). */
    for (size_t i = 0; i < auth->n_endpoints; i++) {
        const dm_escrow_endpoint *e = &auth->endpoints[i];
        if (e->tls_pin[0])
            dm_buf_printf(&b, "tls: %s %s\n", e->name, e->tls_pin);
        if (e->url[0])
            dm_buf_printf(&b, "url: %s %s\n", e->name, e->url);
    }
    return dm_escrow_buf_take(&b, text, len);
}

static int parse_agent_line(const char *v, size_t vlen, dm_escrow_agent_pub *a) {
    const char *sp1 = memchr(v, ' ', vlen);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', vlen - (size_t)(sp1 + 1 - v)) : NULL;
    if (!sp1 || !sp2)
        return dm_fail(DM_ERR_USAGE, "agent line must be \"agent: NAME age1... AUDITKEY\"");
    size_t nlen = (size_t)(sp1 - v);
    const char *r = sp1 + 1;
    size_t rlen = (size_t)(sp2 - r);
    const char *k = sp2 + 1;
    size_t klen = vlen - (size_t)(k - v);
    if (!dm_escrow_valid_agent_name(v, nlen))
        return dm_fail(DM_ERR_USAGE, "bad agent name \"%.*s\"", (int)nlen, v);
    memcpy(a->name, v, nlen);
    a->name[nlen] = '\0';
    char rec[DM_ESCROW_RECIPIENT_MAX];
    char hrp[16];
    size_t got = 0;
    if (rlen >= sizeof rec)
        return dm_fail(DM_ERR_USAGE, "agent %s: recipient too long", a->name);
    memcpy(rec, r, rlen);
    rec[rlen] = '\0';
    if (dm_pq_is_recipient(rec)) {
        /* A hybrid agent key (escrow init --pq). */
        char again[DM_ESCROW_RECIPIENT_MAX];
        if (!dm_pq_available())
            return dm_fail(DM_ERR_USAGE, "agent %s has a hybrid post-quantum key: %s", a->name,
                           dm_pq_unavailable_reason());
        if (dm_bech32_decode(rec, hrp, sizeof hrp, a->pq_pk, sizeof a->pq_pk, &got) != DM_OK ||
            strcmp(hrp, "age1pq") != 0 || got != DM_PQ_PUBLIC_LEN ||
            dm_bech32_encode("age1pq", a->pq_pk, DM_PQ_PUBLIC_LEN, again, sizeof again) != DM_OK ||
            strcmp(again, rec) != 0)
            return dm_fail(DM_ERR_USAGE, "agent %s: not a canonical age1pq1... recipient", a->name);
        a->pq = true;
        memcpy(a->box_pk, a->pq_pk + DM_PQ_PUBLIC_LEN - 32, 32);
        memcpy(a->recipient, rec, rlen + 1);
        if (!dm_escrow_unb64(k, klen, a->sign_pk, 32))
            return dm_fail(DM_ERR_USAGE, "agent %s: audit key is not 32 bytes of base64", a->name);
        return DM_OK;
    }
    if (dm_bech32_decode(rec, hrp, sizeof hrp, a->box_pk, sizeof a->box_pk, &got) != DM_OK ||
        strcmp(hrp, "age") != 0 || got != 32)
        return dm_fail(DM_ERR_USAGE, "agent %s: \"%s\" is not an age1... X25519 recipient", a->name,
                       rec);
    if (dm_escrow_agent_recipient(a->box_pk, a->recipient) != DM_OK ||
        strcmp(a->recipient, rec) != 0)
        return dm_fail(DM_ERR_USAGE, "agent %s: recipient is not in canonical lower case", a->name);
    if (!dm_escrow_unb64(k, klen, a->sign_pk, 32))
        return dm_fail(DM_ERR_USAGE, "agent %s: audit key is not 32 bytes of base64", a->name);
    return DM_OK;
}

int dm_escrow_authority_parse(const char *text, size_t len, dm_escrow_authority **out,
                              size_t *line_out) {
    *out = NULL;
    if (line_out)
        *line_out = 0;
    dm_escrow_authority *auth = calloc(1, sizeof *auth);
    if (!auth)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    dm_escrow_lines it = {.text = text, .len = len};
    const char *line, *v;
    size_t llen, vlen;
    int err = DM_OK;
    size_t id_line = 0;
    uint8_t claimed_id[DM_ESCROW_ID_LEN];

#define NEXT_OR(msg)                                                                               \
    do {                                                                                           \
        if (!dm_escrow_next_content(&it, &line, &llen, &err)) {                                    \
            if (!err)                                                                              \
                err = dm_fail(DM_ERR_USAGE, "file ends early: %s", msg);                           \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

    NEXT_OR("no \"" AUTHORITY_MAGIC "\" line");
    if (llen != strlen(AUTHORITY_MAGIC) || memcmp(line, AUTHORITY_MAGIC, llen) != 0) {
        err = dm_fail(DM_ERR_USAGE, "not a doormat authority file (want \"%s\")", AUTHORITY_MAGIC);
        goto done;
    }
    NEXT_OR("missing \"name:\"");
    if (!dm_escrow_field(line, llen, "name", &v, &vlen) || !dm_escrow_valid_name(v, vlen)) {
        err = dm_fail(DM_ERR_USAGE, "want \"name: NAME\" (A-Z a-z 0-9 . _ -, 1 to %d)",
                      DM_ESCROW_MAX_NAME);
        goto done;
    }
    memcpy(auth->name, v, vlen);
    NEXT_OR("missing \"id:\"");
    if (!dm_escrow_field(line, llen, "id", &v, &vlen) ||
        !dm_escrow_unhex(v, vlen, claimed_id, DM_ESCROW_ID_LEN)) {
        err = dm_fail(DM_ERR_USAGE, "want \"id: \" and 32 lower-case hex digits");
        goto done;
    }
    id_line = it.lineno;
    NEXT_OR("missing \"threshold:\"");
    if (!dm_escrow_field(line, llen, "threshold", &v, &vlen) ||
        !dm_escrow_parse_uint(v, vlen, DM_ESCROW_MAX_AGENTS, &auth->threshold) ||
        auth->threshold == 0) {
        err =
            dm_fail(DM_ERR_USAGE, "want \"threshold: K\" with 1 <= K <= %d", DM_ESCROW_MAX_AGENTS);
        goto done;
    }
    NEXT_OR("no agents");
    while (dm_escrow_field(line, llen, "agent", &v, &vlen)) {
        if (auth->n_agents == DM_ESCROW_MAX_AGENTS) {
            err = dm_fail(DM_ERR_USAGE, "more than %d agents", DM_ESCROW_MAX_AGENTS);
            goto done;
        }
        dm_escrow_agent_pub *a = &auth->agents[auth->n_agents];
        err = parse_agent_line(v, vlen, a);
        if (err)
            goto done;
        for (size_t j = 0; j < auth->n_agents; j++)
            if (strcmp(auth->agents[j].name, a->name) == 0) {
                err = dm_fail(DM_ERR_USAGE, "agent \"%s\" appears twice", a->name);
                goto done;
            }
        auth->n_agents++;
        NEXT_OR("missing \"court:\"");
    }
    if (auth->n_agents == 0) {
        err = dm_fail(DM_ERR_USAGE, "want \"agent: NAME age1... AUDITKEY\"");
        goto done;
    }
    if (!dm_escrow_field(line, llen, "court", &v, &vlen) ||
        !dm_escrow_unb64(v, vlen, auth->court_pk, 32)) {
        err = dm_fail(DM_ERR_USAGE, "want \"court: \" and a base64 Ed25519 key");
        goto done;
    }
    /* One log key per agent, in agent order, named by the log's origin. */
    for (size_t i = 0; i < auth->n_agents; i++) {
        dm_escrow_agent_pub *a = &auth->agents[i];
        char origin[DM_TLOG_MAX_NAME + 1];
        size_t nl = strlen(a->name);
        NEXT_OR("missing \"log:\" lines (one per agent)");
        if (!dm_escrow_field(line, llen, "log", &v, &vlen) || vlen < nl + 2 ||
            memcmp(v, a->name, nl) != 0 || v[nl] != ' ') {
            err = dm_fail(DM_ERR_USAGE, "want \"log: %s VKEY\" (one per agent, in agent order)",
                          a->name);
            goto done;
        }
        err = dm_tlog_verifier_parse(v + nl + 1, vlen - nl - 1, &a->log);
        dm_escrow_log_origin(auth->name, a->name, a->sign_pk, origin);
        if (!err && (a->log.type != DM_TLOG_SIG_ED25519 || strcmp(a->log.name, origin) != 0))
            err = dm_fail(DM_ERR_USAGE, "the log key of agent %s must be an Ed25519 key named %s",
                          a->name, origin);
        if (err)
            goto done;
    }
    bool more = dm_escrow_next_content(&it, &line, &llen, &err);
    if (err)
        goto done;
    while (more && dm_escrow_field(line, llen, "witness", &v, &vlen)) {
        if (auth->n_witnesses == DM_ESCROW_MAX_WITNESSES) {
            err = dm_fail(DM_ERR_USAGE, "more than %d witnesses", DM_ESCROW_MAX_WITNESSES);
            goto done;
        }
        dm_tlog_verifier *w = &auth->witnesses[auth->n_witnesses];
        err = dm_tlog_verifier_parse(v, vlen, w);
        if (!err && w->type != DM_TLOG_SIG_COSIGNATURE)
            err = dm_fail(DM_ERR_USAGE, "witness %s: not an Ed25519 cosignature key (type 0x04)",
                          w->name);
        for (size_t j = 0; !err && j < auth->n_witnesses; j++)
            if (strcmp(auth->witnesses[j].name, w->name) == 0 ||
                memcmp(auth->witnesses[j].pk, w->pk, 32) == 0)
                err = dm_fail(DM_ERR_USAGE, "witness %s appears twice", w->name);
        if (err)
            goto done;
        auth->n_witnesses++;
        more = dm_escrow_next_content(&it, &line, &llen, &err);
        if (err)
            goto done;
    }
    if (auth->n_witnesses > 0) {
        if (!more || !dm_escrow_field(line, llen, "witness-threshold", &v, &vlen) ||
            !dm_escrow_parse_uint(v, vlen, (unsigned)auth->n_witnesses, &auth->witness_threshold) ||
            auth->witness_threshold == 0) {
            if (!more)
                it.lineno++;
            err = dm_fail(DM_ERR_USAGE, "want \"witness-threshold: K\" with 1 <= K <= %zu",
                          auth->n_witnesses);
            goto done;
        }
        more = dm_escrow_next_content(&it, &line, &llen, &err);
    }
    /* The network section (tls:, url:) comes last, outside the id. */
    while (more && !err) {
        err = dm_escrow_authority_parse_endpoint(auth, line, llen);
        if (!err)
            more = dm_escrow_next_content(&it, &line, &llen, &err);
    }
    if (err)
        goto done;
    if (auth->threshold > auth->n_agents) {
        err = dm_fail(DM_ERR_USAGE, "threshold %u is more than the %zu agents", auth->threshold,
                      auth->n_agents);
        it.lineno = 0;
        goto done;
    }
    err = dm_escrow_authority_compute_id(auth, auth->id);
    if (err)
        goto done;
    if (sodium_memcmp(auth->id, claimed_id, DM_ESCROW_ID_LEN) != 0) {
        it.lineno = id_line;
        err = dm_fail(DM_ERR_USAGE,
                      "the id does not match the authority's contents (the file was edited)");
        goto done;
    }
    dm_hex(auth->id, DM_ESCROW_ID_LEN, auth->id_hex);
#undef NEXT_OR
done:
    if (err) {
        if (line_out)
            *line_out = it.lineno;
        free(auth);
        return err;
    }
    *out = auth;
    return DM_OK;
}
