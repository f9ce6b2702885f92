/* The pinned HTTPS client every doormat client uses (libcurl): one
 * keep-alive connection per server, the server's key checked against the
 * pin authority.pub gives (CURLOPT_PINNEDPUBLICKEY) instead of a certificate
 * authority, bounded answers, and a timeout on everything. A log published
 * on a stock web server is read by the same client with the server's
 * certificate checked against certificate authorities instead of a pin
 * (dm_svc_client_new_ca). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "service_internal.h"

typedef struct sink {
    dm_buf text;
    size_t max;
    int too_big;
} sink;

struct dm_svc_client {
    CURL *curl;
    char *base_url;
    char *pin;
    int ca;        /* checked against certificate authorities, not a pin */
    char *ca_file; /* those of this PEM file; NULL: the system's */
    unsigned timeout_s;
    char errbuf[CURL_ERROR_SIZE];
    /* One call's state, from prepare to finish. */
    char *url;
    struct curl_slist *hdrs;
    sink s;
};

/* libcurl's global state, set up once whichever thread comes first
 * (curl_global_init is not thread-safe on every libcurl a program may have),
 * and never torn down: the program may still use curl itself. Every
 * transfer sets CURLOPT_NOSIGNAL, so curl touches no signal disposition. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_started = CURLE_FAILED_INIT;

static void curl_start(void) {
    curl_started = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int dm_svc_curl_ready(void) {
    if (pthread_once(&curl_once, curl_start) != 0 || curl_started != CURLE_OK)
        return dm_fail(DM_ERR_INTERNAL, "libcurl failed to start");
    return DM_OK;
}

static void end_call(dm_svc_client *c);

int dm_svc_client_new(const char *base_url, const char *pin, unsigned timeout_s,
                      dm_svc_client **out) {
    *out = NULL;
    int started = dm_svc_curl_ready();
    if (started != DM_OK)
        return started;
    dm_svc_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    c->base_url = strndup(base_url, n);
    c->pin = pin ? strdup(pin) : NULL;
    c->curl = curl_easy_init();
    /* At once, not only per transfer: curl_easy_cleanup of a handle that
     * never ran a transfer also ignores SIGPIPE for a moment and puts back
     * what it saw, which two threads doing so together can leave ignored. */
    if (c->curl != NULL)
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    c->timeout_s = timeout_s ? timeout_s : 10;
    if (c->base_url == NULL || (pin && c->pin == NULL) || c->curl == NULL) {
        dm_svc_client_free(c);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return DM_OK;
}

int dm_svc_client_new_ca(const char *base_url, const char *ca_file, unsigned timeout_s,
                         dm_svc_client **out) {
    int err = dm_svc_client_new(base_url, NULL, timeout_s, out);
    if (err != DM_OK)
        return err;
    (*out)->ca = 1;
    if (ca_file != NULL && ((*out)->ca_file = strdup(ca_file)) == NULL) {
        dm_svc_client_free(*out);
        *out = NULL;
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    return DM_OK;
}

void dm_svc_client_free(dm_svc_client *c) {
    if (c == NULL)
        return;
    end_call(c);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base_url);
    free(c->pin);
    free(c->ca_file);
    free(c);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg) {
    sink *s = arg;
    size_t n = size * nmemb;
    if (s->text.len + n > s->max) {
        s->too_big = 1;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    dm_buf_add(&s->text, ptr, n);
    return s->text.failed ? 0 : n;
}

const char *dm_svc_client_base_url(const dm_svc_client *c) {
    return c->base_url;
}

CURL *dm_svc_client_easy(const dm_svc_client *c) {
    return c->curl;
}

static void end_call(dm_svc_client *c) {
    curl_slist_free_all(c->hdrs);
    c->hdrs = NULL;
    free(c->url);
    c->url = NULL;
    dm_buf_clear(&c->s.text);
    memset(&c->s, 0, sizeof c->s);
}

CURL *dm_svc_client_prepare(dm_svc_client *c, const char *path, const char *body, size_t body_len,
                            size_t max_resp, unsigned timeout_ms) {
    end_call(c);
    size_t ulen = strlen(c->base_url) + strlen(path) + 2;
    if ((c->url = malloc(ulen)) == NULL) {
        dm_fail(DM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(c->url, ulen, "%s%s%s", c->base_url, path[0] == '/' ? "" : "/", path);
    c->s.max = max_resp;
    long ms = timeout_ms ? (long)timeout_ms : 1000L * (long)c->timeout_s;
    CURL *h = c->curl;
    curl_easy_reset(h);
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    if (c->ca) {
        /* A web server publishing logs has a certificate for its name: the
         * system's authorities, or only those of the file given. */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->ca_file) {
            curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
            curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        }
    } else {
        /* The authority names its machines by their keys, not by a CA: the
         * pin is the check, and curl makes it before any byte is sent. */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        if (c->pin)
            curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->s);
    curl_easy_setopt(h, CURLOPT_PRIVATE, c);
    if (body != NULL) {
        c->hdrs = curl_slist_append(c->hdrs, "Content-Type: text/plain; charset=utf-8");
        c->hdrs = curl_slist_append(c->hdrs, "Expect:");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        /* Copied: the caller's body need not outlive a call in a multi handle. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
    }
    return h;
}

int dm_svc_client_finish(dm_svc_client *c, CURLcode rc, long *status, char **resp,
                         size_t *resp_len) {
    *status = 0;
    *resp = NULL;
    *resp_len = 0;
    int err = DM_OK;
    const char *url = c->url ? c->url : c->base_url;
    if (rc != CURLE_OK) {
        if (c->s.too_big)
            err = dm_fail(DM_ERR_IO, "%s: answer larger than %zu bytes", url, c->s.max);
        else if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
            err = dm_fail(DM_ERR_DENIED,
                          "%s: the server's TLS key is not the one authority.pub pins", url);
        else if (rc == CURLE_PEER_FAILED_VERIFICATION)
            err = dm_fail(DM_ERR_DENIED, "%s: the server's certificate is not trusted (%s): %s",
                          url, c->ca_file ? c->ca_file : "the system's certificate authorities",
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        else
            err = dm_fail(DM_ERR_IO, "%s: %s", url,
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
        if (!dm_buf_take(&c->s.text, resp, resp_len))
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    end_call(c);
    return err;
}

int dm_svc_client_call(dm_svc_client *c, const char *path, const char *body, size_t body_len,
                       size_t max_resp, long *status, char **resp, size_t *resp_len) {
    *status = 0;
    *resp = NULL;
    *resp_len = 0;
    CURL *h = dm_svc_client_prepare(c, path, body, body_len, max_resp, 0);
    if (h == NULL)
        return DM_ERR_NOMEM;
    return dm_svc_client_finish(c, curl_easy_perform(h), status, resp, resp_len);
}
