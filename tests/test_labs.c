/* The lab cores, with tiny parameters: blast-radius counts equal what really
 * decrypted (and what the key sets should open); the forged LEAF really
 * passes the compliant check and really fails recovery; crumple recovery
 * really finds the key; the passcode device really erases itself, and the
 * lab really recovers the PIN; the strip lab's outcomes. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "labs.h"
#include "labs_fixture.h"
#include "unit_main.h"

static int setup(void **state) {
    return lab_dir_make(state, "/tmp/doormat-test-labs.XXXXXX");
}

static bool exists(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void test_blast(void **state) {
    dm_lab_blast_opts o = {.users = 3, .files_per_user = 2, .file_bytes = 100, .dir = *state};
    dm_lab_blast_result r;
    assert_int_equal(dm_lab_blast(&o, &r), DM_OK);
    assert_int_equal(r.total_files, 18);
    for (int p = 0; p < DM_LAB_N_POPS; p++)
        assert_int_equal(r.pop_files[p], 6);
    /* What each stolen set opened, file by file, population by population. */
    const size_t want[DM_LAB_N_STOLEN][DM_LAB_N_POPS] = {
        {2, 2, 2}, {0, 6, 0}, {0, 0, 0}, {0, 0, 6}};
    for (int s = 0; s < DM_LAB_N_STOLEN; s++) {
        size_t sum = 0;
        for (int p = 0; p < DM_LAB_N_POPS; p++) {
            assert_int_equal(r.rows[s].by_pop[p], want[s][p]);
            sum += r.rows[s].by_pop[p];
        }
        assert_int_equal(r.rows[s].exposed, sum);
        assert_true(r.rows[s].seconds > 0);
    }
    assert_true(exists(*state, "authority-2of3/authority.pub"));
    assert_true(exists(*state, "users/user0003.key"));
    assert_true(exists(*state, "escrow-1of1/user0003-file0002.age"));
    assert_true(exists(*state, "vault/user0003-file0002.age"));
    /* Bad sizes are usage errors. */
    o.users = 0;
    assert_int_equal(dm_lab_blast(&o, &r), DM_ERR_USAGE);
}

static void test_leaf(void **state) {
    dm_lab_leaf_opts o = {
        .forge_bits = 8, .budget = 0.002, .all = false, .shamir_tries = 64, .dir = *state};
    dm_lab_leaf_result r;
    assert_int_equal(dm_lab_leaf(&o, &r), DM_OK);
    assert_true(r.rows[0].measured);
    assert_int_equal(r.rows[0].bits, 8);
    assert_true(r.rows[0].tries >= 1);
    assert_true(r.seconds_per_try > 0);
    /* The rate: whole batches of 4096 checks, at most 16. */
    assert_true(r.rate_tries >= 4096 && r.rate_tries <= 16 * 4096);
    assert_int_equal(r.rate_tries % 4096, 0);
    /* 2^24 tries do not fit 2 ms: extrapolated from the measured rate. */
    assert_false(r.rows[4].measured);
    assert_true(r.rows[4].seconds > 0.99 * 16777216.0 * r.seconds_per_try &&
                r.rows[4].seconds < 1.01 * 16777216.0 * r.seconds_per_try);
    /* The forgery passed the compliant check and gave the authority garbage. */
    assert_int_equal(r.forge_bits, 8);
    assert_true(r.forged_passes_check);
    assert_int_equal(r.recovery_err, DM_ERR_HMAC);
    assert_memory_not_equal(r.authority_key, r.file_key, DM_FILE_KEY_LEN);
    /* The default escrow: no random field passed. */
    assert_int_equal(r.shamir_tries, 64);
    assert_int_equal(r.shamir_passed, 0);
    assert_true(exists(*state, "authority/authority.pub"));
    assert_true(exists(*state, "forged-leaf-8.age"));
    assert_true(exists(*state, "shamir.age"));
}

static void test_crumple(void **state) {
    dm_lab_crumple_opts o = {
        .min_bits = 6, .max_bits = 10, .budget = 100, .population = 1000, .dir = *state};
    dm_lab_crumple_result r;
    assert_int_equal(dm_lab_crumple(&o, &r), DM_OK);
    assert_int_equal(r.n_rows, 5);
    for (size_t i = 0; i < r.n_rows; i++) {
        const dm_lab_crumple_row *w = &r.rows[i];
        assert_int_equal(w->bits, 6 + i);
        assert_true(w->measured);
        assert_true(w->found);
        assert_in_range(w->tries, 1, 1u << w->bits);
        assert_true(w->worst_seconds > 0);
        assert_true(w->expected_seconds * 2 == w->worst_seconds);
        assert_true(w->population_seconds == w->expected_seconds * 1000);
    }
    assert_true(r.encrypt_seconds > 0 && r.check_seconds > 0);
    assert_true(exists(*state, "crumple-10.age"));
    /* A budget too small for any row: extrapolated rows, no search. */
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/small", (char *)*state);
    assert_int_equal(mkdir(sub, 0700), 0);
    o.min_bits = 30;
    o.max_bits = 31;
    o.budget = 0.001;
    o.dir = sub;
    assert_int_equal(dm_lab_crumple(&o, &r), DM_OK);
    assert_false(r.rows[0].measured);
    assert_false(r.rows[1].measured);
    o.min_bits = 5;
    o.max_bits = 4;
    assert_int_equal(dm_lab_crumple(&o, &r), DM_ERR_USAGE);
}

static void make_device(const char *pin, unsigned limit, dm_lab_device **d, const char *msg) {
    dm_lab_kdf kdf = {.log_n = 4, .r = 1, .p = 1};
    assert_int_equal(dm_lab_device_new(pin, &kdf, limit, NULL, 0, d), DM_OK);
    dm_recipient *rc;
    assert_int_equal(dm_x25519_recipient_parse(dm_lab_device_recipient(*d), &rc), DM_OK);
    dm_membuf in = {.data = (const uint8_t *)msg, .len = strlen(msg)}, out = {0};
    dm_encrypt_opts eo = {.threads = 1};
    assert_int_equal(dm_encrypt(dm_source_mem(&in), dm_sink_mem(&out), &rc, 1, &eo), DM_OK);
    assert_int_equal(dm_lab_device_set_file(*d, out.buf, out.len), DM_OK);
    free(out.buf);
    dm_recipient_free(rc);
}

static void test_device(void **state) {
    (void)state;
    const char *msg = "photo";
    dm_lab_device *d;
    uint8_t *plain;
    size_t len;
    make_device("4711", 10, &d, msg);
    assert_int_equal(dm_lab_device_unlock(d, "0000", &plain, &len), DM_ERR_BAD_PASSPHRASE);
    assert_null(plain);
    assert_int_equal(dm_lab_device_unlock(d, "4711", &plain, &len), DM_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(plain, msg, 5);
    free(plain);
    /* Ten failures in a row: erased; the right PIN no longer helps. */
    for (int i = 0; i < 9; i++) {
        assert_int_equal(dm_lab_device_unlock(d, "1234", &plain, &len), DM_ERR_BAD_PASSPHRASE);
        assert_false(dm_lab_device_erased(d));
    }
    assert_int_equal(dm_lab_device_unlock(d, "1234", &plain, &len), DM_ERR_BAD_PASSPHRASE);
    assert_true(dm_lab_device_erased(d));
    assert_int_equal(dm_lab_device_unlock(d, "4711", &plain, &len), DM_ERR_DENIED);
    dm_lab_device_free(d);
    /* No limit (the requested software): failures never erase. */
    make_device("4711", 0, &d, msg);
    for (int i = 0; i < 25; i++)
        assert_int_equal(dm_lab_device_unlock(d, "9999", &plain, &len), DM_ERR_BAD_PASSPHRASE);
    assert_false(dm_lab_device_erased(d));
    assert_int_equal(dm_lab_device_unlock(d, "4711", &plain, &len), DM_OK);
    free(plain);
    dm_lab_device_free(d);
}

static void test_passcode(void **state) {
    dm_lab_passcode_opts o = {.digits = 3, .target_ms = 5, .dir = *state};
    dm_lab_passcode_result r;
    assert_int_equal(dm_lab_passcode(&o, &r), DM_OK);
    assert_true(r.calibrated.ms_per_try > 0 && r.fast.ms_per_try > 0);
    assert_true(r.crack_found);
    assert_int_equal(strlen(r.pin), 3);
    /* Tried in order from 000: the PIN is found at its own number + 1. */
    assert_int_equal(r.crack_tries, (uint64_t)atoi(r.pin) + 1);
    if (atoi(r.pin) >= 10) {
        assert_true(r.erased);
        assert_false(r.limited_found);
        assert_int_equal(r.limited_tries, 10);
        assert_true(r.correct_pin_after_erase_fails);
    } else {
        assert_true(r.limited_found);
    }
    assert_true(r.rows_worst[0] == 1e4 * r.calibrated.ms_per_try / 1000);
    /* One digit: the PIN is always among the first 10 tries, so the device
     * with the limit opens too, at the same try, and is not erased. */
    o.digits = 1;
    assert_int_equal(dm_lab_passcode(&o, &r), DM_OK);
    assert_true(r.crack_found);
    assert_true(r.limited_found);
    assert_false(r.erased);
    assert_int_equal(r.limited_tries, r.crack_tries);
    assert_int_equal(r.crack_tries, (uint64_t)atoi(r.pin) + 1);
    o.digits = 0;
    assert_int_equal(dm_lab_passcode(&o, &r), DM_ERR_USAGE);
}

static void test_strip(void **state) {
    dm_lab_strip_result r;
    assert_int_equal(dm_lab_strip(*state, &r), DM_OK);
    assert_int_equal(r.policy_err[DM_LAB_STRIP_ORIGINAL], DM_OK);
    assert_int_equal(r.policy_err[DM_LAB_STRIP_STRIPPED], DM_ERR_POLICY);
    assert_int_equal(r.policy_err[DM_LAB_STRIP_CORRUPTED], DM_ERR_POLICY);
    for (int t = 0; t < DM_LAB_STRIP_N; t++)
        assert_true(r.plain_decrypts[t]);
    assert_string_equal(r.recovery[DM_LAB_STRIP_ORIGINAL], "ok");
    assert_string_equal(r.recovery[DM_LAB_STRIP_STRIPPED], "no-stanza");
    assert_string_equal(r.recovery[DM_LAB_STRIP_CORRUPTED], "unopenable");
    assert_true(exists(*state, "stripped.age") && exists(*state, "corrupted.age"));
}

/* The header-swap attack: the old binding opens the file unseen; the new one
 * refuses, and a warrant for the bound id is seen. */
static void test_unbound(void **state) {
    dm_lab_unbound_result r;
    assert_int_equal(dm_lab_unbound(*state, &r), DM_OK);
    const dm_lab_unbound_row *o = &r.rows[DM_LAB_UNBOUND_OLD], *n = &r.rows[DM_LAB_UNBOUND_NEW];
    assert_string_equal(dm_lab_unbound_binding[DM_LAB_UNBOUND_OLD], "header-hash");
    assert_int_equal(o->released, 2);
    assert_true(o->opened);
    assert_int_equal(o->log_entries, 2);
    assert_int_equal(o->monitor_saw, 0);
    assert_string_equal(o->logged_id, r.swapped_id);
    assert_string_not_equal(r.swapped_id, r.header_id);
    assert_int_equal(n->released, 0);
    assert_int_equal(n->answer, DM_ERR_DENIED);
    assert_non_null(strstr(n->reason, r.escrow_id));
    assert_false(n->opened);
    assert_int_equal(n->log_entries, 0);
    assert_int_equal(r.bound_released, 2);
    assert_true(r.bound_opened);
    assert_int_equal(r.bound_monitor_saw, 2);
    assert_true(exists(*state, "g.age") && exists(*state, "logs-header-hash/doj/checkpoint"));
}

static const struct CMUnitTest tests[] = {
    LAB_TEST(test_blast),
    LAB_TEST(test_unbound),
    LAB_TEST(test_leaf),
    LAB_TEST(test_crumple),
    LAB_TEST(test_device),
    LAB_TEST(test_passcode),
    LAB_TEST(test_strip),
};

DM_UNIT_MAIN("labs", tests, NULL, NULL)
