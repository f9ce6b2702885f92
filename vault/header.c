/* The age v1 header (c2sp.org/age, "Header"): strict parser, canonical
 * encoder, header MAC and file id.
 *
 * The parser accepts exactly the bytes the encoder produces for some stanza
 * list, so the MAC and the file id are computed over a re-encoding of the
 * parsed stanzas: there is nothing else they could have been computed over. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define DM_VERSION_PREFIX "age-encryption.org/"
#define DM_MAC_MARK "---"
#define DM_STANZA_MARK "->"
#define DM_BODY_COLUMNS 64
#define DM_MAC_B64_LEN 43 /* base64 of DM_MAC_LEN bytes, unpadded */

/* ----------------------------------------------------------------- parser */

typedef struct dm_cursor {
    const uint8_t *buf;
    size_t len; /* bytes we are willing to look at (at most DM_MAX_HEADER_LEN) */
    size_t pos;
    size_t lineno;
    int capped; /* len was cut to DM_MAX_HEADER_LEN */
} dm_cursor;

/* Yields the next line without its '\n'. Every header line ends in '\n';
 * a missing one means a truncated (or oversized) header. */
static int dm_next_line(dm_cursor *c, const char **line, size_t *n) {
    c->lineno++;
    if (c->pos >= c->len) {
        if (c->capped)
            return dm_fail(DM_ERR_HEADER, "header larger than %u bytes", DM_MAX_HEADER_LEN);
        return dm_fail(DM_ERR_HEADER, "header line %zu: unexpected end of header", c->lineno);
    }
    const uint8_t *start = c->buf + c->pos;
    const uint8_t *lf = memchr(start, '\n', c->len - c->pos);
    if (lf == NULL) {
        if (c->capped)
            return dm_fail(DM_ERR_HEADER, "header larger than %u bytes", DM_MAX_HEADER_LEN);
        return dm_fail(DM_ERR_HEADER, "header line %zu: no line ending (truncated header)",
                       c->lineno);
    }
    *line = (const char *)start;
    *n = (size_t)(lf - start);
    c->pos += *n + 1;
    return DM_OK;
}

/* A CR is the most likely foreign byte (a file that went through a text
 * mode transfer); name it rather than report a generic bad character. */
static int dm_has_cr(const char *line, size_t n) {
    return memchr(line, '\r', n) != NULL;
}

static int dm_fail_cr(const dm_cursor *c) {
    return dm_fail(DM_ERR_HEADER,
                   "header line %zu: carriage return (CRLF line endings are not "
                   "allowed)",
                   c->lineno);
}

static int dm_starts_with(const char *line, size_t n, const char *prefix) {
    size_t k = strlen(prefix);
    return n >= k && memcmp(line, prefix, k) == 0;
}

static int dm_parse_version(dm_cursor *c) {
    if (c->len == 0)
        return dm_fail(DM_ERR_HEADER, "empty input: not an age file");
    size_t plen = strlen(DM_VERSION_PREFIX);
    size_t avail = c->len < plen ? c->len : plen;
    if (memcmp(c->buf, DM_VERSION_PREFIX, avail) != 0)
        return dm_fail(DM_ERR_HEADER, "header line 1: not an age file (no \"%s\" version line)",
                       DM_VERSION_PREFIX "v1");
    const char *line;
    size_t n;
    int err = dm_next_line(c, &line, &n);
    if (err)
        return err;
    if (dm_has_cr(line, n))
        return dm_fail_cr(c);
    const char *version = line + plen;
    size_t vlen = n - plen;
    if (vlen == 2 && memcmp(version, "v1", 2) == 0)
        return DM_OK;
    int printable = vlen > 0 && vlen <= 32;
    for (size_t i = 0; printable && i < vlen; i++)
        printable = version[i] >= 0x21 && version[i] <= 0x7e;
    if (printable)
        return dm_fail(DM_ERR_HEADER, "header line 1: unsupported version \"%.*s\"", (int)vlen,
                       version);
    return dm_fail(DM_ERR_HEADER, "header line 1: unsupported version");
}

/* "-> arg1 arg2 ..." with every argument 1*VCHAR and single spaces. */
static int dm_parse_arg_line(const dm_cursor *c, const char *line, size_t n, char ***args_out,
                             size_t *nargs_out) {
    if (n == strlen(DM_STANZA_MARK))
        return dm_fail(DM_ERR_HEADER, "header line %zu: stanza has no arguments", c->lineno);
    if (line[2] != ' ')
        return dm_fail(DM_ERR_HEADER, "header line %zu: stanza must start with \"-> \"", c->lineno);
    const char *p = line + 3, *end = line + n;
    size_t nargs = 1;
    for (const char *q = p; q < end; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch == ' ') {
            if (q == p || q[-1] == ' ' || q + 1 == end)
                return dm_fail(DM_ERR_HEADER,
                               "header line %zu: empty stanza argument (extra "
                               "space)",
                               c->lineno);
            nargs++;
        } else if (ch < 0x21 || ch > 0x7e) {
            if (ch == '\r')
                return dm_fail_cr(c);
            return dm_fail(DM_ERR_HEADER,
                           "header line %zu: stanza argument has invalid character 0x%02x",
                           c->lineno, ch);
        }
    }
    if (p == end)
        return dm_fail(DM_ERR_HEADER, "header line %zu: empty stanza argument (extra space)",
                       c->lineno);

    char **args = calloc(nargs, sizeof(char *));
    if (args == NULL)
        return dm_fail(DM_ERR_NOMEM, "stanza arguments");
    for (size_t i = 0; i < nargs; i++) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        const char *stop = sp ? sp : end;
        args[i] = strndup(p, (size_t)(stop - p));
        if (args[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free(args[j]);
            free(args);
            return dm_fail(DM_ERR_NOMEM, "stanza arguments");
        }
        p = stop + 1;
    }
    *args_out = args;
    *nargs_out = nargs;
    return DM_OK;
}

static void dm_free_args(char **args, size_t nargs) {
    for (size_t i = 0; i < nargs; i++)
        free(args[i]);
    free(args);
}

/* Body lines: full 64-column lines, then one shorter (possibly empty) line. */
static int dm_parse_body(dm_cursor *c, uint8_t **body_out, size_t *body_len_out) {
    uint8_t *body = NULL;
    size_t len = 0, cap = 0;
    int err = DM_OK;
    for (;;) {
        const char *line;
        size_t n;
        err = dm_next_line(c, &line, &n);
        if (err)
            break;
        if (n > DM_BODY_COLUMNS) {
            err = dm_fail(DM_ERR_HEADER, "header line %zu: stanza body line longer than %d columns",
                          c->lineno, DM_BODY_COLUMNS);
            break;
        }
        if (dm_has_cr(line, n)) {
            err = dm_fail_cr(c);
            break;
        }
        if (cap - len < 48) {
            size_t ncap = cap ? cap * 2 : 64;
            uint8_t *nb = realloc(body, ncap);
            if (nb == NULL) {
                err = dm_fail(DM_ERR_NOMEM, "stanza body");
                break;
            }
            body = nb;
            cap = ncap;
        }
        size_t got = 0;
        if (dm_b64_decode(line, n, body + len, cap - len, &got) != DM_OK) {
            err =
                dm_fail(DM_ERR_HEADER,
                        "header line %zu: stanza body is not canonical unpadded base64", c->lineno);
            break;
        }
        len += got;
        if (n < DM_BODY_COLUMNS)
            break;
    }
    if (err) {
        free(body);
        return err;
    }
    *body_out = body;
    *body_len_out = len;
    return DM_OK;
}

static int dm_parse_mac_line(const dm_cursor *c, const char *line, size_t n,
                             uint8_t mac[DM_MAC_LEN]) {
    if (dm_has_cr(line, n))
        return dm_fail_cr(c);
    if (n < 4 || line[3] != ' ')
        return dm_fail(DM_ERR_HEADER, "header line %zu: MAC line must be \"--- \" and the MAC",
                       c->lineno);
    if (n != 4 + DM_MAC_B64_LEN)
        return dm_fail(DM_ERR_HEADER,
                       "header line %zu: MAC must be %d base64 characters, found %zu", c->lineno,
                       DM_MAC_B64_LEN, n - 4);
    size_t got = 0;
    if (dm_b64_decode(line + 4, DM_MAC_B64_LEN, mac, DM_MAC_LEN, &got) != DM_OK ||
        got != DM_MAC_LEN)
        return dm_fail(DM_ERR_HEADER, "header line %zu: MAC is not canonical unpadded base64",
                       c->lineno);
    return DM_OK;
}

int dm_header_parse(const uint8_t *buf, size_t len, dm_header *out) {
    memset(out, 0, sizeof *out);
    dm_cursor c = {.buf = buf, .len = len, .pos = 0, .lineno = 0, .capped = 0};
    if (c.len > DM_MAX_HEADER_LEN) {
        c.len = DM_MAX_HEADER_LEN;
        c.capped = 1;
    }

    int err = dm_parse_version(&c);
    if (err)
        return err;

    for (;;) {
        const char *line;
        size_t n;
        err = dm_next_line(&c, &line, &n);
        if (err)
            goto fail;
        if (dm_starts_with(line, n, DM_MAC_MARK)) {
            if (out->stanzas.len == 0) {
                err = dm_fail(DM_ERR_HEADER, "header line %zu: no recipient stanzas", c.lineno);
                goto fail;
            }
            err = dm_parse_mac_line(&c, line, n, out->mac);
            if (err)
                goto fail;
            break;
        }
        if (!dm_starts_with(line, n, DM_STANZA_MARK)) {
            err = dm_fail(DM_ERR_HEADER,
                          "header line %zu: expected a stanza (\"-> \") or the MAC line (\"--- \")",
                          c.lineno);
            goto fail;
        }
        char **args = NULL;
        size_t nargs = 0;
        err = dm_parse_arg_line(&c, line, n, &args, &nargs);
        if (err)
            goto fail;
        uint8_t *body = NULL;
        size_t body_len = 0;
        err = dm_parse_body(&c, &body, &body_len);
        if (err == DM_OK)
            err = dm_stanza_list_add(&out->stanzas, args[0], (const char *const *)args + 1,
                                     nargs - 1, body, body_len);
        dm_free_args(args, nargs);
        free(body);
        if (err)
            goto fail;
    }
    out->len = c.pos;
    return DM_OK;

fail:
    dm_header_clear(out);
    return err;
}

/* ---------------------------------------------------------------- encoder */

static size_t dm_body_encoded_len(size_t body_len) {
    size_t b64 = dm_b64_encoded_len(body_len);
    /* Every line has its '\n', and a body whose base64 fills its last line
     * (or is empty) still needs the short final line, empty. */
    return b64 + b64 / DM_BODY_COLUMNS + 1;
}

/* Length of the header up to and including "---" (what the MAC covers). */
static int dm_header_mac_input_len(const dm_header *hdr, size_t *out) {
    if (hdr->stanzas.len == 0)
        return dm_fail(DM_ERR_USAGE, "a header needs at least one recipient stanza");
    size_t total = strlen(DM_INTRO);
    for (size_t i = 0; i < hdr->stanzas.len; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        if (!dm_stanza_is_argument(st->type))
            return dm_fail(DM_ERR_USAGE, "stanza %zu: type is empty or not printable ASCII", i + 1);
        total += 3 + strlen(st->type);
        for (size_t j = 0; j < st->nargs; j++) {
            if (!dm_stanza_is_argument(st->args[j]))
                return dm_fail(DM_ERR_USAGE,
                               "stanza %zu: argument %zu is empty or not printable ASCII", i + 1,
                               j + 1);
            total += 1 + strlen(st->args[j]);
        }
        total += 1 + dm_body_encoded_len(st->body_len);
    }
    *out = total + strlen(DM_MAC_MARK);
    return DM_OK;
}

static char *dm_put(char *o, const char *s) {
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

/* Writes the header through "---" into out (sized by dm_header_mac_input_len). */
static int dm_header_write_mac_input(const dm_header *hdr, char *out) {
    char *o = dm_put(out, DM_INTRO);
    for (size_t i = 0; i < hdr->stanzas.len; i++) {
        const dm_stanza *st = &hdr->stanzas.items[i];
        o = dm_put(o, DM_STANZA_MARK " ");
        o = dm_put(o, st->type);
        for (size_t j = 0; j < st->nargs; j++) {
            *o++ = ' ';
            o = dm_put(o, st->args[j]);
        }
        *o++ = '\n';
        /* 48 bytes make exactly one 64-column line of base64. */
        size_t off = 0;
        for (;;) {
            size_t take = st->body_len - off < 48 ? st->body_len - off : 48;
            size_t cols = dm_b64_encoded_len(take);
            int err = dm_b64_encode(st->body ? st->body + off : NULL, take, o, cols);
            if (err)
                return err;
            o += cols;
            *o++ = '\n';
            off += take;
            if (cols < DM_BODY_COLUMNS)
                break;
        }
    }
    dm_put(o, DM_MAC_MARK);
    return DM_OK;
}

static int dm_header_mac(const uint8_t *bytes, size_t n, const uint8_t file_key[DM_FILE_KEY_LEN],
                         uint8_t mac[DM_MAC_LEN]) {
    uint8_t *key = dm_secret_alloc(32);
    if (key == NULL)
        return dm_fail(DM_ERR_NOMEM, "header MAC key");
    int err = dm_hkdf_sha256(file_key, DM_FILE_KEY_LEN, NULL, 0, "header", 6, key, 32);
    if (err == DM_OK)
        err = dm_hmac_sha256(key, 32, bytes, n, mac);
    dm_secret_free(key);
    return err;
}

/* The full encoding with hdr->mac as the MAC line. */
static int dm_header_encode_with_mac(const dm_header *hdr, const uint8_t *mac_override,
                                     uint8_t **out, size_t *out_len, size_t *mac_input_len) {
    size_t n;
    int err = dm_header_mac_input_len(hdr, &n);
    if (err)
        return err;
    size_t total = n + 1 + DM_MAC_B64_LEN + 1;
    char *buf = malloc(total + 1);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "header encoding");
    err = dm_header_write_mac_input(hdr, buf);
    if (!err)
        err = dm_b64_encode(mac_override ? mac_override : hdr->mac, DM_MAC_LEN, buf + n + 1,
                            DM_MAC_B64_LEN);
    if (err) {
        free(buf);
        return err;
    }
    buf[n] = ' ';
    buf[total - 1] = '\n';
    buf[total] = '\0';
    *out = (uint8_t *)buf;
    *out_len = total;
    if (mac_input_len)
        *mac_input_len = n;
    return DM_OK;
}

int dm_header_encode(dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN], uint8_t **out,
                     size_t *out_len) {
    static const uint8_t zero_mac[DM_MAC_LEN];
    uint8_t *buf;
    size_t total, n;
    int err = dm_header_encode_with_mac(hdr, zero_mac, &buf, &total, &n);
    if (err)
        return err;
    uint8_t mac[DM_MAC_LEN];
    err = dm_header_mac(buf, n, file_key, mac);
    if (err) {
        free(buf);
        return err;
    }
    err = dm_b64_encode(mac, DM_MAC_LEN, (char *)buf + n + 1, DM_MAC_B64_LEN);
    if (err) {
        free(buf);
        return err;
    }
    memcpy(hdr->mac, mac, DM_MAC_LEN);
    hdr->len = total;
    *out = buf;
    *out_len = total;
    return DM_OK;
}

int dm_header_verify_mac(const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN]) {
    size_t n;
    int err = dm_header_mac_input_len(hdr, &n);
    if (err)
        return err;
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "header encoding");
    err = dm_header_write_mac_input(hdr, buf);
    uint8_t mac[DM_MAC_LEN];
    if (!err)
        err = dm_header_mac((const uint8_t *)buf, n, file_key, mac);
    free(buf);
    if (err)
        return err;
    /* Constant time: a timing difference would let an attacker forge the MAC byte by byte. */
    if (sodium_memcmp(mac, hdr->mac, DM_MAC_LEN) != 0)
        return dm_fail(DM_ERR_HMAC, "header MAC does not match (wrong file key or altered "
                                    "header)");
    return DM_OK;
}

int dm_header_file_id(const dm_header *hdr, uint8_t id[DM_FILE_ID_LEN]) {
    uint8_t *buf;
    size_t total;
    int err = dm_header_encode_with_mac(hdr, NULL, &buf, &total, NULL);
    if (err)
        return err;
    uint8_t digest[32];
    dm_sha256(buf, total, digest);
    free(buf);
    memcpy(id, digest, DM_FILE_ID_LEN);
    return DM_OK;
}

void dm_header_clear(dm_header *hdr) {
    if (hdr == NULL)
        return;
    dm_stanza_list_clear(&hdr->stanzas);
    memset(hdr, 0, sizeof *hdr);
}
