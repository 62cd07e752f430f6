/*
 * source.c: the Xen backend's source side (mig_xen.h): a running PVH,
 * HVM (with libxl's qemu-xen device model in dom0) or 64-bit PV domain
 * migrated by the xenmig engine.
 *
 *  - pages: each sender thread maps guest frames through its own
 *    libxenforeignmemory handle, a window of consecutive pfns at a time
 *    while it reads sequentially, one frame when it jumps; a PV guest's
 *    frames are mapped by mfn through its p2m, with their page types,
 *    page tables normalised (source_pv.c);
 *  - log-dirty: XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY / CLEAN through
 *    libxenctrl; "stop" is Xen 4.17's CLEAN (the domain is paused for the
 *    whole bitmap); "loose" uses the ranged no-pause op where this Xen has
 *    it (ranged.h) and falls back to CLEAN, once, with a log line, where
 *    it does not;
 *  - suspend and resume through libxl (libxl_domain_suspend_only,
 *    libxl_domain_resume with suspend_cancel), destroy only in release()
 *    (after the destination said it runs the guest; a checkpoint's
 *    release resumes it instead: the save file is in place);
 *  - an HVM domain's device model (emulator.c): qemu's log-dirty switched
 *    on and off with Xen's, its state (saved by libxl's suspend) and its
 *    xenstore physmap sent as libxl's EMULATOR records in the tail;
 *  - the stream's head and tail (source_stream.c) for Xen's stock restore;
 *  - the ladder's throttle: the scheduler's cap (throttle.c), put back by
 *    throttle(100), and on resume, release and close if it was not.
 *
 * Must never destroy the domain except in release(), never leave it
 * suspended on an error path (the engine calls resume()), and never leave
 * it throttled once it gives it up.
 */
#include "config.h"

/* Xen's public headers need GNU C (anonymous unions, __align8__, typeof). */
#undef __STRICT_ANSI__
#define typeof __typeof__

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xentoollog.h>
#include <xxhash.h>

#include "mig_clock.h"
#include "mig_dirty.h"
#include "mig_migrate.h"
#include "mig_stream.h"
#include "mig_xfer.h"
#include "mig_xen.h"
#include "sys/mig_backend.h"
#include "pv_tables.h"
#include "ranged.h"
#include "throttle.h"
#include "xen_private.h"
#include "util/trace.h"

#define WINDOW_PAGES    64u       /* frames mapped at once while sequential */
#define PROBE_PAGES     1024u     /* frames probed at once by populated() */
#define RANGED_CHUNK    (64u * 1024u)  /* pfns per ranged harvest call */
#define QMP_TIMEOUT_MS  10000     /* the device model's answer to one command */

/* One stream's mapping handle and window (its context's priv). */
struct map_slot {
    xenforeignmemory_handle *fmem;
    uint8_t *window;           /* mapped frames, or NULL */
    unsigned int mapped;       /* pages in window */
    unsigned int count;        /* pfns the window stands for */
    xen_pfn_t pfns[MIG_XFER_MAX_BATCH];  /* what window maps, ascending */
    int place[MIG_XFER_MAX_BATCH];       /* pfns[i]'s page in window, -1: none */
    unsigned int types[MIG_XFER_MAX_BATCH];  /* PV page types (HVM: 0) */
    xen_pfn_t frames[MIG_XFER_MAX_BATCH];    /* scratch: what is mapped */
    int err[MIG_XFER_MAX_BATCH];
    unsigned int cursor;       /* where the next read is expected */
    uint64_t last_pfn;         /* last pfn read, for the sequential guess */
};

struct mig_xen_source {
    xentoollog_logger *log;
    xc_interface *xch;
    libxl_ctx *ctx;
    uint32_t domid;
    char name[128];
    char uuid[LIBXL_UUID_FMTLEN + 1];
    uint64_t nr_pfns;
    struct mig_xen_source_options opts;

    xenforeignmemory_handle *fmem;  /* the engine thread's own */

    xc_hypercall_buffer_t bitmap_hbuf;   /* the dirty bitmap Xen writes */
    unsigned long *bitmap;
    size_t bitmap_pages;
    bool logdirty;
    bool suspended;
    bool resumed_early;              /* a checkpoint runs on here (src_resume_early) */
    int ranged;                /* -1 unknown, 0 absent, 1 present */
    bool renamed;              /* NAME--migratedaway (handover) */
    struct mig_dirty_bitmap *memory;  /* held memory at round 0 (PVH/HVM: or was sent since) */
    bool told_fallback;
    uint64_t store_pfn, console_pfn;
    struct xen_pv_memory *pv;  /* a PV domain's memory, else NULL */
    bool device_model;         /* HVM: libxl's qemu-xen in dom0 */
    char dm_qmp[108];          /* its libxl QMP socket, */
    char dm_save[64];          /* and where libxl's suspend has it save its state */
    bool dm_logdirty;          /* qemu's log-dirty is on (we switched it) */
    struct xen_throttle throttle;  /* the scheduler parameters it had, while throttled */
};

static void slot_unmap(struct map_slot *slot)
{
    if (slot->window)
        xenforeignmemory_unmap(slot->fmem, slot->window, slot->mapped);
    slot->window = NULL;
    slot->mapped = 0;
    slot->count = 0;
}

/* A mapping handle per stream: its window is what prefetch maps. */
static int src_open_streams(void *backend, struct mig_stream_ctx *streams, unsigned int n)
{
    struct mig_xen_source *src = backend;
    struct map_slot *slots = calloc(n, sizeof(*slots));

    if (!slots)
        return mig_error_set(MIG_ENOMEM, "out of memory for %u mapping windows", n);
    for (unsigned int i = 0; i < n; i++) {
        slots[i].last_pfn = UINT64_MAX - 1;
        slots[i].fmem = xenforeignmemory_open(src->log, 0);
        if (!slots[i].fmem) {
            int rc = mig_error_set_errno(MIG_EIO, errno, "cannot open foreign memory "
                                         "mapping %u of %u for domain %u", i + 1, n,
                                         src->domid);

            while (i--)
                xenforeignmemory_close(slots[i].fmem);
            free(slots);
            return rc;
        }
        streams[i].priv = &slots[i];
    }
    return 0;
}

/* The slots are one array, at stream 0's priv. */
static void src_close_streams(void *backend, struct mig_stream_ctx *streams, unsigned int n)
{
    struct map_slot *slots = n ? streams[0].priv : NULL;

    for (unsigned int i = 0; slots && i < n; i++) {
        slot_unmap(&slots[i]);
        xenforeignmemory_close(slots[i].fmem);
        streams[i].priv = NULL;
    }
    free(slots);
}

static uint64_t src_nr_pfns(void *backend)
{
    return ((struct mig_xen_source *)backend)->nr_pfns;
}

/*
 * Map the frames of pfns[0..n) read-only into *map_out (*mapped_out pages;
 * NULL and 0 when none holds memory): a PVH guest's by pfn, a PV guest's by
 * the mfn its p2m names, only those whose type carries data.  place[i] is
 * the page of the mapping that holds pfns[i], or -1 (a hole); types[i]
 * its PV page type (PVH: 0).  frames and err are scratch of n entries.
 */
static int map_guest_frames(struct mig_xen_source *src, xenforeignmemory_handle *fmem,
                            const xen_pfn_t *pfns, unsigned int n, xen_pfn_t *frames,
                            int *err, int *place, unsigned int *types, void **map_out,
                            unsigned int *mapped_out)
{
    unsigned int k = 0, m = 0;
    uint8_t *map;
    int rc;

    *map_out = NULL;
    *mapped_out = 0;
    if (!src->pv) {
        map = xenforeignmemory_map(fmem, src->domid, PROT_READ, n, (xen_pfn_t *)pfns, err);
        if (!map) {
            if (errno == EINVAL || errno == ENOENT || errno == EFAULT) {
                for (unsigned int i = 0; i < n; i++)
                    place[i] = -1;     /* the whole batch is a hole */
                return 0;
            }
            return mig_error_set_errno(MIG_EIO, errno, "cannot map %u frames of domain %u "
                                       "at pfn %#" PRIx64, n, src->domid,
                                       (uint64_t)pfns[0]);
        }
        for (unsigned int i = 0; i < n; i++) {
            place[i] = err[i] ? -1 : (int)i;
            types[i] = 0;
        }
        *map_out = map;
        *mapped_out = n;
        return 0;
    }
    /* PV: the p2m's mfns, their types, then only what carries data. */
    for (unsigned int i = 0; i < n; i++) {
        uint64_t mfn = xen_pv_pfn_to_mfn(src->pv, pfns[i]);

        place[i] = -1;
        types[i] = MIG_STREAM_PAGE_XTAB;
        if (mfn != PV_INVALID_FRAME) {
            place[i] = (int)k;
            frames[k++] = mfn;
        }
    }
    if (!k)
        return 0;
    rc = xen_pv_page_types(src->pv, frames, k, (unsigned int *)err);
    if (rc)
        return rc;
    for (unsigned int i = 0; i < n; i++) {
        unsigned int type;

        if (place[i] < 0)
            continue;
        type = (unsigned int)err[place[i]];
        types[i] = type;
        if (!mig_stream_page_type_has_data(type)) {
            place[i] = -1;
            continue;
        }
        frames[m] = frames[place[i]];
        place[i] = (int)m++;
    }
    if (!m)
        return 0;
    map = xenforeignmemory_map(fmem, src->domid, PROT_READ, m, frames, err);
    if (!map)
        return mig_error_set_errno(MIG_EIO, errno, "cannot map %u frames of PV domain %u "
                                   "from pfn %#" PRIx64, m, src->domid, (uint64_t)pfns[0]);
    for (unsigned int i = 0; i < n; i++)
        if (place[i] >= 0 && err[place[i]])
            place[i] = -1;
    *map_out = map;
    *mapped_out = m;
    return 0;
}

/* Map exactly pfns[0..count) (ascending) into the slot's window. */
static int slot_map(struct mig_xen_source *src, struct map_slot *slot,
                    const xen_pfn_t *pfns, unsigned int count)
{
    void *map;
    int rc;

    slot_unmap(slot);
    if (pfns != slot->pfns)
        memcpy(slot->pfns, pfns, count * sizeof(*pfns));
    rc = map_guest_frames(src, slot->fmem, slot->pfns, count, slot->frames, slot->err,
                          slot->place, slot->types, &map, &slot->mapped);
    if (rc)
        return rc;
    slot->window = map;
    slot->count = count;
    slot->cursor = 0;
    return 0;
}

/* Index of pfn in the slot's window, or -1. */
static int slot_find(struct map_slot *slot, uint64_t pfn)
{
    unsigned int lo = 0, hi = slot->count;

    if (!slot->count)
        return -1;
    if (slot->cursor < slot->count && slot->pfns[slot->cursor] == pfn)
        return (int)slot->cursor;
    while (lo < hi) {
        unsigned int mid = lo + (hi - lo) / 2;

        if (slot->pfns[mid] < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < slot->count && slot->pfns[lo] == pfn ? (int)lo : -1;
}

static int src_prefetch(void *backend, struct mig_stream_ctx *st, const uint64_t *pfns,
                        size_t count)
{
    struct mig_xen_source *src = backend;
    struct map_slot *slot = st->priv;
    xen_pfn_t list[MIG_XFER_MAX_BATCH];

    if (count > MIG_XFER_MAX_BATCH)
        count = MIG_XFER_MAX_BATCH;
    for (size_t i = 0; i < count; i++) {
        if (pfns[i] >= src->nr_pfns)
            return mig_error_set(MIG_EINVAL, "pfn %#" PRIx64 " is beyond domain %u's %"
                                 PRIu64 " pfns", pfns[i], src->domid, src->nr_pfns);
        list[i] = pfns[i];
    }
    return count ? slot_map(src, slot, list, (unsigned int)count) : 0;
}

static int src_read_page(void *backend, struct mig_stream_ctx *st, uint64_t pfn, void *buf,
                         unsigned int *type_out)
{
    struct mig_xen_source *src = backend;
    struct map_slot *slot = st->priv;
    const uint8_t *mapped;
    int at;

    if (pfn >= src->nr_pfns)
        return mig_error_set(MIG_EINVAL, "pfn %#" PRIx64 " is beyond domain %u's %"
                             PRIu64 " pfns", pfn, src->domid, src->nr_pfns);
    at = slot_find(slot, pfn);
    if (at < 0) {
        /* Not prefetched: a window while reading in order, else one frame. */
        unsigned int count = pfn == slot->last_pfn + 1 ? WINDOW_PAGES : 1;
        int rc;

        if (count > src->nr_pfns - pfn)
            count = (unsigned int)(src->nr_pfns - pfn);
        for (unsigned int i = 0; i < count; i++)
            slot->pfns[i] = pfn + i;
        rc = slot_map(src, slot, slot->pfns, count);
        if (rc)
            return rc;
        at = 0;
    }
    slot->cursor = (unsigned int)at + 1;
    slot->last_pfn = pfn;
    if (slot->place[at] < 0)
        return MIG_EABSENT;
    mapped = slot->window + (size_t)slot->place[at] * MIG_PAGE_SIZE;
    if (!src->pv) {
        memcpy(buf, mapped, MIG_PAGE_SIZE);
        return 0;
    }
    *type_out = slot->types[at];
    /* The p2m moved this pfn since the batch was mapped: send it again later. */
    if (xen_pv_pfn_to_mfn(src->pv, pfn) != slot->frames[slot->place[at]]) {
        if (src->suspended)
            return mig_error_set(MIG_EIO, "pfn %#" PRIx64 " of paused domain %u changed "
                                 "its frame while being read", pfn, src->domid);
        xen_pv_defer(src->pv, pfn);
        return MIG_EABSENT;
    }
    return xen_pv_prepare_page(src->pv, pfn, slot->types[at], src->suspended, mapped, buf);
}

/* How many pfns the probe batch from base has: PROBE_PAGES, fewer at end. */
static unsigned int probe_batch(uint64_t base, uint64_t end)
{
    return end - base < PROBE_PAGES ? (unsigned int)(end - base) : PROBE_PAGES;
}

/*
 * Map pfns [first, end) of the guest through fmem, PROBE_PAGES frames at a
 * time, and hand each batch to visit
 * (map: the mapped frames; place[i]: pfn base + i's page in map, -1 when
 * it holds no memory; types[i]: its PV page type); a batch without memory
 * is skipped, as are batches with no memory at round 0 once that is known.
 * A visit's error ends the walk.
 */
typedef int (*batch_visit_fn)(void *arg, uint64_t base, unsigned int n,
                              const uint8_t *map, const int *place,
                              const unsigned int *types);

static int for_each_batch(struct mig_xen_source *src, xenforeignmemory_handle *fmem,
                          uint64_t first, uint64_t end, batch_visit_fn visit, void *arg)
{
    xen_pfn_t *pfns = malloc(PROBE_PAGES * sizeof(*pfns));
    xen_pfn_t *frames = malloc(PROBE_PAGES * sizeof(*frames));
    int *err = malloc(PROBE_PAGES * sizeof(*err));
    int *place = malloc(PROBE_PAGES * sizeof(*place));
    unsigned int *types = malloc(PROBE_PAGES * sizeof(*types));
    int rc;

    if (!pfns || !frames || !err || !place || !types) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for a probe batch");
        goto out;
    }
    for (uint64_t base = first; base < end; base += PROBE_PAGES) {
        unsigned int n = probe_batch(base, end);
        unsigned int mapped;
        void *map;

        if (src->memory &&
            mig_dirty_bitmap_next_set(src->memory, base) >= base + n)
            continue;
        for (unsigned int i = 0; i < n; i++)
            pfns[i] = base + i;
        rc = map_guest_frames(src, fmem, pfns, n, frames, err, place, types, &map, &mapped);
        if (rc)
            goto out;
        if (!map)
            continue;
        rc = visit(arg, base, n, map, place, types);
        xenforeignmemory_unmap(fmem, map, mapped);
        if (rc)
            goto out;
    }
    rc = 0;
out:
    free(pfns);
    free(frames);
    free(err);
    free(place);
    free(types);
    return rc;
}

struct populated_visit {
    struct mig_dirty_bitmap *dst;
    uint64_t found;
};

/*
 * PVH/HVM: which of the n gfns hold memory, by Xen's page types
 * (getpageframeinfo3, as libxc's save asks) into present[]: no frame is
 * mapped, so the holes of an HVM guest's 4 GiB pfn space (its special
 * pages sit just below 4 GiB) cost a type lookup each, not a failed
 * foreign mapping.  Frames Xen owns that the guest mapped into its physmap
 * (shared info, grant table) come back XTAB: libxc never sends them (the
 * guest maps them again when it resumes), nor does this source: round 0,
 * every harvest and the memory hash all ask here.
 */
static int hvm_present(struct mig_xen_source *src, const xen_pfn_t *gfns, unsigned int n,
                       bool *present)
{
    DECLARE_HYPERCALL_BUFFER(xen_pfn_t, array);
    struct xen_domctl domctl = {
        .cmd = XEN_DOMCTL_getpageframeinfo3,
        .domain = (domid_t)src->domid,
    };
    int rc = 0;

    array = xc_hypercall_buffer_alloc(src->xch, array, n * sizeof(*array));
    if (!array)
        return mig_error_set(MIG_ENOMEM, "cannot allocate a hypercall buffer for %u "
                             "page types", n);
    memcpy(array, gfns, n * sizeof(*array));
    domctl.u.getpageframeinfo3.num = n;
    set_xen_guest_handle(domctl.u.getpageframeinfo3.array, array);
    if (xc_domctl(src->xch, &domctl))
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read the page types of %u pfns "
                                 "from %#" PRIx64 " of domain %u", n, (uint64_t)gfns[0],
                                 src->domid);
    for (unsigned int i = 0; i < n && !rc; i++) {
        unsigned long type = array[i] & XEN_DOMCTL_PFINFO_LTAB_MASK;

        present[i] = type != XEN_DOMCTL_PFINFO_XTAB && type != XEN_DOMCTL_PFINFO_BROKEN;
    }
    xc_hypercall_buffer_free(src->xch, array);
    return rc;
}

/* PVH/HVM: gfns base.. (n of them) into gfns[], then hvm_present. */
static int hvm_present_range(struct mig_xen_source *src, uint64_t base, unsigned int n,
                             xen_pfn_t *gfns, bool *present)
{
    for (unsigned int i = 0; i < n; i++)
        gfns[i] = base + i;
    return hvm_present(src, gfns, n, present);
}

static int probe_by_type(struct mig_xen_source *src, struct populated_visit *v)
{
    xen_pfn_t gfns[PROBE_PAGES];
    bool present[PROBE_PAGES];
    int rc = 0;

    for (uint64_t base = 0; base < src->nr_pfns && !rc; base += PROBE_PAGES) {
        unsigned int n = probe_batch(base, src->nr_pfns);

        rc = hvm_present_range(src, base, n, gfns, present);
        for (unsigned int i = 0; i < n && !rc; i++) {
            if (!present[i])
                continue;
            mig_dirty_bitmap_set(v->dst, base + i);
            v->found++;
        }
    }
    return rc;
}

/*
 * PV: which pfns hold memory, by the guest's p2m and Xen's page types of
 * the frames it names (those of a type that carries data), without
 * mapping a single frame: a frame that cannot be mapped when it is read
 * is a hole then (read_page's MIG_EABSENT), as it was here before.
 */
static int pv_probe(struct mig_xen_source *src, struct populated_visit *v)
{
    xen_pfn_t frames[PROBE_PAGES];
    uint64_t pfns[PROBE_PAGES];
    unsigned int types[PROBE_PAGES];
    int rc = 0;

    for (uint64_t base = 0; base < src->nr_pfns && !rc; base += PROBE_PAGES) {
        unsigned int n = probe_batch(base, src->nr_pfns), k = 0;

        for (unsigned int i = 0; i < n; i++) {
            uint64_t mfn = xen_pv_pfn_to_mfn(src->pv, base + i);

            if (mfn == PV_INVALID_FRAME)
                continue;
            frames[k] = mfn;
            pfns[k++] = base + i;
        }
        if (!k)
            continue;
        rc = xen_pv_page_types(src->pv, frames, k, types);
        for (unsigned int j = 0; j < k && !rc; j++) {
            if (!mig_stream_page_type_has_data(types[j]))
                continue;
            mig_dirty_bitmap_set(v->dst, pfns[j]);
            v->found++;
        }
    }
    return rc;
}

/* PVH/HVM: drop from a set the pfns that hold no memory (Xen's frames). */
static int drop_absent_pfns(struct mig_xen_source *src, struct mig_dirty_bitmap *set)
{
    xen_pfn_t gfns[PROBE_PAGES];
    bool present[PROBE_PAGES];
    uint64_t pfn = mig_dirty_bitmap_next_set(set, 0);
    int rc = 0;

    while (pfn < src->nr_pfns && !rc) {
        unsigned int n = 0;

        for (; pfn < src->nr_pfns && n < PROBE_PAGES;
             pfn = mig_dirty_bitmap_next_set(set, pfn + 1))
            gfns[n++] = pfn;
        rc = hvm_present(src, gfns, n, present);
        for (unsigned int i = 0; i < n && !rc; i++)
            if (!present[i])
                (void)mig_dirty_bitmap_clear(set, gfns[i]);
    }
    return rc;
}

/*
 * PVH/HVM, a harvested set: drop_absent_pfns, then what stays joins
 * src->memory (what was sent: the memory hash looks only where something
 * was).
 */
static int drop_absent(struct mig_xen_source *src, struct mig_dirty_bitmap *set)
{
    int rc = drop_absent_pfns(src, set);

    if (!rc && src->memory)
        (void)mig_dirty_bitmap_merge(src->memory, set);
    return rc;
}

/* Which pfns hold memory: PV, the frames that can be mapped; else by type. */
static int src_populated(void *backend, struct mig_dirty_bitmap *dst)
{
    struct mig_xen_source *src = backend;
    struct populated_visit v = { .dst = dst };
    int rc = src->pv ? pv_probe(src, &v) : probe_by_type(src, &v);

    if (rc)
        return rc;
    if (!v.found)
        return mig_error_set(MIG_EIO, "domain %u has no mappable memory", src->domid);
    if (src->log)
        xtl_log(src->log, XTL_DETAIL, -1, "xen", "domain %u: %" PRIu64 " of %" PRIu64
                " pfns hold memory", src->domid, v.found, src->nr_pfns);
    /* Kept: the ranged harvest and the memory hash skip what holds none. */
    mig_dirty_bitmap_free(src->memory);
    src->memory = NULL;
    if (!mig_dirty_bitmap_create(src->nr_pfns, &src->memory))
        (void)mig_dirty_bitmap_merge(src->memory, dst);
    return 0;
}

/* qemu's part of log-dirty (what it writes to guest memory itself). */
static int dm_log_dirty(struct mig_xen_source *src, bool enable)
{
    int rc = xen_qmp_execute(src->dm_qmp, "xen-set-global-dirty-log",
                         enable ? "{\"enable\":true}" : "{\"enable\":false}",
                         QMP_TIMEOUT_MS);
    if (rc)
        return mig_error_set(rc, "cannot switch %s the device model's log-dirty mode "
                             "for domain %u: %s", enable ? "on" : "off", src->domid,
                             mig_error_last());
    src->dm_logdirty = enable;
    return 0;
}

static int src_log_dirty_enable(void *backend)
{
    struct mig_xen_source *src = backend;
    int rc;

    if (xc_shadow_control(src->xch, src->domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
                          NULL, 0))
        return mig_error_set_errno(MIG_EIO, errno, "cannot enable log-dirty mode for "
                                   "domain %u (a PV guest needs a Xen with shadow "
                                   "paging; is another migration running?)", src->domid);
    src->logdirty = true;
    if (src->device_model) {
        rc = dm_log_dirty(src, true);
        if (rc) {
            src->logdirty = false;
            (void)xc_shadow_control(src->xch, src->domid, XEN_DOMCTL_SHADOW_OP_OFF,
                                    NULL, 0);
            return rc;
        }
    }
    return 0;
}

static int src_log_dirty_disable(void *backend)
{
    struct mig_xen_source *src = backend;
    int rc = 0;

    if (src->dm_logdirty) {
        rc = dm_log_dirty(src, false);
        if (rc && src->log)
            xtl_log(src->log, XTL_WARN, -1, "xen", "%s", mig_error_last());
        src->dm_logdirty = false;
    }
    if (!src->logdirty)
        return rc;
    src->logdirty = false;
    if (xc_shadow_control(src->xch, src->domid, XEN_DOMCTL_SHADOW_OP_OFF, NULL, 0))
        return mig_error_set_errno(MIG_EIO, errno, "cannot disable log-dirty mode for "
                                   "domain %u", src->domid);
    return rc;
}

/* OR the hypercall bitmap's bits [0, count) into dst at pfn first. */
static uint64_t merge_bitmap(struct mig_xen_source *src, struct mig_dirty_bitmap *dst,
                             uint64_t first, uint64_t count)
{
    const unsigned long *bits = src->bitmap;
    const unsigned int per = 8 * sizeof(unsigned long);
    uint64_t n = 0;

    for (uint64_t w = 0; w < (count + per - 1) / per; w++) {
        unsigned long word = bits[w];

        while (word) {
            unsigned int b = (unsigned int)__builtin_ctzl(word);
            uint64_t i = w * per + b;

            word &= word - 1;
            if (i < count) {
                mig_dirty_bitmap_set(dst, first + i);
                n++;
            }
        }
    }
    return n;
}

bool xen_domain_gone_reason(bool found, bool dying, bool shutdown, int shutdown_reason,
                            char *why, size_t size)
{
    const char *name;

    if (!found)
        snprintf(why, size, "it no longer exists (it crashed with on_crash=\"destroy\", "
                 "or was destroyed)");
    else if (dying)
        snprintf(why, size, "it is being destroyed");
    else if (shutdown) {
        name = libxl_shutdown_reason_to_string(shutdown_reason);
        if (shutdown_reason == LIBXL_SHUTDOWN_REASON_CRASH)
            snprintf(why, size, "it crashed (shutdown reason 'crash')");
        else
            snprintf(why, size, "it has shut down (shutdown reason '%s')",
                     name ? name : "unknown");
    } else
        return false;
    return true;
}

/* Whether the domain went away under us; why as xen_domain_gone_reason(). */
static bool domain_gone(struct mig_xen_source *src, char *why, size_t size)
{
    libxl_dominfo info;
    bool gone;
    int rc;

    libxl_dominfo_init(&info);
    rc = libxl_domain_info(src->ctx, &info, src->domid);
    if (rc && rc != ERROR_DOMAIN_NOTFOUND) {
        libxl_dominfo_dispose(&info);
        return false;               /* cannot tell: the caller's message stands */
    }
    gone = xen_domain_gone_reason(rc == 0, info.dying, info.shutdown,
                                  info.shutdown_reason, why, size);
    libxl_dominfo_dispose(&info);
    return gone;
}

static int harvest_clean(struct mig_xen_source *src, struct mig_dirty_bitmap *dst,
                         struct mig_harvest_stats *stats)
{
    xc_shadow_op_stats_t st;
    double t0 = mig_clock_seconds(), t1;
    /* Final harvest: Xen also marks the frames it has mapped (vCPU info...). */
    unsigned int mode = src->suspended ? XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL : 0;

    memset(src->bitmap, 0, src->bitmap_pages * XC_PAGE_SIZE);
    if (xc_logdirty_control(src->xch, src->domid, XEN_DOMCTL_SHADOW_OP_CLEAN,
                            &src->bitmap_hbuf, src->nr_pfns, mode, &st) !=
        (long long)src->nr_pfns && errno) {
        int saved = errno;
        char why[128];

        if (domain_gone(src, why, sizeof(why)))
            return mig_error_set(MIG_EIO, "cannot harvest domain %u's dirty log: %s "
                                 "during the migration; 'xl dmesg' says why (e.g. a "
                                 "triple fault)", src->domid, why);
        return mig_error_set_errno(MIG_EIO, saved, "cannot harvest domain %u's dirty "
                                   "log", src->domid);
    }
    t1 = mig_clock_seconds();
    stats->pages = merge_bitmap(src, dst, 0, src->nr_pfns);
    /* Xen pauses the domain for the whole CLEAN: its wall time bounds the pause. */
    stats->pause_seconds = t1 - t0;
    stats->stall_seconds = stats->pause_seconds;
    stats->max_stall_seconds = stats->pause_seconds;
    return 0;
}

static int harvest_ranged(struct mig_xen_source *src, struct mig_dirty_bitmap *dst,
                          struct mig_harvest_stats *stats)
{
    double longest = 0, total = 0;
    int rc;

    stats->pages = 0;
    for (uint64_t first = 0; first < src->nr_pfns; first += RANGED_CHUNK) {
        uint32_t count = src->nr_pfns - first < RANGED_CHUNK ?
                         (uint32_t)(src->nr_pfns - first) : RANGED_CHUNK;
        double seconds = 0;

        /*
         * A chunk without memory at round 0 is left to the final CLEAN: the
         * ranged op only clears the log bits of the ranges it harvests.
         */
        if (src->memory && mig_dirty_bitmap_next_set(src->memory, first) >= first + count)
            continue;

        memset(src->bitmap, 0, (count + 7) / 8);
        rc = xen_ranged_clean(src->xch, src->domid, first, count,
                              &src->bitmap_hbuf, &seconds);
        if (rc)
            return rc;
        stats->pages += merge_bitmap(src, dst, first, count);
        total += seconds;
        if (seconds > longest)
            longest = seconds;
    }
    /* No domain-wide pause: a vCPU only waits on the p2m lock of one chunk. */
    stats->pause_seconds = 0;
    stats->stall_seconds = total;
    stats->max_stall_seconds = longest;
    return 0;
}

static int src_harvest(void *backend, enum mig_trace_mode mode,
                       struct mig_dirty_bitmap *dst, struct mig_harvest_stats *stats)
{
    struct mig_xen_source *src = backend;
    int rc;

    if (mode == MIG_TRACE_LOOSE && !src->suspended) {
        if (src->ranged < 0)
            src->ranged = xen_ranged_supported(src->xch, src->domid) == 0;
        if (src->ranged) {
            rc = harvest_ranged(src, dst, stats);
            return rc ? rc : drop_absent(src, dst);
        }
        if (!src->told_fallback && src->log)
            xtl_log(src->log, XTL_WARN, -1, "xen", "this Xen has no ranged no-pause "
                    "log-dirty harvest (the xenmig lab patch): loose tracing falls "
                    "back to Xen's CLEAN, which pauses the domain per harvest");
        src->told_fallback = true;
    }
    rc = harvest_clean(src, dst, stats);
    if (!rc && !src->pv)
        rc = drop_absent(src, dst);
    if (rc)
        return rc;
    if (src->pv) {
        /* Page tables that could not be normalised last round go again. */
        uint64_t deferred = xen_pv_take_deferred(src->pv, dst);

        if (deferred && src->log)
            xtl_log(src->log, XTL_DETAIL, -1, "xen", "domain %u: %" PRIu64 " page "
                    "table(s) deferred to this round", src->domid, deferred);
    }
    if (src->suspended && src->pv) {
        rc = xen_pv_ring_pfns(src->pv, &src->store_pfn, &src->console_pfn);
        if (rc)
            return rc;
    }
    if (src->suspended) {
        /* Rings dom0 writes through its own mappings are not in the log. */
        if (src->store_pfn && src->store_pfn < src->nr_pfns)
            mig_dirty_bitmap_set(dst, src->store_pfn);
        if (src->console_pfn && src->console_pfn < src->nr_pfns)
            mig_dirty_bitmap_set(dst, src->console_pfn);
    }
    return 0;
}

static int src_resume(void *backend);

static int src_pause(void *backend)
{
    struct mig_xen_source *src = backend;
    int rc = libxl_domain_suspend_only(src->ctx, src->domid, NULL);
    char why[128];

    if (rc && domain_gone(src, why, sizeof(why)))
        return mig_error_set(MIG_EIO, "domain %u could not be suspended: %s before the "
                             "switchover; 'xl dmesg' says why (e.g. a triple fault)",
                             src->domid, why);
    if (rc)
        return mig_error_set(MIG_EIO, "libxl could not suspend domain %u (libxl error "
                             "%d): is it running with PV suspend support?",
                             src->domid, rc);
    src->suspended = true;
    /* A checkpoint's domain stays here: its qemu keeps its images, and the
     * state libxl's suspend had it save is the one the file needs. */
    if (src->device_model && !src->opts.checkpoint) {
        char message[1024];
        bool saved;

        /* libxl's suspend saved qemu's state with live=false: save it again
         * live, so qemu lets go of its disk images for the destination
         * (a qemu without images is not asked). */
        mig_trace("source", "suspended; asking the device model for its images");
        rc = xen_emulator_save_live(src->dm_qmp, src->dm_save, QMP_TIMEOUT_MS, &saved);
        if (!rc)
            mig_trace("source", saved ? "device model saved again (live): it let go of "
                      "its images" : "device model holds no image: not saved again");
        if (!rc && !saved && src->log)
            xtl_log(src->log, XTL_DETAIL, -1, "xen", "domain %u: its device model holds "
                    "no disk image; the state libxl's suspend had it save is sent",
                    src->domid);
        if (rc) {
            snprintf(message, sizeof(message), "%s", mig_error_last());
            (void)src_resume(src);     /* not paused, as far as the engine knows */
            return mig_error_set(rc, "domain %u: the device model could not save its "
                                 "state for the migration: %s", src->domid, message);
        }
    }
    return 0;
}

static int src_resume(void *backend)
{
    struct mig_xen_source *src = backend;
    int rc;

    /* The engine puts the cap back before it resumes; if it did not, here. */
    xen_throttle_undo(&src->throttle, src->ctx, src->log, src->domid,
                      "when it resumes at the source");
    if (src->renamed) {
        char away[sizeof(src->name) + 16];

        snprintf(away, sizeof(away), "%s--migratedaway", src->name);
        rc = libxl_domain_rename(src->ctx, src->domid, away, src->name);
        if (rc && src->log)
            xtl_log(src->log, XTL_ERROR, -1, "xen", "cannot rename domain %u back to "
                    "'%s' (libxl error %d): rename it by hand", src->domid,
                    src->name, rc);
        src->renamed = false;
    }
    rc = libxl_domain_resume(src->ctx, src->domid, 1, NULL);
    if (src->device_model)     /* qemu runs on; the state it saved is stale */
        (void)unlink(src->dm_save);
    if (rc)
        return mig_error_set(MIG_EIO, "libxl could not resume domain %u (libxl error "
                             "%d): resume it by hand with 'xl unpause' after checking "
                             "it", src->domid, rc);
    src->suspended = false;
    return 0;
}

/* xl's convention: the source steps aside so the destination can take the name. */
static int src_handover(void *backend)
{
    struct mig_xen_source *src = backend;
    char away[sizeof(src->name) + 16];
    int rc;

    if (src->opts.checkpoint)
        return 0;           /* a checkpoint stays here under its name */
    snprintf(away, sizeof(away), "%s--migratedaway", src->name);
    rc = libxl_domain_rename(src->ctx, src->domid, src->name, away);
    if (rc)
        return mig_error_set(MIG_EIO, "cannot rename domain %u from '%s' to '%s' "
                             "(libxl error %d)", src->domid, src->name, away, rc);
    src->renamed = true;
    return 0;
}

/* An HVM tail with what libxl's suspend had qemu save, and qemu's physmap. */
static int device_model_tail(struct mig_xen_source *src, void **out, size_t *len_out)
{
    struct xen_emulator_state emu = { 0 };
    void *context = NULL, *xenstore = NULL;
    struct xs_handle *xs = NULL;
    int rc;

    rc = xen_emulator_read_context(src->dm_save, &context, &emu.context_length);
    if (rc)
        goto out;
    xs = xs_open(0);
    if (!xs) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot open xenstore for the device "
                                 "model's physmap");
        goto out;
    }
    rc = xen_emulator_read_xenstore(xs, src->domid, &xenstore, &emu.xenstore_length);
    if (rc)
        goto out;
    emu.context = context;
    emu.xenstore = xenstore;
    rc = xen_stream_tail(src->xch, src->domid, &emu, out, len_out);
    if (!rc)
        (void)unlink(src->dm_save);    /* libxl's own save removes it too */
out:
    if (xs)
        xs_close(xs);
    free(context);
    free(xenstore);
    return rc;
}

static int src_save_state(void *backend, void **state_out, size_t *len_out)
{
    struct mig_xen_source *src = backend;

    if (src->pv)
        return xen_pv_stream_tail(src->xch, src->domid, src->pv, state_out, len_out);
    if (src->device_model)
        return device_model_tail(src, state_out, len_out);
    return xen_stream_tail(src->xch, src->domid, NULL, state_out, len_out);
}

struct hash_visit {
    struct mig_xen_source *src;
    const atomic_bool *cancel;       /* may be NULL */
    uint64_t sum;                    /* of the digest terms so far */
    uint8_t page[MIG_PAGE_SIZE];
};

static bool hash_cancelled(const atomic_bool *cancel)
{
    return cancel && atomic_load(cancel);
}

/*
 * PVH/HVM: hash every gfn of [first, end) that holds memory now (by type,
 * as round 0 and the harvests chose what to send), mapping only those
 * through fmem, in the batches where something was sent (src->memory:
 * round 0 and every harvest); a batch never sent hashes as holes, as the
 * destination has it.  The digest terms go into *sum.
 */
static int hvm_hash(struct mig_xen_source *src, xenforeignmemory_handle *fmem,
                    uint64_t first, uint64_t end, const atomic_bool *cancel, uint64_t *sum)
{
    xen_pfn_t gfns[PROBE_PAGES];
    bool present[PROBE_PAGES];
    int err[PROBE_PAGES];
    int rc = 0;

    for (uint64_t base = first; base < end && !rc; base += PROBE_PAGES) {
        unsigned int n = probe_batch(base, end);
        unsigned int k = 0;
        uint8_t *map;

        if (hash_cancelled(cancel)) {
            rc = mig_error_set(MIG_ECANCELLED, "hash of domain %u cancelled", src->domid);
            break;
        }
        if (src->memory && mig_dirty_bitmap_next_set(src->memory, base) >= base + n)
            continue;
        rc = hvm_present_range(src, base, n, gfns, present);
        for (unsigned int i = 0; i < n && !rc; i++)
            if (present[i])
                gfns[k++] = base + i;
        if (rc || !k)
            continue;
        map = xenforeignmemory_map(fmem, src->domid, PROT_READ, k, gfns, err);
        if (!map) {
            rc = mig_error_set_errno(MIG_EIO, errno, "cannot map %u frames of domain %u "
                                     "from pfn %#" PRIx64 " to hash them", k, src->domid,
                                     base);
            break;
        }
        for (unsigned int i = 0; i < k; i++)
            if (!err[i])
                *sum += mig_memory_digest_term(gfns[i], mig_page_key(
                    mig_page_hash(map + (size_t)i * MIG_PAGE_SIZE), 0));
        xenforeignmemory_unmap(fmem, map, k);
    }
    return rc;
}

/* The hash of what read_page sends: a PV page table normalised. */
static int hash_mapped(void *arg, uint64_t base, unsigned int n, const uint8_t *map,
                       const int *place, const unsigned int *types)
{
    struct hash_visit *v = arg;

    if (hash_cancelled(v->cancel))
        return mig_error_set(MIG_ECANCELLED, "hash of domain %u cancelled", v->src->domid);
    for (unsigned int i = 0; i < n; i++) {
        const uint8_t *page;
        int rc;

        if (place[i] < 0)
            continue;
        page = map + (size_t)place[i] * MIG_PAGE_SIZE;
        if (v->src->pv) {
            rc = xen_pv_prepare_page(v->src->pv, base + i, types[i], true, page, v->page);
            if (rc == MIG_EABSENT)
                continue;
            if (rc)
                return rc;
            page = v->page;
        }
        v->sum += mig_memory_digest_term(base + i, mig_page_key(mig_page_hash(page),
                                                                types[i]));
    }
    return 0;
}

/*
 * The suspended domain's digest terms of pfns [first, first + count),
 * read from the domain itself (holes hash as 0, as never sent), through
 * the mapping handle of the stream st (the engine hashes ranges on several
 * threads at once, each with a stream of its own).  PV: batches without memory at round 0 are skipped: a
 * page populated since then is in the log, so it was sent and its absence
 * here shows up as a mismatch.  PVH/HVM: every gfn that holds memory now
 * (hvm_hash).
 */
static int src_memory_hash(void *backend, struct mig_stream_ctx *st, uint64_t first,
                           uint64_t count, const atomic_bool *cancel, uint64_t *sum_out)
{
    struct mig_xen_source *src = backend;
    struct map_slot *slot = st->priv;
    struct hash_visit *v = NULL;
    int rc;

    if (count > src->nr_pfns || first > src->nr_pfns - count)
        return mig_error_set(MIG_EINVAL, "pfns %#" PRIx64 "+%" PRIu64 " are beyond "
                             "domain %u's %" PRIu64, first, count, src->domid,
                             src->nr_pfns);
    v = calloc(1, sizeof(*v));
    if (!v)
        return mig_error_set(MIG_ENOMEM, "out of memory to hash domain %u", src->domid);
    v->src = src;
    v->cancel = cancel;
    slot_unmap(slot);
    rc = src->pv ? for_each_batch(src, slot->fmem, first, first + count, hash_mapped, v)
                 : hvm_hash(src, slot->fmem, first, first + count, cancel, &v->sum);
    if (!rc)
        *sum_out = v->sum;
    free(v);
    return rc;
}

/* The ladder's throttle rung (throttle.c): 1 .. 99 caps, 100 puts back. */
static int src_throttle(void *backend, unsigned int percent)
{
    struct mig_xen_source *src = backend;

    return xen_throttle_apply(&src->throttle, src->ctx, src->log, src->domid, percent);
}

/*
 * A live checkpoint (xl save -c): everything is sent, so the domain runs on
 * here now, while the destination finishes and flushes the file.  -p
 * declines: its domain is left paused after a save, but must run after a
 * failed one, which only the end can tell.
 */
static int src_resume_early(void *backend)
{
    struct mig_xen_source *src = backend;
    int rc;

    if (!src->opts.checkpoint || src->opts.checkpoint_paused)
        return 1;
    rc = src_resume(src);
    if (rc)
        return rc;
    src->resumed_early = true;
    return 0;
}

/* A checkpoint (xl save -c, -p): the file is in place; the domain runs on here. */
static int checkpoint_resume(struct mig_xen_source *src)
{
    int rc;

    if (src->resumed_early)
        return 0;
    rc = src_resume(src);

    if (rc)
        return mig_error_set(rc, "the save file is in place but %s", mig_error_last());
    if (src->opts.checkpoint_paused) {
        rc = libxl_domain_pause(src->ctx, src->domid, NULL);
        if (rc)
            return mig_error_set(MIG_EIO, "the save file is in place and domain %u runs, "
                                 "but it could not be paused as -p asks (libxl error "
                                 "%d)", src->domid, rc);
    }
    return 0;
}

static int src_release(void *backend)
{
    struct mig_xen_source *src = backend;
    int rc;

    if (src->opts.checkpoint)
        return checkpoint_resume(src);
    /* Put back first: a domain that outlives a failed destroy runs on unthrottled. */
    xen_throttle_undo(&src->throttle, src->ctx, src->log, src->domid,
                      "when it is released");
    rc = libxl_domain_destroy(src->ctx, src->domid, NULL);
    if (rc)
        return mig_error_set(MIG_EIO, "the guest runs at the destination but domain %u "
                             "could not be destroyed here (libxl error %d): destroy "
                             "it with 'xl destroy %u'", src->domid, rc, src->domid);
    xen_throttle_forget(&src->throttle);  /* nothing left to put back */
    src->suspended = false;
    return 0;
}

static int json_escape(char *out, size_t size, const char *in)
{
    size_t o = 0;

    for (; *in; in++) {
        unsigned char ch = (unsigned char)*in;
        int n = ch == '"' || ch == '\\' ? snprintf(out + o, size - o, "\\%c", ch) :
                ch < 0x20 ? snprintf(out + o, size - o, "\\u%04x", ch) :
                snprintf(out + o, size - o, "%c", ch);

        if (n < 0 || (size_t)n >= size - o)
            return -1;
        o += (size_t)n;
    }
    return 0;
}

/*
 * The domain's own configuration as libxl JSON, as xl sends it (with its
 * NUL; *json_out malloc'ed, owned by the caller), carrying the scheduler
 * cap the domain had before any throttle.
 */
static int domain_config_json(struct mig_xen_source *src, char **json_out)
{
    libxl_domain_config d_config;
    int rc;

    *json_out = NULL;
    libxl_domain_config_init(&d_config);
    rc = libxl_retrieve_domain_configuration(src->ctx, src->domid, &d_config, NULL);
    if (rc) {
        rc = mig_error_set(MIG_EIO, "libxl has no stored configuration for domain "
                           "%u (error %d): give one with -C", src->domid, rc);
        goto out;
    }
    /* xl migrate -D keeps the domain id; else the destination picks one. */
    d_config.c_info.domid = src->opts.preserve_domid ? src->domid : 0;
    /*
     * Xen 4.17's libxl_retrieve_domain_configuration()
     * (tools/libs/light/libxl_domain.c, retrieve_domain_configuration_end,
     * "Scheduler params") replaces b_info.sched_params with what
     * libxl_domain_sched_params_get() reads from the hypervisor now, and
     * the restoring libxl applies them (libxl_create.c,
     * domcreate_stream_done -> libxl__build_post in libxl_dom.c, weight
     * and cap under whatever scheduler it runs): a throttled cap would
     * travel.  The config carries the cap the domain had before.
     */
    xen_throttle_config(&src->throttle, &d_config.b_info.sched_params);
    *json_out = libxl_domain_config_to_json(src->ctx, &d_config);
    if (!*json_out)
        rc = mig_error_set(MIG_ENOMEM, "cannot turn domain %u's configuration into "
                           "JSON", src->domid);
out:
    libxl_domain_config_dispose(&d_config);
    return rc;
}

static int src_prologue(void *backend, void **blob_out, size_t *len_out)
{
    struct mig_xen_source *src = backend;
    char *config = NULL, *meta = NULL, name[300];
    void *head = NULL;
    size_t head_len = 0, meta_size;
    struct xen_pv_head pv_head, *pv = NULL;
    int rc;

    if (src->pv) {
        pv = &pv_head;
        pv->guest_width = xen_pv_guest_width(src->pv);
        pv->max_pfn = xen_pv_nr_pfns(src->pv) - 1;
        xen_pv_p2m_frame_pfns(src->pv, &pv->p2m_pfns, &pv->p2m_frames);
    }
    *blob_out = NULL;
    *len_out = 0;
    if (src->opts.config_file) {
        /* xl migrate -C: the file as it is; the receiving xl parses it. */
        FILE *f = fopen(src->opts.config_file, "r");
        long size = -1;

        if (f && !fseek(f, 0, SEEK_END))
            size = ftell(f);
        if (!f || size <= 0 || size > (long)MIG_STREAM_XL_OPTIONAL_DATA_MAX / 2 ||
            fseek(f, 0, SEEK_SET)) {
            rc = mig_error_set_errno(MIG_EINVAL, errno, "cannot read the config file "
                                     "'%s' given with -C (or it is empty or too big)",
                                     src->opts.config_file);
            if (f)
                fclose(f);
            goto out;
        }
        config = calloc(1, (size_t)size + 1);
        if (!config || fread(config, 1, (size_t)size, f) != (size_t)size) {
            rc = mig_error_set(MIG_EIO, "cannot read the config file '%s' given with -C",
                               src->opts.config_file);
            fclose(f);
            goto out;
        }
        fclose(f);
        rc = xen_stream_head(src->xch, src->domid, config, (uint32_t)size, false, pv,
                             &head, &head_len);
    } else {
        rc = domain_config_json(src, &config);
        if (!rc)
            rc = xen_stream_head(src->xch, src->domid, config,
                                 (uint32_t)strlen(config) + 1, true, pv, &head, &head_len);
    }
    if (rc)
        goto out;
    if (json_escape(name, sizeof(name), src->name)) {
        rc = mig_error_set(MIG_ELIMIT, "domain name '%s' is too long", src->name);
        goto out;
    }
    meta_size = strlen(name) + 256 + (src->opts.metadata_extra ?
                                      strlen(src->opts.metadata_extra) : 0);
    meta = malloc(meta_size);
    if (!meta) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for the prologue");
        goto out;
    }
    snprintf(meta, meta_size, "{\"domain\":\"%s\",\"uuid\":\"%s\",\"type\":\"%s\","
             "\"xen_version\":\"%d.%d\"%s%s}", name, src->uuid,
             src->pv ? "pv" : src->device_model ? "hvm" : "pvh",
             xc_version(src->xch, XENVER_version, NULL) >> 16,
             xc_version(src->xch, XENVER_version, NULL) & 0xffff,
             src->opts.metadata_extra && *src->opts.metadata_extra ? "," : "",
             src->opts.metadata_extra ? src->opts.metadata_extra : "");
    rc = mig_xen_prologue_build(meta, head, head_len, blob_out, len_out);
out:
    free(config);
    free(meta);
    free(head);
    return rc;
}

const struct mig_source_ops mig_xen_source_ops = {
    .name = "xen",
    .nr_pfns = src_nr_pfns,
    .open_streams = src_open_streams,
    .close_streams = src_close_streams,
    .prologue = src_prologue,
    .populated = src_populated,
    .log_dirty_enable = src_log_dirty_enable,
    .log_dirty_disable = src_log_dirty_disable,
    .harvest = src_harvest,
    .prefetch = src_prefetch,
    .read_page = src_read_page,
    .pause = src_pause,
    .resume = src_resume,
    .throttle = src_throttle,
    .save_state = src_save_state,
    .handover = src_handover,
    .memory_hash = src_memory_hash,
    .release = src_release,
    .resume_early = src_resume_early,
};

/* Open Xen's interfaces and find the domain: src->domid and its *info. */
static int find_domain(struct mig_xen_source *src, const char *domain, libxl_dominfo *info)
{
    uint32_t domid;

    src->xch = xc_interface_open(src->log, src->log, 0);
    if (!src->xch)
        return mig_error_set_errno(MIG_EPLATFORM, errno, "cannot open Xen's control "
                                   "interface: is this a Xen dom0, and are you root?");
    if (libxl_ctx_alloc(&src->ctx, LIBXL_VERSION, 0, src->log))
        return mig_error_set(MIG_EPLATFORM, "cannot open libxl: is this a Xen dom0?");
    if (libxl_domain_qualifier_to_domid(src->ctx, domain, &domid))
        return mig_error_set(MIG_EINVAL, "no domain '%s' here: give a name or id that "
                             "'xl list' shows", domain);
    src->domid = domid;
    if (!domid)
        return mig_error_set(MIG_EINVAL, "domain 0 cannot be migrated");
    if (libxl_domain_info(src->ctx, info, domid))
        return mig_error_set(MIG_EINVAL, "no domain '%s' here: give a name or id that "
                             "'xl list' shows", domain);
    return 0;
}

/*
 * The domain's type from its libxl configuration (Xen reports PVH as
 * HVM), and for HVM whether its device model is one the engine drives.
 */
static int domain_type(struct mig_xen_source *src, const char *domain,
                       libxl_domain_type *type_out)
{
    libxl_domain_config d_config;
    libxl_domain_type type;

    libxl_domain_config_init(&d_config);
    if (libxl_retrieve_domain_configuration(src->ctx, src->domid, &d_config, NULL)) {
        libxl_domain_config_dispose(&d_config);
        return mig_error_set(MIG_EIO, "libxl has no stored configuration for domain "
                             "'%s': was it created with xl?", domain);
    }
    type = d_config.c_info.type;
    if (type == LIBXL_DOMAIN_TYPE_HVM) {
        libxl_defbool stubdom = d_config.b_info.device_model_stubdomain;

        /* qemu-xen in dom0 is what the engine knows (no stub domain, no qemu-trad). */
        src->device_model = d_config.b_info.device_model_version ==
                                LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN &&
                            (libxl_defbool_is_default(stubdom) ||
                             !libxl_defbool_val(stubdom));
        xen_emulator_qmp_path(src->domid, src->dm_qmp, sizeof(src->dm_qmp));
        xen_emulator_save_path(src->domid, src->dm_save, sizeof(src->dm_save));
    }
    libxl_domain_config_dispose(&d_config);
    if (type != LIBXL_DOMAIN_TYPE_PVH && type != LIBXL_DOMAIN_TYPE_PV &&
        !src->device_model)
        return mig_error_set(MIG_ESTOCK, "domain '%s' is HVM with a device model the "
                             "xenmig engine does not drive (a stub domain or "
                             "qemu-traditional; it drives qemu-xen in dom0); use stock "
                             "'xl migrate'", domain);
    *type_out = type;
    return 0;
}

/* The domain's pfn space, special pages, dirty bitmap and mapping handle. */
static int open_memory(struct mig_xen_source *src, libxl_domain_type type)
{
    xen_pfn_t max_gpfn;
    int rc;

    if (xc_domain_maximum_gpfn(src->xch, src->domid, &max_gpfn) < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot read domain %u's highest "
                                   "pfn", src->domid);
    src->nr_pfns = (uint64_t)max_gpfn + 1;
    if (type == LIBXL_DOMAIN_TYPE_PV) {
        /* A PV guest's pfn space is its p2m. */
        rc = xen_pv_memory_open(src->log, src->xch, src->domid, &src->pv);
        if (rc)
            return rc;
        src->nr_pfns = xen_pv_nr_pfns(src->pv);
    } else if (xc_hvm_param_get(src->xch, src->domid, HVM_PARAM_STORE_PFN,
                                &src->store_pfn))
        src->store_pfn = 0;
    if (!src->pv && xc_hvm_param_get(src->xch, src->domid, HVM_PARAM_CONSOLE_PFN,
                                     &src->console_pfn))
        src->console_pfn = 0;
    src->bitmap_pages = (size_t)((src->nr_pfns + 8 * XC_PAGE_SIZE - 1) / (8 * XC_PAGE_SIZE));
    src->bitmap = xc__hypercall_buffer_alloc_pages(src->xch, &src->bitmap_hbuf,
                                                   (int)src->bitmap_pages);
    if (!src->bitmap)
        return mig_error_set(MIG_ENOMEM, "cannot allocate a dirty bitmap of %zu pages",
                             src->bitmap_pages);
    src->fmem = xenforeignmemory_open(src->log, 0);
    if (!src->fmem)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open foreign memory mapping");
    return 0;
}

int mig_xen_source_open(struct xentoollog_logger *log, const char *domain,
                        const struct mig_xen_source_options *opts,
                        struct mig_xen_source **src_out)
{
    struct mig_xen_source *src = NULL;
    libxl_domain_type type;
    libxl_dominfo info;
    char *name = NULL;
    int rc;

    *src_out = NULL;
    libxl_dominfo_init(&info);
    if (!opts || opts->version != MIG_XEN_SOURCE_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "xen source options version %u is not %u: "
                             "initialise them with MIG_XEN_SOURCE_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_XEN_SOURCE_OPTIONS_VERSION);
    src = calloc(1, sizeof(*src));
    if (!src)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    src->log = log;
    src->opts = *opts;
    src->ranged = -1;
    xen_throttle_init(&src->throttle);
    rc = find_domain(src, domain, &info);
    if (!rc)
        rc = domain_type(src, domain, &type);
    if (rc)
        goto out;
    if (info.paused || info.shutdown || info.dying) {
        rc = mig_error_set(MIG_EINVAL, "domain '%s' is not running (paused, shut down "
                           "or dying): start or unpause it first", domain);
        goto out;
    }
    name = libxl_domid_to_name(src->ctx, src->domid);
    snprintf(src->name, sizeof(src->name), "%s", name ? name : domain);
    snprintf(src->uuid, sizeof(src->uuid), LIBXL_UUID_FMT, LIBXL_UUID_BYTES(info.uuid));
    rc = open_memory(src, type);
    if (rc)
        goto out;
    *src_out = src;
    src = NULL;
out:
    free(name);
    libxl_dominfo_dispose(&info);
    mig_xen_source_close(src);
    return rc;
}

uint32_t mig_xen_source_domid(const struct mig_xen_source *src)
{
    return src->domid;
}

void mig_xen_source_close(struct mig_xen_source *src)
{
    if (!src)
        return;
    if (src->ctx)
        xen_throttle_undo(&src->throttle, src->ctx, src->log, src->domid,
                          "when the source closes");
    xen_throttle_forget(&src->throttle);
    if (src->logdirty)
        (void)src_log_dirty_disable(src);
    xen_pv_memory_close(src->pv);
    mig_dirty_bitmap_free(src->memory);
    if (src->fmem)
        xenforeignmemory_close(src->fmem);
    if (src->bitmap)
        xc__hypercall_buffer_free_pages(src->xch, &src->bitmap_hbuf,
                                        (int)src->bitmap_pages);
    if (src->ctx)
        libxl_ctx_free(src->ctx);
    if (src->xch)
        xc_interface_close(src->xch);
    free(src);
}
