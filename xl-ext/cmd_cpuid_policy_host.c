/*
 * cmd_cpuid_policy_host.c: `xl-ext cpuid-policy host-dump [-o FILE]`: this
 * host's description as JSON (docs/formats.md "Host file format").
 *
 * On a Xen host the policies come from libxenguest ("source": "xen");
 * elsewhere from the CPU's own CPUID ("source": "native-cpuid"), and the
 * command says so on stderr.  The host's GPU facts and levels go into its
 * "gpu" object (cpuid_policy.h).  This file must never write a partial file: it writes
 * FILE.tmp and renames it.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_cpuid_policy.h"
#include "cpuid_policy.h"
#include "mig_error.h"
#include "subcommands.h"

int cmd_cpuid_policy_host_dump(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
    };
    struct cpuid_host *host = NULL;
    cpuid_gpu_level_table *gpu_levels = NULL;
    const char *output = NULL;
    char *json = NULL;
    int c, rc, ret;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c != 'o')
            return cpuid_cli_usage("host-dump", "unknown option");
        output = optarg;
    }
    if (optind != argc)
        return cpuid_cli_usage("host-dump", "unexpected argument '%s'", argv[optind]);

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
    if (rc) {
        ret = cpuid_cli_fail("host-dump", rc);
        goto out;
    }

    rc = output ? cpuid_host_write_file(host, output) : cpuid_host_to_json(host, &json);
    if (rc) {
        ret = cpuid_cli_fail("host-dump", rc);
        goto out;
    }
    if (!output)
        fputs(json, stdout);
    cpuid_cli_print_host_highest(stderr, host);  /* stdout may be the JSON */
    ret = XL_EXT_EXIT_OK;
 out:
    free(json);
    cpuid_gpu_level_table_free(gpu_levels);
    cpuid_host_free(host);
    return ret;
}
