/* The STREAM payload (c2sp.org/age, "Payload"): nonce, then 64 KiB chunks
 * sealed with ChaCha20-Poly1305, sequentially or on a pool of threads. */
#ifndef DOORMAT_VAULT_STREAM_H
#define DOORMAT_VAULT_STREAM_H

#include "doormat/vault.h"

/* The caller's guarded block: the file key, then room for the payload key
 * (one guarded allocation per file instead of one per key). */
#define DM_STREAM_SECRETS_LEN (DM_FILE_KEY_LEN + 32)

/* Writes a fresh nonce and every chunk of in's plaintext to out. */
int dm_stream_seal(dm_source in, dm_sink out, uint8_t secrets[DM_STREAM_SECRETS_LEN],
                   unsigned threads, dm_aead_backend backend);

/* Reads the payload (nonce first) and writes the plaintext of each chunk to
 * out only after its tag verified. The first prefix_len payload bytes were
 * already read from in by the header reader. A missing or short nonce is
 * DM_ERR_HEADER (as the testkit classes it); every other payload fault is
 * DM_ERR_PAYLOAD; a failing source is DM_ERR_IO. */
int dm_stream_open(dm_source in, const uint8_t *prefix, size_t prefix_len, dm_sink out,
                   uint8_t secrets[DM_STREAM_SECRETS_LEN], unsigned threads,
                   dm_aead_backend backend);

/* io.c: the buffer behind a dm_source_mem source, or NULL for any other
 * source; lets the payload engine seal and open in place, without copying. */
dm_membuf *dm_source_mem_of(dm_source s);
/* io.c: the descriptor behind a dm_source_fd source, or NULL for any other
 * source; lets the payload engine pread a regular file from several threads. */
int *dm_source_fd_of(dm_source s);

#endif
