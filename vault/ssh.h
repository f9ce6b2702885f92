/* The ssh-ed25519 and ssh-rsa recipient types (not installed). Three layers,
 * each calling only those below it: ssh.c, the front door (a key line or a
 * key file to the type that names it, one table of types); ssh_ed25519.c and
 * ssh_rsa.c, the types; ssh_common.c (with ssh_keygen.c), what the types
 * share: SSH wire-format reading, the key tag, the OpenSSH key container,
 * and the libraries they need, loaded on first use. */
#ifndef DOORMAT_VAULT_SSH_H
#define DOORMAT_VAULT_SSH_H

#include "internal.h"
#include "lazylib.h" /* libcrypto's key functions, libssh: DM_LIBCRYPTO_PKEY, dm_libssh_get */

#define DM_SSH_TAG_LEN 4
#define DM_SSH_TAG_B64_LEN 6
#define DM_SSH_ED25519 "ssh-ed25519"
#define DM_SSH_RSA "ssh-rsa"

/* Big-endian SSH wire reading (RFC 4251, section 5). */
typedef struct dm_wire {
    const uint8_t *p;
    size_t n;
} dm_wire;
int dm_wire_u32(dm_wire *w, uint32_t *out);
int dm_wire_string(dm_wire *w, const uint8_t **s, size_t *len);
/* An mpint that must be positive: its bytes without the sign octet. */
int dm_wire_mpint(dm_wire *w, const uint8_t **s, size_t *len);

/* ---- ssh.c */

/* 1 when the line's first word names an SSH key type (ssh-..., ecdsa-...,
 * sk-...), copied into type; and whether the vault supports that type. */
int dm_ssh_line_type(const char *line, char type[32]);
int dm_ssh_type_supported(const char *type);
/* An SSH public key line as a recipient, or (not an SSH key type at all) the
 * error naming an unknown recipient type: the last branch of
 * dm_recipient_parse (vault/keyfile.c). */
int dm_ssh_recipient_or_unknown(const char *s, dm_recipient **out);

/* ---- ssh_common.c */

/* A name from a key, for messages: printable characters only, at most cap - 1. */
void dm_ssh_safe_name(const uint8_t *s, size_t len, char *out, size_t cap);

/* The stanza's key tag: base64 of the first 4 bytes of SHA-256 of the
 * public key in SSH wire format (out gets 7 bytes with the NUL). */
int dm_ssh_tag(const uint8_t *blob, size_t len, char out[DM_SSH_TAG_B64_LEN + 1]);

/* A public key blob checked by libssh (its type must be the one named, and
 * libssh must accept it), then read: the type and the key's fields. */
typedef struct dm_ssh_public {
    char type[32];
    uint8_t *blob; /* malloc'd wire format */
    size_t blob_len;
    const uint8_t *ed25519; /* 32 bytes inside blob */
    const uint8_t *rsa_e, *rsa_n;
    size_t rsa_e_len, rsa_n_len;
} dm_ssh_public;
int dm_ssh_public_from_blob(const uint8_t *blob, size_t len, dm_ssh_public *out);
void dm_ssh_public_free(dm_ssh_public *pub);

/* The private numbers of a key, in guarded memory. */
typedef struct dm_ssh_private {
    dm_ssh_public pub;
    uint8_t *secret; /* ed25519: 64 bytes (seed || public); rsa: unused */
    void *rsa;       /* EVP_PKEY * for ssh-rsa */
} dm_ssh_private;
void dm_ssh_private_free(dm_ssh_private *priv);

/* Reads a private key file (OpenSSH or PEM). With a passphrase (NULL for a
 * clear key) opens it completely; without one, a key that needs one yields
 * only its public part and *needs_passphrase = 1. */
int dm_ssh_private_load(const char *text, size_t len, const char *passphrase, dm_ssh_private *out,
                        int *needs_passphrase);

/* A passphrase-protected OpenSSH-format key (text, len) rewritten by
 * ssh-keygen as an encrypted PEM key, in memory only (ssh_keygen.c): the
 * PEM text and its passphrase, both guarded (dm_secret_free). Called only
 * once libssh has accepted the passphrase. */
int dm_ssh_keygen_to_pem(const char *text, size_t len, const char *passphrase, char **pem_out,
                         size_t *pem_len, char **pem_pass_out);

/* An OpenSSL EVP_PKEY for an ssh-rsa public key. */
int dm_ssh_rsa_public_key(const dm_ssh_public *pub, void **out);
/* Frees the EVP_PKEY *pkey (through the loaded libcrypto) and sets it NULL. */
void dm_ssh_pkey_free(void **pkey);

/* ---- ssh_ed25519.c, ssh_rsa.c: reached through ssh.c's table of types */

/* Identity constructors of the two types from a loaded key (taking it and
 * pending over, failing or not), or from a file that waits for its
 * passphrase until a stanza names it. */
typedef struct dm_ssh_pending dm_ssh_pending;
int dm_ssh_ed25519_identity_new(dm_ssh_private *priv, dm_ssh_pending *pending, dm_identity **out);
int dm_ssh_rsa_identity_new(dm_ssh_private *priv, dm_ssh_pending *pending, dm_identity **out);
int dm_ssh_ed25519_recipient_new(const dm_ssh_public *pub, dm_recipient **out);
int dm_ssh_rsa_recipient_new(const dm_ssh_public *pub, dm_recipient **out);

/* ---- ssh_common.c */

/* A key file still locked by its passphrase: opened (once) the first time a
 * stanza carries its tag. */
struct dm_ssh_pending {
    char *text; /* guarded copy of the file */
    size_t len;
    dm_passphrase_fn ask;
    void *ask_ctx;
    int public_from_file; /* the public key came from the .pub file beside the key */
};
/* Asks for the passphrase and opens the key into priv. */
int dm_ssh_pending_open(dm_ssh_pending *p, dm_ssh_private *priv);
/* The same, for the identity made from the public key blob: the file must
 * hold that key with its private part (priv is left empty otherwise). */
int dm_ssh_pending_open_key(dm_ssh_pending *p, const uint8_t *blob, size_t blob_len,
                            dm_ssh_private *priv);
void dm_ssh_pending_free(dm_ssh_pending *p);

#endif
