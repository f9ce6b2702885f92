/* doormat vault: age v1 (c2sp.org/age) file encryption with no back door.
 *
 * The vault knows recipients and identities only through the dm_recipient and
 * dm_identity interfaces below; it never knows that escrow exists. Anything
 * that wants to read the file key (an escrow authority, for instance) is just
 * another recipient that wraps it into stanzas.
 */
#ifndef DOORMAT_VAULT_H
#define DOORMAT_VAULT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "doormat/base.h"

#ifdef __cplusplus
extern "C" {
#endif
DM_API_BEGIN

#define DM_VERSION "0.1.0"

#define DM_FILE_KEY_LEN 16
#define DM_MAC_LEN 32
#define DM_NONCE_LEN 16
#define DM_CHUNK_SIZE 65536
#define DM_TAG_LEN 16
#define DM_SCRYPT_DEFAULT_LOG_N 18
#define DM_SCRYPT_MAX_LOG_N 22
/* An id that names one file: derived from its header (see dm_header_file_id). */
#define DM_FILE_ID_LEN 16

/* The error classes (dm_err) and the detail text (dm_fail, dm_err_detail)
 * are base's: doormat/base.h. */

/* The words of each error class ("unknown error" for a value that is none). */
const char *dm_strerror(int err);

/* Must be called once before anything else (initialises libsodium). */
DM_MUST_CHECK
int dm_init(void);

/* ---------------------------------------------------------------- stanzas */

typedef struct dm_stanza {
    char *type;
    char **args;
    size_t nargs;
    uint8_t *body;
    size_t body_len;
} dm_stanza;

typedef struct dm_stanza_list {
    dm_stanza *items;
    size_t len;
    size_t cap;
} dm_stanza_list;

/* Appends a copy of the given stanza (strings and body are copied). */
DM_MUST_CHECK
int dm_stanza_list_add(dm_stanza_list *list, const char *type, const char *const *args,
                       size_t nargs, const uint8_t *body, size_t body_len);
void dm_stanza_list_clear(dm_stanza_list *list);

/* ------------------------------------------------------- recipients, identities */

/* Labels (age's RecipientWithLabels). After wrapping, a recipient may say
 * which labels its stanzas carry; every recipient of a file must carry the
 * same set, or dm_encrypt refuses them (DM_ERR_USAGE, "incompatible
 * recipients"). DM_LABEL_PQ is age's "postquantum": a file is encrypted
 * either to post-quantum recipients only or to none, since classical
 * stanzas beside them would leave the file key open to a quantum attacker
 * (c2sp.org/age: SHOULD NOT). A stand-alone recipient (DM_RCPT_ALONE) needs
 * no labels: nothing but companions may stand beside it. */
#define DM_MAX_LABELS 4
#define DM_LABEL_PQ "postquantum"

/* A recipient wraps the file key into one or more stanzas. */
typedef struct dm_recipient {
    const char *type; /* "X25519", "scrypt", or an extension's own */
    int (*wrap)(const struct dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                dm_stanza_list *out);
    void (*destroy)(struct dm_recipient *self);
    void *ctx;
    /* DM_RCPT_ALONE, DM_RCPT_COMPANION (below); 0 for most types. */
    unsigned flags;
    /* Optional (NULL: no labels). Called after wrap with the n_mine stanzas
     * that this recipient appended; puts at most DM_MAX_LABELS labels
     * (strings that outlive the call) in out and returns how many. */
    size_t (*labels)(const struct dm_recipient *self, const dm_stanza *mine, size_t n_mine,
                     const char *out[DM_MAX_LABELS]);
} dm_recipient;

/* DM_RCPT_ALONE: its stanzas must be the only ones in the header (age's
 * rule for scrypt: whoever knows the passphrase knows no one else could
 * have written the file), but for a companion's. */
#define DM_RCPT_ALONE 1u
/* DM_RCPT_COMPANION: its stanzas may stand beside a stand-alone
 * recipient's; its labels still must match the other recipients'. A
 * doormat extension (age refuses such files): whoever decrypts them must
 * say so too (dm_identity.beside). */
#define DM_RCPT_COMPANION 2u

/* An identity tries to unwrap the file key from the header's stanzas.
 * Returns DM_OK with file_key filled, DM_ERR_NO_MATCH when none of the
 * stanzas is for it (DM_ERR_BAD_PASSPHRASE when a passphrase's stanza is
 * there but does not open: dm_decrypt tries the next identity on either),
 * or another error (a malformed stanza of its type is
 * DM_ERR_HEADER) which stops decryption. */
typedef struct dm_identity {
    int (*unwrap)(const struct dm_identity *self, const dm_stanza_list *stanzas,
                  uint8_t file_key[DM_FILE_KEY_LEN]);
    void (*destroy)(struct dm_identity *self);
    void *ctx;
    /* Optional (NULL: age's rule alone). 1 when a stanza of this type may
     * stand beside a stand-alone (scrypt) stanza in the files this identity
     * opens: the stanzas of a companion recipient (DM_RCPT_COMPANION), which
     * the header alone does not tell. The header is checked before any
     * identity unwraps: a stanza that some identity of the list accepts
     * here is not counted against the scrypt stanza. Whoever makes the
     * identity may set it. */
    int (*beside)(const struct dm_identity *self, const char *stanza_type);
} dm_identity;

/* Call destroy (which releases ctx, and may be NULL), then free() the struct
 * itself: recipients and identities are malloc'd. Both accept NULL. */
void dm_recipient_free(dm_recipient *r);
void dm_identity_free(dm_identity *id);

/* X25519. Secret strings (AGE-SECRET-KEY-1...) are returned in sodium_malloc'd
 * memory: release them with dm_secret_free. */
DM_MUST_CHECK
int dm_x25519_keygen(char **secret_out, char **public_out);
DM_MUST_CHECK
int dm_x25519_recipient_parse(const char *age1, dm_recipient **out);
DM_MUST_CHECK
int dm_x25519_identity_parse(const char *secret, dm_identity **out);
/* Writes the age1... recipient of an AGE-SECRET-KEY-1... string (malloc'd). */
DM_MUST_CHECK
int dm_x25519_identity_to_recipient(const char *secret, char **public_out);

/* The MLKEM768-X25519 hybrid post-quantum type (age1pq1... recipients,
 * AGE-SECRET-KEY-PQ-1... identities, mlkem768x25519 stanzas), on OpenSSL's
 * ML-KEM-768 and SHA-3 (3.5 or later). dm_pq_available() is 1 when this
 * build and the OpenSSL it runs on have them; otherwise every function below
 * fails with DM_ERR_USAGE and the detail dm_pq_unavailable_reason(). The
 * dm_pq_is_* tests only look at the prefix (any case). */
DM_MUST_CHECK
int dm_pq_available(void);
const char *dm_pq_unavailable_reason(void);
DM_MUST_CHECK
int dm_pq_is_recipient(const char *s);
DM_MUST_CHECK
int dm_pq_is_identity(const char *s);
DM_MUST_CHECK
int dm_pq_keygen(char **secret_out, char **public_out);
DM_MUST_CHECK
int dm_pq_recipient_parse(const char *age1pq, dm_recipient **out);
DM_MUST_CHECK
int dm_pq_identity_parse(const char *secret, dm_identity **out);
DM_MUST_CHECK
int dm_pq_identity_to_recipient(const char *secret, char **public_out);
/* The KEM alone (MLKEM768-X25519), for other rooms that seal to hybrid keys
 * (the escrow agents of an authority made with --pq). A key pair is a 32-byte
 * seed and its DM_PQ_PUBLIC_LEN-byte public key (what age1pq1 encodes).
 * Encapsulation is random when rand is NULL, else derived from its
 * DM_PQ_RAND_LEN bytes (ML-KEM's message, then the X25519 ephemeral secret),
 * for senders whose stanzas must be rebuilt byte for byte from a secret. */
#define DM_PQ_SEED_LEN 32
#define DM_PQ_PUBLIC_LEN 1216
#define DM_PQ_ENC_LEN 1120
#define DM_PQ_RAND_LEN 64
#define DM_PQ_SHARED_LEN 32
DM_MUST_CHECK
int dm_pq_public_from_seed(const uint8_t seed[DM_PQ_SEED_LEN], uint8_t public[DM_PQ_PUBLIC_LEN]);
DM_MUST_CHECK
int dm_pq_encapsulate(const uint8_t public[DM_PQ_PUBLIC_LEN], const uint8_t *rand,
                      uint8_t enc[DM_PQ_ENC_LEN], uint8_t shared[DM_PQ_SHARED_LEN]);
DM_MUST_CHECK
int dm_pq_decapsulate(const uint8_t seed[DM_PQ_SEED_LEN], const uint8_t enc[DM_PQ_ENC_LEN],
                      uint8_t shared[DM_PQ_SHARED_LEN]);

/* scrypt passphrase recipient (log_n 0 means DM_SCRYPT_DEFAULT_LOG_N) and
 * identity (refuses work factors above max_log_n; 0 means DM_SCRYPT_MAX_LOG_N). */
DM_MUST_CHECK
int dm_scrypt_recipient_new(const char *passphrase, size_t len, int log_n, dm_recipient **out);
DM_MUST_CHECK
int dm_scrypt_identity_new(const char *passphrase, size_t len, int max_log_n, dm_identity **out);

/* Identity file text: age-keygen format, '#' comments, blank lines, one or
 * more AGE-SECRET-KEY-1 lines. On error, *line_out names the bad line (1-based). */
DM_MUST_CHECK
int dm_identity_file_parse(const char *text, size_t len, dm_identity ***ids_out, size_t *n_out,
                           size_t *line_out);
/* Recipients file text (-R): one recipient per line, '#' comments, blank lines. */
DM_MUST_CHECK
int dm_recipient_file_parse(const char *text, size_t len, dm_recipient ***rcpts_out, size_t *n_out,
                            size_t *line_out);

/* Asks for a passphrase (the command asks on the terminal): puts it,
 * NUL-terminated, in memory from dm_secret_alloc. DM_OK or an error. */
typedef int (*dm_passphrase_fn)(void *ctx, char **pass_out, size_t *len_out);

/* SSH recipients (age's ssh-ed25519 and ssh-rsa types; see docs/format.md).
 * The SSH files are read with libssh and the RSA arithmetic is OpenSSL's;
 * both libraries are loaded the first time an SSH key is used. */
DM_MUST_CHECK
int dm_ssh_recipient_parse(const char *line, dm_recipient **out);
/* An OpenSSH private key file (or a PEM RSA key). A key protected by a
 * passphrase is opened lazily: ask is called the first time a stanza
 * carries the key's tag (an OpenSSH file names its public key in clear), or
 * at once for a PEM file, whose public key is encrypted too. */
DM_MUST_CHECK
int dm_ssh_identity_parse(const char *text, size_t len, dm_passphrase_fn ask, void *ask_ctx,
                          dm_identity **out);
/* The public key line ("ssh-ed25519 AAAA...") of a private key file, for
 * encrypting to one's own key; asks for a passphrase only for a PEM file. */
DM_MUST_CHECK
int dm_ssh_identity_public(const char *text, size_t len, dm_passphrase_fn ask, void *ask_ctx,
                           char **line_out);
/* The same, with the public key line of the key's .pub file (pub_line, NULL
 * when there is none) named pub_name, as age reads them: a PEM key protected
 * by a passphrase hides its public key, so its .pub says which stanzas are its
 * own (the passphrase is then asked only for those, and a .pub of another key
 * is "mismatched private and public SSH key"), and encrypting to it asks
 * nothing; without a .pub such a key is refused, naming pub_name. With
 * pub_name NULL they are the functions above. */
DM_MUST_CHECK
int dm_ssh_identity_parse_pub(const char *text, size_t len, const char *pub_line,
                              const char *pub_name, dm_passphrase_fn ask, void *ask_ctx,
                              dm_identity **out);
DM_MUST_CHECK
int dm_ssh_identity_public_pub(const char *text, size_t len, const char *pub_line,
                               const char *pub_name, dm_passphrase_fn ask, void *ask_ctx,
                               char **line_out);
/* 1 when text looks like an SSH/PEM private key file ("-----BEGIN ..."). */
DM_MUST_CHECK
int dm_ssh_is_private_key(const char *text, size_t len);

/* An identity file that is itself an age file (age -p of a keygen file):
 * decrypts it with the passphrase into guarded memory (*text_out, release
 * with dm_secret_free). DM_ERR_BAD_PASSPHRASE (detail "incorrect passphrase")
 * when the passphrase is wrong; DM_ERR_USAGE when the file is encrypted to
 * something other than a passphrase. */
DM_MUST_CHECK
int dm_identity_file_decrypt(const uint8_t *file, size_t len, const char *passphrase,
                             size_t pass_len, char **text_out, size_t *len_out);
/* 1 when the bytes begin an age file, binary or armored. */
DM_MUST_CHECK
int dm_is_age_file(const uint8_t *buf, size_t len);
/* The binary age file inside an armored one (c2sp.org/age, "ASCII armor",
 * read as strictly as decryption reads it): *out is malloc'd. DM_ERR_ARMOR
 * when the text is not valid armor. */
DM_MUST_CHECK
int dm_dearmor(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

/* Like dm_recipient_file_parse, but SSH keys of unsupported types (ssh-dss,
 * ecdsa-..., as an authorized_keys file may hold) are passed over, as age
 * does, each reported to skipped(ctx, line, type); without it they are
 * errors ("unsupported SSH key type ... at line N"). */
typedef void (*dm_skipped_fn)(void *ctx, size_t line, const char *type);
DM_MUST_CHECK
int dm_recipient_file_parse_skipping(const char *text, size_t len, dm_recipient ***rcpts_out,
                                     size_t *n_out, size_t *line_out, dm_skipped_fn skipped,
                                     void *skipped_ctx);

/* Any recipient string the vault knows: age1... (X25519), age1NAME1...
 * (a plugin), or an SSH public key line "ssh-ed25519 AAAA... [comment]" /
 * "ssh-rsa AAAA... [comment]" as in authorized_keys. Other SSH key types
 * (ssh-dss, ecdsa-..., sk-...) are DM_ERR_USAGE with the detail "unsupported
 * SSH key type ...". Any identity string: AGE-SECRET-KEY-1... (X25519) or
 * AGE-PLUGIN-NAME-1... (a plugin; SSH identities are files, see
 * dm_ssh_identity_parse). Plugin ones are made with no host (see
 * dm_plugin_recipients_set_host). */
DM_MUST_CHECK
int dm_recipient_parse(const char *s, dm_recipient **out);
DM_MUST_CHECK
int dm_identity_parse(const char *s, dm_identity **out);

/* ----------------------------------------------------------------- plugins */

/* The client side of the age plugin protocol (c2sp.org/age-plugin): a plugin
 * recipient or identity runs age-plugin-NAME, found on $PATH (absolute
 * directories only), with --age-plugin=recipient-v1 or identity-v1, and talks
 * to it over its standard input and output. Its standard error is kept (the
 * last line is quoted when it fails) and otherwise discarded, as age does.
 *
 * The library does no terminal I/O: what the plugin asks of the user goes to
 * the host's callbacks. Texts handed to them have every control character
 * replaced by '?'. A NULL callback, or one that returns an error, makes the
 * client answer "fail", and the plugin decides what that means. */
typedef struct dm_plugin_host {
    /* Shows a message of plugin NAME. */
    int (*message)(void *ctx, const char *name, const char *text);
    /* Asks for a value (secret: without echo). *value is NUL-terminated and
     * dm_secret_alloc'd; the client frees it. */
    int (*request)(void *ctx, const char *name, const char *prompt, int secret, char **value,
                   size_t *value_len);
    /* Asks to choose between yes and no (no is NULL when yes is the only
     * choice); *chose_yes is 1 for yes, 0 for no. */
    int (*confirm)(void *ctx, const char *name, const char *prompt, const char *yes, const char *no,
                   int *chose_yes);
    void *ctx;
    /* How long to wait for each message of the plugin, in milliseconds: 0
     * means DM_PLUGIN_DEFAULT_TIMEOUT_MS, a negative value forever. Time spent
     * in the callbacks (the user typing) does not count. */
    int timeout_ms;
} dm_plugin_host;

#define DM_PLUGIN_DEFAULT_TIMEOUT_MS 60000
/* Longest plugin name accepted (NAME = 1*(ALPHA / DIGIT / "-" / "_" / "." / "+")). */
#define DM_PLUGIN_MAX_NAME 64

/* Cheap tests of a string's shape: "age1" with a second '1' (a plugin
 * recipient), "AGE-PLUGIN-" (a plugin identity). */
DM_MUST_CHECK
int dm_is_plugin_recipient(const char *s);
DM_MUST_CHECK
int dm_is_plugin_identity(const char *s);

/* age1NAME1... recipients and AGE-PLUGIN-NAME-1... identities (strict
 * Bech32; the identity string is kept in guarded memory). host may be NULL
 * (no user interface, default timeout); the struct is copied. */
DM_MUST_CHECK
int dm_plugin_recipient_parse(const char *s, const dm_plugin_host *host, dm_recipient **out);
DM_MUST_CHECK
int dm_plugin_identity_parse(const char *s, const dm_plugin_host *host, dm_identity **out);
/* -j NAME: the plugin's default identity, AGE-PLUGIN-NAME-1 with no data. */
DM_MUST_CHECK
int dm_plugin_identity_default(const char *name, const dm_plugin_host *host, dm_identity **out);
/* Writes that identity's string (upper case, NUL-terminated) into out. */
DM_MUST_CHECK
int dm_plugin_default_identity_string(const char *name, char *out, size_t out_cap);
/* The recipient that encrypts to a plugin identity (recipient-v1's
 * add-identity): age -e -j NAME, or a plugin identity in an identity file.
 * DM_ERR_USAGE when id is not a plugin identity. */
DM_MUST_CHECK
int dm_plugin_identity_to_recipient(const dm_identity *id, dm_recipient **out);
/* Gives the host to every plugin recipient or identity in the list (others
 * are left alone): key files are parsed without one. */
void dm_plugin_recipients_set_host(dm_recipient *const *rcpts, size_t n,
                                   const dm_plugin_host *host);
void dm_plugin_identities_set_host(dm_identity *const *ids, size_t n, const dm_plugin_host *host);
/* The plugin name of a plugin recipient or identity, NULL for others. */
const char *dm_plugin_recipient_name(const dm_recipient *r);
const char *dm_plugin_identity_name(const dm_identity *id);

/* ------------------------------------------------------------------ header */

typedef struct dm_header {
    dm_stanza_list stanzas;
    uint8_t mac[DM_MAC_LEN];
    size_t len; /* bytes of the header, up to and including the MAC line's '\n' */
} dm_header;

/* Parses a binary (de-armored) header at the start of buf. Returns
 * DM_ERR_HEADER when malformed, DM_ERR_IO ("need more") never: give it the
 * whole header. */
DM_MUST_CHECK
int dm_header_parse(const uint8_t *buf, size_t len, dm_header *out);
/* Encodes stanzas + "---" and the MAC computed with file_key; sets hdr->mac
 * and hdr->len. *out is malloc'd. */
DM_MUST_CHECK
int dm_header_encode(dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN], uint8_t **out,
                     size_t *out_len);
/* Constant-time check of hdr->mac against the MAC of its encoding. */
DM_MUST_CHECK
int dm_header_verify_mac(const dm_header *hdr, const uint8_t file_key[DM_FILE_KEY_LEN]);
/* SHA-256 of the encoded header (MAC line included), first DM_FILE_ID_LEN bytes. */
DM_MUST_CHECK
int dm_header_file_id(const dm_header *hdr, uint8_t id[DM_FILE_ID_LEN]);
void dm_header_clear(dm_header *hdr);

/* ------------------------------------------------------ sources and sinks */

/* Reads up to n bytes; returns bytes read, 0 at EOF, -1 on error. Short reads are fine. */
typedef ssize_t (*dm_read_fn)(void *ctx, uint8_t *buf, size_t n);
/* Writes all n bytes; returns 0 or -1 on error. */
typedef int (*dm_write_fn)(void *ctx, const uint8_t *buf, size_t n);

/* What a source is besides its read function, so that the payload engine
 * knows, without guessing, whether it may read at any offset: a DM_SOURCE_FD
 * source (ctx points at an int fd) that is a regular file is read with
 * pread(2) by several threads at once, a DM_SOURCE_MEM source (ctx is a
 * dm_membuf) in place. A source built as {read, ctx} is DM_SOURCE_STREAM:
 * read in order, nothing else. */
typedef enum dm_source_kind {
    DM_SOURCE_STREAM = 0,
    DM_SOURCE_FD = 1,
    DM_SOURCE_MEM = 2
} dm_source_kind;

typedef struct dm_source {
    dm_read_fn read;
    void *ctx;
    dm_source_kind kind;
} dm_source;

typedef struct dm_sink {
    dm_write_fn write;
    void *ctx;
} dm_sink;

/* File descriptor source/sink (ctx points at an int fd). */
dm_source dm_source_fd(int *fd);
dm_sink dm_sink_fd(int *fd);

/* In-memory source over a buffer, and a growing memory sink. */
typedef struct dm_membuf {
    const uint8_t *data; /* for sources */
    uint8_t *buf;        /* for sinks: malloc'd, grows */
    size_t len;
    size_t pos;
    size_t cap;
} dm_membuf;
dm_source dm_source_mem(dm_membuf *m);
dm_sink dm_sink_mem(dm_membuf *m);
/* A sink that throws everything away (for benchmarks). */
dm_sink dm_sink_null(void);

/* ------------------------------------------------------- encrypt, decrypt */

/* Which library seals and opens payload chunks. */
/* DM_AEAD_AUTO (what the command uses): libsodium for a payload of at most
 * 512 KiB, whose cryptography costs less than OpenSSL's first use (its
 * provider tables), OpenSSL above. All three give the same bytes. */
typedef enum dm_aead_backend {
    DM_AEAD_OPENSSL = 0,
    DM_AEAD_SODIUM = 1,
    DM_AEAD_AUTO = 2
} dm_aead_backend;

/* OpenSSL's version text ("OpenSSL 3.0.19 27 Jan 2026"), loading libcrypto if
 * it is not loaded yet (the vault loads it only for payloads that need it),
 * or NULL when it can't be loaded. */
const char *dm_openssl_version(void);

typedef struct dm_encrypt_opts {
    int armor;        /* ASCII armor the output */
    unsigned threads; /* 0: online CPUs; 1: sequential */
    dm_aead_backend backend;
} dm_encrypt_opts;

/* Called after the header MAC verified, before any payload is released. */
typedef int (*dm_policy_fn)(void *ctx, const dm_header *hdr,
                            const uint8_t file_key[DM_FILE_KEY_LEN]);

typedef struct dm_decrypt_opts {
    unsigned threads; /* 0: online CPUs; 1: sequential */
    dm_aead_backend backend;
    dm_policy_fn policy;
    void *policy_ctx;
    /* If set, receives a copy of the unwrapped file key (caller-owned, secure memory). */
    uint8_t *file_key_out;
} dm_decrypt_opts;

DM_MUST_CHECK
int dm_encrypt(dm_source in, dm_sink out, dm_recipient *const *rcpts, size_t n_rcpts,
               const dm_encrypt_opts *opts);
/* Payload chunks are released to out only after each is authenticated; on a
 * failure, what was already released was authentic but the whole is not. */
DM_MUST_CHECK
int dm_decrypt(dm_source in, dm_sink out, dm_identity *const *ids, size_t n_ids,
               const dm_decrypt_opts *opts);

/* Rekeying: the file key opened with ids (its header MAC checked), wrapped
 * again for rcpts into a new header, and the payload copied byte for byte.
 * Nothing is re-encrypted, so this cannot take anything away: whoever had
 * the file key (or a copy of the old file and an old identity) still has it.
 * encrypt.armor armors the output; an armored input is de-armored; the
 * old header is checked as dm_decrypt does (ids' beside), the new one as
 * dm_encrypt does (rcpts' flags and labels). The payload is not
 * authenticated on the way: decrypting the output does that. */
typedef struct dm_rekey_opts {
    dm_encrypt_opts encrypt;
} dm_rekey_opts;
DM_MUST_CHECK
int dm_rekey(dm_source in, dm_sink out, dm_identity *const *ids, size_t n_ids,
             dm_recipient *const *rcpts, size_t n_rcpts, const dm_rekey_opts *opts);

/* A ready identity that "unwraps" to a known file key (recovery, tests). */
DM_MUST_CHECK
int dm_file_key_identity_new(const uint8_t file_key[DM_FILE_KEY_LEN], dm_identity **out);

/* What `doormat inspect` shows; reads the header and walks the payload without keys. */
typedef struct dm_inspect_info {
    int armored;
    dm_header header;        /* parsed stanzas and MAC */
    uint64_t header_size;    /* bytes, binary */
    uint64_t payload_size;   /* bytes of binary payload incl. nonce and tags */
    uint64_t chunks;         /* number of STREAM chunks implied by payload_size */
    uint64_t plaintext_size; /* implied plaintext size */
    uint8_t file_id[DM_FILE_ID_LEN];
} dm_inspect_info;
/* DM_ERR_PAYLOAD when the payload's size can't be a valid STREAM (info is
 * still filled in); any other error leaves info empty. Always safe to
 * dm_inspect_info_clear afterwards. */
DM_MUST_CHECK
int dm_inspect(dm_source in, dm_inspect_info *info);
void dm_inspect_info_clear(dm_inspect_info *info);

/* ------------------------------------ building blocks for other recipient types */

/* Canonical, unpadded standard base64 (as in age headers). Strict decode:
 * rejects padding, non-canonical trailing bits, any other character, and
 * input that would decode to more than out_cap bytes, all as DM_ERR_HEADER.
 * Encode writes dm_b64_encoded_len(n) characters, plus a NUL if out_cap has
 * room for it; a smaller out_cap is DM_ERR_INTERNAL. */
size_t dm_b64_encoded_len(size_t n);
DM_MUST_CHECK
int dm_b64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);
DM_MUST_CHECK
int dm_b64_decode(const char *in, size_t n, uint8_t *out, size_t out_cap, size_t *out_len);

/* Bech32 (BIP 173), no length limit. Output is lower-case, or upper-case when
 * hrp is (as age writes AGE-SECRET-KEY-1...), NUL-terminated. Decode accepts
 * all-lower or all-upper and returns the HRP as written ("AGE-SECRET-KEY-",
 * "age"): compare it exactly, as age does. Bad strings are DM_ERR_USAGE. */
DM_MUST_CHECK
int dm_bech32_encode(const char *hrp, const uint8_t *data, size_t len, char *out, size_t out_cap);
DM_MUST_CHECK
int dm_bech32_decode(const char *s, char *hrp_out, size_t hrp_cap, uint8_t *data_out,
                     size_t data_cap, size_t *data_len);

/* HKDF-SHA-256 (RFC 5869, over libsodium's HMAC-SHA-256). */
DM_MUST_CHECK
int dm_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                   const char *info, size_t info_len, uint8_t *out, size_t out_len);
/* HMAC-SHA-256 and SHA-256. */
DM_MUST_CHECK
int dm_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                   uint8_t out[32]);
void dm_sha256(const uint8_t *msg, size_t len, uint8_t out[32]);

/* ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce; out gets n + 16 bytes
 * (seal) or n - 16 bytes (open). open returns DM_ERR_PAYLOAD on a bad tag. */
DM_MUST_CHECK
int dm_aead_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out);
DM_MUST_CHECK
int dm_aead_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                 uint8_t *out);

/* Guarded memory for secrets: dm_secret_alloc and dm_secret_free (base.h). */

DM_API_END
#ifdef __cplusplus
}
#endif
#endif
