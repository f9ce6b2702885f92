/* HKDF-SHA-256, HMAC-SHA-256, SHA-256 and ChaCha20-Poly1305 for headers and
 * stanzas, from libsodium, and libsodium's guarded memory. No primitive is
 * implemented here.
 *
 * Why libsodium rather than OpenSSL's EVP for these: every file needs a few of
 * them on tiny inputs, and the first EVP fetch initialises OpenSSL's provider
 * tables, which costs more CPU per process than all the cryptography of a
 * 1 KiB file (docs/benchmarks.md, "Start-up"). OpenSSL stays where it is faster: the
 * payload of large files (stream.c). The outputs are the same functions, bit
 * for bit (RFC 5869, RFC 4231, FIPS 180-4 and RFC 8439 vectors in test_crypto). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define SHA256_LEN crypto_auth_hmacsha256_BYTES

/* libsodium's HMAC wants a key pointer even for an empty key. */
static const uint8_t no_key[1];

/* RFC 5869 is HMAC applied twice over; libsodium 1.0.18 has HMAC-SHA-256 but
 * not HKDF, so the two steps are spelled out here. An absent salt is HashLen
 * zero bytes (2.2), which HMAC treats exactly like an empty key. */
int dm_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                   const char *info, size_t info_len, uint8_t *out, size_t out_len) {
    if (out_len > 255 * SHA256_LEN)
        return dm_fail(DM_ERR_INTERNAL, "HKDF-SHA-256 output of %zu bytes is too long", out_len);
    uint8_t prk[SHA256_LEN], t[SHA256_LEN];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, salt_len ? salt : no_key, salt_len);
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    size_t done = 0;
    for (uint8_t i = 1; done < out_len; i++) {
        crypto_auth_hmacsha256_init(&st, prk, sizeof prk);
        if (i > 1)
            crypto_auth_hmacsha256_update(&st, t, sizeof t);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, info_len);
        crypto_auth_hmacsha256_update(&st, &i, 1);
        crypto_auth_hmacsha256_final(&st, t);
        size_t take = out_len - done < sizeof t ? out_len - done : sizeof t;
        memcpy(out + done, t, take);
        done += take;
    }
    sodium_memzero(&st, sizeof st);
    sodium_memzero(prk, sizeof prk);
    sodium_memzero(t, sizeof t);
    return DM_OK;
}

int dm_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                   uint8_t out[32]) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key_len ? key : no_key, key_len);
    crypto_auth_hmacsha256_update(&st, msg, msg_len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
    return DM_OK;
}

int dm_sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
    crypto_hash_sha256(out, msg, len);
    return DM_OK;
}

int dm_aead_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out) {
    return dm_aead_seal_ad(key, nonce, NULL, 0, in, n, out);
}

int dm_aead_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out) {
    return dm_aead_open_ad(key, nonce, NULL, 0, in, n, out);
}

int dm_aead_seal_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out) {
    if (n > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 message of %zu bytes is too long", n);
    /* Detached: the tag goes right after the ciphertext, and in may be out. */
    if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + n, NULL, in, n, ad, ad_len,
                                                           NULL, nonce, key) != 0) {
        sodium_memzero(out, n + DM_TAG_LEN);
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 seal failed");
    }
    return DM_OK;
}

int dm_aead_open_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out) {
    if (n < DM_TAG_LEN)
        return dm_fail(DM_ERR_PAYLOAD, "ciphertext shorter than its tag");
    size_t pt_len = n - DM_TAG_LEN;
    /* The tag may share memory with out (in-place open); copy it first. */
    uint8_t tag[DM_TAG_LEN];
    memcpy(tag, in + pt_len, DM_TAG_LEN);
    /* libsodium checks the tag (in constant time) before it decrypts anything. */
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, pt_len, tag, ad, ad_len,
                                                           nonce, key) != 0) {
        /* Unauthenticated plaintext must never reach the caller. */
        sodium_memzero(out, pt_len);
        return dm_fail(DM_ERR_PAYLOAD, "authentication tag mismatch");
    }
    return DM_OK;
}

/* Guarded memory, recycled.
 *
 * Every block comes from sodium_malloc: its own pages, guard pages on both
 * sides, mlock'd, never in a core dump. Making and unmaking those pages costs
 * a handful of mmap/mprotect/munmap calls and the TLB flushes they cause,
 * which under load was most of an escrow agent's CPU (docs/benchmarks.md):
 * a release allocates about a dozen small secrets. So a freed block is zeroed
 * and kept, still guarded and locked, for the next request of the same size;
 * at most POOL_SLOTS blocks of at most POOL_MAX_BLOCK bytes are kept.
 *
 * A block starts with a 16-byte header (a check word and the size), so the
 * size is known when it is freed; the caller's bytes still end against the
 * guard page (sodium_malloc places the end of the region there), and a size
 * that is a multiple of 16 still gives a 16-aligned pointer. */
#define POOL_SLOTS 64
#define POOL_MAX_BLOCK 4096
#define BLOCK_HEAD 16
#define BLOCK_CHECK UINT64_C(0x646f6f726d617421) /* "doormat!" */

typedef struct {
    uint64_t check;
    uint64_t size;
} block_head;

static struct {
    pthread_mutex_t lock;
    uint8_t *block[POOL_SLOTS];
    size_t size[POOL_SLOTS];
    size_t n, victim;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

void *dm_secret_alloc(size_t n) {
    if (n <= POOL_MAX_BLOCK) {
        pthread_mutex_lock(&pool.lock);
        for (size_t i = pool.n; i-- > 0;) {
            if (pool.size[i] != n)
                continue;
            uint8_t *b = pool.block[i];
            pool.n--;
            pool.block[i] = pool.block[pool.n];
            pool.size[i] = pool.size[pool.n];
            pthread_mutex_unlock(&pool.lock);
            return b + BLOCK_HEAD;
        }
        pthread_mutex_unlock(&pool.lock);
    }
    if (n > SIZE_MAX - BLOCK_HEAD)
        return NULL;
    uint8_t *b = sodium_malloc(n + BLOCK_HEAD);
    if (b == NULL)
        return NULL;
    block_head h = {.check = BLOCK_CHECK, .size = n};
    memcpy(b, &h, sizeof h);
    return b + BLOCK_HEAD;
}

void dm_secret_free(void *p) {
    if (p == NULL)
        return;
    uint8_t *b = (uint8_t *)p - BLOCK_HEAD;
    block_head h;
    memcpy(&h, b, sizeof h);
    if (h.check != BLOCK_CHECK) /* not ours, or its header overwritten: stop here */
        abort();
    sodium_memzero(p, (size_t)h.size);
    if (h.size <= POOL_MAX_BLOCK) {
        pthread_mutex_lock(&pool.lock);
        uint8_t *out = NULL;
        if (pool.n < POOL_SLOTS) {
            pool.block[pool.n] = b;
            pool.size[pool.n++] = (size_t)h.size;
        } else {
            /* Full: the block replaces one in turn (sizes that stop being
             * asked for leave the pool). */
            out = pool.block[pool.victim];
            pool.block[pool.victim] = b;
            pool.size[pool.victim] = (size_t)h.size;
            pool.victim = (pool.victim + 1) % POOL_SLOTS;
        }
        pthread_mutex_unlock(&pool.lock);
        b = out;
    }
    sodium_free(b); /* zeroes the region and unmaps it; ignores NULL */
}
