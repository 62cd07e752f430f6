/*
 * cmd_save.c: `xl-ext save --sim [sim and migrate options] [--format
 * xl|mapped] FILE`: save a simulated guest to FILE through the migration
 * engine, live: the guest keeps running while its memory is copied, is
 * paused for the last pages, and the receiver (a local `xl-ext
 * migrate-receive --save FILE`) writes and flushes the file before the
 * source lets the guest go.  If the file cannot be written (a full disk),
 * the guest keeps running.  Without --sim the command is `xl save`,
 * unchanged.
 *
 * The formats (docs/formats.md): "mapped", every pfn at a fixed place
 * written by the streams in parallel (libmig/savefile), the default when
 * --streams N > 1 is given; "xl", for a simulated guest its sequential
 * save file (XENMIG-SIM-SAVE1), the default otherwise, so that a save
 * without options is the one stock tools read.
 *
 * The options are migrate's (migrate_request_parse), FILE standing where
 * migrate's HOST does; the run is migrate's (migrate_run).  The data
 * streams run to a child on 127.0.0.1 and are plain unless --cipher asks
 * for sealed ones (save_resolve_defaults).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "migrate_source.h"
#include "subcommands.h"

int save_resolve_defaults(struct migrate_request *req)
{
    /* The data never leaves this host and ends up plain in FILE: sealing
     * it buys nothing and, where AES-NI is missing, lengthens the pause. */
    if (!req->cipher_given)
        req->opts.encrypt = false;
    if (!req->save_format) {
        req->save_format = req->streams_given && req->opts.streams > 1 ? "mapped" : "xl";
        return 0;
    }
    if (!strcmp(req->save_format, "xl") || !strcmp(req->save_format, "mapped"))
        return 0;
    fprintf(stderr, "%s save: --format '%s': use 'xl' (a sequential file) or 'mapped' "
            "(a fixed place per page, written by the streams in parallel)\n",
            xl_ext_prog, req->save_format);
    return XL_EXT_EXIT_USAGE;
}

int cmd_save(int argc, char **argv)
{
    struct migrate_request req;
    int sim = 0, rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sim"))
            sim = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            xl_ext_print_usage(stdout, "save");
            return XL_EXT_EXIT_OK;
        }
    }
    if (!sim)
        return save_xen(argc, argv);
    if (argc < 3 || argv[argc - 1][0] == '-') {
        fprintf(stderr, "%s save: give the save FILE last; run '%s help save'\n",
                xl_ext_prog, xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    migrate_request_init(&req);
    rc = migrate_request_parse(argc, argv, &req);   /* migrate's options */
    if (rc != MIGRATE_PARSED)
        return rc == MIGRATE_STOCK_XL ? XL_EXT_EXIT_USAGE : rc;   /* (--sim: never) */
    rc = save_resolve_defaults(&req);
    if (rc)
        return rc;
    req.save_path = argv[argc - 1];
    req.host = "localhost";
    req.ssh_command = NULL;
    return migrate_run(&req);
}
