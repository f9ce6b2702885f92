/* What tlog/ keeps on files for a monitor and a witness: the monitor's state
 * (exact bytes written, every way a kept state is refused, and a failed save
 * that leaves the old state byte for byte) and a witness kept in a directory
 * (the files it makes, what it refuses, a checkpoint cosigned). */
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
#include <sodium.h>

#include "doormat/tlog.h"
#include "doormat/vault.h"
#include "unit_main.h"

static char dir[] = "/tmp/dm_tlog_monitor_XXXXXX";

static int setup(void **state) {
    (void)state;
    umask(022);
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static const char note[] = "example.com/log\n3\nAAAA\n\n— example.com/log abcd\n";

/* ------------------------------------------------------------ monitor */

static void test_state_path(void **state) {
    (void)state;
    char out[4096];
    assert_int_equal(dm_tlog_monitor_state_path("seen", "example.com/log", out, sizeof out), DM_OK);
    /* SHA-256("example.com/log") */
    assert_string_equal(out,
                        "seen/4d3203c8f35cdf600e475f55fede6081a703d3d322f208865fca2ec4f0e030f8");
    char small[69]; /* one byte short of "seen/" + 64 digits + NUL */
    assert_int_equal(dm_tlog_monitor_state_path("seen", "example.com/log", small, sizeof small),
                     DM_ERR_USAGE);
}

static void test_state_save_bytes(void **state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/state-bytes", dir);
    assert_int_equal(dm_tlog_monitor_state_save(path, note, strlen(note), "2026-01-02T03:04:05Z"),
                     DM_OK);
    size_t len = 0;
    char *text = slurp(path, &len);
    const char want[] = "doormat-escrow-monitor/v1\nlast-entry: 2026-01-02T03:04:05Z\n"
                        "example.com/log\n3\nAAAA\n\n— example.com/log abcd\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(text, want, len);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* And read back. */
    dm_tlog_monitor_state s;
    assert_int_equal(dm_tlog_monitor_state_parse(text, len, &s), DM_OK);
    assert_int_equal(s.legacy, 0);
    assert_string_equal(s.last_entry, "2026-01-02T03:04:05Z");
    assert_int_equal(s.note_len, strlen(note));
    assert_memory_equal(s.note, note, s.note_len);
    free(text);

    /* No entry yet: "none", read back as "". */
    assert_int_equal(dm_tlog_monitor_state_save(path, note, strlen(note), ""), DM_OK);
    text = slurp(path, &len);
    assert_int_equal(
        memcmp(text, "doormat-escrow-monitor/v1\nlast-entry: none\nexample.com/log\n", 59), 0);
    assert_int_equal(dm_tlog_monitor_state_parse(text, len, &s), DM_OK);
    assert_string_equal(s.last_entry, "");
    assert_int_equal(s.legacy, 0);
    free(text);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
}

static void test_state_legacy(void **state) {
    (void)state;
    dm_tlog_monitor_state s;
    assert_int_equal(dm_tlog_monitor_state_parse(note, strlen(note), &s), DM_OK);
    assert_int_equal(s.legacy, 1);
    assert_ptr_equal(s.note, note);
    assert_int_equal(s.note_len, strlen(note));
    assert_string_equal(s.last_entry, "");
}

static void test_state_refused(void **state) {
    (void)state;
    static const char *bad[] = {
        "doormat-escrow-monitor/v1\n",                                      /* no line 2 */
        "doormat-escrow-monitor/v1\nlast: none\nx\n",                       /* not last-entry */
        "doormat-escrow-monitor/v1\nlast-entry: 2026-02-30T00:00:00Z\nx\n", /* no such day */
        "doormat-escrow-monitor/v1\nlast-entry: 2026-01-02 03:04:05Z\nx\n", /* not the form */
        "doormat-escrow-monitor/v1\nlast-entry: yesterday\nx\n",            /* not a time */
        "doormat-escrow-monitor/v1\nlast-entry: \nx\n",                     /* empty */
        "doormat-escrow-monitor/v1\nlast-entry: nonex\nx\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_tlog_monitor_state s;
        assert_int_equal(dm_tlog_monitor_state_parse(bad[i], strlen(bad[i]), &s), DM_ERR_LOG);
        assert_string_equal(s.last_entry, "");
    }
}

/* A save that fails leaves the kept state byte for byte. */
static void test_state_failed_save(void **state) {
    (void)state;
    char path[256], tmp[400], sub[420];
    snprintf(path, sizeof path, "%s/state-kept", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(sub, sizeof sub, "%s/x", tmp);
    const char old[] = "doormat-escrow-monitor/v1\nlast-entry: none\nold checkpoint\n";
    write_text(path, old);
    /* PATH.tmp can't be made: a directory (not empty) stands there. */
    assert_int_equal(mkdir(tmp, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(dm_tlog_monitor_state_save(path, note, strlen(note), "2026-01-02T03:04:05Z"),
                     DM_ERR_USAGE);
    size_t len = 0;
    char *text = slurp(path, &len);
    assert_int_equal(len, strlen(old));
    assert_memory_equal(text, old, len);
    free(text);
    rmdir(sub);
    rmdir(tmp);

    /* No directory to write in: an I/O failure. */
    char lost[300];
    snprintf(lost, sizeof lost, "%s/no-such-dir/state", dir);
    assert_int_equal(dm_tlog_monitor_state_save(lost, note, strlen(note), ""), DM_ERR_IO);
    assert_int_equal(access(lost, F_OK), -1);

    /* The rename fails (a directory, not empty, is where the state goes):
     * nothing is left beside it. */
    char as_dir[300], inside[420];
    snprintf(as_dir, sizeof as_dir, "%s/state-dir", dir);
    snprintf(inside, sizeof inside, "%s/keep", as_dir);
    assert_int_equal(mkdir(as_dir, 0700), 0);
    write_text(inside, "kept\n");
    assert_int_equal(dm_tlog_monitor_state_save(as_dir, note, strlen(note), ""), DM_ERR_IO);
    snprintf(tmp, sizeof tmp, "%s.tmp", as_dir);
    assert_int_equal(access(tmp, F_OK), -1);
    text = slurp(inside, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(text, "kept\n", 5);
    free(text);
}

/* ------------------------------------------------------------ witness */

static void test_witness_dir(void **state) {
    (void)state;
    char wdir[256], key[300], pub[300], st_dir[300];
    snprintf(wdir, sizeof wdir, "%s/w1", dir);
    assert_int_equal(dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_KEY_FILE, key, sizeof key),
                     DM_OK);
    assert_int_equal(dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_VKEY_FILE, pub, sizeof pub),
                     DM_OK);
    assert_int_equal(
        dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_STATE_DIR, st_dir, sizeof st_dir), DM_OK);
    char too_small[8];
    assert_int_equal(dm_tlog_witness_dir_path(wdir, "state", too_small, sizeof too_small),
                     DM_ERR_USAGE);

    char *vk = NULL;
    assert_int_equal(dm_tlog_witness_dir_create(wdir, "witness.example", &vk), DM_OK);
    assert_non_null(vk);
    assert_int_equal(strncmp(vk, "witness.example+", 16), 0);
    struct stat st;
    assert_int_equal(stat(wdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(st_dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    size_t len = 0;
    char *text = slurp(pub, &len);
    assert_int_equal(len, strlen(vk) + 1);
    assert_memory_equal(text, vk, strlen(vk));
    assert_int_equal(text[len - 1], '\n');
    free(text);

    /* A second witness in the same directory is refused; the first stays. */
    size_t key_len = 0;
    char *skey = slurp(key, &key_len);
    char *vk2 = NULL;
    assert_int_equal(dm_tlog_witness_dir_create(wdir, "other", &vk2), DM_ERR_USAGE);
    assert_null(vk2);
    size_t again_len = 0;
    char *again = slurp(key, &again_len);
    assert_int_equal(again_len, key_len);
    assert_memory_equal(again, skey, key_len);
    free(again);
    assert_int_equal(access(pub, F_OK), 0);

    /* Opened, trusting one log, it cosigns that log's checkpoint. */
    char *log_sk = NULL, *log_vk = NULL;
    dm_tlog_signer *log = NULL;
    assert_int_equal(dm_tlog_key_generate("example.com/log", DM_TLOG_SIG_ED25519, &log_sk, &log_vk),
                     DM_OK);
    assert_int_equal(dm_tlog_signer_parse(log_sk, strlen(log_sk), &log), DM_OK);
    dm_tlog_witness_dir *w = NULL;
    assert_int_equal(
        dm_tlog_witness_dir_open(wdir, skey, key_len, dm_tlog_signer_verifier(log), 1, &w), DM_OK);
    assert_string_equal(dm_tlog_witness_dir_verifier(w)->name, "witness.example");
    assert_int_equal(dm_tlog_witness_dir_verifier(w)->type, DM_TLOG_SIG_COSIGNATURE);

    dm_tlog_checkpoint c = {.origin = "example.com/log", .size = 0};
    crypto_hash_sha256(c.root, NULL, 0);
    char *ctext = NULL, *signed_note = NULL, *body = NULL, *resp = NULL;
    size_t ctext_len = 0, signed_len = 0, body_len = 0, resp_len = 0;
    assert_int_equal(dm_tlog_checkpoint_format(&c, &ctext, &ctext_len), DM_OK);
    assert_int_equal(dm_tlog_note_sign(ctext, ctext_len, log, &signed_note, &signed_len), DM_OK);
    assert_int_equal(dm_tlog_witness_request(0, NULL, 0, signed_note, signed_len, &body, &body_len),
                     DM_OK);
    int status = 0;
    assert_int_equal(dm_tlog_witness_dir_add_checkpoint(w, body, body_len, 1767225600, &status,
                                                        &resp, &resp_len),
                     DM_OK);
    assert_int_equal(status, 200);
    assert_true(resp_len > 20);
    assert_memory_equal(resp, "\xe2\x80\x94 witness.example ", 20);
    free(resp);
    resp = NULL;

    /* A body that is no request: 400, and still DM_OK (a status was decided). */
    assert_int_equal(dm_tlog_witness_dir_add_checkpoint(w, "nonsense\n", 9, 1767225600, &status,
                                                        &resp, &resp_len),
                     DM_OK);
    assert_int_equal(status, 400);
    free(resp);
    dm_tlog_witness_dir_free(w);
    dm_tlog_witness_dir_free(NULL);

    /* A log key is not a witness key. */
    w = NULL;
    assert_int_equal(dm_tlog_witness_dir_open(wdir, log_sk, strlen(log_sk), NULL, 0, &w),
                     DM_ERR_USAGE);
    assert_null(w);
    /* Nor is text that is no key. */
    assert_int_equal(dm_tlog_witness_dir_open(wdir, "PRIVATE+KEY+x", 13, NULL, 0, &w),
                     DM_ERR_USAGE);
    assert_null(w);

    free(ctext);
    free(signed_note);
    free(body);
    dm_tlog_signer_free(log);
    dm_secret_free(log_sk);
    free(log_vk);
    free(skey);
    free(vk);
}

/* A directory that can't be made leaves nothing behind. */
static void test_witness_dir_create_fails(void **state) {
    (void)state;
    char wdir[256];
    snprintf(wdir, sizeof wdir, "%s/no-such-parent/w", dir);
    char *vk = NULL;
    assert_int_equal(dm_tlog_witness_dir_create(wdir, "w", &vk), DM_ERR_IO);
    assert_null(vk);
    assert_int_equal(access(wdir, F_OK), -1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_state_path),
    cmocka_unit_test(test_state_save_bytes),
    cmocka_unit_test(test_state_legacy),
    cmocka_unit_test(test_state_refused),
    cmocka_unit_test(test_state_failed_save),
    cmocka_unit_test(test_witness_dir),
    cmocka_unit_test(test_witness_dir_create_fails),
};

DM_UNIT_MAIN("tlog_monitor", tests, setup, teardown)
