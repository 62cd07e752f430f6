/*
 * guest.c: the simulated guest (see mig_sim.h): its memory mapping, the
 * vCPU writer threads with their stall accounting, pause/resume, and the
 * STOP and LOOSE harvests built on the kernel tracker of tracker.c.
 *
 * What it must never do: record dirtiness itself (writers only write; the
 * kernel reports what was written), let a writer run while the guest is
 * reported paused, or hash memory that writers may be changing.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <xxhash.h>

#include "mig_clock.h"
#include "mig_error.h"
#include "sim_private.h"
#include "util/host.h"

#define MAX_SLEEP_NS 1000000     /* writers sleep in slices of at most 1 ms */
#define THROTTLE_PERIOD_NS (MIG_SIM_THROTTLE_PERIOD_MS * UINT64_C(1000000))

static const char *const fill_names[] = { "zero", "random", "realistic" };

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ns / 1000000000u),
        .tv_nsec = (long)(ns % 1000000000u),
    };

    nanosleep(&ts, NULL);
}

static void add_stat(uint64_t *count, uint64_t *total, uint64_t *max,
                     uint64_t ns)
{
    __atomic_store_n(count, *count + 1, __ATOMIC_RELAXED);
    __atomic_store_n(total, *total + ns, __ATOMIC_RELAXED);
    if (ns > *max)
        __atomic_store_n(max, ns, __ATOMIC_RELAXED);
}

/*
 * Park until the pause is lifted (or stop is requested); returns the time
 * spent parked.  The pause statistics are kept by the resumer (see
 * account_parked()), so they are complete when resume returns.
 */
static uint64_t vcpu_park(struct sim_vcpu *vcpu)
{
    struct mig_sim_guest *guest = vcpu->guest;
    uint64_t start = mig_clock_ns(), generation;

    pthread_mutex_lock(&guest->lock);
    if (!__atomic_load_n(&guest->pause_requested, __ATOMIC_ACQUIRE)) {
        /* the pause was lifted (or undone) before this vCPU got here */
        pthread_mutex_unlock(&guest->lock);
        return 0;
    }
    generation = guest->resume_generation;
    vcpu->parked_since = start;
    guest->nr_parked++;
    pthread_cond_broadcast(&guest->parked_cond);
    /* wait for the resume of this pause; the resumer un-counts us, so a
     * pause that follows at once waits for us to park again */
    while (generation == guest->resume_generation &&
           !__atomic_load_n(&guest->stop_requested, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&guest->resume_cond, &guest->lock);
    pthread_mutex_unlock(&guest->lock);
    return mig_clock_ns() - start;
}

/* With guest->lock held: close the park of every parked vCPU. */
static void account_parked(struct mig_sim_guest *guest)
{
    uint64_t now = mig_clock_ns();
    struct sim_vcpu *vcpu;
    unsigned i;

    for (i = 0; i < guest->options.nr_vcpus; i++) {
        vcpu = &guest->vcpus[i];
        if (!vcpu->parked_since)
            continue;
        add_stat(&vcpu->pause_count, &vcpu->pause_total_ns,
                 &vcpu->pause_max_ns, now - vcpu->parked_since);
        vcpu->parked_since = 0;
    }
}

static uint64_t vcpu_next_pfn(struct sim_vcpu *vcpu)
{
    const struct mig_sim_options *options = &vcpu->guest->options;
    uint64_t nr_pfns = vcpu->guest->nr_pfns, hot_pfns;

    switch (options->pattern) {
    case MIG_SIM_PATTERN_HOT_SET:
        hot_pfns = options->working_set_bytes / MIG_PAGE_SIZE;
        if (hot_pfns == 0 || hot_pfns > nr_pfns)
            hot_pfns = nr_pfns;
        return sim_random_next(&vcpu->random_state) % hot_pfns;
    case MIG_SIM_PATTERN_SEQUENTIAL:
        vcpu->cursor = (vcpu->cursor + 1) % nr_pfns;
        return vcpu->cursor;
    default:
        return sim_random_next(&vcpu->random_state) % nr_pfns;
    }
}

/*
 * Sleep until deadline in slices of at most MAX_SLEEP_NS; a pause or stop
 * request, or with while_throttled the throttle being lifted, ends the
 * sleep early.  Returns the time slept.
 */
static uint64_t vcpu_sleep_until(struct mig_sim_guest *guest, uint64_t deadline,
                                 int while_throttled)
{
    uint64_t start = mig_clock_ns(), now = start;

    while (now < deadline &&
           !__atomic_load_n(&guest->pause_requested, __ATOMIC_ACQUIRE) &&
           !__atomic_load_n(&guest->stop_requested, __ATOMIC_ACQUIRE) &&
           !(while_throttled &&
             __atomic_load_n(&guest->throttle_percent, __ATOMIC_RELAXED) >= 100)) {
        sleep_ns(deadline - now < MAX_SLEEP_NS ? deadline - now : MAX_SLEEP_NS);
        now = mig_clock_ns();
    }
    return now - start;
}

/*
 * The duty cycle of mig_sim_guest_throttle(): a period starts at this
 * vCPU's first write after the last throttled sleep (*period_start, 0
 * when none has started); once percent % of THROTTLE_PERIOD_NS has gone
 * by, the vCPU sleeps out the period.  Returns the time slept.
 */
static uint64_t vcpu_throttle(struct sim_vcpu *vcpu, uint64_t *period_start)
{
    struct mig_sim_guest *guest = vcpu->guest;
    unsigned percent = __atomic_load_n(&guest->throttle_percent,
                                       __ATOMIC_RELAXED);
    uint64_t now, end, slept;

    if (percent >= 100) {
        *period_start = 0;
        return 0;
    }
    now = mig_clock_ns();
    end = *period_start + THROTTLE_PERIOD_NS;
    if (!*period_start || now >= end) {
        *period_start = now;                 /* a period begins */
        return 0;
    }
    if (now - *period_start < THROTTLE_PERIOD_NS / 100 * percent)
        return 0;                            /* within its share */
    slept = vcpu_sleep_until(guest, end, 1);
    __atomic_store_n(&vcpu->throttle_count, vcpu->throttle_count + 1,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&vcpu->throttled_ns, vcpu->throttled_ns + slept,
                     __ATOMIC_RELAXED);
    *period_start = 0;
    return slept;
}

static void *vcpu_main(void *opaque)
{
    struct sim_vcpu *vcpu = opaque;
    struct mig_sim_guest *guest = vcpu->guest;
    const struct mig_sim_options *options = &guest->options;
    uint64_t seq = 0, pfn, value, offset, before, took, paced_from, period = 0;
    uint64_t *word;

    paced_from = mig_clock_ns();
    for (;;) {
        /* no catch-up burst after a throttled sleep or a park */
        paced_from += vcpu_throttle(vcpu, &period);
        if (__atomic_load_n(&guest->pause_requested, __ATOMIC_ACQUIRE))
            paced_from += vcpu_park(vcpu);
        if (__atomic_load_n(&guest->stop_requested, __ATOMIC_ACQUIRE))
            break;
        if (options->pattern == MIG_SIM_PATTERN_IDLE) {
            sleep_ns(MAX_SLEEP_NS);
            continue;
        }
        pfn = vcpu_next_pfn(vcpu);
        value = sim_random_next(&vcpu->random_state);
        offset = (value >> 32) % (MIG_PAGE_SIZE / sizeof(uint64_t));
        word = (uint64_t *)(guest->memory + pfn * MIG_PAGE_SIZE) + offset;
        seq++;
        before = mig_clock_ns();
        /* vCPU index + sequence: every write changes the page */
        __atomic_store_n(word, ((uint64_t)vcpu->index << 56) | seq,
                         __ATOMIC_RELAXED);
        took = mig_clock_ns() - before;
        __atomic_store_n(&vcpu->writes, seq, __ATOMIC_RELAXED);
        if (took > options->slow_write_ns)
            add_stat(&vcpu->slow_write_count, &vcpu->slow_write_total_ns,
                     &vcpu->slow_write_max_ns, took);
        if (options->writes_per_second)
            vcpu_sleep_until(guest, paced_from + seq * 1000000000u /
                             options->writes_per_second, 0);
    }
    return NULL;
}

static int check_options(const struct mig_sim_options *options)
{
    if (!options || options->version < MIG_SIM_OPTIONS_VERSION_MIN ||
        options->version > MIG_SIM_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "sim guest: options version %u is "
                             "not %d to %d: initialise with "
                             "MIG_SIM_OPTIONS_INIT",
                             options ? options->version : 0,
                             MIG_SIM_OPTIONS_VERSION_MIN,
                             MIG_SIM_OPTIONS_VERSION);
    if (options->memory_bytes == 0 ||
        options->memory_bytes % MIG_PAGE_SIZE ||
        options->memory_bytes / MIG_PAGE_SIZE > MIG_DIRTY_MAX_PFNS)
        return mig_error_set(MIG_EINVAL, "sim guest: memory size %" PRIu64
                             " bytes: give a whole number of %d-byte pages, from 1 "
                             "to %llu", options->memory_bytes, MIG_PAGE_SIZE,
                             (unsigned long long)MIG_DIRTY_MAX_PFNS);
    if (options->memory_bytes > mig_host_memory_bytes())
        return mig_error_set(MIG_ENOMEM, "sim guest: %" PRIu64 " MiB of memory asked, "
                             "this host has %" PRIu64 " MiB: give a smaller size",
                             options->memory_bytes >> 20, mig_host_memory_bytes() >> 20);
    if (options->park_timeout_ms == 0)
        return mig_error_set(MIG_EINVAL, "sim guest: a park timeout of 0 ms: "
                             "give at least 1");
    if (options->nr_vcpus == 0 || options->nr_vcpus > MIG_SIM_MAX_VCPUS)
        return mig_error_set(MIG_EINVAL, "sim guest: %u vCPUs: give 1 to %d",
                             options->nr_vcpus, MIG_SIM_MAX_VCPUS);
    if ((unsigned)options->pattern > MIG_SIM_PATTERN_IDLE)
        return mig_error_set(MIG_EINVAL, "sim guest: unknown write pattern "
                             "%d", (int)options->pattern);
    if ((unsigned)options->tracker > MIG_SIM_TRACKER_UFFD_SYNC)
        return mig_error_set(MIG_EINVAL, "sim guest: unknown tracker %d",
                             (int)options->tracker);
    if (options->version >= 3 &&
        (unsigned)options->fill > MIG_SIM_FILL_REALISTIC)
        return mig_error_set(MIG_EINVAL, "sim guest: unknown fill %d: give "
                             "MIG_SIM_FILL_ZERO, _RANDOM or _REALISTIC",
                             (int)options->fill);
    return MIG_OK;
}

/*
 * The caller's options as this version's struct: an older caller's struct
 * ends before the fields it does not know, which keep their defaults.
 */
static void copy_options(struct mig_sim_options *dst,
                         const struct mig_sim_options *src)
{
    if (src->version >= 3) {
        *dst = *src;
        return;
    }
    memcpy(dst, src, offsetof(struct mig_sim_options, fill));
    dst->fill = MIG_SIM_FILL_ZERO;
}

int mig_sim_guest_create(const struct mig_sim_options *options,
                         struct mig_sim_guest **out)
{
    struct mig_sim_guest *guest = NULL;
    unsigned i;
    int rc;

    rc = check_options(options);
    if (rc)
        goto out;
    guest = calloc(1, sizeof(*guest));
    if (!guest) {
        rc = mig_error_set(MIG_ENOMEM, "sim guest: out of memory");
        goto out;
    }
    copy_options(&guest->options, options);
    guest->memory_bytes = options->memory_bytes;
    guest->nr_pfns = options->memory_bytes / MIG_PAGE_SIZE;
    guest->throttle_percent = 100;
    guest->tracker.uffd = -1;
    guest->tracker.pagemap_fd = -1;
    guest->tracker.stop_pipe[0] = guest->tracker.stop_pipe[1] = -1;
    pthread_mutex_init(&guest->lock, NULL);
    mig_clock_cond_init(&guest->parked_cond);
    pthread_cond_init(&guest->resume_cond, NULL);

    guest->vcpus = calloc(options->nr_vcpus, sizeof(*guest->vcpus));
    if (!guest->vcpus) {
        rc = mig_error_set(MIG_ENOMEM, "sim guest: out of memory");
        goto out;
    }
    for (i = 0; i < options->nr_vcpus; i++) {
        guest->vcpus[i].guest = guest;
        guest->vcpus[i].index = i;
        guest->vcpus[i].random_state = options->seed * 1000003u + i;
        guest->vcpus[i].cursor = guest->nr_pfns / options->nr_vcpus * i;
    }

    guest->memory = mmap(NULL, guest->memory_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (guest->memory == MAP_FAILED) {
        guest->memory = NULL;
        rc = mig_error_set_errno(MIG_ENOMEM, errno, "sim guest: mmap of %"
                                 PRIu64 " bytes", guest->memory_bytes);
        goto out;
    }
    /* 4 KiB pages only: write-protection and the scan work per page */
    madvise(guest->memory, guest->memory_bytes, MADV_NOHUGEPAGE);
    if (madvise(guest->memory, guest->memory_bytes, MADV_POPULATE_WRITE))
        memset(guest->memory, 0, guest->memory_bytes);
    sim_fill_memory(guest);                  /* before tracking is armed */

    rc = sim_tracker_init(guest);
    if (rc)
        goto out;
    if (options->logger)
        xtl_log(options->logger, XTL_INFO, -1, "xenmig-sim",
                "guest of %" PRIu64 " MiB, %u vCPUs, %s memory, dirty "
                "tracking by %s", guest->memory_bytes >> 20,
                options->nr_vcpus, fill_names[guest->options.fill],
                mig_sim_guest_tracker_name(guest));
    *out = guest;
    guest = NULL;
    rc = MIG_OK;
 out:
    mig_sim_guest_destroy(guest);
    return rc;
}

void mig_sim_guest_destroy(struct mig_sim_guest *guest)
{
    if (!guest)
        return;
    if (guest->running)
        __atomic_store_n(&guest->stop_requested, 1, __ATOMIC_RELEASE);
    /* the tracker goes first: closing its uffd wakes a writer blocked in a
     * write fault that no handler resolves any more, so the join in stop
     * cannot hang */
    sim_tracker_fini(guest);
    if (guest->running)
        mig_sim_guest_stop(guest);
    if (guest->memory)
        munmap(guest->memory, guest->memory_bytes);
    free(guest->vcpus);
    pthread_cond_destroy(&guest->resume_cond);
    pthread_cond_destroy(&guest->parked_cond);
    pthread_mutex_destroy(&guest->lock);
    free(guest);
}

const char *mig_sim_guest_tracker_name(const struct mig_sim_guest *guest)
{
    return guest->tracker.kind == MIG_SIM_TRACKER_PAGEMAP_SCAN
           ? "pagemap-scan" : "uffd-sync";
}

uint64_t mig_sim_guest_nr_pfns(const struct mig_sim_guest *guest)
{
    return guest->nr_pfns;
}

int mig_sim_guest_start(struct mig_sim_guest *guest)
{
    unsigned i, started;
    int rc;

    if (guest->running)
        return mig_error_set(MIG_EINVAL, "sim guest: writers already running");
    __atomic_store_n(&guest->stop_requested, 0, __ATOMIC_RELEASE);
    for (started = 0; started < guest->options.nr_vcpus; started++) {
        rc = pthread_create(&guest->vcpus[started].thread, NULL, vcpu_main,
                            &guest->vcpus[started]);
        if (rc)
            break;
    }
    if (started < guest->options.nr_vcpus) {
        __atomic_store_n(&guest->stop_requested, 1, __ATOMIC_RELEASE);
        pthread_mutex_lock(&guest->lock);
        pthread_cond_broadcast(&guest->resume_cond);
        pthread_mutex_unlock(&guest->lock);
        for (i = 0; i < started; i++)
            pthread_join(guest->vcpus[i].thread, NULL);
        return mig_error_set_errno(MIG_ENOMEM, rc, "sim guest: starting vCPU "
                                   "thread %u", started);
    }
    guest->running = 1;
    return MIG_OK;
}

int mig_sim_guest_stop(struct mig_sim_guest *guest)
{
    unsigned i;

    if (!guest->running)
        return mig_error_set(MIG_EINVAL, "sim guest: writers are not running");
    __atomic_store_n(&guest->stop_requested, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&guest->lock);
    account_parked(guest);
    pthread_cond_broadcast(&guest->resume_cond);
    pthread_mutex_unlock(&guest->lock);
    for (i = 0; i < guest->options.nr_vcpus; i++)
        pthread_join(guest->vcpus[i].thread, NULL);
    guest->running = 0;
    pthread_mutex_lock(&guest->lock);
    guest->nr_parked = 0;
    pthread_mutex_unlock(&guest->lock);
    return MIG_OK;
}

/* With guest->lock held: let every parked vCPU go (ends a pause). */
static void release_parked(struct mig_sim_guest *guest)
{
    __atomic_store_n(&guest->pause_requested, 0, __ATOMIC_RELEASE);
    account_parked(guest);
    guest->nr_parked = 0;
    guest->resume_generation++;
    pthread_cond_broadcast(&guest->resume_cond);
}

int mig_sim_guest_pause(struct mig_sim_guest *guest)
{
    struct timespec deadline;
    int rc = MIG_OK, waited = 0;

    /* a vCPU that has not parked by then is stuck (in a write fault that
     * nobody resolves, or starved): the pause fails */
    mig_clock_deadline(&deadline, (long)guest->options.park_timeout_ms);
    pthread_mutex_lock(&guest->lock);
    if (guest->pause_depth++ == 0) {
        __atomic_store_n(&guest->pause_requested, 1, __ATOMIC_RELEASE);
        while (guest->running && guest->nr_parked < guest->options.nr_vcpus &&
               waited != ETIMEDOUT)
            waited = pthread_cond_timedwait(&guest->parked_cond, &guest->lock,
                                            &deadline);
        if (guest->running && guest->nr_parked < guest->options.nr_vcpus) {
            rc = mig_error_set(MIG_EIO, "sim guest: only %u of %u vCPUs "
                               "parked within %u ms of a pause request; the "
                               "others are stuck (in a write fault?): the "
                               "pause is undone", guest->nr_parked,
                               guest->options.nr_vcpus,
                               guest->options.park_timeout_ms);
            guest->pause_depth--;
            release_parked(guest);
        }
    }
    pthread_mutex_unlock(&guest->lock);
    return rc;
}

int mig_sim_guest_resume(struct mig_sim_guest *guest)
{
    int rc;

    pthread_mutex_lock(&guest->lock);
    if (guest->pause_depth == 0) {
        rc = mig_error_set(MIG_EINVAL, "sim guest: resume without a pause");
        goto out;
    }
    if (--guest->pause_depth == 0)
        release_parked(guest);
    rc = MIG_OK;
 out:
    pthread_mutex_unlock(&guest->lock);
    return rc;
}

int mig_sim_guest_throttle(struct mig_sim_guest *guest, unsigned percent)
{
    if (percent < 1 || percent > 100)
        return mig_error_set(MIG_EINVAL, "sim guest: throttle to %u%%: give "
                             "1 to 100 (100: not throttled)", percent);
    __atomic_store_n(&guest->throttle_percent, percent, __ATOMIC_RELAXED);
    if (guest->options.logger)
        xtl_log(guest->options.logger, XTL_DEBUG, -1, "xenmig-sim",
                "vCPUs throttled to %u%% of every %d ms", percent,
                MIG_SIM_THROTTLE_PERIOD_MS);
    return MIG_OK;
}

unsigned mig_sim_guest_throttle_percent(const struct mig_sim_guest *guest)
{
    return __atomic_load_n(&guest->throttle_percent, __ATOMIC_RELAXED);
}

int mig_sim_guest_harvest(struct mig_sim_guest *guest,
                          const struct mig_sim_harvest_options *options,
                          struct mig_dirty_bitmap *dst,
                          struct mig_sim_harvest_stats *stats)
{
    struct mig_sim_harvest_stats local = { 0 };
    uint64_t start = mig_clock_ns(), paused_at = 0, pfn, count;
    int rc;

    if (!options || options->version != MIG_SIM_HARVEST_OPTIONS_VERSION) {
        rc = mig_error_set(MIG_EINVAL, "sim harvest: options version %u is "
                           "not %d: initialise with "
                           "MIG_SIM_HARVEST_OPTIONS_INIT",
                           options ? options->version : 0,
                           MIG_SIM_HARVEST_OPTIONS_VERSION);
        goto out;
    }
    if (mig_dirty_bitmap_nr_pfns(dst) != guest->nr_pfns) {
        rc = mig_error_set(MIG_EINVAL, "sim harvest: bitmap of %" PRIu64
                           " pfns for a guest of %" PRIu64 " pfns",
                           mig_dirty_bitmap_nr_pfns(dst), guest->nr_pfns);
        goto out;
    }
    switch (options->mode) {
    case MIG_SIM_HARVEST_STOP:
        rc = mig_sim_guest_pause(guest);
        if (rc)
            goto out;
        paused_at = mig_clock_ns();
        rc = sim_tracker_harvest_range(guest, 0, guest->nr_pfns, dst,
                                       &local.dirty_pfns);
        local.chunks = 1;
        local.paused_ns = mig_clock_ns() - paused_at;
        mig_sim_guest_resume(guest);
        break;
    case MIG_SIM_HARVEST_LOOSE:
        if (options->chunk_pfns == 0) {
            rc = mig_error_set(MIG_EINVAL, "sim harvest: chunk of 0 pfns: "
                               "give at least 1");
            goto out;
        }
        rc = MIG_OK;
        for (pfn = 0; pfn < guest->nr_pfns && !rc; pfn += count) {
            count = guest->nr_pfns - pfn < options->chunk_pfns
                    ? guest->nr_pfns - pfn : options->chunk_pfns;
            rc = sim_tracker_harvest_range(guest, pfn, count, dst,
                                           &local.dirty_pfns);
            local.chunks++;
        }
        break;
    default:
        rc = mig_error_set(MIG_EINVAL, "sim harvest: unknown mode %d",
                           (int)options->mode);
        break;
    }
    if (rc)
        goto out;
    local.duration_ns = mig_clock_ns() - start;
    if (stats)
        *stats = local;
 out:
    return rc;
}

int mig_sim_guest_vcpu_stats(const struct mig_sim_guest *guest, unsigned vcpu,
                             struct mig_sim_vcpu_stats *stats)
{
    const struct sim_vcpu *v;

    if (vcpu >= guest->options.nr_vcpus)
        return mig_error_set(MIG_EINVAL, "sim guest: vCPU %u does not exist "
                             "(the guest has %u)", vcpu,
                             guest->options.nr_vcpus);
    v = &guest->vcpus[vcpu];
    stats->writes = __atomic_load_n(&v->writes, __ATOMIC_RELAXED);
    stats->pause_count = __atomic_load_n(&v->pause_count, __ATOMIC_RELAXED);
    stats->pause_total_ns = __atomic_load_n(&v->pause_total_ns,
                                            __ATOMIC_RELAXED);
    stats->pause_max_ns = __atomic_load_n(&v->pause_max_ns, __ATOMIC_RELAXED);
    stats->slow_write_count = __atomic_load_n(&v->slow_write_count,
                                              __ATOMIC_RELAXED);
    stats->slow_write_total_ns = __atomic_load_n(&v->slow_write_total_ns,
                                                 __ATOMIC_RELAXED);
    stats->slow_write_max_ns = __atomic_load_n(&v->slow_write_max_ns,
                                               __ATOMIC_RELAXED);
    stats->throttle_count = __atomic_load_n(&v->throttle_count,
                                            __ATOMIC_RELAXED);
    stats->throttled_ns = __atomic_load_n(&v->throttled_ns, __ATOMIC_RELAXED);
    stats->stall_total_ns = stats->pause_total_ns + stats->slow_write_total_ns;
    stats->stall_max_ns = stats->pause_max_ns > stats->slow_write_max_ns
                          ? stats->pause_max_ns : stats->slow_write_max_ns;
    return MIG_OK;
}

int mig_sim_guest_hash(const struct mig_sim_guest *guest, uint64_t *hash)
{
    if (guest->running && guest->pause_depth == 0)
        return mig_error_set(MIG_EINVAL, "sim guest: hash of a running guest "
                             "would be of no single state: pause it first");
    *hash = XXH3_64bits(guest->memory, guest->memory_bytes);
    return MIG_OK;
}

int mig_sim_guest_page(const struct mig_sim_guest *guest, uint64_t pfn,
                       const void **data, size_t *length)
{
    if (pfn >= guest->nr_pfns)
        return mig_error_set(MIG_EINVAL, "sim guest: pfn %" PRIu64 " is "
                             "outside the guest of %" PRIu64 " pfns", pfn,
                             guest->nr_pfns);
    *data = guest->memory + pfn * MIG_PAGE_SIZE;
    *length = MIG_PAGE_SIZE;
    return MIG_OK;
}
