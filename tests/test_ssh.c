/* The ssh-ed25519 and ssh-rsa recipient types (vault/ssh_*.c), encrypted
 * identity files and dm_rekey: files age 1.1.1 made open to the same bytes,
 * round trips, the stanza checks, lazy passphrases, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "ssh_vectors.h"
#include "unit_main.h"

/* Decrypts an in-memory file with one identity; *out is malloc'd. */
static int open_with(dm_identity *id, const char *file, uint8_t **out, size_t *out_len) {
    dm_membuf in = {0}, sink = {0};
    in.data = (const uint8_t *)file;
    in.len = strlen(file);
    int err = dm_decrypt(dm_source_mem(&in), dm_sink_mem(&sink), &id, 1, NULL);
    *out = sink.buf;
    *out_len = sink.len;
    return err;
}

static void assert_opens(dm_identity *id, const char *file) {
    uint8_t *plain = NULL;
    size_t len = 0;
    assert_int_equal(open_with(id, file, &plain, &len), DM_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(plain, "doormat\n", 8);
    free(plain);
}

/* The passphrase callback: counts its calls and answers ctx's string. */
typedef struct asker {
    const char *answer;
    int calls;
} asker;

static int ask(void *ctx, char **pass, size_t *len) {
    asker *a = ctx;
    a->calls++;
    size_t n = strlen(a->answer);
    *pass = dm_secret_alloc(n + 1);
    if (*pass == NULL)
        return DM_ERR_NOMEM;
    memcpy(*pass, a->answer, n + 1);
    *len = n;
    return DM_OK;
}

static void test_age_made_files_open(void **state) {
    (void)state;
    const char *keys[2] = {ED_KEY, RSA_KEY};
    const char *files[2] = {ED_AGE, RSA_AGE};
    for (int i = 0; i < 2; i++) {
        dm_identity *id = NULL;
        assert_int_equal(dm_ssh_identity_parse(keys[i], strlen(keys[i]), NULL, NULL, &id), DM_OK);
        assert_opens(id, files[i]);
        /* and not the other type's file */
        uint8_t *plain = NULL;
        size_t len = 0;
        assert_int_equal(open_with(id, files[1 - i], &plain, &len), DM_ERR_NO_MATCH);
        free(plain);
        dm_identity_free(id);
    }
}

/* Wraps a known file key for the public line and unwraps it with the key file. */
static void round_trip(const char *pub, const char *key, const char *type, size_t nargs) {
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    assert_int_equal(dm_recipient_parse(pub, &r), DM_OK);
    assert_string_equal(r->type, type);
    assert_int_equal(dm_ssh_identity_parse(key, strlen(key), NULL, NULL, &id), DM_OK);
    uint8_t fk[DM_FILE_KEY_LEN], got[DM_FILE_KEY_LEN];
    for (int i = 0; i < DM_FILE_KEY_LEN; i++)
        fk[i] = (uint8_t)(0xa0 + i);
    dm_stanza_list st = {0};
    assert_int_equal(r->wrap(r, fk, &st), DM_OK);
    assert_int_equal(st.len, 1);
    assert_string_equal(st.items[0].type, type);
    assert_int_equal(st.items[0].nargs, nargs);
    /* the tag: base64 of SHA-256(wire public key)[:4] */
    const char *b64 = strchr(pub, ' ') + 1;
    size_t b64_len = strcspn(b64, " \n");
    uint8_t blob[600], digest[32];
    size_t blob_len = 0;
    char padded[900];
    memcpy(padded, b64, b64_len);
    while (b64_len > 0 && padded[b64_len - 1] == '=')
        b64_len--;
    assert_int_equal(dm_b64_decode(padded, b64_len, blob, sizeof blob, &blob_len), DM_OK);
    dm_sha256(blob, blob_len, digest);
    char tag[8];
    assert_int_equal(dm_b64_encode(digest, 4, tag, sizeof tag), DM_OK);
    assert_string_equal(st.items[0].args[0], tag);
    assert_int_equal(id->unwrap(id, &st, got), DM_OK);
    assert_memory_equal(got, fk, sizeof fk);
    /* a stanza with another key's tag is not ours */
    st.items[0].args[0][0] = st.items[0].args[0][0] == 'A' ? 'B' : 'A';
    assert_int_equal(id->unwrap(id, &st, got), DM_ERR_NO_MATCH);
    dm_stanza_list_clear(&st);
    dm_recipient_free(r);
    dm_identity_free(id);
}

static void test_round_trips(void **state) {
    (void)state;
    round_trip(ED_PUB, ED_KEY, "ssh-ed25519", 2);
    round_trip(RSA_PUB, RSA_KEY, "ssh-rsa", 1);
}

static void test_stanza_checks(void **state) {
    (void)state;
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    assert_int_equal(dm_ssh_recipient_parse(ED_PUB, &r), DM_OK);
    assert_int_equal(dm_ssh_identity_parse(ED_KEY, strlen(ED_KEY), NULL, NULL, &id), DM_OK);
    uint8_t fk[DM_FILE_KEY_LEN] = {0}, got[DM_FILE_KEY_LEN];
    dm_stanza_list st = {0};
    assert_int_equal(r->wrap(r, fk, &st), DM_OK);
    /* a body of the wrong length is malformed, checked before any decryption */
    st.items[0].body_len--;
    assert_int_equal(id->unwrap(id, &st, got), DM_ERR_HEADER);
    assert_string_equal(dm_err_detail(), "ssh-ed25519 stanza body is 31 bytes, want 32");
    st.items[0].body_len++;
    /* one argument instead of two */
    st.items[0].nargs = 1;
    assert_int_equal(id->unwrap(id, &st, got), DM_ERR_HEADER);
    assert_string_equal(dm_err_detail(), "ssh-ed25519 stanza has 1 arguments, want 2");
    st.items[0].nargs = 2;
    /* a body that does not open: someone else's (tags are only 4 bytes) */
    st.items[0].body[0] ^= 1;
    assert_int_equal(id->unwrap(id, &st, got), DM_ERR_NO_MATCH);
    dm_stanza_list_clear(&st);
    dm_recipient_free(r);
    dm_identity_free(id);
}

static void test_refusals(void **state) {
    (void)state;
    dm_recipient *r = NULL;
    assert_int_equal(dm_recipient_parse("ssh-dss AAAAB3NzaC1kc3MAAACBAP8", &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(),
                        "unsupported SSH key type \"ssh-dss\" (only ssh-ed25519 and ssh-rsa are)");
    assert_int_equal(dm_recipient_parse("ecdsa-sha2-nistp256 AAAA", &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "unsupported SSH key type \"ecdsa-sha2-nistp256\" (only "
                                         "ssh-ed25519 and ssh-rsa are)");
    assert_int_equal(dm_recipient_parse("ssh-ed25519 not*base64", &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "malformed ssh-ed25519 public key (bad base64)");
    assert_int_equal(dm_recipient_parse("ssh-ed25519", &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(),
                        "SSH public key \"ssh-ed25519\" has no key after its type");
    assert_int_equal(dm_recipient_parse("gpg:12345", &r), DM_ERR_USAGE);
    assert_string_equal(
        dm_err_detail(),
        "unknown recipient type \"gpg:12345\" (want age1..., ssh-ed25519 or ssh-rsa)");
    /* the line's type must be the key's */
    char lie[600];
    snprintf(lie, sizeof lie, "ssh-rsa %s", strchr(ED_PUB, ' ') + 1);
    assert_int_equal(dm_recipient_parse(lie, &r), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "malformed SSH public key: the line says ssh-rsa, the key "
                                         "is ssh-ed25519");
    dm_identity *id = NULL;
    assert_int_equal(dm_ssh_identity_parse("hello", 5, NULL, NULL, &id), DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(), "not an SSH private key");
    /* a damaged private part (one base64 character changed) */
    char bad[sizeof ED_KEY];
    memcpy(bad, ED_KEY, sizeof ED_KEY);
    char *p = strstr(bad, "\n") + 1 + 200;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_not_equal(dm_ssh_identity_parse(bad, strlen(bad), NULL, NULL, &id), DM_OK);
}

/* With the wrong passphrase (wrong's answer), key parses but the file age
 * made to it does not open: a usage error, so worded. Its public key, the
 * start of pub, comes out all the same. */
static void assert_wrong_passphrase(const char *key, const char *age, const char *pub,
                                    asker *wrong) {
    dm_identity *id = NULL;
    uint8_t *plain = NULL;
    size_t len = 0;
    assert_int_equal(dm_ssh_identity_parse(key, strlen(key), ask, wrong, &id), DM_OK);
    assert_int_equal(open_with(id, age, &plain, &len), DM_ERR_USAGE);
    free(plain);
    assert_string_equal(dm_err_detail(), "incorrect passphrase for the SSH key");
    dm_identity_free(id);

    char *line = NULL;
    assert_int_equal(dm_ssh_identity_public(key, strlen(key), ask, wrong, &line), DM_OK);
    assert_int_equal(strncmp(line, pub, strlen(line)), 0);
    free(line);
}

static void test_lazy_passphrase(void **state) {
    (void)state;
    asker a = {"kat-pass", 0};
    dm_identity *id = NULL;
    assert_int_equal(dm_ssh_identity_parse(EDP_KEY, strlen(EDP_KEY), ask, &a, &id), DM_OK);
    assert_int_equal(a.calls, 0); /* not asked while loading */
    uint8_t *plain = NULL;
    size_t len = 0;
    assert_int_equal(open_with(id, ED_AGE, &plain, &len), DM_ERR_NO_MATCH);
    free(plain);
    assert_int_equal(a.calls, 0); /* not asked for a file that doesn't name the key */
    assert_opens(id, EDP_AGE);
    assert_int_equal(a.calls, 1);
    assert_opens(id, EDP_AGE);
    assert_int_equal(a.calls, 1); /* opened once */
    dm_identity_free(id);

    /* its public key needs no passphrase */
    asker wrong = {"not-it", 0};
    assert_wrong_passphrase(EDP_KEY, EDP_AGE, EDP_PUB, &wrong);
}

/* libssh 0.10 checks such a key's passphrase but won't export the key:
 * ssh-keygen (from PATH) rewrites it as PEM in memory. */
static void test_openssh_rsa_passphrase(void **state) {
    (void)state;
    asker a = {"kat-pass", 0};
    dm_identity *id = NULL;
    assert_int_equal(dm_ssh_identity_parse(RSAP_KEY, strlen(RSAP_KEY), ask, &a, &id), DM_OK);
    assert_int_equal(a.calls, 0);
    assert_opens(id, RSAP_AGE);
    assert_int_equal(a.calls, 1);
    dm_identity_free(id);

    asker wrong = {"kat-pas", 0};
    assert_wrong_passphrase(RSAP_KEY, RSAP_AGE, RSAP_PUB, &wrong);
    assert_int_equal(wrong.calls, 1); /* the public key needed no passphrase */
}

static void skipped(void *ctx, size_t line, const char *type) {
    size_t *seen = ctx;
    assert_int_equal(line, 2);
    assert_string_equal(type, "ssh-dss");
    (*seen)++;
}

static void test_recipients_file(void **state) {
    (void)state;
    char text[2048];
    snprintf(text, sizeof text, "# keys\nssh-dss AAAAB3NzaC1kc3MAAACBAP8 old\n%s%s", ED_PUB,
             RSA_PUB);
    dm_recipient **rs = NULL;
    size_t n = 0, line = 0, seen = 0;
    assert_int_equal(
        dm_recipient_file_parse_skipping(text, strlen(text), &rs, &n, &line, skipped, &seen),
        DM_OK);
    assert_int_equal(n, 2);
    assert_int_equal(seen, 1);
    for (size_t i = 0; i < n; i++)
        dm_recipient_free(rs[i]);
    free(rs);
    /* without a callback, an unsupported key is an error that names it */
    assert_int_equal(dm_recipient_file_parse(text, strlen(text), &rs, &n, &line), DM_ERR_USAGE);
    assert_int_equal(line, 2);
    assert_string_equal(dm_err_detail(), "unsupported SSH key type \"ssh-dss\" at line 2");
}

/* An encrypted identity file made here (scrypt work factor 2^10 to keep it quick). */
static char *encrypt_text(const char *text, dm_recipient *r, size_t *len) {
    dm_membuf in = {0}, out = {0};
    in.data = (const uint8_t *)text;
    in.len = strlen(text);
    dm_encrypt_opts o = {0};
    o.armor = 1;
    assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_mem(&out), &r, 1, &o), DM_OK);
    dm_recipient_free(r);
    *len = out.len;
    return (char *)out.buf;
}

static void test_encrypted_identity_file(void **state) {
    (void)state;
    char *secret = NULL, *public = NULL;
    assert_int_equal(dm_x25519_keygen(&secret, &public), DM_OK);
    char text[256];
    snprintf(text, sizeof text, "# created: now\n%s\n", secret);
    dm_recipient *r = NULL;
    assert_int_equal(dm_scrypt_recipient_new("open sesame", 11, 10, &r), DM_OK);
    size_t len = 0;
    char *file = encrypt_text(text, r, &len);
    assert_true(dm_is_age_file((const uint8_t *)file, len));
    assert_false(dm_ssh_is_private_key(text, strlen(text)));

    char *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal(
        dm_identity_file_decrypt((const uint8_t *)file, len, "open sesame", 11, &plain, &plain_len),
        DM_OK);
    assert_int_equal(plain_len, strlen(text));
    assert_memory_equal(plain, text, plain_len);
    dm_secret_free(plain);
    assert_int_equal(
        dm_identity_file_decrypt((const uint8_t *)file, len, "open sesamE", 11, &plain, &plain_len),
        DM_ERR_BAD_PASSPHRASE);
    assert_string_equal(dm_err_detail(), "incorrect passphrase");
    free(file);

    /* one encrypted to a key is not a passphrase file */
    assert_int_equal(dm_x25519_recipient_parse(public, &r), DM_OK);
    file = encrypt_text(text, r, &len);
    assert_int_equal(
        dm_identity_file_decrypt((const uint8_t *)file, len, "open sesame", 11, &plain, &plain_len),
        DM_ERR_USAGE);
    assert_string_equal(dm_err_detail(),
                        "the identity file is encrypted with age but not with a passphrase");
    free(file);
    dm_secret_free(secret);
    free(public);
}

static void test_rekey(void **state) {
    (void)state;
    char *s1 = NULL, *p1 = NULL;
    assert_int_equal(dm_x25519_keygen(&s1, &p1), DM_OK);
    dm_recipient *r1 = NULL, *r2 = NULL;
    dm_identity *i1 = NULL, *i2 = NULL;
    assert_int_equal(dm_x25519_recipient_parse(p1, &r1), DM_OK);
    assert_int_equal(dm_x25519_identity_parse(s1, &i1), DM_OK);
    assert_int_equal(dm_ssh_recipient_parse(RSA_PUB, &r2), DM_OK);
    assert_int_equal(dm_ssh_identity_parse(RSA_KEY, strlen(RSA_KEY), NULL, NULL, &i2), DM_OK);

    uint8_t data[70000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    dm_membuf in = {0}, enc = {0}, re = {0}, dec = {0};
    in.data = data;
    in.len = sizeof data;
    assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_mem(&enc), &r1, 1, NULL), DM_OK);
    dm_membuf src = {0};
    src.data = enc.buf;
    src.len = enc.len;
    assert_int_equal(dm_rekey(dm_source_mem(&src), dm_sink_mem(&re), &i1, 1, &r2, 1, NULL), DM_OK);
    /* the payload (after the MAC line) is byte for byte the same */
    dm_header h1, h2;
    assert_int_equal(dm_header_parse(enc.buf, enc.len, &h1), DM_OK);
    assert_int_equal(dm_header_parse(re.buf, re.len, &h2), DM_OK);
    assert_int_equal(enc.len - h1.len, re.len - h2.len);
    assert_memory_equal(enc.buf + h1.len, re.buf + h2.len, enc.len - h1.len);
    assert_string_equal(h2.stanzas.items[0].type, "ssh-rsa");
    dm_header_clear(&h1);
    dm_header_clear(&h2);
    /* the new key opens it, the old one no longer does */
    dm_membuf rsrc = {0};
    rsrc.data = re.buf;
    rsrc.len = re.len;
    assert_int_equal(dm_decrypt(dm_source_mem(&rsrc), dm_sink_mem(&dec), &i2, 1, NULL), DM_OK);
    assert_int_equal(dec.len, sizeof data);
    assert_memory_equal(dec.buf, data, sizeof data);
    rsrc.pos = 0;
    dm_membuf none = {0};
    assert_int_equal(dm_decrypt(dm_source_mem(&rsrc), dm_sink_mem(&none), &i1, 1, NULL),
                     DM_ERR_NO_MATCH);
    free(none.buf);
    /* a wrong identity can't rekey */
    dm_membuf fail = {0};
    src.pos = 0;
    assert_int_equal(dm_rekey(dm_source_mem(&src), dm_sink_mem(&fail), &i2, 1, &r1, 1, NULL),
                     DM_ERR_NO_MATCH);
    assert_int_equal(fail.len, 0);
    free(fail.buf);
    free(enc.buf);
    free(re.buf);
    free(dec.buf);
    dm_recipient_free(r1);
    dm_recipient_free(r2);
    dm_identity_free(i1);
    dm_identity_free(i2);
    dm_secret_free(s1);
    free(p1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_age_made_files_open),     cmocka_unit_test(test_round_trips),
    cmocka_unit_test(test_stanza_checks),           cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_lazy_passphrase),         cmocka_unit_test(test_recipients_file),
    cmocka_unit_test(test_encrypted_identity_file), cmocka_unit_test(test_rekey),
    cmocka_unit_test(test_openssh_rsa_passphrase),
};

DM_UNIT_MAIN("ssh", tests, NULL, NULL)
