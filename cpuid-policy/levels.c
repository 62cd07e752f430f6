/*
 * levels.c: named CPU levels, read at run time from data files
 * (cpuid-policy/data/levels/NAME.level, installed to pkgdatadir/levels), so
 * adding a level needs no rebuild; libvirt's CPU models join them as
 * "libvirt:NAME" (libvirt_models.c makes them).
 *
 * File format (one "key: value" per line, '#' starts a comment):
 *   name: x86-64-v3          must match the file name
 *   family: x86-64           ordering family ("x86-64", "intel", "amd"...)
 *   rank: 3                  order in the family, higher = newer
 *   vendor: any|intel|amd|hygon
 *   source: ...              where the facts come from (required)
 *   features: NAME...        repeatable; Xen feature names, closed under
 *                            Xen's dependencies
 * This file must never accept a level without a source, nor one whose
 * features are not closed.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAX_LEVELS 512
#define LIBVIRT_FAMILY "libvirt"
#define MAX_FEATURE_TEXT 8192

struct level_entry {
    struct cpuid_level level;
    char *name, *family, *source;
    char *no_xen, *no_guest, *unmapped, *dropped;  /* libvirt models: word lists */
    char *alias_of;                     /* libvirt models: "libvirt:NAME" or NULL */
};

struct cpuid_level_set {
    struct level_entry *entries;
    unsigned int count;
    char **skipped;                     /* "libvirt:NAME: REASON" */
    unsigned int skipped_count;
};

const char *cpuid_levels_default_dir(void)
{
    const char *env = getenv("XENMIG_CPUID_LEVELS_DIR");

    if (env && *env)
        return env;
    if (access(XENMIG_DATADIR "/levels", R_OK | X_OK) == 0)
        return XENMIG_DATADIR "/levels";
    return XENMIG_SRCDATADIR "/levels";
}

static void entry_clear(struct level_entry *e)
{
    free(e->name);
    free(e->family);
    free(e->source);
    free(e->no_xen);
    free(e->no_guest);
    free(e->unmapped);
    free(e->dropped);
    free(e->alias_of);
    memset(e, 0, sizeof(*e));
}

/* Copy value (len bytes) into *field, refusing a second definition. */
static int set_field(char **field, const char *key, const char *value, size_t len,
                     const char *path, unsigned int lineno)
{
    if (*field)
        return mig_error_set(MIG_EFORMAT, "%s:%u: '%s' given twice: keep one", path,
                             lineno, key);
    *field = strndup(value, len);
    if (!*field)
        return mig_error_set(MIG_ENOMEM, "out of memory reading '%s'", path);
    return 0;
}

/* What parse_level() gathers from the lines before it checks the level. */
struct level_draft {
    char *vendor;
    char *features;             /* MAX_FEATURE_TEXT bytes: " NAME NAME ..." */
    size_t features_len;
    unsigned int features_line; /* the first features line, 0 before it */
    long rank;                  /* -1 before the rank line */
};

static int parse_rank(const char *value, size_t value_len, const char *path,
                      unsigned int lineno, long *rank)
{
    char buf[16], *endp;

    if (value_len == 0 || value_len >= sizeof(buf))
        return mig_error_set(MIG_EFORMAT, "%s:%u: rank \"%.*s\" is not a number from 1 to 1000",
                             path, lineno, (int)(value_len > 20 ? 20 : value_len), value);
    memcpy(buf, value, value_len);
    buf[value_len] = '\0';
    *rank = strtol(buf, &endp, 10);
    if (*endp || *rank < 1 || *rank > 1000)
        return mig_error_set(MIG_EFORMAT, "%s:%u: rank \"%s\" is not a number from 1 to 1000",
                             path, lineno, buf);
    return 0;
}

/* A features line adds its names to the draft's list. */
static int append_features(struct level_draft *d, const char *value, size_t value_len,
                           const char *path, unsigned int lineno)
{
    if (d->features_len + value_len + 2 > MAX_FEATURE_TEXT)
        return mig_error_set(MIG_ELIMIT, "%s:%u: more than %u characters of features", path,
                             lineno, MAX_FEATURE_TEXT);
    d->features[d->features_len++] = ' ';
    memcpy(d->features + d->features_len, value, value_len);
    d->features_len += value_len;
    d->features[d->features_len] = '\0';
    if (!d->features_line)
        d->features_line = lineno;
    return 0;
}

/* One "key: value" line (leading blanks, comments and empty lines already skipped). */
static int parse_level_line(const char *line, size_t line_len, const char *path,
                            unsigned int lineno, struct level_entry *e, struct level_draft *d)
{
    const char *colon = memchr(line, ':', line_len), *value;
    size_t key_len, value_len;

    if (!colon)
        return mig_error_set(MIG_EFORMAT, "%s:%u: \"%.*s\" is not 'key: value'", path, lineno,
                             (int)(line_len > 80 ? 80 : line_len), line);
    key_len = (size_t)(colon - line);
    value = colon + 1;
    value_len = line_len - key_len - 1;
    while (value_len && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
#define KEY_IS(k) (key_len == strlen(k) && !strncmp(line, k, key_len))
    if (KEY_IS("name"))
        return set_field(&e->name, "name", value, value_len, path, lineno);
    if (KEY_IS("family"))
        return set_field(&e->family, "family", value, value_len, path, lineno);
    if (KEY_IS("source"))
        return set_field(&e->source, "source", value, value_len, path, lineno);
    if (KEY_IS("vendor"))
        return set_field(&d->vendor, "vendor", value, value_len, path, lineno);
    if (KEY_IS("rank"))
        return parse_rank(value, value_len, path, lineno, &d->rank);
    if (KEY_IS("features"))
        return append_features(d, value, value_len, path, lineno);
#undef KEY_IS
    return mig_error_set(MIG_EFORMAT, "%s:%u: unknown key \"%.*s\": keys are name, family, "
                         "rank, vendor, source, features", path, lineno,
                         (int)(key_len > 40 ? 40 : key_len), line);
}

/* Every key given: check the level as a whole and complete e->level. */
static int finish_level(const char *path, const char *expected_name,
                        const struct level_draft *d, struct level_entry *e)
{
    int rc;

    if (!e->name || !e->family || !e->source || !d->vendor || d->rank < 0 || !d->features_line)
        return mig_error_set(MIG_EFORMAT, "%s: missing key (%s): every level needs name, "
                             "family, rank, vendor, source and features", path,
                             !e->name ? "name" : !e->family ? "family" : !e->source ? "source" :
                             !d->vendor ? "vendor" : d->rank < 0 ? "rank" : "features");
    if (expected_name && strcmp(e->name, expected_name))
        return mig_error_set(MIG_EFORMAT, "%s: name '%s' does not match the file name: "
                             "rename the file to %s.level", path, e->name, e->name);
    if (!strcmp(d->vendor, "any"))
        e->level.vendor = CPUID_VENDOR_UNKNOWN;
    else if ((e->level.vendor = cpuid_vendor_parse(d->vendor)) == CPUID_VENDOR_UNKNOWN)
        return mig_error_set(MIG_EFORMAT, "%s: vendor '%s' is not any, intel, amd or hygon",
                             path, d->vendor);
    rc = cpuid_featureset_parse_names(d->features, &e->level.features);
    if (rc)
        return cpuid_error_prefix("%s:%u", path, d->features_line);
    cpuid_featureset_drop_os_state(&e->level.features);     /* cpuid_policy.h "OS state" */
    e->level.name = e->name;
    e->level.family = e->family;
    e->level.source = e->source;
    e->level.rank = (unsigned int)d->rank;
    return 0;
}

static int parse_level(const char *path, const char *text, size_t text_len,
                       const char *expected_name, struct level_entry *e)
{
    struct level_draft draft = { .rank = -1 };
    const char *cursor = text, *end = text + text_len, *line;
    size_t line_len;
    unsigned int lineno = 0;
    int rc;

    memset(e, 0, sizeof(*e));
    draft.features = calloc(1, MAX_FEATURE_TEXT);
    if (!draft.features) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    while (cpuid_next_line(&cursor, end, &line, &line_len)) {
        lineno++;
        while (line_len && (*line == ' ' || *line == '\t')) {
            line++;
            line_len--;
        }
        if (line_len == 0 || *line == '#')
            continue;
        rc = parse_level_line(line, line_len, path, lineno, e, &draft);
        if (rc)
            goto out;
    }
    rc = finish_level(path, expected_name, &draft, e);
 out:
    if (rc)
        entry_clear(e);
    free(draft.features);
    free(draft.vendor);
    return rc;
}

/* Move model m's strings into entry e, a level of family "libvirt". */
static int libvirt_entry(struct cpuid_libvirt_model *m, struct level_entry *e)
{
    memset(e, 0, sizeof(*e));
    if (asprintf(&e->name, "libvirt:%s", m->name) < 0) {
        e->name = NULL;
        return mig_error_set(MIG_ENOMEM, "out of memory loading levels");
    }
    e->family = cpuid_strdup(LIBVIRT_FAMILY);
    if (!e->family)
        return MIG_ENOMEM;
    e->source = m->source;
    e->no_xen = m->no_xen ? m->no_xen : cpuid_strdup("");
    e->no_guest = m->no_guest ? m->no_guest : cpuid_strdup("");
    e->unmapped = m->unmapped ? m->unmapped : cpuid_strdup("");
    e->dropped = m->dropped ? m->dropped : cpuid_strdup("");
    m->source = m->no_xen = m->no_guest = m->unmapped = m->dropped = NULL;
    if (!e->no_xen || !e->no_guest || !e->unmapped || !e->dropped)
        return MIG_ENOMEM;
    if (m->alias_of && asprintf(&e->alias_of, "libvirt:%s", m->alias_of) < 0) {
        e->alias_of = NULL;
        return mig_error_set(MIG_ENOMEM, "out of memory loading levels");
    }
    e->level = (struct cpuid_level){ .name = e->name, .family = e->family, .rank = m->order,
                                     .vendor = m->vendor, .source = e->source,
                                     .features = m->features, .no_xen_features = e->no_xen,
                                     .no_guest_features = e->no_guest,
                                     .unmapped_features = e->unmapped,
                                     .dropped_features = e->dropped,
                                     .alias_of = e->alias_of };
    return 0;
}

/* Note a libvirt model that is no level. */
static int add_skipped(struct cpuid_level_set *set, const struct cpuid_libvirt_model *m)
{
    char **grown = realloc(set->skipped, (set->skipped_count + 1) * sizeof(*grown));

    if (!grown)
        return mig_error_set(MIG_ENOMEM, "out of memory loading levels");
    set->skipped = grown;
    if (asprintf(&set->skipped[set->skipped_count], "libvirt:%s: %s", m->name,
                 m->skipped) < 0)
        return mig_error_set(MIG_ENOMEM, "out of memory loading levels");
    set->skipped_count++;
    return 0;
}

/* libvirt's models as levels after the data files' ones. */
static int add_libvirt_levels(struct cpuid_level_set *set)
{
    struct cpuid_libvirt_model *models = NULL;
    unsigned int count = 0;
    int rc = cpuid_libvirt_models_load(&models, &count);

    for (unsigned int i = 0; !rc && i < count; i++) {
        if (models[i].skipped) {
            rc = add_skipped(set, &models[i]);
        } else if (set->count == MAX_LEVELS) {
            rc = mig_error_set(MIG_ELIMIT, "more than %u levels with libvirt's models",
                               MAX_LEVELS);
        } else {
            rc = libvirt_entry(&models[i], &set->entries[set->count]);
            set->count++;
        }
    }
    cpuid_libvirt_models_free(models, count);
    return rc;
}

static int compare_entries(const void *a, const void *b)
{
    const struct level_entry *x = a, *y = b;
    int c = strcmp(x->family, y->family);

    if (c)
        return c;
    return x->level.rank < y->level.rank ? -1 : x->level.rank > y->level.rank;
}

int cpuid_level_set_load(const char *dir, struct cpuid_level_set **out)
{
    struct cpuid_level_set *set = NULL;
    struct dirent *de;
    DIR *d = NULL;
    char *text = NULL, path[4096];
    int rc;

    if (!dir)
        dir = cpuid_levels_default_dir();
    set = calloc(1, sizeof(*set));
    if (set)
        set->entries = calloc(MAX_LEVELS, sizeof(*set->entries));
    if (!set || !set->entries) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory loading levels");
        goto out;
    }
    d = opendir(dir);
    if (!d) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot open the levels directory '%s' "
                                 "(set XENMIG_CPUID_LEVELS_DIR to the data/levels directory)",
                                 dir);
        goto out;
    }
    while ((de = readdir(d))) {
        size_t nlen = strlen(de->d_name), text_len;
        char stem[256];

        if (nlen <= 6 || strcmp(de->d_name + nlen - 6, ".level") || nlen - 6 >= sizeof(stem))
            continue;
        if (set->count == MAX_LEVELS) {
            rc = mig_error_set(MIG_ELIMIT, "more than %u levels in '%s'", MAX_LEVELS, dir);
            goto out;
        }
        memcpy(stem, de->d_name, nlen - 6);
        stem[nlen - 6] = '\0';
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        rc = cpuid_read_text_file(path, "CPU level file", CPUID_MAX_FILE_SIZE,
                                  CPUID_READ_REFUSE_NUL, &text, &text_len);
        if (rc)
            goto out;
        rc = parse_level(path, text, text_len, stem, &set->entries[set->count]);
        free(text);
        text = NULL;
        if (rc)
            goto out;
        set->count++;
    }
    if (set->count == 0) {
        rc = mig_error_set(MIG_EFORMAT, "no *.level file in '%s'", dir);
        goto out;
    }
    rc = add_libvirt_levels(set);
    if (rc)
        goto out;
    qsort(set->entries, set->count, sizeof(*set->entries), compare_entries);
    *out = set;
    set = NULL;
    rc = 0;
 out:
    if (d)
        closedir(d);
    free(text);
    cpuid_level_set_free(set);
    return rc;
}

void cpuid_level_set_free(struct cpuid_level_set *set)
{
    if (!set)
        return;
    for (unsigned int i = 0; set->entries && i < set->count; i++)
        entry_clear(&set->entries[i]);
    for (unsigned int i = 0; i < set->skipped_count; i++)
        free(set->skipped[i]);
    free(set->skipped);
    free(set->entries);
    free(set);
}

unsigned int cpuid_level_set_count(const struct cpuid_level_set *set)
{
    return set ? set->count : 0;
}

const struct cpuid_level *cpuid_level_set_get(const struct cpuid_level_set *set,
                                              unsigned int index)
{
    return set && index < set->count ? &set->entries[index].level : NULL;
}

unsigned int cpuid_level_set_skipped_count(const struct cpuid_level_set *set)
{
    return set ? set->skipped_count : 0;
}

const char *cpuid_level_set_skipped(const struct cpuid_level_set *set, unsigned int index)
{
    return set && index < set->skipped_count ? set->skipped[index] : NULL;
}

const struct cpuid_level *cpuid_level_set_find(const struct cpuid_level_set *set,
                                               const char *name)
{
    for (unsigned int i = 0; set && name && i < set->count; i++)
        if (!strcasecmp(set->entries[i].level.name, name))
            return &set->entries[i].level;
    return NULL;
}

const struct cpuid_level *cpuid_level_set_highest(const struct cpuid_level_set *set,
                                                  const char *family,
                                                  enum cpuid_vendor vendor,
                                                  const struct cpuid_featureset *fs)
{
    const struct cpuid_level *best = NULL;

    for (unsigned int i = 0; set && i < set->count; i++) {
        const struct cpuid_level *l = &set->entries[i].level;

        if (strcmp(l->family, family) || l->alias_of)
            continue;
        if (l->vendor != CPUID_VENDOR_UNKNOWN && l->vendor != vendor)
            continue;
        if (!cpuid_featureset_is_subset(&l->features, fs))
            continue;
        if (!best || l->rank > best->rank)
            best = l;
    }
    return best;
}

void cpuid_level_set_universe(const struct cpuid_level_set *set, struct cpuid_featureset *out)
{
    struct cpuid_featureset all = { { 0 } };

    for (unsigned int i = 0; i < cpuid_level_set_count(set); i++) {
        const struct cpuid_level *l = cpuid_level_set_get(set, i);

        /* libvirt models constrain the bits the other levels name, no more. */
        if (!strcmp(l->family, LIBVIRT_FAMILY))
            continue;
        for (unsigned int w = 0; w < CPUID_FEATURESET_WORDS; w++)
            all.words[w] |= l->features.words[w];
    }
    *out = all;
}
