/*
 * gpu_host.c: the "gpu" object of a host description ({"facts", "levels"},
 * docs/formats.md "GPU object"): written from facts and their levels,
 * read back with the levels re-derived from the facts, and made for this
 * host by probing (host-dump).
 *
 * This is where the facts (gpu_facts.c), the probe (gpu_probe.c) and the
 * levels (gpu_level.c) meet; none of them uses this file.  It must never
 * trust the "levels" of a dump: they are always derived again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

int cpuid_gpu_host_to_json(const struct cpuid_gpu_facts *facts,
                           const struct cpuid_gpu_capability *capability,
                           json_object **json_out)
{
    json_object *root = NULL, *facts_json = NULL, *levels = NULL;
    char baseline[CPUID_GPU_BASELINE_TEXT_MAX];
    int rc;

    *json_out = NULL;
    rc = cpuid_gpu_facts_to_json(facts, &facts_json);
    if (rc)
        goto out;
    root = json_object_new_object();
    levels = json_object_new_object();
    if (!root || !levels) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory building the GPU JSON");
        goto out;
    }
    cpuid_gpu_capability_format_baseline(capability, baseline, sizeof(baseline));
    if (json_object_object_add(levels, "graphics",
                               json_object_new_string(capability->graphics_name)) ||
        json_object_object_add(levels, "compute",
                               json_object_new_string(capability->compute_name)) ||
        json_object_object_add(levels, "baseline", json_object_new_string(baseline)) ||
        json_object_object_add(levels, "graphics_detail",
                               json_object_new_string(capability->graphics_detail)) ||
        json_object_object_add(levels, "compute_detail",
                               json_object_new_string(capability->compute_detail))) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory building the GPU JSON");
        goto out;
    }
    json_object_object_add(root, "facts", facts_json);
    facts_json = NULL;
    json_object_object_add(root, "levels", levels);
    levels = NULL;
    *json_out = root;
    root = NULL;
    rc = 0;

out:
    json_object_put(facts_json);
    json_object_put(levels);
    json_object_put(root);
    return rc;
}

int cpuid_gpu_host_json_capability(const json_object *host_json,
                                   const cpuid_gpu_level_table *table, const char *origin,
                                   struct cpuid_gpu_capability *capability_out)
{
    struct cpuid_gpu_facts *facts = malloc(sizeof(*facts));
    json_object *gpu, *facts_json;
    int rc;

    if (!facts) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory reading GPU facts");
        goto out;
    }
    if (!origin)
        origin = "(host)";
    cpuid_gpu_facts_init(facts);
    if (!json_object_is_type(host_json, json_type_object) ||
        !json_object_object_get_ex(host_json, "gpu", &gpu)) {
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "%.200s has no \"gpu\" object (dumped without the GPU probe)", origin);
        memcpy(facts->gl_reason, facts->nvml_reason, sizeof(facts->gl_reason));
    } else {
        if (!json_object_is_type(gpu, json_type_object)) {
            rc = mig_error_set(MIG_EFORMAT, "%s: \"gpu\" must be an object", origin);
            goto out;
        }
        if (!json_object_object_get_ex(gpu, "facts", &facts_json)) {
            rc = mig_error_set(MIG_EFORMAT, "%s: gpu.facts is missing: dump the host again",
                               origin);
            goto out;
        }
        rc = cpuid_gpu_facts_from_json(facts_json, origin, facts);
        if (rc)
            goto out;
    }
    rc = cpuid_gpu_capability_from_facts(table, facts, capability_out);
    if (rc) {
        char message[512];

        snprintf(message, sizeof(message), "%s", mig_error_last());
        rc = mig_error_set(rc, "%s: %s", origin, message);
    }

out:
    free(facts);
    return rc;
}

int cpuid_gpu_host_json_add(json_object *host_json, const cpuid_gpu_level_table *table,
                            const struct cpuid_gpu_probe_options *options)
{
    struct cpuid_gpu_facts *facts = malloc(sizeof(*facts));
    struct cpuid_gpu_capability capability;
    json_object *gpu = NULL;
    int rc;

    if (!facts) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory probing the GPU");
        goto out;
    }
    rc = cpuid_gpu_probe_collect(options, facts);
    if (rc)
        goto out;
    rc = cpuid_gpu_capability_from_facts(table, facts, &capability);
    if (rc)
        goto out;
    rc = cpuid_gpu_host_to_json(facts, &capability, &gpu);
    if (rc)
        goto out;
    if (json_object_object_add(host_json, "gpu", gpu)) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory adding the GPU object");
        goto out;
    }
    gpu = NULL;
    rc = 0;

out:
    json_object_put(gpu);
    free(facts);
    return rc;
}
