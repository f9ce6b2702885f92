/* Sources and sinks: file descriptors, memory, and a bit bucket. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doormat/base.h"
#include "doormat/vault.h"
#include "stream.h"

/* Larger single reads gain nothing and some kernels cap them anyway (writes:
 * dm_write_all, with the same cap). */
#define DM_IO_MAX ((size_t)1 << 30)

static ssize_t fd_read(void *ctx, uint8_t *buf, size_t n) {
    int fd = *(const int *)ctx;
    if (n > DM_IO_MAX)
        n = DM_IO_MAX;
    for (;;) {
        ssize_t got = read(fd, buf, n);
        if (got >= 0)
            return got;
        if (errno != EINTR)
            return -1;
    }
}

static int fd_write(void *ctx, const uint8_t *buf, size_t n) {
    return dm_write_all(*(const int *)ctx, buf, n);
}

dm_source dm_source_fd(int *fd) {
    return (dm_source){fd_read, fd, DM_SOURCE_FD};
}

dm_sink dm_sink_fd(int *fd) {
    return (dm_sink){fd_write, fd};
}

static ssize_t mem_read(void *ctx, uint8_t *buf, size_t n) {
    dm_membuf *m = ctx;
    if (m->pos >= m->len)
        return 0;
    size_t left = m->len - m->pos;
    if (n > left)
        n = left;
    if (n > (size_t)SSIZE_MAX)
        n = (size_t)SSIZE_MAX;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static int mem_write(void *ctx, const uint8_t *buf, size_t n) {
    dm_membuf *m = ctx;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX - m->len)
        return -1;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n) {
            if (cap > SIZE_MAX / 2) {
                cap = m->len + n;
                break;
            }
            cap *= 2;
        }
        uint8_t *grown = realloc(m->buf, cap);
        if (grown == NULL)
            return -1;
        m->buf = grown;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, buf, n);
    m->len += n;
    return 0;
}

dm_source dm_source_mem(dm_membuf *m) {
    return (dm_source){mem_read, m, DM_SOURCE_MEM};
}

dm_sink dm_sink_mem(dm_membuf *m) {
    return (dm_sink){mem_write, m};
}

static int null_write(void *ctx, const uint8_t *buf, size_t n) {
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

dm_sink dm_sink_null(void) {
    return (dm_sink){null_write, NULL};
}

dm_membuf *dm_source_mem_of(dm_source s) {
    return s.kind == DM_SOURCE_MEM ? s.ctx : NULL;
}

int *dm_source_fd_of(dm_source s) {
    return s.kind == DM_SOURCE_FD ? s.ctx : NULL;
}

int dm_source_pread_fd(dm_source s, struct stat *st) {
    const int *fd = dm_source_fd_of(s);
    if (fd == NULL || fstat(*fd, st) != 0 || !S_ISREG(st->st_mode))
        return -1;
    return *fd;
}
