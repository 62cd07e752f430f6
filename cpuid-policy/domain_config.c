/*
 * domain_config.c: read cpuid_baseline, gpu_baseline and name from xl.cfg
 * text with libxlutil, and set a string key in config text (see
 * cpuid_policy.h, "Domain config").  cpuid_baseline_parse() here is the one
 * parser of a cpuid_baseline value, wherever it comes from (an xl.cfg,
 * --baseline, a domain record).
 *
 * libxlutil prints its parse errors to a FILE*: we hand it a memory stream
 * and turn what it wrote into the mig_error message.  This file must never
 * print anything itself, never exit, and never hand libxlutil more than
 * CPUID_DOMAIN_CONFIG_MAX bytes.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define KEY_NAME_MAX 64

/* A parsed config and the memory stream libxlutil reports into. */
struct parsed_config {
    XLU_Config *config;
    FILE *report;
    char *report_text;
    size_t report_length;
};

static void parsed_config_close(struct parsed_config *parsed)
{
    if (parsed->config)
        xlu_cfg_destroy(parsed->config);   /* uses report: destroy first */
    if (parsed->report)
        fclose(parsed->report);
    free(parsed->report_text);
    memset(parsed, 0, sizeof(*parsed));
}

/* libxlutil's report, trimmed to its last line break, for a message. */
static const char *report_of(struct parsed_config *parsed)
{
    size_t n;

    fflush(parsed->report);
    if (!parsed->report_text)
        return "";
    n = strnlen(parsed->report_text, parsed->report_length);
    while (n && (parsed->report_text[n - 1] == '\n' || parsed->report_text[n - 1] == ' '))
        parsed->report_text[--n] = '\0';
    return parsed->report_text;
}

static int looks_like_json(const char *data, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (data[i] == '{')
            return 1;
        if (!isspace((unsigned char)data[i]))
            return 0;
    }
    return 0;
}

static int parse_config(const char *data, size_t length, const char *origin,
                        struct parsed_config *parsed)
{
    int rc, xlu_rc;

    memset(parsed, 0, sizeof(*parsed));
    if (length > CPUID_DOMAIN_CONFIG_MAX) {
        rc = mig_error_set(MIG_ELIMIT, "%s: config is %zu bytes, more than the %d an xl.cfg may have here",
                           origin, length, CPUID_DOMAIN_CONFIG_MAX);
        goto out;
    }
    if (looks_like_json(data, length)) {
        rc = mig_error_set(MIG_EUNSUPP, "%s: this config is libxl JSON (what stock xl save/migrate "
                           "store), not xl.cfg text: it carries no cpuid_baseline or gpu_baseline; "
                           "give the domain's xl.cfg instead", origin);
        goto out;
    }
    if (memchr(data, '\0', length)) {
        /* libxlutil 4.17 asserts (aborts) on a NUL inside a quoted string */
        rc = mig_error_set(MIG_EFORMAT, "%s: NUL byte at offset %zu: not xl.cfg text", origin,
                           (size_t)((const char *)memchr(data, '\0', length) - data));
        goto out;
    }
    parsed->report = open_memstream(&parsed->report_text, &parsed->report_length);
    if (!parsed->report) {
        rc = mig_error_set_errno(MIG_ENOMEM, errno, "%s: cannot open a report stream", origin);
        goto out;
    }
    parsed->config = xlu_cfg_init(parsed->report, origin);
    if (!parsed->config) {
        rc = mig_error_set(MIG_ENOMEM, "%s: out of memory starting libxlutil", origin);
        goto out;
    }
    xlu_rc = xlu_cfg_readdata(parsed->config, data, (int)length);
    if (xlu_rc) {
        const char *report = report_of(parsed);

        if (report[0])
            rc = mig_error_set(MIG_EFORMAT, "%s (fix the config: xl.cfg syntax is KEY = VALUE, "
                               "strings quoted, lists in [ ])", report);
        else
            rc = mig_error_set_errno(MIG_EFORMAT, xlu_rc, "%s: libxlutil cannot parse the config",
                                     origin);
        goto out;
    }
    rc = 0;

out:
    if (rc)
        parsed_config_close(parsed);
    return rc;
}

/* Get string key into *value_out (malloc'd, NULL when absent). */
static int get_string_key(struct parsed_config *parsed, const char *origin, const char *key,
                          char **value_out)
{
    const char *value = NULL;
    int xlu_rc = xlu_cfg_get_string(parsed->config, key, &value, 1);

    *value_out = NULL;
    if (xlu_rc == ESRCH)
        return 0;
    if (xlu_rc == EINVAL)
        return mig_error_set(MIG_EINVAL, "%s: %s must be a string (%s = \"...\"), not a list",
                             origin, key, key);
    if (xlu_rc)
        return mig_error_set_errno(MIG_EINVAL, xlu_rc, "%s: cannot read %s", origin, key);
    *value_out = strdup(value);
    if (!*value_out)
        return mig_error_set(MIG_ENOMEM, "%s: out of memory", origin);
    return 0;
}

/* `type`, else legacy `builder`, else "pv": what xl builds. */
static int get_domain_type(struct parsed_config *parsed, const char *origin, char **type_out)
{
    char *type = NULL, *builder = NULL, quoted[64];
    int rc;

    *type_out = NULL;
    if ((rc = get_string_key(parsed, origin, "type", &type)) ||
        (rc = get_string_key(parsed, origin, "builder", &builder)))
        goto out;
    if (!type) {
        type = strdup(builder && !strcmp(builder, "hvm") ? "hvm" : "pv");
        if (!type) {
            rc = mig_error_set(MIG_ENOMEM, "%s: out of memory", origin);
            goto out;
        }
    }
    if (strcmp(type, "pv") && strcmp(type, "pvh") && strcmp(type, "hvm")) {
        cpuid_text_quote(type, strnlen(type, 40), quoted, sizeof(quoted));
        rc = mig_error_set(MIG_EINVAL, "%s: type '%s' is not a domain type: write type = \"pv\", "
                           "\"pvh\" or \"hvm\"", origin, quoted);
        goto out;
    }
    *type_out = type;
    type = NULL;
    rc = 0;

out:
    free(type);
    free(builder);
    return rc;
}

/*
 * A level name's syntax: letters, digits, '.', '-', '_', 1 to 63 characters;
 * libvirt's models are such a name after "libvirt:" ("libvirt:Haswell-noTSX").
 */
static bool is_level_name(const char *text)
{
    size_t length = strnlen(text, CPUID_BASELINE_NAME_MAX);
    size_t start = strncmp(text, "libvirt:", 8) ? 0 : 8;

    if (length <= start || length >= CPUID_BASELINE_NAME_MAX)
        return false;
    for (size_t i = start; i < length; i++)
        if (!isalnum((unsigned char)text[i]) && text[i] != '-' && text[i] != '_' &&
            text[i] != '.')
            return false;
    return true;
}

int cpuid_baseline_parse(const char *text, const char *origin, enum cpuid_baseline_kind *kind_out,
                         struct cpuid_featureset *hex_out)
{
    char quoted[CPUID_BASELINE_NAME_MAX * 4 + 8];
    struct cpuid_featureset hex;
    size_t length;

    if (!origin)
        origin = "(baseline)";
    if (!strcmp(text, "cluster")) {
        *kind_out = CPUID_BASELINE_CLUSTER;
        return 0;
    }
    if (strchr(text, ':') && !is_level_name(text)) {
        if (cpuid_featureset_parse_hex(text, 0, &hex))
            return cpuid_error_prefix("%s: cpuid_baseline", origin);
        cpuid_featureset_close(&hex);
        if (hex_out)
            *hex_out = hex;
        *kind_out = CPUID_BASELINE_HEX;
        return 0;
    }
    if (is_level_name(text)) {
        *kind_out = CPUID_BASELINE_LEVEL;
        return 0;
    }
    length = strnlen(text, CPUID_BASELINE_NAME_MAX);
    cpuid_text_quote(text, length, quoted, sizeof(quoted));
    return mig_error_set(MIG_EINVAL, "%s: cpuid_baseline '%s%s' is not a CPU level name, "
                         "\"cluster\" or Xen hex words: write a name such as \"x86-64-v3\", "
                         "\"intel-skylake\", \"amd-zen2\" (letters, digits, '.', '-', '_'; at "
                         "most %d characters), \"cluster\", or %d colon-separated hex words as "
                         "xen-cpuid prints them", origin, quoted,
                         length >= CPUID_BASELINE_NAME_MAX ? "..." : "",
                         CPUID_BASELINE_NAME_MAX - 1, CPUID_FEATURESET_WORDS);
}

int cpuid_domain_config_read_blob(const void *data, size_t length, const char *origin,
                                  const struct cpuid_domain_config_read_options *options,
                                  struct cpuid_domain_config_keys **keys_out)
{
    static const struct cpuid_domain_config_read_options defaults = CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT;
    struct cpuid_domain_config_keys *keys = NULL;
    struct parsed_config parsed = { 0 };
    cpuid_gpu_level_table *own_levels = NULL;
    const cpuid_gpu_level_table *levels;
    const char *text = data;
    int rc;

    *keys_out = NULL;
    if (!origin)
        origin = "(config)";
    if (!options)
        options = &defaults;
    if (options->version != CPUID_DOMAIN_CONFIG_READ_OPTIONS_VERSION) {
        rc = mig_error_set(MIG_EINVAL, "struct cpuid_domain_config_read_options version %u, expected %u: "
                           "initialise it with CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT",
                           options->version, CPUID_DOMAIN_CONFIG_READ_OPTIONS_VERSION);
        goto out;
    }
    while (length && text[length - 1] == '\0')
        length--;
    rc = parse_config(text, length, origin, &parsed);
    if (rc)
        goto out;
    keys = calloc(1, sizeof(*keys));
    if (!keys) {
        rc = mig_error_set(MIG_ENOMEM, "%s: out of memory", origin);
        goto out;
    }
    rc = get_domain_type(&parsed, origin, &keys->type);
    if (rc)
        goto out;
    if ((rc = get_string_key(&parsed, origin, "name", &keys->name)) ||
        (rc = get_string_key(&parsed, origin, "cpuid_baseline", &keys->cpuid_baseline)) ||
        (rc = get_string_key(&parsed, origin, "gpu_baseline", &keys->gpu_baseline)))
        goto out;
    if (keys->cpuid_baseline) {
        enum cpuid_baseline_kind kind;

        rc = cpuid_baseline_parse(keys->cpuid_baseline, origin, &kind, NULL);
        if (rc)
            goto out;
    }
    keys->gpu_requirement.graphics_level = -1;
    keys->gpu_requirement.compute_major = keys->gpu_requirement.compute_minor = -1;
    snprintf(keys->gpu_requirement.graphics_name, sizeof(keys->gpu_requirement.graphics_name), "none");
    snprintf(keys->gpu_requirement.compute_name, sizeof(keys->gpu_requirement.compute_name), "none");
    if (keys->gpu_baseline) {
        levels = options->gpu_levels;
        if (!levels) {
            rc = cpuid_gpu_level_table_load(NULL, &own_levels);
            if (rc)
                goto out;
            levels = own_levels;
        }
        rc = cpuid_gpu_requirement_parse(levels, keys->gpu_baseline, &keys->gpu_requirement);
        if (rc) {
            char message[1024];

            snprintf(message, sizeof(message), "%s", mig_error_last());
            rc = mig_error_set(rc, "%s: %s", origin, message);
            goto out;
        }
    }
    *keys_out = keys;
    keys = NULL;
    rc = 0;

out:
    cpuid_gpu_level_table_free(own_levels);
    cpuid_domain_config_keys_free(keys);
    parsed_config_close(&parsed);
    return rc;
}

int cpuid_domain_config_read_file(const char *path,
                                  const struct cpuid_domain_config_read_options *options,
                                  struct cpuid_domain_config_keys **keys_out)
{
    char *text;
    size_t length;
    int rc;

    *keys_out = NULL;
    rc = cpuid_read_text_file(path, "domain config", CPUID_DOMAIN_CONFIG_MAX, 0, &text, &length);
    if (rc)
        return rc;
    rc = cpuid_domain_config_read_blob(text, length, path, options, keys_out);
    free(text);
    return rc;
}

void cpuid_domain_config_keys_free(struct cpuid_domain_config_keys *keys)
{
    if (!keys)
        return;
    free(keys->name);
    free(keys->type);
    free(keys->cpuid_baseline);
    free(keys->gpu_baseline);
    free(keys);
}

/* ------------------------------------------------------------ writing */

static int valid_key(const char *key)
{
    size_t length = strnlen(key, KEY_NAME_MAX);

    if (!length || length >= KEY_NAME_MAX || !(islower((unsigned char)key[0]) || key[0] == '_'))
        return 0;
    for (size_t i = 0; i < length; i++)
        if (!islower((unsigned char)key[i]) && !isdigit((unsigned char)key[i]) && key[i] != '_')
            return 0;
    return 1;
}

/*
 * Does the line [line, line + length) assign `key`?  If so, check that it
 * is one string assignment and give the offset of a trailing comment
 * (or length).  Returns 1 (assigns, simple), 0 (does not assign), -1
 * (assigns, but not in a form we rewrite).
 */
static int line_assigns(const char *line, size_t length, const char *key, size_t *comment_at)
{
    size_t key_length = strlen(key), i = 0;
    char quote;

    while (i < length && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (length - i < key_length || memcmp(line + i, key, key_length))
        return 0;
    i += key_length;
    if (i < length && (isalnum((unsigned char)line[i]) || line[i] == '_'))
        return 0;                       /* a longer key with our key as prefix */
    while (i < length && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i + 1 < length && line[i] == '+' && line[i + 1] == '=')
        return -1;
    if (i >= length || line[i] != '=')
        return 0;
    i++;
    while (i < length && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= length || (line[i] != '"' && line[i] != '\''))
        return -1;
    quote = line[i++];
    while (i < length && line[i] != quote) {
        if (line[i] == '\\')
            return -1;
        i++;
    }
    if (i >= length)
        return -1;
    i++;
    while (i < length && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i < length && line[i] == ';')
        i++;
    while (i < length && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i < length && line[i] != '#')
        return -1;
    *comment_at = i;
    return 1;
}

/* The key and value that cpuid_domain_config_set_string() may write; *value_length set. */
static int check_key_value(const char *key, const char *value, size_t *value_length)
{
    char quoted[256];
    size_t length;

    cpuid_text_quote(key, strnlen(key, KEY_NAME_MAX + 1), quoted, sizeof(quoted));
    if (!valid_key(key))
        return mig_error_set(MIG_EINVAL, "config key '%s' is not a key name ([a-z_][a-z0-9_]*, "
                             "at most %d characters)", quoted, KEY_NAME_MAX - 1);
    length = strnlen(value, CPUID_DOMAIN_CONFIG_VALUE_MAX);
    for (size_t i = 0; i < length; i++) {
        if (value[i] < 0x20 || value[i] > 0x7e || value[i] == '"' || value[i] == '\\') {
            cpuid_text_quote(value, length < 60 ? length : 60, quoted, sizeof(quoted));
            return mig_error_set(MIG_EINVAL, "value '%s' for %s has a character that cannot go "
                                 "in an xl.cfg string (byte %zu): use printable ASCII without "
                                 "'\"' or '\\'", quoted, key, i);
        }
    }
    if (length >= CPUID_DOMAIN_CONFIG_VALUE_MAX)
        return mig_error_set(MIG_ELIMIT, "value for %s is longer than %d characters", key,
                             CPUID_DOMAIN_CONFIG_VALUE_MAX - 1);
    *value_length = length;
    return 0;
}

/* The last line of a config that assigns a key, as line_assigns() found it. */
struct assignment {
    bool found;
    size_t start, end;          /* the line, without its newline */
    size_t comment_at;          /* offset of a trailing comment, or end */
};

/* Find the last assignment of key in text; MIG_EUNSUPP for one we cannot rewrite. */
static int find_assignment(const char *text, size_t length, const char *key,
                           struct assignment *found)
{
    char quoted[256];

    memset(found, 0, sizeof(*found));
    for (size_t start = 0, lineno = 1; start < length; lineno++) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline ? (size_t)(newline - text) : length, at = 0;
        int assigns = line_assigns(text + start, end - start, key, &at);

        if (assigns < 0) {
            cpuid_text_quote(text + start, end - start < 80 ? end - start : 80, quoted,
                             sizeof(quoted));
            return mig_error_set(MIG_EUNSUPP, "(config):%zu: '%s' assigns %s in a form xl-ext "
                                 "does not rewrite (one `%s = \"...\"` per line): fix that line "
                                 "by hand", lineno, quoted, key, key);
        }
        if (assigns) {
            found->found = true;
            found->start = start;
            found->end = end;
            found->comment_at = start + at;
        }
        start = end + 1;
    }
    return 0;
}

/*
 * text with `key = "value"` in place of the assignment found, or appended;
 * a new string of *used bytes the caller frees, NULL when out of memory.
 */
static char *rewrite_config(const char *text, size_t length, const char *key,
                            const char *value, size_t value_length,
                            const struct assignment *found, size_t *used_out)
{
    size_t size = length + strlen(key) + value_length + 16, used;
    char *result = malloc(size);

    if (!result)
        return NULL;
    if (found->found) {
        size_t indent = 0;

        while (text[found->start + indent] == ' ' || text[found->start + indent] == '\t')
            indent++;
        memcpy(result, text, found->start + indent);
        used = found->start + indent;
        used += (size_t)snprintf(result + used, size - used, "%s = \"%s\"", key, value);
        if (found->comment_at < found->end) {
            result[used++] = ' ';
            memcpy(result + used, text + found->comment_at, found->end - found->comment_at);
            used += found->end - found->comment_at;
        }
        memcpy(result + used, text + found->end, length - found->end);
        used += length - found->end;
    } else {
        memcpy(result, text, length);
        used = length;
        if (length && text[length - 1] != '\n')
            result[used++] = '\n';
        used += (size_t)snprintf(result + used, size - used, "%s = \"%s\"\n", key, value);
    }
    result[used] = '\0';
    *used_out = used;
    return result;
}

int cpuid_domain_config_set_string(const char *text, size_t length, const char *key,
                                   const char *value, char **text_out)
{
    struct parsed_config parsed = { 0 };
    struct assignment found;
    size_t value_length = 0, used = 0;
    const char *read_back = NULL;
    char *result = NULL;
    int rc;

    *text_out = NULL;
    rc = check_key_value(key, value, &value_length);
    if (rc)
        goto out;
    while (length && text[length - 1] == '\0')    /* as xl writes a config blob */
        length--;
    rc = parse_config(text, length, "(config)", &parsed);
    if (rc)
        goto out;
    parsed_config_close(&parsed);
    rc = find_assignment(text, length, key, &found);
    if (rc)
        goto out;
    result = rewrite_config(text, length, key, value, value_length, &found, &used);
    if (!result) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory setting %s", key);
        goto out;
    }

    /* The result must parse and read back as value. */
    rc = parse_config(result, used, "(updated config)", &parsed);
    if (rc)
        goto out;
    if (xlu_cfg_get_string(parsed.config, key, &read_back, 1) || strcmp(read_back, value)) {
        rc = mig_error_set(MIG_EUNSUPP, "setting %s did not take: libxlutil reads another "
                           "assignment of it (several on one line?); fix the config by hand", key);
        goto out;
    }
    *text_out = result;
    result = NULL;
    rc = 0;

out:
    parsed_config_close(&parsed);
    free(result);
    return rc;
}
