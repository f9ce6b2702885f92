/* Recipient stanzas: owned, deep-copied lists. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Checked here so that whatever a recipient adds can always be encoded into a
 * header the parser accepts. */
int dm_stanza_is_argument(const char *s) {
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static void dm_stanza_clear(dm_stanza *st) {
    free(st->type);
    for (size_t i = 0; i < st->nargs; i++)
        free(st->args[i]);
    free(st->args);
    free(st->body);
    memset(st, 0, sizeof *st);
}

int dm_stanza_list_add(dm_stanza_list *list, const char *type, const char *const *args,
                       size_t nargs, const uint8_t *body, size_t body_len) {
    if (!dm_stanza_is_argument(type))
        return dm_fail(DM_ERR_USAGE, "stanza type is empty or not printable ASCII");
    for (size_t i = 0; i < nargs; i++)
        if (!dm_stanza_is_argument(args[i]))
            return dm_fail(DM_ERR_USAGE, "stanza argument %zu is empty or not printable ASCII",
                           i + 1);

    if (list->len == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 4;
        if (cap > SIZE_MAX / sizeof(dm_stanza))
            return dm_fail(DM_ERR_NOMEM, "too many stanzas");
        dm_stanza *items = realloc(list->items, cap * sizeof(dm_stanza));
        if (items == NULL)
            return dm_fail(DM_ERR_NOMEM, "stanza list");
        list->items = items;
        list->cap = cap;
    }

    dm_stanza st = {0};
    st.type = strdup(type);
    /* Never NULL, even when empty, so callers may index and memcpy freely. */
    st.args = calloc(nargs ? nargs : 1, sizeof(char *));
    st.body = malloc(body_len ? body_len : 1);
    if (st.type == NULL || st.args == NULL || st.body == NULL)
        goto nomem;
    for (size_t i = 0; i < nargs; i++) {
        st.args[i] = strdup(args[i]);
        if (st.args[i] == NULL)
            goto nomem;
        st.nargs = i + 1;
    }
    if (body_len)
        memcpy(st.body, body, body_len);
    st.body_len = body_len;
    list->items[list->len++] = st;
    return DM_OK;

nomem:
    dm_stanza_clear(&st);
    return dm_fail(DM_ERR_NOMEM, "stanza copy");
}

void dm_stanza_list_clear(dm_stanza_list *list) {
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->len; i++)
        dm_stanza_clear(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->len = 0;
    list->cap = 0;
}

/* The canonical base64 of exactly n bytes. */
static bool arg_bytes(const char *arg, uint8_t *out, size_t n) {
    size_t len = strlen(arg), got = 0;
    return len == dm_b64_encoded_len(n) && dm_b64_decode(arg, len, out, n, &got) == DM_OK &&
           got == n;
}

bool dm_stanza_fits(const dm_stanza_shape *shape, const dm_stanza *st, uint8_t *const *args) {
    if (st->nargs != shape->nargs) {
        if (shape->bad_nargs != NULL)
            dm_fail(DM_ERR_HEADER, "%s", shape->bad_nargs);
        else
            dm_fail(DM_ERR_HEADER, "%s stanza has %zu arguments, want %zu", st->type, st->nargs,
                    shape->nargs);
        return false;
    }
    for (size_t i = 0; i < shape->nargs && i < 2; i++) {
        if (shape->arg_len[i] > 0 && !arg_bytes(st->args[i], args[i], shape->arg_len[i])) {
            dm_fail(DM_ERR_HEADER, "%s", shape->bad_args);
            return false;
        }
    }
    if (shape->body_len > 0 && st->body_len != shape->body_len) {
        dm_fail(DM_ERR_HEADER, "%s stanza body is %zu bytes, want %zu", st->type, st->body_len,
                shape->body_len);
        return false;
    }
    return true;
}
