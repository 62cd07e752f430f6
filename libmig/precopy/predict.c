/*
 * predict.c: the prediction of a migration (mig_precopy_predict, see
 * mig_precopy.h): the convergence policy of policy.c, run on a model of
 * the guest and the link built from a probe's figures.  It uses the
 * policy only through its public calls, so the prediction climbs the
 * ladder exactly as a migration would.
 * Pure arithmetic: never sleeps, never reads a clock, never does I/O.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mig_precopy.h"

#define DESCRIPTOR_BYTES 16.0      /* a page's descriptor on the wire (docs/formats.md) */
#define SHORTEST_ROUND 1e-6        /* seconds: a round of nothing still took some */

/* x >= 0 to the nearest whole number. */
static uint64_t whole(double x)
{
    return (uint64_t)(x + 0.5);
}

/* The guest and the link as the ladder has changed them. */
struct model {
    const struct mig_precopy_probe *probe;
    double rate;                   /* wire bytes/s now */
    bool compress;
    unsigned int streams;
    unsigned int throttle;         /* percent */
};

/* Wire and raw bytes of pages of which zero_share are all zero. */
static void round_bytes(const struct model *m, double pages, double zero_share,
                        double *wire, double *raw)
{
    double data = pages * (1 - zero_share) * MIG_PAGE_SIZE;

    *raw = data + pages * DESCRIPTOR_BYTES;
    *wire = (m->compress ? data / m->probe->compress_ratio : data) +
            pages * DESCRIPTOR_BYTES;
}

/* One modelled round of pages into *r; its wire bytes into *wire. */
static void model_round(const struct model *m, unsigned int iteration, double pages,
                        double zero_share, struct mig_precopy_round *r, double *wire)
{
    const struct mig_precopy_probe *pr = m->probe;
    double working_set = (double)(pr->working_set ? pr->working_set : pr->nr_pages);
    double raw, seconds, dirty = 0;

    round_bytes(m, pages, zero_share, wire, &raw);
    seconds = *wire / m->rate;
    if (seconds < SHORTEST_ROUND)
        seconds = SHORTEST_ROUND;
    if (working_set > 0)
        dirty = working_set * -expm1(-pr->dirty_rate * m->throttle / 100.0 * seconds /
                                 working_set);
    memset(r, 0, sizeof(*r));
    r->iteration = iteration;
    r->pages_sent = whole(pages);
    r->bytes_sent = whole(*wire);
    r->raw_bytes = whole(raw);
    r->seconds = seconds;
    r->dirty_pages = whole(dirty);
    r->dirty_window = seconds;
    r->cpu_idle = pr->cpu_idle;
    r->streams = m->streams;
    r->link_cap = pr->per_stream_cap ? pr->link_cap / pr->streams * m->streams
                                     : pr->link_cap;
}

/* A step the policy asked for, applied to the model and counted in *out. */
static void model_step(struct model *m, const struct mig_precopy_estimate *est,
                       struct mig_precopy_prediction *out)
{
    switch (est->step) {
    case MIG_LADDER_STEP_COMPRESS_ON:
        out->rungs |= MIG_LADDER_COMPRESS;
        m->compress = true;
        break;
    case MIG_LADDER_STEP_COMPRESS_OFF:
        m->compress = false;
        break;
    case MIG_LADDER_STEP_WIDEN:
        out->rungs |= MIG_LADDER_WIDEN;
        /* Paced streams: one more adds its share; else the link is shared. */
        if (m->probe->per_stream_cap)
            m->rate = m->probe->link_rate * est->streams / m->probe->streams;
        m->streams = est->streams;
        if (m->streams > out->max_streams)
            out->max_streams = m->streams;
        break;
    case MIG_LADDER_STEP_THROTTLE:
        out->rungs |= MIG_LADDER_THROTTLE;
        m->throttle = est->throttle_percent;
        if (m->throttle < out->min_throttle_percent)
            out->min_throttle_percent = m->throttle;
        break;
    case MIG_LADDER_STEP_NONE:
        break;
    }
}

static int check_probe(const struct mig_precopy_probe *p)
{
    if (!(p->link_rate > 0) || !p->streams)
        return mig_error_set(MIG_EINVAL, "a probe with a link rate of %g bytes/s over %u "
                             "streams predicts nothing: measure a positive rate over "
                             "at least one stream", p->link_rate, p->streams);
    if (!(p->zero_share >= 0 && p->zero_share <= 1) || !(p->compress_ratio >= 1) ||
        !(p->dirty_rate >= 0))
        return mig_error_set(MIG_EINVAL, "probe figures out of range: zero share %g "
                             "(0..1), compress ratio %g (>= 1), dirty rate %g pages/s "
                             "(>= 0)", p->zero_share, p->compress_ratio, p->dirty_rate);
    return 0;
}

/* The rounds until the policy stops, summed into *out. */
static void simulate(struct mig_precopy *policy, const struct mig_precopy_options *opts,
                     struct model *m, struct mig_precopy_prediction *out)
{
    const struct mig_precopy_probe *pr = m->probe;
    enum mig_precopy_decision d = MIG_PRECOPY_CONTINUE;
    struct mig_precopy_estimate est;
    double pages = (double)pr->nr_pages, zero_share = pr->zero_share, wire, raw;
    double seconds = 0, bytes = 0;

    mig_precopy_start(policy, pr->cpu_idle, pr->link_cap != 0, &est);
    model_step(m, &est, out);
    for (unsigned int i = 0; d == MIG_PRECOPY_CONTINUE && i <= opts->max_rounds; i++) {
        struct mig_precopy_round r;

        model_round(m, i, pages, zero_share, &r, &wire);
        d = mig_precopy_decide(policy, &r, &est);
        seconds += r.seconds;
        bytes += wire;
        out->rounds = i + 1;
        if (d == MIG_PRECOPY_CONTINUE)
            model_step(m, &est, out);
        pages = (double)r.dirty_pages;
        zero_share = 0;            /* what the guest wrote is not zero */
    }
    /* The final copy: what is dirty at the stop. */
    round_bytes(m, pages, 0, &wire, &raw);
    out->downtime_ms = est.expected_downtime_ms >= 0 ? est.expected_downtime_ms
                                                     : opts->overhead_ms;
    out->bytes = whole(bytes + wire) + pr->bytes_sent;
    out->total_seconds = pr->elapsed + seconds + out->downtime_ms / 1000.0;
    out->gave_up = d == MIG_PRECOPY_GIVE_UP;
    /* above what the policy aimed at (the target, or above an unreachable
     * one the switchover's fixed cost), as a migration's result says */
    out->forced = d == MIG_PRECOPY_STOP_AND_COPY &&
                  out->downtime_ms > (est.target_ms > 0 ? est.target_ms
                                                        : opts->max_downtime_ms);
    snprintf(out->reason, sizeof(out->reason), "%s", est.reason ? est.reason : "");
}

int mig_precopy_predict(const struct mig_precopy_options *opts,
                        const struct mig_precopy_probe *probe,
                        struct mig_precopy_prediction *out)
{
    struct mig_precopy *policy = NULL;
    struct model m = { .probe = probe, .throttle = 100 };
    int rc;

    memset(out, 0, sizeof(*out));
    out->min_throttle_percent = 100;
    rc = check_probe(probe);
    if (!rc)
        rc = mig_precopy_new(opts, &policy);
    if (rc)
        goto out;
    m.rate = probe->link_rate;
    m.streams = out->max_streams = probe->streams;
    simulate(policy, opts, &m, out);
out:
    mig_precopy_free(policy);
    return rc;
}

void mig_precopy_dirty_estimate(uint64_t count1, double seconds1, uint64_t count2,
                                double seconds2, uint64_t overlap, uint64_t nr_pages,
                                double *rate_out, uint64_t *working_set_out)
{
    double most = (double)(count1 > count2 ? count1 : count2);
    double w = overlap ? (double)count1 * (double)count2 / (double)overlap
                       : (double)nr_pages;
    double share;

    if (w > (double)nr_pages)
        w = (double)nr_pages;
    if (w < most)
        w = most;
    *working_set_out = whole(w);
    *rate_out = 0;
    if (!count2 || !(seconds2 > 0) || !(w > 0)) {
        /* nothing in the second window: the first one, if anything */
        if (count1 && seconds1 > 0)
            *rate_out = (double)count1 / seconds1;
        return;
    }
    /* a window that saturated the set says at least this much */
    share = (double)count2 / w;
    if (share > 0.99)
        share = 0.99;
    *rate_out = -w * log1p(-share) / seconds2;
}
