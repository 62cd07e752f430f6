/*
 * host.c: host descriptions (HOST.json): parse, write and probe.
 *
 * A host file carries the host's three featuresets as Xen hex words plus its
 * identity; the whole JSON object is kept so that keys owned by others (the
 * vGPU room's "gpu" object) and unknown keys survive a read/write cycle.
 * Probing uses libxenguest on a Xen host and the cpuid instruction
 * elsewhere, labelled "native-cpuid", less the bits of OS state (osxsave,
 * ospke, hypervisor: cpuid_policy.h).  This file must never trust a length,
 * a type or a number in a host file, and never print.
 */
#include "config.h"

#include <cpuid.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
/*
 * xenguest.h pulls in xen/foreign/x86_64.h, whose __align8__ is only
 * defined for GNU C; under -std=c11 it would expand to FIXME.  The
 * attribute it wants is GNU C, which GCC and clang both accept.
 */
#undef __STRICT_ANSI__
#include <xenctrl.h>
#include <xenguest.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAX_HOSTNAME 255
#define MAX_XEN_LEAVES 256
#define MAX_XEN_MSRS 64

struct cpuid_host {
    json_object *root;      /* the whole document, unknown keys included */
    char *hostname, *source;
    enum cpuid_vendor vendor;
    unsigned int family, model, stepping;
    struct cpuid_featureset policies[CPUID_HOST_POLICY_COUNT];
};

static const char *const policy_keys[CPUID_HOST_POLICY_COUNT] = {
    "host", "pv_max", "hvm_max",
};

void cpuid_host_free(struct cpuid_host *host)
{
    if (!host)
        return;
    json_object_put(host->root);
    free(host->hostname);
    free(host->source);
    free(host);
}

static int get_string(json_object *obj, const char *key, const char *origin, bool required,
                      const char **out)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        if (!required) {
            *out = NULL;
            return 0;
        }
        return mig_error_set(MIG_EFORMAT, "%s: key \"%s\" is missing: see docs/formats.md \"Host "
                             "file format\"", origin, key);
    }
    if (!json_object_is_type(v, json_type_string))
        return mig_error_set(MIG_EFORMAT, "%s: \"%s\" must be a string, not %s", origin, key,
                             json_type_to_name(json_object_get_type(v)));
    *out = json_object_get_string(v);
    return 0;
}

static int get_uint(json_object *obj, const char *key, const char *origin, unsigned int max,
                    unsigned int *out)
{
    json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(obj, key, &v))
        return mig_error_set(MIG_EFORMAT, "%s: key \"%s\" is missing: see docs/formats.md \"Host "
                             "file format\"", origin, key);
    if (!json_object_is_type(v, json_type_int))
        return mig_error_set(MIG_EFORMAT, "%s: \"%s\" must be an integer, not %s", origin,
                             key, json_type_to_name(json_object_get_type(v)));
    n = json_object_get_int64(v);
    if (n < 0 || n > (int64_t)max)
        return mig_error_set(MIG_EFORMAT, "%s: \"%s\" is %lld, outside 0..%u", origin, key,
                             (long long)n, max);
    *out = (unsigned int)n;
    return 0;
}

int cpuid_host_parse(const char *text, size_t len, const char *origin,
                     struct cpuid_host **out)
{
    struct cpuid_host *host = NULL;
    json_object *root = NULL, *fsets, *version;
    const char *hostname, *source, *vendor;
    int64_t schema;
    int rc;

    rc = cpuid_parse_json_object(text, len, origin, (void **)&root);
    if (rc)
        return rc;
    host = calloc(1, sizeof(*host));
    if (!host) {
        json_object_put(root);
        return mig_error_set(MIG_ENOMEM, "out of memory parsing %s", origin);
    }
    host->root = root;

    if (!json_object_object_get_ex(root, "schema_version", &version) ||
        !json_object_is_type(version, json_type_int)) {
        rc = mig_error_set(MIG_EFORMAT, "%s: \"schema_version\" (integer) is missing: is this "
                           "a host file from 'xl-ext cpuid-policy host-dump'?", origin);
        goto out;
    }
    schema = json_object_get_int64(version);
    if (schema != CPUID_HOST_SCHEMA_VERSION) {
        rc = mig_error_set(MIG_EUNSUPP, "%s: schema_version %lld is not %d: dump the host "
                           "again with this xl-ext", origin, (long long)schema,
                           CPUID_HOST_SCHEMA_VERSION);
        goto out;
    }
    if ((rc = get_string(root, "hostname", origin, true, &hostname)) ||
        (rc = get_string(root, "source", origin, true, &source)) ||
        (rc = get_string(root, "vendor", origin, true, &vendor)))
        goto out;
    if (!*hostname || strlen(hostname) > MAX_HOSTNAME) {
        rc = mig_error_set(MIG_EFORMAT, "%s: \"hostname\" must have 1 to %d characters",
                           origin, MAX_HOSTNAME);
        goto out;
    }
    if (strcmp(source, "xen") && strcmp(source, "native-cpuid")) {
        rc = mig_error_set(MIG_EFORMAT, "%s: \"source\" is \"%.40s\": it must be \"xen\" or "
                           "\"native-cpuid\"", origin, source);
        goto out;
    }
    host->vendor = cpuid_vendor_parse(vendor);
    if (host->vendor == CPUID_VENDOR_UNKNOWN) {
        rc = mig_error_set(MIG_EFORMAT, "%s: \"vendor\" is \"%.40s\": it must be intel, amd "
                           "or hygon", origin, vendor);
        goto out;
    }
    if ((rc = get_uint(root, "family", origin, 0x10e, &host->family)) ||
        (rc = get_uint(root, "model", origin, 0xff, &host->model)) ||
        (rc = get_uint(root, "stepping", origin, 0xf, &host->stepping)))
        goto out;
    if (!json_object_object_get_ex(root, "featuresets", &fsets) ||
        !json_object_is_type(fsets, json_type_object)) {
        rc = mig_error_set(MIG_EFORMAT, "%s: \"featuresets\" (object with host, pv_max, "
                           "hvm_max) is missing", origin);
        goto out;
    }
    for (unsigned int i = 0; i < CPUID_HOST_POLICY_COUNT; i++) {
        const char *hex;

        rc = get_string(fsets, policy_keys[i], origin, i == CPUID_HOST_POLICY_HOST, &hex);
        if (rc) {
            rc = cpuid_error_prefix("in \"featuresets\"");
            goto out;
        }
        if (!hex) {
            host->policies[i] = host->policies[CPUID_HOST_POLICY_HOST];
            continue;
        }
        rc = cpuid_featureset_parse_hex(hex, 0, &host->policies[i]);
        if (rc) {
            rc = cpuid_error_prefix("%s: \"featuresets\".\"%s\"", origin, policy_keys[i]);
            goto out;
        }
    }
    /* A CPU's own CPUID carries the OS's state (cpuid_policy.h, "OS state"). */
    for (unsigned int i = 0; !strcmp(source, "native-cpuid") && i < CPUID_HOST_POLICY_COUNT; i++)
        cpuid_featureset_drop_os_state(&host->policies[i]);
    host->hostname = cpuid_strdup(hostname);
    host->source = cpuid_strdup(source);
    if (!host->hostname || !host->source) {
        rc = MIG_ENOMEM;
        goto out;
    }
    *out = host;
    host = NULL;
    rc = 0;
 out:
    cpuid_host_free(host);
    return rc;
}

int cpuid_host_read_file(const char *path, struct cpuid_host **out)
{
    char *text;
    size_t len;
    int rc = cpuid_read_text_file(path, "host file", CPUID_MAX_FILE_SIZE, CPUID_READ_REFUSE_NUL,
                                  &text, &len);

    if (rc)
        return rc;
    rc = cpuid_host_parse(text, len, path, out);
    free(text);
    return rc;
}

int cpuid_host_write_file(const struct cpuid_host *host, const char *path)
{
    char *text;
    int rc = cpuid_host_to_json(host, &text);

    if (rc)
        return rc;
    rc = cpuid_write_text_file(path, text);
    free(text);
    return rc;
}

int cpuid_host_new(const char *hostname, const char *source, enum cpuid_vendor vendor,
                   unsigned int family, unsigned int model, unsigned int stepping,
                   const struct cpuid_featureset policies[CPUID_HOST_POLICY_COUNT],
                   struct cpuid_host **out)
{
    struct cpuid_host *host = calloc(1, sizeof(*host));
    int rc;

    if (!host)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    host->root = json_object_new_object();
    host->hostname = cpuid_strdup(hostname);
    host->source = cpuid_strdup(source);
    if (!host->root || !host->hostname || !host->source) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    host->vendor = vendor;
    host->family = family;
    host->model = model;
    host->stepping = stepping;
    memcpy(host->policies, policies, sizeof(host->policies));
    *out = host;
    host = NULL;
    rc = 0;
 out:
    cpuid_host_free(host);
    return rc;
}

const char *cpuid_host_hostname(const struct cpuid_host *host) { return host->hostname; }

int cpuid_host_set_hostname(struct cpuid_host *host, const char *hostname)
{
    char *copy;

    if (!*hostname || strlen(hostname) > MAX_HOSTNAME)
        return mig_error_set(MIG_EINVAL, "host name '%.64s%s' must have 1 to %d characters",
                             hostname, strlen(hostname) > 64 ? "..." : "", MAX_HOSTNAME);
    copy = cpuid_strdup(hostname);
    if (!copy)
        return MIG_ENOMEM;
    free(host->hostname);
    host->hostname = copy;
    return 0;
}
const char *cpuid_host_source(const struct cpuid_host *host) { return host->source; }
enum cpuid_vendor cpuid_host_vendor(const struct cpuid_host *host) { return host->vendor; }
void *cpuid_host_json(struct cpuid_host *host) { return host->root; }

void cpuid_host_signature(const struct cpuid_host *host, unsigned int *family,
                          unsigned int *model, unsigned int *stepping)
{
    *family = host->family;
    *model = host->model;
    *stepping = host->stepping;
}

const struct cpuid_featureset *cpuid_host_featureset(const struct cpuid_host *host,
                                                     enum cpuid_host_policy which)
{
    if ((unsigned int)which >= CPUID_HOST_POLICY_COUNT)
        which = CPUID_HOST_POLICY_HOST;
    return &host->policies[which];
}

int cpuid_host_to_json(const struct cpuid_host *host, char **out)
{
    json_object *root = host->root, *fsets = json_object_new_object();
    const char *text;
    int rc;

    if (!fsets)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    for (unsigned int i = 0; i < CPUID_HOST_POLICY_COUNT; i++) {
        char hex[CPUID_FEATURESET_HEX_LEN];

        cpuid_featureset_format_hex(&host->policies[i], hex);
        json_object_object_add(fsets, policy_keys[i], json_object_new_string(hex));
    }
    /* Known keys are rewritten from the fields; everything else stays. */
    json_object_object_add(root, "schema_version",
                           json_object_new_int(CPUID_HOST_SCHEMA_VERSION));
    json_object_object_add(root, "hostname", json_object_new_string(host->hostname));
    json_object_object_add(root, "source", json_object_new_string(host->source));
    json_object_object_add(root, "vendor",
                           json_object_new_string(cpuid_vendor_name(host->vendor)));
    json_object_object_add(root, "family", json_object_new_int((int)host->family));
    json_object_object_add(root, "model", json_object_new_int((int)host->model));
    json_object_object_add(root, "stepping", json_object_new_int((int)host->stepping));
    json_object_object_add(root, "featuresets", fsets);
    text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                          JSON_C_TO_STRING_SPACED);
    if (!text) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory writing a host file");
        goto out;
    }
    if (asprintf(out, "%s\n", text) < 0) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory writing a host file");
        goto out;
    }
    rc = 0;
 out:
    return rc;
}

/* The CPU's own CPUID, read with the cpuid instruction. */
static void read_native_leaves(struct cpuid_leaf_value *leaves, unsigned int *count)
{
    static const struct { uint32_t leaf, subleaf; } wanted[] = {
        { 0, 0 }, { 1, 0 }, { 7, 0 }, { 7, 1 }, { 7, 2 }, { 0xd, 1 },
        { 0x80000000, 0 }, { 0x80000001, 0 }, { 0x80000007, 0 }, { 0x80000008, 0 },
        { 0x80000021, 0 },
    };
    unsigned int n = 0;

    for (unsigned int i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        unsigned int a, b, c, d;

        __cpuid_count(wanted[i].leaf, wanted[i].subleaf, a, b, c, d);
        leaves[n].leaf = wanted[i].leaf;
        leaves[n].subleaf = wanted[i].subleaf;
        leaves[n].eax = a;
        leaves[n].ebx = b;
        leaves[n].ecx = c;
        leaves[n].edx = d;
        n++;
    }
    *count = n;
}

static void identity_from_leaves(const struct cpuid_leaf_value *leaves, unsigned int count,
                                 enum cpuid_vendor *vendor, unsigned int *family,
                                 unsigned int *model, unsigned int *stepping)
{
    for (unsigned int i = 0; i < count; i++) {
        if (leaves[i].leaf == 0 && leaves[i].subleaf == 0)
            *vendor = cpuid_vendor_from_leaf0(leaves[i].ebx, leaves[i].ecx, leaves[i].edx);
        if (leaves[i].leaf == 1 && leaves[i].subleaf == 0)
            cpuid_signature_decode(leaves[i].eax, family, model, stepping);
    }
}

/*
 * Xen's system policy `index` (or with `domain`, the policy of domain
 * `index`) as a featureset; also its leaves for identity.
 */
static int read_xen_policy(xc_interface *xch, bool domain, unsigned int index,
                           struct cpuid_featureset *fs, struct cpuid_leaf_value *ident,
                           unsigned int *ident_count)
{
    xc_cpu_policy_t *policy = xc_cpu_policy_init();
    xen_cpuid_leaf_t *xleaves = calloc(MAX_XEN_LEAVES, sizeof(*xleaves));
    xen_msr_entry_t *xmsrs = calloc(MAX_XEN_MSRS, sizeof(*xmsrs));
    struct cpuid_leaf_value *leaves = calloc(MAX_XEN_LEAVES, sizeof(*leaves));
    uint32_t nr_leaves = MAX_XEN_LEAVES, nr_msrs = MAX_XEN_MSRS;
    uint64_t arch_caps = 0;
    int rc;

    if (!policy || !xleaves || !xmsrs || !leaves) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory reading Xen's CPU policy");
        goto out;
    }
    if (domain ? xc_cpu_policy_get_domain(xch, index, policy) :
        xc_cpu_policy_get_system(xch, index, policy)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "%s(%u) failed", domain ?
                                 "xc_cpu_policy_get_domain" : "xc_cpu_policy_get_system", index);
        goto out;
    }
    if (xc_cpu_policy_serialise(xch, policy, xleaves, &nr_leaves, xmsrs, &nr_msrs)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "xc_cpu_policy_serialise(%u) failed", index);
        goto out;
    }
    for (uint32_t i = 0; i < nr_leaves && i < MAX_XEN_LEAVES; i++) {
        leaves[i].leaf = xleaves[i].leaf;
        leaves[i].subleaf = xleaves[i].subleaf == XEN_CPUID_NO_SUBLEAF ? 0 : xleaves[i].subleaf;
        leaves[i].eax = xleaves[i].a;
        leaves[i].ebx = xleaves[i].b;
        leaves[i].ecx = xleaves[i].c;
        leaves[i].edx = xleaves[i].d;
    }
    for (uint32_t i = 0; i < nr_msrs && i < MAX_XEN_MSRS; i++)
        if (xmsrs[i].idx == 0x10a)
            arch_caps = xmsrs[i].val;
    cpuid_featureset_from_leaves(leaves, nr_leaves, arch_caps, fs);
    if (ident) {
        *ident_count = 0;
        for (uint32_t i = 0; i < nr_leaves && *ident_count < 2; i++)
            if (leaves[i].leaf <= 1)
                ident[(*ident_count)++] = leaves[i];
    }
    rc = 0;
 out:
    xc_cpu_policy_destroy(policy);
    free(xleaves);
    free(xmsrs);
    free(leaves);
    return rc;
}

int cpuid_host_probe(struct xentoollog_logger *logger, struct cpuid_host **out)
{
    struct cpuid_featureset policies[CPUID_HOST_POLICY_COUNT];
    struct cpuid_leaf_value leaves[16];
    unsigned int count = 0, family = 0, model = 0, stepping = 0;
    enum cpuid_vendor vendor = CPUID_VENDOR_UNKNOWN;
    const char *source;
    char hostname[MAX_HOSTNAME + 1];
    xc_interface *xch = NULL;
    int rc;

    if (gethostname(hostname, sizeof(hostname)) || !hostname[0])
        snprintf(hostname, sizeof(hostname), "localhost");
    hostname[MAX_HOSTNAME] = '\0';

    if (access("/proc/xen", F_OK) == 0)
        xch = xc_interface_open((xentoollog_logger *)logger, NULL, 0);
    if (xch) {
        static const unsigned int index[CPUID_HOST_POLICY_COUNT] = {
            XEN_SYSCTL_cpu_policy_host, XEN_SYSCTL_cpu_policy_pv_max,
            XEN_SYSCTL_cpu_policy_hvm_max,
        };

        for (unsigned int i = 0; i < CPUID_HOST_POLICY_COUNT; i++) {
            rc = read_xen_policy(xch, false, index[i], &policies[i], i == 0 ? leaves : NULL,
                                 &count);
            if (rc)
                goto out;
        }
        source = "xen";
    } else {
        read_native_leaves(leaves, &count);
        cpuid_featureset_from_leaves(leaves, count, 0, &policies[0]);
        cpuid_featureset_drop_os_state(&policies[0]);
        policies[1] = policies[2] = policies[0];
        source = "native-cpuid";
    }
    identity_from_leaves(leaves, count, &vendor, &family, &model, &stepping);
    if (vendor == CPUID_VENDOR_UNKNOWN) {
        rc = mig_error_set(MIG_EUNSUPP, "this CPU's vendor is neither Intel, AMD nor Hygon: "
                           "cpuid-policy cannot describe it");
        goto out;
    }
    rc = cpuid_host_new(hostname, source, vendor, family, model, stepping, policies, out);
 out:
    if (xch)
        xc_interface_close(xch);
    return rc;
}

int cpuid_domain_policy_read(struct xentoollog_logger *logger, uint32_t domid,
                             struct cpuid_featureset *out)
{
    xc_interface *xch = NULL;
    int rc;

    if (access("/proc/xen", F_OK) == 0)
        xch = xc_interface_open((xentoollog_logger *)logger, NULL, 0);
    if (!xch)
        return mig_error_set(MIG_EIO, "reading domain %u's CPU policy needs a Xen host "
                             "(/proc/xen and xc_interface_open)", domid);
    rc = read_xen_policy(xch, true, domid, out, NULL, NULL);
    xc_interface_close(xch);
    return rc;
}
