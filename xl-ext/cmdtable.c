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
    { "stream-dump", cmd_stream_dump,
      "List the headers and records of an xl save file or a libxl/libxc migration stream",
      "[--json] [--pages] [--rewrite OUT] FILE|-",
      "  --json           one JSON object per line (items, then totals)\n"
      "  --pages          also list every pfn and its page type\n"
      "  --rewrite OUT    write every item again through libmig's writer to OUT\n"
      "                   (cmp FILE OUT shows the codec round-trips the input)\n" },

    /* -- cpuid-policy room commands -- */

    /* -- vGPU room commands -- */

    /* -- migration room commands -- */
};

const unsigned int xl_ext_cmds_count = sizeof(xl_ext_cmds) / sizeof(xl_ext_cmds[0]);
