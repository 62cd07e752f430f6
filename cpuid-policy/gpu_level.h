/*
 * gpu_level.h: virtual-GPU capability levels, GPU baselines and the check
 * "can this host (or cluster) run a domain with this gpu_baseline".
 *
 * Two independent axes:
 *   graphics  d3d10.0-gl3.3 < d3d10.1-gl3.3 < d3d11.0-gl4.1 < ... (the order
 *             of the lines of the levels file);
 *   compute   cuda-MAJOR.MINOR, the CUDA compute capability, ordered by
 *             major then minor (cuda-8.6 < cuda-9.0 < cuda-10.0).
 * "none" is below every level of either axis.
 *
 * A gpu_baseline (xl.cfg key, or a cluster's GPU level) names at most one
 * level of each axis, comma separated, in either order:
 *   "d3d11.0-gl4.1"   "cuda-8.0"   "d3d11.0-gl4.1,cuda-8.0"   "none"
 * A host satisfies it iff its graphics level >= the graphics part and its
 * compute capability >= the compute part.
 *
 * The levels live in a data file (cpuid-policy/data/gpu-levels, installed
 * to $(pkgdatadir)/gpu-levels; format described in that file), so adding a
 * level needs no rebuild.  A host's levels are derived from raw probe facts
 * (gpu_probe.h) by pure code here, so recorded facts test every rule.
 *
 * How the cpuid-policy side uses it:
 *   host-dump   cpuid_gpu_probe_collect + cpuid_gpu_capability_from_facts +
 *               cpuid_gpu_host_to_json -> the "gpu" object of the host JSON
 *   check / create / migration pre-flight
 *               cpuid_gpu_requirement_parse(domain's gpu_baseline) +
 *               cpuid_gpu_capability_check(requirement, host) -> MIG_ECOMPAT with
 *               the shortfall ("needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)")
 *   cluster add cpuid_gpu_capability_intersect(cluster, new host) (the cluster's
 *               GPU level is the minimum of its hosts, as for CPU features)
 *   report      cpuid_gpu_capability_format_baseline
 *
 * Nothing here touches a device or the file system, except
 * cpuid_gpu_level_table_load() which reads the levels file, and
 * cpuid_gpu_host_json_add() which runs the probe (implemented in gpu_probe.c).
 */
#ifndef XENMIG_GPU_LEVEL_H
#define XENMIG_GPU_LEVEL_H

#include <stddef.h>

#include <json-c/json.h>

#include "gpu_probe.h"

#define CPUID_GPU_LEVEL_NAME_MAX   32    /* level names incl. NUL ("d3d11.0-gl4.1") */
#define CPUID_GPU_LEVEL_DETAIL_MAX 160   /* "NVIDIA A10", "llvmpipe (LLVM 15.0.6, 256 bits)" */
#define CPUID_GPU_BASELINE_TEXT_MAX 128  /* a gpu_baseline string, incl. NUL */

/* The level table: opaque, read-only once loaded, safe to share between threads. */
typedef struct cpuid_gpu_level_table cpuid_gpu_level_table;

/*
 * Load the level table from `path`, or when path is NULL from the first
 * that exists of: $XENMIG_GPU_LEVELS, $(pkgdatadir)/gpu-levels, the source
 * tree's cpuid-policy/data/gpu-levels.  On success *table_out is a new
 * table owned by the caller (cpuid_gpu_level_table_free).  Returns 0, MIG_EIO
 * (file unreadable), MIG_EFORMAT (bad line: message quotes it with
 * file:line), MIG_ELIMIT (file over 64 KiB or too many levels).
 */
int cpuid_gpu_level_table_load(const char *path, cpuid_gpu_level_table **table_out);

/*
 * Parse a level table from text of `length` bytes (need not be
 * NUL-terminated).  `origin` names it in messages.  Same ownership and
 * errors as cpuid_gpu_level_table_load().
 */
int cpuid_gpu_level_table_parse(const char *text, size_t length, const char *origin,
                          cpuid_gpu_level_table **table_out);

/* Free a table; NULL is fine. */
void cpuid_gpu_level_table_free(cpuid_gpu_level_table *table);

/* The file the table came from (or the origin given to _parse); owned by the table. */
const char *cpuid_gpu_level_table_origin(const cpuid_gpu_level_table *table);

/*
 * Every valid baseline level name, lowest first, comma separated ("none,
 * d3d10.0-gl3.3, ..., cuda-3.5, ..."): for error messages and help.  Owned
 * by the table.
 */
const char *cpuid_gpu_level_table_names(const cpuid_gpu_level_table *table);

/* What a domain (or cluster) requires. */
struct cpuid_gpu_requirement {
    int graphics_level;                  /* index in the table, -1: no graphics need */
    char graphics_name[CPUID_GPU_LEVEL_NAME_MAX];  /* "none" when -1 */
    int compute_major;                   /* -1: no compute need */
    int compute_minor;
    char compute_name[CPUID_GPU_LEVEL_NAME_MAX];   /* "cuda-9.0", or "none" */
};

/*
 * Parse a gpu_baseline string (syntax above; spaces around the comma are
 * allowed) into *requirement_out (caller's storage).  Every level named must
 * be in the table.  Returns 0, or MIG_EINVAL with a message quoting the
 * input and the bad part and listing the valid levels (two graphics or two
 * compute parts, "none" combined with a level, unknown names, empty parts,
 * over-long input).
 */
int cpuid_gpu_requirement_parse(const cpuid_gpu_level_table *table, const char *text,
                          struct cpuid_gpu_requirement *requirement_out);

/* Format a requirement as a baseline string ("d3d11.0-gl4.1,cuda-8.0",
 * "none") into the caller's buf of `size` bytes (cut to fit, NUL-terminated). */
void cpuid_gpu_requirement_format(const struct cpuid_gpu_requirement *requirement,
                            char *buf, size_t size);

/* What a host (or, after intersection, a cluster) offers. */
struct cpuid_gpu_capability {
    int graphics_level;                  /* index in the table, -1: none */
    char graphics_name[CPUID_GPU_LEVEL_NAME_MAX];
    int gl_major;                        /* -1: no desktop OpenGL */
    int gl_minor;
    char graphics_detail[CPUID_GPU_LEVEL_DETAIL_MAX]; /* renderer and GL version, or why none */
    int compute_major;                   /* -1: no CUDA device */
    int compute_minor;
    char compute_name[CPUID_GPU_LEVEL_NAME_MAX];      /* "cuda-9.0" or "none" */
    char compute_detail[CPUID_GPU_LEVEL_DETAIL_MAX];  /* device name, or why none */
};

/*
 * Derive the levels a host reaches from its raw facts (pure) into
 * *capability_out (caller's storage, fully overwritten):
 *   compute  the highest compute capability among the NVIDIA devices (a
 *            domain is given one device; the best one decides whether any
 *            device can serve it); "none" when NVML found no device.
 *   graphics the highest table level whose GL version (and extensions, see
 *            the levels file) the GL_VERSION string reaches; "none" without
 *            a desktop OpenGL context (OpenGL ES only counts as none).
 * Always succeeds for facts that cpuid_gpu_facts_from_json accepted or
 * cpuid_gpu_probe_collect produced; returns 0, or MIG_EFORMAT when a GL_VERSION
 * that the facts call OK does not start with MAJOR.MINOR (message quotes it).
 */
int cpuid_gpu_capability_from_facts(const cpuid_gpu_level_table *table,
                              const struct cpuid_gpu_facts *facts,
                              struct cpuid_gpu_capability *capability_out);

/*
 * Parse a GL_VERSION string ("4.5 (Compatibility Profile) Mesa 22.3.6",
 * "4.6.0 NVIDIA 535.129.03") into *major_out / *minor_out (caller's ints,
 * set only on success).  Returns 0, or MIG_EFORMAT
 * (quoting it) when it is not "MAJOR.MINOR..." or is OpenGL ES.
 */
int cpuid_gpu_gl_version_parse(const char *version, int *major_out, int *minor_out);

/*
 * Can `host` run a domain that requires `requirement`?  Both must come
 * from the same level table (graphics levels compare by table index; a
 * host dump from elsewhere is re-derived from its facts first).  Returns 0 if so,
 * MIG_ECOMPAT if not, with every shortfall in the message, e.g.
 * "GPU baseline 'd3d11.0-gl4.1,cuda-9.0' not met: needs cuda-9.0, host has
 * cuda-8.6 (NVIDIA A10)".  When `shortfall` is not NULL the same text
 * (without the prefix) is written there ("" when met).
 */
int cpuid_gpu_capability_check(const struct cpuid_gpu_requirement *requirement,
                         const struct cpuid_gpu_capability *host,
                         char *shortfall, size_t shortfall_size);

/*
 * The level a group of hosts shares (cluster join): for each axis the
 * lower of `a` and `b`, written to the caller's *out, which may alias a or b.
 */
void cpuid_gpu_capability_intersect(const struct cpuid_gpu_capability *a,
                              const struct cpuid_gpu_capability *b,
                              struct cpuid_gpu_capability *out);

/*
 * The host's levels as a gpu_baseline string a domain could require
 * ("d3d12-gl4.6,cuda-9.0", "cuda-8.0", "none") into the caller's buf of
 * `size` bytes (cut to fit, NUL-terminated).
 */
void cpuid_gpu_capability_format_baseline(const struct cpuid_gpu_capability *capability,
                                    char *buf, size_t size);

/*
 * The "gpu" object of a host dump: {"facts": <cpuid_gpu_facts_to_json>,
 * "levels": {"graphics", "compute", "baseline", "graphics_detail",
 * "compute_detail"}}.  Readers must re-derive levels from "facts" with
 * their own table rather than trust "levels".  *json_out is a new reference
 * owned by the caller.  Returns 0 or MIG_ENOMEM.
 */
int cpuid_gpu_host_to_json(const struct cpuid_gpu_facts *facts,
                     const struct cpuid_gpu_capability *capability,
                     json_object **json_out);

/*
 * For host-dump: probe this host (cpuid_gpu_probe_collect with `options`, NULL
 * for defaults), derive its levels with `table`, and set the result as the
 * "gpu" member of the host JSON object `host_json` (replacing any).  The
 * object stays owned by the caller.  Returns 0, or an error of
 * cpuid_gpu_probe_collect / MIG_ENOMEM.  A host without a GPU gets levels "none".
 */
int cpuid_gpu_host_json_add(json_object *host_json, const cpuid_gpu_level_table *table,
                      const struct cpuid_gpu_probe_options *options);

/*
 * For check / cluster add / report: the capability of a host from its host
 * JSON (as cpuid_gpu_host_json_add left it, possibly from another machine): its
 * "gpu" facts re-derived with `table` into *capability_out (caller's
 * storage).  A host JSON without "gpu" (dumped before GPU probing) gives
 * levels "none" with that reason, not an error.  Returns 0, or MIG_EFORMAT
 * quoting the bad member, with `origin` (the file) in the message.
 */
int cpuid_gpu_host_json_capability(const json_object *host_json, const cpuid_gpu_level_table *table,
                             const char *origin, struct cpuid_gpu_capability *capability_out);

/*
 * Copy `length` bytes of untrusted text into buf (size bytes, always
 * NUL-terminated) for quoting in a message: printable ASCII is kept, any
 * other byte and the backslash become \xNN; the copy is cut to fit.
 */
void cpuid_text_quote(const char *text, size_t length, char *buf, size_t size);

/*
 * Read the whole file at `path` (at most `limit` bytes) for a parser.
 * `what` names it in messages ("domain config").  On success *text_out is
 * a new NUL-terminated buffer owned by the caller (free()) holding
 * *length_out bytes (which may include NUL bytes of the file).  Returns 0,
 * MIG_EIO (cannot open/read, errno text appended), MIG_ELIMIT (larger than
 * limit), MIG_ENOMEM.
 */
int cpuid_gpu_read_text_file(const char *path, size_t limit, const char *what,
                       char **text_out, size_t *length_out);

#endif /* XENMIG_GPU_LEVEL_H */
