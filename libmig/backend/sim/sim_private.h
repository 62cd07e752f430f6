/*
 * sim_private.h: internals of the simulated guest (libmig/backend/sim),
 * shared by guest.c (memory, vCPU writer threads, pause) and tracker.c
 * (kernel dirty tracking).  Nothing outside libmig/backend/sim includes it.
 */
#ifndef XENMIG_SIM_PRIVATE_H
#define XENMIG_SIM_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include "mig_sim.h"

struct sim_vcpu {
    struct mig_sim_guest *guest;
    unsigned index;
    pthread_t thread;
    uint64_t random_state;
    uint64_t cursor;                  /* SEQUENTIAL: next pfn */
    uint64_t parked_since;            /* under guest->lock; 0: not parked */
    /* written by this vCPU only, with atomic stores; read by anyone */
    uint64_t writes;
    uint64_t slow_write_count, slow_write_total_ns, slow_write_max_ns;
    uint64_t throttle_count, throttled_ns;
    /* written under guest->lock by the resumer, with atomic stores */
    uint64_t pause_count, pause_total_ns, pause_max_ns;
};

struct sim_tracker {
    enum mig_sim_tracker kind;        /* PAGEMAP_SCAN or UFFD_SYNC */
    int uffd;
    int pagemap_fd;                   /* PAGEMAP_SCAN */
    void *scan_vector;                /* PAGEMAP_SCAN: result regions */
    /* UFFD_SYNC: pages written since their last re-arm, set by the fault
     * handler; one lock per granule orders a fault's "record + unprotect"
     * against a harvest's "re-protect + collect" on the same pages */
    struct mig_dirty_bitmap *written;
    pthread_mutex_t *granule_locks;
    uint64_t nr_granules;
    pthread_t handler;
    int handler_started;
    int stop_pipe[2];
    int handler_error;                /* errno of a failed fault resolution */
};

struct mig_sim_guest {
    struct mig_sim_options options;
    uint8_t *memory;
    uint64_t memory_bytes;
    uint64_t nr_pfns;
    struct sim_tracker tracker;

    struct sim_vcpu *vcpus;
    int running;
    int stop_requested;               /* atomic */
    int pause_requested;              /* atomic */
    unsigned throttle_percent;        /* atomic; 100: not throttled */
    unsigned pause_depth;             /* controlling thread only */
    unsigned nr_parked;               /* under lock; reset by resume */
    uint64_t resume_generation;       /* under lock; +1 per resume */
    pthread_mutex_t lock;
    pthread_cond_t parked_cond;       /* a vCPU parked */
    pthread_cond_t resume_cond;       /* pause lifted or stop requested */
};

/* splitmix64: the writers' and the fill's PRNG; *state advances by one step */
static inline uint64_t sim_random_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* fill.c */
/* Fill the guest's memory as options.fill says (ZERO: nothing to do). */
void sim_fill_memory(struct mig_sim_guest *guest);
/* One page of fill for pfn with seed; its content depends on nothing else. */
void sim_fill_page(uint8_t *page, enum mig_sim_fill fill, uint64_t seed,
                   uint64_t pfn);

/* tracker.c */
int sim_tracker_init(struct mig_sim_guest *guest);
void sim_tracker_fini(struct mig_sim_guest *guest);
/*
 * Harvest and re-arm the pfns [start, start + count) into dst; adds the
 * number of pfns reported to *reported.
 */
int sim_tracker_harvest_range(struct mig_sim_guest *guest, uint64_t start,
                              uint64_t count, struct mig_dirty_bitmap *dst,
                              uint64_t *reported);

#endif /* XENMIG_SIM_PRIVATE_H */
