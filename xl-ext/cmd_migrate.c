/*
 * cmd_migrate.c: `xl-ext migrate`, the source side of a live migration.
 *
 * Keeps every option of `xl migrate` (-C -s -e -p -D -F --debug --live)
 * and its way of reaching the destination: the receiver is started as
 * `ssh HOST xl-ext migrate-receive ...` (or `sh -c HOST` with -s ""), and
 * its stdin/stdout are the control channel.  New options are long-only.
 * With --sim the guest is a simulated one in this process (backend/sim)
 * and the destination keeps its copy in the receiver process; without
 * --sim a real domain is migrated by the xenmig engine (migrate_xen_source.c),
 * or by stock xl with --engine xl (or for a domain type the engine does not
 * take, when no xenmig option was given).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xentoollog.h>

#include "migrate_common.h"
#include "migrate_xen_source.h"
#include "mig_sim_backend.h"
#include "mig_xfer.h"
#include "subcommands.h"

enum {
    OPT_DEBUG = 0x100, OPT_LIVE, OPT_STREAMS, OPT_TRACING, OPT_MAX_DOWNTIME,
    OPT_BANDWIDTH, OPT_JSON, OPT_POLICY, OPT_ON_NO_CONVERGENCE, OPT_TIMEOUT,
    OPT_SIM, OPT_SIM_MEMORY, OPT_SIM_VCPUS, OPT_SIM_PATTERN, OPT_SIM_RATE,
    OPT_SIM_WORKING_SET, OPT_NO_VERIFY, OPT_INJECT_FAULT, OPT_NO_ENCRYPT, OPT_HELP,
    OPT_ENGINE, OPT_DATA_HOST,
};

static const struct option long_options[] = {
    { "debug",             no_argument,       NULL, OPT_DEBUG },
    { "live",              no_argument,       NULL, OPT_LIVE },
    { "streams",           required_argument, NULL, OPT_STREAMS },
    { "tracing",           required_argument, NULL, OPT_TRACING },
    { "max-downtime",      required_argument, NULL, OPT_MAX_DOWNTIME },
    { "bandwidth",         required_argument, NULL, OPT_BANDWIDTH },
    { "json",              no_argument,       NULL, OPT_JSON },
    { "policy",            required_argument, NULL, OPT_POLICY },
    { "on-no-convergence", required_argument, NULL, OPT_ON_NO_CONVERGENCE },
    { "timeout",           required_argument, NULL, OPT_TIMEOUT },
    { "sim",               no_argument,       NULL, OPT_SIM },
    { "sim-memory",        required_argument, NULL, OPT_SIM_MEMORY },
    { "sim-vcpus",         required_argument, NULL, OPT_SIM_VCPUS },
    { "sim-pattern",       required_argument, NULL, OPT_SIM_PATTERN },
    { "sim-rate",          required_argument, NULL, OPT_SIM_RATE },
    { "sim-working-set",   required_argument, NULL, OPT_SIM_WORKING_SET },
    { "no-verify",         no_argument,       NULL, OPT_NO_VERIFY },
    { "inject-fault",      required_argument, NULL, OPT_INJECT_FAULT },
    { "no-encrypt",        no_argument,       NULL, OPT_NO_ENCRYPT },
    { "help",              no_argument,       NULL, OPT_HELP },
    { "engine",            required_argument, NULL, OPT_ENGINE },
    { "data-host",         required_argument, NULL, OPT_DATA_HOST },
    { NULL, 0, NULL, 0 },
};

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s migrate: ", xl_ext_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun '%s help migrate' for the options.\n", xl_ext_prog);
    return XL_EXT_EXIT_USAGE;
}

static double monotonic_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

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

int cmd_migrate(int argc, char **argv)
{
    struct mig_migrate_options opts = MIG_MIGRATE_OPTIONS_INIT;
    struct mig_sim_options sim = MIG_SIM_OPTIONS_INIT;
    struct mig_migrate_result result;
    struct migrate_output out = { .out = stdout };
    struct mig_sim_guest *guest = NULL;
    struct mig_sim_source source = { 0 };
    xentoollog_logger_stdiostream *logger = NULL;
    const char *ssh_command = NULL, *host, *new_option = NULL;
    char *rune = NULL, self[4096], error[1024] = "";
    bool use_sim = false, debug = false, pause_after = false, engine_xl = false;
    bool preserve_domid = false, no_monitor = false;
    const char *config_file = NULL, *data_host = NULL;
    unsigned long long n;
    double writes_before = 0, t_before = 0, rate_before = 0, rate_during = 0;
    struct stall_watch stall_watch = { 0 };
    pid_t child = -1;
    int to_child = -1, from_child = -1, opt, rc, exit_code;
    ssize_t len;

    opts.policy.max_downtime_ms = 300;
    sim.memory_bytes = UINT64_C(1) << 30;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "FC:s:epDh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'C':
            config_file = optarg;
            break;
        case 'p':
            pause_after = true;
            break;
        case 'D':
            preserve_domid = true;
            break;
        case 'e':
            no_monitor = true;
            break;
        case 'F': case OPT_LIVE:
            break;                       /* xl's meaning; nothing to do here */
        case OPT_ENGINE:
            if (!strcmp(optarg, "xl"))
                engine_xl = true;
            else if (strcmp(optarg, "xenmig"))
                return usage_error("--engine '%s': use 'xenmig' or 'xl'", optarg);
            break;
        case 's':
            ssh_command = optarg;
            break;
        case OPT_DEBUG:
            debug = true;
            break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stdout, "migrate");
            return XL_EXT_EXIT_OK;
        case OPT_SIM:
            use_sim = true;
            break;
        default:
            if (opt == '?')
                return usage_error("%s", "bad option (see above)");
            new_option = argv[optind - 1];
            switch (opt) {
            case OPT_STREAMS:
                if (xl_ext_parse_uint("--streams", optarg, 1, 64, &n))
                    return XL_EXT_EXIT_USAGE;
                opts.streams = (unsigned int)n;
                break;
            case OPT_TRACING:
                if (!strcmp(optarg, "loose"))
                    opts.tracing = MIG_TRACE_LOOSE;
                else if (!strcmp(optarg, "stop"))
                    opts.tracing = MIG_TRACE_STOP;
                else
                    return usage_error("--tracing '%s': use 'loose' or 'stop'", optarg);
                break;
            case OPT_MAX_DOWNTIME:
                if (xl_ext_parse_uint("--max-downtime", optarg, 1, 3600000, &n))
                    return XL_EXT_EXIT_USAGE;
                opts.policy.max_downtime_ms = (unsigned int)n;
                break;
            case OPT_BANDWIDTH:
                if (xl_ext_parse_rate("--bandwidth", optarg, &opts.max_rate))
                    return XL_EXT_EXIT_USAGE;
                break;
            case OPT_JSON:
                out.json = true;
                break;
            case OPT_POLICY:
                if (!strcmp(optarg, "downtime"))
                    opts.policy.kind = MIG_PRECOPY_DOWNTIME;
                else if (!strcmp(optarg, "xen-default"))
                    opts.policy.kind = MIG_PRECOPY_XEN_DEFAULT;
                else
                    return usage_error("--policy '%s': use 'downtime' or 'xen-default'",
                                       optarg);
                break;
            case OPT_ON_NO_CONVERGENCE:
                if (!strcmp(optarg, "force"))
                    opts.policy.on_no_convergence = MIG_PRECOPY_FORCE;
                else if (!strcmp(optarg, "abort"))
                    opts.policy.on_no_convergence = MIG_PRECOPY_ABORT;
                else
                    return usage_error("--on-no-convergence '%s': use 'force' or 'abort'",
                                       optarg);
                break;
            case OPT_TIMEOUT:
                if (xl_ext_parse_uint("--timeout", optarg, 100, 3600000, &n))
                    return XL_EXT_EXIT_USAGE;
                opts.timeout_ms = (int)n;
                break;
            case OPT_SIM_MEMORY:
                if (xl_ext_parse_size("--sim-memory", optarg, &sim.memory_bytes))
                    return XL_EXT_EXIT_USAGE;
                break;
            case OPT_SIM_VCPUS:
                if (xl_ext_parse_uint("--sim-vcpus", optarg, 1, MIG_SIM_MAX_VCPUS, &n))
                    return XL_EXT_EXIT_USAGE;
                sim.nr_vcpus = (unsigned int)n;
                break;
            case OPT_SIM_PATTERN:
                if (!strcmp(optarg, "uniform"))
                    sim.pattern = MIG_SIM_PATTERN_UNIFORM;
                else if (!strcmp(optarg, "hot"))
                    sim.pattern = MIG_SIM_PATTERN_HOT_SET;
                else if (!strcmp(optarg, "sequential"))
                    sim.pattern = MIG_SIM_PATTERN_SEQUENTIAL;
                else if (!strcmp(optarg, "idle"))
                    sim.pattern = MIG_SIM_PATTERN_IDLE;
                else
                    return usage_error("--sim-pattern '%s': use uniform, hot, "
                                       "sequential or idle", optarg);
                break;
            case OPT_SIM_RATE:
                if (xl_ext_parse_rate("--sim-rate", optarg, &sim.writes_per_second))
                    return XL_EXT_EXIT_USAGE;
                break;
            case OPT_SIM_WORKING_SET:
                if (xl_ext_parse_size("--sim-working-set", optarg, &sim.working_set_bytes))
                    return XL_EXT_EXIT_USAGE;
                break;
            case OPT_DATA_HOST:
                data_host = optarg;
                break;
            case OPT_NO_VERIFY:
                opts.verify_memory = false;
                break;
            case OPT_NO_ENCRYPT:
                opts.encrypt = false;
                break;
            case OPT_INJECT_FAULT:
                /* Testing only (README "Fault matrix"): break the data path. */
                {
                    static const struct { const char *name; unsigned int fault; } faults[] = {
                        { "corrupt-page", MIG_XFER_FAULT_CORRUPT_PAGE },
                        { "cut-stream",   MIG_XFER_FAULT_CUT_STREAM },
                        { "tamper-frame", MIG_XFER_FAULT_TAMPER_FRAME },
                        { "replay-frame", MIG_XFER_FAULT_REPLAY_FRAME },
                        { "truncate",     MIG_XFER_FAULT_TRUNCATE },
                        { "stall",        MIG_XFER_FAULT_STALL },
                        { "wrong-key",    MIG_XFER_FAULT_WRONG_KEY },
                        { "version",      MIG_MIGRATE_FAULT_VERSION },
                    };
                    unsigned int f;

                    for (f = 0; f < sizeof(faults) / sizeof(faults[0]); f++)
                        if (!strcmp(optarg, faults[f].name))
                            break;
                    if (f == sizeof(faults) / sizeof(faults[0]))
                        return usage_error("--inject-fault '%s': use corrupt-page, "
                                           "cut-stream, tamper-frame, replay-frame, "
                                           "truncate, stall, wrong-key or version", optarg);
                    opts.inject_fault = faults[f].fault;
                }
                break;
            }
        }
    }

    if (!use_sim) {
        /* Real domains: the xenmig engine (Xen backend), or stock xl. */
        struct migrate_xen_params xp = {
            .opts = &opts, .out = &out, .ssh_command = ssh_command,
            .config_file = config_file, .new_option = new_option,
            .pause_after = pause_after, .debug = debug, .self = self,
            .data_host = data_host, .preserve_domid = preserve_domid,
            .no_monitor = no_monitor,
        };

        if (engine_xl) {
            if (new_option) {
                fprintf(stderr, "%s migrate: '%s' is a xenmig option; --engine xl runs "
                        "stock 'xl migrate', which does not have it\n", xl_ext_prog,
                        new_option);
                return XL_EXT_EXIT_USAGE;
            }
            goto exec_xl;
        }
        if (argc - optind != 2)
            return usage_error("%s", "needs DOMAIN HOST");
        xp.domain = argv[optind];
        xp.host = argv[optind + 1];
        out.tty = !out.json && isatty(fileno(stdout));
        len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (len <= 0) {
            fprintf(stderr, "%s migrate: cannot find my own binary: %s\n", xl_ext_prog,
                    strerror(errno));
            return XL_EXT_EXIT_FAILURE;
        }
        self[len] = '\0';
        signal(SIGPIPE, SIG_IGN);
        exit_code = migrate_xen_source_run(&xp);
        if (exit_code >= 0)
            return exit_code;
exec_xl:
        argv[0] = "migrate";
        return xl_ext_exec_xl(argc, argv);
    }

    if (argc - optind < 1 || argc - optind > 2)
        return usage_error("%s", "needs HOST (with --sim: [DOMAIN-LABEL] HOST)");
    host = argv[argc - 1];
    out.tty = !out.json && isatty(fileno(stdout));

    len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        fprintf(stderr, "%s migrate: cannot find my own binary: %s\n", xl_ext_prog,
                strerror(errno));
        return XL_EXT_EXIT_FAILURE;
    }
    self[len] = '\0';
    if (ssh_command && !ssh_command[0])
        rc = asprintf(&rune, "%s", host);
    else if (!ssh_command && migrate_host_is_local(host))
        rc = asprintf(&rune, "exec '%s' migrate-receive --sim --data-listen 127.0.0.1"
                      " --timeout %d", self, opts.timeout_ms);
    else
        rc = asprintf(&rune, "exec %s %s xl-ext migrate-receive --sim --data-listen '::'"
                      " --timeout %d", ssh_command ? ssh_command : "ssh", host,
                      opts.timeout_ms);
    if (rc < 0) {
        rune = NULL;
        exit_code = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    opts.data_host = migrate_host_is_local(host) || (ssh_command && !ssh_command[0]) ? "127.0.0.1" : host;

    logger = xtl_createlogger_stdiostream(stderr, debug ? XTL_DEBUG : XTL_ERROR, 0);
    sim.logger = (xentoollog_logger *)logger;
    rc = mig_sim_guest_create(&sim, &guest);
    if (rc) {
        fprintf(stderr, "%s migrate: cannot create the simulated guest: %s\n",
                xl_ext_prog, mig_error_last());
        exit_code = rc == MIG_EINVAL ? XL_EXT_EXIT_USAGE : XL_EXT_EXIT_FAILURE;
        goto out;
    }
    source.guest = guest;
    source.nr_vcpus = sim.nr_vcpus;
    rc = mig_sim_guest_start(guest);
    if (rc) {
        fprintf(stderr, "%s migrate: cannot start the simulated guest: %s\n",
                xl_ext_prog, mig_error_last());
        exit_code = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    if (!out.json)
        fprintf(out.out, "migrating simulated guest (%llu MiB, %u vCPUs, tracker %s) "
                "to %s: %u stream(s), %s tracing, target downtime %u ms\n",
                (unsigned long long)(sim.memory_bytes >> 20), sim.nr_vcpus,
                mig_sim_guest_tracker_name(guest), host, opts.streams,
                opts.tracing == MIG_TRACE_LOOSE ? "loose" : "stop",
                opts.policy.max_downtime_ms);

    /* The guest's own pace before migrating: the reference for the dip. */
    writes_before = guest_writes(guest, sim.nr_vcpus);
    t_before = monotonic_seconds();
    {
        struct timespec ts = { 0, 250 * 1000 * 1000 };

        nanosleep(&ts, NULL);
    }
    rate_before = (guest_writes(guest, sim.nr_vcpus) - writes_before) /
                  (monotonic_seconds() - t_before);
    writes_before = guest_writes(guest, sim.nr_vcpus);
    t_before = monotonic_seconds();

    signal(SIGPIPE, SIG_IGN);
    if (migrate_spawn_receiver(rune, &child, &to_child, &from_child)) {
        exit_code = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    stall_watch.out = &out;
    stall_watch.guest = guest;
    stall_watch.vcpus = sim.nr_vcpus;
    opts.progress = watch_progress;
    opts.progress_payload = &stall_watch;
    rc = mig_migrate_send(&mig_sim_source_ops, &source, from_child, to_child, &opts,
                          (xentoollog_logger *)logger, &result);
    if (rc)
        migrate_error_text(rc, &result, error, sizeof(error));
    exit_code = migrate_exit_code_of(rc);
    rate_during = (guest_writes(guest, sim.nr_vcpus) - writes_before) /
                  (monotonic_seconds() - t_before);

    {
        double stall_total, stall_max;

        /* Pre-copy stall: up to the switchover (its pause is the downtime). */
        if (stall_watch.taken) {
            stall_total = stall_watch.total;
            stall_max = stall_watch.max;
        } else {
            vcpu_stall(guest, sim.nr_vcpus, &stall_total, &stall_max);
        }
        migrate_output_summary(&out, "migrate", rc, &result, &opts, stall_total,
                               stall_max, rc ? error : NULL);
        migrate_output_guest_rate(&out, rate_before, rate_during);
    }
    if (rc) {
        struct mig_sim_vcpu_stats before, after;
        struct timespec ts = { 0, 100 * 1000 * 1000 };

        fprintf(stderr, "%s migrate: migration failed: %s\n", xl_ext_prog, error);
        /* Show that the guest still runs here: its writers make progress. */
        if (!mig_sim_guest_vcpu_stats(guest, 0, &before)) {
            nanosleep(&ts, NULL);
            mig_sim_guest_vcpu_stats(guest, 0, &after);
            fprintf(stderr, "%s migrate: the guest keeps running at the source "
                    "(vCPU 0 writes: %llu -> %llu)\n", xl_ext_prog,
                    (unsigned long long)before.writes, (unsigned long long)after.writes);
        }
    }
out:
    {
        int status = migrate_reap_receiver(to_child, from_child, child);

        if (status > 0 && exit_code == XL_EXT_EXIT_OK)
            fprintf(stderr, "%s migrate: the receiver exited with status %d after "
                    "a successful migration\n", xl_ext_prog, status);
    }
    mig_sim_guest_destroy(guest);
    if (logger)
        xtl_logger_destroy((xentoollog_logger *)logger);
    free(rune);
    return exit_code;
}
