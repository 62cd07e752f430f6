/*
 * mem_backend.h: a test double of a backend (sys/mig_backend.h) over plain
 * memory, with a table for each role.
 * Writes are made through mem_backend_write(), which marks the page dirty
 * (software tracking): the engine's logic is tested, not the kernel's
 * tracking (that is backend/sim's job and has its own tests).
 */
#ifndef XENMIG_TEST_MEM_BACKEND_H
#define XENMIG_TEST_MEM_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "sys/mig_backend.h"

struct mig_dirty_bitmap;

struct mem_backend {
    uint8_t *memory;
    uint8_t *types;              /* per pfn: the page type (read_page / write_page) */
    uint64_t nr_pfns;
    struct mig_dirty_bitmap *tracked;
    bool logging, paused, released, resumed_after_pause;
    unsigned int pauses, resumes, harvests, log_enables;
    _Atomic unsigned long pages_read;    /* source: read_page calls */
    _Atomic unsigned long pages_in_place; /* destination: stored_page calls */
    int fail_prepare;            /* destination: prepare returns this */
    int fail_log_dirty;          /* source: log_dirty_enable returns this */
    bool corrupt_writes;         /* destination: store pfn 7 wrongly */
    char state[64];              /* "device state" */
    /* The running guest's writes of a round: called at each harvest
     * while the guest is not paused. */
    void (*guest_writes)(struct mem_backend *m, void *arg);
    void *guest_writes_arg;
    /*
     * Ordering between the two sides of one migration (NULL: none):
     * memory_hash (source) and restore_state (destination) first wait
     * until *wait_for is true, on a condition variable that setting a flag
     * here signals (a bound of last resort, MEM_BACKEND_WAIT_S, ends a
     * wait for a step that never comes).  Once the whole guest was hashed
     * and every thread that hashed it has ended (so the engine has seen
     * each part finish), *hashed_flag is set: memory_hash must then run on
     * threads that end, as the engine's do.  resume sets *resumed_flag.
     */
    _Atomic bool *wait_for, *hashed_flag, *resumed_flag;
    /* mem_backend_resume_early (source): calls that let the guest run,
     * and the flag each sets for the other side */
    unsigned int early_resumes;
    _Atomic bool *early_flag;
    bool logging_at_early_resume;        /* log-dirty was still on then */
    /* memory_hash or restore_state: the wait for *wait_for ran out (the
     * other side's step never came while this side waited) */
    _Atomic bool waited_in_vain;
    /* handover (source): calls, the error it returns (0: none), whether
     * it holds (resume undoes it), and a flag it sets for the other side */
    unsigned int handovers;
    int fail_handover;
    bool handed_over;
    _Atomic bool *handed_flag;
    /* memory_hash was cancelled while it waited (set by its thread) */
    _Atomic bool hash_cancelled;
    /* memory_hash: calls that ended well, and the pfns they hashed */
    _Atomic unsigned int hash_calls;
    _Atomic uint64_t hashed_pages;
    /* hashed_flag: pfns hashed by threads that have ended since */
    _Atomic uint64_t ended_hash_pages;
    /* prefetch: pfns announced, and any that
     * came out of order within one call */
    _Atomic unsigned long prefetched, prefetch_disorder;
    /* open_streams: a tag per stream, each context's priv; every page
     * call checks that its context is one of them */
    int *stream_tags;
    unsigned int streams_open;           /* n of the last open_streams */
    /* pages read (source) or written (destination) by stream index, the
     * first MEM_BACKEND_COUNTED_STREAMS */
    _Atomic unsigned long stream_pages[8];
    unsigned int streams_opened, streams_closed;   /* calls */
    /* throttle (source, mem_backend_throttle): the CPU share now, the
     * lowest one asked, calls, and whether resume found it below 100 */
    unsigned int throttle_percent, throttle_min, throttle_calls;
    bool resumed_throttled;
    /* epoch_applied (destination): once set, the next one fails, as a
     * destination that dies */
    _Atomic bool fail_next_epoch;
};

#define MEM_BACKEND_COUNTED_STREAMS 8

/* How long one side waits for the other's step before giving up. */
#define MEM_BACKEND_WAIT_S 30

/*
 * The source's throttle op (mig_source_ops.throttle), for tests that offer
 * it: mem_source_ops leaves it out, so the ladder has no throttle rung.
 */
int mem_backend_throttle(void *be, unsigned int percent);

/* Its prefetch op only counts what it is told (prefetched, prefetch_disorder). */
extern const struct mig_source_ops mem_source_ops;
/* A checkpoint's early resume (mig_source_ops.resume_early), not in
 * mem_source_ops: a test puts it into a copy of the table. */
int mem_backend_resume_early(void *backend);
extern const struct mig_destination_ops mem_destination_ops;
/* The same with stored_page: the digest looks at the stored pages in place. */
extern const struct mig_destination_ops mem_destination_in_place_ops;

/* A source with nr_pfns pages of patterned content, or an empty destination. */
void mem_backend_init(struct mem_backend *m, uint64_t nr_pfns, bool source);
void mem_backend_dispose(struct mem_backend *m);

/* Guest write: change one byte of pfn and mark it dirty. */
void mem_backend_write(struct mem_backend *m, uint64_t pfn, uint8_t value);

/* Guest change of a page's type (content unchanged); marks it dirty. */
void mem_backend_set_type(struct mem_backend *m, uint64_t pfn, unsigned int type);

#endif
