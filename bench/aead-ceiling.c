/* aead-ceiling: how fast OpenSSL's ChaCha20-Poly1305 alone goes on this
 * machine, with no file format, no I/O and no doormat code, in the three
 * places the data can come from. bench/compare builds and runs it to tell
 * doormat's own costs from the machine's limits.
 *
 *   aead-ceiling hot THREADS SECONDS      each thread seals one 64 KiB buffer
 *                                         over and over (as `openssl speed`)
 *   aead-ceiling memory THREADS MIB       the threads seal one MIB-sized buffer
 *                                         in 64 KiB chunks, each its own slice,
 *                                         into a small reused output buffer
 *   aead-ceiling file THREADS PATH        the same over a file mapped read-only
 *                                         and populated up front (timed)
 *   aead-ceiling pread THREADS PATH       the same, each thread reading its
 *                                         chunks with pread into its own buffer
 *
 * Prints "<MiB/s>" of plaintext, all threads together, wall clock. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CHUNK 65536
#define MAX_THREADS 64

static const unsigned char *src;
static size_t src_len;
static double seconds;
static int hot;
static int pread_fd = -1;
static EVP_CIPHER *cipher;

typedef struct slice {
    size_t from, to; /* in chunks */
    unsigned long long bytes;
    int ok;
} slice;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int seal(EVP_CIPHER_CTX *c, unsigned long long counter, const unsigned char *in,
                unsigned char *out) {
    unsigned char nonce[12] = {0};
    memcpy(nonce + 3, &counter, sizeof counter);
    int got = 0, fin = 0;
    return EVP_EncryptInit_ex2(c, NULL, NULL, nonce, NULL) == 1 &&
           EVP_EncryptUpdate(c, out, &got, in, CHUNK) == 1 &&
           EVP_EncryptFinal_ex(c, out + CHUNK, &fin) == 1 &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + CHUNK) == 1;
}

static void *run(void *arg) {
    slice *s = arg;
    static const unsigned char key[32] = {1};
    unsigned char *in = malloc(CHUNK), *out = malloc(CHUNK + 16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    s->ok = in && out && c && EVP_CipherInit_ex2(c, cipher, key, NULL, 1, NULL) == 1;
    if (s->ok && hot) {
        memset(in, 7, CHUNK);
        double end = now() + seconds;
        for (unsigned long long i = 0; s->ok && now() < end; i++) {
            for (int k = 0; k < 16 && s->ok; k++) {
                s->ok = seal(c, i * 16 + (unsigned)k, in, out);
                s->bytes += CHUNK;
            }
        }
    } else if (pread_fd >= 0) {
        for (size_t i = s->from; s->ok && i < s->to; i++) {
            s->ok = pread(pread_fd, in, CHUNK, (off_t)(i * CHUNK)) == CHUNK && seal(c, i, in, out);
            s->bytes += CHUNK;
        }
    } else {
        for (size_t i = s->from; s->ok && i < s->to; i++) {
            s->ok = seal(c, i, src + i * CHUNK, out);
            s->bytes += CHUNK;
        }
    }
    EVP_CIPHER_CTX_free(c);
    free(in);
    free(out);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: aead-ceiling hot|memory|file THREADS SECONDS|MIB|PATH\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "aead-ceiling: THREADS from 1 to %d\n", MAX_THREADS);
        return 2;
    }
    cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    if (cipher == NULL) {
        fprintf(stderr, "aead-ceiling: no ChaCha20-Poly1305 in OpenSSL\n");
        return 1;
    }
    if (strcmp(argv[1], "hot") == 0) {
        hot = 1;
        seconds = atof(argv[3]);
    } else if (strcmp(argv[1], "memory") == 0) {
        src_len = (size_t)atol(argv[3]) << 20;
        unsigned char *m = malloc(src_len);
        if (m == NULL) {
            fprintf(stderr, "aead-ceiling: out of memory\n");
            return 1;
        }
        memset(m, 7, src_len);
        src = m;
    } else if (strcmp(argv[1], "file") == 0 || strcmp(argv[1], "pread") == 0) {
        int fd = open(argv[3], O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < CHUNK) {
            fprintf(stderr, "aead-ceiling: can't read %s\n", argv[3]);
            return 1;
        }
        src_len = (size_t)st.st_size;
        if (argv[1][0] == 'p')
            pread_fd = fd;
    } else {
        fprintf(stderr, "aead-ceiling: hot, memory or file, not %s\n", argv[1]);
        return 2;
    }
    size_t chunks = src_len / CHUNK;
    slice s[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    memset(s, 0, sizeof s);
    double t0 = now();
    if (strcmp(argv[1], "file") == 0) {
        void *m =
            mmap(NULL, src_len, PROT_READ, MAP_SHARED | MAP_POPULATE, open(argv[3], O_RDONLY), 0);
        if (m == MAP_FAILED) {
            fprintf(stderr, "aead-ceiling: can't map %s\n", argv[3]);
            return 1;
        }
        src = m;
    }
    for (int t = 0; t < threads; t++) {
        s[t].from = chunks * (size_t)t / (size_t)threads;
        s[t].to = chunks * (size_t)(t + 1) / (size_t)threads;
        if (pthread_create(&tid[t], NULL, run, &s[t]) != 0) {
            fprintf(stderr, "aead-ceiling: no thread\n");
            return 1;
        }
    }
    unsigned long long bytes = 0;
    int ok = 1;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        bytes += s[t].bytes;
        ok &= s[t].ok;
    }
    double wall = now() - t0;
    if (!ok) {
        fprintf(stderr, "aead-ceiling: sealing failed\n");
        return 1;
    }
    printf("%.1f\n", (double)bytes / wall / 1048576.0);
    return 0;
}
