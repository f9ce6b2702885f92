/* Releases in batches for a long-running agent (doormat escrow serve).
 *
 * dm_escrow_release opens, locks and reads back its log for every release,
 * commits, and asks the witnesses: right for a command run by hand, and one
 * fsync and a round of cosignatures per share. An agent that answers many
 * requests at once keeps its log open instead and lets one commit cover all
 * the releases that arrived together. Each release is still exactly
 * dm_escrow_release's: the same check (dm_escrow_share_prepare), the same
 * entry (dm_escrow_release_entry), durable and cosigned before its receipt
 * exists, and the receipt is what recovery checks.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escrow_internal.h"

typedef struct pending_entry {
    uint64_t index;
    char *text;
    size_t len;
} pending_entry;

struct dm_escrow_releaser {
    const dm_escrow_authority *auth;
    const dm_escrow_agent_key *agent;
    char *dir;
    dm_tlog_signer *signer;
    dm_tlog_log *log;
    pending_entry *pending; /* entries added since the last commit, and those of it */
    size_t n_pending, cap_pending;
    int committed; /* the pending entries are durable and cosigned */
    int failed;    /* an append of this batch failed: the batch is refused whole */
    char why[400]; /* and why */
    uint64_t size; /* the committed size when log is NULL (it did not reopen) */
    uint64_t known[DM_ESCROW_MAX_WITNESSES]; /* the size each cosigner has */
};

static void drop_pending(dm_escrow_releaser *r) {
    for (size_t i = 0; i < r->n_pending; i++)
        free(r->pending[i].text);
    r->n_pending = 0;
    r->committed = 0;
    r->failed = 0;
}

/* After any failed write the log is read again from its directory: what
 * this process goes on from is what the last signed checkpoint there says,
 * whatever the failure left in memory. A log that does not open now is
 * opened again by the next release. */
static int reopen(dm_escrow_releaser *r) {
    if (r->log)
        r->size = dm_tlog_log_size(r->log);
    dm_tlog_log_close(r->log);
    r->log = NULL;
    return dm_tlog_log_open(r->dir, r->signer, &r->log);
}

/* Reads the whole log back from its directory and checks it against its
 * signed checkpoint. */
static int verify_whole(dm_escrow_releaser *r) {
    const char *cp = dm_tlog_log_checkpoint(r->log);
    int idx = dm_escrow_authority_find_agent(r->auth, r->agent->name);
    dm_tlog_checkpoint c;
    int err = idx < 0 ? dm_fail(DM_ERR_USAGE, "agent %s is not in the authority", r->agent->name)
                      : dm_tlog_checkpoint_open(cp, strlen(cp), &r->auth->agents[idx].log, NULL, 0,
                                                0, &c);
    if (!err)
        err = dm_tlog_verify_log(dm_tlog_dir_fetcher(r->dir), &c, NULL, NULL);
    if (err) {
        char d[400];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        return dm_fail(DM_ERR_LOG, "the log %s does not verify: %s", r->dir, d);
    }
    return DM_OK;
}

int dm_escrow_releaser_open(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                            const char *log_dir, dm_escrow_releaser **out) {
    *out = NULL;
    dm_escrow_releaser *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(log_dir))) {
        free(r);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    r->auth = auth;
    r->agent = agent;
    int err = dm_escrow_agent_log_signer(agent, auth, &r->signer);
    if (!err)
        err = dm_tlog_log_open(log_dir, r->signer, &r->log);
    if (!err)
        err = verify_whole(r);
    if (err) {
        dm_escrow_releaser_close(r);
        return err;
    }
    *out = r;
    return DM_OK;
}

void dm_escrow_releaser_close(dm_escrow_releaser *r) {
    if (!r)
        return;
    drop_pending(r);
    free(r->pending);
    dm_tlog_log_close(r->log);
    dm_tlog_signer_free(r->signer);
    free(r->dir);
    free(r);
}

uint64_t dm_escrow_releaser_size(const dm_escrow_releaser *r) {
    return r->log ? dm_tlog_log_size(r->log) : r->size;
}

int dm_escrow_release_add(dm_escrow_releaser *r, const dm_escrow_warrant *w, const dm_header *hdr,
                          const char *requester, time_t now, dm_escrow_share **share,
                          uint64_t *index) {
    *share = NULL;
    if (r->committed)
        drop_pending(r); /* the last batch is answered: a new one begins */
    if (r->failed)
        return dm_fail(DM_ERR_IO, "%s", r->why);
    if (r->log == NULL) {
        int err = reopen(r);
        if (err) {
            char d[300];
            snprintf(d, sizeof d, "%s", dm_err_detail());
            return dm_fail(DM_ERR_IO, "the log does not open (%s): nothing is released", d);
        }
    }
    if (r->n_pending == r->cap_pending) {
        size_t cap = r->cap_pending ? 2 * r->cap_pending : 64;
        pending_entry *p = realloc(r->pending, cap * sizeof *p);
        if (!p)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        r->pending = p;
        r->cap_pending = cap;
    }
    dm_escrow_share *s = NULL;
    char *entry = NULL;
    size_t len = 0;
    int err = dm_escrow_share_prepare(r->auth, r->agent, w, hdr, now, &s);
    if (!err)
        err = dm_escrow_release_entry(r->auth, r->agent, w, s, requester, now, &entry, &len);
    if (!err) {
        err = dm_tlog_log_append(r->log, (const uint8_t *)entry, len, index);
        if (err == DM_ERR_IO) {
            /* The disk failed under this batch: none of it is released. With
             * releases of it pending, the commit that answers them refuses
             * them and reopens the log; with none, no commit may follow, so
             * the log is reopened now. */
            char d[300];
            snprintf(d, sizeof d, "%s", dm_err_detail());
            snprintf(r->why, sizeof r->why, "the log cannot be written (%s): nothing is released",
                     d);
            if (r->n_pending > 0)
                r->failed = 1;
            else
                reopen(r); /* one that fails is tried again by the next release */
            err = dm_fail(DM_ERR_IO, "%s", r->why);
        }
    }
    if (err) {
        free(entry);
        dm_escrow_share_free(s);
        return err;
    }
    r->pending[r->n_pending++] = (pending_entry){.index = *index, .text = entry, .len = len};
    *share = s;
    return DM_OK;
}

int dm_escrow_release_commit(dm_escrow_releaser *r, const dm_escrow_cosigner *cosigners,
                             size_t n_cosigners) {
    if (r->failed) {
        char d[400];
        snprintf(d, sizeof d, "%s", r->why);
        drop_pending(r);
        int again = reopen(r);
        return dm_fail(DM_ERR_IO, "%s%s", d, again ? "; the log does not reopen either" : "");
    }
    if (r->log == NULL) {
        drop_pending(r);
        if (reopen(r) != DM_OK)
            return dm_fail(DM_ERR_IO, "the log does not open: nothing is released");
    }
    int err = dm_tlog_log_commit(r->log);
    if (err) {
        /* What was appended is not durable: reopen on what is, and drop it. */
        char d[400];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        drop_pending(r);
        int again = reopen(r);
        return dm_fail(DM_ERR_IO, "the log cannot be written (%s): nothing is released%s", d,
                       again ? "; the log does not reopen either" : "");
    }
    const dm_escrow_authority *auth = r->auth;
    uint8_t ok[DM_ESCROW_MAX_WITNESSES] = {0};
    dm_escrow_buf lines = {0};
    char why[200] = "";
    unsigned have = 0;
    for (size_t i = 0; !err && i < n_cosigners && have < auth->witness_threshold; i++) {
        char one[200] = "";
        err = dm_escrow_ask_witness(auth, r->log, &cosigners[i], &lines, ok, one, sizeof one,
                                    i < DM_ESCROW_MAX_WITNESSES ? &r->known[i] : NULL);
        if (one[0] && !why[0])
            snprintf(why, sizeof why, "%s", one);
        have = 0;
        for (size_t k = 0; k < auth->n_witnesses; k++)
            have += ok[k];
    }
    if (!err && lines.failed)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err && lines.len > 0) {
        err = dm_tlog_log_add_cosignatures(r->log, lines.data, lines.len);
        if (err) {
            char d[400];
            snprintf(d, sizeof d, "%s", dm_err_detail());
            drop_pending(r);
            dm_escrow_buf_free(&lines);
            int again = reopen(r);
            return dm_fail(DM_ERR_IO,
                           "the entries are logged, but their cosigned checkpoint cannot be "
                           "written (%s): no share is released%s",
                           d, again ? "; the log does not reopen either" : "");
        }
    }
    dm_escrow_buf_free(&lines);
    if (!err && have < auth->witness_threshold)
        err = dm_fail(DM_ERR_LOG,
                      "the entries are logged, but %u of the witnesses cosigned the checkpoint "
                      "and the authority needs %u%s%s: no share is released",
                      have, auth->witness_threshold, why[0] ? "; " : "", why);
    if (err) {
        drop_pending(r);
        return err;
    }
    r->committed = 1;
    return DM_OK;
}

int dm_escrow_release_receipt(dm_escrow_releaser *r, dm_escrow_share *share, uint64_t index) {
    const pending_entry *e = NULL;
    for (size_t i = 0; r->committed && i < r->n_pending; i++)
        if (r->pending[i].index == index)
            e = &r->pending[i];
    if (!e)
        return dm_fail(DM_ERR_LOG, "entry %" PRIu64 " is not in a committed batch", index);
    dm_tlog_proof p = {0};
    p.index = index;
    p.extra = (uint8_t *)e->text;
    p.extra_len = e->len;
    p.checkpoint = (char *)dm_tlog_log_checkpoint(r->log);
    p.checkpoint_len = strlen(p.checkpoint);
    char *receipt = NULL;
    size_t receipt_len = 0;
    int err = dm_tlog_log_prove_inclusion(r->log, index, dm_tlog_log_size(r->log), p.path, &p.n);
    if (!err)
        err = dm_tlog_proof_format(&p, &receipt, &receipt_len);
    if (!err)
        err = dm_escrow_share_set_receipt(share, receipt, receipt_len);
    free(receipt);
    return err;
}
