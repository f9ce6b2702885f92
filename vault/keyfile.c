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

int dm_identity_file_parse(const char *text, size_t len, dm_identity ***ids_out, size_t *n_out,
                           size_t *line_out) {
    if (line_out)
        *line_out = 0;
    if (text == NULL && len > 0)
        return dm_fail(DM_ERR_USAGE, "no identity file text");
    dm_identity **ids = NULL;
    size_t n = 0, cap = 0;
    /* Each line is a secret: copy it NUL-terminated into guarded memory. */
    char *buf = NULL;
    size_t buf_cap = 0;
    line_iter it = {text, text + len, 0};
    const char *line;
    size_t line_len;
    int err = DM_OK;

    while (err == DM_OK && next_line(&it, &line, &line_len)) {
        if (skippable(line, line_len))
            continue;
        if (line_len + 1 > buf_cap) {
            sodium_free(buf);
            buf_cap = line_len + 1;
            if ((buf = sodium_malloc(buf_cap)) == NULL) {
                err = dm_fail(DM_ERR_NOMEM, "identity file line");
                break;
            }
        }
        memcpy(buf, line, line_len);
        buf[line_len] = '\0';
        dm_identity *id = NULL;
        if (memchr(buf, '\0', line_len) != NULL || dm_x25519_identity_parse(buf, &id) != DM_OK) {
            /* Never echo the line: it may be a mistyped secret. */
            err = dm_fail(DM_ERR_USAGE, "malformed secret key at line %zu", it.number);
            if (line_out)
                *line_out = it.number;
            break;
        }
        dm_identity **grown = grow(ids, sizeof *ids, n, &cap);
        if (grown == NULL) {
            dm_identity_free(id);
            err = dm_fail(DM_ERR_NOMEM, "identity list");
            break;
        }
        ids = grown;
        ids[n++] = id;
    }
    sodium_free(buf);
    if (err == DM_OK && n == 0)
        err = dm_fail(DM_ERR_USAGE, "no secret keys found in the identity file");
    if (err != DM_OK) {
        for (size_t i = 0; i < n; i++)
            dm_identity_free(ids[i]);
        free(ids);
        return err;
    }
    *ids_out = ids;
    *n_out = n;
    return DM_OK;
}

int dm_recipient_file_parse(const char *text, size_t len, dm_recipient ***rcpts_out, size_t *n_out,
                            size_t *line_out) {
    if (line_out)
        *line_out = 0;
    if (text == NULL && len > 0)
        return dm_fail(DM_ERR_USAGE, "no recipients file text");
    dm_recipient **rcpts = NULL;
    size_t n = 0, cap = 0;
    char *buf = NULL;
    size_t buf_cap = 0;
    line_iter it = {text, text + len, 0};
    const char *line;
    size_t line_len;
    int err = DM_OK;

    while (err == DM_OK && next_line(&it, &line, &line_len)) {
        if (skippable(line, line_len))
            continue;
        if (line_len + 1 > buf_cap) {
            free(buf);
            buf_cap = line_len + 1;
            if ((buf = malloc(buf_cap)) == NULL) {
                err = dm_fail(DM_ERR_NOMEM, "recipients file line");
                break;
            }
        }
        memcpy(buf, line, line_len);
        buf[line_len] = '\0';
        dm_recipient *r = NULL;
        if (memchr(buf, '\0', line_len) != NULL || dm_x25519_recipient_parse(buf, &r) != DM_OK) {
            err = dm_fail(DM_ERR_USAGE, "malformed recipient at line %zu", it.number);
            if (line_out)
                *line_out = it.number;
            break;
        }
        dm_recipient **grown = grow(rcpts, sizeof *rcpts, n, &cap);
        if (grown == NULL) {
            dm_recipient_free(r);
            err = dm_fail(DM_ERR_NOMEM, "recipient list");
            break;
        }
        rcpts = grown;
        rcpts[n++] = r;
    }
    free(buf);
    if (err == DM_OK && n == 0)
        err = dm_fail(DM_ERR_USAGE, "no recipients found in the recipients file");
    if (err != DM_OK) {
        for (size_t i = 0; i < n; i++)
            dm_recipient_free(rcpts[i]);
        free(rcpts);
        return err;
    }
    *rcpts_out = rcpts;
    *n_out = n;
    return DM_OK;
}
