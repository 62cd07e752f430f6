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
 *    resume).  Stop as soon as it is within the target, or, when the
 *    fixed overhead alone takes the target out of reach, within the aim:
 *    max(target, overhead + a tenth of it for the pages), since more
 *    rounds cannot shrink the fixed part (the reason then names the
 *    overhead, the target and the aim).  The target is the longest
 *    pause accepted, not the one aimed at: within it, a round more is
 *    still sent (at most two such rounds, never the round limit's last)
 *    when it pays, i.e. the link drains the dirty set at least four times
 *    as fast as the guest dirties it and the round would take at least
 *    20 ms and a tenth off the expected downtime.  If the guest
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
 * weighing 0.5), so one noisy round does not decide alone.  A round's
 * link sample is sound when the round ran at least 20 ms and at least
 * half its pages, and 1 MiB, went on the wire; an unsound one never
 * replaces a sound one, an unsound first round's is not used for its own
 * estimate (round 0 of a mostly zero guest measures reading pages, not the
 * link), and a round of less than 1 MiB (the epoch's round trip) never,
 * round 0's rate standing in for it until a sample is used: until then the
 * expected downtime is unknown (-1) and the policy sends another round.
 * With nothing left to send it is overhead_ms, whatever the link.  This file is
 * pure arithmetic: it must never sleep, do I/O or read a clock.
 *
 * The convergence ladder (MIG_PRECOPY_DOWNTIME, options version 2): where
 * the policy above would force the switchover (or give up) because the
 * expected downtime is not falling toward the target fast enough, it
 * first climbs one rung of the ladder per round, among the rungs the
 * options allow and the engine can apply:
 *   1. compress  the page data, when the link is the bottleneck (the CPUs
 *                of both ends have headroom); switched off again as soon
 *                as the CPU becomes the bottleneck or pages do not shrink;
 *   2. widen     to one more data stream, up to max_streams, while the
 *                CPUs have headroom (each connection is the bottleneck);
 *                stops widening when a stream more bought nothing;
 *   3. throttle  the guest's vCPUs to 50 %, then 25 %, then 10 % of the
 *                CPU they had.
 * Only when every allowed rung is used up does it force the switchover or
 * give up, and its reason names the rung that ran out.  The decision of a
 * round says what to change before the next one (estimate->step); the
 * engine applies it, or reports with mig_precopy_rung_unavailable() that
 * it cannot.
 */
#ifndef XENMIG_MIG_PRECOPY_H
#define XENMIG_MIG_PRECOPY_H

#include <stdbool.h>
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

/* The rungs of the ladder, as bits of mig_precopy_options.ladder. */
enum mig_ladder_rung {
    MIG_LADDER_COMPRESS = 1u << 0,
    MIG_LADDER_WIDEN    = 1u << 1,
    MIG_LADDER_THROTTLE = 1u << 2,
};
#define MIG_LADDER_ALL (MIG_LADDER_COMPRESS | MIG_LADDER_WIDEN | MIG_LADDER_THROTTLE)

/* What to change before the next round (mig_precopy_estimate.step). */
enum mig_ladder_step {
    MIG_LADDER_STEP_NONE = 0,
    MIG_LADDER_STEP_COMPRESS_ON,
    MIG_LADDER_STEP_COMPRESS_OFF,
    MIG_LADDER_STEP_WIDEN,          /* to estimate->streams streams */
    MIG_LADDER_STEP_THROTTLE,       /* to estimate->throttle_percent */
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
    unsigned int overhead_ms;             /* fixed switchover cost estimate: pause,
                                             device state, the destination's
                                             restore and resume (xl-ext learns it
                                             per host, switchover_costs.h) */
    /* version 2 */
    unsigned int ladder;                  /* MIG_LADDER_* bits allowed; 0: off */
    unsigned int max_streams;             /* widen up to this many; 0: no widening */
};
#define MIG_PRECOPY_OPTIONS_VERSION 2
/* Version 1 has no ladder (as ladder = 0). */
#define MIG_PRECOPY_OPTIONS_VERSION_MIN 1
#define MIG_PRECOPY_OPTIONS_INIT \
    { MIG_PRECOPY_OPTIONS_VERSION, MIG_PRECOPY_DOWNTIME, 300, 30, 1, \
      MIG_PRECOPY_FORCE, MIG_PAGE_SIZE, 20, MIG_LADDER_ALL, 0 }

/* What one pre-copy round did, reported by the engine. */
struct mig_precopy_round {
    unsigned int iteration;     /* 0 = the first full pass */
    uint64_t pages_sent;        /* pages this round put on the wire */
    uint64_t bytes_sent;        /* bytes this round put on the wire */
    double seconds;             /* wall time of the round, > 0 */
    uint64_t dirty_pages;       /* pages dirty now, to send next */
    double dirty_window;        /* seconds over which they were dirtied, > 0 */
    /* for the ladder; zero when unknown */
    uint64_t raw_bytes;         /* page bytes before compression (0: = bytes_sent) */
    double cpu_idle;            /* share of the CPUs idle over the round, the
                                   busier end's, 0..1; negative: unknown */
    unsigned int streams;       /* data streams that ran it */
    uint64_t link_cap;          /* bytes/s the operator allows all streams
                                   (--bandwidth); 0: none */
};

/* The policy's view after a round (for progress lines and reports). */
struct mig_precopy_estimate {
    double link_rate;           /* bytes/s, smoothed */
    double dirty_rate;          /* pages/s, smoothed */
    double expected_downtime_ms;    /* the pages' part plus overhead_ms; -1:
                                       unknown (no link sample used yet) */
    const char *reason;         /* why this decision: static text, or text the
                                   policy owns until its next call or free */
    /* the ladder: what to change before the next round, and why */
    enum mig_ladder_step step;
    const char *step_reason;    /* static text, NULL with no step */
    bool compress;              /* compressing from the next round */
    unsigned int streams;       /* streams from the next round (0: as now) */
    unsigned int throttle_percent;  /* 100: not throttled */
    double cpu_idle;            /* the figure the step decided on (or -1) */
    double target_ms;           /* the downtime aimed at: max_downtime_ms, or
                                   overhead_ms plus a tenth when that is more */
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
 * string is static or owned by the policy, valid until the policy's next
 * call or mig_precopy_free (copy it to keep it).  A round with seconds <= 0 or dirty_window <= 0 is
 * treated as unmeasurable: the rates keep their previous values.
 */
enum mig_precopy_decision mig_precopy_decide(struct mig_precopy *policy,
                                             const struct mig_precopy_round *round,
                                             struct mig_precopy_estimate *estimate);

/*
 * Before round 0: whether to compress from the start.  When the operator
 * capped the link (link_capped), the link is taken as the bottleneck
 * before anything is measured: estimate->step is then
 * MIG_LADDER_STEP_COMPRESS_ON (with step_reason), else NONE.  cpu_idle
 * (the share idle while the destination started; negative: unknown) is
 * reported in the estimate but does not decide: round 0's own figures do
 * (compression goes off after it on saturated CPUs when it moved fewer
 * page bytes a second than the cap).  *estimate is filled as by
 * mig_precopy_decide, without rates.
 */
void mig_precopy_start(struct mig_precopy *policy, double cpu_idle, bool link_capped,
                       struct mig_precopy_estimate *estimate);

/*
 * The engine cannot apply rung (MIG_LADDER_*): the backend cannot throttle
 * this guest, the peer cannot compress...  The policy takes back the step
 * that asked for it and never offers the rung again.
 */
void mig_precopy_rung_unavailable(struct mig_precopy *policy, enum mig_ladder_rung rung);

/* "compress", "widen", "throttle": a rung's name; "" for anything else. */
const char *mig_ladder_rung_name(enum mig_ladder_rung rung);

void mig_precopy_free(struct mig_precopy *policy);

/*
 * The prediction (mig_precopy_predict): what a migration is expected to
 * cost, from a short probe of the link and the guest before round 0.
 */
struct mig_precopy_probe {
    uint64_t nr_pages;          /* pages round 0 sends (populated, less what the
                                   probe sent) */
    double zero_share;          /* share of those that are all zero, 0..1 */
    double compress_ratio;      /* non-zero page bytes raw / compressed (LZ4,
                                   page by page), >= 1; 1: none */
    double link_rate;           /* wire bytes/s measured over all streams, > 0 */
    unsigned int streams;       /* the streams that measured it, > 0 */
    uint64_t link_cap;          /* bytes/s the operator allows all streams
                                   now (as mig_precopy_round.link_cap); 0: none */
    bool per_stream_cap;        /* each stream is paced on its own
                                   (--per-stream-bandwidth): a stream more
                                   adds its share of the rate */
    double cpu_idle;            /* share of the CPUs idle, 0..1, the busier end's
                                   (as the rounds see it); negative: unknown */
    double dirty_rate;          /* pages/s the guest writes (distinct pages of a
                                   short window; mig_precopy_dirty_estimate) */
    uint64_t working_set;       /* pages it writes in; 0: unknown (nr_pages) */
    double dirty_window;        /* seconds it was sampled over */
    double elapsed;             /* seconds spent before round 0 (set-up, the
                                   handshake and the probe): part of the total */
    uint64_t bytes_sent;        /* wire bytes the probe sent already: part of
                                   the total */
};

struct mig_precopy_prediction {
    double total_seconds;       /* elapsed + the rounds + the downtime */
    double downtime_ms;         /* the policy's estimate when it stops */
    uint64_t bytes;             /* on the wire, the probe's included */
    unsigned int rounds;        /* pre-copy rounds, the final copy excluded */
    unsigned int rungs;         /* MIG_LADDER_* bits it expects to climb */
    unsigned int min_throttle_percent;  /* 100: never throttled */
    unsigned int max_streams;   /* the most streams it expects to run */
    bool forced;                /* switched over above the target */
    bool gave_up;               /* the policy would give up (MIG_PRECOPY_ABORT) */
    char reason[256];           /* the policy's last reason (a copy: the policy's
                                   own text ends with it) */
};

/*
 * Predict a migration under opts from probe: the real policy
 * (mig_precopy_new/start/decide, on a private instance) is fed modelled
 * rounds until it stops: a round sends its pages at probe->link_rate
 * (zero pages as their descriptor only, the others as 4096 bytes, shrunk
 * by compress_ratio while the policy compresses; a widening adds rate
 * only with per_stream_cap), and meanwhile the guest writes dirty_rate
 * pages/s (times its throttle share) at random over its working set W
 * (working_set, else nr_pages): a round of t seconds leaves
 * W * (1 - exp(-rate * t / W)) pages dirty, none of them zero.  Each ladder step the policy asks for is applied to the model.
 * Pure arithmetic.  *out (caller-owned) is filled; 0, or MIG_EINVAL
 * naming a bad option or probe figure.
 */
int mig_precopy_predict(const struct mig_precopy_options *opts,
                        const struct mig_precopy_probe *probe,
                        struct mig_precopy_prediction *out);

/*
 * The guest's write rate and working set from two dirty samples taken
 * one after the other: count1 distinct pages over seconds1, then count2
 * over seconds2, overlap of them in both.  A guest writing at random over
 * W pages dirties W * (1 - exp(-rate * t / W)) in t seconds, and two
 * windows share count1 * count2 / W of them: so W = count1 * count2 /
 * overlap (nr_pages without overlap, and at least the larger count), and
 * the rate follows from the second window.  *rate_out (pages/s) and
 * *working_set_out (pages) are filled; pure arithmetic.
 */
void mig_precopy_dirty_estimate(uint64_t count1, double seconds1, uint64_t count2,
                                double seconds2, uint64_t overlap, uint64_t nr_pages,
                                double *rate_out, uint64_t *working_set_out);

#endif /* XENMIG_MIG_PRECOPY_H */
