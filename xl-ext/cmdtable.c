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

    /* -- vGPU room commands -- */

    /* -- migration room commands -- */
};

const unsigned int xl_ext_cmds_count = sizeof(xl_ext_cmds) / sizeof(xl_ext_cmds[0]);
