/* doormat bench: times encrypt and decrypt inside this process, from memory
 * to a null sink (or memory, or /dev/null), so that the crypto path is what is
 * measured. Every figure printed is a measurement of this run. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "engine.h"

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

#define MAX_REPS 100000u
#define MAX_WARMUP 1000u
#define MAX_SIZE ((size_t)4 << 30)

typedef struct settings {
    dm_bench_settings run;
    int quick, json, csv;
} settings;

/* ------------------------------------------------------------ parsing */

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
    s->run.n_sizes = 0;
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (s->run.n_sizes == DM_BENCH_MAX_SIZES ||
            parse_size(p, len, &s->run.sizes[s->run.n_sizes]) != 0)
            return -1;
        s->run.n_sizes++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int parse_modes(const char *arg, settings *s) {
    memset(s->run.modes, 0, sizeof s->run.modes);
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = 0;
        for (int m = 0; m < DM_BENCH_N_MODES; m++)
            if (strlen(dm_bench_mode_names[m]) == len &&
                memcmp(p, dm_bench_mode_names[m], len) == 0)
                s->run.modes[m] = found = 1;
        if (!found)
            return -1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
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

/* ------------------------------------------------------------ progress */

typedef struct progress_line {
    int shown;
} progress_line;

static void progress(void *ctx, dm_bench_mode m, dm_bench_op o, size_t size, size_t step,
                     size_t steps, unsigned rep, unsigned reps) {
    progress_line *p = ctx;
    char sz[32];
    human_size(size, sz, sizeof sz);
    fprintf(stderr, "\r\033[Kbench [%zu/%zu] %s %s %s: run %u of %u", step, steps,
            dm_bench_mode_names[m], dm_bench_op_names[o], sz, rep, reps);
    fflush(stderr);
    p->shown = 1;
}

static void progress_clear(progress_line *p) {
    if (p->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->shown = 0;
    }
}

static const char *openssl_version(void) {
    const char *v = dm_openssl_version();
    return v != NULL ? v : "OpenSSL (not loadable)";
}

static const char *backend_name(dm_aead_backend b) {
    return b == DM_AEAD_SODIUM ? "sodium" : b == DM_AEAD_AUTO ? "auto" : "openssl";
}

/* ------------------------------------------------------------ output */

static double mib_per_s(const dm_bench_result *r) {
    return r->median > 0 ? (double)r->size / r->median / 1048576.0 : 0;
}

static double spread_pct(const dm_bench_result *r) {
    return r->median > 0 ? (r->max - r->min) / r->median * 100.0 : 0;
}

/* (escrow - vault) / vault for the same op and size, when both were measured. */
static int overhead_pct(const dm_bench_results *res, const dm_bench_result *r, double *pct) {
    dm_bench_op base_op = r->o == DM_BENCH_DECRYPT_COMPLIANT ? DM_BENCH_DECRYPT : r->o;
    const dm_bench_result *v = dm_bench_results_find(res, DM_BENCH_VAULT, base_op, r->size);
    if (v == NULL || v->median <= 0)
        return 0;
    *pct = (r->median - v->median) / v->median * 100.0;
    return 1;
}

/* A figure as "%.<decimals>f" wrote it: the real that text names (so a
 * reader gets exactly it back; docs/benchmarks.md). */
static json_t *jfixed(double v, int decimals) {
    if (!isfinite(v))
        return json_null();
    char text[64];
    snprintf(text, sizeof text, "%.*f", decimals, v);
    return json_real(strtod(text, NULL));
}
#define JU(v) json_integer((json_int_t)(v))

/* json_pack, keeping the first failure's words in why (a later call that
 * succeeds leaves them). */
static json_t *bench_pack(json_error_t *why, const char *fmt, ...) {
    va_list ap;
    json_error_t e;
    va_start(ap, fmt);
    json_t *v = json_vpack_ex(&e, 0, fmt, ap);
    va_end(ap);
    if (!v && !why->text[0])
        snprintf(why->text, sizeof why->text, "%s", e.text[0] ? e.text : "out of memory");
    return v;
}

/* The doormat-bench/1 document (docs/benchmarks.md), indented by two; NULL
 * when it could not be made (why: in *why). */
static json_t *bench_json(const settings *set, const dm_bench_machine *mc,
                          const dm_bench_results *res, json_error_t *why) {
    unsigned threads = dm_bench_threads(&set->run, mc);
    const char *backend = backend_name(set->run.backend);
    json_t *sizes = json_array(), *modes = json_array(), *results = json_array(),
           *fixed = json_array(), *overhead = json_array();
    for (size_t i = 0; i < set->run.n_sizes; i++)
        json_array_append_new(sizes, JU(set->run.sizes[i]));
    for (int m = 0; m < DM_BENCH_N_MODES; m++)
        if (set->run.modes[m])
            json_array_append_new(modes, json_string(dm_bench_mode_names[m]));
    for (size_t i = 0; i < res->len; i++) {
        const dm_bench_result *r = &res->items[i];
        json_array_append_new(
            results,
            bench_pack(why, "{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "mode",
                       dm_bench_mode_names[r->m], "op", dm_bench_op_names[r->o], "size",
                       JU(r->size), "threads", JU(threads), "backend", backend, "reps", JU(r->reps),
                       "median_s", jfixed(r->median, 9), "min_s", jfixed(r->min, 9), "max_s",
                       jfixed(r->max, 9), "spread_pct", jfixed(spread_pct(r), 2), "mib_per_s",
                       jfixed(mib_per_s(r), 2), "per_file_us", jfixed(r->median * 1e6, 3)));
    }
    for (int m = 0; m < DM_BENCH_N_MODES; m++) {
        if (!res->have_fixed[m])
            continue;
        const dm_bench_fixed_cost *fc = &res->fixed[m];
        json_array_append_new(
            fixed, bench_pack(why, "{s:s, s:o, s:o, s:o}", "mode", dm_bench_mode_names[m],
                              "encrypt", jfixed(fc->encrypt_us, 3), "decrypt",
                              jfixed(fc->decrypt_us, 3), "check", jfixed(fc->check_us, 3)));
    }
    for (size_t i = 0; i < res->len; i++) {
        const dm_bench_result *r = &res->items[i];
        double pct;
        if (!dm_bench_is_escrow(r->m) || !overhead_pct(res, r, &pct))
            continue;
        const dm_bench_result *v = dm_bench_results_find(
            res, DM_BENCH_VAULT, r->o == DM_BENCH_ENCRYPT ? DM_BENCH_ENCRYPT : DM_BENCH_DECRYPT,
            r->size);
        const dm_bench_fixed_cost *fc = &res->fixed[r->m];
        double fixed_us = r->o == DM_BENCH_ENCRYPT   ? fc->encrypt_us
                          : r->o == DM_BENCH_DECRYPT ? fc->decrypt_us
                                                     : fc->decrypt_us + fc->check_us;
        json_array_append_new(
            overhead,
            bench_pack(
                why, "{s:s, s:s, s:o, s:o, s:o}", "mode", dm_bench_mode_names[r->m], "op",
                dm_bench_op_names[r->o], "size", JU(r->size), "overhead_pct", jfixed(pct, 3),
                "fixed_share_pct",
                jfixed(res->have_fixed[r->m] ? fixed_us / (v->median * 1e6) * 100.0 : 0.0, 5)));
    }
    json_t *doc = bench_pack(
        why,
        "{s:s, s:s, s:{s:o, s:s, s:s, s:s, s:s}, s:{s:b, s:o, s:o, s:o, s:o, s:s, s:s, s:o},"
        " s:o, s:o, s:o}",
        "schema", "doormat-bench/1", "doormat", DM_VERSION, "machine", "cpus_online", JU(mc->cpus),
        "cpu_model", mc->cpu_model, "kernel", mc->kernel, "openssl", openssl_version(), "libsodium",
        sodium_version_string(), "config", "quick", set->quick != 0, "sizes", sizes, "reps",
        JU(set->run.reps), "warmup", JU(set->run.warmup), "threads", JU(threads), "backend",
        backend, "sink", dm_bench_sink_names[set->run.sink], "modes", modes, "results", results,
        "escrow_fixed_cost_us", fixed, "escrow_overhead", overhead);
    if (doc && why->text[0]) { /* a row could not be made: no document */
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

/* Prints the document: DM_OK, or the error of a document that could not be
 * made or written. */
static int print_json(FILE *o, const settings *set, const dm_bench_machine *mc,
                      const dm_bench_results *res) {
    json_error_t why = {0};
    json_t *doc = bench_json(set, mc, res, &why);
    /* 15 significant digits: every figure comes out as the digits it was
     * rounded to (DBL_DIG). */
    int rc = doc ? json_dumpf(doc, o, JSON_INDENT(2) | JSON_REAL_PRECISION(DBL_DIG)) : -1;
    json_decref(doc);
    if (rc != 0)
        return dm_fail(DM_ERR_INTERNAL, "the JSON document: %s",
                       why.text[0] ? why.text : "cannot write it");
    fputc('\n', o);
    return DM_OK;
}

static void print_csv(FILE *o, const settings *set, const dm_bench_machine *mc,
                      const dm_bench_results *res) {
    fprintf(o, "mode,op,size,threads,backend,reps,median_s,min_s,max_s,spread_pct,mib_per_s,"
               "per_file_us\n");
    for (size_t i = 0; i < res->len; i++) {
        const dm_bench_result *r = &res->items[i];
        fprintf(o, "%s,%s,%zu,%u,%s,%u,%.9f,%.9f,%.9f,%.2f,%.2f,%.3f\n", dm_bench_mode_names[r->m],
                dm_bench_op_names[r->o], r->size, dm_bench_threads(&set->run, mc),
                backend_name(set->run.backend), r->reps, r->median, r->min, r->max, spread_pct(r),
                mib_per_s(r), r->median * 1e6);
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

static void table_rows(FILE *o, const dm_bench_results *res, int passphrase) {
    fprintf(o, "%-17s %-18s %8s %11s %11s %11s %7s %10s %5s\n", "mode", "op", "size", "median",
            "min", "max", "spread", "MiB/s", "runs");
    for (size_t i = 0; i < res->len; i++) {
        const dm_bench_result *r = &res->items[i];
        if ((r->m == DM_BENCH_PASSPHRASE) != passphrase)
            continue;
        char sz[32], med[32], mn[32], mx[32];
        human_size(r->size, sz, sizeof sz);
        human_time(r->median, med, sizeof med);
        human_time(r->min, mn, sizeof mn);
        human_time(r->max, mx, sizeof mx);
        fprintf(o, "%-17s %-18s %8s %11s %11s %11s %6.1f%% %10.1f %5u\n", dm_bench_mode_names[r->m],
                dm_bench_op_names[r->o], sz, med, mn, mx, spread_pct(r), mib_per_s(r), r->reps);
    }
}

static void print_table(FILE *o, const settings *set, const dm_bench_machine *mc,
                        const dm_bench_results *res) {
    fprintf(o, "doormat %s bench: %ld CPUs (%s), %s, libsodium %s\n", DM_VERSION, mc->cpus,
            mc->cpu_model, openssl_version(), sodium_version_string());
    fprintf(o,
            "in-process, memory to %s sink; %u payload thread%s, %s ChaCha20-Poly1305; "
            "median of the runs after %u warm-up run%s\n\n",
            dm_bench_sink_names[set->run.sink], dm_bench_threads(&set->run, mc),
            dm_bench_threads(&set->run, mc) == 1 ? "" : "s", backend_name(set->run.backend),
            set->run.warmup, set->run.warmup == 1 ? "" : "s");
    int any = 0, any_pass = 0;
    for (size_t i = 0; i < res->len; i++) {
        if (res->items[i].m == DM_BENCH_PASSPHRASE)
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
    for (int m = 0; m < DM_BENCH_N_MODES; m++)
        any_fixed |= res->have_fixed[m];
    if (any_fixed) {
        fprintf(o, "\nEscrow fixed cost per file, microseconds (median of %u):\n",
                DM_BENCH_FIXED_COST_REPS);
        fprintf(o, "%-17s %12s %12s %12s\n", "mode", "encrypt", "decrypt", "check");
        for (int m = 0; m < DM_BENCH_N_MODES; m++)
            if (res->have_fixed[m])
                fprintf(o, "%-17s %12.1f %12.1f %12.1f\n", dm_bench_mode_names[m],
                        res->fixed[m].encrypt_us, res->fixed[m].decrypt_us, res->fixed[m].check_us);
        fprintf(o, "(encrypt: the escrow recipient's wrap; decrypt: escrowed minus plain 1 KiB "
                   "decrypt, alternated;\n check: the compliant check alone)\n");
    }
    int any_over = 0;
    for (size_t i = 0; i < res->len; i++) {
        const dm_bench_result *r = &res->items[i];
        double pct;
        if (!dm_bench_is_escrow(r->m) || !overhead_pct(res, r, &pct))
            continue;
        if (!any_over)
            fprintf(o, "\nEscrow against the plain vault, same op and size (median vs median):\n");
        any_over = 1;
        char sz[32];
        human_size(r->size, sz, sizeof sz);
        fprintf(o, "%-17s %-18s %8s %+9.2f %%\n", dm_bench_mode_names[r->m],
                dm_bench_op_names[r->o], sz, pct);
    }
}

/* ------------------------------------------------------------ the command */

static void settings_defaults(settings *s) {
    memset(s, 0, sizeof *s);
    static const size_t sizes[] = {(size_t)1 << 10, (size_t)64 << 10, (size_t)1 << 20,
                                   (size_t)64 << 20, (size_t)1 << 30};
    memcpy(s->run.sizes, sizes, sizeof sizes);
    s->run.n_sizes = sizeof sizes / sizeof sizes[0];
    for (int m = 0; m < DM_BENCH_N_MODES; m++)
        s->run.modes[m] = 1;
    s->run.reps = 5;
    s->run.warmup = 1;
    s->run.backend = DM_AEAD_OPENSSL;
    s->run.sink = DM_BENCH_SINK_NULL;
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
                                       DM_BENCH_MAX_SIZES, optarg);
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
            if (cli_parse_ulong(optarg, 0, MAX_REPS, &v) != DM_OK || v == 0)
                return cli_usage_error("bench: --reps wants a number from 1 to %u, not \"%s\"",
                                       MAX_REPS, optarg);
            set.run.reps = (unsigned)v;
            have_reps = 1;
            break;
        case OPT_WARMUP:
            if (cli_parse_ulong(optarg, 0, MAX_WARMUP, &v) != DM_OK)
                return cli_usage_error("bench: --warmup wants a number from 0 to %u, not \"%s\"",
                                       MAX_WARMUP, optarg);
            set.run.warmup = (unsigned)v;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &set.run.threads) != DM_OK)
                return cli_usage_error("bench: --threads wants a number from 0 to %u, not \"%s\"",
                                       CLI_MAX_THREADS, optarg);
            break;
        case OPT_BACKEND:
            if (strcmp(optarg, "openssl") == 0)
                set.run.backend = DM_AEAD_OPENSSL;
            else if (strcmp(optarg, "sodium") == 0)
                set.run.backend = DM_AEAD_SODIUM;
            else if (strcmp(optarg, "auto") == 0)
                set.run.backend = DM_AEAD_AUTO;
            else
                return cli_usage_error("bench: --backend wants openssl, sodium or auto, not \"%s\"",
                                       optarg);
            break;
        case OPT_SINK: {
            int found = 0;
            for (int k = 0; k < 3; k++)
                if (strcmp(optarg, dm_bench_sink_names[k]) == 0) {
                    set.run.sink = (dm_bench_sink)k;
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
            set.run.n_sizes = 3;
            set.run.sizes[0] = (size_t)1 << 10;
            set.run.sizes[1] = (size_t)64 << 10;
            set.run.sizes[2] = (size_t)1 << 20;
        }
        if (!have_modes) {
            memset(set.run.modes, 0, sizeof set.run.modes);
            set.run.modes[DM_BENCH_VAULT] = set.run.modes[DM_BENCH_ESCROW_1OF1] =
                set.run.modes[DM_BENCH_ESCROW_2OF3] = 1;
        }
        if (!have_reps)
            set.run.reps = 5;
    }
    progress_line line = {0};
    if (!no_progress && isatty(STDERR_FILENO)) {
        set.run.progress = progress;
        set.run.progress_ctx = &line;
    }

    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    dm_bench_machine mc;
    dm_bench_machine_facts(&mc);
    dm_bench_results res;
    int err = dm_bench_run(&set.run, &res);
    progress_clear(&line);
    if (err != DM_OK) {
        dm_bench_results_free(&res);
        return cli_fail(err, "bench");
    }
    if (set.json)
        err = print_json(stdout, &set, &mc, &res);
    else if (set.csv)
        print_csv(stdout, &set, &mc, &res);
    else
        print_table(stdout, &set, &mc, &res);
    dm_bench_results_free(&res);
    if (err != DM_OK)
        return cli_fail(err, "bench");
    if (fflush(stdout) != 0)
        return cli_fail(DM_ERR_IO, "bench: standard output");
    return DM_EXIT_OK;
}
