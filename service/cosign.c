/* The agent's side of c2sp.org/tlog-witness: each witness authority.pub
 * names (with its URL and TLS pin) is asked over a keep-alive, pinned HTTPS
 * connection, all of them at once. The transfers are one curl multi handle
 * driven by the agent's own libevent loop (curl's socket and timer
 * callbacks become events), so the loop goes on serving requests, reading
 * closed connections and accepting while witnesses think; a thread per
 * witness would need locks around the log for nothing. What the answers
 * mean (409 and the retry, checking the cosignatures, the policy) is the
 * escrow library's round (dm_escrow_round). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service_internal.h"

#define MAX_COSIGNATURES 65536

struct dm_svc_witness {
    dm_svc_cosigners *owner;
    size_t i;
    dm_svc_client *client;
    char name[DM_TLOG_MAX_NAME + 1];
    int busy;                 /* its transfer is in the multi handle */
    dm_escrow_round *round;   /* the round its transfer is for (it may have ended) */
    double started, deadline; /* of its first request in the round (monotonic seconds) */
    int skipped;              /* busy with an earlier round when this one started: not asked */
};

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_event(evutil_socket_t fd, short what, void *arg);

/* CURLMOPT_SOCKETFUNCTION: curl says which sockets to watch, and for what. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)e;
    dm_svc_cosigners *c = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL) {
            event_free(ev);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev != NULL) {
        event_del(ev);
        event_assign(ev, c->base, s, kind, on_event, c);
    } else {
        ev = event_new(c->base, s, kind, on_event, c);
        if (ev == NULL)
            return -1;
        curl_multi_assign(c->multi, s, ev);
    }
    return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be called next (timeouts). */
static int on_curl_timer(CURLM *m, long timeout_ms, void *userp) {
    (void)m;
    dm_svc_cosigners *c = userp;
    if (timeout_ms < 0)
        return evtimer_del(c->timer);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(c->timer, &tv);
}

static void send_request(dm_svc_cosigners *c, dm_svc_witness *w);

/* Frees an ended round once no transfer is for it any more. */
static void release_round(dm_svc_cosigners *c, dm_escrow_round *rd) {
    if (rd == NULL || rd == c->round)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->w[i].round == rd)
            return;
    dm_escrow_round_free(rd);
}

/* A late answer, to a round that ended without it: judged all the same,
 * and a witness that failed is named in the log, with why. */
static void judge_late(dm_svc_cosigners *c, dm_svc_witness *w, dm_escrow_round *rd, int status,
                       const char *resp, size_t len) {
    dm_escrow_round_answer(rd, w->i, status, resp, len);
    const char *why = dm_escrow_round_why(rd, w->i);
    if (why[0] && c->failures != NULL)
        c->failures[w->i]++;
    if (c->log != NULL && why[0]) {
        fprintf(c->log, "%s: witness %s: %s (answering a round that had ended without it)\n",
                c->log_name ? c->log_name : "agent", w->name, why);
        fflush(c->log);
    }
}

/* Ends the round when the threshold is in, or nobody is left to wait for. */
static void maybe_end(dm_svc_cosigners *c) {
    dm_escrow_round *rd = c->round;
    if (rd == NULL)
        return;
    int waiting = 0;
    for (size_t i = 0; i < c->n; i++)
        waiting |= c->w[i].busy && c->w[i].round == rd;
    if (waiting && dm_escrow_round_have(rd) < dm_escrow_round_needed(rd))
        return;
    dm_buf slow = {0};
    for (size_t i = 0; i < c->n; i++)
        if ((c->w[i].busy && c->w[i].round == rd) || c->w[i].skipped) /* not waited for */
            dm_buf_printf(&slow, "%s%s", slow.len ? ", " : "", c->w[i].name);
    int err = dm_escrow_round_finish(rd);
    /* Every witness that failed, and why; one still busy with an earlier
     * round is only "not waited for" when the round had enough without it
     * (its own failure, if any, is told when its answer comes). */
    dm_buf fail = {0};
    for (size_t i = 0; i < c->n; i++) {
        const char *why = dm_escrow_round_why(rd, i);
        if (why[0] && (err != DM_OK || !c->w[i].skipped)) {
            dm_buf_printf(&fail, "%switness %s: %s", fail.len ? "; " : "", c->w[i].name, why);
            if (c->failures != NULL)
                c->failures[i]++;
        }
        c->w[i].skipped = 0;
    }
    char *failures = NULL;
    if (!dm_buf_take(&fail, &failures, NULL))
        failures = NULL;
    c->round = NULL;
    /* A witness not waited for keeps its transfer to its own deadline, and
     * its answer is still judged by this round when it comes. */
    release_round(c, rd);
    c->seconds += mono() - c->t_start;
    char *slow_names = NULL;
    if (!dm_buf_take(&slow, &slow_names, NULL))
        slow_names = NULL;
    c->done(c->done_arg, err, failures ? failures : "", slow_names ? slow_names : "");
    free(failures);
    free(slow_names);
}

/* Reads every transfer curl has finished. */
static void collect(dm_svc_cosigners *c) {
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        dm_svc_witness *w = NULL;
        for (size_t i = 0; i < c->n && w == NULL; i++)
            if (c->w[i].busy && dm_svc_client_easy(c->w[i].client) == e)
                w = &c->w[i];
        curl_multi_remove_handle(c->multi, e);
        if (w == NULL)
            continue;
        w->busy = 0;
        long status = 0;
        char *resp = NULL;
        size_t len = 0;
        int err = dm_svc_client_finish(w->client, rc, &status, &resp, &len);
        char why[1024] = ""; /* the round cuts it to its length, at a space */
        if (err != DM_OK && rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(why, sizeof why, "no answer within %.3g s (%s)", (double)c->timeout_ms / 1000,
                     dm_err_detail());
        else if (err != DM_OK)
            snprintf(why, sizeof why, "no answer (%s)", dm_err_detail());
        dm_escrow_round *rd = w->round;
        w->round = NULL;
        if (rd != NULL && rd == c->round) {
            if (dm_escrow_round_answer(rd, w->i, err ? 0 : (int)status, err ? why : resp,
                                       err ? strlen(why) : len))
                send_request(c, w); /* a 409: again, from the size it has */
        } else if (rd != NULL) {
            judge_late(c, w, rd, err ? 0 : (int)status, err ? why : resp, err ? strlen(why) : len);
            release_round(c, rd);
        }
        free(resp);
    }
    maybe_end(c);
}

static void on_event(evutil_socket_t fd, short what, void *arg) {
    dm_svc_cosigners *c = arg;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    collect(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    dm_svc_cosigners *c = arg;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(c);
}

static void send_request(dm_svc_cosigners *c, dm_svc_witness *w) {
    char *body = NULL;
    size_t len = 0;
    int err = dm_escrow_round_request(c->round, w->i, &body, &len);
    if (err != DM_OK) {
        dm_escrow_round_give_up(c->round, w->i, dm_err_detail());
        return;
    }
    if (body == NULL)
        return; /* nothing to ask it (its cosignature is there) */
    double left = w->deadline - mono();
    unsigned ms = left < 0.001 ? 1 : (unsigned)(left * 1000);
    CURL *h = dm_svc_client_prepare(w->client, "/add-checkpoint", body, len, MAX_COSIGNATURES, ms);
    free(body);
    if (h == NULL || curl_multi_add_handle(c->multi, h) != CURLM_OK) {
        dm_escrow_round_give_up(c->round, w->i, "cannot start a request (out of memory)");
        return;
    }
    w->busy = 1;
    w->round = c->round;
}

int dm_svc_cosign_start(dm_svc_cosigners *c, dm_escrow_releaser *rel, dm_svc_round_done done,
                        void *arg) {
    if (c->round != NULL)
        return dm_fail(DM_ERR_INTERNAL, "a round of cosignatures is already in flight");
    int err = dm_escrow_round_new(rel, c->n, c->names, &c->round);
    if (err != DM_OK)
        return err;
    c->done = done;
    c->done_arg = arg;
    c->t_start = mono();
    for (size_t i = 0; i < c->n; i++) {
        dm_svc_witness *w = &c->w[i];
        if (dm_escrow_round_done(c->round, i))
            continue;
        if (w->busy) {
            char why[120];
            snprintf(why, sizeof why,
                     "still no answer to an earlier request (asked %.1f s ago), not asked again",
                     c->t_start - w->started);
            dm_escrow_round_give_up(c->round, i, why);
            w->skipped = 1;
            continue;
        }
        w->started = c->t_start;
        w->deadline = c->t_start + (double)c->timeout_ms / 1000;
        send_request(c, w);
    }
    /* The end is always seen from the loop, even when nobody was asked. */
    event_active(c->kick, EV_TIMEOUT, 1);
    return DM_OK;
}

static void on_kick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    maybe_end(arg);
}

int dm_svc_cosigners_new(const dm_escrow_authority *auth, struct event_base *base,
                         unsigned timeout_s, dm_svc_cosigners *out) {
    memset(out, 0, sizeof *out);
    out->base = base;
    out->timeout_ms = 1000u * (timeout_s ? timeout_s : DM_SVC_DEFAULT_TIMEOUT);
    size_t n = dm_escrow_authority_witnesses(auth);
    int started = dm_svc_curl_ready();
    if (started != DM_OK)
        return started;
    out->multi = curl_multi_init();
    out->timer = evtimer_new(base, on_timer, out);
    out->kick = event_new(base, -1, 0, on_kick, out);
    out->w = calloc(n ? n : 1, sizeof *out->w);
    out->names = calloc(n ? n : 1, sizeof *out->names);
    out->failures = calloc(n ? n : 1, sizeof *out->failures);
    if (!out->multi || !out->timer || !out->kick || !out->w || !out->names || !out->failures) {
        dm_svc_cosigners_free(out);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    curl_multi_setopt(out->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(out->multi, CURLMOPT_SOCKETDATA, out);
    curl_multi_setopt(out->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(out->multi, CURLMOPT_TIMERDATA, out);
    for (size_t i = 0; i < n; i++) {
        const dm_tlog_verifier *v = dm_escrow_authority_witness(auth, i);
        const char *url = dm_escrow_authority_endpoint_url(auth, v->name);
        const char *pin = dm_escrow_authority_endpoint_pin(auth, v->name);
        if (url == NULL || pin == NULL)
            continue; /* a witness reached some other way; it counts as missing here */
        dm_svc_witness *w = &out->w[out->n];
        int err = dm_svc_client_new(url, pin, timeout_s, &w->client);
        if (err != DM_OK) {
            dm_svc_cosigners_free(out);
            return err;
        }
        w->owner = out;
        w->i = out->n;
        snprintf(w->name, sizeof w->name, "%s", v->name);
        out->names[out->n] = w->name;
        out->n++;
    }
    return DM_OK;
}

void dm_svc_cosigners_free(dm_svc_cosigners *c) {
    for (size_t i = 0; c->w && i < c->n; i++) {
        if (c->w[i].busy)
            curl_multi_remove_handle(c->multi, dm_svc_client_easy(c->w[i].client));
        dm_escrow_round *rd = c->w[i].round;
        c->w[i].round = NULL;
        release_round(c, rd);
        dm_svc_client_free(c->w[i].client);
    }
    curl_multi_cleanup(c->multi); /* (NULL-safe) */
    dm_svc_event_free(c->timer);
    dm_svc_event_free(c->kick);
    dm_escrow_round_free(c->round);
    free(c->w);
    free(c->names);
    free(c->failures);
    memset(c, 0, sizeof *c);
}
