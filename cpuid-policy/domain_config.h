/*
 * domain_config.h: the xenmig keys of a domain's xl.cfg, read with
 * libxlutil (the parser stock xl uses), and written back into config text.
 *
 *   name            = "web1"                 the domain's name (xl's key)
 *   type            = "hvm"                  pv, pvh or hvm (xl's key; CPUID policy choice)
 *   cpuid_baseline  = "x86-64-v3"            a named CPU level, or "cluster"
 *   gpu_baseline    = "d3d11.0-gl4.1,cuda-8.0"  see gpu_level.h
 *
 * Stock xl ignores the two baseline keys; xl-ext reads them here.  The
 * reader works on a file or on an in-memory blob (the config text that
 * travels with a domain).  Note: the config blob in a stock Xen 4.17 `xl
 * save` file or migration stream is libxl's JSON (xl writes it with
 * XL_MANDATORY_FLAG_JSON), not xl.cfg text, and carries no baseline keys;
 * the reader recognises such a blob and says so (MIG_EUNSUPP) instead of
 * reporting "no baseline".
 *
 * It also returns `type` as cpuid-policy's cpuid_domain_config_read() does
 * (pv/pvh/hvm, same defaults), so that reader can become a thin wrapper:
 * baseline = keys->cpuid_baseline, type = keys->type.
 *
 * Users: `xl-ext create` (read + cpuid_gpu_capability_check), migration
 * pre-flight (read the blob), and the recording of a resolved baseline
 * (cpuid_domain_config_set_string, e.g. cpuid_baseline_features = "...").
 */
#ifndef XENMIG_DOMAIN_CONFIG_H
#define XENMIG_DOMAIN_CONFIG_H

#include <stddef.h>

#include "gpu_level.h"

#define CPUID_DOMAIN_CONFIG_MAX         (1024 * 1024) /* bytes of config text read */
#define CPUID_DOMAIN_CONFIG_VALUE_MAX   4096          /* a value set by _set_string */
#define CPUID_BASELINE_NAME_MAX   64            /* cpuid_baseline, incl. NUL */

/* The xenmig keys of one config.  Strings are NULL when the key is absent. */
struct cpuid_domain_config_keys {
    char *name;                 /* "name" */
    char *type;                 /* never NULL: "pv", "pvh" or "hvm", from `type`, else
                                 * the legacy `builder = "hvm"`, else "pv" (as xl does) */
    char *cpuid_baseline;       /* checked to be a plausible level name only */
    char *gpu_baseline;         /* validated against the GPU level table */
    struct cpuid_gpu_requirement gpu_requirement; /* parsed gpu_baseline; "none" when absent */
};

/* Options of the readers: versioned, initialise with the macro. */
struct cpuid_domain_config_read_options {
    unsigned int version;
    /* The GPU levels to validate gpu_baseline against; NULL: the default
     * table (cpuid_gpu_level_table_load(NULL)) is loaded when the key is present. */
    const cpuid_gpu_level_table *gpu_levels;
};
#define CPUID_DOMAIN_CONFIG_READ_OPTIONS_VERSION 1
#define CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT { CPUID_DOMAIN_CONFIG_READ_OPTIONS_VERSION, NULL }

/*
 * Read the xenmig keys of the xl.cfg file at `path` (at most
 * CPUID_DOMAIN_CONFIG_MAX bytes).  options may be NULL (defaults).
 *
 * On success *keys_out is a new struct owned by the caller, freed with
 * cpuid_domain_config_keys_free(); on failure *keys_out is NULL.  Errors
 * (message via mig_error_last(), always naming the file):
 *   MIG_EIO      the file cannot be read
 *   MIG_ELIMIT   the file is larger than CPUID_DOMAIN_CONFIG_MAX
 *   MIG_EFORMAT  libxlutil cannot parse it: its own report, with file and
 *                line ("web1.cfg:7: config parsing error near `x': ...")
 *   MIG_EINVAL   a key has a bad value: a list where a string belongs, a
 *                type other than pv/pvh/hvm, a
 *                cpuid_baseline that is not a level name, an unknown GPU
 *                level (the message quotes it and lists the valid levels)
 *   MIG_EUNSUPP  the text is libxl JSON, not xl.cfg (see above)
 */
int cpuid_domain_config_read_file(const char *path,
                            const struct cpuid_domain_config_read_options *options,
                            struct cpuid_domain_config_keys **keys_out);

/*
 * As cpuid_domain_config_read_file(), from `length` bytes of config text at
 * `data` (need not be NUL-terminated; trailing NUL bytes, as xl writes
 * them, are ignored).  `origin` names the blob in messages
 * ("web1.save:config").
 */
int cpuid_domain_config_read_blob(const void *data, size_t length, const char *origin,
                            const struct cpuid_domain_config_read_options *options,
                            struct cpuid_domain_config_keys **keys_out);

/* Free keys from the readers; NULL is fine. */
void cpuid_domain_config_keys_free(struct cpuid_domain_config_keys *keys);

/*
 * Set `key = "value"` in the xl.cfg text of `length` bytes at `text`, for
 * recording a resolved baseline in the config that travels with a domain.
 * The last existing assignment of key is replaced in place (its line must
 * hold that one assignment, optionally followed by ';' and a comment);
 * otherwise the assignment is appended.  Everything else, comments
 * included, is kept byte for byte.  The result is re-parsed with libxlutil
 * and must read back as `value`.
 *
 * key: [a-z_][a-z0-9_]*, at most 63 characters.  value: printable ASCII
 * without '"' or '\', at most CPUID_DOMAIN_CONFIG_VALUE_MAX - 1 characters.
 *
 * On success *text_out is a new NUL-terminated string owned by the caller
 * (free()); on failure it is NULL.  Errors: MIG_EINVAL (bad key or value,
 * quoted), MIG_EFORMAT (the input does not parse, libxlutil's report),
 * MIG_EUNSUPP (the key's line holds more than one statement or a
 * non-string value: the message quotes the line and says to fix it by
 * hand), MIG_ELIMIT, MIG_ENOMEM.
 */
int cpuid_domain_config_set_string(const char *text, size_t length, const char *key,
                             const char *value, char **text_out);

#endif /* XENMIG_DOMAIN_CONFIG_H */
