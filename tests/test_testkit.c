/* The C2SP age testkit (tests/testkit/age, format in
 * tests/testkit/README.upstream.md): every vector must give its expected
 * outcome class, and the SHA-256 of all plaintext released before any
 * failure must equal its `payload`. Vectors whose identity is an ML-KEM
 * hybrid key (AGE-SECRET-KEY-PQ-1...) need OpenSSL 3.5 or later: a build
 * without it (dm_pq_available() is 0) skips exactly those, by name, and
 * counts them; a build with it runs all 143.
 *
 * The vectors are found at $DM_TESTKIT_DIR, else argv[1], else
 * tests/testkit/age from the working directory (run-unit.sh runs from the
 * repository root), else relative to this binary (build/tests/..). */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zlib.h>

#include "doormat/vault.h"
#include "testkit_load.h"

#define MAX_KEYS 8
#define EXPECTED_VECTORS 143
#define HYBRID_VECTORS 19

static char testkit_dir[PATH_MAX + 64];

typedef struct vector {
    char name[256];
    char expect[32];
    char payload[65]; /* hex SHA-256, empty when absent */
    char *identities[MAX_KEYS];
    size_t n_identities;
    char *passphrases[MAX_KEYS];
    size_t n_passphrases;
    int armored;
    int compressed;
    uint8_t *body;
    size_t body_len;
} vector;

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int locate_testkit(const char *arg) {
    const char *env = getenv("DM_TESTKIT_DIR");
    if (env && *env && is_dir(env)) {
        snprintf(testkit_dir, sizeof testkit_dir, "%s", env);
        return 0;
    }
    if (arg && is_dir(arg)) {
        snprintf(testkit_dir, sizeof testkit_dir, "%s", arg);
        return 0;
    }
    if (is_dir("tests/testkit/age")) {
        snprintf(testkit_dir, sizeof testkit_dir, "tests/testkit/age");
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        /* build/tests/test_testkit -> ../../tests/testkit/age */
        snprintf(testkit_dir, sizeof testkit_dir, "%s/../../tests/testkit/age", exe);
        if (is_dir(testkit_dir))
            return 0;
    }
    return -1;
}

static uint8_t *read_whole(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    *len_out = len;
    return buf;
}

static void vector_free(vector *v) {
    for (size_t i = 0; i < v->n_identities; i++)
        free(v->identities[i]);
    for (size_t i = 0; i < v->n_passphrases; i++)
        free(v->passphrases[i]);
    free(v->body);
    memset(v, 0, sizeof *v);
}

static void load_vector(const char *name, vector *v) {
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", testkit_dir, name);
    size_t len = 0;
    uint8_t *raw = read_whole(path, &len);
    assert_non_null(raw);

    size_t pos = 0;
    for (;;) {
        uint8_t *lf = memchr(raw + pos, '\n', len - pos);
        assert_non_null(lf);
        size_t n = (size_t)(lf - (raw + pos));
        char *line = strndup((const char *)raw + pos, n);
        assert_non_null(line);
        pos += n + 1;
        if (n == 0) {
            free(line);
            break;
        }
        char *colon = strstr(line, ": ");
        assert_non_null(colon);
        *colon = '\0';
        const char *key = line, *val = colon + 2;
        if (strcmp(key, "expect") == 0) {
            snprintf(v->expect, sizeof v->expect, "%s", val);
        } else if (strcmp(key, "payload") == 0) {
            assert_int_equal(strlen(val), 64);
            snprintf(v->payload, sizeof v->payload, "%s", val);
        } else if (strcmp(key, "identity") == 0) {
            assert_true(v->n_identities < MAX_KEYS);
            v->identities[v->n_identities++] = strdup(val);
        } else if (strcmp(key, "passphrase") == 0) {
            assert_true(v->n_passphrases < MAX_KEYS);
            v->passphrases[v->n_passphrases++] = strdup(val);
        } else if (strcmp(key, "armored") == 0) {
            v->armored = strcmp(val, "yes") == 0;
        } else if (strcmp(key, "compressed") == 0) {
            assert_string_equal(val, "zlib");
            v->compressed = 1;
        }
        free(line);
    }
    assert_true(v->expect[0] != '\0');
    if (v->compressed) {
        assert_int_equal(tk_inflate(raw + pos, len - pos, &v->body, &v->body_len), 0);
    } else {
        v->body_len = len - pos;
        v->body = malloc(v->body_len + 1);
        assert_non_null(v->body);
        memcpy(v->body, raw + pos, v->body_len);
    }
    free(raw);
}

static int is_hybrid(const vector *v) {
    for (size_t i = 0; i < v->n_identities; i++)
        if (strncmp(v->identities[i], "AGE-SECRET-KEY-PQ-1", 19) == 0)
            return 1;
    return 0;
}

static const char *outcome(int err) {
    switch (err) {
    case DM_OK:
        return "success";
    case DM_ERR_NO_MATCH:
        return "no match";
    case DM_ERR_HMAC:
        return "HMAC failure";
    case DM_ERR_HEADER:
        return "header failure";
    case DM_ERR_PAYLOAD:
        return "payload failure";
    case DM_ERR_ARMOR:
        return "armor failure";
    default:
        return dm_strerror(err);
    }
}

/* A sink that hashes everything the API releases. */
typedef struct hash_sink {
    crypto_hash_sha256_state st;
    size_t bytes;
} hash_sink;

static int hash_write(void *ctx, const uint8_t *buf, size_t n) {
    hash_sink *h = ctx;
    crypto_hash_sha256_update(&h->st, buf, n);
    h->bytes += n;
    return 0;
}

typedef struct run_config {
    unsigned threads;
    dm_aead_backend backend;
    const char *label;
} run_config;

static const run_config configs[] = {
    {1, DM_AEAD_OPENSSL, "sequential/openssl"},
    {4, DM_AEAD_SODIUM, "4 threads/sodium"},
};

/* Returns 1 when the vector behaves as expected under cfg; prints why not. */
static int run_vector(const vector *v, const run_config *cfg) {
    dm_identity *ids[2 * MAX_KEYS];
    size_t n_ids = 0;
    for (size_t i = 0; i < v->n_identities; i++) {
        int err = dm_identity_parse(v->identities[i], &ids[n_ids]);
        if (err != DM_OK) {
            printf("FAIL %s: identity does not parse: %s\n", v->name, dm_err_detail());
            return 0;
        }
        n_ids++;
    }
    for (size_t i = 0; i < v->n_passphrases; i++) {
        int err =
            dm_scrypt_identity_new(v->passphrases[i], strlen(v->passphrases[i]), 0, &ids[n_ids]);
        assert_int_equal(err, DM_OK);
        n_ids++;
    }

    dm_membuf in = {.data = v->body, .len = v->body_len};
    hash_sink h;
    crypto_hash_sha256_init(&h.st);
    h.bytes = 0;
    dm_sink out = {hash_write, &h};
    dm_decrypt_opts opts = {.threads = cfg->threads, .backend = cfg->backend};
    int err = dm_decrypt(dm_source_mem(&in), out, ids, n_ids, &opts);
    for (size_t i = 0; i < n_ids; i++)
        dm_identity_free(ids[i]);

    uint8_t digest[32];
    crypto_hash_sha256_final(&h.st, digest);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);

    const char *got = outcome(err);
    if (strcmp(got, v->expect) != 0) {
        printf("FAIL %s [%s]: expected %s, got %s (%s)\n", v->name, cfg->label, v->expect, got,
               dm_err_detail());
        return 0;
    }
    if (v->payload[0] != '\0' && strcmp(hex, v->payload) != 0) {
        printf("FAIL %s [%s]: expected %s with payload %s, got payload %s (%zu bytes)\n", v->name,
               cfg->label, v->expect, v->payload, hex, h.bytes);
        return 0;
    }
    /* Without a payload hash, nothing at all may have been released. */
    if (v->payload[0] == '\0' && h.bytes != 0) {
        printf("FAIL %s [%s]: expected %s and no plaintext, got %zu bytes released\n", v->name,
               cfg->label, v->expect, h.bytes);
        return 0;
    }
    return 1;
}

/* dm_inspect must read every header the decryptor reads, armored or not. */
static int inspect_vector(const vector *v) {
    if (strcmp(v->expect, "success") != 0)
        return 1;
    dm_membuf in = {.data = v->body, .len = v->body_len};
    dm_inspect_info info;
    int err = dm_inspect(dm_source_mem(&in), &info);
    int ok = err == DM_OK && info.armored == v->armored && info.chunks >= 1;
    if (!ok)
        printf("FAIL %s [inspect]: got %s, armored %d (want %d)\n", v->name, outcome(err),
               info.armored, v->armored);
    if (err == DM_OK || err == DM_ERR_PAYLOAD)
        dm_inspect_info_clear(&info);
    return ok;
}

static void test_testkit(void **state) {
    (void)state;
    DIR *d = opendir(testkit_dir);
    assert_non_null(d);
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        assert_true(n < 512);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, tk_name_cmp);

    size_t passed = 0, failed = 0, skipped = 0, hybrid = 0;
    const int pq = dm_pq_available();
    for (size_t i = 0; i < n; i++) {
        vector v;
        load_vector(names[i], &v);
        hybrid += is_hybrid(&v);
        if (is_hybrid(&v) && !pq) {
            printf("SKIP %s: ML-KEM hybrid identity (%s)\n", v.name, dm_pq_unavailable_reason());
            skipped++;
        } else {
            int ok = 1;
            for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++)
                ok &= run_vector(&v, &configs[c]);
            ok &= inspect_vector(&v);
            if (ok)
                passed++;
            else
                failed++;
        }
        vector_free(&v);
        free(names[i]);
    }
    printf("testkit: %zu vectors, %zu passed, %zu failed, %zu skipped (hybrid)\n", n, passed,
           failed, skipped);
    assert_int_equal(failed, 0);
    assert_int_equal(n, EXPECTED_VECTORS);
    assert_int_equal(hybrid, HYBRID_VECTORS);
    assert_int_equal(skipped, pq ? 0 : HYBRID_VECTORS);
    assert_int_equal(passed, EXPECTED_VECTORS - skipped);
}

int main(int argc, char **argv) {
    if (dm_init() != DM_OK) {
        fprintf(stderr, "test_testkit: dm_init failed\n");
        return 1;
    }
    if (locate_testkit(argc > 1 ? argv[1] : NULL) != 0) {
        fprintf(stderr, "test_testkit: can't find the testkit (set DM_TESTKIT_DIR)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_testkit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
