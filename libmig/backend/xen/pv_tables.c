#include "config.h"
/*
 * pv_tables.c: normalisation of a 64-bit PV guest's page tables and frame
 * registers (pv_tables.h): mfn -> pfn through the m2p, checked against the
 * guest's p2m, as Xen 4.17's stream expects.
 *
 * Also the walk from p2m_cr3 to the frames of the guest's linear p2m list.
 *
 * Pure functions over the arrays (and the table reader) handed in: must
 * never call Xen, never write the tables it reads, and never trust an
 * entry (every index into m2p or p2m is checked against its bound first,
 * every frame a walk follows against the highest mfn).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "mig_error.h"
#include "mig_page.h"
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

/* The entries of one table frame, read once while the walk stays in it. */
struct cached_table {
    uint64_t mfn;
    uint64_t entries[512];
};

static int walk_entry(pv_read_table_fn read_table, void *arg, struct cached_table *table,
                      uint64_t mfn, unsigned int level, uint64_t vaddr, uint64_t max_mfn,
                      uint64_t *next_mfn)
{
    unsigned int index = (unsigned int)(vaddr >> (12 + 9 * (level - 1))) & 511;
    uint64_t entry, frame;
    int rc;

    if (table->mfn != mfn) {
        rc = read_table(arg, mfn, table->entries);
        if (rc)
            return rc;
        table->mfn = mfn;
    }
    entry = table->entries[index];
    frame = (entry & PV_PTE_FRAME_MASK) >> 12;
    if (!(entry & PV_PTE_PRESENT) || !frame || frame > max_mfn ||
        (level > 1 && (entry & PV_PTE_PSE)))
        return mig_error_set(MIG_EFORMAT, "p2m list at %#" PRIx64 ": L%u[%u] = %#" PRIx64
                             " is not a present %s frame (highest mfn %#" PRIx64 ")",
                             vaddr, level, index, entry, level > 1 ? "table" : "p2m",
                             max_mfn);
    *next_mfn = frame;
    return 0;
}

static bool canonical(uint64_t vaddr)
{
    return ((int64_t)vaddr >> 47) == ((int64_t)vaddr >> 63);
}

int pv_p2m_list_frames(pv_read_table_fn read_table, void *arg, uint64_t root_mfn,
                       uint64_t p2m_vaddr, uint64_t max_mfn, uint64_t *max_pfn,
                       uint64_t **leaves_out, unsigned int *nr_leaves_out)
{
    const uint64_t xen_start = 0xffff800000000000ull, xen_end = 0xffff87ffffffffffull;
    uint64_t frames = *max_pfn / 512 + 1, end = p2m_vaddr + frames * MIG_PAGE_SIZE - 1;
    struct cached_table *tables = NULL;
    uint64_t *leaves = NULL, *l1_of_stretch = NULL;
    uint64_t stretches, run_start;
    int rc;

    *leaves_out = NULL;
    *nr_leaves_out = 0;
    if ((p2m_vaddr & 0xfff) || !canonical(p2m_vaddr) || !canonical(end) ||
        end < p2m_vaddr || (p2m_vaddr <= xen_end && end >= xen_start) || frames > UINT32_MAX)
        return mig_error_set(MIG_EFORMAT, "the p2m list at %#" PRIx64 "-%#" PRIx64 " is "
                             "not a page-aligned guest address range", p2m_vaddr, end);
    tables = calloc(4, sizeof(*tables));
    leaves = calloc(frames, sizeof(*leaves));
    /* A stretch: what one L2 entry maps, 2 MiB of list (1 GiB of guest). */
    stretches = (end >> 21) - (p2m_vaddr >> 21) + 1;
    l1_of_stretch = calloc(stretches, sizeof(*l1_of_stretch));
    if (!tables || !leaves || !l1_of_stretch) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for a p2m list of %" PRIu64
                           " frames", frames);
        goto out;
    }
    for (unsigned int i = 0; i < 4; i++)
        tables[i].mfn = UINT64_MAX;
    for (uint64_t k = 0; k < frames; k++) {
        uint64_t vaddr = p2m_vaddr + k * MIG_PAGE_SIZE, mfn = root_mfn;

        for (unsigned int level = 4; level >= 1; level--) {
            rc = walk_entry(read_table, arg, &tables[level - 1], mfn, level, vaddr,
                            max_mfn, &mfn);
            if (rc)
                goto out;
            if (level == 2)
                l1_of_stretch[(vaddr >> 21) - (p2m_vaddr >> 21)] = mfn;
        }
        leaves[k] = mfn;
    }
    /* A trailing run (two or more) of stretches sharing one L1 table: filler. */
    run_start = stretches - 1;
    while (run_start > 0 && l1_of_stretch[run_start - 1] == l1_of_stretch[stretches - 1])
        run_start--;
    if (run_start < stretches - 1) {
        uint64_t kept = ((((p2m_vaddr >> 21) + run_start) << 21) - p2m_vaddr) / MIG_PAGE_SIZE;

        if (!kept) {
            rc = mig_error_set(MIG_EFORMAT, "the p2m list at %#" PRIx64 " is filler only "
                               "(every L2 entry names L1 table %#" PRIx64 ")", p2m_vaddr,
                               l1_of_stretch[0]);
            goto out;
        }
        if (kept * 512 - 1 < *max_pfn) {
            *max_pfn = kept * 512 - 1;
            frames = kept;
        }
    }
    *leaves_out = leaves;
    *nr_leaves_out = (unsigned int)frames;
    leaves = NULL;
    rc = 0;
out:
    free(tables);
    free(leaves);
    free(l1_of_stretch);
    return rc;
}
