/* doormat escrow serve: one escrow agent as an HTTPS service.
 *
 *   POST /release    a release request (docs/escrow-format.md): the warrant
 *                    is checked and the share unwrapped by dm_escrow_unwrap,
 *                    exactly as `escrow unwrap` does; the release is logged
 *                    durably before anything is answered, and the share
 *                    leaves only sealed (age) to the requester's recipient.
 *   GET  /log/...    the agent's log, read-only, as files of its directory.
 *   GET  /           what this is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service_internal.h"

#define MAX_LOG_FILE (16u << 20)

typedef struct agent {
    dm_svc svc;
    dm_escrow_authority *auth;
    dm_escrow_agent_key *key;
    const char *log_dir;
    char *audit_path;
    char name[DM_ESCROW_MAX_AGENT_NAME + 16];
    unsigned long released, refused;
} agent;

/* The status a refused release gets, by the error class. */
static int status_of(int err) {
    switch (err) {
    case DM_ERR_DENIED:
        return 403;
    case DM_ERR_NO_MATCH:
        return 422;
    case DM_ERR_USAGE:
    case DM_ERR_HEADER:
        return 400;
    case DM_ERR_IO:
        return 507;
    default:
        return 503;
    }
}

/* The share, as text, sealed in an age file to the requester. */
static int seal(const char *recipient, const char *text, size_t len, uint8_t **out,
                size_t *out_len) {
    dm_recipient *to = NULL;
    int err = dm_x25519_recipient_parse(recipient, &to);
    if (err != DM_OK)
        return dm_fail(DM_ERR_USAGE, "recipient \"%s\" is not an age1... X25519 recipient",
                       recipient);
    dm_membuf in = {.data = (const uint8_t *)text, .len = len};
    dm_membuf sink = {0};
    dm_encrypt_opts opts = {.threads = 1, .backend = DM_AEAD_SODIUM};
    err = dm_encrypt(dm_source_mem(&in), dm_sink_mem(&sink), &to, 1, &opts);
    dm_recipient_free(to);
    if (err != DM_OK) {
        free(sink.buf);
        return err;
    }
    *out = sink.buf;
    *out_len = sink.len;
    return DM_OK;
}

static void release(agent *a, struct evhttp_request *req) {
    char *body = NULL;
    size_t len = 0;
    dm_svc_release_req r;
    memset(&r, 0, sizeof r);
    dm_header hdr;
    memset(&hdr, 0, sizeof hdr);
    int have_hdr = 0;
    dm_escrow_warrant *w = NULL;
    dm_escrow_share *share = NULL;
    char *share_text = NULL, *answer = NULL;
    size_t share_len = 0, answer_len = 0;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int err = dm_svc_body(req, &body, &len);
    int code = 0;
    if (err == DM_OK && (err = dm_svc_release_req_parse(body, len, &r)) != DM_OK)
        code = 400;
    if (err == DM_OK && (err = dm_header_parse(r.header, r.header_len, &hdr)) != DM_OK)
        code = 400;
    else if (err == DM_OK)
        have_hdr = 1;
    if (err == DM_OK && have_hdr && hdr.len != r.header_len) {
        err = dm_fail(DM_ERR_USAGE, "the header field holds bytes after the header");
        code = 400;
    }
    if (err == DM_OK &&
        (err = dm_escrow_warrant_parse(r.warrant, r.warrant_len, &w, NULL)) != DM_OK)
        code = 400;
    if (err == DM_OK) {
        /* Check the recipient before anything is logged: a release that
         * cannot be sealed must leave no entry behind. */
        dm_recipient *to = NULL;
        if (dm_x25519_recipient_parse(r.recipient, &to) != DM_OK) {
            err = dm_fail(DM_ERR_USAGE, "recipient \"%s\" is not an age1... X25519 recipient",
                          r.recipient);
            code = 400;
        }
        dm_recipient_free(to);
    }
    if (err == DM_OK) {
        err = dm_escrow_unwrap(a->auth, a->key, w, &hdr, a->audit_path, time(NULL), &share);
        if (err != DM_OK)
            code = status_of(err);
    }
    if (err == DM_OK)
        err = dm_escrow_share_format(share, &share_text, &share_len);
    if (err == DM_OK)
        err = seal(r.recipient, share_text, share_len, &sealed, &sealed_len);
    if (err == DM_OK)
        err = dm_svc_release_format(dm_escrow_agent_key_name(a->key), sealed, sealed_len, "", 0,
                                    &answer, &answer_len);
    if (err == DM_OK) {
        char why[160];
        snprintf(why, sizeof why, "released case \"%s\"", dm_escrow_warrant_case(w));
        dm_svc_reply(&a->svc, req, 200, "text/plain; charset=utf-8", answer, answer_len, why);
        a->released++;
    } else {
        a->refused++;
        dm_svc_error(&a->svc, req, code ? code : 503, "%s: %s", dm_strerror(err), dm_err_detail());
    }
    free(answer);
    free(sealed);
    dm_secret_free(share_text);
    dm_escrow_share_free(share);
    dm_escrow_warrant_free(w);
    if (have_hdr)
        dm_header_free(&hdr);
    dm_svc_release_req_clear(&r);
    free(body);
}

/* A path under /log/ names a file of the log: "checkpoint" or a tile
 * ("tile/0/x001/234", "tile/entries/000.p/5"): lower-case letters, digits,
 * '.', '/', never "..", never a hidden file. */
static int log_path_ok(const char *p) {
    if (p[0] == '\0' || p[0] == '/' || strstr(p, "..") != NULL || strstr(p, "//") != NULL)
        return 0;
    if (strcmp(p, "checkpoint") == 0)
        return 1;
    if (strncmp(p, "tile/", 5) != 0)
        return 0;
    for (const char *c = p; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '/'))
            return 0;
    return 1;
}

static void serve_log(agent *a, struct evhttp_request *req, const char *rel) {
    if (!log_path_ok(rel)) {
        dm_svc_error(&a->svc, req, 404, "no such log resource \"/log/%.80s\"", rel);
        return;
    }
    size_t plen = strlen(a->log_dir) + strlen(rel) + 2;
    char *path = malloc(plen);
    if (path == NULL) {
        dm_svc_error(&a->svc, req, 503, "out of memory");
        return;
    }
    snprintf(path, plen, "%s/%s", a->log_dir, rel);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    char *data = NULL;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_LOG_FILE) {
        dm_svc_error(&a->svc, req, 404, "no such log resource \"/log/%.80s\"", rel);
    } else if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
        dm_svc_error(&a->svc, req, 503, "out of memory");
    } else {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        int is_checkpoint = strcmp(rel, "checkpoint") == 0;
        if (got != (size_t)st.st_size)
            dm_svc_error(&a->svc, req, 503, "cannot read the log");
        else
            dm_svc_reply(&a->svc, req, 200,
                         is_checkpoint ? "text/plain; charset=utf-8" : "application/octet-stream",
                         data, got, NULL);
    }
    if (fd >= 0)
        close(fd);
    free(data);
    free(path);
}

static void handle(dm_svc *svc, struct evhttp_request *req, void *ctx) {
    agent *a = ctx;
    const char *path = dm_svc_path(req);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (strcmp(path, "/release") == 0) {
        if (m != EVHTTP_REQ_POST)
            dm_svc_error(svc, req, 405, "%s /release: a release is a POST", dm_svc_method(req));
        else
            release(a, req);
    } else if (strncmp(path, "/log/", 5) == 0) {
        if (m != EVHTTP_REQ_GET)
            dm_svc_error(svc, req, 405, "%s %s: the log is read with GET", dm_svc_method(req),
                         "/log/");
        else
            serve_log(a, req, path + 5);
    } else if (strcmp(path, "/") == 0 && m == EVHTTP_REQ_GET) {
        char text[256];
        int n = snprintf(text, sizeof text,
                         "doormat escrow agent %s of authority %s (%s)\nPOST /release, GET "
                         "/log/checkpoint, GET /log/tile/...\n",
                         dm_escrow_agent_key_name(a->key), dm_escrow_authority_name(a->auth),
                         dm_escrow_authority_id_hex(a->auth));
        dm_svc_reply(svc, req, 200, "text/plain; charset=utf-8", text, (size_t)n, NULL);
    } else {
        dm_svc_error(svc, req, 404, "no such endpoint (POST /release, GET /log/...)");
    }
}

static void on_stop(dm_svc *svc, void *ctx) {
    agent *a = ctx;
    fprintf(svc->log, "%s: %lu released, %lu refused\n", svc->name, a->released, a->refused);
}

static int read_text(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    dm_svc_text t = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && t.len <= MAX_LOG_FILE)
        dm_svc_text_add(&t, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(t.data);
        return dm_fail(DM_ERR_IO, "%s: read error", path);
    }
    if (t.data == NULL)
        dm_svc_text_add(&t, "", 0);
    return dm_svc_text_take(&t, out, len);
}

/* A log that does not verify stops the agent before it answers anyone. */
static int check_log(agent *a) {
    char *text = NULL;
    size_t len = 0, n = 0, bad = 0;
    int err = read_text(a->audit_path, &text, &len);
    if (err == DM_OK)
        err = dm_escrow_audit_verify(a->auth, text, len, &n, &bad, NULL);
    free(text);
    if (err != DM_OK)
        return dm_fail(err, "the log %s does not verify, so nothing will be released: %s",
                       a->audit_path, dm_err_detail());
    return DM_OK;
}

int dm_service_agent_run(const dm_service_opts *o, const char *authority_path,
                         const char *agent_key_path, const char *log_dir) {
    agent a;
    memset(&a, 0, sizeof a);
    a.log_dir = log_dir;
    int err = dm_escrow_authority_load(authority_path, &a.auth);
    if (err == DM_OK)
        err = dm_escrow_agent_key_load(a.auth, agent_key_path, &a.key);
    if (err == DM_OK) {
        size_t n = strlen(log_dir) + sizeof "/audit.log";
        if ((a.audit_path = malloc(n)) == NULL)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        else
            snprintf(a.audit_path, n, "%s/audit.log", log_dir);
    }
    if (err == DM_OK)
        err = check_log(&a);
    char *tls = NULL;
    dm_service_opts opts = *o;
    if (err == DM_OK && opts.tls_path == NULL) {
        if ((tls = dm_service_tls_path_for(agent_key_path)) == NULL)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        opts.tls_path = tls;
    }
    if (err == DM_OK) {
        snprintf(a.name, sizeof a.name, "agent %s", dm_escrow_agent_key_name(a.key));
        err = dm_svc_start(&a.svc, &opts, a.name, handle, on_stop, &a);
    }
    if (err == DM_OK)
        err = dm_svc_run(&a.svc);
    dm_svc_close(&a.svc);
    free(tls);
    free(a.audit_path);
    dm_escrow_agent_key_free(a.key);
    dm_escrow_authority_free(a.auth);
    return err;
}
