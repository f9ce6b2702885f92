/* The growing text buffer: sizes double from 256 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "doormat/base.h"

static void buf_reserve(dm_buf *b, size_t extra) {
    if (b->failed)
        return;
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = b->secret ? dm_secret_alloc(cap) : malloc(cap);
    if (!p) {
        b->failed = true;
        return;
    }
    if (b->data) {
        memcpy(p, b->data, b->len);
        if (b->secret) {
            dm_secret_free(b->data);
        } else {
            free(b->data);
        }
    }
    b->data = p;
    b->cap = cap;
}

void dm_buf_add(dm_buf *b, const void *s, size_t n) {
    buf_reserve(b, n);
    if (b->failed)
        return;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dm_buf_str(dm_buf *b, const char *s) {
    dm_buf_add(b, s, strlen(s));
}

void dm_buf_vprintf(dm_buf *b, const char *fmt, va_list ap) {
    char tmp[4096]; /* most lines fit: one vsnprintf */
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0) {
        b->failed = true;
    } else if ((size_t)n < sizeof tmp) {
        dm_buf_add(b, tmp, (size_t)n);
    } else {
        /* longer: formatted again, straight into the buffer grown for it */
        buf_reserve(b, (size_t)n);
        if (!b->failed && vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again) == n)
            b->len += (size_t)n;
        else
            b->failed = true;
    }
    va_end(again);
    sodium_memzero(tmp, sizeof tmp);
}

void dm_buf_printf(dm_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dm_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

bool dm_buf_take(dm_buf *b, char **text, size_t *len) {
    buf_reserve(b, 0);
    if (b->failed) {
        dm_buf_clear(b);
        return false;
    }
    b->data[b->len] = '\0';
    *text = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return true;
}

void dm_buf_clear(dm_buf *b) {
    if (b == NULL)
        return;
    if (b->data) {
        if (b->secret) {
            dm_secret_free(b->data);
        } else {
            free(b->data);
        }
    }
    b->data = NULL;
    b->len = b->cap = 0;
}
