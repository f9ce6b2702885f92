/* doormat base: the small helpers every library room used to write for
 * itself (vault, tlog, escrow, and the command above them).
 *
 * base/ reaches nothing but libc, libsodium and libfiu: no other room of doormat is
 * included or called from here (docs/architecture.md, "The new house").
 * Each helper is a plain function with no state of its own. */
#ifndef DOORMAT_BASE_H
#define DOORMAT_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the shared libraries export: they are built with -fvisibility=hidden,
 * and every installed header (include/doormat/) puts its declarations between
 * DM_API_BEGIN and DM_API_END, so a function is exported exactly when an
 * installed header declares it. Internal headers and escrow/escrow_lab.h use
 * neither, and what they declare stays inside the library. The pair nests (a
 * header included inside another's pair pushes and pops again). */
/* On every library function that can fail: its dm_err must be looked at
 * (a call that drops it does not compile with -Werror). */
#if defined(__GNUC__)
#define DM_MUST_CHECK __attribute__((warn_unused_result))
#else
#define DM_MUST_CHECK
#endif

#if defined(__GNUC__)
#define DM_API_BEGIN _Pragma("GCC visibility push(default)")
#define DM_API_END _Pragma("GCC visibility pop")
#else
#define DM_API_BEGIN
#define DM_API_END
#endif

#ifdef __cplusplus
extern "C" {
#endif
DM_API_BEGIN

/* Error classes. Every public function of the libraries that can fail
 * returns DM_OK or one of these; each cause has its own code. The command
 * maps them to its documented exit codes (cli/exit.c); the libraries know no
 * exit code. */
typedef enum dm_err {
    DM_OK = 0,
    DM_ERR_IO,             /* read/write failure */
    DM_ERR_NOMEM,          /* out of memory */
    DM_ERR_INTERNAL,       /* a library call failed unexpectedly */
    DM_ERR_USAGE,          /* bad argument, bad key string */
    DM_ERR_HEADER,         /* malformed header */
    DM_ERR_ARMOR,          /* malformed ASCII armor */
    DM_ERR_NO_MATCH,       /* no identity unwrapped any stanza */
    DM_ERR_HMAC,           /* header MAC mismatch */
    DM_ERR_PAYLOAD,        /* payload authentication failed/truncated */
    DM_ERR_POLICY,         /* a policy check refused the file */
    DM_ERR_DENIED,         /* access not authorised */
    DM_ERR_LOG,            /* a transparency log is inconsistent */
    DM_ERR_PLUGIN,         /* plugin crashed, hung, broke the protocol
                              or reported an error */
    DM_ERR_BUSY,           /* a log or witness state another process
                              holds (the detail names it) */
    DM_ERR_BAD_PASSPHRASE, /* the passphrase of a file or of an encrypted
                              identity file is wrong */
    DM_ERR_TOO_FEW_SHARES, /* fewer than the threshold of valid shares */
    DM_ERR_NO_STANZA,      /* no escrow stanza for this agent or authority,
                              or one that does not open */
    DM_ERR_NOT_FOUND,      /* a tile, entry, file or state that does not
                              exist (HTTP 404, ENOENT, not yet committed) */
    DM_ERR__COUNT
} dm_err;

/* Details of the last failure in this thread ("stanza body line 2 is longer
 * than 64 columns"); never contains secret material. Empty when none. */
const char *dm_err_detail(void);
/* Sets the detail text for this thread and returns err, for `return dm_fail(...)`. */
int dm_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the text in buf, too long for cap bytes (cap > 5), within them and
 * never in the middle of a word: at the last space before cap - 5, the spaces
 * before it dropped, then " ...". One word longer than the room is cut where
 * it must be. */
void dm_cut_words(char *buf, size_t cap);
/* vsnprintf into buf, "" when it fails; a text too long for cap bytes is
 * ended by dm_cut_words. */
void dm_vformat_words(char *buf, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The unsigned decimal in s[0..len), strictly: one to twenty ASCII digits, no
 * sign, no space, no leading zero (but "0" itself), at most UINT64_MAX. On
 * success *out is set and true is returned; otherwise *out is untouched. */
bool dm_parse_u64(const char *s, size_t len, uint64_t *out);

/* The n bytes of in as 2n lower-case hex digits and a NUL, in out (2n + 1
 * bytes). n may be 0: out is then "". Constant-time (libsodium's encoder). */
void dm_hex(const uint8_t *in, size_t n, char *out);

/* Reads from fd until n bytes are in buf or the file ends, retrying EINTR and
 * short reads. The count read (less than n only at the end of the file), or
 * -1 with errno set by the read that failed. */
ssize_t dm_read_all(int fd, void *buf, size_t n);
/* The same with pread from offset off (fd's offset is left alone). */
ssize_t dm_pread_all(int fd, void *buf, size_t n, off_t off);
/* Writes the n bytes of buf to fd, retrying EINTR and short writes. 0, or -1
 * with errno set (EIO for a write that wrote nothing). dm_io_write_all with
 * no fault point. */
DM_MUST_CHECK
int dm_write_all(int fd, const void *buf, size_t n);

/* Writes that must survive a crash or a full disk (base/durable.c). Each
 * dm_io_ call is the system call it names, made a libfiu fault point
 * "doormat/POINT/OP" (OP: open, write, fsync, close, rename, mkdir, dirsync,
 * syncfs) when point is not NULL: the point's failinfo is the errno to fail
 * with, and 0 at a write point writes half the bytes, as a disk that fills.
 * Each returns what the system call returns: -1 with errno set on failure.
 * dm_io_write_all writes everything or fails (a short write is retried);
 * dm_io_close closes fd even when it fails; dm_io_fsync_dir fsyncs the
 * directory path. */
DM_MUST_CHECK
int dm_io_open(const char *point, const char *path, int flags, mode_t mode);
DM_MUST_CHECK
int dm_io_write_all(const char *point, int fd, const void *data, size_t len);
DM_MUST_CHECK
int dm_io_fsync(const char *point, int fd);
DM_MUST_CHECK
int dm_io_close(const char *point, int fd);
DM_MUST_CHECK
int dm_io_rename(const char *point, const char *from, const char *to);
DM_MUST_CHECK
int dm_io_mkdir(const char *point, const char *path, mode_t mode);
DM_MUST_CHECK
int dm_io_fsync_dir(const char *point, const char *path);
DM_MUST_CHECK
int dm_io_syncfs(const char *point, int fd);
/* The second half of a replace: fd is tmp, opened for writing; it is given
 * mode (0: left as it is), written, fsync'd and closed, and tmp is renamed
 * over path. On failure tmp is removed, path is as it was, -1 with errno. The
 * directory is not fsync'd: the caller syncs it (once for many files). */
DM_MUST_CHECK
int dm_io_replace(const char *point, int fd, const char *tmp, const char *path, mode_t mode,
                  const void *data, size_t len);

/* The step of a writer below that failed, for the caller's message. */
typedef enum dm_io_step {
    DM_IO_STEP_OPEN,    /* the file (or PATH.tmp) could not be created */
    DM_IO_STEP_WRITE,   /* a write, fsync, close or the rename failed */
    DM_IO_STEP_DIRSYNC, /* the directory's fsync failed (path is already new) */
} dm_io_step;

/* Replaces path whole, atomically: PATH.tmp in the same directory (a stale
 * one removed first, then created anew with mode, less the umask), written,
 * fsync'd, renamed over path, and the directory fsync'd. A failure before the
 * rename leaves path byte for byte as it was and no PATH.tmp. 0, or -1 with
 * errno set and *failed (if not NULL) the step. point names the fault
 * points of its calls, as above (NULL: none). */
DM_MUST_CHECK
int dm_atomic_write(const char *point, const char *path, const void *data, size_t len, mode_t mode,
                    dm_io_step *failed);
/* Writes a file that must not exist yet (O_EXCL) with mode (less the umask),
 * and fsyncs it; on any failure after its creation the file is removed. An
 * existing file is DM_ERR_USAGE, other failures DM_ERR_IO, with the detail
 * (dm_err_detail). The authority's files, keys and TLS identities are written
 * with it. */
DM_MUST_CHECK
int dm_write_new_file(const char *path, const void *data, size_t len, mode_t mode);

/* Guarded memory for secrets: pages of its own between guard pages, locked,
 * never in a core dump (libsodium's sodium_malloc, recycled in a small pool).
 * NULL when out of memory. */
void *dm_secret_alloc(size_t n);
void dm_secret_free(void *p); /* zeroes and frees; accepts NULL */
/* n zeroed bytes of guarded memory, or NULL with DM_ERR_NOMEM's detail set. */
void *dm_secret_new(size_t n);

/* A growing text buffer, NUL-terminated once anything is added. Start it
 * zeroed ({0}, or {.secret = true} for text that must live in guarded memory:
 * every copy is then dm_secret_alloc'd and zeroed when dropped). printf
 * adds text of any length. A failed allocation (or a format vsnprintf
 * refuses) sets failed: later additions do nothing and dm_buf_take says so. */
typedef struct dm_buf {
    char *data;
    size_t len;
    size_t cap;
    bool secret;
    bool failed;
} dm_buf;
void dm_buf_add(dm_buf *b, const void *s, size_t n);
void dm_buf_str(dm_buf *b, const char *s);
void dm_buf_printf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dm_buf_vprintf(dm_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the NUL-terminated text (never NULL) and its length (if len) to the
 * caller, who frees it with free, or dm_secret_free when secret; the buffer is
 * empty again. false, with the buffer freed, if any addition failed. */
bool dm_buf_take(dm_buf *b, char **text, size_t *len);
/* Frees (and for a secret buffer zeroes) the text; the buffer is empty again.
 * failed and secret stay as they were. */
void dm_buf_clear(dm_buf *b);

DM_API_END
#ifdef __cplusplus
}
#endif

#endif
