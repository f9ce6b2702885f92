/* doormat escrow serve: one escrow agent as an HTTPS service.
 *
 *   POST /release    a release request (docs/escrow-format.md): the warrant
 *                    is checked and the share unwrapped by the same function
 *                    as `escrow unwrap` (dm_escrow_share_prepare, through
 *                    dm_escrow_release_add); its entry is appended to the
 *                    agent's transparency log; the requests that arrive
 *                    together are committed together (one fsync, one
 *                    checkpoint, one round of witness cosignatures); only
 *                    then does each share leave, with its receipt, sealed
 *                    (age) to the requester's recipient.
 *   GET  /log/...    the agent's log, read-only (c2sp.org/tlog-tiles paths).
 *   GET  /           what this is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service_internal.h"

#define MAX_LOG_FILE (16u << 20)

/* A release waiting for the commit of its batch. */
typedef struct pending {
    struct evhttp_request *req;
    struct agent *a;
    dm_escrow_share *share;
    uint64_t index;
    char recipient[DM_SVC_MAX_RECIPIENT + 1];
    char case_hex[2 * DM_ESCROW_DIGEST_LEN + 1]; /* the case, as logged: its digest */
    int gone;                                    /* the client hung up */
    struct pending *next;
} pending;

typedef struct agent {
    dm_svc svc;
    dm_escrow_authority *auth;
    dm_escrow_agent_key *key;
    const char *log_dir;
    dm_escrow_releaser *rel;
    dm_svc_cosigners cosigners;
    pending *head, **tail;
    size_t n_pending;
    struct event *flush_ev;
    char name[DM_ESCROW_MAX_AGENT_NAME + 16];
    unsigned long released, refused, batches;
    /* Where the time goes (seconds, wall clock of this one thread): parsing
     * the request, the warrant check and unwrap (with the entry appended),
     * the commit (tiles, fsync, checkpoint), the witnesses' round, the
     * receipt and sealing. The rest of the process's CPU is TLS and HTTP. */
    double t_parse, t_check, t_commit, t_witness, t_seal;
} agent;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
    case DM_ERR_LOG:
        return 503;
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

static void connection_closed(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    pending *p = arg;
    p->gone = 1;
}

static void schedule_flush(agent *a) {
    if (a->n_pending == 1)
        event_active(a->flush_ev, EV_TIMEOUT, 1);
}

/* Answers one release of a committed batch (or refuses it with why). */
static void answer(agent *a, pending *p, int commit_err, const char *commit_why) {
    if (!p->gone) {
        struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
        if (evcon)
            evhttp_connection_set_closecb(evcon, NULL, NULL);
    }
    char *share_text = NULL, *body = NULL;
    size_t share_len = 0, body_len = 0;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int err = commit_err;
    double t0 = mono();
    if (err == DM_OK)
        err = dm_escrow_release_receipt(a->rel, p->share, p->index);
    if (err == DM_OK)
        err = dm_escrow_share_format(p->share, &share_text, &share_len);
    if (err == DM_OK)
        err = seal(p->recipient, share_text, share_len, &sealed, &sealed_len);
    if (err == DM_OK)
        err = dm_svc_release_format(dm_escrow_agent_key_name(a->key), sealed, sealed_len, "", 0,
                                    &body, &body_len);
    a->t_seal += mono() - t0;
    if (p->gone) {
        /* Logged and cosigned, never delivered: the log shows a release the
         * requester did not get, which errs on the side of disclosure. */
        fprintf(a->svc.log, "%s: the requester of entry %llu hung up before its answer\n",
                a->svc.name, (unsigned long long)p->index);
    } else if (err == DM_OK) {
        char why[160];
        snprintf(why, sizeof why, "released entry %llu, case %s", (unsigned long long)p->index,
                 p->case_hex);
        dm_svc_reply(&a->svc, p->req, 200, "text/plain; charset=utf-8", body, body_len, why);
        a->released++;
    } else {
        a->refused++;
        dm_svc_error(&a->svc, p->req, status_of(err), "%s: %s", dm_strerror(err),
                     commit_err ? commit_why : dm_err_detail());
    }
    free(body);
    free(sealed);
    dm_secret_free(share_text);
}

/* Commits every release added since the last flush, then answers them all. */
static void flush(agent *a) {
    if (a->head == NULL)
        return;
    double t0 = mono(), w0 = a->cosigners.seconds;
    int err = dm_escrow_release_commit(a->rel, a->cosigners.list, a->cosigners.n);
    double spent = mono() - t0, in_witnesses = a->cosigners.seconds - w0;
    a->t_witness += in_witnesses;
    a->t_commit += spent - in_witnesses;
    char why[512] = "";
    if (err != DM_OK)
        snprintf(why, sizeof why, "%s", dm_err_detail());
    a->batches++;
    pending *p = a->head;
    a->head = NULL;
    a->tail = &a->head;
    a->n_pending = 0;
    while (p != NULL) {
        pending *next = p->next;
        answer(a, p, err, why);
        dm_escrow_share_free(p->share);
        free(p);
        p = next;
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    flush(arg);
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
    pending *p = NULL;
    double t0 = mono();
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
    if (err == DM_OK && a->svc.stopping) {
        err = dm_fail(DM_ERR_IO, "the agent is stopping");
        code = 503;
    }
    if (err == DM_OK && (p = calloc(1, sizeof *p)) == NULL)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    double t1 = mono();
    a->t_parse += t1 - t0;
    if (err == DM_OK) {
        /* The requester named in the entry is the recipient the share is sealed to. */
        err = dm_escrow_release_add(a->rel, w, &hdr, r.recipient, time(NULL), &p->share, &p->index);
        if (err != DM_OK)
            code = status_of(err);
    }
    a->t_check += mono() - t1;
    if (err == DM_OK) {
        p->req = req;
        p->a = a;
        snprintf(p->recipient, sizeof p->recipient, "%s", r.recipient);
        dm_escrow_warrant_case_hex(w, p->case_hex);
        struct evhttp_connection *evcon = evhttp_request_get_connection(req);
        if (evcon)
            evhttp_connection_set_closecb(evcon, connection_closed, p);
        *a->tail = p;
        a->tail = &p->next;
        a->n_pending++;
        p = NULL;
        schedule_flush(a);
    } else {
        a->refused++;
        dm_svc_error(&a->svc, req, code ? code : 503, "%s: %s", dm_strerror(err), dm_err_detail());
    }
    free(p);
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
    flush(a); /* the releases in flight: durable, cosigned, answered */
    fprintf(svc->log, "%s: %lu released, %lu refused, %lu commits; log size %llu\n", svc->name,
            a->released, a->refused, a->batches,
            (unsigned long long)dm_escrow_releaser_size(a->rel));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    fprintf(svc->log,
            "%s: seconds: cpu %.3f; parse %.3f, warrant check and unwrap %.3f, log commit "
            "and fsync %.3f, witnesses %.3f, receipt and sealing %.3f\n",
            svc->name, cpu, a->t_parse, a->t_check, a->t_commit, a->t_witness, a->t_seal);
}

int dm_service_agent_run(const dm_service_opts *o, const char *authority_path,
                         const char *agent_key_path, const char *log_dir) {
    agent *a = calloc(1, sizeof *a);
    if (a == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    a->log_dir = log_dir;
    a->tail = &a->head;
    int err = dm_escrow_authority_load(authority_path, &a->auth);
    if (err == DM_OK)
        err = dm_escrow_agent_key_load(a->auth, agent_key_path, &a->key);
    /* A log that does not verify stops the agent before it answers anyone. */
    if (err == DM_OK &&
        (err = dm_escrow_releaser_open(a->auth, a->key, log_dir, &a->rel)) != DM_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", dm_err_detail());
        err = dm_fail(err, "%s; nothing will be released", why);
    }
    if (err == DM_OK)
        err = dm_svc_cosigners_new(a->auth, o->timeout_s ? o->timeout_s : 10, &a->cosigners);
    if (err == DM_OK && a->cosigners.n < dm_escrow_authority_witness_threshold(a->auth))
        err = dm_fail(DM_ERR_USAGE,
                      "the authority needs %u witness cosignatures, and authority.pub gives a URL "
                      "and TLS pin for %zu witnesses (url: and tls: lines)",
                      dm_escrow_authority_witness_threshold(a->auth), a->cosigners.n);
    char *tls = NULL;
    dm_service_opts opts = *o;
    if (err == DM_OK && opts.tls_path == NULL) {
        if ((tls = dm_service_tls_path_for(agent_key_path)) == NULL)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        opts.tls_path = tls;
    }
    if (err == DM_OK) {
        snprintf(a->name, sizeof a->name, "agent %s", dm_escrow_agent_key_name(a->key));
        err = dm_svc_start(&a->svc, &opts, a->name, handle, on_stop, a);
    }
    if (err == DM_OK) {
        /* The flush runs after every request the loop has read this round. */
        a->flush_ev = event_new(a->svc.base, -1, 0, on_flush, a);
        if (a->flush_ev == NULL || event_priority_set(a->flush_ev, 2) != 0)
            err = dm_fail(DM_ERR_INTERNAL, "cannot make the commit event");
    }
    if (err == DM_OK) {
        /* The checkpoint the agent starts on gets its cosignatures too (a
         * new log's empty tree, or one a crash left uncosigned), so that a
         * monitor sees a cosigned log before any release. Witnesses that are
         * down now only delay that: releases will ask them again. */
        if (dm_escrow_release_commit(a->rel, a->cosigners.list, a->cosigners.n) == DM_OK)
            fprintf(a->svc.log, "%s: log at size %llu, checkpoint cosigned\n", a->svc.name,
                    (unsigned long long)dm_escrow_releaser_size(a->rel));
        else
            fprintf(a->svc.log, "%s: log at size %llu; not cosigned yet: %s\n", a->svc.name,
                    (unsigned long long)dm_escrow_releaser_size(a->rel), dm_err_detail());
        fflush(a->svc.log);
        err = dm_svc_run(&a->svc);
    }
    flush(a);
    if (a->flush_ev)
        event_free(a->flush_ev);
    dm_svc_close(&a->svc);
    free(tls);
    dm_svc_cosigners_free(&a->cosigners);
    dm_escrow_releaser_close(a->rel);
    dm_escrow_agent_key_free(a->key);
    dm_escrow_authority_free(a->auth);
    free(a);
    return err;
}
