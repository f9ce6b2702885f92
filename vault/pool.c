/* The job pool: every participant (the calling thread and the workers)
 * takes the next job, reads its input, runs it and marks it done; whoever
 * finishes the job next in line writes it, and the jobs after it that are
 * done, with one write per job. So reading, running and writing overlap
 * across threads, the output stays in order, and memory is fixed by the
 * number of slots, never by the number of jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doormat/vault.h"
#include "pool.h"

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

unsigned dm_pool_threads(unsigned threads) {
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (unsigned)online : 1;
    }
    return threads > DM_POOL_MAX_THREADS ? DM_POOL_MAX_THREADS : threads;
}

int dm_pool_init(dm_pool *p, const dm_pool_ops *ops, void *arg, int in_order) {
    memset(p, 0, sizeof *p);
    p->ops = ops;
    p->arg = arg;
    p->in_order = in_order;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return dm_fail(DM_ERR_NOMEM, "payload lock");
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return dm_fail(DM_ERR_NOMEM, "payload condition");
    }
    p->sync_ready = 1;
    return DM_OK;
}

int dm_pool_slots(dm_pool *p, unsigned n) {
    struct dm_pool_slot *grown = realloc(p->slots, n * sizeof *grown);
    if (grown == NULL)
        return dm_fail(DM_ERR_NOMEM, "payload slots");
    /* The slots in use keep their place: job i stays in slot i while i < n. */
    memset(grown + p->n_slots, 0, (n - p->n_slots) * sizeof *grown);
    p->slots = grown;
    p->n_slots = n;
    return DM_OK;
}

uint64_t dm_pool_written(const dm_pool *p) {
    return p->next_write;
}

/* Writes, in order, every job that is done and next in line. Called with mu
 * held; only one thread writes at a time, without the lock. */
static void drain(dm_pool *p) {
    while (!p->writing && !p->stop) {
        unsigned slot = (unsigned)(p->next_write % p->n_slots);
        struct dm_pool_slot *s = &p->slots[slot];
        if (s->state != SLOT_DONE || s->index != p->next_write)
            return;
        p->writing = 1;
        pthread_mutex_unlock(&p->mu);
        int done = 0;
        int err = p->ops->emit(p->arg, slot, &done);
        pthread_mutex_lock(&p->mu);
        p->writing = 0;
        s->state = SLOT_FREE;
        p->next_write++;
        if (err != DM_OK) {
            p->err = err;
            snprintf(p->err_detail, sizeof p->err_detail, "%s", dm_err_detail());
        }
        if (done || err != DM_OK)
            p->stop = 1;
        pthread_cond_broadcast(&p->cv);
    }
}

static int no_more_jobs(const dm_pool *p) {
    return p->stop || (p->final_known && p->next_job > p->final_job);
}

/* Called with mu held, after a job that ends the stream was read. */
static void final_seen(dm_pool *p, uint64_t index) {
    if (!p->final_known || index < p->final_job) {
        p->final_known = 1;
        p->final_job = index;
    }
    pthread_cond_broadcast(&p->cv);
}

int dm_pool_first(dm_pool *p, int (*before_run)(void *arg, int last), int *more) {
    pthread_mutex_lock(&p->mu);
    struct dm_pool_slot *s = &p->slots[0];
    s->index = p->next_job++;
    s->state = SLOT_BUSY;
    int last = p->ops->read(p->arg, 0, 0, s->index);
    if (last)
        final_seen(p, s->index);
    pthread_mutex_unlock(&p->mu);
    int err = before_run != NULL ? before_run(p->arg, last) : DM_OK;
    if (err != DM_OK)
        return err;
    p->ops->run(p->arg, 0, 0);
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_DONE;
    drain(p);
    *more = !no_more_jobs(p);
    pthread_mutex_unlock(&p->mu);
    return DM_OK;
}

/* Takes jobs until there are none left. */
static void work(dm_pool *p, unsigned t) {
    pthread_mutex_lock(&p->mu);
    while (!no_more_jobs(p)) {
        unsigned slot = (unsigned)(p->next_job % p->n_slots);
        struct dm_pool_slot *s = &p->slots[slot];
        if (s->state != SLOT_FREE) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        s->index = p->next_job++;
        s->state = SLOT_BUSY;
        int last = 0;
        if (p->in_order)
            last = p->ops->read(p->arg, t, slot, s->index); /* in order, under the lock */
        pthread_mutex_unlock(&p->mu);
        if (!p->in_order)
            last = p->ops->read(p->arg, t, slot, s->index);
        if (last) {
            pthread_mutex_lock(&p->mu);
            final_seen(p, s->index);
            pthread_mutex_unlock(&p->mu);
        }
        p->ops->run(p->arg, t, slot);
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_DONE;
        drain(p);
    }
    /* Stay until the last job is written (or the run failed): the writer
     * may be anyone, and the pool keeps its size for the whole run. */
    while (!p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void *worker_main(void *arg) {
    dm_pool_worker *w = arg;
    dm_pool *p = w->pool;
    /* Start together: a small input must not be done before the pool exists. */
    pthread_mutex_lock(&p->mu);
    while (!p->open && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    work(p, w->index);
    return NULL;
}

void dm_pool_start(dm_pool *p, unsigned participants) {
    for (unsigned t = 1; t < participants && t < DM_POOL_MAX_THREADS; t++) {
        dm_pool_worker *w = &p->workers[p->n_workers];
        w->pool = p;
        w->index = t;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0)
            break;
        p->n_workers++;
    }
    pthread_mutex_lock(&p->mu);
    p->open = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void join(dm_pool *p) {
    for (unsigned i = 0; i < p->n_workers; i++)
        pthread_join(p->workers[i].tid, NULL);
    p->n_workers = 0;
}

int dm_pool_run(dm_pool *p) {
    work(p, 0);
    join(p);
    /* The failure's detail was set in whichever thread wrote; say it here. */
    return p->err == DM_OK ? DM_OK : dm_fail(p->err, "%s", p->err_detail);
}

void dm_pool_free(dm_pool *p) {
    if (p->sync_ready) {
        /* A failure before the run: let any worker started leave. */
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    join(p);
    free(p->slots);
    p->slots = NULL;
    if (p->sync_ready) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        p->sync_ready = 0;
    }
}
