/* Helpers for the lab cores: files under the lab directory, in-memory
 * encryption and decryption, warrants. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "doormat/base.h"
#include "lab_internal.h"

double dm_lab_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int dm_lab_path(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return dm_fail(DM_ERR_USAGE, "path too long: %s/%s", dir, name);
    return DM_OK;
}

int dm_lab_mkdir(const char *dir, const char *name) {
    char p[4096];
    int err = dm_lab_path(p, sizeof p, dir, name);
    if (err)
        return err;
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return dm_fail(DM_ERR_IO, "%s: %s", p, strerror(errno));
    return DM_OK;
}

int dm_lab_write(const char *dir, const char *name, const void *data, size_t len, int mode) {
    char p[4096];
    int err = dm_lab_path(p, sizeof p, dir, name);
    if (err)
        return err;
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return dm_fail(DM_ERR_IO, "%s: %s", p, strerror(errno));
    if (dm_write_all(fd, data, len) != 0) {
        int e = errno;
        close(fd);
        return dm_fail(DM_ERR_IO, "%s: %s", p, strerror(e));
    }
    if (close(fd) != 0)
        return dm_fail(DM_ERR_IO, "%s: %s", p, strerror(errno));
    return DM_OK;
}

int dm_lab_write_identity(const char *dir, const char *name, const char *secret) {
    size_t n = strlen(secret);
    char *text = dm_secret_alloc(n + 2);
    if (!text)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(text, secret, n);
    text[n] = '\n';
    int err = dm_lab_write(dir, name, text, n + 1, 0600);
    dm_secret_free(text);
    return err;
}

int dm_lab_key_pair(const char *dir, const char *name, char **sk, char **pk, dm_recipient **rc,
                    dm_identity **id) {
    int err = dm_x25519_keygen(sk, pk);
    if (!err)
        err = dm_lab_write_identity(dir, name, *sk);
    if (!err)
        err = dm_x25519_recipient_parse(*pk, rc);
    if (!err && id)
        err = dm_x25519_identity_parse(*sk, id);
    return err;
}

int dm_lab_cast_authority(dm_lab_cast *c, const char *name, const char *dir) {
    int err = dm_escrow_authority_new(name, NULL, 0, 0, &c->auth, &c->keys, &c->court);
    char path[4096];
    if (!err)
        err = dm_lab_path(path, sizeof path, dir, "authority");
    if (!err)
        err = dm_escrow_authority_write_dir(path, c->auth, c->keys, c->court);
    return err;
}

int dm_lab_cast_user(dm_lab_cast *c, const char *dir, const char *message, size_t len) {
    int err = dm_lab_key_pair(dir, "user.key", &c->sk, &c->pk, &c->rcpt, &c->id);
    if (!err)
        err = dm_lab_write(dir, "message.txt", message, len, 0644);
    return err;
}

void dm_lab_cast_free(dm_lab_cast *c) {
    dm_identity_free(c->id);
    dm_recipient_free(c->rcpt);
    dm_secret_free(c->sk);
    free(c->pk);
    dm_escrow_agent_keys_free(c->keys, c->auth ? dm_escrow_authority_agents(c->auth) : 0);
    dm_escrow_court_key_free(c->court);
    dm_escrow_authority_free(c->auth);
}

int dm_lab_encrypt(dm_recipient *const *rcpts, size_t n, const dm_escrow_authority *auth,
                   const dm_escrow_opts *eo, const uint8_t *plain, size_t len, dm_membuf *out) {
    dm_membuf in = {.data = plain, .len = len};
    memset(out, 0, sizeof *out);
    dm_encrypt_opts o = {.threads = 1};
    int err = auth ? dm_escrow_encrypt(dm_source_mem(&in), dm_sink_mem(out), rcpts, n, auth, eo, &o)
                   : dm_encrypt(dm_source_mem(&in), dm_sink_mem(out), rcpts, n, &o);
    if (err) {
        free(out->buf);
        memset(out, 0, sizeof *out);
    }
    return err;
}

int dm_lab_decrypt(const uint8_t *file, size_t len, dm_identity *id, const dm_escrow_policy *pol,
                   uint8_t **plain, size_t *plain_len, uint8_t fk[DM_FILE_KEY_LEN]) {
    dm_membuf src = {.data = file, .len = len}, out = {0};
    dm_decrypt_opts d = {.threads = 1, .file_key_out = fk};
    id->beside = dm_escrow_beside; /* escrow stanzas may stand beside a passphrase */
    if (pol) {
        d.policy = dm_escrow_policy_check;
        d.policy_ctx = (void *)pol;
    }
    int err =
        dm_decrypt(dm_source_mem(&src), plain ? dm_sink_mem(&out) : dm_sink_null(), &id, 1, &d);
    if (err || !plain) {
        free(out.buf);
        return err;
    }
    *plain = out.buf;
    *plain_len = out.len;
    return DM_OK;
}

int dm_lab_decrypt_with_key(const uint8_t *file, size_t len, const uint8_t fk[DM_FILE_KEY_LEN],
                            uint8_t **plain, size_t *plain_len) {
    dm_identity *id = NULL;
    int err = dm_file_key_identity_new(fk, &id);
    if (!err)
        err = dm_lab_decrypt(file, len, id, NULL, plain, plain_len, NULL);
    dm_identity_free(id);
    return err;
}

bool dm_lab_same(const uint8_t *plain, size_t plain_len, const uint8_t *want, size_t want_len) {
    return plain_len == want_len && (want_len == 0 || memcmp(plain, want, want_len) == 0);
}

int dm_lab_opens_to(const dm_membuf *file, const uint8_t fk[DM_FILE_KEY_LEN], const uint8_t *want,
                    size_t want_len, const char *what, bool *opened) {
    uint8_t *out = NULL;
    size_t out_len = 0;
    int err = dm_lab_decrypt_with_key(file->buf, file->len, fk, &out, &out_len);
    if (!err) {
        *opened = dm_lab_same(out, out_len, want, want_len);
        if (!*opened)
            err = dm_fail(DM_ERR_INTERNAL, "%s decrypted to something else", what);
    }
    free(out);
    return err;
}

int dm_lab_keys_open(const dm_escrow_authority *auth, dm_escrow_agent_key *const *keys, size_t n,
                     const dm_membuf *file, const uint8_t *want, size_t want_len, bool *opened) {
    *opened = false;
    dm_header hdr = {0};
    uint8_t *fk = dm_secret_alloc(DM_FILE_KEY_LEN);
    int err =
        fk ? dm_header_parse(file->buf, file->len, &hdr) : dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err)
        err = dm_lab_recover_with_keys(auth, keys, n, &hdr, fk, NULL);
    if (!err)
        err = dm_lab_opens_to(file, fk, want, want_len, "a recovered file", opened);
    dm_secret_free(fk);
    dm_header_clear(&hdr);
    return dm_lab_refused(err) ? DM_OK : err;
}

int dm_lab_warrant(const dm_escrow_authority *auth, const dm_escrow_court_key *court,
                   const dm_header *hdr, dm_escrow_warrant **out) {
    uint8_t fid[DM_FILE_ID_LEN];
    /* The id the escrow stanzas bind; a file stripped of them has none, and
     * the court can only name it by its header. */
    int err = dm_escrow_file_id(auth, hdr, fid);
    if (err == DM_ERR_NO_STANZA)
        err = dm_header_file_id(hdr, fid);
    char *text = NULL;
    size_t len = 0;
    if (!err)
        err = dm_escrow_warrant_issue(auth, court, "doormat lab", NULL, "2999-12-31",
                                      (const uint8_t(*)[DM_FILE_ID_LEN])fid, 1, &text, &len);
    if (!err)
        err = dm_escrow_warrant_parse(text, len, out, NULL);
    free(text);
    return err;
}

int dm_lab_share_value(const dm_escrow_share *s, uint8_t value[DM_FILE_KEY_LEN]) {
    char *text = NULL;
    size_t len = 0;
    int err = dm_escrow_share_format(s, &text, &len);
    if (err)
        return err;
    const char *v = strstr(text, "\nshare: ");
    const char *end = v ? strchr(v + 8, '\n') : NULL;
    size_t got = 0;
    if (!v || !end)
        err = dm_fail(DM_ERR_INTERNAL, "share text without a share line");
    else
        err = dm_b64_decode(v + 8, (size_t)(end - v - 8), value, DM_FILE_KEY_LEN, &got);
    if (!err && got != DM_FILE_KEY_LEN)
        err = dm_fail(DM_ERR_INTERNAL, "share value of %zu bytes", got);
    dm_secret_free(text);
    return err;
}

char *dm_lab_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, 2 * cap + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}
