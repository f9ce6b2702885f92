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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64_accepts),
        cmocka_unit_test(test_parse_u64_rejects),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
