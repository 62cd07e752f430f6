/*
 * migrate_metadata.c: the pre-flight members of a Xen domain's prologue
 * metadata (migrate_metadata.h).  Must never let a recorded name that
 * could break the JSON through.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_error.h"
#include "migrate_metadata.h"

static int check_name(const char *what, const char *name)
{
    if (name && strpbrk(name, "\"\\"))
        return mig_error_set(MIG_EINVAL, "recorded %s '%s' is not a name", what, name);
    return 0;
}

int migrate_metadata_members(const char *features_hex, const char *cpuid_baseline,
                             const char *gpu_baseline, char **out)
{
    int rc;

    *out = NULL;
    rc = check_name("baseline", cpuid_baseline);
    if (!rc)
        rc = check_name("GPU baseline", gpu_baseline);
    if (rc)
        return rc;
    if (asprintf(out, "\"features\":\"%s\"%s%s%s%s%s%s", features_hex,
                 cpuid_baseline ? ",\"cpuid_baseline\":\"" : "",
                 cpuid_baseline ? cpuid_baseline : "", cpuid_baseline ? "\"" : "",
                 gpu_baseline ? ",\"gpu_baseline\":\"" : "", gpu_baseline ? gpu_baseline : "",
                 gpu_baseline ? "\"" : "") < 0) {
        *out = NULL;
        return mig_error_set(MIG_ENOMEM, "out of memory");
    }
    return 0;
}
