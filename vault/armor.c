/* Strict ASCII armor (c2sp.org/age, "ASCII armor"): RFC 7468 strict PEM,
 * label "AGE ENCRYPTED FILE", 64-column padded base64, no headers.
 *
 * Tolerated, as age tolerates it: whitespace-only lines before the BEGIN
 * line (at most 1024 bytes), whitespace after the END line (less than 1024
 * bytes), CRLF instead of LF, and no line ending after the END line.
 * Everything else that would give the same bytes another encoding is
 * rejected (short lines before the last, empty lines, missing or misplaced
 * padding, non-canonical trailing bits, spaces), because armor that admits
 * several encodings of one file makes the file malleable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DM_ARMOR_COLUMNS 64
#define DM_ARMOR_LINE_BYTES 48 /* binary bytes in one full line */
#define DM_ARMOR_MAX_WHITESPACE 1024
/* Longest line the reader will look at: a whitespace-only line may use the
 * whole whitespace allowance; anything longer is malformed whatever it is. */
#define DM_ARMOR_MAX_LINE (DM_ARMOR_MAX_WHITESPACE + 2)
#define DM_ARMOR_READ_BLOCK 65536

static int dm_is_ws(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int dm_armor_detect(const uint8_t *buf, size_t len) {
    size_t i = 0;
    while (i < len && dm_is_ws(buf[i]))
        i++;
    size_t blen = strlen(DM_ARMOR_BEGIN);
    return len - i >= blen && memcmp(buf + i, DM_ARMOR_BEGIN, blen) == 0;
}

/* ----------------------------------------------------------------- reader */

enum {
    DM_ARMOR_ST_BEGIN,    /* whitespace lines, then the BEGIN line */
    DM_ARMOR_ST_DATA,     /* full data lines, a last line, or END */
    DM_ARMOR_ST_NEED_END, /* after a short (last) line: only END */
    DM_ARMOR_ST_DONE,     /* END and trailing whitespace checked */
};

struct dm_armor_reader {
    dm_source inner;
    uint8_t *in; /* raw armored bytes, [in_pos, in_len) not yet consumed */
    size_t in_len, in_pos, in_cap;
    int in_eof;
    int state;
    int err; /* sticky: DM_OK, DM_ERR_ARMOR or DM_ERR_IO */
    char detail[192];
    size_t lineno;
    size_t leading_ws;
    uint8_t pend[DM_ARMOR_LINE_BYTES]; /* decoded bytes the caller had no room for */
    size_t pend_len, pend_pos;
};

/* Records a sticky failure; the detail is kept so every later read can
 * report it again in whatever thread asks. */
static int dm_armor_set_err(dm_armor_reader *r, int err, const char *detail) {
    r->err = err;
    size_t n = strlen(detail);
    if (n >= sizeof r->detail)
        n = sizeof r->detail - 1;
    memcpy(r->detail, detail, n);
    r->detail[n] = '\0';
    dm_fail(err, "%s", r->detail);
    return -1;
}

static int dm_armor_bad(dm_armor_reader *r, const char *what) {
    char msg[160];
    if (r->lineno > 0)
        snprintf(msg, sizeof msg, "armor line %zu: %s", r->lineno, what);
    else
        snprintf(msg, sizeof msg, "%s", what);
    return dm_armor_set_err(r, DM_ERR_ARMOR, msg);
}

/* Makes more raw input available; 0 on success (possibly hitting EOF). */
static int dm_armor_fill(dm_armor_reader *r) {
    if (r->in_pos > 0) {
        memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
        r->in_len -= r->in_pos;
        r->in_pos = 0;
    }
    ssize_t got = r->inner.read(r->inner.ctx, r->in + r->in_len, r->in_cap - r->in_len);
    if (got < 0)
        return dm_armor_set_err(r, DM_ERR_IO, "read failed");
    if (got == 0)
        r->in_eof = 1;
    r->in_len += (size_t)got;
    return 0;
}

/* Next line without its "\n" or "\r\n". Returns 1 with a line, 0 at EOF
 * (nothing left), -1 on failure. The last line may lack its line ending. */
static int dm_armor_line(dm_armor_reader *r, const uint8_t **line, size_t *n) {
    for (;;) {
        size_t avail = r->in_len - r->in_pos;
        const uint8_t *start = r->in + r->in_pos;
        const uint8_t *lf = memchr(start, '\n', avail);
        if (lf != NULL || (r->in_eof && avail > 0)) {
            size_t len = lf ? (size_t)(lf - start) : avail;
            r->in_pos += lf ? len + 1 : len;
            if (len > 0 && start[len - 1] == '\r')
                len--;
            r->lineno++;
            *line = start;
            *n = len;
            return 1;
        }
        if (r->in_eof)
            return 0;
        if (avail > DM_ARMOR_MAX_LINE) {
            r->lineno++;
            return dm_armor_bad(r, "line too long");
        }
        if (dm_armor_fill(r) < 0)
            return -1;
    }
}

static int dm_line_is(const uint8_t *line, size_t n, const char *text) {
    return n == strlen(text) && memcmp(line, text, n) == 0;
}

static int dm_all_ws(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!dm_is_ws(p[i]))
            return 0;
    return 1;
}

/* After END: the rest of the input must be a little whitespace. */
static int dm_armor_drain(dm_armor_reader *r) {
    size_t total = 0;
    for (;;) {
        size_t avail = r->in_len - r->in_pos;
        if (!dm_all_ws(r->in + r->in_pos, avail))
            return dm_armor_bad(r, "data after the END line");
        total += avail;
        r->in_pos = r->in_len;
        if (total >= DM_ARMOR_MAX_WHITESPACE)
            return dm_armor_bad(r, "too much whitespace after the END line");
        if (r->in_eof)
            return 0;
        if (dm_armor_fill(r) < 0)
            return -1;
    }
}

/* Decodes one padded base64 data line (1..64 columns) into out. */
static int dm_armor_decode_line(dm_armor_reader *r, const uint8_t *line, size_t n, uint8_t *out,
                                size_t *got) {
    if (n % 4 != 0)
        return dm_armor_bad(r, "base64 line length is not a multiple of 4 (missing padding?)");
    /* With the length a multiple of 4, at most two trailing '=' leave 2 or 3
     * data characters in the last quantum, as RFC 4648 pads; an '=' anywhere
     * else is an invalid character to the decoder. */
    size_t pad = 0;
    while (pad < 2 && line[n - 1 - pad] == '=')
        pad++;
    if (dm_b64_decode((const char *)line, n - pad, out, DM_ARMOR_LINE_BYTES, got) != DM_OK)
        return dm_armor_bad(r, "invalid or non-canonical base64");
    return 0;
}

/* Processes lines until one yields data (into out, room for a full line),
 * or the armor ends. Returns bytes produced (0 at the end) or -1. */
static ssize_t dm_armor_step(dm_armor_reader *r, uint8_t *out) {
    for (;;) {
        const uint8_t *line = NULL;
        size_t n = 0;
        int rc = dm_armor_line(r, &line, &n);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return dm_armor_bad(r, r->state == DM_ARMOR_ST_BEGIN
                                       ? "no BEGIN line (empty input)"
                                       : "unexpected end of input (no END line)");
        switch (r->state) {
        case DM_ARMOR_ST_BEGIN:
            if (dm_all_ws(line, n)) {
                r->leading_ws += n + 1;
                if (r->leading_ws > DM_ARMOR_MAX_WHITESPACE)
                    return dm_armor_bad(r, "too much whitespace before the BEGIN line");
                continue;
            }
            if (!dm_line_is(line, n, DM_ARMOR_BEGIN))
                return dm_armor_bad(r, "expected \"" DM_ARMOR_BEGIN "\"");
            r->state = DM_ARMOR_ST_DATA;
            continue;
        case DM_ARMOR_ST_DATA: {
            if (dm_line_is(line, n, DM_ARMOR_END)) {
                if (dm_armor_drain(r) < 0)
                    return -1;
                r->state = DM_ARMOR_ST_DONE;
                return 0;
            }
            if (n == 0)
                return dm_armor_bad(r, "empty line");
            if (line[0] == '-')
                return dm_armor_bad(r, "expected \"" DM_ARMOR_END "\"");
            if (n > DM_ARMOR_COLUMNS)
                return dm_armor_bad(r, "line longer than 64 columns");
            size_t got = 0;
            if (dm_armor_decode_line(r, line, n, out, &got) < 0)
                return -1;
            if (got < DM_ARMOR_LINE_BYTES)
                r->state = DM_ARMOR_ST_NEED_END;
            return (ssize_t)got;
        }
        case DM_ARMOR_ST_NEED_END:
            if (!dm_line_is(line, n, DM_ARMOR_END))
                return dm_armor_bad(r, n == 0 ? "empty line (expected the END line)"
                                              : "short line before the end (expected the END "
                                                "line)");
            if (dm_armor_drain(r) < 0)
                return -1;
            r->state = DM_ARMOR_ST_DONE;
            return 0;
        default:
            return 0;
        }
    }
}

static ssize_t dm_armor_read(void *ctx, uint8_t *buf, size_t n) {
    dm_armor_reader *r = ctx;
    size_t out = 0;
    while (out < n) {
        if (r->pend_pos < r->pend_len) {
            size_t take = r->pend_len - r->pend_pos;
            if (take > n - out)
                take = n - out;
            memcpy(buf + out, r->pend + r->pend_pos, take);
            r->pend_pos += take;
            out += take;
            continue;
        }
        if (r->err != DM_OK || r->state == DM_ARMOR_ST_DONE)
            break;
        /* Decode straight into the caller's buffer when a whole line fits. */
        int direct = n - out >= DM_ARMOR_LINE_BYTES;
        ssize_t got = dm_armor_step(r, direct ? buf + out : r->pend);
        if (got < 0)
            break;
        if (direct) {
            out += (size_t)got;
        } else {
            r->pend_len = (size_t)got;
            r->pend_pos = 0;
        }
    }
    /* Bytes already decoded go out first; the failure comes with the next read. */
    if (out > 0)
        return (ssize_t)out;
    if (r->err != DM_OK) {
        dm_fail(r->err, "%s", r->detail);
        return -1;
    }
    return 0;
}

int dm_armor_reader_new(dm_source inner, const uint8_t *prefix, size_t prefix_len,
                        dm_armor_reader **out) {
    dm_armor_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return dm_fail(DM_ERR_NOMEM, "armor reader");
    r->inner = inner;
    r->in_cap = DM_ARMOR_READ_BLOCK;
    if (prefix_len + DM_ARMOR_MAX_LINE > r->in_cap)
        r->in_cap = prefix_len + DM_ARMOR_MAX_LINE;
    r->in = malloc(r->in_cap);
    if (r->in == NULL) {
        free(r);
        return dm_fail(DM_ERR_NOMEM, "armor reader");
    }
    if (prefix_len > 0)
        memcpy(r->in, prefix, prefix_len);
    r->in_len = prefix_len;
    r->state = DM_ARMOR_ST_BEGIN;
    *out = r;
    return DM_OK;
}

dm_source dm_armor_reader_source(dm_armor_reader *r) {
    return (dm_source){dm_armor_read, r, DM_SOURCE_STREAM};
}

int dm_armor_reader_err(const dm_armor_reader *r) {
    /* Said again: whoever read through the armor may have written its own detail since. */
    if (r->err != DM_OK)
        dm_fail(r->err, "%s", r->detail);
    return r->err;
}

void dm_armor_reader_free(dm_armor_reader *r) {
    if (r == NULL)
        return;
    free(r->in);
    free(r);
}

/* ----------------------------------------------------------------- writer */

/* Staged text: whole lines, flushed to the inner sink in large writes. */
#define DM_ARMOR_STAGE_LINES 1024
#define DM_ARMOR_STAGE_CAP (DM_ARMOR_STAGE_LINES * (DM_ARMOR_COLUMNS + 1))

struct dm_armor_writer {
    dm_sink inner;
    int started, finished, failed;
    uint8_t carry[DM_ARMOR_LINE_BYTES];
    size_t carry_len;
    char *stage;
    size_t stage_len;
};

static int dm_armor_flush(dm_armor_writer *w) {
    if (w->stage_len == 0)
        return 0;
    if (w->inner.write(w->inner.ctx, (const uint8_t *)w->stage, w->stage_len) != 0) {
        w->failed = 1;
        dm_fail(DM_ERR_IO, "writing the output: %s", strerror(errno));
        return -1;
    }
    w->stage_len = 0;
    return 0;
}

static int dm_armor_room(dm_armor_writer *w, size_t need) {
    if (DM_ARMOR_STAGE_CAP - w->stage_len >= need)
        return 0;
    return dm_armor_flush(w);
}

static int dm_armor_stage_text(dm_armor_writer *w, const char *text) {
    size_t n = strlen(text);
    if (dm_armor_room(w, n + 1) < 0)
        return -1;
    memcpy(w->stage + w->stage_len, text, n);
    w->stage[w->stage_len + n] = '\n';
    w->stage_len += n + 1;
    return 0;
}

static int dm_armor_start(dm_armor_writer *w) {
    if (w->started)
        return 0;
    w->started = 1;
    return dm_armor_stage_text(w, DM_ARMOR_BEGIN);
}

/* One line of base64 for up to 48 bytes, '='-padded, with its '\n'. */
static int dm_armor_stage_line(dm_armor_writer *w, const uint8_t *bytes, size_t n) {
    if (dm_armor_room(w, DM_ARMOR_COLUMNS + 1) < 0)
        return -1;
    char *o = w->stage + w->stage_len;
    size_t cols = dm_b64_encoded_len(n);
    if (dm_b64_encode(bytes, n, o, cols) != DM_OK)
        return -1;
    while (cols % 4 != 0)
        o[cols++] = '=';
    o[cols] = '\n';
    w->stage_len += cols + 1;
    return 0;
}

static int dm_armor_write(void *ctx, const uint8_t *buf, size_t n) {
    dm_armor_writer *w = ctx;
    if (w->finished || w->failed) {
        dm_fail(DM_ERR_INTERNAL, "write to a finished or failed armor writer");
        return -1;
    }
    if (dm_armor_start(w) < 0)
        return -1;
    if (w->carry_len > 0) {
        size_t take = DM_ARMOR_LINE_BYTES - w->carry_len;
        if (take > n)
            take = n;
        memcpy(w->carry + w->carry_len, buf, take);
        w->carry_len += take;
        buf += take;
        n -= take;
        if (w->carry_len < DM_ARMOR_LINE_BYTES)
            return 0;
        if (dm_armor_stage_line(w, w->carry, DM_ARMOR_LINE_BYTES) < 0)
            return -1;
        w->carry_len = 0;
    }
    while (n >= DM_ARMOR_LINE_BYTES) {
        if (dm_armor_stage_line(w, buf, DM_ARMOR_LINE_BYTES) < 0)
            return -1;
        buf += DM_ARMOR_LINE_BYTES;
        n -= DM_ARMOR_LINE_BYTES;
    }
    if (n > 0)
        memcpy(w->carry, buf, n);
    w->carry_len = n;
    return 0;
}

int dm_armor_writer_new(dm_sink inner, dm_armor_writer **out) {
    dm_armor_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return dm_fail(DM_ERR_NOMEM, "armor writer");
    w->stage = malloc(DM_ARMOR_STAGE_CAP);
    if (w->stage == NULL) {
        free(w);
        return dm_fail(DM_ERR_NOMEM, "armor writer");
    }
    w->inner = inner;
    *out = w;
    return DM_OK;
}

dm_sink dm_armor_writer_sink(dm_armor_writer *w) {
    return (dm_sink){dm_armor_write, w};
}

int dm_armor_writer_finish(dm_armor_writer *w) {
    if (w->failed)
        return dm_fail(DM_ERR_IO, "armor writer failed earlier");
    if (w->finished)
        return dm_fail(DM_ERR_INTERNAL, "armor writer already finished");
    w->finished = 1;
    /* A file whose length is a multiple of 48 ends with a full line and no
     * empty line before END, as age writes it. */
    if (dm_armor_start(w) < 0 ||
        (w->carry_len > 0 && dm_armor_stage_line(w, w->carry, w->carry_len) < 0) ||
        dm_armor_stage_text(w, DM_ARMOR_END) < 0 || dm_armor_flush(w) < 0)
        return DM_ERR_IO;
    w->carry_len = 0;
    return DM_OK;
}

void dm_armor_writer_free(dm_armor_writer *w) {
    if (w == NULL)
        return;
    free(w->stage);
    free(w);
}

int dm_dearmor(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (!dm_armor_detect(in, len))
        return dm_fail(DM_ERR_ARMOR, "not an armored age file");
    dm_membuf src = {.data = in, .len = len};
    dm_armor_reader *r = NULL;
    int err = dm_armor_reader_new(dm_source_mem(&src), NULL, 0, &r);
    if (err != DM_OK)
        return err;
    dm_source bin = dm_armor_reader_source(r);
    size_t cap = len, n = 0; /* the binary file is shorter than its armor */
    uint8_t *buf = malloc(cap ? cap : 1);
    if (buf == NULL)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    while (err == DM_OK) {
        if (n == cap) { /* cannot happen for valid armor; stop rather than grow */
            err = dm_fail(DM_ERR_ARMOR, "the armor decodes to more than it holds");
            break;
        }
        ssize_t got = bin.read(bin.ctx, buf + n, cap - n);
        if (got < 0)
            err = dm_armor_reader_err(r);
        else if (got == 0)
            break;
        else
            n += (size_t)got;
    }
    dm_armor_reader_free(r);
    if (err != DM_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = n;
    return DM_OK;
}
