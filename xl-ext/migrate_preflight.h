/*
 * migrate_preflight.h: what `xl-ext migrate` and `xl-ext save` check
 * before any expensive work (a simulated guest built, a domain touched,
 * memory copied): the save file's directory is writable, the destination
 * host resolves and answers, --data-host is an address the receiver can
 * listen on.
 */
#ifndef XENMIG_XL_EXT_MIGRATE_PREFLIGHT_H
#define XENMIG_XL_EXT_MIGRATE_PREFLIGHT_H

#include "migrate_source.h"

/*
 * Check req before it runs: 0, or the XL_EXT_EXIT_* code to end with and
 * the reason printed ("xl-ext migrate: cannot reach the destination
 * 'HOST' (ADDR port 22): Connection refused; ...").
 *
 * * migrate (not save): $XENMIG_PROBE_REFERENCE_US, when set, is a
 *   positive number of µs (switchover_probe.h): else exit 2;
 * * a domain (not --sim) needs a Xen host (/proc/xen): else exit 5;
 * * save (req->save_path): FILE's directory exists and this process may
 *   create files in it (a device or an existing writable file is written
 *   in place and passes);
 * * a remote HOST reached through ssh (no -s, or -s naming ssh): the
 *   name and port ssh would use (`ssh -G HOST`) resolve, and a TCP
 *   connection to them opens within min(--timeout, 10 s).  With -s ""
 *   HOST is a command and is not checked, nor when ssh's config reaches
 *   it through a proxy (ProxyJump, ProxyCommand);
 * * --data-host: resolves; when the receiver runs on this machine (a
 *   local HOST, save) it must be an address of this machine.
 */
int migrate_preflight(const struct migrate_request *req);

#endif /* XENMIG_XL_EXT_MIGRATE_PREFLIGHT_H */
