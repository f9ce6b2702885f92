/* Signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint)
 * and Ed25519 cosignatures (c2sp.org/tlog-cosignature), parsed strictly.
 * Ed25519 and SHA-256 are libsodium's; base64 is libsodium's strict decoder
 * (padded, canonical). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tlog_internal.h"

static const char em_dash[] = "\xe2\x80\x94 "; /* U+2014 and a space */
#define EM_DASH_LEN 4

struct dm_tlog_signer {
    dm_tlog_verifier v;
    uint8_t sk[64]; /* libsodium's: seed || public key */
};

/* ------------------------------------------------------------ small pieces */

static int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *got) {
    const char *end = NULL;
    if (len == 0 || !dm_tlog_b64_chars(in, len) ||
        sodium_base642bin(out, cap, in, len, NULL, got, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != in + len)
        return -1;
    return 0;
}

static char *b64_encode(const uint8_t *in, size_t n) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* Key names: non-empty, printable, no space or '+' (non-ASCII UTF-8 is
 * allowed as the spec allows it; the note grammar checks the encoding). */
static int valid_name(const char *s, size_t len) {
    if (len == 0 || len > DM_TLOG_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '+')
            return 0;
    }
    return 1;
}

/* Valid UTF-8, and no control character but '\n'. */
static int clean_utf8(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n') || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t j = 1; j < n; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
            return 0;
        i += n;
    }
    return 1;
}

static int hex8(const char *s, size_t len, uint32_t *out) {
    if (len != 8)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

uint32_t dm_tlog_key_id(const char *name, uint8_t type, const uint8_t pk[32]) {
    crypto_hash_sha256_state st;
    uint8_t h[32];
    const uint8_t nl = '\n';
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, &nl, 1);
    crypto_hash_sha256_update(&st, &type, 1);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

/* ------------------------------------------------------------------- keys */

int dm_tlog_verifier_format(const dm_tlog_verifier *v, char **vkey) {
    uint8_t raw[33];
    raw[0] = v->type;
    memcpy(raw + 1, v->pk, 32);
    char *b = b64_encode(raw, sizeof raw);
    size_t cap = strlen(v->name) + 64;
    char *out = malloc(cap);
    if (!b || !out) {
        free(b);
        free(out);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    snprintf(out, cap, "%s+%08" PRIx32 "+%s", v->name, v->id, b);
    free(b);
    *vkey = out;
    return DM_OK;
}

/* NAME+KEYID+BASE64: names have no '+', base64 may. */
static int split_key(const char *s, size_t len, size_t *name_len, const char **id, const char **b64,
                     size_t *b64_len) {
    const char *p1 = memchr(s, '+', len);
    if (!p1 || (size_t)(s + len - p1) < 10 || p1[9] != '+')
        return -1;
    *name_len = (size_t)(p1 - s);
    *id = p1 + 1;
    *b64 = p1 + 10;
    *b64_len = (size_t)(s + len - (p1 + 10));
    return 0;
}

int dm_tlog_verifier_parse(const char *vkey, size_t len, dm_tlog_verifier *out) {
    memset(out, 0, sizeof *out);
    size_t name_len, b64_len, got = 0;
    const char *id, *b64;
    uint8_t raw[40];
    uint32_t kid;
    if (split_key(vkey, len, &name_len, &id, &b64, &b64_len) != 0 || !valid_name(vkey, name_len) ||
        hex8(id, 8, &kid) != 0 || b64_decode(b64, b64_len, raw, sizeof raw, &got) != 0 || got != 33)
        return dm_fail(DM_ERR_USAGE, "not a verifier key NAME+KEYID+BASE64 of an Ed25519 key");
    if (raw[0] != DM_TLOG_SIG_ED25519 && raw[0] != DM_TLOG_SIG_COSIGNATURE)
        return dm_fail(DM_ERR_USAGE, "verifier key of unsupported type 0x%02x", raw[0]);
    memcpy(out->name, vkey, name_len);
    out->type = raw[0];
    memcpy(out->pk, raw + 1, 32);
    out->id = dm_tlog_key_id(out->name, out->type, out->pk);
    if (out->id != kid)
        return dm_fail(DM_ERR_USAGE, "verifier key %s: the key ID does not match the key",
                       out->name);
    return DM_OK;
}

static int signer_from_seed(const char *name, size_t name_len, uint8_t type, const uint8_t seed[32],
                            dm_tlog_signer **out) {
    dm_tlog_signer *s = dm_secret_new(sizeof *s);
    if (!s)
        return DM_ERR_NOMEM;
    memcpy(s->v.name, name, name_len);
    s->v.type = type;
    if (crypto_sign_seed_keypair(s->v.pk, s->sk, seed) != 0) {
        dm_secret_free(s);
        return dm_fail(DM_ERR_INTERNAL, "Ed25519 key derivation failed");
    }
    s->v.id = dm_tlog_key_id(s->v.name, type, s->v.pk);
    *out = s;
    return DM_OK;
}

int dm_tlog_signer_parse(const char *skey, size_t len, dm_tlog_signer **out) {
    *out = NULL;
    static const char prefix[] = "PRIVATE+KEY+";
    const size_t pl = sizeof prefix - 1;
    while (len > 0 && skey[len - 1] == '\n')
        len--;
    size_t name_len = 0, b64_len = 0, got = 0;
    const char *id = NULL, *b64 = NULL;
    uint32_t kid = 0;
    uint8_t *raw = dm_secret_alloc(40);
    if (!raw)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    int err = DM_OK;
    if (len < pl || memcmp(skey, prefix, pl) != 0 ||
        split_key(skey + pl, len - pl, &name_len, &id, &b64, &b64_len) != 0 ||
        !valid_name(skey + pl, name_len) || hex8(id, 8, &kid) != 0 ||
        b64_decode(b64, b64_len, raw, 40, &got) != 0 || got != 33 ||
        (raw[0] != DM_TLOG_SIG_ED25519 && raw[0] != DM_TLOG_SIG_COSIGNATURE))
        err = dm_fail(DM_ERR_USAGE, "not a signer key PRIVATE+KEY+NAME+KEYID+BASE64");
    if (!err)
        err = signer_from_seed(skey + pl, name_len, raw[0], raw + 1, out);
    dm_secret_free(raw);
    if (!err && (*out)->v.id != kid) {
        dm_tlog_signer_free(*out);
        *out = NULL;
        err = dm_fail(DM_ERR_USAGE, "signer key: the key ID does not match the key");
    }
    return err;
}

int dm_tlog_signer_from_seed(const char *name, uint8_t type, const uint8_t seed[32],
                             dm_tlog_signer **out) {
    *out = NULL;
    if (!valid_name(name, strlen(name)))
        return dm_fail(DM_ERR_USAGE, "key name \"%s\" is empty or has a space or '+'", name);
    if (type != DM_TLOG_SIG_ED25519 && type != DM_TLOG_SIG_COSIGNATURE)
        return dm_fail(DM_ERR_USAGE, "unsupported key type");
    return signer_from_seed(name, strlen(name), type, seed, out);
}

int dm_tlog_signer_format(const dm_tlog_signer *s, char **skey) {
    uint8_t *raw = dm_secret_alloc(33);
    char *b = dm_secret_alloc(64);
    size_t cap = strlen(s->v.name) + 96;
    char *out = dm_secret_alloc(cap);
    if (!raw || !b || !out) {
        dm_secret_free(raw);
        dm_secret_free(b);
        dm_secret_free(out);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    raw[0] = s->v.type;
    memcpy(raw + 1, s->sk, 32);
    sodium_bin2base64(b, 64, raw, 33, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "PRIVATE+KEY+%s+%08" PRIx32 "+%s\n", s->v.name, s->v.id, b);
    dm_secret_free(raw);
    dm_secret_free(b);
    *skey = out;
    return DM_OK;
}

void dm_tlog_signer_free(dm_tlog_signer *s) {
    dm_secret_free(s);
}

const dm_tlog_verifier *dm_tlog_signer_verifier(const dm_tlog_signer *s) {
    return &s->v;
}

int dm_tlog_key_generate(const char *name, uint8_t type, char **skey, char **vkey) {
    *skey = *vkey = NULL;
    if (!valid_name(name, strlen(name)))
        return dm_fail(DM_ERR_USAGE, "key name \"%s\" is empty or has a space or '+'", name);
    if (type != DM_TLOG_SIG_ED25519 && type != DM_TLOG_SIG_COSIGNATURE)
        return dm_fail(DM_ERR_USAGE, "unsupported key type");
    uint8_t *raw = dm_secret_alloc(33);
    char *b = dm_secret_alloc(64);
    dm_tlog_signer *s = NULL;
    int err = raw && b ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err) {
        raw[0] = type;
        randombytes_buf(raw + 1, 32);
        sodium_bin2base64(b, 64, raw, 33, sodium_base64_VARIANT_ORIGINAL);
        err = signer_from_seed(name, strlen(name), type, raw + 1, &s);
    }
    if (!err) {
        size_t cap = strlen(name) + 96;
        *skey = dm_secret_alloc(cap);
        if (!*skey)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        else
            snprintf(*skey, cap, "PRIVATE+KEY+%s+%08" PRIx32 "+%s", name, s->v.id, b);
    }
    if (!err)
        err = dm_tlog_verifier_format(&s->v, vkey);
    if (err) {
        dm_secret_free(*skey);
        *skey = NULL;
    }
    dm_tlog_signer_free(s);
    dm_secret_free(raw);
    dm_secret_free(b);
    return err;
}

/* ------------------------------------------------------------------ signing */

static int sig_line(const char *name, uint32_t id, const uint8_t *sig, size_t sig_len, char **line,
                    size_t *line_len) {
    uint8_t raw[4 + 72];
    raw[0] = (uint8_t)(id >> 24);
    raw[1] = (uint8_t)(id >> 16);
    raw[2] = (uint8_t)(id >> 8);
    raw[3] = (uint8_t)id;
    memcpy(raw + 4, sig, sig_len);
    char *b = b64_encode(raw, 4 + sig_len);
    size_t cap = EM_DASH_LEN + strlen(name) + 1 + (b ? strlen(b) : 0) + 2;
    char *out = malloc(cap);
    if (!b || !out) {
        free(b);
        free(out);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    int n = snprintf(out, cap, "%s%s %s\n", em_dash, name, b);
    free(b);
    *line = out;
    *line_len = (size_t)n;
    return DM_OK;
}

int dm_tlog_note_sign(const char *text, size_t len, const dm_tlog_signer *s, char **note,
                      size_t *note_len) {
    *note = NULL;
    if (len == 0 || text[len - 1] != '\n' || !clean_utf8((const uint8_t *)text, len))
        return dm_fail(DM_ERR_USAGE, "a note text must be clean UTF-8 ending in a newline");
    if (s->v.type != DM_TLOG_SIG_ED25519)
        return dm_fail(DM_ERR_USAGE, "key %s is not a note signing key", s->v.name);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)text, len, s->sk);
    char *line;
    size_t line_len;
    int err = sig_line(s->v.name, s->v.id, sig, 64, &line, &line_len);
    if (err)
        return err;
    char *out = malloc(len + 1 + line_len + 1);
    if (!out) {
        free(line);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    memcpy(out, text, len);
    out[len] = '\n';
    memcpy(out + len + 1, line, line_len);
    out[len + 1 + line_len] = '\0';
    free(line);
    *note = out;
    *note_len = len + 1 + line_len;
    return DM_OK;
}

static int cosigned_message(const char *text, size_t len, uint64_t timestamp, uint8_t **msg,
                            size_t *msg_len) {
    char head[64];
    int h = snprintf(head, sizeof head, "cosignature/v1\ntime %" PRIu64 "\n", timestamp);
    uint8_t *m = malloc((size_t)h + len);
    if (!m)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(m, head, (size_t)h);
    memcpy(m + h, text, len);
    *msg = m;
    *msg_len = (size_t)h + len;
    return DM_OK;
}

int dm_tlog_cosign(const char *text, size_t len, const dm_tlog_signer *s, uint64_t timestamp,
                   char **line, size_t *line_len) {
    *line = NULL;
    if (s->v.type != DM_TLOG_SIG_COSIGNATURE)
        return dm_fail(DM_ERR_USAGE, "key %s is not a cosigning key", s->v.name);
    if (timestamp == 0 || timestamp > INT64_MAX)
        return dm_fail(DM_ERR_USAGE, "cosignature timestamp out of range");
    uint8_t *msg;
    size_t mlen;
    int err = cosigned_message(text, len, timestamp, &msg, &mlen);
    if (err)
        return err;
    uint8_t sig[72];
    for (int i = 0; i < 8; i++)
        sig[i] = (uint8_t)(timestamp >> (56 - 8 * i));
    crypto_sign_detached(sig + 8, NULL, msg, mlen, s->sk);
    free(msg);
    return sig_line(s->v.name, s->v.id, sig, 72, line, line_len);
}

/* ------------------------------------------------------------------ parsing */

void dm_tlog_note_free(dm_tlog_note *n) {
    if (!n)
        return;
    free(n->text);
    free(n->raw);
    free(n);
}

int dm_tlog_note_parse(const char *msg, size_t len, dm_tlog_note **out) {
    *out = NULL;
    if (len > DM_TLOG_MAX_NOTE)
        return dm_fail(DM_ERR_USAGE, "note longer than %d bytes", DM_TLOG_MAX_NOTE);
    if (len < 2 || msg[len - 1] != '\n' || !clean_utf8((const uint8_t *)msg, len))
        return dm_fail(DM_ERR_USAGE,
                       "a note must be UTF-8 without control characters, ending in a newline");
    /* The text ends at the last empty line. */
    size_t split = 0;
    int found = 0;
    for (size_t i = len - 1; i-- > 0;)
        if (msg[i] == '\n' && msg[i + 1] == '\n') {
            split = i + 1;
            found = 1;
            break;
        }
    if (!found || split + 1 >= len)
        return dm_fail(DM_ERR_USAGE, "a note needs its text, an empty line and signatures");
    dm_tlog_note *n = calloc(1, sizeof *n);
    uint8_t *raw = malloc(len);
    if (!n || !raw) {
        free(n);
        free(raw);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    n->text = malloc(split + 1);
    n->raw = malloc(len + 1);
    int err = n->text && n->raw ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err) {
        memcpy(n->text, msg, split);
        n->text[split] = '\0';
        n->text_len = split;
        memcpy(n->raw, msg, len);
        n->raw[len] = '\0';
        n->raw_len = len;
    }
    size_t pos = split + 1;
    while (!err && pos < len) {
        const char *line = n->raw + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = (size_t)(nl - line);
        if (n->n_sigs == DM_TLOG_MAX_SIGS) {
            err = dm_fail(DM_ERR_USAGE, "more than %d signatures", DM_TLOG_MAX_SIGS);
            break;
        }
        const char *sp =
            ll > EM_DASH_LEN ? memchr(line + EM_DASH_LEN, ' ', ll - EM_DASH_LEN) : NULL;
        if (ll <= EM_DASH_LEN || memcmp(line, em_dash, EM_DASH_LEN) != 0 || !sp) {
            err = dm_fail(DM_ERR_USAGE, "signature line %zu is not \"— NAME SIGNATURE\"",
                          n->n_sigs + 1);
            break;
        }
        const char *name = line + EM_DASH_LEN;
        size_t name_len = (size_t)(sp - name);
        size_t b_len = (size_t)(line + ll - (sp + 1));
        size_t got = 0;
        dm_tlog_note_sig *s = &n->sigs[n->n_sigs];
        if (!valid_name(name, name_len) || b64_decode(sp + 1, b_len, raw, len, &got) != 0 ||
            got < 5) {
            err = dm_fail(DM_ERR_USAGE, "signature line %zu: bad key name or signature",
                          n->n_sigs + 1);
            break;
        }
        memcpy(s->name, name, name_len);
        s->id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
        s->sig_len = got - 4;
        memcpy(s->sig, raw + 4, s->sig_len < sizeof s->sig ? s->sig_len : sizeof s->sig);
        s->line = line;
        s->line_len = ll + 1;
        n->n_sigs++;
        pos += ll + 1;
    }
    free(raw);
    if (err) {
        dm_tlog_note_free(n);
        return err;
    }
    *out = n;
    return DM_OK;
}

int dm_tlog_note_verify(const dm_tlog_note *n, const dm_tlog_verifier *vs, size_t n_vs, uint8_t *ok,
                        uint64_t *times) {
    if (ok)
        memset(ok, 0, n_vs);
    size_t verified = 0;
    for (size_t i = 0; i < n->n_sigs; i++) {
        const dm_tlog_note_sig *s = &n->sigs[i];
        for (size_t k = 0; k < n_vs; k++) {
            const dm_tlog_verifier *v = &vs[k];
            if (v->id != s->id || strcmp(v->name, s->name) != 0)
                continue;
            int good = 0;
            uint64_t ts = 0;
            if (v->type == DM_TLOG_SIG_ED25519) {
                good = s->sig_len == 64 &&
                       crypto_sign_verify_detached(s->sig, (const uint8_t *)n->text, n->text_len,
                                                   v->pk) == 0;
            } else if (v->type == DM_TLOG_SIG_COSIGNATURE && s->sig_len == 72) {
                for (int b = 0; b < 8; b++)
                    ts = ts << 8 | s->sig[b];
                uint8_t *msg;
                size_t mlen;
                if (ts <= INT64_MAX &&
                    cosigned_message(n->text, n->text_len, ts, &msg, &mlen) == DM_OK) {
                    good = crypto_sign_verify_detached(s->sig + 8, msg, mlen, v->pk) == 0;
                    free(msg);
                }
            }
            if (!good)
                return dm_fail(DM_ERR_LOG,
                               "the signature of %s (key %08" PRIx32 ") does not verify", v->name,
                               v->id);
            if (ok)
                ok[k] = 1;
            if (times)
                times[k] = ts;
            verified++;
        }
    }
    if (verified == 0)
        return dm_fail(DM_ERR_LOG, "no signature from a known key");
    return DM_OK;
}

/* -------------------------------------------------------------- checkpoints */

int dm_tlog_checkpoint_format(const dm_tlog_checkpoint *c, char **text, size_t *len) {
    char root[45];
    dm_tlog_hash_encode(c->root, root);
    size_t cap = strlen(c->origin) + 80;
    char *out = malloc(cap);
    if (!out)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    int n = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", c->origin, c->size, root);
    *text = out;
    if (len)
        *len = (size_t)n;
    return DM_OK;
}

int dm_tlog_checkpoint_parse(const char *text, size_t len, dm_tlog_checkpoint *out) {
    memset(out, 0, sizeof *out);
    const char *line[3];
    size_t ll[3];
    size_t pos = 0;
    for (int i = 0; i < 3; i++) {
        const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
        if (!nl)
            return dm_fail(DM_ERR_USAGE, "a checkpoint needs origin, size and root lines");
        line[i] = text + pos;
        ll[i] = (size_t)(nl - line[i]);
        pos += ll[i] + 1;
    }
    if (ll[0] == 0 || ll[0] > DM_TLOG_MAX_NAME || memchr(line[0], '\0', ll[0]) ||
        !clean_utf8((const uint8_t *)line[0], ll[0]))
        return dm_fail(DM_ERR_USAGE, "checkpoint: bad origin line");
    if (!dm_parse_u64(line[1], ll[1], &out->size))
        return dm_fail(DM_ERR_USAGE, "checkpoint: the size is not a decimal number");
    if (dm_tlog_hash_decode(line[2], ll[2], out->root) != DM_OK)
        return dm_fail(DM_ERR_USAGE, "checkpoint: the root is not 32 bytes of base64");
    /* Extension lines: opaque, but each non-empty. */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl || nl == text + pos)
            return dm_fail(DM_ERR_USAGE, "checkpoint: an empty or unterminated extension line");
        pos = (size_t)(nl - text) + 1;
    }
    memcpy(out->origin, line[0], ll[0]);
    return DM_OK;
}

int dm_tlog_checkpoint_open(const char *note, size_t len, const dm_tlog_verifier *log_key,
                            const dm_tlog_verifier *witnesses, size_t n_witnesses, unsigned needed,
                            dm_tlog_checkpoint *out) {
    dm_tlog_note *n = NULL;
    int err = dm_tlog_note_parse(note, len, &n);
    if (err)
        return err;
    dm_tlog_verifier *vs = calloc(n_witnesses + 1, sizeof *vs);
    uint8_t *ok = calloc(n_witnesses + 1, 1);
    if (!vs || !ok)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err) {
        vs[0] = *log_key;
        if (n_witnesses)
            memcpy(vs + 1, witnesses, n_witnesses * sizeof *vs);
        err = dm_tlog_checkpoint_parse(n->text, n->text_len, out);
    }
    if (!err && strcmp(out->origin, log_key->name) != 0)
        err = dm_fail(DM_ERR_LOG, "the checkpoint is for log \"%s\", not \"%s\"", out->origin,
                      log_key->name);
    if (!err)
        err = dm_tlog_note_verify(n, vs, n_witnesses + 1, ok, NULL);
    if (!err && !ok[0])
        err = dm_fail(DM_ERR_LOG, "the checkpoint is not signed by the log key %s", log_key->name);
    if (!err) {
        unsigned have = 0;
        for (size_t i = 1; i <= n_witnesses; i++)
            have += ok[i];
        if (have < needed)
            err = dm_fail(DM_ERR_LOG,
                          "the checkpoint of %s (size %" PRIu64
                          ") has %u valid witness cosignature%s, the policy needs %u",
                          out->origin, out->size, have, have == 1 ? "" : "s", needed);
    }
    free(vs);
    free(ok);
    dm_tlog_note_free(n);
    return err;
}
