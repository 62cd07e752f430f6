/*
 * sim_backend.c: the simulated guest (mig_sim.h) behind the engine's
 * backend tables (sys/mig_backend.h), source and destination side.
 *
 * Source: a running mig_sim_guest whose writes are tracked by the kernel
 * (userfaultfd write-protect); harvests map to mig_sim_guest_harvest in
 * STOP or LOOSE mode.  Destination: plain anonymous memory of the size the
 * source announces, hashed the same way (mig_page_hash, per page).
 * This file must never track writes itself: that is the kernel's job.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "mig_migrate.h"
#include "mig_xfer.h"
#include "mig_sim_backend.h"
#include "sys/mig_backend.h"
#include "util/file.h"
#include "util/io.h"
#include "util/le.h"

/* The destination populates its memory by chunks of 2 MiB (populate_chunk). */
#define CHUNK_PAGES 512

/*
 * The digest terms of pfns [first, first + count) of memory, which holds
 * nr_pfns pages (sys/mig_backend.h); whose names the memory in errors.
 */
static int digest_of_pages(const uint8_t *memory, uint64_t nr_pfns, const char *whose,
                           uint64_t first, uint64_t count, const atomic_bool *cancel,
                           uint64_t *sum_out)
{
    uint64_t sum = 0;

    if (count > nr_pfns || first > nr_pfns - count)
        return mig_error_set(MIG_EINVAL, "pfns %" PRIu64 "+%" PRIu64 " are beyond the "
                             "%s %" PRIu64, first, count, whose, nr_pfns);

    for (uint64_t p = first; p < first + count; p++) {
        if ((p - first) % 1024 == 0 && cancel && atomic_load(cancel))
            return mig_error_set(MIG_ECANCELLED, "memory hash cancelled at page %" PRIu64,
                                 p);
        sum += mig_memory_digest_term(p, mig_page_hash(memory + p * MIG_PAGE_SIZE));
    }
    *sum_out = sum;
    return 0;
}

/* ---- source ----------------------------------------------------------- */

static uint64_t src_nr_pfns(void *b)
{
    return mig_sim_guest_nr_pfns(((struct mig_sim_source *)b)->guest);
}

static int src_read_page(void *b, struct mig_stream_ctx *st, uint64_t pfn, void *buf,
                         unsigned int *type_out)
{
    const void *data;
    size_t len;
    int rc = mig_sim_guest_page(((struct mig_sim_source *)b)->guest, pfn, &data, &len);

    if (!rc)
        memcpy(buf, data, len);
    return rc;
}

static int src_log_dirty_enable(void *b)
{
    struct mig_sim_source *s = b;
    struct mig_sim_harvest_options ho = MIG_SIM_HARVEST_OPTIONS_INIT;
    struct mig_dirty_bitmap *scratch = NULL;
    int rc;

    /* Tracking is always armed in a sim guest: drop what it saw so far. */
    rc = mig_dirty_bitmap_create(mig_sim_guest_nr_pfns(s->guest), &scratch);
    if (!rc)
        rc = mig_sim_guest_harvest(s->guest, &ho, scratch, NULL);
    mig_dirty_bitmap_free(scratch);
    return rc;
}

static int src_log_dirty_disable(void *b)
{
    return 0;
}

static int src_harvest(void *b, enum mig_trace_mode mode, struct mig_dirty_bitmap *dst,
                       struct mig_harvest_stats *stats)
{
    struct mig_sim_source *s = b;
    struct mig_sim_harvest_options ho = MIG_SIM_HARVEST_OPTIONS_INIT;
    struct mig_sim_harvest_stats hs = { 0 };
    int rc;

    ho.mode = mode == MIG_TRACE_STOP ? MIG_SIM_HARVEST_STOP : MIG_SIM_HARVEST_LOOSE;
    if (s->loose_chunk_pfns)
        ho.chunk_pfns = s->loose_chunk_pfns;
    rc = mig_sim_guest_harvest(s->guest, &ho, dst, &hs);
    if (rc)
        return rc;
    stats->pages = hs.dirty_pfns;
    stats->pause_seconds = hs.paused_ns / 1e9;
    s->harvests++;
    s->harvest_paused_ns += hs.paused_ns;
    return 0;
}

static int src_pause(void *b)
{
    return mig_sim_guest_pause(((struct mig_sim_source *)b)->guest);
}

static int src_resume(void *b)
{
    return mig_sim_guest_resume(((struct mig_sim_source *)b)->guest);
}

/* The ladder's throttle rung: duty-cycle the writers (mig_sim_guest_throttle). */
static int src_throttle(void *b, unsigned int percent)
{
    struct mig_sim_source *s = b;
    int rc = mig_sim_guest_throttle(s->guest, percent);

    if (rc)
        return rc;
    s->throttle_calls++;
    if (!s->throttle_lowest || percent < s->throttle_lowest)
        s->throttle_lowest = percent;
    return 0;
}

/* The "device state" of a sim guest: its size and vCPU count, as text. */
static int src_save_state(void *b, void **state_out, size_t *len_out)
{
    struct mig_sim_source *s = b;
    char *text = NULL;
    int n = asprintf(&text, "xenmig-sim-state v1 nr_pfns=%" PRIu64 " vcpus=%u\n",
                     mig_sim_guest_nr_pfns(s->guest), s->nr_vcpus);

    if (n < 0)
        return mig_error_set(MIG_ENOMEM, "out of memory for the device state");
    *state_out = text;
    *len_out = (size_t)n;
    return 0;
}

static int src_memory_hash(void *b, struct mig_stream_ctx *st, uint64_t first,
                           uint64_t count, const atomic_bool *cancel, uint64_t *sum_out)
{
    struct mig_sim_guest *guest = ((struct mig_sim_source *)b)->guest;
    const void *base;
    size_t len;
    int rc;

    /* Called by the engine on the paused guest only (sys/mig_backend.h). */
    rc = mig_sim_guest_page(guest, 0, &base, &len);
    if (!rc)
        rc = digest_of_pages(base, mig_sim_guest_nr_pfns(guest), "guest's", first, count,
                             cancel, sum_out);
    return rc;
}

static int src_release(void *b)
{
    struct mig_sim_source *s = b;

    s->released = true;
    return mig_sim_guest_stop(s->guest);
}

const struct mig_source_ops mig_sim_source_ops = {
    .name = "sim",
    .nr_pfns = src_nr_pfns,
    .log_dirty_enable = src_log_dirty_enable,
    .log_dirty_disable = src_log_dirty_disable,
    .harvest = src_harvest,
    .read_page = src_read_page,
    .pause = src_pause,
    .resume = src_resume,
    .throttle = src_throttle,
    .save_state = src_save_state,
    .memory_hash = src_memory_hash,
    .release = src_release,
};

/* ---- destination -------------------------------------------------------- */

static int dst_prepare(void *b, uint64_t nr_pfns)
{
    struct mig_sim_destination *d = b;
    size_t bytes = (size_t)nr_pfns * MIG_PAGE_SIZE;
    void *mem;

    if (d->memory)
        return mig_error_set(MIG_EINVAL, "destination already prepared");
    if (d->max_bytes && bytes > d->max_bytes)
        return mig_error_set(MIG_ENOMEM, "destination out of memory: the guest "
                             "needs %zu MiB, this host allows %zu MiB",
                             bytes >> 20, d->max_bytes >> 20);
    mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return mig_error_set_errno(MIG_ENOMEM, errno, "destination out of memory: "
                                   "cannot map %zu MiB for the guest", bytes >> 20);
    /* Huge pages where the kernel has them (populate_chunk). */
    (void)madvise(mem, bytes, MADV_HUGEPAGE);
    d->populated = calloc((nr_pfns + CHUNK_PAGES - 1) / CHUNK_PAGES, sizeof(atomic_uchar));
    if (!d->populated) {
        munmap(mem, bytes);
        return mig_error_set(MIG_ENOMEM, "destination out of memory");
    }
    d->memory = mem;
    d->nr_pfns = nr_pfns;
    return 0;
}

static int dst_read_page(void *b, struct mig_stream_ctx *st, uint64_t pfn, void *buf,
                         unsigned int *type_out)
{
    struct mig_sim_destination *d = b;

    memcpy(buf, d->memory + pfn * MIG_PAGE_SIZE, MIG_PAGE_SIZE);
    return 0;
}

static const void *dst_stored_page(void *b, struct mig_stream_ctx *st, uint64_t pfn,
                                   unsigned int *type_out)
{
    return ((struct mig_sim_destination *)b)->memory + pfn * MIG_PAGE_SIZE;
}

/*
 * Give the guest the memory of pfn's chunk before its first page is
 * written there, in one call, as Xen populates a domain's memory in
 * batches before the restore writes into it: a page fault for every 4 KiB
 * page would be the simulator's cost, not a destination's (here 2.7-3.0
 * s/GiB of faults against 1.5 populated by the megabyte, 0.08 in huge
 * pages).  Two streams may populate a chunk at once: it is harmless.
 * Refused advice (no MADV_POPULATE_WRITE before Linux 5.14) leaves the
 * pages to come at their first write.  Nothing tracks writes here: the
 * source's memory keeps its 4 KiB pages for that.
 */
static void populate_chunk(struct mig_sim_destination *d, uint64_t pfn)
{
    atomic_uchar *done = (atomic_uchar *)d->populated + pfn / CHUNK_PAGES;
    uint64_t first = pfn / CHUNK_PAGES * CHUNK_PAGES;
    uint64_t count = d->nr_pfns - first < CHUNK_PAGES ? d->nr_pfns - first : CHUNK_PAGES;

    if (atomic_load_explicit(done, memory_order_relaxed))
        return;
    (void)madvise(d->memory + first * MIG_PAGE_SIZE, count * MIG_PAGE_SIZE,
                  MADV_POPULATE_WRITE);
    atomic_store_explicit(done, 1, memory_order_relaxed);
}

static int dst_write_page(void *b, struct mig_stream_ctx *st, uint64_t pfn, const void *data,
                          unsigned int type)
{
    struct mig_sim_destination *d = b;
    uint8_t *page = d->memory + pfn * MIG_PAGE_SIZE;

    populate_chunk(d, pfn);

    if (data)
        memcpy(page, data, MIG_PAGE_SIZE);
    else
        memset(page, 0, MIG_PAGE_SIZE);
    return 0;
}

/*
 * "go": run the guest here, or, saving it, put the save file in place: the
 * source verified its memory against ours, so the file is complete.  A
 * file that cannot be put in place is MIG_EABSENT: the guest runs nowhere
 * here, so the source keeps it.
 */
static int dst_resume(void *b)
{
    struct mig_sim_destination *d = b;
    struct mig_whole_file *f = d->save_file;
    int rc;

    if (!d->save_path) {
        d->running = true;
        return 0;
    }
    if (!f)
        return mig_error_set(MIG_EABSENT, "no save file was written");
    d->save_file = NULL;
    rc = mig_whole_file_commit(f, "the save file");
    free(f);
    return rc ? MIG_EABSENT : 0;    /* a saved guest runs nowhere */
}

/*
 * The save file of a simulated guest (little-endian):
 *   16 bytes "XENMIG-SIM-SAVE1", u64 nr_pfns, u64 state length,
 *   the state, then nr_pfns pages of 4096 bytes in pfn order.
 */
static int write_save_file(struct mig_sim_destination *d, const void *state, size_t len)
{
    uint8_t head[32] = "XENMIG-SIM-SAVE1";
    struct iovec iov[3] = {
        { .iov_base = head, .iov_len = sizeof(head) },
        { .iov_base = (void *)state, .iov_len = len },
        { .iov_base = d->memory, .iov_len = (size_t)d->nr_pfns * MIG_PAGE_SIZE },
    };
    struct mig_whole_file *f = calloc(1, sizeof(*f));
    int rc;

    if (!f)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    mig_le64_store(head + 16, d->nr_pfns);
    mig_le64_store(head + 24, (uint64_t)len);
    rc = mig_whole_file_open(f, d->save_path, 0600, "the save file");
    if (rc) {
        free(f);
        return rc;
    }
    rc = mig_write_all_iov(f->fd, iov, 3, 0, "cannot write the save file '%s'", d->save_path);
    if (rc) {
        mig_whole_file_discard(f);
        free(f);
        return rc;
    }
    d->save_file = f;           /* put in place on "go" (dst_resume) */
    return 0;
}

static int dst_restore_state(void *b, const void *state, size_t len)
{
    struct mig_sim_destination *d = b;
    char expect[96];
    int n = snprintf(expect, sizeof(expect), "xenmig-sim-state v1 nr_pfns=%" PRIu64 " ",
                     d->nr_pfns);

    if (len < (size_t)n || memcmp(state, expect, (size_t)n))
        return mig_error_set(MIG_EFORMAT, "device state does not describe a sim guest "
                             "of %" PRIu64 " pfns: '%.*s'", d->nr_pfns,
                             (int)(len > 80 ? 80 : len), (const char *)state);
    return d->save_path ? write_save_file(d, state, len) : 0;
}

const struct mig_destination_ops mig_sim_destination_ops = {
    .name = "sim-destination",
    .prepare = dst_prepare,
    .write_page = dst_write_page,
    .read_page = dst_read_page,
    .stored_page = dst_stored_page,
    .restore_state = dst_restore_state,
    .resume = dst_resume,
};

int mig_sim_destination_digest(const struct mig_sim_destination *d, uint64_t *digest_out)
{
    uint64_t sum;
    int rc;

    if (!d->memory)
        return mig_error_set(MIG_EINVAL, "the simulated destination holds no guest yet");
    rc = digest_of_pages(d->memory, d->nr_pfns, "destination's", 0, d->nr_pfns, NULL, &sum);
    if (!rc)
        *digest_out = mig_memory_digest_finish(sum, d->nr_pfns);
    return rc;
}

void mig_sim_destination_dispose(struct mig_sim_destination *d)
{
    if (d->save_file) {
        /* Never put in place: the migration failed or was aborted. */
        mig_whole_file_discard(d->save_file);
        free(d->save_file);
        d->save_file = NULL;
    }
    if (d->memory)
        munmap(d->memory, (size_t)d->nr_pfns * MIG_PAGE_SIZE);
    d->memory = NULL;
    free(d->populated);
    d->populated = NULL;
}
