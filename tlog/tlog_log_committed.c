/* The committed log: witnesses' cosignatures added to its checkpoint, and
 * inclusion and consistency proofs against it (complete subtrees memoised).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlog_log.h"

static int same_key(const dm_tlog_note_sig *a, const dm_tlog_note_sig *b) {
    return a->id == b->id && strcmp(a->name, b->name) == 0;
}

/* Signature i of n is kept unless a later one (of n, or any of also) is
 * from the same key. */
static int superseded(const dm_tlog_note *n, size_t i, const dm_tlog_note *also) {
    for (size_t j = i + 1; j < n->n_sigs; j++)
        if (same_key(&n->sigs[i], &n->sigs[j]))
            return 1;
    for (size_t j = 0; also && j < also->n_sigs; j++)
        if (same_key(&n->sigs[i], &also->sigs[j]))
            return 1;
    return 0;
}

/* The checkpoint keeps one signature per key (name and key id): a witness
 * that cosigns the same checkpoint again (every restart of the agent asks)
 * replaces its line instead of adding one, so the note never grows past what
 * a verifier accepts. A checkpoint that already holds repeated lines (written
 * before this rule) is cleaned by its next cosignature. */
int dm_tlog_log_add_cosignatures(dm_tlog_log *l, const char *lines, size_t len) {
    dm_tlog_note *old = NULL, *add = NULL;
    char *text = NULL;
    int err = dm_tlog_note_parse(l->cp_text, l->cp_len, &old);
    if (!err) {
        size_t n = old->text_len + 1 + len;
        char *joined = malloc(n + 1);
        if (!joined)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        if (!err) {
            memcpy(joined, old->text, old->text_len);
            joined[old->text_len] = '\n';
            memcpy(joined + old->text_len + 1, lines, len);
            joined[n] = '\0';
            err = dm_tlog_note_parse(joined, n, &add);
            free(joined);
        }
    }
    size_t total = 0, kept = 0;
    if (!err) {
        text = malloc(l->cp_len + len + 2);
        if (!text)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    if (!err) {
        memcpy(text, old->text, old->text_len);
        text[old->text_len] = '\n';
        total = old->text_len + 1;
        for (int pass = 0; pass < 2; pass++) {
            const dm_tlog_note *from = pass == 0 ? old : add;
            for (size_t i = 0; i < from->n_sigs; i++) {
                if (superseded(from, i, pass == 0 ? add : NULL))
                    continue;
                memcpy(text + total, from->sigs[i].line, from->sigs[i].line_len);
                total += from->sigs[i].line_len;
                kept++;
            }
        }
        text[total] = '\0';
        if (kept > DM_TLOG_MAX_SIGS)
            err = dm_fail(DM_ERR_USAGE, "more than %d signatures on the checkpoint",
                          DM_TLOG_MAX_SIGS);
    }
    dm_tlog_note_free(old);
    dm_tlog_note_free(add);
    dm_tlog_note *check = NULL;
    if (!err)
        err = dm_tlog_note_parse(text, total, &check);
    dm_tlog_note_free(check);
    int published = 0;
    if (!err)
        err = dm_tlog_dir_publish(l->dir, text, total, &published);
    if (err && !published) {
        free(text);
        return err;
    }
    free(l->cp_text);
    l->cp_text = text;
    l->cp_len = total;
    return err;
}

/* A proof's hashes: from the memo, else from the committed tiles (a reader
 * opened on the first miss). */
typedef struct memo_ctx {
    dm_tlog_log *l;
    dm_tlog_reader *r;
} memo_ctx;

static int memo_hash(void *ctx, unsigned level, uint64_t index, dm_tlog_hash out) {
    memo_ctx *m = ctx;
    dm_tlog_log *l = m->l;
    size_t slot =
        (size_t)(((index ^ ((uint64_t)level << 56)) * UINT64_C(0x9E3779B97F4A7C15)) >> 54) %
        DM_TLOG_MEMO_SLOTS;
    if (l->memo[slot].used && l->memo[slot].level == level && l->memo[slot].index == index) {
        memcpy(out, l->memo[slot].hash, DM_TLOG_HASH_LEN);
        return DM_OK;
    }
    int err =
        m->r == NULL ? dm_tlog_reader_new(dm_tlog_dir_fetcher(l->dir), l->cp.size, &m->r) : DM_OK;
    if (!err)
        err = dm_tlog_reader_hash(m->r, level, index, out);
    if (!err) {
        l->memo[slot].used = 1;
        l->memo[slot].level = level;
        l->memo[slot].index = index;
        memcpy(l->memo[slot].hash, out, DM_TLOG_HASH_LEN);
    }
    return err;
}

static int check_size(const dm_tlog_log *l, uint64_t size) {
    if (size > l->cp.size)
        return dm_fail(DM_ERR_USAGE, "size %" PRIu64 " is beyond the committed %" PRIu64, size,
                       l->cp.size);
    return DM_OK;
}

/* A proof in the tree of size: of inclusion of the entry at index a, or of
 * consistency with the older tree of size a; over the log's hashes. */
static int prove(dm_tlog_log *l, bool inclusion, uint64_t a, uint64_t size, dm_tlog_hash *proof,
                 size_t *n) {
    memo_ctx m = {l, NULL};
    int err = check_size(l, size);
    if (!err)
        err = inclusion ? dm_tlog_prove_inclusion(memo_hash, &m, a, size, proof, n)
                        : dm_tlog_prove_consistency(memo_hash, &m, a, size, proof, n);
    dm_tlog_reader_free(m.r);
    return err;
}

int dm_tlog_log_prove_inclusion(dm_tlog_log *l, uint64_t index, uint64_t size, dm_tlog_hash *proof,
                                size_t *n) {
    return prove(l, true, index, size, proof, n);
}

int dm_tlog_log_prove_consistency(dm_tlog_log *l, uint64_t size1, uint64_t size2,
                                  dm_tlog_hash *proof, size_t *n) {
    return prove(l, false, size1, size2, proof, n);
}
