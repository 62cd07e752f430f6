/*
 * restore_preflight.h: the CPUID pre-flight of `xl-ext restore` for an xl
 * save file: the domain's CPU policy as the file carries it (libxc's
 * X86_CPUID_POLICY and X86_MSR_POLICY records, Xen 4.14 and later) against
 * what this host offers a domain of its type, so that a domain is never
 * restored on a host that lacks a feature it runs with.
 */
#ifndef XENMIG_XL_EXT_RESTORE_PREFLIGHT_H
#define XENMIG_XL_EXT_RESTORE_PREFLIGHT_H

/*
 * Check the xl save file at path against this host (probed), or against
 * the host description host_json when not NULL.  Reads the file's head
 * only (up to the first PAGE_DATA record).  Returns 0 when the host runs
 * the domain, or when the file carries no CPU policy (older Xen: a note on
 * stderr says it was not checked); MIG_ECOMPAT with a message naming the
 * host, the domain and the missing features; MIG_EFORMAT / MIG_ETRUNC /
 * MIG_EIO naming the file and offset when it cannot be read.
 */
int restore_preflight_xl_file(const char *path, const char *host_json);

/*
 * `xl-ext restore` of an xl save file (restore_xen.c): argv is restore's;
 * the pre-flight, then exec of stock `xl restore` with xl's options; an
 * XL_EXT_EXIT_* code when it does not get that far (4: the host lacks
 * features, 3: the file is malformed).
 */
int restore_xen(int argc, char **argv);

#endif
