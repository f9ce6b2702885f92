/* OpenSSH's ssh-keygen turns a passphrase-protected OpenSSH-format RSA key
 * into PEM, in memory only, for the one key libssh 0.10 opens but will not
 * hand back (its export refuses an RSA key read from OpenSSH's format, and
 * no Debian library exposes the format's bcrypt KDF).
 *
 * The key file's bytes go into an anonymous memory file (memfd_create),
 * never a file on disk; ssh-keygen rewrites it in place ("ssh-keygen -p -m
 * PEM -f /proc/self/fd/3": it opens that path with O_TRUNC and writes). It
 * reads passphrases from its controlling terminal only, never from its
 * command line here (argv is readable by every local user in
 * /proc/PID/cmdline), so it runs as the leader of a new session on a
 * pseudo-terminal whose master side answers its three prompts. Every wait
 * is bounded; the child is killed and reaped on every failure; what it
 * prints is never shown, only translated into one line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "doormat/base.h"
#include "ssh.h"

#define KEYGEN "ssh-keygen"
/* The whole conversion: one bcrypt KDF run by ssh-keygen, a few writes. */
#define KEYGEN_TIMEOUT_MS 10000
/* readpassphrase's buffer in ssh-keygen is 1024 bytes with the NUL. */
#define MAX_TYPED 1023
/* The PEM form of a key that fit in MAX_KEY_FILE is about as big. */
#define MAX_PEM (64u << 10)
/* What ssh-keygen prints is kept only to recognise its prompts and verdict. */
#define TRANSCRIPT 4096

static const char PROMPT_OLD[] = "Enter old passphrase: ";
static const char PROMPT_NEW[] = "Enter new passphrase (empty for no passphrase): ";
static const char PROMPT_AGAIN[] = "Enter same passphrase again: ";

/* ssh-keygen on PATH (absolute entries only), or the line naming its package. */
static int find_keygen(char **path_out, char **search_out) {
    const char *path = getenv("PATH");
    char fallback[256];
    if (path == NULL || *path == '\0') {
        size_t n = confstr(_CS_PATH, fallback, sizeof fallback);
        path = n > 0 && n <= sizeof fallback ? fallback : "/bin:/usr/bin";
    }
    int err = dm_path_search(path, "", KEYGEN, "ssh-keygen path", path_out);
    if (err == DM_OK && (*search_out = strdup(path)) == NULL) {
        free(*path_out);
        *path_out = NULL;
        return dm_fail(DM_ERR_NOMEM, "ssh-keygen path");
    }
    if (err != DM_ERR_NO_MATCH)
        return err;
    return dm_fail(DM_ERR_USAGE,
                   "a passphrase-protected ssh-rsa key in OpenSSH format is read with the "
                   "help of ssh-keygen, which is not in PATH (install openssh-client)");
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The key file's bytes in a memory file, mode 0600 (ssh-keygen refuses a
 * key file others could read), on a descriptor above the standard ones. */
static int memfd_with(const char *text, size_t len, int *fd_out) {
    int raw = memfd_create("doormat-ssh-key", MFD_CLOEXEC);
    if (raw < 0)
        return dm_fail(DM_ERR_IO, "memory file for the SSH key: %s", strerror(errno));
    int fd = fcntl(raw, F_DUPFD_CLOEXEC, 10);
    close(raw);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return dm_fail(DM_ERR_IO, "memory file for the SSH key: %s", strerror(e));
    }
    if (dm_write_all(fd, text, len) != 0) {
        int e = errno;
        close(fd);
        return dm_fail(DM_ERR_IO, "memory file for the SSH key: %s", strerror(e));
    }
    *fd_out = fd;
    return DM_OK;
}

/* A pseudo-terminal in raw mode: what the parent types reaches ssh-keygen's
 * readpassphrase byte for byte (no ^C, ^U or ^S is interpreted; it takes
 * the raw settings over and only turns echo off). */
static int pty_open(int *master_out, int *slave_out, char *name, size_t name_cap) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return dm_fail(DM_ERR_IO, "pseudo-terminal for ssh-keygen: %s", strerror(errno));
    int s = -1;
    struct termios t;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, name_cap) != 0 ||
        (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 || tcgetattr(s, &t) != 0) {
        int e = errno;
        close(m);
        if (s >= 0)
            close(s);
        return dm_fail(DM_ERR_IO, "pseudo-terminal for ssh-keygen: %s", strerror(e));
    }
    cfmakeraw(&t);
    if (tcsetattr(s, TCSANOW, &t) != 0) {
        int e = errno;
        close(m);
        close(s);
        return dm_fail(DM_ERR_IO, "pseudo-terminal for ssh-keygen: %s", strerror(e));
    }
    *master_out = m;
    *slave_out = s;
    return DM_OK;
}

/* Starts ssh-keygen as a session leader whose controlling terminal is the
 * pty (opened by name after setsid), memfd as its descriptor 3, nothing
 * else of ours, and a minimal environment: no SSH_ASKPASS and no DISPLAY,
 * so it can only ask on the terminal. */
static int spawn_keygen(const char *keygen, const char *search, const char *pty_name, int memfd,
                        pid_t *pid_out) {
    size_t env_cap = strlen(search) + sizeof "PATH=";
    char *env_path = malloc(env_cap);
    if (env_path == NULL)
        return dm_fail(DM_ERR_NOMEM, "ssh-keygen");
    snprintf(env_path, env_cap, "PATH=%s", search);
    char *envp[] = {env_path, "LC_ALL=C", NULL};
    char *argv[] = {KEYGEN, "-p", "-m", "PEM", "-f", "/proc/self/fd/3", NULL};

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, pty_name, O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, STDIN_FILENO, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, STDIN_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_adddup2(&fa, memfd, 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    static const int reset[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                SIGTSTP, SIGTTIN, SIGTTOU, SIGCHLD, SIGALRM};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaddset(&def, reset[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid_out, keygen, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env_path);
    if (rc != 0)
        return dm_fail(DM_ERR_USAGE, "cannot run %s to read the SSH key: %s", keygen, strerror(rc));
    return DM_OK;
}

/* Types one passphrase and the carriage return that ends it. */
static int type_line(int master, const char *pass) {
    size_t n = strlen(pass);
    char *line = dm_secret_alloc(n + 1);
    if (line == NULL)
        return dm_fail(DM_ERR_NOMEM, "passphrase");
    memcpy(line, pass, n);
    line[n] = '\r';
    int err = dm_write_all(master, line, n + 1) == 0
                  ? DM_OK
                  : dm_fail(DM_ERR_USAGE, "ssh-keygen stopped reading the passphrase");
    dm_secret_free(line);
    return err;
}

static int ends_with(const char *buf, size_t len, const char *tail) {
    size_t n = strlen(tail);
    return len >= n && memcmp(buf + len - n, tail, n) == 0;
}

/* Kills (if still running) and reaps the child; its wait status. */
static int reap(pid_t pid, long deadline, int *status) {
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
        if (now_ms() >= deadline)
            break;
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

/* Talks to ssh-keygen until its terminal closes: the old passphrase, then
 * the new one twice. DM_OK when it asked all three and exited with 0 (its
 * last words, "saved", may be lost with the terminal); what it wrote is
 * checked by the caller. */
static int converse(int master, pid_t pid, const char *old_pass, const char *new_pass,
                    long deadline) {
    char transcript[TRANSCRIPT]; /* prompts and messages, no passphrase (echo is off) */
    size_t len = 0;
    int step = 0, timed_out = 0;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {master, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        char buf[512]; /* smaller than TRANSCRIPT */
        ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EIO: every descriptor of the terminal closed, it exited */
        if ((size_t)n > TRANSCRIPT - len) { /* keep the end: prompts come last */
            size_t keep = TRANSCRIPT - (size_t)n;
            memmove(transcript, transcript + len - keep, keep);
            len = keep;
        }
        memcpy(transcript + len, buf, (size_t)n);
        len += (size_t)n;
        const char *answer = NULL;
        if (step == 0 && ends_with(transcript, len, PROMPT_OLD))
            answer = old_pass;
        else if (step == 1 && ends_with(transcript, len, PROMPT_NEW))
            answer = new_pass;
        else if (step == 2 && ends_with(transcript, len, PROMPT_AGAIN))
            answer = new_pass;
        if (answer != NULL) {
            int err = type_line(master, answer);
            if (err != DM_OK) {
                reap(pid, 0, &(int){0});
                return err;
            }
            step++;
            len = 0;
        }
    }
    int incorrect = memmem(transcript, len, "incorrect passphrase", 20) != NULL;
    int status = 0;
    int exited = reap(pid, timed_out ? 0 : deadline, &status);
    sodium_memzero(transcript, sizeof transcript);
    if (timed_out || !exited)
        return dm_fail(DM_ERR_USAGE,
                       "ssh-keygen did not finish converting the SSH key within %d seconds",
                       KEYGEN_TIMEOUT_MS / 1000);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && step == 3)
        return DM_OK;
    if (incorrect)
        return dm_fail(DM_ERR_USAGE, "incorrect passphrase for the SSH key");
    if (WIFSIGNALED(status))
        return dm_fail(DM_ERR_USAGE,
                       "ssh-keygen was killed by signal %d while converting the "
                       "SSH key",
                       WTERMSIG(status));
    return dm_fail(DM_ERR_USAGE,
                   "ssh-keygen could not convert the SSH key in memory (exit status %d%s)",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                   step < 3 ? ", before it asked for every passphrase" : "");
}

/* What ssh-keygen left in the memory file, into guarded memory. */
static int read_back(int fd, char **out, size_t *out_len) {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uintmax_t)st.st_size > MAX_PEM)
        return dm_fail(DM_ERR_USAGE, "ssh-keygen left no usable key in memory");
    size_t size = (size_t)st.st_size;
    char *buf = dm_secret_alloc(size + 1);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "SSH private key");
    if (dm_pread_all(fd, buf, size, 0) != (ssize_t)size) {
        dm_secret_free(buf);
        return dm_fail(DM_ERR_USAGE, "ssh-keygen left no usable key in memory");
    }
    buf[size] = '\0';
    *out = buf;
    *out_len = size;
    return DM_OK;
}

int dm_ssh_keygen_to_pem(const char *text, size_t len, const char *passphrase, char **pem_out,
                         size_t *pem_len, char **pem_pass_out) {
    size_t pass_len = strlen(passphrase);
    if (pass_len > MAX_TYPED || strpbrk(passphrase, "\r\n") != NULL)
        return dm_fail(DM_ERR_USAGE, "the SSH key's passphrase can't be typed to ssh-keygen "
                                     "(longer than 1023 bytes, or with a line break)");
    char *keygen = NULL, *search = NULL;
    int err = find_keygen(&keygen, &search);
    if (err != DM_OK)
        return err;
    /* The PEM's passphrase is a fresh random one, not the user's: the memory
     * file then never holds the key in clear (the reason an empty one was
     * not chosen), the user's passphrase is never exposed to PEM's weak key
     * derivation (one MD5 round, cheap to guess against), and ssh-keygen's
     * PEM writer, which refuses passphrases of 1 to 4 characters, accepts
     * it whatever the user's is. It lives in guarded memory until the PEM
     * is read. */
    uint8_t raw[24];
    char *pem_pass =
        dm_secret_alloc(sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE));
    if (pem_pass == NULL) {
        free(keygen);
        free(search);
        return dm_fail(DM_ERR_NOMEM, "passphrase");
    }
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(pem_pass,
                      sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE), raw,
                      sizeof raw, sodium_base64_VARIANT_URLSAFE);
    sodium_memzero(raw, sizeof raw);

    int memfd = -1, master = -1, slave = -1;
    char pty_name[128];
    pid_t pid = -1;
    err = memfd_with(text, len, &memfd);
    if (err == DM_OK)
        err = pty_open(&master, &slave, pty_name, sizeof pty_name);
    if (err == DM_OK) {
        long deadline = now_ms() + KEYGEN_TIMEOUT_MS;
        err = spawn_keygen(keygen, search, pty_name, memfd, &pid);
        /* The child holds the terminal now: when it exits, reads end (EIO). */
        close(slave);
        slave = -1;
        if (err == DM_OK)
            err = converse(master, pid, passphrase, pem_pass, deadline);
    }
    if (err == DM_OK)
        err = read_back(memfd, pem_out, pem_len);
    if (master >= 0)
        close(master);
    if (slave >= 0)
        close(slave);
    if (memfd >= 0)
        close(memfd); /* its last reference: the kernel frees its pages */
    free(keygen);
    free(search);
    if (err != DM_OK) {
        dm_secret_free(pem_pass);
        return err;
    }
    *pem_pass_out = pem_pass;
    return DM_OK;
}
