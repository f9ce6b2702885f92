/* Shared by the payload engine's tests (test_stream.c, test_stream_file.c):
 * a seeded ChaCha20 randomness source, installed before dm_init so that two
 * encryptions after the same reseed are byte-for-byte comparable, the
 * X25519 key pair fixture, and the runs through the engine from memory and
 * from temporary files. Include after cmocka.h, sodium.h and vault.h, with
 * CHUNK and CT (a plaintext and a sealed chunk's size) defined. */
#ifndef DOORMAT_TESTS_STREAM_FIXTURE_H
#define DOORMAT_TESTS_STREAM_FIXTURE_H

/* ------------------------------------------------ deterministic randomness */

static uint8_t rng_seed[crypto_stream_chacha20_KEYBYTES];
static uint64_t rng_calls;

static void rng_reseed(uint8_t tag) {
    memset(rng_seed, tag, sizeof rng_seed);
    rng_calls = 0;
}

static void rng_buf(void *buf, size_t n) {
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    uint64_t c = rng_calls++;
    memcpy(nonce, &c, sizeof c);
    crypto_stream_chacha20(buf, n, nonce, rng_seed);
}

static uint32_t rng_random(void) {
    uint32_t v;
    rng_buf(&v, sizeof v);
    return v;
}

static const char *rng_name(void) {
    return "doormat-test-chacha20";
}

static struct randombytes_implementation rng_impl = {
    .implementation_name = rng_name,
    .random = rng_random,
    .buf = rng_buf,
};

/* ------------------------------------------------------------- fixtures */

static char *g_secret, *g_public;
static dm_recipient *g_rcpt;
static dm_identity *g_id;

static int setup(void **state) {
    (void)state;
    rng_reseed(1);
    if (dm_x25519_keygen(&g_secret, &g_public) != DM_OK ||
        dm_x25519_recipient_parse(g_public, &g_rcpt) != DM_OK ||
        dm_x25519_identity_parse(g_secret, &g_id) != DM_OK)
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dm_recipient_free(g_rcpt);
    dm_identity_free(g_id);
    dm_secret_free(g_secret);
    free(g_public);
    return 0;
}

static uint8_t *make_plain(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    static const uint8_t seed[randombytes_SEEDBYTES] = "doormat plaintext seed 32 bytes";
    randombytes_buf_deterministic(p, n, seed);
    return p;
}

/* ------------------------------------------------- through the engine */

static inline void encrypt_buf(const uint8_t *pt, size_t n, unsigned threads, dm_aead_backend be,
                               int armor, dm_membuf *ct) {
    dm_membuf in = {.data = pt, .len = n};
    memset(ct, 0, sizeof *ct);
    dm_encrypt_opts opts = {.threads = threads, .backend = be, .armor = armor};
    assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_mem(ct), &g_rcpt, 1, &opts), DM_OK);
}

static inline int decrypt_fd(int fd, unsigned threads, dm_aead_backend be, dm_membuf *pt) {
    memset(pt, 0, sizeof *pt);
    dm_decrypt_opts opts = {.threads = threads, .backend = be};
    return dm_decrypt(dm_source_fd(&fd), dm_sink_mem(pt), &g_id, 1, &opts);
}

/* The header's size in the age file ct, and in *err what inspecting it said
   (DM_ERR_PAYLOAD where the payload is damaged). */
static inline size_t inspect_header_len(const uint8_t *ct, size_t len, int *err) {
    dm_membuf in = {.data = ct, .len = len};
    dm_inspect_info info;
    *err = dm_inspect(dm_source_mem(&in), &info);
    size_t h = (size_t)info.header_size;
    dm_inspect_info_clear(&info);
    return h;
}

/* got is exactly the n bytes of want. */
static inline void assert_bytes(const dm_membuf *got, const uint8_t *want, size_t n) {
    assert_int_equal(got->len, n);
    if (n)
        assert_memory_equal(got->buf, want, n);
}

/* A failed opening released exactly the first `chunks` chunks, and they are right. */
static inline void check_released(const dm_membuf *out, const uint8_t *pt, size_t chunks) {
    assert_bytes(out, pt, chunks * CHUNK);
}

/* Damages chunk `bad` of the payload (byte at, XOR mask), and byte later_at
   of chunk bad + later where there is one: a second bad chunk after the first
   must not matter. Called again, it repairs both. */
static inline void flip_bad_chunks(uint8_t *payload, size_t chunks, size_t bad, size_t at,
                                   uint8_t mask, size_t later, size_t later_at) {
    payload[bad * CT + at] ^= mask;
    if (bad + later < chunks)
        payload[(bad + later) * CT + later_at] ^= 1;
}

/* ------------------------------------------------------ temporary files */

/* A temporary file holding junk_len bytes of junk, then the len bytes of
   data; the descriptor is left just after the junk. */
static inline int temp_file_with(const uint8_t *junk, size_t junk_len, const uint8_t *data,
                                 size_t len, char path[64]) {
    strcpy(path, "/tmp/dm_test_stream_XXXXXX");
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

static inline void close_temp(int fd, const char *path) {
    close(fd);
    unlink(path);
}

/* Opens the age file ct from a temporary file, after junk_len bytes of junk:
   the error, and the plaintext in *out. */
static inline int decrypt_temp(const uint8_t *junk, size_t junk_len, const uint8_t *ct, size_t len,
                               unsigned threads, dm_membuf *out) {
    char path[64];
    int fd = temp_file_with(junk, junk_len, ct, len, path);
    int err = decrypt_fd(fd, threads, DM_AEAD_OPENSSL, out);
    close_temp(fd, path);
    return err;
}

#endif
