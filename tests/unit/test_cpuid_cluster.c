/*
 * test_cpuid_cluster.c: clusters that change, on real CPUs of the corpus:
 * bits that describe the running OS (osxsave, ospke) or the machine it
 * runs on (hypervisor) never take part in a baseline, a level or a check;
 * the cluster file's version, content hash and compare-and-swap write.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "test_cpuid_helpers.h"

static struct cpuid_corpus *corpus;
static struct cpuid_level_set *levels;
static char dir[64], path[128];         /* a scratch directory, and cluster.json in it */

static void setup(void)
{
    cpuid_test_use_source_data();
    ck_assert_int_eq(cpuid_corpus_load(cpuid_corpus_default_path(), &corpus), 0);
    ck_assert_int_eq(cpuid_level_set_load(NULL, &levels), 0);
    snprintf(dir, sizeof(dir), "/tmp/xenmig-cluster-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/cluster.json", dir);
}

static void teardown(void)
{
    char lock[160];

    snprintf(lock, sizeof(lock), "%s.lock", path);
    unlink(path);
    unlink(lock);
    rmdir(dir);
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

/* The whole file at path (the caller frees). */
static char *slurp(const char *file)
{
    char *text = NULL;
    size_t length = 0;

    ck_assert_msg(cpuid_read_text_file(file, "test file", 1 << 20, 0, &text, &length) == 0, "%s",
                  mig_error_last());
    return text;
}

/* A cluster file at path with corpus CPU `cpu` as its one member. */
static void write_cluster_of(const char *cpu, const char *hostname)
{
    struct cpuid_host *h = host_with(cpu, hostname, NULL, NULL);
    struct cpuid_cluster *c;

    ck_assert_int_eq(cpuid_cluster_new("lab", &c), 0);
    ck_assert_int_eq(cpuid_cluster_add(c, h, NULL), 0);
    ck_assert_msg(cpuid_cluster_write_file(c, path) == 0, "%s", mig_error_last());
    cpuid_cluster_free(c);
    cpuid_host_free(h);
}

/* Add host `hostname` (corpus CPU `cpu`) to c. */
static void add(struct cpuid_cluster *c, const char *cpu, const char *hostname)
{
    struct cpuid_host *h = host_with(cpu, hostname, NULL, NULL);

    ck_assert_msg(cpuid_cluster_add(c, h, NULL) == 0, "%s", mig_error_last());
    cpuid_host_free(h);
}

static const char *highest(const char *family, const struct cpuid_featureset *fs)
{
    const struct cpuid_level *l = cpuid_level_set_highest(levels, family, CPUID_VENDOR_INTEL, fs);

    return l ? l->name : "-";
}

/* Skylake-SP, Haswell and Ice Lake joined one by one: the intersection, as cluster baseline. */
START_TEST(test_join_makes_the_intersection)
{
    struct cpuid_host *h[3] = {
        host_with("Intel Xeon Gold 6148", "skx", NULL, NULL),
        host_with("Intel Xeon E5-2630 v3", "hsw", NULL, NULL),
        host_with("Intel Ice Lake Server", "icx", NULL, NULL),
    };
    struct cpuid_host *amd = host_with("AMD EPYC 7502 32-Core", "rome", NULL, NULL);
    struct cpuid_featureset expected, before;
    enum cpuid_vendor vendor;
    struct cpuid_cluster *c;

    ck_assert_int_eq(cpuid_cluster_baseline(h, 3, CPUID_HOST_POLICY_HVM_MAX, &expected, &vendor),
                     0);
    ck_assert_int_eq(cpuid_cluster_new("lab", &c), 0);
    for (unsigned int i = 0; i < 3; i++)
        ck_assert_msg(cpuid_cluster_join(c, h[i]) == 0, "%s", mig_error_last());
    ck_assert_mem_eq(cpuid_cluster_baseline_features(c), &expected, sizeof(expected));
    ck_assert_str_eq(highest("intel", cpuid_cluster_baseline_features(c)), "intel-haswell");
    ck_assert_uint_eq(cpuid_cluster_member_count(c), 3);

    /* another vendor: refused, nothing changed */
    before = *cpuid_cluster_baseline_features(c);
    ck_assert_int_eq(cpuid_cluster_join(c, amd), MIG_ECOMPAT);
    ck_assert_mem_eq(cpuid_cluster_baseline_features(c), &before, sizeof(before));
    ck_assert_uint_eq(cpuid_cluster_member_count(c), 3);
    cpuid_cluster_free(c);
    for (unsigned int i = 0; i < 3; i++)
        cpuid_host_free(h[i]);
    cpuid_host_free(amd);
}
END_TEST

/* Removing the weakest member keeps the baseline; relevel --auto raises it. */
START_TEST(test_remove_then_relevel_raises)
{
    struct cpuid_cluster *c;
    struct cpuid_featureset shared;

    ck_assert_int_eq(cpuid_cluster_new("lab", &c), 0);
    add(c, "Intel Xeon E5-2630 v3", "hsw");
    add(c, "Intel Xeon Gold 6148", "skx");
    add(c, "Intel Ice Lake Server", "icx");
    ck_assert_int_eq(cpuid_cluster_remove(c, "hsw"), 0);
    ck_assert_uint_eq(cpuid_cluster_member_count(c), 2);
    ck_assert_str_eq(cpuid_cluster_member_name(c, 0), "skx");
    ck_assert_str_eq(highest("intel", cpuid_cluster_baseline_features(c)), "intel-haswell");
    ck_assert_int_eq(cpuid_cluster_remove(c, "hsw"), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "no member 'hsw'"));
    ck_assert_int_eq(cpuid_cluster_members_share(c, &shared), 0);
    ck_assert_int_eq(cpuid_cluster_relevel_auto(c), 0);
    ck_assert_mem_eq(cpuid_cluster_baseline_features(c), &shared, sizeof(shared));
    ck_assert_str_eq(highest("intel", cpuid_cluster_baseline_features(c)), "intel-skylake-server");
    ck_assert_str_eq(highest("x86-64", cpuid_cluster_baseline_features(c)), "x86-64-v4");
    ck_assert_int_eq(cpuid_cluster_remove(c, "skx"), 0);
    ck_assert_int_eq(cpuid_cluster_remove(c, "icx"), 0);
    ck_assert_int_eq(cpuid_cluster_relevel_auto(c), MIG_EINVAL);
    cpuid_cluster_free(c);
}
END_TEST

/*
 * A Skylake-SP host dumped again after a microcode update took TSX away:
 * joining it replaces the member and lowers the baseline; a domain levelled
 * to the old cluster baseline is left behind (it needs rtm), one
 * levelled to x86-64-v3 is not, nor one the old baseline never covered.
 */
START_TEST(test_lowering_leaves_domains_behind)
{
    struct cpuid_host *notsx = host_with("Intel Xeon Gold 6148", "skx2", NULL, "rtm");
    struct cpuid_featureset before, after, lost, v3, zen2;
    struct cpuid_cluster *c;
    char *names;

    ck_assert_int_eq(cpuid_cluster_new("lab", &c), 0);
    add(c, "Intel Xeon Gold 6148", "skx1");
    add(c, "Intel Xeon Gold 6148", "skx2");
    ck_assert_int_eq(cpuid_cluster_pin_level(c, cpuid_level_set_find(levels, "x86-64-v2"), NULL),
                     0);
    ck_assert_int_eq(cpuid_cluster_relevel_auto(c), 0);
    ck_assert_ptr_null(cpuid_cluster_pinned_level(c));
    before = *cpuid_cluster_baseline_features(c);
    ck_assert(cpuid_featureset_test(&before, index_of("rtm")));
    ck_assert_int_eq(cpuid_cluster_join(c, notsx), 0);
    ck_assert_uint_eq(cpuid_cluster_member_count(c), 2);
    after = *cpuid_cluster_baseline_features(c);
    ck_assert(!cpuid_featureset_test(&after, index_of("rtm")));
    ck_assert(cpuid_featureset_test(&after, index_of("avx512f")));

    ck_assert(cpuid_baseline_leaves_behind(&before, &before, &after, &lost));
    ck_assert_int_eq(cpuid_featureset_format_names(&lost, CPUID_NAMES_XEN, " ", &names), 0);
    ck_assert_str_eq(names, "rtm");
    free(names);
    ck_assert_int_eq(cpuid_baseline_resolve("x86-64-v3", levels, NULL, "v3", &v3), 0);
    ck_assert(!cpuid_baseline_leaves_behind(&v3, &before, &after, NULL));
    ck_assert_int_eq(cpuid_baseline_resolve("amd-zen2", levels, NULL, "zen2", &zen2), 0);
    ck_assert(!cpuid_baseline_leaves_behind(&zen2, &before, &after, &lost));
    cpuid_cluster_free(c);
    cpuid_host_free(notsx);
}
END_TEST

START_TEST(test_file_carries_version_and_content_hash)
{
    struct cpuid_cluster *c;
    char hash[CPUID_CLUSTER_HASH_TEXT], *text;

    write_cluster_of("Intel Xeon Gold 6148", "skx1");
    ck_assert_int_eq(cpuid_cluster_read_file(path, &c), 0);
    ck_assert_uint_eq(cpuid_cluster_version(c), 1);
    ck_assert_int_eq(cpuid_cluster_content_hash(c, hash), 0);
    ck_assert_str_eq(cpuid_cluster_read_hash(c), hash);
    ck_assert_str_eq(cpuid_cluster_stated_hash(c), hash);
    ck_assert_int_eq((int)strlen(hash), 7 + 64);
    text = slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "\"version\": 1,"));
    ck_assert_ptr_nonnull(strstr(text, hash));
    free(text);

    /* a write makes the next version; the cluster can be written again */
    add(c, "Intel Xeon Gold 6148", "skx2");
    ck_assert_int_eq(cpuid_cluster_write_file(c, path), 0);
    add(c, "Intel Xeon Gold 6148", "skx3");
    ck_assert_msg(cpuid_cluster_write_file(c, path) == 0, "%s", mig_error_last());
    cpuid_cluster_free(c);
    ck_assert_int_eq(cpuid_cluster_read_file(path, &c), 0);
    ck_assert_uint_eq(cpuid_cluster_version(c), 3);
    ck_assert_uint_eq(cpuid_cluster_member_count(c), 3);
    cpuid_cluster_free(c);
}
END_TEST

/* Two admins read the same file, each adds a host: the second write is refused. */
START_TEST(test_concurrent_changes_are_not_lost)
{
    struct cpuid_cluster *a, *b;
    char before[CPUID_CLUSTER_HASH_TEXT], after[CPUID_CLUSTER_HASH_TEXT], expect[512];

    write_cluster_of("Intel Xeon Gold 6148", "skx1");
    ck_assert_int_eq(cpuid_cluster_read_file(path, &a), 0);
    ck_assert_int_eq(cpuid_cluster_read_file(path, &b), 0);
    snprintf(before, sizeof(before), "%s", cpuid_cluster_read_hash(a));
    add(a, "Intel Xeon Gold 6148", "by-a");
    add(b, "Intel Xeon Gold 6148", "by-b");
    ck_assert_int_eq(cpuid_cluster_write_file(a, path), 0);
    ck_assert_int_eq(cpuid_cluster_content_hash(a, after), 0);
    ck_assert_int_eq(cpuid_cluster_write_file(b, path), MIG_ECORRUPT);
    snprintf(expect, sizeof(expect), "%s changed underneath (hash %s, expected %s); run the "
             "command again", path, after, before);
    ck_assert_str_eq(mig_error_last(), expect);
    cpuid_cluster_free(b);

    /* run again: b's change lands beside a's */
    ck_assert_int_eq(cpuid_cluster_read_file(path, &b), 0);
    add(b, "Intel Xeon Gold 6148", "by-b");
    ck_assert_int_eq(cpuid_cluster_write_file(b, path), 0);
    cpuid_cluster_free(b);
    ck_assert_int_eq(cpuid_cluster_read_file(path, &b), 0);
    ck_assert_uint_eq(cpuid_cluster_member_count(b), 3);
    ck_assert_str_eq(cpuid_cluster_member_name(b, 1), "by-a");
    ck_assert_str_eq(cpuid_cluster_member_name(b, 2), "by-b");
    cpuid_cluster_free(a);
    cpuid_cluster_free(b);
}
END_TEST

/* A new cluster is written only where no file is; a removed file is a change too. */
START_TEST(test_new_cluster_and_removed_file)
{
    struct cpuid_cluster *fresh, *read;

    ck_assert_int_eq(cpuid_cluster_new("lab", &fresh), 0);
    write_cluster_of("Intel Xeon Gold 6148", "skx1");
    ck_assert_int_eq(cpuid_cluster_write_file(fresh, path), MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "expected none: it did not exist"));
    ck_assert_int_eq(cpuid_cluster_read_file(path, &read), 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(cpuid_cluster_write_file(read, path), MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "(hash none: it was removed, expected sha256:"));
    ck_assert_int_eq(access(path, F_OK), -1);
    cpuid_cluster_free(fresh);
    cpuid_cluster_free(read);
}
END_TEST

/* A writer waits for PATH.lock: while another holds it, nothing is written. */
START_TEST(test_writer_honours_the_lock)
{
    struct cpuid_cluster *c;
    char lock[160], *before, *after;
    int fd;

    write_cluster_of("Intel Xeon Gold 6148", "skx1");
    snprintf(lock, sizeof(lock), "%s.lock", path);
    fd = open(lock, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    ck_assert_int_eq(cpuid_cluster_read_file(path, &c), 0);
    add(c, "Intel Xeon Gold 6148", "skx2");
    before = slurp(path);
    ck_assert_int_eq(cpuid_cluster_write_file_within(c, path, 50), MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "has been held by another writer for 50 ms"));
    after = slurp(path);
    ck_assert_str_eq(before, after);
    close(fd);
    ck_assert_msg(cpuid_cluster_write_file_within(c, path, 50) == 0, "%s", mig_error_last());
    free(before);
    free(after);
    cpuid_cluster_free(c);
}
END_TEST

/* A file from before versions reads (version 0, no stated hash) and is written as version 1. */
START_TEST(test_old_file_without_version_or_hash)
{
    static const char old[] =
        "{ \"schema_version\": 1, \"name\": \"old\", \"vendor\": \"intel\", \"baseline\": "
        "\"1:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0\", \"pinned_level\": null, \"members\": [] }\n";
    struct cpuid_cluster *c;
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(old, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(cpuid_cluster_read_file(path, &c), 0);
    ck_assert_uint_eq(cpuid_cluster_version(c), 0);
    ck_assert_ptr_null(cpuid_cluster_stated_hash(c));
    ck_assert_int_eq(cpuid_cluster_write_file(c, path), 0);
    cpuid_cluster_free(c);
    ck_assert_int_eq(cpuid_cluster_read_file(path, &c), 0);
    ck_assert_uint_eq(cpuid_cluster_version(c), 1);
    ck_assert_str_eq(cpuid_cluster_stated_hash(c), cpuid_cluster_read_hash(c));
    cpuid_cluster_free(c);
}
END_TEST

/* An edit by hand shows as a stated hash that is not the content's. */
START_TEST(test_hand_edit_shows_in_the_hash)
{
    struct cpuid_cluster *c;
    char *text, *at;
    FILE *f;

    write_cluster_of("Intel Xeon Gold 6148", "skx1");
    text = slurp(path);
    at = strstr(text, "\"skx1\"");
    ck_assert_ptr_nonnull(at);
    at[4] = '9';                                /* skx1 -> skx9 */
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(cpuid_cluster_read_file(path, &c), 0);
    ck_assert_str_ne(cpuid_cluster_stated_hash(c), cpuid_cluster_read_hash(c));
    free(text);
    cpuid_cluster_free(c);
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
    tcase_add_test(tc, test_join_makes_the_intersection);
    tcase_add_test(tc, test_remove_then_relevel_raises);
    tcase_add_test(tc, test_lowering_leaves_domains_behind);
    tcase_add_test(tc, test_file_carries_version_and_content_hash);
    tcase_add_test(tc, test_concurrent_changes_are_not_lost);
    tcase_add_test(tc, test_new_cluster_and_removed_file);
    tcase_add_test(tc, test_writer_honours_the_lock);
    tcase_add_test(tc, test_old_file_without_version_or_hash);
    tcase_add_test(tc, test_hand_edit_shows_in_the_hash);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
