/* vault/plugin*.c: the message codec, the recipient-v1 and
 * identity-v1 state machines against a scripted fake plugin (asserting every
 * byte the client sends), plugin key strings, and real child processes (small
 * shell plugins) that succeed, crash, hang or stop reading: no child and no
 * descriptor is left behind. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "plugin.h"

/* The age repository's own test strings (cmd/age/testdata/plugin.txt). */
#define AGE_TEST_RECIPIENT "age1test10qdmzv9q"
#define AGE_TEST_IDENTITY "AGE-PLUGIN-TEST-10Q32NLXM"
/* Made by tests/plugin/age-plugin-doormattest's own Bech32 encoder. */
#define DEFAULT_DOORMATTEST "AGE-PLUGIN-DOORMATTEST-1H0SCLW"
#define DEFAULT_TEST "AGE-PLUGIN-TEST-1M7420Z"
#define TEST_RECIPIENT_0_31 "age1test1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sw49937"

static const uint8_t file_key[16] = "YELLOW SUBMARINE";
#define FILE_KEY_B64 "WUVMTE9XIFNVQk1BUklORQ"

static int setup(void **state) {
    (void)state;
    return dm_init() == DM_OK ? 0 : -1;
}

/* ------------------------------------------------------------ the fake */

typedef struct fake {
    const char *script; /* everything the plugin says */
    size_t len, pos;
    size_t chunk; /* bytes per recv: small ones exercise partial messages */
    char sent[8192];
    size_t sent_len;
} fake;

static int fake_send(void *ctx, const uint8_t *buf, size_t n) {
    fake *f = ctx;
    assert_true(f->sent_len + n < sizeof f->sent);
    memcpy(f->sent + f->sent_len, buf, n);
    f->sent_len += n;
    f->sent[f->sent_len] = '\0';
    return DM_OK;
}

static int fake_recv(void *ctx, uint8_t *buf, size_t n, int64_t deadline, size_t *got) {
    fake *f = ctx;
    (void)deadline;
    size_t k = f->len - f->pos;
    if (k > n)
        k = n;
    if (f->chunk && k > f->chunk)
        k = f->chunk;
    memcpy(buf, f->script + f->pos, k);
    f->pos += k;
    *got = k;
    return DM_OK;
}

static dm_plugin_transport fake_transport(fake *f, const char *script, size_t chunk) {
    memset(f, 0, sizeof *f);
    f->script = script;
    f->len = strlen(script);
    f->chunk = chunk;
    dm_plugin_transport t = {fake_send, fake_recv, f};
    return t;
}

/* What the fake user interface saw and answers. */
typedef struct ui_log {
    char seen[1024];
    int confirm_yes;
    const char *value;
} ui_log;

static int ui_message(void *ctx, const char *name, const char *text) {
    ui_log *l = ctx;
    snprintf(l->seen + strlen(l->seen), sizeof l->seen - strlen(l->seen), "msg[%s]:%s|", name,
             text);
    return DM_OK;
}

static int ui_request(void *ctx, const char *name, const char *prompt, int secret, char **value,
                      size_t *value_len) {
    ui_log *l = ctx;
    snprintf(l->seen + strlen(l->seen), sizeof l->seen - strlen(l->seen), "%s[%s]:%s|",
             secret ? "secret" : "public", name, prompt);
    if (l->value == NULL)
        return DM_ERR_USAGE;
    *value_len = strlen(l->value);
    *value = dm_secret_alloc(*value_len + 1);
    memcpy(*value, l->value, *value_len + 1);
    return DM_OK;
}

static int ui_confirm(void *ctx, const char *name, const char *prompt, const char *yes,
                      const char *no, int *chose_yes) {
    ui_log *l = ctx;
    snprintf(l->seen + strlen(l->seen), sizeof l->seen - strlen(l->seen), "confirm[%s]:%s/%s/%s|",
             name, prompt, yes, no ? no : "(none)");
    *chose_yes = l->confirm_yes;
    return DM_OK;
}

static dm_plugin_host ui_host(ui_log *l) {
    memset(l, 0, sizeof *l);
    dm_plugin_host h = {ui_message, ui_request, ui_confirm, l, 0};
    return h;
}

/* ------------------------------------------------------------ codec */

static void test_encode(void **state) {
    (void)state;
    uint8_t *out = NULL;
    size_t n = 0;
    const char *args[] = {"a", "b"};
    assert_int_equal(dm_plugin_msg_encode("cmd", args, 2, NULL, 0, &out, &n), DM_OK);
    assert_int_equal(n, strlen("-> cmd a b\n\n"));
    assert_memory_equal(out, "-> cmd a b\n\n", n);
    free(out);
    assert_int_equal(dm_plugin_msg_encode("wrap-file-key", NULL, 0, file_key, 16, &out, &n), DM_OK);
    const char *want = "-> wrap-file-key\n" FILE_KEY_B64 "\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    free(out);
    /* 48 bytes fill one 64-column line exactly: an empty line must follow. */
    uint8_t zeros[48] = {0};
    assert_int_equal(dm_plugin_msg_encode("x", NULL, 0, zeros, 48, &out, &n), DM_OK);
    assert_int_equal(n, strlen("-> x\n") + 65 + 1);
    assert_memory_equal(out + 5 + 64, "\n\n", 2);
    free(out);
    const char *bad[] = {"has space"};
    assert_int_equal(dm_plugin_msg_encode("x", bad, 1, NULL, 0, &out, &n), DM_ERR_USAGE);
    assert_int_equal(dm_plugin_msg_encode("", NULL, 0, NULL, 0, &out, &n), DM_ERR_USAGE);
}

static int parse(const char *text, dm_plugin_msg *m, size_t *used) {
    return dm_plugin_msg_parse((const uint8_t *)text, strlen(text), m, used);
}

static void test_parse(void **state) {
    (void)state;
    dm_plugin_msg m;
    size_t used = 0;
    assert_int_equal(parse("-> done\n\nrest", &m, &used), DM_OK);
    assert_int_equal(used, 9);
    assert_int_equal(m.nargs, 1);
    assert_string_equal(m.args[0], "done");
    assert_int_equal(m.body_len, 0);
    dm_plugin_msg_free(&m);

    assert_int_equal(parse("-> file-key 0\n" FILE_KEY_B64 "\n", &m, &used), DM_OK);
    assert_int_equal(m.nargs, 2);
    assert_string_equal(m.args[1], "0");
    assert_int_equal(m.body_len, 16);
    assert_memory_equal(m.body, file_key, 16);
    dm_plugin_msg_free(&m);

    /* A two-line body: 48 bytes and then 3. */
    char two[256];
    snprintf(two, sizeof two, "-> b\n%s\nAAAA\n",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(parse(two, &m, &used), DM_OK);
    assert_int_equal(m.body_len, 51);
    assert_int_equal(used, strlen(two));
    dm_plugin_msg_free(&m);

    /* Not yet complete. */
    const char *partial[] = {"", "-", "->", "-> msg", "-> msg\n", "-> msg\nAAAA", two + 0};
    for (size_t i = 0; i + 1 < sizeof partial / sizeof *partial; i++)
        assert_int_equal(parse(partial[i], &m, &used), DM_PLUGIN_NEED_MORE);
    two[strlen(two) - 5] = '\0'; /* the full line, not the short one */
    assert_int_equal(parse(two, &m, &used), DM_PLUGIN_NEED_MORE);

    /* Never a message. */
    static const struct {
        const char *text, *detail;
    } bad[] = {
        {"garbage\n", "a message does not start with \"-> \""},
        {"gar", "a message does not start with \"-> \""},
        {"->done\n\n", "a message does not start with \"-> \""},
        {"-> \n\n", "a message has no command"},
        {"-> a  b\n\n", "a message has an empty argument"},
        {"-> a \n\n", "a message has an empty argument"},
        {"->  a\n\n", "a message has an empty argument"},
        {"-> a\tb\n\n", "a message has the invalid character 0x09"},
        {"-> a\r\n\n", "a message has the invalid character 0x0d"},
        {"-> a\nAB\n", "a message body is not canonical unpadded base64"},
        {"-> a\nAA==\n", "a message body is not canonical unpadded base64"},
        {"-> a\nAAAA\r\n", "a message body is not canonical unpadded base64"},
        {"-> a\n"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\n",
         "a message body line is longer than 64 columns"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parse(bad[i].text, &m, &used), DM_ERR_PLUGIN);
        assert_string_equal(dm_err_detail(), bad[i].detail);
    }

    /* Bounds: a line with no end, and a body with no end. */
    size_t big = DM_PLUGIN_MAX_LINE + 10;
    char *line = malloc(big + 1);
    memset(line, 'a', big);
    memcpy(line, "-> ", 3);
    line[big] = '\0';
    assert_int_equal(parse(line, &m, &used), DM_ERR_PLUGIN);
    assert_string_equal(dm_err_detail(), "a message line is longer than 65536 bytes");
    free(line);
    size_t lines = DM_PLUGIN_MAX_BODY / 48 + 2;
    char *body = malloc(5 + lines * 65 + 1);
    memcpy(body, "-> a\n", 5);
    for (size_t i = 0; i < lines; i++) {
        memset(body + 5 + i * 65, 'A', 64);
        body[5 + i * 65 + 64] = '\n';
    }
    body[5 + lines * 65] = '\0';
    assert_int_equal(parse(body, &m, &used), DM_ERR_PLUGIN);
    assert_string_equal(dm_err_detail(), "a message body is larger than 1048576 bytes");
    free(body);
}

/* ------------------------------------------------------------ recipient-v1 */

#define WRAP_PHASE1                                                                                \
    "-> add-recipient " AGE_TEST_RECIPIENT "\n\n-> wrap-file-key\n" FILE_KEY_B64 "\n-> done\n\n"

static void test_wrap(void **state) {
    (void)state;
    static const char script[] = "-> recipient-stanza 0 X25519 abc def\n" FILE_KEY_B64 "\n"
                                 "-> recipient-stanza 0 other\n\n"
                                 "-> done\n\n";
    for (size_t chunk = 0; chunk < 8; chunk += 7) {
        fake f;
        dm_plugin_transport t = fake_transport(&f, script, chunk);
        dm_stanza_list out = {0};
        assert_int_equal(dm_plugin_wrap_session(&t, NULL, "test", "add-recipient",
                                                AGE_TEST_RECIPIENT, file_key, &out),
                         DM_OK);
        assert_string_equal(f.sent, WRAP_PHASE1 "-> ok\n\n-> ok\n\n");
        assert_int_equal(out.len, 2);
        assert_string_equal(out.items[0].type, "X25519");
        assert_int_equal(out.items[0].nargs, 2);
        assert_string_equal(out.items[0].args[0], "abc");
        assert_string_equal(out.items[0].args[1], "def");
        assert_int_equal(out.items[0].body_len, 16);
        assert_memory_equal(out.items[0].body, file_key, 16);
        assert_string_equal(out.items[1].type, "other");
        assert_int_equal(out.items[1].nargs, 0);
        assert_int_equal(out.items[1].body_len, 0);
        dm_stanza_list_clear(&out);
    }
}

/* Runs recipient-v1 over script; returns the error and leaves the sent bytes in f. */
static int wrap_script(fake *f, const char *script, const dm_plugin_host *host,
                       dm_stanza_list *out) {
    dm_plugin_transport t = fake_transport(f, script, 3);
    return dm_plugin_wrap_session(&t, host, "test", "add-recipient", AGE_TEST_RECIPIENT, file_key,
                                  out);
}

static void test_wrap_ui(void **state) {
    (void)state;
    ui_log l;
    dm_plugin_host host = ui_host(&l);
    l.value = "1234";
    l.confirm_yes = 0;
    /* "hi" ESC "[31m": the escape must not reach a terminal. */
    static const char script[] = "-> msg\naGkbWzMxbQ\n"
                                 "-> request-secret\nUElOOg\n"
                                 "-> request-public\nTGFiZWw6\n"
                                 "-> confirm WWVz Tm8\nU3VyZT8\n"
                                 "-> confirm T0s\nR28\n"
                                 "-> grease-cmd x y\nAAAA\n"
                                 "-> recipient-stanza 0 X25519\n\n"
                                 "-> done\n\n";
    fake f;
    dm_stanza_list out = {0};
    assert_int_equal(wrap_script(&f, script, &host, &out), DM_OK);
    assert_string_equal(l.seen, "msg[test]:hi?[31m|secret[test]:PIN:|public[test]:Label:|"
                                "confirm[test]:Sure?/Yes/No|confirm[test]:Go/OK/(none)|");
    assert_string_equal(f.sent, WRAP_PHASE1 "-> ok\n\n"
                                            "-> ok\nMTIzNA\n"
                                            "-> ok\nMTIzNA\n"
                                            "-> ok no\n\n"
                                            "-> ok no\n\n"
                                            "-> unsupported\n\n"
                                            "-> ok\n\n");
    assert_int_equal(out.len, 1);
    dm_stanza_list_clear(&out);

    /* No host: every interaction is answered "fail". */
    assert_int_equal(wrap_script(&f, script, NULL, &out), DM_OK);
    assert_string_equal(f.sent, WRAP_PHASE1 "-> fail\n\n-> fail\n\n-> fail\n\n-> fail\n\n"
                                            "-> fail\n\n-> unsupported\n\n-> ok\n\n");
    dm_stanza_list_clear(&out);
}

static void test_wrap_failures(void **state) {
    (void)state;
    static const struct {
        const char *script, *detail;
    } cases[] = {
        {"-> recipient-stanza 0 X25519\n\n-> error internal\nbm9wZQ\n", "age-plugin-test: nope"},
        {"-> error recipient 0\n\n", "age-plugin-test: (an error without a message)"},
        {"-> done\n\n", "age-plugin-test returned no recipient stanza"},
        {"", "age-plugin-test stopped before the end of the protocol"},
        {"-> recipient-stanza 0 X25519\n\n-> do",
         "age-plugin-test stopped before the end of the protocol (in the middle of a message)"},
        {"-> recipient-stanza 1 X25519\n\n",
         "age-plugin-test broke the protocol: recipient-stanza wants file index 0 and a stanza "
         "type"},
        {"-> recipient-stanza 00 X25519\n\n",
         "age-plugin-test broke the protocol: recipient-stanza wants file index 0 and a stanza "
         "type"},
        {"-> recipient-stanza 0\n\n",
         "age-plugin-test broke the protocol: recipient-stanza wants file index 0 and a stanza "
         "type"},
        {"-> recipient-stanza 0 X\n\n-> done x\n\n",
         "age-plugin-test broke the protocol: done has arguments or data"},
        {"-> msg extra\n\n", "age-plugin-test broke the protocol: msg has arguments"},
        {"-> confirm\n\n", "age-plugin-test broke the protocol: confirm wants one or two choices"},
        {"-> confirm Y= \n\n",
         "age-plugin-test broke the protocol: a message has an empty argument"},
        {"-> confirm Y\n\n",
         "age-plugin-test broke the protocol: a confirm choice is not canonical base64"},
        {"-> request-secret x\n\n",
         "age-plugin-test broke the protocol: request-secret has arguments"},
        {"hello\n", "age-plugin-test broke the protocol: a message does not start with \"-> \""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fake f;
        dm_stanza_list out = {0};
        assert_int_equal(dm_stanza_list_add(&out, "kept", NULL, 0, NULL, 0), DM_OK);
        int err = wrap_script(&f, cases[i].script, NULL, &out);
        if (err != DM_ERR_PLUGIN || strcmp(dm_err_detail(), cases[i].detail) != 0)
            fail_msg("case %zu: err %d, detail \"%s\"", i, err, dm_err_detail());
        /* Nothing the plugin sent is kept after a failure. */
        assert_int_equal(out.len, 1);
        dm_stanza_list_clear(&out);
    }
    /* An error is acknowledged before the session ends. */
    fake f;
    dm_stanza_list out = {0};
    assert_int_equal(wrap_script(&f, "-> error internal\nbm9wZQ\n", NULL, &out), DM_ERR_PLUGIN);
    assert_string_equal(f.sent, WRAP_PHASE1 "-> ok\n\n");
}

/* ------------------------------------------------------------ identity-v1 */

static void two_stanzas(dm_stanza_list *l) {
    memset(l, 0, sizeof *l);
    const char *args[] = {"arg1", "arg2"};
    assert_int_equal(dm_stanza_list_add(l, "X25519", args, 2, file_key, 16), DM_OK);
    assert_int_equal(dm_stanza_list_add(l, "other", NULL, 0, NULL, 0), DM_OK);
}

#define UNWRAP_PHASE1                                                                              \
    "-> add-identity " AGE_TEST_IDENTITY "\n\n"                                                    \
    "-> recipient-stanza 0 X25519 arg1 arg2\n" FILE_KEY_B64 "\n"                                   \
    "-> recipient-stanza 0 other\n\n"                                                              \
    "-> done\n\n"

static int unwrap_script(fake *f, const char *script, size_t chunk, uint8_t key[16]) {
    dm_stanza_list l;
    two_stanzas(&l);
    dm_plugin_transport t = fake_transport(f, script, chunk);
    int err = dm_plugin_unwrap_session(&t, NULL, "test", AGE_TEST_IDENTITY, &l, key);
    dm_stanza_list_clear(&l);
    return err;
}

static void test_unwrap(void **state) {
    (void)state;
    for (size_t chunk = 0; chunk < 3; chunk++) {
        fake f;
        uint8_t key[16] = {0};
        assert_int_equal(
            unwrap_script(&f, "-> msg\n\n-> file-key 0\n" FILE_KEY_B64 "\n-> done\n\n", chunk, key),
            DM_OK);
        assert_memory_equal(key, file_key, 16);
        assert_string_equal(f.sent, UNWRAP_PHASE1 "-> fail\n\n-> ok\n\n");
    }
    fake f;
    uint8_t key[16] = {0};
    assert_int_equal(unwrap_script(&f, "-> done\n\n", 0, key), DM_ERR_NO_MATCH);
    assert_string_equal(f.sent, UNWRAP_PHASE1);

    static const struct {
        const char *script, *detail;
    } cases[] = {
        {"-> file-key 0\nWUVMTE9XIFNVQk1BUklO\n-> done\n\n",
         "age-plugin-test broke the protocol: a file key is not 16 bytes"},
        {"-> file-key 1\n" FILE_KEY_B64 "\n-> done\n\n",
         "age-plugin-test broke the protocol: file-key wants file index 0"},
        {"-> file-key\n" FILE_KEY_B64 "\n-> done\n\n",
         "age-plugin-test broke the protocol: file-key wants file index 0"},
        {"-> file-key 0\n" FILE_KEY_B64 "\n-> file-key 0\n" FILE_KEY_B64 "\n",
         "age-plugin-test broke the protocol: two file keys for one file"},
        {"-> error stanza 0 0\nYmFkIHN0YW56YQ\n", "age-plugin-test: bad stanza"},
        {"-> file-key 0\n" FILE_KEY_B64 "\n",
         "age-plugin-test stopped before the end of the protocol"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(key, 0, sizeof key);
        int err = unwrap_script(&f, cases[i].script, 1, key);
        if (err != DM_ERR_PLUGIN || strcmp(dm_err_detail(), cases[i].detail) != 0)
            fail_msg("case %zu: err %d, detail \"%s\"", i, err, dm_err_detail());
        /* No file key escapes a failed session. */
        static const uint8_t zero[16];
        assert_memory_equal(key, zero, 16);
    }
}

/* A plugin that never stops talking is cut off. */
typedef struct chatty {
    size_t said, answers;
} chatty;

static int chatty_send(void *ctx, const uint8_t *buf, size_t n) {
    chatty *c = ctx;
    if (n == 9 && memcmp(buf, "-> fail\n\n", 9) == 0)
        c->answers++;
    return DM_OK;
}

static int chatty_recv(void *ctx, uint8_t *buf, size_t n, int64_t deadline, size_t *got) {
    chatty *c = ctx;
    (void)deadline;
    assert_true(n >= 8);
    memcpy(buf, "-> msg\n\n", 8);
    c->said++;
    *got = 8;
    return DM_OK;
}

static void test_too_many_messages(void **state) {
    (void)state;
    chatty c = {0, 0};
    dm_plugin_transport t = {chatty_send, chatty_recv, &c};
    dm_stanza_list out = {0};
    assert_int_equal(dm_plugin_wrap_session(&t, NULL, "test", "add-recipient", "x", file_key, &out),
                     DM_ERR_PLUGIN);
    assert_string_equal(dm_err_detail(), "age-plugin-test sent more than 4096 messages");
    assert_int_equal(c.answers, DM_PLUGIN_MAX_MESSAGES);
    assert_int_equal(out.len, 0);
}

/* ------------------------------------------------------------ key strings */

static void test_keys(void **state) {
    (void)state;
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    assert_true(dm_is_plugin_recipient(AGE_TEST_RECIPIENT));
    assert_false(
        dm_is_plugin_recipient("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"));
    assert_true(dm_is_plugin_identity(AGE_TEST_IDENTITY));
    assert_false(dm_is_plugin_identity("AGE-SECRET-KEY-1"));

    assert_int_equal(dm_plugin_recipient_parse(AGE_TEST_RECIPIENT, NULL, &r), DM_OK);
    assert_string_equal(dm_plugin_recipient_name(r), "test");
    assert_string_equal(r->type, "plugin");
    dm_recipient_free(r);
    assert_int_equal(dm_recipient_parse(TEST_RECIPIENT_0_31, &r), DM_OK);
    assert_string_equal(dm_plugin_recipient_name(r), "test");
    dm_recipient_free(r);
    assert_int_equal(
        dm_recipient_parse("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", &r),
        DM_OK);
    assert_string_equal(r->type, "X25519");
    assert_null(dm_plugin_recipient_name(r));
    dm_recipient_free(r);

    assert_int_equal(dm_plugin_identity_parse(AGE_TEST_IDENTITY, NULL, &id), DM_OK);
    assert_string_equal(dm_plugin_identity_name(id), "test");
    assert_int_equal(dm_plugin_identity_to_recipient(id, &r), DM_OK);
    assert_string_equal(dm_plugin_recipient_name(r), "test");
    dm_recipient_free(r);
    dm_identity_free(id);

    char s[128];
    assert_int_equal(dm_plugin_default_identity_string("doormattest", s, sizeof s), DM_OK);
    assert_string_equal(s, DEFAULT_DOORMATTEST);
    assert_int_equal(dm_plugin_default_identity_string("DoormatTest", s, sizeof s), DM_OK);
    assert_string_equal(s, DEFAULT_DOORMATTEST);
    assert_int_equal(dm_plugin_default_identity_string("test", s, sizeof s), DM_OK);
    assert_string_equal(s, DEFAULT_TEST);
    assert_int_equal(dm_plugin_identity_default("Test", NULL, &id), DM_OK);
    assert_string_equal(dm_plugin_identity_name(id), "test");
    dm_identity_free(id);
    assert_int_equal(dm_identity_parse(DEFAULT_TEST, &id), DM_OK);
    assert_string_equal(dm_plugin_identity_name(id), "test");
    dm_identity_free(id);

    /* Names: NAME = 1*(ALPHA / DIGIT / "-" / "_" / "." / "+"). */
    assert_int_equal(dm_plugin_default_identity_string("a-b_c.d+e9", s, sizeof s), DM_OK);
    static const char *const bad_names[] = {"", "a/b", "a b", "a:b", "é"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        assert_int_equal(dm_plugin_identity_default(bad_names[i], NULL, &id), DM_ERR_USAGE);
    char long_name[DM_PLUGIN_MAX_NAME + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(dm_plugin_identity_default(long_name, NULL, &id), DM_ERR_USAGE);

    /* Strings that are not plugin keys. */
    char enc[256];
    assert_int_equal(dm_bech32_encode("age1te/st", (const uint8_t *)"x", 1, enc, sizeof enc),
                     DM_OK);
    assert_int_equal(dm_plugin_recipient_parse(enc, NULL, &r), DM_ERR_USAGE);
    assert_int_equal(dm_bech32_encode("age1", (const uint8_t *)"x", 1, enc, sizeof enc), DM_OK);
    assert_int_equal(dm_plugin_recipient_parse(enc, NULL, &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "the plugin name is empty");
    assert_int_equal(dm_bech32_encode("AGE-PLUGIN-TEST", (const uint8_t *)"x", 1, enc, sizeof enc),
                     DM_OK);
    assert_int_equal(dm_plugin_identity_parse(enc, NULL, &id), DM_ERR_USAGE);
    assert_int_equal(dm_plugin_recipient_parse("age1test10qdmzv9p", NULL, &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "plugin recipient is not valid Bech32");
    assert_int_equal(dm_plugin_identity_parse("age-plugin-test-10q32nlxm", NULL, &id),
                     DM_ERR_USAGE);
    assert_int_equal(dm_plugin_identity_parse("AGE-PLUGIN-TEST-10Q32NLXX", NULL, &id),
                     DM_ERR_USAGE);

    dm_identity *x = NULL;
    assert_int_equal(
        dm_x25519_identity_parse(
            "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX", &x),
        DM_OK);
    assert_int_equal(dm_plugin_identity_to_recipient(x, &r), DM_ERR_USAGE);
    assert_null(dm_plugin_identity_name(x));
    dm_identity_free(x);

    /* Key files mix plugin and X25519 lines. */
    static const char ids_text[] =
        "# plugin\n" AGE_TEST_IDENTITY "\n\n"
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n";
    dm_identity **ids = NULL;
    size_t n = 0, line = 0;
    assert_int_equal(dm_identity_file_parse(ids_text, strlen(ids_text), &ids, &n, &line), DM_OK);
    assert_int_equal(n, 2);
    assert_string_equal(dm_plugin_identity_name(ids[0]), "test");
    assert_null(dm_plugin_identity_name(ids[1]));
    ui_log l;
    dm_plugin_host host = ui_host(&l);
    dm_plugin_identities_set_host(ids, n, &host); /* leaves the X25519 one alone */
    for (size_t i = 0; i < n; i++)
        dm_identity_free(ids[i]);
    free(ids);
    static const char rcpts_text[] =
        AGE_TEST_RECIPIENT "\nage1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n";
    dm_recipient **rs = NULL;
    assert_int_equal(dm_recipient_file_parse(rcpts_text, strlen(rcpts_text), &rs, &n, &line),
                     DM_OK);
    assert_int_equal(n, 2);
    assert_string_equal(dm_plugin_recipient_name(rs[0]), "test");
    dm_plugin_recipients_set_host(rs, n, &host);
    for (size_t i = 0; i < n; i++)
        dm_recipient_free(rs[i]);
    free(rs);
    static const char bad_ids[] = "AGE-PLUGIN-TEST-10Q32NLXX\n";
    assert_int_equal(dm_identity_file_parse(bad_ids, strlen(bad_ids), &ids, &n, &line),
                     DM_ERR_USAGE);
    assert_int_equal(line, 1);

    assert_int_equal(dm_exit_code(DM_ERR_PLUGIN), 1);
    assert_string_equal(dm_strerror(DM_ERR_PLUGIN), "plugin failed");
}

/* ------------------------------------------------------------ real processes */

static char plugin_dir[256];
static char *saved_path;

static void write_plugin(const char *name, const char *body) {
    char path[512];
    snprintf(path, sizeof path, "%s/age-plugin-%s", plugin_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* After every session: no child of ours left, no descriptor, no SIGPIPE. */
static void assert_clean(int fds_before) {
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_int_equal(count_fds(), fds_before);
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGPIPE));
}

/* Reads the client's phase 1 (up to "-> done" and its empty body line). */
#define READ_PHASE1                                                                                \
    "while IFS= read -r line; do [ \"$line\" = '-> done' ] && break; done\nread -r x\n"

static int proc_setup(void **state) {
    (void)state;
    snprintf(plugin_dir, sizeof plugin_dir, "/tmp/doormat-test-plugin.XXXXXX");
    assert_non_null(mkdtemp(plugin_dir));
    saved_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char path[1024];
    snprintf(path, sizeof path, "%s:%s", plugin_dir, saved_path);
    setenv("PATH", path, 1);
    write_plugin("good", READ_PHASE1 "printf -- '-> recipient-stanza 0 X25519 abc\\nAAAA\\n'\n"
                                     "read -r ok; read -r x\nprintf -- '-> done\\n\\n'\n");
    write_plugin("crash", "echo 'first line' >&2\necho 'oops: no key' >&2\nexit 7\n");
    write_plugin("hang", "exec sleep 30\n");
    write_plugin("stubborn", "trap '' TERM\n" READ_PHASE1 "sleep 3\n");
    write_plugin("deaf", "exit 0\n");
    write_plugin("noisy", "i=0\nwhile [ $i -lt 300 ]; do printf '%01000d\\n' 0 >&2; i=$((i+1)); "
                          "done\n" READ_PHASE1
                          "printf -- '-> recipient-stanza 0 X25519\\n\\n'\nread -r ok; read -r x\n"
                          "printf -- '-> done\\n\\n'\n");
    return dm_init() == DM_OK ? 0 : -1;
}

static int proc_teardown(void **state) {
    (void)state;
    setenv("PATH", saved_path, 1);
    free(saved_path);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", plugin_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int wrap_with(const char *name, int timeout_ms, dm_stanza_list *out) {
    char enc[128];
    char hrp[80];
    snprintf(hrp, sizeof hrp, "age1%s", name);
    assert_int_equal(dm_bech32_encode(hrp, (const uint8_t *)"k", 1, enc, sizeof enc), DM_OK);
    dm_plugin_host host = {NULL, NULL, NULL, NULL, timeout_ms};
    dm_recipient *r = NULL;
    assert_int_equal(dm_plugin_recipient_parse(enc, &host, &r), DM_OK);
    int err = r->wrap(r, file_key, out);
    dm_recipient_free(r);
    return err;
}

/* A plugin recipient's labels follow the stanzas it gave: "postquantum" when
 * every one is of a post-quantum type, none otherwise (or with none). */
static void test_labels(void **state) {
    (void)state;
    char enc[128];
    assert_int_equal(dm_bech32_encode("age1good", (const uint8_t *)"k", 1, enc, sizeof enc), DM_OK);
    dm_recipient *r = NULL;
    assert_int_equal(dm_plugin_recipient_parse(enc, NULL, &r), DM_OK);
    assert_non_null(r->labels);
    assert_int_equal(r->flags, 0);
    dm_stanza pq = {.type = "mlkem768x25519"}, tag = {.type = "mlkem768p256tag"},
              x = {.type = "X25519"};
    const char *out[DM_MAX_LABELS];
    dm_stanza both_pq[2] = {pq, tag}, mixed[2] = {pq, x};
    assert_int_equal(r->labels(r, both_pq, 2, out), 1);
    assert_string_equal(out[0], DM_LABEL_PQ);
    assert_int_equal(r->labels(r, mixed, 2, out), 0);
    assert_int_equal(r->labels(r, &x, 1, out), 0);
    assert_int_equal(r->labels(r, NULL, 0, out), 0);
    dm_recipient_free(r);
}

static void test_proc(void **state) {
    (void)state;
    int fds = count_fds();
    dm_stanza_list out = {0};
    assert_int_equal(wrap_with("good", 0, &out), DM_OK);
    assert_int_equal(out.len, 1);
    assert_string_equal(out.items[0].type, "X25519");
    assert_string_equal(out.items[0].args[0], "abc");
    assert_int_equal(out.items[0].body_len, 3);
    dm_stanza_list_clear(&out);
    assert_clean(fds);

    /* 300 KB on standard error: drained while waiting, never a deadlock. */
    assert_int_equal(wrap_with("noisy", 10000, &out), DM_OK);
    assert_int_equal(out.len, 1);
    dm_stanza_list_clear(&out);
    assert_clean(fds);

    assert_int_equal(wrap_with("crash", 0, &out), DM_ERR_PLUGIN);
    assert_string_equal(dm_err_detail(), "age-plugin-crash exited with status 7: oops: no key");
    assert_int_equal(out.len, 0);
    assert_clean(fds);

    int64_t start = dm_plugin_now_ms();
    assert_int_equal(wrap_with("hang", 300, &out), DM_ERR_PLUGIN);
    assert_string_equal(dm_err_detail(), "age-plugin-hang gave no answer within 300 ms");
    assert_true(dm_plugin_now_ms() - start < 5000);
    assert_clean(fds);

    /* Ignores SIGTERM: killed after a short grace. */
    start = dm_plugin_now_ms();
    assert_int_equal(wrap_with("stubborn", 200, &out), DM_ERR_PLUGIN);
    assert_string_equal(dm_err_detail(), "age-plugin-stubborn gave no answer within 200 ms");
    assert_true(dm_plugin_now_ms() - start < 2500);
    assert_clean(fds);

    /* Exits without reading: a large phase 1 meets a closed pipe, which is
     * an error for us and not a SIGPIPE. */
    dm_stanza_list big = {0};
    uint8_t *body = calloc(1, 200000);
    assert_int_equal(dm_stanza_list_add(&big, "X25519", NULL, 0, body, 200000), DM_OK);
    free(body);
    dm_identity *id = NULL;
    assert_int_equal(dm_plugin_identity_default("deaf", NULL, &id), DM_OK);
    uint8_t key[16];
    int err = id->unwrap(id, &big, key);
    assert_int_equal(err, DM_ERR_PLUGIN);
    assert_true(strcmp(dm_err_detail(), "age-plugin-deaf stopped reading its input") == 0 ||
                strcmp(dm_err_detail(), "age-plugin-deaf stopped before the end of the protocol") ==
                    0);
    dm_identity_free(id);
    dm_stanza_list_clear(&big);
    assert_clean(fds);

    assert_int_equal(wrap_with("missing", 0, &out), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "age-plugin-missing not found in PATH (you might want to "
                                         "install the \"missing\" plugin: see "
                                         "https://age-encryption.org/awesome#plugins)");
    assert_clean(fds);
}

static void test_find(void **state) {
    (void)state;
    char *path = NULL;
    assert_int_equal(dm_plugin_find("good", &path), DM_OK);
    char want[512];
    snprintf(want, sizeof want, "%s/age-plugin-good", plugin_dir);
    assert_string_equal(path, want);
    free(path);
    /* Relative entries are never searched, nor is a file that can't run. */
    char rel[1024];
    assert_int_equal(chdir(plugin_dir), 0);
    setenv("PATH", ".:age-plugin-dir:", 1);
    assert_int_equal(dm_plugin_find("good", &path), DM_ERR_USAGE);
    snprintf(rel, sizeof rel, "%s", plugin_dir);
    setenv("PATH", rel, 1);
    write_plugin("noexec", "exit 0\n");
    snprintf(want, sizeof want, "%s/age-plugin-noexec", plugin_dir);
    assert_int_equal(chmod(want, 0644), 0);
    assert_int_equal(dm_plugin_find("noexec", &path), DM_ERR_USAGE);
    assert_int_equal(chdir("/"), 0);
    snprintf(rel, sizeof rel, "%s:%s", plugin_dir, saved_path);
    setenv("PATH", rel, 1);
}

int main(void) {
    const struct CMUnitTest codec[] = {
        cmocka_unit_test(test_encode),        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_wrap),          cmocka_unit_test(test_wrap_ui),
        cmocka_unit_test(test_wrap_failures), cmocka_unit_test(test_too_many_messages),
        cmocka_unit_test(test_unwrap),        cmocka_unit_test(test_keys),
    };
    const struct CMUnitTest procs[] = {
        cmocka_unit_test(test_proc),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_find),
    };
    int failed = cmocka_run_group_tests_name("plugin protocol", codec, setup, NULL);
    failed += cmocka_run_group_tests_name("plugin processes", procs, proc_setup, proc_teardown);
    return failed;
}
