/*
 * ranged.h: the ranged, no-pause log-dirty harvest of the xenmig lab's Xen
 * patch (placeholder until the ranged room lands: always absent).
 */
#ifndef XENMIG_RANGED_H
#define XENMIG_RANGED_H

#include <stdbool.h>
#include <stdint.h>

#include <xenctrl.h>

bool xen_ranged_supported(xc_interface *xch, uint32_t domid);
int xen_ranged_clean(xc_interface *xch, uint32_t domid, uint64_t first_pfn,
                     uint32_t count, xc_hypercall_buffer_t *bitmap, double *seconds_out);

#endif /* XENMIG_RANGED_H */
