/* doormat base: the small helpers every library room used to write for
 * itself (vault, tlog, escrow, and the command above them).
 *
 * base/ reaches nothing but libc and libsodium: no other room of doormat is
 * included or called from here (docs/architecture.md, "The new house").
 * Each helper is a plain function with no state of its own. */
#ifndef DOORMAT_BASE_H
#define DOORMAT_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

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
 * with errno set (EIO for a write that wrote nothing). */
int dm_write_all(int fd, const void *buf, size_t n);

/* Guarded memory for secrets: pages of its own between guard pages, locked,
 * never in a core dump (libsodium's sodium_malloc, recycled in a small pool).
 * NULL when out of memory. */
void *dm_secret_alloc(size_t n);
void dm_secret_free(void *p); /* zeroes and frees; accepts NULL */

/* A growing text buffer, NUL-terminated once anything is added. Start it
 * zeroed ({0}, or {.secret = true} for text that must live in guarded memory:
 * every copy is then dm_secret_alloc'd and zeroed when dropped). A failed
 * allocation, or a printf longer than 4,095 bytes, sets failed: later
 * additions do nothing and dm_buf_take says so. */
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
void dm_buf_free(dm_buf *b);

#ifdef __cplusplus
}
#endif

#endif
