/*
 * migrate_xen_source.h: `xl-ext migrate` of a real domain (the Xen backend).
 */
#ifndef XL_EXT_MIGRATE_XEN_SOURCE_H
#define XL_EXT_MIGRATE_XEN_SOURCE_H

#include <stdbool.h>

#include "migrate_common.h"
#include "mig_migrate.h"

/* What cmd_migrate parsed (all borrowed). */
struct migrate_xen_params {
    const struct mig_migrate_options *opts;
    struct migrate_output *out;
    const char *domain;
    const char *host;
    const char *ssh_command;     /* -s, or NULL */
    const char *config_file;     /* -C, or NULL */
    const char *new_option;      /* the first xenmig-only option given, or NULL */
    const char *self;            /* this binary, for a local receiver */
    const char *data_host;       /* --data-host: where the data streams go, or NULL
                                    (HOST; 127.0.0.1 for localhost and -s "") */
    bool pause_after;            /* -p */
    bool preserve_domid;         /* -D */
    bool no_monitor;             /* -e */
    bool debug;
};

/*
 * Migrate p->domain; returns an XL_EXT_EXIT_* code, or -1 when the domain
 * is one the engine does not take and no xenmig option was given: the
 * caller then hands the command to stock xl.
 */
int migrate_xen_source_run(const struct migrate_xen_params *p);

#endif /* XL_EXT_MIGRATE_XEN_SOURCE_H */
