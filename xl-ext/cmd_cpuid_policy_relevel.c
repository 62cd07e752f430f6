/*
 * cmd_cpuid_policy_relevel.c: clusters that change:
 *   cluster create CLUSTER.json [--name NAME] [HOST.json...] [--ssh HOST]...
 *       a new cluster of the hosts, its baseline what they all share;
 *   cluster remove CLUSTER.json NAME...
 *       members leave (the baseline stays; relevel raises it);
 *   cluster relevel CLUSTER.json [--auto | --to LEVEL] [--domains DIR] [--force]
 *       the baseline set to what the members share, or to a named level,
 *       after listing the recorded domains a lower one leaves behind.
 * The rules live in libcpuidpolicy (cpuid_policy.h, "Clusters that
 * change"); this file reads files, prints and picks exit codes.  It must
 * never write a baseline that leaves a recorded domain behind unless
 * --force was given, and never write a cluster file after a refusal.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_cpuid_policy.h"
#include "cpuid_policy.h"
#include "domain_record.h"
#include "mig_error.h"
#include "subcommands.h"

#define CREATE_HELP \
    "Usage: xl-ext cpuid-policy cluster create CLUSTER.json [--name NAME] [HOST.json...]\n" \
    "           [--ssh [USER@]HOST]... [-s SSHCOMMAND] [--timeout S]\n" \
    "A new cluster file of the hosts: one vendor, the baseline what they all share (the\n" \
    "intersection of their HVM max featuresets), the GPU level the lowest of theirs.\n" \
    "  --name NAME        the cluster's name (default: the file's name without extension)\n" \
    "  --ssh [USER@]HOST  a host's dump through 'ssh HOST xl-ext cpuid-policy host-dump'\n" \
    "                     (repeatable: several hosts at once)\n" \
    "  -s SSHCOMMAND      use SSHCOMMAND instead of ssh, passed to sh; if empty, run HOST\n" \
    "                     itself, as 'xl migrate -s'\n" \
    "  --timeout S        each --ssh host's time limit in seconds (default 60)\n" \
    "Exit status: 0; 1 CLUSTER.json exists, or no host could be reached; 3 a bad host file\n" \
    "or two hosts of one name; 4 a vendor mix; 9 some --ssh hosts could not be reached\n" \
    "(each named on stderr): the cluster is made of the others.\n"

#define REMOVE_HELP \
    "Usage: xl-ext cpuid-policy cluster remove CLUSTER.json NAME...\n" \
    "Remove members.  The baseline stays as it is: 'cluster relevel' raises it to what the\n" \
    "members left share.  Exit status: 0; 3 no such member (nothing is written).\n"

#define RELEVEL_HELP \
    "Usage: xl-ext cpuid-policy cluster relevel CLUSTER.json [--auto | --to LEVEL]\n" \
    "           [--domains DIR] [--force]\n" \
    "Set the cluster's baseline to what its members share (--auto, the default), or to a\n" \
    "named level every member has (--to).  Before a baseline is lowered, every recorded\n" \
    "domain it would leave behind (one its old baseline covered and the new one does not:\n" \
    "its recorded cpuid_featureset, else its cpuid_baseline) is listed, one line each:\n" \
    "  uncovered: NAME baseline=BASELINE missing=FEATURE,...\n" \
    "  --domains DIR      the domain records to look at (default $XENMIG_STATE_DIR, else\n" \
    "                     /var/lib/xenmig); on a Xen host the running domains as well\n" \
    "  --force            write the lower baseline even so\n" \
    "Exit status: 0; 3 unknown level; 4 a member lacks the level (missing: lines), or\n" \
    "domains would be left behind and --force was not given (nothing is written).\n"

/*
 * What a domain record says the domain needs: its cpuid_featureset, else
 * its cpuid_baseline resolved ("cluster": the cluster's baseline before).
 */
static int record_needs(const struct domain_record_entry *e, const struct cpuid_level_set *levels,
                        const struct cpuid_featureset *before, struct cpuid_featureset *needs)
{
    enum cpuid_baseline_kind kind;
    int rc;

    if (e->cpuid_featureset)
        return cpuid_featureset_parse_hex(e->cpuid_featureset, 0, needs);
    rc = cpuid_baseline_parse(e->cpuid_baseline, e->name, &kind, NULL);
    if (rc || kind != CPUID_BASELINE_CLUSTER)
        return rc ? rc : cpuid_baseline_resolve(e->cpuid_baseline, levels, NULL, e->name, needs);
    *needs = *before;
    return 0;
}

/*
 * The recorded domains (domains_dir, NULL: the state dir; and the running
 * ones on Xen) that the baseline going from `before` to `after` leaves
 * behind, one "uncovered: NAME baseline=B missing=F,G" line each on stdout
 * (a record that cannot be read: "uncovered: NAME unreadable: REASON").
 * Returns how many, or a negative MIG_E* code (message set).
 */
static int domains_left_behind(const char *domains_dir, const struct cpuid_level_set *levels,
                               const struct cpuid_featureset *before,
                               const struct cpuid_featureset *after)
{
    struct xs_handle *xs = access("/proc/xen", F_OK) == 0 ? xs_open(0) : NULL;
    struct domain_record_entry *entries = NULL;
    unsigned int count = 0;
    int rc, left = 0;

    rc = domain_record_list(xs, domains_dir, &entries, &count);
    if (xs)
        xs_close(xs);
    if (rc)
        return rc;
    for (unsigned int i = 0; i < count; i++) {
        const struct domain_record_entry *e = &entries[i];
        const char *baseline = e->cpuid_baseline ? e->cpuid_baseline : "-";
        struct cpuid_featureset needs, lost;
        char *names = NULL;

        if (record_needs(e, levels, before, &needs)) {
            printf("uncovered: %s unreadable: %s\n", e->name, mig_error_last());
            left++;
            continue;
        }
        if (!cpuid_baseline_leaves_behind(&needs, before, after, &lost))
            continue;
        if (cpuid_featureset_format_names(&lost, CPUID_NAMES_XEN, ",", &names)) {
            domain_record_entries_free(entries, count);
            return MIG_ENOMEM;
        }
        printf("uncovered: %s baseline=%s missing=%s\n", e->name, baseline, names);
        free(names);
        left++;
    }
    domain_record_entries_free(entries, count);
    return left;
}

int cpuid_cli_write_cluster(struct cpuid_cluster *cluster, const char *path, const char *sub)
{
    int rc = cpuid_cluster_write_file(cluster, path);

    return rc ? cpuid_cli_fail(sub, rc) : XL_EXT_EXIT_OK;
}

void cpuid_cli_cluster_name_of(const char *path, char *buf, size_t size)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dot = strrchr(base, '.');

    snprintf(buf, size, "%.*s", (int)(dot && dot != base ? dot - base : (long)strlen(base)), base);
}

void cpuid_cli_print_cluster_baseline(const char *what, const struct cpuid_cluster *cluster,
                                      const struct cpuid_level_set *levels,
                                      unsigned int features_before)
{
    char highest[128];

    cpuid_cli_highest_levels(levels, cpuid_cluster_vendor(cluster),
                             cpuid_cluster_baseline_features(cluster), highest, sizeof(highest));
    printf("%s cluster '%s' (%u member(s)): baseline %u features", what,
           cpuid_cluster_name(cluster), cpuid_cluster_member_count(cluster),
           cpuid_featureset_count(cpuid_cluster_baseline_features(cluster)));
    if (features_before)
        printf(" (was %u)", features_before);
    printf(", highest levels: %s\n", highest);
}

/* Join every host to cluster (and record its GPU levels): 0, or the exit code, printed. */
static int join_hosts(struct cpuid_cluster *cluster, const struct cpuid_cli_hosts *h,
                      const cpuid_gpu_level_table *gpu_levels)
{
    for (unsigned int i = 0; i < h->count; i++) {
        struct cpuid_gpu_capability gpu;
        int rc = cpuid_gpu_host_json_capability(cpuid_host_json(h->hosts[i]), gpu_levels,
                                                h->origins[i], &gpu);

        if (!rc)
            rc = cpuid_cluster_join(cluster, h->hosts[i]);
        if (!rc)
            rc = cpuid_cluster_gpu_record(cluster, gpu_levels, cpuid_host_hostname(h->hosts[i]),
                                          &gpu);
        if (rc)
            return cpuid_cli_fail("cluster create", rc);
    }
    return 0;
}

int cpuid_cluster_create_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        { "name", required_argument, NULL, 'n' },
        CPUID_CLI_REMOTE_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    struct cpuid_cli_remote remote = { .count = 0 };
    struct cpuid_cli_hosts hosts = { .count = 0 };
    struct cpuid_cluster *cluster = NULL;
    struct cpuid_level_set *levels = NULL;
    cpuid_gpu_level_table *gpu_levels = NULL;
    const char *name = NULL, *path;
    char stem[256];
    int c, rc, ret;

    if (cpuid_cli_wants_help(argc, argv, CREATE_HELP))
        return XL_EXT_EXIT_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        rc = cpuid_cli_remote_option(&remote, c, "cluster create");
        if (rc == 1 && c == 'n')
            name = optarg;
        else if (rc == 1)
            return cpuid_cli_bad_option("cluster create", argv, "s:", opts);
        else if (rc)
            return rc;
    }
    if (optind == argc || (optind + 1 == argc && !remote.count))
        return cpuid_cli_usage("cluster create", "give CLUSTER.json and HOST.json files "
                               "and/or --ssh HOST");
    path = argv[optind];
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "%s cpuid-policy cluster create: '%s' exists: change it with 'cluster "
                "add', 'remove' or 'relevel', or remove the file first\n", xl_ext_prog, path);
        return XL_EXT_EXIT_FAILURE;
    }
    cpuid_cli_cluster_name_of(path, stem, sizeof(stem));
    ret = cpuid_cli_hosts_load(argv + optind + 1, (unsigned int)(argc - optind - 1), &remote,
                               "cluster create", &hosts);
    if (ret)
        goto out;
    rc = cpuid_cluster_new(name ? name : stem, &cluster);
    if (!rc)
        rc = cpuid_level_set_load(NULL, &levels);
    if (!rc)
        rc = cpuid_gpu_level_table_load(NULL, &gpu_levels);
    if (rc) {
        ret = cpuid_cli_fail("cluster create", rc);
        goto out;
    }
    ret = join_hosts(cluster, &hosts, gpu_levels);
    if (!ret)
        ret = cpuid_cli_write_cluster(cluster, path, "cluster create");
    if (ret)
        goto out;
    cpuid_cli_print_cluster_baseline("created", cluster, levels, 0);
    ret = cpuid_cli_hosts_exit_code(&hosts);
 out:
    cpuid_cli_hosts_free(&hosts);
    cpuid_gpu_level_table_free(gpu_levels);
    cpuid_level_set_free(levels);
    cpuid_cluster_free(cluster);
    return ret;
}

int cpuid_cluster_remove_cmd(int argc, char **argv)
{
    struct cpuid_cluster *cluster = NULL;
    int rc = 0, ret;

    if (cpuid_cli_wants_help(argc, argv, REMOVE_HELP))
        return XL_EXT_EXIT_OK;
    if (argc < 3 || argv[1][0] == '-')
        return cpuid_cli_usage("cluster remove", "give CLUSTER.json and the NAME of a member");
    rc = cpuid_cluster_read_file(argv[1], &cluster);
    for (int i = 2; !rc && i < argc; i++)
        rc = cpuid_cluster_remove(cluster, argv[i]);
    if (!rc)
        rc = cpuid_cluster_write_file(cluster, argv[1]);
    if (rc) {
        ret = cpuid_cli_fail("cluster remove", rc);
        goto out;
    }
    printf("removed %d member(s) from cluster '%s' (%u left); its baseline is unchanged: "
           "'cluster relevel %s' sets it to what they share\n", argc - 2,
           cpuid_cluster_name(cluster), cpuid_cluster_member_count(cluster), argv[1]);
    ret = XL_EXT_EXIT_OK;
 out:
    cpuid_cluster_free(cluster);
    return ret;
}

/* What `cluster relevel` is asked to do (strings borrowed from argv). */
struct relevel_request {
    const char *path;
    const char *level;                  /* --to, or NULL: --auto */
    const char *domains_dir;            /* --domains, or NULL: the state dir */
    bool force;
};

#define RELEVEL_PARSED (-1)

static int parse_relevel(int argc, char **argv, struct relevel_request *req)
{
    static const struct option opts[] = {
        { "auto", no_argument, NULL, 'a' },
        { "to", required_argument, NULL, 't' },
        { "domains", required_argument, NULL, 'd' },
        { "force", no_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    bool automatic = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': automatic = true; break;
        case 't': req->level = optarg; break;
        case 'd': req->domains_dir = optarg; break;
        case 'f': req->force = true; break;
        default: return cpuid_cli_bad_option("cluster relevel", argv, "", opts);
        }
    }
    if (automatic && req->level)
        return cpuid_cli_usage("cluster relevel", "give --auto or --to LEVEL, not both");
    if (argc - optind != 1)
        return cpuid_cli_usage("cluster relevel", "give CLUSTER.json");
    req->path = argv[optind];
    return RELEVEL_PARSED;
}

int cpuid_cli_write_relevelled(struct cpuid_cluster *cluster, const char *path, const char *sub,
                               const struct cpuid_featureset *before, const char *domains_dir,
                               bool force, const struct cpuid_level_set *levels)
{
    const struct cpuid_featureset *after = cpuid_cluster_baseline_features(cluster);
    int left = 0;

    if (!cpuid_featureset_is_subset(before, after))  /* lowered: who is left behind? */
        left = domains_left_behind(domains_dir, levels, before, after);
    if (left < 0)
        return cpuid_cli_fail(sub, left);
    if (left)
        fprintf(stderr, "%s cpuid-policy %s: the new baseline leaves %d recorded domain(s) "
                "behind (the 'uncovered:' lines): they could not move to every member%s\n",
                xl_ext_prog, sub, left, force ? "; written anyway (--force)" : "; nothing "
                "written: give --force to lower it even so");
    if (left && !force)
        return XL_EXT_EXIT_INCOMPATIBLE;
    return cpuid_cli_write_cluster(cluster, path, sub);
}

/* Relevel cluster as req says: 0, or the exit code, printed. */
static int relevel(struct cpuid_cluster *cluster, const struct relevel_request *req,
                   const struct cpuid_level_set *levels)
{
    const struct cpuid_level *level = NULL;
    struct cpuid_featureset missing = { { 0 } };
    int rc;

    if (req->level && !(level = cpuid_level_set_find(levels, req->level))) {
        fprintf(stderr, "%s cpuid-policy cluster relevel: unknown level '%s': run '%s "
                "cpuid-policy levels' for the list\n", xl_ext_prog, req->level, xl_ext_prog);
        return XL_EXT_EXIT_BAD_INPUT;
    }
    rc = level ? cpuid_cluster_pin_level(cluster, level, &missing)
               : cpuid_cluster_relevel_auto(cluster);
    if (rc == MIG_ECOMPAT)
        cpuid_cli_print_feature_lines(stdout, &missing, "missing: ");
    return rc ? cpuid_cli_fail("cluster relevel", rc) : 0;
}

int cpuid_cluster_relevel_cmd(int argc, char **argv)
{
    struct relevel_request req = { .path = NULL };
    struct cpuid_cluster *cluster = NULL;
    struct cpuid_level_set *levels = NULL;
    struct cpuid_featureset before;
    int rc, ret;

    if (cpuid_cli_wants_help(argc, argv, RELEVEL_HELP))
        return XL_EXT_EXIT_OK;
    ret = parse_relevel(argc, argv, &req);
    if (ret != RELEVEL_PARSED)
        return ret;
    rc = cpuid_cluster_read_file(req.path, &cluster);
    if (!rc)
        rc = cpuid_level_set_load(NULL, &levels);
    if (rc) {
        ret = cpuid_cli_fail("cluster relevel", rc);
        goto out;
    }
    before = *cpuid_cluster_baseline_features(cluster);
    ret = relevel(cluster, &req, levels);
    if (!ret)
        ret = cpuid_cli_write_relevelled(cluster, req.path, "cluster relevel", &before,
                                         req.domains_dir, req.force, levels);
    if (ret)
        goto out;
    cpuid_cli_print_cluster_baseline("relevelled", cluster, levels, cpuid_featureset_count(&before));
    ret = XL_EXT_EXIT_OK;
 out:
    cpuid_level_set_free(levels);
    cpuid_cluster_free(cluster);
    return ret;
}
