/* The access-system labs' cores, with tiny parameters, checked against the
 * files they leave behind: the ghost's stanza is really in every ghosted file
 * and really opens it with the ghost's key; the swapped authority really has
 * the genuine one's name and not its id, and the attacker's agent keys really
 * open the sender's files; the vendor key really decrypts every device's
 * passcode; escrow added to an archive really rewrites headers only and
 * really lets the authority in. */
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
    return lab_dir_make(state, "/tmp/doormat-test-labs-access.XXXXXX");
}

/* DIR/NAME whole, NUL-terminated (malloc'd). */
static uint8_t *slurp(const char *dir, const char *name, size_t *len) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* The identity in the key file DIR/NAME. */
static dm_identity *identity(const char *dir, const char *name) {
    size_t len;
    char *text = (char *)slurp(dir, name, &len);
    text[strcspn(text, "\n")] = 0;
    dm_identity *id = NULL;
    assert_int_equal(dm_x25519_identity_parse(text, &id), DM_OK);
    free(text);
    return id;
}

/* Decrypts DIR/NAME with id: the error, and the plaintext in *plain. */
static int open_file(const char *dir, const char *name, dm_identity *id, char **plain) {
    size_t len;
    uint8_t *file = slurp(dir, name, &len);
    dm_membuf src = {.data = file, .len = len}, out = {0};
    dm_decrypt_opts o = {.threads = 1};
    id->beside = dm_escrow_beside;
    int err = dm_decrypt(dm_source_mem(&src), dm_sink_mem(&out), &id, 1, &o);
    free(file);
    *plain = NULL;
    if (err == DM_OK) {
        *plain = calloc(1, out.len + 1);
        memcpy(*plain, out.buf, out.len);
    }
    free(out.buf);
    return err;
}

static size_t x25519_stanzas(const char *dir, const char *name) {
    size_t len, n = 0;
    uint8_t *file = slurp(dir, name, &len);
    dm_header hdr = {0};
    assert_int_equal(dm_header_parse(file, len, &hdr), DM_OK);
    for (size_t i = 0; i < hdr.stanzas.len; i++)
        n += strcmp(hdr.stanzas.items[i].type, "X25519") == 0;
    dm_header_clear(&hdr);
    free(file);
    return n;
}

static void test_ghost(void **state) {
    const char *dir = *state;
    dm_lab_ghost_opts o = {.files = 3, .dir = dir};
    dm_lab_ghost_result r;
    assert_int_equal(dm_lab_ghost(&o, &r), DM_OK);
    const size_t want[DM_LAB_GHOST_N][6] = {/* addressed, stanzas, receiver, ghost, flags, files */
                                            {2, 2, 3, 0, 0, 3},
                                            {3, 3, 3, 0, 3, 3},
                                            {2, 3, 3, 3, 3, 3}};
    for (int p = 0; p < DM_LAB_GHOST_N; p++) {
        const dm_lab_ghost_row *w = &r.rows[p];
        assert_int_equal(w->addressed, want[p][0]);
        assert_int_equal(w->stanzas, want[p][1]);
        assert_int_equal(w->receiver_opened, want[p][2]);
        assert_int_equal(w->ghost_opened, want[p][3]);
        assert_int_equal(w->counted_flags, want[p][4]);
        assert_int_equal(w->files, want[p][5]);
        assert_true(w->encrypt_seconds > 0);
    }
    assert_true(r.ghost_stanza_same_shape);
    /* The files on disk say the same, read back independently. */
    assert_int_equal(x25519_stanzas(dir, "honest/message-0003.age"), 2);
    assert_int_equal(x25519_stanzas(dir, "bcc/message-0003.age"), 3);
    assert_int_equal(x25519_stanzas(dir, "ghosted/message-0003.age"), 3);
    dm_identity *ghost = identity(dir, "ghost.key"), *rcv = identity(dir, "receiver.key");
    char *plain = NULL;
    assert_int_equal(open_file(dir, "ghosted/message-0002.age", ghost, &plain), DM_OK);
    assert_non_null(strstr(plain, "Message 2: "));
    free(plain);
    assert_int_equal(open_file(dir, "honest/message-0002.age", ghost, &plain), DM_ERR_NO_MATCH);
    assert_int_equal(open_file(dir, "bcc/message-0002.age", ghost, &plain), DM_ERR_NO_MATCH);
    assert_int_equal(open_file(dir, "ghosted/message-0001.age", rcv, &plain), DM_OK);
    size_t len;
    char *first = (char *)slurp(dir, "message-0001.txt", &len);
    assert_string_equal(plain, first);
    free(first);
    free(plain);
    dm_identity_free(ghost);
    dm_identity_free(rcv);
    assert_string_equal(r.sample[DM_LAB_GHOST_GHOSTED] + strlen(dir), "/ghosted/message-0001.age");
    o.files = 0;
    assert_int_equal(dm_lab_ghost(&o, &r), DM_ERR_USAGE);
}

static void test_subst(void **state) {
    const char *dir = *state;
    dm_lab_subst_opts o = {.files = 3, .dir = dir};
    dm_lab_subst_result r;
    assert_int_equal(dm_lab_subst(&o, &r), DM_OK);
    assert_int_equal(r.files, 3);
    assert_int_equal(r.attacker_opened, 3);
    assert_int_equal(r.genuine_opened, 0);
    assert_true(r.same_name);
    assert_string_not_equal(r.genuine_id, r.swapped_id);
    const size_t acc[DM_LAB_SUBST_N_RECEIVERS] = {3, 3, 0, 0, 0},
                 ref[DM_LAB_SUBST_N_RECEIVERS] = {0, 0, 3, 3, 3};
    for (int k = 0; k < DM_LAB_SUBST_N_RECEIVERS; k++) {
        assert_int_equal(r.accepted[k], acc[k]);
        assert_int_equal(r.refused[k], ref[k]);
    }
    assert_int_equal(r.pinned_exposed, 0);
    assert_int_equal(r.logged_exposed, 0);
    assert_true(r.genuine_in_log);
    /* The authorities on disk: same name, different ids. */
    char p[4096];
    dm_escrow_authority *gen = NULL, *sw = NULL, *att = NULL;
    snprintf(p, sizeof p, "%s/genuine/authority.pub", dir);
    assert_int_equal(dm_escrow_authority_load(p, &gen), DM_OK);
    snprintf(p, sizeof p, "%s/swapped.pub", dir);
    assert_int_equal(dm_escrow_authority_load(p, &sw), DM_OK);
    snprintf(p, sizeof p, "%s/attacker/authority.pub", dir);
    assert_int_equal(dm_escrow_authority_load(p, &att), DM_OK);
    assert_string_equal(dm_escrow_authority_name(sw), "FBI");
    assert_string_equal(dm_escrow_authority_name(gen), "FBI");
    assert_string_equal(dm_escrow_authority_id_hex(gen), r.genuine_id);
    assert_string_equal(dm_escrow_authority_id_hex(sw), r.swapped_id);
    assert_string_equal(dm_escrow_authority_id_hex(att), r.swapped_id);
    /* The pin. */
    assert_int_equal(dm_lab_authority_pinned(gen, r.genuine_id), DM_OK);
    assert_int_equal(dm_lab_authority_pinned(sw, r.genuine_id), DM_ERR_POLICY);
    assert_int_equal(dm_lab_authority_pinned(gen, "00"), DM_ERR_POLICY);
    /* The publication, from the files on disk: the genuine authority.pub is
     * the entry its receipt proves, under the log key and the witness; the
     * swapped one is not; a receipt with one byte of its proof changed fails. */
    size_t glen, slen, rlen, llen, wlen;
    char *gtext = (char *)slurp(dir, "genuine/authority.pub", &glen),
         *stext = (char *)slurp(dir, "swapped.pub", &slen),
         *receipt = (char *)slurp(dir, "genuine/authority.proof", &rlen),
         *lkey = (char *)slurp(dir, "log.vkey", &llen),
         *wkey = (char *)slurp(dir, "witness.vkey", &wlen);
    dm_tlog_verifier lv, wv;
    assert_int_equal(dm_tlog_verifier_parse(lkey, strcspn(lkey, "\n"), &lv), DM_OK);
    assert_int_equal(dm_tlog_verifier_parse(wkey, strcspn(wkey, "\n"), &wv), DM_OK);
    assert_int_equal(dm_lab_authority_published(gtext, glen, receipt, rlen, &lv, &wv), DM_OK);
    assert_int_equal(dm_lab_authority_published(stext, slen, receipt, rlen, &lv, &wv), DM_ERR_LOG);
    /* Another witness of the same name did not cosign it: not enough. */
    char *osk = NULL, *ovk = NULL;
    dm_tlog_verifier other;
    assert_int_equal(dm_tlog_key_generate("witness.example", DM_TLOG_SIG_COSIGNATURE, &osk, &ovk),
                     DM_OK);
    assert_int_equal(dm_tlog_verifier_parse(ovk, strlen(ovk), &other), DM_OK);
    assert_int_equal(dm_lab_authority_published(gtext, glen, receipt, rlen, &lv, &other),
                     DM_ERR_LOG);
    dm_secret_free(osk);
    free(ovk);
    char *cut = strstr(receipt, "\n\n");
    assert_non_null(cut);
    *cut = '\0'; /* the checkpoint gone */
    assert_int_not_equal(
        dm_lab_authority_published(gtext, glen, receipt, strlen(receipt), &lv, &wv), DM_OK);
    free(gtext);
    free(stext);
    free(receipt);
    free(lkey);
    free(wkey);
    /* The attacker's agents' key files open a file through the real unwrap:
     * the file's doj stanza belongs to the attacker's authority. */
    size_t len;
    uint8_t *file = slurp(dir, "files/message-0002.age", &len);
    dm_header hdr = {0};
    assert_int_equal(dm_header_parse(file, len, &hdr), DM_OK);
    dm_escrow_agent_key *doj = NULL, *vendor = NULL, *gdoj = NULL;
    snprintf(p, sizeof p, "%s/attacker/agents/doj.key", dir);
    assert_int_equal(dm_escrow_agent_key_load(att, p, &doj), DM_OK);
    snprintf(p, sizeof p, "%s/attacker/agents/vendor.key", dir);
    assert_int_equal(dm_escrow_agent_key_load(att, p, &vendor), DM_OK);
    snprintf(p, sizeof p, "%s/genuine/agents/doj.key", dir);
    assert_int_equal(dm_escrow_agent_key_load(gen, p, &gdoj), DM_OK);
    uint8_t fk[DM_FILE_KEY_LEN];
    dm_escrow_agent_key *two[2] = {doj, vendor};
    assert_int_equal(dm_lab_recover_with_keys(att, two, 2, &hdr, fk, NULL), DM_OK);
    assert_int_equal(dm_header_verify_mac(&hdr, fk), DM_OK);
    assert_int_equal(dm_lab_recover_with_keys(gen, &gdoj, 1, &hdr, fk, NULL), DM_ERR_NO_MATCH);
    dm_header_clear(&hdr);
    free(file);
    dm_escrow_agent_key_free(doj);
    dm_escrow_agent_key_free(vendor);
    dm_escrow_agent_key_free(gdoj);
    dm_escrow_authority_free(gen);
    dm_escrow_authority_free(sw);
    dm_escrow_authority_free(att);
}

static void test_clear(void **state) {
    const char *dir = *state;
    dm_lab_clear_opts o = {.devices = 5, .digits = 2, .dir = dir};
    dm_lab_clear_result r;
    assert_int_equal(dm_lab_clear(&o, &r), DM_OK);
    assert_int_equal(r.devices, 5);
    assert_int_equal(r.vendor_opened, 5);
    assert_int_equal(r.opened_by_vendor_key, 5);
    assert_int_equal(r.bricked, 5);
    /* Two-digit PINs may collide: device 1's passcode opens itself, maybe more. */
    assert_in_range(r.opened_by_one_passcode, 1, 5);
    assert_true(r.brute_found);
    assert_in_range(r.brute_tries, 1, 100);
    assert_true(r.device_kdf.ms_per_try > 0 && r.calibrated.ms_per_try > r.device_kdf.ms_per_try);
    assert_true(r.vendor_first_seconds > 0 && r.vendor_all_seconds >= r.vendor_first_seconds);
    /* The extrapolations follow from the measured rates. */
    const double try_s = r.calibrated.ms_per_try / 1000;
    assert_true(r.brute_one_worst > 99.99 * try_s && r.brute_one_worst < 100.01 * try_s);
    assert_true(r.brute_one_average * 2 == r.brute_one_worst);
    assert_true(r.brute_all_average == 5 * r.brute_one_average);
    assert_true(r.vendor_one_real == r.vendor_decrypt_seconds + try_s);
    assert_true(r.vendor_all_real == 5 * r.vendor_one_real);
    /* The escrowed passcode on disk opens with the vendor's key file. */
    dm_identity *vendor = identity(dir, "vendor.key");
    char *pin = NULL;
    assert_int_equal(open_file(dir, "devices/device-0005-passcode.age", vendor, &pin), DM_OK);
    assert_int_equal(strlen(pin), 2);
    assert_true(pin[0] >= '0' && pin[0] <= '9' && pin[1] >= '0' && pin[1] <= '9');
    free(pin);
    dm_identity_free(vendor);
    o.digits = 9;
    assert_int_equal(dm_lab_clear(&o, &r), DM_ERR_USAGE);
}

static void test_retro(void **state) {
    const char *dir = *state;
    dm_lab_retro_opts o = {.files = 3, .file_bytes = 70000, .dir = dir};
    dm_lab_retro_result r;
    assert_int_equal(dm_lab_retro(&o, &r), DM_OK);
    assert_int_equal(r.files, 3);
    assert_int_equal(r.authority_opened_before, 0);
    assert_int_equal(r.authority_opened_after, 3);
    assert_int_equal(r.user_opened_after, 3);
    assert_int_equal(r.compliant_after, 3);
    assert_true(r.payloads_identical);
    assert_true(r.seconds > 0 && r.files_per_second > 0);
    /* The bytes, read back from disk: every archived and escrowed file, the
     * new headers' sum, the payloads unchanged after the header. */
    uint64_t archive = 0, rewritten = 0, copied = 0;
    for (int f = 1; f <= 3; f++) {
        char a[64], e[64];
        snprintf(a, sizeof a, "archive/file-%04d.age", f);
        snprintf(e, sizeof e, "escrowed/file-%04d.age", f);
        size_t al, el;
        uint8_t *before = slurp(dir, a, &al), *after = slurp(dir, e, &el);
        dm_header hb = {0}, ha = {0};
        assert_int_equal(dm_header_parse(before, al, &hb), DM_OK);
        assert_int_equal(dm_header_parse(after, el, &ha), DM_OK);
        assert_int_equal(al - hb.len, el - ha.len);
        assert_memory_equal(before + hb.len, after + ha.len, al - hb.len);
        /* One X25519 stanza before; the user's and three escrow stanzas after. */
        assert_int_equal(hb.stanzas.len, 1);
        assert_int_equal(ha.stanzas.len, 4);
        assert_string_equal(ha.stanzas.items[1].type, DM_ESCROW_STANZA_TYPE);
        archive += al;
        rewritten += ha.len;
        copied += el - ha.len;
        dm_header_clear(&hb);
        dm_header_clear(&ha);
        free(before);
        free(after);
    }
    assert_int_equal(r.archive_bytes, archive);
    assert_int_equal(r.bytes_rewritten, rewritten);
    assert_int_equal(r.bytes_copied, copied);
    assert_true(rewritten < archive / 50);
    o.file_bytes = 0;
    assert_int_equal(dm_lab_retro(&o, &r), DM_ERR_USAGE);
}

static void test_volume(void **state) {
    (void)state;
    /* Ten latencies, shuffled: 10..100 ms. */
    const double lat[10] = {0.05, 0.01, 0.1, 0.03, 0.07, 0.02, 0.09, 0.04, 0.08, 0.06};
    dm_lab_volume_stats s;
    assert_int_equal(dm_lab_volume_compute(lat, 10, 2.0, &s), DM_OK);
    assert_int_equal(s.requests, 10);
    assert_true(s.releases_per_second == 5.0);
    assert_true(s.min_ms > 9.999 && s.min_ms < 10.001);
    assert_true(s.p50_ms > 49.999 && s.p50_ms < 50.001);
    assert_true(s.p90_ms > 89.999 && s.p90_ms < 90.001);
    assert_true(s.p99_ms > 99.999 && s.p99_ms < 100.001);
    assert_true(s.max_ms > 99.999 && s.max_ms < 100.001);
    /* The cited volumes, and the time at 5 releases a second. */
    assert_true(s.rows[0].per_year == 1200 && s.rows[0].cited);
    assert_true(s.rows[1].per_year == 2000 && s.rows[1].cited);
    assert_true(s.rows[2].per_year == 7800 && s.rows[2].cited);
    assert_false(s.rows[3].cited);
    assert_true(s.rows[2].service_seconds == 7800 / 5.0);
    assert_true(s.rows[2].share_of_year == 7800 / 5.0 / (365.25 * 86400));
    assert_int_equal(dm_lab_volume_compute(lat, 0, 2.0, &s), DM_ERR_USAGE);
    assert_int_equal(dm_lab_volume_compute(lat, 10, 0, &s), DM_ERR_USAGE);
}

static void test_insider(void **state) {
    const char *dir = *state;
    dm_lab_insider_opts o = {.files = 2, .dir = dir};
    dm_lab_insider_result *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(dm_lab_insider(&o, r), DM_OK);
    /* opened, monitor saw, log entries, per row */
    const size_t want[DM_LAB_INSIDER_N][3] = {
        {2, 0, 0}, {2, 2, 2}, {0, 0, 0}, {2, 0, 0}, {2, 2, 4}};
    for (int i = 0; i < DM_LAB_INSIDER_N; i++) {
        assert_int_equal(r->rows[i].accesses, 2);
        assert_int_equal(r->rows[i].opened, want[i][0]);
        assert_int_equal(r->rows[i].monitor_saw, want[i][1]);
        assert_int_equal(r->rows[i].log_entries, want[i][2]);
    }
    assert_string_equal(dm_lab_insider_path[DM_LAB_INSIDER_3_SERVICE], "service");
    /* The logs on disk, counted again: the 2-of-3 procedure's files are in
     * the doj and vendor logs, none of the key-file rows' files anywhere. */
    char logs[4096];
    bool seen[2] = {false, false};
    size_t entries = 0;
    snprintf(logs, sizeof logs, "%s/authority-2of3/logs/vendor", dir);
    assert_int_equal(dm_lab_monitor_count(logs,
                                          (const char(*)[2 * DM_FILE_ID_LEN + 1]) r->rows[4].ids, 2,
                                          seen, &entries),
                     DM_OK);
    assert_int_equal(entries, 2);
    assert_true(seen[0] && seen[1]);
    seen[0] = seen[1] = false;
    snprintf(logs, sizeof logs, "%s/authority-2of3/logs/court", dir);
    assert_int_equal(dm_lab_monitor_count(logs,
                                          (const char(*)[2 * DM_FILE_ID_LEN + 1]) r->rows[4].ids, 2,
                                          seen, &entries),
                     DM_OK);
    assert_int_equal(entries, 0);
    assert_false(seen[0] || seen[1]);
    snprintf(logs, sizeof logs, "%s/authority-1of1/logs/master", dir);
    assert_int_equal(dm_lab_monitor_count(logs,
                                          (const char(*)[2 * DM_FILE_ID_LEN + 1]) r->rows[0].ids, 2,
                                          seen, &entries),
                     DM_OK);
    assert_int_equal(entries, 2);
    assert_false(seen[0] || seen[1]);
    free(r);
    o.files = DM_LAB_INSIDER_MAX_FILES + 1;
    dm_lab_insider_result *r2 = malloc(sizeof *r2);
    assert_int_equal(dm_lab_insider(&o, r2), DM_ERR_USAGE);
    free(r2);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ghost, setup, lab_dir_remove),
    cmocka_unit_test_setup_teardown(test_subst, setup, lab_dir_remove),
    cmocka_unit_test_setup_teardown(test_clear, setup, lab_dir_remove),
    cmocka_unit_test_setup_teardown(test_retro, setup, lab_dir_remove),
    cmocka_unit_test(test_volume),
    cmocka_unit_test_setup_teardown(test_insider, setup, lab_dir_remove),
};

DM_UNIT_MAIN("labs_access", tests, NULL, NULL)
