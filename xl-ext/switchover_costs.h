/*
 * switchover_costs.h: what a switchover costs on this host whatever the
 * pages: stopping the guest (pause), reading its device state (state), the
 * destination taking over (destination) and resuming there (resume), as
 * mig_migrate_result.downtime_parts measures them at the source.  They are
 * stable for a host and a guest type, so they are learned from the
 * migrations that succeeded here and fed to the convergence policy as its
 * fixed overhead (mig_precopy_options.overhead_ms) before the next one.
 *
 * One JSON file, STATE_DIR/switchover-costs.json (STATE_DIR:
 * $XENMIG_STATE_DIR, else /var/lib/xenmig; created 0755 when missing),
 * keyed by backend and guest type ("sim", "xen-pv", "xen-pvh",
 * "xen-hvm"): per key the number of migrations learned and each part's
 * last SWITCHOVER_COSTS_SAMPLES samples in ms, oldest first
 * (docs/formats.md, "Switchover cost store").  A part's figure is the
 * median of its samples: one odd migration (a guest slow to suspend once)
 * moves a median by one place, where it would drag a mean or an EWMA for
 * several migrations.  The fixed cost is the sum of the four medians.
 *
 * The store never fails a migration: a file that cannot be read or written
 * is warned about once on stderr (its path and the system's error) and
 * the migration goes on without the store's figures (a probe's then,
 * switchover_probe.h, else the default overhead).  A file that is not
 * exactly the format (wrong types, negative, huge or non-finite numbers,
 * unknown keys, more samples than kept) is warned about, naming the path
 * and what is wrong, and ignored whole: none of it is trusted.  The file
 * is only ever replaced whole (util/file.h).  This file must never exit
 * or abort the process.
 */
#ifndef XENMIG_XL_EXT_SWITCHOVER_COSTS_H
#define XENMIG_XL_EXT_SWITCHOVER_COSTS_H

#include <stdbool.h>
#include <stddef.h>

#include "migrate_common.h"
#include "mig_migrate.h"

#define SWITCHOVER_COSTS_FILE "switchover-costs.json"
#define SWITCHOVER_COSTS_VERSION 1
#define SWITCHOVER_COSTS_SAMPLES 8          /* kept per part and key */
#define SWITCHOVER_COSTS_MAX_MS 3600000.0   /* a sample above an hour is refused */

/* The four fixed parts of a switchover, in ms. */
struct switchover_parts {
    double pause_ms, state_ms, destination_ms, resume_ms;
};

/* The store's figures for one key. */
struct switchover_costs {
    unsigned int learned;               /* migrations learned from */
    bool seeded;                        /* the figures are a probe's (learned 0) */
    struct switchover_parts median;     /* each part's median */
    double fixed_ms;                    /* their sum */
};

/*
 * The store's key of a guest type: "sim" for "sim", "xen-pv", "xen-pvh"
 * or "xen-hvm" for libxl's "pv", "pvh", "hvm" (domain_record_type);
 * "xen-hvm" for anything else, as domain_record_type takes it.  A save's
 * (save true) is the same with "-save" after it: its switchover ends in a
 * file, not in a restore elsewhere, so it has figures of its own.  Static.
 */
const char *switchover_costs_key(const char *type, bool save);

/* The store's path into buf (size bytes, always terminated). */
void switchover_costs_path(char *buf, size_t size);

/*
 * The figures of key: true when the store has samples for it (*costs
 * filled), false when it has none (no file, no such key, a file ignored
 * with a warning; *costs zeroed).
 */
bool switchover_costs_lookup(const char *key, struct switchover_costs *costs);

/*
 * Before a migration of a key guest: policy->overhead_ms becomes the
 * learned fixed cost (rounded to a ms) when the store has one, else stays
 * (the default, 20 ms); out->fixed_cost_learned / fixed_cost_seeded say
 * where it came from, for the summary.
 */
void switchover_costs_use(const char *key, struct mig_precopy_options *policy,
                          struct migrate_output *out);

/*
 * After a migration of a key guest: if it succeeded and was no dry run, add its
 * result->downtime_parts to the store and replace the file whole.  A
 * probe's seed is dropped by the first migration learned.  Returns 0, or
 * a MIG_E* code after warning (once per process) on stderr.
 */
int switchover_costs_learn(const char *key, const struct mig_migrate_result *result);

/*
 * A probe's figures (`xl-ext migrate --dry-run`): kept as key's one sample
 * while it has learned nothing from a migration; ignored (returns 0)
 * once it has.  Values outside 0..SWITCHOVER_COSTS_MAX_MS are MIG_EINVAL.
 * Returns 0, or a MIG_E* code after warning on stderr.
 */
int switchover_costs_seed(const char *key, const struct switchover_parts *probe);

/* Tests: each warning is given once a process; after this, again. */
void switchover_costs_forget_warnings(void);

#endif /* XENMIG_XL_EXT_SWITCHOVER_COSTS_H */
