/* The ssh-ed25519 recipient type (age's agessh): an Ed25519 SSH key used as
 * an X25519 key through the birational map, with a tweak bound to the SSH
 * public key, and a 4-byte key tag in the stanza:
 *
 *   -> ssh-ed25519 TAG SHARE
 *   tweak     = HKDF-SHA-256(ikm = "", salt = SSH public key, info = LABEL)
 *   shared    = X25519(tweak, X25519(ephemeral, their X25519 key))
 *   wrap key  = HKDF-SHA-256(ikm = shared, salt = SHARE || their X25519 key, info = LABEL)
 *   body      = ChaCha20-Poly1305(wrap key, zero nonce, file key)
 *
 * with LABEL "age-encryption.org/v1/ssh-ed25519" and TAG the base64 of the
 * first 4 bytes of SHA-256 of the SSH public key in wire format. The map
 * and the arithmetic are libsodium's. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ssh.h"

#define LABEL "age-encryption.org/v1/ssh-ed25519"
#define BODY_LEN (DM_FILE_KEY_LEN + DM_TAG_LEN)

static const uint8_t zero_nonce[12];

typedef struct ed_key {
    char tag[DM_SSH_TAG_B64_LEN + 1];
    uint8_t *blob; /* SSH public key, wire format */
    size_t blob_len;
    uint8_t x25519_public[32];
} ed_key;

static int ed_key_init(ed_key *k, const dm_ssh_public *pub) {
    if (crypto_sign_ed25519_pk_to_curve25519(k->x25519_public, pub->ed25519) != 0)
        return dm_fail(DM_ERR_USAGE, "ssh-ed25519 public key is not a usable point");
    if ((k->blob = malloc(pub->blob_len)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "ssh-ed25519 key");
    memcpy(k->blob, pub->blob, pub->blob_len);
    k->blob_len = pub->blob_len;
    return dm_ssh_tag(pub->blob, pub->blob_len, k->tag);
}

/* shared = X25519(tweak, shared), then the wrap key; scratch is guarded. */
static int derive(const ed_key *k, uint8_t shared[32], const uint8_t share[32],
                  uint8_t wrap_key[32], uint8_t tweak[32]) {
    static const uint8_t no_ikm[1];
    uint8_t salt[64];
    int err = dm_hkdf_sha256(no_ikm, 0, k->blob, k->blob_len, LABEL, sizeof LABEL - 1, tweak, 32);
    if (err != DM_OK)
        return err;
    uint8_t tweaked[32];
    if (crypto_scalarmult(tweaked, tweak, shared) != 0)
        return dm_fail(DM_ERR_HEADER, "ssh-ed25519 share is a low-order point");
    memcpy(shared, tweaked, 32);
    sodium_memzero(tweaked, sizeof tweaked);
    memcpy(salt, share, 32);
    memcpy(salt + 32, k->x25519_public, 32);
    return dm_hkdf_sha256(shared, 32, salt, sizeof salt, LABEL, sizeof LABEL - 1, wrap_key, 32);
}

/* ------------------------------------------------------------ recipient */

static int ed_wrap(const dm_recipient *self, const uint8_t file_key[DM_FILE_KEY_LEN],
                   dm_stanza_list *out) {
    const ed_key *k = self->ctx;
    uint8_t *scratch = dm_secret_alloc(4 * 32); /* ephemeral, shared, tweak, wrap key */
    if (scratch == NULL)
        return dm_fail(DM_ERR_NOMEM, "ssh-ed25519 wrap");
    uint8_t *eph = scratch, *shared = scratch + 32, *tweak = scratch + 64, *wrap_key = scratch + 96;
    uint8_t share[32], body[BODY_LEN];
    char share_b64[64];
    int err = DM_OK;
    randombytes_buf(eph, 32);
    if (crypto_scalarmult_base(share, eph) != 0 ||
        crypto_scalarmult(shared, eph, k->x25519_public) != 0)
        err = dm_fail(DM_ERR_USAGE, "ssh-ed25519 recipient is a low-order point");
    if (err == DM_OK)
        err = derive(k, shared, share, wrap_key, tweak);
    if (err == DM_OK)
        err = dm_aead_seal(wrap_key, zero_nonce, file_key, DM_FILE_KEY_LEN, body);
    if (err == DM_OK)
        err = dm_b64_encode(share, sizeof share, share_b64, sizeof share_b64);
    if (err == DM_OK) {
        const char *args[2] = {k->tag, share_b64};
        err = dm_stanza_list_add(out, DM_SSH_ED25519, args, 2, body, sizeof body);
    }
    dm_secret_free(scratch);
    return err;
}

static void ed_key_free(ed_key *k) {
    if (k != NULL)
        free(k->blob);
    free(k);
}

static void ed_recipient_destroy(dm_recipient *self) {
    ed_key_free(self->ctx);
    self->ctx = NULL;
}

static const dm_recipient ed_recipient_kind = {
    .type = DM_SSH_ED25519, .wrap = ed_wrap, .destroy = ed_recipient_destroy};

int dm_ssh_ed25519_recipient_new(const dm_ssh_public *pub, dm_recipient **out) {
    ed_key *k = calloc(1, sizeof *k);
    if (k == NULL)
        return dm_fail(DM_ERR_NOMEM, "ssh-ed25519 recipient");
    int err = ed_key_init(k, pub);
    if (err != DM_OK) {
        ed_key_free(k);
        return err;
    }
    return dm_recipient_make(&ed_recipient_kind, k, "ssh-ed25519 recipient", out);
}

/* ------------------------------------------------------------- identity */

typedef struct ed_identity {
    ed_key key;
    uint8_t *secret; /* guarded: the X25519 scalar, NULL until opened */
    dm_ssh_pending *pending;
} ed_identity;

static int ed_open(ed_identity *id) {
    dm_ssh_private priv;
    int err = dm_ssh_pending_open_key(id->pending, id->key.blob, id->key.blob_len, &priv);
    if (err != DM_OK)
        return err;
    if ((id->secret = dm_secret_alloc(32)) == NULL)
        err = dm_fail(DM_ERR_NOMEM, "ssh-ed25519 identity");
    if (err == DM_OK && crypto_sign_ed25519_sk_to_curve25519(id->secret, priv.secret) != 0)
        err = dm_fail(DM_ERR_USAGE, "ssh-ed25519 private key is unusable");
    dm_ssh_private_free(&priv);
    if (err == DM_OK) {
        dm_ssh_pending_free(id->pending);
        id->pending = NULL;
    }
    return err;
}

static const dm_stanza_shape ed_shape = {
    .nargs = 2,
    .arg_len = {DM_SSH_TAG_LEN, 32},
    .bad_args = "ssh-ed25519 stanza arguments are not a 4-byte tag and a 32-byte share in "
                "canonical base64",
    .body_len = BODY_LEN,
};

static int ed_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                     uint8_t file_key[DM_FILE_KEY_LEN]) {
    ed_identity *id = self->ctx;
    int err = DM_ERR_NO_MATCH;
    uint8_t *scratch = NULL;
    for (size_t i = 0; i < stanzas->len; i++) {
        const dm_stanza *st = &stanzas->items[i];
        if (strcmp(st->type, DM_SSH_ED25519) != 0)
            continue;
        uint8_t tag[DM_SSH_TAG_LEN], share[32];
        if (!dm_stanza_fits(&ed_shape, st, (uint8_t *const[]){tag, share})) {
            err = DM_ERR_HEADER;
            break;
        }
        if (strcmp(st->args[0], id->key.tag) != 0)
            continue;
        if (id->secret == NULL && (err = ed_open(id)) != DM_OK)
            break;
        if (scratch == NULL && (scratch = dm_secret_alloc(3 * 32)) == NULL) {
            err = dm_fail(DM_ERR_NOMEM, "ssh-ed25519 unwrap");
            break;
        }
        uint8_t *shared = scratch, *tweak = scratch + 32, *wrap_key = scratch + 64;
        if (crypto_scalarmult(shared, id->secret, share) != 0) {
            err = dm_fail(DM_ERR_HEADER, "ssh-ed25519 share is a low-order point");
            break;
        }
        if ((err = derive(&id->key, shared, share, wrap_key, tweak)) != DM_OK)
            break;
        /* A 4-byte tag can collide: a stanza that doesn't open is someone else's. */
        if ((err = dm_stanza_body_open(wrap_key, zero_nonce, st, file_key)) != DM_ERR_NO_MATCH)
            break;
    }
    dm_secret_free(scratch);
    if (err == DM_ERR_NO_MATCH)
        dm_fail(err, NULL);
    return err;
}

static void ed_identity_free(ed_identity *id) {
    if (id != NULL) {
        free(id->key.blob);
        dm_secret_free(id->secret);
        dm_ssh_pending_free(id->pending);
    }
    free(id);
}

static void ed_identity_destroy(dm_identity *self) {
    ed_identity_free(self->ctx);
    self->ctx = NULL;
}

static const dm_identity ed_identity_kind = {.unwrap = ed_unwrap, .destroy = ed_identity_destroy};

int dm_ssh_ed25519_identity_new(dm_ssh_private *priv, dm_ssh_pending *pending, dm_identity **out) {
    ed_identity *id = calloc(1, sizeof *id);
    int err = id ? DM_OK : dm_fail(DM_ERR_NOMEM, "ssh-ed25519 identity");
    if (err == DM_OK)
        err = ed_key_init(&id->key, &priv->pub);
    if (err == DM_OK && pending == NULL) {
        if ((id->secret = dm_secret_alloc(32)) == NULL)
            err = dm_fail(DM_ERR_NOMEM, "ssh-ed25519 identity");
        else if (priv->secret == NULL ||
                 crypto_sign_ed25519_sk_to_curve25519(id->secret, priv->secret) != 0)
            err = dm_fail(DM_ERR_USAGE, "ssh-ed25519 private key is unusable");
    }
    dm_ssh_private_free(priv);
    if (err != DM_OK) {
        ed_identity_free(id);
        dm_ssh_pending_free(pending);
        return err;
    }
    id->pending = pending;
    return dm_identity_make(&ed_identity_kind, id, "ssh-ed25519 identity", out);
}
