/*
 * host.c: what libmig asks of the process it runs in (util/host.h): that
 * it cannot be dumped or traced by its owner while a migration holds a key
 * or guest memory.
 *
 * This file must never change anything of the process but its dumpable
 * flag, and must leave it as it found it once the last migration ends.
 */
#include "config.h"

#include <pthread.h>
#include <sys/prctl.h>

#include "util/host.h"

static pthread_mutex_t hide_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int hidden;         /* migrations under way in this process */
static int dumpable_before;         /* PR_GET_DUMPABLE before the first of them */

void mig_host_hide_begin(void)
{
    pthread_mutex_lock(&hide_lock);
    if (!hidden++) {
        dumpable_before = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    pthread_mutex_unlock(&hide_lock);
}

void mig_host_hide_end(void)
{
    pthread_mutex_lock(&hide_lock);
    if (hidden && !--hidden && dumpable_before > 0)
        (void)prctl(PR_SET_DUMPABLE, dumpable_before, 0, 0, 0);
    pthread_mutex_unlock(&hide_lock);
}
