/* Holding a log directory or a witness's state: one process at a time.
 *
 * The lock is an exclusive flock on a lock file. Whoever takes it writes
 * into that file who it is (process id, time taken, what it is), so that
 * whoever finds it held can say who to stop instead of hanging. The file's
 * text is shown, never believed: when the flock can be taken, whoever wrote
 * the text is gone, and it is overwritten. flock's lock belongs to the open
 * file description, so rewriting the file's bytes does not touch it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlog_internal.h"

#define POLL_NS 100000000L /* a waiting process tries again every 100 ms */
#define HOLDER_MAX 120     /* characters of the holder's name kept and shown */

static void write_holder(int fd, const char *holder) {
    char when[32], line[HOLDER_MAX + 64];
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(when, sizeof when, "?");
    int n = snprintf(line, sizeof line, "%ld %s%s%.*s\n", (long)getpid(), when, holder ? " " : "",
                     HOLDER_MAX, holder ? holder : "");
    /* Only ever a message for someone else: failing to write it (or writing a
     * part, which describe_holder does not take) costs that message and
     * nothing else, so it is not a failure. */
    if (n > 0 && ftruncate(fd, 0) == 0) {
        ssize_t written = pwrite(fd, line, (size_t)n, 0);
        (void)written;
    }
}

/* The lock file's text, as a mark of who holds it now ("" when unreadable). */
static void holder_mark(int fd, char *out, size_t cap) {
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
}

/* "pid 1234, doormat escrow serve, since 2026-12-07T16:20:01Z" from the lock
 * file's "1234 2026-12-07T16:20:01Z doormat escrow serve\n"; 0 when it holds
 * nothing of the kind (a holder that has not written it yet, or an older
 * doormat). Printable ASCII only reaches the message. */
static int describe_holder(int fd, char *out, size_t cap) {
    char buf[HOLDER_MAX + 64];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl == NULL)
        return 0;
    *nl = '\0';
    size_t pid_len = strspn(buf, "0123456789");
    if (pid_len == 0 || pid_len > 10 || buf[pid_len] != ' ')
        return 0;
    const char *when = buf + pid_len + 1;
    size_t when_len = strspn(when, "0123456789-T:Z");
    if (when_len == 0 || (when[when_len] != '\0' && when[when_len] != ' '))
        return 0;
    const char *holder = when[when_len] == ' ' ? when + when_len + 1 : when + when_len;
    for (const char *p = holder; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return 0;
    snprintf(out, cap, "pid %.*s, %s%ssince %.*s", (int)pid_len, buf, holder, *holder ? ", " : "",
             (int)when_len, when);
    return 1;
}

int dm_tlog_lock_take(int fd, const char *name, const char *what, const dm_tlog_lock_opts *o) {
    static const dm_tlog_lock_opts waiting = {NULL, DM_TLOG_LOCK_WAIT};
    if (o == NULL)
        o = &waiting;
    char seen[HOLDER_MAX + 64] = "", mark[HOLDER_MAX + 64];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            write_holder(fd, o->holder);
            return DM_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return dm_fail(DM_ERR_IO, "%s: cannot lock: %s", name, strerror(errno));
        if (o->wait_s == 0)
            break;
        /* The wait is for any one holder: processes that take turns (short
         * writers one after another) are progress, one that keeps the lock
         * (a running agent) is not. */
        clock_gettime(CLOCK_MONOTONIC, &now);
        holder_mark(fd, mark, sizeof mark);
        if (strcmp(mark, seen) != 0) {
            memcpy(seen, mark, sizeof seen);
            start = now;
        } else if ((int64_t)(now.tv_sec - start.tv_sec) * 1000000000 +
                       (now.tv_nsec - start.tv_nsec) >=
                   (int64_t)o->wait_s * 1000000000) {
            /* whole nanoseconds: comparing seconds alone gave up as early as
             * wait_s - 1 s after the holder was first seen */
            break;
        }
        struct timespec pause = {0, POLL_NS};
        nanosleep(&pause, NULL);
    }
    char who[HOLDER_MAX + 80];
    if (!describe_holder(fd, who, sizeof who)) {
        /* The holder may have its lock and not its line yet. */
        struct timespec pause = {0, POLL_NS};
        nanosleep(&pause, NULL);
        if (!describe_holder(fd, who, sizeof who))
            snprintf(who, sizeof who, "its lock file does not say which");
    }
    if (o->wait_s > 0)
        return dm_fail(DM_ERR_BUSY,
                       "%s: %s is held by another process (%s), still after %u s; stop it first",
                       name, what, who, o->wait_s);
    return dm_fail(DM_ERR_BUSY, "%s: %s is held by another process (%s); stop it first", name, what,
                   who);
}

void dm_tlog_lock_drop(int fd) {
    if (fd < 0)
        return;
    /* Nobody holds it now. Should emptying fail, the line stays: stale, and
     * only ever shown, never believed. */
    int emptied = ftruncate(fd, 0);
    (void)emptied;
    close(fd); /* releases the flock */
}

/* ------------------------------------------------------ a witness's state */

struct dm_tlog_lock {
    int fd;
};

int dm_tlog_witness_hold(const char *state_dir, const dm_tlog_lock_opts *o, dm_tlog_lock **out) {
    *out = NULL;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/serve.lock", state_dir) >= sizeof path)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", state_dir);
    /* A first start makes the state directory itself (its parent must be
     * there: the witness's directory, or systemd's StateDirectory). */
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return dm_fail(DM_ERR_IO, "%s: %s", state_dir, strerror(errno));
    dm_tlog_lock *l = malloc(sizeof *l);
    if (l == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int err = l->fd < 0 ? dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno))
                        : dm_tlog_lock_take(l->fd, state_dir, "the witness state", o);
    if (err) {
        if (l->fd >= 0)
            close(l->fd);
        free(l);
        return err;
    }
    *out = l;
    return DM_OK;
}

void dm_tlog_lock_free(dm_tlog_lock *l) {
    if (l == NULL)
        return;
    dm_tlog_lock_drop(l->fd);
    free(l);
}
