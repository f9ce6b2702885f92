/* One round of witness cosignatures over a log's committed checkpoint.
 *
 * The round is the protocol of c2sp.org/tlog-witness as the log's side
 * speaks it, without the transport: it builds each witness's add-checkpoint
 * request, reads each answer (a 409 names the size the witness has, and the
 * request is rebuilt from it), checks every cosignature line against the
 * authority's witness keys before it counts, and remembers for each witness
 * why it did not cosign, in words. Whoever drives it decides how the
 * requests travel: one after another (dm_escrow_release, the batch commit
 * of tests and tools) or all at once from an event loop (doormat escrow
 * serve), so that a slow witness holds up nobody but itself.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escrow_internal.h"

typedef struct round_cosigner {
    char name[DM_TLOG_MAX_NAME + 1]; /* the witness's name in the authority, "" unknown */
    uint64_t old;                    /* the size the next request proves from */
    int attempts;
    int done;    /* answered for good, or not to be asked */
    int signed_; /* its valid cosignature is on the checkpoint */
    char why[DM_ESCROW_WHY_LEN];
} round_cosigner;

struct dm_escrow_round {
    const dm_escrow_authority *auth;
    dm_tlog_log *log;
    int *cosigned;                       /* set when the threshold is met (may be NULL) */
    uint64_t *known;                     /* the size each cosigner has (n of them, may be NULL) */
    uint64_t size;                       /* of the checkpoint being cosigned */
    dm_buf plain;                        /* its text and the log's own signature line */
    dm_buf lines;                        /* new cosignature lines, verified */
    uint8_t ok[DM_ESCROW_MAX_WITNESSES]; /* witnesses with a valid cosignature on it */
    size_t n;
    round_cosigner *c;
};

/* A reason, on one line and within DM_ESCROW_WHY_LEN bytes: a longer one is
 * cut at a space and marked " ...", never in the middle of a word. */
static void set_why(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(char *why, const char *fmt, ...) {
    char tmp[2 * DM_ESCROW_WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    dm_vformat_words(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    for (char *q = tmp; *q; q++)
        if (*q == '\n' || *q == '\r' || *q == '\t')
            *q = ' ';
    size_t len = strlen(tmp);
    while (len > 0 && tmp[len - 1] == ' ')
        tmp[--len] = '\0';
    if (len >= DM_ESCROW_WHY_LEN)
        dm_cut_words(tmp, DM_ESCROW_WHY_LEN);
    snprintf(why, DM_ESCROW_WHY_LEN, "%s", tmp);
}

static int witness_index(const dm_escrow_authority *auth, const char *name) {
    for (size_t k = 0; k < auth->n_witnesses; k++)
        if (strcmp(auth->witnesses[k].name, name) == 0)
            return (int)k;
    return -1;
}

int dm_escrow_round_begin(const dm_escrow_authority *auth, dm_tlog_log *log, int *cosigned,
                          uint64_t *known, size_t n, const char *const *names,
                          dm_escrow_round **out) {
    *out = NULL;
    dm_escrow_round *rd = calloc(1, sizeof *rd);
    if (rd == NULL || (n > 0 && (rd->c = calloc(n, sizeof *rd->c)) == NULL)) {
        free(rd);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    rd->auth = auth;
    rd->log = log;
    rd->cosigned = cosigned;
    rd->known = known;
    rd->n = n;
    rd->size = dm_tlog_log_size(log);
    const char *cp = dm_tlog_log_checkpoint(log);
    dm_tlog_note *note = NULL;
    int err = dm_tlog_note_parse(cp, strlen(cp), &note);
    if (!err) {
        /* Only the log's own signature goes to the witnesses; the
         * cosignatures the checkpoint holds already still count. */
        dm_buf_add(&rd->plain, note->text, note->text_len);
        dm_buf_add(&rd->plain, "\n", 1);
        dm_buf_add(&rd->plain, note->sigs[0].line, note->sigs[0].line_len);
        for (size_t i = 1; i < note->n_sigs; i++) {
            uint8_t one[DM_ESCROW_MAX_WITNESSES];
            dm_tlog_note probe = *note;
            probe.sigs[0] = note->sigs[i];
            probe.n_sigs = 1;
            if (dm_tlog_note_verify(&probe, auth->witnesses, auth->n_witnesses, one, NULL) == DM_OK)
                for (size_t k = 0; k < auth->n_witnesses; k++)
                    rd->ok[k] |= one[k];
        }
        if (rd->plain.failed)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    dm_tlog_note_free(note);
    for (size_t i = 0; !err && i < n; i++) {
        round_cosigner *c = &rd->c[i];
        if (names && names[i])
            snprintf(c->name, sizeof c->name, "%s", names[i]);
        c->old = known && known[i] <= rd->size ? known[i] : 0;
        int k = c->name[0] ? witness_index(auth, c->name) : -1;
        if (k >= 0 && rd->ok[k])
            c->done = c->signed_ = 1; /* its cosignature is there already */
    }
    if (err) {
        dm_escrow_round_free(rd);
        return err;
    }
    *out = rd;
    return DM_OK;
}

void dm_escrow_round_free(dm_escrow_round *rd) {
    if (rd == NULL)
        return;
    dm_buf_clear(&rd->plain);
    dm_buf_clear(&rd->lines);
    free(rd->c);
    free(rd);
}

uint64_t dm_escrow_round_size(const dm_escrow_round *rd) {
    return rd->size;
}

unsigned dm_escrow_round_have(const dm_escrow_round *rd) {
    unsigned have = 0;
    for (size_t k = 0; k < rd->auth->n_witnesses; k++)
        have += rd->ok[k];
    return have;
}

unsigned dm_escrow_round_needed(const dm_escrow_round *rd) {
    return rd->auth->witness_threshold;
}

int dm_escrow_round_done(const dm_escrow_round *rd, size_t i) {
    return i < rd->n && rd->c[i].done;
}

const char *dm_escrow_round_why(const dm_escrow_round *rd, size_t i) {
    return i < rd->n ? rd->c[i].why : "";
}

const char *dm_escrow_round_name(const dm_escrow_round *rd, size_t i) {
    return i < rd->n ? rd->c[i].name : "";
}

int dm_escrow_round_request(dm_escrow_round *rd, size_t i, char **body, size_t *len) {
    *body = NULL;
    *len = 0;
    if (i >= rd->n || rd->c[i].done)
        return DM_OK;
    round_cosigner *c = &rd->c[i];
    dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
    size_t n = 0;
    int err = DM_OK;
    if (c->old > 0 && c->old < rd->size)
        err = dm_tlog_log_prove_consistency(rd->log, c->old, rd->size, proof, &n);
    if (!err)
        err = dm_tlog_witness_request(c->old, proof, n, rd->plain.data, rd->plain.len, body, len);
    c->attempts++;
    return err;
}

/* The first line of an answer, for a reason. */
static int first_line(const char *resp, size_t len) {
    size_t n = 0;
    while (n < len && n < 2 * DM_ESCROW_WHY_LEN && resp[n] != '\n' && resp[n] != '\0')
        n++;
    return (int)n;
}

/* A 200: every line must be a cosignature of one of the authority's
 * witnesses over this checkpoint; the named witness's own must be there. */
static void read_cosignatures(dm_escrow_round *rd, round_cosigner *c, const char *resp,
                              size_t len) {
    const dm_escrow_authority *auth = rd->auth;
    dm_buf all = {0};
    dm_buf_add(&all, rd->plain.data, rd->plain.len);
    dm_buf_add(&all, resp, len);
    dm_tlog_note *cn = NULL;
    if (all.failed) {
        set_why(c->why, "out of memory reading its answer");
    } else if (dm_tlog_note_parse(all.data, all.len, &cn) != DM_OK) {
        set_why(c->why, "answered with malformed cosignature lines (%s)", dm_err_detail());
    } else if (cn->n_sigs < 2) {
        set_why(c->why, "answered 200 without a cosignature");
    } else {
        char bad[DM_ESCROW_WHY_LEN] = "";
        for (size_t i = 1; i < cn->n_sigs; i++) {
            uint8_t one[DM_ESCROW_MAX_WITNESSES];
            dm_tlog_note probe = *cn;
            probe.sigs[0] = cn->sigs[i];
            probe.n_sigs = 1;
            if (dm_tlog_note_verify(&probe, auth->witnesses, auth->n_witnesses, one, NULL) !=
                DM_OK) {
                if (!bad[0])
                    snprintf(bad, sizeof bad, "%s", dm_err_detail());
                continue;
            }
            for (size_t k = 0; k < auth->n_witnesses; k++)
                if (one[k] && !rd->ok[k]) {
                    rd->ok[k] = 1;
                    dm_buf_add(&rd->lines, cn->sigs[i].line, cn->sigs[i].line_len);
                }
        }
        int k = c->name[0] ? witness_index(auth, c->name) : -1;
        if (bad[0])
            set_why(c->why, "returned a cosignature that does not verify (%s)", bad);
        else if (k >= 0 && !rd->ok[k])
            set_why(c->why, "returned no cosignature by its own key");
        else
            c->signed_ = 1;
        if (bad[0] && k >= 0 && rd->ok[k])
            c->signed_ = 1; /* its own line is good; the bad one is still named */
    }
    dm_tlog_note_free(cn);
    dm_buf_clear(&all);
}

int dm_escrow_round_answer(dm_escrow_round *rd, size_t i, int status, const char *resp,
                           size_t len) {
    if (i >= rd->n || rd->c[i].done)
        return 0;
    round_cosigner *c = &rd->c[i];
    if (resp == NULL)
        len = 0;
    if (status == 409 && c->attempts < 2) {
        uint64_t had = 0;
        size_t p = 0;
        while (p < len && resp[p] >= '0' && resp[p] <= '9' && had < UINT64_MAX / 10)
            had = had * 10 + (uint64_t)(resp[p++] - '0');
        if (p > 0 && p < len && resp[p] == '\n' && had <= rd->size) {
            c->old = had;
            if (rd->known)
                rd->known[i] = had;
            return 1; /* asked again, with a proof from the size it has */
        }
        if (p > 0 && had > rd->size) {
            set_why(c->why,
                    "has cosigned a larger tree of this log (%" PRIu64 ") than ours (%" PRIu64
                    "): a rollback or a fork",
                    had, rd->size);
            c->done = 1;
            return 0;
        }
    }
    c->done = 1;
    if (status == 200) {
        if (rd->known)
            rd->known[i] = rd->size;
        read_cosignatures(rd, c, resp ? resp : "", len);
    } else if (status == 0) {
        set_why(c->why, "%.*s", first_line(resp ? resp : "", len), resp ? resp : "");
        if (!c->why[0])
            set_why(c->why, "no answer");
    } else if (status == 409) {
        set_why(c->why, "asked for a consistency proof from another size twice (HTTP 409: %.*s)",
                first_line(resp, len), resp);
    } else {
        set_why(c->why, "refused (HTTP %d): %.*s", status, first_line(resp ? resp : "", len),
                resp ? resp : "");
    }
    return 0;
}

void dm_escrow_round_give_up(dm_escrow_round *rd, size_t i, const char *why) {
    if (i >= rd->n || rd->c[i].done)
        return;
    rd->c[i].done = 1;
    set_why(rd->c[i].why, "%s", why);
}

int dm_escrow_round_failures(const dm_escrow_round *rd, char **text, size_t *len) {
    dm_buf b = {0};
    for (size_t i = 0; i < rd->n; i++) {
        if (!rd->c[i].why[0])
            continue;
        if (b.len > 0)
            dm_buf_str(&b, "; ");
        if (rd->c[i].name[0])
            dm_buf_printf(&b, "witness %s: %s", rd->c[i].name, rd->c[i].why);
        else
            dm_buf_printf(&b, "witness %zu: %s", i + 1, rd->c[i].why);
    }
    if (b.len == 0)
        dm_buf_str(&b, "");
    return dm_escrow_buf_take(&b, text, len);
}

int dm_escrow_round_finish(dm_escrow_round *rd) {
    int err = DM_OK;
    if (rd->lines.failed)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err && rd->lines.len > 0) {
        err = dm_tlog_log_add_cosignatures(rd->log, rd->lines.data, rd->lines.len);
        rd->lines.len = 0;
    }
    if (err)
        return err;
    unsigned have = dm_escrow_round_have(rd), needed = rd->auth->witness_threshold;
    if (have >= needed) {
        if (rd->cosigned && dm_tlog_log_size(rd->log) == rd->size)
            *rd->cosigned = 1;
        return DM_OK;
    }
    char *why = NULL;
    size_t why_len = 0;
    if (dm_escrow_round_failures(rd, &why, &why_len) != DM_OK)
        why = NULL;
    err = dm_fail(DM_ERR_LOG,
                  "%u of the witnesses cosigned its checkpoint and the authority needs %u%s%s",
                  have, needed, why && why[0] ? " (" : "", why && why[0] ? why : "");
    if (why && why[0]) {
        /* dm_fail's text has a bound: close the parenthesis on a whole word. */
        char d[1024];
        snprintf(d, sizeof d, "%s)", dm_err_detail());
        err = dm_fail(DM_ERR_LOG, "%s", d);
    }
    free(why);
    return err;
}

/* Asks each cosigner in turn (stopping at the threshold), through its
 * add_checkpoint, and finishes the round. */
int dm_escrow_round_run(dm_escrow_round *rd, const dm_escrow_cosigner *cosigners) {
    int err = DM_OK;
    for (size_t i = 0; !err && i < rd->n && dm_escrow_round_have(rd) < rd->auth->witness_threshold;
         i++) {
        for (;;) {
            char *body = NULL, *resp = NULL;
            size_t blen = 0, rlen = 0;
            int status = 0;
            err = dm_escrow_round_request(rd, i, &body, &blen);
            if (err || body == NULL)
                break;
            err = cosigners[i].add_checkpoint(cosigners[i].ctx, body, blen, &status, &resp, &rlen);
            free(body);
            int again = err ? 0 : dm_escrow_round_answer(rd, i, status, resp, rlen);
            free(resp);
            if (!again)
                break;
        }
    }
    return err ? err : dm_escrow_round_finish(rd);
}

int dm_escrow_cosign(const dm_escrow_authority *auth, dm_tlog_log *log, int *cosigned,
                     uint64_t *known, const dm_escrow_cosigner *cosigners, size_t n) {
    const char **names = n ? calloc(n, sizeof *names) : NULL;
    if (n && names == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = cosigners[i].name;
    dm_escrow_round *rd = NULL;
    int err = dm_escrow_round_begin(auth, log, cosigned, known, n, names, &rd);
    free(names);
    if (!err)
        err = dm_escrow_round_run(rd, cosigners);
    dm_escrow_round_free(rd);
    return err;
}
