#include "config.h"
/*
 * pv_tables.c: normalisation of a 64-bit PV guest's page tables and frame
 * registers (pv_tables.h): mfn -> pfn through the m2p, checked against the
 * guest's p2m, as Xen 4.17's stream expects.
 *
 * Pure functions over the arrays handed in: must never call Xen, never
 * write the tables it reads, and never trust an entry (every index into
 * m2p or p2m is checked against its bound first).
 */
#include <inttypes.h>

#include "mig_error.h"
#include "pv_tables.h"

bool pv_mfn_to_pfn(const struct pv_frame_maps *maps, uint64_t mfn, uint64_t *pfn_out)
{
    uint64_t pfn;

    if (mfn > maps->max_mfn)
        return false;
    pfn = maps->m2p[mfn];
    if (pfn > maps->max_pfn || maps->p2m[pfn] != mfn)
        return false;
    if (pfn_out)
        *pfn_out = pfn;
    return true;
}

int pv_normalise_table(const struct pv_frame_maps *maps, unsigned int type, bool paused,
                       const uint64_t *in, uint64_t *out, unsigned int *bad_index_out)
{
    unsigned int level = type & PV_PAGE_LEVEL_MASK;
    unsigned int xen_first = 512, xen_last = 0;
    unsigned int i;
    int rc;

    if (bad_index_out)
        *bad_index_out = 512;
    if (level < 1 || level > 4 || (type & ~(PV_PAGE_LEVEL_MASK | MIG_STREAM_PAGE_PINNED)))
        return mig_error_set(MIG_EFORMAT, "page type %#x is not a page table (L1 to L4)",
                             type);
    if (level == 4) {
        xen_first = PV_L4_XEN_FIRST_SLOT;
        xen_last = PV_L4_XEN_LAST_SLOT;
    }
    for (i = 0; i < 512; i++) {
        uint64_t entry = in[i], mfn, pfn;

        if (i >= xen_first && i <= xen_last) {
            out[i] = 0;                /* Xen rebuilds its own slots */
            continue;
        }
        if (!(entry & PV_PTE_PRESENT)) {
            out[i] = entry;
            continue;
        }
        if (level > 1 && (entry & PV_PTE_PSE)) {
            rc = mig_error_set(MIG_EFORMAT, "L%u[%u] = %#018" PRIx64 " maps a superpage: "
                               "a PV guest with superpages cannot be migrated", level,
                               i, entry);
            goto out;
        }
        mfn = (entry & PV_PTE_FRAME_MASK) >> 12;
        if (!pv_mfn_to_pfn(maps, mfn, &pfn)) {
            if (!paused) {
                rc = MIG_EABSENT;      /* changing under us: sent again later */
                goto out;
            }
            rc = mig_error_set(MIG_EFORMAT, "L%u[%u] = %#018" PRIx64 " names mfn %#" PRIx64
                               ", which is not the guest's (m2p %s): the paused guest's "
                               "page table cannot be sent", level, i, entry, mfn,
                               mfn > maps->max_mfn ? "has no such frame" :
                               maps->m2p[mfn] > maps->max_pfn ? "gives a pfn beyond the p2m"
                               : "and p2m disagree");
            goto out;
        }
        out[i] = (entry & ~PV_PTE_FRAME_MASK) | pfn << 12;
    }
    return 0;
out:
    if (bad_index_out)
        *bad_index_out = i;
    return rc;
}

int pv_normalise_frame(const struct pv_frame_maps *maps, const char *what, uint64_t mfn,
                       uint64_t *pfn_out)
{
    if (!pv_mfn_to_pfn(maps, mfn, pfn_out))
        return mig_error_set(MIG_EFORMAT, "%s names mfn %#" PRIx64 ", which is not a frame "
                             "of the guest (by the m2p and its p2m): its state cannot be "
                             "sent", what, mfn);
    return 0;
}
