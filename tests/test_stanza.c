/* stanza.c: deep copies, growth, argument validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "unit_main.h"

static void test_deep_copy(void **state) {
    (void)state;
    dm_stanza_list list = {0};
    char type[] = "X25519";
    char arg[] = "share";
    const char *args[] = {arg};
    uint8_t body[32];
    memset(body, 7, sizeof body);
    assert_int_equal(dm_stanza_list_add(&list, type, args, 1, body, sizeof body), DM_OK);
    /* The caller's buffers may change or vanish afterwards. */
    type[0] = 'Y';
    arg[0] = 'S';
    memset(body, 9, sizeof body);
    assert_int_equal(list.len, 1);
    assert_string_equal(list.items[0].type, "X25519");
    assert_int_equal(list.items[0].nargs, 1);
    assert_string_equal(list.items[0].args[0], "share");
    assert_int_equal(list.items[0].body_len, 32);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(list.items[0].body[i], 7);
    dm_stanza_list_clear(&list);
    assert_null(list.items);
    assert_int_equal(list.len, 0);
    assert_int_equal(list.cap, 0);
    dm_stanza_list_clear(&list); /* twice is harmless */
    dm_stanza_list_clear(NULL);
}

static void test_many_and_empty(void **state) {
    (void)state;
    dm_stanza_list list = {0};
    for (size_t i = 0; i < 100; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "arg%zu", i);
        snprintf(b, sizeof b, "more-%zu", i * 7);
        const char *args[] = {a, b};
        uint8_t byte = (uint8_t)i;
        assert_int_equal(dm_stanza_list_add(&list, "t", args, i % 3, &byte, i % 2), DM_OK);
    }
    assert_int_equal(list.len, 100);
    assert_true(list.cap >= 100);
    for (size_t i = 0; i < 100; i++) {
        const dm_stanza *st = &list.items[i];
        assert_string_equal(st->type, "t");
        assert_int_equal(st->nargs, i % 3);
        assert_non_null(st->args);
        if (st->nargs >= 1) {
            char a[32];
            snprintf(a, sizeof a, "arg%zu", i);
            assert_string_equal(st->args[0], a);
        }
        assert_int_equal(st->body_len, i % 2);
        assert_non_null(st->body);
        if (st->body_len)
            assert_int_equal(st->body[0], (uint8_t)i);
    }
    dm_stanza_list_clear(&list);
}

static void test_rejects_unencodable(void **state) {
    (void)state;
    dm_stanza_list list = {0};
    const char *sp[] = {"has space"};
    const char *empty[] = {""};
    const char *ctl[] = {"tab\there"};
    const char *high[] = {"caf\xc3\xa9"};
    assert_int_equal(dm_stanza_list_add(&list, "", NULL, 0, NULL, 0), DM_ERR_USAGE);
    assert_int_equal(dm_stanza_list_add(&list, "a b", NULL, 0, NULL, 0), DM_ERR_USAGE);
    assert_int_equal(dm_stanza_list_add(&list, "ok", sp, 1, NULL, 0), DM_ERR_USAGE);
    assert_int_equal(dm_stanza_list_add(&list, "ok", empty, 1, NULL, 0), DM_ERR_USAGE);
    assert_int_equal(dm_stanza_list_add(&list, "ok", ctl, 1, NULL, 0), DM_ERR_USAGE);
    assert_int_equal(dm_stanza_list_add(&list, "ok", high, 1, NULL, 0), DM_ERR_USAGE);
    assert_int_equal(list.len, 0);
    const char *fine[] = {"!~", "example.com/enigma"};
    assert_int_equal(dm_stanza_list_add(&list, "->", fine, 2, NULL, 0), DM_OK);
    assert_int_equal(list.len, 1);
    dm_stanza_list_clear(&list);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deep_copy),
    cmocka_unit_test(test_many_and_empty),
    cmocka_unit_test(test_rejects_unencodable),
};

DM_UNIT_MAIN("stanza", tests, NULL, NULL)
