/* armor.c: every armor_* testkit vector through the reader (outcome class,
 * decoded bytes, and re-armoring to age's exact text), reads of every
 * shape, the writer/reader round trip, and the reader's strictness rules. */
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
#include "feed.h"
#include "internal.h"
#include "testkit_load.h"
#include "unit_main.h"

/* ------------------------------------------------------ test plumbing */

/* A source over memory that returns at most `step` bytes per read. */
typedef struct chunked {
    test_feed in;
    int fail_at_end; /* report an I/O error instead of EOF */
} chunked;

static ssize_t chunked_read(void *ctx, uint8_t *buf, size_t n) {
    chunked *c = ctx;
    if (c->in.pos == c->in.len)
        return c->fail_at_end ? -1 : 0;
    return (ssize_t)test_feed_take(&c->in, buf, n);
}

/* The bytes a sink gets: the library's memory sink (dm_sink_mem). */
typedef dm_membuf membuf;

static int membuf_write(membuf *m, const uint8_t *buf, size_t n) {
    dm_sink s = dm_sink_mem(m);
    return s.write(s.ctx, buf, n);
}

/* A sink whose every write fails. */
static int failing_write(void *ctx, const uint8_t *buf, size_t n) {
    (void)ctx, (void)buf, (void)n;
    return -1;
}

/* De-armors text: the first `prefix` bytes are handed over as already read,
 * the rest comes `step` bytes per inner read, and the caller reads `rsize`
 * bytes at a time. Returns the reader's error class; *out gets the bytes. */
static int dearmor(const uint8_t *text, size_t len, size_t prefix, size_t step, size_t rsize,
                   membuf *out) {
    if (prefix > len)
        prefix = len;
    chunked c = {{text + prefix, len - prefix, 0, step}, 0};
    dm_source inner = {chunked_read, &c, DM_SOURCE_STREAM};
    dm_armor_reader *r;
    assert_int_equal(dm_armor_reader_new(inner, text, prefix, &r), DM_OK);
    dm_source s = dm_armor_reader_source(r);
    uint8_t *buf = malloc(rsize);
    assert_non_null(buf);
    memset(out, 0, sizeof *out);
    int result = DM_OK;
    for (;;) {
        ssize_t got = s.read(s.ctx, buf, rsize);
        if (got == 0)
            break;
        if (got < 0) {
            result = dm_armor_reader_err(r);
            assert_int_not_equal(result, DM_OK);
            /* The failure is sticky and keeps its detail. */
            assert_int_equal(s.read(s.ctx, buf, rsize), -1);
            assert_true(strlen(dm_err_detail()) > 0);
            break;
        }
        assert_true((size_t)got <= rsize);
        assert_int_equal(membuf_write(out, buf, (size_t)got), 0);
    }
    if (result == DM_OK) {
        assert_int_equal(dm_armor_reader_err(r), DM_OK);
        /* EOF stays EOF. */
        assert_int_equal(s.read(s.ctx, buf, rsize), 0);
    }
    free(buf);
    dm_armor_reader_free(r);
    return result;
}

static int dearmor_str(const char *text, membuf *out) {
    return dearmor((const uint8_t *)text, strlen(text), 0, 0, 4096, out);
}

static void armor_bytes(const uint8_t *data, size_t len, size_t wstep, membuf *out) {
    memset(out, 0, sizeof *out);
    dm_sink inner = dm_sink_mem(out);
    dm_armor_writer *w;
    assert_int_equal(dm_armor_writer_new(inner, &w), DM_OK);
    dm_sink s = dm_armor_writer_sink(w);
    for (size_t off = 0; off < len;) {
        size_t take = len - off < wstep ? len - off : wstep;
        assert_int_equal(s.write(s.ctx, data + off, take), 0);
        off += take;
    }
    assert_int_equal(dm_armor_writer_finish(w), DM_OK);
    dm_armor_writer_free(w);
}

/* Canonical form of tolerated armor: outer whitespace gone, LF endings,
 * a final LF. */
static size_t normalize(const uint8_t *in, size_t len, uint8_t *out) {
    size_t a = 0, b = len;
    while (a < b && strchr(" \t\r\n\v\f", in[a]) && in[a])
        a++;
    while (b > a && strchr(" \t\r\n\v\f", in[b - 1]) && in[b - 1])
        b--;
    size_t o = 0;
    for (size_t i = a; i < b; i++)
        if (!(in[i] == '\r' && i + 1 < b && in[i + 1] == '\n'))
            out[o++] = in[i];
    out[o++] = '\n';
    return o;
}

/* ------------------------------------------------------ testkit vectors */

static void test_testkit_armor(void **state) {
    (void)state;
    size_t n = 0;
    char **names = tk_list(&n);
    if (names == NULL)
        fail_msg("cannot list testkit vectors in %s", tk_dir());
    size_t ok = 0, rejected = 0, rearmored = 0;
    static const size_t shapes[][3] = {
        {0, 0, 65536}, {0, 1, 1},    {0, 7, 47},   {0, 64, 48},
        {1, 3, 4096},  {35, 0, 100}, {100, 5, 49}, {SIZE_MAX, 0, 4096},
    };
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "armor_", 6) != 0)
            continue;
        tk_vector v;
        if (tk_load(names[i], &v) != 0)
            fail_msg("cannot load vector %s", names[i]);
        assert_true(v.armored);
        int want = strcmp(v.expect, "armor failure") == 0 ? DM_ERR_ARMOR : DM_OK;

        membuf first = {0};
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            /* The big vectors only in two shapes: a byte at a time is slow. */
            if (v.body_len > 10000 && k != 0 && k != 4)
                continue;
            membuf got;
            int err = dearmor(v.body, v.body_len, shapes[k][0], shapes[k][1], shapes[k][2], &got);
            if (err != want)
                fail_msg("%s (shape %zu): got %s (%s), want %s", v.name, k, dm_strerror(err),
                         dm_err_detail(), dm_strerror(want));
            if (k == 0) {
                first = got;
            } else {
                if (want == DM_OK) {
                    assert_int_equal(got.len, first.len);
                    assert_memory_equal(got.buf, first.buf, got.len);
                }
                free(got.buf);
            }
        }
        if (want == DM_OK) {
            ok++;
            /* What comes out is an age file (or nothing at all, armor_empty). */
            if (strcmp(v.name, "armor_empty") == 0)
                assert_int_equal(first.len, 0);
            else
                assert_memory_equal(first.buf, "age-encryption.org/", 19);
            /* Armoring it again gives age's text, modulo tolerated whitespace. */
            membuf again;
            armor_bytes(first.buf, first.len, 4096, &again);
            uint8_t *norm = malloc(v.body_len + 1);
            assert_non_null(norm);
            size_t nlen = normalize(v.body, v.body_len, norm);
            if (again.len != nlen || memcmp(again.buf, norm, nlen) != 0)
                fail_msg("%s: re-armored text differs", v.name);
            rearmored++;
            free(norm);
            free(again.buf);
        } else {
            rejected++;
        }
        free(first.buf);
        tk_free(&v);
    }
    tk_free_names(names, n);
    print_message("testkit: %zu armor vectors decoded and re-armored, %zu rejected\n", ok,
                  rejected);
    /* 33 armor_* vectors: 22 armor failures; 11 whose armor is fine
     * (armor_hybrid included: de-armoring needs no ML-KEM key). */
    assert_int_equal(rejected, 22);
    assert_int_equal(ok, 11);
    assert_int_equal(rearmored, 11);
}

/* armor_x25519 is the x25519 vector armored: the decoded bytes are exact. */
static void test_decodes_exact_bytes(void **state) {
    (void)state;
    tk_vector a, x;
    assert_int_equal(tk_load("armor_x25519", &a), 0);
    assert_int_equal(tk_load("x25519", &x), 0);
    membuf got;
    assert_int_equal(dearmor(a.body, a.body_len, 0, 0, 4096, &got), DM_OK);
    assert_int_equal(got.len, x.body_len);
    assert_memory_equal(got.buf, x.body, x.body_len);
    /* And armoring the binary file reproduces age's armor byte for byte. */
    membuf text;
    armor_bytes(x.body, x.body_len, 1, &text);
    assert_int_equal(text.len, a.body_len);
    assert_memory_equal(text.buf, a.body, a.body_len);
    free(text.buf);
    free(got.buf);
    tk_free(&a);
    tk_free(&x);
}

/* ----------------------------------------------------------- round trips */

static void round_trip(const uint8_t *data, size_t len, size_t wstep) {
    membuf text, back;
    armor_bytes(data, len, wstep, &text);
    /* Shape: BEGIN, full 64-column lines, a shorter padded last line, END. */
    const char *t = (const char *)text.buf;
    size_t blen = strlen(DM_ARMOR_BEGIN), elen = strlen(DM_ARMOR_END);
    assert_true(text.len >= blen + elen + 2);
    assert_memory_equal(t, DM_ARMOR_BEGIN "\n", blen + 1);
    assert_memory_equal(t + text.len - elen - 1, DM_ARMOR_END "\n", elen + 1);
    size_t b64 = (len + 2) / 3 * 4;
    assert_int_equal(text.len, blen + 1 + b64 + (b64 + 63) / 64 + elen + 1);
    for (size_t pos = blen + 1, left = b64; left > 0;) {
        size_t cols = left < 64 ? left : 64;
        assert_int_equal(t[pos + cols], '\n');
        pos += cols + 1;
        left -= cols;
    }
    assert_int_equal(dearmor(text.buf, text.len, 0, 0, 4096, &back), DM_OK);
    assert_int_equal(back.len, len);
    if (len)
        assert_memory_equal(back.buf, data, len);
    free(back.buf);
    free(text.buf);
}

static void test_round_trip_lengths(void **state) {
    (void)state;
    uint8_t *data = malloc(48 * 3000 + 2);
    assert_non_null(data);
    randombytes_buf(data, 48 * 3000 + 2);
    for (size_t len = 0; len <= 200; len++)
        round_trip(data, len, len % 7 + 1);
    for (size_t k = 1; k <= 3000; k = k < 8 ? k + 1 : k * 3) {
        round_trip(data, 48 * k - 1, 4096);
        round_trip(data, 48 * k, 48);
        round_trip(data, 48 * k + 1, 1000);
    }
    /* Crosses the writer's staging buffer and the reader's read block. */
    round_trip(data, 48 * 3000 + 2, 65536);
    free(data);
}

static void test_known_text(void **state) {
    (void)state;
    membuf text;
    armor_bytes(NULL, 0, 1, &text);
    const char *empty = DM_ARMOR_BEGIN "\n" DM_ARMOR_END "\n";
    assert_int_equal(text.len, strlen(empty));
    assert_memory_equal(text.buf, empty, text.len);
    free(text.buf);

    armor_bytes((const uint8_t *)"foobar!", 7, 3, &text);
    const char *want = DM_ARMOR_BEGIN "\nZm9vYmFyIQ==\n" DM_ARMOR_END "\n";
    assert_int_equal(text.len, strlen(want));
    assert_memory_equal(text.buf, want, text.len);
    free(text.buf);

    membuf got;
    assert_int_equal(dearmor_str(want, &got), DM_OK);
    assert_int_equal(got.len, 7);
    assert_memory_equal(got.buf, "foobar!", 7);
    free(got.buf);
}

/* dm_dearmor, the whole-buffer form: the same bytes as the reader, the same
 * strictness, and nothing handed back on failure. */
static void test_dearmor_buffer(void **state) {
    (void)state;
    const char *want = DM_ARMOR_BEGIN "\nZm9vYmFyIQ==\n" DM_ARMOR_END "\n";
    uint8_t *out = (uint8_t *)"untouched";
    size_t out_len = 99;
    assert_int_equal(dm_dearmor((const uint8_t *)want, strlen(want), &out, &out_len), DM_OK);
    assert_int_equal(out_len, 7);
    assert_memory_equal(out, "foobar!", 7);
    free(out);
    const char *cut = DM_ARMOR_BEGIN "\nZm9vYmFyIQ==\n";
    assert_int_equal(dm_dearmor((const uint8_t *)cut, strlen(cut), &out, &out_len), DM_ERR_ARMOR);
    assert_null(out);
    assert_int_equal(out_len, 0);
    const char *bad = DM_ARMOR_BEGIN "\nZm9vYmFyIQ=\n" DM_ARMOR_END "\n";
    assert_int_equal(dm_dearmor((const uint8_t *)bad, strlen(bad), &out, &out_len), DM_ERR_ARMOR);
    assert_null(out);
    const char *binary = "age-encryption.org/v1\n";
    assert_int_equal(dm_dearmor((const uint8_t *)binary, strlen(binary), &out, &out_len),
                     DM_ERR_ARMOR);
    assert_null(out);
}

/* --------------------------------------------------------- strictness */

#define B DM_ARMOR_BEGIN "\n"
#define E DM_ARMOR_END "\n"
#define FULL "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"

static void expect_armor_error(const char *text, const char *detail) {
    membuf got;
    int err = dearmor_str(text, &got);
    free(got.buf);
    if (err != DM_ERR_ARMOR)
        fail_msg("accepted: %s", text);
    if (strstr(dm_err_detail(), detail) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", dm_err_detail(), detail);
}

static void expect_armor_ok(const char *text, size_t want_len) {
    membuf got;
    int err = dearmor_str(text, &got);
    if (err != DM_OK)
        fail_msg("rejected (%s): %s", dm_err_detail(), text);
    assert_int_equal(got.len, want_len);
    free(got.buf);
}

static void test_strict_rules(void **state) {
    (void)state;
    expect_armor_ok(B "QQ==\n" E, 1);
    expect_armor_ok(B "QUE=\n" E, 2);
    expect_armor_ok(B "QUFB\n" E, 3);
    expect_armor_ok(B FULL E, 48);
    expect_armor_ok(B FULL FULL "QQ==\n" E, 97);
    expect_armor_ok(B E, 0);
    /* A full last line may carry padding (47 bytes), then END follows. */
    expect_armor_ok(B "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" E, 47);
    /* CRLF, mixed line endings, no final newline, surrounding whitespace. */
    expect_armor_ok(DM_ARMOR_BEGIN "\r\nQQ==\r\n" DM_ARMOR_END "\r\n", 1);
    expect_armor_ok(DM_ARMOR_BEGIN "\r\nQQ==\n" DM_ARMOR_END, 1);
    expect_armor_ok(" \t\r\n\n" B "QQ==\n" E " \n\t\r\n", 1);

    expect_armor_error("", "no BEGIN line");
    expect_armor_error(" \n\n", "no BEGIN line");
    expect_armor_error("  " B "QQ==\n" E, "armor line 1: expected");
    expect_armor_error(B "QQ==\n", "no END line");
    expect_armor_error(B FULL, "no END line");
    expect_armor_error(B, "no END line");
    expect_armor_error(B "QQ==\n\n" E, "armor line 3: empty line");
    expect_armor_error(B FULL "\n" E, "armor line 3: empty line");
    expect_armor_error(B "\n" FULL E, "armor line 2: empty line");
    expect_armor_error(B "QQ\n" E, "multiple of 4");
    expect_armor_error(B "QR==\n" E, "non-canonical");
    expect_armor_error(B "Q===\n" E, "non-canonical");
    expect_armor_error(B "QQ=A\n" E, "non-canonical");
    expect_armor_error(B "QUFB\nQUFB\n" E, "armor line 3: short line");
    expect_armor_error(B "QQ==\nQQ==\n" E, "armor line 3: short line");
    expect_armor_error(B "AAAA" FULL E, "longer than 64 columns");
    expect_armor_error(B " QQ=\n" E, "non-canonical");
    expect_armor_error(B "QQ== \n" E, "armor line 2: base64 line length");
    expect_armor_error(B "QQ=\t\n" E, "armor line 2: invalid");
    expect_armor_error(B "QQ==\n" E "x", "data after the END line");
    expect_armor_error(B "QQ==\n" E E, "data after the END line");
    expect_armor_error(B "QQ==\n" DM_ARMOR_END " \n", "armor line 3: short line");
    expect_armor_error(B FULL "-----END AGE ENCRYPTED FILE----\n", "armor line 3: expected");
    expect_armor_error("-----BEGIN AGE ENCRYPTED FILE-----x\nQQ==\n" E, "armor line 1");

    /* A line with no end in sight is not buffered forever. */
    size_t big = 100000;
    char *s = malloc(big + 64);
    assert_non_null(s);
    strcpy(s, B);
    memset(s + strlen(B), 'A', big);
    s[strlen(B) + big] = '\0';
    expect_armor_error(s, "line too long");
    free(s);
}

static void test_whitespace_limits(void **state) {
    (void)state;
    char *s = malloc(4096);
    assert_non_null(s);
    /* Leading: 1024 bytes of whitespace lines are fine, 1025 are not. */
    memset(s, '\n', 1024);
    strcpy(s + 1024, B "QQ==\n" E);
    expect_armor_ok(s, 1);
    memset(s, '\n', 1025);
    strcpy(s + 1025, B "QQ==\n" E);
    expect_armor_error(s, "too much whitespace before");
    /* Trailing: fewer than 1024 bytes. */
    strcpy(s, B "QQ==\n" E);
    size_t l = strlen(s);
    memset(s + l, ' ', 1023);
    s[l + 1023] = '\0';
    expect_armor_ok(s, 1);
    memset(s + l, ' ', 1024);
    s[l + 1024] = '\0';
    expect_armor_error(s, "too much whitespace after");
    free(s);
}

static void test_io_errors(void **state) {
    (void)state;
    /* An inner read failure is I/O, not malformed armor. */
    const char *text = B "QQ==\n";
    chunked c = {{(const uint8_t *)text, strlen(text), 0, 0}, 1};
    dm_source inner = {chunked_read, &c, DM_SOURCE_STREAM};
    dm_armor_reader *r;
    assert_int_equal(dm_armor_reader_new(inner, NULL, 0, &r), DM_OK);
    dm_source s = dm_armor_reader_source(r);
    uint8_t buf[64];
    ssize_t got = s.read(s.ctx, buf, sizeof buf);
    /* The decoded byte may come first; the failure is then reported next. */
    if (got == 1)
        got = s.read(s.ctx, buf, sizeof buf);
    assert_int_equal(got, -1);
    assert_int_equal(dm_armor_reader_err(r), DM_ERR_IO);
    dm_armor_reader_free(r);

    /* A failing sink fails the writer, and it stays failed. */
    dm_sink out = {failing_write, NULL};
    dm_armor_writer *w;
    assert_int_equal(dm_armor_writer_new(out, &w), DM_OK);
    dm_sink ws = dm_armor_writer_sink(w);
    uint8_t data[100000] = {0};
    assert_int_equal(ws.write(ws.ctx, data, sizeof data), -1);
    assert_int_equal(ws.write(ws.ctx, data, 1), -1);
    assert_int_equal(dm_armor_writer_finish(w), DM_ERR_IO);
    dm_armor_writer_free(w);

    /* The failure may only surface when finishing flushes. */
    assert_int_equal(dm_armor_writer_new(out, &w), DM_OK);
    ws = dm_armor_writer_sink(w);
    assert_int_equal(ws.write(ws.ctx, data, 10), 0);
    assert_int_equal(dm_armor_writer_finish(w), DM_ERR_IO);
    dm_armor_writer_free(w);

    /* Finishing twice, or writing after finishing, is refused. */
    membuf m = {0};
    assert_int_equal(dm_armor_writer_new(dm_sink_mem(&m), &w), DM_OK);
    ws = dm_armor_writer_sink(w);
    assert_int_equal(dm_armor_writer_finish(w), DM_OK);
    assert_int_not_equal(dm_armor_writer_finish(w), DM_OK);
    assert_int_equal(ws.write(ws.ctx, data, 1), -1);
    dm_armor_writer_free(w);
    free(m.buf);
}

static void test_detect(void **state) {
    (void)state;
    const char *yes[] = {DM_ARMOR_BEGIN, B, " \t\r\n" B, "\n\n" DM_ARMOR_BEGIN "\r\n"};
    const char *no[] = {"",
                        "age-encryption.org/v1\n",
                        "-----BEGIN AGE ENCRYPTED",
                        "x" B,
                        "-----BEGIN age ENCRYPTED FILE-----\n",
                        "\n\n\n"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(dm_armor_detect((const uint8_t *)yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(dm_armor_detect((const uint8_t *)no[i], strlen(no[i])));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_testkit_armor),      cmocka_unit_test(test_decodes_exact_bytes),
    cmocka_unit_test(test_round_trip_lengths), cmocka_unit_test(test_known_text),
    cmocka_unit_test(test_strict_rules),       cmocka_unit_test(test_whitespace_limits),
    cmocka_unit_test(test_io_errors),          cmocka_unit_test(test_detect),
    cmocka_unit_test(test_dearmor_buffer),
};

DM_UNIT_MAIN("armor", tests, NULL, NULL)
