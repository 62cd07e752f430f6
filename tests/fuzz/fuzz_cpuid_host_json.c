/*
 * fuzz_cpuid_host_json.c: libFuzzer target of the JSON readers: host files
 * (cpuid_host_parse) and cluster files (cpuid_cluster_parse).  An accepted
 * host file must write back and reread with the same featuresets.  The
 * input is passed with its length, not NUL-terminated.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cpuid_host *host = NULL, *back = NULL;
    struct cpuid_cluster *cluster = NULL;
    char *json = NULL;

    if (cpuid_host_parse((const char *)data, size, "fuzz", &host) == 0) {
        if (cpuid_host_to_json(host, &json) ||
            cpuid_host_parse(json, strlen(json), "fuzz-again", &back))
            abort();
        for (unsigned int i = 0; i < CPUID_HOST_POLICY_COUNT; i++)
            if (memcmp(cpuid_host_featureset(host, i), cpuid_host_featureset(back, i),
                       sizeof(struct cpuid_featureset)))
                abort();
    }
    if (cpuid_cluster_parse((const char *)data, size, "fuzz", &cluster) == 0)
        cpuid_cluster_free(cluster);
    free(json);
    cpuid_host_free(back);
    cpuid_host_free(host);
    return 0;
}
