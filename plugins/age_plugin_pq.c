/* age-plugin-pq: the MLKEM768-X25519 hybrid post-quantum recipient type as an
 * age plugin (c2sp.org/age-plugin), as age 1.3 ships it, so that a client
 * without the native type (age 1.1.1) can use it: age1pq1... is already the
 * form of a recipient of a plugin named "pq", and AGE-PLUGIN-PQ-1... holds
 * the same 32-byte seed as AGE-SECRET-KEY-PQ-1...
 *
 *   age-plugin-pq -identity [-o OUTPUT] [INPUT]   hybrid identities to plugin identities
 *   age-plugin-pq --age-plugin=recipient-v1       (run by the client)
 *   age-plugin-pq --age-plugin=identity-v1        (run by the client)
 *
 * The cryptography is the vault's (vault/hybrid.c); this file only speaks the
 * protocol, with the vault's message codec (vault/plugin.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "doormat/base.h"
#include "doormat/vault.h"
#include "plugin.h"

#define PLUGIN_HRP "AGE-PLUGIN-PQ-"
#define SECRET_HRP "AGE-SECRET-KEY-PQ-"
#define STANZA_TYPE "mlkem768x25519"
#define MAX_ITEMS 1024
#define MAX_KEY_FILE (1u << 20)

static const char usage[] =
    "Usage:\n"
    "  age-plugin-pq -identity [-o OUTPUT] [INPUT]\n"
    "\n"
    "Converts the hybrid post-quantum identities (AGE-SECRET-KEY-PQ-1...) of INPUT\n"
    "(standard input if none) into identities of this plugin (AGE-PLUGIN-PQ-1...),\n"
    "which an age client without the native type (age 1.1.1) uses through this\n"
    "program. The recipients (age1pq1...) are the same for both. OUTPUT is written\n"
    "with mode 0600 (standard output if none).\n"
    "\n"
    "The client runs it as age-plugin-pq --age-plugin=recipient-v1 or identity-v1.\n"
    "Exit status: 0, 1 on failure, 2 on a usage error or when this build has no\n"
    "ML-KEM (it needs OpenSSL 3.5 or later).\n";

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("age-plugin-pq: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Re-encodes a Bech32 string's data under another HRP (upper case). */
static int rehrp(const char *s, const char *want_hrp, const char *new_hrp, char **out) {
    char hrp[64];
    uint8_t data[64];
    size_t n = 0;
    int err = dm_bech32_decode(s, hrp, sizeof hrp, data, sizeof data, &n);
    if (err == DM_OK && (strcasecmp(hrp, want_hrp) != 0 || n != 32))
        err = DM_ERR_USAGE;
    size_t cap = strlen(new_hrp) + 1 + 52 + 6 + 1;
    char *o = err == DM_OK ? dm_secret_alloc(cap) : NULL;
    if (err == DM_OK && o == NULL)
        err = DM_ERR_NOMEM;
    if (err == DM_OK)
        err = dm_bech32_encode(new_hrp, data, n, o, cap);
    sodium_memzero(data, sizeof data);
    if (err != DM_OK) {
        dm_secret_free(o);
        return err;
    }
    *out = o;
    return DM_OK;
}

/* ------------------------------------------------------------- -identity */

static int convert(const char *output, const char *input) {
    int fd = input ? open(input, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0)
        return fail(1, "can't open %s: %s", input, strerror(errno));
    char *text = dm_secret_alloc(MAX_KEY_FILE + 1);
    ssize_t r = text != NULL ? dm_read_all(fd, text, MAX_KEY_FILE) : 0;
    size_t len = r < 0 ? 0 : (size_t)r;
    if (fd != STDIN_FILENO)
        close(fd);
    if (text == NULL || r < 0 || len >= MAX_KEY_FILE) {
        dm_secret_free(text);
        return fail(1, "can't read %s", input ? input : "standard input");
    }
    text[len] = '\0';
    char *out = dm_secret_alloc(2 * len + 64);
    size_t out_len = 0, converted = 0, line_no = 0;
    int rc = out ? 0 : fail(1, "out of memory");
    for (char *line = text; rc == 0 && line < text + len;) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : text + len;
        char *end = nl ? nl : text + len;
        line_no++;
        while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            out_len += (size_t)sprintf(out + out_len, "%s\n", line);
        } else if (!dm_pq_is_identity(line)) {
            rc = fail(1, "line %zu of %s is not a hybrid identity (AGE-SECRET-KEY-PQ-1...)",
                      line_no, input ? input : "standard input");
        } else {
            /* The seed must make a key: the native parser is the judge. */
            dm_identity *id = NULL;
            char *plugin = NULL;
            int err = dm_pq_identity_parse(line, &id);
            dm_identity_free(id);
            if (err == DM_OK)
                err = rehrp(line, SECRET_HRP, PLUGIN_HRP, &plugin);
            if (err != DM_OK)
                rc = fail(
                    err == DM_ERR_USAGE && !dm_pq_available() ? 2 : 1, "line %zu: %s", line_no,
                    dm_pq_available() ? "malformed hybrid identity" : dm_pq_unavailable_reason());
            else {
                out_len += (size_t)sprintf(out + out_len, "%s\n", plugin);
                converted++;
            }
            dm_secret_free(plugin);
        }
        line = next;
    }
    dm_secret_free(text);
    if (rc == 0 && converted == 0)
        rc = fail(1, "no hybrid identity in %s", input ? input : "standard input");
    if (rc == 0) {
        if (output == NULL) {
            if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0)
                rc = fail(1, "writing standard output failed");
        } else {
            /* A temporary file beside OUTPUT, renamed over it only when whole. */
            size_t cap = strlen(output) + 16;
            char *tmp = malloc(cap);
            int tfd = -1;
            if (tmp != NULL) {
                snprintf(tmp, cap, "%s.XXXXXX", output);
                tfd = mkstemp(tmp);
            }
            if (tfd < 0 || fchmod(tfd, 0600) != 0 || write(tfd, out, out_len) != (ssize_t)out_len ||
                fsync(tfd) != 0 || close(tfd) != 0 || rename(tmp, output) != 0) {
                rc = fail(1, "can't write %s: %s", output, strerror(errno));
                if (tmp != NULL && tfd >= 0)
                    unlink(tmp);
            }
            free(tmp);
        }
    }
    dm_secret_free(out);
    return rc;
}

/* ------------------------------------------------------ the state machines */

typedef struct io {
    uint8_t *buf;
    size_t len, cap;
} io;

static int send_msg(const char *cmd, const char *const *args, size_t nargs, const uint8_t *body,
                    size_t body_len) {
    uint8_t *buf = NULL;
    size_t n = 0;
    int err = dm_plugin_msg_encode(cmd, args, nargs, body, body_len, &buf, &n);
    if (err == DM_OK && dm_write_all(STDOUT_FILENO, buf, n) != 0)
        err = DM_ERR_IO;
    if (buf != NULL) {
        sodium_memzero(buf, n);
        free(buf);
    }
    return err;
}

/* The next message from the client; DM_ERR_IO at the end of its input. */
static int recv_msg(io *in, dm_plugin_msg *m) {
    for (;;) {
        size_t used = 0;
        int err = in->len ? dm_plugin_msg_parse(in->buf, in->len, m, &used) : DM_PLUGIN_NEED_MORE;
        if (err == DM_OK) {
            memmove(in->buf, in->buf + used, in->len - used);
            in->len -= used;
            return DM_OK;
        }
        if (err != DM_PLUGIN_NEED_MORE)
            return err;
        if (in->len == in->cap) {
            if (in->cap >= DM_PLUGIN_MAX_LINE + 2 * DM_PLUGIN_MAX_BODY)
                return DM_ERR_PLUGIN;
            size_t cap = in->cap ? 2 * in->cap : 4096;
            uint8_t *grown = dm_secret_alloc(cap);
            if (grown == NULL)
                return DM_ERR_NOMEM;
            if (in->len)
                memcpy(grown, in->buf, in->len);
            dm_secret_free(in->buf);
            in->buf = grown;
            in->cap = cap;
        }
        ssize_t r = read(STDIN_FILENO, in->buf + in->len, in->cap - in->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return DM_ERR_IO;
        in->len += (size_t)r;
    }
}

/* A command of ours, then the client's ok or fail. */
static int exchange(io *in, const char *cmd, const char *const *args, size_t nargs,
                    const uint8_t *body, size_t body_len) {
    int err = send_msg(cmd, args, nargs, body, body_len);
    dm_plugin_msg reply;
    if (err == DM_OK)
        err = recv_msg(in, &reply);
    if (err == DM_OK) {
        if (strcmp(reply.args[0], "ok") != 0 && strcmp(reply.args[0], "fail") != 0)
            err = DM_ERR_PLUGIN;
        dm_plugin_msg_free(&reply);
    }
    return err;
}

static int send_error(io *in, const char *kind, const char *a, const char *b, const char *text) {
    const char *args[3] = {kind, a, b};
    size_t n = b ? 3 : a ? 2 : 1;
    return exchange(in, "error", args, n, (const uint8_t *)text, strlen(text));
}

/* An AGE-PLUGIN-PQ-1 string as the native identity. */
static int plugin_identity(const char *s, dm_identity **out) {
    char *native = NULL;
    int err = rehrp(s, PLUGIN_HRP, SECRET_HRP, &native);
    if (err == DM_OK)
        err = dm_pq_identity_parse(native, out);
    dm_secret_free(native);
    return err;
}

/* The next message of a phase in *m: 0 at its "done", or when *err (as it
 * was, or from the read) is not DM_OK. */
static int next_msg(io *in, dm_plugin_msg *m, int *err) {
    if (*err != DM_OK || (*err = recv_msg(in, m)) != DM_OK)
        return 0;
    if (strcmp(m->args[0], "done") == 0) {
        dm_plugin_msg_free(m);
        return 0;
    }
    return 1;
}

static int recipient_v1(void) {
    io in = {0};
    dm_recipient *rcpts[MAX_ITEMS];
    uint8_t *keys = dm_secret_alloc(MAX_ITEMS * DM_FILE_KEY_LEN);
    size_t n_rcpts = 0, n_keys = 0;
    int err = keys ? DM_OK : DM_ERR_NOMEM, labels = 0;
    char index[24];
    dm_plugin_msg m;
    while (next_msg(&in, &m, &err)) {
        const char *cmd = m.args[0];
        if ((strcmp(cmd, "add-recipient") == 0 || strcmp(cmd, "add-identity") == 0) &&
            m.nargs == 2 && n_rcpts < MAX_ITEMS) {
            dm_recipient *r = NULL;
            int e;
            if (strcmp(cmd, "add-recipient") == 0) {
                e = dm_pq_recipient_parse(m.args[1], &r);
            } else {
                char *native = NULL, *public = NULL;
                e = rehrp(m.args[1], PLUGIN_HRP, SECRET_HRP, &native);
                if (e == DM_OK)
                    e = dm_pq_identity_to_recipient(native, &public);
                if (e == DM_OK)
                    e = dm_pq_recipient_parse(public, &r);
                dm_secret_free(native);
                free(public);
            }
            if (e != DM_OK) {
                snprintf(index, sizeof index, "%zu", n_rcpts);
                send_error(&in, strcmp(cmd, "add-recipient") == 0 ? "recipient" : "identity", index,
                           NULL,
                           dm_pq_available() ? "malformed hybrid key" : dm_pq_unavailable_reason());
                dm_plugin_msg_free(&m);
                err = DM_ERR_USAGE;
                break;
            }
            rcpts[n_rcpts++] = r;
        } else if (strcmp(cmd, "wrap-file-key") == 0 && m.body_len == DM_FILE_KEY_LEN &&
                   n_keys < MAX_ITEMS) {
            memcpy(keys + n_keys++ * DM_FILE_KEY_LEN, m.body, DM_FILE_KEY_LEN);
        } else if (strcmp(cmd, "extension-labels") == 0) {
            labels = 1;
        }
        dm_plugin_msg_free(&m);
    }
    if (err == DM_OK && labels)
        err = exchange(&in, "labels", (const char *const[]){"postquantum"}, 1, NULL, 0);
    for (size_t k = 0; err == DM_OK && k < n_keys; k++) {
        for (size_t r = 0; err == DM_OK && r < n_rcpts; r++) {
            dm_stanza_list l = {0};
            err = rcpts[r]->wrap(rcpts[r], keys + k * DM_FILE_KEY_LEN, &l);
            if (err == DM_OK) {
                snprintf(index, sizeof index, "%zu", k);
                const char *args[3] = {index, l.items[0].type, l.items[0].args[0]};
                err = exchange(&in, "recipient-stanza", args, 3, l.items[0].body,
                               l.items[0].body_len);
            } else {
                send_error(&in, "internal", NULL, NULL, dm_err_detail());
            }
            dm_stanza_list_clear(&l);
        }
    }
    if (err == DM_OK)
        err = send_msg("done", NULL, 0, NULL, 0);
    for (size_t r = 0; r < n_rcpts; r++)
        dm_recipient_free(rcpts[r]);
    dm_secret_free(keys);
    dm_secret_free(in.buf);
    return err == DM_OK ? 0 : 1;
}

typedef struct file_stanzas {
    dm_stanza_list stanzas;
    size_t index[MAX_ITEMS]; /* each stanza's index within its file, as the client counts */
} file_stanzas;

static int identity_v1(void) {
    io in = {0};
    dm_identity *ids[MAX_ITEMS];
    size_t n_ids = 0, n_files = 0;
    file_stanzas *files = calloc(MAX_ITEMS, sizeof *files);
    size_t *seen = calloc(MAX_ITEMS, sizeof *seen); /* stanzas of each file so far */
    int err = files && seen ? DM_OK : DM_ERR_NOMEM;
    char a[24], b[24];
    dm_plugin_msg m;
    while (next_msg(&in, &m, &err)) {
        const char *cmd = m.args[0];
        if (strcmp(cmd, "add-identity") == 0 && m.nargs == 2 && n_ids < MAX_ITEMS) {
            if (plugin_identity(m.args[1], &ids[n_ids]) != DM_OK) {
                snprintf(a, sizeof a, "%zu", n_ids);
                send_error(&in, "identity", a, NULL,
                           dm_pq_available() ? "malformed AGE-PLUGIN-PQ-1 identity"
                                             : dm_pq_unavailable_reason());
                dm_plugin_msg_free(&m);
                err = DM_ERR_USAGE;
                break;
            }
            n_ids++;
        } else if (strcmp(cmd, "recipient-stanza") == 0 && m.nargs >= 3) {
            char *endp = NULL;
            unsigned long f = strtoul(m.args[1], &endp, 10);
            if (*endp == '\0' && f < MAX_ITEMS) {
                if (f + 1 > n_files)
                    n_files = f + 1;
                size_t at = files[f].stanzas.len;
                if (at < MAX_ITEMS && dm_stanza_list_add(&files[f].stanzas, m.args[2],
                                                         (const char *const *)m.args + 3,
                                                         m.nargs - 3, m.body, m.body_len) == DM_OK)
                    files[f].index[at] = seen[f];
                seen[f]++;
            }
        }
        dm_plugin_msg_free(&m);
    }
    uint8_t *key = dm_secret_alloc(DM_FILE_KEY_LEN);
    if (err == DM_OK && key == NULL)
        err = DM_ERR_NOMEM;
    for (size_t f = 0; err == DM_OK && f < n_files; f++) {
        int done = 0;
        for (size_t i = 0; !done && err == DM_OK && i < n_ids; i++) {
            int e = ids[i]->unwrap(ids[i], &files[f].stanzas, key);
            snprintf(a, sizeof a, "%zu", f);
            if (e == DM_OK) {
                err = exchange(&in, "file-key", (const char *const[]){a}, 1, key, DM_FILE_KEY_LEN);
                done = 1;
            } else if (e == DM_ERR_HEADER) {
                /* The first of our stanzas in the file is the one to name. */
                size_t s = 0;
                while (s < files[f].stanzas.len &&
                       strcmp(files[f].stanzas.items[s].type, STANZA_TYPE) != 0)
                    s++;
                snprintf(b, sizeof b, "%zu", s < files[f].stanzas.len ? files[f].index[s] : 0);
                err = send_error(&in, "stanza", a, b, dm_err_detail());
                done = 1;
            } else if (e != DM_ERR_NO_MATCH) {
                err = send_error(&in, "internal", NULL, NULL, dm_err_detail());
                done = 1;
            }
        }
    }
    if (err == DM_OK)
        err = send_msg("done", NULL, 0, NULL, 0);
    dm_secret_free(key);
    for (size_t i = 0; i < n_ids; i++)
        dm_identity_free(ids[i]);
    for (size_t f = 0; files && f < n_files; f++)
        dm_stanza_list_clear(&files[f].stanzas);
    free(files);
    free(seen);
    dm_secret_free(in.buf);
    return err == DM_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (dm_init() != DM_OK)
        return fail(1, "initialisation failed");
    if (argc == 2 && strcmp(argv[1], "--age-plugin=recipient-v1") == 0)
        return recipient_v1();
    if (argc == 2 && strcmp(argv[1], "--age-plugin=identity-v1") == 0)
        return identity_v1();
    if (argc == 2 && strncmp(argv[1], "--age-plugin=", 13) == 0)
        return fail(1, "unknown state machine %s", argv[1] + 13);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-help") == 0 ||
                      strcmp(argv[1], "--help") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-version") == 0)) {
        printf("age-plugin-pq (doormat %s)\n", DM_VERSION);
        return 0;
    }
    const char *output = NULL, *input = NULL;
    int identity = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-identity") == 0 || strcmp(argv[i], "--identity") == 0)
            identity = 1;
        else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "-output") == 0 ||
                  strcmp(argv[i], "--output") == 0) &&
                 i + 1 < argc)
            output = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return fail(2, "unknown flag %s (see age-plugin-pq -h)", argv[i]);
        else if (input == NULL)
            input = strcmp(argv[i], "-") == 0 ? NULL : argv[i];
        else
            return fail(2, "more than one INPUT (see age-plugin-pq -h)");
    }
    if (!identity) {
        fputs(usage, stderr);
        return 2;
    }
    if (!dm_pq_available())
        return fail(2, "%s", dm_pq_unavailable_reason());
    return convert(output, input);
}
