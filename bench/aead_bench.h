/* What bench/aead-ceiling.c and bench/feed.c share: OpenSSL's ChaCha20-Poly1305
 * over 64 KiB chunks with age's STREAM nonces, and a monotonic clock. Both are
 * built alone (cc FILE.c -lcrypto -lpthread), so this header is all inline. */
#ifndef DM_BENCH_AEAD_BENCH_H
#define DM_BENCH_AEAD_BENCH_H

#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

#define CHUNK 65536
#define SEALED (CHUNK + 16)
#define MAX_THREADS 64

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* age's STREAM nonce of chunk `counter`: an 11-byte big-endian counter and a
 * last-chunk flag byte, here always 0. */
static inline void nonce_of(unsigned long long counter, unsigned char nonce[12]) {
    memset(nonce, 0, 12);
    for (int b = 0; b < 8; b++)
        nonce[10 - b] = (unsigned char)(counter >> (8 * b));
}

#endif
