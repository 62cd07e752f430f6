/*
 * page-compress-bench.c: how compressible a set of 4 KiB pages is, by LZ4
 * (LZ4_compress_default, one page at a time), for real memory and for the
 * sim guest's fills, so that MIG_SIM_FILL_REALISTIC can be compared with
 * what it imitates (docs/benchmarks.md, "Sim guest memory").  A benchmark,
 * not a test: never run by make check.
 *
 * Usage: page-compress-bench xl-save FILE|-         PAGE_DATA pages of an
 *                                                   xl save file (uncompressed)
 *        page-compress-bench pid PID                resident pages of a process
 *        page-compress-bench sim FILL [MIB [SEED]]  a new sim guest's memory
 *                                                   (FILL zero|random|realistic;
 *                                                   default 1024 MiB, seed 1)
 * Prints one line: pages, zero-page share, the mean compressed size of the
 * non-zero pages as a share of 4 KiB (a page that does not shrink counts
 * as 4 KiB: it would be sent raw), the share of non-zero pages that do not
 * shrink, the whole set's ratio (original / sent, zero pages sent as
 * nothing), and the non-zero pages by compressed size in quarters of a
 * page.  sim also prints the guest's creation time, wall and CPU (the
 * CPU time does not grow when other work shares the machine).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <lz4.h>

#include "mig_clock.h"
#include "mig_error.h"
#include "mig_sim.h"
#include "mig_stream.h"

struct tally {
    uint64_t pages, zero, not_shrinking, sent_bytes;
    uint64_t quarters[4];            /* non-zero pages by sent size */
};

static void tally_page(struct tally *t, const uint8_t *page)
{
    static const uint8_t zero[MIG_PAGE_SIZE];
    char out[LZ4_COMPRESSBOUND(MIG_PAGE_SIZE)];
    int n;

    t->pages++;
    if (!memcmp(page, zero, MIG_PAGE_SIZE)) {
        t->zero++;
        return;
    }
    n = LZ4_compress_default((const char *)page, out, MIG_PAGE_SIZE, (int)sizeof(out));
    if (n <= 0 || n >= MIG_PAGE_SIZE) {
        t->not_shrinking++;
        n = MIG_PAGE_SIZE;
    }
    t->sent_bytes += (uint64_t)n;
    t->quarters[(n - 1) / (MIG_PAGE_SIZE / 4)]++;
}

static void print_tally(const char *name, const struct tally *t)
{
    uint64_t nonzero = t->pages - t->zero, q;

    printf("%s: pages %" PRIu64 " zero %.1f%% nonzero-mean-size %.1f%% "
           "not-shrinking %.1f%% overall-ratio ", name, t->pages,
           t->pages ? 100.0 * t->zero / t->pages : 0.0,
           nonzero ? 100.0 * t->sent_bytes / (nonzero * MIG_PAGE_SIZE) : 0.0,
           nonzero ? 100.0 * t->not_shrinking / nonzero : 0.0);
    if (t->sent_bytes)
        printf("%.2f quarters", (double)t->pages * MIG_PAGE_SIZE / t->sent_bytes);
    else
        printf("n/a quarters");         /* all zero: nothing to send */
    for (q = 0; q < 4; q++)
        printf(" %.1f%%", nonzero ? 100.0 * t->quarters[q] / nonzero : 0.0);
    printf("\n");
}

static int tally_xl_save(const char *path, struct tally *t)
{
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_record record;
    struct mig_stream_body body;
    int fd = strcmp(path, "-") ? open(path, O_RDONLY) : 0, rc;
    uint32_t i;

    if (fd < 0) {
        fprintf(stderr, "cannot open '%s': %s\n", path, strerror(errno));
        return 2;
    }
    rc = mig_stream_reader_open_fd(&reader, fd, NULL);
    while (!rc && (rc = mig_stream_read_record(reader, &record)) == 0) {
        if (record.kind != MIG_STREAM_ITEM_RECORD ||
            record.layer != MIG_STREAM_LAYER_LIBXC ||
            record.type != MIG_LIBXC_PAGE_DATA)
            continue;
        rc = mig_stream_decode_body(&record, &body);
        for (i = 0; !rc && i < body.u.page_data.data_pages; i++)
            tally_page(t, (const uint8_t *)body.u.page_data.pages + (size_t)i * MIG_PAGE_SIZE);
    }
    mig_stream_reader_close(reader);
    if (fd)
        close(fd);
    if (rc < 0) {
        fprintf(stderr, "'%s': %s\n", path, mig_error_last());
        return 2;
    }
    return 0;
}

/* The present pages (pagemap bit 63) of one readable mapping. */
static void tally_mapping(int mem, int pagemap, uint64_t start, uint64_t end, struct tally *t)
{
    uint8_t page[MIG_PAGE_SIZE];
    uint64_t addr, entry;

    for (addr = start; addr < end; addr += MIG_PAGE_SIZE) {
        if (pread(pagemap, &entry, sizeof(entry), (off_t)(addr / MIG_PAGE_SIZE * 8))
            != sizeof(entry) || !(entry >> 63))
            continue;
        if (pread(mem, page, sizeof(page), (off_t)addr) == sizeof(page))
            tally_page(t, page);
    }
}

static int tally_process(const char *pid, struct tally *t)
{
    char path[64], line[512], perms[8], name[256];
    unsigned long long start, end;
    FILE *maps;
    int mem, pagemap;

    snprintf(path, sizeof(path), "/proc/%s/maps", pid);
    maps = fopen(path, "r");
    snprintf(path, sizeof(path), "/proc/%s/mem", pid);
    mem = open(path, O_RDONLY);
    snprintf(path, sizeof(path), "/proc/%s/pagemap", pid);
    pagemap = open(path, O_RDONLY);
    if (!maps || mem < 0 || pagemap < 0) {
        fprintf(stderr, "cannot read process '%s' (maps, mem, pagemap): %s\n", pid,
                strerror(errno));
        return 2;
    }
    while (fgets(line, sizeof(line), maps)) {
        name[0] = '\0';
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %255s", &start, &end, perms,
                   name) < 3 || perms[0] != 'r' || !strcmp(name, "[vvar]") ||
            !strcmp(name, "[vsyscall]"))
            continue;
        tally_mapping(mem, pagemap, start, end, t);
    }
    fclose(maps);
    close(mem);
    close(pagemap);
    return 0;
}

/* User and system time of this process so far, every thread's. */
static double cpu_seconds(void)
{
    struct rusage usage;

    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
           (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static int tally_sim(int argc, char **argv, struct tally *t)
{
    struct mig_sim_options options = MIG_SIM_OPTIONS_INIT;
    struct mig_sim_guest *guest = NULL;
    uint64_t started, pfn;
    double cpu;
    const void *data;
    size_t length;

    if (!strcmp(argv[2], "random"))
        options.fill = MIG_SIM_FILL_RANDOM;
    else if (!strcmp(argv[2], "realistic"))
        options.fill = MIG_SIM_FILL_REALISTIC;
    else if (strcmp(argv[2], "zero")) {
        fprintf(stderr, "fill '%s': use zero, random or realistic\n", argv[2]);
        return 2;
    }
    options.memory_bytes = (argc > 3 ? strtoull(argv[3], NULL, 0) : 1024) << 20;
    options.seed = argc > 4 ? strtoull(argv[4], NULL, 0) : 1;
    options.nr_vcpus = 1;
    cpu = cpu_seconds();
    started = mig_clock_ns();
    if (mig_sim_guest_create(&options, &guest)) {
        fprintf(stderr, "sim guest: %s\n", mig_error_last());
        return mig_error_last_code() == MIG_EUNSUPP ? 77 : 2;
    }
    printf("sim %s %" PRIu64 " MiB: created in %.3f s wall, %.3f s CPU (all "
           "threads)\n", argv[2], options.memory_bytes >> 20,
           (mig_clock_ns() - started) / 1e9, cpu_seconds() - cpu);
    for (pfn = 0; pfn < mig_sim_guest_nr_pfns(guest); pfn++) {
        mig_sim_guest_page(guest, pfn, &data, &length);
        tally_page(t, data);
    }
    mig_sim_guest_destroy(guest);
    return 0;
}

int main(int argc, char **argv)
{
    struct tally t = { 0 };
    int rc;

    if (argc >= 3 && !strcmp(argv[1], "xl-save"))
        rc = tally_xl_save(argv[2], &t);
    else if (argc >= 3 && !strcmp(argv[1], "pid"))
        rc = tally_process(argv[2], &t);
    else if (argc >= 3 && !strcmp(argv[1], "sim"))
        rc = tally_sim(argc, argv, &t);
    else {
        fprintf(stderr, "usage: %s xl-save FILE|- | pid PID | sim FILL [MIB [SEED]]\n",
                argv[0]);
        return 2;
    }
    if (!rc)
        print_tally(argv[1], &t);
    return rc;
}
