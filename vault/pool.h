/* The payload's job pool: jobs numbered 0, 1, 2, ... taken by the calling
 * thread and a few workers, each read, run and written through the caller's
 * operations, the writes in job order. Internal to the vault (vault/stream.c
 * says what a job is). */
#ifndef DOORMAT_VAULT_POOL_H
#define DOORMAT_VAULT_POOL_H

#include <pthread.h>
#include <stdint.h>

#define DM_POOL_MAX_THREADS 64

typedef struct dm_pool_ops {
    /* Fills slot with job `index`'s input; returns 1 when this job is the
     * last one. Called under the pool's lock when the pool reads in order,
     * so jobs read one after the other. */
    int (*read)(void *arg, unsigned thread, unsigned slot, uint64_t index);
    /* Seals or opens the slot's job; without the lock, in parallel. */
    void (*run)(void *arg, unsigned thread, unsigned slot);
    /* Writes the slot's job; one writer at a time, in job order. Sets *done
     * when nothing after it is to be written; a failure is a dm_err (with
     * its detail), and stops the pool. */
    int (*emit)(void *arg, unsigned slot, int *done);
} dm_pool_ops;

typedef struct dm_pool dm_pool;

typedef struct dm_pool_worker {
    dm_pool *pool;
    unsigned index;
    pthread_t tid;
} dm_pool_worker;

struct dm_pool {
    const dm_pool_ops *ops;
    void *arg;
    int in_order; /* read under the lock, in job order */
    unsigned n_slots;
    struct dm_pool_slot {
        uint64_t index;
        int state;
    } * slots;

    /* Under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sync_ready;
    uint64_t next_job, next_write;
    int final_known;
    uint64_t final_job;
    int stop, writing, err;
    int open;             /* every worker is started: they may take jobs */
    char err_detail[256]; /* dm_err_detail is per thread: the writer's, for the caller */

    dm_pool_worker workers[DM_POOL_MAX_THREADS];
    unsigned n_workers;
};

/* The number of participants for `threads` (0: the online CPUs), at most
 * DM_POOL_MAX_THREADS. */
unsigned dm_pool_threads(unsigned threads);

int dm_pool_init(dm_pool *p, const dm_pool_ops *ops, void *arg, int in_order);
/* Makes n slots (n >= the current number; the new ones free). Job i goes to
 * slot i % n. */
int dm_pool_slots(dm_pool *p, unsigned n);
/* Job 0 alone, on the calling thread (thread 0), with no worker: for an
 * input whose length is unknown. `before_run` (may be NULL) is called
 * between its read and its run with whether it was the last job; a failure
 * there stops before the run and is returned. Returns DM_OK and sets *more
 * when jobs are left to take. */
int dm_pool_first(dm_pool *p, int (*before_run)(void *arg, int last), int *more);
/* Starts workers 1 .. participants - 1; fewer (even none) is still correct. */
void dm_pool_start(dm_pool *p, unsigned participants);
/* The calling thread (thread 0) takes jobs until the last one is written or
 * the run failed; then every worker is joined. Returns the first failure,
 * with its detail set again in the calling thread. */
int dm_pool_run(dm_pool *p);
/* The jobs written. */
uint64_t dm_pool_written(const dm_pool *p);
/* Joins any worker left and frees the slots. */
void dm_pool_free(dm_pool *p);

#endif
