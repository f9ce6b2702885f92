/* substitution: PGP's Additional Decryption Key flaw, today. PGP 5.5.x to
 * 6.5.3 honoured ADKs placed in the unsigned part of a public key, so anyone
 * could add a decryption key to someone else's key (Ralf Senderek, August
 * 2000; CERT VU#747124, October 2000). Here the sender's authority.pub is
 * swapped -- as a tampered update or configuration would do -- for one with
 * the same name, the same agents and the same threshold, whose agents are the
 * attacker's. The lab counts the files the attacker then opens without any
 * warrant, which clients notice, and what pinning the authority's id does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lab_internal.h"

const char *const dm_lab_subst_names[DM_LAB_SUBST_N_RECEIVERS] = {
    "plain", "compliant-swapped", "compliant-genuine", "pinned-sender", "logged-sender"};

static const char *const agents[] = {"doj", "court", "vendor"};

int dm_lab_authority_pinned(const dm_escrow_authority *auth, const char *pinned_hex) {
    const char *id = dm_escrow_authority_id_hex(auth);
    if (strlen(pinned_hex) != strlen(id) || sodium_memcmp(id, pinned_hex, strlen(id)) != 0)
        return dm_fail(DM_ERR_POLICY, "authority %s has id %s, the pinned id is %s",
                       dm_escrow_authority_name(auth), id, pinned_hex);
    return DM_OK;
}

int dm_lab_authority_published(const char *auth_text, size_t auth_len, const char *receipt,
                               size_t receipt_len, const dm_tlog_verifier *log_key,
                               const dm_tlog_verifier *witness) {
    dm_tlog_proof p = {0};
    int err = dm_tlog_proof_parse(receipt, receipt_len, &p);
    if (!err) {
        dm_tlog_hash leaf;
        dm_tlog_leaf_hash((const uint8_t *)auth_text, auth_len, leaf);
        err = dm_tlog_proof_verify(&p, leaf, log_key, witness, 1, 1, NULL);
    }
    dm_tlog_proof_clear(&p);
    return err;
}

/* The genuine authority.pub published: the only entry of a tiled log, whose
 * checkpoint a witness cosigns, and its receipt. */
typedef struct publication {
    dm_tlog_signer *log, *witness;
    char *receipt;
    size_t receipt_len;
} publication;

static void publication_free(publication *p) {
    dm_tlog_signer_free(p->log);
    dm_tlog_signer_free(p->witness);
    free(p->receipt);
}

static int keypair(const char *dir, const char *name, uint8_t type, const char *file,
                   dm_tlog_signer **out) {
    char *skey = NULL, *vkey = NULL;
    int err = dm_tlog_key_generate(name, type, &skey, &vkey);
    if (!err)
        err = dm_tlog_signer_parse(skey, strlen(skey), out);
    if (!err) {
        size_t n = strlen(vkey);
        vkey[n] = '\n'; /* the terminator's place: written, not read back */
        err = dm_lab_write(dir, file, vkey, n + 1, 0644);
        vkey[n] = '\0';
    }
    dm_secret_free(skey);
    free(vkey);
    return err;
}

static int publish(const char *dir, const char *text, size_t len, publication *p) {
    char path[4096];
    dm_tlog_log *l = NULL;
    dm_tlog_note *note = NULL;
    char *line = NULL;
    size_t line_len = 0;
    dm_tlog_proof proof = {0};
    uint64_t index = 0;
    int err = keypair(dir, "authorities.example/log", DM_TLOG_SIG_ED25519, "log.vkey", &p->log);
    if (!err)
        err = keypair(dir, "witness.example", DM_TLOG_SIG_COSIGNATURE, "witness.vkey", &p->witness);
    if (!err)
        err = dm_lab_path(path, sizeof path, dir, "publication-log");
    if (!err)
        err = dm_lab_mkdir(dir, "publication-log");
    if (!err)
        err = dm_tlog_log_create(path, p->log);
    if (!err)
        err = dm_tlog_log_open(path, p->log, &l);
    if (!err)
        err = dm_tlog_log_append(l, (const uint8_t *)text, len, &index);
    if (!err)
        err = dm_tlog_log_commit(l);
    /* The witness cosigns the checkpoint it is shown. */
    if (!err) {
        const char *cp = dm_tlog_log_checkpoint(l);
        err = dm_tlog_note_parse(cp, strlen(cp), &note);
    }
    if (!err)
        err = dm_tlog_cosign(note->text, note->text_len, p->witness, (uint64_t)time(NULL), &line,
                             &line_len);
    if (!err)
        err = dm_tlog_log_add_cosignatures(l, line, line_len);
    if (!err) {
        proof.index = index;
        err = dm_tlog_log_prove_inclusion(l, index, dm_tlog_log_size(l), proof.path, &proof.n);
    }
    if (!err) {
        proof.checkpoint = strdup(dm_tlog_log_checkpoint(l));
        proof.checkpoint_len = proof.checkpoint ? strlen(proof.checkpoint) : 0;
        if (!proof.checkpoint)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    if (!err)
        err = dm_tlog_proof_format(&proof, &p->receipt, &p->receipt_len);
    if (!err)
        err = dm_lab_write(dir, "genuine/authority.proof", p->receipt, p->receipt_len, 0644);
    dm_tlog_proof_clear(&proof);
    free(line);
    dm_tlog_note_free(note);
    dm_tlog_log_free(l);
    return err;
}

typedef struct side {
    dm_escrow_authority *auth;
    dm_escrow_agent_key **keys;
    dm_escrow_court_key *court;
} side;

static void side_free(side *s) {
    for (size_t i = 0; s->keys && i < dm_escrow_authority_agents(s->auth); i++)
        dm_escrow_agent_key_free(s->keys[i]);
    free(s->keys);
    dm_escrow_court_key_free(s->court);
    dm_escrow_authority_free(s->auth);
}

/* The keys of two agents, straight on the file: no warrant, no log. */
static int agents_open(const side *s, const dm_membuf *file, const char *msg, bool *opened) {
    dm_escrow_agent_key *two[2] = {s->keys[0], s->keys[2]};
    return dm_lab_keys_open(s->auth, two, 2, file, (const uint8_t *)msg, strlen(msg), opened);
}

static bool same_face(const dm_escrow_authority *a, const dm_escrow_authority *b) {
    if (strcmp(dm_escrow_authority_name(a), dm_escrow_authority_name(b)) != 0 ||
        dm_escrow_authority_threshold(a) != dm_escrow_authority_threshold(b) ||
        dm_escrow_authority_agents(a) != dm_escrow_authority_agents(b))
        return false;
    for (size_t i = 0; i < dm_escrow_authority_agents(a); i++)
        if (strcmp(dm_escrow_authority_agent_name(a, i), dm_escrow_authority_agent_name(b, i)) != 0)
            return false;
    return true;
}

int dm_lab_subst(const dm_lab_subst_opts *o, dm_lab_subst_result *r) {
    memset(r, 0, sizeof *r);
    if (o->files < 1 || o->files > 100000)
        return dm_fail(DM_ERR_USAGE, "substitution wants 1 to 100000 files");
    side genuine = {0}, attacker = {0};
    dm_escrow_authority *swapped = NULL;
    char *sk = NULL, *pk = NULL, *text = NULL;
    size_t text_len = 0;
    dm_recipient *rc = NULL;
    dm_identity *id = NULL;
    char path[4096];
    int err =
        dm_escrow_authority_new("FBI", agents, 3, 2, &genuine.auth, &genuine.keys, &genuine.court);
    if (!err)
        err = dm_escrow_authority_new("FBI", agents, 3, 2, &attacker.auth, &attacker.keys,
                                      &attacker.court);
    if (!err)
        err = dm_lab_path(path, sizeof path, o->dir, "genuine");
    if (!err)
        err = dm_escrow_authority_write_dir(path, genuine.auth, genuine.keys, genuine.court);
    if (!err)
        err = dm_lab_path(path, sizeof path, o->dir, "attacker");
    if (!err)
        err = dm_escrow_authority_write_dir(path, attacker.auth, attacker.keys, attacker.court);
    /* The genuine authority, published in a witnessed log. */
    publication pub = {0};
    char *gtext = NULL;
    size_t gtext_len = 0;
    if (!err)
        err = dm_escrow_authority_format(genuine.auth, &gtext, &gtext_len);
    if (!err)
        err = publish(o->dir, gtext, gtext_len, &pub);
    if (!err)
        r->genuine_in_log =
            dm_lab_authority_published(gtext, gtext_len, pub.receipt, pub.receipt_len,
                                       dm_tlog_signer_verifier(pub.log),
                                       dm_tlog_signer_verifier(pub.witness)) == DM_OK;
    /* The tampered update: the attacker's authority.pub where the sender's
     * software looks for the authority. */
    if (!err)
        err = dm_escrow_authority_format(attacker.auth, &text, &text_len);
    if (!err)
        err = dm_lab_write(o->dir, "swapped.pub", text, text_len, 0644);
    if (!err)
        err = dm_lab_path(path, sizeof path, o->dir, "swapped.pub");
    if (!err)
        err = dm_escrow_authority_load(path, &swapped);
    if (!err) {
        r->same_name = same_face(swapped, genuine.auth);
        snprintf(r->genuine_id, sizeof r->genuine_id, "%s",
                 dm_escrow_authority_id_hex(genuine.auth));
        snprintf(r->swapped_id, sizeof r->swapped_id, "%s", dm_escrow_authority_id_hex(swapped));
    }
    if (!err)
        err = dm_lab_key_pair(o->dir, "receiver.key", &sk, &pk, &rc, &id);
    if (!err)
        err = dm_lab_mkdir(o->dir, "files");
    dm_escrow_policy genuine_check = {.auth = genuine.auth}, swapped_check = {.auth = swapped};
    for (unsigned f = 0; f < o->files && !err; f++) {
        char msg[96], name[64];
        snprintf(msg, sizeof msg, "Draft %u of the quarterly figures, not for release.\n", f + 1);
        dm_membuf file = {0};
        err = dm_lab_encrypt(&rc, 1, swapped, NULL, (const uint8_t *)msg, strlen(msg), &file);
        r->files += !err;
        snprintf(name, sizeof name, "files/message-%04u.age", f + 1);
        if (!err)
            err = dm_lab_write(o->dir, name, file.buf, file.len, 0644);
        if (!err && f == 0)
            err = dm_lab_write(o->dir, "message-0001.txt", msg, strlen(msg), 0644);
        bool opened = false;
        double t0 = dm_lab_now();
        if (!err)
            err = agents_open(&attacker, &file, msg, &opened);
        r->attacker_seconds += dm_lab_now() - t0;
        r->attacker_opened += opened;
        if (!err)
            err = agents_open(&genuine, &file, msg, &opened);
        r->genuine_opened += opened;
        /* The receivers. */
        const dm_escrow_policy *pols[3] = {NULL, &swapped_check, &genuine_check};
        for (int k = 0; k < 3 && !err; k++) {
            uint8_t *plain = NULL;
            size_t plen = 0;
            int e = dm_lab_decrypt(file.buf, file.len, id, pols[k], &plain, &plen, NULL);
            if (e == DM_OK && dm_lab_same(plain, plen, (const uint8_t *)msg, strlen(msg)))
                r->accepted[k]++;
            else if (e == DM_ERR_POLICY)
                r->refused[k]++;
            else
                err = e ? e : dm_fail(DM_ERR_INTERNAL, "a file decrypted to something else");
            free(plain);
        }
        /* The defence: a sender whose client pins the genuine authority's id
         * refuses the swapped one before anything is encrypted. */
        if (!err) {
            int e = dm_lab_authority_pinned(swapped, r->genuine_id);
            if (e == DM_ERR_POLICY)
                r->refused[DM_LAB_SUBST_PINNED_SENDER]++;
            else if (e == DM_OK)
                r->accepted[DM_LAB_SUBST_PINNED_SENDER]++;
            else
                err = e;
        }
        /* Or one that wants the authority file it was given in the log: the
         * swapped file, shown with the genuine one's receipt (the only one
         * there is), is not the entry the receipt proves. */
        if (!err) {
            int e = dm_lab_authority_published(text, text_len, pub.receipt, pub.receipt_len,
                                               dm_tlog_signer_verifier(pub.log),
                                               dm_tlog_signer_verifier(pub.witness));
            if (e == DM_ERR_LOG)
                r->refused[DM_LAB_SUBST_LOGGED_SENDER]++;
            else if (e == DM_OK)
                r->accepted[DM_LAB_SUBST_LOGGED_SENDER]++;
            else
                err = e;
        }
        free(file.buf);
    }
    /* A pinned sender sends nothing the attacker could open. */
    r->pinned_exposed = r->accepted[DM_LAB_SUBST_PINNED_SENDER];
    r->logged_exposed = r->accepted[DM_LAB_SUBST_LOGGED_SENDER];
    const size_t n = o->files;
    if (!err &&
        !(r->same_name && r->attacker_opened == n && r->genuine_opened == 0 &&
          r->accepted[DM_LAB_SUBST_PLAIN] == n && r->accepted[DM_LAB_SUBST_SWAPPED_CHECK] == n &&
          r->refused[DM_LAB_SUBST_GENUINE_CHECK] == n &&
          r->refused[DM_LAB_SUBST_PINNED_SENDER] == n && r->pinned_exposed == 0 &&
          dm_lab_authority_pinned(genuine.auth, r->genuine_id) == DM_OK))
        err = dm_fail(DM_ERR_INTERNAL, "the substitution lab's outcomes are not what it claims");
    free(text);
    free(gtext);
    publication_free(&pub);
    dm_identity_free(id);
    dm_recipient_free(rc);
    dm_secret_free(sk);
    free(pk);
    dm_escrow_authority_free(swapped);
    side_free(&attacker);
    side_free(&genuine);
    return err;
}
