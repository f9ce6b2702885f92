/* The benchmark engine (bench/engine.h): a fixture of keys and plaintext,
 * warm-up and timed runs of whole dm_encrypt and dm_decrypt calls, and the
 * escrow's fixed cost per file. Every figure is a measurement of this run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "doormat/escrow.h"
#include "engine.h"

const char *const dm_bench_mode_names[DM_BENCH_N_MODES] = {"vault", "vault-passphrase",
                                                           "escrow-1of1", "escrow-2of3"};
const char *const dm_bench_op_names[DM_BENCH_N_OPS] = {"encrypt", "decrypt", "decrypt-compliant"};
const char *const dm_bench_sink_names[DM_BENCH_N_SINKS] = {"null", "memory", "devnull"};

#define SMALL_SIZE ((size_t)1 << 20)
#define SMALL_MIN_REPS 100u
#define FIXED_COST_SIZE 1024u
#define PASSPHRASE "doormat bench passphrase"

/* ------------------------------------------------------------ dm_bench_results */

static int results_add(dm_bench_results *r, const dm_bench_result *x) {
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        dm_bench_result *n = realloc(r->items, cap * sizeof *n);
        if (n == NULL)
            return DM_ERR_NOMEM;
        r->items = n;
        r->cap = cap;
    }
    r->items[r->len++] = *x;
    return DM_OK;
}

const dm_bench_result *dm_bench_results_find(const dm_bench_results *r, dm_bench_mode m,
                                             dm_bench_op o, size_t size) {
    for (size_t i = 0; i < r->len; i++)
        if (r->items[i].m == m && r->items[i].o == o && r->items[i].size == size)
            return &r->items[i];
    return NULL;
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
    const dm_bench_settings *set;
    uint8_t *plain;
    size_t plain_len;
    dm_recipient *x25519;
    dm_identity *x25519_id;
    dm_recipient *scrypt;
    dm_identity *scrypt_id;
    dm_escrow_authority *auth[DM_BENCH_N_MODES];
    dm_recipient *escrow[DM_BENCH_N_MODES];
    dm_escrow_policy policy[DM_BENCH_N_MODES];
    dm_membuf memsink; /* for --sink memory */
    int devnull;
    size_t step, steps; /* for the progress callback */
} fixture;

int dm_bench_is_escrow(dm_bench_mode m) {
    return m == DM_BENCH_ESCROW_1OF1 || m == DM_BENCH_ESCROW_2OF3;
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

static int fixture_open(fixture *f, const dm_bench_settings *set) {
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
    if (err == DM_OK && set->modes[DM_BENCH_PASSPHRASE]) {
        err = dm_scrypt_recipient_new(PASSPHRASE, sizeof PASSPHRASE - 1, 0, &f->scrypt);
        if (err == DM_OK)
            err = dm_scrypt_identity_new(PASSPHRASE, sizeof PASSPHRASE - 1, 0, &f->scrypt_id);
    }
    static const char *const three[] = {"alice", "bob", "carol"};
    for (int m = 0; m < DM_BENCH_N_MODES && err == DM_OK; m++) {
        if (!dm_bench_is_escrow((dm_bench_mode)m) || !set->modes[m])
            continue;
        dm_escrow_agent_key **keys = NULL;
        dm_escrow_court_key *court = NULL;
        size_t n = m == DM_BENCH_ESCROW_2OF3 ? 3 : 1;
        err = dm_escrow_authority_new(
            dm_bench_mode_names[m], m == DM_BENCH_ESCROW_2OF3 ? three : NULL,
            m == DM_BENCH_ESCROW_2OF3 ? 3 : 0, m == DM_BENCH_ESCROW_2OF3 ? 2 : 1, &f->auth[m],
            &keys, &court);
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
    if (err == DM_OK && set->sink == DM_BENCH_SINK_DEVNULL &&
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
    for (int m = 0; m < DM_BENCH_N_MODES; m++) {
        dm_recipient_free(f->escrow[m]);
        dm_escrow_authority_free(f->auth[m]);
    }
    free(f->memsink.buf);
    if (f->devnull >= 0)
        close(f->devnull);
}

static size_t mode_recipients(const fixture *f, dm_bench_mode m, dm_recipient *out[2]) {
    if (m == DM_BENCH_PASSPHRASE) {
        out[0] = f->scrypt;
        return 1;
    }
    out[0] = f->x25519;
    if (dm_bench_is_escrow(m)) {
        out[1] = f->escrow[m];
        return 2;
    }
    return 1;
}

static dm_sink bench_sink(fixture *f) {
    switch (f->set->sink) {
    case DM_BENCH_SINK_MEMORY:
        f->memsink.len = 0;
        return dm_sink_mem(&f->memsink);
    case DM_BENCH_SINK_DEVNULL:
        return dm_sink_fd(&f->devnull);
    case DM_BENCH_SINK_NULL:
    default:
        return dm_sink_null();
    }
}

/* Grows the memory sink once, outside the timed runs. */
static int reserve_sink(fixture *f, size_t n) {
    if (f->set->sink != DM_BENCH_SINK_MEMORY || f->memsink.cap >= n)
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

static int do_encrypt(fixture *f, dm_bench_mode m, size_t size, dm_sink sink) {
    dm_recipient *r[2];
    size_t n = mode_recipients(f, m, r);
    dm_membuf in = {.data = f->plain, .len = size};
    dm_encrypt_opts opts = {.threads = f->set->threads, .backend = f->set->backend};
    return dm_encrypt(dm_source_mem(&in), sink, r, n, &opts);
}

static int do_decrypt(fixture *f, dm_bench_mode m, const dm_membuf *ct, int compliant, dm_sink sink,
                      uint8_t *file_key_out) {
    dm_identity *id = m == DM_BENCH_PASSPHRASE ? f->scrypt_id : f->x25519_id;
    dm_membuf in = {.data = ct->buf, .len = ct->len};
    dm_decrypt_opts opts = {.threads = f->set->threads, .backend = f->set->backend};
    opts.file_key_out = file_key_out;
    /* Escrow stanzas may stand beside a passphrase in the escrow modes. */
    id->beside = dm_bench_is_escrow(m) ? dm_escrow_beside : NULL;
    if (compliant) {
        opts.policy = dm_escrow_policy_check;
        opts.policy_ctx = &f->policy[m];
    }
    return dm_decrypt(dm_source_mem(&in), sink, &id, 1, &opts);
}

static unsigned reps_for(const dm_bench_settings *set, dm_bench_mode m, size_t size) {
    unsigned reps = set->reps;
    if (m != DM_BENCH_PASSPHRASE && size < SMALL_SIZE && reps < SMALL_MIN_REPS)
        reps = SMALL_MIN_REPS;
    return reps;
}

/* Times one (mode, op, size): warm-up runs, then reps timed runs. */
static int measure(fixture *f, dm_bench_mode m, dm_bench_op o, size_t size, const dm_membuf *ct,
                   dm_bench_result *out) {
    unsigned reps = reps_for(f->set, m, size);
    unsigned warmup = m == DM_BENCH_PASSPHRASE ? 0 : f->set->warmup;
    double *t = malloc(reps * sizeof *t);
    if (t == NULL)
        return dm_fail(DM_ERR_NOMEM, "timings");
    int err = DM_OK;
    for (unsigned i = 0; i < warmup + reps && err == DM_OK; i++) {
        if (i >= warmup && (size >= SMALL_SIZE || m == DM_BENCH_PASSPHRASE))
            if (f->set->progress)
                f->set->progress(f->set->progress_ctx, m, o, size, f->step, f->steps,
                                 i - warmup + 1, reps);
        dm_sink sink = bench_sink(f);
        double t0 = now_s();
        err = o == DM_BENCH_ENCRYPT
                  ? do_encrypt(f, m, size, sink)
                  : do_decrypt(f, m, ct, o == DM_BENCH_DECRYPT_COMPLIANT, sink, NULL);
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
static int make_ciphertext(fixture *f, dm_bench_mode m, size_t size, dm_membuf *ct) {
    memset(ct, 0, sizeof *ct);
    return do_encrypt(f, m, size, dm_sink_mem(ct));
}

/* ------------------------------------------------ escrow fixed cost per file */

static int fixed_costs(fixture *f, dm_bench_mode m, dm_bench_fixed_cost *fc) {
    const unsigned n = DM_BENCH_FIXED_COST_REPS;
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
        dm_stanza_list_clear(&list);
        if (i >= 10)
            a[i - 10] = t1 - t0;
    }
    if (err == DM_OK)
        fc->encrypt_us = median_of(a, n) * 1e6;

    /* Decrypt: an escrowed and a plain 1 KiB file, decrypted alternately; the
     * median of the differences (the escrow stanzas are parsed and MACed, and
     * skipped by the X25519 identity). */
    if (err == DM_OK)
        err = make_ciphertext(f, DM_BENCH_VAULT, FIXED_COST_SIZE, &vault_ct);
    if (err == DM_OK)
        err = make_ciphertext(f, m, FIXED_COST_SIZE, &escrow_ct);
    for (unsigned i = 0; i < n + 10 && err == DM_OK; i++) {
        double t0 = now_s();
        err = do_decrypt(f, DM_BENCH_VAULT, &vault_ct, 0, dm_sink_null(), NULL);
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
        dm_header_clear(&hdr);
    free(vault_ct.buf);
    free(escrow_ct.buf);
    dm_secret_free(file_key);
    free(a);
    return err;
}

/* ------------------------------------------------------------ the run */

static int run_all(fixture *f, dm_bench_results *res) {
    static const dm_membuf no_ciphertext; /* encrypt reads the plaintext */
    const dm_bench_settings *set = f->set;
    f->steps = 0;
    for (size_t s = 0; s < set->n_sizes; s++)
        for (int m = 0; m < DM_BENCH_N_MODES; m++)
            if (set->modes[m])
                f->steps += dm_bench_is_escrow((dm_bench_mode)m) ? 3 : 2;
    int err = DM_OK;
    for (size_t s = 0; s < set->n_sizes && err == DM_OK; s++) {
        size_t size = set->sizes[s];
        for (int mi = 0; mi < DM_BENCH_N_MODES && err == DM_OK; mi++) {
            dm_bench_mode m = (dm_bench_mode)mi;
            if (!set->modes[m])
                continue;
            /* Ciphertext: size plus a tag per chunk, plus the header. */
            err = reserve_sink(f, size + (size / DM_CHUNK_SIZE + 1) * DM_TAG_LEN + 4096);
            dm_bench_result r;
            if (err == DM_OK) {
                f->step++;
                err = measure(f, m, DM_BENCH_ENCRYPT, size, &no_ciphertext, &r);
            }
            if (err == DM_OK)
                err = results_add(res, &r);
            dm_membuf ct = {0};
            if (err == DM_OK)
                err = make_ciphertext(f, m, size, &ct);
            int n_ops = dm_bench_is_escrow(m) ? 3 : 2;
            for (int o = DM_BENCH_DECRYPT; o < n_ops && err == DM_OK; o++) {
                f->step++;
                err = measure(f, m, (dm_bench_op)o, size, &ct, &r);
                if (err == DM_OK)
                    err = results_add(res, &r);
            }
            free(ct.buf);
        }
    }
    for (int m = 0; m < DM_BENCH_N_MODES && err == DM_OK; m++) {
        if (!dm_bench_is_escrow((dm_bench_mode)m) || !set->modes[m])
            continue;
        err = fixed_costs(f, (dm_bench_mode)m, &res->fixed[m]);
        res->have_fixed[m] = err == DM_OK;
    }
    return err;
}

/* ------------------------------------------------------------ machine facts */

void dm_bench_machine_facts(dm_bench_machine *mc) {
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

unsigned dm_bench_threads(const dm_bench_settings *set, const dm_bench_machine *mc) {
    if (set->threads != 0)
        return set->threads;
    return mc->cpus > 0 ? (unsigned)mc->cpus : 1;
}

int dm_bench_run(const dm_bench_settings *set, dm_bench_results *res) {
    memset(res, 0, sizeof *res);
    fixture f;
    int err = fixture_open(&f, set);
    if (err == DM_OK)
        err = run_all(&f, res);
    fixture_close(&f);
    return err;
}

void dm_bench_results_free(dm_bench_results *res) {
    free(res->items);
    memset(res, 0, sizeof *res);
}
