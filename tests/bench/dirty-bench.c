/*
 * dirty-bench.c: benchmark of dirty sets for a 1 TiB guest (2^28 pfns,
 * a 32 MiB bitmap).  For each pattern it measures harvest, compact encode
 * and compact decode, and the encoded size, each beside a plain memcpy of
 * the same 32 MiB bitmap timed in the same run, and prints the ratios.
 * A benchmark, not a test: it asserts nothing about speed and is never run
 * by make check.  Run: make -C build/tests bench-dirty
 *
 * Usage: dirty-bench [LOG2_PFNS] (default 28).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mig_clock.h"
#include "dirty_testutil.h"
#include "mig_dirty.h"
#include "mig_error.h"

#define REPEATS 5

static void die(const char *what)
{
    fprintf(stderr, "dirty-bench: %s: %s\n", what, mig_error_last());
    exit(1);
}

static struct mig_dirty_bitmap *new_bitmap(uint64_t nr_pfns)
{
    struct mig_dirty_bitmap *bitmap;

    if (mig_dirty_bitmap_create(nr_pfns, &bitmap))
        die("create");
    return bitmap;
}

enum pattern { SPARSE, CLUSTERED, DENSE, RANDOM, NR_PATTERNS };
static const char *const pattern_names[NR_PATTERNS] = {
    "sparse 0.01%", "clustered runs", "dense 50%", "random 5%",
};

static void fill(struct mig_dirty_bitmap *bitmap, enum pattern pattern,
                 uint64_t *seed)
{
    uint64_t n = mig_dirty_bitmap_nr_pfns(bitmap), i;

    switch (pattern) {
    case SPARSE:
        for (i = 0; i < n / 10000; i++)
            mig_dirty_bitmap_set(bitmap, test_rand_below(seed, n));
        break;
    case CLUSTERED:
        /* working sets: a few hundred runs of up to 64 Ki pfns (256 MiB) */
        test_fill_runs(bitmap, n >> 20, 65536, seed);
        break;
    case DENSE:
        for (i = 0; i < n; i += 64) {
            uint64_t word = test_rand_next(seed), b;

            for (b = 0; b < 64 && i + b < n; b++)
                if (word & (UINT64_C(1) << b))
                    mig_dirty_bitmap_set(bitmap, i + b);
        }
        break;
    case RANDOM:
        for (i = 0; i < n / 20; i++)
            mig_dirty_bitmap_set(bitmap, test_rand_below(seed, n));
        break;
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    unsigned log2_pfns = argc > 1 ? (unsigned)atoi(argv[1]) : 28;
    uint64_t nr_pfns, seed = 0xbe4c4, harvested;
    struct mig_dirty_bitmap *pattern_set, *live, *collected, *decoded;
    size_t nr_words, raw_bytes, encoded_len = 0;
    const uint64_t *words;
    double t, memcpy_s, harvest_s, encode_s, decode_s;
    void *copy, *encoded = NULL;
    int p, r;

    if (log2_pfns < 10 || log2_pfns > 32) {
        fprintf(stderr, "dirty-bench: LOG2_PFNS '%s' must be 10..32\n", argv[1]);
        return 2;
    }
    nr_pfns = UINT64_C(1) << log2_pfns;
    pattern_set = new_bitmap(nr_pfns);
    live = new_bitmap(nr_pfns);
    collected = new_bitmap(nr_pfns);
    decoded = new_bitmap(nr_pfns);
    words = mig_dirty_bitmap_words(pattern_set, &nr_words);
    raw_bytes = nr_words * sizeof(uint64_t);
    copy = malloc(raw_bytes);
    if (!copy)
        die("malloc");
    memset(copy, 1, raw_bytes);                       /* fault it in */

    printf("dirty-bench: %" PRIu64 " pfns (%.0f GiB guest), bitmap %zu MiB, "
           "best of %d runs\n", nr_pfns,
           (double)nr_pfns * 4096 / (1 << 30), raw_bytes >> 20, REPEATS);
    printf("%-15s %9s %9s | %9s %7s | %9s %7s | %9s %7s | %11s %8s\n",
           "pattern", "dirty", "memcpy ms", "harvest", "x mcpy", "encode",
           "x mcpy", "decode", "x mcpy", "encoded B", "of raw");
    for (p = 0; p < NR_PATTERNS; p++) {
        mig_dirty_bitmap_clear_all(pattern_set);
        fill(pattern_set, (enum pattern)p, &seed);
        memcpy_s = harvest_s = encode_s = decode_s = 1e9;
        for (r = 0; r < REPEATS; r++) {
            t = mig_clock_seconds();
            memcpy(copy, words, raw_bytes);
            t = mig_clock_seconds() - t;
            memcpy_s = t < memcpy_s ? t : memcpy_s;

            mig_dirty_bitmap_clear_all(collected);
            mig_dirty_bitmap_merge(live, pattern_set);
            t = mig_clock_seconds();
            if (mig_dirty_bitmap_harvest(live, collected, &harvested))
                die("harvest");
            t = mig_clock_seconds() - t;
            harvest_s = t < harvest_s ? t : harvest_s;

            free(encoded);
            t = mig_clock_seconds();
            if (mig_dirty_compact_encode(collected, &encoded, &encoded_len))
                die("encode");
            t = mig_clock_seconds() - t;
            encode_s = t < encode_s ? t : encode_s;

            t = mig_clock_seconds();
            if (mig_dirty_compact_decode(encoded, encoded_len, decoded))
                die("decode");
            t = mig_clock_seconds() - t;
            decode_s = t < decode_s ? t : decode_s;
            if (!mig_dirty_bitmap_equal(decoded, pattern_set)) {
                fprintf(stderr, "dirty-bench: decoded set differs\n");
                return 1;
            }
        }
        printf("%-15s %9" PRIu64 " %9.3f | %7.3fms %7.2f | %7.3fms %7.2f | "
               "%7.3fms %7.2f | %11zu %7.3f%%\n",
               pattern_names[p], harvested, memcpy_s * 1e3,
               harvest_s * 1e3, harvest_s / memcpy_s,
               encode_s * 1e3, encode_s / memcpy_s,
               decode_s * 1e3, decode_s / memcpy_s,
               encoded_len, 100.0 * (double)encoded_len / (double)raw_bytes);
    }
    printf("columns: 'x mcpy' = time / memcpy time of the same bitmap in the "
           "same run; 'of raw' = encoded size / raw bitmap size\n");
    free(encoded);
    free(copy);
    mig_dirty_bitmap_free(pattern_set);
    mig_dirty_bitmap_free(live);
    mig_dirty_bitmap_free(collected);
    mig_dirty_bitmap_free(decoded);
    return 0;
}
