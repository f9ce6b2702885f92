/* header.c: encode/parse round trips, the header MAC and file id, every
 * malformation class (with the line it names), and the testkit vectors'
 * headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "doormat/vault.h"
#include "internal.h"
#include "testkit_load.h"
#include "unit_main.h"

static const uint8_t key_a[DM_FILE_KEY_LEN] = "YELLOW SUBMARINE";
static const uint8_t key_b[DM_FILE_KEY_LEN] = "yellow submarine";

static void add(dm_stanza_list *l, const char *type, const char *a1, const char *a2,
                size_t body_len, uint8_t fill) {
    const char *args[2] = {a1, a2};
    size_t nargs = a2 ? 2 : a1 ? 1 : 0;
    uint8_t *body = malloc(body_len + 1);
    assert_non_null(body);
    for (size_t i = 0; i < body_len; i++)
        body[i] = (uint8_t)(fill + i * 31);
    assert_int_equal(dm_stanza_list_add(l, type, args, nargs, body, body_len), DM_OK);
    free(body);
}

static void assert_same_stanzas(const dm_stanza_list *a, const dm_stanza_list *b) {
    assert_int_equal(a->len, b->len);
    for (size_t i = 0; i < a->len; i++) {
        const dm_stanza *x = &a->items[i], *y = &b->items[i];
        assert_string_equal(x->type, y->type);
        assert_int_equal(x->nargs, y->nargs);
        for (size_t j = 0; j < x->nargs; j++)
            assert_string_equal(x->args[j], y->args[j]);
        assert_int_equal(x->body_len, y->body_len);
        if (x->body_len)
            assert_memory_equal(x->body, y->body, x->body_len);
    }
}

/* --------------------------------------------------------- round trips */

static void test_exact_encoding(void **state) {
    (void)state;
    /* The spec's example stanza, with the testkit's file key. */
    dm_header h = {0};
    uint8_t body[32];
    size_t got;
    assert_int_equal(
        dm_b64_decode("hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE", 43, body, 32, &got), DM_OK);
    const char *args[] = {"TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc"};
    assert_int_equal(dm_stanza_list_add(&h.stanzas, "X25519", args, 1, body, 32), DM_OK);
    uint8_t *enc;
    size_t n;
    assert_int_equal(dm_header_encode(&h, key_a, &enc, &n), DM_OK);
    /* Byte for byte the header of the testkit's "x25519" vector, MAC included. */
    const char *want = "age-encryption.org/v1\n"
                       "-> X25519 TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc\n"
                       "hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE\n"
                       "--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(enc, want, n);
    assert_int_equal(h.len, n);
    assert_int_equal(dm_header_verify_mac(&h, key_a), DM_OK);
    assert_int_equal(dm_header_verify_mac(&h, key_b), DM_ERR_HMAC);
    free(enc);
    dm_header_clear(&h);
}

static void round_trip(dm_header *h) {
    uint8_t *enc, *enc2;
    size_t n, n2;
    assert_int_equal(dm_header_encode(h, key_a, &enc, &n), DM_OK);
    assert_int_equal(h->len, n);

    /* With payload bytes after it, the parser stops exactly at the MAC line. */
    uint8_t *with_payload = malloc(n + 5);
    assert_non_null(with_payload);
    memcpy(with_payload, enc, n);
    memcpy(with_payload + n, "\x00\n-> ", 5);
    dm_header p = {0};
    assert_int_equal(dm_header_parse(with_payload, n + 5, &p), DM_OK);
    assert_int_equal(p.len, n);
    assert_memory_equal(p.mac, h->mac, DM_MAC_LEN);
    assert_same_stanzas(&h->stanzas, &p.stanzas);
    assert_int_equal(dm_header_verify_mac(&p, key_a), DM_OK);
    assert_int_equal(dm_header_verify_mac(&p, key_b), DM_ERR_HMAC);

    uint8_t id1[DM_FILE_ID_LEN], id2[DM_FILE_ID_LEN], digest[32];
    assert_int_equal(dm_header_file_id(h, id1), DM_OK);
    assert_int_equal(dm_header_file_id(&p, id2), DM_OK);
    assert_memory_equal(id1, id2, DM_FILE_ID_LEN);
    assert_int_equal(crypto_hash_sha256(digest, enc, n), 0);
    assert_memory_equal(id1, digest, DM_FILE_ID_LEN);

    /* Re-encoding the parsed header reproduces it byte for byte. */
    assert_int_equal(dm_header_encode(&p, key_a, &enc2, &n2), DM_OK);
    assert_int_equal(n2, n);
    assert_memory_equal(enc2, enc, n);

    /* Any flipped MAC bit is caught. */
    p.mac[DM_MAC_LEN - 1] ^= 1;
    assert_int_equal(dm_header_verify_mac(&p, key_a), DM_ERR_HMAC);

    free(enc);
    free(enc2);
    free(with_payload);
    dm_header_clear(&p);
}

static void test_round_trips(void **state) {
    (void)state;
    static const size_t lens[] = {0, 1, 2, 3, 16, 32, 46, 47, 48, 49, 95, 96, 97, 200, 1000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        dm_header h = {0};
        add(&h.stanzas, "X25519", "share", NULL, lens[i], (uint8_t)i);
        round_trip(&h);
        dm_header_clear(&h);
    }
    dm_header h = {0};
    add(&h.stanzas, "grease", NULL, NULL, 0, 0);
    add(&h.stanzas, "scrypt", "c2FsdA", "18", 32, 1);
    add(&h.stanzas, "example.com/enigma", "!\"#$%&'()*+,-./", "{|}~", 48, 2);
    add(&h.stanzas, "->", "---", NULL, 97, 3);
    round_trip(&h);
    dm_header_clear(&h);
}

/* Encoded bodies: 48 bytes fill a line, so an empty final line follows. */
static void test_body_wrapping(void **state) {
    (void)state;
    dm_header h = {0};
    add(&h.stanzas, "t", NULL, NULL, 48, 0);
    uint8_t *enc;
    size_t n;
    assert_int_equal(dm_header_encode(&h, key_a, &enc, &n), DM_OK);
    const char *p = (const char *)enc + strlen(DM_INTRO) + strlen("-> t\n");
    const char *lf = strchr(p, '\n');
    assert_int_equal(lf - p, 64);
    assert_memory_equal(lf, "\n\n---", 5);
    free(enc);
    dm_header_clear(&h);

    dm_header e = {0};
    add(&e.stanzas, "t", NULL, NULL, 0, 0);
    assert_int_equal(dm_header_encode(&e, key_a, &enc, &n), DM_OK);
    assert_memory_equal(enc, "age-encryption.org/v1\n-> t\n\n--- ", 32);
    free(enc);
    dm_header_clear(&e);
}

static void test_encode_refuses(void **state) {
    (void)state;
    dm_header h = {0};
    uint8_t *enc = NULL;
    size_t n = 0;
    assert_int_equal(dm_header_encode(&h, key_a, &enc, &n), DM_ERR_USAGE);
    assert_null(enc);
    add(&h.stanzas, "t", "a", NULL, 0, 0);
    /* A caller that edits the list behind its back gets a refusal, not a
     * header the parser would reject. */
    h.stanzas.items[0].args[0][0] = ' ';
    assert_int_equal(dm_header_encode(&h, key_a, &enc, &n), DM_ERR_USAGE);
    assert_int_equal(dm_header_verify_mac(&h, key_a), DM_ERR_USAGE);
    dm_header_clear(&h);
}

/* ------------------------------------------------------ malformations */

static const char good_stanza[] = "-> X25519 TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc\n"
                                  "hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE\n";
static const char good_mac[] = "--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg\n";

/* Parses text; checks the class and that the detail starts with `detail`. */
static void expect_header_error(const char *text, const char *detail) {
    dm_header h;
    memset(&h, 0x5a, sizeof h);
    assert_int_equal(dm_header_parse((const uint8_t *)text, strlen(text), &h), DM_ERR_HEADER);
    if (strncmp(dm_err_detail(), detail, strlen(detail)) != 0)
        fail_msg("detail \"%s\" does not start with \"%s\"", dm_err_detail(), detail);
    /* Nothing is left allocated or half-filled. */
    assert_null(h.stanzas.items);
    assert_int_equal(h.stanzas.len, 0);
    assert_int_equal(h.len, 0);
}

static char *cat3(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

static void expect3(const char *a, const char *b, const char *c, const char *detail) {
    char *s = cat3(a, b, c);
    expect_header_error(s, detail);
    free(s);
}

static void test_version_line(void **state) {
    (void)state;
    const char *rest = "-> X25519 TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc\n"
                       "hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE\n"
                       "--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg\n";
    expect3("age-encryption.org/v2\n", rest, "", "header line 1: unsupported version \"v2\"");
    expect3("age-encryption.org/v1234\n", rest, "", "header line 1: unsupported version");
    expect3("age-encryption.org/\n", rest, "", "header line 1: unsupported version");
    expect3("age-encryption.org/v1 \n", rest, "", "header line 1: unsupported version");
    expect3("age-encryption.org/v1\r\n", rest, "", "header line 1: carriage return");
    expect3("age-encryption.org/V1\n", rest, "", "header line 1: unsupported version");
    expect3("AGE-ENCRYPTION.ORG/v1\n", rest, "", "header line 1: not an age file");
    expect3(" age-encryption.org/v1\n", rest, "", "header line 1: not an age file");
    expect_header_error("", "empty input");
    expect_header_error("age-encr", "header line 1: no line ending");
    expect_header_error("age-encryption.org/v1", "header line 1: no line ending");
    expect_header_error("-----BEGIN AGE ENCRYPTED FILE-----\n", "header line 1: not an age file");
    expect_header_error("age-encryption.org/v1\n", "header line 2: unexpected end");
}

static void test_stanza_lines(void **state) {
    (void)state;
    const char *v = DM_INTRO;
    /* stanza_bad_start */
    expect3(v, "-- stanza\n\n", good_mac, "header line 2: expected a stanza");
    expect3(v, "stanza\n\n", good_mac, "header line 2: expected a stanza");
    expect3(v, "\n", good_mac, "header line 2: expected a stanza");
    /* stanza_no_arguments */
    expect3(v, "->\n\n", good_mac, "header line 2: stanza has no arguments");
    expect3(v, "->X25519\n\n", good_mac, "header line 2: stanza must start with");
    /* stanza_empty_argument and friends */
    expect3(v, "-> \n\n", good_mac, "header line 2: empty stanza argument");
    expect3(v, "-> stanza  argument\n\n", good_mac, "header line 2: empty stanza argument");
    expect3(v, "->  stanza\n\n", good_mac, "header line 2: empty stanza argument");
    expect3(v, "-> stanza \n\n", good_mac, "header line 2: empty stanza argument");
    /* stanza_invalid_character */
    expect3(v, "-> stanza \xc3\xa8\n\n", good_mac, "header line 2: stanza argument has invalid");
    expect3(v, "-> stanza\targ\n\n", good_mac, "header line 2: stanza argument has invalid");
    expect3(v, "-> stanza\x7f\n\n", good_mac, "header line 2: stanza argument has invalid");
    expect3(v, "-> stanza\r\n\n", good_mac, "header line 2: carriage return");
    /* No stanza at all. */
    expect3(v, "", good_mac, "header line 2: no recipient stanzas");
}

static void test_stanza_bodies(void **state) {
    (void)state;
    const char *v = DM_INTRO;
    const char *a64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    char *s;
    /* stanza_long_line */
    s = cat3(good_stanza, "-> stanza\nA", a64);
    expect3(v, s, "\n", "header line 5: stanza body line longer than 64 columns");
    free(s);
    /* stanza_missing_body: the MAC line is read as a body line */
    expect3(v, "-> empty\n", good_mac, "header line 3: stanza body is not canonical");
    /* stanza_missing_final_line */
    s = cat3("-> stanza\n", a64, good_mac);
    expect3(v, s, "", "header line 4: stanza body is not canonical");
    free(s);
    /* ... or the header just ends after a full line */
    expect3(v, "-> stanza\n", a64, "header line 4: unexpected end of header");
    /* stanza_multiple_short_lines: the second short line is not a MAC line */
    expect3(v, "-> stanza\nAAAA\nAAAA\n", good_mac, "header line 4: expected a stanza");
    /* stanza_base64_padding, stanza_not_canonical */
    expect3(v, "-> stanza\nQUE=\n", good_mac, "header line 3: stanza body is not canonical");
    expect3(v, "-> stanza\nQUF\n", good_mac, "header line 3: stanza body is not canonical");
    expect3(v, "-> stanza\nQ\n", good_mac, "header line 3: stanza body is not canonical");
    /* stanza_spurious_cr */
    expect3(v, "-> stanza\nAAAA\rAAAA\n", good_mac, "header line 3: carriage return");
    expect3(v, "-> stanza\n\r\n", good_mac, "header line 3: carriage return");
    expect3(v, "-> stanza\nAA AA\n", good_mac, "header line 3: stanza body is not canonical");
    expect3(v, "-> stanza\nAAAA \n", good_mac, "header line 3: stanza body is not canonical");
}

static void test_mac_line(void **state) {
    (void)state;
    const char *v = DM_INTRO;
    const char *cases[][2] = {
        /* hmac_missing */
        {"--- \n", "header line 4: MAC must be 43 base64 characters, found 0"},
        {"---\n", "header line 4: MAC line must be"},
        /* hmac_no_space */
        {"---WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg\n", "header line 4: MAC line must be"},
        /* hmac_extra_space */
        {"---  WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg\n", "header line 4: MAC must be 43"},
        /* hmac_trailing_space */
        {"--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg \n", "header line 4: MAC must be 43"},
        /* hmac_garbage */
        {"--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNgAAA\n", "header line 4: MAC must be 43"},
        /* hmac_truncated */
        {"--- WyJp\n", "header line 4: MAC must be 43 base64 characters, found 4"},
        /* hmac_not_canonical */
        {"--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNh\n",
         "header line 4: MAC is not canonical"},
        {"--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcN=\n",
         "header line 4: MAC is not canonical"},
        /* header_crlf's last line */
        {"--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg\r\n", "header line 4: carriage return"},
        /* no final newline: the header cannot be known to have ended */
        {"--- WyJp9F/9FOZh7gJdheq2WIJcwHgYc8NIVh3ddwhrcNg", "header line 4: no line ending"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect3(v, good_stanza, cases[i][0], cases[i][1]);

    /* And the good one parses, with the MAC decoded. */
    char *s = cat3(v, good_stanza, good_mac);
    dm_header h;
    assert_int_equal(dm_header_parse((const uint8_t *)s, strlen(s), &h), DM_OK);
    assert_int_equal(h.len, strlen(s));
    assert_int_equal(h.mac[0], 0x5b);
    assert_int_equal(dm_header_verify_mac(&h, key_a), DM_OK);
    dm_header_clear(&h);
    free(s);
}

static void test_crlf_everywhere(void **state) {
    (void)state;
    expect_header_error("age-encryption.org/v1\r\n"
                        "-> X25519 TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc\r\n"
                        "hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE\r\n"
                        "--- 2KIGb7ye32MWtUuEVWkO3MP6qCDLzOvT9wF06lelBSI\r\n",
                        "header line 1: carriage return");
    expect3(DM_INTRO,
            "-> X25519 TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc\r\n"
            "hjabGXwSLQ9c3S6Lw2i+S2Tu2fiwQHHslbBN6B41FLE\n",
            good_mac, "header line 2: carriage return");
}

static void test_size_limit(void **state) {
    (void)state;
    /* Endless small stanzas: rejected once past the bound, not read forever. */
    size_t n = DM_MAX_HEADER_LEN + 64;
    char *big = malloc(n);
    assert_non_null(big);
    size_t pos = strlen(DM_INTRO);
    memcpy(big, DM_INTRO, pos);
    while (pos + 6 <= n) {
        memcpy(big + pos, "-> a\n\n", 6);
        pos += 6;
    }
    dm_header h;
    assert_int_equal(dm_header_parse((const uint8_t *)big, pos, &h), DM_ERR_HEADER);
    assert_non_null(strstr(dm_err_detail(), "header larger than"));
    assert_null(h.stanzas.items);

    /* A small header followed by a large payload is fine. */
    char *s = cat3(DM_INTRO, good_stanza, good_mac);
    size_t sl = strlen(s);
    memcpy(big, s, sl);
    assert_int_equal(dm_header_parse((const uint8_t *)big, n, &h), DM_OK);
    assert_int_equal(h.len, sl);
    dm_header_clear(&h);
    free(s);
    free(big);
}

/* --------------------------------------------------- testkit headers */

/* Vectors whose failure is in the header grammar itself (as opposed to a
 * recipient rejecting its own stanza, which the identity reports). */
static int is_grammar_failure(const char *name) {
    static const char *const prefixes[] = {"header_", "hmac_", "stanza_", "version_", "empty"};
    if (strcmp(name, "hmac_bad") == 0)
        return 0;
    /* x25519_, scrypt_ and hybrid_not_canonical_body: the body's base64 */
    if (strstr(name, "_not_canonical_body") != NULL)
        return 1;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static void test_testkit_headers(void **state) {
    (void)state;
    size_t n = 0;
    char **names = tk_list(&n);
    if (names == NULL)
        fail_msg("cannot list testkit vectors in %s", tk_dir());
    assert_true(n >= 143);
    size_t grammar_failures = 0, round_trips = 0, macs = 0;
    for (size_t i = 0; i < n; i++) {
        tk_vector v;
        if (tk_load(names[i], &v) != 0)
            fail_msg("cannot load vector %s", names[i]);
        if (v.armored) {
            tk_free(&v);
            continue; /* test_armor.c de-armors these */
        }
        dm_header h;
        int err = dm_header_parse(v.body, v.body_len, &h);
        if (strcmp(v.expect, "header failure") == 0 && is_grammar_failure(v.name)) {
            if (err != DM_ERR_HEADER)
                fail_msg("%s: parser accepted a malformed header", v.name);
            grammar_failures++;
            tk_free(&v);
            continue;
        }
        if (strcmp(v.expect, "header failure") != 0 && err != DM_OK)
            fail_msg("%s: parse failed: %s", v.name, dm_err_detail());
        if (err == DM_OK) {
            uint8_t *enc;
            size_t elen;
            dm_header copy = {0};
            for (size_t k = 0; k < h.stanzas.len; k++) {
                const dm_stanza *st = &h.stanzas.items[k];
                assert_int_equal(dm_stanza_list_add(&copy.stanzas, st->type,
                                                    (const char *const *)st->args, st->nargs,
                                                    st->body, st->body_len),
                                 DM_OK);
            }
            uint8_t fk[DM_FILE_KEY_LEN];
            assert_int_equal(tk_unhex(v.file_key, fk, sizeof fk), 0);
            /* Same stanzas, same file key: the encoder reproduces the vector's
             * header exactly when its MAC is right. */
            assert_int_equal(dm_header_encode(&copy, fk, &enc, &elen), DM_OK);
            assert_int_equal(elen, h.len);
            int mac_ok = dm_header_verify_mac(&h, fk);
            if (strcmp(v.expect, "header failure") == 0) {
                /* A recipient-level failure: its "file key" need not be the
                 * one the MAC was made with; the rest must round-trip. */
                assert_memory_equal(enc, v.body, elen - 44);
            } else if (strcmp(v.expect, "HMAC failure") == 0) {
                if (mac_ok != DM_ERR_HMAC)
                    fail_msg("%s: MAC accepted", v.name);
                /* Everything but the MAC line matches. */
                assert_memory_equal(enc, v.body, elen - 44);
            } else {
                if (mac_ok != DM_OK)
                    fail_msg("%s: MAC rejected", v.name);
                assert_memory_equal(enc, v.body, elen);
                macs++;
            }
            round_trips++;
            free(enc);
            dm_header_clear(&copy);
            dm_header_clear(&h);
        }
        tk_free(&v);
    }
    tk_free_names(names, n);
    /* header_crlf, 8 hmac_*, 10 failing stanza_*, version_unsupported, empty,
     * 3 *_not_canonical_body; 12 no match + 18 payload failure + 19 success
     * MACs verify; those, the HMAC failure and the 36 recipient-level header
     * failures round-trip. */
    print_message("testkit: %zu grammar failures rejected, %zu headers round-tripped, "
                  "%zu MACs verified\n",
                  grammar_failures, round_trips, macs);
    assert_int_equal(grammar_failures, 24);
    assert_int_equal(macs, 49);
    assert_int_equal(round_trips, 86);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exact_encoding),  cmocka_unit_test(test_round_trips),
    cmocka_unit_test(test_body_wrapping),   cmocka_unit_test(test_encode_refuses),
    cmocka_unit_test(test_version_line),    cmocka_unit_test(test_stanza_lines),
    cmocka_unit_test(test_stanza_bodies),   cmocka_unit_test(test_mac_line),
    cmocka_unit_test(test_crlf_everywhere), cmocka_unit_test(test_size_limit),
    cmocka_unit_test(test_testkit_headers),
};

DM_UNIT_MAIN("header", tests, NULL, NULL)
