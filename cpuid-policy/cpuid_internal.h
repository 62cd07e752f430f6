/*
 * cpuid_internal.h: what the cpuid-policy sources share that is not part of
 * the public API (cpuid_policy.h).  Never include it from outside
 * cpuid-policy/.  Each declaration names the file that defines it.
 */
#ifndef XENMIG_CPUID_INTERNAL_H
#define XENMIG_CPUID_INTERNAL_H

#include <stdbool.h>
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

/* --------------------------------------- libvirt_map.c, libvirt_models.c */

/*
 * A space-separated word list that grows: *list is NULL or malloc'ed " A B",
 * each word with a space before it.  Appends the `length` bytes of word
 * unless *list has it already; MIG_ENOMEM on failure.
 */
int cpuid_word_list_add(char **list, const char *word, size_t length);
/* Whether `word` is one of the words of list (NULL: none). */
bool cpuid_word_list_has(const char *list, const char *word, size_t length);

/* One libvirt CPU model as its file defines it, inheritance not resolved. */
struct cpuid_libvirt_def {
    char *name;       /* libvirt's model name ("Haswell-noTSX") */
    char *ancestor;   /* the <model name='...'/> it starts from, or NULL */
    char *vendor;     /* libvirt's vendor name ("Intel"), or NULL */
    char *features;   /* word list: <feature name=.../> and added='yes' ones */
    char *removed;    /* word list: removed='yes' features, not part of it */
    char *source;     /* where the definition was read */
};

/* Definitions in libvirt's order (index.xml's, or x86-models.txt's). */
struct cpuid_libvirt_defs {
    struct cpuid_libvirt_def *defs;
    unsigned int count, capacity;
};

/* A new, empty definition at the end of defs (name copied); NULL on ENOMEM. */
struct cpuid_libvirt_def *cpuid_libvirt_def_add(struct cpuid_libvirt_defs *defs,
                                                const char *name, const char *source);
/* Free what defs holds (defs itself is the caller's) and empty it. */
void cpuid_libvirt_defs_clear(struct cpuid_libvirt_defs *defs);

/*
 * libvirt_map.c: read the x86 models of an installed libvirt CPU map
 * directory (index.xml and the x86_*.xml files it includes, <group>s
 * flattened) into defs, in index order.  Errors quote the file, its line
 * and libxml2's reason, and say how to ignore the installed map.
 * libxml2 (libxml2.so.2) is loaded here, with dlopen, not at the start of
 * every command: MIG_EPLATFORM when it does not load.
 */
int cpuid_libvirt_map_read(const char *dir, struct cpuid_libvirt_defs *defs);
/* The same with libxml2 loaded from `library` (tests name one that is missing). */
int cpuid_libvirt_map_read_with(const char *library, const char *dir,
                                struct cpuid_libvirt_defs *defs);

/* libvirt_data.c: the mapping table data/libvirt/x86-features.map. */
struct cpuid_libvirt_feature {
    char *name;   /* libvirt's name */
    int xen;      /* Xen 4.17's feature at the same place (word*32+bit), -1: none */
};
struct cpuid_libvirt_feature_map {
    struct cpuid_libvirt_feature *rows;   /* sorted by name */
    unsigned int count;
};
/* Load the table at path into *map (cpuid_libvirt_feature_map_clear()). */
int cpuid_libvirt_feature_map_load(const char *path, struct cpuid_libvirt_feature_map *map);
/* The row of libvirt feature `name`, NULL if the table lacks it; owned by map. */
const struct cpuid_libvirt_feature *
cpuid_libvirt_feature_find(const struct cpuid_libvirt_feature_map *map, const char *name);
void cpuid_libvirt_feature_map_clear(struct cpuid_libvirt_feature_map *map);

/*
 * libvirt_data.c: the shipped models data/libvirt/x86-models.txt: its
 * models appended to defs, and its "order:" names (libvirt's order of
 * generations) to the word list *order (caller frees).
 */
int cpuid_libvirt_shipped_read(const char *path, struct cpuid_libvirt_defs *defs,
                               char **order);

/*
 * libvirt_models.c: the libvirt models found (installed map plus shipped),
 * inheritance resolved, features mapped to Xen's.  A model xenmig cannot
 * use as a level (a vendor it does not know; an ancestor nowhere defined)
 * has `skipped` set to the reason.
 */
struct cpuid_libvirt_model {
    char *name;        /* libvirt's model name */
    char *source;      /* where its definition was read */
    char *no_xen;      /* word list: features Xen 4.17 has no equivalent for */
    char *no_guest;    /* word list: features whose Xen bit Xen 4.17 offers no
                        * HVM guest (no A/S/H/! in cpufeatureset.h) */
    char *unmapped;    /* word list: features the mapping table does not list */
    char *dropped;     /* word list "XEN:PREREQUISITE": left out by Xen's dependency
                        * rules (the model lists XEN without PREREQUISITE) */
    char *skipped;     /* NULL, or why it is no level */
    char *alias_of;    /* the model it only renames (inherits, adds nothing), or NULL */
    enum cpuid_vendor vendor;       /* CPUID_VENDOR_UNKNOWN: no vendor given */
    unsigned int order;             /* place in libvirt's order, from 1 */
    struct cpuid_featureset features;   /* Xen features, closed */
};
/* *out (cpuid_libvirt_models_free()) and *count; none when no data is found. */
int cpuid_libvirt_models_load(struct cpuid_libvirt_model **out, unsigned int *count);
void cpuid_libvirt_models_free(struct cpuid_libvirt_model *models, unsigned int count);

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
