/* libFuzzer target for a whole decryption: header (binary or armored), the
 * X25519 and scrypt identities, the header MAC, the escrow compliance check
 * and the STREAM payload, with the testkit's identity and passphrase, so that
 * mutations of real files get past the key step. Also runs inspect and the
 * escrow description on the same bytes. Checks that a failed decryption never
 * reports success, that success comes with a header inspect accepts, and that
 * the payload released is exactly what inspect says it should be.
 *
 *   make fuzz FUZZ_SECONDS=N         (builds build-fuzz/fuzz/fuzz_decrypt)
 * Seeds: fuzz/corpus/decrypt (fuzz/make-corpus.sh). */
#include <stdlib.h>
#include <string.h>

#include "doormat/escrow.h"
#include "escrow_fixture.h"

#define FUZZ_IDENTITY "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
#define FUZZ_PASSPHRASE "password"
/* The testkit's scrypt vectors use 2^10; anything costlier is refused fast. */
#define FUZZ_MAX_LOG_N 10

static dm_identity *ids[2];
static dm_escrow_authority *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (dm_init() != DM_OK || dm_x25519_identity_parse(FUZZ_IDENTITY, &ids[0]) != DM_OK ||
        dm_scrypt_identity_new(FUZZ_PASSPHRASE, strlen(FUZZ_PASSPHRASE), FUZZ_MAX_LOG_N,
                               &ids[1]) != DM_OK ||
        dm_escrow_authority_parse(fuzz_authority_text, strlen(fuzz_authority_text), &auth,
                                  NULL) != DM_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* inspect first: its view of the file is what decryption must agree with. */
    dm_membuf in = {.data = data, .len = size};
    dm_inspect_info info;
    memset(&info, 0, sizeof info);
    int inspected = dm_inspect(dm_source_mem(&in), &info);
    if (inspected == DM_OK) {
        dm_escrow_description d;
        (void)dm_escrow_describe(&info.header, &d);
    }

    /* With and without the escrow policy (size's low bit picks, so both are
     * seen), in the Shamir, LEAF and crumple modes. */
    static const dm_escrow_opts modes[] = {
        {DM_ESCROW_MODE_SHAMIR, 0, 0},
        {DM_ESCROW_MODE_LEAF, 16, 0},
        {DM_ESCROW_MODE_CRUMPLE, 0, 4},
    };
    dm_escrow_policy policy = {auth, &modes[(size >> 1) % 3]};
    dm_decrypt_opts opts = {0};
    opts.threads = 1;
    ids[0]->beside = dm_escrow_beside; /* escrow stanzas beside a passphrase, as the command */
    if (size & 1) {
        opts.policy = dm_escrow_policy_check;
        opts.policy_ctx = &policy;
    }
    dm_membuf src = {.data = data, .len = size};
    dm_membuf out = {0};
    int err = dm_decrypt(dm_source_mem(&src), dm_sink_mem(&out), ids, 2, &opts);
    if (err == DM_OK) {
        if (inspected != DM_OK)
            abort(); /* decrypts, yet inspect calls it malformed */
        if (out.len != info.plaintext_size)
            abort(); /* released more or less than the payload holds */
    }
    if (err < DM_OK || err >= DM_ERR__COUNT)
        abort();
    free(out.buf);
    dm_inspect_info_clear(&info); /* also holds the header after a payload-size failure */
    return 0;
}
