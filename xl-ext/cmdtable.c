/*
 * cmdtable.c: the commands xl-ext owns, their usage and option help.
 * Scripts grep `xl-ext help`: add new entries, never reword old ones.
 */
#include <stddef.h>

#include "subcommands.h"

const struct xl_ext_cmd xl_ext_cmds[] = {
    { "help", cmd_help,
      "Print this help, or the usage of one command",
      "[COMMAND]",
      "" },
    { "version", cmd_version,
      "Print the xenmig version",
      "",
      "" },

    /* -- stream room commands -- */

    /* -- cpuid-policy room commands -- */
    { "cpuid-policy", cmd_cpuid_policy,
      "CPU featuresets, named baselines, clusters and the migration pre-flight check",
      "SUBCOMMAND [ARGS...]",
      "  features [--word N]                 Xen 4.17 feature names per featureset word\n"
      "  decode [--hex|--names|--libxl] [--host HOST.json] [--words] FEATURESET\n"
      "                                      hex words, names and count of a featureset\n"
      "  levels [--show NAME]                the named levels (data files) and their sources\n"
      "  corpus [--file FILE] [--host-json NAME]\n"
      "                                      real CPUs of the corpus, or one as a host file\n"
      "  host-dump [-o FILE]                 this host's policies as JSON\n"
      "  cluster baseline [--policy P] [--json] HOST.json...\n"
      "                                      intersection and highest level of the hosts\n"
      "  cluster add CLUSTER.json HOST.json [--name NAME]\n"
      "                                      add a host; refused if it lacks the baseline\n"
      "  cluster pin CLUSTER.json LEVEL      pin the cluster baseline to a named level\n"
      "  cluster show CLUSTER.json           members, baseline, levels\n"
      "  check DOMAIN|CFG --host HOST.json [--cluster CLUSTER.json] [--baseline NAME]\n"
      "                                      0 compatible, 4 missing features (listed)\n"
      "  report [--csv|--json] [--cluster CLUSTER.json] [--host HOST.json]... CFG...\n"
      "                                      domains x hosts table, highest levels\n" },

    /* -- vGPU room commands -- */

    /* -- migration room commands -- */
};

const unsigned int xl_ext_cmds_count = sizeof(xl_ext_cmds) / sizeof(xl_ext_cmds[0]);
