/*
 * test_pv_stream.c: the records a PV domain's stream head and tail carry
 * (libmig/backend/xen: xen_stream_write_head with a PV part,
 * xen_pv_stream_write_tail), read back with the project's codec: the set
 * and order that Xen 4.17's restore (xg_sr_restore_x86_pv.c) expects, and
 * the bodies as given.  A PVH head must carry none of the PV records.
 */
#include "config.h"

/* xen_private.h brings Xen's public headers, which need GNU C. */
#undef __STRICT_ANSI__

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "mig_error.h"
#include "mig_stream.h"
#include "xen_private.h"

/* What the reader must hand out, in order. */
struct expected {
    enum mig_stream_item_kind kind;
    enum mig_stream_layer layer;     /* records only */
    uint32_t type;                   /* records only */
};

#define HEADER(k) { k, 0, 0 }
#define LIBXC(t)  { MIG_STREAM_ITEM_RECORD, MIG_STREAM_LAYER_LIBXC, t }
#define LIBXL(t)  { MIG_STREAM_ITEM_RECORD, MIG_STREAM_LAYER_LIBXL, t }

static const char config[] = "{\"c_info\":{\"type\":\"pv\",\"name\":\"guest\"}}";
static const uint32_t leaves[2][6] = { { 0, 0, 0xd, 1, 2, 3 }, { 1, 0, 4, 5, 6, 7 } };
static const uint32_t msrs[1][4] = { { 0xce, 0, 0x80000000u, 0 } };
static const uint64_t p2m_pfns[3] = { 0x41, 0x42, 0x97 };
static uint8_t shared_info[4096];
static uint8_t basic0[5168], basic1[5168], extended0[40], xsave0[576], msrs0[32];

static struct xen_pv_head pv_head = {
    .guest_width = 8, .max_pfn = 3 * 512 - 1, .p2m_pfns = p2m_pfns, .p2m_frames = 3,
};

static void head_of(struct xen_stream_head *head, const struct xen_pv_head *pv)
{
    *head = (struct xen_stream_head){
        .config = config, .config_length = sizeof(config), .json = true,
        .xen_major = 4, .xen_minor = 17,
        .cpuid_leaves = leaves, .cpuid_length = sizeof(leaves),
        .msrs = msrs, .msrs_length = sizeof(msrs), .pv = pv,
    };
}

/* A page of data between head and tail, as the destination writes it. */
static void write_one_page(struct mig_stream_writer *w)
{
    static uint8_t page[4096];
    uint64_t word = 0x41 | (uint64_t)MIG_STREAM_PAGE_NOTAB << 60;
    struct iovec iov = { page, sizeof(page) };

    ck_assert_int_eq(mig_stream_write_page_data(w, &word, 1, &iov, 1), 0);
}

/* Read the whole buffer; check kinds/types in order and the END. */
static void check_items(const uint8_t *data, size_t size, const struct expected *want,
                        size_t nr, void (*check)(const struct mig_stream_record *, size_t))
{
    struct mig_stream_reader *r = NULL;
    struct mig_stream_record rec;
    size_t i = 0;
    int rc;

    ck_assert_int_eq(mig_stream_reader_open_mem(&r, data, size, NULL), 0);
    while ((rc = mig_stream_read_record(r, &rec)) == 0) {
        ck_assert_msg(i < nr, "item %zu (%s) beyond the %zu expected", i,
                      mig_stream_type_name(rec.layer, rec.type), nr);
        ck_assert_int_eq(rec.kind, want[i].kind);
        if (rec.kind == MIG_STREAM_ITEM_RECORD) {
            ck_assert_msg(rec.layer == want[i].layer && rec.type == want[i].type,
                          "item %zu is %s, expected %s", i,
                          mig_stream_type_name(rec.layer, rec.type),
                          mig_stream_type_name(want[i].layer, want[i].type));
        }
        if (check)
            check(&rec, i);
        i++;
    }
    ck_assert_msg(rc == 1, "stream ended with %d: %s", rc, mig_error_last());
    ck_assert_uint_eq(i, nr);
    ck_assert_uint_eq(mig_stream_reader_offset(r), size);
    mig_stream_reader_close(r);
}

static void check_pv_bodies(const struct mig_stream_record *rec, size_t i)
{
    struct mig_stream_body body;

    (void)i;
    if (rec->kind == MIG_STREAM_ITEM_DOMAIN_HEADER) {
        ck_assert_uint_eq(rec->domain.type, MIG_STREAM_DOMAIN_X86_PV);
        ck_assert_uint_eq(rec->domain.xen_major, 4);
        ck_assert_uint_eq(rec->domain.xen_minor, 17);
        return;
    }
    if (rec->kind != MIG_STREAM_ITEM_RECORD || rec->layer != MIG_STREAM_LAYER_LIBXC)
        return;
    ck_assert_int_eq(mig_stream_decode_body(rec, &body), 0);
    switch (rec->type) {
    case MIG_LIBXC_X86_PV_INFO:
        ck_assert_uint_eq(body.u.x86_pv_info.guest_width, 8);
        ck_assert_uint_eq(body.u.x86_pv_info.pt_levels, 4);
        break;
    case MIG_LIBXC_X86_PV_P2M_FRAMES:
        ck_assert_uint_eq(body.u.p2m_frames.start_pfn, 0);
        ck_assert_uint_eq(body.u.p2m_frames.end_pfn, 3 * 512 - 1);
        ck_assert_uint_eq(body.u.p2m_frames.count, 3);
        ck_assert_mem_eq(body.u.p2m_frames.frames, p2m_pfns, sizeof(p2m_pfns));
        break;
    case MIG_LIBXC_SHARED_INFO:
        ck_assert_uint_eq(body.u.blob.length, 4096);
        ck_assert_mem_eq(body.u.blob.data, shared_info, 4096);
        break;
    case MIG_LIBXC_X86_PV_VCPU_BASIC:
        ck_assert_uint_eq(body.u.vcpu.context_length, sizeof(basic0));
        ck_assert_mem_eq(body.u.vcpu.context, body.u.vcpu.vcpu_id ? basic1 : basic0,
                         sizeof(basic0));
        break;
    case MIG_LIBXC_X86_PV_VCPU_EXTENDED:
    case MIG_LIBXC_X86_PV_VCPU_XSAVE:
    case MIG_LIBXC_X86_PV_VCPU_MSRS:
        /* Only vCPU 0 has any: vCPU 1's empty ones are left out. */
        ck_assert_uint_eq(body.u.vcpu.vcpu_id, 0);
        break;
    case MIG_LIBXC_X86_TSC_INFO:
        ck_assert_uint_eq(body.u.tsc_info.khz, 2000000);
        ck_assert_uint_eq(body.u.tsc_info.nsec, 123456789);
        break;
    default:
        break;
    }
}

START_TEST(test_pv_head_and_tail_in_restore_order)
{
    static const struct expected want[] = {
        HEADER(MIG_STREAM_ITEM_XL_HEADER),
        HEADER(MIG_STREAM_ITEM_LIBXL_HEADER),
        LIBXL(MIG_LIBXL_LIBXC_CONTEXT),
        HEADER(MIG_STREAM_ITEM_IMAGE_HEADER),
        HEADER(MIG_STREAM_ITEM_DOMAIN_HEADER),
        LIBXC(MIG_LIBXC_X86_PV_INFO),
        LIBXC(MIG_LIBXC_X86_CPUID_POLICY),
        LIBXC(MIG_LIBXC_X86_MSR_POLICY),
        LIBXC(MIG_LIBXC_STATIC_DATA_END),
        LIBXC(MIG_LIBXC_X86_PV_P2M_FRAMES),
        LIBXC(MIG_LIBXC_PAGE_DATA),
        LIBXC(MIG_LIBXC_X86_TSC_INFO),
        LIBXC(MIG_LIBXC_SHARED_INFO),
        LIBXC(MIG_LIBXC_X86_PV_VCPU_BASIC),
        LIBXC(MIG_LIBXC_X86_PV_VCPU_EXTENDED),
        LIBXC(MIG_LIBXC_X86_PV_VCPU_XSAVE),
        LIBXC(MIG_LIBXC_X86_PV_VCPU_MSRS),
        LIBXC(MIG_LIBXC_X86_PV_VCPU_BASIC),
        LIBXC(MIG_LIBXC_END),
        LIBXL(MIG_LIBXL_END),
    };
    struct xen_pv_vcpu_state vcpus[2] = {
        { .id = 0, .basic = basic0, .basic_length = sizeof(basic0),
          .extended = extended0, .extended_length = sizeof(extended0),
          .xsave = xsave0, .xsave_length = sizeof(xsave0),
          .msrs = msrs0, .msrs_length = sizeof(msrs0) },
        { .id = 1, .basic = basic1, .basic_length = sizeof(basic1) },
    };
    struct xen_pv_tail tail = {
        .tsc_mode = 0, .tsc_khz = 2000000, .tsc_nsec = 123456789,
        .shared_info = shared_info, .vcpus = vcpus, .nr_vcpus = 2,
    };
    struct xen_stream_head head;
    struct mig_stream_writer *w = NULL;
    const uint8_t *data;
    size_t size;

    for (size_t i = 0; i < sizeof(shared_info); i++)
        shared_info[i] = (uint8_t)(i * 7);
    memset(basic0, 0x11, sizeof(basic0));
    memset(basic1, 0x22, sizeof(basic1));
    head_of(&head, &pv_head);
    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    ck_assert_int_eq(xen_stream_write_head(w, &head), 0);
    write_one_page(w);
    ck_assert_int_eq(xen_pv_stream_write_tail(w, &tail), 0);
    ck_assert_int_eq(mig_stream_writer_buffer(w, &data, &size), 0);
    check_items(data, size, want, sizeof(want) / sizeof(want[0]), check_pv_bodies);
    mig_stream_writer_close(w);
}
END_TEST

static void check_hvm_domain(const struct mig_stream_record *rec, size_t i)
{
    (void)i;
    if (rec->kind == MIG_STREAM_ITEM_DOMAIN_HEADER)
        ck_assert_uint_eq(rec->domain.type, MIG_STREAM_DOMAIN_X86_HVM);
}

START_TEST(test_pvh_head_has_no_pv_records)
{
    static const struct expected want[] = {
        HEADER(MIG_STREAM_ITEM_XL_HEADER),
        HEADER(MIG_STREAM_ITEM_LIBXL_HEADER),
        LIBXL(MIG_LIBXL_LIBXC_CONTEXT),
        HEADER(MIG_STREAM_ITEM_IMAGE_HEADER),
        HEADER(MIG_STREAM_ITEM_DOMAIN_HEADER),
        LIBXC(MIG_LIBXC_X86_CPUID_POLICY),
        LIBXC(MIG_LIBXC_X86_MSR_POLICY),
        LIBXC(MIG_LIBXC_STATIC_DATA_END),
        LIBXC(MIG_LIBXC_END),
        LIBXL(MIG_LIBXL_END),
    };
    struct xen_stream_head head;
    struct mig_stream_writer *w = NULL;
    const uint8_t *data;
    size_t size;

    head_of(&head, NULL);
    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    ck_assert_int_eq(xen_stream_write_head(w, &head), 0);
    ck_assert_int_eq(mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_END,
                                             NULL, 0), 0);
    ck_assert_int_eq(mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXL, MIG_LIBXL_END,
                                             NULL, 0), 0);
    ck_assert_int_eq(mig_stream_writer_buffer(w, &data, &size), 0);
    check_items(data, size, want, sizeof(want) / sizeof(want[0]), check_hvm_domain);
    mig_stream_writer_close(w);
}
END_TEST

START_TEST(test_pv_max_pfn_beyond_the_record_is_refused)
{
    struct xen_pv_head big = pv_head;
    struct xen_stream_head head;
    struct mig_stream_writer *w = NULL;

    big.max_pfn = (uint64_t)UINT32_MAX + 1;
    head_of(&head, &big);
    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    ck_assert_int_eq(xen_stream_write_head(w, &head), MIG_ELIMIT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "max_pfn 0x100000000"));
    mig_stream_writer_close(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pv_stream");
    TCase *tc = tcase_create("records");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_pv_head_and_tail_in_restore_order);
    tcase_add_test(tc, test_pvh_head_has_no_pv_records);
    tcase_add_test(tc, test_pv_max_pfn_beyond_the_record_is_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
