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
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "mig_clock.h"
#include "mig_dirty.h"
#include "mig_error.h"
#include "mig_sim.h"
#include "mig_sim_backend.h"
#include "sys/mig_backend.h"        /* the ops, to call throttle */
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

/* ---- fills ---------------------------------------------------------------- */

static struct mig_sim_guest *new_filled_guest(enum mig_sim_fill fill, uint64_t bytes,
                                              uint64_t seed)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest = NULL;

    options.memory_bytes = bytes;
    options.fill = fill;
    options.seed = seed;
    ck_assert_msg(mig_sim_guest_create(&options, &guest) == MIG_OK, "create: %s",
                  mig_error_last());
    return guest;
}

static const uint8_t *page_of(struct mig_sim_guest *guest, uint64_t pfn)
{
    const void *data;
    size_t length;

    ck_assert_int_eq(mig_sim_guest_page(guest, pfn, &data, &length), MIG_OK);
    return data;
}

static int is_zero_page(const uint8_t *page)
{
    static const uint8_t zero[MIG_PAGE_SIZE];

    return !memcmp(page, zero, MIG_PAGE_SIZE);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

START_TEST(test_fill_zero_is_the_default)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest;
    uint64_t pfn;

    ck_assert_int_eq(options.fill, MIG_SIM_FILL_ZERO);
    guest = new_filled_guest(options.fill, MEMORY_BYTES, 1);
    for (pfn = 0; pfn < mig_sim_guest_nr_pfns(guest); pfn++)
        ck_assert_msg(is_zero_page(page_of(guest, pfn)), "pfn %llu is not zero",
                      (unsigned long long)pfn);
    mig_sim_guest_destroy(guest);
}
END_TEST

/* No page zero, no two alike, every byte value about as frequent. */
START_TEST(test_fill_random_is_incompressible)
{
    struct mig_sim_guest *guest = new_filled_guest(MIG_SIM_FILL_RANDOM, MEMORY_BYTES, 1);
    uint64_t n = mig_sim_guest_nr_pfns(guest), pfn, *hashes, histogram[256] = { 0 };
    uint64_t expected = MEMORY_BYTES / 256;
    const uint8_t *page;
    unsigned i;

    hashes = calloc(n, sizeof(*hashes));
    ck_assert_ptr_nonnull(hashes);
    for (pfn = 0; pfn < n; pfn++) {
        page = page_of(guest, pfn);
        ck_assert(!is_zero_page(page));
        hashes[pfn] = XXH3_64bits(page, MIG_PAGE_SIZE);
        for (i = 0; i < MIG_PAGE_SIZE; i++)
            histogram[page[i]]++;
    }
    qsort(hashes, n, sizeof(*hashes), compare_u64);
    for (pfn = 1; pfn < n; pfn++)
        ck_assert_msg(hashes[pfn] != hashes[pfn - 1], "two random pages alike");
    /* 65536 expected per value, standard deviation 256: 5% is 12 of them */
    for (i = 0; i < 256; i++)
        ck_assert_msg(histogram[i] > expected * 95 / 100 &&
                      histogram[i] < expected * 105 / 100,
                      "byte 0x%02x: %llu times, expected about %llu", i,
                      (unsigned long long)histogram[i], (unsigned long long)expected);
    free(hashes);
    mig_sim_guest_destroy(guest);
}
END_TEST

enum page_kind { KIND_ZERO, KIND_TEXT, KIND_BINARY, KIND_ENTROPY };

/*
 * What a page looks like, from its bytes alone: text is printable ASCII
 * and newlines up to a zero tail; entropy has no byte value more than 48
 * times (16 expected, 4 the standard deviation); binary is the rest.
 */
static enum page_kind classify(const uint8_t *page)
{
    unsigned counts[256] = { 0 }, i, end = MIG_PAGE_SIZE, max = 0;

    if (is_zero_page(page))
        return KIND_ZERO;
    while (page[end - 1] == 0)
        end--;
    for (i = 0; i < end && (page[i] == '\n' || (page[i] >= 0x20 && page[i] < 0x7f)); i++)
        ;
    if (i == end)
        return KIND_TEXT;
    for (i = 0; i < MIG_PAGE_SIZE; i++)
        if (++counts[page[i]] > max)
            max = counts[page[i]];
    return max <= 48 ? KIND_ENTROPY : KIND_BINARY;
}

/* The documented shares within 2.5 points (0.55 is one standard deviation). */
START_TEST(test_fill_realistic_has_the_documented_shares)
{
    static const unsigned permille[] = {
        MIG_SIM_REALISTIC_ZERO_PERMILLE, MIG_SIM_REALISTIC_TEXT_PERMILLE,
        MIG_SIM_REALISTIC_BINARY_PERMILLE, MIG_SIM_REALISTIC_ENTROPY_PERMILLE,
    };
    static const char *const names[] = { "zero", "text", "binary", "entropy" };
    struct mig_sim_guest *guest = new_filled_guest(MIG_SIM_FILL_REALISTIC, 2 * MEMORY_BYTES, 1);
    uint64_t n = mig_sim_guest_nr_pfns(guest), pfn, counts[4] = { 0 };
    double share;
    unsigned k;

    ck_assert_uint_eq(permille[0] + permille[1] + permille[2] + permille[3], 1000);
    for (pfn = 0; pfn < n; pfn++)
        counts[classify(page_of(guest, pfn))]++;
    for (k = 0; k < 4; k++) {
        share = 1000.0 * counts[k] / n;
        printf("# realistic: %s pages %.1f per mille (documented %u)\n", names[k], share,
               permille[k]);
        ck_assert_msg(share > permille[k] - 25.0 && share < permille[k] + 25.0,
                      "%s pages: %.1f per mille, documented %u", names[k], share,
                      permille[k]);
    }
    mig_sim_guest_destroy(guest);
}
END_TEST

/*
 * A seed gives the same memory every time, whatever the guest's size (a
 * pfn's content depends on the seed and the pfn only); another seed other
 * memory.
 */
START_TEST(test_fill_realistic_is_deterministic)
{
    struct mig_sim_guest *a = new_filled_guest(MIG_SIM_FILL_REALISTIC, MEMORY_BYTES, 7);
    struct mig_sim_guest *b = new_filled_guest(MIG_SIM_FILL_REALISTIC, MEMORY_BYTES, 7);
    struct mig_sim_guest *larger = new_filled_guest(MIG_SIM_FILL_REALISTIC,
                                                    2 * MEMORY_BYTES, 7);
    struct mig_sim_guest *other = new_filled_guest(MIG_SIM_FILL_REALISTIC, MEMORY_BYTES, 8);
    uint64_t ha, hb, hother, pfn, same = 0;

    ck_assert_int_eq(mig_sim_guest_hash(a, &ha), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_hash(b, &hb), MIG_OK);
    ck_assert_int_eq(mig_sim_guest_hash(other, &hother), MIG_OK);
    ck_assert_uint_eq(ha, hb);
    ck_assert_uint_ne(ha, hother);
    for (pfn = 0; pfn < mig_sim_guest_nr_pfns(a); pfn++) {
        ck_assert(!memcmp(page_of(a, pfn), page_of(larger, pfn), MIG_PAGE_SIZE));
        same += !memcmp(page_of(a, pfn), page_of(other, pfn), MIG_PAGE_SIZE);
    }
    /* only pages that are zero under both seeds can be alike */
    ck_assert_uint_lt(same, mig_sim_guest_nr_pfns(a) * 3 / 10);
    mig_sim_guest_destroy(a);
    mig_sim_guest_destroy(b);
    mig_sim_guest_destroy(larger);
    mig_sim_guest_destroy(other);
}
END_TEST

/* Version 2 options have no fill: zero memory, whatever follows them. */
START_TEST(test_fill_options_versions)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest = NULL;

    options.memory_bytes = 1 << 20;
    options.fill = (enum mig_sim_fill)99;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_EINVAL);
    ck_assert_msg(strstr(mig_error_last(), "unknown fill 99"), "message: %s",
                  mig_error_last());
    ck_assert_ptr_null(guest);
    options.version = 2;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_OK);
    ck_assert(is_zero_page(page_of(guest, 0)));
    ck_assert(is_zero_page(page_of(guest, mig_sim_guest_nr_pfns(guest) - 1)));
    mig_sim_guest_destroy(guest);
    guest = NULL;
    options.version = 1;
    ck_assert_int_eq(mig_sim_guest_create(&options, &guest), MIG_EINVAL);
    ck_assert_msg(strstr(mig_error_last(), "version 1 is not 2 to 3"), "message: %s",
                  mig_error_last());
}
END_TEST

/* ---- throttle ------------------------------------------------------------- */

static void sum_stats(struct mig_sim_guest *guest, struct mig_sim_vcpu_stats *sum)
{
    struct mig_sim_vcpu_stats one;
    unsigned v;

    memset(sum, 0, sizeof(*sum));
    for (v = 0; v < 2; v++) {
        ck_assert_int_eq(mig_sim_guest_vcpu_stats(guest, v, &one), MIG_OK);
        sum->writes += one.writes;
        sum->throttle_count += one.throttle_count;
        sum->throttled_ns += one.throttled_ns;
    }
}

/* Until every vCPU has counted at least n throttled sleeps (30 s at most). */
static void await_throttled_sleeps(struct mig_sim_guest *guest, uint64_t n)
{
    struct mig_sim_vcpu_stats a, b;
    unsigned waited;

    for (waited = 0; waited < 30000; waited++) {
        mig_sim_guest_vcpu_stats(guest, 0, &a);
        mig_sim_guest_vcpu_stats(guest, 1, &b);
        if (a.throttle_count >= n && b.throttle_count >= n)
            return;
        sleep_briefly();
    }
    ck_abort_msg("throttled sleeps: %llu and %llu after 30 s, waited for %llu",
                 (unsigned long long)a.throttle_count,
                 (unsigned long long)b.throttle_count, (unsigned long long)n);
}

/* Until the vCPUs have written n more times than before (30 s at most). */
static void await_more_writes(struct mig_sim_guest *guest, uint64_t n)
{
    struct mig_sim_vcpu_stats before, now;
    unsigned waited;

    sum_stats(guest, &before);
    for (waited = 0; waited < 30000; waited++) {
        sum_stats(guest, &now);
        if (now.writes >= before.writes + n)
            return;
        sleep_briefly();
    }
    ck_abort_msg("%llu writes in 30 s, waited for %llu",
                 (unsigned long long)(now.writes - before.writes), (unsigned long long)n);
}

START_TEST(test_throttle_arguments)
{
    struct mig_sim_guest *guest = new_guest(MIG_SIM_TRACKER_AUTO, MIG_SIM_PATTERN_IDLE, 0);

    ck_assert_uint_eq(mig_sim_guest_throttle_percent(guest), 100);
    ck_assert_int_eq(mig_sim_guest_throttle(guest, 0), MIG_EINVAL);
    ck_assert_msg(strstr(mig_error_last(), "throttle to 0%"), "message: %s",
                  mig_error_last());
    ck_assert_int_eq(mig_sim_guest_throttle(guest, 101), MIG_EINVAL);
    ck_assert_msg(strstr(mig_error_last(), "throttle to 101%"), "message: %s",
                  mig_error_last());
    ck_assert_uint_eq(mig_sim_guest_throttle_percent(guest), 100);
    ck_assert_int_eq(mig_sim_guest_throttle(guest, 1), MIG_OK);
    ck_assert_uint_eq(mig_sim_guest_throttle_percent(guest), 1);
    ck_assert_int_eq(mig_sim_guest_throttle(guest, 100), MIG_OK);
    ck_assert_uint_eq(mig_sim_guest_throttle_percent(guest), 100);
    mig_sim_guest_destroy(guest);
}
END_TEST

/*
 * Decided by counters, not by timing: unthrottled writers never sleep for
 * the throttle; at 25 % they do, and a paced writer's schedule loses the
 * time slept (so its writes stay within rate * (elapsed - throttled)); back
 * at 100 the sleeps stop at once (at most the one under way per vCPU).
 */
START_TEST(test_throttle_duty_cycles_the_writers)
{
    const uint64_t rate = 20000;            /* per vCPU */
    struct mig_sim_guest *guest = new_guest(MIG_SIM_TRACKER_AUTO,
                                            MIG_SIM_PATTERN_UNIFORM, rate);
    struct mig_sim_vcpu_stats stats;
    uint64_t started, elapsed, throttled, sleeps;

    started = mig_clock_ns();
    ck_assert_int_eq(mig_sim_guest_start(guest), MIG_OK);
    await_more_writes(guest, 2000);
    sum_stats(guest, &stats);
    ck_assert_uint_eq(stats.throttle_count, 0);
    ck_assert_uint_eq(stats.throttled_ns, 0);

    ck_assert_int_eq(mig_sim_guest_throttle(guest, 25), MIG_OK);
    await_throttled_sleeps(guest, 20);
    sum_stats(guest, &stats);
    throttled = stats.throttled_ns;
    ck_assert_uint_gt(throttled, 0);
    sum_stats(guest, &stats);               /* writes after the throttled time */
    elapsed = mig_clock_ns() - started;
    printf("# throttle 25: %.0f%% of the vCPUs' time slept\n",
           100.0 * throttled / (2.0 * elapsed));
    ck_assert_msg(stats.writes <= 2 * (rate * (elapsed - throttled / 2) / 1000000000u + 2),
                  "%llu writes in %llu ns, %llu of it throttled (two vCPUs)",
                  (unsigned long long)stats.writes, (unsigned long long)elapsed,
                  (unsigned long long)throttled);

    ck_assert_int_eq(mig_sim_guest_throttle(guest, 100), MIG_OK);
    sum_stats(guest, &stats);
    sleeps = stats.throttle_count;
    await_more_writes(guest, 2000);
    sum_stats(guest, &stats);
    ck_assert_uint_le(stats.throttle_count, sleeps + 2);
    ck_assert_int_eq(mig_sim_guest_stop(guest), MIG_OK);
    mig_sim_guest_destroy(guest);
}
END_TEST

/* The backend's throttle op (sys/mig_backend.h) is the guest's throttle. */
START_TEST(test_throttle_through_the_backend)
{
    struct mig_sim_source source = { 0 };

    source.guest = new_guest(MIG_SIM_TRACKER_AUTO, MIG_SIM_PATTERN_IDLE, 0);
    source.nr_vcpus = 2;
    ck_assert_ptr_nonnull(mig_sim_source_ops.throttle);
    ck_assert_int_eq(mig_sim_source_ops.throttle(&source, 40), MIG_OK);
    ck_assert_uint_eq(mig_sim_guest_throttle_percent(source.guest), 40);
    ck_assert_int_eq(mig_sim_source_ops.throttle(&source, 0), MIG_EINVAL);
    ck_assert_uint_eq(mig_sim_guest_throttle_percent(source.guest), 40);
    ck_assert_int_eq(mig_sim_source_ops.throttle(&source, 100), MIG_OK);
    ck_assert_uint_eq(mig_sim_guest_throttle_percent(source.guest), 100);
    ck_assert_uint_eq(source.throttle_calls, 2);
    ck_assert_uint_eq(source.throttle_lowest, 40);
    mig_sim_guest_destroy(source.guest);
}
END_TEST

/*
 * The destination gives its guest memory by chunks of 2 MiB (512 pages) at
 * the first page written into each, as Xen populates a restored domain's
 * memory in batches; the last chunk, cut short by the guest's size, only as
 * far as the guest goes.  Huge pages are refused here so that only the
 * chunking can make the whole chunk resident.
 */
static unsigned int resident_pages(const uint8_t *memory, uint64_t first, uint64_t count)
{
    unsigned char vec[512];
    unsigned int n = 0;

    ck_assert_uint_le(count, sizeof(vec));
    ck_assert_int_eq(mincore((void *)(memory + first * 4096), count * 4096, vec), 0);
    for (uint64_t i = 0; i < count; i++)
        n += vec[i] & 1;
    return n;
}

START_TEST(test_destination_populates_by_chunk)
{
    struct mig_sim_destination d = { 0 };
    uint8_t page[4096], back[4096];
    unsigned int type = 0;
    void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
    bool populates;

    ck_assert_ptr_ne(probe, MAP_FAILED);
    populates = madvise(probe, 4096, MADV_POPULATE_WRITE) == 0;
    munmap(probe, 4096);
    memset(page, 0x5a, sizeof(page));
    ck_assert_int_eq(mig_sim_destination_ops.prepare(&d, 3 * 512 + 10), MIG_OK);
    ck_assert_int_eq(madvise(d.memory, (3 * 512 + 10) * 4096, MADV_NOHUGEPAGE), 0);
    ck_assert_uint_eq(resident_pages(d.memory, 512, 512), 0);
    ck_assert_int_eq(mig_sim_destination_ops.write_page(&d, NULL, 512 + 7, page, 0),
                     MIG_OK);
    ck_assert_int_eq(mig_sim_destination_ops.write_page(&d, NULL, 3 * 512 + 9, page, 0),
                     MIG_OK);
    if (populates) {
        ck_assert_uint_eq(resident_pages(d.memory, 512, 512), 512);
        ck_assert_uint_eq(resident_pages(d.memory, 3 * 512, 10), 10);
    } else {
        printf("# MADV_POPULATE_WRITE refused here: the pages came at their writes\n");
    }
    ck_assert_int_eq(mig_sim_destination_ops.read_page(&d, NULL, 512 + 7, back, &type),
                     MIG_OK);
    ck_assert_mem_eq(back, page, sizeof(page));
    ck_assert_int_eq(mig_sim_destination_ops.read_page(&d, NULL, 512 + 8, back, &type),
                     MIG_OK);
    memset(page, 0, sizeof(page));
    ck_assert_mem_eq(back, page, sizeof(page));
    mig_sim_destination_dispose(&d);
    ck_assert_ptr_null(d.populated);
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
    tc = tcase_create("fill");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_fill_zero_is_the_default);
    tcase_add_test(tc, test_fill_random_is_incompressible);
    tcase_add_test(tc, test_fill_realistic_has_the_documented_shares);
    tcase_add_test(tc, test_fill_realistic_is_deterministic);
    tcase_add_test(tc, test_fill_options_versions);
    suite_add_tcase(s, tc);
    tc = tcase_create("throttle");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_throttle_arguments);
    tcase_add_test(tc, test_throttle_duty_cycles_the_writers);
    tcase_add_test(tc, test_throttle_through_the_backend);
    suite_add_tcase(s, tc);
    tc = tcase_create("destination");
    tcase_add_test(tc, test_destination_populates_by_chunk);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
