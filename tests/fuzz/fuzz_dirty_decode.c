/*
 * fuzz_dirty_decode.c: libFuzzer target for the compacted dirty-set decoder
 * (mig_dirty_compact_decode).  Any input must be rejected cleanly or
 * decoded; a decoded set must survive encode + decode unchanged.  Sizes above 2^24 pfns are skipped to keep the
 * target's memory small; the header checks still run on them.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mig_dirty.h"
#include "mig_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mig_dirty_bitmap *bitmap = NULL, *round_trip = NULL;
    uint64_t nr_pfns;
    void *again = NULL;
    size_t again_len;

    if (mig_dirty_compact_peek_nr_pfns(data, size, &nr_pfns) != MIG_OK)
        return 0;
    if (nr_pfns > (UINT64_C(1) << 24))
        return 0;
    if (mig_dirty_bitmap_create(nr_pfns, &bitmap) != MIG_OK)
        abort();
    if (mig_dirty_compact_decode(data, size, bitmap) == MIG_OK) {
        /* a decoded set re-encodes within the bound and decodes back to
         * the same set */
        if (mig_dirty_compact_encode(bitmap, &again, &again_len) != MIG_OK)
            abort();
        if (again_len > mig_dirty_compact_bound(nr_pfns))
            abort();
        if (mig_dirty_bitmap_create(nr_pfns, &round_trip) != MIG_OK ||
            mig_dirty_compact_decode(again, again_len, round_trip) != MIG_OK ||
            !mig_dirty_bitmap_equal(bitmap, round_trip))
            abort();
        mig_dirty_bitmap_free(round_trip);
        free(again);
    }
    mig_dirty_bitmap_free(bitmap);
    return 0;
}
