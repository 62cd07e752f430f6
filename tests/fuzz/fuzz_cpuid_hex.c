/*
 * fuzz_cpuid_hex.c: libFuzzer target of cpuid_featureset_parse_hex().
 * Whatever it accepts must print back (19 words) and reparse equal.
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
    char hex[CPUID_FEATURESET_HEX_LEN], *text = malloc(size + 1);

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (cpuid_featureset_parse_hex(text, CPUID_PARSE_ALLOW_SHORT, &fs) == 0) {
        cpuid_featureset_format_hex(&fs, hex);
        if (strlen(hex) != CPUID_FEATURESET_HEX_LEN - 1 ||
            cpuid_featureset_parse_hex(hex, 0, &back) || memcmp(&fs, &back, sizeof(fs)))
            abort();
    }
    free(text);
    return 0;
}
