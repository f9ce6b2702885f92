/* Writes that must survive a crash or a full disk: the system calls that
 * change what is on disk, each a libfiu fault-injection point, and the two
 * writers made of them (a file replaced whole, a file that must not exist).
 *
 * A full disk or a failing one must never leave a log that disagrees with its
 * signed checkpoint, so every call that changes what is on disk can be made
 * to fail on purpose: tests/e2e/log_faults.sh fails each of them in turn
 * (tests/fiu_nth.c picks the call). The points are always compiled in: while
 * no point is enabled, libfiu answers a lookup in its empty table, nothing
 * next to the fsync that follows every write, and the program that is tested
 * is the one that ships.
 *
 * tests/fiu_nth.c enables the points by name: a new one goes in its list too.
 * A point's failinfo is the errno to fail with; 0 at a write point is a short
 * write (half the bytes reach the file, as when the disk fills mid-write).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIU_ENABLE 1
#include <fiu-local.h>

#include "doormat/base.h"

/* One write moves at most this much: a count that fits ssize_t everywhere. */
#define DM_IO_MAX ((size_t)1 << 30)

/* errno to fail with at point prefix/op, or 0 (no fault, or no point);
 * *is_short for a short write. */
static int injected(const char *prefix, const char *op, int *is_short) {
    if (is_short)
        *is_short = 0;
    if (prefix == NULL)
        return 0;
    char name[96];
    snprintf(name, sizeof name, "doormat/%s/%s", prefix, op);
    if (!fiu_fail(name))
        return 0;
    int e = (int)(intptr_t)fiu_failinfo();
    if (e == 0 && is_short) {
        *is_short = 1;
        return 0;
    }
    return e > 0 ? e : EIO;
}

/* -1 with errno set when point's op is to fail now, else 0. */
static int fault(const char *point, const char *op) {
    int e = injected(point, op, NULL);
    if (e)
        errno = e;
    return e ? -1 : 0;
}

int dm_io_open(const char *point, const char *path, int flags, mode_t mode) {
    return fault(point, "open") ? -1 : open(path, flags, mode);
}

int dm_io_write_all(const char *point, int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        int is_short;
        int e = injected(point, "write", &is_short);
        if (e) {
            errno = e;
            return -1;
        }
        size_t want = len - done;
        if (want > DM_IO_MAX)
            want = DM_IO_MAX;
        if (is_short && want > 1)
            want /= 2;
        ssize_t w = write(fd, p + done, want);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        /* A zero-byte write of a non-empty buffer would spin forever. */
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

int dm_io_fsync(const char *point, int fd) {
    return fault(point, "fsync") ? -1 : fsync(fd);
}

int dm_io_close(const char *point, int fd) {
    int e = injected(point, "close", NULL);
    int rc = close(fd); /* the descriptor goes either way */
    if (e) {
        errno = e;
        return -1;
    }
    return rc;
}

int dm_io_rename(const char *point, const char *from, const char *to) {
    return fault(point, "rename") ? -1 : rename(from, to);
}

int dm_io_mkdir(const char *point, const char *path, mode_t mode) {
    return fault(point, "mkdir") ? -1 : mkdir(path, mode);
}

int dm_io_fsync_dir(const char *point, const char *path) {
    if (fault(point, "dirsync"))
        return -1;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int dm_io_syncfs(const char *point, int fd) {
    return fault(point, "syncfs") ? -1 : syncfs(fd);
}

int dm_io_replace(const char *point, int fd, const char *tmp, const char *path, mode_t mode,
                  const void *data, size_t len) {
    int ok = (mode == 0 || fchmod(fd, mode) == 0) && dm_io_write_all(point, fd, data, len) == 0 &&
             dm_io_fsync(point, fd) == 0;
    int e = errno;
    if (dm_io_close(point, fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && dm_io_rename(point, tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* The directory that holds path, in dir (cap bytes): "." for a bare name. */
static int parent_of(const char *path, char *dir, size_t cap) {
    if ((size_t)snprintf(dir, cap, "%s", path) >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, cap, ".");
    return 0;
}

int dm_atomic_write(const char *point, const char *path, const void *data, size_t len, mode_t mode,
                    dm_io_step *failed) {
    char tmp[4200], dir[4096];
    dm_io_step dummy;
    if (failed == NULL)
        failed = &dummy;
    *failed = DM_IO_STEP_OPEN;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp ||
        parent_of(path, dir, sizeof dir) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* A temporary file a crash left behind goes first: O_EXCL then never
     * follows a link someone put in its place. */
    unlink(tmp);
    int fd = dm_io_open(point, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    *failed = DM_IO_STEP_WRITE;
    if (dm_io_replace(point, fd, tmp, path, 0, data, len) != 0)
        return -1;
    *failed = DM_IO_STEP_DIRSYNC;
    return dm_io_fsync_dir(point, dir);
}

int dm_write_new_file(const char *path, const void *data, size_t len, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return dm_fail(errno == EEXIST ? DM_ERR_USAGE : DM_ERR_IO, "%s: %s", path, strerror(errno));
    int ok = dm_io_write_all(NULL, fd, data, len) == 0 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        unlink(path);
        return dm_fail(DM_ERR_IO, "%s: write failed", path);
    }
    return DM_OK;
}
