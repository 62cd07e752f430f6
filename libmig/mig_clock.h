/*
 * mig_clock.h: the one clock of xenmig.  Every duration, rate, timeout and
 * deadline is measured on CLOCK_MONOTONIC (never the wall clock, which an
 * administrator or NTP may step in the middle of a migration) through
 * these functions, in libmig, cpuid-policy, xl-ext and the tests.
 */
#ifndef XENMIG_MIG_CLOCK_H
#define XENMIG_MIG_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Now, in seconds (durations and rates), milliseconds or nanoseconds. */
double mig_clock_seconds(void);
int64_t mig_clock_ms(void);
uint64_t mig_clock_ns(void);

/*
 * *deadline_out: the CLOCK_MONOTONIC time ms milliseconds from now, for
 * pthread_cond_timedwait on a condition variable that mig_clock_cond_init
 * set up (ms < 0 counts as 0).
 */
void mig_clock_deadline(struct timespec *deadline_out, long ms);

/* Initialise cond so that its timed waits run on CLOCK_MONOTONIC.
 * Returns 0 or pthread_cond_init's error number. */
int mig_clock_cond_init(pthread_cond_t *cond);

#endif /* XENMIG_MIG_CLOCK_H */
