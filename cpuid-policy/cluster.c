/*
 * cluster.c: cluster baselines and the cluster's JSON (members, baseline,
 * optional pinned level, version, content hash; the file on disk is
 * cluster_file.c).
 *
 * Rules (XAPI-style levelling, docs/architecture.md "Vendor rules"): the
 * baseline is the intersection of the members' HVM max featuresets, or a
 * pinned named level; all members share one vendor; a host lacking any
 * baseline feature is refused with the list of what it lacks.  The bits of
 * OS state (cpuid_policy.h) are dropped from every featureset that enters.
 * This file must never lower a baseline silently when a host is added, and
 * never print: only cpuid_cluster_join() (cluster create) and
 * cpuid_cluster_relevel_auto() (cluster relevel, asked for by name) lower
 * one.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAX_MEMBERS 4096
#define MAX_NAME 255

struct cluster_member {
    char *hostname;
    struct cpuid_featureset features;
    char *gpu_baseline;         /* the member's GPU levels, NULL: not recorded */
};

struct cpuid_cluster {
    unsigned long long version; /* the file's version: writes so far, 0 for a new cluster */
    char read_hash[CPUID_CLUSTER_HASH_TEXT];    /* content hash as read, "" if not read */
    char *stated_hash;          /* the file's own "content_hash", NULL if none */
    char *name;
    enum cpuid_vendor vendor;
    struct cpuid_featureset baseline;
    char *pinned_level;
    char *gpu_baseline;         /* NULL: no GPU level recorded */
    bool gpu_pinned;
    struct cluster_member *members;
    unsigned int count;
};

int cpuid_cluster_baseline(struct cpuid_host *const *hosts, unsigned int n,
                           enum cpuid_host_policy which,
                           struct cpuid_featureset *baseline_out,
                           enum cpuid_vendor *vendor_out)
{
    struct cpuid_featureset baseline;
    enum cpuid_vendor vendor;

    if (n == 0)
        return mig_error_set(MIG_EINVAL, "a cluster baseline needs at least one host file");
    baseline = *cpuid_host_featureset(hosts[0], which);
    vendor = cpuid_host_vendor(hosts[0]);
    for (unsigned int i = 1; i < n; i++) {
        if (cpuid_host_vendor(hosts[i]) != vendor)
            return mig_error_set(MIG_ECOMPAT,
                                 "vendor mix: '%s' is %s but '%s' is %s; a cluster has one "
                                 "vendor (guests see the vendor and Xen does not migrate "
                                 "across vendors): split the hosts into one cluster per vendor",
                                 cpuid_host_hostname(hosts[0]), cpuid_vendor_name(vendor),
                                 cpuid_host_hostname(hosts[i]),
                                 cpuid_vendor_name(cpuid_host_vendor(hosts[i])));
        cpuid_featureset_intersect(&baseline, &baseline, cpuid_host_featureset(hosts[i], which));
    }
    cpuid_featureset_drop_os_state(&baseline);
    cpuid_featureset_close(&baseline);
    *baseline_out = baseline;
    *vendor_out = vendor;
    return 0;
}

int cpuid_cluster_new(const char *name, struct cpuid_cluster **out)
{
    struct cpuid_cluster *c = calloc(1, sizeof(*c));

    if (!c)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    if (!name || !*name || strlen(name) > MAX_NAME) {
        free(c);
        return mig_error_set(MIG_EINVAL, "a cluster name needs 1 to %d characters", MAX_NAME);
    }
    c->name = cpuid_strdup(name);
    c->members = calloc(MAX_MEMBERS, sizeof(*c->members));
    if (!c->name || !c->members) {
        cpuid_cluster_free(c);
        return mig_error_set(MIG_ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

void cpuid_cluster_free(struct cpuid_cluster *c)
{
    if (!c)
        return;
    for (unsigned int i = 0; c->members && i < c->count; i++) {
        free(c->members[i].hostname);
        free(c->members[i].gpu_baseline);
    }
    free(c->members);
    free(c->stated_hash);
    free(c->name);
    free(c->pinned_level);
    free(c->gpu_baseline);
    free(c);
}

int cpuid_cluster_pin_level(struct cpuid_cluster *c, const struct cpuid_level *level,
                            struct cpuid_featureset *missing)
{
    struct cpuid_featureset features = level->features;
    char *name;

    cpuid_featureset_drop_os_state(&features);
    if (level->vendor != CPUID_VENDOR_UNKNOWN && c->count && level->vendor != c->vendor)
        return mig_error_set(MIG_ECOMPAT, "level '%s' is for %s hosts but cluster '%s' is %s",
                             level->name, cpuid_vendor_name(level->vendor), c->name,
                             cpuid_vendor_name(c->vendor));
    for (unsigned int i = 0; i < c->count; i++)
        if (!cpuid_featureset_is_subset(&features, &c->members[i].features)) {
            struct cpuid_featureset lack;

            cpuid_featureset_subtract(&lack, &features, &c->members[i].features);
            if (missing)
                *missing = lack;
            return mig_error_set(MIG_ECOMPAT, "member '%s' lacks %u feature(s) of level '%s': "
                                 "pin a lower level or remove the host",
                                 c->members[i].hostname, cpuid_featureset_count(&lack),
                                 level->name);
        }
    name = cpuid_strdup(level->name);
    if (!name)
        return MIG_ENOMEM;
    free(c->pinned_level);
    c->pinned_level = name;
    c->baseline = features;
    if (!c->count && level->vendor != CPUID_VENDOR_UNKNOWN)
        c->vendor = level->vendor;
    return 0;
}

int cpuid_cluster_add(struct cpuid_cluster *c, const struct cpuid_host *host,
                      struct cpuid_featureset *missing)
{
    struct cpuid_featureset member = *cpuid_host_featureset(host, CPUID_HOST_POLICY_HVM_MAX);
    const struct cpuid_featureset *fs = &member;
    const char *hostname = cpuid_host_hostname(host);
    struct cluster_member *slot = NULL;
    char *copy;

    cpuid_featureset_drop_os_state(&member);
    if (c->count || c->pinned_level) {
        if (c->vendor != CPUID_VENDOR_UNKNOWN && cpuid_host_vendor(host) != c->vendor)
            return mig_error_set(MIG_ECOMPAT, "host '%s' is %s but cluster '%s' is %s: a "
                                 "cluster has one vendor", hostname,
                                 cpuid_vendor_name(cpuid_host_vendor(host)), c->name,
                                 cpuid_vendor_name(c->vendor));
        if (!cpuid_featureset_is_subset(&c->baseline, fs)) {
            struct cpuid_featureset lack;

            cpuid_featureset_subtract(&lack, &c->baseline, fs);
            if (missing)
                *missing = lack;
            return mig_error_set(MIG_ECOMPAT, "host '%s' lacks %u feature(s) of cluster '%s' "
                                 "baseline: domains levelled to the cluster could not run "
                                 "there", hostname, cpuid_featureset_count(&lack), c->name);
        }
    }
    for (unsigned int i = 0; i < c->count; i++)
        if (!strcmp(c->members[i].hostname, hostname))
            slot = &c->members[i];
    if (!slot) {
        if (c->count == MAX_MEMBERS)
            return mig_error_set(MIG_ELIMIT, "cluster '%s' has %u members, the most allowed",
                                 c->name, MAX_MEMBERS);
        copy = cpuid_strdup(hostname);
        if (!copy)
            return MIG_ENOMEM;
        slot = &c->members[c->count++];
        slot->hostname = copy;
    }
    slot->features = *fs;
    if (c->count == 1 && !c->pinned_level) {
        c->baseline = *fs;
        cpuid_featureset_close(&c->baseline);
    }
    if (c->vendor == CPUID_VENDOR_UNKNOWN)
        c->vendor = cpuid_host_vendor(host);
    return 0;
}

int cpuid_cluster_join(struct cpuid_cluster *c, const struct cpuid_host *host)
{
    struct cpuid_featureset member = *cpuid_host_featureset(host, CPUID_HOST_POLICY_HVM_MAX);
    struct cpuid_featureset before = c->baseline;
    char *pinned = c->pinned_level;
    int rc;

    cpuid_featureset_drop_os_state(&member);
    if (c->count || c->pinned_level) {
        cpuid_featureset_intersect(&c->baseline, &c->baseline, &member);
        cpuid_featureset_close(&c->baseline);
    }
    if (memcmp(&c->baseline, &before, sizeof(before)))
        c->pinned_level = NULL;             /* below its level now */
    rc = cpuid_cluster_add(c, host, NULL);
    if (rc) {
        c->baseline = before;
        c->pinned_level = pinned;
    } else if (pinned && !c->pinned_level) {
        free(pinned);
    }
    return rc;
}

int cpuid_cluster_remove(struct cpuid_cluster *c, const char *hostname)
{
    for (unsigned int i = 0; i < c->count; i++) {
        if (strcmp(c->members[i].hostname, hostname))
            continue;
        free(c->members[i].hostname);
        free(c->members[i].gpu_baseline);
        memmove(&c->members[i], &c->members[i + 1], (c->count - i - 1) * sizeof(c->members[0]));
        c->count--;
        memset(&c->members[c->count], 0, sizeof(c->members[0]));
        return 0;
    }
    return mig_error_set(MIG_EINVAL, "cluster '%s' has no member '%.64s': 'cluster show' lists "
                         "them", c->name, hostname);
}

int cpuid_cluster_members_share(const struct cpuid_cluster *c, struct cpuid_featureset *out)
{
    struct cpuid_featureset shared;

    if (!c->count)
        return mig_error_set(MIG_EINVAL, "cluster '%s' has no members: they share nothing to "
                             "level to", c->name);
    shared = c->members[0].features;
    for (unsigned int i = 1; i < c->count; i++)
        cpuid_featureset_intersect(&shared, &shared, &c->members[i].features);
    cpuid_featureset_drop_os_state(&shared);
    cpuid_featureset_close(&shared);
    *out = shared;
    return 0;
}

int cpuid_cluster_relevel_auto(struct cpuid_cluster *c)
{
    struct cpuid_featureset shared;
    int rc = cpuid_cluster_members_share(c, &shared);

    if (rc)
        return rc;
    free(c->pinned_level);
    c->pinned_level = NULL;
    c->baseline = shared;
    return 0;
}

const char *cpuid_cluster_name(const struct cpuid_cluster *c) { return c->name; }
unsigned long long cpuid_cluster_version(const struct cpuid_cluster *c) { return c->version; }
void cpuid_cluster_set_version(struct cpuid_cluster *c, unsigned long long v) { c->version = v; }

int cpuid_cluster_note_written(struct cpuid_cluster *c, const char *hash)
{
    char *copy = cpuid_strdup(hash);

    if (!copy)
        return MIG_ENOMEM;
    snprintf(c->read_hash, sizeof(c->read_hash), "%s", hash);
    free(c->stated_hash);
    c->stated_hash = copy;
    return 0;
}
const char *cpuid_cluster_read_hash(const struct cpuid_cluster *c) { return c->read_hash; }
const char *cpuid_cluster_stated_hash(const struct cpuid_cluster *c) { return c->stated_hash; }
enum cpuid_vendor cpuid_cluster_vendor(const struct cpuid_cluster *c) { return c->vendor; }
const char *cpuid_cluster_pinned_level(const struct cpuid_cluster *c) { return c->pinned_level; }
unsigned int cpuid_cluster_member_count(const struct cpuid_cluster *c) { return c->count; }

const struct cpuid_featureset *cpuid_cluster_baseline_features(const struct cpuid_cluster *c)
{
    return &c->baseline;
}

const char *cpuid_cluster_member_name(const struct cpuid_cluster *c, unsigned int i)
{
    return i < c->count ? c->members[i].hostname : NULL;
}

const struct cpuid_featureset *cpuid_cluster_member_features(const struct cpuid_cluster *c,
                                                             unsigned int i)
{
    return i < c->count ? &c->members[i].features : NULL;
}

const char *cpuid_cluster_gpu_baseline(const struct cpuid_cluster *c, bool *pinned)
{
    if (pinned)
        *pinned = c->gpu_pinned;
    return c->gpu_baseline;
}

const char *cpuid_cluster_member_gpu_baseline(const struct cpuid_cluster *c, unsigned int i)
{
    return i < c->count ? c->members[i].gpu_baseline : NULL;
}

/* Replace *slot with a copy of value (NULL clears it). */
static int replace_string(char **slot, const char *value)
{
    char *copy = NULL;

    if (value) {
        copy = cpuid_strdup(value);
        if (!copy)
            return MIG_ENOMEM;
    }
    free(*slot);
    *slot = copy;
    return 0;
}

int cpuid_cluster_set_gpu_baseline(struct cpuid_cluster *c, const char *baseline, bool pinned)
{
    int rc = replace_string(&c->gpu_baseline, baseline);

    if (!rc)
        c->gpu_pinned = baseline && pinned;
    return rc;
}

int cpuid_cluster_set_member_gpu_baseline(struct cpuid_cluster *c, const char *hostname,
                                          const char *baseline)
{
    for (unsigned int i = 0; i < c->count; i++)
        if (!strcmp(c->members[i].hostname, hostname))
            return replace_string(&c->members[i].gpu_baseline, baseline);
    return mig_error_set(MIG_EINVAL, "cluster '%s' has no member '%.64s'", c->name, hostname);
}

/* The cluster as a new JSON object, everything but "content_hash"; NULL when out of memory. */
static json_object *cluster_json_object(const struct cpuid_cluster *c)
{
    json_object *root = json_object_new_object(), *members = json_object_new_array();
    char hex[CPUID_FEATURESET_HEX_LEN];

    if (!root || !members) {
        json_object_put(root);
        json_object_put(members);
        return NULL;
    }
    json_object_object_add(root, "schema_version", json_object_new_int(1));
    json_object_object_add(root, "version", json_object_new_int64((int64_t)c->version));
    json_object_object_add(root, "name", json_object_new_string(c->name));
    json_object_object_add(root, "vendor", json_object_new_string(cpuid_vendor_name(c->vendor)));
    cpuid_featureset_format_hex(&c->baseline, hex);
    json_object_object_add(root, "baseline", json_object_new_string(hex));
    json_object_object_add(root, "pinned_level",
                           c->pinned_level ? json_object_new_string(c->pinned_level) : NULL);
    if (c->gpu_baseline) {
        json_object_object_add(root, "gpu_baseline", json_object_new_string(c->gpu_baseline));
        json_object_object_add(root, "gpu_pinned", json_object_new_boolean(c->gpu_pinned));
    }
    for (unsigned int i = 0; i < c->count; i++) {
        json_object *m = json_object_new_object();

        cpuid_featureset_format_hex(&c->members[i].features, hex);
        json_object_object_add(m, "hostname", json_object_new_string(c->members[i].hostname));
        json_object_object_add(m, "features", json_object_new_string(hex));
        if (c->members[i].gpu_baseline)
            json_object_object_add(m, "gpu_baseline",
                                   json_object_new_string(c->members[i].gpu_baseline));
        json_object_array_add(members, m);
    }
    json_object_object_add(root, "members", members);
    return root;
}

static const char *pretty(json_object *root)
{
    return json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
}

/* "sha256:" and the SHA-256 of text in hex, into out. */
static int sha256_text(const char *text, char out[CPUID_CLUSTER_HASH_TEXT])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;

    if (!EVP_Digest(text, strlen(text), digest, &length, EVP_sha256(), NULL) || length != 32)
        return mig_error_set(MIG_ENOMEM, "cannot compute a SHA-256 (libcrypto)");
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < length; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

int cpuid_cluster_content_hash(const struct cpuid_cluster *c, char out[CPUID_CLUSTER_HASH_TEXT])
{
    json_object *root = cluster_json_object(c);
    const char *text = root ? pretty(root) : NULL;
    int rc = text ? sha256_text(text, out) : mig_error_set(MIG_ENOMEM, "out of memory");

    json_object_put(root);
    return rc;
}

int cpuid_cluster_to_json(const struct cpuid_cluster *c, char **out)
{
    json_object *root = cluster_json_object(c);
    char hash[CPUID_CLUSTER_HASH_TEXT];
    const char *text = root ? pretty(root) : NULL;
    int rc;

    if (!text) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    rc = sha256_text(text, hash);
    if (rc)
        goto out;
    json_object_object_add(root, "content_hash", json_object_new_string(hash));
    text = pretty(root);
    if (!text || asprintf(out, "%s\n", text) < 0) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    rc = 0;
 out:
    json_object_put(root);
    return rc;
}

static int json_string_field(json_object *obj, const char *key, const char *origin,
                             const char **out)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return mig_error_set(MIG_EFORMAT, "%s: \"%s\" (string) is missing: see docs/formats.md "
                             "\"Cluster file format\"", origin, key);
    *out = json_object_get_string(v);
    return 0;
}

/* An optional string member (absent or null: *out stays NULL), copied. */
static int optional_string_field(json_object *obj, const char *key, const char *origin,
                                 char **out)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
        json_object_get_string_len(v) >= 128)
        return mig_error_set(MIG_EFORMAT, "%s: \"%s\" must be a GPU baseline string of 1 to "
                             "127 characters or null", origin, key);
    *out = cpuid_strdup(json_object_get_string(v));
    return *out ? 0 : MIG_ENOMEM;
}

/* The optional "pinned_level", "gpu_baseline" and "gpu_pinned" of a cluster file. */
static int cluster_parse_pins(json_object *root, const char *origin, struct cpuid_cluster *c)
{
    json_object *pinned;
    int rc;

    if (json_object_object_get_ex(root, "pinned_level", &pinned) && pinned) {
        if (!json_object_is_type(pinned, json_type_string))
            return mig_error_set(MIG_EFORMAT, "%s: \"pinned_level\" must be a string or null",
                                 origin);
        c->pinned_level = cpuid_strdup(json_object_get_string(pinned));
        if (!c->pinned_level)
            return MIG_ENOMEM;
    }
    rc = optional_string_field(root, "gpu_baseline", origin, &c->gpu_baseline);
    if (rc)
        return rc;
    if (json_object_object_get_ex(root, "gpu_pinned", &pinned) && pinned) {
        if (!json_object_is_type(pinned, json_type_boolean))
            return mig_error_set(MIG_EFORMAT, "%s: \"gpu_pinned\" must be true or false", origin);
        c->gpu_pinned = c->gpu_baseline && json_object_get_boolean(pinned);
    }
    return 0;
}

/* Member i of the "members" array (counted in c once its hostname is copied). */
static int cluster_parse_member(json_object *m, size_t i, const char *origin,
                                struct cpuid_cluster *c)
{
    const char *hostname, *features;
    char where[64];
    int rc;

    snprintf(where, sizeof(where), "%s: member %zu", origin, i);
    if (!m || !json_object_is_type(m, json_type_object))
        return mig_error_set(MIG_EFORMAT, "%s is not an object", where);
    if ((rc = json_string_field(m, "hostname", where, &hostname)) ||
        (rc = json_string_field(m, "features", where, &features)))
        return rc;
    c->members[i].hostname = cpuid_strdup(hostname);
    if (!c->members[i].hostname)
        return MIG_ENOMEM;
    c->count++;
    rc = optional_string_field(m, "gpu_baseline", where, &c->members[i].gpu_baseline);
    if (rc)
        return rc;
    rc = cpuid_featureset_parse_hex(features, 0, &c->members[i].features);
    if (rc)
        return cpuid_error_prefix("%s: member '%.64s'", origin, hostname);
    cpuid_featureset_drop_os_state(&c->members[i].features);
    return 0;
}

/* The "members" array; `vendor` is the file's vendor string, for the message. */
static int cluster_parse_members(json_object *root, const char *origin, const char *vendor,
                                 struct cpuid_cluster *c)
{
    json_object *members;
    size_t n;
    int rc;

    if (!json_object_object_get_ex(root, "members", &members) ||
        !json_object_is_type(members, json_type_array))
        return mig_error_set(MIG_EFORMAT, "%s: \"members\" (array) is missing", origin);
    n = json_object_array_length(members);
    if (n > MAX_MEMBERS)
        return mig_error_set(MIG_ELIMIT, "%s: %zu members, more than %u", origin, n,
                             MAX_MEMBERS);
    if (n && c->vendor == CPUID_VENDOR_UNKNOWN)
        return mig_error_set(MIG_EFORMAT, "%s: \"vendor\" \"%.40s\" is not intel, amd or hygon",
                             origin, vendor);
    for (size_t i = 0; i < n; i++) {
        rc = cluster_parse_member(json_object_array_get_idx(members, i), i, origin, c);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * The optional "version" and "content_hash" (a file written before them has
 * neither: version 0), and the hash of the content as read.
 */
static int cluster_parse_revision(json_object *root, const char *origin, struct cpuid_cluster *c)
{
    json_object *v;

    if (json_object_object_get_ex(root, "version", &v) && v) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
            return mig_error_set(MIG_EFORMAT, "%s: \"version\" must be a whole number (the "
                                 "times xl-ext wrote the file)", origin);
        c->version = (unsigned long long)json_object_get_int64(v);
    }
    if (json_object_object_get_ex(root, "content_hash", &v) && v) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) >= CPUID_CLUSTER_HASH_TEXT)
            return mig_error_set(MIG_EFORMAT, "%s: \"content_hash\" must be \"sha256:\" and "
                                 "64 hex digits", origin);
        c->stated_hash = cpuid_strdup(json_object_get_string(v));
        if (!c->stated_hash)
            return MIG_ENOMEM;
    }
    return cpuid_cluster_content_hash(c, c->read_hash);
}

int cpuid_cluster_parse(const char *text, size_t len, const char *origin,
                        struct cpuid_cluster **out)
{
    struct cpuid_cluster *c = NULL;
    json_object *root = NULL, *version;
    const char *name, *vendor, *baseline;
    int rc;

    rc = cpuid_parse_json_object(text, len, origin, (void **)&root);
    if (rc)
        return rc;
    if (!json_object_object_get_ex(root, "schema_version", &version) ||
        !json_object_is_type(version, json_type_int) || json_object_get_int64(version) != 1) {
        rc = mig_error_set(MIG_EFORMAT, "%s: \"schema_version\" must be 1: is this a cluster "
                           "file from 'xl-ext cpuid-policy cluster add'?", origin);
        goto out;
    }
    if ((rc = json_string_field(root, "name", origin, &name)) ||
        (rc = json_string_field(root, "vendor", origin, &vendor)) ||
        (rc = json_string_field(root, "baseline", origin, &baseline)))
        goto out;
    rc = cpuid_cluster_new(name, &c);
    if (rc) {
        rc = cpuid_error_prefix("%s", origin);
        goto out;
    }
    c->vendor = cpuid_vendor_parse(vendor);
    rc = cpuid_featureset_parse_hex(baseline, 0, &c->baseline);
    if (rc) {
        rc = cpuid_error_prefix("%s: \"baseline\"", origin);
        goto out;
    }
    cpuid_featureset_drop_os_state(&c->baseline);   /* a file written before the rule */
    rc = cluster_parse_pins(root, origin, c);
    if (rc)
        goto out;
    rc = cluster_parse_members(root, origin, vendor, c);
    if (!rc)
        rc = cluster_parse_revision(root, origin, c);
    if (rc)
        goto out;
    *out = c;
    c = NULL;
 out:
    json_object_put(root);
    cpuid_cluster_free(c);
    return rc;
}
