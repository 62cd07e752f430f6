/*
 * test_sim.c: the simulated guest (libmig/backend/sim) with real kernel
 * dirty tracking.  The race tests write continuously while harvests run and
 * keep a shadow copy updated only from harvested pages; after a final
 * harvest with the writers paused the shadow must equal guest memory, i.e.
 * no write was lost.  Run for each tracker the kernel offers and for both
 * harvest modes.  Exits 77 when the kernel offers no userfaultfd
 * write-protection at all.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include <poll.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "mig_dirty.h"
#include "mig_error.h"
#include "mig_sim.h"
/* the stuck-vCPU test stops the tracker's fault handler itself */
#include "../../libmig/backend/sim/sim_private.h"

#define MEMORY_BYTES (UINT64_C(16) << 20)

static const enum mig_sim_tracker all_trackers[] = {
    MIG_SIM_TRACKER_PAGEMAP_SCAN, MIG_SIM_TRACKER_UFFD_SYNC,
};
/* Check test-case names: CK_RUN_CASE=pagemap-scan runs one tracker only
 * (valgrind, which serialises threads, cannot run uffd-sync's blocking
 * faults) */
static const char *const all_tracker_names[] = { "pagemap-scan", "uffd-sync" };

/* Create a guest with a tracker that main() found working. */
static struct mig_sim_guest *new_guest(enum mig_sim_tracker tracker,
                                       enum mig_sim_pattern pattern,
                                       uint64_t writes_per_second)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest = NULL;
    int rc;

    options.memory_bytes = MEMORY_BYTES;
    options.nr_vcpus = 2;
    options.pattern = pattern;
    options.writes_per_second = writes_per_second;
    options.working_set_bytes = MEMORY_BYTES / 8;
    options.tracker = tracker;
    rc = mig_sim_guest_create(&options, &guest);
    ck_assert_msg(rc == MIG_OK, "create: %s", mig_error_last());
    return guest;
}

/* Copy the pages of every pfn in harvested into shadow. */
static void copy_harvested(struct mig_sim_guest *guest,
                           const struct mig_dirty_bitmap *harvested,
                           uint8_t *shadow)
{
    uint64_t n = mig_sim_guest_nr_pfns(guest), pfn;
    const void *data;
    size_t length;

    for (pfn = mig_dirty_bitmap_next_set(harvested, 0); pfn < n;
         pfn = mig_dirty_bitmap_next_set(harvested, pfn + 1)) {
        ck_assert_int_eq(mig_sim_guest_page(guest, pfn, &data, &length), MIG_OK);
        memcpy(shadow + pfn * MIG_PAGE_SIZE, data, length);
    }
}

static uint64_t count_differing_pages(struct mig_sim_guest *guest,
                                      const uint8_t *shadow)
{
    uint64_t n = mig_sim_guest_nr_pfns(guest), pfn, differing = 0;
    const void *data;
    size_t length;

    for (pfn = 0; pfn < n; pfn++) {
        mig_sim_guest_page(guest, pfn, &data, &length);
        if (memcmp(shadow + pfn * MIG_PAGE_SIZE, data, length))
            differing++;
    }
    return differing;
}

static void sleep_briefly(void)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };

    nanosleep(&ts, NULL);
}

/* Until both writers have written (threads may start late on a busy host). */
static void wait_for_writes(struct mig_sim_guest *guest)
{
    struct mig_sim_vcpu_stats a, b;

    do {
        sleep_briefly();
        mig_sim_guest_vcpu_stats(guest, 0, &a);
        mig_sim_guest_vcpu_stats(guest, 1, &b);
    } while (a.writes == 0 || b.writes == 0);
}

/*
 * _i / 6 picks the tracker; of _i % 6, bit 0 is the mode (loose, stop)
 * and the rest the write pattern.
 */
static const enum mig_sim_pattern race_patterns[] = {
    MIG_SIM_PATTERN_UNIFORM, MIG_SIM_PATTERN_HOT_SET,
    MIG_SIM_PATTERN_SEQUENTIAL,
};

START_TEST(test_no_write_lost)
{
    enum mig_sim_tracker tracker = all_trackers[_i / 6];
    int variant = _i % 6;
    struct mig_sim_harvest_options harvest = MIG_SIM_HARVEST_OPTIONS_INIT;
    struct mig_sim_harvest_stats stats;
    struct mig_sim_vcpu_stats vcpu_stats;
    struct mig_sim_guest *guest;
    struct mig_dirty_bitmap *harvested;
    uint64_t reported = 0, writes = 0, hash;
    uint8_t *shadow;
    unsigned round;

    guest = new_guest(tracker, race_patterns[variant / 2], 100000);
    harvest.mode = (variant & 1) ? MIG_SIM_HARVEST_STOP : MIG_SIM_HARVEST_LOOSE;
    harvest.chunk_pfns = 64;          /* many chunks: many interleavings */
    ck_assert_int_eq(mig_dirty_bitmap_create(mig_sim_guest_nr_pfns(guest),
                                             &harvested), MIG_OK);
    /* the guest starts zeroed and armed: the shadow starts zeroed */
    shadow = calloc(1, MEMORY_BYTES);
    ck_assert_ptr_nonnull(shadow);

    ck_assert_int_eq(mig_sim_guest_start(guest), MIG_OK);
    wait_for_writes(guest);
    for (round = 0; round < 60; round++) {
        sleep_briefly();              /* let the writers write */
        mig_dirty_bitmap_clear_all(harvested);
        ck_assert_msg(mig_sim_guest_harvest(guest, &harvest, harvested,
                                            &stats) == MIG_OK,
                      "harvest: %s", mig_error_last());
        ck_assert_uint_eq(stats.dirty_pfns, mig_dirty_bitmap_count(harvested));
        reported += stats.dirty_pfns;
        copy_harvested(guest, harvested, shadow);
    }
    /* final harvest with every writer parked */
    ck_assert_int_eq(mig_sim_guest_pause(guest), MIG_OK);
    mig_dirty_bitmap_clear_all(harvested);
    ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, harvested, &stats),
                     MIG_OK);
    reported += stats.dirty_pfns;
    copy_harvested(guest, harvested, shadow);
    ck_assert_uint_eq(count_differing_pages(guest, shadow), 0);
    ck_assert_int_eq(mig_sim_guest_hash(guest, &hash), MIG_OK);
    ck_assert_uint_eq(hash, XXH3_64bits(shadow, MEMORY_BYTES));
    /* nothing written while paused: a second harvest finds nothing */
    mig_dirty_bitmap_clear_all(harvested);
    ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, harvested, &stats),
                     MIG_OK);
    ck_assert_uint_eq(stats.dirty_pfns, 0);
    ck_assert_int_eq(mig_sim_guest_resume(guest), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_stop(guest), MIG_OK);

    /* the test was not vacuous: writers wrote, harvests reported pages */
    ck_assert_int_eq(mig_sim_guest_vcpu_stats(guest, 0, &vcpu_stats), MIG_OK);
    writes += vcpu_stats.writes;
    ck_assert_int_eq(mig_sim_guest_vcpu_stats(guest, 1, &vcpu_stats), MIG_OK);
    writes += vcpu_stats.writes;
    ck_assert_uint_gt(writes, 0);
    ck_assert_uint_gt(reported, 0);
    free(shadow);
    mig_dirty_bitmap_free(harvested);
    mig_sim_guest_destroy(guest);
}
END_TEST

static void pause_counts(struct mig_sim_guest *guest, uint64_t *counts,
                         uint64_t *total_ns)
{
    struct mig_sim_vcpu_stats stats;
    unsigned v;

    *total_ns = 0;
    for (v = 0; v < 2; v++) {
        ck_assert_int_eq(mig_sim_guest_vcpu_stats(guest, v, &stats), MIG_OK);
        counts[v] = stats.pause_count;
        *total_ns += stats.pause_total_ns;
        ck_assert_uint_ge(stats.stall_total_ns, stats.pause_total_ns);
        ck_assert_uint_ge(stats.stall_max_ns, stats.pause_max_ns);
    }
}

/*
 * STOP parks every writer at every harvest; LOOSE parks none.  Only counts
 * are asserted (and that STOP's parked time is non-zero while LOOSE's is
 * zero), no timing thresholds.
 */
START_TEST(test_stop_stalls_every_vcpu_loose_none)
{
    struct mig_sim_harvest_options harvest = MIG_SIM_HARVEST_OPTIONS_INIT;
    struct mig_sim_guest *guest;
    struct mig_dirty_bitmap *harvested;
    uint64_t before[2], after[2], total_before, total_after, stop_total;
    unsigned round, v;

    guest = new_guest(all_trackers[_i], MIG_SIM_PATTERN_UNIFORM, 50000);
    ck_assert_int_eq(mig_dirty_bitmap_create(mig_sim_guest_nr_pfns(guest),
                                             &harvested), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_start(guest), MIG_OK);

    pause_counts(guest, before, &total_before);
    harvest.mode = MIG_SIM_HARVEST_STOP;
    for (round = 0; round < 10; round++)
        ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, harvested,
                                               NULL), MIG_OK);
    pause_counts(guest, after, &total_after);
    for (v = 0; v < 2; v++)
        ck_assert_uint_eq(after[v] - before[v], 10);
    stop_total = total_after - total_before;
    ck_assert_uint_gt(stop_total, 0);

    pause_counts(guest, before, &total_before);
    harvest.mode = MIG_SIM_HARVEST_LOOSE;
    for (round = 0; round < 10; round++)
        ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, harvested,
                                               NULL), MIG_OK);
    pause_counts(guest, after, &total_after);
    for (v = 0; v < 2; v++)
        ck_assert_uint_eq(after[v], before[v]);
    ck_assert_uint_lt(total_after - total_before, stop_total);

    ck_assert_int_eq(mig_sim_guest_stop(guest), MIG_OK);
    mig_dirty_bitmap_free(harvested);
    mig_sim_guest_destroy(guest);
}
END_TEST

/* Writes by the test itself (no writers) are reported exactly. */
START_TEST(test_reports_exactly_the_written_pages)
{
    struct mig_sim_harvest_options harvest = MIG_SIM_HARVEST_OPTIONS_INIT;
    struct mig_sim_guest *guest;
    struct mig_dirty_bitmap *harvested, *expected;
    uint64_t n, pfn, seed = 12345;
    const void *data;
    size_t length;

    guest = new_guest(all_trackers[_i], MIG_SIM_PATTERN_IDLE, 0);
    n = mig_sim_guest_nr_pfns(guest);
    ck_assert_int_eq(mig_dirty_bitmap_create(n, &harvested), MIG_OK);
    ck_assert_int_eq(mig_dirty_bitmap_create(n, &expected), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, harvested, NULL),
                     MIG_OK);
    ck_assert_uint_eq(mig_dirty_bitmap_count(harvested), 0);
    for (unsigned i = 0; i < 300; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        pfn = (seed >> 33) % n;
        mig_sim_guest_page(guest, pfn, &data, &length);
        /* writing through the guest's page pointer stands in for a vCPU */
        ((volatile uint8_t *)(uintptr_t)data)[i % length] = (uint8_t)i | 1;
        mig_dirty_bitmap_set(expected, pfn);
    }
    harvest.chunk_pfns = 100;        /* chunks not aligned to anything */
    ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, harvested, NULL),
                     MIG_OK);
    ck_assert(mig_dirty_bitmap_equal(harvested, expected));
    mig_dirty_bitmap_clear_all(harvested);
    harvest.mode = MIG_SIM_HARVEST_STOP;
    ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, harvested, NULL),
                     MIG_OK);
    ck_assert_uint_eq(mig_dirty_bitmap_count(harvested), 0);
    mig_dirty_bitmap_free(harvested);
    mig_dirty_bitmap_free(expected);
    mig_sim_guest_destroy(guest);
}
END_TEST

/* Until n write faults are pending on the guest's uffd (read, not
 * resolved: the writers stay blocked); 30 s is the bound of last resort. */
static void await_blocked_writers(struct mig_sim_guest *guest, unsigned n)
{
    struct pollfd pfd = { .fd = guest->tracker.uffd, .events = POLLIN };
    struct uffd_msg msg;
    unsigned seen = 0;

    while (seen < n) {
        ck_assert_msg(poll(&pfd, 1, 30000) == 1, "only %u of %u writers "
                      "blocked in a write fault after 30 s", seen, n);
        if (read(guest->tracker.uffd, &msg, sizeof(msg)) == sizeof(msg) &&
            msg.event == UFFD_EVENT_PAGEFAULT)
            seen++;
    }
}

/*
 * A writer stuck in a write fault that nobody resolves (the uffd-sync
 * handler is gone) cannot park: pause fails within park_timeout_ms instead
 * of waiting for ever, the pause is undone, and destroy still returns.
 */
START_TEST(test_stuck_vcpu_fails_pause)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest = NULL;

    options.memory_bytes = 1 << 20;
    options.tracker = MIG_SIM_TRACKER_UFFD_SYNC;
    options.park_timeout_ms = 200;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_OK);
    /* stop the fault handler the way sim_tracker_fini() does */
    ck_assert_int_eq(write(guest->tracker.stop_pipe[1], "x", 1), 1);
    pthread_join(guest->tracker.handler, NULL);
    guest->tracker.handler_started = 0;

    ck_assert_int_eq(mig_sim_guest_start(guest), MIG_OK);
    await_blocked_writers(guest, 2);
    ck_assert_int_eq(mig_sim_guest_pause(guest), MIG_EIO);
    ck_assert_msg(strstr(mig_error_last(), "only 0 of 2 vCPUs parked within "
                         "200 ms"), "message: %s", mig_error_last());
    /* undone: there is no pause left to resume */
    ck_assert_int_eq(mig_sim_guest_resume(guest), MIG_EINVAL);
    mig_sim_guest_destroy(guest);          /* releases the blocked writers */
}
END_TEST

START_TEST(test_bad_arguments)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_harvest_options harvest = MIG_SIM_HARVEST_OPTIONS_INIT;
    struct mig_sim_guest *guest = NULL;
    struct mig_dirty_bitmap *wrong_size;
    const void *data;
    size_t length;
    uint64_t hash;

    options.memory_bytes = 4097;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "4097"));
    options.memory_bytes = 1 << 20;
    options.nr_vcpus = 0;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_EINVAL);
    options.nr_vcpus = 1;
    options.version = 99;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_EINVAL);
    ck_assert_ptr_null(guest);
    options.version = MIG_SIM_OPTIONS_VERSION;
    options.park_timeout_ms = 0;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "park timeout of 0 ms"));

    guest = new_guest(MIG_SIM_TRACKER_AUTO, MIG_SIM_PATTERN_UNIFORM, 1000);
    ck_assert_ptr_nonnull(guest);
    ck_assert_int_eq(mig_sim_guest_page(guest, mig_sim_guest_nr_pfns(guest),
                                        &data, &length), MIG_EINVAL);
    ck_assert_int_eq(mig_dirty_bitmap_create(5, &wrong_size), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_harvest(guest, &harvest, wrong_size, NULL),
                     MIG_EINVAL);
    ck_assert_int_eq(mig_sim_guest_resume(guest), MIG_EINVAL);
    ck_assert_int_eq(mig_sim_guest_start(guest), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_start(guest), MIG_EINVAL);
    ck_assert_int_eq(mig_sim_guest_hash(guest, &hash), MIG_EINVAL);
    ck_assert_int_eq(mig_sim_guest_vcpu_stats(guest, 2, NULL), MIG_EINVAL);
    /* nested pauses */
    ck_assert_int_eq(mig_sim_guest_pause(guest), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_pause(guest), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_resume(guest), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_hash(guest, &hash), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_resume(guest), MIG_OK);
    mig_dirty_bitmap_free(wrong_size);
    mig_sim_guest_destroy(guest);          /* stops the running writers */
}
END_TEST

int main(void)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest;
    int available[2], t, nr_trackers = 0, failed;
    Suite *s;
    TCase *tc;
    SRunner *sr;

#ifdef HAVE_VALGRIND_VALGRIND_H
    if (RUNNING_ON_VALGRIND) {
        /* its writers then starve the test thread for tens of minutes */
        fprintf(stderr, "test_sim: skipped under valgrind: valgrind does not "
                "implement userfaultfd (syscall 323), which every sim tracker "
                "is built on; make check runs this test under ASan/UBSan\n");
        return 77;
    }
#endif
    /* run the tests of each tracker that works on this kernel */
    options.memory_bytes = 1 << 20;
    for (t = 0; t < 2; t++) {
        options.tracker = all_trackers[t];
        available[t] = mig_sim_guest_create(&options, &guest) == MIG_OK;
        if (!available[t]) {
            /* TAP comment: the tests of this tracker are not run */
            printf("# tracker %s unavailable, its tests not run: %s\n",
                   all_tracker_names[t], mig_error_last());
            continue;
        }
        mig_sim_guest_destroy(guest);
        nr_trackers++;
    }
    if (nr_trackers == 0) {
        fprintf(stderr, "no userfaultfd write-protection here: %s\n",
                mig_error_last());
        return 77;
    }
    s = suite_create("sim");
    for (t = 0; t < 2; t++) {
        if (!available[t])
            continue;
        tc = tcase_create(all_tracker_names[t]);
        tcase_set_timeout(tc, 300);
        tcase_add_loop_test(tc, test_no_write_lost, 6 * t, 6 * t + 6);
        tcase_add_loop_test(tc, test_stop_stalls_every_vcpu_loose_none, t,
                            t + 1);
        tcase_add_loop_test(tc, test_reports_exactly_the_written_pages, t,
                            t + 1);
        if (all_trackers[t] == MIG_SIM_TRACKER_UFFD_SYNC)
            tcase_add_test(tc, test_stuck_vcpu_fails_pause);
        suite_add_tcase(s, tc);
    }
    tc = tcase_create("arguments");
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
