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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "doormat/base.h"
#include "service_internal.h"

#define MAX_LOG_FILE (16u << 20)
#define DEFAULT_WITNESS_TIMEOUT 5
#define MAX_RETRY_SECONDS 10 /* between rounds for a checkpoint not cosigned yet */

/* A release waiting for the commit of its batch. */
typedef struct pending {
    struct evhttp_request *req;
    struct agent *a;
    dm_escrow_share *share;
    uint64_t index;
    char recipient[DM_SVC_MAX_RECIPIENT + 1];
    char case_hex[2 * DM_ESCROW_DIGEST_LEN + 1]; /* the case, as logged: its digest */
    int gone;  /* the client hung up */
    int again; /* the same request as an earlier one: its entry, no new one */
    struct pending *next;
} pending;

typedef struct agent {
    dm_svc svc;
    dm_escrow_authority *auth;
    dm_escrow_agent_key *key;
    const char *log_dir;
    dm_escrow_releaser *rel;
    dm_svc_cosigners cosigners;
    unsigned witness_timeout_s;
    pending *head, **tail; /* added since the last commit */
    size_t n_pending;
    pending *batch; /* committed, its round of cosignatures in flight */
    int in_round;
    int uncosigned;   /* the last round did not meet the threshold */
    unsigned retry_s; /* until the next round for an uncosigned checkpoint */
    struct event *flush_ev, *retry_ev;
    char name[DM_ESCROW_MAX_AGENT_NAME + 16];
    unsigned long released, refused, batches;
    time_t cosigned_at; /* when the checkpoint last met the witness policy (metrics) */
    char health[160];
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
    case DM_ERR_NO_STANZA:
    case DM_ERR_TOO_FEW_SHARES:
    case DM_ERR_BAD_PASSPHRASE:
    case DM_ERR_NOT_FOUND:
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
    if (a->n_pending == 1 && !a->in_round)
        event_active(a->flush_ev, EV_TIMEOUT, 1);
}

/* The requester is gone when libevent saw its connection close, or when the
 * peer has shut its side (a client that gave up waiting). */
static int requester_gone(const pending *p) {
    if (p->gone)
        return 1;
    struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
    if (evcon == NULL)
        return 1;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0)
        return 0;
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* The log line of an answer that could not be delivered, in the format of
 * the server's lines; the request is then let go. */
static void undelivered(agent *a, pending *p, const char *what) {
    dm_svc_log_peer(&a->svc, p->req);
    fprintf(a->svc.log,
            "POST /release 499 0 undelivered: the requester hung up before the answer; %s\n",
            what);
    fflush(a->svc.log);
    dm_svc_metrics_count(&a->svc, 499, 0);
    if (evhttp_request_get_connection(p->req))
        evhttp_send_reply(p->req, 499, "Client Closed Request", NULL);
    else
        evhttp_request_free(p->req);
}

/* The agent's lines of the metrics page. */
static void agent_metrics(dm_svc *svc, struct evbuffer *b, void *ctx) {
    agent *a = ctx;
    (void)svc;
    evbuffer_add_printf(
        b,
        "# HELP doormat_releases_total Shares released (each with its entry in the log).\n"
        "# TYPE doormat_releases_total counter\n"
        "doormat_releases_total %lu\n"
        "# HELP doormat_release_refusals_total Release requests refused.\n"
        "# TYPE doormat_release_refusals_total counter\n"
        "doormat_release_refusals_total %lu\n"
        "# HELP doormat_batches_total Batches committed (one fsync and checkpoint each).\n"
        "# TYPE doormat_batches_total counter\n"
        "doormat_batches_total %lu\n"
        "# HELP doormat_log_entries Entries in the agent's transparency log.\n"
        "# TYPE doormat_log_entries gauge\n"
        "doormat_log_entries %llu\n"
        "# HELP doormat_checkpoint_cosigned 1 when the checkpoint meets the witness policy.\n"
        "# TYPE doormat_checkpoint_cosigned gauge\n"
        "doormat_checkpoint_cosigned %d\n"
        "# HELP doormat_checkpoint_age_seconds Since the checkpoint last met the witness policy.\n"
        "# TYPE doormat_checkpoint_age_seconds gauge\n"
        "doormat_checkpoint_age_seconds %.0f\n",
        a->released, a->refused, a->batches,
        a->rel ? (unsigned long long)dm_escrow_releaser_size(a->rel) : 0ULL, !a->uncosigned,
        a->cosigned_at ? difftime(time(NULL), a->cosigned_at) : 0.0);
    evbuffer_add_printf(b, "# HELP doormat_witness_failures_total Rounds each witness failed "
                           "(down, late, refused, or a bad cosignature).\n"
                           "# TYPE doormat_witness_failures_total counter\n");
    for (size_t i = 0; i < a->cosigners.n; i++) {
        evbuffer_add_printf(b, "doormat_witness_failures_total{witness=\"");
        dm_svc_metrics_label(b, a->cosigners.names && a->cosigners.names[i]
                                    ? a->cosigners.names[i]
                                    : "?");
        evbuffer_add_printf(b, "\"} %lu\n",
                            a->cosigners.failures ? a->cosigners.failures[i] : 0UL);
    }
}

/* Unhealthy while the checkpoint does not meet the witness policy. */
static const char *agent_health(dm_svc *svc, void *ctx) {
    agent *a = ctx;
    (void)svc;
    if (!a->uncosigned)
        return NULL;
    snprintf(a->health, sizeof a->health,
             "the checkpoint at log size %llu lacks the witness cosignatures the policy needs",
             a->rel ? (unsigned long long)dm_escrow_releaser_size(a->rel) : 0ULL);
    return a->health;
}

/* A one-line text/plain answer of any length (dm_svc_error's is bounded). */
static void reply_line(agent *a, struct evhttp_request *req, int code, const char *text) {
    size_t n = strlen(text);
    char *body = malloc(n + 2);
    if (body == NULL) {
        dm_svc_error(&a->svc, req, code, "%.400s", text);
        return;
    }
    memcpy(body, text, n);
    for (size_t i = 0; i < n; i++)
        if (body[i] == '\n' || body[i] == '\r')
            body[i] = ' ';
    body[n] = '\n';
    body[n + 1] = '\0';
    dm_svc_reply(&a->svc, req, code, "text/plain; charset=utf-8", body, n + 1, text);
    free(body);
}

/* Answers one release of a committed batch (or refuses it with why).
 * failures and slow name the witnesses that failed, and those not waited
 * for, in a round that may still have met the threshold. */
static void answer(agent *a, pending *p, int commit_err, const char *commit_why,
                   const char *failures, const char *slow) {
    int gone = requester_gone(p);
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
    if (err == DM_OK && !gone)
        err = dm_escrow_release_receipt(a->rel, p->share, p->index);
    if (err == DM_OK && !gone)
        err = dm_escrow_share_format(p->share, &share_text, &share_len);
    if (err == DM_OK && !gone)
        err = seal(p->recipient, share_text, share_len, &sealed, &sealed_len);
    if (err == DM_OK && !gone)
        err = dm_svc_release_format(dm_escrow_agent_key_name(a->key), sealed, sealed_len, "", 0,
                                    &body, &body_len);
    a->t_seal += mono() - t0;
    dm_buf why = {0};
    if (gone) {
        /* Logged (and cosigned, or not), never delivered: the log shows a
         * release the requester did not get, which errs on the side of
         * disclosure; the log line says it was not delivered. */
        if (commit_err == DM_OK)
            dm_buf_printf(&why, "entry %llu is logged and cosigned, its share not sent",
                          (unsigned long long)p->index);
        else
            dm_buf_printf(&why, "entry %llu is logged, and the release failed: %s",
                          (unsigned long long)p->index, commit_why);
        dm_buf_add(&why, "", 0); /* "" when nothing was said */
        undelivered(a, p, why.failed ? "entry logged" : why.data);
        a->refused += commit_err != DM_OK;
    } else if (err == DM_OK) {
        dm_buf_printf(&why, "released entry %llu%s, case %s", (unsigned long long)p->index,
                      p->again ? " (a request seen before)" : "", p->case_hex);
        if (failures[0])
            dm_buf_printf(&why, "; %s", failures);
        if (slow[0])
            dm_buf_printf(&why, "; not waited for: witness %s", slow);
        dm_buf_add(&why, "", 0); /* "" when nothing was said */
        if (failures[0])
            evhttp_add_header(evhttp_request_get_output_headers(p->req), "Doormat-Witness-Failures",
                              failures);
        dm_svc_reply(&a->svc, p->req, 200, "text/plain; charset=utf-8", body, body_len,
                     why.failed ? "released" : why.data);
        a->released++;
    } else {
        a->refused++;
        if (commit_err)
            reply_line(a, p->req, status_of(err), commit_why);
        else
            dm_svc_error(&a->svc, p->req, status_of(err), "%s: %s", dm_escrow_strerror(err),
                         dm_err_detail());
    }
    dm_buf_clear(&why);
    free(body);
    free(sealed);
    dm_secret_free(share_text);
}

static void answer_all(agent *a, pending *p, int err, const char *why, const char *failures,
                       const char *slow) {
    while (p != NULL) {
        pending *next = p->next;
        answer(a, p, err, why, failures, slow);
        dm_escrow_share_free(p->share);
        free(p);
        p = next;
    }
}

static void schedule_retry(agent *a) {
    struct timeval tv = {a->retry_s, 0};
    evtimer_add(a->retry_ev, &tv);
    if (a->retry_s < MAX_RETRY_SECONDS)
        a->retry_s = a->retry_s * 2 > MAX_RETRY_SECONDS ? MAX_RETRY_SECONDS : a->retry_s * 2;
}

/* The end of a round of cosignatures: the batch it was for is answered. */
static void round_done(void *arg, int err, const char *failures, const char *slow) {
    agent *a = arg;
    pending *batch = a->batch;
    a->batch = NULL;
    a->in_round = 0;
    a->t_witness = a->cosigners.seconds;
    char *why = NULL;
    unsigned long long size = (unsigned long long)dm_escrow_releaser_size(a->rel);
    if (err != DM_OK) {
        /* A witness outage is not an inconsistency: said as what it is. */
        dm_buf t = {0};
        dm_buf_printf(&t,
                      "not enough witness cosignatures: the log is at size %llu, and %s; no "
                      "share is released until the witnesses cosign (the agent asks them "
                      "again by itself; the same request sent again gets the same entry)",
                      size, dm_err_detail());
        if (!dm_buf_take(&t, &why, NULL))
            why = NULL;
        fprintf(a->svc.log, "%s: checkpoint of size %llu not cosigned: %s; asking again in %u s\n",
                a->svc.name, size, dm_err_detail(), a->retry_s);
        fflush(a->svc.log);
        a->uncosigned = 1;
        schedule_retry(a);
    } else {
        if (a->uncosigned || batch == NULL) {
            fprintf(a->svc.log, "%s: log at size %llu, checkpoint cosigned%s%s\n", a->svc.name,
                    size, failures[0] ? "; " : "", failures);
            fflush(a->svc.log);
        }
        a->uncosigned = 0;
        a->retry_s = 1;
        a->cosigned_at = time(NULL);
    }
    answer_all(a, batch, err, why ? why : "not enough witness cosignatures", failures, slow);
    free(why);
    if (a->head != NULL)
        event_active(a->flush_ev, EV_TIMEOUT, 1);
}

/* Commits every release added since the last flush, then has the new
 * checkpoint cosigned (a round in flight: the loop goes on), and answers
 * them when the round ends. With nothing added, a checkpoint not cosigned
 * yet gets another round. */
static void flush(agent *a) {
    if (a->in_round)
        return; /* the round's end flushes again */
    if (a->head == NULL && dm_escrow_releaser_cosigned_now(a->rel))
        return;
    pending *batch = a->head;
    a->head = NULL;
    a->tail = &a->head;
    a->n_pending = 0;
    double t0 = mono();
    int err = dm_escrow_release_commit_log(a->rel);
    a->t_commit += mono() - t0;
    if (batch != NULL)
        a->batches++;
    if (err == DM_OK && dm_escrow_releaser_cosigned_now(a->rel)) {
        answer_all(a, batch, DM_OK, "", "", "");
        return;
    }
    if (err == DM_OK) {
        a->batch = batch;
        a->in_round = 1;
        err = dm_svc_cosign_start(&a->cosigners, a->rel, round_done, a);
        if (err != DM_OK) {
            a->batch = NULL;
            a->in_round = 0;
            schedule_retry(a);
        }
    }
    if (err != DM_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", dm_err_detail());
        answer_all(a, batch, err, why, "", "");
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
        uint64_t committed = dm_escrow_releaser_size(a->rel);
        err = dm_escrow_release_add(a->rel, w, &hdr, r.recipient, time(NULL), &p->share, &p->index);
        if (err != DM_OK)
            code = status_of(err);
        else
            p->again = p->index < committed;
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
        dm_svc_error(&a->svc, req, code ? code : 503, "%s: %s", dm_escrow_strerror(err), dm_err_detail());
    }
    free(p);
    dm_escrow_warrant_free(w);
    if (have_hdr)
        dm_header_clear(&hdr);
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
        ssize_t got = dm_read_all(fd, data, (size_t)st.st_size);
        int is_checkpoint = strcmp(rel, "checkpoint") == 0;
        if (got != (ssize_t)st.st_size)
            dm_svc_error(&a->svc, req, 503, "cannot read the log");
        else
            dm_svc_reply(&a->svc, req, 200,
                         is_checkpoint ? "text/plain; charset=utf-8" : "application/octet-stream",
                         data, (size_t)got, NULL);
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
    (void)svc;
    flush(ctx); /* the releases in flight: durable, cosigned, answered (see drain) */
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    flush(arg);
}

/* After the loop stopped: the round in flight and the releases waiting end
 * (bounded by the witnesses' deadline), their answers leave, then the
 * counts. */
static void drain(agent *a) {
    dm_svc *svc = &a->svc;
    double until = mono() + a->witness_timeout_s + 2;
    while ((a->in_round || a->head != NULL) && mono() < until) {
        if (!a->in_round)
            flush(a);
        if (a->in_round)
            event_base_loop(svc->base, EVLOOP_ONCE);
    }
    struct timeval grace = {0, 300000};
    event_base_loopexit(svc->base, &grace);
    event_base_dispatch(svc->base);
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
    if (err == DM_OK && (err = dm_escrow_releaser_open_as(a->auth, a->key, log_dir, o->holder,
                                                          &a->rel)) != DM_OK &&
        err != DM_ERR_BUSY) {
        char why[600];
        snprintf(why, sizeof why, "%s", dm_err_detail());
        err = dm_fail(err, "%s; nothing will be released", why);
    }
    a->witness_timeout_s = o->witness_timeout_s ? o->witness_timeout_s : DEFAULT_WITNESS_TIMEOUT;
    a->retry_s = 1;
    size_t reachable = 0;
    for (size_t i = 0; err == DM_OK && i < dm_escrow_authority_witnesses(a->auth); i++) {
        const char *wname = dm_escrow_authority_witness(a->auth, i)->name;
        reachable += dm_escrow_authority_endpoint_url(a->auth, wname) != NULL &&
                     dm_escrow_authority_endpoint_pin(a->auth, wname) != NULL;
    }
    if (err == DM_OK && reachable < dm_escrow_authority_witness_threshold(a->auth))
        err = dm_fail(DM_ERR_USAGE,
                      "the authority needs %u witness cosignatures, and authority.pub gives a URL "
                      "and TLS pin for %zu witnesses (url: and tls: lines)",
                      dm_escrow_authority_witness_threshold(a->auth), reachable);
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
        a->svc.metrics = agent_metrics;
        a->svc.health = agent_health;
        a->cosigned_at = time(NULL);
    }
    if (err == DM_OK)
        err = dm_svc_cosigners_new(a->auth, a->svc.base, a->witness_timeout_s, &a->cosigners);
    if (err == DM_OK) {
        a->cosigners.log = a->svc.log;
        a->cosigners.log_name = a->svc.name;
        /* The flush runs after every request the loop has read this round. */
        a->flush_ev = event_new(a->svc.base, -1, 0, on_flush, a);
        a->retry_ev = evtimer_new(a->svc.base, on_retry, a);
        if (a->flush_ev == NULL || a->retry_ev == NULL || event_priority_set(a->flush_ev, 2) != 0)
            err = dm_fail(DM_ERR_INTERNAL, "cannot make the commit event");
    }
    if (err == DM_OK) {
        /* The checkpoint the agent starts on gets its cosignatures too (a
         * new log's empty tree, or one a crash left uncosigned), so that a
         * monitor sees a cosigned log before any release: a first round,
         * from the loop. Witnesses that are down now only delay that: the
         * agent asks them again until they cosign. */
        if (dm_escrow_releaser_cosigned_now(a->rel))
            fprintf(a->svc.log, "%s: log at size %llu, checkpoint cosigned\n", a->svc.name,
                    (unsigned long long)dm_escrow_releaser_size(a->rel));
        else
            event_active(a->flush_ev, EV_TIMEOUT, 1);
        fflush(a->svc.log);
        err = dm_svc_run(&a->svc);
    }
    if (a->svc.base != NULL && a->flush_ev != NULL)
        drain(a);
    dm_svc_cosigners_free(&a->cosigners);
    dm_svc_event_free(a->flush_ev);
    dm_svc_event_free(a->retry_ev);
    dm_svc_close(&a->svc);
    free(tls);
    dm_escrow_releaser_free(a->rel);
    dm_escrow_agent_key_free(a->key);
    dm_escrow_authority_free(a->auth);
    free(a);
    return err;
}
