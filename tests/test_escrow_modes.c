/* LEAF (Clipper) and crumple escrow modes: stanza shapes, the compliant check
 * for each, recovery through the warrant path and with stolen keys, the
 * crumple search really finding the key, Blaze's forgery really passing the
 * check and really failing recovery, and the fully derived default resisting
 * the same attack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/escrow.h"
#include "doormat/vault.h"
#include "escrow_fixture.h"
#include "escrow_lab.h"
#include "labs.h"
#include "unit_main.h"

typedef struct fixture {
    dm_escrow_authority *auth; /* 2-of-3 */
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    dm_escrow_authority *one; /* 1-of-1 */
    dm_escrow_agent_key **one_keys;
    dm_escrow_court_key *one_court;
    char *sk, *pk;
} fixture;

static const char *const three[] = {"doj", "court", "vendor"};
static const char msg[] = "the package is under the third bench";

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (dm_init() != DM_OK || authority_of_three("FBI", &f->auth, &f->keys, &f->court) != DM_OK ||
        dm_escrow_authority_new("NSA", NULL, 0, 0, &f->one, &f->one_keys, &f->one_court) != DM_OK ||
        dm_x25519_keygen(&f->sk, &f->pk) != DM_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    authority_free_all(f->auth, f->keys, f->court);
    authority_free_all(f->one, f->one_keys, f->one_court);
    dm_secret_free(f->sk);
    free(f->pk);
    free(f);
    return 0;
}

/* Encrypts msg to the fixture's X25519 key plus the authority; returns the
 * file and its file key (through a decrypt with file_key_out). */
static void encrypt_file(fixture *f, const dm_escrow_authority *auth, const dm_escrow_opts *eo,
                         dm_membuf *file, uint8_t key[DM_FILE_KEY_LEN]) {
    dm_recipient *r;
    assert_int_equal(dm_x25519_recipient_parse(f->pk, &r), DM_OK);
    dm_membuf in = {.data = (const uint8_t *)msg, .len = strlen(msg)};
    memset(file, 0, sizeof *file);
    dm_encrypt_opts o = {.threads = 1};
    assert_int_equal(dm_escrow_encrypt(dm_source_mem(&in), dm_sink_mem(file), &r, 1, auth, eo, &o),
                     DM_OK);
    dm_recipient_free(r);
    dm_identity *id;
    assert_int_equal(dm_x25519_identity_parse(f->sk, &id), DM_OK);
    dm_membuf src = {.data = file->buf, .len = file->len};
    dm_decrypt_opts d = {.threads = 1, .file_key_out = key};
    id->beside = dm_escrow_beside;
    assert_int_equal(dm_decrypt(dm_source_mem(&src), dm_sink_null(), &id, 1, &d), DM_OK);
    dm_identity_free(id);
}

/* decrypt --require-escrow's code path: dm_decrypt with the policy hook. */
static int compliant_decrypt(fixture *f, const dm_escrow_authority *auth, const dm_escrow_opts *eo,
                             const uint8_t *file, size_t len) {
    dm_identity *id;
    assert_int_equal(dm_x25519_identity_parse(f->sk, &id), DM_OK);
    dm_escrow_policy pol = {.auth = auth, .opts = eo};
    dm_decrypt_opts d = {.threads = 1, .policy = dm_escrow_policy_check, .policy_ctx = &pol};
    id->beside = dm_escrow_beside;
    dm_membuf src = {.data = file, .len = len}, out = {0};
    int err = dm_decrypt(dm_source_mem(&src), dm_sink_mem(&out), &id, 1, &d);
    if (err == DM_OK) {
        assert_int_equal(out.len, strlen(msg));
        assert_memory_equal(out.buf, msg, out.len);
    } else {
        assert_int_equal(out.len, 0);
    }
    free(out.buf);
    dm_identity_free(id);
    return err;
}

/* The warrant path: every agent unwraps, dm_escrow_recover combines. */
static int warrant_recover(const dm_escrow_authority *auth, dm_escrow_agent_key *const *keys,
                           const dm_escrow_court_key *court, size_t n, const uint8_t *file,
                           size_t len, uint8_t key[DM_FILE_KEY_LEN]) {
    dm_header hdr = {0};
    assert_int_equal(dm_header_parse(file, len, &hdr), DM_OK);
    uint8_t fid[DM_FILE_ID_LEN];
    assert_int_equal(dm_escrow_file_id(auth, &hdr, fid), DM_OK);
    char *wtext;
    size_t wlen;
    assert_int_equal(dm_escrow_warrant_issue(auth, court, "c", NULL, "2999-01-01",
                                             (const uint8_t(*)[DM_FILE_ID_LEN])fid, 1, &wtext,
                                             &wlen),
                     DM_OK);
    dm_escrow_warrant *w;
    assert_int_equal(dm_escrow_warrant_parse(wtext, wlen, &w, NULL), DM_OK);
    dm_escrow_share *shares[3] = {0};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dm_escrow_release_unlogged(auth, keys[i], w, &hdr, time(NULL), &shares[i]),
                         DM_OK);
    int err = dm_escrow_recover(auth, &hdr, shares, n, key);
    for (size_t i = 0; i < n; i++)
        dm_escrow_share_free(shares[i]);
    dm_escrow_warrant_free(w);
    free(wtext);
    dm_header_clear(&hdr);
    return err;
}

static void test_bits_range(void **state) {
    fixture *f = *state;
    dm_recipient *r = NULL;
    const dm_escrow_opts bad[] = {{DM_ESCROW_MODE_LEAF, 0, 0},
                                  {DM_ESCROW_MODE_LEAF, 65, 0},
                                  {DM_ESCROW_MODE_CRUMPLE, 0, 0},
                                  {DM_ESCROW_MODE_CRUMPLE, 0, 49}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dm_escrow_recipient_new(f->auth, &bad[i], &r), DM_ERR_USAGE);
        assert_null(r);
    }
    const dm_escrow_opts good[] = {{DM_ESCROW_MODE_LEAF, 1, 0},
                                   {DM_ESCROW_MODE_LEAF, 64, 0},
                                   {DM_ESCROW_MODE_CRUMPLE, 0, 1},
                                   {DM_ESCROW_MODE_CRUMPLE, 0, 48}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(dm_escrow_recipient_new(f->auth, &good[i], &r), DM_OK);
        dm_recipient_free(r);
        r = NULL;
    }
}

static void test_leaf_stanzas(void **state) {
    fixture *f = *state;
    dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 12};
    uint8_t key[DM_FILE_KEY_LEN];
    randombytes_buf(key, sizeof key);
    dm_stanza_list a = {0}, b = {0};
    assert_int_equal(dm_escrow_build_stanzas(f->auth, &eo, key, &a), DM_OK);
    assert_int_equal(dm_escrow_build_stanzas(f->auth, &eo, key, &b), DM_OK);
    assert_int_equal(a.len, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(a.items[i].args[0], "leaf-12");
        assert_string_equal(a.items[i].args[3], "2-of-3");
        assert_string_equal(a.items[i].args[5], three[i]);
        assert_int_equal(a.items[i].body_len, 32 + 2);
        assert_int_equal(a.items[i].body[32] & 0xf0, 0); /* 12 bits: top 4 zero */
        /* Random wrapping: nothing a recipient could rebuild. */
        assert_string_not_equal(a.items[i].args[6], b.items[i].args[6]);
    }
    dm_stanza_list_clear(&a);
    dm_stanza_list_clear(&b);
}

/* A file escrowed in mode eo: eo's check passes; the default check (its detail
 * holding default_says, when given) and the check for other refuse it; two
 * agents under a warrant recover key. */
static void checks_and_recovery(fixture *f, const dm_escrow_opts *eo, const char *default_says,
                                const dm_escrow_opts *other, const dm_membuf *file,
                                const uint8_t key[DM_FILE_KEY_LEN]) {
    uint8_t got[DM_FILE_KEY_LEN];
    assert_int_equal(compliant_decrypt(f, f->auth, eo, file->buf, file->len), DM_OK);
    assert_int_equal(compliant_decrypt(f, f->auth, NULL, file->buf, file->len), DM_ERR_POLICY);
    if (default_says != NULL)
        assert_non_null(strstr(dm_err_detail(), default_says));
    assert_int_equal(compliant_decrypt(f, f->auth, other, file->buf, file->len), DM_ERR_POLICY);
    assert_int_equal(warrant_recover(f->auth, f->keys, f->court, 2, file->buf, file->len, got),
                     DM_OK);
    assert_memory_equal(got, key, DM_FILE_KEY_LEN);
}

static void test_leaf_flow(void **state) {
    fixture *f = *state;
    dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 16};
    dm_membuf file;
    uint8_t key[DM_FILE_KEY_LEN], got[DM_FILE_KEY_LEN];
    encrypt_file(f, f->auth, &eo, &file, key);
    /* The Clipper-mode check passes; the default check refuses (mode) and so
     * does a check for another number of bits. */
    dm_escrow_opts other = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 15};
    /* Two agents recover the key; one is not enough. */
    checks_and_recovery(f, &eo, "mode leaf-16, the check wants shamir", &other, &file, key);
    dm_header hdr = {0};
    assert_int_equal(dm_header_parse(file.buf, file.len, &hdr), DM_OK);
    uint64_t tries = 99;
    assert_int_equal(dm_lab_recover_with_keys(f->auth, f->keys + 1, 2, &hdr, got, &tries), DM_OK);
    assert_memory_equal(got, key, DM_FILE_KEY_LEN);
    assert_int_equal(tries, 0);
    assert_int_equal(dm_lab_recover_with_keys(f->auth, f->keys, 1, &hdr, got, NULL),
                     DM_ERR_NO_MATCH);
    /* A changed checksum bit is caught by the check. */
    for (size_t i = 0; i < hdr.stanzas.len; i++)
        if (strcmp(hdr.stanzas.items[i].type, DM_ESCROW_STANZA_TYPE) == 0) {
            hdr.stanzas.items[i].body[33] ^= 1;
            break;
        }
    assert_int_equal(dm_escrow_verify_header(f->auth, &eo, &hdr, key), DM_ERR_POLICY);
    assert_non_null(strstr(dm_err_detail(), "LEAF checksum"));
    dm_header_clear(&hdr);
    free(file.buf);
}

static void test_leaf_forgery(void **state) {
    fixture *f = *state;
    dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 8};
    dm_membuf file;
    uint8_t key[DM_FILE_KEY_LEN], decoy[DM_FILE_KEY_LEN], got[DM_FILE_KEY_LEN];
    encrypt_file(f, f->one, &eo, &file, key);
    uint8_t *forged;
    size_t flen;
    uint64_t tries;
    assert_int_equal(dm_lab_leaf_forge(f->one, &eo, file.buf, file.len, key, 1u << 20, &forged,
                                       &flen, decoy, &tries),
                     DM_OK);
    assert_true(tries >= 1);
    assert_memory_not_equal(decoy, key, DM_FILE_KEY_LEN);
    /* The forged file differs from the original, yet passes the compliant
     * client's check (and decrypts to the message)... */
    assert_false(flen == file.len && memcmp(forged, file.buf, flen) == 0);
    assert_int_equal(compliant_decrypt(f, f->one, &eo, forged, flen), DM_OK);
    /* ...and the authority, following procedure, gets the decoy: garbage. */
    assert_int_equal(warrant_recover(f->one, f->one_keys, f->one_court, 1, forged, flen, got),
                     DM_ERR_HMAC);
    dm_header hdr = {0};
    assert_int_equal(dm_header_parse(forged, flen, &hdr), DM_OK);
    assert_int_equal(dm_lab_recover_with_keys(f->one, f->one_keys, 1, &hdr, got, NULL),
                     DM_ERR_HMAC);
    dm_header_clear(&hdr);
    /* A budget too small to succeed says so. */
    free(forged);
    dm_escrow_opts wide = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 64};
    dm_membuf file64;
    encrypt_file(f, f->one, &wide, &file64, key);
    assert_int_equal(dm_lab_leaf_forge(f->one, &wide, file64.buf, file64.len, key, 100, &forged,
                                       &flen, NULL, &tries),
                     DM_ERR_NO_MATCH);
    assert_int_equal(tries, 100);
    assert_null(forged);
    /* Not a LEAF file: refused. */
    assert_int_equal(
        dm_lab_leaf_forge(f->one, NULL, file.buf, file.len, key, 10, &forged, &flen, NULL, &tries),
        DM_ERR_USAGE);
    free(file64.buf);
    free(file.buf);
}

static void test_random_fields(void **state) {
    fixture *f = *state;
    uint8_t key[DM_FILE_KEY_LEN];
    dm_membuf file;
    dm_header hdr = {0};
    uint64_t passed = 99;
    /* The default escrow: a random field never passes. */
    encrypt_file(f, f->one, NULL, &file, key);
    assert_int_equal(dm_header_parse(file.buf, file.len, &hdr), DM_OK);
    assert_int_equal(dm_lab_random_fields(f->one, NULL, &hdr, key, 512, &passed), DM_OK);
    assert_int_equal(passed, 0);
    dm_header_clear(&hdr);
    free(file.buf);
    /* An 8-bit LEAF: about one random field in 256 passes (16 expected). */
    dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 8};
    encrypt_file(f, f->one, &eo, &file, key);
    memset(&hdr, 0, sizeof hdr);
    assert_int_equal(dm_header_parse(file.buf, file.len, &hdr), DM_OK);
    assert_int_equal(dm_lab_random_fields(f->one, &eo, &hdr, key, 4096, &passed), DM_OK);
    assert_in_range(passed, 1, 48);
    dm_header_clear(&hdr);
    free(file.buf);
}

static void test_crumple(void **state) {
    fixture *f = *state;
    dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_CRUMPLE, .crumple_bits = 10};
    dm_membuf file;
    uint8_t key[DM_FILE_KEY_LEN], got[DM_FILE_KEY_LEN];
    encrypt_file(f, f->auth, &eo, &file, key);
    /* Derived from the file key: rebuilt byte for byte, so the full check holds. */
    dm_stanza_list a = {0}, b = {0};
    assert_int_equal(dm_escrow_build_stanzas(f->auth, &eo, key, &a), DM_OK);
    assert_int_equal(dm_escrow_build_stanzas(f->auth, &eo, key, &b), DM_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(a.items[i].args[0], "crumple-10");
        assert_int_equal(a.items[i].body_len, 64);
        assert_memory_equal(a.items[i].body, b.items[i].body, 64);
    }
    dm_stanza_list_clear(&a);
    dm_stanza_list_clear(&b);
    dm_escrow_opts other = {.mode = DM_ESCROW_MODE_CRUMPLE, .crumple_bits = 11};
    /* Recovery really searches and really finds the key. */
    checks_and_recovery(f, &eo, NULL, &other, &file, key);
    dm_header hdr = {0};
    assert_int_equal(dm_header_parse(file.buf, file.len, &hdr), DM_OK);
    uint64_t tries = 0;
    memset(got, 0, sizeof got);
    assert_int_equal(dm_lab_recover_with_keys(f->auth, f->keys + 1, 2, &hdr, got, &tries), DM_OK);
    assert_memory_equal(got, key, DM_FILE_KEY_LEN);
    assert_in_range(tries, 1, 1024);
    /* The same file, escrowed again: same puzzle, same number of tries. */
    uint64_t again = 0;
    assert_int_equal(dm_lab_recover_with_keys(f->auth, f->keys, 2, &hdr, got, &again), DM_OK);
    assert_int_equal(again, tries);
    /* A check value that fits no candidate: the whole space is searched. */
    for (size_t i = 0; i < hdr.stanzas.len; i++)
        if (strcmp(hdr.stanzas.items[i].type, DM_ESCROW_STANZA_TYPE) == 0)
            hdr.stanzas.items[i].body[63] ^= 0x80;
    assert_int_equal(dm_lab_recover_with_keys(f->auth, f->keys, 2, &hdr, got, &tries), DM_ERR_HMAC);
    assert_int_equal(tries, 1024);
    dm_header_clear(&hdr);
    free(file.buf);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bits_range),    cmocka_unit_test(test_leaf_stanzas),
    cmocka_unit_test(test_leaf_flow),     cmocka_unit_test(test_leaf_forgery),
    cmocka_unit_test(test_random_fields), cmocka_unit_test(test_crumple),
};

DM_UNIT_MAIN("escrow_modes", tests, setup, teardown)
