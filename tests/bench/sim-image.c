/*
 * sim-image.c: write the memory a simulated guest starts with to a file,
 * so that another migrator (scripts/bench-peer: QEMU, a raw sender) can
 * move the very bytes `xl-ext migrate --sim` moves.
 *
 *   sim-image FILL MIB [SEED] FILE
 *
 * FILL is zero, random or realistic (mig_sim.h); the guest is
 * created as `xl-ext migrate --sim --sim-fill FILL --sim-memory MIBM`
 * creates it (seed 1 unless given) and each page is written in pfn
 * order.  This is a benchmark helper, not a test.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_error.h"
#include "mig_sim.h"

static int parse_fill(const char *name, enum mig_sim_fill *fill)
{
    static const char *const names[] = { "zero", "random", "realistic" };

    for (unsigned int i = 0; i < 3; i++) {
        if (!strcmp(name, names[i])) {
            *fill = (enum mig_sim_fill)i;
            return 0;
        }
    }
    fprintf(stderr, "sim-image: fill '%s': use zero, random or realistic\n", name);
    return -1;
}

int main(int argc, char **argv)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest = NULL;
    const char *path = argv[argc - 1];
    FILE *out = NULL;
    int rc = 1;

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: sim-image zero|random|realistic MIB [SEED] FILE\n");
        return 2;
    }
    if (parse_fill(argv[1], &options.fill))
        return 2;
    options.memory_bytes = strtoull(argv[2], NULL, 0) << 20;
    if (argc == 5)
        options.seed = strtoull(argv[3], NULL, 0);
    options.nr_vcpus = 1;
    if (mig_sim_guest_create(&options, &guest)) {
        fprintf(stderr, "sim-image: cannot create the guest: %s\n", mig_error_last());
        return mig_error_last_code() == MIG_EUNSUPP ? 77 : 1;
    }
    out = fopen(path, "wb");
    if (!out) {
        fprintf(stderr, "sim-image: cannot create '%s': %s\n", path, strerror(errno));
        goto out;
    }
    for (uint64_t pfn = 0; pfn < mig_sim_guest_nr_pfns(guest); pfn++) {
        const void *data;
        size_t length;

        if (mig_sim_guest_page(guest, pfn, &data, &length) ||
            fwrite(data, 1, length, out) != length) {
            fprintf(stderr, "sim-image: cannot write pfn %" PRIu64 " to '%s': %s\n", pfn,
                    path, strerror(errno));
            goto out;
        }
    }
    if (fclose(out)) {
        out = NULL;
        fprintf(stderr, "sim-image: cannot write '%s': %s\n", path, strerror(errno));
        goto out;
    }
    out = NULL;
    rc = 0;
out:
    if (out)
        fclose(out);
    mig_sim_guest_destroy(guest);
    return rc;
}
