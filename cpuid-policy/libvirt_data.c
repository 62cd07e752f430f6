/*
 * libvirt_data.c: xenmig's own libvirt data files (cpuid-policy/data/libvirt,
 * installed to pkgdatadir/libvirt; docs/formats.md "libvirt CPU models"):
 * the mapping table from libvirt's feature names to Xen's
 * (x86-features.map, made by data/gen-libvirt-features.py) and the models
 * newer than Debian 12's libvirt, restated from libvirt's upstream map
 * (x86-models.txt); and the word lists and model definitions that
 * libvirt_map.c and libvirt_models.c share.
 * This file must never accept a row or a model without its source.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAX_FEATURE_ROWS 2048
#define MAX_SHIPPED_MODELS 1024

bool cpuid_word_list_has(const char *list, const char *word, size_t length)
{
    for (const char *p = list ? strchr(list, ' ') : NULL; p; p = strchr(p + 1, ' '))
        if (!strncmp(p + 1, word, length) && (p[1 + length] == ' ' || !p[1 + length]))
            return true;
    return false;
}

int cpuid_word_list_add(char **list, const char *word, size_t length)
{
    size_t used = *list ? strlen(*list) : 0;
    char *grown;

    if (cpuid_word_list_has(*list, word, length))
        return 0;
    grown = realloc(*list, used + length + 2);
    if (!grown)
        return mig_error_set(MIG_ENOMEM, "out of memory listing features");
    grown[used] = ' ';
    memcpy(grown + used + 1, word, length);
    grown[used + 1 + length] = '\0';
    *list = grown;
    return 0;
}

struct cpuid_libvirt_def *cpuid_libvirt_def_add(struct cpuid_libvirt_defs *defs,
                                                const char *name, const char *source)
{
    struct cpuid_libvirt_def *def;

    if (defs->count == defs->capacity) {
        unsigned int capacity = defs->capacity ? defs->capacity * 2 : 64;
        struct cpuid_libvirt_def *grown = realloc(defs->defs, capacity * sizeof(*grown));

        if (!grown) {
            mig_error_set(MIG_ENOMEM, "out of memory reading libvirt models");
            return NULL;
        }
        defs->defs = grown;
        defs->capacity = capacity;
    }
    def = &defs->defs[defs->count];
    memset(def, 0, sizeof(*def));
    def->name = cpuid_strdup(name);
    def->source = cpuid_strdup(source);
    if (!def->name || !def->source) {
        free(def->name);
        free(def->source);
        return NULL;
    }
    defs->count++;
    return def;
}

void cpuid_libvirt_defs_clear(struct cpuid_libvirt_defs *defs)
{
    for (unsigned int i = 0; i < defs->count; i++) {
        struct cpuid_libvirt_def *d = &defs->defs[i];

        free(d->name);
        free(d->ancestor);
        free(d->vendor);
        free(d->features);
        free(d->removed);
        free(d->source);
    }
    free(defs->defs);
    memset(defs, 0, sizeof(*defs));
}

/* ------------------------------------------------ x86-features.map */

static int compare_rows(const void *a, const void *b)
{
    return strcmp(((const struct cpuid_libvirt_feature *)a)->name,
                  ((const struct cpuid_libvirt_feature *)b)->name);
}

/* The Xen feature of a row's last column ("-": none, -1). */
static int parse_xen_column(const char *path, unsigned int lineno, const char *xen, int *index)
{
    const struct cpuid_feature_info *info;

    if (!strcmp(xen, "-")) {
        *index = -1;
        return 0;
    }
    info = cpuid_feature_lookup(xen, strlen(xen), NULL);
    if (!info || !info->xen_defined)
        return mig_error_set(MIG_EFORMAT, "%s:%u: '%s' is not a Xen 4.17 feature name: "
                             "regenerate the table with data/gen-libvirt-features.py",
                             path, lineno, xen);
    *index = (int)(info->word * 32 + info->bit);
    return 0;
}

/* One "NAME WHERE REG BIT XEN" row. */
static int parse_row(const char *path, unsigned int lineno, const char *line, size_t length,
                     struct cpuid_libvirt_feature *row)
{
    char buf[256], name[128], where[64], reg[8], xen[64];
    int bit, rc;

    if (length >= sizeof(buf) ||
        (memcpy(buf, line, length), buf[length] = '\0',
         sscanf(buf, "%127s %63s %7s %d %63s", name, where, reg, &bit, xen) != 5))
        return mig_error_set(MIG_EFORMAT, "%s:%u: \"%.*s\" is not 'NAME LEAF REGISTER BIT "
                             "XEN-NAME'", path, lineno, (int)(length > 80 ? 80 : length), line);
    rc = parse_xen_column(path, lineno, xen, &row->xen);
    if (rc)
        return rc;
    row->name = cpuid_strdup(name);
    return row->name ? 0 : MIG_ENOMEM;
}

static int read_rows(const char *path, const char *text, size_t length,
                     struct cpuid_libvirt_feature_map *map)
{
    const char *cursor = text, *line;
    size_t line_len;
    unsigned int lineno = 0;
    int rc = 0;

    while (!rc && cpuid_next_line(&cursor, text + length, &line, &line_len)) {
        lineno++;
        if (line_len == 0 || *line == '#')
            continue;
        if (map->count == MAX_FEATURE_ROWS)
            return mig_error_set(MIG_ELIMIT, "%s:%u: more than %u features", path, lineno,
                                 MAX_FEATURE_ROWS);
        rc = parse_row(path, lineno, line, line_len, &map->rows[map->count]);
        if (!rc)
            map->count++;
    }
    return rc;
}

int cpuid_libvirt_feature_map_load(const char *path, struct cpuid_libvirt_feature_map *map)
{
    char *text = NULL;
    size_t length;
    int rc;

    memset(map, 0, sizeof(*map));
    rc = cpuid_read_text_file(path, "libvirt feature table", CPUID_MAX_FILE_SIZE,
                              CPUID_READ_REFUSE_NUL, &text, &length);
    if (rc)
        return rc;
    map->rows = calloc(MAX_FEATURE_ROWS, sizeof(*map->rows));
    rc = map->rows ? read_rows(path, text, length, map) :
        mig_error_set(MIG_ENOMEM, "out of memory reading '%s'", path);
    free(text);
    if (!rc)
        qsort(map->rows, map->count, sizeof(*map->rows), compare_rows);
    for (unsigned int i = 1; !rc && i < map->count; i++)
        if (!strcmp(map->rows[i].name, map->rows[i - 1].name))
            rc = mig_error_set(MIG_EFORMAT, "%s: feature '%s' listed twice: keep one", path,
                               map->rows[i].name);
    if (rc)
        cpuid_libvirt_feature_map_clear(map);
    return rc;
}

const struct cpuid_libvirt_feature *
cpuid_libvirt_feature_find(const struct cpuid_libvirt_feature_map *map, const char *name)
{
    struct cpuid_libvirt_feature key = { .name = (char *)name };

    return map->count ? bsearch(&key, map->rows, map->count, sizeof(key), compare_rows) : NULL;
}

void cpuid_libvirt_feature_map_clear(struct cpuid_libvirt_feature_map *map)
{
    for (unsigned int i = 0; map->rows && i < map->count; i++)
        free(map->rows[i].name);
    free(map->rows);
    memset(map, 0, sizeof(*map));
}

/* ------------------------------------------------- x86-models.txt */

/* Where a shipped-models parse stands. */
struct shipped_parse {
    const char *path;
    unsigned int lineno;
    struct cpuid_libvirt_defs *defs;
    struct cpuid_libvirt_def *model;  /* the model being read, NULL before one */
    bool model_has_file;              /* its 'file:' line was read */
    char **order;
};

/* "file: FILE COMMIT": the model's source. */
static int set_model_source(struct shipped_parse *p, const char *value)
{
    char *source;

    if (!p->model || p->model_has_file)
        return mig_error_set(MIG_EFORMAT, "%s:%u: 'file:' %s", p->path, p->lineno,
                             p->model ? "given twice" : "before any 'model:'");
    if (asprintf(&source, "shipped: libvirt src/cpu_map/%s (%s)", value, p->path) < 0)
        return mig_error_set(MIG_ENOMEM, "out of memory reading '%s'", p->path);
    free(p->model->source);
    p->model->source = source;
    p->model_has_file = true;
    return 0;
}

/* Add each word of value to *list. */
static int add_words(char **list, const char *value)
{
    int rc = 0;

    for (const char *w = value; *w && !rc; ) {
        size_t n = strcspn(w, " \t");

        if (n)
            rc = cpuid_word_list_add(list, w, n);
        w += n + strspn(w + n, " \t");
    }
    return rc;
}

/* A model's key other than model/file; value is NUL-terminated. */
static int set_model_key(struct shipped_parse *p, const char *key, const char *value)
{
    struct cpuid_libvirt_def *m = p->model;

    if (!m)
        return mig_error_set(MIG_EFORMAT, "%s:%u: '%s:' before any 'model:'", p->path,
                             p->lineno, key);
    if (!strcmp(key, "features") || !strcmp(key, "added"))
        return add_words(&m->features, value);
    if (!strcmp(key, "removed"))
        return add_words(&m->removed, value);
    if (!strcmp(key, "vendor") || !strcmp(key, "inherits")) {
        char **field = !strcmp(key, "vendor") ? &m->vendor : &m->ancestor;

        if (*field)
            return mig_error_set(MIG_EFORMAT, "%s:%u: '%s:' given twice for model '%s'",
                                 p->path, p->lineno, key, m->name);
        *field = cpuid_strdup(value);
        return *field ? 0 : MIG_ENOMEM;
    }
    return mig_error_set(MIG_EFORMAT, "%s:%u: unknown key \"%.40s\": keys are order, model, "
                         "file, vendor, inherits, features, added, removed", p->path,
                         p->lineno, key);
}

/* The previous model has its source: a model without one is refused. */
static int check_model_done(const struct shipped_parse *p)
{
    if (p->model && !p->model_has_file)
        return mig_error_set(MIG_EFORMAT, "%s: model '%s' has no 'file:' line: every shipped "
                             "model names where its facts come from", p->path, p->model->name);
    return 0;
}

static int shipped_line(struct shipped_parse *p, const char *line, size_t length)
{
    char key[32], value[1024];
    const char *colon = memchr(line, ':', length), *v;
    size_t key_len = colon ? (size_t)(colon - line) : 0;
    size_t value_len = colon ? length - key_len - 1 : 0;
    int rc;

    if (!colon || key_len >= sizeof(key) || value_len >= sizeof(value))
        return mig_error_set(MIG_EFORMAT, "%s:%u: \"%.*s\" is not 'key: value' (at most "
                             "1023 characters)", p->path, p->lineno,
                             (int)(length > 80 ? 80 : length), line);
    memcpy(key, line, key_len);
    key[key_len] = '\0';
    memcpy(value, colon + 1, value_len);
    value[value_len] = '\0';
    v = value + strspn(value, " \t");

    if (!strcmp(key, "order"))
        return add_words(p->order, v);
    if (!strcmp(key, "file"))
        return set_model_source(p, v);
    if (strcmp(key, "model"))
        return set_model_key(p, key, v);
    rc = check_model_done(p);
    if (!rc && p->defs->count == MAX_SHIPPED_MODELS)
        rc = mig_error_set(MIG_ELIMIT, "%s:%u: more than %u models", p->path, p->lineno,
                           MAX_SHIPPED_MODELS);
    if (!rc && !(p->model = cpuid_libvirt_def_add(p->defs, v, p->path)))
        rc = MIG_ENOMEM;
    p->model_has_file = false;
    return rc;
}

int cpuid_libvirt_shipped_read(const char *path, struct cpuid_libvirt_defs *defs, char **order)
{
    struct shipped_parse p = { .path = path, .defs = defs, .order = order };
    const char *cursor, *line;
    char *text = NULL;
    size_t length, line_len;
    int rc;

    rc = cpuid_read_text_file(path, "shipped libvirt models", CPUID_MAX_FILE_SIZE,
                              CPUID_READ_REFUSE_NUL, &text, &length);
    cursor = text;
    while (!rc && cpuid_next_line(&cursor, text + length, &line, &line_len)) {
        p.lineno++;
        if (line_len && *line != '#')
            rc = shipped_line(&p, line, line_len);
    }
    if (!rc)
        rc = check_model_done(&p);
    free(text);
    return rc;
}
