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
    int n = vsnprintf(dm_detail, sizeof dm_detail, fmt, ap);
    va_end(ap);
    if (n < 0)
        dm_detail[0] = '\0';
    if (n >= (int)sizeof dm_detail) {
        /* Never a word cut in half: end at the last space, then " ...". */
        size_t cut = sizeof dm_detail - 5, at = cut;
        while (at > 0 && dm_detail[at] != ' ')
            at--;
        if (at > 0) /* (one word longer than the whole text is cut where it must be) */
            cut = at;
        memcpy(dm_detail + cut, " ...", 5);
    }
    return err;
}
