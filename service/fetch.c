/* The monitor's HTTPS tile fetcher: a dm_tlog_fetcher that GETs a log's
 * resources (c2sp.org/tlog-tiles paths) from an agent over pinned HTTPS, or
 * from a stock web server that publishes log directories, so the same
 * verification code reads a log from a directory or a URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "service_internal.h"

/* A full tile is 8 KiB; an entry bundle of 256 entries of at most 64 KiB
 * each could be 16 MiB: the cap. */
#define MAX_RESOURCE (16u << 20)

static int https_fetch(void *ctx, const char *path, uint8_t **data, size_t *len) {
    dm_svc_client *c = ctx;
    *data = NULL;
    *len = 0;
    long status = 0;
    char *body = NULL;
    size_t n = 0;
    int err = dm_svc_client_call(c, path, NULL, 0, MAX_RESOURCE, &status, &body, &n);
    if (err != DM_OK)
        return err;
    if (status == 404) {
        free(body);
        return dm_fail(DM_ERR_NOT_FOUND, "%s/%s: not found (HTTP 404)", dm_svc_client_base_url(c),
                       path);
    }
    if (status != 200) {
        size_t show = strcspn(body, "\n");
        err = dm_fail(DM_ERR_IO, "%s: HTTP %ld: %.*s", path, status, (int)(show > 160 ? 160 : show),
                      body);
        free(body);
        return err;
    }
    *data = (uint8_t *)body;
    *len = n;
    return DM_OK;
}

static void https_destroy(void *ctx) {
    dm_svc_client_free(ctx);
}

/* out becomes the fetcher over client c (NULL after a failure err, which is passed on). */
static int fetcher_over(int err, dm_svc_client *c, dm_tlog_fetcher *out) {
    if (err != DM_OK)
        return err;
    out->fetch = https_fetch;
    out->destroy = https_destroy;
    out->ctx = c;
    return DM_OK;
}

int dm_service_fetcher_new(const char *base_url, const char *pin, unsigned timeout_s,
                           dm_tlog_fetcher *out) {
    memset(out, 0, sizeof *out);
    dm_svc_client *c = NULL;
    int err = dm_svc_client_new(base_url, pin, timeout_s, &c);
    return fetcher_over(err, c, out);
}

/* An https:// URL libcurl reads, with a host, to which paths can be
 * appended (no query, no fragment). Plain http:// is refused: the log's
 * signatures keep its bytes honest over any channel, but only TLS keeps a
 * network attacker from serving an old, validly signed checkpoint for ever,
 * hiding every later release from the monitor. */
static int check_url(const char *url) {
    static const char scheme[] = "https://";
    size_t n = strlen(url);
    if (strncmp(url, "http://", 7) == 0)
        return dm_fail(
            DM_ERR_USAGE,
            "\"%.200s\": plain http:// is refused (anyone on the path could serve an old "
            "checkpoint and hide later releases): publish over https://",
            url);
    int ok = n > sizeof scheme - 1 && n <= DM_SVC_MAX_BASE_URL &&
             memcmp(url, scheme, sizeof scheme - 1) == 0 && url[sizeof scheme - 1] != '/';
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)url[i] > 0x20 && (unsigned char)url[i] < 0x7f && url[i] != '?' &&
             url[i] != '#';
    CURLU *u = ok ? curl_url() : NULL;
    char *host = NULL;
    ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
         curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0';
    curl_free(host);
    curl_url_cleanup(u);
    if (!ok)
        return dm_fail(
            DM_ERR_USAGE,
            "\"%.200s\" is not an https://HOST[:PORT][/PATH] URL of at most %d printable "
            "bytes (no query, no fragment)",
            url, DM_SVC_MAX_BASE_URL);
    return DM_OK;
}

/* A CA file must hold a certificate: otherwise every fetch would fail the
 * same way, once per log, long after the mistake. */
static int check_ca_file(const char *path) {
    BIO *b = BIO_new_file(path, "r");
    if (b == NULL)
        return dm_fail(DM_ERR_IO, "CA file %s: cannot be read", path);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (x == NULL)
        return dm_fail(DM_ERR_IO, "CA file %s: no PEM certificate in it", path);
    X509_free(x);
    return DM_OK;
}

int dm_service_fetcher_new_ca(const char *base_url, const char *ca_file, unsigned timeout_s,
                              dm_tlog_fetcher *out) {
    memset(out, 0, sizeof *out);
    int err = check_url(base_url);
    if (err == DM_OK && ca_file != NULL)
        err = check_ca_file(ca_file);
    dm_svc_client *c = NULL;
    if (err == DM_OK)
        err = dm_svc_client_new_ca(base_url, ca_file, timeout_s, &c);
    return fetcher_over(err, c, out);
}
