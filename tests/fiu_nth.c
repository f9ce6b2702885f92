/* Fails exactly one chosen write of the log in a running doormat process.
 *
 * Loaded with LD_PRELOAD into an agent or a witness (tests/e2e/log_faults.sh),
 * it enables every libfiu point doormat/... of base/durable.c with a callback that
 * counts their calls and fails the K-th. The test steers it through a control
 * file, DOORMAT_FIU_CTL, one line "GEN K MODE", read again at every call: a
 * new GEN starts the count over (the test writes one before each release);
 * K = 0 fails nothing; MODE is enospc, eio, or short (the K-th call, a write,
 * writes half its bytes; every later write of that GEN fails with ENOSPC, as
 * on a disk that just filled). DOORMAT_FIU_TRACE, when set, names a file that
 * gets one line "GEN N POINT" per call, and "GEN N POINT failed MODE" for the
 * one that failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIU_ENABLE 1 /* fiu.h declares nothing without it */
#include <fiu-control.h>
#include <fiu.h>

static long gen = -1, count, target;
static char mode[16];
static int disk_full;

static void read_control(void) {
    const char *path = getenv("DOORMAT_FIU_CTL");
    if (!path)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    long g, k;
    char m[16];
    if (sscanf(buf, "%ld %ld %15s", &g, &k, m) != 3 || g == gen)
        return;
    gen = g;
    target = k;
    snprintf(mode, sizeof mode, "%s", m);
    count = 0;
    disk_full = 0;
}

static void trace(const char *name, const char *what) {
    const char *path = getenv("DOORMAT_FIU_TRACE");
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[256];
    int n =
        snprintf(line, sizeof line, "%ld %ld %s%s%s\n", gen, count, name, what[0] ? " " : "", what);
    if (n > 0 && write(fd, line, (size_t)n) < 0)
        n = 0;
    close(fd);
}

static int is_write(const char *name) {
    size_t n = strlen(name);
    return n >= 6 && strcmp(name + n - 6, "/write") == 0;
}

static int decide(const char *name, int *failnum, void **failinfo, unsigned int *flags) {
    (void)flags;
    read_control();
    count++;
    *failnum = 1;
    if (disk_full && is_write(name)) {
        *failinfo = (void *)(intptr_t)ENOSPC;
        trace(name, "failed enospc (full after the short write)");
        return 1;
    }
    if (target == 0 || count != target) {
        trace(name, "");
        return 0;
    }
    char what[64];
    snprintf(what, sizeof what, "failed %s", mode);
    if (strcmp(mode, "short") == 0) {
        if (!is_write(name)) {
            trace(name, "");
            return 0;
        }
        disk_full = 1;
        *failinfo = (void *)(intptr_t)0;
    } else {
        *failinfo = (void *)(intptr_t)(strcmp(mode, "eio") == 0 ? EIO : ENOSPC);
    }
    trace(name, what);
    return 1;
}

/* Every point of base/durable.c, by name: a callback on a wildcard would
 * be told the wildcard, not the call. */
__attribute__((constructor)) static void fiu_nth_start(void) {
    static const char *const files[] = {"log/entries", "log/tile", "log/checkpoint",
                                        "log/publish", "log/dir",  "witness/state"};
    static const char *const ops[] = {"open",   "write", "fsync",   "close",
                                      "rename", "mkdir", "dirsync", "syncfs"};
    if (!getenv("DOORMAT_FIU_CTL"))
        return;
    fiu_init(0);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++)
        for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
            char name[64];
            snprintf(name, sizeof name, "doormat/%s/%s", files[f], ops[o]);
            fiu_enable_external(name, 1, NULL, 0, decide);
        }
}
