/* doormat escrow witness serve: a C2SP tlog-witness over HTTPS.
 *
 *   POST /add-checkpoint   the request body of c2sp.org/tlog-witness; the
 *                          checks, the state and the cosignature are the
 *                          log library's (dm_tlog_witness_add_checkpoint):
 *                          200 cosignature lines, 400 malformed, 403 no
 *                          valid signature of a trusted log key, 404 unknown
 *                          log, 409 old size not the cosigned one (body: the
 *                          size, text/x.tlog.size), 422 bad proof.
 *   GET /                  what this is.
 * The logs it trusts are the agents' log keys of the authorities given. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "service_internal.h"

#define MAX_TRUSTED (DM_ESCROW_MAX_AGENTS * 4)

typedef struct witness {
    dm_svc svc;
    dm_tlog_signer *key;
    const char *state_dir;
    dm_tlog_verifier logs[MAX_TRUSTED];
    size_t n_logs;
    char name[DM_TLOG_MAX_NAME + 16];
    unsigned long cosigned, refused;
} witness;

static void add_checkpoint(witness *wi, struct evhttp_request *req) {
    char *body = NULL, *resp = NULL;
    size_t len = 0, resp_len = 0;
    int status = 0;
    int err = dm_svc_body(req, &body, &len);
    if (err == DM_OK)
        err = dm_tlog_witness_add_checkpoint(wi->state_dir, wi->key, wi->logs, wi->n_logs, body,
                                             len, (uint64_t)time(NULL), &status, &resp, &resp_len);
    if (err != DM_OK) {
        wi->refused++;
        dm_svc_error(&wi->svc, req, err == DM_ERR_IO ? 507 : 503, "the witness cannot work: %s",
                     dm_err_detail());
    } else if (status == 200) {
        wi->cosigned++;
        dm_svc_reply(&wi->svc, req, 200, "text/plain; charset=utf-8", resp, resp_len, "cosigned");
    } else if (status == 409) {
        wi->refused++;
        dm_svc_reply(&wi->svc, req, 409, "text/x.tlog.size", resp, resp_len,
                     "old size is not the cosigned size");
    } else {
        wi->refused++;
        if (resp != NULL && resp_len > 0)
            dm_svc_reply(&wi->svc, req, status, "text/plain; charset=utf-8", resp, resp_len,
                         dm_err_detail());
        else
            dm_svc_error(&wi->svc, req, status, "%s", dm_err_detail());
    }
    free(resp);
    free(body);
}

static void handle(dm_svc *svc, struct evhttp_request *req, void *ctx) {
    witness *wi = ctx;
    const char *path = dm_svc_path(req);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (strcmp(path, "/add-checkpoint") == 0) {
        if (m != EVHTTP_REQ_POST)
            dm_svc_error(svc, req, 405, "%s /add-checkpoint: add-checkpoint is a POST",
                         dm_svc_method(req));
        else
            add_checkpoint(wi, req);
    } else if (strcmp(path, "/") == 0 && m == EVHTTP_REQ_GET) {
        char text[DM_TLOG_MAX_NAME + 128];
        int n = snprintf(text, sizeof text,
                         "doormat witness %s (c2sp.org/tlog-witness): POST /add-checkpoint; %zu "
                         "logs trusted\n",
                         dm_tlog_signer_verifier(wi->key)->name, wi->n_logs);
        dm_svc_reply(svc, req, 200, "text/plain; charset=utf-8", text, (size_t)n, NULL);
    } else {
        dm_svc_error(svc, req, 404, "no such endpoint (POST /add-checkpoint)");
    }
}

static void on_stop(dm_svc *svc, void *ctx) {
    witness *wi = ctx;
    fprintf(svc->log, "%s: %lu cosigned, %lu refused\n", svc->name, wi->cosigned, wi->refused);
}

/* The PRIVATE+KEY+... line of a witness key file. */
static int load_key(const char *path, dm_tlog_signer **out) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = dm_secret_alloc(1024);
    int err = line ? dm_fail(DM_ERR_USAGE, "%s: no PRIVATE+KEY+... line", path)
                   : dm_fail(DM_ERR_NOMEM, "out of memory");
    while (line && fgets(line, 1024, f) != NULL) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (strncmp(line, "PRIVATE+KEY+", 12) == 0) {
            err = dm_tlog_signer_parse(line, n, out);
            if (err == DM_OK && dm_tlog_signer_verifier(*out)->type != DM_TLOG_SIG_COSIGNATURE) {
                dm_tlog_signer_free(*out);
                *out = NULL;
                err = dm_fail(DM_ERR_USAGE, "%s: not a witness (cosignature) key", path);
            } else if (err != DM_OK) {
                char why[300];
                snprintf(why, sizeof why, "%s", dm_err_detail());
                err = dm_fail(err, "%s: %s", path, why);
            }
            break;
        }
    }
    fclose(f);
    dm_secret_free(line);
    return err;
}

/* A witness is run by someone else than the authority: on its first start
 * it makes its own TLS identity (as sshd makes host keys), and says its pin
 * for the authority's url:/tls: lines. */
static int ensure_tls(const char *path, const char *name) {
    if (access(path, F_OK) == 0)
        return DM_OK;
    char *pem = NULL;
    size_t len = 0;
    char pin[DM_ESCROW_TLS_PIN_LEN + 1];
    int err = dm_service_tls_new(name, &pem, &len, pin);
    if (err == DM_OK)
        err = dm_write_new_file(path, pem, len, 0600);
    dm_secret_free(pem);
    return err;
}

/* The witness's lines of the metrics page. */
static void witness_metrics(dm_svc *svc, struct evbuffer *b, void *ctx) {
    witness *wi = ctx;
    (void)svc;
    evbuffer_add_printf(b,
                        "# HELP doormat_cosigned_total Checkpoints cosigned.\n"
                        "# TYPE doormat_cosigned_total counter\n"
                        "doormat_cosigned_total %lu\n"
                        "# HELP doormat_cosign_refusals_total add-checkpoint requests refused.\n"
                        "# TYPE doormat_cosign_refusals_total counter\n"
                        "doormat_cosign_refusals_total %lu\n"
                        "# HELP doormat_trusted_logs Logs this witness cosigns for.\n"
                        "# TYPE doormat_trusted_logs gauge\n"
                        "doormat_trusted_logs %zu\n",
                        wi->cosigned, wi->refused, wi->n_logs);
}

int dm_service_witness_run(const dm_service_opts *o, const char *key_path, const char *const *trust,
                           size_t n_trust, const char *state_dir) {
    witness *wi = calloc(1, sizeof *wi);
    if (wi == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    wi->state_dir = state_dir;
    int err = load_key(key_path, &wi->key);
    for (size_t t = 0; err == DM_OK && t < n_trust; t++) {
        dm_escrow_authority *auth = NULL;
        err = dm_escrow_authority_load(trust[t], &auth);
        for (size_t i = 0; err == DM_OK && i < dm_escrow_authority_agents(auth); i++) {
            if (wi->n_logs == MAX_TRUSTED)
                err = dm_fail(DM_ERR_USAGE, "more than %d logs to trust", MAX_TRUSTED);
            else
                wi->logs[wi->n_logs++] = *dm_escrow_authority_log_key(auth, i);
        }
        dm_escrow_authority_free(auth);
    }
    /* Two witnesses on one state would each cosign from it as if alone. */
    dm_tlog_lock *held = NULL;
    dm_tlog_lock_opts lock = {o->holder, 0};
    if (err == DM_OK)
        err = dm_tlog_witness_hold(state_dir, &lock, &held);
    char *tls = NULL;
    dm_service_opts opts = *o;
    if (err == DM_OK && opts.tls_path == NULL) {
        if ((tls = dm_service_tls_path_for(key_path)) == NULL)
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        opts.tls_path = tls;
    }
    if (err == DM_OK)
        err = ensure_tls(opts.tls_path, dm_tlog_signer_verifier(wi->key)->name);
    if (err == DM_OK) {
        snprintf(wi->name, sizeof wi->name, "witness %s", dm_tlog_signer_verifier(wi->key)->name);
        err = dm_svc_start(&wi->svc, &opts, wi->name, handle, on_stop, wi);
        wi->svc.metrics = witness_metrics;
    }
    if (err == DM_OK)
        err = dm_svc_run(&wi->svc);
    dm_svc_close(&wi->svc);
    dm_tlog_lock_free(held);
    free(tls);
    dm_tlog_signer_free(wi->key);
    free(wi);
    return err;
}
