/* dm_encrypt, dm_decrypt, dm_inspect: the header around the STREAM payload,
 * optional ASCII armor, and the recipient/identity plumbing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "stream.h"

#define READ_BLOCK 65536
#define SCRYPT_TYPE "scrypt"

/* The name a refusal gives a recipient: its first stanza's type, else its own. */
static const char *rcpt_name(const dm_recipient *r, const dm_header *hdrp, const size_t *first,
                             size_t i, const char *fallback) {
    if (first[i + 1] > first[i])
        return hdrp->stanzas.items[first[i]].type;
    return r->type ? r->type : fallback;
}

/* The labels recipient i gave its stanzas, sorted (a set). */
static int rcpt_labels(const dm_recipient *r, const dm_header *hdrp, const size_t *first, size_t i,
                       const char *out[DM_MAX_LABELS], size_t *n) {
    *n = 0;
    if (r->labels == NULL)
        return DM_OK;
    *n = r->labels(r, hdrp->stanzas.items + first[i], first[i + 1] - first[i], out);
    if (*n > DM_MAX_LABELS)
        return dm_fail(DM_ERR_INTERNAL, "a %s recipient gave more than %d labels",
                       r->type ? r->type : "", DM_MAX_LABELS);
    for (size_t a = 1; a < *n; a++) /* insertion sort: a handful of labels */
        for (size_t b = a; b > 0 && strcmp(out[b - 1], out[b]) > 0; b--) {
            const char *t = out[b];
            out[b] = out[b - 1];
            out[b - 1] = t;
        }
    return DM_OK;
}

static int has_label(const char *const *labels, size_t n, const char *label) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i], label) == 0)
            return 1;
    return 0;
}

static void join_labels(const char *const *labels, size_t n, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < cap; i++) {
        int w = snprintf(buf + at, cap - at, "%s%s", i ? "," : "", labels[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

/* age's rule (RecipientWithLabels): every recipient that is not stand-alone
 * carries the same labels as the first; a stand-alone one is checked by
 * check_alone. Known after wrapping: a plugin's labels follow its stanzas. */
static int check_labels(dm_recipient *const *rcpts, size_t n_rcpts, const size_t *first,
                        const dm_header *hdrp) {
    const char *ref[DM_MAX_LABELS], *got[DM_MAX_LABELS];
    size_t n_ref = 0, n_got = 0, r0 = n_rcpts;
    for (size_t i = 0; i < n_rcpts; i++) {
        if (rcpts[i]->flags & DM_RCPT_ALONE)
            continue;
        int err = rcpt_labels(rcpts[i], hdrp, first, i, r0 == n_rcpts ? ref : got,
                              r0 == n_rcpts ? &n_ref : &n_got);
        if (err != DM_OK)
            return err;
        if (r0 == n_rcpts) {
            r0 = i;
            continue;
        }
        int same = n_got == n_ref;
        for (size_t k = 0; same && k < n_ref; k++)
            same = strcmp(ref[k], got[k]) == 0;
        if (same)
            continue;
        int pq_ref = has_label(ref, n_ref, DM_LABEL_PQ),
            pq_got = has_label(got, n_got, DM_LABEL_PQ);
        if (pq_ref != pq_got) {
            size_t pq = pq_ref ? r0 : i, classical = pq_ref ? i : r0;
            return dm_fail(DM_ERR_USAGE,
                           "incompatible recipients: a post-quantum (%s) recipient can't be mixed "
                           "with a classical (%s) one",
                           rcpt_name(rcpts[pq], hdrp, first, pq, "post-quantum"),
                           rcpt_name(rcpts[classical], hdrp, first, classical, "classical"));
        }
        char a[128], b[128];
        join_labels(ref, n_ref, a, sizeof a);
        join_labels(got, n_got, b, sizeof b);
        return dm_fail(DM_ERR_USAGE,
                       "incompatible recipients: a %s recipient (labels \"%s\") can't be mixed "
                       "with a %s one (labels \"%s\")",
                       rcpt_name(rcpts[r0], hdrp, first, r0, "first"), a,
                       rcpt_name(rcpts[i], hdrp, first, i, "other"), b);
    }
    return DM_OK;
}

/* A stand-alone recipient's stanzas are the only ones but for companions'. */
static int check_alone(dm_recipient *const *rcpts, size_t n_rcpts, const size_t *first) {
    for (size_t i = 0; i < n_rcpts; i++) {
        if (!(rcpts[i]->flags & DM_RCPT_ALONE))
            continue;
        for (size_t j = 0; j < n_rcpts; j++)
            if (j != i && first[j + 1] > first[j] && !(rcpts[j]->flags & DM_RCPT_COMPANION))
                return dm_fail(DM_ERR_USAGE,
                               "a %s recipient can't be combined with other recipients",
                               rcpts[i]->type ? rcpts[i]->type : "stand-alone");
    }
    return DM_OK;
}

/* Every recipient wraps the file key into hdr; then their labels must agree
 * and a stand-alone recipient's stanzas stand alone. first has n_rcpts + 1 slots. */
static int wrap_all(dm_recipient *const *rcpts, size_t n_rcpts, const uint8_t *file_key,
                    size_t *first, dm_header *hdrp) {
    int err = DM_OK;
    for (size_t i = 0; i < n_rcpts && err == DM_OK; i++) {
        first[i] = hdrp->stanzas.len;
        err = rcpts[i]->wrap(rcpts[i], file_key, &hdrp->stanzas);
    }
    if (err == DM_OK) {
        first[n_rcpts] = hdrp->stanzas.len;
        err = check_labels(rcpts, n_rcpts, first, hdrp);
    }
    if (err == DM_OK)
        err = check_alone(rcpts, n_rcpts, first);
    return err;
}

/* The recipients of encrypt and rekey: at least one, each able to wrap. */
static int usable_recipients(dm_recipient *const *rcpts, size_t n_rcpts) {
    if (n_rcpts == 0 || rcpts == NULL)
        return dm_fail(DM_ERR_USAGE, "no recipients");
    for (size_t i = 0; i < n_rcpts; i++)
        if (rcpts[i] == NULL || rcpts[i]->wrap == NULL)
            return dm_fail(DM_ERR_USAGE, "recipient %zu is not usable", i + 1);
    return DM_OK;
}

static int sink_put(dm_sink sink, const uint8_t *buf, size_t len) {
    if (sink.write(sink.ctx, buf, len) != 0)
        return dm_fail(DM_ERR_IO, "writing the output: %s", strerror(errno));
    return DM_OK;
}

/* Writes hdr, MACed with file_key, to out (through a new *armor when armored);
 * *sink is where the payload goes next. */
static int write_header(dm_sink out, bool armored, dm_header *hdr, const uint8_t *file_key,
                        dm_armor_writer **armor, dm_sink *sink) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    *sink = out;
    int err = dm_header_encode(hdr, file_key, &bytes, &len);
    if (err == DM_OK && armored) {
        err = dm_armor_writer_new(out, armor);
        if (err == DM_OK)
            *sink = dm_armor_writer_sink(*armor);
    }
    if (err == DM_OK)
        err = sink_put(*sink, bytes, len);
    free(bytes);
    return err;
}

/* ------------------------------------------------------------- encrypt */

int dm_encrypt(dm_source in, dm_sink out, dm_recipient *const *rcpts, size_t n_rcpts,
               const dm_encrypt_opts *opts) {
    static const dm_encrypt_opts defaults = {0};
    opts = opts ? opts : &defaults;
    int err = usable_recipients(rcpts, n_rcpts);
    if (err != DM_OK)
        return err;

    uint8_t *file_key = dm_secret_alloc(DM_STREAM_SECRETS_LEN);
    if (file_key == NULL)
        return dm_fail(DM_ERR_NOMEM, "file key");
    randombytes_buf(file_key, DM_FILE_KEY_LEN);

    dm_header hdr;
    memset(&hdr, 0, sizeof hdr);
    size_t *first = calloc(n_rcpts + 1, sizeof *first);
    dm_armor_writer *armor = NULL;
    dm_sink sink = out;
    err = first ? DM_OK : dm_fail(DM_ERR_NOMEM, "recipient list");

    if (err == DM_OK)
        err = wrap_all(rcpts, n_rcpts, file_key, first, &hdr);
    if (err == DM_OK)
        err = write_header(out, opts->armor, &hdr, file_key, &armor, &sink);
    if (err == DM_OK)
        err = dm_stream_seal(in, sink, file_key, opts->threads, opts->backend);
    if (err == DM_OK && armor)
        err = dm_armor_writer_finish(armor);

    if (armor)
        dm_armor_writer_free(armor);
    free(first);
    dm_header_clear(&hdr);
    dm_secret_free(file_key);
    return err;
}

/* ------------------------------------------------------- reading a file */

/* The input side of decrypt and inspect: the caller's source, de-armored
 * when it is armored, and the header bytes read from it so far. */
typedef struct input {
    dm_source raw;
    dm_armor_reader *armor;
    dm_source src; /* raw or de-armored */
    int read_failed;
    uint8_t *peek; /* bytes read to detect armor; the armor reader may refer to them */
    uint8_t *buf;  /* binary header bytes (and whatever followed them) */
    size_t len, cap;
    size_t hdr_len; /* bytes of buf up to and including the MAC line */
} input;

static ssize_t tracked_read(void *ctx, uint8_t *buf, size_t n) {
    input *in = ctx;
    ssize_t got = in->src.read(in->src.ctx, buf, n);
    if (got < 0)
        in->read_failed = 1;
    return got;
}

static dm_source input_source(input *in) {
    return (dm_source){tracked_read, in, DM_SOURCE_STREAM};
}

/* Turns a failed read into its class: malformed armor, or plain I/O. */
static int input_error(const input *in) {
    if (in->armor != NULL && dm_armor_reader_err(in->armor) == DM_ERR_ARMOR)
        return DM_ERR_ARMOR; /* the armor reader set the detail */
    return dm_fail(DM_ERR_IO, "read failed");
}

static int ensure_room(input *in, size_t want) {
    if (in->cap - in->len >= want)
        return DM_OK;
    size_t cap = in->cap ? in->cap : READ_BLOCK;
    while (cap - in->len < want)
        cap *= 2;
    uint8_t *grown = realloc(in->buf, cap);
    if (grown == NULL)
        return dm_fail(DM_ERR_NOMEM, "header buffer");
    in->buf = grown;
    in->cap = cap;
    return DM_OK;
}

static int is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Reads enough to tell armor from binary, then sets up in->src. */
static int input_open(input *in, dm_source raw) {
    memset(in, 0, sizeof *in);
    in->raw = raw;
    const size_t want = sizeof DM_ARMOR_BEGIN - 1;
    size_t cap = READ_BLOCK, len = 0, ws = 0;
    int eof = 0;
    if ((in->peek = malloc(cap)) == NULL)
        return dm_fail(DM_ERR_NOMEM, "input buffer");
    for (;;) {
        while (ws < len && is_space(in->peek[ws]))
            ws++;
        if (eof || (len > ws && len - ws >= want) || len >= DM_MAX_HEADER_LEN)
            break;
        if (len == cap) {
            uint8_t *grown = realloc(in->peek, cap * 2);
            if (grown == NULL)
                return dm_fail(DM_ERR_NOMEM, "input buffer");
            in->peek = grown;
            cap *= 2;
        }
        ssize_t got = raw.read(raw.ctx, in->peek + len, cap - len);
        if (got < 0)
            return dm_fail(DM_ERR_IO, "read failed");
        if (got == 0)
            eof = 1;
        len += (size_t)got;
    }
    /* What looks like a PEM block (a dashed line first, or a BEGIN line after
     * junk) but is not quite one is malformed armor, not a malformed header. */
    static const char intro[] = DM_INTRO;
    int binary = len >= ws + 3 && memcmp(in->peek + ws, intro, 3) == 0;
    int dashed = len >= ws + 5 && memcmp(in->peek + ws, "-----", 5) == 0;
    int armored = dm_armor_detect(in->peek, len) ||
                  (!binary && (dashed || memmem(in->peek, len, DM_ARMOR_BEGIN,
                                                sizeof DM_ARMOR_BEGIN - 1) != NULL));
    if (armored) {
        int err = dm_armor_reader_new(raw, in->peek, len, &in->armor);
        if (err == DM_OK)
            err = ensure_room(in, READ_BLOCK);
        if (err != DM_OK)
            return err;
        in->src = dm_armor_reader_source(in->armor);
        return DM_OK;
    }
    in->src = raw;
    int err = ensure_room(in, len > READ_BLOCK ? len : READ_BLOCK);
    if (err != DM_OK)
        return err;
    if (len > 0)
        memcpy(in->buf, in->peek, len);
    in->len = len;
    return DM_OK;
}

static void input_close(input *in) {
    if (in->armor)
        dm_armor_reader_free(in->armor);
    free(in->peek);
    if (in->buf)
        sodium_memzero(in->buf, in->len);
    free(in->buf);
}

/* Reads up to the end of the MAC line ("---" line) and parses the header. */
static int input_header(input *in, dm_header *hdr) {
    static const char intro[] = DM_INTRO;
    const size_t intro_len = sizeof intro - 1;
    size_t line = 0, scan = 0;
    int eof = 0;
    dm_source src = input_source(in);
    for (;;) {
        /* Walk the complete lines read so far. */
        int stop = 0;
        while (!stop) {
            uint8_t *nl = memchr(in->buf + scan, '\n', in->len - scan);
            if (nl == NULL) {
                scan = in->len;
                break;
            }
            size_t end = (size_t)(nl - in->buf) + 1;
            if (line > 0 && end - line >= 3 && memcmp(in->buf + line, "---", 3) == 0) {
                in->hdr_len = end;
                stop = 1;
            }
            line = scan = end;
        }
        if (stop)
            break;
        /* Not an age v1 file at all: let the parser say why, without
         * reading megabytes of something else. */
        size_t cmp = in->len < intro_len ? in->len : intro_len;
        if (memcmp(in->buf, intro, cmp) != 0 || eof || in->len >= DM_MAX_HEADER_LEN)
            break;
        int err = ensure_room(in, READ_BLOCK);
        if (err != DM_OK)
            return err;
        ssize_t got = src.read(src.ctx, in->buf + in->len, READ_BLOCK);
        if (got < 0)
            return input_error(in);
        if (got == 0)
            eof = 1;
        in->len += (size_t)got;
    }
    if (in->hdr_len == 0) {
        if (in->len >= DM_MAX_HEADER_LEN)
            return dm_fail(DM_ERR_HEADER, "header is larger than %u bytes",
                           (unsigned)DM_MAX_HEADER_LEN);
        /* Incomplete or foreign: the parser names the first fault. */
        int err = dm_header_parse(in->buf, in->len, hdr);
        if (err == DM_OK) {
            dm_header_clear(hdr);
            err = dm_fail(DM_ERR_HEADER, "header is truncated");
        }
        return err == DM_ERR_HEADER ? err : dm_fail(DM_ERR_HEADER, "malformed header");
    }
    if (in->hdr_len > DM_MAX_HEADER_LEN)
        return dm_fail(DM_ERR_HEADER, "header is larger than %u bytes",
                       (unsigned)DM_MAX_HEADER_LEN);
    int err = dm_header_parse(in->buf, in->hdr_len, hdr);
    if (err != DM_OK)
        return err;
    if (hdr->len != in->hdr_len) {
        dm_header_clear(hdr);
        return dm_fail(DM_ERR_HEADER, "header ends before its MAC line");
    }
    return DM_OK;
}

/* Reads the rest of the input, handing each block to sink (when not NULL)
 * or adding its length to *n; what names the buffer when there is no memory. */
static int input_drain(input *in, const dm_sink *sink, const char *what, uint64_t *n) {
    dm_source src = input_source(in);
    uint8_t *scratch = malloc(READ_BLOCK);
    int err = scratch ? DM_OK : dm_fail(DM_ERR_NOMEM, "%s", what);
    while (err == DM_OK) {
        ssize_t got = src.read(src.ctx, scratch, READ_BLOCK);
        if (got < 0)
            err = input_error(in);
        else if (got == 0)
            break;
        else if (sink != NULL)
            err = sink_put(*sink, scratch, (size_t)got);
        else
            *n += (uint64_t)got;
    }
    free(scratch);
    return err;
}

/* ------------------------------------------------------------- decrypt */

static int has_stanza(const dm_header *hdr, const char *type) {
    for (size_t i = 0; i < hdr->stanzas.len; i++)
        if (strcmp(hdr->stanzas.items[i].type, type) == 0)
            return 1;
    return 0;
}

static int accepted_beside(const char *type, dm_identity *const *ids, size_t n_ids) {
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i]->beside != NULL && ids[i]->beside(ids[i], type))
            return 1;
    return 0;
}

/* age's rule for passphrases: a scrypt stanza stands alone, so whoever knows
 * the passphrase knows no one else could have written the file; but for the
 * stanzas an identity accepts beside it (dm_identity.beside). */
static int check_scrypt_alone(const dm_header *hdr, dm_identity *const *ids, size_t n_ids) {
    size_t scrypts = 0, others = 0;
    for (size_t i = 0; i < hdr->stanzas.len; i++) {
        const char *type = hdr->stanzas.items[i].type;
        if (strcmp(type, SCRYPT_TYPE) == 0)
            scrypts++;
        else if (!accepted_beside(type, ids, n_ids))
            others++;
    }
    if (scrypts > 1 || (scrypts == 1 && others > 0))
        return dm_fail(DM_ERR_HEADER, "an scrypt stanza must be alone in the header");
    return DM_OK;
}

/* The first identity that unwraps a stanza gives the file key. An identity
 * that explains its no-match ("incorrect passphrase") is heard. */
static int unwrap_any(const dm_header *hdrp, dm_identity *const *ids, size_t n_ids,
                      uint8_t *file_key) {
    char why[160] = "";
    int err = DM_ERR_NO_MATCH, why_err = DM_ERR_NO_MATCH;
    for (size_t i = 0; i < n_ids; i++) {
        err = ids[i]->unwrap(ids[i], &hdrp->stanzas, file_key);
        if (err != DM_ERR_NO_MATCH && err != DM_ERR_BAD_PASSPHRASE)
            break;
        if (dm_err_detail()[0] != '\0' && why[0] == '\0') {
            snprintf(why, sizeof why, "%s", dm_err_detail());
            why_err = err;
        }
        err = DM_ERR_NO_MATCH;
    }
    /* The first identity that said why it did not match is heard, with its
     * own code (a wrong passphrase is DM_ERR_BAD_PASSPHRASE). */
    if (err == DM_ERR_NO_MATCH && why[0] != '\0')
        err = dm_fail(why_err, "%s", why);
    else if (err == DM_ERR_NO_MATCH && has_stanza(hdrp, SCRYPT_TYPE))
        dm_fail(err, "file is passphrase-encrypted but identities were specified");
    else if (err == DM_ERR_NO_MATCH)
        dm_fail(err, "none of %zu identities unwrapped any of %zu recipient stanzas", n_ids,
                hdrp->stanzas.len);
    return err;
}

/* The file key of hdr, as decrypt and rekey open it: the scrypt rule, an
 * identity that unwraps a stanza, and the header's MAC. */
static int open_file_key(const dm_header *hdrp, dm_identity *const *ids, size_t n_ids,
                         uint8_t *file_key) {
    int err = check_scrypt_alone(hdrp, ids, n_ids);
    if (err == DM_OK)
        err = unwrap_any(hdrp, ids, n_ids, file_key);
    if (err == DM_OK && dm_header_verify_mac(hdrp, file_key) != DM_OK)
        err = dm_fail(DM_ERR_HMAC, "the header was altered or the file key is wrong");
    return err;
}

int dm_decrypt(dm_source in, dm_sink out, dm_identity *const *ids, size_t n_ids,
               const dm_decrypt_opts *opts) {
    static const dm_decrypt_opts defaults = {0};
    opts = opts ? opts : &defaults;
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] == NULL || ids[i]->unwrap == NULL)
            return dm_fail(DM_ERR_USAGE, "identity %zu is not usable", i + 1);

    input inp;
    dm_header hdr;
    memset(&hdr, 0, sizeof hdr);
    int have_hdr = 0;
    uint8_t *file_key = NULL;
    int err = input_open(&inp, in);
    if (err == DM_OK && (err = input_header(&inp, &hdr)) == DM_OK)
        have_hdr = 1;
    if (err == DM_OK && (file_key = dm_secret_alloc(DM_STREAM_SECRETS_LEN)) == NULL)
        err = dm_fail(DM_ERR_NOMEM, "file key");
    if (err == DM_OK)
        err = open_file_key(&hdr, ids, n_ids, file_key);
    if (err == DM_OK && opts->policy != NULL)
        err = opts->policy(opts->policy_ctx, &hdr, file_key);
    if (err == DM_OK && opts->file_key_out != NULL)
        memcpy(opts->file_key_out, file_key, DM_FILE_KEY_LEN);
    if (err == DM_OK) {
        dm_source payload = input_source(&inp);
        size_t ahead = inp.len - inp.hdr_len;
        /* A binary file in memory is opened in place: hand back what the
         * header reader read ahead instead of copying it. */
        dm_membuf *mem = inp.armor == NULL ? dm_source_mem_of(in) : NULL;
        if (mem != NULL && mem->pos >= ahead) {
            mem->pos -= ahead;
            payload = in;
            ahead = 0;
        }
        /* A binary file on a descriptor goes to the engine as it is, with
         * what was read ahead: a regular file is then read by every worker
         * at its own offset (the bytes read ahead are read again). */
        if (inp.armor == NULL && dm_source_fd_of(in) != NULL)
            payload = in;
        err = dm_stream_open(payload, inp.buf + inp.hdr_len, ahead, out, file_key, opts->threads,
                             opts->backend);
        if (err == DM_ERR_IO && inp.read_failed)
            err = input_error(&inp);
    }

    dm_secret_free(file_key);
    if (have_hdr)
        dm_header_clear(&hdr);
    input_close(&inp);
    return err;
}

/* --------------------------------------------------------------- rekey */

int dm_rekey(dm_source in, dm_sink out, dm_identity *const *ids, size_t n_ids,
             dm_recipient *const *rcpts, size_t n_rcpts, const dm_rekey_opts *ropts) {
    static const dm_rekey_opts defaults = {0};
    ropts = ropts ? ropts : &defaults;
    int err = usable_recipients(rcpts, n_rcpts);
    if (err != DM_OK)
        return err;
    /* Open the file key exactly as decryption does (header MAC checked). */
    uint8_t *file_key = dm_secret_alloc(DM_FILE_KEY_LEN);
    if (file_key == NULL)
        return dm_fail(DM_ERR_NOMEM, "file key");
    input inp;
    dm_header old_hdr, new_hdr;
    memset(&old_hdr, 0, sizeof old_hdr);
    memset(&new_hdr, 0, sizeof new_hdr);
    int have_hdr = 0;
    size_t *first = calloc(n_rcpts + 1, sizeof *first);
    dm_armor_writer *armor = NULL;
    dm_sink sink = out;
    err = first ? input_open(&inp, in) : dm_fail(DM_ERR_NOMEM, "recipient list");
    if (first == NULL)
        memset(&inp, 0, sizeof inp);
    if (err == DM_OK && (err = input_header(&inp, &old_hdr)) == DM_OK)
        have_hdr = 1;
    if (err == DM_OK)
        err = open_file_key(&old_hdr, ids, n_ids, file_key);
    /* The same file key under new stanzas: the payload stays valid as it is. */
    if (err == DM_OK)
        err = wrap_all(rcpts, n_rcpts, file_key, first, &new_hdr);
    if (err == DM_OK)
        err = write_header(out, ropts->encrypt.armor, &new_hdr, file_key, &armor, &sink);
    /* The payload bytes, copied unchanged: what was read ahead, then the rest. */
    if (err == DM_OK && inp.len > inp.hdr_len)
        err = sink_put(sink, inp.buf + inp.hdr_len, inp.len - inp.hdr_len);
    if (err == DM_OK)
        err = input_drain(&inp, &sink, "copy buffer", NULL);
    if (err == DM_OK && armor)
        err = dm_armor_writer_finish(armor);
    if (armor)
        dm_armor_writer_free(armor);
    free(first);
    dm_header_clear(&new_hdr);
    if (have_hdr)
        dm_header_clear(&old_hdr);
    input_close(&inp);
    dm_secret_free(file_key);
    return err;
}

/* ------------------------------------------------------------- inspect */

int dm_inspect(dm_source in, dm_inspect_info *info) {
    memset(info, 0, sizeof *info);
    input inp;
    int err = input_open(&inp, in);
    if (err == DM_OK)
        err = input_header(&inp, &info->header);
    if (err != DM_OK) {
        input_close(&inp);
        return err;
    }
    info->armored = inp.armor != NULL;
    info->header_size = inp.hdr_len;
    uint64_t payload = inp.len - inp.hdr_len;
    err = input_drain(&inp, NULL, "read buffer", &payload);
    if (err == DM_OK)
        err = dm_header_file_id(&info->header, info->file_id);
    info->payload_size = payload;
    if (err == DM_OK) {
        /* Sizes alone show a payload that can't be valid: no room for the
         * nonce and one tag, a last chunk shorter than a tag, or an empty
         * last chunk after full ones. */
        const uint64_t ct_chunk = DM_CHUNK_SIZE + DM_TAG_LEN;
        if (payload < DM_NONCE_LEN + DM_TAG_LEN) {
            err = dm_fail(DM_ERR_PAYLOAD, "payload of %llu bytes is too short",
                          (unsigned long long)payload);
        } else {
            uint64_t body = payload - DM_NONCE_LEN;
            uint64_t chunks = (body + ct_chunk - 1) / ct_chunk;
            uint64_t last = body - (chunks - 1) * ct_chunk;
            info->chunks = chunks;
            if (last < DM_TAG_LEN || (last == DM_TAG_LEN && chunks > 1)) {
                err = dm_fail(DM_ERR_PAYLOAD, "payload size %llu can't end in a valid chunk",
                              (unsigned long long)payload);
            } else {
                info->plaintext_size = body - chunks * DM_TAG_LEN;
            }
        }
    }
    input_close(&inp);
    if (err != DM_OK && err != DM_ERR_PAYLOAD)
        dm_inspect_info_clear(info);
    return err;
}

void dm_inspect_info_clear(dm_inspect_info *info) {
    if (info == NULL)
        return;
    dm_header_clear(&info->header);
    memset(info, 0, sizeof *info);
}

/* ------------------------------------------------- file key identity */

static int file_key_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                           uint8_t file_key[DM_FILE_KEY_LEN]) {
    (void)stanzas;
    memcpy(file_key, self->ctx, DM_FILE_KEY_LEN);
    return DM_OK;
}

static void file_key_destroy(dm_identity *self) {
    dm_secret_free(self->ctx);
    self->ctx = NULL;
}

static const dm_identity file_key_kind = {.unwrap = file_key_unwrap, .destroy = file_key_destroy};

int dm_file_key_identity_new(const uint8_t file_key[DM_FILE_KEY_LEN], dm_identity **out) {
    uint8_t *key = dm_secret_alloc(DM_FILE_KEY_LEN);
    if (key == NULL)
        return dm_fail(DM_ERR_NOMEM, "file key identity");
    memcpy(key, file_key, DM_FILE_KEY_LEN);
    return dm_identity_make(&file_key_kind, key, "file key identity", out);
}
