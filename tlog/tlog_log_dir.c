/* A log's directory: durable writes of its files, the publication of a signed
 * checkpoint, a log started and a log just made removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlog_log.h"

/* ------------------------------------------------------------- file system */

int dm_tlog_dir_path(char *out, size_t cap, const char *dir, const char *rel) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, rel) >= cap)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
    return DM_OK;
}

/* mkdir -p of rel's parent directories under dir. */
static int make_parents(const char *dir, const char *rel) {
    char path[4096];
    int err = dm_tlog_dir_path(path, sizeof path, dir, rel);
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
int dm_tlog_dir_write(const char *point, const char *dir, const char *rel, const uint8_t *data,
                      size_t len) {
    char path[4096], tmp[4200];
    int err = dm_tlog_dir_path(path, sizeof path, dir, rel);
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

/* ------------------------------------------------------------ the checkpoint */

/* Publishes a signed checkpoint: DM_OK, or an error with *published telling
 * whether it replaced the old one (it did once the rename succeeded, even
 * when the directory's fsync then failed: the file in place is the new one).
 * A checkpoint.new that was not published is removed, so that the log stays
 * at its old checkpoint, also for the next open. */
int dm_tlog_dir_publish(const char *dir, const char *text, size_t len, int *published) {
    *published = 0;
    int err =
        dm_tlog_dir_write("log/checkpoint", dir, "checkpoint.new", (const uint8_t *)text, len);
    char from[4096] = "", to[4096] = "";
    if (!err)
        err = dm_tlog_dir_path(from, sizeof from, dir, "checkpoint.new");
    if (!err)
        err = dm_tlog_dir_path(to, sizeof to, dir, "checkpoint");
    if (!err && dm_tlog_io_rename("log/publish", from, to) != 0) {
        err = dm_fail(DM_ERR_IO, "%s: %s", to, strerror(errno));
        unlink(from);
    }
    if (!err)
        *published = 1;
    if (!err)
        err = dm_tlog_io_fsync_dir("log/publish", dir);
    return err;
}

int dm_tlog_checkpoint_sign(const dm_tlog_signer *key, const dm_tlog_checkpoint *c, char **note,
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
    int err = dm_tlog_dir_path(path, sizeof path, dir, "checkpoint");
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
    err = dm_tlog_checkpoint_sign(key, &c, &note, &len);
    if (err)
        return err;
    err = dm_tlog_dir_path(path, sizeof path, dir, "lock");
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
        err = dm_tlog_dir_publish(dir, note, len, &published);
    free(note);
    return err;
}

void dm_tlog_log_remove_empty(const char *dir) {
    static const char *const files[] = {"checkpoint", "lock"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (dm_tlog_dir_path(path, sizeof path, dir, files[i]) == DM_OK)
            unlink(path);
    rmdir(dir);
}

static int read_rel(const char *dir, const char *rel, uint8_t **data, size_t *len) {
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(dir);
    int err = f.fetch(f.ctx, rel, data, len);
    dm_tlog_fetcher_clear(&f);
    return err;
}

int dm_tlog_dir_load_checkpoint(const char *dir, const char *rel, const dm_tlog_verifier *v,
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
