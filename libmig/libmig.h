/*
 * libmig.h: public umbrella header of the xenmig migration engine.
 *
 * Rooms (docs/architecture.md): stream (Xen stream codecs), dirty (dirty
 * sets), precopy (the convergence policy), xfer (the data streams),
 * migrate (the engine), the backends (sim, xen) and savefile (save files
 * written and replayed).  Each room has its own
 * header, included from here; backends are written against
 * sys/mig_backend.h.  Logging goes through Xen's xentoollog
 * (xentoollog_logger *), so libmig logs exactly like libxc and libxl.
 */
#ifndef XENMIG_LIBMIG_H
#define XENMIG_LIBMIG_H

#include "mig_error.h"
#include "mig_stream.h"
#include "mig_dirty.h"
#include "mig_xfer.h"
#include "mig_precopy.h"
#include "mig_backend.h"
#include "mig_migrate.h"
#include "mig_sim.h"
#include "mig_sim_backend.h"
#include "mig_savefile.h"

#endif /* XENMIG_LIBMIG_H */
