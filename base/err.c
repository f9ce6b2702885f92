/* The error record: the per-thread detail text that goes with a dm_err. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "doormat/base.h"

/* Room for a reason that names several parties (every witness that failed,
 * each with its own reason); a longer one is cut at a space and marked. */
#define DM_DETAIL_CAP 1024

/* Thread-local so that parallel decryptions never report each other's details. */
static _Thread_local char dm_detail[DM_DETAIL_CAP];

const char *dm_err_detail(void) {
    return dm_detail;
}

int dm_fail(int err, const char *fmt, ...) {
    if (fmt == NULL) {
        dm_detail[0] = '\0';
        return err;
    }
    va_list ap;
    va_start(ap, fmt);
    dm_vformat_words(dm_detail, sizeof dm_detail, fmt, ap);
    va_end(ap);
    return err;
}

void dm_vformat_words(char *buf, size_t cap, const char *fmt, va_list ap) {
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0)
        buf[0] = '\0';
    else if ((size_t)n >= cap)
        dm_cut_words(buf, cap);
}

void dm_cut_words(char *buf, size_t cap) {
    size_t cut = cap - 5, at = cut; /* room for " ..." */
    while (at > 0 && buf[at] != ' ')
        at--;
    if (at > 0)
        cut = at;
    while (cut > 0 && buf[cut - 1] == ' ')
        cut--;
    memcpy(buf + cut, " ...", 5);
}
