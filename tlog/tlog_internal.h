/* Internal interfaces between the transparency-log modules (not installed). */
#ifndef DOORMAT_TLOG_INTERNAL_H
#define DOORMAT_TLOG_INTERNAL_H

#include <sys/types.h>

#include "doormat/base.h"
#include "doormat/tlog.h"

/* Bound on any resource read from a log: a full bundle of the longest entries. */
#define DM_TLOG_MAX_RESOURCE (DM_TLOG_TILE_WIDTH * (DM_TLOG_MAX_ENTRY + 2))

/* Width of tile (level, index) in a tree of size leaves (level -1: entries);
 * 0 when the tree has no such tile. */
unsigned dm_tlog_tile_width(int level, uint64_t index, uint64_t size);
/* Fetches a tile of width w, falling back to the full tile when a partial
 * one was pruned; checks its length (DM_ERR_LOG when missing or wrong). */
int dm_tlog_fetch_tile(dm_tlog_fetcher f, int level, uint64_t index, unsigned w, uint8_t **data,
                       size_t *len);
/* Only the characters of standard base64 (libsodium's decoder is given
 * nothing else: it reads some bytes above 0x7f as letters). */
static inline int dm_tlog_b64_chars(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return 0;
    }
    return 1;
}

/* MTH of n = 2^k consecutive hashes. */
void dm_tlog_subtree_hash(const uint8_t *hashes, size_t n, dm_tlog_hash out);

/* The calls that write a log or a witness's record: base's fault points
 * (include/doormat/base.h, dm_io_*), "doormat/POINT/OP" (OP: open, write,
 * fsync, close, rename, mkdir, dirsync, syncfs); they set errno and return -1
 * like the calls they wrap, except dm_tlog_io_fsync_dir (tlog_io.c), which
 * returns a dm_err with its detail. */
static inline int dm_tlog_io_open(const char *point, const char *path, int flags, mode_t mode) {
    return dm_io_open(point, path, flags, mode);
}
static inline int dm_tlog_io_write_all(const char *point, int fd, const void *data, size_t len) {
    return dm_io_write_all(point, fd, data, len);
}
static inline int dm_tlog_io_fsync(const char *point, int fd) {
    return dm_io_fsync(point, fd);
}
static inline int dm_tlog_io_close(const char *point, int fd) {
    return dm_io_close(point, fd);
}
static inline int dm_tlog_io_rename(const char *point, const char *from, const char *to) {
    return dm_io_rename(point, from, to);
}
static inline int dm_tlog_io_mkdir(const char *point, const char *path, mode_t mode) {
    return dm_io_mkdir(point, path, mode);
}
static inline int dm_tlog_io_syncfs(const char *point, int fd) {
    return dm_io_syncfs(point, fd);
}
/* Finishes replacing path whole through tmp (dm_io_replace). */
static inline int dm_tlog_io_replace(const char *point, int fd, const char *tmp, const char *path,
                                     mode_t mode, const void *data, size_t len) {
    return dm_io_replace(point, fd, tmp, path, mode, data, len);
}
int dm_tlog_io_fsync_dir(const char *point, const char *path);

/* Takes the exclusive flock on fd, an open lock file (tlog_lock.c), as o
 * says (NULL: no holder's name, DM_TLOG_LOCK_WAIT seconds), and writes the
 * holder's line into it; held by another process: DM_ERR_BUSY, the detail
 * "NAME: WHAT is held by another process (pid ..., HOLDER, since ...); stop
 * it first". dm_tlog_lock_drop empties the file and closes fd. */
int dm_tlog_lock_take(int fd, const char *name, const char *what, const dm_tlog_lock_opts *o);
void dm_tlog_lock_drop(int fd);

#endif
