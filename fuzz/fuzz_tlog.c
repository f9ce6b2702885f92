/* libFuzzer target for the transparency-log parsers. The first byte picks one:
 *   0 a signed checkpoint (note grammar, checkpoint lines, the log signature)
 *   1 a signed note (grammar; every signature line)
 *   2 a tile path (tlog-tiles)
 *   3 an entry bundle (the second byte: how many entries it should hold)
 *   4 a tlog-proof (receipt): grammar, then verification against the log key
 *   5 a tlog-witness add-checkpoint request, answered by a witness on a
 *     scratch state directory
 *   6 a verifier key (NAME+KEYID+BASE64)
 *   7 a hash tile: its hashes as the leaves of a proof, checked and verified
 * The log key is agent doj's of the authority in escrow_fixture.h
 * (fuzz/make-corpus.sh made the seeds with it). Besides "no crash": accepted
 * paths, verifier keys and proofs format back to the bytes given, and
 * nothing but the documented error classes comes back.
 *
 *   make fuzz FUZZ_SECONDS=N        Seeds: fuzz/corpus/tlog */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doormat/escrow.h"
#include "doormat/tlog.h"
#include "escrow_fixture.h"
#include "fuzz_check.h"

static dm_escrow_authority *auth;
static const dm_tlog_verifier *log_key;
static dm_tlog_signer *witness;
static char state[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char *sk, *vk;
    snprintf(state, sizeof state, "/tmp/doormat-fuzz-tlog.XXXXXX");
    if (dm_init() != DM_OK ||
        dm_escrow_authority_parse(fuzz_authority_text, strlen(fuzz_authority_text), &auth, NULL) !=
            DM_OK ||
        dm_tlog_key_generate("witness.fuzz/w", DM_TLOG_SIG_COSIGNATURE, &sk, &vk) != DM_OK ||
        dm_tlog_signer_parse(sk, strlen(sk), &witness) != DM_OK || !mkdtemp(state))
        abort();
    dm_secret_free(sk);
    free(vk);
    log_key = dm_escrow_authority_log_key(auth, 0);
    return 0;
}

static void expect(int err, int a, int b) {
    if (err != DM_OK && err != a && err != b && err != DM_ERR_NOMEM)
        abort();
}

static void fuzz_checkpoint(const char *text, size_t len) {
    dm_tlog_checkpoint c;
    expect(dm_tlog_checkpoint_open(text, len, log_key, NULL, 0, 0, &c), DM_ERR_USAGE, DM_ERR_LOG);
}

static void fuzz_note(const char *text, size_t len) {
    dm_tlog_note *n = NULL;
    int err = dm_tlog_note_parse(text, len, &n);
    expect(err, DM_ERR_USAGE, DM_ERR_USAGE);
    if (err)
        return;
    if (n->text_len == 0 || n->text[n->text_len - 1] != '\n' || n->n_sigs == 0)
        abort();
    expect(dm_tlog_note_verify(n, log_key, 1, NULL, NULL), DM_ERR_LOG, DM_ERR_LOG);
    dm_tlog_note_free(n);
}

static void fuzz_path(const char *text, size_t len) {
    char path[128], again[64];
    if (len >= sizeof path)
        return;
    memcpy(path, text, len);
    path[len] = '\0';
    int level;
    uint64_t index;
    unsigned width;
    int err = dm_tlog_tile_path_parse(path, &level, &index, &width);
    expect(err, DM_ERR_USAGE, DM_ERR_USAGE);
    if (err)
        return;
    if (dm_tlog_tile_path(level, index, width, again) != DM_OK || strcmp(again, path) != 0)
        abort(); /* one path per tile */
}

static int count_entry(void *ctx, const uint8_t *e, size_t len) {
    (void)e;
    if (len > DM_TLOG_MAX_ENTRY)
        abort();
    (*(size_t *)ctx)++;
    return DM_OK;
}

static void fuzz_bundle(const uint8_t *data, size_t len) {
    if (len < 1)
        return;
    size_t want = data[0], seen = 0;
    int err = dm_tlog_bundle_parse(data + 1, len - 1, want, count_entry, &seen);
    expect(err, DM_ERR_USAGE, DM_ERR_USAGE);
    if (err == DM_OK && seen != want)
        abort();
}

static void fuzz_proof(const char *text, size_t len) {
    dm_tlog_proof p;
    int err = dm_tlog_proof_parse(text, len, &p);
    expect(err, DM_ERR_USAGE, DM_ERR_USAGE);
    if (err)
        return;
    char *again = NULL;
    size_t again_len = 0;
    if (dm_tlog_proof_format(&p, &again, &again_len) != DM_OK)
        abort();
    fuzz_same_bytes(again, again_len, text, len);
    dm_tlog_hash leaf;
    dm_tlog_leaf_hash(p.extra ? p.extra : (const uint8_t *)"", p.extra_len, leaf);
    expect(dm_tlog_proof_verify(&p, leaf, log_key, NULL, 0, 0, NULL), DM_ERR_LOG, DM_ERR_USAGE);
    dm_tlog_proof_clear(&p);
}

static void fuzz_witness(const char *text, size_t len) {
    int status = 0;
    char *resp = NULL;
    size_t resp_len = 0;
    int err = dm_tlog_witness_add_checkpoint(state, witness, log_key, 1, text, len, 1767225600,
                                             &status, &resp, &resp_len);
    if (err != DM_OK && err != DM_ERR_IO && err != DM_ERR_NOMEM)
        abort();
    if (err == DM_OK && status != 200 && status != 400 && status != 403 && status != 404 &&
        status != 409 && status != 422)
        abort();
    free(resp);
    if (err == DM_OK && status == 200) {
        /* Forget what was cosigned, so the next input starts afresh. */
        char path[160];
        snprintf(path, sizeof path, "rm -f %s/*", state);
        if (system(path) != 0)
            abort();
    }
}

static void fuzz_vkey(const char *text, size_t len) {
    dm_tlog_verifier v;
    int err = dm_tlog_verifier_parse(text, len, &v);
    expect(err, DM_ERR_USAGE, DM_ERR_USAGE);
    if (err)
        return;
    char *again = NULL;
    if (dm_tlog_verifier_format(&v, &again) != DM_OK)
        abort();
    fuzz_same_bytes(again, strlen(again), text, len);
}

static void fuzz_tile(const uint8_t *data, size_t len) {
    size_t n = len / DM_TLOG_HASH_LEN;
    if (n < 1 || n > 64)
        return;
    /* The hashes as the leaves of a tree: every proof made verifies. */
    const dm_tlog_hash *leaves = (const dm_tlog_hash *)data;
    dm_tlog_edge e = {0};
    for (size_t i = 0; i < n; i++)
        dm_tlog_edge_append(&e, leaves[i]);
    dm_tlog_hash root;
    dm_tlog_edge_root(&e, root);
    uint64_t index = data[0] % n;
    dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
    size_t np = 0;
    /* A proof read from the tile bytes: verifying it must not crash, and
     * must fail unless it is the real one. */
    np = n - 1 < DM_TLOG_MAX_PROOF ? n - 1 : DM_TLOG_MAX_PROOF;
    memcpy(proof, data, np * DM_TLOG_HASH_LEN);
    expect(dm_tlog_verify_inclusion(index, n, leaves[index], proof, np, root), DM_ERR_LOG,
           DM_ERR_LOG);
    expect(dm_tlog_verify_consistency(index + 1, n, leaves[0], root, proof, np), DM_ERR_LOG,
           DM_ERR_LOG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 8) {
    case 0:
        fuzz_checkpoint(text, len);
        break;
    case 1:
        fuzz_note(text, len);
        break;
    case 2:
        fuzz_path(text, len);
        break;
    case 3:
        fuzz_bundle(data + 1, len);
        break;
    case 4:
        fuzz_proof(text, len);
        break;
    case 5:
        fuzz_witness(text, len);
        break;
    case 6:
        fuzz_vkey(text, len);
        break;
    default:
        fuzz_tile(data + 1, len);
        break;
    }
    return 0;
}
