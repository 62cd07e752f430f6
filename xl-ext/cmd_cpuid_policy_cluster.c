/*
 * cmd_cpuid_policy_cluster.c: `xl-ext cpuid-policy cluster ...`:
 *   cluster baseline [--policy P] [--json] HOST.json...
 *   cluster add CLUSTER.json [HOST.json...] [--ssh HOST]... [--name NAME] [--relevel]
 *   cluster pin CLUSTER.json LEVEL
 *   cluster pin-gpu CLUSTER.json GPU-BASELINE
 *   cluster show CLUSTER.json
 * (cluster create, remove and relevel: cmd_cpuid_policy_relevel.c)
 * The rules (one vendor; a host must have the whole baseline and meet the
 * cluster's GPU level) live in libcpuidpolicy (cpuid_policy.h, also for the GPU); this file only reads files, prints and picks exit codes.
 * It must never rewrite a cluster file after a refusal.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cmd_cpuid_policy.h"
#include "cpuid_policy.h"
#include "mig_error.h"
#include "subcommands.h"

#define MAX_HOST_FILES 1024

static int parse_policy(const char *s, enum cpuid_host_policy *out)
{
    if (!strcmp(s, "host"))
        *out = CPUID_HOST_POLICY_HOST;
    else if (!strcmp(s, "pv_max") || !strcmp(s, "pv"))
        *out = CPUID_HOST_POLICY_PV_MAX;
    else if (!strcmp(s, "hvm_max") || !strcmp(s, "hvm"))
        *out = CPUID_HOST_POLICY_HVM_MAX;
    else
        return -1;
    return 0;
}

static int cluster_baseline(int argc, char **argv)
{
    static const struct option opts[] = {
        { "policy", required_argument, NULL, 'p' },
        { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    enum cpuid_host_policy which = CPUID_HOST_POLICY_HVM_MAX;
    struct cpuid_host **hosts = NULL;
    struct cpuid_level_set *levels = NULL;
    struct cpuid_featureset baseline;
    enum cpuid_vendor vendor;
    unsigned int n = 0;
    bool json = false;
    char hex[CPUID_FEATURESET_HEX_LEN], highest[128];
    int c, rc, ret;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'p' && !parse_policy(optarg, &which))
            continue;
        else if (c == 'p')
            return cpuid_cli_usage("cluster baseline", "--policy '%s': give host, pv_max or "
                                   "hvm_max", optarg);
        else
            return cpuid_cli_bad_option("cluster baseline", argv, "", opts);
    }
    if (optind == argc)
        return cpuid_cli_usage("cluster baseline", "give at least one HOST.json");
    if (argc - optind > MAX_HOST_FILES)
        return cpuid_cli_usage("cluster baseline", "more than %d host files", MAX_HOST_FILES);
    hosts = calloc((size_t)(argc - optind), sizeof(*hosts));
    if (!hosts) {
        ret = cpuid_cli_fail("cluster baseline", mig_error_set(MIG_ENOMEM, "out of memory"));
        goto out;
    }
    for (int i = optind; i < argc; i++, n++) {
        rc = cpuid_host_read_file(argv[i], &hosts[n]);
        if (rc) {
            ret = cpuid_cli_fail("cluster baseline", rc);
            goto out;
        }
    }
    rc = cpuid_cluster_baseline(hosts, n, which, &baseline, &vendor);
    if (!rc)
        rc = cpuid_level_set_load(NULL, &levels);
    if (rc) {
        ret = cpuid_cli_fail("cluster baseline", rc);
        goto out;
    }
    cpuid_featureset_format_hex(&baseline, hex);
    cpuid_cli_highest_levels(levels, vendor, &baseline, highest, sizeof(highest));
    if (json) {
        json_object *root = json_object_new_object(), *names = json_object_new_array();
        json_object *feats = cpuid_cli_json_feature_array(&baseline);

        for (unsigned int i = 0; i < n; i++)
            json_object_array_add(names, json_object_new_string(cpuid_host_hostname(hosts[i])));
        json_object_object_add(root, "hosts", names);
        json_object_object_add(root, "vendor", json_object_new_string(cpuid_vendor_name(vendor)));
        json_object_object_add(root, "baseline", json_object_new_string(hex));
        json_object_object_add(root, "features", feats);
        json_object_object_add(root, "highest_levels", json_object_new_string(highest));
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_SPACED));
        json_object_put(root);
    } else {
        printf("hosts: %u\nvendor: %s\nbaseline: %s\nfeature-count: %u\nhighest-levels: %s\n",
               n, cpuid_vendor_name(vendor), hex, cpuid_featureset_count(&baseline), highest);
        cpuid_cli_print_feature_lines(stdout, &baseline, "feature: ");
    }
    ret = XL_EXT_EXIT_OK;
 out:
    for (unsigned int i = 0; hosts && i < n; i++)
        cpuid_host_free(hosts[i]);
    free(hosts);
    cpuid_level_set_free(levels);
    return ret;
}

#define ADD_HELP \
    "Usage: xl-ext cpuid-policy cluster add CLUSTER.json [HOST.json...] [--ssh [USER@]HOST]...\n" \
    "           [-s SSHCOMMAND] [--timeout S] [--name NAME] [--relevel [--force]\n" \
    "           [--domains DIR]]\n" \
    "Add hosts to a cluster file (made when absent, named NAME, default the file's name).\n" \
    "A host of another vendor, or lacking a feature of the baseline or the cluster's GPU\n" \
    "level, is refused: one 'missing: FEATURE' line each and a 'gpu:' line, exit 4, and\n" \
    "nothing is written.  A host of a member's name replaces it.\n" \
    "  --ssh [USER@]HOST  a host's dump through 'ssh HOST xl-ext cpuid-policy host-dump'\n" \
    "                     (repeatable: several hosts at once)\n" \
    "  -s SSHCOMMAND      use SSHCOMMAND instead of ssh, passed to sh; if empty, run HOST\n" \
    "                     itself, as 'xl migrate -s'\n" \
    "  --timeout S        each --ssh host's time limit in seconds (default 60)\n" \
    "  --relevel          take a host that lacks baseline features, lowering the baseline to\n" \
    "                     what it shares; recorded domains a lower baseline leaves behind\n" \
    "                     are listed ('uncovered:' lines, as 'cluster relevel') and refused\n" \
    "                     (exit 4) unless --force; --domains DIR as for 'cluster relevel'\n" \
    "Exit status: 0; 3 bad input; 4 refused; 9 some --ssh hosts could not be reached (each\n" \
    "named on stderr): the others were added; 1 none could.\n"

/* Open CLUSTER.json, or a new cluster named `name` when the file is absent. */
static int open_cluster(const char *path, const char *name, bool create,
                        struct cpuid_cluster **out)
{
    char stem[256];

    if (access(path, F_OK) == 0 || !create)
        return cpuid_cluster_read_file(path, out);
    if (!name) {
        cpuid_cli_cluster_name_of(path, stem, sizeof(stem));
        name = stem;
    }
    return cpuid_cluster_new(name, out);
}

/* What `cluster add` is asked to do (strings borrowed from argv). */
struct add_request {
    const char *path;                   /* CLUSTER.json */
    const char *name;                   /* --name, or NULL */
    const char *domains_dir;            /* --domains, or NULL */
    char **files;                       /* the HOST.json files */
    unsigned int nr_files;
    struct cpuid_cli_remote remote;
    bool relevel, force;
};

#define ADD_PARSED (-1)

static int parse_add(int argc, char **argv, struct add_request *req)
{
    static const struct option opts[] = {
        { "name", required_argument, NULL, 'n' },
        { "relevel", no_argument, NULL, 'r' },
        { "force", no_argument, NULL, 'f' },
        { "domains", required_argument, NULL, 'd' },
        CPUID_CLI_REMOTE_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        rc = cpuid_cli_remote_option(&req->remote, c, "cluster add");
        if (rc != 1) {
            if (rc)
                return rc;
            continue;
        }
        switch (c) {
        case 'n': req->name = optarg; break;
        case 'r': req->relevel = true; break;
        case 'f': req->force = true; break;
        case 'd': req->domains_dir = optarg; break;
        default: return cpuid_cli_bad_option("cluster add", argv, "s:", opts);
        }
    }
    if (optind == argc || (optind + 1 == argc && !req->remote.count))
        return cpuid_cli_usage("cluster add", "give CLUSTER.json HOST.json (or --ssh HOST)");
    if ((req->force || req->domains_dir) && !req->relevel)
        return cpuid_cli_usage("cluster add", "--force and --domains go with --relevel");
    req->path = argv[optind];
    req->files = argv + optind + 1;
    req->nr_files = (unsigned int)(argc - optind - 1);
    return ADD_PARSED;
}

/*
 * One host into the cluster: added, or with relevel joined (lowering the
 * baseline); its GPU levels checked and recorded.  Both sides are checked
 * before either refusal is printed: one run lists both.  Returns 0,
 * XL_EXT_EXIT_INCOMPATIBLE (printed) or another exit code (printed).
 */
static int add_one(struct cpuid_cluster *cluster, struct cpuid_host *host, const char *origin,
                   const cpuid_gpu_level_table *gpu_levels, bool relevel)
{
    struct cpuid_gpu_capability gpu;
    struct cpuid_featureset missing = { { 0 } };
    char gpu_shortfall[256] = "", gpu_message[512] = "";
    int rc, gpu_rc;

    rc = cpuid_gpu_host_json_capability(cpuid_host_json(host), gpu_levels, origin, &gpu);
    if (rc)
        return cpuid_cli_fail("cluster add", rc);
    gpu_rc = cpuid_cluster_gpu_check(cluster, gpu_levels, cpuid_host_hostname(host), &gpu,
                                     gpu_shortfall, sizeof(gpu_shortfall));
    if (gpu_rc) {
        snprintf(gpu_message, sizeof(gpu_message), "%s", mig_error_last());
        if (gpu_rc != MIG_ECOMPAT)
            return cpuid_cli_fail("cluster add", gpu_rc);
    }
    rc = relevel ? cpuid_cluster_join(cluster, host) : cpuid_cluster_add(cluster, host, &missing);
    if (rc == MIG_ECOMPAT || gpu_rc) {
        cpuid_cli_print_feature_lines(stdout, &missing, "missing: ");
        if (gpu_rc)
            printf("gpu: %s\n", gpu_shortfall);
        if (rc)
            fprintf(stderr, "%s cpuid-policy cluster add: %s\n", xl_ext_prog, mig_error_last());
        if (gpu_rc)
            fprintf(stderr, "%s cpuid-policy cluster add: %s\n", xl_ext_prog, gpu_message);
        return rc && rc != MIG_ECOMPAT ? cpuid_cli_exit_code(rc) : XL_EXT_EXIT_INCOMPATIBLE;
    }
    if (!rc)
        rc = cpuid_cluster_gpu_record(cluster, gpu_levels, cpuid_host_hostname(host), &gpu);
    return rc ? cpuid_cli_fail("cluster add", rc) : 0;
}

static int cluster_add(int argc, char **argv)
{
    struct add_request req;
    struct cpuid_cluster *cluster = NULL;
    struct cpuid_cli_hosts hosts = { .count = 0 };
    struct cpuid_level_set *levels = NULL;
    cpuid_gpu_level_table *gpu_levels = NULL;
    struct cpuid_featureset before;
    int rc, ret;

    if (cpuid_cli_wants_help(argc, argv, ADD_HELP))
        return XL_EXT_EXIT_OK;
    memset(&req, 0, sizeof(req));
    ret = parse_add(argc, argv, &req);
    if (ret != ADD_PARSED)
        return ret;
    rc = open_cluster(req.path, req.name, true, &cluster);
    if (!rc)
        rc = cpuid_gpu_level_table_load(NULL, &gpu_levels);
    if (!rc)
        rc = cpuid_level_set_load(NULL, &levels);
    if (rc) {
        ret = cpuid_cli_fail("cluster add", rc);
        goto out;
    }
    ret = cpuid_cli_hosts_load(req.files, req.nr_files, &req.remote, "cluster add", &hosts);
    if (ret)
        goto out;
    before = *cpuid_cluster_baseline_features(cluster);
    for (unsigned int i = 0; i < hosts.count; i++) {
        int one = add_one(cluster, hosts.hosts[i], hosts.origins[i], gpu_levels, req.relevel);

        ret = ret ? ret : one;          /* every host is checked: one run lists every refusal */
    }
    if (!ret)
        ret = cpuid_cli_write_relevelled(cluster, req.path, "cluster add", &before,
                                         req.domains_dir, req.force, levels);
    if (ret)
        goto out;
    for (unsigned int i = 0; i < hosts.count; i++)
        printf("added '%s' to cluster '%s' (%u member(s))\n", cpuid_host_hostname(hosts.hosts[i]),
               cpuid_cluster_name(cluster), cpuid_cluster_member_count(cluster));
    if (memcmp(&before, cpuid_cluster_baseline_features(cluster), sizeof(before)) &&
        cpuid_cluster_member_count(cluster) > hosts.count)
        cpuid_cli_print_cluster_baseline("relevelled", cluster, levels,
                                         cpuid_featureset_count(&before));
    ret = cpuid_cli_hosts_exit_code(&hosts);
 out:
    cpuid_cli_hosts_free(&hosts);
    cpuid_level_set_free(levels);
    cpuid_gpu_level_table_free(gpu_levels);
    cpuid_cluster_free(cluster);
    return ret;
}

/* cluster pin-gpu CLUSTER.json BASELINE: pin the cluster's GPU level. */
static int cluster_pin_gpu(int argc, char **argv)
{
    struct cpuid_cluster *cluster = NULL;
    cpuid_gpu_level_table *gpu_levels = NULL;
    char shortfall[256];
    int rc, ret;

    if (argc != 3)
        return cpuid_cli_usage("cluster pin-gpu", "give CLUSTER.json GPU-BASELINE");
    rc = cpuid_cluster_read_file(argv[1], &cluster);
    if (!rc)
        rc = cpuid_gpu_level_table_load(NULL, &gpu_levels);
    if (!rc)
        rc = cpuid_cluster_gpu_pin(cluster, gpu_levels, argv[2], shortfall, sizeof(shortfall));
    if (rc == MIG_ECOMPAT)
        printf("gpu: %s\n", shortfall);
    if (!rc)
        rc = cpuid_cluster_write_file(cluster, argv[1]);
    if (rc) {
        ret = cpuid_cli_fail("cluster pin-gpu", rc);
        goto out;
    }
    printf("cluster '%s' GPU level pinned to '%s'\n", cpuid_cluster_name(cluster),
           cpuid_cluster_gpu_baseline(cluster, NULL));
    ret = XL_EXT_EXIT_OK;
 out:
    cpuid_gpu_level_table_free(gpu_levels);
    cpuid_cluster_free(cluster);
    return ret;
}

static int cluster_pin(int argc, char **argv)
{
    struct cpuid_cluster *cluster = NULL;
    struct cpuid_level_set *levels = NULL;
    const struct cpuid_level *level;
    struct cpuid_featureset missing = { { 0 } };
    int rc, ret;

    if (argc != 3)
        return cpuid_cli_usage("cluster pin", "give CLUSTER.json LEVEL");
    rc = cpuid_cluster_read_file(argv[1], &cluster);
    if (!rc)
        rc = cpuid_level_set_load(NULL, &levels);
    if (rc) {
        ret = cpuid_cli_fail("cluster pin", rc);
        goto out;
    }
    level = cpuid_level_set_find(levels, argv[2]);
    if (!level) {
        fprintf(stderr, "%s cpuid-policy cluster pin: unknown level '%s': run '%s "
                "cpuid-policy levels' for the list\n", xl_ext_prog, argv[2], xl_ext_prog);
        ret = XL_EXT_EXIT_BAD_INPUT;
        goto out;
    }
    rc = cpuid_cluster_pin_level(cluster, level, &missing);
    if (rc == MIG_ECOMPAT)
        cpuid_cli_print_feature_lines(stdout, &missing, "missing: ");
    if (!rc)
        rc = cpuid_cluster_write_file(cluster, argv[1]);
    if (rc) {
        ret = cpuid_cli_fail("cluster pin", rc);
        goto out;
    }
    printf("cluster '%s' pinned to '%s'\n", cpuid_cluster_name(cluster), level->name);
    ret = XL_EXT_EXIT_OK;
 out:
    cpuid_level_set_free(levels);
    cpuid_cluster_free(cluster);
    return ret;
}

/* "version: N" and "content-hash: H", noting a file changed by hand since xl-ext wrote it. */
static void print_revision(const struct cpuid_cluster *cluster)
{
    const char *stated = cpuid_cluster_stated_hash(cluster);
    const char *read = cpuid_cluster_read_hash(cluster);

    printf("version: %llu\ncontent-hash: %s", cpuid_cluster_version(cluster), read);
    if (stated && strcmp(stated, read))
        printf(" (the file states %s: changed by hand since xl-ext wrote it)", stated);
    printf("\n");
}

static int cluster_show(int argc, char **argv)
{
    struct cpuid_cluster *cluster = NULL;
    struct cpuid_level_set *levels = NULL;
    char hex[CPUID_FEATURESET_HEX_LEN], highest[128];
    const char *gpu_level;
    bool gpu_pinned;
    int rc, ret;

    if (argc != 2)
        return cpuid_cli_usage("cluster show", "give CLUSTER.json");
    if (xl_ext_input_readable("cpuid-policy cluster show", "cluster file", argv[1]))
        return XL_EXT_EXIT_BAD_INPUT;
    rc = cpuid_cluster_read_file(argv[1], &cluster);
    if (!rc)
        rc = cpuid_level_set_load(NULL, &levels);
    if (rc) {
        ret = cpuid_cli_fail("cluster show", rc);
        goto out;
    }
    cpuid_featureset_format_hex(cpuid_cluster_baseline_features(cluster), hex);
    cpuid_cli_highest_levels(levels, cpuid_cluster_vendor(cluster),
                             cpuid_cluster_baseline_features(cluster), highest, sizeof(highest));
    gpu_level = cpuid_cluster_gpu_baseline(cluster, &gpu_pinned);
    printf("cluster: %s\nvendor: %s\npinned-level: %s\nbaseline: %s\nfeature-count: %u\n"
           "highest-levels: %s\ngpu-baseline: %s%s\nmembers: %u\n", cpuid_cluster_name(cluster),
           cpuid_vendor_name(cpuid_cluster_vendor(cluster)),
           cpuid_cluster_pinned_level(cluster) ? cpuid_cluster_pinned_level(cluster) : "-",
           hex, cpuid_featureset_count(cpuid_cluster_baseline_features(cluster)), highest,
           gpu_level ? gpu_level : "- (not recorded)",
           gpu_level ? (gpu_pinned ? " (pinned)" : " (minimum of members)") : "",
           cpuid_cluster_member_count(cluster));
    print_revision(cluster);
    for (unsigned int i = 0; i < cpuid_cluster_member_count(cluster); i++) {
        cpuid_cli_highest_levels(levels, cpuid_cluster_vendor(cluster),
                                 cpuid_cluster_member_features(cluster, i), highest,
                                 sizeof(highest));
        printf("member: %s (highest: %s; gpu: %s)\n", cpuid_cluster_member_name(cluster, i),
               highest, cpuid_cluster_member_gpu_baseline(cluster, i) ?
               cpuid_cluster_member_gpu_baseline(cluster, i) : "-");
    }
    ret = XL_EXT_EXIT_OK;
 out:
    cpuid_level_set_free(levels);
    cpuid_cluster_free(cluster);
    return ret;
}

#define CLUSTER_HELP \
    "Usage: xl-ext cpuid-policy cluster SUBCOMMAND [ARGS...]\n" \
    "  baseline [--policy host|pv_max|hvm_max] [--json] HOST.json...\n" \
    "                       the intersection and highest level of the hosts\n" \
    "  create CLUSTER.json [--name NAME] [HOST.json...] [--ssh [USER@]HOST]...\n" \
    "                       a new cluster: the baseline what the hosts share\n" \
    "  add CLUSTER.json [HOST.json...] [--ssh [USER@]HOST]... [--relevel [--force]]\n" \
    "                       add hosts; refused if one lacks the baseline\n" \
    "  remove CLUSTER.json NAME...   remove members (the baseline stays)\n" \
    "  relevel CLUSTER.json [--auto | --to LEVEL] [--domains DIR] [--force]\n" \
    "                       the baseline to what the members share, or a level\n" \
    "  pin CLUSTER.json LEVEL        pin the baseline to a named level\n" \
    "  pin-gpu CLUSTER.json GPU-BASELINE  pin the cluster's GPU level\n" \
    "  show CLUSTER.json             members, baseline, levels\n" \
    "'xl-ext cpuid-policy cluster SUBCOMMAND --help' shows one.\n"
#define BASELINE_HELP \
    "Usage: xl-ext cpuid-policy cluster baseline [--policy host|pv_max|hvm_max] [--json]\n" \
    "           HOST.json...\n" \
    "The features every host has (of the policy --policy names, default hvm_max) and\n" \
    "the highest levels within them.\n" \
    "  --json             print the result as JSON\n"
#define PIN_HELP \
    "Usage: xl-ext cpuid-policy cluster pin CLUSTER.json LEVEL\n" \
    "Pin the cluster's baseline to the named LEVEL ('xl-ext cpuid-policy levels');\n" \
    "refused, exit 4, when a member lacks a feature of it.\n"
#define PIN_GPU_HELP \
    "Usage: xl-ext cpuid-policy cluster pin-gpu CLUSTER.json GPU-BASELINE\n" \
    "Pin the cluster's GPU level (e.g. \"d3d11.0-gl4.1,cuda-8.0\"); refused, exit 4,\n" \
    "when a member does not meet it.\n"
#define SHOW_HELP \
    "Usage: xl-ext cpuid-policy cluster show CLUSTER.json\n" \
    "The cluster's members, baseline and highest levels.\n"

int cmd_cpuid_policy_cluster(int argc, char **argv)
{
    static const struct cpuid_subcommand subs[] = {
        { "baseline", cluster_baseline, BASELINE_HELP },
        { "create", cpuid_cluster_create_cmd, NULL },
        { "add", cluster_add, NULL },
        { "remove", cpuid_cluster_remove_cmd, NULL },
        { "relevel", cpuid_cluster_relevel_cmd, NULL },
        { "pin", cluster_pin, PIN_HELP },
        { "pin-gpu", cluster_pin_gpu, PIN_GPU_HELP },
        { "show", cluster_show, SHOW_HELP },
    };
    int rc;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                      !strcmp(argv[1], "help"))) {
        fputs(CLUSTER_HELP, stdout);
        return XL_EXT_EXIT_OK;
    }
    if (argc < 2)
        return cpuid_cli_usage("cluster", "no subcommand given; give baseline, create, add, "
                               "remove, relevel, pin, pin-gpu or show");
    rc = cpuid_cli_dispatch(subs, sizeof(subs) / sizeof(subs[0]), argc, argv);
    if (rc >= 0)
        return rc;
    return cpuid_cli_usage("cluster", "unknown cluster subcommand '%s'; give baseline, "
                           "create, add, remove, relevel, pin, pin-gpu or show", argv[1]);
}
