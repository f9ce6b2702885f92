/* The one loader: libcrypto and libssh on first use (vault/lazylib.h says
 * why). Each library is opened once, under pthread_once, and its table never
 * changes afterwards, so every caller may read it without a lock once its
 * get returned. Nothing else of the process is touched: no handler, no
 * setting, and the libraries stay loaded until the process ends. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/opensslv.h>

#include "lazylib.h"

#define DM_STR_(x) #x
#define DM_STR(x) DM_STR_(x)
#define LIBCRYPTO_SONAME "libcrypto.so." DM_STR(OPENSSL_SHLIB_VERSION)
#define LIBSSH_SONAME "libssh.so.4"

static struct {
    dm_libcrypto fns;
    int loaded;                     /* dlopen succeeded */
    int parts[DM_LIBCRYPTO_PARTS];  /* every function of the part resolved */
    int probed[DM_LIBCRYPTO_PARTS]; /* ... and what it needs is there */
    char why[160];                  /* why it could not be opened */
} crypto;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static pthread_once_t probe_once[DM_LIBCRYPTO_PARTS] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
                                                        PTHREAD_ONCE_INIT};

static struct {
    dm_libssh fns;
    int ready;
    char why[160];
} ssh;
static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;

/* POSIX guarantees that dlsym's object pointer converts to a function
 * pointer; a name that does not resolve clears ok. */
#define RESOLVE(lib, table, name, ok)                                                              \
    do {                                                                                           \
        void *sym_ = dlsym(lib, #name);                                                            \
        if (sym_ == NULL)                                                                          \
            (ok) = 0;                                                                              \
        else                                                                                       \
            memcpy(&(table).name, &sym_, sizeof sym_);                                             \
    } while (0);

/* The library soname, or NULL with the reason in why[160]. */
static void *open_lib(const char *soname, char why[160]) {
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *err = dlerror();
        snprintf(why, 160, "%s%s", err ? err : soname, err ? "" : " not found");
    }
    return lib;
}

static void crypto_load(void) {
    void *lib = open_lib(LIBCRYPTO_SONAME, crypto.why);
    if (lib == NULL)
        return;
    crypto.loaded = 1;
    int ok = 1;
    RESOLVE(lib, crypto.fns, OpenSSL_version, ok)
#define CRYPTO_RESOLVE(name) RESOLVE(lib, crypto.fns, name, ok)
    ok = 1;
    DM_LIBCRYPTO_AEAD_FUNCS(CRYPTO_RESOLVE)
    crypto.parts[DM_LIBCRYPTO_AEAD] = ok;
    ok = 1;
    DM_LIBCRYPTO_PKEY_FUNCS(CRYPTO_RESOLVE)
    crypto.parts[DM_LIBCRYPTO_PKEY] = ok;
    DM_LIBCRYPTO_MLKEM_FUNCS(CRYPTO_RESOLVE)
#ifdef DM_HAVE_MLKEM
    crypto.parts[DM_LIBCRYPTO_MLKEM] = ok; /* the key functions too */
#endif
#undef CRYPTO_RESOLVE
}

static void probe_aead(void) {
    crypto.fns.chacha20_poly1305 = crypto.fns.EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    crypto.probed[DM_LIBCRYPTO_AEAD] = crypto.fns.chacha20_poly1305 != NULL;
}

static void probe_pkey(void) {
    crypto.probed[DM_LIBCRYPTO_PKEY] = 1;
}

static void probe_mlkem(void) {
#ifdef DM_HAVE_MLKEM
    const dm_libcrypto *c = &crypto.fns;
    EVP_PKEY_CTX *ctx = c->EVP_PKEY_CTX_new_from_name(NULL, "ML-KEM-768", NULL);
    EVP_MD *sha3 = c->EVP_MD_fetch(NULL, "SHA3-256", NULL);
    EVP_MD *shake = c->EVP_MD_fetch(NULL, "SHAKE256", NULL);
    crypto.probed[DM_LIBCRYPTO_MLKEM] = ctx != NULL && sha3 != NULL && shake != NULL;
    c->EVP_PKEY_CTX_free(ctx);
    c->EVP_MD_free(sha3);
    c->EVP_MD_free(shake);
#endif
}

static void (*const probes[DM_LIBCRYPTO_PARTS])(void) = {probe_aead, probe_pkey, probe_mlkem};

/* Why `part` is not ready; NULL when it is. */
static const char *crypto_part(dm_libcrypto_part part) {
    if ((unsigned)part >= DM_LIBCRYPTO_PARTS || pthread_once(&crypto_once, crypto_load) != 0)
        return "no such part";
    if (!crypto.loaded)
        return crypto.why;
#ifndef DM_HAVE_MLKEM
    if (part == DM_LIBCRYPTO_MLKEM)
        return "this build has no ML-KEM-768 (it needs OpenSSL 3.5 or later)";
#endif
    if (!crypto.parts[part])
        return LIBCRYPTO_SONAME " lacks an EVP function";
    if (pthread_once(&probe_once[part], probes[part]) != 0)
        return "no such part";
    if (!crypto.probed[part])
        return part == DM_LIBCRYPTO_AEAD ? "OpenSSL lacks ChaCha20-Poly1305"
                                         : "OpenSSL lacks ML-KEM-768 or SHA-3";
    return NULL;
}

const dm_libcrypto *dm_libcrypto_get(dm_libcrypto_part part) {
    const char *why = crypto_part(part);
    if (why == NULL)
        return &crypto.fns;
    if (part == DM_LIBCRYPTO_AEAD)
        dm_fail(DM_ERR_INTERNAL, "OpenSSL's ChaCha20-Poly1305 is not available: %s", why);
    else
        dm_fail(DM_ERR_INTERNAL, "OpenSSL is not available: %s", why);
    return NULL;
}

int dm_libcrypto_ready(dm_libcrypto_part part) {
    return crypto_part(part) == NULL;
}

const char *dm_openssl_version(void) {
    if (pthread_once(&crypto_once, crypto_load) != 0 || crypto.fns.OpenSSL_version == NULL)
        return NULL;
    return crypto.fns.OpenSSL_version(OPENSSL_VERSION);
}

static void ssh_load(void) {
    void *lib = open_lib(LIBSSH_SONAME, ssh.why);
    if (lib == NULL)
        return;
    int ok = 1;
#define SSH_RESOLVE(name) RESOLVE(lib, ssh.fns, name, ok)
    DM_LIBSSH_FUNCS(SSH_RESOLVE)
#undef SSH_RESOLVE
    ssh.ready = ok;
    if (!ok)
        snprintf(ssh.why, sizeof ssh.why, "%s lacks a key function", LIBSSH_SONAME);
}

const dm_libssh *dm_libssh_get(void) {
    if (pthread_once(&ssh_once, ssh_load) != 0 || !ssh.ready) {
        dm_fail(DM_ERR_INTERNAL, "libssh is not available: %s", ssh.why);
        return NULL;
    }
    return &ssh.fns;
}
