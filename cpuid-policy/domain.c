/*
 * domain.c: what a domain needs and whether a host has it (the migration
 * pre-flight).
 *
 * cpuid_domain_config_read() is a deliberately small reader of two xl.cfg
 * keys (cpuid_baseline, type/builder): the hook the lead switches to the
 * vGPU room's libxlutil-based domain_config reader.  This file must never
 * guess a missing feature as present, and never print.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAX_VALUE 256

/* The value of `key = "..."` on line (len bytes), or NULL if another key. */
static int match_key(const char *line, size_t len, const char *key, const char *path,
                     unsigned int lineno, char **value)
{
    size_t klen = strlen(key), i = 0, start, vlen;
    char quote;

    *value = NULL;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (len - i < klen || strncmp(line + i, key, klen))
        return 0;
    i += klen;
    if (i < len && (isalnum((unsigned char)line[i]) || line[i] == '_'))
        return 0;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i == len || line[i] != '=')
        return mig_error_set(MIG_EFORMAT, "%s:%u: '%s' without '=': write %s = \"VALUE\"",
                             path, lineno, key, key);
    i++;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i == len || (line[i] != '"' && line[i] != '\''))
        return mig_error_set(MIG_EFORMAT, "%s:%u: the value of '%s' must be a quoted string",
                             path, lineno, key);
    quote = line[i++];
    start = i;
    while (i < len && line[i] != quote)
        i++;
    if (i == len)
        return mig_error_set(MIG_EFORMAT, "%s:%u: unterminated string after '%s ='", path,
                             lineno, key);
    vlen = i - start;
    if (vlen == 0 || vlen > MAX_VALUE)
        return mig_error_set(MIG_EFORMAT, "%s:%u: the value of '%s' must have 1 to %d "
                             "characters", path, lineno, key, MAX_VALUE);
    *value = strndup(line + start, vlen);
    if (!*value)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    return 0;
}

int cpuid_domain_config_read(const char *path, char **baseline_out, char **type_out)
{
    char *text = NULL, *baseline = NULL, *type = NULL, *builder = NULL;
    const char *cursor, *end, *line;
    size_t len, line_len;
    unsigned int lineno = 0;
    int rc;

    rc = cpuid_read_text_file(path, &text, &len);
    if (rc)
        return rc;
    cursor = text;
    end = text + len;
    while (cpuid_next_line(&cursor, end, &line, &line_len)) {
        static const char *const keys[] = { "cpuid_baseline", "type", "builder" };
        char **slots[] = { &baseline, &type, &builder };

        lineno++;
        for (unsigned int k = 0; k < 3; k++) {
            char *value;

            rc = match_key(line, line_len, keys[k], path, lineno, &value);
            if (rc)
                goto out;
            if (value) {
                free(*slots[k]);
                *slots[k] = value;
            }
        }
    }
    if (!type)
        type = cpuid_strdup(builder && !strcmp(builder, "hvm") ? "hvm" : "pv");
    if (!type) {
        rc = MIG_ENOMEM;
        goto out;
    }
    if (strcmp(type, "pv") && strcmp(type, "pvh") && strcmp(type, "hvm")) {
        rc = mig_error_set(MIG_EFORMAT, "%s: type \"%s\" is not pv, pvh or hvm", path, type);
        goto out;
    }
    *baseline_out = baseline;
    *type_out = type;
    baseline = type = NULL;
    rc = 0;
 out:
    free(text);
    free(baseline);
    free(type);
    free(builder);
    return rc;
}

int cpuid_baseline_resolve(const char *baseline, const struct cpuid_level_set *levels,
                           const struct cpuid_cluster *cluster, const char *origin,
                           struct cpuid_featureset *out)
{
    const struct cpuid_level *level = cpuid_level_set_find(levels, baseline);

    if (level) {
        *out = level->features;
        return 0;
    }
    if (!strcmp(baseline, "cluster")) {
        if (!cluster)
            return mig_error_set(MIG_EINVAL, "%s: cpuid_baseline is \"cluster\": pass the "
                                 "cluster file with --cluster FILE", origin);
        *out = *cpuid_cluster_baseline_features(cluster);
        return 0;
    }
    if (strchr(baseline, ':')) {
        int rc = cpuid_featureset_parse_hex(baseline, 0, out);

        if (rc)
            return cpuid_error_prefix("%s: cpuid_baseline", origin);
        cpuid_featureset_close(out);
        return 0;
    }
    return mig_error_set(MIG_EINVAL, "%s: unknown baseline \"%.64s\": use a level name "
                         "('xl-ext cpuid-policy levels' lists them), \"cluster\" or Xen hex "
                         "words", origin, baseline);
}

int cpuid_policy_check(const struct cpuid_featureset *required,
                       const struct cpuid_featureset *host,
                       struct cpuid_featureset *missing)
{
    struct cpuid_featureset lack;

    cpuid_featureset_subtract(&lack, required, host);
    if (missing)
        *missing = lack;
    if (cpuid_featureset_is_empty(&lack))
        return 0;
    return mig_error_set(MIG_ECOMPAT, "the host lacks %u feature(s) the domain's baseline "
                         "needs", cpuid_featureset_count(&lack));
}

enum cpuid_host_policy cpuid_host_policy_for_type(const char *type)
{
    return type && !strcmp(type, "pv") ? CPUID_HOST_POLICY_PV_MAX : CPUID_HOST_POLICY_HVM_MAX;
}
