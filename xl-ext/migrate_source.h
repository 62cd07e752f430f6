/*
 * migrate_source.h: the source side of `xl-ext migrate` (and of `xl-ext
 * save --sim`): the request the command line is parsed into, and the one
 * call that runs it, with its two backends: the simulated guest
 * (migrate_sim_source.c) and a real domain (migrate_xen_source.c).
 *
 * As xl's main_migrate: cmd_migrate parses, migrate_run() starts the
 * receiver (`ssh HOST xl-ext migrate-receive ...`, HOST itself with -s "",
 * or this binary for a local HOST) and migrates over its stdin/stdout.
 */
#ifndef XENMIG_XL_EXT_MIGRATE_SOURCE_H
#define XENMIG_XL_EXT_MIGRATE_SOURCE_H

#include <stdbool.h>

#include "migrate_common.h"
#include "mig_migrate.h"
#include "mig_sim.h"

/* What a migration is asked to do; the strings are borrowed (argv). */
struct migrate_request {
    struct mig_migrate_options opts; /* the engine's options; data_host and the
                                        progress callback are the runner's */
    struct mig_sim_options sim;      /* --sim: the simulated guest */
    struct migrate_output out;       /* progress and summary (stdout) */
    bool use_sim;                    /* --sim */
    bool engine_xl;                  /* --engine xl */
    const char *domain;              /* DOMAIN (not with --sim) */
    const char *host;                /* HOST: where the receiver runs, or with
                                        -s "" the command that starts it */
    const char *ssh_command;         /* -s, or NULL: ssh */
    const char *save_path;           /* save: the local receiver writes the
                                        guest to this file; NULL: migrate */
    bool save;                       /* parse `save`'s arguments: DOMAIN FILE
                                        [CONFIG], xl save's -c and -p */
    bool checkpoint;                 /* save -c or -p: the domain runs on */
    bool checkpoint_paused;          /* save -p: ... paused */
    const char *save_format;         /* save: "xl" or "mapped" (--format; save
                                        resolves the default); migrate: NULL */
    bool streams_given;              /* --streams was on the command line */
    bool cipher_given;               /* --cipher was on the command line */
    const char *config_file;         /* -C, or NULL */
    const char *new_option;          /* the first xenmig-only option given, as
                                        typed ("--streams=3"), or NULL */
    const char *data_host;           /* --data-host, or NULL: HOST (127.0.0.1
                                        for a local HOST and with -s ""); the
                                        simulated guest always uses the latter */
    bool pause_after;                /* -p */
    bool preserve_domid;             /* -D */
    bool no_monitor;                 /* -e */
    bool debug;                      /* --debug */
};

/* Besides an XL_EXT_EXIT_* code, what parsing and running can answer. */
enum {
    MIGRATE_PARSED = -1,             /* the request is complete: run it */
    MIGRATE_STOCK_XL = -2,           /* hand the command to stock `xl migrate` */
};

/* The defaults of `xl-ext migrate` (1 GiB guest, 300 ms downtime target). */
void migrate_request_init(struct migrate_request *req);

/*
 * Parse `migrate [options] DOMAIN HOST` or `migrate --sim [options]
 * [LABEL] HOST` into *req (cmd_migrate.c).  Returns MIGRATE_PARSED;
 * MIGRATE_STOCK_XL for --engine xl; or the exit code to end with (0 after
 * -h, XL_EXT_EXIT_USAGE after a usage error, which is printed).
 */
int migrate_request_parse(int argc, char **argv, struct migrate_request *req);

/*
 * Run the migration req asks for: an XL_EXT_EXIT_* code, or
 * MIGRATE_STOCK_XL when the domain is one the engine does not take and no
 * xenmig option was given (the caller then execs stock xl).
 */
int migrate_run(const struct migrate_request *req);

/*
 * The two backends of migrate_run(), given its copy of the request (with
 * opts.data_host and out.tty set) and the receiver's shell command; same
 * return values.  Neither ever leaves the guest paused: the engine
 * resumes it on every failure before the destination was cleared.
 */
int migrate_sim_source_run(struct migrate_request *req, const char *receiver);
int migrate_xen_source_run(struct migrate_request *req, const char *receiver);

/*
 * `xl-ext save` of a real domain (save_xen.c): argv is save's; an
 * XL_EXT_EXIT_* code (it execs stock `xl save` for --engine xl).
 */
int save_xen(int argc, char **argv);

/*
 * A parsed save's defaults (cmd_save.c).  The file format: req->save_format
 * as --format gave it, else "mapped" when --streams N > 1 was given, else
 * "xl".  The streams: plain unless --cipher was given, since a save's
 * receiver is a child on this host listening on 127.0.0.1 (its streams
 * still prove the migration id the control pipe announced).  0, or
 * XL_EXT_EXIT_USAGE for another --format (printed).
 */
int save_resolve_defaults(struct migrate_request *req);

#endif /* XENMIG_XL_EXT_MIGRATE_SOURCE_H */
