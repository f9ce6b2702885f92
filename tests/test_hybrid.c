/* hybrid.c: the MLKEM768-X25519 hybrid post-quantum type (age1pq). With
 * ML-KEM (OpenSSL 3.5 or later): the spec's example key pair, round trips,
 * the stanza rules and the rule against mixing with classical recipients.
 * Without it: every entry point refuses in one line naming what is needed,
 * and the tests that need ML-KEM are reported skipped by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "unit_main.h"

/* The spec's example identity and its recipient (c2sp.org/age). */
#define SPEC_IDENTITY                                                                              \
    "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
#define SPEC_RECIPIENT                                                                             \
    "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzdxz95paef6caq5aapdmw"   \
    "jjqpjfdyxnzr2zampc3uxy0dg4z2n2gm9su72p0pc3u0jvev55l694v78snxg3yzvcl7yda0eyytqj6a0ec477lnhc"   \
    "y5hzpz4zq3pxanve4cn62gqj3pjy5lqj9c6kyj4v2z8alktn8zh99970x79gjkv7522hv9kfz35zsnxhsx8wwtmu9c"   \
    "y3ftzjgwcp4sshn3llnylnpdsyz5jm72vefv4x5vfwytrefxg4wq3mv42wcrvkj742479zrxzpvp2p3e9fed9f0739"   \
    "vcu80r7ma28qfhnvlv4gfzel9q654dj3zmuvvz893azhxdvs9fxd0r7jzchzcfcs5mkyyjxhw0n2z6dvp9yn9qfdp2"   \
    "9h0azxqyjw6v7fhyuzj7zel0uq6j9rd7wgrpz7mf5dnj43jwsgvrc8qcnhy7tu6dkdujuxzkp9xj43xe8h92ktre2a"   \
    "3u3s8mm5mrp9nr9pwkgtz4mdlq9hgn4fps4k57ff6wddn2fy23t47sm20r8km8sd2pcyyafnet8f0dajsrlyjeah4n"   \
    "3mssr6aseevuuskdvq5lzguyvpgwpta742c6698vgutzqgny8usfg0w2he7kq5vyxjd0f9hqg8xk26y9e4th0gezq9"   \
    "2q4cpp5p2y9hf5f2cje5l0c3sa3a2qxmm38pxxvhxh99yzmfz0zk7r2s64nnwjhkfgfr3gf8xnmppcgmaykvh5sh6g"   \
    "7vk9790rf8ws0axmr2t7z8aae5fq2029uvcn2ghgt4fu4wgwdc0k0cz52qkvwmuzj8p8k5jgf3xzk5zmrkavjekjrp"   \
    "eq408xz3zxazwkc6tyfmhayrkfpjhwtz5mp8j8guqe43k2q6m2kte03vrw27y3wmqyu5etmt9dnkwcnnpmu9gz9dek"   \
    "fhdevf42ucshphnrk38ra6hx8w5f8q5ru0xdhrjxmwqf6cused7zc5xvq43r0zscjglpwlptpwydhqw64xz7ptjdye"   \
    "yzpq2zkxtmzg29gzjpvzva4d3l0cenn9xs297wf4y4ukwrunf57xj6pm7nvrkwvtrt8hwcmgv8x7ajw7258ugf9wvk"   \
    "mk4052ekg87tw5vnx8nq2swyzv77v8yqlwsenvamr0zssknwts8rrhfuwj7ykysnq9jxy0uv3kuyt22djszjdtvpz6"   \
    "d0s0kwh8ryynddzud92emeyvvyqktd0jtj7rvvg5gch25v8smlvny3kvn5gagyz475ze2y6q466xqmz2n3hs77ldde"   \
    "qyta2nch5k2u5yacuk9ywnwfdzvyejnucz724hj77hrrmakm7pr3kxsrxq22ejexlud9fy2kdqmkg5yncz7jm5wv2q"   \
    "jk5w5kvcpqsry2yqffh2la52dxfjkjq5rzhjzeyn6dupn0qwtyv7s4lwg3xdarsdlwe2y3tujy480y7z39q259fzx6"   \
    "jhd2j0f5hagqpcpees7hzc2yrk5cy788uk3s7qvp5cpepx24gvws3m2g433exgwppnkjscec8qu4y9z9r7vccexjcj"   \
    "aen42245lmgmxmuavg9alej92322gvvyy2t6267v09ch64y0m53jff0vjj96s0ypk60hr3jw4myd6m5hpn3xjstx7t"   \
    "l2szhpr5qe8jj08ydjc4wy2rch2fhuy3pdfjax5awe9j99ly5hkntzz9fe5zatgjvzdd0kgtxs25njnajyf6ssekp7"   \
    "gelxquusn4pt25czh3scj68kq79wdn5tgm6yvm9nzavrg043x3msnygf8dweknw5jmqd0uvny6ttsn09508k0c55zf"   \
    "negrm9efhxpfqdkmhh6gjtqmwze9pyyzk3tlhl53k2ykx3qheyty7saeq0d3fzv49zc0k"
#define X25519_RECIPIENT "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

#define NEEDS_MLKEM()                                                                              \
    do {                                                                                           \
        if (!dm_pq_available()) {                                                                  \
            printf("SKIP %s: %s\n", __func__, dm_pq_unavailable_reason());                         \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static const uint8_t file_key[DM_FILE_KEY_LEN] = "YELLOW SUBMARINE";

static void test_unavailable_says_why(void **state) {
    (void)state;
    if (dm_pq_available()) {
        printf("SKIP %s: this build has ML-KEM\n", __func__);
        skip();
    }
    char *secret = NULL, *public = NULL;
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    assert_int_equal(dm_pq_keygen(&secret, &public), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "OpenSSL 3.5 or later"));
    assert_int_equal(dm_recipient_parse(SPEC_RECIPIENT, &r), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "cannot use age1pq"));
    assert_int_equal(dm_identity_parse(SPEC_IDENTITY, &id), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "OpenSSL 3.5 or later"));
    assert_null(r);
    assert_null(id);
    assert_null(strchr(dm_err_detail(), '\n'));
}

static void test_spec_key_pair(void **state) {
    (void)state;
    NEEDS_MLKEM();
    char *public = NULL;
    assert_int_equal(dm_pq_identity_to_recipient(SPEC_IDENTITY, &public), DM_OK);
    assert_string_equal(public, SPEC_RECIPIENT);
    free(public);
}

static void test_keygen_round_trip(void **state) {
    (void)state;
    NEEDS_MLKEM();
    char *secret = NULL, *public = NULL, *again = NULL;
    assert_int_equal(dm_pq_keygen(&secret, &public), DM_OK);
    assert_int_equal(strncmp(secret, "AGE-SECRET-KEY-PQ-1", 19), 0);
    assert_int_equal(strlen(secret), 19 + 52 + 6);
    assert_int_equal(strncmp(public, "age1pq1", 7), 0);
    assert_int_equal(strlen(public), 7 + 1946 + 6);
    assert_int_equal(dm_pq_identity_to_recipient(secret, &again), DM_OK);
    assert_string_equal(again, public);

    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    dm_stanza_list l = {0};
    uint8_t got[DM_FILE_KEY_LEN];
    assert_int_equal(dm_recipient_parse(public, &r), DM_OK);
    assert_int_equal(r->flags, 0);
    assert_int_equal(r->wrap(r, file_key, &l), DM_OK);
    const char *labels[DM_MAX_LABELS];
    assert_non_null(r->labels);
    assert_int_equal(r->labels(r, l.items, l.len, labels), 1);
    assert_string_equal(labels[0], DM_LABEL_PQ); /* age's "postquantum" */
    assert_int_equal(l.len, 1);
    assert_string_equal(l.items[0].type, "mlkem768x25519");
    assert_int_equal(l.items[0].nargs, 1);
    assert_int_equal(strlen(l.items[0].args[0]), 1494); /* base64 of 1120 bytes */
    assert_int_equal(l.items[0].body_len, 32);
    assert_int_equal(dm_identity_parse(secret, &id), DM_OK);
    assert_int_equal(id->unwrap(id, &l, got), DM_OK);
    assert_memory_equal(got, file_key, sizeof got);
    dm_identity_free(id);

    /* Another hybrid identity: not ours, no match. */
    id = NULL;
    assert_int_equal(dm_identity_parse(SPEC_IDENTITY, &id), DM_OK);
    assert_int_equal(id->unwrap(id, &l, got), DM_ERR_NO_MATCH);
    dm_identity_free(id);

    dm_stanza_list_clear(&l);
    dm_recipient_free(r);
    dm_secret_free(secret);
    free(public);
    free(again);
}

/* One stanza of SPEC_RECIPIENT's, then changed; each rule of the spec. */
static void test_stanza_rules(void **state) {
    (void)state;
    NEEDS_MLKEM();
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    dm_stanza_list l = {0}, bad = {0};
    uint8_t got[DM_FILE_KEY_LEN];
    assert_int_equal(dm_recipient_parse(SPEC_RECIPIENT, &r), DM_OK);
    assert_int_equal(r->wrap(r, file_key, &l), DM_OK);
    assert_int_equal(dm_identity_parse(SPEC_IDENTITY, &id), DM_OK);
    const dm_stanza *st = &l.items[0];

    /* Two arguments after the type. */
    const char *two[2] = {st->args[0], "x"};
    assert_int_equal(dm_stanza_list_add(&bad, st->type, two, 2, st->body, st->body_len), DM_OK);
    assert_int_equal(id->unwrap(id, &bad, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&bad);

    /* A share one byte short (base64 of 1119 bytes). */
    char *short_arg = strdup(st->args[0]);
    short_arg[1492] = '\0';
    const char *one[1] = {short_arg};
    assert_int_equal(dm_stanza_list_add(&bad, st->type, one, 1, st->body, st->body_len), DM_OK);
    assert_int_equal(id->unwrap(id, &bad, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&bad);
    free(short_arg);

    /* A body of 33 bytes is refused before any decryption. */
    uint8_t body[33] = {0};
    memcpy(body, st->body, 32);
    one[0] = st->args[0];
    assert_int_equal(dm_stanza_list_add(&bad, st->type, one, 1, body, sizeof body), DM_OK);
    assert_int_equal(id->unwrap(id, &bad, got), DM_ERR_HEADER);
    dm_stanza_list_clear(&bad);

    /* A changed body: not ours. */
    memcpy(body, st->body, 32);
    body[0] ^= 1;
    assert_int_equal(dm_stanza_list_add(&bad, st->type, one, 1, body, 32), DM_OK);
    assert_int_equal(id->unwrap(id, &bad, got), DM_ERR_NO_MATCH);
    dm_stanza_list_clear(&bad);

    /* Another type is ignored. */
    assert_int_equal(dm_stanza_list_add(&bad, "X25519", one, 1, st->body, 32), DM_OK);
    assert_int_equal(id->unwrap(id, &bad, got), DM_ERR_NO_MATCH);
    dm_stanza_list_clear(&bad);

    assert_int_equal(id->unwrap(id, &l, got), DM_OK);
    assert_memory_equal(got, file_key, sizeof got);
    dm_identity_free(id);
    dm_stanza_list_clear(&l);
    dm_recipient_free(r);
}

static void test_bad_strings(void **state) {
    (void)state;
    NEEDS_MLKEM();
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    char *s = strdup(SPEC_RECIPIENT);
    s[100] = s[100] == 'q' ? 'p' : 'q'; /* checksum */
    assert_int_equal(dm_recipient_parse(s, &r), DM_ERR_USAGE);
    s[100] = '\0'; /* too short */
    assert_int_equal(dm_recipient_parse(s, &r), DM_ERR_USAGE);
    free(s);
    assert_int_equal(
        dm_identity_parse(
            "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFQ", &id),
        DM_ERR_USAGE);
    assert_null(r);
    assert_null(id);
}

static ssize_t dummy_source(void *ctx, uint8_t *buf, size_t n) {
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

static int dummy_sink(void *ctx, const uint8_t *buf, size_t n) {
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

/* age 1.3 refuses a file for both kinds: "incompatible recipients". */
static void test_no_mixing(void **state) {
    (void)state;
    NEEDS_MLKEM();
    dm_recipient *rs[2] = {NULL, NULL};
    assert_int_equal(dm_recipient_parse(SPEC_RECIPIENT, &rs[0]), DM_OK);
    assert_int_equal(dm_recipient_parse(X25519_RECIPIENT, &rs[1]), DM_OK);
    dm_source in = {.read = dummy_source};
    dm_sink out = {.write = dummy_sink};
    assert_int_equal(dm_encrypt(in, out, rs, 2, NULL), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "incompatible recipients"));
    dm_recipient_free(rs[0]);
    dm_recipient_free(rs[1]);
}

/* The KEM alone (escrow's hybrid agents): derived encapsulation is repeatable,
 * random is not, and only the right seed decapsulates to the same secret. */
static void test_kem_alone(void **state) {
    (void)state;
    NEEDS_MLKEM();
    uint8_t seed[DM_PQ_SEED_LEN], other[DM_PQ_SEED_LEN], pk[DM_PQ_PUBLIC_LEN];
    uint8_t rnd[DM_PQ_RAND_LEN], enc1[DM_PQ_ENC_LEN], enc2[DM_PQ_ENC_LEN];
    uint8_t ss1[DM_PQ_SHARED_LEN], ss2[DM_PQ_SHARED_LEN], ss3[DM_PQ_SHARED_LEN];
    memset(seed, 7, sizeof seed);
    memset(other, 8, sizeof other);
    memset(rnd, 9, sizeof rnd);
    assert_int_equal(dm_pq_public_from_seed(seed, pk), DM_OK);
    assert_int_equal(dm_pq_encapsulate(pk, rnd, enc1, ss1), DM_OK);
    assert_int_equal(dm_pq_encapsulate(pk, rnd, enc2, ss2), DM_OK);
    assert_memory_equal(enc1, enc2, sizeof enc1);
    assert_memory_equal(ss1, ss2, sizeof ss1);
    assert_int_equal(dm_pq_encapsulate(pk, NULL, enc2, ss2), DM_OK);
    assert_memory_not_equal(enc1, enc2, sizeof enc1);
    assert_int_equal(dm_pq_decapsulate(seed, enc1, ss3), DM_OK);
    assert_memory_equal(ss1, ss3, sizeof ss1);
    assert_int_equal(dm_pq_decapsulate(other, enc1, ss3), DM_OK); /* implicit rejection */
    assert_memory_not_equal(ss1, ss3, sizeof ss1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unavailable_says_why),
    cmocka_unit_test(test_spec_key_pair),
    cmocka_unit_test(test_keygen_round_trip),
    cmocka_unit_test(test_stanza_rules),
    cmocka_unit_test(test_bad_strings),
    cmocka_unit_test(test_no_mixing),
    cmocka_unit_test(test_kem_alone),
};

DM_UNIT_MAIN("hybrid", tests, NULL, NULL)
