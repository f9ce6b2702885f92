/* Small helpers shared by the escrow modules: strict parsing of the
 * line-oriented text formats, hex decoding and base64, files, labelled signatures and
 * domain-separated HKDF. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "escrow_internal.h"

bool dm_escrow_next_line(dm_escrow_lines *it, const char **line, size_t *line_len,
                         bool *had_newline) {
    if (it->pos >= it->len)
        return false;
    const char *start = it->text + it->pos;
    const char *nl = memchr(start, '\n', it->len - it->pos);
    size_t n = nl ? (size_t)(nl - start) : it->len - it->pos;
    *line = start;
    *line_len = n;
    *had_newline = nl != NULL;
    it->pos += n + (nl ? 1 : 0);
    it->lineno++;
    return true;
}

static bool has_control(const char *line, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/* Next line that is not blank or a '#' comment; false at the end. */
bool dm_escrow_next_content(dm_escrow_lines *it, const char **line, size_t *len, int *err) {
    bool nl;
    while (dm_escrow_next_line(it, line, len, &nl)) {
        if (has_control(*line, *len)) {
            *err = dm_fail(DM_ERR_USAGE, "control character (CR, tab...) in line");
            return false;
        }
        if (*len == 0 || (*line)[0] == '#')
            continue;
        return true;
    }
    return false;
}

bool dm_escrow_field(const char *line, size_t line_len, const char *key, const char **value,
                     size_t *value_len) {
    size_t k = strlen(key);
    if (line_len < k + 2 || memcmp(line, key, k) != 0 || line[k] != ':' || line[k + 1] != ' ')
        return false;
    *value = line + k + 2;
    *value_len = line_len - k - 2;
    return true;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool dm_escrow_unhex(const char *in, size_t in_len, uint8_t *out, size_t n) {
    if (in_len != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool dm_escrow_unb64(const char *in, size_t in_len, uint8_t *out, size_t n) {
    size_t got = 0;
    if (in_len != dm_b64_encoded_len(n))
        return false;
    return dm_b64_decode(in, in_len, out, n, &got) == DM_OK && got == n;
}

int dm_escrow_b64(const uint8_t *in, size_t n, char *out, size_t out_cap) {
    if (dm_b64_encoded_len(n) + 1 > out_cap)
        return dm_fail(DM_ERR_INTERNAL, "base64 buffer too small");
    return dm_b64_encode(in, n, out, out_cap);
}

bool dm_escrow_parse_uint(const char *in, size_t in_len, unsigned max, unsigned *out) {
    if (in_len == 0 || in_len > 10 || (in_len > 1 && in[0] == '0'))
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < in_len; i++) {
        if (in[i] < '0' || in[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(in[i] - '0');
    }
    if (v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* A name of 1 to max bytes, each of which ok() accepts at its place. */
static bool valid_chars(const char *s, size_t len, size_t max, bool (*ok)(char c, size_t i)) {
    if (len < 1 || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!ok(s[i], i))
            return false;
    return true;
}

static bool name_char(char c, size_t i) {
    (void)i;
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

static bool agent_name_char(char c, size_t i) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
}

bool dm_escrow_valid_name(const char *s, size_t len) {
    return valid_chars(s, len, DM_ESCROW_MAX_NAME, name_char);
}

bool dm_escrow_valid_agent_name(const char *s, size_t len) {
    return valid_chars(s, len, DM_ESCROW_MAX_AGENT_NAME, agent_name_char);
}

bool dm_escrow_valid_text(const char *s, size_t len, size_t max) {
    return len >= 1 && len <= max && !has_control(s, len);
}

void *dm_escrow_parse_new(size_t size, size_t *line_out) {
    if (line_out)
        *line_out = 0;
    return dm_secret_new(size);
}

/* ------------------------------------------------------------ text buffer */

int dm_escrow_buf_take(dm_buf *b, char **text, size_t *len) {
    return dm_buf_take(b, text, len) ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------ files */

int dm_escrow_read_file(const char *path, bool secret, char **buf, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dm_fail(DM_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > DM_ESCROW_MAX_TEXT) {
        close(fd);
        return dm_fail(DM_ERR_USAGE, "%s: larger than %u bytes", path, DM_ESCROW_MAX_TEXT);
    }
    size_t cap = (size_t)st.st_size + 1;
    char *p = secret ? dm_secret_alloc(cap) : malloc(cap);
    if (!p) {
        close(fd);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    ssize_t r = dm_read_all(fd, p, cap - 1);
    close(fd);
    size_t got = r < 0 ? 0 : (size_t)r;
    if (r < 0 || got != cap - 1) {
        if (secret) {
            dm_secret_free(p);
        } else {
            free(p);
        }
        return dm_fail(DM_ERR_IO, "%s: short read", path);
    }
    p[got] = '\0';
    *buf = p;
    *len = got;
    return DM_OK;
}

int dm_escrow_fail_at(int err, const char *path, size_t line) {
    char detail[512];
    snprintf(detail, sizeof detail, "%s", dm_err_detail());
    if (line > 0)
        return dm_fail(err, "%s: line %zu: %s", path, line, detail);
    return dm_fail(err, "%s: %s", path, detail);
}

/* ----------------------------------------------------------------- crypto */

static int labelled(const char *label, const uint8_t *msg, size_t len, uint8_t **out,
                    size_t *out_len) {
    size_t l = strlen(label);
    uint8_t *m = malloc(l + 1 + len + 1);
    if (!m)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(m, label, l);
    m[l] = '\n';
    if (len)
        memcpy(m + l + 1, msg, len);
    *out = m;
    *out_len = l + 1 + len;
    return DM_OK;
}

int dm_escrow_sign(const uint8_t sk[64], const char *label, const uint8_t *msg, size_t len,
                   uint8_t sig[DM_ESCROW_SIG_LEN]) {
    uint8_t *m;
    size_t mlen;
    int err = labelled(label, msg, len, &m, &mlen);
    if (err)
        return err;
    int rc = crypto_sign_detached(sig, NULL, m, mlen, sk);
    free(m);
    return rc == 0 ? DM_OK : dm_fail(DM_ERR_INTERNAL, "Ed25519 signing failed");
}

bool dm_escrow_verify_sig(const uint8_t pk[32], const char *label, const uint8_t *msg, size_t len,
                          const uint8_t sig[DM_ESCROW_SIG_LEN]) {
    uint8_t *m;
    size_t mlen;
    if (labelled(label, msg, len, &m, &mlen) != DM_OK)
        return false;
    int rc = crypto_sign_verify_detached(sig, m, mlen, pk);
    free(m);
    return rc == 0;
}

int dm_escrow_kdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                  const char *label, const uint8_t id[DM_ESCROW_ID_LEN], const uint8_t *extra,
                  size_t extra_len, uint8_t *out, size_t out_len) {
    char info[256];
    size_t l = strlen(label);
    if (l + DM_ESCROW_ID_LEN + extra_len > sizeof info)
        return dm_fail(DM_ERR_INTERNAL, "HKDF info too long");
    memcpy(info, label, l);
    memcpy(info + l, id, DM_ESCROW_ID_LEN);
    if (extra_len)
        memcpy(info + l + DM_ESCROW_ID_LEN, extra, extra_len);
    return dm_hkdf_sha256(ikm, ikm_len, salt, salt_len, info, l + DM_ESCROW_ID_LEN + extra_len, out,
                          out_len);
}
