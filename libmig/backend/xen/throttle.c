/*
 * throttle.c: the Xen source's throttle (throttle.h): a running domain's
 * vCPUs slowed through its scheduler's cap for the convergence ladder's
 * throttle rung, and the cap it had put back.
 *
 * What Xen 4.17 does, as read in its source (RELEASE-4.17.7):
 *
 *  - tools/libs/light/libxl_sched.c, libxl_domain_sched_params_get():
 *    finds the scheduler of the domain's cpupool and, for credit and
 *    credit2 (sched_credit_domain_get, sched_credit2_domain_get), reads
 *    weight and cap from the hypervisor; rtds gives period and budget,
 *    null no parameter, and arinc653 fails ("Unknown scheduler").
 *  - the same file, libxl_domain_sched_params_set(): sched_credit_domain_set
 *    and sched_credit2_domain_set read the domain's current values first
 *    and change only the fields that are not LIBXL_DOMAIN_SCHED_PARAM_*_
 *    DEFAULT (-1), refusing a cap outside 0 .. (max_vcpu_id + 1) * 100; so
 *    a set with only the cap changes only the cap.
 *  - xen/common/sched/credit.c (csched_dom_cntl) and credit2.c
 *    (csched2_dom_cntl): the cap is the percentage of one physical CPU
 *    the domain may use (credit2: a budget of cap% of its replenishment
 *    period; at most 100 per vCPU), 0 is no cap; docs/man/xl.1.pod.in
 *    (sched-credit -c) says the same: "100 is 1 physical CPU ... 0, means
 *    there is no upper cap".  xen/include/public/domctl.h: the cap is a
 *    uint16_t in struct xen_domctl_sched_credit and _credit2.
 *  - tools/libs/light/libxl_types.idl: libxl_domain_sched_params is
 *    {sched, weight, cap, period, budget, extratime, slice, latency}.
 *  - tools/xl/xl_sched.c: `xl sched-credit -d D` and `xl sched-credit2
 *    -d D` print and set the same weight and cap.
 *
 * Must never leave a domain it throttled so on a path that gives the
 * domain up: source.c calls xen_throttle_undo() on resume, release and
 * close.  Only the cap is ever set.
 */
#include "config.h"
/* libxl.h needs GNU C (its Xen headers), as source.c */
#undef __STRICT_ANSI__

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include <libxl.h>
#include <xentoollog.h>

#include "mig_error.h"
#include "throttle.h"

void xen_throttle_init(struct xen_throttle *t)
{
    t->saved = false;
    libxl_domain_sched_params_init(&t->original);
    t->vcpus = 0;
    t->cap = 0;
}

static bool scheduler_has_cap(libxl_scheduler sched)
{
    return sched == LIBXL_SCHEDULER_CREDIT || sched == LIBXL_SCHEDULER_CREDIT2;
}

static const char *scheduler_name(libxl_scheduler sched)
{
    const char *name = libxl_scheduler_to_string(sched);

    return name ? name : "unknown";
}

int xen_throttle_cap(uint32_t domid, libxl_scheduler sched, int original_cap,
                     unsigned int online_vcpus, unsigned int percent, int *cap_out)
{
    uint64_t base, cap;

    if (!scheduler_has_cap(sched))
        return mig_error_set(MIG_EUNSUPP, "domain %u cannot be throttled: it runs under "
                             "Xen's '%s' scheduler, which has no cap (credit and "
                             "credit2 have one)", domid, scheduler_name(sched));
    if (percent < 1 || percent > 99)
        return mig_error_set(MIG_EINVAL, "cannot throttle domain %u to %u%% of its CPU: "
                             "give 1 to 99 (100 puts back what it had)", domid, percent);
    if (original_cap < 0)
        return mig_error_set(MIG_EINVAL, "domain %u's scheduler cap is %d, not a cap "
                             "(0 .. %d)", domid, original_cap, XEN_THROTTLE_CAP_MAX);
    if (!original_cap && !online_vcpus)
        return mig_error_set(MIG_EINVAL, "domain %u has no online vCPU to throttle",
                             domid);
    base = original_cap ? (uint64_t)original_cap : (uint64_t)online_vcpus * 100;
    cap = (base * percent + 99) / 100;
    if (cap < 1)
        cap = 1;
    if (cap > XEN_THROTTLE_CAP_MAX)
        return mig_error_set(MIG_EUNSUPP, "domain %u cannot be throttled to %u%%: its "
                             "%u vCPUs would need a cap of %" PRIu64 ", beyond the %d "
                             "Xen's cap holds", domid, percent, online_vcpus, cap,
                             XEN_THROTTLE_CAP_MAX);
    *cap_out = (int)cap;
    return 0;
}

void xen_throttle_config(const struct xen_throttle *t, libxl_domain_sched_params *config)
{
    if (t->saved)
        config->cap = t->original.cap;
}

/* The scheduler of cpupool poolid, or LIBXL_SCHEDULER_UNKNOWN. */
static libxl_scheduler pool_scheduler(libxl_ctx *ctx, uint32_t poolid)
{
    libxl_cpupoolinfo pool;
    libxl_scheduler sched = LIBXL_SCHEDULER_UNKNOWN;

    libxl_cpupoolinfo_init(&pool);
    if (!libxl_cpupool_info(ctx, &pool, poolid))
        sched = pool.sched;
    libxl_cpupoolinfo_dispose(&pool);
    return sched;
}

/*
 * Read what domid has now into *params and *vcpus_out.  A scheduler whose
 * parameters libxl cannot read (arinc653) comes back in params->sched with
 * the cap at 0, for xen_throttle_cap() to refuse by name.
 */
static int read_original(libxl_ctx *ctx, uint32_t domid, libxl_domain_sched_params *params,
                         unsigned int *vcpus_out)
{
    libxl_dominfo info;
    libxl_scheduler sched;
    int rc;

    libxl_dominfo_init(&info);
    rc = libxl_domain_info(ctx, &info, domid);
    if (rc) {
        rc = mig_error_set(MIG_EIO, "cannot read domain %u's vCPUs to throttle it (libxl "
                           "error %d)", domid, rc);
        goto out;
    }
    *vcpus_out = info.vcpu_online;
    rc = libxl_domain_sched_params_get(ctx, domid, params);
    if (rc) {
        sched = pool_scheduler(ctx, info.cpupool);
        if (sched == LIBXL_SCHEDULER_UNKNOWN || scheduler_has_cap(sched)) {
            rc = mig_error_set(MIG_EIO, "cannot read domain %u's scheduler parameters "
                               "(libxl error %d)", domid, rc);
            goto out;
        }
        libxl_domain_sched_params_dispose(params);
        libxl_domain_sched_params_init(params);
        params->sched = sched;
        params->cap = 0;
    }
    rc = 0;
out:
    libxl_dominfo_dispose(&info);
    return rc;
}

/*
 * Set domid's cap to new_cap under sched, nothing else (weight and the rest
 * at libxl's "default", which keeps them); log it.  0 or libxl's error.
 */
static int set_cap(libxl_ctx *ctx, struct xentoollog_logger *log, uint32_t domid,
                   libxl_scheduler sched, int old_cap, int new_cap, const char *why)
{
    libxl_domain_sched_params params;
    int rc;

    libxl_domain_sched_params_init(&params);
    params.sched = sched;
    params.cap = new_cap;
    rc = libxl_domain_sched_params_set(ctx, domid, &params);
    libxl_domain_sched_params_dispose(&params);
    if (!rc && log)
        xtl_log(log, XTL_INFO, -1, "xen", "domain %u: %s scheduler cap %d -> %d (%s)",
                domid, scheduler_name(sched), old_cap, new_cap, why);
    return rc;
}

int xen_throttle_apply(struct xen_throttle *t, libxl_ctx *ctx, struct xentoollog_logger *log,
                       uint32_t domid, unsigned int percent)
{
    const libxl_domain_sched_params *had = &t->original;
    libxl_domain_sched_params read;
    unsigned int vcpus = t->vcpus;
    char why[64];
    int cap, rc;

    if (percent == 100)
        return xen_throttle_restore(t, ctx, log, domid);
    libxl_domain_sched_params_init(&read);
    if (!t->saved) {
        rc = read_original(ctx, domid, &read, &vcpus);
        if (rc)
            goto out;
        had = &read;
    }
    rc = xen_throttle_cap(domid, had->sched, had->cap, vcpus, percent, &cap);
    if (rc)
        goto out;
    snprintf(why, sizeof(why), "throttled to %u%%", percent);
    rc = set_cap(ctx, log, domid, had->sched, t->saved ? t->cap : had->cap, cap, why);
    if (rc) {
        rc = mig_error_set(MIG_EIO, "cannot set domain %u's scheduler cap to %d to throttle "
                           "it to %u%% (libxl error %d)", domid, cap, percent, rc);
        goto out;
    }
    if (!t->saved) {
        /* The first throttle: what the domain had is kept until restored. */
        libxl_domain_sched_params_dispose(&t->original);
        t->original = read;
        libxl_domain_sched_params_init(&read);
        t->vcpus = vcpus;
        t->saved = true;
    }
    t->cap = cap;
out:
    libxl_domain_sched_params_dispose(&read);
    return rc;
}

int xen_throttle_restore(struct xen_throttle *t, libxl_ctx *ctx,
                         struct xentoollog_logger *log, uint32_t domid)
{
    int rc;

    if (!t->saved)
        return 0;
    rc = set_cap(ctx, log, domid, t->original.sched, t->cap, t->original.cap, "restored");
    if (rc)
        return mig_error_set(MIG_EIO, "cannot put domain %u's scheduler cap back from %d "
                             "to %d (libxl error %d): it runs throttled; restore it with "
                             "'xl sched-%s -d %u -c %d'", domid, t->cap, t->original.cap,
                             rc, scheduler_name(t->original.sched), domid,
                             t->original.cap);
    xen_throttle_forget(t);
    return 0;
}

void xen_throttle_undo(struct xen_throttle *t, libxl_ctx *ctx,
                       struct xentoollog_logger *log, uint32_t domid, const char *when)
{
    if (!t->saved)
        return;
    if (log)
        xtl_log(log, XTL_WARN, -1, "xen", "domain %u is still throttled (cap %d) %s: "
                "putting back its cap %d", domid, t->cap, when, t->original.cap);
    if (xen_throttle_restore(t, ctx, log, domid) && log)
        xtl_log(log, XTL_ERROR, -1, "xen", "%s", mig_error_last());
}

void xen_throttle_forget(struct xen_throttle *t)
{
    libxl_domain_sched_params_dispose(&t->original);
    xen_throttle_init(t);
}
