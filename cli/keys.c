/* The recipients and identities of encrypt, decrypt and rekey: -r, -R, -i
 * and -j read into lists of the vault's recipients and identities
 * (cli/flags.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flags.h"

int cli_add_recipient(cli_rcpt_list *l, const char *s) {
    /* A secret key pasted where a recipient belongs must not be echoed back. */
    if (strncmp(s, "AGE-SECRET-KEY-", 15) == 0)
        return cli_usage_error("encrypt: -r was given a secret key; give its recipient (age1..., "
                               "see doormat keygen -y)");
    if (dm_is_plugin_identity(s))
        return cli_usage_error("encrypt: -r was given a plugin identity; give its recipient "
                               "(age1NAME1...) or use -j NAME");
    dm_recipient *r = NULL;
    int err = dm_recipient_parse(s, &r);
    if (err != DM_OK) {
        /* An SSH key is long: name it by its start. */
        int shown = (int)strnlen(s, 40);
        return cli_fail(err, "encrypt: recipient \"%.*s%s\"", shown, s, s[shown] ? "..." : "");
    }
    err = cli_rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt");
}

/* age's words: an authorized_keys file may hold keys of types age can't use. */
static void warn_skipped(void *ctx, size_t line, const char *type) {
    cli_msg("warning: recipients file \"%s\": ignoring unsupported SSH key of type \"%s\" at "
            "line %zu",
            (const char *)ctx, type, line);
}

/* ----------------------------------------------------- identity files */

/* A key file's passphrase, asked as age asks it. ctx is the file's path. */
static int ask_key_passphrase(void *ctx, char **pass, size_t *len) {
    char prompt[PATH_MAX + 64];
    snprintf(prompt, sizeof prompt, "Enter passphrase for \"%s\": ", (const char *)ctx);
    int err = cli_read_passphrase_tty(prompt, 0, pass, len);
    /* --passphrase-file is the file's passphrase, not the key's: don't suggest it. */
    if (err == DM_ERR_USAGE && strncmp(dm_err_detail(), "no terminal", 11) == 0)
        err = dm_fail(err, "no terminal to ask for the passphrase of the SSH key \"%s\"",
                      (const char *)ctx);
    return err;
}

/* The first line of KEY.pub beside an SSH key file, as age reads it (NULL when
 * there is none; an identity on standard input has none). *name gets the
 * .pub path, for messages. */
static char *read_pub_beside(const char *path, char **name) {
    *name = NULL;
    if (strcmp(path, "-") == 0)
        return NULL;
    size_t n = strlen(path);
    *name = malloc(n + 5);
    if (*name == NULL)
        return NULL;
    memcpy(*name, path, n);
    memcpy(*name + n, ".pub", 5);
    char *text = NULL;
    size_t len = 0;
    if (access(*name, F_OK) != 0 || cli_read_file(*name, &text, &len) != DM_OK)
        return NULL;
    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

/* An identity file that is an age file: asks for its passphrase and decrypts
 * it into guarded memory. */
static int open_encrypted_identity_file(const char *path, const char *text, size_t len,
                                        char **plain, size_t *plain_len) {
    char prompt[PATH_MAX + 64];
    snprintf(prompt, sizeof prompt, "Enter passphrase for identity file \"%s\": ", path);
    char *pass = NULL;
    size_t pass_len = 0;
    int err = cli_read_passphrase_tty(prompt, 0, &pass, &pass_len);
    if (err == DM_ERR_USAGE && strncmp(dm_err_detail(), "no terminal", 11) == 0)
        err = dm_fail(err, "no terminal to ask for the passphrase of identity file \"%s\"", path);
    if (err != DM_OK)
        return err;
    err = dm_identity_file_decrypt((const uint8_t *)text, len, pass, pass_len, plain, plain_len);
    dm_secret_free(pass);
    return err;
}

/* What an identity file holds, in guarded memory: its own text, or the text
 * of the age file it is (decrypted); *is_ssh for an SSH private key. */
static int read_identity_text(const char *path, char **text, size_t *len, int *is_ssh) {
    int err = cli_read_identity_file(path, text, len);
    if (err != DM_OK)
        return err;
    /* An armored age file begins "-----BEGIN" too: it is looked for first. */
    *is_ssh = 0;
    if (dm_is_age_file((const uint8_t *)*text, *len)) {
        char *plain = NULL;
        size_t plain_len = 0;
        err = open_encrypted_identity_file(path, *text, *len, &plain, &plain_len);
        dm_secret_free(*text);
        *text = NULL;
        if (err != DM_OK)
            return err;
        *text = plain;
        *len = plain_len;
        return DM_OK;
    }
    *is_ssh = dm_ssh_is_private_key(*text, *len);
    return DM_OK;
}

/* An SSH private key file (its text, freed here) as an identity (id non-NULL)
 * or as its recipient line, with the .pub file beside it read as age reads it. */
static int open_ssh_key(const char *path, char *text, size_t len, dm_identity **id, char **line) {
    char *pub_name = NULL, *pub = read_pub_beside(path, &pub_name);
    int err = id != NULL ? dm_ssh_identity_parse_pub(text, len, pub, pub_name, ask_key_passphrase,
                                                     (void *)path, id)
                         : dm_ssh_identity_public_pub(text, len, pub, pub_name, ask_key_passphrase,
                                                      (void *)path, line);
    free(pub);
    free(pub_name);
    dm_secret_free(text);
    return err;
}

/* The message of a failure that has its own words ("incorrect passphrase",
 * a passphrase-encrypted file opened with -i): said without the generic
 * "no identity matched" in front. */
int cli_fail_plainly(int err, const char *cmd, const char *path) {
    const char *detail = dm_err_detail();
    if ((err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE) && detail[0] != '\0' &&
        strncmp(detail, "none of ", 8) != 0) {
        /* The vault says what; the command says what to do about it. */
        const char *hint = strstr(detail, "passphrase-encrypted but identities were specified")
                               ? ": leave out -i and -j to be asked for the passphrase (or use "
                                 "--passphrase-file)"
                               : "";
        if (path != NULL)
            cli_msg("%s: identity file %s: %s%s", cmd, path, detail, hint);
        else
            cli_msg("%s: %s%s", cmd, detail, hint);
        return DM_EXIT_NO_MATCH;
    }
    /* A detail that already names the file ("identity file k.txt is group-readable") is
     * not prefixed with it again. */
    if (path != NULL && strstr(detail, path) == NULL)
        return cli_fail(err, "%s: identity file %s", cmd, path);
    return cli_fail(err, "%s", cmd);
}

/* An identity file read (read_identity_text), and what messages call it. */
typedef struct identity_file {
    const char *name; /* the path, or "standard input" */
    char *text;       /* guarded memory */
    size_t len;
    int is_ssh;
} identity_file;

static int open_identity_file(const char *path, identity_file *f) {
    f->name = strcmp(path, "-") == 0 ? "standard input" : path;
    f->text = NULL;
    f->len = 0;
    f->is_ssh = 0;
    return read_identity_text(path, &f->text, &f->len, &f->is_ssh);
}

/* Adds the recipients of every identity in an identity file (encrypt -i). */
int cli_add_identity_recipients(cli_rcpt_list *l, const char *path) {
    identity_file file;
    int err = open_identity_file(path, &file);
    if (err != DM_OK)
        return cli_fail_plainly(err, "encrypt", file.name);
    const char *name = file.name;
    char *text = file.text;
    size_t len = file.len;
    int is_ssh = file.is_ssh;
    if (is_ssh) {
        char *line = NULL;
        dm_recipient *r = NULL;
        err = open_ssh_key(path, text, len, NULL, &line);
        if (err == DM_OK)
            err = dm_ssh_recipient_parse(line, &r);
        free(line);
        if (err == DM_OK)
            err = cli_rcpt_push(l, r);
        return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: identity file %s", name);
    }
    /* Checked whole first, so a bad line is reported as decrypt reports it. */
    dm_identity **ids = NULL;
    size_t n = 0, bad_line = 0;
    err = dm_identity_file_parse(text, len, &ids, &n, &bad_line);
    for (size_t i = 0; err == DM_OK && i < n; i++)
        dm_identity_free(ids[i]);
    free(ids);
    const char *p = text, *end = text + len;
    while (err == DM_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n_line = (size_t)((nl ? nl : end) - p);
        if (n_line > 0 && p[n_line - 1] == '\r')
            n_line--;
        if (n_line > 0 && p[0] != '#') {
            char *secret = dm_secret_alloc(n_line + 1);
            char *public = NULL;
            dm_recipient *r = NULL;
            if (secret == NULL) {
                err = dm_fail(DM_ERR_NOMEM, "identity");
                break;
            }
            memcpy(secret, p, n_line);
            secret[n_line] = '\0';
            if (dm_is_plugin_identity(secret)) {
                /* recipient-v1's add-identity: the plugin encrypts to it. */
                dm_identity *id = NULL;
                err = dm_plugin_identity_parse(secret, NULL, &id);
                if (err == DM_OK)
                    err = dm_plugin_identity_to_recipient(id, &r);
                dm_identity_free(id);
            } else if (dm_pq_is_identity(secret)) {
                err = dm_pq_identity_to_recipient(secret, &public);
                if (err == DM_OK)
                    err = dm_pq_recipient_parse(public, &r);
            } else {
                err = dm_x25519_identity_to_recipient(secret, &public);
                if (err == DM_OK)
                    err = dm_x25519_recipient_parse(public, &r);
            }
            dm_secret_free(secret);
            free(public);
            if (err == DM_OK)
                err = cli_rcpt_push(l, r);
        }
        p = nl ? nl + 1 : end;
    }
    dm_secret_free(text);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: identity file %s", name);
}

/* The end of reading a file of keys: parsed is its parser's result, took
 * that of taking its n keys into a list; a file with none is refused. */
static int file_keys_taken(int parsed, int took, size_t n, const char *cmd, const char *kind,
                           const char *name, const char *item) {
    if (parsed != DM_OK)
        return cli_fail(parsed, "%s: %s file %s", cmd, kind, name);
    if (took != DM_OK)
        return cli_fail(took, "%s", cmd);
    if (n == 0)
        return cli_usage_error("%s: %s file %s holds no %s", cmd, kind, name, item);
    return DM_EXIT_OK;
}

int cli_add_recipients_file(cli_rcpt_list *l, const char *path) {
    char *text = NULL;
    size_t len = 0;
    int err = cli_read_file(path, &text, &len);
    if (err != DM_OK)
        return cli_fail(err, "encrypt: recipients file");
    dm_recipient **rs = NULL;
    size_t n = 0, bad_line = 0;
    err =
        dm_recipient_file_parse_skipping(text, len, &rs, &n, &bad_line, warn_skipped, (void *)path);
    free(text);
    (void)bad_line; /* the detail already names the line; the line itself is not echoed */
    int took = err == DM_OK ? cli_rcpt_push_all(l, rs, n) : DM_OK;
    return file_keys_taken(err, took, n, "encrypt", "recipients", path, "recipient");
}

int cli_add_plugin_recipient(cli_rcpt_list *l, const char *name) {
    if (strcmp(name, "batchpass") == 0)
        return cli_batchpass_recipient(l);
    dm_identity *id = NULL;
    dm_recipient *r = NULL;
    int err = dm_plugin_identity_default(name, NULL, &id);
    if (err == DM_OK)
        err = dm_plugin_identity_to_recipient(id, &r);
    dm_identity_free(id);
    if (err == DM_OK)
        err = cli_rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: -j %s", name);
}

int cli_add_escrow_recipient(cli_rcpt_list *l, const cli_flags *f, const char *cmd) {
    dm_recipient *escrow = NULL;
    int rc = cli_escrow_recipient(f->escrow, &f->escrow_opts, &escrow);
    if (rc == DM_EXIT_OK && cli_rcpt_push(l, escrow) != DM_OK)
        rc = cli_fail(DM_ERR_NOMEM, "%s", cmd);
    return rc;
}

int cli_add_identity_file(cli_ident_list *l, const char *path) {
    identity_file file;
    int err = open_identity_file(path, &file);
    if (err != DM_OK)
        return cli_fail_plainly(err, "decrypt", file.name);
    const char *name = file.name;
    char *text = file.text;
    size_t len = file.len;
    int is_ssh = file.is_ssh;
    if (is_ssh) {
        dm_identity *id = NULL;
        err = open_ssh_key(path, text, len, &id, NULL);
        if (err == DM_OK)
            err = cli_ident_push(l, id);
        return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: identity file %s", name);
    }
    dm_identity **ids = NULL;
    size_t n = 0, bad_line = 0;
    err = dm_identity_file_parse(text, len, &ids, &n, &bad_line);
    dm_secret_free(text);
    (void)bad_line; /* the detail names the line; a secret line is never echoed */
    int took = err == DM_OK ? cli_ident_push_all(l, ids, n) : DM_OK;
    return file_keys_taken(err, took, n, "decrypt", "identity", name, "identity");
}

int cli_add_plugin_identity(cli_ident_list *l, const char *name) {
    if (strcmp(name, "batchpass") == 0)
        return cli_batchpass_identity(l);
    dm_identity *id = NULL;
    int err = dm_plugin_identity_default(name, NULL, &id);
    if (err == DM_OK)
        err = cli_ident_push(l, id);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: -j %s", name);
}
