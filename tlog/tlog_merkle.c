/* The RFC 6962 Merkle tree: hashing, the right edge, proofs (RFC 9162 2.1).
 *
 * The only hand-written arithmetic is the tree's index bookkeeping; SHA-256
 * is libsodium's. Proof generation reads stored subtree hashes through a
 * callback, so the same code serves a directory of tiles, an HTTPS mirror or
 * an in-memory test tree. */
#include <string.h>

#include <sodium.h>

#include "tlog_internal.h"

void dm_tlog_leaf_hash(const uint8_t *entry, size_t len, dm_tlog_hash out) {
    crypto_hash_sha256_state st;
    static const uint8_t zero = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, entry, len);
    crypto_hash_sha256_final(&st, out);
}

void dm_tlog_node_hash(const dm_tlog_hash left, const dm_tlog_hash right, dm_tlog_hash out) {
    uint8_t buf[1 + 2 * DM_TLOG_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, DM_TLOG_HASH_LEN);
    memcpy(buf + 1 + DM_TLOG_HASH_LEN, right, DM_TLOG_HASH_LEN);
    crypto_hash_sha256(out, buf, sizeof buf);
}

void dm_tlog_empty_root(dm_tlog_hash out) {
    crypto_hash_sha256(out, NULL, 0);
}

static int same_hash(const dm_tlog_hash a, const dm_tlog_hash b) {
    return sodium_memcmp(a, b, DM_TLOG_HASH_LEN) == 0;
}

/* ------------------------------------------------------------ verification */

/* One step of RFC 9162's proof walks (2.1.3.2 and 2.1.4.2): the proof hash p
 * goes on the left of the running hash r (and of old, when given) while fn is
 * a right child or the last node of its level, else on the right of r alone. */
static void proof_step(const dm_tlog_hash p, uint64_t *fn, uint64_t *sn, dm_tlog_hash old,
                       dm_tlog_hash r) {
    if ((*fn & 1) || *fn == *sn) {
        if (old != NULL)
            dm_tlog_node_hash(p, old, old);
        dm_tlog_node_hash(p, r, r);
        while (!(*fn & 1) && *fn != 0) {
            *fn >>= 1;
            *sn >>= 1;
        }
    } else {
        dm_tlog_node_hash(r, p, r);
    }
    *fn >>= 1;
    *sn >>= 1;
}

/* Folds proof[from..n) into r (and old, when not NULL) from node (fn, sn):
 * the proof must end exactly at the root. what names it in errors. */
static int run_proof(const char *what, const dm_tlog_hash *proof, size_t from, size_t n,
                     uint64_t fn, uint64_t sn, dm_tlog_hash old, dm_tlog_hash r) {
    for (size_t i = from; i < n; i++) {
        if (sn == 0)
            return dm_fail(DM_ERR_LOG, "%s proof: too many hashes (%zu)", what, n);
        proof_step(proof[i], &fn, &sn, old, r);
    }
    if (sn != 0)
        return dm_fail(DM_ERR_LOG, "%s proof: too few hashes (%zu)", what, n);
    return DM_OK;
}

int dm_tlog_verify_inclusion(uint64_t index, uint64_t size, const dm_tlog_hash leaf,
                             const dm_tlog_hash *proof, size_t n, const dm_tlog_hash root) {
    if (index >= size)
        return dm_fail(DM_ERR_LOG, "inclusion proof: index %llu is not below the tree size %llu",
                       (unsigned long long)index, (unsigned long long)size);
    uint64_t fn = index, sn = size - 1;
    dm_tlog_hash r;
    memcpy(r, leaf, DM_TLOG_HASH_LEN);
    int err = run_proof("inclusion", proof, 0, n, fn, sn, NULL, r);
    if (err != DM_OK)
        return err;
    if (!same_hash(r, root))
        return dm_fail(DM_ERR_LOG, "inclusion proof: the entry is not in the tree with this root");
    return DM_OK;
}

int dm_tlog_verify_consistency(uint64_t size1, uint64_t size2, const dm_tlog_hash root1,
                               const dm_tlog_hash root2, const dm_tlog_hash *proof, size_t n) {
    if (size2 < size1)
        return dm_fail(DM_ERR_LOG, "consistency proof: the tree shrank from %llu to %llu",
                       (unsigned long long)size1, (unsigned long long)size2);
    /* RFC 9162 defines proofs for 0 < size1 <= size2; every tree extends the
     * empty one, so a "proof" from it proves nothing and is refused (a
     * caller with no earlier tree has nothing to check). */
    if (size1 == 0)
        return dm_fail(DM_ERR_LOG, "consistency proof: from the empty tree, meaningless");
    if (size1 == size2) {
        if (n != 0)
            return dm_fail(DM_ERR_LOG, "consistency proof: not empty for equal sizes");
        if (!same_hash(root1, root2))
            return dm_fail(DM_ERR_LOG, "two different roots for the same tree size %llu",
                           (unsigned long long)size1);
        return DM_OK;
    }
    if (n == 0)
        return dm_fail(DM_ERR_LOG, "consistency proof: empty");
    /* RFC 9162 2.1.4.2, with the old root standing first when size1 is a
     * power of two (it is then a node of the new tree). */
    size_t start = 0;
    const dm_tlog_hash *first;
    if ((size1 & (size1 - 1)) == 0) {
        first = (const dm_tlog_hash *)root1;
    } else {
        first = &proof[0];
        start = 1;
    }
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    dm_tlog_hash fr, sr;
    memcpy(fr, *first, DM_TLOG_HASH_LEN);
    memcpy(sr, *first, DM_TLOG_HASH_LEN);
    int err = run_proof("consistency", proof, start, n, fn, sn, fr, sr);
    if (err != DM_OK)
        return err;
    if (!same_hash(fr, root1))
        return dm_fail(DM_ERR_LOG, "consistency proof: the old tree (size %llu) is not a prefix",
                       (unsigned long long)size1);
    if (!same_hash(sr, root2))
        return dm_fail(DM_ERR_LOG, "consistency proof: does not lead to the new root (size %llu)",
                       (unsigned long long)size2);
    return DM_OK;
}

int dm_tlog_verify_consistency_bytes(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                     size_t root1_len, const uint8_t *root2, size_t root2_len,
                                     const dm_tlog_hash *proof, size_t n) {
    if (root1_len == DM_TLOG_HASH_LEN && root2_len == DM_TLOG_HASH_LEN)
        return dm_tlog_verify_consistency(size1, size2, root1, root2, proof, n);
    if (size1 > 0 && size1 == size2 && n == 0 && root1_len == root2_len && root1_len > 0 &&
        sodium_memcmp(root1, root2, root1_len) == 0)
        return DM_OK;
    return dm_fail(DM_ERR_LOG, "consistency proof: a root that is not a 32-byte hash");
}

/* -------------------------------------------------------------- generation */

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n) {
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static unsigned log2_exact(uint64_t n) {
    unsigned h = 0;
    while ((UINT64_C(1) << h) < n)
        h++;
    return h;
}

/* MTH(D[a:b]) from stored complete subtrees. */
static int range_hash(dm_tlog_hash_fn fn, void *ctx, uint64_t a, uint64_t b, dm_tlog_hash out) {
    uint64_t n = b - a;
    if ((n & (n - 1)) == 0 && (a & (n - 1)) == 0) {
        unsigned h = log2_exact(n);
        return fn(ctx, h, a >> h, out);
    }
    uint64_t k = split_point(n);
    dm_tlog_hash l, r;
    int err = range_hash(fn, ctx, a, a + k, l);
    if (!err)
        err = range_hash(fn, ctx, a + k, b, r);
    if (!err)
        dm_tlog_node_hash(l, r, out);
    return err;
}

int dm_tlog_tree_hash(dm_tlog_hash_fn fn, void *ctx, uint64_t size, dm_tlog_hash root) {
    if (size == 0) {
        dm_tlog_empty_root(root);
        return DM_OK;
    }
    return range_hash(fn, ctx, 0, size, root);
}

/* Appends h to the proof of *n hashes once err, the hash's own outcome, is DM_OK. */
static int proof_append(int err, const dm_tlog_hash h, dm_tlog_hash *proof, size_t *n) {
    if (err)
        return err;
    if (*n >= DM_TLOG_MAX_PROOF)
        return dm_fail(DM_ERR_INTERNAL, "proof longer than %d hashes", DM_TLOG_MAX_PROOF);
    memcpy(proof[(*n)++], h, DM_TLOG_HASH_LEN);
    return DM_OK;
}

/* PATH(m, D[a:b]), appended bottom-up: the recursion records the deeper
 * hashes first because it descends before pushing. */
static int path(dm_tlog_hash_fn fn, void *ctx, uint64_t m, uint64_t a, uint64_t b,
                dm_tlog_hash *proof, size_t *n) {
    if (b - a <= 1)
        return DM_OK;
    uint64_t k = split_point(b - a);
    int err;
    dm_tlog_hash h;
    if (m < k) {
        err = path(fn, ctx, m, a, a + k, proof, n);
        if (!err)
            err = range_hash(fn, ctx, a + k, b, h);
    } else {
        err = path(fn, ctx, m - k, a + k, b, proof, n);
        if (!err)
            err = range_hash(fn, ctx, a, a + k, h);
    }
    return proof_append(err, h, proof, n);
}

int dm_tlog_prove_inclusion(dm_tlog_hash_fn fn, void *ctx, uint64_t index, uint64_t size,
                            dm_tlog_hash *proof, size_t *n) {
    *n = 0;
    if (index >= size)
        return dm_fail(DM_ERR_USAGE, "no entry %llu in a tree of %llu", (unsigned long long)index,
                       (unsigned long long)size);
    return path(fn, ctx, index, 0, size, proof, n);
}

/* SUBPROOF(m, D[a:b], complete). */
static int subproof(dm_tlog_hash_fn fn, void *ctx, uint64_t m, uint64_t a, uint64_t b, int complete,
                    dm_tlog_hash *proof, size_t *n) {
    dm_tlog_hash h;
    int err;
    if (m == b - a) {
        if (complete)
            return DM_OK;
        err = range_hash(fn, ctx, a, b, h);
    } else {
        uint64_t k = split_point(b - a);
        if (m <= k) {
            err = subproof(fn, ctx, m, a, a + k, complete, proof, n);
            if (!err)
                err = range_hash(fn, ctx, a + k, b, h);
        } else {
            err = subproof(fn, ctx, m - k, a + k, b, 0, proof, n);
            if (!err)
                err = range_hash(fn, ctx, a, a + k, h);
        }
    }
    return proof_append(err, h, proof, n);
}

int dm_tlog_prove_consistency(dm_tlog_hash_fn fn, void *ctx, uint64_t size1, uint64_t size2,
                              dm_tlog_hash *proof, size_t *n) {
    *n = 0;
    if (size1 > size2)
        return dm_fail(DM_ERR_USAGE, "no consistency proof from %llu down to %llu",
                       (unsigned long long)size1, (unsigned long long)size2);
    if (size1 == 0 || size1 == size2)
        return DM_OK;
    return subproof(fn, ctx, size1, 0, size2, 1, proof, n);
}

/* ------------------------------------------------------------- right edge */

void dm_tlog_edge_append(dm_tlog_edge *e, const dm_tlog_hash leaf) {
    dm_tlog_hash h;
    memcpy(h, leaf, DM_TLOG_HASH_LEN);
    unsigned level = 0;
    while (e->size >> level & 1) {
        dm_tlog_node_hash(e->at[level], h, h);
        level++;
    }
    memcpy(e->at[level], h, DM_TLOG_HASH_LEN);
    e->size++;
}

void dm_tlog_edge_root(const dm_tlog_edge *e, dm_tlog_hash root) {
    if (e->size == 0) {
        dm_tlog_empty_root(root);
        return;
    }
    unsigned level = 0;
    while (!(e->size >> level & 1))
        level++;
    dm_tlog_hash r;
    memcpy(r, e->at[level], DM_TLOG_HASH_LEN);
    for (level++; level < 64; level++)
        if (e->size >> level & 1)
            dm_tlog_node_hash(e->at[level], r, r);
    memcpy(root, r, DM_TLOG_HASH_LEN);
}

int dm_tlog_edge_load(dm_tlog_edge *e, dm_tlog_hash_fn fn, void *ctx, uint64_t size) {
    memset(e, 0, sizeof *e);
    uint64_t start = 0;
    for (int level = 63; level >= 0; level--) {
        if (!(size >> level & 1))
            continue;
        int err = fn(ctx, (unsigned)level, start >> level, e->at[level]);
        if (err)
            return err;
        start += UINT64_C(1) << level;
    }
    e->size = size;
    return DM_OK;
}

/* ----------------------------------------------------------------- base64 */

int dm_tlog_hash_decode(const char *b64, size_t len, dm_tlog_hash out) {
    size_t got = 0;
    const char *end = NULL;
    if (len != 44 || !dm_tlog_b64_chars(b64, len) ||
        sodium_base642bin(out, DM_TLOG_HASH_LEN, b64, len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != DM_TLOG_HASH_LEN || end != b64 + len)
        return dm_fail(DM_ERR_USAGE, "a hash must be 32 bytes of padded base64");
    return DM_OK;
}

void dm_tlog_hash_encode(const dm_tlog_hash h, char out[45]) {
    sodium_bin2base64(out, 45, h, DM_TLOG_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
}
