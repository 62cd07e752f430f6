/*
 * cmd_migrate_receive.c: `xl-ext migrate-receive`, the destination side.
 * Started by `xl-ext migrate` (through ssh or sh); stdin/stdout are the
 * control channel, so everything human goes to stderr.  Accepts xl's
 * migrate-receive options.  With --sim it receives a simulated guest into
 * this process, with --xen a Xen domain into stock `xl migrate-receive`;
 * without either the command is handed to xl unchanged.  With --save FILE
 * the guest is written to a file instead (--save-format mapped: the mapped
 * save file of libmig/savefile, for either; else an xl save file with
 * --xen, the sim's sequential file with --sim).  The command line is parsed into a struct
 * receive_request, then one call receives.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xentoollog.h>

#include "migrate_common.h"
#include "migrate_xen.h"
#include "mig_savefile.h"
#include "mig_sim_backend.h"
#include "mig_xen.h"
#include "subcommands.h"

enum { OPT_SIM = 0x100, OPT_DATA_LISTEN, OPT_TIMEOUT, OPT_SIM_MAX_MEMORY, OPT_JSON,
       OPT_SAVE, OPT_HELP, OPT_XEN, OPT_CAPTURE, OPT_HOST_JSON, OPT_SAVE_FORMAT };

static const struct option long_options[] = {
    { "sim",            no_argument,       NULL, OPT_SIM },
    { "data-listen",    required_argument, NULL, OPT_DATA_LISTEN },
    { "timeout",        required_argument, NULL, OPT_TIMEOUT },
    { "sim-max-memory", required_argument, NULL, OPT_SIM_MAX_MEMORY },
    { "json",           no_argument,       NULL, OPT_JSON },
    { "save",           required_argument, NULL, OPT_SAVE },
    { "save-format",    required_argument, NULL, OPT_SAVE_FORMAT },
    { "help",           no_argument,       NULL, OPT_HELP },
    { "xen",            no_argument,       NULL, OPT_XEN },
    { "capture",        required_argument, NULL, OPT_CAPTURE },
    { "host-json",      required_argument, NULL, OPT_HOST_JSON },
    { "debug",          no_argument,       NULL, 'd' },
    { NULL, 0, NULL, 0 },
};

/* What `xl-ext migrate-receive` is asked to do. */
struct receive_request {
    struct mig_migrate_options opts;    /* --data-listen, --timeout */
    struct migrate_output out;          /* the summary, on stderr */
    struct mig_xen_dest_options xen;    /* --xen, and xl's -d -p -e, --capture */
    const char *host_json;              /* --host-json, or NULL */
    const char *save_path;              /* --save, or NULL */
    bool save_mapped;                   /* --save-format mapped */
    uint64_t max_memory;                /* --sim-max-memory, 0: none */
    bool use_sim, use_xen;
    char listen_addr[INET6_ADDRSTRLEN]; /* the default of --data-listen */
};

#define RECEIVE_PARSED (-1)

/*
 * --save FILE --save-format mapped: receive a guest of family ("sim",
 * "xen") into a mapped save file (libmig/savefile); a Xen domain's
 * pre-flight runs on its prologue as for --xen.
 */
static int receive_mapped(struct receive_request *req, const char *family,
                          xentoollog_logger *logger)
{
    struct mig_mapped_dest_options mo = MIG_MAPPED_DEST_OPTIONS_INIT;
    struct migrate_xen_preflight preflight = { .host_json = req->host_json };
    struct mig_migrate_result result;
    struct mig_mapped_dest *dest = NULL;
    int rc;

    if (!preflight.host_json)
        preflight.host_json = getenv("XENMIG_HOST_JSON");
    mo.path = req->save_path;
    mo.family = family;
    if (!strcmp(family, "xen")) {
        mo.preflight = migrate_xen_preflight;
        mo.preflight_arg = &preflight;
    }
    rc = mig_mapped_dest_open(&mo, &dest);
    if (!rc)
        rc = mig_migrate_receive(mig_mapped_dest_ops(dest), dest, 0, 1, &req->opts, logger,
                                 &result);
    else
        memset(&result, 0, sizeof(result));
    migrate_output_received(&req->out, rc, &result, rc ? mig_error_last() : NULL);
    if (!rc && result.dry_run)
        fprintf(stderr, "%s migrate-receive: dry run: nothing kept\n", xl_ext_prog);
    else if (!rc)
        fprintf(stderr, "%s migrate-receive: guest saved to '%s' (mapped), memory digest "
                "%016llx\n", xl_ext_prog, req->save_path,
                (unsigned long long)result.memory_hash);
    mig_mapped_dest_close(dest);       /* not put in place: the file goes */
    return !rc ? XL_EXT_EXIT_OK : rc == MIG_ECOMPAT ? XL_EXT_EXIT_INCOMPATIBLE
                                                    : XL_EXT_EXIT_FAILURE;
}

/*
 * --xen: receive into Xen's stock `xl migrate-receive` ($XENMIG_XL or
 * "xl"), after the pre-flight check of the domain's features.
 */
static int receive_xen(struct receive_request *req)
{
    struct migrate_xen_preflight preflight = { .host_json = req->host_json };
    struct mig_xen_dest_options *xen_opts = &req->xen;
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
    xen_opts->save_path = req->save_path;     /* save: the file, no xl */
    logger = xtl_createlogger_stdiostream(stderr, xen_opts->debug ? XTL_DEBUG : XTL_ERROR, 0);
    rc = mig_xen_dest_open((xentoollog_logger *)logger, xen_opts, &dest);
    if (!rc)
        rc = mig_migrate_receive(&mig_xen_dest_ops, dest, 0, 1, &req->opts,
                                 (xentoollog_logger *)logger, &result);
    else
        memset(&result, 0, sizeof(result));
    migrate_output_received(&req->out, rc, &result, rc ? mig_error_last() : NULL);
    if (!rc && result.dry_run) {
        fprintf(stderr, "%s migrate-receive: dry run: nothing kept\n", xl_ext_prog);
    } else if (!rc && req->save_path) {
        fprintf(stderr, "%s migrate-receive: domain saved to '%s' (an xl save file), "
                "memory digest %016llx\n", xl_ext_prog, req->save_path,
                (unsigned long long)result.memory_hash);
    } else if (!rc) {
        fprintf(stderr, "%s migrate-receive: xl migrate-receive restored the domain, memory "
                "digest %016llx\n", xl_ext_prog, (unsigned long long)result.memory_hash);
        migrate_xen_record_baselines(mig_xen_dest_metadata(dest));
    }
    /* never told to unpause (a failure, a dry run): the incoming copy goes */
    mig_xen_dest_close(dest);
    xtl_logger_destroy((xentoollog_logger *)logger);
    return !rc ? XL_EXT_EXIT_OK : rc == MIG_ECOMPAT ? XL_EXT_EXIT_INCOMPATIBLE
                                                    : XL_EXT_EXIT_FAILURE;
}

/* --sim: receive a simulated guest into this process (or with --save, into a file). */
static int receive_sim(struct receive_request *req)
{
    struct mig_sim_destination dest = { .save_path = req->save_path,
                                        .max_bytes = req->max_memory };
    struct mig_migrate_result result;
    xentoollog_logger_stdiostream *logger;
    int rc;

    logger = xtl_createlogger_stdiostream(stderr, req->xen.debug ? XTL_DEBUG : XTL_ERROR, 0);
    rc = mig_migrate_receive(&mig_sim_destination_ops, &dest, 0, 1, &req->opts,
                             (xentoollog_logger *)logger, &result);
    migrate_output_received(&req->out, rc, &result, rc ? mig_error_last() : NULL);
    if (!rc && result.dry_run)
        fprintf(stderr, "%s migrate-receive: dry run: nothing kept\n", xl_ext_prog);
    else if (!rc && dest.save_path)
        fprintf(stderr, "%s migrate-receive: guest saved to '%s', memory digest "
                "%016llx\n", xl_ext_prog, dest.save_path,
                (unsigned long long)result.memory_hash);
    else if (!rc)
        fprintf(stderr, "%s migrate-receive: guest resumed here, memory digest "
                "%016llx\n", xl_ext_prog, (unsigned long long)result.memory_hash);
    mig_sim_destination_dispose(&dest);
    xtl_logger_destroy((xentoollog_logger *)logger);
    return rc ? XL_EXT_EXIT_FAILURE : XL_EXT_EXIT_OK;
}

/*
 * Where the data streams are accepted without --data-listen: the address
 * the control connection came in on when ssh started this receiver (the
 * server address of $SSH_CONNECTION), else loopback.  Never every
 * interface: the data port is then reachable from where the source is and
 * no further.  buf holds the address; returns buf.
 */
static const char *default_data_listen(char *buf, size_t size)
{
    const char *conn = getenv("SSH_CONNECTION");
    unsigned char addr[sizeof(struct in6_addr)];
    char field[3][INET6_ADDRSTRLEN];

    snprintf(buf, size, "127.0.0.1");
    /* "CLIENT_ADDR CLIENT_PORT SERVER_ADDR SERVER_PORT" */
    if (conn && sscanf(conn, "%45s %45s %45s", field[0], field[1], field[2]) == 3 &&
        (inet_pton(AF_INET, field[2], addr) == 1 || inet_pton(AF_INET6, field[2], addr) == 1))
        snprintf(buf, size, "%s", field[2]);
    return buf;
}

/* RECEIVE_PARSED, or the exit code to end with (0 after -h; 2 after a usage error). */
static int parse_request(int argc, char **argv, struct receive_request *req)
{
    unsigned long long n;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "Fedrpt:Th", long_options, NULL)) != -1) {
        switch (opt) {
        case 'd': req->xen.debug = true; break;          /* xl's meaning, passed on */
        case 'p': req->xen.pause_after = true; break;
        case 'e': req->xen.no_monitor = true; break;
        case 'F': case 'r': case 't': case 'T': break;   /* xl's meaning */
        case OPT_XEN: req->use_xen = true; break;
        case OPT_CAPTURE: req->xen.capture_path = optarg; break;
        case OPT_HOST_JSON: req->host_json = optarg; break;
        case OPT_SIM: req->use_sim = true; break;
        case OPT_DATA_LISTEN: req->opts.data_host = optarg; break;
        case OPT_JSON: req->out.json = true; break;
        case OPT_SAVE: req->save_path = optarg; break;
        case OPT_SAVE_FORMAT:
            if (strcmp(optarg, "xl") && strcmp(optarg, "mapped")) {
                fprintf(stderr, "%s migrate-receive: --save-format '%s': use 'xl' or "
                        "'mapped'\n", xl_ext_prog, optarg);
                return XL_EXT_EXIT_USAGE;
            }
            req->save_mapped = !strcmp(optarg, "mapped");
            break;
        case OPT_TIMEOUT:
            if (xl_ext_parse_uint("--timeout", optarg, 100, 3600000, &n))
                return XL_EXT_EXIT_USAGE;
            req->opts.timeout_ms = (int)n;
            break;
        case OPT_SIM_MAX_MEMORY:
            if (xl_ext_parse_size("--sim-max-memory", optarg, &req->max_memory))
                return XL_EXT_EXIT_USAGE;
            break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stdout, "migrate-receive");
            return XL_EXT_EXIT_OK;
        default: {
            char what[160];

            fprintf(stderr, "%s migrate-receive: %s; run '%s help migrate-receive' for the "
                    "options\n", xl_ext_prog,
                    xl_ext_option_error(argv, "Fedrpt:Th", long_options, what,
                                                sizeof(what)), xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
        }
    }
    if (req->use_sim && req->use_xen) {
        fprintf(stderr, "%s migrate-receive: --sim and --xen exclude each other: give one\n",
                xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    if (req->save_mapped && !req->save_path) {
        fprintf(stderr, "%s migrate-receive: --save-format mapped needs --save FILE\n",
                xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    if (!req->opts.data_host)
        req->opts.data_host = default_data_listen(req->listen_addr,
                                                  sizeof(req->listen_addr));
    return RECEIVE_PARSED;
}

int cmd_migrate_receive(int argc, char **argv)
{
    struct receive_request req = {
        .opts = MIG_MIGRATE_OPTIONS_INIT, .out = { .out = stderr },
        .xen = MIG_XEN_DEST_OPTIONS_INIT,
    };
    xentoollog_logger_stdiostream *logger;
    int rc = parse_request(argc, argv, &req);

    if (rc != RECEIVE_PARSED)
        return rc;
    if (!req.use_sim && !req.use_xen)
        return xl_ext_exec_xl(argc, argv);
    /* A source that hung up is an error, not the end of this process;
     * a file over its size limit (ulimit -f) is an error, not a core dump. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    if (!req.save_mapped)
        return req.use_xen ? receive_xen(&req) : receive_sim(&req);
    logger = xtl_createlogger_stdiostream(stderr, req.xen.debug ? XTL_DEBUG : XTL_ERROR, 0);
    rc = receive_mapped(&req, req.use_xen ? "xen" : "sim", (xentoollog_logger *)logger);
    xtl_logger_destroy((xentoollog_logger *)logger);
    return rc;
}
