/* warrant.c: issue and check; refused when expired, not yet valid, for another
 * file, for another authority, signed with the wrong court key, or edited;
 * grammar errors name their line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/escrow.h"
#include "escrow_fixture.h"
#include "escrow_internal.h"
#include "unit_main.h"

typedef struct world {
    dm_escrow_authority *auth, *other;
    dm_escrow_agent_key **keys, **other_keys;
    dm_escrow_court_key *court, *other_court;
    uint8_t files[2][DM_FILE_ID_LEN];
} world;

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    if (authority_of_three("FBI", &w->auth, &w->keys, &w->court) ||
        authority_of_three("FBI", &w->other, &w->other_keys, &w->other_court))
        return -1;
    randombytes_buf(w->files, sizeof w->files);
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    authority_free_all(w->auth, w->keys, w->court);
    authority_free_all(w->other, w->other_keys, w->other_court);
    free(w);
    return 0;
}

static time_t day(const char *d) {
    time_t t;
    assert_int_equal(dm_escrow_parse_date(d, &t), DM_OK);
    return t;
}

static size_t sig_offset(const char *text) {
    size_t i = 0;
    while (text[i] && strncmp(text + i, "\nsignature: ", 12) != 0)
        i++;
    assert_int_not_equal(text[i], '\0');
    return i + 1;
}

static char *issue(world *w, const char *issued, const char *expires, size_t *len) {
    char *text;
    assert_int_equal(dm_escrow_warrant_issue(w->auth, w->court, "SDNY 26-cr-0042 (Doe)", issued,
                                             expires, (const uint8_t(*)[DM_FILE_ID_LEN])w->files[0],
                                             1, &text, len),
                     DM_OK);
    return text;
}

static int check_text(world *w, const char *text, size_t len, const uint8_t *file, time_t now) {
    dm_escrow_warrant *wr;
    size_t line;
    int err = dm_escrow_warrant_parse(text, len, &wr, &line);
    if (err)
        return err;
    err = dm_escrow_warrant_check(wr, w->auth, file, now);
    dm_escrow_warrant_free(wr);
    return err;
}

static void test_valid_and_text(void **state) {
    world *w = *state;
    size_t len;
    char *text = issue(w, "2026-01-10", "2026-02-10", &len);
    char want[512];
    char fid[33];
    dm_hex(w->files[0], DM_FILE_ID_LEN, fid);
    int n = snprintf(want, sizeof want,
                     "doormat-escrow-warrant/v1\nauthority: %s\nauthority-name: FBI\n"
                     "case: SDNY 26-cr-0042 (Doe)\nissued: 2026-01-10\nexpires: 2026-02-10\n"
                     "file: %s\nsignature: ",
                     dm_escrow_authority_id_hex(w->auth), fid);
    assert_memory_equal(text, want, (size_t)n);
    assert_int_equal(len, (size_t)n + 86 + 1);
    assert_int_equal(text[len - 1], '\n');
    /* Valid from the issue day to the expiry day, inclusive (UTC dates). */
    assert_int_equal(check_text(w, text, len, w->files[0], day("2026-01-10")), DM_OK);
    assert_int_equal(check_text(w, text, len, w->files[0], day("2026-02-10") + 11 * 3600), DM_OK);

    dm_escrow_warrant *wr;
    assert_int_equal(dm_escrow_warrant_parse(text, len, &wr, NULL), DM_OK);
    assert_string_equal(dm_escrow_warrant_case(wr), "SDNY 26-cr-0042 (Doe)");
    assert_string_equal(dm_escrow_warrant_expires(wr), "2026-02-10");
    uint8_t d1[32], d2[32];
    dm_escrow_warrant_digest(wr, d1);
    dm_sha256((const uint8_t *)text, len, d2);
    assert_memory_equal(d1, d2, 32);
    dm_escrow_warrant_free(wr);
    free(text);
}

static void test_dates(void **state) {
    world *w = *state;
    size_t len;
    char *text = issue(w, "2026-01-10", "2026-02-10", &len);
    assert_int_equal(check_text(w, text, len, w->files[0], day("2026-02-11") - 12 * 3600),
                     DM_ERR_DENIED);
    assert_non_null(strstr(dm_err_detail(), "expired on 2026-02-10"));
    assert_int_equal(check_text(w, text, len, w->files[0], day("2026-01-09")), DM_ERR_DENIED);
    assert_non_null(strstr(dm_err_detail(), "not valid before 2026-01-10"));
    free(text);
    char *t;
    /* Issuing: dates must be real and in order. */
    assert_int_equal(dm_escrow_warrant_issue(w->auth, w->court, "c", "2026-02-10", "2026-01-10",
                                             (const uint8_t(*)[DM_FILE_ID_LEN])w->files[0], 1, &t,
                                             &len),
                     DM_ERR_USAGE);
    assert_int_equal(dm_escrow_warrant_issue(w->auth, w->court, "c", "2026-02-10", "2026-02-30",
                                             (const uint8_t(*)[DM_FILE_ID_LEN])w->files[0], 1, &t,
                                             &len),
                     DM_ERR_USAGE);
    assert_true(dm_escrow_valid_date("2024-02-29", 10));
    assert_false(dm_escrow_valid_date("2023-02-29", 10));
    assert_false(dm_escrow_valid_date("2100-02-29", 10));
    assert_true(dm_escrow_valid_date("2000-02-29", 10));
    assert_false(dm_escrow_valid_date("2026-13-01", 10));
    assert_false(dm_escrow_valid_date("2026-1-01x", 10));
    char d[11];
    assert_int_equal(dm_escrow_date(day("2026-11-26"), d), DM_OK);
    assert_string_equal(d, "2026-11-26");
}

static void test_other_file(void **state) {
    world *w = *state;
    size_t len;
    char *text = issue(w, "2026-01-10", "2026-02-10", &len);
    assert_int_equal(check_text(w, text, len, w->files[1], day("2026-01-20")), DM_ERR_DENIED);
    assert_non_null(strstr(dm_err_detail(), "does not cover file"));
    free(text);
    /* A warrant for several files covers each of them. */
    char *t;
    assert_int_equal(dm_escrow_warrant_issue(w->auth, w->court, "c", "2026-01-10", "2026-02-10",
                                             (const uint8_t(*)[DM_FILE_ID_LEN])w->files, 2, &t,
                                             &len),
                     DM_OK);
    assert_int_equal(check_text(w, t, len, w->files[0], day("2026-01-20")), DM_OK);
    assert_int_equal(check_text(w, t, len, w->files[1], day("2026-01-20")), DM_OK);
    free(t);
}

static void test_other_authority(void **state) {
    world *w = *state;
    char *text;
    size_t len;
    assert_int_equal(
        dm_escrow_warrant_issue(w->other, w->other_court, "c", "2026-01-10", "2026-02-10",
                                (const uint8_t(*)[DM_FILE_ID_LEN])w->files[0], 1, &text, &len),
        DM_OK);
    assert_int_equal(check_text(w, text, len, w->files[0], day("2026-01-20")), DM_ERR_DENIED);
    assert_non_null(strstr(dm_err_detail(), "is for authority"));
    free(text);
    /* The library will not sign with a court key of another authority. */
    assert_int_equal(
        dm_escrow_warrant_issue(w->auth, w->other_court, "c", "2026-01-10", "2026-02-10",
                                (const uint8_t(*)[DM_FILE_ID_LEN])w->files[0], 1, &text, &len),
        DM_ERR_USAGE);
}

/* Re-signs the text before "signature: " with sk: a forger's warrant. */
static char *resign(const char *text, size_t len, const uint8_t sk[64], size_t *out_len) {
    const char *sig = strstr(text, "signature: ");
    assert_non_null(sig);
    size_t body = (size_t)(sig - text);
    uint8_t s[64];
    char s64[90];
    assert_int_equal(
        dm_escrow_sign(sk, "doormat/v1/escrow/warrant", (const uint8_t *)text, body, s), DM_OK);
    assert_int_equal(dm_escrow_b64(s, 64, s64, sizeof s64), DM_OK);
    char *out = malloc(len + 1);
    memcpy(out, text, body);
    int n = sprintf(out + body, "signature: %s\n", s64);
    *out_len = body + (size_t)n;
    return out;
}

static void test_wrong_court_key(void **state) {
    world *w = *state;
    size_t len, flen;
    char *text = issue(w, "2026-01-10", "2026-02-10", &len);
    char *forged = resign(text, len, w->other_court->sign_sk, &flen);
    assert_int_equal(flen, len);
    assert_memory_not_equal(forged, text, len);
    assert_int_equal(check_text(w, forged, flen, w->files[0], day("2026-01-20")), DM_ERR_DENIED);
    assert_non_null(strstr(dm_err_detail(), "signature does not verify"));
    /* An agent's key is not the court's key either. */
    free(forged);
    forged = resign(text, len, w->keys[0]->sign_sk, &flen);
    assert_int_equal(check_text(w, forged, flen, w->files[0], day("2026-01-20")), DM_ERR_DENIED);
    /* And the genuine court key does verify (the forger's tool is honest). */
    free(forged);
    forged = resign(text, len, w->court->sign_sk, &flen);
    assert_int_equal(check_text(w, forged, flen, w->files[0], day("2026-01-20")), DM_OK);
    free(forged);
    free(text);
}

static void test_edited(void **state) {
    world *w = *state;
    size_t len;
    char *text = issue(w, "2026-01-10", "2026-02-10", &len);
    const char *edits[][2] = {
        {"expires: 2026-02-10", "expires: 2027-02-10"},
        {"issued: 2026-01-10", "issued: 2026-01-11"},
        {"case: SDNY 26-cr-0042 (Doe)", "case: SDNY 26-cr-0043 (Doe)"},
        {"authority-name: FBI", "authority-name: FBJ"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char *t = strdup(text);
        char *at = strstr(t, edits[e][0]);
        assert_non_null(at);
        memcpy(at, edits[e][1], strlen(edits[e][1]));
        assert_int_equal(check_text(w, t, len, w->files[0], day("2026-01-20")), DM_ERR_DENIED);
        assert_non_null(strstr(dm_err_detail(), "signature"));
        free(t);
    }
    /* The file id line, edited to cover another file. */
    char *t = strdup(text);
    char other[33];
    dm_hex(w->files[1], DM_FILE_ID_LEN, other);
    memcpy(strstr(t, "file: ") + 6, other, 32);
    assert_int_equal(check_text(w, t, len, w->files[1], day("2026-01-20")), DM_ERR_DENIED);
    assert_non_null(strstr(dm_err_detail(), "signature"));
    free(t);
    /* Every single bit of the signed part matters. */
    size_t body = sig_offset(text);
    for (size_t i = 0; i < body; i += 7) {
        t = strdup(text);
        t[i] ^= 0x01;
        int err = check_text(w, t, len, w->files[0], day("2026-01-20"));
        assert_true(err == DM_ERR_DENIED || err == DM_ERR_USAGE);
        free(t);
    }
    free(text);
}

static void test_grammar(void **state) {
    world *w = *state;
    size_t len, line;
    char *text = issue(w, "2026-01-10", "2026-02-10", &len);
    dm_escrow_warrant *wr;
    struct {
        const char *from, *to;
        size_t line;
    } cases[] = {
        {"doormat-escrow-warrant/v1", "doormat-escrow-warrant/v2", 1},
        {"issued: 2026-01-10", "issued: 2026-01-32", 5},
        {"expires: ", "expires= ", 6},
        {"file: ", "File: ", 7},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *t = strdup(text);
        memcpy(strstr(t, cases[c].from), cases[c].to, strlen(cases[c].to));
        assert_int_equal(dm_escrow_warrant_parse(t, len, &wr, &line), DM_ERR_USAGE);
        assert_int_equal(line, cases[c].line);
        free(t);
    }
    /* Missing the signature, or text after it. */
    size_t body = sig_offset(text);
    assert_int_equal(dm_escrow_warrant_parse(text, body, &wr, &line), DM_ERR_USAGE);
    char *longer = malloc(len + 8);
    memcpy(longer, text, len);
    memcpy(longer + len, "extra\n", 6);
    assert_int_equal(dm_escrow_warrant_parse(longer, len + 6, &wr, &line), DM_ERR_USAGE);
    assert_int_equal(line, 9);
    /* No final newline. */
    assert_int_equal(dm_escrow_warrant_parse(text, len - 1, &wr, &line), DM_ERR_USAGE);
    assert_int_equal(line, 8);
    free(longer);
    free(text);
}

/* Every release function of escrow.h accepts NULL. */
static void test_release_accepts_null(void **state) {
    (void)state;
    dm_escrow_authority_free(NULL);
    dm_escrow_agent_key_free(NULL);
    dm_escrow_court_key_free(NULL);
    dm_escrow_agent_keys_free(NULL, 3);
    dm_escrow_warrant_free(NULL);
    dm_escrow_share_free(NULL);
    dm_escrow_releaser_free(NULL);
    dm_escrow_round_free(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_valid_and_text),  cmocka_unit_test(test_dates),
    cmocka_unit_test(test_other_file),      cmocka_unit_test(test_other_authority),
    cmocka_unit_test(test_wrong_court_key), cmocka_unit_test(test_edited),
    cmocka_unit_test(test_grammar),         cmocka_unit_test(test_release_accepts_null),
};

DM_UNIT_MAIN("warrant", tests, setup, teardown)
