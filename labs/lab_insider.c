/* insider: what the owner's monitor sees. The agents log every release in
 * their transparency logs (the code escrow serve runs, dm_escrow_release),
 * and the owner's monitor reads the logs. An insider at an agency either goes
 * through that procedure (a warrant, a logged release) or uses the agent's
 * key file directly; for a single-key authority and for 2 of 3 the lab counts
 * the files each opens and the ones the monitor sees. The log sees the
 * procedure, not the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab_internal.h"

const char *const dm_lab_insider_authority[DM_LAB_INSIDER_N] = {"1-of-1", "1-of-1", "2-of-3",
                                                                "2-of-3", "2-of-3"};
const char *const dm_lab_insider_path[DM_LAB_INSIDER_N] = {"key-file", "service", "key-file",
                                                           "two-key-files", "service"};

static const char *const agents3[] = {"doj", "court", "vendor"};

typedef struct authority {
    dm_escrow_authority *auth;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    char dir[4096];
} authority;

static void authority_free(authority *a) {
    dm_escrow_agent_keys_free(a->keys, a->auth ? dm_escrow_authority_agents(a->auth) : 0);
    dm_escrow_court_key_free(a->court);
    dm_escrow_authority_free(a->auth);
}

int dm_lab_monitor_count(const char *log_dir, const char (*want)[2 * DM_FILE_ID_LEN + 1],
                         size_t n_want, bool *seen, size_t *entries) {
    char path[4096];
    *entries = 0;
    int err = dm_lab_path(path, sizeof path, log_dir, "checkpoint");
    size_t len = 0;
    char *note_text = err ? NULL : dm_lab_read_file(path, &len);
    if (!err && !note_text)
        err = dm_fail(DM_ERR_IO, "%s: cannot read", path);
    dm_tlog_note *note = NULL;
    dm_tlog_checkpoint cp;
    dm_tlog_reader *rd = NULL;
    if (!err)
        err = dm_tlog_note_parse(note_text, len, &note);
    if (!err)
        err = dm_tlog_checkpoint_parse(note->text, note->text_len, &cp);
    if (!err && cp.size > 0)
        err = dm_tlog_reader_new(dm_tlog_dir_fetcher(log_dir), cp.size, &rd);
    for (uint64_t i = 0; !err && cp.size > 0 && i < cp.size; i++) {
        uint8_t *entry = NULL;
        size_t elen = 0;
        dm_escrow_entry e;
        err = dm_tlog_reader_entry(rd, i, &entry, &elen);
        if (!err)
            err = dm_escrow_entry_parse(entry, elen, &e);
        free(entry);
        if (err)
            break;
        char hex[2 * DM_FILE_ID_LEN + 1];
        for (size_t k = 0; k < DM_FILE_ID_LEN; k++)
            snprintf(hex + 2 * k, 3, "%02x", e.file_id[k]);
        for (size_t w = 0; w < n_want; w++)
            if (strcmp(hex, want[w]) == 0)
                seen[w] = true;
    }
    if (!err)
        *entries = (size_t)cp.size;
    dm_tlog_reader_free(rd);
    dm_tlog_note_free(note);
    free(note_text);
    return err;
}

/* Entries in all the authority's agents' logs, and which of ids they name. */
static int monitor(const authority *a, const char (*ids)[2 * DM_FILE_ID_LEN + 1], size_t n,
                   size_t *seen, size_t *entries) {
    bool flags[DM_LAB_INSIDER_MAX_FILES] = {0};
    *entries = 0;
    int err = DM_OK;
    for (size_t i = 0; i < dm_escrow_authority_agents(a->auth) && !err; i++) {
        char logs[4096], dir[4096];
        size_t e = 0;
        err = dm_lab_path(logs, sizeof logs, a->dir, "logs");
        if (!err)
            err = dm_lab_path(dir, sizeof dir, logs, dm_escrow_authority_agent_name(a->auth, i));
        if (!err)
            err = dm_lab_monitor_count(dir, ids, n, flags, &e);
        *entries += e;
    }
    *seen = 0;
    for (size_t i = 0; i < n; i++)
        *seen += flags[i];
    return err;
}

/* One access: the row's insider goes after one file. */
/* The procedure in process: each needed agent (the first and the last)
 * releases its share into its log, as escrow serve would. */
static int release_in_process(const authority *a, const char *warrant, size_t warrant_len,
                              const dm_header *hdr, uint8_t *fk) {
    dm_escrow_warrant *w = NULL;
    dm_escrow_share *shares[2] = {NULL, NULL};
    size_t k = dm_escrow_authority_threshold(a->auth);
    int err = dm_escrow_warrant_parse(warrant, warrant_len, &w, NULL);
    for (size_t i = 0; i < k && !err; i++) {
        size_t agent = i == 0 ? 0 : dm_escrow_authority_agents(a->auth) - 1;
        char logs[4096], dir[4096];
        err = dm_lab_path(logs, sizeof logs, a->dir, "logs");
        if (!err)
            err =
                dm_lab_path(dir, sizeof dir, logs, dm_escrow_authority_agent_name(a->auth, agent));
        dm_escrow_release_opts ro = {.log_dir = dir, .requester = "doormat lab insider"};
        if (!err)
            err = dm_escrow_release(a->auth, a->keys[agent], w, hdr, &ro, time(NULL), &shares[i]);
    }
    if (!err)
        err = dm_escrow_recover(a->auth, hdr, shares, k, fk);
    for (int i = 0; i < 2; i++)
        dm_escrow_share_free(shares[i]);
    dm_escrow_warrant_free(w);
    return err;
}

/* One access: the row's insider goes after one file. */
static int access_file(const authority *a, int row, const dm_lab_insider_opts *o,
                       const dm_membuf *file, const uint8_t *plain, size_t len, bool *opened) {
    *opened = false;
    dm_header hdr = {0};
    uint8_t *fk = dm_secret_alloc(DM_FILE_KEY_LEN);
    int err =
        fk ? dm_header_parse(file->buf, file->len, &hdr) : dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err && (row == DM_LAB_INSIDER_1_SERVICE || row == DM_LAB_INSIDER_3_SERVICE)) {
        /* The procedure: a warrant for this file, and the agents' logged releases. */
        uint8_t fid[DM_FILE_ID_LEN];
        char *warrant = NULL;
        size_t warrant_len = 0;
        err = dm_escrow_file_id(a->auth, &hdr, fid);
        if (!err)
            err = dm_escrow_warrant_issue(a->auth, a->court, "doormat lab insider", NULL,
                                          "2999-12-31", (const uint8_t(*)[DM_FILE_ID_LEN])fid, 1,
                                          &warrant, &warrant_len);
        if (!err)
            err = o->procedure ? o->procedure(o->procedure_ctx, a->dir, warrant, warrant_len,
                                              file->buf, file->len, fk)
                               : release_in_process(a, warrant, warrant_len, &hdr, fk);
        free(warrant);
    } else if (!err) {
        /* The key files, straight on the header: no warrant, no release. */
        size_t n = row == DM_LAB_INSIDER_3_KEYS ? 2 : 1;
        dm_escrow_agent_key *keys[2] = {a->keys[0],
                                        a->keys[dm_escrow_authority_agents(a->auth) - 1]};
        err = dm_lab_recover_with_keys(a->auth, keys, n, &hdr, fk, NULL);
    }
    if (!err)
        err = dm_lab_opens_to(file, fk, plain, len, "a file", opened);
    dm_secret_free(fk);
    dm_header_clear(&hdr);
    return dm_lab_refused(err) ? DM_OK : err;
}

int dm_lab_insider(const dm_lab_insider_opts *o, dm_lab_insider_result *r) {
    memset(r, 0, sizeof *r);
    if (o->files < 1 || o->files > DM_LAB_INSIDER_MAX_FILES)
        return dm_fail(DM_ERR_USAGE, "insider wants 1 to %d files", DM_LAB_INSIDER_MAX_FILES);
    r->files = o->files;
    authority au[2] = {{0}, {0}};
    char *sk = NULL, *pk = NULL;
    dm_recipient *rc = NULL;
    int err = dm_escrow_authority_new("Master", NULL, 0, 0, &au[0].auth, &au[0].keys, &au[0].court);
    if (!err)
        err = dm_escrow_authority_new("Agencies", agents3, 3, 2, &au[1].auth, &au[1].keys,
                                      &au[1].court);
    for (int i = 0; i < 2 && !err; i++) {
        err = dm_lab_path(au[i].dir, sizeof au[i].dir, o->dir,
                          i == 0 ? "authority-1of1" : "authority-2of3");
        if (!err)
            err = dm_escrow_authority_write_dir(au[i].dir, au[i].auth, au[i].keys, au[i].court);
    }
    if (!err)
        err = dm_lab_key_pair(o->dir, "user.key", &sk, &pk, &rc, NULL);
    if (!err)
        err = dm_lab_mkdir(o->dir, "files");
    for (int row = 0; row < DM_LAB_INSIDER_N && !err; row++) {
        dm_lab_insider_row *w = &r->rows[row];
        const authority *a = &au[row < DM_LAB_INSIDER_3_KEY ? 0 : 1];
        size_t before = 0, seen = 0;
        err = monitor(a, NULL, 0, &seen, &before);
        double t0 = dm_lab_now();
        for (unsigned f = 0; f < o->files && !err; f++) {
            char msg[96], name[96];
            snprintf(msg, sizeof msg, "The user's file %u, row %d (%s, %s).\n", f + 1, row,
                     dm_lab_insider_authority[row], dm_lab_insider_path[row]);
            dm_membuf file = {0};
            dm_header hdr = {0};
            uint8_t id[DM_FILE_ID_LEN];
            err = dm_lab_encrypt(&rc, 1, a->auth, NULL, (const uint8_t *)msg, strlen(msg), &file);
            if (!err)
                err = dm_header_parse(file.buf, file.len, &hdr);
            if (!err)
                err = dm_escrow_file_id(a->auth, &hdr, id);
            dm_header_clear(&hdr);
            for (size_t k = 0; !err && k < DM_FILE_ID_LEN; k++)
                snprintf(w->ids[f] + 2 * k, 3, "%02x", id[k]);
            snprintf(name, sizeof name, "files/%s-%s-%04u.age", dm_lab_insider_authority[row],
                     dm_lab_insider_path[row], f + 1);
            if (!err)
                err = dm_lab_write(o->dir, name, file.buf, file.len, 0644);
            bool opened = false;
            if (!err)
                err = access_file(a, row, o, &file, (const uint8_t *)msg, strlen(msg), &opened);
            w->accesses++;
            w->opened += opened;
            free(file.buf);
        }
        w->seconds = dm_lab_now() - t0;
        size_t after = 0;
        if (!err)
            err = monitor(a, (const char(*)[2 * DM_FILE_ID_LEN + 1]) w->ids, o->files,
                          &w->monitor_saw, &after);
        w->log_entries = after - before;
    }
    /* The lab's claims. */
    const size_t n = o->files;
    const dm_lab_insider_row *R = r->rows;
    if (!err &&
        !(R[DM_LAB_INSIDER_1_KEY].opened == n && R[DM_LAB_INSIDER_1_KEY].monitor_saw == 0 &&
          R[DM_LAB_INSIDER_1_KEY].log_entries == 0 && R[DM_LAB_INSIDER_1_SERVICE].opened == n &&
          R[DM_LAB_INSIDER_1_SERVICE].monitor_saw == n &&
          R[DM_LAB_INSIDER_1_SERVICE].log_entries == n && R[DM_LAB_INSIDER_3_KEY].opened == 0 &&
          R[DM_LAB_INSIDER_3_KEY].log_entries == 0 && R[DM_LAB_INSIDER_3_KEYS].opened == n &&
          R[DM_LAB_INSIDER_3_KEYS].monitor_saw == 0 && R[DM_LAB_INSIDER_3_KEYS].log_entries == 0 &&
          R[DM_LAB_INSIDER_3_SERVICE].opened == n && R[DM_LAB_INSIDER_3_SERVICE].monitor_saw == n &&
          R[DM_LAB_INSIDER_3_SERVICE].log_entries == 2 * n))
        err = dm_fail(DM_ERR_INTERNAL, "the insider lab's outcomes are not what it claims");
    dm_recipient_free(rc);
    dm_secret_free(sk);
    free(pk);
    authority_free(&au[0]);
    authority_free(&au[1]);
    return err;
}
