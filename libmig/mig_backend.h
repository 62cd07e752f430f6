/*
 * mig_backend.h: what the migration engine needs from "where guest memory
 * lives".  A backend is the only code that knows that: backend/sim (a
 * simulated guest in this process) and backend/xen (a real domain through
 * libxenctrl/libxenforeignmemory/libxl).  The engine drives every backend
 * through this table and never knows which one it has.
 *
 * Threading: read_page/write_page are called concurrently from the stream
 * threads (never twice for one pfn at once); memory_hash from the engine's
 * verification threads (see there); every other operation is called from
 * the engine's thread only.
 */
#ifndef XENMIG_MIG_BACKEND_H
#define XENMIG_MIG_BACKEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mig_error.h"

struct mig_dirty_bitmap;

/*
 * A page's type: 4 bits the engine carries opaque from the source's
 * read_page to the destination's write_page, next to the pfn (0 = plain
 * memory).  The xen backend uses the PAGE_DATA type nibble of Xen's
 * stream (XEN_DOMCTL_PFINFO_* >> 28: page-table levels of a PV guest).
 */
#define MIG_PAGE_TYPE_MAX 15u

enum mig_trace_mode {
    MIG_TRACE_STOP = 0,    /* every harvest pauses all vCPUs (Xen 4.17 CLEAN) */
    MIG_TRACE_LOOSE = 1,   /* harvest range by range, no global pause */
};

/* What one harvest cost the guest. */
struct mig_harvest_stats {
    uint64_t pages;             /* dirty pages harvested */
    double pause_seconds;       /* time all vCPUs were paused for it */
    double stall_seconds;       /* vCPU stall added up over vCPUs */
    double max_stall_seconds;   /* longest single vCPU stall */
};

struct mig_backend_ops {
    /*
     * "family" or "family-role" ("sim", "sim-destination", "xen"): a
     * destination only takes a guest of its own family.
     */
    const char *name;

    /* Number of pfns of the guest (pfns 0 .. n-1). */
    uint64_t (*nr_pfns)(void *backend);

    /*
     * Destination (optional): make room for a guest of nr_pfns pages
     * (called once, before any write_page).  MIG_ENOMEM if it cannot.
     */
    int (*prepare)(void *backend, uint64_t nr_pfns);

    /*
     * Source: copy pfn's current content into buf (page size bytes) and
     * its type into *type_out (0 .. MIG_PAGE_TYPE_MAX; the caller sets it
     * to 0 first, so a backend without types leaves it), or return
     * MIG_EABSENT when pfn holds nothing to send now (a hole: nothing is
     * sent; a backend that skips a present page must report it dirty at
     * the next harvest).  Destination (optional, NULL = none): read a
     * stored page back, so the digest is of what is stored; without it,
     * of what arrived (*type_out is then ignored).
     */
    int (*read_page)(void *backend, uint64_t pfn, void *buf, unsigned int *type_out);

    /*
     * Destination: store a page; data NULL means all zero; type is what
     * the source's read_page gave for it.
     */
    int (*write_page)(void *backend, uint64_t pfn, const void *data, unsigned int type);

    /* Source: start tracking writes; every page counts as clean after. */
    int (*log_dirty_enable)(void *backend);
    int (*log_dirty_disable)(void *backend);

    /*
     * Source: OR the pages written since the last harvest (or enable) into
     * dst and re-arm tracking for them, the way mode says.  Must not lose
     * a write that races with it: a page written during the harvest is
     * either in dst or dirty for the next one.
     */
    int (*harvest)(void *backend, enum mig_trace_mode mode,
                   struct mig_dirty_bitmap *dst, struct mig_harvest_stats *stats);

    /*
     * Stop / restart every vCPU (switchover, and resume after failure).
     * Destination resume: MIG_EABSENT means it failed AND the copy here is
     * gone (destroyed), so the source may safely resume its own.
     */
    int (*pause)(void *backend);
    int (*resume)(void *backend);

    /*
     * Source: the device and CPU state of the paused guest, as a blob
     * (*state_out malloc'ed, owned by the caller).  Destination: apply it.
     */
    int (*save_state)(void *backend, void **state_out, size_t *len_out);
    int (*restore_state)(void *backend, const void *state, size_t len);

    /*
     * Source: the paused guest's part of the memory digest for pfns
     * [first, first + count) (mig_memory_digest in mig_migrate.h): into
     * *sum_out the sum (mod 2^64) of mig_memory_digest_term(pfn, key) over
     * those pfns, key being the mig_page_key (mig_xfer.h) of the page's
     * mig_page_hash and type exactly as read_page would give them now (0
     * for no page), read from guest memory itself, never from bookkeeping,
     * so a write the tracking missed shows up as a mismatch.
     *
     * The engine calls it from threads of its own (at the lowest CPU
     * priority, so it never slows the switchover), up to one per stream at
     * once for disjoint ranges, while its own thread only talks to the
     * destination.  cancel (caller-owned, may be NULL): once it reads
     * true, the hash may stop early and return MIG_ECANCELLED (the engine
     * sets it when the migration failed and the guest is to resume).
     */
    int (*memory_hash)(void *backend, uint64_t first, uint64_t count,
                       const atomic_bool *cancel, uint64_t *sum_out);

    /*
     * Source after a successful switchover: the guest now runs on the
     * destination; release it here (never called on failure).
     */
    int (*release)(void *backend);

    /*
     * Optional (NULL: none).  Source: OR the pfns that hold memory into dst;
     * round 0 sends these (without it: every pfn).
     */
    int (*populated)(void *backend, struct mig_dirty_bitmap *dst);

    /*
     * Optional.  Source: what the destination needs before any page (the
     * xen backend: the pre-flight facts and the head of the restore
     * stream); *blob_out malloc'ed, owned by the caller.  Destination:
     * accept it, or refuse with MIG_ECOMPAT and a message naming what is
     * missing, before any data connection is accepted.  A destination
     * without accept_prologue refuses a source that sends one.
     */
    int (*prologue)(void *backend, void **blob_out, size_t *len_out);
    int (*accept_prologue)(void *backend, const void *blob, size_t len);

    /*
     * Optional.  Source, guest paused: called once the guest's state is
     * sent, while the destination restores it, and before the destination
     * is cleared to resume (xl's way: rename the domain away so that the
     * destination can take its name).  resume() undoes it.
     */
    int (*handover)(void *backend);

    /*
     * Optional.  Destination: every stream has delivered one epoch and
     * waits for the next (the source does not send it before it hears
     * back); push its pages all the way (the xen backend: flush the
     * batches and wait until xl has read them), so that the source's link
     * rate is what the destination applies and nothing is queued at the
     * switchover.
     */
    int (*epoch_applied)(void *backend);

    /*
     * Optional.  Source, from a stream thread: the pfns (ascending) that
     * this thread reads next with read_page; a backend may map them at
     * once.  read_page must still work for any pfn.
     */
    int (*prefetch)(void *backend, const uint64_t *pfns, size_t count);
};

#endif /* XENMIG_MIG_BACKEND_H */
