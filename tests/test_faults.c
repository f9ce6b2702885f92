/* Fault injection at the library level, beside tests/e2e/faults.sh: a full
 * disk (/dev/full) and a sink that fails with ENOSPC must come back as
 * DM_ERR_IO whose detail says why (not just "write failed"), for encryption
 * (binary and armored) and decryption; and hostile headers: a million stanzas
 * parse within the size cap, one byte more than the cap is refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "internal.h"
#include "unit_main.h"

static dm_recipient *rcpt;
static dm_identity *ident;

static int setup(void **state) {
    (void)state;
    char *secret = NULL, *public = NULL;
    if (dm_init() != DM_OK || dm_x25519_keygen(&secret, &public) != DM_OK ||
        dm_x25519_recipient_parse(public, &rcpt) != DM_OK ||
        dm_x25519_identity_parse(secret, &ident) != DM_OK)
        return -1;
    dm_secret_free(secret);
    free(public);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dm_recipient_free(rcpt);
    dm_identity_free(ident);
    return 0;
}

static uint8_t *plain(size_t n) {
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + 7);
    return p;
}

static void assert_detail_says(const char *want) {
    const char *detail = dm_err_detail();
    if (strstr(detail, want) == NULL)
        fail_msg("detail \"%s\" does not say \"%s\"", detail, want);
}

static int enospc_after(void *ctx, const uint8_t *buf, size_t n) {
    (void)buf;
    size_t *budget = ctx;
    if (n > *budget) {
        errno = ENOSPC;
        return -1;
    }
    *budget -= n;
    return 0;
}

static void test_full_disk_says_why(void **state) {
    (void)state;
    size_t n = 3 * DM_CHUNK_SIZE + 5;
    uint8_t *pt = plain(n);
    for (int armor = 0; armor <= 1; armor++) {
        int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        dm_membuf in = {.data = pt, .len = n};
        dm_encrypt_opts eo = {.armor = armor, .threads = 1};
        assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_fd(&fd), &rcpt, 1, &eo), DM_ERR_IO);
        assert_detail_says("No space left on device");
        close(fd);
    }
    /* A sink that fills up in the middle of the payload, on 1 and 4 threads. */
    for (unsigned threads = 1; threads <= 4; threads += 3) {
        size_t budget = DM_CHUNK_SIZE + 300;
        dm_sink sink = {enospc_after, &budget};
        dm_membuf in = {.data = pt, .len = n};
        dm_encrypt_opts eo = {.threads = threads};
        assert_int_equal(dm_encrypt(dm_source_mem(&in), sink, &rcpt, 1, &eo), DM_ERR_IO);
        assert_detail_says("No space left on device");
    }
    /* Decryption to a full disk. */
    dm_membuf ct = {0};
    dm_membuf in = {.data = pt, .len = n};
    assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_mem(&ct), &rcpt, 1, NULL), DM_OK);
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    dm_membuf src = {.data = ct.buf, .len = ct.len};
    dm_decrypt_opts d1 = {.threads = 1};
    assert_int_equal(dm_decrypt(dm_source_mem(&src), dm_sink_fd(&fd), &ident, 1, &d1), DM_ERR_IO);
    assert_detail_says("No space left on device");
    close(fd);
    free(ct.buf);
    free(pt);
}

/* "age-encryption.org/v1\n", count stanzas "-> a\n\n", a MAC line. */
static uint8_t *stanzas_header(size_t count, size_t *len) {
    static const char intro[] = "age-encryption.org/v1\n";
    static const char mac[] = "--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    size_t n = strlen(intro) + 6 * count + strlen(mac);
    uint8_t *h = malloc(n);
    assert_non_null(h);
    memcpy(h, intro, strlen(intro));
    for (size_t i = 0; i < count; i++)
        memcpy(h + strlen(intro) + 6 * i, "-> a\n\n", 6);
    memcpy(h + n - strlen(mac), mac, strlen(mac));
    *len = n;
    return h;
}

static void test_hostile_headers(void **state) {
    (void)state;
    size_t len;
    uint8_t *h = stanzas_header(1000000, &len);
    dm_header hdr;
    assert_int_equal(dm_header_parse(h, len, &hdr), DM_OK);
    assert_int_equal(hdr.stanzas.len, 1000000);
    assert_int_equal(hdr.len, len);
    dm_header_clear(&hdr);
    free(h);

    /* Just past the cap: refused, whatever it holds. */
    size_t count = (DM_MAX_HEADER_LEN - 22 - 48) / 6 + 1;
    h = stanzas_header(count, &len);
    assert_true(len > DM_MAX_HEADER_LEN);
    assert_int_equal(dm_header_parse(h, len, &hdr), DM_ERR_HEADER);
    assert_detail_says("larger than");
    free(h);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_full_disk_says_why),
    cmocka_unit_test(test_hostile_headers),
};

DM_UNIT_MAIN("faults", tests, setup, teardown)
