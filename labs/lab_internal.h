/* Helpers shared by the lab cores (labs/lab_*.c) and the rogue's tools; not installed. */
#ifndef DOORMAT_LAB_INTERNAL_H
#define DOORMAT_LAB_INTERNAL_H

#include "escrow_lab.h"
#include "labs.h"

/* A rogue sender's rewrite: forged (encoded with a fresh MAC under
 * file_key) in place of file's first header_len bytes, the payload as it was. */
int dm_lab_splice_header(dm_header *forged, const uint8_t file_key[DM_FILE_KEY_LEN],
                         const uint8_t *file, size_t len, size_t header_len, uint8_t **out,
                         size_t *out_len);

/* True for the codes that say "these keys do not open it": no identity
 * matched, a wrong passphrase or passcode, no escrow stanza that opens,
 * fewer shares than the threshold. A lab counts such a refusal as the
 * expected outcome of an attempt, and any other failure as a fault. */
static inline bool dm_lab_refused(int err) {
    return err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE || err == DM_ERR_NO_STANZA ||
           err == DM_ERR_TOO_FEW_SHARES;
}

/* The whole of path (NUL-terminated, malloc'd; *len its length), or NULL
 * when it cannot be read. */
char *dm_lab_read_file(const char *path, size_t *len);

/* DIR/NAME, or DM_ERR_USAGE when it does not fit. */
int dm_lab_path(char *out, size_t cap, const char *dir, const char *name);
/* mkdir DIR/NAME (0700); an existing directory is fine. */
int dm_lab_mkdir(const char *dir, const char *name);
/* Writes DIR/NAME whole (mode 0600 or 0644), replacing it. */
int dm_lab_write(const char *dir, const char *name, const void *data, size_t len, int mode);
/* Writes an X25519 identity file (0600) for secret. */
int dm_lab_write_identity(const char *dir, const char *name, const char *secret);
/* A fresh X25519 key pair (*sk, *pk), its identity file DIR/NAME, its
 * recipient *rc and, when id is non-NULL, its identity *id. */
int dm_lab_key_pair(const char *dir, const char *name, char **sk, char **pk, dm_recipient **rc,
                    dm_identity **id);

/* A lab's cast: a one-agent authority and one user with an X25519 key. */
typedef struct dm_lab_cast {
    dm_escrow_authority *auth;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
    char *sk, *pk;
    dm_recipient *rcpt;
    dm_identity *id;
} dm_lab_cast;
/* A new one-agent authority called name, written to DIR/authority. */
int dm_lab_cast_authority(dm_lab_cast *c, const char *name, const char *dir);
/* The user's key pair, its identity in DIR/user.key, and message in DIR/message.txt. */
int dm_lab_cast_user(dm_lab_cast *c, const char *dir, const char *message, size_t len);
/* Frees what the cast holds (a zeroed or partly built cast is fine). */
void dm_lab_cast_free(dm_lab_cast *c);

/* Encrypts plain to rcpts, plus auth's escrow when auth is non-NULL. */
int dm_lab_encrypt(dm_recipient *const *rcpts, size_t n, const dm_escrow_authority *auth,
                   const dm_escrow_opts *eo, const uint8_t *plain, size_t len, dm_membuf *out);
/* Decrypts file with one identity (escrow stanzas allowed beside scrypt, no
 * policy unless pol is non-NULL); plain (may be NULL) is malloc'd; fk (may be
 * NULL) receives the file key. */
int dm_lab_decrypt(const uint8_t *file, size_t len, dm_identity *id, const dm_escrow_policy *pol,
                   uint8_t **plain, size_t *plain_len, uint8_t fk[DM_FILE_KEY_LEN]);
/* Same, with a known file key. */
int dm_lab_decrypt_with_key(const uint8_t *file, size_t len, const uint8_t fk[DM_FILE_KEY_LEN],
                            uint8_t **plain, size_t *plain_len);
/* True when plain is exactly want. */
bool dm_lab_same(const uint8_t *plain, size_t plain_len, const uint8_t *want, size_t want_len);
/* Whether the file key fk opens file to want (*opened); a file that opens to
 * anything else is an internal error, "WHAT decrypted to something else". */
int dm_lab_opens_to(const dm_membuf *file, const uint8_t fk[DM_FILE_KEY_LEN], const uint8_t *want,
                    size_t want_len, const char *what, bool *opened);
/* Whether n agents' keys open file to want straight from its header (no
 * warrant, no log): *opened; keys that do not open it are no error. */
int dm_lab_keys_open(const dm_escrow_authority *auth, dm_escrow_agent_key *const *keys, size_t n,
                     const dm_membuf *file, const uint8_t *want, size_t want_len, bool *opened);

/* A warrant for one file, issued by court and parsed back. */
int dm_lab_warrant(const dm_escrow_authority *auth, const dm_escrow_court_key *court,
                   const dm_header *hdr, dm_escrow_warrant **out);
/* The share value inside a share (through its text form, as a person would read it). */
int dm_lab_share_value(const dm_escrow_share *s, uint8_t value[DM_FILE_KEY_LEN]);

#endif
