/*
 * bitmap.c: dirty bitmaps over guest pfn space (see mig_dirty.h).
 *
 * One bit per pfn in 64-bit words.  Writers set bits with atomic OR while
 * a harvester swaps words with zero (atomic exchange), so a bit is owned by
 * exactly one of "still in the source" or "harvested".  This file must never
 * read or write past nr_words, never leave bits set past nr_pfns, and never
 * take a lock: it runs on vCPU-facing paths.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dirty_private.h"
#include "mig_error.h"

int mig_dirty_bitmap_create(uint64_t nr_pfns, struct mig_dirty_bitmap **out)
{
    struct mig_dirty_bitmap *bitmap;
    int rc;

    if (nr_pfns == 0) {
        rc = mig_error_set(MIG_EINVAL,
                           "dirty bitmap of 0 pfns: give at least one pfn");
        goto out;
    }
    if (nr_pfns > MIG_DIRTY_MAX_PFNS) {
        rc = mig_error_set(MIG_ELIMIT,
                           "dirty bitmap of %" PRIu64 " pfns is above the "
                           "limit of %" PRIu64 " pfns", nr_pfns,
                           MIG_DIRTY_MAX_PFNS);
        goto out;
    }
    bitmap = calloc(1, sizeof(*bitmap));
    if (!bitmap) {
        rc = mig_error_set(MIG_ENOMEM, "dirty bitmap: out of memory");
        goto out;
    }
    bitmap->nr_pfns = nr_pfns;
    bitmap->nr_words = dirty_words_for(nr_pfns);
    bitmap->words = calloc(bitmap->nr_words, sizeof(uint64_t));
    if (!bitmap->words) {
        free(bitmap);
        rc = mig_error_set(MIG_ENOMEM,
                           "dirty bitmap of %" PRIu64 " pfns: cannot allocate "
                           "%zu bytes", nr_pfns,
                           dirty_words_for(nr_pfns) * sizeof(uint64_t));
        goto out;
    }
    *out = bitmap;
    rc = MIG_OK;
 out:
    return rc;
}

void mig_dirty_bitmap_free(struct mig_dirty_bitmap *bitmap)
{
    if (!bitmap)
        return;
    free(bitmap->words);
    free(bitmap);
}

uint64_t mig_dirty_bitmap_nr_pfns(const struct mig_dirty_bitmap *bitmap)
{
    return bitmap->nr_pfns;
}

static int pfn_out_of_range(const struct mig_dirty_bitmap *bitmap, uint64_t pfn)
{
    return mig_error_set(MIG_EINVAL,
                         "pfn %" PRIu64 " (0x%" PRIx64 ") is outside the dirty "
                         "bitmap of %" PRIu64 " pfns", pfn, pfn,
                         bitmap->nr_pfns);
}

static inline uint64_t bit_of(uint64_t pfn)
{
    return UINT64_C(1) << (pfn % DIRTY_BITS_PER_WORD);
}

int mig_dirty_bitmap_set(struct mig_dirty_bitmap *bitmap, uint64_t pfn)
{
    if (pfn >= bitmap->nr_pfns)
        return pfn_out_of_range(bitmap, pfn);
    bitmap->words[pfn / DIRTY_BITS_PER_WORD] |= bit_of(pfn);
    return MIG_OK;
}

int mig_dirty_bitmap_clear(struct mig_dirty_bitmap *bitmap, uint64_t pfn)
{
    if (pfn >= bitmap->nr_pfns)
        return pfn_out_of_range(bitmap, pfn);
    bitmap->words[pfn / DIRTY_BITS_PER_WORD] &= ~bit_of(pfn);
    return MIG_OK;
}

bool mig_dirty_bitmap_test(const struct mig_dirty_bitmap *bitmap, uint64_t pfn)
{
    if (pfn >= bitmap->nr_pfns)
        return false;
    return (bitmap->words[pfn / DIRTY_BITS_PER_WORD] & bit_of(pfn)) != 0;
}

int mig_dirty_bitmap_set_atomic(struct mig_dirty_bitmap *bitmap, uint64_t pfn)
{
    if (pfn >= bitmap->nr_pfns)
        return pfn_out_of_range(bitmap, pfn);
    __atomic_fetch_or(&bitmap->words[pfn / DIRTY_BITS_PER_WORD], bit_of(pfn),
                      __ATOMIC_RELEASE);
    return MIG_OK;
}

int mig_dirty_bitmap_clear_atomic(struct mig_dirty_bitmap *bitmap, uint64_t pfn)
{
    if (pfn >= bitmap->nr_pfns)
        return pfn_out_of_range(bitmap, pfn);
    __atomic_fetch_and(&bitmap->words[pfn / DIRTY_BITS_PER_WORD], ~bit_of(pfn),
                       __ATOMIC_RELEASE);
    return MIG_OK;
}

bool mig_dirty_bitmap_test_atomic(const struct mig_dirty_bitmap *bitmap,
                                  uint64_t pfn)
{
    if (pfn >= bitmap->nr_pfns)
        return false;
    return (__atomic_load_n(&bitmap->words[pfn / DIRTY_BITS_PER_WORD],
                            __ATOMIC_ACQUIRE) & bit_of(pfn)) != 0;
}

int mig_dirty_bitmap_set_range(struct mig_dirty_bitmap *bitmap,
                               uint64_t start, uint64_t count)
{
    uint64_t end, first_word, last_word, w;
    uint64_t head_mask, tail_mask;

    if (start > bitmap->nr_pfns || count > bitmap->nr_pfns - start)
        return mig_error_set(MIG_EINVAL,
                             "pfn range [%" PRIu64 ", +%" PRIu64 ") does not "
                             "fit in the dirty bitmap of %" PRIu64 " pfns",
                             start, count, bitmap->nr_pfns);
    if (count == 0)
        return MIG_OK;
    end = start + count;                       /* exclusive */
    first_word = start / DIRTY_BITS_PER_WORD;
    last_word = (end - 1) / DIRTY_BITS_PER_WORD;
    head_mask = ~UINT64_C(0) << (start % DIRTY_BITS_PER_WORD);
    tail_mask = ~UINT64_C(0) >> (DIRTY_BITS_PER_WORD - 1 -
                                 (end - 1) % DIRTY_BITS_PER_WORD);
    if (first_word == last_word) {
        bitmap->words[first_word] |= head_mask & tail_mask;
        return MIG_OK;
    }
    bitmap->words[first_word] |= head_mask;
    for (w = first_word + 1; w < last_word; w++)
        bitmap->words[w] = ~UINT64_C(0);
    bitmap->words[last_word] |= tail_mask;
    return MIG_OK;
}

void mig_dirty_bitmap_clear_all(struct mig_dirty_bitmap *bitmap)
{
    memset(bitmap->words, 0, bitmap->nr_words * sizeof(uint64_t));
}

uint64_t mig_dirty_bitmap_count(const struct mig_dirty_bitmap *bitmap)
{
    uint64_t total = 0;
    size_t i;

    for (i = 0; i < bitmap->nr_words; i++)
        total += (uint64_t)__builtin_popcountll(bitmap->words[i]);
    return total;
}

uint64_t mig_dirty_bitmap_next_set(const struct mig_dirty_bitmap *bitmap,
                                   uint64_t from)
{
    return dirty_find_next(bitmap, from, bitmap->nr_pfns, 1);
}

int mig_dirty_bitmap_for_each_run(const struct mig_dirty_bitmap *bitmap,
                                  mig_dirty_run_fn *fn, void *opaque)
{
    uint64_t start, end;
    int rc;

    for (start = mig_dirty_bitmap_next_set(bitmap, 0);
         start < bitmap->nr_pfns;
         start = mig_dirty_bitmap_next_set(bitmap, end)) {
        end = dirty_find_next(bitmap, start, bitmap->nr_pfns, 0);
        rc = fn(start, end - start, opaque);
        if (rc)
            return rc;
    }
    return MIG_OK;
}

static int size_mismatch(const char *what, const struct mig_dirty_bitmap *a,
                         const struct mig_dirty_bitmap *b)
{
    return mig_error_set(MIG_EINVAL,
                         "%s: bitmaps of %" PRIu64 " and %" PRIu64 " pfns "
                         "differ in size; use bitmaps of the same guest",
                         what, a->nr_pfns, b->nr_pfns);
}

int mig_dirty_bitmap_harvest(struct mig_dirty_bitmap *src,
                             struct mig_dirty_bitmap *dst,
                             uint64_t *harvested)
{
    uint64_t total = 0, word;
    size_t i;

    if (src->nr_pfns != dst->nr_pfns)
        return size_mismatch("dirty harvest", src, dst);
    for (i = 0; i < src->nr_words; i++) {
        /* A relaxed peek first: clean words are not written (no cache line
         * ping-pong with writers); a set bit is then swapped out. */
        if (!__atomic_load_n(&src->words[i], __ATOMIC_RELAXED))
            continue;
        word = __atomic_exchange_n(&src->words[i], 0, __ATOMIC_ACQ_REL);
        dst->words[i] |= word;
        total += (uint64_t)__builtin_popcountll(word);
    }
    if (harvested)
        *harvested = total;
    return MIG_OK;
}

int mig_dirty_bitmap_harvest_range(struct mig_dirty_bitmap *src,
                                   struct mig_dirty_bitmap *dst,
                                   uint64_t start, uint64_t count,
                                   uint64_t *harvested)
{
    uint64_t total = 0, word, mask, end, w, first_word, last_word;

    if (src->nr_pfns != dst->nr_pfns)
        return size_mismatch("dirty harvest", src, dst);
    if (start > src->nr_pfns || count > src->nr_pfns - start)
        return mig_error_set(MIG_EINVAL,
                             "harvest range [%" PRIu64 ", +%" PRIu64 ") does "
                             "not fit in the dirty bitmap of %" PRIu64 " pfns",
                             start, count, src->nr_pfns);
    if (count) {
        end = start + count;
        first_word = start / DIRTY_BITS_PER_WORD;
        last_word = (end - 1) / DIRTY_BITS_PER_WORD;
        for (w = first_word; w <= last_word; w++) {
            mask = ~UINT64_C(0);
            if (w == first_word)
                mask &= ~UINT64_C(0) << (start % DIRTY_BITS_PER_WORD);
            if (w == last_word)
                mask &= ~UINT64_C(0) >> (DIRTY_BITS_PER_WORD - 1 -
                                         (end - 1) % DIRTY_BITS_PER_WORD);
            if (!(__atomic_load_n(&src->words[w], __ATOMIC_RELAXED) & mask))
                continue;
            word = mask == ~UINT64_C(0)
                   ? __atomic_exchange_n(&src->words[w], 0, __ATOMIC_ACQ_REL)
                   : __atomic_fetch_and(&src->words[w], ~mask,
                                        __ATOMIC_ACQ_REL) & mask;
            dst->words[w] |= word;
            total += (uint64_t)__builtin_popcountll(word);
        }
    }
    if (harvested)
        *harvested = total;
    return MIG_OK;
}

int mig_dirty_bitmap_merge(struct mig_dirty_bitmap *dst,
                           const struct mig_dirty_bitmap *src)
{
    size_t i;

    if (src->nr_pfns != dst->nr_pfns)
        return size_mismatch("dirty merge", dst, src);
    for (i = 0; i < src->nr_words; i++)
        dst->words[i] |= src->words[i];
    return MIG_OK;
}

bool mig_dirty_bitmap_equal(const struct mig_dirty_bitmap *a,
                            const struct mig_dirty_bitmap *b)
{
    return a->nr_pfns == b->nr_pfns &&
           memcmp(a->words, b->words, a->nr_words * sizeof(uint64_t)) == 0;
}

const uint64_t *mig_dirty_bitmap_words(const struct mig_dirty_bitmap *bitmap,
                                       size_t *nr_words)
{
    *nr_words = bitmap->nr_words;
    return bitmap->words;
}
