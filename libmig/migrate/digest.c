/*
 * digest.c: the memory digest compared at switchover (mig_migrate.h).
 * Pure function; must stay bit-for-bit stable across versions, since the
 * two ends of a migration may be built from different trees.
 */
#include "config.h"

#include <stdlib.h>

#include <xxhash.h>

#include "mig_migrate.h"

uint64_t mig_memory_digest(const uint64_t *page_hashes, uint64_t nr_pfns)
{
    XXH3_state_t *state = XXH3_createState();
    uint64_t digest;

    if (!state)
        return 0;           /* 0 never equals a real digest of the other side */
    XXH3_64bits_reset(state);
    for (uint64_t i = 0; i < nr_pfns; i++) {
        uint8_t le[8];

        for (int b = 0; b < 8; b++)
            le[b] = (uint8_t)(page_hashes[i] >> (8 * b));
        XXH3_64bits_update(state, le, sizeof(le));
    }
    digest = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    return digest;
}
