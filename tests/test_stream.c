/* stream.c and vault.c: dm_encrypt/dm_decrypt round trips at every chunk
 * boundary with both AEAD backends, the STREAM layout checked chunk by chunk
 * with the file key, truncation and extension at every boundary +-1, bit
 * flips, parallel output identical to sequential, the first bad chunk
 * releasing exactly the authentic prefix, bounded memory, I/O failures,
 * policy hook, armor and dm_inspect.
 *
 * Randomness is a seeded ChaCha20 stream (installed before dm_init), so two
 * encryptions after the same reseed are byte-for-byte comparable. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/vault.h"
#include "stream.h"

#define CHUNK DM_CHUNK_SIZE
#define CT (DM_CHUNK_SIZE + DM_TAG_LEN)
/* The engine's bound on chunks per job: no read or write is larger than one
 * job's worth, plus the one look-ahead byte that tells the last chunk. */
#define JOB_CHUNKS_MAX DM_STREAM_JOB_CHUNKS_MAX

#include "stream_fixture.h"

static size_t chunks_for(size_t n) {
    return n == 0 ? 1 : (n + CHUNK - 1) / CHUNK;
}

static void encrypt_buf(const uint8_t *pt, size_t n, unsigned threads, dm_aead_backend be,
                        int armor, dm_membuf *ct) {
    dm_membuf in = {.data = pt, .len = n};
    memset(ct, 0, sizeof *ct);
    dm_encrypt_opts opts = {.threads = threads, .backend = be, .armor = armor};
    assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_mem(ct), &g_rcpt, 1, &opts), DM_OK);
}

static int decrypt_buf(const uint8_t *ct, size_t len, unsigned threads, dm_aead_backend be,
                       dm_membuf *pt) {
    dm_membuf in = {.data = ct, .len = len};
    memset(pt, 0, sizeof *pt);
    dm_decrypt_opts opts = {.threads = threads, .backend = be};
    return dm_decrypt(dm_source_mem(&in), dm_sink_mem(pt), &g_id, 1, &opts);
}

/* Decrypts ct and asserts it is exactly the n bytes of pt. */
static void assert_opens_to(const uint8_t *ct, size_t len, unsigned threads, dm_aead_backend be,
                            const uint8_t *pt, size_t n) {
    dm_membuf out;
    assert_int_equal(decrypt_buf(ct, len, threads, be, &out), DM_OK);
    assert_int_equal(out.len, n);
    if (n)
        assert_memory_equal(out.buf, pt, n);
    free(out.buf);
}

static size_t header_len(const uint8_t *ct, size_t len) {
    dm_membuf in = {.data = ct, .len = len};
    dm_inspect_info info;
    int err = dm_inspect(dm_source_mem(&in), &info);
    assert_true(err == DM_OK || err == DM_ERR_PAYLOAD);
    size_t h = (size_t)info.header_size;
    dm_inspect_info_clear(&info);
    return h;
}

static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 131072, 131073, 3 * 1048576 + 7};

/* ---------------------------------------------------------- round trips */

static void test_round_trips(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        uint8_t *pt = make_plain(n);
        for (int be = 0; be < 2; be++) {
            for (unsigned threads = 1; threads <= 3; threads += 2) {
                dm_membuf ct;
                encrypt_buf(pt, n, threads, (dm_aead_backend)be, 0, &ct);
                size_t h = header_len(ct.buf, ct.len);
                assert_int_equal(ct.len, h + DM_NONCE_LEN + n + DM_TAG_LEN * chunks_for(n));
                /* Open with the other backend: they must agree on the format. */
                assert_opens_to(ct.buf, ct.len, threads, (dm_aead_backend)!be, pt, n);
                free(ct.buf);
            }
        }
        free(pt);
    }
}

/* Every chunk checked by hand with the file key: counter, last flag, sizes. */
static void test_stream_layout(void **state) {
    (void)state;
    static const size_t layout_sizes[] = {0, 1, 65536, 131072, 131073};
    for (size_t s = 0; s < sizeof layout_sizes / sizeof layout_sizes[0]; s++) {
        size_t n = layout_sizes[s];
        uint8_t *pt = make_plain(n);
        dm_membuf ct, out;
        encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ct);

        uint8_t *file_key = dm_secret_alloc(DM_FILE_KEY_LEN);
        assert_non_null(file_key);
        dm_membuf in = {.data = ct.buf, .len = ct.len};
        memset(&out, 0, sizeof out);
        dm_decrypt_opts opts = {.threads = 1, .file_key_out = file_key};
        assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &g_id, 1, &opts), DM_OK);
        free(out.buf);

        size_t h = header_len(ct.buf, ct.len);
        const uint8_t *nonce = ct.buf + h;
        uint8_t payload_key[32];
        assert_int_equal(dm_hkdf_sha256(file_key, DM_FILE_KEY_LEN, nonce, DM_NONCE_LEN, "payload",
                                        7, payload_key, 32),
                         DM_OK);
        size_t pos = h + DM_NONCE_LEN, done = 0, chunks = chunks_for(n);
        uint8_t *chunk = malloc(CHUNK);
        for (size_t i = 0; i < chunks; i++) {
            int last = i == chunks - 1;
            size_t len = last ? n - done : CHUNK;
            /* A plaintext that is a multiple of 64 KiB ends with a full chunk. */
            if (last && n > 0)
                assert_true(len > 0);
            uint8_t cn[12] = {0};
            for (int b = 0; b < 8; b++)
                cn[10 - b] = (uint8_t)((uint64_t)i >> (8 * b));
            cn[11] = (uint8_t)last;
            assert_int_equal(dm_aead_open(payload_key, cn, ct.buf + pos, len + DM_TAG_LEN, chunk),
                             DM_OK);
            assert_memory_equal(chunk, pt + done, len);
            /* The same chunk with the other flag must not open. */
            cn[11] ^= 1;
            assert_int_equal(dm_aead_open(payload_key, cn, ct.buf + pos, len + DM_TAG_LEN, chunk),
                             DM_ERR_PAYLOAD);
            pos += len + DM_TAG_LEN;
            done += len;
        }
        assert_int_equal(pos, ct.len);
        free(chunk);
        dm_secret_free(file_key);
        free(ct.buf);
        free(pt);
    }
}

/* ------------------------------------------------ truncation and extension */

static void check_released(const dm_membuf *out, const uint8_t *pt, size_t chunks) {
    assert_int_equal(out->len, chunks * CHUNK);
    if (out->len)
        assert_memory_equal(out->buf, pt, out->len);
}

static void truncations(size_t n) {
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ct);
    size_t p = header_len(ct.buf, ct.len) + DM_NONCE_LEN;
    size_t total = ct.len - p, chunks = chunks_for(n);

    for (size_t k = 0; k <= chunks; k++) {
        for (int d = -1; d <= 1; d++) {
            if (k == 0 && d < 0) {
                /* Cut inside the nonce: the testkit calls that a header failure. */
                dm_membuf out;
                for (unsigned threads = 1; threads <= 4; threads += 3) {
                    assert_int_equal(decrypt_buf(ct.buf, p - 1, threads, DM_AEAD_OPENSSL, &out),
                                     DM_ERR_HEADER);
                    assert_int_equal(out.len, 0);
                    free(out.buf);
                }
                continue;
            }
            size_t cut = k * CT + (size_t)(d + 1) - 1;
            if (cut >= total)
                continue;
            for (unsigned threads = 1; threads <= 4; threads += 3) {
                dm_membuf out;
                assert_int_equal(decrypt_buf(ct.buf, p + cut, threads, DM_AEAD_OPENSSL, &out),
                                 DM_ERR_PAYLOAD);
                /* Whole chunks before the cut are authentic and released; age does the same. */
                check_released(&out, pt, cut / CT);
                free(out.buf);
            }
        }
    }

    /* Extensions: one byte, and a whole copy of the last chunk. */
    size_t last_len = total - (chunks - 1) * CT;
    uint8_t *longer = malloc(ct.len + CT);
    memcpy(longer, ct.buf, ct.len);
    longer[ct.len] = 0x42;
    memcpy(longer + ct.len, ct.buf + ct.len - last_len, last_len);
    for (int which = 0; which < 2; which++) {
        size_t len = ct.len + (which == 0 ? 1 : last_len);
        for (unsigned threads = 1; threads <= 4; threads += 3) {
            dm_membuf out;
            assert_int_equal(decrypt_buf(longer, len, threads, DM_AEAD_OPENSSL, &out),
                             DM_ERR_PAYLOAD);
            /* A full final chunk is authentic and released before the extra
             * data is refused; a short one becomes part of a bad chunk. */
            if (last_len == CT)
                check_released(&out, pt, chunks);
            else
                check_released(&out, pt, chunks - 1);
            free(out.buf);
        }
    }
    free(longer);
    free(ct.buf);
    free(pt);
}

static void test_truncation_short_final(void **state) {
    (void)state;
    truncations(3 * CHUNK + 1000);
}

static void test_truncation_full_final(void **state) {
    (void)state;
    truncations(2 * CHUNK);
}

static void test_truncation_tiny(void **state) {
    (void)state;
    truncations(0);
    truncations(1);
}

/* Payloads no honest encoder writes, sealed by hand with the real payload key. */
static void test_forged_layouts(void **state) {
    (void)state;
    uint8_t *pt = make_plain(CHUNK);
    dm_membuf ct;
    encrypt_buf(pt, CHUNK, 1, DM_AEAD_OPENSSL, 0, &ct);
    uint8_t *file_key = dm_secret_alloc(DM_FILE_KEY_LEN);
    dm_membuf in = {.data = ct.buf, .len = ct.len}, out = {0};
    dm_decrypt_opts opts = {.file_key_out = file_key};
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &g_id, 1, &opts), DM_OK);
    free(out.buf);
    size_t h = header_len(ct.buf, ct.len);
    uint8_t payload_key[32];
    assert_int_equal(dm_hkdf_sha256(file_key, DM_FILE_KEY_LEN, ct.buf + h, DM_NONCE_LEN, "payload",
                                    7, payload_key, 32),
                     DM_OK);

    /* {flags of chunk 0, of chunk 1, plaintext length of chunk 1, chunks released} */
    static const struct {
        int last0, last1;
        size_t len1;
        size_t released;
    } forged[] = {
        {0, 1, 0, 1},  /* an empty final chunk after a full one */
        {1, 1, 10, 1}, /* two final chunks: the first is released, then refused */
        {0, 0, 10, 1}, /* no final chunk at all */
        {1, 0, 10, 1}, /* data after the final chunk */
    };
    size_t cap = h + DM_NONCE_LEN + 2 * CT;
    uint8_t *file = malloc(cap);
    for (size_t f = 0; f < sizeof forged / sizeof forged[0]; f++) {
        memcpy(file, ct.buf, h + DM_NONCE_LEN);
        uint8_t cn[12] = {0};
        cn[11] = (uint8_t)forged[f].last0;
        assert_int_equal(dm_aead_seal(payload_key, cn, pt, CHUNK, file + h + DM_NONCE_LEN), DM_OK);
        cn[10] = 1;
        cn[11] = (uint8_t)forged[f].last1;
        assert_int_equal(
            dm_aead_seal(payload_key, cn, pt, forged[f].len1, file + h + DM_NONCE_LEN + CT), DM_OK);
        size_t len = h + DM_NONCE_LEN + CT + forged[f].len1 + DM_TAG_LEN;
        for (unsigned threads = 1; threads <= 4; threads += 3) {
            assert_int_equal(decrypt_buf(file, len, threads, DM_AEAD_OPENSSL, &out),
                             DM_ERR_PAYLOAD);
            check_released(&out, pt, forged[f].released);
            free(out.buf);
        }
    }
    /* The honest layout, built the same way, opens: the forgeries fail for their layout. */
    memcpy(file, ct.buf, h + DM_NONCE_LEN);
    uint8_t cn[12] = {0};
    assert_int_equal(dm_aead_seal(payload_key, cn, pt, CHUNK, file + h + DM_NONCE_LEN), DM_OK);
    cn[10] = 1;
    cn[11] = 1;
    assert_int_equal(dm_aead_seal(payload_key, cn, pt, 10, file + h + DM_NONCE_LEN + CT), DM_OK);
    assert_int_equal(
        decrypt_buf(file, h + DM_NONCE_LEN + CT + 10 + DM_TAG_LEN, 1, DM_AEAD_OPENSSL, &out),
        DM_OK);
    assert_int_equal(out.len, CHUNK + 10);
    free(out.buf);
    free(file);
    dm_secret_free(file_key);
    free(ct.buf);
    free(pt);
}

/* ------------------------------------------------------------- tampering */

static void test_bit_flips(void **state) {
    (void)state;
    size_t n = 5 * CHUNK - 77, chunks = 5;
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_buf(pt, n, 1, DM_AEAD_SODIUM, 0, &ct);
    size_t h = header_len(ct.buf, ct.len), p = h + DM_NONCE_LEN;

    for (size_t k = 0; k < chunks; k++) {
        size_t len = k == chunks - 1 ? ct.len - p - k * CT : CT;
        size_t spots[3] = {0, len / 2, len - 1}; /* first byte, middle, last tag byte */
        for (int s = 0; s < 3; s++) {
            size_t at = p + k * CT + spots[s];
            ct.buf[at] ^= 0x80;
            for (unsigned threads = 1; threads <= 8; threads *= 2) {
                dm_membuf out;
                assert_int_equal(decrypt_buf(ct.buf, ct.len, threads, DM_AEAD_OPENSSL, &out),
                                 DM_ERR_PAYLOAD);
                check_released(&out, pt, k);
                free(out.buf);
            }
            ct.buf[at] ^= 0x80;
        }
    }

    /* The nonce: every chunk key changes, nothing opens. */
    dm_membuf out;
    ct.buf[h + 3] ^= 1;
    assert_int_equal(decrypt_buf(ct.buf, ct.len, 1, DM_AEAD_OPENSSL, &out), DM_ERR_PAYLOAD);
    assert_int_equal(out.len, 0);
    free(out.buf);
    ct.buf[h + 3] ^= 1;

    /* The header MAC: "--- " then 43 base64 characters. */
    size_t mac = h - 44;
    assert_memory_equal(ct.buf + mac - 4, "--- ", 4);
    uint8_t saved = ct.buf[mac];
    ct.buf[mac] = saved == 'A' ? 'B' : 'A';
    assert_int_equal(decrypt_buf(ct.buf, ct.len, 1, DM_AEAD_OPENSSL, &out), DM_ERR_HMAC);
    assert_int_equal(out.len, 0);
    free(out.buf);
    ct.buf[mac] = saved;

    /* The stanza body (the line after "-> X25519 ..."): no longer ours. */
    uint8_t *body = memchr(ct.buf + 22, '\n', h - 22) + 1;
    saved = *body;
    *body = saved == 'A' ? 'B' : 'A';
    assert_int_equal(decrypt_buf(ct.buf, ct.len, 1, DM_AEAD_OPENSSL, &out), DM_ERR_NO_MATCH);
    assert_int_equal(out.len, 0);
    free(out.buf);
    *body = saved;

    assert_int_equal(decrypt_buf(ct.buf, ct.len, 1, DM_AEAD_OPENSSL, &out), DM_OK);
    assert_int_equal(out.len, n);
    free(out.buf);
    free(ct.buf);
    free(pt);
}

/* ------------------------------------------------------------- parallel */

static void test_parallel_identical(void **state) {
    (void)state;
    static const size_t psizes[] = {0, 1000, 2 * CHUNK, 3 * CHUNK, 40 * CHUNK + 123, 300 * CHUNK};
    for (size_t s = 0; s < sizeof psizes / sizeof psizes[0]; s++) {
        size_t n = psizes[s];
        uint8_t *pt = make_plain(n);
        dm_membuf ref;
        rng_reseed(7);
        encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ref);
        for (unsigned threads = 0; threads <= 8; threads++) {
            for (int be = 0; be < 2; be++) {
                dm_membuf ct;
                rng_reseed(7);
                encrypt_buf(pt, n, threads, (dm_aead_backend)be, 0, &ct);
                assert_int_equal(ct.len, ref.len);
                assert_memory_equal(ct.buf, ref.buf, ref.len);
                free(ct.buf);
            }
            assert_opens_to(ref.buf, ref.len, threads, DM_AEAD_OPENSSL, pt, n);
        }
        free(ref.buf);
        free(pt);
    }
    rng_reseed(99);
}

static void test_parallel_first_bad_chunk(void **state) {
    (void)state;
    size_t chunks = 300, n = chunks * CHUNK - 5;
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_buf(pt, n, 4, DM_AEAD_OPENSSL, 0, &ct);
    size_t p = header_len(ct.buf, ct.len) + DM_NONCE_LEN;
    static const size_t bad[] = {0, 1, 17, 130, 131, 255, 299};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        size_t at = p + bad[b] * CT + 100;
        ct.buf[at] ^= 1;
        /* A second bad chunk later must not matter. */
        if (bad[b] + 3 < chunks)
            ct.buf[p + (bad[b] + 3) * CT + 5] ^= 1;
        for (unsigned threads = 1; threads <= 8; threads++) {
            dm_membuf out;
            assert_int_equal(decrypt_buf(ct.buf, ct.len, threads, DM_AEAD_SODIUM, &out),
                             DM_ERR_PAYLOAD);
            check_released(&out, pt, bad[b]);
            free(out.buf);
        }
        ct.buf[at] ^= 1;
        if (bad[b] + 3 < chunks)
            ct.buf[p + (bad[b] + 3) * CT + 5] ^= 1;
    }
    free(ct.buf);
    free(pt);
}

/* Counts this process's threads while the engine writes output. */
typedef struct thread_probe {
    int max_threads;
    size_t writes, max_write, total;
} thread_probe;

static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int probe_write(void *ctx, const uint8_t *buf, size_t n) {
    (void)buf;
    thread_probe *t = ctx;
    int now = count_threads();
    if (now > t->max_threads)
        t->max_threads = now;
    t->writes++;
    t->total += n;
    if (n > t->max_write)
        t->max_write = n;
    return 0;
}

static void probe_encrypt(size_t n, unsigned threads, thread_probe *t) {
    uint8_t *pt = make_plain(n);
    dm_membuf in = {.data = pt, .len = n};
    memset(t, 0, sizeof *t);
    dm_sink sink = {probe_write, t};
    dm_encrypt_opts opts = {.threads = threads};
    assert_int_equal(dm_encrypt(dm_source_mem(&in), sink, &g_rcpt, 1, &opts), DM_OK);
    free(pt);
}

static void test_threads_only_when_worth_it(void **state) {
    (void)state;
    if (count_threads() != 1)
        skip(); /* needs /proc and a single-threaded start */
    thread_probe t;
    probe_encrypt(1024, 8, &t);
    assert_int_equal(t.max_threads, 1);
    probe_encrypt(2 * CHUNK, 8, &t);
    assert_int_equal(t.max_threads, 1);
    /* Up to the engine's line no worker starts; 8 chunks past it, they do. */
    probe_encrypt(DM_STREAM_POOL_MIN_BYTES, 8, &t);
    assert_int_equal(t.max_threads, 1);
    probe_encrypt(DM_STREAM_POOL_MIN_BYTES + 8 * CHUNK, 4, &t);
    assert_int_equal(t.max_threads, 4);
    probe_encrypt(DM_STREAM_POOL_MIN_BYTES + 8 * CHUNK, 1, &t);
    assert_int_equal(t.max_threads, 1);
    /* And they are gone afterwards. */
    assert_int_equal(count_threads(), 1);
}

/* A source that hands out odd-sized short reads and records the largest request. */
typedef struct odd_source {
    const uint8_t *data;
    size_t len, pos, max_request;
    uint32_t state;
    long fail_at; /* byte offset at which to fail, or -1 */
} odd_source;

static ssize_t odd_read(void *ctx, uint8_t *buf, size_t n) {
    odd_source *s = ctx;
    if (n > s->max_request)
        s->max_request = n;
    if (s->fail_at >= 0 && s->pos >= (size_t)s->fail_at)
        return -1;
    s->state = s->state * 1103515245u + 12345u;
    size_t want = 1 + (s->state >> 8) % 70001;
    if (want > n)
        want = n;
    if (want > s->len - s->pos)
        want = s->len - s->pos;
    memcpy(buf, s->data + s->pos, want);
    s->pos += want;
    return (ssize_t)want;
}

static void test_bounded_memory_and_short_reads(void **state) {
    (void)state;
    size_t n = 20 * 1048576 + 3;
    uint8_t *pt = make_plain(n);
    for (unsigned threads = 1; threads <= 8; threads += 7) {
        odd_source src = {.data = pt, .len = n, .state = 1, .fail_at = -1};
        dm_source in = {odd_read, &src, DM_SOURCE_STREAM};
        dm_membuf ct = {0};
        dm_encrypt_opts eo = {.threads = threads};
        assert_int_equal(dm_encrypt(in, dm_sink_mem(&ct), &g_rcpt, 1, &eo), DM_OK);
        /* Fixed buffers: reads and writes never approach the file's size. */
        assert_true(src.max_request <= JOB_CHUNKS_MAX * CHUNK + 1);

        odd_source csrc = {.data = ct.buf, .len = ct.len, .state = 2, .fail_at = -1};
        dm_source cin = {odd_read, &csrc, DM_SOURCE_STREAM};
        thread_probe t;
        memset(&t, 0, sizeof t);
        dm_sink sink = {probe_write, &t};
        dm_decrypt_opts dopts = {.threads = threads};
        assert_int_equal(dm_decrypt(cin, sink, &g_id, 1, &dopts), DM_OK);
        assert_int_equal(t.total, n);
        assert_true(t.max_write <= JOB_CHUNKS_MAX * CHUNK);
        assert_true(t.writes >= n / (JOB_CHUNKS_MAX * CHUNK));
        assert_true(csrc.max_request <= JOB_CHUNKS_MAX * CT + 1);

        /* And the output is right. */
        assert_opens_to(ct.buf, ct.len, threads, DM_AEAD_OPENSSL, pt, n);
        free(ct.buf);
    }
    free(pt);
}

/* ------------------------------------------------------------ I/O errors */

static int failing_write(void *ctx, const uint8_t *buf, size_t n) {
    (void)buf;
    size_t *budget = ctx;
    if (n > *budget)
        return -1;
    *budget -= n;
    return 0;
}

static void test_io_errors(void **state) {
    (void)state;
    size_t n = 10 * CHUNK;
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ct);

    /* Reading fails in the header, then in the payload. */
    long fails[2] = {10, (long)(ct.len / 2)};
    for (int i = 0; i < 2; i++) {
        odd_source src = {.data = ct.buf, .len = ct.len, .state = 3, .fail_at = fails[i]};
        dm_source in = {odd_read, &src, DM_SOURCE_STREAM};
        dm_membuf out = {0};
        assert_int_equal(dm_decrypt(in, dm_sink_mem(&out), &g_id, 1, NULL), DM_ERR_IO);
        free(out.buf);
        long pfail = i == 0 ? 40 : (long)(n / 2);
        odd_source psrc = {.data = pt, .len = n, .state = 3, .fail_at = pfail};
        dm_source pin = {odd_read, &psrc, DM_SOURCE_STREAM};
        dm_membuf cout = {0};
        assert_int_equal(dm_encrypt(pin, dm_sink_mem(&cout), &g_rcpt, 1, NULL), DM_ERR_IO);
        free(cout.buf);
    }

    /* Writing fails. */
    size_t budgets[2] = {0, 3 * CHUNK};
    for (int i = 0; i < 2; i++) {
        size_t budget = budgets[i];
        dm_sink sink = {failing_write, &budget};
        dm_membuf in = {.data = ct.buf, .len = ct.len};
        assert_int_equal(dm_decrypt(dm_source_mem(&in), sink, &g_id, 1, NULL), DM_ERR_IO);
        budget = budgets[i];
        dm_membuf pin = {.data = pt, .len = n};
        assert_int_equal(dm_encrypt(dm_source_mem(&pin), sink, &g_rcpt, 1, NULL), DM_ERR_IO);
    }
    free(ct.buf);
    free(pt);
}

static void test_fd_source_and_sink(void **state) {
    (void)state;
    size_t n = 3 * CHUNK + 11;
    uint8_t *pt = make_plain(n);
    char plain_path[] = "/tmp/dm_test_stream_XXXXXX";
    char ct_path[] = "/tmp/dm_test_stream_XXXXXX";
    int pfd = mkstemp(plain_path), cfd = mkstemp(ct_path);
    assert_true(pfd >= 0 && cfd >= 0);
    assert_int_equal(write(pfd, pt, n), (ssize_t)n);
    assert_int_equal(lseek(pfd, 0, SEEK_SET), 0);
    dm_encrypt_opts eo = {.threads = 2, .armor = 1};
    assert_int_equal(dm_encrypt(dm_source_fd(&pfd), dm_sink_fd(&cfd), &g_rcpt, 1, &eo), DM_OK);
    assert_int_equal(lseek(cfd, 0, SEEK_SET), 0);

    /* Through a pipe: short reads of a non-seekable descriptor. */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pipefd[0]);
        char buf[4096];
        ssize_t got;
        while ((got = read(cfd, buf, sizeof buf)) > 0)
            if (write(pipefd[1], buf, (size_t)got) != got)
                _exit(1);
        _exit(0);
    }
    close(pipefd[1]);
    dm_membuf out = {0};
    assert_int_equal(dm_decrypt(dm_source_fd(&pipefd[0]), dm_sink_mem(&out), &g_id, 1, NULL),
                     DM_OK);
    close(pipefd[0]);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.buf, pt, n);
    free(out.buf);
    close(pfd);
    close(cfd);
    unlink(plain_path);
    unlink(ct_path);
    free(pt);
}

/* Reads and writes interrupted by signals (no SA_RESTART) and cut short by
 * pipes are retried: a slow writer feeds the decryptor through one pipe,
 * a slow reader drains its output through another, while a timer fires. */
static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void test_fd_eintr_and_short_io(void **state) {
    (void)state;
    size_t n = 6 * CHUNK + 321;
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ct);

    int in_pipe[2], out_pipe[2];
    assert_int_equal(pipe(in_pipe), 0);
    assert_int_equal(pipe(out_pipe), 0);
    pid_t feeder = fork();
    assert_true(feeder >= 0);
    if (feeder == 0) {
        close(in_pipe[0]);
        close(out_pipe[0]);
        close(out_pipe[1]);
        for (size_t off = 0; off < ct.len; off += 7000) {
            size_t len = ct.len - off < 7000 ? ct.len - off : 7000;
            if (write(in_pipe[1], ct.buf + off, len) != (ssize_t)len)
                _exit(1);
            usleep(200);
        }
        _exit(0);
    }
    pid_t drainer = fork();
    assert_true(drainer >= 0);
    if (drainer == 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        close(out_pipe[1]);
        /* Check what arrives against the plaintext; exit 0 only if all of it matches. */
        uint8_t buf[5000];
        size_t got_total = 0;
        ssize_t got;
        while ((got = read(out_pipe[0], buf, sizeof buf)) > 0) {
            if (got_total + (size_t)got > n || memcmp(buf, pt + got_total, (size_t)got) != 0)
                _exit(2);
            got_total += (size_t)got;
            usleep(100);
        }
        _exit(got_total == n ? 0 : 3);
    }
    close(in_pipe[1]);
    close(out_pipe[0]);

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: blocked reads and writes see EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
    struct itimerval tick = {{0, 300}, {0, 300}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    assert_int_equal(setitimer(ITIMER_REAL, &tick, NULL), 0);
    dm_decrypt_opts opts = {.threads = 1};
    int err = dm_decrypt(dm_source_fd(&in_pipe[0]), dm_sink_fd(&out_pipe[1]), &g_id, 1, &opts);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    close(in_pipe[0]);
    close(out_pipe[1]);

    int feeder_status = 0, drainer_status = 0;
    waitpid(feeder, &feeder_status, 0);
    waitpid(drainer, &drainer_status, 0);
    assert_int_equal(err, DM_OK);
    assert_true(alarms > 0);
    assert_true(WIFEXITED(feeder_status) && WEXITSTATUS(feeder_status) == 0);
    assert_true(WIFEXITED(drainer_status));
    assert_int_equal(WEXITSTATUS(drainer_status), 0);
    free(ct.buf);
    free(pt);
}

/* Regular files through descriptors: an engine may read them differently
 * (by offset, or mapped), so the same guarantees are checked there. The
 * descriptor need not start at offset 0: a file may hold other data first. */
static int temp_file_with(const uint8_t *junk, size_t junk_len, const uint8_t *data, size_t len,
                          char path[32]) {
    strcpy(path, "/tmp/dm_test_file_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (junk_len)
        assert_int_equal(write(fd, junk, junk_len), (ssize_t)junk_len);
    size_t done = 0;
    while (done < len) {
        ssize_t put = write(fd, data + done, len - done);
        assert_true(put > 0);
        done += (size_t)put;
    }
    assert_int_equal(lseek(fd, (off_t)junk_len, SEEK_SET), (off_t)junk_len);
    return fd;
}

static int decrypt_fd(int fd, unsigned threads, dm_membuf *out) {
    memset(out, 0, sizeof *out);
    dm_decrypt_opts opts = {.threads = threads};
    return dm_decrypt(dm_source_fd(&fd), dm_sink_mem(out), &g_id, 1, &opts);
}

static void test_regular_file_sources(void **state) {
    (void)state;
    static const uint8_t junk[100] = "not part of the age file";
    size_t n = 37 * CHUNK + 999;
    uint8_t *pt = make_plain(n);

    /* Sealing from a file (at an offset) gives what sealing from memory gives. */
    dm_membuf ref;
    rng_reseed(11);
    encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ref);
    for (unsigned threads = 1; threads <= 8; threads++) {
        char path[32];
        int fd = temp_file_with(junk, sizeof junk, pt, n, path);
        dm_membuf ct = {0};
        dm_encrypt_opts eo = {.threads = threads};
        rng_reseed(11);
        assert_int_equal(dm_encrypt(dm_source_fd(&fd), dm_sink_mem(&ct), &g_rcpt, 1, &eo), DM_OK);
        assert_int_equal(ct.len, ref.len);
        assert_memory_equal(ct.buf, ref.buf, ref.len);
        free(ct.buf);
        close(fd);
        unlink(path);
    }
    rng_reseed(98);

    /* Opening from a file at an offset, whole, cut, and with a bad chunk. */
    size_t p = header_len(ref.buf, ref.len) + DM_NONCE_LEN;
    for (unsigned threads = 1; threads <= 8; threads += 3) {
        char path[32];
        dm_membuf out;
        int fd = temp_file_with(junk, sizeof junk, ref.buf, ref.len, path);
        assert_int_equal(decrypt_fd(fd, threads, &out), DM_OK);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.buf, pt, n);
        free(out.buf);
        close(fd);
        unlink(path);

        size_t cut = p + 20 * CT + 5;
        fd = temp_file_with(junk, sizeof junk, ref.buf, cut, path);
        assert_int_equal(decrypt_fd(fd, threads, &out), DM_ERR_PAYLOAD);
        check_released(&out, pt, 20);
        free(out.buf);
        close(fd);
        unlink(path);

        ref.buf[p + 29 * CT + 7] ^= 4;
        fd = temp_file_with(junk, sizeof junk, ref.buf, ref.len, path);
        assert_int_equal(decrypt_fd(fd, threads, &out), DM_ERR_PAYLOAD);
        check_released(&out, pt, 29);
        free(out.buf);
        close(fd);
        unlink(path);
        ref.buf[p + 29 * CT + 7] ^= 4;
    }

    /* Data after the age file in the same file is refused, after the authentic chunks. */
    uint8_t *longer = malloc(ref.len + 3);
    memcpy(longer, ref.buf, ref.len);
    memcpy(longer + ref.len, "xyz", 3);
    char path[32];
    int fd = temp_file_with(NULL, 0, longer, ref.len + 3, path);
    dm_membuf out;
    assert_int_equal(decrypt_fd(fd, 4, &out), DM_ERR_PAYLOAD);
    check_released(&out, pt, 37);
    free(out.buf);
    close(fd);
    unlink(path);
    free(longer);

    /* An empty plaintext file, and a small one, from descriptors. */
    for (size_t small = 0; small <= 1000; small += 1000) {
        fd = temp_file_with(junk, 10, pt, small, path);
        dm_membuf ct = {0};
        assert_int_equal(dm_encrypt(dm_source_fd(&fd), dm_sink_mem(&ct), &g_rcpt, 1, NULL), DM_OK);
        close(fd);
        unlink(path);
        fd = temp_file_with(NULL, 0, ct.buf, ct.len, path);
        assert_int_equal(decrypt_fd(fd, 0, &out), DM_OK);
        assert_int_equal(out.len, small);
        if (small)
            assert_memory_equal(out.buf, pt, small);
        free(out.buf);
        free(ct.buf);
        close(fd);
        unlink(path);
    }
    free(ref.buf);
    free(pt);
}

/* ------------------------------------------------ policy, keys, armor, inspect */

typedef struct policy_seen {
    int calls;
    size_t stanzas;
    uint8_t key[DM_FILE_KEY_LEN];
    int verdict;
} policy_seen;

static int policy(void *ctx, const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN]) {
    policy_seen *p = ctx;
    p->calls++;
    p->stanzas = hdr->stanzas.len;
    memcpy(p->key, file_key, DM_FILE_KEY_LEN);
    return p->verdict;
}

static void test_policy_and_file_key(void **state) {
    (void)state;
    size_t n = 2 * CHUNK + 1;
    uint8_t *pt = make_plain(n);
    dm_membuf ct, out;
    encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ct);

    uint8_t *key = dm_secret_alloc(DM_FILE_KEY_LEN);
    policy_seen seen = {.verdict = DM_ERR_POLICY};
    dm_decrypt_opts opts = {.policy = policy, .policy_ctx = &seen, .file_key_out = key};
    dm_membuf in = {.data = ct.buf, .len = ct.len};
    memset(&out, 0, sizeof out);
    memset(key, 0, DM_FILE_KEY_LEN);
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &g_id, 1, &opts),
                     DM_ERR_POLICY);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.stanzas, 1);
    assert_int_equal(out.len, 0); /* refused before anything was released */

    seen.verdict = DM_OK;
    in.pos = 0;
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &g_id, 1, &opts), DM_OK);
    assert_int_equal(seen.calls, 2);
    assert_memory_equal(key, seen.key, DM_FILE_KEY_LEN);
    assert_int_equal(out.len, n);
    free(out.buf);

    /* The file key alone opens the file... */
    dm_identity *fk = NULL;
    assert_int_equal(dm_file_key_identity_new(key, &fk), DM_OK);
    in.pos = 0;
    memset(&out, 0, sizeof out);
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &fk, 1, NULL), DM_OK);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.buf, pt, n);
    free(out.buf);
    dm_identity_free(fk);

    /* ...and a wrong one fails the header MAC. */
    key[0] ^= 1;
    assert_int_equal(dm_file_key_identity_new(key, &fk), DM_OK);
    in.pos = 0;
    memset(&out, 0, sizeof out);
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &fk, 1, NULL), DM_ERR_HMAC);
    assert_int_equal(out.len, 0);
    dm_identity_free(fk);

    /* No identities: no match; identities that don't fit: no match. */
    in.pos = 0;
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), NULL, 0, NULL),
                     DM_ERR_NO_MATCH);
    char *s2 = NULL, *p2 = NULL;
    dm_identity *other = NULL;
    assert_int_equal(dm_x25519_keygen(&s2, &p2), DM_OK);
    assert_int_equal(dm_x25519_identity_parse(s2, &other), DM_OK);
    dm_identity *ids[2] = {other, g_id};
    in.pos = 0;
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), ids, 1, NULL),
                     DM_ERR_NO_MATCH);
    /* The second identity is tried after the first one misses. */
    in.pos = 0;
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), ids, 2, NULL), DM_OK);
    assert_int_equal(out.len, n);
    free(out.buf);
    dm_identity_free(other);
    dm_secret_free(s2);
    free(p2);

    /* No recipients is a usage error. */
    dm_membuf pin = {.data = pt, .len = n};
    dm_membuf dummy = {0};
    assert_int_equal(dm_encrypt(dm_source_mem(&pin), dm_sink_mem(&dummy), NULL, 0, NULL),
                     DM_ERR_USAGE);
    assert_int_equal(dummy.len, 0);

    dm_secret_free(key);
    free(ct.buf);
    free(pt);
}

static void test_armor_and_inspect(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        uint8_t *pt = make_plain(n);
        for (int armor = 0; armor < 2; armor++) {
            dm_membuf ct;
            encrypt_buf(pt, n, 2, DM_AEAD_OPENSSL, armor, &ct);
            if (armor) {
                static const char begin[] = "-----BEGIN AGE ENCRYPTED FILE-----\n";
                static const char end[] = "-----END AGE ENCRYPTED FILE-----\n";
                assert_memory_equal(ct.buf, begin, sizeof begin - 1);
                assert_memory_equal(ct.buf + ct.len - (sizeof end - 1), end, sizeof end - 1);
            } else {
                assert_memory_equal(ct.buf, "age-encryption.org/v1\n-> X25519 ", 32);
            }
            dm_membuf in = {.data = ct.buf, .len = ct.len};
            dm_inspect_info info;
            assert_int_equal(dm_inspect(dm_source_mem(&in), &info), DM_OK);
            assert_int_equal(info.armored, armor);
            assert_int_equal(info.chunks, chunks_for(n));
            assert_int_equal(info.plaintext_size, n);
            assert_int_equal(info.payload_size, DM_NONCE_LEN + n + DM_TAG_LEN * chunks_for(n));
            assert_int_equal(info.header.stanzas.len, 1);
            assert_string_equal(info.header.stanzas.items[0].type, "X25519");
            if (!armor)
                assert_int_equal(info.header_size + info.payload_size, ct.len);
            dm_inspect_info_clear(&info);

            assert_opens_to(ct.buf, ct.len, 2, DM_AEAD_SODIUM, pt, n);
            free(ct.buf);
        }
        free(pt);
    }

    /* Sizes that no valid payload has are reported as payload failures. */
    size_t n = CHUNK;
    uint8_t *pt = make_plain(n);
    dm_membuf ct;
    encrypt_buf(pt, n, 1, DM_AEAD_OPENSSL, 0, &ct);
    size_t p = header_len(ct.buf, ct.len) + DM_NONCE_LEN;
    size_t bad_cuts[3] = {p, p + 15, p + CT + 16};
    uint8_t *longer = calloc(1, ct.len + 64);
    memcpy(longer, ct.buf, ct.len);
    for (int i = 0; i < 3; i++) {
        dm_membuf in = {.data = longer, .len = bad_cuts[i]};
        dm_inspect_info info;
        assert_int_equal(dm_inspect(dm_source_mem(&in), &info), DM_ERR_PAYLOAD);
        dm_inspect_info_clear(&info);
    }
    /* A malformed header is a header failure, with nothing to free. */
    dm_membuf junk = {.data = (const uint8_t *)"age-encryption.org/v2\n", .len = 22};
    dm_inspect_info info;
    assert_int_equal(dm_inspect(dm_source_mem(&junk), &info), DM_ERR_HEADER);
    free(longer);
    free(ct.buf);
    free(pt);
}

int main(void) {
    /* Before dm_init: libsodium takes its generator at initialisation. */
    randombytes_set_implementation(&rng_impl);
    if (dm_init() != DM_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_stream_layout),
        cmocka_unit_test(test_truncation_short_final),
        cmocka_unit_test(test_truncation_full_final),
        cmocka_unit_test(test_truncation_tiny),
        cmocka_unit_test(test_forged_layouts),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_parallel_identical),
        cmocka_unit_test(test_parallel_first_bad_chunk),
        cmocka_unit_test(test_threads_only_when_worth_it),
        cmocka_unit_test(test_bounded_memory_and_short_reads),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_fd_source_and_sink),
        cmocka_unit_test(test_fd_eintr_and_short_io),
        cmocka_unit_test(test_regular_file_sources),
        cmocka_unit_test(test_policy_and_file_key),
        cmocka_unit_test(test_armor_and_inspect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
