/* The monitor's HTTPS tile fetcher: a dm_tlog_fetcher that GETs a log's
 * resources (c2sp.org/tlog-tiles paths) from an agent over pinned HTTPS, so
 * the same verification code reads a log from a directory or a URL. */
#include <stdlib.h>
#include <string.h>

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
        return dm_fail(DM_ERR_NO_MATCH, "%s: not found", path);
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

int dm_service_fetcher_new(const char *base_url, const char *pin, unsigned timeout_s,
                           dm_tlog_fetcher *out) {
    memset(out, 0, sizeof *out);
    dm_svc_client *c = NULL;
    int err = dm_svc_client_new(base_url, pin, timeout_s, &c);
    if (err != DM_OK)
        return err;
    out->fetch = https_fetch;
    out->ctx = c;
    return DM_OK;
}

void dm_service_fetcher_free(dm_tlog_fetcher *f) {
    if (f->fetch == https_fetch)
        dm_svc_client_free(f->ctx);
    memset(f, 0, sizeof *f);
}
