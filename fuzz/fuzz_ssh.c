/* libFuzzer target for the SSH key readers: an authorized_keys-style public
 * key line (dm_ssh_recipient_parse, dm_recipient_parse), a private key file
 * (OpenSSH container or PEM, dm_ssh_identity_parse), and the wire-format and
 * container parsing under them. Besides "no crash": a private key that reads
 * must name a public key that parses as a recipient, and a file key wrapped
 * to it must unwrap with it to the same bytes.
 *
 * A passphrase-protected OpenSSH key is opened only when a stanza names it;
 * the round trip below makes such a stanza, and the passphrase is then
 * refused, so the bcrypt rounds written in an input (any count, minutes of
 * work) never run. A protected PEM key is opened at once with the
 * passphrase "fuzz1".
 *
 *   make fuzz FUZZ_SECONDS=N          (builds build-fuzz/fuzz/fuzz_ssh)
 * Seeds: fuzz/corpus/ssh. */
#include <stdlib.h>
#include <string.h>

#include "doormat/vault.h"
#include "fuzz_init.h"

/* Set while unwrapping: a protected OpenSSH key is not opened then. */
static int refuse_passphrase;

static int ask(void *ctx, char **pass, size_t *len) {
    (void)ctx;
    if (refuse_passphrase)
        return DM_ERR_USAGE;
    *pass = dm_secret_alloc(6);
    if (*pass == NULL)
        return DM_ERR_NOMEM;
    memcpy(*pass, "fuzz1", 6);
    *len = 5;
    return DM_OK;
}

/* libssh 0.10 leaks a few bytes on some of its own error paths; those are
 * its leaks, not ours, and would stop every run. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libssh.so\n";
}

DM_FUZZ_INITIALIZE

static void round_trip(const char *text, size_t size) {
    dm_identity *id = NULL;
    if (dm_ssh_identity_parse(text, size, ask, NULL, &id) != DM_OK)
        return;
    char *line = NULL;
    dm_recipient *r = NULL;
    if (dm_ssh_identity_public(text, size, ask, NULL, &line) != DM_OK ||
        dm_ssh_recipient_parse(line, &r) != DM_OK)
        abort(); /* a key that reads names a public key that parses */
    free(line);
    uint8_t file_key[DM_FILE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t got[DM_FILE_KEY_LEN];
    dm_stanza_list stanzas = {0};
    if (r->wrap(r, file_key, &stanzas) == DM_OK) {
        refuse_passphrase = 1;
        int err = id->unwrap(id, &stanzas, got);
        refuse_passphrase = 0;
        /* A protected OpenSSH key would need its passphrase: only clear ones must open. */
        if (err == DM_OK && memcmp(got, file_key, sizeof got) != 0)
            abort();
    }
    dm_stanza_list_clear(&stanzas);
    dm_recipient_free(r);
    dm_identity_free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = strndup((const char *)data, size);
    if (s == NULL)
        return 0;
    dm_recipient *r = NULL;
    if (dm_ssh_recipient_parse(s, &r) == DM_OK)
        dm_recipient_free(r);
    r = NULL;
    if (dm_recipient_parse(s, &r) == DM_OK)
        dm_recipient_free(r);
    free(s);
    round_trip((const char *)data, size);
    dm_recipient **rs = NULL;
    size_t n = 0, line = 0;
    if (dm_recipient_file_parse((const char *)data, size, &rs, &n, &line) == DM_OK) {
        for (size_t i = 0; i < n; i++)
            dm_recipient_free(rs[i]);
        free(rs);
    }
    return 0;
}
