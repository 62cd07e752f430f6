/*
 * policy.c: convergence policies of pre-copy (see mig_precopy.h).
 * Pure arithmetic: never sleeps, never reads a clock, never does I/O.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_precopy.h"

/* Xen 4.17's libxc defaults (xg_sr_save.c simple_precopy_policy). */
#define XEN_DEFAULT_MAX_ITERATIONS 5
#define XEN_DEFAULT_DIRTY_THRESHOLD 50

#define SMOOTHING 0.5              /* weight of the newest round */
#define STALL_GAIN 0.9             /* a round must cut the estimate by 10% */
#define DRAIN_MARGIN 0.95          /* dirtying >= 95% of the link = no progress */
/* The pages may add a tenth of the fixed cost: a smaller part would change
 * the guest's downtime by less than a round must gain (STALL_GAIN). */
#define PAGES_SHARE 0.1
/*
 * Within the target, one more round still pays (round_pays) when the link
 * drains the dirty set at least four times as fast as the guest dirties
 * it, so the next round's set is at most a quarter of this one's, and
 * that takes at least 20 ms and a tenth off the pause; at most twice.
 */
#define BONUS_SHRINK 0.25
#define BONUS_MIN_MS 20.0
#define BONUS_SHARE 0.1
#define BONUS_ROUNDS 2

/*
 * A round's bytes over its time measure the link only when the round ran
 * long enough and enough of its pages went on the wire: round 0 of a guest
 * whose memory is mostly zero spends its time reading pages that never
 * leave (1 GiB with 45 MB on the wire in 1.8 s is "25 MB/s" of a link
 * that moves 400), and a round of a few milliseconds or a few dozen pages
 * is mostly the epoch's round trip (the lab: 50 pages in 47 ms after a
 * round 0 of 28 MB/s).  Such a sample does not replace a sound one, nor
 * is an unsound first round's used: its expected downtime is unknown (-1).
 * A round of less than MIN_SAMPLE_BYTES is never used: until something
 * else was, round 0's unsound rate stands in (better than a round trip).
 */
#define MIN_SAMPLE_S 0.02          /* a sound sample ran at least 20 ms */
#define MIN_DATA_SHARE 0.5         /* put at least half its pages on the wire */
#define MIN_SAMPLE_BYTES (1u << 20) /* and at least 1 MiB of them */

/* The ladder's thresholds. */
#define HEADROOM 0.25              /* CPUs >= 25% idle: the CPU is not the bottleneck */
#define CPU_BOUND 0.10             /* CPUs < 10% idle: compression costs more than it saves */
#define SHRINK_MIN 1.15            /* compressing must cut the bytes by 13% (1 - 1/1.15) */
#define WIDEN_GAIN 1.10            /* a stream more must bring 10% more rate */
static const unsigned int throttle_steps[] = { 50, 25, 10 };

struct ladder {
    unsigned int allowed;          /* MIG_LADDER_* still on offer */
    unsigned int last;             /* the rung climbed last (0: none) */
    bool compress, compress_spent;
    unsigned int streams;          /* as the last round ran */
    bool widen_spent;
    double rate_before_widen;      /* page bytes/s before the last widening; 0: none */
    double plain_rate;             /* best page bytes/s of a round sent uncompressed */
    double compressed_rate;        /* page bytes/s of the compressed round that the
                                      CPU switched off; 0: none (or retried) */
    unsigned int throttle;         /* percent; 100: not throttled */
    enum mig_ladder_step pending;  /* the step the engine was last asked for */
};

struct mig_precopy {
    struct mig_precopy_options opts;
    bool measured;                 /* link_rate and page_rate are known */
    bool sound;                    /* ... from a sound sample (MIN_SAMPLE_S) */
    bool dirty_measured;           /* dirty_rate is known */
    bool fresh;                    /* a step changed the regime: next sample replaces */
    double link_rate;              /* bytes/s on the wire */
    double page_rate;              /* page bytes/s (before compression) */
    double first_link, first_page; /* round 0's unsound rates (0: none) */
    double dirty_rate;             /* pages/s */
    double best_estimate_ms;       /* of the pages' part (no fixed cost) */
    unsigned int rounds_without_gain;
    unsigned int bonus_rounds;     /* rounds sent within the target (round_pays) */
    double aim_ms;                 /* the downtime aimed at (mig_precopy.h) */
    char reason[256];              /* a reason with figures, when aim_ms > target */
    struct ladder ladder;
};

int mig_precopy_new(const struct mig_precopy_options *opts,
                    struct mig_precopy **policy_out)
{
    struct mig_precopy *p;

    *policy_out = NULL;
    if (!opts || opts->version < MIG_PRECOPY_OPTIONS_VERSION_MIN ||
        opts->version > MIG_PRECOPY_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "precopy options version %u is not %u to %u: "
                             "initialise them with MIG_PRECOPY_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_PRECOPY_OPTIONS_VERSION_MIN,
                             MIG_PRECOPY_OPTIONS_VERSION);
    if (opts->version >= 2 && (opts->ladder & ~(unsigned int)MIG_LADDER_ALL))
        return mig_error_set(MIG_EINVAL, "ladder rungs %#x: only compress (1), widen (2) "
                             "and throttle (4) exist", opts->ladder);
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
    if (opts->version < 2)
        p->opts.ladder = p->opts.max_streams = 0;
    if (p->opts.kind != MIG_PRECOPY_DOWNTIME)
        p->opts.ladder = 0;
    p->ladder.allowed = p->opts.ladder;
    p->ladder.throttle = 100;
    p->aim_ms = p->opts.max_downtime_ms;
    if (p->opts.kind == MIG_PRECOPY_DOWNTIME &&
        p->opts.overhead_ms * (1 + PAGES_SHARE) > p->aim_ms)
        p->aim_ms = p->opts.overhead_ms * (1 + PAGES_SHARE);
    *policy_out = p;
    return 0;
}

const char *mig_ladder_rung_name(enum mig_ladder_rung rung)
{
    switch (rung) {
    case MIG_LADDER_COMPRESS:
        return "compress";
    case MIG_LADDER_WIDEN:
        return "widen";
    case MIG_LADDER_THROTTLE:
        return "throttle";
    }
    return "";
}

static void smooth(double *value, double sample, bool first)
{
    *value = first ? sample : SMOOTHING * sample + (1 - SMOOTHING) * *value;
}

/* The reasons of a forced switchover or a give-up, by the rung that ran out. */
static const char *ran_out(const struct mig_precopy *p, bool abort, bool drain)
{
    static const char *const forced[2][4] = {
        { "no progress for several rounds: forcing switchover above target",
          "no progress with compression on: forcing switchover above target",
          "no progress with every stream allowed: forcing switchover above target",
          "no progress with the guest throttled to 10%: forcing switchover above target" },
        { "guest dirties memory as fast as the link sends it: forcing switchover above target",
          "guest dirties memory faster than the link sends it even compressed: "
          "forcing switchover above target",
          "guest dirties memory faster than every stream allowed sends it: "
          "forcing switchover above target",
          "guest dirties memory faster than the link sends it even throttled to 10%: "
          "forcing switchover above target" },
    };
    static const char *const gave_up[2][4] = {
        { "no progress for several rounds",
          "no progress with compression on",
          "no progress with every stream allowed",
          "no progress with the guest throttled to 10%" },
        { "guest dirties memory as fast as the link sends it",
          "guest dirties memory faster than the link sends it even compressed",
          "guest dirties memory faster than every stream allowed sends it",
          "guest dirties memory faster than the link sends it even throttled to 10%" },
    };
    unsigned int last = p->ladder.last;
    unsigned int rung = last == MIG_LADDER_COMPRESS ? 1 : last == MIG_LADDER_WIDEN ? 2 :
                        last == MIG_LADDER_THROTTLE ? 3 : 0;

    return (abort ? gave_up : forced)[drain][rung];
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

/* Whether the round's bytes over its time measure the link (MIN_SAMPLE_S). */
static bool sample_is_sound(const struct mig_precopy *p, const struct mig_precopy_round *r,
                            uint64_t raw)
{
    return r->seconds >= MIN_SAMPLE_S && raw >= MIN_SAMPLE_BYTES &&
           (double)raw >= MIN_DATA_SHARE * (double)r->pages_sent * p->opts.page_size;
}

/* Take in the round's link sample: a sound one, else one that is better than none. */
static void measure_link(struct mig_precopy *p, const struct mig_precopy_round *r,
                         uint64_t raw)
{
    bool sound = sample_is_sound(p, r, raw);
    bool first = !p->measured || (sound && !p->sound);

    if (!(r->seconds > 0 && r->dirty_window > 0))
        return;
    if (raw < MIN_SAMPLE_BYTES) {           /* a round trip (never sound) */
        if (!p->measured && p->first_link > 0) {
            p->link_rate = p->first_link;   /* round 0 stands in */
            p->page_rate = p->first_page;
            p->measured = true;
        }
        return;
    }
    if (!sound && r->iteration == 0) {
        p->first_link = (double)r->bytes_sent / r->seconds;
        p->first_page = (double)raw / r->seconds;
    }
    if (!sound && (p->sound || r->iteration == 0))
        return;
    smooth(&p->link_rate, (double)r->bytes_sent / r->seconds, first || p->fresh);
    smooth(&p->page_rate, (double)raw / r->seconds, first || p->fresh);
    p->measured = true;
    p->sound = p->sound || sound;
    p->fresh = false;
}

/* Take in the round's figures and estimate the downtime of a switchover now. */
static void measure(struct mig_precopy *p, const struct mig_precopy_round *r,
                    struct mig_precopy_estimate *est)
{
    uint64_t raw = r->raw_bytes ? r->raw_bytes : r->bytes_sent;

    if (r->seconds > 0 && r->dirty_window > 0) {
        smooth(&p->dirty_rate, (double)r->dirty_pages / r->dirty_window,
               !p->dirty_measured || p->fresh);
        p->dirty_measured = true;
    }
    measure_link(p, r, raw);
    if (r->streams)
        p->ladder.streams = r->streams;
    memset(est, 0, sizeof(*est));
    est->link_rate = p->link_rate;
    est->dirty_rate = p->dirty_rate;
    /* nothing left: the fixed part alone, whatever the link */
    est->expected_downtime_ms = !r->dirty_pages ? p->opts.overhead_ms :
        p->measured && p->page_rate > 0
            ? (double)r->dirty_pages * p->opts.page_size / p->page_rate * 1000.0
              + p->opts.overhead_ms
                    : -1;
    est->target_ms = p->aim_ms;
    est->cpu_idle = r->cpu_idle;
}

static bool has_headroom(const struct mig_precopy_round *r)
{
    return r->cpu_idle < 0 || r->cpu_idle >= HEADROOM;
}

/* Ask for a step; the next round's rates replace the smoothed ones. */
static bool step(struct mig_precopy *p, struct mig_precopy_estimate *est,
                 enum mig_ladder_step what, const char *why)
{
    est->step = what;
    est->step_reason = why;
    p->ladder.pending = what;
    p->fresh = true;
    return true;
}

/*
 * Compressing on CPUs that are saturated still pays when it moves more page
 * bytes a second than the link did (or would) without it: the best round
 * sent plain, else the operator's cap.  Unknown: it does not.
 */
static bool compression_pays(const struct ladder *l, const struct mig_precopy_round *r,
                             uint64_t raw)
{
    double plain = l->plain_rate ? l->plain_rate : (double)r->link_cap;

    return plain > 0 && r->seconds > 0 && (double)raw / r->seconds > plain;
}

/*
 * Compression went off on saturated CPUs because a compressed round moved
 * fewer page bytes a second than the operator's cap, before any round had
 * been sent plain.  The CPUs that could not fill the cap compressed may not
 * fill it plain either: when the first plain round moved 10% fewer page
 * bytes a second than the compressed one, compression comes back on, once;
 * from then on compression_pays() compares with the plain round measured.
 */
static bool compress_again(struct mig_precopy *p, struct mig_precopy_estimate *est)
{
    struct ladder *l = &p->ladder;
    bool slower = l->plain_rate > 0 && WIDEN_GAIN * l->plain_rate < l->compressed_rate;

    if (!l->compressed_rate || !(l->allowed & MIG_LADDER_COMPRESS))
        return false;
    l->compressed_rate = 0;
    if (!slower)
        return false;
    l->compress = true;
    return step(p, est, MIG_LADDER_STEP_COMPRESS_ON,
                "plain rounds move fewer page bytes a second than compressed ones did "
                "on these CPUs: compression on again");
}

/*
 * Before any climbing: take back what stopped paying.  Compression goes
 * off when the CPU became the bottleneck (and compressing moves fewer
 * page bytes than the link would plain) or pages do not shrink; a
 * widening that bought no rate stops further widening (the streams stay).
 */
static bool adjust(struct mig_precopy *p, const struct mig_precopy_round *r,
                   struct mig_precopy_estimate *est)
{
    struct ladder *l = &p->ladder;
    uint64_t raw = r->raw_bytes ? r->raw_bytes : r->bytes_sent;
    enum mig_ladder_step last = l->pending;
    const char *why = NULL;

    l->pending = MIG_LADDER_STEP_NONE;
    if (last == MIG_LADDER_STEP_WIDEN && r->seconds > 0 &&
        (double)raw / r->seconds < WIDEN_GAIN * l->rate_before_widen)
        l->widen_spent = true;
    if (!l->compress) {
        if (r->seconds > 0 && (double)raw / r->seconds > l->plain_rate)
            l->plain_rate = (double)raw / r->seconds;
        return compress_again(p, est);
    }
    if (r->cpu_idle >= 0 && r->cpu_idle < CPU_BOUND && !compression_pays(l, r, raw)) {
        why = "the CPU is the bottleneck: compression off";
        /* judged against the cap: retried once if plain turns out slower */
        if (!l->plain_rate && r->seconds > 0)
            l->compressed_rate = (double)raw / r->seconds;
    } else if (r->bytes_sent && (double)raw < SHRINK_MIN * (double)r->bytes_sent)
        why = "pages do not shrink enough: compression off";
    if (!why)
        return false;
    l->compress = false;
    l->compress_spent = true;
    return step(p, est, MIG_LADDER_STEP_COMPRESS_OFF, why);
}

/* Climb one rung, if one is left; false when the ladder is used up. */
static bool climb(struct mig_precopy *p, const struct mig_precopy_round *r,
                  struct mig_precopy_estimate *est)
{
    struct ladder *l = &p->ladder;

    if ((l->allowed & MIG_LADDER_COMPRESS) && !l->compress && !l->compress_spent &&
        has_headroom(r)) {
        l->compress = true;
        l->last = MIG_LADDER_COMPRESS;
        return step(p, est, MIG_LADDER_STEP_COMPRESS_ON,
                    "the link, not the CPU, is the bottleneck: compressing");
    }
    if ((l->allowed & MIG_LADDER_WIDEN) && !l->widen_spent && l->streams &&
        l->streams < p->opts.max_streams && has_headroom(r)) {
        l->rate_before_widen = p->page_rate;
        l->streams++;
        l->last = MIG_LADDER_WIDEN;
        return step(p, est, MIG_LADDER_STEP_WIDEN,
                    "each stream is the bottleneck while the CPU idles: one stream more");
    }
    if ((l->allowed & MIG_LADDER_THROTTLE) && l->throttle > throttle_steps[2]) {
        for (unsigned int i = 0; i < 3; i++)
            if (throttle_steps[i] < l->throttle) {
                l->throttle = throttle_steps[i];
                break;
            }
        l->last = MIG_LADDER_THROTTLE;
        return step(p, est, MIG_LADDER_STEP_THROTTLE,
                    "the guest dirties memory faster than the link drains it: throttling");
    }
    return false;
}

/* The ladder's state into the estimate, whatever was decided. */
static void ladder_state(const struct mig_precopy *p, struct mig_precopy_estimate *est)
{
    est->compress = p->ladder.compress;
    est->streams = p->ladder.streams;
    est->throttle_percent = p->ladder.throttle;
}

static enum mig_precopy_decision xen_default(const struct mig_precopy_round *r,
                                             struct mig_precopy_estimate *est)
{
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

/* Not falling toward the target: climb a rung, or force / give up. */
static enum mig_precopy_decision not_converging(struct mig_precopy *p,
                                                const struct mig_precopy_round *r,
                                                struct mig_precopy_estimate *est, bool drain)
{
    if (climb(p, r, est)) {
        p->rounds_without_gain = 0;
        p->best_estimate_ms = 0;
        est->reason = "expected downtime not falling fast enough: ladder";
        return MIG_PRECOPY_CONTINUE;
    }
    return no_convergence(p, est, ran_out(p, false, drain), ran_out(p, true, drain));
}

/* r is the round limit's last: after it the policy must switch over. */
static bool last_round(const struct mig_precopy *p, const struct mig_precopy_round *r)
{
    return r->iteration + 1 >= p->opts.max_rounds;
}

/*
 * A target is the longest pause the user accepts, not the pause to aim at:
 * where the link is much faster than the guest dirties memory, a round
 * more costs about the pages' part of the pause in time and cuts that part
 * to a fraction (a guest dirtying 4096 pages/s saved through a link that
 * drains 40000: a 194 ms part becomes about 20).  Only on sound rates,
 * never on the round limit's last round.  drain: the link's pages a
 * second, as decide has it.
 */
static bool round_pays(const struct mig_precopy *p, const struct mig_precopy_round *r,
                       const struct mig_precopy_estimate *est, double drain)
{
    double pages_ms = est->expected_downtime_ms - p->opts.overhead_ms;
    double saved;

    if (!p->sound || !p->dirty_measured || drain <= 0 || p->bonus_rounds >= BONUS_ROUNDS ||
        last_round(p, r) || p->dirty_rate > BONUS_SHRINK * drain)
        return false;
    saved = pages_ms * (1 - p->dirty_rate / drain);
    return saved >= BONUS_MIN_MS && saved >= BONUS_SHARE * est->expected_downtime_ms;
}

static enum mig_precopy_decision decide(struct mig_precopy *p,
                                        const struct mig_precopy_round *r,
                                        struct mig_precopy_estimate *est)
{
    double drain = p->page_rate / p->opts.page_size;

    if (!r->dirty_pages) {
        est->reason = "nothing left to send";
        return MIG_PRECOPY_STOP_AND_COPY;
    }
    if (est->expected_downtime_ms >= 0 && est->expected_downtime_ms <= p->aim_ms) {
        if (round_pays(p, r, est, drain)) {
            p->bonus_rounds++;
            est->reason = "expected downtime within target, and a round more cuts it: "
                          "next round";
            return MIG_PRECOPY_CONTINUE;
        }
        est->reason = "expected downtime within target";
        return MIG_PRECOPY_STOP_AND_COPY;
    }
    if (last_round(p, r))
        return no_convergence(p, est,
                              "round limit reached: forcing switchover above target",
                              "round limit reached without meeting the downtime target");
    if (adjust(p, r, est)) {
        est->reason = "expected downtime above target: next round";
        return MIG_PRECOPY_CONTINUE;
    }
    /* Is the link draining the dirty set at all? */
    if (p->measured && r->iteration >= 1 && p->dirty_rate >= DRAIN_MARGIN * drain)
        return not_converging(p, r, est, true);
    /* Progress is judged on the pages' part: no round shrinks the fixed cost. */
    if (est->expected_downtime_ms >= 0) {
        double pages_ms = est->expected_downtime_ms - p->opts.overhead_ms;

        if (!p->best_estimate_ms || pages_ms < STALL_GAIN * p->best_estimate_ms) {
            p->best_estimate_ms = pages_ms;
            p->rounds_without_gain = 0;
        } else if (++p->rounds_without_gain >= p->opts.stall_rounds) {
            return not_converging(p, r, est, false);
        }
    }
    est->reason = est->expected_downtime_ms >= 0 ? "expected downtime above target: next round"
                  : "link rate not measured yet (the round was short or mostly zero pages): "
                    "next round";
    return MIG_PRECOPY_CONTINUE;
}

/*
 * When the fixed cost puts the target out of reach, the reason says what
 * the policy aims at instead: "... (the switchover's fixed cost is 1400
 * ms, above the 300 ms target: aiming at 1540 ms)".
 */
static void reason_with_aim(struct mig_precopy *p, struct mig_precopy_estimate *est)
{
    if (p->aim_ms <= p->opts.max_downtime_ms)
        return;
    snprintf(p->reason, sizeof(p->reason), "%s (the switchover's fixed cost is %u ms, "
             "%s the %u ms target: aiming at %.0f ms)", est->reason, p->opts.overhead_ms,
             p->opts.overhead_ms >= p->opts.max_downtime_ms ? "above" : "close to",
             p->opts.max_downtime_ms, p->aim_ms);
    est->reason = p->reason;
}

enum mig_precopy_decision mig_precopy_decide(struct mig_precopy *p,
                                             const struct mig_precopy_round *r,
                                             struct mig_precopy_estimate *estimate)
{
    struct mig_precopy_estimate dummy, *est = estimate ? estimate : &dummy;
    enum mig_precopy_decision d;

    measure(p, r, est);
    if (p->opts.kind == MIG_PRECOPY_XEN_DEFAULT) {
        d = xen_default(r, est);
    } else {
        d = decide(p, r, est);
        reason_with_aim(p, est);
    }
    ladder_state(p, est);
    return d;
}

void mig_precopy_start(struct mig_precopy *p, double cpu_idle, bool link_capped,
                       struct mig_precopy_estimate *est)
{
    memset(est, 0, sizeof(*est));
    est->expected_downtime_ms = -1;
    est->target_ms = p->aim_ms;
    est->cpu_idle = cpu_idle;
    est->reason = "before round 0";
    /* A capped link is the bottleneck until round 0 shows otherwise.  The
     * set-up's CPU figure is of the destination's start, not of a round,
     * so it does not decide: a round 0 on saturated CPUs that moved fewer
     * page bytes than the cap would carry plain switches compression off
     * (adjust), and one that moved more keeps it (Xen under TCG: dom0 is
     * 95% busy and still compresses faster than a 16 MB/s link). */
    if ((p->ladder.allowed & MIG_LADDER_COMPRESS) && link_capped) {
        p->ladder.compress = true;
        p->ladder.last = MIG_LADDER_COMPRESS;
        (void)step(p, est, MIG_LADDER_STEP_COMPRESS_ON,
                   "the link is capped: compressing from the start");
    }
    ladder_state(p, est);
}

void mig_precopy_rung_unavailable(struct mig_precopy *p, enum mig_ladder_rung rung)
{
    struct ladder *l = &p->ladder;

    l->allowed &= ~(unsigned int)rung;
    if (rung == MIG_LADDER_COMPRESS)
        l->compress = false;
    if (rung == MIG_LADDER_THROTTLE)
        l->throttle = 100;
    if (rung == MIG_LADDER_WIDEN && l->pending == MIG_LADDER_STEP_WIDEN)
        l->streams--;
    if (l->last == (unsigned int)rung)
        l->last = 0;
    l->pending = MIG_LADDER_STEP_NONE;
}

void mig_precopy_free(struct mig_precopy *p)
{
    free(p);
}
