/* The passphrases of encrypt, decrypt and rekey: -p and --passphrase-file,
 * the passphrase asked on the terminal when a file wants one, and age 1.3's
 * batchpass plugin, built in (cli/flags.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

/* ---------------------------------------------------------- batchpass */

/* age 1.3's batchpass plugin, built in: -j batchpass is a passphrase from the
 * environment (AGE_PASSPHRASE, or AGE_PASSPHRASE_FD, a file descriptor whose
 * contents less their trailing newlines are the passphrase), for scripts.
 * Empty variables count as unset, as in age. The same words as age's plugin. */
static const char *env_set(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int batchpass_passphrase(char **out, size_t *len) {
    const char *pass = env_set("AGE_PASSPHRASE"), *fd_text = env_set("AGE_PASSPHRASE_FD");
    if (pass != NULL && fd_text != NULL)
        return dm_fail(DM_ERR_USAGE, "AGE_PASSPHRASE and AGE_PASSPHRASE_FD are mutually exclusive");
    if (pass == NULL && fd_text == NULL)
        return dm_fail(DM_ERR_USAGE, "either AGE_PASSPHRASE or AGE_PASSPHRASE_FD must be set");
    if (pass != NULL) {
        size_t n = strlen(pass);
        char *copy = dm_secret_alloc(n + 1);
        if (copy == NULL)
            return dm_fail(DM_ERR_NOMEM, "passphrase");
        memcpy(copy, pass, n + 1);
        *out = copy;
        *len = n;
        return DM_OK;
    }
    unsigned long fd = 0;
    if (cli_parse_ulong(fd_text, 0, INT_MAX, &fd) != DM_OK)
        return dm_fail(DM_ERR_USAGE, "invalid AGE_PASSPHRASE_FD: \"%s\"", fd_text);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%lu", fd);
    char *text = NULL;
    size_t n = 0;
    int err = cli_read_identity_file(path, &text, &n);
    if (err != DM_OK)
        return dm_fail(err, "reading AGE_PASSPHRASE_FD %lu: %s", fd, dm_err_detail());
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (n == 0) {
        dm_secret_free(text);
        return dm_fail(DM_ERR_USAGE, "the passphrase from AGE_PASSPHRASE_FD is empty");
    }
    *out = text;
    *len = n;
    return DM_OK;
}

/* AGE_PASSPHRASE_WORK_FACTOR and AGE_PASSPHRASE_MAX_WORK_FACTOR: 1 to 30, or
 * 0 when unset (doormat's defaults, as age's: 18, and at most 22). */
static int batchpass_work_factor(const char *name, int *out) {
    const char *v = env_set(name);
    unsigned long n = 0;
    *out = 0;
    if (v == NULL)
        return DM_OK;
    if (cli_parse_ulong(v, 1, 30, &n) != DM_OK)
        return dm_fail(DM_ERR_USAGE, "%s must be between 1 and 30, not \"%s\"", name, v);
    *out = (int)n;
    return DM_OK;
}

int cli_batchpass_recipient(cli_rcpt_list *l) {
    char *pass = NULL;
    size_t len = 0;
    int log_n = 0;
    int err = batchpass_work_factor("AGE_PASSPHRASE_WORK_FACTOR", &log_n);
    if (err == DM_OK)
        err = batchpass_passphrase(&pass, &len);
    dm_recipient *r = NULL;
    if (err == DM_OK)
        err = dm_scrypt_recipient_new(pass, len, log_n, &r);
    dm_secret_free(pass);
    if (err == DM_OK)
        err = cli_rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: -j batchpass");
}

/* The identities below wrap a scrypt identity (made at once for -j
 * batchpass, when first needed for the prompt): unwrap says what the
 * wrapper checks, the scrypt identity is freed with it. */
typedef struct scrypt_ctx {
    dm_identity *scrypt;
} scrypt_ctx;

static void scrypt_ctx_destroy(dm_identity *self) {
    scrypt_ctx *ctx = self->ctx;
    if (ctx != NULL && ctx->scrypt != NULL)
        dm_identity_free(ctx->scrypt);
    free(ctx); /* dm_identity_free frees the identity itself */
}

/* Takes scrypt (may be NULL), also on failure. */
typedef int (*unwrap_fn)(const dm_identity *self, const dm_stanza_list *stanzas,
                         uint8_t file_key[DM_FILE_KEY_LEN]);
static int wrapping_identity_new(unwrap_fn unwrap, dm_identity *scrypt, dm_identity **out) {
    dm_identity *id = calloc(1, sizeof *id);
    scrypt_ctx *ctx = calloc(1, sizeof *ctx);
    if (id == NULL || ctx == NULL) {
        free(id);
        free(ctx);
        dm_identity_free(scrypt);
        return dm_fail(DM_ERR_NOMEM, "identity");
    }
    ctx->scrypt = scrypt;
    id->unwrap = unwrap;
    id->destroy = scrypt_ctx_destroy;
    id->ctx = ctx;
    *out = id;
    return DM_OK;
}

/* The identity of decrypt -j batchpass: the scrypt identity, whose failure
 * is the passphrase's ("incorrect passphrase"), and only for a file whose one
 * stanza is scrypt, as age's plugin says. */

static int batchpass_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                            uint8_t file_key[DM_FILE_KEY_LEN]) {
    const scrypt_ctx *ctx = self->ctx;
    if (stanzas->len != 1 || strcmp(stanzas->items[0].type, "scrypt") != 0)
        return dm_fail(DM_ERR_NO_MATCH, "file is not passphrase-encrypted");
    int err = ctx->scrypt->unwrap(ctx->scrypt, stanzas, file_key);
    if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE)
        return dm_fail(DM_ERR_BAD_PASSPHRASE, "incorrect passphrase");
    return err;
}

int cli_batchpass_identity(cli_ident_list *l) {
    char *pass = NULL;
    size_t len = 0;
    int max_log_n = 0;
    int err = batchpass_work_factor("AGE_PASSPHRASE_MAX_WORK_FACTOR", &max_log_n);
    if (err == DM_OK)
        err = batchpass_passphrase(&pass, &len);
    dm_identity *scrypt = NULL;
    if (err == DM_OK)
        err = dm_scrypt_identity_new(pass, len, max_log_n, &scrypt);
    dm_secret_free(pass);
    dm_identity *id = NULL;
    if (err == DM_OK)
        err = wrapping_identity_new(batchpass_unwrap, scrypt, &id);
    if (err == DM_OK)
        err = cli_ident_push(l, id);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: -j batchpass");
}

/* ------------------------------------------------- asked on the terminal */

/* With no identity given, age asks for a passphrase only once it has seen that
 * the file holds a scrypt stanza; this identity does the same, lazily. */
static int prompt_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                         uint8_t file_key[DM_FILE_KEY_LEN]) {
    scrypt_ctx *ctx = self->ctx;
    int has_scrypt = 0;
    for (size_t i = 0; i < stanzas->len; i++)
        if (strcmp(stanzas->items[i].type, "scrypt") == 0)
            has_scrypt = 1;
    if (!has_scrypt)
        return dm_fail(DM_ERR_USAGE, "file is not passphrase-encrypted, identities are "
                                     "required: use -i FILE or -j NAME");
    if (ctx->scrypt == NULL) {
        char *pass = NULL;
        size_t len = 0;
        int err = cli_read_passphrase_tty("Enter passphrase: ", 0, &pass, &len);
        if (err != DM_OK)
            return err;
        err = dm_scrypt_identity_new(pass, len, 0, &ctx->scrypt);
        dm_secret_free(pass);
        if (err != DM_OK)
            return err;
    }
    int err = ctx->scrypt->unwrap(ctx->scrypt, stanzas, file_key);
    if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE)
        return dm_fail(DM_ERR_BAD_PASSPHRASE, "incorrect passphrase");
    return err;
}

/* No identity given: the passphrase, asked on the terminal when a stanza wants it. */
int cli_add_prompt_identity(cli_ident_list *l, const char *cmd) {
    dm_identity *prompt = NULL;
    int err = wrapping_identity_new(prompt_unwrap, NULL, &prompt);
    if (err == DM_OK)
        err = cli_ident_push(l, prompt);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s", cmd);
}

int cli_add_passphrase_recipient(cli_rcpt_list *l, const cli_flags *f) {
    char *pass = NULL;
    size_t len = 0;
    int err = f->passphrase_tty
                  ? cli_read_passphrase_tty("Enter passphrase (leave empty to autogenerate a "
                                            "secure one): ",
                                            CLI_PASS_AUTOGENERATE, &pass, &len)
                  : cli_read_passphrase_file(f->passphrase_file, &pass, &len);
    if (err != DM_OK)
        return cli_fail(err, "encrypt: passphrase");
    dm_recipient *r = NULL;
    err = dm_scrypt_recipient_new(pass, len, 0, &r);
    dm_secret_free(pass);
    if (err == DM_OK)
        err = cli_rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: passphrase");
}

int cli_add_passphrase_identity(cli_ident_list *l, const char *path) {
    char *pass = NULL;
    size_t len = 0;
    int err = cli_read_passphrase_file(path, &pass, &len);
    if (err != DM_OK)
        return cli_fail(err, "decrypt: passphrase");
    dm_identity *id = NULL;
    err = dm_scrypt_identity_new(pass, len, 0, &id);
    dm_secret_free(pass);
    if (err == DM_OK)
        err = cli_ident_push(l, id);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: passphrase");
}
