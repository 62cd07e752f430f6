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

enum { OPT_HOST_JSON = 0x100, OPT_HELP, OPT_STREAMS };

static const struct option long_options[] = {
    { "host-json", required_argument, NULL, OPT_HOST_JSON },
    { "streams",   required_argument, NULL, OPT_STREAMS },
    { "help",      no_argument,       NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

/*
 * Exec stock `xl restore` with what getopt found in argv: xl restore's own
 * options (flags[0..n-1]) and the arguments after them; --host-json and
 * --streams are ours and stay behind (an xl save file is read by stock xl
 * restore, in one stream).  Returns only on failure, with the exit code.
 */
static int exec_xl_restore(int argc, char **argv, const char *flags, int n)
{
    char words[16][3], **xl_argv = calloc((size_t)(2 + n + argc - optind), sizeof(char *));
    int out = 0, rc;

    if (!xl_argv)
        return XL_EXT_EXIT_FAILURE;
    xl_argv[out++] = "restore";
    for (int i = 0; i < n && i < 16; i++) {
        snprintf(words[i], sizeof(words[i]), "-%c", flags[i]);
        xl_argv[out++] = words[i];
    }
    for (int i = optind; i < argc; i++)
        xl_argv[out++] = argv[i];
    rc = xl_ext_exec_xl(out, xl_argv);
    free(xl_argv);
    return rc;
}

int restore_xen(int argc, char **argv)
{
    const char *host_json = getenv("XENMIG_HOST_JSON"), *file;
    unsigned long long streams;
    char flags[16];
    int opt, rc, nr_flags = 0;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "FhpcedVA", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOST_JSON: host_json = optarg; break;
        case OPT_STREAMS:
            if (xl_ext_parse_uint("--streams", optarg, 1, 64, &streams))
                return XL_EXT_EXIT_USAGE;
            break;
        case 'h': case OPT_HELP:
            xl_ext_print_usage(stdout, "restore");
            return XL_EXT_EXIT_OK;
        case '?': {
            char what[160];

            fprintf(stderr, "%s restore: %s; run '%s help restore' for the options\n",
                    xl_ext_prog, xl_ext_option_error(argv, "FhpcedVA", long_options, what,
                                                sizeof(what)),
                    xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
        default:                      /* xl restore's own: passed on */
            if (nr_flags < (int)sizeof(flags))
                flags[nr_flags++] = (char)opt;
            break;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        fprintf(stderr, "%s restore: %s; give [CONFIG] FILE, as xl restore takes them; "
                "run '%s help restore'\n", xl_ext_prog, argc - optind < 1 ?
                "no save file given" : "too many arguments", xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    file = argv[argc - 1];
    if ((rc = xl_ext_input_readable("restore", "save file", file)))
        return rc;
    rc = restore_preflight_xl_file(file, host_json && *host_json ? host_json : NULL);
    if (rc) {
        fprintf(stderr, "%s restore: %s%s\n", xl_ext_prog, mig_error_last(),
                rc == MIG_ECOMPAT ? "; nothing was started: restore it on a host that "
                "has them" : "");
        return rc == MIG_ECOMPAT ? XL_EXT_EXIT_INCOMPATIBLE :
               rc == MIG_EIO ? XL_EXT_EXIT_FAILURE : XL_EXT_EXIT_BAD_INPUT;
    }
    return exec_xl_restore(argc, argv, flags, nr_flags);
}
