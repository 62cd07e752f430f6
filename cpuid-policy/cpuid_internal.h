/*
 * cpuid_internal.h: what the cpuid-policy sources share that is not part of
 * the public API (cpuid_policy.h).  Never include it from outside
 * cpuid-policy/.  Each declaration names the file that defines it.
 */
#ifndef XENMIG_CPUID_INTERNAL_H
#define XENMIG_CPUID_INTERNAL_H

#include <stddef.h>

#include "cpuid_policy.h"

/* ------------------------------------------------------ util.c */

/*
 * Largest CPU-side input (host, cluster, level and corpus files, JSON
 * text); those files are read with CPUID_READ_REFUSE_NUL.
 */
#define CPUID_MAX_FILE_SIZE (4u << 20)

/*
 * Next line of a text buffer: *line points at it, *line_len is its length
 * without the newline and trailing white space; *cursor advances.  Returns
 * 0 at the end of the buffer.
 */
int cpuid_next_line(const char **cursor, const char *end, const char **line,
                    size_t *line_len);

/*
 * Put "PREFIX: " (printf-style) before the current last error message,
 * keeping its code, which it returns.
 */
int cpuid_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse a JSON document of len bytes that must be one object; origin names
 * it in errors (offset and json-c's reason).  *out (a json_object *) is
 * released by the caller with json_object_put().
 */
int cpuid_parse_json_object(const char *text, size_t len, const char *origin, void **out);

/* Write text to path whole (libmig/util/file.h: a temporary file beside it,
 * flushed, renamed over it): never a partial file, never through a symlink. */
int cpuid_write_text_file(const char *path, const char *text);

/* strdup that records MIG_ENOMEM; NULL on failure. */
char *cpuid_strdup(const char *s);

/*
 * Copy `length` bytes of untrusted text into buf (size bytes, always
 * NUL-terminated) for quoting in a message: printable ASCII is kept, any
 * other byte and the backslash become \xNN; the copy is cut to fit.
 */
void cpuid_text_quote(const char *text, size_t length, char *buf, size_t size);

/* Copy src (NULL: "") into dst of `size` bytes, cut to fit, NUL-terminated. */
void cpuid_copy_text(char *dst, size_t size, const char *src);

/* ---------------------------------------------------- cluster.c */

/* For cluster_file.c: set the cluster's version (before a write, or back after a failed one). */
void cpuid_cluster_set_version(struct cpuid_cluster *c, unsigned long long version);

/*
 * For cluster_file.c, after a write whose content hash is `hash`: the
 * content read is now what was written (read hash and stated hash).
 * Returns 0 or MIG_ENOMEM.
 */
int cpuid_cluster_note_written(struct cpuid_cluster *c, const char *hash);

/* ---------------------------------------------------- gpu_facts.c */

/* Highest device_count the facts hold (NVML's count is capped to it). */
#define CPUID_GPU_DEVICE_COUNT_MAX 65535

/*
 * "MAJOR.MINOR" with 1-3 digits each, exactly `length` bytes: 0 with
 * *major and *minor set, or -1 (*major may then be set already).
 */
int cpuid_gpu_parse_major_minor(const char *s, size_t length, int *major, int *minor);

/* Whether `word` is one of the space-separated words of `list` (NULL: none). */
int cpuid_gpu_word_listed(const char *list, const char *word);

/* ------------------------------------- gpu_probe_nvml.c, gpu_probe_gl.c */

/*
 * The probe's two sources, run by gpu_probe.c in a child process (or in
 * process): each fills its own half of *facts (NVML: nvml_*,
 * driver_version, devices; GL: gl_*) from the library named in options
 * (or the default), and never fails: a missing library or a failing driver
 * is a status and a reason in the facts.
 */
void cpuid_gpu_probe_nvml(const struct cpuid_gpu_probe_options *options,
                          struct cpuid_gpu_facts *facts);
void cpuid_gpu_probe_gl(const struct cpuid_gpu_probe_options *options,
                        struct cpuid_gpu_facts *facts);

#endif /* XENMIG_CPUID_INTERNAL_H */
