/*
 * host.h: what this machine has, for the limits libmig checks before it
 * allocates (a guest or its bookkeeping larger than the machine is refused
 * with a message, never left to an allocator), and what libmig asks of its
 * process (host.c).  Private to libmig.
 */
#ifndef XENMIG_UTIL_HOST_H
#define XENMIG_UTIL_HOST_H

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

#endif
