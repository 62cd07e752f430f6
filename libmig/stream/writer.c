/*
 * writer.c: the stream writer (see mig_stream.h): headers, records with
 * zero padding, PAGE_DATA from scattered pages, typed bodies.
 *
 * It must never copy page data on an fd writer: record header, pfn words,
 * pages and padding go out in writev() calls pointing at the caller's
 * memory.  It must never write a record the reader would refuse for its
 * length or count.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig_stream.h"
#include "util/io.h"
#include "stream_internal.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

struct mig_stream_writer {
    int fd;                      /* -1 for a buffer writer */
    uint8_t *data;               /* buffer writer */
    size_t size, capacity;
    uint64_t offset;
    xentoollog_logger *logger;
};

static const uint8_t zero_padding[MIG_STREAM_RECORD_ALIGN];

static int writer_new(struct mig_stream_writer **writer, int fd, xentoollog_logger *logger)
{
    struct mig_stream_writer *w = calloc(1, sizeof(*w));

    *writer = NULL;
    if (!w)
        return mig_error_set(MIG_ENOMEM, "out of memory allocating a stream writer");
    w->fd = fd;
    w->logger = logger;
    *writer = w;
    return 0;
}

int mig_stream_writer_open_fd(struct mig_stream_writer **writer, int fd,
                              xentoollog_logger *logger)
{
    if (fd < 0) {
        *writer = NULL;
        return mig_error_set(MIG_EINVAL, "invalid file descriptor %d", fd);
    }
    return writer_new(writer, fd, logger);
}

int mig_stream_writer_open_buffer(struct mig_stream_writer **writer,
                                  xentoollog_logger *logger)
{
    return writer_new(writer, -1, logger);
}

int mig_stream_writer_buffer(const struct mig_stream_writer *writer,
                             const uint8_t **data, size_t *size)
{
    if (writer->fd >= 0)
        return mig_error_set(MIG_EINVAL, "stream writer on fd %d has no memory buffer",
                             writer->fd);
    *data = writer->data;
    *size = writer->size;
    return 0;
}

uint64_t mig_stream_writer_offset(const struct mig_stream_writer *writer)
{
    return writer->offset;
}

void mig_stream_writer_close(struct mig_stream_writer *writer)
{
    if (!writer)
        return;
    free(writer->data);
    free(writer);
}

static int fail(struct mig_stream_writer *w, int code)
{
    if (w->logger)
        xtl_log(w->logger, XTL_ERROR, -1, "xenmig-stream", "%s", mig_error_last());
    return code;
}

static int buffer_append(struct mig_stream_writer *w, const void *src, size_t len)
{
    if (len > w->capacity - w->size) {
        size_t capacity = w->capacity ? w->capacity : 4096;
        uint8_t *bigger;

        while (capacity - w->size < len) {
            if (capacity > SIZE_MAX / 2)
                return mig_error_set(MIG_ENOMEM, "stream buffer would exceed memory");
            capacity *= 2;
        }
        bigger = realloc(w->data, capacity);
        if (!bigger)
            return mig_error_set(MIG_ENOMEM, "out of memory growing the stream buffer to "
                                 "%zu bytes", capacity);
        w->data = bigger;
        w->capacity = capacity;
    }
    if (len)
        memcpy(w->data + w->size, src, len);
    w->size += len;
    return 0;
}

/* Write every byte of iov[0..count) (the array is modified). */
static int write_vectors(struct mig_stream_writer *w, struct iovec *iov, unsigned int count)
{
    int rc;

    if (w->fd < 0) {
        for (unsigned int i = 0; i < count; i++) {
            rc = buffer_append(w, iov[i].iov_base, iov[i].iov_len);
            if (rc)
                return fail(w, rc);
            w->offset += iov[i].iov_len;
        }
        return 0;
    }
    while (count) {
        ssize_t n = writev(w->fd, iov, count < IOV_MAX ? (int)count : IOV_MAX);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(w, mig_error_set_errno(MIG_EIO, errno, "writing the stream at "
                                               "offset 0x%" PRIx64, w->offset));
        }
        w->offset += (uint64_t)n;
        while (count && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static int write_bytes(struct mig_stream_writer *w, const void *data, size_t len)
{
    struct iovec iov = { (void *)data, len };

    return write_vectors(w, &iov, 1);
}

int mig_stream_write_xl_header(struct mig_stream_writer *w,
                               const struct mig_stream_xl_header *header)
{
    uint8_t head[XL_HEADER_SIZE + 4];
    struct iovec iov[3];
    uint32_t optional_length;
    unsigned int count = 0;

    if (header->mandatory_flags & ~MIG_STREAM_XL_MANDATORY_KNOWN)
        return fail(w, mig_error_set(MIG_EINVAL, "xl header: unknown mandatory flags 0x%08"
                                     PRIx32, header->mandatory_flags));
    if (header->optional_data)
        optional_length = header->optional_data_length;
    else if (header->config_length > MIG_STREAM_XL_OPTIONAL_DATA_MAX - 4)
        return fail(w, mig_error_set(MIG_ELIMIT, "xl header: config of %" PRIu32 " bytes "
                                     "exceeds the %u-byte limit", header->config_length,
                                     MIG_STREAM_XL_OPTIONAL_DATA_MAX - 4));
    else
        optional_length = 4 + header->config_length;
    if (optional_length > MIG_STREAM_XL_OPTIONAL_DATA_MAX)
        return fail(w, mig_error_set(MIG_ELIMIT, "xl header: optional data of %" PRIu32
                                     " bytes exceeds the %u-byte limit", optional_length,
                                     MIG_STREAM_XL_OPTIONAL_DATA_MAX));
    memcpy(head, MIG_STREAM_XL_MAGIC, MIG_STREAM_XL_MAGIC_SIZE);
    mig_le32_store(head + 32, MIG_STREAM_XL_BYTEORDER);
    mig_le32_store(head + 36, header->mandatory_flags);
    mig_le32_store(head + 40, header->optional_flags);
    mig_le32_store(head + 44, optional_length);
    if (header->optional_data) {
        iov[count++] = (struct iovec){ head, XL_HEADER_SIZE };
        iov[count++] = (struct iovec){ (void *)header->optional_data, optional_length };
    } else {
        mig_le32_store(head + XL_HEADER_SIZE, header->config_length);
        iov[count++] = (struct iovec){ head, XL_HEADER_SIZE + 4 };
        iov[count++] = (struct iovec){ (void *)header->config, header->config_length };
    }
    return write_vectors(w, iov, count);
}

int mig_stream_write_libxl_header(struct mig_stream_writer *w,
                                  const struct mig_stream_libxl_header *header)
{
    uint8_t head[LIBXL_HEADER_SIZE];

    be64_store(head, MIG_STREAM_LIBXL_IDENT);
    be32_store(head + 8, header->version);
    be32_store(head + 12, header->options);
    return write_bytes(w, head, sizeof(head));
}

int mig_stream_write_image_header(struct mig_stream_writer *w,
                                  const struct mig_stream_image_header *header)
{
    uint8_t head[IMAGE_HEADER_SIZE] = { 0 };

    be64_store(head, MIG_STREAM_IHDR_MARKER);
    be32_store(head + 8, MIG_STREAM_IHDR_ID);
    be32_store(head + 12, header->version);
    head[16] = (uint8_t)(header->options >> 8);
    head[17] = (uint8_t)header->options;
    return write_bytes(w, head, sizeof(head));
}

int mig_stream_write_domain_header(struct mig_stream_writer *w,
                                   const struct mig_stream_domain_header *header)
{
    uint8_t head[DOMAIN_HEADER_SIZE] = { 0 };

    mig_le32_store(head, header->type);
    mig_le16_store(head + 4, header->page_shift);
    mig_le32_store(head + 8, header->xen_major);
    mig_le32_store(head + 12, header->xen_minor);
    return write_bytes(w, head, sizeof(head));
}

int mig_stream_write_record_iov(struct mig_stream_writer *w,
                                enum mig_stream_layer layer, uint32_t type,
                                const struct iovec *iov, unsigned int iov_count)
{
    struct iovec local[8], *all = local;
    uint8_t head[RECORD_HEADER_SIZE];
    uint64_t length = 0;
    uint32_t padding;
    int rc;

    for (unsigned int i = 0; i < iov_count; i++)
        length += iov[i].iov_len;
    if (length > MIG_STREAM_RECORD_LENGTH_MAX)
        return fail(w, mig_error_set(MIG_ELIMIT, "%s record of %" PRIu64 " bytes exceeds "
                                     "the %u-byte (128 MiB) limit of a record",
                                     mig_stream_type_name(layer, type), length,
                                     MIG_STREAM_RECORD_LENGTH_MAX));
    if (iov_count + 2 > sizeof(local) / sizeof(local[0])) {
        all = malloc((iov_count + 2) * sizeof(*all));
        if (!all)
            return fail(w, mig_error_set(MIG_ENOMEM, "out of memory for %u iovecs",
                                         iov_count + 2));
    }
    padding = padding_for((uint32_t)length);
    mig_le32_store(head, type);
    mig_le32_store(head + 4, (uint32_t)length);
    all[0] = (struct iovec){ head, sizeof(head) };
    if (iov_count)
        memcpy(all + 1, iov, iov_count * sizeof(*iov));
    all[iov_count + 1] = (struct iovec){ (void *)zero_padding, padding };
    rc = write_vectors(w, all, iov_count + 2);
    if (all != local)
        free(all);
    return rc;
}

int mig_stream_write_record(struct mig_stream_writer *w,
                            enum mig_stream_layer layer, uint32_t type,
                            const void *body, uint32_t length)
{
    struct iovec iov = { (void *)body, length };

    return mig_stream_write_record_iov(w, layer, type, &iov, length ? 1 : 0);
}

/* The pfn words of a PAGE_DATA record: 1..1024, each valid; *data_pages
 * counts those whose type carries data. */
static int check_page_words(struct mig_stream_writer *w, const void *pfn_words,
                            uint32_t count, uint32_t *data_pages)
{
    *data_pages = 0;
    if (count == 0 || count > MIG_STREAM_PAGE_DATA_MAX_PFNS)
        return fail(w, mig_error_set(count ? MIG_ELIMIT : MIG_EINVAL,
                                     "PAGE_DATA with %" PRIu32 " pfns: a record carries 1 to "
                                     "%u", count, MIG_STREAM_PAGE_DATA_MAX_PFNS));
    for (uint32_t i = 0; i < count; i++) {
        uint64_t word = mig_stream_u64_at(pfn_words, i);   /* may be unaligned */
        unsigned int type = mig_stream_word_type(word);

        if (word & MIG_STREAM_PFN_RESERVED_MASK)
            return fail(w, mig_error_set(MIG_EINVAL, "PAGE_DATA pfn word %" PRIu32 " is 0x%016"
                                         PRIx64 ": pfn over the 52-bit limit", i, word));
        if (!strcmp(mig_stream_page_type_name(type), "INVALID"))
            return fail(w, mig_error_set(MIG_EINVAL, "PAGE_DATA pfn word %" PRIu32 " is 0x%016"
                                         PRIx64 ": invalid page type 0x%x", i, word, type));
        if (mig_stream_page_type_has_data(type))
            (*data_pages)++;
    }
    return 0;
}

int mig_stream_write_page_data(struct mig_stream_writer *w,
                               const void *pfn_words, uint32_t count,
                               const struct iovec *pages, uint32_t page_count)
{
    struct iovec *iov;
    uint8_t head[8];
    uint32_t data_pages;
    int rc = check_page_words(w, pfn_words, count, &data_pages);

    if (rc)
        return rc;
    if (data_pages != page_count)
        return fail(w, mig_error_set(MIG_EINVAL, "PAGE_DATA: the pfn types need %" PRIu32
                                     " data pages, %" PRIu32 " were given", data_pages,
                                     page_count));
    for (uint32_t i = 0; i < page_count; i++)
        if (pages[i].iov_len != MIG_PAGE_SIZE)
            return fail(w, mig_error_set(MIG_EINVAL, "PAGE_DATA: page %" PRIu32 " is %zu "
                                         "bytes, must be 4096", i, pages[i].iov_len));
    iov = malloc((page_count + 2) * sizeof(*iov));
    if (!iov)
        return fail(w, mig_error_set(MIG_ENOMEM, "out of memory for %u iovecs",
                                     page_count + 2));
    mig_le32_store(head, count);
    mig_le32_store(head + 4, 0);
    iov[0] = (struct iovec){ head, sizeof(head) };
    iov[1] = (struct iovec){ (void *)pfn_words, (size_t)count * 8 };
    if (page_count)
        memcpy(iov + 2, pages, page_count * sizeof(*iov));
    rc = mig_stream_write_record_iov(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_PAGE_DATA,
                                     iov, page_count + 2);
    free(iov);
    return rc;
}

/*
 * Up to len bytes of fd from *offset into the pipe w->fd, moved by the
 * kernel; *moved, *offset and the stream's offset advance.  Stops with 0
 * and *moved short where splice() does not apply to this pair (EINVAL,
 * ENOSYS before the first byte: a file system or descriptor it cannot take).
 */
static int splice_bytes(struct mig_stream_writer *w, int fd, uint64_t *offset, size_t len,
                        size_t *moved)
{
    *moved = 0;
    while (*moved < len) {
        loff_t at = (loff_t)*offset;
        ssize_t n = splice(fd, &at, w->fd, NULL, len - *moved, SPLICE_F_MOVE);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EINVAL || errno == ENOSYS) && !*moved)
            return 0;
        if (n < 0)
            return fail(w, mig_error_set_errno(MIG_EIO, errno, "writing the stream at "
                                               "offset 0x%" PRIx64, w->offset));
        if (n == 0)
            return fail(w, mig_error_set(MIG_EIO, "the pages to write end at offset %"
                                         PRIu64 " of their file, %zu bytes short", *offset,
                                         len - *moved));
        *moved += (size_t)n;
        *offset += (uint64_t)n;
        w->offset += (uint64_t)n;
    }
    return 0;
}

/* len bytes of fd from offset, read and written (where splice cannot). */
static int copy_bytes(struct mig_stream_writer *w, int fd, uint64_t offset, size_t len)
{
    size_t chunk = len < (size_t)64 * MIG_PAGE_SIZE ? len : (size_t)64 * MIG_PAGE_SIZE;
    uint8_t *buf = malloc(chunk ? chunk : 1);
    int rc = 0;

    if (!buf)
        return fail(w, mig_error_set(MIG_ENOMEM, "out of memory for %zu bytes", chunk));
    while (len && !rc) {
        size_t n = len < chunk ? len : chunk;
        ssize_t got = mig_pread_full(fd, buf, n, (off_t)offset);

        if (got < 0) {
            rc = fail(w, mig_error_set_errno(MIG_EIO, errno, "cannot read the pages to "
                                             "write at offset %" PRIu64 " of their file",
                                             offset));
            break;
        }
        rc = write_bytes(w, buf, (size_t)got);
        offset += (uint64_t)got;
        len -= (size_t)got;
        if (!rc && (size_t)got < n)
            rc = fail(w, mig_error_set(MIG_EIO, "the pages to write end at offset %" PRIu64
                                       " of their file, %zu bytes short", offset, len));
    }
    free(buf);
    return rc;
}

int mig_stream_write_page_data_from_fd(struct mig_stream_writer *w, const void *pfn_words,
                                       uint32_t count, int data_fd, uint64_t data_offset)
{
    uint8_t head[RECORD_HEADER_SIZE + 8];
    struct iovec iov[2];
    uint32_t data_pages;
    size_t len, moved = 0;
    int rc = check_page_words(w, pfn_words, count, &data_pages);

    if (rc)
        return rc;
    if (data_pages != count)
        return fail(w, mig_error_set(MIG_EINVAL, "PAGE_DATA from a file: %" PRIu32 " of its "
                                     "%" PRIu32 " pfn types carry no data", count - data_pages,
                                     count));
    len = (size_t)count * MIG_PAGE_SIZE;
    mig_le32_store(head, MIG_LIBXC_PAGE_DATA);
    mig_le32_store(head + 4, (uint32_t)(8 + (size_t)count * 8 + len));   /* 8-aligned */
    mig_le32_store(head + 8, count);
    mig_le32_store(head + 12, 0);
    iov[0] = (struct iovec){ head, sizeof(head) };
    iov[1] = (struct iovec){ (void *)pfn_words, (size_t)count * 8 };
    rc = write_vectors(w, iov, 2);
    if (!rc && w->fd >= 0)
        rc = splice_bytes(w, data_fd, &data_offset, len, &moved);
    if (!rc && moved < len)
        rc = copy_bytes(w, data_fd, data_offset, len - moved);
    return rc;
}

/* Header of 8 bytes (two little-endian words) + one array. */
static int write_pair_and_array(struct mig_stream_writer *w, const struct mig_stream_body *b,
                                uint32_t first, uint32_t second,
                                const void *array, size_t array_bytes)
{
    uint8_t head[8];
    struct iovec iov[2];

    mig_le32_store(head, first);
    mig_le32_store(head + 4, second);
    iov[0] = (struct iovec){ head, sizeof(head) };
    iov[1] = (struct iovec){ (void *)array, array_bytes };
    return mig_stream_write_record_iov(w, b->layer, b->type, iov, array_bytes ? 2 : 1);
}

static int write_page_data_body(struct mig_stream_writer *w, const struct mig_stream_body *b)
{
    uint32_t pages = b->u.page_data.data_pages;
    struct iovec *iov;
    int rc;

    iov = malloc((pages ? pages : 1) * sizeof(*iov));
    if (!iov)
        return fail(w, mig_error_set(MIG_ENOMEM, "out of memory for %" PRIu32 " iovecs",
                                     pages));
    for (uint32_t i = 0; i < pages; i++)
        iov[i] = (struct iovec){ (uint8_t *)b->u.page_data.pages +
                                 (size_t)i * MIG_PAGE_SIZE, MIG_PAGE_SIZE };
    rc = mig_stream_write_page_data(w, b->u.page_data.pfn_words, b->u.page_data.count,
                                    iov, pages);
    free(iov);
    return rc;
}

static int write_libxc_body(struct mig_stream_writer *w, const struct mig_stream_body *b)
{
    uint8_t small[24] = { 0 };

    switch (b->type) {
    case MIG_LIBXC_END:
    case MIG_LIBXC_VERIFY:
    case MIG_LIBXC_CHECKPOINT:
    case MIG_LIBXC_STATIC_DATA_END:
        return mig_stream_write_record(w, b->layer, b->type, NULL, 0);
    case MIG_LIBXC_PAGE_DATA:
        return write_page_data_body(w, b);
    case MIG_LIBXC_X86_PV_INFO:
        small[0] = b->u.x86_pv_info.guest_width;
        small[1] = b->u.x86_pv_info.pt_levels;
        return mig_stream_write_record(w, b->layer, b->type, small, 8);
    case MIG_LIBXC_X86_PV_P2M_FRAMES:
        return write_pair_and_array(w, b, b->u.p2m_frames.start_pfn, b->u.p2m_frames.end_pfn,
                                    b->u.p2m_frames.frames, (size_t)b->u.p2m_frames.count * 8);
    case MIG_LIBXC_X86_PV_VCPU_BASIC:
    case MIG_LIBXC_X86_PV_VCPU_EXTENDED:
    case MIG_LIBXC_X86_PV_VCPU_XSAVE:
    case MIG_LIBXC_X86_PV_VCPU_MSRS:
        return write_pair_and_array(w, b, b->u.vcpu.vcpu_id, 0, b->u.vcpu.context,
                                    b->u.vcpu.context_length);
    case MIG_LIBXC_X86_TSC_INFO:
        mig_le32_store(small, b->u.tsc_info.mode);
        mig_le32_store(small + 4, b->u.tsc_info.khz);
        mig_le64_store(small + 8, b->u.tsc_info.nsec);
        mig_le32_store(small + 16, b->u.tsc_info.incarnation);
        return mig_stream_write_record(w, b->layer, b->type, small, 24);
    case MIG_LIBXC_HVM_PARAMS:
        return write_pair_and_array(w, b, b->u.hvm_params.count, 0, b->u.hvm_params.entries,
                                    (size_t)b->u.hvm_params.count * 16);
    case MIG_LIBXC_CHECKPOINT_DIRTY_PFN_LIST:
        return mig_stream_write_record(w, b->layer, b->type, b->u.pfn_list.pfns,
                                       b->u.pfn_list.count * 8u);
    case MIG_LIBXC_X86_CPUID_POLICY:
        return mig_stream_write_record(w, b->layer, b->type, b->u.cpuid_policy.leaves,
                                       b->u.cpuid_policy.count * 24u);
    case MIG_LIBXC_X86_MSR_POLICY:
        return mig_stream_write_record(w, b->layer, b->type, b->u.msr_policy.entries,
                                       b->u.msr_policy.count * 16u);
    }
    /* SHARED_INFO, HVM_CONTEXT, TOOLSTACK, unknown optional: opaque */
    return mig_stream_write_record(w, b->layer, b->type, b->u.blob.data, b->u.blob.length);
}

int mig_stream_write_body(struct mig_stream_writer *w, const struct mig_stream_body *b)
{
    if (b->layer == MIG_STREAM_LAYER_LIBXC)
        return write_libxc_body(w, b);
    if (b->layer != MIG_STREAM_LAYER_LIBXL)
        return fail(w, mig_error_set(MIG_EINVAL, "body layer %d is neither libxc (1) nor "
                                     "libxl (2)", (int)b->layer));
    switch (b->type) {
    case MIG_LIBXL_END:
    case MIG_LIBXL_LIBXC_CONTEXT:
    case MIG_LIBXL_CHECKPOINT_END:
        return mig_stream_write_record(w, b->layer, b->type, NULL, 0);
    case MIG_LIBXL_EMULATOR_XENSTORE_DATA:
    case MIG_LIBXL_EMULATOR_CONTEXT:
        return write_pair_and_array(w, b, b->u.emulator.emulator_id, b->u.emulator.index,
                                    b->u.emulator.data, b->u.emulator.data_length);
    }
    return mig_stream_write_record(w, b->layer, b->type, b->u.blob.data, b->u.blob.length);
}

int mig_stream_write_item(struct mig_stream_writer *w, const struct mig_stream_record *rec)
{
    switch (rec->kind) {
    case MIG_STREAM_ITEM_XL_HEADER:
        return mig_stream_write_xl_header(w, &rec->xl);
    case MIG_STREAM_ITEM_LIBXL_HEADER:
        return mig_stream_write_libxl_header(w, &rec->libxl);
    case MIG_STREAM_ITEM_IMAGE_HEADER:
        return mig_stream_write_image_header(w, &rec->image);
    case MIG_STREAM_ITEM_DOMAIN_HEADER:
        return mig_stream_write_domain_header(w, &rec->domain);
    case MIG_STREAM_ITEM_RECORD:
        return mig_stream_write_record(w, rec->layer, rec->type, rec->body, rec->length);
    }
    return fail(w, mig_error_set(MIG_EINVAL, "item kind %d is not a header or a record",
                                 (int)rec->kind));
}
