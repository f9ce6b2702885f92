/* Bytes handed out piece by piece, as a reader or a peer would: the unit
   tests' and the fuzz targets' scripted sources and transports take from a
   feed at most step bytes at a time, so that every short read is exercised. */
#ifndef DOORMAT_TESTS_FEED_H
#define DOORMAT_TESTS_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct test_feed {
    const uint8_t *data;
    size_t len, pos;
    size_t step; /* the most one take hands out; 0: no limit */
} test_feed;

/* Copies the next bytes into buf (at most n, at most step) and returns how
   many: 0 once everything is taken. */
static inline size_t test_feed_take(test_feed *f, uint8_t *buf, size_t n) {
    size_t take = f->len - f->pos;
    if (take > n)
        take = n;
    if (f->step && take > f->step)
        take = f->step;
    memcpy(buf, f->data + f->pos, take);
    f->pos += take;
    return take;
}

#endif
