/*
 * replay_common.c: the restore command line, the cancelling progress
 * callback, exit codes and output that `xl-ext restore` of xenmig save
 * files and `xl-ext convert` share (replay_common.h).  It must never
 * decide anything on the text of an error message: codes and the replay's
 * result only.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate_common.h"
#include "replay_common.h"
#include "subcommands.h"

enum { OPT_STREAMS = 0x100, OPT_SIM, OPT_HOST_JSON, OPT_HELP };

static const struct option long_options[] = {
    { "streams",            required_argument, NULL, OPT_STREAMS },
    { "sim",                no_argument,       NULL, OPT_SIM },
    { "host-json",          required_argument, NULL, OPT_HOST_JSON },
    { "vncviewer",          no_argument,       NULL, 'V' },
    { "vncviewer-autopass", no_argument,       NULL, 'A' },
    { "help",               no_argument,       NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

/* An option of xl restore's: 0, or the exit code. */
static int parse_xl_option(struct restore_request *req, int opt, char **argv)
{
    char what[160];

    switch (opt) {
    case 'p': req->pause_after = true; break;
    case 'd': req->debug = true; break;
    case 'e': req->no_monitor = true; break;
    case 'F': break;                  /* no daemon to stay in the foreground of */
    case 'c': case 'V': case 'A':
        if (!req->console_or_vnc)
            req->console_or_vnc = (char)opt;
        break;
    default:
        fprintf(stderr, "%s restore: %s; run '%s help restore' for the options\n",
                xl_ext_prog, xl_ext_option_error(argv, "FcpdeVAh", long_options, what,
                                                sizeof(what)),
                xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    return 0;
}

int restore_request_parse(int argc, char **argv, struct restore_request *req)
{
    unsigned long long n;
    int opt, rc;

    memset(req, 0, sizeof(*req));
    req->threads = 2;
    req->host_json = getenv("XENMIG_HOST_JSON");
    optind = 1;
    while ((opt = getopt_long(argc, argv, "FcpdeVAh", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_STREAMS:
            if (xl_ext_parse_uint("--streams", optarg, 1, 64, &n))
                return XL_EXT_EXIT_USAGE;
            req->threads = (unsigned int)n;
            break;
        case OPT_SIM: req->sim = true; break;
        case OPT_HOST_JSON: req->host_json = optarg; break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stdout, "restore");
            return XL_EXT_EXIT_OK;
        default:
            rc = parse_xl_option(req, opt, argv);
            if (rc)
                return rc;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        fprintf(stderr, "%s restore: %s; give [CONFIG] FILE, as xl restore takes them; "
                "run '%s help restore'\n", xl_ext_prog, argc - optind < 1 ?
                "no save file given" : "too many arguments", xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    if (req->host_json && !*req->host_json)
        req->host_json = NULL;
    req->file = argv[argc - 1];
    if (xl_ext_input_readable("restore", "save file", req->file))
        return XL_EXT_EXIT_BAD_INPUT;
    req->config = argc - optind == 2 ? argv[optind] : NULL;
    return RESTORE_PARSED;
}

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
    caught_signal = sig;
}

/* The replay's progress: go on until a signal came. */
static int cancel_on_signal(const struct mig_replay_progress *progress, void *payload)
{
    return caught_signal != 0;
}

void replay_options_init(struct mig_replay_options *opts)
{
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
    static const int signals[] = { SIGINT, SIGTERM, SIGHUP };

    *opts = (struct mig_replay_options)MIG_REPLAY_OPTIONS_INIT;
    opts->progress = cancel_on_signal;
    sigemptyset(&sa.sa_mask);
    for (unsigned int i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        sigaction(signals[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
}

int replay_exit_code(int rc, const struct mig_replay_result *result)
{
    switch (rc) {
    case 0:
        return XL_EXT_EXIT_OK;
    case MIG_ECANCELLED:
        return XL_EXT_EXIT_CANCELLED;
    case MIG_ECOMPAT:
        return XL_EXT_EXIT_INCOMPATIBLE;
    case MIG_EFORMAT: case MIG_ETRUNC: case MIG_ECORRUPT: case MIG_ELIMIT:
        return result->started ? XL_EXT_EXIT_FAILURE : XL_EXT_EXIT_BAD_INPUT;
    case MIG_EUNSUPP:           /* a later format version, or (warming, started) no xl */
        return result->started || result->warm_up_called ? XL_EXT_EXIT_NO_XEN
                                                         : XL_EXT_EXIT_BAD_INPUT;
    default:
        return XL_EXT_EXIT_FAILURE;
    }
}

void replay_print_failure(const char *cmd, const char *file, const struct mig_replay_result *r,
                          const char *undone)
{
    const char *after = r->started ? undone : "nothing was started";

    /* one line, as every error (what happened to the domain at its end) */
    fprintf(stderr, "%s %s: cannot %s '%s': %s%s%s\n", xl_ext_prog, cmd, cmd, file,
            mig_error_last(), *after ? "; " : "", after);
}

void replay_print_summary(const char *cmd, const char *file, const char *format,
                          const char *family, const struct mig_replay_result *r,
                          uint64_t digest, const char *extra)
{
    printf("%s %s: result=ok file=%s format=%s family=%s pages=%llu zero=%llu threads=%u "
           "verify=%.3fs replay=%.3fs replay_parts=%.3f/%.3f/%.3f/%.3f "
           "memory_digest=%016llx%s%s\n", xl_ext_prog, cmd, file, format, family,
           (unsigned long long)r->pages, (unsigned long long)r->zero_pages, r->threads,
           r->verify_seconds, r->replay_seconds, r->open_seconds, r->pages_seconds,
           r->state_seconds, r->resume_seconds, (unsigned long long)digest,
           extra ? " " : "", extra ? extra : "");
}

int replay_mapped_open(const char *cmd, const char *path, struct mig_mapped_file **file_out,
                       struct mig_mapped_info *info)
{
    struct mig_replay_result none = { .started = false };
    int rc = mig_mapped_file_open(path, file_out);

    if (rc) {
        replay_print_failure(cmd, path, &none, "");
        return replay_exit_code(rc, &none);
    }
    mig_mapped_file_info(*file_out, info);
    return 0;
}

int replay_mapped_info(const char *cmd, const char *path, struct mig_mapped_info *info)
{
    struct mig_mapped_file *f = NULL;
    int rc = replay_mapped_open(cmd, path, &f, info);

    mig_mapped_file_close(f);
    return rc;
}
