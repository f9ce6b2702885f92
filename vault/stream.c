/* The STREAM payload: 64 KiB chunks, ChaCha20-Poly1305, nonce = 11-byte
 * big-endian counter || last-chunk flag (c2sp.org/age, "Payload").
 *
 * Input is read in batches of whole chunks plus one byte of look-ahead, so
 * a chunk is known to be the last one without a second read. A batch is
 * sealed or opened by the calling thread alone or, for big inputs, by a pool
 * of threads while the calling thread reads the next batch into a second
 * buffer; output is written in order, one write per batch, and only up to
 * the first chunk that failed. Memory is fixed by the batch size. A memory
 * source is read in place, without copying. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "internal.h"
#include "stream.h"

#define CHUNK DM_CHUNK_SIZE
#define CT_CHUNK (DM_CHUNK_SIZE + DM_TAG_LEN)
#define PAYLOAD_INFO "payload"
/* Chunks per batch: big enough to amortise calls and syscalls, small enough
 * to stay in cache. */
#define SEQ_BATCH 4
#define CHUNKS_PER_THREAD 4
#define MAX_BATCH 128
#define MAX_THREADS 64
/* Up to this many chunks the whole job is smaller than waking a thread. */
#define SMALL_BATCH 2

enum chunk_status {
    CHUNK_OK,        /* authentic, with the flag its position implies */
    CHUNK_OTHER_END, /* authentic, but its final flag contradicts its position */
    CHUNK_BAD_TAG,
    CHUNK_SHORT,     /* shorter than a tag */
    CHUNK_EMPTY_END, /* empty final chunk after other chunks */
    CHUNK_ERROR      /* the library failed */
};

typedef struct engine engine;

typedef struct worker {
    engine *e;
    unsigned index;
    pthread_t tid;
} worker;

struct engine {
    int sealing;
    dm_aead_backend backend;
    uint8_t *key;                     /* payload key, guarded memory */
    EVP_CIPHER_CTX *ctx[MAX_THREADS]; /* one per participant, keyed once */
    unsigned participants;            /* wanted: caller + workers */

    /* The batch in flight. */
    const uint8_t *in;
    uint8_t *out;
    size_t n;         /* chunks */
    size_t last_len;  /* input bytes of the batch's last chunk */
    int last_final;   /* that chunk ends the stream */
    uint64_t counter; /* of the batch's first chunk */
    uint8_t *status;

    /* The pool, started on the first batch big enough to need it. */
    worker workers[MAX_THREADS];
    unsigned n_workers;
    int pool_tried;
    int pool_ready; /* mutex and conditions initialised */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long generation;
    unsigned finished;
    int quit;
    atomic_size_t next;
};

static pthread_once_t cipher_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *cipher_alg;

static void cipher_fetch(void) {
    cipher_alg = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

static void make_nonce(uint8_t nonce[12], uint64_t counter, int final) {
    nonce[0] = nonce[1] = nonce[2] = 0;
    for (int b = 0; b < 8; b++)
        nonce[10 - b] = (uint8_t)(counter >> (8 * b));
    nonce[11] = final ? 1 : 0;
}

static int ctx_new(engine *e, unsigned t) {
    if (e->backend == DM_AEAD_SODIUM)
        return DM_OK;
    e->ctx[t] = EVP_CIPHER_CTX_new();
    if (e->ctx[t] == NULL)
        return dm_fail(DM_ERR_NOMEM, "cipher context");
    if (EVP_CipherInit_ex2(e->ctx[t], cipher_alg, e->key, NULL, e->sealing, NULL) != 1)
        return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 key setup failed");
    return DM_OK;
}

/* Returns 1 on success, 0 on a library failure. */
static int seal_one(engine *e, unsigned t, const uint8_t nonce[12], const uint8_t *in, size_t len,
                    uint8_t *out) {
    if (e->backend == DM_AEAD_SODIUM)
        return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                   out, out + len, NULL, in, len, NULL, 0, NULL, nonce, e->key) == 0;
    EVP_CIPHER_CTX *c = e->ctx[t];
    int got = 0, fin = 0;
    if (EVP_EncryptInit_ex2(c, NULL, NULL, nonce, NULL) != 1)
        return 0;
    if (len > 0 && (EVP_EncryptUpdate(c, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return 0;
    return EVP_EncryptFinal_ex(c, out + len, &fin) == 1 && fin == 0 &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, DM_TAG_LEN, out + len) == 1;
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
    if (EVP_DecryptInit_ex2(c, NULL, NULL, nonce, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, DM_TAG_LEN, (void *)tag) != 1)
        return -1;
    if (len > 0 && (EVP_DecryptUpdate(c, out, &got, in, (int)len) != 1 || (size_t)got != len))
        return -1;
    return EVP_DecryptFinal_ex(c, out + len, &fin) == 1 && fin == 0;
}

static void process(engine *e, unsigned t, size_t i) {
    uint64_t counter = e->counter + i;
    int last = i == e->n - 1;
    int final = last && e->last_final;
    uint8_t nonce[12];

    if (e->sealing) {
        size_t len = last ? e->last_len : CHUNK;
        make_nonce(nonce, counter, final);
        e->status[i] = seal_one(e, t, nonce, e->in + i * CHUNK, len, e->out + i * CT_CHUNK)
                           ? CHUNK_OK
                           : CHUNK_ERROR;
        return;
    }

    size_t len = last ? e->last_len : CT_CHUNK;
    const uint8_t *in = e->in + i * CT_CHUNK;
    uint8_t *out = e->out + i * CHUNK;
    if (len < DM_TAG_LEN) {
        e->status[i] = CHUNK_SHORT;
        return;
    }
    if (final && len == DM_TAG_LEN && counter > 0) {
        e->status[i] = CHUNK_EMPTY_END;
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
    e->status[i] = r == 1 ? ok : r == 0 ? CHUNK_BAD_TAG : CHUNK_ERROR;
    if (r != 1)
        sodium_memzero(out, len - DM_TAG_LEN);
}

static void run_share(engine *e, unsigned t) {
    size_t i;
    while ((i = atomic_fetch_add_explicit(&e->next, 1, memory_order_relaxed)) < e->n)
        process(e, t, i);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    engine *e = w->e;
    unsigned long seen = 0;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->quit && e->generation == seen)
            pthread_cond_wait(&e->go, &e->mu);
        if (e->quit)
            break;
        seen = e->generation;
        pthread_mutex_unlock(&e->mu);
        run_share(e, w->index);
        pthread_mutex_lock(&e->mu);
        if (++e->finished == e->n_workers)
            pthread_cond_signal(&e->done);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* Starts up to participants - 1 workers; fewer (even none) is still correct. */
static void pool_start(engine *e) {
    e->pool_tried = 1;
    if (pthread_mutex_init(&e->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&e->go, NULL) != 0) {
        pthread_mutex_destroy(&e->mu);
        return;
    }
    if (pthread_cond_init(&e->done, NULL) != 0) {
        pthread_cond_destroy(&e->go);
        pthread_mutex_destroy(&e->mu);
        return;
    }
    e->pool_ready = 1;
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
}

static void pool_stop(engine *e) {
    if (!e->pool_ready)
        return;
    pthread_mutex_lock(&e->mu);
    e->quit = 1;
    pthread_cond_broadcast(&e->go);
    pthread_mutex_unlock(&e->mu);
    for (unsigned i = 0; i < e->n_workers; i++)
        pthread_join(e->workers[i].tid, NULL);
    pthread_cond_destroy(&e->done);
    pthread_cond_destroy(&e->go);
    pthread_mutex_destroy(&e->mu);
}

/* Wakes the workers on the batch set up in e and returns at once, or returns
 * 0 when the batch is not worth them (or there are none): then the caller
 * runs it alone. */
static int batch_wake(engine *e) {
    atomic_store_explicit(&e->next, 0, memory_order_relaxed);
    if (e->n > SMALL_BATCH && e->participants > 1 && !e->pool_tried)
        pool_start(e);
    if (e->n <= SMALL_BATCH || e->n_workers == 0)
        return 0;
    pthread_mutex_lock(&e->mu);
    e->finished = 0;
    e->generation++;
    pthread_cond_broadcast(&e->go);
    pthread_mutex_unlock(&e->mu);
    return 1;
}

/* The caller's share of the batch, then the wait for the workers' shares. */
static void batch_join(engine *e, int woken) {
    run_share(e, 0);
    if (!woken)
        return;
    pthread_mutex_lock(&e->mu);
    while (e->finished < e->n_workers)
        pthread_cond_wait(&e->done, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

static unsigned resolve_threads(unsigned threads) {
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (unsigned)online : 1;
    }
    return threads > MAX_THREADS ? MAX_THREADS : threads;
}

static size_t batch_chunks(unsigned participants) {
    size_t b = (size_t)participants * CHUNKS_PER_THREAD;
    if (b < SEQ_BATCH)
        b = SEQ_BATCH;
    return b > MAX_BATCH ? MAX_BATCH : b;
}

static int engine_init(engine *e, int sealing, dm_aead_backend backend,
                       uint8_t secrets[DM_STREAM_SECRETS_LEN], const uint8_t nonce[DM_NONCE_LEN],
                       unsigned threads) {
    memset(e, 0, sizeof *e);
    e->sealing = sealing;
    if (backend != DM_AEAD_OPENSSL && backend != DM_AEAD_SODIUM)
        return dm_fail(DM_ERR_USAGE, "unknown AEAD backend %d", (int)backend);
    e->backend = backend;
    e->participants = resolve_threads(threads);
    if (backend == DM_AEAD_OPENSSL &&
        (pthread_once(&cipher_once, cipher_fetch) != 0 || cipher_alg == NULL))
        return dm_fail(DM_ERR_INTERNAL, "OpenSSL lacks ChaCha20-Poly1305");
    /* The payload key lives in the caller's guarded block, after the file key:
     * one guarded allocation per file rather than one per key. */
    e->key = secrets + DM_FILE_KEY_LEN;
    int err = dm_hkdf_sha256(secrets, DM_FILE_KEY_LEN, nonce, DM_NONCE_LEN, PAYLOAD_INFO,
                             sizeof PAYLOAD_INFO - 1, e->key, 32);
    if (err != DM_OK)
        return err;
    return ctx_new(e, 0);
}

static void engine_free(engine *e) {
    pool_stop(e);
    for (unsigned t = 0; t < MAX_THREADS; t++)
        EVP_CIPHER_CTX_free(e->ctx[t]);
    if (e->key != NULL)
        sodium_memzero(e->key, 32);
}

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

/* The input of one batch: `want` bytes (whole chunks plus the look-ahead
 * byte) or, at the end, whatever is left. A memory source is used in place;
 * any other is copied into buf. */
typedef struct window {
    dm_source src;
    dm_membuf *mem;
    uint8_t *buf; /* NULL when in place */
    size_t want;
    const uint8_t *data;
    size_t have;
    int eof;
    size_t high; /* bytes of buf ever used, to wipe */
} window;

static int window_new(window *w, dm_source src, size_t want) {
    memset(w, 0, sizeof *w);
    w->src = src;
    w->want = want;
    w->mem = dm_source_mem_of(src);
    if (w->mem != NULL)
        return DM_OK;
    if ((w->buf = malloc(want)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "payload buffer");
    w->data = w->buf;
    return DM_OK;
}

static int window_fill(window *w) {
    if (w->mem != NULL) {
        size_t left = w->mem->pos < w->mem->len ? w->mem->len - w->mem->pos : 0;
        w->data = w->mem->data + w->mem->pos;
        w->eof = left < w->want;
        w->have = w->eof ? left : w->want;
        return DM_OK;
    }
    int err = fill(w->src, w->buf, w->want, &w->have, &w->eof);
    if (w->have > w->high)
        w->high = w->have;
    return err;
}

/* Moves the bytes after the first n of `from` (the look-ahead byte) to the
 * start of `to`, which may be the same window. */
static void window_handoff(window *from, size_t n, window *to) {
    if (from->mem != NULL) {
        from->mem->pos += n;
        to->have = 0;
        to->eof = 0;
        return;
    }
    size_t tail = from->have - n;
    memmove(to->buf, from->data + n, tail);
    to->have = tail;
    to->eof = 0;
    if (from != to)
        from->have = n;
}

static void window_free(window *w, int wipe) {
    if (w->buf != NULL && wipe)
        sodium_memzero(w->buf, w->high);
    free(w->buf);
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

/* Sets e up for the batch in w: how many chunks, the last one's length,
 * and whether it ends the stream. */
static int batch_layout(engine *e, const window *w, size_t batch, uint64_t counter) {
    size_t in_slot = e->sealing ? CHUNK : CT_CHUNK;
    e->in = w->data;
    e->counter = counter;
    if (!w->eof) {
        e->n = batch;
        e->last_len = in_slot;
        e->last_final = 0;
        return DM_OK;
    }
    if (e->sealing) {
        /* The last chunk is full when the plaintext is a multiple of 64 KiB,
         * and empty only when the whole plaintext is. */
        e->n = w->have == 0 ? 1 : (w->have + CHUNK - 1) / CHUNK;
    } else {
        /* The look-ahead byte guarantees data here unless nothing followed the nonce. */
        if (w->have == 0)
            return dm_fail(DM_ERR_PAYLOAD, "payload has no chunks");
        e->n = (w->have + CT_CHUNK - 1) / CT_CHUNK;
    }
    e->last_len = w->have - (e->n - 1) * in_slot;
    e->last_final = 1;
    return DM_OK;
}

/* Writes what the batch may release: all of it when sealing; when opening,
 * the chunks before the first one that failed (and a chunk that is authentic
 * but in the wrong place, as age does). */
static int batch_release(engine *e, dm_sink out) {
    if (e->sealing) {
        for (size_t i = 0; i < e->n; i++)
            if (e->status[i] != CHUNK_OK)
                return dm_fail(DM_ERR_INTERNAL, "ChaCha20-Poly1305 seal failed");
        size_t len = (e->n - 1) * CT_CHUNK + e->last_len + DM_TAG_LEN;
        if (out.write(out.ctx, e->out, len) != 0)
            return dm_fail(DM_ERR_IO, "write failed");
        return DM_OK;
    }
    int err = DM_OK;
    size_t released = 0;
    for (size_t i = 0; i < e->n; i++) {
        enum chunk_status st = e->status[i];
        if (st == CHUNK_OK || st == CHUNK_OTHER_END)
            released++;
        if (st != CHUNK_OK) {
            err = chunk_failure(st, e->counter + i, e->last_final && i == e->n - 1);
            break;
        }
    }
    size_t bytes = released * CHUNK;
    if (released == e->n && e->last_final)
        bytes = (e->n - 1) * CHUNK + e->last_len - DM_TAG_LEN;
    if (bytes > 0 && out.write(out.ctx, e->out, bytes) != 0 && err == DM_OK)
        err = dm_fail(DM_ERR_IO, "write failed");
    return err;
}

/* One batch's buffers. With workers, two of them take turns: the next batch
 * is read while this one is sealed or opened. */
typedef struct slot {
    window w;
    int ready;
    uint8_t *out;
    size_t out_used;
} slot;

static int stream_run(engine *e, dm_source src, dm_sink out, size_t batch) {
    const size_t in_slot = e->sealing ? CHUNK : CT_CHUNK;
    const size_t out_slot = e->sealing ? CT_CHUNK : CHUNK;
    slot sl[2];
    memset(sl, 0, sizeof sl);
    uint8_t *status = malloc(batch);
    int err = status ? window_new(&sl[0].w, src, batch * in_slot + 1)
                     : dm_fail(DM_ERR_NOMEM, "payload buffers");
    sl[0].ready = err == DM_OK;
    if (err == DM_OK)
        err = window_fill(&sl[0].w);

    int cur = 0;
    uint64_t counter = 0;
    while (err == DM_OK) {
        slot *s = &sl[cur];
        if ((err = batch_layout(e, &s->w, batch, counter)) != DM_OK)
            break;
        /* Sized by the first batch: a small file maps no big buffer. */
        if (s->out == NULL && (s->out = malloc((s->w.eof ? e->n : batch) * out_slot)) == NULL) {
            err = dm_fail(DM_ERR_NOMEM, "payload buffer");
            break;
        }
        if (e->n * out_slot > s->out_used)
            s->out_used = e->n * out_slot;
        e->out = s->out;
        e->status = status;

        int woken = batch_wake(e);
        int next = cur, read_err = DM_OK;
        if (woken && !s->w.eof) {
            next = !cur;
            if (!sl[next].ready) {
                read_err = window_new(&sl[next].w, src, batch * in_slot + 1);
                sl[next].ready = read_err == DM_OK;
            }
            if (read_err == DM_OK) {
                window_handoff(&s->w, e->n * in_slot, &sl[next].w);
                read_err = window_fill(&sl[next].w);
            }
        }
        batch_join(e, woken);
        /* Release this batch before reporting a failed read of the next:
         * exactly what the sequential order would have released. */
        if ((err = batch_release(e, out)) != DM_OK || s->w.eof)
            break;
        if (next == cur) {
            window_handoff(&s->w, e->n * in_slot, &s->w);
            read_err = window_fill(&s->w);
        }
        if ((err = read_err) != DM_OK)
            break;
        counter += e->n;
        cur = next;
    }
    for (int i = 0; i < 2; i++) {
        /* Plaintext: the input when sealing, the output when opening. */
        window_free(&sl[i].w, e->sealing);
        if (sl[i].out != NULL && !e->sealing)
            sodium_memzero(sl[i].out, sl[i].out_used);
        free(sl[i].out);
    }
    free(status);
    return err;
}

int dm_stream_seal(dm_source in, dm_sink out, uint8_t secrets[DM_STREAM_SECRETS_LEN],
                   unsigned threads, dm_aead_backend backend) {
    uint8_t nonce[DM_NONCE_LEN];
    randombytes_buf(nonce, sizeof nonce);
    engine e;
    int err = engine_init(&e, 1, backend, secrets, nonce, threads);
    if (err == DM_OK && out.write(out.ctx, nonce, sizeof nonce) != 0)
        err = dm_fail(DM_ERR_IO, "write failed");
    if (err == DM_OK)
        err = stream_run(&e, in, out, batch_chunks(e.participants));
    engine_free(&e);
    return err;
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
    err = engine_init(&e, 0, backend, secrets, nonce, threads);
    if (err == DM_OK)
        err = stream_run(&e, src, out, batch_chunks(e.participants));
    engine_free(&e);
    return err;
}
