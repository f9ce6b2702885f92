/* doormat tlog: a transparency log, as the Internet's logs build them.
 *
 *   - RFC 6962 Merkle tree over SHA-256 (leaf 0x00, node 0x01), inclusion and
 *     consistency proofs as RFC 9162 section 2.1 defines them;
 *   - C2SP signed-note (Ed25519, key ID = SHA-256(name || 0x0A || type ||
 *     key)[:4], verifier keys NAME+KEYID+BASE64) and tlog-checkpoint;
 *   - C2SP tlog-cosignature (Ed25519 cosignature/v1, timestamped);
 *   - C2SP tlog-tiles in a directory (checkpoint, tile/<L>/<N>[.p/<W>],
 *     tile/entries/<N>[.p/<W>]), so a static web server can publish it;
 *   - C2SP tlog-witness add-checkpoint on a state directory;
 *   - C2SP tlog-proof (offline receipts).
 *
 * Nothing here knows escrow: entries are opaque bytes. Every function returns
 * DM_OK or a dm_err class (vault.h) with dm_err_detail() saying why:
 *   DM_ERR_USAGE   malformed key, note, checkpoint, proof or request text
 *   DM_ERR_LOG     a proof that does not verify, a signature that fails, a
 *                  checkpoint or tile inconsistent with what was seen before
 *   DM_ERR_IO      the file system failed
 * Releasing follows README.md beside this header: dm_tlog_x_free frees an
 * object, dm_tlog_x_clear empties a struct the caller owns; both accept NULL.
 */
#ifndef DOORMAT_TLOG_H
#define DOORMAT_TLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "doormat/base.h"

#ifdef __cplusplus
extern "C" {
#endif
DM_API_BEGIN

#define DM_TLOG_HASH_LEN 32
#define DM_TLOG_MAX_PROOF 64  /* hashes in any proof of a tree below 2^64 */
#define DM_TLOG_TILE_HEIGHT 8 /* tiles are 2^8 = 256 hashes wide */
#define DM_TLOG_TILE_WIDTH 256
#define DM_TLOG_MAX_ENTRY 65535  /* entry bundles carry uint16 lengths */
#define DM_TLOG_MAX_NAME 255     /* key names and origins */
#define DM_TLOG_MAX_NOTE 65536   /* bytes of a signed note we accept */
#define DM_TLOG_MAX_SIGS 64      /* signature lines of a note we accept (>= 16) */
#define DM_TLOG_SIG_ED25519 0x01 /* signed-note signature types */
#define DM_TLOG_SIG_COSIGNATURE 0x04

typedef uint8_t dm_tlog_hash[DM_TLOG_HASH_LEN];

/* ------------------------------------------------------------- Merkle tree */

void dm_tlog_leaf_hash(const uint8_t *entry, size_t len, dm_tlog_hash out);
void dm_tlog_node_hash(const dm_tlog_hash left, const dm_tlog_hash right, dm_tlog_hash out);
void dm_tlog_empty_root(dm_tlog_hash out); /* SHA-256 of nothing */

/* RFC 9162 2.1.3.2 and 2.1.4.2: DM_OK, or DM_ERR_LOG saying what fails. */
DM_MUST_CHECK
int dm_tlog_verify_inclusion(uint64_t index, uint64_t size, const dm_tlog_hash leaf,
                             const dm_tlog_hash *proof, size_t n, const dm_tlog_hash root);
DM_MUST_CHECK
int dm_tlog_verify_consistency(uint64_t size1, uint64_t size2, const dm_tlog_hash root1,
                               const dm_tlog_hash root2, const dm_tlog_hash *proof, size_t n);
/* The same with roots as opaque byte strings (as RFC 9162 states it: two
 * trees of equal size are consistent when their roots are the same bytes);
 * any other case needs 32-byte roots. */
DM_MUST_CHECK
int dm_tlog_verify_consistency_bytes(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                     size_t root1_len, const uint8_t *root2, size_t root2_len,
                                     const dm_tlog_hash *proof, size_t n);

/* Stored hashes: the hash of the complete subtree at height `level` whose
 * leaves are [index << level, (index + 1) << level). */
typedef int (*dm_tlog_hash_fn)(void *ctx, unsigned level, uint64_t index, dm_tlog_hash out);

DM_MUST_CHECK
int dm_tlog_tree_hash(dm_tlog_hash_fn fn, void *ctx, uint64_t size, dm_tlog_hash root);
/* Proof generation (RFC 9162 2.1.3.1, 2.1.4.1); proof has room for
 * DM_TLOG_MAX_PROOF hashes, *n gets how many were written. */
DM_MUST_CHECK
int dm_tlog_prove_inclusion(dm_tlog_hash_fn fn, void *ctx, uint64_t index, uint64_t size,
                            dm_tlog_hash *proof, size_t *n);
DM_MUST_CHECK
int dm_tlog_prove_consistency(dm_tlog_hash_fn fn, void *ctx, uint64_t size1, uint64_t size2,
                              dm_tlog_hash *proof, size_t *n);

/* The right edge of a tree: the complete subtrees of its binary
 * decomposition, all that appending and the root need (O(log n)). */
typedef struct dm_tlog_edge {
    uint64_t size;
    dm_tlog_hash at[64]; /* at[h] is meaningful when bit h of size is set */
} dm_tlog_edge;
void dm_tlog_edge_append(dm_tlog_edge *e, const dm_tlog_hash leaf);
void dm_tlog_edge_root(const dm_tlog_edge *e, dm_tlog_hash root);
/* Reads the edge of a tree of `size` leaves through fn. */
DM_MUST_CHECK
int dm_tlog_edge_load(dm_tlog_edge *e, dm_tlog_hash_fn fn, void *ctx, uint64_t size);

/* Standard base64 with padding (RFC 4648 section 4), strict: a hash is
 * exactly 32 bytes. */
DM_MUST_CHECK
int dm_tlog_hash_decode(const char *b64, size_t len, dm_tlog_hash out);
void dm_tlog_hash_encode(const dm_tlog_hash h, char out[45]);

/* ------------------------------------------------------------ signed notes */

typedef struct dm_tlog_verifier {
    char name[DM_TLOG_MAX_NAME + 1];
    uint32_t id;
    uint8_t type; /* DM_TLOG_SIG_ED25519 or DM_TLOG_SIG_COSIGNATURE */
    uint8_t pk[32];
} dm_tlog_verifier;

/* The secret half, in guarded memory (free with dm_tlog_signer_free). */
typedef struct dm_tlog_signer dm_tlog_signer;

/* Key ID: SHA-256(name || 0x0A || type || pk)[:4], big-endian. */
uint32_t dm_tlog_key_id(const char *name, uint8_t type, const uint8_t pk[32]);
/* A fresh key: *skey gets "PRIVATE+KEY+NAME+KEYID+base64(type || seed)"
 * (guarded, dm_secret_free) and *vkey "NAME+KEYID+base64(type || pk)"
 * (malloc'd), the encodings of golang.org/x/mod/sumdb/note. */
DM_MUST_CHECK
int dm_tlog_key_generate(const char *name, uint8_t type, char **skey, char **vkey);
DM_MUST_CHECK
int dm_tlog_verifier_parse(const char *vkey, size_t len, dm_tlog_verifier *out);
DM_MUST_CHECK
int dm_tlog_verifier_format(const dm_tlog_verifier *v, char **vkey);
DM_MUST_CHECK
int dm_tlog_signer_parse(const char *skey, size_t len, dm_tlog_signer **out);
/* A signer from a 32-byte Ed25519 seed (a key derived elsewhere). */
DM_MUST_CHECK
int dm_tlog_signer_from_seed(const char *name, uint8_t type, const uint8_t seed[32],
                             dm_tlog_signer **out);
/* Its PRIVATE+KEY+... text (guarded, dm_secret_free). */
DM_MUST_CHECK
int dm_tlog_signer_format(const dm_tlog_signer *s, char **skey);
void dm_tlog_signer_free(dm_tlog_signer *s);
const dm_tlog_verifier *dm_tlog_signer_verifier(const dm_tlog_signer *s);

/* Signs text (which must end in '\n') with an Ed25519 note signature:
 * *note = text "\n" "— NAME base64(id || sig)\n" (malloc'd). */
DM_MUST_CHECK
int dm_tlog_note_sign(const char *text, size_t len, const dm_tlog_signer *s, char **note,
                      size_t *note_len);
/* One cosignature/v1 line ("— NAME base64(id || be64(time) || sig)\n") over a
 * checkpoint's note text. */
DM_MUST_CHECK
int dm_tlog_cosign(const char *text, size_t len, const dm_tlog_signer *s, uint64_t timestamp,
                   char **line, size_t *line_len);

typedef struct dm_tlog_note_sig {
    char name[DM_TLOG_MAX_NAME + 1];
    uint32_t id;
    uint8_t sig[8 + 64]; /* Ed25519: 64 bytes; cosignature: timestamp || 64 */
    size_t sig_len;
    const char *line; /* the whole line in the parsed note, '\n' included */
    size_t line_len;
} dm_tlog_note_sig;

typedef struct dm_tlog_note {
    char *text; /* the note text, final '\n' included (malloc'd) */
    size_t text_len;
    char *raw; /* the whole note as given (malloc'd) */
    size_t raw_len;
    dm_tlog_note_sig sigs[DM_TLOG_MAX_SIGS];
    size_t n_sigs;
} dm_tlog_note;

/* Strict grammar of c2sp.org/signed-note: UTF-8 without control characters
 * but '\n', text, the last empty line, signature lines. DM_ERR_USAGE. */
DM_MUST_CHECK
int dm_tlog_note_parse(const char *msg, size_t len, dm_tlog_note **out);
void dm_tlog_note_free(dm_tlog_note *n);
/* Checks the signatures from known keys (name and id both match): any that
 * fails rejects the note; none at all rejects it (DM_ERR_LOG). ok[i] (may be
 * NULL) is set to 1 for each verifier with a valid signature, and times[i]
 * (may be NULL) to its cosignature timestamp. */
DM_MUST_CHECK
int dm_tlog_note_verify(const dm_tlog_note *n, const dm_tlog_verifier *vs, size_t n_vs, uint8_t *ok,
                        uint64_t *times);

/* ------------------------------------------------------------- checkpoints */

typedef struct dm_tlog_checkpoint {
    char origin[DM_TLOG_MAX_NAME + 1];
    uint64_t size;
    dm_tlog_hash root;
} dm_tlog_checkpoint;

/* The note text "ORIGIN\nSIZE\nBASE64(ROOT)\n" (malloc'd). */
DM_MUST_CHECK
int dm_tlog_checkpoint_format(const dm_tlog_checkpoint *c, char **text, size_t *len);
/* Parses a checkpoint's note text (extension lines are allowed and ignored). */
DM_MUST_CHECK
int dm_tlog_checkpoint_parse(const char *text, size_t len, dm_tlog_checkpoint *out);
/* Parses a signed checkpoint, checks the signature of the log key (whose
 * name must be the origin), then the cosignatures: at least `needed` of the
 * witnesses must have signed it (DM_ERR_LOG otherwise, naming how many). */
DM_MUST_CHECK
int dm_tlog_checkpoint_open(const char *note, size_t len, const dm_tlog_verifier *log_key,
                            const dm_tlog_verifier *witnesses, size_t n_witnesses, unsigned needed,
                            dm_tlog_checkpoint *out);

/* ---------------------------------------------------------- reading a log */

/* Reads a resource of a tiled log by its path ("checkpoint", "tile/0/x001/234",
 * "tile/entries/000.p/5"): DM_OK with *data (malloc'd), DM_ERR_NOT_FOUND when
 * it does not exist, or another error. A directory (below) and an HTTPS
 * client (dm_service_fetcher_new, include/doormat/service.h) implement it. */
typedef struct dm_tlog_fetcher {
    int (*fetch)(void *ctx, const char *path, uint8_t **data, size_t *len);
    /* Releases ctx. Whoever made the fetcher releases it with
     * dm_tlog_fetcher_clear once every reader over it is freed. */
    void (*destroy)(void *ctx);
    void *ctx;
} dm_tlog_fetcher;
/* A fetcher over a directory; dir must outlive it. Its destroy releases
 * nothing, so one may also be passed by value and forgotten. */
dm_tlog_fetcher dm_tlog_dir_fetcher(const char *dir);
/* Calls the fetcher's destroy (when it has one) and zeroes it; accepts
 * NULL and a zeroed fetcher. */
void dm_tlog_fetcher_clear(dm_tlog_fetcher *f);

/* Path of a tile: level 0..63 (or -1 for an entry bundle), index, width
 * (256 for a full tile). out needs 64 bytes. */
DM_MUST_CHECK
int dm_tlog_tile_path(int level, uint64_t index, unsigned width, char out[64]);
/* Parses a tile path back (strict, for a server that serves by path). */
DM_MUST_CHECK
int dm_tlog_tile_path_parse(const char *path, int *level, uint64_t *index, unsigned *width);
/* Splits an entry bundle into entries: calls fn for each (DM_ERR_USAGE when
 * malformed, or when count entries are not exactly what it holds). */
DM_MUST_CHECK
int dm_tlog_bundle_parse(const uint8_t *data, size_t len, size_t count,
                         int (*fn)(void *ctx, const uint8_t *entry, size_t len), void *ctx);

/* A reader of a tree of a given size through a fetcher: a dm_tlog_hash_fn
 * over its tiles (falling back to the full tile when a partial one was
 * pruned), and the entries. */
typedef struct dm_tlog_reader dm_tlog_reader;
DM_MUST_CHECK
int dm_tlog_reader_new(dm_tlog_fetcher f, uint64_t size, dm_tlog_reader **out);
void dm_tlog_reader_free(dm_tlog_reader *r);
DM_MUST_CHECK
int dm_tlog_reader_hash(void *reader, unsigned level, uint64_t index, dm_tlog_hash out);
/* Entry number index (malloc'd copy). */
DM_MUST_CHECK
int dm_tlog_reader_entry(dm_tlog_reader *r, uint64_t index, uint8_t **entry, size_t *len);

/* What a verifier learns of a log. */
typedef int (*dm_tlog_entry_fn)(void *ctx, uint64_t index, const uint8_t *entry, size_t len);

/* Verifies a whole log from nothing against a checkpoint already opened:
 * every entry bundle and every tile (full and partial) is recomputed from
 * the entries and must be what the log serves, and the root must be the
 * checkpoint's. fn (may be NULL) sees every entry in order. */
DM_MUST_CHECK
int dm_tlog_verify_log(dm_tlog_fetcher f, const dm_tlog_checkpoint *c, dm_tlog_entry_fn fn,
                       void *ctx);
/* Catches up from an earlier checkpoint `old` to `c`: the old tree is read
 * back from the tiles and must have old's root, the new entries are hashed
 * onto it, and the result must be c's root (a fork or a rollback is
 * DM_ERR_LOG). fn sees the entries old->size .. c->size - 1. */
DM_MUST_CHECK
int dm_tlog_catch_up(dm_tlog_fetcher f, const dm_tlog_checkpoint *old, const dm_tlog_checkpoint *c,
                     dm_tlog_entry_fn fn, void *ctx);

/* ---------------------------------------------------------- writing a log */

/* A log directory, and a witness's state, are held by one process at a time
 * (an exclusive flock on a lock file). Whoever takes the lock writes into
 * the lock file who it is: "PID TIME HOLDER" (TIME in UTC, RFC 3339); whoever
 * finds it held gets DM_ERR_BUSY and a detail that names the holder:
 * "DIR: the log is held by another process (pid 1234, doormat escrow serve,
 * since 2026-12-07T16:20:01Z); stop it first". The file's text is only
 * shown, never believed: a lock that can be taken means its writer is gone. */
typedef struct dm_tlog_lock_opts {
    const char *holder; /* who takes it ("doormat escrow serve"); NULL: the pid alone */
    unsigned wait_s;    /* seconds to wait for one holder to let go (processes that
                           take turns meanwhile restart the wait); 0: fail at once */
} dm_tlog_lock_opts;
#define DM_TLOG_LOCK_WAIT 10 /* seconds dm_tlog_log_open waits */

typedef struct dm_tlog_log dm_tlog_log;

/* Creates DIR (which must not hold a checkpoint yet) with the checkpoint of
 * the empty tree, signed by key; the origin is the key's name. */
DM_MUST_CHECK
int dm_tlog_log_create(const char *dir, const dm_tlog_signer *key);
/* Undoes dm_tlog_log_create for a caller whose larger setup failed after it
 * (escrow init): removes DIR's checkpoint and lock file, then DIR itself if
 * that left it empty. Anything else in DIR stays, and DIR with it. Best
 * effort, like any clean-up on a failure path: nothing is reported. */
void dm_tlog_log_remove_empty(const char *dir);
/* Opens a log for appending: takes an exclusive lock (DIR/lock, flock) held
 * until close, so concurrent processes take turns, waiting at most
 * DM_TLOG_LOCK_WAIT seconds for another holder (then DM_ERR_BUSY, naming
 * it: see dm_tlog_lock_opts); verifies the checkpoint
 * with the key's verifier and reads back the right edge (O(log n) tiles),
 * which must give the checkpoint's root. A checkpoint whose writing was cut
 * short by a crash is finished (if it is complete and its tiles agree) or
 * discarded. */
DM_MUST_CHECK
int dm_tlog_log_open(const char *dir, const dm_tlog_signer *key, dm_tlog_log **out);
/* The same, taking the lock as lock says: a long-running holder fails at
 * once (wait_s 0) rather than queue behind another. */
DM_MUST_CHECK
int dm_tlog_log_open_with(const char *dir, const dm_tlog_signer *key, const dm_tlog_lock_opts *lock,
                          dm_tlog_log **out);
void dm_tlog_log_free(dm_tlog_log *l);
/* Appends an entry (1..DM_TLOG_MAX_ENTRY bytes); *index gets its number.
 * Nothing is visible or durable until commit. */
DM_MUST_CHECK
int dm_tlog_log_append(dm_tlog_log *l, const uint8_t *entry, size_t len, uint64_t *index);
/* Makes every appended entry durable and visible: writes the tiles and
 * bundles, fsyncs them and their directories, then signs the new
 * checkpoint and renames it into place (and fsyncs the directory). One
 * commit covers any number of appends. */
DM_MUST_CHECK
int dm_tlog_log_commit(dm_tlog_log *l);
uint64_t dm_tlog_log_size(const dm_tlog_log *l);          /* committed size */
const char *dm_tlog_log_checkpoint(const dm_tlog_log *l); /* signed text */
/* Adds cosignature lines (each "— ...\n") to the published checkpoint,
 * which is rewritten atomically; the lines must be signatures over it. */
DM_MUST_CHECK
int dm_tlog_log_add_cosignatures(dm_tlog_log *l, const char *lines, size_t len);
/* Proofs over the committed tree. */
DM_MUST_CHECK
int dm_tlog_log_prove_inclusion(dm_tlog_log *l, uint64_t index, uint64_t size, dm_tlog_hash *proof,
                                size_t *n);
DM_MUST_CHECK
int dm_tlog_log_prove_consistency(dm_tlog_log *l, uint64_t size1, uint64_t size2,
                                  dm_tlog_hash *proof, size_t *n);

/* -------------------------------------------------------------- witness */

/* The add-checkpoint request body of c2sp.org/tlog-witness. */
DM_MUST_CHECK
int dm_tlog_witness_request(uint64_t old_size, const dm_tlog_hash *proof, size_t n,
                            const char *checkpoint, size_t len, char **body, size_t *body_len);

/* A witness on a state directory (one file per log origin, holding the last
 * checkpoint it cosigned): checks the request as tlog-witness says and, when
 * every check passes, records the checkpoint (under a lock, atomically) and
 * answers with its cosignature line. *status is the HTTP status of the spec:
 * 200 (response = cosignature lines), 400 (malformed), 403 (no valid log
 * signature), 404 (unknown origin), 409 (old size is not the cosigned one;
 * response = "SIZE\n"), 422 (bad proof or inconsistent). The return value is
 * DM_OK whenever a status was decided, an error when the state could not be
 * read or written. */
DM_MUST_CHECK
int dm_tlog_witness_add_checkpoint(const char *state_dir, const dm_tlog_signer *key,
                                   const dm_tlog_verifier *logs, size_t n_logs, const char *body,
                                   size_t len, uint64_t now, int *status, char **response,
                                   size_t *response_len);

/* A long-running witness holds its state directory (STATE/serve.lock) for
 * as long as it runs, so that a second one started on the same state fails
 * (DM_ERR_BUSY, naming the first; see dm_tlog_lock_opts). Apart from the
 * lock each add-checkpoint takes for a moment (STATE/lock), which the
 * holder's own requests take as before. A missing state_dir is made (0700;
 * not its parents): a witness's first start. */
typedef struct dm_tlog_lock dm_tlog_lock;
DM_MUST_CHECK
int dm_tlog_witness_hold(const char *state_dir, const dm_tlog_lock_opts *o, dm_tlog_lock **out);
void dm_tlog_lock_free(dm_tlog_lock *l);

/* A witness kept in a directory (tlog/tlog_witness_dir.c): WDIR/witness.key
 * (its signer key, secret, 0600), WDIR/witness.vkey (its verifier key) and
 * WDIR/state/ (the state directory above). */
#define DM_TLOG_WITNESS_KEY_FILE "witness.key"
#define DM_TLOG_WITNESS_VKEY_FILE "witness.vkey"
#define DM_TLOG_WITNESS_STATE_DIR "state"
#define DM_TLOG_MAX_PATH 4096
/* WDIR/FILE into out (DM_ERR_USAGE when it does not fit in cap). */
DM_MUST_CHECK
int dm_tlog_witness_dir_path(const char *wdir, const char *file, char *out, size_t cap);
/* Makes a new witness NAME in wdir (made 0700 unless it exists): a new key
 * pair, witness.key and witness.vkey written as new files, state/ made.
 * *vkey gets the verifier key (free()). On failure nothing it made is left. */
DM_MUST_CHECK
int dm_tlog_witness_dir_create(const char *wdir, const char *name, char **vkey);
/* A witness of wdir whose signer key text (witness.key, read by the caller:
 * a program has its own rules for secret files) is skey, trusting the n_logs
 * log keys of logs (copied). DM_ERR_USAGE when skey is not a cosignature key. */
typedef struct dm_tlog_witness_dir dm_tlog_witness_dir;
DM_MUST_CHECK
int dm_tlog_witness_dir_open(const char *wdir, const char *skey, size_t len,
                             const dm_tlog_verifier *logs, size_t n_logs,
                             dm_tlog_witness_dir **out);
/* dm_tlog_witness_add_checkpoint on the witness's state at time now. */
DM_MUST_CHECK
int dm_tlog_witness_dir_add_checkpoint(const dm_tlog_witness_dir *w, const char *body,
                                       size_t len, uint64_t now, int *status, char **response,
                                       size_t *response_len);
/* The witness's own key (its name names it in cosignatures). */
const dm_tlog_verifier *dm_tlog_witness_dir_verifier(const dm_tlog_witness_dir *w);
void dm_tlog_witness_dir_free(dm_tlog_witness_dir *w);

/* -------------------------------------------------------- monitor state */

/* What a monitor keeps per log (tlog/tlog_monitor.c; docs/escrow-format.md,
 * "Monitoring and auditing"): the checkpoint it verified last and the time
 * of the latest entry of that tree, which the order check of the next
 * entries needs:
 *
 *     doormat-escrow-monitor/v1
 *     last-entry: YYYY-MM-DDTHH:MM:SSZ      ("none" for an empty log)
 *     the signed checkpoint, verbatim
 *
 * A file of older doormat versions holds the checkpoint alone (legacy). */
#define DM_TLOG_TIME_LEN 20 /* YYYY-MM-DDTHH:MM:SSZ */
typedef struct dm_tlog_monitor_state {
    const char *note; /* the checkpoint: points into the text parsed */
    size_t note_len;
    char last_entry[DM_TLOG_TIME_LEN + 1]; /* "" for none (an empty log, or legacy) */
    int legacy;                            /* a bare checkpoint: no time kept */
} dm_tlog_monitor_state;
/* Splits a kept state; DM_ERR_LOG when line 2 is not a last-entry line with
 * a valid time or "none". */
DM_MUST_CHECK
int dm_tlog_monitor_state_parse(const char *text, size_t len, dm_tlog_monitor_state *out);
/* Replaces path whole with the state (note and last_entry, NULL or "" for
 * none), atomically (dm_atomic_write): on failure the old file is left as it
 * was. DM_ERR_USAGE when PATH.tmp exists (another monitor writing), DM_ERR_IO
 * otherwise. */
DM_MUST_CHECK
int dm_tlog_monitor_state_save(const char *path, const char *note, size_t len,
                               const char *last_entry);
/* dir/HEX: the state file of the log whose key is named log_name, HEX the
 * SHA-256 of the name in lower-case hex (DM_ERR_USAGE when it does not fit). */
DM_MUST_CHECK
int dm_tlog_monitor_state_path(const char *dir, const char *log_name, char *out, size_t cap);

/* ------------------------------------------------------------ tlog-proof */

typedef struct dm_tlog_proof {
    uint8_t *extra; /* may be NULL */
    size_t extra_len;
    uint64_t index;
    dm_tlog_hash path[DM_TLOG_MAX_PROOF];
    size_t n;
    char *checkpoint; /* the signed checkpoint, verbatim */
    size_t checkpoint_len;
} dm_tlog_proof;

DM_MUST_CHECK
int dm_tlog_proof_format(const dm_tlog_proof *p, char **text, size_t *len);
DM_MUST_CHECK
int dm_tlog_proof_parse(const char *text, size_t len, dm_tlog_proof *out);
void dm_tlog_proof_clear(dm_tlog_proof *p);
/* Steps 2-4 of tlog-proof verification: the checkpoint is signed by
 * log_key (the origin its name), at least `needed` witnesses cosigned it, and
 * leaf is at p->index in it. *c (may be NULL) gets the checkpoint. */
DM_MUST_CHECK
int dm_tlog_proof_verify(const dm_tlog_proof *p, const dm_tlog_hash leaf,
                         const dm_tlog_verifier *log_key, const dm_tlog_verifier *witnesses,
                         size_t n_witnesses, unsigned needed, dm_tlog_checkpoint *c);

DM_API_END
#ifdef __cplusplus
}
#endif
#endif
