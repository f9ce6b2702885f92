/* The STREAM payload: 64 KiB chunks, ChaCha20-Poly1305, nonce = 11-byte
 * big-endian counter || last-chunk flag (c2sp.org/age, "Payload").
 *
 * The payload is cut into jobs of a few chunks, taken by the job pool
 * (vault/pool.c: the calling thread and, for inputs bigger than one job, a
 * few workers; the output stays in order and memory is fixed by the number of
 * job slots, participants + 2, never by the file's size). The chunks are
 * sealed and opened by the AEAD back end (vault/aead.c). This file is what
 * a job is: where its input comes from, its chunks and their nonces, what
 * is released when a chunk fails.
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
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "aead.h"
#include "internal.h"
#include "pool.h"
#include "stream.h"

#define CHUNK DM_CHUNK_SIZE
#define CT_CHUNK (DM_CHUNK_SIZE + DM_TAG_LEN)
#define PAYLOAD_INFO "payload"
/* Chunks per job, and the size below which no worker starts: stream.h. */
#define MAX_THREADS DM_POOL_MAX_THREADS
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

typedef enum src_kind {
    SRC_MEM,   /* a dm_source_mem buffer, used in place */
    SRC_FILE,  /* a regular file: pread at each job's offset */
    SRC_STREAM /* anything else: read in order */
} src_kind;

/* One job slot: a job's input (unless in place), its output and chunk results. */
typedef struct job {
    uint64_t index;
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

typedef struct engine {
    int sealing;
    dm_aead_backend backend;         /* resolved: OPENSSL or SODIUM */
    const uint8_t *key;              /* payload key, in the caller's guarded block */
    dm_aead_ctx cipher[MAX_THREADS]; /* one per participant, keyed once */
    int keyed[MAX_THREADS];
    unsigned participants;    /* wanted: caller + workers */
    size_t in_unit, out_unit; /* CHUNK and CT_CHUNK, one way or the other */
    size_t job_chunks;        /* DM_STREAM_JOB_CHUNKS_SEAL or DM_STREAM_JOB_CHUNKS_OPEN */
    size_t job_in;            /* job_chunks * in_unit */

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

    dm_pool pool;
} engine;

static void make_nonce(uint8_t nonce[12], uint64_t counter, int final) {
    nonce[0] = nonce[1] = nonce[2] = 0;
    for (int b = 0; b < 8; b++)
        nonce[10 - b] = (uint8_t)(counter >> (8 * b));
    nonce[11] = final ? 1 : 0;
}

static int ctx_new(engine *e, unsigned t) {
    if (e->keyed[t])
        return DM_OK;
    int err = dm_aead_ctx_init(&e->cipher[t], e->backend, e->key, e->sealing);
    if (err != DM_OK) {
        dm_aead_ctx_clear(&e->cipher[t]); /* what was made before the failure */
        return err;
    }
    e->keyed[t] = 1;
    return DM_OK;
}

/* DM_AEAD_AUTO: a payload that fits in one job is sealed or opened by
 * libsodium, since OpenSSL's first use (its provider tables) costs more CPU
 * than such a payload's cryptography; anything bigger by OpenSSL, faster per
 * byte (docs/benchmarks.md, "Start-up"). The bytes are the same. */
static int backend_resolve(engine *e, int one_job) {
    int err = dm_aead_backend_resolve(&e->backend, one_job);
    return err != DM_OK ? err : ctx_new(e, 0);
}

static void process(engine *e, unsigned t, job *jb, size_t i) {
    uint64_t counter = jb->index * e->job_chunks + i;
    int last = i == jb->n - 1;
    int final = last && jb->final;
    uint8_t nonce[12];

    if (e->sealing) {
        size_t len = last ? jb->last_len : CHUNK;
        make_nonce(nonce, counter, final);
        jb->status[i] =
            dm_aead_ctx_seal(&e->cipher[t], nonce, jb->in + i * CHUNK, len, jb->out + i * CT_CHUNK)
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
    int r = dm_aead_ctx_open(&e->cipher[t], nonce, in, len, out);
    /* Only a full chunk can be either kind; trying the other flag tells a
     * truncated or extended stream from a forged chunk, and releases what
     * age itself releases in those cases. */
    enum chunk_status ok = CHUNK_OK;
    if (r == 0 && len == CT_CHUNK) {
        make_nonce(nonce, counter, !final);
        r = dm_aead_ctx_open(&e->cipher[t], nonce, in, len, out);
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

/* Allocates a slot's input buffer the first time it needs one. */
static int job_inbuf(engine *e, unsigned t) {
    if (e->inbuf[t] == NULL && (e->inbuf[t] = malloc(e->job_in + 1)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "payload buffer");
    return DM_OK;
}

/* Reads job jb->index's input: `got` bytes of the job_in + 1 asked for. With
 * SRC_STREAM the pool holds its lock, so jobs read in order. Sets read_err when
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
        ssize_t r = dm_pread_all(e->fd, e->inbuf[t], want, e->file_base + (off_t)off);
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

/* ------------------------------------------------------------ the pool's operations */

static int op_read(void *arg, unsigned t, unsigned slot, uint64_t index) {
    engine *e = arg;
    job *jb = &e->jobs[slot];
    jb->index = index;
    job_read(e, t, jb);
    return jb->final;
}

static void op_run(void *arg, unsigned t, unsigned slot) {
    engine *e = arg;
    job_run(e, t, &e->jobs[slot]);
}

static int op_emit(void *arg, unsigned slot, int *done) {
    engine *e = arg;
    return job_emit(e, &e->jobs[slot], done);
}

static const dm_pool_ops job_ops = {op_read, op_run, op_emit};

/* Keys a cipher for each worker, then starts the workers that have one. */
static void pool_start(engine *e) {
    unsigned n = 1;
    while (n < e->participants && ctx_new(e, n) == DM_OK)
        n++;
    dm_pool_start(&e->pool, n);
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
    e->participants = dm_pool_threads(threads);
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
    return err;
}

static void engine_free(engine *e, uint8_t secrets[DM_STREAM_SECRETS_LEN]) {
    dm_pool_free(&e->pool);
    for (unsigned t = 0; t < MAX_THREADS; t++)
        if (e->keyed[t])
            dm_aead_ctx_clear(&e->cipher[t]);
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
    struct stat st;
    int fd = dm_source_pread_fd(src, &st);
    if (fd >= 0) {
        off_t cur = lseek(fd, 0, SEEK_CUR);
        if (cur >= 0 && (uint64_t)cur >= ahead) {
            e->kind = SRC_FILE;
            e->fd = fd;
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
    uint64_t consumed = dm_pool_written(&e->pool) * (uint64_t)e->job_in;
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

static int first_job_resolve(void *arg, int last) {
    return backend_resolve(arg, last);
}

static int stream_run(engine *e) {
    /* DM_AEAD_AUTO's line: 8 chunks (512 KiB of plaintext), whatever the job size. */
    int one_job =
        e->known_len >= 0 && (uint64_t)e->known_len <= DM_STREAM_JOB_CHUNKS_SEAL * e->in_unit;
    int few_jobs = e->known_len >= 0 && (uint64_t)e->known_len <= DM_STREAM_POOL_MIN_BYTES;
    e->n_jobs = e->participants > 1 && !few_jobs ? e->participants + SPARE_SLOTS : 1;
    if ((e->jobs = calloc(e->n_jobs, sizeof *e->jobs)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "payload slots");
    int err = dm_pool_init(&e->pool, &job_ops, e, e->kind == SRC_STREAM);
    if (err == DM_OK)
        err = dm_pool_slots(&e->pool, e->n_jobs);
    if (err != DM_OK)
        return err;
    if (e->known_len >= 0) {
        if ((err = backend_resolve(e, one_job)) != DM_OK)
            return err;
        if (e->n_jobs > 1)
            pool_start(e);
    } else {
        /* Unknown length: the first job alone tells whether the input is small
         * (then no thread is started and OpenSSL is never touched). */
        int more = 0;
        if ((err = dm_pool_first(&e->pool, first_job_resolve, &more)) != DM_OK)
            return err;
        if (more && e->participants > 1) {
            /* Now worth the slots and the threads. Job 1 must land in slot 1:
             * slot 0 stays as it is (free). */
            unsigned n = e->participants + SPARE_SLOTS;
            job *grown = realloc(e->jobs, n * sizeof *grown);
            if (grown != NULL) {
                memset(grown + 1, 0, (n - 1) * sizeof *grown);
                e->jobs = grown;
                e->n_jobs = n;
                if (dm_pool_slots(&e->pool, n) == DM_OK)
                    pool_start(e);
            }
        }
    }
    return dm_pool_run(&e->pool);
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
        src.kind = DM_SOURCE_STREAM;
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
