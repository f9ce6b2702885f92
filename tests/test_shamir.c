/* shamir.c: the GF(2^8) field against a slow reference, every k-of-n up to
 * 5-of-7 (every k-subset recovers, k-1 shares do not), argument checks, and a
 * cross-check against libgfshare in both directions. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/escrow.h"
#include "unit_main.h"

#define LEN 16

/* Schoolbook multiplication with full polynomial reduction by 0x11d: slow,
 * branchy and obviously right, which is all a reference needs to be. */
static uint8_t ref_mul(uint8_t a, uint8_t b) {
    unsigned prod = 0;
    for (int i = 0; i < 8; i++)
        if (b & (1u << i))
            prod ^= (unsigned)a << i;
    for (int bit = 14; bit >= 8; bit--)
        if (prod & (1u << bit))
            prod ^= 0x11du << (bit - 8);
    return (uint8_t)prod;
}

static void test_field(void **state) {
    (void)state;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            assert_int_equal(dm_gf256_mul((uint8_t)a, (uint8_t)b), ref_mul((uint8_t)a, (uint8_t)b));
    assert_int_equal(dm_gf256_inv(0), 0);
    for (unsigned a = 1; a < 256; a++)
        assert_int_equal(dm_gf256_mul((uint8_t)a, dm_gf256_inv((uint8_t)a)), 1);
    /* 2 generates the multiplicative group of this field (primitive polynomial). */
    uint8_t g = 1;
    for (int i = 1; i < 255; i++) {
        g = dm_gf256_mul(g, 2);
        assert_int_not_equal(g, 1);
    }
    assert_int_equal(dm_gf256_mul(g, 2), 1);
}

/* Calls fn for every subset of {0..n-1} of size k (as an index array). */
static void for_subsets(unsigned n, unsigned k, void (*fn)(const unsigned *, unsigned, void *),
                        void *ctx) {
    unsigned idx[8];
    if (k == 0)
        return;
    for (unsigned i = 0; i < k; i++)
        idx[i] = i;
    for (;;) {
        fn(idx, k, ctx);
        int i = (int)k - 1;
        while (i >= 0 && idx[i] == n - k + (unsigned)i)
            i--;
        if (i < 0)
            return;
        idx[i]++;
        for (unsigned j = (unsigned)i + 1; j < k; j++)
            idx[j] = idx[j - 1] + 1;
    }
}

typedef struct split_case {
    uint8_t secret[LEN];
    uint8_t shares[7 * LEN];
    int expect_equal;
    unsigned subsets;
} split_case;

static void combine_subset(const unsigned *idx, unsigned k, void *ctx) {
    split_case *c = ctx;
    uint8_t xs[8], out[LEN];
    const uint8_t *ys[8];
    for (unsigned i = 0; i < k; i++) {
        xs[i] = (uint8_t)(idx[i] + 1);
        ys[i] = c->shares + idx[i] * LEN;
    }
    assert_int_equal(dm_shamir_combine(xs, ys, k, LEN, out), DM_OK);
    if (c->expect_equal)
        assert_memory_equal(out, c->secret, LEN);
    else
        assert_memory_not_equal(out, c->secret, LEN);
    c->subsets++;
}

static unsigned binom(unsigned n, unsigned k) {
    unsigned r = 1;
    for (unsigned i = 1; i <= k; i++)
        r = r * (n - k + i) / i;
    return r;
}

static void test_every_k_of_n(void **state) {
    (void)state;
    for (unsigned n = 1; n <= 7; n++) {
        for (unsigned k = 1; k <= n && k <= 5; k++) {
            split_case c = {0};
            uint8_t coeffs[4 * LEN];
            randombytes_buf(c.secret, LEN);
            randombytes_buf(coeffs, sizeof coeffs);
            assert_int_equal(dm_shamir_split(c.secret, LEN, k, n, coeffs, c.shares), DM_OK);
            c.expect_equal = 1;
            for_subsets(n, k, combine_subset, &c);
            assert_int_equal(c.subsets, binom(n, k));
            if (k == 1) {
                /* 1-of-n: every share is a plain copy of the secret. */
                for (unsigned i = 0; i < n; i++)
                    assert_memory_equal(c.shares + i * LEN, c.secret, LEN);
                continue;
            }
            c.expect_equal = 0;
            c.subsets = 0;
            for_subsets(n, k - 1, combine_subset, &c);
            assert_int_equal(c.subsets, binom(n, k - 1));
        }
    }
}

/* k-1 shares say nothing: for another secret there is a polynomial of the
 * same degree through the same k-1 shares (here 2 of a 3-of-5 split). */
static void test_k_minus_1_fit_any_secret(void **state) {
    (void)state;
    uint8_t secret[LEN], coeffs[2 * LEN], shares[5 * LEN];
    randombytes_buf(secret, LEN);
    randombytes_buf(coeffs, sizeof coeffs);
    assert_int_equal(dm_shamir_split(secret, LEN, 3, 5, coeffs, shares), DM_OK);
    /* Concretely: two different secrets can share the same first two shares. */
    uint8_t other[LEN], other_coeffs[2 * LEN], other_shares[5 * LEN];
    memset(other, 0x5a, LEN);
    /* Solve for coefficients a1,a2 with f(1), f(2) equal to the real shares:
     * f(x) = s' + a1 x + a2 x^2. Two linear equations over GF(2^8). */
    for (size_t i = 0; i < LEN; i++) {
        uint8_t y1 = shares[i] ^ other[i], y2 = shares[LEN + i] ^ other[i];
        /* a1 + a2 = y1 ; 2 a1 + 4 a2 = y2  =>  a2 = (y2 + 2 y1) / (4 + 2) */
        uint8_t a2 = dm_gf256_mul((uint8_t)(y2 ^ dm_gf256_mul(2, y1)), dm_gf256_inv(4 ^ 2));
        uint8_t a1 = y1 ^ a2;
        other_coeffs[i] = a1;
        other_coeffs[LEN + i] = a2;
    }
    assert_int_equal(dm_shamir_split(other, LEN, 3, 5, other_coeffs, other_shares), DM_OK);
    assert_memory_equal(other_shares, shares, 2 * LEN);
    assert_memory_not_equal(other_shares + 2 * LEN, shares + 2 * LEN, LEN);
}

static void test_arguments(void **state) {
    (void)state;
    uint8_t secret[LEN] = {1}, coeffs[LEN] = {2}, shares[3 * LEN], out[LEN];
    assert_int_equal(dm_shamir_split(secret, LEN, 0, 3, coeffs, shares), DM_ERR_USAGE);
    assert_int_equal(dm_shamir_split(secret, LEN, 4, 3, coeffs, shares), DM_ERR_USAGE);
    assert_int_equal(dm_shamir_split(secret, LEN, 2, 256, coeffs, shares), DM_ERR_USAGE);
    assert_int_equal(dm_shamir_split(secret, LEN, 2, 3, NULL, shares), DM_ERR_USAGE);
    assert_int_equal(dm_shamir_split(secret, LEN, 2, 3, coeffs, shares), DM_OK);
    uint8_t xs[2] = {1, 1};
    const uint8_t *ys[2] = {shares, shares + LEN};
    assert_int_equal(dm_shamir_combine(xs, ys, 2, LEN, out), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "repeated"));
    xs[0] = 0;
    assert_int_equal(dm_shamir_combine(xs, ys, 2, LEN, out), DM_ERR_USAGE);
    xs[0] = 2;
    xs[1] = 1;
    /* Order of the shares does not matter. */
    ys[0] = shares + LEN;
    ys[1] = shares;
    assert_int_equal(dm_shamir_combine(xs, ys, 2, LEN, out), DM_OK);
    assert_memory_equal(out, secret, LEN);
}

/* ---- libgfshare, loaded at run time so the build needs no extra link flag ---- */

typedef struct gfshare_ctx gfshare_ctx;
typedef struct gfshare_api {
    void *lib;
    void (**fill_rand)(unsigned char *, unsigned int);
    gfshare_ctx *(*init_enc)(unsigned char *, unsigned int, unsigned char, unsigned int);
    gfshare_ctx *(*init_dec)(unsigned char *, unsigned int, unsigned int);
    void (*free_ctx)(gfshare_ctx *);
    void (*setsecret)(gfshare_ctx *, unsigned char *);
    void (*getshare)(gfshare_ctx *, unsigned char, unsigned char *);
    void (*giveshare)(gfshare_ctx *, unsigned char, unsigned char *);
    void (*extract)(gfshare_ctx *, unsigned char *);
} gfshare_api;

static void sodium_fill(unsigned char *buf, unsigned int n) {
    randombytes_buf(buf, n);
}

static void load_gfshare(gfshare_api *g) {
    g->lib = dlopen("libgfshare.so.2", RTLD_NOW);
    if (!g->lib)
        fail_msg("libgfshare.so.2 not found (Debian package libgfshare2): %s", dlerror());
#define SYM(field, name)                                                                           \
    *(void **)(&g->field) = dlsym(g->lib, name);                                                   \
    assert_non_null(g->field)
    SYM(fill_rand, "gfshare_fill_rand");
    SYM(init_enc, "gfshare_ctx_init_enc");
    SYM(init_dec, "gfshare_ctx_init_dec");
    SYM(free_ctx, "gfshare_ctx_free");
    SYM(setsecret, "gfshare_ctx_enc_setsecret");
    SYM(getshare, "gfshare_ctx_enc_getshare");
    SYM(giveshare, "gfshare_ctx_dec_giveshare");
    SYM(extract, "gfshare_ctx_dec_extract");
#undef SYM
    *g->fill_rand = sodium_fill;
}

static void test_libgfshare_cross_check(void **state) {
    (void)state;
    gfshare_api g;
    load_gfshare(&g);
    for (unsigned n = 2; n <= 7; n++) {
        for (unsigned k = 2; k <= n && k <= 5; k++) {
            uint8_t secret[LEN], shares[7 * LEN], out[LEN];
            unsigned char nrs[7];
            for (unsigned i = 0; i < n; i++)
                nrs[i] = (unsigned char)(i + 1);
            randombytes_buf(secret, LEN);

            /* libgfshare splits, doormat combines the last k shares. */
            gfshare_ctx *enc = g.init_enc(nrs, n, (unsigned char)k, LEN);
            assert_non_null(enc);
            g.setsecret(enc, secret);
            for (unsigned i = 0; i < n; i++)
                g.getshare(enc, (unsigned char)i, shares + i * LEN);
            g.free_ctx(enc);
            uint8_t xs[7];
            const uint8_t *ys[7];
            for (unsigned i = 0; i < k; i++) {
                xs[i] = (uint8_t)(n - k + i + 1);
                ys[i] = shares + (n - k + i) * LEN;
            }
            assert_int_equal(dm_shamir_combine(xs, ys, k, LEN, out), DM_OK);
            assert_memory_equal(out, secret, LEN);

            /* doormat splits, libgfshare combines the first k shares. */
            uint8_t coeffs[4 * LEN];
            randombytes_buf(coeffs, sizeof coeffs);
            assert_int_equal(dm_shamir_split(secret, LEN, k, n, coeffs, shares), DM_OK);
            gfshare_ctx *dec = g.init_dec(nrs, k, LEN);
            assert_non_null(dec);
            for (unsigned i = 0; i < k; i++)
                g.giveshare(dec, (unsigned char)i, shares + i * LEN);
            memset(out, 0, LEN);
            g.extract(dec, out);
            g.free_ctx(dec);
            assert_memory_equal(out, secret, LEN);
        }
    }
    dlclose(g.lib);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_field),
    cmocka_unit_test(test_every_k_of_n),
    cmocka_unit_test(test_k_minus_1_fit_any_secret),
    cmocka_unit_test(test_arguments),
    cmocka_unit_test(test_libgfshare_cross_check),
};

DM_UNIT_MAIN("shamir", tests, NULL, NULL)
