/*
 * pv_tables.h: the pure part of migrating a PV guest's memory: turning
 * machine frame numbers (mfns) in the guest's page tables and vCPU state
 * into the guest's own frame numbers (pfns), the way Xen 4.17's migration
 * stream wants them ("normalised"; docs/specs/libxc-migration-stream.pandoc,
 * PAGE_DATA and X86_PV_VCPU_BASIC).
 *
 * Nothing here talks to Xen: the caller hands in the m2p (machine to
 * guest frame table) and the guest's p2m as plain arrays, so the unit
 * tests can craft both.  Only 64-bit PV guests (4-level paging) are
 * handled; a 32-bit one is refused by the caller.
 */
#ifndef XENMIG_PV_TABLES_H
#define XENMIG_PV_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "mig_stream.h"

/* Page types are PAGE_DATA's (MIG_STREAM_PAGE_*, mig_stream.h). */
#define PV_PAGE_LEVEL_MASK 0x7u   /* L1..L4 */

#define PV_INVALID_FRAME  UINT64_MAX

/* 64-bit PV guests: L4 slots 256..271 map Xen itself (0xffff8000'00000000 up). */
#define PV_L4_XEN_FIRST_SLOT 256u
#define PV_L4_XEN_LAST_SLOT  271u

#define PV_PTE_PRESENT    0x001u
#define PV_PTE_PSE        0x080u
#define PV_PTE_FRAME_MASK 0x000ffffffffff000ull   /* bits 12..51 */

/*
 * The two frame tables a normalisation consults.  m2p[mfn] is Xen's
 * machine-to-guest table (entries 0 .. max_mfn); p2m[pfn] is the guest's
 * own list of its frames (entries 0 .. max_pfn, 64-bit guest: one uint64_t
 * each, PV_INVALID_FRAME or any value above max_mfn for none).  Both are
 * read, never written; either may be a live mapping that changes under us.
 */
struct pv_frame_maps {
    const uint64_t *m2p;
    uint64_t max_mfn;
    const uint64_t *p2m;
    uint64_t max_pfn;
};

/*
 * Is mfn a frame of this guest, by both tables (m2p says pfn, p2m says
 * that pfn is this mfn)?  On true, *pfn_out is its pfn (may be NULL).
 */
bool pv_mfn_to_pfn(const struct pv_frame_maps *maps, uint64_t mfn, uint64_t *pfn_out);

/*
 * Normalise one page table of the given type (MIG_STREAM_PAGE_L1TAB..L4TAB, the
 * pinned bit ignored) from in to out (512 entries each; may not overlap):
 * Xen's own L4 slots become 0, every present entry's mfn becomes its pfn,
 * the flag bits are kept, non-present entries are copied as they are.
 *
 * Returns 0; MIG_EABSENT when a present entry names an mfn that is not
 * the guest's (a table being changed, a grant mapping) and the guest runs
 * (paused false): the page must be sent again later; MIG_EFORMAT for the
 * same while paused (the table cannot be sent), for a superpage entry in
 * an L2..L4, or a type that is not a page table.  *bad_index_out gets the
 * offending entry's index (512 when none; may be NULL).  The message
 * (mig_error_set) quotes the entry, its index and its mfn.
 */
int pv_normalise_table(const struct pv_frame_maps *maps, unsigned int type, bool paused,
                       const uint64_t *in, uint64_t *out, unsigned int *bad_index_out);

/*
 * A frame named in a vCPU's state (cr3, ctrlreg[1], a GDT frame, the start
 * info frame in vCPU 0's edx): *pfn_out is the pfn of mfn, or MIG_EFORMAT
 * with a message naming what (e.g. "vcpu0's cr3") and the mfn when it is
 * not the guest's.
 */
int pv_normalise_frame(const struct pv_frame_maps *maps, const char *what, uint64_t mfn,
                       uint64_t *pfn_out);

/*
 * Reads the 512 entries of the guest page-table frame mfn into entries;
 * 0 or a MIG_E* code with the message set.
 */
typedef int (*pv_read_table_fn)(void *arg, uint64_t mfn, uint64_t *entries);

/*
 * The frames of a 64-bit guest's linear p2m list: the list's pages at
 * p2m_vaddr .. + (*max_pfn / 512 + 1) pages, found by walking the guest's
 * 4-level page tables from root_mfn (p2m_cr3's frame) with read_table.
 * A trailing run of 1 GiB stretches whose L2 entries all name the same L1
 * table is the guest's filler for pfns it does not have: it is left out
 * and *max_pfn lowered to match.  *leaves_out (malloc'ed, owned by the
 * caller) gets *nr_leaves_out leaf mfns.  Every frame is checked: present
 * and at most max_mfn; MIG_EFORMAT naming level, address and entry
 * otherwise, as for an address range that is not canonical or overlaps
 * Xen's (0xffff800000000000 - 0xffff87ffffffffff).
 */
int pv_p2m_list_frames(pv_read_table_fn read_table, void *arg, uint64_t root_mfn,
                       uint64_t p2m_vaddr, uint64_t max_mfn, uint64_t *max_pfn,
                       uint64_t **leaves_out, unsigned int *nr_leaves_out);

#endif /* XENMIG_PV_TABLES_H */
