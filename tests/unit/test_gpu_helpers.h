/*
 * test_gpu_helpers.h: file helpers shared by the vGPU room's Check suites
 * (test_gpu_level.c, test_gpu_probe.c, test_domain_config.c).  Paths are
 * relative to $XENMIG_SRCDIR, which the test harness sets.
 */
#ifndef XENMIG_TEST_GPU_HELPERS_H
#define XENMIG_TEST_GPU_HELPERS_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"
#include "mig_error.h"

/* $XENMIG_SRCDIR/relative into buf. */
static inline const char *test_src_path(char *buf, size_t size, const char *relative)
{
    const char *src = getenv("XENMIG_SRCDIR");

    snprintf(buf, size, "%s/%s", src ? src : "..", relative);
    return buf;
}

/* Whole file as a malloc'd NUL-terminated string; fails the test if unreadable. */
static inline char *test_read_file(const char *path, size_t *length_out)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (length_out)
        *length_out = (size_t)n;
    return buf;
}

/* The shipped level table (cpuid-policy/data/gpu-levels). */
static inline cpuid_gpu_level_table *test_shipped_levels(void)
{
    cpuid_gpu_level_table *table = NULL;
    char path[4096];

    ck_assert_msg(cpuid_gpu_level_table_load(test_src_path(path, sizeof(path),
                                                     "cpuid-policy/data/gpu-levels"), &table) == 0,
                  "%s", mig_error_last());
    return table;
}

/* Recorded facts tests/gpu/facts/NAME. */
static inline void test_recorded_facts(const char *name, struct cpuid_gpu_facts *facts)
{
    char relative[256], path[4096], *text;
    size_t length;

    snprintf(relative, sizeof(relative), "tests/gpu/facts/%s", name);
    text = test_read_file(test_src_path(path, sizeof(path), relative), &length);
    ck_assert_msg(cpuid_gpu_facts_from_json_text(text, length, name, facts) == 0, "%s", mig_error_last());
    free(text);
}

/* The levels `levels` derives from recorded facts tests/gpu/facts/NAME. */
static inline void test_recorded_capability(const cpuid_gpu_level_table *levels, const char *name,
                                            struct cpuid_gpu_capability *cap)
{
    struct cpuid_gpu_facts *facts = malloc(sizeof(*facts));

    ck_assert_ptr_nonnull(facts);
    test_recorded_facts(name, facts);
    ck_assert_msg(cpuid_gpu_capability_from_facts(levels, facts, cap) == 0, "%s: %s", name,
                  mig_error_last());
    free(facts);
}

/* Run one suite of one test case with TAP output; the exit status of main(). */
static inline int test_run_suite(const char *name, TCase *tc)
{
    Suite *s = suite_create(name);
    SRunner *sr;
    int failed;

    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif /* XENMIG_TEST_GPU_HELPERS_H */
