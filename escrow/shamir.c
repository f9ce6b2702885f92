/* Shamir secret sharing over GF(2^8), byte by byte.
 *
 * The field arithmetic is written out by hand (the one place the house rules
 * allow it) because neither libsodium nor OpenSSL offers it. It must not leak
 * the secret through timing: the usual log/exp tables are indexed by secret
 * bytes, so multiplication here is a carry-less shift-and-add where every
 * branch is replaced by a mask, and inversion is exponentiation (a^254) with a
 * fixed sequence of multiplications. The polynomial is the one libgfshare
 * uses (x^8+x^4+x^3+x^2+1, 0x11d), so the tests can cross-check against it.
 */
#include <string.h>

#include "doormat/escrow.h"

#define GF_REDUCE 0x1d /* x^8 = x^4+x^3+x^2+1 */

uint8_t dm_gf256_mul(uint8_t a, uint8_t b) {
    uint8_t r = 0;
    for (int i = 0; i < 8; i++) {
        r ^= (uint8_t)(-(b & 1u)) & a;
        uint8_t carry = (uint8_t)(-(unsigned)(a >> 7));
        a = (uint8_t)((a << 1) ^ (carry & GF_REDUCE));
        b >>= 1;
    }
    return r;
}

uint8_t dm_gf256_inv(uint8_t a) {
    /* a^254 = a^-1 for a != 0 (the multiplicative group has order 255), and
     * 0 for a == 0: a^2 * a^4 * ... * a^128. */
    uint8_t square = a;
    uint8_t r = 1;
    for (int i = 0; i < 7; i++) {
        square = dm_gf256_mul(square, square);
        r = dm_gf256_mul(r, square);
    }
    return r;
}

int dm_shamir_split(const uint8_t *secret, size_t len, unsigned k, unsigned n,
                    const uint8_t *coeffs, uint8_t *shares) {
    if (!secret || !shares || k < 1 || n < k || n > 255 || (k > 1 && !coeffs))
        return dm_fail(DM_ERR_USAGE, "Shamir: need 1 <= k <= n <= 255 (k=%u, n=%u)", k, n);
    for (unsigned s = 0; s < n; s++) {
        uint8_t x = (uint8_t)(s + 1);
        for (size_t i = 0; i < len; i++) {
            /* Horner's rule from the highest coefficient down to the secret. */
            uint8_t y = 0;
            for (unsigned j = k - 1; j >= 1; j--)
                y = dm_gf256_mul(y, x) ^ coeffs[(size_t)(j - 1) * len + i];
            y = dm_gf256_mul(y, x) ^ secret[i];
            shares[(size_t)s * len + i] = y;
        }
    }
    return DM_OK;
}

int dm_shamir_combine(const uint8_t *xs, const uint8_t *const *ys, size_t k, size_t len,
                      uint8_t *secret) {
    if (!xs || !ys || !secret || k < 1 || k > 255)
        return dm_fail(DM_ERR_USAGE, "Shamir: need between 1 and 255 shares");
    for (size_t i = 0; i < k; i++) {
        if (xs[i] == 0)
            return dm_fail(DM_ERR_USAGE, "Shamir: share x-coordinate 0 is not allowed");
        for (size_t j = 0; j < i; j++)
            if (xs[i] == xs[j])
                return dm_fail(DM_ERR_USAGE, "Shamir: share x-coordinate %u repeated",
                               (unsigned)xs[i]);
    }
    memset(secret, 0, len);
    for (size_t i = 0; i < k; i++) {
        /* Lagrange basis at 0: prod_{j != i} x_j / (x_j - x_i); in GF(2^8)
         * subtraction is XOR. The x's are public, the y's secret. */
        uint8_t num = 1, den = 1;
        for (size_t j = 0; j < k; j++) {
            if (j == i)
                continue;
            num = dm_gf256_mul(num, xs[j]);
            den = dm_gf256_mul(den, (uint8_t)(xs[j] ^ xs[i]));
        }
        uint8_t basis = dm_gf256_mul(num, dm_gf256_inv(den));
        for (size_t b = 0; b < len; b++)
            secret[b] ^= dm_gf256_mul(ys[i][b], basis);
    }
    return DM_OK;
}
