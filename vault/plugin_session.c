/* The client's recipient-v1 and identity-v1 state machines
 * (c2sp.org/age-plugin), over any transport: the phases of a session and the
 * plugin's questions to the user, answered through the host's callbacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "plugin.h"

/* Longest plugin text (message, prompt, error) passed on, in bytes. */
#define MAX_TEXT 2048u

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
    (DM_PLUGIN_MAX_LINE + 1 +                                                                      \
     (DM_PLUGIN_MAX_BODY / DM_PLUGIN_BODY_CHUNK + 1) * (DM_PLUGIN_BODY_COLUMNS + 1))
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

/* The plugin's next message of phase 2 into m: false when none came (*err
 * says why) or at "done" (*err DM_OK, or the error when it is malformed). */
static int recv_phase2(session *s, dm_plugin_msg *m, int *err) {
    if ((*err = recv_msg(s, m)) != DM_OK)
        return 0;
    if (is_done(s, m, err)) {
        dm_plugin_msg_free(m);
        return 0;
    }
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
        if (!recv_phase2(&s, &m, &err))
            break;
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
    dm_stanza_list_clear(&got);
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
        if (!recv_phase2(&s, &m, &err))
            break;
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
