#include "config.h"
/*
 * lab-guest: the workload that runs inside the lab's domU (and, for timing
 * the phases, inside dom0).
 *
 *   lab-guest heartbeat [--tick-ms N] [--report-ms N] [--output PATH]
 *                       [--dirty-mib-per-s R] [--working-set-mib W]
 *                       [--duration-ms D]
 *   lab-guest now       print CLOCK_MONOTONIC in seconds (9 decimals)
 *   lab-guest count FILE   copy stdin to stdout; at the end write the
 *                       number of bytes copied to FILE (the lab counts the
 *                       bytes of stock xl's migration stream with it)
 *
 * heartbeat: wakes every tick (default 2 ms), reads CLOCK_BOOTTIME and
 * keeps, in the guest, the largest gap between consecutive ticks. Every
 * report period (default 100 ms) it writes one line
 *
 *   HB boot=<8 hex> seq=<ticks> gap_max_us=<largest gap> t_ms=<boottime>
 *      dirtied_mib=<total> dropped=<lines not written>
 *
 * where gap_max_us covers every tick since the previous line that was
 * written. Writes are non-blocking: when the console is slow (dom0 busy,
 * console not yet connected after a migration) a line is kept pending and
 * the gap keeps accumulating, so console back-pressure neither stalls the
 * heartbeat nor loses the largest gap. CLOCK_BOOTTIME includes the time a
 * Xen guest spends suspended (save, migration stop-and-copy), so the largest
 * gap is the guest-observed downtime.
 *
 * With --dirty-mib-per-s the same loop writes one byte into each page of a
 * working set of --working-set-mib MiB, round robin, at that rate.
 *
 * This program must never block on its output and never allocate in the
 * tick loop; it trusts no option value it has not range-checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_BYTES 4096u
#define LINE_BYTES 256

struct heartbeat_options {
    unsigned tick_ms;
    unsigned report_ms;
    unsigned dirty_mib_per_s;
    unsigned working_set_mib;
    unsigned duration_ms;          /* 0 = forever */
    const char *output_path;       /* NULL = stdout */
};

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec now;

    if (clock_gettime(clock, &now) != 0)
        clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: lab-guest heartbeat [--tick-ms N] [--report-ms N] [--output PATH]\n"
            "                 [--dirty-mib-per-s R] [--working-set-mib W] [--duration-ms D]\n"
            "       lab-guest now\n"
            "       lab-guest count FILE\n");
}

/* Parse "VALUE" of OPTION into *out within [min, max]; 0 on success. */
static int parse_unsigned(const char *option, const char *value,
                          unsigned min, unsigned max, unsigned *out)
{
    char *end;
    unsigned long parsed;

    if (!value) {
        fprintf(stderr, "lab-guest: %s needs a value\n", option);
        return -1;
    }
    errno = 0;
    parsed = strtoul(value, &end, 10);
    if (errno || end == value || *end || parsed < min || parsed > max) {
        fprintf(stderr, "lab-guest: %s '%s': expected a whole number from %u to %u\n",
                option, value, min, max);
        return -1;
    }
    *out = (unsigned)parsed;
    return 0;
}

static void read_boot_id(char out[9])
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    size_t got = 0;

    if (f) {
        got = fread(out, 1, 8, f);
        fclose(f);
    }
    if (got != 8)
        memcpy(out, "unknown_", 8);
    out[8] = '\0';
}

static int run_heartbeat(const struct heartbeat_options *options)
{
    char boot_id[9];
    char line[LINE_BYTES];
    size_t pending_offset = 0, pending_length = 0;
    uint8_t *working_set = NULL;
    size_t working_set_pages = 0, next_page = 0;
    double pages_owed = 0.0, pages_per_ns = 0.0;
    uint64_t dirtied_pages = 0, seq = 0, dropped = 0;
    uint64_t start, previous, last_report, gap_max = 0;
    struct timespec tick = {
        .tv_sec = options->tick_ms / 1000,
        .tv_nsec = (long)(options->tick_ms % 1000) * 1000000L,
    };
    int fd, rc;

    read_boot_id(boot_id);
    if (options->output_path) {
        fd = open(options->output_path, O_WRONLY | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
            fprintf(stderr, "lab-guest: cannot open output '%s': %s\n",
                    options->output_path, strerror(errno));
            rc = 1;
            goto out;
        }
    } else {
        fd = STDOUT_FILENO;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }

    if (options->dirty_mib_per_s && options->working_set_mib) {
        size_t bytes = (size_t)options->working_set_mib << 20;

        working_set = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (working_set == MAP_FAILED) {
            working_set = NULL;
            fprintf(stderr, "lab-guest: cannot map a working set of %u MiB: %s\n",
                    options->working_set_mib, strerror(errno));
            rc = 1;
            goto out;
        }
        working_set_pages = bytes / PAGE_BYTES;
        pages_per_ns = (double)options->dirty_mib_per_s * (1u << 20) / PAGE_BYTES / 1e9;
    }

    start = previous = last_report = clock_ns(CLOCK_BOOTTIME);
    for (;;) {
        uint64_t now, gap;

        nanosleep(&tick, NULL);
        now = clock_ns(CLOCK_BOOTTIME);
        gap = now - previous;
        previous = now;
        seq++;
        if (gap > gap_max)
            gap_max = gap;

        if (working_set) {
            /* Owe pages for the time that passed, but never more than a
             * tenth of a second's worth: after a long pause the loop goes
             * on at the rate instead of bursting. */
            pages_owed += pages_per_ns * (double)gap;
            if (pages_owed > pages_per_ns * 1e8)
                pages_owed = pages_per_ns * 1e8;
            while (pages_owed >= 1.0) {
                working_set[next_page * PAGE_BYTES] = (uint8_t)seq;
                next_page = (next_page + 1) % working_set_pages;
                dirtied_pages++;
                pages_owed -= 1.0;
            }
        }

        if (pending_length == 0 && now - last_report >= options->report_ms * 1000000ull) {
            int length = snprintf(line, sizeof(line),
                                  "HB boot=%s seq=%" PRIu64 " gap_max_us=%" PRIu64
                                  " t_ms=%" PRIu64 " dirtied_mib=%" PRIu64
                                  " dropped=%" PRIu64 "\n",
                                  boot_id, seq, gap_max / 1000, now / 1000000,
                                  dirtied_pages * PAGE_BYTES >> 20, dropped);
            if (length > 0 && length < (int)sizeof(line)) {
                pending_offset = 0;
                pending_length = (size_t)length;
                gap_max = 0;
            }
            last_report = now;
        }
        if (pending_length) {
            ssize_t written = write(fd, line + pending_offset, pending_length);

            if (written > 0) {
                pending_offset += (size_t)written;
                pending_length -= (size_t)written;
            } else if (written < 0 && errno != EAGAIN && errno != EINTR) {
                /* The console went away: count it and drop the line. */
                dropped++;
                pending_length = 0;
            }
        }

        if (options->duration_ms && now - start >= options->duration_ms * 1000000ull)
            break;
    }
    /* Flush a last pending line (blocking is fine now) so a bounded run
     * always reports its final window. */
    if (pending_length) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        if (write(fd, line + pending_offset, pending_length) < 0)
            dropped++;
    }
    rc = 0;

out:
    if (working_set)
        munmap(working_set, working_set_pages * PAGE_BYTES);
    if (options->output_path && fd >= 0)
        close(fd);
    return rc;
}

/*
 * count: stdin to stdout, then the byte count into path.  Exit 0 at the
 * end of stdin, 1 when reading, writing or the count file fails (what was
 * copied so far is still counted).
 */
static int run_count(const char *path)
{
    static char buf[65536];
    unsigned long long total = 0;
    int rc = 0;
    FILE *f;

    for (;;) {
        ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
        ssize_t done = 0;

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fprintf(stderr, "lab-guest count: reading stdin: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        if (got == 0)
            break;
        while (done < got) {
            ssize_t put = write(STDOUT_FILENO, buf + done, (size_t)(got - done));

            if (put < 0 && errno == EINTR)
                continue;
            if (put < 0) {
                fprintf(stderr, "lab-guest count: writing stdout: %s\n", strerror(errno));
                rc = 1;
                break;
            }
            done += put;
        }
        total += (unsigned long long)done;
        if (rc)
            break;
    }
    f = fopen(path, "w");
    if (!f || fprintf(f, "%llu\n", total) < 0 || fclose(f) != 0) {
        fprintf(stderr, "lab-guest count: cannot write the count to '%s': %s\n", path,
                strerror(errno));
        return 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct heartbeat_options options = {
        .tick_ms = 2, .report_ms = 100, .dirty_mib_per_s = 0,
        .working_set_mib = 0, .duration_ms = 0, .output_path = NULL,
    };
    int i;

    if (argc >= 2 && strcmp(argv[1], "now") == 0) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);

        printf("%" PRIu64 ".%09" PRIu64 "\n", now / 1000000000u, now % 1000000000u);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "count") == 0) {
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        return run_count(argv[2]);
    }
    if (argc < 2 || strcmp(argv[1], "heartbeat") != 0) {
        usage(stderr);
        return 2;
    }
    for (i = 2; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;

        if (strcmp(argv[i], "--tick-ms") == 0)
            bad = parse_unsigned(argv[i], value, 1, 1000, &options.tick_ms);
        else if (strcmp(argv[i], "--report-ms") == 0)
            bad = parse_unsigned(argv[i], value, 1, 60000, &options.report_ms);
        else if (strcmp(argv[i], "--dirty-mib-per-s") == 0)
            bad = parse_unsigned(argv[i], value, 0, 100000, &options.dirty_mib_per_s);
        else if (strcmp(argv[i], "--working-set-mib") == 0)
            bad = parse_unsigned(argv[i], value, 0, 1u << 20, &options.working_set_mib);
        else if (strcmp(argv[i], "--duration-ms") == 0)
            bad = parse_unsigned(argv[i], value, 0, 86400000u, &options.duration_ms);
        else if (strcmp(argv[i], "--output") == 0 && value) {
            options.output_path = value;
            bad = 0;
        } else {
            fprintf(stderr, "lab-guest: unknown option or missing value: '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (bad)
            return 2;
        i++;
    }
    if (options.dirty_mib_per_s && !options.working_set_mib) {
        fprintf(stderr, "lab-guest: --dirty-mib-per-s needs --working-set-mib\n");
        return 2;
    }
    return run_heartbeat(&options);
}
