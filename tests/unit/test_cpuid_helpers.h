/*
 * test_cpuid_helpers.h: what the cpuid-policy room's Check suites share:
 * pointing the library at the source tree's data, and host descriptions
 * made from real CPUs of the corpus.  Test code only.
 */
#ifndef XENMIG_TEST_CPUID_HELPERS_H
#define XENMIG_TEST_CPUID_HELPERS_H

#include <check.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"

/*
 * Use the source tree's levels, libvirt data, CPU corpus and GPU levels
 * ($XENMIG_SRCDIR); the installed libvirt CPU map is read as usual.
 */
static inline void cpuid_test_use_source_data(void)
{
    static const char *const vars[][2] = {
        { "XENMIG_CPUID_LEVELS_DIR", "cpuid-policy/data/levels" },
        { "XENMIG_LIBVIRT_DATA_DIR", "cpuid-policy/data/libvirt" },
        { "XENMIG_CPUID_CORPUS", "cpuid-policy/data/cpus/corpus.txt" },
        { "XENMIG_GPU_LEVELS", "cpuid-policy/data/gpu-levels" },
    };
    const char *src = getenv("XENMIG_SRCDIR");
    char path[4096];

    for (unsigned int i = 0; src && i < sizeof(vars) / sizeof(vars[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", src, vars[i][1]);
        setenv(vars[i][0], path, 1);
    }
}

/* Whether l is one of libvirt's models (family "libvirt"), not a data file's level. */
static inline bool cpuid_test_is_libvirt(const struct cpuid_level *l)
{
    return !strcmp(l->family, "libvirt");
}

/*
 * A host description (source "native-cpuid", all three policies the CPU's
 * features) of corpus CPU `cpu_name`, named `hostname` (NULL: the CPU's
 * name).  The caller frees it with cpuid_host_free().
 */
static inline struct cpuid_host *cpuid_test_host_of(const struct cpuid_corpus *corpus,
                                                    const char *cpu_name, const char *hostname)
{
    const struct cpuid_corpus_cpu *c = cpuid_corpus_find(corpus, cpu_name);
    struct cpuid_host *h = NULL;

    ck_assert_msg(c != NULL, "CPU '%s' missing from the corpus", cpu_name);
    {
        struct cpuid_featureset p[CPUID_HOST_POLICY_COUNT] = { c->features, c->features,
                                                               c->features };

        ck_assert_int_eq(cpuid_host_new(hostname ? hostname : c->name, "native-cpuid",
                                        c->vendor, c->family, c->model, c->stepping, p, &h), 0);
    }
    return h;
}

#endif /* XENMIG_TEST_CPUID_HELPERS_H */
