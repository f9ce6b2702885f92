/* release.c: every release is an entry in the agent's transparency log,
 * cosigned by the authority's witnesses, with a receipt that recovery
 * checks; entries parse strictly; recovery passes over a wrong share signed
 * by a rogue agent and names it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>

#define FIU_ENABLE 1 /* fiu.h declares nothing without it */
#include <fiu-control.h>
#include <fiu.h>

#include "doormat/escrow.h"
#include "doormat/tlog.h"
#include "escrow_fixture.h"
#include "escrow_internal.h"
#include "escrow_lab.h"
#include "unit_main.h"

typedef struct world {
    char dir[64], logs[3][256], wstate[128];
    dm_escrow_authority *auth;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    dm_tlog_signer *witness;
    dm_header hdr;
    dm_membuf file;
    dm_escrow_warrant *w;
} world;

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/doormat-test-release.XXXXXX");
    if (!mkdtemp(w->dir) || authority_of_three("FBI", &w->auth, &w->keys, &w->court))
        return -1;
    char *sk, *vk;
    dm_tlog_verifier v;
    if (dm_tlog_key_generate("witness.example/w1", DM_TLOG_SIG_COSIGNATURE, &sk, &vk) ||
        dm_tlog_signer_parse(sk, strlen(sk), &w->witness) ||
        dm_tlog_verifier_parse(vk, strlen(vk), &v) ||
        dm_escrow_authority_set_witnesses(w->auth, w->keys, w->court, &v, 1, 1))
        return -1;
    dm_secret_free(sk);
    free(vk);
    char adir[128];
    snprintf(adir, sizeof adir, "%s/fbi", w->dir);
    if (dm_escrow_authority_write_dir(adir, w->auth, w->keys, w->court))
        return -1;
    for (int i = 0; i < 3; i++)
        snprintf(w->logs[i], sizeof w->logs[i], "%s/logs/%s", adir,
                 dm_escrow_authority_agent_name(w->auth, (size_t)i));
    snprintf(w->wstate, sizeof w->wstate, "%s/wstate", w->dir);
    if (mkdir(w->wstate, 0700))
        return -1;
    /* A file escrowed to the authority, and a warrant for it. */
    char *xs, *xp;
    dm_recipient *r;
    if (dm_x25519_keygen(&xs, &xp) || dm_x25519_recipient_parse(xp, &r))
        return -1;
    const char *msg = "the plans";
    dm_membuf in = {.data = (const uint8_t *)msg, .len = strlen(msg)};
    dm_encrypt_opts eo = {.threads = 1};
    if (dm_escrow_encrypt(dm_source_mem(&in), dm_sink_mem(&w->file), &r, 1, w->auth, NULL, &eo) ||
        dm_header_parse(w->file.buf, w->file.len, &w->hdr))
        return -1;
    dm_recipient_free(r);
    dm_secret_free(xs);
    free(xp);
    uint8_t id[DM_FILE_ID_LEN];
    char *wt;
    size_t wl;
    if (dm_escrow_file_id(w->auth, &w->hdr, id) ||
        dm_escrow_warrant_issue(w->auth, w->court, "SDNY 26-cr-42", NULL, "2999-12-31",
                                (const uint8_t(*)[DM_FILE_ID_LEN])id, 1, &wt, &wl) ||
        dm_escrow_warrant_parse(wt, wl, &w->w, NULL))
        return -1;
    free(wt);
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    int rc = system(cmd);
    dm_escrow_warrant_free(w->w);
    dm_header_clear(&w->hdr);
    free(w->file.buf);
    dm_tlog_signer_free(w->witness);
    authority_free_all(w->auth, w->keys, w->court);
    free(w);
    return rc == 0 ? 0 : -1;
}

/* The witness on a directory, as a cosigner; refuse makes it answer 503. */
typedef struct dir_witness {
    world *w;
    int refuse, calls;
    uint64_t clock; /* the witness's time, 0: the real one */
    int lie;        /* one bit of each cosignature's signature flipped */
} dir_witness;

static int witness_add(void *ctx, const char *body, size_t len, int *status, char **resp,
                       size_t *resp_len) {
    dir_witness *d = ctx;
    d->calls++;
    if (d->refuse) {
        *status = 503;
        *resp = strdup("down\n");
        *resp_len = 5;
        return DM_OK;
    }
    dm_tlog_verifier logs[3];
    for (size_t i = 0; i < 3; i++)
        logs[i] = *dm_escrow_authority_log_key(d->w->auth, i);
    int err = dm_tlog_witness_add_checkpoint(d->w->wstate, d->w->witness, logs, 3, body, len,
                                             d->clock ? d->clock : (uint64_t)time(NULL), status,
                                             resp, resp_len);
    if (err == DM_OK && d->lie && *status == 200) {
        /* "— NAME BASE64\n": the last base64 character before the newline
         * holds bits of the signature's last byte. */
        char *nl = strchr(*resp, '\n');
        assert_non_null(nl);
        nl[-2] = nl[-2] == 'A' ? 'B' : 'A';
    }
    return err;
}

static uint64_t log_size(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    FILE *f = fopen(path, "r");
    char line[300];
    unsigned long long n = 0;
    if (f && fgets(line, sizeof line, f) && fgets(line, sizeof line, f))
        n = strtoull(line, NULL, 10);
    if (f)
        fclose(f);
    return n;
}

static void test_release_with_witness(void **state) {
    world *w = *state;
    dir_witness d = {.w = w};
    dm_escrow_cosigner c = {.add_checkpoint = witness_add, .ctx = &d};
    dm_escrow_release_opts opts = {
        .log_dir = w->logs[0], .requester = "SA Jones", .cosigners = &c, .n_cosigners = 1};
    dm_escrow_share *s[3] = {0};
    time_t now = time(NULL);
    assert_int_equal(dm_escrow_release(w->auth, w->keys[0], w->w, &w->hdr, &opts, now, &s[0]),
                     DM_OK);
    assert_int_equal(log_size(w->logs[0]), 1);
    /* Its receipt checks out, and logs exactly this release. */
    dm_escrow_entry e;
    uint64_t index = 99;
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, s[0], &e, &index), DM_OK);
    assert_true(index == 0);
    assert_string_equal(e.agent, "doj");
    assert_string_equal(e.requester, "SA Jones");
    uint8_t cd[32];
    crypto_hash_sha256(cd, (const uint8_t *)"SDNY 26-cr-42", 13);
    assert_memory_equal(e.case_digest, cd, 32);
    assert_memory_equal(e.file_id, dm_escrow_share_file_id(s[0]), DM_FILE_ID_LEN);

    /* A second release by doj: the witness is asked from the size it has (409, then 200). */
    d.calls = 0;
    dm_escrow_share *again = NULL;
    assert_int_equal(dm_escrow_release(w->auth, w->keys[0], w->w, &w->hdr, &opts, now, &again),
                     DM_OK);
    assert_int_equal(d.calls, 2);
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, again, NULL, &index), DM_OK);
    assert_true(index == 1);
    dm_escrow_share_free(again);

    /* Without the witness's cosignature: logged, refused, no share. */
    d.refuse = 1;
    dm_escrow_share *none = NULL;
    opts.log_dir = w->logs[1];
    assert_int_equal(dm_escrow_release(w->auth, w->keys[1], w->w, &w->hdr, &opts, now, &none),
                     DM_ERR_LOG);
    assert_null(none);
    assert_non_null(strstr(dm_err_detail(), "0 of the witnesses cosigned"));
    assert_non_null(strstr(dm_err_detail(), "witness 1: refused (HTTP 503)"));
    assert_int_equal(log_size(w->logs[1]), 1);
    d.refuse = 0;
    assert_int_equal(dm_escrow_release(w->auth, w->keys[1], w->w, &w->hdr, &opts, now, &s[1]),
                     DM_OK);

    /* A receipt that does not verify: refused; a share without one: refused. */
    char *text;
    size_t len;
    assert_int_equal(dm_escrow_share_format(s[1], &text, &len), DM_OK);
    /* court's log holds the refused release (index 0) and this one (1);
     * one changed letter of the inclusion proof. */
    char *idx = strstr(text, "\nindex 1\n");
    assert_non_null(idx);
    idx[9] = idx[9] == 'A' ? 'B' : 'A';
    dm_escrow_share *edited;
    assert_int_equal(dm_escrow_share_parse(w->auth, text, len, &edited, NULL), DM_OK);
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, edited, NULL, NULL), DM_ERR_LOG);
    dm_escrow_share_free(edited);
    char *cut = strstr(text, "c2sp.org/tlog-proof@v1\n");
    assert_int_equal(dm_escrow_share_parse(w->auth, text, (size_t)(cut - text), &edited, NULL),
                     DM_OK);
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, edited, NULL, NULL), DM_ERR_LOG);
    assert_non_null(strstr(dm_err_detail(), "has no receipt"));
    dm_escrow_share_free(edited);
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, s[1], NULL, NULL), DM_OK);
    /* doj's receipt on court's share: it logs another release. */
    size_t rl;
    const char *doj_receipt = dm_escrow_share_receipt(s[0], &rl);
    dm_escrow_share *swapped;
    assert_int_equal(dm_escrow_share_parse(w->auth, text, (size_t)(cut - text), &swapped, NULL),
                     DM_OK);
    assert_int_equal(dm_escrow_share_set_receipt(swapped, doj_receipt, rl), DM_OK);
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, swapped, NULL, NULL), DM_ERR_LOG);
    assert_non_null(strstr(dm_err_detail(), "logs another release"));
    dm_escrow_share_free(swapped);
    dm_secret_free(text);

    uint8_t key[DM_FILE_KEY_LEN];
    assert_int_equal(dm_escrow_recover(w->auth, &w->hdr, s, 2, key), DM_OK);
    dm_escrow_share_free(s[0]);
    dm_escrow_share_free(s[1]);
}

/* Every file under dir, its size and its bytes' digest (malloc'd text): what
 * a call wrote, if anything, shows as a difference. */
static char *tree_state(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && find . -printf '%%y %%p %%s %%m\\n' | LC_ALL=C sort && "
             "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum",
             dir);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n;
    while ((n = fread(text + len, 1, cap - 1 - len, f)) > 0) {
        len += n;
        if (len == cap - 1) {
            cap *= 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
    }
    text[len] = '\0';
    assert_int_equal(pclose(f), 0);
    assert_true(len > 0);
    return text;
}

/* Closed by default: the installed API has no release without a log. NULL
 * opts are the defaults, and they name no log: DM_ERR_USAGE, no share, and
 * nothing written anywhere (no entry, no checkpoint, no file); likewise
 * opts without a log directory, and dm_escrow_unwrap without one. The
 * lab-only header's unlogged release is the one way to a share without an
 * entry, and it writes nothing either. */
static void test_release_needs_a_log(void **state) {
    world *w = *state;
    char *before = tree_state(w->dir);
    dir_witness d = {.w = w};
    dm_escrow_cosigner c = {.add_checkpoint = witness_add, .ctx = &d};
    dm_escrow_release_opts no_dir = {.requester = "SA Jones", .cosigners = &c, .n_cosigners = 1};
    time_t now = time(NULL);
    for (int i = 0; i < 3; i++) {
        dm_escrow_share *s = (dm_escrow_share *)&d; /* must be set to NULL */
        int err = i == 0   ? dm_escrow_release(w->auth, w->keys[0], w->w, &w->hdr, NULL, now, &s)
                  : i == 1 ? dm_escrow_release(w->auth, w->keys[0], w->w, &w->hdr, &no_dir, now, &s)
                           : dm_escrow_unwrap(w->auth, w->keys[0], w->w, &w->hdr, NULL, now, &s);
        assert_int_equal(err, DM_ERR_USAGE);
        assert_null(s);
    }
    assert_int_equal(d.calls, 0);
    /* Refused before the warrant is even looked at: a usage error. */
    dm_escrow_share *s = NULL;
    assert_int_equal(dm_escrow_release(w->auth, w->keys[0], NULL, NULL, NULL, now, &s),
                     DM_ERR_USAGE);
    assert_null(s);
    char *after = tree_state(w->dir);
    assert_string_equal(after, before);
    free(after);
    for (int i = 0; i < 3; i++)
        assert_int_equal(log_size(w->logs[i]), 0);

    /* The lab-only release: a share, no receipt, nothing written. */
    assert_int_equal(dm_escrow_release_unlogged(w->auth, w->keys[0], w->w, &w->hdr, now, &s),
                     DM_OK);
    assert_non_null(s);
    size_t rl = 1;
    assert_null(dm_escrow_share_receipt(s, &rl));
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, s, NULL, NULL), DM_ERR_LOG);
    dm_escrow_share_free(s);
    after = tree_state(w->dir);
    assert_string_equal(after, before);
    free(after);
    free(before);
}

/* A single release is a batch of one: its witnesses are asked in turn and
 * no more once the authority's threshold (here 1) of cosignatures is met. A
 * witness that is down after the threshold is never asked; one that is
 * down before it is asked, named nowhere, and the next one cosigns. */
static void test_single_release_stops_at_threshold(void **state) {
    world *w = *state;
    const char *name = dm_tlog_signer_verifier(w->witness)->name;
    dir_witness good = {.w = w}, down = {.w = w, .refuse = 1};
    dm_escrow_cosigner c[2] = {{.add_checkpoint = witness_add, .ctx = &good, .name = name},
                               {.add_checkpoint = witness_add, .ctx = &down}};
    dm_escrow_release_opts opts = {
        .log_dir = w->logs[0], .requester = "SA Jones", .cosigners = c, .n_cosigners = 2};
    dm_escrow_share *s = NULL;
    time_t now = time(NULL);
    assert_int_equal(dm_escrow_release(w->auth, w->keys[0], w->w, &w->hdr, &opts, now, &s), DM_OK);
    assert_int_equal(good.calls, 1);
    assert_int_equal(down.calls, 0);
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, s, NULL, NULL), DM_OK);
    dm_escrow_share_free(s);
    assert_int_equal(log_size(w->logs[0]), 1);

    /* The witness that is down first: asked once, then the good one. */
    good.calls = 0;
    c[0] = (dm_escrow_cosigner){.add_checkpoint = witness_add, .ctx = &down};
    c[1] = (dm_escrow_cosigner){.add_checkpoint = witness_add, .ctx = &good, .name = name};
    opts.log_dir = w->logs[1];
    s = NULL;
    assert_int_equal(dm_escrow_release(w->auth, w->keys[1], w->w, &w->hdr, &opts, now, &s), DM_OK);
    assert_int_equal(down.calls, 1);
    assert_int_equal(good.calls, 1);
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, s, NULL, NULL), DM_OK);
    dm_escrow_share_free(s);
    assert_int_equal(log_size(w->logs[1]), 1);
}

/* A rogue agent's share: signed by the agent, wrong value, given first. */
static void test_recover_survives_a_bad_share(void **state) {
    world *w = *state;
    dm_escrow_share *s[3];
    time_t now = time(NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dm_escrow_release_unlogged(w->auth, w->keys[i], w->w, &w->hdr, now, &s[i]),
                         DM_OK);
    /* Rewrite vendor's share value and sign it again with vendor's key. */
    char *text;
    size_t len;
    assert_int_equal(dm_escrow_share_format(s[2], &text, &len), DM_OK);
    char *v = strstr(text, "\nshare: ") + 8;
    v[0] = v[0] == 'A' ? 'B' : 'A';
    char *sig = strstr(text, "signature: ");
    uint8_t raw[64];
    char b64[100];
    assert_int_equal(dm_escrow_sign(w->keys[2]->sign_sk, "doormat/v1/escrow/share",
                                    (const uint8_t *)text, (size_t)(sig - text), raw),
                     DM_OK);
    assert_int_equal(dm_escrow_b64(raw, 64, b64, sizeof b64), DM_OK);
    char forged[2048];
    snprintf(forged, sizeof forged, "%.*ssignature: %s\n", (int)(sig - text), text, b64);
    dm_secret_free(text);
    dm_escrow_share *rogue;
    assert_int_equal(dm_escrow_share_parse(w->auth, forged, strlen(forged), &rogue, NULL), DM_OK);

    uint8_t key[DM_FILE_KEY_LEN], misfit[3];
    /* Rogue first, then doj: no 2 of them fit. */
    dm_escrow_share *two[2] = {rogue, s[0]};
    assert_int_equal(dm_escrow_recover_ex(w->auth, &w->hdr, two, 2, key, misfit), DM_ERR_HMAC);
    /* Rogue first, then doj and court: the others are tried; vendor is named. */
    dm_escrow_share *three[3] = {rogue, s[0], s[1]};
    assert_int_equal(dm_escrow_recover_ex(w->auth, &w->hdr, three, 3, key, misfit), DM_OK);
    assert_int_equal(dm_header_verify_mac(&w->hdr, key), DM_OK);
    assert_int_equal(misfit[0], 1);
    assert_int_equal(misfit[1], 0);
    assert_int_equal(misfit[2], 0);
    /* All three honest: nobody is named. */
    assert_int_equal(dm_escrow_recover_ex(w->auth, &w->hdr, s, 3, key, misfit), DM_OK);
    assert_int_equal(misfit[0] + misfit[1] + misfit[2], 0);
    dm_escrow_share_free(rogue);
    for (int i = 0; i < 3; i++)
        dm_escrow_share_free(s[i]);
}

/* The entries of a log are in time order: verifying with
 * dm_escrow_entry_in_order names an entry dated before the one before it. */
static int entries_in_order(void *ctx, uint64_t index, const uint8_t *entry, size_t len) {
    dm_escrow_entry e;
    int err = dm_escrow_entry_parse(entry, len, &e);
    return err != DM_OK ? err : dm_escrow_entry_in_order(&e, index, ctx);
}

static int verify_times(world *w, size_t agent) {
    char path[300], *text = NULL;
    snprintf(path, sizeof path, "%s/checkpoint", w->logs[agent]);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    text = calloc(1, 4096);
    size_t len = fread(text, 1, 4095, f);
    fclose(f);
    dm_tlog_checkpoint c;
    assert_int_equal(dm_tlog_checkpoint_open(text, len, dm_escrow_authority_log_key(w->auth, agent),
                                             NULL, 0, 0, &c),
                     DM_OK);
    free(text);
    char last[21] = "";
    return dm_tlog_verify_log(dm_tlog_dir_fetcher(w->logs[agent]), &c, entries_in_order, last);
}

static void test_backdated_entry(void **state) {
    world *w = *state;
    dir_witness d = {.w = w};
    dm_escrow_cosigner c = {.add_checkpoint = witness_add, .ctx = &d};
    dm_escrow_release_opts opts = {
        .log_dir = w->logs[2], .requester = "SA Jones", .cosigners = &c, .n_cosigners = 1};
    /* Within the warrant's dates: today (the warrant's issue date) and an hour on. */
    time_t now = time(NULL), later = now + 3600;
    char t_now[32], t_later[32], want[200];
    struct tm tm;
    strftime(t_now, sizeof t_now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    strftime(t_later, sizeof t_later, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&later, &tm));
    dm_escrow_share *s = NULL;
    /* The same second twice, then (concurrent releases) DM_ESCROW_ENTRY_SKEW
     * seconds earlier: in order. */
    time_t when[3] = {later, later, later - DM_ESCROW_ENTRY_SKEW};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dm_escrow_release(w->auth, w->keys[2], w->w, &w->hdr, &opts, when[i], &s),
                         DM_OK);
        dm_escrow_share_free(s);
        s = NULL;
    }
    assert_int_equal(verify_times(w, 2), DM_OK);
    /* One entry dated an hour earlier: the log itself is valid, its times are not. */
    assert_int_equal(dm_escrow_release(w->auth, w->keys[2], w->w, &w->hdr, &opts, now, &s), DM_OK);
    dm_escrow_share_free(s);
    assert_int_equal(verify_times(w, 2), DM_ERR_LOG);
    snprintf(want, sizeof want,
             "entry 3 is dated %s, more than 10 minutes before an entry before it (%s): the time "
             "went backwards (a backdated entry?)",
             t_now, t_later);
    assert_string_equal(dm_err_detail(), want);
}

static char *read_checkpoint_file(const char *dir, size_t *len) {
    char path[300];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = calloc(1, 4096);
    *len = fread(text, 1, 4095, f);
    fclose(f);
    return text;
}

/* The witnesses' clocks bound an entry's time: a checkpoint's cosignature
 * times are read back (the witness's own, not the agent's), and an entry
 * dated more than DM_ESCROW_WITNESS_SLACK before a cosignature of a tree
 * without it, or after one of a tree with it, is named, to the second. */
static void test_witness_time(void **state) {
    world *w = *state;
    size_t len = 0;
    /* The empty tree escrow init made: nobody cosigned it. */
    char *text = read_checkpoint_file(w->logs[1], &len);
    dm_escrow_witness_time lo, hi;
    assert_int_equal(dm_escrow_checkpoint_witness_times(w->auth, 1, text, len, &lo, &hi), DM_OK);
    assert_true(lo.time == 0 && hi.time == 0);
    free(text);
    /* A release at `now` whose witness's clock says two hours later. */
    time_t now = time(NULL);
    dir_witness d = {.w = w, .clock = (uint64_t)now + 7200};
    dm_escrow_cosigner c = {.add_checkpoint = witness_add, .ctx = &d};
    dm_escrow_release_opts opts = {.log_dir = w->logs[1], .cosigners = &c, .n_cosigners = 1};
    dm_escrow_share *s = NULL;
    assert_int_equal(dm_escrow_release(w->auth, w->keys[1], w->w, &w->hdr, &opts, now, &s), DM_OK);
    dm_escrow_share_free(s);
    text = read_checkpoint_file(w->logs[1], &len);
    assert_int_equal(dm_escrow_checkpoint_witness_times(w->auth, 1, text, len, &lo, &hi), DM_OK);
    assert_true(lo.time == (uint64_t)now + 7200 && hi.time == lo.time);
    assert_int_equal(lo.size, 1);
    assert_string_equal(lo.witness, "witness.example/w1");
    /* Another agent's checkpoint is not this log's. */
    assert_int_equal(dm_escrow_checkpoint_witness_times(w->auth, 0, text, len, &lo, NULL),
                     DM_ERR_LOG);
    /* The time is signed with the checkpoint: a cosignature whose time was
     * moved back an hour (its last byte of seconds changed) is refused. */
    char *line = strstr(text, "\n— witness.example/w1 ");
    assert_non_null(line);
    char *b64 = strrchr(line + 1, ' ') + 1;
    size_t b64_len = strcspn(b64, "\n");
    uint8_t raw[4 + 8 + 64];
    size_t raw_len = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof raw, b64, b64_len, NULL, &raw_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(raw_len, sizeof raw);
    uint64_t ts = 0;
    for (int i = 4; i < 12; i++)
        ts = ts << 8 | raw[i];
    assert_true(ts == (uint64_t)now + 7200);
    ts -= 3600;
    for (int i = 11; i >= 4; i--, ts >>= 8)
        raw[i] = (uint8_t)ts;
    char moved[sizeof raw * 2];
    sodium_bin2base64(moved, sizeof moved, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(strlen(moved), b64_len);
    memcpy(b64, moved, b64_len);
    assert_int_equal(dm_escrow_checkpoint_witness_times(w->auth, 1, text, len, &lo, &hi),
                     DM_ERR_LOG);
    assert_non_null(strstr(dm_err_detail(), "the signature of witness.example/w1"));
    free(text);

    dm_escrow_entry e = {0};
    struct tm tm;
    char wt[32], want[400];
    strftime(e.time, sizeof e.time, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    dm_escrow_witness_time at = {.size = 7};
    snprintf(at.witness, sizeof at.witness, "witness.example/w1");
    /* Unknown times bound nothing. */
    assert_int_equal(dm_escrow_entry_in_witness_time(&e, 7, NULL, NULL), DM_OK);
    assert_int_equal(dm_escrow_entry_in_witness_time(&e, 7, &at, &at), DM_OK);
    /* Cosigned without it up to the slack after its time: in order. */
    at.time = (uint64_t)now + DM_ESCROW_WITNESS_SLACK;
    assert_int_equal(dm_escrow_entry_in_witness_time(&e, 7, &at, NULL), DM_OK);
    at.time++;
    assert_int_equal(dm_escrow_entry_in_witness_time(&e, 7, &at, NULL), DM_ERR_LOG);
    time_t t = (time_t)at.time;
    strftime(wt, sizeof wt, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    snprintf(want, sizeof want,
             "entry 7 is dated %s, but witness witness.example/w1 cosigned the log at size 7, "
             "without it, at %s: the entry was backdated (the agent's clock was behind by more "
             "than 10 minutes)",
             e.time, wt);
    assert_string_equal(dm_err_detail(), want);
    /* Cosigned with it from the slack before its time on: in order. */
    at.size = 8;
    at.time = (uint64_t)now - DM_ESCROW_WITNESS_SLACK;
    assert_int_equal(dm_escrow_entry_in_witness_time(&e, 7, NULL, &at), DM_OK);
    at.time--;
    assert_int_equal(dm_escrow_entry_in_witness_time(&e, 7, NULL, &at), DM_ERR_LOG);
    t = (time_t)at.time;
    strftime(wt, sizeof wt, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    snprintf(want, sizeof want,
             "entry 7 is dated %s, but witness witness.example/w1 cosigned the log at size 8, "
             "with it, already at %s: the entry was postdated (the agent's clock was ahead by "
             "more than 10 minutes)",
             e.time, wt);
    assert_string_equal(dm_err_detail(), want);
}

/* The releaser of a serving agent on a disk that fails mid-batch: the
 * append that fills the first tile (entry 255) cannot write it (ENOSPC,
 * libfiu). That release gets the error and no share; so does every other
 * release of its batch, the one added before it included (no receipt); the
 * log on disk verifies at its last checkpoint (255 entries); the next batch
 * in the same releaser gets index 255 and crosses the tile boundary; a
 * release refused alone in its batch leaves no state behind; and a new
 * releaser opens the log at its size. Before the fix the failed append
 * left its hash counted and the next commit signed a tree that was not the
 * one on disk. */
/* "SA Jones 1", "SA Jones 2", ...: a requester per release. */
static const char *who(unsigned long *k) {
    static char buf[32];
    snprintf(buf, sizeof buf, "SA Jones %lu", ++*k);
    return buf;
}

static void test_releaser_disk_fault(void **state) {
    world *w = *state;
    unsigned long k = 0; /* each release for another requester: a new entry, not a retry */
    dir_witness d = {.w = w};
    dm_escrow_cosigner c = {.add_checkpoint = witness_add, .ctx = &d};
    dm_escrow_releaser *r = NULL;
    assert_int_equal(dm_escrow_releaser_open(w->auth, w->keys[1], w->logs[1], &r), DM_OK);
    time_t now = time(NULL);
    dm_escrow_share *s = NULL;
    uint64_t idx;
    for (uint64_t i = 0; i < 254; i++) {
        assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &s, &idx), DM_OK);
        assert_true(idx == i);
        dm_escrow_share_free(s);
    }
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    assert_true(dm_escrow_releaser_size(r) == 254);

    dm_escrow_share *first = NULL, *second = NULL, *third = NULL;
    uint64_t i1, i2, i3;
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &first, &i1), DM_OK);
    assert_true(i1 == 254);
    assert_int_equal(fiu_init(0), 0);
    /* (libfiu keeps a one-time point's name when it fires: enabled, then disabled.) */
    assert_int_equal(fiu_enable("doormat/log/entries/open", 1, (void *)(intptr_t)ENOSPC, 0), 0);
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &second, &i2),
                     DM_ERR_IO);
    assert_int_equal(fiu_disable("doormat/log/entries/open"), 0);
    assert_null(second);
    assert_non_null(strstr(dm_err_detail(), "No space left on device"));
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &third, &i3), DM_ERR_IO);
    assert_null(third);
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_ERR_IO);
    assert_int_not_equal(dm_escrow_release_receipt(r, first, i1), DM_OK);
    dm_escrow_share_free(first);
    assert_true(dm_escrow_releaser_size(r) == 254);
    assert_true(log_size(w->logs[1]) == 254);
    assert_int_equal(verify_times(w, 1), DM_OK);

    /* The fault has passed: the same releaser goes on from 254, across the tile. */
    dm_escrow_share *shares[6] = {0};
    uint64_t at[6];
    for (int j = 0; j < 6; j++) {
        assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &shares[j], &at[j]),
                         DM_OK);
        assert_true(at[j] == 254 + (uint64_t)j);
    }
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    for (int j = 0; j < 6; j++) {
        assert_int_equal(dm_escrow_release_receipt(r, shares[j], at[j]), DM_OK);
        dm_escrow_share_free(shares[j]);
    }
    assert_true(log_size(w->logs[1]) == 260);
    assert_int_equal(verify_times(w, 1), DM_OK);

    /* A release alone in its batch (no commit follows its refusal): at 511
     * the append that fills the second tile fails; the next release in the
     * same releaser is entry 511 all the same. */
    for (uint64_t i = 260; i < 511; i++) {
        assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &s, &idx), DM_OK);
        dm_escrow_share_free(s);
    }
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    assert_int_equal(fiu_enable("doormat/log/entries/open", 1, (void *)(intptr_t)EIO, 0), 0);
    s = NULL;
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &s, &idx), DM_ERR_IO);
    assert_int_equal(fiu_disable("doormat/log/entries/open"), 0);
    assert_null(s);
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, who(&k), now, &s, &idx), DM_OK);
    assert_true(idx == 511);
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    assert_int_equal(dm_escrow_release_receipt(r, s, idx), DM_OK);
    dm_escrow_share_free(s);
    assert_true(log_size(w->logs[1]) == 512);
    assert_int_equal(verify_times(w, 1), DM_OK);
    dm_escrow_releaser_free(r);
    assert_int_equal(dm_escrow_releaser_open(w->auth, w->keys[1], w->logs[1], &r), DM_OK);
    assert_true(dm_escrow_releaser_size(r) == 512);
    dm_escrow_releaser_free(r);
}

/* The one writer of new files: O_EXCL, the mode asked, fsynced; an existing
 * file is a usage error and is left as it was. */
static void test_write_new_file(void **state) {
    (void)state;
    char dir[] = "/tmp/doormat-test-write.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/f", dir);
    assert_int_equal(dm_write_new_file(path, "one\n", 4, 0600), DM_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(dm_write_new_file(path, "two, longer\n", 12, 0644), DM_ERR_USAGE);
    FILE *f = fopen(path, "rb");
    char got[16] = {0};
    assert_non_null(f);
    assert_int_equal(fread(got, 1, sizeof got, f), 4);
    fclose(f);
    assert_memory_equal(got, "one\n", 4);
    char missing[96];
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    assert_int_equal(dm_write_new_file(missing, "x", 1, 0600), DM_ERR_IO);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* escrow init that fails halfway (the second agent's log is already there)
 * removes what it made, the first agent's new log included, and leaves the
 * log it found alone. */
static void test_write_dir_undone(void **state) {
    (void)state;
    dm_escrow_authority *auth;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    assert_int_equal(authority_of_three("FBI", &auth, &keys, &court), DM_OK);
    char dir[] = "/tmp/doormat-test-undo.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[128], theirs[128];
    snprintf(p, sizeof p, "%s/logs", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/logs/court", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(theirs, sizeof theirs, "%s/logs/court/checkpoint", dir);
    assert_int_equal(dm_write_new_file(theirs, "theirs\n", 7, 0644), DM_OK);

    assert_int_equal(dm_escrow_authority_write_dir(dir, auth, keys, court), DM_ERR_USAGE);
    struct stat st;
    const char *gone[] = {"authority.pub", "court.key", "agents", "logs/doj"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, gone[i]);
        assert_int_equal(lstat(p, &st), -1);
    }
    assert_int_equal(stat(theirs, &st), 0);
    assert_int_equal(st.st_size, 7);

    assert_int_equal(unlink(theirs), 0);
    snprintf(p, sizeof p, "%s/logs/court", dir);
    assert_int_equal(rmdir(p), 0);
    snprintf(p, sizeof p, "%s/logs", dir);
    assert_int_equal(rmdir(p), 0);
    assert_int_equal(rmdir(dir), 0);
    authority_free_all(auth, keys, court);
}

static void test_entry_grammar(void **state) {
    (void)state;
    dm_escrow_entry e = {0};
    snprintf(e.time, sizeof e.time, "2026-11-29T18:00:00Z");
    snprintf(e.agent, sizeof e.agent, "doj");
    snprintf(e.requester, sizeof e.requester, "SA Jones");
    memset(e.file_id, 0xab, sizeof e.file_id);
    char *text;
    size_t len;
    assert_int_equal(dm_escrow_entry_format(&e, &text, &len), DM_OK);
    assert_string_equal(text, "doormat-escrow-release/v1\n"
                              "time: 2026-11-29T18:00:00Z\n"
                              "authority: 00000000000000000000000000000000\n"
                              "agent: doj\n"
                              "warrant: 0000000000000000000000000000000000000000000000000000000000"
                              "000000\n"
                              "case: 00000000000000000000000000000000000000000000000000000000000000"
                              "00\n"
                              "file: abababababababababababababababab\n"
                              "requester: SA Jones\n");
    dm_escrow_entry back;
    assert_int_equal(dm_escrow_entry_parse((const uint8_t *)text, len, &back), DM_OK);
    assert_memory_equal(&back, &e, sizeof e);
    /* cut short, a trailing line, a bad time, upper-case hex */
    assert_int_equal(dm_escrow_entry_parse((const uint8_t *)text, len - 1, &back), DM_ERR_USAGE);
    char *more = malloc(len + 8);
    memcpy(more, text, len);
    memcpy(more + len, "extra\n", 6);
    assert_int_equal(dm_escrow_entry_parse((const uint8_t *)more, len + 6, &back), DM_ERR_USAGE);
    free(more);
    char *t = strstr(text, "T18");
    t[1] = '2';
    t[2] = '5';
    assert_int_equal(dm_escrow_entry_parse((const uint8_t *)text, len, &back), DM_ERR_USAGE);
    t[1] = '1';
    t[2] = '8';
    char *f = strstr(text, "file: ab");
    f[6] = 'A';
    assert_int_equal(dm_escrow_entry_parse((const uint8_t *)text, len, &back), DM_ERR_USAGE);
    free(text);
    snprintf(e.requester, sizeof e.requester, "a\tb");
    assert_int_equal(dm_escrow_entry_format(&e, &text, &len), DM_ERR_USAGE);
}

/* A witness whose cosignature does not verify is named, with the reason,
 * and its line never reaches the checkpoint. */
static void test_lying_witness_named(void **state) {
    world *w = *state;
    dir_witness d = {.w = w, .lie = 1};
    const char *name = dm_tlog_signer_verifier(w->witness)->name;
    dm_escrow_cosigner c = {.add_checkpoint = witness_add, .ctx = &d, .name = name};
    dm_escrow_release_opts opts = {
        .log_dir = w->logs[0], .requester = "SA Jones", .cosigners = &c, .n_cosigners = 1};
    dm_escrow_share *s = NULL;
    assert_int_equal(dm_escrow_release(w->auth, w->keys[0], w->w, &w->hdr, &opts, time(NULL), &s),
                     DM_ERR_LOG);
    assert_null(s);
    char want[700];
    snprintf(want, sizeof want,
             "witness %s: returned a cosignature that does not verify (the signature of %s", name,
             name);
    assert_non_null(strstr(dm_err_detail(), want));
    assert_non_null(strstr(dm_err_detail(), "0 of the witnesses cosigned"));
    char path[300];
    snprintf(path, sizeof path, "%s/checkpoint", w->logs[0]);
    char *cp = NULL;
    size_t cp_len = 0;
    assert_int_equal(dm_escrow_read_file(path, false, &cp, &cp_len), DM_OK);
    assert_null(strstr(cp, name)); /* the bad line was not added */
    free(cp);
}

/* The same request (warrant, file, requester) gets its entry again, also
 * after the log is reopened; another requester gets a new one; the batch
 * releaser asks the witness once per checkpoint and never appends a
 * cosignature twice. */
static void test_retry_gets_its_entry(void **state) {
    world *w = *state;
    dir_witness d = {.w = w};
    dm_escrow_cosigner c = {.add_checkpoint = witness_add,
                            .ctx = &d,
                            .name = dm_tlog_signer_verifier(w->witness)->name};
    dm_escrow_releaser *r = NULL;
    assert_int_equal(dm_escrow_releaser_open(w->auth, w->keys[2], w->logs[2], &r), DM_OK);
    dm_escrow_share *s1 = NULL, *s2 = NULL, *s3 = NULL;
    uint64_t i1 = 99, i2 = 99, i3 = 99;
    time_t now = time(NULL);
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, "age1one", now, &s1, &i1), DM_OK);
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, "age1one", now + 5, &s2, &i2), DM_OK);
    assert_true(i1 == 0 && i2 == 0);
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    assert_int_equal(d.calls, 1);
    assert_true(dm_escrow_releaser_size(r) == 1);
    assert_int_equal(dm_escrow_release_receipt(r, s2, i2), DM_OK);
    /* Nothing new: no new checkpoint, no witness asked. */
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, "age1two", now, &s3, &i3), DM_OK);
    assert_true(i3 == 1);
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    dm_escrow_share_free(s1);
    dm_escrow_share_free(s2);
    dm_escrow_share_free(s3);
    dm_escrow_releaser_free(r);

    /* Reopened (an agent restarted): the retry still finds its entry, and
     * the checkpoint, cosigned already, is not cosigned again. */
    assert_int_equal(dm_escrow_releaser_open(w->auth, w->keys[2], w->logs[2], &r), DM_OK);
    d.calls = 0;
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    assert_int_equal(d.calls, 0);
    assert_int_equal(dm_escrow_release_add(r, w->w, &w->hdr, "age1one", now + 60, &s1, &i1), DM_OK);
    assert_true(i1 == 0);
    assert_int_equal(dm_escrow_release_commit(r, &c, 1), DM_OK);
    assert_true(dm_escrow_releaser_size(r) == 2);
    assert_int_equal(dm_escrow_release_receipt(r, s1, i1), DM_OK);
    dm_escrow_entry e;
    uint64_t idx = 99;
    assert_int_equal(dm_escrow_share_check_receipt(w->auth, s1, &e, &idx), DM_OK);
    assert_true(idx == 0);
    assert_string_equal(e.requester, "age1one");
    dm_escrow_share_free(s1);
    dm_escrow_releaser_free(r);
    char path[300];
    snprintf(path, sizeof path, "%s/checkpoint", w->logs[2]);
    char *cp = NULL;
    size_t cp_len = 0;
    assert_int_equal(dm_escrow_read_file(path, false, &cp, &cp_len), DM_OK);
    const char *name = dm_tlog_signer_verifier(w->witness)->name;
    int lines = 0; /* the witness's cosignature lines: one */
    for (const char *p = strstr(cp, name); p != NULL; p = strstr(p + 1, name))
        lines++;
    assert_int_equal(lines, 1);
    free(cp);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_entry_grammar),
    cmocka_unit_test(test_write_new_file),
    cmocka_unit_test(test_write_dir_undone),
    cmocka_unit_test_setup_teardown(test_release_with_witness, setup, teardown),
    cmocka_unit_test_setup_teardown(test_release_needs_a_log, setup, teardown),
    cmocka_unit_test_setup_teardown(test_single_release_stops_at_threshold, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lying_witness_named, setup, teardown),
    cmocka_unit_test_setup_teardown(test_retry_gets_its_entry, setup, teardown),
    cmocka_unit_test_setup_teardown(test_recover_survives_a_bad_share, setup, teardown),
    cmocka_unit_test_setup_teardown(test_backdated_entry, setup, teardown),
    cmocka_unit_test_setup_teardown(test_witness_time, setup, teardown),
    cmocka_unit_test_setup_teardown(test_releaser_disk_fault, setup, teardown),
};

DM_UNIT_MAIN("release", tests, NULL, NULL)
