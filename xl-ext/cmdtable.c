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
    { "gpu-probe", cmd_gpu_probe,
      "Print this host's GPU facts and levels; check them against a gpu_baseline",
      "[--json] [--levels FILE] [--facts FILE] [--require BASELINE | --config CFG]",
      "  --json             print the facts and levels as JSON (the host-dump GPU object)\n"
      "  --levels FILE      GPU levels file (default: installed gpu-levels)\n"
      "  --facts FILE       derive levels from recorded facts (JSON) instead of probing\n"
      "  --require BASELINE exit 4 unless the host meets it (\"d3d11.0-gl4.1,cuda-8.0\")\n"
      "  --config CFG       exit 4 unless the host meets the gpu_baseline of xl.cfg CFG\n"
      "  --in-process       probe without a child process (debugging drivers)\n" },

    /* -- migration room commands -- */
};

const unsigned int xl_ext_cmds_count = sizeof(xl_ext_cmds) / sizeof(xl_ext_cmds[0]);
