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

#endif /* XENMIG_XEN_PRIVATE_H */
