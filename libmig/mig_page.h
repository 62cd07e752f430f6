/*
 * mig_page.h: the page size, the one constant of it in xenmig: a guest
 * page of x86 Xen (XC_PAGE_SIZE), the unit of every stream, dirty set,
 * digest and save file.
 */
#ifndef XENMIG_MIG_PAGE_H
#define XENMIG_MIG_PAGE_H

#define MIG_PAGE_SIZE 4096

#endif /* XENMIG_MIG_PAGE_H */
