/* What one HTTP request and its answer are made of, apart from the
 * connection that carries them: the method and path, the body, whether the
 * framing can be trusted, the reason phrase of a status, and the request's
 * log line. Leaves for server.c and the services; nothing here calls back. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "doormat/base.h"
#include "service_internal.h"

const char *dm_svc_method(struct evhttp_request *req) {
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
}

const char *dm_svc_path(struct evhttp_request *req) {
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    return uri ? evhttp_uri_get_path(uri) : NULL;
}

const char *dm_svc_reason_phrase(int code) {
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return code < 500 ? "Client Error" : "Server Error";
    }
}

void dm_svc_log_peer(dm_svc *svc, struct evhttp_request *req) {
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *peer = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon)
        evhttp_connection_get_peer(evcon, &peer, &port);
    fprintf(svc->log, "%s %s %s:%u ", when, svc->name, peer ? peer : "-", (unsigned)port);
}

void dm_svc_log_request(dm_svc *svc, struct evhttp_request *req, int code, size_t len,
                        const char *reason) {
    const char *uri = evhttp_request_get_uri(req);
    /* The path as sent may hold anything; the log line shows it printable. */
    char shown[128];
    size_t j = 0;
    for (size_t i = 0; uri && uri[i] && j + 1 < sizeof shown; i++)
        shown[j++] = (uri[i] > 0x20 && uri[i] < 0x7f) ? uri[i] : '?';
    shown[j] = '\0';
    dm_svc_log_peer(svc, req);
    fprintf(svc->log, "%s %s %d %zu%s%s\n", dm_svc_method(req), j ? shown : "-", code, len,
            reason ? " " : "", reason ? reason : "");
    fflush(svc->log);
}

int dm_svc_body(struct evhttp_request *req, char **body, size_t *len) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    if (n > 0 && evbuffer_copyout(in, copy, n) != (ev_ssize_t)n) {
        free(copy);
        return dm_fail(DM_ERR_IO, "cannot read the request body");
    }
    copy[n] = '\0';
    *body = copy;
    *len = n;
    return DM_OK;
}

const char *dm_svc_framing_error(struct evhttp_request *req) {
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *length = NULL, *coding = NULL;
    size_t n_coding = 0;
    for (struct evkeyval *h = in ? in->tqh_first : NULL; h != NULL; h = h->next.tqe_next) {
        if (evutil_ascii_strcasecmp(h->key, "Content-Length") == 0) {
            if (length != NULL && strcmp(length, h->value) != 0)
                return "conflicting Content-Length headers";
            length = h->value;
        } else if (evutil_ascii_strcasecmp(h->key, "Transfer-Encoding") == 0) {
            coding = h->value;
            n_coding++;
        }
    }
    /* libevent takes a body as chunked only for exactly "chunked", and
     * otherwise goes by Content-Length: any other coding, or both, and the
     * two ends could disagree on where the request ends. */
    if (coding != NULL && (n_coding > 1 || evutil_ascii_strcasecmp(coding, "chunked") != 0))
        return "unsupported Transfer-Encoding (only \"chunked\")";
    if (coding != NULL && length != NULL)
        return "both Transfer-Encoding and Content-Length";
    return NULL;
}
