/* Internal interfaces between the escrow modules (not installed). */
#ifndef DOORMAT_ESCROW_INTERNAL_H
#define DOORMAT_ESCROW_INTERNAL_H

#include <stdbool.h>

#include "doormat/base.h"
#include "doormat/escrow.h"
#include "doormat/tlog.h"

#define DM_ESCROW_KEY_LEN 32
#define DM_ESCROW_SIG_LEN 64
#define DM_ESCROW_SIG_B64_LEN 86
#define DM_ESCROW_KEY_B64_LEN 43
/* age1... (X25519) or, for an authority made with --pq, age1pq1... (Bech32 of
 * DM_PQ_PUBLIC_LEN bytes: 1,959 characters). */
#define DM_ESCROW_RECIPIENT_MAX 2048
/* EPHEMERAL of a hybrid seal: base64 of the DM_PQ_ENC_LEN-byte encapsulation. */
#define DM_ESCROW_PQ_ENC_B64_LEN 1494
/* Bound on every escrow text file we read (authority, keys, warrants, shares, log). */
#define DM_ESCROW_MAX_TEXT (16u << 20)

typedef struct dm_escrow_agent_pub {
    char name[DM_ESCROW_MAX_AGENT_NAME + 1];
    uint8_t box_pk[DM_ESCROW_KEY_LEN];       /* X25519: shares are wrapped to it */
    uint8_t sign_pk[DM_ESCROW_KEY_LEN];      /* Ed25519: signs shares and audit entries */
    char recipient[DM_ESCROW_RECIPIENT_MAX]; /* box_pk as age1..., or pq_pk as age1pq1... */
    bool pq;                                 /* hybrid: shares are sealed to pq_pk (box_pk
                                                is then its X25519 half) */
    uint8_t pq_pk[DM_PQ_PUBLIC_LEN];
    dm_tlog_verifier log; /* the key that signs its log's checkpoints */
} dm_escrow_agent_pub;

/* Where an agent or a witness answers, and its TLS key's pin (the network
 * section of authority.pub, outside the id). */
#define DM_ESCROW_MAX_ENDPOINTS (DM_ESCROW_MAX_AGENTS + 16)
typedef struct dm_escrow_endpoint {
    char name[DM_ESCROW_MAX_ENDPOINT_NAME + 1];
    char tls_pin[DM_ESCROW_TLS_PIN_LEN + 1]; /* "sha256//BASE64", "" when none */
    char url[DM_ESCROW_MAX_URL + 1];         /* "https://...", "" when none */
} dm_escrow_endpoint;

struct dm_escrow_authority {
    char name[DM_ESCROW_MAX_NAME + 1];
    uint8_t id[DM_ESCROW_ID_LEN];
    char id_hex[2 * DM_ESCROW_ID_LEN + 1];
    unsigned threshold;
    size_t n_agents;
    dm_escrow_agent_pub agents[DM_ESCROW_MAX_AGENTS];
    uint8_t court_pk[DM_ESCROW_KEY_LEN];
    size_t n_witnesses;
    dm_tlog_verifier witnesses[DM_ESCROW_MAX_WITNESSES];
    unsigned witness_threshold; /* cosignatures a release needs (0: none) */
    size_t n_endpoints;
    dm_escrow_endpoint endpoints[DM_ESCROW_MAX_ENDPOINTS];
};

/* Lives in sodium guarded memory as a whole. */
struct dm_escrow_agent_key {
    uint8_t authority_id[DM_ESCROW_ID_LEN];
    char name[DM_ESCROW_MAX_AGENT_NAME + 1];
    size_t index;
    uint8_t seed[DM_ESCROW_KEY_LEN];
    uint8_t box_sk[DM_ESCROW_KEY_LEN];
    uint8_t box_pk[DM_ESCROW_KEY_LEN];
    uint8_t pq_seed[DM_PQ_SEED_LEN]; /* the hybrid key's seed (used when the agent is pq) */
    uint8_t sign_sk[64];
    uint8_t sign_pk[DM_ESCROW_KEY_LEN];
    uint8_t log_seed[DM_ESCROW_KEY_LEN]; /* Ed25519 seed of the log key */
    uint8_t log_pk[DM_ESCROW_KEY_LEN];
};

struct dm_escrow_court_key {
    uint8_t authority_id[DM_ESCROW_ID_LEN];
    uint8_t seed[DM_ESCROW_KEY_LEN];
    uint8_t sign_sk[64];
    uint8_t sign_pk[DM_ESCROW_KEY_LEN];
};

/* ---- util.c ---- */

/* Line iteration: *line and *line_len get the next line without its '\n';
 * *had_newline says whether it was terminated. Returns false at the end. */
typedef struct dm_escrow_lines {
    const char *text;
    size_t len;
    size_t pos;
    size_t lineno; /* 1-based number of the line last returned */
} dm_escrow_lines;
bool dm_escrow_next_line(dm_escrow_lines *it, const char **line, size_t *line_len,
                         bool *had_newline);
/* The next line that is not blank or a '#' comment; false at the end, or
 * with *err set at a line that holds a control character. */
bool dm_escrow_next_content(dm_escrow_lines *it, const char **line, size_t *len, int *err);

/* If line is "key: value" returns true with *value and *value_len set. */
bool dm_escrow_field(const char *line, size_t line_len, const char *key, const char **value,
                     size_t *value_len);

/* Lower-case hex: dm_hex (base.h) encodes; decode is strict: exactly 2*n
 * lower-case hex digits. */
bool dm_escrow_unhex(const char *in, size_t in_len, uint8_t *out, size_t n);

/* Canonical unpadded base64 of exactly n bytes (via the vault's codec). */
bool dm_escrow_unb64(const char *in, size_t in_len, uint8_t *out, size_t n);
int dm_escrow_b64(const uint8_t *in, size_t n, char *out, size_t out_cap);

/* Decimal without sign or leading zeros, up to max. */
bool dm_escrow_parse_uint(const char *in, size_t in_len, unsigned max, unsigned *out);

bool dm_escrow_valid_name(const char *s, size_t len);       /* authority */
bool dm_escrow_valid_agent_name(const char *s, size_t len); /* agent */
/* 1 to max bytes of text without a control character (a requester, a case reference). */
bool dm_escrow_valid_text(const char *s, size_t len, size_t max);

/* The start of a parser of a secret text: *line_out (when not NULL) 0, and a
 * zeroed guarded object of size bytes, or NULL with DM_ERR_NOMEM's detail. */
void *dm_escrow_parse_new(size_t size, size_t *line_out);

/* The growing text buffer is base's (dm_buf); take says DM_ERR_NOMEM with a
 * detail when any step failed. */
int dm_escrow_buf_take(dm_buf *b, char **text, size_t *len);

/* Reads a whole file (NUL-terminated); secret: into guarded memory. */
int dm_escrow_read_file(const char *path, bool secret, char **buf, size_t *len);
/* Rewrites dm_err_detail() as "PATH: line N: <detail>" (line 0: no line). */
int dm_escrow_fail_at(int err, const char *path, size_t line);

/* Ed25519 with a domain label: the signed message is label || '\n' || msg. */
int dm_escrow_sign(const uint8_t sk[64], const char *label, const uint8_t *msg, size_t len,
                   uint8_t sig[DM_ESCROW_SIG_LEN]);
bool dm_escrow_verify_sig(const uint8_t pk[32], const char *label, const uint8_t *msg, size_t len,
                          const uint8_t sig[DM_ESCROW_SIG_LEN]);

/* HKDF-SHA-256 with info = label || id || extra (extra may be NULL). */
int dm_escrow_kdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                  const char *label, const uint8_t id[DM_ESCROW_ID_LEN], const uint8_t *extra,
                  size_t extra_len, uint8_t *out, size_t out_len);

/* ---- authority.c ---- */
/* Derives the agent key's X25519, Ed25519 and log key halves from its seed. */
int dm_escrow_agent_key_derive(dm_escrow_agent_key *key);
/* Derives the court key's Ed25519 key pair from its seed. */
int dm_escrow_court_key_derive(dm_escrow_court_key *key);
/* One line of the network section, "tls: NAME PIN" or "url: NAME URL" (NAME
 * an agent or a witness), into auth's endpoints. */
int dm_escrow_authority_parse_endpoint(dm_escrow_authority *auth, const char *line, size_t llen);
/* The origin (and key name) of an agent's log:
 * "doormat-escrow/NAME/AGENT/HEX8", HEX8 the first 4 bytes of SHA-256(sign_pk). */
void dm_escrow_log_origin(const char *auth_name, const char *agent, const uint8_t sign_pk[32],
                          char out[DM_TLOG_MAX_NAME + 1]);

/* ---- authority_text.c ---- */
/* The id: the first DM_ESCROW_ID_LEN bytes of SHA-256 over a label and the
 * public text without its id and comments. */
int dm_escrow_authority_compute_id(const dm_escrow_authority *auth, uint8_t id[DM_ESCROW_ID_LEN]);
/* An agent's age1... recipient (Bech32 of its X25519 key). */
int dm_escrow_agent_recipient(const uint8_t pk[32], char out[DM_ESCROW_RECIPIENT_MAX]);

/* ---- the doormat-escrow stanza (v2) ----
 *   -> doormat-escrow MODE AUTHORITY-ID AUTHORITY-NAME K-of-N X AGENT EPHEMERAL FILE-ID
 *   base64(sealed share || what the mode appends)
 * FILE-ID is the file id derived from the file key (dm_escrow_file_id_of_key),
 * in hex, bound by the wrap key: an agent opens the share only with the id
 * the sender sealed it under. A v1 stanza has the first seven arguments. */
#define DM_ESCROW_N_ARGS 8
#define DM_ESCROW_N_ARGS_V1 7
enum {
    DM_ESCROW_ARG_MODE,
    DM_ESCROW_ARG_ID,
    DM_ESCROW_ARG_NAME,
    DM_ESCROW_ARG_KN,
    DM_ESCROW_ARG_X,
    DM_ESCROW_ARG_AGENT,
    DM_ESCROW_ARG_EPHEMERAL,
    DM_ESCROW_ARG_FILE
};
/* A share sealed to an agent: ChaCha20-Poly1305 under the wrap key. */
#define DM_ESCROW_WRAPPED_LEN (DM_FILE_KEY_LEN + DM_TAG_LEN)
/* The longest body any mode writes. */
#define DM_ESCROW_MAX_BODY_LEN (DM_ESCROW_WRAPPED_LEN + 64)

/* ---- seal.c: sealing shares to agents, shared by every mode ---- */

/* What a mode appends to agent's sealed share (body holds the
 * DM_ESCROW_WRAPPED_LEN bytes of it): writes at body + *len, advances *len. */
typedef int (*dm_escrow_tail_fn)(void *ctx, size_t agent, const uint8_t eph_pk[32],
                                 uint8_t body[DM_ESCROW_MAX_BODY_LEN], size_t *len);

/* How one mode seals: the secret to share, where the Shamir coefficients and
 * each agent's ephemeral scalar come from (derived from the file key under
 * a label, or fresh randomness when the label is NULL), the wrap label, and
 * the tail (may be NULL). */
typedef struct dm_escrow_seal_plan {
    const char *mode_arg; /* the stanza's MODE argument */
    const uint8_t *secret;
    const char *coeff_label;
    const char *ephemeral_label;
    const char *wrap_label;
    dm_escrow_tail_fn tail;
    void *tail_ctx;
} dm_escrow_seal_plan;

/* Appends the authority's n stanzas: the secret split k-of-n, share i sealed
 * to agent i. */
int dm_escrow_seal_stanzas(const dm_escrow_authority *auth, const dm_escrow_seal_plan *plan,
                           const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out);
/* The X25519 share of st's EPHEMERAL (all of it for an X25519 agent, the end
 * of the hybrid encapsulation for a pq one); false when it is malformed. */
bool dm_escrow_stanza_eph_pk(const dm_escrow_authority *auth, size_t agent, const dm_stanza *st,
                             uint8_t eph_pk[32]);
/* Opens the share sealed at the start of st's body (the agent's own v2
 * stanza) under the file id it names; *file_id gets that id, which the
 * seal has then authenticated. */
int dm_escrow_open_stanza(const char *wrap_label, const dm_escrow_authority *auth,
                          const dm_escrow_agent_key *agent, const dm_stanza *st,
                          uint8_t share[DM_FILE_KEY_LEN], uint8_t file_id[DM_FILE_ID_LEN]);

/* ---- mode_*.c, modes.c: one entry per mode ---- */
typedef struct dm_escrow_mode_ops {
    dm_escrow_mode mode;
    const char *name;      /* the MODE argument, or its prefix before "-BITS" */
    unsigned max_bits;     /* 0: the argument is the bare name */
    size_t bits_at;        /* offsetof the bits in dm_escrow_opts (max_bits > 0) */
    const char *bits_what; /* how errors name the bits */
    const char *wrap_label;
    size_t (*body_len)(const dm_escrow_opts *opts);
    /* Appends the n stanzas for file_key (arg: the MODE argument). */
    int (*build)(const dm_escrow_authority *auth, const dm_escrow_opts *opts, const char *arg,
                 const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out);
    /* The compliant check of the stanza for agent (its MODE already matched):
     * DM_ERR_POLICY when it fails. NULL: every stanza is derived from the
     * file key, and the check compares it with build's byte for byte. */
    int (*verify)(const dm_escrow_authority *auth, const dm_escrow_opts *opts, size_t agent,
                  const dm_stanza *st, const uint8_t file_key[DM_FILE_KEY_LEN]);
    /* Turns the combined shares (key) into the file key, given one of the
     * authority's stanzas; *tries counts candidates. NULL: they are the file key. */
    int (*solve)(const dm_escrow_authority *auth, const dm_escrow_opts *opts, const dm_stanza *st,
                 uint8_t key[DM_FILE_KEY_LEN], uint64_t *tries);
} dm_escrow_mode_ops;
extern const dm_escrow_mode_ops dm_escrow_mode_shamir, dm_escrow_mode_leaf, dm_escrow_mode_crumple;

/* modes.c: the table. opts NULL means shamir. */
int dm_escrow_mode_check(const dm_escrow_opts *opts);
const dm_escrow_mode_ops *dm_escrow_mode_ops_of(const dm_escrow_opts *opts);
/* The MODE argument: "shamir", "leaf-N", "crumple-C". */
int dm_escrow_mode_arg(const dm_escrow_opts *opts, char *out, size_t cap);
bool dm_escrow_mode_parse(const char *arg, dm_escrow_opts *out);

/* ---- escrow_stanza.c ---- */
/* The agent's own stanza in the header, its position checked against the
 * authority: DM_ERR_NO_MATCH when there is none, DM_ERR_HEADER for a
 * malformed one or a v1 stanza (which binds no file id: refused). *file_id
 * gets the id it names in the clear (authenticated only when it opens). */
int dm_escrow_own_stanza(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                         const dm_header *hdr, const dm_stanza **st,
                         uint8_t file_id[DM_FILE_ID_LEN]);
/* Unwraps the agent's share from the header's stanzas; *file_id gets the id
 * the share is bound to. */
int dm_escrow_unwrap_share(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                           const dm_header *hdr, uint8_t share[DM_FILE_KEY_LEN],
                           uint8_t file_id[DM_FILE_ID_LEN]);
/* key holds the combined shares: when the authority's mode locks them
 * (crumple) searches for the file key (DM_ERR_HMAC when no candidate fits);
 * otherwise leaves key alone. */
int dm_escrow_solve_key(const dm_escrow_authority *auth, const dm_header *hdr,
                        uint8_t key[DM_FILE_KEY_LEN], uint64_t *tries);

/* ---- share.c ---- */
/* Checks the warrant and unwraps the agent's share, signed (no log). */
int dm_escrow_share_prepare(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                            const dm_escrow_warrant *w, const dm_header *hdr, time_t now,
                            dm_escrow_share **out);
int dm_escrow_share_set_receipt(dm_escrow_share *s, const char *receipt, size_t len);

/* ---- release_round.c ---- */
/* A round over log's committed checkpoint; *cosigned (may be NULL) is set
 * when the threshold is met on the log's checkpoint; known[i] (may be NULL)
 * is the size cosigner i has. */
int dm_escrow_round_begin(const dm_escrow_authority *auth, dm_tlog_log *log, int *cosigned,
                          uint64_t *known, size_t n, const char *const *names,
                          dm_escrow_round **out);
/* Asks each cosigner in turn, until the threshold, then finishes. */
int dm_escrow_round_run(dm_escrow_round *rd, const dm_escrow_cosigner *cosigners);
/* A whole round over log's checkpoint, one cosigner after another. */
int dm_escrow_cosign(const dm_escrow_authority *auth, dm_tlog_log *log, int *cosigned,
                     uint64_t *known, const dm_escrow_cosigner *cosigners, size_t n);

/* ---- release.c ---- */
/* The log entry of a release of share s under w (malloc'd canonical text). */
int dm_escrow_release_entry(const dm_escrow_authority *auth, const dm_escrow_agent_key *agent,
                            const dm_escrow_warrant *w, const dm_escrow_share *s,
                            const char *requester, time_t now, char **entry, size_t *entry_len);

/* ---- warrant.c ---- */
bool dm_escrow_valid_date(const char *s, size_t len);

#endif
