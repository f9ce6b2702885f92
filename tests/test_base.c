/* base/: the helpers every library room shares, byte for byte, with their
 * error cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/base.h"

/* ------------------------------------------------------------- parse_u64 */

static bool u64(const char *s, uint64_t *out) {
    *out = 7777;
    return dm_parse_u64(s, strlen(s), out);
}

static void test_parse_u64_accepts(void **state) {
    (void)state;
    uint64_t v;
    assert_true(u64("0", &v));
    assert_true(v == 0);
    assert_true(u64("1", &v));
    assert_true(v == 1);
    assert_true(u64("4294967296", &v));
    assert_true(v == 4294967296u);
    assert_true(u64("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    /* only len bytes are read: the digits after them do not count */
    v = 0;
    assert_true(dm_parse_u64("123456", 3, &v));
    assert_true(v == 123);
}

static void test_parse_u64_rejects(void **state) {
    (void)state;
    static const char *bad[] = {
        "",                      /* empty */
        "18446744073709551616",  /* UINT64_MAX + 1 */
        "99999999999999999999",  /* twenty digits, over */
        "100000000000000000000", /* twenty-one digits */
        "00",
        "01",
        "007", /* leading zeros */
        "+1",
        "-1",
        "-0", /* signs */
        " 1",
        "1 ",
        "1\n", /* spaces */
        "0x1",
        "1a",
        "a", /* not decimal */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        assert_false(u64(bad[i], &v));
        assert_true(v == 7777); /* untouched on failure */
    }
    uint64_t v = 7777;
    assert_false(dm_parse_u64("12", 0, &v));
    assert_true(v == 7777);
}

/* ------------------------------------------------------------------- hex */

static void test_hex(void **state) {
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 2];
    memset(out, 'x', sizeof out);
    dm_hex(in, sizeof in, out);
    assert_memory_equal(out, "00017f80abff\0x", sizeof out);
    /* every byte value, lower case, in order */
    uint8_t all[256];
    char all_hex[513];
    for (size_t i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    dm_hex(all, sizeof all, all_hex);
    assert_int_equal(strlen(all_hex), 512);
    assert_memory_equal(all_hex, "000102", 6);
    assert_memory_equal(all_hex + 2 * 0x9f, "9fa0", 4);
    assert_memory_equal(all_hex + 506, "fdfeff", 6);
}

static void test_hex_of_nothing(void **state) {
    (void)state;
    char out[2] = {'x', 'x'};
    dm_hex((const uint8_t *)"", 0, out);
    assert_memory_equal(out, "\0x", 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64_accepts),
        cmocka_unit_test(test_parse_u64_rejects),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_hex_of_nothing),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
