/* age plugins, client side (c2sp.org/age-plugin): plugin recipients and
 * identities, their key strings and the plugin's name. The message codec is
 * in plugin_msg.c, the state machines in plugin_session.c, and the process
 * that runs a plugin in plugin_proc.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin.h"

#define RECIPIENT_PREFIX "age1"
#define IDENTITY_PREFIX "AGE-PLUGIN-"
/* HRP room: "AGE-PLUGIN-" + NAME + "-" and a NUL. */
#define HRP_CAP (sizeof IDENTITY_PREFIX + DM_PLUGIN_MAX_NAME + 2)
/* Longest key string accepted; age's own tests use about 1,600 characters. */
#define MAX_KEY_STRING 8192u

static int is_name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '+';
}

/* Checks NAME and writes it in lower case (the binary's name). */
static int check_name(const char *name, size_t len, char out[DM_PLUGIN_MAX_NAME + 1]) {
    if (len == 0)
        return dm_fail(DM_ERR_USAGE, "the plugin name is empty");
    if (len > DM_PLUGIN_MAX_NAME)
        return dm_fail(DM_ERR_USAGE, "the plugin name is longer than %d characters",
                       DM_PLUGIN_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!is_name_char(c))
            return dm_fail(DM_ERR_USAGE, "a plugin name may hold only letters, digits and "
                                         "- _ . +");
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[len] = '\0';
    return DM_OK;
}

int dm_is_plugin_recipient(const char *s) {
    return s != NULL && strncmp(s, RECIPIENT_PREFIX, 4) == 0 && strchr(s + 4, '1') != NULL;
}

int dm_is_plugin_identity(const char *s) {
    return s != NULL && strncmp(s, IDENTITY_PREFIX, sizeof IDENTITY_PREFIX - 1) == 0;
}

/* Decodes a key string's Bech32 and returns its HRP (the data is not ours
 * to read: only the plugin knows what it means). */
static int decode_hrp(const char *s, char hrp[HRP_CAP], const char *what) {
    size_t n = strlen(s);
    if (n > MAX_KEY_STRING)
        return dm_fail(DM_ERR_USAGE, "%s is longer than %u characters", what, MAX_KEY_STRING);
    uint8_t *data = dm_secret_alloc(n);
    if (data == NULL)
        return dm_fail(DM_ERR_NOMEM, "%s", what);
    int err = dm_bech32_decode(s, hrp, HRP_CAP, data, n, NULL);
    dm_secret_free(data);
    if (err != DM_OK)
        return err == DM_ERR_NOMEM ? err : dm_fail(DM_ERR_USAGE, "%s is not valid Bech32", what);
    return DM_OK;
}

/* ------------------------------------------------------------ recipient */

/* What a plugin recipient and a plugin identity both hold. */
typedef struct plugin_key {
    char name[DM_PLUGIN_MAX_NAME + 1];
    char *encoding; /* guarded: an identity may hold key material */
    dm_plugin_host host;
} plugin_key;

typedef plugin_key plugin_identity;

typedef struct plugin_recipient {
    plugin_key key;      /* first: the recipient is freed as a plugin_key */
    const char *add_cmd; /* "add-recipient" or "add-identity" */
} plugin_recipient;

static const dm_plugin_host no_host;

static int resolved_timeout(const dm_plugin_host *host) {
    return host->timeout_ms == 0 ? DM_PLUGIN_DEFAULT_TIMEOUT_MS : host->timeout_ms;
}

static int plugin_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                       dm_stanza_list *out) {
    const plugin_recipient *pr = self->ctx;
    dm_plugin_proc *proc = NULL;
    const plugin_key *k = &pr->key;
    int err = dm_plugin_proc_start(k->name, "recipient-v1", resolved_timeout(&k->host), &proc);
    if (err != DM_OK)
        return err;
    dm_plugin_transport t = dm_plugin_proc_transport(proc);
    err = dm_plugin_wrap_session(&t, &k->host, k->name, pr->add_cmd, k->encoding, file_key, out);
    return dm_plugin_proc_finish(proc, err);
}

/* A zeroed object of size bytes that starts with a plugin_key, holding name,
 * a guarded copy of encoding and host; NULL when out of memory. */
static void *key_new(size_t size, const char *name, const char *encoding,
                     const dm_plugin_host *host) {
    plugin_key *k = calloc(1, size);
    size_t n = strlen(encoding);
    char *enc = dm_secret_alloc(n + 1);
    if (k == NULL || enc == NULL) {
        free(k);
        dm_secret_free(enc);
        return NULL;
    }
    memcpy(enc, encoding, n + 1);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->encoding = enc;
    k->host = host ? *host : no_host;
    return k;
}

/* Frees what key_new made. */
static void key_free(plugin_key *k) {
    if (k != NULL) {
        dm_secret_free(k->encoding);
        free(k);
    }
}

static void plugin_recipient_destroy(dm_recipient *self) {
    key_free(self->ctx);
    self->ctx = NULL;
}

/* A plugin's labels follow its stanzas: post-quantum when every one is of a
 * post-quantum type of c2sp.org/age (the pq plugin's mlkem768x25519), as the
 * label age-plugin-pq gives says. */
static size_t plugin_labels(const dm_recipient *self, const dm_stanza *mine, size_t n_mine,
                            const char *out[DM_MAX_LABELS]) {
    (void)self;
    int pq = n_mine > 0;
    for (size_t i = 0; pq && i < n_mine; i++)
        pq = strcmp(mine[i].type, "mlkem768x25519") == 0 ||
             strcmp(mine[i].type, "mlkem768p256tag") == 0;
    if (!pq)
        return 0;
    out[0] = DM_LABEL_PQ;
    return 1;
}

static const dm_recipient plugin_recipient_kind = {.type = "plugin",
                                                   .wrap = plugin_wrap,
                                                   .destroy = plugin_recipient_destroy,
                                                   .labels = plugin_labels};

static int new_recipient(const char *name, const char *add_cmd, const char *encoding,
                         const dm_plugin_host *host, dm_recipient **out) {
    plugin_recipient *pr = key_new(sizeof *pr, name, encoding, host);
    if (pr == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin recipient");
    pr->add_cmd = add_cmd;
    return dm_recipient_make(&plugin_recipient_kind, pr, "plugin recipient", out);
}

int dm_plugin_recipient_parse(const char *s, const dm_plugin_host *host, dm_recipient **out) {
    if (!dm_is_plugin_recipient(s))
        return dm_fail(DM_ERR_USAGE, "a plugin recipient starts with age1NAME1");
    char hrp[HRP_CAP], name[DM_PLUGIN_MAX_NAME + 1];
    int err = decode_hrp(s, hrp, "plugin recipient");
    if (err != DM_OK)
        return err;
    /* Bech32 puts the last '1' between HRP and data: the HRP is age1NAME. */
    if (strncasecmp(hrp, RECIPIENT_PREFIX, 4) != 0 ||
        (err = check_name(hrp + 4, strlen(hrp + 4), name)) != DM_OK)
        return err != DM_OK ? err : dm_fail(DM_ERR_USAGE, "plugin recipient has no name");
    return new_recipient(name, "add-recipient", s, host, out);
}

/* ------------------------------------------------------------- identity */

static int plugin_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                         uint8_t file_key[DM_FILE_KEY_LEN]) {
    const plugin_identity *pi = self->ctx;
    dm_plugin_proc *proc = NULL;
    int err = dm_plugin_proc_start(pi->name, "identity-v1", resolved_timeout(&pi->host), &proc);
    if (err != DM_OK)
        return err;
    dm_plugin_transport t = dm_plugin_proc_transport(proc);
    err = dm_plugin_unwrap_session(&t, &pi->host, pi->name, pi->encoding, stanzas, file_key);
    return dm_plugin_proc_finish(proc, err);
}

static void plugin_identity_destroy(dm_identity *self) {
    key_free(self->ctx);
    self->ctx = NULL;
}

static const dm_identity plugin_identity_kind = {.unwrap = plugin_unwrap,
                                                 .destroy = plugin_identity_destroy};

static int new_identity(const char *name, const char *encoding, const dm_plugin_host *host,
                        dm_identity **out) {
    plugin_identity *pi = key_new(sizeof *pi, name, encoding, host);
    if (pi == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin identity");
    return dm_identity_make(&plugin_identity_kind, pi, "plugin identity", out);
}

int dm_plugin_identity_parse(const char *s, const dm_plugin_host *host, dm_identity **out) {
    if (!dm_is_plugin_identity(s))
        return dm_fail(DM_ERR_USAGE, "a plugin identity starts with AGE-PLUGIN-");
    char hrp[HRP_CAP], name[DM_PLUGIN_MAX_NAME + 1];
    int err = decode_hrp(s, hrp, "plugin identity");
    if (err != DM_OK)
        return err;
    size_t plen = sizeof IDENTITY_PREFIX - 1, hlen = strlen(hrp);
    /* age writes plugin identities in upper case only, HRP AGE-PLUGIN-NAME-. */
    if (strncmp(hrp, IDENTITY_PREFIX, plen) != 0 || hlen < plen + 2 || hrp[hlen - 1] != '-')
        return dm_fail(DM_ERR_USAGE, "plugin identity is not AGE-PLUGIN-NAME-1...");
    if ((err = check_name(hrp + plen, hlen - plen - 1, name)) != DM_OK)
        return err;
    return new_identity(name, s, host, out);
}

int dm_plugin_default_identity_string(const char *name, char *out, size_t out_cap) {
    char lower[DM_PLUGIN_MAX_NAME + 1];
    int err = check_name(name, name ? strlen(name) : 0, lower);
    if (err != DM_OK)
        return err;
    char hrp[HRP_CAP];
    size_t plen = sizeof IDENTITY_PREFIX - 1, n = strlen(lower);
    memcpy(hrp, IDENTITY_PREFIX, plen);
    for (size_t i = 0; i < n; i++)
        hrp[plen + i] = (char)(lower[i] >= 'a' && lower[i] <= 'z' ? lower[i] - 32 : lower[i]);
    hrp[plen + n] = '-';
    hrp[plen + n + 1] = '\0';
    return dm_bech32_encode(hrp, NULL, 0, out, out_cap);
}

int dm_plugin_identity_default(const char *name, const dm_plugin_host *host, dm_identity **out) {
    char s[HRP_CAP + 8];
    int err = dm_plugin_default_identity_string(name, s, sizeof s);
    if (err != DM_OK)
        return err;
    return dm_plugin_identity_parse(s, host, out);
}

int dm_plugin_identity_to_recipient(const dm_identity *id, dm_recipient **out) {
    if (id == NULL || id->unwrap != plugin_unwrap)
        return dm_fail(DM_ERR_USAGE, "not a plugin identity");
    const plugin_identity *pi = id->ctx;
    return new_recipient(pi->name, "add-identity", pi->encoding, &pi->host, out);
}

void dm_plugin_recipients_set_host(dm_recipient *const *rcpts, size_t n,
                                   const dm_plugin_host *host) {
    for (size_t i = 0; i < n; i++)
        if (rcpts[i] != NULL && rcpts[i]->wrap == plugin_wrap)
            ((plugin_recipient *)rcpts[i]->ctx)->key.host = host ? *host : no_host;
}

void dm_plugin_identities_set_host(dm_identity *const *ids, size_t n, const dm_plugin_host *host) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] != NULL && ids[i]->unwrap == plugin_unwrap)
            ((plugin_identity *)ids[i]->ctx)->host = host ? *host : no_host;
}

const char *dm_plugin_recipient_name(const dm_recipient *r) {
    return r != NULL && r->wrap == plugin_wrap ? ((const plugin_recipient *)r->ctx)->key.name
                                               : NULL;
}

const char *dm_plugin_identity_name(const dm_identity *id) {
    return id != NULL && id->unwrap == plugin_unwrap ? ((const plugin_identity *)id->ctx)->name
                                                     : NULL;
}
