/* The audit log: one line per share release, hash-chained and signed by the
 * releasing agent.
 *
 *   SEQ TIME AGENT WARRANT-DIGEST FILE-ID PREV-HASH SIGNATURE
 *
 * PREV-HASH is the SHA-256 of the previous line (the first entry chains to a
 * genesis value bound to the authority), and the signature covers everything
 * before it. An edited or forged entry fails its signature; a removed or
 * reordered one breaks the sequence numbers and the chain. Removing entries
 * from the *end* is invisible to any self-contained log: the head hash that
 * verify prints has to be kept somewhere else to catch that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "escrow_internal.h"

#define GENESIS_LABEL "doormat/v1/escrow/audit-genesis"
#define ENTRY_SIG_LABEL "doormat/v1/escrow/audit"
#define N_FIELDS 7
#define MAX_ENTRIES 10000000u

static int genesis(const dm_escrow_authority *auth, uint8_t out[32]) {
    uint8_t msg[sizeof GENESIS_LABEL + DM_ESCROW_ID_LEN];
    memcpy(msg, GENESIS_LABEL "\n", sizeof GENESIS_LABEL);
    memcpy(msg + sizeof GENESIS_LABEL, auth->id, DM_ESCROW_ID_LEN);
    return dm_sha256(msg, sizeof msg, out);
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

/* Checks one entry against the chain so far; the reason goes to dm_err_detail. */
static int verify_entry(const dm_escrow_authority *auth, const char *line, size_t llen,
                        size_t expect_seq, const uint8_t prev[32], char last_time[21]) {
    const char *f[N_FIELDS];
    size_t fl[N_FIELDS];
    size_t nf = 0;
    const char *p = line, *end = line + llen;
    while (nf < N_FIELDS) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        f[nf] = p;
        fl[nf] = sp ? (size_t)(sp - p) : (size_t)(end - p);
        nf++;
        if (!sp)
            break;
        p = sp + 1;
    }
    if (nf != N_FIELDS || f[N_FIELDS - 1] + fl[N_FIELDS - 1] != end)
        return dm_fail(DM_ERR_HMAC, "malformed entry (want %d fields separated by one space)",
                       N_FIELDS);
    unsigned seq;
    uint8_t digest[32], file[DM_FILE_ID_LEN], chained[32], sig[DM_ESCROW_SIG_LEN];
    char agent[DM_ESCROW_MAX_AGENT_NAME + 1];
    if (!dm_escrow_parse_uint(f[0], fl[0], MAX_ENTRIES, &seq) || !valid_time(f[1], fl[1]) ||
        !dm_escrow_valid_agent_name(f[2], fl[2]) || !dm_escrow_unhex(f[3], fl[3], digest, 32) ||
        !dm_escrow_unhex(f[4], fl[4], file, DM_FILE_ID_LEN) ||
        !dm_escrow_unhex(f[5], fl[5], chained, 32) ||
        !dm_escrow_unb64(f[6], fl[6], sig, DM_ESCROW_SIG_LEN))
        return dm_fail(DM_ERR_HMAC, "malformed entry (a field is not in its format)");
    memcpy(agent, f[2], fl[2]);
    agent[fl[2]] = '\0';
    int idx = dm_escrow_authority_find_agent(auth, agent);
    if (idx < 0)
        return dm_fail(DM_ERR_HMAC, "forged: agent \"%s\" is not in authority %s", agent,
                       auth->name);
    size_t signed_len = (size_t)(f[6] - 1 - line);
    if (!dm_escrow_verify_sig(auth->agents[idx].sign_pk, ENTRY_SIG_LABEL, (const uint8_t *)line,
                              signed_len, sig))
        return dm_fail(DM_ERR_HMAC, "the signature of agent %s does not verify: edited or forged",
                       agent);
    if (seq != expect_seq)
        return dm_fail(DM_ERR_HMAC,
                       "sequence number %u where %zu was expected: entries were removed or "
                       "reordered",
                       seq, expect_seq);
    if (sodium_memcmp(chained, prev, 32) != 0)
        return dm_fail(DM_ERR_HMAC,
                       "it does not chain to the entry before it: entries were removed, "
                       "reordered or replaced");
    /* Fixed-width UTC times compare as strings. */
    if (memcmp(f[1], last_time, 20) < 0)
        return dm_fail(DM_ERR_HMAC,
                       "its time %.20s is before the entry before it (%s): the time went "
                       "backwards (a backdated entry?)",
                       f[1], last_time);
    memcpy(last_time, f[1], 20);
    return DM_OK;
}

/* dm_escrow_audit_verify, and the time of the last entry ("" when none). */
static int verify_log(const dm_escrow_authority *auth, const char *log, size_t log_len,
                      size_t *entries, size_t *bad_entry, uint8_t head[DM_ESCROW_DIGEST_LEN],
                      char last_time[21]) {
    memset(last_time, 0, 21);
    *entries = 0;
    *bad_entry = 0;
    uint8_t prev[32];
    int err = genesis(auth, prev);
    if (err)
        return err;
    dm_escrow_lines it = {.text = log, .len = log_len};
    const char *line;
    size_t llen;
    bool nl;
    while (dm_escrow_next_line(&it, &line, &llen, &nl)) {
        if (!nl)
            err = dm_fail(DM_ERR_HMAC, "the last entry is cut short (no newline)");
        else
            err = verify_entry(auth, line, llen, it.lineno, prev, last_time);
        if (err) {
            char detail[512];
            snprintf(detail, sizeof detail, "%s", dm_err_detail());
            *bad_entry = it.lineno;
            return dm_fail(err, "entry %zu (line %zu): %s", it.lineno, it.lineno, detail);
        }
        err = dm_sha256((const uint8_t *)line, llen, prev);
        if (err)
            return err;
        (*entries)++;
    }
    if (head)
        memcpy(head, prev, 32);
    return DM_OK;
}

int dm_escrow_audit_verify(const dm_escrow_authority *auth, const char *log, size_t log_len,
                           size_t *entries, size_t *bad_entry, uint8_t head[DM_ESCROW_DIGEST_LEN]) {
    char last_time[21];
    return verify_log(auth, log, log_len, entries, bad_entry, head, last_time);
}

int dm_escrow_audit_next(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                         const char *log, size_t log_len,
                         const uint8_t warrant_digest[DM_ESCROW_DIGEST_LEN],
                         const uint8_t file_id[DM_FILE_ID_LEN], time_t now, char **entry,
                         size_t *entry_len) {
    *entry = NULL;
    if (memcmp(agent->authority_id, auth->id, DM_ESCROW_ID_LEN) != 0)
        return dm_fail(DM_ERR_USAGE, "agent key %s is not a key of authority %s", agent->name,
                       auth->name);
    size_t n, bad;
    uint8_t head[32];
    char last_time[21];
    int err = verify_log(auth, log, log_len, &n, &bad, head, last_time);
    if (err) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", dm_err_detail());
        /* No release without a sound log: the refusal is an access decision. */
        return dm_fail(DM_ERR_DENIED, "refusing to extend an audit log that does not verify: %s",
                       detail);
    }
    struct tm tm;
    char when[32];
    if (!gmtime_r(&now, &tm) || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        return dm_fail(DM_ERR_INTERNAL, "cannot format the time");
    if (strcmp(when, last_time) < 0)
        return dm_fail(DM_ERR_DENIED,
                       "refusing to log a release at %s, before the last entry (%s): is the "
                       "clock right?",
                       when, last_time);
    char digest_hex[65], file_hex[2 * DM_FILE_ID_LEN + 1], head_hex[65];
    dm_escrow_hex(warrant_digest, 32, digest_hex);
    dm_escrow_hex(file_id, DM_FILE_ID_LEN, file_hex);
    dm_escrow_hex(head, 32, head_hex);
    dm_escrow_buf b = {0};
    dm_escrow_buf_printf(&b, "%zu %s %s %s %s %s", n + 1, when, agent->name, digest_hex, file_hex,
                         head_hex);
    if (b.failed) {
        dm_escrow_buf_free(&b);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    uint8_t sig[DM_ESCROW_SIG_LEN];
    char sig64[DM_ESCROW_SIG_B64_LEN + 1];
    err = dm_escrow_sign(agent->sign_sk, ENTRY_SIG_LABEL, (const uint8_t *)b.data, b.len, sig);
    if (!err)
        err = dm_escrow_b64(sig, sizeof sig, sig64, sizeof sig64);
    if (err) {
        dm_escrow_buf_free(&b);
        return err;
    }
    dm_escrow_buf_printf(&b, " %s\n", sig64);
    return dm_escrow_buf_take(&b, entry, entry_len);
}

int dm_escrow_audit_append(const char *path, const dm_escrow_authority *auth,
                           const dm_escrow_agent_key *agent,
                           const uint8_t warrant_digest[DM_ESCROW_DIGEST_LEN],
                           const uint8_t file_id[DM_FILE_ID_LEN], time_t now) {
    /* The log must already exist (escrow init creates it): a missing log is
     * itself something to investigate, not something to paper over. */
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX) != 0) {
        close(fd);
        return dm_fail(DM_ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
    }
    int err = DM_OK;
    char *log = NULL, *entry = NULL;
    size_t entry_len = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > DM_ESCROW_MAX_TEXT) {
        err = dm_fail(DM_ERR_IO, "%s: not a regular file of at most %u bytes", path,
                      DM_ESCROW_MAX_TEXT);
        goto out;
    }
    size_t len = (size_t)st.st_size;
    log = malloc(len + 1);
    if (!log) {
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, log + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != len) {
        err = dm_fail(DM_ERR_IO, "%s: short read", path);
        goto out;
    }
    err = dm_escrow_audit_next(auth, agent, log, len, warrant_digest, file_id, now, &entry,
                               &entry_len);
    if (err) {
        err = dm_escrow_fail_at(err, path, 0);
        goto out;
    }
    /* One write: with O_APPEND and the lock, the entry lands whole at the end. */
    ssize_t w = write(fd, entry, entry_len);
    if (w != (ssize_t)entry_len || fsync(fd) != 0) {
        if (w > 0 && ftruncate(fd, (off_t)len) != 0) {
            /* Nothing more to do: verify will report the cut entry. */
        }
        err = dm_fail(DM_ERR_IO, "%s: cannot append the audit entry", path);
    }
out:
    free(log);
    free(entry);
    flock(fd, LOCK_UN);
    close(fd);
    return err;
}
