/* Writing a tiled log in a directory: opening it, appending, committing.
 *
 * The writer keeps the right edge of the tree in memory: the partial tile of
 * every level and the partial entry bundle (at most 8 x 8 KiB and 256
 * entries), read back from the directory when the log is opened. An append
 * touches only them, writing a full tile when one fills: O(log n), and
 * nothing ever re-reads the log.
 *
 * Durability: commit writes every new tile through a temporary file that is
 * fsync'd and renamed, fsyncs the directories, and only then publishes the
 * signed checkpoint (checkpoint.new, fsync, rename, fsync). A crash before
 * the rename leaves the old checkpoint in force; a signed checkpoint.new
 * left by a crash is finished at the next open (its tiles are all durable),
 * so the log never signs two different trees of one size. An exclusive
 * flock on DIR/lock serialises processes (tlog_lock.c).
 *
 * The directory's files are written by tlog_log_dir.c; cosignatures and
 * proofs on the committed checkpoint are in tlog_log_committed.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tlog_log.h"

/* ------------------------------------------------------------------- tiles */

static void note_dir(dm_tlog_log *l, const char *rel) {
    char d[96];
    snprintf(d, sizeof d, "%s", rel);
    char *slash = strrchr(d, '/');
    if (!slash)
        return;
    *slash = '\0';
    for (size_t i = 0; i < l->n_dirs; i++)
        if (strcmp(l->dirs[i], d) == 0)
            return;
    if (l->n_dirs < DM_TLOG_MAX_DIRS)
        memcpy(l->dirs[l->n_dirs++], d, sizeof d);
    else
        l->dirs_overflow = 1;
}

static int write_tile(dm_tlog_log *l, int level, uint64_t index, unsigned w, const uint8_t *data,
                      size_t len) {
    char rel[64];
    int err = dm_tlog_tile_path(level, index, w, rel);
    if (!err)
        err = dm_tlog_dir_write(level < 0 ? "log/entries" : "log/tile", l->dir, rel, data, len);
    if (!err)
        note_dir(l, rel);
    return err;
}

/* Removes the partial tiles of a tile that is now full (tile/L/N.p/). */
static void prune(dm_tlog_log *l, int level, uint64_t index) {
    char rel[64], p[4096];
    if (dm_tlog_tile_path(level, index, 1, rel) != DM_OK)
        return; /* pruning is best effort: a path that cannot be named is kept */
    char *slash = strrchr(rel, '/');
    *slash = '\0'; /* ".../N.p" */
    if (dm_tlog_dir_path(p, sizeof p, l->dir, rel) != DM_OK)
        return;
    size_t base = strlen(p);
    for (unsigned w = 1; w < DM_TLOG_TILE_WIDTH; w++) {
        snprintf(p + base, sizeof p - base, "/%u", w);
        unlink(p);
    }
    p[base] = '\0';
    rmdir(p);
}

/* ------------------------------------------------------------------ opening */
/* Reads the right edge of the committed tree into l. */
static int load_edge(dm_tlog_log *l) {
    uint64_t size = l->cp.size;
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(l->dir);
    dm_tlog_reader *r = NULL;
    int err = dm_tlog_reader_new(f, size, &r);
    if (!err)
        err = dm_tlog_edge_load(&l->edge, dm_tlog_reader_hash, r, size);
    dm_tlog_reader_free(r);
    if (err)
        return err;
    dm_tlog_hash root;
    dm_tlog_edge_root(&l->edge, root);
    if (sodium_memcmp(root, l->cp.root, DM_TLOG_HASH_LEN) != 0)
        return dm_fail(DM_ERR_LOG, "%s: the tiles do not give the checkpoint's root", l->dir);
    for (unsigned lv = 0; lv < 8; lv++) {
        unsigned sh = 8 * (lv + 1);
        uint64_t idx = sh >= 64 ? 0 : size >> sh;
        unsigned w = dm_tlog_tile_width((int)lv, idx, size);
        l->count[lv] = w;
        if (w == 0)
            continue;
        uint8_t *data;
        size_t len;
        err = dm_tlog_fetch_tile(f, (int)lv, idx, w, &data, &len);
        if (err)
            return err;
        memcpy(l->level[lv], data, len);
        free(data);
    }
    unsigned w0 = l->count[0];
    if (w0 > 0) {
        uint8_t *data;
        size_t len;
        err = dm_tlog_fetch_tile(f, -1, size >> 8, w0, &data, &len);
        if (err)
            return err;
        /* The bundle must hash to the level-0 tile the root was built from. */
        size_t pos = 0;
        for (unsigned i = 0; !err && i < w0; i++) {
            size_t n = pos + 2 <= len ? ((size_t)data[pos] << 8 | data[pos + 1]) : SIZE_MAX;
            dm_tlog_hash h;
            if (n == SIZE_MAX || n > len - pos - 2) {
                err = dm_fail(DM_ERR_LOG, "%s: the last entry bundle is malformed", l->dir);
                break;
            }
            dm_tlog_leaf_hash(data + pos + 2, n, h);
            if (memcmp(h, l->level[0][i], DM_TLOG_HASH_LEN) != 0)
                err = dm_fail(DM_ERR_LOG, "%s: entry %" PRIu64 " does not match its tile", l->dir,
                              (size >> 8 << 8) + i);
            pos += 2 + n;
        }
        if (!err && pos != len)
            err = dm_fail(DM_ERR_LOG, "%s: the last entry bundle is malformed", l->dir);
        if (err) {
            free(data);
            return err;
        }
        l->bundle = data;
        l->bundle_len = l->bundle_cap = len;
    }
    return DM_OK;
}

/* c, signed as text (taken over), is the committed checkpoint now, and no
 * directory is left to sync. */
static void adopt_checkpoint(dm_tlog_log *l, const dm_tlog_checkpoint *c, char *text, size_t len) {
    free(l->cp_text);
    l->cp = *c;
    l->cp_text = text;
    l->cp_len = len;
    l->n_dirs = 0;
    l->dirs_overflow = 0;
}

/* A checkpoint.new left by a crash: finished if it is a signed, consistent
 * extension whose tiles are all in place, removed otherwise. */
static int recover_pending(dm_tlog_log *l) {
    char path[4096];
    int err = dm_tlog_dir_path(path, sizeof path, l->dir, "checkpoint.new");
    if (err)
        return err;
    struct stat st;
    if (lstat(path, &st) != 0)
        return DM_OK;
    dm_tlog_checkpoint c;
    char *text = NULL;
    size_t len;
    const dm_tlog_verifier *v = dm_tlog_signer_verifier(l->key);
    int ok = dm_tlog_dir_load_checkpoint(l->dir, "checkpoint.new", v, &c, &text, &len) == DM_OK &&
             c.size > l->cp.size;
    if (ok) {
        dm_tlog_fetcher f = dm_tlog_dir_fetcher(l->dir);
        dm_tlog_reader *r = NULL;
        dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
        size_t n = 0;
        dm_tlog_edge e;
        dm_tlog_hash root;
        ok = dm_tlog_reader_new(f, c.size, &r) == DM_OK &&
             dm_tlog_edge_load(&e, dm_tlog_reader_hash, r, c.size) == DM_OK;
        if (ok) {
            dm_tlog_edge_root(&e, root);
            ok = sodium_memcmp(root, c.root, DM_TLOG_HASH_LEN) == 0 &&
                 (l->cp.size == 0 || (dm_tlog_prove_consistency(dm_tlog_reader_hash, r, l->cp.size,
                                                                c.size, proof, &n) == DM_OK &&
                                      dm_tlog_verify_consistency(l->cp.size, c.size, l->cp.root,
                                                                 c.root, proof, n) == DM_OK));
        }
        dm_tlog_reader_free(r);
        dm_tlog_fetcher_clear(&f);
    }
    if (ok) {
        char to[4096];
        err = dm_tlog_dir_path(to, sizeof to, l->dir, "checkpoint");
        if (!err && dm_tlog_io_rename("log/publish", path, to) != 0)
            err = dm_fail(DM_ERR_IO, "%s: %s", to, strerror(errno));
        if (!err)
            err = dm_tlog_io_fsync_dir("log/publish", l->dir);
        if (!err) {
            adopt_checkpoint(l, &c, text, len);
            text = NULL;
        }
    } else if (unlink(path) != 0) {
        err = dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    }
    free(text);
    return err;
}

int dm_tlog_log_open(const char *dir, const dm_tlog_signer *key, dm_tlog_log **out) {
    return dm_tlog_log_open_with(dir, key, NULL, out);
}

int dm_tlog_log_open_with(const char *dir, const dm_tlog_signer *key, const dm_tlog_lock_opts *lock,
                          dm_tlog_log **out) {
    *out = NULL;
    dm_tlog_log *l = calloc(1, sizeof *l);
    if (!l)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    l->lock_fd = -1;
    l->key = key;
    l->dir = strdup(dir);
    char path[4096];
    int err = l->dir ? dm_tlog_dir_path(path, sizeof path, dir, "lock")
                     : dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err) {
        l->lock_fd = open(path, O_RDWR | O_CLOEXEC);
        if (l->lock_fd < 0)
            err = dm_fail(DM_ERR_IO, "%s: %s (not a log made by escrow init?)", path,
                          strerror(errno));
        else if ((err = dm_tlog_lock_take(l->lock_fd, dir, "the log", lock)) != DM_OK) {
            close(l->lock_fd); /* not ours: the holder's line stays */
            l->lock_fd = -1;
        }
    }
    if (!err)
        err = dm_tlog_dir_load_checkpoint(dir, "checkpoint", dm_tlog_signer_verifier(key), &l->cp,
                                          &l->cp_text, &l->cp_len);
    if (err == DM_ERR_LOG || err == DM_ERR_USAGE) {
        char d[256];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        err = dm_fail(DM_ERR_LOG, "%s/checkpoint: %s", dir, d);
    }
    if (!err)
        err = recover_pending(l);
    if (!err)
        err = load_edge(l);
    if (err) {
        dm_tlog_log_free(l);
        return err;
    }
    *out = l;
    return DM_OK;
}

void dm_tlog_log_free(dm_tlog_log *l) {
    if (!l)
        return;
    dm_tlog_lock_drop(l->lock_fd);
    free(l->cp_text);
    free(l->bundle);
    free(l->dir);
    free(l);
}

uint64_t dm_tlog_log_size(const dm_tlog_log *l) {
    return l->cp.size;
}

const char *dm_tlog_log_checkpoint(const dm_tlog_log *l) {
    return l->cp_text;
}

/* ---------------------------------------------------------------- appending */

static int push_hash(dm_tlog_log *l, unsigned lv, uint64_t tile_index, const dm_tlog_hash h) {
    memcpy(l->level[lv][l->count[lv]++], h, DM_TLOG_HASH_LEN);
    if (l->count[lv] < DM_TLOG_TILE_WIDTH)
        return DM_OK;
    int err = write_tile(l, (int)lv, tile_index, DM_TLOG_TILE_WIDTH, (const uint8_t *)l->level[lv],
                         sizeof l->level[lv]);
    if (err)
        return err;
    dm_tlog_hash up;
    dm_tlog_subtree_hash((const uint8_t *)l->level[lv], DM_TLOG_TILE_WIDTH, up);
    l->count[lv] = 0;
    if (lv + 1 >= 8)
        return dm_fail(DM_ERR_USAGE, "the log is full");
    return push_hash(l, lv + 1, tile_index >> 8, up);
}

/* Back to the committed tree after a failed commit: the right edge, the
 * partial tiles and the partial bundle read again from the directory, as at
 * open. What a failed batch left there beyond the checkpoint is never read
 * (the checkpoint's tiles are the ones a committed batch wrote), agrees with
 * the checkpoint on every hash it covers anyway (the batch only appended),
 * and is replaced whole by the batch that next reaches those sizes. When the
 * directory cannot be read now, the log stays stale: every append and
 * commit tries again first, and fails until it can. */
static int rewind_to_checkpoint(dm_tlog_log *l) {
    free(l->bundle);
    l->bundle = NULL;
    l->bundle_len = l->bundle_cap = 0;
    memset(&l->edge, 0, sizeof l->edge);
    memset(l->count, 0, sizeof l->count);
    l->n_dirs = 0;
    l->dirs_overflow = 0;
    l->stale = 1;
    int err = load_edge(l);
    if (err) {
        char d[300];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        return dm_fail(err == DM_ERR_NOMEM ? err : DM_ERR_IO,
                       "the log cannot be read back at its checkpoint (size %" PRIu64 "): %s",
                       l->cp.size, d);
    }
    l->stale = 0;
    return DM_OK;
}

int dm_tlog_log_append(dm_tlog_log *l, const uint8_t *entry, size_t len, uint64_t *index) {
    if (len == 0 || len > DM_TLOG_MAX_ENTRY)
        return dm_fail(DM_ERR_USAGE, "a log entry has 1 to %d bytes", DM_TLOG_MAX_ENTRY);
    if (l->stale) {
        int err = rewind_to_checkpoint(l);
        if (err)
            return err;
    }
    if (l->bundle_len + 2 + len > l->bundle_cap) {
        size_t cap = l->bundle_cap ? l->bundle_cap * 2 : 4096;
        while (cap < l->bundle_len + 2 + len)
            cap *= 2;
        uint8_t *b = realloc(l->bundle, cap);
        if (!b)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        l->bundle = b;
        l->bundle_cap = cap;
    }
    /* An append that fails changes nothing: the counts and the bundle's
     * length are put back (the slots past them are free to overwrite). */
    unsigned count_before[8];
    memcpy(count_before, l->count, sizeof count_before);
    size_t bundle_before = l->bundle_len;
    uint64_t i = l->edge.size;
    l->bundle[l->bundle_len] = (uint8_t)(len >> 8);
    l->bundle[l->bundle_len + 1] = (uint8_t)len;
    memcpy(l->bundle + l->bundle_len + 2, entry, len);
    l->bundle_len += 2 + len;
    dm_tlog_hash h;
    dm_tlog_leaf_hash(entry, len, h);
    int err = DM_OK;
    if (l->count[0] + 1 == DM_TLOG_TILE_WIDTH) {
        err = write_tile(l, -1, i >> 8, DM_TLOG_TILE_WIDTH, l->bundle, l->bundle_len);
    }
    if (!err)
        err = push_hash(l, 0, i >> 8, h);
    if (err) {
        memcpy(l->count, count_before, sizeof count_before);
        l->bundle_len = bundle_before; /* the entry is not in */
        return err;
    }
    if (l->count[0] == 0)
        l->bundle_len = 0;
    dm_tlog_edge_append(&l->edge, h);
    if (index)
        *index = i;
    return DM_OK;
}

/* A commit either publishes the whole batch or leaves the log as its last
 * checkpoint, on disk and here: any failure before the checkpoint's rename
 * drops the appended entries (rewind_to_checkpoint); a failure after it (the
 * directory's fsync) keeps the checkpoint that is now in place. */
int dm_tlog_log_commit(dm_tlog_log *l) {
    if (l->stale)
        return rewind_to_checkpoint(l);
    uint64_t size = l->edge.size;
    if (size == l->cp.size)
        return DM_OK;
    int err = DM_OK;
    for (unsigned lv = 0; !err && lv < 8; lv++) {
        /* A level whose width did not change since the last commit already
         * has this very partial tile on disk (the last checkpoint covers it). */
        unsigned sh = 8 * lv;
        if (lv > 0 && (sh >= 64 ? 0 : l->cp.size >> sh) == (sh >= 64 ? 0 : size >> sh))
            continue;
        if (l->count[lv] > 0)
            err = write_tile(l, (int)lv, (8 * (lv + 1) >= 64 ? 0 : size >> (8 * (lv + 1))),
                             l->count[lv], (const uint8_t *)l->level[lv],
                             (size_t)l->count[lv] * DM_TLOG_HASH_LEN);
    }
    if (!err && l->count[0] > 0)
        err = write_tile(l, -1, size >> 8, l->count[0], l->bundle, l->bundle_len);
    for (size_t i = 0; !err && i < l->n_dirs; i++) {
        char p[4096];
        err = dm_tlog_dir_path(p, sizeof p, l->dir, l->dirs[i]);
        if (!err)
            err = dm_tlog_io_fsync_dir("log/dir", p);
    }
    if (!err && l->dirs_overflow && dm_tlog_io_syncfs("log/dir", l->lock_fd) != 0)
        err = dm_fail(DM_ERR_IO, "%s: syncfs: %s", l->dir, strerror(errno));
    dm_tlog_checkpoint c = {0};
    snprintf(c.origin, sizeof c.origin, "%s", l->cp.origin);
    c.size = size;
    dm_tlog_edge_root(&l->edge, c.root);
    char *note = NULL;
    size_t len = 0;
    int published = 0;
    if (!err)
        err = dm_tlog_checkpoint_sign(l->key, &c, &note, &len);
    if (!err)
        err = dm_tlog_dir_publish(l->dir, note, len, &published);
    if (err && published) {
        /* In place but perhaps not durable: this process goes on from it. */
        adopt_checkpoint(l, &c, note, len);
        return err;
    }
    if (err) {
        free(note);
        char d[400];
        snprintf(d, sizeof d, "%s", dm_err_detail());
        int again = rewind_to_checkpoint(l);
        return dm_fail(err, "%s%s", d,
                       again ? "; the log cannot be read back at its checkpoint either" : "");
    }
    /* Only the tile that was partial at the last commit can have partial
     * files; once it is full they go (tlog-tiles allows it). */
    for (int lv = -1; lv < 8; lv++) {
        unsigned sh = 8 * (unsigned)(lv < 0 ? 1 : lv + 1);
        uint64_t before = sh >= 64 ? 0 : l->cp.size >> sh, now = sh >= 64 ? 0 : size >> sh;
        if (now > before)
            prune(l, lv, before);
    }
    adopt_checkpoint(l, &c, note, len);
    return DM_OK;
}
