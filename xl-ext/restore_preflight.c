/*
 * restore_preflight.c: see restore_preflight.h.  The file's policy is the
 * one Xen gave the domain; what Xen itself controls there (and bits Xen
 * does not name) is left out as the migration's pre-flight does
 * (migrate_xen_source.c), then cpuid_policy_check() names what the host
 * lacks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "mig_stream.h"
#include "migrate_xen.h"
#include "restore_preflight.h"
#include "subcommands.h"

#define MSR_ARCH_CAPABILITIES 0x10au
#define MAX_LEAVES            256u

/* What the head of the file says about the domain. */
struct file_policy {
    char name[128];                    /* c_info.name of the config */
    bool hvm;                          /* the libxc domain header's type */
    bool have_cpuid;
    struct cpuid_leaf_value leaves[MAX_LEAVES];
    size_t nr_leaves;
    uint64_t arch_caps;
};

static void config_name(const struct mig_stream_xl_header *xl, struct file_policy *fp)
{
    json_object *config = NULL, *c_info, *name;
    char *text;

    snprintf(fp->name, sizeof(fp->name), "(unnamed)");
    if (!xl->config || !xl->config_length)
        return;
    text = strndup((const char *)xl->config, xl->config_length);
    if (text)
        config = json_tokener_parse(text);
    if (config && json_object_object_get_ex(config, "c_info", &c_info) &&
        json_object_object_get_ex(c_info, "name", &name) &&
        json_object_is_type(name, json_type_string))
        snprintf(fp->name, sizeof(fp->name), "%s", json_object_get_string(name));
    if (config)
        json_object_put(config);
    free(text);
}

static int take_record(const struct mig_stream_record *r, struct file_policy *fp)
{
    struct mig_stream_body body;
    int rc = mig_stream_decode_body(r, &body);

    if (rc)
        return rc;
    if (r->type == MIG_LIBXC_X86_CPUID_POLICY) {
        fp->nr_leaves = body.u.cpuid_policy.count < MAX_LEAVES ? body.u.cpuid_policy.count
                                                             : MAX_LEAVES;
        for (size_t i = 0; i < fp->nr_leaves; i++) {
            struct mig_stream_cpuid_leaf l =
                mig_stream_cpuid_leaf_at(body.u.cpuid_policy.leaves, (uint32_t)i);

            /* Xen writes a leaf without subleaves with subleaf ~0 (XEN_CPUID_NO_SUBLEAF). */
            fp->leaves[i] = (struct cpuid_leaf_value){ l.leaf, l.subleaf == UINT32_MAX ? 0 :
                                                       l.subleaf, l.a, l.b, l.c, l.d };
        }
        fp->have_cpuid = true;
    } else {
        for (uint32_t i = 0; i < body.u.msr_policy.count; i++) {
            struct mig_stream_msr_entry e = mig_stream_msr_entry_at(body.u.msr_policy.entries, i);

            if (e.index == MSR_ARCH_CAPABILITIES)
                fp->arch_caps = e.value;
        }
    }
    return 0;
}

/* Read items up to the first page (the policy records come before it). */
static int read_head(const char *path, struct file_policy *fp)
{
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_record r;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open the save file '%s'", path);
    rc = mig_stream_reader_open_fd(&reader, fd, NULL);
    while (!rc) {
        rc = mig_stream_read_record(reader, &r);
        if (rc)
            break;
        if (r.kind == MIG_STREAM_ITEM_XL_HEADER)
            config_name(&r.xl, fp);
        else if (r.kind == MIG_STREAM_ITEM_DOMAIN_HEADER)
            fp->hvm = r.domain.type == MIG_STREAM_DOMAIN_X86_HVM;
        else if (r.kind == MIG_STREAM_ITEM_RECORD && r.layer == MIG_STREAM_LAYER_LIBXC &&
                 (r.type == MIG_LIBXC_X86_CPUID_POLICY || r.type == MIG_LIBXC_X86_MSR_POLICY))
            rc = take_record(&r, fp);
        else if (r.kind == MIG_STREAM_ITEM_RECORD && r.layer == MIG_STREAM_LAYER_LIBXC &&
                 r.type == MIG_LIBXC_PAGE_DATA)
            break;
    }
    if (rc < 0) {
        char cause[512];

        snprintf(cause, sizeof(cause), "%s", mig_error_last());
        rc = mig_error_set(rc, "the save file '%s' cannot be read at offset %" PRIu64
                           ": %s", path, mig_stream_reader_offset(reader), cause);
    } else
        rc = 0;
    mig_stream_reader_close(reader);
    close(fd);
    return rc;
}

/* The features the domain runs with that the host must offer. */
static void needed_features(const struct file_policy *fp, struct cpuid_featureset *need)
{
    cpuid_featureset_from_leaves(fp->leaves, fp->nr_leaves, fp->arch_caps, need);
    cpuid_domain_policy_excess(need, &(struct cpuid_featureset){ { 0 } }, NULL, need, NULL);
    migrate_xen_named_features_only(need);
}

int restore_preflight_xl_file(const char *path, const char *host_json)
{
    struct file_policy *fp = calloc(1, sizeof(*fp));
    struct cpuid_featureset need, missing;
    struct cpuid_host *host = NULL;
    char *names = NULL;
    int rc;

    if (!fp)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    rc = read_head(path, fp);
    if (rc)
        goto out;
    if (!fp->have_cpuid) {
        fprintf(stderr, "%s restore: note: '%s' carries no CPU policy (saved by a Xen "
                "older than 4.14): its CPUID needs are not checked here\n", xl_ext_prog,
                path);
        goto out;
    }
    needed_features(fp, &need);
    rc = host_json ? cpuid_host_read_file(host_json, &host) : cpuid_host_probe(NULL, &host);
    if (rc)
        goto out;
    rc = cpuid_policy_check(&need, cpuid_host_featureset(host, cpuid_host_policy_for_type(
                                fp->hvm ? "hvm" : "pv")), &missing);
    if (rc == MIG_ECOMPAT) {
        rc = cpuid_featureset_format_names(&missing, CPUID_NAMES_XEN, ", ", &names);
        if (!rc)
            rc = mig_error_set(MIG_ECOMPAT, "this host (%s) cannot run domain %s of '%s': "
                               "missing features: %s", cpuid_host_hostname(host),
                               fp->name, path, names);
    }
out:
    free(names);
    cpuid_host_free(host);
    free(fp);
    return rc;
}
