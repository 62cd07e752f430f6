/*
 * host.h: what this machine has, for the limits libmig checks before it
 * allocates (a guest or its bookkeeping larger than the machine is refused
 * with a message, never left to an allocator).  Private to libmig.
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

#endif
