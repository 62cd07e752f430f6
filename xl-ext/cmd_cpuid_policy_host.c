/*
 * cmd_cpuid_policy_host.c: `xl-ext cpuid-policy host-dump`: this host's
 * description as JSON (docs/formats.md "Host file format"), or other
 * hosts' (--ssh, collected by running host-dump there: cpuid_remote.h);
 * and the options and reporting every --ssh command shares.
 *
 * On a Xen host the policies come from libxenguest ("source": "xen");
 * elsewhere from the CPU's own CPUID ("source": "native-cpuid"), and the
 * command says so on stderr.  The host's GPU facts and levels go into its
 * "gpu" object (cpuid_policy.h).  This file must never write a partial file:
 * it writes through a temporary file and a rename.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_cpuid_policy.h"
#include "cpuid_policy.h"
#include "mig_error.h"
#include "subcommands.h"

#define HOST_DUMP_HELP \
    "Usage: xl-ext cpuid-policy host-dump [-o FILE] [--hostname NAME]\n" \
    "       xl-ext cpuid-policy host-dump --ssh [USER@]HOST [-s SSHCOMMAND] [--timeout S]\n" \
    "                                     [--hostname NAME] [-o FILE]\n" \
    "       xl-ext cpuid-policy host-dump --ssh HOST --ssh HOST... [-s SSHCOMMAND]\n" \
    "                                     [--timeout S] -o DIR\n" \
    "This host's CPU policies and GPU levels as JSON, or other hosts', collected by running\n" \
    "'xl-ext cpuid-policy host-dump' there as 'xl migrate' reaches its peer.\n" \
    "  -o, --output FILE|DIR  write FILE (several --ssh: DIR/HOSTNAME.json) instead of\n" \
    "                     stdout\n" \
    "  --hostname NAME    record NAME as the host's name (default: its own)\n" \
    "  --ssh [USER@]HOST  the dump of HOST, through 'ssh HOST xl-ext cpuid-policy host-dump'\n" \
    "                     (repeatable: several hosts at once)\n" \
    "  -s SSHCOMMAND      use SSHCOMMAND instead of ssh, passed to sh; if empty, run HOST\n" \
    "                     itself, as 'xl migrate -s'\n" \
    "  --timeout S        each host's time limit in seconds (default 60; then it is killed)\n" \
    "Exit status: 0; 9 when some hosts could not be reached (each named on stderr, the\n" \
    "others written); 1 when none could.\n"

int cpuid_cli_remote_option(struct cpuid_cli_remote *r, int c, const char *sub)
{
    char *end;
    unsigned long seconds;

    switch (c) {
    case 'S':
        if (r->count == CPUID_REMOTE_MAX_HOSTS)
            return cpuid_cli_usage(sub, "more than %d --ssh hosts", CPUID_REMOTE_MAX_HOSTS);
        if (!optarg[0])
            return cpuid_cli_usage(sub, "--ssh needs a host ([USER@]HOST)");
        r->targets[r->count++] = optarg;
        return 0;
    case 's':
        r->ssh_command = optarg;
        return 0;
    case 'T':
        errno = 0;
        seconds = strtoul(optarg, &end, 10);
        if (errno || *end || !optarg[0] || optarg[0] == '-' || seconds < 1 ||
            seconds > CPUID_REMOTE_TIMEOUT_MAX_S)
            return cpuid_cli_usage(sub, "--timeout '%s': give whole seconds from 1 to %d", optarg,
                                   CPUID_REMOTE_TIMEOUT_MAX_S);
        r->timeout_s = (unsigned int)seconds;
        return 0;
    default:
        return 1;
    }
}

int cpuid_cli_remote_collect(const struct cpuid_cli_remote *r, const char *sub,
                             struct cpuid_remote_host **results_out)
{
    struct cpuid_remote_host *results = calloc(r->count ? r->count : 1, sizeof(*results));
    unsigned int collected;

    *results_out = NULL;
    if (!results) {
        fprintf(stderr, "%s cpuid-policy %s: out of memory\n", xl_ext_prog, sub);
        return -1;
    }
    collected = cpuid_remote_collect(r->targets, r->count, r->ssh_command,
                                     r->timeout_s ? r->timeout_s : CPUID_REMOTE_TIMEOUT_S,
                                     results);
    for (unsigned int i = 0; i < r->count; i++)
        if (!results[i].host)
            fprintf(stderr, "%s cpuid-policy %s: host '%s' could not be reached: %s\n",
                    xl_ext_prog, sub, results[i].target, results[i].reason);
    *results_out = results;
    return (int)collected;
}

int cpuid_cli_remote_exit_code(unsigned int collected, unsigned int wanted)
{
    if (collected == wanted)
        return XL_EXT_EXIT_OK;
    return collected ? XL_EXT_EXIT_PARTIAL : XL_EXT_EXIT_FAILURE;
}

bool cpuid_cli_wants_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(text, stdout);
            return true;
        }
    return false;
}

void cpuid_cli_hosts_free(struct cpuid_cli_hosts *h)
{
    for (unsigned int i = 0; h->hosts && i < h->count; i++)
        cpuid_host_free(h->hosts[i]);
    free(h->hosts);
    free(h->origins);
    memset(h, 0, sizeof(*h));
}

int cpuid_cli_hosts_exit_code(const struct cpuid_cli_hosts *h)
{
    return h->remote_collected < h->remote_wanted ? XL_EXT_EXIT_PARTIAL : XL_EXT_EXIT_OK;
}

/* Two hosts of h with one hostname: exit 3 naming both, else 0. */
static int refuse_same_names(const struct cpuid_cli_hosts *h, const char *sub)
{
    for (unsigned int i = 0; i < h->count; i++)
        for (unsigned int k = 0; k < i; k++)
            if (!strcmp(cpuid_host_hostname(h->hosts[i]), cpuid_host_hostname(h->hosts[k]))) {
                fprintf(stderr, "%s cpuid-policy %s: '%s' and '%s' are both host '%s': each "
                        "host needs its own name (host-dump --hostname NAME)\n", xl_ext_prog,
                        sub, h->origins[k], h->origins[i], cpuid_host_hostname(h->hosts[i]));
                return XL_EXT_EXIT_BAD_INPUT;
            }
    return 0;
}

int cpuid_cli_hosts_load(char *const *files, unsigned int nr_files,
                         const struct cpuid_cli_remote *r, const char *sub,
                         struct cpuid_cli_hosts *out)
{
    struct cpuid_remote_host *results = NULL;
    unsigned int total = nr_files + r->count;
    int collected, rc;

    memset(out, 0, sizeof(*out));
    out->hosts = calloc(total ? total : 1, sizeof(*out->hosts));
    out->origins = calloc(total ? total : 1, sizeof(*out->origins));
    if (!out->hosts || !out->origins)
        return cpuid_cli_fail(sub, mig_error_set(MIG_ENOMEM, "out of memory"));
    for (; out->count < nr_files; out->count++) {
        out->origins[out->count] = files[out->count];
        rc = cpuid_host_read_file(files[out->count], &out->hosts[out->count]);
        if (rc)
            return cpuid_cli_fail(sub, rc);
    }
    collected = r->count ? cpuid_cli_remote_collect(r, sub, &results) : 0;
    if (collected < 0)
        return XL_EXT_EXIT_FAILURE;
    out->remote_wanted = r->count;
    out->remote_collected = (unsigned int)collected;
    for (unsigned int i = 0; i < r->count; i++) {
        if (!results[i].host)
            continue;
        out->origins[out->count] = results[i].target;
        out->hosts[out->count++] = results[i].host;
        results[i].host = NULL;
    }
    free(results);
    if (!out->count) {
        fprintf(stderr, "%s cpuid-policy %s: none of the %u host(s) could be reached\n",
                xl_ext_prog, sub, r->count);
        return XL_EXT_EXIT_FAILURE;
    }
    return refuse_same_names(out, sub);
}

/* What `host-dump` is asked to do (strings borrowed from argv). */
struct host_dump_request {
    const char *output;                 /* -o, or NULL: stdout */
    const char *hostname;               /* --hostname, or NULL */
    struct cpuid_cli_remote remote;
};

#define HOST_DUMP_PARSED (-1)

static int parse_host_dump(int argc, char **argv, struct host_dump_request *req)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "hostname", required_argument, NULL, 'n' },
        CPUID_CLI_REMOTE_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:", opts, NULL)) != -1) {
        rc = cpuid_cli_remote_option(&req->remote, c, "host-dump");
        if (rc == 0)
            continue;
        if (rc != 1)
            return rc;
        if (c == 'o')
            req->output = optarg;
        else if (c == 'n')
            req->hostname = optarg;
        else
            return cpuid_cli_bad_option("host-dump", argv, "o:s:", opts);
    }
    if (optind != argc)
        return cpuid_cli_usage("host-dump", "unexpected argument '%s'", argv[optind]);
    if (req->remote.count > 1 && !req->output)
        return cpuid_cli_usage("host-dump", "several --ssh hosts need -o DIR");
    if (req->remote.count > 1 && req->hostname)
        return cpuid_cli_usage("host-dump", "--hostname names one host, not %u",
                               req->remote.count);
    if ((req->remote.ssh_command || req->remote.timeout_s) && !req->remote.count)
        return cpuid_cli_usage("host-dump", "-s and --timeout go with --ssh HOST");
    return HOST_DUMP_PARSED;
}

/* Write host to path, or stdout when path is NULL: 0 or the exit code, printed. */
static int write_host(struct cpuid_host *host, const char *path)
{
    char *json = NULL;
    int rc = path ? cpuid_host_write_file(host, path) : cpuid_host_to_json(host, &json);

    if (rc)
        return cpuid_cli_fail("host-dump", rc);
    if (json)
        fputs(json, stdout);
    free(json);
    return XL_EXT_EXIT_OK;
}

/* This host's description, with its GPU object. */
static int dump_this_host(const struct host_dump_request *req)
{
    struct cpuid_host *host = NULL;
    cpuid_gpu_level_table *gpu_levels = NULL;
    int rc, ret;

    rc = cpuid_host_probe(NULL, &host);
    if (rc) {
        ret = cpuid_cli_fail("host-dump", rc);
        goto out;
    }
    if (!strcmp(cpuid_host_source(host), "native-cpuid"))
        fprintf(stderr, "%s cpuid-policy host-dump: no Xen here (/proc/xen or "
                "xc_interface_open): featuresets are this CPU's own CPUID, labelled "
                "\"native-cpuid\"\n", xl_ext_prog);

    /* The GPU levels join the CPU policies: the "gpu" object (cpuid_policy.h). */
    rc = cpuid_gpu_level_table_load(NULL, &gpu_levels);
    if (!rc)
        rc = cpuid_gpu_host_json_add(cpuid_host_json(host), gpu_levels, NULL);
    if (!rc && req->hostname)
        rc = cpuid_host_set_hostname(host, req->hostname);
    if (rc) {
        ret = cpuid_cli_fail("host-dump", rc);
        goto out;
    }
    ret = write_host(host, req->output);
    if (ret == XL_EXT_EXIT_OK)
        cpuid_cli_print_host_highest(stderr, host);  /* stdout may be the JSON */
 out:
    cpuid_gpu_level_table_free(gpu_levels);
    cpuid_host_free(host);
    return ret;
}

/* DIR/NAME.json for a host named name (anything but [A-Za-z0-9._-] as '_'). */
static void dump_path(char *buf, size_t size, const char *dir, const char *name)
{
    size_t used = (size_t)snprintf(buf, size, "%s/", dir);

    for (const char *p = name; *p && used + 6 < size; p++)
        buf[used++] = (isalnum((unsigned char)*p) || strchr("._-", *p)) &&
                      !(p == name && *p == '.') ? *p : '_';
    snprintf(buf + used, size - used, ".json");
}

/* Whether a host before results[i] has results[i]'s hostname. */
static bool same_name_before(const struct cpuid_remote_host *results, unsigned int i)
{
    for (unsigned int k = 0; k < i; k++)
        if (results[k].host && !strcmp(cpuid_host_hostname(results[k].host),
                                       cpuid_host_hostname(results[i].host)))
            return true;
    return false;
}

/* Other hosts' descriptions, collected over ssh. */
static int dump_remote_hosts(const struct host_dump_request *req)
{
    struct cpuid_remote_host *results = NULL;
    unsigned int written = 0, wanted = req->remote.count;
    int collected = cpuid_cli_remote_collect(&req->remote, "host-dump", &results);
    char path[4096];

    if (collected < 0)
        return XL_EXT_EXIT_FAILURE;
    if (wanted > 1 && mkdir(req->output, 0755) && errno != EEXIST) {
        fprintf(stderr, "%s cpuid-policy host-dump: cannot make the directory '%s': %s\n",
                xl_ext_prog, req->output, strerror(errno));
        collected = 0;
    }
    for (unsigned int i = 0; collected > 0 && i < wanted; i++) {
        struct cpuid_host *host = results[i].host;
        int rc;

        if (!host)
            continue;
        if (req->hostname && (rc = cpuid_host_set_hostname(host, req->hostname))) {
            cpuid_cli_fail("host-dump", rc);
            continue;
        }
        if (wanted == 1) {
            written += write_host(host, req->output) == XL_EXT_EXIT_OK;
            continue;
        }
        if (same_name_before(results, i)) {
            fprintf(stderr, "%s cpuid-policy host-dump: host '%s' calls itself '%s' as an "
                    "earlier one does: not written (give each host its own name)\n",
                    xl_ext_prog, results[i].target, cpuid_host_hostname(host));
            continue;
        }
        dump_path(path, sizeof(path), req->output, cpuid_host_hostname(host));
        rc = cpuid_host_write_file(host, path);
        if (rc) {
            cpuid_cli_fail("host-dump", rc);
            continue;
        }
        printf("%s: %s\n", results[i].target, path);
        written++;
    }
    cpuid_remote_hosts_free(results, wanted);
    free(results);
    return cpuid_cli_remote_exit_code(written, wanted);
}

int cmd_cpuid_policy_host_dump(int argc, char **argv)
{
    struct host_dump_request req;
    int rc;

    if (cpuid_cli_wants_help(argc, argv, HOST_DUMP_HELP))
        return XL_EXT_EXIT_OK;
    memset(&req, 0, sizeof(req));
    rc = parse_host_dump(argc, argv, &req);
    if (rc != HOST_DUMP_PARSED)
        return rc;
    return req.remote.count ? dump_remote_hosts(&req) : dump_this_host(&req);
}
