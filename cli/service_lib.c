/* The service room (libdoormat-service.so) is loaded only by the commands
 * that need it: it pulls in OpenSSL's libssl and libcrypto, libevent and
 * libcurl, and the rest of doormat must not pay for mapping them (a 1 KiB
 * file is encrypted without loading libcrypto at all; vault/stream.c). The
 * library binds to the escrow and vault functions of this executable, which
 * exports them (-rdynamic). Prototypes come from include/doormat/service.h
 * (__typeof__), so every call is type-checked. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_service.h"

#ifndef DM_SERVICE_BUILD_DIR
#define DM_SERVICE_BUILD_DIR "."
#endif
#ifndef DM_SERVICE_LIB_DIR
#define DM_SERVICE_LIB_DIR "/usr/local/lib/doormat"
#endif
#define SERVICE_SO "libdoormat-service.so"

static cli_service_api api;
static int loaded;

static void *try_open(const char *dir, char *tried, size_t cap) {
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, SERVICE_SO) >= sizeof path)
        return NULL;
    size_t used = strlen(tried);
    snprintf(tried + used, cap - used, "%s%s", used ? ", " : "", path);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

#define SYM(lib, field, name)                                                                      \
    do {                                                                                           \
        void *sym_ = dlsym(lib, name);                                                             \
        if (sym_ == NULL) {                                                                        \
            cli_msg("%s: %s lacks %s", cmd, SERVICE_SO, name);                                     \
            return NULL;                                                                           \
        }                                                                                          \
        memcpy(&api.field, &sym_, sizeof sym_);                                                    \
    } while (0)

const cli_service_api *cli_service(const char *cmd) {
    if (loaded)
        return &api;
    /* Beside the executable (the build directory), where make put it, where
     * make install put it; DOORMAT_SERVICE_LIB names the file itself. */
    char tried[4 * PATH_MAX] = "";
    void *lib = NULL;
    const char *env = getenv("DOORMAT_SERVICE_LIB");
    if (env != NULL && env[0] != '\0') {
        snprintf(tried, sizeof tried, "%s", env);
        lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (lib == NULL && n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            lib = try_open(exe, tried, sizeof tried);
        }
    }
    if (lib == NULL)
        lib = try_open(DM_SERVICE_BUILD_DIR, tried, sizeof tried);
    if (lib == NULL)
        lib = try_open(DM_SERVICE_LIB_DIR, tried, sizeof tried);
    if (lib == NULL) {
        const char *why = dlerror();
        cli_msg("%s: cannot load the service library (%s): %s", cmd, tried,
                why ? why : "not found");
        return NULL;
    }
    SYM(lib, tls_new, "dm_service_tls_new");
    SYM(lib, agent_run, "dm_service_agent_run");
    SYM(lib, witness_run, "dm_service_witness_run");
    SYM(lib, request, "dm_service_request");
    SYM(lib, fetcher_new, "dm_service_fetcher_new");
    SYM(lib, fetcher_new_ca, "dm_service_fetcher_new_ca");
    SYM(lib, fetcher_free, "dm_service_fetcher_free");
    loaded = 1;
    return &api;
}
