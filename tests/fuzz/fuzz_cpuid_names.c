/*
 * fuzz_cpuid_names.c: libFuzzer target of cpuid_featureset_parse_names().
 * Whatever it accepts must format back to names that parse to the same
 * bits.  Never reads past the input: it works on a NUL-terminated copy.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cpuid_featureset fs, back;
    char *text = malloc(size + 1), *names = NULL;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (cpuid_featureset_parse_names(text, &fs) == 0) {
        if (cpuid_featureset_format_names(&fs, CPUID_NAMES_XEN, ",", &names) ||
            cpuid_featureset_parse_names(names, &back) || memcmp(&fs, &back, sizeof(fs)))
            abort();
    }
    free(names);
    free(text);
    return 0;
}
