/*
 * source_pv.c: the memory of a running 64-bit PV domain, for the xen
 * source backend (source.c): Xen's m2p, the guest's p2m (its linear list
 * through p2m_cr3/p2m_vaddr, or the 3-level frame list tree, both anchored
 * in the shared info page), pfn -> mfn for mapping (a PV guest's frames are
 * mapped by mfn), page types from Xen (getpageframeinfo3) and page tables
 * normalised (pv_tables.h) the way Xen 4.17's restore expects.
 *
 * A page table that names a frame not (yet) in the p2m while the guest
 * runs is deferred: noted here and reported dirty at the next harvest, so
 * it is sent again, at the latest in the final (paused) round, where the
 * same is an error.
 *
 * Must never write guest memory, the p2m or the m2p: every mapping here is
 * read-only, and every frame number read from the guest is checked against
 * its bound before it is used as an index.
 */
#include "config.h"

/* Xen's public headers need GNU C (anonymous unions, __align8__, typeof). */
#undef __STRICT_ANSI__
#define typeof __typeof__

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenguest.h>
#include <xentoollog.h>

#include "mig_dirty.h"
#include "mig_error.h"
#include "pv_tables.h"
#include "xen_private.h"

#define PV_PAGE 4096u
#define PV_ENTRIES_PER_PAGE 512u          /* 64-bit guest: 8-byte p2m entries */
#define M2P_CHUNK (2ull << 20)            /* Xen maps the m2p in 2 MiB chunks */

struct xen_pv_memory {
    xentoollog_logger *log;
    xc_interface *xch;
    xenforeignmemory_handle *fmem;
    uint32_t domid;
    unsigned int width;                   /* bytes: 8 */
    xen_pfn_t *m2p;                       /* Xen's table, read-only */
    size_t m2p_bytes;
    uint64_t max_mfn;                     /* last usable m2p index */
    shared_info_t *shinfo;
    uint64_t *p2m;                        /* the guest's p2m leaves, live */
    unsigned int p2m_frames;
    uint64_t *p2m_pfns;                   /* the leaves' pfns (X86_PV_P2M_FRAMES) */
    uint64_t max_pfn;
    uint64_t p2m_generation;              /* linear list only, else UINT64_MAX */
    struct pv_frame_maps maps;

    pthread_mutex_t lock;                 /* deferred */
    struct mig_dirty_bitmap *deferred;
    uint64_t nr_deferred;
};

/* Map frames by mfn (read-only); NULL with the message set on failure. */
static void *map_frames(struct xen_pv_memory *pv, const xen_pfn_t *mfns, unsigned int n,
                        const char *what)
{
    int *err = calloc(n, sizeof(*err));
    void *map = NULL;

    if (!err) {
        mig_error_set(MIG_ENOMEM, "out of memory mapping %s", what);
        return NULL;
    }
    map = xenforeignmemory_map(pv->fmem, pv->domid, PROT_READ, n, (xen_pfn_t *)mfns, err);
    if (!map) {
        mig_error_set_errno(MIG_EIO, errno, "cannot map %s of domain %u (%u frames from "
                            "mfn %#" PRIx64 ")", what, pv->domid, n, (uint64_t)mfns[0]);
        goto out;
    }
    for (unsigned int i = 0; i < n; i++) {
        if (err[i]) {
            mig_error_set(MIG_EIO, "cannot map frame %u (mfn %#" PRIx64 ") of %s of "
                          "domain %u: error %d", i, (uint64_t)mfns[i], what, pv->domid,
                          err[i]);
            xenforeignmemory_unmap(pv->fmem, map, n);
            map = NULL;
            goto out;
        }
    }
out:
    free(err);
    return map;
}

/* The p2m leaves are mapped: note their pfns (each must be the guest's). */
static int note_leaves(struct xen_pv_memory *pv, const xen_pfn_t *mfns, unsigned int n)
{
    pv->p2m = map_frames(pv, mfns, n, "the p2m");
    if (!pv->p2m)
        return mig_error_last_code();
    pv->p2m_frames = n;
    pv->maps.p2m = pv->p2m;
    pv->maps.max_pfn = pv->max_pfn;
    pv->p2m_pfns = calloc(n, sizeof(*pv->p2m_pfns));
    if (!pv->p2m_pfns)
        return mig_error_set(MIG_ENOMEM, "out of memory for %u p2m frame pfns", n);
    for (unsigned int i = 0; i < n; i++) {
        char what[64];

        snprintf(what, sizeof(what), "p2m frame %u of domain %u", i, pv->domid);
        if (pv_normalise_frame(&pv->maps, what, mfns[i], &pv->p2m_pfns[i]))
            return mig_error_last_code();
    }
    return 0;
}

/* pv_read_table_fn: one frame of the guest's page tables, mapped and copied. */
static int read_guest_table(void *arg, uint64_t mfn, uint64_t *entries)
{
    struct xen_pv_memory *pv = arg;
    xen_pfn_t frame = mfn;
    void *map = map_frames(pv, &frame, 1, "a page table of the p2m list");

    if (!map)
        return mig_error_last_code();
    memcpy(entries, map, PV_PAGE);
    xenforeignmemory_unmap(pv->fmem, map, 1);
    return 0;
}

/* The linear p2m list, through the guest's page tables from p2m_cr3. */
static int map_p2m_list(struct xen_pv_memory *pv, uint64_t p2m_cr3)
{
    uint64_t *leaves = NULL;
    xen_pfn_t *mfns = NULL;
    unsigned int nr = 0;
    int rc;

    pv->p2m_generation = pv->shinfo->arch.p2m_generation;
    rc = pv_p2m_list_frames(read_guest_table, pv, p2m_cr3 >> 12, pv->shinfo->arch.p2m_vaddr,
                            pv->max_mfn, &pv->max_pfn, &leaves, &nr);
    if (rc) {
        rc = mig_error_set(rc, "domain %u: %s", pv->domid, mig_error_last());
        goto out;
    }
    mfns = malloc(nr * sizeof(*mfns));
    if (!mfns) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %u p2m frames", nr);
        goto out;
    }
    for (unsigned int i = 0; i < nr; i++)
        mfns[i] = leaves[i];
    rc = note_leaves(pv, mfns, nr);
out:
    free(leaves);
    free(mfns);
    return rc;
}

/* The 3-level tree: frame list list -> frame lists -> leaves. */
static int map_p2m_tree(struct xen_pv_memory *pv)
{
    const unsigned int per = PV_ENTRIES_PER_PAGE;
    uint64_t top_mfn = pv->shinfo->arch.pfn_to_mfn_frame_list_list;
    unsigned int leaves = (unsigned int)(pv->max_pfn / per + 1);
    unsigned int lists = (leaves + per - 1) / per;
    xen_pfn_t *mfns = NULL;
    uint64_t *top = NULL, *mid = NULL;
    int rc;

    pv->p2m_generation = UINT64_MAX;
    if (!top_mfn || top_mfn > pv->max_mfn || lists > per)
        return mig_error_set(MIG_EFORMAT, "domain %u has neither a p2m list nor a p2m "
                             "tree Xen's tools can read (frame list list mfn %#" PRIx64
                             ", max_pfn %#" PRIx64 "): has the guest booted far enough?",
                             pv->domid, top_mfn, pv->max_pfn);
    mfns = calloc(leaves, sizeof(*mfns));
    if (!mfns)
        return mig_error_set(MIG_ENOMEM, "out of memory for the p2m tree");
    mfns[0] = top_mfn;
    top = map_frames(pv, mfns, 1, "the p2m frame list list");
    if (!top) {
        rc = mig_error_last_code();
        goto out;
    }
    for (unsigned int i = 0; i < lists; i++) {
        if (!top[i] || top[i] > pv->max_mfn) {
            rc = mig_error_set(MIG_EFORMAT, "domain %u's p2m frame list list entry %u is "
                               "%#" PRIx64 ", not a frame", pv->domid, i, top[i]);
            goto out;
        }
        mfns[i] = top[i];
    }
    mid = map_frames(pv, mfns, lists, "the p2m frame lists");
    if (!mid) {
        rc = mig_error_last_code();
        goto out;
    }
    for (unsigned int i = 0; i < leaves; i++) {
        if (!mid[i] || mid[i] > pv->max_mfn) {
            rc = mig_error_set(MIG_EFORMAT, "domain %u's p2m frame list entry %u is %#"
                               PRIx64 ", not a frame", pv->domid, i, mid[i]);
            goto out;
        }
        mfns[i] = mid[i];
    }
    rc = note_leaves(pv, mfns, leaves);
out:
    if (mid)
        xenforeignmemory_unmap(pv->fmem, mid, lists);
    if (top)
        xenforeignmemory_unmap(pv->fmem, top, 1);
    free(mfns);
    return rc;
}

int xen_pv_memory_open(xentoollog_logger *log, xc_interface *xch, uint32_t domid,
                       struct xen_pv_memory **out)
{
    struct xen_pv_memory *pv = calloc(1, sizeof(*pv));
    xc_domaininfo_t info; /* xc_domain_getinfo() is gone since Xen 4.18 */
    unsigned long max_mfn, mfn0;
    unsigned int width;
    xen_pfn_t shinfo_mfn;
    int rc;

    *out = NULL;
    if (!pv)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    pthread_mutex_init(&pv->lock, NULL);
    pv->log = log;
    pv->xch = xch;
    pv->domid = domid;
    if (xc_domain_get_guest_width(xch, domid, &width)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read PV domain %u's width", domid);
        goto out;
    }
    if (width != 8) {
        rc = mig_error_set(MIG_ESTOCK, "PV domain %u is a %u-bit guest: the xenmig engine "
                           "migrates 64-bit PV guests; use stock 'xl migrate'",
                           domid, width * 8);
        goto out;
    }
    pv->width = width;
    if (xc_domain_getinfolist(xch, domid, 1, &info) != 1 || info.domain != domid) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read domain %u's info", domid);
        goto out;
    }
    if (xc_maximum_ram_page(xch, &max_mfn)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read the host's highest mfn");
        goto out;
    }
    pv->m2p = xc_map_m2p(xch, max_mfn, PROT_READ, &mfn0);
    if (!pv->m2p) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot map Xen's m2p table");
        goto out;
    }
    /* As Xen's tools size the mapping: max_mfn entries rounded up to chunks. */
    pv->m2p_bytes = (size_t)((max_mfn * sizeof(xen_pfn_t) + M2P_CHUNK - 1) &
                             ~(M2P_CHUNK - 1));
    pv->max_mfn = pv->m2p_bytes / sizeof(xen_pfn_t) - 1;
    if (pv->max_mfn > max_mfn)
        pv->max_mfn = max_mfn;
    pv->maps.m2p = (const uint64_t *)pv->m2p;
    pv->maps.max_mfn = pv->max_mfn;
    pv->fmem = xenforeignmemory_open(log, 0);
    if (!pv->fmem) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot open foreign memory mapping");
        goto out;
    }
    shinfo_mfn = info.shared_info_frame;
    pv->shinfo = map_frames(pv, &shinfo_mfn, 1, "the shared info page");
    if (!pv->shinfo) {
        rc = mig_error_last_code();
        goto out;
    }
    if (!pv->shinfo->arch.max_pfn) {
        rc = mig_error_set(MIG_EFORMAT, "PV domain %u has not published its p2m (max_pfn "
                           "0 in its shared info): has it booted?", domid);
        goto out;
    }
    pv->max_pfn = pv->shinfo->arch.max_pfn - 1;
    rc = pv->shinfo->arch.p2m_cr3 ? map_p2m_list(pv, pv->shinfo->arch.p2m_cr3)
                                  : map_p2m_tree(pv);
    if (rc)
        goto out;
    if (mig_dirty_bitmap_create(pv->max_pfn + 1, &pv->deferred)) {
        rc = mig_error_last_code();
        goto out;
    }
    if (log)
        xtl_log(log, XTL_DETAIL, -1, "xen", "PV domain %u: 64-bit, max_pfn %#" PRIx64
                ", %u p2m frames (%s), max_mfn %#" PRIx64, domid, pv->max_pfn,
                pv->p2m_frames, pv->p2m_generation == UINT64_MAX ? "tree" : "linear list",
                pv->max_mfn);
    *out = pv;
    pv = NULL;
    rc = 0;
out:
    xen_pv_memory_close(pv);
    return rc;
}

void xen_pv_memory_close(struct xen_pv_memory *pv)
{
    if (!pv)
        return;
    if (pv->p2m)
        xenforeignmemory_unmap(pv->fmem, pv->p2m, pv->p2m_frames);
    if (pv->shinfo)
        xenforeignmemory_unmap(pv->fmem, pv->shinfo, 1);
    if (pv->m2p)
        munmap(pv->m2p, pv->m2p_bytes);
    if (pv->fmem)
        xenforeignmemory_close(pv->fmem);
    mig_dirty_bitmap_free(pv->deferred);
    free(pv->p2m_pfns);
    pthread_mutex_destroy(&pv->lock);
    free(pv);
}

uint64_t xen_pv_nr_pfns(const struct xen_pv_memory *pv)
{
    return pv->max_pfn + 1;
}

unsigned int xen_pv_guest_width(const struct xen_pv_memory *pv)
{
    return pv->width;
}

const struct pv_frame_maps *xen_pv_frame_maps(const struct xen_pv_memory *pv)
{
    return &pv->maps;
}

void xen_pv_p2m_frame_pfns(const struct xen_pv_memory *pv, const uint64_t **pfns_out,
                           unsigned int *count_out)
{
    *pfns_out = pv->p2m_pfns;
    *count_out = pv->p2m_frames;
}

const void *xen_pv_shared_info(const struct xen_pv_memory *pv)
{
    return pv->shinfo;
}

int xen_pv_check_p2m_unchanged(const struct xen_pv_memory *pv)
{
    uint64_t now = pv->shinfo->arch.p2m_generation;

    if (pv->p2m_generation != UINT64_MAX && now != pv->p2m_generation)
        return mig_error_set(MIG_EUNSUPP, "domain %u changed the layout of its p2m list "
                             "during the migration (generation %" PRIu64 " -> %" PRIu64
                             "): retry it when the guest is not ballooning", pv->domid,
                             pv->p2m_generation, now);
    return 0;
}

uint64_t xen_pv_pfn_to_mfn(const struct xen_pv_memory *pv, uint64_t pfn)
{
    uint64_t mfn;

    if (pfn > pv->max_pfn)
        return PV_INVALID_FRAME;
    mfn = __atomic_load_n(&pv->p2m[pfn], __ATOMIC_RELAXED);
    return mfn <= pv->max_mfn ? mfn : PV_INVALID_FRAME;
}

int xen_pv_page_types(struct xen_pv_memory *pv, const xen_pfn_t *mfns, unsigned int n,
                      unsigned int *types)
{
    DECLARE_HYPERCALL_BUFFER(xen_pfn_t, array);
    struct xen_domctl domctl = {
        .cmd = XEN_DOMCTL_getpageframeinfo3,
        .domain = (domid_t)pv->domid,
    };
    int rc;

    array = xc_hypercall_buffer_alloc(pv->xch, array, n * sizeof(*array));
    if (!array)
        return mig_error_set(MIG_ENOMEM, "cannot allocate a hypercall buffer for %u page "
                             "types", n);
    for (unsigned int i = 0; i < n; i++)
        array[i] = mfns[i] == PV_INVALID_FRAME ? 0 : mfns[i];
    domctl.u.getpageframeinfo3.num = n;
    set_xen_guest_handle(domctl.u.getpageframeinfo3.array, array);
    if (xc_domctl(pv->xch, &domctl)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read the page types of %u "
                                 "frames of domain %u", n, pv->domid);
        goto out;
    }
    for (unsigned int i = 0; i < n; i++)
        types[i] = mfns[i] == PV_INVALID_FRAME ? MIG_STREAM_PAGE_XTAB :
                   (unsigned int)((array[i] & XEN_DOMCTL_PFINFO_LTAB_MASK) >>
                                  XEN_DOMCTL_PFINFO_LTAB_SHIFT);
    rc = 0;
out:
    xc_hypercall_buffer_free(pv->xch, array);
    return rc;
}

int xen_pv_prepare_page(struct xen_pv_memory *pv, uint64_t pfn, unsigned int type,
                        bool paused, const void *mapped, void *buf)
{
    unsigned int bad;
    int rc;

    if (!mig_stream_page_type_has_data(type))
        return MIG_EABSENT;
    if (!(type & PV_PAGE_LEVEL_MASK)) {
        memcpy(buf, mapped, PV_PAGE);
        return 0;
    }
    rc = pv_normalise_table(&pv->maps, type, paused, mapped, buf, &bad);
    if (rc == MIG_EABSENT)
        xen_pv_defer(pv, pfn);
    else if (rc)
        rc = mig_error_set(rc, "pfn %#" PRIx64 " of domain %u: %s", pfn, pv->domid,
                           mig_error_last());
    return rc;
}

void xen_pv_defer(struct xen_pv_memory *pv, uint64_t pfn)
{
    pthread_mutex_lock(&pv->lock);
    if (pfn <= pv->max_pfn && !mig_dirty_bitmap_test(pv->deferred, pfn)) {
        mig_dirty_bitmap_set(pv->deferred, pfn);
        pv->nr_deferred++;
    }
    pthread_mutex_unlock(&pv->lock);
}

uint64_t xen_pv_take_deferred(struct xen_pv_memory *pv, struct mig_dirty_bitmap *dst)
{
    uint64_t n;

    pthread_mutex_lock(&pv->lock);
    n = pv->nr_deferred;
    if (n) {
        (void)mig_dirty_bitmap_merge(dst, pv->deferred);
        mig_dirty_bitmap_clear_all(pv->deferred);
        pv->nr_deferred = 0;
    }
    pthread_mutex_unlock(&pv->lock);
    return n;
}

int xen_pv_ring_pfns(struct xen_pv_memory *pv, uint64_t *store_pfn, uint64_t *console_pfn)
{
    vcpu_guest_context_any_t context;
    xen_pfn_t start_info_mfn;
    start_info_t *start_info;

    *store_pfn = *console_pfn = PV_INVALID_FRAME;
    if (xc_vcpu_getcontext(pv->xch, pv->domid, 0, &context))
        return mig_error_set_errno(MIG_EIO, errno, "cannot read vcpu0's context of "
                                   "domain %u", pv->domid);
    /* A suspended PV guest names its start info frame in vCPU 0's rdx. */
    start_info_mfn = context.x64.user_regs.rdx;
    if (!pv_mfn_to_pfn(&pv->maps, start_info_mfn, NULL))
        return mig_error_set(MIG_EFORMAT, "domain %u's vcpu0 rdx %#" PRIx64 " is not its "
                             "start info frame: is it suspended?", pv->domid,
                             (uint64_t)start_info_mfn);
    start_info = map_frames(pv, &start_info_mfn, 1, "the start info page");
    if (!start_info)
        return mig_error_last_code();
    if (!pv_mfn_to_pfn(&pv->maps, start_info->store_mfn, store_pfn))
        *store_pfn = PV_INVALID_FRAME;
    if (!pv_mfn_to_pfn(&pv->maps, start_info->console.domU.mfn, console_pfn))
        *console_pfn = PV_INVALID_FRAME;
    xenforeignmemory_unmap(pv->fmem, start_info, 1);
    return 0;
}
