/*
 * libvirt_models.c: libvirt's x86 CPU models as xenmig levels.  The
 * installed map (libvirt_map.c) and the shipped newer models
 * (libvirt_data.c) are merged, a model the installed map defines being
 * taken from it (a newer libvirt wins); each model is placed in libvirt's
 * order of generations, its inheritance resolved (features of the ancestor,
 * plus its own, less its removed='yes' ones) and its libvirt feature names
 * turned into Xen's through x86-features.map.
 * This file must never drop a feature silently: a name the table lacks is
 * listed as unmapped, one without a Xen 4.17 equivalent as such, and one
 * Xen's dependency rules leave out as dropped with its prerequisite.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define DEFAULT_CPU_MAP "/usr/share/libvirt/cpu_map"
#define MAX_INHERITANCE 16

const char *cpuid_libvirt_cpu_map_dir(void)
{
    const char *env = getenv("XENMIG_LIBVIRT_CPU_MAP");

    if (env && *env)
        return strcmp(env, "none") ? env : NULL;
    return DEFAULT_CPU_MAP;
}

const char *cpuid_libvirt_data_dir(void)
{
    const char *env = getenv("XENMIG_LIBVIRT_DATA_DIR");

    if (env && *env)
        return strcmp(env, "none") ? env : NULL;
    if (access(XENMIG_DATADIR "/libvirt", R_OK | X_OK) == 0)
        return XENMIG_DATADIR "/libvirt";
    return XENMIG_SRCDATADIR "/libvirt";
}

/* Everything a load reads, before it is turned into models. */
struct libvirt_sources {
    struct cpuid_libvirt_feature_map map;
    struct cpuid_libvirt_defs installed, shipped;
    char *order;          /* word list: the shipped data's order */
};

static void sources_clear(struct libvirt_sources *s)
{
    cpuid_libvirt_feature_map_clear(&s->map);
    cpuid_libvirt_defs_clear(&s->installed);
    cpuid_libvirt_defs_clear(&s->shipped);
    free(s->order);
}

/* Where `word` ends in the word list `list` (a whole word), NULL if it is not there. */
static const char *word_end(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = list ? strchr(list, ' ') : NULL; p; p = strchr(p + 1, ' '))
        if (!strncmp(p + 1, word, n) && (p[1 + n] == ' ' || !p[1 + n]))
            return p + 1 + n;
    return NULL;
}

/* Put each installed model the shipped order lacks after the installed model before it. */
static int merge_order(const struct libvirt_sources *s, char **order)
{
    for (unsigned int i = 0; i < s->installed.count; i++) {
        const char *name = s->installed.defs[i].name, *list = *order ? *order : "";
        const char *at = i ? word_end(list, s->installed.defs[i - 1].name) : NULL;
        size_t size = strlen(list) + strlen(name) + 2;
        char *grown;

        if (word_end(list, name))
            continue;
        if (!at)
            at = list;
        grown = malloc(size);
        if (!grown)
            return mig_error_set(MIG_ENOMEM, "out of memory ordering libvirt models");
        snprintf(grown, size, "%.*s %s%s", (int)(at - list), list, name, at);
        free(*order);
        *order = grown;
    }
    return 0;
}

/* Every shipped model has its place in the shipped order. */
static int check_shipped_order(const struct libvirt_sources *s)
{
    for (unsigned int i = 0; i < s->shipped.count; i++)
        if (!word_end(s->order, s->shipped.defs[i].name))
            return mig_error_set(MIG_EFORMAT, "%s: model '%s' is not in the 'order:' lines: "
                                 "add it where libvirt's index.xml has it",
                                 s->shipped.defs[i].source, s->shipped.defs[i].name);
    return 0;
}

/* The installed map, if any: only a map named in the environment must exist. */
static int read_installed(struct libvirt_sources *s)
{
    const char *dir = cpuid_libvirt_cpu_map_dir(), *env = getenv("XENMIG_LIBVIRT_CPU_MAP");
    char index[4096];

    if (!dir)
        return 0;
    snprintf(index, sizeof(index), "%s/index.xml", dir);
    if (!(env && *env) && access(index, R_OK) != 0)
        return 0;
    return cpuid_libvirt_map_read(dir, &s->installed);
}

static int read_sources(const char *data_dir, struct libvirt_sources *s)
{
    char path[4096];
    int rc;

    snprintf(path, sizeof(path), "%s/x86-features.map", data_dir);
    rc = cpuid_libvirt_feature_map_load(path, &s->map);
    if (!rc) {
        snprintf(path, sizeof(path), "%s/x86-models.txt", data_dir);
        rc = cpuid_libvirt_shipped_read(path, &s->shipped, &s->order);
    }
    if (!rc)
        rc = check_shipped_order(s);
    if (!rc)
        rc = read_installed(s);
    return rc;
}

static const struct cpuid_libvirt_def *def_in(const struct cpuid_libvirt_defs *defs,
                                              const char *name)
{
    for (unsigned int i = 0; i < defs->count; i++)
        if (!strcmp(defs->defs[i].name, name))
            return &defs->defs[i];
    return NULL;
}

/* A model's definition: the installed map's, else the shipped one, else NULL. */
static const struct cpuid_libvirt_def *find_def(const struct libvirt_sources *s,
                                                const char *name)
{
    const struct cpuid_libvirt_def *def = def_in(&s->installed, name);

    return def ? def : def_in(&s->shipped, name);
}

/* Remove each word of `words` from the word list *list. */
static void remove_words(char *list, const char *words)
{
    for (const char *w = words ? words + 1 : NULL; w && *w; ) {
        size_t n = strcspn(w, " ");

        for (char *p = list ? strchr(list, ' ') : NULL; p; p = strchr(p + 1, ' '))
            if (!strncmp(p + 1, w, n) && (p[1 + n] == ' ' || !p[1 + n])) {
                memmove(p, p + 1 + n, strlen(p + 1 + n) + 1);
                break;
            }
        w += n + (w[n] == ' ');
    }
}

/* Add each word of `words` to the word list *list. */
static int add_word_list(char **list, const char *words)
{
    int rc = 0;

    for (const char *w = words ? words + 1 : NULL; w && *w && !rc; ) {
        size_t n = strcspn(w, " ");

        rc = cpuid_word_list_add(list, w, n);
        w += n + (w[n] == ' ');
    }
    return rc;
}

/*
 * A model's features (word list *features) and vendor, its ancestors'
 * first.  *missing (static text in the defs) gets an ancestor defined
 * nowhere, leaving the rest unresolved.
 */
static int resolve(const struct libvirt_sources *s, const struct cpuid_libvirt_def *def,
                   unsigned int depth, char **features, const char **vendor,
                   const char **missing)
{
    int rc = 0;

    if (depth > MAX_INHERITANCE)
        return mig_error_set(MIG_EFORMAT, "%s: model '%s' inherits more than %u levels deep "
                             "(a loop?)", def->source, def->name, MAX_INHERITANCE);
    if (def->ancestor) {
        const struct cpuid_libvirt_def *up = find_def(s, def->ancestor);

        if (!up) {
            *missing = def->ancestor;
            return 0;
        }
        rc = resolve(s, up, depth + 1, features, vendor, missing);
    }
    if (def->vendor)
        *vendor = def->vendor;
    if (!rc)
        rc = add_word_list(features, def->features);
    remove_words(*features, def->removed);
    return rc;
}

/*
 * Whether Xen 4.17 may give Xen feature `index` to an HVM guest: an
 * attribute letter A, S or H (lower case: not by default), or '!' (Xen
 * decides).  Without one, no guest ever has it, so no level requires it.
 */
static bool offered_to_guests(int index)
{
    const struct cpuid_feature_info *info = cpuid_feature_by_index((unsigned int)index);

    return info && strpbrk(info->attributes, "AaSsHh!");
}

/* Xen features of the word list, the rest sorted into no_xen, no_guest and unmapped. */
static int map_features(const struct cpuid_libvirt_feature_map *map, const char *features,
                        struct cpuid_libvirt_model *m)
{
    char name[128];
    int rc = 0;

    for (const char *w = features ? features + 1 : NULL; w && *w && !rc; ) {
        size_t n = strcspn(w, " ");
        const struct cpuid_libvirt_feature *row;

        snprintf(name, sizeof(name), "%.*s", (int)n, w);
        row = cpuid_libvirt_feature_find(map, name);
        if (!row)
            rc = cpuid_word_list_add(&m->unmapped, w, n);
        else if (row->xen < 0)
            rc = cpuid_word_list_add(&m->no_xen, w, n);
        else if (!offered_to_guests(row->xen))
            rc = cpuid_word_list_add(&m->no_guest, w, n);
        else
            cpuid_featureset_set(&m->features, (unsigned int)row->xen);
        w += n + (w[n] == ' ');
    }
    return rc;
}

/* Leave out what Xen's dependency rules forbid, listing "FEATURE:PREREQUISITE". */
static int close_features(struct cpuid_libvirt_model *m)
{
    struct cpuid_featureset closed = m->features;
    char word[96];
    int rc = 0;

    if (!cpuid_featureset_close(&closed))
        return 0;
    for (unsigned int i = 0; i < cpuid_feature_dependencies_count && !rc; i++) {
        const struct cpuid_feature_dependency *d = &cpuid_feature_dependencies[i];

        if (cpuid_featureset_test(&m->features, d->dependent) &&
            !cpuid_featureset_test(&closed, d->dependent) &&
            !cpuid_featureset_test(&closed, d->prerequisite)) {
            snprintf(word, sizeof(word), "%s:%s", cpuid_feature_by_index(d->dependent)->name,
                     cpuid_feature_by_index(d->prerequisite)->name);
            rc = cpuid_word_list_add(&m->dropped, word, strlen(word));
        }
    }
    m->features = closed;
    return rc;
}

/* The vendor as xenmig knows it, or why the model is no level. */
static int set_vendor(struct cpuid_libvirt_model *m, const char *vendor)
{
    if (!vendor)
        return 0;
    m->vendor = cpuid_vendor_parse(vendor);
    if (m->vendor != CPUID_VENDOR_UNKNOWN)
        return 0;
    if (asprintf(&m->skipped, "vendor '%s': xenmig levels Intel, AMD and Hygon CPUs",
                 vendor) < 0)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    return 0;
}

/* One model, its definition def at place `order`. */
static int make_model(const struct libvirt_sources *s, const struct cpuid_libvirt_def *def,
                      unsigned int order, struct cpuid_libvirt_model *m)
{
    const char *vendor = NULL, *missing = NULL;
    char *features = NULL;
    int rc;

    memset(m, 0, sizeof(*m));
    m->order = order;
    m->name = cpuid_strdup(def->name);
    m->source = cpuid_strdup(def->source);
    if (def->ancestor && !def->features && !def->removed && !def->vendor)
        m->alias_of = cpuid_strdup(def->ancestor);
    if (!m->name || !m->source || (def->ancestor && !def->features && !def->removed &&
                                   !def->vendor && !m->alias_of))
        return MIG_ENOMEM;
    rc = resolve(s, def, 0, &features, &vendor, &missing);
    if (!rc && missing && asprintf(&m->skipped, "inherits '%s', which neither the installed "
                                   "map nor the shipped data defines", missing) < 0)
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
    if (!rc && !missing)
        rc = set_vendor(m, vendor);
    if (!rc && !missing)
        rc = map_features(&s->map, features, m);
    if (!rc && !missing)
        rc = close_features(m);
    free(features);
    return rc;
}

void cpuid_libvirt_models_free(struct cpuid_libvirt_model *models, unsigned int count)
{
    for (unsigned int i = 0; models && i < count; i++) {
        free(models[i].name);
        free(models[i].source);
        free(models[i].no_xen);
        free(models[i].no_guest);
        free(models[i].unmapped);
        free(models[i].dropped);
        free(models[i].skipped);
        free(models[i].alias_of);
    }
    free(models);
}

/* The models of the merged order that some source defines, in that order. */
static int make_models(const struct libvirt_sources *s, const char *order,
                       struct cpuid_libvirt_model **out, unsigned int *count)
{
    unsigned int max = s->installed.count + s->shipped.count, n = 0;
    struct cpuid_libvirt_model *models = calloc(max ? max : 1, sizeof(*models));
    char name[256];
    int rc = models ? 0 : mig_error_set(MIG_ENOMEM, "out of memory loading libvirt models");

    for (const char *w = order ? order + 1 : NULL; !rc && w && *w && n < max; ) {
        size_t len = strcspn(w, " ");
        const struct cpuid_libvirt_def *def;

        snprintf(name, sizeof(name), "%.*s", (int)len, w);
        def = find_def(s, name);
        if (def) {
            rc = make_model(s, def, n + 1, &models[n]);
            n++;
        }
        w += len + (w[len] == ' ');
    }
    if (rc) {
        cpuid_libvirt_models_free(models, n);
        return rc;
    }
    *out = models;
    *count = n;
    return 0;
}

int cpuid_libvirt_models_load(struct cpuid_libvirt_model **out, unsigned int *count)
{
    struct libvirt_sources s = { 0 };
    const char *data_dir = cpuid_libvirt_data_dir();
    int rc;

    *out = NULL;
    *count = 0;
    if (!data_dir)
        return 0;
    rc = read_sources(data_dir, &s);
    if (!rc)
        rc = merge_order(&s, &s.order);
    if (!rc)
        rc = make_models(&s, s.order, out, count);
    sources_clear(&s);
    return rc;
}
