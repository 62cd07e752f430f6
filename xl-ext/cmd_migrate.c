/*
 * cmd_migrate.c: `xl-ext migrate`, the source side of a live migration:
 * the command line is parsed into a struct migrate_request and run by
 * migrate_run() (migrate_source.c), as xl's main_migrate calls
 * migrate_domain().  `xl-ext save --sim` parses its options here too.
 *
 * Keeps every option of `xl migrate` (-C -s -e -p -D -F --debug --live)
 * and its way of reaching the destination: the receiver is started as
 * `ssh HOST xl-ext migrate-receive ...` (or `sh -c HOST` with -s ""), and
 * its stdin/stdout are the control channel.  New options are long-only.
 * With --sim the guest is a simulated one in this process (backend/sim)
 * and the destination keeps its copy in the receiver process; without
 * --sim a real domain is migrated by the xenmig engine (migrate_xen_source.c),
 * or by stock xl with --engine xl (or for a domain type the engine does not
 * take, when no xenmig option was given).  This file only parses.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "migrate_source.h"
#include "mig_xfer.h"
#include "subcommands.h"

enum {
    OPT_DEBUG = 0x100, OPT_LIVE, OPT_STREAMS, OPT_TRACING, OPT_MAX_DOWNTIME,
    OPT_BANDWIDTH, OPT_JSON, OPT_POLICY, OPT_ON_NO_CONVERGENCE, OPT_TIMEOUT,
    OPT_SIM, OPT_SIM_MEMORY, OPT_SIM_VCPUS, OPT_SIM_PATTERN, OPT_SIM_RATE,
    OPT_SIM_WORKING_SET, OPT_SIM_FILL, OPT_NO_VERIFY, OPT_INJECT_FAULT, OPT_NO_ENCRYPT, OPT_HELP,
    OPT_ENGINE, OPT_DATA_HOST, OPT_RECONNECTS, OPT_LADDER, OPT_MAX_STREAMS,
    OPT_STREAM_BANDWIDTH, OPT_DRY_RUN, OPT_PREDICT, OPT_CIPHER, OPT_FORMAT,
};

static const struct option long_options[] = {
    { "debug",             no_argument,       NULL, OPT_DEBUG },
    { "live",              no_argument,       NULL, OPT_LIVE },
    { "streams",           required_argument, NULL, OPT_STREAMS },
    { "tracing",           required_argument, NULL, OPT_TRACING },
    { "max-downtime",      required_argument, NULL, OPT_MAX_DOWNTIME },
    { "bandwidth",         required_argument, NULL, OPT_BANDWIDTH },
    { "per-stream-bandwidth", required_argument, NULL, OPT_STREAM_BANDWIDTH },
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
    { "sim-fill",          required_argument, NULL, OPT_SIM_FILL },
    { "no-verify",         no_argument,       NULL, OPT_NO_VERIFY },
    { "inject-fault",      required_argument, NULL, OPT_INJECT_FAULT },
    { "no-encrypt",        no_argument,       NULL, OPT_NO_ENCRYPT },
    { "cipher",            required_argument, NULL, OPT_CIPHER },
    { "help",              no_argument,       NULL, OPT_HELP },
    { "engine",            required_argument, NULL, OPT_ENGINE },
    { "data-host",         required_argument, NULL, OPT_DATA_HOST },
    { "reconnects",        required_argument, NULL, OPT_RECONNECTS },
    { "ladder",            required_argument, NULL, OPT_LADDER },
    { "max-streams",       required_argument, NULL, OPT_MAX_STREAMS },
    { "dry-run",           no_argument,       NULL, OPT_DRY_RUN },
    { "predict",           no_argument,       NULL, OPT_PREDICT },
    { "format",            required_argument, NULL, OPT_FORMAT },   /* save's */
    { NULL, 0, NULL, 0 },
};

/* The option getopt_long just returned, as typed ("--streams", "--streams=3"). */
static const char *typed_option(char **argv)
{
    return optarg && optind >= 2 && argv[optind - 1] == optarg ? argv[optind - 2]
                                                               : argv[optind - 1];
}

/* "migrate" or "save": the command whose options are parsed, for messages. */
static const char *command_name = "migrate";

/* One line: "xl-ext migrate: WHAT". */
__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s %s: ", xl_ext_prog, command_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return XL_EXT_EXIT_USAGE;
}


struct choice {
    const char *name;
    unsigned int value;
};

/* *value of the choice named arg (0), or the usage error quoting arg and hint. */
static int parse_choice(const char *option, const char *arg, const struct choice *choices,
                        size_t nr_choices, const char *hint, unsigned int *value)
{
    for (size_t c = 0; c < nr_choices; c++) {
        if (!strcmp(arg, choices[c].name)) {
            *value = choices[c].value;
            return 0;
        }
    }
    return usage_error("%s '%s': use %s", option, arg, hint);
}
#define CHOICES(array) array, sizeof(array) / sizeof(array[0])

/*
 * --inject-fault NAME (testing only; docs/architecture.md, "Testing hooks
 * and the fault matrix"): break the data path once.
 */
static int parse_fault(const char *name, unsigned int *fault)
{
    static const struct choice faults[] = {
        { "corrupt-page", MIG_XFER_FAULT_CORRUPT_PAGE },
        { "cut-stream",   MIG_XFER_FAULT_CUT_STREAM },
        { "tamper-frame", MIG_XFER_FAULT_TAMPER_FRAME },
        { "replay-frame", MIG_XFER_FAULT_REPLAY_FRAME },
        { "truncate",     MIG_XFER_FAULT_TRUNCATE },
        { "stall",        MIG_XFER_FAULT_STALL },
        { "wrong-key",    MIG_XFER_FAULT_WRONG_KEY },
        { "stream-reset", MIG_XFER_FAULT_RESET },
        { "stream-reset-rounds", MIG_XFER_FAULT_RESET_ROUNDS },
        { "stream-reset-always", MIG_XFER_FAULT_RESET_ALWAYS },
        { "version",      MIG_MIGRATE_FAULT_VERSION },
        { "digest-mismatch", MIG_MIGRATE_FAULT_DIGEST },
        { "cpu-unknown",  MIG_MIGRATE_FAULT_CPU_UNKNOWN },
    };

    return parse_choice("--inject-fault", name, CHOICES(faults),
                        "corrupt-page, cut-stream, tamper-frame, replay-frame, truncate, "
                        "stall, wrong-key, stream-reset, stream-reset-rounds, "
                        "stream-reset-always, version, digest-mismatch or cpu-unknown", fault);
}

/* --ladder off|RUNG[,RUNG...]: the convergence ladder's rungs. */
static int parse_ladder(const char *arg, unsigned int *ladder)
{
    static const unsigned int rungs[] = { MIG_LADDER_COMPRESS, MIG_LADDER_WIDEN,
                                           MIG_LADDER_THROTTLE };
    const char *p = arg;

    *ladder = 0;
    if (!strcmp(arg, "off"))
        return 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        unsigned int found = 0;

        for (unsigned int r = 0; r < 3; r++) {
            const char *name = mig_ladder_rung_name(rungs[r]);

            if (len == strlen(name) && !strncmp(p, name, len))
                found = rungs[r];
        }
        if (!found)
            return usage_error("--ladder '%s': give 'off' or rungs from compress, widen "
                               "and throttle, separated by commas (e.g. "
                               "compress,throttle)", arg);
        *ladder |= found;
        p += len + (p[len] == ',');
    }
    if (!*ladder)
        return usage_error("--ladder '%s': give 'off' or rungs from compress, widen and "
                           "throttle, separated by commas", arg);
    return 0;
}

/* An option of the engine (struct mig_migrate_options): 0, or the exit code. */
static int parse_engine_option(struct mig_migrate_options *opts, int opt, const char *arg)
{
    static const struct choice ciphers[] = {
        { "auto", MIG_MIGRATE_CIPHER_AUTO },
        { "aes-256-gcm", MIG_XFER_CIPHER_AES_256_GCM },
        { "chacha20-poly1305", MIG_XFER_CIPHER_CHACHA20_POLY1305 },
    };
    unsigned long long n;

    switch (opt) {
    case OPT_STREAMS:
        if (xl_ext_parse_uint("--streams", arg, 1, 64, &n))
            return XL_EXT_EXIT_USAGE;
        opts->streams = (unsigned int)n;
        break;
    case OPT_TRACING:
        if (!strcmp(arg, "loose"))
            opts->tracing = MIG_TRACE_LOOSE;
        else if (!strcmp(arg, "stop"))
            opts->tracing = MIG_TRACE_STOP;
        else
            return usage_error("--tracing '%s': use 'loose' or 'stop'", arg);
        break;
    case OPT_MAX_DOWNTIME:
        if (xl_ext_parse_uint("--max-downtime", arg, 1, 3600000, &n))
            return XL_EXT_EXIT_USAGE;
        opts->policy.max_downtime_ms = (unsigned int)n;
        break;
    case OPT_BANDWIDTH:
        if (xl_ext_parse_rate("--bandwidth", arg, &opts->max_rate))
            return XL_EXT_EXIT_USAGE;
        break;
    case OPT_STREAM_BANDWIDTH:
        if (xl_ext_parse_rate("--per-stream-bandwidth", arg, &opts->max_rate_per_stream))
            return XL_EXT_EXIT_USAGE;
        break;
    case OPT_POLICY:
        if (!strcmp(arg, "downtime"))
            opts->policy.kind = MIG_PRECOPY_DOWNTIME;
        else if (!strcmp(arg, "xen-default"))
            opts->policy.kind = MIG_PRECOPY_XEN_DEFAULT;
        else
            return usage_error("--policy '%s': use 'downtime' or 'xen-default'", arg);
        break;
    case OPT_ON_NO_CONVERGENCE:
        if (!strcmp(arg, "force"))
            opts->policy.on_no_convergence = MIG_PRECOPY_FORCE;
        else if (!strcmp(arg, "abort"))
            opts->policy.on_no_convergence = MIG_PRECOPY_ABORT;
        else
            return usage_error("--on-no-convergence '%s': use 'force' or 'abort'", arg);
        break;
    case OPT_TIMEOUT:
        if (xl_ext_parse_uint("--timeout", arg, 100, 3600000, &n))
            return XL_EXT_EXIT_USAGE;
        opts->timeout_ms = (int)n;
        break;
    case OPT_RECONNECTS:
        if (xl_ext_parse_uint("--reconnects", arg, 0, 100, &n))
            return XL_EXT_EXIT_USAGE;
        opts->reconnects = (unsigned int)n;
        break;
    case OPT_LADDER:
        return parse_ladder(arg, &opts->policy.ladder);
    case OPT_MAX_STREAMS:
        if (xl_ext_parse_uint("--max-streams", arg, 1, 64, &n))
            return XL_EXT_EXIT_USAGE;
        opts->policy.max_streams = (unsigned int)n;
        break;
    case OPT_NO_VERIFY:
        opts->verify_memory = false;
        break;
    case OPT_NO_ENCRYPT:
        opts->encrypt = false;
        break;
    case OPT_CIPHER:
        return parse_choice("--cipher", arg, CHOICES(ciphers),
                            "auto, aes-256-gcm or chacha20-poly1305", &opts->cipher);
    case OPT_DRY_RUN:
        opts->dry_run = true;
        break;
    case OPT_PREDICT:
        opts->predict = true;
        break;
    case OPT_INJECT_FAULT:
        return parse_fault(arg, &opts->inject_fault);
    }
    return 0;
}

/* An option of the simulated guest (struct mig_sim_options): 0, or the exit code. */
static int parse_sim_option(struct mig_sim_options *sim, int opt, const char *arg)
{
    static const struct choice patterns[] = {
        { "uniform", MIG_SIM_PATTERN_UNIFORM }, { "hot", MIG_SIM_PATTERN_HOT_SET },
        { "sequential", MIG_SIM_PATTERN_SEQUENTIAL }, { "idle", MIG_SIM_PATTERN_IDLE },
    };
    static const struct choice fills[] = {
        { "zero", MIG_SIM_FILL_ZERO }, { "random", MIG_SIM_FILL_RANDOM },
        { "realistic", MIG_SIM_FILL_REALISTIC },
    };
    unsigned long long n;
    unsigned int value = 0;     /* set by parse_choice on success; gcc -O2 cannot tell */

    switch (opt) {
    case OPT_SIM_MEMORY:
        if (xl_ext_parse_size("--sim-memory", arg, &sim->memory_bytes))
            return XL_EXT_EXIT_USAGE;
        break;
    case OPT_SIM_VCPUS:
        if (xl_ext_parse_uint("--sim-vcpus", arg, 1, MIG_SIM_MAX_VCPUS, &n))
            return XL_EXT_EXIT_USAGE;
        sim->nr_vcpus = (unsigned int)n;
        break;
    case OPT_SIM_PATTERN:
        if (parse_choice("--sim-pattern", arg, CHOICES(patterns),
                         "uniform, hot, sequential or idle", &value))
            return XL_EXT_EXIT_USAGE;
        sim->pattern = (enum mig_sim_pattern)value;
        break;
    case OPT_SIM_RATE:
        if (xl_ext_parse_rate("--sim-rate", arg, &sim->writes_per_second))
            return XL_EXT_EXIT_USAGE;
        break;
    case OPT_SIM_WORKING_SET:
        if (xl_ext_parse_size("--sim-working-set", arg, &sim->working_set_bytes))
            return XL_EXT_EXIT_USAGE;
        break;
    case OPT_SIM_FILL:
        if (parse_choice("--sim-fill", arg, CHOICES(fills), "zero, random or realistic",
                         &value))
            return XL_EXT_EXIT_USAGE;
        sim->fill = (enum mig_sim_fill)value;
        break;
    }
    return 0;
}

/* What the command line said of the simulated guest, to check it whole. */
struct sim_given {
    const char *option;             /* the first --sim-* option, or NULL */
    const char *memory;             /* --sim-memory's text, or NULL */
    const char *working_set;        /* --sim-working-set's text, or NULL */
};

/* Options that contradict each other or the guest: 0, or the usage error. */
static int check_contradictions(const struct migrate_request *req, const struct sim_given *g)
{
    const struct mig_sim_options *sim = &req->sim;

    if (req->engine_xl && req->use_sim)
        return usage_error("--engine xl and --sim: stock xl moves Xen domains only; give "
                           "one of them");
    if (g->option && !req->use_sim)
        return usage_error("'%s' is an option of a simulated guest; add --sim, or leave it "
                           "out for a domain", g->option);
    if (req->opts.dry_run && req->opts.predict)
        return usage_error("--dry-run and --predict: --dry-run predicts and stops, "
                           "--predict predicts and migrates; give one of them");
    if (g->memory && (sim->memory_bytes < MIG_PAGE_SIZE || sim->memory_bytes % MIG_PAGE_SIZE))
        return usage_error("--sim-memory '%s': give a whole number of 4 KiB pages, at least "
                           "one (e.g. 64M, 1G)", g->memory);
    if (g->working_set && sim->working_set_bytes > sim->memory_bytes)
        return usage_error("--sim-working-set '%s' is larger than the guest's memory (%llu "
                           "MiB): give at most --sim-memory", g->working_set,
                           (unsigned long long)(sim->memory_bytes >> 20));
    if (g->working_set && sim->working_set_bytes < MIG_PAGE_SIZE)
        return usage_error("--sim-working-set '%s': give at least one 4 KiB page (e.g. "
                           "64M)", g->working_set);
    return 0;
}

/* HOST, and DOMAIN (a label with --sim) before it. */
static int parse_arguments(int argc, char **argv, struct migrate_request *req)
{
    if (req->opts.policy.max_streams && req->opts.policy.max_streams < req->opts.streams) {
        return usage_error("--max-streams %u is below --streams %u: the ladder only adds "
                           "streams; give at least %u", req->opts.policy.max_streams,
                           req->opts.streams, req->opts.streams);
    }
    if (req->opts.max_rate && req->opts.max_rate_per_stream)
        return usage_error("--bandwidth %llu and --per-stream-bandwidth %llu: give one, "
                           "the total or the cap of each stream",
                           (unsigned long long)req->opts.max_rate,
                           (unsigned long long)req->opts.max_rate_per_stream);
    if (req->use_sim) {
        if (argc - optind < 1 || argc - optind > 2)
            return usage_error("%d argument%s given: give [DOMAIN-LABEL] HOST with --sim",
                               argc - optind, argc - optind == 1 ? "" : "s");
        req->host = argv[argc - 1];
        return MIGRATE_PARSED;
    }
    if (req->engine_xl) {
        if (req->new_option)
            return usage_error("'%s' is a xenmig option and --engine xl runs stock 'xl %s', "
                               "which does not have it; give one of them", req->new_option,
                               command_name);
        return MIGRATE_STOCK_XL;
    }
    if (req->save) {
        /* xl save's: DOMAIN FILE [CONFIG]; the receiver is this host's. */
        if (argc - optind < 2 || argc - optind > 3)
            return usage_error("%d argument%s given: give DOMAIN FILE [CONFIG] (or --sim "
                               "... FILE)", argc - optind, argc - optind == 1 ? "" : "s");
        req->domain = argv[optind];
        req->save_path = argv[optind + 1];
        if (argc - optind == 3)
            req->config_file = argv[optind + 2];
        req->host = "localhost";
        return MIGRATE_PARSED;
    }
    if (argc - optind != 2)
        return usage_error("%d argument%s given: give DOMAIN HOST (or --sim [DOMAIN-LABEL] "
                           "HOST)", argc - optind, argc - optind == 1 ? "" : "s");
    req->domain = argv[optind];
    req->host = argv[optind + 1];
    return MIGRATE_PARSED;
}

int migrate_request_parse(int argc, char **argv, struct migrate_request *req)
{
    const char *cipher = NULL;      /* --cipher's argument, when given */
    struct sim_given given = { 0 };
    int opt, rc;

    command_name = req->save ? "save" : !strcmp(argv[0], "save") ? "save" : "migrate";
    optind = 1;
    while ((opt = getopt_long(argc, argv, "FC:s:epDch", long_options, NULL)) != -1) {
        switch (opt) {
        case 'C': req->config_file = optarg; break;
        case 'c':
            if (!req->save)
                return usage_error("%s", "-c is xl save's option (leave the domain "
                                   "running), not migrate's");
            req->checkpoint = true;
            break;
        case 'p':
            if (req->save)     /* xl save -p: a checkpoint, left paused */
                req->checkpoint = req->checkpoint_paused = true;
            else
                req->pause_after = true;
            break;
        case 'D': req->preserve_domid = true; break;
        case 'e': req->no_monitor = true; break;
        case 's': req->ssh_command = optarg; break;
        case 'F': case OPT_LIVE: break;    /* xl's meaning; nothing to do here */
        case OPT_DEBUG: req->debug = true; break;
        case OPT_SIM: req->use_sim = true; break;
        case OPT_ENGINE:
            if (!strcmp(optarg, "xl"))
                req->engine_xl = true;
            else if (strcmp(optarg, "xenmig"))
                return usage_error("--engine '%s': use 'xenmig' or 'xl'", optarg);
            break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stdout, command_name);
            return XL_EXT_EXIT_OK;
        case '?': {
            char what[160];

            return usage_error("%s; run '%s help %s' for the options",
                               xl_ext_option_error(argv, "FC:s:epDch", long_options, what,
                                                sizeof(what)),
                               xl_ext_prog, command_name);
        }
        default:
            /* xenmig's own options: stock xl does not have them. */
            req->new_option = typed_option(argv);
            if (opt == OPT_STREAMS)
                req->streams_given = true;
            if (opt == OPT_FORMAT)
                req->save_format = optarg;      /* save checks it; migrate refuses it */
            else if (opt == OPT_JSON)
                req->out.json = true;
            else if (opt == OPT_DATA_HOST)
                req->data_host = optarg;
            else if (opt == OPT_CIPHER)
                cipher = optarg;
            if (opt >= OPT_SIM_MEMORY && opt <= OPT_SIM_FILL && !given.option)
                given.option = typed_option(argv);
            if (opt == OPT_SIM_MEMORY)
                given.memory = optarg;
            else if (opt == OPT_SIM_WORKING_SET)
                given.working_set = optarg;
            rc = parse_engine_option(&req->opts, opt, optarg);
            if (!rc)
                rc = parse_sim_option(&req->sim, opt, optarg);
            if (rc)
                return rc;
        }
    }
    req->cipher_given = cipher != NULL;
    if (cipher && !req->opts.encrypt)
        return usage_error("--cipher %s and --no-encrypt: plain streams have no cipher; "
                           "give one of them", cipher);
    rc = check_contradictions(req, &given);
    if (rc)
        return rc;
    return parse_arguments(argc, argv, req);
}

int cmd_migrate(int argc, char **argv)
{
    struct migrate_request req;
    int rc;

    migrate_request_init(&req);
    rc = migrate_request_parse(argc, argv, &req);
    if (rc == MIGRATE_PARSED && req.save_format)
        return usage_error("--format %s: the format of a save file is an option of "
                           "'save'; a migration writes no file", req.save_format);
    if (rc == MIGRATE_PARSED)
        rc = migrate_run(&req);
    if (rc == MIGRATE_STOCK_XL) {
        argv[0] = "migrate";
        return xl_ext_exec_xl(argc, argv);
    }
    return rc;
}
