/*
 * format.c: names, sniffing and typed-body decoding of the Xen 4.17
 * migration formats (see mig_stream.h).  Pure functions over memory: this
 * file must never do I/O or allocate, and must never read outside the
 * bytes a record says it has.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mig_stream.h"
#include "stream_internal.h"

static const char *const libxc_type_names[] = {
    [MIG_LIBXC_END]                       = "END",
    [MIG_LIBXC_PAGE_DATA]                 = "PAGE_DATA",
    [MIG_LIBXC_X86_PV_INFO]               = "X86_PV_INFO",
    [MIG_LIBXC_X86_PV_P2M_FRAMES]         = "X86_PV_P2M_FRAMES",
    [MIG_LIBXC_X86_PV_VCPU_BASIC]         = "X86_PV_VCPU_BASIC",
    [MIG_LIBXC_X86_PV_VCPU_EXTENDED]      = "X86_PV_VCPU_EXTENDED",
    [MIG_LIBXC_X86_PV_VCPU_XSAVE]         = "X86_PV_VCPU_XSAVE",
    [MIG_LIBXC_SHARED_INFO]               = "SHARED_INFO",
    [MIG_LIBXC_X86_TSC_INFO]              = "X86_TSC_INFO",
    [MIG_LIBXC_HVM_CONTEXT]               = "HVM_CONTEXT",
    [MIG_LIBXC_HVM_PARAMS]                = "HVM_PARAMS",
    [MIG_LIBXC_TOOLSTACK]                 = "TOOLSTACK",
    [MIG_LIBXC_X86_PV_VCPU_MSRS]          = "X86_PV_VCPU_MSRS",
    [MIG_LIBXC_VERIFY]                    = "VERIFY",
    [MIG_LIBXC_CHECKPOINT]                = "CHECKPOINT",
    [MIG_LIBXC_CHECKPOINT_DIRTY_PFN_LIST] = "CHECKPOINT_DIRTY_PFN_LIST",
    [MIG_LIBXC_STATIC_DATA_END]           = "STATIC_DATA_END",
    [MIG_LIBXC_X86_CPUID_POLICY]          = "X86_CPUID_POLICY",
    [MIG_LIBXC_X86_MSR_POLICY]            = "X86_MSR_POLICY",
};

static const char *const libxl_type_names[] = {
    [MIG_LIBXL_END]                    = "END",
    [MIG_LIBXL_LIBXC_CONTEXT]          = "LIBXC_CONTEXT",
    [MIG_LIBXL_EMULATOR_XENSTORE_DATA] = "EMULATOR_XENSTORE_DATA",
    [MIG_LIBXL_EMULATOR_CONTEXT]       = "EMULATOR_CONTEXT",
    [MIG_LIBXL_CHECKPOINT_END]         = "CHECKPOINT_END",
    [MIG_LIBXL_CHECKPOINT_STATE]       = "CHECKPOINT_STATE",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *mig_stream_type_name(enum mig_stream_layer layer, uint32_t type)
{
    if (layer == MIG_STREAM_LAYER_LIBXC) {
        type &= ~MIG_STREAM_RECORD_TYPE_OPTIONAL;
        if (type < ARRAY_SIZE(libxc_type_names))
            return libxc_type_names[type];
    } else if (layer == MIG_STREAM_LAYER_LIBXL) {
        if (type < ARRAY_SIZE(libxl_type_names))
            return libxl_type_names[type];
    }
    return "UNKNOWN";
}

const char *mig_stream_format_name(enum mig_stream_format format)
{
    switch (format) {
    case MIG_STREAM_FORMAT_XL_SAVE: return "xl save file";
    case MIG_STREAM_FORMAT_LIBXL:   return "libxl v2 stream";
    case MIG_STREAM_FORMAT_LIBXC:   return "libxc v3 stream";
    case MIG_STREAM_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

static const char *item_kind_name(enum mig_stream_item_kind kind)
{
    switch (kind) {
    case MIG_STREAM_ITEM_XL_HEADER:     return "xl header";
    case MIG_STREAM_ITEM_LIBXL_HEADER:  return "libxl header";
    case MIG_STREAM_ITEM_IMAGE_HEADER:  return "libxc image header";
    case MIG_STREAM_ITEM_DOMAIN_HEADER: return "libxc domain header";
    case MIG_STREAM_ITEM_RECORD:        return "record";
    }
    return "item";
}

void stream_item_label(const struct mig_stream_record *record, char *buf, size_t size)
{
    if (record->kind == MIG_STREAM_ITEM_RECORD) {
        const char *name = mig_stream_type_name(record->layer, record->type);

        if (!strcmp(name, "UNKNOWN"))
            snprintf(buf, size, "record %" PRIu64 " (%s type 0x%08" PRIx32 ") at offset 0x%" PRIx64,
                     record->index,
                     record->layer == MIG_STREAM_LAYER_LIBXL ? "libxl" : "libxc",
                     record->type, record->offset);
        else
            snprintf(buf, size, "record %" PRIu64 " (%s%s) at offset 0x%" PRIx64,
                     record->index, record->layer == MIG_STREAM_LAYER_LIBXL ? "libxl " : "",
                     name, record->offset);
    } else {
        snprintf(buf, size, "item %" PRIu64 " (%s) at offset 0x%" PRIx64,
                 record->index, item_kind_name(record->kind), record->offset);
    }
}

int stream_item_error(int code, const struct mig_stream_record *record,
                      const char *fmt, ...)
{
    char label[128], message[768];
    va_list ap;

    stream_item_label(record, label, sizeof(label));
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return mig_error_set(code, "%s: %s", label, message);
}

int mig_stream_sniff(const void *prefix, size_t size, enum mig_stream_format *format)
{
    const uint8_t *p = prefix;

    *format = MIG_STREAM_FORMAT_UNKNOWN;
    if (size < 8)
        return mig_error_set(MIG_ETRUNC,
                             "input is %zu bytes long: too short for any Xen stream "
                             "(the smallest header is 8 bytes)", size);
    if (be64_load(p) == MIG_STREAM_IHDR_MARKER) {
        *format = MIG_STREAM_FORMAT_LIBXC;
        return 0;
    }
    if (be64_load(p) == MIG_STREAM_LIBXL_IDENT) {
        *format = MIG_STREAM_FORMAT_LIBXL;
        return 0;
    }
    if (!memcmp(p, MIG_STREAM_XL_MAGIC, 8)) {
        if (size < MIG_STREAM_XL_MAGIC_SIZE)
            return mig_error_set(MIG_ETRUNC,
                                 "input is %zu bytes long and starts like an xl save file, "
                                 "but its 32-byte magic is cut short", size);
        if (memcmp(p, MIG_STREAM_XL_MAGIC, MIG_STREAM_XL_MAGIC_SIZE))
            return mig_error_set(MIG_EFORMAT,
                                 "input starts with \"Xen saved\" but the rest of the xl "
                                 "save-file magic does not match: not an xl save file "
                                 "(or a damaged one)");
        *format = MIG_STREAM_FORMAT_XL_SAVE;
        return 0;
    }
    return mig_error_set(MIG_EFORMAT,
                         "input starts with %02x %02x %02x %02x %02x %02x %02x %02x: not an "
                         "xl save file (\"Xen saved domain, xl format\"), a libxl stream "
                         "(\"LibxlFmt\") or a libxc stream (ff ff ff ff ff ff ff ff)",
                         p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
}

/* ---- Page types ---- */

int mig_stream_page_type_has_data(unsigned int type)
{
    switch (type) {
    case MIG_STREAM_PAGE_BROKEN:
    case MIG_STREAM_PAGE_XALLOC:
    case MIG_STREAM_PAGE_XTAB:
        return 0;
    }
    return 1;
}

static int page_type_valid(unsigned int type)
{
    return type <= MIG_STREAM_PAGE_L4TAB ||
           (type >= (MIG_STREAM_PAGE_PINNED | MIG_STREAM_PAGE_L1TAB) && type <= 0xf);
}

const char *mig_stream_page_type_name(unsigned int type)
{
    static const char *const names[16] = {
        "NOTAB", "L1TAB", "L2TAB", "L3TAB", "L4TAB", "INVALID", "INVALID", "INVALID",
        "INVALID", "PINNED_L1TAB", "PINNED_L2TAB", "PINNED_L3TAB", "PINNED_L4TAB",
        "BROKEN", "XALLOC", "XTAB",
    };

    return type < 16 ? names[type] : "INVALID";
}

/* ---- Element accessors ---- */

uint64_t mig_stream_u64_at(const void *array, uint32_t i)
{
    return mig_le64_load((const uint8_t *)array + (size_t)i * 8);
}

uint64_t mig_stream_page_data_word(const struct mig_stream_body *body, uint32_t i)
{
    return mig_stream_u64_at(body->u.page_data.pfn_words, i);
}

struct mig_stream_hvm_param mig_stream_hvm_param_at(const void *entries, uint32_t i)
{
    const uint8_t *p = (const uint8_t *)entries + (size_t)i * 16;
    struct mig_stream_hvm_param e = { mig_le64_load(p), mig_le64_load(p + 8) };

    return e;
}

struct mig_stream_cpuid_leaf mig_stream_cpuid_leaf_at(const void *leaves, uint32_t i)
{
    const uint8_t *p = (const uint8_t *)leaves + (size_t)i * 24;
    struct mig_stream_cpuid_leaf l = {
        mig_le32_load(p), mig_le32_load(p + 4), mig_le32_load(p + 8),
        mig_le32_load(p + 12), mig_le32_load(p + 16), mig_le32_load(p + 20),
    };

    return l;
}

struct mig_stream_msr_entry mig_stream_msr_entry_at(const void *entries, uint32_t i)
{
    const uint8_t *p = (const uint8_t *)entries + (size_t)i * 16;
    struct mig_stream_msr_entry e = { mig_le32_load(p), mig_le32_load(p + 4),
                                      mig_le64_load(p + 8) };

    return e;
}

/* ---- Body decoding ---- */

static int expect_empty(const struct mig_stream_record *rec)
{
    if (rec->length)
        return stream_item_error(MIG_EFORMAT, rec,
                                 "body is %" PRIu32 " bytes but this record must be empty",
                                 rec->length);
    return 0;
}

/* A 32-bit reserved word of the body (at byte offset at) must be zero. */
static int expect_reserved_zero(const struct mig_stream_record *rec, uint32_t at)
{
    uint32_t value = mig_le32_load(rec->body + at);

    if (value)
        return stream_item_error(MIG_EFORMAT, rec, "reserved word at body offset %" PRIu32
                                 " is 0x%08" PRIx32 ", must be zero", at, value);
    return 0;
}

static int expect_array(const struct mig_stream_record *rec, uint32_t header,
                        uint32_t element, const char *what, uint32_t *count)
{
    *count = 0;
    if (rec->length < header || (rec->length - header) % element)
        return stream_item_error(MIG_EFORMAT, rec,
                                 "body is %" PRIu32 " bytes: expected %" PRIu32
                                 " bytes of header and a whole number of %" PRIu32
                                 "-byte %s", rec->length, header, element, what);
    *count = (rec->length - header) / element;
    return 0;
}

static int decode_page_data(const struct mig_stream_record *rec, struct mig_stream_body *body)
{
    const uint8_t *b = rec->body;
    uint32_t count, data_pages = 0;
    uint64_t expected;
    int rc;

    if (rec->length < 8)
        return stream_item_error(MIG_EFORMAT, rec,
                                 "body is %" PRIu32 " bytes, shorter than the 8-byte "
                                 "count/reserved header", rec->length);
    count = mig_le32_load(b);
    rc = expect_reserved_zero(rec, 4);
    if (rc)
        return rc;
    if (count == 0)
        return stream_item_error(MIG_EFORMAT, rec, "count is 0: a PAGE_DATA record "
                                 "carries at least one pfn");
    if (count > MIG_STREAM_PAGE_DATA_MAX_PFNS)
        return stream_item_error(MIG_ELIMIT, rec,
                                 "count %" PRIu32 " exceeds the %u pfns a record may carry",
                                 count, MIG_STREAM_PAGE_DATA_MAX_PFNS);
    if ((uint64_t)rec->length < 8 + (uint64_t)count * 8)
        return stream_item_error(MIG_EFORMAT, rec,
                                 "count %" PRIu32 " needs %" PRIu64 " bytes of pfn words "
                                 "but the body has only %" PRIu32 " bytes",
                                 count, (uint64_t)count * 8, rec->length - 8);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t word = mig_le64_load(b + 8 + (size_t)i * 8);
        unsigned int type = mig_stream_word_type(word);

        if (word & MIG_STREAM_PFN_RESERVED_MASK)
            return stream_item_error(MIG_EFORMAT, rec,
                                     "pfn word %" PRIu32 " is 0x%016" PRIx64 ": reserved "
                                     "bits 52-59 are set (a pfn over the 52-bit limit of "
                                     "the format?)", i, word);
        if (!page_type_valid(type))
            return stream_item_error(MIG_EFORMAT, rec,
                                     "pfn word %" PRIu32 " is 0x%016" PRIx64 ": page type "
                                     "0x%x is not a valid type", i, word, type);
        if (mig_stream_page_type_has_data(type))
            data_pages++;
    }
    expected = 8 + (uint64_t)count * 8 + (uint64_t)data_pages * MIG_PAGE_SIZE;
    if (rec->length != expected)
        return stream_item_error(MIG_EFORMAT, rec,
                                 "body is %" PRIu32 " bytes but %" PRIu32 " pfns with %"
                                 PRIu32 " data pages need %" PRIu64 " bytes",
                                 rec->length, count, data_pages, expected);
    body->u.page_data.count = count;
    body->u.page_data.pfn_words = b + 8;
    body->u.page_data.data_pages = data_pages;
    body->u.page_data.pages = data_pages ? b + 8 + (size_t)count * 8 : NULL;
    return 0;
}

static int decode_pv_info(const struct mig_stream_record *rec, struct mig_stream_body *body)
{
    const uint8_t *b = rec->body;

    if (rec->length != 8)
        return stream_item_error(MIG_EFORMAT, rec, "body is %" PRIu32
                                 " bytes, must be 8", rec->length);
    if (b[0] != 4 && b[0] != 8)
        return stream_item_error(MIG_EFORMAT, rec, "guest width %u: must be 4 or 8", b[0]);
    if (b[1] != 3 && b[1] != 4)
        return stream_item_error(MIG_EFORMAT, rec, "page-table levels %u: must be 3 or 4",
                                 b[1]);
    for (int i = 2; i < 8; i++)
        if (b[i])
            return stream_item_error(MIG_EFORMAT, rec,
                                     "reserved byte %d is 0x%02x, must be zero", i, b[i]);
    body->u.x86_pv_info.guest_width = b[0];
    body->u.x86_pv_info.pt_levels = b[1];
    return 0;
}

static int decode_p2m_frames(const struct mig_stream_record *rec,
                             struct mig_stream_body *body)
{
    const uint8_t *b = rec->body;
    uint32_t count;
    int rc = expect_array(rec, 8, 8, "frame numbers", &count);

    if (rc)
        return rc;
    body->u.p2m_frames.start_pfn = mig_le32_load(b);
    body->u.p2m_frames.end_pfn = mig_le32_load(b + 4);
    if (body->u.p2m_frames.end_pfn < body->u.p2m_frames.start_pfn)
        return stream_item_error(MIG_EFORMAT, rec,
                                 "end pfn 0x%" PRIx32 " is below start pfn 0x%" PRIx32,
                                 body->u.p2m_frames.end_pfn, body->u.p2m_frames.start_pfn);
    body->u.p2m_frames.count = count;
    body->u.p2m_frames.frames = count ? b + 8 : NULL;
    return 0;
}

static int decode_vcpu(const struct mig_stream_record *rec, struct mig_stream_body *body)
{
    int rc;

    if (rec->length < 8)
        return stream_item_error(MIG_EFORMAT, rec, "body is %" PRIu32 " bytes, "
                                 "shorter than the 8-byte vcpu header", rec->length);
    rc = expect_reserved_zero(rec, 4);
    if (rc)
        return rc;
    body->u.vcpu.vcpu_id = mig_le32_load(rec->body);
    body->u.vcpu.context_length = rec->length - 8;
    body->u.vcpu.context = rec->length > 8 ? rec->body + 8 : NULL;
    return 0;
}

static int decode_tsc_info(const struct mig_stream_record *rec, struct mig_stream_body *body)
{
    const uint8_t *b = rec->body;
    int rc;

    if (rec->length != 24)
        return stream_item_error(MIG_EFORMAT, rec, "body is %" PRIu32
                                 " bytes, must be 24", rec->length);
    rc = expect_reserved_zero(rec, 20);
    if (rc)
        return rc;
    body->u.tsc_info.mode = mig_le32_load(b);
    body->u.tsc_info.khz = mig_le32_load(b + 4);
    body->u.tsc_info.nsec = mig_le64_load(b + 8);
    body->u.tsc_info.incarnation = mig_le32_load(b + 16);
    return 0;
}

static int decode_hvm_params(const struct mig_stream_record *rec,
                             struct mig_stream_body *body)
{
    const uint8_t *b = rec->body;
    uint32_t count;
    int rc = expect_array(rec, 8, 16, "index/value entries", &count);

    if (rc)
        return rc;
    if (mig_le32_load(b) != count)
        return stream_item_error(MIG_EFORMAT, rec,
                                 "count %" PRIu32 " but the body holds %" PRIu32
                                 " entries", mig_le32_load(b), count);
    rc = expect_reserved_zero(rec, 4);
    if (rc)
        return rc;
    body->u.hvm_params.count = count;
    body->u.hvm_params.entries = count ? b + 8 : NULL;
    return 0;
}

static int decode_msr_policy(const struct mig_stream_record *rec,
                             struct mig_stream_body *body)
{
    const uint8_t *b = rec->body;
    uint32_t count;
    int rc = expect_array(rec, 0, 16, "MSR entries", &count);

    if (rc)
        return rc;
    for (uint32_t i = 0; i < count; i++)
        if (mig_le32_load(b + (size_t)i * 16 + 4))
            return stream_item_error(MIG_EFORMAT, rec,
                                     "MSR entry %" PRIu32 " (index 0x%08" PRIx32
                                     ") has reserved flags 0x%08" PRIx32, i,
                                     mig_le32_load(b + (size_t)i * 16),
                                     mig_le32_load(b + (size_t)i * 16 + 4));
    body->u.msr_policy.count = count;
    body->u.msr_policy.entries = count ? b : NULL;
    return 0;
}

/* A record whose body is an array of size-byte entries, kept as is. */
static int decode_entries(const struct mig_stream_record *rec, uint32_t size,
                          const char *what, uint32_t *count_out, const void **entries_out)
{
    uint32_t count;
    int rc = expect_array(rec, 0, size, what, &count);

    if (rc)
        return rc;
    *count_out = count;
    *entries_out = count ? rec->body : NULL;
    return 0;
}

/* A record kept as an opaque blob. */
static int decode_blob(const struct mig_stream_record *rec, struct mig_stream_body *body)
{
    body->u.blob.length = rec->length;
    body->u.blob.data = rec->body;
    return 0;
}

static int decode_libxc(const struct mig_stream_record *rec, struct mig_stream_body *body)
{
    switch (rec->type) {
    case MIG_LIBXC_END:
    case MIG_LIBXC_VERIFY:
    case MIG_LIBXC_CHECKPOINT:
    case MIG_LIBXC_STATIC_DATA_END:
        return expect_empty(rec);
    case MIG_LIBXC_PAGE_DATA:
        return decode_page_data(rec, body);
    case MIG_LIBXC_X86_PV_INFO:
        return decode_pv_info(rec, body);
    case MIG_LIBXC_X86_PV_P2M_FRAMES:
        return decode_p2m_frames(rec, body);
    case MIG_LIBXC_X86_PV_VCPU_BASIC:
    case MIG_LIBXC_X86_PV_VCPU_EXTENDED:
    case MIG_LIBXC_X86_PV_VCPU_XSAVE:
    case MIG_LIBXC_X86_PV_VCPU_MSRS:
        return decode_vcpu(rec, body);
    case MIG_LIBXC_SHARED_INFO:
        if (rec->length != MIG_PAGE_SIZE)
            return stream_item_error(MIG_EFORMAT, rec, "body is %" PRIu32
                                     " bytes, must be one page (4096)", rec->length);
        return decode_blob(rec, body);
    case MIG_LIBXC_X86_TSC_INFO:
        return decode_tsc_info(rec, body);
    case MIG_LIBXC_HVM_CONTEXT:
        if (rec->length == 0)
            return stream_item_error(MIG_EFORMAT, rec, "HVM context is empty");
        return decode_blob(rec, body);
    case MIG_LIBXC_TOOLSTACK:
        return decode_blob(rec, body);
    case MIG_LIBXC_HVM_PARAMS:
        return decode_hvm_params(rec, body);
    case MIG_LIBXC_CHECKPOINT_DIRTY_PFN_LIST:
        return decode_entries(rec, 8, "pfns", &body->u.pfn_list.count,
                              &body->u.pfn_list.pfns);
    case MIG_LIBXC_X86_CPUID_POLICY:
        return decode_entries(rec, 24, "CPUID leaves", &body->u.cpuid_policy.count,
                              &body->u.cpuid_policy.leaves);
    case MIG_LIBXC_X86_MSR_POLICY:
        return decode_msr_policy(rec, body);
    }
    if (rec->type & MIG_STREAM_RECORD_TYPE_OPTIONAL)
        return decode_blob(rec, body);
    return stream_item_error(MIG_EUNSUPP, rec,
                             "unknown mandatory libxc record type 0x%08" PRIx32 ": this "
                             "stream needs a newer reader (only types with bit 31 set "
                             "may be skipped)", rec->type);
}

static int decode_libxl(const struct mig_stream_record *rec, struct mig_stream_body *body)
{
    const uint8_t *b = rec->body;

    switch (rec->type) {
    case MIG_LIBXL_END:
    case MIG_LIBXL_LIBXC_CONTEXT:
    case MIG_LIBXL_CHECKPOINT_END:
        return expect_empty(rec);

    case MIG_LIBXL_EMULATOR_XENSTORE_DATA:
    case MIG_LIBXL_EMULATOR_CONTEXT:
        if (rec->length < 8)
            return stream_item_error(MIG_EFORMAT, rec, "body is %" PRIu32 " bytes, "
                                     "shorter than the 8-byte emulator header", rec->length);
        body->u.emulator.emulator_id = mig_le32_load(b);
        body->u.emulator.index = mig_le32_load(b + 4);
        if (body->u.emulator.emulator_id > MIG_STREAM_EMULATOR_QEMU_UPSTREAM)
            return stream_item_error(MIG_EFORMAT, rec, "unknown emulator id 0x%" PRIx32
                                     " (0 unknown, 1 qemu-traditional, 2 qemu-upstream)",
                                     body->u.emulator.emulator_id);
        body->u.emulator.data_length = rec->length - 8;
        body->u.emulator.data = rec->length > 8 ? b + 8 : NULL;
        if (rec->type == MIG_LIBXL_EMULATOR_XENSTORE_DATA && rec->length > 8 &&
            b[rec->length - 1] != '\0')
            return stream_item_error(MIG_EFORMAT, rec, "xenstore data does not end "
                                     "with a NUL byte");
        return 0;

    case MIG_LIBXL_CHECKPOINT_STATE:
        if (rec->length == 0)
            return stream_item_error(MIG_EFORMAT, rec, "checkpoint state is empty");
        body->u.blob.length = rec->length;
        body->u.blob.data = b;
        return 0;
    }
    return stream_item_error(MIG_EUNSUPP, rec,
                             "unknown libxl record type 0x%08" PRIx32 ": libxl has no "
                             "optional records; this stream needs a newer reader",
                             rec->type);
}

int mig_stream_decode_body(const struct mig_stream_record *record,
                           struct mig_stream_body *body)
{
    memset(body, 0, sizeof(*body));
    if (record->kind != MIG_STREAM_ITEM_RECORD)
        return stream_item_error(MIG_EINVAL, record, "not a record: nothing to decode");
    body->layer = record->layer;
    body->type = record->type;
    if (record->layer == MIG_STREAM_LAYER_LIBXC)
        return decode_libxc(record, body);
    return decode_libxl(record, body);
}
