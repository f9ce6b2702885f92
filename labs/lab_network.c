/* The labs that talk to the agents as HTTPS services on 127.0.0.1 (volume,
 * and insider's procedure): the services started with labs/supervise.c, the
 * authority's url: and tls: lines, the files and warrants, and the requests.
 * The client itself is the service room's, handed in by the command
 * (dm_lab_net): labs/ does not link the services. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doormat/base.h"
#include "lab_internal.h"

/* ------------------------------------------------------------ volume */

/* The files, the warrant naming them, and the requests, timed one by one. */
typedef struct volume_run {
    dm_escrow_authority *auth;
    dm_escrow_court_key *court;
    dm_recipient *rc;
    dm_membuf *files;
    size_t n;
    char *warrant;
    size_t warrant_len;
    char *inv_sk;
    double *latency;
    size_t released;
} volume_run;

static void volume_run_free(volume_run *v) {
    for (size_t i = 0; v->files && i < v->n; i++)
        free(v->files[i].buf);
    free(v->files);
    free(v->warrant);
    free(v->latency);
    dm_secret_free(v->inv_sk);
    dm_recipient_free(v->rc);
    dm_escrow_court_key_free(v->court);
    dm_escrow_authority_free(v->auth);
}

static int volume_requests(volume_run *v, const char *dir, const char *pub, const dm_lab_net *net) {
    char path[4096], *pk = NULL, *user_sk = NULL, *user_pk = NULL;
    int err = dm_escrow_authority_load(pub, &v->auth);
    snprintf(path, sizeof path, "%s/authority/court.key", dir);
    if (!err)
        err = dm_escrow_court_key_load(v->auth, path, &v->court);
    if (!err)
        err = dm_x25519_keygen(&user_sk, &user_pk);
    if (!err)
        err = dm_x25519_recipient_parse(user_pk, &v->rc);
    if (!err)
        err = dm_x25519_keygen(&v->inv_sk, &pk);
    v->files = calloc(v->n, sizeof *v->files);
    v->latency = calloc(v->n, sizeof *v->latency);
    uint8_t(*ids)[DM_FILE_ID_LEN] = calloc(v->n, sizeof *ids);
    if (!err && (!v->files || !v->latency || !ids))
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < v->n && !err; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "Seized device %zu: its file key, escrowed.\n", i + 1);
        dm_membuf in = {.data = (const uint8_t *)msg, .len = strlen(msg)};
        dm_encrypt_opts eo = {.threads = 1};
        err = dm_escrow_encrypt(dm_source_mem(&in), dm_sink_mem(&v->files[i]), &v->rc, 1, v->auth,
                                NULL, &eo);
        dm_header hdr = {0};
        if (!err)
            err = dm_header_parse(v->files[i].buf, v->files[i].len, &hdr);
        if (!err)
            err = dm_escrow_file_id(v->auth, &hdr, ids[i]);
        dm_header_clear(&hdr);
    }
    if (!err)
        err = dm_escrow_warrant_issue(v->auth, v->court, "doormat lab volume", NULL, "2999-12-31",
                                      (const uint8_t(*)[DM_FILE_ID_LEN])ids, v->n, &v->warrant,
                                      &v->warrant_len);
    free(ids);
    for (size_t i = 0; i < v->n && !err; i++) {
        dm_header hdr = {0};
        uint8_t *fk = dm_secret_alloc(DM_FILE_KEY_LEN);
        err = fk ? dm_header_parse(v->files[i].buf, v->files[i].len, &hdr)
                 : dm_fail(DM_ERR_NOMEM, "out of memory");
        double t1 = dm_lab_now();
        if (!err)
            err = net->request(net->ctx, v->auth, v->warrant, v->warrant_len, v->files[i].buf,
                               hdr.len, v->inv_sk, fk);
        v->latency[i] = dm_lab_now() - t1;
        if (!err && dm_header_verify_mac(&hdr, fk) == DM_OK)
            v->released++;
        dm_header_clear(&hdr);
        dm_secret_free(fk);
    }
    free(pk);
    free(user_pk);
    dm_secret_free(user_sk);
    return err;
}

int dm_lab_volume(const char *dir, size_t requests, const dm_lab_net *net, dm_lab_volume_stats *s) {
    char pub[4096], agent[4096], logd[4096], portf[4096], slog[4096], adir[4096];
    snprintf(adir, sizeof adir, "%s/authority", dir);
    snprintf(pub, sizeof pub, "%s/authority/authority.pub", dir);
    snprintf(agent, sizeof agent, "%s/authority/agents/master.key", dir);
    snprintf(logd, sizeof logd, "%s/authority/logs/master", dir);
    snprintf(portf, sizeof portf, "%s/service.port", dir);
    snprintf(slog, sizeof slog, "%s/service.log", dir);
    /* The authority as escrow init makes it (TLS key and pin included), its
     * one agent as an HTTPS service on loopback. */
    char *init[] = {(char *)net->self, "escrow", "init", "--name", "FBI", "-o", adir, NULL};
    if (dm_lab_run(init, NULL) != 0)
        return dm_fail(DM_ERR_INTERNAL, "doormat escrow init failed");
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%lu", net->port_base);
    char *serve[] = {(char *)net->self,
                     "escrow",
                     "serve",
                     "--authority",
                     pub,
                     "--agent",
                     agent,
                     "--log",
                     logd,
                     "--listen",
                     listen,
                     "--port-file",
                     portf,
                     "--log-file",
                     slog,
                     NULL};
    dm_lab_services services = {0};
    long port;
    int err = dm_lab_service_start(&services, serve, portf, slog, &port);
    if (!err)
        err = dm_lab_append_line(pub, "url: master https://127.0.0.1:%ld\n", port);
    volume_run v = {.n = requests};
    if (!err)
        err = volume_requests(&v, dir, pub, net);
    dm_lab_services_stop(&services);
    if (!err && v.released != v.n)
        err = dm_fail(DM_ERR_INTERNAL, "%zu of %zu releases gave the file's key", v.released, v.n);
    /* The rate counts the requests alone, not making the files. */
    double req_seconds = 0;
    for (size_t i = 0; !err && i < v.n; i++)
        req_seconds += v.latency[i];
    if (!err)
        err = dm_lab_volume_compute(v.latency, v.n, req_seconds, s);
    volume_run_free(&v);
    return err;
}

/* ------------------------------------------------------------ insider */

/* Starts agent `agent` of the authority in adir as a service of p and adds
 * its tls: and url: lines. */
static int insider_start_agent(dm_lab_net_procedure *p, const char *adir, const char *agent) {
    const dm_lab_net *net = p->net;
    char pub[4096], key[4096], logd[4096], portf[4096], slog[4096];
    snprintf(pub, sizeof pub, "%s/authority.pub", adir);
    snprintf(key, sizeof key, "%s/agents/%s.key", adir, agent);
    snprintf(logd, sizeof logd, "%s/logs/%s", adir, agent);
    snprintf(portf, sizeof portf, "%s/service-%s.port", adir, agent);
    snprintf(slog, sizeof slog, "%s/service-%s.log", adir, agent);
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%lu",
             net->port_base ? net->port_base + p->services.n : 0);
    char *serve[] = {(char *)net->self,
                     "escrow",
                     "serve",
                     "--authority",
                     pub,
                     "--agent",
                     key,
                     "--log",
                     logd,
                     "--listen",
                     listen,
                     "--port-file",
                     portf,
                     "--log-file",
                     slog,
                     NULL};
    /* The lab's authorities come from the library, without the TLS identity
     * escrow init gives each agent: make one, and pin it in authority.pub. */
    char tls[4096], pin[DM_ESCROW_TLS_PIN_LEN + 1];
    snprintf(tls, sizeof tls, "%s/agents/%s.tls.pem", adir, agent);
    char *pem = NULL;
    size_t pem_len = 0;
    int err = net->tls_new(net->ctx, agent, &pem, &pem_len, pin);
    if (!err)
        err = dm_write_new_file(tls, pem, pem_len, 0600);
    dm_secret_free(pem);
    if (!err)
        err = dm_lab_append_line(pub, "tls: %s %s\n", agent, pin);
    long port;
    if (!err)
        err = dm_lab_service_start(&p->services, serve, portf, slog, &port);
    if (!err)
        err = dm_lab_append_line(pub, "url: %s https://127.0.0.1:%ld\n", agent, port);
    return err;
}

int dm_lab_net_procedure_fn(void *ctx, const char *adir, const char *warrant, size_t warrant_len,
                            const uint8_t *file, size_t file_len,
                            uint8_t file_key[DM_FILE_KEY_LEN]) {
    dm_lab_net_procedure *p = ctx;
    char pub[4096];
    snprintf(pub, sizeof pub, "%s/authority.pub", adir);
    dm_escrow_authority *auth = NULL;
    int err = DM_OK;
    if (!p->inv_sk)
        err = dm_x25519_keygen(&p->inv_sk, &p->inv_pk);
    bool started = false;
    for (size_t i = 0; i < p->n_started; i++)
        started = started || strcmp(p->started[i], adir) == 0;
    if (!err && !started) {
        /* The agents the procedure needs: the first, and for k > 1 the last. */
        err = dm_escrow_authority_load(pub, &auth);
        size_t n = auth ? dm_escrow_authority_agents(auth) : 0;
        if (!err)
            err = insider_start_agent(p, adir, dm_escrow_authority_agent_name(auth, 0));
        if (!err && dm_escrow_authority_threshold(auth) > 1)
            err = insider_start_agent(p, adir, dm_escrow_authority_agent_name(auth, n - 1));
        if (!err && p->n_started < 2)
            snprintf(p->started[p->n_started++], sizeof p->started[0], "%s", adir);
        dm_escrow_authority_free(auth);
        auth = NULL;
    }
    dm_header hdr = {0};
    uint8_t *fk = dm_secret_alloc(DM_FILE_KEY_LEN);
    if (!err && !fk)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err)
        err = dm_escrow_authority_load(pub, &auth);
    if (!err)
        err = dm_header_parse(file, file_len, &hdr);
    if (!err)
        err =
            p->net->request(p->net->ctx, auth, warrant, warrant_len, file, hdr.len, p->inv_sk, fk);
    if (!err)
        memcpy(file_key, fk, DM_FILE_KEY_LEN);
    dm_secret_free(fk);
    dm_header_clear(&hdr);
    dm_escrow_authority_free(auth);
    return err;
}

void dm_lab_net_procedure_stop(dm_lab_net_procedure *p) {
    dm_lab_services_stop(&p->services);
    dm_secret_free(p->inv_sk);
    free(p->inv_pk);
    p->inv_sk = p->inv_pk = NULL;
}
