/*
 * cmd_restore.c: `xl-ext restore [xl restore's options] [--host-json FILE]
 * [CONFIG] FILE`: an xl save file, after the CPUID pre-flight, goes to
 * stock `xl restore` (restore_xen.c).
 */
#include "config.h"

#include "restore_preflight.h"
#include "subcommands.h"

int cmd_restore(int argc, char **argv)
{
    return restore_xen(argc, argv);
}
