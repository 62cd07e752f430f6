/*
 * sys/mig_backend.h: the implementers' header.  What the migration engine
 * (migrate/source.c, migrate/destination.c) needs from a backend, as two
 * tables: struct mig_source_ops for the side that sends a running guest,
 * struct mig_destination_ops for the side that builds it.  A backend fills
 * the table of each role it plays and nothing else; a member marked
 * optional may be NULL.  Users of the engine include mig_backend.h, never
 * this file.
 *
 * Every call gets the backend's own handle (be) first.  The calls that
 * move pages also get the stream context of the data connection whose
 * thread makes them (struct mig_stream_ctx), so a backend keeps per-stream
 * state (a mapping window, a batch of pages) without looking up which
 * thread calls.
 *
 * Threading: read_page, prefetch and write_page are called concurrently
 * from the stream threads, each with its own context (never twice for one
 * pfn at once); the source's memory_hash from the engine's verification
 * threads, one per stream context at most, while no stream thread runs;
 * every other member from the engine's own thread only.
 *
 * Errors: a member returns 0 or a MIG_E* code (mig_error.h) with the
 * message set by mig_error_set.
 */
#ifndef XENMIG_SYS_MIG_BACKEND_H
#define XENMIG_SYS_MIG_BACKEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../mig_backend.h"   /* the users' header, beside this directory */

struct mig_dirty_bitmap;

/*
 * A page's type: 4 bits the engine carries opaque from the source's
 * read_page to the destination's write_page, next to the pfn (0 = plain
 * memory).  The xen backend uses the PAGE_DATA type nibble of Xen's
 * stream (XEN_DOMCTL_PFINFO_* >> 28: page-table levels of a PV guest).
 */
#define MIG_PAGE_TYPE_MAX 15u

/*
 * One data connection as a backend sees it.  The engine owns the array of
 * contexts and sets index (0 .. streams-1); priv belongs to the backend:
 * its open_streams sets it, its close_streams (or the backend's own close)
 * releases it.
 */
struct mig_stream_ctx {
    unsigned int index;
    void *priv;
};

/* What one harvest cost the guest. */
struct mig_harvest_stats {
    uint64_t pages;             /* dirty pages harvested */
    double pause_seconds;       /* time all vCPUs were paused for it */
    double stall_seconds;       /* vCPU stall added up over vCPUs */
    double max_stall_seconds;   /* longest single vCPU stall */
};

struct mig_source_ops {
    /* The backend family ("sim", "xen"): a destination of the same family
     * takes the guest. */
    const char *name;

    /* Number of pfns of the guest (pfns 0 .. n-1). */
    uint64_t (*nr_pfns)(void *be);

    /*
     * Optional.  Called once before any page is read, with the n contexts
     * of the most streams the migration may use (index set, priv NULL):
     * set each priv.  n is max(streams, max_streams): the engine opens a
     * context up front for every stream the convergence ladder may widen
     * to, so a stream that joins mid-migration finds its context ready
     * and a backend never sees n change; some may never carry a page.
     * On failure, release what was set (close_streams is not called).
     * close_streams: after the last page is read and the last hash done,
     * with the same n contexts.
     */
    int (*open_streams)(void *be, struct mig_stream_ctx *streams, unsigned int n);
    void (*close_streams)(void *be, struct mig_stream_ctx *streams, unsigned int n);

    /*
     * Optional.  What the destination needs before any page (the xen
     * backend: the pre-flight facts and the head of the restore stream);
     * *blob_out malloc'ed, owned by the caller.
     */
    int (*prologue)(void *be, void **blob_out, size_t *len_out);

    /* Optional.  OR the pfns that hold memory into dst; round 0 sends
     * these (without it: every pfn). */
    int (*populated)(void *be, struct mig_dirty_bitmap *dst);

    /* Start tracking writes (every page counts as clean after); stop. */
    int (*log_dirty_enable)(void *be);
    int (*log_dirty_disable)(void *be);

    /*
     * OR the pages written since the last harvest (or enable) into dst and
     * re-arm tracking for them, the way mode says.  Must not lose a write
     * that races with it: a page written during the harvest is either in
     * dst or dirty for the next one.
     */
    int (*harvest)(void *be, enum mig_trace_mode mode, struct mig_dirty_bitmap *dst,
                   struct mig_harvest_stats *stats);

    /*
     * Optional.  The pfns (ascending) that stream st reads next with
     * read_page; the backend may map them at once.  read_page must still
     * work for any pfn.
     */
    int (*prefetch)(void *be, struct mig_stream_ctx *st, const uint64_t *pfns,
                    size_t count);

    /*
     * Copy pfn's current content into buf (page size bytes) and its type
     * into *type_out (0 .. MIG_PAGE_TYPE_MAX; the caller sets it to 0
     * first, so a backend without types leaves it), or return MIG_EABSENT
     * when pfn holds nothing to send now (a hole: nothing is sent; a
     * backend that skips a present page must report it dirty at the next
     * harvest).
     */
    int (*read_page)(void *be, struct mig_stream_ctx *st, uint64_t pfn, void *buf,
                     unsigned int *type_out);

    /* Stop / restart every vCPU (switchover, and resume after failure). */
    int (*pause)(void *be);
    int (*resume)(void *be);

    /*
     * Optional (the ladder's throttle rung; without it the rung is not
     * offered).  Let the running guest's vCPUs have at most percent
     * (1 .. 99) of the CPU time they had before the first call, or with
     * 100 put back exactly what the guest had before (its own scheduler
     * parameters on Xen); 100 when nothing was throttled does nothing.
     * The engine calls it with 100 just before it pauses the guest at the
     * switchover (a throttled guest would suspend slowly) and before every
     * resume() after a failure, so a guest never runs on throttled, here
     * or at the destination.  MIG_EUNSUPP
     * when this guest cannot be throttled (a scheduler without caps):
     * the engine then stops offering the rung.
     */
    int (*throttle)(void *be, unsigned int percent);

    /* The device and CPU state of the paused guest, as a blob (*state_out
     * malloc'ed, owned by the caller). */
    int (*save_state)(void *be, void **state_out, size_t *len_out);

    /*
     * Optional.  Guest paused: called once its state is sent, while the
     * destination restores it, before the destination is cleared to
     * resume (xl's way: rename the domain away so that the destination can
     * take its name).  resume() undoes it.
     */
    int (*handover)(void *be);

    /*
     * The paused guest's part of the memory digest for pfns [first, first
     * + count) (mig_memory_digest in mig_migrate.h): into *sum_out the sum
     * (mod 2^64) of mig_memory_digest_term(pfn, key) over those pfns, key
     * being the mig_page_key (mig_xfer.h) of the page's mig_page_hash and
     * type exactly as read_page would give them now (0 for no page), read
     * from guest memory itself, never from bookkeeping, so a write the
     * tracking missed shows up as a mismatch.  st is the context of a
     * stream whose thread is not running (the hash may use its state).
     *
     * Called from threads of the engine's own at the lowest CPU priority,
     * up to one per stream at once for disjoint ranges.  cancel
     * (caller-owned, may be NULL): once it reads true, the hash may stop
     * early and return MIG_ECANCELLED.
     */
    int (*memory_hash)(void *be, struct mig_stream_ctx *st, uint64_t first,
                       uint64_t count, const atomic_bool *cancel, uint64_t *sum_out);

    /* After a successful switchover the guest runs at the destination:
     * release it here (never called on failure). */
    int (*release)(void *be);

    /*
     * Optional, for a live checkpoint (options' resumes_here).  Guest
     * paused, every page and its state sent (the destination may still be
     * writing them): let the guest run on here now, as release would after
     * the destination's "resumed", since where it runs no longer depends
     * on the outcome.  0: it runs (release then does nothing more, and a
     * later failure leaves it running); 1: declined (release resumes it as
     * before, e.g. a checkpoint left paused, which a failure must resume);
     * a MIG_E* code: it could not (the guest is still paused; the failure
     * path resumes it).
     */
    int (*resume_early)(void *be);
};

struct mig_destination_ops {
    /* "family-role" ("sim-destination", "xen-destination"): takes a guest
     * of the source family before its first '-'. */
    const char *name;

    /*
     * Optional.  Accept the source's prologue, or refuse with MIG_ECOMPAT
     * and a message naming what is missing, before any data connection is
     * accepted.  A destination without it refuses a source that sends one.
     */
    int (*accept_prologue)(void *be, const void *blob, size_t len);

    /*
     * Optional.  Called by a save file's replay before the file's pages are
     * checked, with the prologue accept_prologue will get: check it as
     * accept_prologue does and start what is slow to start, creating
     * nothing that a failure would leave behind (the xen destination: its
     * pre-flight, then xl migrate-receive, which waits for the stream
     * head).  accept_prologue follows, or the destination's close undoes
     * it.  Errors as accept_prologue's.
     */
    int (*warm_up)(void *be, const void *blob, size_t len);

    /* Optional.  Make room for a guest of nr_pfns pages (once, before any
     * write_page).  MIG_ENOMEM if it cannot. */
    int (*prepare)(void *be, uint64_t nr_pfns);

    /* Optional.  As the source's: the contexts of the n streams (the
     * most the source may widen to, as it announced), before the first
     * write_page; close_streams after the last one. */
    int (*open_streams)(void *be, struct mig_stream_ctx *streams, unsigned int n);
    void (*close_streams)(void *be, struct mig_stream_ctx *streams, unsigned int n);

    /* Store a page arriving on stream st; data NULL means all zero; type
     * is what the source's read_page gave for it. */
    int (*write_page)(void *be, struct mig_stream_ctx *st, uint64_t pfn,
                      const void *data, unsigned int type);

    /*
     * Optional.  n pages (1 .. 1024), each with data, whose bytes lie one
     * after another in fd from offset, stored as n calls of
     * write_page(st, pfns[i], that page, types[i]) would store them.  A
     * save file's replay calls it where present instead of write_page,
     * with pages it has checked (fd stays open, the file read-only), so a
     * destination that passes pages on (the xen destination, into xl's
     * pipe) moves them without copying them through this process.
     */
    int (*write_file_pages)(void *be, struct mig_stream_ctx *st, int fd, uint64_t offset,
                            const uint64_t *pfns, const unsigned int *types, unsigned int n);

    /*
     * Optional.  Read a stored page back (from stream st's thread, after
     * its write_page), so the digest is of what is stored; without it, of
     * what arrived.
     */
    int (*read_page)(void *be, struct mig_stream_ctx *st, uint64_t pfn, void *buf,
                     unsigned int *type_out);

    /*
     * Optional.  Every stream has delivered one epoch and waits for the
     * next (the source does not send it before it hears back): push its
     * pages all the way (the xen backend: flush the batches and wait until
     * xl has read them), so that the source's link rate is what the
     * destination applies and nothing is queued at the switchover.
     */
    int (*epoch_applied)(void *be);

    /* Apply the guest's device and CPU state (from the source's
     * save_state). */
    int (*restore_state)(void *be, const void *state, size_t len);

    /* Start the guest.  MIG_EABSENT means it failed AND the copy here is
     * gone (destroyed), so the source may safely resume its own. */
    int (*resume)(void *be);

    /*
     * Optional, used in place of read_page where a backend keeps its pages
     * in its own memory: where pfn's stored page is (page size bytes,
     * readable until the next write_page of pfn) and its type, so that the
     * digest is of what is stored without copying it out.  Called as
     * read_page is; cannot fail (a backend that may not find a stored
     * page offers read_page only).
     */
    const void *(*stored_page)(void *be, struct mig_stream_ctx *st, uint64_t pfn,
                               unsigned int *type_out);
};

#endif /* XENMIG_SYS_MIG_BACKEND_H */
