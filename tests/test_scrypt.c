/* scrypt.c: passphrase wrap/unwrap, the testkit's known stanza, canonical
 * work factors and their limit, and the rule that scrypt stands alone
 * (enforced by dm_encrypt and dm_decrypt). Work factors are kept low (2^10)
 * for speed, except where a test is about the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/vault.h"
#include "unit_main.h"

/* The testkit's scrypt vector: passphrase "password", work factor 10. */
#define TK_SALT "rF0/NwblUHHTpgQgRpe5CQ"
#define TK_BODY "gUjEymFKMVXQEKdMMHL24oYexjE3TIC0O0zGSqJ2aUY"
#define TK_FILE_KEY "YELLOW SUBMARINE"
#define LOW 10

static void b64(const char *s, uint8_t *out, size_t want) {
    size_t n = 0;
    assert_int_equal(dm_b64_decode(s, strlen(s), out, want, &n), DM_OK);
    assert_int_equal(n, want);
}

static int unwrap_with(const char *pass, int max_log_n, const dm_stanza_list *l, uint8_t key[16]) {
    dm_identity *id = NULL;
    assert_int_equal(dm_scrypt_identity_new(pass, strlen(pass), max_log_n, &id), DM_OK);
    int err = id->unwrap(id, l, key);
    dm_identity_free(id);
    return err;
}

static void known_stanza(dm_stanza_list *l, const char *salt, const char *log_n, size_t body_len) {
    uint8_t body[33] = {0};
    b64(TK_BODY, body, 32);
    const char *args[2] = {salt, log_n};
    memset(l, 0, sizeof *l);
    assert_int_equal(dm_stanza_list_add(l, "scrypt", args, 2, body, body_len), DM_OK);
}

static void test_round_trip(void **state) {
    (void)state;
    dm_recipient *r = NULL;
    const char *pass = "correct horse battery staple";
    assert_int_equal(dm_scrypt_recipient_new(pass, strlen(pass), LOW, &r), DM_OK);
    assert_string_equal(r->type, "scrypt");
    assert_int_equal(r->flags, DM_RCPT_ALONE);

    uint8_t key[16], got[16];
    randombytes_buf(key, sizeof key);
    dm_stanza_list l = {0};
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    assert_int_equal(l.len, 1);
    assert_string_equal(l.items[0].type, "scrypt");
    assert_int_equal(l.items[0].nargs, 2);
    assert_int_equal(strlen(l.items[0].args[0]), 22); /* 16 bytes */
    assert_string_equal(l.items[0].args[1], "10");
    assert_int_equal(l.items[0].body_len, 32);

    assert_int_equal(unwrap_with(pass, 0, &l, got), DM_OK);
    assert_memory_equal(got, key, 16);
    assert_int_equal(unwrap_with("Correct horse battery staple", 0, &l, got), DM_ERR_NO_MATCH);
    assert_int_equal(unwrap_with("", 0, &l, got), DM_ERR_NO_MATCH);

    /* A fresh salt every time. */
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    assert_string_not_equal(l.items[0].args[0], l.items[1].args[0]);
    dm_stanza_list_clear(&l);
    dm_recipient_free(r);

    /* Passphrases are bytes: embedded NULs count. */
    assert_int_equal(dm_scrypt_recipient_new("a\0b", 3, LOW, &r), DM_OK);
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    dm_identity *id = NULL;
    assert_int_equal(dm_scrypt_identity_new("a\0c", 3, 0, &id), DM_OK);
    assert_int_equal(id->unwrap(id, &l, got), DM_ERR_NO_MATCH);
    dm_identity_free(id);
    assert_int_equal(dm_scrypt_identity_new("a\0b", 3, 0, &id), DM_OK);
    assert_int_equal(id->unwrap(id, &l, got), DM_OK);
    assert_memory_equal(got, key, 16);
    dm_identity_free(id);
    dm_stanza_list_clear(&l);
    dm_recipient_free(r);
}

static void test_default_work_factor(void **state) {
    (void)state;
    dm_recipient *r = NULL;
    assert_int_equal(dm_scrypt_recipient_new("pw", 2, 0, &r), DM_OK);
    uint8_t key[16] = {1}, got[16];
    dm_stanza_list l = {0};
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    assert_string_equal(l.items[0].args[1], "18");
    /* An identity limited below the file's work factor refuses it outright. */
    assert_int_equal(unwrap_with("pw", 17, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);
    dm_recipient_free(r);

    assert_int_equal(dm_scrypt_recipient_new("pw", 2, -1, &r), DM_ERR_USAGE);
    assert_int_equal(dm_scrypt_recipient_new("pw", 2, 64, &r), DM_ERR_USAGE);
    dm_identity *id = NULL;
    assert_int_equal(dm_scrypt_identity_new("pw", 2, -3, &id), DM_ERR_USAGE);
}

static void test_known_stanza(void **state) {
    (void)state;
    dm_stanza_list l;
    uint8_t got[16];
    known_stanza(&l, TK_SALT, "10", 32);
    assert_int_equal(unwrap_with("password", 0, &l, got), DM_OK);
    assert_memory_equal(got, TK_FILE_KEY, 16);
    assert_int_equal(unwrap_with("wrong", 0, &l, got), DM_ERR_NO_MATCH);
    /* Type names are case-sensitive: "Scrypt" is someone else's stanza. */
    free(l.items[0].type);
    l.items[0].type = strdup("Scrypt");
    assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_NO_MATCH);
    dm_stanza_list_clear(&l);

    /* The right passphrase with the wrong work factor is just no match. */
    known_stanza(&l, TK_SALT, "11", 32);
    assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_NO_MATCH);
    dm_stanza_list_clear(&l);
}

static void test_work_factor_syntax(void **state) {
    (void)state;
    /* Only ^[1-9][0-9]*$ within the limit; all of these are malformed headers. */
    static const char *bad[] = {
        "010", "+10",        "0x0a", "0xa", "10a",  "a10",
        "-10", "0",          "00",   "1e1", "10.0", "99999999999999999999999999",
        "23",  "4294967306", "012",
    };
    uint8_t got[16];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_stanza_list l;
        known_stanza(&l, TK_SALT, bad[i], 32);
        assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_HEADER);
        dm_stanza_list_clear(&l);
    }
    /* The limit is the identity's: 22 by default, lower on request. */
    dm_stanza_list l;
    known_stanza(&l, TK_SALT, "10", 32);
    assert_int_equal(unwrap_with("password", 9, &l, got), DM_ERR_HEADER);
    assert_int_equal(unwrap_with("password", 10, &l, got), DM_OK);
    dm_stanza_list_clear(&l);
}

static void test_malformed_stanzas(void **state) {
    (void)state;
    uint8_t body[32], got[16];
    b64(TK_BODY, body, 32);
    dm_stanza_list l;

    /* Argument count. */
    const char *one[1] = {TK_SALT};
    const char *three[3] = {TK_SALT, "10", "x"};
    memset(&l, 0, sizeof l);
    assert_int_equal(dm_stanza_list_add(&l, "scrypt", one, 1, body, 32), DM_OK);
    assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);
    memset(&l, 0, sizeof l);
    assert_int_equal(dm_stanza_list_add(&l, "scrypt", three, 3, body, 32), DM_OK);
    assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);

    /* Salt: 15 and 17 bytes, non-canonical, padded. */
    static const char *salts[] = {
        "rF0/NwblUHHTpgQgRpe5",
        "rF0/NwblUHHTpgQgRpe5CQA",
        "rF0/NwblUHHTpgQgRpe5CR",
        "rF0/NwblUHHTpgQgRpe5CQ==",
    };
    for (size_t i = 0; i < sizeof salts / sizeof salts[0]; i++) {
        known_stanza(&l, salts[i], "10", 32);
        assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_HEADER);
        dm_stanza_list_clear(&l);
    }

    /* Body length is checked before any key is derived. */
    known_stanza(&l, TK_SALT, "10", 33);
    assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);
    known_stanza(&l, TK_SALT, "10", 0);
    assert_int_equal(unwrap_with("password", 0, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);
}

/* ------------------------------------------ scrypt stands alone, end to end */

static int encrypt_to(dm_recipient *const *rs, size_t n, const dm_encrypt_opts *opts,
                      dm_membuf *out) {
    static const uint8_t msg[] = "attack at dawn";
    dm_membuf in = {.data = msg, .len = sizeof msg - 1};
    memset(out, 0, sizeof *out);
    return dm_encrypt(dm_source_mem(&in), dm_sink_mem(out), rs, n, opts);
}

static int beside_x25519(const dm_identity *self, const char *type) {
    (void)self;
    return strcmp(type, "X25519") == 0;
}

static size_t label_a(const dm_recipient *self, const dm_stanza *mine, size_t n,
                      const char *out[DM_MAX_LABELS]) {
    (void)self, (void)mine, (void)n;
    out[0] = "a";
    out[1] = DM_LABEL_PQ;
    return 2;
}

static size_t label_a_reversed(const dm_recipient *self, const dm_stanza *mine, size_t n,
                               const char *out[DM_MAX_LABELS]) {
    (void)self, (void)mine, (void)n;
    out[0] = DM_LABEL_PQ;
    out[1] = "a";
    return 2;
}

static size_t label_b(const dm_recipient *self, const dm_stanza *mine, size_t n,
                      const char *out[DM_MAX_LABELS]) {
    (void)self, (void)mine, (void)n;
    out[0] = "b";
    out[1] = DM_LABEL_PQ;
    return 2;
}

/* age's RecipientWithLabels rule: the same set of labels, in any order, or
 * the recipients are refused; a companion's labels count as any other's. */
static void test_labels(void **state) {
    (void)state;
    char *sec1 = NULL, *pub1 = NULL, *sec2 = NULL, *pub2 = NULL;
    dm_recipient *x1 = NULL, *x2 = NULL, *s = NULL;
    assert_int_equal(dm_x25519_keygen(&sec1, &pub1), DM_OK);
    assert_int_equal(dm_x25519_keygen(&sec2, &pub2), DM_OK);
    assert_int_equal(dm_x25519_recipient_parse(pub1, &x1), DM_OK);
    assert_int_equal(dm_x25519_recipient_parse(pub2, &x2), DM_OK);
    assert_int_equal(dm_scrypt_recipient_new("pw", 2, LOW, &s), DM_OK);
    dm_recipient *both[2] = {x1, x2};
    dm_membuf out;

    x1->labels = label_a;
    x2->labels = label_a_reversed;
    assert_int_equal(encrypt_to(both, 2, NULL, &out), DM_OK);
    free(out.buf);

    x2->labels = label_b;
    assert_int_equal(encrypt_to(both, 2, NULL, &out), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(),
                        "incompatible recipients: a X25519 recipient (labels \"a,postquantum\") "
                        "can't be mixed with a X25519 one (labels \"b,postquantum\")");
    assert_int_equal(out.len, 0);
    free(out.buf);

    x2->labels = NULL; /* no labels: a classical recipient beside a post-quantum one */
    assert_int_equal(encrypt_to(both, 2, NULL, &out), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "incompatible recipients: a post-quantum (X25519) "
                                         "recipient can't be mixed with a classical (X25519) one");
    free(out.buf);

    /* A companion beside a stand-alone recipient: no labels to match. */
    x1->flags = DM_RCPT_COMPANION;
    dm_recipient *with_s[2] = {s, x1};
    assert_int_equal(encrypt_to(with_s, 2, NULL, &out), DM_OK);
    free(out.buf);
    /* ...but beside another recipient, its labels must match. */
    dm_recipient *three[3] = {s, x1, x2};
    assert_int_equal(encrypt_to(three, 3, NULL, &out), DM_ERR_USAGE);
    free(out.buf);

    dm_recipient_free(x1);
    dm_recipient_free(x2);
    dm_recipient_free(s);
    dm_secret_free(sec1);
    dm_secret_free(sec2);
    free(pub1);
    free(pub2);
}

static void test_alone_on_encrypt(void **state) {
    (void)state;
    dm_recipient *s1 = NULL, *s2 = NULL, *x = NULL;
    char *sec = NULL, *pub = NULL;
    assert_int_equal(dm_scrypt_recipient_new("pw", 2, LOW, &s1), DM_OK);
    assert_int_equal(dm_scrypt_recipient_new("pw2", 3, LOW, &s2), DM_OK);
    assert_int_equal(dm_x25519_keygen(&sec, &pub), DM_OK);
    assert_int_equal(dm_x25519_recipient_parse(pub, &x), DM_OK);
    dm_membuf out;

    dm_recipient *mixed[2] = {x, s1};
    assert_int_equal(encrypt_to(mixed, 2, NULL, &out), DM_ERR_USAGE);
    assert_int_equal(out.len, 0); /* refused before anything was written */
    free(out.buf);
    dm_recipient *mixed2[2] = {s1, x};
    assert_int_equal(encrypt_to(mixed2, 2, NULL, &out), DM_ERR_USAGE);
    free(out.buf);
    dm_recipient *doubled[2] = {s1, s2};
    assert_int_equal(encrypt_to(doubled, 2, NULL, &out), DM_ERR_USAGE);
    free(out.buf);

    /* A companion recipient may stand beside it. */
    x->flags = DM_RCPT_COMPANION;
    assert_int_equal(encrypt_to(mixed, 2, NULL, &out), DM_OK);
    x->flags = 0;

    /* ...and then the decryptor must allow it too, or call it malformed. */
    dm_identity *sid = NULL;
    assert_int_equal(dm_scrypt_identity_new("pw", 2, 0, &sid), DM_OK);
    dm_membuf in = {.data = out.buf, .len = out.len};
    dm_membuf plain = {0};
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&plain), &sid, 1, NULL),
                     DM_ERR_HEADER);
    assert_int_equal(plain.len, 0);
    sid->beside = beside_x25519;
    in.pos = 0;
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&plain), &sid, 1, NULL), DM_OK);
    sid->beside = NULL;
    assert_int_equal(plain.len, 14);
    assert_memory_equal(plain.buf, "attack at dawn", 14);
    free(plain.buf);
    free(out.buf);

    /* Alone, it is fine. */
    assert_int_equal(encrypt_to(&s1, 1, NULL, &out), DM_OK);
    in.data = out.buf;
    in.len = out.len;
    in.pos = 0;
    memset(&plain, 0, sizeof plain);
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&plain), &sid, 1, NULL), DM_OK);
    assert_int_equal(plain.len, 14);
    free(plain.buf);
    free(out.buf);

    dm_identity_free(sid);
    dm_recipient_free(s1);
    dm_recipient_free(s2);
    dm_recipient_free(x);
    dm_secret_free(sec);
    free(pub);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_default_work_factor),
    cmocka_unit_test(test_known_stanza),
    cmocka_unit_test(test_work_factor_syntax),
    cmocka_unit_test(test_malformed_stanzas),
    cmocka_unit_test(test_alone_on_encrypt),
    cmocka_unit_test(test_labels),
};

DM_UNIT_MAIN("scrypt", tests, NULL, NULL)
