/* The service library changes no process-wide state (docs/architecture.md,
 * "No process-wide state in a library"): starting and closing a server
 * leaves every signal disposition as it was, and the calling thread's mask
 * as it was, with a SIGPIPE raised while the server held it blocked consumed
 * rather than delivered; the clients start libcurl once, from any number of
 * threads at once, and change no disposition either. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/http.h>
#include <netinet/in.h>

#include "service_fixture.h"
#include "service_internal.h"
#include "unit_main.h"

/* The first three are never touched; a running server catches SIGTERM and
 * SIGINT through its event loop (include/doormat/service.h), and puts them
 * back when closed. */
static const int watched[] = {SIGBUS, SIGPIPE, SIGXFSZ, SIGTERM, SIGINT};
#define N_WATCHED (sizeof watched / sizeof watched[0])
#define N_UNTOUCHED 3
/* SA_RESTORER: glibc's sigaction adds it to whatever it installs, so a
 * disposition put back as it was can differ from the kernel's first one by it. */
#define GLIBC_RESTORER 0x04000000

static int same_set(const sigset_t *a, const sigset_t *b) {
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(a, sig) != sigismember(b, sig))
            return 0;
    return 1;
}

static void dispositions(struct sigaction now[N_WATCHED]) {
    for (size_t i = 0; i < N_WATCHED; i++)
        assert_int_equal(sigaction(watched[i], NULL, &now[i]), 0);
}

static void assert_dispositions(const struct sigaction before[N_WATCHED], size_t n) {
    struct sigaction now[N_WATCHED];
    dispositions(now);
    for (size_t i = 0; i < n; i++) {
        assert_true(now[i].sa_handler == before[i].sa_handler);
        assert_int_equal(now[i].sa_flags & ~GLIBC_RESTORER, before[i].sa_flags & ~GLIBC_RESTORER);
        assert_true(same_set(&now[i].sa_mask, &before[i].sa_mask));
    }
}

static void thread_mask(sigset_t *m) {
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, m), 0);
}

static void never_called(dm_svc *svc, struct evhttp_request *req, void *ctx) {
    (void)svc, (void)ctx;
    evhttp_send_error(req, 500, NULL);
}

/* A server on an ephemeral port of 127.0.0.1 that answers nothing, with a fresh
 * TLS key in tls (DIR/tls.pem), logging to log_file. */
static void start_server(dm_svc *svc, const char *dir, char tls[64], const char *log_file) {
    snprintf(tls, 64, "%s/tls.pem", dir);
    write_tls_pem(tls);
    dm_service_opts o;
    memset(&o, 0, sizeof o);
    o.listen = "127.0.0.1:0";
    o.tls_path = tls;
    o.log_file = log_file;
    assert_int_equal(dm_svc_start(svc, &o, "test", never_called, NULL, NULL), DM_OK);
}

static void test_server_start_and_close(void **state) {
    (void)state;
    /* SIGPIPE at its default: delivered, it would end this process. */
    struct sigaction dfl, saved_pipe;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &dfl, &saved_pipe), 0);
    struct sigaction before[N_WATCHED];
    dispositions(before);
    sigset_t mask_before, mask;
    thread_mask(&mask_before);
    assert_false(sigismember(&mask_before, SIGPIPE));

    char dir[] = "/tmp/doormat-test-svcproc.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tls[64], log[64];
    snprintf(log, sizeof log, "%s/log", dir);
    dm_svc svc;
    start_server(&svc, dir, tls, log);
    /* Running: no disposition changed, SIGPIPE blocked in this thread only. */
    assert_dispositions(before, N_UNTOUCHED);
    thread_mask(&mask);
    assert_true(sigismember(&mask, SIGPIPE));
    /* A write to a peer that has gone, as the loop's writes can meet: EPIPE,
     * and a SIGPIPE left pending. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    errno = 0;
    assert_int_equal(write(sv[0], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(sv[0]);
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_true(sigismember(&pending, SIGPIPE));
    assert_true(event_base_loop(svc.base, EVLOOP_NONBLOCK) >= 0);

    dm_svc_close(&svc);
    /* Still alive: the pending SIGPIPE was consumed, and the mask is back. */
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGPIPE));
    thread_mask(&mask);
    assert_true(same_set(&mask, &mask_before));
    assert_dispositions(before, N_WATCHED);

    unlink(tls);
    unlink(log);
    rmdir(dir);
    assert_int_equal(sigaction(SIGPIPE, &saved_pipe, NULL), 0);
}

/* A server started in a thread that already blocks SIGPIPE leaves it
 * blocked, and a SIGPIPE pending there stays pending for its owner. */
static void test_server_keeps_a_blocked_sigpipe(void **state) {
    (void)state;
    sigset_t pipe_only, mask_before, mask, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &pipe_only, &mask_before), 0);
    assert_int_equal(pthread_kill(pthread_self(), SIGPIPE), 0);

    char dir[] = "/tmp/doormat-test-svcproc.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tls[64];
    dm_svc svc;
    start_server(&svc, dir, tls, "/dev/null");
    dm_svc_close(&svc);
    thread_mask(&mask);
    assert_true(sigismember(&mask, SIGPIPE));
    assert_int_equal(sigpending(&pending), 0);
    assert_true(sigismember(&pending, SIGPIPE));
    /* Take it back, then the mask from before this test. */
    int sig = 0;
    assert_int_equal(sigwait(&pipe_only, &sig), 0);
    assert_int_equal(sig, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &mask_before, NULL), 0);
    unlink(tls);
    rmdir(dir);
}

#define CLIENT_THREADS 8

static void *make_client(void *arg) {
    dm_svc_client *c = NULL;
    *(int *)arg = dm_svc_client_new("https://127.0.0.1:1", "sha256//x", 2, &c);
    dm_svc_client_free(c);
    return NULL;
}

static void test_clients(void **state) {
    (void)state;
    struct sigaction before[N_WATCHED];
    dispositions(before);
    sigset_t mask_before, mask;
    thread_mask(&mask_before);
    /* The first clients come from several threads at once. */
    pthread_t t[CLIENT_THREADS];
    int got[CLIENT_THREADS];
    for (int i = 0; i < CLIENT_THREADS; i++) {
        got[i] = -1;
        assert_int_equal(pthread_create(&t[i], NULL, make_client, &got[i]), 0);
    }
    for (int i = 0; i < CLIENT_THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(got[i], DM_OK);
    }
    /* A call that fails to connect. */
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", closed_port());
    dm_svc_client *c = NULL;
    assert_int_equal(dm_svc_client_new_ca(url, NULL, 2, &c), DM_OK);
    long status = -1;
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(dm_svc_client_call(c, "/x", NULL, 0, 4096, &status, &resp, &resp_len),
                     DM_ERR_IO);
    assert_int_equal(status, 0);
    free(resp);
    dm_svc_client_free(c);
    assert_dispositions(before, N_WATCHED);
    thread_mask(&mask);
    assert_true(same_set(&mask, &mask_before));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_server_start_and_close),
    cmocka_unit_test(test_server_keeps_a_blocked_sigpipe),
    cmocka_unit_test(test_clients),
};

DM_UNIT_MAIN("service_process", tests, NULL, NULL)
