/* Bech32 (BIP 173, not bech32m), without BIP 173's 90-character limit, as
 * age uses it for keys. Hand-written: it is an encoding, not cryptography.
 * Case follows age: the output is upper-case when the HRP is, the checksum
 * is always over the lower-case form, and decoding returns the HRP in the
 * case it was written (age accepts secret keys only in upper case). */
#include <string.h>

#include <sodium.h>

#include "doormat/vault.h"

static const char dm_bech32_charset[33] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* Value of each (lower-case) data character, 0xff outside the charset. */
static uint8_t dm_bech32_value(unsigned char c) {
    static const int8_t rev[128] = {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x00 */
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x10 */
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x20 */
        15, -1, 10, 17, 21, 20, 26, 30, 7,  5,  -1, -1, -1, -1, -1, -1, /* 0x30 */
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x40 */
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x50 */
        -1, 29, -1, 24, 13, 25, 9,  8,  23, -1, 18, 22, 31, 27, 19, -1, /* 0x60 */
        1,  0,  3,  16, 11, 28, 12, 14, 6,  4,  2,  -1, -1, -1, -1, -1, /* 0x70 */
    };
    if (c >= 128 || rev[c] < 0)
        return 0xff;
    return (uint8_t)rev[c];
}

static uint32_t dm_bech32_polymod_step(uint32_t chk, uint8_t v) {
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t top = chk >> 25;
    chk = (chk & 0x1ffffff) << 5 ^ v;
    for (int i = 0; i < 5; i++)
        chk ^= -((top >> i) & 1) & gen[i];
    return chk;
}

static unsigned char dm_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static unsigned char dm_upper(unsigned char c) {
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
}

/* Checksum state after the expanded (lower-case) HRP. */
static uint32_t dm_bech32_hrp_state(const char *hrp, size_t hrp_len) {
    uint32_t chk = 1;
    for (size_t i = 0; i < hrp_len; i++)
        chk = dm_bech32_polymod_step(chk, dm_lower((unsigned char)hrp[i]) >> 5);
    chk = dm_bech32_polymod_step(chk, 0);
    for (size_t i = 0; i < hrp_len; i++)
        chk = dm_bech32_polymod_step(chk, dm_lower((unsigned char)hrp[i]) & 31);
    return chk;
}

/* 0: invalid character, 1: only lower/none, 2: upper-case letters present;
 * -1: both cases (BIP 173 forbids mixing). */
static int dm_bech32_scan_case(const char *s, size_t n) {
    int lower = 0, upper = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return 0;
        lower |= c >= 'a' && c <= 'z';
        upper |= c >= 'A' && c <= 'Z';
    }
    if (lower && upper)
        return -1;
    return upper ? 2 : 1;
}

int dm_bech32_encode(const char *hrp, const uint8_t *data, size_t len, char *out, size_t out_cap) {
    size_t hrp_len = strlen(hrp);
    if (hrp_len == 0)
        return dm_fail(DM_ERR_USAGE, "Bech32: empty human-readable part");
    int hcase = dm_bech32_scan_case(hrp, hrp_len);
    if (hcase == 0)
        return dm_fail(DM_ERR_USAGE, "Bech32: invalid character in human-readable part");
    if (hcase < 0)
        return dm_fail(DM_ERR_USAGE, "Bech32: mixed-case human-readable part");
    int upper = hcase == 2;

    size_t groups = (len * 8 + 4) / 5;
    if (len > (SIZE_MAX - hrp_len - 8) / 2 || hrp_len + 1 + groups + 6 + 1 > out_cap)
        return dm_fail(DM_ERR_INTERNAL, "Bech32: output buffer too small");

    char *o = out;
    for (size_t i = 0; i < hrp_len; i++) {
        unsigned char c = (unsigned char)hrp[i];
        *o++ = (char)(upper ? dm_upper(c) : dm_lower(c));
    }
    *o++ = '1';

    uint32_t chk = dm_bech32_hrp_state(hrp, hrp_len);
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = acc << 8 | data[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            uint8_t v = (acc >> bits) & 31;
            chk = dm_bech32_polymod_step(chk, v);
            *o++ = dm_bech32_charset[v];
        }
    }
    if (bits > 0) {
        uint8_t v = (acc << (5 - bits)) & 31;
        chk = dm_bech32_polymod_step(chk, v);
        *o++ = dm_bech32_charset[v];
    }
    for (int i = 0; i < 6; i++)
        chk = dm_bech32_polymod_step(chk, 0);
    chk ^= 1;
    for (int i = 0; i < 6; i++)
        *o++ = dm_bech32_charset[(chk >> (5 * (5 - i))) & 31];
    *o = '\0';
    if (upper)
        for (char *p = out + hrp_len + 1; p < o; p++)
            *p = (char)dm_upper((unsigned char)*p);
    /* Secret keys pass through here: leave no bits of them on the stack. */
    sodium_memzero(&acc, sizeof acc);
    return DM_OK;
}

int dm_bech32_decode(const char *s, char *hrp_out, size_t hrp_cap, uint8_t *data_out,
                     size_t data_cap, size_t *data_len) {
    size_t n = strlen(s);
    int scase = dm_bech32_scan_case(s, n);
    if (scase == 0)
        return dm_fail(DM_ERR_USAGE, "Bech32: invalid character");
    if (scase < 0)
        return dm_fail(DM_ERR_USAGE, "Bech32: mixed case");

    const char *sep = strrchr(s, '1');
    if (sep == NULL)
        return dm_fail(DM_ERR_USAGE, "Bech32: no separator");
    size_t hrp_len = (size_t)(sep - s);
    if (hrp_len == 0)
        return dm_fail(DM_ERR_USAGE, "Bech32: empty human-readable part");
    size_t nvals = n - hrp_len - 1;
    if (nvals < 6)
        return dm_fail(DM_ERR_USAGE, "Bech32: checksum too short");

    /* First pass: character set and checksum, so nothing is written for a
     * string that is not Bech32 at all. */
    uint32_t chk = dm_bech32_hrp_state(s, hrp_len);
    for (size_t i = 0; i < nvals; i++) {
        uint8_t v = dm_bech32_value(dm_lower((unsigned char)sep[1 + i]));
        if (v == 0xff)
            return dm_fail(DM_ERR_USAGE, "Bech32: invalid data character");
        chk = dm_bech32_polymod_step(chk, v);
    }
    if (chk != 1)
        return dm_fail(DM_ERR_USAGE, "Bech32: bad checksum");

    size_t payload_vals = nvals - 6;
    size_t out_len = payload_vals * 5 / 8;
    if (hrp_len + 1 > hrp_cap)
        return dm_fail(DM_ERR_USAGE, "Bech32: human-readable part too long");
    if (out_len > data_cap)
        return dm_fail(DM_ERR_USAGE, "Bech32: data too long (%zu bytes, at most %zu)", out_len,
                       data_cap);

    uint32_t acc = 0;
    unsigned bits = 0;
    size_t w = 0;
    for (size_t i = 0; i < payload_vals; i++) {
        acc = (acc << 5 | dm_bech32_value(dm_lower((unsigned char)sep[1 + i]))) & 0xfff;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            data_out[w++] = (uint8_t)(acc >> bits);
        }
    }
    /* Padding must be shorter than a group and all zero, or two strings
     * would decode to the same bytes. */
    int padding_ok = bits < 5 && (acc & ((1u << bits) - 1)) == 0;
    sodium_memzero(&acc, sizeof acc);
    if (!padding_ok) {
        sodium_memzero(data_out, out_len);
        return dm_fail(DM_ERR_USAGE, "Bech32: non-zero or overlong padding");
    }
    memcpy(hrp_out, s, hrp_len);
    hrp_out[hrp_len] = '\0';
    if (data_len)
        *data_len = out_len;
    return DM_OK;
}
