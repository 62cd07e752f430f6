/*
 * test_cpuid_cluster.c: clusters that change, on real CPUs of the corpus:
 * bits that describe the running OS (osxsave, ospke) or the machine it
 * runs on (hypervisor) never take part in a baseline, a level or a check.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static unsigned int index_of(const char *name)
{
    bool ambiguous;
    const struct cpuid_feature_info *f = cpuid_feature_lookup(name, strlen(name), &ambiguous);

    ck_assert_ptr_nonnull(f);
    return f->word * 32 + f->bit;
}

/*
 * A native-cpuid host of corpus CPU `cpu_name` named `hostname`, with
 * feature `set` set and `clear` cleared (either may be NULL) in all three
 * policies.  The caller frees it.
 */
static struct cpuid_host *host_with(const char *cpu_name, const char *hostname,
                                    const char *set, const char *clear)
{
    const struct cpuid_corpus_cpu *c = cpuid_corpus_find(corpus, cpu_name);
    struct cpuid_featureset p[CPUID_HOST_POLICY_COUNT];
    struct cpuid_host *h = NULL;

    ck_assert_msg(c != NULL, "CPU '%s' missing from the corpus", cpu_name);
    for (unsigned int i = 0; i < CPUID_HOST_POLICY_COUNT; i++) {
        p[i] = c->features;
        if (set)
            cpuid_featureset_set(&p[i], index_of(set));
        if (clear)
            cpuid_featureset_clear(&p[i], index_of(clear));
    }
    ck_assert_int_eq(cpuid_host_new(hostname, "native-cpuid", c->vendor, c->family, c->model,
                                    c->stepping, p, &h), 0);
    return h;
}

/* Ice Lake's dump has ospke (its OS enabled PKE); the same CPU whose OS did not. */
START_TEST(test_os_state_never_missing_on_cluster_add)
{
    struct cpuid_host *pke = host_with("Intel Ice Lake Server", "icx-pke", NULL, NULL);
    struct cpuid_host *nopke = host_with("Intel Ice Lake Server", "icx-nopke", NULL, "ospke");
    struct cpuid_featureset missing = { { 0 } };
    struct cpuid_cluster *c;

    ck_assert(cpuid_featureset_test(cpuid_host_featureset(nopke, CPUID_HOST_POLICY_HVM_MAX),
                                    index_of("pku")));
    ck_assert_int_eq(cpuid_cluster_new("icx", &c), 0);
    ck_assert_int_eq(cpuid_cluster_add(c, pke, NULL), 0);
    ck_assert_msg(cpuid_cluster_add(c, nopke, &missing) == 0, "%s", mig_error_last());
    ck_assert(cpuid_featureset_is_empty(&missing));
    ck_assert_uint_eq(cpuid_cluster_member_count(c), 2);
    ck_assert(!cpuid_featureset_test(cpuid_cluster_baseline_features(c), index_of("ospke")));
    ck_assert(cpuid_featureset_test(cpuid_cluster_baseline_features(c), index_of("pku")));
    cpuid_cluster_free(c);
    cpuid_host_free(pke);
    cpuid_host_free(nopke);
}
END_TEST

/* Two dumps differing only in ospke: no missing list in either direction. */
START_TEST(test_os_state_never_missing_in_a_check)
{
    struct cpuid_host *pke = host_with("Intel Ice Lake Server", "a", NULL, NULL);
    struct cpuid_host *nopke = host_with("Intel Ice Lake Server", "b", NULL, "ospke");
    const struct cpuid_featureset *with = cpuid_host_featureset(pke, CPUID_HOST_POLICY_HVM_MAX);
    const struct cpuid_featureset *without = cpuid_host_featureset(nopke,
                                                                   CPUID_HOST_POLICY_HVM_MAX);
    struct cpuid_featureset missing;
    char hex[CPUID_FEATURESET_HEX_LEN];

    ck_assert_msg(cpuid_policy_check(with, without, &missing) == 0, "%s", mig_error_last());
    ck_assert(cpuid_featureset_is_empty(&missing));
    ck_assert_int_eq(cpuid_policy_check(without, with, &missing), 0);

    /* hex words of a dump with osxsave and ospke as a domain's baseline */
    cpuid_featureset_format_hex(with, hex);
    ck_assert_int_eq(cpuid_baseline_resolve(hex, levels, NULL, "hex.cfg", &missing), 0);
    ck_assert(!cpuid_featureset_test(&missing, index_of("ospke")));
    ck_assert(!cpuid_featureset_test(&missing, index_of("osxsave")));
    ck_assert(cpuid_featureset_test(&missing, index_of("pku")));
    cpuid_host_free(pke);
    cpuid_host_free(nopke);
}
END_TEST

/* A dump made inside a VM has "hypervisor": the baseline must not require it. */
START_TEST(test_hypervisor_bit_of_a_native_dump_is_not_required)
{
    struct cpuid_host *vm = host_with("Intel Xeon Gold 6148", "vm", "hypervisor", NULL);
    struct cpuid_host *metal = host_with("Intel Xeon Gold 6148", "metal", NULL, "hypervisor");
    struct cpuid_host *hosts[2] = { vm, metal };
    struct cpuid_featureset baseline, missing;
    enum cpuid_vendor vendor;
    struct cpuid_cluster *c;
    struct cpuid_host *back;
    char *json;

    ck_assert_int_eq(cpuid_cluster_baseline(hosts, 1, CPUID_HOST_POLICY_HVM_MAX, &baseline,
                                            &vendor), 0);
    ck_assert(!cpuid_featureset_test(&baseline, index_of("hypervisor")));
    ck_assert_int_eq(cpuid_cluster_new("c", &c), 0);
    ck_assert_int_eq(cpuid_cluster_add(c, vm, NULL), 0);
    ck_assert_msg(cpuid_cluster_add(c, metal, &missing) == 0, "%s", mig_error_last());
    cpuid_cluster_free(c);

    /* read back from its JSON, a native dump has none of the bits */
    ck_assert_int_eq(cpuid_host_to_json(vm, &json), 0);
    ck_assert_int_eq(cpuid_host_parse(json, strlen(json), "vm.json", &back), 0);
    ck_assert(!cpuid_featureset_test(cpuid_host_featureset(back, CPUID_HOST_POLICY_HVM_MAX),
                                     index_of("hypervisor")));
    ck_assert(!cpuid_featureset_test(cpuid_host_featureset(back, CPUID_HOST_POLICY_HOST),
                                     index_of("osxsave")));
    free(json);
    cpuid_host_free(back);
    cpuid_host_free(vm);
    cpuid_host_free(metal);
}
END_TEST

/* create's cpuid= mask never writes an OS-state bit (Xen decides them). */
START_TEST(test_libxl_mask_leaves_os_state_alone)
{
    struct cpuid_host *vm = host_with("Intel Ice Lake Server", "vm", "hypervisor", NULL);
    const struct cpuid_featureset *offered = cpuid_host_featureset(vm, CPUID_HOST_POLICY_HVM_MAX);
    struct cpuid_featureset baseline = *offered;
    char *mask = NULL;

    cpuid_featureset_clear(&baseline, index_of("hypervisor"));
    cpuid_featureset_clear(&baseline, index_of("ospke"));
    cpuid_featureset_clear(&baseline, index_of("osxsave"));
    ck_assert_msg(cpuid_libxl_mask_string(offered, &baseline, NULL, &mask) == 0, "%s",
                  mig_error_last());
    ck_assert_str_eq(mask, "host");
    free(mask);
    cpuid_host_free(vm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpuid-cluster");
    TCase *tc = tcase_create("cluster");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_os_state_never_missing_on_cluster_add);
    tcase_add_test(tc, test_os_state_never_missing_in_a_check);
    tcase_add_test(tc, test_hypervisor_bit_of_a_native_dump_is_not_required);
    tcase_add_test(tc, test_libxl_mask_leaves_os_state_alone);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
