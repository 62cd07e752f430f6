/*
 * cpuid_remote.h: host descriptions collected from other hosts, by running
 * `xl-ext cpuid-policy host-dump` there, reached the way `xl migrate`
 * reaches its peer: `ssh HOST`, or the -s command (`-s ""`: HOST is the
 * whole command; migrate_peer_command()).  Several hosts at once, each
 * within its own time limit.  Used by `cpuid-policy host-dump --ssh` and
 * `cluster create/add --ssh`; nothing here prints.
 */
#ifndef XENMIG_CPUID_REMOTE_H
#define XENMIG_CPUID_REMOTE_H

#include "cpuid_policy.h"

#define CPUID_REMOTE_TIMEOUT_S 60       /* default time limit of one host, seconds */
#define CPUID_REMOTE_TIMEOUT_MAX_S 3600
#define CPUID_REMOTE_MAX_HOSTS 256      /* --ssh options of one command */
#define CPUID_REMOTE_PARALLEL 16        /* hosts collected at the same time */
#define CPUID_REMOTE_OUTPUT_MAX (4u << 20)  /* a dump larger than this is refused */
#define CPUID_REMOTE_COMMAND "xl-ext cpuid-policy host-dump"

/* One host to collect, and what came of it. */
struct cpuid_remote_host {
    const char *target;         /* [USER@]HOST as given (borrowed from the caller) */
    struct cpuid_host *host;    /* its description, NULL when none could be had (owned) */
    char reason[512];           /* why none: "no answer within 60 s (killed)", "exit status
                                 * 255: ssh: connect to host ... refused"; "" with a host */
};

/*
 * Collect the descriptions of n targets into results[0..n) (the caller's
 * array; each entry's target is set here), at most CPUID_REMOTE_PARALLEL at
 * a time.  Each runs `sh -c` of migrate_peer_command(ssh_command, target,
 * CPUID_REMOTE_COMMAND) in its own process group, its stdin an open pipe
 * (as xl migrate's channel; closed once its output ended) and its stdout
 * and stderr read; it must finish within timeout_s seconds of its start,
 * else its process group is killed.  A host's stdout must parse as a host
 * file (cpuid_host_parse, origin "TARGET (remote host-dump)").  Returns the
 * number of hosts collected; each other entry has host NULL and its reason
 * (the last line of its stderr when it said why).  Never fails as a whole.
 */
unsigned int cpuid_remote_collect(const char *const *targets, unsigned int n,
                                  const char *ssh_command, unsigned int timeout_s,
                                  struct cpuid_remote_host *results);

/* Free the hosts of results[0..n) (the array itself is the caller's). */
void cpuid_remote_hosts_free(struct cpuid_remote_host *results, unsigned int n);

#endif /* XENMIG_CPUID_REMOTE_H */
