/*
 * restore_savefile.c: `xl-ext restore` of the save files xenmig writes
 * itself (libmig/savefile):
 *
 *  - with --sim, a simulated guest's file, mapped or sequential, restored
 *    into a simulated destination in this process; the memory digest of
 *    the guest as restored is printed (it is the source's at the save) and,
 *    for a mapped file, checked against the digest the file records;
 *  - without --sim, a mapped file of a Xen domain: read by N threads and
 *    fed as one stock xl stream into Xen's own restore (the Xen
 *    destination, which runs stock `xl migrate-receive` and speaks its
 *    handshake), after the CPUID pre-flight on the file's metadata; the
 *    domain's baselines are recorded here once it runs.
 *
 * The file is checked whole before anything is started: a file cut short
 * or damaged starts nothing (exit 3).  xl save files go to restore_xen.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xentoollog.h>

#include "mig_clock.h"
#include "migrate_xen.h"
#include "mig_sim_backend.h"
#include "mig_xen.h"
#include "replay_common.h"
#include "subcommands.h"

#define NOT_RESUMED "the guest was not resumed; what the destination did was undone"

/* Replay a simulated guest's file of format into dest. */
static int replay_sim(const struct restore_request *req, enum mig_savefile_format format,
                      struct mig_sim_destination *dest, struct mig_replay_result *result)
{
    struct mig_replay_options ro;

    replay_options_init(&ro);
    if (format == MIG_SAVEFILE_MAPPED)
        return mig_mapped_replay(req->file, &mig_sim_destination_ops, dest, req->threads,
                                 &ro, result);
    return mig_sim_save_replay(req->file, &mig_sim_destination_ops, dest, req->threads,
                               &ro, result);
}

/*
 * --sim: the guest restored here, its memory's digest printed.  A mapped
 * file's own digest must be the memory's (the pages were checked against
 * their hashes before; this checks what the destination holds).
 */
static int restore_sim_file(const struct restore_request *req,
                            enum mig_savefile_format format)
{
    struct mig_sim_destination dest = { .save_path = NULL };
    struct mig_replay_result result = { .started = false };
    uint64_t digest = 0;
    int rc = replay_sim(req, format, &dest, &result);

    if (!rc)
        rc = mig_sim_destination_digest(&dest, &digest);
    if (!rc && format == MIG_SAVEFILE_MAPPED && digest != result.memory_digest)
        rc = mig_error_set(MIG_ECORRUPT, "the restored memory's digest is %016llx, the "
                           "file records %016llx: the destination does not hold what the "
                           "file does", (unsigned long long)digest,
                           (unsigned long long)result.memory_digest);
    if (rc)
        replay_print_failure("restore", req->file, &result, NOT_RESUMED);
    else
        replay_print_summary("restore", req->file, format == MIG_SAVEFILE_MAPPED
                             ? "mapped" : "xl", "sim", &result, digest, NULL);
    mig_sim_destination_dispose(&dest);
    return replay_exit_code(rc, &result);
}

int restore_sim(int argc, char **argv)
{
    struct restore_request req;
    enum mig_savefile_format format;
    int rc = restore_request_parse(argc, argv, &req);

    if (rc != RESTORE_PARSED)
        return rc;
    if (req.config) {
        fprintf(stderr, "%s restore: a simulated guest has no CONFIG ('%s'): give the "
                "FILE alone\n", xl_ext_prog, req.config);
        return XL_EXT_EXIT_USAGE;
    }
    if (mig_savefile_sniff(req.file, &format)) {
        fprintf(stderr, "%s restore: %s\n", xl_ext_prog, mig_error_last());
        return XL_EXT_EXIT_FAILURE;
    }
    if (format != MIG_SAVEFILE_MAPPED && format != MIG_SAVEFILE_SIM) {
        fprintf(stderr, "%s restore: '%s' is not a simulated guest's save file (%s): "
                "nothing was started\n", xl_ext_prog, req.file,
                format == MIG_SAVEFILE_XL ? "it is an xl save file: restore it without "
                "--sim" : "its first bytes are no save file xenmig knows");
        return XL_EXT_EXIT_BAD_INPUT;
    }
    return restore_sim_file(&req, format);
}

/* What xl migrate-receive, which restores a mapped file, cannot do: exit 2. */
static int refuse_xl_only(const struct restore_request *req)
{
    if (req->config) {
        fprintf(stderr, "%s restore: CONFIG '%s': a mapped save file carries its domain's "
                "configuration, which xl migrate-receive restores; to restore it with "
                "another, convert the file ('%s convert --format xl %s OUT') and run "
                "'xl restore %s OUT'\n", xl_ext_prog, req->config, xl_ext_prog, req->file,
                req->config);
        return XL_EXT_EXIT_USAGE;
    }
    if (req->console_or_vnc) {
        fprintf(stderr, "%s restore: -%c: a mapped save file is restored by xl "
                "migrate-receive, which connects no console or VNC viewer; connect one "
                "once the domain runs ('xl console', 'xl vncviewer')\n", xl_ext_prog,
                req->console_or_vnc);
        return XL_EXT_EXIT_USAGE;
    }
    return 0;
}

/* Seconds since this process started (/proc/self/stat, 1/CLK_TCK steps); -1 unknown. */
static double process_age(void)
{
    char buf[1024], *p;
    unsigned long long start = 0;
    struct timespec now;
    long ticks = sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');      /* the command name may hold spaces */
    if (!p || ticks <= 0 || clock_gettime(CLOCK_BOOTTIME, &now) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
               "%*d %*d %*d %llu", &start) != 1)
        return -1;
    return (double)now.tv_sec + now.tv_nsec / 1e9 - (double)start / (double)ticks;
}

/* Feed the file to Xen's restore: the Xen destination, xl run as $XENMIG_XL. */
static int replay_xen(const struct restore_request *req, struct mig_mapped_file *file,
                      struct mig_xen_dest **dest, struct mig_replay_result *result)
{
    struct migrate_xen_preflight preflight;
    struct mig_xen_dest_options xo = MIG_XEN_DEST_OPTIONS_INIT;
    xentoollog_logger_stdiostream *logger;
    struct mig_replay_options ro;
    int rc;

    preflight.host_json = req->host_json;
    if (getenv("XENMIG_XL") && *getenv("XENMIG_XL"))
        xo.xl = getenv("XENMIG_XL");
    xo.pause_after = req->pause_after;
    xo.debug = req->debug;
    xo.no_monitor = req->no_monitor;
    xo.preflight = migrate_xen_preflight;
    xo.preflight_arg = &preflight;
    logger = xtl_createlogger_stdiostream(stderr, req->debug ? XTL_DEBUG : XTL_ERROR, 0);
    replay_options_init(&ro);
    rc = mig_xen_dest_open((xentoollog_logger *)logger, &xo, dest);
    if (!rc)
        rc = mig_mapped_replay_file(file, &mig_xen_dest_ops, *dest, req->threads, &ro,
                                    result);
    if (!rc)
        migrate_xen_record_baselines(mig_xen_dest_metadata(*dest));
    /* never cleared to unpause (a failure): the incoming copy goes */
    mig_xen_dest_close(*dest);
    *dest = NULL;
    xtl_logger_destroy((xentoollog_logger *)logger);
    return rc;
}

int restore_mapped(int argc, char **argv)
{
    struct mig_replay_result result = { .started = false };
    struct restore_request req;
    struct mig_mapped_info info;
    struct mig_xen_dest *dest = NULL;
    struct mig_mapped_file *file = NULL;
    double startup = process_age(), t0 = mig_clock_seconds(), opened, replayed;
    char times[96];
    int rc = restore_request_parse(argc, argv, &req);

    if (rc != RESTORE_PARSED)
        return rc;
    rc = refuse_xl_only(&req);
    if (!rc)
        rc = replay_mapped_open("restore", req.file, &file, &info);
    if (rc)
        return rc;
    opened = mig_clock_seconds();
    if (strcmp(info.family, "xen")) {
        fprintf(stderr, "%s restore: '%s' holds a '%s' guest, not a Xen domain: %s; "
                "nothing was started\n", xl_ext_prog, req.file, info.family,
                strcmp(info.family, "sim") ? "no xl-ext restores it"
                                           : "restore it with --sim");
        rc = XL_EXT_EXIT_BAD_INPUT;
        goto out;
    }
    rc = replay_xen(&req, file, &dest, &result);
    if (rc) {
        replay_print_failure("restore", req.file, &result, NOT_RESUMED);
        rc = replay_exit_code(rc, &result);
        goto out;
    }
    /* what the summary's verify= and replay= leave out: this process's start,
     * opening the file, and the end (xl's exit, the baselines recorded) */
    replayed = mig_clock_seconds();
    snprintf(times, sizeof(times), "startup=%.3fs open=%.3fs close=%.3fs", startup,
             opened - t0, replayed - opened - result.verify_seconds - result.replay_seconds);
    replay_print_summary("restore", req.file, "mapped", "xen", &result,
                         result.memory_digest, times);
    rc = XL_EXT_EXIT_OK;
out:
    mig_mapped_file_close(file);
    return rc;
}
