/*
 * cluster_gpu.c: GPU levels of clusters (cpuid_policy.h, "Cluster GPU
 * level"): refuse a host below the cluster's level, record the minimum
 * over members, pin.
 *
 * The GPU rules themselves (order of levels, what "meets" means) are
 * gpu_level.c's; this file only applies them to the levels stored in a
 * cluster.  It must never raise a recorded cluster level when a host joins,
 * and never print.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

/* A level stored in the cluster file does not parse: MIG_EFORMAT, the parser's reason kept. */
static int bad_record(const struct cpuid_cluster *cluster, const char *what)
{
    char message[1024];

    cpuid_error_prefix("cluster '%s': %s is not valid", cpuid_cluster_name(cluster), what);
    snprintf(message, sizeof(message), "%s", mig_error_last());
    return mig_error_set(MIG_EFORMAT, "%s", message);
}

int cpuid_gpu_capability_from_baseline(const cpuid_gpu_level_table *table, const char *baseline,
                                       const char *what, struct cpuid_gpu_capability *capability_out)
{
    struct cpuid_gpu_requirement requirement;
    struct cpuid_gpu_capability capability;
    int rc;

    rc = cpuid_gpu_requirement_parse(table, baseline, &requirement);
    if (rc)
        return rc;
    memset(&capability, 0, sizeof(capability));
    capability.graphics_level = requirement.graphics_level;
    snprintf(capability.graphics_name, sizeof(capability.graphics_name), "%s",
             requirement.graphics_name);
    capability.gl_major = capability.gl_minor = -1;
    snprintf(capability.graphics_detail, sizeof(capability.graphics_detail), "%s", what);
    capability.compute_major = requirement.compute_major;
    capability.compute_minor = requirement.compute_minor;
    snprintf(capability.compute_name, sizeof(capability.compute_name), "%s",
             requirement.compute_name);
    snprintf(capability.compute_detail, sizeof(capability.compute_detail), "%s", what);
    *capability_out = capability;
    return 0;
}

int cpuid_cluster_gpu_check(const struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                            const char *hostname, const struct cpuid_gpu_capability *host,
                            char *shortfall, size_t shortfall_size)
{
    const char *level = cpuid_cluster_gpu_baseline(cluster, NULL);
    struct cpuid_gpu_requirement requirement;
    char lack[256];
    int rc;

    if (shortfall && shortfall_size)
        shortfall[0] = '\0';
    if (!level)
        return 0;
    rc = cpuid_gpu_requirement_parse(table, level, &requirement);
    if (rc)
        return bad_record(cluster, "its gpu_baseline");
    rc = cpuid_gpu_capability_check(&requirement, host, lack, sizeof(lack));
    if (rc != MIG_ECOMPAT)
        return rc;
    if (shortfall && shortfall_size)
        snprintf(shortfall, shortfall_size, "%s", lack);
    return mig_error_set(MIG_ECOMPAT, "host '%s' is below GPU level '%s' of cluster '%s' "
                         "(%s): domains with that gpu_baseline could not run there",
                         hostname, level, cpuid_cluster_name(cluster), lack);
}

int cpuid_cluster_gpu_record(struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                             const char *hostname, const struct cpuid_gpu_capability *host)
{
    struct cpuid_gpu_capability level;
    char text[CPUID_GPU_BASELINE_TEXT_MAX], what[96];
    bool pinned;
    const char *recorded = cpuid_cluster_gpu_baseline(cluster, &pinned);
    int rc;

    cpuid_gpu_capability_format_baseline(host, text, sizeof(text));
    rc = cpuid_cluster_set_member_gpu_baseline(cluster, hostname, text);
    if (rc || pinned)
        return rc;
    if (cpuid_cluster_member_count(cluster) == 1)
        return cpuid_cluster_set_gpu_baseline(cluster, text, false);
    if (!recorded)
        return 0;
    snprintf(what, sizeof(what), "cluster '%.64s'", cpuid_cluster_name(cluster));
    rc = cpuid_gpu_capability_from_baseline(table, recorded, what, &level);
    if (rc)
        return bad_record(cluster, "its gpu_baseline");
    cpuid_gpu_capability_intersect(&level, host, &level);
    cpuid_gpu_capability_format_baseline(&level, text, sizeof(text));
    return cpuid_cluster_set_gpu_baseline(cluster, text, false);
}

int cpuid_cluster_gpu_pin(struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                          const char *baseline, char *shortfall, size_t shortfall_size)
{
    struct cpuid_gpu_requirement requirement;
    struct cpuid_gpu_capability member;
    char text[CPUID_GPU_BASELINE_TEXT_MAX];
    int rc;

    if (shortfall && shortfall_size)
        shortfall[0] = '\0';
    rc = cpuid_gpu_requirement_parse(table, baseline, &requirement);
    if (rc)
        return rc;
    for (unsigned int i = 0; i < cpuid_cluster_member_count(cluster); i++) {
        const char *name = cpuid_cluster_member_name(cluster, i);
        const char *levels = cpuid_cluster_member_gpu_baseline(cluster, i);
        char what[96], lack[256];

        if (!levels)
            continue;
        snprintf(what, sizeof(what), "member '%.64s'", name);
        rc = cpuid_gpu_capability_from_baseline(table, levels, what, &member);
        if (rc) {
            snprintf(what, sizeof(what), "member '%.64s' gpu_baseline", name);
            return bad_record(cluster, what);
        }
        if (cpuid_gpu_capability_check(&requirement, &member, lack, sizeof(lack)) == MIG_ECOMPAT) {
            if (shortfall && shortfall_size)
                snprintf(shortfall, shortfall_size, "%s", lack);
            return mig_error_set(MIG_ECOMPAT, "member '%s' is below GPU level '%s' (%s): pin "
                                 "a lower level or remove the host", name, baseline, lack);
        }
    }
    cpuid_gpu_requirement_format(&requirement, text, sizeof(text));
    return cpuid_cluster_set_gpu_baseline(cluster, text, true);
}
