/*
 * ranged.h: ranged log-dirty harvest of a running HAP (PVH/HVM) domain on
 * the lab's patched Xen 4.17 (tests/lab/patches/xen-4.17-ranged-logdirty.patch).
 *
 * The patch adds the shadow op XEN_DOMCTL_SHADOW_OP_CLEAN_RANGE (40, not
 * upstream): for pfns [first, first + count) of a domain in log-dirty mode
 * Xen, WITHOUT pausing the domain, re-arms every page the guest wrote
 * (p2m_ram_rw -> p2m_ram_logdirty under the p2m lock), takes the range's
 * bits out of its log-dirty bitmap (pages Xen itself wrote; a later stock
 * CLEAN does not report them again) and reports the union: bit i of the
 * bitmap is pfn first + i. It flushes the guest TLBs before returning, so
 * every write after the call returns is logged again. Stock
 * XEN_DOMCTL_SHADOW_OP_CLEAN pauses the whole domain for the whole bitmap.
 *
 * Stock Xen answers -EINVAL for the unknown op: xen_ranged_supported()
 * tells that apart from a real error, and xen_ranged_clean() reports it
 * as MIG_EUNSUPP, so a caller falls back to stock CLEAN.
 */
#ifndef XENMIG_XEN_RANGED_H
#define XENMIG_XEN_RANGED_H

#include <stdint.h>

/*
 * The two libxenctrl types named below, declared as xenctrl.h does (C11
 * allows the repeated typedef), so that this header can be included
 * without xenctrl.h, which needs GNU C (#undef __STRICT_ANSI__ first).
 */
typedef struct xc_interface_core xc_interface;
typedef struct xc_hypercall_buffer xc_hypercall_buffer_t;

/* The op number the patch gives XEN_DOMCTL_SHADOW_OP_CLEAN_RANGE. */
#define XEN_RANGED_SHADOW_OP_CLEAN_RANGE 40u
/* Most pfns one call takes (Xen answers -E2BIG beyond): 1 GiB of guest. */
#define XEN_RANGED_MAX_PAGES (1u << 18)

/*
 * Whether this Xen knows the ranged op for DOMID, asked once with an empty
 * range (count 0: nothing is harvested, nothing changes).
 * DOMID must be in log-dirty mode (XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).
 * Returns 0 when the op can be used; MIG_EUNSUPP when this Xen lacks the
 * patch (stock Xen: EINVAL) or DOMID does not use HAP (PV, shadow mode:
 * EOPNOTSUPP); MIG_EINVAL when DOMID is not in log-dirty mode (ENODATA) or
 * does not exist; MIG_EIO for any other failure. The message names the
 * domain and the errno. Note: Xen refuses shadow ops on the calling
 * domain itself with EINVAL, so asking about dom0 answers MIG_EUNSUPP.
 */
int xen_ranged_supported(xc_interface *xch, uint32_t domid);

/*
 * Harvest and re-arm pfns [FIRST_PFN, FIRST_PFN + COUNT) of DOMID without
 * pausing it. BITMAP (allocated by the caller with xc_hypercall_buffer_alloc
 * and still owned by it; pass HYPERCALL_BUFFER(name)) must hold at least
 * (COUNT + 7) / 8 bytes: this function cannot check its size. On return
 * bit i (byte i / 8, bit i % 8) says whether pfn FIRST_PFN + i was written
 * since it was last harvested (by this op or by stock CLEAN); bits beyond
 * COUNT in the last byte are zero. COUNT 0 harvests nothing (BITMAP may
 * be NULL). *SECONDS_OUT (may be NULL) receives the wall time of the
 * hypercall alone, also on failure.
 * Returns 0; MIG_ELIMIT when FIRST_PFN does not fit the op's 32-bit field
 * or COUNT > XEN_RANGED_MAX_PAGES; MIG_EINVAL for a NULL BITMAP with a
 * non-zero COUNT, a range beyond the domain's memory, a missing domain or
 * one not in log-dirty mode; MIG_EUNSUPP when this Xen lacks the op or the
 * domain is not HAP; MIG_EIO otherwise (errno in the message).
 */
int xen_ranged_clean(xc_interface *xch, uint32_t domid, uint64_t first_pfn,
                     uint32_t count, xc_hypercall_buffer_t *bitmap,
                     double *seconds_out);

#endif /* XENMIG_XEN_RANGED_H */
