/*
 * fuzz_gpu_levels.c: libFuzzer target for the GPU level parsers: the input
 * as a levels file, and as a gpu_baseline and a GL_VERSION string checked
 * against the shipped table.  Must never crash or leak.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cpuid_gpu_level_table *shipped;
    cpuid_gpu_level_table *table = NULL;
    struct cpuid_gpu_requirement requirement;
    char text[256];
    int major, minor;

    if (!shipped && cpuid_gpu_level_table_load(NULL, &shipped))
        abort();
    if (cpuid_gpu_level_table_parse((const char *)data, size, "fuzz", &table) == 0) {
        if (!cpuid_gpu_level_table_names(table)[0])
            abort();
        cpuid_gpu_level_table_free(table);
    }
    memcpy(text, data, size < sizeof(text) - 1 ? size : sizeof(text) - 1);
    text[size < sizeof(text) - 1 ? size : sizeof(text) - 1] = '\0';
    if (cpuid_gpu_requirement_parse(shipped, text, &requirement) == 0) {
        char formatted[CPUID_GPU_BASELINE_TEXT_MAX];
        struct cpuid_gpu_requirement again;

        /* a parsed baseline formats to text that parses to the same requirement */
        cpuid_gpu_requirement_format(&requirement, formatted, sizeof(formatted));
        if (cpuid_gpu_requirement_parse(shipped, formatted, &again) ||
            again.graphics_level != requirement.graphics_level ||
            again.compute_major != requirement.compute_major ||
            again.compute_minor != requirement.compute_minor)
            abort();
    }
    cpuid_gpu_gl_version_parse(text, &major, &minor);
    return 0;
}
