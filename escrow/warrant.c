/* Warrants: a small text the court signs (Ed25519), naming the authority,
 * the files it covers by file id, a case reference and its validity dates.
 * Every byte before the signature line is signed, so the text a person reads
 * is exactly the text that was authorised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "escrow_internal.h"

#define WARRANT_MAGIC "doormat-escrow-warrant/v1"
#define WARRANT_SIG_LABEL "doormat/v1/escrow/warrant"
#define MAX_CASE 200
#define MAX_FILES 4096

struct dm_escrow_warrant {
    char *text; /* exact bytes, for the digest */
    size_t len;
    size_t signed_len; /* bytes covered by the signature */
    uint8_t authority_id[DM_ESCROW_ID_LEN];
    char authority_name[DM_ESCROW_MAX_NAME + 1];
    char case_ref[MAX_CASE + 1];
    char issued[11], expires[11];
    uint8_t (*files)[DM_FILE_ID_LEN];
    size_t n_files;
    uint8_t sig[DM_ESCROW_SIG_LEN];
};

/* ------------------------------------------------------------ dates */

static bool leap(unsigned y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool dm_escrow_valid_date(const char *s, size_t len) {
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    unsigned y, m, d;
    if (!dm_escrow_parse_uint(s, 4, 9999, &y) || y < 1970)
        return false;
    /* Months and days are two digits, so "leading zero" is required here. */
    for (int i = 5; i < 10; i++)
        if (i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
    d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    return d <= mdays[m - 1] + (m == 2 && leap(y) ? 1u : 0u);
}

int dm_escrow_date(time_t t, char out[11]) {
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
        return dm_fail(DM_ERR_INTERNAL, "cannot format the date");
    return DM_OK;
}

int dm_escrow_parse_date(const char *s, time_t *out) {
    if (!s || !dm_escrow_valid_date(s, strlen(s)))
        return dm_fail(DM_ERR_USAGE, "\"%s\" is not a date YYYY-MM-DD", s ? s : "");
    struct tm tm = {0};
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
    tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
    tm.tm_hour = 12;
    *out = timegm(&tm);
    return DM_OK;
}

/* ------------------------------------------------------------ accessors */

void dm_escrow_warrant_free(dm_escrow_warrant *w) {
    if (!w)
        return;
    free(w->text);
    free(w->files);
    free(w);
}

void dm_escrow_warrant_digest(const dm_escrow_warrant *w, uint8_t out[DM_ESCROW_DIGEST_LEN]) {
    dm_sha256((const uint8_t *)w->text, w->len, out);
}

const char *dm_escrow_warrant_case(const dm_escrow_warrant *w) {
    return w->case_ref;
}
void dm_escrow_warrant_case_hex(const dm_escrow_warrant *w,
                                char hex[2 * DM_ESCROW_DIGEST_LEN + 1]) {
    uint8_t d[DM_ESCROW_DIGEST_LEN];
    dm_sha256((const uint8_t *)w->case_ref, strlen(w->case_ref), d);
    dm_hex(d, sizeof d, hex);
}
const char *dm_escrow_warrant_expires(const dm_escrow_warrant *w) {
    return w->expires;
}

static bool valid_case(const char *s, size_t len) {
    return dm_escrow_valid_text(s, len, MAX_CASE);
}

/* ------------------------------------------------------------ issue */

int dm_escrow_warrant_issue(const dm_escrow_authority *auth, const dm_escrow_court_key *court,
                            const char *case_ref, const char *issued, const char *expires,
                            const uint8_t (*file_ids)[DM_FILE_ID_LEN], size_t n_files, char **text,
                            size_t *len) {
    *text = NULL;
    char today[11];
    if (memcmp(court->authority_id, auth->id, DM_ESCROW_ID_LEN) != 0 ||
        sodium_memcmp(court->sign_pk, auth->court_pk, 32) != 0)
        return dm_fail(DM_ERR_USAGE, "the court key is not the court key of authority %s",
                       auth->name);
    if (!case_ref || !valid_case(case_ref, strlen(case_ref)))
        return dm_fail(DM_ERR_USAGE,
                       "the case reference must be 1 to %d characters, no control characters",
                       MAX_CASE);
    if (!issued) {
        int err = dm_escrow_date(time(NULL), today);
        if (err)
            return err;
        issued = today;
    }
    if (!dm_escrow_valid_date(issued, strlen(issued)))
        return dm_fail(DM_ERR_USAGE, "issue date \"%s\" is not YYYY-MM-DD", issued);
    if (!expires || !dm_escrow_valid_date(expires, strlen(expires)))
        return dm_fail(DM_ERR_USAGE, "expiry date \"%s\" is not YYYY-MM-DD",
                       expires ? expires : "");
    if (strcmp(expires, issued) < 0)
        return dm_fail(DM_ERR_USAGE, "the warrant would expire (%s) before it is issued (%s)",
                       expires, issued);
    if (n_files == 0 || n_files > MAX_FILES)
        return dm_fail(DM_ERR_USAGE, "a warrant names 1 to %d files", MAX_FILES);

    dm_buf b = {0};
    dm_buf_printf(&b, "%s\nauthority: %s\nauthority-name: %s\ncase: %s\n", WARRANT_MAGIC,
                         auth->id_hex, auth->name, case_ref);
    dm_buf_printf(&b, "issued: %s\nexpires: %s\n", issued, expires);
    for (size_t i = 0; i < n_files; i++) {
        char hex[2 * DM_FILE_ID_LEN + 1];
        dm_hex(file_ids[i], DM_FILE_ID_LEN, hex);
        dm_buf_printf(&b, "file: %s\n", hex);
    }
    if (b.failed) {
        dm_buf_clear(&b);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    uint8_t sig[DM_ESCROW_SIG_LEN];
    char sig64[DM_ESCROW_SIG_B64_LEN + 1];
    int err =
        dm_escrow_sign(court->sign_sk, WARRANT_SIG_LABEL, (const uint8_t *)b.data, b.len, sig);
    if (!err)
        err = dm_escrow_b64(sig, sizeof sig, sig64, sizeof sig64);
    if (err) {
        dm_buf_clear(&b);
        return err;
    }
    dm_buf_printf(&b, "signature: %s\n", sig64);
    return dm_escrow_buf_take(&b, text, len);
}

/* ------------------------------------------------------------ parse */

int dm_escrow_warrant_parse(const char *text, size_t len, dm_escrow_warrant **out,
                            size_t *line_out) {
    *out = NULL;
    if (line_out)
        *line_out = 0;
    dm_escrow_warrant *w = calloc(1, sizeof *w);
    if (!w || !(w->text = malloc(len + 1))) {
        free(w);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    memcpy(w->text, text, len);
    w->text[len] = '\0';
    w->len = len;
    dm_escrow_lines it = {.text = text, .len = len};
    const char *line, *v;
    size_t llen, vlen;
    bool nl;
    int err = DM_OK;
    size_t cap = 0;

#define NEXT(what)                                                                                 \
    do {                                                                                           \
        if (!dm_escrow_next_line(&it, &line, &llen, &nl)) {                                        \
            err = dm_fail(DM_ERR_USAGE, "the warrant ends before %s", what);                       \
            goto done;                                                                             \
        }                                                                                          \
        if (!nl) {                                                                                 \
            err = dm_fail(DM_ERR_USAGE, "the last line does not end with newline");                \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        err = dm_fail(DM_ERR_USAGE, __VA_ARGS__);                                                  \
        goto done;                                                                                 \
    } while (0)

    NEXT("its first line");
    if (llen != strlen(WARRANT_MAGIC) || memcmp(line, WARRANT_MAGIC, llen) != 0)
        FAIL("not a doormat warrant (want \"%s\")", WARRANT_MAGIC);
    NEXT("\"authority:\"");
    if (!dm_escrow_field(line, llen, "authority", &v, &vlen) ||
        !dm_escrow_unhex(v, vlen, w->authority_id, DM_ESCROW_ID_LEN))
        FAIL("want \"authority: \" and 32 lower-case hex digits");
    NEXT("\"authority-name:\"");
    if (!dm_escrow_field(line, llen, "authority-name", &v, &vlen) || !dm_escrow_valid_name(v, vlen))
        FAIL("want \"authority-name: NAME\"");
    memcpy(w->authority_name, v, vlen);
    NEXT("\"case:\"");
    if (!dm_escrow_field(line, llen, "case", &v, &vlen) || !valid_case(v, vlen))
        FAIL("want \"case: TEXT\" (1 to %d characters)", MAX_CASE);
    memcpy(w->case_ref, v, vlen);
    NEXT("\"issued:\"");
    if (!dm_escrow_field(line, llen, "issued", &v, &vlen) || !dm_escrow_valid_date(v, vlen))
        FAIL("want \"issued: YYYY-MM-DD\"");
    memcpy(w->issued, v, 10);
    NEXT("\"expires:\"");
    if (!dm_escrow_field(line, llen, "expires", &v, &vlen) || !dm_escrow_valid_date(v, vlen))
        FAIL("want \"expires: YYYY-MM-DD\"");
    memcpy(w->expires, v, 10);
    for (;;) {
        size_t start = it.pos;
        NEXT("\"signature:\"");
        if (dm_escrow_field(line, llen, "file", &v, &vlen)) {
            if (w->n_files == MAX_FILES)
                FAIL("more than %d files", MAX_FILES);
            if (w->n_files == cap) {
                cap = cap ? cap * 2 : 8;
                void *p = realloc(w->files, cap * sizeof *w->files);
                if (!p) {
                    err = dm_fail(DM_ERR_NOMEM, "out of memory");
                    goto done;
                }
                w->files = p;
            }
            if (!dm_escrow_unhex(v, vlen, w->files[w->n_files], DM_FILE_ID_LEN))
                FAIL("want \"file: \" and 32 lower-case hex digits (a file id)");
            w->n_files++;
            continue;
        }
        if (!dm_escrow_field(line, llen, "signature", &v, &vlen))
            FAIL("want \"file: ID\" or \"signature: ...\"");
        if (w->n_files == 0)
            FAIL("the warrant names no file");
        if (!dm_escrow_unb64(v, vlen, w->sig, sizeof w->sig))
            FAIL("the signature is not 64 bytes of base64");
        w->signed_len = start;
        break;
    }
    if (it.pos != len) {
        it.lineno++;
        FAIL("unexpected text after the signature");
    }
#undef NEXT
#undef FAIL
done:
    if (err) {
        if (line_out)
            *line_out = it.lineno;
        dm_escrow_warrant_free(w);
        return err;
    }
    *out = w;
    return DM_OK;
}

/* ------------------------------------------------------------ check */

int dm_escrow_warrant_check(const dm_escrow_warrant *w, const dm_escrow_authority *auth,
                            const uint8_t file_id[DM_FILE_ID_LEN], time_t now) {
    if (memcmp(w->authority_id, auth->id, DM_ESCROW_ID_LEN) != 0) {
        char hex[2 * DM_ESCROW_ID_LEN + 1];
        dm_hex(w->authority_id, DM_ESCROW_ID_LEN, hex);
        return dm_fail(DM_ERR_DENIED, "the warrant is for authority %s (%s), not %s (%s)",
                       w->authority_name, hex, auth->name, auth->id_hex);
    }
    if (!dm_escrow_verify_sig(auth->court_pk, WARRANT_SIG_LABEL, (const uint8_t *)w->text,
                              w->signed_len, w->sig))
        return dm_fail(DM_ERR_DENIED,
                       "the warrant's signature does not verify with the court key of %s "
                       "(forged or edited)",
                       auth->name);
    char today[11];
    int err = dm_escrow_date(now, today);
    if (err)
        return err;
    if (strcmp(today, w->issued) < 0)
        return dm_fail(DM_ERR_DENIED, "the warrant is not valid before %s (today is %s)", w->issued,
                       today);
    if (strcmp(today, w->expires) > 0)
        return dm_fail(DM_ERR_DENIED, "the warrant expired on %s (today is %s)", w->expires, today);
    for (size_t i = 0; i < w->n_files; i++)
        if (memcmp(w->files[i], file_id, DM_FILE_ID_LEN) == 0)
            return DM_OK;
    char hex[2 * DM_FILE_ID_LEN + 1], case_hex[2 * DM_ESCROW_DIGEST_LEN + 1];
    dm_hex(file_id, DM_FILE_ID_LEN, hex);
    dm_escrow_warrant_case_hex(w, case_hex);
    return dm_fail(DM_ERR_DENIED, "the warrant (case %s) does not cover file %s", case_hex, hex);
}
