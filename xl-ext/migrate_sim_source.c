/*
 * migrate_sim_source.c: `xl-ext migrate --sim` (and `save --sim`): a
 * simulated guest (libmig/backend/sim) created in this process is
 * migrated to the receiver, and the summary shows what the migration cost
 * it: its write rate before and during, and its vCPU stall up to the
 * switchover.  When the migration fails the guest keeps running here, and
 * this file shows that its writers still make progress.  Must never
 * leave the guest paused.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <xentoollog.h>

#include "mig_clock.h"
#include "migrate_source.h"
#include "mig_sim_backend.h"
#include "subcommands.h"
#include "switchover_probe.h"

/* Writes done so far by every vCPU of the simulated guest. */
static double guest_writes(struct mig_sim_guest *guest, unsigned int vcpus)
{
    double total = 0;

    for (unsigned int v = 0; v < vcpus; v++) {
        struct mig_sim_vcpu_stats vs;

        if (!mig_sim_guest_vcpu_stats(guest, v, &vs))
            total += (double)vs.writes;
    }
    return total;
}

/* vCPU stall so far (pauses and slow writes), summed and the longest. */
static void vcpu_stall(struct mig_sim_guest *guest, unsigned int vcpus,
                       double *total, double *max)
{
    *total = *max = 0;
    for (unsigned int v = 0; v < vcpus; v++) {
        struct mig_sim_vcpu_stats vs;

        if (mig_sim_guest_vcpu_stats(guest, v, &vs))
            continue;
        *total += vs.stall_total_ns / 1e9;
        if (vs.stall_max_ns / 1e9 > *max)
            *max = vs.stall_max_ns / 1e9;
    }
}

/* Progress output, plus a snapshot of the stall when the switchover starts. */
struct stall_watch {
    struct migrate_output *out;
    struct mig_sim_guest *guest;
    unsigned int vcpus;
    bool taken;
    double total, max;
};

static int watch_progress(const struct mig_progress *p, void *payload)
{
    struct stall_watch *w = payload;

    if (p->phase == MIG_PHASE_SWITCHOVER && !w->taken) {
        vcpu_stall(w->guest, w->vcpus, &w->total, &w->max);
        w->taken = true;
    }
    return migrate_output_progress(p, w->out);
}

/*
 * Create and start the guest (*guest owned by the caller, also on
 * failure): 0, or the exit code with the reason printed.
 */
static int start_guest(struct mig_sim_options *sim, struct mig_sim_guest **guest)
{
    int rc = mig_sim_guest_create(sim, guest);

    if (rc) {
        fprintf(stderr, "%s migrate: cannot create the simulated guest: %s\n",
                xl_ext_prog, mig_error_last());
        return rc == MIG_EINVAL ? XL_EXT_EXIT_USAGE : XL_EXT_EXIT_FAILURE;
    }
    rc = mig_sim_guest_start(*guest);
    if (rc) {
        fprintf(stderr, "%s migrate: cannot start the simulated guest: %s\n",
                xl_ext_prog, mig_error_last());
        return XL_EXT_EXIT_FAILURE;
    }
    return 0;
}

/* The guest's own pace before migrating (writes/s over 250 ms): the reference for the dip. */
static double pace_before(struct mig_sim_guest *guest, unsigned int vcpus)
{
    double writes = guest_writes(guest, vcpus), start = mig_clock_seconds();
    struct timespec ts = { 0, 250 * 1000 * 1000 };

    nanosleep(&ts, NULL);
    return (guest_writes(guest, vcpus) - writes) / (mig_clock_seconds() - start);
}

/*
 * After a failure: show that the guest still runs here (its writers make
 * progress), or, when the destination was cleared and did not confirm,
 * that it is left paused (they make none).
 */
static void show_still_running(const char *cmd, struct mig_sim_guest *guest,
                               bool state_unknown)
{
    struct mig_sim_vcpu_stats before, after;
    struct timespec ts = { 0, 100 * 1000 * 1000 };

    if (mig_sim_guest_vcpu_stats(guest, 0, &before))
        return;
    nanosleep(&ts, NULL);
    mig_sim_guest_vcpu_stats(guest, 0, &after);
    fprintf(stderr, "%s %s: %s (vCPU 0 writes: %llu -> %llu; CPU share %u%%)\n",
            xl_ext_prog, cmd, state_unknown ? "the guest is left paused at the source; check "
                                         "the destination"
                                       : "the guest keeps running at the source",
            (unsigned long long)before.writes, (unsigned long long)after.writes,
            mig_sim_guest_throttle_percent(guest));
}

int migrate_sim_source_run(struct migrate_request *req, const char *receiver)
{
    struct mig_migrate_options opts = req->opts;
    struct mig_sim_options sim = req->sim;
    struct mig_migrate_result result;
    struct mig_sim_guest *guest = NULL;
    struct mig_sim_source source = { 0 };
    struct stall_watch watch = { .out = &req->out };
    struct switchover_probe probe;
    xentoollog_logger_stdiostream *logger;
    char error[1024] = "";
    double rate_before, writes_before, t_before, rate_during;
    pid_t child = -1;
    int to_child = -1, from_child = -1, rc, status, exit_code;
    /* save --sim: the destination writes a file, a switchover of its own */
    const char *key = switchover_costs_key("sim", req->save_path != NULL);
    /* the command the user typed: it names every line of its own */
    const char *cmd = req->save_path ? "save" : "migrate";

    /* the engine's error is this command's one line ("... failed: ERROR"
     * below); logged as well it would come twice, in another format */
    logger = xtl_createlogger_stdiostream(stderr, req->debug ? XTL_DEBUG : XTL_CRITICAL, 0);
    sim.logger = (xentoollog_logger *)logger;
    exit_code = start_guest(&sim, &guest);
    if (exit_code)
        goto out;
    source.guest = watch.guest = guest;
    source.nr_vcpus = watch.vcpus = sim.nr_vcpus;
    if (!req->out.json)
        fprintf(req->out.out, "%s simulated guest (%llu MiB, %u vCPUs, tracker %s) "
                "to %s%s%s: %u stream(s), %s tracing, target downtime %u ms\n",
                req->save_path ? "saving" : "migrating",
                (unsigned long long)(sim.memory_bytes >> 20), sim.nr_vcpus,
                mig_sim_guest_tracker_name(guest), req->save_path ? "'" : "",
                req->save_path ? req->save_path : req->host, req->save_path ? "'" : "",
                opts.streams, opts.tracing == MIG_TRACE_LOOSE ? "loose" : "stop",
                opts.policy.max_downtime_ms);
    rate_before = pace_before(guest, sim.nr_vcpus);
    writes_before = guest_writes(guest, sim.nr_vcpus);
    t_before = mig_clock_seconds();
    if (migrate_spawn_receiver(receiver, &child, &to_child, &from_child)) {
        exit_code = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    switchover_probe_use(cmd, key, &probe, &opts.policy, &req->out);
    opts.progress = watch_progress;
    opts.progress_payload = &watch;
    rc = mig_migrate_send(&mig_sim_source_ops, &source, from_child, to_child, &opts,
                          (xentoollog_logger *)logger, &result);
    if (rc)
        migrate_error_text(rc, &result, error, sizeof(error));
    exit_code = migrate_exit_code_of(rc, &result);
    rate_during = (guest_writes(guest, sim.nr_vcpus) - writes_before) /
                  (mig_clock_seconds() - t_before);
    /* Pre-copy stall: up to the switchover (its pause is the downtime). */
    if (!watch.taken)
        vcpu_stall(guest, sim.nr_vcpus, &watch.total, &watch.max);
    migrate_output_summary(&req->out, cmd, rc, &result, &opts, watch.total, watch.max,
                           rc ? error : NULL);
    migrate_output_guest_rate(&req->out, cmd, rate_before, rate_during);
    if (!rc)
        switchover_probe_keep(key, &result, &req->out);
    if (rc) {
        fprintf(stderr, "%s %s: %s failed: %s\n", xl_ext_prog, cmd,
                req->save_path ? "the save" : "migration", error);
        show_still_running(cmd, guest, result.state_unknown);
    }
out:
    req->out.probe = NULL;          /* it pointed to this function's probe */
    status = migrate_reap_receiver(to_child, from_child, child);
    if (status > 0 && exit_code == XL_EXT_EXIT_OK)
        fprintf(stderr, "%s %s: the receiver exited with status %d after a successful "
                "%s\n", xl_ext_prog, cmd, status, req->save_path ? "save" : "migration");
    mig_sim_guest_destroy(guest);
    if (logger)
        xtl_logger_destroy((xentoollog_logger *)logger);
    return exit_code;
}
