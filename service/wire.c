/* The text a release request and its answer travel in (docs/escrow-format.md,
 * "Over the network"): a magic line and "key: value" lines, binary values in
 * standard padded base64, parsed strictly -- one form per message. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service_internal.h"

void dm_svc_buf_b64(dm_buf *t, const uint8_t *data, size_t n) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b = malloc(cap);
    if (b == NULL) {
        t->failed = true;
        return;
    }
    sodium_bin2base64(b, cap, data, n, sodium_base64_VARIANT_ORIGINAL);
    dm_buf_add(t, b, strlen(b));
    free(b);
}

int dm_svc_buf_take(dm_buf *t, char **out, size_t *len) {
    return dm_buf_take(t, out, len) ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
}

/* The next line of text at *pos (without its '\n'); false at the end or
 * when the line has no '\n'. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *llen) {
    if (*pos >= len)
        return 0;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (nl == NULL)
        return 0;
    *line = text + *pos;
    *llen = (size_t)(nl - *line);
    *pos = (size_t)(nl - text) + 1;
    return 1;
}

/* "key: value" with exactly that key. */
static int field(const char *line, size_t llen, const char *key, const char **v, size_t *vlen) {
    size_t k = strlen(key);
    if (llen < k + 2 || memcmp(line, key, k) != 0 || line[k] != ':' || line[k + 1] != ' ')
        return 0;
    *v = line + k + 2;
    *vlen = llen - k - 2;
    return 1;
}

/* Canonical padded base64 of at most max bytes into malloc'd memory. */
static int unb64(const char *v, size_t vlen, size_t max, uint8_t **out, size_t *out_len) {
    size_t cap = vlen / 4 * 3 + 3;
    if (vlen == 0 || vlen % 4 != 0 || cap > max + 3)
        return 0;
    uint8_t *buf = malloc(cap + 1);
    size_t got = 0;
    const char *end = NULL;
    if (buf == NULL ||
        sodium_base642bin(buf, cap, v, vlen, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != v + vlen || got == 0 || got > max) {
        free(buf);
        return 0;
    }
    /* Canonical: the text must be exactly what encoding the bytes gives. */
    size_t ecap = sodium_base64_ENCODED_LEN(got, sodium_base64_VARIANT_ORIGINAL);
    char *again = malloc(ecap);
    int same = again != NULL &&
               sodium_bin2base64(again, ecap, buf, got, sodium_base64_VARIANT_ORIGINAL) != NULL &&
               strlen(again) == vlen && memcmp(again, v, vlen) == 0;
    free(again);
    if (!same) {
        free(buf);
        return 0;
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    return 1;
}

void dm_svc_release_req_clear(dm_svc_release_req *r) {
    free(r->warrant);
    free(r->header);
    memset(r, 0, sizeof *r);
}

/* Both messages have one shape: a magic line, "NAME: text" (1 to max1
 * bytes), and two "NAME: base64" lines, canonical; the last may be empty
 * when last_may_be_empty. Each decoded field gets a NUL after it. */
typedef struct msg_shape {
    const char *magic, *what; /* "a release request" */
    const char *f1, *f1_hint; /* "recipient", "recipient: age1..." */
    size_t max1;
    const char *f2, *f3;
    int last_may_be_empty;
} msg_shape;

static int parse_msg(const msg_shape *m, const char *body, size_t len, char *text1, uint8_t **b2,
                     size_t *b2_len, uint8_t **b3, size_t *b3_len) {
    size_t pos = 0, llen = 0, vlen = 0;
    const char *line = NULL, *v = NULL;
    if (!next_line(body, len, &pos, &line, &llen) || llen != strlen(m->magic) ||
        memcmp(line, m->magic, llen) != 0)
        return dm_fail(DM_ERR_USAGE, "not %s (want a first line \"%s\")", m->what, m->magic);
    if (!next_line(body, len, &pos, &line, &llen) || !field(line, llen, m->f1, &v, &vlen) ||
        vlen == 0 || vlen > m->max1)
        return dm_fail(DM_ERR_USAGE, "line 2: want \"%s\"", m->f1_hint);
    memcpy(text1, v, vlen);
    text1[vlen] = '\0';
    if (!next_line(body, len, &pos, &line, &llen) || !field(line, llen, m->f2, &v, &vlen) ||
        !unb64(v, vlen, len, b2, b2_len))
        return dm_fail(DM_ERR_USAGE, "line 3: want \"%s: \" and canonical base64", m->f2);
    if (!next_line(body, len, &pos, &line, &llen) || !field(line, llen, m->f3, &v, &vlen) ||
        (vlen == 0 && m->last_may_be_empty ? (*b3 = calloc(1, 1)) == NULL
                                           : !unb64(v, vlen, len, b3, b3_len)))
        return dm_fail(DM_ERR_USAGE, "line 4: want \"%s: \" and canonical base64", m->f3);
    if (pos != len)
        return dm_fail(DM_ERR_USAGE, "unexpected bytes after the \"%s:\" line", m->f3);
    return DM_OK;
}

/* The message of shape m, its fields text1, then b2 and b3 in base64. */
static int format_msg(const msg_shape *m, const char *text1, const uint8_t *b2, size_t n2,
                      const uint8_t *b3, size_t n3, char **body, size_t *body_len) {
    dm_buf t = {0};
    dm_buf_printf(&t, "%s\n%s: %s\n%s: ", m->magic, m->f1, text1, m->f2);
    dm_svc_buf_b64(&t, b2, n2);
    dm_buf_printf(&t, "\n%s: ", m->f3);
    if (n3 > 0)
        dm_svc_buf_b64(&t, b3, n3);
    dm_buf_add(&t, "\n", 1);
    return dm_svc_buf_take(&t, body, body_len);
}

static const msg_shape request_shape = {
    DM_SVC_REQUEST_MAGIC, "a release request", "recipient", "recipient: age1...",
    DM_SVC_MAX_RECIPIENT, "warrant",           "header",    0};
static const msg_shape release_shape = {DM_SVC_RELEASE_MAGIC,     "a release", "agent",
                                        "agent: NAME",            DM_ESCROW_MAX_AGENT_NAME,
                                        "sealed",                 "receipt",   1};

int dm_svc_release_req_format(const char *recipient, const char *warrant, size_t warrant_len,
                              const uint8_t *header, size_t header_len, char **body,
                              size_t *body_len) {
    return format_msg(&request_shape, recipient, (const uint8_t *)warrant, warrant_len, header,
                      header_len, body, body_len);
}

int dm_svc_release_req_parse(const char *body, size_t len, dm_svc_release_req *out) {
    memset(out, 0, sizeof *out);
    uint8_t *w = NULL;
    int err = parse_msg(&request_shape, body, len, out->recipient, &w, &out->warrant_len, &out->header,
                        &out->header_len);
    out->warrant = (char *)w;
    if (err != DM_OK)
        dm_svc_release_req_clear(out);
    return err;
}

void dm_svc_release_clear(dm_svc_release *r) {
    free(r->sealed);
    free(r->receipt);
    memset(r, 0, sizeof *r);
}

int dm_svc_release_format(const char *agent, const uint8_t *sealed, size_t sealed_len,
                          const char *receipt, size_t receipt_len, char **body, size_t *body_len) {
    return format_msg(&release_shape, agent, sealed, sealed_len, (const uint8_t *)receipt,
                      receipt_len, body, body_len);
}

int dm_svc_release_parse(const char *body, size_t len, dm_svc_release *out) {
    memset(out, 0, sizeof *out);
    uint8_t *r = NULL;
    int err = parse_msg(&release_shape, body, len, out->agent, &out->sealed, &out->sealed_len, &r,
                        &out->receipt_len);
    out->receipt = (char *)r;
    if (err != DM_OK)
        dm_svc_release_clear(out);
    return err;
}
