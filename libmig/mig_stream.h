/*
 * mig_stream.h: public header of the stream room: codecs for the formats
 * Xen 4.17 writes and reads when it saves or migrates a domain.
 *
 *  - the libxc migration stream v3 (docs/specs/libxc-migration-stream.pandoc):
 *    image header, domain header, records of 8-byte header + body padded to
 *    8 bytes, bodies of at most 128 MiB;
 *  - the libxl migration stream v2 envelope (libxl-migration-stream.pandoc):
 *    "LibxlFmt" header, records of the same shape, one of which
 *    (LIBXC_CONTEXT) is followed by a whole libxc stream;
 *  - the xl save-file header of `xl save` / `xl migrate` (magic, byte order,
 *    flags, optional data holding the domain configuration).
 *
 * One reader walks any of the three, nested as Xen nests them, and hands
 * out one item at a time: a header or a record.  Record bodies are views
 * into the reader's memory (zero-copy: a PAGE_DATA body is read once and
 * never copied again).  One writer produces them.  Every error goes through
 * mig_error_set() and names the item (index and type name), its byte offset
 * and what was wrong.
 *
 * Byte order: Xen only ever writes little-endian streams (x86); the header
 * options bit for big-endian is decoded and refused.  libmig builds on
 * little-endian hosts only (configure checks), so the wire structures below
 * are also the in-memory layout.
 *
 * This header must never expose a reader or writer internals: both are
 * opaque handles.
 */
#ifndef XENMIG_MIG_STREAM_H
#define XENMIG_MIG_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <xentoollog.h>

#include "mig_error.h"
#include "mig_page.h"

/* ---- Format constants (Xen 4.17) ---- */

#define MIG_STREAM_PAGE_SHIFT           12u
#define MIG_STREAM_RECORD_ALIGN         8u
#define MIG_STREAM_RECORD_LENGTH_MAX    (128u << 20)   /* body bytes, REC_LENGTH_MAX */
#define MIG_STREAM_PAGE_DATA_MAX_PFNS   1024u          /* MAX_BATCH_SIZE of libxc restore */
#define MIG_STREAM_RECORD_TYPE_OPTIONAL 0x80000000u    /* libxc: unknown optional records may be skipped */

/* libxc image header */
#define MIG_STREAM_IHDR_MARKER          0xffffffffffffffffull
#define MIG_STREAM_IHDR_ID              0x58454e46u    /* "XENF" */
#define MIG_STREAM_IHDR_VERSION         3u
#define MIG_STREAM_IHDR_OPT_BIG_ENDIAN  0x0001u

/* libxc domain header */
#define MIG_STREAM_DOMAIN_X86_PV        1u
#define MIG_STREAM_DOMAIN_X86_HVM       2u

/* libxc record types */
enum mig_stream_libxc_type {
    MIG_LIBXC_END                       = 0x00,
    MIG_LIBXC_PAGE_DATA                 = 0x01,
    MIG_LIBXC_X86_PV_INFO               = 0x02,
    MIG_LIBXC_X86_PV_P2M_FRAMES         = 0x03,
    MIG_LIBXC_X86_PV_VCPU_BASIC         = 0x04,
    MIG_LIBXC_X86_PV_VCPU_EXTENDED      = 0x05,
    MIG_LIBXC_X86_PV_VCPU_XSAVE         = 0x06,
    MIG_LIBXC_SHARED_INFO               = 0x07,
    MIG_LIBXC_X86_TSC_INFO              = 0x08,
    MIG_LIBXC_HVM_CONTEXT               = 0x09,
    MIG_LIBXC_HVM_PARAMS                = 0x0a,
    MIG_LIBXC_TOOLSTACK                 = 0x0b,
    MIG_LIBXC_X86_PV_VCPU_MSRS          = 0x0c,
    MIG_LIBXC_VERIFY                    = 0x0d,
    MIG_LIBXC_CHECKPOINT                = 0x0e,
    MIG_LIBXC_CHECKPOINT_DIRTY_PFN_LIST = 0x0f,
    MIG_LIBXC_STATIC_DATA_END           = 0x10,
    MIG_LIBXC_X86_CPUID_POLICY          = 0x11,
    MIG_LIBXC_X86_MSR_POLICY            = 0x12,
};

/* PAGE_DATA pfn+type words: bits 0-51 pfn, 52-59 reserved (zero), 60-63 type */
#define MIG_STREAM_PFN_MASK             0x000fffffffffffffull
#define MIG_STREAM_PFN_RESERVED_MASK    0x0ff0000000000000ull
#define MIG_STREAM_PFN_TYPE_SHIFT       60
/* Page types (XEN_DOMCTL_PFINFO_* >> 28) */
#define MIG_STREAM_PAGE_NOTAB           0x0u
#define MIG_STREAM_PAGE_L1TAB           0x1u
#define MIG_STREAM_PAGE_L2TAB           0x2u
#define MIG_STREAM_PAGE_L3TAB           0x3u
#define MIG_STREAM_PAGE_L4TAB           0x4u
#define MIG_STREAM_PAGE_PINNED          0x8u   /* or'ed with L1..L4 */
#define MIG_STREAM_PAGE_BROKEN          0xdu
#define MIG_STREAM_PAGE_XALLOC          0xeu
#define MIG_STREAM_PAGE_XTAB            0xfu

/* libxl stream v2 */
#define MIG_STREAM_LIBXL_IDENT          0x4c6962786c466d74ull  /* "LibxlFmt" */
#define MIG_STREAM_LIBXL_VERSION        2u
#define MIG_STREAM_LIBXL_OPT_BIG_ENDIAN 0x0001u
#define MIG_STREAM_LIBXL_OPT_LEGACY     0x0002u

enum mig_stream_libxl_type {
    MIG_LIBXL_END                    = 0x00,
    MIG_LIBXL_LIBXC_CONTEXT          = 0x01,
    MIG_LIBXL_EMULATOR_XENSTORE_DATA = 0x02,
    MIG_LIBXL_EMULATOR_CONTEXT       = 0x03,
    MIG_LIBXL_CHECKPOINT_END         = 0x04,
    MIG_LIBXL_CHECKPOINT_STATE       = 0x05,
};

#define MIG_STREAM_EMULATOR_UNKNOWN       0u
#define MIG_STREAM_EMULATOR_QEMU_TRAD     1u
#define MIG_STREAM_EMULATOR_QEMU_UPSTREAM 2u

/* xl save-file header */
#define MIG_STREAM_XL_MAGIC             "Xen saved domain, xl format\n \0 \r"
#define MIG_STREAM_XL_MAGIC_SIZE        32u
#define MIG_STREAM_XL_BYTEORDER         0x01020304u
#define MIG_STREAM_XL_FLAG_JSON         0x1u   /* config blob is JSON */
#define MIG_STREAM_XL_FLAG_STREAMV2     0x2u   /* a libxl v2 stream follows */
#define MIG_STREAM_XL_FLAG_COLO         0x4u
#define MIG_STREAM_XL_MANDATORY_KNOWN   0x7u
/* Optional data is read into memory: refuse more than this. */
#define MIG_STREAM_XL_OPTIONAL_DATA_MAX (16u << 20)

/* ---- Formats, layers, items ---- */

enum mig_stream_format {
    MIG_STREAM_FORMAT_UNKNOWN = 0,
    MIG_STREAM_FORMAT_XL_SAVE = 1,   /* xl save file / xl migrate stream */
    MIG_STREAM_FORMAT_LIBXL   = 2,   /* libxl v2 stream */
    MIG_STREAM_FORMAT_LIBXC   = 3,   /* bare libxc v3 stream */
};

/* Which record namespace a record type belongs to. */
enum mig_stream_layer {
    MIG_STREAM_LAYER_LIBXC = 1,
    MIG_STREAM_LAYER_LIBXL = 2,
};

enum mig_stream_item_kind {
    MIG_STREAM_ITEM_XL_HEADER     = 1,
    MIG_STREAM_ITEM_LIBXL_HEADER  = 2,
    MIG_STREAM_ITEM_IMAGE_HEADER  = 3,   /* libxc image header */
    MIG_STREAM_ITEM_DOMAIN_HEADER = 4,   /* libxc domain header */
    MIG_STREAM_ITEM_RECORD        = 5,   /* a libxc or libxl record */
};

struct mig_stream_xl_header {
    uint32_t mandatory_flags;
    uint32_t optional_flags;
    uint32_t optional_data_length;
    /* optional data: config length (4 bytes) + config + any tail */
    const uint8_t *optional_data;     /* view, optional_data_length bytes (the
                                         reader never leaves it NULL) */
    const uint8_t *config;            /* view into optional_data, or NULL */
    uint32_t config_length;
};

struct mig_stream_libxl_header {
    uint32_t version;
    uint32_t options;
};

struct mig_stream_image_header {
    uint32_t version;
    uint16_t options;
};

struct mig_stream_domain_header {
    uint32_t type;            /* MIG_STREAM_DOMAIN_X86_* */
    uint16_t page_shift;
    uint32_t xen_major;
    uint32_t xen_minor;
};

/*
 * One item of a stream, as the reader hands it out.  Views (body,
 * optional_data, config) point into the reader's memory and are valid until
 * the next mig_stream_read_record() or mig_stream_reader_close().
 */
struct mig_stream_record {
    enum mig_stream_item_kind kind;
    uint64_t index;            /* 0-based position among all items */
    uint64_t offset;           /* byte offset of the item in the input */
    uint64_t size;             /* bytes on the wire, header and padding included */
    /* records only */
    enum mig_stream_layer layer;
    uint32_t type;             /* as on the wire, optional bit included */
    uint32_t length;           /* body bytes, padding excluded */
    const uint8_t *body;       /* view, length bytes (NULL if length is 0) */
    /* headers only: the one matching kind is filled in */
    struct mig_stream_xl_header xl;
    struct mig_stream_libxl_header libxl;
    struct mig_stream_image_header image;
    struct mig_stream_domain_header domain;
};

/*
 * "PAGE_DATA", "EMULATOR_CONTEXT", ...; "UNKNOWN" for a type this codec
 * does not know.  The optional bit is ignored.  Never NULL, static storage.
 */
const char *mig_stream_type_name(enum mig_stream_layer layer, uint32_t type);

/* "xl save file", "libxl v2 stream", "libxc v3 stream", "unknown". */
const char *mig_stream_format_name(enum mig_stream_format format);

/*
 * Tell the formats apart from the first bytes of an input (at least 8;
 * 32 are needed to confirm an xl save file).  *format is set to
 * MIG_STREAM_FORMAT_UNKNOWN and MIG_EFORMAT returned (message quoting the
 * first bytes in hex) when none matches; MIG_ETRUNC if size is too short.
 */
int mig_stream_sniff(const void *prefix, size_t size, enum mig_stream_format *format);

/* ---- Reader ---- */

struct mig_stream_reader;

/* Reader flags */
#define MIG_STREAM_READER_ALLOW_TRAILING 0x1u  /* data after the last END is not an error */

struct mig_stream_reader_options {
    unsigned int version;            /* MIG_STREAM_READER_OPTIONS_VERSION */
    unsigned int flags;              /* MIG_STREAM_READER_* */
    enum mig_stream_format format;   /* UNKNOWN: sniff */
    xentoollog_logger *logger;       /* may be NULL: no logging */
};
#define MIG_STREAM_READER_OPTIONS_VERSION 1
#define MIG_STREAM_READER_OPTIONS_INIT { MIG_STREAM_READER_OPTIONS_VERSION, 0, \
                                         MIG_STREAM_FORMAT_UNKNOWN, NULL }

/*
 * Open a reader over a file descriptor (not closed by the reader; reads
 * are blocking and exact) or over memory (not copied; must outlive the
 * reader).  options may be NULL for the defaults.  On success *reader is a
 * new handle owned by the caller (free with mig_stream_reader_close()); on
 * failure *reader is NULL.  Nothing is read until the first
 * mig_stream_read_record().
 */
int mig_stream_reader_open_fd(struct mig_stream_reader **reader, int fd,
                              const struct mig_stream_reader_options *options);
int mig_stream_reader_open_mem(struct mig_stream_reader **reader,
                               const void *data, size_t size,
                               const struct mig_stream_reader_options *options);

/* Free a reader; NULL is ignored. */
void mig_stream_reader_close(struct mig_stream_reader *reader);

/*
 * Read and validate the next item into *record (caller-owned struct; its
 * views are owned by the reader, see struct mig_stream_record).
 * Returns 0 with an item, 1 at the end of the stream (after the outermost
 * END record; *record untouched), or a negative MIG_E* code:
 *   MIG_ETRUNC   input ended inside an item,
 *   MIG_ELIMIT   a length or count over the format's limit,
 *   MIG_EFORMAT  bad marker/id/version/padding/reserved bits/body layout,
 *   MIG_EUNSUPP  unknown mandatory record, big-endian stream, other page size,
 *   MIG_EIO      read(2) failed, MIG_ENOMEM.
 * Known record bodies are validated with mig_stream_decode_body().
 * After an error, further calls return the same error.
 */
int mig_stream_read_record(struct mig_stream_reader *reader,
                           struct mig_stream_record *record);

/* Format detected (valid after the first successful read). */
enum mig_stream_format mig_stream_reader_format(const struct mig_stream_reader *reader);

/* Bytes consumed so far. */
uint64_t mig_stream_reader_offset(const struct mig_stream_reader *reader);

/* ---- Typed record bodies ---- */

/* Wire layouts of array elements (little-endian, as in Xen's headers). */
struct mig_stream_hvm_param {
    uint64_t index;
    uint64_t value;
};

struct mig_stream_cpuid_leaf {   /* xen_cpuid_leaf_t */
    uint32_t leaf, subleaf;
    uint32_t a, b, c, d;
};

struct mig_stream_msr_entry {    /* xen_msr_entry_t */
    uint32_t index;
    uint32_t flags;              /* reserved, zero */
    uint64_t value;
};

/*
 * A decoded record body.  Pointers are views: into the record body after
 * mig_stream_decode_body() (possibly unaligned: read elements with the
 * mig_stream_*_at() accessors), or the caller's arrays when writing with
 * mig_stream_write_body().
 */
struct mig_stream_body {
    enum mig_stream_layer layer;
    uint32_t type;
    union {
        struct {
            uint32_t count;                /* pfn+type words */
            const void *pfn_words;         /* count uint64_t */
            uint32_t data_pages;           /* pages carrying data */
            const void *pages;             /* data_pages * 4096 bytes */
        } page_data;
        struct {
            uint8_t guest_width;           /* 4 or 8 */
            uint8_t pt_levels;             /* 3 or 4 */
        } x86_pv_info;
        struct {
            uint32_t start_pfn, end_pfn;
            uint32_t count;                /* frame words */
            const void *frames;            /* count uint64_t */
        } p2m_frames;
        struct {                           /* X86_PV_VCPU_{BASIC,EXTENDED,XSAVE,MSRS} */
            uint32_t vcpu_id;
            uint32_t context_length;
            const void *context;
        } vcpu;
        struct {
            uint32_t mode, khz;
            uint64_t nsec;
            uint32_t incarnation;
        } tsc_info;
        struct {
            uint32_t count;
            const void *entries;           /* count struct mig_stream_hvm_param */
        } hvm_params;
        struct {
            uint32_t count;
            const void *leaves;            /* count struct mig_stream_cpuid_leaf */
        } cpuid_policy;
        struct {
            uint32_t count;
            const void *entries;           /* count struct mig_stream_msr_entry */
        } msr_policy;
        struct {
            uint32_t count;
            const void *pfns;              /* count uint64_t */
        } pfn_list;                        /* CHECKPOINT_DIRTY_PFN_LIST */
        struct {                           /* EMULATOR_XENSTORE_DATA / _CONTEXT */
            uint32_t emulator_id;
            uint32_t index;
            uint32_t data_length;
            const void *data;
        } emulator;
        struct {                           /* SHARED_INFO, HVM_CONTEXT, TOOLSTACK,
                                              CHECKPOINT_STATE, unknown optional */
            uint32_t length;
            const void *data;
        } blob;
    } u;
};

/*
 * Decode and validate a record's body (layer/type from the record).
 * *body is caller-owned; its views point into record->body.  Records with
 * an empty body (END, VERIFY, ...) decode to nothing but are checked to be
 * empty.  Errors name the record as the reader does.  Returns 0 or
 * MIG_EFORMAT / MIG_ELIMIT / MIG_EUNSUPP.
 */
int mig_stream_decode_body(const struct mig_stream_record *record,
                           struct mig_stream_body *body);

/* PAGE_DATA: pfn (bits 0-51) and type (bits 60-63) of word i. */
uint64_t mig_stream_page_data_word(const struct mig_stream_body *body, uint32_t i);
static inline uint64_t mig_stream_word_pfn(uint64_t word) { return word & MIG_STREAM_PFN_MASK; }
static inline unsigned int mig_stream_word_type(uint64_t word)
{
    return (unsigned int)(word >> MIG_STREAM_PFN_TYPE_SHIFT);
}
/* Does a page of this type carry 4096 bytes of data in PAGE_DATA? */
int mig_stream_page_type_has_data(unsigned int type);
/* "NOTAB", "L1TAB", "PINNED_L2TAB", "XTAB", ...; "INVALID" for 5..8. */
const char *mig_stream_page_type_name(unsigned int type);

/* Element accessors (copy out; safe on unaligned views). */
uint64_t mig_stream_u64_at(const void *array, uint32_t i);
struct mig_stream_hvm_param mig_stream_hvm_param_at(const void *entries, uint32_t i);
struct mig_stream_cpuid_leaf mig_stream_cpuid_leaf_at(const void *leaves, uint32_t i);
struct mig_stream_msr_entry mig_stream_msr_entry_at(const void *entries, uint32_t i);

/* ---- Writer ---- */

struct mig_stream_writer;

/*
 * Open a writer on a file descriptor (not closed by the writer; writes are
 * exact, retried on EINTR/short writes) or on a growable memory buffer.
 * *writer is a new handle owned by the caller (mig_stream_writer_close());
 * NULL on failure.  logger may be NULL.
 */
int mig_stream_writer_open_fd(struct mig_stream_writer **writer, int fd,
                              xentoollog_logger *logger);
int mig_stream_writer_open_buffer(struct mig_stream_writer **writer,
                                  xentoollog_logger *logger);

/*
 * Memory writer: *data and *size describe everything written so far.  The
 * buffer stays owned by the writer (valid until the next write or close).
 * MIG_EINVAL on an fd writer.
 */
int mig_stream_writer_buffer(const struct mig_stream_writer *writer,
                             const uint8_t **data, size_t *size);

/* Bytes written so far. */
uint64_t mig_stream_writer_offset(const struct mig_stream_writer *writer);

/* Free a writer (the fd stays open); NULL is ignored. */
void mig_stream_writer_close(struct mig_stream_writer *writer);

/*
 * Headers.  The xl header writes its optional data from header->
 * optional_data if non-NULL (optional_data_length bytes, as read), else it
 * builds it from config/config_length (4-byte length + config), as xl does.
 */
int mig_stream_write_xl_header(struct mig_stream_writer *writer,
                               const struct mig_stream_xl_header *header);
int mig_stream_write_libxl_header(struct mig_stream_writer *writer,
                                  const struct mig_stream_libxl_header *header);
int mig_stream_write_image_header(struct mig_stream_writer *writer,
                                  const struct mig_stream_image_header *header);
int mig_stream_write_domain_header(struct mig_stream_writer *writer,
                                   const struct mig_stream_domain_header *header);

/*
 * One record from a body given as iovecs (total at most 128 MiB), written
 * with the record header and zero padding in one writev() sequence: the
 * body is not copied on an fd writer.
 */
int mig_stream_write_record_iov(struct mig_stream_writer *writer,
                                enum mig_stream_layer layer, uint32_t type,
                                const struct iovec *iov, unsigned int iov_count);

/* Same, with one contiguous body (NULL if length is 0). */
int mig_stream_write_record(struct mig_stream_writer *writer,
                            enum mig_stream_layer layer, uint32_t type,
                            const void *body, uint32_t length);

/*
 * PAGE_DATA: count pfn+type words (1..1024; little-endian uint64_t, may be
 * unaligned) and one iovec per page that
 * carries data (each exactly 4096 bytes, in word order).  The number of
 * pages must match the types of the words.  Pages are written with
 * writev(), never copied on an fd writer.
 */
int mig_stream_write_page_data(struct mig_stream_writer *writer,
                               const void *pfn_words, uint32_t count,
                               const struct iovec *pages, uint32_t page_count);

/*
 * PAGE_DATA of count pfn+type words (1..1024, every type one that carries
 * data), whose pages are the count * 4096 bytes of data_fd from
 * data_offset, one after another in word order.  On an fd writer whose fd
 * is a pipe the pages are moved with splice(): the kernel hands the file's
 * cached pages to the pipe, never through this process's memory; else
 * (another descriptor, a memory writer, a file system splice cannot read)
 * they are read with pread() and written.  data_fd is not closed or moved
 * (its offset is not used); a file too short to hold the pages is
 * MIG_EIO, as is a failed write, after which the stream is broken.
 */
int mig_stream_write_page_data_from_fd(struct mig_stream_writer *writer,
                                       const void *pfn_words, uint32_t count,
                                       int data_fd, uint64_t data_offset);

/* Encode a typed body (see struct mig_stream_body) and write it. */
int mig_stream_write_body(struct mig_stream_writer *writer,
                          const struct mig_stream_body *body);

/*
 * Write an item as read (header or record), so that read + write
 * reproduces the input byte for byte.
 */
int mig_stream_write_item(struct mig_stream_writer *writer,
                          const struct mig_stream_record *record);

#endif /* XENMIG_MIG_STREAM_H */
