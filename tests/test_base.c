/* base/: the helpers every library room shares, byte for byte, with their
 * error cases. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#include <cmocka.h>
#include <sodium.h>

#define FIU_ENABLE 1 /* fiu.h declares nothing without it */
#include <fiu-control.h>
#include <fiu.h>

#include "doormat/base.h"

/* ------------------------------------------------------------- parse_u64 */

static bool u64(const char *s, uint64_t *out) {
    *out = 7777;
    return dm_parse_u64(s, strlen(s), out);
}

static void test_parse_u64_accepts(void **state) {
    (void)state;
    uint64_t v;
    assert_true(u64("0", &v));
    assert_true(v == 0);
    assert_true(u64("1", &v));
    assert_true(v == 1);
    assert_true(u64("4294967296", &v));
    assert_true(v == 4294967296u);
    assert_true(u64("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    /* only len bytes are read: the digits after them do not count */
    v = 0;
    assert_true(dm_parse_u64("123456", 3, &v));
    assert_true(v == 123);
}

static void test_parse_u64_rejects(void **state) {
    (void)state;
    static const char *bad[] = {
        "",                      /* empty */
        "18446744073709551616",  /* UINT64_MAX + 1 */
        "99999999999999999999",  /* twenty digits, over */
        "100000000000000000000", /* twenty-one digits */
        "00",
        "01",
        "007", /* leading zeros */
        "+1",
        "-1",
        "-0", /* signs */
        " 1",
        "1 ",
        "1\n", /* spaces */
        "0x1",
        "1a",
        "a", /* not decimal */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        assert_false(u64(bad[i], &v));
        assert_true(v == 7777); /* untouched on failure */
    }
    uint64_t v = 7777;
    assert_false(dm_parse_u64("12", 0, &v));
    assert_true(v == 7777);
}

/* ------------------------------------------------------------------- hex */

static void test_hex(void **state) {
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 2];
    memset(out, 'x', sizeof out);
    dm_hex(in, sizeof in, out);
    assert_memory_equal(out, "00017f80abff\0x", sizeof out);
    /* every byte value, lower case, in order */
    uint8_t all[256];
    char all_hex[513];
    for (size_t i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    dm_hex(all, sizeof all, all_hex);
    assert_int_equal(strlen(all_hex), 512);
    assert_memory_equal(all_hex, "000102", 6);
    assert_memory_equal(all_hex + 2 * 0x9f, "9fa0", 4);
    assert_memory_equal(all_hex + 506, "fdfeff", 6);
}

static void test_hex_of_nothing(void **state) {
    (void)state;
    char out[2] = {'x', 'x'};
    dm_hex((const uint8_t *)"", 0, out);
    assert_memory_equal(out, "\0x", 2);
}

/* ------------------------------------------------- read-all and write-all */

#define BIG (1u << 20) /* far more than a pipe holds: many short reads */

static uint8_t pattern(size_t i) {
    return (uint8_t)(i * 131 + (i >> 8));
}

/* A child writes BIG bytes (then extra, if asked) into a pipe with
 * dm_write_all and exits 0 only if that succeeded. */
static pid_t writer(int fds[2], size_t extra) {
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        uint8_t *b = malloc(BIG + extra);
        if (b == NULL)
            _exit(2);
        for (size_t i = 0; i < BIG + extra; i++)
            b[i] = pattern(i);
        _exit(dm_write_all(fds[1], b, BIG + extra) == 0 ? 0 : 3);
    }
    close(fds[1]);
    return pid;
}

static void reap(pid_t pid) {
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_read_all_through_short_reads(void **state) {
    (void)state;
    int fds[2];
    pid_t pid = writer(fds, 3);
    uint8_t *got = malloc(BIG);
    assert_non_null(got);
    assert_int_equal(dm_read_all(fds[0], got, BIG), BIG); /* stops at n */
    for (size_t i = 0; i < BIG; i++)
        if (got[i] != pattern(i))
            fail_msg("byte %zu: %02x, not %02x", i, got[i], pattern(i));
    /* asked for more than there is: the count at the end of the file */
    uint8_t rest[8];
    assert_int_equal(dm_read_all(fds[0], rest, sizeof rest), 3);
    assert_int_equal(rest[0], pattern(BIG));
    assert_int_equal(rest[2], pattern(BIG + 2));
    assert_int_equal(dm_read_all(fds[0], rest, 1), 0); /* at the end: 0 */
    close(fds[0]);
    reap(pid);
    free(got);
}

static void test_read_all_errors(void **state) {
    (void)state;
    uint8_t b[4];
    errno = 0;
    assert_int_equal(dm_read_all(-1, b, sizeof b), -1);
    assert_int_equal(errno, EBADF);
    int fd = open("/dev/null", O_WRONLY);
    assert_true(fd >= 0);
    errno = 0;
    assert_int_equal(dm_read_all(fd, b, sizeof b), -1); /* not open for reading */
    assert_int_equal(errno, EBADF);
    errno = 0;
    assert_int_equal(dm_pread_all(fd, b, sizeof b, 0), -1);
    assert_int_equal(errno, EBADF);
    close(fd);
    assert_int_equal(dm_read_all(-1, b, 0), 0); /* nothing asked, nothing read */
}

static void test_pread_all(void **state) {
    (void)state;
    char path[] = "/tmp/test_base.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(dm_write_all(fd, "0123456789", 10), 0);
    char got[16];
    memset(got, 'x', sizeof got);
    assert_int_equal(dm_pread_all(fd, got, 4, 3), 4);
    assert_memory_equal(got, "3456xx", 6);
    memset(got, 'x', sizeof got);
    assert_int_equal(dm_pread_all(fd, got, sizeof got, 7), 3); /* short: the file ends */
    assert_memory_equal(got, "789xx", 5);
    assert_int_equal(dm_pread_all(fd, got, sizeof got, 10), 0);
    errno = 0;
    assert_int_equal(dm_pread_all(fd, got, 1, -1), -1); /* not a plain read */
    assert_int_equal(errno, EINVAL);
    /* the descriptor's own offset stays where the write left it */
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 10);
    close(fd);
}

static void test_write_all_to_closed_pipe(void **state) {
    (void)state;
    /* SIGPIPE would end the test: the error is what is checked */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    errno = 0;
    assert_int_equal(dm_write_all(fds[1], "abc", 3), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(dm_write_all(fds[1], "", 0), 0); /* nothing to write: no call */
    close(fds[1]);
    errno = 0;
    assert_int_equal(dm_write_all(-1, "abc", 3), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

/* ------------------------------------------------- the durable writers */

/* A fresh directory of its own, in d (64 bytes), and the path of name in
 * it, in path (128 bytes). */
static void fresh_dir(char d[64], char path[128], const char *name) {
    snprintf(d, 64, "/tmp/test_base.XXXXXX");
    assert_non_null(mkdtemp(d));
    snprintf(path, 128, "%s/%s", d, name);
}

/* The whole of path, NUL-terminated, in buf (cap bytes); its length. */
static ssize_t slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = dm_read_all(fd, buf, cap - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* path holds want, exactly. */
static void assert_file_is(const char *path, const char *want) {
    char got[64];
    assert_int_equal(slurp(path, got, sizeof got), (ssize_t)strlen(want));
    assert_string_equal(got, want);
}

static bool exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void remove_dir(const char *d, const char *const *names) {
    char p[128];
    for (size_t i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", d, names[i]);
        unlink(p);
    }
    assert_int_equal(rmdir(d), 0);
}

static void test_atomic_write_replaces(void **state) {
    (void)state;
    char d[64], path[128], tmp[128];
    fresh_dir(d, path, "state");
    snprintf(tmp, sizeof tmp, "%s/state.tmp", d);
    mode_t old_mask = umask(022);
    dm_io_step step = DM_IO_STEP_DIRSYNC;
    assert_int_equal(dm_atomic_write(NULL, path, "first\n", 6, 0640, &step), 0);
    assert_file_is(path, "first\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_false(exists(tmp));
    /* a stale temporary file is no obstacle; a link there is removed, never followed */
    char victim[128];
    snprintf(victim, sizeof victim, "%s/victim", d);
    assert_int_equal(dm_write_new_file(victim, "mine\n", 5, 0600), DM_OK);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(dm_atomic_write("base/test", path, "second, longer\n", 15, 0600, NULL), 0);
    assert_file_is(path, "second, longer\n");
    assert_file_is(victim, "mine\n");
    assert_false(exists(tmp));
    /* nothing at all */
    assert_int_equal(dm_atomic_write(NULL, path, "", 0, 0600, NULL), 0);
    assert_file_is(path, "");
    umask(old_mask);
    remove_dir(d, (const char *const[]){"state", "victim", NULL});
}

/* Each call of a replace failed in turn (libfiu): before the rename the old
 * file stays byte for byte and no temporary file is left; the error is the
 * point's errno and the step says where. Then short writes. */
static void test_atomic_write_failures_keep_the_old_file(void **state) {
    (void)state;
    static const struct {
        const char *op;
        int err;
        dm_io_step step;
        bool replaced;
    } cases[] = {
        {"open", ENOSPC, DM_IO_STEP_OPEN, false},    {"write", EIO, DM_IO_STEP_WRITE, false},
        {"fsync", EIO, DM_IO_STEP_WRITE, false},     {"close", EIO, DM_IO_STEP_WRITE, false},
        {"rename", ENOSPC, DM_IO_STEP_WRITE, false}, {"dirsync", EIO, DM_IO_STEP_DIRSYNC, true},
    };
    char d[64], path[128], tmp[128];
    fresh_dir(d, path, "record");
    snprintf(tmp, sizeof tmp, "%s/record.tmp", d);
    assert_int_equal(fiu_init(0), 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(dm_atomic_write(NULL, path, "old record\n", 11, 0644, NULL), 0);
        char name[64];
        snprintf(name, sizeof name, "doormat/base/test/%s", cases[i].op);
        assert_int_equal(fiu_enable(name, 1, (void *)(intptr_t)cases[i].err, 0), 0);
        dm_io_step step = (dm_io_step)-1;
        errno = 0;
        assert_int_equal(dm_atomic_write("base/test", path, "new\n", 4, 0644, &step), -1);
        assert_int_equal(errno, cases[i].err);
        assert_int_equal(step, cases[i].step);
        assert_int_equal(fiu_disable(name), 0);
        const char *want = cases[i].replaced ? "new\n" : "old record\n";
        assert_file_is(path, want);
        assert_false(exists(tmp));
        /* the same point under another name is not consulted */
        assert_int_equal(fiu_enable(name, 1, (void *)(intptr_t)EIO, 0), 0);
        assert_int_equal(dm_atomic_write("base/other", path, "other\n", 6, 0644, NULL), 0);
        assert_int_equal(dm_atomic_write(NULL, path, "none\n", 5, 0644, NULL), 0);
        assert_int_equal(fiu_disable(name), 0);
        assert_file_is(path, "none\n");
    }
    /* A write point whose failinfo is 0 writes half of what is left each
     * time, as a filling disk; the loop goes on until all of it is in. */
    assert_int_equal(fiu_enable("doormat/base/test/write", 1, NULL, 0), 0);
    assert_int_equal(dm_atomic_write("base/test", path, "0123456789abcdef", 16, 0644, NULL), 0);
    assert_int_equal(fiu_disable("doormat/base/test/write"), 0);
    assert_file_is(path, "0123456789abcdef");
    remove_dir(d, (const char *const[]){"record", NULL});
}

/* A directory the writer may not write to: EACCES at the temporary file,
 * the old file as it was. (root writes anywhere: then only the rest.) */
static void test_atomic_write_unwritable_dir(void **state) {
    (void)state;
    char d[64], path[128];
    fresh_dir(d, path, "kept");
    assert_int_equal(dm_atomic_write(NULL, path, "kept\n", 5, 0644, NULL), 0);
    assert_int_equal(chmod(d, 0500), 0);
    if (geteuid() != 0) {
        dm_io_step step = DM_IO_STEP_DIRSYNC;
        errno = 0;
        assert_int_equal(dm_atomic_write(NULL, path, "lost\n", 5, 0644, &step), -1);
        assert_int_equal(errno, EACCES);
        assert_int_equal(step, DM_IO_STEP_OPEN);
    }
    assert_int_equal(chmod(d, 0700), 0);
    assert_file_is(path, "kept\n");
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_false(exists(tmp));
    /* no directory at all */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such", d);
    dm_io_step step = DM_IO_STEP_DIRSYNC;
    assert_int_equal(dm_atomic_write(NULL, missing, "x", 1, 0644, &step), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(step, DM_IO_STEP_OPEN);
    remove_dir(d, (const char *const[]){"kept", NULL});
}

/* A new file is written once: an existing one is DM_ERR_USAGE and stays as
 * it was; a missing directory is DM_ERR_IO; each says why. */
static void test_write_new_file(void **state) {
    (void)state;
    char d[64], path[128], want[192];
    fresh_dir(d, path, "new");
    mode_t old_mask = umask(022);
    assert_int_equal(dm_write_new_file(path, "one\n", 4, 0600), DM_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(dm_write_new_file(path, "two, longer\n", 12, 0644), DM_ERR_USAGE);
    snprintf(want, sizeof want, "%s: %s", path, strerror(EEXIST));
    assert_string_equal(dm_err_detail(), want);
    assert_file_is(path, "one\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such", d);
    assert_int_equal(dm_write_new_file(missing, "x", 1, 0600), DM_ERR_IO);
    snprintf(want, sizeof want, "%s: %s", missing, strerror(ENOENT));
    assert_string_equal(dm_err_detail(), want);
    umask(old_mask);
    remove_dir(d, (const char *const[]){"new", NULL});
}

/* ------------------------------------------------- the growing buffer */

static void test_buf_grows_and_hands_over(void **state) {
    (void)state;
    for (int secret = 0; secret < 2; secret++) {
        dm_buf b = {.secret = secret};
        dm_buf_add(&b, "", 0);
        assert_non_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 256);
        assert_string_equal(b.data, "");
        /* 1,000 lines of 5 bytes: the size doubles from 256 to 8,192 */
        for (int i = 0; i < 1000; i++)
            dm_buf_printf(&b, "%04d\n", i);
        dm_buf_str(&b, "end");
        dm_buf_add(&b, "\0x", 2); /* binary: the length counts the NUL */
        assert_false(b.failed);
        assert_int_equal(b.len, 5005);
        assert_int_equal(b.cap, 8192);
        char *text = NULL;
        size_t len = 0;
        assert_true(dm_buf_take(&b, &text, &len));
        assert_int_equal(len, 5005);
        assert_memory_equal(text, "0000\n0001\n", 10);
        assert_memory_equal(text + 4990, "0998\n0999\nend\0x\0", 16);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        if (secret)
            dm_secret_free(text);
        else
            free(text);
    }
}

static void test_buf_take_of_nothing(void **state) {
    (void)state;
    dm_buf b = {0};
    char *text = NULL;
    assert_true(dm_buf_take(&b, &text, NULL)); /* never NULL: "" */
    assert_non_null(text);
    assert_string_equal(text, "");
    free(text);
}

/* printf adds text of any length, exactly, in plain and guarded memory. */
static void test_buf_printf_any_length(void **state) {
    (void)state;
    static const size_t lens[] = {4095, 4096, 4097, 1u << 20};
    char *big = malloc((1u << 20) + 1);
    assert_non_null(big);
    for (size_t i = 0; i < (1u << 20); i++)
        big[i] = (char)('a' + i % 26);
    big[1u << 20] = '\0';
    for (int secret = 0; secret < 2; secret++)
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            dm_buf b = {.secret = secret};
            dm_buf_str(&b, "kept:");
            dm_buf_printf(&b, "[%s]%zu", big + ((1u << 20) - lens[k]), lens[k]);
            assert_false(b.failed);
            char *text = NULL;
            size_t len = 0;
            assert_true(dm_buf_take(&b, &text, &len));
            char tail[32];
            int t = snprintf(tail, sizeof tail, "]%zu", lens[k]);
            assert_int_equal(len, 5 + 1 + lens[k] + (size_t)t);
            assert_memory_equal(text, "kept:[", 6);
            assert_memory_equal(text + 6, big + ((1u << 20) - lens[k]), lens[k]);
            assert_string_equal(text + 6 + lens[k], tail);
            if (secret)
                dm_secret_free(text);
            else
                free(text);
        }
    free(big);
}

static void test_buf_failed_stays_failed(void **state) {
    (void)state;
    dm_buf b = {0};
    dm_buf_str(&b, "kept");
    /* a wide character the C locale cannot write: vsnprintf says -1 */
    static const wchar_t not_ascii[] = {0xe9, 0};
    dm_buf_printf(&b, "%ls", not_ascii);
    assert_true(b.failed);
    dm_buf_str(&b, "more"); /* nothing is added after a failure */
    dm_buf_printf(&b, "%s", "more");
    assert_int_equal(b.len, 4);
    char *text = (char *)"untouched";
    size_t len = 77;
    assert_false(dm_buf_take(&b, &text, &len));
    assert_string_equal(text, "untouched");
    assert_int_equal(len, 77);
    assert_null(b.data); /* freed */
    dm_buf_clear(&b);     /* and freeing again is harmless */
}

/* ---------------------------------------------------------- secret memory */

static void test_secret_alloc(void **state) {
    (void)state;
    uint8_t *p = dm_secret_alloc(32);
    assert_non_null(p);
    memset(p, 0xa5, 32);
    dm_secret_free(p);
    /* the pool hands the same block back for the same size, zeroed */
    uint8_t *q = dm_secret_alloc(32);
    assert_non_null(q);
    assert_ptr_equal(q, p);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(q[i], 0);
    dm_secret_free(q);
    dm_secret_free(NULL);
    assert_null(dm_secret_alloc(SIZE_MAX)); /* too large: NULL, not a wrap */
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64_accepts),
        cmocka_unit_test(test_parse_u64_rejects),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_hex_of_nothing),
        cmocka_unit_test(test_read_all_through_short_reads),
        cmocka_unit_test(test_read_all_errors),
        cmocka_unit_test(test_pread_all),
        cmocka_unit_test(test_write_all_to_closed_pipe),
        cmocka_unit_test(test_atomic_write_replaces),
        cmocka_unit_test(test_atomic_write_failures_keep_the_old_file),
        cmocka_unit_test(test_atomic_write_unwritable_dir),
        cmocka_unit_test(test_write_new_file),
        cmocka_unit_test(test_buf_grows_and_hands_over),
        cmocka_unit_test(test_buf_take_of_nothing),
        cmocka_unit_test(test_buf_printf_any_length),
        cmocka_unit_test(test_buf_failed_stays_failed),
        cmocka_unit_test(test_secret_alloc),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
