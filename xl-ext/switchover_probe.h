/*
 * switchover_probe.h: the switchover's fixed costs of a guest type this
 * host has no history of (switchover_costs.h), from a short probe of the
 * host instead of the 20 ms default.
 *
 * On Xen the fixed parts (pause, state, destination, resume) are mostly
 * dom0's toolstack process work: libxl, xenstore, hotplug shell scripts,
 * the device model's start for HVM.  The probe times that kind of work
 * here: SWITCHOVER_PROBE_RUNS spawns of a shell that does nothing, each
 * waited for until it exited, one after the other; their median in µs.
 * They must end within SWITCHOVER_PROBE_BUDGET_MS in all: those that did
 * count (on a very slow host fewer runs), none is a failed probe.  A type's figures are then its prior (the
 * parts measured where the calibration table in switchover_probe.c was
 * taken, docs/architecture.md "The probe's calibration") times
 * scale = (probe / reference) ^ SWITCHOVER_PROBE_EXPONENT, the reference
 * being the probe's median on that host, clamped to
 * SWITCHOVER_PROBE_SCALE_MIN..MAX: under load a spawn slows more than
 * Xen's suspend and restore do (in the lab, 6.5 times against 1.8).
 * $XENMIG_PROBE_REFERENCE_US overrides the reference of the Xen types
 * (the lab's dom0) without a rebuild.
 *
 * Nothing here fails a migration: a probe that cannot run or does not end
 * within its budget is warned about and the default stays.  Every child
 * started here is waited for (killed first when over budget); nothing
 * else is touched.  This file must never exit or abort the process.
 */
#ifndef XENMIG_XL_EXT_SWITCHOVER_PROBE_H
#define XENMIG_XL_EXT_SWITCHOVER_PROBE_H

#include <stdbool.h>

#include "migrate_common.h"
#include "switchover_costs.h"

#define SWITCHOVER_PROBE_RUNS 5
#define SWITCHOVER_PROBE_BUDGET_MS 2000     /* all runs; none within it: the default */
#define SWITCHOVER_PROBE_EXPONENT 0.6    /* fitted: docs/architecture.md */
#define SWITCHOVER_PROBE_SCALE_MIN 0.05
#define SWITCHOVER_PROBE_SCALE_MAX 20.0
#define SWITCHOVER_PROBE_REFERENCE_ENV "XENMIG_PROBE_REFERENCE_US"

/* What one probe measured and the figures made of it. */
struct switchover_probe {
    double probe_us;                /* median of the runs, µs */
    unsigned int runs;              /* the runs that ended within the budget */
    double reference_us;            /* the same on the calibration host */
    double scale;                   /* (probe_us / reference_us) ^ EXPONENT, clamped */
    bool clamped;                   /* the unclamped scale was outside MIN..MAX */
    struct switchover_parts parts;  /* the prior's parts times scale, ms */
    double fixed_ms;                /* their sum */
};

/*
 * The reference probe time of key (a store key: "sim", "xen-pv", ...)
 * into *us: the table's, or for a Xen key $XENMIG_PROBE_REFERENCE_US when
 * set and not empty.  Returns 0, or MIG_EINVAL when the variable is not a
 * positive finite number of µs (the message quotes it) or key is unknown.
 */
int switchover_probe_reference_us(const char *key, double *us);

/*
 * The figures of key for a probe of probe_us against reference_us (both
 * positive and finite): *p filled.  Pure arithmetic.  Returns 0, or
 * MIG_EINVAL (key unknown, a time not positive).
 */
int switchover_probe_figures(const char *key, double probe_us, double reference_us,
                             struct switchover_probe *p);

/*
 * Time up to runs spawns of argv (argv[0] an absolute path), each waited
 * for until it exited, one after the other within budget_ms in all: the
 * median of those that ended within the budget into *median_us, their
 * number into *done (a run still going at the budget's end is killed,
 * reaped and not counted).  Returns 0, or a MIG_E* code (MIG_ELIMIT: not
 * even the first run ended within the budget; MIG_EIO: a run could not
 * be started or did not exit 0; MIG_EINVAL: bad arguments).
 */
int switchover_probe_measure(const char *const argv[], unsigned int runs,
                             unsigned int budget_ms, double *median_us, unsigned int *done);

/* Measure this host (SWITCHOVER_PROBE_RUNS runs) and make key's figures. */
int switchover_probe_run(const char *key, struct switchover_probe *p);

/*
 * Before a migration or dry run of a key guest, in place of
 * switchover_costs_use(): the store's figures when it has any for key
 * (learned, or a seed); else the probe's (*p, which must live as long as
 * out): policy->overhead_ms becomes their sum, out->fixed_cost_seeded is
 * set and out->probe points to *p.  A probe that fails is warned about
 * on stderr (cmd names the command) and the default stays.
 */
void switchover_probe_use(const char *cmd, const char *key, struct switchover_probe *p,
                          struct mig_precopy_options *policy, struct migrate_output *out);

/*
 * After a successful migration of a key guest: learn it
 * (switchover_costs_learn); after a dry run whose fixed cost the probe
 * gave (out->probe), seed the store with it (switchover_costs_seed).
 */
void switchover_probe_keep(const char *key, const struct mig_migrate_result *r,
                           const struct migrate_output *out);

#endif /* XENMIG_XL_EXT_SWITCHOVER_PROBE_H */
