/*
 * source_pv_stream.c: the tail of a 64-bit PV domain's migration stream:
 * TSC info, the shared info page and each online vCPU's state (basic
 * context normalised: the start info frame in vCPU 0's rdx, the GDT
 * frames, cr3 and the user page table in ctrlreg[1] turned from mfns into
 * pfns; the extended context, xsave area and MSRs as Xen gives them), in
 * the order of Xen 4.17's libxc (docs/specs/libxc-migration-stream.pandoc).
 * The head's PV records are written by source_stream.c.
 *
 * Must never pause, resume or modify the domain: it only reads, from a
 * suspended domain.
 */
#include "config.h"

/* Xen's public headers need GNU C (anonymous unions, __align8__, typeof). */
#undef __STRICT_ANSI__
#define typeof __typeof__

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>

#include "mig_error.h"
#include "mig_stream.h"
#include "pv_tables.h"
#include "xen_private.h"

static int write_vcpu_record(struct mig_stream_writer *w, uint32_t type, uint32_t id,
                             const void *context, uint32_t length)
{
    struct mig_stream_body body = {
        .layer = MIG_STREAM_LAYER_LIBXC, .type = type,
        .u.vcpu = { .vcpu_id = id, .context_length = length, .context = context },
    };

    if (!length)
        return 0;                  /* Xen has none: libxc sends no record */
    return mig_stream_write_body(w, &body);
}

int xen_pv_stream_write_tail(struct mig_stream_writer *w, const struct xen_pv_tail *tail)
{
    struct mig_stream_body tsc = {
        .layer = MIG_STREAM_LAYER_LIBXC, .type = MIG_LIBXC_X86_TSC_INFO,
        .u.tsc_info = { .mode = tail->tsc_mode, .khz = tail->tsc_khz,
                        .nsec = tail->tsc_nsec, .incarnation = tail->tsc_incarnation },
    };
    int rc;

    rc = mig_stream_write_body(w, &tsc);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_SHARED_INFO,
                                     tail->shared_info, MIG_PAGE_SIZE);
    for (unsigned int i = 0; !rc && i < tail->nr_vcpus; i++) {
        const struct xen_pv_vcpu_state *v = &tail->vcpus[i];

        if (!v->basic_length)
            return mig_error_set(MIG_EINVAL, "vCPU %u has no basic context", v->id);
        rc = write_vcpu_record(w, MIG_LIBXC_X86_PV_VCPU_BASIC, v->id, v->basic,
                               v->basic_length);
        if (!rc)
            rc = write_vcpu_record(w, MIG_LIBXC_X86_PV_VCPU_EXTENDED, v->id, v->extended,
                                   v->extended_length);
        if (!rc)
            rc = write_vcpu_record(w, MIG_LIBXC_X86_PV_VCPU_XSAVE, v->id, v->xsave,
                                   v->xsave_length);
        if (!rc)
            rc = write_vcpu_record(w, MIG_LIBXC_X86_PV_VCPU_MSRS, v->id, v->msrs,
                                   v->msrs_length);
    }
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_END, NULL, 0);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXL, MIG_LIBXL_END, NULL, 0);
    return rc;
}

/* One vCPU's gathered state; the buffers are owned here. */
struct vcpu_gathered {
    vcpu_guest_context_any_t basic;
    struct xen_domctl_ext_vcpucontext extended;
    void *xsave;
    void *msrs;
};

/* The basic context with its frames turned into pfns. */
static int normalise_vcpu(const struct pv_frame_maps *maps, uint32_t id,
                          vcpu_guest_context_x86_64_t *c)
{
    char what[64];
    uint64_t pfn;
    unsigned int frames;
    int rc;

    if (id == 0) {
        /* vCPU 0's rdx holds the start info frame across a suspend. */
        snprintf(what, sizeof(what), "vcpu0's start info frame (rdx)");
        rc = pv_normalise_frame(maps, what, c->user_regs.rdx, &pfn);
        if (rc)
            return rc;
        c->user_regs.rdx = pfn;
    }
    if (c->gdt_ents > FIRST_RESERVED_GDT_ENTRY)
        return mig_error_set(MIG_EFORMAT, "vcpu%u has %u GDT entries, more than the %u a "
                             "guest may have", id, (unsigned int)c->gdt_ents,
                             FIRST_RESERVED_GDT_ENTRY);
    frames = (unsigned int)(c->gdt_ents + 511) / 512;
    for (unsigned int i = 0; i < frames; i++) {
        snprintf(what, sizeof(what), "vcpu%u's GDT frame %u", id, i);
        rc = pv_normalise_frame(maps, what, c->gdt_frames[i], &pfn);
        if (rc)
            return rc;
        c->gdt_frames[i] = pfn;
    }
    snprintf(what, sizeof(what), "vcpu%u's cr3", id);
    rc = pv_normalise_frame(maps, what, c->ctrlreg[3] >> 12, &pfn);
    if (rc)
        return rc;
    c->ctrlreg[3] = pfn << 12;
    if (c->ctrlreg[1]) {
        /* The user-mode page table: valid bit 0 plus the frame. */
        snprintf(what, sizeof(what), "vcpu%u's user page table (ctrlreg[1])", id);
        rc = pv_normalise_frame(maps, what, c->ctrlreg[1] >> 12, &pfn);
        if (rc)
            return rc;
        c->ctrlreg[1] = 1 | pfn << 12;
    }
    return 0;
}

/* A per-vCPU domctl query of cmd; what names it for the message. */
static int vcpu_domctl(xc_interface *xch, struct xen_domctl *domctl, uint32_t cmd,
                       uint32_t domid, uint32_t id, const char *what)
{
    memset(domctl, 0, sizeof(*domctl));
    domctl->cmd = cmd;
    domctl->domain = (domid_t)domid;
    /* ext_vcpucontext, vcpuextstate and vcpu_msrs all start with the vCPU id. */
    domctl->u.vcpu_msrs.vcpu = id;
    if (xc_domctl(xch, domctl))
        return mig_error_set_errno(MIG_EIO, errno, "cannot read vcpu%u's %s of domain %u",
                                   id, what, domid);
    return 0;
}

/*
 * Run domctl (its handle already set to buffer, size bytes) and copy the
 * buffer into *copy_out (malloc'ed, owned by the caller).
 */
static int fetch_copy(xc_interface *xch, struct xen_domctl *domctl, const void *buffer,
                      size_t size, void **copy_out, const char *what, uint32_t id,
                      uint32_t domid)
{
    if (xc_domctl(xch, domctl))
        return mig_error_set_errno(MIG_EIO, errno, "cannot read vcpu%u's %s of domain %u",
                                   id, what, domid);
    *copy_out = malloc(size);
    if (!*copy_out)
        return mig_error_set(MIG_ENOMEM, "out of memory for vcpu%u's %s", id, what);
    memcpy(*copy_out, buffer, size);
    return 0;
}

static int gather_vcpu(xc_interface *xch, uint32_t domid, const struct pv_frame_maps *maps,
                       uint32_t id, struct vcpu_gathered *g, struct xen_pv_vcpu_state *v)
{
    struct xen_domctl domctl;
    DECLARE_HYPERCALL_BUFFER(void, buffer);
    int rc;

    v->id = id;
    if (xc_vcpu_getcontext(xch, domid, id, &g->basic))
        return mig_error_set_errno(MIG_EIO, errno, "cannot read vcpu%u's context of "
                                   "domain %u", id, domid);
    rc = normalise_vcpu(maps, id, &g->basic.x64);
    if (rc)
        return rc;
    v->basic = &g->basic.x64;
    v->basic_length = sizeof(g->basic.x64);

    rc = vcpu_domctl(xch, &domctl, XEN_DOMCTL_get_ext_vcpucontext, domid, id,
                     "extended context");
    if (rc)
        return rc;
    g->extended = domctl.u.ext_vcpucontext;
    v->extended = &g->extended;
    v->extended_length = domctl.u.ext_vcpucontext.size;
    if (v->extended_length > sizeof(g->extended))
        return mig_error_set(MIG_EFORMAT, "vcpu%u's extended context is %u bytes, more "
                             "than its %zu-byte structure", id, v->extended_length,
                             sizeof(g->extended));

    /* xsave: ask for the size first, then the area. */
    rc = vcpu_domctl(xch, &domctl, XEN_DOMCTL_getvcpuextstate, domid, id, "xsave size");
    if (rc)
        return rc;
    if (domctl.u.vcpuextstate.xfeature_mask && domctl.u.vcpuextstate.size) {
        uint64_t size = domctl.u.vcpuextstate.size;

        if (size > (1u << 20))
            return mig_error_set(MIG_ELIMIT, "vcpu%u's xsave area of %" PRIu64 " bytes is "
                                 "beyond 1 MiB", id, size);
        buffer = xc_hypercall_buffer_alloc(xch, buffer, size);
        if (!buffer)
            return mig_error_set(MIG_ENOMEM, "out of hypercall memory for vcpu%u", id);
        set_xen_guest_handle(domctl.u.vcpuextstate.buffer, buffer);
        rc = fetch_copy(xch, &domctl, buffer, size, &g->xsave, "xsave area", id, domid);
        xc_hypercall_buffer_free(xch, buffer);
        if (rc)
            return rc;
        v->xsave = g->xsave;
        v->xsave_length = (uint32_t)(domctl.u.vcpuextstate.size < size ?
                                     domctl.u.vcpuextstate.size : size);
    }

    rc = vcpu_domctl(xch, &domctl, XEN_DOMCTL_get_vcpu_msrs, domid, id, "MSR count");
    if (rc)
        return rc;
    if (domctl.u.vcpu_msrs.msr_count) {
        uint32_t count = domctl.u.vcpu_msrs.msr_count;
        size_t size = count * sizeof(xen_domctl_vcpu_msr_t);

        if (count > 4096)
            return mig_error_set(MIG_ELIMIT, "vcpu%u has %u MSRs to save, beyond 4096",
                                 id, count);
        buffer = xc_hypercall_buffer_alloc(xch, buffer, size);
        if (!buffer)
            return mig_error_set(MIG_ENOMEM, "out of hypercall memory for vcpu%u", id);
        set_xen_guest_handle(domctl.u.vcpu_msrs.msrs, buffer);
        rc = fetch_copy(xch, &domctl, buffer, size, &g->msrs, "MSRs", id, domid);
        xc_hypercall_buffer_free(xch, buffer);
        if (rc)
            return rc;
        v->msrs = g->msrs;
        v->msrs_length = (domctl.u.vcpu_msrs.msr_count < count ?
                          domctl.u.vcpu_msrs.msr_count : count) *
                         (uint32_t)sizeof(xen_domctl_vcpu_msr_t);
    }
    return 0;
}

int xen_pv_stream_tail(xc_interface *xch, uint32_t domid, struct xen_pv_memory *pv,
                       void **out, size_t *len_out)
{
    struct mig_stream_writer *w = NULL;
    struct xen_pv_tail tail = { .shared_info = xen_pv_shared_info(pv) };
    struct vcpu_gathered *gathered = NULL;
    struct xen_pv_vcpu_state *vcpus = NULL;
    xc_domaininfo_t info; /* xc_domain_getinfo() is gone since Xen 4.18 */
    unsigned int nr = 0;
    int rc;

    *out = NULL;
    *len_out = 0;
    rc = xen_pv_check_p2m_unchanged(pv);
    if (rc)
        return rc;
    if (xc_domain_get_tsc_info(xch, domid, &tail.tsc_mode, &tail.tsc_nsec, &tail.tsc_khz,
                               &tail.tsc_incarnation))
        return mig_error_set_errno(MIG_EIO, errno, "cannot read domain %u's TSC info",
                                   domid);
    if (xc_domain_getinfolist(xch, domid, 1, &info) != 1 || info.domain != domid)
        return mig_error_set_errno(MIG_EIO, errno, "cannot read domain %u's info", domid);
    gathered = calloc(info.max_vcpu_id + 1, sizeof(*gathered));
    vcpus = calloc(info.max_vcpu_id + 1, sizeof(*vcpus));
    if (!gathered || !vcpus) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %u vCPUs", info.max_vcpu_id + 1);
        goto out;
    }
    for (uint32_t id = 0; id <= info.max_vcpu_id; id++) {
        xc_vcpuinfo_t vinfo;

        if (xc_vcpu_getinfo(xch, domid, id, &vinfo)) {
            rc = mig_error_set_errno(MIG_EIO, errno, "cannot read vcpu%u's info of "
                                     "domain %u", id, domid);
            goto out;
        }
        if (!vinfo.online)
            continue;              /* offline vCPUs have no records */
        rc = gather_vcpu(xch, domid, xen_pv_frame_maps(pv), id, &gathered[nr], &vcpus[nr]);
        nr++;
        if (rc)
            goto out;
    }
    tail.vcpus = vcpus;
    tail.nr_vcpus = nr;
    rc = mig_stream_writer_open_buffer(&w, NULL);
    if (!rc)
        rc = xen_pv_stream_write_tail(w, &tail);
    if (!rc)
        rc = xen_stream_take_buffer(w, out, len_out);
out:
    mig_stream_writer_close(w);
    for (unsigned int i = 0; gathered && i < nr; i++) {
        free(gathered[i].xsave);
        free(gathered[i].msrs);
    }
    free(gathered);
    free(vcpus);
    return rc;
}
