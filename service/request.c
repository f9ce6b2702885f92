/* doormat escrow request: the investigator's client. It asks each agent of
 * the authority, over HTTPS pinned to the key authority.pub names, for its
 * share of one file; opens each sealed answer with the investigator's
 * identity; checks each share (the agent's signature, this authority, this
 * file) before it counts; and stops at k good shares. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service_internal.h"

#define MAX_ANSWER (1u << 20)

/* The first AGE-SECRET-KEY-1 line of an identity file gives the recipient
 * the shares are sealed to. */
static int identity_recipient(const char *text, size_t len, char **recipient) {
    static const char tag[] = "AGE-SECRET-KEY-1";
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + 1;
        if (llen >= sizeof tag - 1 && memcmp(line, tag, sizeof tag - 1) == 0) {
            char *secret = dm_secret_alloc(llen + 1);
            if (secret == NULL)
                return dm_fail(DM_ERR_NOMEM, "out of memory");
            memcpy(secret, line, llen);
            secret[llen] = '\0';
            int err = dm_x25519_identity_to_recipient(secret, recipient);
            dm_secret_free(secret);
            return err;
        }
    }
    return dm_fail(DM_ERR_USAGE, "the identity file has no AGE-SECRET-KEY-1 line (an X25519 "
                                 "identity is needed to receive sealed shares)");
}

/* Opens a sealed share: an age file to the investigator's identities. */
static int unseal(const dm_svc_release *rel, dm_identity *const *ids, size_t n_ids, char **text,
                  size_t *len) {
    dm_membuf in = {.data = rel->sealed, .len = rel->sealed_len};
    dm_membuf out = {0};
    dm_decrypt_opts opts = {.threads = 1, .backend = DM_AEAD_SODIUM};
    int err = dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), ids, n_ids, &opts);
    if (err != DM_OK) {
        if (out.buf)
            sodium_memzero(out.buf, out.len);
        free(out.buf);
        return err;
    }
    char *copy = dm_secret_alloc(out.len + 1);
    if (copy != NULL) {
        memcpy(copy, out.buf, out.len);
        copy[out.len] = '\0';
    }
    sodium_memzero(out.buf, out.len);
    free(out.buf);
    if (copy == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    *text = copy;
    *len = out.len;
    return DM_OK;
}

/* One agent: ask, open, check. On DM_OK *share is a share that counts. */
static int ask_agent(const dm_escrow_authority *auth, size_t i, const char *body, size_t body_len,
                     const uint8_t file_id[DM_FILE_ID_LEN], dm_identity *const *ids, size_t n_ids,
                     unsigned timeout_s, dm_escrow_share **share, dm_service_answer *ans) {
    const char *url = dm_escrow_authority_agent_url(auth, i);
    const char *pin = dm_escrow_authority_agent_tls_pin(auth, i);
    if (url == NULL || pin == NULL) {
        snprintf(ans->reason, sizeof ans->reason,
                 "authority.pub gives no %s for it (escrow init --url %s=https://...)",
                 url == NULL ? "URL" : "TLS pin", ans->agent);
        return DM_ERR_USAGE;
    }
    dm_svc_client *c = NULL;
    char *resp = NULL, *text = NULL;
    size_t resp_len = 0, text_len = 0;
    dm_svc_release rel;
    memset(&rel, 0, sizeof rel);
    int err = dm_svc_client_new(url, pin, timeout_s, &c);
    if (err == DM_OK)
        err = dm_svc_client_call(c, "/release", body, body_len, MAX_ANSWER, &ans->status, &resp,
                                 &resp_len);
    if (err != DM_OK) {
        snprintf(ans->reason, sizeof ans->reason, "no answer: %s", dm_err_detail());
    } else if (ans->status != 200) {
        /* The agent's reason is its answer's first line. */
        size_t n = strcspn(resp, "\n");
        if (n >= sizeof ans->reason - 32)
            n = sizeof ans->reason - 32;
        char shown[sizeof ans->reason];
        for (size_t j = 0; j < n; j++)
            shown[j] = (resp[j] >= 0x20 && resp[j] < 0x7f) ? resp[j] : '?';
        shown[n] = '\0';
        snprintf(ans->reason, sizeof ans->reason, "refused (HTTP %ld): %s", ans->status,
                 n ? shown : "no reason given");
        err = DM_ERR_DENIED;
    } else if ((err = dm_svc_release_parse(resp, resp_len, &rel)) != DM_OK) {
        snprintf(ans->reason, sizeof ans->reason, "malformed answer: %s", dm_err_detail());
    } else if (strcmp(rel.agent, ans->agent) != 0) {
        snprintf(ans->reason, sizeof ans->reason, "answered as agent \"%s\"", rel.agent);
        err = DM_ERR_USAGE;
    } else if ((err = unseal(&rel, ids, n_ids, &text, &text_len)) != DM_OK) {
        snprintf(ans->reason, sizeof ans->reason, "the sealed share does not open: %s",
                 dm_err_detail());
    } else if ((err = dm_escrow_share_parse(auth, text, text_len, share, NULL)) != DM_OK) {
        snprintf(ans->reason, sizeof ans->reason, "bad share: %s", dm_err_detail());
    } else if (strcmp(dm_escrow_share_agent(*share), ans->agent) != 0 ||
               memcmp(dm_escrow_share_file_id(*share), file_id, DM_FILE_ID_LEN) != 0) {
        snprintf(ans->reason, sizeof ans->reason, "the share is another agent's or another file's");
        err = DM_ERR_USAGE;
    } else if ((err = dm_escrow_share_check_receipt(auth, *share, NULL, &ans->index)) != DM_OK) {
        /* No share is used before its release is shown to be logged and cosigned. */
        snprintf(ans->reason, sizeof ans->reason, "%s", dm_err_detail());
    } else {
        ans->ok = 1;
    }
    if (err != DM_OK && *share != NULL) {
        dm_escrow_share_free(*share);
        *share = NULL;
    }
    dm_secret_free(text);
    dm_svc_release_clear(&rel);
    free(resp);
    dm_svc_client_free(c);
    return err;
}

int dm_service_request(const dm_escrow_authority *auth, const char *warrant_text,
                       size_t warrant_len, const uint8_t *hdr_bytes, size_t hdr_len,
                       const char *identity_text, size_t identity_len, unsigned timeout_s,
                       uint8_t *file_key, dm_service_answer *answers) {
    size_t n = dm_escrow_authority_agents(auth);
    unsigned k = dm_escrow_authority_threshold(auth);
    for (size_t i = 0; i < n; i++) {
        memset(&answers[i], 0, sizeof answers[i]);
        snprintf(answers[i].agent, sizeof answers[i].agent, "%s",
                 dm_escrow_authority_agent_name(auth, i));
        snprintf(answers[i].reason, sizeof answers[i].reason, "not asked (k shares already)");
    }
    dm_header hdr;
    memset(&hdr, 0, sizeof hdr);
    uint8_t file_id[DM_FILE_ID_LEN];
    dm_identity **ids = NULL;
    size_t n_ids = 0, line = 0;
    char *recipient = NULL, *body = NULL;
    size_t body_len = 0;
    dm_escrow_share **shares = calloc(n ? n : 1, sizeof *shares);
    size_t got = 0;
    int err = shares ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
    int have_hdr = 0;
    if (err == DM_OK && (err = dm_header_parse(hdr_bytes, hdr_len, &hdr)) == DM_OK)
        have_hdr = 1;
    if (err == DM_OK)
        err = dm_escrow_file_id(auth, &hdr, file_id);
    if (err == DM_OK)
        err = dm_identity_file_parse(identity_text, identity_len, &ids, &n_ids, &line);
    if (err == DM_OK)
        err = identity_recipient(identity_text, identity_len, &recipient);
    if (err == DM_OK)
        err = dm_svc_release_req_format(recipient, warrant_text, warrant_len, hdr_bytes, hdr.len,
                                        &body, &body_len);
    for (size_t i = 0; err == DM_OK && i < n && got < k; i++) {
        answers[i].reason[0] = '\0';
        dm_escrow_share *s = NULL;
        if (ask_agent(auth, i, body, body_len, file_id, ids, n_ids, timeout_s, &s, &answers[i]) ==
            DM_OK)
            shares[got++] = s;
    }
    if (err == DM_OK && got < k)
        err = dm_fail(DM_ERR_NO_MATCH, "%zu good share%s of the %u needed", got,
                      got == 1 ? "" : "s", k);
    if (err == DM_OK)
        err = dm_escrow_recover_ex(auth, &hdr, shares, got, file_key, NULL);
    for (size_t i = 0; i < got; i++)
        dm_escrow_share_free(shares[i]);
    free(shares);
    free(body);
    free(recipient);
    for (size_t i = 0; i < n_ids; i++)
        dm_identity_free(ids[i]);
    free(ids);
    if (have_hdr)
        dm_header_clear(&hdr);
    return err;
}
