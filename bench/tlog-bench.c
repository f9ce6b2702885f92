/* tlog-bench: the transparency log's figures (docs/benchmarks.md).
 *
 *   tlog-bench append DIR N [BATCH]   grow a fresh log at DIR to N entries of
 *                                     about 280 bytes, committing every BATCH
 *                                     (default 1000); prints the rate per
 *                                     stretch, proof sizes and bytes per entry;
 *                                     DIR.vkey gets the log's verifier key
 *   tlog-bench monitor DIR [K]        verify the log from nothing, then (with
 *                                     K) append K entries and catch up on them
 *                                     from the earlier checkpoint
 *   tlog-bench prove DIR index I      a C2SP tlog-proof of entry I (extra: the
 *                                     entry), for the independent verifier
 *   tlog-bench prove DIR since N      a tlog-witness add-checkpoint body from
 *                                     size N to the current checkpoint
 *
 * In-process, on the public API (include/doormat/tlog.h); wall-clock times. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "doormat/tlog.h"
#include "doormat/vault.h" /* dm_init, dm_strerror */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err) {
    fprintf(stderr, "tlog-bench: %s: %s: %s\n", what, dm_strerror(err), dm_err_detail());
    exit(1);
}

/* An entry shaped like a release entry (docs/escrow-format.md). */
static size_t entry(uint64_t i, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap,
                            "doormat-escrow-release/v1\ntime: 2026-11-29T18:00:00Z\n"
                            "authority: 64e71520e7dc6faa96340939e04ac67d\nagent: doj\n"
                            "warrant: %064" PRIx64 "\ncase: %064" PRIx64 "\nfile: %032" PRIx64
                            "\nrequester: bench\n",
                            i, i * 7, i * 13);
}

static uint64_t du(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_size;
    uint64_t total = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        total += du(p);
    }
    if (d)
        closedir(d);
    return total;
}

static dm_tlog_signer *key_for(const char *dir) {
    char path[4096], text[512];
    snprintf(path, sizeof path, "%s.key", dir);
    FILE *f = fopen(path, "r");
    dm_tlog_signer *s = NULL;
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        int err = dm_tlog_signer_parse(text, n, &s);
        if (err)
            die("signer key", err);
        return s;
    }
    char *sk, *vk;
    int err = dm_tlog_key_generate("bench.doormat.example/log", DM_TLOG_SIG_ED25519, &sk, &vk);
    if (err)
        die("key", err);
    f = fopen(path, "w");
    fprintf(f, "%s\n", sk);
    fclose(f);
    snprintf(path, sizeof path, "%s.vkey", dir);
    f = fopen(path, "w");
    fprintf(f, "%s\n", vk);
    fclose(f);
    err = dm_tlog_signer_parse(sk, strlen(sk), &s);
    if (err)
        die("key", err);
    dm_secret_free(sk);
    free(vk);
    return s;
}

static int cmd_append(const char *dir, uint64_t n, uint64_t batch) {
    dm_tlog_signer *key = key_for(dir);
    struct stat st;
    char cp[4096];
    snprintf(cp, sizeof cp, "%s/checkpoint", dir);
    int err = stat(cp, &st) == 0 ? DM_OK : dm_tlog_log_create(dir, key);
    if (err)
        die("create", err);
    dm_tlog_log *l;
    err = dm_tlog_log_open(dir, key, &l);
    if (err)
        die("open", err);
    if (n < dm_tlog_log_size(l))
        n = dm_tlog_log_size(l);
    uint64_t start = dm_tlog_log_size(l), marks[] = {1000, 10000, 100000, 1000000, 10000000};
    double t0 = now(), tm = t0;
    uint64_t last = start;
    char buf[512];
    for (uint64_t i = start; i < n; i++) {
        err = dm_tlog_log_append(l, (const uint8_t *)buf, entry(i, buf, sizeof buf), NULL);
        if (!err && ((i + 1) % batch == 0 || i + 1 == n))
            err = dm_tlog_log_commit(l);
        if (err)
            die("append", err);
        for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++)
            if (i + 1 == marks[m] || i + 1 == n) {
                double t = now();
                printf("size %9" PRIu64 ": %8.0f entries/s over the last %" PRIu64
                       " (batch %" PRIu64 ")\n",
                       i + 1, (double)(i + 1 - last) / (t - tm), i + 1 - last, batch);
                tm = t;
                last = i + 1;
                break;
            }
    }
    double total = now() - t0;
    uint64_t size = dm_tlog_log_size(l);
    dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
    size_t np = 0, nc = 0;
    int perr = DM_OK;
    if (size > 0)
        perr = dm_tlog_log_prove_inclusion(l, size / 3, size, proof, &np);
    if (perr == DM_OK && size > 1)
        perr = dm_tlog_log_prove_consistency(l, size / 2 + 1, size, proof, &nc);
    dm_tlog_log_free(l);
    if (perr != DM_OK) {
        fprintf(stderr, "tlog-bench: a proof of the log failed: %s: %s\n", dm_strerror(perr),
                dm_err_detail());
        dm_tlog_signer_free(key);
        return 1;
    }
    uint64_t bytes = du(dir);
    printf("appended %" PRIu64 " entries in %.2f s (%.0f/s); log of %" PRIu64 "\n", n - start,
           total, n > start ? (double)(n - start) / total : 0.0, size);
    printf("inclusion proof: %zu hashes (%zu bytes); consistency proof: %zu hashes\n", np, np * 32,
           nc);
    printf("storage: %" PRIu64 " bytes, %.1f bytes per entry (entries of %zu bytes)\n", bytes,
           (double)bytes / (double)size, entry(0, buf, sizeof buf));
    dm_tlog_signer_free(key);
    return 0;
}

static int count(void *ctx, uint64_t index, const uint8_t *e, size_t len) {
    (void)index;
    (void)e;
    (void)len;
    (*(uint64_t *)ctx)++;
    return DM_OK;
}

static int read_checkpoint(const char *dir, const dm_tlog_verifier *v, dm_tlog_checkpoint *c) {
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(dir);
    uint8_t *data;
    size_t len;
    int err = f.fetch(f.ctx, "checkpoint", &data, &len);
    if (!err)
        err = dm_tlog_checkpoint_open((const char *)data, len, v, NULL, 0, 0, c);
    free(data);
    dm_tlog_fetcher_clear(&f);
    return err;
}

static int cmd_monitor(const char *dir, uint64_t k) {
    dm_tlog_signer *key = key_for(dir);
    const dm_tlog_verifier *v = dm_tlog_signer_verifier(key);
    dm_tlog_checkpoint c, c2;
    int err = read_checkpoint(dir, v, &c);
    if (err)
        die("checkpoint", err);
    uint64_t seen = 0;
    double t0 = now();
    err = dm_tlog_verify_log(dm_tlog_dir_fetcher(dir), &c, count, &seen);
    if (err)
        die("verify", err);
    printf("verified %" PRIu64 " entries from nothing in %.2f s\n", seen, now() - t0);
    if (k == 0)
        return 0;
    dm_tlog_log *l;
    err = dm_tlog_log_open(dir, key, &l);
    char buf[512];
    for (uint64_t i = 0; !err && i < k; i++)
        err = dm_tlog_log_append(l, (const uint8_t *)buf, entry(c.size + i, buf, sizeof buf), NULL);
    if (!err)
        err = dm_tlog_log_commit(l);
    dm_tlog_log_free(l);
    if (!err)
        err = read_checkpoint(dir, v, &c2);
    if (err)
        die("append", err);
    seen = 0;
    t0 = now();
    err = dm_tlog_catch_up(dm_tlog_dir_fetcher(dir), &c, &c2, count, &seen);
    if (err)
        die("catch up", err);
    printf("caught up on %" PRIu64 " new entries (%" PRIu64 " -> %" PRIu64 ") in %.3f s\n", seen,
           c.size, c2.size, now() - t0);
    dm_tlog_signer_free(key);
    return 0;
}

static int cmd_prove(const char *dir, const char *what, uint64_t n) {
    dm_tlog_signer *key = key_for(dir);
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(dir);
    uint8_t *cp;
    size_t cp_len;
    dm_tlog_checkpoint c;
    dm_tlog_reader *r = NULL;
    char *out = NULL;
    size_t out_len = 0;
    int err = f.fetch(f.ctx, "checkpoint", &cp, &cp_len);
    if (!err)
        err = dm_tlog_checkpoint_open((const char *)cp, cp_len, dm_tlog_signer_verifier(key), NULL,
                                      0, 0, &c);
    if (!err)
        err = dm_tlog_reader_new(f, c.size, &r);
    if (!err && strcmp(what, "index") == 0) {
        dm_tlog_proof p = {.index = n, .checkpoint = (char *)cp, .checkpoint_len = cp_len};
        err = dm_tlog_reader_entry(r, n, &p.extra, &p.extra_len);
        if (!err)
            err = dm_tlog_prove_inclusion(dm_tlog_reader_hash, r, n, c.size, p.path, &p.n);
        if (!err)
            err = dm_tlog_proof_format(&p, &out, &out_len);
        free(p.extra);
    } else if (!err) {
        dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
        size_t np = 0;
        err = dm_tlog_prove_consistency(dm_tlog_reader_hash, r, n, c.size, proof, &np);
        if (!err)
            err = dm_tlog_witness_request(n, proof, np, (const char *)cp, cp_len, &out, &out_len);
    }
    if (err)
        die("prove", err);
    fwrite(out, 1, out_len, stdout);
    free(out);
    free(cp);
    dm_tlog_reader_free(r);
    dm_tlog_signer_free(key);
    return 0;
}

int main(int argc, char **argv) {
    if (dm_init() != DM_OK)
        return 1;
    if (argc >= 4 && strcmp(argv[1], "append") == 0)
        return cmd_append(argv[2], strtoull(argv[3], NULL, 10),
                          argc > 4 ? strtoull(argv[4], NULL, 10) : 1000);
    if (argc >= 3 && strcmp(argv[1], "monitor") == 0)
        return cmd_monitor(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) : 0);
    if (argc == 5 && strcmp(argv[1], "prove") == 0 &&
        (strcmp(argv[3], "index") == 0 || strcmp(argv[3], "since") == 0))
        return cmd_prove(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    fprintf(stderr,
            "usage: tlog-bench append DIR N [BATCH] | monitor DIR [K] | prove DIR index|since N\n");
    return 2;
}
