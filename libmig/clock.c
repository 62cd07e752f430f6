/*
 * clock.c: the one monotonic clock (mig_clock.h).  Must never read
 * CLOCK_REALTIME.
 */
#include "config.h"

#include "mig_clock.h"

static struct timespec monotonic_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

double mig_clock_seconds(void)
{
    struct timespec ts = monotonic_now();

    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t mig_clock_ms(void)
{
    struct timespec ts = monotonic_now();

    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t mig_clock_ns(void)
{
    struct timespec ts = monotonic_now();

    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mig_clock_deadline(struct timespec *deadline_out, long ms)
{
    struct timespec ts = monotonic_now();

    if (ms < 0)
        ms = 0;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    *deadline_out = ts;
}

int mig_clock_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);

    if (err)
        return err;
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!err)
        err = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return err;
}
