/*
 * test_cpuid_corpus.c: named levels, host files, clusters and the check,
 * on the corpus of real CPUs (cpuid-policy/data/cpus/corpus.txt).  The
 * expected generations are what each CPU is (Xeon Gold 6148 is a
 * Skylake-SP...), not what the code happens to print.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "test_cpuid_helpers.h"

static struct cpuid_corpus *corpus;
static struct cpuid_level_set *levels;

static void setup(void)
{
    cpuid_test_use_source_data();
    ck_assert_int_eq(cpuid_corpus_load(cpuid_corpus_default_path(), &corpus), 0);
    ck_assert_int_eq(cpuid_level_set_load(NULL, &levels), 0);
}

static void teardown(void)
{
    cpuid_corpus_free(corpus);
    cpuid_level_set_free(levels);
}

static const struct cpuid_corpus_cpu *cpu(const char *name)
{
    const struct cpuid_corpus_cpu *c = cpuid_corpus_find(corpus, name);

    ck_assert_msg(c != NULL, "CPU '%s' missing from the corpus", name);
    return c;
}

static struct cpuid_host *host_of(const char *name)
{
    return cpuid_test_host_of(corpus, name, NULL);
}

static const char *highest(const char *family, enum cpuid_vendor vendor,
                           const struct cpuid_featureset *fs)
{
    const struct cpuid_level *l = cpuid_level_set_highest(levels, family, vendor, fs);

    return l ? l->name : "-";
}

static unsigned int index_of(const char *name)
{
    bool ambiguous;
    const struct cpuid_feature_info *f = cpuid_feature_lookup(name, strlen(name), &ambiguous);

    ck_assert_ptr_nonnull(f);
    return f->word * 32 + f->bit;
}

START_TEST(test_corpus_is_real_and_large)
{
    unsigned int intel = 0, amd = 0;

    ck_assert_uint_ge(cpuid_corpus_count(corpus), 20);
    for (unsigned int i = 0; i < cpuid_corpus_count(corpus); i++) {
        const struct cpuid_corpus_cpu *c = cpuid_corpus_get(corpus, i);
        struct cpuid_featureset copy = c->features, back;
        char *names;

        ck_assert_msg(c->source && strlen(c->source) > 10, "%s has no source", c->name);
        intel += c->vendor == CPUID_VENDOR_INTEL;
        amd += c->vendor == CPUID_VENDOR_AMD;
        /* Real CPUs obey Xen's dependency rules, and their names parse back. */
        ck_assert_uint_eq(cpuid_featureset_close(&copy), 0);
        ck_assert_int_eq(cpuid_featureset_format_names(&c->features, CPUID_NAMES_XEN, " ",
                                                       &names), 0);
        ck_assert_int_eq(cpuid_featureset_parse_names(names, &back), 0);
        ck_assert_mem_eq(&back, &c->features, sizeof(back));
        free(names);
        ck_assert(cpuid_featureset_test(&c->features, index_of("lm")));
    }
    ck_assert_uint_ge(intel, 8);
    ck_assert_uint_ge(amd, 8);
}
END_TEST

START_TEST(test_each_cpu_gets_its_generation)
{
    static const struct { const char *cpu, *psabi, *generation; } want[] = {
        { "Intel Core 2 Duo E6850", "x86-64-v1", "-" },
        { "Intel Xeon W3520", "x86-64-v2", "intel-nehalem" },
        { "Intel Xeon E7540", "x86-64-v2", "intel-nehalem" },
        { "Intel Core i7-2600", "x86-64-v2", "intel-sandybridge" },
        { "Intel Core i7-3770", "x86-64-v2", "intel-ivybridge" },
        { "Intel Xeon E5-2630 v3", "x86-64-v3", "intel-haswell" },
        { "Intel Xeon E5-2650 v4", "x86-64-v3", "intel-broadwell" },
        { "Intel Core i5-6600", "x86-64-v3", "intel-skylake" },
        { "Intel Xeon Gold 6148", "x86-64-v4", "intel-skylake-server" },
        { "Intel Xeon Platinum 8268", "x86-64-v4", "intel-cascadelake" },
        { "Intel Cooper Lake (Xeon)", "x86-64-v4", "intel-cooperlake" },
        { "Intel Ice Lake Server", "x86-64-v4", "intel-icelake-server" },
        { "AMD Opteron 1352 Quad-Core", "x86-64-v1", "amd-opteron-barcelona" },
        { "AMD Phenom II X4 B95", "x86-64-v1", "amd-opteron-barcelona" },
        { "AMD FX-8150 Eight-Core", "x86-64-v2", "amd-bulldozer" },
        { "AMD Opteron 6234", "x86-64-v2", "amd-bulldozer" },
        { "AMD EPYC 7601 32-Core", "x86-64-v3", "amd-zen1" },
        { "AMD Ryzen 7 1800X Eight-Core", "x86-64-v3", "amd-zen1" },
        { "AMD EPYC 7502 32-Core", "x86-64-v3", "amd-zen2" },
        { "AMD Ryzen 9 3900X 12-Core", "x86-64-v3", "amd-zen2" },
    };

    for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct cpuid_corpus_cpu *c = cpu(want[i].cpu);
        const char *family = c->vendor == CPUID_VENDOR_INTEL ? "intel" : "amd";

        ck_assert_msg(!strcmp(highest("x86-64", c->vendor, &c->features), want[i].psabi),
                      "%s: x86-64 level %s, expected %s", c->name,
                      highest("x86-64", c->vendor, &c->features), want[i].psabi);
        ck_assert_msg(!strcmp(highest(family, c->vendor, &c->features), want[i].generation),
                      "%s: generation %s, expected %s", c->name,
                      highest(family, c->vendor, &c->features), want[i].generation);
    }
}
END_TEST

static void assert_chain(const char *const *names, unsigned int n)
{
    for (unsigned int i = 0; i + 1 < n; i++) {
        const struct cpuid_level *a = cpuid_level_set_find(levels, names[i]);
        const struct cpuid_level *b = cpuid_level_set_find(levels, names[i + 1]);

        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_msg(cpuid_featureset_is_subset(&a->features, &b->features),
                      "%s is not inside %s", a->name, b->name);
        ck_assert_uint_lt(a->rank, b->rank);
    }
}

START_TEST(test_levels_are_data_and_nested)
{
    static const char *const psabi[] = { "x86-64-v1", "x86-64-v2", "x86-64-v3", "x86-64-v4" };
    static const char *const intel[] = {
        "intel-nehalem", "intel-westmere", "intel-sandybridge", "intel-ivybridge",
        "intel-haswell", "intel-broadwell", "intel-skylake", "intel-skylake-server",
        "intel-cascadelake", "intel-cooperlake",
    };
    static const char *const zen[] = { "amd-zen1", "amd-zen2", "amd-zen3", "amd-zen4" };
    /* Bulldozer dropped 3DNow!, so K8/K10 and Bulldozer are two chains. */
    static const char *const k8[] = {
        "amd-opteron-k8", "amd-opteron-k8-sse3", "amd-opteron-barcelona",
    };
    static const char *const bd[] = {
        "amd-bulldozer", "amd-piledriver", "amd-steamroller", "amd-excavator",
    };
    const struct cpuid_level *v1 = cpuid_level_set_find(levels, "x86-64-v1");

    ck_assert_uint_ge(cpuid_level_set_count(levels), 27);
    assert_chain(psabi, 4);
    assert_chain(intel, 10);
    assert_chain(zen, 4);
    assert_chain(k8, 3);
    assert_chain(bd, 4);
    for (unsigned int i = 0; i < cpuid_level_set_count(levels); i++) {
        const struct cpuid_level *l = cpuid_level_set_get(levels, i);
        struct cpuid_featureset copy = l->features;

        ck_assert_msg(strlen(l->source) > 10, "%s: no source", l->name);
        ck_assert_uint_eq(cpuid_featureset_close(&copy), 0);
        /* libvirt's 32-bit models (486, pentium...) have no long mode. */
        ck_assert_msg(cpuid_test_is_libvirt(l) ||
                      cpuid_featureset_is_subset(&v1->features, &l->features),
                      "%s lacks the x86-64 base", l->name);
        ck_assert(!cpuid_featureset_test(&l->features, index_of("hypervisor")));
    }
}
END_TEST

START_TEST(test_bad_level_file_is_refused)
{
    char dir[] = "/tmp/xenmig-levels-XXXXXX", path[4200];
    struct cpuid_level_set *set = NULL;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/broken.level", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("name: broken\nfamily: x86-64\nrank: 9\nvendor: any\nsource: test\n"
          "features: fpu avx513f\n", f);
    fclose(f);
    ck_assert_int_eq(cpuid_level_set_load(dir, &set), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "broken.level:6"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "'avx513f'"));
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Baseline bit by bit: set iff every member has it (closure aside). */
static void assert_is_intersection(struct cpuid_host **hosts, unsigned int n,
                                   const struct cpuid_featureset *baseline)
{
    for (unsigned int b = 0; b < CPUID_FEATURESET_BITS; b++) {
        bool all = true;

        for (unsigned int i = 0; i < n; i++)
            all &= cpuid_featureset_test(cpuid_host_featureset(hosts[i],
                                         CPUID_HOST_POLICY_HVM_MAX), b);
        if (!all)
            ck_assert(!cpuid_featureset_test(baseline, b));
    }
    for (unsigned int i = 0; i < n; i++)
        ck_assert(cpuid_featureset_is_subset(baseline,
                  cpuid_host_featureset(hosts[i], CPUID_HOST_POLICY_HVM_MAX)));
}

static void check_cluster(const char *const *names, unsigned int n, const char *psabi,
                          const char *generation)
{
    struct cpuid_host *hosts[8];
    struct cpuid_featureset baseline;
    enum cpuid_vendor vendor;

    for (unsigned int i = 0; i < n; i++)
        hosts[i] = host_of(names[i]);
    ck_assert_int_eq(cpuid_cluster_baseline(hosts, n, CPUID_HOST_POLICY_HVM_MAX, &baseline,
                                            &vendor), 0);
    assert_is_intersection(hosts, n, &baseline);
    ck_assert_str_eq(highest("x86-64", vendor, &baseline), psabi);
    ck_assert_str_eq(highest(vendor == CPUID_VENDOR_INTEL ? "intel" : "amd", vendor, &baseline),
                     generation);
    for (unsigned int i = 0; i < n; i++)
        cpuid_host_free(hosts[i]);
}

START_TEST(test_cluster_baselines_of_mixed_sets)
{
    static const char *const skx_hsw_icx[] = {
        "Intel Xeon Gold 6148", "Intel Xeon E5-2630 v3", "Intel Ice Lake Server",
    };
    static const char *const epyc_mix[] = {
        "AMD EPYC 7601 32-Core", "AMD EPYC 7502 32-Core", "AMD Ryzen 9 3900X 12-Core",
    };
    static const char *const snb_nhm[] = { "Intel Core i7-2600", "Intel Xeon W3520" };
    static const char *const k10[] = { "AMD Opteron 1352 Quad-Core", "AMD Phenom II X4 B95" };
    static const char *const bd[] = { "AMD Opteron 6234", "AMD FX-8150 Eight-Core" };
    /* K10 + Bulldozer: no 3DNow! in common, so no AMD generation fits. */
    static const char *const k10_bd[] = { "AMD Opteron 1352 Quad-Core", "AMD Opteron 6234" };
    static const char *const server_client[] = {
        "Intel Xeon Platinum 8268", "Intel Core i5-6600", "Intel Cooper Lake (Xeon)",
    };

    check_cluster(skx_hsw_icx, 3, "x86-64-v3", "intel-haswell");
    check_cluster(epyc_mix, 3, "x86-64-v3", "amd-zen1");
    check_cluster(snb_nhm, 2, "x86-64-v2", "intel-nehalem");
    check_cluster(k10, 2, "x86-64-v1", "amd-opteron-barcelona");
    check_cluster(bd, 2, "x86-64-v2", "amd-bulldozer");
    check_cluster(k10_bd, 2, "x86-64-v1", "-");
    check_cluster(server_client, 3, "x86-64-v3", "intel-skylake");
}
END_TEST

START_TEST(test_vendor_mix_is_refused)
{
    struct cpuid_host *hosts[2] = { host_of("Intel Xeon Gold 6148"),
                                    host_of("AMD EPYC 7502 32-Core") };
    struct cpuid_featureset baseline;
    enum cpuid_vendor vendor;

    ck_assert_int_eq(cpuid_cluster_baseline(hosts, 2, CPUID_HOST_POLICY_HVM_MAX, &baseline,
                                            &vendor), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "vendor mix"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "Intel Xeon Gold 6148"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "AMD EPYC 7502 32-Core"));
    cpuid_host_free(hosts[0]);
    cpuid_host_free(hosts[1]);
}
END_TEST

START_TEST(test_cluster_add_refuses_a_weaker_host)
{
    struct cpuid_cluster *cl;
    struct cpuid_host *skx = host_of("Intel Xeon Gold 6148");
    struct cpuid_host *hsw = host_of("Intel Xeon E5-2630 v3");
    struct cpuid_host *amd = host_of("AMD EPYC 7601 32-Core");
    struct cpuid_featureset missing;
    char *json;
    struct cpuid_cluster *back;

    ck_assert_int_eq(cpuid_cluster_new("lab", &cl), 0);
    ck_assert_int_eq(cpuid_cluster_add(cl, skx, NULL), 0);
    ck_assert_int_eq(cpuid_cluster_add(cl, hsw, &missing), MIG_ECOMPAT);
    ck_assert(cpuid_featureset_test(&missing, index_of("avx512f")));
    ck_assert(!cpuid_featureset_test(&missing, index_of("avx2")));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "Intel Xeon E5-2630 v3"));
    ck_assert_int_eq(cpuid_cluster_add(cl, amd, NULL), MIG_ECOMPAT);
    ck_assert_uint_eq(cpuid_cluster_member_count(cl), 1);

    /* Pinned to Haswell, the Haswell host fits. */
    ck_assert_int_eq(cpuid_cluster_pin_level(cl, cpuid_level_set_find(levels, "intel-haswell"),
                                             NULL), 0);
    ck_assert_int_eq(cpuid_cluster_add(cl, hsw, NULL), 0);
    ck_assert_int_eq(cpuid_cluster_pin_level(cl, cpuid_level_set_find(levels, "x86-64-v4"),
                                             &missing), MIG_ECOMPAT);
    ck_assert(cpuid_featureset_test(&missing, index_of("avx512bw")));

    ck_assert_int_eq(cpuid_cluster_to_json(cl, &json), 0);
    ck_assert_int_eq(cpuid_cluster_parse(json, strlen(json), "test", &back), 0);
    ck_assert_uint_eq(cpuid_cluster_member_count(back), 2);
    ck_assert_str_eq(cpuid_cluster_pinned_level(back), "intel-haswell");
    ck_assert_mem_eq(cpuid_cluster_baseline_features(back), cpuid_cluster_baseline_features(cl),
                     sizeof(struct cpuid_featureset));
    free(json);
    cpuid_cluster_free(back);
    cpuid_cluster_free(cl);
    cpuid_host_free(skx);
    cpuid_host_free(hsw);
    cpuid_host_free(amd);
}
END_TEST

START_TEST(test_check_lists_exactly_the_missing_features)
{
    const struct cpuid_level *v4 = cpuid_level_set_find(levels, "x86-64-v4");
    const struct cpuid_corpus_cpu *hsw = cpu("Intel Xeon E5-2630 v3");
    struct cpuid_featureset missing;
    char *names;

    ck_assert_int_eq(cpuid_policy_check(&v4->features, &hsw->features, &missing), MIG_ECOMPAT);
    ck_assert_int_eq(cpuid_featureset_format_names(&missing, CPUID_NAMES_XEN, " ", &names), 0);
    ck_assert_str_eq(names, "avx512f avx512dq avx512cd avx512bw avx512vl");
    free(names);
    ck_assert_int_eq(cpuid_policy_check(&v4->features, &cpu("Intel Ice Lake Server")->features,
                                        &missing), 0);
    ck_assert(cpuid_featureset_is_empty(&missing));
}
END_TEST

START_TEST(test_host_json_keeps_unknown_keys)
{
    struct cpuid_host *h = host_of("AMD EPYC 7502 32-Core"), *back;
    struct cpuid_featureset expected = *cpuid_host_featureset(h, CPUID_HOST_POLICY_HVM_MAX);
    char *json, *json2;
    const char *gpu_doc;
    struct cpuid_host *g;

    ck_assert_int_eq(cpuid_host_to_json(h, &json), 0);
    ck_assert_int_eq(cpuid_host_parse(json, strlen(json), "epyc.json", &back), 0);
    /* read back, a native-cpuid dump has lost its OS's osxsave (OS state) */
    ck_assert_uint_eq(cpuid_featureset_drop_os_state(&expected), 1);
    ck_assert_mem_eq(cpuid_host_featureset(back, CPUID_HOST_POLICY_HVM_MAX), &expected,
                     sizeof(struct cpuid_featureset));
    ck_assert_int_eq(cpuid_host_vendor(back), CPUID_VENDOR_AMD);

    gpu_doc = "{\"schema_version\": 1, \"hostname\": \"g\", \"source\": \"xen\", "
              "\"vendor\": \"intel\", \"family\": 6, \"model\": 85, \"stepping\": 4, "
              "\"featuresets\": {\"host\": \"1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:10:11:12:13\"}, "
              "\"gpu\": {\"level\": \"d3d11.0-gl4.1\"}, \"future_key\": [1, 2]}";
    ck_assert_int_eq(cpuid_host_parse(gpu_doc, strlen(gpu_doc), "g.json", &g), 0);
    ck_assert_uint_eq(cpuid_host_featureset(g, CPUID_HOST_POLICY_PV_MAX)->words[18], 0x13);
    ck_assert_int_eq(cpuid_host_to_json(g, &json2), 0);
    ck_assert_ptr_nonnull(strstr(json2, "d3d11.0-gl4.1"));
    ck_assert_ptr_nonnull(strstr(json2, "future_key"));
    free(json);
    free(json2);
    cpuid_host_free(g);
    cpuid_host_free(back);
    cpuid_host_free(h);
}
END_TEST

START_TEST(test_host_json_errors_quote_the_input)
{
    static const struct { const char *doc, *expect; int code; } bad[] = {
        { "{\"schema_version\": 1, \"hostname\": \"h\", \"source\": \"xen\", \"vendor\": "
          "\"intel\", \"family\": 6, \"model\": 1, \"stepping\": 1, \"featuresets\": "
          "{\"host\": \"1:2:3\"}}", "\"featuresets\".\"host\": \"1:2:3\" has 3 words",
          MIG_EINVAL },
        { "{\"schema_version\": 1, \"hostname\": \"h\", \"source\": \"xen\", \"vendor\": "
          "\"via\", \"family\": 6, \"model\": 1, \"stepping\": 1}", "\"vendor\" is \"via\"",
          MIG_EFORMAT },
        { "{\"schema_version\": 2}", "schema_version 2", MIG_EUNSUPP },
        { "{\"schema_version\": 1, \"hostname\": \"h\"", "ends early", MIG_ETRUNC },
        { "[1, 2]", "must be a JSON object", MIG_EFORMAT },
        { "{\"schema_version\": 1, \"hostname\": 7}", "\"hostname\" must be a string",
          MIG_EFORMAT },
        { "{\"schema_version\": 1, \"hostname\": \"h\", \"source\": \"kvm\", "
          "\"vendor\": \"amd\"}",
          "\"source\" is \"kvm\"", MIG_EFORMAT },
        { "{\"schema_version\": 1, \"hostname\": \"h\", \"source\": \"xen\", \"vendor\": "
          "\"amd\", \"family\": -1}", "\"family\" is -1", MIG_EFORMAT },
    };

    for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cpuid_host *h = NULL;

        ck_assert_int_eq(cpuid_host_parse(bad[i].doc, strlen(bad[i].doc), "bad.json", &h),
                         bad[i].code);
        ck_assert_msg(strstr(mig_error_last(), bad[i].expect) &&
                      strstr(mig_error_last(), "bad.json"),
                      "case %u: '%s' lacks '%s'", i, mig_error_last(), bad[i].expect);
        ck_assert_ptr_null(h);
    }
}
END_TEST

static char *write_cfg(const char *text)
{
    char *path = strdup("/tmp/xenmig-cfg-XXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

START_TEST(test_domain_config_and_resolve)
{
    char *p1 = write_cfg("name = \"web\"\n# cpuid_baseline = \"x86-64-v4\"\n"
                         "cpuid_baseline = \"x86-64-v3\"\ntype = 'hvm'\n");
    char *p2 = write_cfg("name = \"old\"\nbuilder = \"hvm\"\n");
    char *p3 = write_cfg("cpuid_baseline = \"x86-64-v3\n");
    char *baseline = NULL, *type = NULL;
    struct cpuid_featureset fs;

    ck_assert_int_eq(cpuid_domain_config_read(p1, &baseline, &type), 0);
    ck_assert_str_eq(baseline, "x86-64-v3");
    ck_assert_str_eq(type, "hvm");
    ck_assert_int_eq(cpuid_baseline_resolve(baseline, levels, NULL, p1, &fs), 0);
    ck_assert_mem_eq(&fs, &cpuid_level_set_find(levels, "x86-64-v3")->features, sizeof(fs));
    free(baseline);
    free(type);
    ck_assert_int_eq(cpuid_domain_config_read(p2, &baseline, &type), 0);
    ck_assert_ptr_null(baseline);
    ck_assert_str_eq(type, "hvm");
    free(type);
    ck_assert_int_eq(cpuid_domain_config_read(p3, &baseline, &type), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), ":1: config parsing error"));
    ck_assert_int_eq(cpuid_baseline_resolve("cluster", levels, NULL, "x.cfg", &fs),
                     MIG_EMISSING);
    ck_assert_int_eq(cpuid_baseline_resolve("intel-pentium", levels, NULL, "x.cfg", &fs),
                     MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "\"intel-pentium\""));
    unlink(p1);
    unlink(p2);
    unlink(p3);
    free(p1);
    free(p2);
    free(p3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpuid-corpus");
    TCase *tc = tcase_create("corpus");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_corpus_is_real_and_large);
    tcase_add_test(tc, test_each_cpu_gets_its_generation);
    tcase_add_test(tc, test_levels_are_data_and_nested);
    tcase_add_test(tc, test_bad_level_file_is_refused);
    tcase_add_test(tc, test_cluster_baselines_of_mixed_sets);
    tcase_add_test(tc, test_vendor_mix_is_refused);
    tcase_add_test(tc, test_cluster_add_refuses_a_weaker_host);
    tcase_add_test(tc, test_check_lists_exactly_the_missing_features);
    tcase_add_test(tc, test_host_json_keeps_unknown_keys);
    tcase_add_test(tc, test_host_json_errors_quote_the_input);
    tcase_add_test(tc, test_domain_config_and_resolve);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
