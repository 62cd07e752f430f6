/*
 * digest.c: the memory digest compared at switchover (mig_migrate.h).
 * Pure function; must stay bit-for-bit stable across versions, since the
 * two ends of a migration may be built from different trees.
 *
 * A sum of mixed (pfn, key) pairs, so that both ends keep it up to date
 * as pages are sent and arrive (a change of one page is one term out, one
 * in) and need no pass over the guest at switchover, inside the downtime.
 * The one-pass form is for a backend's memory_hash (a PVH guest of 128 MiB
 * spans a million pfns, most of them holes: no library call per entry).
 * It detects a lost, extra or misplaced page with probability 1 - 2^-64
 * per error; it is not a MAC (the data streams carry their own
 * authentication).
 */
#include "config.h"

#include "mig_migrate.h"

/* splitmix64's finaliser: a bijective 64-bit mix. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* One page's share of the sum (0 for no page). */
static inline uint64_t term(uint64_t pfn, uint64_t key)
{
    return key ? mix64(key ^ mix64(pfn + UINT64_C(0x9e3779b97f4a7c15))) : 0;
}

uint64_t mig_memory_digest_term(uint64_t pfn, uint64_t key)
{
    return term(pfn, key);
}

uint64_t mig_memory_digest_finish(uint64_t sum, uint64_t nr_pfns)
{
    return mix64(sum ^ nr_pfns);
}

uint64_t mig_memory_digest(const uint64_t *page_hashes, uint64_t nr_pfns)
{
    uint64_t sum = 0;

    for (uint64_t pfn = 0; pfn < nr_pfns; pfn++)
        sum += term(pfn, page_hashes[pfn]);
    return mig_memory_digest_finish(sum, nr_pfns);
}
