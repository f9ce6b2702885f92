/* Shared by the payload engine's tests (test_stream.c, test_stream_file.c):
 * a seeded ChaCha20 randomness source, installed before dm_init so that two
 * encryptions after the same reseed are byte-for-byte comparable, and the
 * X25519 key pair fixture. Include after cmocka.h, sodium.h and vault.h. */
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

#endif
