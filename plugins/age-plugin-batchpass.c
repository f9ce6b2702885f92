/* age-plugin-batchpass: age 1.3's batchpass plugin as a program, built on the
 * vault's scrypt recipient and identity, for age clients that lack it (age
 * 1.1.1 gains `-j batchpass` with this on $PATH). doormat itself has it built
 * in (cli/passphrase.c, the same words). The server side of the age plugin
 * protocol (c2sp.org/age-plugin): recipient-v1 wraps each file key into one
 * scrypt stanza, identity-v1 opens a file whose only stanza is scrypt.
 *
 *   AGE_PASSPHRASE=... age -e -j batchpass -o file.age file
 *   AGE_PASSPHRASE_FD=3 age -d -j batchpass file.age 3<passfile
 *
 * AGE_PASSPHRASE_WORK_FACTOR (encrypting) and AGE_PASSPHRASE_MAX_WORK_FACTOR
 * (decrypting), 1 to 30, as in age. Secrets live in guarded memory. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "doormat/base.h"
#include "doormat/vault.h"

#define MAX_LINE 65536
#define MAX_BODY (1u << 20)
#define MAX_MESSAGES 4096

typedef struct msg {
    char *args[16];
    size_t nargs;
    char line[MAX_LINE];
    uint8_t *body;
    size_t body_len;
} msg;

static void die(const char *why) {
    fprintf(stderr, "age-plugin-batchpass: %s\n", why);
    exit(1);
}

static int read_line(char *buf, size_t cap) {
    if (fgets(buf, (int)cap, stdin) == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n == 0 || buf[n - 1] != '\n')
        return -1;
    buf[n - 1] = '\0';
    return (int)(n - 1);
}

/* One message: "-> ARGS..." then a canonical unpadded base64 body in lines of
 * 64 columns, ending with a shorter one. The body goes to guarded memory. */
static void read_msg(msg *m) {
    if (read_line(m->line, sizeof m->line) < 0 || strncmp(m->line, "-> ", 3) != 0)
        die("the client sent something that is not a message");
    m->nargs = 0;
    for (char *save = NULL, *tok = strtok_r(m->line + 3, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        if (m->nargs == sizeof m->args / sizeof m->args[0])
            die("a message with too many arguments");
        m->args[m->nargs++] = tok;
    }
    if (m->nargs == 0)
        die("a message with no command");
    m->body = sodium_malloc(MAX_BODY);
    if (m->body == NULL)
        die("out of memory");
    m->body_len = 0;
    char line[80];
    for (;;) {
        int n = read_line(line, sizeof line);
        if (n < 0 || n > 64)
            die("a malformed message body");
        size_t got = 0;
        if (n > 0 &&
            (sodium_base642bin(m->body + m->body_len, MAX_BODY - m->body_len, line, (size_t)n, NULL,
                               &got, NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
             (4 * got + 2) / 3 != (size_t)n))
            die("a body line that is not canonical base64");
        m->body_len += got;
        if (n < 64)
            break;
    }
}

static void free_msg(msg *m) {
    sodium_free(m->body);
    m->body = NULL;
}

static void write_msg(const char *head, const uint8_t *body, size_t len) {
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    char *b64 = sodium_malloc(cap);
    if (b64 == NULL)
        die("out of memory");
    sodium_bin2base64(b64, cap, body, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    size_t n = strlen(b64);
    printf("-> %s\n", head);
    for (size_t i = 0; i <= n; i += 64) {
        size_t k = n - i < 64 ? n - i : 64;
        printf("%.*s\n", (int)k, b64 + i);
        if (k < 64)
            break;
    }
    fflush(stdout);
    sodium_free(b64);
}

/* Sends a message and wants "ok" back. */
static void send_ok(const char *head, const uint8_t *body, size_t len) {
    write_msg(head, body, len);
    msg m;
    read_msg(&m);
    int ok = strcmp(m.args[0], "ok") == 0;
    free_msg(&m);
    if (!ok)
        die("the client did not answer ok");
}

static void fail(const char *kind, const char *why) {
    send_ok(kind, (const uint8_t *)why, strlen(why));
    exit(1);
}

static const char *env_set(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The passphrase, as age's plugin reads it; NULL with *why set. */
static char *passphrase(size_t *len, const char **why) {
    const char *pass = env_set("AGE_PASSPHRASE"), *fd_text = env_set("AGE_PASSPHRASE_FD");
    *why = NULL;
    if (pass != NULL && fd_text != NULL) {
        *why = "AGE_PASSPHRASE and AGE_PASSPHRASE_FD are mutually exclusive";
        return NULL;
    }
    if (pass == NULL && fd_text == NULL) {
        *why = "either AGE_PASSPHRASE or AGE_PASSPHRASE_FD must be set";
        return NULL;
    }
    char *out = sodium_malloc(4097);
    if (out == NULL)
        die("out of memory");
    size_t n = 0;
    if (pass != NULL) {
        n = strlen(pass);
        if (n > 4096) {
            *why = "AGE_PASSPHRASE is longer than 4096 bytes";
            sodium_free(out);
            return NULL;
        }
        memcpy(out, pass, n);
    } else {
        char *end = NULL;
        errno = 0;
        long fd = strtol(fd_text, &end, 10);
        if (errno != 0 || *end != '\0' || fd < 0 || fd > INT_MAX) {
            *why = "invalid AGE_PASSPHRASE_FD";
            sodium_free(out);
            return NULL;
        }
        ssize_t r = dm_read_all((int)fd, out, 4096);
        if (r < 0) {
            *why = "reading AGE_PASSPHRASE_FD failed";
            sodium_free(out);
            return NULL;
        }
        n = (size_t)r;
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
            n--;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static int work_factor(const char *name, const char **why) {
    const char *v = env_set(name);
    if (v == NULL)
        return 0;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > 30) {
        *why = strcmp(name, "AGE_PASSPHRASE_WORK_FACTOR") == 0
                   ? "AGE_PASSPHRASE_WORK_FACTOR must be between 1 and 30"
                   : "AGE_PASSPHRASE_MAX_WORK_FACTOR must be between 1 and 30";
        return -1;
    }
    return (int)n;
}

static int is_batchpass_identity(const char *s) {
    char want[64];
    return dm_plugin_default_identity_string("batchpass", want, sizeof want) == DM_OK &&
           strcmp(s, want) == 0;
}

/* The next message of a phase in *m; 0 at its "done". A phase of too many
 * messages ends the plugin. */
static int next_msg(msg *m, int *count) {
    if ((*count)++ == MAX_MESSAGES)
        die("too many messages");
    read_msg(m);
    if (strcmp(m->args[0], "done") == 0) {
        free_msg(m);
        return 0;
    }
    return 1;
}

/* An add-identity message (freed): the batchpass identity, with no payload. */
static void check_identity(msg *m) {
    int ok = m->nargs == 2 && is_batchpass_identity(m->args[1]);
    free_msg(m);
    if (!ok)
        fail("error identity 0", "batchpass identity does not take any payload");
}

/* The scrypt recipient (*r, when r is non-NULL) or identity (*id) of the
 * passphrase and of the work factor in the environment variable env; what is
 * missing or wrong ends the phase. */
static void scrypt_from_env(const char *env, dm_recipient **r, dm_identity **id) {
    const char *why = NULL;
    int log_n = work_factor(env, &why);
    size_t len = 0;
    char *pass = why == NULL ? passphrase(&len, &why) : NULL;
    if (why == NULL && (r != NULL ? dm_scrypt_recipient_new(pass, len, log_n, r)
                                  : dm_scrypt_identity_new(pass, len, log_n, id)) != DM_OK)
        why = dm_err_detail();
    sodium_free(pass);
    if (why != NULL)
        fail("error internal", why);
}

static void recipient_v1(void) {
    uint8_t *keys = sodium_malloc(DM_FILE_KEY_LEN * MAX_MESSAGES);
    size_t n_keys = 0, n_ids = 0;
    if (keys == NULL)
        die("out of memory");
    msg m;
    for (int i = 0; next_msg(&m, &i);) {
        const char *cmd = m.args[0];
        if (strcmp(cmd, "add-recipient") == 0) {
            free_msg(&m);
            fail("error recipient 0", "batchpass has no recipients: use -j batchpass");
        }
        if (strcmp(cmd, "add-identity") == 0) {
            check_identity(&m);
            n_ids++;
        } else if (strcmp(cmd, "wrap-file-key") == 0) {
            if (m.body_len != DM_FILE_KEY_LEN)
                die("a file key that is not 16 bytes");
            memcpy(keys + DM_FILE_KEY_LEN * n_keys++, m.body, DM_FILE_KEY_LEN);
            free_msg(&m);
        } else {
            free_msg(&m); /* extension-labels and what may come: nothing to say */
        }
    }
    dm_recipient *r = NULL;
    scrypt_from_env("AGE_PASSPHRASE_WORK_FACTOR", &r, NULL);
    for (size_t k = 0; k < n_keys; k++) {
        for (size_t id = 0; id < n_ids; id++) {
            dm_stanza_list out = {0};
            if (r->wrap(r, keys + DM_FILE_KEY_LEN * k, &out) != DM_OK || out.len != 1)
                fail("error internal", "scrypt failed");
            const dm_stanza *st = &out.items[0];
            char head[256];
            int w = snprintf(head, sizeof head, "recipient-stanza %zu %s", k, st->type);
            for (size_t a = 0; a < st->nargs && w > 0 && (size_t)w < sizeof head; a++)
                w += snprintf(head + w, sizeof head - (size_t)w, " %s", st->args[a]);
            send_ok(head, st->body, st->body_len);
            dm_stanza_list_clear(&out);
        }
    }
    dm_recipient_free(r);
    sodium_free(keys);
    write_msg("done", NULL, 0);
}

static void identity_v1(void) {
    /* Stanzas by file: the client sends them in file order. */
    dm_stanza_list files[64];
    size_t n_files = 0;
    memset(files, 0, sizeof files);
    msg m;
    for (int i = 0; next_msg(&m, &i);) {
        const char *cmd = m.args[0];
        if (strcmp(cmd, "add-identity") == 0) {
            check_identity(&m);
        } else if (strcmp(cmd, "recipient-stanza") == 0 && m.nargs >= 3) {
            char *end = NULL;
            unsigned long f = strtoul(m.args[1], &end, 10);
            if (*end != '\0' || f >= sizeof files / sizeof files[0])
                die("a file index out of range");
            if (f >= n_files)
                n_files = f + 1;
            if (dm_stanza_list_add(&files[f], m.args[2], (const char *const *)m.args + 3,
                                   m.nargs - 3, m.body, m.body_len) != DM_OK)
                die("out of memory");
            free_msg(&m);
        } else {
            free_msg(&m);
        }
    }
    dm_identity *id = NULL;
    scrypt_from_env("AGE_PASSPHRASE_MAX_WORK_FACTOR", NULL, &id);
    for (size_t f = 0; f < n_files; f++) {
        const dm_stanza_list *st = &files[f];
        char head[64];
        if (st->len != 1 || strcmp(st->items[0].type, "scrypt") != 0) {
            /* This plugin is the only way its user means to open the file. */
            snprintf(head, sizeof head, "error stanza %zu 0", f);
            fail(head, "file is not passphrase-encrypted");
        }
        uint8_t *key = sodium_malloc(DM_FILE_KEY_LEN);
        if (key == NULL)
            die("out of memory");
        int err = id->unwrap(id, st, key);
        if (err != DM_OK) {
            snprintf(head, sizeof head, "error stanza %zu 0", f);
            fail(head, err == DM_ERR_NO_MATCH ? "incorrect passphrase" : dm_err_detail());
        }
        snprintf(head, sizeof head, "file-key %zu", f);
        send_ok(head, key, DM_FILE_KEY_LEN);
        sodium_free(key);
    }
    for (size_t f = 0; f < n_files; f++)
        dm_stanza_list_clear(&files[f]);
    dm_identity_free(id);
    write_msg("done", NULL, 0);
}

int main(int argc, char **argv) {
    if (dm_init() != DM_OK)
        die("initialising");
    if (argc == 2 && strcmp(argv[1], "--age-plugin=recipient-v1") == 0)
        recipient_v1();
    else if (argc == 2 && strcmp(argv[1], "--age-plugin=identity-v1") == 0)
        identity_v1();
    else {
        fputs("age-plugin-batchpass: an age plugin for passphrases from the environment:\n"
              "  AGE_PASSPHRASE=... age -e -j batchpass -o FILE.age FILE\n"
              "  AGE_PASSPHRASE_FD=3 age -d -j batchpass FILE.age 3<PASSFILE\n"
              "AGE_PASSPHRASE_WORK_FACTOR (encrypt) and AGE_PASSPHRASE_MAX_WORK_FACTOR\n"
              "(decrypt): 1 to 30. Built with doormat, which has -j batchpass itself.\n",
              stderr);
        return 2;
    }
    return 0;
}
