/*
 * test_cpuid_libxl_mask.c: the cpuid= string `xl-ext create` derives
 * (cpuid_libxl_mask_string) for every real CPU of the corpus and every
 * named level it meets: each item is accepted by libxenlight's own parser
 * (libxl_cpuid_parse_config, callable without a hypervisor), and the
 * string parsed back with the featureset code leaves exactly the baseline
 * of the bits the level constrains.  Also: bits libxl cannot name are
 * refused, the read-back comparison, and the GPU level of clusters
 * (cpuid_policy.h, "Cluster GPU level") on recorded facts.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "test_cpuid_helpers.h"

static struct cpuid_corpus *corpus;
static struct cpuid_level_set *levels;
static cpuid_gpu_level_table *gpu_levels;

static void setup(void)
{
    cpuid_test_use_source_data();
    ck_assert_int_eq(cpuid_corpus_load(cpuid_corpus_default_path(), &corpus), 0);
    ck_assert_int_eq(cpuid_level_set_load(NULL, &levels), 0);
    ck_assert_int_eq(cpuid_gpu_level_table_load(NULL, &gpu_levels), 0);
}

static void teardown(void)
{
    cpuid_corpus_free(corpus);
    cpuid_level_set_free(levels);
    cpuid_gpu_level_table_free(gpu_levels);
}

/* The CPU's features as Xen would offer them: only bits Xen 4.17 defines. */
static struct cpuid_featureset xen_offered(const struct cpuid_featureset *fs)
{
    struct cpuid_featureset out = *fs;

    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++) {
        const struct cpuid_feature_info *info = cpuid_feature_by_index(i);

        if (!info || !info->xen_defined)
            cpuid_featureset_clear(&out, i);
    }
    return out;
}

/* Every item after "host" goes through libxl's parser; returns how many. */
static unsigned int libxl_accepts_every_item(const char *mask)
{
    libxl_cpuid_policy_list list = NULL;
    char *copy = strdup(mask), *save = NULL, *item;
    unsigned int n = 0;

    ck_assert_ptr_nonnull(copy);
    item = strtok_r(copy, ",", &save);
    ck_assert_str_eq(item, "host");         /* xl skips the first item: it must be "host" */
    while ((item = strtok_r(NULL, ",", &save)) != NULL) {
        ck_assert_msg(libxl_cpuid_parse_config(&list, item) == 0,
                      "libxl_cpuid_parse_config refused '%s' of \"%s\"", item, mask);
        n++;
    }
    libxl_cpuid_dispose(&list);
    free(copy);
    return n;
}

START_TEST(test_mask_levels_every_corpus_cpu)
{
    struct cpuid_featureset universe;
    unsigned int pairs = 0, items = 0;

    cpuid_level_set_universe(levels, &universe);
    ck_assert_uint_gt(cpuid_featureset_count(&universe), 40);
    for (unsigned int c = 0; c < cpuid_corpus_count(corpus); c++) {
        const struct cpuid_corpus_cpu *cpu = cpuid_corpus_get(corpus, c);
        struct cpuid_featureset host = xen_offered(&cpu->features);

        for (unsigned int l = 0; l < cpuid_level_set_count(levels); l++) {
            const struct cpuid_level *level = cpuid_level_set_get(levels, l);
            struct cpuid_featureset back, constrained_back, extra, expected;
            char *mask = NULL;
            unsigned int n;

            /* libvirt's models list bits no data level names (apic, pcid...): a
             * mask keeps the host's value there, so they cannot read back whole. */
            if (cpuid_test_is_libvirt(level) ||
                !cpuid_featureset_is_subset(&level->features, &host))
                continue;
            ck_assert_msg(cpuid_libxl_mask_string(&host, &level->features, &universe,
                                                  &mask) == 0, "%s on %s: %s", level->name,
                          cpu->name, mig_error_last());
            n = libxl_accepts_every_item(mask);
            cpuid_featureset_subtract(&extra, &host, &level->features);
            cpuid_featureset_intersect(&extra, &extra, &universe);
            /* One item per feature to hide, no more, no less. */
            ck_assert_uint_eq(n, cpuid_featureset_count(&extra));
            ck_assert_int_eq(cpuid_featureset_parse_libxl(mask, &host, &back), 0);
            cpuid_featureset_intersect(&constrained_back, &back, &universe);
            ck_assert_msg(!memcmp(&constrained_back, &level->features, sizeof(back)),
                          "%s on %s: \"%s\" does not parse back to the level", level->name,
                          cpu->name, mask);
            /* Bits the level does not constrain keep the host's value, except those
             * that depend on a hidden feature (Xen clears them too). */
            expected = level->features;
            for (unsigned int w = 0; w < CPUID_FEATURESET_WORDS; w++)
                expected.words[w] |= host.words[w] & ~universe.words[w];
            cpuid_featureset_close(&expected);
            ck_assert_msg(!memcmp(&back, &expected, sizeof(back)),
                          "%s on %s: \"%s\" changed bits outside the levels", level->name,
                          cpu->name, mask);
            pairs++;
            items += n;
            free(mask);
        }
    }
    /* The corpus has dozens of CPUs meeting several levels each. */
    ck_assert_uint_gt(pairs, 100);
    ck_assert_uint_gt(items, pairs);
}
END_TEST

START_TEST(test_known_pair_haswell_to_v2)
{
    const struct cpuid_corpus_cpu *cpu = cpuid_corpus_find(corpus, "Intel Xeon E5-2630 v3");
    const struct cpuid_level *v2 = cpuid_level_set_find(levels, "x86-64-v2");
    struct cpuid_featureset host, universe;
    char *mask = NULL;

    ck_assert_ptr_nonnull(cpu);
    ck_assert_ptr_nonnull(v2);
    host = xen_offered(&cpu->features);
    cpuid_level_set_universe(levels, &universe);
    ck_assert_int_eq(cpuid_libxl_mask_string(&host, &v2->features, &universe, &mask), 0);
    /* Haswell has AVX2 and FMA, x86-64-v2 has neither: both are masked ... */
    ck_assert_ptr_nonnull(strstr(mask, ",avx2=0"));
    ck_assert_ptr_nonnull(strstr(mask, ",fma=0"));
    ck_assert_ptr_nonnull(strstr(mask, ",avx=0"));
    /* ... v2's own SSE4.2 is not, and neither is the non-ISA tsc bit. */
    ck_assert_ptr_null(strstr(mask, "sse4-2=0"));
    ck_assert_ptr_null(strstr(mask, ",tsc=0"));
    ck_assert_int_eq(strncmp(mask, "host,", 5), 0);
    free(mask);
}
END_TEST

START_TEST(test_clflush_is_written_as_libxl_names_it)
{
    struct cpuid_featureset host = { { 0 } }, baseline = { { 0 } }, back;
    const struct cpuid_feature_info *clflush = cpuid_feature_lookup("clflush", 7, NULL);
    char *mask = NULL;

    ck_assert_ptr_nonnull(clflush);
    cpuid_featureset_set(&host, clflush->word * 32 + clflush->bit);
    ck_assert_int_eq(cpuid_libxl_mask_string(&host, &baseline, NULL, &mask), 0);
    ck_assert_str_eq(mask, "host,clfsh=0");
    ck_assert_uint_eq(libxl_accepts_every_item(mask), 1);
    ck_assert_int_eq(cpuid_featureset_parse_libxl(mask, &host, &back), 0);
    ck_assert(cpuid_featureset_is_empty(&back));
    /* In libxl's syntax "clflush" is the line-size field: refused, not misread. */
    ck_assert_int_eq(cpuid_featureset_parse_libxl("host,clflush=0", &host, &back),
                     MIG_EUNSUPP);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "clfsh"));
    free(mask);
}
END_TEST

START_TEST(test_unnamed_bit_is_refused_not_dropped)
{
    struct cpuid_featureset host = { { 0 } }, baseline = { { 0 } };
    char *mask = NULL;

    const struct cpuid_feature_info *info = cpuid_feature_by_index(1 * 32 + 11);

    /* Leaf 1 ECX bit 11: xen-cpuid prints a name, but Xen 4.17 defines no feature. */
    ck_assert(!info || !info->xen_defined);
    cpuid_featureset_set(&host, 1 * 32 + 11);
    ck_assert_int_eq(cpuid_libxl_mask_string(&host, &baseline, NULL, &mask), MIG_EUNSUPP);
    ck_assert_ptr_null(mask);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "w1b11"));
    /* The same bit in the baseline needs no mask. */
    cpuid_featureset_set(&baseline, 1 * 32 + 11);
    ck_assert_int_eq(cpuid_libxl_mask_string(&host, &baseline, NULL, &mask), 0);
    ck_assert_str_eq(mask, "host");
    free(mask);
}
END_TEST

START_TEST(test_read_back_excess)
{
    const struct cpuid_level *v3 = cpuid_level_set_find(levels, "x86-64-v3");
    const struct cpuid_feature_info *avx512f = cpuid_feature_lookup("avx512f", 7, NULL);
    const struct cpuid_feature_info *rdrand = cpuid_feature_lookup("rdrand", 6, NULL);
    const struct cpuid_feature_info *tsc = cpuid_feature_lookup("tsc", 3, NULL);
    struct cpuid_featureset domain, universe, excess, controlled;

    ck_assert_ptr_nonnull(v3);
    ck_assert_ptr_nonnull(avx512f);
    ck_assert_ptr_nonnull(rdrand);
    ck_assert_ptr_nonnull(tsc);
    cpuid_level_set_universe(levels, &universe);
    domain = v3->features;
    cpuid_featureset_set(&domain, tsc->word * 32 + tsc->bit);
    cpuid_featureset_set(&domain, rdrand->word * 32 + rdrand->bit);
    /* tsc is outside the levels; rdrand is a level feature x86-64-v3 lacks, but Xen
     * decides it ('!'): neither is excess. */
    ck_assert(cpuid_feature_is_xen_controlled(rdrand->word * 32 + rdrand->bit));
    ck_assert(cpuid_featureset_test(&universe, rdrand->word * 32 + rdrand->bit));
    ck_assert(!cpuid_featureset_test(&v3->features, rdrand->word * 32 + rdrand->bit));
    ck_assert_int_eq(cpuid_domain_policy_excess(&domain, &v3->features, &universe, &excess,
                                                &controlled), 0);
    ck_assert(cpuid_featureset_is_empty(&excess));
    ck_assert(cpuid_featureset_test(&controlled, rdrand->word * 32 + rdrand->bit));
    /* A whole-featureset baseline constrains tsc too. */
    ck_assert_int_eq(cpuid_domain_policy_excess(&domain, &v3->features, NULL, &excess, NULL),
                     MIG_ECOMPAT);
    ck_assert_uint_eq(cpuid_featureset_count(&excess), 1);
    ck_assert(cpuid_featureset_test(&excess, tsc->word * 32 + tsc->bit));
    cpuid_featureset_set(&domain, avx512f->word * 32 + avx512f->bit);
    ck_assert_int_eq(cpuid_domain_policy_excess(&domain, &v3->features, &universe, &excess,
                                                &controlled), MIG_ECOMPAT);
    ck_assert_uint_eq(cpuid_featureset_count(&excess), 1);
    ck_assert(cpuid_featureset_test(&excess, avx512f->word * 32 + avx512f->bit));
    ck_assert(cpuid_featureset_test(&controlled, rdrand->word * 32 + rdrand->bit));
}
END_TEST

/* A GPU capability from a recorded facts file of tests/gpu/facts. */
static struct cpuid_gpu_capability gpu_of(const char *facts_name)
{
    const char *src = getenv("XENMIG_SRCDIR");
    struct cpuid_gpu_facts *facts = malloc(sizeof(*facts));
    struct cpuid_gpu_capability capability;
    char path[4096];

    ck_assert_ptr_nonnull(facts);
    snprintf(path, sizeof(path), "%s/tests/gpu/facts/%s.json", src ? src : "../..", facts_name);
    ck_assert_msg(cpuid_gpu_facts_read_file(path, facts) == 0, "%s", mig_error_last());
    ck_assert_int_eq(cpuid_gpu_capability_from_facts(gpu_levels, facts, &capability), 0);
    free(facts);
    return capability;
}

static struct cpuid_host *host_named(const char *name)
{
    return cpuid_test_host_of(corpus, "Intel Xeon Gold 6148", name);
}

START_TEST(test_cluster_gpu_level_is_the_minimum_and_refuses)
{
    struct cpuid_gpu_capability h100 = gpu_of("nvidia-h100"), a100 = gpu_of("nvidia-a100");
    struct cpuid_gpu_capability t4 = gpu_of("nvidia-t4");
    struct cpuid_cluster *cluster = NULL, *again = NULL;
    struct cpuid_host *one = host_named("one"), *two = host_named("two");
    char shortfall[256], *json = NULL;
    bool pinned = true;

    ck_assert_int_eq(cpuid_cluster_new("gpus", &cluster), 0);
    ck_assert_ptr_null(cpuid_cluster_gpu_baseline(cluster, NULL));
    /* First member: the cluster takes its level. */
    ck_assert_int_eq(cpuid_cluster_gpu_check(cluster, gpu_levels, "one", &h100, shortfall,
                                             sizeof(shortfall)), 0);
    ck_assert_int_eq(cpuid_cluster_add(cluster, one, NULL), 0);
    ck_assert_int_eq(cpuid_cluster_gpu_record(cluster, gpu_levels, "one", &h100), 0);
    ck_assert_ptr_nonnull(strstr(cpuid_cluster_gpu_baseline(cluster, &pinned), "cuda-9.0"));
    ck_assert(!pinned);
    /* An A100 (cuda-8.0) is below it: refused with the shortfall. */
    ck_assert_int_eq(cpuid_cluster_gpu_check(cluster, gpu_levels, "two", &a100, shortfall,
                                             sizeof(shortfall)), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(shortfall, "needs cuda-9.0, host has cuda-8.0"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "'gpus'"));
    /* Pinned lower, it fits, and the minimum does not move while pinned. */
    ck_assert_int_eq(cpuid_cluster_gpu_pin(cluster, gpu_levels, "cuda-8.0", shortfall,
                                           sizeof(shortfall)), 0);
    ck_assert_int_eq(cpuid_cluster_gpu_check(cluster, gpu_levels, "two", &a100, NULL, 0), 0);
    ck_assert_int_eq(cpuid_cluster_add(cluster, two, NULL), 0);
    ck_assert_int_eq(cpuid_cluster_gpu_record(cluster, gpu_levels, "two", &a100), 0);
    ck_assert_str_eq(cpuid_cluster_gpu_baseline(cluster, &pinned), "cuda-8.0");
    ck_assert(pinned);
    /* Pinning above a member's level is refused naming it. */
    ck_assert_int_eq(cpuid_cluster_gpu_pin(cluster, gpu_levels, "cuda-9.0", shortfall,
                                           sizeof(shortfall)), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "member 'two'"));
    ck_assert_int_eq(cpuid_cluster_gpu_check(cluster, gpu_levels, "three", &t4, shortfall,
                                             sizeof(shortfall)), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(shortfall, "host has cuda-7.5 (Tesla T4)"));
    /* The levels survive the cluster file. */
    ck_assert_int_eq(cpuid_cluster_to_json(cluster, &json), 0);
    ck_assert_int_eq(cpuid_cluster_parse(json, strlen(json), "c.json", &again), 0);
    ck_assert_str_eq(cpuid_cluster_gpu_baseline(again, &pinned), "cuda-8.0");
    ck_assert(pinned);
    ck_assert_ptr_nonnull(strstr(cpuid_cluster_member_gpu_baseline(again, 1), "cuda-8.0"));
    free(json);
    cpuid_cluster_free(again);
    cpuid_cluster_free(cluster);
    cpuid_host_free(one);
    cpuid_host_free(two);
}
END_TEST

START_TEST(test_unpinned_cluster_gpu_level_goes_down_only)
{
    struct cpuid_gpu_capability h100 = gpu_of("nvidia-h100"), a10 = gpu_of("nvidia-a10");
    struct cpuid_cluster *cluster = NULL;
    struct cpuid_host *one = host_named("one"), *two = host_named("two");

    ck_assert_int_eq(cpuid_cluster_new("mixed", &cluster), 0);
    ck_assert_int_eq(cpuid_cluster_add(cluster, one, NULL), 0);
    ck_assert_int_eq(cpuid_cluster_gpu_record(cluster, gpu_levels, "one", &a10), 0);
    ck_assert_ptr_nonnull(strstr(cpuid_cluster_gpu_baseline(cluster, NULL), "cuda-8.6"));
    /* A stronger host joins; the cluster keeps the weaker level. */
    ck_assert_int_eq(cpuid_cluster_gpu_check(cluster, gpu_levels, "two", &h100, NULL, 0), 0);
    ck_assert_int_eq(cpuid_cluster_add(cluster, two, NULL), 0);
    ck_assert_int_eq(cpuid_cluster_gpu_record(cluster, gpu_levels, "two", &h100), 0);
    ck_assert_ptr_nonnull(strstr(cpuid_cluster_gpu_baseline(cluster, NULL), "cuda-8.6"));
    ck_assert_ptr_null(strstr(cpuid_cluster_gpu_baseline(cluster, NULL), "cuda-9.0"));
    cpuid_cluster_free(cluster);
    cpuid_host_free(one);
    cpuid_host_free(two);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpuid-libxl-mask");
    TCase *tc = tcase_create("mask");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_mask_levels_every_corpus_cpu);
    tcase_add_test(tc, test_known_pair_haswell_to_v2);
    tcase_add_test(tc, test_clflush_is_written_as_libxl_names_it);
    tcase_add_test(tc, test_unnamed_bit_is_refused_not_dropped);
    tcase_add_test(tc, test_read_back_excess);
    tcase_add_test(tc, test_cluster_gpu_level_is_the_minimum_and_refuses);
    tcase_add_test(tc, test_unpinned_cluster_gpu_level_goes_down_only);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
