/*
 * gpu_facts.c: the raw GPU facts of a host (struct cpuid_gpu_facts) and
 * their JSON form, written and read back, plus the reading of the fact
 * strings that both the probe and the levels need (GL_VERSION, extension
 * lists).
 *
 * Facts come from a driver (gpu_probe*.c) or from a file written on
 * another host: this file must never trust JSON it reads back (bounded
 * strings, checked types and ranges), never touch a device or load a
 * driver, and never derive a level (gpu_level.c does).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define FACTS_JSON_TEXT_MAX  (1024 * 1024)

void cpuid_gpu_facts_init(struct cpuid_gpu_facts *facts)
{
    memset(facts, 0, sizeof(*facts));
    facts->nvml_status = CPUID_GPU_SOURCE_ABSENT;
    facts->gl_status = CPUID_GPU_SOURCE_ABSENT;
}

const char *cpuid_gpu_source_status_name(enum cpuid_gpu_source_status status)
{
    switch (status) {
    case CPUID_GPU_SOURCE_OK:     return "ok";
    case CPUID_GPU_SOURCE_ABSENT: return "absent";
    case CPUID_GPU_SOURCE_ERROR:  return "error";
    }
    return "error";
}

/* ------------------------------------------------------- fact strings */

int cpuid_gpu_parse_major_minor(const char *s, size_t length, int *major, int *minor)
{
    size_t i = 0, digits;
    int value;

    for (value = 0, digits = 0; i < length && isdigit((unsigned char)s[i]) && digits <= 3; i++, digits++)
        value = value * 10 + (s[i] - '0');
    if (!digits || digits > 3 || i >= length || s[i] != '.')
        return -1;
    *major = value;
    i++;
    for (value = 0, digits = 0; i < length && isdigit((unsigned char)s[i]) && digits <= 3; i++, digits++)
        value = value * 10 + (s[i] - '0');
    if (!digits || digits > 3 || i != length)
        return -1;
    *minor = value;
    return 0;
}

int cpuid_gpu_gl_version_parse(const char *version, int *major_out, int *minor_out)
{
    char quoted[CPUID_GPU_PROBE_TEXT_MAX * 4 + 8];
    size_t n = 0, length = strnlen(version, CPUID_GPU_PROBE_TEXT_MAX);

    cpuid_text_quote(version, length, quoted, sizeof(quoted));
    if (!strncmp(version, "OpenGL ES", 9))
        return mig_error_set(MIG_EFORMAT, "GL_VERSION '%s' is OpenGL ES, not desktop OpenGL", quoted);
    /* MAJOR.MINOR ends at the first character that is neither digit nor the first '.' */
    while (n < length && isdigit((unsigned char)version[n]))
        n++;
    if (n < length && version[n] == '.') {
        n++;
        while (n < length && isdigit((unsigned char)version[n]))
            n++;
    }
    if (cpuid_gpu_parse_major_minor(version, n, major_out, minor_out))
        return mig_error_set(MIG_EFORMAT, "GL_VERSION '%s' does not start with MAJOR.MINOR", quoted);
    return 0;
}

int cpuid_gpu_word_listed(const char *list, const char *word)
{
    size_t n = strlen(word);

    if (!list)
        return 0;
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ JSON */

/* Add value (a new reference, may be NULL after a failed allocation) as key. */
static int add_member(json_object *obj, const char *key, json_object *value)
{
    if (!value)
        return -1;
    if (json_object_object_add(obj, key, value)) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static int add_string(json_object *obj, const char *key, const char *value)
{
    return add_member(obj, key, json_object_new_string(value));
}

static int add_int(json_object *obj, const char *key, int value)
{
    return add_member(obj, key, json_object_new_int(value));
}

int cpuid_gpu_facts_to_json(const struct cpuid_gpu_facts *facts, json_object **json_out)
{
    json_object *root = json_object_new_object();
    json_object *nvml = json_object_new_object();
    json_object *gl = json_object_new_object();
    json_object *devices = json_object_new_array();
    int rc;

    *json_out = NULL;
    if (!root || !nvml || !gl || !devices)
        goto nomem;
    if (add_string(nvml, "status", cpuid_gpu_source_status_name(facts->nvml_status)) ||
        add_string(nvml, "reason", facts->nvml_reason) ||
        add_string(nvml, "driver_version", facts->driver_version) ||
        add_int(nvml, "device_count", (int)facts->device_count))
        goto nomem;
    for (unsigned int i = 0; i < facts->devices_recorded && i < CPUID_GPU_PROBE_MAX_DEVICES; i++) {
        const struct cpuid_gpu_device_facts *d = &facts->devices[i];
        json_object *device = json_object_new_object();
        char cc[16];

        if (!device)
            goto nomem;
        if (json_object_array_add(devices, device)) {
            json_object_put(device);
            goto nomem;
        }
        if (add_string(device, "name", d->name))
            goto nomem;
        if (d->compute_major >= 0) {
            snprintf(cc, sizeof(cc), "%d.%d", d->compute_major, d->compute_minor);
            if (add_string(device, "compute_capability", cc))
                goto nomem;
        }
    }
    if (json_object_object_add(nvml, "devices", devices))
        goto nomem;
    devices = NULL;
    if (add_string(gl, "status", cpuid_gpu_source_status_name(facts->gl_status)) ||
        add_string(gl, "reason", facts->gl_reason) ||
        add_string(gl, "version", facts->gl_version) ||
        add_string(gl, "renderer", facts->gl_renderer) ||
        add_string(gl, "vendor", facts->gl_vendor) ||
        add_string(gl, "extensions", facts->gl_extensions))
        goto nomem;
    if (json_object_object_add(root, "nvml", nvml))
        goto nomem;
    nvml = NULL;
    if (json_object_object_add(root, "gl", gl))
        goto nomem;
    *json_out = root;
    return 0;

nomem:
    rc = mig_error_set(MIG_ENOMEM, "out of memory building the GPU facts JSON");
    json_object_put(devices);
    json_object_put(gl);
    json_object_put(nvml);
    json_object_put(root);
    return rc;
}

/* Copy member `key` of obj (a string, or absent → "") into dst. */
static int get_string(const json_object *obj, const char *key, const char *where,
                      const char *origin, char *dst, size_t size)
{
    json_object *value;
    const char *s;
    int length;

    dst[0] = '\0';
    if (!json_object_object_get_ex(obj, key, &value) || json_object_is_type(value, json_type_null))
        return 0;
    if (!json_object_is_type(value, json_type_string))
        return mig_error_set(MIG_EFORMAT, "%s: %s.%s must be a string, not %s", origin, where, key,
                             json_type_to_name(json_object_get_type(value)));
    s = json_object_get_string(value);
    length = json_object_get_string_len(value);
    if (length < 0 || (size_t)length >= size)
        return mig_error_set(MIG_EFORMAT, "%s: %s.%s is %d bytes, more than the %zu allowed",
                             origin, where, key, length, size - 1);
    if (memchr(s, '\0', (size_t)length))
        return mig_error_set(MIG_EFORMAT, "%s: %s.%s contains a NUL character", origin, where, key);
    memcpy(dst, s, (size_t)length);
    dst[length] = '\0';
    return 0;
}

static int get_status(const json_object *source, const char *where, const char *origin,
                      enum cpuid_gpu_source_status *status)
{
    char text[16], quoted[64];
    int rc;

    rc = get_string(source, "status", where, origin, text, sizeof(text));
    if (rc)
        return rc;
    if (!strcmp(text, "ok"))
        *status = CPUID_GPU_SOURCE_OK;
    else if (!strcmp(text, "absent"))
        *status = CPUID_GPU_SOURCE_ABSENT;
    else if (!strcmp(text, "error"))
        *status = CPUID_GPU_SOURCE_ERROR;
    else {
        cpuid_text_quote(text, strlen(text), quoted, sizeof(quoted));
        return mig_error_set(MIG_EFORMAT, "%s: %s.status is '%s': expected \"ok\", \"absent\" or \"error\"",
                             origin, where, quoted);
    }
    return 0;
}

static int nvml_from_json(const json_object *nvml, const char *origin, struct cpuid_gpu_facts *facts)
{
    json_object *value, *devices;
    size_t n;
    int rc;

    if (!json_object_is_type(nvml, json_type_object))
        return mig_error_set(MIG_EFORMAT, "%s: \"nvml\" must be an object", origin);
    if ((rc = get_status(nvml, "nvml", origin, &facts->nvml_status)) ||
        (rc = get_string(nvml, "reason", "nvml", origin, facts->nvml_reason, sizeof(facts->nvml_reason))) ||
        (rc = get_string(nvml, "driver_version", "nvml", origin, facts->driver_version,
                         sizeof(facts->driver_version))))
        return rc;
    if (!json_object_object_get_ex(nvml, "devices", &devices))
        devices = NULL;
    if (devices && !json_object_is_type(devices, json_type_array))
        return mig_error_set(MIG_EFORMAT, "%s: nvml.devices must be an array", origin);
    n = devices ? json_object_array_length(devices) : 0;
    if (n > CPUID_GPU_PROBE_MAX_DEVICES)
        return mig_error_set(MIG_EFORMAT, "%s: nvml.devices lists %zu devices, at most %d are recorded",
                             origin, n, CPUID_GPU_PROBE_MAX_DEVICES);
    facts->devices_recorded = (unsigned int)n;
    facts->device_count = (unsigned int)n;
    if (json_object_object_get_ex(nvml, "device_count", &value)) {
        int64_t count;

        if (!json_object_is_type(value, json_type_int))
            return mig_error_set(MIG_EFORMAT, "%s: nvml.device_count must be an integer", origin);
        count = json_object_get_int64(value);
        if (count < (int64_t)n || count > CPUID_GPU_DEVICE_COUNT_MAX)
            return mig_error_set(MIG_EFORMAT, "%s: nvml.device_count %lld is below the %zu devices "
                                 "listed or above %d", origin, (long long)count, n, CPUID_GPU_DEVICE_COUNT_MAX);
        facts->device_count = (unsigned int)count;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *device = json_object_array_get_idx(devices, i);
        struct cpuid_gpu_device_facts *d = &facts->devices[i];
        char where[32], cc[16], quoted[64];

        snprintf(where, sizeof(where), "nvml.devices[%zu]", i);
        if (!json_object_is_type(device, json_type_object))
            return mig_error_set(MIG_EFORMAT, "%s: %s must be an object", origin, where);
        if ((rc = get_string(device, "name", where, origin, d->name, sizeof(d->name))) ||
            (rc = get_string(device, "compute_capability", where, origin, cc, sizeof(cc))))
            return rc;
        d->compute_major = d->compute_minor = -1;
        if (cc[0] && cpuid_gpu_parse_major_minor(cc, strlen(cc), &d->compute_major,
                                                 &d->compute_minor)) {
            cpuid_text_quote(cc, strlen(cc), quoted, sizeof(quoted));
            return mig_error_set(MIG_EFORMAT, "%s: %s.compute_capability '%s' is not MAJOR.MINOR "
                                 "(1-3 digits each, e.g. \"9.0\")", origin, where, quoted);
        }
    }
    return 0;
}

static int gl_from_json(const json_object *gl, const char *origin, struct cpuid_gpu_facts *facts)
{
    int rc;

    if (!json_object_is_type(gl, json_type_object))
        return mig_error_set(MIG_EFORMAT, "%s: \"gl\" must be an object", origin);
    if ((rc = get_status(gl, "gl", origin, &facts->gl_status)) ||
        (rc = get_string(gl, "reason", "gl", origin, facts->gl_reason, sizeof(facts->gl_reason))) ||
        (rc = get_string(gl, "version", "gl", origin, facts->gl_version, sizeof(facts->gl_version))) ||
        (rc = get_string(gl, "renderer", "gl", origin, facts->gl_renderer, sizeof(facts->gl_renderer))) ||
        (rc = get_string(gl, "vendor", "gl", origin, facts->gl_vendor, sizeof(facts->gl_vendor))) ||
        (rc = get_string(gl, "extensions", "gl", origin, facts->gl_extensions,
                         sizeof(facts->gl_extensions))))
        return rc;
    if (facts->gl_status == CPUID_GPU_SOURCE_OK && !facts->gl_version[0])
        return mig_error_set(MIG_EFORMAT, "%s: gl.status is \"ok\" but gl.version is missing", origin);
    return 0;
}

int cpuid_gpu_facts_from_json(const json_object *json, const char *origin,
                              struct cpuid_gpu_facts *facts_out)
{
    json_object *member;
    int rc;

    cpuid_gpu_facts_init(facts_out);
    if (!origin)
        origin = "(GPU facts)";
    if (!json_object_is_type(json, json_type_object))
        return mig_error_set(MIG_EFORMAT, "%s: GPU facts must be a JSON object", origin);
    if (json_object_object_get_ex(json, "nvml", &member)) {
        rc = nvml_from_json(member, origin, facts_out);
        if (rc)
            return rc;
    }
    if (json_object_object_get_ex(json, "gl", &member)) {
        rc = gl_from_json(member, origin, facts_out);
        if (rc)
            return rc;
    }
    return 0;
}

int cpuid_gpu_facts_from_json_text(const char *text, size_t length, const char *origin,
                                   struct cpuid_gpu_facts *facts_out)
{
    struct json_tokener *tokener = NULL;
    json_object *root = NULL, *facts_json;
    size_t end;
    int rc;

    cpuid_gpu_facts_init(facts_out);
    if (!origin)
        origin = "(GPU facts)";
    if (length > FACTS_JSON_TEXT_MAX) {
        rc = mig_error_set(MIG_ELIMIT, "%s: %zu bytes of GPU facts, more than the %d allowed",
                           origin, length, FACTS_JSON_TEXT_MAX);
        goto out;
    }
    tokener = json_tokener_new_ex(32);
    if (!tokener) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory parsing %s", origin);
        goto out;
    }
    root = json_tokener_parse_ex(tokener, text, (int)length);
    if (!root) {
        enum json_tokener_error jerr = json_tokener_get_error(tokener);

        rc = mig_error_set(MIG_EFORMAT, "%s: not valid JSON at offset %zu: %s", origin,
                           json_tokener_get_parse_end(tokener),
                           jerr == json_tokener_continue ? "text ends early"
                                                         : json_tokener_error_desc(jerr));
        goto out;
    }
    end = json_tokener_get_parse_end(tokener);
    while (end < length && strchr(" \t\r\n", text[end]) && text[end])
        end++;
    if (end < length) {
        rc = mig_error_set(MIG_EFORMAT, "%s: unexpected data after the JSON value at offset %zu",
                           origin, end);
        goto out;
    }
    if (json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "facts", &facts_json))
        rc = cpuid_gpu_facts_from_json(facts_json, origin, facts_out);
    else
        rc = cpuid_gpu_facts_from_json(root, origin, facts_out);

out:
    json_object_put(root);
    if (tokener)
        json_tokener_free(tokener);
    return rc;
}

int cpuid_gpu_facts_read_file(const char *path, struct cpuid_gpu_facts *facts_out)
{
    char *text;
    size_t length;
    int rc;

    cpuid_gpu_facts_init(facts_out);
    rc = cpuid_read_text_file(path, "GPU facts file", FACTS_JSON_TEXT_MAX, 0, &text, &length);
    if (rc)
        return rc;
    rc = cpuid_gpu_facts_from_json_text(text, length, path, facts_out);
    free(text);
    return rc;
}
