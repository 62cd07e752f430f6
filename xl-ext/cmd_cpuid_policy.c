/*
 * cmd_cpuid_policy.c: `xl-ext cpuid-policy`: dispatcher of its
 * sub-subcommands, and the small ones (features, decode, levels).
 *
 * Output on stdout is stable (scripts and tests grep it); errors go to
 * stderr quoting the bad input, with the exit codes of subcommands.h.  This
 * file must never compute policy itself: everything comes from
 * libcpuidpolicy (cpuid_policy.h).
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cmd_cpuid_policy.h"
#include "mig_error.h"
#include "subcommands.h"

int cpuid_cli_exit_code(int mig_rc)
{
    switch (mig_rc) {
    case MIG_OK:         return XL_EXT_EXIT_OK;
    case MIG_ECOMPAT:    return XL_EXT_EXIT_INCOMPATIBLE;
    case MIG_EINVAL:
    case MIG_EFORMAT:
    case MIG_ETRUNC:
    case MIG_ELIMIT:
    case MIG_EUNSUPP:
    case MIG_EMISSING:   return XL_EXT_EXIT_BAD_INPUT;
    case MIG_ECANCELLED: return XL_EXT_EXIT_CANCELLED;
    default:             return XL_EXT_EXIT_FAILURE;
    }
}

int cpuid_cli_fail(const char *sub, int mig_rc)
{
    return cpuid_cli_fail_missing(sub, mig_rc, "");
}

int cpuid_cli_fail_missing(const char *sub, int mig_rc, const char *missing_advice)
{
    fprintf(stderr, "%s cpuid-policy %s: %s%s\n", xl_ext_prog, sub, mig_error_last(),
            mig_rc == MIG_EMISSING ? missing_advice : "");
    return cpuid_cli_exit_code(mig_rc);
}

int cpuid_cli_usage(const char *sub, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s cpuid-policy %s: ", xl_ext_prog, sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see '%s cpuid-policy %s --help'\n", xl_ext_prog, sub);
    return XL_EXT_EXIT_USAGE;
}

int cpuid_cli_bad_option(const char *sub, char **argv, const char *shortopts,
                         const struct option *longopts)
{
    char what[160];

    return cpuid_cli_usage(sub, "%s", xl_ext_option_error(argv, shortopts, longopts, what,
                                                          sizeof(what)));
}

void cpuid_cli_print_feature_lines(FILE *f, const struct cpuid_featureset *fs,
                                   const char *prefix)
{
    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++) {
        const struct cpuid_feature_info *info;

        if (!cpuid_featureset_test(fs, i))
            continue;
        info = cpuid_feature_by_index(i);
        if (info && info->xen_defined)
            fprintf(f, "%s%s\n", prefix, info->name);
        else
            fprintf(f, "%sw%ub%u\n", prefix, i / 32, i % 32);
    }
}

void *cpuid_cli_json_feature_array(const struct cpuid_featureset *fs)
{
    json_object *array = json_object_new_array();

    for (unsigned int i = 0; array && i < CPUID_FEATURESET_BITS; i++) {
        const struct cpuid_feature_info *info;
        char raw[16];

        if (!cpuid_featureset_test(fs, i))
            continue;
        info = cpuid_feature_by_index(i);
        snprintf(raw, sizeof(raw), "w%ub%u", i / 32, i % 32);
        json_object_array_add(array, json_object_new_string(info && info->xen_defined ?
                                                            info->name : raw));
    }
    return array;
}

void cpuid_cli_highest_levels(const struct cpuid_level_set *levels, enum cpuid_vendor vendor,
                              const struct cpuid_featureset *fs, char *buf, size_t size)
{
    const struct cpuid_level *psabi = cpuid_level_set_highest(levels, "x86-64", vendor, fs);
    const struct cpuid_level *gen = NULL;
    const struct cpuid_level *model = cpuid_level_set_highest(levels, "libvirt", vendor, fs);

    if (vendor == CPUID_VENDOR_INTEL)
        gen = cpuid_level_set_highest(levels, "intel", vendor, fs);
    else if (vendor == CPUID_VENDOR_AMD)
        gen = cpuid_level_set_highest(levels, "amd", vendor, fs);
    snprintf(buf, size, "%s, %s, %s", psabi ? psabi->name : "-", gen ? gen->name : "-",
             model ? model->name : "-");
}

void cpuid_cli_print_host_highest(FILE *f, const struct cpuid_host *host)
{
    struct cpuid_level_set *levels = NULL;
    char highest[160];

    if (cpuid_level_set_load(NULL, &levels)) {
        fprintf(f, "highest-levels: unknown (%s)\n", mig_error_last());
        return;
    }
    cpuid_cli_highest_levels(levels, cpuid_host_vendor(host),
                             cpuid_host_featureset(host, CPUID_HOST_POLICY_HVM_MAX), highest,
                             sizeof(highest));
    fprintf(f, "highest-levels: %s\n", highest);
    cpuid_level_set_free(levels);
}

/* features [--word N]: the names Xen uses, per word. */
static int cmd_features(int argc, char **argv)
{
    static const struct option opts[] = {
        { "word", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    long only = -1;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "w:", opts, NULL)) != -1) {
        char *end;

        if (c != 'w')
            return cpuid_cli_bad_option("features", argv, "w:", opts);
        only = strtol(optarg, &end, 10);
        if (*end || only < 0 || only >= CPUID_FEATURESET_WORDS)
            return cpuid_cli_usage("features", "--word '%s': give a word number from 0 to %d", optarg,
                                   CPUID_FEATURESET_WORDS - 1);
    }
    printf("# word bit  name                     xen-cpuid name           attributes\n");
    for (unsigned int w = 0; w < CPUID_FEATURESET_WORDS; w++) {
        if (only >= 0 && w != (unsigned long)only)
            continue;
        printf("word %u: %s\n", w, cpuid_featureset_word_names[w]);
        for (unsigned int i = 0; i < cpuid_features_count; i++) {
            const struct cpuid_feature_info *f = &cpuid_features[i];

            if (f->word != w || !f->xen_defined)
                continue;
            printf("  %2u %2u  %-24s %-24s %s\n", f->word, f->bit, f->name,
                   f->xen_cpuid_name ? f->xen_cpuid_name : "-", f->attributes);
        }
    }
    return XL_EXT_EXIT_OK;
}

/* decode [--hex|--names|--libxl] [--host HOST.json] [--words] TEXT */
static int cmd_decode(int argc, char **argv)
{
    static const struct option opts[] = {
        { "hex", no_argument, NULL, 'x' },
        { "names", no_argument, NULL, 'n' },
        { "libxl", no_argument, NULL, 'l' },
        { "host", required_argument, NULL, 'H' },
        { "words", no_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    struct cpuid_featureset fs;
    struct cpuid_host *host = NULL;
    const char *host_path = NULL, *text;
    char hex[CPUID_FEATURESET_HEX_LEN], *names = NULL;
    int syntax = 0, c, rc, ret;
    bool words = false;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'x': case 'n': case 'l': syntax = c; break;
        case 'H': host_path = optarg; break;
        case 'w': words = true; break;
        default: return cpuid_cli_bad_option("decode", argv, "", opts);
        }
    }
    if (optind + 1 != argc)
        return cpuid_cli_usage("decode", "give exactly one featureset (hex words, names or "
                               "a cpuid= string)");
    text = argv[optind];
    if (!syntax) {
        if (!strncmp(text, "host", 4) || strchr(text, '='))
            syntax = 'l';
        else if (strchr(text, ':') || strspn(text, "0123456789abcdefABCDEF") == strlen(text))
            syntax = 'x';
        else
            syntax = 'n';
    }
    if (host_path) {
        rc = cpuid_host_read_file(host_path, &host);
        if (rc) {
            ret = cpuid_cli_fail("decode", rc);
            goto out;
        }
    }
    if (syntax == 'x')
        rc = cpuid_featureset_parse_hex(text, CPUID_PARSE_ALLOW_SHORT, &fs);
    else if (syntax == 'n')
        rc = cpuid_featureset_parse_names(text, &fs);
    else
        rc = cpuid_featureset_parse_libxl(text, host ? cpuid_host_featureset(host,
                                          CPUID_HOST_POLICY_HOST) : NULL, &fs);
    if (rc) {
        ret = cpuid_cli_fail_missing("decode", rc, ": pass --host HOST.json");
        goto out;
    }
    cpuid_featureset_format_hex(&fs, hex);
    printf("hex: %s\n", hex);
    if (words) {
        /* One line per word in xen-cpuid's spelling, as `xen-cpuid HEX` lists them. */
        for (unsigned int w = 0; w < CPUID_FEATURESET_WORDS; w++) {
            struct cpuid_featureset one = { { 0 } };

            one.words[w] = fs.words[w];
            rc = cpuid_featureset_format_names(&one, CPUID_NAMES_XEN_CPUID, " ", &names);
            if (rc) {
                ret = cpuid_cli_fail("decode", rc);
                goto out;
            }
            printf("[%02u] %s\n", w, names);
            free(names);
            names = NULL;
        }
    } else {
        rc = cpuid_featureset_format_names(&fs, CPUID_NAMES_XEN, ",", &names);
        if (rc) {
            ret = cpuid_cli_fail("decode", rc);
            goto out;
        }
        printf("names: %s\n", names);
        printf("count: %u\n", cpuid_featureset_count(&fs));
    }
    ret = XL_EXT_EXIT_OK;
 out:
    free(names);
    cpuid_host_free(host);
    return ret;
}

/* Print each word of a level's word list as "KEY: WORD" ("dropped": "F (Xen 4.17 needs P)"). */
static void print_word_lines(const char *key, const char *list)
{
    for (const char *w = list ? list + strspn(list, " ") : NULL; w && *w; ) {
        size_t n = strcspn(w, " "), colon = strcspn(w, ": ");

        if (colon < n)
            printf("%s: %.*s (Xen 4.17 needs %.*s for it)\n", key, (int)colon, w,
                   (int)(n - colon - 1), w + colon + 1);
        else
            printf("%s: %.*s\n", key, (int)n, w);
        w += n + strspn(w + n, " ");
    }
}

/* levels --show NAME: one level, its features, and for libvirt models what Xen lacks. */
static int show_level(const struct cpuid_level_set *levels, const char *name)
{
    const struct cpuid_level *l = cpuid_level_set_find(levels, name);

    if (!l) {
        fprintf(stderr, "%s cpuid-policy levels: unknown level '%s': run '%s cpuid-policy "
                "levels' for the list\n", xl_ext_prog, name, xl_ext_prog);
        return XL_EXT_EXIT_BAD_INPUT;
    }
    printf("name: %s\nfamily: %s\nrank: %u\nvendor: %s\nsource: %s\n", l->name, l->family,
           l->rank, l->vendor ? cpuid_vendor_name(l->vendor) : "any", l->source);
    if (l->alias_of)
        printf("alias-of: %s\n", l->alias_of);
    cpuid_cli_print_feature_lines(stdout, &l->features, "feature: ");
    print_word_lines("no-xen-equivalent", l->no_xen_features);
    print_word_lines("xen-offers-no-guest", l->no_guest_features);
    print_word_lines("not-in-mapping-table", l->unmapped_features);
    print_word_lines("dropped", l->dropped_features);
    return XL_EXT_EXIT_OK;
}

/* levels: the table, then the libvirt models that are no level and where it all comes from. */
static void list_levels(const struct cpuid_level_set *levels)
{
    unsigned int installed = 0, shipped = 0;
    const char *map = cpuid_libvirt_cpu_map_dir(), *data = cpuid_libvirt_data_dir();

    printf("%-34s %-7s %4s %-6s %8s  %s\n", "LEVEL", "FAMILY", "RANK", "VENDOR", "FEATURES",
           "SOURCE");
    for (unsigned int i = 0; i < cpuid_level_set_count(levels); i++) {
        const struct cpuid_level *l = cpuid_level_set_get(levels, i);

        installed += !strncmp(l->source, "installed:", 10);
        shipped += !strncmp(l->source, "shipped:", 8);
        printf("%-34s %-7s %4u %-6s %8u  %s\n", l->name, l->family, l->rank,
               l->vendor ? cpuid_vendor_name(l->vendor) : "any",
               cpuid_featureset_count(&l->features), l->source);
    }
    for (unsigned int i = 0; i < cpuid_level_set_skipped_count(levels); i++)
        printf("# not a level: %s\n", cpuid_level_set_skipped(levels, i));
    printf("# libvirt models: %u from the installed map (%s), %u shipped (%s), %u not "
           "levels\n", installed, map ? map : "none", shipped, data ? data : "none",
           cpuid_level_set_skipped_count(levels));
    printf("# from %s\n", cpuid_levels_default_dir());
}

/* levels [--show NAME]: the named levels and where their facts come from. */
static int cmd_levels(int argc, char **argv)
{
    struct cpuid_level_set *levels = NULL;
    const char *show = NULL;
    int rc, ret = XL_EXT_EXIT_OK;

    if (argc == 3 && !strcmp(argv[1], "--show"))
        show = argv[2];
    else if (argc != 1)
        return cpuid_cli_usage("levels", "unexpected argument '%s'; give nothing or --show NAME",
                               argv[argc > 1 && !strcmp(argv[1], "--show") ? argc - 1 : 1]);
    rc = cpuid_level_set_load(NULL, &levels);
    if (rc)
        return cpuid_cli_fail("levels", rc);
    if (show)
        ret = show_level(levels, show);
    else
        list_levels(levels);
    cpuid_level_set_free(levels);
    return ret;
}

/*
 * corpus [--file FILE] [--host-json NAME]: the real CPUs of the corpus with
 * their highest levels, or one of them as a host file (source
 * "native-cpuid": a dump is a CPU's own CPUID).
 */
static int cmd_corpus(int argc, char **argv)
{
    static const struct option opts[] = {
        { "file", required_argument, NULL, 'f' },
        { "host-json", required_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    const char *file = NULL, *want = NULL;
    struct cpuid_corpus *corpus = NULL;
    struct cpuid_level_set *levels = NULL;
    struct cpuid_host *host = NULL;
    char *json = NULL, highest[128];
    int c, rc, ret;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f')
            file = optarg;
        else if (c == 'j')
            want = optarg;
        else
            return cpuid_cli_bad_option("corpus", argv, "", opts);
    }
    if (optind != argc)
        return cpuid_cli_usage("corpus", "unexpected argument '%s'", argv[optind]);
    rc = cpuid_corpus_load(file ? file : cpuid_corpus_default_path(), &corpus);
    if (!rc)
        rc = cpuid_level_set_load(NULL, &levels);
    if (rc) {
        ret = cpuid_cli_fail("corpus", rc);
        goto out;
    }
    if (want) {
        const struct cpuid_corpus_cpu *cpu = cpuid_corpus_find(corpus, want);
        struct cpuid_featureset policies[CPUID_HOST_POLICY_COUNT];

        if (!cpu) {
            fprintf(stderr, "%s cpuid-policy corpus: no CPU named '%s' in the corpus: run "
                    "'%s cpuid-policy corpus' for the list\n", xl_ext_prog, want, xl_ext_prog);
            ret = XL_EXT_EXIT_BAD_INPUT;
            goto out;
        }
        for (unsigned int i = 0; i < CPUID_HOST_POLICY_COUNT; i++)
            policies[i] = cpu->features;
        rc = cpuid_host_new(cpu->name, "native-cpuid", cpu->vendor, cpu->family, cpu->model,
                            cpu->stepping, policies, &host);
        if (!rc)
            rc = cpuid_host_to_json(host, &json);
        if (rc) {
            ret = cpuid_cli_fail("corpus", rc);
            goto out;
        }
        fputs(json, stdout);
    } else {
        printf("%-46s %-6s %-9s %4s  %s\n", "CPU", "VENDOR", "FAM/MODEL", "FEAT",
               "HIGHEST LEVELS");
        for (unsigned int i = 0; i < cpuid_corpus_count(corpus); i++) {
            const struct cpuid_corpus_cpu *cpu = cpuid_corpus_get(corpus, i);
            char fm[16];

            snprintf(fm, sizeof(fm), "%xh/%02xh", cpu->family, cpu->model);
            cpuid_cli_highest_levels(levels, cpu->vendor, &cpu->features, highest,
                                     sizeof(highest));
            printf("%-46s %-6s %-9s %4u  %s\n", cpu->name, cpuid_vendor_name(cpu->vendor), fm,
                   cpuid_featureset_count(&cpu->features), highest);
        }
    }
    ret = XL_EXT_EXIT_OK;
 out:
    free(json);
    cpuid_host_free(host);
    cpuid_level_set_free(levels);
    cpuid_corpus_free(corpus);
    return ret;
}

/* --help of the sub-subcommands that have no help of their own. */
#define FEATURES_HELP \
    "Usage: xl-ext cpuid-policy features [--word N]\n" \
    "Xen 4.17's feature names per featureset word (--word: word N only, 0-" \
    "based).\n"
#define DECODE_HELP \
    "Usage: xl-ext cpuid-policy decode [--hex|--names|--libxl] [--host HOST.json] [--words]\n" \
    "           FEATURESET\n" \
    "The hex words, names and count of a featureset, given as hex words, a list of\n" \
    "feature names or an xl.cfg cpuid= string (a named level: 'levels --show NAME').\n" \
    "  --hex | --names | --libxl  print only that form (libxl: an xl.cfg cpuid= string)\n" \
    "  --host HOST.json   the host the libxl form masks against\n" \
    "  --words            one line per word\n"
#define LEVELS_HELP \
    "Usage: xl-ext cpuid-policy levels [--show NAME]\n" \
    "The named levels (data files) and where their facts come from; --show NAME: the\n" \
    "features of one.\n"
#define CORPUS_HELP \
    "Usage: xl-ext cpuid-policy corpus [--file FILE] [--host-json NAME]\n" \
    "The real CPUs of the corpus and their highest levels.\n" \
    "  --file FILE        another corpus file\n" \
    "  --host-json NAME   print the CPU NAME as a host file (HOST.json) instead\n"
#define CHECK_HELP \
    "Usage: xl-ext cpuid-policy check DOMAIN|CFG --host HOST.json [--cluster CLUSTER.json]\n" \
    "           [--baseline NAME]\n" \
    "Can HOST run the domain (a running DOMAIN, or the xl.cfg CFG)?  Exit 0 compatible,\n" \
    "4 missing features (a 'missing: FEATURE' line each, and 'gpu:' lines).\n" \
    "  --host HOST.json       the host to check against\n" \
    "  --cluster CLUSTER.json the cluster file for cpuid_baseline = \"cluster\"\n" \
    "  --baseline NAME        check this baseline instead of the domain's\n"
#define REPORT_HELP \
    "Usage: xl-ext cpuid-policy report [--csv|--json] [--cluster CLUSTER.json]\n" \
    "           [--host HOST.json]... CFG...\n" \
    "A table of domains (xl.cfg files) by hosts, with each domain's highest levels.\n" \
    "  --csv | --json         print CSV or JSON instead of the table\n" \
    "  --cluster CLUSTER.json its members are the hosts (and its baseline \"cluster\")\n" \
    "  --host HOST.json       a host (repeatable)\n"

int cpuid_cli_dispatch(const struct cpuid_subcommand *subs, size_t n, int argc,
                       char **argv)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], subs[i].name))
            continue;
        if (subs[i].help && cpuid_cli_wants_help(argc - 1, argv + 1, subs[i].help))
            return XL_EXT_EXIT_OK;
        return subs[i].run(argc - 1, argv + 1);
    }
    return -1;
}

int cmd_cpuid_policy(int argc, char **argv)
{
    static const struct cpuid_subcommand subs[] = {
        { "features", cmd_features, FEATURES_HELP },
        { "decode", cmd_decode, DECODE_HELP },
        { "levels", cmd_levels, LEVELS_HELP },
        { "corpus", cmd_corpus, CORPUS_HELP },
        { "host-dump", cmd_cpuid_policy_host_dump, NULL },
        { "cluster", cmd_cpuid_policy_cluster, NULL },
        { "check", cmd_cpuid_policy_check, CHECK_HELP },
        { "report", cmd_cpuid_policy_report, REPORT_HELP },
    };
    int rc;

    if (argc < 2) {
        xl_ext_print_usage(stderr, "cpuid-policy");
        return XL_EXT_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help")) {
        xl_ext_print_usage(stdout, "cpuid-policy");
        return XL_EXT_EXIT_OK;
    }
    rc = cpuid_cli_dispatch(subs, sizeof(subs) / sizeof(subs[0]), argc, argv);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "%s cpuid-policy: unknown subcommand '%s'; give features, decode, "
            "levels, corpus, host-dump, cluster, check or report ('%s help cpuid-policy')\n",
            xl_ext_prog, argv[1], xl_ext_prog);
    return XL_EXT_EXIT_USAGE;
}
