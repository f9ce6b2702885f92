/* Whole reads and writes on a descriptor: the loops around read, pread and
 * write that retry an interrupted or short call. */
#include <errno.h>
#include <unistd.h>

#include "doormat/base.h"

/* One call moves at most this much: a count that fits ssize_t everywhere. */
#define DM_FDIO_MAX ((size_t)1 << 30)

static size_t step(size_t n) {
    return n > DM_FDIO_MAX ? DM_FDIO_MAX : n;
}

/* read (off < 0) or pread from off, until n bytes or the end of the file. */
static ssize_t fill(int fd, uint8_t *p, size_t n, off_t off) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = off < 0 ? read(fd, p + done, step(n - done))
                              : pread(fd, p + done, step(n - done), off + (off_t)done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

ssize_t dm_read_all(int fd, void *buf, size_t n) {
    return fill(fd, buf, n, -1);
}

ssize_t dm_pread_all(int fd, void *buf, size_t n, off_t off) {
    if (off < 0) {
        errno = EINVAL; /* as pread says of a negative offset */
        return -1;
    }
    return fill(fd, buf, n, off);
}

int dm_write_all(int fd, const void *buf, size_t n) {
    return dm_io_write_all(NULL, fd, buf, n); /* the one loop, with no fault point */
}
