/* A witness on files (c2sp.org/tlog-witness add-checkpoint, answered with
 * c2sp.org/tlog-cosignature), and offline receipts (c2sp.org/tlog-proof). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tlog_internal.h"

static const char proof_magic[] = "c2sp.org/tlog-proof@v1";

/* Next '\n'-terminated line at *pos; 0 at the end or on an unterminated one. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *ll) {
    if (*pos >= len)
        return 0;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (!nl)
        return 0;
    *line = text + *pos;
    *ll = (size_t)(nl - *line);
    *pos += *ll + 1;
    return 1;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n, int *failed) {
    if (*failed)
        return;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *p = realloc(*buf, c);
        if (!p) {
            *failed = 1;
            return;
        }
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* ---------------------------------------------------------------- requests */

int dm_tlog_witness_request(uint64_t old_size, const dm_tlog_hash *proof, size_t n,
                            const char *checkpoint, size_t len, char **body, size_t *body_len) {
    *body = NULL;
    if (n > 63)
        return dm_fail(DM_ERR_USAGE, "a consistency proof of more than 63 hashes");
    char *b = NULL;
    size_t bl = 0, cap = 0;
    int failed = 0;
    char line[64];
    int k = snprintf(line, sizeof line, "old %" PRIu64 "\n", old_size);
    append(&b, &bl, &cap, line, (size_t)k, &failed);
    for (size_t i = 0; i < n; i++) {
        char h[45];
        dm_tlog_hash_encode(proof[i], h);
        append(&b, &bl, &cap, h, 44, &failed);
        append(&b, &bl, &cap, "\n", 1, &failed);
    }
    append(&b, &bl, &cap, "\n", 1, &failed);
    append(&b, &bl, &cap, checkpoint, len, &failed);
    if (failed) {
        free(b);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    *body = b;
    *body_len = bl;
    return DM_OK;
}

static int answer(int *status, int code, char **resp, size_t *resp_len, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int answer(int *status, int code, char **resp, size_t *resp_len, const char *fmt, ...) {
    *status = code;
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    *resp = strdup(text);
    if (!*resp)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    *resp_len = strlen(text);
    return DM_OK;
}

/* The witness's record for one origin: STATE/<hex SHA-256(origin)>. */
static int state_path(const char *state_dir, const char *origin, char *out, size_t cap) {
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, (const uint8_t *)origin, strlen(origin));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    if ((size_t)snprintf(out, cap, "%s/%s", state_dir, hex) >= cap)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", state_dir);
    return DM_OK;
}

static int read_small(const char *path, char **text, size_t *len) {
    *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? DM_ERR_NOT_FOUND
                               : dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc(DM_TLOG_MAX_NOTE + 1);
    ssize_t r = buf ? dm_read_all(fd, buf, DM_TLOG_MAX_NOTE + 1) : 0;
    int err = !buf                            ? dm_fail(DM_ERR_NOMEM, "out of memory")
              : r < 0                         ? dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno))
              : r > (ssize_t)DM_TLOG_MAX_NOTE ? dm_fail(DM_ERR_IO, "%s: too large", path)
                                              : DM_OK;
    size_t got = r < 0 ? 0 : (size_t)r;
    close(fd);
    if (err) {
        free(buf);
        return err;
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return DM_OK;
}

/* The record is replaced whole (a temporary file, fsync'd, renamed), and the
 * cosignature goes out only once it is durable: a record that cannot be
 * written refuses the checkpoint (500), and the witness keeps the old one. */
static int write_state(const char *path, const char *text, size_t len) {
    dm_io_step step;
    if (dm_atomic_write("witness/state", path, text, len, 0644, &step) == 0)
        return DM_OK;
    int e = errno;
    if (step == DM_IO_STEP_OPEN)
        return dm_fail(DM_ERR_IO, "%s.tmp: %s", path, strerror(e));
    if (step == DM_IO_STEP_WRITE)
        return dm_fail(DM_ERR_IO, "%s: cannot record the checkpoint: %s", path, strerror(e));
    /* the record is new; its directory's entry may not be durable yet */
    const char *slash = strrchr(path, '/');
    int n = slash ? (int)(slash - path) : 1;
    return dm_fail(DM_ERR_IO, "%.*s: fsync: %s", n, slash ? path : ".", strerror(e));
}

int dm_tlog_witness_add_checkpoint(const char *state_dir, const dm_tlog_signer *key,
                                   const dm_tlog_verifier *logs, size_t n_logs, const char *body,
                                   size_t len, uint64_t now, int *status, char **response,
                                   size_t *response_len) {
    *response = NULL;
    *response_len = 0;
    *status = 0;
    size_t pos = 0, ll;
    const char *line;
    uint64_t old;
    dm_tlog_hash proof[64];
    size_t n = 0;
    if (!next_line(body, len, &pos, &line, &ll) || ll < 5 || memcmp(line, "old ", 4) != 0 ||
        !dm_parse_u64(line + 4, ll - 4, &old))
        return answer(status, 400, response, response_len, "malformed old size line\n");
    for (;;) {
        if (!next_line(body, len, &pos, &line, &ll))
            return answer(status, 400, response, response_len,
                          "no empty line before the "
                          "checkpoint\n");
        if (ll == 0)
            break;
        if (n == 63 || dm_tlog_hash_decode(line, ll, proof[n]) != DM_OK)
            return answer(status, 400, response, response_len, "malformed consistency proof\n");
        n++;
    }
    dm_tlog_note *note = NULL;
    dm_tlog_checkpoint c;
    if (dm_tlog_note_parse(body + pos, len - pos, &note) != DM_OK ||
        dm_tlog_checkpoint_parse(note->text, note->text_len, &c) != DM_OK) {
        dm_tlog_note_free(note);
        return answer(status, 400, response, response_len, "malformed checkpoint\n");
    }
    /* Which log keys are for this origin. */
    dm_tlog_verifier *mine = calloc(n_logs ? n_logs : 1, sizeof *mine);
    size_t n_mine = 0;
    int err = mine ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && i < n_logs; i++)
        if (strcmp(logs[i].name, c.origin) == 0)
            mine[n_mine++] = logs[i];
    int lock_fd = -1;
    char *stored_text = NULL;
    size_t stored_len = 0;
    if (err)
        goto out;
    if (n_mine == 0) {
        err = answer(status, 404, response, response_len, "unknown log %s\n", c.origin);
        goto out;
    }
    if (dm_tlog_note_verify(note, mine, n_mine, NULL, NULL) != DM_OK) {
        err = answer(status, 403, response, response_len, "%s\n", dm_err_detail());
        goto out;
    }
    if (old > c.size) {
        err = answer(status, 400, response, response_len,
                     "old size %" PRIu64 " is above the checkpoint's %" PRIu64 "\n", old, c.size);
        goto out;
    }
    /* Checking the old size and recording the new checkpoint are one step. */
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/lock", state_dir) >= sizeof path) {
        err = dm_fail(DM_ERR_USAGE, "%s: path too long", state_dir);
        goto out;
    }
    lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
        err = dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    err = state_path(state_dir, c.origin, path, sizeof path);
    if (err)
        goto out;
    dm_tlog_checkpoint stored = {0};
    err = read_small(path, &stored_text, &stored_len);
    if (err == DM_ERR_NOT_FOUND) {
        err = DM_OK;
    } else if (!err) {
        /* Our own record: its log signature was checked when it was added. */
        dm_tlog_note *sn = NULL;
        err = dm_tlog_note_parse(stored_text, stored_len, &sn);
        if (!err)
            err = dm_tlog_checkpoint_parse(sn->text, sn->text_len, &stored);
        dm_tlog_note_free(sn);
        if (err)
            err = dm_fail(DM_ERR_IO, "%s: the witness's record is damaged", path);
    }
    if (err)
        goto out;
    if (old != stored.size) {
        *status = 409;
        char sz[32];
        snprintf(sz, sizeof sz, "%" PRIu64 "\n", stored.size);
        *response = strdup(sz);
        *response_len = strlen(sz);
        err = *response ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
        goto out;
    }
    dm_tlog_hash empty;
    dm_tlog_empty_root(empty);
    if (c.size == 0 && sodium_memcmp(c.root, empty, DM_TLOG_HASH_LEN) != 0) {
        err = answer(status, 422, response, response_len, "an empty tree with a non-empty root\n");
        goto out;
    }
    if (old == 0 && n != 0) {
        err = answer(status, 422, response, response_len, "a proof from the empty tree\n");
        goto out;
    }
    if (old > 0 &&
        dm_tlog_verify_consistency(old, c.size, stored.root, c.root, proof, n) != DM_OK) {
        err = answer(status, 422, response, response_len, "%s\n", dm_err_detail());
        goto out;
    }
    char *line_out = NULL;
    size_t line_len = 0;
    err = dm_tlog_cosign(note->text, note->text_len, key, now, &line_out, &line_len);
    if (!err)
        err = write_state(path, body + pos, len - pos);
    if (err) {
        free(line_out);
        goto out;
    }
    *status = 200;
    *response = line_out;
    *response_len = line_len;
out:
    if (lock_fd >= 0)
        close(lock_fd);
    free(stored_text);
    free(mine);
    dm_tlog_note_free(note);
    return err;
}

/* ------------------------------------------------------------ tlog-proof */

void dm_tlog_proof_clear(dm_tlog_proof *p) {
    if (p == NULL)
        return;
    free(p->extra);
    free(p->checkpoint);
    memset(p, 0, sizeof *p);
}

int dm_tlog_proof_format(const dm_tlog_proof *p, char **text, size_t *len) {
    *text = NULL;
    char *b = NULL;
    size_t bl = 0, cap = 0;
    int failed = 0;
    append(&b, &bl, &cap, proof_magic, sizeof proof_magic - 1, &failed);
    append(&b, &bl, &cap, "\n", 1, &failed);
    if (p->extra) {
        size_t ecap = sodium_base64_ENCODED_LEN(p->extra_len, sodium_base64_VARIANT_ORIGINAL);
        char *e = malloc(ecap);
        if (!e) {
            free(b);
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        }
        sodium_bin2base64(e, ecap, p->extra, p->extra_len, sodium_base64_VARIANT_ORIGINAL);
        append(&b, &bl, &cap, "extra ", 6, &failed);
        append(&b, &bl, &cap, e, strlen(e), &failed);
        append(&b, &bl, &cap, "\n", 1, &failed);
        free(e);
    }
    char line[48];
    int k = snprintf(line, sizeof line, "index %" PRIu64 "\n", p->index);
    append(&b, &bl, &cap, line, (size_t)k, &failed);
    for (size_t i = 0; i < p->n; i++) {
        char h[45];
        dm_tlog_hash_encode(p->path[i], h);
        append(&b, &bl, &cap, h, 44, &failed);
        append(&b, &bl, &cap, "\n", 1, &failed);
    }
    append(&b, &bl, &cap, "\n", 1, &failed);
    append(&b, &bl, &cap, p->checkpoint, p->checkpoint_len, &failed);
    if (failed) {
        free(b);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    *text = b;
    *len = bl;
    return DM_OK;
}

int dm_tlog_proof_parse(const char *text, size_t len, dm_tlog_proof *out) {
    memset(out, 0, sizeof *out);
    size_t pos = 0, ll;
    const char *line;
    if (!next_line(text, len, &pos, &line, &ll) || ll != sizeof proof_magic - 1 ||
        memcmp(line, proof_magic, ll) != 0)
        return dm_fail(DM_ERR_USAGE, "not a tlog proof (want \"%s\")", proof_magic);
    if (!next_line(text, len, &pos, &line, &ll))
        return dm_fail(DM_ERR_USAGE, "tlog proof: no index line");
    int err = DM_OK;
    if (ll > 6 && memcmp(line, "extra ", 6) == 0) {
        size_t cap = ll, got = 0;
        const char *end = NULL;
        out->extra = malloc(cap);
        if (!out->extra)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        if (!dm_tlog_b64_chars(line + 6, ll - 6) ||
            sodium_base642bin(out->extra, cap, line + 6, ll - 6, NULL, &got, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != line + ll || got == 0) {
            err = dm_fail(DM_ERR_USAGE, "tlog proof: the extra line is not base64");
            goto fail;
        }
        out->extra_len = got;
        if (!next_line(text, len, &pos, &line, &ll)) {
            err = dm_fail(DM_ERR_USAGE, "tlog proof: no index line");
            goto fail;
        }
    }
    if (ll < 7 || memcmp(line, "index ", 6) != 0 || !dm_parse_u64(line + 6, ll - 6, &out->index)) {
        err = dm_fail(DM_ERR_USAGE, "tlog proof: want \"index N\"");
        goto fail;
    }
    for (;;) {
        if (!next_line(text, len, &pos, &line, &ll)) {
            err = dm_fail(DM_ERR_USAGE, "tlog proof: no empty line before the checkpoint");
            goto fail;
        }
        if (ll == 0)
            break;
        if (out->n == DM_TLOG_MAX_PROOF || dm_tlog_hash_decode(line, ll, out->path[out->n])) {
            err = dm_fail(DM_ERR_USAGE, "tlog proof: inclusion proof line %zu is not a hash",
                          out->n + 1);
            goto fail;
        }
        out->n++;
    }
    if (pos >= len) {
        err = dm_fail(DM_ERR_USAGE, "tlog proof: no checkpoint");
        goto fail;
    }
    out->checkpoint = malloc(len - pos + 1);
    if (!out->checkpoint) {
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(out->checkpoint, text + pos, len - pos);
    out->checkpoint[len - pos] = '\0';
    out->checkpoint_len = len - pos;
    return DM_OK;
fail:
    dm_tlog_proof_clear(out);
    return err;
}

int dm_tlog_proof_verify(const dm_tlog_proof *p, const dm_tlog_hash leaf,
                         const dm_tlog_verifier *log_key, const dm_tlog_verifier *witnesses,
                         size_t n_witnesses, unsigned needed, dm_tlog_checkpoint *c) {
    dm_tlog_checkpoint cp;
    int err = dm_tlog_checkpoint_open(p->checkpoint, p->checkpoint_len, log_key, witnesses,
                                      n_witnesses, needed, &cp);
    if (err == DM_ERR_USAGE) {
        char d[256];
        snprintf(d, sizeof d, "%s", dm_err_detail()); /* dm_fail writes over it */
        err = dm_fail(DM_ERR_LOG, "the receipt's checkpoint is malformed: %s", d);
    }
    if (!err)
        err = dm_tlog_verify_inclusion(p->index, cp.size, leaf, p->path, p->n, cp.root);
    if (!err && c)
        *c = cp;
    return err;
}
