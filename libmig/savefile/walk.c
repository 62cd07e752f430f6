/*
 * walk.c: the threads that read a save file (savefile_private.h): N
 * workers, the caller's thread ticking the progress meanwhile, the first
 * error carried back to the caller's thread (libmig's messages are
 * thread-local).  It must never return while a worker still runs, and
 * never lose a worker's error to a later one.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_clock.h"
#include "mig_error.h"
#include "savefile/savefile_private.h"

#define TICK_MS 200

struct worker {
    struct walk *w;
    unsigned int thread;
};

/* Keep the first error (code and message) and stop the others. */
static void walk_fail(struct walk *w, int rc, const char *message)
{
    pthread_mutex_lock(&w->lock);
    if (!w->rc) {
        w->rc = rc;
        snprintf(w->message, sizeof(w->message), "%s", message);
    }
    pthread_mutex_unlock(&w->lock);
    atomic_store(&w->stop, true);
}

static void *worker_main(void *arg)
{
    struct worker *k = arg;
    struct walk *w = k->w;
    int rc = w->work(w, k->thread);

    if (rc)
        walk_fail(w, rc, mig_error_last());
    pthread_mutex_lock(&w->lock);
    w->running--;
    pthread_cond_signal(&w->ended);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Start the workers; those that started are counted in w->running. */
static int start_workers(struct walk *w, pthread_t *tids, struct worker *workers)
{
    for (unsigned int t = 0; t < w->threads; t++) {
        int err;

        workers[t] = (struct worker){ w, t };
        pthread_mutex_lock(&w->lock);
        w->running++;
        pthread_mutex_unlock(&w->lock);
        err = pthread_create(&tids[t], NULL, worker_main, &workers[t]);
        if (err) {
            pthread_mutex_lock(&w->lock);
            w->running--;
            pthread_mutex_unlock(&w->lock);
            walk_fail(w, MIG_ENOMEM, "cannot start a thread to read the save file");
            return (int)t;
        }
    }
    return (int)w->threads;
}

/* Tick until every worker ended; a tick's error stops them. */
static void wait_workers(struct walk *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->running) {
        struct timespec deadline;

        int rc = 0;

        mig_clock_deadline(&deadline, TICK_MS);
        if (pthread_cond_timedwait(&w->ended, &w->lock, &deadline) != ETIMEDOUT ||
            atomic_load(&w->stop))
            continue;
        pthread_mutex_unlock(&w->lock);
        if (w->cancel && atomic_load(w->cancel))
            rc = mig_error_set(MIG_ECANCELLED, "reading the save file was cancelled");
        else if (w->tick)
            rc = w->tick(w);
        if (rc)
            walk_fail(w, rc, mig_error_last());
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
}

int walk_run(struct walk *w)
{
    pthread_t tids[WALK_MAX_THREADS];
    struct worker workers[WALK_MAX_THREADS];
    int started, rc;

    if (!w->threads || w->threads > WALK_MAX_THREADS)
        return mig_error_set(MIG_EINVAL, "%u threads to read a save file: give 1 to %u",
                             w->threads, WALK_MAX_THREADS);
    atomic_store(&w->stop, false);
    atomic_store(&w->done, 0);
    w->running = 0;
    w->rc = 0;
    w->message[0] = '\0';
    pthread_mutex_init(&w->lock, NULL);
    rc = mig_clock_cond_init(&w->ended);
    if (rc) {
        pthread_mutex_destroy(&w->lock);
        return mig_error_set_errno(MIG_ENOMEM, rc, "cannot set up the save file's readers");
    }
    started = start_workers(w, tids, workers);
    wait_workers(w);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    pthread_cond_destroy(&w->ended);
    pthread_mutex_destroy(&w->lock);
    if (w->rc)
        return mig_error_set(w->rc, "%s", w->message);
    return 0;
}
