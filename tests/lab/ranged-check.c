#include "config.h"
/* xenctrl.h needs GNU C (its foreign headers), as in cpuid-policy/host.c */
#undef __STRICT_ANSI__
/*
 * ranged-check: the lab's dom0 proof of the ranged log-dirty harvest
 * (tests/lab/patches/xen-4.17-ranged-logdirty.patch, used through
 * libmig/backend/xen/ranged.c).
 *
 *   ranged-check DOMID [ROUNDS [CHUNK_PFNS]]     (defaults: 3, 32768)
 *
 * On a running HAP (PVH) guest it enables log-dirty mode, then each round
 *  1. sweeps the whole p2m with the ranged op, CHUNK_PFNS per call,
 *  2. hashes every RAM page of the guest (read-only foreign mappings),
 *     waits one second, hashes them again,
 *  3. sweeps again with the ranged op: every page whose contents changed
 *     between the two hashes was written after sweep 1 returned, so it
 *     must be reported dirty by sweep 3; one that is not is a lost write,
 *  4. waits one second and harvests the whole bitmap with stock CLEAN
 *     (which pauses the domain for the whole walk),
 * and finally switches log-dirty mode off again. It also checks that the
 * op refuses a range beyond the guest's memory (MIG_EINVAL, not "stock
 * Xen"). It prints
 *   RANGED-RESULT round=R ranged_calls=N chunk_pfns=C call_ms_min=...
 *       call_ms_median=... call_ms_max=... sweep_ms=... stock_clean_ms=...
 *       changed_pages=... reported_pages=... lost_writes=...
 *   RANGED-RESULT round=R calls_ms=T0,T1,...   (each call, in pfn order)
 *   RANGED-RESULT summary ... status=pass|fail
 * Exit: 0 pass, 1 fail (a lost write, no page changed so nothing was
 * proven, an op failed), 2 usage, 77 this Xen or guest has no ranged op.
 *
 * Must never leave the guest in log-dirty mode (switched off on every
 * path after it was switched on) and never write to guest memory.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>

#include "mig_clock.h"
#include "mig_error.h"
#include "ranged.h"

#define PAGE_BYTES 4096u
#define MAP_BATCH 1024u
#define MAX_ROUNDS 20u

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* FNV-1a over a page's 64-bit words; 0 is kept for "not mapped" */
static uint64_t page_hash(const uint64_t *words)
{
    uint64_t hash = 1469598103934665603ull;
    unsigned int i;

    for (i = 0; i < PAGE_BYTES / 8; i++) {
        hash ^= words[i];
        hash *= 1099511628211ull;
    }
    return hash ? hash : 1;
}

/* hashes[pfn] for pfn < ram_pfns; pages that do not map get 0 */
static int hash_guest(xenforeignmemory_handle *fmem, uint32_t domid,
                      uint64_t ram_pfns, uint64_t *hashes)
{
    xen_pfn_t pfns[MAP_BATCH];
    int errs[MAP_BATCH];
    uint64_t base;
    unsigned int i, n;

    for (base = 0; base < ram_pfns; base += n) {
        uint8_t *map;

        n = ram_pfns - base < MAP_BATCH ? (unsigned int)(ram_pfns - base) : MAP_BATCH;
        for (i = 0; i < n; i++)
            pfns[i] = base + i;
        map = xenforeignmemory_map(fmem, domid, PROT_READ, n, pfns, errs);
        if (!map) {
            fprintf(stderr, "ranged-check: mapping pfns %#llx..%#llx of domain %u failed: %s\n",
                    (unsigned long long)base, (unsigned long long)(base + n - 1), domid,
                    strerror(errno));
            return -1;
        }
        for (i = 0; i < n; i++)
            hashes[base + i] = errs[i] ? 0 : page_hash((const uint64_t *)(map + (size_t)i * PAGE_BYTES));
        xenforeignmemory_unmap(fmem, map, n);
    }
    return 0;
}

struct sweep {
    unsigned int calls;
    double call_seconds[1024];
    double sweep_seconds;
    uint64_t dirty;
};

/* ranged harvest of pfns [0, total) into DIRTY (total bits, OR-ed) */
static int ranged_sweep(xc_interface *xch, uint32_t domid, uint64_t total, uint32_t chunk,
                        xc_hypercall_buffer_t *buffer, uint8_t *chunk_bits, uint8_t *dirty,
                        struct sweep *sweep)
{
    double started = mig_clock_seconds();
    uint64_t first;

    memset(sweep, 0, sizeof(*sweep));
    memset(dirty, 0, (total + 7) / 8);
    for (first = 0; first < total; first += chunk) {
        uint32_t count = total - first < chunk ? (uint32_t)(total - first) : chunk;
        uint32_t i;
        int rc;

        if (sweep->calls == sizeof(sweep->call_seconds) / sizeof(sweep->call_seconds[0])) {
            fprintf(stderr, "ranged-check: more than %u calls per sweep; use larger chunks\n",
                    sweep->calls);
            return -1;
        }
        rc = xen_ranged_clean(xch, domid, first, count, buffer, &sweep->call_seconds[sweep->calls]);
        sweep->calls++;
        if (rc) {
            fprintf(stderr, "ranged-check: %s (%s)\n", mig_error_last(), mig_error_name(rc));
            return rc;
        }
        /* first is a multiple of chunk, itself a multiple of 8 */
        for (i = 0; i < (count + 7) / 8; i++) {
            dirty[first / 8 + i] |= chunk_bits[i];
            sweep->dirty += (uint64_t)__builtin_popcount(chunk_bits[i]);
        }
    }
    sweep->sweep_seconds = mig_clock_seconds() - started;
    return 0;
}

int main(int argc, char **argv)
{
    xc_interface *xch = NULL;
    xenforeignmemory_handle *fmem = NULL;
    DECLARE_HYPERCALL_BUFFER(uint8_t, chunk_bits);
    DECLARE_HYPERCALL_BUFFER(uint8_t, full_bits);
    uint8_t *dirty = NULL;
    uint64_t *hashes_before = NULL, *hashes_after = NULL;
    xc_domaininfo_t info;
    xen_pfn_t max_gpfn;
    uint64_t total, ram_pfns, lost_total = 0, changed_total = 0;
    unsigned long rounds = 3, chunk = 32768;
    uint32_t domid;
    unsigned int round;
    double stock_ms[MAX_ROUNDS], median_ms[MAX_ROUNDS];
    struct sweep sweep;
    int logdirty_on = 0, failed = 0;
    int rc;
    char *end;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: ranged-check DOMID [ROUNDS [CHUNK_PFNS]]\n");
        return 2;
    }
    errno = 0;
    domid = (uint32_t)strtoul(argv[1], &end, 10);
    if (errno || *end || end == argv[1] || domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        fprintf(stderr, "ranged-check: DOMID '%s': expected a guest's domain id (1..%u)\n",
                argv[1], DOMID_FIRST_RESERVED - 1);
        return 2;
    }
    if (argc > 2) {
        rounds = strtoul(argv[2], &end, 10);
        if (*end || end == argv[2] || rounds < 1 || rounds > MAX_ROUNDS) {
            fprintf(stderr, "ranged-check: ROUNDS '%s': expected 1..%u\n", argv[2], MAX_ROUNDS);
            return 2;
        }
    }
    if (argc > 3) {
        chunk = strtoul(argv[3], &end, 10);
        if (*end || end == argv[3] || chunk < 8 || chunk % 8 || chunk > XEN_RANGED_MAX_PAGES) {
            fprintf(stderr, "ranged-check: CHUNK_PFNS '%s': expected a multiple of 8 in 8..%u\n",
                    argv[3], XEN_RANGED_MAX_PAGES);
            return 2;
        }
    }

    xch = xc_interface_open(NULL, NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    if (!xch || !fmem) {
        fprintf(stderr, "ranged-check: cannot open libxenctrl/libxenforeignmemory (not dom0?): %s\n",
                strerror(errno));
        rc = 1;
        goto out;
    }
    if (xc_domain_getinfolist(xch, domid, 1, &info) != 1 || info.domain != domid) {
        fprintf(stderr, "ranged-check: domain %u does not exist\n", domid);
        rc = 1;
        goto out;
    }
    if (xc_domain_maximum_gpfn(xch, domid, &max_gpfn) < 0) {
        fprintf(stderr, "ranged-check: maximum gpfn of domain %u: %s\n", domid, strerror(errno));
        rc = 1;
        goto out;
    }
    total = (uint64_t)max_gpfn + 1;
    ram_pfns = info.max_pages < total ? info.max_pages : total;

    chunk_bits = xc_hypercall_buffer_alloc(xch, chunk_bits, (chunk + 7) / 8);
    full_bits = xc_hypercall_buffer_alloc(xch, full_bits, (total + 7) / 8);
    dirty = calloc((total + 7) / 8, 1);
    hashes_before = calloc(ram_pfns, sizeof(*hashes_before));
    hashes_after = calloc(ram_pfns, sizeof(*hashes_after));
    if (!chunk_bits || !full_bits || !dirty || !hashes_before || !hashes_after) {
        fprintf(stderr, "ranged-check: out of memory for %llu pfns\n", (unsigned long long)total);
        rc = 1;
        goto out;
    }

    if (xc_shadow_control(xch, domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0) < 0) {
        fprintf(stderr, "ranged-check: enabling log-dirty mode on domain %u: %s\n", domid,
                strerror(errno));
        rc = 1;
        goto out;
    }
    logdirty_on = 1;

    rc = xen_ranged_supported(xch, domid);
    if (rc) {
        printf("RANGED-RESULT summary domid=%u status=unsupported reason=%s\n", domid,
               mig_error_name(rc));
        fprintf(stderr, "ranged-check: %s\n", mig_error_last());
        rc = rc == MIG_EUNSUPP ? 77 : 1;
        goto out;
    }

    /* a range beyond the guest's memory must be refused as such */
    rc = xen_ranged_clean(xch, domid, total, 8, HYPERCALL_BUFFER(chunk_bits), NULL);
    printf("RANGED-RESULT beyond-p2m first_pfn=%#llx code=%s expected=MIG_EINVAL\n",
           (unsigned long long)total, rc ? mig_error_name(rc) : "0");
    if (rc != MIG_EINVAL) {
        fprintf(stderr, "ranged-check: a range beyond the p2m answered %s, not MIG_EINVAL: %s\n",
                rc ? mig_error_name(rc) : "success", rc ? mig_error_last() : "");
        failed = 1;
    }

    /* start from a clean slate: everything so far is harvested */
    if (xc_logdirty_control(xch, domid, XEN_DOMCTL_SHADOW_OP_CLEAN, HYPERCALL_BUFFER(full_bits),
                            total, 0, NULL) < 0) {
        fprintf(stderr, "ranged-check: stock CLEAN: %s\n", strerror(errno));
        rc = 1;
        goto out;
    }

    for (round = 0; round < rounds; round++) {
        uint64_t pfn, changed = 0, reported_changed = 0, lost = 0, stock_dirty = 0;
        double sorted[1024], stock_started;
        struct sweep first_sweep;

        if (ranged_sweep(xch, domid, total, (uint32_t)chunk, HYPERCALL_BUFFER(chunk_bits),
                         chunk_bits, dirty, &first_sweep)
            || hash_guest(fmem, domid, ram_pfns, hashes_before)) {
            rc = 1;
            goto out;
        }
        sleep(1);
        if (hash_guest(fmem, domid, ram_pfns, hashes_after)
            || ranged_sweep(xch, domid, total, (uint32_t)chunk, HYPERCALL_BUFFER(chunk_bits),
                            chunk_bits, dirty, &sweep)) {
            rc = 1;
            goto out;
        }
        for (pfn = 0; pfn < ram_pfns; pfn++) {
            int reported = (dirty[pfn / 8] >> (pfn % 8)) & 1;

            if (!hashes_before[pfn] || !hashes_after[pfn] || hashes_before[pfn] == hashes_after[pfn])
                continue;
            changed++;
            if (reported) {
                reported_changed++;
            } else {
                lost++;
                if (lost <= 5)
                    fprintf(stderr, "ranged-check: LOST WRITE: pfn %#llx changed but was not reported\n",
                            (unsigned long long)pfn);
            }
        }

        sleep(1);
        stock_started = mig_clock_seconds();
        if (xc_logdirty_control(xch, domid, XEN_DOMCTL_SHADOW_OP_CLEAN, HYPERCALL_BUFFER(full_bits),
                                total, 0, NULL) < 0) {
            fprintf(stderr, "ranged-check: stock CLEAN: %s\n", strerror(errno));
            rc = 1;
            goto out;
        }
        stock_ms[round] = (mig_clock_seconds() - stock_started) * 1e3;
        for (pfn = 0; pfn < (total + 7) / 8; pfn++)
            stock_dirty += (uint64_t)__builtin_popcount(full_bits[pfn]);

        memcpy(sorted, sweep.call_seconds, sweep.calls * sizeof(double));
        qsort(sorted, sweep.calls, sizeof(double), compare_doubles);
        median_ms[round] = sorted[sweep.calls / 2] * 1e3;
        printf("RANGED-RESULT round=%u domid=%u pfns=%llu ram_pfns=%llu ranged_calls=%u chunk_pfns=%lu "
               "call_ms_min=%.3f call_ms_median=%.3f call_ms_max=%.3f sweep_ms=%.3f "
               "first_sweep_ms=%.3f ranged_dirty=%llu stock_clean_ms=%.3f stock_dirty=%llu "
               "changed_pages=%llu reported_changed=%llu lost_writes=%llu\n",
               round, domid, (unsigned long long)total, (unsigned long long)ram_pfns, sweep.calls,
               chunk, sorted[0] * 1e3, median_ms[round], sorted[sweep.calls - 1] * 1e3,
               sweep.sweep_seconds * 1e3, first_sweep.sweep_seconds * 1e3,
               (unsigned long long)sweep.dirty, stock_ms[round], (unsigned long long)stock_dirty,
               (unsigned long long)changed, (unsigned long long)reported_changed,
               (unsigned long long)lost);
        /* each call of the round's harvesting sweep, in pfn order */
        printf("RANGED-RESULT round=%u calls_ms=", round);
        for (pfn = 0; pfn < sweep.calls; pfn++)
            printf("%s%.1f", pfn ? "," : "", sweep.call_seconds[pfn] * 1e3);
        printf("\n");
        fflush(stdout);
        changed_total += changed;
        lost_total += lost;
    }

    qsort(stock_ms, rounds, sizeof(double), compare_doubles);
    qsort(median_ms, rounds, sizeof(double), compare_doubles);
    if (lost_total)
        failed = 1;
    if (!changed_total) {
        fprintf(stderr, "ranged-check: no guest page changed in %lu rounds: nothing was proven "
                "(is the guest running its heartbeat?)\n", rounds);
        failed = 1;
    }
    printf("RANGED-RESULT summary domid=%u rounds=%lu chunk_pfns=%lu ranged_call_ms_median=%.3f "
           "stock_clean_ms_median=%.3f ranged_call_over_stock_clean=%.2f changed_pages=%llu "
           "lost_writes=%llu status=%s\n",
           domid, rounds, chunk, median_ms[rounds / 2], stock_ms[rounds / 2],
           stock_ms[rounds / 2] > 0 ? median_ms[rounds / 2] / stock_ms[rounds / 2] : 0.0,
           (unsigned long long)changed_total, (unsigned long long)lost_total,
           failed ? "fail" : "pass");
    rc = failed ? 1 : 0;

out:
    if (logdirty_on && xc_shadow_control(xch, domid, XEN_DOMCTL_SHADOW_OP_OFF, NULL, 0) < 0) {
        fprintf(stderr, "ranged-check: switching log-dirty mode off on domain %u: %s\n", domid,
                strerror(errno));
        rc = 1;
    }
    free(hashes_after);
    free(hashes_before);
    free(dirty);
    if (xch) {
        xc_hypercall_buffer_free(xch, full_bits);
        xc_hypercall_buffer_free(xch, chunk_bits);
        xc_interface_close(xch);
    }
    if (fmem)
        xenforeignmemory_close(fmem);
    return rc;
}
