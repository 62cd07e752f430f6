/*
 * xen_private.h: what the files of libmig/backend/xen share.
 */
#ifndef XENMIG_XEN_PRIVATE_H
#define XENMIG_XEN_PRIVATE_H

#endif /* XENMIG_XEN_PRIVATE_H */
