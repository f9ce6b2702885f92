/* The metrics and health port of a service: plain HTTP on its own address
 * (meant for loopback: it tells counts, never secrets), on the service's
 * own event loop.
 *
 *   GET /metrics   Prometheus text format 0.0.4: answers by status, refusals
 *                  by reason, an answer-time histogram, connections, and the
 *                  service's own lines (an agent's releases, log size,
 *                  checkpoint age and witness failures by witness).
 *   GET /healthz   200 "ok" while the service serves; 503 and why not.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "service_internal.h"

static const double bucket_le[DM_SVC_N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5,   1,    2.5,   5,    10,  30};

double dm_svc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dm_svc_metrics_count(dm_svc *svc, int code, double t_start) {
    if (code >= 0 && code < (int)(sizeof svc->answers / sizeof svc->answers[0]))
        svc->answers[code]++;
    if (t_start <= 0)
        return;
    double took = dm_svc_now() - t_start;
    if (took < 0)
        took = 0;
    size_t b = 0;
    while (b < DM_SVC_N_BUCKETS && took > bucket_le[b])
        b++;
    svc->buckets[b]++;
    svc->answer_seconds += took;
}

void dm_svc_metrics_label(struct evbuffer *buf, const char *value) {
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            evbuffer_add_printf(buf, "\\%c", *p);
        else if (*p == '\n')
            evbuffer_add(buf, "\\n", 2);
        else
            evbuffer_add(buf, p, 1);
    }
}

/* Why a request was refused, by its status: the refusals' label. */
static const char *refusal_reason(int code) {
    switch (code) {
    case 400: return "malformed_request";
    case 403: return "refused";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 422: return "unprocessable";
    case 429: return "too_many_connections";
    case 499: return "requester_gone";
    case 500: return "internal_error";
    case 503: return "witnesses_unavailable";
    case 507: return "log_unwritable";
    default: return code >= 400 ? "other" : NULL;
    }
}

static void page(dm_svc *svc, struct evbuffer *b) {
    evbuffer_add_printf(b, "# HELP doormat_up 1 while the service serves.\n"
                           "# TYPE doormat_up gauge\n"
                           "doormat_up{service=\"");
    dm_svc_metrics_label(b, svc->name);
    evbuffer_add_printf(b, "\"} %d\n", svc->stopping ? 0 : 1);
    evbuffer_add_printf(b, "# HELP doormat_uptime_seconds Seconds since the service started.\n"
                           "# TYPE doormat_uptime_seconds gauge\n"
                           "doormat_uptime_seconds %.0f\n",
                        difftime(time(NULL), (time_t)svc->started));
    evbuffer_add_printf(b, "# HELP doormat_responses_total Answers sent, by HTTP status.\n"
                           "# TYPE doormat_responses_total counter\n");
    for (int c = 0; c < (int)(sizeof svc->answers / sizeof svc->answers[0]); c++)
        if (svc->answers[c])
            evbuffer_add_printf(b, "doormat_responses_total{code=\"%d\"} %lu\n", c,
                                svc->answers[c]);
    evbuffer_add_printf(b, "# HELP doormat_refusals_total Requests refused, by reason.\n"
                           "# TYPE doormat_refusals_total counter\n");
    /* Reasons that share a name (none today) would be summed. */
    for (int c = 400; c < (int)(sizeof svc->answers / sizeof svc->answers[0]); c++)
        if (svc->answers[c])
            evbuffer_add_printf(b, "doormat_refusals_total{reason=\"%s\",code=\"%d\"} %lu\n",
                                refusal_reason(c), c, svc->answers[c]);
    evbuffer_add_printf(b, "# HELP doormat_answer_seconds From a whole request read to its "
                           "answer.\n"
                           "# TYPE doormat_answer_seconds histogram\n");
    unsigned long cum = 0;
    for (size_t i = 0; i < DM_SVC_N_BUCKETS; i++) {
        cum += svc->buckets[i];
        evbuffer_add_printf(b, "doormat_answer_seconds_bucket{le=\"%g\"} %lu\n", bucket_le[i],
                            cum);
    }
    cum += svc->buckets[DM_SVC_N_BUCKETS];
    evbuffer_add_printf(b,
                        "doormat_answer_seconds_bucket{le=\"+Inf\"} %lu\n"
                        "doormat_answer_seconds_sum %.6f\n"
                        "doormat_answer_seconds_count %lu\n",
                        cum, svc->answer_seconds, cum);
    evbuffer_add_printf(b,
                        "# HELP doormat_connections Connections open now.\n"
                        "# TYPE doormat_connections gauge\n"
                        "doormat_connections %u\n"
                        "# HELP doormat_connections_shed_total Connections closed to make room.\n"
                        "# TYPE doormat_connections_shed_total counter\n"
                        "doormat_connections_shed_total %lu\n"
                        "# HELP doormat_connections_expired_total Connections closed at the "
                        "request deadline.\n"
                        "# TYPE doormat_connections_expired_total counter\n"
                        "doormat_connections_expired_total %lu\n",
                        svc->conns.n, svc->shed, svc->expired);
    if (svc->metrics)
        svc->metrics(svc, b, svc->ctx);
}

static void on_metrics(struct evhttp_request *req, void *arg) {
    dm_svc *svc = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    int code = 200;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        code = 405;
        evbuffer_add_printf(b, "only GET\n");
    } else if (path != NULL && strcmp(path, "/metrics") == 0) {
        evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        page(svc, b);
    } else if (path != NULL && strcmp(path, "/healthz") == 0) {
        const char *why = svc->stopping ? "stopping" : svc->health ? svc->health(svc, svc->ctx)
                                                                    : NULL;
        code = why ? 503 : 200;
        evbuffer_add_printf(b, "%s\n", why ? why : "ok");
    } else {
        code = 404;
        evbuffer_add_printf(b, "GET /metrics or GET /healthz\n");
    }
    if (evhttp_find_header(h, "Content-Type") == NULL)
        evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, code, code == 200 ? "OK" : code == 503 ? "Service Unavailable" : "Error",
                      b);
    evbuffer_free(b);
}

int dm_svc_metrics_start(dm_svc *svc, const dm_service_opts *o) {
    svc->started = (double)time(NULL);
    if (o->metrics_listen == NULL)
        return DM_OK;
    const char *colon = strrchr(o->metrics_listen, ':');
    char host[256];
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    size_t hlen = colon ? (size_t)(colon - o->metrics_listen) : 0;
    if (colon == NULL || hlen == 0 || hlen >= sizeof host || end == colon + 1 || *end != '\0' ||
        port > 65535)
        return dm_fail(DM_ERR_USAGE, "--metrics-listen wants HOST:PORT, not \"%s\"",
                       o->metrics_listen);
    memcpy(host, o->metrics_listen, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    svc->metrics_http = evhttp_new(svc->base);
    if (svc->metrics_http == NULL)
        return dm_fail(DM_ERR_INTERNAL, "cannot start the metrics port");
    evhttp_set_gencb(svc->metrics_http, on_metrics, svc);
    evhttp_set_timeout(svc->metrics_http, 5);
    evhttp_set_max_headers_size(svc->metrics_http, 8192);
    evhttp_set_max_body_size(svc->metrics_http, 0);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(svc->metrics_http, host, (ev_uint16_t)port);
    if (bs == NULL)
        return dm_fail(DM_ERR_IO, "cannot listen on %s (--metrics-listen): %s", o->metrics_listen,
                       strerror(errno));
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    unsigned bound = (unsigned)port;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &slen) == 0)
        bound = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (o->metrics_port_file != NULL) {
        FILE *f = fopen(o->metrics_port_file, "w");
        if (f == NULL || fprintf(f, "%u\n", bound) < 0 || fclose(f) != 0)
            return dm_fail(DM_ERR_IO, "cannot write %s", o->metrics_port_file);
    }
    fprintf(svc->log, "%s: metrics on http://%s:%u/metrics, health on /healthz\n", svc->name,
            host, bound);
    fflush(svc->log);
    return DM_OK;
}
