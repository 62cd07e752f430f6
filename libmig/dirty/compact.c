/*
 * compact.c: the compacted encoding of a dirty set (encoder and decoder).
 *
 * What it is for: at switchover the source sends the final dirty set, and
 * the receiver checks that every pfn in it arrived.  A 1 TiB guest has a
 * 32 MiB bitmap; the set is usually far smaller, so it is sent compacted.
 * What it must never do: trust a byte of its input (every length, index and
 * count is checked before use, every error names the byte offset), or
 * produce an encoding larger than mig_dirty_compact_bound().
 *
 * ======================================================================
 * Compacted dirty set, version 1
 * ======================================================================
 *
 * All integers are little-endian.  The pfn space [0, nr_pfns) is cut into
 * regions of 2^15 pfns (the last one may be shorter).  Region r covers
 * pfns [r * 2^15, min((r + 1) * 2^15, nr_pfns)).
 *
 * Why 2^15: a region's raw bitmap chunk is 4096 bytes (one page), so the
 * 5-byte record header costs at most 0.12% over the raw bitmap, while a
 * sparse set pays 5 bytes per touched 128 MiB of guest memory.  A 1 TiB
 * guest has 8192 regions; the 2^40-pfn maximum has 2^25, which fits the
 * 32-bit region index.
 *
 * Header (32 bytes):
 *
 *   offset size field
 *   ------ ---- -----------------------------------------------------------
 *        0    4 magic: the bytes "XMDS" (0x58 0x4d 0x44 0x53)
 *        4    1 version: 1
 *        5    1 region_shift: 15 (log2 of the pfns per region)
 *        6    2 reserved: 0
 *        8    8 nr_pfns: size of the pfn space, 1 .. 2^40
 *       16    8 nr_dirty: number of pfns in the set
 *       24    4 nr_records: number of region records that follow
 *       28    4 reserved: 0
 *
 * Then nr_records region records, in strictly increasing region order (so
 * no region appears twice), and nothing after the last one.  A region with
 * no dirty pfn has no record.
 *
 * Region record:
 *
 *   offset size field
 *   ------ ---- -----------------------------------------------------------
 *        0    1 type: 1 = EXTENTS, 2 = BITMAP
 *        1    4 region: index r, < ceil(nr_pfns / 2^15)
 *        5    -  body, by type:
 *
 *   EXTENTS body: varint nr_extents (>= 1), then per extent
 *                 varint gap, varint length_minus_1.
 *                 The first extent starts at pfn offset `gap` in the region,
 *                 each later one at `previous end + 1 + gap` (so extents are
 *                 disjoint, ordered, never adjacent: a run is one extent).
 *                 An extent is [start, start + length_minus_1 + 1) and must
 *                 end inside the region.
 *   BITMAP body:  ceil(region_pfns / 64) 64-bit words; bit i of word j is
 *                 pfn offset 64 * j + i.  At least one bit is set, and bits
 *                 past the end of the region are zero.
 *
 *   varint: unsigned LEB128 (7 bits per byte, low group first, high bit
 *   means "more"), at most 3 bytes; every value is < 2^15.
 *
 * The encoder writes EXTENTS when its body is strictly smaller than the
 * BITMAP body of the region, BITMAP otherwise.  Each record is thus at most
 * 5 bytes + the region's raw chunk, and a whole encoding is at most
 *   32 + 5 * nr_regions + 8 * ceil(nr_pfns / 64)   bytes.
 *
 * A decoder rejects: a short header or record (truncated), other magic,
 * other version or region shift, non-zero reserved fields, nr_pfns of 0 or
 * above 2^40, more records than regions, an unknown type, a region index
 * not above the previous one or past the last region, an EXTENTS record
 * with 0 extents, an extent past the end of its region, a varint longer
 * than 3 bytes or >= 2^15, an empty BITMAP record or one with bits past
 * the region, bytes after the last record, and an nr_dirty that differs
 * from the number of pfns the records hold.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dirty_private.h"
#include "mig_error.h"
#include "util/le.h"

#define COMPACT_MAGIC "XMDS"
#define REGION_PFNS (UINT64_C(1) << MIG_DIRTY_COMPACT_REGION_SHIFT)
#define REGION_WORDS (REGION_PFNS / DIRTY_BITS_PER_WORD)
#define RECORD_EXTENTS 1
#define RECORD_BITMAP 2
#define VARINT_MAX_BYTES 3

static uint64_t nr_regions_for(uint64_t nr_pfns)
{
    return (nr_pfns + REGION_PFNS - 1) >> MIG_DIRTY_COMPACT_REGION_SHIFT;
}

size_t mig_dirty_compact_bound(uint64_t nr_pfns)
{
    return MIG_DIRTY_COMPACT_HEADER_SIZE +
           MIG_DIRTY_COMPACT_REGION_HEADER_SIZE * nr_regions_for(nr_pfns) +
           dirty_words_for(nr_pfns) * sizeof(uint64_t);
}

/* ---------------------------------------------------------------- encoder */

static size_t varint_size(uint64_t v)
{
    return v < 0x80 ? 1 : v < 0x4000 ? 2 : 3;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/*
 * Number of runs of set bits in words[0..n), counting a run that crosses
 * a word boundary once: a run starts at each set bit whose lower neighbour
 * is clear.
 */
static uint64_t count_runs(const uint64_t *words, size_t n)
{
    uint64_t runs = 0, carry = 0, w;
    size_t i;

    for (i = 0; i < n; i++) {
        w = words[i];
        runs += (uint64_t)__builtin_popcountll(w & ~((w << 1) | carry));
        carry = w >> 63;
    }
    return runs;
}

/*
 * Write the EXTENTS body of the region [start, end) at p, which has room
 * for at least limit bytes.  Returns the body size, or 0 when it would
 * reach limit bytes (the caller then writes a BITMAP record).
 */
static size_t encode_extents(const struct mig_dirty_bitmap *bitmap,
                             uint64_t start, uint64_t end, uint64_t nr_runs,
                             uint8_t *p, size_t limit)
{
    uint8_t *body = p;
    uint64_t pos = start, run_start, run_end, gap;
    int first = 1;

    if (varint_size(nr_runs) >= limit)
        return 0;
    p = put_varint(p, nr_runs);
    for (;;) {
        run_start = dirty_find_next(bitmap, pos, end, 1);
        if (run_start >= end)
            break;
        run_end = dirty_find_next(bitmap, run_start, end, 0);
        gap = first ? run_start - start : run_start - pos - 1;
        if ((size_t)(p - body) + varint_size(gap) +
            varint_size(run_end - run_start - 1) >= limit)
            return 0;
        p = put_varint(p, gap);
        p = put_varint(p, run_end - run_start - 1);
        first = 0;
        pos = run_end;
    }
    return (size_t)(p - body);
}

int mig_dirty_compact_encode(const struct mig_dirty_bitmap *bitmap,
                             void **out_buf, size_t *out_len)
{
    size_t bound = mig_dirty_compact_bound(bitmap->nr_pfns);
    uint64_t nr_regions = nr_regions_for(bitmap->nr_pfns);
    uint64_t region, nr_dirty = 0, region_dirty, start, end, nr_runs;
    uint32_t nr_records = 0;
    size_t first_word, nr_words, body, bitmap_bytes, used, i;
    uint8_t *buf, *p, *shrunk;
    int rc;

    buf = malloc(bound);
    if (!buf) {
        rc = mig_error_set(MIG_ENOMEM, "compact dirty set: cannot allocate "
                           "%zu bytes", bound);
        goto out;
    }
    p = buf + MIG_DIRTY_COMPACT_HEADER_SIZE;
    for (region = 0; region < nr_regions; region++) {
        start = region * REGION_PFNS;
        end = start + REGION_PFNS < bitmap->nr_pfns ? start + REGION_PFNS
                                                    : bitmap->nr_pfns;
        first_word = (size_t)(start / DIRTY_BITS_PER_WORD);
        nr_words = dirty_words_for(end - start);
        region_dirty = 0;
        for (i = 0; i < nr_words; i++)
            region_dirty += (uint64_t)
                __builtin_popcountll(bitmap->words[first_word + i]);
        if (!region_dirty)
            continue;
        nr_dirty += region_dirty;
        nr_records++;
        bitmap_bytes = nr_words * sizeof(uint64_t);
        mig_le32_store(p + 1, (uint32_t)region);
        nr_runs = count_runs(bitmap->words + first_word, nr_words);
        /* each extent costs at least two bytes */
        body = 2 * nr_runs + 1 < bitmap_bytes
               ? encode_extents(bitmap, start, end, nr_runs,
                                p + MIG_DIRTY_COMPACT_REGION_HEADER_SIZE,
                                bitmap_bytes)
               : 0;
        if (body) {
            p[0] = RECORD_EXTENTS;
        } else {
            p[0] = RECORD_BITMAP;
            for (i = 0; i < nr_words; i++)
                mig_le64_store(p + MIG_DIRTY_COMPACT_REGION_HEADER_SIZE + 8 * i,
                               bitmap->words[first_word + i]);
            body = bitmap_bytes;
        }
        p += MIG_DIRTY_COMPACT_REGION_HEADER_SIZE + body;
    }

    memcpy(buf, COMPACT_MAGIC, 4);
    buf[4] = MIG_DIRTY_COMPACT_VERSION;
    buf[5] = MIG_DIRTY_COMPACT_REGION_SHIFT;
    mig_le16_store(buf + 6, 0);
    mig_le64_store(buf + 8, bitmap->nr_pfns);
    mig_le64_store(buf + 16, nr_dirty);
    mig_le32_store(buf + 24, nr_records);
    mig_le32_store(buf + 28, 0);

    /* Give back the unused tail of the bound-sized buffer. */
    used = (size_t)(p - buf);
    shrunk = realloc(buf, used);
    *out_buf = shrunk ? shrunk : buf;
    *out_len = used;
    rc = MIG_OK;
 out:
    return rc;
}

/* ---------------------------------------------------------------- decoder */

struct compact_header {
    uint64_t nr_pfns;
    uint64_t nr_dirty;
    uint32_t nr_records;
};

static int parse_header(const uint8_t *buf, size_t len,
                        struct compact_header *header)
{
    if (len < MIG_DIRTY_COMPACT_HEADER_SIZE)
        return mig_error_set(MIG_ETRUNC, "compact dirty set: %zu bytes, "
                             "shorter than its %d-byte header; the input was "
                             "cut short", len, MIG_DIRTY_COMPACT_HEADER_SIZE);
    if (memcmp(buf, COMPACT_MAGIC, 4) != 0)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: bad magic "
                             "%02x %02x %02x %02x at offset 0 (expected "
                             "\"XMDS\"): this is not a compacted dirty set",
                             buf[0], buf[1], buf[2], buf[3]);
    if (buf[4] != MIG_DIRTY_COMPACT_VERSION)
        return mig_error_set(MIG_EUNSUPP, "compact dirty set: version %u at "
                             "offset 4 is not supported (this build reads "
                             "version %d); upgrade xenmig on this side",
                             buf[4], MIG_DIRTY_COMPACT_VERSION);
    if (buf[5] != MIG_DIRTY_COMPACT_REGION_SHIFT)
        return mig_error_set(MIG_EUNSUPP, "compact dirty set: region shift "
                             "%u at offset 5 is not supported (expected %d)",
                             buf[5], MIG_DIRTY_COMPACT_REGION_SHIFT);
    if (mig_le16_load(buf + 6) != 0 || mig_le32_load(buf + 28) != 0)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: reserved "
                             "header field at offset %d is not zero",
                             mig_le16_load(buf + 6) != 0 ? 6 : 28);
    header->nr_pfns = mig_le64_load(buf + 8);
    header->nr_dirty = mig_le64_load(buf + 16);
    header->nr_records = mig_le32_load(buf + 24);
    if (header->nr_pfns == 0)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: nr_pfns 0 at "
                             "offset 8: a pfn space has at least one pfn");
    if (header->nr_pfns > MIG_DIRTY_MAX_PFNS)
        return mig_error_set(MIG_ELIMIT, "compact dirty set: nr_pfns %"
                             PRIu64 " at offset 8 is above the limit of %"
                             PRIu64, header->nr_pfns, MIG_DIRTY_MAX_PFNS);
    if (header->nr_dirty > header->nr_pfns)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: nr_dirty %"
                             PRIu64 " at offset 16 is above nr_pfns %" PRIu64,
                             header->nr_dirty, header->nr_pfns);
    if (header->nr_records > nr_regions_for(header->nr_pfns))
        return mig_error_set(MIG_EFORMAT, "compact dirty set: nr_records %"
                             PRIu32 " at offset 24 is above the %" PRIu64
                             " regions of %" PRIu64 " pfns",
                             header->nr_records,
                             nr_regions_for(header->nr_pfns), header->nr_pfns);
    return MIG_OK;
}

int mig_dirty_compact_peek_nr_pfns(const void *buf, size_t len,
                                   uint64_t *nr_pfns)
{
    struct compact_header header;
    int rc;

    rc = parse_header(buf, len, &header);
    if (rc)
        return rc;
    *nr_pfns = header.nr_pfns;
    return MIG_OK;
}

/*
 * Read one varint at *offset; advances *offset.  Errors name the record
 * (its index and the offset where it starts).
 */
static int get_varint(const uint8_t *buf, size_t len, size_t *offset,
                      uint32_t record, size_t record_offset, uint64_t *value)
{
    uint64_t v = 0;
    size_t start = *offset;
    unsigned shift = 0, i;

    for (i = 0; i < VARINT_MAX_BYTES; i++) {
        if (start + i >= len)
            return mig_error_set(MIG_ETRUNC, "compact dirty set: record %"
                                 PRIu32 " (offset %zu): input ends inside "
                                 "the varint at offset %zu", record,
                                 record_offset, start);
        v |= (uint64_t)(buf[start + i] & 0x7f) << shift;
        shift += 7;
        if (!(buf[start + i] & 0x80))
            break;
    }
    if (i == VARINT_MAX_BYTES)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: record %" PRIu32
                             " (offset %zu): varint at offset %zu is longer "
                             "than %d bytes", record, record_offset, start,
                             VARINT_MAX_BYTES);
    if (v >= REGION_PFNS)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: record %" PRIu32
                             " (offset %zu): varint %" PRIu64 " at offset %zu "
                             "is not below the region size %" PRIu64, record,
                             record_offset, v, start, REGION_PFNS);
    *offset = start + i + 1;
    *value = v;
    return MIG_OK;
}

static int decode_extents(const uint8_t *buf, size_t len, size_t *offset,
                          uint32_t record, size_t record_offset,
                          uint64_t region_start, uint64_t region_pfns,
                          struct mig_dirty_bitmap *bitmap, uint64_t *decoded)
{
    uint64_t nr_extents, gap, length_minus_1, pos = 0, start, i;
    int rc;

    rc = get_varint(buf, len, offset, record, record_offset, &nr_extents);
    if (rc)
        return rc;
    if (nr_extents == 0)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: record %" PRIu32
                             " (offset %zu) has 0 extents; an empty region "
                             "has no record", record, record_offset);
    for (i = 0; i < nr_extents; i++) {
        rc = get_varint(buf, len, offset, record, record_offset, &gap);
        if (rc)
            return rc;
        rc = get_varint(buf, len, offset, record, record_offset,
                        &length_minus_1);
        if (rc)
            return rc;
        start = i == 0 ? gap : pos + 1 + gap;
        /* start, gap, length < 2^15 and pos <= 2^15: no overflow */
        if (start + length_minus_1 + 1 > region_pfns)
            return mig_error_set(MIG_EFORMAT, "compact dirty set: record %"
                                 PRIu32 " (offset %zu): extent %" PRIu64
                                 " [%" PRIu64 ", +%" PRIu64 ") runs past the "
                                 "end of its region of %" PRIu64 " pfns",
                                 record, record_offset, i, start,
                                 length_minus_1 + 1, region_pfns);
        mig_dirty_bitmap_set_range(bitmap, region_start + start,
                                   length_minus_1 + 1);
        *decoded += length_minus_1 + 1;
        pos = start + length_minus_1 + 1;
    }
    return MIG_OK;
}

static int decode_bitmap_chunk(const uint8_t *buf, size_t len, size_t *offset,
                               uint32_t record, size_t record_offset,
                               uint64_t region_start, uint64_t region_pfns,
                               struct mig_dirty_bitmap *bitmap,
                               uint64_t *decoded)
{
    size_t nr_words = dirty_words_for(region_pfns);
    size_t first_word = (size_t)(region_start / DIRTY_BITS_PER_WORD);
    uint64_t word, chunk_dirty = 0, tail_mask = 0;
    size_t i;

    if (len - *offset < nr_words * sizeof(uint64_t))
        return mig_error_set(MIG_ETRUNC, "compact dirty set: record %" PRIu32
                             " (offset %zu): BITMAP body needs %zu bytes, "
                             "only %zu left", record, record_offset,
                             nr_words * sizeof(uint64_t), len - *offset);
    if (region_pfns % DIRTY_BITS_PER_WORD)
        tail_mask = ~UINT64_C(0) << (region_pfns % DIRTY_BITS_PER_WORD);
    for (i = 0; i < nr_words; i++) {
        word = mig_le64_load(buf + *offset + 8 * i);
        if (i == nr_words - 1 && (word & tail_mask))
            return mig_error_set(MIG_EFORMAT, "compact dirty set: record %"
                                 PRIu32 " (offset %zu): BITMAP has bits set "
                                 "past the end of the pfn space (word at "
                                 "offset %zu)", record, record_offset,
                                 *offset + 8 * i);
        bitmap->words[first_word + i] = word;
        chunk_dirty += (uint64_t)__builtin_popcountll(word);
    }
    if (!chunk_dirty)
        return mig_error_set(MIG_EFORMAT, "compact dirty set: record %" PRIu32
                             " (offset %zu): BITMAP has no bit set; an empty "
                             "region has no record", record, record_offset);
    *offset += nr_words * sizeof(uint64_t);
    *decoded += chunk_dirty;
    return MIG_OK;
}

int mig_dirty_compact_decode(const void *input, size_t len,
                             struct mig_dirty_bitmap *bitmap)
{
    const uint8_t *buf = input;
    struct compact_header header;
    uint64_t nr_regions, region, region_start, region_pfns, decoded = 0;
    int64_t previous_region = -1;
    size_t offset, record_offset;
    uint32_t record;
    int rc;

    rc = parse_header(buf, len, &header);
    if (rc)
        goto out;
    if (header.nr_pfns != bitmap->nr_pfns) {
        rc = mig_error_set(MIG_EINVAL, "compact dirty set of %" PRIu64
                           " pfns cannot be decoded into a bitmap of %" PRIu64
                           " pfns: size the bitmap with "
                           "mig_dirty_compact_peek_nr_pfns()",
                           header.nr_pfns, bitmap->nr_pfns);
        goto out;
    }
    mig_dirty_bitmap_clear_all(bitmap);
    nr_regions = nr_regions_for(header.nr_pfns);
    offset = MIG_DIRTY_COMPACT_HEADER_SIZE;
    for (record = 0; record < header.nr_records; record++) {
        record_offset = offset;
        if (len - offset < MIG_DIRTY_COMPACT_REGION_HEADER_SIZE) {
            rc = mig_error_set(MIG_ETRUNC, "compact dirty set: record %"
                               PRIu32 " of %" PRIu32 " at offset %zu: input "
                               "ends inside the record header", record,
                               header.nr_records, offset);
            goto out;
        }
        region = mig_le32_load(buf + offset + 1);
        if ((int64_t)region <= previous_region) {
            rc = mig_error_set(MIG_EFORMAT, "compact dirty set: record %"
                               PRIu32 " at offset %zu: region %" PRIu64
                               " does not follow region %" PRId64 " (regions "
                               "must be in strictly increasing order)", record,
                               offset, region, previous_region);
            goto out;
        }
        if (region >= nr_regions) {
            rc = mig_error_set(MIG_EFORMAT, "compact dirty set: record %"
                               PRIu32 " at offset %zu: region %" PRIu64
                               " is past the last region %" PRIu64 " of %"
                               PRIu64 " pfns", record, offset, region,
                               nr_regions - 1, header.nr_pfns);
            goto out;
        }
        previous_region = (int64_t)region;
        region_start = region * REGION_PFNS;
        region_pfns = header.nr_pfns - region_start < REGION_PFNS
                      ? header.nr_pfns - region_start : REGION_PFNS;
        switch (buf[offset]) {
        case RECORD_EXTENTS:
            offset += MIG_DIRTY_COMPACT_REGION_HEADER_SIZE;
            rc = decode_extents(buf, len, &offset, record, record_offset,
                                region_start, region_pfns, bitmap, &decoded);
            break;
        case RECORD_BITMAP:
            offset += MIG_DIRTY_COMPACT_REGION_HEADER_SIZE;
            rc = decode_bitmap_chunk(buf, len, &offset, record, record_offset,
                                     region_start, region_pfns, bitmap,
                                     &decoded);
            break;
        default:
            rc = mig_error_set(MIG_EFORMAT, "compact dirty set: record %"
                               PRIu32 " at offset %zu: unknown type %u "
                               "(expected 1 EXTENTS or 2 BITMAP)", record,
                               offset, buf[offset]);
            break;
        }
        if (rc)
            goto out;
    }
    if (offset != len) {
        rc = mig_error_set(MIG_EFORMAT, "compact dirty set: %zu bytes after "
                           "the last record (offset %zu); the header says %"
                           PRIu32 " records", len - offset, offset,
                           header.nr_records);
        goto out;
    }
    if (decoded != header.nr_dirty) {
        rc = mig_error_set(MIG_EFORMAT, "compact dirty set: header (offset "
                           "16) says %" PRIu64 " dirty pfns, the records hold "
                           "%" PRIu64, header.nr_dirty, decoded);
        goto out;
    }
    rc = MIG_OK;
 out:
    return rc;
}
