/* keyfile.c: identity files (age-keygen format) and recipients files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "unit_main.h"

#define ID_A "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
#define RCPT_A "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
#define ID_B "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
#define ID_C "AGE-SECRET-KEY-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSSAGZ3KG"

static char *recipient_of(const char *secret) {
    char *r = NULL;
    assert_int_equal(dm_x25519_identity_to_recipient(secret, &r), DM_OK);
    return r;
}

/* Wraps a fresh key to `rcpt` and checks that exactly identity `which` of ids opens it. */
static void check_opens(dm_identity **ids, size_t n, const char *rcpt, size_t which) {
    dm_recipient *r = NULL;
    assert_int_equal(dm_x25519_recipient_parse(rcpt, &r), DM_OK);
    uint8_t key[16] = "sixteen byte key", got[16];
    dm_stanza_list l = {0};
    assert_int_equal(r->wrap(r, key, &l), DM_OK);
    for (size_t i = 0; i < n; i++) {
        int err = ids[i]->unwrap(ids[i], &l, got);
        if (i == which) {
            assert_int_equal(err, DM_OK);
            assert_memory_equal(got, key, 16);
        } else {
            assert_int_equal(err, DM_ERR_NO_MATCH);
        }
    }
    dm_stanza_list_clear(&l);
    dm_recipient_free(r);
}

static void free_ids(dm_identity **ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        dm_identity_free(ids[i]);
    free(ids);
}

static void test_identity_file(void **state) {
    (void)state;
    static const char text[] = "# created: 2024-01-01T00:00:00Z\n"
                               "# public key: " RCPT_A "\n" ID_A "\n"
                               "\n"
                               "# second\r\n" ID_B "\r\n"
                               "\n\n" ID_C; /* no final newline */
    dm_identity **ids = NULL;
    size_t n = 0, line = 99;
    assert_int_equal(dm_identity_file_parse(text, strlen(text), &ids, &n, &line), DM_OK);
    assert_int_equal(n, 3);
    char *rb = recipient_of(ID_B), *rc = recipient_of(ID_C);
    check_opens(ids, n, RCPT_A, 0);
    check_opens(ids, n, rb, 1);
    check_opens(ids, n, rc, 2);
    free(rb);
    free(rc);
    free_ids(ids, n);
}

static void test_identity_file_bad_lines(void **state) {
    (void)state;
    struct {
        const char *text;
        size_t line;
    } cases[] = {
        {"# c\n\n" ID_A "\nbogus\n", 4},
        {ID_A "\n " ID_B "\n", 2}, /* leading space */
        {ID_A "\n" ID_B " \n", 2}, /* trailing space */
        {"age-secret-key-1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex\n", 1},
        {"#ok\n" RCPT_A "\n", 2}, /* a recipient is not an identity */
        /* a hybrid identity with a bad checksum (with or without ML-KEM) */
        {"AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFQ\n", 1},
        {"\n\n\nAGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEY", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_identity **ids = NULL;
        size_t n = 0, line = 0;
        assert_int_equal(
            dm_identity_file_parse(cases[i].text, strlen(cases[i].text), &ids, &n, &line),
            DM_ERR_USAGE);
        assert_int_equal(line, cases[i].line);
        /* The message names the line but never repeats it: it may be a secret. */
        char want[32];
        snprintf(want, sizeof want, "line %zu", cases[i].line);
        assert_non_null(strstr(dm_err_detail(), want));
        assert_null(strstr(dm_err_detail(), "SECRET-KEY-1"));
        assert_null(strstr(dm_err_detail(), "GFPYY"));
    }

    /* A NUL inside a line is not a shorter line. */
    static const char nul[] = ID_A "\0junk\n";
    dm_identity **ids = NULL;
    size_t n = 0, line = 0;
    assert_int_equal(dm_identity_file_parse(nul, sizeof nul - 1, &ids, &n, &line), DM_ERR_USAGE);
    assert_int_equal(line, 1);

    /* Only comments, or nothing: no keys is an error without a line. */
    static const char *empties[] = {"", "\n\n", "# nothing here\n"};
    for (size_t i = 0; i < 3; i++) {
        line = 7;
        assert_int_equal(dm_identity_file_parse(empties[i], strlen(empties[i]), &ids, &n, &line),
                         DM_ERR_USAGE);
        assert_int_equal(line, 0);
    }
}

static void test_recipient_file(void **state) {
    (void)state;
    char *rb = recipient_of(ID_B);
    char text[512];
    snprintf(text, sizeof text, "# team\n%s\n\n# bob\r\n%s", RCPT_A, rb);
    dm_recipient **rs = NULL;
    size_t n = 0, line = 5;
    assert_int_equal(dm_recipient_file_parse(text, strlen(text), &rs, &n, &line), DM_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rs[0]->type, "X25519");

    /* Each parsed recipient wraps to its own identity. */
    dm_identity *a = NULL, *b = NULL;
    assert_int_equal(dm_x25519_identity_parse(ID_A, &a), DM_OK);
    assert_int_equal(dm_x25519_identity_parse(ID_B, &b), DM_OK);
    uint8_t key[16] = "sixteen byte key", got[16];
    dm_stanza_list l = {0};
    assert_int_equal(rs[1]->wrap(rs[1], key, &l), DM_OK);
    assert_int_equal(a->unwrap(a, &l, got), DM_ERR_NO_MATCH);
    assert_int_equal(b->unwrap(b, &l, got), DM_OK);
    assert_memory_equal(got, key, 16);
    dm_stanza_list_clear(&l);
    dm_identity_free(a);
    dm_identity_free(b);
    for (size_t i = 0; i < n; i++)
        dm_recipient_free(rs[i]);
    free(rs);

    /* A bad line is named. */
    snprintf(text, sizeof text, "%s\n# x\n%s\nage1nope\n", RCPT_A, rb);
    assert_int_equal(dm_recipient_file_parse(text, strlen(text), &rs, &n, &line), DM_ERR_USAGE);
    assert_int_equal(line, 4);
    assert_non_null(strstr(dm_err_detail(), "line 4"));
    snprintf(text, sizeof text, "%s\n", ID_A);
    assert_int_equal(dm_recipient_file_parse(text, strlen(text), &rs, &n, &line), DM_ERR_USAGE);
    assert_int_equal(line, 1);
    assert_null(strstr(dm_err_detail(), "GFPYY"));

    /* No recipients at all. */
    assert_int_equal(dm_recipient_file_parse("# only\n\n", 8, &rs, &n, &line), DM_ERR_USAGE);
    assert_int_equal(line, 0);
    free(rb);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_identity_file),
    cmocka_unit_test(test_identity_file_bad_lines),
    cmocka_unit_test(test_recipient_file),
};

DM_UNIT_MAIN("keyfile", tests, NULL, NULL)
