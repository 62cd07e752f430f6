/*
 * migrate_xen.c: the pre-flight check and the baseline record of
 * `xl-ext migrate-receive --xen` (migrate_xen.h).
 *
 * It must never accept a domain whose featureset it could not read, and
 * never fail a migration that already succeeded because a record could
 * not be written (that only warns).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <xenstore.h>

#include "cpuid_policy.h"
#include "domain_record.h"
#include "migrate_xen.h"
#include "mig_error.h"
#include "subcommands.h"

/* The string member key of object, or NULL if absent or not a string. */
static const char *member_string(json_object *object, const char *key)
{
    json_object *value;

    if (!json_object_object_get_ex(object, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

static int parse_metadata(const char *meta_json, json_object **out)
{
    enum json_tokener_error jerr;
    json_object *m = json_tokener_parse_verbose(meta_json, &jerr);

    *out = NULL;
    if (!m)
        return mig_error_set(MIG_EFORMAT, "the source's migration metadata is not JSON "
                             "(%s): \"%.80s\"", json_tokener_error_desc(jerr), meta_json);
    if (!json_object_is_type(m, json_type_object)) {
        json_object_put(m);
        return mig_error_set(MIG_EFORMAT, "the source's migration metadata is not a JSON "
                             "object: \"%.80s\"", meta_json);
    }
    *out = m;
    return 0;
}

int migrate_xen_preflight(void *arg, const char *meta_json)
{
    const struct migrate_xen_preflight *p = arg;
    struct cpuid_featureset required, missing;
    struct cpuid_host *host = NULL;
    json_object *m = NULL;
    const char *name, *type, *features;
    char *names = NULL;
    int rc;

    rc = parse_metadata(meta_json, &m);
    if (rc)
        goto out;
    name = member_string(m, "domain");
    type = member_string(m, "type");
    features = member_string(m, "features");
    if (!name)
        name = "(unnamed)";
    if (!features) {
        rc = mig_error_set(MIG_EFORMAT, "the source's migration metadata for domain '%s' "
                           "has no \"features\" string: it cannot be checked against "
                           "this host", name);
        goto out;
    }
    rc = cpuid_featureset_parse_hex(features, 0, &required);
    if (rc) {
        char cause[512];

        snprintf(cause, sizeof(cause), "%s", mig_error_last());
        rc = mig_error_set(MIG_EFORMAT, "the source's \"features\" of domain '%s' are not "
                           "Xen featureset words: %s", name, cause);
        goto out;
    }
    rc = p && p->host_json ? cpuid_host_read_file(p->host_json, &host)
                           : cpuid_host_probe(NULL, &host);
    if (rc)
        goto out;
    rc = cpuid_policy_check(&required,
                            cpuid_host_featureset(host, cpuid_host_policy_for_type(type)),
                            &missing);
    if (rc == MIG_ECOMPAT) {
        rc = cpuid_featureset_format_names(&missing, CPUID_NAMES_XEN, ", ", &names);
        if (!rc)
            rc = mig_error_set(MIG_ECOMPAT, "destination %s cannot run domain %s: missing "
                               "features: %s", cpuid_host_hostname(host), name, names);
    }
out:
    free(names);
    cpuid_host_free(host);
    if (m)
        json_object_put(m);
    return rc;
}

void migrate_xen_named_features_only(struct cpuid_featureset *fs)
{
    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++) {
        const struct cpuid_feature_info *f = cpuid_feature_by_index(i);

        if (!f || !f->xen_defined)
            cpuid_featureset_clear(fs, i);
    }
}

void migrate_xen_record_baselines(const char *meta_json)
{
    static const char *const keys[] = { "cpuid_baseline", "gpu_baseline",
                                        "cpuid_featureset" };
    struct xs_handle *xs = NULL;
    json_object *m = NULL;
    const char *name;
    bool any = false;
    long domid;

    if (!meta_json || parse_metadata(meta_json, &m))
        return;
    for (unsigned int i = 0; i < 2; i++)
        any |= member_string(m, keys[i]) != NULL;
    name = member_string(m, "domain");
    if (!any)
        goto out;
    if (!name) {
        fprintf(stderr, "%s migrate-receive: warning: the metadata names no domain: its "
                "baselines are not recorded here\n", xl_ext_prog);
        goto out;
    }
    xs = xs_open(0);
    if (!xs) {
        fprintf(stderr, "%s migrate-receive: warning: xenstore cannot be opened (%s): "
                "the baselines of '%s' are not recorded here\n", xl_ext_prog,
                strerror(errno), name);
        goto out;
    }
    domid = domain_record_find_domid(xs, name);
    if (domid < 0) {
        fprintf(stderr, "%s migrate-receive: warning: %s: the baselines of '%s' are not "
                "recorded here\n", xl_ext_prog, mig_error_last(), name);
        goto out;
    }
    for (unsigned int i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *value = member_string(m, keys[i]);
        enum cpuid_baseline_kind kind;

        /* a level, "cluster" or hex words: what every reader of the key takes */
        if (value && i == 0 && cpuid_baseline_parse(value, name, &kind, NULL)) {
            fprintf(stderr, "%s migrate-receive: warning: the source's %s; not recorded\n",
                    xl_ext_prog, mig_error_last());
            continue;
        }
        if (value && domain_record_write(xs, domid, keys[i], value))
            fprintf(stderr, "%s migrate-receive: warning: recording %s of '%s': %s\n",
                    xl_ext_prog, keys[i], name, mig_error_last());
    }
out:
    if (xs)
        xs_close(xs);
    json_object_put(m);
}
