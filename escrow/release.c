/* Every release in the agent's transparency log.
 *
 * A release appends one entry (who, when, under which warrant and case, for
 * which file, asked by whom) to the agent's tiled log and makes it durable,
 * gets the new checkpoint cosigned by the witnesses the authority names, and
 * hands the share over with a receipt: a c2sp.org/tlog-proof whose extra
 * data is the entry, so that whoever combines shares can check that each was
 * logged in a tree the witnesses have seen, before using it.
 *
 * Here: the entries (their text, order and witness times) and the receipts.
 * The release itself takes one path, release_batch.c's, a single release as
 * a batch of one; dm_escrow_release_unlogged (escrow_lab.h, not installed)
 * is the one release without a log, for recoveries shown in memory.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "escrow_internal.h"
#include "escrow_lab.h"

#define ENTRY_MAGIC "doormat-escrow-release/v1"
#define DEFAULT_REQUESTER "unspecified"

/* ------------------------------------------------------------------ entries */

static bool valid_requester(const char *s, size_t len) {
    return dm_escrow_valid_text(s, len, DM_ESCROW_MAX_REQUESTER);
}

static bool valid_time(const char *s, size_t len) {
    /* YYYY-MM-DDTHH:MM:SSZ */
    if (len != 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' ||
        !dm_escrow_valid_date(s, 10))
        return false;
    for (int i = 11; i < 19; i++)
        if (i != 13 && i != 16 && (s[i] < '0' || s[i] > '9'))
            return false;
    return (s[11] - '0') * 10 + (s[12] - '0') < 24 && s[14] < '6' && s[17] < '6';
}

int dm_escrow_entry_format(const dm_escrow_entry *e, char **text, size_t *len) {
    *text = NULL;
    if (!valid_time(e->time, strlen(e->time)) ||
        !dm_escrow_valid_agent_name(e->agent, strlen(e->agent)) ||
        !valid_requester(e->requester, strlen(e->requester)))
        return dm_fail(DM_ERR_USAGE, "a release entry needs a time, an agent and a requester "
                                     "(1 to 200 bytes, no control characters)");
    char id[2 * DM_ESCROW_ID_LEN + 1], w[65], c[65], f[2 * DM_FILE_ID_LEN + 1];
    dm_hex(e->authority_id, DM_ESCROW_ID_LEN, id);
    dm_hex(e->warrant, DM_ESCROW_DIGEST_LEN, w);
    dm_hex(e->case_digest, DM_ESCROW_DIGEST_LEN, c);
    dm_hex(e->file_id, DM_FILE_ID_LEN, f);
    dm_buf b = {0};
    dm_buf_printf(&b,
                  "%s\ntime: %s\nauthority: %s\nagent: %s\nwarrant: %s\ncase: %s\nfile: %s\n"
                  "requester: %s\n",
                  ENTRY_MAGIC, e->time, id, e->agent, w, c, f, e->requester);
    return dm_escrow_buf_take(&b, text, len);
}

int dm_escrow_entry_parse(const uint8_t *data, size_t len, dm_escrow_entry *out) {
    memset(out, 0, sizeof *out);
    dm_escrow_lines it = {.text = (const char *)data, .len = len};
    const char *line, *v;
    size_t llen, vlen;
    bool nl;
#define LINE(key, ok)                                                                              \
    do {                                                                                           \
        if (!dm_escrow_next_line(&it, &line, &llen, &nl) || !nl ||                                 \
            !dm_escrow_field(line, llen, key, &v, &vlen) || !(ok))                                 \
            return dm_fail(DM_ERR_USAGE, "release entry: line %zu is not a valid \"%s:\"",         \
                           it.lineno, key);                                                        \
    } while (0)
    if (!dm_escrow_next_line(&it, &line, &llen, &nl) || !nl || llen != strlen(ENTRY_MAGIC) ||
        memcmp(line, ENTRY_MAGIC, llen) != 0)
        return dm_fail(DM_ERR_USAGE, "not a release entry (want \"%s\")", ENTRY_MAGIC);
    LINE("time", valid_time(v, vlen));
    memcpy(out->time, v, vlen);
    LINE("authority", dm_escrow_unhex(v, vlen, out->authority_id, DM_ESCROW_ID_LEN));
    LINE("agent", dm_escrow_valid_agent_name(v, vlen));
    memcpy(out->agent, v, vlen);
    LINE("warrant", dm_escrow_unhex(v, vlen, out->warrant, DM_ESCROW_DIGEST_LEN));
    LINE("case", dm_escrow_unhex(v, vlen, out->case_digest, DM_ESCROW_DIGEST_LEN));
    LINE("file", dm_escrow_unhex(v, vlen, out->file_id, DM_FILE_ID_LEN));
    LINE("requester", valid_requester(v, vlen));
    memcpy(out->requester, v, vlen);
#undef LINE
    if (it.pos != len)
        return dm_fail(DM_ERR_USAGE, "release entry: text after \"requester:\"");
    return DM_OK;
}

/* Seconds since the epoch of a valid entry time (YYYY-MM-DDTHH:MM:SSZ). */
static time_t entry_seconds(const char *t) {
    struct tm tm = {0};
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

int dm_escrow_entry_in_order(const dm_escrow_entry *e, uint64_t index, char latest[21]) {
    if (latest[0] != '\0' && entry_seconds(e->time) + DM_ESCROW_ENTRY_SKEW < entry_seconds(latest))
        return dm_fail(DM_ERR_LOG,
                       "entry %" PRIu64 " is dated %s, more than %d minutes before an entry "
                       "before it (%s): the time went backwards (a backdated entry?)",
                       index, e->time, DM_ESCROW_ENTRY_SKEW / 60, latest);
    /* Fixed-width UTC times compare as strings. */
    if (latest[0] == '\0' || strcmp(e->time, latest) > 0)
        memcpy(latest, e->time, sizeof e->time);
    return DM_OK;
}

int dm_escrow_checkpoint_witness_times(const dm_escrow_authority *auth, size_t agent,
                                       const char *note, size_t len,
                                       dm_escrow_witness_time *earliest,
                                       dm_escrow_witness_time *latest) {
    dm_escrow_witness_time lo = {0}, hi = {0};
    size_t nw = dm_escrow_authority_witnesses(auth);
    const dm_tlog_verifier *log_key = dm_escrow_authority_log_key(auth, agent);
    if (log_key == NULL)
        return dm_fail(DM_ERR_USAGE, "no agent %zu in authority %s", agent, auth->name);
    dm_tlog_verifier vs[DM_ESCROW_MAX_WITNESSES + 1];
    uint8_t ok[DM_ESCROW_MAX_WITNESSES + 1] = {0};
    uint64_t times[DM_ESCROW_MAX_WITNESSES + 1] = {0};
    vs[0] = *log_key;
    for (size_t i = 0; i < nw; i++)
        vs[i + 1] = *dm_escrow_authority_witness(auth, i);
    dm_tlog_note *n = NULL;
    dm_tlog_checkpoint c;
    int err = dm_tlog_note_parse(note, len, &n);
    if (err == DM_OK)
        err = dm_tlog_checkpoint_parse(n->text, n->text_len, &c);
    if (err == DM_OK)
        err = dm_tlog_note_verify(n, vs, nw + 1, ok, times);
    if (err == DM_OK && !ok[0])
        err = dm_fail(DM_ERR_LOG, "the checkpoint is not signed by the log key of agent %s",
                      dm_escrow_authority_agent_name(auth, agent));
    dm_tlog_note_free(n);
    if (err != DM_OK)
        return err == DM_ERR_LOG ? err : dm_fail(DM_ERR_LOG, "%s", dm_err_detail());
    for (size_t i = 1; i <= nw; i++) {
        if (!ok[i])
            continue;
        if (lo.time == 0 || times[i] < lo.time) {
            lo.time = times[i];
            snprintf(lo.witness, sizeof lo.witness, "%s", vs[i].name);
        }
        if (times[i] > hi.time) {
            hi.time = times[i];
            snprintf(hi.witness, sizeof hi.witness, "%s", vs[i].name);
        }
    }
    lo.size = hi.size = c.size;
    if (earliest)
        *earliest = lo;
    if (latest)
        *latest = hi;
    return DM_OK;
}

/* The error for an entry dated outside what witness w saw: when says on which side of the
 * cosignature the entry lies, dated and clock how the agent's clock was off. */
static int clock_skew(const dm_escrow_entry *e, uint64_t index, const dm_escrow_witness_time *w,
                      const char *when, const char *dated, const char *clock) {
    time_t tt = (time_t)w->time; /* a verified cosignature's time is at most INT64_MAX */
    struct tm tm;
    char wt[32]; /* the witness's time as an entry's: YYYY-MM-DDTHH:MM:SSZ */
    if (gmtime_r(&tt, &tm) == NULL || strftime(wt, sizeof wt, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(wt, sizeof wt, "%" PRIu64 " s", w->time);
    return dm_fail(DM_ERR_LOG,
                   "entry %" PRIu64 " is dated %s, but witness %s cosigned the log at size "
                   "%" PRIu64 ", %s %s: the entry was %s (the agent's clock was %s by more "
                   "than %d minutes)",
                   index, e->time, w->witness, w->size, when, wt, dated, clock,
                   DM_ESCROW_WITNESS_SLACK / 60);
}

int dm_escrow_entry_in_witness_time(const dm_escrow_entry *e, uint64_t index,
                                    const dm_escrow_witness_time *after,
                                    const dm_escrow_witness_time *before) {
    int64_t t = (int64_t)entry_seconds(e->time);
    if (after != NULL && after->time != 0 && t + DM_ESCROW_WITNESS_SLACK < (int64_t)after->time)
        return clock_skew(e, index, after, "without it, at", "backdated", "behind");
    if (before != NULL && before->time != 0 &&
        t - DM_ESCROW_WITNESS_SLACK > (int64_t)before->time)
        return clock_skew(e, index, before, "with it, already at", "postdated", "ahead");
    return DM_OK;
}

/* -------------------------------------------------------------- releasing */

int dm_escrow_release_entry(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                            const dm_escrow_warrant *w, const dm_escrow_share *s,
                            const char *requester, time_t now, char **entry, size_t *entry_len) {
    int err = DM_OK;
    dm_escrow_entry e = {0};
    struct tm tm;
    if (!gmtime_r(&now, &tm) || strftime(e.time, sizeof e.time, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        err = dm_fail(DM_ERR_INTERNAL, "cannot format the time");
    memcpy(e.authority_id, auth->id, DM_ESCROW_ID_LEN);
    snprintf(e.agent, sizeof e.agent, "%s", agent->name);
    dm_escrow_warrant_digest(w, e.warrant);
    const char *case_ref = dm_escrow_warrant_case(w);
    crypto_hash_sha256(e.case_digest, (const uint8_t *)case_ref, strlen(case_ref));
    memcpy(e.file_id, dm_escrow_share_file_id(s), DM_FILE_ID_LEN);
    const char *req = requester ? requester : DEFAULT_REQUESTER;
    if (!valid_requester(req, strlen(req)))
        err = dm_fail(DM_ERR_USAGE,
                      "the requester must be 1 to %d bytes without control "
                      "characters",
                      DM_ESCROW_MAX_REQUESTER);
    else
        snprintf(e.requester, sizeof e.requester, "%s", req);
    if (!err)
        err = dm_escrow_entry_format(&e, entry, entry_len);
    return err;
}

int dm_escrow_release_unlogged(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                               const dm_escrow_warrant *w, const dm_header *hdr, time_t now,
                               dm_escrow_share **out) {
    return dm_escrow_share_prepare(auth, agent, w, hdr, now, out);
}

/* ---------------------------------------------------------------- receipts */

int dm_escrow_share_check_receipt(const dm_escrow_authority *auth, const dm_escrow_share *s,
                                  dm_escrow_entry *entry_out, uint64_t *index_out) {
    size_t rlen = 0;
    const char *r = dm_escrow_share_receipt(s, &rlen);
    const char *agent = dm_escrow_share_agent(s);
    if (!r)
        return dm_fail(DM_ERR_LOG,
                       "the share of agent %s has no receipt: its release is not shown to be "
                       "logged",
                       agent);
    dm_tlog_proof p;
    int err = dm_tlog_proof_parse(r, rlen, &p);
    if (err) {
        char d[300];
        snprintf(d, sizeof d, "%s", dm_err_detail()); /* dm_fail writes over it */
        return dm_fail(DM_ERR_LOG, "the receipt of agent %s's share: %s", agent, d);
    }
    dm_escrow_entry e;
    if (!p.extra || dm_escrow_entry_parse(p.extra, p.extra_len, &e) != DM_OK)
        err =
            dm_fail(DM_ERR_LOG, "the receipt of agent %s's share carries no release entry", agent);
    int idx = dm_escrow_authority_find_agent(auth, agent);
    if (!err && (idx < 0 || memcmp(e.authority_id, auth->id, DM_ESCROW_ID_LEN) != 0 ||
                 strcmp(e.agent, agent) != 0 ||
                 memcmp(e.file_id, dm_escrow_share_file_id(s), DM_FILE_ID_LEN) != 0 ||
                 memcmp(e.warrant, dm_escrow_share_warrant(s), DM_ESCROW_DIGEST_LEN) != 0))
        err = dm_fail(DM_ERR_LOG,
                      "the receipt of agent %s's share logs another release (authority, agent, "
                      "file or warrant differ)",
                      agent);
    if (!err) {
        dm_tlog_hash leaf;
        dm_tlog_leaf_hash(p.extra, p.extra_len, leaf);
        err = dm_tlog_proof_verify(&p, leaf, &auth->agents[idx].log, auth->witnesses,
                                   auth->n_witnesses, auth->witness_threshold, NULL);
        if (err) {
            char d[300];
            snprintf(d, sizeof d, "%s", dm_err_detail());
            err = dm_fail(DM_ERR_LOG, "the receipt of agent %s's share does not verify: %s", agent,
                          d);
        }
    }
    if (!err && entry_out)
        *entry_out = e;
    if (!err && index_out)
        *index_out = p.index;
    dm_tlog_proof_clear(&p);
    return err;
}
