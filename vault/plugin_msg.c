/* The age plugin message codec (c2sp.org/age-plugin): a message is an age
 * header stanza, parsed and encoded here with the plugin's bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "plugin.h"

static int is_vchar(unsigned char c) {
    return c >= 0x21 && c <= 0x7e;
}

static int is_argument(const char *s) {
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (!is_vchar((unsigned char)*s))
            return 0;
    return 1;
}

void dm_plugin_msg_free(dm_plugin_msg *m) {
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nargs; i++)
        free(m->args[i]);
    free(m->args);
    dm_secret_free(m->body);
    memset(m, 0, sizeof *m);
}

/* The arguments of "-> a b c" (line without its '\n'). */
static int parse_args(const char *line, size_t n, dm_plugin_msg *m) {
    if (n < 3 || memcmp(line, "-> ", 3) != 0)
        return dm_fail(DM_ERR_PLUGIN, "a message does not start with \"-> \"");
    const char *p = line + 3, *end = line + n;
    size_t nargs = 1;
    if (p == end)
        return dm_fail(DM_ERR_PLUGIN, "a message has no command");
    for (const char *q = p; q < end; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == ' ') {
            if (q == p || q[-1] == ' ' || q + 1 == end)
                return dm_fail(DM_ERR_PLUGIN, "a message has an empty argument");
            nargs++;
        } else if (!is_vchar(c)) {
            return dm_fail(DM_ERR_PLUGIN, "a message has the invalid character 0x%02x", c);
        }
    }
    m->args = calloc(nargs, sizeof *m->args);
    if (m->args == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin message");
    for (size_t i = 0; i < nargs; i++) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        const char *stop = sp ? sp : end;
        if ((m->args[i] = strndup(p, (size_t)(stop - p))) == NULL)
            return dm_fail(DM_ERR_NOMEM, "plugin message");
        m->nargs = i + 1;
        p = stop + 1;
    }
    return DM_OK;
}

int dm_plugin_msg_parse(const uint8_t *buf, size_t len, dm_plugin_msg *out, size_t *used) {
    memset(out, 0, sizeof *out);
    const char *text = (const char *)buf;
    const char *nl =
        memchr(text, '\n', len < DM_PLUGIN_MAX_LINE + 1 ? len : DM_PLUGIN_MAX_LINE + 1);
    if (nl == NULL) {
        if (len > DM_PLUGIN_MAX_LINE)
            return dm_fail(DM_ERR_PLUGIN, "a message line is longer than %u bytes",
                           DM_PLUGIN_MAX_LINE);
        /* Fail early on what can't become a message. */
        size_t k = len < 3 ? len : 3;
        if (memcmp(text, "-> ", k) != 0)
            return dm_fail(DM_ERR_PLUGIN, "a message does not start with \"-> \"");
        return DM_PLUGIN_NEED_MORE;
    }
    size_t first = (size_t)(nl - text);
    /* The command line first: garbage is reported at once, not after a wait. */
    int err = parse_args(text, first, out);
    if (err != DM_OK) {
        dm_plugin_msg_free(out);
        return err;
    }

    /* Then the body lines: shape and size, before decoding anything. */
    size_t pos = first + 1, full_lines = 0, last_start = 0, last_len = 0;
    for (err = DM_OK; err == DM_OK;) {
        if (pos >= len) {
            err = DM_PLUGIN_NEED_MORE;
            break;
        }
        size_t room =
            len - pos < DM_PLUGIN_BODY_COLUMNS + 1 ? len - pos : DM_PLUGIN_BODY_COLUMNS + 1;
        const char *lf = memchr(text + pos, '\n', room);
        if (lf == NULL) {
            err = len - pos > DM_PLUGIN_BODY_COLUMNS
                      ? dm_fail(DM_ERR_PLUGIN, "a message body line is longer than %d columns",
                                DM_PLUGIN_BODY_COLUMNS)
                      : DM_PLUGIN_NEED_MORE;
            break;
        }
        size_t n = (size_t)(lf - (text + pos));
        if (n < DM_PLUGIN_BODY_COLUMNS) {
            last_start = pos;
            last_len = n;
            pos += n + 1;
            break;
        }
        if (++full_lines > DM_PLUGIN_MAX_BODY / DM_PLUGIN_BODY_CHUNK)
            err = dm_fail(DM_ERR_PLUGIN, "a message body is larger than %u bytes",
                          DM_PLUGIN_MAX_BODY);
        pos += n + 1;
    }
    if (err != DM_OK) {
        dm_plugin_msg_free(out);
        return err;
    }
    size_t cap = full_lines * DM_PLUGIN_BODY_CHUNK + DM_PLUGIN_BODY_CHUNK;
    if ((out->body = dm_secret_alloc(cap)) == NULL) {
        dm_plugin_msg_free(out);
        return dm_fail(DM_ERR_NOMEM, "plugin message body");
    }
    size_t at = first + 1, got = 0;
    for (size_t i = 0; i <= full_lines; i++) {
        size_t n = i < full_lines ? DM_PLUGIN_BODY_COLUMNS : last_len;
        const char *line = text + (i < full_lines ? at : last_start);
        size_t part = 0;
        if (dm_b64_decode(line, n, out->body + got, cap - got, &part) != DM_OK) {
            dm_plugin_msg_free(out);
            return dm_fail(DM_ERR_PLUGIN, "a message body is not canonical unpadded base64");
        }
        got += part;
        at += DM_PLUGIN_BODY_COLUMNS + 1;
    }
    out->body_len = got;
    *used = pos;
    return DM_OK;
}

int dm_plugin_msg_encode(const char *cmd, const char *const *args, size_t nargs,
                         const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len) {
    if (!is_argument(cmd))
        return dm_fail(DM_ERR_USAGE, "plugin message command is not an argument");
    size_t n = 3 + strlen(cmd) + 1;
    for (size_t i = 0; i < nargs; i++) {
        if (!is_argument(args[i]))
            return dm_fail(DM_ERR_USAGE, "plugin message argument %zu is not printable", i + 1);
        n += 1 + strlen(args[i]);
    }
    if (body_len > DM_PLUGIN_MAX_BODY)
        return dm_fail(DM_ERR_USAGE, "plugin message body is too large");
    size_t lines = body_len / DM_PLUGIN_BODY_CHUNK + 1;
    n += dm_b64_encoded_len(body_len) + lines;
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin message");
    char *p = buf;
    p += sprintf(p, "-> %s", cmd);
    for (size_t i = 0; i < nargs; i++)
        p += sprintf(p, " %s", args[i]);
    *p++ = '\n';
    for (size_t off = 0;; off += DM_PLUGIN_BODY_CHUNK) {
        size_t chunk =
            body_len - off < DM_PLUGIN_BODY_CHUNK ? body_len - off : DM_PLUGIN_BODY_CHUNK;
        size_t enc = dm_b64_encoded_len(chunk);
        if (dm_b64_encode(body + off, chunk, p, (size_t)(buf + n + 1 - p)) != DM_OK) {
            sodium_memzero(buf, n + 1);
            free(buf);
            return dm_fail(DM_ERR_INTERNAL, "plugin message encoding");
        }
        p += enc;
        *p++ = '\n';
        if (chunk < DM_PLUGIN_BODY_CHUNK)
            break;
    }
    *out = (uint8_t *)buf;
    *out_len = (size_t)(p - buf);
    return DM_OK;
}
