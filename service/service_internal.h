/* What the service room shares inside itself: the HTTPS server frame every
 * service runs on, and the pinned HTTPS client. */
#ifndef DOORMAT_SERVICE_INTERNAL_H
#define DOORMAT_SERVICE_INTERNAL_H

#include <signal.h>
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
#define DM_SVC_MAX_HEADERS 16384 /* request line and headers (400), trailer (413) */
#define DM_SVC_DEFAULT_REQUEST_TIMEOUT 30
#define DM_SVC_LINGER_SECONDS 2
#define DM_SVC_DEFAULT_MAX_PER_ADDRESS 32

/* event_free, which libevent does not let take NULL. */
static inline void dm_svc_event_free(struct event *ev) {
    if (ev != NULL)
        event_free(ev);
}

/* ------------------------------------------------ the connections a server holds */

struct bufferevent;
struct sockaddr;

/* One accepted connection (conns.c keeps the table; server.c the rest). */
typedef struct dm_svc_conn {
    struct dm_svc_conn *tprev, *tnext; /* in the table: the longest waiting first */
    uint8_t addr[16];                  /* the peer (IPv4 as IPv4-mapped IPv6) */
    struct dm_svc_addr_group *group;   /* the connections of that address */
    int in_table;                      /* counted (admitted, not shed or closed) */
    int busy;                          /* a request with the handler, or its answer going out */
    int over;                          /* DM_SVC_OVER_*: answered 429, then closed */
    /* server.c's */
    struct dm_svc_conn *aprev, *anext; /* every live connection */
    struct dm_svc_conn *fresh_next;    /* accepted, not yet admitted */
    int fresh, detached;
    int linger_fd; /* a second descriptor of the socket, for a lingering close */
    struct dm_svc *svc;
    struct bufferevent *bev;
    struct event *deadline; /* the whole request's deadline */
    double t_request;       /* when its current request was read whole (metrics) */
} dm_svc_conn;

typedef struct dm_svc_addr_group {
    unsigned n; /* connections of one address in the table */
} dm_svc_addr_group;

typedef struct dm_svc_conns {
    dm_svc_conn *head, *tail;
    unsigned n;        /* connections in the table */
    unsigned max;      /* --max-connections */
    unsigned per_addr; /* --max-per-address */
} dm_svc_conns;

enum { DM_SVC_OVER_TOTAL = 1, DM_SVC_OVER_ADDRESS = 2 };
enum { DM_SVC_ADMITTED, DM_SVC_SHED, DM_SVC_OVER, DM_SVC_REFUSE };

/* Sets c's address from the peer's socket address. */
void dm_svc_conn_addr(dm_svc_conn *c, const struct sockaddr *sa);
/* Lets c in, waiting, as the newest. DM_SVC_ADMITTED; DM_SVC_SHED: *shed,
 * a waiting connection (the oldest of c's address when that address has
 * per_addr connections, else when there are max the oldest of the address
 * that holds the most), was taken out of the table to make room and must be
 * closed; DM_SVC_OVER: none could give way
 * (all busy), c->over says which limit (answer 429 and close); DM_SVC_REFUSE:
 * twice max already, c was not let in (close it now). */
int dm_svc_conns_admit(dm_svc_conns *t, dm_svc_conn *c, dm_svc_conn **shed);
/* Takes c out of the table (closed); nothing when it is not in it. */
void dm_svc_conns_remove(dm_svc_conns *t, dm_svc_conn *c);
/* c's request went to the handler: it cannot be shed until answered. */
void dm_svc_conns_busy(dm_svc_conns *t, dm_svc_conn *c);
/* c was answered and waits for its next request: the newest waiting. */
void dm_svc_conns_waiting(dm_svc_conns *t, dm_svc_conn *c);

SSL_CTX *dm_svc_server_ctx(const char *tls_path);

typedef struct dm_svc dm_svc;
/* A service's own lines of the metrics page (Prometheus text format), added
 * to buf; and its health: NULL when healthy, else why not (one line). */
struct evbuffer;
typedef void (*dm_svc_metrics_fn)(dm_svc *svc, struct evbuffer *buf, void *ctx);
typedef const char *(*dm_svc_health_fn)(dm_svc *svc, void *ctx);
/* The buckets of the answer-time histogram, in seconds (+Inf besides). */
#define DM_SVC_N_BUCKETS 12
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
    dm_svc_conns conns;              /* the table: limits and who gives way */
    dm_svc_conn *all;                /* every live connection */
    dm_svc_conn *fresh;              /* accepted since the last admission round */
    struct event *admit_ev;          /* the admission round */
    struct timeval request_tv;       /* --request-timeout */
    unsigned long shed, expired;     /* connections closed to make room, at the deadline */
    struct dm_svc_linger *lingering; /* closed connections whose client may still send */
    unsigned n_lingering;
    int stopping;     /* SIGTERM seen */
    /* metrics.c: the plain-HTTP metrics and health port, and what it counts */
    struct evhttp *metrics_http;
    double started;                      /* time() at start */
    unsigned long answers[600];          /* by HTTP status */
    unsigned long buckets[DM_SVC_N_BUCKETS + 1]; /* answer times, the last +Inf */
    double answer_seconds;               /* their sum */
    dm_svc_metrics_fn metrics;           /* the service's own lines (may be NULL) */
    dm_svc_health_fn health;             /* (may be NULL: healthy while running) */
    const char *name; /* "agent doj", "witness w1" for log lines */
    dm_svc_handler handler;
    dm_svc_stop_fn on_stop;
    void *ctx;
    /* SIGPIPE is blocked in the thread that runs the server, from start to
     * close (a peer gone while the loop writes to it is an EPIPE); the mask
     * it had before. */
    sigset_t sigpipe_mask;
    int sigpipe_blocked;
};

/* Binds, loads TLS, opens the log; the server does not run yet. */
int dm_svc_start(dm_svc *svc, const dm_service_opts *o, const char *name, dm_svc_handler handler,
                 dm_svc_stop_fn on_stop, void *ctx);
/* Runs until stopped (SIGTERM, SIGINT). */
int dm_svc_run(dm_svc *svc);
/* metrics.c: starts the metrics and health port of o->metrics_listen (plain
 * HTTP, meant for loopback) on svc's event loop; nothing when it is NULL. */
int dm_svc_metrics_start(dm_svc *svc, const dm_service_opts *o);
/* Counts one answer: its status and, when t_start > 0, how long since then. */
void dm_svc_metrics_count(dm_svc *svc, int code, double t_start);
/* A Prometheus label value, escaped (\\, \", \n), added to buf. */
void dm_svc_metrics_label(struct evbuffer *buf, const char *value);
/* The monotonic clock, in seconds. */
double dm_svc_now(void);
void dm_svc_close(dm_svc *svc);

/* Sends a reply and writes the request's log line (reason may be NULL). */
void dm_svc_reply(dm_svc *svc, struct evhttp_request *req, int code, const char *content_type,
                  const void *body, size_t len, const char *reason);
/* A text/plain error whose body is the reason, one line. */
void dm_svc_error(dm_svc *svc, struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The request body, NUL-terminated copy (malloc'd). */
int dm_svc_body(struct evhttp_request *req, char **body, size_t *len);
/* Why req's framing is unsafe to serve (NULL: it is not): conflicting
 * Content-Length headers, a Transfer-Encoding other than one "chunked", both
 * Transfer-Encoding and Content-Length. Answered 400, connection closed. */
const char *dm_svc_framing_error(struct evhttp_request *req);
/* True when the connection of req came in over the connection limit. */
int dm_svc_over_limit(dm_svc *svc, struct evhttp_request *req);
/* The request path without query, or NULL when the URI is malformed. */
const char *dm_svc_path(struct evhttp_request *req);
const char *dm_svc_method(struct evhttp_request *req);
/* The reason phrase of an HTTP status code. */
const char *dm_svc_reason_phrase(int code);
/* The start of a request's log line: the time, the service and the peer. */
void dm_svc_log_peer(dm_svc *svc, struct evhttp_request *req);
/* The request's log line (reason may be NULL). */
void dm_svc_log_request(dm_svc *svc, struct evhttp_request *req, int code, size_t len,
                        const char *reason);

/* ------------------------------------------------------- the HTTPS client */

typedef struct dm_svc_client dm_svc_client; /* a keep-alive connection to one server */

/* The longest base URL of a published log (dm_service_fetcher_new_ca). */
#define DM_SVC_MAX_BASE_URL 1024

/* Starts libcurl's global state once for the process (pthread_once): before
 * any curl handle is made. */
int dm_svc_curl_ready(void);
/* base_url "https://host:port" (no trailing slash); pin "sha256//..." */
int dm_svc_client_new(const char *base_url, const char *pin, unsigned timeout_s,
                      dm_svc_client **out);
/* The same client with the server's certificate checked (name and chain)
 * against the certificate authorities of ca_file (PEM: only those), or of
 * the system (libcurl's default store) when ca_file is NULL; a certificate
 * that does not verify is DM_ERR_DENIED. */
int dm_svc_client_new_ca(const char *base_url, const char *ca_file, unsigned timeout_s,
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
/* The base URL the client was made with, without trailing slashes. */
const char *dm_svc_client_base_url(const dm_svc_client *c);

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

/* Base64 of data added to a growing text (base's dm_buf); take says
 * DM_ERR_NOMEM with a detail when any addition failed. */
void dm_svc_buf_b64(dm_buf *t, const uint8_t *data, size_t n);
int dm_svc_buf_take(dm_buf *t, char **out, size_t *len);

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
    unsigned long *failures; /* per witness: rounds it failed (metrics) */
} dm_svc_cosigners;
int dm_svc_cosigners_new(const dm_escrow_authority *auth, struct event_base *base,
                         unsigned timeout_s, dm_svc_cosigners *out);
/* Starts a round over the checkpoint rel committed last; done is called
 * from the event loop when it ends (never from within this call). */
int dm_svc_cosign_start(dm_svc_cosigners *c, dm_escrow_releaser *rel, dm_svc_round_done done,
                        void *arg);
void dm_svc_cosigners_free(dm_svc_cosigners *c);
