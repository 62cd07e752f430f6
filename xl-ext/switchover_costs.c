/*
 * switchover_costs.c: the per-host store of the switchover's fixed costs
 * (switchover_costs.h; the format is docs/formats.md, "Switchover cost
 * store").  Nothing read from the file is used before every member of it
 * was checked; the file is replaced only whole.  This file must never
 * fail a migration, exit, or write anything but the store and stderr.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "subcommands.h"
#include "switchover_costs.h"
#include "util/file.h"
#include "util/io.h"

#define NR_KEYS 8
#define NR_PARTS 4
#define MAX_FILE (64 * 1024)            /* a full store is about 3 KiB */
#define MAX_COUNT 1000000000LL
#define JSON_DEPTH 5                    /* document, costs, key, part, and json-c
                                           refuses at its depth limit itself */
#define WHAT "the switchover cost store"

/* A save's key is its migration's, NR_KEYS / 2 places on (switchover_costs_key). */
static const char *const key_names[NR_KEYS] = {
    "sim", "xen-pv", "xen-pvh", "xen-hvm",
    "sim-save", "xen-pv-save", "xen-pvh-save", "xen-hvm-save",
};
static const char *const part_names[NR_PARTS] = {
    "pause_ms", "state_ms", "destination_ms", "resume_ms"
};

/* One key: its migrations learned and each part's samples, oldest first. */
struct entry {
    long long count;
    unsigned int nr;
    double samples[NR_PARTS][SWITCHOVER_COSTS_SAMPLES];
};

struct store {
    struct entry e[NR_KEYS];
};

static bool warned_read, warned_write;

void switchover_costs_path(char *buf, size_t size)
{
    const char *dir = getenv("XENMIG_STATE_DIR");

    snprintf(buf, size, "%s/%s", dir && *dir ? dir : XENMIG_STATE_DIR, SWITCHOVER_COSTS_FILE);
}

const char *switchover_costs_key(const char *type, bool save)
{
    int i = !strcmp(type, "sim") ? 0 : !strcmp(type, "pv") ? 1 : !strcmp(type, "pvh") ? 2 : 3;

    return key_names[save ? i + NR_KEYS / 2 : i];
}

static int key_index(const char *key)
{
    for (int i = 0; i < NR_KEYS; i++)
        if (!strcmp(key, key_names[i]))
            return i;
    return -1;
}

/* A sample: a finite number of ms from 0 to SWITCHOVER_COSTS_MAX_MS. */
static bool sample_of(json_object *v, double *out)
{
    double d;

    if (json_object_is_type(v, json_type_int))
        d = (double)json_object_get_int64(v);
    else if (json_object_is_type(v, json_type_double))
        d = json_object_get_double(v);
    else
        return false;
    if (!isfinite(d) || d < 0 || d > SWITCHOVER_COSTS_MAX_MS)
        return false;
    *out = d;
    return true;
}

/* One part's samples of key into e (e->count already read). */
static int parse_part(json_object *o, const char *key, unsigned int part, struct entry *e)
{
    const char *name = part_names[part];
    long long want = e->count < SWITCHOVER_COSTS_SAMPLES ? e->count : SWITCHOVER_COSTS_SAMPLES;
    json_object *arr;
    size_t len;

    if (!json_object_object_get_ex(o, name, &arr) || !json_object_is_type(arr, json_type_array))
        return mig_error_set(MIG_EFORMAT, "\"%s\" has no array \"%s\"", key, name);
    len = json_object_array_length(arr);
    /* min(count, SAMPLES) samples, or a probe's one before any migration */
    if ((long long)len != want && !(e->count == 0 && len == 1))
        return mig_error_set(MIG_EFORMAT, "\"%s\".%s has %zu samples for a count of %lld "
                             "(at most %d are kept)", key, name, len, e->count,
                             SWITCHOVER_COSTS_SAMPLES);
    if (part > 0 && len != e->nr)
        return mig_error_set(MIG_EFORMAT, "\"%s\".%s has %zu samples, %s %u", key, name, len,
                             part_names[0], e->nr);
    e->nr = (unsigned int)len;
    for (size_t i = 0; i < len; i++) {
        json_object *v = json_object_array_get_idx(arr, i);

        if (!sample_of(v, &e->samples[part][i]))
            return mig_error_set(MIG_EFORMAT, "\"%s\".%s[%zu] is %.40s, not a number of "
                                 "milliseconds from 0 to %.0f", key, name, i,
                                 json_object_to_json_string(v), SWITCHOVER_COSTS_MAX_MS);
    }
    return 0;
}

/* One key's object: exactly "count" and the four parts. */
static int parse_entry(json_object *o, const char *key, struct entry *e)
{
    json_object *count;
    int rc = 0;

    if (!json_object_is_type(o, json_type_object) ||
        json_object_object_length(o) != 1 + NR_PARTS)
        return mig_error_set(MIG_EFORMAT, "\"%s\" is not an object of \"count\" and the "
                             "parts pause_ms, state_ms, destination_ms, resume_ms", key);
    if (!json_object_object_get_ex(o, "count", &count) ||
        !json_object_is_type(count, json_type_int) ||
        json_object_get_int64(count) < 0 || json_object_get_int64(count) > MAX_COUNT)
        return mig_error_set(MIG_EFORMAT, "\"%s\".count is %.40s, not a whole number from 0 "
                             "to %lld", key, count ? json_object_to_json_string(count)
                                                   : "missing", MAX_COUNT);
    e->count = json_object_get_int64(count);
    for (unsigned int p = 0; p < NR_PARTS && !rc; p++)
        rc = parse_part(o, key, p, e);
    return rc;
}

/* The document's members: "version" 1 and "costs", an object of known keys. */
static int parse_members(json_object *doc, struct store *s)
{
    json_object *version, *costs;
    int rc = 0;

    if (!json_object_is_type(doc, json_type_object) || json_object_object_length(doc) != 2 ||
        !json_object_object_get_ex(doc, "version", &version) ||
        !json_object_object_get_ex(doc, "costs", &costs))
        return mig_error_set(MIG_EFORMAT, "the document is not an object of \"version\" and "
                             "\"costs\"");
    if (!json_object_is_type(version, json_type_int) ||
        json_object_get_int64(version) != SWITCHOVER_COSTS_VERSION)
        return mig_error_set(MIG_EFORMAT, "version %.40s: this xl-ext reads version %d",
                             json_object_to_json_string(version), SWITCHOVER_COSTS_VERSION);
    if (!json_object_is_type(costs, json_type_object) ||
        json_object_object_length(costs) > NR_KEYS)
        return mig_error_set(MIG_EFORMAT, "\"costs\" is not an object of at most %d keys",
                             NR_KEYS);
    json_object_object_foreach(costs, key, value) {
        int i = key_index(key);

        if (i < 0)
            return mig_error_set(MIG_EFORMAT, "unknown key \"%.40s\" (the keys are sim, "
                                 "xen-pv, xen-pvh, xen-hvm, and each with -save)", key);
        rc = parse_entry(value, key, &s->e[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* The store's text (len bytes) into *s; MIG_EFORMAT with what is wrong. */
static int parse_store(const char *text, size_t len, struct store *s)
{
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    json_object *doc = NULL;
    size_t end;
    int rc;

    if (!tok)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    doc = json_tokener_parse_ex(tok, text, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (!doc) {
        rc = mig_error_set(MIG_EFORMAT, "not JSON at offset %zu: %s", end,
                           json_tokener_error_desc(json_tokener_get_error(tok)));
        goto out;
    }
    if (end < len && strspn(text + end, " \t\r\n") != len - end) {
        rc = mig_error_set(MIG_EFORMAT, "text after the JSON document at offset %zu", end);
        goto out;
    }
    rc = parse_members(doc, s);
out:
    json_object_put(doc);
    json_tokener_free(tok);
    return rc;
}

/*
 * The store at path into *s.  No file: an empty store.  A file that
 * cannot be read or is not the format: warned about (once) and taken as
 * empty, none of it trusted.
 */
static void load(const char *path, struct store *s)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(s, 0, sizeof(*s));
    if (access(path, F_OK) && errno == ENOENT)
        return;
    rc = cpuid_read_text_file(path, WHAT, MAX_FILE, CPUID_READ_REFUSE_NUL, &text, &len);
    if (!rc)
        rc = parse_store(text, len, s);
    free(text);
    if (!rc)
        return;
    memset(s, 0, sizeof(*s));
    if (!warned_read)
        fprintf(stderr, "%s: ignoring %s '%s': %s (the next successful migration replaces "
                "it)\n", xl_ext_prog, WHAT, path, mig_error_last());
    warned_read = true;
}

/* mkdir -p dir, each new directory 0755. */
static int make_dir(const char *dir)
{
    char *copy = strdup(dir);
    int rc = 0;

    if (!copy)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    for (char *p = copy + 1; ; p++) {
        bool last = !*p;

        if (*p != '/' && !last)
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) && errno != EEXIST) {
            rc = mig_error_set_errno(MIG_EIO, errno, "cannot create the directory '%s'", copy);
            break;
        }
        if (last)
            break;
        *p = '/';
    }
    free(copy);
    return rc;
}

/* A sample as JSON, to the microsecond. */
static json_object *sample_json(double ms)
{
    char text[32];

    snprintf(text, sizeof(text), "%.3f", ms);
    return json_object_new_double_s(ms, text);
}

/* The store as a new JSON document the caller owns (NULL: out of memory). */
static json_object *store_json(const struct store *s)
{
    json_object *doc = json_object_new_object(), *costs = json_object_new_object();

    if (!doc || !costs) {
        json_object_put(doc);
        json_object_put(costs);
        return NULL;
    }
    json_object_object_add(doc, "version", json_object_new_int(SWITCHOVER_COSTS_VERSION));
    json_object_object_add(doc, "costs", costs);
    for (unsigned int k = 0; k < NR_KEYS; k++) {
        const struct entry *e = &s->e[k];
        json_object *o;

        if (!e->nr)
            continue;
        o = json_object_new_object();
        json_object_object_add(o, "count", json_object_new_int64(e->count));
        for (unsigned int p = 0; p < NR_PARTS; p++) {
            json_object *arr = json_object_new_array();

            for (unsigned int i = 0; i < e->nr; i++)
                json_object_array_add(arr, sample_json(e->samples[p][i]));
            json_object_object_add(o, part_names[p], arr);
        }
        json_object_object_add(costs, key_names[k], o);
    }
    return doc;
}

/* Replace the store at path whole with *s (its directory made if missing). */
static int save(const char *path, const struct store *s)
{
    struct mig_whole_file f = { .fd = -1 };
    json_object *doc = store_json(s);
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    const char *text;
    int rc;

    if (!doc || !dir) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    if (slash && slash != dir) {
        *slash = '\0';
        rc = make_dir(dir);
        if (rc)
            goto out;
    }
    text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    rc = mig_whole_file_open(&f, path, 0644, WHAT);
    if (!rc)
        rc = mig_write_all(f.fd, text, strlen(text), 0, "cannot write %s '%s'", WHAT, path);
    if (!rc)
        rc = mig_write_all(f.fd, "\n", 1, 0, "cannot write %s '%s'", WHAT, path);
    if (!rc)
        rc = mig_whole_file_commit(&f, WHAT);
    else
        mig_whole_file_discard(&f);
out:
    json_object_put(doc);
    free(dir);
    return rc;
}

static int warn_write(int rc)
{
    if (!warned_write)
        fprintf(stderr, "%s: cannot keep the switchover costs: %s; the migration goes on "
                "without them\n", xl_ext_prog, mig_error_last());
    warned_write = true;
    return rc;
}

/* Add one sample of each part, the oldest going when SAMPLES are kept. */
static void add_sample(struct entry *e, const double parts[NR_PARTS])
{
    if (e->nr == SWITCHOVER_COSTS_SAMPLES) {
        for (unsigned int p = 0; p < NR_PARTS; p++)
            memmove(e->samples[p], e->samples[p] + 1,
                    (SWITCHOVER_COSTS_SAMPLES - 1) * sizeof(double));
        e->nr--;
    }
    for (unsigned int p = 0; p < NR_PARTS; p++) {
        double v = parts[p];

        e->samples[p][e->nr] = !(v >= 0) ? 0 : v > SWITCHOVER_COSTS_MAX_MS
                                             ? SWITCHOVER_COSTS_MAX_MS : v;
    }
    e->nr++;
}

static double median(const double *v, unsigned int n)
{
    double sorted[SWITCHOVER_COSTS_SAMPLES];

    for (unsigned int i = 0; i < n; i++) {
        unsigned int j = i;

        for (; j > 0 && sorted[j - 1] > v[i]; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = v[i];
    }
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

bool switchover_costs_lookup(const char *key, struct switchover_costs *costs)
{
    char path[4096];
    struct store s;
    const struct entry *e;
    double m[NR_PARTS];
    int k = key_index(key);

    memset(costs, 0, sizeof(*costs));
    if (k < 0)
        return false;
    switchover_costs_path(path, sizeof(path));
    load(path, &s);
    e = &s.e[k];
    if (!e->nr)
        return false;
    for (unsigned int p = 0; p < NR_PARTS; p++)
        m[p] = median(e->samples[p], e->nr);
    costs->learned = (unsigned int)e->count;
    costs->seeded = !e->count;
    costs->median = (struct switchover_parts){ m[0], m[1], m[2], m[3] };
    costs->fixed_ms = m[0] + m[1] + m[2] + m[3];
    return true;
}

void switchover_costs_use(const char *key, struct mig_precopy_options *policy,
                          struct migrate_output *out)
{
    struct switchover_costs c;

    out->fixed_cost_learned = 0;
    out->fixed_cost_seeded = false;
    if (!switchover_costs_lookup(key, &c))
        return;
    policy->overhead_ms = (unsigned int)(c.fixed_ms + 0.5);
    out->fixed_cost_learned = c.learned;
    out->fixed_cost_seeded = c.seeded;
}

/* Add parts to key's entry (a probe's only while nothing was learned). */
static int update(const char *key, const double parts[NR_PARTS], bool probe)
{
    char path[4096];
    struct store s;
    struct entry *e;
    int k = key_index(key);

    if (k < 0)
        return warn_write(mig_error_set(MIG_EINVAL, "no switchover costs are kept for '%s' "
                                        "(only sim, xen-pv, xen-pvh, xen-hvm)", key));
    switchover_costs_path(path, sizeof(path));
    load(path, &s);
    e = &s.e[k];
    if (probe && e->count)
        return 0;
    if (!e->count)
        e->nr = 0;              /* a probe's seed gives way to what is measured */
    add_sample(e, parts);
    if (!probe && e->count < MAX_COUNT)
        e->count++;
    return save(path, &s) ? warn_write(mig_error_last_code()) : 0;
}

int switchover_costs_learn(const char *key, const struct mig_migrate_result *r)
{
    const double parts[NR_PARTS] = {
        r->downtime_parts.pause * 1e3, r->downtime_parts.state * 1e3,
        r->downtime_parts.destination * 1e3, r->downtime_parts.resume * 1e3,
    };

    /* only a switchover that happened teaches: not a dry run, not a failure */
    if (!r->succeeded || r->dry_run)
        return 0;
    return update(key, parts, false);
}

int switchover_costs_seed(const char *key, const struct switchover_parts *probe)
{
    const double parts[NR_PARTS] = {
        probe->pause_ms, probe->state_ms, probe->destination_ms, probe->resume_ms,
    };

    for (unsigned int p = 0; p < NR_PARTS; p++)
        if (!isfinite(parts[p]) || parts[p] < 0 || parts[p] > SWITCHOVER_COSTS_MAX_MS)
            return warn_write(mig_error_set(MIG_EINVAL, "a probe's %s of %g is not a number "
                                            "of milliseconds from 0 to %.0f", part_names[p],
                                            parts[p], SWITCHOVER_COSTS_MAX_MS));
    return update(key, parts, true);
}

void switchover_costs_forget_warnings(void)
{
    warned_read = warned_write = false;
}
