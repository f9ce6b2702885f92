/* leaf-forge: Matt Blaze, "Protocol Failure in the Escrowed Encryption
 * Standard" (1994). The Clipper chip's LEAF carried a 16-bit checksum, so a
 * rogue sender could try random LEAFs until one passed the receiving chip's
 * check, and talk under a field that gave the government nothing. Here the
 * forger uses doormat's compliance check as the oracle, for N = 8..24 bits,
 * then shows that the forged file really passes the check and really gives
 * the authority garbage; and that the default, fully derived escrow does not
 * fall to the same attack. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lab_internal.h"

const unsigned dm_lab_leaf_bits[DM_LAB_LEAF_ROWS] = {8, 12, 16, 20, 24};
const unsigned dm_lab_leaf_beyond_bits[DM_LAB_LEAF_BEYOND] = {32, 40, 64, 80};

static const char message[] =
    "Attack at dawn. (A file whose escrow field will give the government nothing.)\n";

/* A LEAF-mode (or default, eo NULL) file and its file key. */
static int make_file(dm_lab_cast *L, const dm_escrow_opts *eo, dm_membuf *file,
                     uint8_t fk[DM_FILE_KEY_LEN]) {
    int err = dm_lab_encrypt(&L->rcpt, 1, L->auth, eo, (const uint8_t *)message, sizeof message - 1,
                             file);
    if (!err)
        err = dm_lab_decrypt(file->buf, file->len, L->id, NULL, NULL, NULL, fk);
    return err;
}

static int forge_row(dm_lab_cast *L, const char *dir, unsigned bits, uint64_t *tries, double *secs,
                     uint8_t **forged, size_t *forged_len, uint8_t decoy[DM_FILE_KEY_LEN],
                     uint8_t fk[DM_FILE_KEY_LEN]) {
    dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = bits};
    dm_membuf file = {0};
    int err = make_file(L, &eo, &file, fk);
    char name[64];
    snprintf(name, sizeof name, "leaf-%u.age", bits);
    if (!err)
        err = dm_lab_write(dir, name, file.buf, file.len, 0644);
    double t0 = dm_lab_now();
    if (!err)
        err = dm_lab_leaf_forge(L->auth, &eo, file.buf, file.len, fk, UINT64_MAX, forged,
                                forged_len, decoy, tries);
    *secs = dm_lab_now() - t0;
    snprintf(name, sizeof name, "forged-leaf-%u.age", bits);
    if (!err)
        err = dm_lab_write(dir, name, *forged, *forged_len, 0644);
    free(file.buf);
    return err;
}

int dm_lab_leaf(const dm_lab_leaf_opts *o, dm_lab_leaf_result *r) {
    memset(r, 0, sizeof *r);
    if (o->forge_bits < 1 || o->forge_bits > 32 || !(o->budget > 0) || o->shamir_tries < 1 ||
        o->shamir_tries > (UINT64_C(1) << 32))
        return dm_fail(DM_ERR_USAGE, "leaf-forge wants --bits 1 to 32, a positive --budget and "
                                     "1 to 2^32 --shamir-tries");
    dm_lab_cast L = {0};
    char log[4096];
    int err = dm_lab_cast_authority(&L, "Clipper", o->dir);
    if (!err)
        err = dm_lab_path(log, sizeof log, o->dir, "authority/logs/master");
    if (!err)
        err = dm_lab_cast_user(&L, o->dir, message, sizeof message - 1);

    /* The rate first, over a fixed count of checks: batches of RATE_BATCH
     * random fields against a 32-bit check (which practically never passes)
     * until RATE_SECONDS or RATE_BATCHES. A rate taken from the rows instead
     * would rest on however many tries a random row happened to take, and
     * whether the budget let the 16-bit row run. */
    enum { RATE_BATCH = 4096, RATE_BATCHES = 16 };
    const double RATE_SECONDS = 0.2;
    double rate_secs = 0;
    if (!err) {
        dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = 32};
        dm_membuf file = {0};
        uint8_t fk[DM_FILE_KEY_LEN];
        err = make_file(&L, &eo, &file, fk);
        for (int b = 0; b < RATE_BATCHES && !err && (b == 0 || rate_secs < RATE_SECONDS); b++) {
            uint8_t *forged = NULL;
            size_t flen = 0;
            uint64_t t = 0;
            double t0 = dm_lab_now();
            int e = dm_lab_leaf_forge(L.auth, &eo, file.buf, file.len, fk, RATE_BATCH, &forged,
                                      &flen, NULL, &t);
            rate_secs += dm_lab_now() - t0;
            r->rate_tries += t;
            free(forged);
            if (e != DM_OK && e != DM_ERR_NO_MATCH)
                err = e;
        }
        sodium_memzero(fk, sizeof fk);
        free(file.buf);
        if (!err)
            r->seconds_per_try = rate_secs / (double)r->rate_tries;
    }

    /* The table: measured while the expected time fits the budget. */
    for (size_t i = 0; i < DM_LAB_LEAF_ROWS && !err; i++) {
        dm_lab_leaf_row *row = &r->rows[i];
        row->bits = dm_lab_leaf_bits[i];
        row->expected_tries = ldexp(1.0, (int)row->bits);
        if (o->all || i == 0 || row->expected_tries * r->seconds_per_try <= o->budget) {
            uint8_t *forged = NULL;
            size_t flen = 0;
            uint8_t decoy[DM_FILE_KEY_LEN], fk[DM_FILE_KEY_LEN];
            err = forge_row(&L, o->dir, row->bits, &row->tries, &row->seconds, &forged, &flen,
                            decoy, fk);
            free(forged);
            row->measured = !err;
        }
    }
    for (size_t i = 0; i < DM_LAB_LEAF_ROWS && !err; i++)
        if (!r->rows[i].measured)
            r->rows[i].seconds = r->rows[i].expected_tries * r->seconds_per_try;
    for (size_t i = 0; i < DM_LAB_LEAF_BEYOND; i++) {
        r->beyond[i].bits = dm_lab_leaf_beyond_bits[i];
        r->beyond[i].expected_tries = ldexp(1.0, (int)r->beyond[i].bits);
        r->beyond[i].seconds = r->beyond[i].expected_tries * r->seconds_per_try;
    }

    /* The demonstration: forge at --bits, then run the compliant client and
     * the authority's procedure on the forged file. */
    uint8_t *forged = NULL;
    size_t flen = 0;
    uint8_t decoy[DM_FILE_KEY_LEN];
    r->forge_bits = o->forge_bits;
    if (!err)
        err = forge_row(&L, o->dir, o->forge_bits, &r->forge_tries, &r->forge_seconds, &forged,
                        &flen, decoy, r->file_key);
    if (!err) {
        dm_escrow_opts eo = {.mode = DM_ESCROW_MODE_LEAF, .leaf_bits = o->forge_bits};
        dm_escrow_policy pol = {.auth = L.auth, .opts = &eo};
        uint8_t *plain = NULL;
        size_t plen = 0;
        int e = dm_lab_decrypt(forged, flen, L.id, &pol, &plain, &plen, NULL);
        r->forged_passes_check =
            e == DM_OK && dm_lab_same(plain, plen, (const uint8_t *)message, sizeof message - 1);
        free(plain);
        if (!r->forged_passes_check)
            err = dm_fail(DM_ERR_INTERNAL, "the forged LEAF did not pass the compliant check (%s)",
                          dm_strerror(e));
    }
    dm_header hdr = {0};
    dm_escrow_warrant *w = NULL;
    dm_escrow_share *share = NULL;
    uint8_t *got = dm_secret_alloc(DM_FILE_KEY_LEN);
    if (!got && !err)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err)
        err = dm_header_parse(forged, flen, &hdr);
    if (!err)
        err = dm_lab_warrant(L.auth, L.court, &hdr, &w);
    if (!err)
        err = dm_escrow_unwrap(L.auth, L.keys[0], w, &hdr, log, time(NULL), &share);
    if (!err)
        err = dm_lab_share_value(share, r->authority_key);
    if (!err) {
        r->recovery_err = dm_escrow_recover(L.auth, &hdr, &share, 1, got);
        if (r->recovery_err != DM_ERR_HMAC ||
            sodium_memcmp(r->authority_key, decoy, DM_FILE_KEY_LEN) != 0 ||
            sodium_memcmp(r->authority_key, r->file_key, DM_FILE_KEY_LEN) == 0)
            err = dm_fail(DM_ERR_INTERNAL,
                          "the authority's recovery of the forged file did not "
                          "fail as it should (%s)",
                          dm_strerror(r->recovery_err));
    }
    dm_escrow_share_free(share);
    dm_escrow_warrant_free(w);
    dm_header_clear(&hdr);
    dm_secret_free(got);
    free(forged);

    /* The default escrow, attacked the same way. */
    if (!err) {
        dm_membuf file = {0};
        uint8_t fk[DM_FILE_KEY_LEN];
        dm_header h = {0};
        err = make_file(&L, NULL, &file, fk);
        if (!err)
            err = dm_lab_write(o->dir, "shamir.age", file.buf, file.len, 0644);
        if (!err)
            err = dm_header_parse(file.buf, file.len, &h);
        double t0 = dm_lab_now();
        if (!err)
            err = dm_lab_random_fields(L.auth, NULL, &h, fk, o->shamir_tries, &r->shamir_passed);
        r->shamir_seconds = dm_lab_now() - t0;
        r->shamir_tries = o->shamir_tries;
        sodium_memzero(fk, sizeof fk);
        dm_header_clear(&h);
        free(file.buf);
    }
    dm_lab_cast_free(&L);
    return err;
}
