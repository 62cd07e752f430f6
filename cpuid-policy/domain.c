/*
 * domain.c: what a domain needs and whether a host has it (the migration
 * pre-flight).  The bits of OS state never count (cpuid_policy.h).
 *
 * cpuid_domain_config_read() is a thin wrapper over the libxlutil-based
 * reader of domain_config.c (the parser stock xl uses), kept for its small
 * contract.  This file must never guess a missing feature as present, and
 * never print.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

int cpuid_domain_config_read(const char *path, char **baseline_out, char **type_out)
{
    struct cpuid_domain_config_keys *keys = NULL;
    int rc;

    rc = cpuid_domain_config_read_file(path, NULL, &keys);
    if (rc)
        return rc;
    *baseline_out = keys->cpuid_baseline;
    *type_out = keys->type;
    keys->cpuid_baseline = keys->type = NULL;
    cpuid_domain_config_keys_free(keys);
    return 0;
}

int cpuid_baseline_resolve(const char *baseline, const struct cpuid_level_set *levels,
                           const struct cpuid_cluster *cluster, const char *origin,
                           struct cpuid_featureset *out)
{
    const struct cpuid_level *level;
    enum cpuid_baseline_kind kind;
    struct cpuid_featureset hex;
    int rc = cpuid_baseline_parse(baseline, origin, &kind, &hex);

    if (rc)
        return rc;
    switch (kind) {
    case CPUID_BASELINE_HEX:
        cpuid_featureset_drop_os_state(&hex);
        *out = hex;
        return 0;
    case CPUID_BASELINE_CLUSTER:
        if (!cluster)
            return mig_error_set(MIG_EMISSING, "%s: cpuid_baseline is \"cluster\": pass the "
                                 "cluster file", origin);
        *out = *cpuid_cluster_baseline_features(cluster);
        cpuid_featureset_drop_os_state(out);
        return 0;
    case CPUID_BASELINE_LEVEL:
        break;
    }
    level = cpuid_level_set_find(levels, baseline);
    if (!level)
        return mig_error_set(MIG_EINVAL, "%s: unknown baseline \"%.64s\": use a level name "
                             "('xl-ext cpuid-policy levels' lists them), \"cluster\" or Xen hex "
                             "words", origin, baseline);
    *out = level->features;
    cpuid_featureset_drop_os_state(out);
    return 0;
}

int cpuid_policy_check(const struct cpuid_featureset *required,
                       const struct cpuid_featureset *host,
                       struct cpuid_featureset *missing)
{
    struct cpuid_featureset lack;

    cpuid_featureset_subtract(&lack, required, host);
    cpuid_featureset_drop_os_state(&lack);
    if (missing)
        *missing = lack;
    if (cpuid_featureset_is_empty(&lack))
        return 0;
    return mig_error_set(MIG_ECOMPAT, "the host lacks %u feature(s) the domain's baseline "
                         "needs", cpuid_featureset_count(&lack));
}

bool cpuid_baseline_leaves_behind(const struct cpuid_featureset *needs,
                                  const struct cpuid_featureset *before,
                                  const struct cpuid_featureset *after,
                                  struct cpuid_featureset *lost)
{
    struct cpuid_featureset need = *needs, gone;

    cpuid_featureset_drop_os_state(&need);
    cpuid_featureset_subtract(&gone, &need, after);
    if (lost)
        *lost = gone;
    return cpuid_featureset_is_subset(&need, before) && !cpuid_featureset_is_empty(&gone);
}

enum cpuid_host_policy cpuid_host_policy_for_type(const char *type)
{
    return type && !strcmp(type, "pv") ? CPUID_HOST_POLICY_PV_MAX : CPUID_HOST_POLICY_HVM_MAX;
}
