/* Identity files (age-keygen output) and recipients files (-R). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ssh.h"

/* take() returns this when it reported the line itself (dm_fail with the line). */
#define TAKE_REPORTED DM_ERR__COUNT
/* take() returns this for a line it passed over on purpose. */
#define DM_OK_SKIPPED (DM_ERR__COUNT + 1)

/* age's key files are line-oriented: '\n' ends a line and a '\r' before it
 * is tolerated, as Go's bufio.Scanner does. */
typedef struct line_iter {
    const char *p, *end;
    size_t number;
} line_iter;

static int next_line(line_iter *it, const char **line, size_t *len) {
    if (it->p >= it->end)
        return 0;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl ? nl : it->end;
    *line = it->p;
    *len = (size_t)(stop - it->p);
    if (*len > 0 && (*line)[*len - 1] == '\r')
        (*len)--;
    it->p = nl ? nl + 1 : it->end;
    it->number++;
    return 1;
}

static int skippable(const char *line, size_t len) {
    return len == 0 || line[0] == '#';
}

/* Makes room for one more element in a growing array: returns the array
 * (perhaps moved) or NULL when out of memory, leaving the old one intact. */
static void *grow(void *arr, size_t elem, size_t n, size_t *cap) {
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *grown = realloc(arr, ncap * elem);
    if (grown != NULL)
        *cap = ncap;
    return grown;
}

/* What tells an identity file from a recipients file: the words of its
 * messages, and take(), which parses one NUL-terminated line and keeps the
 * key in ctx's list. take() returns DM_ERR_USAGE for a line that is not a
 * key (the caller says which line) and any other error as it is. */
typedef struct key_file_kind {
    const char *no_text, *line_what, *malformed, *none_found;
    size_t *(*skipped)(void *ctx); /* lines passed over, when the kind skips any */
    int (*take)(void *ctx, const char *line, size_t number);
} key_file_kind;

static int parse_key_lines(const key_file_kind *kind, const char *text, size_t len, void *ctx,
                           size_t *line_out) {
    if (line_out)
        *line_out = 0;
    if (text == NULL && len > 0)
        return dm_fail(DM_ERR_USAGE, "%s", kind->no_text);
    /* A line may be a secret: copy it NUL-terminated into guarded memory. */
    char *buf = NULL;
    size_t buf_cap = 0;
    line_iter it = {text, text + len, 0};
    const char *line;
    size_t line_len, taken = 0;
    int err = DM_OK;

    while (err == DM_OK && next_line(&it, &line, &line_len)) {
        if (skippable(line, line_len))
            continue;
        if (line_len + 1 > buf_cap) {
            dm_secret_free(buf);
            buf_cap = line_len + 1;
            if ((buf = dm_secret_alloc(buf_cap)) == NULL) {
                err = dm_fail(DM_ERR_NOMEM, "%s", kind->line_what);
                break;
            }
        }
        memcpy(buf, line, line_len);
        buf[line_len] = '\0';
        err = memchr(buf, '\0', line_len) != NULL ? DM_ERR_USAGE : kind->take(ctx, buf, it.number);
        if (err == DM_OK)
            taken++;
        else if (err == DM_OK_SKIPPED)
            err = DM_OK;
        else if (err == TAKE_REPORTED) {
            err = DM_ERR_USAGE;
            if (line_out)
                *line_out = it.number;
        } else if (err == DM_ERR_USAGE) {
            /* Never echo the line: it may be a mistyped secret. */
            err = dm_fail(DM_ERR_USAGE, "%s at line %zu", kind->malformed, it.number);
            if (line_out)
                *line_out = it.number;
        }
    }
    dm_secret_free(buf);
    if (err == DM_OK && taken == 0 && kind->skipped != NULL && *kind->skipped(ctx) > 0)
        err = dm_fail(DM_ERR_USAGE, "%s (only unsupported SSH keys)", kind->none_found);
    else if (err == DM_OK && taken == 0)
        err = dm_fail(DM_ERR_USAGE, "%s", kind->none_found);
    return err;
}

/* The one dispatcher of recipient strings: a plugin's (age1NAME1...: a
 * second '1', which X25519's Bech32 data never holds), X25519's, SSH's. */
int dm_recipient_parse(const char *s, dm_recipient **out) {
    if (s == NULL)
        return dm_fail(DM_ERR_USAGE, "no recipient");
    if (dm_pq_is_recipient(s))
        return dm_pq_recipient_parse(s, out);
    if (dm_is_plugin_recipient(s))
        return dm_plugin_recipient_parse(s, NULL, out);
    if (strncmp(s, "age1", 4) == 0)
        return dm_x25519_recipient_parse(s, out);
    return dm_ssh_recipient_or_unknown(s, out);
}

int dm_identity_parse(const char *s, dm_identity **out) {
    if (dm_pq_is_identity(s))
        return dm_pq_identity_parse(s, out);
    if (dm_is_plugin_identity(s))
        return dm_plugin_identity_parse(s, NULL, out);
    return dm_x25519_identity_parse(s, out);
}

typedef struct identity_list {
    dm_identity **ids;
    size_t n, cap;
} identity_list;

/* Keys this build can't use are named, not called malformed. */
static int unsupported_identity(const char *line, size_t number) {
    if (dm_pq_is_identity(line) && !dm_pq_available())
        return dm_fail(DM_ERR_USAGE, "line %zu is an AGE-SECRET-KEY-PQ-1 identity: %s", number,
                       dm_pq_unavailable_reason());
    char type[32];
    if (dm_ssh_line_type(line, type))
        return dm_fail(DM_ERR_USAGE,
                       "line %zu is an SSH public key (%s), not an identity: give "
                       "the private key file",
                       number, type);
    return DM_OK;
}

static int take_identity(void *ctx, const char *line, size_t number) {
    identity_list *l = ctx;
    dm_identity *id = NULL;
    if (unsupported_identity(line, number) != DM_OK)
        return TAKE_REPORTED;
    if (dm_identity_parse(line, &id) != DM_OK)
        return DM_ERR_USAGE;
    dm_identity **grown = grow(l->ids, sizeof *l->ids, l->n, &l->cap);
    if (grown == NULL) {
        dm_identity_free(id);
        return dm_fail(DM_ERR_NOMEM, "identity list");
    }
    l->ids = grown;
    l->ids[l->n++] = id;
    return DM_OK;
}

static const key_file_kind identity_file = {
    .no_text = "no identity file text",
    .line_what = "identity file line",
    .malformed = "malformed secret key",
    .none_found = "no secret keys found in the identity file",
    .take = take_identity,
};

int dm_identity_file_parse(const char *text, size_t len, dm_identity ***ids_out, size_t *n_out,
                           size_t *line_out) {
    identity_list l = {0};
    int err = parse_key_lines(&identity_file, text, len, &l, line_out);
    if (err != DM_OK) {
        for (size_t i = 0; i < l.n; i++)
            dm_identity_free(l.ids[i]);
        free(l.ids);
        return err;
    }
    *ids_out = l.ids;
    *n_out = l.n;
    return DM_OK;
}

typedef struct recipient_list {
    dm_recipient **rcpts;
    size_t n, cap;
    dm_skipped_fn skipped;
    void *skipped_ctx;
    size_t n_skipped;
} recipient_list;

static size_t *recipients_skipped(void *ctx) {
    return &((recipient_list *)ctx)->n_skipped;
}

static int take_recipient(void *ctx, const char *line, size_t number) {
    recipient_list *l = ctx;
    dm_recipient *r = NULL;
    char type[32];
    if (dm_pq_is_recipient(line) && !dm_pq_available())
        return dm_fail(DM_ERR_USAGE, "line %zu is an age1pq recipient: %s", number,
                       dm_pq_unavailable_reason()),
               TAKE_REPORTED;
    int err = dm_recipient_parse(line, &r);
    if (err != DM_OK && dm_ssh_line_type(line, type) && !dm_ssh_type_supported(type)) {
        /* As age does: an authorized_keys file may hold keys of other types. */
        if (l->skipped != NULL) {
            l->skipped(l->skipped_ctx, number, type);
            l->n_skipped++;
            return DM_OK_SKIPPED;
        }
        return dm_fail(DM_ERR_USAGE, "unsupported SSH key type \"%s\" at line %zu", type, number),
               TAKE_REPORTED;
    }
    if (err == DM_ERR_NOMEM || err == DM_ERR_INTERNAL)
        return err;
    if (err != DM_OK)
        return DM_ERR_USAGE;
    dm_recipient **grown = grow(l->rcpts, sizeof *l->rcpts, l->n, &l->cap);
    if (grown == NULL) {
        dm_recipient_free(r);
        return dm_fail(DM_ERR_NOMEM, "recipient list");
    }
    l->rcpts = grown;
    l->rcpts[l->n++] = r;
    return DM_OK;
}

static const key_file_kind recipients_file = {
    .no_text = "no recipients file text",
    .line_what = "recipients file line",
    .malformed = "malformed recipient",
    .none_found = "no recipients found in the recipients file",
    .skipped = recipients_skipped,
    .take = take_recipient,
};

int dm_recipient_file_parse(const char *text, size_t len, dm_recipient ***rcpts_out, size_t *n_out,
                            size_t *line_out) {
    return dm_recipient_file_parse_skipping(text, len, rcpts_out, n_out, line_out, NULL, NULL);
}

int dm_recipient_file_parse_skipping(const char *text, size_t len, dm_recipient ***rcpts_out,
                                     size_t *n_out, size_t *line_out, dm_skipped_fn skipped,
                                     void *skipped_ctx) {
    recipient_list l = {0};
    l.skipped = skipped;
    l.skipped_ctx = skipped_ctx;
    int err = parse_key_lines(&recipients_file, text, len, &l, line_out);
    if (err != DM_OK) {
        for (size_t i = 0; i < l.n; i++)
            dm_recipient_free(l.rcpts[i]);
        free(l.rcpts);
        return err;
    }
    *rcpts_out = l.rcpts;
    *n_out = l.n;
    return DM_OK;
}

/* ------------------------------------------------ encrypted identity files */

int dm_is_age_file(const uint8_t *buf, size_t len) {
    static const char intro[] = DM_INTRO;
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (len - i >= sizeof intro - 1 && memcmp(buf + i, intro, sizeof intro - 1) == 0)
        return 1;
    return dm_armor_detect(buf, len);
}

/* A sink into guarded memory that grows by copying (realloc would leave
 * a copy of the secret behind in the old block). */
typedef struct secret_sink {
    char *buf;
    size_t len, cap;
} secret_sink;

static int secret_write(void *ctx, const uint8_t *data, size_t n) {
    secret_sink *s = ctx;
    if (n > (16u << 20) - s->len)
        return -1;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *grown = dm_secret_alloc(cap);
        if (grown == NULL)
            return -1;
        if (s->len > 0)
            memcpy(grown, s->buf, s->len);
        dm_secret_free(s->buf);
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

int dm_identity_file_decrypt(const uint8_t *file, size_t len, const char *passphrase,
                             size_t pass_len, char **text_out, size_t *len_out) {
    dm_identity *id = NULL;
    int err = dm_scrypt_identity_new(passphrase, pass_len, 0, &id);
    if (err != DM_OK)
        return err;
    dm_membuf in = {0};
    in.data = file;
    in.len = len;
    secret_sink out = {0};
    dm_sink sink = {secret_write, &out};
    dm_decrypt_opts opts = {0};
    opts.threads = 1;
    opts.backend = DM_AEAD_SODIUM;
    err = dm_decrypt(dm_source_mem(&in), sink, &id, 1, &opts);
    dm_identity_free(id);
    if (err == DM_ERR_NO_MATCH)
        err = dm_fail(DM_ERR_USAGE, "the identity file is encrypted with age but not with a "
                                    "passphrase");
    if (err != DM_OK) {
        dm_secret_free(out.buf);
        return err;
    }
    if (out.buf == NULL && (out.buf = dm_secret_alloc(1)) != NULL)
        out.buf[0] = '\0';
    if (out.buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "identity file");
    *text_out = out.buf;
    *len_out = out.len;
    return DM_OK;
}
