/*
 * cmd_create.c: `xl-ext create [xl create options] [--dry-run] [--host
 * HOST.json] [--cluster FILE] CFG [KEY=VALUE...]`: stock `xl create` that
 * honours the domain's cpuid_baseline and gpu_baseline.
 *
 *   1. read CFG with the KEY=VALUE lines appended (as xl does) through
 *      libxlutil; without either baseline, run `xl create` unchanged;
 *   2. refuse (exit 4, one "missing: FEATURE" line each, a "gpu: ..." line)
 *      when this host's policy for the domain's type lacks the baseline;
 *   3. run `xl create ... 'cpuid="host,FEATURE=0,..."'` masking the host's
 *      policy down to the baseline, and propagate its failure;
 *   4. read the new domain's policy back (xc_cpu_policy_get_domain) and
 *      destroy the domain, exit 1, if it has any feature beyond the
 *      baseline; else record the baseline under /local/domain/DOMID/xenmig/.
 *
 * This file must never start a domain whose baseline it could not enforce
 * and leave it running, and never drop a feature from the mask silently.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_cpuid_policy.h"
#include "cpuid_policy.h"
#include "domain_record.h"
#include "mig_error.h"
#include "subcommands.h"

#define DEFAULT_CLUSTER_FILE "/etc/xenmig/cluster.json"
#define MAX_XL_ARGS 256

/* What `xl-ext create` is asked to do; the strings are borrowed (argv). */
struct create_request {
    const char *xl_args[MAX_XL_ARGS];   /* argv of xl, NULL-terminated: "xl create",
                                           xl's own options, CFG, KEY=VALUE... */
    unsigned int nr_xl_args;
    const char *cfg;                    /* CFG (or -f's) */
    char **overrides;                   /* the KEY=VALUE lines to append to it */
    int nr_overrides;
    const char *host_path;              /* --host (with --dry-run), or NULL: probe */
    const char *cluster_path;           /* --cluster, or NULL: the default file */
    bool dry_run;
};

#define CREATE_PARSED (-1)

/* What one `xl-ext create` run works with; freed by create_state_clear(). */
struct create_state {
    struct create_request req;          /* its xl_args gain the cpuid= assignment */
    char *cpuid_assignment;             /* cpuid="..." (owned) */
    char *mask;                         /* host,NAME=0,... (owned) */
    struct cpuid_domain_config_keys *keys;
    struct cpuid_host *host;
    struct cpuid_level_set *levels;
    struct cpuid_cluster *cluster;
    cpuid_gpu_level_table *gpu_levels;
    struct cpuid_featureset baseline;
    struct cpuid_featureset constrained; /* what the baseline constrains */
    bool constrain_all;                 /* cluster/hex baseline: every bit */
};

static void create_state_clear(struct create_state *s)
{
    free(s->cpuid_assignment);
    free(s->mask);
    cpuid_domain_config_keys_free(s->keys);
    cpuid_host_free(s->host);
    cpuid_level_set_free(s->levels);
    cpuid_cluster_free(s->cluster);
    cpuid_gpu_level_table_free(s->gpu_levels);
}

static int create_fail(int mig_rc)
{
    fprintf(stderr, "%s create: %s\n", xl_ext_prog, mig_error_last());
    return cpuid_cli_exit_code(mig_rc);
}

static int add_xl_arg(struct create_request *req, const char *arg)
{
    if (req->nr_xl_args + 1 >= MAX_XL_ARGS) {
        fprintf(stderr, "%s create: more than %d arguments\n", xl_ext_prog, MAX_XL_ARGS - 2);
        return -1;
    }
    req->xl_args[req->nr_xl_args++] = arg;
    req->xl_args[req->nr_xl_args] = NULL;
    return 0;
}

/* Print argv as one shell command line (single quotes where needed). */
static void print_command(FILE *f, const char *const *argv)
{
    for (unsigned int i = 0; argv[i]; i++) {
        const char *a = argv[i];

        fputs(i ? " " : "", f);
        if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789-_./=:,+@%") == strlen(a)) {
            fputs(a, f);
            continue;
        }
        fputc('\'', f);
        for (; *a; a++) {
            if (*a == '\'')
                fputs("'\\''", f);
            else
                fputc(*a, f);
        }
        fputc('\'', f);
    }
    fputc('\n', f);
}

/*
 * Run argv (argv[0] looked up on PATH), wait for it.  Returns its exit
 * status (0..255), or -1 (message printed) when it could not be run or was
 * killed by a signal.
 */
static int run_and_wait(const char *const *argv)
{
    pid_t pid, got;
    int status;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s create: cannot fork: %s\n", xl_ext_prog, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "%s create: cannot run %s: %s\n", xl_ext_prog, argv[0],
                strerror(errno));
        _exit(127);
    }
    do
        got = waitpid(pid, &status, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        fprintf(stderr, "%s create: waiting for %s: %s\n", xl_ext_prog, argv[0],
                strerror(errno));
        return -1;
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "%s create: %s was killed by signal %d\n", xl_ext_prog, argv[0],
                WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

/* CFG's text with each KEY=VALUE appended as a line, read with libxlutil. */
static int read_config(const char *cfg, char **overrides, int nr_overrides,
                       const cpuid_gpu_level_table *gpu_levels, struct cpuid_domain_config_keys **keys)
{
    struct cpuid_domain_config_read_options options = CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT;
    char *text = NULL, *all = NULL;
    size_t length, total;
    int rc;

    options.gpu_levels = gpu_levels;
    rc = cpuid_read_text_file(cfg, "domain config", CPUID_DOMAIN_CONFIG_MAX, 0, &text, &length);
    if (rc)
        return rc;
    total = length + 1;
    for (int i = 0; i < nr_overrides; i++)
        total += strlen(overrides[i]) + 1;
    if (total > CPUID_DOMAIN_CONFIG_MAX) {
        rc = mig_error_set(MIG_ELIMIT, "%s: with the KEY=VALUE overrides the config is over "
                           "%d bytes", cfg, CPUID_DOMAIN_CONFIG_MAX);
        goto out;
    }
    all = malloc(total + 1);
    if (!all) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(all, text, length);
    all[length] = '\n';
    total = length + 1;
    for (int i = 0; i < nr_overrides; i++) {
        size_t n = strlen(overrides[i]);

        memcpy(all + total, overrides[i], n);
        all[total + n] = '\n';
        total += n + 1;
    }
    all[total] = '\0';
    rc = cpuid_domain_config_read_blob(all, total, cfg, &options, keys);
 out:
    free(text);
    free(all);
    return rc;
}

/*
 * After xl create: read the domain's policy back; destroy it (exit 1) if
 * it exceeds the baseline; record the baselines in xenstore.
 */
static int verify_and_record(struct create_state *s)
{
    const struct cpuid_domain_config_keys *keys = s->keys;
    struct cpuid_featureset actual, excess, controlled;
    struct xs_handle *xs = xs_open(0);
    char hex[CPUID_FEATURESET_HEX_LEN], domid_text[24];
    long domid;
    int rc, ret;

    if (!xs) {
        fprintf(stderr, "%s create: domain '%s' was created but xenstore cannot be opened (%s) "
                "to verify it: check it with 'xl-ext cpuid-policy check %s'\n", xl_ext_prog,
                keys->name, strerror(errno), keys->name);
        return XL_EXT_EXIT_FAILURE;
    }
    domid = domain_record_find_domid(xs, keys->name);
    if (domid < 0) {
        ret = create_fail(MIG_EIO);
        goto out;
    }
    snprintf(domid_text, sizeof(domid_text), "%ld", domid);
    if (keys->cpuid_baseline) {
        rc = cpuid_domain_policy_read(NULL, (uint32_t)domid, &actual);
        if (!rc)
            rc = cpuid_domain_policy_excess(&actual, &s->baseline,
                                            s->constrain_all ? NULL : &s->constrained,
                                            &excess, &controlled);
        if (rc == MIG_ECOMPAT) {
            const char *destroy[] = { "xl", "destroy", domid_text, NULL };

            cpuid_cli_print_feature_lines(stdout, &excess, "exceeds: ");
            fprintf(stderr, "%s create: domain '%s' (%ld) got %u feature(s) beyond its baseline "
                    "'%s' despite cpuid=\"%s\": destroying it\n", xl_ext_prog, keys->name,
                    domid, cpuid_featureset_count(&excess), keys->cpuid_baseline, s->mask);
            if (run_and_wait(destroy) != 0)
                fprintf(stderr, "%s create: 'xl destroy %ld' failed: destroy domain '%s' by "
                        "hand\n", xl_ext_prog, domid, keys->name);
            ret = XL_EXT_EXIT_FAILURE;
            goto out;
        }
        if (rc) {
            fprintf(stderr, "%s create: domain '%s' (%ld) was created but its policy cannot be "
                    "read back: %s\n", xl_ext_prog, keys->name, domid, mig_error_last());
            ret = XL_EXT_EXIT_FAILURE;
            goto out;
        }
        if (!cpuid_featureset_is_empty(&controlled))
            cpuid_cli_print_feature_lines(stdout, &controlled, "xen-controlled: ");
        cpuid_featureset_format_hex(&s->baseline, hex);
        rc = domain_record_write(xs, domid, "cpuid_baseline", keys->cpuid_baseline);
        if (!rc)
            rc = domain_record_write(xs, domid, "cpuid_featureset", hex);
        if (rc) {
            ret = create_fail(rc);
            goto out;
        }
    }
    if (keys->gpu_baseline) {
        rc = domain_record_write(xs, domid, "gpu_baseline", keys->gpu_baseline);
        if (rc) {
            ret = create_fail(rc);
            goto out;
        }
    }
    printf("created: domain '%s' (%ld) within baseline '%s'%s%s\n", keys->name, domid,
           keys->cpuid_baseline ? keys->cpuid_baseline : "-",
           keys->gpu_baseline ? ", gpu_baseline " : "",
           keys->gpu_baseline ? keys->gpu_baseline : "");
    ret = XL_EXT_EXIT_OK;
 out:
    xs_close(xs);
    return ret;
}

/*
 * A host description made from the CPU's own CPUID (source "native-cpuid",
 * --dry-run only) lists bits Xen 4.17 does not define; Xen never offers
 * those to a guest, so there is nothing to mask.  Say so and drop them.
 */
static void drop_non_xen_bits(struct cpuid_featureset *fs, const char *hostname)
{
    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++) {
        const struct cpuid_feature_info *info = cpuid_feature_by_index(i);

        if (!cpuid_featureset_test(fs, i) || (info && info->xen_defined))
            continue;
        fprintf(stderr, "%s create: note: host '%s' lists w%ub%u%s%s%s, which Xen 4.17 does "
                "not define and never offers to a guest (a native-cpuid host file): not "
                "masked\n", xl_ext_prog, hostname, i / 32, i % 32, info ? " (" : "",
                info ? info->xen_cpuid_name : "", info ? ")" : "");
        cpuid_featureset_clear(fs, i);
    }
}

/* This host (probe, or --host FILE) and its GPU levels. */
static int load_host(struct create_state *s, const char *host_path, bool need_gpu,
                     struct cpuid_gpu_capability *gpu)
{
    int rc;

    if (host_path)
        rc = cpuid_host_read_file(host_path, &s->host);
    else
        rc = cpuid_host_probe(NULL, &s->host);
    if (!rc && need_gpu && !host_path)
        rc = cpuid_gpu_host_json_add(cpuid_host_json(s->host), s->gpu_levels, NULL);
    if (!rc && need_gpu)
        rc = cpuid_gpu_host_json_capability(cpuid_host_json(s->host), s->gpu_levels,
                                      host_path ? host_path : "this host", gpu);
    return rc;
}

/* CREATE_PARSED, or the exit code to end with (0 after -h; 2 after a usage error). */
static int parse_request(int argc, char **argv, struct create_request *req)
{
    static const struct option opts[] = {
        { "dry-run", no_argument, NULL, 'n' },
        { "host", required_argument, NULL, 'H' },
        { "cluster", required_argument, NULL, 'C' },
        { "quiet", no_argument, NULL, 'q' },
        { "vncviewer", no_argument, NULL, 'v' },
        { "vncviewer-autopass", no_argument, NULL, 'a' },
        { "ignore-global-affinity-masks", no_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    /* xl create's own flags, passed on as they are. */
    static const char *const passed_flags[] = {
        ['p'] = "-p", ['F'] = "-F", ['V'] = "-V", ['c'] = "-c", ['e'] = "-e",
        ['q'] = "--quiet", ['v'] = "--vncviewer", ['a'] = "--vncviewer-autopass",
        ['i'] = "--ignore-global-affinity-masks",
    };
    const char *config_file = NULL;
    int c, first_override;

    add_xl_arg(req, "xl");
    add_xl_arg(req, "create");
    optind = 1;
    while ((c = getopt_long(argc, argv, "hpFVced:f:q", opts, NULL)) != -1) {
        switch (c) {
        case 'n': req->dry_run = true; break;
        case 'H': req->host_path = optarg; break;
        case 'C': req->cluster_path = optarg; break;
        case 'f': config_file = optarg; break;
        case 'p': case 'F': case 'V': case 'c': case 'e':
        case 'q': case 'v': case 'a': case 'i':
            if (add_xl_arg(req, passed_flags[c]))
                return XL_EXT_EXIT_USAGE;
            break;
        case 'd':
            fprintf(stderr, "%s create: -d (debug) is not passed on; run 'xl create -d' to see "
                    "the parsed config\n", xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        case 'h':
            xl_ext_print_usage(stdout, "create");
            return XL_EXT_EXIT_OK;
        default: {
            char what[160];

            fprintf(stderr, "%s create: %s; run '%s help create' for the options\n",
                    xl_ext_prog, xl_ext_option_error(argv, "hpFVced:f:q", opts, what,
                                                sizeof(what)),
                    xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
        }
    }
    first_override = optind;
    if (config_file) {
        req->cfg = config_file;
        if (add_xl_arg(req, "-f") || add_xl_arg(req, config_file))
            return XL_EXT_EXIT_USAGE;
    } else if (optind < argc && !strchr(argv[optind], '=')) {
        req->cfg = argv[optind];
        first_override = optind + 1;
        if (add_xl_arg(req, req->cfg))
            return XL_EXT_EXIT_USAGE;
    }
    if (!req->cfg) {
        fprintf(stderr, "%s create: no config file given; give the domain's config file: "
                "run '%s help create'\n", xl_ext_prog, xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    if (xl_ext_input_readable("create", "domain config", req->cfg))
        return XL_EXT_EXIT_BAD_INPUT;
    for (int i = first_override; i < argc; i++) {
        if (!strchr(argv[i], '=')) {
            fprintf(stderr, "%s create: '%s' is not KEY=VALUE (xl.cfg syntax, e.g. "
                    "'memory=512'): run '%s help create'\n", xl_ext_prog, argv[i], xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
        if (add_xl_arg(req, argv[i]))
            return XL_EXT_EXIT_USAGE;
    }
    req->overrides = argv + first_override;
    req->nr_overrides = argc - first_override;
    if (req->host_path && !req->dry_run) {
        fprintf(stderr, "%s create: --host describes another machine and is for --dry-run "
                "only; a real create uses this host's own policy\n", xl_ext_prog);
        return XL_EXT_EXIT_USAGE;
    }
    return CREATE_PARSED;
}

/*
 * This host (probed, or --host with --dry-run), its GPU levels (*gpu) and
 * the domain's cpuid_baseline resolved (s->baseline, s->constrained): 0,
 * or the exit code with the reason printed.
 */
static int prepare_baseline(struct create_state *s, struct cpuid_gpu_capability *gpu)
{
    const struct cpuid_domain_config_keys *keys = s->keys;
    enum cpuid_baseline_kind kind = CPUID_BASELINE_LEVEL;
    int rc;

    rc = load_host(s, s->req.host_path, keys->gpu_baseline != NULL, gpu);
    if (!rc && !s->req.dry_run && strcmp(cpuid_host_source(s->host), "xen")) {
        fprintf(stderr, "%s create: Xen's CPU policies cannot be read here (source '%s'): "
                "needs a Xen host with libxenguest access (run as root)\n", xl_ext_prog,
                cpuid_host_source(s->host));
        return XL_EXT_EXIT_NO_XEN;
    }
    if (!rc && keys->cpuid_baseline)
        rc = cpuid_level_set_load(NULL, &s->levels);
    if (!rc && keys->cpuid_baseline)
        rc = cpuid_baseline_parse(keys->cpuid_baseline, s->req.cfg, &kind, NULL);
    if (!rc && keys->cpuid_baseline && kind == CPUID_BASELINE_CLUSTER)
        rc = cpuid_cluster_read_file(s->req.cluster_path ? s->req.cluster_path :
                                     DEFAULT_CLUSTER_FILE, &s->cluster);
    if (!rc && keys->cpuid_baseline)
        rc = cpuid_baseline_resolve(keys->cpuid_baseline, s->levels, s->cluster, s->req.cfg,
                                    &s->baseline);
    if (rc)
        return create_fail(rc);
    if (keys->cpuid_baseline) {
        /* A named level constrains only the ISA bits levels name; other baselines all. */
        s->constrain_all = kind != CPUID_BASELINE_LEVEL;
        cpuid_level_set_universe(s->levels, &s->constrained);
    }
    return 0;
}

/*
 * Can this host run the domain?  Both checks run before any refusal is
 * printed, so one run lists both shortfalls: 0, or XL_EXT_EXIT_INCOMPATIBLE
 * with "missing: FEATURE" and "gpu: ..." lines.
 */
static int check_host(const struct create_state *s, const struct cpuid_gpu_capability *gpu)
{
    const struct cpuid_domain_config_keys *keys = s->keys;
    struct cpuid_featureset missing = { { 0 } };
    char gpu_shortfall[256] = "";
    int rc, gpu_rc = 0;

    if (keys->gpu_baseline)
        gpu_rc = cpuid_gpu_capability_check(&keys->gpu_requirement, gpu, gpu_shortfall,
                                      sizeof(gpu_shortfall));
    rc = keys->cpuid_baseline ?
         cpuid_policy_check(&s->baseline, cpuid_host_featureset(s->host,
                            cpuid_host_policy_for_type(keys->type)), &missing) : 0;
    if (!rc && !gpu_rc)
        return 0;
    cpuid_cli_print_feature_lines(stdout, &missing, "missing: ");
    if (gpu_rc)
        printf("gpu: %s\n", gpu_shortfall);
    fprintf(stderr, "%s create: host '%s' cannot run domain '%s':%s%s%s%s\n", xl_ext_prog,
            cpuid_host_hostname(s->host), keys->name,
            rc ? " it lacks features of cpuid_baseline " : "",
            rc ? keys->cpuid_baseline : "", gpu_rc ? "; gpu: " : "",
            gpu_rc ? gpu_shortfall : "");
    return XL_EXT_EXIT_INCOMPATIBLE;
}

/* Add cpuid="host,NAME=0,..." (the host's policy masked down to the baseline) to xl's argv. */
static int add_cpuid_mask(struct create_state *s)
{
    const struct cpuid_domain_config_keys *keys = s->keys;
    struct cpuid_featureset offered = *cpuid_host_featureset(s->host,
                                          cpuid_host_policy_for_type(keys->type));

    if (strcmp(cpuid_host_source(s->host), "xen"))
        drop_non_xen_bits(&offered, cpuid_host_hostname(s->host));
    if (cpuid_libxl_mask_string(&offered, &s->baseline, s->constrain_all ? NULL : &s->constrained,
                                &s->mask)) {
        fprintf(stderr, "%s create: %s\n", xl_ext_prog, mig_error_last());
        return XL_EXT_EXIT_INCOMPATIBLE;
    }
    if (asprintf(&s->cpuid_assignment, "cpuid=\"%s\"", s->mask) < 0) {
        s->cpuid_assignment = NULL;
        return create_fail(mig_error_set(MIG_ENOMEM, "out of memory"));
    }
    return add_xl_arg(&s->req, s->cpuid_assignment) ? XL_EXT_EXIT_USAGE : 0;
}

/* Print xl's command line (--dry-run) or run it: its exit status, or ours. */
static int run_xl(struct create_state *s, bool verify)
{
    int status;

    if (s->req.dry_run) {
        print_command(stdout, s->req.xl_args);
        return XL_EXT_EXIT_OK;
    }
    status = run_and_wait(s->req.xl_args);
    if (!verify)
        return status < 0 ? XL_EXT_EXIT_FAILURE : status;
    if (status != 0) {
        fprintf(stderr, "%s create: xl create failed (exit %d)\n", xl_ext_prog, status);
        return status < 0 ? XL_EXT_EXIT_FAILURE : status;
    }
    return verify_and_record(s);
}

static int create_run(const struct create_request *req)
{
    struct create_state s;
    struct cpuid_gpu_capability gpu;
    const char *name;
    int rc, ret;

    memset(&s, 0, sizeof(s));
    s.req = *req;
    rc = cpuid_gpu_level_table_load(NULL, &s.gpu_levels);
    if (!rc)
        rc = read_config(req->cfg, req->overrides, req->nr_overrides, s.gpu_levels, &s.keys);
    if (rc) {
        /* An unreadable CFG is bad input too (as for gpu-probe --config). */
        ret = rc == MIG_EIO ? (create_fail(rc), XL_EXT_EXIT_BAD_INPUT) : create_fail(rc);
        goto out;
    }
    if (!s.keys->cpuid_baseline && !s.keys->gpu_baseline) {
        ret = run_xl(&s, false);        /* nothing to level: stock xl create, unchanged */
        goto out;
    }
    name = s.keys->name;
    if (!req->dry_run && access("/proc/xen", F_OK) != 0) {
        fprintf(stderr, "%s create: domain '%s' has a baseline and enforcing it needs a Xen host "
                "(no /proc/xen here); --dry-run --host HOST.json shows what would run\n",
                xl_ext_prog, name ? name : req->cfg);
        ret = XL_EXT_EXIT_NO_XEN;
        goto out;
    }
    if (!name) {
        fprintf(stderr, "%s create: %s has no name = \"...\": xl needs one, and xl-ext finds the "
                "new domain by it\n", xl_ext_prog, req->cfg);
        ret = XL_EXT_EXIT_BAD_INPUT;
        goto out;
    }
    ret = prepare_baseline(&s, &gpu);
    if (!ret)
        ret = check_host(&s, &gpu);
    if (!ret && s.keys->cpuid_baseline)
        ret = add_cpuid_mask(&s);
    if (!ret)
        ret = run_xl(&s, true);
 out:
    create_state_clear(&s);
    return ret;
}

int cmd_create(int argc, char **argv)
{
    struct create_request req;
    int rc;

    memset(&req, 0, sizeof(req));
    rc = parse_request(argc, argv, &req);
    return rc == CREATE_PARSED ? create_run(&req) : rc;
}
