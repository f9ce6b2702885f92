/* The STREAM payload: 64 KiB chunks, ChaCha20-Poly1305, nonce = 11-byte
 * big-endian counter || last-chunk flag (c2sp.org/age, "Payload").
 *
 * The payload is cut into jobs of a few chunks. Every participant (the
 * calling thread and, for inputs bigger than one job, a pool of workers) takes
 * the next job, reads its input, seals or opens its chunks and marks it done;
 * whoever finishes the job next in line writes it, and the jobs after it that
 * are done, with one write per job. So reading, sealing and writing overlap
 * across threads, the output stays in order, and memory is fixed by the
 * number of job slots (participants + 2), never by the file's size.
 *
 * Input comes in place from a memory source; from a regular file, by pread(2)
 * at each job's own offset into the reading thread's buffer (so the workers
 * read in parallel); or in order from any other source. Each job's input ends
 * one byte past its chunks (the look-ahead), which tells whether its last
 * chunk ends the stream.
 *
 * A file is never mapped: a private copy cannot change under the tag check
 * (opening) and cannot fault when another process cuts the file short (a
 * mapping would need a process-wide SIGBUS handler, which a library must not
 * install). docs/benchmarks.md, "Input in place", has the figures.
 *
 * When opening, a job's plaintext is written only up to its first chunk that
 * failed, and no job after a failed one is ever written: nothing after the
 * first bad chunk is released, whatever the number of threads. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <sodium.h>

#include "internal.h"
#include "stream.h"

#define CHUNK DM_CHUNK_SIZE
#define CT_CHUNK (DM_CHUNK_SIZE + DM_TAG_LEN)
#define PAYLOAD_INFO "payload"
/* Chunks per job, and the size below which no worker starts: stream.h. */
#define MAX_THREADS 64
/* Spare slots beyond one per participant, so a thread never waits for the
 * writer to free a slot while the others are busy. */
#define SPARE_SLOTS 2

enum chunk_status {
    CHUNK_OK,        /* authentic, with the flag its position implies */
    CHUNK_OTHER_END, /* authentic, but its final flag contradicts its position */
    CHUNK_BAD_TAG,
    CHUNK_SHORT,     /* shorter than a tag */
    CHUNK_EMPTY_END, /* empty final chunk after other chunks */
    CHUNK_ERROR      /* the library failed */
};

enum job_state { JOB_FREE, JOB_BUSY, JOB_DONE };

typedef enum src_kind {
    SRC_MEM,   /* a dm_source_mem buffer, used in place */
    SRC_FILE,  /* a regular file: pread at each job's offset */
    SRC_STREAM /* anything else: read in order */
} src_kind;

/* One job slot: a job's input (unless in place), its output and chunk results. */
typedef struct job {
    uint64_t index;
    enum job_state state;
    uint8_t *out;
    size_t out_cap;
    size_t out_high; /* bytes ever used, to wipe */
    const uint8_t *in;
    size_t have;  /* input bytes of this job's chunks */
    int final;    /* this job ends the stream */
    int read_err; /* the source failed */
    int read_errno;
    size_t n; /* chunks */
    size_t last_len;
    uint8_t status[DM_STREAM_JOB_CHUNKS_MAX];
} job;

typedef struct engine engine;

typedef struct worker {
    engine *e;
    unsigned index;
    pthread_t tid;
} worker;

struct engine {
    int sealing;
    dm_aead_backend backend;          /* resolved: OPENSSL or SODIUM */
    const uint8_t *key;               /* payload key, in the caller's guarded block */
    EVP_CIPHER_CTX *ctx[MAX_THREADS]; /* one per participant, keyed once */
    unsigned participants;            /* wanted: caller + workers */
    size_t in_unit, out_unit;         /* CHUNK and CT_CHUNK, one way or the other */
    size_t job_chunks;                /* DM_STREAM_JOB_CHUNKS_SEAL or DM_STREAM_JOB_CHUNKS_OPEN */
    size_t job_in;                    /* job_chunks * in_unit */

    src_kind kind;
    const uint8_t *mem; /* SRC_MEM: the payload */
    size_t mem_len;
    int fd;            /* SRC_FILE */
    off_t file_base;   /* offset of the payload's first chunk */
    int64_t known_len; /* payload bytes when known up front, else -1 */
    dm_source src;     /* SRC_STREAM */
    uint8_t carry;     /* SRC_STREAM: the look-ahead byte of the previous job */
    int have_carry, src_done;
    dm_sink out;

    job *jobs;
    unsigned n_jobs;
    /* Each participant's input buffer (FILE read by pread, STREAM): the
     * thread that reads a job also seals or opens it, so its input never
     * leaves that thread, and the buffer stays in that core's cache. */
    uint8_t *inbuf[MAX_THREADS];
    size_t in_high[MAX_THREADS];

    /* Under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sync_ready;
    uint64_t next_job, next_write;
    int final_known;
    uint64_t final_job;
    int stop, writing, err;
    int pool_open;        /* every worker is started: they may take jobs */
    char err_detail[256]; /* dm_err_detail is per thread: the writer's, for the caller */

    worker workers[MAX_THREADS];
    unsigned n_workers;
};

/* OpenSSL's libcrypto is loaded the first time a payload needs it, not when
 * the program starts: mapping and relocating it costs every process more than
 * all the cryptography of a 1 KiB file, which libsodium does (DM_AEAD_AUTO;
 * docs/benchmarks.md, "Start-up"). The build links with
 * --as-needed, so nothing else pulls it in. The prototypes still come from
 * OpenSSL's headers (__typeof__), so every call is type-checked. */
#define DM_STR_(x) #x
#define DM_STR(x) DM_STR_(x)
#define LIBCRYPTO_SONAME "libcrypto.so." DM_STR(OPENSSL_SHLIB_VERSION)

static struct {
    __typeof__(&EVP_CIPHER_fetch) cipher_fetch;
    __typeof__(&EVP_CIPHER_CTX_new) ctx_new;
    __typeof__(&EVP_CIPHER_CTX_free) ctx_free;
    __typeof__(&EVP_CIPHER_CTX_ctrl) ctx_ctrl;
    __typeof__(&EVP_CipherInit_ex2) cipher_init;
    __typeof__(&EVP_EncryptInit_ex2) encrypt_init;
    __typeof__(&EVP_EncryptUpdate) encrypt_update;
    __typeof__(&EVP_EncryptFinal_ex) encrypt_final;
    __typeof__(&EVP_DecryptInit_ex2) decrypt_init;
    __typeof__(&EVP_DecryptUpdate) decrypt_update;
    __typeof__(&EVP_DecryptFinal_ex) decrypt_final;
    __typeof__(&OpenSSL_version) version;
    EVP_CIPHER *chacha;
    char why[160]; /* why it could not be loaded */
} ossl;
static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;

/* POSIX guarantees that dlsym's object pointer converts to a function pointer. */
#define OSSL_SYM(lib, field, name)                                                                 \
    do {                                                                                           \
        void *sym_ = dlsym(lib, name);                                                             \
        if (sym_ == NULL)                                                                          \
            goto missing;                                                                          \
        memcpy(&ossl.field, &sym_, sizeof sym_);                                                   \
    } while (0)

static void ossl_load(void) {
    void *lib = dlopen(LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *why = dlerror();
        snprintf(ossl.why, sizeof ossl.why, "%s", why ? why : LIBCRYPTO_SONAME " not found");
        return;
    }
    OSSL_SYM(lib, cipher_fetch, "EVP_CIPHER_fetch");
    OSSL_SYM(lib, ctx_new, "EVP_CIPHER_CTX_new");
    OSSL_SYM(lib, ctx_free, "EVP_CIPHER_CTX_free");
    OSSL_SYM(lib, ctx_ctrl, "EVP_CIPHER_CTX_ctrl");
    OSSL_SYM(lib, cipher_init, "EVP_CipherInit_ex2");
    OSSL_SYM(lib, encrypt_init, "EVP_EncryptInit_ex2");
    OSSL_SYM(lib, encrypt_update, "EVP_EncryptUpdate");
    OSSL_SYM(lib, encrypt_final, "EVP_EncryptFinal_ex");
    OSSL_SYM(lib, decrypt_init, "EVP_DecryptInit_ex2");
    OSSL_SYM(lib, decrypt_update, "EVP_DecryptUpdate");
    OSSL_SYM(lib, decrypt_final, "EVP_DecryptFinal_ex");
    OSSL_SYM(lib, version, "OpenSSL_version");
    ossl.chacha = ossl.cipher_fetch(NULL, "ChaCha20-Poly1305", NULL);
    if (ossl.chacha == NULL)
        snprintf(ossl.why, sizeof ossl.why, "OpenSSL lacks ChaCha20-Poly1305");
    return;
missing:
    snprintf(ossl.why, sizeof ossl.why, "%s lacks an EVP function", LIBCRYPTO_SONAME);
    ossl.version = NULL;
}

/* 1 when OpenSSL's ChaCha20-Poly1305 is ready to use. */
static int ossl_ready(void) {
    return pthread_once(&ossl_once, ossl_load) == 0 && ossl.chacha != NULL;
}

const char *dm_openssl_version(void) {
    if (pthread_once(&ossl_once, ossl_load) != 0 || ossl.version == NULL)
        return NULL;
    return ossl.version(OPENSSL_VERSION);
}

static void make_nonce(uint8_t nonce[12], uint64_t counter, int final) {
    nonce[0] = nonce[1] = nonce[2] = 0;
    for (int b = 0; b < 8; b++)
        nonce[10 - b] = (uint8_t)(counter >> (8 * b));
    nonce[11] = final ? 1 : 0;
}

static int ctx_new(engine *e, unsigned t) {
    if (e->backend == DM_AEAD_SODIUM || e->ctx[t] != NULL)
        return DM_OK;
    e->ctx[t] = ossl.ctx_new();
    if (e->ctx[t] == NULL)
        return dm_fail(DM_ERR_NOMEM, "cipher context");
    if (ossl.cipher_init(e->ctx[t], ossl.chacha, e->key, NULL, e->sealing, NULL) != 1)
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 key setup failed");
    return DM_OK;
}

/* DM_AEAD_AUTO: a payload that fits in one job is sealed or opened by
 * libsodium, since OpenSSL's first use (its provider tables) costs more CPU
 * than such a payload's cryptography; anything bigger by OpenSSL, faster per
 * byte (docs/benchmarks.md, "Start-up"). The bytes are the same. */
static int backend_resolve(engine *e, int one_job) {
    /* Without a usable libcrypto, auto falls back on libsodium. */
    if (e->backend == DM_AEAD_AUTO)
        e->backend = !one_job && ossl_ready() ? DM_AEAD_OPENSSL : DM_AEAD_SODIUM;
    if (e->backend == DM_AEAD_OPENSSL && !ossl_ready())
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL's ChaCha20-Poly1305 is not available: %s",
                       ossl.why);
    return ctx_new(e, 0);
}

/* Returns 1 on success, 0 on a library failure. */
static int seal_one(engine *e, unsigned t, const uint8_t nonce[12], const uint8_t *in, size_t len,
                    uint8_t *out) {
    if (e->backend == DM_AEAD_SODIUM)
        return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                   out, out + len, NULL, in, len, NULL, 0, NULL, nonce, e->key) == 0;
    EVP_CIPHER_CTX *c = e->ctx[t];
    int got = 0, fin = 0;
    if (ossl.encrypt_init(c, NULL, NULL, nonce, NULL) != 1)
        return 0;
    if (len > 0 && (ossl.encrypt_update(c, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return 0;
    return ossl.encrypt_final(c, out + len, &fin) == 1 && fin == 0 &&
           ossl.ctx_ctrl(c, EVP_CTRL_AEAD_GET_TAG, DM_TAG_LEN, out + len) == 1;
}

/* Returns 1 when authentic, 0 when not, -1 on a library failure. The tag is
 * compared in constant time by both libraries. */
static int open_one(engine *e, unsigned t, const uint8_t nonce[12], const uint8_t *in,
                    size_t ct_len, uint8_t *out) {
    size_t len = ct_len - DM_TAG_LEN;
    const uint8_t *tag = in + len;
    if (e->backend == DM_AEAD_SODIUM)
        return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, tag, NULL, 0,
                                                                  nonce, e->key) == 0;
    EVP_CIPHER_CTX *c = e->ctx[t];
    int got = 0, fin = 0;
    if (ossl.decrypt_init(c, NULL, NULL, nonce, NULL) != 1 ||
        ossl.ctx_ctrl(c, EVP_CTRL_AEAD_SET_TAG, DM_TAG_LEN, (void *)tag) != 1)
        return -1;
    if (len > 0 && (ossl.decrypt_update(c, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return -1;
    return ossl.decrypt_final(c, out + len, &fin) == 1 && fin == 0;
}

static void process(engine *e, unsigned t, job *jb, size_t i) {
    uint64_t counter = jb->index * e->job_chunks + i;
    int last = i == jb->n - 1;
    int final = last && jb->final;
    uint8_t nonce[12];

    if (e->sealing) {
        size_t len = last ? jb->last_len : CHUNK;
        make_nonce(nonce, counter, final);
        jb->status[i] = seal_one(e, t, nonce, jb->in + i * CHUNK, len, jb->out + i * CT_CHUNK)
                            ? CHUNK_OK
                            : CHUNK_ERROR;
        return;
    }

    size_t len = last ? jb->last_len : CT_CHUNK;
    const uint8_t *in = jb->in + i * CT_CHUNK;
    uint8_t *out = jb->out + i * CHUNK;
    if (len < DM_TAG_LEN) {
        jb->status[i] = CHUNK_SHORT;
        return;
    }
    if (final && len == DM_TAG_LEN && counter > 0) {
        jb->status[i] = CHUNK_EMPTY_END;
        return;
    }
    make_nonce(nonce, counter, final);
    int r = open_one(e, t, nonce, in, len, out);
    /* Only a full chunk can be either kind; trying the other flag tells a
     * truncated or extended stream from a forged chunk, and releases what
     * age itself releases in those cases. */
    enum chunk_status ok = CHUNK_OK;
    if (r == 0 && len == CT_CHUNK) {
        make_nonce(nonce, counter, !final);
        r = open_one(e, t, nonce, in, len, out);
        ok = CHUNK_OTHER_END;
    }
    jb->status[i] = r == 1 ? ok : r == 0 ? CHUNK_BAD_TAG : CHUNK_ERROR;
    if (r != 1)
        sodium_memzero(out, len - DM_TAG_LEN);
}

static int chunk_failure(enum chunk_status st, uint64_t counter, int final) {
    switch (st) {
    case CHUNK_OTHER_END:
        return final ? dm_fail(DM_ERR_PAYLOAD, "file is truncated: chunk %llu is not the last one",
                               (unsigned long long)counter)
                     : dm_fail(DM_ERR_PAYLOAD, "data after the final chunk %llu",
                               (unsigned long long)counter);
    case CHUNK_SHORT:
        return dm_fail(DM_ERR_PAYLOAD, "chunk %llu is shorter than its tag",
                       (unsigned long long)counter);
    case CHUNK_EMPTY_END:
        return dm_fail(DM_ERR_PAYLOAD, "final chunk %llu is empty", (unsigned long long)counter);
    case CHUNK_ERROR:
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 open failed");
    case CHUNK_BAD_TAG:
    default:
        return dm_fail(DM_ERR_PAYLOAD, "chunk %llu failed authentication",
                       (unsigned long long)counter);
    }
}

/* ------------------------------------------------------------ reading */

/* Reads until the buffer is full or the source ends. */
static int fill(dm_source in, uint8_t *buf, size_t cap, size_t *have, int *eof) {
    while (*have < cap && !*eof) {
        ssize_t got = in.read(in.ctx, buf + *have, cap - *have);
        if (got < 0)
            return dm_fail(DM_ERR_IO, "read failed");
        if (got == 0)
            *eof = 1;
        else
            *have += (size_t)got;
    }
    return DM_OK;
}

static ssize_t pread_full(int fd, uint8_t *buf, size_t n, off_t off) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, buf + done, n - done, off + (off_t)done);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

/* Allocates a slot's input buffer the first time it needs one. */
static int job_inbuf(engine *e, unsigned t) {
    if (e->inbuf[t] == NULL && (e->inbuf[t] = malloc(e->job_in + 1)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "payload buffer");
    return DM_OK;
}

/* Reads job jb->index's input: `got` bytes of the job_in + 1 asked for. With
 * SRC_STREAM the caller holds mu, so jobs read in order. Sets read_err when
 * the source failed. */
static void job_read(engine *e, unsigned t, job *jb) {
    size_t want = e->job_in + 1, got = 0;
    uint64_t off = jb->index * (uint64_t)e->job_in;
    jb->read_err = 0;
    jb->read_errno = 0;
    switch (e->kind) {
    case SRC_MEM:
        got = off < e->mem_len ? e->mem_len - (size_t)off : 0;
        if (got > want)
            got = want;
        jb->in = e->mem + (off < e->mem_len ? (size_t)off : e->mem_len);
        break;
    case SRC_FILE: {
        if (job_inbuf(e, t) != DM_OK) {
            jb->read_err = DM_ERR_NOMEM;
            break;
        }
        ssize_t r = pread_full(e->fd, e->inbuf[t], want, e->file_base + (off_t)off);
        if (r < 0) {
            jb->read_err = DM_ERR_IO;
            jb->read_errno = errno;
            break;
        }
        got = (size_t)r;
        jb->in = e->inbuf[t];
        break;
    }
    case SRC_STREAM:
    default: {
        if (job_inbuf(e, t) != DM_OK) {
            jb->read_err = DM_ERR_NOMEM;
            break;
        }
        if (e->have_carry)
            e->inbuf[t][got++] = e->carry;
        int eof = e->src_done;
        if (fill(e->src, e->inbuf[t], want, &got, &eof) != DM_OK) {
            jb->read_err = DM_ERR_IO;
            e->src_done = 1;
            break;
        }
        e->src_done = eof;
        e->have_carry = got == want;
        if (e->have_carry)
            e->carry = e->inbuf[t][e->job_in];
        jb->in = e->inbuf[t];
        break;
    }
    }
    if (jb->read_err) {
        jb->have = 0;
        jb->final = 1;
        return;
    }
    jb->final = got < want;
    jb->have = jb->final ? got : e->job_in;
    if (e->inbuf[t] != NULL && jb->in == e->inbuf[t] && got > e->in_high[t])
        e->in_high[t] = got;
    /* Never NULL, even with nothing to read: an empty chunk is still sealed
     * from a pointer, and NULL + 0 is undefined behaviour. */
    static const uint8_t nothing[1];
    if (got == 0)
        jb->in = nothing;
}

/* Chunks of a job read in full; 0 for a job past the end. */
static size_t job_layout(engine *e, job *jb) {
    if (!jb->final) {
        jb->last_len = e->in_unit;
        return jb->n = e->job_chunks;
    }
    if (jb->have == 0) {
        /* Only the very first job may be empty: a sealed empty plaintext is
         * one empty chunk. Anything else is past the end of the input. */
        if (jb->index == 0 && e->sealing) {
            jb->last_len = 0;
            return jb->n = 1;
        }
        jb->last_len = 0;
        return jb->n = 0;
    }
    jb->n = (jb->have + e->in_unit - 1) / e->in_unit;
    jb->last_len = jb->have - (jb->n - 1) * e->in_unit;
    return jb->n;
}

static void job_chunks(engine *e, unsigned t, job *jb) {
    for (size_t i = 0; i < jb->n; i++)
        process(e, t, jb, i);
}

/* Seals or opens every chunk of the job. */
static void job_run(engine *e, unsigned t, job *jb) {
    if (jb->read_err || job_layout(e, jb) == 0)
        return;
    size_t need = jb->n * e->out_unit;
    if (jb->out_cap < need) {
        /* Sized by the first job in the slot: a small file maps no big buffer. */
        size_t cap = jb->final && jb->index == 0 ? need : e->job_chunks * e->out_unit;
        uint8_t *grown = realloc(jb->out, cap);
        if (grown == NULL) {
            jb->read_err = DM_ERR_NOMEM;
            return;
        }
        jb->out = grown;
        jb->out_cap = cap;
    }
    if (need > jb->out_high)
        jb->out_high = need;
    job_chunks(e, t, jb);
}

/* ------------------------------------------------------------ writing */

/* Writes what the job may release: all of it when sealing; when opening, the
 * chunks before the first one that failed (and a chunk that is authentic but
 * in the wrong place, as age does). Sets *done when the stream is over. */
static int job_emit(engine *e, job *jb, int *done) {
    *done = 1;
    if (jb->read_err == DM_ERR_NOMEM)
        return dm_fail(DM_ERR_NOMEM, "payload buffer");
    if (jb->read_err)
        return jb->read_errno
                   ? dm_fail(DM_ERR_IO, "reading the input: %s", strerror(jb->read_errno))
                   : dm_fail(DM_ERR_IO, "read failed");
    if (jb->n == 0) {
        if (!e->sealing && jb->index == 0)
            return dm_fail(DM_ERR_PAYLOAD, "payload has no chunks");
        /* A job past the end that was never preceded by the final one: the
         * input ended between two reads (a file cut short meanwhile). */
        return dm_fail(DM_ERR_IO, "input ended while it was being read");
    }
    if (e->sealing) {
        for (size_t i = 0; i < jb->n; i++)
            if (jb->status[i] != CHUNK_OK)
                return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 seal failed");
        size_t len = (jb->n - 1) * CT_CHUNK + jb->last_len + DM_TAG_LEN;
        if (e->out.write(e->out.ctx, jb->out, len) != 0)
            return dm_fail(DM_ERR_IO, "writing the output: %s", strerror(errno));
        *done = jb->final;
        return DM_OK;
    }
    int err = DM_OK;
    size_t released = 0;
    for (size_t i = 0; i < jb->n; i++) {
        enum chunk_status st = jb->status[i];
        if (st == CHUNK_OK || st == CHUNK_OTHER_END)
            released++;
        if (st != CHUNK_OK) {
            err = chunk_failure(st, jb->index * e->job_chunks + i, jb->final && i == jb->n - 1);
            break;
        }
    }
    size_t bytes = released * CHUNK;
    if (released == jb->n && jb->final)
        bytes = (jb->n - 1) * CHUNK + jb->last_len - DM_TAG_LEN;
    if (bytes > 0 && e->out.write(e->out.ctx, jb->out, bytes) != 0 && err == DM_OK)
        err = dm_fail(DM_ERR_IO, "writing the output: %s", strerror(errno));
    *done = err != DM_OK || jb->final;
    return err;
}

/* Writes, in order, every job that is done and next in line. Called with mu
 * held; only one thread writes at a time, without the lock. */
static void drain(engine *e) {
    while (!e->writing && !e->stop) {
        job *jb = &e->jobs[e->next_write % e->n_jobs];
        if (jb->state != JOB_DONE || jb->index != e->next_write)
            return;
        e->writing = 1;
        pthread_mutex_unlock(&e->mu);
        int done = 0;
        int err = job_emit(e, jb, &done);
        pthread_mutex_lock(&e->mu);
        e->writing = 0;
        jb->state = JOB_FREE;
        e->next_write++;
        if (err != DM_OK) {
            e->err = err;
            snprintf(e->err_detail, sizeof e->err_detail, "%s", dm_err_detail());
        }
        if (done)
            e->stop = 1;
        pthread_cond_broadcast(&e->cv);
    }
}

/* ------------------------------------------------------------ the jobs */

static int no_more_jobs(const engine *e) {
    return e->stop || (e->final_known && e->next_job > e->final_job);
}

/* Takes jobs until there are none left (or max_jobs were taken). */
static void work(engine *e, unsigned t, uint64_t max_jobs) {
    pthread_mutex_lock(&e->mu);
    for (uint64_t taken = 0; taken < max_jobs && !no_more_jobs(e);) {
        job *jb = &e->jobs[e->next_job % e->n_jobs];
        if (jb->state != JOB_FREE) {
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        jb->index = e->next_job++;
        jb->state = JOB_BUSY;
        taken++;
        if (e->kind == SRC_STREAM)
            job_read(e, t, jb); /* in order, under the lock */
        pthread_mutex_unlock(&e->mu);
        if (e->kind != SRC_STREAM)
            job_read(e, t, jb);
        if (jb->final) {
            pthread_mutex_lock(&e->mu);
            if (!e->final_known || jb->index < e->final_job) {
                e->final_known = 1;
                e->final_job = jb->index;
            }
            pthread_cond_broadcast(&e->cv);
            pthread_mutex_unlock(&e->mu);
        }
        job_run(e, t, jb);
        pthread_mutex_lock(&e->mu);
        jb->state = JOB_DONE;
        drain(e);
    }
    /* Stay until the last job is written (or the run failed): the writer
     * may be anyone, and the pool keeps its size for the whole run. */
    while (!e->stop)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    engine *e = w->e;
    /* Start together: a small file must not be done before the pool exists. */
    pthread_mutex_lock(&e->mu);
    while (!e->pool_open && !e->stop)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    work(e, w->index, UINT64_MAX);
    return NULL;
}

/* Starts up to participants - 1 workers; fewer (even none) is still correct. */
static void pool_start(engine *e) {
    for (unsigned t = 1; t < e->participants; t++) {
        if (ctx_new(e, t) != DM_OK)
            break;
        worker *w = &e->workers[e->n_workers];
        w->e = e;
        w->index = t;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0)
            break;
        e->n_workers++;
    }
    pthread_mutex_lock(&e->mu);
    e->pool_open = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static void pool_join(engine *e) {
    for (unsigned i = 0; i < e->n_workers; i++)
        pthread_join(e->workers[i].tid, NULL);
    e->n_workers = 0;
}

static unsigned resolve_threads(unsigned threads) {
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (unsigned)online : 1;
    }
    return threads > MAX_THREADS ? MAX_THREADS : threads;
}

/* ------------------------------------------------------------ the engine */

static int engine_init(engine *e, int sealing, dm_aead_backend backend,
                       uint8_t secrets[DM_STREAM_SECRETS_LEN], const uint8_t nonce[DM_NONCE_LEN],
                       unsigned threads, dm_sink out) {
    memset(e, 0, sizeof *e);
    e->sealing = sealing;
    e->fd = -1;
    e->known_len = -1;
    e->out = out;
    if (backend != DM_AEAD_OPENSSL && backend != DM_AEAD_SODIUM && backend != DM_AEAD_AUTO)
        return dm_fail(DM_ERR_USAGE, "unknown AEAD backend %d", (int)backend);
    e->backend = backend;
    e->participants = resolve_threads(threads);
    e->in_unit = sealing ? CHUNK : CT_CHUNK;
    e->out_unit = sealing ? CT_CHUNK : CHUNK;
    /* Until the source is known (engine_source): the larger jobs. */
    e->job_chunks = DM_STREAM_JOB_CHUNKS_SEAL;
    e->job_in = e->job_chunks * e->in_unit;
    /* The payload key lives in the caller's guarded block, after the file key:
     * one guarded allocation per file rather than one per key. */
    uint8_t *key = secrets + DM_FILE_KEY_LEN;
    e->key = key;
    int err = dm_hkdf_sha256(secrets, DM_FILE_KEY_LEN, nonce, DM_NONCE_LEN, PAYLOAD_INFO,
                             sizeof PAYLOAD_INFO - 1, key, 32);
    if (err != DM_OK)
        return err;
    if (pthread_mutex_init(&e->mu, NULL) != 0)
        return dm_fail(DM_ERR_NOMEM, "payload lock");
    if (pthread_cond_init(&e->cv, NULL) != 0) {
        pthread_mutex_destroy(&e->mu);
        return dm_fail(DM_ERR_NOMEM, "payload condition");
    }
    e->sync_ready = 1;
    return DM_OK;
}

static void engine_free(engine *e, uint8_t secrets[DM_STREAM_SECRETS_LEN]) {
    pool_join(e);
    for (unsigned t = 0; t < MAX_THREADS; t++)
        if (e->ctx[t] != NULL)
            ossl.ctx_free(e->ctx[t]);
    for (unsigned i = 0; i < e->n_jobs; i++) {
        job *jb = &e->jobs[i];
        /* Plaintext: the output when opening. */
        if (jb->out != NULL && !e->sealing)
            sodium_memzero(jb->out, jb->out_high);
        free(jb->out);
    }
    free(e->jobs);
    for (unsigned t = 0; t < MAX_THREADS; t++) {
        /* Plaintext: the input when sealing. */
        if (e->inbuf[t] != NULL && e->sealing)
            sodium_memzero(e->inbuf[t], e->in_high[t]);
        free(e->inbuf[t]);
    }
    if (e->sync_ready) {
        pthread_cond_destroy(&e->cv);
        pthread_mutex_destroy(&e->mu);
    }
    sodium_memzero(secrets + DM_FILE_KEY_LEN, 32);
}

/* Where the payload's first chunk comes from: src itself when it is memory
 * (with nothing read ahead) or a regular file (`ahead` bytes before its
 * offset belong to the payload), else `stream`, read in order. */
static void engine_source(engine *e, dm_source src, size_t ahead, dm_source stream) {
    dm_membuf *m = dm_source_mem_of(src);
    if (m != NULL && ahead == 0) {
        e->kind = SRC_MEM;
        e->mem = m->pos < m->len ? m->data + m->pos : m->data + m->len;
        e->mem_len = m->pos < m->len ? m->len - m->pos : 0;
        e->known_len = (int64_t)e->mem_len;
        return;
    }
    int *fdp = dm_source_fd_of(src);
    struct stat st;
    if (fdp != NULL && fstat(*fdp, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t cur = lseek(*fdp, 0, SEEK_CUR);
        if (cur >= 0 && (uint64_t)cur >= ahead) {
            e->kind = SRC_FILE;
            e->fd = *fdp;
            if (!e->sealing) {
                e->job_chunks = DM_STREAM_JOB_CHUNKS_OPEN;
                e->job_in = e->job_chunks * e->in_unit;
            }
            e->file_base = cur - (off_t)ahead;
            e->known_len = st.st_size > e->file_base ? (int64_t)(st.st_size - e->file_base) : 0;
            return;
        }
    }
    e->kind = SRC_STREAM;
    e->src = stream;
}

/* Leaves a memory or file source just after what the payload consumed (all
 * of it, when it succeeded), as a sequential reader would have. */
static void engine_source_done(engine *e, dm_source src) {
    uint64_t consumed = e->next_write * (uint64_t)e->job_in;
    if (e->kind == SRC_MEM) {
        dm_membuf *m = dm_source_mem_of(src);
        size_t used = consumed < e->mem_len ? (size_t)consumed : e->mem_len;
        m->pos = (size_t)(e->mem - m->data) + used;
    } else if (e->kind == SRC_FILE) {
        int64_t used = e->known_len >= 0 && (int64_t)consumed > e->known_len ? e->known_len
                                                                             : (int64_t)consumed;
        (void)lseek(e->fd, e->file_base + (off_t)used, SEEK_SET);
    }
}

static int stream_run(engine *e) {
    /* DM_AEAD_AUTO's line: 8 chunks (512 KiB of plaintext), whatever the job size. */
    int one_job =
        e->known_len >= 0 && (uint64_t)e->known_len <= DM_STREAM_JOB_CHUNKS_SEAL * e->in_unit;
    int few_jobs = e->known_len >= 0 && (uint64_t)e->known_len <= DM_STREAM_POOL_MIN_BYTES;
    e->n_jobs = e->participants > 1 && !few_jobs ? e->participants + SPARE_SLOTS : 1;
    if ((e->jobs = calloc(e->n_jobs, sizeof *e->jobs)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "payload slots");
    int err = DM_OK;
    if (e->known_len >= 0) {
        if ((err = backend_resolve(e, one_job)) != DM_OK)
            return err;
        if (e->n_jobs > 1)
            pool_start(e);
    } else {
        /* Unknown length: the first job alone tells whether the input is small
         * (then no thread is started and OpenSSL is never touched). */
        pthread_mutex_lock(&e->mu);
        job *jb = &e->jobs[0];
        jb->index = e->next_job++;
        jb->state = JOB_BUSY;
        job_read(e, 0, jb);
        if (jb->final) {
            e->final_known = 1;
            e->final_job = 0;
        }
        pthread_mutex_unlock(&e->mu);
        if ((err = backend_resolve(e, jb->final)) != DM_OK)
            return err;
        job_run(e, 0, jb);
        pthread_mutex_lock(&e->mu);
        jb->state = JOB_DONE;
        drain(e);
        int more = !no_more_jobs(e);
        pthread_mutex_unlock(&e->mu);
        if (more && e->participants > 1) {
            /* Now worth the slots and the threads. */
            job *grown = realloc(e->jobs, (e->participants + SPARE_SLOTS) * sizeof *grown);
            if (grown != NULL) {
                memset(grown + 1, 0, (e->participants + SPARE_SLOTS - 1) * sizeof *grown);
                /* Job 1 must land in slot 1: keep slot 0 as it is (free). */
                e->jobs = grown;
                e->n_jobs = e->participants + SPARE_SLOTS;
                pool_start(e);
            }
        }
    }
    work(e, 0, UINT64_MAX);
    pool_join(e);
    /* The failure's detail was set in whichever thread wrote; say it here. */
    return e->err == DM_OK ? DM_OK : dm_fail(e->err, "%s", e->err_detail);
}

int dm_stream_seal(dm_source in, dm_sink out, uint8_t secrets[DM_STREAM_SECRETS_LEN],
                   unsigned threads, dm_aead_backend backend) {
    uint8_t nonce[DM_NONCE_LEN];
    randombytes_buf(nonce, sizeof nonce);
    engine e;
    int err = engine_init(&e, 1, backend, secrets, nonce, threads, out);
    if (err == DM_OK && out.write(out.ctx, nonce, sizeof nonce) != 0)
        err = dm_fail(DM_ERR_IO, "writing the output: %s", strerror(errno));
    if (err == DM_OK) {
        engine_source(&e, in, 0, in);
        err = stream_run(&e);
        engine_source_done(&e, in);
    }
    engine_free(&e, secrets);
    return err;
}

/* A source that yields the bytes the header reader already consumed first. */
typedef struct prefixed {
    dm_source inner;
    const uint8_t *p;
    size_t n;
} prefixed;

static ssize_t prefixed_read(void *ctx, uint8_t *buf, size_t n) {
    prefixed *s = ctx;
    if (s->n == 0)
        return s->inner.read(s->inner.ctx, buf, n);
    if (n > s->n)
        n = s->n;
    memcpy(buf, s->p, n);
    s->p += n;
    s->n -= n;
    return (ssize_t)n;
}

int dm_stream_open(dm_source in, const uint8_t *prefix, size_t prefix_len, dm_sink out,
                   uint8_t secrets[DM_STREAM_SECRETS_LEN], unsigned threads,
                   dm_aead_backend backend) {
    prefixed src_ctx = {in, prefix, prefix_len};
    dm_source src = in;
    if (prefix_len > 0) {
        src.read = prefixed_read;
        src.ctx = &src_ctx;
    }

    uint8_t nonce[DM_NONCE_LEN];
    size_t got = 0;
    int eof = 0;
    int err = fill(src, nonce, sizeof nonce, &got, &eof);
    if (err != DM_OK)
        return err;
    if (got < sizeof nonce)
        return dm_fail(DM_ERR_HEADER, "payload nonce is missing or truncated");

    engine e;
    err = engine_init(&e, 0, backend, secrets, nonce, threads, out);
    if (err == DM_OK) {
        /* What is left of the prefix is the file's bytes just before its
         * current offset: a file source reads them again in place. */
        engine_source(&e, in, src_ctx.n, src);
        err = stream_run(&e);
        engine_source_done(&e, in);
    }
    engine_free(&e, secrets);
    return err;
}
