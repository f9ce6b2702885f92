/* base64.c: RFC 4648 vectors without padding, and every strictness rule age
 * puts on header base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/vault.h"
#include "unit_main.h"

struct pair {
    const char *raw;
    const char *enc;
};

static const struct pair rfc4648[] = {
    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_encode(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        size_t n = strlen(rfc4648[i].raw);
        char out[16];
        memset(out, '#', sizeof out);
        assert_int_equal(dm_b64_encoded_len(n), strlen(rfc4648[i].enc));
        assert_int_equal(dm_b64_encode((const uint8_t *)rfc4648[i].raw, n, out, sizeof out), DM_OK);
        assert_string_equal(out, rfc4648[i].enc);
    }
}

static void test_rfc4648_decode(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        uint8_t out[16];
        size_t got = 99;
        const char *enc = rfc4648[i].enc;
        assert_int_equal(dm_b64_decode(enc, strlen(enc), out, sizeof out, &got), DM_OK);
        assert_int_equal(got, strlen(rfc4648[i].raw));
        assert_memory_equal(out, rfc4648[i].raw, got);
    }
}

static void test_all_byte_values(void **state) {
    (void)state;
    uint8_t raw[256], back[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)i;
    char enc[400];
    assert_int_equal(dm_b64_encode(raw, 3, enc, sizeof enc), DM_OK);
    assert_string_equal(enc, "AAEC");
    uint8_t hi[3] = {0xfb, 0xff, 0xbf};
    assert_int_equal(dm_b64_encode(hi, 3, enc, sizeof enc), DM_OK);
    assert_string_equal(enc, "+/+/");
    assert_int_equal(dm_b64_encode(raw, 256, enc, sizeof enc), DM_OK);
    size_t got;
    assert_int_equal(dm_b64_decode(enc, strlen(enc), back, sizeof back, &got), DM_OK);
    assert_int_equal(got, 256);
    assert_memory_equal(back, raw, 256);
}

static void test_round_trip_lengths(void **state) {
    (void)state;
    uint8_t raw[300], back[300];
    char enc[401];
    randombytes_buf(raw, sizeof raw);
    for (size_t n = 0; n <= sizeof raw; n++) {
        size_t elen = dm_b64_encoded_len(n);
        assert_int_equal(elen, (n * 8 + 5) / 6);
        assert_int_equal(dm_b64_encode(raw, n, enc, elen + 1), DM_OK);
        assert_int_equal(strlen(enc), elen);
        size_t got = 0;
        assert_int_equal(dm_b64_decode(enc, elen, back, n, &got), DM_OK);
        assert_int_equal(got, n);
        assert_memory_equal(back, raw, n);
    }
}

static void expect_reject(const char *s) {
    uint8_t out[64];
    size_t got = 12345;
    assert_int_equal(dm_b64_decode(s, strlen(s), out, sizeof out, &got), DM_ERR_HEADER);
    assert_int_equal(got, 12345);
    assert_true(strlen(dm_err_detail()) > 0);
}

static void test_rejects_padding(void **state) {
    (void)state;
    expect_reject("Zg==");
    expect_reject("Zm8=");
    expect_reject("Zg=");
    expect_reject("=");
    expect_reject("Zm9v====");
}

static void test_rejects_noncanonical(void **state) {
    (void)state;
    /* "f" is Zg; Zh..Zv set trailing bits the decoder would otherwise drop. */
    expect_reject("Zh");
    expect_reject("Zv");
    expect_reject("Zm9"); /* "fo" is Zm8 */
    expect_reject("Zm/");
    expect_reject("Z");     /* 6 bits cannot make a byte */
    expect_reject("Zm9vY"); /* length 5 = 1 mod 4 */
}

static void test_rejects_foreign_characters(void **state) {
    (void)state;
    expect_reject("Zm9v\n");
    expect_reject("Zm9v\r");
    expect_reject("Zm\r\n9v");
    expect_reject(" Zm9v");
    expect_reject("Zm9v ");
    expect_reject("Zm\t9v");
    expect_reject("Zm-v"); /* base64url */
    expect_reject("Zm_v");
    expect_reject("Zm.v");
    expect_reject("Zm9\xc3");
    expect_reject("\x80Zm9");
    /* An embedded NUL is a character like any other. */
    uint8_t out[8];
    size_t got;
    assert_int_equal(dm_b64_decode("Zm\0v", 4, out, sizeof out, &got), DM_ERR_HEADER);
}

static void test_capacity(void **state) {
    (void)state;
    uint8_t out[5];
    size_t got = 0;
    /* 8 chars = 6 bytes: too long for a 5-byte field. */
    assert_int_equal(dm_b64_decode("Zm9vYmFy", 8, out, 5, &got), DM_ERR_HEADER);
    assert_int_equal(dm_b64_decode("Zm9vYmE", 7, out, 5, &got), DM_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(out, "fooba", 5);
    /* An empty string decodes to nothing, even into no buffer. */
    assert_int_equal(dm_b64_decode("", 0, NULL, 0, &got), DM_OK);
    assert_int_equal(got, 0);

    char enc[9];
    memset(enc, '#', sizeof enc);
    /* Exactly the encoded length: no room, and no write, for a terminator. */
    assert_int_equal(dm_b64_encode((const uint8_t *)"foobar", 6, enc, 8), DM_OK);
    assert_memory_equal(enc, "Zm9vYmFy#", 9);
    assert_int_equal(dm_b64_encode((const uint8_t *)"foobar", 6, enc, 7), DM_ERR_INTERNAL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rfc4648_encode),
    cmocka_unit_test(test_rfc4648_decode),
    cmocka_unit_test(test_all_byte_values),
    cmocka_unit_test(test_round_trip_lengths),
    cmocka_unit_test(test_rejects_padding),
    cmocka_unit_test(test_rejects_noncanonical),
    cmocka_unit_test(test_rejects_foreign_characters),
    cmocka_unit_test(test_capacity),
};

DM_UNIT_MAIN("base64", tests, NULL, NULL)
