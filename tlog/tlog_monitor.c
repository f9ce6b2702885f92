/* What a monitor of a log keeps between two runs: the checkpoint it verified
 * last and the time of the latest entry of that tree (include/doormat/tlog.h,
 * "monitor state"; docs/escrow-format.md, "Monitoring and auditing"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tlog_internal.h"

#define STATE_MAGIC "doormat-escrow-monitor/v1\n"
#define STATE_LAST "last-entry: "

int dm_tlog_monitor_state_path(const char *dir, const char *log_name, char *out, size_t cap) {
    uint8_t h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(h, (const uint8_t *)log_name, strlen(log_name));
    dm_hex(h, sizeof h, hex);
    int n = snprintf(out, cap, "%s/%s", dir, hex);
    if (n < 0 || (size_t)n >= cap)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
    return DM_OK;
}

/* A valid time is one that reads back the same. */
static int is_time(const char *s) {
    struct tm tm = {0};
    char again[32] = "";
    time_t t = (time_t)-1;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) == 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = timegm(&tm);
    }
    if (t != (time_t)-1 && gmtime_r(&t, &tm) != NULL)
        strftime(again, sizeof again, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strcmp(again, s) == 0;
}

int dm_tlog_monitor_state_parse(const char *text, size_t len, dm_tlog_monitor_state *out) {
    size_t ml = strlen(STATE_MAGIC), ll = strlen(STATE_LAST);
    memset(out, 0, sizeof *out);
    out->legacy = len < ml || memcmp(text, STATE_MAGIC, ml) != 0;
    if (out->legacy) {
        out->note = text;
        out->note_len = len;
        return DM_OK;
    }
    const char *v = text + ml, *nl = memchr(v, '\n', len - ml);
    if (nl == NULL || (size_t)(nl - v) < ll || memcmp(v, STATE_LAST, ll) != 0)
        return dm_fail(DM_ERR_LOG, "line 2 is not \"%s\"", STATE_LAST);
    size_t tl = (size_t)(nl - v) - ll;
    char last[DM_TLOG_TIME_LEN + 1] = "";
    if (tl == DM_TLOG_TIME_LEN) {
        memcpy(last, v + ll, DM_TLOG_TIME_LEN);
        last[DM_TLOG_TIME_LEN] = '\0';
    }
    int none = tl == 4 && memcmp(v + ll, "none", 4) == 0;
    if (!none && (tl != DM_TLOG_TIME_LEN || !is_time(last)))
        return dm_fail(DM_ERR_LOG, "line 2: not a time (YYYY-MM-DDTHH:MM:SSZ) or \"none\"");
    if (!none)
        memcpy(out->last_entry, last, sizeof last);
    out->note = nl + 1;
    out->note_len = len - (size_t)(nl + 1 - text);
    return DM_OK;
}

int dm_tlog_monitor_state_save(const char *path, const char *note, size_t len,
                               const char *last_entry) {
    size_t cap = len + 64;
    char *text = malloc(cap);
    if (text == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    int h = snprintf(text, cap, "%s%s%s\n", STATE_MAGIC, STATE_LAST,
                     last_entry != NULL && last_entry[0] ? last_entry : "none");
    memcpy(text + h, note, len);
    dm_io_step step;
    int rc = dm_atomic_write(NULL, path, text, (size_t)h + len, 0644, &step);
    int e = errno;
    free(text);
    if (rc == 0)
        return DM_OK;
    if (step == DM_IO_STEP_OPEN)
        return dm_fail(e == EEXIST ? DM_ERR_USAGE : DM_ERR_IO, "%s.tmp: %s", path, strerror(e));
    return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(e));
}
