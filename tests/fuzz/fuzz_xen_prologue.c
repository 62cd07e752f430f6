/*
 * fuzz_xen_prologue.c: libFuzzer target of mig_xen_prologue_parse().
 * Whatever it accepts must rebuild byte for byte with
 * mig_xen_prologue_build(); its views must lie inside the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mig_xen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const void *head;
    size_t head_len, len;
    char *meta;
    void *blob;

    if (mig_xen_prologue_parse(data, size, &meta, &head, &head_len))
        return 0;
    if ((const uint8_t *)head < data || (const uint8_t *)head + head_len != data + size)
        abort();
    if (mig_xen_prologue_build(meta, head, head_len, &blob, &len) || len != size ||
        memcmp(blob, data, size))
        abort();
    free(blob);
    free(meta);
    return 0;
}
