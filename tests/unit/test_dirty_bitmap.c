/*
 * test_dirty_bitmap.c: dirty bitmaps (libmig/dirty/bitmap.c): set, clear,
 * test, ranges, count, iteration against a byte-per-pfn reference model,
 * and a multi-threaded harvest that must never lose a bit.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dirty_testutil.h"
#include "mig_dirty.h"
#include "mig_error.h"

static struct mig_dirty_bitmap *new_bitmap(uint64_t nr_pfns)
{
    struct mig_dirty_bitmap *bitmap = NULL;

    ck_assert_int_eq(mig_dirty_bitmap_create(nr_pfns, &bitmap), MIG_OK);
    ck_assert_ptr_nonnull(bitmap);
    return bitmap;
}

START_TEST(test_create_limits)
{
    struct mig_dirty_bitmap *bitmap = NULL;

    ck_assert_int_eq(mig_dirty_bitmap_create(0, &bitmap), MIG_EINVAL);
    ck_assert_ptr_null(bitmap);
    ck_assert_int_eq(mig_dirty_bitmap_create(MIG_DIRTY_MAX_PFNS + 1, &bitmap),
                     MIG_ELIMIT);
    ck_assert_ptr_null(bitmap);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "1099511627777"));
    bitmap = new_bitmap(1);
    ck_assert_uint_eq(mig_dirty_bitmap_nr_pfns(bitmap), 1);
    ck_assert_uint_eq(mig_dirty_bitmap_count(bitmap), 0);
    mig_dirty_bitmap_free(bitmap);
    mig_dirty_bitmap_free(NULL);
}
END_TEST

START_TEST(test_out_of_range_rejected)
{
    struct mig_dirty_bitmap *bitmap = new_bitmap(100);
    size_t nr_words;
    const uint64_t *words;

    ck_assert_int_eq(mig_dirty_bitmap_set(bitmap, 100), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "pfn 100 "));
    ck_assert_int_eq(mig_dirty_bitmap_set_atomic(bitmap, UINT64_MAX), MIG_EINVAL);
    ck_assert_int_eq(mig_dirty_bitmap_clear(bitmap, 1000), MIG_EINVAL);
    ck_assert(!mig_dirty_bitmap_test(bitmap, 100));
    ck_assert_int_eq(mig_dirty_bitmap_set_range(bitmap, 90, 11), MIG_EINVAL);
    ck_assert_int_eq(mig_dirty_bitmap_set_range(bitmap, UINT64_MAX, 2), MIG_EINVAL);
    ck_assert_uint_eq(mig_dirty_bitmap_count(bitmap), 0);
    ck_assert_int_eq(mig_dirty_bitmap_set_range(bitmap, 90, 10), MIG_OK);
    ck_assert_uint_eq(mig_dirty_bitmap_count(bitmap), 10);
    /* bits past nr_pfns in the last word stay clear */
    words = mig_dirty_bitmap_words(bitmap, &nr_words);
    ck_assert_uint_eq(nr_words, 2);
    ck_assert_uint_eq(words[1] >> 36, 0);
    mig_dirty_bitmap_free(bitmap);
}
END_TEST

struct run_list {
    uint64_t starts[4096], lengths[4096];
    size_t n;
};

static int collect_run(uint64_t start, uint64_t length, void *opaque)
{
    struct run_list *runs = opaque;

    ck_assert_uint_lt(runs->n, 4096);
    runs->starts[runs->n] = start;
    runs->lengths[runs->n] = length;
    runs->n++;
    return 0;
}

static int stop_at_second(uint64_t start, uint64_t length, void *opaque)
{
    int *calls = opaque;

    return ++*calls == 2 ? 42 : 0;
}

/* Random operations against a byte-per-pfn model, many sizes. */
START_TEST(test_matches_reference_model)
{
    static const uint64_t sizes[] = { 1, 63, 64, 65, 127, 1000, 4096, 70001 };
    uint64_t seed = 0x5eed0000 + (uint64_t)_i;
    uint64_t n = sizes[_i], i, pfn, count, len, expected_count;
    struct mig_dirty_bitmap *bitmap = new_bitmap(n);
    struct run_list *runs = calloc(1, sizeof(*runs));
    unsigned char *model = calloc(n, 1);
    int calls = 0;

    ck_assert_ptr_nonnull(runs);
    ck_assert_ptr_nonnull(model);
    for (i = 0; i < 3 * n / 2 + 10; i++) {
        pfn = test_rand_below(&seed, n);
        switch (test_rand_below(&seed, 4)) {
        case 0:
            ck_assert_int_eq(mig_dirty_bitmap_set(bitmap, pfn), MIG_OK);
            model[pfn] = 1;
            break;
        case 1:
            ck_assert_int_eq(mig_dirty_bitmap_clear_atomic(bitmap, pfn), MIG_OK);
            model[pfn] = 0;
            break;
        case 2:
            ck_assert_int_eq(mig_dirty_bitmap_set_atomic(bitmap, pfn), MIG_OK);
            model[pfn] = 1;
            break;
        default:
            len = test_rand_below(&seed, n - pfn + 1);
            if (len > 300)
                len = 300;
            ck_assert_int_eq(mig_dirty_bitmap_set_range(bitmap, pfn, len), MIG_OK);
            memset(model + pfn, 1, len);
            break;
        }
    }
    expected_count = 0;
    for (pfn = 0; pfn < n; pfn++) {
        ck_assert_int_eq(mig_dirty_bitmap_test(bitmap, pfn), model[pfn]);
        ck_assert_int_eq(mig_dirty_bitmap_test_atomic(bitmap, pfn), model[pfn]);
        expected_count += model[pfn];
    }
    ck_assert_uint_eq(mig_dirty_bitmap_count(bitmap), expected_count);

    /* cursor walk visits exactly the set pfns */
    count = 0;
    i = 0;
    for (pfn = mig_dirty_bitmap_next_set(bitmap, 0); pfn < n;
         pfn = mig_dirty_bitmap_next_set(bitmap, pfn + 1)) {
        for (; i < pfn; i++)
            ck_assert_int_eq(model[i], 0);
        ck_assert_int_eq(model[pfn], 1);
        i = pfn + 1;
        count++;
    }
    for (; i < n; i++)
        ck_assert_int_eq(model[i], 0);
    ck_assert_uint_eq(count, expected_count);
    ck_assert_uint_eq(mig_dirty_bitmap_next_set(bitmap, n + 5), n);

    /* runs are maximal, ordered and cover the set exactly */
    ck_assert_int_eq(mig_dirty_bitmap_for_each_run(bitmap, collect_run, runs), 0);
    count = 0;
    for (i = 0; i < runs->n; i++) {
        ck_assert_uint_gt(runs->lengths[i], 0);
        if (runs->starts[i] > 0)
            ck_assert_int_eq(model[runs->starts[i] - 1], 0);
        if (runs->starts[i] + runs->lengths[i] < n)
            ck_assert_int_eq(model[runs->starts[i] + runs->lengths[i]], 0);
        for (pfn = runs->starts[i]; pfn < runs->starts[i] + runs->lengths[i]; pfn++)
            ck_assert_int_eq(model[pfn], 1);
        count += runs->lengths[i];
    }
    ck_assert_uint_eq(count, expected_count);
    if (runs->n >= 2)
        ck_assert_int_eq(mig_dirty_bitmap_for_each_run(bitmap, stop_at_second,
                                                       &calls), 42);

    mig_dirty_bitmap_clear_all(bitmap);
    ck_assert_uint_eq(mig_dirty_bitmap_count(bitmap), 0);
    ck_assert_uint_eq(mig_dirty_bitmap_next_set(bitmap, 0), n);
    free(model);
    free(runs);
    mig_dirty_bitmap_free(bitmap);
}
END_TEST

START_TEST(test_merge_and_harvest_single_thread)
{
    struct mig_dirty_bitmap *a = new_bitmap(5000), *b = new_bitmap(5000);
    struct mig_dirty_bitmap *c = new_bitmap(5001), *expected = new_bitmap(5000);
    uint64_t seed = 7, harvested = 0;

    test_fill_random(a, 100000, &seed);
    test_fill_random(b, 100000, &seed);
    ck_assert_int_eq(mig_dirty_bitmap_merge(expected, a), MIG_OK);
    ck_assert_int_eq(mig_dirty_bitmap_merge(expected, b), MIG_OK);
    ck_assert_int_eq(mig_dirty_bitmap_merge(c, a), MIG_EINVAL);
    ck_assert_int_eq(mig_dirty_bitmap_harvest(a, c, NULL), MIG_EINVAL);
    ck_assert_uint_gt(mig_dirty_bitmap_count(a), 0);

    /* harvest ORs into the destination and empties the source */
    uint64_t in_a = mig_dirty_bitmap_count(a);
    ck_assert_int_eq(mig_dirty_bitmap_harvest(a, b, &harvested), MIG_OK);
    ck_assert_uint_eq(harvested, in_a);
    ck_assert_uint_eq(mig_dirty_bitmap_count(a), 0);
    ck_assert(mig_dirty_bitmap_equal(b, expected));
    ck_assert(!mig_dirty_bitmap_equal(a, expected));
    ck_assert(!mig_dirty_bitmap_equal(c, expected));
    mig_dirty_bitmap_free(a);
    mig_dirty_bitmap_free(b);
    mig_dirty_bitmap_free(c);
    mig_dirty_bitmap_free(expected);
}
END_TEST

/* A ranged harvest moves exactly the bits inside the range. */
START_TEST(test_harvest_range_moves_only_the_range)
{
    uint64_t n = 1000 + 37 * (uint64_t)_i, seed = 11 + (uint64_t)_i;
    uint64_t round, start, count, pfn, harvested, moved;
    struct mig_dirty_bitmap *src = new_bitmap(n), *dst = new_bitmap(n);
    struct mig_dirty_bitmap *before = new_bitmap(n), *wrong = new_bitmap(n + 1);

    ck_assert_int_eq(mig_dirty_bitmap_harvest_range(src, dst, n - 5, 6, NULL),
                     MIG_EINVAL);
    ck_assert_int_eq(mig_dirty_bitmap_harvest_range(src, wrong, 0, 1, NULL),
                     MIG_EINVAL);
    for (round = 0; round < 50; round++) {
        mig_dirty_bitmap_clear_all(src);
        mig_dirty_bitmap_clear_all(dst);
        mig_dirty_bitmap_clear_all(before);
        test_fill_random(src, 300000, &seed);
        mig_dirty_bitmap_merge(before, src);
        start = test_rand_below(&seed, n);
        count = test_rand_below(&seed, n - start + 1);
        ck_assert_int_eq(mig_dirty_bitmap_harvest_range(src, dst, start, count,
                                                        &harvested), MIG_OK);
        moved = 0;
        for (pfn = 0; pfn < n; pfn++) {
            int inside = pfn >= start && pfn < start + count;
            int was = mig_dirty_bitmap_test(before, pfn);

            ck_assert_int_eq(mig_dirty_bitmap_test(dst, pfn), inside && was);
            ck_assert_int_eq(mig_dirty_bitmap_test(src, pfn), !inside && was);
            moved += inside && was;
        }
        ck_assert_uint_eq(harvested, moved);
    }
    mig_dirty_bitmap_free(src);
    mig_dirty_bitmap_free(dst);
    mig_dirty_bitmap_free(before);
    mig_dirty_bitmap_free(wrong);
}
END_TEST

/*
 * Writers set disjoint pfns (writer t owns pfn % NR_WRITERS == t), each
 * once, several passes over a shared word range so they contend on the
 * same words; a harvester swaps words out the whole time.  Every pfn a
 * writer set must end up harvested exactly once per pass.
 */
#define NR_WRITERS 2
#define RACE_PFNS (64 * 8)
#define RACE_PASSES 3000

struct race {
    struct mig_dirty_bitmap *live;
    int writers_done;
    uint64_t sets[NR_WRITERS];
    pthread_barrier_t pass_start;
};

struct writer_arg {
    struct race *race;
    unsigned index;
};

static void *race_writer(void *opaque)
{
    struct writer_arg *arg = opaque;
    uint64_t pfn;
    unsigned pass;

    for (pass = 0; pass < RACE_PASSES; pass++) {
        pthread_barrier_wait(&arg->race->pass_start);
        for (pfn = arg->index; pfn < RACE_PFNS; pfn += NR_WRITERS) {
            if (mig_dirty_bitmap_set_atomic(arg->race->live, pfn) != MIG_OK)
                return NULL;
            arg->race->sets[arg->index]++;
            /* pace the writer so that its sets overlap the harvests */
            for (volatile unsigned spin = 0; spin < 200; spin++)
                continue;
        }
        __atomic_fetch_add(&arg->race->writers_done, 1, __ATOMIC_RELEASE);
        pthread_barrier_wait(&arg->race->pass_start);
    }
    return arg;
}

START_TEST(test_concurrent_harvest_loses_nothing)
{
    struct race race = { 0 };
    struct writer_arg args[NR_WRITERS];
    pthread_t writers[NR_WRITERS];
    struct mig_dirty_bitmap *collected = new_bitmap(RACE_PFNS);
    uint64_t harvested, total_harvested = 0, total_sets = 0, harvests = 0;
    unsigned pass, t;
    void *res;

    race.live = new_bitmap(RACE_PFNS);
    ck_assert_int_eq(pthread_barrier_init(&race.pass_start, NULL,
                                          NR_WRITERS + 1), 0);
    for (t = 0; t < NR_WRITERS; t++) {
        args[t].race = &race;
        args[t].index = t;
        ck_assert_int_eq(pthread_create(&writers[t], NULL, race_writer,
                                        &args[t]), 0);
    }
    for (pass = 0; pass < RACE_PASSES; pass++) {
        mig_dirty_bitmap_clear_all(collected);
        __atomic_store_n(&race.writers_done, 0, __ATOMIC_RELAXED);
        pthread_barrier_wait(&race.pass_start);   /* writers go */
        /* harvest for as long as they write */
        while (__atomic_load_n(&race.writers_done, __ATOMIC_ACQUIRE) <
               NR_WRITERS) {
            ck_assert_int_eq(mig_dirty_bitmap_harvest(race.live, collected,
                                                      &harvested), MIG_OK);
            total_harvested += harvested;
            harvests++;
        }
        pthread_barrier_wait(&race.pass_start);   /* writers finished */
        ck_assert_int_eq(mig_dirty_bitmap_harvest(race.live, collected,
                                                  &harvested), MIG_OK);
        total_harvested += harvested;
        /* every pfn was set this pass, so every pfn must be collected */
        ck_assert_uint_eq(mig_dirty_bitmap_count(collected), RACE_PFNS);
        ck_assert_uint_eq(mig_dirty_bitmap_count(race.live), 0);
    }
    for (t = 0; t < NR_WRITERS; t++) {
        ck_assert_int_eq(pthread_join(writers[t], &res), 0);
        ck_assert_ptr_nonnull(res);
        total_sets += race.sets[t];
    }
    /* each set hit a clear bit (disjoint pfns, harvest between passes),
     * so every set is counted by exactly one harvest */
    ck_assert_uint_eq(total_sets, (uint64_t)RACE_PFNS * RACE_PASSES);
    ck_assert_uint_eq(total_harvested, total_sets);
    ck_assert_uint_gt(harvests, 0);
    pthread_barrier_destroy(&race.pass_start);
    mig_dirty_bitmap_free(race.live);
    mig_dirty_bitmap_free(collected);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dirty_bitmap");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_create_limits);
    tcase_add_test(tc, test_out_of_range_rejected);
    tcase_add_loop_test(tc, test_matches_reference_model, 0, 8);
    tcase_add_test(tc, test_merge_and_harvest_single_thread);
    tcase_add_loop_test(tc, test_harvest_range_moves_only_the_range, 0, 4);
    tcase_add_test(tc, test_concurrent_harvest_loses_nothing);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
