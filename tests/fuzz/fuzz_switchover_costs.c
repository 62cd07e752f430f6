/*
 * fuzz_switchover_costs.c: libFuzzer target for the reader of xl-ext's
 * switchover cost store (xl-ext/switchover_costs.c): the input is the
 * store's file, written into a private XENMIG_STATE_DIR, then read for
 * every key.  Whatever the file holds, a key is either refused or comes
 * back with figures inside the store's bounds; never a crash or a leak.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "switchover_costs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char *xl_ext_prog = "xl-ext";     /* xl-ext.c's, for the warnings */

static const char *const keys[] = {
    "sim", "xen-pv", "xen-pvh", "xen-hvm",
    "sim-save", "xen-pv-save", "xen-pvh-save", "xen-hvm-save",
};

static int in_bounds(double ms)
{
    return isfinite(ms) && ms >= 0 && ms <= SWITCHOVER_COSTS_MAX_MS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[] = "/tmp/fuzz-switchover-costs-XXXXXX";
    static int ready;
    char path[4096];
    FILE *f;

    if (!ready) {
        if (!mkdtemp(dir) || setenv("XENMIG_STATE_DIR", dir, 1))
            abort();
        ready = 1;
    }
    switchover_costs_path(path, sizeof(path));
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct switchover_costs c;

        if (!switchover_costs_lookup(keys[i], &c))
            continue;
        if (!in_bounds(c.median.pause_ms) || !in_bounds(c.median.state_ms) ||
            !in_bounds(c.median.destination_ms) || !in_bounds(c.median.resume_ms) ||
            !isfinite(c.fixed_ms) || c.fixed_ms < 0)
            abort();
    }
    return 0;
}
