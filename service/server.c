/* The HTTPS server frame of every doormat service: libevent's evhttp over
 * OpenSSL bufferevents, with the limits a service on a network needs (body
 * and header size, an idle timeout and a whole-request deadline, connection
 * limits overall and per address that make room by closing the connection
 * that has waited longest, conns.c), requests whose framing is in doubt
 * refused, lingering closes so that refusals arrive, one log line per
 * request, and a clean stop on SIGTERM. HTTP parsing is libevent's. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "service_internal.h"

/* Each TLS connection's SSL object carries its dm_svc_conn (index conn_idx),
 * freed with the SSL object, that is with the connection. */
static int conn_idx = -1;

static void stop_deadline(dm_svc_conn *c) {
    if (c->deadline != NULL)
        event_del(c->deadline);
}

/* A closed connection's socket, kept open a little longer (a lingering
 * close): its answer's bytes go out followed by a FIN, and what the client
 * still sends is read and dropped until it closes too, for at most
 * DM_SVC_LINGER_SECONDS. Closing a socket with unread bytes in it would send
 * a reset instead, and a client still sending its (too large, malformed)
 * request would lose the answer that says why it was refused. */
typedef struct dm_svc_linger {
    struct dm_svc_linger *prev, *next;
    dm_svc *svc;
    evutil_socket_t fd;
    struct event *ev;
} dm_svc_linger;

static void linger_end(dm_svc_linger *l) {
    dm_svc *svc = l->svc;
    if (l->prev)
        l->prev->next = l->next;
    else
        svc->lingering = l->next;
    if (l->next)
        l->next->prev = l->prev;
    svc->n_lingering--;
    dm_svc_event_free(l->ev);
    evutil_closesocket(l->fd);
    free(l);
}

static void on_linger(evutil_socket_t fd, short what, void *arg) {
    dm_svc_linger *l = arg;
    if (what & EV_TIMEOUT) {
        linger_end(l);
        return;
    }
    char sink[16384];
    for (int i = 0; i < 8; i++) {
        ssize_t n = recv(fd, sink, sizeof sink, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        linger_end(l); /* the client's end, or an error */
        return;
    }
}

static void linger_start(dm_svc *svc, evutil_socket_t fd) {
    dm_svc_linger *l = NULL;
    /* Not too many at once: beyond the connection limit, plain closes. */
    if (svc->n_lingering < svc->conns.max && !svc->stopping)
        l = calloc(1, sizeof *l);
    if (l != NULL)
        l->ev = event_new(svc->base, fd, EV_READ | EV_PERSIST, on_linger, l);
    struct timeval tv = {DM_SVC_LINGER_SECONDS, 0};
    if (l == NULL || l->ev == NULL || shutdown(fd, SHUT_WR) != 0 || event_add(l->ev, &tv) != 0) {
        if (l != NULL && l->ev != NULL)
            event_free(l->ev);
        free(l);
        evutil_closesocket(fd);
        return;
    }
    l->svc = svc;
    l->fd = fd;
    l->next = svc->lingering;
    if (svc->lingering)
        svc->lingering->prev = l;
    svc->lingering = l;
    svc->n_lingering++;
}

static void conn_freed(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                       void *argp) {
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    dm_svc_conn *c = ptr;
    if (c == NULL)
        return;
    if (c->detached) { /* the server is being freed: its lists and events are gone */
        if (c->linger_fd >= 0)
            evutil_closesocket(c->linger_fd);
        free(c);
        return;
    }
    dm_svc *svc = c->svc;
    if (c->linger_fd >= 0)
        linger_start(svc, c->linger_fd);
    dm_svc_event_free(c->deadline);
    dm_svc_conns_remove(&svc->conns, c);
    if (c->fresh)
        for (dm_svc_conn **p = &svc->fresh; *p != NULL; p = &(*p)->fresh_next)
            if (*p == c) {
                *p = c->fresh_next;
                break;
            }
    if (c->aprev)
        c->aprev->anext = c->anext;
    else
        svc->all = c->anext;
    if (c->anext)
        c->anext->aprev = c->aprev;
    free(c);
}

/* Closes a connection that is not busy: the socket is shut down, and libevent
 * sees the end of it and frees the connection the way it frees one whose
 * client hung up. */
static void cut(dm_svc *svc, dm_svc_conn *c) {
    dm_svc_conns_remove(&svc->conns, c);
    stop_deadline(c);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

/* A connection still without its whole request at the deadline is closed,
 * however steadily its bytes trickle in. */
static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    dm_svc_conn *c = arg;
    if (c->busy)
        return;
    c->svc->expired++;
    cut(c->svc, c);
}

/* The connections accepted since the last round, by their peer's address:
 * each is let in, making room by closing the one that has waited longest
 * (conns.c), or marked over the limit, or closed at once. */
static void on_admit(evutil_socket_t fd_, short what, void *arg) {
    (void)fd_, (void)what;
    dm_svc *svc = arg;
    /* In the order they were accepted (the list is newest first). */
    dm_svc_conn *c, *order = NULL;
    while ((c = svc->fresh) != NULL) {
        svc->fresh = c->fresh_next;
        c->fresh_next = order;
        order = c;
    }
    while ((c = order) != NULL) {
        order = c->fresh_next;
        c->fresh = 0;
        c->fresh_next = NULL;
        evutil_socket_t fd = bufferevent_getfd(c->bev);
        struct sockaddr_storage ss;
        socklen_t slen = sizeof ss;
        if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &slen) != 0)
            continue; /* already gone: libevent frees it */
        dm_svc_conn_addr(c, (struct sockaddr *)&ss);
        /* A second descriptor of the socket, for the lingering close. */
        c->linger_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (svc->stopping) {
            cut(svc, c);
            continue;
        }
        dm_svc_conn *shed = NULL;
        switch (dm_svc_conns_admit(&svc->conns, c, &shed)) {
        case DM_SVC_SHED:
            svc->shed++;
            cut(svc, shed);
            break;
        case DM_SVC_REFUSE:
            svc->shed++;
            cut(svc, c);
            break;
        default:
            break;
        }
    }
}

static struct bufferevent *new_connection(struct event_base *base, void *arg) {
    dm_svc *svc = arg;
    dm_svc_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? SSL_new(svc->ssl) : NULL;
    struct bufferevent *bev = NULL;
    if (ssl != NULL)
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev != NULL)
        c->deadline = evtimer_new(base, on_deadline, c);
    if (c == NULL || c->deadline == NULL) {
        if (bev != NULL)
            bufferevent_free(bev);
        else if (ssl != NULL)
            SSL_free(ssl);
        free(c);
        return NULL;
    }
    c->svc = svc;
    c->bev = bev;
    c->linger_fd = -1;
    SSL_set_ex_data(ssl, conn_idx, c);
    c->anext = svc->all;
    if (svc->all)
        svc->all->aprev = c;
    svc->all = c;
    /* Its address is known once libevent has set the socket: the admission
     * round runs right after this accept, before the connection is read. */
    c->fresh = 1;
    c->fresh_next = svc->fresh;
    svc->fresh = c;
    event_active(svc->admit_ev, EV_TIMEOUT, 1);
    /* The deadline counts from the accept: the TLS handshake is part of it. */
    event_add(c->deadline, &svc->request_tv);
    /* A client that just closes the socket is no error worth a log line. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* The connection of req (NULL if it has none left). */
static dm_svc_conn *conn_of(struct evhttp_request *req) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

int dm_svc_over_limit(dm_svc *svc, struct evhttp_request *req) {
    (void)svc;
    dm_svc_conn *c = conn_of(req);
    return c != NULL && c->over;
}

void dm_svc_reply(dm_svc *svc, struct evhttp_request *req, int code, const char *content_type,
                  const void *body, size_t len, const char *reason) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    /* Over the limit, or stopping: answer, then hang up. */
    if ((svc->stopping || dm_svc_over_limit(svc, req)) &&
        evhttp_find_header(h, "Connection") == NULL)
        evhttp_add_header(h, "Connection", "close");
    struct evbuffer *buf = evbuffer_new();
    if (buf != NULL && len > 0)
        evbuffer_add(buf, body, len);
    const char *phrase = dm_svc_reason_phrase(code);
    dm_svc_conn *c = conn_of(req);
    dm_svc_metrics_count(svc, code, c != NULL ? c->t_request : 0);
    evhttp_send_reply(req, code, phrase, buf);
    if (buf != NULL)
        evbuffer_free(buf);
    dm_svc_log_request(svc, req, code, len, reason);
}

void dm_svc_error(dm_svc *svc, struct evhttp_request *req, int code, const char *fmt, ...) {
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(reason, sizeof reason - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof reason - 2)
        n = (int)sizeof reason - 2;
    for (int i = 0; i < n; i++)
        if (reason[i] == '\n' || reason[i] == '\r')
            reason[i] = ' ';
    reason[n] = '\n';
    reason[n + 1] = '\0';
    char shown[512];
    memcpy(shown, reason, (size_t)n);
    shown[n] = '\0';
    dm_svc_reply(svc, req, code, "text/plain; charset=utf-8", reason, (size_t)n + 1, shown);
}

/* An answered request: its connection waits for the next one, with a new deadline. */
static void on_complete(struct evhttp_request *req, void *arg) {
    (void)req;
    dm_svc_conn *c = arg;
    dm_svc_conns_waiting(&c->svc->conns, c);
    if (c->in_table && c->deadline != NULL)
        event_add(c->deadline, &c->svc->request_tv);
}

static void on_request(struct evhttp_request *req, void *arg) {
    dm_svc *svc = arg;
    dm_svc_conn *c = conn_of(req);
    if (c != NULL) {
        /* The whole request is in: the deadline was the client's; what
         * follows is the service's work. */
        stop_deadline(c);
        c->t_request = dm_svc_now();
        dm_svc_conns_busy(&svc->conns, c);
        evhttp_request_set_on_complete_cb(req, on_complete, c);
    }
    const char *why = dm_svc_framing_error(req);
    if (why != NULL) {
        /* Where a request ends is in doubt: answer, and read nothing more
         * from this connection. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        dm_svc_error(svc, req, 400, "%s", why);
        return;
    }
    if (c != NULL && c->over == DM_SVC_OVER_ADDRESS) {
        dm_svc_error(svc, req, 429,
                     "too many connections from your address (at most %u at once); try again "
                     "later",
                     svc->conns.per_addr);
        return;
    }
    if (c != NULL && c->over) {
        dm_svc_error(svc, req, 429, "too many connections (at most %u at once); try again later",
                     svc->conns.max);
        return;
    }
    if (dm_svc_path(req) == NULL) {
        dm_svc_error(svc, req, 400, "malformed request URI");
        return;
    }
    svc->handler(svc, req, svc->ctx);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)sig, (void)what;
    dm_svc *svc = arg;
    if (svc->stopping)
        return;
    svc->stopping = 1;
    fprintf(svc->log, "%s: stopping (signal %d): finishing the work in flight\n", svc->name,
            (int)sig);
    fflush(svc->log);
    if (svc->bound != NULL)
        evconnlistener_disable(evhttp_bound_socket_get_listener(svc->bound));
    if (svc->on_stop)
        svc->on_stop(svc, svc->ctx);
    /* A moment for the replies just queued to leave, then out. */
    struct timeval grace = {0, 300000};
    event_base_loopexit(svc->base, &grace);
}

static int split_listen(const char *listen, char *host, size_t host_cap, uint16_t *port) {
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= host_cap)
        return dm_fail(DM_ERR_USAGE, "--listen wants HOST:PORT, not \"%s\"", listen);
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p > 65535 || colon[1] == '-' || colon[1] == '+')
        return dm_fail(DM_ERR_USAGE, "--listen: \"%s\" is not a port number", colon + 1);
    *port = (uint16_t)p;
    return DM_OK;
}

static int write_port_file(const char *path, unsigned port) {
    if (strlen(path) + sizeof ".tmp" > 4096)
        return dm_fail(DM_ERR_USAGE, "port file path too long");
    char text[16];
    int n = snprintf(text, sizeof text, "%u\n", port);
    dm_io_step step;
    if (dm_atomic_write(NULL, path, text, (size_t)n, 0666, &step) == 0)
        return DM_OK;
    return dm_fail(DM_ERR_IO, "%s%s: %s", path, step == DM_IO_STEP_OPEN ? ".tmp" : "",
                   strerror(errno));
}

int dm_svc_start(dm_svc *svc, const dm_service_opts *o, const char *name, dm_svc_handler handler,
                 dm_svc_stop_fn on_stop, void *ctx) {
    memset(svc, 0, sizeof *svc);
    svc->name = name;
    svc->handler = handler;
    svc->on_stop = on_stop;
    svc->ctx = ctx;
    svc->conns.max = o->max_conns ? o->max_conns : DM_SVC_DEFAULT_MAX_CONNS;
    svc->conns.per_addr = o->max_per_address ? o->max_per_address : DM_SVC_DEFAULT_MAX_PER_ADDRESS;
    svc->request_tv.tv_sec =
        o->request_timeout_s ? o->request_timeout_s : DM_SVC_DEFAULT_REQUEST_TIMEOUT;
    svc->log = stderr;
    if (conn_idx < 0) {
        conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_freed);
        if (conn_idx < 0)
            return dm_fail(DM_ERR_INTERNAL, "OpenSSL ex_data");
    }
    /* Nothing process-wide (include/doormat/service.h says what the program
     * sets): SIGPIPE is blocked in this thread alone until dm_svc_close, so
     * that a write to a peer that has gone fails with EPIPE. */
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_only, &svc->sigpipe_mask) != 0)
        return dm_fail(DM_ERR_INTERNAL, "cannot block SIGPIPE in the server's thread");
    svc->sigpipe_blocked = 1;
    char host[256];
    uint16_t port = 0;
    int err = split_listen(o->listen ? o->listen : "", host, sizeof host, &port);
    if (err)
        return err;
    if (o->log_file != NULL) {
        /* The log names peers, paths and refusals: created 0600, and an
         * existing file keeps its own mode (never widened). */
        int fd = open(o->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        svc->log = fd < 0 ? NULL : fdopen(fd, "a");
        if (svc->log == NULL) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            svc->log = stderr;
            return dm_fail(DM_ERR_IO, "--log-file %s: %s", o->log_file, strerror(e));
        }
        svc->own_log = 1;
    }
    svc->ssl = dm_svc_server_ctx(o->tls_path);
    if (svc->ssl == NULL)
        return DM_ERR_USAGE;
    svc->base = event_base_new();
    /* Three priorities: the server's own events at 1 (the default), work
     * that should wait for a round of requests (an agent's commit) at 2. */
    if (svc->base != NULL && event_base_priority_init(svc->base, 3) != 0)
        return dm_fail(DM_ERR_INTERNAL, "cannot set event priorities");
    svc->http = svc->base ? evhttp_new(svc->base) : NULL;
    /* The admission of new connections runs first of all (priority 0). */
    svc->admit_ev = svc->base ? event_new(svc->base, -1, 0, on_admit, svc) : NULL;
    if (svc->http == NULL || svc->admit_ev == NULL || event_priority_set(svc->admit_ev, 0) != 0)
        return dm_fail(DM_ERR_INTERNAL, "cannot start the event loop");
    evhttp_set_bevcb(svc->http, new_connection, svc);
    evhttp_set_gencb(svc->http, on_request, svc);
    evhttp_set_max_body_size(svc->http,
                             (ev_ssize_t)(o->max_body ? o->max_body : DM_SVC_DEFAULT_MAX_BODY));
    evhttp_set_max_headers_size(svc->http, DM_SVC_MAX_HEADERS);
    /* A body over the limit is read to its end before the 413, so that the
     * client, still sending, gets the answer rather than a reset. */
    evhttp_set_flags(svc->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_timeout(svc->http, (int)(o->timeout_s ? o->timeout_s : DM_SVC_DEFAULT_TIMEOUT));
    /* Every method reaches the handler, which names the allowed ones. */
    evhttp_set_allowed_methods(svc->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                              EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    svc->bound = evhttp_bind_socket_with_handle(svc->http, host, port);
    if (svc->bound == NULL)
        return dm_fail(DM_ERR_IO, "cannot listen on %s: %s", o->listen, strerror(errno));
    /* No Nagle: an answer goes out in more than one TLS record, and the
     * second would wait for the client's delayed ACK (40 ms a request). The
     * accepted sockets inherit the option from the listening one. */
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(svc->bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    unsigned bound_port = port;
    if (getsockname(evhttp_bound_socket_get_fd(svc->bound), (struct sockaddr *)&ss, &slen) == 0)
        bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    svc->sig_term = evsignal_new(svc->base, SIGTERM, on_signal, svc);
    svc->sig_int = evsignal_new(svc->base, SIGINT, on_signal, svc);
    if (!svc->sig_term || !svc->sig_int || evsignal_add(svc->sig_term, NULL) != 0 ||
        evsignal_add(svc->sig_int, NULL) != 0)
        return dm_fail(DM_ERR_INTERNAL, "cannot catch SIGTERM");
    /* The metrics port is up before the port file says the service is. */
    if ((err = dm_svc_metrics_start(svc, o)) != DM_OK)
        return err;
    if (o->port_file != NULL && (err = write_port_file(o->port_file, bound_port)) != DM_OK)
        return err;
    char pin[DM_ESCROW_TLS_PIN_LEN + 1] = "?";
    FILE *pf = fopen(o->tls_path, "r");
    if (pf != NULL) {
        char pem[16384];
        size_t n = fread(pem, 1, sizeof pem, pf);
        fclose(pf);
        if (dm_service_tls_pin(pem, n, pin) != DM_OK)
            snprintf(pin, sizeof pin, "?");
        sodium_memzero(pem, sizeof pem);
    }
    fprintf(svc->log, "%s: listening on https://%s:%u (TLS key pin %s)\n", svc->name, host,
            bound_port, pin);
    fflush(svc->log);
    return DM_OK;
}

/* Puts back the thread's mask from before dm_svc_start. A SIGPIPE raised by
 * a write meanwhile is pending on this thread: consumed first, unless the
 * thread had it blocked already, or it would kill the program on return. */
static void sigpipe_unblock(const sigset_t *before) {
    if (!sigismember(before, SIGPIPE)) {
        sigset_t pipe_only, pending;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        const struct timespec now = {0, 0};
        while (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            if (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno != EINTR)
                break;
    }
    pthread_sigmask(SIG_SETMASK, before, NULL);
}

int dm_svc_run(dm_svc *svc) {
    if (event_base_dispatch(svc->base) < 0)
        return dm_fail(DM_ERR_INTERNAL, "event loop failed");
    if (svc->shed || svc->expired)
        fprintf(svc->log,
                "%s: %lu connections closed to make room for newer ones, %lu at the request "
                "deadline\n",
                svc->name, svc->shed, svc->expired);
    fprintf(svc->log, "%s: stopped\n", svc->name);
    fflush(svc->log);
    return DM_OK;
}

void dm_svc_close(dm_svc *svc) {
    /* The connections still open are freed with evhttp and the event base:
     * from here on their records only go. */
    for (dm_svc_conn *c = svc->all; c != NULL; c = c->anext) {
        dm_svc_event_free(c->deadline);
        c->deadline = NULL;
        dm_svc_conns_remove(&svc->conns, c); /* (frees its address group with the last) */
        c->detached = 1;
    }
    svc->all = svc->fresh = NULL;
    dm_svc_event_free(svc->admit_ev);
    while (svc->lingering != NULL)
        linger_end(svc->lingering);
    dm_svc_event_free(svc->sig_term);
    dm_svc_event_free(svc->sig_int);
    if (svc->http)
        evhttp_free(svc->http);
    if (svc->metrics_http)
        evhttp_free(svc->metrics_http);
    if (svc->base)
        event_base_free(svc->base);
    SSL_CTX_free(svc->ssl); /* (NULL-safe) */
    if (svc->own_log)
        fclose(svc->log);
    if (svc->sigpipe_blocked)
        sigpipe_unblock(&svc->sigpipe_mask);
    memset(svc, 0, sizeof *svc);
}
