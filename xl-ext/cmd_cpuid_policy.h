/*
 * cmd_cpuid_policy.h: what the cmd_cpuid_policy*.c files share: the
 * sub-subcommands of `xl-ext cpuid-policy` and small CLI helpers.  Nothing
 * here is used outside the cpuid-policy room's command files.
 */
#ifndef XENMIG_CMD_CPUID_POLICY_H
#define XENMIG_CMD_CPUID_POLICY_H

#include <stdbool.h>
#include <stdio.h>

#include "cpuid_policy.h"
#include "cpuid_remote.h"

/* Sub-subcommands; argv[0] is their own name ("host-dump"). */
int cmd_cpuid_policy_host_dump(int argc, char **argv);
int cmd_cpuid_policy_cluster(int argc, char **argv);
int cmd_cpuid_policy_check(int argc, char **argv);
int cmd_cpuid_policy_report(int argc, char **argv);
/* cmd_cpuid_policy_relevel.c: cluster create, remove, relevel (argv[0] is their own name). */
int cpuid_cluster_create_cmd(int argc, char **argv);
int cpuid_cluster_remove_cmd(int argc, char **argv);
int cpuid_cluster_relevel_cmd(int argc, char **argv);

/*
 * How `cluster add` and `cluster relevel` write: when the cluster's
 * baseline went down from `before` (what was read), first list the
 * recorded domains (domains_dir, NULL: the state dir; and the running ones
 * on Xen) that it leaves behind, one "uncovered: NAME baseline=B
 * missing=F,G" line each on stdout (a record that cannot be read:
 * "uncovered: NAME unreadable: REASON"), with a summary on stderr for
 * `sub`, and refuse unless force.  Then cpuid_cli_write_cluster().
 * Returns 0, XL_EXT_EXIT_INCOMPATIBLE (domains left behind, nothing
 * written), or another exit code after an error, printed.
 */
int cpuid_cli_write_relevelled(struct cpuid_cluster *cluster, const char *path, const char *sub,
                               const struct cpuid_featureset *before, const char *domains_dir,
                               bool force, const struct cpuid_level_set *levels);

/*
 * Write cluster to path (compare-and-swap: cpuid_cluster_write_file): 0,
 * or the exit code with the reason printed for `sub` (1 when the file
 * changed underneath).
 */
int cpuid_cli_write_cluster(struct cpuid_cluster *cluster, const char *path, const char *sub);

/* The cluster name a file gives: its name without directory and extension, into buf. */
void cpuid_cli_cluster_name_of(const char *path, char *buf, size_t size);

/*
 * After a change: "WHAT cluster 'NAME' (N member(s)): baseline F features
 * (was B), highest levels: ..." on stdout (no "(was B)" when B is 0).
 */
void cpuid_cli_print_cluster_baseline(const char *what, const struct cpuid_cluster *cluster,
                                      const struct cpuid_level_set *levels,
                                      unsigned int features_before);

/* The hosts a command collects over ssh: --ssh [USER@]HOST..., -s SSHCOMMAND, --timeout S. */
struct cpuid_cli_remote {
    const char *targets[CPUID_REMOTE_MAX_HOSTS];
    unsigned int count;
    const char *ssh_command;            /* -s, NULL: ssh */
    unsigned int timeout_s;             /* 0: CPUID_REMOTE_TIMEOUT_S */
};
/* getopt_long entries of the three options ('S', 's', 'T'), for a command's table. */
#define CPUID_CLI_REMOTE_OPTIONS \
    { "ssh", required_argument, NULL, 'S' }, { "timeout", required_argument, NULL, 'T' }
/*
 * Take getopt's option c ('S' --ssh, 's' -s, 'T' --timeout) with optarg
 * into r: 0 if it was one of them, 1 if not, XL_EXT_EXIT_USAGE after a
 * usage error printed for `sub`.
 */
int cpuid_cli_remote_option(struct cpuid_cli_remote *r, int c, const char *sub);
/*
 * Collect r's hosts (cpuid_remote_collect) into *results_out (a new array
 * of r->count the caller frees with cpuid_remote_hosts_free() and free());
 * each host that could not be had is named with its reason on stderr for
 * `sub`.  Returns how many were collected, -1 when out of memory (printed).
 */
int cpuid_cli_remote_collect(const struct cpuid_cli_remote *r, const char *sub,
                             struct cpuid_remote_host **results_out);
/* The exit code of a command whose remote hosts were `collected` of `wanted`: 0, 9 or 1. */
int cpuid_cli_remote_exit_code(unsigned int collected, unsigned int wanted);

/* The hosts a command was given: its HOST.json files, then the --ssh hosts reached. */
struct cpuid_cli_hosts {
    struct cpuid_host **hosts;          /* count of them, owned */
    const char **origins;               /* each one's file or --ssh target (borrowed) */
    unsigned int count;
    unsigned int remote_wanted, remote_collected;
};
/*
 * Read the files (an unreadable or malformed one ends the command: its
 * exit code, printed) and collect r's hosts (each one not reached named on
 * stderr) into *out (caller's; free with cpuid_cli_hosts_free()).  Two of
 * them with one hostname are refused (exit 3, naming both origins).
 * Returns 0, or the exit code with the reason printed (1 when no host at
 * all could be had).
 */
int cpuid_cli_hosts_load(char *const *files, unsigned int nr_files,
                         const struct cpuid_cli_remote *r, const char *sub,
                         struct cpuid_cli_hosts *out);
void cpuid_cli_hosts_free(struct cpuid_cli_hosts *hosts);
/* The exit code after the hosts were used: 0, or 9 when some --ssh hosts were not reached. */
int cpuid_cli_hosts_exit_code(const struct cpuid_cli_hosts *hosts);
/*
 * Print `text` (the command's usage and options) to stdout if argv has
 * -h or --help before any "--": returns true then (exit 0).
 */
bool cpuid_cli_wants_help(int argc, char **argv, const char *text);

/* A subcommand of cpuid-policy or of its cluster command. */
struct cpuid_subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;       /* NULL: the subcommand prints its own --help */
};
/*
 * Run the subcommand argv[1] names (argv[1..] passed on), or print its
 * help: its exit code; -1 when no subcommand of subs has that name.
 */
int cpuid_cli_dispatch(const struct cpuid_subcommand *subs, size_t n, int argc,
                       char **argv);

/* The xl-ext exit code of a MIG_E* code (ECOMPAT -> 4, input errors -> 3...). */
int cpuid_cli_exit_code(int mig_rc);

/* Print "xl-ext cpuid-policy SUB: <last error>" to stderr; returns the exit code. */
int cpuid_cli_fail(const char *sub, int mig_rc);

/*
 * As cpuid_cli_fail, with missing_advice (how to give what was missing:
 * the option) after the message when mig_rc is MIG_EMISSING.
 */
int cpuid_cli_fail_missing(const char *sub, int mig_rc, const char *missing_advice);

/* Print a usage error for SUB and return XL_EXT_EXIT_USAGE. */
int cpuid_cli_usage(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long's '?': the usage error quoting the bad option (exit 2). */
struct option;
int cpuid_cli_bad_option(const char *sub, char **argv, const char *shortopts,
                         const struct option *longopts);

/* Print each feature of fs as "PREFIX NAME\n" (Xen names). */
void cpuid_cli_print_feature_lines(FILE *f, const struct cpuid_featureset *fs,
                                   const char *prefix);

/* A JSON array of the feature names of fs (json_object *, caller owns it). */
void *cpuid_cli_json_feature_array(const struct cpuid_featureset *fs);

/*
 * The highest named level in the x86-64 family, in the vendor's generation
 * family and among libvirt's models (libvirt's order of generations), as
 * "x86-64-v3, intel-skylake, libvirt:Skylake-Client-noTSX-IBRS" ("-" for
 * none); writes into buf.
 */
void cpuid_cli_highest_levels(const struct cpuid_level_set *levels, enum cpuid_vendor vendor,
                              const struct cpuid_featureset *fs, char *buf, size_t size);

/*
 * Print "highest-levels: ..." (cpuid_cli_highest_levels() of the host's HVM
 * max policy) to f; a level set that does not load is said on that line.
 */
void cpuid_cli_print_host_highest(FILE *f, const struct cpuid_host *host);

#endif /* XENMIG_CMD_CPUID_POLICY_H */
