/*
 * cmd_cpuid_policy_check.c: the domain side of `xl-ext cpuid-policy`:
 *   check DOMAIN|CFG --host HOST.json [--cluster CLUSTER.json] [--baseline NAME]
 *       the migration pre-flight: 0 compatible, 4 with one "missing: NAME"
 *       line per absent feature, 3 bad input, 2 usage, 5 no Xen.
 *   report [--csv|--json] [--cluster CLUSTER.json] [--host HOST.json]... CFG...
 *       domains x hosts, each host's highest level, the cluster's baseline.
 * Both also check the domain's gpu_baseline against each host's GPU levels
 * (cpuid_policy.h); a shortfall on either side makes the domain incompatible,
 * and both are listed.  This file must never call a domain compatible when
 * a baseline cannot be read or a host's GPU level is unknown.
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
#include "domain_record.h"
#include "mig_error.h"
#include "subcommands.h"

#define MAX_REPORT_ITEMS 1024
/* After MIG_EMISSING from a baseline "cluster": where the cluster comes from. */
#define CLUSTER_ADVICE " with --cluster FILE"

static const char *const policy_names[CPUID_HOST_POLICY_COUNT] = { "host", "pv_max", "hvm_max" };

/* A domain as the check sees it: name, type, baselines, features. */
struct domain_need {
    char name[256];
    char *type, *baseline;
    struct cpuid_featureset required;
    char *gpu_baseline;                 /* NULL: no GPU need */
    struct cpuid_gpu_requirement gpu_required;
};

static void domain_need_clear(struct domain_need *d)
{
    free(d->type);
    free(d->baseline);
    free(d->gpu_baseline);
    d->type = d->baseline = d->gpu_baseline = NULL;
}

/*
 * Read CFG with libxlutil and resolve its baselines (override wins for the
 * CPU one).  d->baseline / d->gpu_baseline NULL: none.
 */
static int domain_need_read(const char *cfg, const char *override,
                            const struct cpuid_level_set *levels,
                            const struct cpuid_cluster *cluster,
                            const cpuid_gpu_level_table *gpu_levels, struct domain_need *d)
{
    struct cpuid_domain_config_read_options options = CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT;
    struct cpuid_domain_config_keys *keys = NULL;
    const char *base = strrchr(cfg, '/') ? strrchr(cfg, '/') + 1 : cfg;
    const char *dot = strrchr(base, '.');
    int rc;

    memset(d, 0, sizeof(*d));
    options.gpu_levels = gpu_levels;
    rc = cpuid_domain_config_read_file(cfg, &options, &keys);
    if (rc)
        return rc;
    if (keys->name)
        snprintf(d->name, sizeof(d->name), "%s", keys->name);
    else
        snprintf(d->name, sizeof(d->name), "%.*s", (int)(dot && dot != base ? dot - base :
                 (long)strlen(base)), base);
    d->type = keys->type;
    d->baseline = override ? strdup(override) : keys->cpuid_baseline;
    d->gpu_baseline = keys->gpu_baseline;
    d->gpu_required = keys->gpu_requirement;
    keys->type = keys->gpu_baseline = NULL;
    if (!override)
        keys->cpuid_baseline = NULL;
    cpuid_domain_config_keys_free(keys);
    if (override && !d->baseline)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    if (!d->baseline)
        return 0;
    return cpuid_baseline_resolve(d->baseline, levels, cluster, cfg, &d->required);
}

/*
 * The running domain's own policy against its recorded baseline (after a
 * restore or migration, this is what shows the levelling survived):
 * "domain policy: within ..." on stdout, or "exceeds: FEATURE" lines and
 * MIG_ECORRUPT.  A named level constrains only the bits levels list.
 */
static int report_running_within(const char *name, uint32_t domid,
                                 const struct domain_need *d,
                                 const struct cpuid_level_set *levels)
{
    struct cpuid_featureset running, excess, constrained;
    bool named = d->baseline && cpuid_level_set_find(levels, d->baseline);
    int rc;

    rc = cpuid_domain_policy_read(NULL, domid, &running);
    if (rc)
        return rc;
    cpuid_level_set_universe(levels, &constrained);
    rc = cpuid_domain_policy_excess(&running, &d->required, named ? &constrained : NULL,
                                    &excess, NULL);
    if (rc == MIG_ECOMPAT) {
        cpuid_cli_print_feature_lines(stdout, &excess, "exceeds: ");
        return mig_error_set(MIG_ECORRUPT, "domain '%s' (%u) runs with %u features beyond "
                             "its recorded baseline '%s'", name, domid,
                             cpuid_featureset_count(&excess), d->baseline);
    }
    if (!rc)
        printf("domain policy: '%s' (%u) runs within its recorded baseline '%s'\n", name,
               domid, d->baseline);
    return rc;
}

/*
 * A running domain by name (on Xen): the baselines `xl-ext create` recorded
 * in xenstore (domain_record.h); without a recorded featureset, the
 * domain's own policy (less what Xen controls) is what it needs.
 */
static int domain_need_read_running(const char *name, const char *override,
                                    const struct cpuid_level_set *levels,
                                    const struct cpuid_cluster *cluster,
                                    const cpuid_gpu_level_table *gpu_levels, struct domain_need *d)
{
    struct xs_handle *xs = xs_open(0);
    char *recorded = NULL;
    long domid;
    int rc;

    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    if (!xs)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open xenstore to find domain "
                                   "'%s'", name);
    domid = domain_record_find_domid(xs, name);
    if (domid < 0) {
        rc = mig_error_set(MIG_EINVAL, "'%s' is neither a file nor a running domain", name);
        goto out;
    }
    d->type = strdup(domain_record_type(xs, domid));
    d->baseline = override ? strdup(override) : domain_record_read(xs, domid, "cpuid_baseline");
    d->gpu_baseline = domain_record_read(xs, domid, "gpu_baseline");
    if (!d->type || (override && !d->baseline)) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    if (d->gpu_baseline) {
        rc = cpuid_gpu_requirement_parse(gpu_levels, d->gpu_baseline, &d->gpu_required);
        if (rc)
            goto out;
    }
    recorded = override ? NULL : domain_record_read(xs, domid, "cpuid_featureset");
    if (override) {
        rc = cpuid_baseline_resolve(d->baseline, levels, cluster, name, &d->required);
    } else if (recorded) {
        rc = cpuid_featureset_parse_hex(recorded, 0, &d->required);
        if (rc) {
            char reason[512];

            snprintf(reason, sizeof(reason), "%s", mig_error_last());
            rc = mig_error_set(rc, "domain '%s': xenstore xenmig/cpuid_featureset: %s", name,
                               reason);
        }
        if (!rc)
            rc = report_running_within(name, (uint32_t)domid, d, levels);
    } else {
        /* Nothing recorded: the policy the domain sees is what it needs. */
        rc = cpuid_domain_policy_read(NULL, (uint32_t)domid, &d->required);
        if (!rc) {
            cpuid_domain_policy_excess(&d->required, &(struct cpuid_featureset){ { 0 } }, NULL,
                                       &d->required, NULL);
            free(d->baseline);
            d->baseline = strdup("its running policy (no recorded baseline)");
            if (!d->baseline)
                rc = mig_error_set(MIG_ENOMEM, "out of memory");
        }
    }
 out:
    free(recorded);
    xs_close(xs);
    return rc;
}

/* What `cpuid-policy check` is asked to do (strings borrowed from argv). */
struct check_request {
    const char *target;                 /* DOMAIN (running here) or CFG */
    const char *host_path;              /* --host HOST.json */
    const char *cluster_path;           /* --cluster, or NULL */
    const char *override;               /* --baseline NAME, or NULL */
};

#define CHECK_PARSED (-1)

/* CHECK_PARSED, or XL_EXT_EXIT_USAGE after a usage error (printed). */
static int parse_check_request(int argc, char **argv, struct check_request *req)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'H' },
        { "cluster", required_argument, NULL, 'c' },
        { "baseline", required_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': req->host_path = optarg; break;
        case 'c': req->cluster_path = optarg; break;
        case 'b': req->override = optarg; break;
        default: return cpuid_cli_bad_option("check", argv, "", opts);
        }
    }
    if (argc - optind != 1 || !req->host_path)
        return cpuid_cli_usage("check", "%s; give DOMAIN|CFG and --host HOST.json",
                               !req->host_path ? "no --host given" : argc - optind < 1 ?
                               "no domain or config given" : "too many arguments");
    req->target = argv[optind];
    return CHECK_PARSED;
}

/*
 * The verdict on domain d and host (gpu: the host's GPU levels, read when
 * d has a gpu_baseline).  Both checks run before anything is printed, so
 * one run lists both shortfalls.  Returns the exit code.
 */
static int check_verdict(const struct domain_need *d, const struct cpuid_host *host,
                         const struct cpuid_gpu_capability *gpu)
{
    enum cpuid_host_policy which = cpuid_host_policy_for_type(d->type);
    struct cpuid_featureset missing;
    char gpu_shortfall[256] = "", gpu_message[512] = "";
    int rc, gpu_rc = 0;

    if (d->gpu_baseline) {
        gpu_rc = cpuid_gpu_capability_check(&d->gpu_required, gpu, gpu_shortfall,
                                      sizeof(gpu_shortfall));
        if (gpu_rc == MIG_ECOMPAT)
            snprintf(gpu_message, sizeof(gpu_message), "%s", mig_error_last());
    }
    rc = d->baseline ? cpuid_policy_check(&d->required, cpuid_host_featureset(host, which),
                                          &missing) : 0;
    if (rc == MIG_ECOMPAT) {
        cpuid_cli_print_feature_lines(stdout, &missing, "missing: ");
        fprintf(stderr, "%s cpuid-policy check: incompatible: host '%s' (%s) lacks %u of "
                "the %u features of domain '%s' baseline '%s'\n", xl_ext_prog,
                cpuid_host_hostname(host), policy_names[which],
                cpuid_featureset_count(&missing), cpuid_featureset_count(&d->required),
                d->name, d->baseline);
    }
    if (gpu_rc == MIG_ECOMPAT) {
        printf("gpu: %s\n", gpu_shortfall);
        fprintf(stderr, "%s cpuid-policy check: incompatible: host '%s': domain '%s' %s\n",
                xl_ext_prog, cpuid_host_hostname(host), d->name, gpu_message);
    }
    if (rc == MIG_ECOMPAT || gpu_rc == MIG_ECOMPAT)
        return XL_EXT_EXIT_INCOMPATIBLE;
    if (d->gpu_baseline)
        printf("compatible: host '%s' meets domain '%s' gpu_baseline '%s'\n",
               cpuid_host_hostname(host), d->name, d->gpu_baseline);
    if (!d->baseline) {
        printf("compatible: domain '%s' has no cpuid_baseline (it gets host '%s' default "
               "policy; nothing is levelled)\n", d->name, cpuid_host_hostname(host));
        return XL_EXT_EXIT_OK;
    }
    printf("compatible: host '%s' (%s) has all %u features of domain '%s' baseline '%s'\n",
           cpuid_host_hostname(host), policy_names[which], cpuid_featureset_count(&d->required),
           d->name, d->baseline);
    return XL_EXT_EXIT_OK;
}

static int check_run(const struct check_request *req)
{
    struct cpuid_level_set *levels = NULL;
    struct cpuid_cluster *cluster = NULL;
    struct cpuid_host *host = NULL;
    struct domain_need d = { .type = NULL };
    cpuid_gpu_level_table *gpu_levels = NULL;
    struct cpuid_gpu_capability gpu;
    bool running = access(req->target, F_OK) != 0;
    int rc, ret;

    if (running && access("/proc/xen", F_OK) != 0) {
        fprintf(stderr, "%s cpuid-policy check: '%s' is not a file and this is not a Xen "
                "host, so no domain of that name: give the domain's xl.cfg\n",
                xl_ext_prog, req->target);
        return XL_EXT_EXIT_NO_XEN;
    }
    rc = cpuid_level_set_load(NULL, &levels);
    if (!rc)
        rc = cpuid_gpu_level_table_load(NULL, &gpu_levels);
    if (!rc && req->cluster_path)
        rc = cpuid_cluster_read_file(req->cluster_path, &cluster);
    if (!rc)
        rc = cpuid_host_read_file(req->host_path, &host);
    if (!rc && running)
        rc = domain_need_read_running(req->target, req->override, levels, cluster, gpu_levels,
                                      &d);
    else if (!rc)
        rc = domain_need_read(req->target, req->override, levels, cluster, gpu_levels, &d);
    if (!rc && d.gpu_baseline)
        rc = cpuid_gpu_host_json_capability(cpuid_host_json(host), gpu_levels, req->host_path,
                                            &gpu);
    if (rc)
        ret = cpuid_cli_fail_missing("check", rc, CLUSTER_ADVICE);
    else
        ret = check_verdict(&d, host, &gpu);
    domain_need_clear(&d);
    cpuid_host_free(host);
    cpuid_cluster_free(cluster);
    cpuid_level_set_free(levels);
    cpuid_gpu_level_table_free(gpu_levels);
    return ret;
}

int cmd_cpuid_policy_check(int argc, char **argv)
{
    struct check_request req = { .target = NULL };
    int rc = parse_check_request(argc, argv, &req);

    return rc == CHECK_PARSED ? check_run(&req) : rc;
}

/* A host column of the report: from a host file or a cluster member. */
struct report_host {
    const char *name;
    enum cpuid_vendor vendor;
    const struct cpuid_featureset *pv, *hvm;
    char highest[128];
    bool gpu_known;                 /* false: a cluster member with no recorded GPU level */
    struct cpuid_gpu_capability gpu;
    char gpu_levels[CPUID_GPU_BASELINE_TEXT_MAX];
};

/* Does host h meet the domain's gpu_baseline?  1 yes, 0 no (shortfall written), -1 unknown. */
static int report_gpu_meets(const struct domain_need *d, const struct report_host *h,
                            char *shortfall, size_t size)
{
    shortfall[0] = '\0';
    if (!d->gpu_baseline)
        return 1;
    if (!h->gpu_known) {
        snprintf(shortfall, size, "GPU level of host '%s' not recorded", h->name);
        return -1;
    }
    return cpuid_gpu_capability_check(&d->gpu_required, &h->gpu, shortfall, size) ? 0 : 1;
}

/* What `cpuid-policy report` is asked to do (strings borrowed from argv). */
struct report_request {
    int format;                         /* 'C' --csv, 'J' --json, 0 text */
    const char *cluster_path;           /* --cluster, or NULL */
    const char *host_paths[MAX_REPORT_ITEMS];   /* --host, in order */
    unsigned int nr_host_paths;
    char **cfgs;                        /* the domains' CFG files */
    unsigned int nr_cfgs;
};

#define REPORT_PARSED (-1)

/* REPORT_PARSED, or XL_EXT_EXIT_USAGE after a usage error (printed). */
static int parse_report_request(int argc, char **argv, struct report_request *req)
{
    static const struct option opts[] = {
        { "csv", no_argument, NULL, 'C' },
        { "json", no_argument, NULL, 'J' },
        { "cluster", required_argument, NULL, 'c' },
        { "host", required_argument, NULL, 'H' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'C': case 'J': req->format = c; break;
        case 'c': req->cluster_path = optarg; break;
        case 'H':
            if (req->nr_host_paths == MAX_REPORT_ITEMS)
                return cpuid_cli_usage("report", "more than %d hosts", MAX_REPORT_ITEMS);
            req->host_paths[req->nr_host_paths++] = optarg;
            break;
        default:
            return cpuid_cli_bad_option("report", argv, "", opts);
        }
    }
    if (argc - optind > MAX_REPORT_ITEMS)
        return cpuid_cli_usage("report", "more than %d domains", MAX_REPORT_ITEMS);
    req->cfgs = argv + optind;
    req->nr_cfgs = (unsigned int)(argc - optind);
    return REPORT_PARSED;
}

/* What the report shows, read in; freed by report_clear(). */
struct report {
    struct cpuid_host *host_files[MAX_REPORT_ITEMS];
    unsigned int nr_files;
    struct report_host *hosts;          /* the host files', then the cluster's others */
    unsigned int nr_hosts;
    struct domain_need *domains;
    unsigned int nr_domains;
    struct cpuid_level_set *levels;
    struct cpuid_cluster *cluster;
    cpuid_gpu_level_table *gpu_levels;
    char cluster_highest[128];
};

static void report_clear(struct report *r)
{
    for (unsigned int i = 0; r->domains && i < r->nr_domains; i++)
        domain_need_clear(&r->domains[i]);
    free(r->domains);
    free(r->hosts);
    for (unsigned int i = 0; i < r->nr_files; i++)
        cpuid_host_free(r->host_files[i]);
    cpuid_cluster_free(r->cluster);
    cpuid_level_set_free(r->levels);
    cpuid_gpu_level_table_free(r->gpu_levels);
}

/* The host columns: the host files, then the cluster's members not among them. */
static int report_load_hosts(struct report *r)
{
    const struct cpuid_cluster *cluster = r->cluster;
    int rc;

    for (unsigned int i = 0; i < r->nr_files; i++, r->nr_hosts++) {
        struct report_host *h = &r->hosts[r->nr_hosts];

        h->name = cpuid_host_hostname(r->host_files[i]);
        h->vendor = cpuid_host_vendor(r->host_files[i]);
        h->pv = cpuid_host_featureset(r->host_files[i], CPUID_HOST_POLICY_PV_MAX);
        h->hvm = cpuid_host_featureset(r->host_files[i], CPUID_HOST_POLICY_HVM_MAX);
        rc = cpuid_gpu_host_json_capability(cpuid_host_json(r->host_files[i]), r->gpu_levels,
                                      h->name, &h->gpu);
        if (rc)
            return cpuid_cli_fail("report", rc);
        h->gpu_known = true;
    }
    for (unsigned int i = 0; cluster && i < cpuid_cluster_member_count(cluster); i++) {
        struct report_host *h = &r->hosts[r->nr_hosts];
        const char *gpu_baseline = cpuid_cluster_member_gpu_baseline(cluster, i);
        bool dup = false;

        for (unsigned int j = 0; j < r->nr_files; j++)
            dup |= !strcmp(r->hosts[j].name, cpuid_cluster_member_name(cluster, i));
        if (dup)
            continue;
        h->name = cpuid_cluster_member_name(cluster, i);
        h->vendor = cpuid_cluster_vendor(cluster);
        /* A cluster file records the HVM max policy only. */
        h->pv = h->hvm = cpuid_cluster_member_features(cluster, i);
        if (gpu_baseline) {
            rc = cpuid_gpu_capability_from_baseline(r->gpu_levels, gpu_baseline, h->name,
                                                    &h->gpu);
            if (rc)
                return cpuid_cli_fail("report", rc);
            h->gpu_known = true;
        }
        r->nr_hosts++;
    }
    for (unsigned int i = 0; i < r->nr_hosts; i++) {
        struct report_host *h = &r->hosts[i];

        cpuid_cli_highest_levels(r->levels, h->vendor, h->hvm, h->highest, sizeof(h->highest));
        if (h->gpu_known)
            cpuid_gpu_capability_format_baseline(&h->gpu, h->gpu_levels, sizeof(h->gpu_levels));
        else
            snprintf(h->gpu_levels, sizeof(h->gpu_levels), "-");
    }
    return 0;
}

/* Read everything the report shows: 0, or the exit code with the reason printed. */
static int report_load(const struct report_request *req, struct report *r)
{
    int rc;

    for (; r->nr_files < req->nr_host_paths; r->nr_files++) {
        rc = cpuid_host_read_file(req->host_paths[r->nr_files], &r->host_files[r->nr_files]);
        if (rc)
            return cpuid_cli_fail("report", rc);
    }
    rc = cpuid_level_set_load(NULL, &r->levels);
    if (!rc)
        rc = cpuid_gpu_level_table_load(NULL, &r->gpu_levels);
    if (!rc && req->cluster_path)
        rc = cpuid_cluster_read_file(req->cluster_path, &r->cluster);
    if (rc)
        return cpuid_cli_fail("report", rc);
    if (!r->nr_files && !r->cluster)
        return cpuid_cli_usage("report", "give --cluster CLUSTER.json and/or --host HOST.json");
    r->hosts = calloc(MAX_REPORT_ITEMS * 2, sizeof(*r->hosts));
    r->domains = calloc((size_t)req->nr_cfgs + 1, sizeof(*r->domains));
    if (!r->hosts || !r->domains)
        return cpuid_cli_fail("report", mig_error_set(MIG_ENOMEM, "out of memory"));
    rc = report_load_hosts(r);
    if (rc)
        return rc;
    snprintf(r->cluster_highest, sizeof(r->cluster_highest), "-");
    if (r->cluster)
        cpuid_cli_highest_levels(r->levels, cpuid_cluster_vendor(r->cluster),
                                 cpuid_cluster_baseline_features(r->cluster),
                                 r->cluster_highest, sizeof(r->cluster_highest));
    for (; r->nr_domains < req->nr_cfgs; r->nr_domains++) {
        rc = domain_need_read(req->cfgs[r->nr_domains], NULL, r->levels, r->cluster,
                              r->gpu_levels, &r->domains[r->nr_domains]);
        if (rc) {
            r->nr_domains++;
            return cpuid_cli_fail_missing("report", rc, CLUSTER_ADVICE);
        }
    }
    return 0;
}

/* --json: the cluster and the hosts into a new root object (the caller's). */
static json_object *report_json_head(const struct report *r)
{
    json_object *jroot = json_object_new_object(), *jhosts = json_object_new_array();
    const struct cpuid_cluster *cluster = r->cluster;

    if (cluster) {
        json_object *jc = json_object_new_object();
        const char *pinned = cpuid_cluster_pinned_level(cluster);
        const char *gpu = cpuid_cluster_gpu_baseline(cluster, NULL);
        char hex[CPUID_FEATURESET_HEX_LEN];

        cpuid_featureset_format_hex(cpuid_cluster_baseline_features(cluster), hex);
        json_object_object_add(jc, "name", json_object_new_string(cpuid_cluster_name(cluster)));
        json_object_object_add(jc, "baseline", json_object_new_string(hex));
        json_object_object_add(jc, "pinned_level", pinned ? json_object_new_string(pinned) : NULL);
        json_object_object_add(jc, "highest_levels",
                               json_object_new_string(r->cluster_highest));
        json_object_object_add(jc, "gpu_baseline", gpu ? json_object_new_string(gpu) : NULL);
        json_object_object_add(jroot, "cluster", jc);
    }
    for (unsigned int h = 0; h < r->nr_hosts; h++) {
        json_object *jh = json_object_new_object();

        json_object_object_add(jh, "name", json_object_new_string(r->hosts[h].name));
        json_object_object_add(jh, "vendor",
                               json_object_new_string(cpuid_vendor_name(r->hosts[h].vendor)));
        json_object_object_add(jh, "highest_levels",
                               json_object_new_string(r->hosts[h].highest));
        json_object_object_add(jh, "gpu_levels", r->hosts[h].gpu_known ?
                               json_object_new_string(r->hosts[h].gpu_levels) : NULL);
        json_object_array_add(jhosts, jh);
    }
    json_object_object_add(jroot, "hosts", jhosts);
    return jroot;
}

/* CSV and text: the cluster and the hosts, and the domains' table head. */
static void report_print_head(const struct report *r, int format)
{
    const struct cpuid_cluster *cluster = r->cluster;

    if (format == 'C') {
        printf("record,name,type,baseline,host,compatible,missing,highest_levels,"
               "gpu_baseline,gpu_compatible,gpu_shortfall\n");
        if (cluster)
            printf("cluster,%s,,%s,,,,\"%s\",\"%s\",,\n", cpuid_cluster_name(cluster),
                   cpuid_cluster_pinned_level(cluster) ? cpuid_cluster_pinned_level(cluster) :
                   "intersection", r->cluster_highest, cpuid_cluster_gpu_baseline(cluster, NULL) ?
                   cpuid_cluster_gpu_baseline(cluster, NULL) : "");
        for (unsigned int h = 0; h < r->nr_hosts; h++)
            printf("host,%s,,,,,,\"%s\",\"%s\",,\n", r->hosts[h].name, r->hosts[h].highest,
                   r->hosts[h].gpu_known ? r->hosts[h].gpu_levels : "");
        return;
    }
    if (cluster)
        printf("cluster %s: baseline %s (%u features), highest levels: %s\n\n",
               cpuid_cluster_name(cluster), cpuid_cluster_pinned_level(cluster) ?
               cpuid_cluster_pinned_level(cluster) : "intersection of members",
               cpuid_featureset_count(cpuid_cluster_baseline_features(cluster)),
               r->cluster_highest);
    printf("%-20s %-7s %-38s %s\n", "HOST", "VENDOR", "HIGHEST LEVELS", "GPU LEVELS");
    for (unsigned int h = 0; h < r->nr_hosts; h++)
        printf("%-20s %-7s %-38s %s\n", r->hosts[h].name, cpuid_vendor_name(r->hosts[h].vendor),
               r->hosts[h].highest, r->hosts[h].gpu_levels);
    printf("\n%-20s %-4s %-22s %-22s", "DOMAIN", "TYPE", "BASELINE", "GPU BASELINE");
    for (unsigned int h = 0; h < r->nr_hosts; h++)
        printf(" %-12.12s", r->hosts[h].name);
    printf("\n");
}

/* One domain on one host: a JSON check (into jchecks), a CSV record or a table cell. */
static void report_print_cell(const struct domain_need *d, const struct report_host *h,
                              int format, json_object *jchecks)
{
    struct cpuid_featureset missing = { { 0 } };
    const struct cpuid_featureset *fs = !strcmp(d->type, "pv") ? h->pv : h->hvm;
    bool cpu_ok = !d->baseline || !cpuid_policy_check(&d->required, fs, &missing);
    unsigned int n = cpuid_featureset_count(&missing);
    char shortfall[256], cell[32];
    int gpu_ok = report_gpu_meets(d, h, shortfall, sizeof(shortfall));
    bool ok = cpu_ok && gpu_ok == 1;

    if (format == 'J') {
        json_object *jc = json_object_new_object();

        json_object_object_add(jc, "host", json_object_new_string(h->name));
        json_object_object_add(jc, "compatible", json_object_new_boolean(ok));
        json_object_object_add(jc, "missing", cpuid_cli_json_feature_array(&missing));
        json_object_object_add(jc, "gpu_compatible", gpu_ok < 0 ? NULL :
                               json_object_new_boolean(gpu_ok));
        json_object_object_add(jc, "gpu_shortfall", json_object_new_string(shortfall));
        json_object_array_add(jchecks, jc);
        return;
    }
    if (format == 'C') {
        printf("check,%s,%s,%s,%s,%s,%u,,\"%s\",%s,\"%s\"\n", d->name, d->type,
               d->baseline ? d->baseline : "", h->name, ok ? "yes" : "no", n,
               d->gpu_baseline ? d->gpu_baseline : "",
               gpu_ok < 0 ? "unknown" : gpu_ok ? "yes" : "no", shortfall);
        return;
    }
    if (ok)
        snprintf(cell, sizeof(cell), "yes");
    else if (cpu_ok)
        snprintf(cell, sizeof(cell), gpu_ok < 0 ? "no (gpu?)" : "no (gpu)");
    else if (gpu_ok == 1)
        snprintf(cell, sizeof(cell), "no (%u)", n);
    else
        snprintf(cell, sizeof(cell), "no (%u+gpu)", n);
    printf(" %-12s", cell);
}

/* The baseline as the text table shows it: hex words as "hex (N features)". */
static const char *baseline_label(const struct domain_need *d, char *buf, size_t size)
{
    enum cpuid_baseline_kind kind;

    if (!d->baseline)
        return "-";
    if (cpuid_baseline_parse(d->baseline, d->name, &kind, NULL) || kind != CPUID_BASELINE_HEX)
        return d->baseline;
    snprintf(buf, size, "hex (%u features)", cpuid_featureset_count(&d->required));
    return buf;
}

/* One domain: a JSON object (into jdomains), CSV records or a table row. */
static void report_print_domain(const struct report *r, const struct domain_need *d,
                                int format, json_object *jdomains)
{
    json_object *jd = NULL, *jchecks = NULL;
    char label[32];

    if (format == 'J') {
        jd = json_object_new_object();
        jchecks = json_object_new_array();
        json_object_object_add(jd, "name", json_object_new_string(d->name));
        json_object_object_add(jd, "type", json_object_new_string(d->type));
        json_object_object_add(jd, "baseline", d->baseline ?
                               json_object_new_string(d->baseline) : NULL);
        json_object_object_add(jd, "gpu_baseline", d->gpu_baseline ?
                               json_object_new_string(d->gpu_baseline) : NULL);
    } else if (format != 'C') {
        printf("%-20s %-4s %-22s %-22s", d->name, d->type,
               baseline_label(d, label, sizeof(label)),
               d->gpu_baseline ? d->gpu_baseline : "-");
    }
    for (unsigned int h = 0; h < r->nr_hosts; h++)
        report_print_cell(d, &r->hosts[h], format, jchecks);
    if (format == 'J') {
        json_object_object_add(jd, "hosts", jchecks);
        json_object_array_add(jdomains, jd);
    } else if (format != 'C') {
        printf("\n");
    }
}

static int report_run(const struct report_request *req)
{
    struct report r = { .nr_files = 0 };
    json_object *jroot = NULL, *jdomains = NULL;
    int ret;

    ret = report_load(req, &r);
    if (ret)
        goto out;
    if (req->format == 'J') {
        jroot = report_json_head(&r);
        jdomains = json_object_new_array();
        json_object_object_add(jroot, "domains", jdomains);
    } else {
        report_print_head(&r, req->format);
    }
    for (unsigned int i = 0; i < r.nr_domains; i++)
        report_print_domain(&r, &r.domains[i], req->format, jdomains);
    if (req->format == 'J')
        printf("%s\n", json_object_to_json_string_ext(jroot, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_SPACED));
    ret = XL_EXT_EXIT_OK;
 out:
    json_object_put(jroot);
    report_clear(&r);
    return ret;
}

int cmd_cpuid_policy_report(int argc, char **argv)
{
    struct report_request req = { .format = 0 };
    int rc = parse_report_request(argc, argv, &req);

    return rc == REPORT_PARSED ? report_run(&req) : rc;
}
