/*
 * xl-ext.c: dispatcher of the xl-ext command line.
 *
 * xl-ext is a superset of xl for the commands it owns (cmdtable.c); the
 * other commands of Xen 4.17's xl (xl_ext_xl_cmds) are handed to xl
 * unchanged, with the same arguments, on a Xen host, so `xl-ext list` is
 * `xl list`; any other word is an unknown command, with the nearest one
 * suggested.  This file must never parse a subcommand's
 * options: each cmd_*.c owns its own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "subcommands.h"

const char *xl_ext_prog = "xl-ext";
const char *xl_ext_command = "";

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
    fprintf(f, "Usage: %s %s%s%s\n\n%s.\n", xl_ext_prog, cmd->name,
            cmd->usage[0] ? " " : "", cmd->usage, cmd->summary);
    if (cmd->options && cmd->options[0])
        fprintf(f, "\nOptions:\n%s", cmd->options);
}

/* Is name one of Xen 4.17's xl commands (cmdtable.c)? */
static bool is_xl_cmd(const char *name)
{
    for (unsigned int i = 0; i < xl_ext_xl_cmds_count; i++)
        if (!strcmp(xl_ext_xl_cmds[i], name))
            return true;
    return false;
}

/* Levenshtein distance of a and b (at most 64 characters of b count). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t lb = strnlen(b, 64), row[65];

    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; a[i - 1]; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* The command of xl-ext's or xl's nearest to name, or NULL when none is near. */
static const char *nearest_cmd(const char *name)
{
    size_t len = strlen(name), limit = len / 2 > 2 ? len / 2 : 2, best = limit + 1;
    const char *found = NULL;

    if (len > 64)
        return NULL;
    for (unsigned int i = 0; i < xl_ext_cmds_count + xl_ext_xl_cmds_count; i++) {
        const char *c = i < xl_ext_cmds_count ? xl_ext_cmds[i].name
                                              : xl_ext_xl_cmds[i - xl_ext_cmds_count];
        size_t d = edit_distance(name, c);

        if (d < best) {
            best = d;
            found = c;
        }
    }
    return found;
}

/* "unknown command 'NAME'; did you mean 'X'? (xl-ext help)": exit 2. */
static int unknown_command(const char *where, const char *name)
{
    const char *near = nearest_cmd(name);

    if (near)
        fprintf(stderr, "%s: unknown command '%s'; did you mean '%s'? (%s help)\n",
                where, name, near, xl_ext_prog);
    else
        fprintf(stderr, "%s: unknown command '%s'; run '%s help' for the list\n",
                where, name, xl_ext_prog);
    return XL_EXT_EXIT_USAGE;
}

/* The list of commands (xl-ext alone: to stderr, as a usage error). */
static void print_help(FILE *f)
{
    fprintf(f, "Usage: %s <subcommand> [args]\n\n"
            "xenmig %s: Xen live migration with parallel streams, loose dirty\n"
            "tracing, a downtime-driven convergence policy and CPUID baselines.\n\n"
            "Commands owned by xl-ext:\n", xl_ext_prog, PACKAGE_VERSION);
    for (unsigned int i = 0; i < xl_ext_cmds_count; i++)
        fprintf(f, " %-20s %s\n", xl_ext_cmds[i].name, xl_ext_cmds[i].summary);
    fprintf(f, "\nThe other commands of Xen 4.17's xl are passed to xl unchanged on a Xen\n"
            "host (xl-ext list = xl list).  'xl-ext help COMMAND' or 'xl-ext COMMAND\n"
            "--help' shows a command's options.\n"
            "Sizes are binary (K, M, G, T = KiB, MiB, GiB, TiB); rates are decimal,\n"
            "per second (K, M, G = thousands, millions, billions: 100M = 100 MB/s).\n"
            "Exit codes: 0 ok, 1 failure, 2 usage, 3 bad input, 4 incompatible,\n"
            "5 no Xen host (also: an xl command off a Xen host), 6 cancelled.\n");
}

int cmd_help(int argc, char **argv)
{
    const struct xl_ext_cmd *cmd = argc > 1 ? find_cmd(argv[1]) : NULL;

    if (cmd && argc > 2) {
        /* help COMMAND SUBCOMMAND...: the subcommand's own --help */
        char **sub = calloc((size_t)argc + 1, sizeof(*sub));   /* NULL-terminated */
        int rc;

        if (!sub)
            return XL_EXT_EXIT_FAILURE;
        memcpy(sub, argv + 1, (size_t)(argc - 1) * sizeof(*sub));
        sub[argc - 1] = "--help";
        xl_ext_command = cmd->name;
        rc = cmd->run(argc, sub);
        free(sub);
        return rc;
    }
    if (argc > 1) {
        if (cmd) {
            xl_ext_print_usage(stdout, argv[1]);
            return XL_EXT_EXIT_OK;
        }
        if (is_xl_cmd(argv[1])) {
            printf("'%s' is a command of xl, which %s hands it to unchanged on a Xen "
                   "host: see 'xl help %s'\n", argv[1], xl_ext_prog, argv[1]);
            return XL_EXT_EXIT_OK;
        }
        return unknown_command("xl-ext help", argv[1]);
    }
    print_help(stdout);
    return XL_EXT_EXIT_OK;
}

/*
 * A command of xl's: run xl ($XENMIG_XL, else xl on PATH) on a Xen host
 * (/proc/xen; or $XENMIG_XL set, which names the xl to use).  Elsewhere,
 * exit 5 saying why.
 */
static int run_xl(char **argv)
{
    const char *xl = getenv("XENMIG_XL");
    bool named = xl && *xl;

    if (!named && access("/proc/xen", F_OK) != 0) {
        fprintf(stderr, "%s %s: '%s' is a command of xl, which needs a Xen host: there is "
                "no /proc/xen here; run it in a Xen dom0 ('%s help' lists xl-ext's own "
                "commands)\n", xl_ext_prog, argv[1], argv[1], xl_ext_prog);
        return XL_EXT_EXIT_NO_XEN;
    }
    argv[0] = named ? (char *)xl : "xl";
    execvp(argv[0], argv);
    fprintf(stderr, "%s %s: cannot run xl '%s': %s; install xen-utils-4.17\n",
            xl_ext_prog, argv[1], argv[0], strerror(errno));
    return errno == ENOENT ? XL_EXT_EXIT_NO_XEN : XL_EXT_EXIT_FAILURE;
}

/* The long option arg ("--name" or "--name=value") names, when its value is val. */
static const struct option *long_option_of(const char *arg, const struct option *longopts,
                                           int val)
{
    size_t len = strcspn(arg + 2, "=");

    for (const struct option *o = longopts; o && o->name; o++)
        if (o->val == val && !strncmp(o->name, arg + 2, len))
            return o;
    return NULL;
}

const char *xl_ext_option_error(char **argv, const char *shortopts,
                                const struct option *longopts, char *buf, size_t size)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    bool is_long = !strncmp(arg, "--", 2) && long_option_of(arg, longopts, optopt);

    if (!optopt)
        snprintf(buf, size, "unknown option '%s'", arg);
    else if (is_long && strchr(arg, '='))
        snprintf(buf, size, "option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
    else if (is_long)
        snprintf(buf, size, "option '%s' needs a value", arg);
    else if (optopt != ':' && strchr(shortopts, optopt))
        snprintf(buf, size, "option '-%c' needs a value", optopt);
    else
        snprintf(buf, size, "unknown option '-%c'", optopt);
    return buf;
}

int xl_ext_input_readable(const char *cmd, const char *what, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        close(fd);
        return 0;
    }
    fprintf(stderr, "%s %s: cannot read %s '%s': %s; give the path of an existing, "
            "readable %s\n", xl_ext_prog, cmd, what, path, strerror(errno), what);
    return XL_EXT_EXIT_BAD_INPUT;
}

int cmd_version(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "%s version: unexpected argument '%s'; version takes none ('%s help "
                "version')\n", xl_ext_prog, argv[1], xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    printf("xl-ext (xenmig) %s\n", PACKAGE_VERSION);
    /* Scripts (the lab's xenmig-migrate hook) read which backends exist. */
    printf("migration backends: sim xen\n");
    return XL_EXT_EXIT_OK;
}

int main(int argc, char **argv)
{
    const struct xl_ext_cmd *cmd;

    opterr = 0;                 /* each command says what is wrong, in one line */
    if (argc < 2) {             /* a usage error, as xl's */
        print_help(stderr);
        return XL_EXT_EXIT_USAGE;
    }
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
        xl_ext_command = cmd->name;
        return cmd->run(argc - 1, argv + 1);
    }
    if (is_xl_cmd(argv[1]))
        return run_xl(argv);
    return unknown_command(xl_ext_prog, argv[1]);
}
