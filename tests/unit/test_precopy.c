/*
 * test_precopy.c: the convergence policies, driven by a modelled guest
 * (constant dirty rate over a working set) and a modelled link, so every
 * expected decision follows from arithmetic the test states.
 */
#include "config.h"

#include <check.h>
#include <string.h>

#include "mig_precopy.h"

#define PAGE 4096.0

struct model {
    double link;          /* bytes/s */
    double dirty_rate;    /* pages/s */
    double working_set;   /* pages the guest dirties at most */
};

/* Run pre-copy on the model until the policy stops; return the decision. */
static enum mig_precopy_decision run(struct mig_precopy *p, const struct model *m,
                                     double start_pages, unsigned int *rounds,
                                     struct mig_precopy_estimate *est)
{
    double to_send = start_pages;

    for (unsigned int i = 0; i < 100; i++) {
        struct mig_precopy_round r = { 0 };
        double t = to_send * PAGE / m->link;
        double dirty = m->dirty_rate * t;
        enum mig_precopy_decision d;

        if (dirty > m->working_set)
            dirty = m->working_set;
        r.iteration = i;
        r.pages_sent = (uint64_t)to_send;
        r.bytes_sent = (uint64_t)(to_send * PAGE);
        r.seconds = t;
        r.dirty_pages = (uint64_t)dirty;
        r.dirty_window = t;
        d = mig_precopy_decide(p, &r, est);
        *rounds = i + 1;
        if (d != MIG_PRECOPY_CONTINUE)
            return d;
        to_send = dirty;
    }
    ck_abort_msg("policy never stopped");
    return MIG_PRECOPY_CONTINUE;
}

START_TEST(test_converging_guest_meets_target)
{
    struct mig_precopy_options o = MIG_PRECOPY_OPTIONS_INIT;
    struct mig_precopy *p;
    struct mig_precopy_estimate est;
    struct model m = { 100e6, 1000, 50000 };     /* 100 MB/s, 4 MB/s dirtied */
    unsigned int rounds;

    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    ck_assert_int_eq(run(p, &m, 262144, &rounds, &est), MIG_PRECOPY_STOP_AND_COPY);
    ck_assert_str_eq(est.reason, "expected downtime within target");
    ck_assert(est.expected_downtime_ms <= 300);
    ck_assert(est.expected_downtime_ms > 20);       /* the overhead is included */
    ck_assert_uint_ge(rounds, 2);
    ck_assert_uint_le(rounds, 6);
    ck_assert_double_eq_tol(est.link_rate, 100e6, 1e3);
    mig_precopy_free(p);
}
END_TEST

START_TEST(test_tighter_target_takes_more_rounds)
{
    struct mig_precopy_options o = MIG_PRECOPY_OPTIONS_INIT;
    struct mig_precopy *p;
    struct mig_precopy_estimate est;
    struct model m = { 100e6, 1000, 50000 };
    unsigned int loose_rounds, tight_rounds;

    o.max_downtime_ms = 1000;
    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    run(p, &m, 262144, &loose_rounds, &est);
    mig_precopy_free(p);
    o.max_downtime_ms = 25;
    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    ck_assert_int_eq(run(p, &m, 262144, &tight_rounds, &est), MIG_PRECOPY_STOP_AND_COPY);
    ck_assert(est.expected_downtime_ms <= 25);
    ck_assert_uint_gt(tight_rounds, loose_rounds);
    mig_precopy_free(p);
}
END_TEST

START_TEST(test_fast_dirtier_forced_or_aborted)
{
    struct mig_precopy_options o = MIG_PRECOPY_OPTIONS_INIT;
    struct mig_precopy *p;
    struct mig_precopy_estimate est;
    /* 30000 pages/s dirtied > 24414 pages/s the link drains. */
    struct model m = { 100e6, 30000, 1e9 };
    unsigned int rounds;

    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    ck_assert_int_eq(run(p, &m, 262144, &rounds, &est), MIG_PRECOPY_STOP_AND_COPY);
    ck_assert_ptr_nonnull(strstr(est.reason, "forcing switchover"));
    ck_assert(est.expected_downtime_ms > 300);
    ck_assert_uint_eq(rounds, 2);
    mig_precopy_free(p);

    o.on_no_convergence = MIG_PRECOPY_ABORT;
    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    ck_assert_int_eq(run(p, &m, 262144, &rounds, &est), MIG_PRECOPY_GIVE_UP);
    ck_assert_ptr_nonnull(strstr(est.reason, "as fast as the link"));
    mig_precopy_free(p);
}
END_TEST

START_TEST(test_stalled_progress_forces)
{
    struct mig_precopy_options o = MIG_PRECOPY_OPTIONS_INIT;
    struct mig_precopy *p;
    struct mig_precopy_estimate est;
    struct mig_precopy_round r = { 0 };
    enum mig_precopy_decision d = MIG_PRECOPY_CONTINUE;
    unsigned int i;

    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    /* The same 20000 dirty pages every round, dirtied over 10 s. */
    for (i = 0; i < 10 && d == MIG_PRECOPY_CONTINUE; i++) {
        r.iteration = i;
        r.pages_sent = 20000;
        r.bytes_sent = 20000 * 4096;
        r.seconds = 1;
        r.dirty_pages = 20000;
        r.dirty_window = 10;
        d = mig_precopy_decide(p, &r, &est);
    }
    ck_assert_int_eq(d, MIG_PRECOPY_STOP_AND_COPY);
    ck_assert_ptr_nonnull(strstr(est.reason, "no progress"));
    ck_assert_uint_eq(i, 1 + o.stall_rounds);
    mig_precopy_free(p);
}
END_TEST

START_TEST(test_round_limit)
{
    struct mig_precopy_options o = MIG_PRECOPY_OPTIONS_INIT;
    struct mig_precopy *p;
    struct mig_precopy_estimate est;
    struct model m = { 100e6, 1000, 50000 };
    unsigned int rounds;

    o.max_rounds = 2;
    o.max_downtime_ms = 1;          /* unreachable: overhead alone is 20 ms */
    o.on_no_convergence = MIG_PRECOPY_ABORT;
    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    ck_assert_int_eq(run(p, &m, 262144, &rounds, &est), MIG_PRECOPY_GIVE_UP);
    ck_assert_uint_eq(rounds, 2);
    ck_assert_ptr_nonnull(strstr(est.reason, "round limit"));
    mig_precopy_free(p);
}
END_TEST

START_TEST(test_xen_default_policy)
{
    struct mig_precopy_options o = MIG_PRECOPY_OPTIONS_INIT;
    struct mig_precopy *p;
    struct mig_precopy_estimate est;
    struct model busy = { 100e6, 30000, 200000 };
    struct model idle = { 100e6, 0.001, 10 };
    unsigned int rounds;

    o.kind = MIG_PRECOPY_XEN_DEFAULT;
    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    ck_assert_int_eq(run(p, &busy, 262144, &rounds, &est), MIG_PRECOPY_STOP_AND_COPY);
    ck_assert_uint_eq(rounds, 5);
    ck_assert_str_eq(est.reason, "xen-default: 5 rounds done");
    mig_precopy_free(p);
    ck_assert_int_eq(mig_precopy_new(&o, &p), 0);
    ck_assert_int_eq(run(p, &idle, 262144, &rounds, &est), MIG_PRECOPY_STOP_AND_COPY);
    ck_assert_uint_eq(rounds, 1);
    ck_assert_str_eq(est.reason, "xen-default: fewer than 50 dirty pages");
    mig_precopy_free(p);
}
END_TEST

START_TEST(test_bad_options)
{
    struct mig_precopy_options o = MIG_PRECOPY_OPTIONS_INIT;
    struct mig_precopy *p = (void *)1;

    o.max_downtime_ms = 0;
    ck_assert_int_eq(mig_precopy_new(&o, &p), MIG_EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "max_downtime_ms"));
    o = (struct mig_precopy_options)MIG_PRECOPY_OPTIONS_INIT;
    o.version = 0;
    ck_assert_int_eq(mig_precopy_new(&o, &p), MIG_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("precopy");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_converging_guest_meets_target);
    tcase_add_test(tc, test_tighter_target_takes_more_rounds);
    tcase_add_test(tc, test_fast_dirtier_forced_or_aborted);
    tcase_add_test(tc, test_stalled_progress_forces);
    tcase_add_test(tc, test_round_limit);
    tcase_add_test(tc, test_xen_default_policy);
    tcase_add_test(tc, test_bad_options);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
