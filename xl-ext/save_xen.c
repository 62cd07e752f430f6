/*
 * save_xen.c: `xl-ext save [-c] [-p] [migrate's options] DOMAIN FILE
 * [CONFIG]` of a real domain: a live save through the xenmig engine.  The
 * domain runs while its memory is copied in rounds, exactly as in a
 * migration (streams, tracing, policy, ladder, verification); the receiver
 * is a local `xl-ext migrate-receive --xen --save FILE`, which writes the
 * merged stream (an xl save file: stock `xl restore` reads it) to a
 * temporary file and renames it into place only once it is complete,
 * verified and flushed.  Then, as xl save: the domain is destroyed, or
 * with -c runs on (a live checkpoint), with -p is left paused.  A save
 * that fails leaves the domain running and an earlier FILE as it was.
 *
 * `--engine xl`, and a domain the engine does not take when no xenmig
 * option was given, go to stock `xl save` unchanged.
 */
#include "config.h"

#include "migrate_source.h"
#include "subcommands.h"

int save_xen(int argc, char **argv)
{
    struct migrate_request req;
    const char *command = argv[0];
    int rc;

    migrate_request_init(&req);
    req.save = true;
    argv[0] = "save";
    rc = migrate_request_parse(argc, argv, &req);
    if (rc == MIGRATE_PARSED) {
        rc = save_resolve_defaults(&req);
        if (!rc)
            rc = migrate_run(&req);
    }
    if (rc == MIGRATE_STOCK_XL) {
        argv[0] = "save";
        return xl_ext_exec_xl(argc, argv);
    }
    argv[0] = (char *)command;
    return rc;
}
