/* crumple: Wright and Varia, "Crypto Crumple Zones" (2018): make each
 * exceptional access cost real computation, so that it works for one
 * warrant and cannot scale to a population. The authority really recovers a
 * file's key from its shares by searching the C-bit puzzle, for each C the
 * budget allows; the rest, and the cost for a whole population, are
 * extrapolated from the measured rate. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lab_internal.h"

static const char message[] = "A crumple-zone file: one warrant, one search.\n";

/* Encrypts a crumple-C file, then has the agent recover it: tries, time, and
 * whether the key found opened the file to its message. */
static int recover_once(dm_lab_cast *L, const char *dir, unsigned bits, uint64_t *tries,
                        double *secs, bool *found) {
    dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_CRUMPLE, .crumple_bits = bits};
    dm_membuf file = {0};
    dm_header hdr = {0};
    uint8_t *fk = dm_secret_alloc(2 * DM_FILE_KEY_LEN);
    if (!fk)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    uint8_t *got = fk + DM_FILE_KEY_LEN;
    *found = false;
    int err = dm_lab_encrypt(&L->rcpt, 1, L->auth, &eo, (const uint8_t *)message,
                             sizeof message - 1, &file);
    if (!err)
        err = dm_lab_decrypt(file.buf, file.len, L->id, NULL, NULL, NULL, fk);
    char name[64];
    snprintf(name, sizeof name, "crumple-%u.age", bits);
    if (!err && dir)
        err = dm_lab_write(dir, name, file.buf, file.len, 0644);
    if (!err)
        err = dm_header_parse(file.buf, file.len, &hdr);
    double t0 = dm_lab_now();
    if (!err)
        err = dm_lab_recover_with_keys(L->auth, L->keys, 1, &hdr, got, tries);
    *secs = dm_lab_now() - t0;
    uint8_t *plain = NULL;
    size_t plen = 0;
    if (!err)
        err = dm_lab_decrypt_with_key(file.buf, file.len, got, &plain, &plen);
    if (!err)
        *found = sodium_memcmp(got, fk, DM_FILE_KEY_LEN) == 0 &&
                 dm_lab_same(plain, plen, (const uint8_t *)message, sizeof message - 1);
    if (!err && !*found)
        err = dm_fail(DM_ERR_INTERNAL, "the crumple search found a key that is not the file's");
    free(plain);
    dm_header_clear(&hdr);
    dm_secret_free(fk);
    free(file.buf);
    return err;
}

int dm_lab_crumple(const dm_lab_crumple_opts *o, dm_lab_crumple_result *r) {
    memset(r, 0, sizeof *r);
    if (o->min_bits < 1 || o->max_bits > DM_ESCROW_MAX_CRUMPLE_BITS || o->min_bits > o->max_bits ||
        !(o->budget > 0) || !(o->population >= 1))
        return dm_fail(DM_ERR_USAGE,
                       "crumple wants 1 <= --min <= --max <= %d, a positive "
                       "--budget and a --population of at least 1",
                       DM_ESCROW_MAX_CRUMPLE_BITS);
    dm_lab_cast L = {0};
    int err = dm_lab_cast_authority(&L, "CrumpleZone", o->dir);
    if (!err)
        err = dm_lab_cast_user(&L, o->dir, message, sizeof message - 1);

    /* A first rate, from a full search of a 12-bit puzzle's worth of
     * candidates (a few files, so that a lucky early hit does not mislead). */
    uint64_t total_tries = 0;
    double total_secs = 0;
    while (!err && total_tries < 4096) {
        uint64_t t;
        double s;
        bool found;
        err = recover_once(&L, NULL, 12, &t, &s, &found);
        total_tries += t;
        total_secs += s;
    }
    for (unsigned c = o->min_bits; c <= o->max_bits && !err; c++) {
        dm_lab_crumple_row *row = &r->rows[r->n_rows++];
        row->bits = c;
        double rate = total_secs / (double)total_tries;
        if (o->all || ldexp(1.0, (int)c - 1) * rate <= o->budget) { /* the average */
            err = recover_once(&L, o->dir, c, &row->tries, &row->seconds, &row->found);
            row->measured = !err;
            total_tries += row->tries;
            total_secs += row->seconds;
        }
    }
    if (!err) {
        r->seconds_per_try = total_secs / (double)total_tries;
        for (size_t i = 0; i < r->n_rows; i++) {
            dm_lab_crumple_row *row = &r->rows[i];
            row->worst_seconds = ldexp(1.0, (int)row->bits) * r->seconds_per_try;
            row->expected_seconds = row->worst_seconds / 2;
            row->population_seconds = row->expected_seconds * o->population;
        }
    }
    /* The sender's and the compliant client's cost: one file, at max bits. */
    if (!err) {
        dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_CRUMPLE, .crumple_bits = o->max_bits};
        uint8_t fk[DM_FILE_KEY_LEN];
        randombytes_buf(fk, sizeof fk);
        enum { RUNS = 50 };
        dm_header hdr = {0};
        double t0 = dm_lab_now();
        for (int i = 0; i < RUNS && !err; i++) {
            dm_header_clear(&hdr);
            memset(&hdr, 0, sizeof hdr);
            err = dm_escrow_build_stanzas(L.auth, &eo, fk, &hdr.stanzas);
        }
        r->encrypt_seconds = (dm_lab_now() - t0) / RUNS;
        t0 = dm_lab_now();
        for (int i = 0; i < RUNS && !err; i++)
            err = dm_escrow_verify_header(L.auth, &eo, &hdr, fk);
        r->check_seconds = (dm_lab_now() - t0) / RUNS;
        dm_header_clear(&hdr);
        sodium_memzero(fk, sizeof fk);
    }
    dm_lab_cast_free(&L);
    return err;
}
