/* libFuzzer target for the escrow parsers. The first byte picks one:
 *   0 authority file           3 warrant (grammar, then the full check)
 *   1 agent key file           4 share (grammar, authority, signature)
 *   2 court key file           5 a release entry (the log's leaf)
 *   6 an age header: the escrow stanzas (describe; the compliant check in
 *     the Shamir, LEAF and crumple modes)
 * Keys, shares and entries are parsed against the authority in escrow_fixture.h,
 * which fuzz/make-corpus.sh generated together with the seeds, so mutations of
 * real files reach the checks beyond the grammar. Besides "no crash": an
 * accepted authority re-formats to text that parses to the same id, an
 * accepted key or share re-formats to the very bytes given (minus comments),
 * and a rejected text always names a line inside it (or 0).
 *
 *   make fuzz FUZZ_SECONDS=N         (builds build-fuzz/fuzz/fuzz_escrow)
 * Seeds: fuzz/corpus/escrow (fuzz/make-corpus.sh). */
#include <stdlib.h>
#include <string.h>

#include "doormat/escrow.h"
#include "escrow_fixture.h"

#define FUZZ_IDENTITY "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"

static dm_escrow_authority *auth;
static dm_identity *identity;

/* The issue date of the seed warrant (make-corpus.sh: --issued 2026-01-15). */
static time_t fuzz_now;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (dm_init() != DM_OK ||
        dm_escrow_authority_parse(fuzz_authority_text, strlen(fuzz_authority_text), &auth,
                                  NULL) != DM_OK ||
        dm_x25519_identity_parse(FUZZ_IDENTITY, &identity) != DM_OK ||
        dm_escrow_parse_date("2026-01-15", &fuzz_now) != DM_OK)
        abort();
    return 0;
}

static void check_line(int err, size_t line, const char *text, size_t len)
{
    if (err == DM_OK)
        return;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (line > lines)
        abort(); /* names a line the text does not have */
}

/* Content lines of a text ('#' lines and blank lines dropped), each ending
 * in '\n' (a missing last newline is the parser's business, not this check's). */
static char *content(const char *text, size_t len, size_t *n_out)
{
    char *out = malloc(len + 2);
    if (out == NULL)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (end > i && text[i] != '#') {
            memcpy(out + n, text + i, end - i);
            n += end - i;
            out[n++] = '\n';
        }
        i = end + 1;
    }
    *n_out = n;
    return out;
}

/* An accepted text formats back to itself, comments and blank lines aside. */
static void check_same(const char *given, size_t given_len, const char *made, size_t made_len)
{
    size_t a_len, b_len;
    char *a = content(given, given_len, &a_len);
    char *b = content(made, made_len, &b_len);
    if (a_len != b_len || memcmp(a, b, a_len) != 0)
        abort();
    free(a);
    free(b);
}

static void fuzz_authority(const char *text, size_t len)
{
    dm_escrow_authority *a = NULL;
    size_t line = 0;
    int err = dm_escrow_authority_parse(text, len, &a, &line);
    check_line(err, line, text, len);
    if (err != DM_OK)
        return;
    char *again = NULL;
    size_t again_len = 0;
    dm_escrow_authority *b = NULL;
    if (dm_escrow_authority_format(a, &again, &again_len) != DM_OK ||
        dm_escrow_authority_parse(again, again_len, &b, NULL) != DM_OK ||
        memcmp(dm_escrow_authority_id(a), dm_escrow_authority_id(b), DM_ESCROW_ID_LEN) != 0)
        abort();
    free(again);
    dm_escrow_authority_free(b);
    dm_escrow_authority_free(a);
}

static void fuzz_agent_key(const char *text, size_t len)
{
    dm_escrow_agent_key *k = NULL;
    size_t line = 0;
    int err = dm_escrow_agent_key_parse(auth, text, len, &k, &line);
    check_line(err, line, text, len);
    if (err != DM_OK)
        return;
    char *again = NULL;
    size_t again_len = 0;
    if (dm_escrow_agent_key_format(k, &again, &again_len) != DM_OK)
        abort();
    check_same(text, len, again, again_len);
    dm_secret_free(again);
    dm_escrow_agent_key_free(k);
}

static void fuzz_court_key(const char *text, size_t len)
{
    dm_escrow_court_key *k = NULL;
    size_t line = 0;
    int err = dm_escrow_court_key_parse(auth, text, len, &k, &line);
    check_line(err, line, text, len);
    if (err != DM_OK)
        return;
    char *again = NULL;
    size_t again_len = 0;
    if (dm_escrow_court_key_format(k, &again, &again_len) != DM_OK)
        abort();
    check_same(text, len, again, again_len);
    dm_secret_free(again);
    dm_escrow_court_key_free(k);
}

static void fuzz_warrant(const char *text, size_t len)
{
    dm_escrow_warrant *w = NULL;
    size_t line = 0;
    int err = dm_escrow_warrant_parse(text, len, &w, &line);
    check_line(err, line, text, len);
    if (err != DM_OK)
        return;
    uint8_t id[DM_FILE_ID_LEN] = {0}, digest[DM_ESCROW_DIGEST_LEN];
    err = dm_escrow_warrant_check(w, auth, id, fuzz_now);
    if (err != DM_OK && err != DM_ERR_DENIED)
        abort(); /* a refused warrant is "denied", nothing else */
    dm_escrow_warrant_digest(w, digest);
    (void)dm_escrow_warrant_case(w);
    (void)dm_escrow_warrant_expires(w);
    dm_escrow_warrant_free(w);
}

static void fuzz_share(const char *text, size_t len)
{
    dm_escrow_share *s = NULL;
    size_t line = 0;
    int err = dm_escrow_share_parse(auth, text, len, &s, &line);
    check_line(err, line, text, len);
    if (err != DM_OK)
        return;
    char *again = NULL;
    size_t again_len = 0;
    if (dm_escrow_share_format(s, &again, &again_len) != DM_OK)
        abort();
    check_same(text, len, again, again_len);
    dm_secret_free(again);
    if (dm_escrow_authority_find_agent(auth, dm_escrow_share_agent(s)) < 0)
        abort(); /* accepted a share of an agent the authority does not have */
    dm_escrow_share_free(s);
}

static void fuzz_entry(const char *text, size_t len)
{
    dm_escrow_entry e;
    if (dm_escrow_entry_parse((const uint8_t *)text, len, &e) != DM_OK)
        return;
    char *again = NULL;
    size_t again_len = 0;
    if (dm_escrow_entry_format(&e, &again, &again_len) != DM_OK)
        abort(); /* an accepted entry formats again */
    if (again_len != len || memcmp(again, text, len) != 0)
        abort(); /* to the very bytes: the encoding is canonical */
    free(again);
}

static void fuzz_header(const uint8_t *data, size_t len)
{
    dm_header h;
    if (dm_header_parse(data, len, &h) != DM_OK)
        return;
    dm_escrow_description d;
    (void)dm_escrow_describe(&h, &d);
    /* The compliant check in every mode: Shamir and crumple rebuild the
     * stanzas, the Clipper-style LEAF check parses and checks a checksum. */
    static const uint8_t key[DM_FILE_KEY_LEN];
    static const dm_escrow_opts modes[] = {
        {DM_ESCROW_MODE_SHAMIR, 0, 0},
        {DM_ESCROW_MODE_LEAF, 16, 0},
        {DM_ESCROW_MODE_CRUMPLE, 0, 4},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int err = dm_escrow_verify_header(auth, &modes[i], &h, key);
        if (err != DM_OK && err != DM_ERR_POLICY && err != DM_ERR_HEADER)
            abort();
    }
    dm_header_clear(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 7) {
    case 0: fuzz_authority(text, len); break;
    case 1: fuzz_agent_key(text, len); break;
    case 2: fuzz_court_key(text, len); break;
    case 3: fuzz_warrant(text, len); break;
    case 4: fuzz_share(text, len); break;
    case 5: fuzz_entry(text, len); break;
    default: fuzz_header(data + 1, len); break;
    }
    return 0;
}
