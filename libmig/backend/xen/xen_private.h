/*
 * xen_private.h: what the files of libmig/backend/xen share.
 */
#ifndef XENMIG_XEN_PRIVATE_H
#define XENMIG_XEN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenctrl.h>

/*
 * Stream head and tail of a PVH/HVM domain (source_stream.c); both
 * malloc'ed into *out, owned by the caller.
 *
 * Head: xl header with the config (xl's JSON with its NUL, or with -C the
 * file as it is, JSON flag clear: the receiving xl parses it), libxl
 * v2 header, LIBXC_CONTEXT, libxc image and domain headers, the domain's
 * CPUID and MSR policy records, STATIC_DATA_END.
 * Tail (domain suspended): X86_TSC_INFO, HVM_CONTEXT, HVM_PARAMS, libxc
 * END, libxl END.
 */
int xen_stream_head(xc_interface *xch, uint32_t domid, const void *config,
                    uint32_t config_len, bool json, void **out, size_t *len_out);
int xen_stream_tail(xc_interface *xch, uint32_t domid, void **out, size_t *len_out);

/*
 * Why a domain cannot be suspended or harvested any more, from what
 * libxl_domain_info() said: found false (no such domain now), dying, or
 * shut down with shutdown_reason (a libxl_shutdown_reason).  Writes a
 * phrase such as "it crashed (shutdown reason 'crash')" into why (size
 * bytes, NUL-terminated, truncated if need be) and returns true; returns
 * false, why untouched, when the domain looks alive (running or paused).
 * Pure apart from libxl's name table (source.c).
 */
bool xen_domain_gone_reason(bool found, bool dying, bool shutdown, int shutdown_reason,
                            char *why, size_t size);

#endif /* XENMIG_XEN_PRIVATE_H */
