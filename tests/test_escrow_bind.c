/* The escrow stanzas bind the file: the header-swap attack of issue 18.
 *
 * A requester rebuilds an escrowed file's header without the owner's X25519
 * stanza (escrow stanzas and MAC line kept): a new header, a new header
 * hash. A warrant for that hash must not get a share; a share released for
 * the file must be logged under the id the owner derives from the file key,
 * in every mode, so that the owner's monitor finds it. */
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
#include "escrow_fixture.h"
#include "escrow_internal.h"
#include "escrow_lab.h"
#include "unit_main.h"

typedef struct world {
    dm_escrow_authority *auth;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    uint8_t fk[DM_FILE_KEY_LEN];
    dm_header hdr;  /* owner's X25519 stanza, then the escrow stanzas */
    dm_header swap; /* the same without the owner's stanza, the same MAC */
} world;

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    if (!w || authority_of_three("FBI", &w->auth, &w->keys, &w->court))
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    dm_header_clear(&w->hdr);
    dm_header_clear(&w->swap);
    authority_free_all(w->auth, w->keys, w->court);
    free(w);
    return 0;
}

/* g.age's header for opts, and its rebuilt twin. */
static void make_headers(world *w, const dm_escrow_opts *opts) {
    dm_header_clear(&w->hdr);
    dm_header_clear(&w->swap);
    randombytes_buf(w->fk, sizeof w->fk);
    char *xs, *xp;
    dm_recipient *r;
    assert_int_equal(dm_x25519_keygen(&xs, &xp), DM_OK);
    assert_int_equal(dm_x25519_recipient_parse(xp, &r), DM_OK);
    assert_int_equal(r->wrap(r, w->fk, &w->hdr.stanzas), DM_OK);
    assert_int_equal(dm_escrow_build_stanzas(w->auth, opts, w->fk, &w->hdr.stanzas), DM_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(dm_header_encode(&w->hdr, w->fk, &buf, &len), DM_OK);
    free(buf);
    dm_recipient_free(r);
    dm_secret_free(xs);
    free(xp);
    for (size_t i = 1; i < w->hdr.stanzas.len; i++) {
        const dm_stanza *st = &w->hdr.stanzas.items[i];
        assert_int_equal(dm_stanza_list_add(&w->swap.stanzas, st->type,
                                            (const char *const *)st->args, st->nargs, st->body,
                                            st->body_len),
                         DM_OK);
    }
    memcpy(w->swap.mac, w->hdr.mac, DM_MAC_LEN);
}

static dm_escrow_warrant *warrant_for(world *w, const uint8_t id[DM_FILE_ID_LEN]) {
    char *text;
    size_t len;
    dm_escrow_warrant *wr;
    assert_int_equal(dm_escrow_warrant_issue(w->auth, w->court, "SDNY 26-cr-18", NULL, "2999-12-31",
                                             (const uint8_t(*)[DM_FILE_ID_LEN])id, 1, &text, &len),
                     DM_OK);
    assert_int_equal(dm_escrow_warrant_parse(text, len, &wr, NULL), DM_OK);
    free(text);
    return wr;
}

/* The attack, in one mode: a warrant for the rebuilt header's hash. Every
 * release it gets must name the file the owner knows. */
static void swap_attack(world *w, const dm_escrow_opts *opts) {
    make_headers(w, opts);
    uint8_t owner_id[DM_FILE_ID_LEN], swap_id[DM_FILE_ID_LEN];
    assert_int_equal(dm_escrow_file_id_of_key(w->fk, owner_id), DM_OK);
    assert_int_equal(dm_header_file_id(&w->swap, swap_id), DM_OK);
    assert_memory_not_equal(owner_id, swap_id, DM_FILE_ID_LEN);
    dm_escrow_warrant *wr = warrant_for(w, swap_id);
    for (size_t i = 0; i < 2; i++) {
        dm_escrow_share *s = NULL;
        int err = dm_escrow_release_unlogged(w->auth, w->keys[i], wr, &w->swap, time(NULL), &s);
        if (err == DM_OK)
            assert_memory_equal(dm_escrow_share_file_id(s), owner_id, DM_FILE_ID_LEN);
        else
            assert_int_equal(err, DM_ERR_DENIED);
        dm_escrow_share_free(s);
    }
    dm_escrow_warrant_free(wr);

    /* The id in the stanzas is the owner's: a warrant for it gets the
     * shares, and the log entry names the owner's file. */
    uint8_t bound[DM_FILE_ID_LEN];
    assert_int_equal(dm_escrow_file_id(w->auth, &w->swap, bound), DM_OK);
    assert_memory_equal(bound, owner_id, DM_FILE_ID_LEN);
    wr = warrant_for(w, owner_id);
    dm_escrow_share *s[2] = {NULL, NULL};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(
            dm_escrow_release_unlogged(w->auth, w->keys[i], wr, &w->swap, time(NULL), &s[i]),
            DM_OK);
        char *entry;
        size_t len;
        dm_escrow_entry e;
        assert_int_equal(
            dm_escrow_release_entry(w->auth, w->keys[i], wr, s[i], NULL, time(NULL), &entry, &len),
            DM_OK);
        assert_int_equal(dm_escrow_entry_parse((const uint8_t *)entry, len, &e), DM_OK);
        assert_memory_equal(e.file_id, owner_id, DM_FILE_ID_LEN);
        free(entry);
    }
    /* The two shares do open the owner's file: the attack's prize, now logged. */
    uint8_t key[DM_FILE_KEY_LEN];
    assert_int_equal(dm_escrow_recover(w->auth, &w->hdr, s, 2, key), DM_OK);
    assert_memory_equal(key, w->fk, DM_FILE_KEY_LEN);
    for (size_t i = 0; i < 2; i++)
        dm_escrow_share_free(s[i]);

    /* An id edited in the clear does not open: the seal binds it. */
    dm_stanza *st = &w->swap.stanzas.items[0];
    assert_int_equal(st->nargs, 8);
    st->args[7][0] = st->args[7][0] == 'a' ? 'b' : 'a';
    uint8_t edited[DM_FILE_ID_LEN];
    assert_int_equal(dm_escrow_file_id(w->auth, &w->swap, edited), DM_ERR_HEADER);
    assert_int_equal(sodium_hex2bin(edited, sizeof edited, st->args[7], 32, NULL, NULL, NULL), 0);
    dm_escrow_warrant *we = warrant_for(w, edited);
    dm_escrow_share *none = NULL;
    assert_int_equal(
        dm_escrow_release_unlogged(w->auth, w->keys[0], we, &w->swap, time(NULL), &none),
        DM_ERR_NO_MATCH);
    assert_null(none);
    dm_escrow_warrant_free(we);

    /* The compliant check wants every stanza to name the id of the file key. */
    assert_int_equal(dm_escrow_verify_header(w->auth, opts, &w->hdr, w->fk), DM_OK);
    dm_stanza *mine = &w->hdr.stanzas.items[2];
    mine->args[7][5] = mine->args[7][5] == '0' ? '1' : '0';
    assert_int_equal(dm_escrow_verify_header(w->auth, opts, &w->hdr, w->fk), DM_ERR_POLICY);
    dm_escrow_warrant_free(wr);
}

static void test_swap_shamir(void **state) {
    swap_attack(*state, NULL);
}
static void test_swap_leaf(void **state) {
    dm_escrow_opts o = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 16};
    swap_attack(*state, &o);
}
static void test_swap_crumple(void **state) {
    dm_escrow_opts o = {.mode = DM_ESCROW_MODE_CRUMPLE, .crumple_bits = 4};
    swap_attack(*state, &o);
}

/* A stanza of the old format (no file id) is refused by agents, with the reason. */
static void test_v1_refused(void **state) {
    world *w = *state;
    make_headers(w, NULL);
    dm_stanza *st = &w->hdr.stanzas.items[1];
    free(st->args[7]);
    st->args[7] = NULL;
    st->nargs = 7;
    uint8_t id[DM_FILE_ID_LEN], share[DM_FILE_KEY_LEN];
    assert_int_equal(dm_escrow_file_id(w->auth, &w->hdr, id), DM_ERR_HEADER);
    assert_int_equal(dm_escrow_agent_open(w->auth, w->keys[0], &w->hdr, share, NULL),
                     DM_ERR_HEADER);
    assert_non_null(strstr(dm_err_detail(), "old format v1"));
    assert_int_equal(dm_escrow_verify_header(w->auth, NULL, &w->hdr, w->fk), DM_ERR_POLICY);
    assert_non_null(strstr(dm_err_detail(), "old format v1"));
    dm_escrow_description d;
    assert_int_equal(dm_escrow_describe(&w->hdr, &d), DM_OK);
    assert_int_equal(d.n_authorities, 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_swap_shamir, setup, teardown),
    cmocka_unit_test_setup_teardown(test_swap_leaf, setup, teardown),
    cmocka_unit_test_setup_teardown(test_swap_crumple, setup, teardown),
    cmocka_unit_test_setup_teardown(test_v1_refused, setup, teardown),
};

DM_UNIT_MAIN("escrow_bind", tests, NULL, NULL)
