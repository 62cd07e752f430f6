/*
 * cmd_gpu_probe.c: `xl-ext gpu-probe`, the GPU facts and levels of this
 * host (or of recorded facts), optionally checked against a gpu_baseline.
 *
 * With --config, the requirement is the gpu_baseline of a domain's xl.cfg:
 * the check `xl-ext create` makes before starting it.
 * A host without a GPU is not an error: it prints level "none" and exits 0.
 * This file only parses options and prints; probing, deriving and checking
 * live in cpuid-policy (cpuid_policy.h).  It must never change
 * any GPU state.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "subcommands.h"

static void print_human(const struct cpuid_gpu_facts *facts, const struct cpuid_gpu_capability *cap,
                        const char *source)
{
    char baseline[CPUID_GPU_BASELINE_TEXT_MAX];

    printf("GPU facts (%s)\n", source);
    printf("  NVIDIA (NVML):  %s", cpuid_gpu_source_status_name(facts->nvml_status));
    if (facts->nvml_status == CPUID_GPU_SOURCE_OK)
        printf(", driver %s, %u device(s)\n", facts->driver_version[0] ? facts->driver_version : "?",
               facts->device_count);
    else
        printf(": %s\n", facts->nvml_reason);
    for (unsigned int i = 0; i < facts->devices_recorded && i < CPUID_GPU_PROBE_MAX_DEVICES; i++) {
        const struct cpuid_gpu_device_facts *d = &facts->devices[i];

        if (d->compute_major >= 0)
            printf("    gpu%u  %s  compute capability %d.%d\n", i, d->name, d->compute_major,
                   d->compute_minor);
        else
            printf("    gpu%u  %s  compute capability unknown\n", i, d->name);
    }
    printf("  OpenGL (EGL):   %s", cpuid_gpu_source_status_name(facts->gl_status));
    if (facts->gl_status == CPUID_GPU_SOURCE_OK)
        printf(", %s; %s; %s\n", facts->gl_version, facts->gl_renderer, facts->gl_vendor);
    else
        printf(": %s\n", facts->gl_reason);
    cpuid_gpu_capability_format_baseline(cap, baseline, sizeof(baseline));
    printf("Levels\n");
    printf("  graphics  %-16s %s\n", cap->graphics_name, cap->graphics_detail);
    printf("  compute   %-16s %s\n", cap->compute_name, cap->compute_detail);
    printf("  baseline  %s\n", baseline);
}

/* What `xl-ext gpu-probe` is asked to do. */
struct probe_request {
    struct cpuid_gpu_probe_options probe;     /* --in-process */
    const char *levels_path;            /* --levels, or NULL: the installed ones */
    const char *facts_path;             /* --facts, or NULL: probe this host */
    const char *require;                /* --require BASELINE, or NULL */
    const char *config_path;            /* --config CFG, or NULL */
    bool json;                          /* --json */
};

#define PROBE_PARSED (-1)

/* PROBE_PARSED, or the exit code to end with (a usage error, printed). */
static int parse_request(int argc, char **argv, struct probe_request *req)
{
    static const struct option long_options[] = {
        { "json",       no_argument,       NULL, 'j' },
        { "levels",     required_argument, NULL, 'l' },
        { "facts",      required_argument, NULL, 'f' },
        { "require",    required_argument, NULL, 'r' },
        { "config",     required_argument, NULL, 'c' },
        { "in-process", no_argument,       NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case 'j': req->json = true; break;
        case 'l': req->levels_path = optarg; break;
        case 'f': req->facts_path = optarg; break;
        case 'r': req->require = optarg; break;
        case 'c': req->config_path = optarg; break;
        case 'i': req->probe.in_process = 1; break;
        default: {
            char what[160];

            fprintf(stderr, "%s gpu-probe: %s; run '%s help gpu-probe' for the options\n",
                    xl_ext_prog, xl_ext_option_error(argv, "", long_options, what,
                                                sizeof(what)),
                    xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s gpu-probe: unexpected argument '%s'; gpu-probe takes options "
                "only ('%s help gpu-probe')\n", xl_ext_prog, argv[optind], xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    return PROBE_PARSED;
}

/*
 * The requirement to check, from --require or --config's gpu_baseline:
 * *require is its text (NULL: none asked for); *keys (the config read,
 * caller frees) may hold what it points to.  0, or the exit code.
 */
static int read_requirement(const struct probe_request *req, const cpuid_gpu_level_table *table,
                            struct cpuid_gpu_requirement *requirement, const char **require,
                            struct cpuid_domain_config_keys **keys)
{
    struct cpuid_domain_config_read_options read_options = CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT;

    *require = req->require;
    if (req->require && req->config_path) {
        fprintf(stderr, "%s gpu-probe: give --require or --config, not both\n", xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    if (req->require && cpuid_gpu_requirement_parse(table, req->require, requirement)) {
        fprintf(stderr, "%s gpu-probe: --require: %s\n", xl_ext_prog, mig_error_last());
        return XL_EXT_EXIT_BAD_INPUT;
    }
    if (!req->config_path)
        return 0;
    if (xl_ext_input_readable("gpu-probe", "domain config", req->config_path))
        return XL_EXT_EXIT_BAD_INPUT;
    read_options.gpu_levels = table;
    if (cpuid_domain_config_read_file(req->config_path, &read_options, keys)) {
        fprintf(stderr, "%s gpu-probe: %s\n", xl_ext_prog, mig_error_last());
        return XL_EXT_EXIT_BAD_INPUT;
    }
    *requirement = (*keys)->gpu_requirement;
    *require = (*keys)->gpu_baseline ? (*keys)->gpu_baseline : "none";
    return 0;
}

/* The facts (recorded or probed) and the levels they give: 0, or the exit code. */
static int read_capability(const struct probe_request *req, const cpuid_gpu_level_table *table,
                           struct cpuid_gpu_facts *facts, struct cpuid_gpu_capability *capability)
{
    if (req->facts_path) {
        if (cpuid_gpu_facts_read_file(req->facts_path, facts)) {
            fprintf(stderr, "%s gpu-probe: %s\n", xl_ext_prog, mig_error_last());
            return XL_EXT_EXIT_BAD_INPUT;
        }
    } else if (cpuid_gpu_probe_collect(&req->probe, facts)) {
        fprintf(stderr, "%s gpu-probe: %s\n", xl_ext_prog, mig_error_last());
        return XL_EXT_EXIT_FAILURE;
    }
    if (cpuid_gpu_capability_from_facts(table, facts, capability)) {
        fprintf(stderr, "%s gpu-probe: %s%s%s\n", xl_ext_prog,
                req->facts_path ? req->facts_path : "", req->facts_path ? ": " : "",
                mig_error_last());
        return req->facts_path ? XL_EXT_EXIT_BAD_INPUT : XL_EXT_EXIT_FAILURE;
    }
    return 0;
}

/* --json: the host-dump GPU object, its source and the requirement's check. */
static int print_json_report(const struct probe_request *req, const struct cpuid_gpu_facts *facts,
                             const struct cpuid_gpu_capability *capability,
                             const struct cpuid_gpu_requirement *requirement, const char *require,
                             bool met, const char *shortfall)
{
    json_object *json = NULL;

    if (cpuid_gpu_host_to_json(facts, capability, &json)) {
        fprintf(stderr, "%s gpu-probe: %s\n", xl_ext_prog, mig_error_last());
        return XL_EXT_EXIT_FAILURE;
    }
    json_object_object_add(json, "source", json_object_new_string(req->facts_path ?
                                                                   req->facts_path : "probe"));
    if (require) {
        json_object *check = json_object_new_object();
        char baseline[CPUID_GPU_BASELINE_TEXT_MAX];

        cpuid_gpu_requirement_format(requirement, baseline, sizeof(baseline));
        json_object_object_add(check, "baseline", json_object_new_string(baseline));
        json_object_object_add(check, "met", json_object_new_boolean(met));
        json_object_object_add(check, "shortfall", json_object_new_string(shortfall));
        json_object_object_add(json, "requirement", check);
    }
    printf("%s\n", json_object_to_json_string_ext(json, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(json);
    return 0;
}

static int probe_run(const struct probe_request *req)
{
    struct cpuid_domain_config_keys *keys = NULL;
    struct cpuid_gpu_requirement requirement;
    struct cpuid_gpu_capability capability;
    struct cpuid_gpu_facts *facts = NULL;
    cpuid_gpu_level_table *table = NULL;
    const char *require = NULL;
    char shortfall[512] = "";
    bool met = true;
    int rc;

    if (cpuid_gpu_level_table_load(req->levels_path, &table)) {
        fprintf(stderr, "%s gpu-probe: %s\n", xl_ext_prog, mig_error_last());
        rc = mig_error_last_code() == MIG_EIO && !req->levels_path ? XL_EXT_EXIT_FAILURE
                                                                   : XL_EXT_EXIT_BAD_INPUT;
        goto out;
    }
    rc = read_requirement(req, table, &requirement, &require, &keys);
    if (rc)
        goto out;
    facts = malloc(sizeof(*facts));
    if (!facts) {
        fprintf(stderr, "%s gpu-probe: out of memory\n", xl_ext_prog);
        rc = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    rc = read_capability(req, table, facts, &capability);
    if (rc)
        goto out;
    if (require)
        met = cpuid_gpu_capability_check(&requirement, &capability, shortfall,
                                         sizeof(shortfall)) == 0;
    if (req->json) {
        rc = print_json_report(req, facts, &capability, &requirement, require, met, shortfall);
        if (rc)
            goto out;
    } else {
        print_human(facts, &capability, req->facts_path ? req->facts_path : "probe of this host");
        if (require) {
            char baseline[CPUID_GPU_BASELINE_TEXT_MAX];

            cpuid_gpu_requirement_format(&requirement, baseline, sizeof(baseline));
            printf("Requirement %s: %s%s\n", baseline, met ? "met" : "NOT met: ", shortfall);
        }
    }
    if (!met)
        fprintf(stderr, "%s gpu-probe: %s\n", xl_ext_prog, mig_error_last());
    rc = met ? XL_EXT_EXIT_OK : XL_EXT_EXIT_INCOMPATIBLE;
out:
    cpuid_domain_config_keys_free(keys);
    free(facts);
    cpuid_gpu_level_table_free(table);
    return rc;
}

int cmd_gpu_probe(int argc, char **argv)
{
    struct probe_request req = { .probe = CPUID_GPU_PROBE_OPTIONS_INIT };
    int rc = parse_request(argc, argv, &req);

    return rc == PROBE_PARSED ? probe_run(&req) : rc;
}
