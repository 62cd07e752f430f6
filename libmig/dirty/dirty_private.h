/*
 * dirty_private.h: the layout of struct mig_dirty_bitmap, shared by the
 * files of libmig/dirty only.  Nothing outside libmig/dirty may include it:
 * everyone else goes through mig_dirty.h.
 */
#ifndef XENMIG_DIRTY_PRIVATE_H
#define XENMIG_DIRTY_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "mig_dirty.h"

#define DIRTY_BITS_PER_WORD 64

struct mig_dirty_bitmap {
    uint64_t nr_pfns;
    size_t nr_words;
    uint64_t *words;    /* nr_words words; bits past nr_pfns stay zero */
};

static inline size_t dirty_words_for(uint64_t nr_pfns)
{
    return (size_t)((nr_pfns + DIRTY_BITS_PER_WORD - 1) / DIRTY_BITS_PER_WORD);
}

/*
 * The first pfn in [from, limit) whose bit equals want_set, or limit.
 * limit must be <= nr_pfns.  Bounded so that a walk over one region never
 * scans the rest of the bitmap.
 */
static inline uint64_t dirty_find_next(const struct mig_dirty_bitmap *bitmap,
                                       uint64_t from, uint64_t limit,
                                       int want_set)
{
    uint64_t flip = want_set ? 0 : ~UINT64_C(0);
    uint64_t w, last_word, word, pfn;

    if (from >= limit)
        return limit;
    w = from / DIRTY_BITS_PER_WORD;
    last_word = (limit - 1) / DIRTY_BITS_PER_WORD;
    word = (bitmap->words[w] ^ flip) &
           (~UINT64_C(0) << (from % DIRTY_BITS_PER_WORD));
    while (!word) {
        if (++w > last_word)
            return limit;
        word = bitmap->words[w] ^ flip;
    }
    pfn = w * DIRTY_BITS_PER_WORD + (uint64_t)__builtin_ctzll(word);
    return pfn < limit ? pfn : limit;
}

#endif /* XENMIG_DIRTY_PRIVATE_H */
