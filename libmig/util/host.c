/*
 * host.c: what libmig asks of the process it runs in (util/host.h): that
 * it cannot be dumped or traced by its owner while a migration holds a key
 * or guest memory.
 *
 * This file must never change anything of the process but its dumpable
 * flag, and must leave it as it found it once the last migration ends.
 * It also reads how busy the machine's CPUs are, for the convergence
 * ladder, and whether they have AES instructions, for the choice of the
 * data streams' cipher (read only).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "util/host.h"

bool mig_host_has_aes_instructions(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax, ebx, ecx, edx;

    /* CPUID leaf 1: ecx bit 25 AES-NI, bit 1 PCLMULQDQ (GCM's GHASH). */
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return false;
    return (ecx & (1u << 25)) && (ecx & (1u << 1));
#else
    return false;   /* only x86's instructions are looked for */
#endif
}

static pthread_mutex_t hide_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int hidden;         /* migrations under way in this process */
static int dumpable_before;         /* PR_GET_DUMPABLE before the first of them */

void mig_host_hide_begin(void)
{
    pthread_mutex_lock(&hide_lock);
    if (!hidden++) {
        dumpable_before = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    pthread_mutex_unlock(&hide_lock);
}

void mig_host_hide_end(void)
{
    pthread_mutex_lock(&hide_lock);
    if (hidden && !--hidden && dumpable_before > 0)
        (void)prctl(PR_SET_DUMPABLE, dumpable_before, 0, 0, 0);
    pthread_mutex_unlock(&hide_lock);
}

bool mig_host_cpu_sample(struct mig_cpu_sample *sample)
{
    uint64_t t[8] = { 0 };
    char line[256];
    FILE *f = fopen("/proc/stat", "re");
    int n = 0;

    memset(sample, 0, sizeof(*sample));
    if (!f)
        return false;
    if (fgets(line, sizeof(line), f) && !strncmp(line, "cpu ", 4))
        n = sscanf(line + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                   " %" SCNu64 " %" SCNu64 " %" SCNu64, &t[0], &t[1], &t[2], &t[3],
                   &t[4], &t[5], &t[6], &t[7]);
    fclose(f);
    if (n < 5)
        return false;
    /* user nice system idle iowait irq softirq steal: niced work (a build in
     * the background) gives way to us, so it counts as headroom */
    sample->idle = t[1] + t[3] + t[4];
    for (int i = 0; i < n; i++)
        sample->total += t[i];
    return true;
}

double mig_host_cpu_idle(const struct mig_cpu_sample *before,
                         const struct mig_cpu_sample *after)
{
    if (!before->total || !after->total || after->total <= before->total ||
        after->idle < before->idle)
        return -1;
    return (double)(after->idle - before->idle) / (double)(after->total - before->total);
}
