/* The network commands, as build/doormat sees them: they are doormat-net's.
 *
 * The service room (libdoormat-service.a) links libssl, libcrypto, libevent
 * and libcurl, and every process that links it maps them at start, a 1 KiB
 * encryption too (docs/benchmarks.md, "Start-up"). So the command is linked
 * twice from the same objects: doormat, without the service room (this file),
 * and doormat-net, with it (cli/net_service.c in place of this file). Before
 * anything is read or written, doormat hands a command that needs the network
 * to doormat-net: the same arguments, the same process (execv), so its exit
 * code and its output are doormat-net's. doormat-net is found beside this
 * executable, then in the build directory, then where make install puts it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_service.h"

#ifndef DM_NET_BUILD_DIR
#define DM_NET_BUILD_DIR "."
#endif
#ifndef DM_NET_LIB_DIR
#define DM_NET_LIB_DIR "/usr/local/lib/doormat"
#endif
#define NET_EXE "doormat-net"

static int is(const char *a, const char *b) {
    return a != NULL && strcmp(a, b) == 0;
}

/* Which command of argv needs the service room (argv as main has it), or
 * NULL. Where a flag decides, any spelling of it counts (getopt_long takes
 * "--url=X" and unambiguous abbreviations): handing over a command that did
 * not need it costs an exec, and doormat-net runs every command. */
static const char *net_command(int argc, char **argv) {
    if (argc < 3)
        return NULL;
    for (int i = 2; i < argc; i++)
        if (is(argv[i], "--help") || is(argv[i], "-h"))
            return NULL;
    if (is(argv[1], "lab"))
        return is(argv[2], "volume") ? "lab volume" : is(argv[2], "insider") ? "lab insider" : NULL;
    if (!is(argv[1], "escrow"))
        return NULL;
    const char *sub = argv[2];
    if (is(sub, "serve"))
        return "escrow serve";
    if (is(sub, "request"))
        return "escrow request";
    if (is(sub, "witness") && argc > 3 && is(argv[3], "serve"))
        return "escrow witness serve";
    /* Every agent of a new authority gets its TLS identity (service.h). */
    if (is(sub, "init"))
        return "escrow init";
    /* escrow monitor --logs https or --logs https://URL, in either form. */
    for (int i = 3; is(sub, "monitor") && i < argc; i++) {
        const char *eq = strncmp(argv[i], "--", 2) == 0 ? strchr(argv[i], '=') : NULL;
        const char *v = eq != NULL ? eq + 1 : argv[i];
        if (is(v, "https") || strstr(v, "://") != NULL)
            return "escrow monitor";
    }
    return NULL;
}

/* Runs DIR/doormat-net with argv, unless it is this very executable; returns
 * only when it could not, with the errno that says why, after adding the path
 * to tried. */
static int try_exec(const char *dir, char **argv, const struct stat *self, char *tried,
                    size_t cap) {
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, NET_EXE) >= sizeof path)
        return ENAMETOOLONG;
    size_t used = strlen(tried);
    snprintf(tried + used, cap - used, "%s%s", used ? ", " : "", path);
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    if (self != NULL && st.st_dev == self->st_dev && st.st_ino == self->st_ino)
        return ELOOP;
    execv(path, argv);
    return errno;
}

int cli_net_handover(int argc, char **argv) {
    const char *cmd = net_command(argc, argv);
    if (cmd == NULL)
        return -1;
    if (fflush(NULL) != 0)
        return cli_fail(DM_ERR_IO, "%s: standard output", cmd);
    const char *dirs[3] = {NULL, DM_NET_BUILD_DIR, DM_NET_LIB_DIR};
    char exe[PATH_MAX];
    struct stat self, *selfp = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (stat(exe, &self) == 0)
            selfp = &self;
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            dirs[0] = exe;
        }
    }
    /* The reason is the first place's that holds a doormat-net, else "not found". */
    char tried[3 * PATH_MAX + 8] = "";
    int why = ENOENT;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (dirs[i] == NULL)
            continue;
        int e = try_exec(dirs[i], argv, selfp, tried, sizeof tried);
        if (why == ENOENT)
            why = e;
    }
    cli_msg("%s: the network commands are doormat-net's, which could not be run (%s): %s", cmd,
            tried, strerror(why));
    return DM_EXIT_FAILURE;
}

const cli_service_api *cli_service(const char *cmd) {
    /* cli_net_handover sent every command that reaches here to doormat-net. */
    cli_msg("%s: internal error: a network command ran in doormat, not doormat-net", cmd);
    return NULL;
}
