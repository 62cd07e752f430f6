/*
 * xl-ext.c: dispatcher of the xl-ext command line.
 *
 * xl-ext is a superset of xl for the commands it owns (cmdtable.c); any
 * other command is handed to xl unchanged, with the same arguments, so
 * `xl-ext list` is `xl list`.  This file must never parse a subcommand's
 * options: each cmd_*.c owns its own.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "subcommands.h"

const char *xl_ext_prog = "xl-ext";

static const struct xl_ext_cmd *find_cmd(const char *name)
{
    for (unsigned int i = 0; i < xl_ext_cmds_count; i++)
        if (!strcmp(xl_ext_cmds[i].name, name))
            return &xl_ext_cmds[i];
    return NULL;
}

void xl_ext_print_usage(FILE *f, const char *name)
{
    const struct xl_ext_cmd *cmd = find_cmd(name);

    if (!cmd)
        return;
    fprintf(f, "Usage: %s %s %s\n\n%s.\n", xl_ext_prog, cmd->name,
            cmd->usage, cmd->summary);
    if (cmd->options && cmd->options[0])
        fprintf(f, "\nOptions:\n%s", cmd->options);
}

int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        if (!find_cmd(argv[1])) {
            fprintf(stderr, "%s: unknown command '%s': run '%s help' for the list\n",
                    xl_ext_prog, argv[1], xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
        xl_ext_print_usage(stdout, argv[1]);
        return XL_EXT_EXIT_OK;
    }
    printf("Usage: %s <subcommand> [args]\n\n"
           "xenmig %s: Xen live migration with parallel streams, loose dirty\n"
           "tracing, a downtime-driven convergence policy and CPUID baselines.\n\n"
           "Commands owned by xl-ext:\n", xl_ext_prog, PACKAGE_VERSION);
    for (unsigned int i = 0; i < xl_ext_cmds_count; i++)
        printf(" %-20s %s\n", xl_ext_cmds[i].name, xl_ext_cmds[i].summary);
    printf("\nAny other command is passed to xl unchanged (xl-ext list = xl list).\n"
           "Exit codes: 0 ok, 1 failure, 2 usage, 3 bad input, 4 incompatible,\n"
           "5 no Xen host, 6 cancelled.\n");
    return XL_EXT_EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
    printf("xl-ext (xenmig) %s\n", PACKAGE_VERSION);
    /* Scripts (the lab's xenmig-migrate hook) read which backends exist. */
    printf("migration backends: sim xen\n");
    return XL_EXT_EXIT_OK;
}

int main(int argc, char **argv)
{
    const struct xl_ext_cmd *cmd;

    if (argc < 2)
        return cmd_help(1, argv);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_help(1, argv);
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv);

    cmd = find_cmd(argv[1]);
    if (cmd) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            xl_ext_print_usage(stdout, cmd->name);
            return XL_EXT_EXIT_OK;
        }
        return cmd->run(argc - 1, argv + 1);
    }

    /* Not ours: hand it to xl, unchanged. */
    argv[0] = "xl";
    execvp("xl", argv);
    fprintf(stderr, "%s: '%s' is not an xl-ext command and xl could not be run (%s): "
            "install xen-utils-4.17, or run '%s help'\n",
            xl_ext_prog, argv[1], strerror(errno), xl_ext_prog);
    return errno == ENOENT ? XL_EXT_EXIT_NO_XEN : XL_EXT_EXIT_FAILURE;
}
