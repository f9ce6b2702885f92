/* The escrow authority: its public description (authority.pub), the agents'
 * and the court's secret keys, and the directory `doormat escrow init` writes.
 *
 * The authority id is a hash of everything else in authority.pub, so an
 * edited authority file (a swapped agent key, a lowered threshold) no longer
 * matches its own id, and every stanza and warrant names the id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "escrow_internal.h"

#define AUTHORITY_MAGIC "doormat-escrow-authority/v1"
#define AGENT_KEY_MAGIC "doormat-escrow-agent-key/v1"
#define COURT_KEY_MAGIC "doormat-escrow-court-key/v1"
#define ID_LABEL "doormat/v1/escrow/authority-id"
#define AGENT_BOX_LABEL "doormat/v1/escrow/agent-x25519"
#define AGENT_SIGN_LABEL "doormat/v1/escrow/agent-ed25519"
#define AGENT_LOG_LABEL "doormat/v1/escrow/agent-log"
#define AGENT_PQ_LABEL "doormat/v1/escrow/agent-mlkem768x25519"
#define DEFAULT_AGENT "master"

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
void dm_escrow_authority_free_all(dm_escrow_authority *auth, dm_escrow_agent_key **agent_keys,
                                  dm_escrow_court_key *court) {
    for (size_t i = 0; agent_keys && auth && i < auth->n_agents; i++)
        dm_escrow_agent_key_free(agent_keys[i]);
    free(agent_keys);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
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

/* The public log key of agent i (its name is the log's origin). */
static void agent_log_verifier(const char *auth_name, dm_escrow_agent_pub *a,
                               const uint8_t log_pk[32]) {
    memset(&a->log, 0, sizeof a->log);
    dm_escrow_log_origin(auth_name, a->name, a->sign_pk, a->log.name);
    a->log.type = DM_TLOG_SIG_ED25519;
    memcpy(a->log.pk, log_pk, 32);
    a->log.id = dm_tlog_key_id(a->log.name, a->log.type, a->log.pk);
}

static int court_key_derive(dm_escrow_court_key *key) {
    if (crypto_sign_seed_keypair(key->sign_pk, key->sign_sk, key->seed) != 0)
        return dm_fail(DM_ERR_INTERNAL, "Ed25519 key derivation failed");
    return DM_OK;
}

static int agent_recipient(const uint8_t pk[32], char out[DM_ESCROW_RECIPIENT_MAX]) {
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
        dm_buf_printf(b, "agent: %s %s %s\n", auth->agents[i].name,
                             auth->agents[i].recipient, key64);
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

static int authority_compute_id(const dm_escrow_authority *auth, uint8_t id[DM_ESCROW_ID_LEN]) {
    dm_buf b = {0};
    dm_buf_str(&b, ID_LABEL "\n");
    authority_body(auth, false, &b);
    char *text;
    size_t len;
    int err = dm_escrow_buf_take(&b, &text, &len);
    if (err)
        return err;
    uint8_t digest[32];
    err = dm_sha256((const uint8_t *)text, len, digest);
    free(text);
    memcpy(id, digest, DM_ESCROW_ID_LEN);
    return err;
}

int dm_escrow_authority_new(const char *name, const char *const *agents, size_t n_agents,
                            unsigned threshold, dm_escrow_authority **auth_out,
                            dm_escrow_agent_key ***agent_keys_out,
                            dm_escrow_court_key **court_out) {
    return dm_escrow_authority_new_ex(name, agents, n_agents, threshold, 0, auth_out,
                                      agent_keys_out, court_out);
}

int dm_escrow_authority_new_ex(const char *name, const char *const *agents, size_t n_agents,
                               unsigned threshold, unsigned flags, dm_escrow_authority **auth_out,
                               dm_escrow_agent_key ***agent_keys_out,
                               dm_escrow_court_key **court_out) {
    static const char *const default_agents[] = {DEFAULT_AGENT};
    *auth_out = NULL;
    *agent_keys_out = NULL;
    *court_out = NULL;
    if (!name || !dm_escrow_valid_name(name, strlen(name)))
        return dm_fail(DM_ERR_USAGE,
                       "authority name must be 1 to %d of A-Z a-z 0-9 . _ - (got \"%s\")",
                       DM_ESCROW_MAX_NAME, name ? name : "");
    if (n_agents == 0) {
        agents = default_agents;
        n_agents = 1;
    }
    if (threshold == 0)
        threshold = 1;
    if (n_agents > DM_ESCROW_MAX_AGENTS)
        return dm_fail(DM_ERR_USAGE, "at most %d agents", DM_ESCROW_MAX_AGENTS);
    if (threshold > n_agents)
        return dm_fail(DM_ERR_USAGE, "threshold %u is more than the %zu agents", threshold,
                       n_agents);
    for (size_t i = 0; i < n_agents; i++) {
        if (!dm_escrow_valid_agent_name(agents[i], strlen(agents[i])))
            return dm_fail(DM_ERR_USAGE,
                           "agent name \"%s\" must be 1 to %d of a-z 0-9 _ - "
                           "(starting with a letter or digit)",
                           agents[i], DM_ESCROW_MAX_AGENT_NAME);
        for (size_t j = 0; j < i; j++)
            if (strcmp(agents[i], agents[j]) == 0)
                return dm_fail(DM_ERR_USAGE, "agent \"%s\" named twice", agents[i]);
    }

    dm_escrow_authority *auth = calloc(1, sizeof *auth);
    dm_escrow_agent_key **keys = calloc(n_agents, sizeof *keys);
    dm_escrow_court_key *court = dm_secret_alloc(sizeof *court);
    int err = DM_OK;
    if (!auth || !keys || !court) {
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    snprintf(auth->name, sizeof auth->name, "%s", name);
    auth->threshold = threshold;
    auth->n_agents = n_agents;
    for (size_t i = 0; i < n_agents && !err; i++) {
        keys[i] = dm_secret_alloc(sizeof *keys[i]);
        if (!keys[i]) {
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
            break;
        }
        memset(keys[i], 0, sizeof *keys[i]);
        snprintf(keys[i]->name, sizeof keys[i]->name, "%s", agents[i]);
        keys[i]->index = i;
        randombytes_buf(keys[i]->seed, sizeof keys[i]->seed);
        err = dm_escrow_agent_key_derive(keys[i]);
        if (err)
            break;
        dm_escrow_agent_pub *a = &auth->agents[i];
        snprintf(a->name, sizeof a->name, "%s", agents[i]);
        memcpy(a->box_pk, keys[i]->box_pk, 32);
        memcpy(a->sign_pk, keys[i]->sign_pk, 32);
        agent_log_verifier(name, a, keys[i]->log_pk);
        if (flags & DM_ESCROW_PQ) {
            a->pq = true;
            err = dm_pq_public_from_seed(keys[i]->pq_seed, a->pq_pk);
            if (!err) {
                memcpy(a->box_pk, a->pq_pk + DM_PQ_PUBLIC_LEN - 32, 32);
                err = dm_bech32_encode("age1pq", a->pq_pk, DM_PQ_PUBLIC_LEN, a->recipient,
                                       DM_ESCROW_RECIPIENT_MAX);
            }
        } else {
            err = agent_recipient(a->box_pk, a->recipient);
        }
    }
    if (err)
        goto fail;
    memset(court, 0, sizeof *court);
    randombytes_buf(court->seed, sizeof court->seed);
    err = court_key_derive(court);
    if (err)
        goto fail;
    memcpy(auth->court_pk, court->sign_pk, 32);
    err = authority_compute_id(auth, auth->id);
    if (err)
        goto fail;
    dm_hex(auth->id, DM_ESCROW_ID_LEN, auth->id_hex);
    memcpy(court->authority_id, auth->id, DM_ESCROW_ID_LEN);
    for (size_t i = 0; i < n_agents; i++)
        memcpy(keys[i]->authority_id, auth->id, DM_ESCROW_ID_LEN);
    *auth_out = auth;
    *agent_keys_out = keys;
    *court_out = court;
    return DM_OK;

fail:
    if (keys)
        for (size_t i = 0; i < n_agents; i++)
            dm_escrow_agent_key_free(keys[i]);
    free(keys);
    free(auth);
    dm_escrow_court_key_free(court);
    return err;
}

int dm_escrow_authority_set_witnesses(dm_escrow_authority *auth,
                                      dm_escrow_agent_key *const *agent_keys,
                                      dm_escrow_court_key *court, const dm_tlog_verifier *witnesses,
                                      size_t n, unsigned threshold) {
    if (n > DM_ESCROW_MAX_WITNESSES)
        return dm_fail(DM_ERR_USAGE, "at most %d witnesses", DM_ESCROW_MAX_WITNESSES);
    if ((n == 0) != (threshold == 0) || threshold > n)
        return dm_fail(DM_ERR_USAGE, "a witness threshold of %u with %zu witnesses", threshold, n);
    for (size_t i = 0; i < n; i++) {
        if (witnesses[i].type != DM_TLOG_SIG_COSIGNATURE)
            return dm_fail(DM_ERR_USAGE, "witness %s: not an Ed25519 cosignature key (type 0x04)",
                           witnesses[i].name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(witnesses[i].name, witnesses[j].name) == 0 ||
                memcmp(witnesses[i].pk, witnesses[j].pk, 32) == 0)
                return dm_fail(DM_ERR_USAGE, "witness %s given twice", witnesses[i].name);
    }
    auth->n_witnesses = n;
    if (n)
        memcpy(auth->witnesses, witnesses, n * sizeof *witnesses);
    auth->witness_threshold = threshold;
    /* The id commits to the policy: everything that holds it follows. */
    int err = authority_compute_id(auth, auth->id);
    if (err)
        return err;
    dm_hex(auth->id, DM_ESCROW_ID_LEN, auth->id_hex);
    for (size_t i = 0; i < auth->n_agents; i++)
        memcpy(agent_keys[i]->authority_id, auth->id, DM_ESCROW_ID_LEN);
    memcpy(court->authority_id, auth->id, DM_ESCROW_ID_LEN);
    return DM_OK;
}

/* ------------------------------------------------------------ text forms */

int dm_escrow_authority_format(const dm_escrow_authority *auth, char **text, size_t *len) {
    dm_buf b = {0};
    dm_buf_printf(&b, "# doormat escrow authority \"%s\": public, safe to publish.\n",
                         auth->name);
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

/* "tls: NAME PIN" or "url: NAME URL" (NAME an agent or a witness), at the end. */
static int parse_endpoint_line(dm_escrow_authority *auth, const char *line, size_t llen) {
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

static bool has_control(const char *line, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/* Next line that is not blank or a '#' comment; false at the end. */
static bool next_content(dm_escrow_lines *it, const char **line, size_t *len, int *err) {
    bool nl;
    while (dm_escrow_next_line(it, line, len, &nl)) {
        if (has_control(*line, *len)) {
            *err = dm_fail(DM_ERR_USAGE, "control character (CR, tab...) in line");
            return false;
        }
        if (*len == 0 || (*line)[0] == '#')
            continue;
        return true;
    }
    return false;
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
    if (agent_recipient(a->box_pk, a->recipient) != DM_OK || strcmp(a->recipient, rec) != 0)
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
        if (!next_content(&it, &line, &llen, &err)) {                                              \
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
    bool more = next_content(&it, &line, &llen, &err);
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
        more = next_content(&it, &line, &llen, &err);
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
        more = next_content(&it, &line, &llen, &err);
    }
    /* The network section (tls:, url:) comes last, outside the id. */
    while (more && !err) {
        err = parse_endpoint_line(auth, line, llen);
        if (!err)
            more = next_content(&it, &line, &llen, &err);
    }
    if (err)
        goto done;
    if (auth->threshold > auth->n_agents) {
        err = dm_fail(DM_ERR_USAGE, "threshold %u is more than the %zu agents", auth->threshold,
                      auth->n_agents);
        it.lineno = 0;
        goto done;
    }
    err = authority_compute_id(auth, auth->id);
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
    if (!next_content(&it, &line, &llen, &err)) {
        if (!err)
            err = dm_fail(DM_ERR_USAGE, "empty key file");
        goto done;
    }
    if (llen != strlen(magic) || memcmp(line, magic, llen) != 0) {
        err = dm_fail(DM_ERR_USAGE, "not a %s file (want \"%s\")",
                      agent_out ? "agent key" : "court key", magic);
        goto done;
    }
    if (!next_content(&it, &line, &llen, &err) ||
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
        if (!next_content(&it, &line, &llen, &err) ||
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
    if (!next_content(&it, &line, &llen, &err) || !dm_escrow_field(line, llen, "seed", &v, &vlen) ||
        !dm_escrow_unb64(v, vlen, seed, 32)) {
        if (!err)
            err = dm_fail(DM_ERR_USAGE, "want \"seed: \" and 32 bytes of base64");
        goto done;
    }
    if (next_content(&it, &line, &llen, &err) || err) {
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
    if (line_out)
        *line_out = 0;
    dm_escrow_agent_key *key = dm_secret_alloc(sizeof *key);
    if (!key)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memset(key, 0, sizeof *key);
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
    if (line_out)
        *line_out = 0;
    dm_escrow_court_key *key = dm_secret_alloc(sizeof *key);
    if (!key)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memset(key, 0, sizeof *key);
    int err = key_parse(auth, COURT_KEY_MAGIC, text, len, NULL, key->seed, line_out);
    if (!err)
        err = court_key_derive(key);
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

/* ------------------------------------------------------------ files */

int dm_escrow_authority_load(const char *path, dm_escrow_authority **out) {
    char *text;
    size_t len, line = 0;
    int err = dm_escrow_read_file(path, false, &text, &len);
    if (err)
        return err;
    err = dm_escrow_authority_parse(text, len, out, &line);
    free(text);
    return err ? dm_escrow_fail_at(err, path, line) : DM_OK;
}

int dm_escrow_agent_key_load(const dm_escrow_authority *auth, const char *path,
                             dm_escrow_agent_key **out) {
    char *text;
    size_t len, line = 0;
    int err = dm_escrow_read_file(path, true, &text, &len);
    if (err)
        return err;
    err = dm_escrow_agent_key_parse(auth, text, len, out, &line);
    dm_secret_free(text);
    return err ? dm_escrow_fail_at(err, path, line) : DM_OK;
}

int dm_escrow_court_key_load(const dm_escrow_authority *auth, const char *path,
                             dm_escrow_court_key **out) {
    char *text;
    size_t len, line = 0;
    int err = dm_escrow_read_file(path, true, &text, &len);
    if (err)
        return err;
    err = dm_escrow_court_key_parse(auth, text, len, out, &line);
    dm_secret_free(text);
    return err ? dm_escrow_fail_at(err, path, line) : DM_OK;
}

int dm_escrow_authority_write_dir(const char *dir, const dm_escrow_authority *auth,
                                  dm_escrow_agent_key *const *agent_keys,
                                  const dm_escrow_court_key *court) {
    enum { MAXP = 4096 };
    char pub[MAXP], court_path[MAXP], logs_dir[MAXP], agents_dir[MAXP];
    if (snprintf(pub, MAXP, "%s/authority.pub", dir) >= MAXP ||
        snprintf(court_path, MAXP, "%s/court.key", dir) >= MAXP ||
        snprintf(logs_dir, MAXP, "%s/logs", dir) >= MAXP ||
        snprintf(agents_dir, MAXP, "%s/agents", dir) >= MAXP)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
    struct stat st;
    if (lstat(pub, &st) == 0)
        return dm_fail(DM_ERR_USAGE, "%s exists: refusing to overwrite an existing authority", pub);
    bool made_dir = false, made_agents = false;
    if (mkdir(dir, 0755) == 0)
        made_dir = true;
    else if (errno != EEXIST)
        return dm_fail(DM_ERR_IO, "%s: %s", dir, strerror(errno));
    if (mkdir(agents_dir, 0700) == 0)
        made_agents = true;
    else if (errno != EEXIST) {
        int e = errno;
        if (made_dir)
            rmdir(dir);
        return dm_fail(DM_ERR_IO, "%s: %s", agents_dir, strerror(e));
    }

    /* Everything is created with O_EXCL; what we created is listed so that a
     * failure halfway removes exactly that and nothing else. */
    char(*written)[MAXP] = calloc(2 * DM_ESCROW_MAX_AGENTS + 3, MAXP);
    size_t n_written = 0, n_logs = 0;
    bool made_logs = false;
    if (!written) {
        if (made_agents)
            rmdir(agents_dir);
        if (made_dir)
            rmdir(dir);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    char *text = NULL;
    size_t len = 0;
    int err = DM_OK;
    for (size_t i = 0; i < auth->n_agents && !err; i++) {
        if (snprintf(written[n_written], MAXP, "%s/%s.key", agents_dir, auth->agents[i].name) >=
            MAXP) {
            err = dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
            break;
        }
        err = dm_escrow_agent_key_format(agent_keys[i], &text, &len);
        if (!err) {
            err = dm_escrow_write_new_file(written[n_written], text, len, 0600);
            dm_secret_free(text);
        }
        if (!err)
            n_written++;
    }
    if (!err) {
        err = dm_escrow_court_key_format(court, &text, &len);
        if (!err) {
            err = dm_escrow_write_new_file(court_path, text, len, 0600);
            dm_secret_free(text);
        }
        if (!err)
            snprintf(written[n_written++], MAXP, "%s", court_path);
    }
    /* Each agent's transparency log: its key (also derivable from the agent
     * key, written apart for a log server that must not hold the agent key)
     * and its directory, started with the signed empty checkpoint. */
    if (!err) {
        if (mkdir(logs_dir, 0755) == 0)
            made_logs = true;
        else if (errno != EEXIST)
            err = dm_fail(DM_ERR_IO, "%s: %s", logs_dir, strerror(errno));
    }
    for (size_t i = 0; i < auth->n_agents && !err; i++) {
        dm_tlog_signer *signer = NULL;
        char path[MAXP];
        err = dm_escrow_agent_log_signer(agent_keys[i], auth, &signer);
        if (!err && snprintf(written[n_written], MAXP, "%s/%s.logkey", agents_dir,
                             auth->agents[i].name) >= MAXP)
            err = dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
        if (!err)
            err = dm_tlog_signer_format(signer, &text);
        if (!err) {
            err = dm_escrow_write_new_file(written[n_written], text, strlen(text), 0600);
            dm_secret_free(text);
            if (!err)
                n_written++;
        }
        if (!err && snprintf(path, MAXP, "%s/%s", logs_dir, auth->agents[i].name) >= MAXP)
            err = dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
        if (!err)
            err = dm_tlog_log_create(path, signer);
        if (!err)
            n_logs++;
        dm_tlog_signer_free(signer);
    }
    if (!err) {
        /* Last: its presence is what marks a complete authority. */
        err = dm_escrow_authority_format(auth, &text, &len);
        if (!err) {
            err = dm_escrow_write_new_file(pub, text, len, 0644);
            free(text);
        }
    }
    if (err) {
        for (size_t i = 0; i < n_written; i++)
            unlink(written[i]);
        for (size_t i = 0; i < n_logs; i++) {
            char path[MAXP + 64];
            snprintf(path, sizeof path, "%s/%s", logs_dir, auth->agents[i].name);
            dm_tlog_log_remove_empty(path);
        }
        if (made_logs)
            rmdir(logs_dir);
        if (made_agents)
            rmdir(agents_dir);
        if (made_dir)
            rmdir(dir);
    }
    free(written);
    return err;
}
