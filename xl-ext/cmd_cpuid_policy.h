/*
 * cmd_cpuid_policy.h: what the cmd_cpuid_policy*.c files share: the
 * sub-subcommands of `xl-ext cpuid-policy` and small CLI helpers.  Nothing
 * here is used outside the cpuid-policy room's command files.
 */
#ifndef XENMIG_CMD_CPUID_POLICY_H
#define XENMIG_CMD_CPUID_POLICY_H

#include <stdio.h>

#include "cpuid_policy.h"

/* Sub-subcommands; argv[0] is their own name ("host-dump"). */
int cmd_cpuid_policy_host_dump(int argc, char **argv);
int cmd_cpuid_policy_cluster(int argc, char **argv);
int cmd_cpuid_policy_check(int argc, char **argv);
int cmd_cpuid_policy_report(int argc, char **argv);

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
