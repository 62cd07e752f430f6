/*
 * domain_record.h: where `xl-ext create` records a domain's baselines and
 * where `cpuid-policy check DOMAIN` reads them: xenstore keys under
 * /local/domain/DOMID/xenmig/ (cpuid_baseline, cpuid_featureset,
 * gpu_baseline), and the same keys as files under
 * XENMIG_STATE_DIR/domain-UUID/ (default /var/lib/xenmig; the environment
 * variable XENMIG_STATE_DIR overrides it), which outlive the domid: xl
 * save/restore keeps a domain's UUID.  Plus the lookup of a domain by name,
 * and the list of every recorded domain (cluster relevel).  Used only by the
 * cpuid-policy room's commands; needs a Xen host (libxenstore).
 */
#ifndef XENMIG_DOMAIN_RECORD_H
#define XENMIG_DOMAIN_RECORD_H

#include <xenstore.h>

/* The domid of the domain named `name`; -1 with mig_error_last() set if none. */
long domain_record_find_domid(struct xs_handle *xs, const char *name);

/*
 * Write /local/domain/DOMID/xenmig/KEY = value and the file record by the
 * domain's UUID: 0 or MIG_EIO (message set).
 */
int domain_record_write(struct xs_handle *xs, long domid, const char *key, const char *value);

/*
 * Read /local/domain/DOMID/xenmig/KEY, or else the file record of the
 * domain's UUID: a malloc'ed NUL-terminated string the caller frees, or
 * NULL when absent (or longer than 4 KiB: refused).
 */
char *domain_record_read(struct xs_handle *xs, long domid, const char *key);

/* The domain's type as libxl records it ("pv", "pvh", "hvm"); "hvm" if unknown. */
const char *domain_record_type(struct xs_handle *xs, long domid);

/* The directory of the file records: $XENMIG_STATE_DIR, else /var/lib/xenmig. */
const char *domain_record_state_dir(void);

/* A domain with a CPUID record, as `cpuid-policy cluster relevel` lists them. */
struct domain_record_entry {
    char name[128];             /* the running domain's name, else "domain-UUID" */
    char uuid[37];              /* "" when xenstore says none */
    char *cpuid_baseline;       /* malloc'ed; NULL: not recorded */
    char *cpuid_featureset;     /* malloc'ed; NULL: not recorded */
};

/*
 * Every domain with a recorded cpuid_baseline or cpuid_featureset: the
 * running ones in xenstore (xs NULL: none), then the file records under
 * dir (NULL: domain_record_state_dir(), which may not exist: no records)
 * of UUIDs not running (saved or stopped domains; a record outlives its
 * domain).  *entries_out is a new array of *count_out entries (the caller
 * frees it with domain_record_entries_free()).  Returns 0, MIG_EIO when a
 * `dir` given cannot be read (naming it), MIG_ENOMEM.
 */
int domain_record_list(struct xs_handle *xs, const char *dir,
                       struct domain_record_entry **entries_out, unsigned int *count_out);
void domain_record_entries_free(struct domain_record_entry *entries, unsigned int count);

#endif /* XENMIG_DOMAIN_RECORD_H */
