/* The five escrow texts read from a file by path: one loader, which reads
 * the file (into guarded memory when the text is secret), hands it to the
 * text's parser and names the file and line in a failure. */
#include <stdlib.h>

#include "escrow_internal.h"

typedef enum { AUTHORITY, WARRANT, AGENT_KEY, COURT_KEY, SHARE } text_kind;

/* out is the caller's dm_escrow_<kind> **. */
static int parse(text_kind kind, const dm_escrow_authority *auth, const char *text, size_t len,
                 void *out, size_t *line) {
    switch (kind) {
    case AUTHORITY:
        return dm_escrow_authority_parse(text, len, out, line);
    case WARRANT:
        return dm_escrow_warrant_parse(text, len, out, line);
    case AGENT_KEY:
        return dm_escrow_agent_key_parse(auth, text, len, out, line);
    case COURT_KEY:
        return dm_escrow_court_key_parse(auth, text, len, out, line);
    case SHARE:
        return dm_escrow_share_parse(auth, text, len, out, line);
    }
    return dm_fail(DM_ERR_INTERNAL, "unknown escrow text");
}

static int load(text_kind kind, const dm_escrow_authority *auth, const char *path, void *out) {
    const bool secret = kind == AGENT_KEY || kind == COURT_KEY || kind == SHARE;
    char *text;
    size_t len, line = 0;
    int err = dm_escrow_read_file(path, secret, &text, &len);
    if (err)
        return err;
    err = parse(kind, auth, text, len, out, &line);
    if (secret)
        dm_secret_free(text);
    else
        free(text);
    return err ? dm_escrow_fail_at(err, path, line) : DM_OK;
}

int dm_escrow_authority_load(const char *path, dm_escrow_authority **out) {
    return load(AUTHORITY, NULL, path, out);
}

int dm_escrow_warrant_load(const char *path, dm_escrow_warrant **out) {
    return load(WARRANT, NULL, path, out);
}

int dm_escrow_agent_key_load(const dm_escrow_authority *auth, const char *path,
                             dm_escrow_agent_key **out) {
    return load(AGENT_KEY, auth, path, out);
}

int dm_escrow_court_key_load(const dm_escrow_authority *auth, const char *path,
                             dm_escrow_court_key **out) {
    return load(COURT_KEY, auth, path, out);
}

int dm_escrow_share_load(const dm_escrow_authority *auth, const char *path, dm_escrow_share **out) {
    return load(SHARE, auth, path, out);
}
