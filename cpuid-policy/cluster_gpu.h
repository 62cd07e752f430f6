/*
 * cluster_gpu.h: the GPU side of a cluster: its GPU level is the minimum
 * of its members' levels (cpuid_gpu_capability_intersect), or a pinned
 * gpu_baseline, and a host below it is refused, as for CPU features.
 *
 * The level is stored in the cluster file ("gpu_baseline", README "Cluster
 * file format"); a cluster file without one (made before GPU levels)
 * imposes no GPU rule and records none until it is pinned, because the
 * levels of its existing members are unknown.  Nothing here prints or
 * touches a file.
 */
#ifndef XENMIG_CLUSTER_GPU_H
#define XENMIG_CLUSTER_GPU_H

#include <stddef.h>

#include "cpuid_policy.h"
#include "gpu_level.h"

/*
 * Can a host with GPU levels `host` join `cluster`?  0 if the cluster has
 * no GPU level or the host meets it; MIG_ECOMPAT if not, with the shortfall
 * ("needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)") written to the
 * caller's `shortfall` buffer (may be NULL; "" when met) and the message
 * naming the cluster.  MIG_EFORMAT if the recorded level is not valid in
 * `table`.  Changes nothing.
 */
int cpuid_cluster_gpu_check(const struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                            const char *hostname, const struct cpuid_gpu_capability *host,
                            char *shortfall, size_t shortfall_size);

/*
 * After cpuid_cluster_add() of `hostname`: record the member's GPU levels
 * and lower the cluster's level to the minimum of it and the host's
 * (the host's own level when it is the only member; unchanged when pinned
 * or when the file recorded none).  Returns 0, MIG_EINVAL (no such
 * member), MIG_EFORMAT (recorded level invalid in `table`), MIG_ENOMEM.
 */
int cpuid_cluster_gpu_record(struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                             const char *hostname, const struct cpuid_gpu_capability *host);

/*
 * Pin the cluster's GPU level to `baseline` (a gpu_baseline string, "none"
 * unpins nothing: it pins the lowest level).  Refused with MIG_ECOMPAT if a
 * member whose level is recorded is below it (*shortfall as above, naming
 * the member's levels); MIG_EINVAL for a baseline the table does not know.
 */
int cpuid_cluster_gpu_pin(struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                          const char *baseline, char *shortfall, size_t shortfall_size);

/*
 * The levels a gpu_baseline string stands for, as a capability (graphics
 * and compute parts; the details say `what` they come from, e.g. "cluster
 * 'lab'") in the caller's *capability_out.  MIG_EINVAL as
 * cpuid_gpu_requirement_parse().
 */
int cpuid_gpu_capability_from_baseline(const cpuid_gpu_level_table *table, const char *baseline,
                                       const char *what, struct cpuid_gpu_capability *capability_out);

#endif /* XENMIG_CLUSTER_GPU_H */
