/*
 * gpu_level.c: the level table (data file parser), gpu_baseline parsing,
 * deriving a host's levels from its raw facts (gpu_facts.c), and the
 * host >= domain check (see cpuid_policy.h, "GPU levels").
 *
 * Pure code: it must never touch a GPU, load a driver, read any file but
 * the levels file, or know where the facts came from (a probe or JSON).
 * Every input (levels file, baseline strings, facts) is untrusted: bounded
 * lengths, no crash on any byte.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define LEVELS_FILE_MAX      (64 * 1024)
#define GRAPHICS_LEVELS_MAX  64
#define COMPUTE_LEVELS_MAX   128
#define LEVEL_EXTENSIONS_MAX 16
#define EXTENSION_NAME_MAX   64
#define LEVELS_FILE_NAME     "gpu-levels"

struct graphics_level {
    char name[CPUID_GPU_LEVEL_NAME_MAX];
    int gl_major, gl_minor;
    int core_major, core_minor;           /* extensions implied from here; -1 never */
    unsigned int extension_count;
    char extensions[LEVEL_EXTENSIONS_MAX][EXTENSION_NAME_MAX];
};

struct compute_level {
    char name[CPUID_GPU_LEVEL_NAME_MAX];
    int major, minor;
};

struct cpuid_gpu_level_table {
    char *origin;
    char *names;                          /* "none, d3d10.0-gl3.3, ..." */
    unsigned int graphics_count;
    struct graphics_level graphics[GRAPHICS_LEVELS_MAX];
    unsigned int compute_count;
    struct compute_level compute[COMPUTE_LEVELS_MAX];
};

static int version_compare(int major_a, int minor_a, int major_b, int minor_b)
{
    if (major_a != major_b)
        return major_a < major_b ? -1 : 1;
    if (minor_a != minor_b)
        return minor_a < minor_b ? -1 : 1;
    return 0;
}

static int valid_level_name(const char *s, size_t length)
{
    if (!length || length >= CPUID_GPU_LEVEL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < length; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
            s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

static int compute_level_cmp(const void *a, const void *b)
{
    const struct compute_level *x = a, *y = b;

    return version_compare(x->major, x->minor, y->major, y->minor);
}

static const struct graphics_level *find_graphics(const cpuid_gpu_level_table *table,
                                                  const char *name, size_t length,
                                                  int *index)
{
    for (unsigned int i = 0; i < table->graphics_count; i++)
        if (strlen(table->graphics[i].name) == length &&
            !memcmp(table->graphics[i].name, name, length)) {
            *index = (int)i;
            return &table->graphics[i];
        }
    return NULL;
}

static const struct compute_level *find_compute(const cpuid_gpu_level_table *table,
                                                const char *name, size_t length)
{
    for (unsigned int i = 0; i < table->compute_count; i++)
        if (strlen(table->compute[i].name) == length &&
            !memcmp(table->compute[i].name, name, length))
            return &table->compute[i];
    return NULL;
}

/* "graphics NAME key=value..." with tokens already split. */
static int parse_graphics_line(cpuid_gpu_level_table *table, char **tokens, unsigned int count,
                               const char *where)
{
    struct graphics_level *level;
    int have_gl = 0, dummy;
    char quoted[96];

    if (count < 2)
        return mig_error_set(MIG_EFORMAT, "%s: 'graphics' needs a level name and gl=MAJOR.MINOR", where);
    if (table->graphics_count >= GRAPHICS_LEVELS_MAX)
        return mig_error_set(MIG_ELIMIT, "%s: more than %d graphics levels", where, GRAPHICS_LEVELS_MAX);
    cpuid_text_quote(tokens[1], strlen(tokens[1]), quoted, sizeof(quoted));
    if (!valid_level_name(tokens[1], strlen(tokens[1])) || !strcmp(tokens[1], "none"))
        return mig_error_set(MIG_EFORMAT, "%s: bad level name '%s': use lower-case letters, "
                             "digits, '.' and '-', at most %d characters", where, quoted,
                             CPUID_GPU_LEVEL_NAME_MAX - 1);
    if (find_graphics(table, tokens[1], strlen(tokens[1]), &dummy) ||
        find_compute(table, tokens[1], strlen(tokens[1])))
        return mig_error_set(MIG_EFORMAT, "%s: level '%s' is defined twice", where, quoted);

    level = &table->graphics[table->graphics_count];
    memset(level, 0, sizeof(*level));
    snprintf(level->name, sizeof(level->name), "%s", tokens[1]);
    level->core_major = level->core_minor = -1;

    for (unsigned int i = 2; i < count; i++) {
        const char *t = tokens[i];

        cpuid_text_quote(t, strlen(t), quoted, sizeof(quoted));
        if (!strncmp(t, "gl=", 3)) {
            if (cpuid_gpu_parse_major_minor(t + 3, strlen(t + 3), &level->gl_major, &level->gl_minor))
                return mig_error_set(MIG_EFORMAT, "%s: bad '%s': write gl=MAJOR.MINOR, e.g. gl=4.1",
                                     where, quoted);
            have_gl = 1;
        } else if (!strncmp(t, "ext-core=", 9)) {
            if (cpuid_gpu_parse_major_minor(t + 9, strlen(t + 9), &level->core_major, &level->core_minor))
                return mig_error_set(MIG_EFORMAT, "%s: bad '%s': write ext-core=MAJOR.MINOR",
                                     where, quoted);
        } else if (!strncmp(t, "ext=", 4)) {
            const char *p = t + 4;

            while (*p) {
                size_t n = strcspn(p, ",");

                if (!n || n >= EXTENSION_NAME_MAX ||
                    level->extension_count >= LEVEL_EXTENSIONS_MAX)
                    return mig_error_set(MIG_EFORMAT, "%s: bad '%s': at most %d extension names "
                                         "of 1-%d characters, comma separated", where, quoted,
                                         LEVEL_EXTENSIONS_MAX, EXTENSION_NAME_MAX - 1);
                memcpy(level->extensions[level->extension_count], p, n);
                level->extensions[level->extension_count][n] = '\0';
                level->extension_count++;
                p += n;
                if (*p == ',')
                    p++;
            }
        } else {
            return mig_error_set(MIG_EFORMAT, "%s: unknown attribute '%s' (expected gl=, ext=, ext-core=)",
                                 where, quoted);
        }
    }
    if (!have_gl)
        return mig_error_set(MIG_EFORMAT, "%s: graphics level '%s' has no gl=MAJOR.MINOR",
                             where, level->name);
    if (table->graphics_count) {
        const struct graphics_level *prev = &table->graphics[table->graphics_count - 1];

        if (version_compare(level->gl_major, level->gl_minor, prev->gl_major, prev->gl_minor) < 0)
            return mig_error_set(MIG_EFORMAT, "%s: level '%s' (gl=%d.%d) is listed after '%s' "
                                 "(gl=%d.%d): list graphics levels lowest first",
                                 where, level->name, level->gl_major, level->gl_minor,
                                 prev->name, prev->gl_major, prev->gl_minor);
    }
    table->graphics_count++;
    return 0;
}

static int parse_compute_line(cpuid_gpu_level_table *table, char **tokens, unsigned int count,
                              const char *where)
{
    struct compute_level *level;
    char quoted[96];
    int dummy;

    if (count != 2)
        return mig_error_set(MIG_EFORMAT, "%s: write 'compute cuda-MAJOR.MINOR' (one name, nothing else)",
                             where);
    if (table->compute_count >= COMPUTE_LEVELS_MAX)
        return mig_error_set(MIG_ELIMIT, "%s: more than %d compute levels", where, COMPUTE_LEVELS_MAX);
    cpuid_text_quote(tokens[1], strlen(tokens[1]), quoted, sizeof(quoted));
    level = &table->compute[table->compute_count];
    if (strncmp(tokens[1], "cuda-", 5) || strlen(tokens[1]) >= CPUID_GPU_LEVEL_NAME_MAX ||
        cpuid_gpu_parse_major_minor(tokens[1] + 5, strlen(tokens[1] + 5), &level->major, &level->minor))
        return mig_error_set(MIG_EFORMAT, "%s: bad compute level '%s': write cuda-MAJOR.MINOR, e.g. cuda-8.0",
                             where, quoted);
    if (find_compute(table, tokens[1], strlen(tokens[1])) ||
        find_graphics(table, tokens[1], strlen(tokens[1]), &dummy))
        return mig_error_set(MIG_EFORMAT, "%s: level '%s' is defined twice", where, quoted);
    for (unsigned int i = 0; i < table->compute_count; i++)
        if (table->compute[i].major == level->major && table->compute[i].minor == level->minor)
            return mig_error_set(MIG_EFORMAT, "%s: '%s' repeats compute capability %d.%d of '%s'",
                                 where, quoted, level->major, level->minor, table->compute[i].name);
    /* canonical name, so "cuda-08.0" cannot sneak in as a second spelling */
    snprintf(level->name, sizeof(level->name), "cuda-%d.%d", level->major, level->minor);
    if (strcmp(level->name, tokens[1]))
        return mig_error_set(MIG_EFORMAT, "%s: write '%s' as '%s'", where, quoted, level->name);
    table->compute_count++;
    return 0;
}

static int build_names(cpuid_gpu_level_table *table)
{
    size_t size = 8;
    char *p;

    for (unsigned int i = 0; i < table->graphics_count; i++)
        size += strlen(table->graphics[i].name) + 2;
    for (unsigned int i = 0; i < table->compute_count; i++)
        size += strlen(table->compute[i].name) + 2;
    table->names = malloc(size);
    if (!table->names)
        return mig_error_set(MIG_ENOMEM, "out of memory listing GPU levels");
    p = table->names;
    p += sprintf(p, "none");
    for (unsigned int i = 0; i < table->graphics_count; i++)
        p += sprintf(p, ", %s", table->graphics[i].name);
    for (unsigned int i = 0; i < table->compute_count; i++)
        p += sprintf(p, ", %s", table->compute[i].name);
    return 0;
}

int cpuid_gpu_level_table_parse(const char *text, size_t length, const char *origin,
                                cpuid_gpu_level_table **table_out)
{
    cpuid_gpu_level_table *table = NULL;
    char *copy = NULL, *line, *next;
    unsigned int lineno = 0;
    int rc;

    *table_out = NULL;
    if (!origin)
        origin = "(levels)";
    if (length > LEVELS_FILE_MAX) {
        rc = mig_error_set(MIG_ELIMIT, "%s: GPU levels file is %zu bytes, more than the %d allowed",
                           origin, length, LEVELS_FILE_MAX);
        goto out;
    }
    table = calloc(1, sizeof(*table));
    copy = malloc(length + 1);
    if (!table || !copy || !(table->origin = strdup(origin))) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory reading %s", origin);
        goto out;
    }
    memcpy(copy, text, length);
    copy[length] = '\0';
    if (memchr(copy, '\0', length)) {
        rc = mig_error_set(MIG_EFORMAT, "%s: contains a NUL byte at offset %zu: not a text file",
                           origin, (size_t)((char *)memchr(copy, '\0', length) - copy));
        goto out;
    }

    for (line = copy; line; line = next) {
        char *tokens[LEVEL_EXTENSIONS_MAX + 8];
        unsigned int count = 0;
        char where[512], *hash, *save = NULL, *tok;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        snprintf(where, sizeof(where), "%s:%u", origin, lineno);
        for (tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
            if (count == sizeof(tokens) / sizeof(tokens[0])) {
                rc = mig_error_set(MIG_EFORMAT, "%s: too many words on one line", where);
                goto out;
            }
            tokens[count++] = tok;
        }
        if (!count)
            continue;
        if (!strcmp(tokens[0], "graphics")) {
            rc = parse_graphics_line(table, tokens, count, where);
        } else if (!strcmp(tokens[0], "compute")) {
            rc = parse_compute_line(table, tokens, count, where);
        } else {
            char quoted[96];

            cpuid_text_quote(tokens[0], strlen(tokens[0]), quoted, sizeof(quoted));
            rc = mig_error_set(MIG_EFORMAT, "%s: unknown line kind '%s': a line starts with "
                               "'graphics' or 'compute'", where, quoted);
        }
        if (rc)
            goto out;
    }
    qsort(table->compute, table->compute_count, sizeof(table->compute[0]), compute_level_cmp);
    rc = build_names(table);
    if (rc)
        goto out;
    *table_out = table;
    table = NULL;
    rc = 0;

out:
    free(copy);
    cpuid_gpu_level_table_free(table);
    return rc;
}

static int read_levels_file(const char *path, cpuid_gpu_level_table **table_out)
{
    char *text;
    size_t length;
    int rc;

    rc = cpuid_read_text_file(path, "GPU levels file", LEVELS_FILE_MAX, 0, &text, &length);
    if (rc)
        return rc;
    rc = cpuid_gpu_level_table_parse(text, length, path, table_out);
    free(text);
    return rc;
}

int cpuid_gpu_level_table_load(const char *path, cpuid_gpu_level_table **table_out)
{
    const char *env = getenv("XENMIG_GPU_LEVELS");
    static const char *const dirs[] = { XENMIG_DATADIR, XENMIG_SRCDATADIR };
    char candidate[4096];

    *table_out = NULL;
    if (path)
        return read_levels_file(path, table_out);
    if (env && *env)
        return read_levels_file(env, table_out);
    for (unsigned int i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(candidate, sizeof(candidate), "%s/%s", dirs[i], LEVELS_FILE_NAME);
        if (access(candidate, R_OK) == 0)
            return read_levels_file(candidate, table_out);
    }
    return mig_error_set(MIG_EIO, "no GPU levels file: looked for %s/%s and %s/%s; "
                         "install xenmig or set XENMIG_GPU_LEVELS=FILE",
                         XENMIG_DATADIR, LEVELS_FILE_NAME, XENMIG_SRCDATADIR, LEVELS_FILE_NAME);
}

void cpuid_gpu_level_table_free(cpuid_gpu_level_table *table)
{
    if (!table)
        return;
    free(table->origin);
    free(table->names);
    free(table);
}

const char *cpuid_gpu_level_table_origin(const cpuid_gpu_level_table *table)
{
    return table->origin;
}

const char *cpuid_gpu_level_table_names(const cpuid_gpu_level_table *table)
{
    return table->names;
}

static void requirement_none(struct cpuid_gpu_requirement *req)
{
    memset(req, 0, sizeof(*req));
    req->graphics_level = -1;
    req->compute_major = req->compute_minor = -1;
    snprintf(req->graphics_name, sizeof(req->graphics_name), "none");
    snprintf(req->compute_name, sizeof(req->compute_name), "none");
}

int cpuid_gpu_requirement_parse(const cpuid_gpu_level_table *table, const char *text,
                                struct cpuid_gpu_requirement *requirement_out)
{
    char quoted[CPUID_GPU_BASELINE_TEXT_MAX * 4 + 8], part_quoted[CPUID_GPU_BASELINE_TEXT_MAX * 4 + 8];
    const char *p, *end;
    unsigned int parts = 0;
    int saw_none = 0;
    size_t length;

    requirement_none(requirement_out);
    if (!text)
        return mig_error_set(MIG_EINVAL, "no gpu_baseline given");
    length = strnlen(text, CPUID_GPU_BASELINE_TEXT_MAX);
    cpuid_text_quote(text, length, quoted, sizeof(quoted));
    if (length >= CPUID_GPU_BASELINE_TEXT_MAX)
        return mig_error_set(MIG_EINVAL, "gpu_baseline '%s...' is longer than %d characters: "
                             "name at most one graphics and one compute level",
                             quoted, CPUID_GPU_BASELINE_TEXT_MAX - 1);

    for (p = text, end = text + length; ; p++) {
        const char *start = p, *stop;
        const struct compute_level *compute;
        int index;

        p = memchr(start, ',', (size_t)(end - start));
        if (!p)
            p = end;
        stop = p;
        while (start < stop && (*start == ' ' || *start == '\t'))
            start++;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        cpuid_text_quote(start, (size_t)(stop - start), part_quoted, sizeof(part_quoted));
        parts++;
        if (start == stop) {
            return mig_error_set(MIG_EINVAL, "gpu_baseline '%s': empty level name%s; valid levels: %s",
                                 quoted, parts > 1 ? " after a comma" : "",
                                 cpuid_gpu_level_table_names(table));
        } else if ((size_t)(stop - start) == 4 && !memcmp(start, "none", 4)) {
            saw_none = 1;
        } else if (find_graphics(table, start, (size_t)(stop - start), &index)) {
            if (requirement_out->graphics_level >= 0)
                return mig_error_set(MIG_EINVAL, "gpu_baseline '%s' names two graphics levels "
                                     "('%s' and '%s'): name one graphics and at most one compute level",
                                     quoted, requirement_out->graphics_name, part_quoted);
            requirement_out->graphics_level = index;
            snprintf(requirement_out->graphics_name, sizeof(requirement_out->graphics_name),
                     "%s", table->graphics[index].name);
        } else if ((compute = find_compute(table, start, (size_t)(stop - start)))) {
            if (requirement_out->compute_major >= 0)
                return mig_error_set(MIG_EINVAL, "gpu_baseline '%s' names two compute levels "
                                     "('%s' and '%s'): name one graphics and at most one compute level",
                                     quoted, requirement_out->compute_name, part_quoted);
            requirement_out->compute_major = compute->major;
            requirement_out->compute_minor = compute->minor;
            snprintf(requirement_out->compute_name, sizeof(requirement_out->compute_name),
                     "%s", compute->name);
        } else {
            return mig_error_set(MIG_EINVAL, "gpu_baseline '%s': unknown GPU level '%s'; valid levels "
                                 "(from %s): %s", quoted, part_quoted,
                                 cpuid_gpu_level_table_origin(table), cpuid_gpu_level_table_names(table));
        }
        if (p == end)
            break;
    }
    if (saw_none && parts > 1)
        return mig_error_set(MIG_EINVAL, "gpu_baseline '%s': 'none' cannot be combined with a level",
                             quoted);
    return 0;
}

static void append_part(char *buf, size_t size, const char *part)
{
    size_t used = strnlen(buf, size);

    if (used + 1 < size)
        snprintf(buf + used, size - used, "%s%s", used ? "," : "", part);
}

/* "GRAPHICS,COMPUTE", either part only when set, or "none". */
static void format_levels(int graphics_level, const char *graphics_name, int compute_major,
                          const char *compute_name, char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    if (graphics_level >= 0)
        append_part(buf, size, graphics_name);
    if (compute_major >= 0)
        append_part(buf, size, compute_name);
    if (!buf[0])
        snprintf(buf, size, "none");
}

void cpuid_gpu_requirement_format(const struct cpuid_gpu_requirement *requirement,
                                  char *buf, size_t size)
{
    format_levels(requirement->graphics_level, requirement->graphics_name,
                  requirement->compute_major, requirement->compute_name, buf, size);
}

static int graphics_level_met(const struct graphics_level *level, int major, int minor,
                              const char *extensions)
{
    if (version_compare(major, minor, level->gl_major, level->gl_minor) < 0)
        return 0;
    if (level->core_major >= 0 &&
        version_compare(major, minor, level->core_major, level->core_minor) >= 0)
        return 1;
    for (unsigned int i = 0; i < level->extension_count; i++)
        if (!cpuid_gpu_word_listed(extensions, level->extensions[i]))
            return 0;
    return 1;
}

int cpuid_gpu_capability_from_facts(const cpuid_gpu_level_table *table,
                                    const struct cpuid_gpu_facts *facts,
                                    struct cpuid_gpu_capability *capability_out)
{
    struct cpuid_gpu_capability *cap = capability_out;
    int rc;

    memset(cap, 0, sizeof(*cap));
    cap->graphics_level = -1;
    cap->gl_major = cap->gl_minor = -1;
    cap->compute_major = cap->compute_minor = -1;
    snprintf(cap->graphics_name, sizeof(cap->graphics_name), "none");
    snprintf(cap->compute_name, sizeof(cap->compute_name), "none");

    /* compute: the best NVIDIA device */
    if (facts->nvml_status == CPUID_GPU_SOURCE_OK) {
        const struct cpuid_gpu_device_facts *best = NULL;
        unsigned int recorded = facts->devices_recorded;

        if (recorded > CPUID_GPU_PROBE_MAX_DEVICES)
            recorded = CPUID_GPU_PROBE_MAX_DEVICES;
        for (unsigned int i = 0; i < recorded; i++) {
            const struct cpuid_gpu_device_facts *d = &facts->devices[i];

            if (d->compute_major < 0 || d->compute_minor < 0)
                continue;
            if (!best || version_compare(d->compute_major, d->compute_minor,
                                         best->compute_major, best->compute_minor) > 0)
                best = d;
        }
        if (best) {
            cap->compute_major = best->compute_major;
            cap->compute_minor = best->compute_minor;
            snprintf(cap->compute_name, sizeof(cap->compute_name), "cuda-%d.%d",
                     best->compute_major, best->compute_minor);
            if (facts->device_count > 1)
                snprintf(cap->compute_detail, sizeof(cap->compute_detail), "%.100s, best of %u devices",
                         best->name, facts->device_count);
            else
                snprintf(cap->compute_detail, sizeof(cap->compute_detail), "%.150s", best->name);
        } else {
            snprintf(cap->compute_detail, sizeof(cap->compute_detail),
                     "NVML reports no device with a compute capability");
        }
    } else {
        snprintf(cap->compute_detail, sizeof(cap->compute_detail), "no NVIDIA GPU: %.120s",
                 facts->nvml_reason[0] ? facts->nvml_reason : "not probed");
    }

    /* graphics: the highest level reached without a gap */
    if (facts->gl_status == CPUID_GPU_SOURCE_OK && !strncmp(facts->gl_version, "OpenGL ES", 9)) {
        snprintf(cap->graphics_detail, sizeof(cap->graphics_detail), "OpenGL ES only: %.70s, %.60s",
                 facts->gl_renderer, facts->gl_version);
    } else if (facts->gl_status == CPUID_GPU_SOURCE_OK) {
        rc = cpuid_gpu_gl_version_parse(facts->gl_version, &cap->gl_major, &cap->gl_minor);
        if (rc) {
            cap->gl_major = cap->gl_minor = -1;
            goto out;
        }
        for (unsigned int i = 0; i < table->graphics_count; i++) {
            if (!graphics_level_met(&table->graphics[i], cap->gl_major, cap->gl_minor,
                                    facts->gl_extensions))
                break;
            cap->graphics_level = (int)i;
        }
        if (cap->graphics_level >= 0)
            snprintf(cap->graphics_name, sizeof(cap->graphics_name), "%s",
                     table->graphics[cap->graphics_level].name);
        snprintf(cap->graphics_detail, sizeof(cap->graphics_detail), "%.70s, OpenGL %.70s",
                 facts->gl_renderer[0] ? facts->gl_renderer : "unknown renderer",
                 facts->gl_version);
    } else {
        snprintf(cap->graphics_detail, sizeof(cap->graphics_detail), "no OpenGL: %.130s",
                 facts->gl_reason[0] ? facts->gl_reason : "not probed");
    }
    rc = 0;

out:
    return rc;
}

int cpuid_gpu_capability_check(const struct cpuid_gpu_requirement *requirement,
                               const struct cpuid_gpu_capability *host,
                               char *shortfall, size_t shortfall_size)
{
    char text[2 * (3 * CPUID_GPU_LEVEL_NAME_MAX + CPUID_GPU_LEVEL_DETAIL_MAX + 32)] = "";
    char baseline[CPUID_GPU_BASELINE_TEXT_MAX];
    size_t used = 0;

    if (requirement->graphics_level >= 0 &&
        host->graphics_level < requirement->graphics_level)
        used += snprintf(text + used, sizeof(text) - used, "needs %s, host has %s (%s)",
                         requirement->graphics_name, host->graphics_name, host->graphics_detail);
    if (requirement->compute_major >= 0 &&
        (host->compute_major < 0 ||
         version_compare(host->compute_major, host->compute_minor,
                         requirement->compute_major, requirement->compute_minor) < 0))
        snprintf(text + used, sizeof(text) - used, "%sneeds %s, host has %s (%s)",
                 used ? "; " : "", requirement->compute_name, host->compute_name,
                 host->compute_detail);
    if (shortfall && shortfall_size)
        snprintf(shortfall, shortfall_size, "%s", text);
    if (!text[0])
        return 0;
    cpuid_gpu_requirement_format(requirement, baseline, sizeof(baseline));
    return mig_error_set(MIG_ECOMPAT, "GPU baseline '%s' not met: %s", baseline, text);
}

void cpuid_gpu_capability_intersect(const struct cpuid_gpu_capability *a,
                                    const struct cpuid_gpu_capability *b,
                                    struct cpuid_gpu_capability *out)
{
    struct cpuid_gpu_capability result = *a;

    if (b->graphics_level < a->graphics_level) {
        result.graphics_level = b->graphics_level;
        result.gl_major = b->gl_major;
        result.gl_minor = b->gl_minor;
        memcpy(result.graphics_name, b->graphics_name, sizeof(result.graphics_name));
        memcpy(result.graphics_detail, b->graphics_detail, sizeof(result.graphics_detail));
    }
    if (b->compute_major < 0 ||
        (a->compute_major >= 0 &&
         version_compare(b->compute_major, b->compute_minor, a->compute_major, a->compute_minor) < 0)) {
        result.compute_major = b->compute_major;
        result.compute_minor = b->compute_minor;
        memcpy(result.compute_name, b->compute_name, sizeof(result.compute_name));
        memcpy(result.compute_detail, b->compute_detail, sizeof(result.compute_detail));
    }
    *out = result;
}

void cpuid_gpu_capability_format_baseline(const struct cpuid_gpu_capability *capability,
                                          char *buf, size_t size)
{
    format_levels(capability->graphics_level, capability->graphics_name,
                  capability->compute_major, capability->compute_name, buf, size);
}
