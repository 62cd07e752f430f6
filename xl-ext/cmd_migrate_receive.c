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
#include "mig_sim_backend.h"
#include "subcommands.h"

enum { OPT_SIM = 0x100, OPT_DATA_LISTEN, OPT_TIMEOUT, OPT_SIM_MAX_MEMORY, OPT_JSON,
       OPT_SAVE, OPT_HELP };

static const struct option long_options[] = {
    { "sim",            no_argument,       NULL, OPT_SIM },
    { "data-listen",    required_argument, NULL, OPT_DATA_LISTEN },
    { "timeout",        required_argument, NULL, OPT_TIMEOUT },
    { "sim-max-memory", required_argument, NULL, OPT_SIM_MAX_MEMORY },
    { "json",           no_argument,       NULL, OPT_JSON },
    { "save",           required_argument, NULL, OPT_SAVE },
    { "help",           no_argument,       NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

int cmd_migrate_receive(int argc, char **argv)
{
    struct mig_migrate_options opts = MIG_MIGRATE_OPTIONS_INIT;
    struct mig_migrate_result result;
    struct mig_sim_destination dest = { 0 };
    struct migrate_output out = { .out = stderr };
    xentoollog_logger_stdiostream *logger = NULL;
    bool use_sim = false;
    unsigned long long n;
    uint64_t max_memory = 0;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "Fedrpt:Th", long_options, NULL)) != -1) {
        switch (opt) {
        case 'F': case 'e': case 'd': case 'r': case 'p': case 't': case 'T':
            break;                     /* xl's meaning; used by the Xen backend */
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
    if (!use_sim)
        return xl_ext_exec_xl(argc, argv);

    signal(SIGPIPE, SIG_IGN);
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
