/* What the service room shares inside itself: the HTTPS server frame every
 * service runs on, and the pinned HTTPS client. */
#ifndef DOORMAT_SERVICE_INTERNAL_H
#define DOORMAT_SERVICE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "doormat/service.h"

#define DM_SVC_DEFAULT_MAX_BODY 65536
#define DM_SVC_DEFAULT_TIMEOUT 10
#define DM_SVC_DEFAULT_MAX_CONNS 256
#define DM_SVC_MAX_HEADERS 16384

SSL_CTX *dm_svc_server_ctx(const char *tls_path);

typedef struct dm_svc dm_svc;
/* Handles one complete request (body read, within the limits). */
typedef void (*dm_svc_handler)(dm_svc *svc, struct evhttp_request *req, void *ctx);
/* Called once when the server is asked to stop, before it stops: finish
 * the work in flight. */
typedef void (*dm_svc_stop_fn)(dm_svc *svc, void *ctx);

struct dm_svc {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    SSL_CTX *ssl;
    struct event *sig_term, *sig_int;
    FILE *log;
    int own_log;
    unsigned conns, max_conns;
    int paused;       /* accepting stopped at the hard cap */
    int stopping;     /* SIGTERM seen */
    int closing;      /* being freed: connection counts no longer matter */
    const char *name; /* "agent doj", "witness w1" for log lines */
    dm_svc_handler handler;
    dm_svc_stop_fn on_stop;
    void *ctx;
};

/* Binds, loads TLS, opens the log; the server does not run yet. */
int dm_svc_start(dm_svc *svc, const dm_service_opts *o, const char *name, dm_svc_handler handler,
                 dm_svc_stop_fn on_stop, void *ctx);
/* Runs until stopped (SIGTERM, SIGINT). */
int dm_svc_run(dm_svc *svc);
void dm_svc_close(dm_svc *svc);

/* Sends a reply and writes the request's log line (reason may be NULL). */
void dm_svc_reply(dm_svc *svc, struct evhttp_request *req, int code, const char *content_type,
                  const void *body, size_t len, const char *reason);
/* A text/plain error whose body is the reason, one line. */
void dm_svc_error(dm_svc *svc, struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The request body, NUL-terminated copy (malloc'd). */
int dm_svc_body(struct evhttp_request *req, char **body, size_t *len);
/* True when the connection of req came in over the connection limit. */
int dm_svc_over_limit(dm_svc *svc, struct evhttp_request *req);
/* The request path without query, or NULL when the URI is malformed. */
const char *dm_svc_path(struct evhttp_request *req);
const char *dm_svc_method(struct evhttp_request *req);

/* ------------------------------------------------------- the HTTPS client */

typedef struct dm_svc_client dm_svc_client; /* a keep-alive connection to one server */

/* base_url "https://host:port" (no trailing slash); pin "sha256//..." */
int dm_svc_client_new(const char *base_url, const char *pin, unsigned timeout_s,
                      dm_svc_client **out);
void dm_svc_client_free(dm_svc_client *c);
/* GET (body NULL) or POST path; *status the HTTP status (0 with an error when
 * no answer: the detail says why: refused, timeout, pin mismatch); *resp is
 * the response body (malloc'd, NUL-terminated), capped at max_resp bytes. */
int dm_svc_client_call(dm_svc_client *c, const char *path, const char *body, size_t body_len,
                       size_t max_resp, long *status, char **resp, size_t *resp_len);
/* The same call in two halves, for a curl multi handle: the easy handle set
 * up for it (its CURLOPT_PRIVATE is c; timeout_ms 0: the client's timeout),
 * or NULL; then what came of it, as dm_svc_client_call says. */
CURL *dm_svc_client_prepare(dm_svc_client *c, const char *path, const char *body, size_t body_len,
                            size_t max_resp, unsigned timeout_ms);
int dm_svc_client_finish(dm_svc_client *c, CURLcode rc, long *status, char **resp,
                         size_t *resp_len);
CURL *dm_svc_client_easy(const dm_svc_client *c);

#endif

/* ------------------------------------------------------- the wire format */

#define DM_SVC_REQUEST_MAGIC "doormat-escrow-release-request/v1"
#define DM_SVC_RELEASE_MAGIC "doormat-escrow-release/v1"
#define DM_SVC_MAX_RECIPIENT 128

/* A release request as the agent reads it (docs/escrow-format.md). */
typedef struct dm_svc_release_req {
    char recipient[DM_SVC_MAX_RECIPIENT + 1];
    char *warrant; /* NUL-terminated */
    size_t warrant_len;
    uint8_t *header;
    size_t header_len;
} dm_svc_release_req;

int dm_svc_release_req_format(const char *recipient, const char *warrant, size_t warrant_len,
                              const uint8_t *header, size_t header_len, char **body,
                              size_t *body_len);
/* Strict: exactly the four lines, canonical padded base64. DM_ERR_USAGE saying what is wrong. */
int dm_svc_release_req_parse(const char *body, size_t len, dm_svc_release_req *out);
void dm_svc_release_req_clear(dm_svc_release_req *r);

/* The agent's answer: its name, the share sealed to the requester (an age
 * file), and the receipt (c2sp.org/tlog-proof text; empty when the log has none). */
typedef struct dm_svc_release {
    char agent[DM_ESCROW_MAX_AGENT_NAME + 1];
    uint8_t *sealed;
    size_t sealed_len;
    char *receipt;
    size_t receipt_len;
} dm_svc_release;

int dm_svc_release_format(const char *agent, const uint8_t *sealed, size_t sealed_len,
                          const char *receipt, size_t receipt_len, char **body, size_t *body_len);
int dm_svc_release_parse(const char *body, size_t len, dm_svc_release *out);
void dm_svc_release_clear(dm_svc_release *r);

/* A growing text (malloc'd); on allocation failure it stays failed. */
typedef struct dm_svc_text {
    char *data;
    size_t len, cap;
    int failed;
} dm_svc_text;
void dm_svc_text_add(dm_svc_text *t, const void *s, size_t n);
void dm_svc_text_printf(dm_svc_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dm_svc_text_b64(dm_svc_text *t, const uint8_t *data, size_t n);
int dm_svc_text_take(dm_svc_text *t, char **out, size_t *len);

/* ------------------------------------------------- witnesses, over HTTPS */

/* The authority's witnesses that authority.pub gives a URL and pin for,
 * asked all at once: each POST <url>/add-checkpoint is a transfer of one
 * curl multi handle driven by the service's own event loop (its sockets and
 * timer are libevent events), so waiting for a witness never stops the loop,
 * and each witness has its own deadline. A round ends as soon as the
 * authority's threshold of valid cosignatures is in, or when every witness
 * has answered or run out of time; a witness still busy when a round ends
 * keeps its transfer until its deadline and is not asked by the rounds in
 * between. */
typedef struct dm_svc_witness dm_svc_witness;
/* Called once a round has ended: err DM_OK (the checkpoint holds the
 * threshold) or DM_ERR_LOG; failures names every witness that failed and
 * why ("" when none), including any that answered with a bad cosignature
 * in a round that still met the threshold; slow names the witnesses not
 * waited for ("" when none). */
typedef void (*dm_svc_round_done)(void *arg, int err, const char *failures, const char *slow);
typedef struct dm_svc_cosigners {
    dm_svc_witness *w;
    size_t n;
    const char **names;
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* curl's */
    struct event *kick;  /* ends a round from the loop */
    unsigned timeout_ms;
    dm_escrow_round *round; /* the round in flight, NULL when none */
    dm_svc_round_done done;
    void *done_arg;
    double t_start;
    double seconds;       /* spent in rounds (wall clock), all told */
    FILE *log;            /* where a late failure is told (may be NULL) */
    const char *log_name; /* the service's name in its log lines */
} dm_svc_cosigners;
int dm_svc_cosigners_new(const dm_escrow_authority *auth, struct event_base *base,
                         unsigned timeout_s, dm_svc_cosigners *out);
/* Starts a round over the checkpoint rel committed last; done is called
 * from the event loop when it ends (never from within this call). */
int dm_svc_cosign_start(dm_svc_cosigners *c, dm_escrow_releaser *rel, dm_svc_round_done done,
                        void *arg);
void dm_svc_cosigners_free(dm_svc_cosigners *c);
