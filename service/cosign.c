/* The agent's side of c2sp.org/tlog-witness: each witness authority.pub
 * names (with its URL and TLS pin) becomes a dm_escrow_cosigner that POSTs
 * add-checkpoint over a keep-alive, pinned HTTPS connection. What the
 * answers mean (409 and the retry, checking the cosignatures, the policy) is
 * the escrow library's. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service_internal.h"

#define MAX_COSIGNATURES 65536

typedef struct cosigner {
    dm_svc_client *client;
    double *seconds;
} cosigner;

static int add_checkpoint(void *ctx, const char *body, size_t len, int *status, char **response,
                          size_t *response_len) {
    cosigner *cs = ctx;
    dm_svc_client *c = cs->client;
    long st = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = dm_svc_client_call(c, "/add-checkpoint", body, len, MAX_COSIGNATURES, &st, response,
                                 response_len);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *cs->seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (err != DM_OK) {
        /* Down, slow or not the pinned key: a missing cosignature, said so. */
        char why[300];
        snprintf(why, sizeof why, "no answer: %s\n", dm_err_detail());
        *response = strdup(why);
        *response_len = *response ? strlen(*response) : 0;
        *status = 503;
        return *response ? DM_OK : dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    *status = (int)st;
    return DM_OK;
}

int dm_svc_cosigners_new(const dm_escrow_authority *auth, unsigned timeout_s,
                         dm_svc_cosigners *out) {
    memset(out, 0, sizeof *out);
    size_t n = dm_escrow_authority_witnesses(auth);
    if (n == 0)
        return DM_OK;
    out->list = calloc(n, sizeof *out->list);
    out->clients = calloc(n, sizeof *out->clients);
    out->names = calloc(n, sizeof *out->names);
    cosigner *ctxs = calloc(n, sizeof *ctxs);
    out->ctxs = ctxs;
    if (!out->list || !out->clients || !out->names || !ctxs) {
        dm_svc_cosigners_free(out);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const dm_tlog_verifier *w = dm_escrow_authority_witness(auth, i);
        const char *url = dm_escrow_authority_endpoint_url(auth, w->name);
        const char *pin = dm_escrow_authority_endpoint_pin(auth, w->name);
        if (url == NULL || pin == NULL)
            continue; /* a witness reached some other way; it counts as missing here */
        int err = dm_svc_client_new(url, pin, timeout_s, &out->clients[out->n]);
        if (err != DM_OK) {
            dm_svc_cosigners_free(out);
            return err;
        }
        out->list[out->n].add_checkpoint = add_checkpoint;
        ctxs[out->n].client = out->clients[out->n];
        ctxs[out->n].seconds = &out->seconds;
        out->list[out->n].ctx = &ctxs[out->n];
        snprintf(out->names[out->n], sizeof out->names[out->n], "%s", w->name);
        out->n++;
    }
    return DM_OK;
}

void dm_svc_cosigners_free(dm_svc_cosigners *c) {
    for (size_t i = 0; c->clients && i < c->n; i++)
        dm_svc_client_free(c->clients[i]);
    free(c->clients);
    free(c->ctxs);
    free(c->list);
    free(c->names);
    memset(c, 0, sizeof *c);
}
