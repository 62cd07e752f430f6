/*
 * test_migrate_metadata.c: the pre-flight members `xl-ext migrate` puts in
 * a Xen domain's prologue metadata (xl-ext/migrate_metadata.c): recorded
 * names go through as they are, and a name that would break the JSON is
 * refused instead of reaching the destination.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mig_error.h"
#include "migrate_metadata.h"

#define HEX "178bfbff:f6f83203"
#define HEX19 "178bfbff:f6f83203:2c100800:00000121:00000000:009c47ab:0:0:0:0:0:0:0:0:0:0:0:0:0"

START_TEST(test_names_written_as_they_are)
{
    char *out = (char *)1;

    ck_assert_int_eq(migrate_metadata_members(HEX, "x86-64-v2", "d3d11.0-gl4.1,cuda-8.0", &out), 0);
    ck_assert_str_eq(out, "\"features\":\"" HEX "\",\"cpuid_baseline\":\"x86-64-v2\","
                     "\"gpu_baseline\":\"d3d11.0-gl4.1,cuda-8.0\"");
    free(out);
    ck_assert_int_eq(migrate_metadata_members(HEX, NULL, NULL, &out), 0);
    ck_assert_str_eq(out, "\"features\":\"" HEX "\"");
    free(out);
    ck_assert_int_eq(migrate_metadata_members(HEX, "cluster", NULL, &out), 0);
    ck_assert_str_eq(out, "\"features\":\"" HEX "\",\"cpuid_baseline\":\"cluster\"");
    free(out);
    /* a cpuid_baseline of hex words goes through too */
    ck_assert_int_eq(migrate_metadata_members(HEX, HEX19, NULL, &out), 0);
    ck_assert_str_eq(out, "\"features\":\"" HEX "\",\"cpuid_baseline\":\"" HEX19 "\"");
    free(out);
}
END_TEST

START_TEST(test_quote_in_baseline_refused)
{
    char *out = (char *)1;

    ck_assert_int_eq(migrate_metadata_members(HEX, "v2\",\"features\":\"0", NULL, &out),
                     MIG_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(mig_error_last(), "recorded baseline 'v2\",\"features\":\"0' is not a name");
    ck_assert_int_eq(migrate_metadata_members(HEX, "a\\b", NULL, &out), MIG_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_quote_in_gpu_baseline_refused)
{
    char *out = (char *)1;

    ck_assert_int_eq(migrate_metadata_members(HEX, "x86-64-v2", "gl4.1\"", &out), MIG_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(mig_error_last(), "recorded GPU baseline 'gl4.1\"' is not a name");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migrate_metadata");
    TCase *tc = tcase_create("members");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_names_written_as_they_are);
    tcase_add_test(tc, test_quote_in_baseline_refused);
    tcase_add_test(tc, test_quote_in_gpu_baseline_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
