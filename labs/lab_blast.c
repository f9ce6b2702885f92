/* blast-radius: what one stolen key set opens. A synthetic population is
 * encrypted three times -- plain vault, escrow to a 1-of-1 master key, escrow
 * to a 2-of-3 authority -- and then a thief with each stolen set really tries
 * every file: what decrypts, and matches its plaintext, is counted. ("Keys
 * Under Doormats", Abelson et al. 2015: escrow concentrates risk in a few
 * keys.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lab_internal.h"

const char *const dm_lab_pop_names[DM_LAB_N_POPS] = {"vault", "escrow-1of1", "escrow-2of3"};
const char *const dm_lab_stolen_names[DM_LAB_N_STOLEN] = {"user", "master", "one-agent",
                                                          "two-agents"};
const char *const dm_lab_stolen_labels[DM_LAB_N_STOLEN] = {
    "one user's key", "the 1-of-1 escrow master key", "one agent of 2-of-3",
    "two agents of 2-of-3"};

typedef struct blast {
    size_t users, per_user, n_files; /* n_files = users * per_user */
    uint8_t **plain;                 /* per file (shared by the three populations) */
    dm_membuf *enc[DM_LAB_N_POPS];   /* per population, per file */
    char **sk, **pk;                 /* per user */
    dm_escrow_authority *auth[2];    /* 1-of-1, 2-of-3 */
    dm_escrow_agent_key **keys[2];
    dm_escrow_court_key *court[2];
} blast;

static void blast_free(blast *b) {
    for (size_t i = 0; b->plain && i < b->n_files; i++)
        free(b->plain[i]);
    free(b->plain);
    for (int p = 0; p < DM_LAB_N_POPS; p++) {
        for (size_t i = 0; b->enc[p] && i < b->n_files; i++)
            free(b->enc[p][i].buf);
        free(b->enc[p]);
    }
    for (size_t u = 0; b->sk && u < b->users; u++) {
        dm_secret_free(b->sk[u]);
        free(b->pk[u]);
    }
    free(b->sk);
    free(b->pk);
    for (int a = 0; a < 2; a++) {
        dm_escrow_agent_keys_free(b->keys[a],
                                  b->auth[a] ? dm_escrow_authority_agents(b->auth[a]) : 0);
        dm_escrow_court_key_free(b->court[a]);
        dm_escrow_authority_free(b->auth[a]);
    }
}

/* Tries one file with the stolen set; true when it decrypted to its plaintext. */
static int steal_one(blast *b, int set, dm_identity *user, const dm_membuf *file, size_t idx,
                     const dm_lab_blast_opts *o, bool *opened) {
    *opened = false;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int err;
    if (set == DM_LAB_STOLEN_USER) {
        err = dm_lab_decrypt(file->buf, file->len, user, NULL, &plain, &plain_len, NULL);
    } else {
        int a = set == DM_LAB_STOLEN_MASTER ? 0 : 1;
        dm_escrow_agent_key *stolen[2] = {b->keys[a][0], a == 1 ? b->keys[a][2] : NULL};
        size_t n_stolen = set == DM_LAB_STOLEN_TWO_AGENTS ? 2 : 1;
        dm_header hdr = {0};
        uint8_t *fk = dm_secret_alloc(DM_FILE_KEY_LEN);
        if (!fk)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        err = dm_header_parse(file->buf, file->len, &hdr);
        if (!err)
            err = dm_lab_recover_with_keys(b->auth[a], stolen, n_stolen, &hdr, fk, NULL);
        if (!err)
            err = dm_lab_decrypt_with_key(file->buf, file->len, fk, &plain, &plain_len);
        dm_header_clear(&hdr);
        dm_secret_free(fk);
    }
    if (err == DM_OK) {
        *opened = dm_lab_same(plain, plain_len, b->plain[idx], o->file_bytes);
        free(plain);
        if (!*opened)
            return dm_fail(DM_ERR_INTERNAL, "file %zu decrypted to something else", idx);
        return DM_OK;
    }
    /* Not opening is the expected outcome for most files; anything else is a fault. */
    return err == DM_ERR_NO_MATCH ? DM_OK : err;
}

int dm_lab_blast(const dm_lab_blast_opts *o, dm_lab_blast_result *r) {
    memset(r, 0, sizeof *r);
    if (o->users < 1 || o->users > 10000 || o->files_per_user < 1 || o->files_per_user > 10000 ||
        o->file_bytes < 1 || o->file_bytes > (1u << 20) ||
        (size_t)o->users * o->files_per_user > 1000000)
        return dm_fail(DM_ERR_USAGE, "blast-radius wants 1-10000 users, 1-10000 files each (at "
                                     "most 1000000 in all), 1 byte to 1 MiB per file");
    blast b = {0};
    b.users = o->users;
    b.per_user = o->files_per_user;
    b.n_files = b.users * b.per_user;
    int err = DM_OK;
    b.plain = calloc(b.n_files, sizeof *b.plain);
    b.sk = calloc(b.users, sizeof *b.sk);
    b.pk = calloc(b.users, sizeof *b.pk);
    for (int p = 0; p < DM_LAB_N_POPS; p++)
        b.enc[p] = calloc(b.n_files, sizeof *b.enc[p]);
    if (!b.plain || !b.sk || !b.pk || !b.enc[0] || !b.enc[1] || !b.enc[2])
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    static const char *const agents[] = {"doj", "court", "vendor"};
    if (!err)
        err = dm_escrow_authority_new("Master", NULL, 0, 0, &b.auth[0], &b.keys[0], &b.court[0]);
    if (!err)
        err =
            dm_escrow_authority_new("Agencies", agents, 3, 2, &b.auth[1], &b.keys[1], &b.court[1]);
    char path[4096];
    for (int a = 0; a < 2 && !err; a++) {
        err = dm_lab_path(path, sizeof path, o->dir, a == 0 ? "authority-1of1" : "authority-2of3");
        if (!err)
            err = dm_escrow_authority_write_dir(path, b.auth[a], b.keys[a], b.court[a]);
    }
    for (int p = 0; p < DM_LAB_N_POPS && !err; p++)
        err = dm_lab_mkdir(o->dir, dm_lab_pop_names[p]);
    if (!err)
        err = dm_lab_mkdir(o->dir, "users");
    for (size_t u = 0; u < b.users && !err; u++) {
        err = dm_x25519_keygen(&b.sk[u], &b.pk[u]);
        char name[64];
        snprintf(name, sizeof name, "users/user%04zu.key", u + 1);
        if (!err)
            err = dm_lab_write_identity(o->dir, name, b.sk[u]);
    }
    for (size_t i = 0; i < b.n_files && !err; i++) {
        if (!(b.plain[i] = malloc(o->file_bytes)))
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        else
            randombytes_buf(b.plain[i], o->file_bytes);
    }
    /* Encrypt each population; each file to its owner (and the authority). */
    for (int p = 0; p < DM_LAB_N_POPS && !err; p++) {
        double t0 = dm_lab_now();
        for (size_t i = 0; i < b.n_files && !err; i++) {
            dm_recipient *rc = NULL;
            size_t owner = i / b.per_user;
            err = dm_x25519_recipient_parse(b.pk[owner], &rc);
            if (!err)
                err = dm_lab_encrypt(&rc, 1, p == DM_LAB_POP_VAULT ? NULL : b.auth[p - 1], NULL,
                                     b.plain[i], o->file_bytes, &b.enc[p][i]);
            dm_recipient_free(rc);
        }
        r->encrypt_seconds[p] = dm_lab_now() - t0;
        r->pop_files[p] = b.n_files;
        r->total_files += b.n_files;
        for (size_t i = 0; i < b.n_files && !err; i++) {
            char name[96];
            snprintf(name, sizeof name, "%s/user%04zu-file%04zu.age", dm_lab_pop_names[p],
                     i / b.per_user + 1, i % b.per_user + 1);
            err = dm_lab_write(o->dir, name, b.enc[p][i].buf, b.enc[p][i].len, 0644);
        }
    }
    /* The thefts. The stolen user is user 1. */
    dm_identity *user = NULL;
    if (!err)
        err = dm_x25519_identity_parse(b.sk[0], &user);
    for (int s = 0; s < DM_LAB_N_STOLEN && !err; s++) {
        dm_lab_blast_row *row = &r->rows[s];
        double t0 = dm_lab_now();
        for (int p = 0; p < DM_LAB_N_POPS && !err; p++)
            for (size_t i = 0; i < b.n_files && !err; i++) {
                bool opened = false;
                err = steal_one(&b, s, user, &b.enc[p][i], i, o, &opened);
                if (opened) {
                    row->by_pop[p]++;
                    row->exposed++;
                }
            }
        row->seconds = dm_lab_now() - t0;
    }
    dm_identity_free(user);
    blast_free(&b);
    return err;
}
