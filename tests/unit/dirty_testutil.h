/*
 * dirty_testutil.h: helpers shared by the dirty-set tests and benchmarks:
 * a seeded PRNG and bitmap pattern generators.  Test code only.
 */
#ifndef XENMIG_DIRTY_TESTUTIL_H
#define XENMIG_DIRTY_TESTUTIL_H

#include <stdint.h>

#include "mig_dirty.h"

/* splitmix64: small, seedable, good enough for test patterns. */
static inline uint64_t test_rand_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0. */
static inline uint64_t test_rand_below(uint64_t *state, uint64_t bound)
{
    return test_rand_next(state) % bound;
}

/* Set each pfn independently with probability parts_per_million / 10^6. */
static inline void test_fill_random(struct mig_dirty_bitmap *bitmap,
                                    uint64_t parts_per_million, uint64_t *seed)
{
    uint64_t n = mig_dirty_bitmap_nr_pfns(bitmap), pfn;

    for (pfn = 0; pfn < n; pfn++)
        if (test_rand_below(seed, 1000000) < parts_per_million)
            mig_dirty_bitmap_set(bitmap, pfn);
}

/* Expected number of random runs of random length up to max_run. */
static inline void test_fill_runs(struct mig_dirty_bitmap *bitmap,
                                  uint64_t nr_runs, uint64_t max_run,
                                  uint64_t *seed)
{
    uint64_t n = mig_dirty_bitmap_nr_pfns(bitmap), i, start, length;

    for (i = 0; i < nr_runs; i++) {
        start = test_rand_below(seed, n);
        length = 1 + test_rand_below(seed, max_run);
        if (length > n - start)
            length = n - start;
        mig_dirty_bitmap_set_range(bitmap, start, length);
    }
}

#endif /* XENMIG_DIRTY_TESTUTIL_H */
