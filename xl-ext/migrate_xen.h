/*
 * migrate_xen.h: what `xl-ext migrate-receive --xen` adds around libmig's
 * Xen destination: the pre-flight check of the incoming domain's CPUID
 * featureset against this host (before xl migrate-receive is started),
 * and the recording of the domain's baselines once it runs here.
 */
#ifndef XENMIG_XL_EXT_MIGRATE_XEN_H
#define XENMIG_XL_EXT_MIGRATE_XEN_H

/* Argument of migrate_xen_preflight. */
struct migrate_xen_preflight {
    /*
     * Host description (`xl-ext cpuid-policy host` JSON) to check against,
     * or NULL: probe this host (cpuid_host_probe).  Borrowed.
     */
    const char *host_json;
};

/*
 * The pre-flight callback of struct mig_xen_dest_options (arg: a struct
 * migrate_xen_preflight).  Reads "features" (and "domain", "type") from
 * the prologue's metadata; 0 when this host's policy for the domain's type
 * holds every feature; MIG_ECOMPAT with "destination HOST cannot run domain
 * NAME: missing features: a, b" otherwise; MIG_EFORMAT for metadata that
 * is not a JSON object with a valid "features" member; MIG_EIO when the
 * host cannot be described.  Never starts or touches a domain.
 */
int migrate_xen_preflight(void *arg, const char *meta_json);

/*
 * After a successful migration: record the metadata's "cpuid_baseline",
 * "gpu_baseline" (and "cpuid_featureset" if present) for the domain named
 * in it, as `xl-ext create` does (domain_record.h).  Best effort: prints a
 * warning to stderr on failure and returns nothing.  Nothing is done when
 * the metadata carries no baseline.
 */
void migrate_xen_record_baselines(const char *meta_json);

struct cpuid_featureset;

/*
 * Keep only the features Xen names, in place: unnamed bits are mirrors
 * (AMD's copy of leaf 1 in 0x80000001.edx) that a host's max policy leaves
 * out.  What a domain needs, as the migration's source sends it and as
 * restore's pre-flight checks a save file's policy.
 */
void migrate_xen_named_features_only(struct cpuid_featureset *fs);

#endif /* XENMIG_XL_EXT_MIGRATE_XEN_H */
