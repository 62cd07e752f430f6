/*
 * fuzz_cpuid_libxl.c: libFuzzer target of cpuid_featureset_parse_libxl()
 * (libxl's cpuid= syntax), with and without a host featureset.  Whatever
 * it accepts must be closed under Xen's dependencies.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cpuid_featureset host, fs;
    char *text = malloc(size + 1);

    if (!text)
        return 0;
    memset(&host, 0xff, sizeof(host));
    cpuid_featureset_close(&host);
    memcpy(text, data, size);
    text[size] = '\0';
    if (cpuid_featureset_parse_libxl(text, &host, &fs) == 0 && cpuid_featureset_close(&fs))
        abort();
    if (cpuid_featureset_parse_libxl(text, NULL, &fs) == 0 && cpuid_featureset_close(&fs))
        abort();
    free(text);
    return 0;
}
