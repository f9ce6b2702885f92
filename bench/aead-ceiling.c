/* aead-ceiling: how fast OpenSSL's ChaCha20-Poly1305 alone goes on this
 * machine, with no file format, no header and no doormat code, for each place
 * the data can come from. bench/compare builds and runs it to tell doormat's
 * own costs from the machine's limits.
 *
 *   aead-ceiling hot THREADS SECONDS   each thread seals one 64 KiB buffer
 *                                      over and over (as `openssl speed`)
 *   aead-ceiling memory THREADS MIB    the threads seal a MIB-sized buffer in
 *                                      64 KiB chunks into small reused outputs
 *   aead-ceiling open THREADS MIB      the same, opening (tag check and
 *                                      decryption) MIB of sealed chunks
 *   aead-ceiling file THREADS PATH     seals a file mapped whole and populated
 *                                      up front (timed): no copy, but the whole
 *                                      file is resident in the process
 *   aead-ceiling pread THREADS PATH    seals a file, each thread reading its
 *                                      jobs with pread into its own buffer:
 *                                      bounded memory, one kernel copy
 *   aead-ceiling window THREADS PATH   seals a file mapped whole, each job
 *                                      populated before (MADV_POPULATE_READ)
 *                                      and dropped after (MADV_DONTNEED):
 *                                      bounded memory, no copy
 *
 * Outside `hot`, the work is cut into jobs of 8 chunks (512 KiB), which the
 * threads take in turn, as doormat's payload engine does. Prints "<MiB/s>" of
 * plaintext, all threads together, wall clock from before the file is opened
 * or mapped to the last thread's end. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aead_bench.h"

#define JOB_CHUNKS 8
#define JOB (JOB_CHUNKS * CHUNK)

enum mode { HOT, MEMORY, OPEN, FILE_MAPPED, FILE_PREAD, FILE_WINDOW };

static enum mode mode;
static const unsigned char *src; /* MEMORY, FILE_MAPPED, FILE_WINDOW: plaintext; OPEN: sealed */
static size_t src_len;           /* plaintext bytes, a multiple of CHUNK */
static int fd = -1;
static double seconds;
static EVP_CIPHER *cipher;
static atomic_size_t next_job;
static const unsigned char key[32] = {1};

typedef struct worker {
    unsigned long long bytes;
    int ok;
} worker;

/* Seals (enc) or opens one chunk: CHUNK bytes, the sealed side followed by
 * its 16-byte tag. */
static int chunk(EVP_CIPHER_CTX *c, unsigned long long counter, const unsigned char *in,
                 unsigned char *out, int enc) {
    unsigned char nonce[12];
    nonce_of(counter, nonce);
    unsigned char *tag = enc ? out + CHUNK : (unsigned char *)(in + CHUNK);
    int got = 0, fin = 0;
    return EVP_CipherInit_ex2(c, NULL, NULL, nonce, enc, NULL) == 1 &&
           (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1) &&
           EVP_CipherUpdate(c, out, &got, in, CHUNK) == 1 &&
           EVP_CipherFinal_ex(c, out + CHUNK, &fin) == 1 &&
           (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
}

static void *run(void *arg) {
    worker *w = arg;
    unsigned char *in = malloc(JOB), *out = malloc((size_t)JOB_CHUNKS * SEALED);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    w->ok = in && out && c && EVP_CipherInit_ex2(c, cipher, key, NULL, mode != OPEN, NULL) == 1;
    if (w->ok && mode == HOT) {
        memset(in, 7, CHUNK);
        double end = now() + seconds;
        for (unsigned long long i = 0; w->ok && now() < end; i++) {
            for (int k = 0; k < 16 && w->ok; k++) {
                w->ok = chunk(c, i * 16 + (unsigned)k, in, out, 1);
                w->bytes += CHUNK;
            }
        }
    }
    size_t jobs = src_len / JOB + (src_len % JOB != 0);
    for (size_t j; w->ok && mode != HOT && (j = atomic_fetch_add(&next_job, 1)) < jobs;) {
        size_t off = j * JOB, len = src_len - off < JOB ? src_len - off : JOB;
        const unsigned char *p = src + (mode == OPEN ? 0 : off);
        if (mode == FILE_PREAD) {
            w->ok = pread(fd, in, len, (off_t)off) == (ssize_t)len;
            p = in;
        } else if (mode == FILE_WINDOW) {
            w->ok = madvise((void *)p, len, MADV_POPULATE_READ) == 0;
        }
        for (size_t k = 0; w->ok && k < len / CHUNK; k++) {
            unsigned long long counter = off / CHUNK + k;
            w->ok = mode == OPEN ? chunk(c, counter, src + counter * SEALED, out + k * CHUNK, 0)
                                 : chunk(c, counter, p + k * CHUNK, out + k * SEALED, 1);
        }
        if (mode == FILE_WINDOW)
            (void)madvise((void *)p, len, MADV_DONTNEED);
        w->bytes += len;
    }
    EVP_CIPHER_CTX_free(c);
    free(in);
    free(out);
    return NULL;
}

/* The OPEN source: MIB of plaintext sealed chunk by chunk (not timed). */
static unsigned char *sealed_buffer(size_t len) {
    unsigned char *pt = malloc(CHUNK), *ct = malloc(len / CHUNK * SEALED);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = pt && ct && c && EVP_CipherInit_ex2(c, cipher, key, NULL, 1, NULL) == 1;
    if (pt != NULL)
        memset(pt, 7, CHUNK);
    for (size_t i = 0; ok && i < len / CHUNK; i++)
        ok = chunk(c, i, pt, ct + i * SEALED, 1);
    EVP_CIPHER_CTX_free(c);
    free(pt);
    if (!ok) {
        free(ct);
        return NULL;
    }
    return ct;
}

static int usage(void) {
    fprintf(stderr, "usage: aead-ceiling hot THREADS SECONDS | memory|open THREADS MIB |"
                    " file|pread|window THREADS PATH\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 4)
        return usage();
    static const struct {
        const char *name;
        enum mode mode;
    } modes[] = {{"hot", HOT},          {"memory", MEMORY},    {"open", OPEN},
                 {"file", FILE_MAPPED}, {"pread", FILE_PREAD}, {"window", FILE_WINDOW}};
    size_t m = 0;
    while (m < sizeof modes / sizeof modes[0] && strcmp(argv[1], modes[m].name) != 0)
        m++;
    if (m == sizeof modes / sizeof modes[0])
        return usage();
    mode = modes[m].mode;
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
    if (mode == HOT) {
        seconds = atof(argv[3]);
    } else if (mode == MEMORY || mode == OPEN) {
        src_len = (size_t)atol(argv[3]) << 20;
        unsigned char *b = src_len == 0 ? NULL : mode == OPEN ? sealed_buffer(src_len) : malloc(src_len);
        if (b == NULL) {
            fprintf(stderr, "aead-ceiling: out of memory\n");
            return 1;
        }
        if (mode == MEMORY)
            memset(b, 7, src_len);
        src = b;
    }
    worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    memset(w, 0, sizeof w);
    double t0 = now();
    if (mode == FILE_MAPPED || mode == FILE_PREAD || mode == FILE_WINDOW) {
        struct stat st;
        fd = open(argv[3], O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < CHUNK) {
            fprintf(stderr, "aead-ceiling: can't read %s\n", argv[3]);
            return 1;
        }
        src_len = (size_t)st.st_size / CHUNK * CHUNK;
        if (mode != FILE_PREAD) {
            void *p = mmap(NULL, src_len, PROT_READ,
                           MAP_SHARED | (mode == FILE_MAPPED ? MAP_POPULATE : 0), fd, 0);
            if (p == MAP_FAILED) {
                fprintf(stderr, "aead-ceiling: can't map %s\n", argv[3]);
                return 1;
            }
            src = p;
        }
    }
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, run, &w[t]) != 0) {
            fprintf(stderr, "aead-ceiling: no thread\n");
            return 1;
        }
    }
    unsigned long long bytes = 0;
    int ok = 1;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        bytes += w[t].bytes;
        ok &= w[t].ok;
    }
    double wall = now() - t0;
    if (!ok) {
        fprintf(stderr, "aead-ceiling: %s failed\n", mode == OPEN ? "opening" : "sealing");
        return 1;
    }
    printf("%.1f\n", (double)bytes / wall / 1048576.0);
    return 0;
}
