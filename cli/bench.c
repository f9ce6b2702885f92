/* doormat bench: times encrypt and decrypt inside this process, from memory
 * to a null sink (or memory, or /dev/null), so that the crypto path is what is
 * measured. Every figure printed is a measurement of this run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "doormat/escrow.h"

static const char bench_usage[] =
    "Usage:\n"
    "  doormat bench [--sizes LIST] [--modes LIST] [--reps N] [--warmup N]\n"
    "                [--threads N] [--backend openssl|sodium|auto]\n"
    "                [--sink null|memory|devnull]\n"
    "                [--quick] [--json | --csv] [--no-progress]\n"
    "\n"
    "Times whole dm_encrypt and dm_decrypt calls inside this process, with warm-up\n"
    "runs first, and reports the median, the fastest and slowest run and the spread\n"
    "((max - min) / median). Plaintext and ciphertext come from memory; output goes\n"
    "to a null sink unless --sink says otherwise, so the crypto path is what is\n"
    "measured. For whole-process figures against age and gpg, see bench/compare.\n"
    "\n"
    "Options:\n"
    "  --sizes LIST     comma-separated sizes, with an optional suffix B, KiB, MiB or\n"
    "                   GiB (K, M, G also mean 1024-based)\n"
    "                   (default 1KiB,64KiB,1MiB,64MiB,1GiB)\n"
    "  --modes LIST     any of vault (one X25519 recipient), vault-passphrase (scrypt,\n"
    "                   work factor 2^18: slow on purpose, reported apart),\n"
    "                   escrow-1of1, escrow-2of3 (one X25519 recipient plus an escrow\n"
    "                   authority); default: all of them\n"
    "  --reps N         timed runs per figure (default 5; sizes under 1 MiB get at\n"
    "                   least 100, vault-passphrase at most N)\n"
    "  --warmup N       untimed runs first (default 1; none for vault-passphrase)\n"
    "  --threads N      payload threads (0, the default: one per online CPU)\n"
    "  --backend NAME   ChaCha20-Poly1305 for the payload: openssl (default), sodium,\n"
    "                   or auto (what encrypt and decrypt use: sodium up to 512 KiB,\n"
    "                   whose cryptography costs less than OpenSSL's start-up)\n"
    "  --sink NAME      null (default), memory (a preallocated buffer) or devnull\n"
    "                   (write(2) to /dev/null)\n"
    "  --quick          sizes 1KiB,64KiB,1MiB, 5 runs, modes vault, escrow-1of1,\n"
    "                   escrow-2of3: a few seconds (what doormat report runs)\n"
    "  --json           one JSON object (schema doormat-bench/1, docs/benchmarks.md)\n"
    "  --csv            the results as CSV with a header line\n"
    "  --no-progress    no progress line on standard error (only shown on a terminal)\n"
    "  -h, --help       this text\n"
    "\n"
    "Operations: encrypt, decrypt (with the recipient's identity) and, for escrow\n"
    "modes, decrypt-compliant (decrypt with the compliant client's escrow check).\n"
    "Escrow modes also report their fixed cost per file in microseconds: the escrow\n"
    "recipient's wrap, the extra decrypt time of an escrowed 1 KiB file, and the\n"
    "compliant check alone.\n"
    "\n"
    "Examples:\n"
    "  doormat bench --quick\n"
    "  doormat bench --sizes 1GiB --modes vault --threads 1 --backend sodium\n"
    "  doormat bench --sizes 1KiB,64KiB --reps 3 --json\n";

enum {
    OPT_SIZES = 256,
    OPT_MODES,
    OPT_REPS,
    OPT_WARMUP,
    OPT_THREADS,
    OPT_BACKEND,
    OPT_SINK,
    OPT_QUICK,
    OPT_JSON,
    OPT_CSV,
    OPT_NO_PROGRESS
};

static const struct option bench_longopts[] = {
    {"sizes", required_argument, NULL, OPT_SIZES},
    {"modes", required_argument, NULL, OPT_MODES},
    {"reps", required_argument, NULL, OPT_REPS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"sink", required_argument, NULL, OPT_SINK},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"json", no_argument, NULL, OPT_JSON},
    {"csv", no_argument, NULL, OPT_CSV},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* ------------------------------------------------------------ settings */

typedef enum mode { M_VAULT, M_PASSPHRASE, M_ESCROW_1OF1, M_ESCROW_2OF3, M__COUNT } mode;
static const char *const mode_names[M__COUNT] = {"vault", "vault-passphrase", "escrow-1of1",
                                                 "escrow-2of3"};

typedef enum op { OP_ENCRYPT, OP_DECRYPT, OP_DECRYPT_COMPLIANT, OP__COUNT } op;
static const char *const op_names[OP__COUNT] = {"encrypt", "decrypt", "decrypt-compliant"};

typedef enum sink_kind { SINK_NULL, SINK_MEMORY, SINK_DEVNULL } sink_kind;
static const char *const sink_names[] = {"null", "memory", "devnull"};

#define MAX_SIZES 32
#define MAX_REPS 100000u
#define MAX_WARMUP 1000u
#define MAX_SIZE ((size_t)4 << 30)
#define SMALL_SIZE ((size_t)1 << 20)
#define SMALL_MIN_REPS 100u
#define FIXED_COST_REPS 400u
#define FIXED_COST_SIZE 1024u
#define PASSPHRASE "doormat bench passphrase"

typedef struct settings {
    size_t sizes[MAX_SIZES];
    size_t n_sizes;
    int modes[M__COUNT];
    unsigned reps;
    unsigned warmup;
    unsigned threads; /* as given; 0 = online CPUs */
    dm_aead_backend backend;
    sink_kind sink;
    int quick, json, csv, progress;
} settings;

/* ------------------------------------------------------------ results */

typedef struct result {
    mode m;
    op o;
    size_t size;
    unsigned reps;
    double median, min, max;
} result;

typedef struct fixed_cost {
    mode m;
    double encrypt_us, decrypt_us, check_us;
} fixed_cost;

typedef struct results {
    result *items;
    size_t len, cap;
    fixed_cost fixed[M__COUNT];
    int have_fixed[M__COUNT];
} results;

static int results_add(results *r, const result *x) {
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        result *n = realloc(r->items, cap * sizeof *n);
        if (n == NULL)
            return DM_ERR_NOMEM;
        r->items = n;
        r->cap = cap;
    }
    r->items[r->len++] = *x;
    return DM_OK;
}

static const result *results_find(const results *r, mode m, op o, size_t size) {
    for (size_t i = 0; i < r->len; i++)
        if (r->items[i].m == m && r->items[i].o == o && r->items[i].size == size)
            return &r->items[i];
    return NULL;
}

/* ------------------------------------------------------------ parsing */

static int parse_unsigned(const char *s, unsigned long max, unsigned long *out) {
    if (s[0] < '0' || s[0] > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "64KiB", "1GiB", "4096", "2M": 1024-based. */
static int parse_size(const char *s, size_t len, size_t *out) {
    char word[32];
    if (len == 0 || len >= sizeof word)
        return -1;
    memcpy(word, s, len);
    word[len] = '\0';
    if (word[0] < '0' || word[0] > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(word, &end, 10);
    if (errno != 0)
        return -1;
    unsigned long long mul = 1;
    if (*end == '\0' || strcmp(end, "B") == 0)
        mul = 1;
    else if (strcmp(end, "K") == 0 || strcmp(end, "KiB") == 0)
        mul = 1ull << 10;
    else if (strcmp(end, "M") == 0 || strcmp(end, "MiB") == 0)
        mul = 1ull << 20;
    else if (strcmp(end, "G") == 0 || strcmp(end, "GiB") == 0)
        mul = 1ull << 30;
    else
        return -1;
    if (v > MAX_SIZE / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

static int parse_sizes(const char *arg, settings *s) {
    s->n_sizes = 0;
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (s->n_sizes == MAX_SIZES || parse_size(p, len, &s->sizes[s->n_sizes]) != 0)
            return -1;
        s->n_sizes++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int parse_modes(const char *arg, settings *s) {
    memset(s->modes, 0, sizeof s->modes);
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = 0;
        for (int m = 0; m < M__COUNT; m++)
            if (strlen(mode_names[m]) == len && memcmp(p, mode_names[m], len) == 0)
                s->modes[m] = found = 1;
        if (!found)
            return -1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* ------------------------------------------------------------ timing */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------ the fixture */

typedef struct fixture {
    const settings *set;
    uint8_t *plain;
    size_t plain_len;
    dm_recipient *x25519;
    dm_identity *x25519_id;
    dm_recipient *scrypt;
    dm_identity *scrypt_id;
    dm_escrow_authority *auth[M__COUNT];
    dm_recipient *escrow[M__COUNT];
    dm_escrow_policy policy[M__COUNT];
    dm_membuf memsink; /* for --sink memory */
    int devnull;
    /* progress */
    size_t step, steps;
    int progress_shown;
} fixture;

static int is_escrow(mode m) {
    return m == M_ESCROW_1OF1 || m == M_ESCROW_2OF3;
}

static void fill_pattern(uint8_t *p, size_t n) {
    /* Content does not change the cost of ChaCha20-Poly1305; xorshift is just cheap. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < n; i++)
        p[i] = (uint8_t)(x >> (8 * (i % 8)));
}

static int fixture_open(fixture *f, const settings *set) {
    memset(f, 0, sizeof *f);
    f->set = set;
    f->devnull = -1;
    size_t max = 0;
    for (size_t i = 0; i < set->n_sizes; i++)
        if (set->sizes[i] > max)
            max = set->sizes[i];
    if (max < FIXED_COST_SIZE)
        max = FIXED_COST_SIZE;
    f->plain_len = max;
    if ((f->plain = malloc(max)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "%zu bytes of plaintext", max);
    fill_pattern(f->plain, max);

    char *secret = NULL, *pub = NULL;
    int err = dm_x25519_keygen(&secret, &pub);
    if (err == DM_OK)
        err = dm_x25519_recipient_parse(pub, &f->x25519);
    if (err == DM_OK)
        err = dm_x25519_identity_parse(secret, &f->x25519_id);
    dm_secret_free(secret);
    free(pub);
    if (err == DM_OK && set->modes[M_PASSPHRASE]) {
        err = dm_scrypt_recipient_new(PASSPHRASE, sizeof PASSPHRASE - 1, 0, &f->scrypt);
        if (err == DM_OK)
            err = dm_scrypt_identity_new(PASSPHRASE, sizeof PASSPHRASE - 1, 0, &f->scrypt_id);
    }
    static const char *const three[] = {"alice", "bob", "carol"};
    for (int m = 0; m < M__COUNT && err == DM_OK; m++) {
        if (!is_escrow((mode)m) || !set->modes[m])
            continue;
        dm_escrow_agent_key **keys = NULL;
        dm_escrow_court_key *court = NULL;
        size_t n = m == M_ESCROW_2OF3 ? 3 : 1;
        err = dm_escrow_authority_new(mode_names[m], m == M_ESCROW_2OF3 ? three : NULL,
                                      m == M_ESCROW_2OF3 ? 3 : 0, m == M_ESCROW_2OF3 ? 2 : 1,
                                      &f->auth[m], &keys, &court);
        if (err == DM_OK) {
            for (size_t i = 0; i < n; i++)
                dm_escrow_agent_key_free(keys[i]);
            free(keys);
            dm_escrow_court_key_free(court);
            err = dm_escrow_recipient_new(f->auth[m], NULL, &f->escrow[m]);
        }
        f->policy[m].auth = f->auth[m];
        f->policy[m].opts = NULL;
    }
    if (err == DM_OK && set->sink == SINK_DEVNULL &&
        (f->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
        err = dm_fail(DM_ERR_IO, "/dev/null: %s", strerror(errno));
    return err;
}

static void fixture_close(fixture *f) {
    free(f->plain);
    dm_recipient_free(f->x25519);
    dm_identity_free(f->x25519_id);
    dm_recipient_free(f->scrypt);
    dm_identity_free(f->scrypt_id);
    for (int m = 0; m < M__COUNT; m++) {
        dm_recipient_free(f->escrow[m]);
        dm_escrow_authority_free(f->auth[m]);
    }
    free(f->memsink.buf);
    if (f->devnull >= 0)
        close(f->devnull);
}

static size_t mode_recipients(const fixture *f, mode m, dm_recipient *out[2]) {
    if (m == M_PASSPHRASE) {
        out[0] = f->scrypt;
        return 1;
    }
    out[0] = f->x25519;
    if (is_escrow(m)) {
        out[1] = f->escrow[m];
        return 2;
    }
    return 1;
}

static dm_sink bench_sink(fixture *f) {
    switch (f->set->sink) {
    case SINK_MEMORY:
        f->memsink.len = 0;
        return dm_sink_mem(&f->memsink);
    case SINK_DEVNULL:
        return dm_sink_fd(&f->devnull);
    case SINK_NULL:
    default:
        return dm_sink_null();
    }
}

/* Grows the memory sink once, outside the timed runs. */
static int reserve_sink(fixture *f, size_t n) {
    if (f->set->sink != SINK_MEMORY || f->memsink.cap >= n)
        return DM_OK;
    uint8_t *b = realloc(f->memsink.buf, n);
    if (b == NULL)
        return dm_fail(DM_ERR_NOMEM, "%zu bytes of output buffer", n);
    /* Touch every page so the timed runs do not pay for first faults. */
    memset(b, 0, n);
    f->memsink.buf = b;
    f->memsink.cap = n;
    return DM_OK;
}

static int do_encrypt(fixture *f, mode m, size_t size, dm_sink sink) {
    dm_recipient *r[2];
    size_t n = mode_recipients(f, m, r);
    dm_membuf in = {.data = f->plain, .len = size};
    dm_encrypt_opts opts = {.threads = f->set->threads, .backend = f->set->backend};
    if (is_escrow(m)) {
        opts.alone_companions = dm_escrow_alone_companions;
        opts.n_alone_companions = DM_ESCROW_N_ALONE_COMPANIONS;
    }
    return dm_encrypt(dm_source_mem(&in), sink, r, n, &opts);
}

static int do_decrypt(fixture *f, mode m, const dm_membuf *ct, int compliant, dm_sink sink,
                      uint8_t *file_key_out) {
    dm_identity *id = m == M_PASSPHRASE ? f->scrypt_id : f->x25519_id;
    dm_membuf in = {.data = ct->buf, .len = ct->len};
    dm_decrypt_opts opts = {.threads = f->set->threads, .backend = f->set->backend};
    opts.file_key_out = file_key_out;
    if (is_escrow(m)) {
        opts.alone_companions = dm_escrow_alone_companions;
        opts.n_alone_companions = DM_ESCROW_N_ALONE_COMPANIONS;
    }
    if (compliant) {
        opts.policy = dm_escrow_policy_check;
        opts.policy_ctx = &f->policy[m];
    }
    return dm_decrypt(dm_source_mem(&in), sink, &id, 1, &opts);
}

static void human_size(size_t n, char *out, size_t cap) {
    if (n >= ((size_t)1 << 30) && n % ((size_t)1 << 30) == 0)
        snprintf(out, cap, "%zu GiB", n >> 30);
    else if (n >= ((size_t)1 << 20) && n % ((size_t)1 << 20) == 0)
        snprintf(out, cap, "%zu MiB", n >> 20);
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(out, cap, "%zu KiB", n >> 10);
    else
        snprintf(out, cap, "%zu B", n);
}

static void progress(fixture *f, mode m, op o, size_t size, unsigned rep, unsigned reps) {
    if (!f->set->progress)
        return;
    char sz[32];
    human_size(size, sz, sizeof sz);
    fprintf(stderr, "\r\033[Kbench [%zu/%zu] %s %s %s: run %u of %u", f->step, f->steps,
            mode_names[m], op_names[o], sz, rep, reps);
    fflush(stderr);
    f->progress_shown = 1;
}

static void progress_clear(fixture *f) {
    if (f->progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        f->progress_shown = 0;
    }
}

static unsigned reps_for(const settings *set, mode m, size_t size) {
    unsigned reps = set->reps;
    if (m != M_PASSPHRASE && size < SMALL_SIZE && reps < SMALL_MIN_REPS)
        reps = SMALL_MIN_REPS;
    return reps;
}

/* Times one (mode, op, size): warm-up runs, then reps timed runs. */
static int measure(fixture *f, mode m, op o, size_t size, const dm_membuf *ct, result *out) {
    unsigned reps = reps_for(f->set, m, size);
    unsigned warmup = m == M_PASSPHRASE ? 0 : f->set->warmup;
    double *t = malloc(reps * sizeof *t);
    if (t == NULL)
        return dm_fail(DM_ERR_NOMEM, "timings");
    int err = DM_OK;
    for (unsigned i = 0; i < warmup + reps && err == DM_OK; i++) {
        if (i >= warmup && (size >= SMALL_SIZE || m == M_PASSPHRASE))
            progress(f, m, o, size, i - warmup + 1, reps);
        dm_sink sink = bench_sink(f);
        double t0 = now_s();
        err = o == OP_ENCRYPT ? do_encrypt(f, m, size, sink)
                              : do_decrypt(f, m, ct, o == OP_DECRYPT_COMPLIANT, sink, NULL);
        double t1 = now_s();
        if (i >= warmup)
            t[i - warmup] = t1 - t0;
    }
    if (err == DM_OK) {
        out->m = m;
        out->o = o;
        out->size = size;
        out->reps = reps;
        qsort(t, reps, sizeof *t, cmp_double);
        out->min = t[0];
        out->max = t[reps - 1];
        out->median = median_of(t, reps);
    }
    free(t);
    return err;
}

/* The ciphertext a decrypt run reads: made once, outside the timing. */
static int make_ciphertext(fixture *f, mode m, size_t size, dm_membuf *ct) {
    memset(ct, 0, sizeof *ct);
    return do_encrypt(f, m, size, dm_sink_mem(ct));
}

/* ------------------------------------------------ escrow fixed cost per file */

static int fixed_costs(fixture *f, mode m, fixed_cost *fc) {
    const unsigned n = FIXED_COST_REPS;
    double *a = malloc(n * sizeof *a);
    uint8_t *file_key = dm_secret_alloc(DM_FILE_KEY_LEN);
    dm_membuf vault_ct = {0}, escrow_ct = {0};
    dm_header hdr;
    memset(&hdr, 0, sizeof hdr);
    int have_hdr = 0;
    int err = a && file_key ? DM_OK : dm_fail(DM_ERR_NOMEM, "fixed cost");
    fc->m = m;

    /* Encrypt: the escrow recipient's wrap, which is all escrow adds to dm_encrypt
     * besides the header bytes it makes. */
    for (unsigned i = 0; i < n + 10 && err == DM_OK; i++) {
        dm_stanza_list list = {0};
        randombytes_buf(file_key, DM_FILE_KEY_LEN);
        double t0 = now_s();
        err = f->escrow[m]->wrap(f->escrow[m], file_key, &list);
        double t1 = now_s();
        dm_stanza_list_free(&list);
        if (i >= 10)
            a[i - 10] = t1 - t0;
    }
    if (err == DM_OK)
        fc->encrypt_us = median_of(a, n) * 1e6;

    /* Decrypt: an escrowed and a plain 1 KiB file, decrypted alternately; the
     * median of the differences (the escrow stanzas are parsed and MACed, and
     * skipped by the X25519 identity). */
    if (err == DM_OK)
        err = make_ciphertext(f, M_VAULT, FIXED_COST_SIZE, &vault_ct);
    if (err == DM_OK)
        err = make_ciphertext(f, m, FIXED_COST_SIZE, &escrow_ct);
    for (unsigned i = 0; i < n + 10 && err == DM_OK; i++) {
        double t0 = now_s();
        err = do_decrypt(f, M_VAULT, &vault_ct, 0, dm_sink_null(), NULL);
        double t1 = now_s();
        if (err == DM_OK)
            err = do_decrypt(f, m, &escrow_ct, 0, dm_sink_null(), NULL);
        double t2 = now_s();
        if (i >= 10)
            a[i - 10] = (t2 - t1) - (t1 - t0);
    }
    if (err == DM_OK)
        fc->decrypt_us = median_of(a, n) * 1e6;

    /* The compliant check alone, on the escrowed file's real header and key. */
    if (err == DM_OK)
        err = do_decrypt(f, m, &escrow_ct, 0, dm_sink_null(), file_key);
    if (err == DM_OK && (err = dm_header_parse(escrow_ct.buf, escrow_ct.len, &hdr)) == DM_OK)
        have_hdr = 1;
    for (unsigned i = 0; i < n + 10 && err == DM_OK; i++) {
        double t0 = now_s();
        err = dm_escrow_policy_check(&f->policy[m], &hdr, file_key);
        double t1 = now_s();
        if (i >= 10)
            a[i - 10] = t1 - t0;
    }
    if (err == DM_OK)
        fc->check_us = median_of(a, n) * 1e6;

    if (have_hdr)
        dm_header_free(&hdr);
    free(vault_ct.buf);
    free(escrow_ct.buf);
    dm_secret_free(file_key);
    free(a);
    return err;
}

/* ------------------------------------------------------------ the run */

static int run_all(fixture *f, results *res) {
    static const dm_membuf no_ciphertext; /* encrypt reads the plaintext */
    const settings *set = f->set;
    f->steps = 0;
    for (size_t s = 0; s < set->n_sizes; s++)
        for (int m = 0; m < M__COUNT; m++)
            if (set->modes[m])
                f->steps += is_escrow((mode)m) ? 3 : 2;
    int err = DM_OK;
    for (size_t s = 0; s < set->n_sizes && err == DM_OK; s++) {
        size_t size = set->sizes[s];
        for (int mi = 0; mi < M__COUNT && err == DM_OK; mi++) {
            mode m = (mode)mi;
            if (!set->modes[m])
                continue;
            /* Ciphertext: size plus a tag per chunk, plus the header. */
            err = reserve_sink(f, size + (size / DM_CHUNK_SIZE + 1) * DM_TAG_LEN + 4096);
            result r;
            if (err == DM_OK) {
                f->step++;
                err = measure(f, m, OP_ENCRYPT, size, &no_ciphertext, &r);
            }
            if (err == DM_OK)
                err = results_add(res, &r);
            dm_membuf ct = {0};
            if (err == DM_OK)
                err = make_ciphertext(f, m, size, &ct);
            int n_ops = is_escrow(m) ? 3 : 2;
            for (int o = OP_DECRYPT; o < n_ops && err == DM_OK; o++) {
                f->step++;
                err = measure(f, m, (op)o, size, &ct, &r);
                if (err == DM_OK)
                    err = results_add(res, &r);
            }
            free(ct.buf);
        }
    }
    for (int m = 0; m < M__COUNT && err == DM_OK; m++) {
        if (!is_escrow((mode)m) || !set->modes[m])
            continue;
        err = fixed_costs(f, (mode)m, &res->fixed[m]);
        res->have_fixed[m] = err == DM_OK;
    }
    progress_clear(f);
    return err;
}

/* ------------------------------------------------------------ machine facts */

typedef struct machine {
    long cpus;
    char cpu_model[128];
    char kernel[160];
} machine;

static void machine_facts(machine *mc) {
    memset(mc, 0, sizeof *mc);
    mc->cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(mc->cpu_model, sizeof mc->cpu_model, "unknown");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (fp != NULL) {
        char line[256];
        while (fgets(line, sizeof line, fp) != NULL) {
            if (strncmp(line, "model name", 10) != 0)
                continue;
            const char *v = strchr(line, ':');
            if (v == NULL)
                break;
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(mc->cpu_model, sizeof mc->cpu_model, "%s", v);
            mc->cpu_model[strcspn(mc->cpu_model, "\n")] = '\0';
            break;
        }
        fclose(fp);
    }
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(mc->kernel, sizeof mc->kernel, "%s %s", u.sysname, u.release);
}

static unsigned resolved_threads(const settings *set, const machine *mc) {
    if (set->threads != 0)
        return set->threads;
    return mc->cpus > 0 ? (unsigned)mc->cpus : 1;
}

static const char *openssl_version(void) {
    const char *v = dm_openssl_version();
    return v != NULL ? v : "OpenSSL (not loadable)";
}

static const char *backend_name(dm_aead_backend b) {
    return b == DM_AEAD_SODIUM ? "sodium" : b == DM_AEAD_AUTO ? "auto" : "openssl";
}

/* ------------------------------------------------------------ output */

static void json_string(FILE *o, const char *s) {
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c < 0x20)
            fprintf(o, "\\u%04x", c);
        else
            fputc(c, o);
    }
    fputc('"', o);
}

static double mib_per_s(const result *r) {
    return r->median > 0 ? (double)r->size / r->median / 1048576.0 : 0;
}

static double spread_pct(const result *r) {
    return r->median > 0 ? (r->max - r->min) / r->median * 100.0 : 0;
}

/* (escrow - vault) / vault for the same op and size, when both were measured. */
static int overhead_pct(const results *res, const result *r, double *pct) {
    op base_op = r->o == OP_DECRYPT_COMPLIANT ? OP_DECRYPT : r->o;
    const result *v = results_find(res, M_VAULT, base_op, r->size);
    if (v == NULL || v->median <= 0)
        return 0;
    *pct = (r->median - v->median) / v->median * 100.0;
    return 1;
}

static void print_json(FILE *o, const settings *set, const machine *mc, const results *res) {
    fprintf(o, "{\n  \"schema\": \"doormat-bench/1\",\n  \"doormat\": ");
    json_string(o, DM_VERSION);
    fprintf(o, ",\n  \"machine\": {\n    \"cpus_online\": %ld,\n    \"cpu_model\": ", mc->cpus);
    json_string(o, mc->cpu_model);
    fprintf(o, ",\n    \"kernel\": ");
    json_string(o, mc->kernel);
    fprintf(o, ",\n    \"openssl\": ");
    json_string(o, openssl_version());
    fprintf(o, ",\n    \"libsodium\": ");
    json_string(o, sodium_version_string());
    fprintf(o, "\n  },\n  \"config\": {\n    \"quick\": %s,\n    \"sizes\": [",
            set->quick ? "true" : "false");
    for (size_t i = 0; i < set->n_sizes; i++)
        fprintf(o, "%s%zu", i ? ", " : "", set->sizes[i]);
    fprintf(o,
            "],\n    \"reps\": %u,\n    \"warmup\": %u,\n    \"threads\": %u,\n"
            "    \"backend\": \"%s\",\n    \"sink\": \"%s\",\n    \"modes\": [",
            set->reps, set->warmup, resolved_threads(set, mc), backend_name(set->backend),
            sink_names[set->sink]);
    int first = 1;
    for (int m = 0; m < M__COUNT; m++)
        if (set->modes[m]) {
            fprintf(o, "%s\"%s\"", first ? "" : ", ", mode_names[m]);
            first = 0;
        }
    fprintf(o, "]\n  },\n  \"results\": [");
    for (size_t i = 0; i < res->len; i++) {
        const result *r = &res->items[i];
        fprintf(o,
                "%s\n    {\"mode\": \"%s\", \"op\": \"%s\", \"size\": %zu, \"threads\": %u, "
                "\"backend\": \"%s\", \"reps\": %u, \"median_s\": %.9f, \"min_s\": %.9f, "
                "\"max_s\": %.9f, \"spread_pct\": %.2f, \"mib_per_s\": %.2f, "
                "\"per_file_us\": %.3f}",
                i ? "," : "", mode_names[r->m], op_names[r->o], r->size, resolved_threads(set, mc),
                backend_name(set->backend), r->reps, r->median, r->min, r->max, spread_pct(r),
                mib_per_s(r), r->median * 1e6);
    }
    fprintf(o, "%s],\n  \"escrow_fixed_cost_us\": [", res->len ? "\n  " : "");
    first = 1;
    for (int m = 0; m < M__COUNT; m++) {
        if (!res->have_fixed[m])
            continue;
        const fixed_cost *fc = &res->fixed[m];
        fprintf(o,
                "%s\n    {\"mode\": \"%s\", \"encrypt\": %.3f, \"decrypt\": %.3f, "
                "\"check\": %.3f}",
                first ? "" : ",", mode_names[m], fc->encrypt_us, fc->decrypt_us, fc->check_us);
        first = 0;
    }
    fprintf(o, "%s],\n  \"escrow_overhead\": [", first ? "" : "\n  ");
    first = 1;
    for (size_t i = 0; i < res->len; i++) {
        const result *r = &res->items[i];
        double pct;
        if (!is_escrow(r->m) || !overhead_pct(res, r, &pct))
            continue;
        const result *v =
            results_find(res, M_VAULT, r->o == OP_ENCRYPT ? OP_ENCRYPT : OP_DECRYPT, r->size);
        const fixed_cost *fc = &res->fixed[r->m];
        double fixed_us = r->o == OP_ENCRYPT   ? fc->encrypt_us
                          : r->o == OP_DECRYPT ? fc->decrypt_us
                                               : fc->decrypt_us + fc->check_us;
        fprintf(o,
                "%s\n    {\"mode\": \"%s\", \"op\": \"%s\", \"size\": %zu, \"overhead_pct\": "
                "%.3f, \"fixed_share_pct\": %.5f}",
                first ? "" : ",", mode_names[r->m], op_names[r->o], r->size, pct,
                res->have_fixed[r->m] ? fixed_us / (v->median * 1e6) * 100.0 : 0.0);
        first = 0;
    }
    fprintf(o, "%s]\n}\n", first ? "" : "\n  ");
}

static void print_csv(FILE *o, const settings *set, const machine *mc, const results *res) {
    fprintf(o, "mode,op,size,threads,backend,reps,median_s,min_s,max_s,spread_pct,mib_per_s,"
               "per_file_us\n");
    for (size_t i = 0; i < res->len; i++) {
        const result *r = &res->items[i];
        fprintf(o, "%s,%s,%zu,%u,%s,%u,%.9f,%.9f,%.9f,%.2f,%.2f,%.3f\n", mode_names[r->m],
                op_names[r->o], r->size, resolved_threads(set, mc), backend_name(set->backend),
                r->reps, r->median, r->min, r->max, spread_pct(r), mib_per_s(r), r->median * 1e6);
    }
}

static void human_time(double s, char *out, size_t cap) {
    if (s >= 1.0)
        snprintf(out, cap, "%.3f s", s);
    else if (s >= 1e-3)
        snprintf(out, cap, "%.3f ms", s * 1e3);
    else
        snprintf(out, cap, "%.1f us", s * 1e6);
}

static void table_rows(FILE *o, const results *res, int passphrase) {
    fprintf(o, "%-17s %-18s %8s %11s %11s %11s %7s %10s %5s\n", "mode", "op", "size", "median",
            "min", "max", "spread", "MiB/s", "runs");
    for (size_t i = 0; i < res->len; i++) {
        const result *r = &res->items[i];
        if ((r->m == M_PASSPHRASE) != passphrase)
            continue;
        char sz[32], med[32], mn[32], mx[32];
        human_size(r->size, sz, sizeof sz);
        human_time(r->median, med, sizeof med);
        human_time(r->min, mn, sizeof mn);
        human_time(r->max, mx, sizeof mx);
        fprintf(o, "%-17s %-18s %8s %11s %11s %11s %6.1f%% %10.1f %5u\n", mode_names[r->m],
                op_names[r->o], sz, med, mn, mx, spread_pct(r), mib_per_s(r), r->reps);
    }
}

static void print_table(FILE *o, const settings *set, const machine *mc, const results *res) {
    fprintf(o, "doormat %s bench: %ld CPUs (%s), %s, libsodium %s\n", DM_VERSION, mc->cpus,
            mc->cpu_model, openssl_version(), sodium_version_string());
    fprintf(o,
            "in-process, memory to %s sink; %u payload thread%s, %s ChaCha20-Poly1305; "
            "median of the runs after %u warm-up run%s\n\n",
            sink_names[set->sink], resolved_threads(set, mc),
            resolved_threads(set, mc) == 1 ? "" : "s", backend_name(set->backend), set->warmup,
            set->warmup == 1 ? "" : "s");
    int any = 0, any_pass = 0;
    for (size_t i = 0; i < res->len; i++) {
        if (res->items[i].m == M_PASSPHRASE)
            any_pass = 1;
        else
            any = 1;
    }
    if (any)
        table_rows(o, res, 0);
    if (any_pass) {
        fprintf(o, "%sPassphrase (scrypt, work factor 2^18: slow on purpose, no warm-up):\n",
                any ? "\n" : "");
        table_rows(o, res, 1);
    }
    int any_fixed = 0;
    for (int m = 0; m < M__COUNT; m++)
        any_fixed |= res->have_fixed[m];
    if (any_fixed) {
        fprintf(o, "\nEscrow fixed cost per file, microseconds (median of %u):\n", FIXED_COST_REPS);
        fprintf(o, "%-17s %12s %12s %12s\n", "mode", "encrypt", "decrypt", "check");
        for (int m = 0; m < M__COUNT; m++)
            if (res->have_fixed[m])
                fprintf(o, "%-17s %12.1f %12.1f %12.1f\n", mode_names[m], res->fixed[m].encrypt_us,
                        res->fixed[m].decrypt_us, res->fixed[m].check_us);
        fprintf(o, "(encrypt: the escrow recipient's wrap; decrypt: escrowed minus plain 1 KiB "
                   "decrypt, alternated;\n check: the compliant check alone)\n");
    }
    int any_over = 0;
    for (size_t i = 0; i < res->len; i++) {
        const result *r = &res->items[i];
        double pct;
        if (!is_escrow(r->m) || !overhead_pct(res, r, &pct))
            continue;
        if (!any_over)
            fprintf(o, "\nEscrow against the plain vault, same op and size (median vs median):\n");
        any_over = 1;
        char sz[32];
        human_size(r->size, sz, sizeof sz);
        fprintf(o, "%-17s %-18s %8s %+9.2f %%\n", mode_names[r->m], op_names[r->o], sz, pct);
    }
}

/* ------------------------------------------------------------ the command */

static void settings_defaults(settings *s) {
    memset(s, 0, sizeof *s);
    static const size_t sizes[] = {(size_t)1 << 10, (size_t)64 << 10, (size_t)1 << 20,
                                   (size_t)64 << 20, (size_t)1 << 30};
    memcpy(s->sizes, sizes, sizeof sizes);
    s->n_sizes = sizeof sizes / sizeof sizes[0];
    for (int m = 0; m < M__COUNT; m++)
        s->modes[m] = 1;
    s->reps = 5;
    s->warmup = 1;
    s->backend = DM_AEAD_OPENSSL;
    s->sink = SINK_NULL;
}

int cmd_bench(int argc, char **argv) {
    settings set;
    settings_defaults(&set);
    int have_sizes = 0, have_modes = 0, have_reps = 0, no_progress = 0;
    unsigned long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", bench_longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SIZES:
            if (parse_sizes(optarg, &set) != 0)
                return cli_usage_error("bench: --sizes wants sizes like 1KiB,64KiB,1MiB (at most "
                                       "%d, each up to 4GiB), not \"%s\"",
                                       MAX_SIZES, optarg);
            have_sizes = 1;
            break;
        case OPT_MODES:
            if (parse_modes(optarg, &set) != 0)
                return cli_usage_error("bench: --modes wants vault, vault-passphrase, escrow-1of1 "
                                       "or escrow-2of3, not \"%s\"",
                                       optarg);
            have_modes = 1;
            break;
        case OPT_REPS:
            if (parse_unsigned(optarg, MAX_REPS, &v) != 0 || v == 0)
                return cli_usage_error("bench: --reps wants a number from 1 to %u, not \"%s\"",
                                       MAX_REPS, optarg);
            set.reps = (unsigned)v;
            have_reps = 1;
            break;
        case OPT_WARMUP:
            if (parse_unsigned(optarg, MAX_WARMUP, &v) != 0)
                return cli_usage_error("bench: --warmup wants a number from 0 to %u, not \"%s\"",
                                       MAX_WARMUP, optarg);
            set.warmup = (unsigned)v;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &set.threads) != DM_OK)
                return cli_usage_error("bench: --threads wants a number from 0 to %u, not \"%s\"",
                                       CLI_MAX_THREADS, optarg);
            break;
        case OPT_BACKEND:
            if (strcmp(optarg, "openssl") == 0)
                set.backend = DM_AEAD_OPENSSL;
            else if (strcmp(optarg, "sodium") == 0)
                set.backend = DM_AEAD_SODIUM;
            else if (strcmp(optarg, "auto") == 0)
                set.backend = DM_AEAD_AUTO;
            else
                return cli_usage_error("bench: --backend wants openssl, sodium or auto, not \"%s\"",
                                       optarg);
            break;
        case OPT_SINK: {
            int found = 0;
            for (int k = 0; k < 3; k++)
                if (strcmp(optarg, sink_names[k]) == 0) {
                    set.sink = (sink_kind)k;
                    found = 1;
                }
            if (!found)
                return cli_usage_error("bench: --sink wants null, memory or devnull, not \"%s\"",
                                       optarg);
            break;
        }
        case OPT_QUICK:
            set.quick = 1;
            break;
        case OPT_JSON:
            set.json = 1;
            break;
        case OPT_CSV:
            set.csv = 1;
            break;
        case OPT_NO_PROGRESS:
            no_progress = 1;
            break;
        case 'h':
            return cli_help(bench_usage);
        default:
            return cli_bad_option("bench", argv, c);
        }
    }
    if (optind < argc)
        return cli_usage_error("bench: unexpected argument \"%s\" (see doormat bench --help)",
                               argv[optind]);
    if (set.json && set.csv)
        return cli_usage_error("bench: --json and --csv can't be used together");
    if (set.quick) {
        if (!have_sizes) {
            set.n_sizes = 3;
            set.sizes[0] = (size_t)1 << 10;
            set.sizes[1] = (size_t)64 << 10;
            set.sizes[2] = (size_t)1 << 20;
        }
        if (!have_modes) {
            memset(set.modes, 0, sizeof set.modes);
            set.modes[M_VAULT] = set.modes[M_ESCROW_1OF1] = set.modes[M_ESCROW_2OF3] = 1;
        }
        if (!have_reps)
            set.reps = 5;
    }
    set.progress = !no_progress && isatty(STDERR_FILENO);

    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    machine mc;
    machine_facts(&mc);
    fixture f;
    results res = {0};
    int err = fixture_open(&f, &set);
    if (err == DM_OK)
        err = run_all(&f, &res);
    progress_clear(&f);
    fixture_close(&f);
    if (err != DM_OK) {
        free(res.items);
        return cli_fail(err, "bench");
    }
    if (set.json)
        print_json(stdout, &set, &mc, &res);
    else if (set.csv)
        print_csv(stdout, &set, &mc, &res);
    else
        print_table(stdout, &set, &mc, &res);
    free(res.items);
    if (fflush(stdout) != 0)
        return cli_fail(DM_ERR_IO, "bench: standard output");
    return DM_EXIT_OK;
}
