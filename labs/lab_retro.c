/* retroactive: a mandate can reach files encrypted before it existed. An
 * archive of vault files, whose file keys the user's software can reach (it
 * holds the user's identity), gets escrow added afterwards: each header is
 * rewritten with dm_rekey (the vault's rekeying, what `doormat rekey
 * --escrow` does) for the user and a 2-of-3 authority, and the payload is
 * copied byte for byte. The lab measures files per second and the bytes
 * rewritten against the archive's size, and checks that the authority's
 * agents open none of the files before and all of them after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lab_internal.h"

static const char *const agents[] = {"doj", "court", "vendor"};

static size_t header_len(const dm_membuf *file) {
    dm_header hdr = {0};
    size_t n = dm_header_parse(file->buf, file->len, &hdr) == DM_OK ? hdr.len : 0;
    dm_header_clear(&hdr);
    return n;
}

int dm_lab_retro(const dm_lab_retro_opts *o, dm_lab_retro_result *r) {
    memset(r, 0, sizeof *r);
    if (o->files < 1 || o->files > 100000 || o->file_bytes < 1 || o->file_bytes > (64u << 20) ||
        (uint64_t)o->files * o->file_bytes > (1ull << 31))
        return dm_fail(DM_ERR_USAGE, "retroactive wants 1 to 100000 files of 1 byte to 64 MiB "
                                     "(2 GiB in all at most)");
    dm_escrow_authority *auth = NULL;
    dm_escrow_agent_key **keys = NULL;
    dm_escrow_court_key *court = NULL;
    char *sk = NULL, *pk = NULL, path[4096];
    dm_recipient *user_rc = NULL, *escrow_rc = NULL;
    dm_identity *user_id = NULL;
    uint8_t **plain = calloc(o->files, sizeof *plain);
    dm_membuf *before = calloc(o->files, sizeof *before), *after = calloc(o->files, sizeof *after);
    int err = plain && before && after ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err)
        err = dm_escrow_authority_new("FBI", agents, 3, 2, &auth, &keys, &court);
    if (!err)
        err = dm_lab_path(path, sizeof path, o->dir, "authority");
    if (!err)
        err = dm_escrow_authority_write_dir(path, auth, keys, court);
    if (!err)
        err = dm_x25519_keygen(&sk, &pk);
    if (!err)
        err = dm_lab_write_identity(o->dir, "user.key", sk);
    if (!err && strlen(pk) >= sizeof r->user_recipient)
        err = dm_fail(DM_ERR_INTERNAL, "recipient too long");
    if (!err) {
        memcpy(r->user_recipient, pk, strlen(pk) + 1);
        err = dm_x25519_recipient_parse(pk, &user_rc);
    }
    if (!err)
        err = dm_x25519_identity_parse(sk, &user_id);
    if (!err)
        err = dm_escrow_recipient_new(auth, NULL, &escrow_rc);
    if (!err)
        err = dm_lab_mkdir(o->dir, "archive");
    if (!err)
        err = dm_lab_mkdir(o->dir, "escrowed");
    /* The archive: written before any mandate, to the user alone. */
    for (unsigned f = 0; f < o->files && !err; f++) {
        char name[64];
        if (!(plain[f] = malloc(o->file_bytes))) {
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
            break;
        }
        randombytes_buf(plain[f], o->file_bytes);
        err = dm_lab_encrypt(&user_rc, 1, NULL, NULL, plain[f], o->file_bytes, &before[f]);
        snprintf(name, sizeof name, "archive/file-%04u.age", f + 1);
        if (!err)
            err = dm_lab_write(o->dir, name, before[f].buf, before[f].len, 0644);
        r->archive_bytes += before[f].len;
        r->header_bytes_before += header_len(&before[f]);
    }
    for (unsigned f = 0; f < o->files && !err; f++) {
        bool opened = false;
        err = dm_lab_keys_open(auth, keys, 2, &before[f], plain[f], o->file_bytes, &opened);
        r->authority_opened_before += opened;
    }

    /* The mandate arrives: the software rewrites every header. */
    dm_recipient *to[2] = {user_rc, escrow_rc};
    dm_rekey_opts ro = {.encrypt = {.threads = 1}};
    double t0 = dm_lab_now();
    for (unsigned f = 0; f < o->files && !err; f++) {
        dm_membuf in = {.data = before[f].buf, .len = before[f].len};
        err = dm_rekey(dm_source_mem(&in), dm_sink_mem(&after[f]), &user_id, 1, to, 2, &ro);
    }
    r->seconds = dm_lab_now() - t0;
    r->files = err ? 0 : o->files;
    r->files_per_second = r->seconds > 0 ? o->files / r->seconds : 0;

    r->payloads_identical = !err;
    dm_escrow_policy pol = {.auth = auth};
    for (unsigned f = 0; f < o->files && !err; f++) {
        char name[64];
        snprintf(name, sizeof name, "escrowed/file-%04u.age", f + 1);
        err = dm_lab_write(o->dir, name, after[f].buf, after[f].len, 0644);
        size_t hb = header_len(&before[f]), ha = header_len(&after[f]);
        r->bytes_rewritten += ha;
        r->bytes_copied += after[f].len - ha;
        r->payloads_identical =
            r->payloads_identical && hb && ha && before[f].len - hb == after[f].len - ha &&
            memcmp(before[f].buf + hb, after[f].buf + ha, before[f].len - hb) == 0;
        bool opened = false;
        if (!err)
            err = dm_lab_keys_open(auth, keys, 2, &after[f], plain[f], o->file_bytes, &opened);
        r->authority_opened_after += opened;
        uint8_t *out = NULL;
        size_t out_len = 0;
        if (!err)
            err = dm_lab_decrypt(after[f].buf, after[f].len, user_id, &pol, &out, &out_len, NULL);
        if (!err && dm_lab_same(out, out_len, plain[f], o->file_bytes)) {
            r->user_opened_after++;
            r->compliant_after++;
        }
        free(out);
    }
    if (!err && !(r->payloads_identical && r->authority_opened_before == 0 &&
                  r->authority_opened_after == o->files && r->user_opened_after == o->files &&
                  r->bytes_rewritten + r->bytes_copied ==
                      r->archive_bytes - r->header_bytes_before + r->bytes_rewritten))
        err = dm_fail(DM_ERR_INTERNAL, "the retroactive lab's outcomes are not what it claims");
    for (unsigned f = 0; f < o->files; f++) {
        if (plain)
            free(plain[f]);
        if (before)
            free(before[f].buf);
        if (after)
            free(after[f].buf);
    }
    free(plain);
    free(before);
    free(after);
    dm_recipient_free(escrow_rc);
    dm_recipient_free(user_rc);
    dm_identity_free(user_id);
    dm_secret_free(sk);
    free(pk);
    for (size_t i = 0; keys && i < dm_escrow_authority_agents(auth); i++)
        dm_escrow_agent_key_free(keys[i]);
    free(keys);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
    return err;
}
