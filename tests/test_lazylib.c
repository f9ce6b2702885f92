/* The vault's one loader (vault/lazylib.c): each part of libcrypto's table is
 * there, the same table for every caller and every thread, opened once; a
 * part this build lacks is refused with a detail that says why, and asking
 * whether a part is ready leaves the detail alone. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "lazylib.h"
#include "unit_main.h"

#define RACERS 8

static void *race_aead(void *arg) {
    (void)arg;
    return (void *)dm_libcrypto_get(DM_LIBCRYPTO_AEAD);
}

/* First in the run: eight threads open libcrypto at once and all get the
 * one table, ready. */
static void test_first_use_from_many_threads(void **state) {
    (void)state;
    pthread_t t[RACERS];
    void *got[RACERS];
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_aead, NULL), 0);
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_join(t[i], &got[i]), 0);
    assert_non_null(got[0]);
    for (int i = 1; i < RACERS; i++)
        assert_ptr_equal(got[i], got[0]);
    const dm_libcrypto *c = got[0];
    assert_non_null(c->chacha20_poly1305);
}

static void test_parts(void **state) {
    (void)state;
    const dm_libcrypto *aead = dm_libcrypto_get(DM_LIBCRYPTO_AEAD);
    const dm_libcrypto *pkey = dm_libcrypto_get(DM_LIBCRYPTO_PKEY);
    assert_non_null(aead);
    assert_ptr_equal(pkey, aead);
    assert_int_equal(dm_libcrypto_ready(DM_LIBCRYPTO_AEAD), 1);
    assert_int_equal(dm_libcrypto_ready(DM_LIBCRYPTO_PKEY), 1);
    assert_non_null(aead->EVP_CIPHER_CTX_new);
    assert_non_null(aead->EVP_DecryptFinal_ex);
    assert_non_null(pkey->EVP_PKEY_encrypt);
    assert_non_null(pkey->PEM_read_bio_PrivateKey);
    /* The table's functions work: an RSA context by name, freed. */
    EVP_PKEY_CTX *ctx = pkey->EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    assert_non_null(ctx);
    pkey->EVP_PKEY_CTX_free(ctx);
    const char *v = dm_openssl_version();
    assert_non_null(v);
    assert_memory_equal(v, "OpenSSL ", 8);
}

static void test_part_this_build_lacks(void **state) {
    (void)state;
#ifdef DM_HAVE_MLKEM
    assert_int_equal(dm_libcrypto_ready(DM_LIBCRYPTO_MLKEM), 1);
    assert_non_null(dm_libcrypto_get(DM_LIBCRYPTO_MLKEM));
#else
    (void)dm_fail(DM_ERR_IO, "untouched");
    assert_int_equal(dm_libcrypto_ready(DM_LIBCRYPTO_MLKEM), 0);
    assert_string_equal(dm_err_detail(), "untouched");
    assert_null(dm_libcrypto_get(DM_LIBCRYPTO_MLKEM));
    assert_string_equal(dm_err_detail(), "OpenSSL is not available: this build has no ML-KEM-768 "
                                         "(it needs OpenSSL 3.5 or later)");
#endif
    /* A part that does not exist is refused, not read past the table. */
    assert_null(dm_libcrypto_get(DM_LIBCRYPTO_PARTS));
    assert_string_equal(dm_err_detail(), "OpenSSL is not available: no such part");
}

static void test_libssh(void **state) {
    (void)state;
    const dm_libssh *s = dm_libssh_get();
    assert_non_null(s);
    assert_ptr_equal(dm_libssh_get(), s);
    assert_int_equal(s->ssh_key_type_from_name("ssh-ed25519"), SSH_KEYTYPE_ED25519);
    assert_int_equal(s->ssh_key_type_from_name("ssh-rsa"), SSH_KEYTYPE_RSA);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_first_use_from_many_threads), cmocka_unit_test(test_parts),
    cmocka_unit_test(test_part_this_build_lacks), cmocka_unit_test(test_libssh)};

DM_UNIT_MAIN("lazylib", tests, NULL, NULL)
