/*
 * test_ranged.c: the argument checks of xen_ranged_clean()
 * (libmig/backend/xen/ranged.c) that run before any hypercall, so they
 * need no Xen: each bad input gets its own code and a message quoting it.
 * The op itself is exercised on a real (patched) Xen by the lab's
 * ranged-check scenario (tests/lab/ranged-check.c, scripts/lab --ranged).
 */
#include "config.h"
/* xenctrl.h (the complete xc_hypercall_buffer_t) needs GNU C */
#undef __STRICT_ANSI__

#include <check.h>
#include <stdint.h>
#include <string.h>

#include <xenctrl.h>

#include "mig_error.h"
#include "ranged.h"

START_TEST(test_first_pfn_beyond_32_bits)
{
    double seconds = -1.0;

    mig_error_clear();
    ck_assert_int_eq(xen_ranged_clean(NULL, 7, 0x100000000ull, 8, NULL, &seconds), MIG_ELIMIT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "0x100000000"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "domain 7"));
    ck_assert(seconds == 0.0);
}
END_TEST

START_TEST(test_count_beyond_limit)
{
    mig_error_clear();
    ck_assert_int_eq(xen_ranged_clean(NULL, 3, 0, XEN_RANGED_MAX_PAGES + 1, NULL, NULL), MIG_ELIMIT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "262145"));
}
END_TEST

START_TEST(test_missing_bitmap)
{
    xc_hypercall_buffer_t empty;

    memset(&empty, 0, sizeof(empty));
    mig_error_clear();
    ck_assert_int_eq(xen_ranged_clean(NULL, 3, 16, 8, NULL, NULL), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "without a bitmap"));
    /* a buffer struct that was never allocated is as bad as none */
    ck_assert_int_eq(xen_ranged_clean(NULL, 3, 16, 8, &empty, NULL), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "0x10"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ranged");
    TCase *tc = tcase_create("arguments");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_first_pfn_beyond_32_bits);
    tcase_add_test(tc, test_count_beyond_limit);
    tcase_add_test(tc, test_missing_bitmap);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
