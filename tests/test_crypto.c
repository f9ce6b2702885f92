/* crypto.c and errors.c: published vectors (RFC 5869, RFC 4231, RFC 8439),
 * tamper detection, and the error table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "internal.h"
#include "unit_main.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void fill_range(uint8_t *buf, unsigned from, unsigned to) {
    for (unsigned v = from; v < to; v++)
        buf[v - from] = (uint8_t)v;
}

/* ------------------------------------------------------------ RFC 5869 */

static void check_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                       const uint8_t *info, size_t info_len, const char *okm_hex) {
    uint8_t want[128], got[128];
    size_t n = unhex(okm_hex, want, sizeof want);
    memset(got, 0xee, sizeof got);
    assert_int_equal(
        dm_hkdf_sha256(ikm, ikm_len, salt, salt_len, (const char *)info, info_len, got, n), DM_OK);
    assert_memory_equal(got, want, n);
    /* The derivation writes exactly n bytes. */
    assert_int_equal(got[n], 0xee);
}

static void test_hkdf_rfc5869_case1(void **state) {
    (void)state;
    uint8_t ikm[22], salt[13], info[10];
    memset(ikm, 0x0b, sizeof ikm);
    fill_range(salt, 0x00, 0x0d);
    fill_range(info, 0xf0, 0xfa);
    check_hkdf(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info,
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
               "34007208d5b887185865");
}

static void test_hkdf_rfc5869_case2(void **state) {
    (void)state;
    uint8_t ikm[80], salt[80], info[80];
    fill_range(ikm, 0x00, 0x50);
    fill_range(salt, 0x60, 0xb0);
    fill_range(info, 0xb0, 0x100);
    check_hkdf(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info,
               "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
               "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
               "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

static void test_hkdf_rfc5869_case3(void **state) {
    (void)state;
    uint8_t ikm[22];
    memset(ikm, 0x0b, sizeof ikm);
    check_hkdf(ikm, sizeof ikm, NULL, 0, NULL, 0,
               "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
               "9d201395faa4b61a96c8");
}

/* ------------------------------------------------------------ RFC 4231 */

static void check_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len,
                       const char *mac_hex) {
    uint8_t want[32], got[32];
    size_t n = unhex(mac_hex, want, sizeof want);
    assert_int_equal(dm_hmac_sha256(key, key_len, msg, msg_len, got), DM_OK);
    assert_memory_equal(got, want, n);
}

static void test_hmac_rfc4231(void **state) {
    (void)state;
    uint8_t key[131], data[50];

    memset(key, 0x0b, 20);
    check_hmac(key, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    check_hmac((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    check_hmac(key, 20, data, 50,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    fill_range(key, 0x01, 0x1a);
    memset(data, 0xcd, 50);
    check_hmac(key, 25, data, 50,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    /* Test case 5 publishes only the first 128 bits. */
    memset(key, 0x0c, 20);
    check_hmac(key, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b");

    memset(key, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    check_hmac(key, 131, m6, strlen(m6),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    check_hmac(key, 131, m7, strlen(m7),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_sha256_fips180(void **state) {
    (void)state;
    uint8_t want[32], got[32];
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    dm_sha256((const uint8_t *)"abc", 3, got);
    assert_memory_equal(got, want, 32);
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    dm_sha256(NULL, 0, got);
    assert_memory_equal(got, want, 32);
}

/* ------------------------------------------------------------ RFC 8439 */

static const char rfc8439_pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                                 "only one tip for the future, sunscreen would be it.";
static const char rfc8439_ct[] = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                                 "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                                 "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                                 "3ff4def08e4b7a9de576d26586cec64b6116"
                                 "1ae10b594f09e26a7e902ecbd0600691";

struct rfc8439 {
    uint8_t key[32], nonce[12], aad[12], ct[130];
    size_t pt_len, ct_len;
};

static void rfc8439_load(struct rfc8439 *v) {
    fill_range(v->key, 0x80, 0xa0);
    unhex("070000004041424344454647", v->nonce, sizeof v->nonce);
    unhex("50515253c0c1c2c3c4c5c6c7", v->aad, sizeof v->aad);
    v->pt_len = strlen(rfc8439_pt);
    v->ct_len = unhex(rfc8439_ct, v->ct, sizeof v->ct);
    assert_int_equal(v->pt_len, 114);
    assert_int_equal(v->ct_len, 114 + DM_TAG_LEN);
}

/* The vector, and its plaintext sealed without associated data (as age seals). */
static void rfc8439_seal_no_ad(struct rfc8439 *v, uint8_t sealed[130]) {
    rfc8439_load(v);
    assert_int_equal(dm_aead_seal(v->key, v->nonce, (const uint8_t *)rfc8439_pt, v->pt_len, sealed),
                     DM_OK);
}

static void test_aead_rfc8439_seal(void **state) {
    (void)state;
    struct rfc8439 v;
    rfc8439_load(&v);
    uint8_t out[130];
    assert_int_equal(dm_aead_seal_ad(v.key, v.nonce, v.aad, sizeof v.aad,
                                     (const uint8_t *)rfc8439_pt, v.pt_len, out),
                     DM_OK);
    assert_memory_equal(out, v.ct, v.ct_len);
}

static void test_aead_rfc8439_open(void **state) {
    (void)state;
    struct rfc8439 v;
    rfc8439_load(&v);
    uint8_t out[114];
    assert_int_equal(dm_aead_open_ad(v.key, v.nonce, v.aad, sizeof v.aad, v.ct, v.ct_len, out),
                     DM_OK);
    assert_memory_equal(out, rfc8439_pt, v.pt_len);
    /* Without the associated data the tag cannot match. */
    memset(out, 0x55, sizeof out);
    assert_int_equal(dm_aead_open(v.key, v.nonce, v.ct, v.ct_len, out), DM_ERR_PAYLOAD);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0);
}

/* age uses no associated data: same keystream as the RFC vector, different tag. */
static void test_aead_no_ad(void **state) {
    (void)state;
    struct rfc8439 v;
    uint8_t out[130], back[114];
    rfc8439_seal_no_ad(&v, out);
    assert_memory_equal(out, v.ct, v.pt_len);
    uint8_t tag[16];
    unhex("6a23a4681fd59456aea1d29f82477216", tag, sizeof tag);
    assert_memory_equal(out + v.pt_len, tag, 16);
    assert_int_equal(dm_aead_open(v.key, v.nonce, out, v.ct_len, back), DM_OK);
    assert_memory_equal(back, rfc8439_pt, v.pt_len);
}

static void test_aead_tamper(void **state) {
    (void)state;
    struct rfc8439 v;
    uint8_t sealed[130], out[114];
    rfc8439_seal_no_ad(&v, sealed);
    /* Every single-bit flip, in ciphertext and tag, must be caught and leave out zeroed. */
    for (size_t i = 0; i < v.ct_len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            sealed[i] ^= (uint8_t)(1u << bit);
            memset(out, 0xa5, sizeof out);
            assert_int_equal(dm_aead_open(v.key, v.nonce, sealed, v.ct_len, out), DM_ERR_PAYLOAD);
            for (size_t j = 0; j < sizeof out; j++)
                assert_int_equal(out[j], 0);
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* A wrong key or nonce is also just a bad tag. */
    v.key[31] ^= 1;
    assert_int_equal(dm_aead_open(v.key, v.nonce, sealed, v.ct_len, out), DM_ERR_PAYLOAD);
    v.key[31] ^= 1;
    v.nonce[0] ^= 1;
    assert_int_equal(dm_aead_open(v.key, v.nonce, sealed, v.ct_len, out), DM_ERR_PAYLOAD);
    v.nonce[0] ^= 1;
    /* Shorter than a tag: nothing to authenticate. */
    assert_int_equal(dm_aead_open(v.key, v.nonce, sealed, DM_TAG_LEN - 1, out), DM_ERR_PAYLOAD);
    /* Truncation moves the tag: rejected. */
    assert_int_equal(dm_aead_open(v.key, v.nonce, sealed, v.ct_len - 1, out), DM_ERR_PAYLOAD);
    assert_int_equal(dm_aead_open(v.key, v.nonce, sealed, v.ct_len, out), DM_OK);
}

static void test_aead_in_place_and_empty(void **state) {
    (void)state;
    uint8_t key[32] = {1}, nonce[12] = {2};
    uint8_t buf[64 + DM_TAG_LEN];
    for (size_t i = 0; i < 64; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(dm_aead_seal(key, nonce, buf, 64, buf), DM_OK);
    assert_int_equal(dm_aead_open(key, nonce, buf, sizeof buf, buf), DM_OK);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(buf[i], i);

    uint8_t tag_only[DM_TAG_LEN];
    assert_int_equal(dm_aead_seal(key, nonce, NULL, 0, tag_only), DM_OK);
    assert_int_equal(dm_aead_open(key, nonce, tag_only, DM_TAG_LEN, buf), DM_OK);
    tag_only[0] ^= 0x80;
    assert_int_equal(dm_aead_open(key, nonce, tag_only, DM_TAG_LEN, buf), DM_ERR_PAYLOAD);
}

/* ------------------------------------------------------ memory, errors */

static void test_secret_memory(void **state) {
    (void)state;
    uint8_t *p = dm_secret_alloc(DM_FILE_KEY_LEN);
    assert_non_null(p);
    memset(p, 0x42, DM_FILE_KEY_LEN);
    dm_secret_free(p);
    dm_secret_free(NULL);
}

/* Freed blocks are kept for reuse: a block handed out again holds zeros,
 * never the secret it held before; a size that is a multiple of 16 gives a
 * 16-aligned block; more blocks than the pool keeps, and sizes it never
 * keeps, come and go as well. */
static void test_secret_memory_reused(void **state) {
    (void)state;
    enum { KEPT = 48, MANY = 200 };
    uint8_t *blocks[MANY];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < KEPT; i++) {
            size_t n = 16 * (1 + i % 5);
            blocks[i] = dm_secret_alloc(n);
            assert_non_null(blocks[i]);
            assert_int_equal((uintptr_t)blocks[i] % 16, 0);
            for (size_t j = 0; round > 0 && j < n; j++)
                assert_int_equal(blocks[i][j], 0); /* reused, and zeroed */
            memset(blocks[i], 0xA5, n);
        }
        for (size_t i = 0; i < KEPT; i++)
            dm_secret_free(blocks[i]);
    }
    for (size_t i = 0; i < MANY; i++) { /* more than the pool keeps */
        blocks[i] = dm_secret_alloc(16 + i);
        assert_non_null(blocks[i]);
        memset(blocks[i], 0x11, 16 + i);
    }
    for (size_t i = 0; i < MANY; i++)
        dm_secret_free(blocks[i]);
    uint8_t *big = dm_secret_alloc(1u << 20); /* larger than a kept block */
    assert_non_null(big);
    memset(big, 0x5A, 1u << 20);
    dm_secret_free(big);
    uint8_t *odd = dm_secret_alloc(33);
    assert_non_null(odd);
    memset(odd, 0x33, 33);
    dm_secret_free(odd);
    odd = dm_secret_alloc(33);
    for (size_t j = 0; j < 33; j++)
        assert_int_equal(odd[j], 0);
    dm_secret_free(odd);
}

static void test_errors(void **state) {
    (void)state;
    assert_int_equal(dm_init(), DM_OK);
    assert_int_equal(dm_init(), DM_OK);

    /* Every class has its own words. */
    for (int a = 0; a < DM_ERR__COUNT; a++) {
        assert_non_null(dm_strerror(a));
        assert_true(strlen(dm_strerror(a)) > 0);
        for (int b = a + 1; b < DM_ERR__COUNT; b++)
            assert_string_not_equal(dm_strerror(a), dm_strerror(b));
    }
    assert_string_equal(dm_strerror(999), "unknown error");
    assert_string_equal(dm_strerror(DM_ERR_HMAC), "header MAC mismatch");
    /* The vault's words name no other room: escrow words its own policy. */
    assert_string_equal(dm_strerror(DM_ERR_POLICY), "policy violated");

    assert_int_equal(dm_fail(DM_ERR_HEADER, "header line %d: %s", 4, "bad"), DM_ERR_HEADER);
    assert_string_equal(dm_err_detail(), "header line 4: bad");
    /* Long details are truncated, never overflow, and end at a whole word
     * marked " ..." (words of nine x and a space here). */
    char big[3000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = i % 10 == 9 ? ' ' : 'x';
    big[sizeof big - 1] = '\0';
    assert_int_equal(dm_fail(DM_ERR_IO, "%s", big), DM_ERR_IO);
    const char *d = dm_err_detail();
    size_t dl = strlen(d);
    assert_true(dl < 1024);
    assert_true(dl > 900);
    assert_string_equal(d + dl - 4, " ...");
    assert_memory_equal(d + dl - 14, " xxxxxxxxx", 10);
    /* One word longer than the room: cut where it must be, still marked. */
    memset(big, 'y', sizeof big - 1);
    assert_int_equal(dm_fail(DM_ERR_IO, "%s", big), DM_ERR_IO);
    d = dm_err_detail();
    dl = strlen(d);
    assert_true(dl > 900 && dl < 1024);
    assert_string_equal(d + dl - 4, " ...");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hkdf_rfc5869_case1),
    cmocka_unit_test(test_hkdf_rfc5869_case2),
    cmocka_unit_test(test_hkdf_rfc5869_case3),
    cmocka_unit_test(test_hmac_rfc4231),
    cmocka_unit_test(test_sha256_fips180),
    cmocka_unit_test(test_aead_rfc8439_seal),
    cmocka_unit_test(test_aead_rfc8439_open),
    cmocka_unit_test(test_aead_no_ad),
    cmocka_unit_test(test_aead_tamper),
    cmocka_unit_test(test_aead_in_place_and_empty),
    cmocka_unit_test(test_secret_memory),
    cmocka_unit_test(test_secret_memory_reused),
    cmocka_unit_test(test_errors),
};

DM_UNIT_MAIN("crypto", tests, NULL, NULL)
