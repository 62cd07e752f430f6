/*
 * policy.c: convergence policies of pre-copy (see mig_precopy.h).
 * Pure arithmetic: never sleeps, never reads a clock, never does I/O.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>

#include "mig_precopy.h"

/* Xen 4.17's libxc defaults (xg_sr_save.c simple_precopy_policy). */
#define XEN_DEFAULT_MAX_ITERATIONS 5
#define XEN_DEFAULT_DIRTY_THRESHOLD 50

#define SMOOTHING 0.5              /* weight of the newest round */
#define STALL_GAIN 0.9             /* a round must cut the estimate by 10% */
#define DRAIN_MARGIN 0.95          /* dirtying >= 95% of the link = no progress */

struct mig_precopy {
    struct mig_precopy_options opts;
    bool measured;
    double link_rate;              /* bytes/s */
    double dirty_rate;             /* pages/s */
    double best_estimate_ms;
    unsigned int rounds_without_gain;
};

int mig_precopy_new(const struct mig_precopy_options *opts,
                    struct mig_precopy **policy_out)
{
    struct mig_precopy *p;

    *policy_out = NULL;
    if (!opts || opts->version != MIG_PRECOPY_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "precopy options version %u is not %u: "
                             "initialise them with MIG_PRECOPY_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_PRECOPY_OPTIONS_VERSION);
    if (opts->kind != MIG_PRECOPY_DOWNTIME && opts->kind != MIG_PRECOPY_XEN_DEFAULT)
        return mig_error_set(MIG_EINVAL, "unknown precopy policy %d", (int)opts->kind);
    if (!opts->max_downtime_ms)
        return mig_error_set(MIG_EINVAL, "a downtime target of 0 ms cannot be met: "
                             "set max_downtime_ms to a positive number of milliseconds");
    if (!opts->max_rounds || !opts->page_size || !opts->stall_rounds)
        return mig_error_set(MIG_EINVAL, "max_rounds, stall_rounds and page_size "
                             "must be positive");
    p = calloc(1, sizeof(*p));
    if (!p)
        return mig_error_set(MIG_ENOMEM, "out of memory for the precopy policy");
    p->opts = *opts;
    *policy_out = p;
    return 0;
}

static void smooth(double *value, double sample, bool first)
{
    *value = first ? sample : SMOOTHING * sample + (1 - SMOOTHING) * *value;
}

static enum mig_precopy_decision no_convergence(struct mig_precopy *p,
                                                struct mig_precopy_estimate *est,
                                                const char *why_force,
                                                const char *why_abort)
{
    if (p->opts.on_no_convergence == MIG_PRECOPY_ABORT) {
        est->reason = why_abort;
        return MIG_PRECOPY_GIVE_UP;
    }
    est->reason = why_force;
    return MIG_PRECOPY_STOP_AND_COPY;
}

enum mig_precopy_decision mig_precopy_decide(struct mig_precopy *p,
                                             const struct mig_precopy_round *r,
                                             struct mig_precopy_estimate *estimate)
{
    struct mig_precopy_estimate dummy, *est = estimate ? estimate : &dummy;
    double drain;

    if (r->seconds > 0 && r->dirty_window > 0) {
        bool first = !p->measured;

        smooth(&p->link_rate, (double)r->bytes_sent / r->seconds, first);
        smooth(&p->dirty_rate, (double)r->dirty_pages / r->dirty_window, first);
        p->measured = true;
    }
    est->link_rate = p->link_rate;
    est->dirty_rate = p->dirty_rate;
    est->expected_downtime_ms = p->link_rate > 0
        ? (double)r->dirty_pages * p->opts.page_size / p->link_rate * 1000.0
          + p->opts.overhead_ms
        : -1;

    if (p->opts.kind == MIG_PRECOPY_XEN_DEFAULT) {
        if (r->dirty_pages < XEN_DEFAULT_DIRTY_THRESHOLD) {
            est->reason = "xen-default: fewer than 50 dirty pages";
            return MIG_PRECOPY_STOP_AND_COPY;
        }
        if (r->iteration + 1 >= XEN_DEFAULT_MAX_ITERATIONS) {
            est->reason = "xen-default: 5 rounds done";
            return MIG_PRECOPY_STOP_AND_COPY;
        }
        est->reason = "xen-default: next round";
        return MIG_PRECOPY_CONTINUE;
    }

    if (!r->dirty_pages) {
        est->reason = "nothing left to send";
        return MIG_PRECOPY_STOP_AND_COPY;
    }
    if (est->expected_downtime_ms >= 0 &&
        est->expected_downtime_ms <= p->opts.max_downtime_ms) {
        est->reason = "expected downtime within target";
        return MIG_PRECOPY_STOP_AND_COPY;
    }
    if (r->iteration + 1 >= p->opts.max_rounds)
        return no_convergence(p, est,
                              "round limit reached: forcing switchover above target",
                              "round limit reached without meeting the downtime target");

    /* Is the link draining the dirty set at all? */
    drain = p->link_rate / p->opts.page_size;
    if (p->measured && r->iteration >= 1 && p->dirty_rate >= DRAIN_MARGIN * drain)
        return no_convergence(p, est,
                              "guest dirties memory as fast as the link sends it: "
                              "forcing switchover above target",
                              "guest dirties memory as fast as the link sends it");

    if (est->expected_downtime_ms >= 0) {
        if (!p->best_estimate_ms ||
            est->expected_downtime_ms < STALL_GAIN * p->best_estimate_ms) {
            p->best_estimate_ms = est->expected_downtime_ms;
            p->rounds_without_gain = 0;
        } else if (++p->rounds_without_gain >= p->opts.stall_rounds) {
            return no_convergence(p, est,
                                  "no progress for several rounds: forcing switchover "
                                  "above target",
                                  "no progress for several rounds");
        }
    }
    est->reason = "expected downtime above target: next round";
    return MIG_PRECOPY_CONTINUE;
}

void mig_precopy_free(struct mig_precopy *p)
{
    free(p);
}
