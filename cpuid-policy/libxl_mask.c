/*
 * libxl_mask.c: the libxl cpuid= string that levels a host's policy down
 * to a baseline ("host,avx512f=0,..."), and the comparison of a running
 * domain's policy with its baseline.
 *
 * What is masked: a named level constrains only the ISA bits named levels
 * talk about (cpuid_level_set_universe); bits outside (tsc, apic,
 * speculation controls...) keep the host's value.  A cluster or hex
 * baseline is a whole featureset and constrains every bit.
 *
 * Names: libxl 4.17 (from 4.17.2 on) takes every Xen feature name (the
 * lower-case, '-' spelling of cpufeatureset.h, generated into libxl as
 * INIT_FEATURE_NAMES) after its own older table of names, which wins.  One
 * name of that older table means something else than Xen's feature of the
 * same name: "clflush" is the 8-bit CLFLUSH line size field of leaf 1 EBX
 * there, so the CLFLUSH feature bit is written "clfsh" (libxl's name for
 * leaf 1 EDX bit 19).  A bit without a Xen name cannot be written at all.
 * This file must never leave a feature out of the string silently.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"
#include "mig_error.h"

/* The name libxl 4.17 gives feature bit `index`, NULL if it has none. */
static const char *libxl_feature_name(unsigned int index)
{
    const struct cpuid_feature_info *info = cpuid_feature_by_index(index);

    if (!info || !info->xen_defined)
        return NULL;
    if (!strcmp(info->name, "clflush"))
        return "clfsh";
    return info->name;
}

bool cpuid_feature_is_xen_controlled(unsigned int index)
{
    const struct cpuid_feature_info *info = cpuid_feature_by_index(index);

    return info && info->xen_defined && strchr(info->attributes, '!');
}

int cpuid_libxl_mask_string(const struct cpuid_featureset *host,
                            const struct cpuid_featureset *baseline,
                            const struct cpuid_featureset *constrained, char **out)
{
    struct cpuid_featureset extra;
    char *text = NULL, unnamed[256] = "";
    size_t size = 0, used = 0;
    unsigned int nr_unnamed = 0;
    FILE *f;
    int rc;

    cpuid_featureset_subtract(&extra, host, baseline);
    cpuid_featureset_drop_os_state(&extra);     /* Xen decides them in a guest */
    if (constrained)
        cpuid_featureset_intersect(&extra, &extra, constrained);
    f = open_memstream(&text, &size);
    if (!f)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    fputs("host", f);
    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++) {
        const char *name;

        if (!cpuid_featureset_test(&extra, i))
            continue;
        name = libxl_feature_name(i);
        if (name) {
            fprintf(f, ",%s=0", name);
            continue;
        }
        nr_unnamed++;
        if (used < sizeof(unnamed))
            used += (size_t)snprintf(unnamed + used, sizeof(unnamed) - used, "%sw%ub%u",
                                     used ? ", " : "", i / 32, i % 32);
    }
    if (fclose(f)) {
        free(text);
        return mig_error_set(MIG_ENOMEM, "out of memory");
    }
    if (nr_unnamed) {
        rc = mig_error_set(MIG_EUNSUPP, "the host offers %u feature bit(s) beyond the baseline "
                           "that libxl's cpuid= syntax cannot name, so they cannot be masked: "
                           "%s (word/bit of the featureset); level this domain with a "
                           "baseline that includes them, or on a host without them",
                           nr_unnamed, unnamed);
        free(text);
        return rc;
    }
    *out = text;
    return 0;
}

int cpuid_domain_policy_excess(const struct cpuid_featureset *domain,
                               const struct cpuid_featureset *baseline,
                               const struct cpuid_featureset *constrained,
                               struct cpuid_featureset *excess_out,
                               struct cpuid_featureset *xen_controlled_out)
{
    struct cpuid_featureset excess, controlled = { { 0 } };

    cpuid_featureset_subtract(&excess, domain, baseline);
    if (constrained)
        cpuid_featureset_intersect(&excess, &excess, constrained);
    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++)
        if (cpuid_featureset_test(&excess, i) && cpuid_feature_is_xen_controlled(i)) {
            cpuid_featureset_clear(&excess, i);
            cpuid_featureset_set(&controlled, i);
        }
    if (excess_out)
        *excess_out = excess;
    if (xen_controlled_out)
        *xen_controlled_out = controlled;
    if (cpuid_featureset_is_empty(&excess))
        return 0;
    return mig_error_set(MIG_ECOMPAT, "the domain's policy has %u feature(s) beyond its "
                         "baseline", cpuid_featureset_count(&excess));
}
