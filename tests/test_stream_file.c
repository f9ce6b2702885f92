/* The payload engine on file descriptors: a regular file is read with pread
 * by every worker, sealing and opening alike. The output
 * must be byte for byte what the sequential memory path gives, for every
 * thread count from 1 to 8 and every backend (auto included); opening must
 * stop at the first bad chunk; a file cut short while it is sealed must fail
 * with DM_ERR_IO, not kill the process; and the engine changes no signal
 * disposition of the process, before, during or after a run. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/vault.h"
#include "stream.h"

#define CHUNK DM_CHUNK_SIZE
#define CT (DM_CHUNK_SIZE + DM_TAG_LEN)
/* The engine's job when sealing (vault/stream.h). Sizes around it matter. */
#define JOB (DM_STREAM_JOB_CHUNKS_SEAL * CHUNK)

#include "stream_fixture.h"

/* A temporary regular file holding `skip` bytes of junk, then data. */
static int temp_file(const uint8_t *data, size_t n, size_t skip, char path[64]) {
    strcpy(path, "/tmp/dm_test_stream_file_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t junk[100];
    memset(junk, 'j', sizeof junk);
    assert_true(skip <= sizeof junk);
    assert_int_equal(write(fd, junk, skip), (ssize_t)skip);
    size_t done = 0;
    while (done < n) {
        ssize_t put = write(fd, data + done, n - done);
        assert_true(put > 0);
        done += (size_t)put;
    }
    assert_int_equal(lseek(fd, (off_t)skip, SEEK_SET), (off_t)skip);
    return fd;
}

static void close_temp(int fd, const char *path) {
    close(fd);
    unlink(path);
}

static void encrypt_mem(const uint8_t *pt, size_t n, dm_membuf *ct) {
    dm_membuf in = {.data = pt, .len = n};
    memset(ct, 0, sizeof *ct);
    dm_encrypt_opts opts = {.threads = 1, .backend = DM_AEAD_OPENSSL};
    assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_mem(ct), &g_rcpt, 1, &opts), DM_OK);
}

static int decrypt_fd(int fd, unsigned threads, dm_aead_backend be, dm_membuf *pt) {
    memset(pt, 0, sizeof *pt);
    dm_decrypt_opts opts = {.threads = threads, .backend = be};
    return dm_decrypt(dm_source_fd(&fd), dm_sink_mem(pt), &g_id, 1, &opts);
}

static size_t header_len(const uint8_t *ct, size_t len) {
    dm_membuf in = {.data = ct, .len = len};
    dm_inspect_info info;
    assert_int_equal(dm_inspect(dm_source_mem(&in), &info), DM_OK);
    size_t h = (size_t)info.header_size;
    dm_inspect_info_clear(&info);
    return h;
}

static const dm_aead_backend backends[] = {DM_AEAD_OPENSSL, DM_AEAD_SODIUM, DM_AEAD_AUTO};

/* The dispositions a library must leave alone (docs/architecture.md, "No
 * process-wide state in a library"). */
static const int watched[] = {SIGBUS, SIGPIPE, SIGXFSZ};
#define N_WATCHED (sizeof watched / sizeof watched[0])

static void dispositions(struct sigaction now[N_WATCHED]) {
    for (size_t i = 0; i < N_WATCHED; i++)
        assert_int_equal(sigaction(watched[i], NULL, &now[i]), 0);
}

/* 1 when both say the same thing: the handler, the flags and the mask. */
static int same_disposition(const struct sigaction *a, const struct sigaction *b) {
    if (a->sa_handler != b->sa_handler || a->sa_flags != b->sa_flags)
        return 0;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&a->sa_mask, sig) != sigismember(&b->sa_mask, sig))
            return 0;
    return 1;
}

/* --------------------------------------------------------------- tests */

static void test_file_identical_every_thread_count(void **state) {
    (void)state;
    static const size_t fsizes[] = {0, 1000, JOB - 1, JOB, JOB + 1, 5 * JOB + 77, 40 * CHUNK + 123};
    for (size_t s = 0; s < sizeof fsizes / sizeof fsizes[0]; s++) {
        size_t n = fsizes[s];
        uint8_t *pt = make_plain(n);
        dm_membuf ref;
        rng_reseed(7);
        encrypt_mem(pt, n, &ref);
        /* The plaintext after 37 bytes of something else: the payload starts
         * at the descriptor's offset, not at the start of the file. */
        char ppath[64], cpath[64];
        int pfd = temp_file(pt, n, 37, ppath);
        int cfd = temp_file(ref.buf, ref.len, 0, cpath);
        for (unsigned threads = 1; threads <= 8; threads++) {
            for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
                dm_membuf ct = {0};
                assert_int_equal(lseek(pfd, 37, SEEK_SET), 37);
                rng_reseed(7);
                dm_encrypt_opts opts = {.threads = threads, .backend = backends[b]};
                assert_int_equal(
                    dm_encrypt(dm_source_fd(&pfd), dm_sink_mem(&ct), &g_rcpt, 1, &opts), DM_OK);
                assert_int_equal(ct.len, ref.len);
                assert_memory_equal(ct.buf, ref.buf, ref.len);
                /* Left where a sequential reader would be: at the end. */
                assert_int_equal(lseek(pfd, 0, SEEK_CUR), (off_t)(37 + n));
                free(ct.buf);

                dm_membuf out;
                assert_int_equal(lseek(cfd, 0, SEEK_SET), 0);
                assert_int_equal(decrypt_fd(cfd, threads, backends[b], &out), DM_OK);
                assert_int_equal(out.len, n);
                if (n)
                    assert_memory_equal(out.buf, pt, n);
                assert_int_equal(lseek(cfd, 0, SEEK_CUR), (off_t)ref.len);
                free(out.buf);
            }
        }
        close_temp(pfd, ppath);
        close_temp(cfd, cpath);
        free(ref.buf);
        free(pt);
    }
    rng_reseed(99);
}

static void test_file_first_bad_chunk(void **state) {
    (void)state;
    size_t chunks = 50, n = chunks * CHUNK - 9;
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_mem(pt, n, &ct);
    size_t p = header_len(ct.buf, ct.len) + DM_NONCE_LEN;
    static const size_t bad[] = {0, 7, 8, 9, 23, 47, 49};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        ct.buf[p + bad[b] * CT + 33] ^= 0x80;
        /* A second bad chunk later must not matter. */
        if (bad[b] + 2 < chunks)
            ct.buf[p + (bad[b] + 2) * CT + 1] ^= 1;
        char path[64];
        int fd = temp_file(ct.buf, ct.len, 0, path);
        for (unsigned threads = 1; threads <= 8; threads++) {
            for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++) {
                dm_membuf out;
                assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
                assert_int_equal(decrypt_fd(fd, threads, backends[k], &out), DM_ERR_PAYLOAD);
                /* Exactly the chunks before the bad one, and they are right. */
                assert_int_equal(out.len, bad[b] * CHUNK);
                if (out.len)
                    assert_memory_equal(out.buf, pt, out.len);
                assert_non_null(strstr(dm_err_detail(), "failed authentication"));
                free(out.buf);
            }
        }
        close_temp(fd, path);
        ct.buf[p + bad[b] * CT + 33] ^= 0x80;
        if (bad[b] + 2 < chunks)
            ct.buf[p + (bad[b] + 2) * CT + 1] ^= 1;
    }
    free(ct.buf);
    free(pt);
}

/* A sink that cuts the input file short when the first payload job is
 * written (the header and the nonce come first), while the engine still has
 * most of the file to read. */
typedef struct cutting_sink {
    int fd;
    off_t cut_to;
    int cut;
    size_t writes, written;
} cutting_sink;

static int cutting_write(void *ctx, const uint8_t *buf, size_t n) {
    (void)buf;
    cutting_sink *c = ctx;
    if (!c->cut && c->writes == 2) {
        assert_int_equal(ftruncate(c->fd, c->cut_to), 0);
        c->cut = 1;
    }
    c->writes++;
    c->written += n;
    return 0;
}

static void test_file_cut_short_while_sealing(void **state) {
    (void)state;
    size_t n = 200 * CHUNK; /* 25 jobs: most are read after the cut */
    uint8_t *pt = make_plain(n);
    for (unsigned threads = 1; threads <= 8; threads++) {
        char path[64];
        int fd = temp_file(pt, n, 0, path);
        cutting_sink c = {.fd = fd, .cut_to = 3 * CHUNK + 5};
        dm_sink sink = {cutting_write, &c};
        dm_encrypt_opts opts = {.threads = threads};
        assert_int_equal(dm_encrypt(dm_source_fd(&fd), sink, &g_rcpt, 1, &opts), DM_ERR_IO);
        assert_true(c.cut);
        /* A job past the new end reads nothing although the one before it
         * saw more to come. */
        assert_non_null(strstr(dm_err_detail(), "ended while it was being read"));
        close_temp(fd, path);
    }
    free(pt);
}

static void test_file_cut_short_while_opening(void **state) {
    (void)state;
    size_t n = 200 * CHUNK;
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_mem(pt, n, &ct);
    for (unsigned threads = 1; threads <= 8; threads++) {
        char path[64];
        int fd = temp_file(ct.buf, ct.len, 0, path);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        cutting_sink c = {.fd = fd, .cut_to = (off_t)(ct.len / 3)};
        dm_sink sink = {cutting_write, &c};
        dm_decrypt_opts opts = {.threads = threads};
        int err = dm_decrypt(dm_source_fd(&fd), sink, &g_id, 1, &opts);
        /* A truncated payload (or one that ends between two reads): never success. */
        assert_true(err == DM_ERR_PAYLOAD || err == DM_ERR_IO);
        assert_true(c.written < n);
        close_temp(fd, path);
    }
    free(ct.buf);
    free(pt);
}

/* A sink that compares the watched dispositions with those from before the
 * run at every write, that is while the engine is reading and sealing. */
typedef struct watching_sink {
    dm_membuf *out;
    const struct sigaction *before;
    size_t writes, changed;
} watching_sink;

static int watching_write(void *ctx, const uint8_t *buf, size_t n) {
    watching_sink *w = ctx;
    struct sigaction now[N_WATCHED];
    dispositions(now);
    for (size_t i = 0; i < N_WATCHED; i++)
        w->changed += !same_disposition(&now[i], &w->before[i]);
    w->writes++;
    dm_sink mem = dm_sink_mem(w->out);
    return mem.write(mem.ctx, buf, n);
}

/* Sealing and opening a file change no signal disposition, neither while
 * they run nor afterwards: with the defaults a plain program has (CMocka
 * installs its own SIGBUS handler: put back after) and with a program's own
 * choices (SIGPIPE and SIGXFSZ ignored, as the command does before a
 * service starts). */
static void test_signal_dispositions_unchanged(void **state) {
    (void)state;
    struct sigaction cmocka[N_WATCHED];
    dispositions(cmocka);
    size_t n = 5 * JOB + 77;
    uint8_t *pt = make_plain(n);
    char path[64];
    int fd = temp_file(pt, n, 0, path);
    for (int program = 0; program < 2; program++) {
        for (size_t i = 0; i < N_WATCHED; i++) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = program && watched[i] != SIGBUS ? SIG_IGN : SIG_DFL;
            sigemptyset(&sa.sa_mask);
            assert_int_equal(sigaction(watched[i], &sa, NULL), 0);
        }
        struct sigaction before[N_WATCHED], after[N_WATCHED];
        dispositions(before);
        for (unsigned threads = 1; threads <= 2; threads++) {
            dm_membuf ct = {0}, back = {0};
            watching_sink w = {.out = &ct, .before = before};
            assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
            dm_encrypt_opts eo = {.threads = threads};
            assert_int_equal(
                dm_encrypt(dm_source_fd(&fd), (dm_sink){watching_write, &w}, &g_rcpt, 1, &eo),
                DM_OK);
            assert_true(w.writes > 2);
            assert_int_equal(w.changed, 0);

            char cpath[64];
            int cfd = temp_file(ct.buf, ct.len, 0, cpath);
            watching_sink r = {.out = &back, .before = before};
            dm_decrypt_opts dopts = {.threads = threads};
            assert_int_equal(
                dm_decrypt(dm_source_fd(&cfd), (dm_sink){watching_write, &r}, &g_id, 1, &dopts),
                DM_OK);
            assert_true(r.writes > 1);
            assert_int_equal(r.changed, 0);
            assert_int_equal(back.len, n);
            assert_memory_equal(back.buf, pt, n);
            close_temp(cfd, cpath);
            free(ct.buf);
            free(back.buf);
        }
        dispositions(after);
        for (size_t i = 0; i < N_WATCHED; i++)
            assert_true(same_disposition(&after[i], &before[i]));
    }
    for (size_t i = 0; i < N_WATCHED; i++)
        assert_int_equal(sigaction(watched[i], &cmocka[i], NULL), 0);
    close_temp(fd, path);
    free(pt);
}

/* Read by hand: a source that says nothing of itself. */
static ssize_t plain_fd_read(void *ctx, uint8_t *buf, size_t n) {
    return read(*(const int *)ctx, buf, n);
}

/* Each source says what it is, and only what it says is used: a regular
 * file behind dm_source_fd can be pread, a pipe cannot, a memory source is
 * used in place, and the same descriptor behind a source built by hand
 * ({read, ctx}) is read in order, like any stream. The bytes match all the
 * same. */
static void test_sources_say_what_they_are(void **state) {
    (void)state;
    uint8_t data[3 * 100];
    memset(data, 'd', sizeof data);
    char path[64];
    int fd = temp_file(data, sizeof data, 7, path);
    struct stat st;

    dm_source file = dm_source_fd(&fd);
    assert_int_equal(file.kind, DM_SOURCE_FD);
    assert_int_equal(dm_source_pread_fd(file, &st), fd);
    assert_int_equal(st.st_size, (off_t)(7 + sizeof data));
    assert_ptr_equal(dm_source_fd_of(file), &fd);
    assert_null(dm_source_mem_of(file));

    dm_source hand = {plain_fd_read, &fd, DM_SOURCE_STREAM};
    assert_int_equal(dm_source_pread_fd(hand, &st), -1);
    assert_null(dm_source_fd_of(hand));
    assert_null(dm_source_mem_of(hand));

    int p[2];
    assert_int_equal(pipe(p), 0);
    dm_source pipe_src = dm_source_fd(&p[0]);
    assert_int_equal(dm_source_pread_fd(pipe_src, &st), -1);
    assert_ptr_equal(dm_source_fd_of(pipe_src), &p[0]);
    close(p[0]);
    close(p[1]);

    dm_membuf m = {.data = data, .len = sizeof data};
    dm_source mem = dm_source_mem(&m);
    assert_int_equal(mem.kind, DM_SOURCE_MEM);
    assert_ptr_equal(dm_source_mem_of(mem), &m);
    assert_null(dm_source_fd_of(mem));
    assert_int_equal(dm_source_pread_fd(mem, &st), -1);

    /* The file sealed through the hand-built source, read in order, opens
     * to the same bytes as through the memory source. */
    uint8_t *pt = malloc(3 * JOB + 5);
    assert_non_null(pt);
    randombytes_buf(pt, 3 * JOB + 5);
    close_temp(fd, path);
    fd = temp_file(pt, 3 * JOB + 5, 0, path);
    dm_membuf ct = {0}, back = {0};
    uint8_t *secrets = sodium_malloc(DM_STREAM_SECRETS_LEN);
    assert_non_null(secrets);
    randombytes_buf(secrets, DM_FILE_KEY_LEN);
    assert_int_equal(dm_stream_seal(hand, dm_sink_mem(&ct), secrets, 4, DM_AEAD_AUTO), DM_OK);
    dm_membuf ctin = {.data = ct.buf, .len = ct.len};
    assert_int_equal(dm_stream_open(dm_source_mem(&ctin), NULL, 0, dm_sink_mem(&back), secrets, 4,
                                    DM_AEAD_AUTO),
                     DM_OK);
    assert_int_equal(back.len, 3 * JOB + 5);
    assert_memory_equal(back.buf, pt, back.len);
    sodium_free(secrets);
    free(ct.buf);
    free(back.buf);
    free(pt);
    close_temp(fd, path);
}

int main(void) {
    /* Before dm_init: libsodium takes its generator at initialisation. */
    randombytes_set_implementation(&rng_impl);
    if (dm_init() != DM_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_identical_every_thread_count),
        cmocka_unit_test(test_file_first_bad_chunk),
        cmocka_unit_test(test_file_cut_short_while_sealing),
        cmocka_unit_test(test_file_cut_short_while_opening),
        cmocka_unit_test(test_signal_dispositions_unchanged),
        cmocka_unit_test(test_sources_say_what_they_are),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
