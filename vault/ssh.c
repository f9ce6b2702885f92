/* The front door of the SSH recipient types: a public key line or a private
 * key file, read with ssh_common.c's helpers, handed to the type that names
 * it (ssh_ed25519.c, ssh_rsa.c) through one table. The types and the shared
 * helpers never call back here: nothing in vault/ssh_* makes a circle. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ssh.h"

/* The SSH key types the vault supports, and their constructors. */
typedef struct ssh_type {
    const char *name;
    int (*recipient_new)(const dm_ssh_public *pub, dm_recipient **out);
    int (*identity_new)(dm_ssh_private *priv, dm_ssh_pending *pending, dm_identity **out);
} ssh_type;

static const ssh_type key_types[] = {
    {DM_SSH_ED25519, dm_ssh_ed25519_recipient_new, dm_ssh_ed25519_identity_new},
    {DM_SSH_RSA, dm_ssh_rsa_recipient_new, dm_ssh_rsa_identity_new},
};

/* The supported type whose name is the len bytes at name, or NULL. */
static const ssh_type *key_type_named(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
        if (strlen(key_types[i].name) == len && memcmp(name, key_types[i].name, len) == 0)
            return &key_types[i];
    return NULL;
}

static int unsupported(const char *type) {
    return dm_fail(DM_ERR_USAGE,
                   "unsupported SSH key type \"%s\" (only ssh-ed25519 and "
                   "ssh-rsa are)",
                   type);
}

/* ------------------------------------------------------------ public keys */

/* Types that name SSH keys, supported or not: their lines are SSH keys,
 * so an unknown one is "unsupported", not "malformed". */
static int looks_like_ssh_type(const char *s, size_t len) {
    static const char *const prefixes[] = {"ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (len > n && strncmp(s, prefixes[i], n) == 0)
            return 1;
    }
    return 0;
}

int dm_ssh_line_type(const char *line, char type[32]) {
    size_t type_len = strcspn(line, " \t");
    if (!looks_like_ssh_type(line, type_len))
        return 0;
    dm_ssh_safe_name((const uint8_t *)line, type_len < 31 ? type_len : 31, type, 32);
    return 1;
}

int dm_ssh_type_supported(const char *type) {
    return key_type_named(type, strlen(type)) != NULL;
}

/* An SSH public key line ("ssh-ed25519 AAAA... comment") of a supported type. */
static int public_from_line(const char *line, dm_ssh_public *out) {
    const char *p = line;
    size_t type_len = strcspn(p, " \t");
    char type[32];
    dm_ssh_safe_name((const uint8_t *)p, type_len < 31 ? type_len : 31, type, sizeof type);
    if (p[type_len] == '\0')
        return dm_fail(DM_ERR_USAGE, "SSH public key \"%s\" has no key after its type", type);
    if (key_type_named(p, type_len) == NULL)
        return unsupported(type);
    p += type_len;
    p += strspn(p, " \t");
    size_t b64_len = strcspn(p, " \t\r\n");
    uint8_t *blob = malloc(b64_len + 1);
    if (blob == NULL)
        return dm_fail(DM_ERR_NOMEM, "SSH public key");
    size_t blob_len = 0;
    if (b64_len == 0 || sodium_base642bin(blob, b64_len + 1, p, b64_len, NULL, &blob_len, NULL,
                                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(blob);
        return dm_fail(DM_ERR_USAGE, "malformed %s public key (bad base64)", type);
    }
    int err = dm_ssh_public_from_blob(blob, blob_len, out);
    free(blob);
    if (err != DM_OK)
        return err;
    if (strcmp(out->type, type) != 0) {
        err = dm_fail(DM_ERR_USAGE, "malformed SSH public key: the line says %s, the key is %s",
                      type, out->type);
        dm_ssh_public_free(out);
        return err;
    }
    return DM_OK;
}

int dm_ssh_recipient_parse(const char *line, dm_recipient **out) {
    if (line == NULL)
        return dm_fail(DM_ERR_USAGE, "no SSH public key");
    dm_ssh_public pub;
    int err = public_from_line(line, &pub);
    if (err != DM_OK)
        return err;
    const ssh_type *t = key_type_named(pub.type, strlen(pub.type));
    err = t != NULL ? t->recipient_new(&pub, out) : unsupported(pub.type);
    dm_ssh_public_free(&pub);
    return err;
}

int dm_ssh_recipient_or_unknown(const char *s, dm_recipient **out) {
    size_t type_len = strcspn(s, " \t");
    if (looks_like_ssh_type(s, type_len))
        return dm_ssh_recipient_parse(s, out);
    char shown[24];
    dm_ssh_safe_name((const uint8_t *)s, type_len < 16 ? type_len : 16, shown, sizeof shown);
    return dm_fail(DM_ERR_USAGE,
                   "unknown recipient type \"%s%s\" (want age1..., ssh-ed25519 or "
                   "ssh-rsa)",
                   shown, type_len > 16 ? "..." : "");
}

/* ------------------------------------------------------------ identities */

static int pending_new(const char *text, size_t len, dm_passphrase_fn ask, void *ask_ctx,
                       dm_ssh_pending **out) {
    dm_ssh_pending *p = calloc(1, sizeof *p);
    char *copy = dm_secret_alloc(len + 1);
    if (p == NULL || copy == NULL) {
        free(p);
        dm_secret_free(copy);
        return dm_fail(DM_ERR_NOMEM, "SSH private key");
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    p->text = copy;
    p->len = len;
    p->ask = ask;
    p->ask_ctx = ask_ctx;
    *out = p;
    return DM_OK;
}

/* A protected PEM key hides its public key: it is read from the .pub file
 * beside it (pub_line, named pub_name), as age reads it; none is refused. */
static int public_beside(const char *pub_line, const char *pub_name, dm_ssh_public *out) {
    if (pub_line == NULL)
        return dm_fail(DM_ERR_USAGE,
                       "the key is protected by a passphrase and does not show its public key: "
                       "%s must be beside it (as age requires)",
                       pub_name);
    int err = public_from_line(pub_line, out);
    if (err != DM_OK)
        return dm_fail(err, "%s: %s", pub_name, dm_err_detail());
    return DM_OK;
}

/* Loads a private key with its public half in priv->pub. A protected key that
 * hides it takes it from the .pub file beside it when pub_name is given
 * (*from_file: for -e -i KEY the .pub is all encrypting needs, nothing is
 * asked), else is opened now, its passphrase asked (a PEM file hides its
 * public key too). *locked (may be NULL): the private half is still behind its
 * passphrase; *from_file may be NULL too. */
static int load_with_public(const char *text, size_t len, const char *pub_line,
                            const char *pub_name, dm_passphrase_fn ask, void *ask_ctx,
                            dm_ssh_private *priv, int *locked, int *from_file) {
    int needs = 0, from_pub = 0;
    int err = dm_ssh_private_load(text, len, NULL, priv, &needs);
    if (err != DM_OK)
        return err;
    if (needs && priv->pub.blob == NULL && pub_name != NULL) {
        err = public_beside(pub_line, pub_name, &priv->pub);
        if (err != DM_OK) {
            dm_ssh_private_free(priv);
            return err;
        }
        from_pub = 1;
    } else if (needs && priv->pub.blob == NULL) {
        dm_ssh_pending tmp = {(char *)text, len, ask, ask_ctx, 0};
        err = dm_ssh_pending_open(&tmp, priv);
        needs = 0;
    }
    if (locked != NULL)
        *locked = needs;
    if (from_file != NULL)
        *from_file = from_pub;
    return err;
}

int dm_ssh_identity_parse_pub(const char *text, size_t len, const char *pub_line,
                              const char *pub_name, dm_passphrase_fn ask, void *ask_ctx,
                              dm_identity **out) {
    if (text == NULL)
        return dm_fail(DM_ERR_USAGE, "no SSH private key");
    dm_ssh_private priv;
    int locked = 0, from_file = 0;
    int err =
        load_with_public(text, len, pub_line, pub_name, ask, ask_ctx, &priv, &locked, &from_file);
    if (err != DM_OK)
        return err;
    dm_ssh_pending *pending = NULL;
    if (locked) {
        err = pending_new(text, len, ask, ask_ctx, &pending);
        if (err != DM_OK) {
            dm_ssh_private_free(&priv);
            return err;
        }
        pending->public_from_file = from_file;
    }
    const ssh_type *t = key_type_named(priv.pub.type, strlen(priv.pub.type));
    if (t == NULL) {
        err = unsupported(priv.pub.type);
        dm_ssh_private_free(&priv);
        dm_ssh_pending_free(pending);
        return err;
    }
    /* The type's constructor takes priv and pending over, failing or not. */
    return t->identity_new(&priv, pending, out);
}

int dm_ssh_identity_parse(const char *text, size_t len, dm_passphrase_fn ask, void *ask_ctx,
                          dm_identity **out) {
    return dm_ssh_identity_parse_pub(text, len, NULL, NULL, ask, ask_ctx, out);
}

int dm_ssh_identity_public_pub(const char *text, size_t len, const char *pub_line,
                               const char *pub_name, dm_passphrase_fn ask, void *ask_ctx,
                               char **line_out) {
    dm_ssh_private priv;
    int err = load_with_public(text, len, pub_line, pub_name, ask, ask_ctx, &priv, NULL, NULL);
    if (err != DM_OK)
        return err;
    size_t b64_cap = sodium_base64_ENCODED_LEN(priv.pub.blob_len, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = strlen(priv.pub.type) + 1 + b64_cap;
    char *line = malloc(cap);
    if (line == NULL) {
        dm_ssh_private_free(&priv);
        return dm_fail(DM_ERR_NOMEM, "SSH public key");
    }
    size_t tl = strlen(priv.pub.type);
    memcpy(line, priv.pub.type, tl);
    line[tl] = ' ';
    sodium_bin2base64(line + tl + 1, b64_cap, priv.pub.blob, priv.pub.blob_len,
                      sodium_base64_VARIANT_ORIGINAL);
    dm_ssh_private_free(&priv);
    *line_out = line;
    return DM_OK;
}

int dm_ssh_identity_public(const char *text, size_t len, dm_passphrase_fn ask, void *ask_ctx,
                           char **line_out) {
    return dm_ssh_identity_public_pub(text, len, NULL, NULL, ask, ask_ctx, line_out);
}
