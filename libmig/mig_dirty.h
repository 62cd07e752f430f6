/*
 * mig_dirty.h: dirty sets of the xenmig engine (room libmig/dirty).
 *
 * A struct mig_dirty_bitmap is one bit per guest pfn, 64-bit words, sized
 * in pfns when it is created (1 .. MIG_DIRTY_MAX_PFNS).  Writers may set
 * bits from several threads at once with the *_atomic calls while one
 * harvester moves them out with mig_dirty_bitmap_harvest(), which swaps
 * each word with zero atomically, so a bit set concurrently is either in
 * this harvest or left for the next one, never lost.  The plain calls are
 * for a bitmap only one thread touches.
 *
 * The compacted encoding (spec: libmig/dirty/compact.c) is the byte form of
 * a dirty set sent at switchover: per region of 2^15 pfns an extent list or
 * a raw bitmap chunk, whichever is smaller; empty regions are skipped.
 *
 * Errors: negative MIG_E* codes with the message in mig_error_last().
 */
#ifndef XENMIG_MIG_DIRTY_H
#define XENMIG_MIG_DIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest bitmap: 2^40 pfns (4 PiB of 4 KiB pages). */
#define MIG_DIRTY_MAX_PFNS (UINT64_C(1) << 40)

struct mig_dirty_bitmap;

/*
 * Create a bitmap of nr_pfns bits, all clear, in *out.  The caller owns
 * *out and releases it with mig_dirty_bitmap_free().  Fails with MIG_EINVAL
 * for nr_pfns == 0, MIG_ELIMIT above MIG_DIRTY_MAX_PFNS, MIG_ENOMEM when
 * the nr_pfns/8 bytes cannot be allocated; *out is untouched on failure.
 */
int mig_dirty_bitmap_create(uint64_t nr_pfns, struct mig_dirty_bitmap **out);

/* Release a bitmap; NULL is accepted. */
void mig_dirty_bitmap_free(struct mig_dirty_bitmap *bitmap);

/* Number of pfns (bits) the bitmap covers. */
uint64_t mig_dirty_bitmap_nr_pfns(const struct mig_dirty_bitmap *bitmap);

/*
 * Set, clear or test one pfn.  set/clear return 0, or MIG_EINVAL (with a
 * message quoting the pfn) when pfn >= nr_pfns.  test returns false for a
 * pfn out of range.  The plain variants are not thread-safe; the _atomic
 * ones may race with each other and with mig_dirty_bitmap_harvest().
 */
int mig_dirty_bitmap_set(struct mig_dirty_bitmap *bitmap, uint64_t pfn);
int mig_dirty_bitmap_clear(struct mig_dirty_bitmap *bitmap, uint64_t pfn);
bool mig_dirty_bitmap_test(const struct mig_dirty_bitmap *bitmap, uint64_t pfn);
int mig_dirty_bitmap_set_atomic(struct mig_dirty_bitmap *bitmap, uint64_t pfn);
int mig_dirty_bitmap_clear_atomic(struct mig_dirty_bitmap *bitmap, uint64_t pfn);
bool mig_dirty_bitmap_test_atomic(const struct mig_dirty_bitmap *bitmap,
                                  uint64_t pfn);

/*
 * Set every pfn in [start, start + count).  Returns 0, or MIG_EINVAL when
 * the range does not fit in the bitmap (nothing is set then).  Not
 * thread-safe.
 */
int mig_dirty_bitmap_set_range(struct mig_dirty_bitmap *bitmap,
                               uint64_t start, uint64_t count);

/* Clear every bit.  Not thread-safe. */
void mig_dirty_bitmap_clear_all(struct mig_dirty_bitmap *bitmap);

/* Number of set bits (popcount over all words). */
uint64_t mig_dirty_bitmap_count(const struct mig_dirty_bitmap *bitmap);

/*
 * The first set pfn >= from, or nr_pfns when there is none (also when
 * from >= nr_pfns).  Cursor idiom:
 *     for (p = next(b, 0); p < n; p = next(b, p + 1)) ...
 */
uint64_t mig_dirty_bitmap_next_set(const struct mig_dirty_bitmap *bitmap,
                                   uint64_t from);

/*
 * Call fn once per maximal run of set bits, in increasing pfn order, with
 * the run's first pfn and length.  If fn returns non-zero the walk stops
 * and that value is returned; otherwise returns 0.
 */
typedef int mig_dirty_run_fn(uint64_t start, uint64_t length, void *opaque);
int mig_dirty_bitmap_for_each_run(const struct mig_dirty_bitmap *bitmap,
                                  mig_dirty_run_fn *fn, void *opaque);

/*
 * Harvest: atomically swap every word of src with zero and OR what was in
 * it into dst (dst accumulates; clear it first for a fresh set).  Bits set
 * in src concurrently by mig_dirty_bitmap_set_atomic() are never lost.
 * dst must not be touched by other threads meanwhile.  If harvested is not
 * NULL, *harvested is the number of bits taken out of src.  Returns 0, or
 * MIG_EINVAL when the sizes differ (nothing moved then).
 */
int mig_dirty_bitmap_harvest(struct mig_dirty_bitmap *src,
                             struct mig_dirty_bitmap *dst,
                             uint64_t *harvested);

/*
 * As mig_dirty_bitmap_harvest(), for the pfns [start, start + count) only
 * (bits outside the range stay in src, untouched).  Returns MIG_EINVAL when
 * the sizes differ or the range does not fit.
 */
int mig_dirty_bitmap_harvest_range(struct mig_dirty_bitmap *src,
                                   struct mig_dirty_bitmap *dst,
                                   uint64_t start, uint64_t count,
                                   uint64_t *harvested);

/*
 * dst |= src.  Returns 0, or MIG_EINVAL when the sizes differ.  Not
 * thread-safe for dst; src is only read.
 */
int mig_dirty_bitmap_merge(struct mig_dirty_bitmap *dst,
                           const struct mig_dirty_bitmap *src);

/* true when both bitmaps have the same size and the same bits. */
bool mig_dirty_bitmap_equal(const struct mig_dirty_bitmap *a,
                            const struct mig_dirty_bitmap *b);

/*
 * The words of the bitmap, little-endian bit order (pfn p is bit p % 64 of
 * word p / 64); bits past nr_pfns in the last word are always zero.
 * *nr_words receives the count.  The storage stays owned by the bitmap and
 * is valid until it is freed; read-only for the caller.
 */
const uint64_t *mig_dirty_bitmap_words(const struct mig_dirty_bitmap *bitmap,
                                       size_t *nr_words);

/* ---- compacted encoding (format spec at the top of dirty/compact.c) ---- */

#define MIG_DIRTY_COMPACT_VERSION 1
#define MIG_DIRTY_COMPACT_REGION_SHIFT 15           /* pfns per region: 2^15 */
#define MIG_DIRTY_COMPACT_HEADER_SIZE 32
#define MIG_DIRTY_COMPACT_REGION_HEADER_SIZE 5

/*
 * The largest encoding of a bitmap of nr_pfns bits: the raw bitmap
 * (whole 64-bit words) plus the file header plus one region header per
 * region.  Every encoding is at most this long.
 */
size_t mig_dirty_compact_bound(uint64_t nr_pfns);

/*
 * Encode bitmap into a newly allocated buffer *out_buf of *out_len bytes.
 * The caller owns *out_buf and releases it with free().  Returns 0, or
 * MIG_ENOMEM (out-parameters untouched then).
 */
int mig_dirty_compact_encode(const struct mig_dirty_bitmap *bitmap,
                             void **out_buf, size_t *out_len);

/*
 * Read the nr_pfns field of an encoding after checking its magic, version
 * and header fields, so that a receiver can size the bitmap to decode into.
 * Same errors as mig_dirty_compact_decode() for the header.
 */
int mig_dirty_compact_peek_nr_pfns(const void *buf, size_t len,
                                   uint64_t *nr_pfns);

/*
 * Decode buf[0..len) into bitmap, whose size must equal the encoded nr_pfns.
 * The bitmap is cleared first and receives exactly the encoded set.  The
 * input is never trusted; errors name the byte offset and region:
 *   MIG_ETRUNC   input ends inside the header or a record
 *   MIG_EFORMAT  bad magic, non-zero reserved field, unknown region type,
 *                region out of order or past the end, extent past the end
 *                of its region, empty record, bad varint, trailing bytes,
 *                count in the header not matching the decoded set
 *   MIG_EUNSUPP  unknown version or region shift
 *   MIG_ELIMIT   nr_pfns above MIG_DIRTY_MAX_PFNS
 *   MIG_EINVAL   nr_pfns differs from the bitmap's size
 * On failure the bitmap content is unspecified (partly decoded).
 */
int mig_dirty_compact_decode(const void *buf, size_t len,
                             struct mig_dirty_bitmap *bitmap);

#endif /* XENMIG_MIG_DIRTY_H */
