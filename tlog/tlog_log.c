/* Writing a tiled log in a directory.
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

#include "tlog_internal.h"

#define MAX_DIRS 64

#define MEMO_SLOTS 1024

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
    char dirs[MAX_DIRS][96]; /* directories to fsync, relative to dir */
    size_t n_dirs;
    int dirs_overflow; /* more than MAX_DIRS: syncfs instead */
    int stale;         /* the working state could not be read back after a failure */
    /* Complete subtrees never change: their hashes, once computed for a
     * proof, are kept (direct-mapped by level and index) for the next. The
     * receipts of one batch share most of their paths. */
    struct {
        uint64_t index;
        unsigned level, used;
        dm_tlog_hash hash;
    } memo[MEMO_SLOTS];
};

/* ------------------------------------------------------------- file system */

static int path_join(char *out, size_t cap, const char *dir, const char *rel) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, rel) >= cap)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
    return DM_OK;
}

/* mkdir -p of rel's parent directories under dir. */
static int make_parents(const char *dir, const char *rel) {
    char path[4096];
    int err = path_join(path, sizeof path, dir, rel);
    if (err)
        return err;
    size_t base = strlen(dir) + 1;
    for (char *p = path + base; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (dm_tlog_io_mkdir("log/dir", path, 0755) == 0)
            chmod(path, 0755); /* public, whatever the umask */
        else if (errno != EEXIST)
            return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
        *p = '/';
    }
    return DM_OK;
}

/* Writes rel (under dir) through rel.tmp, fsync'd, renamed: rel is either
 * its old content or all of the new, never a part (a file a failed batch
 * left beyond the checkpoint is replaced whole, never appended to). point
 * names the libfiu points of its calls (tlog_io.c). */
static int write_durable(const char *point, const char *dir, const char *rel, const uint8_t *data,
                         size_t len) {
    char path[4096], tmp[4200];
    int err = path_join(path, sizeof path, dir, rel);
    if (err)
        return err;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = dm_tlog_io_open(point, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        err = make_parents(dir, rel);
        if (err)
            return err;
        fd = dm_tlog_io_open(point, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0)
        return dm_fail(DM_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (dm_tlog_io_replace(point, fd, tmp, path, 0644, data, len) != 0)
        return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    return DM_OK;
}

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
    if (l->n_dirs < MAX_DIRS)
        memcpy(l->dirs[l->n_dirs++], d, sizeof d);
    else
        l->dirs_overflow = 1;
}

static int write_tile(dm_tlog_log *l, int level, uint64_t index, unsigned w, const uint8_t *data,
                      size_t len) {
    char rel[64];
    int err = dm_tlog_tile_path(level, index, w, rel);
    if (!err)
        err = write_durable(level < 0 ? "log/entries" : "log/tile", l->dir, rel, data, len);
    if (!err)
        note_dir(l, rel);
    return err;
}

/* Removes the partial tiles of a tile that is now full (tile/L/N.p/). */
static void prune(dm_tlog_log *l, int level, uint64_t index) {
    char rel[64], p[4096];
    dm_tlog_tile_path(level, index, 1, rel);
    char *slash = strrchr(rel, '/');
    *slash = '\0'; /* ".../N.p" */
    if (path_join(p, sizeof p, l->dir, rel) != DM_OK)
        return;
    size_t base = strlen(p);
    for (unsigned w = 1; w < DM_TLOG_TILE_WIDTH; w++) {
        snprintf(p + base, sizeof p - base, "/%u", w);
        unlink(p);
    }
    p[base] = '\0';
    rmdir(p);
}

/* ------------------------------------------------------------ the checkpoint */

/* Publishes a signed checkpoint: DM_OK, or an error with *published telling
 * whether it replaced the old one (it did once the rename succeeded, even
 * when the directory's fsync then failed: the file in place is the new one).
 * A checkpoint.new that was not published is removed, so that the log stays
 * at its old checkpoint, also for the next open. */
static int publish_checkpoint(dm_tlog_log *l, const char *text, size_t len, int *published) {
    *published = 0;
    int err = write_durable("log/checkpoint", l->dir, "checkpoint.new", (const uint8_t *)text, len);
    char from[4096] = "", to[4096] = "";
    if (!err)
        err = path_join(from, sizeof from, l->dir, "checkpoint.new");
    if (!err)
        err = path_join(to, sizeof to, l->dir, "checkpoint");
    if (!err && dm_tlog_io_rename("log/publish", from, to) != 0) {
        err = dm_fail(DM_ERR_IO, "%s: %s", to, strerror(errno));
        unlink(from);
    }
    if (!err)
        *published = 1;
    if (!err)
        err = dm_tlog_io_fsync_dir("log/publish", l->dir);
    return err;
}

static int sign_checkpoint(const dm_tlog_signer *key, const dm_tlog_checkpoint *c, char **note,
                           size_t *len) {
    char *text;
    size_t tlen;
    int err = dm_tlog_checkpoint_format(c, &text, &tlen);
    if (err)
        return err;
    err = dm_tlog_note_sign(text, tlen, key, note, len);
    free(text);
    return err;
}

int dm_tlog_log_create(const char *dir, const dm_tlog_signer *key) {
    const dm_tlog_verifier *v = dm_tlog_signer_verifier(key);
    char path[4096];
    int err = path_join(path, sizeof path, dir, "checkpoint");
    if (err)
        return err;
    struct stat st;
    if (lstat(path, &st) == 0)
        return dm_fail(DM_ERR_USAGE, "%s exists: refusing to start a log over another", path);
    if (mkdir(dir, 0755) == 0)
        chmod(dir, 0755);
    else if (errno != EEXIST)
        return dm_fail(DM_ERR_IO, "%s: %s", dir, strerror(errno));
    dm_tlog_checkpoint c = {0};
    snprintf(c.origin, sizeof c.origin, "%s", v->name);
    dm_tlog_empty_root(c.root);
    char *note;
    size_t len;
    err = sign_checkpoint(key, &c, &note, &len);
    if (err)
        return err;
    dm_tlog_log l = {.dir = (char *)dir, .key = key};
    err = path_join(path, sizeof path, dir, "lock");
    if (!err) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            err = dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
        else {
            if (fchmod(fd, 0644) != 0)
                err = dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
            close(fd);
        }
    }
    int published;
    if (!err)
        err = publish_checkpoint(&l, note, len, &published);
    free(note);
    return err;
}

void dm_tlog_log_remove_empty(const char *dir) {
    static const char *const files[] = {"checkpoint", "lock"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (path_join(path, sizeof path, dir, files[i]) == DM_OK)
            unlink(path);
    rmdir(dir);
}

/* ------------------------------------------------------------------ opening */

static int read_rel(const char *dir, const char *rel, uint8_t **data, size_t *len) {
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(dir);
    return f.fetch(f.ctx, rel, data, len);
}

static int load_checkpoint(const char *dir, const char *rel, const dm_tlog_verifier *v,
                           dm_tlog_checkpoint *c, char **text, size_t *len) {
    uint8_t *data;
    size_t n;
    int err = read_rel(dir, rel, &data, &n);
    if (err)
        return err;
    err = dm_tlog_checkpoint_open((const char *)data, n, v, NULL, 0, 0, c);
    if (err) {
        free(data);
        return err;
    }
    *text = (char *)data;
    *len = n;
    return DM_OK;
}

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

/* A checkpoint.new left by a crash: finished if it is a signed, consistent
 * extension whose tiles are all in place, removed otherwise. */
static int recover_pending(dm_tlog_log *l) {
    char path[4096];
    int err = path_join(path, sizeof path, l->dir, "checkpoint.new");
    if (err)
        return err;
    struct stat st;
    if (lstat(path, &st) != 0)
        return DM_OK;
    dm_tlog_checkpoint c;
    char *text = NULL;
    size_t len;
    const dm_tlog_verifier *v = dm_tlog_signer_verifier(l->key);
    int ok = load_checkpoint(l->dir, "checkpoint.new", v, &c, &text, &len) == DM_OK &&
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
    }
    if (ok) {
        char to[4096];
        err = path_join(to, sizeof to, l->dir, "checkpoint");
        if (!err && dm_tlog_io_rename("log/publish", path, to) != 0)
            err = dm_fail(DM_ERR_IO, "%s: %s", to, strerror(errno));
        if (!err)
            err = dm_tlog_io_fsync_dir("log/publish", l->dir);
        if (!err) {
            free(l->cp_text);
            l->cp = c;
            l->cp_text = text;
            l->cp_len = len;
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
    int err =
        l->dir ? path_join(path, sizeof path, dir, "lock") : dm_fail(DM_ERR_NOMEM, "out of memory");
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
        err = load_checkpoint(dir, "checkpoint", dm_tlog_signer_verifier(key), &l->cp, &l->cp_text,
                              &l->cp_len);
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
        dm_tlog_log_close(l);
        return err;
    }
    *out = l;
    return DM_OK;
}

void dm_tlog_log_close(dm_tlog_log *l) {
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
        err = path_join(p, sizeof p, l->dir, l->dirs[i]);
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
        err = sign_checkpoint(l->key, &c, &note, &len);
    if (!err)
        err = publish_checkpoint(l, note, len, &published);
    if (err && published) {
        /* In place but perhaps not durable: this process goes on from it. */
        free(l->cp_text);
        l->cp = c;
        l->cp_text = note;
        l->cp_len = len;
        l->n_dirs = 0;
        l->dirs_overflow = 0;
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
    free(l->cp_text);
    l->cp = c;
    l->cp_text = note;
    l->cp_len = len;
    l->n_dirs = 0;
    l->dirs_overflow = 0;
    return DM_OK;
}

static int same_key(const dm_tlog_note_sig *a, const dm_tlog_note_sig *b) {
    return a->id == b->id && strcmp(a->name, b->name) == 0;
}

/* Signature i of n is kept unless a later one (of n, or any of also) is
 * from the same key. */
static int superseded(const dm_tlog_note *n, size_t i, const dm_tlog_note *also) {
    for (size_t j = i + 1; j < n->n_sigs; j++)
        if (same_key(&n->sigs[i], &n->sigs[j]))
            return 1;
    for (size_t j = 0; also && j < also->n_sigs; j++)
        if (same_key(&n->sigs[i], &also->sigs[j]))
            return 1;
    return 0;
}

/* The checkpoint keeps one signature per key (name and key id): a witness
 * that cosigns the same checkpoint again (every restart of the agent asks)
 * replaces its line instead of adding one, so the note never grows past what
 * a verifier accepts. A checkpoint that already holds repeated lines (written
 * before this rule) is cleaned by its next cosignature. */
int dm_tlog_log_add_cosignatures(dm_tlog_log *l, const char *lines, size_t len) {
    dm_tlog_note *old = NULL, *add = NULL;
    char *text = NULL;
    int err = dm_tlog_note_parse(l->cp_text, l->cp_len, &old);
    if (!err) {
        size_t n = old->text_len + 1 + len;
        char *joined = malloc(n + 1);
        if (!joined)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        if (!err) {
            memcpy(joined, old->text, old->text_len);
            joined[old->text_len] = '\n';
            memcpy(joined + old->text_len + 1, lines, len);
            joined[n] = '\0';
            err = dm_tlog_note_parse(joined, n, &add);
            free(joined);
        }
    }
    size_t total = 0, kept = 0;
    if (!err) {
        text = malloc(l->cp_len + len + 2);
        if (!text)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    if (!err) {
        memcpy(text, old->text, old->text_len);
        text[old->text_len] = '\n';
        total = old->text_len + 1;
        for (int pass = 0; pass < 2; pass++) {
            const dm_tlog_note *from = pass == 0 ? old : add;
            for (size_t i = 0; i < from->n_sigs; i++) {
                if (superseded(from, i, pass == 0 ? add : NULL))
                    continue;
                memcpy(text + total, from->sigs[i].line, from->sigs[i].line_len);
                total += from->sigs[i].line_len;
                kept++;
            }
        }
        text[total] = '\0';
        if (kept > DM_TLOG_MAX_SIGS)
            err = dm_fail(DM_ERR_USAGE, "more than %d signatures on the checkpoint",
                          DM_TLOG_MAX_SIGS);
    }
    dm_tlog_note_free(old);
    dm_tlog_note_free(add);
    dm_tlog_note *check = NULL;
    if (!err)
        err = dm_tlog_note_parse(text, total, &check);
    dm_tlog_note_free(check);
    int published = 0;
    if (!err)
        err = publish_checkpoint(l, text, total, &published);
    if (err && !published) {
        free(text);
        return err;
    }
    free(l->cp_text);
    l->cp_text = text;
    l->cp_len = total;
    return err;
}

/* A proof's hashes: from the memo, else from the committed tiles (a reader
 * opened on the first miss). */
typedef struct memo_ctx {
    dm_tlog_log *l;
    dm_tlog_reader *r;
} memo_ctx;

static int memo_hash(void *ctx, unsigned level, uint64_t index, dm_tlog_hash out) {
    memo_ctx *m = ctx;
    dm_tlog_log *l = m->l;
    size_t slot =
        (size_t)(((index ^ ((uint64_t)level << 56)) * UINT64_C(0x9E3779B97F4A7C15)) >> 54) %
        MEMO_SLOTS;
    if (l->memo[slot].used && l->memo[slot].level == level && l->memo[slot].index == index) {
        memcpy(out, l->memo[slot].hash, DM_TLOG_HASH_LEN);
        return DM_OK;
    }
    int err =
        m->r == NULL ? dm_tlog_reader_new(dm_tlog_dir_fetcher(l->dir), l->cp.size, &m->r) : DM_OK;
    if (!err)
        err = dm_tlog_reader_hash(m->r, level, index, out);
    if (!err) {
        l->memo[slot].used = 1;
        l->memo[slot].level = level;
        l->memo[slot].index = index;
        memcpy(l->memo[slot].hash, out, DM_TLOG_HASH_LEN);
    }
    return err;
}

static int check_size(const dm_tlog_log *l, uint64_t size) {
    if (size > l->cp.size)
        return dm_fail(DM_ERR_USAGE, "size %" PRIu64 " is beyond the committed %" PRIu64, size,
                       l->cp.size);
    return DM_OK;
}

int dm_tlog_log_prove_inclusion(dm_tlog_log *l, uint64_t index, uint64_t size, dm_tlog_hash *proof,
                                size_t *n) {
    memo_ctx m = {l, NULL};
    int err = check_size(l, size);
    if (!err)
        err = dm_tlog_prove_inclusion(memo_hash, &m, index, size, proof, n);
    dm_tlog_reader_free(m.r);
    return err;
}

int dm_tlog_log_prove_consistency(dm_tlog_log *l, uint64_t size1, uint64_t size2,
                                  dm_tlog_hash *proof, size_t *n) {
    memo_ctx m = {l, NULL};
    int err = check_size(l, size2);
    if (!err)
        err = dm_tlog_prove_consistency(memo_hash, &m, size1, size2, proof, n);
    dm_tlog_reader_free(m.r);
    return err;
}
