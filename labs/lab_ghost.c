/* ghost: GCHQ's "ghost user" (Ian Levy and Crispin Robinson, "Principles for
 * a More Informed Exceptional Access Debate", Lawfare, November 2018): the
 * provider's client silently adds one more participant to every
 * conversation. Here a client adds one more X25519 recipient -- the ghost --
 * to every file it sends. The lab sends the same messages three ways (an
 * honest client; an honest sender who adds a blind copy on purpose; the
 * ghost client), then counts what the receiver, the ghost and a monitor that
 * counts stanzas each get. age's stanzas name nobody (a privacy feature), so
 * the ghost's stanza has the same shape as everyone else's: only counting
 * reveals it, and counting cannot tell it from a blind copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_internal.h"

const char *const dm_lab_ghost_names[DM_LAB_GHOST_N] = {"honest", "bcc", "ghosted"};

enum { P_RECEIVER, P_SENDER, P_BCC, P_GHOST, P_N };
static const char *const key_names[P_N] = {"receiver.key", "sender.key", "bcc.key", "ghost.key"};

typedef struct cast {
    char *sk[P_N], *pk[P_N];
    dm_recipient *rcpt[P_N];
    dm_identity *id[P_N];
} cast;

static void cast_free(cast *c) {
    for (int i = 0; i < P_N; i++) {
        dm_identity_free(c->id[i]);
        dm_recipient_free(c->rcpt[i]);
        dm_secret_free(c->sk[i]);
        free(c->pk[i]);
    }
}

/* Two stanzas a reader cannot tell apart without the keys: same type, same
 * number of arguments of the same lengths, same body size. */
static bool same_shape(const dm_stanza *a, const dm_stanza *b) {
    if (strcmp(a->type, b->type) != 0 || a->nargs != b->nargs || a->body_len != b->body_len)
        return false;
    for (size_t i = 0; i < a->nargs; i++)
        if (strlen(a->args[i]) != strlen(b->args[i]))
            return false;
    return true;
}

/* Opens file with id: true when it gave exactly the message. */
static int opens(const dm_membuf *file, dm_identity *id, const char *msg, bool *opened) {
    uint8_t *plain = NULL;
    size_t plen = 0;
    int err = dm_lab_decrypt(file->buf, file->len, id, NULL, &plain, &plen, NULL);
    *opened = err == DM_OK && dm_lab_same(plain, plen, (const uint8_t *)msg, strlen(msg));
    free(plain);
    if (err == DM_OK && !*opened)
        return dm_fail(DM_ERR_INTERNAL, "a file decrypted to something else");
    return err == DM_ERR_NO_MATCH ? DM_OK : err;
}

int dm_lab_ghost(const dm_lab_ghost_opts *o, dm_lab_ghost_result *r) {
    memset(r, 0, sizeof *r);
    if (o->files < 1 || o->files > 100000)
        return dm_fail(DM_ERR_USAGE, "ghost wants 1 to 100000 files");
    cast c = {0};
    int err = DM_OK;
    for (int i = 0; i < P_N && !err; i++) {
        err = dm_x25519_keygen(&c.sk[i], &c.pk[i]);
        if (!err)
            err = dm_lab_write_identity(o->dir, key_names[i], c.sk[i]);
        if (!err)
            err = dm_x25519_recipient_parse(c.pk[i], &c.rcpt[i]);
        if (!err)
            err = dm_x25519_identity_parse(c.sk[i], &c.id[i]);
    }
    for (int p = 0; p < DM_LAB_GHOST_N && !err; p++)
        err = dm_lab_mkdir(o->dir, dm_lab_ghost_names[p]);
    for (int p = 0; p < DM_LAB_GHOST_N && !err; p++) {
        dm_lab_ghost_row *row = &r->rows[p];
        /* Who the sender addressed, and what her client really encrypts to. */
        dm_recipient *to[3] = {c.rcpt[P_RECEIVER], c.rcpt[P_SENDER], NULL};
        size_t n = 2;
        row->addressed = 2;
        if (p == DM_LAB_GHOST_BCC) {
            to[n++] = c.rcpt[P_BCC];
            row->addressed = 3;
        } else if (p == DM_LAB_GHOST_GHOSTED) {
            to[n++] = c.rcpt[P_GHOST]; /* the client's silent addition */
        }
        for (unsigned f = 0; f < o->files && !err; f++) {
            char msg[96], name[64];
            snprintf(msg, sizeof msg, "Message %u: see you at the usual place at %u o'clock.\n",
                     f + 1, 1 + f % 12);
            dm_membuf file = {0};
            double t0 = dm_lab_now();
            err = dm_lab_encrypt(to, n, NULL, NULL, (const uint8_t *)msg, strlen(msg), &file);
            row->encrypt_seconds += dm_lab_now() - t0;
            if (err)
                break;
            row->files++;
            snprintf(name, sizeof name, "%s/message-%04u.age", dm_lab_ghost_names[p], f + 1);
            err = dm_lab_write(o->dir, name, file.buf, file.len, 0644);
            if (!err && f == 0)
                err = dm_lab_path(r->sample[p], sizeof r->sample[p], o->dir, name);
            if (!err && f == 0 && p == 0)
                err = dm_lab_write(o->dir, "message-0001.txt", msg, strlen(msg), 0644);
            dm_header hdr = {0};
            if (!err)
                err = dm_header_parse(file.buf, file.len, &hdr);
            if (!err) {
                size_t x = 0;
                for (size_t i = 0; i < hdr.stanzas.len; i++)
                    x += strcmp(hdr.stanzas.items[i].type, "X25519") == 0;
                row->stanzas = x;
                /* A monitor that knows the sender addresses two people. */
                row->counted_flags += x != 2;
                /* The ghost's stanza (the client adds it last) beside the
                 * receiver's (the first), in every ghosted file. */
                if (p == DM_LAB_GHOST_GHOSTED)
                    r->ghost_stanza_same_shape =
                        (f == 0 || r->ghost_stanza_same_shape) && hdr.stanzas.len == 3 &&
                        same_shape(&hdr.stanzas.items[2], &hdr.stanzas.items[0]);
            }
            dm_header_clear(&hdr);
            bool opened = false;
            if (!err)
                err = opens(&file, c.id[P_RECEIVER], msg, &opened);
            row->receiver_opened += opened;
            if (!err)
                err = opens(&file, c.id[P_GHOST], msg, &opened);
            row->ghost_opened += opened;
            free(file.buf);
        }
    }
    /* The lab's claims, checked against what happened. */
    const dm_lab_ghost_row *h = &r->rows[DM_LAB_GHOST_HONEST], *b = &r->rows[DM_LAB_GHOST_BCC],
                           *g = &r->rows[DM_LAB_GHOST_GHOSTED];
    if (!err && !(h->receiver_opened == o->files && b->receiver_opened == o->files &&
                  g->receiver_opened == o->files && h->ghost_opened == 0 && b->ghost_opened == 0 &&
                  g->ghost_opened == o->files && h->stanzas == 2 && b->stanzas == 3 &&
                  g->stanzas == 3 && h->counted_flags == 0 && b->counted_flags == o->files &&
                  g->counted_flags == o->files && r->ghost_stanza_same_shape))
        err = dm_fail(DM_ERR_INTERNAL, "the ghost lab's outcomes are not what it claims");
    cast_free(&c);
    return err;
}
