/* bench/service_load: a load generator for doormat escrow serve. N clients,
 * each a keep-alive HTTPS connection (libcurl multi, the agent's key pinned),
 * POST the same release request again and again for a while; prints the
 * releases per second and the latency distribution. With RECIPIENTS_FILE
 * (one age1... recipient a line), each request takes the next recipient in
 * place of the body's own: a request of its own, so that every release is a
 * new log entry (the agent gives a repeated request its earlier entry).
 *   service_load URL PIN BODY_FILE CLIENTS SECONDS [RECIPIENTS_FILE]
 * Prints one line: clients, requests, ok, failed, seconds, rate, p50, p90, p99, max (ms). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
    (void)p, (void)ctx;
    return size * n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct slot {
    CURL *h;
    double started;
    char *own; /* this request's body, when recipients vary */
} slot;

/* The recipients to vary the requests with, and the next one to use. */
static char **recipients;
static size_t n_recipients, next_recipient;

/* body with its "recipient: " line (the second) naming the next recipient. */
static const char *vary(slot *s, const char *body, long *len) {
    if (n_recipients == 0)
        return body;
    const char *line = strstr(body, "\nrecipient: ");
    const char *rest = line ? strchr(line + 1, '\n') : NULL;
    if (rest == NULL)
        return body;
    const char *r = recipients[next_recipient++ % n_recipients];
    size_t head = (size_t)(line - body) + strlen("\nrecipient: ");
    size_t tail = (size_t)(*len - (rest - body));
    free(s->own);
    s->own = malloc(head + strlen(r) + tail);
    if (s->own == NULL)
        return body;
    memcpy(s->own, body, head);
    memcpy(s->own + head, r, strlen(r));
    memcpy(s->own + head + strlen(r), rest, tail);
    *len = (long)(head + strlen(r) + tail);
    return s->own;
}

static void start(CURLM *m, slot *s, const char *url, const char *pin, const char *body, long len) {
    curl_multi_remove_handle(m, s->h);
    body = vary(s, body, &len);
    curl_easy_setopt(s->h, CURLOPT_URL, url);
    curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(s->h, CURLOPT_PINNEDPUBLICKEY, pin);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, len);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(s->h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
    /* No "Expect: 100-continue" round trip before the body. */
    static struct curl_slist *headers = NULL;
    if (headers == NULL)
        headers = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, headers);
    s->started = now_s();
    curl_multi_add_handle(m, s->h);
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr,
                "usage: service_load URL PIN BODY_FILE CLIENTS SECONDS [RECIPIENTS_FILE]\n");
        return 2;
    }
    if (argc == 7) {
        FILE *rf = fopen(argv[6], "r");
        char line[256];
        size_t cap_r = 0;
        while (rf != NULL && fgets(line, sizeof line, rf) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '\0')
                continue;
            if (n_recipients == cap_r) {
                cap_r = cap_r ? 2 * cap_r : 1024;
                char **grown = realloc(recipients, cap_r * sizeof *recipients);
                if (grown == NULL)
                    break;
                recipients = grown;
            }
            recipients[n_recipients++] = strdup(line);
        }
        if (rf == NULL || n_recipients == 0) {
            fprintf(stderr, "service_load: no recipients in %s\n", argv[6]);
            return 2;
        }
        fclose(rf);
    }
    const char *url = argv[1], *pin = argv[2];
    int clients = atoi(argv[4]);
    double seconds = atof(argv[5]);
    FILE *f = fopen(argv[3], "rb");
    if (f == NULL || clients < 1 || clients > 1024 || seconds <= 0) {
        fprintf(stderr, "service_load: bad arguments\n");
        return 2;
    }
    static char body[1 << 20];
    long len = (long)fread(body, 1, sizeof body, f);
    fclose(f);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)clients);
    slot *slots = calloc((size_t)clients, sizeof *slots);
    size_t cap = 1 << 20, n_lat = 0;
    double *lat = malloc(cap * sizeof *lat);
    long ok = 0, failed = 0;
    for (int i = 0; i < clients; i++) {
        slots[i].h = curl_easy_init();
        curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
        start(m, &slots[i], url, pin, body, len);
    }
    double t0 = now_s(), end = t0 + seconds;
    int running = clients, active = clients;
    while (active > 0) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            CURL *h = msg->easy_handle;
            CURLcode result = msg->data.result;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
            double t = now_s();
            if (result == CURLE_OK && code == 200) {
                ok++;
                if (n_lat < cap)
                    lat[n_lat++] = (t - s->started) * 1000.0;
            } else {
                failed++;
            }
            if (t < end) {
                start(m, s, url, pin, body, len);
            } else {
                curl_multi_remove_handle(m, s->h);
                active--;
            }
        }
        if (active > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double took = now_s() - t0;
    qsort(lat, n_lat, sizeof *lat, cmp_double);
#define PCT(p) (n_lat ? lat[(size_t)((double)(n_lat - 1) * (p))] : 0.0)
    printf("clients %d requests %ld ok %ld failed %ld seconds %.2f rate %.1f p50 %.1f p90 %.1f "
           "p99 %.1f max %.1f\n",
           clients, ok + failed, ok, failed, took, (double)ok / took, PCT(0.5), PCT(0.9), PCT(0.99),
           n_lat ? lat[n_lat - 1] : 0.0);
    for (int i = 0; i < clients; i++) {
        curl_easy_cleanup(slots[i].h);
        free(slots[i].own);
    }
    free(slots);
    for (size_t i = 0; i < n_recipients; i++)
        free(recipients[i]);
    free(recipients);
    free(lat);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return failed > 0 && ok == 0;
}
