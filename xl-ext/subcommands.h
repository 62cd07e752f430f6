/*
 * subcommands.h: the xl-ext command table and the exit codes every
 * subcommand uses.  One file per subcommand (cmd_*.c), as in
 * wireguard-tools; the table itself is in cmdtable.c, kept in the style of
 * xl's xl_cmdtable.c so that `xl-ext help` output is stable.
 */
#ifndef XENMIG_XL_EXT_SUBCOMMANDS_H
#define XENMIG_XL_EXT_SUBCOMMANDS_H

#include <stdio.h>

/* Exit codes: stable, documented in README.md ("Exit codes"). */
enum xl_ext_exit {
    XL_EXT_EXIT_OK          = 0, /* success */
    XL_EXT_EXIT_FAILURE     = 1, /* the operation failed at run time */
    XL_EXT_EXIT_USAGE       = 2, /* bad command line: unknown option, missing argument */
    XL_EXT_EXIT_BAD_INPUT   = 3, /* malformed input file, stream or config */
    XL_EXT_EXIT_INCOMPATIBLE = 4, /* host/destination cannot run the domain */
    XL_EXT_EXIT_NO_XEN      = 5, /* needs a Xen host and none is reachable */
    XL_EXT_EXIT_CANCELLED   = 6, /* interrupted or cancelled; nothing was lost */
    XL_EXT_EXIT_UNKNOWN     = 7, /* told the destination to resume, no answer:
                                    the domain is left paused at the source */
    XL_EXT_EXIT_PREDICTED_MISS = 8, /* migrate --dry-run: the migration is predicted
                                       to miss the downtime target (forced above
                                       it, or given up); nothing was moved */
    XL_EXT_EXIT_PARTIAL     = 9, /* cpuid-policy --ssh: some hosts could not be
                                    reached (named on stderr); the others counted */
};

struct xl_ext_cmd {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
    const char *summary;                 /* one line for `xl-ext help` */
    const char *usage;                   /* argument synopsis */
    const char *options;                 /* option help, one per line */
};

extern const struct xl_ext_cmd xl_ext_cmds[];
extern const unsigned int xl_ext_cmds_count;

/* The commands of Xen 4.17's xl (cmdtable.c): the only ones handed to xl. */
extern const char *const xl_ext_xl_cmds[];
extern const unsigned int xl_ext_xl_cmds_count;

/* Program name for error messages ("xl-ext"). */
extern const char *xl_ext_prog;
/* The command being run ("migrate", "save", "cpuid-policy"), for messages. */
extern const char *xl_ext_command;

/* Print "Usage: xl-ext NAME USAGE" and the options of NAME to f. */
void xl_ext_print_usage(FILE *f, const char *name);

/*
 * After getopt_long() returned '?' (opterr is 0: getopt prints nothing):
 * what was wrong, quoting the option ("unknown option '--frob'", "option
 * '--streams' needs a value", "option '--json' takes no value"), written
 * into buf (size bytes) and returned.  shortopts and longopts are those
 * given to getopt_long.
 */
struct option;
const char *xl_ext_option_error(char **argv, const char *shortopts,
                                const struct option *longopts, char *buf, size_t size);

/*
 * Check, before any work, that the input file path (what: "save file",
 * "domain config") can be opened for reading.  0, or prints "xl-ext CMD:
 * cannot read WHAT 'PATH': REASON; give the path of an existing, readable
 * WHAT" (cmd: "restore", "cpuid-policy cluster show") and returns
 * XL_EXT_EXIT_BAD_INPUT (3), as every command does for an input it cannot
 * read.
 */
int xl_ext_input_readable(const char *cmd, const char *what, const char *path);

/* Subcommands (one file each). */
int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* -- stream room -- */
int cmd_stream_dump(int argc, char **argv);

/* -- cpuid-policy room -- */
int cmd_cpuid_policy(int argc, char **argv);
int cmd_create(int argc, char **argv);

/* -- vGPU room -- */
int cmd_gpu_probe(int argc, char **argv);

/* -- migration room -- */
int cmd_migrate(int argc, char **argv);
int cmd_migrate_receive(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_convert(int argc, char **argv);

#endif /* XENMIG_XL_EXT_SUBCOMMANDS_H */
