/* Helpers shared by the command groups: messages, input files, passphrases and
 * the safe output that never leaves a half-written file behind. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "doormat/escrow.h"
#include "wordlist.h"

/* Bounds on what we slurp into memory: -R files, identity files, passphrases. */
#define CLI_MAX_TEXT_FILE (64u << 20)
#define CLI_MAX_SECRET_FILE (1u << 20)
#define CLI_MAX_PASSPHRASE 1024u

const char cli_exit_codes_help[] =
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  other failure (input/output, resources, a plugin that failed,\n"
    "     a log or witness state that another process holds)\n"
    "  2  usage error (bad option, bad key or recipient, bad passphrase input,\n"
    "     a plugin or ssh-keygen missing from $PATH)\n"
    "  3  malformed header or ASCII armor\n"
    "  4  no identity matched any of the file's recipients\n"
    "  5  header MAC mismatch (the header was altered)\n"
    "  6  payload authentication failed or payload truncated\n"
    "  7  escrow policy violated\n"
    "  8  access not authorised\n"
    "  9  a transparency log is inconsistent (fork, rollback, bad signature,\n"
    "     missing cosignature)\n";

/* ------------------------------------------------------------- messages */

/* Formats "doormat: ..." into one buffer and writes it with one call, with any
 * newline inside turned into a space: every failure must stay one line. */
static void emit_line(const char *text) {
    char line[1024];
    int n = snprintf(line, sizeof line - 1, "doormat: %s", text);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    fflush(stdout);
    fwrite(line, 1, len, stderr);
}

__attribute__((format(printf, 1, 0))) static void emit_vline(const char *fmt, va_list ap) {
    char text[900];
    vsnprintf(text, sizeof text, fmt, ap);
    emit_line(text);
}

void cli_msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit_vline(fmt, ap);
    va_end(ap);
}

int cli_fail(int err, const char *fmt, ...) {
    char what[512];
    char text[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *detail = dm_err_detail();
    if (detail != NULL && detail[0] != '\0')
        snprintf(text, sizeof text, "%s: %s: %s", what, dm_escrow_strerror(err), detail);
    else
        snprintf(text, sizeof text, "%s: %s", what, dm_escrow_strerror(err));
    emit_line(text);
    int code = cli_exit_code(err);
    return code == DM_EXIT_OK ? DM_EXIT_FAILURE : code;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit_vline(fmt, ap);
    va_end(ap);
    return DM_EXIT_USAGE;
}

int cli_help(const char *text) {
    fputs(text, stdout);
    fputs(cli_exit_codes_help, stdout);
    return cli_flush_stdout("the help");
}

int cli_flush_stdout(const char *what) {
    if (fflush(stdout) == 0 && !ferror(stdout))
        return DM_EXIT_OK;
    cli_msg("writing %s to standard output: %s", what, strerror(errno));
    return DM_EXIT_FAILURE;
}

int cli_bad_option(const char *cmd, char **argv, int c) {
    /* optopt is 0 for an unknown long option; the offending word is then the last one read. */
    const char *word = argv[optind - 1];
    if (c == ':')
        return cli_usage_error("%s: option %s needs an argument (see doormat %s --help)", cmd, word,
                               cmd);
    if (optopt != 0)
        return cli_usage_error("%s: unknown option -%c (see doormat %s --help)", cmd, optopt, cmd);
    return cli_usage_error("%s: unknown option %s (see doormat %s --help)", cmd, word, cmd);
}

/* ------------------------------------------------------------ start-up */

int cli_option_in(int c, const int *list) {
    for (const int *p = list; p != NULL && *p; p++)
        if (*p == c)
            return 1;
    return 0;
}

void cli_harden(void) {
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void cli_serve_settings(void) {
    /* A file size limit (RLIMIT_FSIZE) must fail a write, not kill the service. */
    signal(SIGXFSZ, SIG_IGN);
    /* Two descriptors a connection (one for its lingering close): the most
     * descriptors the system allows this process. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int cli_init(void) {
    int err = dm_init();
    if (err != DM_OK)
        return cli_fail(err, "initialising");
    return DM_EXIT_OK;
}

/* ------------------------------------------------------------ signals */

/* What the handler must undo: a temporary output file and a terminal left
 * without echo. Kept in static storage so the handler touches no heap. */
static char sig_tmp_path[PATH_MAX];
static volatile sig_atomic_t sig_tmp_armed;
static struct termios sig_tty_saved;
static volatile sig_atomic_t sig_tty_fd = -1;
static int sig_installed;

static void on_fatal_signal(int sig) {
    int saved_errno = errno;
    if (sig_tmp_armed)
        (void)unlink(sig_tmp_path);
    if (sig_tty_fd >= 0)
        (void)tcsetattr(sig_tty_fd, TCSANOW, &sig_tty_saved);
    /* Die of the same signal so the parent sees the true cause. */
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved_errno;
}

static void install_signal_handlers(void) {
    if (sig_installed)
        return;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        /* A signal ignored by whoever started us (nohup, a background job) stays ignored. */
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        (void)sigaction(sigs[i], &sa, NULL);
    }
    sig_installed = 1;
}

static void block_fatal_signals(sigset_t *old) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, old);
}

/* ------------------------------------------------------------- input */

int cli_open_input(const char *path) {
    if (path == NULL || strcmp(path, "-") == 0)
        return STDIN_FILENO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_msg("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_msg("cannot read %s: it is a directory", path);
        close(fd);
        return -1;
    }
    return fd;
}

typedef void *(*alloc_fn)(size_t);
typedef void (*free_fn)(void *);

static void *plain_alloc(size_t n) {
    return malloc(n);
}

/* Reads a whole fd; secret buffers grow by copying so no secret byte is left
 * behind in a freed, unzeroed block (realloc would leave one). */
static int read_all(int fd, const char *name, size_t max, alloc_fn alloc, free_fn release,
                    char **buf_out, size_t *len_out) {
    size_t cap = 4096, len = 0;
    char *buf = alloc(cap);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "reading %s", name);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= max) {
                release(buf);
                return dm_fail(DM_ERR_USAGE, "%s is larger than %zu bytes", name, max);
            }
            size_t ncap = cap * 2;
            char *nbuf = alloc(ncap);
            if (nbuf == NULL) {
                release(buf);
                return dm_fail(DM_ERR_NOMEM, "reading %s", name);
            }
            memcpy(nbuf, buf, len);
            release(buf);
            buf = nbuf;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            release(buf);
            return dm_fail(DM_ERR_IO, "reading %s: %s", name, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    return DM_OK;
}

static int read_path(const char *path, size_t max, alloc_fn alloc, free_fn release, int check_perms,
                     char **buf, size_t *len) {
    int use_stdin = path == NULL || strcmp(path, "-") == 0;
    const char *name = use_stdin ? "standard input" : path;
    int fd = STDIN_FILENO;
    if (!use_stdin) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return dm_fail(DM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        if (check_perms) {
            int err = cli_check_secret_perms(fd, path);
            if (err != DM_OK) {
                close(fd);
                return err;
            }
        }
    }
    int err = read_all(fd, name, max, alloc, release, buf, len);
    if (!use_stdin)
        close(fd);
    return err;
}

int cli_read_file(const char *path, char **buf, size_t *len) {
    return read_path(path, CLI_MAX_TEXT_FILE, plain_alloc, free, 0, buf, len);
}

int cli_read_secret_file(const char *path, char **buf, size_t *len) {
    return read_path(path, CLI_MAX_SECRET_FILE, dm_secret_alloc, dm_secret_free, 1, buf, len);
}

int cli_read_identity_file(const char *path, char **buf, size_t *len) {
    return read_path(path, CLI_MAX_SECRET_FILE, dm_secret_alloc, dm_secret_free, 0, buf, len);
}

int cli_check_secret_perms(int fd, const char *path) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return dm_fail(DM_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    /* Pipes and process substitution have no meaningful mode; only files do. */
    /* Say which: "others" for a group-only file sends people looking in the wrong place. */
    if (S_ISREG(st.st_mode) && (st.st_mode & S_IROTH) != 0)
        return dm_fail(DM_ERR_USAGE,
                       "identity file %s is readable by others (mode %04o); run chmod 600 %s", path,
                       (unsigned)(st.st_mode & 07777), path);
    if (S_ISREG(st.st_mode) && (st.st_mode & S_IRGRP) != 0)
        return dm_fail(DM_ERR_USAGE,
                       "identity file %s is group-readable (mode %04o); run chmod 600 %s", path,
                       (unsigned)(st.st_mode & 07777), path);
    return DM_OK;
}

/* --------------------------------------------------------- passphrases */

static int read_tty_line(int fd, char *buf, size_t cap, size_t *len) {
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return dm_fail(DM_ERR_IO, "reading the terminal: %s", strerror(errno));
        if (r == 0 || c == '\n')
            break;
        if (n + 1 >= cap)
            return dm_fail(DM_ERR_USAGE, "passphrase longer than %zu bytes", cap - 1);
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return DM_OK;
}

/* Echo goes off and comes back with TCSANOW, never TCSAFLUSH: what was typed
 * (or pasted) ahead of the prompt, the confirmation included, is the answer,
 * and must not be thrown away. The line is read a byte at a time, so nothing
 * past it is taken from the terminal either. */
static int prompt_once(int fd, const char *prompt, char *buf, size_t cap, size_t *len) {
    struct termios saved, quiet;
    int have_termios = tcgetattr(fd, &saved) == 0;
    if (have_termios) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        sig_tty_saved = saved;
        install_signal_handlers();
        sig_tty_fd = fd;
        (void)tcsetattr(fd, TCSANOW, &quiet);
    }
    (void)!write(fd, prompt, strlen(prompt));
    int err = read_tty_line(fd, buf, cap, len);
    if (have_termios) {
        (void)tcsetattr(fd, TCSANOW, &saved);
        sig_tty_fd = -1;
    }
    (void)!write(fd, "\n", 1);
    return err;
}

int cli_read_passphrase_tty(const char *prompt, int confirm, char **out, size_t *len) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return dm_fail(DM_ERR_USAGE,
                       "no terminal to read the passphrase from; use --passphrase-file FILE");
    char *first = dm_secret_alloc(CLI_MAX_PASSPHRASE);
    char *second = confirm ? dm_secret_alloc(CLI_MAX_PASSPHRASE) : NULL;
    int err = DM_OK;
    if (first == NULL || (confirm && second == NULL)) {
        err = dm_fail(DM_ERR_NOMEM, "passphrase buffer");
        goto done;
    }
    size_t n1 = 0, n2 = 0;
    err = prompt_once(fd, prompt, first, CLI_MAX_PASSPHRASE, &n1);
    if (err != DM_OK)
        goto done;
    if (n1 == 0 && confirm == CLI_PASS_AUTOGENERATE) {
        /* As age does: ten words of the BIP 39 list (110 bits), shown on the terminal only. */
        for (int w = 0; w < 10; w++) {
            const char *word = cli_wordlist[randombytes_uniform(CLI_WORDLIST_LEN)];
            size_t wl = strlen(word);
            if (n1 + wl + 2 > CLI_MAX_PASSPHRASE) {
                err = dm_fail(DM_ERR_INTERNAL, "autogenerated passphrase too long");
                goto done;
            }
            if (w > 0)
                first[n1++] = '-';
            memcpy(first + n1, word, wl);
            n1 += wl;
        }
        first[n1] = '\0';
        static const char head[] = "doormat: using autogenerated passphrase \"";
        (void)!write(fd, head, sizeof head - 1);
        (void)!write(fd, first, n1);
        (void)!write(fd, "\"\n", 2);
        *out = first;
        *len = n1;
        first = NULL;
        goto done;
    }
    if (n1 == 0) {
        err = dm_fail(DM_ERR_USAGE, "the passphrase is empty");
        goto done;
    }
    if (confirm) {
        err = prompt_once(fd, "Confirm passphrase: ", second, CLI_MAX_PASSPHRASE, &n2);
        if (err != DM_OK)
            goto done;
        if (n1 != n2 || memcmp(first, second, n1) != 0) {
            err = dm_fail(DM_ERR_USAGE, "passphrases didn't match");
            goto done;
        }
    }
    *out = first;
    *len = n1;
    first = NULL;
done:
    dm_secret_free(first);
    dm_secret_free(second);
    close(fd);
    return err;
}

int cli_read_tty_value(const char *prompt, int echo, char **out, size_t *len) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return dm_fail(DM_ERR_USAGE, "no terminal to ask on");
    char *buf = dm_secret_alloc(CLI_MAX_PASSPHRASE);
    int err = DM_OK;
    if (buf == NULL) {
        err = dm_fail(DM_ERR_NOMEM, "terminal input");
    } else if (echo) {
        (void)!write(fd, prompt, strlen(prompt));
        err = read_tty_line(fd, buf, CLI_MAX_PASSPHRASE, len);
    } else {
        err = prompt_once(fd, prompt, buf, CLI_MAX_PASSPHRASE, len);
    }
    close(fd);
    if (err != DM_OK) {
        dm_secret_free(buf);
        return err;
    }
    *out = buf;
    return DM_OK;
}

int cli_read_passphrase_file(const char *path, char **out, size_t *len) {
    char *text = NULL;
    size_t text_len = 0;
    int use_stdin = strcmp(path, "-") == 0;
    int err =
        read_path(path, CLI_MAX_SECRET_FILE, dm_secret_alloc, dm_secret_free, 0, &text, &text_len);
    if (err != DM_OK)
        return err;
    size_t n = 0;
    while (n < text_len && text[n] != '\n')
        n++;
    if (n > 0 && text[n - 1] == '\r')
        n--;
    if (n == 0) {
        dm_secret_free(text);
        return dm_fail(DM_ERR_USAGE, "the first line of passphrase file %s is empty",
                       use_stdin ? "(standard input)" : path);
    }
    /* Cut in place: the rest of the buffer is still guarded and is zeroed on free. */
    text[n] = '\0';
    *out = text;
    *len = n;
    return DM_OK;
}

int cli_parse_threads(const char *arg, unsigned *out) {
    if (arg[0] < '0' || arg[0] > '9')
        return DM_ERR_USAGE;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v > CLI_MAX_THREADS)
        return DM_ERR_USAGE;
    *out = (unsigned)v;
    return DM_OK;
}

/* -------------------------------------------------------------- output */

static int split_dir(const char *path, char *dir, size_t cap, const char **base) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        if (cap < 2)
            return -1;
        strcpy(dir, ".");
        *base = path;
        return 0;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1; /* "/name": the directory is "/" */
    if (n + 1 > cap)
        return -1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    *base = slash + 1;
    return 0;
}

int cli_output_open(cli_output *o, const char *path, int mode) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    if (path == NULL || strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        o->is_tty = isatty(STDOUT_FILENO);
        return DM_OK;
    }
    /* Follow a symlink so that the link itself survives the rename. */
    char *final = NULL;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        final = realpath(path, NULL);
    if (final == NULL)
        final = strdup(path);
    if (final == NULL)
        return dm_fail(DM_ERR_NOMEM, "output path");
    int exists = stat(final, &st) == 0;
    /* Renaming would replace a file we may not write to; opening it would not. */
    if (exists && S_ISREG(st.st_mode) && access(final, W_OK) != 0) {
        int e = errno;
        free(final);
        return dm_fail(DM_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    if (exists && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            free(final);
            return dm_fail(DM_ERR_IO, "%s is a directory", path);
        }
        /* A device, FIFO or terminal: there is nothing to rename over. */
        o->fd = open(final, O_WRONLY | O_CLOEXEC);
        free(final);
        if (o->fd < 0)
            return dm_fail(DM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        o->is_tty = isatty(o->fd);
        return DM_OK;
    }
    char dir[PATH_MAX];
    const char *base = NULL;
    if (split_dir(final, dir, sizeof dir, &base) != 0 || base[0] == '\0') {
        free(final);
        return dm_fail(DM_ERR_USAGE, "bad output path %s", path);
    }
    size_t tmp_len = strlen(dir) + strlen(base) + 32;
    char *tmp = malloc(tmp_len);
    if (tmp == NULL || tmp_len > sizeof sig_tmp_path) {
        free(tmp);
        free(final);
        return dm_fail(DM_ERR_USAGE, "output path %s is too long", path);
    }
    /* Built by hand: the lengths are checked above, and snprintf's truncation warning can't see
     * that. */
    size_t dl = strlen(dir), bl = strlen(base);
    memcpy(tmp, dir, dl);
    tmp[dl] = '/';
    tmp[dl + 1] = '.';
    memcpy(tmp + dl + 2, base, bl);
    memcpy(tmp + dl + 2 + bl, ".doormat-XXXXXX", sizeof ".doormat-XXXXXX");

    /* The handler must know the name from the moment the file exists. */
    install_signal_handlers();
    sigset_t old;
    block_fatal_signals(&old);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int e = errno;
    if (fd >= 0) {
        memcpy(sig_tmp_path, tmp, strlen(tmp) + 1);
        sig_tmp_armed = 1;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (fd < 0) {
        free(tmp);
        free(final);
        return dm_fail(DM_ERR_IO, "cannot create a file in %s: %s", dir, strerror(e));
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, (mode_t)mode & ~mask & 07777) != 0) {
        e = errno;
        o->fd = fd;
        o->tmp_path = tmp;
        o->path = final;
        cli_output_abort(o);
        return dm_fail(DM_ERR_IO, "cannot set the mode of the output: %s", strerror(e));
    }
    o->fd = fd;
    o->path = final;
    o->tmp_path = tmp;
    return DM_OK;
}

static void disarm(void) {
    sigset_t old;
    block_fatal_signals(&old);
    sig_tmp_armed = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void release(cli_output *o) {
    free(o->path);
    free(o->tmp_path);
    o->path = NULL;
    o->tmp_path = NULL;
    o->fd = -1;
}

static void sync_dir(const char *path) {
    char dir[PATH_MAX];
    const char *base = NULL;
    if (split_dir(path, dir, sizeof dir, &base) != 0)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int cli_output_commit(cli_output *o) {
    if (o->tmp_path == NULL) {
        int err = DM_OK;
        if (o->fd > STDERR_FILENO && close(o->fd) != 0)
            err = dm_fail(DM_ERR_IO, "closing the output: %s", strerror(errno));
        release(o);
        return err;
    }
    if (fsync(o->fd) != 0 || close(o->fd) != 0) {
        int e = errno;
        o->fd = -1;
        cli_output_abort(o);
        return dm_fail(DM_ERR_IO, "writing the output: %s", strerror(e));
    }
    o->fd = -1;
    int rc;
    if (o->no_replace) {
        rc = renameat2(AT_FDCWD, o->tmp_path, AT_FDCWD, o->path, RENAME_NOREPLACE);
        if (rc != 0 && errno == EINVAL) {
            /* A file system without RENAME_NOREPLACE: link() refuses to replace too. */
            rc = link(o->tmp_path, o->path);
            if (rc == 0)
                (void)unlink(o->tmp_path);
        }
    } else {
        rc = rename(o->tmp_path, o->path);
    }
    if (rc != 0) {
        int e = errno;
        char shown[PATH_MAX];
        snprintf(shown, sizeof shown, "%s", o->path);
        cli_output_abort(o);
        if (e == EEXIST)
            return dm_fail(DM_ERR_IO, "%s already exists", shown);
        return dm_fail(DM_ERR_IO, "cannot rename the output into %s: %s", shown, strerror(e));
    }
    disarm();
    sync_dir(o->path);
    release(o);
    return DM_OK;
}

void cli_output_abort(cli_output *o) {
    if (o->tmp_path != NULL) {
        if (o->fd >= 0)
            close(o->fd);
        (void)unlink(o->tmp_path);
        disarm();
    } else if (o->fd > STDERR_FILENO) {
        close(o->fd);
    }
    release(o);
}
