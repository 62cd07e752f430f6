/*
 * mig_precopy.h: the convergence policy of live migration (libmig/precopy).
 *
 * After each pre-copy round the engine reports what the round did and how
 * many pages are dirty now; the policy answers: send another round, stop
 * the guest and copy the rest (switchover), or abort (the source keeps
 * running).  Two policies:
 *
 *  MIG_PRECOPY_DOWNTIME (default): from the measured link rate (bytes/s
 *    that the streams actually moved) and dirty rate (pages/s the guest
 *    dirtied), estimate the downtime of a switchover now: remaining pages
 *    * page size / link rate + a fixed overhead (device state, pause and
 *    resume).  Stop as soon as it is within the target.  If the guest
 *    dirties memory as fast as the link drains it, or the estimate has
 *    not improved by 10% for stall_rounds rounds (default 1: a round that
 *    did not shrink the dirty set means the guest's hot set is as small as
 *    pre-copy gets it, and more rounds only resend it), or max_rounds is
 *    reached, the policy
 *    does not converge: it then forces the switchover (longer downtime
 *    than asked, said so in the reason) or aborts, as configured.
 *  MIG_PRECOPY_XEN_DEFAULT: Xen 4.17's libxc policy, for comparison:
 *    stop when fewer than 50 pages are dirty or after 5 rounds.
 *
 * Rates are smoothed over rounds (exponentially weighted, the newest round
 * weighing 0.5), so one noisy round does not decide alone.  This file is
 * pure arithmetic: it must never sleep, do I/O or read a clock.
 */
#ifndef XENMIG_MIG_PRECOPY_H
#define XENMIG_MIG_PRECOPY_H

#include <stdint.h>

#include "mig_error.h"
#include "mig_page.h"

enum mig_precopy_kind {
    MIG_PRECOPY_DOWNTIME = 0,
    MIG_PRECOPY_XEN_DEFAULT = 1,
};

enum mig_precopy_no_convergence {
    MIG_PRECOPY_FORCE = 0,   /* switch over anyway (downtime above target) */
    MIG_PRECOPY_ABORT = 1,   /* give up; the source resumes */
};

enum mig_precopy_decision {
    MIG_PRECOPY_CONTINUE = 0,
    MIG_PRECOPY_STOP_AND_COPY = 1,
    MIG_PRECOPY_GIVE_UP = 2,
};

/* Versioned options: initialise with MIG_PRECOPY_OPTIONS_INIT. */
struct mig_precopy_options {
    unsigned int version;                 /* MIG_PRECOPY_OPTIONS_VERSION */
    enum mig_precopy_kind kind;
    unsigned int max_downtime_ms;         /* target (--max-downtime), > 0 */
    unsigned int max_rounds;              /* bound on pre-copy rounds, > 0 */
    unsigned int stall_rounds;            /* rounds without 10% gain = stalled */
    enum mig_precopy_no_convergence on_no_convergence;
    unsigned int page_size;               /* bytes */
    unsigned int overhead_ms;             /* fixed switchover cost estimate */
};
#define MIG_PRECOPY_OPTIONS_VERSION 1
#define MIG_PRECOPY_OPTIONS_INIT \
    { MIG_PRECOPY_OPTIONS_VERSION, MIG_PRECOPY_DOWNTIME, 300, 30, 1, \
      MIG_PRECOPY_FORCE, MIG_PAGE_SIZE, 20 }

/* What one pre-copy round did, reported by the engine. */
struct mig_precopy_round {
    unsigned int iteration;     /* 0 = the first full pass */
    uint64_t pages_sent;        /* pages this round put on the wire */
    uint64_t bytes_sent;        /* bytes this round put on the wire */
    double seconds;             /* wall time of the round, > 0 */
    uint64_t dirty_pages;       /* pages dirty now, to send next */
    double dirty_window;        /* seconds over which they were dirtied, > 0 */
};

/* The policy's view after a round (for progress lines and reports). */
struct mig_precopy_estimate {
    double link_rate;           /* bytes/s, smoothed */
    double dirty_rate;          /* pages/s, smoothed */
    double expected_downtime_ms;
    const char *reason;         /* static text: why this decision */
};

struct mig_precopy;

/*
 * Create a policy.  *policy_out is owned by the caller (mig_precopy_free);
 * NULL on failure (MIG_EINVAL with the bad option named, or MIG_ENOMEM).
 */
int mig_precopy_new(const struct mig_precopy_options *opts,
                    struct mig_precopy **policy_out);

/*
 * Decide after a round.  *estimate (may be NULL) is filled; its reason
 * string is static.  A round with seconds <= 0 or dirty_window <= 0 is
 * treated as unmeasurable: the rates keep their previous values.
 */
enum mig_precopy_decision mig_precopy_decide(struct mig_precopy *policy,
                                             const struct mig_precopy_round *round,
                                             struct mig_precopy_estimate *estimate);

void mig_precopy_free(struct mig_precopy *policy);

#endif /* XENMIG_MIG_PRECOPY_H */
