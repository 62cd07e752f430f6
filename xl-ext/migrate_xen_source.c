/*
 * migrate_xen_source.c: `xl-ext migrate` of a real domain with the xenmig
 * engine (libmig/backend/xen), once migrate_run() has the receiver's
 * command (`ssh HOST xl-ext migrate-receive --xen ...`, `sh -c HOST` with
 * -s ""): sends the domain's CPUID needs and recorded baselines with it
 * (the destination's pre-flight), and prints the engine's summary.
 *
 * A domain the engine does not migrate (HVM with a stub-domain or
 * qemu-traditional device model, 32-bit PV) is
 * handed to stock `xl migrate` when no xenmig option was given, with a
 * note on stderr; with xenmig options it is refused.  Must never leave
 * the domain paused: the engine resumes it on every failure before the
 * destination was cleared.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>
#include <xentoollog.h>

#include "cpuid_policy.h"
#include "domain_record.h"
#include "migrate_common.h"
#include "migrate_metadata.h"
#include "migrate_source.h"
#include "migrate_xen.h"
#include "mig_xen.h"
#include "subcommands.h"
#include "switchover_probe.h"

/* After the engine's MIG_ESTOCK refusal: how to get stock xl from here. */
#define ENGINE_XL_ADVICE " (xl-ext migrate --engine xl)"

/*
 * Metadata members for the destination's pre-flight: the featureset the
 * domain needs (recorded by xl-ext create, else its running policy less
 * what Xen controls) and the recorded baseline names.  *out malloc'ed.
 */
static int domain_needs_json(const char *domain, char **out)
{
    struct xs_handle *xs = xs_open(0);
    struct cpuid_featureset need;
    char hex[CPUID_FEATURESET_HEX_LEN];
    char *baseline = NULL, *gpu = NULL, *recorded = NULL;
    long domid;
    int rc;

    *out = NULL;
    if (!xs)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open xenstore");
    domid = domain_record_find_domid(xs, domain);
    if (domid < 0)
        domid = strtol(domain, NULL, 10);
    baseline = domain_record_read(xs, domid, "cpuid_baseline");
    gpu = domain_record_read(xs, domid, "gpu_baseline");
    recorded = domain_record_read(xs, domid, "cpuid_featureset");
    if (recorded) {
        rc = cpuid_featureset_parse_hex(recorded, 0, &need);
    } else {
        rc = cpuid_domain_policy_read(NULL, (uint32_t)domid, &need);
        if (!rc)
            cpuid_domain_policy_excess(&need, &(struct cpuid_featureset){ { 0 } }, NULL,
                                       &need, NULL);
    }
    if (rc)
        goto out;
    migrate_xen_named_features_only(&need);
    cpuid_featureset_format_hex(&need, hex);
    rc = migrate_metadata_members(hex, baseline, gpu, out);
out:
    free(baseline);
    free(gpu);
    free(recorded);
    xs_close(xs);
    return rc;
}

/* The switchover cost store's key of the domain: "xen-pv", "xen-pvh",
 * "xen-hvm", or for a save the same with "-save". */
static const char *costs_key(uint32_t domid, bool save)
{
    struct xs_handle *xs = xs_open(0);
    const char *type = xs ? domain_record_type(xs, domid) : "hvm";

    if (xs)
        xs_close(xs);
    return switchover_costs_key(type, save);
}

int migrate_xen_source_run(struct migrate_request *p, const char *receiver)
{
    struct mig_xen_source_options so = MIG_XEN_SOURCE_OPTIONS_INIT;
    struct mig_migrate_options opts = p->opts;
    struct mig_migrate_result result;
    struct mig_xen_source *src = NULL;
    struct switchover_probe probe;
    xentoollog_logger_stdiostream *logger = NULL;
    char *needs = NULL, error[1024] = "";
    const char *key;
    pid_t child = -1;
    int to_child = -1, from_child = -1, rc, exit_code;

    logger = xtl_createlogger_stdiostream(stderr, p->debug ? XTL_DEBUG : XTL_ERROR, 0);
    /* Needs first (xenstore only); their failure only counts for a domain we take. */
    rc = domain_needs_json(p->domain, &needs);
    if (rc)
        snprintf(error, sizeof(error), "%s", mig_error_last());
    so.config_file = p->config_file;
    so.preserve_domid = p->preserve_domid;
    so.metadata_extra = needs;
    so.checkpoint = p->checkpoint;
    so.checkpoint_paused = p->checkpoint_paused;
    rc = mig_xen_source_open((xentoollog_logger *)logger, p->domain, &so, &src);
    if (rc == MIG_ESTOCK && !p->new_option) {
        fprintf(stderr, "%s migrate: %s%s\n%s migrate: handing it to stock 'xl migrate'\n",
                xl_ext_prog, mig_error_last(), ENGINE_XL_ADVICE, xl_ext_prog);
        xtl_logger_destroy((xentoollog_logger *)logger);
        free(needs);
        return MIGRATE_STOCK_XL;
    }
    if (rc) {
        fprintf(stderr, "%s migrate: %s%s\n", xl_ext_prog, mig_error_last(),
                rc == MIG_ESTOCK ? ENGINE_XL_ADVICE : "");
        exit_code = rc == MIG_EPLATFORM ? XL_EXT_EXIT_NO_XEN :
                    rc == MIG_EINVAL || rc == MIG_EUNSUPP || rc == MIG_ESTOCK ?
                    XL_EXT_EXIT_BAD_INPUT : XL_EXT_EXIT_FAILURE;
        goto out;
    }
    if (!needs) {
        fprintf(stderr, "%s migrate: cannot read domain '%s''s CPUID needs for the "
                "destination's pre-flight: %s\n", xl_ext_prog, p->domain, error);
        exit_code = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    error[0] = '\0';
    if (!p->out.json)
        fprintf(p->out.out, "%s domain %s (%u) to %s: %u stream(s), %s tracing, "
                "target downtime %u ms\n", p->save_path ? "saving" : "migrating",
                p->domain, mig_xen_source_domid(src), p->save_path ? p->save_path : p->host,
                opts.streams, opts.tracing == MIG_TRACE_LOOSE ? "loose" : "stop",
                opts.policy.max_downtime_ms);
    if (migrate_spawn_receiver(receiver, &child, &to_child, &from_child)) {
        exit_code = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    /* A save's switchover has no restore at its end: its costs are its own. */
    key = costs_key(mig_xen_source_domid(src), p->save_path != NULL);
    switchover_probe_use(p->save_path ? "save" : "migrate", key, &probe, &opts.policy,
                         &p->out);
    opts.resumes_here = p->checkpoint;    /* save -c, -p */
    opts.progress = migrate_output_progress;
    opts.progress_payload = &p->out;
    rc = mig_migrate_send(&mig_xen_source_ops, src, from_child, to_child, &opts,
                          (xentoollog_logger *)logger, &result);
    if (rc)
        migrate_error_text(rc, &result, error, sizeof(error));
    exit_code = migrate_exit_code_of(rc, &result);
    migrate_output_summary(&p->out, p->save_path ? "save" : "migrate", rc, &result, &opts,
                           result.vcpu_stall_seconds, result.vcpu_stall_max_seconds,
                           rc ? error : NULL);
    if (!rc)
        switchover_probe_keep(key, &result, &p->out);
    if (rc)
        fprintf(stderr, "%s %s: %s failed: %s\n", xl_ext_prog,
                p->save_path ? "save" : "migrate", p->save_path ? "the save" : "migration",
                error);
    else if (p->save_path && !p->out.json)
        fprintf(p->out.out, "domain %s saved to '%s'%s\n", p->domain, p->save_path,
                p->checkpoint_paused ? "; it is left paused here (-p)" :
                p->checkpoint ? "; it runs on here (-c)" : "; it was destroyed here");
out:
    p->out.probe = NULL;            /* it pointed to this function's probe */
    (void)migrate_reap_receiver(to_child, from_child, child);
    mig_xen_source_close(src);
    if (logger)
        xtl_logger_destroy((xentoollog_logger *)logger);
    free(needs);
    return exit_code;
}
