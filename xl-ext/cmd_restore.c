/*
 * cmd_restore.c: `xl-ext restore [xl restore's options] [--streams N]
 * [--sim] [--host-json FILE] [CONFIG] FILE`, by what FILE is:
 *
 *  - with --sim, a simulated guest's save file (restore_savefile.c);
 *  - a mapped save file of a Xen domain: N threads feed it as one stock
 *    stream into Xen's own restore, `xl migrate-receive`, after the CPUID
 *    pre-flight (restore_savefile.c);
 *  - anything else, an xl save file: the CPUID pre-flight, then stock `xl
 *    restore` with the same options (restore_xen.c).
 *
 * This file only dispatches; each path parses the whole command line.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mig_savefile.h"
#include "replay_common.h"
#include "restore_preflight.h"
#include "subcommands.h"

int cmd_restore(int argc, char **argv)
{
    enum mig_savefile_format format = MIG_SAVEFILE_UNKNOWN;
    const char *file = argc > 1 ? argv[argc - 1] : NULL;
    bool sim = false;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--sim"))
            sim = true;
    if (sim)
        return restore_sim(argc, argv);
    /* A file that cannot be read is restore_xen's to report. */
    if (file && file[0] != '-' && mig_savefile_sniff(file, &format))
        format = MIG_SAVEFILE_UNKNOWN;
    if (format == MIG_SAVEFILE_SIM) {
        /* not a domain's: say so, rather than quote its first bytes */
        fprintf(stderr, "%s restore: '%s' is a simulated guest's save file (xl-ext save "
                "--sim), not a domain's; '%s restore --sim %s' restores it\n", xl_ext_prog,
                file, xl_ext_prog, file);
        return XL_EXT_EXIT_BAD_INPUT;
    }
    if (format == MIG_SAVEFILE_MAPPED)
        return restore_mapped(argc, argv);
    return restore_xen(argc, argv);
}
