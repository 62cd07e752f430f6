#include "config.h"
/* xenctrl.h needs GNU C (its foreign headers), as in cpuid-policy/host.c */
#undef __STRICT_ANSI__
/*
 * ranged.c: the toolstack side of the lab patch's ranged log-dirty op
 * (see ranged.h). Issues XEN_DOMCTL_SHADOW_OP_CLEAN_RANGE through
 * xc_logdirty_control() and maps Xen's errno onto MIG_E* codes.
 *
 * Must never pause, enable or disable log-dirty mode itself (the caller
 * owns the domain's log-dirty state), and never touch the bitmap beyond
 * (count + 7) / 8 bytes.
 */
#include <errno.h>
#include <time.h>

#include <xenctrl.h>

#include "mig_clock.h"
#include "mig_error.h"
#include "ranged.h"

/* One op call; returns 0 or the errno Xen (or libxc) answered. */
static int ranged_call(xc_interface *xch, uint32_t domid, uint32_t first_pfn,
                       uint32_t count, xc_hypercall_buffer_t *bitmap,
                       double *seconds_out)
{
    double started = mig_clock_seconds();
    long long rc;
    int call_errno;

    errno = 0;
    rc = xc_logdirty_control(xch, domid, XEN_RANGED_SHADOW_OP_CLEAN_RANGE,
                             count ? bitmap : NULL, count, first_pfn, NULL);
    call_errno = errno;
    if (seconds_out)
        *seconds_out = mig_clock_seconds() - started;
    if (rc >= 0)
        return 0;
    return call_errno ? call_errno : EIO;
}

int xen_ranged_supported(xc_interface *xch, uint32_t domid)
{
    int call_errno = ranged_call(xch, domid, 0, 0, NULL, NULL);

    switch (call_errno) {
    case 0:
        return 0;
    case EINVAL:
        return mig_error_set_errno(MIG_EUNSUPP, call_errno,
            "domain %u: this Xen does not know the ranged log-dirty op %u "
            "(stock Xen; boot the lab's patched Xen, "
            "tests/lab/patches/xen-4.17-ranged-logdirty.patch, or use stock CLEAN)",
            domid, XEN_RANGED_SHADOW_OP_CLEAN_RANGE);
    case EOPNOTSUPP:
        return mig_error_set_errno(MIG_EUNSUPP, call_errno,
            "domain %u does not use HAP (PV or shadow paging): ranged "
            "log-dirty harvest needs a PVH/HVM guest on HAP; use stock CLEAN",
            domid);
    case ENODATA:
        return mig_error_set_errno(MIG_EINVAL, call_errno,
            "domain %u is not in log-dirty mode: enable it "
            "(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY) before the ranged harvest",
            domid);
    case ESRCH:
        return mig_error_set_errno(MIG_EINVAL, call_errno,
            "domain %u does not exist", domid);
    default:
        return mig_error_set_errno(MIG_EIO, call_errno,
            "domain %u: probing the ranged log-dirty op failed", domid);
    }
}

int xen_ranged_clean(xc_interface *xch, uint32_t domid, uint64_t first_pfn,
                     uint32_t count, xc_hypercall_buffer_t *bitmap,
                     double *seconds_out)
{
    int call_errno;
    int rc;

    if (seconds_out)
        *seconds_out = 0.0;
    if (first_pfn > UINT32_MAX) {
        rc = mig_error_set(MIG_ELIMIT,
            "domain %u: first pfn %#llx does not fit the ranged op's 32-bit "
            "field; ranges must start below pfn 0x100000000 (16 TiB)",
            domid, (unsigned long long)first_pfn);
        goto out;
    }
    if (count > XEN_RANGED_MAX_PAGES) {
        rc = mig_error_set(MIG_ELIMIT,
            "domain %u: %u pfns in one ranged harvest exceed the limit of %u; "
            "split the range", domid, count, XEN_RANGED_MAX_PAGES);
        goto out;
    }
    if (count && (!bitmap || !bitmap->hbuf)) {
        rc = mig_error_set(MIG_EINVAL,
            "domain %u: ranged harvest of %u pfns at %#llx without a bitmap "
            "buffer", domid, count, (unsigned long long)first_pfn);
        goto out;
    }

    call_errno = ranged_call(xch, domid, (uint32_t)first_pfn, count, bitmap,
                             seconds_out);
    if (call_errno == 0) {
        rc = 0;
        goto out;
    }
    if (call_errno == EINVAL) {
        /* stock Xen's answer to an unknown op, or a range beyond the p2m */
        rc = xen_ranged_supported(xch, domid);
        if (rc == 0)
            rc = mig_error_set_errno(MIG_EINVAL, call_errno,
                "domain %u: pfns %#llx..%#llx lie beyond its memory (Xen "
                "refused the range); harvest only up to the domain's "
                "maximum gpfn", domid, (unsigned long long)first_pfn,
                (unsigned long long)first_pfn + count - 1);
        goto out;
    }
    if (call_errno == E2BIG) {
        rc = mig_error_set_errno(MIG_ELIMIT, call_errno,
            "domain %u: Xen refused %u pfns in one ranged harvest", domid,
            count);
        goto out;
    }
    if (call_errno == EBUSY) {
        rc = mig_error_set_errno(MIG_EIO, call_errno,
            "domain %u: another log-dirty operation is in progress; retry",
            domid);
        goto out;
    }
    rc = xen_ranged_supported(xch, domid);
    if (rc == 0)
        rc = mig_error_set_errno(MIG_EIO, call_errno,
            "domain %u: ranged harvest of pfns %#llx..%#llx failed", domid,
            (unsigned long long)first_pfn,
            (unsigned long long)first_pfn + count - 1);

out:
    return rc;
}
