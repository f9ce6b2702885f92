/* The log's directory fsync with its dm_err: the fault points of the log's
 * writes are base's (base/durable.c, tlog_internal.h). */
#include <errno.h>
#include <string.h>

#include "tlog_internal.h"

int dm_tlog_io_fsync_dir(const char *point, const char *path) {
    if (dm_io_fsync_dir(point, path) == 0)
        return DM_OK;
    return dm_fail(DM_ERR_IO, "%s: fsync: %s", path, strerror(errno));
}
