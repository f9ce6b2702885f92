/* The escrow authority as data: its accessors and endpoints, the release of
 * what it holds, and the keys derived from the agents' and the court's seeds.
 * Made in authority_init.c; its text forms are authority_text.c (authority.pub)
 * and authority_keys.c (the secret key files).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

#define AGENT_BOX_LABEL "doormat/v1/escrow/agent-x25519"
#define AGENT_SIGN_LABEL "doormat/v1/escrow/agent-ed25519"
#define AGENT_LOG_LABEL "doormat/v1/escrow/agent-log"
#define AGENT_PQ_LABEL "doormat/v1/escrow/agent-mlkem768x25519"

/* ------------------------------------------------------------ accessors */

const char *dm_escrow_authority_name(const dm_escrow_authority *auth) {
    return auth->name;
}
const char *dm_escrow_authority_id_hex(const dm_escrow_authority *auth) {
    return auth->id_hex;
}
const uint8_t *dm_escrow_authority_id(const dm_escrow_authority *auth) {
    return auth->id;
}
unsigned dm_escrow_authority_threshold(const dm_escrow_authority *auth) {
    return auth->threshold;
}
size_t dm_escrow_authority_agents(const dm_escrow_authority *auth) {
    return auth->n_agents;
}

const char *dm_escrow_authority_agent_name(const dm_escrow_authority *auth, size_t i) {
    return i < auth->n_agents ? auth->agents[i].name : NULL;
}

const char *dm_escrow_authority_agent_recipient(const dm_escrow_authority *auth, size_t i) {
    return i < auth->n_agents ? auth->agents[i].recipient : NULL;
}

static const dm_escrow_endpoint *endpoint_of(const dm_escrow_authority *auth, const char *name) {
    for (size_t i = 0; name && i < auth->n_endpoints; i++)
        if (strcmp(auth->endpoints[i].name, name) == 0)
            return &auth->endpoints[i];
    return NULL;
}

const char *dm_escrow_authority_endpoint_pin(const dm_escrow_authority *auth, const char *name) {
    const dm_escrow_endpoint *e = endpoint_of(auth, name);
    return e && e->tls_pin[0] ? e->tls_pin : NULL;
}

const char *dm_escrow_authority_endpoint_url(const dm_escrow_authority *auth, const char *name) {
    const dm_escrow_endpoint *e = endpoint_of(auth, name);
    return e && e->url[0] ? e->url : NULL;
}

const char *dm_escrow_authority_agent_tls_pin(const dm_escrow_authority *auth, size_t i) {
    return i < auth->n_agents ? dm_escrow_authority_endpoint_pin(auth, auth->agents[i].name) : NULL;
}

const char *dm_escrow_authority_agent_url(const dm_escrow_authority *auth, size_t i) {
    return i < auth->n_agents ? dm_escrow_authority_endpoint_url(auth, auth->agents[i].name) : NULL;
}

/* Agents and witnesses are the names an endpoint may have. */
static bool endpoint_name_known(const dm_escrow_authority *auth, const char *name, size_t len) {
    for (size_t i = 0; i < auth->n_agents; i++)
        if (strlen(auth->agents[i].name) == len && memcmp(auth->agents[i].name, name, len) == 0)
            return true;
    for (size_t i = 0; i < auth->n_witnesses; i++)
        if (strlen(auth->witnesses[i].name) == len &&
            memcmp(auth->witnesses[i].name, name, len) == 0)
            return true;
    return false;
}

static bool valid_tls_pin(const char *s, size_t len) {
    static const char prefix[] = "sha256//";
    if (len != DM_ESCROW_TLS_PIN_LEN || memcmp(s, prefix, sizeof prefix - 1) != 0)
        return false;
    uint8_t digest[32];
    size_t got = 0;
    const char *b64 = s + sizeof prefix - 1;
    size_t blen = len - (sizeof prefix - 1);
    return sodium_base642bin(digest, sizeof digest, b64, blen, NULL, &got, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           got == sizeof digest;
}

static bool valid_url(const char *s, size_t len) {
    static const char scheme[] = "https://";
    if (len <= sizeof scheme - 1 || len > DM_ESCROW_MAX_URL ||
        memcmp(s, scheme, sizeof scheme - 1) != 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* The endpoint slot of name (known), made when missing; NULL when full. */
static dm_escrow_endpoint *endpoint_slot(dm_escrow_authority *auth, const char *name, size_t len) {
    for (size_t i = 0; i < auth->n_endpoints; i++)
        if (strlen(auth->endpoints[i].name) == len &&
            memcmp(auth->endpoints[i].name, name, len) == 0)
            return &auth->endpoints[i];
    if (auth->n_endpoints == DM_ESCROW_MAX_ENDPOINTS || len > DM_ESCROW_MAX_ENDPOINT_NAME)
        return NULL;
    dm_escrow_endpoint *e = &auth->endpoints[auth->n_endpoints++];
    memset(e, 0, sizeof *e);
    memcpy(e->name, name, len);
    return e;
}

int dm_escrow_authority_set_endpoint(dm_escrow_authority *auth, const char *name,
                                     const char *tls_pin, const char *url) {
    if (!endpoint_name_known(auth, name, strlen(name)))
        return dm_fail(DM_ERR_USAGE, "\"%s\" is not an agent or a witness of this authority", name);
    if (tls_pin && !valid_tls_pin(tls_pin, strlen(tls_pin)))
        return dm_fail(DM_ERR_USAGE, "%s: \"%s\" is not a pin sha256//BASE64", name, tls_pin);
    if (url && !valid_url(url, strlen(url)))
        return dm_fail(DM_ERR_USAGE,
                       "%s: \"%s\" is not an https:// URL of at most %d printable bytes", name, url,
                       DM_ESCROW_MAX_URL);
    dm_escrow_endpoint *e = endpoint_slot(auth, name, strlen(name));
    if (!e)
        return dm_fail(DM_ERR_USAGE, "more than %d endpoints", DM_ESCROW_MAX_ENDPOINTS);
    if (tls_pin)
        snprintf(e->tls_pin, sizeof e->tls_pin, "%s", tls_pin);
    if (url)
        snprintf(e->url, sizeof e->url, "%s", url);
    return DM_OK;
}

/* "tls: NAME PIN" or "url: NAME URL" (NAME an agent or a witness), at the end. */
int dm_escrow_authority_parse_endpoint(dm_escrow_authority *auth, const char *line, size_t llen) {
    const char *v;
    size_t vlen;
    bool tls = dm_escrow_field(line, llen, "tls", &v, &vlen);
    if (!tls && !dm_escrow_field(line, llen, "url", &v, &vlen))
        return dm_fail(DM_ERR_USAGE, "unexpected line (only \"tls:\" and \"url:\" lines may "
                                     "come last)");
    const char *sp = memchr(v, ' ', vlen);
    if (!sp)
        return dm_fail(DM_ERR_USAGE, "want \"%s: NAME %s\"", tls ? "tls" : "url",
                       tls ? "sha256//BASE64" : "https://...");
    size_t nlen = (size_t)(sp - v);
    if (!endpoint_name_known(auth, v, nlen))
        return dm_fail(DM_ERR_USAGE, "\"%.*s\" is not an agent or a witness of this authority",
                       (int)nlen, v);
    dm_escrow_endpoint *e = endpoint_slot(auth, v, nlen);
    if (!e)
        return dm_fail(DM_ERR_USAGE, "more than %d endpoints", DM_ESCROW_MAX_ENDPOINTS);
    const char *val = sp + 1;
    size_t val_len = vlen - nlen - 1;
    if ((tls ? e->tls_pin[0] : e->url[0]) != '\0')
        return dm_fail(DM_ERR_USAGE, "%s: a second \"%s:\" line", e->name, tls ? "tls" : "url");
    if (tls ? !valid_tls_pin(val, val_len) : !valid_url(val, val_len))
        return dm_fail(DM_ERR_USAGE,
                       tls ? "%s: want \"sha256//\" and the base64 SHA-256 of a public key"
                           : "%s: want an https:// URL of at most 255 printable bytes",
                       e->name);
    memcpy(tls ? e->tls_pin : e->url, val, val_len);
    (tls ? e->tls_pin : e->url)[val_len] = '\0';
    return DM_OK;
}

int dm_escrow_authority_find_agent(const dm_escrow_authority *auth, const char *name) {
    for (size_t i = 0; i < auth->n_agents; i++)
        if (strcmp(auth->agents[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *dm_escrow_agent_key_name(const dm_escrow_agent_key *key) {
    return key->name;
}

const dm_tlog_verifier *dm_escrow_authority_log_key(const dm_escrow_authority *auth, size_t i) {
    return i < auth->n_agents ? &auth->agents[i].log : NULL;
}

size_t dm_escrow_authority_witnesses(const dm_escrow_authority *auth) {
    return auth->n_witnesses;
}

const dm_tlog_verifier *dm_escrow_authority_witness(const dm_escrow_authority *auth, size_t i) {
    return i < auth->n_witnesses ? &auth->witnesses[i] : NULL;
}

unsigned dm_escrow_authority_witness_threshold(const dm_escrow_authority *auth) {
    return auth->witness_threshold;
}

int dm_escrow_agent_log_signer(const dm_escrow_agent_key *key, const dm_escrow_authority *auth,
                               dm_tlog_signer **out) {
    *out = NULL;
    if (key->index >= auth->n_agents || memcmp(key->authority_id, auth->id, DM_ESCROW_ID_LEN) != 0)
        return dm_fail(DM_ERR_USAGE, "agent key %s is not a key of authority %s", key->name,
                       auth->name);
    return dm_tlog_signer_from_seed(auth->agents[key->index].log.name, DM_TLOG_SIG_ED25519,
                                    key->log_seed, out);
}

void dm_escrow_authority_free(dm_escrow_authority *auth) {
    free(auth);
}
void dm_escrow_agent_key_free(dm_escrow_agent_key *key) {
    dm_secret_free(key);
}
void dm_escrow_court_key_free(dm_escrow_court_key *key) {
    dm_secret_free(key);
}
void dm_escrow_agent_keys_free(dm_escrow_agent_key **agent_keys, size_t n) {
    for (size_t i = 0; agent_keys && i < n; i++)
        dm_escrow_agent_key_free(agent_keys[i]);
    free(agent_keys);
}

/* ------------------------------------------------------------ derivation */

int dm_escrow_agent_key_derive(dm_escrow_agent_key *key) {
    uint8_t sign_seed[32];
    int err = dm_hkdf_sha256(key->seed, sizeof key->seed, NULL, 0, AGENT_BOX_LABEL,
                             strlen(AGENT_BOX_LABEL), key->box_sk, sizeof key->box_sk);
    if (!err)
        err = dm_hkdf_sha256(key->seed, sizeof key->seed, NULL, 0, AGENT_SIGN_LABEL,
                             strlen(AGENT_SIGN_LABEL), sign_seed, sizeof sign_seed);
    if (!err && crypto_scalarmult_base(key->box_pk, key->box_sk) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "X25519 failed");
    if (!err && crypto_sign_seed_keypair(key->sign_pk, key->sign_sk, sign_seed) != 0)
        err = dm_fail(DM_ERR_INTERNAL, "Ed25519 key derivation failed");
    if (!err)
        err = dm_hkdf_sha256(key->seed, sizeof key->seed, NULL, 0, AGENT_PQ_LABEL,
                             strlen(AGENT_PQ_LABEL), key->pq_seed, sizeof key->pq_seed);
    if (!err)
        err = dm_hkdf_sha256(key->seed, sizeof key->seed, NULL, 0, AGENT_LOG_LABEL,
                             strlen(AGENT_LOG_LABEL), key->log_seed, sizeof key->log_seed);
    if (!err) {
        uint8_t sk[64];
        if (crypto_sign_seed_keypair(key->log_pk, sk, key->log_seed) != 0)
            err = dm_fail(DM_ERR_INTERNAL, "Ed25519 key derivation failed");
        sodium_memzero(sk, sizeof sk);
    }
    sodium_memzero(sign_seed, sizeof sign_seed);
    return err;
}

void dm_escrow_log_origin(const char *auth_name, const char *agent, const uint8_t sign_pk[32],
                          char out[DM_TLOG_MAX_NAME + 1]) {
    uint8_t h[32];
    char hex[9];
    crypto_hash_sha256(h, sign_pk, 32);
    dm_hex(h, 4, hex);
    snprintf(out, DM_TLOG_MAX_NAME + 1, "doormat-escrow/%s/%s/%s", auth_name, agent, hex);
}

int dm_escrow_court_key_derive(dm_escrow_court_key *key) {
    if (crypto_sign_seed_keypair(key->sign_pk, key->sign_sk, key->seed) != 0)
        return dm_fail(DM_ERR_INTERNAL, "Ed25519 key derivation failed");
    return DM_OK;
}
