/* age plugins, client side (c2sp.org/age-plugin): plugin recipients and
 * identities, the message codec and the recipient-v1 and identity-v1 state
 * machines. The process that runs a plugin is in plugin_proc.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "plugin.h"

#define BODY_COLUMNS 64
#define BODY_CHUNK 48 /* bytes per full body line */
#define RECIPIENT_PREFIX "age1"
#define IDENTITY_PREFIX "AGE-PLUGIN-"
/* HRP room: "AGE-PLUGIN-" + NAME + "-" and a NUL. */
#define HRP_CAP (sizeof IDENTITY_PREFIX + DM_PLUGIN_MAX_NAME + 2)
/* Longest key string accepted; age's own tests use about 1,600 characters. */
#define MAX_KEY_STRING 8192u
/* Longest plugin text (message, prompt, error) passed on, in bytes. */
#define MAX_TEXT 2048u

/* ================================================================ codec */

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
        size_t room = len - pos < BODY_COLUMNS + 1 ? len - pos : BODY_COLUMNS + 1;
        const char *lf = memchr(text + pos, '\n', room);
        if (lf == NULL) {
            err = len - pos > BODY_COLUMNS
                      ? dm_fail(DM_ERR_PLUGIN, "a message body line is longer than %d columns",
                                BODY_COLUMNS)
                      : DM_PLUGIN_NEED_MORE;
            break;
        }
        size_t n = (size_t)(lf - (text + pos));
        if (n < BODY_COLUMNS) {
            last_start = pos;
            last_len = n;
            pos += n + 1;
            break;
        }
        if (++full_lines > DM_PLUGIN_MAX_BODY / BODY_CHUNK)
            err = dm_fail(DM_ERR_PLUGIN, "a message body is larger than %u bytes",
                          DM_PLUGIN_MAX_BODY);
        pos += n + 1;
    }
    if (err != DM_OK) {
        dm_plugin_msg_free(out);
        return err;
    }
    size_t cap = full_lines * BODY_CHUNK + BODY_CHUNK;
    if ((out->body = dm_secret_alloc(cap)) == NULL) {
        dm_plugin_msg_free(out);
        return dm_fail(DM_ERR_NOMEM, "plugin message body");
    }
    size_t at = first + 1, got = 0;
    for (size_t i = 0; i <= full_lines; i++) {
        size_t n = i < full_lines ? BODY_COLUMNS : last_len;
        const char *line = text + (i < full_lines ? at : last_start);
        size_t part = 0;
        if (dm_b64_decode(line, n, out->body + got, cap - got, &part) != DM_OK) {
            dm_plugin_msg_free(out);
            return dm_fail(DM_ERR_PLUGIN, "a message body is not canonical unpadded base64");
        }
        got += part;
        at += BODY_COLUMNS + 1;
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
    size_t lines = body_len / BODY_CHUNK + 1;
    n += dm_b64_encoded_len(body_len) + lines;
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin message");
    char *p = buf;
    p += sprintf(p, "-> %s", cmd);
    for (size_t i = 0; i < nargs; i++)
        p += sprintf(p, " %s", args[i]);
    *p++ = '\n';
    for (size_t off = 0;; off += BODY_CHUNK) {
        size_t chunk = body_len - off < BODY_CHUNK ? body_len - off : BODY_CHUNK;
        size_t enc = dm_b64_encoded_len(chunk);
        if (dm_b64_encode(body + off, chunk, p, (size_t)(buf + n + 1 - p)) != DM_OK) {
            sodium_memzero(buf, n + 1);
            free(buf);
            return dm_fail(DM_ERR_INTERNAL, "plugin message encoding");
        }
        p += enc;
        *p++ = '\n';
        if (chunk < BODY_CHUNK)
            break;
    }
    *out = (uint8_t *)buf;
    *out_len = (size_t)(p - buf);
    return DM_OK;
}

/* ============================================================== sessions */

typedef struct session {
    const dm_plugin_transport *t;
    dm_plugin_host host;
    const char *name;
    uint8_t *in; /* received, not yet parsed; may hold base64 of secrets */
    size_t in_len, in_cap;
    size_t received;
} session;

static void session_init(session *s, const dm_plugin_transport *t, const dm_plugin_host *host,
                         const char *name) {
    memset(s, 0, sizeof *s);
    s->t = t;
    if (host != NULL)
        s->host = *host;
    s->name = name;
}

static void session_free(session *s) {
    if (s->in != NULL) {
        sodium_memzero(s->in, s->in_cap);
        free(s->in);
    }
    s->in = NULL;
}

static int send_msg(session *s, const char *cmd, const char *const *args, size_t nargs,
                    const uint8_t *body, size_t body_len) {
    uint8_t *buf = NULL;
    size_t n = 0;
    int err = dm_plugin_msg_encode(cmd, args, nargs, body, body_len, &buf, &n);
    if (err != DM_OK)
        return err;
    err = s->t->send(s->t->ctx, buf, n);
    sodium_memzero(buf, n);
    free(buf);
    return err;
}

static int send_simple(session *s, const char *cmd) {
    return send_msg(s, cmd, NULL, 0, NULL, 0);
}

/* A copy of the parser's detail, so that a new message can quote it. */
static void save_detail(char *buf, size_t cap) {
    snprintf(buf, cap, "%s", dm_err_detail());
}

/* The plugin's input the largest message could need, plus one read. */
#define IN_LIMIT                                                                                   \
    (DM_PLUGIN_MAX_LINE + 1 + (DM_PLUGIN_MAX_BODY / BODY_CHUNK + 1) * (BODY_COLUMNS + 1))
#define READ_SIZE 16384u

static int grow_in(session *s) {
    if (s->in_cap - s->in_len >= READ_SIZE)
        return DM_OK;
    size_t cap = s->in_cap ? s->in_cap * 2 : READ_SIZE * 2;
    if (cap > IN_LIMIT + READ_SIZE)
        cap = IN_LIMIT + READ_SIZE;
    if (cap <= s->in_cap)
        return dm_fail(DM_ERR_PLUGIN, "age-plugin-%s sent a message larger than %u bytes", s->name,
                       (unsigned)IN_LIMIT);
    /* By hand rather than realloc: the old bytes must be zeroed. */
    uint8_t *grown = malloc(cap);
    if (grown == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin input");
    if (s->in != NULL) {
        memcpy(grown, s->in, s->in_len);
        sodium_memzero(s->in, s->in_cap);
        free(s->in);
    }
    s->in = grown;
    s->in_cap = cap;
    return DM_OK;
}

static int recv_msg(session *s, dm_plugin_msg *m) {
    if (s->received >= DM_PLUGIN_MAX_MESSAGES)
        return dm_fail(DM_ERR_PLUGIN, "age-plugin-%s sent more than %u messages", s->name,
                       DM_PLUGIN_MAX_MESSAGES);
    int timeout = s->host.timeout_ms == 0 ? DM_PLUGIN_DEFAULT_TIMEOUT_MS : s->host.timeout_ms;
    int64_t deadline = timeout < 0 ? -1 : dm_plugin_now_ms() + timeout;
    for (;;) {
        if (s->in_len > 0) {
            size_t used = 0;
            int err = dm_plugin_msg_parse(s->in, s->in_len, m, &used);
            if (err == DM_OK) {
                memmove(s->in, s->in + used, s->in_len - used);
                sodium_memzero(s->in + s->in_len - used, used);
                s->in_len -= used;
                s->received++;
                return DM_OK;
            }
            if (err != DM_PLUGIN_NEED_MORE) {
                if (err != DM_ERR_PLUGIN)
                    return err;
                char why[160];
                save_detail(why, sizeof why);
                return dm_fail(DM_ERR_PLUGIN, "age-plugin-%s broke the protocol: %s", s->name, why);
            }
        }
        int err = grow_in(s);
        if (err != DM_OK)
            return err;
        size_t got = 0;
        err = s->t->recv(s->t->ctx, s->in + s->in_len, s->in_cap - s->in_len, deadline, &got);
        if (err != DM_OK)
            return err;
        if (got == 0)
            return dm_fail(DM_ERR_PLUGIN, "age-plugin-%s stopped before the end of the protocol%s",
                           s->name, s->in_len > 0 ? " (in the middle of a message)" : "");
        s->in_len += got;
    }
}

/* The text of a body for people: control characters become '?', and it is
 * cut at MAX_TEXT bytes. malloc'd. */
static char *printable(const uint8_t *body, size_t len) {
    if (len > MAX_TEXT)
        len = MAX_TEXT;
    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        s[i] = (body[i] < 0x20 || body[i] == 0x7f) ? '?' : (char)body[i];
    s[len] = '\0';
    return s;
}

static int protocol_error(const session *s, const char *what) {
    return dm_fail(DM_ERR_PLUGIN, "age-plugin-%s broke the protocol: %s", s->name, what);
}

/* A base64 argument of confirm, as text. */
static int decode_choice(const session *s, const char *arg, char **out) {
    size_t n = strlen(arg), got = 0;
    uint8_t *raw = malloc(DM_PLUGIN_MAX_CHOICE);
    if (raw == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin confirm");
    if (dm_b64_decode(arg, n, raw, DM_PLUGIN_MAX_CHOICE, &got) != DM_OK) {
        free(raw);
        return protocol_error(s, "a confirm choice is not canonical base64");
    }
    *out = printable(raw, got);
    free(raw);
    return *out ? DM_OK : dm_fail(DM_ERR_NOMEM, "plugin confirm");
}

static int answer_confirm(session *s, const dm_plugin_msg *m) {
    if (m->nargs != 2 && m->nargs != 3)
        return protocol_error(s, "confirm wants one or two choices");
    char *yes = NULL, *no = NULL, *prompt = NULL;
    int err = decode_choice(s, m->args[1], &yes);
    if (err == DM_OK && m->nargs == 3)
        err = decode_choice(s, m->args[2], &no);
    if (err == DM_OK && (prompt = printable(m->body, m->body_len)) == NULL)
        err = dm_fail(DM_ERR_NOMEM, "plugin confirm");
    if (err == DM_OK) {
        int chose_yes = 0;
        if (s->host.confirm != NULL &&
            s->host.confirm(s->host.ctx, s->name, prompt, yes, no, &chose_yes) == DM_OK) {
            const char *choice = chose_yes ? "yes" : "no";
            err = send_msg(s, "ok", &choice, 1, NULL, 0);
        } else {
            err = send_simple(s, "fail");
        }
    }
    free(yes);
    free(no);
    free(prompt);
    return err;
}

static int answer_request(session *s, const dm_plugin_msg *m, int secret) {
    if (m->nargs != 1)
        return protocol_error(s, secret ? "request-secret has arguments"
                                        : "request-public has arguments");
    char *prompt = printable(m->body, m->body_len);
    if (prompt == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin request");
    char *value = NULL;
    size_t value_len = 0;
    int err;
    if (s->host.request != NULL &&
        s->host.request(s->host.ctx, s->name, prompt, secret, &value, &value_len) == DM_OK &&
        value != NULL)
        err = send_msg(s, "ok", NULL, 0, (const uint8_t *)value, value_len);
    else
        err = send_simple(s, "fail");
    dm_secret_free(value);
    free(prompt);
    return err;
}

static int answer_message(session *s, const dm_plugin_msg *m) {
    if (m->nargs != 1)
        return protocol_error(s, "msg has arguments");
    char *text = printable(m->body, m->body_len);
    if (text == NULL)
        return dm_fail(DM_ERR_NOMEM, "plugin message");
    int shown = s->host.message != NULL && s->host.message(s->host.ctx, s->name, text) == DM_OK;
    free(text);
    return send_simple(s, shown ? "ok" : "fail");
}

/* The commands both state machines share in phase 2: the user interface,
 * errors, and "unsupported" for anything else (grease included). */
static int answer_common(session *s, const dm_plugin_msg *m) {
    const char *cmd = m->args[0];
    if (strcmp(cmd, "msg") == 0)
        return answer_message(s, m);
    if (strcmp(cmd, "confirm") == 0)
        return answer_confirm(s, m);
    if (strcmp(cmd, "request-public") == 0)
        return answer_request(s, m, 0);
    if (strcmp(cmd, "request-secret") == 0)
        return answer_request(s, m, 1);
    if (strcmp(cmd, "error") == 0) {
        /* Answered as the protocol asks, then the session ends, as age's does. */
        (void)send_simple(s, "ok");
        char *text = printable(m->body, m->body_len < 160 ? m->body_len : 160);
        int err = dm_fail(DM_ERR_PLUGIN, "age-plugin-%s: %s", s->name,
                          text && text[0] ? text : "(an error without a message)");
        free(text);
        return err;
    }
    return send_simple(s, "unsupported");
}

static int is_done(const session *s, const dm_plugin_msg *m, int *err) {
    if (strcmp(m->args[0], "done") != 0)
        return 0;
    *err =
        m->nargs == 1 && m->body_len == 0 ? DM_OK : protocol_error(s, "done has arguments or data");
    return 1;
}

/* "0" and nothing else: the client sends one file key or one file. */
static int is_index_zero(const char *s) {
    return strcmp(s, "0") == 0;
}

int dm_plugin_wrap_session(const dm_plugin_transport *t, const dm_plugin_host *host,
                           const char *name, const char *add_cmd, const char *encoding,
                           const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out) {
    session s;
    session_init(&s, t, host, name);
    dm_stanza_list got = {0};
    int err = send_msg(&s, add_cmd, &encoding, 1, NULL, 0);
    if (err == DM_OK)
        err = send_msg(&s, "wrap-file-key", NULL, 0, file_key, DM_FILE_KEY_LEN);
    if (err == DM_OK)
        err = send_simple(&s, "done");
    while (err == DM_OK) {
        dm_plugin_msg m;
        if ((err = recv_msg(&s, &m)) != DM_OK)
            break;
        if (is_done(&s, &m, &err)) {
            dm_plugin_msg_free(&m);
            break;
        }
        if (strcmp(m.args[0], "recipient-stanza") == 0) {
            if (m.nargs < 3 || !is_index_zero(m.args[1]))
                err = protocol_error(&s, "recipient-stanza wants file index 0 and a stanza type");
            else if ((err = dm_stanza_list_add(&got, m.args[2], (const char *const *)m.args + 3,
                                               m.nargs - 3, m.body, m.body_len)) == DM_OK)
                err = send_simple(&s, "ok");
        } else {
            err = answer_common(&s, &m);
        }
        dm_plugin_msg_free(&m);
    }
    if (err == DM_OK && got.len == 0)
        err = dm_fail(DM_ERR_PLUGIN, "age-plugin-%s returned no recipient stanza", name);
    for (size_t i = 0; err == DM_OK && i < got.len; i++) {
        const dm_stanza *st = &got.items[i];
        err = dm_stanza_list_add(out, st->type, (const char *const *)st->args, st->nargs, st->body,
                                 st->body_len);
    }
    dm_stanza_list_free(&got);
    session_free(&s);
    return err;
}

int dm_plugin_unwrap_session(const dm_plugin_transport *t, const dm_plugin_host *host,
                             const char *name, const char *identity, const dm_stanza_list *stanzas,
                             uint8_t file_key[DM_FILE_KEY_LEN]) {
    session s;
    session_init(&s, t, host, name);
    int err = send_msg(&s, "add-identity", &identity, 1, NULL, 0);
    const char **args = NULL;
    for (size_t i = 0; err == DM_OK && i < stanzas->len; i++) {
        const dm_stanza *st = &stanzas->items[i];
        const char **grown = realloc(args, (st->nargs + 2) * sizeof *args);
        if (grown == NULL) {
            err = dm_fail(DM_ERR_NOMEM, "plugin stanza");
            break;
        }
        args = grown;
        args[0] = "0";
        args[1] = st->type;
        for (size_t a = 0; a < st->nargs; a++)
            args[a + 2] = st->args[a];
        err = send_msg(&s, "recipient-stanza", args, st->nargs + 2, st->body, st->body_len);
    }
    free(args);
    if (err == DM_OK)
        err = send_simple(&s, "done");

    uint8_t *key = NULL;
    while (err == DM_OK) {
        dm_plugin_msg m;
        if ((err = recv_msg(&s, &m)) != DM_OK)
            break;
        if (is_done(&s, &m, &err)) {
            dm_plugin_msg_free(&m);
            break;
        }
        if (strcmp(m.args[0], "file-key") == 0) {
            if (m.nargs != 2 || !is_index_zero(m.args[1]))
                err = protocol_error(&s, "file-key wants file index 0");
            else if (m.body_len != DM_FILE_KEY_LEN)
                err = protocol_error(&s, "a file key is not 16 bytes");
            else if (key != NULL)
                err = protocol_error(&s, "two file keys for one file");
            else if ((key = dm_secret_alloc(DM_FILE_KEY_LEN)) == NULL)
                err = dm_fail(DM_ERR_NOMEM, "file key");
            else {
                memcpy(key, m.body, DM_FILE_KEY_LEN);
                err = send_simple(&s, "ok");
            }
        } else {
            err = answer_common(&s, &m);
        }
        dm_plugin_msg_free(&m);
    }
    if (err == DM_OK && key == NULL)
        err = DM_ERR_NO_MATCH;
    if (err == DM_OK)
        memcpy(file_key, key, DM_FILE_KEY_LEN);
    dm_secret_free(key);
    session_free(&s);
    return err;
}

/* ========================================================== keys, names */

static int is_name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '+';
}

/* Checks NAME and writes it in lower case (the binary's name). */
static int check_name(const char *name, size_t len, char out[DM_PLUGIN_MAX_NAME + 1]) {
    if (len == 0)
        return dm_fail(DM_ERR_USAGE, "the plugin name is empty");
    if (len > DM_PLUGIN_MAX_NAME)
        return dm_fail(DM_ERR_USAGE, "the plugin name is longer than %d characters",
                       DM_PLUGIN_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!is_name_char(c))
            return dm_fail(DM_ERR_USAGE, "a plugin name may hold only letters, digits and "
                                         "- _ . +");
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[len] = '\0';
    return DM_OK;
}

int dm_is_plugin_recipient(const char *s) {
    return s != NULL && strncmp(s, RECIPIENT_PREFIX, 4) == 0 && strchr(s + 4, '1') != NULL;
}

int dm_is_plugin_identity(const char *s) {
    return s != NULL && strncmp(s, IDENTITY_PREFIX, sizeof IDENTITY_PREFIX - 1) == 0;
}

/* Decodes a key string's Bech32 and returns its HRP (the data is not ours
 * to read: only the plugin knows what it means). */
static int decode_hrp(const char *s, char hrp[HRP_CAP], const char *what) {
    size_t n = strlen(s);
    if (n > MAX_KEY_STRING)
        return dm_fail(DM_ERR_USAGE, "%s is longer than %u characters", what, MAX_KEY_STRING);
    uint8_t *data = dm_secret_alloc(n);
    if (data == NULL)
        return dm_fail(DM_ERR_NOMEM, "%s", what);
    int err = dm_bech32_decode(s, hrp, HRP_CAP, data, n, NULL);
    dm_secret_free(data);
    if (err != DM_OK)
        return err == DM_ERR_NOMEM ? err : dm_fail(DM_ERR_USAGE, "%s is not valid Bech32", what);
    return DM_OK;
}

/* ------------------------------------------------------------ recipient */

typedef struct plugin_recipient {
    char name[DM_PLUGIN_MAX_NAME + 1];
    const char *add_cmd; /* "add-recipient" or "add-identity" */
    char *encoding;      /* guarded: an identity may hold key material */
    dm_plugin_host host;
} plugin_recipient;

typedef struct plugin_identity {
    char name[DM_PLUGIN_MAX_NAME + 1];
    char *encoding; /* guarded */
    dm_plugin_host host;
} plugin_identity;

static const dm_plugin_host no_host;

static int resolved_timeout(const dm_plugin_host *host) {
    return host->timeout_ms == 0 ? DM_PLUGIN_DEFAULT_TIMEOUT_MS : host->timeout_ms;
}

static int plugin_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                       dm_stanza_list *out) {
    const plugin_recipient *pr = self->ctx;
    dm_plugin_proc *proc = NULL;
    int err = dm_plugin_proc_start(pr->name, "recipient-v1", resolved_timeout(&pr->host), &proc);
    if (err != DM_OK)
        return err;
    dm_plugin_transport t = dm_plugin_proc_transport(proc);
    err = dm_plugin_wrap_session(&t, &pr->host, pr->name, pr->add_cmd, pr->encoding, file_key, out);
    return dm_plugin_proc_finish(proc, err);
}

static void plugin_recipient_destroy(dm_recipient *self) {
    plugin_recipient *pr = self->ctx;
    if (pr != NULL) {
        dm_secret_free(pr->encoding);
        free(pr);
    }
    self->ctx = NULL;
}

static char *secret_strdup(const char *s) {
    size_t n = strlen(s);
    char *copy = dm_secret_alloc(n + 1);
    if (copy != NULL)
        memcpy(copy, s, n + 1);
    return copy;
}

/* A plugin's labels follow its stanzas: post-quantum when every one is of a
 * post-quantum type of c2sp.org/age (the pq plugin's mlkem768x25519), as the
 * label age-plugin-pq gives says. */
static size_t plugin_labels(const dm_recipient *self, const dm_stanza *mine, size_t n_mine,
                            const char *out[DM_MAX_LABELS]) {
    (void)self;
    int pq = n_mine > 0;
    for (size_t i = 0; pq && i < n_mine; i++)
        pq = strcmp(mine[i].type, "mlkem768x25519") == 0 ||
             strcmp(mine[i].type, "mlkem768p256tag") == 0;
    if (!pq)
        return 0;
    out[0] = DM_LABEL_PQ;
    return 1;
}

static int new_recipient(const char *name, const char *add_cmd, const char *encoding,
                         const dm_plugin_host *host, dm_recipient **out) {
    dm_recipient *r = calloc(1, sizeof *r);
    plugin_recipient *pr = calloc(1, sizeof *pr);
    char *enc = secret_strdup(encoding);
    if (r == NULL || pr == NULL || enc == NULL) {
        free(r);
        free(pr);
        dm_secret_free(enc);
        return dm_fail(DM_ERR_NOMEM, "plugin recipient");
    }
    snprintf(pr->name, sizeof pr->name, "%s", name);
    pr->add_cmd = add_cmd;
    pr->encoding = enc;
    pr->host = host ? *host : no_host;
    r->type = "plugin";
    r->wrap = plugin_wrap;
    r->destroy = plugin_recipient_destroy;
    r->ctx = pr;
    r->labels = plugin_labels;
    *out = r;
    return DM_OK;
}

int dm_plugin_recipient_parse(const char *s, const dm_plugin_host *host, dm_recipient **out) {
    if (!dm_is_plugin_recipient(s))
        return dm_fail(DM_ERR_USAGE, "a plugin recipient starts with age1NAME1");
    char hrp[HRP_CAP], name[DM_PLUGIN_MAX_NAME + 1];
    int err = decode_hrp(s, hrp, "plugin recipient");
    if (err != DM_OK)
        return err;
    /* Bech32 puts the last '1' between HRP and data: the HRP is age1NAME. */
    if (strncasecmp(hrp, RECIPIENT_PREFIX, 4) != 0 ||
        (err = check_name(hrp + 4, strlen(hrp + 4), name)) != DM_OK)
        return err != DM_OK ? err : dm_fail(DM_ERR_USAGE, "plugin recipient has no name");
    return new_recipient(name, "add-recipient", s, host, out);
}

/* ------------------------------------------------------------- identity */

static int plugin_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                         uint8_t file_key[DM_FILE_KEY_LEN]) {
    const plugin_identity *pi = self->ctx;
    dm_plugin_proc *proc = NULL;
    int err = dm_plugin_proc_start(pi->name, "identity-v1", resolved_timeout(&pi->host), &proc);
    if (err != DM_OK)
        return err;
    dm_plugin_transport t = dm_plugin_proc_transport(proc);
    err = dm_plugin_unwrap_session(&t, &pi->host, pi->name, pi->encoding, stanzas, file_key);
    return dm_plugin_proc_finish(proc, err);
}

static void plugin_identity_destroy(dm_identity *self) {
    plugin_identity *pi = self->ctx;
    if (pi != NULL) {
        dm_secret_free(pi->encoding);
        free(pi);
    }
    self->ctx = NULL;
}

static int new_identity(const char *name, const char *encoding, const dm_plugin_host *host,
                        dm_identity **out) {
    dm_identity *id = calloc(1, sizeof *id);
    plugin_identity *pi = calloc(1, sizeof *pi);
    char *enc = secret_strdup(encoding);
    if (id == NULL || pi == NULL || enc == NULL) {
        free(id);
        free(pi);
        dm_secret_free(enc);
        return dm_fail(DM_ERR_NOMEM, "plugin identity");
    }
    snprintf(pi->name, sizeof pi->name, "%s", name);
    pi->encoding = enc;
    pi->host = host ? *host : no_host;
    id->unwrap = plugin_unwrap;
    id->destroy = plugin_identity_destroy;
    id->ctx = pi;
    *out = id;
    return DM_OK;
}

int dm_plugin_identity_parse(const char *s, const dm_plugin_host *host, dm_identity **out) {
    if (!dm_is_plugin_identity(s))
        return dm_fail(DM_ERR_USAGE, "a plugin identity starts with AGE-PLUGIN-");
    char hrp[HRP_CAP], name[DM_PLUGIN_MAX_NAME + 1];
    int err = decode_hrp(s, hrp, "plugin identity");
    if (err != DM_OK)
        return err;
    size_t plen = sizeof IDENTITY_PREFIX - 1, hlen = strlen(hrp);
    /* age writes plugin identities in upper case only, HRP AGE-PLUGIN-NAME-. */
    if (strncmp(hrp, IDENTITY_PREFIX, plen) != 0 || hlen < plen + 2 || hrp[hlen - 1] != '-')
        return dm_fail(DM_ERR_USAGE, "plugin identity is not AGE-PLUGIN-NAME-1...");
    if ((err = check_name(hrp + plen, hlen - plen - 1, name)) != DM_OK)
        return err;
    return new_identity(name, s, host, out);
}

int dm_plugin_default_identity_string(const char *name, char *out, size_t out_cap) {
    char lower[DM_PLUGIN_MAX_NAME + 1];
    int err = check_name(name, name ? strlen(name) : 0, lower);
    if (err != DM_OK)
        return err;
    char hrp[HRP_CAP];
    size_t plen = sizeof IDENTITY_PREFIX - 1, n = strlen(lower);
    memcpy(hrp, IDENTITY_PREFIX, plen);
    for (size_t i = 0; i < n; i++)
        hrp[plen + i] = (char)(lower[i] >= 'a' && lower[i] <= 'z' ? lower[i] - 32 : lower[i]);
    hrp[plen + n] = '-';
    hrp[plen + n + 1] = '\0';
    return dm_bech32_encode(hrp, NULL, 0, out, out_cap);
}

int dm_plugin_identity_default(const char *name, const dm_plugin_host *host, dm_identity **out) {
    char s[HRP_CAP + 8];
    int err = dm_plugin_default_identity_string(name, s, sizeof s);
    if (err != DM_OK)
        return err;
    return dm_plugin_identity_parse(s, host, out);
}

int dm_plugin_identity_to_recipient(const dm_identity *id, dm_recipient **out) {
    if (id == NULL || id->unwrap != plugin_unwrap)
        return dm_fail(DM_ERR_USAGE, "not a plugin identity");
    const plugin_identity *pi = id->ctx;
    return new_recipient(pi->name, "add-identity", pi->encoding, &pi->host, out);
}

void dm_plugin_recipients_set_host(dm_recipient *const *rcpts, size_t n,
                                   const dm_plugin_host *host) {
    for (size_t i = 0; i < n; i++)
        if (rcpts[i] != NULL && rcpts[i]->wrap == plugin_wrap)
            ((plugin_recipient *)rcpts[i]->ctx)->host = host ? *host : no_host;
}

void dm_plugin_identities_set_host(dm_identity *const *ids, size_t n, const dm_plugin_host *host) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] != NULL && ids[i]->unwrap == plugin_unwrap)
            ((plugin_identity *)ids[i]->ctx)->host = host ? *host : no_host;
}

const char *dm_plugin_recipient_name(const dm_recipient *r) {
    return r != NULL && r->wrap == plugin_wrap ? ((const plugin_recipient *)r->ctx)->name : NULL;
}

const char *dm_plugin_identity_name(const dm_identity *id) {
    return id != NULL && id->unwrap == plugin_unwrap ? ((const plugin_identity *)id->ctx)->name
                                                     : NULL;
}
