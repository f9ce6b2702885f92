/* doormat escrow: the "exceptional access" variant beside the vault.
 *
 * An escrow authority (n named agents, a threshold k, a court that signs
 * warrants) is just another recipient of the file key: it plugs into the
 * vault through dm_recipient and the dm_decrypt_opts.policy hook, nothing
 * more. The wire formats (authority file, key files, "doormat-escrow"
 * stanzas, warrants, shares, log entries, receipts) are specified in
 * docs/escrow-format.md.
 *
 * Every function returns DM_OK or a dm_err class from vault.h, with
 * dm_err_detail() saying why. Classes used here:
 *   DM_ERR_USAGE     bad argument, malformed authority/key/warrant/share
 *                    text (detail names the line), key or share of another
 *                    authority or agent, share for another file
 *   DM_ERR_HEADER    malformed doormat-escrow stanza
 *   DM_ERR_NO_STANZA no stanza for this agent or authority (or one that
 *                    does not open)
 *   DM_ERR_TOO_FEW_SHARES fewer than k valid shares (detail says how many
 *                    are needed)
 *   DM_ERR_HMAC      recovered key does not match the header MAC
 *   DM_ERR_POLICY    escrow stanzas missing, incomplete or not as derived
 *                    (dm_escrow_strerror words it "escrow policy violated")
 *   DM_ERR_DENIED    warrant refused (signature, authority, scope, expiry)
 *   DM_ERR_LOG       a transparency log or a receipt that does not verify,
 *                    too few witness cosignatures
 *
 * Secrets (agent keys, the court key, shares, key-file text) live in
 * sodium guarded memory and are zeroed on free.
 */
#ifndef DOORMAT_ESCROW_H
#define DOORMAT_ESCROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "doormat/tlog.h"
#include "doormat/vault.h"

#ifdef __cplusplus
extern "C" {
#endif
DM_API_BEGIN

#define DM_ESCROW_STANZA_TYPE "doormat-escrow"
#define DM_ESCROW_ID_LEN 16 /* authority id, shown as 32 hex digits */
#define DM_ESCROW_MAX_AGENTS 64
#define DM_ESCROW_MAX_NAME 64       /* authority name: [A-Za-z0-9._-], 1..64 */
#define DM_ESCROW_MAX_AGENT_NAME 32 /* agent name: [a-z0-9][a-z0-9_-]*, 1..32 */
#define DM_ESCROW_DIGEST_LEN 32     /* warrant digest, case digest */
#define DM_ESCROW_MAX_WITNESSES 16

/* ------------------------------------------------------------ Shamir, GF(2^8)
 * Constant time: carry-less multiplication with masks, inversion by
 * exponentiation (x^254); no table is indexed by a secret. The field is
 * GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1 (0x11b), as libgfshare. */
uint8_t dm_gf256_mul(uint8_t a, uint8_t b);
uint8_t dm_gf256_inv(uint8_t a); /* inv(0) = 0 */

/* Splits secret (len bytes) into n shares with threshold k (1 <= k <= n <= 255).
 * coeffs holds (k-1)*len bytes: coefficient j (1..k-1) of byte i is
 * coeffs[(j-1)*len + i] (random, or derived as escrow does). Share i (0-based)
 * is the polynomial at x = i+1, written to shares[i*len .. i*len+len). */
DM_MUST_CHECK
int dm_shamir_split(const uint8_t *secret, size_t len, unsigned k, unsigned n,
                    const uint8_t *coeffs, uint8_t *shares);
/* Lagrange interpolation at 0 from k shares: xs[i] distinct and non-zero,
 * ys[i] of len bytes each. DM_ERR_USAGE on repeated or zero x. */
DM_MUST_CHECK
int dm_shamir_combine(const uint8_t *xs, const uint8_t *const *ys, size_t k, size_t len,
                      uint8_t *secret);

/* ------------------------------------------------------------------ authority */

typedef struct dm_escrow_authority dm_escrow_authority; /* public part */
typedef struct dm_escrow_agent_key dm_escrow_agent_key; /* one agent's secret */
typedef struct dm_escrow_court_key dm_escrow_court_key; /* the warrant signing key */

/* Creates a fresh authority in memory. agents NULL (n_agents 0) means one
 * agent named "master", the single key under the doormat; threshold 0 means 1.
 * *agent_keys_out receives an array of n_agents keys, in authority order
 * (free each with dm_escrow_agent_key_free, then free() the array). */
DM_MUST_CHECK
int dm_escrow_authority_new(const char *name, const char *const *agents, size_t n_agents,
                            unsigned threshold, dm_escrow_authority **auth_out,
                            dm_escrow_agent_key ***agent_keys_out, dm_escrow_court_key **court_out);
/* The same, with flags: DM_ESCROW_PQ gives every agent a hybrid post-quantum
 * key (ML-KEM-768 + X25519, the vault's age1pq type) instead of an X25519 one,
 * so the shares are as safe as the files' own post-quantum recipients
 * (escrow init --pq; DM_ERR_USAGE without ML-KEM, see dm_pq_available). */
#define DM_ESCROW_PQ 1u
DM_MUST_CHECK
int dm_escrow_authority_new_ex(const char *name, const char *const *agents, size_t n_agents,
                               unsigned threshold, unsigned flags, dm_escrow_authority **auth_out,
                               dm_escrow_agent_key ***agent_keys_out,
                               dm_escrow_court_key **court_out);
void dm_escrow_authority_free(dm_escrow_authority *auth);
void dm_escrow_agent_key_free(dm_escrow_agent_key *key);
void dm_escrow_court_key_free(dm_escrow_court_key *key);
/* Frees the array of n agent keys that dm_escrow_authority_new gave, and
 * each key in it (NULL does nothing). The authority and the court key are
 * freed by their own _free. */
void dm_escrow_agent_keys_free(dm_escrow_agent_key **agent_keys, size_t n);

const char *dm_escrow_authority_name(const dm_escrow_authority *auth);
const char *dm_escrow_authority_id_hex(const dm_escrow_authority *auth);
const uint8_t *dm_escrow_authority_id(const dm_escrow_authority *auth); /* 16 bytes */
unsigned dm_escrow_authority_threshold(const dm_escrow_authority *auth);
size_t dm_escrow_authority_agents(const dm_escrow_authority *auth);
const char *dm_escrow_authority_agent_name(const dm_escrow_authority *auth, size_t i);
/* The agent's X25519 key as an age1... string (owned by auth). */
const char *dm_escrow_authority_agent_recipient(const dm_escrow_authority *auth, size_t i);
/* Where an agent (or a witness, by its key name) answers over HTTPS, and the
 * pin of its TLS key: "sha256//" and the base64 SHA-256 of its
 * SubjectPublicKeyInfo, the form of curl's CURLOPT_PINNEDPUBLICKEY. NULL
 * when authority.pub has none ("url:" and "tls:" lines). Neither is part of
 * the authority id: a machine may move without the authority changing, and
 * the pin guards the connection, not the shares (every share comes with a
 * receipt checked against the log keys). */
#define DM_ESCROW_TLS_PIN_LEN 52 /* "sha256//" + 44 base64 characters */
#define DM_ESCROW_MAX_URL 255
#define DM_ESCROW_MAX_ENDPOINT_NAME 255
const char *dm_escrow_authority_endpoint_pin(const dm_escrow_authority *auth, const char *name);
const char *dm_escrow_authority_endpoint_url(const dm_escrow_authority *auth, const char *name);
/* The same for agent number i. */
const char *dm_escrow_authority_agent_tls_pin(const dm_escrow_authority *auth, size_t i);
const char *dm_escrow_authority_agent_url(const dm_escrow_authority *auth, size_t i);
/* Sets either (NULL leaves it as is) for an agent or a witness of the
 * authority. DM_ERR_USAGE for another name, a pin not of the form above, or a
 * URL that is not https://, printable and at most 255 bytes. */
DM_MUST_CHECK
int dm_escrow_authority_set_endpoint(dm_escrow_authority *auth, const char *name,
                                     const char *tls_pin, const char *url);
/* Index of an agent by name, or -1. */
DM_MUST_CHECK
int dm_escrow_authority_find_agent(const dm_escrow_authority *auth, const char *name);
const char *dm_escrow_agent_key_name(const dm_escrow_agent_key *key);

/* Text forms (docs/escrow-format.md). format returns malloc'd text for the
 * public authority and sodium-guarded text (free with dm_secret_free) for
 * keys. parse: on DM_ERR_USAGE, *line_out (if non-NULL) is the 1-based bad
 * line, 0 when the problem is the file as a whole. A key is parsed against its
 * authority: a key of another authority, or of an agent not in it, or whose
 * public half does not match, is refused. */
DM_MUST_CHECK
int dm_escrow_authority_format(const dm_escrow_authority *auth, char **text, size_t *len);
DM_MUST_CHECK
int dm_escrow_authority_parse(const char *text, size_t len, dm_escrow_authority **out,
                              size_t *line_out);
DM_MUST_CHECK
int dm_escrow_agent_key_format(const dm_escrow_agent_key *key, char **text, size_t *len);
DM_MUST_CHECK
int dm_escrow_agent_key_parse(const dm_escrow_authority *auth, const char *text, size_t len,
                              dm_escrow_agent_key **out, size_t *line_out);
DM_MUST_CHECK
int dm_escrow_court_key_format(const dm_escrow_court_key *key, char **text, size_t *len);
DM_MUST_CHECK
int dm_escrow_court_key_parse(const dm_escrow_authority *auth, const char *text, size_t len,
                              dm_escrow_court_key **out, size_t *line_out);

/* The transparency logs (docs/escrow-format.md, "The transparency log"):
 * agent i's log key, whose name is the log's origin
 * "doormat-escrow/NAME/AGENT/HEX8"; the witnesses (Ed25519 cosignature keys)
 * and how many of them must cosign a release's checkpoint (0: none). */
const dm_tlog_verifier *dm_escrow_authority_log_key(const dm_escrow_authority *auth, size_t i);
size_t dm_escrow_authority_witnesses(const dm_escrow_authority *auth);
const dm_tlog_verifier *dm_escrow_authority_witness(const dm_escrow_authority *auth, size_t i);
unsigned dm_escrow_authority_witness_threshold(const dm_escrow_authority *auth);
/* Names the witness policy of a new authority (before it is written): the
 * authority id commits to it, so the keys' copies of the id follow. */
DM_MUST_CHECK
int dm_escrow_authority_set_witnesses(dm_escrow_authority *auth,
                                      dm_escrow_agent_key *const *agent_keys,
                                      dm_escrow_court_key *court, const dm_tlog_verifier *witnesses,
                                      size_t n, unsigned threshold);
/* The agent's log signing key, derived from its agent key (guarded). */
DM_MUST_CHECK
int dm_escrow_agent_log_signer(const dm_escrow_agent_key *key, const dm_escrow_authority *auth,
                               dm_tlog_signer **out);

/* Directory layout of `doormat escrow init`: DIR/authority.pub, DIR/court.key,
 * DIR/agents/<agent>.key and DIR/agents/<agent>.logkey (0600), and each
 * agent's log DIR/logs/<agent>/ (a tiled log at size 0). Refuses
 * (DM_ERR_USAGE) when DIR/authority.pub exists; on failure removes what it
 * wrote. */
DM_MUST_CHECK
int dm_escrow_authority_write_dir(const char *dir, const dm_escrow_authority *auth,
                                  dm_escrow_agent_key *const *agent_keys,
                                  const dm_escrow_court_key *court);
/* File loaders: like parse, with dm_err_detail naming "path:line: ...". */
DM_MUST_CHECK
int dm_escrow_authority_load(const char *path, dm_escrow_authority **out);
DM_MUST_CHECK
int dm_escrow_agent_key_load(const dm_escrow_authority *auth, const char *path,
                             dm_escrow_agent_key **out);
DM_MUST_CHECK
int dm_escrow_court_key_load(const dm_escrow_authority *auth, const char *path,
                             dm_escrow_court_key **out);

/* ------------------------------------------------------- stanzas, recipient */

/* How the file key reaches the agents (the stanza's first argument:
 * "shamir", "leaf-N", "crumple-C"; docs/escrow-format.md, "Modes").
 * SHAMIR: fully derived from the file key, checked byte for byte.
 * LEAF (Clipper-style): randomly wrapped material plus a leaf_bits checksum
 * bound to the file key; the compliant check verifies only the checksum.
 * CRUMPLE: derived like SHAMIR, but the agents' shares hold the file key
 * locked under a key with crumple_bits withheld: each recovery is a
 * 2^crumple_bits search. Bits out of range are DM_ERR_USAGE. */
#define DM_ESCROW_MAX_LEAF_BITS 64
#define DM_ESCROW_MAX_CRUMPLE_BITS 48
typedef enum dm_escrow_mode {
    DM_ESCROW_MODE_SHAMIR = 0,
    DM_ESCROW_MODE_LEAF = 1,
    DM_ESCROW_MODE_CRUMPLE = 2
} dm_escrow_mode;

typedef struct dm_escrow_opts {
    dm_escrow_mode mode;
    unsigned leaf_bits;    /* LEAF only */
    unsigned crumple_bits; /* CRUMPLE only */
} dm_escrow_opts;

/* The mode's name: "shamir", "leaf" or "crumple" ("unknown" for any other
 * value). A stanza's MODE argument is the name alone only for shamir; leaf
 * and crumple carry their bits there ("leaf-16", "crumple-20"). */
const char *dm_escrow_mode_name(dm_escrow_mode mode);

/* Appends the authority's n escrow stanzas for file_key, derived
 * deterministically from it (opts NULL: SHAMIR). */
DM_MUST_CHECK
int dm_escrow_build_stanzas(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out);

/* A dm_recipient that wraps the file key into the authority's stanzas
 * (type DM_ESCROW_STANZA_TYPE): a companion (DM_RCPT_COMPANION), with the
 * label DM_LABEL_PQ when every agent key is hybrid. It keeps its own copy of auth and opts;
 * free it with dm_recipient_free. */
DM_MUST_CHECK
int dm_escrow_recipient_new(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            dm_recipient **out);

/* Escrow stanzas may stand beside a scrypt stanza: the escrow recipient is
 * a companion (DM_RCPT_COMPANION), and an identity that opens such files
 * says so with this function as its dm_identity.beside. A documented
 * doormat extension: age refuses such files. */
DM_MUST_CHECK
int dm_escrow_beside(const dm_identity *self, const char *stanza_type);

/* The compliant client's check: the header holds exactly one stanza per agent
 * of this authority, each byte for byte as derived from file_key.
 * DM_ERR_POLICY (with the reason) otherwise. */
DM_MUST_CHECK
int dm_escrow_verify_header(const dm_escrow_authority *auth, const dm_escrow_opts *opts,
                            const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN]);

/* The words of an error class where escrow is the cause: dm_strerror's,
 * but DM_ERR_POLICY is "escrow policy violated" and DM_ERR_NO_STANZA "no
 * escrow stanza opens" (the vault's own words know no escrow: "policy
 * violated", "no stanza for this key opens"). What the command prints for
 * its classes. */
const char *dm_escrow_strerror(int err);

/* dm_policy_fn for dm_decrypt_opts.policy: ctx is a dm_escrow_policy. */
typedef struct dm_escrow_policy {
    const dm_escrow_authority *auth;
    const dm_escrow_opts *opts; /* NULL: SHAMIR */
} dm_escrow_policy;
DM_MUST_CHECK
int dm_escrow_policy_check(void *ctx, const dm_header *hdr,
                           const uint8_t file_key[DM_FILE_KEY_LEN]);

/* Convenience: dm_encrypt with the authority added to rcpts (and the escrow
 * stanza type allowed beside scrypt). eopts NULL: SHAMIR; opts may be NULL. */
DM_MUST_CHECK
int dm_escrow_encrypt(dm_source in, dm_sink out, dm_recipient *const *rcpts, size_t n_rcpts,
                      const dm_escrow_authority *auth, const dm_escrow_opts *eopts,
                      const dm_encrypt_opts *opts);

/* True when st is a doormat-escrow stanza of this authority. */
bool dm_escrow_stanza_is_for(const dm_stanza *st, const dm_escrow_authority *auth);

/* Who can decrypt, as far as a header's escrow stanzas say (what `doormat
 * inspect` words): one entry per authority, in header order. Strings point
 * into the header's stanzas and live as long as it does. */
#define DM_ESCROW_MAX_DESCRIBED 8
typedef struct dm_escrow_holders {
    const char *id_hex; /* the authority id, 32 hex digits */
    const char *name;   /* the authority's name */
    const char *mode;   /* the MODE argument: "shamir", "leaf-16", "crumple-20" */
    const char *file_id; /* the file id its first stanza names (hex), NULL for v1 stanzas */
    unsigned k, n;      /* any k of the n agents */
    int post_quantum;   /* the shares are sealed to hybrid (ML-KEM-768 + X25519)
                           agent keys: escrow init --pq */
    size_t n_agents;    /* the agents that have a stanza, in share order */
    const char *agents[DM_ESCROW_MAX_AGENTS];
} dm_escrow_holders;
typedef struct dm_escrow_description {
    size_t n_authorities; /* 0: the header has no escrow stanza */
    dm_escrow_holders authorities[DM_ESCROW_MAX_DESCRIBED];
} dm_escrow_description;
/* Fills out from hdr. Malformed escrow stanzas, or more than
 * DM_ESCROW_MAX_DESCRIBED authorities, are DM_ERR_HEADER. */
DM_MUST_CHECK
int dm_escrow_describe(const dm_header *hdr, dm_escrow_description *out);

/* The escrow file id: the first 16 bytes of HKDF-SHA-256(file key, no salt,
 * "doormat/v2/escrow/file-id"). Every escrow stanza names it and its seal
 * binds it, so whatever header a requester sends, an agent releases a share
 * of this key only under this id: warrants name it, log entries record it,
 * and the owner of a file (who has its key) finds its releases by it
 * (docs/escrow-format.md, "File id"). */
DM_MUST_CHECK
int dm_escrow_file_id_of_key(const uint8_t file_key[DM_FILE_KEY_LEN],
                             uint8_t id[DM_FILE_ID_LEN]);
/* The file id that the header's stanzas for auth name (in the clear; a
 * stanza whose id was edited does not open). DM_ERR_NO_STANZA when the header
 * has no stanza of auth, DM_ERR_HEADER when one is malformed or of the old
 * format v1 (no file id), or when they name different ids. */
DM_MUST_CHECK
int dm_escrow_file_id(const dm_escrow_authority *auth, const dm_header *hdr,
                      uint8_t id[DM_FILE_ID_LEN]);

/* ------------------------------------------------------------------ warrants */

typedef struct dm_escrow_warrant dm_escrow_warrant;

/* Dates are "YYYY-MM-DD" (UTC). Issues a warrant signed by the court key:
 * malloc'd text. issued NULL means the UTC date of now. */
DM_MUST_CHECK
int dm_escrow_warrant_issue(const dm_escrow_authority *auth, const dm_escrow_court_key *court,
                            const char *case_ref, const char *issued, const char *expires,
                            const uint8_t (*file_ids)[DM_FILE_ID_LEN], size_t n_files, char **text,
                            size_t *len);
/* Parses the grammar only (DM_ERR_USAGE with *line_out); the signature and
 * everything else are checked by dm_escrow_warrant_check. */
DM_MUST_CHECK
int dm_escrow_warrant_parse(const char *text, size_t len, dm_escrow_warrant **out,
                            size_t *line_out);
DM_MUST_CHECK
int dm_escrow_warrant_load(const char *path, dm_escrow_warrant **out);
void dm_escrow_warrant_free(dm_escrow_warrant *w);
/* Checks signature (court key of auth), authority, scope (file_id listed) and
 * dates (issued <= today <= expires, today the UTC date of now).
 * DM_ERR_DENIED with the reason in dm_err_detail(). */
DM_MUST_CHECK
int dm_escrow_warrant_check(const dm_escrow_warrant *w, const dm_escrow_authority *auth,
                            const uint8_t file_id[DM_FILE_ID_LEN], time_t now);
/* SHA-256 of the warrant's exact text (what the log entry records). */
void dm_escrow_warrant_digest(const dm_escrow_warrant *w, uint8_t out[DM_ESCROW_DIGEST_LEN]);
const char *dm_escrow_warrant_case(const dm_escrow_warrant *w);
/* The case reference as logs show it (docs/escrow-format.md): the hex of its
 * SHA-256, the "case:" of a log entry. Messages and log lines name a case
 * only this way: a case number can itself be sensitive. */
void dm_escrow_warrant_case_hex(const dm_escrow_warrant *w, char hex[2 * DM_ESCROW_DIGEST_LEN + 1]);
const char *dm_escrow_warrant_expires(const dm_escrow_warrant *w);

/* "YYYY-MM-DD" of a time (UTC) into out[11]; and the reverse (noon UTC). */
DM_MUST_CHECK
int dm_escrow_date(time_t t, char out[11]);
DM_MUST_CHECK
int dm_escrow_parse_date(const char *s, time_t *out);

/* --------------------------------------------------------- shares, recovery */

typedef struct dm_escrow_share dm_escrow_share; /* secret: one agent's share */

/* dm_escrow_release with a log directory and no witnesses: returns the
 * share, signed by the agent, with its receipt. A NULL log_dir is
 * DM_ERR_USAGE: there is no release without a log here. Nothing is appended
 * when any check fails. */
DM_MUST_CHECK
int dm_escrow_unwrap(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                     const dm_escrow_warrant *w, const dm_header *hdr, const char *log_dir,
                     time_t now, dm_escrow_share **out);
void dm_escrow_share_free(dm_escrow_share *s);
/* Share text is secret (sodium-guarded, free with dm_secret_free); the
 * receipt, when there is one, follows the signature line. parse checks
 * grammar, authority and the agent's signature, and keeps the receipt text
 * (checked by dm_escrow_share_check_receipt). */
DM_MUST_CHECK
int dm_escrow_share_format(const dm_escrow_share *s, char **text, size_t *len);
DM_MUST_CHECK
int dm_escrow_share_parse(const dm_escrow_authority *auth, const char *text, size_t len,
                          dm_escrow_share **out, size_t *line_out);
DM_MUST_CHECK
int dm_escrow_share_load(const dm_escrow_authority *auth, const char *path, dm_escrow_share **out);
const char *dm_escrow_share_agent(const dm_escrow_share *s);
const uint8_t *dm_escrow_share_file_id(const dm_escrow_share *s); /* DM_FILE_ID_LEN bytes */

/* Combines shares into the file key of the file whose header is hdr: each
 * share must be for this authority and this file (DM_ERR_USAGE otherwise);
 * repeated agents count once; fewer than k is DM_ERR_TOO_FEW_SHARES saying how many
 * are needed. The result is checked against the header MAC (DM_ERR_HMAC). */
DM_MUST_CHECK
int dm_escrow_recover(const dm_escrow_authority *auth, const dm_header *hdr,
                      dm_escrow_share *const *shares, size_t n_shares,
                      uint8_t file_key[DM_FILE_KEY_LEN]);

/* ------------------------------------------------ the transparency log of releases
 * Every release is an entry in the releasing agent's tiled log
 * (include/doormat/tlog.h; docs/escrow-format.md, "The transparency log"). */

#define DM_ESCROW_MAX_REQUESTER 200
#define DM_ESCROW_MAX_COMBINATIONS 100000 /* share sets recovery tries at most */

/* One release: its canonical text is the log entry. */
typedef struct dm_escrow_entry {
    char time[21]; /* YYYY-MM-DDTHH:MM:SSZ, UTC */
    uint8_t authority_id[DM_ESCROW_ID_LEN];
    char agent[DM_ESCROW_MAX_AGENT_NAME + 1];
    uint8_t warrant[DM_ESCROW_DIGEST_LEN];     /* SHA-256 of the warrant text */
    uint8_t case_digest[DM_ESCROW_DIGEST_LEN]; /* SHA-256 of the warrant's case reference */
    uint8_t file_id[DM_FILE_ID_LEN];
    char requester[DM_ESCROW_MAX_REQUESTER + 1];
} dm_escrow_entry;
DM_MUST_CHECK
int dm_escrow_entry_format(const dm_escrow_entry *e, char **text, size_t *len);
DM_MUST_CHECK
int dm_escrow_entry_parse(const uint8_t *text, size_t len, dm_escrow_entry *out);
/* Entries of one log are in time order. Each release reads the clock before
 * it waits for the log's lock (and, under it, for the witnesses), so
 * concurrent releases may land a little out of order: an entry may be
 * dated up to DM_ESCROW_ENTRY_SKEW seconds before the latest entry before it,
 * and no more (a backdated entry: DM_ERR_LOG, naming both times). latest
 * holds the latest time read so far ("" before the first entry). */
#define DM_ESCROW_ENTRY_SKEW 600
DM_MUST_CHECK
int dm_escrow_entry_in_order(const dm_escrow_entry *e, uint64_t index, char latest[21]);

/* The witnesses' clocks bound the agent's. A witness that cosigned a
 * checkpoint at time t (its cosignature/v1 timestamp, from its own clock)
 * saw a log of that size: an entry the checkpoint holds existed at t, an
 * entry it does not hold did not yet. So an entry may be dated at most
 * DM_ESCROW_WITNESS_SLACK seconds after the earliest cosignature of a
 * checkpoint that holds it, and at most that much before the latest
 * cosignature of a checkpoint that did not hold it yet; the slack is for
 * clocks that differ a little and for a release's wait for the log's lock
 * and the witnesses (as DM_ESCROW_ENTRY_SKEW). */
#define DM_ESCROW_WITNESS_SLACK 600
typedef struct dm_escrow_witness_time {
    uint64_t time;                      /* seconds since the epoch; 0: no cosignature */
    char witness[DM_TLOG_MAX_NAME + 1]; /* whose clock */
    uint64_t size;                      /* of the checkpoint it cosigned */
} dm_escrow_witness_time;
/* The earliest and the latest valid cosignature, by the authority's
 * witnesses, of a signed checkpoint of agent's log (either may be NULL;
 * time 0 when no witness cosigned it). DM_ERR_LOG when the checkpoint or a
 * cosignature of a known key does not verify. */
DM_MUST_CHECK
int dm_escrow_checkpoint_witness_times(const dm_escrow_authority *auth, size_t agent,
                                       const char *note, size_t len,
                                       dm_escrow_witness_time *earliest,
                                       dm_escrow_witness_time *latest);
/* Checks an entry's time against a witness time it cannot be dated before
 * (after, NULL or time 0: none known) and one it cannot be dated after
 * (before, likewise): DM_ERR_LOG naming the entry, its time, the witness and
 * its time, and which way the agent's clock was moved. */
DM_MUST_CHECK
int dm_escrow_entry_in_witness_time(const dm_escrow_entry *e, uint64_t index,
                                    const dm_escrow_witness_time *after,
                                    const dm_escrow_witness_time *before);

/* A witness as the releasing side sees it: sends a c2sp.org/tlog-witness
 * add-checkpoint request body and gets the HTTP status and response body
 * (malloc'd). dm_tlog_witness_add_checkpoint on a directory is one; an
 * HTTPS client is another. */
typedef struct dm_escrow_cosigner {
    int (*add_checkpoint)(void *ctx, const char *body, size_t len, int *status, char **response,
                          size_t *response_len);
    void *ctx;
    const char *name; /* the witness's name in authority.pub (NULL: not known) */
} dm_escrow_cosigner;

typedef struct dm_escrow_release_opts {
    const char *log_dir;   /* the agent's log: required (NULL: DM_ERR_USAGE, nothing released) */
    const char *requester; /* who asked for the release (NULL: "unspecified") */
    const dm_escrow_cosigner *cosigners;
    size_t n_cosigners;
    const char *holder; /* written beside the log's lock while it is held ("doormat escrow
                           unwrap"; NULL: none); the log is waited for as dm_tlog_log_open does */
} dm_escrow_release_opts;

/* The agent's side of a release: checks the warrant for this header's file
 * id (DM_ERR_DENIED), finds and unwraps this agent's stanza (DM_ERR_NO_STANZA
 * if none); then appends the entry to the agent's log and commits it
 * durably (no release without its entry), asks the cosigners in turn to
 * cosign the new checkpoint until the authority's witness threshold of
 * valid cosignatures is met (DM_ERR_LOG when it is not: the entry stays,
 * nothing is released). The share comes with its receipt. It is a batch of
 * one on the path of dm_escrow_releaser below. Closed by default: NULL opts
 * are the defaults, and with no log_dir nothing is checked, written or
 * released (DM_ERR_USAGE). */
DM_MUST_CHECK
int dm_escrow_release(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                      const dm_escrow_warrant *w, const dm_header *hdr,
                      const dm_escrow_release_opts *opts, time_t now, dm_escrow_share **out);

/* Releases in batches, for a long-running agent (doormat escrow serve): the
 * log stays open (and locked) between releases, and one commit (one fsync,
 * one checkpoint, one round of cosignatures) covers every release added
 * since the last. A release is exactly dm_escrow_release's: the same checks
 * (dm_escrow_release_add), its entry durable and cosigned before its share
 * gets a receipt (dm_escrow_release_receipt after a commit that succeeded). */
typedef struct dm_escrow_releaser dm_escrow_releaser;
/* Opens the agent's log and verifies it whole (every tile and entry against
 * its signed checkpoint): an agent does not start on a log that does not
 * verify (DM_ERR_LOG), nor on one another process holds (DM_ERR_BUSY at
 * once, the detail naming that process: see dm_tlog_lock_opts). */
DM_MUST_CHECK
int dm_escrow_releaser_open(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                            const char *log_dir, dm_escrow_releaser **out);
/* The same, with holder ("doormat escrow serve") written beside the log's
 * lock for whoever finds it held. */
DM_MUST_CHECK
int dm_escrow_releaser_open_as(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                               const char *log_dir, const char *holder, dm_escrow_releaser **out);
void dm_escrow_releaser_free(dm_escrow_releaser *r);
/* Checks and unwraps; appends the entry (not durable yet). *index gets its
 * place in the log; *share has no receipt yet. */
DM_MUST_CHECK
int dm_escrow_release_add(dm_escrow_releaser *r, const dm_escrow_warrant *w, const dm_header *hdr,
                          const char *requester, time_t now, dm_escrow_share **share,
                          uint64_t *index);
/* Makes every added entry durable, then asks the cosigners (stopping at the
 * witness threshold) and adds their cosignatures to the checkpoint.
 * DM_ERR_IO when the log cannot be written (the added entries are dropped),
 * DM_ERR_LOG when the witness threshold is not met (the entries stay in the
 * log; no share may be released), with the reason. */
DM_MUST_CHECK
int dm_escrow_release_commit(dm_escrow_releaser *r, const dm_escrow_cosigner *cosigners,
                             size_t n_cosigners);
/* The receipt of the release at index, after a commit that succeeded. */
DM_MUST_CHECK
int dm_escrow_release_receipt(dm_escrow_releaser *r, dm_escrow_share *share, uint64_t index);
uint64_t dm_escrow_releaser_size(const dm_escrow_releaser *r);
/* The log part of dm_escrow_release_commit: every added entry durable, a new
 * checkpoint signed (none when nothing was added). Then a round of
 * cosignatures (dm_escrow_round_new) decides whether shares may leave. */
DM_MUST_CHECK
int dm_escrow_release_commit_log(dm_escrow_releaser *r);
/* True when the checkpoint committed last holds the authority's witness
 * threshold of valid cosignatures: receipts can be made. */
DM_MUST_CHECK
int dm_escrow_releaser_cosigned_now(const dm_escrow_releaser *r);

/* One round of witness cosignatures over the checkpoint the releaser
 * committed last, for a caller that asks its witnesses at once (doormat
 * escrow serve, from its event loop): it takes each cosigner's request body,
 * sends it as it likes, and hands back the answer (status 0 and the reason
 * as the body when none came). The round checks every cosignature, follows
 * a 409 from the size the witness has, and keeps for each witness why it did
 * not cosign, in words. Witnesses whose cosignatures the checkpoint already
 * holds are not asked again. names[i] is cosigner i's witness name in
 * authority.pub (NULL: not known). */
typedef struct dm_escrow_round dm_escrow_round;
#define DM_ESCROW_WHY_LEN 240 /* one witness's reason, with its end */
DM_MUST_CHECK
int dm_escrow_round_new(dm_escrow_releaser *r, size_t n, const char *const *names,
                        dm_escrow_round **out);
/* Cosigner i's add-checkpoint body (malloc'd); *body NULL when it is done. */
DM_MUST_CHECK
int dm_escrow_round_request(dm_escrow_round *rd, size_t i, char **body, size_t *len);
/* Cosigner i's answer. 1: ask it again (dm_escrow_round_request), 0: done. */
int dm_escrow_round_answer(dm_escrow_round *rd, size_t i, int status, const char *resp, size_t len);
/* Cosigner i is not asked (or no longer waited for), for this reason. */
void dm_escrow_round_give_up(dm_escrow_round *rd, size_t i, const char *why);
DM_MUST_CHECK
int dm_escrow_round_done(const dm_escrow_round *rd, size_t i);
unsigned dm_escrow_round_have(const dm_escrow_round *rd);   /* valid cosignatures */
unsigned dm_escrow_round_needed(const dm_escrow_round *rd); /* the authority's threshold */
uint64_t dm_escrow_round_size(const dm_escrow_round *rd);   /* of the checkpoint */
const char *dm_escrow_round_name(const dm_escrow_round *rd, size_t i);
/* Why cosigner i did not cosign (or what was wrong in its answer), "" when nothing. */
const char *dm_escrow_round_why(const dm_escrow_round *rd, size_t i);
/* Every reason, "witness W: why; witness X: why" (malloc'd; "" when none). */
DM_MUST_CHECK
int dm_escrow_round_failures(const dm_escrow_round *rd, char **text, size_t *len);
/* Adds the new cosignatures to the checkpoint; DM_OK when the threshold is
 * met, DM_ERR_LOG naming every witness that failed and why otherwise. */
DM_MUST_CHECK
int dm_escrow_round_finish(dm_escrow_round *rd);
void dm_escrow_round_free(dm_escrow_round *rd);

/* The receipt of a share (its c2sp.org/tlog-proof text), NULL when none. */
const char *dm_escrow_share_receipt(const dm_escrow_share *s, size_t *len);
const uint8_t *dm_escrow_share_warrant(const dm_escrow_share *s); /* digest */
/* Checks a share's receipt: its entry is this release (authority, agent,
 * file, warrant), the checkpoint is signed by the agent's log key and
 * cosigned by the witness threshold, and the entry is in it. DM_ERR_LOG when
 * missing or not valid. entry and index (may be NULL) get what it logs. */
DM_MUST_CHECK
int dm_escrow_share_check_receipt(const dm_escrow_authority *auth, const dm_escrow_share *s,
                                  dm_escrow_entry *entry, uint64_t *index);

/* dm_escrow_recover that survives wrong shares: when the first k do not
 * give the file's key it tries the other combinations (at most
 * DM_ESCROW_MAX_COMBINATIONS); misfit (n_shares bytes, may be NULL) then
 * marks the shares that do not fit the key found. */
DM_MUST_CHECK
int dm_escrow_recover_ex(const dm_escrow_authority *auth, const dm_header *hdr,
                         dm_escrow_share *const *shares, size_t n_shares,
                         uint8_t file_key[DM_FILE_KEY_LEN], uint8_t *misfit);

DM_API_END
#ifdef __cplusplus
}
#endif
#endif
