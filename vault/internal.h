/* Internal interfaces between the vault's modules (not installed). */
#ifndef DOORMAT_VAULT_INTERNAL_H
#define DOORMAT_VAULT_INTERNAL_H

#include "doormat/vault.h"

#define DM_INTRO "age-encryption.org/v1\n"
#define DM_ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define DM_ARMOR_END "-----END AGE ENCRYPTED FILE-----"
/* Hostile input bound: a header larger than this is rejected as malformed. */
#define DM_MAX_HEADER_LEN (8u << 20)

/* ---- crypto.c: ChaCha20-Poly1305 with associated data (dm_aead_seal/open
 * are these with none; age itself uses none, RFC 8439's vectors need it). */
int dm_aead_seal_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out);
int dm_aead_open_ad(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                    size_t ad_len, const uint8_t *in, size_t n, uint8_t *out);

/* Opens a stanza's body (ChaCha20-Poly1305 with key and nonce, no associated
 * data) into the file key: DM_ERR_NO_MATCH when it does not open, which makes
 * the stanza another recipient's (or the work of another passphrase). */
int dm_stanza_body_open(const uint8_t key[32], const uint8_t nonce[12], const dm_stanza *st,
                        uint8_t file_key[DM_FILE_KEY_LEN]);

/* ---- armor.c: strict ASCII armor (c2sp.org/age, "ASCII armor") ----
 * The reader wraps a source whose first prefix_len bytes were already read
 * (the decryptor peeks to detect armor) and yields the binary age file.
 * Its read returns -1 on failure; dm_armor_reader_err() then says
 * DM_ERR_ARMOR (malformed armor, with dm_err_detail set) or DM_ERR_IO.
 * Memory stays bounded (line by line); trailing data after the END line
 * other than whitespace is an armor failure, detected before the reader
 * reports EOF. */
typedef struct dm_armor_reader dm_armor_reader;
int dm_armor_reader_new(dm_source inner, const uint8_t *prefix, size_t prefix_len,
                        dm_armor_reader **out);
dm_source dm_armor_reader_source(dm_armor_reader *r);
int dm_armor_reader_err(const dm_armor_reader *r);
void dm_armor_reader_free(dm_armor_reader *r);

/* The writer encodes everything written to its sink as armor: BEGIN line,
 * 64-column base64 lines, END line, '\n' line endings. */
typedef struct dm_armor_writer dm_armor_writer;
int dm_armor_writer_new(dm_sink inner, dm_armor_writer **out);
dm_sink dm_armor_writer_sink(dm_armor_writer *w);
int dm_armor_writer_finish(dm_armor_writer *w);
void dm_armor_writer_free(dm_armor_writer *w);

/* True when the bytes (possibly preceded by whitespace) begin an armored file. */
int dm_armor_detect(const uint8_t *buf, size_t len);

/* ---- plugin_proc.c ---- */

/* The executable file PREFIXNAME in the first absolute directory of search (a
 * PATH) that holds one, in *path_out (malloc'd): DM_OK, DM_ERR_NO_MATCH (no
 * detail) when none does, DM_ERR_NOMEM ("what"). */
int dm_path_search(const char *search, const char *prefix, const char *name, const char *what,
                   char **path_out);

/* ---- recipient.c: every recipient and identity type is made here ----
 * A recipient (identity) that is kind (its type, functions and flags) around
 * ctx, which it owns from here on: when the struct cannot be allocated, ctx
 * is released through kind's destroy (which every kind has), as
 * dm_recipient_free would, and the answer is DM_ERR_NOMEM with what as the
 * detail. */
int dm_recipient_make(const dm_recipient *kind, void *ctx, const char *what, dm_recipient **out);
int dm_identity_make(const dm_identity *kind, void *ctx, const char *what, dm_identity **out);

/* n bytes of guarded memory (dm_secret_alloc) whose start is aligned for a
 * struct; NULL when out of memory. */
void *dm_secret_struct(size_t n);

/* ---- stanza.c ---- */

/* The header grammar's argument = 1*VCHAR: what a stanza's type and each of
 * its arguments must be, so that the header that holds it can be encoded. */
int dm_stanza_is_argument(const char *s);

/* What a recipient type checks of its stanza before any key work, in this
 * order: nargs arguments (else bad_nargs, or "TYPE stanza has N arguments,
 * want M" when NULL); argument i, where arg_len[i] > 0, the canonical base64
 * of arg_len[i] bytes (else bad_args); a body of body_len bytes, where
 * body_len > 0 ("TYPE stanza body is N bytes, want M"). */
typedef struct dm_stanza_shape {
    size_t nargs;
    size_t arg_len[2];
    size_t body_len;
    const char *bad_nargs, *bad_args;
} dm_stanza_shape;
/* True with argument i decoded into args[i] (arg_len[i] > 0); false with
 * the first fault said (dm_fail, DM_ERR_HEADER). */
bool dm_stanza_fits(const dm_stanza_shape *shape, const dm_stanza *st, uint8_t *const *args);

#endif
