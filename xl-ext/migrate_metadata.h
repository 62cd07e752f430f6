/*
 * migrate_metadata.h: the members `xl-ext migrate` adds to a Xen
 * domain's prologue metadata for the destination's pre-flight (read back
 * by migrate_xen.c on the other side).  No I/O here.
 */
#ifndef XENMIG_XL_EXT_MIGRATE_METADATA_H
#define XENMIG_XL_EXT_MIGRATE_METADATA_H

/*
 * JSON object members without the braces: "features":"HEX", then
 * "cpuid_baseline":"NAME" and "gpu_baseline":"NAME" for each name that is
 * not NULL.  The names are written as they are: one holding '"' or '\'
 * is not a name (levels, clusters and GPU baselines never hold them) and
 * is refused with MIG_EINVAL quoting it.  On success *out is malloc'ed,
 * owned by the caller; on failure it is NULL.
 */
int migrate_metadata_members(const char *features_hex, const char *cpuid_baseline,
                             const char *gpu_baseline, char **out);

#endif /* XENMIG_XL_EXT_MIGRATE_METADATA_H */
