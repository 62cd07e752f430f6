/* ranged.c: placeholder until the ranged room lands: this Xen has no ranged op. */
#include "config.h"

/* Xen's public headers need GNU C (anonymous unions, __align8__). */
#undef __STRICT_ANSI__

#include "mig_error.h"
#include "ranged.h"

bool xen_ranged_supported(xc_interface *xch, uint32_t domid)
{
    (void)xch; (void)domid;
    return false;
}

int xen_ranged_clean(xc_interface *xch, uint32_t domid, uint64_t first_pfn,
                     uint32_t count, xc_hypercall_buffer_t *bitmap, double *seconds_out)
{
    (void)xch; (void)domid; (void)first_pfn; (void)count; (void)bitmap;
    *seconds_out = 0;
    return mig_error_set(MIG_EUNSUPP, "this Xen has no ranged log-dirty harvest");
}
