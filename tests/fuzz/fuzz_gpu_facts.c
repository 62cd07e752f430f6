/*
 * fuzz_gpu_facts.c: libFuzzer target for reading GPU probe facts from JSON
 * (recorded probes, other hosts' dumps), then deriving levels and writing
 * the JSON again, which must read back to the same facts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cpuid_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cpuid_gpu_level_table *shipped;
    static struct cpuid_gpu_facts facts, again;
    struct cpuid_gpu_capability capability;
    json_object *json = NULL;
    const char *text;

    if (!shipped && cpuid_gpu_level_table_load(NULL, &shipped))
        abort();
    if (cpuid_gpu_facts_from_json_text((const char *)data, size, "fuzz", &facts))
        return 0;
    cpuid_gpu_capability_from_facts(shipped, &facts, &capability);
    if (cpuid_gpu_facts_to_json(&facts, &json))
        abort();
    text = json_object_to_json_string(json);
    if (cpuid_gpu_facts_from_json_text(text, strlen(text), "again", &again) ||
        memcmp(&facts, &again, sizeof(facts)))
        abort();
    json_object_put(json);
    return 0;
}
