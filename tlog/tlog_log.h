/* The state of a log's writer, shared by the files of the log (not
 * installed): tlog_log.c appends and commits, tlog_log_committed.c adds
 * cosignatures to the committed checkpoint and proves against it, and
 * tlog_log_dir.c writes the log's directory for both. */
#ifndef DOORMAT_TLOG_LOG_H
#define DOORMAT_TLOG_LOG_H

#include "tlog_internal.h"

#define DM_TLOG_MAX_DIRS 64

#define DM_TLOG_MEMO_SLOTS 1024

struct dm_tlog_log {
    char *dir;
    int lock_fd;
    const dm_tlog_signer *key;
    dm_tlog_checkpoint cp; /* committed */
    char *cp_text;         /* committed, signed (with any cosignatures) */
    size_t cp_len;
    /* working state, ahead of cp after appends */
    dm_tlog_edge edge;
    dm_tlog_hash level[8][DM_TLOG_TILE_WIDTH];
    unsigned count[8];
    uint8_t *bundle; /* the partial entry bundle */
    size_t bundle_len, bundle_cap;
    char dirs[DM_TLOG_MAX_DIRS][96]; /* directories to fsync, relative to dir */
    size_t n_dirs;
    int dirs_overflow; /* more than DM_TLOG_MAX_DIRS: syncfs instead */
    int stale;         /* the working state could not be read back after a failure */
    /* Complete subtrees never change: their hashes, once computed for a
     * proof, are kept (direct-mapped by level and index) for the next. The
     * receipts of one batch share most of their paths. */
    struct {
        uint64_t index;
        unsigned level, used;
        dm_tlog_hash hash;
    } memo[DM_TLOG_MEMO_SLOTS];
};

/* ---- tlog_log_dir.c ---- */

/* DIR/REL into out (cap bytes); DM_ERR_USAGE when it is too long. */
int dm_tlog_dir_path(char *out, size_t cap, const char *dir, const char *rel);
/* Replaces DIR/REL whole, durably, making its parent directories (the libfiu
 * points of its calls are named by point). */
int dm_tlog_dir_write(const char *point, const char *dir, const char *rel, const uint8_t *data,
                      size_t len);
/* Publishes a signed checkpoint as DIR/checkpoint; *published says whether it
 * replaced the old one, also on failure. */
int dm_tlog_dir_publish(const char *dir, const char *text, size_t len, int *published);
/* The signed note of checkpoint c (malloc'd). */
int dm_tlog_checkpoint_sign(const dm_tlog_signer *key, const dm_tlog_checkpoint *c, char **note,
                            size_t *len);
/* Reads DIR/REL and opens it as a checkpoint signed by v; *text (malloc'd) is
 * the note as read. */
int dm_tlog_dir_load_checkpoint(const char *dir, const char *rel, const dm_tlog_verifier *v,
                                dm_tlog_checkpoint *c, char **text, size_t *len);

#endif
