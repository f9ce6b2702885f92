/* Canonical unpadded standard base64 (RFC 4648 section 4, section 3.5
 * canonical), as age headers require. The armor layer reuses it for its
 * padded lines after checking the padding itself. */
#include <string.h>

#include "doormat/vault.h"

static const char dm_b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0x80 marks every byte outside the alphabet, including '=', CR, LF and NUL. */
#define X 0x80
static const uint8_t dm_b64_value[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63, /* 0x20 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30 */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,  /* 0x50 */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x80 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x90 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xa0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xb0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xc0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xd0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xe0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xf0 */
};
#undef X

size_t dm_b64_encoded_len(size_t n) {
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

int dm_b64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap) {
    size_t need = dm_b64_encoded_len(n);
    if (need > out_cap)
        return dm_fail(DM_ERR_INTERNAL, "base64 output buffer too small");
    size_t i = 0;
    char *o = out;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = dm_b64_alphabet[v >> 18];
        o[1] = dm_b64_alphabet[(v >> 12) & 63];
        o[2] = dm_b64_alphabet[(v >> 6) & 63];
        o[3] = dm_b64_alphabet[v & 63];
        o += 4;
    }
    if (n - i == 1) {
        o[0] = dm_b64_alphabet[in[i] >> 2];
        o[1] = dm_b64_alphabet[(in[i] & 3) << 4];
        o += 2;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        o[0] = dm_b64_alphabet[v >> 10];
        o[1] = dm_b64_alphabet[(v >> 4) & 63];
        o[2] = dm_b64_alphabet[(v & 15) << 2];
        o += 3;
    }
    /* Callers that size out as encoded_len + 1 get a C string for free. */
    if (need < out_cap)
        *o = '\0';
    return DM_OK;
}

int dm_b64_decode(const char *in, size_t n, uint8_t *out, size_t out_cap, size_t *out_len) {
    const unsigned char *s = (const unsigned char *)in;
    size_t rem = n % 4;
    if (rem == 1)
        return dm_fail(DM_ERR_HEADER, "base64 of impossible length %zu", n);
    size_t need = n / 4 * 3 + (rem ? rem - 1 : 0);
    if (need > out_cap)
        return dm_fail(DM_ERR_HEADER, "base64 decodes to %zu bytes, more than %zu", need, out_cap);

    /* Invalid characters are OR-ed into `bad` and checked once per call:
     * a flag, not a branch per character. */
    uint32_t bad = 0;
    size_t i = 0;
    uint8_t *o = out;
    for (; i + 4 <= n; i += 4) {
        uint32_t a = dm_b64_value[s[i]], b = dm_b64_value[s[i + 1]];
        uint32_t c = dm_b64_value[s[i + 2]], d = dm_b64_value[s[i + 3]];
        bad |= a | b | c | d;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    uint32_t leftover = 0;
    if (rem == 2) {
        uint32_t a = dm_b64_value[s[i]], b = dm_b64_value[s[i + 1]];
        bad |= a | b;
        o[0] = (uint8_t)(a << 2 | b >> 4);
        leftover = b & 15;
    } else if (rem == 3) {
        uint32_t a = dm_b64_value[s[i]], b = dm_b64_value[s[i + 1]], c = dm_b64_value[s[i + 2]];
        bad |= a | b | c;
        uint32_t v = a << 12 | b << 6 | c;
        o[0] = (uint8_t)(v >> 10);
        o[1] = (uint8_t)(v >> 2);
        leftover = c & 3;
    }
    if (bad & 0x80) {
        memset(out, 0, need);
        for (size_t j = 0; j < n; j++)
            if (dm_b64_value[s[j]] & 0x80)
                return dm_fail(DM_ERR_HEADER, "invalid base64 character 0x%02x at offset %zu", s[j],
                               j);
    }
    /* RFC 4648 3.5: unused trailing bits must be zero, or one value would
     * have several encodings (a malleability the age format forbids). */
    if (leftover != 0) {
        memset(out, 0, need);
        return dm_fail(DM_ERR_HEADER, "non-canonical base64 (trailing bits set)");
    }
    if (out_len)
        *out_len = need;
    return DM_OK;
}
