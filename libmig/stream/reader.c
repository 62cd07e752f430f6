/*
 * reader.c: the stream reader (see mig_stream.h).  Walks an xl save file,
 * a libxl v2 stream or a bare libxc v3 stream item by item, nesting the
 * libxc stream inside the libxl LIBXC_CONTEXT record as Xen does.
 *
 * It must never trust a length: every count and length is checked against
 * the bytes actually present and the format's limits before anything is
 * allocated or read.  It must never copy a record body twice: a body is
 * handed out as a view into the caller's memory (memory reader) or into one
 * reusable buffer filled by a single read sequence (fd reader).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig_stream.h"
#include "stream_internal.h"

enum reader_state {
    STATE_START,
    STATE_AFTER_XL_HEADER,      /* libxl header or libxc image header next */
    STATE_LIBXL_RECORDS,
    STATE_IMAGE_HEADER,
    STATE_DOMAIN_HEADER,
    STATE_LIBXC_RECORDS,
    STATE_DONE,
    STATE_FAILED,
};

struct mig_stream_reader {
    int fd;                         /* -1 for a memory reader */
    const uint8_t *memory;
    size_t memory_size;
    uint8_t *buffer;                /* fd reader: body buffer, reused */
    size_t buffer_size;
    uint8_t head[XL_HEADER_SIZE];   /* fixed-size headers are assembled here */
    size_t head_have;
    uint64_t offset;                /* bytes consumed */
    uint64_t index;                 /* items handed out */
    enum reader_state state;
    enum mig_stream_format format;
    bool xl_streamv2;
    bool libxc_nested;              /* libxc stream inside a libxl stream */
    bool libxc_headers_seen;
    struct mig_stream_reader_options options;
    int failed_code;
    char failed_message[1024];
};

static int reader_new(struct mig_stream_reader **reader,
                      const struct mig_stream_reader_options *options)
{
    struct mig_stream_reader_options defaults = MIG_STREAM_READER_OPTIONS_INIT;
    struct mig_stream_reader *r;

    *reader = NULL;
    if (options && options->version != MIG_STREAM_READER_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "reader options version %u is not supported "
                             "(this libmig knows version %d): initialise them with "
                             "MIG_STREAM_READER_OPTIONS_INIT", options->version,
                             MIG_STREAM_READER_OPTIONS_VERSION);
    r = calloc(1, sizeof(*r));
    if (!r)
        return mig_error_set(MIG_ENOMEM, "out of memory allocating a stream reader");
    r->fd = -1;
    r->options = options ? *options : defaults;
    r->format = r->options.format;
    *reader = r;
    return 0;
}

int mig_stream_reader_open_fd(struct mig_stream_reader **reader, int fd,
                              const struct mig_stream_reader_options *options)
{
    int rc;

    if (fd < 0) {
        *reader = NULL;
        return mig_error_set(MIG_EINVAL, "invalid file descriptor %d", fd);
    }
    rc = reader_new(reader, options);
    if (rc)
        return rc;
    (*reader)->fd = fd;
    return 0;
}

int mig_stream_reader_open_mem(struct mig_stream_reader **reader,
                               const void *data, size_t size,
                               const struct mig_stream_reader_options *options)
{
    int rc;

    if (!data && size) {
        *reader = NULL;
        return mig_error_set(MIG_EINVAL, "NULL data with size %zu", size);
    }
    rc = reader_new(reader, options);
    if (rc)
        return rc;
    (*reader)->memory = data;
    (*reader)->memory_size = size;
    return 0;
}

void mig_stream_reader_close(struct mig_stream_reader *reader)
{
    if (!reader)
        return;
    free(reader->buffer);
    free(reader);
}

enum mig_stream_format mig_stream_reader_format(const struct mig_stream_reader *reader)
{
    return reader->format;
}

uint64_t mig_stream_reader_offset(const struct mig_stream_reader *reader)
{
    return reader->offset;
}

/* read(2) until size bytes or end of input; *got says how many arrived. */
static int read_fully(struct mig_stream_reader *r, uint8_t *dst, size_t size, size_t *got)
{
    *got = 0;
    while (*got < size) {
        ssize_t n = read(r->fd, dst + *got, size - *got);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mig_error_set_errno(MIG_EIO, errno, "reading the stream at offset 0x%"
                                       PRIx64, r->offset + *got);
        }
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

/*
 * Make size bytes available at *data: a view into memory, or the reusable
 * buffer of an fd reader.  *got < size means the input ended early.
 * Consumes what it returns.
 */
static int fetch(struct mig_stream_reader *r, size_t size, const uint8_t **data, size_t *got)
{
    int rc;

    if (r->fd < 0) {
        size_t left = r->memory_size - (size_t)r->offset;

        *got = size < left ? size : left;
        *data = r->memory + r->offset;
        r->offset += *got;
        return 0;
    }
    if (size > r->buffer_size) {
        uint8_t *bigger = realloc(r->buffer, size);

        if (!bigger)
            return mig_error_set(MIG_ENOMEM, "out of memory for a %zu-byte record body", size);
        r->buffer = bigger;
        r->buffer_size = size;
    }
    rc = read_fully(r, r->buffer, size, got);
    r->offset += *got;
    *data = r->buffer;
    return rc;
}

/* Fill r->head up to size bytes (it may already hold some). */
static int fetch_head(struct mig_stream_reader *r, size_t size, struct mig_stream_record *rec)
{
    const uint8_t *data;
    size_t got;
    int rc;

    if (r->head_have >= size)
        return 0;
    rc = fetch(r, size - r->head_have, &data, &got);
    if (rc)
        return rc;
    memcpy(r->head + r->head_have, data, got);
    r->head_have += got;
    if (r->head_have < size)
        return stream_item_error(MIG_ETRUNC, rec, "input ends after %zu of the %zu "
                                 "header bytes: the file is truncated", r->head_have, size);
    return 0;
}

static void begin_item(struct mig_stream_reader *r, struct mig_stream_record *rec,
                       enum mig_stream_item_kind kind)
{
    memset(rec, 0, sizeof(*rec));
    rec->kind = kind;
    rec->index = r->index;
    rec->offset = r->offset - r->head_have;
}

static int refuse_big_endian(const struct mig_stream_record *rec)
{
    return stream_item_error(MIG_EUNSUPP, rec, "the stream is big-endian; only "
                             "little-endian (x86) streams are supported");
}

static int read_xl_header(struct mig_stream_reader *r, struct mig_stream_record *rec)
{
    struct mig_stream_xl_header *xl = &rec->xl;
    const uint8_t *data;
    uint32_t byteorder, unknown;
    size_t got;
    int rc;

    begin_item(r, rec, MIG_STREAM_ITEM_XL_HEADER);
    rc = fetch_head(r, XL_HEADER_SIZE, rec);
    if (rc)
        return rc;
    if (memcmp(r->head, MIG_STREAM_XL_MAGIC, MIG_STREAM_XL_MAGIC_SIZE))
        return stream_item_error(MIG_EFORMAT, rec, "the 32-byte magic is not \"Xen saved "
                                 "domain, xl format\\n \\0 \\r\": not an xl save file");
    byteorder = mig_le32_load(r->head + 32);
    if (byteorder == 0x04030201u)
        return refuse_big_endian(rec);
    if (byteorder != MIG_STREAM_XL_BYTEORDER)
        return stream_item_error(MIG_EFORMAT, rec, "byte-order word is 0x%08" PRIx32
                                 ", expected 0x01020304", byteorder);
    xl->mandatory_flags = mig_le32_load(r->head + 36);
    xl->optional_flags = mig_le32_load(r->head + 40);
    xl->optional_data_length = mig_le32_load(r->head + 44);
    unknown = xl->mandatory_flags & ~MIG_STREAM_XL_MANDATORY_KNOWN;
    if (unknown)
        return stream_item_error(MIG_EUNSUPP, rec, "unknown mandatory flags 0x%08" PRIx32
                                 " (known: 0x%x): the file was written by a newer xl",
                                 unknown, MIG_STREAM_XL_MANDATORY_KNOWN);
    if (xl->optional_data_length > MIG_STREAM_XL_OPTIONAL_DATA_MAX)
        return stream_item_error(MIG_ELIMIT, rec, "optional data length %" PRIu32
                                 " exceeds the %u bytes this reader accepts",
                                 xl->optional_data_length, MIG_STREAM_XL_OPTIONAL_DATA_MAX);
    r->head_have = 0;
    rc = fetch(r, xl->optional_data_length, &data, &got);
    if (rc)
        return rc;
    if (got < xl->optional_data_length)
        return stream_item_error(MIG_ETRUNC, rec, "optional data truncated: the header "
                                 "says %" PRIu32 " bytes, the input has %zu",
                                 xl->optional_data_length, got);
    /* Never NULL: the writer writes what was read, also 0 bytes of it
     * (NULL would make it build a config length that was not there). */
    xl->optional_data = xl->optional_data_length ? data : (const uint8_t *)"";
    if (xl->optional_data_length >= 4) {
        xl->config_length = mig_le32_load(data);
        if (xl->config_length > xl->optional_data_length - 4)
            return stream_item_error(MIG_EFORMAT, rec, "config length %" PRIu32
                                     " exceeds the %" PRIu32 " bytes of optional data "
                                     "after it", xl->config_length,
                                     xl->optional_data_length - 4);
        xl->config = xl->config_length ? data + 4 : NULL;
    }
    rec->size = XL_HEADER_SIZE + (uint64_t)xl->optional_data_length;
    r->xl_streamv2 = xl->mandatory_flags & MIG_STREAM_XL_FLAG_STREAMV2;
    r->state = STATE_AFTER_XL_HEADER;
    return 0;
}

static int read_libxl_header(struct mig_stream_reader *r, struct mig_stream_record *rec)
{
    uint64_t ident;
    uint32_t options;
    int rc;

    begin_item(r, rec, MIG_STREAM_ITEM_LIBXL_HEADER);
    rc = fetch_head(r, LIBXL_HEADER_SIZE, rec);
    if (rc)
        return rc;
    ident = be64_load(r->head);
    if (ident != MIG_STREAM_LIBXL_IDENT)
        return stream_item_error(MIG_EFORMAT, rec, "ident is 0x%016" PRIx64 ", expected "
                                 "0x%016llx (\"LibxlFmt\")", ident,
                                 (unsigned long long)MIG_STREAM_LIBXL_IDENT);
    rec->libxl.version = be32_load(r->head + 8);
    options = rec->libxl.options = be32_load(r->head + 12);
    if (rec->libxl.version != MIG_STREAM_LIBXL_VERSION)
        return stream_item_error(MIG_EUNSUPP, rec, "libxl stream version %" PRIu32
                                 ": only version %u is supported", rec->libxl.version,
                                 MIG_STREAM_LIBXL_VERSION);
    if (options & MIG_STREAM_LIBXL_OPT_BIG_ENDIAN)
        return refuse_big_endian(rec);
    if (options & ~(uint32_t)(MIG_STREAM_LIBXL_OPT_BIG_ENDIAN | MIG_STREAM_LIBXL_OPT_LEGACY))
        return stream_item_error(MIG_EFORMAT, rec, "reserved option bits 0x%08" PRIx32
                                 " are set", options & ~3u);
    rec->size = LIBXL_HEADER_SIZE;
    r->head_have = 0;
    r->state = STATE_LIBXL_RECORDS;
    return 0;
}

static int read_image_header(struct mig_stream_reader *r, struct mig_stream_record *rec)
{
    uint64_t marker;
    uint32_t id;
    uint16_t reserved16;
    uint32_t reserved32;
    int rc;

    begin_item(r, rec, MIG_STREAM_ITEM_IMAGE_HEADER);
    rc = fetch_head(r, IMAGE_HEADER_SIZE, rec);
    if (rc)
        return rc;
    marker = be64_load(r->head);
    id = be32_load(r->head + 8);
    rec->image.version = be32_load(r->head + 12);
    rec->image.options = (uint16_t)((r->head[16] << 8) | r->head[17]);
    reserved16 = (uint16_t)((r->head[18] << 8) | r->head[19]);
    reserved32 = be32_load(r->head + 20);
    if (marker != MIG_STREAM_IHDR_MARKER)
        return stream_item_error(MIG_EFORMAT, rec, "marker is 0x%016" PRIx64 ", expected "
                                 "0xffffffffffffffff", marker);
    if (id != MIG_STREAM_IHDR_ID)
        return stream_item_error(MIG_EFORMAT, rec, "id is 0x%08" PRIx32 ", expected "
                                 "0x58454e46 (\"XENF\")", id);
    if (rec->image.version < 2 || rec->image.version > MIG_STREAM_IHDR_VERSION)
        return stream_item_error(MIG_EUNSUPP, rec, "version %" PRIu32 " is not supported "
                                 "(2 and 3 are; version 1 streams need "
                                 "convert-legacy-stream)", rec->image.version);
    if (rec->image.options & MIG_STREAM_IHDR_OPT_BIG_ENDIAN)
        return refuse_big_endian(rec);
    if (rec->image.options & ~MIG_STREAM_IHDR_OPT_BIG_ENDIAN)
        return stream_item_error(MIG_EFORMAT, rec, "reserved option bits 0x%04x are set",
                                 rec->image.options & ~MIG_STREAM_IHDR_OPT_BIG_ENDIAN);
    if (reserved16 || reserved32)
        return stream_item_error(MIG_EFORMAT, rec, "reserved fields are 0x%04x/0x%08"
                                 PRIx32 ", must be zero", reserved16, reserved32);
    rec->size = IMAGE_HEADER_SIZE;
    r->head_have = 0;
    r->state = STATE_DOMAIN_HEADER;
    return 0;
}

static int read_domain_header(struct mig_stream_reader *r, struct mig_stream_record *rec)
{
    uint16_t reserved;
    int rc;

    begin_item(r, rec, MIG_STREAM_ITEM_DOMAIN_HEADER);
    rc = fetch_head(r, DOMAIN_HEADER_SIZE, rec);
    if (rc)
        return rc;
    rec->domain.type = mig_le32_load(r->head);
    rec->domain.page_shift = mig_le16_load(r->head + 4);
    reserved = mig_le16_load(r->head + 6);
    rec->domain.xen_major = mig_le32_load(r->head + 8);
    rec->domain.xen_minor = mig_le32_load(r->head + 12);
    if (rec->domain.type != MIG_STREAM_DOMAIN_X86_PV &&
        rec->domain.type != MIG_STREAM_DOMAIN_X86_HVM)
        return stream_item_error(MIG_EUNSUPP, rec, "domain type 0x%" PRIx32 " is not "
                                 "supported (1 x86 PV, 2 x86 HVM)", rec->domain.type);
    if (rec->domain.page_shift != MIG_STREAM_PAGE_SHIFT)
        return stream_item_error(MIG_EUNSUPP, rec, "page shift %u is not supported "
                                 "(x86 uses 12)", rec->domain.page_shift);
    if (reserved)
        return stream_item_error(MIG_EFORMAT, rec, "reserved field is 0x%04x, must be zero",
                                 reserved);
    rec->size = DOMAIN_HEADER_SIZE;
    r->head_have = 0;
    r->libxc_headers_seen = true;
    r->state = STATE_LIBXC_RECORDS;
    return 0;
}

static int read_one_record(struct mig_stream_reader *r, struct mig_stream_record *rec,
                           enum mig_stream_layer layer)
{
    struct mig_stream_body body;
    const uint8_t *data;
    uint32_t padding;
    size_t got, padded;
    int rc;

    begin_item(r, rec, MIG_STREAM_ITEM_RECORD);
    rec->layer = layer;
    if (r->head_have == 0) {
        rc = fetch(r, RECORD_HEADER_SIZE, &data, &got);
        if (rc)
            return rc;
        if (got == 0)
            return mig_error_set(MIG_ETRUNC, "input ends at offset 0x%" PRIx64 " after %"
                                 PRIu64 " items, before the %s END record: the stream is "
                                 "truncated", r->offset, r->index,
                                 layer == MIG_STREAM_LAYER_LIBXL ? "libxl" : "libxc");
        memcpy(r->head, data, got);
        r->head_have = got;
    }
    rec->offset = r->offset - r->head_have;
    if (r->head_have < RECORD_HEADER_SIZE) {
        rc = fetch_head(r, RECORD_HEADER_SIZE, rec);
        if (rc)
            return rc;
    }
    rec->type = mig_le32_load(r->head);
    rec->length = mig_le32_load(r->head + 4);
    r->head_have = 0;
    if (rec->length > MIG_STREAM_RECORD_LENGTH_MAX)
        return stream_item_error(MIG_ELIMIT, rec, "length %" PRIu32 " exceeds the %u-byte "
                                 "(128 MiB) limit of a record", rec->length,
                                 MIG_STREAM_RECORD_LENGTH_MAX);
    padding = padding_for(rec->length);
    padded = (size_t)rec->length + padding;
    rc = fetch(r, padded, &data, &got);
    if (rc)
        return rc;
    if (got < padded)
        return stream_item_error(MIG_ETRUNC, rec, "body truncated: the header says %" PRIu32
                                 " bytes (%zu with padding), the input ends after %zu",
                                 rec->length, padded, got);
    for (uint32_t i = 0; i < padding; i++)
        if (data[rec->length + i])
            return stream_item_error(MIG_EFORMAT, rec, "padding byte %" PRIu32 " (offset 0x%"
                                     PRIx64 ") is 0x%02x, must be zero", i,
                                     rec->offset + RECORD_HEADER_SIZE + rec->length + i,
                                     data[rec->length + i]);
    rec->body = rec->length ? data : NULL;
    rec->size = RECORD_HEADER_SIZE + padded;
    rc = mig_stream_decode_body(rec, &body);
    if (rc)
        return rc;

    if (layer == MIG_STREAM_LAYER_LIBXL) {
        if (rec->type == MIG_LIBXL_LIBXC_CONTEXT) {
            r->libxc_nested = true;
            r->state = r->libxc_headers_seen ? STATE_LIBXC_RECORDS : STATE_IMAGE_HEADER;
        } else if (rec->type == MIG_LIBXL_END) {
            r->state = STATE_DONE;
        }
    } else if (rec->type == MIG_LIBXC_END) {
        r->state = r->libxc_nested ? STATE_LIBXL_RECORDS : STATE_DONE;
    } else if (rec->type == MIG_LIBXC_CHECKPOINT && r->libxc_nested) {
        r->state = STATE_LIBXL_RECORDS;
    }
    return 0;
}

static int check_trailing(struct mig_stream_reader *r)
{
    const uint8_t *data;
    size_t got;
    int rc;

    if (r->options.flags & MIG_STREAM_READER_ALLOW_TRAILING)
        return 0;
    rc = fetch(r, 1, &data, &got);
    if (rc)
        return rc;
    if (got) {
        uint64_t extra = r->fd < 0 ? r->memory_size - (r->offset - 1) : 1;

        return mig_error_set(MIG_EFORMAT, "%" PRIu64 "%s byte%s of trailing data at offset "
                             "0x%" PRIx64 " after the final END record: the input holds "
                             "more than one stream or is damaged", extra,
                             r->fd < 0 ? "" : " or more", extra == 1 ? "" : "s",
                             r->offset - 1);
    }
    return 0;
}

static int sniff_start(struct mig_stream_reader *r, struct mig_stream_record *rec)
{
    enum mig_stream_format sniffed;
    int rc;

    if (r->fd < 0) {
        /* Memory: look without consuming. */
        if (r->format != MIG_STREAM_FORMAT_UNKNOWN)
            return 0;
        rc = mig_stream_sniff(r->memory, r->memory_size < MIG_STREAM_XL_MAGIC_SIZE ?
                              r->memory_size : MIG_STREAM_XL_MAGIC_SIZE, &sniffed);
        if (rc)
            return rc;
        r->format = sniffed;
        return 0;
    }
    /* fd: the first 8 (or 32) bytes stay in r->head for the header parser. */
    begin_item(r, rec, MIG_STREAM_ITEM_XL_HEADER);
    rc = fetch_head(r, 8, rec);
    if (rc == MIG_ETRUNC)
        return mig_error_set(MIG_ETRUNC, "input is %zu bytes long: too short for any Xen "
                             "stream header", r->head_have);
    if (rc || r->format != MIG_STREAM_FORMAT_UNKNOWN)
        return rc;
    if (!memcmp(r->head, MIG_STREAM_XL_MAGIC, 8)) {
        rc = fetch_head(r, MIG_STREAM_XL_MAGIC_SIZE, rec);
        if (rc)
            return rc;
    }
    rc = mig_stream_sniff(r->head, r->head_have, &sniffed);
    if (rc)
        return rc;
    r->format = sniffed;
    return 0;
}

int mig_stream_read_record(struct mig_stream_reader *r, struct mig_stream_record *rec)
{
    int rc;

    switch (r->state) {
    case STATE_FAILED:
        return mig_error_set(r->failed_code, "%s", r->failed_message);
    case STATE_DONE:
        return 1;
    case STATE_START:
        rc = sniff_start(r, rec);
        if (rc)
            break;
        if (r->format == MIG_STREAM_FORMAT_XL_SAVE)
            rc = read_xl_header(r, rec);
        else if (r->format == MIG_STREAM_FORMAT_LIBXL)
            rc = read_libxl_header(r, rec);
        else
            rc = read_image_header(r, rec);
        break;
    case STATE_AFTER_XL_HEADER:
        if (r->xl_streamv2)
            rc = read_libxl_header(r, rec);
        else
            rc = read_image_header(r, rec);
        break;
    case STATE_LIBXL_RECORDS:
        rc = read_one_record(r, rec, MIG_STREAM_LAYER_LIBXL);
        break;
    case STATE_IMAGE_HEADER:
        rc = read_image_header(r, rec);
        break;
    case STATE_DOMAIN_HEADER:
        rc = read_domain_header(r, rec);
        break;
    case STATE_LIBXC_RECORDS:
        rc = read_one_record(r, rec, MIG_STREAM_LAYER_LIBXC);
        break;
    default:
        rc = mig_error_set(MIG_EINVAL, "stream reader in an impossible state %d", r->state);
        break;
    }
    if (!rc && r->state == STATE_DONE)
        rc = check_trailing(r);
    if (rc) {
        r->failed_code = rc;
        snprintf(r->failed_message, sizeof(r->failed_message), "%s", mig_error_last());
        r->state = STATE_FAILED;
        if (r->options.logger)
            xtl_log(r->options.logger, XTL_ERROR, -1, "xenmig-stream", "%s",
                    r->failed_message);
        return rc;
    }
    r->index++;
    return 0;
}
