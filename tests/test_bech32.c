/* bech32.c: BIP 173 vectors (those that hold without the 90-character
 * limit), age's case rules, padding strictness and an age key round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/vault.h"
#include "unit_main.h"

static void hex_of(const uint8_t *b, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

struct valid {
    const char *s;
    const char *hrp;
    const char *hex;
};

static const struct valid bip173_valid[] = {
    {"A12UEL5L", "A", ""},
    {"a12uel5l", "a", ""},
    {"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
     "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio", ""},
    {"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "abcdef",
     "00443214c74254b635cf84653a56d7c675be77df"},
    {"11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
     "1",
     "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000"},
    {"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "split",
     "c5f38b70305f519bf66d85fb6cf03058f3dde463ecd7918f2dc743918f2d"},
    {"?1ezyfcl", "?", ""},
    /* BIP 173 rejects this one only for its length; age has no limit. */
    {"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
     "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio", ""},
    /* Zero padding shorter than a group is fine. */
    {"a1qqqd87cq", "a", "00"},
    {"a1qqqqtk27v5", "a", "0000"},
};

static void test_bip173_valid(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof bip173_valid / sizeof bip173_valid[0]; i++) {
        const struct valid *v = &bip173_valid[i];
        char hrp[128], hex[256], again[256];
        uint8_t data[64];
        size_t n = 999;
        assert_int_equal(dm_bech32_decode(v->s, hrp, sizeof hrp, data, sizeof data, &n), DM_OK);
        assert_string_equal(hrp, v->hrp);
        hex_of(data, n, hex);
        assert_string_equal(hex, v->hex);
        /* Re-encoding gives back the very same string, case included. */
        assert_int_equal(dm_bech32_encode(hrp, data, n, again, sizeof again), DM_OK);
        assert_string_equal(again, v->s);
    }
}

static void expect_invalid(const char *s) {
    char hrp[128];
    uint8_t data[64];
    size_t n = 777;
    assert_int_equal(dm_bech32_decode(s, hrp, sizeof hrp, data, sizeof data, &n), DM_ERR_USAGE);
    assert_int_equal(n, 777);
    assert_true(strlen(dm_err_detail()) > 0);
}

static void test_bip173_invalid(void **state) {
    (void)state;
    expect_invalid("\x20"
                   "1nwldj5"); /* HRP character out of range */
    expect_invalid("\x7f"
                   "1axkwrx"); /* HRP character out of range */
    expect_invalid("\x80"
                   "1eym55h");       /* HRP character out of range */
    expect_invalid("pzry9x0s0muk");  /* no separator */
    expect_invalid("1pzry9x0s0muk"); /* empty HRP */
    expect_invalid("x1b4n0q5v");     /* invalid data character */
    expect_invalid("li1dgmt3");      /* too short checksum */
    expect_invalid("de1lg7wt"
                   "\xff");     /* invalid character in checksum */
    expect_invalid("A1G7SGD8"); /* checksum over the upper-case HRP */
    expect_invalid("10a06t8");  /* empty HRP */
    expect_invalid("1qzzfhee"); /* empty HRP */
    expect_invalid("a12UEL5L"); /* mixed case */
    expect_invalid("A12uEL5L"); /* mixed case */
}

static void test_padding_and_checksum(void **state) {
    (void)state;
    expect_invalid("a1lmyple6");  /* five leftover bits: a whole unused group */
    expect_invalid("a1qpamnt9j"); /* leftover bits not zero */
    expect_invalid("a12uel5m");   /* one checksum character off */
    expect_invalid("a12uel5");    /* truncated */
    expect_invalid("");
    expect_invalid("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw "); /* trailing space */
    expect_invalid("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw\n");
    /* bech32m's constant is not bech32's. */
    expect_invalid("a1lqfn3a");
}

static const char age_secret[] =
    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
static const char age_public[] = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";

static void test_age_key_round_trip(void **state) {
    (void)state;
    char hrp[32], out[128];
    uint8_t sk[32], pk[32], derived[32];
    size_t n = 0;

    assert_int_equal(dm_bech32_decode(age_secret, hrp, sizeof hrp, sk, sizeof sk, &n), DM_OK);
    assert_string_equal(hrp, "AGE-SECRET-KEY-");
    assert_int_equal(n, 32);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(sk[i], 0x42);
    assert_int_equal(dm_bech32_encode("AGE-SECRET-KEY-", sk, 32, out, sizeof out), DM_OK);
    assert_string_equal(out, age_secret);

    /* The spec's recipient is the X25519 public key of its identity. */
    assert_int_equal(dm_bech32_decode(age_public, hrp, sizeof hrp, pk, sizeof pk, &n), DM_OK);
    assert_string_equal(hrp, "age");
    assert_int_equal(n, 32);
    assert_int_equal(crypto_scalarmult_base(derived, sk), 0);
    assert_memory_equal(derived, pk, 32);
    assert_int_equal(dm_bech32_encode("age", derived, 32, out, sizeof out), DM_OK);
    assert_string_equal(out, age_public);

    /* Lower-case secret keys still decode (age then refuses them by HRP). */
    char lower[sizeof age_secret];
    for (size_t i = 0; i < sizeof age_secret; i++)
        lower[i] = (char)((age_secret[i] >= 'A' && age_secret[i] <= 'Z') ? age_secret[i] + 32
                                                                         : age_secret[i]);
    assert_int_equal(dm_bech32_decode(lower, hrp, sizeof hrp, sk, sizeof sk, &n), DM_OK);
    assert_string_equal(hrp, "age-secret-key-");

    /* Any single flipped character breaks the checksum. */
    char bad[sizeof age_public];
    for (size_t i = 4; i < sizeof age_public - 1; i++) {
        memcpy(bad, age_public, sizeof bad);
        bad[i] = bad[i] == 'q' ? 'p' : 'q';
        expect_invalid(bad);
    }
}

static void test_random_round_trips(void **state) {
    (void)state;
    uint8_t data[200], back[200];
    char s[512], hrp[16];
    for (size_t n = 0; n <= sizeof data; n++) {
        randombytes_buf(data, n);
        assert_int_equal(dm_bech32_encode("age", data, n, s, sizeof s), DM_OK);
        assert_int_equal(strlen(s), 3 + 1 + (n * 8 + 4) / 5 + 6);
        size_t got = 0;
        assert_int_equal(dm_bech32_decode(s, hrp, sizeof hrp, back, sizeof back, &got), DM_OK);
        assert_int_equal(got, n);
        assert_memory_equal(back, data, n);
    }
}

static void test_capacities_and_bad_hrp(void **state) {
    (void)state;
    uint8_t key[32] = {0};
    char out[128], hrp[4];
    size_t need = 3 + 1 + 52 + 6 + 1;
    assert_int_equal(dm_bech32_encode("age", key, 32, out, need - 1), DM_ERR_INTERNAL);
    assert_int_equal(dm_bech32_encode("age", key, 32, out, need), DM_OK);
    assert_int_equal(dm_bech32_encode("", key, 32, out, sizeof out), DM_ERR_USAGE);
    assert_int_equal(dm_bech32_encode("Age", key, 32, out, sizeof out), DM_ERR_USAGE);
    assert_int_equal(dm_bech32_encode("a ge", key, 32, out, sizeof out), DM_ERR_USAGE);

    /* A 32-byte key does not fit where 16 bytes are expected. */
    uint8_t small[16];
    size_t n;
    assert_int_equal(dm_bech32_decode(age_public, hrp, sizeof hrp, small, sizeof small, &n),
                     DM_ERR_USAGE);
    /* "age" needs 4 bytes with its terminator. */
    assert_int_equal(dm_bech32_decode(age_public, hrp, 3, key, sizeof key, &n), DM_ERR_USAGE);
    assert_int_equal(dm_bech32_decode(age_public, hrp, 4, key, sizeof key, &n), DM_OK);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bip173_valid),         cmocka_unit_test(test_bip173_invalid),
    cmocka_unit_test(test_padding_and_checksum), cmocka_unit_test(test_age_key_round_trip),
    cmocka_unit_test(test_random_round_trips),   cmocka_unit_test(test_capacities_and_bad_hrp),
};

DM_UNIT_MAIN("bech32", tests, NULL, NULL)
