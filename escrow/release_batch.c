/* The one release path: a batch of releases over the agent's open log.
 *
 * A long-running agent (doormat escrow serve) keeps its log open and lets
 * one commit (one fsync, one checkpoint, one round of cosignatures) cover
 * all the releases that arrived together. A release by hand (doormat escrow
 * unwrap, dm_escrow_release) is a batch of one: the log opened (and waited
 * for) for it alone, its entry appended, committed and cosigned by the same
 * calls, its receipt made by the same call. Every release has the same
 * check (dm_escrow_share_prepare), the same entry (dm_escrow_release_entry),
 * durable and cosigned (the witnesses asked in turn until the authority's
 * threshold is met) before its share gets the receipt recovery checks. No
 * release here goes without a log: escrow_lab.h has the one the labs use.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "escrow_internal.h"

typedef struct pending_entry {
    uint64_t index;
    char *text;
    size_t len;
} pending_entry;

/* A request retried (the same warrant, file and requester: the same entry
 * but for its time) gets the entry it was given before instead of a new one:
 * the table maps a digest of the entry without its time to its index, for
 * every entry of the log (filled when the log is verified at open). */
#define REQUEST_KEY_LEN 16
typedef struct request_slot {
    uint8_t key[REQUEST_KEY_LEN];
    uint64_t index_plus1; /* 0: empty */
} request_slot;

struct dm_escrow_releaser {
    const dm_escrow_authority *auth;
    const dm_escrow_agent_key *agent;
    char *dir;
    char *holder; /* written beside the log's lock (NULL: none) */
    dm_tlog_signer *signer;
    dm_tlog_log *log;
    pending_entry *pending; /* entries added since the last commit, and those of it */
    size_t n_pending, cap_pending;
    size_t n_answered; /* the first n_answered pending entries are of the batch committed last */
    int cosigned;      /* the checkpoint committed last holds the witness threshold */
    int failed;        /* an append of the batch being gathered failed: it is refused whole */
    char why[400];     /* and why */
    int one;           /* a batch of one (dm_escrow_release): closed after its commit, so a
                          failure is reported as the log gives it and nothing is reopened */
    uint64_t size;     /* the committed size when log is NULL (it did not reopen) */
    uint64_t known[DM_ESCROW_MAX_WITNESSES]; /* the size each cosigner has */
    request_slot *requests;
    size_t cap_requests, n_requests;
};

/* The digest of an entry's text without its "time:" line (the second). */
static void request_key(const char *text, size_t len, uint8_t key[REQUEST_KEY_LEN]) {
    const char *nl1 = memchr(text, '\n', len);
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - text)) : NULL;
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (nl1 && nl2) {
        crypto_hash_sha256_update(&st, (const uint8_t *)text, (size_t)(nl1 + 1 - text));
        crypto_hash_sha256_update(&st, (const uint8_t *)nl2 + 1, len - (size_t)(nl2 + 1 - text));
    } else {
        crypto_hash_sha256_update(&st, (const uint8_t *)text, len);
    }
    crypto_hash_sha256_final(&st, h);
    memcpy(key, h, REQUEST_KEY_LEN);
}

static size_t request_slot_of(const dm_escrow_releaser *r, const uint8_t key[REQUEST_KEY_LEN]) {
    uint64_t v;
    memcpy(&v, key, sizeof v);
    size_t i = (size_t)(v & (r->cap_requests - 1));
    while (r->requests[i].index_plus1 != 0 && memcmp(r->requests[i].key, key, REQUEST_KEY_LEN) != 0)
        i = (i + 1) & (r->cap_requests - 1);
    return i;
}

static int remember_request(dm_escrow_releaser *r, const uint8_t key[REQUEST_KEY_LEN],
                            uint64_t index) {
    if (2 * (r->n_requests + 1) > r->cap_requests) {
        size_t cap = r->cap_requests ? 2 * r->cap_requests : 1024;
        request_slot *old = r->requests, *fresh = calloc(cap, sizeof *fresh);
        if (fresh == NULL)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        size_t old_cap = r->cap_requests;
        r->requests = fresh;
        r->cap_requests = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].index_plus1 != 0)
                r->requests[request_slot_of(r, old[i].key)] = old[i];
        free(old);
    }
    size_t i = request_slot_of(r, key);
    if (r->requests[i].index_plus1 == 0)
        r->n_requests++;
    memcpy(r->requests[i].key, key, REQUEST_KEY_LEN);
    r->requests[i].index_plus1 = index + 1;
    return DM_OK;
}

static int remember_entry(void *ctx, uint64_t index, const uint8_t *entry, size_t len) {
    uint8_t key[REQUEST_KEY_LEN];
    request_key((const char *)entry, len, key);
    return remember_request(ctx, key, index);
}

/* The text of entry index: from the entries of the last batches, else read
 * back from the committed log (malloc'd). */
static int entry_text(dm_escrow_releaser *r, uint64_t index, char **text, size_t *len) {
    for (size_t i = r->n_pending; i-- > 0;)
        if (r->pending[i].index == index) {
            *text = malloc(r->pending[i].len + 1);
            if (*text == NULL)
                return dm_fail(DM_ERR_NOMEM, "out of memory");
            memcpy(*text, r->pending[i].text, r->pending[i].len);
            (*text)[r->pending[i].len] = '\0';
            *len = r->pending[i].len;
            return DM_OK;
        }
    if (index >= dm_tlog_log_size(r->log))
        return dm_fail(DM_ERR_NO_MATCH, "entry %" PRIu64 " is not committed", index);
    dm_tlog_reader *rd = NULL;
    uint8_t *e = NULL;
    int err = dm_tlog_reader_new(dm_tlog_dir_fetcher(r->dir), dm_tlog_log_size(r->log), &rd);
    if (!err)
        err = dm_tlog_reader_entry(rd, index, &e, len);
    dm_tlog_reader_free(rd);
    *text = (char *)e;
    return err;
}

/* The entry given before to the same request, if it is still in the log. */
static int earlier_request(dm_escrow_releaser *r, const char *entry, size_t len, uint64_t *index,
                           char **text, size_t *text_len) {
    *text = NULL;
    if (r->cap_requests == 0)
        return 0;
    uint8_t key[REQUEST_KEY_LEN], again[REQUEST_KEY_LEN];
    request_key(entry, len, key);
    const request_slot *s = &r->requests[request_slot_of(r, key)];
    if (s->index_plus1 == 0)
        return 0;
    /* Checked against the log itself: an index whose entry was dropped (a
     * commit that failed) may hold another entry now. */
    if (entry_text(r, s->index_plus1 - 1, text, text_len) != DM_OK)
        return 0;
    request_key(*text, *text_len, again);
    if (memcmp(key, again, REQUEST_KEY_LEN) != 0) {
        free(*text);
        *text = NULL;
        return 0;
    }
    *index = s->index_plus1 - 1;
    return 1;
}

static void drop_pending(dm_escrow_releaser *r) {
    for (size_t i = 0; i < r->n_pending; i++)
        free(r->pending[i].text);
    r->n_pending = 0;
    r->n_answered = 0;
    r->failed = 0;
}

/* After a failed write the log is read again from its directory: what this
 * process goes on from is what the last signed checkpoint there says,
 * whatever the failure left in memory. Only between rounds (a round holds
 * the log). A log that does not open now is opened again by the next
 * release. */
static int reopen(dm_escrow_releaser *r) {
    if (r->log)
        r->size = dm_tlog_log_size(r->log);
    dm_tlog_log_free(r->log);
    r->log = NULL;
    /* Between its close and this open another process may hold the log for
     * a moment (an escrow unwrap): worth a wait, as such a process waits. */
    dm_tlog_lock_opts lock = {r->holder, DM_TLOG_LOCK_WAIT};
    return dm_tlog_log_open_with(r->dir, r->signer, &lock, &r->log);
}

/* The entries of the batch before are answered: only those added since stay. */
static void drop_answered(dm_escrow_releaser *r) {
    if (r->n_answered == 0)
        return;
    for (size_t i = 0; i < r->n_answered; i++)
        free(r->pending[i].text);
    memmove(r->pending, r->pending + r->n_answered,
            (r->n_pending - r->n_answered) * sizeof *r->pending);
    r->n_pending -= r->n_answered;
    r->n_answered = 0;
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
        err = dm_tlog_verify_log(dm_tlog_dir_fetcher(r->dir), &c, remember_entry, r);
    if (err) {
        char d[400];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        return dm_fail(DM_ERR_LOG, "the log %s does not verify: %s", r->dir, d);
    }
    return DM_OK;
}

/* A releaser for many batches (one = 0) or for a batch of one. A batch of
 * one waits for a log another process holds, as dm_tlog_log_open does, and
 * neither reads the whole log back nor looks for an earlier entry of the
 * same request: a release by hand is an entry of its own, as it always was. */
static int releaser_open(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                         const char *log_dir, const char *holder, int one,
                         dm_escrow_releaser **out) {
    *out = NULL;
    dm_escrow_releaser *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(log_dir)) || (holder && !(r->holder = strdup(holder)))) {
        if (r)
            free(r->dir);
        free(r);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    r->auth = auth;
    r->agent = agent;
    r->one = one;
    int err = dm_escrow_agent_log_signer(agent, auth, &r->signer);
    /* A long-running agent does not queue behind another holder of its log:
     * it says who that is and stops. */
    dm_tlog_lock_opts lock = {r->holder, one ? DM_TLOG_LOCK_WAIT : 0};
    if (!err)
        err = dm_tlog_log_open_with(log_dir, r->signer, &lock, &r->log);
    if (!err && !one)
        err = verify_whole(r);
    if (!err) {
        const char *cp = dm_tlog_log_checkpoint(r->log);
        int idx = dm_escrow_authority_find_agent(auth, agent->name);
        dm_tlog_checkpoint c;
        r->cosigned =
            dm_tlog_checkpoint_open(cp, strlen(cp), &auth->agents[idx].log, auth->witnesses,
                                    auth->n_witnesses, auth->witness_threshold, &c) == DM_OK;
    }
    if (err) {
        dm_escrow_releaser_free(r);
        return err;
    }
    *out = r;
    return DM_OK;
}

int dm_escrow_releaser_open(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                            const char *log_dir, dm_escrow_releaser **out) {
    return releaser_open(auth, agent, log_dir, NULL, 0, out);
}

int dm_escrow_releaser_open_as(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                               const char *log_dir, const char *holder, dm_escrow_releaser **out) {
    return releaser_open(auth, agent, log_dir, holder, 0, out);
}

void dm_escrow_releaser_free(dm_escrow_releaser *r) {
    if (!r)
        return;
    drop_pending(r);
    free(r->pending);
    free(r->requests);
    dm_tlog_log_free(r->log);
    dm_tlog_signer_free(r->signer);
    free(r->dir);
    free(r->holder);
    free(r);
}

uint64_t dm_escrow_releaser_size(const dm_escrow_releaser *r) {
    return r->log ? dm_tlog_log_size(r->log) : r->size;
}

/* The batch can take one more entry: not refused, its log open, room for it. */
static int batch_ready(dm_escrow_releaser *r) {
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
    return DM_OK;
}

/* Adds a checked release's entry (malloc'd, taken in every case) to the
 * batch: the entry given before to the same request, or a new one appended
 * to the log (not durable yet). */
static int add_entry(dm_escrow_releaser *r, char *entry, size_t len, uint64_t *index) {
    int err = batch_ready(r);
    char *before = NULL;
    size_t before_len = 0;
    if (!err && earlier_request(r, entry, len, index, &before, &before_len)) {
        /* The same request again (a retry after an error, or an answer
         * lost): it gets its entry, and the log no second one. */
        free(entry);
        entry = before;
        len = before_len;
    } else if (!err) {
        uint8_t key[REQUEST_KEY_LEN];
        request_key(entry, len, key);
        err = dm_tlog_log_append(r->log, (const uint8_t *)entry, len, index);
        if (!err && !r->one && remember_request(r, key, *index) != DM_OK)
            dm_fail(DM_OK, NULL); /* no memory to remember it: a retry gets a new entry */
        if (err == DM_ERR_IO && !r->one) {
            /* The disk failed under this batch: none of it is released. The
             * log undid the append in memory; with releases of this batch
             * pending, the commit that answers them refuses them and reopens
             * the log; with none, the next release goes on. */
            char d[300];
            snprintf(d, sizeof d, "%s", dm_err_detail());
            snprintf(r->why, sizeof r->why, "the log cannot be written (%s): nothing is released",
                     d);
            if (r->n_pending > r->n_answered)
                r->failed = 1;
            err = dm_fail(DM_ERR_IO, "%s", r->why);
        }
    }
    if (err) {
        free(entry);
        return err;
    }
    r->pending[r->n_pending++] = (pending_entry){.index = *index, .text = entry, .len = len};
    return DM_OK;
}

int dm_escrow_release_add(dm_escrow_releaser *r, const dm_escrow_warrant *w, const dm_header *hdr,
                          const char *requester, time_t now, dm_escrow_share **share,
                          uint64_t *index) {
    *share = NULL;
    /* A refused batch or a log that does not reopen answers before the
     * warrant is looked at. */
    int err = batch_ready(r);
    if (err)
        return err;
    dm_escrow_share *s = NULL;
    char *entry = NULL;
    size_t len = 0;
    err = dm_escrow_share_prepare(r->auth, r->agent, w, hdr, now, &s);
    if (!err)
        err = dm_escrow_release_entry(r->auth, r->agent, w, s, requester, now, &entry, &len);
    if (!err)
        err = add_entry(r, entry, len, index);
    else
        free(entry);
    if (err) {
        dm_escrow_share_free(s);
        return err;
    }
    *share = s;
    return DM_OK;
}

int dm_escrow_release_commit_log(dm_escrow_releaser *r) {
    drop_answered(r);
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
    r->n_answered = r->n_pending;
    uint64_t before = dm_tlog_log_size(r->log);
    int err = dm_tlog_log_commit(r->log);
    if (err && r->one)
        return err; /* closed next: nothing goes on from this log */
    if (err) {
        /* What was appended is not durable: reopen on what is, and drop it. */
        char d[400];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        drop_pending(r);
        int again = reopen(r);
        return dm_fail(DM_ERR_IO, "the log cannot be written (%s): nothing is released%s", d,
                       again ? "; the log does not reopen either" : "");
    }
    if (dm_tlog_log_size(r->log) != before) /* a new checkpoint: not cosigned yet */
        r->cosigned = r->auth->witness_threshold == 0;
    return DM_OK;
}

int dm_escrow_release_commit(dm_escrow_releaser *r, const dm_escrow_cosigner *cosigners,
                             size_t n_cosigners) {
    int err = dm_escrow_release_commit_log(r);
    if (err || r->cosigned)
        return err;
    err = dm_escrow_cosign(r->auth, r->log, &r->cosigned,
                           n_cosigners <= DM_ESCROW_MAX_WITNESSES ? r->known : NULL, cosigners,
                           n_cosigners);
    if (err == DM_ERR_LOG) {
        char d[1024];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        if (r->one)
            err = dm_fail(DM_ERR_LOG, "entry %" PRIu64 " is logged, but %s: no share is released",
                          r->pending[0].index, d);
        else
            err = dm_fail(DM_ERR_LOG, "the entries are logged, but %s: no share is released", d);
    }
    return err;
}

int dm_escrow_round_new(dm_escrow_releaser *r, size_t n, const char *const *names,
                        dm_escrow_round **out) {
    if (r->log == NULL)
        return dm_fail(DM_ERR_IO, "the log does not open: nothing to cosign");
    return dm_escrow_round_begin(r->auth, r->log, &r->cosigned,
                                 n <= DM_ESCROW_MAX_WITNESSES ? r->known : NULL, n, names, out);
}

int dm_escrow_releaser_cosigned_now(const dm_escrow_releaser *r) {
    return r->cosigned;
}

int dm_escrow_release_receipt(dm_escrow_releaser *r, dm_escrow_share *share, uint64_t index) {
    if (r->log == NULL || !r->cosigned || index >= dm_tlog_log_size(r->log))
        return dm_fail(DM_ERR_LOG, "entry %" PRIu64 " is not in a cosigned checkpoint", index);
    char *text = NULL;
    size_t len = 0;
    int err = entry_text(r, index, &text, &len);
    if (err)
        return err;
    dm_tlog_proof p = {0};
    p.index = index;
    p.extra = (uint8_t *)text;
    p.extra_len = len;
    p.checkpoint = (char *)dm_tlog_log_checkpoint(r->log);
    p.checkpoint_len = strlen(p.checkpoint);
    char *receipt = NULL;
    size_t receipt_len = 0;
    err = dm_tlog_log_prove_inclusion(r->log, index, dm_tlog_log_size(r->log), p.path, &p.n);
    if (!err)
        err = dm_tlog_proof_format(&p, &receipt, &receipt_len);
    if (!err)
        err = dm_escrow_share_set_receipt(share, receipt, receipt_len);
    free(receipt);
    free(text);
    return err;
}

/* ------------------------------------------------------- a batch of one */

int dm_escrow_release(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                      const dm_escrow_warrant *w, const dm_header *hdr,
                      const dm_escrow_release_opts *opts, time_t now, dm_escrow_share **out) {
    *out = NULL;
    static const dm_escrow_release_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    /* Closed by default: no log, no release. */
    if (opts->log_dir == NULL)
        return dm_fail(DM_ERR_USAGE, "a release needs the agent's log directory: nothing is "
                                     "released");
    dm_escrow_share *s = NULL;
    char *entry = NULL;
    size_t len = 0;
    dm_escrow_releaser *r = NULL;
    uint64_t index = 0;
    /* Checked before the log is opened: a refused release is not logged. */
    int err = dm_escrow_share_prepare(auth, agent, w, hdr, now, &s);
    if (!err)
        err = dm_escrow_release_entry(auth, agent, w, s, opts->requester, now, &entry, &len);
    if (!err)
        err = releaser_open(auth, agent, opts->log_dir, opts->holder, 1, &r);
    if (!err) {
        err = add_entry(r, entry, len, &index);
        entry = NULL; /* taken */
    }
    /* Durable before anything else happens: no release without its entry. */
    if (!err)
        err = dm_escrow_release_commit(r, opts->cosigners, opts->n_cosigners);
    if (!err)
        err = dm_escrow_release_receipt(r, s, index);
    dm_escrow_releaser_free(r);
    free(entry);
    if (err) {
        dm_escrow_share_free(s);
        return err;
    }
    *out = s;
    return DM_OK;
}

int dm_escrow_unwrap(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                     const dm_escrow_warrant *w, const dm_header *hdr, const char *log_dir,
                     time_t now, dm_escrow_share **out) {
    dm_escrow_release_opts opts = {.log_dir = log_dir};
    return dm_escrow_release(auth, agent, w, hdr, &opts, now, out);
}
