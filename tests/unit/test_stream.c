/*
 * test_stream.c: the stream codec (libmig/stream): encode/decode round trip
 * of every record type of Xen 4.17's libxc v3 and libxl v2 streams and of
 * the headers, and the reader's errors on malformed input (code and message:
 * which item, at which offset, what was wrong).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig_stream.h"

#define LIBXC_FIRST_RECORD_OFFSET 40   /* image header 24 + domain header 16 */

/* A stream under construction / being read back. */
struct fixture {
    struct mig_stream_writer *writer;
    uint8_t *data;       /* private copy of what was written, patchable */
    size_t size;
    struct mig_stream_reader *reader;
};

static void begin_libxc(struct fixture *f)
{
    struct mig_stream_image_header image = { 3, 0 };
    struct mig_stream_domain_header domain = { MIG_STREAM_DOMAIN_X86_HVM, 12, 4, 17 };

    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(mig_stream_writer_open_buffer(&f->writer, NULL), 0);
    ck_assert_int_eq(mig_stream_write_image_header(f->writer, &image), 0);
    ck_assert_int_eq(mig_stream_write_domain_header(f->writer, &domain), 0);
}

static void begin_libxl(struct fixture *f)
{
    struct mig_stream_libxl_header header = { 2, 0 };

    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(mig_stream_writer_open_buffer(&f->writer, NULL), 0);
    ck_assert_int_eq(mig_stream_write_libxl_header(f->writer, &header), 0);
}

/* Snapshot the writer's buffer (after END) and open a memory reader on it. */
static void finish(struct fixture *f)
{
    const uint8_t *data;
    size_t size;

    ck_assert_int_eq(mig_stream_writer_buffer(f->writer, &data, &size), 0);
    ck_assert_uint_eq(size, mig_stream_writer_offset(f->writer));
    f->data = malloc(size ? size : 1);
    ck_assert_ptr_nonnull(f->data);
    memcpy(f->data, data, size);
    f->size = size;
    mig_stream_writer_close(f->writer);
    f->writer = NULL;
}

static void open_reader(struct fixture *f)
{
    ck_assert_int_eq(mig_stream_reader_open_mem(&f->reader, f->data, f->size, NULL), 0);
}

static void cleanup(struct fixture *f)
{
    mig_stream_reader_close(f->reader);
    mig_stream_writer_close(f->writer);
    free(f->data);
}

/* Read items until one with this index; asserts success along the way. */
static void read_to(struct fixture *f, uint64_t index, struct mig_stream_record *rec)
{
    do {
        int rc = mig_stream_read_record(f->reader, rec);

        ck_assert_msg(rc == 0, "read failed: %s", mig_error_last());
    } while (rec->index < index);
}

/* Read until the end or an error; returns the first non-zero result. */
static int read_all(struct fixture *f)
{
    struct mig_stream_record rec;
    int rc;

    while ((rc = mig_stream_read_record(f->reader, &rec)) == 0)
        ;
    return rc;
}

static void assert_error(int rc, int code, const char *fragment)
{
    ck_assert_msg(rc == code, "expected %s, got %s (%s)", mig_error_name(code),
                  mig_error_name(rc), mig_error_last());
    ck_assert_int_eq(mig_error_last_code(), code);
    ck_assert_msg(strstr(mig_error_last(), fragment), "message \"%s\" lacks \"%s\"",
                  mig_error_last(), fragment);
}

/*
 * Write body into a fresh libxc (or libxl) stream, read it back, decode
 * it, and check the record came back as written: the caller compares the
 * typed fields.
 */
static void roundtrip(struct fixture *f, const struct mig_stream_body *in,
                      struct mig_stream_record *rec, struct mig_stream_body *out)
{
    if (in->layer == MIG_STREAM_LAYER_LIBXC)
        begin_libxc(f);
    else
        begin_libxl(f);
    ck_assert_int_eq(mig_stream_write_body(f->writer, in), 0);
    if (!(in->layer == MIG_STREAM_LAYER_LIBXC && in->type == MIG_LIBXC_END) &&
        !(in->layer == MIG_STREAM_LAYER_LIBXL && in->type == MIG_LIBXL_END))
        ck_assert_int_eq(mig_stream_write_record(f->writer, in->layer, 0, NULL, 0), 0);
    finish(f);
    open_reader(f);
    read_to(f, in->layer == MIG_STREAM_LAYER_LIBXC ? 2 : 1, rec);
    ck_assert_int_eq(rec->kind, MIG_STREAM_ITEM_RECORD);
    ck_assert_int_eq(rec->layer, in->layer);
    ck_assert_uint_eq(rec->type, in->type);
    ck_assert_uint_eq(rec->offset, in->layer == MIG_STREAM_LAYER_LIBXC ?
                      LIBXC_FIRST_RECORD_OFFSET : 16);
    ck_assert_uint_eq(rec->size % 8, 0);
    ck_assert_uint_eq(rec->size, 8 + ((rec->length + 7u) & ~7u));
    ck_assert_int_eq(mig_stream_decode_body(rec, out), 0);
    ck_assert_int_eq(read_all(f), 1);
}

/* ---- Round trips of every record type ---- */

static const uint32_t empty_libxc_types[] = {
    MIG_LIBXC_END, MIG_LIBXC_VERIFY, MIG_LIBXC_CHECKPOINT, MIG_LIBXC_STATIC_DATA_END,
};

START_TEST(test_roundtrip_empty_libxc)
{
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, empty_libxc_types[_i], { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 0);
    ck_assert_ptr_null(rec.body);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_page_data)
{
    static uint8_t pages[3][4096];
    uint64_t words[5] = {
        0x10,
        0x11 | (1ull << 60),                        /* L1TAB */
        0x12 | (0xfull << 60),                      /* XTAB: no data */
        0x13 | ((uint64_t)(MIG_STREAM_PAGE_PINNED | MIG_STREAM_PAGE_L4TAB) << 60),
        0x14 | (0xeull << 60),                      /* XALLOC: no data */
    };
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_PAGE_DATA, { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    for (int p = 0; p < 3; p++)
        memset(pages[p], 0xa0 + p, sizeof(pages[p]));
    in.u.page_data.count = 5;
    in.u.page_data.pfn_words = words;
    in.u.page_data.data_pages = 3;
    in.u.page_data.pages = pages;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 8 + 5 * 8 + 3 * 4096);
    ck_assert_uint_eq(out.u.page_data.count, 5);
    ck_assert_uint_eq(out.u.page_data.data_pages, 3);
    for (uint32_t i = 0; i < 5; i++)
        ck_assert_uint_eq(mig_stream_page_data_word(&out, i), words[i]);
    ck_assert_uint_eq(mig_stream_word_pfn(words[3]), 0x13);
    ck_assert_uint_eq(mig_stream_word_type(words[3]), 0xc);
    ck_assert_str_eq(mig_stream_page_type_name(0xc), "PINNED_L4TAB");
    ck_assert_int_eq(memcmp(out.u.page_data.pages, pages, sizeof(pages)), 0);
    /* zero-copy: the decoded pages are the reader's input bytes themselves */
    ck_assert_ptr_eq(out.u.page_data.pages,
                     f.data + LIBXC_FIRST_RECORD_OFFSET + 8 + 8 + 5 * 8);
    ck_assert_ptr_eq(rec.body, f.data + LIBXC_FIRST_RECORD_OFFSET + 8);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_x86_pv_info)
{
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_PV_INFO, { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.u.x86_pv_info.guest_width = 8;
    in.u.x86_pv_info.pt_levels = 4;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 8);
    ck_assert_uint_eq(out.u.x86_pv_info.guest_width, 8);
    ck_assert_uint_eq(out.u.x86_pv_info.pt_levels, 4);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_p2m_frames)
{
    uint64_t frames[3] = { 0x1000, 0x1001, 0x2345 };
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_PV_P2M_FRAMES,
                                  { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.u.p2m_frames.start_pfn = 0;
    in.u.p2m_frames.end_pfn = 0x5ff;
    in.u.p2m_frames.count = 3;
    in.u.p2m_frames.frames = frames;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(out.u.p2m_frames.end_pfn, 0x5ff);
    ck_assert_uint_eq(out.u.p2m_frames.count, 3);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_uint_eq(mig_stream_u64_at(out.u.p2m_frames.frames, i), frames[i]);
    cleanup(&f);
}
END_TEST

static const uint32_t vcpu_types[] = {
    MIG_LIBXC_X86_PV_VCPU_BASIC, MIG_LIBXC_X86_PV_VCPU_EXTENDED,
    MIG_LIBXC_X86_PV_VCPU_XSAVE, MIG_LIBXC_X86_PV_VCPU_MSRS,
};

START_TEST(test_roundtrip_vcpu)
{
    uint8_t context[13];
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, vcpu_types[_i], { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    for (unsigned int i = 0; i < sizeof(context); i++)
        context[i] = (uint8_t)(i * 7 + _i);
    in.u.vcpu.vcpu_id = 3 + (uint32_t)_i;
    in.u.vcpu.context_length = sizeof(context);
    in.u.vcpu.context = context;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 8 + sizeof(context));
    ck_assert_uint_eq(out.u.vcpu.vcpu_id, 3 + (uint32_t)_i);
    ck_assert_uint_eq(out.u.vcpu.context_length, sizeof(context));
    ck_assert_int_eq(memcmp(out.u.vcpu.context, context, sizeof(context)), 0);
    cleanup(&f);
}
END_TEST

static const uint32_t blob_types[] = {
    MIG_LIBXC_SHARED_INFO, MIG_LIBXC_HVM_CONTEXT, MIG_LIBXC_TOOLSTACK,
    MIG_STREAM_RECORD_TYPE_OPTIONAL | 0x7777,
};

START_TEST(test_roundtrip_blob)
{
    static uint8_t blob[4096];
    uint32_t length = blob_types[_i] == MIG_LIBXC_SHARED_INFO ? 4096 : 1001;
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, blob_types[_i], { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    for (unsigned int i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i ^ (i >> 8) ^ (unsigned int)_i);
    in.u.blob.length = length;
    in.u.blob.data = blob;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(out.u.blob.length, length);
    ck_assert_int_eq(memcmp(out.u.blob.data, blob, length), 0);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_tsc_info)
{
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_TSC_INFO, { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.u.tsc_info.mode = 2;
    in.u.tsc_info.khz = 3000000;
    in.u.tsc_info.nsec = 0x123456789abcull;
    in.u.tsc_info.incarnation = 7;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 24);
    ck_assert_uint_eq(out.u.tsc_info.mode, 2);
    ck_assert_uint_eq(out.u.tsc_info.khz, 3000000);
    ck_assert_uint_eq(out.u.tsc_info.nsec, 0x123456789abcull);
    ck_assert_uint_eq(out.u.tsc_info.incarnation, 7);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_hvm_params)
{
    struct mig_stream_hvm_param params[2] = { { 1, 0xfeffc }, { 17, 0xfefff } };
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_HVM_PARAMS, { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.u.hvm_params.count = 2;
    in.u.hvm_params.entries = params;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 8 + 2 * 16);
    ck_assert_uint_eq(out.u.hvm_params.count, 2);
    ck_assert_uint_eq(mig_stream_hvm_param_at(out.u.hvm_params.entries, 1).index, 17);
    ck_assert_uint_eq(mig_stream_hvm_param_at(out.u.hvm_params.entries, 1).value, 0xfefff);
    ck_assert_uint_eq(mig_stream_hvm_param_at(out.u.hvm_params.entries, 0).value, 0xfeffc);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_dirty_pfn_list)
{
    uint64_t pfns[4] = { 1, 2, 0x3000, 0xfffffffffull };
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_CHECKPOINT_DIRTY_PFN_LIST,
                                  { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.u.pfn_list.count = 4;
    in.u.pfn_list.pfns = pfns;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(out.u.pfn_list.count, 4);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_uint_eq(mig_stream_u64_at(out.u.pfn_list.pfns, i), pfns[i]);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_cpuid_policy)
{
    struct mig_stream_cpuid_leaf leaves[2] = {
        { 0, 0xffffffffu, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 },
        { 7, 0, 0, 0x9c27ab, 0, 0xbc000400 },
    };
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_CPUID_POLICY,
                                  { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct mig_stream_cpuid_leaf l;
    struct fixture f;

    in.u.cpuid_policy.count = 2;
    in.u.cpuid_policy.leaves = leaves;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 48);
    ck_assert_uint_eq(out.u.cpuid_policy.count, 2);
    l = mig_stream_cpuid_leaf_at(out.u.cpuid_policy.leaves, 1);
    ck_assert_uint_eq(l.leaf, 7);
    ck_assert_uint_eq(l.subleaf, 0);
    ck_assert_uint_eq(l.b, 0x9c27ab);
    ck_assert_uint_eq(l.d, 0xbc000400);
    l = mig_stream_cpuid_leaf_at(out.u.cpuid_policy.leaves, 0);
    ck_assert_uint_eq(l.subleaf, 0xffffffffu);
    ck_assert_uint_eq(l.c, 0x6c65746e);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_msr_policy)
{
    struct mig_stream_msr_entry msrs[2] = { { 0xce, 0, 0x80000000ull }, { 0x10a, 0, 0x2b } };
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_X86_MSR_POLICY, { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.u.msr_policy.count = 2;
    in.u.msr_policy.entries = msrs;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 32);
    ck_assert_uint_eq(mig_stream_msr_entry_at(out.u.msr_policy.entries, 0).index, 0xce);
    ck_assert_uint_eq(mig_stream_msr_entry_at(out.u.msr_policy.entries, 0).value, 0x80000000ull);
    ck_assert_uint_eq(mig_stream_msr_entry_at(out.u.msr_policy.entries, 1).index, 0x10a);
    ck_assert_uint_eq(mig_stream_msr_entry_at(out.u.msr_policy.entries, 1).value, 0x2b);
    cleanup(&f);
}
END_TEST

static const uint32_t emulator_types[] = {
    MIG_LIBXL_EMULATOR_XENSTORE_DATA, MIG_LIBXL_EMULATOR_CONTEXT,
};

START_TEST(test_roundtrip_emulator)
{
    static const char data[] = "physmap/1/name\0vga.vram";   /* NUL-terminated pairs */
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXL, emulator_types[_i], { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.u.emulator.emulator_id = MIG_STREAM_EMULATOR_QEMU_UPSTREAM;
    in.u.emulator.index = 1;
    in.u.emulator.data_length = sizeof(data);
    in.u.emulator.data = data;
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, 8 + sizeof(data));
    ck_assert_uint_eq(out.u.emulator.emulator_id, MIG_STREAM_EMULATOR_QEMU_UPSTREAM);
    ck_assert_uint_eq(out.u.emulator.index, 1);
    ck_assert_uint_eq(out.u.emulator.data_length, sizeof(data));
    ck_assert_int_eq(memcmp(out.u.emulator.data, data, sizeof(data)), 0);
    cleanup(&f);
}
END_TEST

START_TEST(test_roundtrip_libxl_simple)
{
    uint32_t state = 0x2;
    struct mig_stream_body in = { MIG_STREAM_LAYER_LIBXL, 0, { { 0 } } };
    struct mig_stream_record rec;
    struct mig_stream_body out;
    struct fixture f;

    in.type = _i == 0 ? MIG_LIBXL_CHECKPOINT_END : _i == 1 ? MIG_LIBXL_CHECKPOINT_STATE :
              MIG_LIBXL_END;
    if (in.type == MIG_LIBXL_CHECKPOINT_STATE) {
        in.u.blob.length = sizeof(state);
        in.u.blob.data = &state;
    }
    roundtrip(&f, &in, &rec, &out);
    ck_assert_uint_eq(rec.length, in.type == MIG_LIBXL_CHECKPOINT_STATE ? 4 : 0);
    if (in.type == MIG_LIBXL_CHECKPOINT_STATE)
        ck_assert_int_eq(memcmp(out.u.blob.data, &state, 4), 0);
    cleanup(&f);
}
END_TEST

/* A whole xl save file: xl header, libxl, nested libxc, back to libxl. */
static void build_xl_file(struct fixture *f, const char *config)
{
    struct mig_stream_xl_header xl = { 0 };
    struct mig_stream_libxl_header libxl = { 2, 0 };
    struct mig_stream_image_header image = { 3, 0 };
    struct mig_stream_domain_header domain = { MIG_STREAM_DOMAIN_X86_PV, 12, 4, 17 };

    memset(f, 0, sizeof(*f));
    xl.mandatory_flags = MIG_STREAM_XL_FLAG_STREAMV2 | MIG_STREAM_XL_FLAG_JSON;
    xl.config = (const uint8_t *)config;
    xl.config_length = (uint32_t)strlen(config) + 1;
    ck_assert_int_eq(mig_stream_writer_open_buffer(&f->writer, NULL), 0);
    ck_assert_int_eq(mig_stream_write_xl_header(f->writer, &xl), 0);
    ck_assert_int_eq(mig_stream_write_libxl_header(f->writer, &libxl), 0);
    ck_assert_int_eq(mig_stream_write_record(f->writer, MIG_STREAM_LAYER_LIBXL,
                                             MIG_LIBXL_LIBXC_CONTEXT, NULL, 0), 0);
    ck_assert_int_eq(mig_stream_write_image_header(f->writer, &image), 0);
    ck_assert_int_eq(mig_stream_write_domain_header(f->writer, &domain), 0);
    ck_assert_int_eq(mig_stream_write_record(f->writer, MIG_STREAM_LAYER_LIBXC,
                                             MIG_LIBXC_END, NULL, 0), 0);
    ck_assert_int_eq(mig_stream_write_record(f->writer, MIG_STREAM_LAYER_LIBXL,
                                             MIG_LIBXL_END, NULL, 0), 0);
    finish(f);
}

START_TEST(test_roundtrip_xl_file_items)
{
    static const enum mig_stream_item_kind kinds[] = {
        MIG_STREAM_ITEM_XL_HEADER, MIG_STREAM_ITEM_LIBXL_HEADER, MIG_STREAM_ITEM_RECORD,
        MIG_STREAM_ITEM_IMAGE_HEADER, MIG_STREAM_ITEM_DOMAIN_HEADER, MIG_STREAM_ITEM_RECORD,
        MIG_STREAM_ITEM_RECORD,
    };
    const char *config = "{\"c_info\": {\"name\": \"t\"}}";
    struct mig_stream_writer *copy;
    struct mig_stream_record rec;
    enum mig_stream_format format;
    const uint8_t *copied;
    size_t copied_size;
    struct fixture f;
    unsigned int n = 0;
    int rc;

    build_xl_file(&f, config);
    ck_assert_int_eq(mig_stream_sniff(f.data, f.size, &format), 0);
    ck_assert_int_eq(format, MIG_STREAM_FORMAT_XL_SAVE);
    open_reader(&f);
    ck_assert_int_eq(mig_stream_writer_open_buffer(&copy, NULL), 0);
    while ((rc = mig_stream_read_record(f.reader, &rec)) == 0) {
        ck_assert_uint_lt(n, sizeof(kinds) / sizeof(kinds[0]));
        ck_assert_int_eq(rec.kind, kinds[n]);
        ck_assert_uint_eq(rec.index, n);
        ck_assert_uint_eq(rec.offset, mig_stream_writer_offset(copy));
        if (n == 0) {
            ck_assert_uint_eq(rec.xl.config_length, strlen(config) + 1);
            ck_assert_str_eq((const char *)rec.xl.config, config);
            ck_assert_uint_eq(rec.xl.optional_data_length, 4 + strlen(config) + 1);
        }
        if (n == 4) {
            ck_assert_uint_eq(rec.domain.type, MIG_STREAM_DOMAIN_X86_PV);
            ck_assert_uint_eq(rec.domain.xen_major, 4);
            ck_assert_uint_eq(rec.domain.xen_minor, 17);
        }
        if (n == 5)
            ck_assert_int_eq(rec.layer, MIG_STREAM_LAYER_LIBXC);
        if (n == 6)
            ck_assert_int_eq(rec.layer, MIG_STREAM_LAYER_LIBXL);
        ck_assert_int_eq(mig_stream_write_item(copy, &rec), 0);
        n++;
    }
    ck_assert_int_eq(rc, 1);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(mig_stream_reader_format(f.reader), MIG_STREAM_FORMAT_XL_SAVE);
    ck_assert_uint_eq(mig_stream_reader_offset(f.reader), f.size);
    ck_assert_int_eq(mig_stream_writer_buffer(copy, &copied, &copied_size), 0);
    ck_assert_uint_eq(copied_size, f.size);
    ck_assert_int_eq(memcmp(copied, f.data, f.size), 0);
    /* after the end, the reader keeps saying so */
    ck_assert_int_eq(mig_stream_read_record(f.reader, &rec), 1);
    mig_stream_writer_close(copy);
    cleanup(&f);
}
END_TEST

START_TEST(test_fd_reader_matches_memory_reader)
{
    struct mig_stream_reader *by_fd;
    struct mig_stream_record a, b;
    struct fixture f;
    FILE *tmp = tmpfile();
    int rc_mem, rc_fd;

    ck_assert_ptr_nonnull(tmp);
    build_xl_file(&f, "{}");
    ck_assert_uint_eq(fwrite(f.data, 1, f.size, tmp), f.size);
    fflush(tmp);
    rewind(tmp);
    open_reader(&f);
    ck_assert_int_eq(mig_stream_reader_open_fd(&by_fd, fileno(tmp), NULL), 0);
    do {
        rc_mem = mig_stream_read_record(f.reader, &a);
        rc_fd = mig_stream_read_record(by_fd, &b);
        ck_assert_int_eq(rc_mem, rc_fd);
        if (rc_mem)
            break;
        ck_assert_int_eq(a.kind, b.kind);
        ck_assert_uint_eq(a.offset, b.offset);
        ck_assert_uint_eq(a.size, b.size);
        ck_assert_uint_eq(a.type, b.type);
        ck_assert_uint_eq(a.length, b.length);
        if (a.length)
            ck_assert_int_eq(memcmp(a.body, b.body, a.length), 0);
    } while (1);
    ck_assert_int_eq(rc_mem, 1);
    mig_stream_reader_close(by_fd);
    fclose(tmp);
    cleanup(&f);
}
END_TEST

/* ---- Malformed input ---- */

/* libxc stream: headers, HVM_CONTEXT of 13 bytes (3 of padding), END. */
static void build_small_libxc(struct fixture *f)
{
    static const uint8_t context[13] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };

    begin_libxc(f);
    ck_assert_int_eq(mig_stream_write_record(f->writer, MIG_STREAM_LAYER_LIBXC,
                                             MIG_LIBXC_HVM_CONTEXT, context, 13), 0);
    ck_assert_int_eq(mig_stream_write_record(f->writer, MIG_STREAM_LAYER_LIBXC,
                                             MIG_LIBXC_END, NULL, 0), 0);
    finish(f);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

START_TEST(test_bad_truncated_header)
{
    struct fixture f;

    build_small_libxc(&f);
    f.size = 30;   /* inside the domain header */
    open_reader(&f);
    assert_error(read_all(&f), MIG_ETRUNC,
                 "item 1 (libxc domain header) at offset 0x18: input ends after 6 of the 16 "
                 "header bytes");
    cleanup(&f);
}

END_TEST

START_TEST(test_bad_truncated_body)
{
    struct fixture f;

    build_small_libxc(&f);
    f.size = LIBXC_FIRST_RECORD_OFFSET + 8 + 10;
    open_reader(&f);
    assert_error(read_all(&f), MIG_ETRUNC,
                 "record 2 (HVM_CONTEXT) at offset 0x28: body truncated: the header says 13 "
                 "bytes (16 with padding), the input ends after 10");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_missing_end)
{
    struct fixture f;

    build_small_libxc(&f);
    f.size -= 8;   /* drop the END record */
    open_reader(&f);
    assert_error(read_all(&f), MIG_ETRUNC, "input ends at offset 0x40 after 3 items, before "
                 "the libxc END record");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_oversized_length)
{
    struct fixture f;

    build_small_libxc(&f);
    put32(f.data + LIBXC_FIRST_RECORD_OFFSET + 4, MIG_STREAM_RECORD_LENGTH_MAX + 1);
    open_reader(&f);
    assert_error(read_all(&f), MIG_ELIMIT, "record 2 (HVM_CONTEXT) at offset 0x28: length "
                 "134217729 exceeds the 134217728-byte (128 MiB) limit");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_padding)
{
    struct fixture f;

    build_small_libxc(&f);
    f.data[LIBXC_FIRST_RECORD_OFFSET + 8 + 14] = 0x5a;   /* second padding byte */
    open_reader(&f);
    assert_error(read_all(&f), MIG_EFORMAT, "record 2 (HVM_CONTEXT) at offset 0x28: padding "
                 "byte 1 (offset 0x3e) is 0x5a, must be zero");
    cleanup(&f);
}
END_TEST

START_TEST(test_unknown_mandatory_record)
{
    struct fixture f;

    build_small_libxc(&f);
    put32(f.data + LIBXC_FIRST_RECORD_OFFSET, 0x13);
    open_reader(&f);
    assert_error(read_all(&f), MIG_EUNSUPP, "record 2 (libxc type 0x00000013) at offset "
                 "0x28: unknown mandatory libxc record type 0x00000013");
    cleanup(&f);
}
END_TEST

START_TEST(test_unknown_optional_record)
{
    struct mig_stream_record rec;
    struct fixture f;

    build_small_libxc(&f);
    put32(f.data + LIBXC_FIRST_RECORD_OFFSET, MIG_STREAM_RECORD_TYPE_OPTIONAL | 0x13);
    open_reader(&f);
    read_to(&f, 2, &rec);
    ck_assert_uint_eq(rec.type, 0x80000013u);
    ck_assert_uint_eq(rec.length, 13);
    ck_assert_str_eq(mig_stream_type_name(rec.layer, rec.type), "UNKNOWN");
    ck_assert_int_eq(read_all(&f), 1);
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_image_header)
{
    static const struct { unsigned int at; uint8_t value; int code; const char *msg; } cases[] = {
        { 3, 0x00, MIG_EFORMAT, "item 0 (libxc image header) at offset 0x0: marker is "
                                "0xffffff00ffffffff, expected 0xffffffffffffffff" },
        { 11, 0x47, MIG_EFORMAT, "id is 0x58454e47, expected 0x58454e46 (\"XENF\")" },
        { 15, 0x04, MIG_EUNSUPP, "version 4 is not supported" },
        { 17, 0x01, MIG_EUNSUPP, "the stream is big-endian" },
        { 17, 0x02, MIG_EFORMAT, "reserved option bits 0x0002 are set" },
    };
    struct fixture f;

    build_small_libxc(&f);
    if (cases[_i].at != 3)
        f.data[cases[_i].at] = cases[_i].value;
    else
        f.data[3] = cases[_i].value;
    open_reader(&f);
    /* a damaged marker no longer sniffs as libxc: force the format */
    if (cases[_i].at == 3) {
        struct mig_stream_reader_options o = MIG_STREAM_READER_OPTIONS_INIT;

        mig_stream_reader_close(f.reader);
        o.format = MIG_STREAM_FORMAT_LIBXC;
        ck_assert_int_eq(mig_stream_reader_open_mem(&f.reader, f.data, f.size, &o), 0);
    }
    assert_error(read_all(&f), cases[_i].code, cases[_i].msg);
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_domain_header)
{
    struct fixture f;

    build_small_libxc(&f);
    f.data[24 + 4] = 13;   /* page shift 13 */
    open_reader(&f);
    assert_error(read_all(&f), MIG_EUNSUPP, "item 1 (libxc domain header) at offset 0x18: "
                 "page shift 13 is not supported");
    cleanup(&f);
}
END_TEST

START_TEST(test_sniff_garbage)
{
    static const char junk[] = "GIF89a, certainly not a stream";
    struct mig_stream_reader *r;
    struct mig_stream_record rec;
    enum mig_stream_format format;

    assert_error(mig_stream_sniff(junk, sizeof(junk), &format), MIG_EFORMAT,
                 "input starts with 47 49 46 38 39 61 2c 20: not an xl save file");
    ck_assert_int_eq(format, MIG_STREAM_FORMAT_UNKNOWN);
    assert_error(mig_stream_sniff(junk, 3, &format), MIG_ETRUNC, "input is 3 bytes long");
    ck_assert_int_eq(mig_stream_reader_open_mem(&r, junk, sizeof(junk), NULL), 0);
    assert_error(mig_stream_read_record(r, &rec), MIG_EFORMAT, "not an xl save file");
    /* errors are sticky */
    mig_error_clear();
    assert_error(mig_stream_read_record(r, &rec), MIG_EFORMAT, "not an xl save file");
    mig_stream_reader_close(r);
}
END_TEST

START_TEST(test_trailing_data)
{
    struct mig_stream_reader_options o = MIG_STREAM_READER_OPTIONS_INIT;
    struct fixture f;
    uint8_t *longer;

    build_small_libxc(&f);
    longer = realloc(f.data, f.size + 5);
    ck_assert_ptr_nonnull(longer);
    f.data = longer;
    memset(f.data + f.size, 0xee, 5);
    f.size += 5;
    open_reader(&f);
    assert_error(read_all(&f), MIG_EFORMAT, "5 bytes of trailing data at offset 0x48 after "
                 "the final END record");
    mig_stream_reader_close(f.reader);
    o.flags = MIG_STREAM_READER_ALLOW_TRAILING;
    ck_assert_int_eq(mig_stream_reader_open_mem(&f.reader, f.data, f.size, &o), 0);
    ck_assert_int_eq(read_all(&f), 1);
    cleanup(&f);
}
END_TEST

/* libxc stream with one PAGE_DATA of 2 pfns, 2 pages. */
static void build_page_data(struct fixture *f)
{
    static uint8_t pages[2][4096];
    uint64_t words[2] = { 0x100, 0x101 };
    struct iovec iov[2] = { { pages[0], 4096 }, { pages[1], 4096 } };

    begin_libxc(f);
    ck_assert_int_eq(mig_stream_write_page_data(f->writer, words, 2, iov, 2), 0);
    ck_assert_int_eq(mig_stream_write_record(f->writer, MIG_STREAM_LAYER_LIBXC,
                                             MIG_LIBXC_END, NULL, 0), 0);
    finish(f);
}

START_TEST(test_bad_page_data_count_length)
{
    struct fixture f;

    build_page_data(&f);
    put32(f.data + LIBXC_FIRST_RECORD_OFFSET + 8, 3);   /* count 3, still 2 pages */
    open_reader(&f);
    assert_error(read_all(&f), MIG_EFORMAT, "record 2 (PAGE_DATA) at offset 0x28: body is "
                 "8216 bytes but 3 pfns with 3 data pages need 12320 bytes");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_page_data_too_many_pfns)
{
    struct fixture f;

    build_page_data(&f);
    put32(f.data + LIBXC_FIRST_RECORD_OFFSET + 8, 1025);
    open_reader(&f);
    assert_error(read_all(&f), MIG_ELIMIT, "record 2 (PAGE_DATA) at offset 0x28: count 1025 "
                 "exceeds the 1024 pfns a record may carry");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_page_data_pfn_over_limit)
{
    struct fixture f;

    build_page_data(&f);
    /* second word: pfn 1 << 52, in the reserved bits */
    f.data[LIBXC_FIRST_RECORD_OFFSET + 8 + 8 + 8 + 6] = 0x10;
    open_reader(&f);
    assert_error(read_all(&f), MIG_EFORMAT, "record 2 (PAGE_DATA) at offset 0x28: pfn word 1 "
                 "is 0x0010000000000101: reserved bits 52-59 are set");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_page_data_type)
{
    struct fixture f;

    build_page_data(&f);
    f.data[LIBXC_FIRST_RECORD_OFFSET + 8 + 8 + 7] = 0x50;   /* type 5 */
    open_reader(&f);
    assert_error(read_all(&f), MIG_EFORMAT, "pfn word 0 is 0x5000000000000100: page type 0x5 "
                 "is not a valid type");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_libxl_record)
{
    struct fixture f;

    begin_libxl(&f);
    ck_assert_int_eq(mig_stream_write_record(f.writer, MIG_STREAM_LAYER_LIBXL, 9, NULL, 0), 0);
    finish(&f);
    open_reader(&f);
    assert_error(read_all(&f), MIG_EUNSUPP, "record 1 (libxl type 0x00000009) at offset 0x10: "
                 "unknown libxl record type 0x00000009");
    cleanup(&f);
}
END_TEST

START_TEST(test_bad_xl_header)
{
    struct fixture f;

    build_xl_file(&f, "{}");
    f.data[36] |= 0x10;   /* unknown mandatory flag */
    open_reader(&f);
    assert_error(read_all(&f), MIG_EUNSUPP, "item 0 (xl header) at offset 0x0: unknown "
                 "mandatory flags 0x00000010");
    cleanup(&f);
    build_xl_file(&f, "{}");
    put32(f.data + 48, 100);   /* config length beyond the optional data */
    open_reader(&f);
    assert_error(read_all(&f), MIG_EFORMAT, "config length 100 exceeds the 3 bytes of "
                 "optional data");
    cleanup(&f);
}
END_TEST

START_TEST(test_writer_refuses_bad_page_data)
{
    static uint8_t page[4096];
    uint64_t words[1025] = { 0 };
    struct iovec iov = { page, 4096 };
    struct mig_stream_writer *w;

    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    assert_error(mig_stream_write_page_data(w, words, 1025, &iov, 1), MIG_ELIMIT,
                 "PAGE_DATA with 1025 pfns");
    words[0] = 1;
    words[1] = 2;
    assert_error(mig_stream_write_page_data(w, words, 2, &iov, 1), MIG_EINVAL,
                 "the pfn types need 2 data pages, 1 were given");
    words[0] = 1ull << 52;
    assert_error(mig_stream_write_page_data(w, words, 1, &iov, 1), MIG_EINVAL,
                 "pfn over the 52-bit limit");
    ck_assert_uint_eq(mig_stream_writer_offset(w), 0);
    mig_stream_writer_close(w);
}
END_TEST

/* A file of a junk page, then three pages (bytes 1, 2, 3); its fd. */
static int pages_file(uint8_t pages[3][4096])
{
    char path[] = "/tmp/test_stream_pages.XXXXXX";
    int fd = mkstemp(path);
    static const uint8_t junk[4096] = { 0xee };

    ck_assert_int_ge(fd, 0);
    unlink(path);
    for (int i = 0; i < 3; i++)
        memset(pages[i], i + 1, 4096);
    ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), 0), 4096);
    ck_assert_int_eq(pwrite(fd, pages, 3 * 4096, 4096), 3 * 4096);
    return fd;
}

/* What mig_stream_write_page_data writes for the same words and pages. */
static void expected_page_data(const uint64_t *words, uint8_t pages[3][4096], uint8_t **data,
                               size_t *size)
{
    struct iovec iov[3] = { { pages[0], 4096 }, { pages[1], 4096 }, { pages[2], 4096 } };
    struct mig_stream_writer *w;
    const uint8_t *bytes;

    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    ck_assert_int_eq(mig_stream_write_page_data(w, words, 3, iov, 3), 0);
    ck_assert_int_eq(mig_stream_writer_buffer(w, &bytes, size), 0);
    *data = malloc(*size);
    memcpy(*data, bytes, *size);
    mig_stream_writer_close(w);
}

/* Everything readable from fd (at most size bytes + 1), compared with data. */
static void assert_reads(int fd, const uint8_t *data, size_t size)
{
    uint8_t *got = malloc(size + 1);
    size_t have = 0;
    ssize_t n;

    while (have <= size && (n = read(fd, got + have, size + 1 - have)) > 0) {
        have += (size_t)n;
        if (have == size)
            break;          /* a pipe's writer is still open: no EOF to wait for */
    }
    ck_assert_uint_eq(have, size);
    ck_assert_int_eq(memcmp(got, data, size), 0);
    free(got);
}

/* From a pipe (spliced), a memory writer, a file writer (read and written):
 * the same bytes as from pages in memory. */
START_TEST(test_page_data_from_fd_is_page_data)
{
    static uint8_t pages[3][4096];
    uint64_t words[3] = { 0x100, 0x7 | (uint64_t)MIG_STREAM_PAGE_L1TAB << 60, 0x101 };
    int fd = pages_file(pages), p[2];
    char path[] = "/tmp/test_stream_out.XXXXXX";
    int out = mkstemp(path);
    struct mig_stream_writer *w;
    const uint8_t *bytes;
    uint8_t *want;
    size_t size, got_size;

    expected_page_data(words, pages, &want, &size);
    ck_assert_uint_eq(size, 8 + 8 + 3 * 8 + 3 * 4096);
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(mig_stream_writer_open_fd(&w, p[1], NULL), 0);
    ck_assert_int_eq(mig_stream_write_page_data_from_fd(w, words, 3, fd, 4096), 0);
    ck_assert_uint_eq(mig_stream_writer_offset(w), size);
    mig_stream_writer_close(w);
    assert_reads(p[0], want, size);

    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    ck_assert_int_eq(mig_stream_write_page_data_from_fd(w, words, 3, fd, 4096), 0);
    ck_assert_int_eq(mig_stream_writer_buffer(w, &bytes, &got_size), 0);
    ck_assert_uint_eq(got_size, size);
    ck_assert_int_eq(memcmp(bytes, want, size), 0);
    mig_stream_writer_close(w);

    ck_assert_int_ge(out, 0);
    unlink(path);
    ck_assert_int_eq(mig_stream_writer_open_fd(&w, out, NULL), 0);
    ck_assert_int_eq(mig_stream_write_page_data_from_fd(w, words, 3, fd, 4096), 0);
    mig_stream_writer_close(w);
    ck_assert_int_eq(lseek(out, 0, SEEK_SET), 0);
    assert_reads(out, want, size);
    free(want);
    close(out);
    close(p[0]);
    close(p[1]);
    close(fd);
}
END_TEST

START_TEST(test_page_data_from_fd_refusals)
{
    static uint8_t pages[3][4096];
    uint64_t words[3] = { 0x100, 0x101, 0x102 };
    int fd = pages_file(pages), p[2];
    struct mig_stream_writer *w;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(mig_stream_writer_open_fd(&w, p[1], NULL), 0);
    /* the file holds two of the three pages from offset 8192 */
    assert_error(mig_stream_write_page_data_from_fd(w, words, 3, fd, 8192), MIG_EIO,
                 "the pages to write end at offset 16384 of their file, 4096 bytes short");
    mig_stream_writer_close(w);
    ck_assert_int_eq(mig_stream_writer_open_buffer(&w, NULL), 0);
    assert_error(mig_stream_write_page_data_from_fd(w, words, 3, fd, 8192), MIG_EIO,
                 "the pages to write end at offset 16384 of their file, 4096 bytes short");
    words[1] |= (uint64_t)MIG_STREAM_PAGE_XALLOC << 60;
    assert_error(mig_stream_write_page_data_from_fd(w, words, 3, fd, 4096), MIG_EINVAL,
                 "1 of its 3 pfn types carry no data");
    assert_error(mig_stream_write_page_data_from_fd(w, words, 0, fd, 4096), MIG_EINVAL,
                 "PAGE_DATA with 0 pfns");
    mig_stream_writer_close(w);
    close(p[0]);
    close(p[1]);
    close(fd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stream");
    TCase *roundtrips = tcase_create("roundtrip");
    TCase *malformed = tcase_create("malformed");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(roundtrips, test_roundtrip_empty_libxc, 0, 4);
    tcase_add_test(roundtrips, test_roundtrip_page_data);
    tcase_add_test(roundtrips, test_roundtrip_x86_pv_info);
    tcase_add_test(roundtrips, test_roundtrip_p2m_frames);
    tcase_add_loop_test(roundtrips, test_roundtrip_vcpu, 0, 4);
    tcase_add_loop_test(roundtrips, test_roundtrip_blob, 0, 4);
    tcase_add_test(roundtrips, test_roundtrip_tsc_info);
    tcase_add_test(roundtrips, test_roundtrip_hvm_params);
    tcase_add_test(roundtrips, test_roundtrip_dirty_pfn_list);
    tcase_add_test(roundtrips, test_roundtrip_cpuid_policy);
    tcase_add_test(roundtrips, test_roundtrip_msr_policy);
    tcase_add_loop_test(roundtrips, test_roundtrip_emulator, 0, 2);
    tcase_add_loop_test(roundtrips, test_roundtrip_libxl_simple, 0, 3);
    tcase_add_test(roundtrips, test_roundtrip_xl_file_items);
    tcase_add_test(roundtrips, test_fd_reader_matches_memory_reader);
    tcase_add_test(roundtrips, test_page_data_from_fd_is_page_data);
    suite_add_tcase(s, roundtrips);

    tcase_add_test(malformed, test_bad_truncated_header);
    tcase_add_test(malformed, test_bad_truncated_body);
    tcase_add_test(malformed, test_bad_missing_end);
    tcase_add_test(malformed, test_bad_oversized_length);
    tcase_add_test(malformed, test_bad_padding);
    tcase_add_test(malformed, test_unknown_mandatory_record);
    tcase_add_test(malformed, test_unknown_optional_record);
    tcase_add_loop_test(malformed, test_bad_image_header, 0, 5);
    tcase_add_test(malformed, test_bad_domain_header);
    tcase_add_test(malformed, test_sniff_garbage);
    tcase_add_test(malformed, test_trailing_data);
    tcase_add_test(malformed, test_bad_page_data_count_length);
    tcase_add_test(malformed, test_bad_page_data_too_many_pfns);
    tcase_add_test(malformed, test_bad_page_data_pfn_over_limit);
    tcase_add_test(malformed, test_bad_page_data_type);
    tcase_add_test(malformed, test_bad_libxl_record);
    tcase_add_test(malformed, test_bad_xl_header);
    tcase_add_test(malformed, test_writer_refuses_bad_page_data);
    tcase_add_test(malformed, test_page_data_from_fd_refusals);
    suite_add_tcase(s, malformed);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
