/*
 * migrate_common.c: option parsing helpers and progress/summary output of
 * the migrate commands (see migrate_common.h).  Output formats are stable:
 * scripts grep the summary line and parse the JSON events.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mig_clock.h"
#include "migrate_common.h"
#include "switchover_costs.h"
#include "switchover_probe.h"
#include "subcommands.h"

/* How long a receiver may take to exit once the migration ended (as xl's
 * "migration child not exiting, no longer waiting"). */
#define RECEIVER_EXIT_WAIT_MS 10000

static int parse_scaled(const char *option, const char *text, uint64_t unit,
                        uint64_t *value, const char *advice)
{
    char *end;
    unsigned long long n;
    uint64_t mult = 1;

    errno = 0;
    n = strtoull(text, &end, 10);
    if (end == text || errno || text[0] == '-')
        goto bad;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = unit; end++; break;
    case 'm': case 'M': mult = unit * unit; end++; break;
    case 'g': case 'G': mult = unit * unit * unit; end++; break;
    case 't': case 'T': mult = unit * unit * unit * unit; end++; break;
    default: goto bad;
    }
    if (*end == 'i' || *end == 'B' || *end == 'b')
        end += (end[0] == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
    if (*end || (mult > 1 && n > UINT64_MAX / mult))
        goto bad;
    *value = n * mult;
    return 0;
bad:
    fprintf(stderr, "%s %s: %s '%s': %s\n", xl_ext_prog, xl_ext_command, option, text,
            advice);
    return -1;
}

int xl_ext_parse_size(const char *option, const char *text, uint64_t *bytes)
{
    return parse_scaled(option, text, 1024, bytes, "give a size in bytes, with an optional "
                        "binary suffix K, M, G or T (KiB, MiB, GiB, TiB), e.g. 512M or 1G");
}

int xl_ext_parse_rate(const char *option, const char *text, uint64_t *bytes_per_s)
{
    return parse_scaled(option, text, 1000, bytes_per_s, "give a number per second, with "
                        "an optional decimal suffix K, M or G (thousands, millions, "
                        "billions: 100M is 100 MB/s), e.g. 100M");
}

int xl_ext_parse_uint(const char *option, const char *text, unsigned long long min,
                      unsigned long long max, unsigned long long *value)
{
    char *end;
    unsigned long long n;

    errno = 0;
    n = strtoull(text, &end, 10);
    if (end == text || *end || errno || text[0] == '-' || n < min || n > max) {
        fprintf(stderr, "%s %s: %s '%s': give a whole number from %llu to %llu\n",
                xl_ext_prog, xl_ext_command, option, text, min, max);
        return -1;
    }
    *value = n;
    return 0;
}

int xl_ext_exec_xl(int argc, char **argv)
{
    char **xl_argv = calloc((size_t)argc + 2, sizeof(*xl_argv));

    if (!xl_argv)
        return XL_EXT_EXIT_FAILURE;
    /* $XENMIG_XL names an xl (a test's stand-in): then there is one to run */
    if (access("/proc/xen", F_OK) && !(getenv("XENMIG_XL") && *getenv("XENMIG_XL"))) {
        fprintf(stderr, "%s %s: this runs stock 'xl %s', which needs a Xen host: there is no "
                "/proc/xen here; run it in a Xen dom0%s\n", xl_ext_prog, argv[0], argv[0],
                strcmp(argv[0], "migrate-receive") ? ""
                : " (xl-ext migrate starts it with --sim or --xen)");
        free(xl_argv);
        return XL_EXT_EXIT_NO_XEN;
    }
    xl_argv[0] = "xl";
    memcpy(xl_argv + 1, argv, (size_t)argc * sizeof(*argv));
    execvp("xl", xl_argv);
    fprintf(stderr, "%s %s: cannot run xl (%s): install xen-utils-4.17 on a Xen host, "
            "or use --sim\n", xl_ext_prog, argv[0], strerror(errno));
    free(xl_argv);
    return XL_EXT_EXIT_NO_XEN;
}

static const char *phase_name(enum mig_phase phase)
{
    switch (phase) {
    case MIG_PHASE_CONNECT:    return "connect";
    case MIG_PHASE_PRECOPY:    return "precopy";
    case MIG_PHASE_SWITCHOVER: return "switchover";
    case MIG_PHASE_DONE:       return "done";
    case MIG_PHASE_LADDER:     return "ladder";
    case MIG_PHASE_PREDICT:    return "prediction";
    }
    return "unknown";
}

/*
 * Numbers of the JSON events, rounded as docs/formats.md ("JSON events")
 * and docs/events.schema.json say: v with at most `decimals` decimals
 * (trailing zeros dropped); null when v is not finite.
 */
static json_object *json_fixed(double v, int decimals)
{
    char text[64];
    size_t n;

    if (!isfinite(v))
        return NULL;
    snprintf(text, sizeof(text), "%.*f", decimals, v);
    if (strchr(text, '.')) {
        n = strlen(text);
        while (text[n - 1] == '0')
            text[--n] = '\0';
        if (text[n - 1] == '.')
            text[--n] = '\0';
    }
    if (!strcmp(text, "-0"))
        snprintf(text, sizeof(text), "0");
    return json_object_new_double_s(strtod(text, NULL), text);
}

/* A time in seconds, to the microsecond. */
static json_object *json_s(double seconds) { return json_fixed(seconds, 6); }
/* A time in milliseconds, to the microsecond. */
static json_object *json_ms(double ms) { return json_fixed(ms, 3); }
/* A share or a ratio: 3 decimals. */
static json_object *json_ratio(double r) { return json_fixed(r, 3); }
/* A count per second (pages/s, writes/s): a whole number. */
static json_object *json_per_s(double rate) { return json_fixed(rate, 0); }

/* A rate in MB/s: 3 significant digits (whole above 100). */
static json_object *json_rate3(double v)
{
    int digits = v != 0 && isfinite(v) ? 2 - (int)floor(log10(fabs(v))) : 0;

    return json_fixed(v, digits < 0 ? 0 : digits > 6 ? 6 : digits);
}

/* A link rate of bytes/s in MB/s; null while unknown (0). */
static json_object *json_link(double bytes_per_s)
{
    return bytes_per_s > 0 ? json_rate3(bytes_per_s / 1e6) : NULL;
}

/* An expected downtime in ms; null while unknown (negative). */
static json_object *json_expected(double ms)
{
    return ms >= 0 ? json_ms(ms) : NULL;
}

/* Where the text lines go: o->out, or stderr when stdout carries JSON events. */
static FILE *text_out(const struct migrate_output *o)
{
    return o->json ? stderr : o->out;
}

static void emit_json(FILE *f, json_object *o)
{
    fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    fflush(f);
    json_object_put(o);
}

/*
 * The source's downtime split (see mig_migrate_result.downtime_parts), in ms,
 * as a new JSON object the caller owns: the numbers of the text line
 * "xl-ext migrate: downtime parts (ms): ...".
 */
static json_object *json_downtime_parts(const struct mig_migrate_result *r)
{
    json_object *parts = json_object_new_object();

    json_object_object_add(parts, "pause", json_ms(r->downtime_parts.pause * 1e3));
    json_object_object_add(parts, "harvest",
                           json_ms(r->downtime_parts.harvest * 1e3));
    json_object_object_add(parts, "send", json_ms(r->downtime_parts.send * 1e3));
    json_object_object_add(parts, "state", json_ms(r->downtime_parts.state * 1e3));
    json_object_object_add(parts, "destination",
                           json_ms(r->downtime_parts.destination * 1e3));
    json_object_object_add(parts, "resume",
                           json_ms(r->downtime_parts.resume * 1e3));
    return parts;
}

/* Where the fixed cost of the prediction came from: "learned from 3
 * migrations" (of a save: "saves"), "learned from the last 8 of 42
 * migrations" (the store keeps SWITCHOVER_COSTS_SAMPLES), "from a probe",
 * "the default". */
static void fixed_cost_source(const struct migrate_output *o, const char *side, char *buf,
                              size_t size)
{
    const char *what = strcmp(side, "save") ? "migration" : "save";

    if (o->fixed_cost_learned > SWITCHOVER_COSTS_SAMPLES)
        snprintf(buf, size, "learned from the last %u of %u %ss",
                 SWITCHOVER_COSTS_SAMPLES, o->fixed_cost_learned, what);
    else if (o->fixed_cost_learned)
        snprintf(buf, size, "learned from %u %s%s", o->fixed_cost_learned, what,
                 o->fixed_cost_learned == 1 ? "" : "s");
    else
        snprintf(buf, size, "%s", o->fixed_cost_seeded ? "from a probe" : "the default");
}

/* The switchover probe's figures (summary event's "switchover_probe"). */
static json_object *json_switchover_probe(const struct switchover_probe *p)
{
    json_object *e = json_object_new_object(), *parts = json_object_new_object();

    json_object_object_add(e, "probe_us", json_object_new_int64(llround(p->probe_us)));
    json_object_object_add(e, "runs", json_object_new_int((int)p->runs));
    json_object_object_add(e, "reference_us", json_object_new_int64(llround(p->reference_us)));
    json_object_object_add(e, "scale", json_ratio(p->scale));
    json_object_object_add(e, "clamped", json_object_new_boolean(p->clamped));
    json_object_object_add(parts, "pause", json_ms(p->parts.pause_ms));
    json_object_object_add(parts, "state", json_ms(p->parts.state_ms));
    json_object_object_add(parts, "destination", json_ms(p->parts.destination_ms));
    json_object_object_add(parts, "resume", json_ms(p->parts.resume_ms));
    json_object_object_add(e, "parts_ms", parts);
    json_object_object_add(e, "fixed_ms", json_ms(p->fixed_ms));
    return e;
}

/* The switchover probe's line of the summary. */
static void output_switchover_probe(const struct migrate_output *o, const char *side)
{
    const struct switchover_probe *p = o->probe;

    fprintf(text_out(o), "xl-ext %s: switchover probe: median %.0f us of %u runs, "
            "reference %.0f us, scale %.3f%s: fixed %.1f ms (pause %.1f, state %.1f, "
            "destination %.1f, resume %.1f)\n", side, p->probe_us, p->runs,
            p->reference_us, p->scale, p->clamped ? " (clamped)" : "", p->fixed_ms,
            p->parts.pause_ms, p->parts.state_ms, p->parts.destination_ms,
            p->parts.resume_ms);
}

/*
 * The policy's prediction against the downtime the guest saw: members of
 * the summary event e (NULL: none) and, with line, the text line.
 */
static void output_downtime_prediction(struct migrate_output *o, json_object *e,
                              const char *side, const struct mig_migrate_result *r,
                              const struct mig_migrate_options *opts, bool line)
{
    double predicted = r->predicted_downtime_ms, actual = r->downtime_seconds * 1e3;
    double fixed = opts->policy.overhead_ms, ratio = predicted > 0 ? actual / predicted : 0;
    char from[64];

    fixed_cost_source(o, side, from, sizeof(from));
    if (e) {
        json_object *parts = json_object_new_object();

        json_object_object_add(e, "predicted_downtime_ms", json_ms(predicted));
        json_object_object_add(parts, "pages", json_ms(predicted - fixed));
        json_object_object_add(parts, "fixed", json_ms(fixed));
        json_object_object_add(e, "predicted_parts_ms", parts);
        json_object_object_add(e, "fixed_cost_from", json_object_new_string(
            o->fixed_cost_learned ? "learned" : o->fixed_cost_seeded ? "probe" : "default"));
        json_object_object_add(e, "fixed_cost_learned_from",
                               json_object_new_int((int)o->fixed_cost_learned));
        json_object_object_add(e, "downtime_ratio", json_ratio(ratio));
    }
    if (line)
        fprintf(text_out(o), "xl-ext %s: predicted downtime %.0f ms (pages %.0f + fixed %.0f "
                "ms, %s), actual %.1f ms, actual/predicted %.2f\n", side, predicted,
                predicted - fixed, fixed, from, actual, ratio);
}

/* What a ladder step did, in words: "throttle to 25%", "compression on". */
static void ladder_step_text(const struct mig_progress *p, char *buf, size_t size)
{
    switch (p->ladder_step) {
    case MIG_LADDER_STEP_COMPRESS_ON:
        snprintf(buf, size, "compression on");
        break;
    case MIG_LADDER_STEP_COMPRESS_OFF:
        snprintf(buf, size, "compression off");
        break;
    case MIG_LADDER_STEP_WIDEN:
        snprintf(buf, size, "widen to %u streams", p->streams);
        break;
    case MIG_LADDER_STEP_THROTTLE:
        snprintf(buf, size, "throttle the guest to %u%%", p->throttle_percent);
        break;
    default:
        snprintf(buf, size, "none");
    }
}

static const char *ladder_rung_of(enum mig_ladder_step step)
{
    return step == MIG_LADDER_STEP_THROTTLE ? "throttle" :
           step == MIG_LADDER_STEP_WIDEN ? "widen" : "compress";
}

/* "CPU 12% idle", or "CPU idle unknown" for a negative share. */
static void cpu_idle_text(double idle, char *buf, size_t size)
{
    if (idle >= 0)
        snprintf(buf, size, "CPU %.0f%% idle", idle * 100);
    else
        snprintf(buf, size, "CPU idle unknown");
}

/* A step of the convergence ladder: a "ladder" event, or a line. */
static void output_ladder(struct migrate_output *o, const struct mig_progress *p)
{
    char what[64], cpu[32];

    ladder_step_text(p, what, sizeof(what));
    cpu_idle_text(p->cpu_idle, cpu, sizeof(cpu));
    if (o->json) {
        json_object *e = json_object_new_object();

        json_object_object_add(e, "event", json_object_new_string("ladder"));
        json_object_object_add(e, "elapsed_s", json_s(p->elapsed));
        json_object_object_add(e, "from_round", json_object_new_int((int)p->round));
        json_object_object_add(e, "rung", json_object_new_string(ladder_rung_of(p->ladder_step)));
        json_object_object_add(e, "step", json_object_new_string(what));
        json_object_object_add(e, "why", json_object_new_string(p->ladder_reason));
        json_object_object_add(e, "dirty_pages_per_s", json_per_s(p->dirty_rate));
        json_object_object_add(e, "link_mb_per_s", json_link(p->link_rate));
        json_object_object_add(e, "cpu_idle", json_ratio(p->cpu_idle));
        json_object_object_add(e, "expected_downtime_ms",
                               json_expected(p->expected_downtime_ms));
        json_object_object_add(e, "compress", json_object_new_boolean(p->compress));
        json_object_object_add(e, "streams", json_object_new_int((int)p->streams));
        json_object_object_add(e, "throttle_percent",
                               json_object_new_int((int)p->throttle_percent));
        emit_json(o->out, e);
        return;
    }
    if (p->round == 0)
        fprintf(o->out, "ladder from round 0: %s: %s (%s)\n", what, p->ladder_reason, cpu);
    else
        fprintf(o->out, "ladder from round %u: %s: %s (dirty %.0f pages/s, link %.1f "
                "MB/s, %s, expected downtime %.0f ms)\n", p->round, what, p->ladder_reason,
                p->dirty_rate, p->link_rate / 1e6, cpu, p->expected_downtime_ms);
}

/* A phase change or a round: an event, or a line. */
static void output_phase(struct migrate_output *o, const struct mig_progress *p)
{
    /* this round's own, beside the engine's counts of all rounds so far */
    uint64_t round_pages = p->pages_sent - o->pages_before;
    uint64_t round_bytes = p->bytes_sent - o->bytes_before;
    char expected[80];

    if (p->phase == MIG_PHASE_PRECOPY) {
        o->pages_before = p->pages_sent;
        o->bytes_before = p->bytes_sent;
    }
    if (o->json) {
        json_object *e = json_object_new_object();

        json_object_object_add(e, "event", json_object_new_string(phase_name(p->phase)));
        json_object_object_add(e, "elapsed_s", json_s(p->elapsed));
        if (p->phase == MIG_PHASE_PRECOPY) {
            json_object_object_add(e, "round", json_object_new_int((int)p->round));
            json_object_object_add(e, "round_pages_sent",
                                   json_object_new_int64((int64_t)round_pages));
            json_object_object_add(e, "round_bytes_sent",
                                   json_object_new_int64((int64_t)round_bytes));
            json_object_object_add(e, "pages_sent", json_object_new_int64((int64_t)p->pages_sent));
            json_object_object_add(e, "pages_remaining",
                                   json_object_new_int64((int64_t)p->pages_remaining));
            json_object_object_add(e, "bytes_sent", json_object_new_int64((int64_t)p->bytes_sent));
            json_object_object_add(e, "dirty_pages_per_s", json_per_s(p->dirty_rate));
            json_object_object_add(e, "link_mb_per_s", json_link(p->link_rate));
            json_object_object_add(e, "expected_downtime_ms",
                                   json_expected(p->expected_downtime_ms));
            json_object_object_add(e, "decision", json_object_new_string(p->decision));
        }
        emit_json(o->out, e);
        return;
    }
    if (p->phase != MIG_PHASE_PRECOPY) {
        if (o->tty && p->phase == MIG_PHASE_SWITCHOVER)
            fprintf(o->out, "switchover: guest paused, sending the rest\n");
        fflush(o->out);
        return;
    }
    if (p->expected_downtime_ms >= 0)
        snprintf(expected, sizeof(expected), "%.1f MB/s, expected downtime %.0f ms",
                 p->link_rate / 1e6, p->expected_downtime_ms);
    else
        snprintf(expected, sizeof(expected), "link not measured yet, expected downtime n/a");
    /* a whole line even on a terminal: it is longer than one there, and
     * the live line (progress_line.c) is what is redrawn in place */
    /* sizes binary (MiB), rates decimal (MB/s), as the help and man page say */
    fprintf(o->out, "round %u: sent %" PRIu64 " pages (%.1f MiB) this round, %" PRIu64
            " (%.1f MiB) in all; remaining %" PRIu64 ", dirty %.0f pages/s, %s\n",
            p->round, round_pages, round_bytes / 1048576.0, p->pages_sent,
            p->bytes_sent / 1048576.0, p->pages_remaining, p->dirty_rate, expected);
    fflush(o->out);
}

/*
 * Rungs (MIG_LADDER_* bits) as the summary's ladder= value: "none", or
 * e.g. "compress,widen:4,throttle:25" (the most streams, the lowest CPU
 * share).
 */
static void rungs_text(unsigned int rungs, unsigned int max_streams,
                       unsigned int min_throttle, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    if (rungs & MIG_LADDER_COMPRESS)
        n += (size_t)snprintf(buf + n, size - n, "compress");
    if ((rungs & MIG_LADDER_WIDEN) && n < size)
        n += (size_t)snprintf(buf + n, size - n, "%swiden:%u", n ? "," : "", max_streams);
    if ((rungs & MIG_LADDER_THROTTLE) && n < size)
        n += (size_t)snprintf(buf + n, size - n, "%sthrottle:%u", n ? "," : "",
                              min_throttle);
    if (!n)
        snprintf(buf, size, "none");
}

/* The rungs a migration climbed (ladder=). */
static void ladder_summary(const struct mig_migrate_result *r, char *buf, size_t size)
{
    rungs_text(r->ladder.rungs, r->ladder.max_streams, r->ladder.min_throttle_percent,
               buf, size);
}

/* The rungs a prediction expects, in the same form. */
static void predicted_ladder(const struct mig_precopy_prediction *pr, char *buf, size_t size)
{
    rungs_text(pr->rungs, pr->max_streams, pr->min_throttle_percent, buf, size);
}

/* "within target", "forced above target" or "gives up". */
static const char *prediction_verdict(const struct mig_precopy_prediction *pr)
{
    return pr->gave_up ? "gives up" : pr->forced ? "forced above target" : "within target";
}

/* The probe's figures as a new JSON object the caller owns. */
static json_object *json_probe(const struct mig_precopy_probe *pb)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "link_mb_per_s", json_rate3(pb->link_rate / 1e6));
    json_object_object_add(o, "streams", json_object_new_int((int)pb->streams));
    json_object_object_add(o, "link_cap_mb_per_s",
                           json_rate3((double)pb->link_cap / 1e6));
    json_object_object_add(o, "dirty_pages_per_s", json_per_s(pb->dirty_rate));
    json_object_object_add(o, "dirty_window_s", json_s(pb->dirty_window));
    json_object_object_add(o, "zero_share", json_ratio(pb->zero_share));
    json_object_object_add(o, "compress_ratio", json_ratio(pb->compress_ratio));
    json_object_object_add(o, "cpu_idle", json_ratio(pb->cpu_idle));
    json_object_object_add(o, "pages", json_object_new_int64((int64_t)pb->nr_pages));
    json_object_object_add(o, "elapsed_s", json_s(pb->elapsed));
    return o;
}

/* A prediction's figures as a new JSON object the caller owns. */
static json_object *json_prediction(const struct mig_precopy_prediction *pr)
{
    json_object *o = json_object_new_object(), *rungs = json_object_new_array();
    static const unsigned int bits[] = { MIG_LADDER_COMPRESS, MIG_LADDER_WIDEN,
                                         MIG_LADDER_THROTTLE };
    char ladder[64];

    predicted_ladder(pr, ladder, sizeof(ladder));
    for (unsigned int i = 0; i < 3; i++)
        if (pr->rungs & bits[i])
            json_object_array_add(rungs, json_object_new_string(
                mig_ladder_rung_name((enum mig_ladder_rung)bits[i])));
    json_object_object_add(o, "total_s", json_s(pr->total_seconds));
    json_object_object_add(o, "downtime_ms", json_ms(pr->downtime_ms));
    json_object_object_add(o, "bytes", json_object_new_int64((int64_t)pr->bytes));
    json_object_object_add(o, "rounds", json_object_new_int((int)pr->rounds));
    json_object_object_add(o, "rungs", rungs);
    json_object_object_add(o, "ladder", json_object_new_string(ladder));
    json_object_object_add(o, "min_throttle_percent",
                           json_object_new_int((int)pr->min_throttle_percent));
    json_object_object_add(o, "max_streams", json_object_new_int((int)pr->max_streams));
    json_object_object_add(o, "forced", json_object_new_boolean(pr->forced));
    json_object_object_add(o, "gave_up", json_object_new_boolean(pr->gave_up));
    json_object_object_add(o, "meets_target",
                           json_object_new_boolean(!pr->forced && !pr->gave_up));
    json_object_object_add(o, "reason", json_object_new_string(pr->reason));
    return o;
}

/*
 * The probe and the prediction made from it (MIG_PHASE_PREDICT): a
 * "prediction" event (the prediction's members, and "probe"), or two lines.
 */
static void output_prediction(struct migrate_output *o, const struct mig_progress *p)
{
    const struct mig_precopy_prediction *pr = p->prediction;
    const struct mig_precopy_probe *pb = p->probe;
    char ladder[64], cpu[32];

    if (o->json) {
        json_object *e = json_prediction(pr);

        json_object_object_add(e, "event", json_object_new_string("prediction"));
        json_object_object_add(e, "elapsed_s", json_s(p->elapsed));
        json_object_object_add(e, "probe", json_probe(pb));
        emit_json(o->out, e);
        return;
    }
    predicted_ladder(pr, ladder, sizeof(ladder));
    cpu_idle_text(pb->cpu_idle, cpu, sizeof(cpu));
    fprintf(o->out, "probe: link %.1f MB/s over %u stream(s), dirty %.0f pages/s (over "
            "%.1f s), %.0f%% zero pages, compress ratio %.2f, %s\n",
            pb->link_rate / 1e6, pb->streams, pb->dirty_rate, pb->dirty_window,
            pb->zero_share * 100, pb->compress_ratio, cpu);
    fprintf(o->out, "prediction: total %.1f s, downtime %.0f ms, %.0f MiB on the wire, "
            "%u round(s), rungs: %s: %s (%s)\n", pr->total_seconds, pr->downtime_ms,
            pr->bytes / 1048576.0, pr->rounds, ladder, prediction_verdict(pr), pr->reason);
    fflush(o->out);
}

int migrate_output_progress(const struct mig_progress *p, void *payload)
{
    struct migrate_output *o = payload;

    if (p->in_round) {
        /* the live line (on only off --json) */
        progress_line_report(&o->live, p);
        return 0;
    }
    progress_line_report(&o->live, p);     /* a round's end finishes its line */
    if (p->phase == MIG_PHASE_LADDER)
        output_ladder(o, p);
    else if (p->phase == MIG_PHASE_PREDICT)
        output_prediction(o, p);
    else
        output_phase(o, p);
    fflush(o->out);
    return 0;
}

/* What was predicted beside what happened: a line after the summary. */
static void output_prediction_outcome(struct migrate_output *o, const char *side,
                                      const struct mig_migrate_result *r)
{
    const struct mig_precopy_prediction *pr = &r->prediction;
    char predicted[64], actual[64];

    predicted_ladder(pr, predicted, sizeof(predicted));
    ladder_summary(r, actual, sizeof(actual));
    fprintf(text_out(o), "xl-ext %s: predicted/actual: total=%.3f/%.3fs "
            "downtime=%.1f/%.1fms bytes=%" PRIu64 "/%" PRIu64 " rounds=%u/%u "
            "ladder=%s/%s forced=%s/%s\n", side, pr->total_seconds, r->total_seconds,
            pr->downtime_ms, r->downtime_seconds * 1e3, pr->bytes, r->bytes_sent,
            pr->rounds, r->rounds, predicted, actual, pr->forced ? "yes" : "no",
            r->forced ? "yes" : "no");
}

/* Whether the source (a migration's or a save's) reached the switchover,
 * so that it can say where the downtime went. */
static bool reached_switchover(const struct mig_migrate_result *r)
{
    return r->downtime_seconds > 0;
}

/* verified_at= of the summary: "before-go", "after-resume", "dropped" or "none". */
static const char *verified_at_of(const struct mig_migrate_result *r)
{
    return r->verify_dropped ? "dropped" : !r->memory_verified ? "none" :
           r->verified_before_go ? "before-go" : "after-resume";
}

/* The summary event of the source (side "migrate" or "save"); emitted. */
static void summary_event(struct migrate_output *o, const char *side, const char *result,
                          const struct mig_migrate_result *r,
                          const struct mig_migrate_options *opts,
                          double stall_total_s, double stall_max_s, const char *error)
{
    bool has_parts = reached_switchover(r);
    json_object *e = json_object_new_object();
    char ladder[64], hash[17];

    ladder_summary(r, ladder, sizeof(ladder));
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)r->memory_hash);
    json_object_object_add(e, "event", json_object_new_string("summary"));
    json_object_object_add(e, "side", json_object_new_string(side));
    json_object_object_add(e, "result", json_object_new_string(result));
    json_object_object_add(e, "total_s", json_s(r->total_seconds));
    json_object_object_add(e, "downtime_ms", json_ms(r->downtime_seconds * 1e3));
    json_object_object_add(e, "target_downtime_ms",
                           json_object_new_int((int)opts->policy.max_downtime_ms));
    json_object_object_add(e, "rounds", json_object_new_int((int)r->rounds));
    json_object_object_add(e, "bytes_sent", json_object_new_int64((int64_t)r->bytes_sent));
    json_object_object_add(e, "pages_sent", json_object_new_int64((int64_t)r->pages_sent));
    json_object_object_add(e, "zero_pages", json_object_new_int64((int64_t)r->zero_pages));
    json_object_object_add(e, "unchanged_pages",
                           json_object_new_int64((int64_t)r->unchanged_pages));
    json_object_object_add(e, "harvest_pause_ms", json_ms(r->harvest_pause_seconds * 1e3));
    json_object_object_add(e, "vcpu_stall_total_ms", json_ms(stall_total_s * 1e3));
    json_object_object_add(e, "vcpu_stall_max_ms", json_ms(stall_max_s * 1e3));
    json_object_object_add(e, "streams", json_object_new_int((int)r->streams));
    json_object_object_add(e, "tracing", json_object_new_string(
        r->tracing == MIG_TRACE_LOOSE ? "loose" : "stop"));
    json_object_object_add(e, "forced", json_object_new_boolean(r->forced));
    json_object_object_add(e, "encrypted", json_object_new_boolean(r->encrypted));
    json_object_object_add(e, "cipher", r->cipher ? json_object_new_string(r->cipher) : NULL);
    json_object_object_add(e, "memory_hash", json_object_new_string(hash));
    json_object_object_add(e, "memory_verified", json_object_new_boolean(r->memory_verified));
    json_object_object_add(e, "verified_at", json_object_new_string(verified_at_of(r)));
    json_object_object_add(e, "verified_before_go",
                           json_object_new_boolean(r->verified_before_go));
    json_object_object_add(e, "verify_dropped", json_object_new_boolean(r->verify_dropped));
    json_object_object_add(e, "reason", json_object_new_string(r->reason));
    json_object_object_add(e, "reconnects", json_object_new_int64((int64_t)r->reconnects));
    json_object_object_add(e, "ladder", json_object_new_string(ladder));
    if (has_parts)
        json_object_object_add(e, "downtime_parts_ms", json_downtime_parts(r));
    if (r->predicted)
        json_object_object_add(e, "prediction", json_prediction(&r->prediction));
    if (has_parts && r->predicted_downtime_ms >= 0)
        output_downtime_prediction(o, e, side, r, opts, false);
    if (o->probe)
        json_object_object_add(e, "switchover_probe", json_switchover_probe(o->probe));
    if (error)
        json_object_object_add(e, "error", json_object_new_string(error));
    emit_json(o->out, e);
}

void migrate_output_summary(struct migrate_output *o, const char *side, int rc,
                            const struct mig_migrate_result *r,
                            const struct mig_migrate_options *opts,
                            double stall_total_s, double stall_max_s,
                            const char *error)
{
    const char *result = rc ? (rc == MIG_ECANCELLED ? "cancelled" : "failed") :
                         r->dry_run ? "dry-run" : "ok";
    bool has_parts = reached_switchover(r);
    bool predicted = has_parts && r->predicted_downtime_ms >= 0;
    char ladder[64];

    ladder_summary(r, ladder, sizeof(ladder));

    progress_line_close(&o->live);
    if (o->json)
        summary_event(o, side, result, r, opts, stall_total_s, stall_max_s, error);
    fprintf(text_out(o), "xl-ext %s: result=%s total=%.3fs downtime=%.1fms target=%ums "
            "rounds=%u bytes=%" PRIu64 " pages=%" PRIu64 " zero=%" PRIu64
            " unchanged=%" PRIu64 " harvest_pause=%.1fms stall_total=%.1fms "
            "stall_max=%.1fms streams=%u tracing=%s encrypted=%s cipher=%s memory_hash=%016llx "
            "verified=%s verified_at=%s reconnects=%" PRIu64 " ladder=%s%s\n",
            side, result, r->total_seconds, r->downtime_seconds * 1e3,
            opts->policy.max_downtime_ms, r->rounds, r->bytes_sent, r->pages_sent,
            r->zero_pages, r->unchanged_pages, r->harvest_pause_seconds * 1e3,
            stall_total_s * 1e3, stall_max_s * 1e3, r->streams,
            r->tracing == MIG_TRACE_LOOSE ? "loose" : "stop",
            r->encrypted ? "yes" : "no", r->cipher ? r->cipher : "none",
            (unsigned long long)r->memory_hash, r->memory_verified ? "yes" : "no",
            verified_at_of(r), r->reconnects, ladder, r->forced ? " forced=yes" : "");
    if (has_parts)
        fprintf(text_out(o), "xl-ext %s: downtime parts (ms): pause=%.1f harvest=%.1f "
                "send=%.1f state=%.1f destination=%.1f resume=%.1f\n", side,
                r->downtime_parts.pause * 1e3, r->downtime_parts.harvest * 1e3,
                r->downtime_parts.send * 1e3, r->downtime_parts.state * 1e3,
                r->downtime_parts.destination * 1e3, r->downtime_parts.resume * 1e3);
    if (r->predicted && !r->dry_run)
        output_prediction_outcome(o, side, r);
    if (predicted)
        output_downtime_prediction(o, NULL, side, r, opts, true);
    if (o->probe)
        output_switchover_probe(o, side);
    fflush(o->out);
}

void migrate_output_received(struct migrate_output *o, int rc,
                             const struct mig_migrate_result *r, const char *error)
{
    const char *result = rc ? (rc == MIG_ECANCELLED ? "cancelled" : "failed") :
                         r->dry_run ? "dry-run" : "ok";
    /* "go" came: the source found the digest equal to what it sent */
    bool matched = !rc && r->succeeded;
    char hash[17];

    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)r->memory_hash);
    if (o->json) {
        json_object *e = json_object_new_object();

        json_object_object_add(e, "event", json_object_new_string("summary"));
        json_object_object_add(e, "side", json_object_new_string("migrate-receive"));
        json_object_object_add(e, "result", json_object_new_string(result));
        json_object_object_add(e, "total_s", json_s(r->total_seconds));
        json_object_object_add(e, "epochs", json_object_new_int((int)r->rounds));
        json_object_object_add(e, "bytes_received",
                               json_object_new_int64((int64_t)r->bytes_sent));
        json_object_object_add(e, "pages_received",
                               json_object_new_int64((int64_t)r->pages_sent));
        json_object_object_add(e, "zero_pages", json_object_new_int64((int64_t)r->zero_pages));
        json_object_object_add(e, "streams", json_object_new_int((int)r->streams));
        json_object_object_add(e, "tracing", json_object_new_string(
            r->tracing == MIG_TRACE_LOOSE ? "loose" : "stop"));
        json_object_object_add(e, "encrypted", json_object_new_boolean(r->encrypted));
        json_object_object_add(e, "cipher", r->cipher ? json_object_new_string(r->cipher)
                                                      : NULL);
        json_object_object_add(e, "memory_hash", json_object_new_string(hash));
        json_object_object_add(e, "digest_matched", json_object_new_boolean(matched));
        json_object_object_add(e, "reconnects", json_object_new_int64((int64_t)r->reconnects));
        if (error)
            json_object_object_add(e, "error", json_object_new_string(error));
        emit_json(o->out, e);
    }
    fprintf(text_out(o), "xl-ext migrate-receive: result=%s total=%.3fs epochs=%u "
            "bytes=%" PRIu64 " pages=%" PRIu64 " zero=%" PRIu64 " streams=%u tracing=%s "
            "encrypted=%s cipher=%s memory_hash=%s digest=%s reconnects=%" PRIu64 "\n",
            result, r->total_seconds, r->rounds, r->bytes_sent, r->pages_sent,
            r->zero_pages, r->streams, r->tracing == MIG_TRACE_LOOSE ? "loose" : "stop",
            r->encrypted ? "yes" : "no", r->cipher ? r->cipher : "none", hash,
            matched ? "matched" : "unchecked", r->reconnects);
    fflush(o->out);
}

void migrate_output_guest_rate(struct migrate_output *o, const char *cmd, double before,
                               double during)
{
    double ratio = before > 0 ? during / before : 0;

    if (o->json) {
        json_object *e = json_object_new_object();

        json_object_object_add(e, "event", json_object_new_string("guest"));
        json_object_object_add(e, "writes_per_s_before", json_per_s(before));
        json_object_object_add(e, "writes_per_s_during", json_per_s(during));
        json_object_object_add(e, "ratio", json_ratio(ratio));
        emit_json(o->out, e);
    }
    fprintf(text_out(o), "xl-ext %s: guest writes/s before=%.0f during=%.0f ratio=%.2f\n",
            cmd, before, during, ratio);
    fflush(o->out);
}

/* Start `sh -c rune` with pipes on its stdin and stdout (as xl does). */
int migrate_spawn_receiver(const char *rune, pid_t *pid, int *to_child, int *from_child)
{
    int in[2], out[2];

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        fprintf(stderr, "%s migrate: cannot create pipes: %s\n", xl_ext_prog,
                strerror(errno));
        return -1;
    }
    *pid = fork();
    if (*pid < 0) {
        fprintf(stderr, "%s migrate: cannot fork: %s\n", xl_ext_prog, strerror(errno));
        return -1;
    }
    if (*pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl("/bin/sh", "sh", "-c", rune, (char *)NULL);
        fprintf(stderr, "%s migrate: cannot run /bin/sh: %s\n", xl_ext_prog,
                strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    *to_child = in[1];
    *from_child = out[0];
    return 0;
}

void migrate_error_text(int rc, const struct mig_migrate_result *r, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", mig_error_last(),
             rc == MIG_ECANCELLED && r->gave_up ?
             " (raise --max-downtime or use a faster link)" : "");
}

int migrate_exit_code_of(int rc, const struct mig_migrate_result *r)
{
    if (rc && r->state_unknown)
        return XL_EXT_EXIT_UNKNOWN;
    if (!rc && r->dry_run && r->predicted && (r->prediction.forced || r->prediction.gave_up))
        return XL_EXT_EXIT_PREDICTED_MISS;
    switch (rc) {
    case 0:              return XL_EXT_EXIT_OK;
    case MIG_EINVAL:     return XL_EXT_EXIT_USAGE;
    case MIG_ECOMPAT:    return XL_EXT_EXIT_INCOMPATIBLE;
    case MIG_ECANCELLED: return XL_EXT_EXIT_CANCELLED;
    default:             return XL_EXT_EXIT_FAILURE;
    }
}

bool migrate_host_is_local(const char *host)
{
    return !strcmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, "::1");
}

char *migrate_peer_command(const char *ssh_command, const char *host, const char *remote)
{
    char *command;

    if (ssh_command && !ssh_command[0])
        return strdup(host);
    if (asprintf(&command, "exec %s %s %s", ssh_command ? ssh_command : "ssh", host, remote) < 0)
        return NULL;
    return command;
}

/*
 * Has child exited within ms?  Its status into *status.  Waits on a pidfd
 * (an event, not a polling loop) where the kernel has them.
 */
static bool child_exited_within(pid_t child, int ms, int *status)
{
    int64_t deadline = mig_clock_ms() + ms;
#ifdef SYS_pidfd_open
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
#else
    int pidfd = -1;
#endif
    pid_t got;

    for (;;) {
        int64_t left = deadline - mig_clock_ms();

        do {
            got = waitpid(child, status, WNOHANG);
        } while (got < 0 && errno == EINTR);
        if (got != 0 || left <= 0)
            break;
        if (pidfd >= 0) {
            struct pollfd p = { .fd = pidfd, .events = POLLIN };

            (void)poll(&p, 1, (int)left);
        } else {
            struct timespec step = { 0, 20 * 1000 * 1000 };     /* no pidfd: poll */

            nanosleep(&step, NULL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return got == child || (got < 0 && errno == ECHILD);
}

int migrate_reap_receiver(int to_child, int from_child, pid_t child)
{
    int status = 0;

    if (to_child >= 0)
        close(to_child);
    if (from_child >= 0)
        close(from_child);
    if (child <= 0)
        return -1;
    if (!child_exited_within(child, RECEIVER_EXIT_WAIT_MS, &status)) {
        /* As xl: never kill it (it may still be finishing a success). */
        fprintf(stderr, "%s migrate: the receiver (pid %ld) has not exited %d s after "
                "the migration ended: no longer waiting for it (its exit status will "
                "be unreported)\n", xl_ext_prog, (long)child, RECEIVER_EXIT_WAIT_MS / 1000);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
