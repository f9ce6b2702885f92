/* The supervision of the processes a lab starts (labs/supervise.c): the
 * real command run once, with its exit code and output; a service started,
 * its port read from the file it writes once listening, and stopped; a
 * service that never listens, or cannot run, refused within the time and
 * stopped all the same. No network: the services here are shell scripts
 * that write a port file. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "labs.h"
#include "labs_fixture.h"
#include "unit_main.h"

static int setup(void **state) {
    return lab_dir_make(state, "/tmp/doormat-test-labs-supervise.XXXXXX");
}

static char *path_in(const char *dir, const char *name) {
    static char p[4][4096];
    static int k;
    k = (k + 1) % 4;
    int n = snprintf(p[k], sizeof p[k], "%.2000s/%.100s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof p[k]);
    return p[k];
}

static char *slurp(const char *path) {
    static char buf[256];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* pid is gone (reaped): no signal can reach it. */
static void assert_gone(pid_t pid) {
    assert_true(pid > 0);
    errno = 0;
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void run_exit_code_and_output(void **state) {
    const char *dir = *state;
    char *three[] = {"/bin/sh", "-c", "echo to-err >&2; exit 3", NULL};
    assert_int_equal(dm_lab_run(three, NULL), 3);
    char *echo[] = {"/bin/sh", "-c", "echo hello; echo to-err >&2", NULL};
    const char *out = path_in(dir, "out.txt");
    assert_int_equal(dm_lab_run(echo, out), 0);
    assert_string_equal(slurp(out), "hello\n");
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void run_missing_program(void **state) {
    char *argv[] = {path_in(*state, "no-such-program"), NULL};
    assert_int_equal(dm_lab_run(argv, NULL), -1);
    /* Killed by a signal: not an exit code either. */
    char *killed[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    assert_int_equal(dm_lab_run(killed, NULL), -1);
}

static void service_started_and_stopped(void **state) {
    const char *dir = *state;
    char script[4096 + 64];
    const char *portf = path_in(dir, "svc.port");
    snprintf(script, sizeof script,
             "echo starting; sleep 0.2; echo 4242 >%s.tmp && mv %s.tmp %s; exec sleep 30", portf,
             portf, portf);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    dm_lab_services s = {0};
    long port = 0;
    assert_int_equal(dm_lab_service_start(&s, argv, portf, path_in(dir, "svc.log"), &port), DM_OK);
    assert_int_equal(port, 4242);
    assert_int_equal(s.n, 1);
    pid_t pid = s.pids[0];
    assert_int_equal(kill(pid, 0), 0); /* still running, until stopped */
    assert_string_equal(slurp(path_in(dir, "svc.log")), "starting\n");
    dm_lab_services_stop(&s);
    assert_int_equal(s.n, 0);
    assert_gone(pid);
}

static void service_that_exits_is_refused(void **state) {
    const char *dir = *state;
    char *argv[] = {"/bin/sh", "-c", "echo no port; exit 0", NULL};
    dm_lab_services s = {0};
    long port = 0;
    const char *log = path_in(dir, "exits.log");
    assert_int_equal(dm_lab_service_start(&s, argv, path_in(dir, "exits.port"), log, &port),
                     DM_ERR_IO);
    assert_non_null(strstr(dm_err_detail(), log));
    assert_int_equal(s.n, 0); /* it ended and was reaped: nothing left to stop */
    /* A program that cannot run is refused the same way (exit 127 in the child). */
    char *missing[] = {path_in(dir, "no-such-service"), NULL};
    assert_int_equal(
        dm_lab_service_start(&s, missing, path_in(dir, "m.port"), path_in(dir, "m.log"), &port),
        DM_ERR_IO);
    assert_int_equal(s.n, 0);
    /* A process that ended and was reaped is stopped at once. */
    pid_t pid = dm_lab_spawn(argv, log);
    assert_int_equal(dm_lab_wait_port(pid, path_in(dir, "exits.port"), DM_LAB_START_SECONDS), -2);
    double t0 = dm_lab_now();
    dm_lab_stop(pid);
    assert_true(dm_lab_now() - t0 < 1);
}

static void wait_port_times_out(void **state) {
    const char *dir = *state;
    char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
    pid_t pid = dm_lab_spawn(argv, path_in(dir, "slow.log"));
    assert_true(pid > 0);
    double t0 = dm_lab_now();
    assert_int_equal(dm_lab_wait_port(pid, path_in(dir, "slow.port"), 1), -1);
    double waited = dm_lab_now() - t0;
    dm_lab_stop(pid);
    assert_gone(pid);
    assert_true(waited >= 0.9);
    assert_true(waited < 10);
    /* A port out of range is no port. */
    FILE *f = fopen(path_in(dir, "bad.port"), "w");
    assert_non_null(f);
    fputs("70000\n", f);
    fclose(f);
    pid = dm_lab_spawn(argv, path_in(dir, "slow.log"));
    assert_int_equal(dm_lab_wait_port(pid, path_in(dir, "bad.port"), 0), -1);
    dm_lab_stop(pid);
    assert_gone(pid);
}

static void full_services_refused(void **state) {
    const char *dir = *state;
    dm_lab_services s = {.n = DM_LAB_MAX_SERVICES};
    char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    long port;
    assert_int_equal(dm_lab_service_start(&s, argv, path_in(dir, "p"), path_in(dir, "l"), &port),
                     DM_ERR_INTERNAL);
    assert_int_equal(s.n, DM_LAB_MAX_SERVICES);
}

static void append_line(void **state) {
    const char *dir = *state;
    const char *p = path_in(dir, "authority.pub");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("name: FBI\n", f);
    fclose(f);
    assert_int_equal(dm_lab_append_line(p, "url: %s https://127.0.0.1:%ld\n", "master", 4242L),
                     DM_OK);
    assert_string_equal(slurp(p), "name: FBI\nurl: master https://127.0.0.1:4242\n");
    /* The file must exist: nothing is created. */
    assert_int_equal(dm_lab_append_line(path_in(dir, "none.pub"), "x\n"), DM_ERR_IO);
    assert_int_equal(access(path_in(dir, "none.pub"), F_OK), -1);
}

static void remove_tree(void **state) {
    const char *dir = *state;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/tree", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(path_in(sub, "a"), 0700), 0);
    FILE *f = fopen(path_in(sub, "a/f"), "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(dm_lab_remove_tree(sub), DM_OK);
    assert_int_equal(access(sub, F_OK), -1);
    assert_int_equal(dm_lab_remove_tree(sub), DM_ERR_IO);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(run_exit_code_and_output),
    cmocka_unit_test(run_missing_program),
    cmocka_unit_test(service_started_and_stopped),
    cmocka_unit_test(service_that_exits_is_refused),
    cmocka_unit_test(wait_port_times_out),
    cmocka_unit_test(full_services_refused),
    cmocka_unit_test(append_line),
    cmocka_unit_test(remove_tree),
};

DM_UNIT_MAIN("labs_supervise", tests, setup, lab_dir_remove)
