/*
 * test_xen_source.c: how the Xen source explains a domain that went away
 * during a migration (xen_domain_gone_reason(), libmig/backend/xen/
 * source.c).  A PVH guest that crashed (in the lab: a triple fault under
 * TCG) made the next migration fail with only "libxl could not suspend
 * domain N (libxl error -3)"; the reason now says the domain crashed or
 * is gone.  Needs no Xen: the inputs are what libxl_domain_info() said.
 *
 * And the throttle's arithmetic (xen_throttle_cap(), libmig/backend/xen/
 * throttle.c): the cap for a percent of what the domain had, which
 * schedulers have a cap, the refusals quoting their input; and that the
 * configuration sent to the destination carries the cap the domain had
 * before the throttle (xen_throttle_config()).  The libxl calls around
 * them run only on Xen: the lab's sched_check (tests/lab/README.md).
 */
#include "config.h"
/* xenctrl.h and libxl.h need GNU C */
#undef __STRICT_ANSI__

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libxl.h>

#include "mig_error.h"
#include "throttle.h"
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

/* xen_throttle_cap() that must succeed: the cap it gives. */
static int cap_of(libxl_scheduler sched, int original_cap, unsigned int vcpus,
                  unsigned int percent)
{
    int cap = -42;

    ck_assert_int_eq(xen_throttle_cap(7, sched, original_cap, vcpus, percent, &cap), 0);
    return cap;
}

START_TEST(test_cap_of_an_uncapped_domain)
{
    /* No cap: the base is what its online vCPUs can use, 100 each. */
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 1, 50), 50);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 1, 1), 1);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 1, 99), 99);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 2, 50), 100);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 4, 25), 100);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT, 0, 3, 10), 30);
}
END_TEST

START_TEST(test_cap_of_a_capped_domain)
{
    /* A cap of its own is the base, whatever its vCPUs. */
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 200, 4, 50), 100);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT, 80, 1, 50), 40);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 100, 0, 30), 30);
}
END_TEST

START_TEST(test_cap_rounds_up_and_is_never_zero)
{
    /* ceil(base * percent / 100), at least 1: 0 would mean no cap at all. */
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 150, 2, 33), 50);   /* 49.5 */
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 1, 33), 33);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 3, 33), 99);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 1, 1, 50), 1);      /* 0.5 */
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT, 1, 8, 1), 1);        /* 0.01 */
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 3, 1, 50), 2);      /* 1.5 */
}
END_TEST

START_TEST(test_schedulers_without_a_cap)
{
    static const struct { libxl_scheduler sched; const char *name; } none[] = {
        { LIBXL_SCHEDULER_RTDS, "'rtds'" },
        { LIBXL_SCHEDULER_NULL, "'null'" },
        { LIBXL_SCHEDULER_ARINC653, "'arinc653'" },
        { LIBXL_SCHEDULER_SEDF, "'sedf'" },
        { LIBXL_SCHEDULER_UNKNOWN, "'unknown'" },
    };

    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        int cap = -42;

        ck_assert_int_eq(xen_throttle_cap(7, none[i].sched, 0, 2, 50, &cap), MIG_EUNSUPP);
        ck_assert_int_eq(cap, -42);
        ck_assert_msg(strstr(mig_error_last(), none[i].name),
                      "'%s' does not name the scheduler %s", mig_error_last(), none[i].name);
        ck_assert_ptr_nonnull(strstr(mig_error_last(), "domain 7 "));
    }
}
END_TEST

START_TEST(test_refusals_quote_their_input)
{
    static const unsigned int bad[] = { 0, 100, 101, 4000000000u };
    char want[32];
    int cap = -42;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(xen_throttle_cap(7, LIBXL_SCHEDULER_CREDIT2, 0, 2, bad[i], &cap),
                         MIG_EINVAL);
        snprintf(want, sizeof(want), " %u%% ", bad[i]);
        ck_assert_msg(strstr(mig_error_last(), want), "'%s' does not quote%s",
                      mig_error_last(), want);
    }
    ck_assert_int_eq(xen_throttle_cap(7, LIBXL_SCHEDULER_CREDIT2, -5, 2, 50, &cap),
                     MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "-5"));
    ck_assert_int_eq(xen_throttle_cap(7, LIBXL_SCHEDULER_CREDIT, 0, 0, 50, &cap),
                     MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "no online vCPU"));
    /* 1000 vCPUs at 99%: 99000, beyond Xen's 16-bit cap. */
    ck_assert_int_eq(xen_throttle_cap(7, LIBXL_SCHEDULER_CREDIT2, 0, 1000, 99, &cap),
                     MIG_EUNSUPP);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "99000"));
    ck_assert_int_eq(cap, -42);
    ck_assert_int_eq(cap_of(LIBXL_SCHEDULER_CREDIT2, 0, 655, 99), 64845);
}
END_TEST

START_TEST(test_config_carries_the_cap_it_had)
{
    struct xen_throttle t;
    libxl_domain_sched_params config;

    xen_throttle_init(&t);
    /* What retrieve_domain_configuration read while the domain was capped at 25. */
    libxl_domain_sched_params_init(&config);
    config.sched = LIBXL_SCHEDULER_CREDIT2;
    config.weight = 512;
    config.cap = 25;
    xen_throttle_config(&t, &config);              /* nothing saved: as read */
    ck_assert_int_eq(config.cap, 25);
    t.saved = true;
    t.original.sched = LIBXL_SCHEDULER_CREDIT2;
    t.original.weight = 256;
    t.original.cap = 0;
    t.cap = 25;
    xen_throttle_config(&t, &config);
    ck_assert_int_eq(config.cap, 0);
    ck_assert_int_eq(config.weight, 512);          /* only the cap is ours */
    ck_assert_int_eq(config.sched, LIBXL_SCHEDULER_CREDIT2);
    xen_throttle_forget(&t);
    ck_assert(!t.saved);
    config.cap = 25;
    xen_throttle_config(&t, &config);
    ck_assert_int_eq(config.cap, 25);
    libxl_domain_sched_params_dispose(&config);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xen_source");
    TCase *tc = tcase_create("domain_gone_reason");
    TCase *throttle = tcase_create("throttle");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_running_domain_is_not_gone);
    tcase_add_test(tc, test_missing_domain);
    tcase_add_test(tc, test_crashed_domain);
    tcase_add_test(tc, test_other_shutdowns_and_dying);
    tcase_add_test(tc, test_short_buffer_is_terminated);
    suite_add_tcase(s, tc);
    tcase_add_test(throttle, test_cap_of_an_uncapped_domain);
    tcase_add_test(throttle, test_cap_of_a_capped_domain);
    tcase_add_test(throttle, test_cap_rounds_up_and_is_never_zero);
    tcase_add_test(throttle, test_schedulers_without_a_cap);
    tcase_add_test(throttle, test_refusals_quote_their_input);
    tcase_add_test(throttle, test_config_carries_the_cap_it_had);
    suite_add_tcase(s, throttle);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
