/* libFuzzer target for the age plugin client: the message parser and the
 * recipient-v1 and identity-v1 state machines, with the input as everything
 * a hostile plugin says, cut into reads of varying size. Besides "no crash",
 * it checks that whatever the parser accepts re-encodes to the very bytes it
 * consumed, that a session either fails or yields what the protocol allows
 * (a 16-byte file key, stanzas with valid types), and the plugin key strings.
 *
 *   make fuzz FUZZ_SECONDS=N         (builds build-fuzz/fuzz/fuzz_plugin)
 * Seeds: fuzz/corpus/plugin (fuzz/make-corpus.sh). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_init.h"
#include "plugin.h"

typedef struct feed {
    const uint8_t *data;
    size_t len, pos, step;
} feed;

static int feed_send(void *ctx, const uint8_t *buf, size_t n) {
    (void)ctx;
    (void)buf;
    (void)n;
    return DM_OK;
}

static int feed_recv(void *ctx, uint8_t *buf, size_t n, int64_t deadline, size_t *got) {
    feed *f = ctx;
    (void)deadline;
    size_t take = f->len - f->pos;
    if (take > n)
        take = n;
    if (take > f->step)
        take = f->step;
    memcpy(buf, f->data + f->pos, take);
    f->pos += take;
    *got = take;
    return DM_OK;
}

static int ui_message(void *ctx, const char *name, const char *text) {
    (void)ctx;
    (void)name;
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort(); /* control characters must never reach a terminal */
    return DM_OK;
}

static int ui_request(void *ctx, const char *name, const char *prompt, int secret, char **value,
                      size_t *value_len) {
    (void)ctx;
    (void)name;
    (void)secret;
    if (ui_message(NULL, name, prompt) != DM_OK)
        return DM_ERR_USAGE;
    *value = dm_secret_alloc(5);
    if (*value == NULL)
        return DM_ERR_NOMEM;
    memcpy(*value, "1234", 5);
    *value_len = 4;
    return DM_OK;
}

static int ui_confirm(void *ctx, const char *name, const char *prompt, const char *yes,
                      const char *no, int *chose_yes) {
    (void)ctx;
    ui_message(NULL, name, prompt);
    ui_message(NULL, name, yes);
    if (no != NULL)
        ui_message(NULL, name, no);
    *chose_yes = 1;
    return DM_OK;
}

static void fuzz_parse(const uint8_t *data, size_t size) {
    dm_plugin_msg m;
    size_t used = 0;
    if (dm_plugin_msg_parse(data, size, &m, &used) != DM_OK)
        return;
    if (used > size || m.nargs == 0)
        abort();
    uint8_t *enc = NULL;
    size_t n = 0;
    if (dm_plugin_msg_encode(m.args[0], (const char *const *)m.args + 1, m.nargs - 1, m.body,
                             m.body_len, &enc, &n) != DM_OK)
        abort();
    if (n != used || memcmp(enc, data, n) != 0)
        abort();
    free(enc);
    dm_plugin_msg_free(&m);
}

static void fuzz_sessions(const uint8_t *data, size_t size) {
    if (size < 2)
        return;
    static const uint8_t key[DM_FILE_KEY_LEN] = "YELLOW SUBMARINE";
    dm_plugin_host host = {ui_message, ui_request, ui_confirm, NULL, 0};
    int with_ui = data[0] & 1, unwrap = data[0] & 2;
    feed f = {data + 2, size - 2, 0, (size_t)data[1] % 64 + 1};
    dm_plugin_transport t = {feed_send, feed_recv, &f};
    if (!unwrap) {
        dm_stanza_list out = {0};
        int err = dm_plugin_wrap_session(&t, with_ui ? &host : NULL, "fuzz", "add-recipient",
                                         "age1fuzz1xyz", key, &out);
        if (err == DM_OK && out.len == 0)
            abort();
        if (err != DM_OK && out.len != 0)
            abort();
        dm_stanza_list_clear(&out);
        return;
    }
    dm_stanza_list stanzas = {0};
    const char *args[] = {"a"};
    if (dm_stanza_list_add(&stanzas, "X25519", args, 1, key, sizeof key) != DM_OK)
        return;
    uint8_t out_key[DM_FILE_KEY_LEN] = {0};
    int err = dm_plugin_unwrap_session(&t, with_ui ? &host : NULL, "fuzz", "AGE-PLUGIN-FUZZ-1X",
                                       &stanzas, out_key);
    static const uint8_t zero[DM_FILE_KEY_LEN];
    if (err != DM_OK && memcmp(out_key, zero, sizeof zero) != 0)
        abort();
    dm_stanza_list_clear(&stanzas);
}

static void fuzz_keys(const uint8_t *data, size_t size) {
    char *s = strndup((const char *)data, size);
    if (s == NULL)
        return;
    dm_recipient *r = NULL;
    if (dm_plugin_recipient_parse(s, NULL, &r) == DM_OK) {
        if (dm_plugin_recipient_name(r) == NULL)
            abort();
        dm_recipient_free(r);
    }
    dm_identity *id = NULL;
    if (dm_plugin_identity_parse(s, NULL, &id) == DM_OK) {
        if (dm_plugin_identity_to_recipient(id, &r) != DM_OK)
            abort();
        dm_recipient_free(r);
        dm_identity_free(id);
    }
    char def[128];
    if (dm_plugin_default_identity_string(s, def, sizeof def) == DM_OK) {
        if (dm_plugin_identity_parse(def, NULL, &id) != DM_OK)
            abort();
        dm_identity_free(id);
    }
    free(s);
}

DM_FUZZ_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_parse(data, size);
    fuzz_sessions(data, size);
    fuzz_keys(data, size);
    return 0;
}
