/* Guarded memory for secrets: libsodium's, kept in a small pool. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "doormat/base.h"

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

void *dm_secret_new(size_t n) {
    void *p = dm_secret_alloc(n);
    if (p == NULL)
        dm_fail(DM_ERR_NOMEM, "out of memory");
    else
        memset(p, 0, n);
    return p;
}
