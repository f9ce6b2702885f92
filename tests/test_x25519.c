/* x25519.c: key encodings, wrap/unwrap round trips, the testkit's known
 * stanza, and every malformed-stanza rule of the spec. */
#include <pthread.h>
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

/* The testkit's x25519 vector: identity, its stanza, and the file key. */
#define TK_IDENTITY "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
#define TK_SHARE "TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc"
#define TK_BODY "hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE"
#define TK_FILE_KEY "YELLOW SUBMARINE"
/* The spec's example identity and its recipient (c2sp.org/age). */
#define SPEC_IDENTITY "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
#define SPEC_RECIPIENT "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
#define OTHER_IDENTITY "AGE-SECRET-KEY-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSSAGZ3KG"

static void b64(const char *s, uint8_t *out, size_t want) {
    size_t n = 0;
    assert_int_equal(dm_b64_decode(s, strlen(s), out, want, &n), DM_OK);
    assert_int_equal(n, want);
}

/* A one-stanza list with the given X25519 argument(s) and body. */
static void one_stanza(dm_stanza_list *l, const char *type, const char *const *args, size_t nargs,
                       const uint8_t *body, size_t body_len) {
    memset(l, 0, sizeof *l);
    assert_int_equal(dm_stanza_list_add(l, type, args, nargs, body, body_len), DM_OK);
}

static int unwrap_with(const char *identity, const dm_stanza_list *l, uint8_t key[16]) {
    dm_identity *id = NULL;
    assert_int_equal(dm_x25519_identity_parse(identity, &id), DM_OK);
    int err = id->unwrap(id, l, key);
    dm_identity_free(id);
    return err;
}

static void test_keygen_round_trip(void **state) {
    (void)state;
    char *secret = NULL, *public = NULL;
    assert_int_equal(dm_x25519_keygen(&secret, &public), DM_OK);
    assert_int_equal(strlen(secret), 74);
    assert_int_equal(strncmp(secret, "AGE-SECRET-KEY-1", 16), 0);
    for (const char *p = secret; *p; p++)
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-');
    assert_int_equal(strlen(public), 62);
    assert_int_equal(strncmp(public, "age1", 4), 0);

    char *derived = NULL;
    assert_int_equal(dm_x25519_identity_to_recipient(secret, &derived), DM_OK);
    assert_string_equal(derived, public);

    /* Wrap to the public key, unwrap with the secret. */
    dm_recipient *r = NULL;
    assert_int_equal(dm_x25519_recipient_parse(public, &r), DM_OK);
    assert_string_equal(r->type, "X25519");
    assert_int_equal(r->flags, 0);
    uint8_t key[16], got[16];
    randombytes_buf(key, sizeof key);
    dm_stanza_list l = {0};
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    assert_int_equal(l.len, 1);
    assert_string_equal(l.items[0].type, "X25519");
    assert_int_equal(l.items[0].nargs, 1);
    assert_int_equal(strlen(l.items[0].args[0]), 43);
    assert_int_equal(l.items[0].body_len, 32);
    assert_int_equal(unwrap_with(secret, &l, got), DM_OK);
    assert_memory_equal(got, key, 16);
    assert_int_equal(unwrap_with(OTHER_IDENTITY, &l, got), DM_ERR_NO_MATCH);

    /* A fresh ephemeral share every time. */
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    assert_int_equal(l.len, 2);
    assert_string_not_equal(l.items[0].args[0], l.items[1].args[0]);

    dm_stanza_list_clear(&l);
    dm_recipient_free(r);
    free(derived);
    free(public);
    dm_secret_free(secret);

    /* Two keygens never agree. */
    char *s2 = NULL, *p2 = NULL, *s3 = NULL, *p3 = NULL;
    assert_int_equal(dm_x25519_keygen(&s2, &p2), DM_OK);
    assert_int_equal(dm_x25519_keygen(&s3, &p3), DM_OK);
    assert_string_not_equal(s2, s3);
    assert_string_not_equal(p2, p3);
    dm_secret_free(s2);
    dm_secret_free(s3);
    free(p2);
    free(p3);
}

static void test_spec_example_key(void **state) {
    (void)state;
    char *public = NULL;
    assert_int_equal(dm_x25519_identity_to_recipient(SPEC_IDENTITY, &public), DM_OK);
    assert_string_equal(public, SPEC_RECIPIENT);
    free(public);
}

static void test_known_stanza(void **state) {
    (void)state;
    uint8_t body[32], got[16];
    b64(TK_BODY, body, sizeof body);
    const char *args[1] = {TK_SHARE};
    dm_stanza_list l;
    one_stanza(&l, "X25519", args, 1, body, sizeof body);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_OK);
    assert_memory_equal(got, TK_FILE_KEY, 16);
    assert_int_equal(unwrap_with(OTHER_IDENTITY, &l, got), DM_ERR_NO_MATCH);

    /* Flipping any body bit makes it someone else's stanza. */
    for (size_t i = 0; i < sizeof body; i++) {
        l.items[0].body[i] ^= 0x01;
        assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_NO_MATCH);
        l.items[0].body[i] ^= 0x01;
    }
    dm_stanza_list_clear(&l);

    /* Other stanza types are ignored, before and after ours. */
    const char *grease[2] = {"grease", "x"};
    memset(&l, 0, sizeof l);
    assert_int_equal(dm_stanza_list_add(&l, "x25519", args, 1, body, sizeof body), DM_OK);
    assert_int_equal(dm_stanza_list_add(&l, "grease", grease, 2, NULL, 0), DM_OK);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_NO_MATCH);
    assert_int_equal(dm_stanza_list_add(&l, "X25519", args, 1, body, sizeof body), DM_OK);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_OK);
    assert_memory_equal(got, TK_FILE_KEY, 16);
    dm_stanza_list_clear(&l);
}

static void test_low_order_shares_rejected(void **state) {
    (void)state;
    /* The identity point, and points of order 1, 2, 4 and 8 (RFC 7748 / libsodium's blacklist). */
    static const char *shares[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 0 */
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 1 */
        "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA", /* order 8 */
        "X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc", /* order 8 */
        "7P///////////////////////////////////////38", /* p - 1 */
    };
    uint8_t body[32] = {0}, got[16];
    for (size_t i = 0; i < sizeof shares / sizeof shares[0]; i++) {
        uint8_t point[32];
        b64(shares[i], point, sizeof point); /* well-formed: refused for its value */
        const char *args[1] = {shares[i]};
        dm_stanza_list l;
        one_stanza(&l, "X25519", args, 1, body, sizeof body);
        assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_HEADER);
        assert_non_null(strstr(dm_err_detail(), "low-order"));
        dm_stanza_list_clear(&l);
    }
}

static void test_malformed_stanzas(void **state) {
    (void)state;
    uint8_t body[33] = {0}, got[16];
    b64(TK_BODY, body, 32);
    dm_stanza_list l;

    const char *two[2] = {TK_SHARE, "extra"};
    one_stanza(&l, "X25519", two, 2, body, 32);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);

    one_stanza(&l, "X25519", NULL, 0, body, 32);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);

    static const char *bad_shares[] = {
        "TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOA",   /* 31 bytes */
        "TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCcA", /* 33 bytes */
        "TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCd",  /* non-canonical last char */
        "TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc=", /* padded */
        "TEiF0ypqr-bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc",  /* URL alphabet */
    };
    for (size_t i = 0; i < sizeof bad_shares / sizeof bad_shares[0]; i++) {
        const char *args[1] = {bad_shares[i]};
        one_stanza(&l, "X25519", args, 1, body, 32);
        assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_HEADER);
        dm_stanza_list_clear(&l);
    }

    /* The body length is checked before anything is decrypted. */
    const char *args[1] = {TK_SHARE};
    one_stanza(&l, "X25519", args, 1, body, 33);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);
    one_stanza(&l, "X25519", args, 1, body, 31);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);
    one_stanza(&l, "X25519", args, 1, NULL, 0);
    assert_int_equal(unwrap_with(TK_IDENTITY, &l, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&l);
}

static void test_bad_key_strings(void **state) {
    (void)state;
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    char *s = NULL;
    static const char *bad_recipients[] = {
        "",
        "age1",
        "AGE1ZVKYG2LQZRAA2LNJVQEJ32NKUU0UES2S82HZRYE869XEEXVN73EQUNUJWJ", /* age wants lower case */
        "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwq", /* checksum */
        "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujw",  /* truncated */
        "age1Zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj", /* mixed case */
        SPEC_IDENTITY,
        " age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",
        /* The X25519 point 0 as a recipient: every shared secret would be zero. */
        "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z",
        /* ... and the point 1, of low order too. */
        "age1qyqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqj7vrya",
    };
    size_t n_bad = sizeof bad_recipients / sizeof bad_recipients[0];
    for (size_t i = 0; i < n_bad; i++) {
        assert_int_equal(dm_x25519_recipient_parse(bad_recipients[i], &r), DM_ERR_USAGE);
        assert_true(dm_err_detail()[0] != '\0');
        /* The last two are well-formed strings refused for their point. */
        if (i >= n_bad - 2)
            assert_non_null(strstr(dm_err_detail(), "low-order"));
    }
    assert_int_equal(dm_x25519_recipient_parse(NULL, &r), DM_ERR_USAGE);

    static const char *bad_identities[] = {
        "",
        "age-secret-key-1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex", /* lower */
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEY", /* checksum */
        "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR",
        SPEC_RECIPIENT,
    };
    for (size_t i = 0; i < sizeof bad_identities / sizeof bad_identities[0]; i++) {
        assert_int_equal(dm_x25519_identity_parse(bad_identities[i], &id), DM_ERR_USAGE);
        assert_int_equal(dm_x25519_identity_to_recipient(bad_identities[i], &s), DM_ERR_USAGE);
        /* Never echo secret material into the error text. */
        assert_null(strstr(dm_err_detail(), "GFPYY"));
    }
}

static void test_recipient_string_round_trip(void **state) {
    (void)state;
    /* Encrypting to the spec's recipient is opened by the spec's identity. */
    dm_recipient *r = NULL;
    assert_int_equal(dm_x25519_recipient_parse(SPEC_RECIPIENT, &r), DM_OK);
    uint8_t key[16] = "0123456789abcdef", got[16];
    dm_stanza_list l = {0};
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    assert_int_equal(unwrap_with(SPEC_IDENTITY, &l, got), DM_OK);
    assert_memory_equal(got, key, 16);
    dm_stanza_list_clear(&l);
    dm_recipient_free(r);
}

/* One recipient and one identity shared by several threads at once. */
typedef struct shared_keys {
    dm_recipient *r;
    dm_identity *id;
    int failures;
} shared_keys;

static void *wrap_unwrap_many(void *arg) {
    shared_keys *k = arg;
    for (int i = 0; i < 100; i++) {
        uint8_t key[16], got[16];
        randombytes_buf(key, sizeof key);
        dm_stanza_list l = {0};
        if (k->r->wrap(k->r, key, &l) != DM_OK || k->id->unwrap(k->id, &l, got) != DM_OK ||
            memcmp(got, key, 16) != 0)
            __atomic_add_fetch(&k->failures, 1, __ATOMIC_RELAXED);
        dm_stanza_list_clear(&l);
    }
    return NULL;
}

static void test_concurrent_use(void **state) {
    (void)state;
    char *secret = NULL, *public = NULL;
    assert_int_equal(dm_x25519_keygen(&secret, &public), DM_OK);
    shared_keys k = {0};
    assert_int_equal(dm_x25519_recipient_parse(public, &k.r), DM_OK);
    assert_int_equal(dm_x25519_identity_parse(secret, &k.id), DM_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, wrap_unwrap_many, &k), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(k.failures, 0);
    dm_recipient_free(k.r);
    dm_identity_free(k.id);
    dm_secret_free(secret);
    free(public);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_keygen_round_trip),
    cmocka_unit_test(test_spec_example_key),
    cmocka_unit_test(test_known_stanza),
    cmocka_unit_test(test_low_order_shares_rejected),
    cmocka_unit_test(test_malformed_stanzas),
    cmocka_unit_test(test_bad_key_strings),
    cmocka_unit_test(test_recipient_string_round_trip),
    cmocka_unit_test(test_concurrent_use),
};

DM_UNIT_MAIN("x25519", tests, NULL, NULL)
