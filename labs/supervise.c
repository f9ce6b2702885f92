/* The processes a lab starts (docs/labs.md): the real command run once, as a
 * separate process, and the HTTPS services a lab starts as children of the
 * command (doormat escrow serve), waited for through the port file each
 * writes once it listens, and always stopped: SIGTERM, then SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "doormat/base.h"
#include "labs.h"

/* The poll step of the waits below. */
#define STEP_NS (50 * 1000 * 1000)

static void step(void) {
    struct timespec ts = {0, STEP_NS};
    nanosleep(&ts, NULL);
}

int dm_lab_self_path(char *out, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0)
        return dm_fail(DM_ERR_IO, "/proc/self/exe: %s", strerror(errno));
    out[n] = '\0';
    return DM_OK;
}

/* In the child: standard input from /dev/null, output and errors to out_fd
 * and err_fd, then argv; 127 when it cannot run. */
static void child_exec(char *const argv[], int out_fd, int err_fd) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || out_fd < 0 || err_fd < 0)
        _exit(127);
    dup2(null, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execv(argv[0], argv);
    _exit(127);
}

int dm_lab_run(char *const argv[], const char *out_path) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : null;
        child_exec(argv, out, null);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
        return -1;
    return WEXITSTATUS(status);
}

pid_t dm_lab_spawn(char *const argv[], const char *log_path) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        child_exec(argv, log, log);
    }
    return pid < 0 ? -1 : pid;
}

void dm_lab_stop(pid_t pid) {
    if (pid <= 0)
        return;
    /* Ended already (reaped now), or no child of ours: nothing to signal. */
    pid_t w = waitpid(pid, NULL, WNOHANG);
    if (w == pid || (w < 0 && errno == ECHILD))
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        w = waitpid(pid, NULL, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD))
            return;
        step();
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* The port in port_file, or 0 while there is none (yet). */
static long read_port(const char *port_file) {
    char text[32];
    int fd = open(port_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = dm_read_all(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    long port = strtol(text, NULL, 10);
    return port > 0 && port < 65536 ? port : 0;
}

long dm_lab_wait_port(pid_t pid, const char *port_file, unsigned seconds) {
    unsigned steps = seconds * (1000000000u / STEP_NS);
    for (unsigned i = 0; i <= steps; i++) {
        long port = read_port(port_file);
        if (port > 0)
            return port;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -2;
        if (i < steps)
            step();
    }
    return -1;
}

int dm_lab_service_start(dm_lab_services *s, char *const argv[], const char *port_file,
                         const char *log_path, long *port) {
    if (s->n >= DM_LAB_MAX_SERVICES)
        return dm_fail(DM_ERR_INTERNAL, "too many services");
    pid_t pid = dm_lab_spawn(argv, log_path);
    if (pid < 0)
        return dm_fail(DM_ERR_IO, "cannot start %s: %s", argv[0], strerror(errno));
    s->pids[s->n++] = pid;
    *port = dm_lab_wait_port(pid, port_file, DM_LAB_START_SECONDS);
    if (*port == -2)
        s->n--; /* it ended, and is reaped: nothing to stop */
    if (*port < 0)
        return dm_fail(DM_ERR_IO, "the service did not start (see %s)", log_path);
    return DM_OK;
}

void dm_lab_services_stop(dm_lab_services *s) {
    for (size_t i = 0; i < s->n; i++)
        dm_lab_stop(s->pids[i]);
    s->n = 0;
}

int dm_lab_append_line(const char *path, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return dm_fail(DM_ERR_USAGE, "%s: line too long", path);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    int w = dm_write_all(fd, line, (size_t)n);
    int c = close(fd);
    if (w != 0 || c != 0)
        return dm_fail(DM_ERR_IO, "%s: cannot add a line", path);
    return DM_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int dm_lab_remove_tree(const char *dir) {
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0
               ? DM_OK
               : dm_fail(DM_ERR_IO, "%s: cannot remove", dir);
}
