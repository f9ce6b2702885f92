/* The transparency log: every RFC 6962 inclusion and consistency vector of
 * transparency-dev/merkle (tests/testkit/tlog/merkle, accepted exactly when
 * wantErr is false), the signed-note vectors of golang.org/x/mod
 * (tests/testkit/tlog/note-vectors.txt), proofs generated for every pair of
 * small trees, and a tiled log in a directory: appends, reopening, tampering,
 * the witness and receipts. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>

#define FIU_ENABLE 1 /* fiu.h declares nothing without it */
#include <fiu-control.h>
#include <fiu.h>

#include "doormat/tlog.h"
#include "doormat/vault.h"
#include "unit_main.h"

#define VECTORS "tests/testkit/tlog"

/* ------------------------------------------------------- JSON, just enough */

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

static const char *json_value(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    assert_non_null(p);
    p += strlen(pat);
    while (*p == ' ' || *p == '\n')
        p++;
    return p;
}

static uint64_t json_u64(const char *json, const char *key) {
    return strtoull(json_value(json, key), NULL, 10);
}

static int json_bool(const char *json, const char *key) {
    return strncmp(json_value(json, key), "true", 4) == 0;
}

/* A base64 string as a hash: -1 when it is not one (the verifier's input
 * parser refuses it, as a verifier must). */
static int json_hash(const char **p, dm_tlog_hash out) {
    const char *s = *p;
    assert_true(*s == '"');
    const char *e = strchr(s + 1, '"');
    *p = e + 1;
    return dm_tlog_hash_decode(s + 1, (size_t)(e - s - 1), out) == DM_OK ? 0 : -1;
}

/* proof: null or an array of strings; returns -1 when a hash is malformed. */
static int json_proof(const char *json, dm_tlog_hash *proof, size_t *n) {
    const char *p = json_value(json, "proof");
    *n = 0;
    if (strncmp(p, "null", 4) == 0)
        return 0;
    assert_true(*p == '[');
    p++;
    int bad = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == ',')
            p++;
        if (*p == ']')
            break;
        assert_true(*n < DM_TLOG_MAX_PROOF);
        if (json_hash(&p, proof[*n]) != 0)
            bad = 1;
        (*n)++;
    }
    return bad ? -1 : 0;
}

typedef struct tally {
    int files, accepted, rejected, wrong;
} tally;

/* Counts one vector's verdict (ok: accepted); the verdict it does not want is an error. */
static void tally_verdict(tally *t, int ok, int want_err, const char *what, const char *path) {
    t->files++;
    if (ok)
        t->accepted++;
    else
        t->rejected++;
    if (ok == want_err) {
        t->wrong++;
        print_error("%s vector %s: %s\n", what, path, ok ? "accepted" : "rejected");
    }
}

static void walk_dir(const char *dir, void (*fn)(const char *path, tally *t), tally *t) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode))
            walk_dir(path, fn, t);
        else if (strstr(e->d_name, ".json"))
            fn(path, t);
    }
    closedir(d);
}

static void inclusion_case(const char *path, tally *t) {
    char *json = read_text(path, NULL);
    assert_non_null(json);
    dm_tlog_hash root, leaf, proof[DM_TLOG_MAX_PROOF];
    size_t n;
    const char *p = json_value(json, "root");
    int ok = json_hash(&p, root) == 0;
    p = json_value(json, "leafHash");
    ok = json_hash(&p, leaf) == 0 && ok;
    ok = json_proof(json, proof, &n) == 0 && ok;
    ok = ok && dm_tlog_verify_inclusion(json_u64(json, "leafIdx"), json_u64(json, "treeSize"), leaf,
                                        proof, n, root) == DM_OK;
    tally_verdict(t, ok, json_bool(json, "wantErr"), "inclusion", path);
    free(json);
}

/* A base64 string as bytes (roots are opaque where sizes are equal). */
static size_t json_bytes(const char *json, const char *key, uint8_t *out, size_t cap) {
    const char *s = json_value(json, key);
    assert_true(*s == '"');
    const char *e = strchr(s + 1, '"');
    size_t got = 0;
    if (e == s + 1 || sodium_base642bin(out, cap, s + 1, (size_t)(e - s - 1), NULL, &got, NULL,
                                        sodium_base64_VARIANT_ORIGINAL) != 0)
        return 0;
    return got;
}

static void consistency_case(const char *path, tally *t) {
    char *json = read_text(path, NULL);
    assert_non_null(json);
    uint8_t r1[64], r2[64];
    dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
    size_t n;
    size_t l1 = json_bytes(json, "root1", r1, sizeof r1);
    size_t l2 = json_bytes(json, "root2", r2, sizeof r2);
    int ok = json_proof(json, proof, &n) == 0;
    ok = ok && dm_tlog_verify_consistency_bytes(json_u64(json, "size1"), json_u64(json, "size2"),
                                                r1, l1, r2, l2, proof, n) == DM_OK;
    tally_verdict(t, ok, json_bool(json, "wantErr"), "consistency", path);
    free(json);
}

/* Every vector below dir through fn: 98 files, 6 accepted, 92 rejected, each as it wants. */
static void check_vector_dir(const char *dir, void (*fn)(const char *path, tally *t)) {
    tally t = {0};
    walk_dir(dir, fn, &t);
    assert_int_equal(t.files, 98);
    assert_int_equal(t.accepted, 6);
    assert_int_equal(t.rejected, 92);
    assert_int_equal(t.wrong, 0);
}

static void test_rfc6962_inclusion_vectors(void **state) {
    (void)state;
    check_vector_dir(VECTORS "/merkle/testdata/inclusion", inclusion_case);
}

static void test_rfc6962_consistency_vectors(void **state) {
    (void)state;
    check_vector_dir(VECTORS "/merkle/testdata/consistency", consistency_case);
}

/* ------------------------------------------------------------ note vectors */

/* The value after "tag: " on every line that starts with it, joined. */
static void vector_lines(const char *text, const char *tag, char out[][256], size_t *n) {
    *n = 0;
    size_t tl = strlen(tag);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > tl + 2 && strncmp(p, tag, tl) == 0 && p[tl] == ':') {
            const char *v = p + tl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - p);
            memcpy(out[*n], v, vl);
            out[*n][vl] = '\0';
            (*n)++;
        }
        p += ll + (nl ? 1 : 0);
    }
}

static void test_note_vectors(void **state) {
    (void)state;
    char *text = read_text(VECTORS "/note-vectors.txt", NULL);
    assert_non_null(text);
    char signer[4][256], verifier[4][256], body[4][256], sig[4][256], bad[4][256], tree[4][256];
    size_t n_signer, n_verifier, n_body, n_sig, n_bad, n_tree;
    vector_lines(text, "signer", signer, &n_signer);
    vector_lines(text, "verifier", verifier, &n_verifier);
    vector_lines(text, "text", body, &n_body);
    vector_lines(text, "sig", sig, &n_sig);
    vector_lines(text, "bad-verifier", bad, &n_bad);
    vector_lines(text, "tree", tree, &n_tree);
    assert_int_equal(n_signer, 1);
    assert_int_equal(n_verifier, 2);
    assert_int_equal(n_body, 2);
    assert_int_equal(n_sig, 2);
    assert_int_equal(n_bad, 2);
    assert_int_equal(n_tree, 3);

    dm_tlog_signer *s = NULL;
    assert_int_equal(dm_tlog_signer_parse(signer[0], strlen(signer[0]), &s), DM_OK);
    dm_tlog_verifier v[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(dm_tlog_verifier_parse(verifier[i], strlen(verifier[i]), &v[i]), DM_OK);
    assert_int_equal(dm_tlog_signer_verifier(s)->id, v[0].id);
    assert_memory_equal(dm_tlog_signer_verifier(s)->pk, v[0].pk, 32);
    char *vk = NULL;
    assert_int_equal(dm_tlog_verifier_format(&v[0], &vk), DM_OK);
    assert_string_equal(vk, verifier[0]);
    free(vk);

    char note_text[600];
    snprintf(note_text, sizeof note_text, "%s\n%s\n", body[0], body[1]);
    char *note = NULL;
    size_t note_len = 0;
    assert_int_equal(dm_tlog_note_sign(note_text, strlen(note_text), s, &note, &note_len), DM_OK);
    char want[1024];
    snprintf(want, sizeof want, "%s\n%s\n", note_text, sig[0]);
    assert_string_equal(note, want); /* Ed25519 is deterministic: exact bytes */
    free(note);

    /* Both signatures: each verifier sees its own. */
    char both[1024];
    snprintf(both, sizeof both, "%s\n%s\n%s\n", note_text, sig[0], sig[1]);
    dm_tlog_note *n = NULL;
    assert_int_equal(dm_tlog_note_parse(both, strlen(both), &n), DM_OK);
    assert_int_equal(n->n_sigs, 2);
    uint8_t ok[2];
    assert_int_equal(dm_tlog_note_verify(n, v, 2, ok, NULL), DM_OK);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 1);
    dm_tlog_note_free(n);

    /* A changed text fails the known key: rejected. */
    char edited[1024];
    snprintf(edited, sizeof edited, "%s\n%s!\n\n%s\n", body[0], body[1], sig[0]);
    assert_int_equal(dm_tlog_note_parse(edited, strlen(edited), &n), DM_OK);
    assert_int_equal(dm_tlog_note_verify(n, v, 1, NULL, NULL), DM_ERR_LOG);
    /* Only an unknown key signed: rejected ("no signature from a known key"). */
    assert_int_equal(dm_tlog_note_verify(n, &v[1], 1, NULL, NULL), DM_ERR_LOG);
    assert_non_null(strstr(dm_err_detail(), "no signature from a known key"));
    dm_tlog_note_free(n);

    for (size_t i = 0; i < n_bad; i++) {
        dm_tlog_verifier b;
        assert_int_equal(dm_tlog_verifier_parse(bad[i], strlen(bad[i]), &b), DM_ERR_USAGE);
    }
    /* Every one-byte change and every truncation of a good key is refused. */
    size_t vl = strlen(verifier[0]);
    for (size_t i = 0; i < vl; i++) {
        char k[256];
        memcpy(k, verifier[0], vl + 1);
        k[i] = k[i] == 'A' ? 'B' : 'A';
        dm_tlog_verifier b;
        assert_int_not_equal(dm_tlog_verifier_parse(k, vl, &b), DM_OK);
        assert_int_not_equal(dm_tlog_verifier_parse(verifier[0], i, &b), DM_OK);
    }

    /* The tree note body parses as a checkpoint; its root is the leaf hash of "hello world". */
    char cp[800];
    snprintf(cp, sizeof cp, "%s\n%s\n%s\n", tree[0], tree[1], tree[2]);
    dm_tlog_checkpoint c;
    assert_int_equal(dm_tlog_checkpoint_parse(cp, strlen(cp), &c), DM_OK);
    assert_string_equal(c.origin, "go.sum database tree");
    assert_true(c.size == UINT64_C(123456789012));
    dm_tlog_hash h;
    dm_tlog_leaf_hash((const uint8_t *)"hello world", 11, h);
    assert_memory_equal(h, c.root, 32);
    dm_tlog_signer_free(s);
    free(text);
}

static void test_note_grammar(void **state) {
    (void)state;
    char *sk, *vk;
    assert_int_equal(dm_tlog_key_generate("example.com/log", DM_TLOG_SIG_ED25519, &sk, &vk), DM_OK);
    dm_tlog_signer *s;
    assert_int_equal(dm_tlog_signer_parse(sk, strlen(sk), &s), DM_OK);
    char *note;
    size_t len;
    const char *text = "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    assert_int_equal(dm_tlog_note_sign(text, strlen(text), s, &note, &len), DM_OK);
    dm_tlog_note *n;
    assert_int_equal(dm_tlog_note_parse(note, len, &n), DM_OK);
    dm_tlog_note_free(n);
    /* no final newline, no signature, a control character, bad UTF-8, no blank line */
    assert_int_equal(dm_tlog_note_parse(note, len - 1, &n), DM_ERR_USAGE);
    assert_int_equal(dm_tlog_note_parse(text, strlen(text), &n), DM_ERR_USAGE);
    char *bad = strdup(note);
    bad[3] = '\t';
    assert_int_equal(dm_tlog_note_parse(bad, len, &n), DM_ERR_USAGE);
    bad[3] = (char)0xff;
    assert_int_equal(dm_tlog_note_parse(bad, len, &n), DM_ERR_USAGE);
    free(bad);
    /* a line that is not a signature after the blank line */
    char extra[1024];
    snprintf(extra, sizeof extra, "%snot a signature\n", note);
    assert_int_equal(dm_tlog_note_parse(extra, strlen(extra), &n), DM_ERR_USAGE);
    /* checkpoint opening: wrong origin for the key */
    dm_tlog_checkpoint c;
    assert_int_equal(dm_tlog_checkpoint_open(note, len, dm_tlog_signer_verifier(s), NULL, 0, 0, &c),
                     DM_OK);
    assert_true(c.size == 0);
    /* a size with a leading zero, a root of 31 bytes */
    assert_int_equal(
        dm_tlog_checkpoint_parse("o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", 52, &c),
        DM_ERR_USAGE);
    assert_int_equal(
        dm_tlog_checkpoint_parse("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==\n", 51, &c),
        DM_ERR_USAGE);
    /* Only base64's own characters: a byte above 0x7f is not a letter. */
    dm_tlog_hash h;
    char b64[] = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    assert_int_equal(dm_tlog_hash_decode(b64, 44, h), DM_OK);
    b64[12] = (char)0xc0;
    assert_int_equal(dm_tlog_hash_decode(b64, 44, h), DM_ERR_USAGE);
    free(note);
    dm_tlog_signer_free(s);
    dm_secret_free(sk);
    free(vk);
}

/* -------------------------------------------------- proofs on small trees */

typedef struct mem_tree {
    dm_tlog_hash leaves[64];
    uint64_t n;
} mem_tree;

static void mth(const mem_tree *t, uint64_t a, uint64_t b, dm_tlog_hash out) {
    if (b - a == 1) {
        memcpy(out, t->leaves[a], 32);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < b - a)
        k *= 2;
    dm_tlog_hash l, r;
    mth(t, a, a + k, l);
    mth(t, a + k, b, r);
    dm_tlog_node_hash(l, r, out);
}

static int mem_hash(void *ctx, unsigned level, uint64_t index, dm_tlog_hash out) {
    const mem_tree *t = ctx;
    uint64_t a = index << level, b = (index + 1) << level;
    if (b > t->n)
        return DM_ERR_USAGE;
    mth(t, a, b, out);
    return DM_OK;
}

static void test_proofs_small_trees(void **state) {
    (void)state;
    mem_tree t = {.n = 40};
    for (uint64_t i = 0; i < t.n; i++) {
        char e[32];
        snprintf(e, sizeof e, "entry %llu", (unsigned long long)i);
        dm_tlog_leaf_hash((const uint8_t *)e, strlen(e), t.leaves[i]);
    }
    dm_tlog_edge edge = {0};
    for (uint64_t size = 1; size <= t.n; size++) {
        dm_tlog_edge_append(&edge, t.leaves[size - 1]);
        dm_tlog_hash root, eroot;
        assert_int_equal(dm_tlog_tree_hash(mem_hash, &t, size, root), DM_OK);
        dm_tlog_edge_root(&edge, eroot);
        assert_memory_equal(root, eroot, 32);
        dm_tlog_edge loaded;
        assert_int_equal(dm_tlog_edge_load(&loaded, mem_hash, &t, size), DM_OK);
        dm_tlog_edge_root(&loaded, eroot);
        assert_memory_equal(root, eroot, 32);
        for (uint64_t i = 0; i < size; i++) {
            dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
            size_t n;
            assert_int_equal(dm_tlog_prove_inclusion(mem_hash, &t, i, size, proof, &n), DM_OK);
            assert_int_equal(dm_tlog_verify_inclusion(i, size, t.leaves[i], proof, n, root), DM_OK);
            /* another leaf, or the right leaf at another index, fails */
            assert_int_equal(
                dm_tlog_verify_inclusion(i, size, t.leaves[(i + 1) % t.n], proof, n, root),
                DM_ERR_LOG);
            if (size > 1)
                assert_int_equal(
                    dm_tlog_verify_inclusion((i + 1) % size, size, t.leaves[i], proof, n, root),
                    DM_ERR_LOG);
        }
        for (uint64_t old = 0; old <= size; old++) {
            dm_tlog_hash proof[DM_TLOG_MAX_PROOF], oroot;
            size_t n;
            assert_int_equal(dm_tlog_tree_hash(mem_hash, &t, old, oroot), DM_OK);
            assert_int_equal(dm_tlog_prove_consistency(mem_hash, &t, old, size, proof, &n), DM_OK);
            assert_int_equal(dm_tlog_verify_consistency(old, size, oroot, root, proof, n),
                             old == 0 ? DM_ERR_LOG : DM_OK);
            if (old > 0 && old < size) {
                proof[0][0] ^= 1;
                assert_int_equal(dm_tlog_verify_consistency(old, size, oroot, root, proof, n),
                                 DM_ERR_LOG);
            }
        }
    }
}

/* ------------------------------------------------------------ a log on disk */

typedef struct disk {
    char dir[128];
    dm_tlog_signer *key, *wkey;
    char *vkey, *wvkey;
} disk;

static int disk_setup(void **state) {
    disk *d = calloc(1, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/doormat-test-tlog.XXXXXX");
    if (!mkdtemp(d->dir))
        return -1;
    char *sk;
    if (dm_tlog_key_generate("doormat.example/log", DM_TLOG_SIG_ED25519, &sk, &d->vkey) ||
        dm_tlog_signer_parse(sk, strlen(sk), &d->key))
        return -1;
    dm_secret_free(sk);
    if (dm_tlog_key_generate("witness.example/w1", DM_TLOG_SIG_COSIGNATURE, &sk, &d->wvkey) ||
        dm_tlog_signer_parse(sk, strlen(sk), &d->wkey))
        return -1;
    dm_secret_free(sk);
    *state = d;
    return 0;
}

static int disk_teardown(void **state) {
    disk *d = *state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
    if (system(cmd) != 0)
        return -1;
    dm_tlog_signer_free(d->key);
    dm_tlog_signer_free(d->wkey);
    free(d->vkey);
    free(d->wvkey);
    free(d);
    return 0;
}

static void entry_text(uint64_t i, char *buf, size_t cap, size_t *len) {
    *len = (size_t)snprintf(buf, cap, "entry number %llu of the test log\n", (unsigned long long)i);
}

typedef struct seen {
    uint64_t next;
    int bad;
} seen;

static int see_entry(void *ctx, uint64_t index, const uint8_t *entry, size_t len) {
    seen *s = ctx;
    char want[64];
    size_t wl;
    entry_text(index, want, sizeof want, &wl);
    if (index != s->next || len != wl || memcmp(entry, want, len) != 0)
        s->bad = 1;
    s->next++;
    return DM_OK;
}

static void open_checkpoint(const disk *d, const char *logdir, dm_tlog_checkpoint *c) {
    char path[300];
    snprintf(path, sizeof path, "%s/checkpoint", logdir);
    size_t len;
    char *text = read_text(path, &len);
    assert_non_null(text);
    dm_tlog_verifier v;
    assert_int_equal(dm_tlog_verifier_parse(d->vkey, strlen(d->vkey), &v), DM_OK);
    assert_int_equal(dm_tlog_checkpoint_open(text, len, &v, NULL, 0, 0, c), DM_OK);
    free(text);
}

/* The log proves entry i (entry_text's) in the tree of size entries, and
 * the proof verifies against root. */
static void assert_log_proves(dm_tlog_log *l, uint64_t i, uint64_t size, const dm_tlog_hash root) {
    dm_tlog_hash proof[DM_TLOG_MAX_PROOF], leaf;
    size_t n;
    char e[64];
    size_t el;
    entry_text(i, e, sizeof e, &el);
    dm_tlog_leaf_hash((const uint8_t *)e, el, leaf);
    assert_int_equal(dm_tlog_log_prove_inclusion(l, i, size, proof, &n), DM_OK);
    assert_int_equal(dm_tlog_verify_inclusion(i, size, leaf, proof, n, root), DM_OK);
}

/* A new log in logdir, open. */
static dm_tlog_log *create_and_open(const disk *d, const char *logdir) {
    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_OK);
    dm_tlog_log *l = NULL;
    assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
    return l;
}

static void test_log_on_disk(void **state) {
    disk *d = *state;
    char logdir[256];
    snprintf(logdir, sizeof logdir, "%s/log", d->dir);
    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_OK);
    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_ERR_USAGE);
    dm_tlog_checkpoint cps[8];
    uint64_t sizes[] = {1, 2, 255, 256, 257, 300, 513, 700};
    uint64_t next = 0;
    for (size_t k = 0; k < 8; k++) {
        dm_tlog_log *l;
        assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
        assert_true(dm_tlog_log_size(l) == next);
        for (; next < sizes[k]; next++) {
            char e[64];
            size_t el;
            uint64_t idx;
            entry_text(next, e, sizeof e, &el);
            assert_int_equal(dm_tlog_log_append(l, (const uint8_t *)e, el, &idx), DM_OK);
            assert_true(idx == next);
        }
        assert_int_equal(dm_tlog_log_commit(l), DM_OK);
        dm_tlog_log_free(l);
        open_checkpoint(d, logdir, &cps[k]);
        assert_true(cps[k].size == sizes[k]);
        seen s = {0};
        assert_int_equal(dm_tlog_verify_log(dm_tlog_dir_fetcher(logdir), &cps[k], see_entry, &s),
                         DM_OK);
        assert_true(s.next == sizes[k]);
        assert_int_equal(s.bad, 0);
    }
    /* Pruned: no partial level-0 tile of the first tile remains. */
    char p[512];
    snprintf(p, sizeof p, "%s/tile/0/000.p", logdir);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/tile/0/002.p/188", logdir);
    assert_int_equal(stat(p, &st), 0);

    /* Catching up from each earlier checkpoint sees exactly the new entries. */
    for (size_t k = 0; k + 1 < 8; k++) {
        seen s = {.next = cps[k].size};
        assert_int_equal(
            dm_tlog_catch_up(dm_tlog_dir_fetcher(logdir), &cps[k], &cps[7], see_entry, &s), DM_OK);
        assert_true(s.next == 700);
        assert_int_equal(s.bad, 0);
    }
    /* A rollback and a fork are caught. */
    assert_int_equal(dm_tlog_catch_up(dm_tlog_dir_fetcher(logdir), &cps[7], &cps[2], NULL, NULL),
                     DM_ERR_LOG);
    dm_tlog_checkpoint forked = cps[4];
    forked.root[5] ^= 1;
    assert_int_equal(dm_tlog_catch_up(dm_tlog_dir_fetcher(logdir), &forked, &cps[7], NULL, NULL),
                     DM_ERR_LOG);

    /* Proofs from the log verify against its checkpoints. */
    dm_tlog_log *l;
    assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
    for (uint64_t i = 0; i < 700; i += 37)
        assert_log_proves(l, i, 700, cps[7].root);
    for (size_t k = 0; k < 7; k++) {
        dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
        size_t n;
        assert_int_equal(dm_tlog_log_prove_consistency(l, cps[k].size, 700, proof, &n), DM_OK);
        assert_int_equal(
            dm_tlog_verify_consistency(cps[k].size, 700, cps[k].root, cps[7].root, proof, n),
            DM_OK);
    }
    dm_tlog_log_free(l);

    /* One flipped bit in a full tile, a partial tile or an entry: caught. */
    const char *victims[] = {"tile/0/001", "tile/0/002.p/188", "tile/entries/000",
                             "tile/1/000.p/2"};
    for (size_t v = 0; v < 4; v++) {
        snprintf(p, sizeof p, "%s/%s", logdir, victims[v]);
        FILE *f = fopen(p, "r+b");
        assert_non_null(f);
        fseek(f, 40, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 40, SEEK_SET);
        fputc(c ^ 1, f);
        fclose(f);
        assert_int_equal(dm_tlog_verify_log(dm_tlog_dir_fetcher(logdir), &cps[7], NULL, NULL),
                         DM_ERR_LOG);
        f = fopen(p, "r+b");
        fseek(f, 40, SEEK_SET);
        fputc(c, f);
        fclose(f);
    }
    assert_int_equal(dm_tlog_verify_log(dm_tlog_dir_fetcher(logdir), &cps[7], NULL, NULL), DM_OK);
}

/* A log made a moment ago goes away whole; one beside which something else
 * was put loses its checkpoint and lock, and keeps the rest. */
static void test_log_remove_empty(void **state) {
    disk *d = *state;
    char logdir[256], p[300];
    struct stat st;
    snprintf(logdir, sizeof logdir, "%s/log", d->dir);
    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_OK);
    snprintf(p, sizeof p, "%s/lock", logdir);
    assert_int_equal(stat(p, &st), 0);
    dm_tlog_log_remove_empty(logdir);
    assert_int_equal(lstat(logdir, &st), -1);
    assert_int_equal(errno, ENOENT);

    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_OK);
    snprintf(p, sizeof p, "%s/kept", logdir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    dm_tlog_log_remove_empty(logdir);
    assert_int_equal(stat(p, &st), 0);
    const char *gone[] = {"checkpoint", "lock"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", logdir, gone[i]);
        assert_int_equal(lstat(p, &st), -1);
    }
    /* The directory can take a new log again. */
    dm_tlog_log *l = create_and_open(d, logdir);
    assert_true(dm_tlog_log_size(l) == 0);
    dm_tlog_log_free(l);
}

/* One open log proving again and again while it grows: the proofs (whose
 * hashes the log keeps between calls) verify against every checkpoint, on
 * the first asking and the second, before and after later commits. */
static void test_log_proofs_while_growing(void **state) {
    disk *d = *state;
    char logdir[256];
    snprintf(logdir, sizeof logdir, "%s/grow", d->dir);
    dm_tlog_log *l = create_and_open(d, logdir);
    dm_tlog_checkpoint cps[12];
    uint64_t next = 0;
    for (size_t k = 0; k < 12; k++) {
        for (uint64_t stop = next + 1 + 47 * k; next < stop; next++) {
            char e[64];
            size_t el;
            uint64_t idx;
            entry_text(next, e, sizeof e, &el);
            assert_int_equal(dm_tlog_log_append(l, (const uint8_t *)e, el, &idx), DM_OK);
        }
        assert_int_equal(dm_tlog_log_commit(l), DM_OK);
        open_checkpoint(d, logdir, &cps[k]);
        assert_true(cps[k].size == next);
        for (size_t j = 0; j <= k; j++) {
            uint64_t size = cps[j].size;
            for (int pass = 0; pass < 2; pass++) {
                for (uint64_t i = 0; i < size; i += 1 + size / 40)
                    assert_log_proves(l, i, size, cps[j].root);
                dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
                size_t n;
                assert_int_equal(dm_tlog_log_prove_consistency(l, size, next, proof, &n), DM_OK);
                assert_int_equal(
                    dm_tlog_verify_consistency(size, next, cps[j].root, cps[k].root, proof, n),
                    DM_OK);
            }
        }
    }
    dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
    size_t n;
    assert_int_equal(dm_tlog_log_prove_inclusion(l, 0, next + 1, proof, &n), DM_ERR_USAGE);
    dm_tlog_log_free(l);
}

static void test_crash_before_rename(void **state) {
    disk *d = *state;
    char logdir[256], p[512];
    snprintf(logdir, sizeof logdir, "%s/crash", d->dir);
    dm_tlog_log *l = create_and_open(d, logdir);
    for (uint64_t i = 0; i < 10; i++) {
        char e[64];
        size_t el;
        entry_text(i, e, sizeof e, &el);
        assert_int_equal(dm_tlog_log_append(l, (const uint8_t *)e, el, NULL), DM_OK);
    }
    assert_int_equal(dm_tlog_log_commit(l), DM_OK);
    dm_tlog_log_free(l);
    /* A signed checkpoint.new for size 10 (as a crash before the rename
     * leaves it) over a checkpoint rolled back to 0: open finishes it. */
    char from[512];
    snprintf(from, sizeof from, "%s/checkpoint", logdir);
    snprintf(p, sizeof p, "%s/checkpoint.new", logdir);
    assert_int_equal(rename(from, p), 0);
    char *sk, *vk;
    (void)sk;
    (void)vk;
    dm_tlog_checkpoint empty = {0};
    snprintf(empty.origin, sizeof empty.origin, "doormat.example/log");
    dm_tlog_empty_root(empty.root);
    char *text, *note;
    size_t tl, nl;
    assert_int_equal(dm_tlog_checkpoint_format(&empty, &text, &tl), DM_OK);
    assert_int_equal(dm_tlog_note_sign(text, tl, d->key, &note, &nl), DM_OK);
    FILE *f = fopen(from, "wb");
    fwrite(note, 1, nl, f);
    fclose(f);
    free(text);
    free(note);
    assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
    assert_true(dm_tlog_log_size(l) == 10);
    dm_tlog_log_free(l);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);
    /* A checkpoint.new that is not signed by the key is thrown away. */
    f = fopen(p, "wb");
    fputs("doormat.example/log\n11\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n", f);
    fclose(f);
    assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
    assert_true(dm_tlog_log_size(l) == 10);
    dm_tlog_log_free(l);
    assert_int_not_equal(stat(p, &st), 0);
}

/* A failing disk, one write at a time (libfiu, base/durable.c): the K-th
 * call of a batch of 10 appends across a tile boundary (250 -> 260: full
 * tiles written by the appends, a new level, partial tiles, the directories,
 * the checkpoint) fails with ENOSPC, EIO, or as a short write, for every K.
 * Each time the log on disk stays its last checkpoint (250, or 260 when only
 * the directory's fsync after the checkpoint's rename failed) and the handle
 * agrees: a failed append takes back only its own entry (the earlier ones of
 * the batch commit), a failed commit drops the batch; the same handle then
 * appends the entries from there on, commits, and the log verifies with
 * every entry at its index. */
static long fault_at, fault_calls;
static intptr_t fault_errno;
static char fault_point[64];

static int fault_pick(const char *name, int *failnum, void **failinfo, unsigned int *flags) {
    (void)flags;
    if (++fault_calls != fault_at)
        return 0;
    *failnum = 1;
    *failinfo = (void *)fault_errno;
    snprintf(fault_point, sizeof fault_point, "%s", name);
    return 1;
}

static void enable_fault_points(void) {
    static const char *const files[] = {"log/entries", "log/tile", "log/checkpoint",
                                        "log/publish", "log/dir",  "witness/state"};
    static const char *const ops[] = {"open",   "write", "fsync",   "close",
                                      "rename", "mkdir", "dirsync", "syncfs"};
    assert_int_equal(fiu_init(0), 0);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++)
        for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
            char name[64];
            snprintf(name, sizeof name, "doormat/%s/%s", files[f], ops[o]);
            assert_int_equal(fiu_enable_external(name, 1, NULL, 0, fault_pick), 0);
        }
}

/* Appends entries from..to-1; *next (may be NULL) is where it stopped. */
static int append_from(dm_tlog_log *l, uint64_t from, uint64_t to, uint64_t *next) {
    for (uint64_t i = from; i < to; i++) {
        if (next)
            *next = i;
        char e[64];
        size_t el;
        uint64_t idx;
        entry_text(i, e, sizeof e, &el);
        int err = dm_tlog_log_append(l, (const uint8_t *)e, el, &idx);
        if (err)
            return err;
        assert_true(idx == i);
    }
    if (next)
        *next = to;
    return DM_OK;
}

static void verify_dir(const disk *d, const char *logdir, uint64_t size) {
    dm_tlog_checkpoint c;
    open_checkpoint(d, logdir, &c);
    assert_true(c.size == size);
    seen s = {0};
    assert_int_equal(dm_tlog_verify_log(dm_tlog_dir_fetcher(logdir), &c, see_entry, &s), DM_OK);
    assert_true(s.next == size);
    assert_int_equal(s.bad, 0);
}

static void test_log_write_faults(void **state) {
    disk *d = *state;
    enable_fault_points();
    const intptr_t modes[] = {ENOSPC, EIO, 0 /* short write */};
    char base[256];
    snprintf(base, sizeof base, "%s/base", d->dir);
    assert_int_equal(dm_tlog_log_create(base, d->key), DM_OK);
    dm_tlog_log *l;
    fault_at = 0;
    assert_int_equal(dm_tlog_log_open(base, d->key, &l), DM_OK);
    assert_int_equal(append_from(l, 0, 250, NULL), DM_OK);
    assert_int_equal(dm_tlog_log_commit(l), DM_OK);
    dm_tlog_log_free(l);
    unsigned failed = 0, at_old = 0, at_new = 0, calls = 0;
    for (size_t m = 0; m < 3; m++) {
        for (long k = 1;; k++) {
            char logdir[256], cmd[700];
            snprintf(logdir, sizeof logdir, "%s/f%zu-%ld", d->dir, m, k);
            snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", base, logdir);
            assert_int_equal(system(cmd), 0);
            fault_at = 0;
            assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
            fault_calls = 0;
            fault_at = k;
            fault_errno = modes[m];
            fault_point[0] = '\0';
            uint64_t next;
            int err = append_from(l, 250, 260, &next);
            int in_append = err != DM_OK;
            if (!err)
                err = dm_tlog_log_commit(l);
            fault_at = 0;
            if (fault_point[0] == '\0') { /* past the batch's last call */
                assert_int_equal(err, DM_OK);
                dm_tlog_log_free(l);
                if (m == 0)
                    calls = (unsigned)(k - 1);
                break;
            }
            uint64_t size = dm_tlog_log_size(l);
            if (err && in_append) {
                failed++;
                at_old++;
                assert_int_equal(err, DM_ERR_IO);
                assert_true(size == 250 && next >= 250 && next < 260);
                verify_dir(d, logdir, 250);
                assert_int_equal(dm_tlog_log_commit(l), DM_OK); /* the entries before it */
                size = dm_tlog_log_size(l);
                assert_true(size == next);
            } else if (err) {
                failed++;
                assert_int_equal(err, DM_ERR_IO);
                int after_rename = strcmp(fault_point, "doormat/log/publish/dirsync") == 0;
                assert_true(size == (after_rename ? 260 : 250));
                at_new += after_rename;
                at_old += !after_rename;
            } else {
                /* A short write is finished by the next write. */
                assert_true(modes[m] == 0 && strstr(fault_point, "/write") != NULL);
                assert_true(size == 260);
            }
            verify_dir(d, logdir, size);
            assert_int_equal(append_from(l, size, 270, NULL), DM_OK);
            assert_int_equal(dm_tlog_log_commit(l), DM_OK);
            assert_true(dm_tlog_log_size(l) == 270);
            dm_tlog_log_free(l);
            verify_dir(d, logdir, 270);
            assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
            assert_true(dm_tlog_log_size(l) == 270);
            dm_tlog_log_free(l);
        }
    }
    assert_true(calls >= 20);
    assert_true(failed >= 2 * calls);
    print_message("%u calls per batch; %u faults failed an append or the commit: %u left the log "
                  "at 250, %u at 260\n",
                  calls, failed, at_old, at_new);
}

static void test_witness_and_receipt(void **state) {
    disk *d = *state;
    char logdir[256], wdir[256];
    snprintf(logdir, sizeof logdir, "%s/wlog", d->dir);
    snprintf(wdir, sizeof wdir, "%s/witness", d->dir);
    assert_int_equal(mkdir(wdir, 0755), 0);
    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_OK);
    dm_tlog_verifier logv, wv;
    assert_int_equal(dm_tlog_verifier_parse(d->vkey, strlen(d->vkey), &logv), DM_OK);
    assert_int_equal(dm_tlog_verifier_parse(d->wvkey, strlen(d->wvkey), &wv), DM_OK);
    assert_int_equal(wv.type, DM_TLOG_SIG_COSIGNATURE);

    uint64_t witnessed = 0;
    for (int round = 0; round < 3; round++) {
        dm_tlog_log *l;
        assert_int_equal(dm_tlog_log_open(logdir, d->key, &l), DM_OK);
        uint64_t idx = 0;
        for (int i = 0; i < 5; i++) {
            char e[64];
            size_t el;
            entry_text(dm_tlog_log_size(l) + (uint64_t)i, e, sizeof e, &el);
            assert_int_equal(dm_tlog_log_append(l, (const uint8_t *)e, el, &idx), DM_OK);
        }
        assert_int_equal(dm_tlog_log_commit(l), DM_OK);
        const char *cp = dm_tlog_log_checkpoint(l);
        dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
        size_t n;
        assert_int_equal(
            dm_tlog_log_prove_consistency(l, witnessed, dm_tlog_log_size(l), proof, &n), DM_OK);
        char *body, *resp;
        size_t blen, rlen;
        int status;
        /* A stale old size: 409 with the size the witness has. */
        if (witnessed > 0) {
            assert_int_equal(
                dm_tlog_witness_request(witnessed - 5, proof, n, cp, strlen(cp), &body, &blen),
                DM_OK);
            assert_int_equal(dm_tlog_witness_add_checkpoint(wdir, d->wkey, &logv, 1, body, blen,
                                                            1700000000, &status, &resp, &rlen),
                             DM_OK);
            assert_int_equal(status, 409);
            char want[32];
            snprintf(want, sizeof want, "%llu\n", (unsigned long long)witnessed);
            assert_string_equal(resp, want);
            free(body);
            free(resp);
            /* A bad proof: 422. */
            proof[0][3] ^= 1;
            assert_int_equal(
                dm_tlog_witness_request(witnessed, proof, n, cp, strlen(cp), &body, &blen), DM_OK);
            assert_int_equal(dm_tlog_witness_add_checkpoint(wdir, d->wkey, &logv, 1, body, blen,
                                                            1700000000, &status, &resp, &rlen),
                             DM_OK);
            assert_int_equal(status, 422);
            free(body);
            free(resp);
            proof[0][3] ^= 1;
        }
        /* Unknown origin: 404; not the log's key: 403. */
        dm_tlog_verifier other = logv;
        other.pk[0] ^= 1;
        assert_int_equal(dm_tlog_witness_request(witnessed, proof, n, cp, strlen(cp), &body, &blen),
                         DM_OK);
        assert_int_equal(dm_tlog_witness_add_checkpoint(wdir, d->wkey, &wv, 1, body, blen,
                                                        1700000000, &status, &resp, &rlen),
                         DM_OK);
        assert_int_equal(status, 404);
        free(resp);
        assert_int_equal(dm_tlog_witness_add_checkpoint(wdir, d->wkey, &other, 1, body, blen,
                                                        1700000000, &status, &resp, &rlen),
                         DM_OK);
        assert_int_equal(status, 403);
        free(resp);
        assert_int_equal(dm_tlog_witness_add_checkpoint(wdir, d->wkey, &logv, 1, body, blen,
                                                        1700000000 + (uint64_t)round, &status,
                                                        &resp, &rlen),
                         DM_OK);
        assert_int_equal(status, 200);
        free(body);
        assert_int_equal(dm_tlog_log_add_cosignatures(l, resp, rlen), DM_OK);
        free(resp);
        witnessed = dm_tlog_log_size(l);

        /* A receipt for the last entry, with the cosigned checkpoint. */
        dm_tlog_proof rp = {0};
        rp.index = idx;
        assert_int_equal(dm_tlog_log_prove_inclusion(l, idx, witnessed, rp.path, &rp.n), DM_OK);
        rp.checkpoint = (char *)dm_tlog_log_checkpoint(l);
        rp.checkpoint_len = strlen(rp.checkpoint);
        rp.extra = (uint8_t *)"x";
        rp.extra_len = 1;
        char *text;
        size_t tlen;
        assert_int_equal(dm_tlog_proof_format(&rp, &text, &tlen), DM_OK);
        dm_tlog_proof back;
        assert_int_equal(dm_tlog_proof_parse(text, tlen, &back), DM_OK);
        assert_true(back.index == idx);
        assert_int_equal(back.extra_len, 1);
        char e[64];
        size_t el;
        entry_text(idx, e, sizeof e, &el);
        dm_tlog_hash leaf;
        dm_tlog_leaf_hash((const uint8_t *)e, el, leaf);
        dm_tlog_checkpoint c;
        assert_int_equal(dm_tlog_proof_verify(&back, leaf, &logv, &wv, 1, 1, &c), DM_OK);
        assert_true(c.size == witnessed);
        /* Two witnesses needed, one signed: refused. */
        assert_int_equal(dm_tlog_proof_verify(&back, leaf, &logv, &wv, 1, 2, &c), DM_ERR_LOG);
        leaf[0] ^= 1;
        assert_int_equal(dm_tlog_proof_verify(&back, leaf, &logv, &wv, 1, 1, &c), DM_ERR_LOG);
        dm_tlog_proof_clear(&back);
        free(text);
        dm_tlog_log_free(l);
    }
    /* The published checkpoint carries the cosignature; the log still verifies. */
    char path[512];
    snprintf(path, sizeof path, "%s/checkpoint", logdir);
    size_t len;
    char *cp = read_text(path, &len);
    dm_tlog_checkpoint c;
    assert_int_equal(dm_tlog_checkpoint_open(cp, len, &logv, &wv, 1, 1, &c), DM_OK);
    free(cp);
    assert_int_equal(dm_tlog_verify_log(dm_tlog_dir_fetcher(logdir), &c, NULL, NULL), DM_OK);
}

static void test_tile_paths(void **state) {
    (void)state;
    char p[64];
    assert_int_equal(dm_tlog_tile_path(0, 1234067, 256, p), DM_OK);
    assert_string_equal(p, "tile/0/x001/x234/067");
    assert_int_equal(dm_tlog_tile_path(-1, 5, 17, p), DM_OK);
    assert_string_equal(p, "tile/entries/005.p/17");
    assert_int_equal(dm_tlog_tile_path(2, 0, 1, p), DM_OK);
    assert_string_equal(p, "tile/2/000.p/1");
    int level;
    uint64_t index;
    unsigned width;
    assert_int_equal(dm_tlog_tile_path_parse("tile/0/x001/x234/067", &level, &index, &width),
                     DM_OK);
    assert_true(level == 0 && index == 1234067 && width == 256);
    assert_int_equal(dm_tlog_tile_path_parse("tile/entries/005.p/17", &level, &index, &width),
                     DM_OK);
    assert_true(level == -1 && index == 5 && width == 17);
    /* The largest index: seven groups. */
    assert_int_equal(dm_tlog_tile_path(0, UINT64_MAX, 256, p), DM_OK);
    assert_string_equal(p, "tile/0/x018/x446/x744/x073/x709/x551/615");
    assert_int_equal(dm_tlog_tile_path_parse(p, &level, &index, &width), DM_OK);
    assert_true(index == UINT64_MAX);
    const char *bad[] = {"tile/0/x000/067",  "tile/00/000",     "tile/0/67",    "tile/0/000.p/0",
                         "tile/0/000.p/256", "tile/0/000.p/07", "tile/64/000",  "tile/0/000/",
                         "tile/0/x001",      "checkpoint",      "tile/0/000.p/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(dm_tlog_tile_path_parse(bad[i], &level, &index, &width), DM_ERR_USAGE);
}

/* Every fetcher has a destroy, called once by dm_tlog_fetcher_clear, which
 * zeroes the fetcher and accepts NULL and a zeroed one. */
static int destroyed;
static void count_destroy(void *ctx) {
    assert_ptr_equal(ctx, &destroyed);
    destroyed++;
}

static void test_fetcher_destroy(void **state) {
    (void)state;
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(".");
    assert_non_null(f.fetch);
    assert_non_null(f.destroy);
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(f.fetch(f.ctx, "no-such-resource", &data, &len), DM_ERR_NO_MATCH);
    f.destroy(f.ctx);
    dm_tlog_fetcher_clear(&f);
    assert_null(f.fetch);
    assert_null(f.destroy);
    assert_null(f.ctx);
    dm_tlog_fetcher_clear(&f);
    dm_tlog_fetcher_clear(NULL);
    destroyed = 0;
    dm_tlog_fetcher own = {.fetch = f.fetch, .destroy = count_destroy, .ctx = &destroyed};
    dm_tlog_fetcher_clear(&own);
    assert_int_equal(destroyed, 1);
    assert_null(own.destroy);
    dm_tlog_fetcher_clear(&own);
    assert_int_equal(destroyed, 1);
}

/* Every release function of tlog.h accepts NULL; a cleared proof may be
 * cleared again. */
static void test_release_accepts_null(void **state) {
    (void)state;
    dm_tlog_signer_free(NULL);
    dm_tlog_note_free(NULL);
    dm_tlog_reader_free(NULL);
    dm_tlog_log_free(NULL);
    dm_tlog_proof_clear(NULL);
    dm_tlog_proof p = {.extra = malloc(1), .checkpoint = malloc(1)};
    dm_tlog_proof_clear(&p);
    assert_null(p.extra);
    assert_null(p.checkpoint);
    dm_tlog_proof_clear(&p);
}

/* The held detail, as the loser sees it: "NAME: WHAT is held by another
 * process (pid PID, HOLDER, since TIME)TAIL", TIME a UTC RFC 3339 second. */
static void assert_held_by(const char *name, const char *what, pid_t pid, const char *holder,
                           const char *tail) {
    const char *got = dm_err_detail();
    char head[600];
    snprintf(head, sizeof head, "%s: %s is held by another process (pid %ld, %s, since ", name,
             what, (long)pid, holder);
    size_t hl = strlen(head), gl = strlen(got), tl = strlen(tail);
    if (gl != hl + 20 + tl || strncmp(got, head, hl) != 0 || strcmp(got + hl + 20, tail) != 0)
        fail_msg("held detail: %s", got);
    const char *t = got + hl; /* 2026-12-07T16:20:01Z */
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    for (size_t i = 0; i < 20; i++) {
        int digit = t[i] >= '0' && t[i] <= '9';
        if (shape[i] == 'd' ? !digit : t[i] != shape[i])
            fail_msg("held detail's time: %s", got);
    }
}

/* A log (and a witness's state) another process holds: DM_ERR_BUSY at once
 * with wait 0, after the wait otherwise, naming the holder; free again once
 * it lets go, whatever its lock file still says. */
static void test_log_held_by_another_process(void **state) {
    disk *d = *state;
    char logdir[256], wdir[256], lockpath[300];
    snprintf(logdir, sizeof logdir, "%s/held", d->dir);
    snprintf(wdir, sizeof wdir, "%s/wstate", d->dir);
    snprintf(lockpath, sizeof lockpath, "%s/lock", logdir);
    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_OK);
    assert_int_equal(mkdir(wdir, 0700), 0);
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(go[1]);
        dm_tlog_lock_opts as = {"the first holder", 0};
        dm_tlog_log *l = NULL;
        dm_tlog_lock *w = NULL;
        if (dm_tlog_log_open_with(logdir, d->key, &as, &l) != DM_OK ||
            dm_tlog_witness_hold(wdir, &as, &w) != DM_OK)
            _exit(3);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(4);
        while (read(go[0], &c, 1) > 0) /* until the parent closes its end */
            ;
        dm_tlog_lock_free(w);
        dm_tlog_log_free(l);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);

    dm_tlog_log *l = NULL;
    dm_tlog_lock_opts at_once = {"the second", 0};
    assert_int_equal(dm_tlog_log_open_with(logdir, d->key, &at_once, &l), DM_ERR_BUSY);
    assert_null(l);
    assert_held_by(logdir, "the log", child, "the first holder", "); stop it first");
    dm_tlog_lock_opts waiting = {NULL, 1};
    assert_int_equal(dm_tlog_log_open_with(logdir, d->key, &waiting, &l), DM_ERR_BUSY);
    assert_held_by(logdir, "the log", child, "the first holder",
                   "), still after 1 s; stop it first");
    dm_tlog_lock *w = NULL;
    assert_int_equal(dm_tlog_witness_hold(wdir, &at_once, &w), DM_ERR_BUSY);
    assert_null(w);
    assert_held_by(wdir, "the witness state", child, "the first holder", "); stop it first");
    /* Losing never touches the holder's line. */
    assert_int_equal(dm_tlog_log_open_with(logdir, d->key, &at_once, &l), DM_ERR_BUSY);
    assert_held_by(logdir, "the log", child, "the first holder", "); stop it first");

    close(go[1]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);

    /* A stale line from a process that is gone does not keep anyone out. */
    FILE *f = fopen(lockpath, "w");
    assert_non_null(f);
    fputs("1 2026-01-01T00:00:00Z somebody long gone\n", f);
    fclose(f);
    assert_int_equal(dm_tlog_log_open_with(logdir, d->key, &at_once, &l), DM_OK);
    size_t len;
    char *line = read_text(lockpath, &len);
    assert_non_null(line);
    char want[64];
    snprintf(want, sizeof want, "%ld ", (long)getpid());
    assert_int_equal(strncmp(line, want, strlen(want)), 0);
    assert_non_null(strstr(line, "Z the second\n"));
    free(line);
    dm_tlog_log_free(l);
    line = read_text(lockpath, &len);
    assert_non_null(line);
    assert_int_equal(len, 0); /* let go: nobody's line */
    free(line);
    assert_int_equal(dm_tlog_witness_hold(wdir, NULL, &w), DM_OK);
    dm_tlog_lock_free(w);
    /* A first start makes the state directory, not its parents. */
    char fresh[300];
    snprintf(fresh, sizeof fresh, "%s/fresh-state", d->dir);
    assert_int_equal(dm_tlog_witness_hold(fresh, NULL, &w), DM_OK);
    struct stat st;
    assert_int_equal(stat(fresh, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    dm_tlog_lock_free(w);
    snprintf(fresh, sizeof fresh, "%s/no-such-dir/state", d->dir);
    assert_int_equal(dm_tlog_witness_hold(fresh, NULL, &w), DM_ERR_IO);
    assert_null(w);
}

/* The wait is for any one holder: while the lock changes hands (here: the
 * holder's line changes every 200 ms, for 3 s) a 2 s wait goes on, and ends
 * with the lock once it is let go. */
static void test_log_wait_is_per_holder(void **state) {
    disk *d = *state;
    char logdir[256], lockpath[300];
    snprintf(logdir, sizeof logdir, "%s/turns", d->dir);
    snprintf(lockpath, sizeof lockpath, "%s/lock", logdir);
    assert_int_equal(dm_tlog_log_create(logdir, d->key), DM_OK);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        dm_tlog_log *l = NULL;
        if (dm_tlog_log_open(logdir, d->key, &l) != DM_OK)
            _exit(3);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(4);
        for (int turn = 0; turn < 15; turn++) {
            FILE *f = fopen(lockpath, "w"); /* another open file: the flock stays */
            if (f == NULL)
                _exit(5);
            fprintf(f, "%d 2026-12-07T16:20:01Z holder number %d\n", 1000 + turn, turn);
            fclose(f);
            struct timespec pause = {0, 200000000L};
            nanosleep(&pause, NULL);
        }
        dm_tlog_log_free(l);
        _exit(0);
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    dm_tlog_log *l = NULL;
    dm_tlog_lock_opts waiting = {"the patient one", 2};
    assert_int_equal(dm_tlog_log_open_with(logdir, d->key, &waiting, &l), DM_OK);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    dm_tlog_log_free(l);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rfc6962_inclusion_vectors),
    cmocka_unit_test(test_rfc6962_consistency_vectors),
    cmocka_unit_test(test_note_vectors),
    cmocka_unit_test(test_note_grammar),
    cmocka_unit_test(test_proofs_small_trees),
    cmocka_unit_test(test_tile_paths),
    cmocka_unit_test(test_fetcher_destroy),
    cmocka_unit_test(test_release_accepts_null),
    cmocka_unit_test_setup_teardown(test_log_on_disk, disk_setup, disk_teardown),
    cmocka_unit_test_setup_teardown(test_log_remove_empty, disk_setup, disk_teardown),
    cmocka_unit_test_setup_teardown(test_log_proofs_while_growing, disk_setup, disk_teardown),
    cmocka_unit_test_setup_teardown(test_crash_before_rename, disk_setup, disk_teardown),
    cmocka_unit_test_setup_teardown(test_witness_and_receipt, disk_setup, disk_teardown),
    cmocka_unit_test_setup_teardown(test_log_write_faults, disk_setup, disk_teardown),
    cmocka_unit_test_setup_teardown(test_log_held_by_another_process, disk_setup, disk_teardown),
    cmocka_unit_test_setup_teardown(test_log_wait_is_per_holder, disk_setup, disk_teardown),
};

DM_UNIT_MAIN("tlog", tests, NULL, NULL)
