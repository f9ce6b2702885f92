/* cli/util.c: the command's one JSON escaper, hex encoder, number parser
 * and clock. Exact bytes and return values; parse_ulong says DM_OK on
 * success (0), not a sentinel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cli.h"
#include "unit_main.h"

static void expect_json(const char *in, const char *want) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    cli_json_string(f, in);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf, want);
    free(buf);
}

static void test_json_string(void **state) {
    (void)state;
    expect_json("", "\"\"");
    expect_json("X25519", "\"X25519\"");
    expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_json("tab\there\nnl", "\"tab\\u0009here\\u000anl\"");
    expect_json("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    /* Bytes outside ASCII (hostile headers need not be UTF-8): escaped one by one. */
    expect_json("\xc3\xa9", "\"\\u00c3\\u00a9\"");
}

static void test_parse_ulong(void **state) {
    (void)state;
    unsigned long v = 99;
    assert_int_equal(cli_parse_ulong("5", 1, 10, &v), DM_OK);
    assert_int_equal(v, 5);
    assert_int_equal(cli_parse_ulong("0", 0, 10, &v), DM_OK);
    assert_int_equal(v, 0);
    assert_int_equal(cli_parse_ulong("10", 1, 10, &v), DM_OK);
    assert_int_equal(v, 10);
    assert_int_equal(cli_parse_ulong("4294967296", 1, 1ul << 32, &v), DM_OK);
    assert_int_equal(v, 1ul << 32);
    v = 7;
    const char *bad[] = {"",   "11", "0x5", "-1",  "+5",
                         " 5", "5 ", "5k",  "1e3", "99999999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cli_parse_ulong(bad[i], 1, 10, &v), DM_ERR_USAGE);
        assert_int_equal(v, 7); /* untouched */
    }
    assert_int_equal(cli_parse_ulong("0", 1, 10, &v), DM_ERR_USAGE);
}

/* cli/exit.c: the one map from error classes to the documented exit codes
 * (README, "Exit codes"); an unknown value is a failure, never success. */
static void test_exit_codes(void **state) {
    (void)state;
    static const struct {
        int err, exit;
    } map[] = {
        {DM_OK, 0},
        {DM_ERR_IO, 1},
        {DM_ERR_NOMEM, 1},
        {DM_ERR_INTERNAL, 1},
        {DM_ERR_USAGE, 2},
        {DM_ERR_HEADER, 3},
        {DM_ERR_ARMOR, 3},
        {DM_ERR_NO_MATCH, 4},
        {DM_ERR_HMAC, 5},
        {DM_ERR_PAYLOAD, 6},
        {DM_ERR_POLICY, 7},
        {DM_ERR_DENIED, 8},
        {DM_ERR_LOG, 9},
        {DM_ERR_PLUGIN, 1},
        {DM_ERR_BUSY, 1},
        {DM_ERR_BAD_PASSPHRASE, 4},
        {DM_ERR_TOO_FEW_SHARES, 4},
        {DM_ERR_NO_STANZA, 4},
        {DM_ERR_NOT_FOUND, 1},
        {-1, 1},
        {DM_ERR__COUNT, 1},
    };
    assert_int_equal(sizeof map / sizeof map[0], DM_ERR__COUNT + 2);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (cli_exit_code(map[i].err) != map[i].exit)
            fail_msg("error class %d: exit %d, want %d", map[i].err, cli_exit_code(map[i].err),
                     map[i].exit);
    }
}

static void test_clock_is_the_real_one(void **state) {
    (void)state;
    time_t before = time(NULL);
    time_t now = cli_now();
    time_t after = time(NULL);
    assert_true(now >= before && now <= after);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_json_string),
    cmocka_unit_test(test_parse_ulong),
    cmocka_unit_test(test_exit_codes),
    cmocka_unit_test(test_clock_is_the_real_one),
};

DM_UNIT_MAIN("cli_util", tests, NULL, NULL)
