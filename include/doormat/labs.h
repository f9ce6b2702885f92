/* doormat labs: the cores of `doormat lab NAME` (docs/labs.md).
 *
 * Each lab does the real thing with the real vault and escrow code and fills
 * a result struct with what it measured; the command narrates it and prints
 * it as a table or as JSON. A lab writes its keys and files under dir (which
 * must exist), so that a class can look at them afterwards.
 *
 * Every function returns DM_OK or a dm_err class (dm_err_detail() says why).
 * A lab whose own claim does not hold (a count that does not match what was
 * decrypted, a forgery that does not pass) fails with DM_ERR_INTERNAL: a lab
 * never reports what did not happen.
 */
#ifndef DOORMAT_LABS_H
#define DOORMAT_LABS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "doormat/escrow.h"
#include "doormat/vault.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic wall clock, seconds. */
double dm_lab_now(void);

/* ------------------------------------------------------------ blast-radius */

enum { DM_LAB_POP_VAULT, DM_LAB_POP_ESCROW_1OF1, DM_LAB_POP_ESCROW_2OF3, DM_LAB_N_POPS };
enum {
    DM_LAB_STOLEN_USER,
    DM_LAB_STOLEN_MASTER,
    DM_LAB_STOLEN_ONE_AGENT,
    DM_LAB_STOLEN_TWO_AGENTS,
    DM_LAB_N_STOLEN
};

extern const char *const dm_lab_pop_names[DM_LAB_N_POPS];       /* "vault", "escrow-1of1", ... */
extern const char *const dm_lab_stolen_names[DM_LAB_N_STOLEN];  /* "user", "master", ... */
extern const char *const dm_lab_stolen_labels[DM_LAB_N_STOLEN]; /* "one user's key", ... */

typedef struct dm_lab_blast_opts {
    unsigned users;          /* 1..10000 */
    unsigned files_per_user; /* 1..10000 */
    size_t file_bytes;       /* 1..1 MiB: each file is this many random bytes */
    const char *dir;
} dm_lab_blast_opts;

typedef struct dm_lab_blast_row {
    size_t by_pop[DM_LAB_N_POPS]; /* files actually decrypted and compared, per population */
    size_t exposed;               /* their sum */
    double seconds;               /* the thief's time over all files */
} dm_lab_blast_row;

typedef struct dm_lab_blast_result {
    size_t pop_files[DM_LAB_N_POPS];
    size_t total_files;
    double encrypt_seconds[DM_LAB_N_POPS];
    dm_lab_blast_row rows[DM_LAB_N_STOLEN];
} dm_lab_blast_result;

int dm_lab_blast(const dm_lab_blast_opts *o, dm_lab_blast_result *r);

/* ------------------------------------------------------------ leaf-forge */

#define DM_LAB_LEAF_ROWS 5   /* N = 8, 12, 16, 20, 24 */
#define DM_LAB_LEAF_BEYOND 4 /* N = 32, 40, 64, 80 (extrapolated) */
extern const unsigned dm_lab_leaf_bits[DM_LAB_LEAF_ROWS];
extern const unsigned dm_lab_leaf_beyond_bits[DM_LAB_LEAF_BEYOND];

typedef struct dm_lab_leaf_opts {
    unsigned forge_bits;   /* the demonstrated forgery (1..32) */
    double budget;         /* run a row for real if it should take at most this long */
    bool all;              /* run every row for real */
    uint64_t shamir_tries; /* random fields tried against the default escrow */
    const char *dir;
} dm_lab_leaf_opts;

typedef struct dm_lab_leaf_row {
    unsigned bits;
    bool measured;
    uint64_t tries;        /* measured rows */
    double seconds;        /* measured, or expected_tries * seconds_per_try */
    double expected_tries; /* 2^bits */
} dm_lab_leaf_row;

typedef struct dm_lab_leaf_result {
    double seconds_per_try; /* measured over all measured rows */
    dm_lab_leaf_row rows[DM_LAB_LEAF_ROWS];
    dm_lab_leaf_row beyond[DM_LAB_LEAF_BEYOND];
    /* the demonstrated forgery */
    unsigned forge_bits;
    uint64_t forge_tries;
    double forge_seconds;
    bool forged_passes_check; /* dm_decrypt with the --require-escrow policy: plaintext out */
    int recovery_err;         /* dm_escrow_recover through the warrant path (DM_ERR_HMAC) */
    uint8_t authority_key[DM_FILE_KEY_LEN]; /* what the agent's share held */
    uint8_t file_key[DM_FILE_KEY_LEN];
    /* the same attack on the default escrow */
    uint64_t shamir_tries, shamir_passed;
    double shamir_seconds;
} dm_lab_leaf_result;

int dm_lab_leaf(const dm_lab_leaf_opts *o, dm_lab_leaf_result *r);

/* ------------------------------------------------------------ crumple */

#define DM_LAB_CRUMPLE_MAX_ROWS 48

typedef struct dm_lab_crumple_opts {
    unsigned min_bits, max_bits; /* 1 <= min <= max <= 48 */
    double budget;               /* run a row for real if its worst case fits */
    bool all;
    double population; /* files, for the population cost */
    const char *dir;
} dm_lab_crumple_opts;

typedef struct dm_lab_crumple_row {
    unsigned bits;
    bool measured;
    uint64_t tries;
    double seconds;
    bool found; /* the key found decrypted the file to its plaintext */
    double expected_seconds, worst_seconds, population_seconds;
} dm_lab_crumple_row;

typedef struct dm_lab_crumple_result {
    size_t n_rows;
    dm_lab_crumple_row rows[DM_LAB_CRUMPLE_MAX_ROWS];
    double seconds_per_try;
    double encrypt_seconds; /* building one file's crumple stanzas, at max_bits */
    double check_seconds;   /* the compliant check of them */
} dm_lab_crumple_result;

int dm_lab_crumple(const dm_lab_crumple_opts *o, dm_lab_crumple_result *r);

/* ------------------------------------------------------------ passcode */

typedef struct dm_lab_kdf {
    int log_n;
    uint32_t r, p;
    double ms_per_try; /* measured */
} dm_lab_kdf;

typedef struct dm_lab_passcode_opts {
    unsigned digits;  /* PIN length for the live crack (1..8) */
    bool real;        /* crack with the calibrated (~80 ms) setting, not the fast one */
    double target_ms; /* calibration target; 0: 80 */
    const char *dir;
} dm_lab_passcode_opts;

#define DM_LAB_PASSCODE_ROWS 3
extern const char *const dm_lab_passcode_spaces[DM_LAB_PASSCODE_ROWS];
extern const double dm_lab_passcode_candidates[DM_LAB_PASSCODE_ROWS];

typedef struct dm_lab_passcode_result {
    dm_lab_kdf calibrated, fast;
    double target_ms;
    /* no retry limit */
    unsigned digits;
    bool crack_real;
    uint64_t crack_tries;
    double crack_seconds;
    bool crack_found; /* the PIN found unlocked the device and decrypted its file */
    char pin[9];
    /* with the retry limit */
    unsigned limit;
    uint64_t limited_tries;
    bool erased, limited_found, correct_pin_after_erase_fails;
    double rows_worst[DM_LAB_PASSCODE_ROWS]; /* extrapolated from calibrated.ms_per_try */
} dm_lab_passcode_result;

int dm_lab_passcode(const dm_lab_passcode_opts *o, dm_lab_passcode_result *r);

/* The device, for tests: a PIN entangled with a per-device secret through
 * scrypt, guarding a vault identity; erases its secret after `limit`
 * consecutive failures (0: no limit). */
typedef struct dm_lab_device dm_lab_device;
int dm_lab_device_new(const char *pin, const dm_lab_kdf *kdf, unsigned limit, const uint8_t *file,
                      size_t file_len, dm_lab_device **out);
/* DM_OK and the plaintext (malloc'd) for the right PIN; DM_ERR_NO_MATCH for a
 * wrong one; DM_ERR_DENIED once the device has erased itself. */
int dm_lab_device_unlock(dm_lab_device *d, const char *pin, uint8_t **plain, size_t *plain_len);
bool dm_lab_device_erased(const dm_lab_device *d);
/* The device's recipient, for encrypting its file (owned by d). */
const char *dm_lab_device_recipient(const dm_lab_device *d);
int dm_lab_device_set_file(dm_lab_device *d, const uint8_t *file, size_t len);
void dm_lab_device_free(dm_lab_device *d);
/* Measures one scrypt try with this setting (fills ms_per_try). */
int dm_lab_kdf_measure(dm_lab_kdf *kdf, unsigned runs);
/* Finds a setting that costs about target_ms a try on this machine. */
int dm_lab_kdf_calibrate(double target_ms, dm_lab_kdf *out);

/* ------------------------------------------------------------ strip */

enum { DM_LAB_STRIP_ORIGINAL, DM_LAB_STRIP_STRIPPED, DM_LAB_STRIP_CORRUPTED, DM_LAB_STRIP_N };
extern const char
    *const dm_lab_strip_names[DM_LAB_STRIP_N]; /* "original", "stripped", "corrupted" */

typedef struct dm_lab_strip_result {
    /* Files written: DIR/{original,stripped,corrupted}.age, DIR/message.txt,
     * DIR/user.key, DIR/authority/ (authority.pub, court.key, agents/, logs/). */
    char paths[DM_LAB_STRIP_N][4096];
    int policy_err[DM_LAB_STRIP_N];       /* in-process compliance check: DM_OK or DM_ERR_POLICY */
    bool plain_decrypts[DM_LAB_STRIP_N];  /* the vault alone (no policy) gives the message */
    int recovery_err[DM_LAB_STRIP_N];     /* warrant path: DM_OK, DM_ERR_NO_MATCH, ... */
    const char *recovery[DM_LAB_STRIP_N]; /* "ok", "no-stanza", "unopenable", "garbage", "failed" */
} dm_lab_strip_result;

int dm_lab_strip(const char *dir, dm_lab_strip_result *r);

#ifdef __cplusplus
}
#endif
#endif
