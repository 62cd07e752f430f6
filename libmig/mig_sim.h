/*
 * mig_sim.h: a simulated guest for the xenmig engine (libmig/backend/sim).
 *
 * Guest memory is a real anonymous mapping; W "vCPU" threads write into it
 * with a selectable pattern.  Dirty tracking is done by the kernel, not by
 * the writers: userfaultfd write-protection, either asynchronous
 * (PAGEMAP_SCAN with PM_SCAN_WP_MATCHING on kernels >= 6.7, where the
 * kernel marks written pages and a scan harvests and re-protects them
 * atomically per page) or synchronous (a fault-handler thread records each
 * first write to a protected page and lifts the protection).
 *
 * Harvest modes:
 *   STOP   every harvest parks all vCPU threads, collects and re-arms the
 *          whole guest, then resumes them (like Xen 4.17's log-dirty CLEAN).
 *   LOOSE  harvest and re-arm chunk by chunk while the vCPUs keep running;
 *          only a vCPU writing to a page being re-armed waits.
 * Neither mode ever loses a write: a write that lands after a page was
 * re-armed is reported by a later harvest.
 *
 * Errors: negative MIG_E* codes with the message in mig_error_last().  When
 * the kernel offers no userfaultfd write-protection (or it is not permitted)
 * mig_sim_guest_create() fails with MIG_EUNSUPP.
 */
#ifndef XENMIG_MIG_SIM_H
#define XENMIG_MIG_SIM_H

#include <stddef.h>
#include <stdint.h>

#include <xentoollog.h>

#include "mig_dirty.h"
#include "mig_page.h"

struct mig_sim_guest;

enum mig_sim_pattern {
    MIG_SIM_PATTERN_UNIFORM,     /* uniformly random pfns over all memory */
    MIG_SIM_PATTERN_HOT_SET,     /* uniformly random pfns in the working set */
    MIG_SIM_PATTERN_SEQUENTIAL,  /* a sequential scan over all memory */
    MIG_SIM_PATTERN_IDLE,        /* no writes */
};

enum mig_sim_tracker {
    MIG_SIM_TRACKER_AUTO,         /* PAGEMAP_SCAN if it works, else SYNC */
    MIG_SIM_TRACKER_PAGEMAP_SCAN, /* async uffd-wp + PAGEMAP_SCAN only */
    MIG_SIM_TRACKER_UFFD_SYNC,    /* sync uffd-wp + fault-handler thread */
};

enum mig_sim_harvest_mode {
    MIG_SIM_HARVEST_STOP,
    MIG_SIM_HARVEST_LOOSE,
};

/*
 * What a guest's memory holds when it is created (before any write):
 *   ZERO       every page zero (flatters compression and zero-page skips)
 *   RANDOM     every byte from a seeded PRNG: no page compresses
 *   REALISTIC  a seeded mix of the four kinds of page below, chosen page by
 *              page, in the proportions MIG_SIM_REALISTIC_*_PERMILLE, which
 *              were chosen to match the compressibility of real memory
 *              (docs/benchmarks.md, "Sim guest memory"):
 *     zero     untouched or freed memory
 *     text     ASCII: log lines, key = value configuration, word runs (a
 *              quarter of them end early, in a zero tail)
 *     binary   structured data, one kind a page: small integers, page-
 *              table-like entries, pointer-like 8-byte values sharing
 *              their high bits, slab-like 64-byte records, nearly empty
 *              pages with a few values, x86-instruction-like bytes (the
 *              last two twice as often as each of the others)
 *     entropy  compressed or encrypted data: PRNG bytes
 * The content of a pfn depends only on the seed, the fill and the pfn, so
 * a seed gives the same memory whatever the guest's size or the machine.
 */
enum mig_sim_fill {
    MIG_SIM_FILL_ZERO,
    MIG_SIM_FILL_RANDOM,
    MIG_SIM_FILL_REALISTIC,
};
#define MIG_SIM_REALISTIC_ZERO_PERMILLE     450
#define MIG_SIM_REALISTIC_TEXT_PERMILLE     150
#define MIG_SIM_REALISTIC_BINARY_PERMILLE   385
#define MIG_SIM_REALISTIC_ENTROPY_PERMILLE  15

#define MIG_SIM_MAX_VCPUS 64

/* Options of mig_sim_guest_create(); start from MIG_SIM_OPTIONS_INIT. */
struct mig_sim_options {
    unsigned version;             /* MIG_SIM_OPTIONS_VERSION */
    uint64_t memory_bytes;        /* multiple of 4 KiB; default 1 GiB */
    unsigned nr_vcpus;            /* 1 .. MIG_SIM_MAX_VCPUS; default 2 */
    enum mig_sim_pattern pattern; /* default UNIFORM */
    uint64_t writes_per_second;   /* per vCPU; 0 = as fast as it can */
    uint64_t working_set_bytes;   /* HOT_SET only; default 64 MiB */
    uint64_t seed;                /* of the writers' pfn choice and the fill */
    uint64_t slow_write_ns;       /* a write taking longer is a stall; 50 us */
    enum mig_sim_tracker tracker; /* default AUTO */
    xentoollog_logger *logger;    /* NULL: no logging */
    unsigned park_timeout_ms;     /* a pause fails when a vCPU has not
                                     parked by then; default 20000 */
    /* version 3 */
    enum mig_sim_fill fill;       /* initial memory; default ZERO */
};
#define MIG_SIM_OPTIONS_VERSION 3
/* The oldest version still accepted: version 2 has no fill (ZERO). */
#define MIG_SIM_OPTIONS_VERSION_MIN 2
#define MIG_SIM_OPTIONS_INIT {                                  \
        .version = MIG_SIM_OPTIONS_VERSION,                     \
        .memory_bytes = UINT64_C(1) << 30,                      \
        .nr_vcpus = 2,                                          \
        .pattern = MIG_SIM_PATTERN_UNIFORM,                     \
        .writes_per_second = 0,                                 \
        .working_set_bytes = UINT64_C(64) << 20,                \
        .seed = 1,                                              \
        .slow_write_ns = 50000,                                 \
        .tracker = MIG_SIM_TRACKER_AUTO,                        \
        .logger = NULL,                                         \
        .park_timeout_ms = 20000,                               \
        .fill = MIG_SIM_FILL_ZERO,                              \
    }

/*
 * Create a guest: map and populate its memory, fill it as options->fill
 * says (in parallel, one thread per online CPU up to 8), arm dirty
 * tracking (nothing dirty yet: the fill is not a write of the guest).
 * The writers do not run until mig_sim_guest_start().  *out is owned by
 * the caller and released with mig_sim_guest_destroy().  options may be
 * of version MIG_SIM_OPTIONS_VERSION_MIN or later.  Errors: MIG_EINVAL
 * for bad options (quoted), MIG_ENOMEM, MIG_EUNSUPP when no userfaultfd
 * write-protection is usable (the message says which call failed and what
 * to check).
 */
int mig_sim_guest_create(const struct mig_sim_options *options,
                         struct mig_sim_guest **out);

/* Stop the writers, release everything; NULL is accepted. */
void mig_sim_guest_destroy(struct mig_sim_guest *guest);

/* "pagemap-scan" or "uffd-sync": the tracker in use; owned by libmig. */
const char *mig_sim_guest_tracker_name(const struct mig_sim_guest *guest);

/* Number of guest pfns (memory_bytes / 4 KiB). */
uint64_t mig_sim_guest_nr_pfns(const struct mig_sim_guest *guest);

/*
 * Start the vCPU threads / stop and join them.  start on a running guest
 * and stop on a stopped one return MIG_EINVAL.  Statistics survive stop.
 */
int mig_sim_guest_start(struct mig_sim_guest *guest);
int mig_sim_guest_stop(struct mig_sim_guest *guest);

/*
 * Pause parks every running vCPU thread and returns once all are parked;
 * resume lets them go.  Pauses nest: only the outermost pause parks and
 * only the matching resume releases.  Time parked counts as a stall of
 * each vCPU.  resume without pause returns MIG_EINVAL.  A pause that does
 * not see every vCPU park within park_timeout_ms (a writer stuck in a
 * fault nobody resolves) is undone
 * and returns MIG_EIO, naming how many parked.  Thread-safe against
 * the writers; call pause/resume/harvest from one controlling thread.
 */
int mig_sim_guest_pause(struct mig_sim_guest *guest);
int mig_sim_guest_resume(struct mig_sim_guest *guest);

#define MIG_SIM_THROTTLE_PERIOD_MS 10

/*
 * Throttle the vCPU writers (the convergence ladder's throttle rung, as a
 * CPU cap does to a Xen guest): in every period of
 * MIG_SIM_THROTTLE_PERIOD_MS each vCPU writes for at most percent % of it
 * and sleeps the rest, in sleeps of at most 1 ms that end at once on a
 * pause or stop request or when the throttle is lifted.  The time slept
 * is taken off a paced writer's schedule (writes_per_second) as parked
 * time is, so no burst catches up afterwards: its rate drops too.
 * percent 1..100; 100 (the default) is not throttled and puts the writers
 * back to full speed at their next write.  Set from any thread; takes
 * effect at each writer's next write; survives stop and start.  The
 * throttled sleeps are counted in struct mig_sim_vcpu_stats.  MIG_EINVAL
 * (quoting percent) outside 1..100, the throttle unchanged.
 */
int mig_sim_guest_throttle(struct mig_sim_guest *guest, unsigned percent);

/* The percent of the last successful mig_sim_guest_throttle(); 100 if none. */
unsigned mig_sim_guest_throttle_percent(const struct mig_sim_guest *guest);

/* Options of one harvest; start from MIG_SIM_HARVEST_OPTIONS_INIT. */
struct mig_sim_harvest_options {
    unsigned version;                /* MIG_SIM_HARVEST_OPTIONS_VERSION */
    enum mig_sim_harvest_mode mode;  /* default LOOSE */
    uint64_t chunk_pfns;             /* LOOSE: pfns per chunk; default 4096 */
};
#define MIG_SIM_HARVEST_OPTIONS_VERSION 1
#define MIG_SIM_HARVEST_OPTIONS_INIT {                          \
        .version = MIG_SIM_HARVEST_OPTIONS_VERSION,             \
        .mode = MIG_SIM_HARVEST_LOOSE,                          \
        .chunk_pfns = 4096,                                     \
    }

struct mig_sim_harvest_stats {
    uint64_t dirty_pfns;     /* pfns this harvest reported (and re-armed) */
    uint64_t chunks;         /* ranges scanned (1 for STOP) */
    uint64_t duration_ns;    /* wall time of the harvest */
    uint64_t paused_ns;      /* time the vCPUs were parked (0 for LOOSE) */
};

/*
 * Harvest the pfns written since the previous harvest (or creation) into
 * dst (OR: dst accumulates; clear it for a fresh set) and re-arm them.
 * dst must have mig_sim_guest_nr_pfns() pfns.  A page's content read after
 * its pfn was harvested includes every write reported by this harvest;
 * later writes are reported by a later harvest.  If stats is not NULL the
 * caller-owned *stats is filled on success.  Errors: MIG_EINVAL (bad
 * options or dst size), MIG_EIO (the kernel refused a scan or
 * re-protection; pfns reported before the failure are already in dst).
 */
int mig_sim_guest_harvest(struct mig_sim_guest *guest,
                          const struct mig_sim_harvest_options *options,
                          struct mig_dirty_bitmap *dst,
                          struct mig_sim_harvest_stats *stats);

/* Per-vCPU counters, filled into a caller-owned struct. */
struct mig_sim_vcpu_stats {
    uint64_t writes;            /* writes done */
    uint64_t pause_count;       /* times parked by pause / STOP harvests */
    uint64_t pause_total_ns;
    uint64_t pause_max_ns;
    uint64_t slow_write_count;  /* writes slower than slow_write_ns */
    uint64_t slow_write_total_ns;
    uint64_t slow_write_max_ns;
    uint64_t stall_total_ns;    /* pause_total_ns + slow_write_total_ns */
    uint64_t stall_max_ns;      /* max of the two maxima */
    uint64_t throttle_count;    /* sleeps of mig_sim_guest_throttle() */
    uint64_t throttled_ns;      /* time in them (not a stall: asked for) */
};

/*
 * Read vCPU vcpu's counters into *stats.  Safe while writers run (each
 * counter is read atomically, not the set as a whole).  MIG_EINVAL for a
 * vcpu out of range.
 */
int mig_sim_guest_vcpu_stats(const struct mig_sim_guest *guest, unsigned vcpu,
                             struct mig_sim_vcpu_stats *stats);

/*
 * xxh3-64 of the whole guest memory into *hash.  Only while the writers are
 * paused or stopped (MIG_EINVAL otherwise), so that the hash is of one
 * consistent state.
 */
int mig_sim_guest_hash(const struct mig_sim_guest *guest, uint64_t *hash);

/*
 * The memory of pfn: *data points at its MIG_PAGE_SIZE bytes, *length
 * is MIG_PAGE_SIZE.  The memory stays owned by the guest, valid until
 * mig_sim_guest_destroy(), read-only for the caller, and changes under the
 * reader while writers run.  MIG_EINVAL for a pfn out of range.
 */
int mig_sim_guest_page(const struct mig_sim_guest *guest, uint64_t pfn,
                       const void **data, size_t *length);

#endif /* XENMIG_MIG_SIM_H */
