/*
 * switchover_probe.c: a type's switchover fixed costs from a probe of
 * this host when the store has none (switchover_probe.h).  The probe
 * spawns a shell that does nothing a few times and times each until it
 * exited; the calibration table below turns its median into the four
 * parts.  Every child is reaped before a function returns; the only
 * output is a warning on stderr.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mig_clock.h"
#include "mig_error.h"
#include "subcommands.h"
#include "switchover_probe.h"

extern char **environ;

#define MAX_RUNS 16
#define MAX_REFERENCE_US 1e7        /* 10 s: far beyond any probe's budget */
#define CHILD_FD 3                  /* the child's end of the pipe that says it ended */

/* What the probe runs: a shell that does nothing, as each hotplug script starts. */
static const char *const probe_argv[] = { "/bin/sh", "-c", ":", NULL };

/*
 * The calibration table: each type's fixed parts (ms) on the host they
 * were measured on, and the probe's median there (reference_us).  Kept
 * in step with docs/architecture.md, "The probe's calibration".
 *
 * Xen rows: the engine's downtime parts of idle 128 MiB guests in the lab
 * (Xen under QEMU TCG, docs/benchmarks.md "Downtime the policy cannot
 * see"): PV about 420 ms, PVH about 500, HVM about 2100, split as the
 * issue's table of parts (PV 122/25/~200/~60, HVM 744/48/~1100/255; PVH
 * as PV) and scaled to those totals.  LAB_REFERENCE_US is the lab dom0's
 * probe median on an idle host: `scripts/bench-lab --sizes 128 --workloads
 * idle --types pv,pvh,hvm --encrypt` (release build of 95a773b,
 * 2026-12-06), whose first migration of each type probed: 24020, 25127
 * and 25188 µs (the summary events' switchover_probe.probe_us).
 * $XENMIG_PROBE_REFERENCE_US overrides it on a host calibrated apart.
 *
 * Sim row: 19 runs of `xl-ext migrate --sim --sim-memory 16M --sim-pattern
 * idle --json localhost`, each with an empty store so that each probed,
 * on the build machine (2 cores, sanitizer build, while the lead's QEMU
 * lab ran: load average 2.9-3.6), 2026-12-06: the medians of the parts
 * and of the probe (9242 µs; 3424-14825 over the runs).
 *
 * Save rows (a switchover that ends in a file: no destination's restore):
 * Xen, the medians of the `xl-ext save` parts lines of the lab's save
 * boots of 4b1f7db and f5e6808 (2026-12-07; each type idle and dirtying,
 * mapped and xl format: 8 saves a type; docs/benchmarks.md); sim, 9 runs
 * of `xl-ext save --sim --sim-memory 16M --sim-pattern idle --json FILE`
 * on the build machine (sanitizer build, idle, 2026-12-07), each on an
 * empty store.
 */
#define SIM_REFERENCE_US 9240.0
#define LAB_REFERENCE_US 25100.0      /* the lab's dom0, idle (above) */

static const struct prior {
    const char *key;
    struct switchover_parts parts;  /* pause, state, destination, resume */
    double reference_us;
    bool lab;                       /* $XENMIG_PROBE_REFERENCE_US overrides it */
} priors[] = {
    { "sim",     { 0.9, 0.06, 5.8, 3.0 },        SIM_REFERENCE_US, false },
    { "xen-pv",  { 126.0, 26.0, 206.0, 62.0 },   LAB_REFERENCE_US, true },
    { "xen-pvh", { 150.0, 31.0, 245.0, 74.0 },   LAB_REFERENCE_US, true },
    { "xen-hvm", { 728.0, 47.0, 1076.0, 249.0 }, LAB_REFERENCE_US, true },
    { "sim-save",     { 0.67, 0.11, 56.3, 15.5 }, SIM_REFERENCE_US, false },
    { "xen-pv-save",  { 77.2, 4.9, 0.0, 16.8 },   LAB_REFERENCE_US, true },
    { "xen-pvh-save", { 115.7, 16.1, 0.0, 15.6 }, LAB_REFERENCE_US, true },
    { "xen-hvm-save", { 337.5, 20.5, 0.0, 53.7 }, LAB_REFERENCE_US, true },
};

static const struct prior *prior_of(const char *key)
{
    for (size_t i = 0; i < sizeof(priors) / sizeof(priors[0]); i++)
        if (!strcmp(key, priors[i].key))
            return &priors[i];
    mig_error_set(MIG_EINVAL, "no switchover probe calibration for '%s' (only sim, xen-pv, "
                  "xen-pvh, xen-hvm, and each with -save)", key);
    return NULL;
}

int switchover_probe_reference_us(const char *key, double *us)
{
    const struct prior *pr = prior_of(key);
    const char *env = getenv(SWITCHOVER_PROBE_REFERENCE_ENV);
    char *end;
    double v;

    if (!pr)
        return MIG_EINVAL;
    *us = pr->reference_us;
    if (!pr->lab || !env || !*env)
        return 0;
    errno = 0;
    v = strtod(env, &end);
    if (!(isdigit((unsigned char)env[0]) || env[0] == '.') || *end || errno ||
        !isfinite(v) || v <= 0 || v > MAX_REFERENCE_US)
        return mig_error_set(MIG_EINVAL, "%s '%.40s': give a positive number of "
                             "microseconds up to %.0f (the probe's median on the host the "
                             "Xen priors were measured on), or unset it for the built-in "
                             "%.0f", SWITCHOVER_PROBE_REFERENCE_ENV, env, MAX_REFERENCE_US,
                             pr->reference_us);
    *us = v;
    return 0;
}

int switchover_probe_figures(const char *key, double probe_us, double reference_us,
                             struct switchover_probe *p)
{
    const struct prior *pr = prior_of(key);
    double q, s;

    if (!pr)
        return MIG_EINVAL;
    if (!isfinite(probe_us) || !(probe_us > 0) || !isfinite(reference_us) ||
        !(reference_us > 0))
        return mig_error_set(MIG_EINVAL, "a probe of %g µs against a reference of %g µs: "
                             "both must be positive", probe_us, reference_us);
    q = pow(probe_us / reference_us, SWITCHOVER_PROBE_EXPONENT);
    s = q < SWITCHOVER_PROBE_SCALE_MIN ? SWITCHOVER_PROBE_SCALE_MIN :
        q > SWITCHOVER_PROBE_SCALE_MAX ? SWITCHOVER_PROBE_SCALE_MAX : q;
    p->probe_us = probe_us;
    p->runs = 1;
    p->reference_us = reference_us;
    p->scale = s;
    p->clamped = s != q;
    p->parts = (struct switchover_parts){
        pr->parts.pause_ms * s, pr->parts.state_ms * s,
        pr->parts.destination_ms * s, pr->parts.resume_ms * s,
    };
    p->fixed_ms = p->parts.pause_ms + p->parts.state_ms + p->parts.destination_ms +
                  p->parts.resume_ms;
    return 0;
}

static double now_us(void)
{
    return (double)mig_clock_ns() / 1e3;
}

/*
 * Wait until every holder of fd's pipe's other end closed it (the child
 * exited), at most until deadline: 0, MIG_ELIMIT past it, MIG_EIO.
 */
static int wait_closed(int fd, double deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        double left = deadline - now_us();
        char c;
        ssize_t n;

        if (left <= 0)
            return mig_error_set(MIG_ELIMIT, "it did not end within %u ms",
                                 SWITCHOVER_PROBE_BUDGET_MS);
        n = poll(&pfd, 1, (int)ceil(left / 1e3));
        if (n <= 0) {
            if (n < 0 && errno != EINTR)
                return mig_error_set_errno(MIG_EIO, errno, "cannot wait for it");
            continue;
        }
        n = read(fd, &c, 1);
        if (!n)
            return 0;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return mig_error_set_errno(MIG_EIO, errno, "cannot wait for it");
    }
}

/* Reap pid, killing it once deadline is past: its wait status. */
static int reap(pid_t pid, double deadline)
{
    struct timespec ms = { 0, 1000 * 1000 };
    int status = 0;
    pid_t got;

    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && now_us() < deadline)
        nanosleep(&ms, NULL);
    if (got == 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        return -1;
    }
    return got < 0 ? -1 : status;
}

/* Start argv with the pipe's write end as its fd CHILD_FD: 0, or the errno. */
static int spawn(const char *const argv[], int write_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int err = posix_spawn_file_actions_init(&fa);

    if (err)
        return err;
    /* dup2 onto itself would keep O_CLOEXEC: the caller moved it off CHILD_FD */
    err = posix_spawn_file_actions_adddup2(&fa, write_fd, CHILD_FD);
    if (!err)
        err = posix_spawn(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return err;
}

/* One run of argv, ended by deadline: its time in *us. */
static int run_once(const char *const argv[], double deadline, double *us)
{
    int pfd[2] = { -1, -1 }, rc = 0, err, status;
    double start, end = 0;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC))
        return mig_error_set_errno(MIG_EIO, errno, "cannot make a pipe");
    if (pfd[1] == CHILD_FD) {
        int fd = fcntl(pfd[1], F_DUPFD_CLOEXEC, CHILD_FD + 1);

        close(pfd[1]);
        pfd[1] = fd;
        if (fd < 0) {
            rc = mig_error_set_errno(MIG_EIO, errno, "cannot make a pipe");
            goto out;
        }
    }
    start = now_us();
    err = spawn(argv, pfd[1], &pid);
    close(pfd[1]);
    pfd[1] = -1;
    if (err) {
        rc = mig_error_set_errno(MIG_EIO, err, "cannot start '%s'", argv[0]);
        goto out;
    }
    rc = wait_closed(pfd[0], deadline);
    end = now_us();
    status = reap(pid, rc ? 0 : deadline);
    if (!rc && !(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status)))
        rc = mig_error_set(MIG_EIO, "'%s' did not exit 0 (wait status %d)", argv[0], status);
    *us = end - start;
out:
    close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    return rc;
}

int switchover_probe_measure(const char *const argv[], unsigned int runs,
                             unsigned int budget_ms, double *median_us, unsigned int *done)
{
    double t[MAX_RUNS], deadline = now_us() + budget_ms * 1e3;
    unsigned int n = 0;

    if (!runs || runs > MAX_RUNS || !budget_ms || !argv[0] || argv[0][0] != '/')
        return mig_error_set(MIG_EINVAL, "a probe of %u runs (1 to %d) within %u ms of "
                             "'%s' (an absolute path)", runs, MAX_RUNS, budget_ms,
                             argv[0] ? argv[0] : "");
    for (; n < runs; n++) {
        double us = 0;
        unsigned int j = n;
        int rc = run_once(argv, deadline, &us);

        if (rc == MIG_ELIMIT && n > 0)
            break;              /* the runs that ended within the budget */
        if (rc)
            return rc;
        for (; j > 0 && t[j - 1] > us; j--)     /* kept sorted */
            t[j] = t[j - 1];
        t[j] = us;
    }
    *median_us = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    *done = n;
    return 0;
}

int switchover_probe_run(const char *key, struct switchover_probe *p)
{
    double median, reference;
    unsigned int done;
    int rc = switchover_probe_reference_us(key, &reference);

    if (!rc)
        rc = switchover_probe_measure(probe_argv, SWITCHOVER_PROBE_RUNS,
                                      SWITCHOVER_PROBE_BUDGET_MS, &median, &done);
    if (!rc)
        rc = switchover_probe_figures(key, median, reference, p);
    if (!rc)
        p->runs = done;
    return rc;
}

void switchover_probe_use(const char *cmd, const char *key, struct switchover_probe *p,
                          struct mig_precopy_options *policy, struct migrate_output *out)
{
    out->probe = NULL;
    switchover_costs_use(key, policy, out);
    if (out->fixed_cost_learned || out->fixed_cost_seeded)
        return;
    if (switchover_probe_run(key, p)) {
        fprintf(stderr, "%s %s: the switchover probe (%s %s '%s') gave no figures: %s; "
                "the fixed cost is the default %u ms\n", xl_ext_prog, cmd, probe_argv[0],
                probe_argv[1], probe_argv[2], mig_error_last(), policy->overhead_ms);
        return;
    }
    policy->overhead_ms = (unsigned int)(p->fixed_ms + 0.5);
    out->fixed_cost_seeded = true;
    out->probe = p;
}

void switchover_probe_keep(const char *key, const struct mig_migrate_result *r,
                           const struct migrate_output *out)
{
    if (!r->dry_run)
        (void)switchover_costs_learn(key, r);
    else if (out->probe)
        (void)switchover_costs_seed(key, &out->probe->parts);
}
