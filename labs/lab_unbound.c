/* unbound-id: the header-swap attack (issue 18), against the old binding and
 * the new one. A requester rebuilds the owner's escrowed file without the
 * owner's X25519 stanza (escrow stanzas and MAC line copied): a new header,
 * a new header hash. The court signs a warrant for that hash (it only ever
 * sees ids); two of three agents are asked.
 *
 * The old binding is the agent as doormat ran it before v2 stanzas, kept
 * here and nowhere else: it named a release by the SHA-256 of the header it
 * was sent (warrant check and log entry), and opened its stanza whatever that
 * header said. The new binding is the library's own release code
 * (dm_escrow_release): the stanza's seal binds the id derived from the file
 * key, and the agent names the release by that id alone. In both cases the
 * owner's monitor reads the agents' logs for the file it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lab_internal.h"

const char *const dm_lab_unbound_binding[DM_LAB_UNBOUND_N] = {"header-hash", "file-key"};

static const char *const agents3[] = {"doj", "court", "vendor"};
static const char message[] = "g.age: the owner's letter, escrowed to the FBI.\n";

static void hex_of(const uint8_t id[DM_FILE_ID_LEN], char out[2 * DM_FILE_ID_LEN + 1]) {
    sodium_bin2hex(out, 2 * DM_FILE_ID_LEN + 1, id, DM_FILE_ID_LEN);
}

/* The agent before v2, for the lab only: the file is whatever the sent
 * header hashes to. Checks the warrant against that hash, opens its stanza,
 * and logs the release under the hash, in its log at log_dir. */
static int old_agent_release(const dm_escrow_authority *auth, const dm_escrow_agent_key *key,
                             size_t agent, const dm_escrow_warrant *w, const dm_header *sent,
                             const char *log_dir, uint8_t share[DM_FILE_KEY_LEN], unsigned *x) {
    uint8_t id[DM_FILE_ID_LEN];
    int err = dm_header_file_id(sent, id);
    time_t now = time(NULL);
    if (!err)
        err = dm_escrow_warrant_check(w, auth, id, now);
    if (!err)
        err = dm_escrow_agent_open(auth, key, sent, share, x);
    dm_escrow_entry e = {0};
    struct tm tm;
    if (!err &&
        (!gmtime_r(&now, &tm) || strftime(e.time, sizeof e.time, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20))
        err = dm_fail(DM_ERR_INTERNAL, "cannot format the time");
    char *entry = NULL;
    size_t len = 0;
    if (!err) {
        memcpy(e.authority_id, dm_escrow_authority_id(auth), DM_ESCROW_ID_LEN);
        snprintf(e.agent, sizeof e.agent, "%s", dm_escrow_authority_agent_name(auth, agent));
        dm_escrow_warrant_digest(w, e.warrant);
        const char *c = dm_escrow_warrant_case(w);
        crypto_hash_sha256(e.case_digest, (const uint8_t *)c, strlen(c));
        memcpy(e.file_id, id, DM_FILE_ID_LEN);
        snprintf(e.requester, sizeof e.requester, "doormat lab unbound-id");
        err = dm_escrow_entry_format(&e, &entry, &len);
    }
    dm_tlog_signer *signer = NULL;
    dm_tlog_log *l = NULL;
    uint64_t index = 0;
    if (!err)
        err = dm_escrow_agent_log_signer(key, auth, &signer);
    if (!err)
        err = dm_tlog_log_open(log_dir, signer, &l);
    if (!err)
        err = dm_tlog_log_append(l, (const uint8_t *)entry, len, &index);
    if (!err)
        err = dm_tlog_log_commit(l);
    dm_tlog_log_free(l);
    dm_tlog_signer_free(signer);
    free(entry);
    if (err)
        sodium_memzero(share, DM_FILE_KEY_LEN);
    return err;
}

/* A fresh log for each agent under DIR/NAME/AGENT. */
static int make_logs(const dm_escrow_authority *auth, dm_escrow_agent_key *const *keys,
                     const char *dir, const char *name, char (*paths)[4096]) {
    char root[4096];
    int err = dm_lab_mkdir(dir, name);
    if (!err)
        err = dm_lab_path(root, sizeof root, dir, name);
    for (size_t i = 0; i < 3 && !err; i++) {
        dm_tlog_signer *signer = NULL;
        err = dm_lab_mkdir(root, agents3[i]);
        if (!err)
            err = dm_lab_path(paths[i], sizeof paths[i], root, agents3[i]);
        if (!err)
            err = dm_escrow_agent_log_signer(keys[i], auth, &signer);
        if (!err)
            err = dm_tlog_log_create(paths[i], signer);
        dm_tlog_signer_free(signer);
    }
    return err;
}

/* The owner's monitor over the three logs: entries, and those naming want. */
static int monitor(char (*logs)[4096], const char want[2 * DM_FILE_ID_LEN + 1], size_t *entries,
                   size_t *seen) {
    *entries = *seen = 0;
    int err = DM_OK;
    for (size_t i = 0; i < 3 && !err; i++) {
        bool hit = false;
        size_t n = 0;
        err = dm_lab_monitor_count(logs[i], (const char(*)[2 * DM_FILE_ID_LEN + 1]) want, 1, &hit,
                                   &n);
        *entries += n;
        *seen += hit;
    }
    return err;
}

static int issue(const dm_escrow_authority *auth, const dm_escrow_court_key *court,
                 const uint8_t id[DM_FILE_ID_LEN], dm_escrow_warrant **out) {
    char *text = NULL;
    size_t len = 0;
    int err = dm_escrow_warrant_issue(auth, court, "doormat lab unbound-id", NULL, "2999-12-31",
                                      (const uint8_t(*)[DM_FILE_ID_LEN])id, 1, &text, &len);
    if (!err)
        err = dm_escrow_warrant_parse(text, len, out, NULL);
    free(text);
    return err;
}

/* Whether the combined shares open the owner's file. */
static int opens(const dm_escrow_authority *auth, const dm_header *hdr, const dm_membuf *file,
                 const uint8_t *xs, const uint8_t *const *ys, bool *opened) {
    uint8_t *key = dm_secret_alloc(DM_FILE_KEY_LEN);
    if (!key)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    uint8_t *plain = NULL;
    size_t plen = 0;
    *opened = dm_escrow_combine(auth, hdr, xs, ys, 2, key, NULL) == DM_OK &&
              dm_lab_decrypt_with_key(file->buf, file->len, key, &plain, &plen) == DM_OK &&
              dm_lab_same(plain, plen, (const uint8_t *)message, sizeof message - 1);
    free(plain);
    dm_secret_free(key);
    return DM_OK;
}

int dm_lab_unbound(const char *dir, dm_lab_unbound_result *r) {
    memset(r, 0, sizeof *r);
    dm_lab_cast L = {0};
    dm_membuf file = {0};
    dm_header hdr = {0}, swap = {0};
    dm_escrow_warrant *w_swap = NULL, *w_bound = NULL;
    char old_logs[3][4096], new_logs[3][4096];
    int err = dm_escrow_authority_new("FBI", agents3, 3, 2, &L.auth, &L.keys, &L.court);
    char adir[4096];
    if (!err)
        err = dm_lab_path(adir, sizeof adir, dir, "authority");
    if (!err)
        err = dm_escrow_authority_write_dir(adir, L.auth, L.keys, L.court);
    if (!err)
        err = dm_lab_cast_user(&L, dir, message, sizeof message - 1);
    if (!err)
        err = dm_lab_encrypt(&L.rcpt, 1, L.auth, NULL, (const uint8_t *)message, sizeof message - 1,
                             &file);
    if (!err)
        err = dm_lab_write(dir, "g.age", file.buf, file.len, 0644);
    if (!err)
        err = dm_header_parse(file.buf, file.len, &hdr);
    /* The requester's rebuild: the escrow stanzas and the MAC line alone. */
    for (size_t i = 0; i < hdr.stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr.stanzas.items[i];
        if (dm_escrow_stanza_is_for(st, L.auth))
            err = dm_stanza_list_add(&swap.stanzas, st->type, (const char *const *)st->args,
                                     st->nargs, st->body, st->body_len);
    }
    memcpy(swap.mac, hdr.mac, DM_MAC_LEN);
    uint8_t header_id[DM_FILE_ID_LEN], swapped_id[DM_FILE_ID_LEN], escrow_id[DM_FILE_ID_LEN];
    if (!err)
        err = dm_header_file_id(&hdr, header_id);
    if (!err)
        err = dm_header_file_id(&swap, swapped_id);
    if (!err)
        err = dm_escrow_file_id(L.auth, &hdr, escrow_id);
    hex_of(header_id, r->header_id);
    hex_of(swapped_id, r->swapped_id);
    hex_of(escrow_id, r->escrow_id);
    /* The court signs what it is shown: the rebuilt header's id. */
    if (!err)
        err = issue(L.auth, L.court, swapped_id, &w_swap);
    if (!err)
        err = make_logs(L.auth, L.keys, dir, "logs-header-hash", old_logs);
    if (!err)
        err = dm_lab_path(new_logs[0], sizeof new_logs[0], adir, "logs/doj");
    if (!err)
        err = dm_lab_path(new_logs[1], sizeof new_logs[1], adir, "logs/court");
    if (!err)
        err = dm_lab_path(new_logs[2], sizeof new_logs[2], adir, "logs/vendor");

    /* Each binding, the same requester: doj and court under the swapped warrant. */
    struct {
        uint8_t ys[2][DM_FILE_KEY_LEN];
    } *s = err ? NULL : dm_secret_alloc(sizeof *s);
    if (!err && !s)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    for (int b = 0; b < DM_LAB_UNBOUND_N && !err; b++) {
        dm_lab_unbound_row *row = &r->rows[b];
        uint8_t xs[2];
        const uint8_t *ys[2] = {s->ys[0], s->ys[1]};
        row->answer = DM_OK;
        for (size_t i = 0; i < 2 && !err; i++) {
            int e;
            unsigned x = 0;
            if (b == DM_LAB_UNBOUND_OLD) {
                e = old_agent_release(L.auth, L.keys[i], i, w_swap, &swap, old_logs[i], s->ys[i],
                                      &x);
            } else {
                dm_escrow_share *sh = NULL;
                dm_escrow_release_opts ro = {.log_dir = new_logs[i],
                                             .requester = "doormat lab unbound-id"};
                e = dm_escrow_release(L.auth, L.keys[i], w_swap, &swap, &ro, time(NULL), &sh);
                if (e == DM_OK) {
                    e = dm_lab_share_value(sh, s->ys[i]);
                    x = (unsigned)i + 1;
                    hex_of(dm_escrow_share_file_id(sh), row->logged_id);
                }
                dm_escrow_share_free(sh);
            }
            if (e == DM_OK) {
                xs[row->released++] = (uint8_t)x;
                if (b == DM_LAB_UNBOUND_OLD)
                    memcpy(row->logged_id, r->swapped_id, sizeof row->logged_id);
            } else if (e == DM_ERR_DENIED || e == DM_ERR_NO_MATCH) {
                row->answer = e;
                snprintf(row->reason, sizeof row->reason, "%s", dm_err_detail());
            } else {
                err = e;
            }
        }
        if (!err && row->released == 2)
            err = opens(L.auth, &hdr, &file, xs, ys, &row->opened);
        /* The owner's monitor looks for g.age as its binding names it. */
        if (!err)
            err = monitor(b == DM_LAB_UNBOUND_OLD ? old_logs : new_logs,
                          b == DM_LAB_UNBOUND_OLD ? r->header_id : r->escrow_id, &row->log_entries,
                          &row->monitor_saw);
    }
    /* The new binding, with a warrant for the id the stanzas bind: released,
     * and seen. */
    if (!err)
        err = issue(L.auth, L.court, escrow_id, &w_bound);
    for (size_t i = 0; i < 2 && !err; i++) {
        dm_escrow_share *sh = NULL;
        dm_escrow_release_opts ro = {.log_dir = new_logs[i], .requester = "doormat lab unbound-id"};
        err = dm_escrow_release(L.auth, L.keys[i], w_bound, &swap, &ro, time(NULL), &sh);
        if (!err)
            err = dm_lab_share_value(sh, s->ys[i]);
        dm_escrow_share_free(sh);
        r->bound_released += err == DM_OK;
    }
    if (!err) {
        const uint8_t xs[2] = {1, 2}, *ys[2] = {s->ys[0], s->ys[1]};
        err = opens(L.auth, &hdr, &file, xs, ys, &r->bound_opened);
    }
    size_t entries = 0;
    if (!err)
        err = monitor(new_logs, r->escrow_id, &entries, &r->bound_monitor_saw);
    /* The lab's claims, checked. */
    const dm_lab_unbound_row *o = &r->rows[DM_LAB_UNBOUND_OLD], *n = &r->rows[DM_LAB_UNBOUND_NEW];
    if (!err && !(o->released == 2 && o->opened && o->monitor_saw == 0 && o->log_entries == 2 &&
                  n->released == 0 && n->answer == DM_ERR_DENIED && n->log_entries == 0 &&
                  r->bound_released == 2 && r->bound_opened && r->bound_monitor_saw == 2))
        err = dm_fail(DM_ERR_INTERNAL, "the unbound-id lab's outcomes are not what it claims");
    dm_secret_free(s);
    dm_escrow_warrant_free(w_swap);
    dm_escrow_warrant_free(w_bound);
    dm_header_clear(&swap);
    dm_header_clear(&hdr);
    free(file.buf);
    dm_lab_cast_free(&L);
    return err;
}
