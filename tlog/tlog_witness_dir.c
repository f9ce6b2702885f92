/* A witness kept in a directory: WDIR/witness.key (its signer key, secret),
 * WDIR/witness.vkey (its verifier key, public) and WDIR/state/ (the state of
 * dm_tlog_witness_add_checkpoint), trusting the logs it is given. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tlog_internal.h"

struct dm_tlog_witness_dir {
    char state[DM_TLOG_MAX_PATH];
    dm_tlog_signer *key;
    dm_tlog_verifier *logs;
    size_t n_logs;
};

int dm_tlog_witness_dir_path(const char *wdir, const char *file, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", wdir, file);
    if (n < 0 || (size_t)n >= cap)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", wdir);
    return DM_OK;
}

int dm_tlog_witness_dir_create(const char *wdir, const char *name, char **vkey) {
    char key[DM_TLOG_MAX_PATH], pub[DM_TLOG_MAX_PATH], state[DM_TLOG_MAX_PATH];
    *vkey = NULL;
    int err = dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_KEY_FILE, key, sizeof key);
    if (err == DM_OK)
        err = dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_VKEY_FILE, pub, sizeof pub);
    if (err == DM_OK)
        err = dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_STATE_DIR, state, sizeof state);
    char *sk = NULL, *vk = NULL;
    if (err == DM_OK)
        err = dm_tlog_key_generate(name, DM_TLOG_SIG_COSIGNATURE, &sk, &vk);
    int made = 0;
    if (err == DM_OK && mkdir(wdir, 0700) == 0)
        made = 1;
    else if (err == DM_OK && errno != EEXIST)
        err = dm_fail(DM_ERR_IO, "%s: %s", wdir, strerror(errno));
    if (err == DM_OK) {
        char line[4200];
        int n = snprintf(line, sizeof line, "%s\n", sk);
        err = dm_write_new_file(key, line, (size_t)n, 0600);
        sodium_memzero(line, sizeof line);
    }
    if (err == DM_OK) {
        char line[600];
        int n = snprintf(line, sizeof line, "%s\n", vk);
        err = dm_write_new_file(pub, line, (size_t)n, 0644);
        if (err != DM_OK)
            unlink(key);
    }
    if (err == DM_OK && mkdir(state, 0700) != 0) {
        err = dm_fail(DM_ERR_IO, "%s: %s", state, strerror(errno));
        unlink(key);
        unlink(pub);
    }
    if (err != DM_OK && made)
        rmdir(wdir);
    dm_secret_free(sk);
    if (err == DM_OK)
        *vkey = vk;
    else
        free(vk);
    return err;
}

int dm_tlog_witness_dir_open(const char *wdir, const char *skey, size_t len,
                             const dm_tlog_verifier *logs, size_t n_logs,
                             dm_tlog_witness_dir **out) {
    *out = NULL;
    dm_tlog_witness_dir *w = calloc(1, sizeof *w);
    if (w == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    int err = dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_STATE_DIR, w->state, sizeof w->state);
    if (err == DM_OK && n_logs > 0 && (w->logs = calloc(n_logs, sizeof *w->logs)) == NULL)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    if (err == DM_OK) {
        if (n_logs > 0)
            memcpy(w->logs, logs, n_logs * sizeof *logs);
        w->n_logs = n_logs;
        err = dm_tlog_signer_parse(skey, len, &w->key);
    }
    if (err == DM_OK && dm_tlog_signer_verifier(w->key)->type != DM_TLOG_SIG_COSIGNATURE)
        err = dm_fail(DM_ERR_USAGE, "%s/%s is not a witness key", wdir, DM_TLOG_WITNESS_KEY_FILE);
    if (err != DM_OK) {
        dm_tlog_witness_dir_free(w);
        return err;
    }
    *out = w;
    return DM_OK;
}

int dm_tlog_witness_dir_add_checkpoint(const dm_tlog_witness_dir *w, const char *body, size_t len,
                                       uint64_t now, int *status, char **response,
                                       size_t *response_len) {
    return dm_tlog_witness_add_checkpoint(w->state, w->key, w->logs, w->n_logs, body, len, now,
                                          status, response, response_len);
}

const dm_tlog_verifier *dm_tlog_witness_dir_verifier(const dm_tlog_witness_dir *w) {
    return dm_tlog_signer_verifier(w->key);
}

void dm_tlog_witness_dir_free(dm_tlog_witness_dir *w) {
    if (w == NULL)
        return;
    dm_tlog_signer_free(w->key);
    free(w->logs);
    free(w);
}
