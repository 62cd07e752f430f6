/*
 * mig_backend.h: what a user of the engine needs to know about backends,
 * the code that knows where guest memory lives (backend/sim: a simulated
 * guest in this process; backend/xen: a real domain through libxenctrl,
 * libxenforeignmemory and libxl).  A user takes a backend's two tables
 * from its own header (mig_sim_backend.h, mig_xen.h) and hands one to
 * mig_migrate_send or mig_migrate_receive (mig_migrate.h); it never looks
 * inside them.  Writing a backend: sys/mig_backend.h, the implementers'
 * header, kept apart from this one.
 */
#ifndef XENMIG_MIG_BACKEND_H
#define XENMIG_MIG_BACKEND_H

#include "mig_error.h"

/* A backend's table for the source role, and for the destination role. */
struct mig_source_ops;
struct mig_destination_ops;

/* How the source re-arms dirty tracking at each harvest. */
enum mig_trace_mode {
    MIG_TRACE_STOP = 0,    /* every harvest pauses all vCPUs (Xen 4.17 CLEAN) */
    MIG_TRACE_LOOSE = 1,   /* harvest range by range, no global pause */
};

#endif /* XENMIG_MIG_BACKEND_H */
