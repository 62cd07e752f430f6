/*
 * source_stream.c: the records of a PVH/HVM domain's migration stream that
 * are not pages: the head (headers, CPUID/MSR policy) and the tail (TSC,
 * HVM context, HVM params, libxc's END, the device model's records of an
 * HVM domain, libxl's END), built with the codec's
 * writer so that the destination can hand them to Xen's stock restore.
 * The record set and order are those of Xen 4.17's libxc for an HVM
 * guest (docs/specs/libxc-migration-stream.pandoc).
 *
 * Must never pause, resume or modify the domain: it only reads.
 */
#include "config.h"

/* Xen's public headers need GNU C (anonymous unions, __align8__). */
#undef __STRICT_ANSI__

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xenguest.h>
#include <xen/hvm/params.h>

#include "mig_error.h"
#include "mig_stream.h"
#include "xen_private.h"
#include "util/le.h"

int xen_stream_take_buffer(struct mig_stream_writer *w, void **out, size_t *len_out)
{
    const uint8_t *data;
    size_t size;
    int rc;

    rc = mig_stream_writer_buffer(w, &data, &size);
    if (rc)
        return rc;
    *out = malloc(size ? size : 1);
    if (!*out)
        return mig_error_set(MIG_ENOMEM, "out of memory for %zu stream bytes", size);
    memcpy(*out, data, size);
    *len_out = size;
    return 0;
}

int xen_stream_write_head(struct mig_stream_writer *w, const struct xen_stream_head *head)
{
    struct mig_stream_xl_header xl = {
        .mandatory_flags = MIG_STREAM_XL_FLAG_STREAMV2 |
                           (head->json ? MIG_STREAM_XL_FLAG_JSON : 0),
        .config = head->config,
        .config_length = head->config_length,
    };
    struct mig_stream_libxl_header libxl = { .version = MIG_STREAM_LIBXL_VERSION };
    struct mig_stream_image_header image = { .version = MIG_STREAM_IHDR_VERSION };
    struct mig_stream_domain_header domain = {
        .type = head->pv ? MIG_STREAM_DOMAIN_X86_PV : MIG_STREAM_DOMAIN_X86_HVM,
        .page_shift = MIG_STREAM_PAGE_SHIFT,
        .xen_major = head->xen_major,
        .xen_minor = head->xen_minor,
    };
    int rc;

    rc = mig_stream_write_xl_header(w, &xl);
    if (!rc)
        rc = mig_stream_write_libxl_header(w, &libxl);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXL, MIG_LIBXL_LIBXC_CONTEXT,
                                     NULL, 0);
    if (!rc)
        rc = mig_stream_write_image_header(w, &image);
    if (!rc)
        rc = mig_stream_write_domain_header(w, &domain);
    if (!rc && head->pv) {
        /* PV: the guest's width comes before the policy (Xen 4.17's order). */
        struct mig_stream_body info = {
            .layer = MIG_STREAM_LAYER_LIBXC, .type = MIG_LIBXC_X86_PV_INFO,
            .u.x86_pv_info = { .guest_width = (uint8_t)head->pv->guest_width,
                               .pt_levels = head->pv->guest_width == 8 ? 4 : 3 },
        };

        rc = mig_stream_write_body(w, &info);
    }
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_CPUID_POLICY,
                                     head->cpuid_leaves, head->cpuid_length);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_MSR_POLICY,
                                     head->msrs, head->msrs_length);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_STATIC_DATA_END,
                                     NULL, 0);
    if (!rc && head->pv) {
        /* PV: the frames of the guest's p2m, right after the static data. */
        struct mig_stream_body frames = {
            .layer = MIG_STREAM_LAYER_LIBXC, .type = MIG_LIBXC_X86_PV_P2M_FRAMES,
            .u.p2m_frames = { .start_pfn = 0, .end_pfn = (uint32_t)head->pv->max_pfn,
                              .count = head->pv->p2m_frames,
                              .frames = head->pv->p2m_pfns },
        };

        if (head->pv->max_pfn > UINT32_MAX)
            return mig_error_set(MIG_ELIMIT, "PV guest's max_pfn %#" PRIx64 " does not fit "
                                 "the X86_PV_P2M_FRAMES record's 32 bits", head->pv->max_pfn);
        rc = mig_stream_write_body(w, &frames);
    }
    return rc;
}

int xen_stream_head(xc_interface *xch, uint32_t domid, const void *config,
                    uint32_t config_len, bool json, const struct xen_pv_head *pv,
                    void **out, size_t *len_out)
{
    struct mig_stream_writer *w = NULL;
    struct xen_stream_head head = {
        .config = config, .config_length = config_len, .json = json, .pv = pv,
    };
    xc_cpu_policy_t *policy = NULL;
    xen_cpuid_leaf_t *leaves = NULL;
    xen_msr_entry_t *msrs = NULL;
    uint32_t nr_leaves, nr_msrs;
    int version = xc_version(xch, XENVER_version, NULL);
    int rc;

    *out = NULL;
    *len_out = 0;
    if (version < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot read Xen's version");
    head.xen_major = (uint32_t)version >> 16;
    head.xen_minor = (uint32_t)version & 0xffff;
    if (xc_cpu_policy_get_size(xch, &nr_leaves, &nr_msrs)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot get the CPU policy size from Xen");
        goto out;
    }
    leaves = calloc(nr_leaves ? nr_leaves : 1, sizeof(*leaves));
    msrs = calloc(nr_msrs ? nr_msrs : 1, sizeof(*msrs));
    policy = xc_cpu_policy_init();
    if (!leaves || !msrs || !policy) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for a CPU policy");
        goto out;
    }
    if (xc_cpu_policy_get_domain(xch, domid, policy) ||
        xc_cpu_policy_serialise(xch, policy, leaves, &nr_leaves, msrs, &nr_msrs)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read domain %u's CPU policy",
                                 domid);
        goto out;
    }
    head.cpuid_leaves = leaves;
    head.cpuid_length = nr_leaves * (uint32_t)sizeof(*leaves);
    head.msrs = msrs;
    head.msrs_length = nr_msrs * (uint32_t)sizeof(*msrs);
    rc = mig_stream_writer_open_buffer(&w, NULL);
    if (!rc)
        rc = xen_stream_write_head(w, &head);
    if (!rc)
        rc = xen_stream_take_buffer(w, out, len_out);
out:
    mig_stream_writer_close(w);
    xc_cpu_policy_destroy(policy);
    free(leaves);
    free(msrs);
    return rc;
}

/* The HVM params libxc 4.17 saves (only the non-zero ones are sent). */
static const uint32_t saved_params[] = {
    HVM_PARAM_STORE_PFN, HVM_PARAM_IOREQ_PFN, HVM_PARAM_BUFIOREQ_PFN,
    HVM_PARAM_PAGING_RING_PFN, HVM_PARAM_MONITOR_RING_PFN, HVM_PARAM_SHARING_RING_PFN,
    HVM_PARAM_VM86_TSS_SIZED, HVM_PARAM_CONSOLE_PFN, HVM_PARAM_ACPI_IOPORTS_LOCATION,
    HVM_PARAM_VIRIDIAN, HVM_PARAM_IDENT_PT, HVM_PARAM_VM_GENERATION_ID_ADDR,
    HVM_PARAM_IOREQ_SERVER_PFN, HVM_PARAM_NR_IOREQ_SERVER_PAGES,
    HVM_PARAM_X87_FIP_WIDTH, HVM_PARAM_MCA_CAP,
};

/* Read the saved params' non-zero values into pairs[] (index, value). */
static int read_hvm_params(xc_interface *xch, uint32_t domid, uint64_t *pairs,
                           uint32_t *count_out)
{
    uint32_t count = 0;

    for (size_t i = 0; i < sizeof(saved_params) / sizeof(saved_params[0]); i++) {
        uint64_t value;

        if (xc_hvm_param_get(xch, domid, saved_params[i], &value))
            return mig_error_set_errno(MIG_EIO, errno, "cannot read HVM param %u of "
                                       "domain %u", saved_params[i], domid);
        if (!value)
            continue;
        pairs[2 * count] = saved_params[i];
        pairs[2 * count + 1] = value;
        count++;
    }
    *count_out = count;
    return 0;
}

int xen_stream_write_hvm_tail(struct mig_stream_writer *w, const struct xen_hvm_tail *tail)
{
    uint8_t tsc[24], *params = NULL;
    size_t params_length = 8 + (size_t)tail->nr_params * 16;
    int rc;

    mig_le32_store(tsc, tail->tsc_mode);
    mig_le32_store(tsc + 4, tail->tsc_khz);
    mig_le64_store(tsc + 8, tail->tsc_nsec);
    mig_le32_store(tsc + 16, tail->tsc_incarnation);
    mig_le32_store(tsc + 20, 0);
    if (tail->nr_params > 4096)
        return mig_error_set(MIG_ELIMIT, "%u HVM params is more than Xen has",
                             tail->nr_params);
    params = malloc(params_length);
    if (!params)
        return mig_error_set(MIG_ENOMEM, "out of memory for the HVM params record");
    mig_le32_store(params, tail->nr_params);
    mig_le32_store(params + 4, 0);
    for (uint32_t i = 0; i < tail->nr_params; i++) {
        mig_le64_store(params + 8 + i * 16, tail->params[2 * i]);
        mig_le64_store(params + 8 + i * 16 + 8, tail->params[2 * i + 1]);
    }
    rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_TSC_INFO,
                                 tsc, sizeof(tsc));
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_HVM_CONTEXT,
                                     tail->context, tail->context_length);
    if (!rc && tail->nr_params)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_HVM_PARAMS,
                                     params, (uint32_t)params_length);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_END, NULL, 0);
    /* libxl writes the device model's records after libxc's stream. */
    if (!rc && tail->emulator)
        rc = xen_stream_write_emulator(w, tail->emulator);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXL, MIG_LIBXL_END, NULL, 0);
    free(params);
    return rc;
}

int xen_stream_tail(xc_interface *xch, uint32_t domid, const struct xen_emulator_state *emu,
                    void **out, size_t *len_out)
{
    uint64_t params[2 * sizeof(saved_params) / sizeof(saved_params[0])];
    struct xen_hvm_tail tail = { .params = params, .emulator = emu };
    struct mig_stream_writer *w = NULL;
    uint8_t *context = NULL;
    int size, rc;

    *out = NULL;
    *len_out = 0;
    if (xc_domain_get_tsc_info(xch, domid, &tail.tsc_mode, &tail.tsc_nsec, &tail.tsc_khz,
                               &tail.tsc_incarnation))
        return mig_error_set_errno(MIG_EIO, errno, "cannot read domain %u's TSC info",
                                   domid);
    size = xc_domain_hvm_getcontext(xch, domid, NULL, 0);
    if (size <= 0) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot size domain %u's HVM context",
                                 domid);
        goto out;
    }
    context = malloc((size_t)size);
    if (!context) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %d bytes of HVM context", size);
        goto out;
    }
    size = xc_domain_hvm_getcontext(xch, domid, context, (uint32_t)size);
    if (size <= 0) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot read domain %u's HVM context",
                                 domid);
        goto out;
    }
    tail.context = context;
    tail.context_length = (uint32_t)size;
    rc = read_hvm_params(xch, domid, params, &tail.nr_params);
    if (!rc)
        rc = mig_stream_writer_open_buffer(&w, NULL);
    if (!rc)
        rc = xen_stream_write_hvm_tail(w, &tail);
    if (!rc)
        rc = xen_stream_take_buffer(w, out, len_out);
out:
    mig_stream_writer_close(w);
    free(context);
    return rc;
}
