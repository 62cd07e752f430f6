/*
 * restore_xen.c: `xl-ext restore [xl restore's options] [--host-json FILE]
 * [CONFIG] FILE` of an xl save file (stock `xl save`'s, or `xl-ext save`'s
 * --format xl): the CPUID pre-flight first (restore_preflight.h: a host
 * that lacks a feature the saved domain runs with refuses, exit 4, naming
 * them), then stock `xl restore` with the same options, so the restore
 * stays Xen's.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_error.h"
#include "migrate_common.h"
#include "restore_preflight.h"
#include "subcommands.h"

enum { OPT_HOST_JSON = 0x100, OPT_HELP };

static const struct option long_options[] = {
    { "host-json", required_argument, NULL, OPT_HOST_JSON },
    { "help",      no_argument,       NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

/* argv without "--host-json FILE" (given as one or two words): xl's own. */
static int drop_host_json(int argc, char **argv)
{
    int out = 0;

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--host-json") && i + 1 < argc) {
            i++;
            continue;
        }
        if (!strncmp(argv[i], "--host-json=", 12))
            continue;
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

int restore_xen(int argc, char **argv)
{
    const char *host_json = getenv("XENMIG_HOST_JSON"), *file;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "FhpedVA", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOST_JSON: host_json = optarg; break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stdout, "restore");
            return XL_EXT_EXIT_OK;
        case '?':
            fprintf(stderr, "%s restore: unknown option; run '%s help restore'\n",
                    xl_ext_prog, xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        default: break;               /* xl restore's own: passed on */
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        fprintf(stderr, "%s restore: give [CONFIG] FILE, as xl restore takes them; run "
                "'%s help restore'\n", xl_ext_prog, xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    file = argv[argc - 1];
    rc = restore_preflight_xl_file(file, host_json && *host_json ? host_json : NULL);
    if (rc) {
        fprintf(stderr, "%s restore: %s%s\n", xl_ext_prog, mig_error_last(),
                rc == MIG_ECOMPAT ? "; nothing was started: restore it on a host that "
                "has them" : "");
        return rc == MIG_ECOMPAT ? XL_EXT_EXIT_INCOMPATIBLE :
               rc == MIG_EIO ? XL_EXT_EXIT_FAILURE : XL_EXT_EXIT_BAD_INPUT;
    }
    argc = drop_host_json(argc, argv);
    argv[0] = "restore";
    return xl_ext_exec_xl(argc, argv);
}
