/* feed: ways of feeding OpenSSL's ChaCha20-Poly1305 from a file, to find
 * the cheapest one. docs/benchmarks.md ("What the machine allows") lists what
 * each took on the development machine; bench/aead-ceiling.c keeps the two
 * bounded-memory ways that bench/compare runs in every comparison.
 *
 *   cc -std=c17 -O2 -o feed bench/feed.c -lcrypto -lpthread
 *   feed THREADS WAY JOB_KIB PATH
 *
 * The threads take jobs of JOB_KIB (a multiple of 64) in turn and seal them
 * in 64 KiB chunks into their own output buffer; nothing is written. WAY:
 *
 *   pread           pread each job into the thread's own buffer
 *   preadv          preadv each job straight into the output slots (64 KiB
 *                   apart by 16 bytes), then seal in place
 *   window          one mapping of the whole file; each job is populated
 *                   (MADV_POPULATE_READ) before and dropped (MADV_DONTNEED) after
 *   window-willneed the same, MADV_WILLNEED instead of populating
 *   window-fault    the same, neither: the cipher's reads fault the pages in
 *   window-prefetch as window, the cipher fed 4 KiB at a time with software
 *                   prefetch 16 KiB ahead
 *   job-map         a mapping per job (MAP_POPULATE), unmapped after
 *   map-keep        one mapping, faulted in, never dropped (the file resident)
 *
 * Prints the wall time from opening the file to the last thread's end, the
 * throughput and the peak RSS. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aead_bench.h"

#define PIECE 4096
#define AHEAD 16384
#define MAX_JOB_CHUNKS 1024

enum way { PREAD, PREADV, WINDOW, WINDOW_WILLNEED, WINDOW_FAULT, WINDOW_PREFETCH, JOB_MAP, MAP_KEEP };
static const char *const way_names[] = {"pread",        "preadv",          "window", "window-willneed",
                                        "window-fault", "window-prefetch", "job-map", "map-keep"};

static enum way way;
static size_t job, len;
static int fd;
static unsigned char *base; /* the whole mapping, for the window and map ways */
static EVP_CIPHER *cipher;
static atomic_size_t next_job;
static atomic_int failed;

/* Seals one chunk; with `prefetch`, in 4 KiB pieces, each after prefetching
 * the piece 16 KiB ahead (up to `end`). */
static int seal(EVP_CIPHER_CTX *c, unsigned long long counter, const unsigned char *in,
                unsigned char *out, int prefetch, const unsigned char *end) {
    unsigned char nonce[12];
    nonce_of(counter, nonce);
    int got = 0, fin = 0;
    if (EVP_EncryptInit_ex2(c, NULL, NULL, nonce, NULL) != 1)
        return 0;
    for (size_t k = 0; k < CHUNK; k += prefetch ? PIECE : CHUNK) {
        if (prefetch)
            for (const unsigned char *p = in + k + AHEAD; p < in + k + AHEAD + PIECE && p < end; p += 64)
                __builtin_prefetch(p, 0, 3);
        int n = prefetch ? PIECE : CHUNK;
        if (EVP_EncryptUpdate(c, out + k, &got, in + k, n) != 1)
            return 0;
    }
    return EVP_EncryptFinal_ex(c, out + CHUNK, &fin) == 1 &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + CHUNK) == 1;
}

static void *run(void *arg) {
    (void)arg;
    static const unsigned char key[32] = {1};
    unsigned char *in = malloc(job), *out = malloc(job / CHUNK * SEALED);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = in && out && c && EVP_CipherInit_ex2(c, cipher, key, NULL, 1, NULL) == 1;
    for (size_t j; ok && (j = atomic_fetch_add(&next_job, 1)) * job < len;) {
        size_t off = j * job, n = len - off < job ? len - off : job, chunks = n / CHUNK;
        const unsigned char *p = base != NULL ? base + off : NULL;
        void *mapped = NULL;
        int in_place = 0;
        switch (way) {
        case PREAD:
            ok = pread(fd, in, n, (off_t)off) == (ssize_t)n;
            p = in;
            break;
        case PREADV: {
            struct iovec iov[MAX_JOB_CHUNKS];
            for (size_t k = 0; k < chunks; k++)
                iov[k] = (struct iovec){out + k * SEALED, CHUNK};
            ok = preadv(fd, iov, (int)chunks, (off_t)off) == (ssize_t)n;
            in_place = 1;
            break;
        }
        case WINDOW:
        case WINDOW_PREFETCH:
            ok = madvise((void *)p, n, MADV_POPULATE_READ) == 0;
            break;
        case WINDOW_WILLNEED:
            ok = madvise((void *)p, n, MADV_WILLNEED) == 0;
            break;
        case JOB_MAP:
            mapped = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);
            ok = mapped != MAP_FAILED;
            p = mapped;
            break;
        case WINDOW_FAULT:
        case MAP_KEEP:
            break;
        }
        for (size_t k = 0; ok && k < chunks; k++) {
            unsigned char *o = out + k * SEALED;
            ok = seal(c, off / CHUNK + k, in_place ? o : p + k * CHUNK, o, way == WINDOW_PREFETCH,
                      way == WINDOW_PREFETCH ? base + len : NULL);
        }
        if (way == WINDOW || way == WINDOW_WILLNEED || way == WINDOW_FAULT || way == WINDOW_PREFETCH)
            (void)madvise((void *)p, n, MADV_DONTNEED);
        if (mapped != NULL && mapped != MAP_FAILED)
            munmap(mapped, n);
    }
    if (!ok)
        atomic_store(&failed, 1);
    EVP_CIPHER_CTX_free(c);
    free(in);
    free(out);
    return NULL;
}

int main(int argc, char **argv) {
    size_t w = 0, nways = sizeof way_names / sizeof way_names[0];
    if (argc == 5)
        while (w < nways && strcmp(argv[2], way_names[w]) != 0)
            w++;
    int threads = argc == 5 ? atoi(argv[1]) : 0;
    long kib = argc == 5 ? atol(argv[3]) : 0;
    if (argc != 5 || w == nways || threads < 1 || threads > MAX_THREADS || kib < 64 || kib % 64 != 0 ||
        kib / 64 > MAX_JOB_CHUNKS) {
        fprintf(stderr, "usage: feed THREADS WAY JOB_KIB PATH (WAY: pread, preadv, window,"
                        " window-willneed, window-fault, window-prefetch, job-map, map-keep;"
                        " JOB_KIB a multiple of 64, at most 65536)\n");
        return 2;
    }
    way = (enum way)w;
    job = (size_t)kib << 10;
    if ((cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL)) == NULL) {
        fprintf(stderr, "feed: no ChaCha20-Poly1305 in OpenSSL\n");
        return 1;
    }
    double t0 = now();
    struct stat st;
    if ((fd = open(argv[4], O_RDONLY)) < 0 || fstat(fd, &st) != 0 || st.st_size < CHUNK) {
        fprintf(stderr, "feed: can't read %s\n", argv[4]);
        return 1;
    }
    len = (size_t)st.st_size / CHUNK * CHUNK;
    if (way >= WINDOW && way != JOB_MAP) {
        base = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) {
            fprintf(stderr, "feed: can't map %s\n", argv[4]);
            return 1;
        }
    }
    pthread_t tid[MAX_THREADS];
    for (int t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, run, NULL) != 0) {
            fprintf(stderr, "feed: no thread\n");
            return 1;
        }
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    double wall = now() - t0;
    if (atomic_load(&failed)) {
        fprintf(stderr, "feed: %s failed\n", way_names[way]);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s, %d threads, %ld KiB jobs: %.1f ms, %.0f MiB/s, peak RSS %ld KiB\n", way_names[way],
           threads, kib, wall * 1e3, (double)len / wall / 1048576.0, ru.ru_maxrss);
    return 0;
}
