/*
 * throttle.h: the Xen source's throttle (throttle.c), the convergence
 * ladder's throttle rung (sys/mig_backend.h, struct mig_source_ops
 * throttle): a running domain slowed through its scheduler's cap, and the
 * cap it had put back.  Private to libmig/backend/xen.
 *
 * Xen's cap (credit and credit2 alike) is the share of one physical CPU
 * the whole domain may use, in percent (100 = one pCPU, 400 = four); 0
 * means no cap, so an uncapped domain of V vCPUs can use V * 100.  The
 * facts this relies on, with where in Xen 4.17 they were read, are at the
 * top of throttle.c.
 */
#ifndef XENMIG_XEN_THROTTLE_H
#define XENMIG_XEN_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include <libxl.h>

struct xentoollog_logger;

/* Xen's cap is a 16-bit field (struct xen_domctl_sched_credit{,2}). */
#define XEN_THROTTLE_CAP_MAX 65535

/*
 * What the throttle of one domain keeps (in the source's handle).  Zeroed
 * or xen_throttle_init()ed before first use.
 */
struct xen_throttle {
    bool saved;                          /* original is what the domain had */
    libxl_domain_sched_params original;  /* read at the first throttle */
    unsigned int vcpus;                  /* its online vCPUs then */
    int cap;                             /* the cap set now (saved only) */
};

void xen_throttle_init(struct xen_throttle *t);

/*
 * Pure: the cap that lets a domain have percent (1 .. 99) of the CPU it
 * had with original_cap (0: none) and online_vcpus online vCPUs, under
 * scheduler sched: max(1, ceil(base * percent / 100)), base being
 * original_cap when it is non-zero, else online_vcpus * 100.  Into
 * *cap_out (untouched on error).  MIG_EUNSUPP naming the scheduler when it
 * has no cap (only credit and credit2 have one), or when the cap would not
 * fit Xen's field; MIG_EINVAL quoting a percent outside 1 .. 99, a
 * negative cap, or no online vCPU to throttle.  domid only names the
 * domain in messages.
 */
int xen_throttle_cap(uint32_t domid, libxl_scheduler sched, int original_cap,
                     unsigned int online_vcpus, unsigned int percent, int *cap_out);

/*
 * Pure: make a configuration's scheduler parameters (what libxl's
 * retrieve_domain_configuration read from the hypervisor, see throttle.c)
 * carry the cap the domain had before it was throttled; untouched when t
 * holds nothing.
 */
void xen_throttle_config(const struct xen_throttle *t, libxl_domain_sched_params *config);

/*
 * The backend's throttle op for domain domid: percent 1 .. 99 sets the cap
 * xen_throttle_cap() gives (the original parameters and online vCPUs are
 * read and kept in t at the first call); 100 is xen_throttle_restore().
 * Every change is logged on log (may be NULL) with the old and new cap.
 * Errors as xen_throttle_cap(), MIG_EIO when libxl cannot read or set the
 * parameters; t is unchanged on error.
 */
int xen_throttle_apply(struct xen_throttle *t, libxl_ctx *ctx, struct xentoollog_logger *log,
                       uint32_t domid, unsigned int percent);

/*
 * Put back the cap t saved (only the cap: libxl keeps the weight as it
 * is) and forget it; nothing when nothing is saved.  MIG_EIO naming the
 * command that restores it by hand when libxl cannot (t keeps it then).
 */
int xen_throttle_restore(struct xen_throttle *t, libxl_ctx *ctx,
                         struct xentoollog_logger *log, uint32_t domid);

/*
 * For the paths that give the domain up (resume, release, close): when t
 * still holds a throttle the engine did not undo, log that (naming when),
 * restore it, and log a failure as an error: these paths never fail for it.
 */
void xen_throttle_undo(struct xen_throttle *t, libxl_ctx *ctx,
                       struct xentoollog_logger *log, uint32_t domid, const char *when);

/* Forget what t saved without touching the domain (it was destroyed). */
void xen_throttle_forget(struct xen_throttle *t);

#endif /* XENMIG_XEN_THROTTLE_H */
