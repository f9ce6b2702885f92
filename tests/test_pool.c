/* The job pool (vault/pool.c): jobs finished out of order by several
 * threads are written in order, each once; a failed write stops the pool,
 * nothing after it is written, and its code and detail reach the caller; a
 * pool that reads in order reads in order; the first job alone, then more
 * slots and workers, still writes every job once and in order. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "doormat/vault.h"
#include "pool.h"
#include "unit_main.h"

#define JOBS 200
#define SLOTS 8

typedef struct fixture {
    uint64_t jobs;   /* the last job is jobs - 1 */
    int64_t fail_at; /* emit fails for this job, -1: never */
    uint64_t slot_job[SLOTS];
    uint64_t reads[JOBS]; /* the order of the reads */
    size_t n_reads;
    uint64_t written[JOBS]; /* the order of the writes */
    size_t n_written;
    pthread_mutex_t mu; /* the fixture's own, for reads of a pool that reads in parallel */
} fixture;

static int f_read(void *arg, unsigned t, unsigned slot, uint64_t index) {
    (void)t;
    fixture *f = arg;
    f->slot_job[slot] = index;
    pthread_mutex_lock(&f->mu);
    f->reads[f->n_reads++] = index;
    pthread_mutex_unlock(&f->mu);
    return index == f->jobs - 1;
}

static void f_run(void *arg, unsigned t, unsigned slot) {
    (void)t;
    fixture *f = arg;
    /* Uneven work, so the jobs finish out of order. */
    usleep((unsigned)(f->slot_job[slot] * 37 % 5) * 200);
}

static int f_emit(void *arg, unsigned slot, int *done) {
    fixture *f = arg;
    uint64_t index = f->slot_job[slot];
    f->written[f->n_written++] = index;
    *done = index == f->jobs - 1;
    if ((int64_t)index == f->fail_at)
        return dm_fail(DM_ERR_PAYLOAD, "job %llu failed", (unsigned long long)index);
    return DM_OK;
}

static const dm_pool_ops ops = {f_read, f_run, f_emit};

static void fixture_init(fixture *f, uint64_t jobs, int64_t fail_at) {
    memset(f, 0, sizeof *f);
    f->jobs = jobs;
    f->fail_at = fail_at;
    assert_int_equal(pthread_mutex_init(&f->mu, NULL), 0);
}

static void test_in_order_once(void **state) {
    (void)state;
    for (int in_order = 0; in_order <= 1; in_order++) {
        fixture f;
        fixture_init(&f, JOBS, -1);
        dm_pool p;
        assert_int_equal(dm_pool_init(&p, &ops, &f, in_order), DM_OK);
        assert_int_equal(dm_pool_slots(&p, SLOTS), DM_OK);
        dm_pool_start(&p, 4);
        assert_int_equal(p.n_workers, 3);
        assert_int_equal(dm_pool_run(&p), DM_OK);
        assert_int_equal(dm_pool_written(&p), JOBS);
        assert_int_equal(f.n_written, JOBS);
        assert_int_equal(f.n_reads, JOBS);
        for (uint64_t i = 0; i < JOBS; i++)
            assert_int_equal(f.written[i], i);
        if (in_order)
            for (uint64_t i = 0; i < JOBS; i++)
                assert_int_equal(f.reads[i], i);
        dm_pool_free(&p);
        pthread_mutex_destroy(&f.mu);
    }
}

static void test_failure_stops_the_writes(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, JOBS, 57);
    dm_pool p;
    assert_int_equal(dm_pool_init(&p, &ops, &f, 0), DM_OK);
    assert_int_equal(dm_pool_slots(&p, SLOTS), DM_OK);
    dm_pool_start(&p, 4);
    (void)dm_fail(DM_ERR_IO, "the caller's own detail");
    assert_int_equal(dm_pool_run(&p), DM_ERR_PAYLOAD);
    assert_string_equal(dm_err_detail(), "job 57 failed");
    assert_int_equal(f.n_written, 58);
    for (uint64_t i = 0; i < 58; i++)
        assert_int_equal(f.written[i], i);
    assert_int_equal(dm_pool_written(&p), 58);
    /* Fewer than every job was read: the pool stopped taking them. */
    assert_true(f.n_reads < JOBS);
    dm_pool_free(&p);
    pthread_mutex_destroy(&f.mu);
}

static int before_first(void *arg, int last) {
    fixture *f = arg;
    assert_int_equal(last, f->jobs == 1);
    return DM_OK;
}

static void test_first_job_alone_then_more(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, JOBS, -1);
    dm_pool p;
    assert_int_equal(dm_pool_init(&p, &ops, &f, 1), DM_OK);
    assert_int_equal(dm_pool_slots(&p, 1), DM_OK);
    int more = 0;
    assert_int_equal(dm_pool_first(&p, before_first, &more), DM_OK);
    assert_int_equal(more, 1);
    assert_int_equal(f.n_written, 1);
    assert_int_equal(p.n_workers, 0);
    assert_int_equal(dm_pool_slots(&p, SLOTS), DM_OK);
    dm_pool_start(&p, 3);
    assert_int_equal(dm_pool_run(&p), DM_OK);
    assert_int_equal(f.n_written, JOBS);
    for (uint64_t i = 0; i < JOBS; i++) {
        assert_int_equal(f.written[i], i);
        assert_int_equal(f.reads[i], i);
    }
    dm_pool_free(&p);
    pthread_mutex_destroy(&f.mu);

    /* A single job: done by the first call, nothing more to take. */
    fixture_init(&f, 1, -1);
    assert_int_equal(dm_pool_init(&p, &ops, &f, 1), DM_OK);
    assert_int_equal(dm_pool_slots(&p, 1), DM_OK);
    assert_int_equal(dm_pool_first(&p, before_first, &more), DM_OK);
    assert_int_equal(more, 0);
    assert_int_equal(f.n_written, 1);
    assert_int_equal(dm_pool_run(&p), DM_OK);
    assert_int_equal(f.n_written, 1);
    dm_pool_free(&p);
    pthread_mutex_destroy(&f.mu);
}

static void test_threads(void **state) {
    (void)state;
    assert_true(dm_pool_threads(0) >= 1);
    assert_int_equal(dm_pool_threads(1), 1);
    assert_int_equal(dm_pool_threads(5), 5);
    assert_int_equal(dm_pool_threads(1000), DM_POOL_MAX_THREADS);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_in_order_once), cmocka_unit_test(test_failure_stops_the_writes),
    cmocka_unit_test(test_first_job_alone_then_more), cmocka_unit_test(test_threads)};

DM_UNIT_MAIN("pool", tests, NULL, NULL)
