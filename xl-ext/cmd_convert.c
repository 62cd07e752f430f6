/*
 * cmd_convert.c: `xl-ext convert --format xl [--streams N] MAPPED OUT`:
 * a mapped save file (libmig/savefile) turned into a sequential one: for
 * a Xen domain a standard xl save file (head, pages, tail: what stock `xl
 * restore` and Xen's verify-stream-v2 read), written by the Xen
 * destination in its save mode; for a simulated guest its sequential save
 * file.  OUT is written beside itself and renamed into place only whole;
 * a conversion that fails leaves whatever OUT was.
 *
 * The input is checked whole first (a file cut short or damaged: exit 3,
 * nothing written); the replay is libmig's (mig_mapped_replay), so this
 * file only parses and picks the destination.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <xentoollog.h>

#include "migrate_common.h"
#include "mig_sim_backend.h"
#include "mig_xen.h"
#include "replay_common.h"
#include "subcommands.h"

enum { OPT_FORMAT = 0x100, OPT_STREAMS, OPT_HELP };

static const struct option long_options[] = {
    { "format",  required_argument, NULL, OPT_FORMAT },
    { "streams", required_argument, NULL, OPT_STREAMS },
    { "help",    no_argument,       NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

struct convert_request {
    const char *in, *out;
    unsigned int threads;
};

#define CONVERT_PARSED (-1)

static int usage_error(const char *what)
{
    fprintf(stderr, "%s convert: %s; run '%s help convert'\n", xl_ext_prog, what,
            xl_ext_prog);
    return XL_EXT_EXIT_USAGE;
}

static int parse_request(int argc, char **argv, struct convert_request *req)
{
    const char *format = NULL;
    unsigned long long n;
    int opt;

    req->threads = 2;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_FORMAT: format = optarg; break;
        case OPT_STREAMS:
            if (xl_ext_parse_uint("--streams", optarg, 1, 64, &n))
                return XL_EXT_EXIT_USAGE;
            req->threads = (unsigned int)n;
            break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stdout, "convert");
            return XL_EXT_EXIT_OK;
        default: {
            char what[160];

            return usage_error(xl_ext_option_error(argv, "h", long_options, what,
                                                sizeof(what)));
        }
        }
    }
    if (!format || strcmp(format, "xl")) {
        fprintf(stderr, "%s convert: %s%s%s: give --format xl, the one conversion: "
                "a mapped file to a sequential one (a mapped file is written by '%s "
                "save --format mapped')\n", xl_ext_prog, format ? "--format '" :
                "no --format given", format ? format : "", format ? "'" : "", xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    if (argc - optind != 2)
        return usage_error("give the MAPPED file and the OUT file");
    req->in = argv[optind];
    req->out = argv[optind + 1];
    if (xl_ext_input_readable("convert", "save file", req->in))
        return XL_EXT_EXIT_BAD_INPUT;
    return CONVERT_PARSED;
}

/* A Xen domain's file: the Xen destination writes the merged stream to OUT. */
static int convert_xen(const struct convert_request *req, struct mig_replay_result *result)
{
    struct mig_xen_dest_options xo = MIG_XEN_DEST_OPTIONS_INIT;
    xentoollog_logger_stdiostream *logger;
    struct mig_replay_options ro;
    struct mig_xen_dest *dest = NULL;
    int rc;

    xo.save_path = req->out;
    logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    replay_options_init(&ro);
    rc = mig_xen_dest_open((xentoollog_logger *)logger, &xo, &dest);
    if (!rc)
        rc = mig_mapped_replay(req->in, &mig_xen_dest_ops, dest, req->threads, &ro, result);
    mig_xen_dest_close(dest);           /* not put in place: OUT goes */
    xtl_logger_destroy((xentoollog_logger *)logger);
    return rc;
}

/* A simulated guest's file: the sim destination writes its sequential file. */
static int convert_sim(const struct convert_request *req, struct mig_replay_result *result)
{
    struct mig_sim_destination dest = { .save_path = req->out };
    struct mig_replay_options ro;
    int rc;

    replay_options_init(&ro);
    rc = mig_mapped_replay(req->in, &mig_sim_destination_ops, &dest, req->threads, &ro,
                           result);
    mig_sim_destination_dispose(&dest);
    return rc;
}

int cmd_convert(int argc, char **argv)
{
    struct mig_replay_result result = { .started = false };
    struct convert_request req;
    struct mig_mapped_info info;
    char extra[4200];
    int rc = parse_request(argc, argv, &req);

    if (rc != CONVERT_PARSED)
        return rc;
    rc = replay_mapped_info("convert", req.in, &info);
    if (rc)
        return rc;
    if (strcmp(info.family, "xen") && strcmp(info.family, "sim")) {
        fprintf(stderr, "%s convert: '%s' holds a '%s' guest: only Xen domains' and "
                "simulated guests' files convert; nothing was written\n", xl_ext_prog,
                req.in, info.family);
        return XL_EXT_EXIT_BAD_INPUT;
    }
    rc = strcmp(info.family, "xen") ? convert_sim(&req, &result)
                                    : convert_xen(&req, &result);
    if (rc) {
        replay_print_failure("convert", req.in, &result, "OUT was left as it was");
        return replay_exit_code(rc, &result);
    }
    snprintf(extra, sizeof(extra), "out=%s", req.out);
    replay_print_summary("convert", req.in, "xl", info.family, &result,
                         result.memory_digest, extra);
    return XL_EXT_EXIT_OK;
}
