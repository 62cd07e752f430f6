/*
 * test_xen_source.c: how the Xen source explains a domain that went away
 * during a migration (xen_domain_gone_reason(), libmig/backend/xen/
 * source.c).  A PVH guest that crashed (in the lab: a triple fault under
 * TCG) made the next migration fail with only "libxl could not suspend
 * domain N (libxl error -3)"; the reason now says the domain crashed or
 * is gone.  Needs no Xen: the inputs are what libxl_domain_info() said.
 */
#include "config.h"
/* xenctrl.h and libxl.h need GNU C */
#undef __STRICT_ANSI__

#include <check.h>
#include <stdbool.h>
#include <string.h>

#include <libxl.h>

#include "xen_private.h"

START_TEST(test_running_domain_is_not_gone)
{
    char why[64] = "untouched";

    ck_assert(!xen_domain_gone_reason(true, false, false, LIBXL_SHUTDOWN_REASON_UNKNOWN,
                                      why, sizeof(why)));
    ck_assert_str_eq(why, "untouched");
}
END_TEST

START_TEST(test_missing_domain)
{
    char why[128];

    ck_assert(xen_domain_gone_reason(false, false, false, LIBXL_SHUTDOWN_REASON_UNKNOWN,
                                     why, sizeof(why)));
    ck_assert_ptr_nonnull(strstr(why, "no longer exists"));
    ck_assert_ptr_nonnull(strstr(why, "on_crash"));
}
END_TEST

START_TEST(test_crashed_domain)
{
    char why[128];

    ck_assert(xen_domain_gone_reason(true, false, true, LIBXL_SHUTDOWN_REASON_CRASH,
                                     why, sizeof(why)));
    ck_assert_str_eq(why, "it crashed (shutdown reason 'crash')");
}
END_TEST

START_TEST(test_other_shutdowns_and_dying)
{
    char why[128];

    ck_assert(xen_domain_gone_reason(true, false, true, LIBXL_SHUTDOWN_REASON_POWEROFF,
                                     why, sizeof(why)));
    ck_assert_str_eq(why, "it has shut down (shutdown reason 'poweroff')");
    ck_assert(xen_domain_gone_reason(true, false, true, 77, why, sizeof(why)));
    ck_assert_str_eq(why, "it has shut down (shutdown reason 'unknown')");
    ck_assert(xen_domain_gone_reason(true, true, true, LIBXL_SHUTDOWN_REASON_CRASH,
                                     why, sizeof(why)));
    ck_assert_str_eq(why, "it is being destroyed");
}
END_TEST

START_TEST(test_short_buffer_is_terminated)
{
    char why[8];

    memset(why, 'x', sizeof(why));
    ck_assert(xen_domain_gone_reason(true, false, true, LIBXL_SHUTDOWN_REASON_CRASH,
                                     why, sizeof(why)));
    ck_assert_uint_eq(strlen(why), sizeof(why) - 1);
    ck_assert_str_eq(why, "it cras");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xen_source");
    TCase *tc = tcase_create("domain_gone_reason");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_running_domain_is_not_gone);
    tcase_add_test(tc, test_missing_domain);
    tcase_add_test(tc, test_crashed_domain);
    tcase_add_test(tc, test_other_shutdowns_and_dying);
    tcase_add_test(tc, test_short_buffer_is_terminated);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
