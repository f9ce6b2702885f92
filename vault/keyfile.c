/* Identity files (age-keygen output) and recipients files (-R). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

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
    int (*take)(void *ctx, const char *line);
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
            sodium_free(buf);
            buf_cap = line_len + 1;
            if ((buf = sodium_malloc(buf_cap)) == NULL) {
                err = dm_fail(DM_ERR_NOMEM, "%s", kind->line_what);
                break;
            }
        }
        memcpy(buf, line, line_len);
        buf[line_len] = '\0';
        err = memchr(buf, '\0', line_len) != NULL ? DM_ERR_USAGE : kind->take(ctx, buf);
        if (err == DM_OK)
            taken++;
        else if (err == DM_ERR_USAGE) {
            /* Never echo the line: it may be a mistyped secret. */
            err = dm_fail(DM_ERR_USAGE, "%s at line %zu", kind->malformed, it.number);
            if (line_out)
                *line_out = it.number;
        }
    }
    sodium_free(buf);
    if (err == DM_OK && taken == 0)
        err = dm_fail(DM_ERR_USAGE, "%s", kind->none_found);
    return err;
}

int dm_recipient_parse(const char *s, dm_recipient **out) {
    if (dm_is_plugin_recipient(s))
        return dm_plugin_recipient_parse(s, NULL, out);
    return dm_x25519_recipient_parse(s, out);
}

int dm_identity_parse(const char *s, dm_identity **out) {
    if (dm_is_plugin_identity(s))
        return dm_plugin_identity_parse(s, NULL, out);
    return dm_x25519_identity_parse(s, out);
}

typedef struct identity_list {
    dm_identity **ids;
    size_t n, cap;
} identity_list;

static int take_identity(void *ctx, const char *line) {
    identity_list *l = ctx;
    dm_identity *id = NULL;
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
} recipient_list;

static int take_recipient(void *ctx, const char *line) {
    recipient_list *l = ctx;
    dm_recipient *r = NULL;
    if (dm_recipient_parse(line, &r) != DM_OK)
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
    .take = take_recipient,
};

int dm_recipient_file_parse(const char *text, size_t len, dm_recipient ***rcpts_out, size_t *n_out,
                            size_t *line_out) {
    recipient_list l = {0};
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
