/* age-plugin-NAME as a child process: found on $PATH, started with pipes
 * for its standard input, output and error, every wait bounded, and killed
 * and reaped on every path (no zombies, no descriptors left behind). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin.h"

extern char **environ;

#define PLUGIN_PREFIX "age-plugin-"
/* The last bytes of the plugin's standard error, quoted when it fails. */
#define ERR_TAIL 1024
/* How long a plugin may take to exit once its pipes are closed. */
#define EXIT_GRACE_MS 2000
/* How long after SIGTERM before SIGKILL. */
#define TERM_GRACE_MS 500

struct dm_plugin_proc {
    pid_t pid;
    int to_fd, from_fd, err_fd;
    char name[DM_PLUGIN_MAX_NAME + 1];
    int timeout_ms;
    char tail[ERR_TAIL];
    size_t tail_len;
    int gone;      /* its output ended, or its input was closed: it is going away */
    int timed_out; /* it said nothing for timeout_ms */
    sigset_t old_mask;
    int pipe_was_pending;
};

/* ------------------------------------------------------------- finding */

int dm_path_search(const char *search, const char *prefix, const char *name, const char *what,
                   char **path_out) {
    size_t name_len = strlen(prefix) + strlen(name);
    for (const char *p = search;;) {
        const char *colon = strchr(p, ':');
        size_t dir_len = colon ? (size_t)(colon - p) : strlen(p);
        /* Relative entries (and the empty one, the current directory) are never searched. */
        if (dir_len > 0 && p[0] == '/') {
            char *cand = malloc(dir_len + 1 + name_len + 1);
            if (cand == NULL)
                return dm_fail(DM_ERR_NOMEM, "%s", what);
            memcpy(cand, p, dir_len);
            snprintf(cand + dir_len, name_len + 2, "/%s%s", prefix, name);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                *path_out = cand;
                return DM_OK;
            }
            free(cand);
        }
        if (colon == NULL)
            return DM_ERR_NO_MATCH;
        p = colon + 1;
    }
}

int dm_plugin_find(const char *name, char **path_out) {
    const char *path = getenv("PATH");
    char fallback[256];
    if (path == NULL) {
        size_t n = confstr(_CS_PATH, fallback, sizeof fallback);
        path = n > 0 && n <= sizeof fallback ? fallback : "/bin:/usr/bin";
    }
    int err = dm_path_search(path, PLUGIN_PREFIX, name, "plugin path", path_out);
    if (err != DM_ERR_NO_MATCH)
        return err;
    /* age 1.3's hint, on the same line: where plugins are listed. */
    return dm_fail(DM_ERR_USAGE,
                   "%s%s not found in PATH (you might want to install the \"%s\" plugin: see "
                   "https://age-encryption.org/awesome#plugins)",
                   PLUGIN_PREFIX, name, name);
}

/* ------------------------------------------------------------ starting */

static void close_fd(int *fd) {
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void restore_signals(dm_plugin_proc *p) {
    /* A write to a plugin that had gone may have raised SIGPIPE while it was
     * blocked: take it back, unless it was pending before we started. */
    sigset_t pending;
    if (!p->pipe_was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, SIGPIPE);
        struct timespec zero = {0, 0};
        (void)sigtimedwait(&only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &p->old_mask, NULL);
}

int dm_plugin_proc_start(const char *name, const char *state_machine, int timeout_ms,
                         dm_plugin_proc **out) {
    char *path = NULL;
    int err = dm_plugin_find(name, &path);
    if (err != DM_OK)
        return err;
    dm_plugin_proc *p = calloc(1, sizeof *p);
    if (p == NULL) {
        free(path);
        return dm_fail(DM_ERR_NOMEM, "plugin");
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    p->timeout_ms = timeout_ms;
    p->to_fd = p->from_fd = p->err_fd = -1;

    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        err = dm_fail(DM_ERR_IO, "pipes for %s%s: %s", PLUGIN_PREFIX, name, strerror(errno));
        goto fail;
    }

    /* Writing to a plugin that died must be an error, not our death. */
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &p->old_mask);
    p->pipe_was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
    /* Nothing of ours but the three pipes: no output file, no key file. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* Plugins must not depend on the working directory (the spec). */
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &p->old_mask);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    char arg[64];
    snprintf(arg, sizeof arg, "--age-plugin=%s", state_machine);
    char *argv[] = {path, arg, NULL};
    int rc = posix_spawn(&p->pid, path, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        err = dm_fail(DM_ERR_PLUGIN, "cannot run %s: %s", path, strerror(rc));
        restore_signals(p);
        goto fail;
    }
    close_fd(&in[0]);
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    p->to_fd = in[1];
    p->from_fd = outp[0];
    p->err_fd = errp[0];
    (void)fcntl(p->to_fd, F_SETFL, fcntl(p->to_fd, F_GETFL) | O_NONBLOCK);
    free(path);
    *out = p;
    return DM_OK;

fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&outp[i]);
        close_fd(&errp[i]);
    }
    free(path);
    free(p);
    return err;
}

/* ------------------------------------------------------------- talking */

/* Keeps the last ERR_TAIL bytes of what the plugin writes on standard error;
 * at its end, stops listening. */
static void drain_stderr(dm_plugin_proc *p) {
    char buf[4096];
    ssize_t n = read(p->err_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close_fd(&p->err_fd);
        return;
    }
    size_t got = (size_t)n;
    if (got >= ERR_TAIL) {
        memcpy(p->tail, buf + got - ERR_TAIL, ERR_TAIL);
        p->tail_len = ERR_TAIL;
        return;
    }
    if (p->tail_len + got > ERR_TAIL) {
        size_t drop = p->tail_len + got - ERR_TAIL;
        memmove(p->tail, p->tail + drop, p->tail_len - drop);
        p->tail_len -= drop;
    }
    memcpy(p->tail + p->tail_len, buf, got);
    p->tail_len += got;
}

static int remaining(int64_t deadline) {
    if (deadline < 0)
        return -1;
    int64_t left = deadline - dm_plugin_now_ms();
    return left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

static int fail_timeout(dm_plugin_proc *p) {
    p->timed_out = 1;
    if (p->timeout_ms % 1000 == 0)
        return dm_fail(DM_ERR_PLUGIN, "%s%s gave no answer within %d s", PLUGIN_PREFIX, p->name,
                       p->timeout_ms / 1000);
    return dm_fail(DM_ERR_PLUGIN, "%s%s gave no answer within %d ms", PLUGIN_PREFIX, p->name,
                   p->timeout_ms);
}

/* Waits until fd is ready for events (or the deadline), listening to
 * standard error meanwhile. 1: ready, 0: timed out, -1: error. */
static int wait_for(dm_plugin_proc *p, int fd, short events, int64_t deadline) {
    for (;;) {
        struct pollfd fds[2] = {{fd, events, 0}, {p->err_fd, POLLIN, 0}};
        int n = poll(fds, 2, remaining(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (fds[1].revents != 0)
            drain_stderr(p);
        if (fds[0].revents != 0)
            return 1;
    }
}

static int proc_send(void *ctx, const uint8_t *buf, size_t n) {
    dm_plugin_proc *p = ctx;
    int64_t deadline = p->timeout_ms < 0 ? -1 : dm_plugin_now_ms() + p->timeout_ms;
    while (n > 0) {
        ssize_t w = write(p->to_fd, buf, n);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EPIPE) {
            p->gone = 1;
            return dm_fail(DM_ERR_PLUGIN, "%s%s stopped reading its input", PLUGIN_PREFIX, p->name);
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return dm_fail(DM_ERR_IO, "writing to %s%s: %s", PLUGIN_PREFIX, p->name,
                           strerror(errno));
        int ready = wait_for(p, p->to_fd, POLLOUT, deadline);
        if (ready == 0)
            return fail_timeout(p);
        if (ready < 0)
            return dm_fail(DM_ERR_IO, "waiting for %s%s: %s", PLUGIN_PREFIX, p->name,
                           strerror(errno));
    }
    return DM_OK;
}

static int proc_recv(void *ctx, uint8_t *buf, size_t n, int64_t deadline, size_t *got) {
    dm_plugin_proc *p = ctx;
    for (;;) {
        int ready = wait_for(p, p->from_fd, POLLIN, deadline);
        if (ready == 0)
            return fail_timeout(p);
        if (ready < 0)
            return dm_fail(DM_ERR_IO, "waiting for %s%s: %s", PLUGIN_PREFIX, p->name,
                           strerror(errno));
        ssize_t r = read(p->from_fd, buf, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return dm_fail(DM_ERR_IO, "reading from %s%s: %s", PLUGIN_PREFIX, p->name,
                           strerror(errno));
        if (r == 0)
            p->gone = 1;
        *got = (size_t)r;
        return DM_OK;
    }
}

dm_plugin_transport dm_plugin_proc_transport(dm_plugin_proc *p) {
    dm_plugin_transport t = {proc_send, proc_recv, p};
    return t;
}

/* ------------------------------------------------------------- ending */

/* Waits up to ms for the child to exit, listening to its standard error.
 * 1: reaped (status set), 0: still running. */
static int reap_within(dm_plugin_proc *p, int ms, int *status) {
    int64_t deadline = dm_plugin_now_ms() + ms;
    for (;;) {
        pid_t r = waitpid(p->pid, status, WNOHANG);
        if (r == p->pid)
            return 1;
        if (r < 0 && errno != EINTR) {
            *status = -1; /* not ours to reap after all (SIGCHLD ignored) */
            return 1;
        }
        int left = remaining(deadline);
        if (left == 0)
            return 0;
        struct pollfd fd = {p->err_fd, POLLIN, 0};
        /* A short nap between looks; standard error wakes it early. */
        int n = poll(&fd, 1, left < 20 ? left : 20);
        if (n > 0)
            drain_stderr(p);
    }
}

/* The last non-empty line of the plugin's standard error, printable, cut. */
static void last_line(const dm_plugin_proc *p, char *out, size_t cap) {
    size_t end = p->tail_len;
    while (end > 0 &&
           (p->tail[end - 1] == '\n' || p->tail[end - 1] == '\r' || p->tail[end - 1] == ' '))
        end--;
    size_t start = end;
    while (start > 0 && p->tail[start - 1] != '\n')
        start--;
    size_t n = end - start, w = 0;
    for (size_t i = 0; i < n && w + 1 < cap; i++) {
        unsigned char c = (unsigned char)p->tail[start + i];
        out[w++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n > w && w >= 3)
        memcpy(out + w - 3, "...", 3);
    out[w] = '\0';
}

int dm_plugin_proc_finish(dm_plugin_proc *p, int session_err) {
    /* Closing its input is how a plugin learns that we are done. */
    close_fd(&p->to_fd);
    close_fd(&p->from_fd);
    int status = 0;
    int reaped;
    if (session_err == DM_OK || session_err == DM_ERR_NO_MATCH || p->gone) {
        reaped = reap_within(p, EXIT_GRACE_MS, &status);
    } else {
        /* It hung or misbehaved: it is not waited for. */
        kill(p->pid, SIGTERM);
        reaped = reap_within(p, TERM_GRACE_MS, &status);
    }
    if (!reaped) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    /* It has ended, but what it wrote last on standard error may still be in
     * the pipe (its exit can be seen before its last line is read): take what
     * is there now, without waiting, before the line is quoted. */
    for (int i = 0; i < 64 && p->err_fd >= 0; i++) {
        struct pollfd fd = {p->err_fd, POLLIN, 0};
        if (poll(&fd, 1, 0) <= 0)
            break;
        drain_stderr(p);
    }
    close_fd(&p->err_fd);

    int err = session_err;
    if (err != DM_OK && p->gone && reaped && status != -1) {
        char said[128];
        last_line(p, said, sizeof said);
        const char *sep = said[0] ? ": " : "";
        if (WIFSIGNALED(status))
            err = dm_fail(DM_ERR_PLUGIN, "%s%s was killed by signal %d (%s)%s%s", PLUGIN_PREFIX,
                          p->name, WTERMSIG(status), strsignal(WTERMSIG(status)), sep, said);
        else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            err = dm_fail(DM_ERR_PLUGIN, "%s%s exited with status %d%s%s", PLUGIN_PREFIX, p->name,
                          WEXITSTATUS(status), sep, said);
        else if (said[0]) {
            char detail[256];
            snprintf(detail, sizeof detail, "%s", dm_err_detail());
            err = dm_fail(err, "%s%s%s", detail, sep, said);
        }
    }
    restore_signals(p);
    free(p);
    return err;
}
