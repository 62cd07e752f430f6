/*
 * host.h: what this machine has, for the limits libmig checks before it
 * allocates (a guest or its bookkeeping larger than the machine is refused
 * with a message, never left to an allocator), and what libmig asks of its
 * process (host.c).  Private to libmig.
 */
#ifndef XENMIG_UTIL_HOST_H
#define XENMIG_UTIL_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

/* The machine's memory in bytes. */
static inline uint64_t mig_host_memory_bytes(void)
{
    return (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * While a migration holds a key or guest memory: the process is not
 * dumpable (prctl PR_SET_DUMPABLE 0: no core file, no ptrace or /proc/PID/mem
 * by its owner).  Counted: the flag comes back as it was when the last
 * begin of the process has its end.  Thread-safe.
 */
void mig_host_hide_begin(void);
void mig_host_hide_end(void);

/* The machine's CPU time so far, from /proc/stat's "cpu" line (ticks). */
struct mig_cpu_sample {
    uint64_t idle;              /* idle, iowait and niced: what we could have */
    uint64_t total;
};

/* Sample now into *sample; false (zeroed) when /proc/stat is unreadable. */
bool mig_host_cpu_sample(struct mig_cpu_sample *sample);

/*
 * The share of the machine's CPUs idle between two samples, 0..1; -1 when
 * either is missing or no tick passed between them.
 */
double mig_host_cpu_idle(const struct mig_cpu_sample *before,
                         const struct mig_cpu_sample *after);

/*
 * Whether this CPU runs AES-GCM in hardware: CPUID leaf 1 says AES-NI (ecx
 * bit 25) and PCLMULQDQ (ecx bit 1).  False on other architectures.  What
 * the guest kernel or hypervisor shows dom0, as libcrypto sees it.
 */
bool mig_host_has_aes_instructions(void);

#endif
