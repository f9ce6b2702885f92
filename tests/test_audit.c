/* audit.c: a hash-chained, signed log. Each kind of tampering (edited,
 * removed, reordered, forged, cut short) is detected and the first bad entry
 * named; tail truncation shows only against a kept head; appending refuses a
 * broken log; the file version locks and appends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/escrow.h"
#include "escrow_fixture.h"
#include "escrow_internal.h"

#define N_ENTRIES 6

typedef struct world {
    dm_escrow_authority *auth, *other;
    dm_escrow_agent_key **keys, **other_keys;
    dm_escrow_court_key *court, *other_court;
    char *log;
    size_t len;
    char *lines[N_ENTRIES];
    uint8_t head[32];
} world;

static void append(world *w, const dm_escrow_agent_key *agent, time_t when) {
    uint8_t digest[32], file[DM_FILE_ID_LEN];
    randombytes_buf(digest, sizeof digest);
    randombytes_buf(file, sizeof file);
    char *entry;
    size_t elen;
    assert_int_equal(
        dm_escrow_audit_next(w->auth, agent, w->log, w->len, digest, file, when, &entry, &elen),
        DM_OK);
    w->log = realloc(w->log, w->len + elen + 1);
    memcpy(w->log + w->len, entry, elen + 1);
    w->len += elen;
    free(entry);
}

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    if (authority_of_three("FBI", &w->auth, &w->keys, &w->court) ||
        authority_of_three("FBI", &w->other, &w->other_keys, &w->other_court))
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    authority_free_all(w->auth, w->keys, w->court);
    authority_free_all(w->other, w->other_keys, w->other_court);
    free(w->log);
    free(w);
    return 0;
}

/* A fresh log of N_ENTRIES entries, split into lines for editing. */
static void build(world *w) {
    free(w->log);
    w->log = calloc(1, 1);
    w->len = 0;
    for (int i = 0; i < N_ENTRIES; i++)
        append(w, w->keys[i % 3], 1764115200 + i * 60);
}

/* Joins lines[order[0..n)] (each with its '\n'). */
static char *join(char **lines, const int *order, size_t n, size_t *len) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[order[i]]) + 1;
    char *out = malloc(total + 1), *p = out;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(lines[order[i]]);
        memcpy(p, lines[order[i]], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    *len = total;
    return out;
}

static void split(world *w, char **lines) {
    char *copy = strdup(w->log);
    size_t i = 0;
    for (char *tok = strtok(copy, "\n"); tok; tok = strtok(NULL, "\n"))
        lines[i++] = strdup(tok);
    assert_int_equal(i, N_ENTRIES);
    free(copy);
}

static void free_lines(char **lines) {
    for (int i = 0; i < N_ENTRIES; i++)
        free(lines[i]);
}

static size_t verify_bad(world *w, const char *log, size_t len) {
    size_t n, bad;
    assert_int_equal(dm_escrow_audit_verify(w->auth, log, len, &n, &bad, NULL), DM_ERR_HMAC);
    assert_true(bad > 0);
    return bad;
}

/* The log of lines[order[0..n)], which must not verify: the number of the first bad entry. */
static size_t bad_in(world *w, char **lines, const int *order, size_t n) {
    size_t len;
    char *log = join(lines, order, n, &len);
    size_t bad = verify_bad(w, log, len);
    free(log);
    return bad;
}

static void test_intact(void **state) {
    world *w = *state;
    build(w);
    size_t n, bad;
    uint8_t head[32];
    assert_int_equal(dm_escrow_audit_verify(w->auth, w->log, w->len, &n, &bad, head), DM_OK);
    assert_int_equal(n, N_ENTRIES);
    assert_int_equal(bad, 0);
    /* The empty log verifies, with the genesis head. */
    assert_int_equal(dm_escrow_audit_verify(w->auth, "", 0, &n, &bad, head), DM_OK);
    assert_int_equal(n, 0);
    /* Entry shape: seq, time, agent, warrant, file, prev, signature. */
    char *lines[N_ENTRIES];
    split(w, lines);
    assert_int_equal(strncmp(lines[0], "1 2025-11-26T00:00:00Z doj ", 27), 0);
    assert_int_equal(strncmp(lines[4], "5 2025-11-26T00:04:00Z court ", 29), 0);
    free_lines(lines);
    /* Another authority's verifier rejects the very first entry. */
    assert_int_equal(dm_escrow_audit_verify(w->other, w->log, w->len, &n, &bad, NULL), DM_ERR_HMAC);
    assert_int_equal(bad, 1);
}

static void test_edited(void **state) {
    world *w = *state;
    build(w);
    char *lines[N_ENTRIES];
    split(w, lines);
    int order[N_ENTRIES] = {0, 1, 2, 3, 4, 5};
    /* Every character of entry 3 except the signature, changed in turn. */
    size_t sig_at = (size_t)(strrchr(lines[2], ' ') - lines[2]);
    for (size_t c = 0; c < sig_at; c++) {
        char saved = lines[2][c];
        if (saved == ' ')
            continue;
        lines[2][c] = saved == '1' ? '2' : saved == 'a' ? 'b' : saved == 'A' ? 'B' : '1';
        assert_int_equal(bad_in(w, lines, order, N_ENTRIES), 3);
        lines[2][c] = saved;
    }
    /* And the signature itself. */
    lines[2][sig_at + 5] ^= 1;
    assert_int_equal(bad_in(w, lines, order, N_ENTRIES), 3);
    free_lines(lines);
}

static void test_removed(void **state) {
    world *w = *state;
    build(w);
    char *lines[N_ENTRIES];
    split(w, lines);
    for (int gone = 0; gone < N_ENTRIES - 1; gone++) {
        int order[N_ENTRIES];
        size_t n = 0;
        for (int i = 0; i < N_ENTRIES; i++)
            if (i != gone)
                order[n++] = i;
        assert_int_equal(bad_in(w, lines, order, n), (size_t)gone + 1);
        assert_non_null(strstr(dm_err_detail(), "removed"));
    }
    free_lines(lines);
}

static void test_tail_truncation_needs_the_head(void **state) {
    world *w = *state;
    build(w);
    size_t n, bad;
    uint8_t kept[32], now[32];
    assert_int_equal(dm_escrow_audit_verify(w->auth, w->log, w->len, &n, &bad, kept), DM_OK);
    char *lines[N_ENTRIES];
    split(w, lines);
    int order[N_ENTRIES] = {0, 1, 2, 3, 4, 5};
    size_t len;
    char *log = join(lines, order, N_ENTRIES - 1, &len);
    /* The shorter log is self-consistent... */
    assert_int_equal(dm_escrow_audit_verify(w->auth, log, len, &n, &bad, now), DM_OK);
    assert_int_equal(n, N_ENTRIES - 1);
    /* ...but its head is not the head that was kept. */
    assert_memory_not_equal(now, kept, 32);
    free(log);
    free_lines(lines);
}

static void test_reordered(void **state) {
    world *w = *state;
    build(w);
    char *lines[N_ENTRIES];
    split(w, lines);
    int swaps[][N_ENTRIES] = {{0, 2, 1, 3, 4, 5}, {1, 0, 2, 3, 4, 5}, {0, 1, 2, 3, 5, 4}};
    size_t want[] = {2, 1, 5};
    for (size_t s = 0; s < 3; s++) {
        assert_int_equal(bad_in(w, lines, swaps[s], N_ENTRIES), want[s]);
        assert_non_null(strstr(dm_err_detail(), "reordered"));
    }
    /* Renumbered to hide the swap: the signatures no longer verify. */
    int swap[N_ENTRIES] = {0, 2, 1, 3, 4, 5};
    lines[2][0] = '2';
    lines[1][0] = '3';
    assert_int_equal(bad_in(w, lines, swap, N_ENTRIES), 2);
    /* A duplicated entry. */
    lines[2][0] = '3';
    lines[1][0] = '2';
    int dup[N_ENTRIES] = {0, 1, 1, 2, 3, 4};
    assert_int_equal(bad_in(w, lines, dup, N_ENTRIES), 3);
    free_lines(lines);
}

/* Signs an audit entry's body as agent key would; sig64 gets the signature in base64. */
static void sign_entry(const dm_escrow_agent_key *key, const char *body, int bl, char *sig64,
                       size_t cap) {
    uint8_t sig[64];
    assert_int_equal(dm_escrow_sign(key->sign_sk, "doormat/v1/escrow/audit", (const uint8_t *)body,
                                    (size_t)bl, sig),
                     DM_OK);
    dm_escrow_b64(sig, 64, sig64, cap);
}

static void test_forged(void **state) {
    world *w = *state;
    build(w);
    /* An entry signed by an agent of the same name in another authority. */
    char *entry;
    size_t elen;
    uint8_t digest[32] = {1}, file[DM_FILE_ID_LEN] = {2};
    size_t n, bad;
    uint8_t head[32];
    assert_int_equal(dm_escrow_audit_verify(w->auth, w->log, w->len, &n, &bad, head), DM_OK);
    /* Build the forgery by hand on top of the genuine chain. */
    char head_hex[65], d_hex[65], f_hex[33];
    dm_escrow_hex(head, 32, head_hex);
    dm_escrow_hex(digest, 32, d_hex);
    dm_escrow_hex(file, DM_FILE_ID_LEN, f_hex);
    char body[512];
    int bl = snprintf(body, sizeof body, "%d 2025-11-27T00:00:00Z doj %s %s %s", N_ENTRIES + 1,
                      d_hex, f_hex, head_hex);
    char sig64[90];
    sign_entry(w->other_keys[0], body, bl, sig64, sizeof sig64);
    char *log = malloc(w->len + 1024);
    int total = snprintf(log, w->len + 1024, "%s%s %s\n", w->log, body, sig64);
    assert_int_equal(verify_bad(w, log, (size_t)total), N_ENTRIES + 1);
    assert_non_null(strstr(dm_err_detail(), "forged"));
    /* Signed with the real doj key, the same entry is fine. */
    sign_entry(w->keys[0], body, bl, sig64, sizeof sig64);
    total = snprintf(log, w->len + 1024, "%s%s %s\n", w->log, body, sig64);
    assert_int_equal(dm_escrow_audit_verify(w->auth, log, (size_t)total, &n, &bad, NULL), DM_OK);
    /* An insider with a real agent key: a wrong sequence number on the right
     * chain, and the right number chained to the wrong entry. */
    bl = snprintf(body, sizeof body, "%d 2025-11-27T00:00:00Z doj %s %s %s", N_ENTRIES + 2, d_hex,
                  f_hex, head_hex);
    sign_entry(w->keys[0], body, bl, sig64, sizeof sig64);
    total = snprintf(log, w->len + 1024, "%s%s %s\n", w->log, body, sig64);
    assert_int_equal(verify_bad(w, log, (size_t)total), N_ENTRIES + 1);
    assert_non_null(strstr(dm_err_detail(), "sequence number"));
    char genesis_hex[65];
    uint8_t genesis[32];
    uint8_t gmsg[sizeof "doormat/v1/escrow/audit-genesis\n" - 1 + DM_ESCROW_ID_LEN];
    memcpy(gmsg, "doormat/v1/escrow/audit-genesis\n", sizeof gmsg - DM_ESCROW_ID_LEN);
    memcpy(gmsg + sizeof gmsg - DM_ESCROW_ID_LEN, dm_escrow_authority_id(w->auth),
           DM_ESCROW_ID_LEN);
    dm_sha256(gmsg, sizeof gmsg, genesis);
    dm_escrow_hex(genesis, 32, genesis_hex);
    bl = snprintf(body, sizeof body, "%d 2025-11-27T00:00:00Z doj %s %s %s", N_ENTRIES + 1, d_hex,
                  f_hex, genesis_hex);
    sign_entry(w->keys[0], body, bl, sig64, sizeof sig64);
    total = snprintf(log, w->len + 1024, "%s%s %s\n", w->log, body, sig64);
    assert_int_equal(verify_bad(w, log, (size_t)total), N_ENTRIES + 1);
    assert_non_null(strstr(dm_err_detail(), "does not chain"));
    /* The genesis value is what the first entry chains to. */
    assert_int_equal(
        strncmp(strchr(strchr(strchr(strchr(strchr(w->log, ' ') + 1, ' ') + 1, ' ') + 1, ' ') + 1,
                       ' ') +
                    1,
                genesis_hex, 64),
        0);
    /* An agent the authority does not have. */
    bl = snprintf(body, sizeof body, "%d 2025-11-27T00:00:00Z fbi %s %s %s", N_ENTRIES + 1, d_hex,
                  f_hex, head_hex);
    total = snprintf(log, w->len + 1024, "%s%s %s\n", w->log, body, sig64);
    assert_int_equal(verify_bad(w, log, (size_t)total), N_ENTRIES + 1);
    assert_non_null(strstr(dm_err_detail(), "not in authority"));
    /* Cut short, and garbage. */
    assert_int_equal(verify_bad(w, w->log, w->len - 1), N_ENTRIES);
    total = snprintf(log, w->len + 1024, "%sgarbage\n", w->log);
    assert_int_equal(verify_bad(w, log, (size_t)total), N_ENTRIES + 1);
    total = snprintf(log, w->len + 1024, "%s\n", w->log);
    assert_int_equal(verify_bad(w, log, (size_t)total), N_ENTRIES + 1);
    /* Appending on top of a broken log is refused. */
    assert_int_equal(dm_escrow_audit_next(w->auth, w->keys[0], log, (size_t)total, digest, file, 0,
                                          &entry, &elen),
                     DM_ERR_DENIED);
    assert_non_null(strstr(dm_err_detail(), "refusing"));
    free(log);
}

/* Times never go backwards: verify names a backdated entry, and the
 * library refuses to append one (same-second entries are fine). */
static void test_time_goes_forward(void **state) {
    world *w = *state;
    build(w); /* entries at 2025-11-26T00:00:00Z .. 00:05:00Z */
    size_t n, bad;
    uint8_t head[32];
    assert_int_equal(dm_escrow_audit_verify(w->auth, w->log, w->len, &n, &bad, head), DM_OK);
    char head_hex[65], d_hex[65], f_hex[33];
    uint8_t digest[32] = {3}, file[DM_FILE_ID_LEN] = {4};
    dm_escrow_hex(head, 32, head_hex);
    dm_escrow_hex(digest, 32, d_hex);
    dm_escrow_hex(file, DM_FILE_ID_LEN, f_hex);
    char body[512], sig64[90];
    char *log = malloc(w->len + 1024);
    /* Signed by a real agent, chained and numbered right, but dated earlier. */
    int bl = snprintf(body, sizeof body, "%d 2025-11-26T00:04:59Z doj %s %s %s", N_ENTRIES + 1,
                      d_hex, f_hex, head_hex);
    sign_entry(w->keys[0], body, bl, sig64, sizeof sig64);
    int total = snprintf(log, w->len + 1024, "%s%s %s\n", w->log, body, sig64);
    assert_int_equal(verify_bad(w, log, (size_t)total), N_ENTRIES + 1);
    assert_string_equal(dm_err_detail(),
                        "entry 7 (line 7): its time 2025-11-26T00:04:59Z is before the entry "
                        "before it (2025-11-26T00:05:00Z): the time went backwards (a backdated "
                        "entry?)");
    /* The same second as the entry before it verifies. */
    bl = snprintf(body, sizeof body, "%d 2025-11-26T00:05:00Z doj %s %s %s", N_ENTRIES + 1, d_hex,
                  f_hex, head_hex);
    sign_entry(w->keys[0], body, bl, sig64, sizeof sig64);
    total = snprintf(log, w->len + 1024, "%s%s %s\n", w->log, body, sig64);
    assert_int_equal(dm_escrow_audit_verify(w->auth, log, (size_t)total, &n, &bad, NULL), DM_OK);
    free(log);
    /* The library will not write a backdated entry either. */
    char *entry = NULL;
    size_t elen;
    const time_t last = 1764115200 + (N_ENTRIES - 1) * 60;
    assert_int_equal(dm_escrow_audit_next(w->auth, w->keys[1], w->log, w->len, digest, file,
                                          last - 1, &entry, &elen),
                     DM_ERR_DENIED);
    assert_null(entry);
    assert_non_null(strstr(dm_err_detail(), "before the last entry (2025-11-26T00:05:00Z)"));
    assert_int_equal(dm_escrow_audit_next(w->auth, w->keys[1], w->log, w->len, digest, file, last,
                                          &entry, &elen),
                     DM_OK);
    free(entry);
}

static void test_file_append(void **state) {
    world *w = *state;
    char path[] = "/tmp/doormat-audit-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint8_t digest[32] = {9}, file[DM_FILE_ID_LEN] = {8};
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            dm_escrow_audit_append(path, w->auth, w->keys[i], digest, file, 1764115200 + i), DM_OK);
    char *text;
    size_t len, n, bad;
    assert_int_equal(dm_escrow_read_file(path, false, &text, &len), DM_OK);
    assert_int_equal(dm_escrow_audit_verify(w->auth, text, len, &n, &bad, NULL), DM_OK);
    assert_int_equal(n, 3);
    free(text);
    /* A key of another authority may not append. */
    assert_int_equal(dm_escrow_audit_append(path, w->auth, w->other_keys[0], digest, file, 0),
                     DM_ERR_USAGE);
    /* A missing log is not silently created. */
    unlink(path);
    assert_int_equal(dm_escrow_audit_append(path, w->auth, w->keys[0], digest, file, 0), DM_ERR_IO);
    assert_int_equal(access(path, F_OK), -1);
}

int main(void) {
    if (dm_init() != DM_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact),      cmocka_unit_test(test_edited),
        cmocka_unit_test(test_removed),     cmocka_unit_test(test_tail_truncation_needs_the_head),
        cmocka_unit_test(test_reordered),   cmocka_unit_test(test_forged),
        cmocka_unit_test(test_file_append), cmocka_unit_test(test_time_goes_forward),
    };
    return cmocka_run_group_tests_name("audit", tests, setup, teardown);
}
