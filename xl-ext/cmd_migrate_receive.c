/*
 * cmd_migrate_receive.c: `xl-ext migrate-receive`, the destination side.
 * Started by `xl-ext migrate` (through ssh or sh); stdin/stdout are the
 * control channel, so everything human goes to stderr.  Accepts xl's
 * migrate-receive options.  With --sim it receives a simulated guest into
 * this process; without it the command is handed to xl unchanged.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xentoollog.h>

#include "migrate_common.h"
#include "migrate_xen.h"
#include "mig_sim_backend.h"
#include "mig_xen.h"
#include "subcommands.h"

enum { OPT_SIM = 0x100, OPT_DATA_LISTEN, OPT_TIMEOUT, OPT_SIM_MAX_MEMORY, OPT_JSON,
       OPT_SAVE, OPT_HELP, OPT_XEN, OPT_CAPTURE, OPT_HOST_JSON };

static const struct option long_options[] = {
    { "sim",            no_argument,       NULL, OPT_SIM },
    { "data-listen",    required_argument, NULL, OPT_DATA_LISTEN },
    { "timeout",        required_argument, NULL, OPT_TIMEOUT },
    { "sim-max-memory", required_argument, NULL, OPT_SIM_MAX_MEMORY },
    { "json",           no_argument,       NULL, OPT_JSON },
    { "save",           required_argument, NULL, OPT_SAVE },
    { "help",           no_argument,       NULL, OPT_HELP },
    { "xen",            no_argument,       NULL, OPT_XEN },
    { "capture",        required_argument, NULL, OPT_CAPTURE },
    { "host-json",      required_argument, NULL, OPT_HOST_JSON },
    { "debug",          no_argument,       NULL, 'd' },
    { NULL, 0, NULL, 0 },
};

/*
 * --xen: receive into Xen's stock `xl migrate-receive` ($XENMIG_XL or
 * "xl"), after the pre-flight check of the domain's features.
 */
static int receive_xen(struct mig_migrate_options *opts, struct migrate_output *out,
                       struct mig_xen_dest_options *xen_opts, const char *host_json)
{
    struct migrate_xen_preflight preflight = { .host_json = host_json };
    struct mig_migrate_result result;
    struct mig_xen_dest *dest = NULL;
    xentoollog_logger_stdiostream *logger;
    int rc;

    if (!preflight.host_json)
        preflight.host_json = getenv("XENMIG_HOST_JSON");
    if (getenv("XENMIG_XL") && *getenv("XENMIG_XL"))
        xen_opts->xl = getenv("XENMIG_XL");
    xen_opts->preflight = migrate_xen_preflight;
    xen_opts->preflight_arg = &preflight;
    logger = xtl_createlogger_stdiostream(stderr, xen_opts->debug ? XTL_DEBUG : XTL_ERROR, 0);
    rc = mig_xen_dest_open((xentoollog_logger *)logger, xen_opts, &dest);
    if (!rc)
        rc = mig_migrate_receive(&mig_xen_dest_ops, dest, 0, 1, opts,
                                 (xentoollog_logger *)logger, &result);
    else
        memset(&result, 0, sizeof(result));
    migrate_output_summary(out, "migrate-receive", rc, &result, opts, 0, 0,
                           rc ? mig_error_last() : NULL);
    if (!rc) {
        fprintf(stderr, "%s migrate-receive: xl migrate-receive restored the domain, memory "
                "digest %016llx\n", xl_ext_prog, (unsigned long long)result.memory_hash);
        migrate_xen_record_baselines(mig_xen_dest_metadata(dest));
    }
    mig_xen_dest_close(dest);
    xtl_logger_destroy((xentoollog_logger *)logger);
    return !rc ? XL_EXT_EXIT_OK : rc == MIG_ECOMPAT ? XL_EXT_EXIT_INCOMPATIBLE
                                                    : XL_EXT_EXIT_FAILURE;
}

int cmd_migrate_receive(int argc, char **argv)
{
    struct mig_migrate_options opts = MIG_MIGRATE_OPTIONS_INIT;
    struct mig_migrate_result result;
    struct mig_sim_destination dest = { 0 };
    struct migrate_output out = { .out = stderr };
    xentoollog_logger_stdiostream *logger = NULL;
    struct mig_xen_dest_options xen_opts = MIG_XEN_DEST_OPTIONS_INIT;
    const char *host_json = NULL;
    bool use_sim = false, use_xen = false;
    unsigned long long n;
    uint64_t max_memory = 0;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "Fedrpt:Th", long_options, NULL)) != -1) {
        switch (opt) {
        case 'd':
            xen_opts.debug = true;     /* xl's meaning, passed on with --xen */
            break;
        case 'p':
            xen_opts.pause_after = true;
            break;
        case 'e':
            xen_opts.no_monitor = true;  /* passed on to xl with --xen */
            break;
        case 'F': case 'r': case 't': case 'T':
            break;                     /* xl's meaning */
        case OPT_XEN:
            use_xen = true;
            break;
        case OPT_CAPTURE:
            xen_opts.capture_path = optarg;
            break;
        case OPT_HOST_JSON:
            host_json = optarg;
            break;
        case OPT_SIM:
            use_sim = true;
            break;
        case OPT_DATA_LISTEN:
            opts.data_host = optarg;
            break;
        case OPT_TIMEOUT:
            if (xl_ext_parse_uint("--timeout", optarg, 100, 3600000, &n))
                return XL_EXT_EXIT_USAGE;
            opts.timeout_ms = (int)n;
            break;
        case OPT_SIM_MAX_MEMORY:
            if (xl_ext_parse_size("--sim-max-memory", optarg, &max_memory))
                return XL_EXT_EXIT_USAGE;
            break;
        case OPT_JSON:
            out.json = true;
            break;
        case OPT_SAVE:
            dest.save_path = optarg;
            break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stderr, "migrate-receive");
            return XL_EXT_EXIT_OK;
        default:
            fprintf(stderr, "%s migrate-receive: bad option (see above); run '%s help "
                    "migrate-receive'\n", xl_ext_prog, xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
    }
    if (use_sim && use_xen) {
        fprintf(stderr, "%s migrate-receive: --sim and --xen exclude each other\n",
                xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (use_xen)
        return receive_xen(&opts, &out, &xen_opts, host_json);
    if (!use_sim) {
        signal(SIGPIPE, SIG_DFL);
        return xl_ext_exec_xl(argc, argv);
    }

    dest.max_bytes = max_memory;
    logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    rc = mig_migrate_receive(&mig_sim_destination_ops, &dest, 0, 1, &opts,
                             (xentoollog_logger *)logger, &result);
    migrate_output_summary(&out, "migrate-receive", rc, &result, &opts, 0, 0,
                           rc ? mig_error_last() : NULL);
    if (!rc && dest.save_path)
        fprintf(stderr, "%s migrate-receive: guest saved to '%s', memory digest "
                "%016llx\n", xl_ext_prog, dest.save_path,
                (unsigned long long)result.memory_hash);
    else if (!rc)
        fprintf(stderr, "%s migrate-receive: guest resumed here, memory digest "
                "%016llx\n", xl_ext_prog, (unsigned long long)result.memory_hash);
    mig_sim_destination_dispose(&dest);
    xtl_logger_destroy((xentoollog_logger *)logger);
    return rc ? (rc == MIG_ENOMEM ? XL_EXT_EXIT_FAILURE : XL_EXT_EXIT_FAILURE)
              : XL_EXT_EXIT_OK;
}
