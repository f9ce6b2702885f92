/* The STREAM payload (c2sp.org/age, "Payload"): nonce, then 64 KiB chunks
 * sealed with ChaCha20-Poly1305, sequentially or on a pool of threads. */
#ifndef DOORMAT_VAULT_STREAM_H
#define DOORMAT_VAULT_STREAM_H

#include "doormat/vault.h"

/* The caller's guarded block: the file key, then room for the payload key
 * (one guarded allocation per file instead of one per key). */
#define DM_STREAM_SECRETS_LEN (DM_FILE_KEY_LEN + 32)

/* The engine's sizes (vault/stream.c), here so that the tests build their
 * edge cases from the same values instead of copies. The payload is cut into
 * jobs of a few chunks: no read or write is larger than one job's worth, plus
 * the one look-ahead byte that tells the last chunk. */
#define DM_STREAM_JOB_CHUNKS_MAX 8
/* Sealing: larger jobs, fewer mappings on one thread and no loss on two. */
#define DM_STREAM_JOB_CHUNKS_SEAL 8
/* Opening a regular file: a thread's pread buffer and the slots it writes
 * stay in its core's L2. (Measured: docs/benchmarks.md, "The payload engine".) */
#define DM_STREAM_JOB_CHUNKS_OPEN 2
/* Up to this many bytes a payload is sealed or opened by the calling thread
 * alone: starting a worker and waiting for it cost more than it saves
 * (docs/benchmarks.md, "Small inputs start no thread"). */
#define DM_STREAM_POOL_MIN_BYTES ((uint64_t)2 << 20)

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

/* io.c: what a source says it is (dm_source.kind). The buffer behind a
 * DM_SOURCE_MEM source, or NULL: the payload engine seals and opens it in
 * place, without copying. */
dm_membuf *dm_source_mem_of(dm_source s);
/* The descriptor behind a DM_SOURCE_FD source, or NULL. */
int *dm_source_fd_of(dm_source s);
/* The descriptor of a source that can be read with pread(2) at any offset (a
 * DM_SOURCE_FD source that is a regular file; *st is its fstat), else -1: the
 * payload engine's workers then read it in parallel. */
struct stat;
int dm_source_pread_fd(dm_source s, struct stat *st);

#endif
