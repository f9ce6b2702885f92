/* The vault's one loader (not installed): libcrypto and libssh, opened the
 * first time a caller needs them, once, and never at start-up. Mapping and
 * relocating libcrypto costs every process more than all the cryptography of
 * a 1 KiB file (docs/benchmarks.md, "Start-up"), and most runs touch neither
 * an SSH key, a large payload nor a hybrid key; the build links with
 * --as-needed, so nothing else pulls them in.
 *
 * Each table holds the functions its callers use, with the prototypes of the
 * libraries' own headers (__typeof__), so every call is type-checked, under
 * the functions' own names: c->EVP_PKEY_free(k). A part is ready when every
 * function it lists resolved (and what it probes is there); a caller asks for
 * the part it uses, and is told, in the error detail, why it cannot have it. */
#ifndef DOORMAT_VAULT_LAZYLIB_H
#define DOORMAT_VAULT_LAZYLIB_H

#include <libssh/libssh.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "doormat/vault.h"

/* The payload's ChaCha20-Poly1305 (vault/aead.c). */
#define DM_LIBCRYPTO_AEAD_FUNCS(X)                                                                 \
    X(EVP_CIPHER_fetch)                                                                            \
    X(EVP_CIPHER_CTX_new)                                                                          \
    X(EVP_CIPHER_CTX_free)                                                                         \
    X(EVP_CIPHER_CTX_ctrl)                                                                         \
    X(EVP_CipherInit_ex2)                                                                          \
    X(EVP_EncryptInit_ex2)                                                                         \
    X(EVP_EncryptUpdate)                                                                           \
    X(EVP_EncryptFinal_ex)                                                                         \
    X(EVP_DecryptInit_ex2)                                                                         \
    X(EVP_DecryptUpdate)                                                                           \
    X(EVP_DecryptFinal_ex)

/* ssh-rsa's RSA-OAEP and the private key files OpenSSL reads (vault/ssh_*.c). */
#define DM_LIBCRYPTO_PKEY_FUNCS(X)                                                                 \
    X(EVP_PKEY_CTX_new_from_name)                                                                  \
    X(EVP_PKEY_CTX_new_from_pkey)                                                                  \
    X(EVP_PKEY_CTX_free)                                                                           \
    X(EVP_PKEY_fromdata_init)                                                                      \
    X(EVP_PKEY_fromdata)                                                                           \
    X(EVP_PKEY_free)                                                                               \
    X(EVP_PKEY_encrypt_init_ex)                                                                    \
    X(EVP_PKEY_encrypt)                                                                            \
    X(EVP_PKEY_decrypt_init_ex)                                                                    \
    X(EVP_PKEY_decrypt)                                                                            \
    X(EVP_PKEY_get_bits)                                                                           \
    X(EVP_PKEY_get_base_id)                                                                        \
    X(EVP_PKEY_get_bn_param)                                                                       \
    X(BN_bn2bin)                                                                                   \
    X(BN_num_bits)                                                                                 \
    X(BN_clear_free)                                                                               \
    X(BIO_new_mem_buf)                                                                             \
    X(BIO_free)                                                                                    \
    X(PEM_read_bio_PrivateKey)                                                                     \
    X(EVP_PKEY_get_raw_private_key)

/* The hybrid post-quantum type's ML-KEM, SHA-3 and HKDF (vault/hybrid.c),
 * beside the key functions above; only in a build whose OpenSSL has ML-KEM. */
#ifdef DM_HAVE_MLKEM
#define DM_LIBCRYPTO_MLKEM_FUNCS(X)                                                                \
    X(EVP_PKEY_CTX_set_params)                                                                     \
    X(EVP_PKEY_keygen_init)                                                                        \
    X(EVP_PKEY_keygen)                                                                             \
    X(EVP_PKEY_get_octet_string_param)                                                             \
    X(EVP_PKEY_encapsulate_init)                                                                   \
    X(EVP_PKEY_encapsulate)                                                                        \
    X(EVP_PKEY_decapsulate_init)                                                                   \
    X(EVP_PKEY_decapsulate)                                                                        \
    X(EVP_MD_fetch)                                                                                \
    X(EVP_MD_free)                                                                                 \
    X(EVP_MD_CTX_new)                                                                              \
    X(EVP_MD_CTX_free)                                                                             \
    X(EVP_DigestInit_ex2)                                                                          \
    X(EVP_DigestUpdate)                                                                            \
    X(EVP_DigestFinalXOF)                                                                          \
    X(EVP_DigestFinal_ex)                                                                          \
    X(EVP_shake256)                                                                                \
    X(EVP_sha3_256)                                                                                \
    X(EVP_KDF_fetch)                                                                               \
    X(EVP_KDF_free)                                                                                \
    X(EVP_KDF_CTX_new)                                                                             \
    X(EVP_KDF_CTX_free)                                                                            \
    X(EVP_KDF_derive)                                                                              \
    X(OSSL_PARAM_construct_octet_string)                                                           \
    X(OSSL_PARAM_construct_utf8_string)                                                            \
    X(OSSL_PARAM_construct_int)                                                                    \
    X(OSSL_PARAM_construct_end)
#else
#define DM_LIBCRYPTO_MLKEM_FUNCS(X)
#endif

/* SSH key files (vault/ssh_common.c). */
#define DM_LIBSSH_FUNCS(X)                                                                         \
    X(ssh_pki_import_privkey_base64)                                                               \
    X(ssh_pki_export_privkey_base64)                                                               \
    X(ssh_pki_import_pubkey_base64)                                                                \
    X(ssh_key_free)                                                                                \
    X(ssh_key_type)                                                                                \
    X(ssh_key_type_from_name)

#define DM_LAZYLIB_FIELD(name) __typeof__(&name) name;

typedef struct dm_libcrypto {
    __typeof__(&OpenSSL_version) OpenSSL_version;
    DM_LIBCRYPTO_AEAD_FUNCS(DM_LAZYLIB_FIELD)
    DM_LIBCRYPTO_PKEY_FUNCS(DM_LAZYLIB_FIELD)
    DM_LIBCRYPTO_MLKEM_FUNCS(DM_LAZYLIB_FIELD)
    /* Fetched once, when the AEAD part is first asked for. */
    EVP_CIPHER *chacha20_poly1305;
} dm_libcrypto;

typedef struct dm_libssh {
    DM_LIBSSH_FUNCS(DM_LAZYLIB_FIELD)
} dm_libssh;

typedef enum dm_libcrypto_part {
    DM_LIBCRYPTO_AEAD,  /* the AEAD functions, and OpenSSL has ChaCha20-Poly1305 */
    DM_LIBCRYPTO_PKEY,  /* the key functions */
    DM_LIBCRYPTO_MLKEM, /* the key and ML-KEM functions, and OpenSSL has ML-KEM-768,
                           SHA3-256 and SHAKE256 (never, in a build without DM_HAVE_MLKEM) */
    DM_LIBCRYPTO_PARTS
} dm_libcrypto_part;

/* libcrypto's table when `part` is ready, loading libcrypto the first time;
 * NULL otherwise, with the detail set ("OpenSSL is not available: why") for
 * the caller to return DM_ERR_INTERNAL. */
const dm_libcrypto *dm_libcrypto_get(dm_libcrypto_part part);
/* 1 when `part` is ready (loading libcrypto the first time), 0 when not;
 * sets no detail: for a caller with another way. */
int dm_libcrypto_ready(dm_libcrypto_part part);

/* libssh's table, loading libssh the first time; NULL, with the detail set
 * ("libssh is not available: why"), when it cannot be used. */
const dm_libssh *dm_libssh_get(void);

#endif
