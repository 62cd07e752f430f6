/*
 * sim-trace-bench.c: loose against stop dirty tracing on the simulated
 * guest, same workload, one run.  For each mode: a baseline window with no
 * harvests, then a window with a harvest every period; it prints the vCPU
 * stalls (parked by the tracer + slow writes, total and max over vCPUs)
 * and the writer throughput with and without harvests (the dip), and the
 * stop/loose ratios.  A benchmark, not a test: never run by make check.
 *
 * Usage: sim-trace-bench [MIB [VCPUS [SECONDS [PERIOD_MS [CHUNK [RATE]]]]]]
 *        defaults 1024 2 1 20 4096 0 (CHUNK: pfns per loose-harvest chunk;
 *        RATE: writes per second per vCPU, 0 = as fast as it can).  Exits 77 without userfaultfd-wp.
 * Run:   make -C build/tests bench-sim-trace
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mig_clock.h"
#include "mig_dirty.h"
#include "mig_error.h"
#include "mig_sim.h"

struct result {
    uint64_t harvests, harvest_ns, dirty_pfns;
    uint64_t stall_total_ns, stall_max_ns, pauses, slow_writes;
    uint64_t parked_total_ns, parked_max_ns, slow_total_ns, slow_max_ns;
    double baseline_rate, harvesting_rate;
    double dip;              /* 1 - harvesting_rate / baseline_rate */
};

static void sleep_until(uint64_t deadline)
{
    uint64_t now = mig_clock_ns();
    struct timespec ts;

    if (now >= deadline)
        return;
    ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
    ts.tv_nsec = (long)((deadline - now) % 1000000000u);
    nanosleep(&ts, NULL);
}

static void totals(struct mig_sim_guest *guest, unsigned nr_vcpus,
                   uint64_t *writes, struct result *r, int add)
{
    struct mig_sim_vcpu_stats s;
    unsigned v;
    int sign = add ? 1 : -1;

    *writes = 0;
    for (v = 0; v < nr_vcpus; v++) {
        mig_sim_guest_vcpu_stats(guest, v, &s);
        *writes += s.writes;
        if (!r)
            continue;
        r->stall_total_ns += (uint64_t)sign * s.stall_total_ns;
        r->parked_total_ns += (uint64_t)sign * s.pause_total_ns;
        r->slow_total_ns += (uint64_t)sign * s.slow_write_total_ns;
        r->pauses += (uint64_t)sign * s.pause_count;
        r->slow_writes += (uint64_t)sign * s.slow_write_count;
        if (!add)
            continue;
        /* maxima are over the whole run (the baseline has no pauses) */
        if (s.stall_max_ns > r->stall_max_ns)
            r->stall_max_ns = s.stall_max_ns;
        if (s.pause_max_ns > r->parked_max_ns)
            r->parked_max_ns = s.pause_max_ns;
        if (s.slow_write_max_ns > r->slow_max_ns)
            r->slow_max_ns = s.slow_write_max_ns;
    }
}

static uint64_t chunk_pfns = 4096;

static int run_mode(const struct mig_sim_options *options,
                    enum mig_sim_harvest_mode mode, double seconds,
                    uint64_t period_ns, struct result *r, const char **tracker)
{
    struct mig_sim_harvest_options harvest = MIG_SIM_HARVEST_OPTIONS_INIT;
    struct mig_sim_harvest_stats stats;
    struct mig_sim_guest *guest;
    struct mig_dirty_bitmap *dirty;
    uint64_t window = (uint64_t)(seconds * 1e9), start, end, next, w0, w1, w2;
    int rc;

    rc = mig_sim_guest_create(options, &guest);
    if (rc)
        return rc;
    *tracker = mig_sim_guest_tracker_name(guest);
    rc = mig_dirty_bitmap_create(mig_sim_guest_nr_pfns(guest), &dirty);
    if (rc)
        goto out;
    harvest.mode = mode;
    harvest.chunk_pfns = chunk_pfns;
    mig_sim_guest_start(guest);
    sleep_until(mig_clock_ns() + 200000000u);                     /* warm up */
    /* first harvest arms against the warm-up writes; not measured */
    mig_sim_guest_harvest(guest, &harvest, dirty, NULL);

    totals(guest, options->nr_vcpus, &w0, NULL, 0);
    start = mig_clock_ns();
    sleep_until(start + window);
    end = mig_clock_ns();
    totals(guest, options->nr_vcpus, &w1, r, 0);
    r->baseline_rate = (double)(w1 - w0) * 1e9 / (double)(end - start);

    start = mig_clock_ns();
    for (next = start; next < start + window; next += period_ns) {
        sleep_until(next);
        mig_dirty_bitmap_clear_all(dirty);
        rc = mig_sim_guest_harvest(guest, &harvest, dirty, &stats);
        if (rc)
            goto out;
        r->harvests++;
        r->harvest_ns += stats.duration_ns;
        r->dirty_pfns += stats.dirty_pfns;
    }
    end = mig_clock_ns();
    totals(guest, options->nr_vcpus, &w2, r, 1);
    r->harvesting_rate = (double)(w2 - w1) * 1e9 / (double)(end - start);
    r->dip = 1.0 - r->harvesting_rate / r->baseline_rate;
    mig_sim_guest_stop(guest);
    rc = MIG_OK;
 out:
    mig_dirty_bitmap_free(dirty);
    mig_sim_guest_destroy(guest);
    return rc;
}

static void print_row(const char *name, const struct result *r)
{
    printf("%-8s %8" PRIu64 " %10.3f %10" PRIu64 " | %9.2f %8.2f %9.2f %8.2f "
           "%9.2f %8.2f | %10.0f %10.0f %6.1f%%\n", name, r->harvests,
           r->harvests ? (double)r->harvest_ns / (double)r->harvests / 1e6 : 0,
           r->harvests ? r->dirty_pfns / r->harvests : 0,
           (double)r->stall_total_ns / 1e6, (double)r->stall_max_ns / 1e6,
           (double)r->parked_total_ns / 1e6, (double)r->parked_max_ns / 1e6,
           (double)r->slow_total_ns / 1e6, (double)r->slow_max_ns / 1e6,
           r->baseline_rate, r->harvesting_rate, 100.0 * r->dip);
}

#define ROUNDS 3

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Field-wise median of ROUNDS results (counters fit a double exactly). */
static void median(const struct result *rounds, struct result *out)
{
    double values[ROUNDS];
    int i;

#define MEDIAN(field) do {                                              \
        for (i = 0; i < ROUNDS; i++)                                    \
            values[i] = (double)rounds[i].field;                        \
        qsort(values, ROUNDS, sizeof(values[0]), compare_double);       \
        out->field = values[ROUNDS / 2];                                \
    } while (0)
    MEDIAN(harvests);
    MEDIAN(harvest_ns);
    MEDIAN(dirty_pfns);
    MEDIAN(stall_total_ns);
    MEDIAN(stall_max_ns);
    MEDIAN(pauses);
    MEDIAN(slow_writes);
    MEDIAN(parked_total_ns);
    MEDIAN(parked_max_ns);
    MEDIAN(slow_total_ns);
    MEDIAN(slow_max_ns);
    MEDIAN(baseline_rate);
    MEDIAN(harvesting_rate);
    MEDIAN(dip);
#undef MEDIAN
}

int main(int argc, char **argv)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    static const enum mig_sim_harvest_mode modes[2] = {
        MIG_SIM_HARVEST_LOOSE, MIG_SIM_HARVEST_STOP,
    };
    static const char *const mode_names[2] = { "loose", "stop" };
    struct result rounds[2][ROUNDS] = { { { 0 } } };
    struct result loose, stop;
    double seconds = argc > 3 ? atof(argv[3]) : 1.0;
    uint64_t period_ms = argc > 4 ? strtoull(argv[4], NULL, 10) : 20;
    const char *tracker = "?";
    char rate_text[64], name[32];
    int rc = MIG_OK, r, m;

    options.memory_bytes = (argc > 1 ? strtoull(argv[1], NULL, 10) : 1024) << 20;
    options.nr_vcpus = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    options.pattern = MIG_SIM_PATTERN_UNIFORM;
    if (argc > 5)
        chunk_pfns = strtoull(argv[5], NULL, 10);
    if (argc > 6)
        options.writes_per_second = strtoull(argv[6], NULL, 10);
    if (seconds <= 0 || period_ms == 0 || chunk_pfns == 0) {
        fprintf(stderr, "sim-trace-bench: SECONDS, PERIOD_MS and CHUNK must "
                "be positive\n");
        return 2;
    }
    if (options.writes_per_second)
        snprintf(rate_text, sizeof(rate_text), "%" PRIu64 " writes/s each",
                 options.writes_per_second);
    else
        snprintf(rate_text, sizeof(rate_text), "full speed");
    printf("sim-trace-bench: %" PRIu64 " MiB guest, %u vCPUs writing uniformly "
           "at %s, a harvest every %" PRIu64 " ms for %.1f s per mode, "
           "loose chunks of %" PRIu64 " pfns; loose and stop alternate, %d "
           "rounds, then the medians\n",
           options.memory_bytes >> 20, options.nr_vcpus, rate_text,
           period_ms, seconds, chunk_pfns, ROUNDS);
    printf("%-8s %8s %10s %10s | %9s %8s %9s %8s %9s %8s | %10s %10s %7s\n",
           "mode", "harvests", "harvest ms", "dirty/harv", "stall ms",
           "max ms", "parked ms", "max ms", "slow ms", "max ms", "writes/s",
           "harvesting", "dip");
    /* alternate the modes so that both see the same host load */
    for (r = 0; r < ROUNDS && !rc; r++) {
        for (m = 0; m < 2 && !rc; m++) {
            rc = run_mode(&options, modes[m], seconds, period_ms * 1000000u,
                          &rounds[m][r], &tracker);
            snprintf(name, sizeof(name), "%s#%d", mode_names[m], r + 1);
            if (!rc)
                print_row(name, &rounds[m][r]);
        }
    }
    if (rc) {
        fprintf(stderr, "sim-trace-bench: %s\n", mig_error_last());
        return rc == MIG_EUNSUPP ? 77 : 1;
    }
    median(rounds[0], &loose);
    median(rounds[1], &stop);
    print_row("loose", &loose);
    print_row("stop", &stop);
    printf("tracker %s; medians, stop/loose: stall total x%.2f, stall max "
           "x%.2f, parked %.2f ms vs %.2f ms; throughput dip %.1f%% (stop) "
           "vs %.1f%% (loose)\n", tracker,
           (double)stop.stall_total_ns / (double)(loose.stall_total_ns
                                                  ? loose.stall_total_ns : 1),
           (double)stop.stall_max_ns / (double)(loose.stall_max_ns
                                                ? loose.stall_max_ns : 1),
           (double)stop.parked_total_ns / 1e6,
           (double)loose.parked_total_ns / 1e6,
           100.0 * stop.dip, 100.0 * loose.dip);
    printf("stall = parked (by the tracer) + slow (writes slower than %"
           PRIu64 " us: write faults, and preemption on a busy host), "
           "summed over vCPUs or the largest single one (max); dip = "
           "1 - writes/s while harvesting / writes/s without, per round; "
           "the median row takes each column's median on its own\n",
           options.slow_write_ns / 1000);
    return 0;
}
