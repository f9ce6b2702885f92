/* strip: a rogue sender holds the file key, so it can remove or corrupt the
 * escrow stanzas and recompute the header MAC. The vault -- and plain age --
 * still decrypt the file; only a client that insists on the escrow refuses
 * it, and the authority gets nothing. Escrow binds only cooperating
 * software. (The command adds the runs of /usr/bin/age and of doormat
 * decrypt --require-escrow as separate processes.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lab_internal.h"

const char *const dm_lab_strip_names[DM_LAB_STRIP_N] = {"original", "stripped", "corrupted"};

static const char message[] = "Meet me at the docks at midnight. Come alone.\n";

static bool has_escrow(const dm_header *hdr) {
    for (size_t i = 0; i < hdr->stanzas.len; i++)
        if (strcmp(hdr->stanzas.items[i].type, DM_ESCROW_STANZA_TYPE) == 0)
            return true;
    return false;
}

int dm_lab_strip(const char *dir, dm_lab_strip_result *r) {
    memset(r, 0, sizeof *r);
    dm_escrow_authority *auth = NULL;
    dm_escrow_agent_key **keys = NULL;
    dm_escrow_court_key *court = NULL;
    char *sk = NULL, *pk = NULL;
    dm_recipient *rc = NULL;
    dm_identity *id = NULL;
    dm_membuf files[DM_LAB_STRIP_N] = {{0}};
    uint8_t *fk = dm_secret_alloc(2 * DM_FILE_KEY_LEN);
    int err = fk ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
    char adir[4096], log[4096];
    if (!err)
        err = dm_escrow_authority_new("FBI", NULL, 0, 0, &auth, &keys, &court);
    if (!err)
        err = dm_lab_path(adir, sizeof adir, dir, "authority");
    if (!err)
        err = dm_escrow_authority_write_dir(adir, auth, keys, court);
    if (!err)
        err = dm_lab_path(log, sizeof log, adir, "logs/master");
    if (!err)
        err = dm_lab_key_pair(dir, "user.key", &sk, &pk, &rc, &id);
    if (!err)
        err = dm_lab_write(dir, "message.txt", message, sizeof message - 1, 0644);
    if (!err)
        err = dm_lab_encrypt(&rc, 1, auth, NULL, (const uint8_t *)message, sizeof message - 1,
                             &files[DM_LAB_STRIP_ORIGINAL]);
    if (!err)
        err = dm_lab_decrypt(files[0].buf, files[0].len, id, NULL, NULL, NULL, fk);
    /* The rogue sender at work. */
    for (int t = DM_LAB_STRIP_STRIPPED; t < DM_LAB_STRIP_N && !err; t++)
        err =
            dm_lab_tamper(files[0].buf, files[0].len, fk,
                          t == DM_LAB_STRIP_STRIPPED ? DM_LAB_TAMPER_STRIP : DM_LAB_TAMPER_CORRUPT,
                          &files[t].buf, &files[t].len);
    dm_escrow_policy pol = {.auth = auth};
    for (int t = 0; t < DM_LAB_STRIP_N && !err; t++) {
        char name[64];
        snprintf(name, sizeof name, "%s.age", dm_lab_strip_names[t]);
        err = dm_lab_path(r->paths[t], sizeof r->paths[t], dir, name);
        if (!err)
            err = dm_lab_write(dir, name, files[t].buf, files[t].len, 0644);
        if (err)
            break;
        uint8_t *plain = NULL;
        size_t plen = 0;
        int e = dm_lab_decrypt(files[t].buf, files[t].len, id, NULL, &plain, &plen, NULL);
        r->plain_decrypts[t] =
            e == DM_OK && dm_lab_same(plain, plen, (const uint8_t *)message, sizeof message - 1);
        free(plain);
        r->policy_err[t] = dm_lab_decrypt(files[t].buf, files[t].len, id, &pol, NULL, NULL, NULL);
        /* The authority, with a warrant, follows procedure. */
        dm_header hdr = {0};
        dm_escrow_warrant *w = NULL;
        dm_escrow_share *share = NULL;
        err = dm_header_parse(files[t].buf, files[t].len, &hdr);
        if (!err)
            err = dm_lab_warrant(auth, court, &hdr, &w);
        if (!err) {
            int e2 = dm_escrow_unwrap(auth, keys[0], w, &hdr, log, time(NULL), &share);
            if (e2 == DM_OK)
                e2 = dm_escrow_recover(auth, &hdr, &share, 1, fk + DM_FILE_KEY_LEN);
            r->recovery_err[t] = e2;
            r->recovery[t] = e2 == DM_OK                                  ? "ok"
                             : e2 == DM_ERR_NO_MATCH && !has_escrow(&hdr) ? "no-stanza"
                             : e2 == DM_ERR_NO_MATCH                      ? "unopenable"
                             : e2 == DM_ERR_HMAC                          ? "garbage"
                                                                          : "failed";
        }
        dm_escrow_share_free(share);
        dm_escrow_warrant_free(w);
        dm_header_clear(&hdr);
    }
    /* The lab's claims, checked. */
    if (!err && !(r->plain_decrypts[0] && r->plain_decrypts[1] && r->plain_decrypts[2] &&
                  r->policy_err[0] == DM_OK && r->policy_err[1] == DM_ERR_POLICY &&
                  r->policy_err[2] == DM_ERR_POLICY && r->recovery_err[0] == DM_OK &&
                  r->recovery_err[1] != DM_OK && r->recovery_err[2] != DM_OK))
        err = dm_fail(DM_ERR_INTERNAL, "the strip lab's outcomes are not what it claims");
    for (int t = 0; t < DM_LAB_STRIP_N; t++)
        free(files[t].buf);
    dm_identity_free(id);
    dm_recipient_free(rc);
    dm_secret_free(sk);
    free(pk);
    if (keys)
        dm_escrow_agent_key_free(keys[0]);
    free(keys);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
    dm_secret_free(fk);
    return err;
}
