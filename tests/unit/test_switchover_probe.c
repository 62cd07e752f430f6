/*
 * test_switchover_probe.c: the switchover probe (xl-ext/switchover_probe.c):
 * a type's prior times the clamped scale, $XENMIG_PROBE_REFERENCE_US
 * read or refused, the probe's runs (a program that fails or does not end
 * within the budget gives no figures and leaves no child), and the glue:
 * a key with no history takes the probe's figures, one with history the
 * store's, and a dry run seeds the store.  No test asserts a time beyond
 * "positive and finite".  Each test runs in its own process (Check's
 * fork) with its own XENMIG_STATE_DIR.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mig_error.h"
#include "switchover_probe.h"

const char *xl_ext_prog = "xl-ext";

static char top[64];

static void fresh_dir(void)
{
    char dir[128];

    snprintf(top, sizeof(top), "/tmp/xenmig-probe-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(dir, sizeof(dir), "%s/state", top);
    setenv("XENMIG_STATE_DIR", dir, 1);
    unsetenv(SWITCHOVER_PROBE_REFERENCE_ENV);
    switchover_costs_forget_warnings();
}

static void remove_all(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}

static double table_reference(const char *key)
{
    double us = 0;

    unsetenv(SWITCHOVER_PROBE_REFERENCE_ENV);
    ck_assert_int_eq(switchover_probe_reference_us(key, &us), 0);
    ck_assert(isfinite(us) && us > 0);
    return us;
}

#define ck_assert_near(a, b) ck_assert_double_eq_tol((a), (b), 1e-9 * (1 + fabs(b)))

/* Twice the reference: each part 2^0.6 (1.52) times its prior, the fixed
 * cost their sum; 6.5 times (the lab's PV probe under load): 3.07 times. */
START_TEST(test_prior_times_scale)
{
    struct switchover_probe one, two, loaded;
    double ref = table_reference("xen-pv"), k = pow(2.0, 0.6);

    ck_assert_near(SWITCHOVER_PROBE_EXPONENT, 0.6);
    ck_assert_int_eq(switchover_probe_figures("xen-pv", ref, ref, &one), 0);
    ck_assert_near(one.scale, 1.0);
    ck_assert(!one.clamped);
    ck_assert(one.fixed_ms > 0);
    ck_assert_int_eq(switchover_probe_figures("xen-pv", 2 * ref, ref, &two), 0);
    ck_assert_near(two.scale, k);
    ck_assert(!two.clamped);
    ck_assert_near(two.probe_us, 2 * ref);
    ck_assert_near(two.reference_us, ref);
    ck_assert_near(two.parts.pause_ms, k * one.parts.pause_ms);
    ck_assert_near(two.parts.state_ms, k * one.parts.state_ms);
    ck_assert_near(two.parts.destination_ms, k * one.parts.destination_ms);
    ck_assert_near(two.parts.resume_ms, k * one.parts.resume_ms);
    ck_assert_int_eq(switchover_probe_figures("xen-pv", 162630, 25100, &loaded), 0);
    ck_assert_double_eq_tol(loaded.scale, 3.07, 0.005);
    ck_assert_double_eq_tol(loaded.fixed_ms, 1290, 2);
    ck_assert_near(two.fixed_ms, two.parts.pause_ms + two.parts.state_ms +
                                 two.parts.destination_ms + two.parts.resume_ms);
}
END_TEST

/* The priors: about 420, 500 and 2100 ms at scale 1 (docs/architecture.md). */
START_TEST(test_priors)
{
    static const struct { const char *key; double fixed_ms; } want[] = {
        { "xen-pv", 420 }, { "xen-pvh", 500 }, { "xen-hvm", 2100 },
    };
    struct switchover_probe p;

    for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        double ref = table_reference(want[i].key);

        ck_assert_int_eq(switchover_probe_figures(want[i].key, ref, ref, &p), 0);
        ck_assert_double_eq_tol(p.fixed_ms, want[i].fixed_ms, 0.5);
        /* the destination is each Xen type's largest part */
        ck_assert(p.parts.destination_ms > p.parts.pause_ms);
    }
    ck_assert_int_eq(switchover_probe_figures("sim", table_reference("sim"),
                                              table_reference("sim"), &p), 0);
    ck_assert(p.fixed_ms > 0 && p.fixed_ms < 20);
}
END_TEST

/* A save's priors: about 100, 150 and 410 ms, no destination's restore in
 * them, each under its migration's (docs/architecture.md). */
START_TEST(test_save_priors)
{
    static const struct { const char *key, *migration; double fixed_ms; } want[] = {
        { "xen-pv-save", "xen-pv", 98.9 }, { "xen-pvh-save", "xen-pvh", 147.4 },
        { "xen-hvm-save", "xen-hvm", 411.7 },
    };
    struct switchover_probe p, m;

    for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        double ref = table_reference(want[i].key);

        ck_assert_double_eq(ref, table_reference(want[i].migration));
        ck_assert_int_eq(switchover_probe_figures(want[i].key, ref, ref, &p), 0);
        ck_assert_int_eq(switchover_probe_figures(want[i].migration, ref, ref, &m), 0);
        ck_assert_double_eq_tol(p.fixed_ms, want[i].fixed_ms, 0.5);
        ck_assert_double_eq(p.parts.destination_ms, 0);
        ck_assert(p.fixed_ms < m.fixed_ms);
    }
    ck_assert_int_eq(switchover_probe_figures("sim-save", table_reference("sim-save"),
                                              table_reference("sim-save"), &p), 0);
    ck_assert(p.fixed_ms > 0 && p.fixed_ms < 200);
}
END_TEST

/* The scale is clamped to 0.05..20, and says so. */
START_TEST(test_clamped)
{
    struct switchover_probe p, one;
    double high = 100 * pow(SWITCHOVER_PROBE_SCALE_MAX, 1 / SWITCHOVER_PROBE_EXPONENT);
    double low = 100 * pow(SWITCHOVER_PROBE_SCALE_MIN, 1 / SWITCHOVER_PROBE_EXPONENT);

    ck_assert_int_eq(switchover_probe_figures("xen-hvm", 100, 100, &one), 0);
    ck_assert_int_eq(switchover_probe_figures("xen-hvm", 100000, 100, &p), 0);
    ck_assert_near(p.scale, SWITCHOVER_PROBE_SCALE_MAX);
    ck_assert(p.clamped);
    ck_assert_near(p.fixed_ms, one.fixed_ms * SWITCHOVER_PROBE_SCALE_MAX);
    ck_assert_int_eq(switchover_probe_figures("xen-hvm", 0.1, 100, &p), 0);
    ck_assert_near(p.scale, SWITCHOVER_PROBE_SCALE_MIN);
    ck_assert(p.clamped);
    ck_assert_near(p.parts.resume_ms, one.parts.resume_ms * SWITCHOVER_PROBE_SCALE_MIN);
    /* just inside the bounds nothing is clamped, just outside it is */
    ck_assert_int_eq(switchover_probe_figures("xen-hvm", high * 0.999, 100, &p), 0);
    ck_assert(!p.clamped);
    ck_assert_int_eq(switchover_probe_figures("xen-hvm", high * 1.001, 100, &p), 0);
    ck_assert(p.clamped);
    ck_assert_int_eq(switchover_probe_figures("xen-hvm", low * 1.001, 100, &p), 0);
    ck_assert(!p.clamped);
    ck_assert_int_eq(switchover_probe_figures("xen-hvm", low * 0.999, 100, &p), 0);
    ck_assert(p.clamped);
}
END_TEST

/* Times that are no times, and keys without a prior, are refused. */
START_TEST(test_figures_refused)
{
    static const double bad[] = { 0, -1, 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0 };
    struct switchover_probe p;
    double us;

    for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(switchover_probe_figures("xen-pv", bad[i], 100, &p), MIG_EINVAL);
        ck_assert_int_eq(switchover_probe_figures("xen-pv", 100, bad[i], &p), MIG_EINVAL);
    }
    ck_assert_int_eq(switchover_probe_figures("xen-arm", 100, 100, &p), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "xen-arm"));
    ck_assert_int_eq(switchover_probe_reference_us("hvm", &us), MIG_EINVAL);
}
END_TEST

/* $XENMIG_PROBE_REFERENCE_US: the Xen keys' reference; empty is unset. */
START_TEST(test_reference_override)
{
    double sim = table_reference("sim"), xen = table_reference("xen-hvm"), us;

    setenv(SWITCHOVER_PROBE_REFERENCE_ENV, "", 1);
    ck_assert_int_eq(switchover_probe_reference_us("xen-hvm", &us), 0);
    ck_assert_near(us, xen);
    setenv(SWITCHOVER_PROBE_REFERENCE_ENV, "31250.5", 1);
    ck_assert_int_eq(switchover_probe_reference_us("xen-hvm", &us), 0);
    ck_assert_near(us, 31250.5);
    ck_assert_int_eq(switchover_probe_reference_us("xen-pv", &us), 0);
    ck_assert_near(us, 31250.5);
    /* the sim's prior was measured on its own host: its reference stays */
    ck_assert_int_eq(switchover_probe_reference_us("sim", &us), 0);
    ck_assert_near(us, sim);
    setenv(SWITCHOVER_PROBE_REFERENCE_ENV, ".5", 1);
    ck_assert_int_eq(switchover_probe_reference_us("xen-pvh", &us), 0);
    ck_assert_near(us, 0.5);
}
END_TEST

/* Not a positive finite number of µs: refused, the message quoting it. */
static const char *const bad_reference[] = {
    "abc", "0", "-5", "+5", " 5", "5 ", "5x", "inf", "nan", "1e400", "1e8", "0.0",
};

START_TEST(test_reference_refused)
{
    double us = 7;

    setenv(SWITCHOVER_PROBE_REFERENCE_ENV, bad_reference[_i], 1);
    ck_assert_int_eq(switchover_probe_reference_us("xen-pv", &us), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), SWITCHOVER_PROBE_REFERENCE_ENV));
    {
        char quoted[64];

        snprintf(quoted, sizeof(quoted), "'%s'", bad_reference[_i]);
        ck_assert_msg(strstr(mig_error_last(), quoted), "%s", mig_error_last());
    }
    ck_assert_int_eq(switchover_probe_reference_us("sim", &us), 0);
}
END_TEST

/* No child of this process is left, running or unreaped. */
static void assert_no_child(void)
{
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}

/* A probe that runs: a positive, finite median. */
START_TEST(test_measure)
{
    static const char *const sh[] = { "/bin/sh", "-c", ":", NULL };
    double us = -1;
    unsigned int done = 0;

    ck_assert_int_eq(switchover_probe_measure(sh, 3, 60000, &us, &done), 0);
    ck_assert(isfinite(us) && us > 0);
    ck_assert_uint_eq(done, 3);
    us = -1;
    ck_assert_int_eq(switchover_probe_measure(sh, 4, 60000, &us, &done), 0);
    ck_assert(isfinite(us) && us > 0);
    ck_assert_uint_eq(done, 4);
    assert_no_child();
}
END_TEST

/* A program that cannot start or fails: no figures, no child left. */
START_TEST(test_measure_fails)
{
    static const char *const missing[] = { "/nonexistent/xenmig-probe", NULL };
    static const char *const fails[] = { "/bin/sh", "-c", "exit 3", NULL };
    static const char *const relative[] = { "sh", "-c", ":", NULL };
    static const char *const sh[] = { "/bin/sh", "-c", ":", NULL };
    double us = 7;
    unsigned int done = 9;

    ck_assert_int_eq(switchover_probe_measure(missing, 3, 60000, &us, &done), MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "/nonexistent/xenmig-probe"));
    ck_assert_int_eq(switchover_probe_measure(fails, 3, 60000, &us, &done), MIG_EIO);
    ck_assert_int_eq(switchover_probe_measure(relative, 3, 60000, &us, &done), MIG_EINVAL);
    ck_assert_int_eq(switchover_probe_measure(sh, 0, 60000, &us, &done), MIG_EINVAL);
    ck_assert_int_eq(switchover_probe_measure(sh, 17, 60000, &us, &done), MIG_EINVAL);
    ck_assert_int_eq(switchover_probe_measure(sh, 3, 0, &us, &done), MIG_EINVAL);
    ck_assert(us == 7 && done == 9);
    assert_no_child();
}
END_TEST

/* A program that does not end within the budget is killed and reaped. */
START_TEST(test_measure_times_out)
{
    static const char *const hangs[] = { "/bin/sh", "-c", "exec sleep 600", NULL };
    double us = 7;
    unsigned int done = 9;

    ck_assert_int_eq(switchover_probe_measure(hangs, 3, 100, &us, &done), MIG_ELIMIT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "did not end within"));
    ck_assert(us == 7 && done == 9);
    assert_no_child();
}
END_TEST

/* The runs that ended within the budget count; the one still going is killed. */
START_TEST(test_measure_keeps_runs_within_budget)
{
    char script[512], mark[128];
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    double us = -1;
    unsigned int done = 9;

    fresh_dir();
    /* the first run leaves a mark and exits; every later one hangs */
    snprintf(mark, sizeof(mark), "%s/ran", top);
    snprintf(script, sizeof(script), "if [ -e '%s' ]; then exec sleep 600; fi; : >'%s'",
             mark, mark);
    ck_assert_int_eq(switchover_probe_measure(argv, 5, 5000, &us, &done), 0);
    ck_assert_uint_eq(done, 1);
    ck_assert(isfinite(us) && us > 0);
    assert_no_child();
    remove_all();
}
END_TEST

/* No history: the probe's figures, said to come from a probe. */
START_TEST(test_use_probes_without_history)
{
    struct mig_precopy_options policy = MIG_PRECOPY_OPTIONS_INIT;
    struct migrate_output out = { .fixed_cost_learned = 3 };
    struct switchover_probe p;

    fresh_dir();
    switchover_probe_use("migrate", "xen-hvm", &p, &policy, &out);
    ck_assert_ptr_eq(out.probe, &p);
    ck_assert(out.fixed_cost_seeded);
    ck_assert_uint_eq(out.fixed_cost_learned, 0);
    ck_assert(isfinite(p.probe_us) && p.probe_us > 0);
    ck_assert(p.runs >= 1 && p.runs <= SWITCHOVER_PROBE_RUNS);
    ck_assert(p.scale >= SWITCHOVER_PROBE_SCALE_MIN && p.scale <= SWITCHOVER_PROBE_SCALE_MAX);
    ck_assert_uint_eq(policy.overhead_ms, (unsigned int)(p.fixed_ms + 0.5));
    /* nothing is written before the migration ends */
    ck_assert_int_eq(access(top, F_OK), 0);
    {
        char path[4096];

        switchover_costs_path(path, sizeof(path));
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    remove_all();
}
END_TEST

/* History (learned, or a seed): the store's figures, no probe. */
START_TEST(test_use_keeps_history)
{
    struct mig_precopy_options policy = MIG_PRECOPY_OPTIONS_INIT;
    struct migrate_output out = { 0 };
    struct switchover_parts seed = { 10, 1, 40, 5 };
    struct mig_migrate_result r;
    struct switchover_probe p;

    fresh_dir();
    ck_assert_int_eq(switchover_costs_seed("xen-pv", &seed), 0);
    switchover_probe_use("migrate", "xen-pv", &p, &policy, &out);
    ck_assert_ptr_null(out.probe);
    ck_assert(out.fixed_cost_seeded);
    ck_assert_uint_eq(policy.overhead_ms, 56);
    memset(&r, 0, sizeof(r));
    r.succeeded = true;
    r.downtime_parts.pause = 0.1;
    r.downtime_parts.destination = 0.2;
    switchover_probe_keep("xen-pv", &r, &out);
    switchover_probe_use("migrate", "xen-pv", &p, &policy, &out);
    ck_assert_ptr_null(out.probe);
    ck_assert(!out.fixed_cost_seeded);
    ck_assert_uint_eq(out.fixed_cost_learned, 1);
    ck_assert_uint_eq(policy.overhead_ms, 300);
    remove_all();
}
END_TEST

/* A probe that fails (here: its calibration refused): the default, with a warning. */
START_TEST(test_use_failed_probe_keeps_the_default)
{
    struct mig_precopy_options policy = MIG_PRECOPY_OPTIONS_INIT;
    struct migrate_output out = { 0 };
    struct switchover_probe p;
    char err[1024];
    FILE *f = tmpfile();
    int saved_err = dup(2);
    size_t n;

    fresh_dir();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(saved_err, 0);
    setenv(SWITCHOVER_PROBE_REFERENCE_ENV, "fast", 1);
    ck_assert_int_ge(dup2(fileno(f), 2), 0);
    switchover_probe_use("migrate", "xen-pvh", &p, &policy, &out);
    ck_assert_int_ge(dup2(saved_err, 2), 0);
    close(saved_err);
    ck_assert_ptr_null(out.probe);
    ck_assert(!out.fixed_cost_seeded);
    ck_assert_uint_eq(policy.overhead_ms, 20);
    rewind(f);
    n = fread(err, 1, sizeof(err) - 1, f);
    err[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(err, "'fast'") && strstr(err, "the default 20 ms"), "%s", err);
    remove_all();
}
END_TEST

/* A dry run that probed seeds the store; one that did not writes nothing. */
START_TEST(test_keep_seeds_after_a_dry_run)
{
    struct mig_precopy_options policy = MIG_PRECOPY_OPTIONS_INIT;
    struct migrate_output out = { 0 };
    struct mig_migrate_result r;
    struct switchover_costs c;
    struct switchover_probe p;
    char path[4096];

    fresh_dir();
    switchover_costs_path(path, sizeof(path));
    memset(&r, 0, sizeof(r));
    r.dry_run = true;
    switchover_probe_keep("sim", &r, &out);                 /* no probe ran */
    ck_assert_int_ne(access(path, F_OK), 0);
    switchover_probe_use("migrate", "sim", &p, &policy, &out);
    ck_assert_ptr_eq(out.probe, &p);
    switchover_probe_keep("sim", &r, &out);
    ck_assert(switchover_costs_lookup("sim", &c));
    ck_assert(c.seeded);
    ck_assert_uint_eq(c.learned, 0);
    ck_assert_double_eq_tol(c.fixed_ms, p.fixed_ms, 0.01);
    /* the next command takes the seed, without probing */
    switchover_probe_use("migrate", "sim", &p, &policy, &out);
    ck_assert_ptr_null(out.probe);
    ck_assert(out.fixed_cost_seeded);
    remove_all();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("switchover_probe");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    /* the probes spawn shells on a shared, slow machine: room beyond their budgets */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_prior_times_scale);
    tcase_add_test(tc, test_priors);
    tcase_add_test(tc, test_save_priors);
    tcase_add_test(tc, test_clamped);
    tcase_add_test(tc, test_figures_refused);
    tcase_add_test(tc, test_reference_override);
    tcase_add_loop_test(tc, test_reference_refused, 0,
                        (int)(sizeof(bad_reference) / sizeof(bad_reference[0])));
    tcase_add_test(tc, test_measure);
    tcase_add_test(tc, test_measure_fails);
    tcase_add_test(tc, test_measure_times_out);
    tcase_add_test(tc, test_measure_keeps_runs_within_budget);
    tcase_add_test(tc, test_use_probes_without_history);
    tcase_add_test(tc, test_use_keeps_history);
    tcase_add_test(tc, test_use_failed_probe_keeps_the_default);
    tcase_add_test(tc, test_keep_seeds_after_a_dry_run);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
