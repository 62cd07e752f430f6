/*
 * mig_sim_backend.h: the simulated guest (mig_sim.h) as a migration backend
 * (mig_backend.h), so `xl-ext migrate --sim` runs the very engine that
 * migrates Xen domains.
 */
#ifndef XENMIG_MIG_SIM_BACKEND_H
#define XENMIG_MIG_SIM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mig_backend.h"
#include "mig_sim.h"

/*
 * Source side: a running sim guest, owned by the caller.  The source ops
 * include throttle (mig_sim_guest_throttle); the percent in force reads
 * back with mig_sim_guest_throttle_percent(source.guest).
 */
struct mig_sim_source {
    struct mig_sim_guest *guest;   /* not owned */
    unsigned int nr_vcpus;
    uint64_t loose_chunk_pfns;     /* 0: the sim default */
    /* filled by the backend */
    bool released;
    unsigned int harvests;
    uint64_t harvest_paused_ns;
    unsigned int throttle_calls;   /* throttle() calls that succeeded */
    unsigned int throttle_lowest;  /* lowest percent they set; 0: none */
};

/* Destination side: memory mapped by prepare(), unmapped by dispose. */
struct mig_sim_destination {
    size_t max_bytes;              /* refuse larger guests; 0 = no limit */
    /*
     * Save instead of run: write the received guest (format in
     * sim_backend.c) to a temporary file beside this one before the source
     * is asked to let go, and rename it over this path only on "go", once
     * the source verified the memory; the guest then runs nowhere.  A
     * write error (a full disk) or an aborted migration leaves the old file
     * untouched and no temporary file behind; the guest keeps running at
     * the source.  NULL: run it here.
     */
    const char *save_path;
    /* filled by the backend */
    void *save_file;               /* the file being written; dispose discards it */
    uint8_t *memory;
    uint64_t nr_pfns;
    void *populated;               /* a flag per 2 MiB chunk given memory */
    bool running;
};

extern const struct mig_source_ops mig_sim_source_ops;
extern const struct mig_destination_ops mig_sim_destination_ops;

/*
 * The memory digest (mig_memory_digest, mig_migrate.h) of a prepared
 * destination's memory, every pfn hashed as it is now: what the source's
 * digest of the same guest is.  MIG_EINVAL before prepare.
 */
int mig_sim_destination_digest(const struct mig_sim_destination *d, uint64_t *digest_out);

/* Unmap a destination's memory (the struct itself is the caller's). */
void mig_sim_destination_dispose(struct mig_sim_destination *d);

#endif /* XENMIG_MIG_SIM_BACKEND_H */
