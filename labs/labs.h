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
#include <sys/types.h>

#include "doormat/escrow.h"
#include "doormat/tlog.h"
#include "doormat/vault.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic wall clock, seconds. */
double dm_lab_now(void);

/* --------------------------------------------------------- the rogue's tools */

/* A rogue sender's tools, for tests and the "strip" lab: rewrite a binary age
 * file's header with the file key (so the header MAC is valid again). STRIP
 * removes every doormat-escrow stanza; CORRUPT keeps their arguments but fills
 * their bodies with random bytes (well-formed, useless to the agents); the
 * payload is kept as is. The header MAC must verify with file_key first
 * (DM_ERR_HMAC otherwise). Armored input is DM_ERR_USAGE. */
typedef enum dm_lab_tamper_mode {
    DM_LAB_TAMPER_STRIP = 1,
    DM_LAB_TAMPER_CORRUPT = 2
} dm_lab_tamper_mode;
int dm_lab_tamper(const uint8_t *file, size_t len, const uint8_t file_key[DM_FILE_KEY_LEN],
                  dm_lab_tamper_mode mode, uint8_t **out, size_t *out_len);

/* What whoever holds agent keys can do (a thief, or an authority that skips
 * its own procedure; the blast-radius and crumple labs): unwrap the given
 * agents' shares straight from the header -- no warrant, no log entry --
 * combine them, search a crumple puzzle, and check the header MAC.
 * DM_ERR_TOO_FEW_SHARES when the keys open fewer than k stanzas; DM_ERR_HMAC when
 * the result is not this file's key. *tries (may be NULL) gets the number of
 * crumple candidates tried (0 for other modes). */
int dm_lab_recover_with_keys(const dm_escrow_authority *auth, dm_escrow_agent_key *const *keys,
                             size_t n_keys, const dm_header *hdr, uint8_t file_key[DM_FILE_KEY_LEN],
                             uint64_t *tries);

/* Blaze's attack on a LEAF-mode file (binary, not armored), for the leaf-forge
 * lab: replaces the authority's stanzas with ones that wrap a random decoy key
 * (random_bytes fill the checksum fields), then draws random checksums,
 * asking dm_escrow_verify_header -- the check decrypt --require-escrow runs --
 * until it passes, at most max_tries times. The forger never computes a
 * checksum: it uses the check as an oracle, as Blaze used the chip. On success
 * *out is the forged file (header MAC recomputed with file_key, payload kept;
 * malloc'd) and decoy (may be NULL) the key the agents will recover. *tries
 * gets the checks made. DM_ERR_NO_MATCH when none passed. */
int dm_lab_leaf_forge(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                      const uint8_t *file, size_t len, const uint8_t file_key[DM_FILE_KEY_LEN],
                      uint64_t max_tries, uint8_t **out, size_t *out_len,
                      uint8_t decoy[DM_FILE_KEY_LEN], uint64_t *tries);

/* The same attack on any mode: each try fills the bodies of the authority's
 * stanzas in hdr with random bytes and runs dm_escrow_verify_header; *passed
 * counts the tries that passed (for SHAMIR, one in about 2^128 per stanza). */
int dm_lab_random_fields(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                         const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN],
                         uint64_t tries, uint64_t *passed);

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
    double seconds_per_try; /* measured over rate_tries checks, before the rows */
    uint64_t rate_tries;    /* a whole number of batches of 4096 */
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
/* DM_OK and the plaintext (malloc'd) for the right PIN; DM_ERR_BAD_PASSPHRASE for a
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
    int recovery_err[DM_LAB_STRIP_N];     /* warrant path: DM_OK, DM_ERR_NO_STANZA, ... */
    const char *recovery[DM_LAB_STRIP_N]; /* "ok", "no-stanza", "unopenable", "garbage", "failed" */
} dm_lab_strip_result;

int dm_lab_strip(const char *dir, dm_lab_strip_result *r);

/* ------------------------------------------------------------ unbound-id */

/* The header-swap attack (issue 18): a requester rebuilds the owner's
 * escrowed file (2-of-3 FBI) without the owner's stanza, the court signs a
 * warrant for the rebuilt header's id, doj and court are asked. Against the
 * old binding (the agent as it was before v2 stanzas, lab-only: it names a
 * release by the hash of the header it is sent) and the new one (the
 * library's release code: the id the stanzas' seals bind). Files: DIR/g.age,
 * DIR/user.key, DIR/authority/ (its logs: the new binding's),
 * DIR/logs-header-hash/AGENT (the old binding's logs). */
enum { DM_LAB_UNBOUND_OLD, DM_LAB_UNBOUND_NEW, DM_LAB_UNBOUND_N };
extern const char *const dm_lab_unbound_binding[DM_LAB_UNBOUND_N]; /* "header-hash", "file-key" */

typedef struct dm_lab_unbound_row {
    size_t released;  /* shares released under the swapped warrant (of the 2 asked) */
    int answer;       /* DM_OK, or the refusal (DM_ERR_DENIED: the warrant does not cover) */
    char reason[200]; /* the refusal's words */
    bool opened;      /* the released shares open the owner's g.age */
    char logged_id[2 * DM_FILE_ID_LEN + 1]; /* the id the releases were logged under, or "" */
    size_t log_entries;                     /* entries in the agents' logs */
    size_t monitor_saw; /* of those, the ones the owner's monitor lists for g.age */
} dm_lab_unbound_row;

typedef struct dm_lab_unbound_result {
    char header_id[2 * DM_FILE_ID_LEN + 1];  /* g.age's header hash (what the old monitor seeks) */
    char swapped_id[2 * DM_FILE_ID_LEN + 1]; /* the rebuilt header's hash (what the court signed) */
    char escrow_id[2 * DM_FILE_ID_LEN + 1];  /* the id g.age's stanzas bind */
    dm_lab_unbound_row rows[DM_LAB_UNBOUND_N];
    /* The new binding under a warrant for the bound id: shares, and the monitor. */
    size_t bound_released;
    bool bound_opened;
    size_t bound_monitor_saw;
} dm_lab_unbound_result;

int dm_lab_unbound(const char *dir, dm_lab_unbound_result *r);

/* ------------------------------------------------------------ ghost */

/* GCHQ's "ghost user" (Levy and Robinson, 2018): a client that silently adds
 * one more X25519 recipient -- the ghost -- to every file it sends. Beside it,
 * an honest client, and an honest sender who adds a blind copy on purpose. */
typedef struct dm_lab_ghost_opts {
    unsigned files; /* messages sent by each client, 1..100000 */
    const char *dir;
} dm_lab_ghost_opts;

enum { DM_LAB_GHOST_HONEST, DM_LAB_GHOST_BCC, DM_LAB_GHOST_GHOSTED, DM_LAB_GHOST_N };
extern const char *const dm_lab_ghost_names[DM_LAB_GHOST_N]; /* "honest", "bcc", "ghosted" */

typedef struct dm_lab_ghost_row {
    size_t files;
    size_t addressed;       /* recipients the sender chose (the receiver and herself, + a bcc) */
    size_t stanzas;         /* X25519 stanzas in each file's header (the same for every file) */
    size_t receiver_opened; /* files the receiver decrypted to the message, without a warning */
    size_t ghost_opened;    /* files the ghost's key decrypted to the message */
    size_t counted_flags;   /* files a monitor that counts stanzas against the 2 expected flags */
    double encrypt_seconds; /* sending all the files */
} dm_lab_ghost_row;

typedef struct dm_lab_ghost_result {
    dm_lab_ghost_row rows[DM_LAB_GHOST_N];
    /* A ghost's stanza looks like any other: same type, arguments, body size. */
    bool ghost_stanza_same_shape;
    /* Files written: DIR/{honest,bcc,ghosted}/message-NNNN.age, DIR/receiver.key,
     * DIR/sender.key, DIR/ghost.key, DIR/bcc.key, DIR/message-0001.txt (the
     * first message); one of each kept for the
     * command's outside checks: */
    char sample[DM_LAB_GHOST_N][4096];
} dm_lab_ghost_result;

int dm_lab_ghost(const dm_lab_ghost_opts *o, dm_lab_ghost_result *r);

/* ------------------------------------------------------------ clear */

/* Ray Ozzie's CLEAR (2018): each device encrypts its passcode to the
 * vendor's public key; under a warrant, with the device in hand, the vendor
 * decrypts the passcode (and the device bricks itself). A population of the
 * passcode lab's devices, each with its passcode so escrowed. */
typedef struct dm_lab_clear_opts {
    unsigned devices; /* 1..100000 */
    unsigned digits;  /* passcode length, 1..8 (4) */
    const char *dir;
} dm_lab_clear_opts;

typedef struct dm_lab_clear_result {
    unsigned devices, digits;
    dm_lab_kdf device_kdf; /* the classroom devices' passcode setting (measured) */
    dm_lab_kdf calibrated; /* ~80 ms a try: what a real device costs (measured) */
    /* The vendor key: every device opened, one by one (recovery mode, then
     * the passcode decrypted with the vendor key, then one passcode try). */
    size_t vendor_opened, bricked;
    double vendor_first_seconds;   /* the first device */
    double vendor_all_seconds;     /* all of them */
    double vendor_decrypt_seconds; /* the vendor's part alone, per device (measured) */
    /* Brute force of one device with the passcode lab's method (no retry limit). */
    uint64_t brute_tries;
    double brute_seconds;
    bool brute_found;
    /* Extrapolated at calibrated.ms_per_try: */
    double brute_one_average, brute_one_worst, brute_all_average;
    double vendor_one_real, vendor_all_real; /* vendor decrypt + one 80 ms try per device */
    /* Blast radius: what each key opens of the population. */
    size_t opened_by_one_passcode, opened_by_vendor_key;
} dm_lab_clear_result;

int dm_lab_clear(const dm_lab_clear_opts *o, dm_lab_clear_result *r);

/* ------------------------------------------------------------ substitution */

/* PGP's Additional Decryption Key flaw (VU#747124, 2000), today: a sender's
 * authority.pub swapped for one with the same name, agents and threshold but
 * the attacker's keys. */
typedef struct dm_lab_subst_opts {
    unsigned files; /* 1..100000 */
    const char *dir;
} dm_lab_subst_opts;

enum {
    DM_LAB_SUBST_PLAIN,         /* the vault alone, as plain age reads the file */
    DM_LAB_SUBST_SWAPPED_CHECK, /* a compliant client given the same swapped authority.pub */
    DM_LAB_SUBST_GENUINE_CHECK, /* a compliant client with the genuine authority.pub */
    DM_LAB_SUBST_PINNED_SENDER, /* a sender whose client pins the genuine authority's id */
    DM_LAB_SUBST_LOGGED_SENDER, /* a sender whose client wants the authority in a witnessed log */
    DM_LAB_SUBST_N_RECEIVERS
};
extern const char *const dm_lab_subst_names[DM_LAB_SUBST_N_RECEIVERS];

typedef struct dm_lab_subst_result {
    size_t files;
    size_t attacker_opened; /* files the attacker's agents decrypted, no warrant */
    size_t genuine_opened;  /* files the genuine authority's agents could decrypt */
    double attacker_seconds;
    bool same_name; /* the swapped authority shows the genuine name and agents */
    /* Per receiver: files it opened without a word, and files it refused (DM_ERR_POLICY). */
    size_t accepted[DM_LAB_SUBST_N_RECEIVERS], refused[DM_LAB_SUBST_N_RECEIVERS];
    /* With the pin, and with the log, the files that reached the attacker (0) */
    size_t pinned_exposed, logged_exposed;
    bool genuine_in_log; /* the genuine authority.pub's receipt verifies */
    char genuine_id[2 * DM_ESCROW_ID_LEN + 1], swapped_id[2 * DM_ESCROW_ID_LEN + 1];
    /* Files written: DIR/genuine/ (the real authority), DIR/attacker/ (the
     * attacker's, with its agents' keys), DIR/swapped.pub (what the sender
     * was given), DIR/files/message-NNNN.age, DIR/message-0001.txt (the first
     * message), DIR/receiver.key; the publication: DIR/publication-log/ (a
     * tiled transparency log holding the genuine authority.pub),
     * DIR/genuine/authority.proof (its receipt, c2sp.org/tlog-proof, with a
     * witness's cosignature), DIR/log.vkey and DIR/witness.vkey. */
} dm_lab_subst_result;

int dm_lab_subst(const dm_lab_subst_opts *o, dm_lab_subst_result *r);
/* The pin: DM_OK when auth's id is pinned_hex, DM_ERR_POLICY otherwise. */
int dm_lab_authority_pinned(const dm_escrow_authority *auth, const char *pinned_hex);
/* The log: DM_OK when the authority file's exact text is the entry that the
 * receipt (tlog-proof text) proves, in a checkpoint signed by log_key and
 * cosigned by witness; DM_ERR_LOG (or DM_ERR_USAGE for a malformed receipt)
 * otherwise. */
int dm_lab_authority_published(const char *auth_text, size_t auth_len, const char *receipt,
                               size_t receipt_len, const dm_tlog_verifier *log_key,
                               const dm_tlog_verifier *witness);

/* ------------------------------------------------------------ retroactive */

/* An archive of vault files whose file keys the software can reach (it holds
 * the user's identity) gets escrow added afterwards with dm_rekey: headers
 * rewritten, payloads untouched. */
typedef struct dm_lab_retro_opts {
    unsigned files;    /* 1..100000 */
    size_t file_bytes; /* 1..64 MiB each */
    const char *dir;
} dm_lab_retro_opts;

typedef struct dm_lab_retro_result {
    size_t files;
    uint64_t archive_bytes;   /* the encrypted archive, before */
    uint64_t bytes_rewritten; /* header bytes written (new headers) */
    uint64_t bytes_copied;    /* payload bytes copied unchanged */
    uint64_t header_bytes_before;
    double seconds;          /* rekeying the whole archive */
    double files_per_second; /* files / seconds */
    bool payloads_identical; /* every payload byte for byte as before */
    /* The authority (2 of 3) before and after: files its agents open. */
    size_t authority_opened_before, authority_opened_after;
    size_t user_opened_after; /* the owner still opens every file */
    size_t compliant_after;   /* files that pass decrypt --require-escrow's check */
    char user_recipient[128]; /* the user's age1... key, for the command's own rekey */
    /* Files written: DIR/archive/file-NNNN.age (before), DIR/escrowed/file-NNNN.age
     * (after), DIR/user.key, DIR/authority/ (2 of 3). */
} dm_lab_retro_result;

int dm_lab_retro(const dm_lab_retro_opts *o, dm_lab_retro_result *r);

/* ------------------------------------------------------------ volume */

/* The agent service's measured release rate against yearly volumes of
 * requests: the FBI's count for 2017 (7,800 claimed; 1,200 to 2,000 actual,
 * Washington Post, 22 May 2018) and larger hypothetical volumes. The
 * releases are made by the command (an agent service run on loopback); the
 * figures are computed here. */
#define DM_LAB_VOLUME_ROWS 6
typedef struct dm_lab_volume_row {
    const char *label;
    double per_year;        /* devices (requests) a year */
    bool cited;             /* a cited figure (else a hypothetical volume) */
    double service_seconds; /* of the measured service's time, sequential */
    double share_of_year;   /* service_seconds / one year */
} dm_lab_volume_row;

typedef struct dm_lab_volume_stats {
    size_t requests;
    double seconds;             /* all requests, one after another */
    double releases_per_second; /* requests / seconds */
    double p50_ms, p90_ms, p99_ms, max_ms, min_ms;
    dm_lab_volume_row rows[DM_LAB_VOLUME_ROWS];
} dm_lab_volume_stats;

/* From the latencies of n requests (seconds each, in any order; n >= 1) and
 * their total wall time: the rate, percentiles (nearest rank) and rows. */
int dm_lab_volume_compute(const double *latency, size_t n, double seconds, dm_lab_volume_stats *s);

/* ------------------------------------------------------------ insider */

/* An insider at an escrow agency, for a single-key authority and for 2 of 3:
 * one who uses agent key files directly, and one who goes through the
 * agents' procedure (a warrant, a release logged in the agent's
 * transparency log, as escrow serve makes it). Files: DIR/files/, the user's
 * key, DIR/authority-1of1/ and DIR/authority-2of3/ with their logs. */
/* The procedure: the file key of file under the warrant (text), released by
 * the authority in authority_dir (DIR/authority.pub, DIR/agents/, DIR/logs/),
 * each agent logging its release. The command passes one that asks the
 * agents running as HTTPS services (doormat escrow serve); NULL is the same
 * release code in process (dm_escrow_release on the agents' logs). */
typedef int (*dm_lab_procedure_fn)(void *ctx, const char *authority_dir, const char *warrant,
                                   size_t warrant_len, const uint8_t *file, size_t file_len,
                                   uint8_t file_key[DM_FILE_KEY_LEN]);

typedef struct dm_lab_insider_opts {
    unsigned files; /* per row, 1..DM_LAB_INSIDER_MAX_FILES */
    const char *dir;
    dm_lab_procedure_fn procedure; /* NULL: in process */
    void *procedure_ctx;
} dm_lab_insider_opts;
#define DM_LAB_INSIDER_MAX_FILES 64

enum {
    DM_LAB_INSIDER_1_KEY,     /* 1-of-1, the master key file */
    DM_LAB_INSIDER_1_SERVICE, /* 1-of-1, through the procedure */
    DM_LAB_INSIDER_3_KEY,     /* 2-of-3, one agent's key file */
    DM_LAB_INSIDER_3_KEYS,    /* 2-of-3, two agents' key files (two insiders) */
    DM_LAB_INSIDER_3_SERVICE, /* 2-of-3, through the procedure */
    DM_LAB_INSIDER_N
};
extern const char *const dm_lab_insider_authority[DM_LAB_INSIDER_N]; /* "1-of-1", ... */
extern const char *const dm_lab_insider_path[DM_LAB_INSIDER_N];      /* "key-file", ... */

typedef struct dm_lab_insider_row {
    size_t accesses;    /* files the insider went after (each row its own files) */
    size_t opened;      /* files really decrypted */
    size_t monitor_saw; /* of the row's files, those whose release is in the agents' logs */
    size_t log_entries; /* entries the agents' logs gained during the row */
    double seconds;
    char ids[DM_LAB_INSIDER_MAX_FILES][2 * DM_FILE_ID_LEN + 1]; /* the row's files (hex) */
} dm_lab_insider_row;

typedef struct dm_lab_insider_result {
    size_t files;
    dm_lab_insider_row rows[DM_LAB_INSIDER_N];
} dm_lab_insider_result;

int dm_lab_insider(const dm_lab_insider_opts *o, dm_lab_insider_result *r);
/* The owner's monitor, in process, on one agent's log directory: seen[i] is
 * set when a logged release names want[i] (n_want file ids, hex); *entries
 * gets the log's size. The checkpoint is read as published (doormat escrow
 * monitor is the monitor that also verifies signatures and tiles). */
int dm_lab_monitor_count(const char *log_dir, const char (*want)[2 * DM_FILE_ID_LEN + 1],
                         size_t n_want, bool *seen, size_t *entries);

/* --------------------------------------------------------- processes (supervise.c) */

/* The labs run the real command as separate processes, and start the HTTPS
 * services some need (doormat escrow serve) as children of the command, on
 * 127.0.0.1; a lab stops every service it started before it returns. */

/* This very binary (/proc/self/exe), to run the real command. */
int dm_lab_self_path(char *out, size_t cap);
/* Runs argv (argv[0] a path) with standard input from /dev/null, standard
 * output to out_path (created or truncated, 0600; NULL: /dev/null) and
 * errors to /dev/null, and waits for it: its exit code, or -1 when it could
 * not run or was killed by a signal. */
int dm_lab_run(char *const argv[], const char *out_path);
/* Starts argv in the background, its output and errors appended to log_path:
 * the pid, or -1. */
pid_t dm_lab_spawn(char *const argv[], const char *log_path);
/* SIGTERM, then at most 10 seconds for pid to end, then SIGKILL; reaps it.
 * Nothing for pid <= 0. */
void dm_lab_stop(pid_t pid);
/* Waits, at most `seconds`, for the port (1-65535) a service writes to
 * port_file once it listens: the port; -1 when the time is up (pid still
 * runs); -2 when pid ended first (and is reaped: nothing to stop). */
long dm_lab_wait_port(pid_t pid, const char *port_file, unsigned seconds);

#define DM_LAB_MAX_SERVICES 8
#define DM_LAB_START_SECONDS 15 /* a service's time to write its port file */
/* The services a lab started; zero-initialised is empty. */
typedef struct dm_lab_services {
    pid_t pids[DM_LAB_MAX_SERVICES];
    size_t n;
} dm_lab_services;
/* Starts argv as a service of s (dm_lab_spawn) and waits for its port
 * (dm_lab_wait_port, DM_LAB_START_SECONDS). A service still running is in s
 * even when it did not listen in time (dm_lab_services_stop stops it); one
 * that ended is not.
 * DM_ERR_IO when it did not start or listen (the detail names log_path);
 * DM_ERR_INTERNAL when s is full. */
int dm_lab_service_start(dm_lab_services *s, char *const argv[], const char *port_file,
                         const char *log_path, long *port);
/* Stops every service of s (dm_lab_stop), newest last; s is empty after. */
void dm_lab_services_stop(dm_lab_services *s);
/* Appends one formatted line to the existing file path (an authority's
 * url: and tls: lines). DM_ERR_IO when it cannot. */
int dm_lab_append_line(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Removes dir and everything under it (the command's temporary lab directory). */
int dm_lab_remove_tree(const char *dir);

/* --------------------------------------------------------- the network labs (lab_network.c) */

/* What the labs that talk to agents over HTTPS need from the command: the
 * doormat binary (to run escrow init and escrow serve), the ports, and the
 * service room's client calls (labs/ does not link the services). */
typedef struct dm_lab_net {
    const char *self;        /* the doormat binary (dm_lab_self_path) */
    unsigned long port_base; /* services on ports from here (0: free ports) */
    /* doormat escrow request's client: the key of the file whose header is
     * hdr (hdr_len bytes), released under warrant by the agents of auth
     * (their url: and tls: lines), sealed to the investigator's identity
     * (X25519 identity text); file_key is guarded memory. */
    int (*request)(void *ctx, const dm_escrow_authority *auth, const char *warrant,
                   size_t warrant_len, const uint8_t *hdr, size_t hdr_len, const char *identity,
                   uint8_t *file_key);
    /* A TLS identity for an agent named name: *pem (guarded memory,
     * dm_secret_free) and its pin. */
    int (*tls_new)(void *ctx, const char *name, char **pem, size_t *pem_len,
                   char pin[DM_ESCROW_TLS_PIN_LEN + 1]);
    void *ctx;
} dm_lab_net;

/* The volume lab: the authority made by doormat escrow init in dir/authority,
 * its one agent started as an HTTPS service on 127.0.0.1 (port_base, or a
 * free port) and stopped before this returns; `requests` files escrowed to
 * it, one warrant naming them all, one release request for each, timed;
 * *s from the latencies (dm_lab_volume_compute). DM_ERR_INTERNAL when a
 * release did not give its file's key; DM_ERR_IO when the agent did not
 * start. */
int dm_lab_volume(const char *dir, size_t requests, const dm_lab_net *net, dm_lab_volume_stats *s);

/* The insider lab's procedure over the network (a dm_lab_procedure_fn, its
 * ctx a dm_lab_net_procedure): the authority's agents the procedure needs
 * are started as HTTPS services on first use, and the investigator's client
 * asks them. dm_lab_net_procedure_stop stops them, always. */
typedef struct dm_lab_net_procedure {
    const dm_lab_net *net;
    dm_lab_services services;
    char started[2][4096]; /* the authorities whose agents run */
    size_t n_started;
    char *inv_sk, *inv_pk;
} dm_lab_net_procedure;
int dm_lab_net_procedure_fn(void *ctx, const char *authority_dir, const char *warrant,
                            size_t warrant_len, const uint8_t *file, size_t file_len,
                            uint8_t file_key[DM_FILE_KEY_LEN]);
void dm_lab_net_procedure_stop(dm_lab_net_procedure *p);

/* --------------------------------------------------------- outside checks (outside.c) */

/* What the real tools say about a lab's files, as separate processes:
 * each returns the exit code as dm_lab_run gives it (-1: did not run); the
 * command judges them. self is the doormat binary (dm_lab_self_path). */

/* Whether files a and b exist and hold the same bytes. */
bool dm_lab_same_file(const char *a, const char *b);
/* Whether plain age (/usr/bin/age) is there to ask. */
bool dm_lab_age_available(void);
/* age -d -i key file, its output to tmp (removed after): the exit code;
 * *same whether the output is the file want. */
int dm_lab_age_decrypt(const char *key, const char *file, const char *want, const char *tmp,
                       bool *same);
/* doormat decrypt -i key [--require-escrow require_escrow] [--leaf-bits
 * leaf_bits, when not 0] file: the exit code. With want, the output goes to
 * tmp (removed after) and must be the file want (else -1); without, to
 * /dev/null. */
int dm_lab_cmd_decrypt(const char *self, const char *key, const char *require_escrow,
                       unsigned leaf_bits, const char *file, const char *want, const char *tmp);
/* doormat inspect file: the N of its "stanza: X25519 xN" line, or -1 (its
 * output goes to tmp, removed after). */
long dm_lab_cmd_inspect_x25519(const char *self, const char *file, const char *tmp);
/* doormat escrow monitor on the authority dir/name (its listing kept in
 * dir/monitor-NAME.txt): how many of the n ids it names, or -1. */
long dm_lab_cmd_monitor(const char *self, const char *dir, const char *name,
                        const char (*ids)[2 * DM_FILE_ID_LEN + 1], size_t n);
/* The leaf-forge lab's forged file (dir/forged-leaf-BITS.age) through the
 * real command: Bob's compliant client (decrypt --require-escrow
 * --leaf-bits bits: *decrypt_exit), then the authority's whole procedure
 * (escrow warrant, unwrap, recover: *recover_exit, -1 when the warrant or
 * the unwrap failed). */
void dm_lab_cmd_leaf(const char *self, const char *dir, unsigned bits, int *decrypt_exit,
                     int *recover_exit);
/* doormat rekey -i key -r recipient --escrow authority -o out in: the exit code. */
int dm_lab_cmd_rekey_escrow(const char *self, const char *key, const char *recipient,
                            const char *authority, const char *in, const char *out);

#ifdef __cplusplus
}
#endif
#endif
