/* escrow stanzas: deterministic derivation, the compliant client's check
 * (every single-byte change, missing, incomplete, duplicated stanzas), the
 * authority and key files, the full encrypt / unwrap / recover flow in memory,
 * the passphrase extension, inspect's text and the rogue sender's tools. */
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
#include "doormat/vault.h"
#include "escrow_fixture.h"
#include "escrow_lab.h"
#include "labs.h"
#include "unit_main.h"

typedef struct fixture {
    dm_escrow_authority *auth;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
} fixture;

static const char *const three[] = {"doj", "court", "vendor"};

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (authority_of_three("FBI", &f->auth, &f->keys, &f->court) != DM_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    authority_free_all(f->auth, f->keys, f->court);
    free(f);
    return 0;
}

static void header_with(fixture *f, const uint8_t key[DM_FILE_KEY_LEN], dm_header *hdr) {
    memset(hdr, 0, sizeof *hdr);
    const char *args[1] = {"AAAA"};
    uint8_t body[32] = {7};
    assert_int_equal(dm_stanza_list_add(&hdr->stanzas, "X25519", args, 1, body, 32), DM_OK);
    assert_int_equal(dm_escrow_build_stanzas(f->auth, NULL, key, &hdr->stanzas), DM_OK);
}

static void test_deterministic(void **state) {
    fixture *f = *state;
    uint8_t key[DM_FILE_KEY_LEN];
    randombytes_buf(key, sizeof key);
    dm_stanza_list a = {0}, b = {0}, c = {0};
    assert_int_equal(dm_escrow_build_stanzas(f->auth, NULL, key, &a), DM_OK);
    assert_int_equal(dm_escrow_build_stanzas(f->auth, NULL, key, &b), DM_OK);
    assert_int_equal(a.len, 3);
    for (size_t i = 0; i < a.len; i++) {
        assert_string_equal(a.items[i].type, "doormat-escrow");
        assert_int_equal(a.items[i].nargs, 8);
        assert_string_equal(a.items[i].args[0], "shamir");
        assert_string_equal(a.items[i].args[1], dm_escrow_authority_id_hex(f->auth));
        assert_string_equal(a.items[i].args[2], "FBI");
        assert_string_equal(a.items[i].args[3], "2-of-3");
        char x[4];
        snprintf(x, sizeof x, "%zu", i + 1);
        assert_string_equal(a.items[i].args[4], x);
        assert_string_equal(a.items[i].args[5], three[i]);
        uint8_t fid[DM_FILE_ID_LEN];
        char fid_hex[2 * DM_FILE_ID_LEN + 1];
        assert_int_equal(dm_escrow_file_id_of_key(key, fid), DM_OK);
        sodium_bin2hex(fid_hex, sizeof fid_hex, fid, sizeof fid);
        assert_string_equal(a.items[i].args[7], fid_hex);
        assert_int_equal(a.items[i].body_len, 32);
        for (size_t j = 0; j < 8; j++)
            assert_string_equal(a.items[i].args[j], b.items[i].args[j]);
        assert_memory_equal(a.items[i].body, b.items[i].body, 32);
    }
    /* Per agent: different ephemeral shares. Per file key: different stanzas. */
    assert_string_not_equal(a.items[0].args[6], a.items[1].args[6]);
    key[0] ^= 1;
    assert_int_equal(dm_escrow_build_stanzas(f->auth, NULL, key, &c), DM_OK);
    assert_string_not_equal(a.items[0].args[6], c.items[0].args[6]);
    dm_stanza_list_clear(&a);
    dm_stanza_list_clear(&b);
    dm_stanza_list_clear(&c);
}

static void test_authorities_are_domain_separated(void **state) {
    fixture *f = *state;
    dm_escrow_authority *other;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    assert_int_equal(authority_of_three("FBI", &other, &keys, &court), DM_OK);
    assert_string_not_equal(dm_escrow_authority_id_hex(f->auth), dm_escrow_authority_id_hex(other));
    uint8_t key[DM_FILE_KEY_LEN] = "same file key!!";
    dm_header hdr;
    header_with(f, key, &hdr);
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, key), DM_OK);
    /* The other authority finds nothing of its own there. */
    assert_int_equal(dm_escrow_verify_header(other, NULL, &hdr, key), DM_ERR_POLICY);
    assert_non_null(strstr(dm_err_detail(), "missing"));
    dm_header_clear(&hdr);
    authority_free_all(other, keys, court);
}

static void test_every_byte_change_detected(void **state) {
    fixture *f = *state;
    uint8_t key[DM_FILE_KEY_LEN];
    randombytes_buf(key, sizeof key);
    dm_header hdr;
    header_with(f, key, &hdr);
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, key), DM_OK);
    size_t changes = 0;
    for (size_t s = 1; s < hdr.stanzas.len; s++) {
        dm_stanza *st = &hdr.stanzas.items[s];
        for (size_t b = 0; b < st->body_len; b++) {
            st->body[b] ^= 0x01;
            assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, key), DM_ERR_POLICY);
            st->body[b] ^= 0x01;
            changes++;
        }
        for (size_t a = 0; a < st->nargs; a++) {
            for (size_t c = 0; st->args[a][c]; c++) {
                char saved = st->args[a][c];
                /* Another character of the same class, so the stanza stays
                 * well-formed and only the content differs. */
                st->args[a][c] = saved == 'A' ? 'B' : saved == '1' ? '2' : saved == 'a' ? 'b' : 'A';
                assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, key), DM_ERR_POLICY);
                st->args[a][c] = saved;
                changes++;
            }
        }
        char *type = st->type;
        st->type = "doormat-escrOw";
        assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, key), DM_ERR_POLICY);
        st->type = type;
    }
    assert_true(changes > 3 * (32 + 90));
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, key), DM_OK);
    /* The wrong file key, and a non-escrow stanza changed: only the former matters. */
    uint8_t wrong[DM_FILE_KEY_LEN];
    memcpy(wrong, key, sizeof wrong);
    wrong[15] ^= 0x80;
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, wrong), DM_ERR_POLICY);
    hdr.stanzas.items[0].body[0] ^= 1;
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &hdr, key), DM_OK);
    dm_header_clear(&hdr);
}

static void test_missing_incomplete_duplicate(void **state) {
    fixture *f = *state;
    uint8_t key[DM_FILE_KEY_LEN];
    randombytes_buf(key, sizeof key);
    dm_header full;
    header_with(f, key, &full);

    /* Only the X25519 stanza: missing. */
    dm_header none = {0};
    const dm_stanza *x = &full.stanzas.items[0];
    assert_int_equal(dm_stanza_list_add(&none.stanzas, x->type, (const char *const *)x->args,
                                        x->nargs, x->body, x->body_len),
                     DM_OK);
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &none, key), DM_ERR_POLICY);
    assert_non_null(strstr(dm_err_detail(), "missing"));

    /* Two of three agents: incomplete, naming the missing agent. */
    for (size_t i = 1; i <= 2; i++) {
        const dm_stanza *st = &full.stanzas.items[i];
        assert_int_equal(dm_stanza_list_add(&none.stanzas, st->type, (const char *const *)st->args,
                                            st->nargs, st->body, st->body_len),
                         DM_OK);
    }
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &none, key), DM_ERR_POLICY);
    assert_non_null(strstr(dm_err_detail(), "vendor"));
    assert_non_null(strstr(dm_err_detail(), "incomplete"));

    /* All three plus a copy of one: duplicate. */
    const dm_stanza *v = &full.stanzas.items[3];
    assert_int_equal(dm_stanza_list_add(&none.stanzas, v->type, (const char *const *)v->args,
                                        v->nargs, v->body, v->body_len),
                     DM_OK);
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &none, key), DM_OK);
    assert_int_equal(dm_stanza_list_add(&none.stanzas, v->type, (const char *const *)v->args,
                                        v->nargs, v->body, v->body_len),
                     DM_OK);
    assert_int_equal(dm_escrow_verify_header(f->auth, NULL, &none, key), DM_ERR_POLICY);
    assert_non_null(strstr(dm_err_detail(), "two escrow stanzas"));
    dm_header_clear(&none);
    dm_header_clear(&full);
}

/* The command's words for a refused check: escrow's, not the vault's. */
static void test_escrow_words(void **state) {
    (void)state;
    assert_string_equal(dm_escrow_strerror(DM_ERR_POLICY), "escrow policy violated");
    assert_string_equal(dm_strerror(DM_ERR_POLICY), "policy violated");
    for (int e = 0; e < DM_ERR__COUNT; e++)
        if (e != DM_ERR_POLICY)
            assert_string_equal(dm_escrow_strerror(e), dm_strerror(e));
    assert_string_equal(dm_escrow_strerror(999), "unknown error");
}

static void test_unimplemented_modes(void **state) {
    fixture *f = *state;
    /* LEAF and crumple are implemented (tests/test_escrow_modes.c); bits out
     * of range are still refused. */
    dm_escrow_opts leaf = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 0};
    dm_recipient *r = NULL;
    assert_int_equal(dm_escrow_recipient_new(f->auth, &leaf, &r), DM_ERR_USAGE);
    assert_null(r);
    assert_string_equal(dm_err_detail(), "LEAF checksum bits must be 1 to 64, not 0");
    dm_escrow_opts crumple = {.mode = DM_ESCROW_MODE_CRUMPLE, .crumple_bits = 49};
    assert_int_equal(dm_escrow_recipient_new(f->auth, &crumple, &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "crumple bits must be 1 to 48, not 49");
    dm_escrow_opts unknown = {.mode = (dm_escrow_mode)7};
    assert_int_equal(dm_escrow_recipient_new(f->auth, &unknown, &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "unknown escrow mode 7");
    /* The names; in a stanza, leaf and crumple carry their bits after the name. */
    assert_string_equal(dm_escrow_mode_name(DM_ESCROW_MODE_SHAMIR), "shamir");
    assert_string_equal(dm_escrow_mode_name(DM_ESCROW_MODE_LEAF), "leaf");
    assert_string_equal(dm_escrow_mode_name(DM_ESCROW_MODE_CRUMPLE), "crumple");
    assert_string_equal(dm_escrow_mode_name((dm_escrow_mode)7), "unknown");
    static const uint8_t key[DM_FILE_KEY_LEN] = {9};
    dm_escrow_opts modes[3] = {{.mode = DM_ESCROW_MODE_SHAMIR},
                               {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 16},
                               {.mode = DM_ESCROW_MODE_CRUMPLE, .crumple_bits = 3}};
    const char *args[3] = {"shamir", "leaf-16", "crumple-3"};
    for (size_t m = 0; m < 3; m++) {
        dm_stanza_list l = {0};
        assert_int_equal(dm_escrow_build_stanzas(f->auth, &modes[m], key, &l), DM_OK);
        assert_int_equal(l.len, 3);
        assert_string_equal(l.items[0].args[0], args[m]);
        dm_stanza_list_clear(&l);
    }
}

/* ------------------------------------------------ authority and key files */

static void test_authority_text(void **state) {
    fixture *f = *state;
    char *text;
    size_t len;
    assert_int_equal(dm_escrow_authority_format(f->auth, &text, &len), DM_OK);
    assert_non_null(strstr(text, "threshold: 2\n"));
    assert_non_null(strstr(text, "agent: court age1"));
    dm_escrow_authority *back;
    size_t line = 99;
    assert_int_equal(dm_escrow_authority_parse(text, len, &back, &line), DM_OK);
    assert_string_equal(dm_escrow_authority_id_hex(back), dm_escrow_authority_id_hex(f->auth));
    assert_string_equal(dm_escrow_authority_agent_recipient(back, 2),
                        dm_escrow_authority_agent_recipient(f->auth, 2));
    dm_escrow_authority_free(back);

    /* Lowering the threshold breaks the id: named on the id line. */
    char *edited = strdup(text);
    char *t = strstr(edited, "threshold: 2");
    t[11] = '1';
    assert_int_equal(dm_escrow_authority_parse(edited, len, &back, &line), DM_ERR_USAGE);
    assert_int_equal(line, 5);
    assert_non_null(strstr(dm_err_detail(), "id does not match"));
    free(edited);

    /* Garbage on a line is named with its line. */
    edited = strdup(text);
    t = strstr(edited, "agent: doj age1");
    t[11] = 'X';
    assert_int_equal(dm_escrow_authority_parse(edited, len, &back, &line), DM_ERR_USAGE);
    assert_int_equal(line, 7);
    free(edited);

    /* A line after the last log line (comments 1-2, header 3-6, agents 7-9,
     * court 10, logs 11-13). */
    size_t big = len + 20;
    edited = malloc(big);
    memcpy(edited, text, len);
    memcpy(edited + len, "threshold: 1\n", 13);
    assert_int_equal(dm_escrow_authority_parse(edited, len + 13, &back, &line), DM_ERR_USAGE);
    assert_int_equal(line, 14);
    free(edited);

    /* A log key that is not the agent's (here: another agent's) breaks the line. */
    edited = strdup(text);
    t = strstr(edited, "log: doj doormat-escrow/FBI/doj/");
    assert_non_null(t);
    char *court_log = strstr(edited, "log: court ");
    memcpy(t + 9, court_log + 11, 20); /* another key name in doj's place */
    assert_int_equal(dm_escrow_authority_parse(edited, len, &back, &line), DM_ERR_USAGE);
    assert_int_equal(line, 11);
    free(edited);
    free(text);
}

/* Witnesses: the policy is in the id; a lowered threshold or a dropped
 * witness is an edited authority. */
static void test_authority_witnesses(void **state) {
    (void)state;
    dm_escrow_authority *auth, *back;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    assert_int_equal(authority_of_three("FBI", &auth, &keys, &court), DM_OK);
    dm_tlog_verifier w[3];
    for (int i = 0; i < 3; i++) {
        char name[32], *sk, *vk;
        snprintf(name, sizeof name, "w%d.example", i);
        assert_int_equal(dm_tlog_key_generate(name, DM_TLOG_SIG_COSIGNATURE, &sk, &vk), DM_OK);
        assert_int_equal(dm_tlog_verifier_parse(vk, strlen(vk), &w[i]), DM_OK);
        dm_secret_free(sk);
        free(vk);
    }
    char old_id[33];
    snprintf(old_id, sizeof old_id, "%s", dm_escrow_authority_id_hex(auth));
    assert_int_equal(dm_escrow_authority_set_witnesses(auth, keys, court, w, 3, 4), DM_ERR_USAGE);
    assert_int_equal(dm_escrow_authority_set_witnesses(auth, keys, court, w, 3, 2), DM_OK);
    assert_string_not_equal(old_id, dm_escrow_authority_id_hex(auth));
    char *text;
    size_t len, line = 0;
    assert_int_equal(dm_escrow_authority_format(auth, &text, &len), DM_OK);
    assert_non_null(strstr(text, "witness-threshold: 2\n"));
    assert_int_equal(dm_escrow_authority_parse(text, len, &back, &line), DM_OK);
    assert_int_equal(dm_escrow_authority_witnesses(back), 3);
    assert_int_equal(dm_escrow_authority_witness_threshold(back), 2);
    dm_escrow_authority_free(back);
    /* The agent keys follow the new id. */
    char *kt;
    size_t kl;
    dm_escrow_agent_key *k;
    assert_int_equal(dm_escrow_agent_key_format(keys[0], &kt, &kl), DM_OK);
    assert_int_equal(dm_escrow_agent_key_parse(auth, kt, kl, &k, &line), DM_OK);
    dm_escrow_agent_key_free(k);
    dm_secret_free(kt);
    char *t = strstr(text, "witness-threshold: 2");
    t[19] = '1';
    assert_int_equal(dm_escrow_authority_parse(text, len, &back, &line), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "id does not match"));
    free(text);
    for (int i = 0; i < 3; i++)
        dm_escrow_agent_key_free(keys[i]);
    free(keys);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
}

static void test_key_files(void **state) {
    fixture *f = *state;
    char *text;
    size_t len, line;
    assert_int_equal(dm_escrow_agent_key_format(f->keys[1], &text, &len), DM_OK);
    dm_escrow_agent_key *k;
    assert_int_equal(dm_escrow_agent_key_parse(f->auth, text, len, &k, &line), DM_OK);
    assert_string_equal(dm_escrow_agent_key_name(k), "court");
    dm_escrow_agent_key_free(k);

    /* The same key presented for another authority. */
    dm_escrow_authority *other;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    assert_int_equal(authority_of_three("NSA", &other, &keys, &court), DM_OK);
    assert_int_equal(dm_escrow_agent_key_parse(other, text, len, &k, &line), DM_ERR_USAGE);
    assert_int_equal(line, 3);
    assert_non_null(strstr(dm_err_detail(), "belongs to authority"));

    /* Renamed to another agent of the right authority: keys do not match. */
    char *renamed = dm_secret_alloc(len + 8);
    char *at = strstr(text, "agent: court");
    size_t head = (size_t)(at - text);
    memcpy(renamed, text, head);
    memcpy(renamed + head, "agent: doj", 10);
    memcpy(renamed + head + 10, at + 12, len - head - 12);
    assert_int_equal(dm_escrow_agent_key_parse(f->auth, renamed, len - 2, &k, &line), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "does not match"));
    /* An agent that is not in the authority. */
    memcpy(renamed + head, "agent: fbi", 10);
    assert_int_equal(dm_escrow_agent_key_parse(f->auth, renamed, len - 2, &k, &line), DM_ERR_USAGE);
    assert_int_equal(line, 4);
    dm_secret_free(renamed);
    dm_secret_free(text);

    assert_int_equal(dm_escrow_court_key_format(f->court, &text, &len), DM_OK);
    dm_escrow_court_key *c;
    assert_int_equal(dm_escrow_court_key_parse(f->auth, text, len, &c, &line), DM_OK);
    dm_escrow_court_key_free(c);
    assert_int_equal(dm_escrow_court_key_parse(other, text, len, &c, &line), DM_ERR_USAGE);
    dm_secret_free(text);
    authority_free_all(other, keys, court);
}

static void test_bad_names(void **state) {
    (void)state;
    dm_escrow_authority *a;
    dm_escrow_agent_key **k;
    dm_escrow_court_key *c;
    const char *dup[] = {"a", "a"};
    const char *upper[] = {"DOJ"};
    assert_int_equal(dm_escrow_authority_new("has space", NULL, 0, 0, &a, &k, &c), DM_ERR_USAGE);
    assert_int_equal(dm_escrow_authority_new("X", dup, 2, 1, &a, &k, &c), DM_ERR_USAGE);
    assert_int_equal(dm_escrow_authority_new("X", upper, 1, 1, &a, &k, &c), DM_ERR_USAGE);
    assert_int_equal(dm_escrow_authority_new("X", three, 3, 4, &a, &k, &c), DM_ERR_USAGE);
    /* Default: one agent, "master", 1-of-1. */
    assert_int_equal(dm_escrow_authority_new("X", NULL, 0, 0, &a, &k, &c), DM_OK);
    assert_int_equal(dm_escrow_authority_agents(a), 1);
    assert_int_equal(dm_escrow_authority_threshold(a), 1);
    assert_string_equal(dm_escrow_authority_agent_name(a, 0), "master");
    dm_escrow_agent_key_free(k[0]);
    free(k);
    dm_escrow_court_key_free(c);
    dm_escrow_authority_free(a);
}

/* ------------------------------------------------ the whole flow, in memory */

static void encrypt_mem(const dm_escrow_authority *auth, dm_recipient *r, const char *msg,
                        dm_membuf *out) {
    dm_membuf in = {.data = (const uint8_t *)msg, .len = strlen(msg)};
    memset(out, 0, sizeof *out);
    dm_encrypt_opts eo = {.threads = 1};
    assert_int_equal(
        dm_escrow_encrypt(dm_source_mem(&in), dm_sink_mem(out), &r, 1, auth, NULL, &eo), DM_OK);
}

static void read_header(const dm_membuf *file, dm_header *hdr) {
    assert_int_equal(dm_header_parse(file->buf, file->len, hdr), DM_OK);
}

/* A fresh X25519 user: its keys, recipient and (when id is non-NULL) identity. */
static void user_new(char **sk, char **pk, dm_recipient **r, dm_identity **id) {
    assert_int_equal(dm_x25519_keygen(sk, pk), DM_OK);
    assert_int_equal(dm_x25519_recipient_parse(*pk, r), DM_OK);
    if (id != NULL)
        assert_int_equal(dm_x25519_identity_parse(*sk, id), DM_OK);
}

/* Frees what user_new made (id may be NULL). */
static void user_free(char *sk, char *pk, dm_recipient *r, dm_identity *id) {
    dm_recipient_free(r);
    dm_identity_free(id);
    dm_secret_free(sk);
    free(pk);
}

static void test_flow(void **state) {
    fixture *f = *state;
    char *sk, *pk;
    dm_recipient *r;
    dm_identity *id;
    user_new(&sk, &pk, &r, &id);
    const char *msg = "meet at the usual place, 9pm";
    dm_membuf file;
    encrypt_mem(f->auth, r, msg, &file);

    /* The recipient, as a compliant client. */
    dm_escrow_policy pol = {.auth = f->auth};
    dm_decrypt_opts dopts = {.threads = 1, .policy = dm_escrow_policy_check, .policy_ctx = &pol};
    dm_membuf in = {.data = file.buf, .len = file.len}, out = {0};
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &id, 1, &dopts), DM_OK);
    assert_int_equal(out.len, strlen(msg));
    assert_memory_equal(out.buf, msg, out.len);
    free(out.buf);

    /* What inspect words: data, not sentences. */
    dm_header hdr;
    read_header(&file, &hdr);
    dm_escrow_description d;
    assert_int_equal(dm_escrow_describe(&hdr, &d), DM_OK);
    assert_int_equal(d.n_authorities, 1);
    const dm_escrow_holders *g = &d.authorities[0];
    assert_string_equal(g->name, "FBI");
    assert_string_equal(g->id_hex, dm_escrow_authority_id_hex(f->auth));
    assert_string_equal(g->mode, "shamir");
    assert_int_equal(g->k, 2);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->n_agents, 3);
    assert_string_equal(g->agents[0], "doj");
    assert_string_equal(g->agents[1], "court");
    assert_string_equal(g->agents[2], "vendor");
    /* Stanzas in any order still list the agents in share order. */
    dm_stanza tmp = hdr.stanzas.items[1];
    hdr.stanzas.items[1] = hdr.stanzas.items[3];
    hdr.stanzas.items[3] = tmp;
    assert_int_equal(dm_escrow_describe(&hdr, &d), DM_OK);
    assert_string_equal(d.authorities[0].agents[0], "doj");
    assert_string_equal(d.authorities[0].agents[2], "vendor");
    hdr.stanzas.items[3] = hdr.stanzas.items[1];
    hdr.stanzas.items[1] = tmp;

    /* The agents, under a warrant. */
    uint8_t fid[DM_FILE_ID_LEN];
    assert_int_equal(dm_escrow_file_id(f->auth, &hdr, fid), DM_OK);
    char *wtext;
    size_t wlen;
    time_t now = time(NULL);
    assert_int_equal(dm_escrow_warrant_issue(f->auth, f->court, "case 1", NULL, "2999-12-31",
                                             (const uint8_t(*)[DM_FILE_ID_LEN])fid, 1, &wtext,
                                             &wlen),
                     DM_OK);
    dm_escrow_warrant *w;
    assert_int_equal(dm_escrow_warrant_parse(wtext, wlen, &w, NULL), DM_OK);
    dm_escrow_share *shares[3];
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(dm_escrow_release_unlogged(f->auth, f->keys[i], w, &hdr, now, &shares[i]),
                         DM_OK);

    /* Shares survive their text form, and their signature protects them. */
    char *stext;
    size_t slen, line;
    assert_int_equal(dm_escrow_share_format(shares[2], &stext, &slen), DM_OK);
    dm_escrow_share *back;
    assert_int_equal(dm_escrow_share_parse(f->auth, stext, slen, &back, &line), DM_OK);
    assert_string_equal(dm_escrow_share_agent(back), "vendor");
    dm_escrow_share_free(back);
    char *v = strstr(stext, "share: ") + 7;
    *v = *v == 'A' ? 'B' : 'A';
    assert_int_equal(dm_escrow_share_parse(f->auth, stext, slen, &back, &line), DM_ERR_USAGE);
    assert_int_equal(line, 9);
    assert_non_null(strstr(dm_err_detail(), "signature"));
    dm_secret_free(stext);

    /* Any two recover the key; one does not, and says how many are needed. */
    uint8_t key[DM_FILE_KEY_LEN];
    for (size_t a = 0; a < 3; a++)
        for (size_t b = a + 1; b < 3; b++) {
            dm_escrow_share *two[2] = {shares[a], shares[b]};
            assert_int_equal(dm_escrow_recover(f->auth, &hdr, two, 2, key), DM_OK);
            assert_int_equal(dm_header_verify_mac(&hdr, key), DM_OK);
        }
    assert_int_equal(dm_escrow_recover(f->auth, &hdr, shares, 1, key), DM_ERR_NO_MATCH);
    assert_non_null(strstr(dm_err_detail(), "needs 2 of 3"));
    dm_escrow_share *same[2] = {shares[0], shares[0]};
    assert_int_equal(dm_escrow_recover(f->auth, &hdr, same, 2, key), DM_ERR_NO_MATCH);

    /* The recovered key opens the file. */
    dm_identity *fk;
    assert_int_equal(dm_escrow_recover(f->auth, &hdr, shares + 1, 2, key), DM_OK);
    assert_int_equal(dm_file_key_identity_new(key, &fk), DM_OK);
    dm_membuf in2 = {.data = file.buf, .len = file.len}, out2 = {0};
    dm_decrypt_opts plain = {.threads = 1};
    assert_int_equal(dm_decrypt(dm_source_mem(&in2), dm_sink_mem(&out2), &fk, 1, &plain), DM_OK);
    assert_memory_equal(out2.buf, msg, strlen(msg));
    free(out2.buf);
    dm_identity_free(fk);

    /* Shares for another file are refused. */
    dm_membuf file2;
    encrypt_mem(f->auth, r, msg, &file2);
    dm_header hdr2;
    read_header(&file2, &hdr2);
    assert_int_equal(dm_escrow_recover(f->auth, &hdr2, shares, 2, key), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "is for file"));
    /* And the warrant does not cover it. */
    dm_escrow_share *s;
    assert_int_equal(dm_escrow_release_unlogged(f->auth, f->keys[0], w, &hdr2, now, &s),
                     DM_ERR_DENIED);

    for (size_t i = 0; i < 3; i++)
        dm_escrow_share_free(shares[i]);
    dm_escrow_warrant_free(w);
    free(wtext);
    dm_header_clear(&hdr);
    dm_header_clear(&hdr2);
    free(file.buf);
    free(file2.buf);
    user_free(sk, pk, r, id);
}

/* What an agent key opens by itself, and the last step of recovery. */
static void test_agent_open_and_combine(void **state) {
    fixture *f = *state;
    char *sk, *pk;
    dm_recipient *r;
    user_new(&sk, &pk, &r, NULL);
    dm_membuf file;
    encrypt_mem(f->auth, r, "open and combine", &file);
    dm_header hdr;
    read_header(&file, &hdr);
    uint8_t ys[3][DM_FILE_KEY_LEN], xs[3], fk[DM_FILE_KEY_LEN], fk2[DM_FILE_KEY_LEN];
    const uint8_t *yp[3];
    for (size_t i = 0; i < 3; i++) {
        unsigned x = 0;
        assert_int_equal(dm_escrow_agent_open(f->auth, f->keys[i], &hdr, ys[i], &x), DM_OK);
        assert_int_equal(x, i + 1);
        xs[i] = (uint8_t)x;
        yp[i] = ys[i];
    }
    uint64_t tries = 99;
    assert_int_equal(dm_escrow_combine(f->auth, &hdr, xs + 1, yp + 1, 2, fk, &tries), DM_OK);
    assert_int_equal(tries, 0);
    assert_int_equal(dm_header_verify_mac(&hdr, fk), DM_OK);
    assert_int_equal(dm_escrow_combine(f->auth, &hdr, xs, yp, 2, fk2, NULL), DM_OK);
    assert_memory_equal(fk, fk2, DM_FILE_KEY_LEN);
    /* Fewer than k. */
    assert_int_equal(dm_escrow_combine(f->auth, &hdr, xs, yp, 1, fk2, NULL), DM_ERR_NO_MATCH);
    assert_string_equal(dm_err_detail(), "1 share, authority FBI needs 2");
    /* A wrong share: not this file's key, and nothing is left in the output. */
    ys[0][0] ^= 1;
    assert_int_equal(dm_escrow_combine(f->auth, &hdr, xs, yp, 2, fk2, NULL), DM_ERR_HMAC);
    static const uint8_t zero[DM_FILE_KEY_LEN];
    assert_memory_equal(fk2, zero, DM_FILE_KEY_LEN);
    /* Another authority's key is refused; its own finds no stanza here. */
    dm_escrow_authority *other;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    assert_int_equal(authority_of_three("FBI", &other, &keys, &court), DM_OK);
    assert_int_equal(dm_escrow_agent_open(f->auth, keys[0], &hdr, ys[0], NULL), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "agent key doj is not a key of authority FBI");
    assert_int_equal(dm_escrow_agent_open(other, keys[0], &hdr, ys[0], NULL), DM_ERR_NO_MATCH);
    authority_free_all(other, keys, court);
    dm_header_clear(&hdr);
    free(file.buf);
    user_free(sk, pk, r, NULL);
}

static void test_rogue_sender(void **state) {
    fixture *f = *state;
    char *sk, *pk;
    dm_recipient *r;
    dm_identity *id;
    user_new(&sk, &pk, &r, &id);
    dm_membuf file;
    encrypt_mem(f->auth, r, "nothing to see", &file);
    uint8_t key[DM_FILE_KEY_LEN];
    dm_decrypt_opts get = {.threads = 1, .file_key_out = key};
    dm_membuf in = {.data = file.buf, .len = file.len};
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_null(), &id, 1, &get), DM_OK);

    dm_lab_tamper_mode modes[2] = {DM_LAB_TAMPER_STRIP, DM_LAB_TAMPER_CORRUPT};
    for (int m = 0; m < 2; m++) {
        uint8_t *bad;
        size_t bad_len;
        assert_int_equal(dm_lab_tamper(file.buf, file.len, key, modes[m], &bad, &bad_len), DM_OK);
        dm_header hdr;
        assert_int_equal(dm_header_parse(bad, bad_len, &hdr), DM_OK);
        assert_int_equal(dm_header_verify_mac(&hdr, key), DM_OK);
        assert_int_equal(hdr.stanzas.len, m == 0 ? 1 : 4);
        /* Still opens for the recipient; fails the compliant check. */
        dm_membuf in2 = {.data = bad, .len = bad_len}, out = {0};
        dm_decrypt_opts plain = {.threads = 1};
        assert_int_equal(dm_decrypt(dm_source_mem(&in2), dm_sink_mem(&out), &id, 1, &plain), DM_OK);
        assert_memory_equal(out.buf, "nothing to see", 14);
        free(out.buf);
        dm_escrow_policy pol = {.auth = f->auth};
        dm_decrypt_opts strict = {
            .threads = 1, .policy = dm_escrow_policy_check, .policy_ctx = &pol};
        dm_membuf in3 = {.data = bad, .len = bad_len}, out3 = {0};
        assert_int_equal(dm_decrypt(dm_source_mem(&in3), dm_sink_mem(&out3), &id, 1, &strict),
                         DM_ERR_POLICY);
        assert_int_equal(out3.len, 0);
        free(out3.buf);
        if (m == 1) {
            /* Even under a valid warrant the agents get nothing: the
             * corrupted bodies no longer open with their keys. */
            char *wtext;
            size_t wlen;
            uint8_t fid[DM_FILE_ID_LEN];
            assert_int_equal(dm_escrow_file_id(f->auth, &hdr, fid), DM_OK);
            assert_int_equal(dm_escrow_warrant_issue(f->auth, f->court, "c", NULL, "2999-01-01",
                                                     (const uint8_t(*)[DM_FILE_ID_LEN])fid, 1,
                                                     &wtext, &wlen),
                             DM_OK);
            dm_escrow_warrant *w;
            assert_int_equal(dm_escrow_warrant_parse(wtext, wlen, &w, NULL), DM_OK);
            dm_escrow_share *s;
            assert_int_equal(
                dm_escrow_release_unlogged(f->auth, f->keys[0], w, &hdr, time(NULL), &s),
                DM_ERR_NO_MATCH);
            dm_escrow_warrant_free(w);
            free(wtext);
        }
        dm_header_clear(&hdr);
        free(bad);
    }
    free(file.buf);
    user_free(sk, pk, r, id);
}

static void test_passphrase_extension(void **state) {
    fixture *f = *state;
    dm_recipient *r;
    dm_identity *id;
    assert_int_equal(dm_scrypt_recipient_new("hunter2", 7, 10, &r), DM_OK);
    assert_int_equal(dm_scrypt_identity_new("hunter2", 7, 0, &id), DM_OK);
    dm_membuf file;
    encrypt_mem(f->auth, r, "passphrase and escrow", &file);
    dm_header hdr;
    read_header(&file, &hdr);
    assert_int_equal(hdr.stanzas.len, 4);
    dm_escrow_description d;
    assert_int_equal(dm_escrow_describe(&hdr, &d), DM_OK);
    assert_int_equal(d.n_authorities, 1);
    assert_int_equal(d.authorities[0].k, 2);
    assert_int_equal(d.authorities[0].n_agents, 3);
    dm_header_clear(&hdr);

    /* With an identity that accepts escrow stanzas beside: opens (and complies). */
    dm_escrow_policy pol = {.auth = f->auth};
    dm_decrypt_opts ok = {.threads = 1, .policy = dm_escrow_policy_check, .policy_ctx = &pol};
    id->beside = dm_escrow_beside;
    dm_membuf in = {.data = file.buf, .len = file.len}, out = {0};
    assert_int_equal(dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &id, 1, &ok), DM_OK);
    assert_memory_equal(out.buf, "passphrase and escrow", 21);
    free(out.buf);
    /* Without it, the vault applies age's rule. */
    id->beside = NULL;
    dm_decrypt_opts strict = {.threads = 1};
    dm_membuf in2 = {.data = file.buf, .len = file.len}, out2 = {0};
    assert_int_not_equal(dm_decrypt(dm_source_mem(&in2), dm_sink_mem(&out2), &id, 1, &strict),
                         DM_OK);
    free(out2.buf);
    free(file.buf);
    dm_recipient_free(r);
    dm_identity_free(id);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deterministic),
    cmocka_unit_test(test_authorities_are_domain_separated),
    cmocka_unit_test(test_every_byte_change_detected),
    cmocka_unit_test(test_missing_incomplete_duplicate),
    cmocka_unit_test(test_escrow_words),
    cmocka_unit_test(test_unimplemented_modes),
    cmocka_unit_test(test_authority_text),
    cmocka_unit_test(test_authority_witnesses),
    cmocka_unit_test(test_key_files),
    cmocka_unit_test(test_bad_names),
    cmocka_unit_test(test_flow),
    cmocka_unit_test(test_agent_open_and_combine),
    cmocka_unit_test(test_rogue_sender),
    cmocka_unit_test(test_passphrase_extension),
};

DM_UNIT_MAIN("escrow_stanza", tests, setup, teardown)
