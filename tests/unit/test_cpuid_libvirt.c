/*
 * test_cpuid_libvirt.c: libvirt's CPU models as levels (libvirt_map.c,
 * libvirt_data.c, libvirt_models.c) on small maps and data written here:
 * index.xml with a <group> and another arch, inheritance, removed='yes',
 * an installed model the shipped order lacks, an alias, a vendor xenmig
 * does not level, an ancestor defined nowhere, a feature without a Xen
 * equivalent, one Xen offers no guest, one the table lacks and one Xen's
 * dependencies drop; then the errors, each quoting its file; libxml2
 * loaded only when a map is read, a library that does not load refused;
 * and the shipped data of the source tree.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"
#include "test_cpuid_helpers.h"

static char map_dir[64], data_dir[64];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char features_map[] =
    "# test table: NAME LEAF REG BIT XEN\n"
    "fpu 0x00000001 edx 0 fpu\nsse 0x00000001 edx 25 sse\nsse2 0x00000001 edx 26 sse2\n"
    "mmx 0x00000001 edx 23 mmx\nfxsr 0x00000001 edx 24 fxsr\npae 0x00000001 edx 6 pae\n"
    "cmov 0x00000001 edx 15 cmov\ncx8 0x00000001 edx 8 cx8\nlm 0x80000001 edx 29 lm\n"
    "syscall 0x80000001 edx 11 syscall\narat 0x00000006 eax 2 -\n"
    "avx 0x00000001 ecx 28 avx\nmpx 0x00000007:0 ebx 14 mpx\n"
    "topoext 0x80000001 ecx 22 topoext\n";

static const char shipped_models[] =
    "order: A B New Zhao Orphan\n"
    "model: New\nfile: x86_New.xml 0123456789abcdef\nvendor: AMD\nfeatures: fpu topoext\n"
    "model: Zhao\nfile: x86_Zhao.xml 0123456789abcdef\nvendor: Zhaoxin CentaurHauls\n"
    "features: fpu\n"
    "model: Orphan\nfile: x86_Orphan.xml 0123456789abcdef\ninherits: Missing\n"
    "model: A\nfile: x86_A.xml 0123456789abcdef\nvendor: AMD\nfeatures: fpu\n";

static const char index_xml[] =
    "<cpus>\n  <arch name='ppc64'><include filename='absent.xml'/></arch>\n"
    "  <arch name='x86'>\n    <include filename='x86_vendors.xml'/>\n"
    "    <group name='g'><include filename='x86_A.xml'/></group>\n"
    "    <include filename='x86_Local.xml'/>\n    <include filename='x86_B.xml'/>\n"
    "  </arch>\n</cpus>\n";

static void setup(void)
{
    cpuid_test_use_source_data();
    snprintf(map_dir, sizeof(map_dir), "/tmp/xenmig-lvmap-XXXXXX");
    snprintf(data_dir, sizeof(data_dir), "/tmp/xenmig-lvdata-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(map_dir));
    ck_assert_ptr_nonnull(mkdtemp(data_dir));
    write_file(map_dir, "index.xml", index_xml);
    write_file(map_dir, "x86_vendors.xml", "<cpus><vendor name='Intel' string='GenuineIntel'/>"
               "</cpus>\n");
    write_file(map_dir, "x86_A.xml", "<cpus>\n<model name='A'>\n<decode host='on'/>\n"
               "<vendor name='Intel'/>\n<feature name='fpu'/><feature name='sse'/>"
               "<feature name='sse2'/><feature name='mmx'/><feature name='fxsr'/>"
               "<feature name='pae'/><feature name='cmov'/><feature name='cx8'/>"
               "<feature name='lm'/><feature name='syscall'/><feature name='arat'/>"
               "<feature name='mpx' removed='yes'/>\n</model>\n</cpus>\n");
    write_file(map_dir, "x86_Local.xml", "<cpus><model name='Local'><model name='A'/>"
               "<feature name='avx' added='yes'/><feature name='frob'/></model></cpus>\n");
    write_file(map_dir, "x86_B.xml", "<cpus><model name='B'><model name='A'/></model></cpus>\n");
    write_file(data_dir, "x86-features.map", features_map);
    write_file(data_dir, "x86-models.txt", shipped_models);
    setenv("XENMIG_LIBVIRT_CPU_MAP", map_dir, 1);
    setenv("XENMIG_LIBVIRT_DATA_DIR", data_dir, 1);
}

static void remove_all(const char *dir)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void)
{
    remove_all(map_dir);
    remove_all(data_dir);
    unsetenv("XENMIG_LIBVIRT_CPU_MAP");
    unsetenv("XENMIG_LIBVIRT_DATA_DIR");
}

/* Whether the word list (" a b") has word. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = list ? strchr(list, ' ') : NULL; p; p = strchr(p + 1, ' '))
        if (!strncmp(p + 1, word, n) && (p[1 + n] == ' ' || !p[1 + n]))
            return true;
    return false;
}

static const struct cpuid_level *level(const struct cpuid_level_set *set, const char *name)
{
    const struct cpuid_level *l = cpuid_level_set_find(set, name);

    ck_assert_msg(l != NULL, "level %s missing", name);
    return l;
}

static unsigned int index_of(const char *name)
{
    const struct cpuid_feature_info *f = cpuid_feature_lookup(name, strlen(name), NULL);

    ck_assert_ptr_nonnull(f);
    return f->word * 32 + f->bit;
}

START_TEST(test_models_merged_in_libvirt_order)
{
    struct cpuid_level_set *set = NULL;
    const struct cpuid_level *a, *local, *b, *new;

    ck_assert_int_eq(cpuid_level_set_load(NULL, &set), 0);
    a = level(set, "libvirt:A");
    local = level(set, "libvirt:Local");
    b = level(set, "libvirt:B");
    new = level(set, "libvirt:New");
    /* The installed A wins over the shipped A; Local, which the shipped order
     * lacks, follows A, the installed model before it. */
    ck_assert_ptr_nonnull(strstr(a->source, "installed: "));
    ck_assert_ptr_nonnull(strstr(a->source, "/x86_A.xml"));
    ck_assert_uint_eq(a->rank, 1);
    ck_assert_uint_eq(local->rank, 2);
    ck_assert_uint_eq(b->rank, 3);
    ck_assert_uint_eq(new->rank, 4);
    ck_assert_str_eq(a->family, "libvirt");
    ck_assert_int_eq(a->vendor, CPUID_VENDOR_INTEL);
    ck_assert_int_eq(local->vendor, CPUID_VENDOR_INTEL);
    ck_assert_int_eq(new->vendor, CPUID_VENDOR_AMD);
    ck_assert_ptr_nonnull(strstr(new->source, "shipped: libvirt src/cpu_map/x86_New.xml "
                                 "0123456789abcdef"));
    cpuid_level_set_free(set);
}
END_TEST

START_TEST(test_features_sorted_by_what_xen_has)
{
    struct cpuid_level_set *set = NULL;
    const struct cpuid_level *a, *local, *new;

    ck_assert_int_eq(cpuid_level_set_load(NULL, &set), 0);
    a = level(set, "libvirt:A");
    local = level(set, "libvirt:Local");
    new = level(set, "libvirt:New");
    /* A: ten Xen features; arat has no Xen equivalent; mpx is removed='yes'. */
    ck_assert_uint_eq(cpuid_featureset_count(&a->features), 10);
    ck_assert(cpuid_featureset_test(&a->features, index_of("sse2")));
    ck_assert(!cpuid_featureset_test(&a->features, index_of("mpx")));
    ck_assert_str_eq(a->no_xen_features, " arat");
    ck_assert_str_eq(a->unmapped_features, "");
    /* Local inherits A; avx needs xsave in Xen, so it is dropped, said so; the
     * table does not list frob. */
    ck_assert_mem_eq(&local->features, &a->features, sizeof(a->features));
    ck_assert_str_eq(local->dropped_features, " avx:xsave");
    ck_assert_str_eq(local->unmapped_features, " frob");
    ck_assert(has_word(local->no_xen_features, "arat"));
    /* New: Xen 4.17 offers no guest topoext. */
    ck_assert_str_eq(new->no_guest_features, " topoext");
    ck_assert(!cpuid_featureset_test(&new->features, index_of("topoext")));
    cpuid_level_set_free(set);
}
END_TEST

START_TEST(test_aliases_and_skipped_models)
{
    struct cpuid_level_set *set = NULL;
    const struct cpuid_level *a, *b;
    bool zhao = false, orphan = false;

    ck_assert_int_eq(cpuid_level_set_load(NULL, &set), 0);
    a = level(set, "libvirt:A");
    b = level(set, "libvirt:B");
    ck_assert_str_eq(b->alias_of, "libvirt:A");
    ck_assert_ptr_null(a->alias_of);
    ck_assert_mem_eq(&b->features, &a->features, sizeof(a->features));
    /* The highest: Local (rank 2) has A's Xen features; B, an alias, is passed over. */
    ck_assert_str_eq(cpuid_level_set_highest(set, "libvirt", CPUID_VENDOR_INTEL,
                                             &a->features)->name, "libvirt:Local");
    ck_assert_ptr_null(cpuid_level_set_highest(set, "libvirt", CPUID_VENDOR_HYGON,
                                               &a->features));
    ck_assert_uint_eq(cpuid_level_set_skipped_count(set), 2);
    for (unsigned int i = 0; i < cpuid_level_set_skipped_count(set); i++) {
        const char *s = cpuid_level_set_skipped(set, i);

        zhao |= strstr(s, "libvirt:Zhao: vendor 'Zhaoxin CentaurHauls'") == s;
        orphan |= strstr(s, "libvirt:Orphan: inherits 'Missing'") == s;
    }
    ck_assert(zhao && orphan);
    ck_assert_ptr_null(cpuid_level_set_find(set, "libvirt:Zhao"));
    cpuid_level_set_free(set);
}
END_TEST

START_TEST(test_models_never_widen_the_universe)
{
    struct cpuid_level_set *with = NULL, *without = NULL;
    struct cpuid_featureset u1, u2;

    ck_assert_int_eq(cpuid_level_set_load(NULL, &with), 0);
    setenv("XENMIG_LIBVIRT_DATA_DIR", "none", 1);
    ck_assert_int_eq(cpuid_level_set_load(NULL, &without), 0);
    ck_assert_ptr_null(cpuid_level_set_find(without, "libvirt:A"));
    ck_assert_uint_eq(cpuid_level_set_count(with), cpuid_level_set_count(without) + 4);
    cpuid_level_set_universe(with, &u1);
    cpuid_level_set_universe(without, &u2);
    ck_assert_mem_eq(&u1, &u2, sizeof(u1));
    cpuid_level_set_free(with);
    cpuid_level_set_free(without);
}
END_TEST

/* Load, expect `code`, and every one of the texts in the message. */
static void load_fails(int code, const char *text1, const char *text2)
{
    struct cpuid_level_set *set = NULL;

    ck_assert_int_eq(cpuid_level_set_load(NULL, &set), code);
    ck_assert_ptr_null(set);
    ck_assert_msg(strstr(mig_error_last(), text1), "'%s' not in: %s", text1, mig_error_last());
    ck_assert_msg(!text2 || strstr(mig_error_last(), text2), "'%s' not in: %s", text2,
                  mig_error_last());
}

START_TEST(test_broken_installed_map_is_quoted)
{
    write_file(map_dir, "x86_B.xml", "<cpus>\n<model name='B'>\n<feature name='fpu'\n</cpus>\n");
    load_fails(MIG_EFORMAT, "/x86_B.xml:", "not well-formed XML (libxml2: ");
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "set XENMIG_LIBVIRT_CPU_MAP=none to leave "
                                 "it out"));
    ck_assert_ptr_null(strchr(mig_error_last(), '\n'));
    write_file(map_dir, "x86_B.xml", "<cpus><model name='B'><feature/></model></cpus>\n");
    load_fails(MIG_EFORMAT, "/x86_B.xml:1: a <feature> of model 'B' has no name", NULL);
    write_file(map_dir, "index.xml", "<cpus><arch name='x86'><include filename='../x86_A.xml'/>"
               "</arch></cpus>\n");
    load_fails(MIG_EFORMAT, "index.xml:1: include '../x86_A.xml' is not a file name", NULL);
    write_file(map_dir, "index.xml", "<cpus><arch name='arm'/></cpus>\n");
    load_fails(MIG_EFORMAT, "/index.xml: no <arch name='x86'>", NULL);
    {
        char index[128];

        snprintf(index, sizeof(index), "%s/index.xml", map_dir);
        ck_assert_int_eq(unlink(index), 0);
    }
    load_fails(MIG_EIO, "/index.xml", "set XENMIG_LIBVIRT_CPU_MAP=none");
    setenv("XENMIG_LIBVIRT_CPU_MAP", "none", 1);
    {
        struct cpuid_level_set *set = NULL;

        ck_assert_int_eq(cpuid_level_set_load(NULL, &set), 0);
        ck_assert_ptr_null(cpuid_level_set_find(set, "libvirt:Local"));
        ck_assert_ptr_nonnull(cpuid_level_set_find(set, "libvirt:A"));  /* the shipped A */
        cpuid_level_set_free(set);
    }
}
END_TEST

/* libxml2 is opened when a map is read: one that does not load, or lacks its calls, is refused. */
START_TEST(test_map_needs_libxml2_when_read)
{
    struct cpuid_libvirt_defs defs = { 0 };

    ck_assert_int_eq(cpuid_libvirt_map_read_with("libxenmig-absent.so.0", map_dir, &defs),
                     MIG_EPLATFORM);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "reading libvirt's CPU map needs libxml2, "
                                 "which did not load (libxenmig-absent.so.0: "));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "set XENMIG_LIBVIRT_CPU_MAP=none"));
    ck_assert_uint_eq(defs.count, 0);
    ck_assert_int_eq(cpuid_libvirt_map_read_with("libm.so.6", map_dir, &defs), MIG_EPLATFORM);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "libm.so.6 lacks a libxml2 entry point"));
    ck_assert_uint_eq(defs.count, 0);
    ck_assert_int_eq(cpuid_libvirt_map_read(map_dir, &defs), 0);
    ck_assert_uint_eq(defs.count, 3);
    ck_assert_str_eq(defs.defs[0].name, "A");
    ck_assert_str_eq(defs.defs[1].name, "Local");
    ck_assert_str_eq(defs.defs[1].ancestor, "A");
    ck_assert_str_eq(defs.defs[2].name, "B");
    cpuid_libvirt_defs_clear(&defs);
}
END_TEST

START_TEST(test_bad_shipped_data_is_refused)
{
    static const struct { const char *file, *text, *error; } cases[] = {
        { "x86-models.txt", "order: A\nmodel: A\nvendor: Intel\nfeatures: fpu\n",
          "x86-models.txt: model 'A' has no 'file:' line" },
        { "x86-models.txt", "order: A\nmodel: A\nfile: x 1\nflavour: mint\n",
          "x86-models.txt:4: unknown key \"flavour\"" },
        { "x86-models.txt", "order: A\nmodel: Q\nfile: x 1\n",
          "model 'Q' is not in the 'order:' lines" },
        { "x86-features.map", "fpu 0x00000001 edx 0 fpu\nsse 1 edx 25 sse4-7\n",
          "x86-features.map:2: 'sse4-7' is not a Xen 4.17 feature name" },
        { "x86-features.map", "fpu 0x00000001 edx fpu\n",
          "x86-features.map:1: \"fpu 0x00000001 edx fpu\" is not" },
        { "x86-features.map", "fpu 1 edx 0 fpu\nfpu 1 edx 0 fpu\n",
          "feature 'fpu' listed twice" },
    };

    for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(data_dir, "x86-models.txt", shipped_models);
        write_file(data_dir, "x86-features.map", features_map);
        write_file(data_dir, cases[i].file, cases[i].text);
        load_fails(MIG_EFORMAT, cases[i].error, NULL);
    }
}
END_TEST

/* The source tree's shipped data, with the installed map if there is one. */
START_TEST(test_shipped_data_of_the_tree)
{
    struct cpuid_level_set *set = NULL;
    const char *map = "/usr/share/libvirt/cpu_map/index.xml";
    const struct cpuid_level *spr;

    cpuid_test_use_source_data();
    unsetenv("XENMIG_LIBVIRT_CPU_MAP");
    ck_assert_int_eq(cpuid_level_set_load(NULL, &set), 0);
    spr = level(set, "libvirt:SapphireRapids");
    ck_assert_int_eq(spr->vendor, CPUID_VENDOR_INTEL);
    ck_assert(cpuid_featureset_test(&spr->features, index_of("avx512-bf16")));
    ck_assert(has_word(spr->no_xen_features, "amx-tile"));
    ck_assert(has_word(spr->no_xen_features, "vmx-ept"));
    ck_assert(has_word(spr->no_guest_features, "avx512-fp16"));
    ck_assert_str_eq(spr->unmapped_features, "");
    level(set, "libvirt:GraniteRapids");
    level(set, "libvirt:SierraForest");
    level(set, "libvirt:ClearwaterForest");
    ck_assert_int_eq(level(set, "libvirt:EPYC-Genoa")->vendor, CPUID_VENDOR_AMD);
    level(set, "libvirt:EPYC-Turin");
    if (access(map, R_OK) == 0) {
        ck_assert_str_eq(level(set, "libvirt:Haswell-v4")->alias_of,
                         "libvirt:Haswell-noTSX-IBRS");
        ck_assert_uint_lt(level(set, "libvirt:Haswell-noTSX")->rank, spr->rank);
    }
    cpuid_level_set_free(set);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("libvirt");
    TCase *tc = tcase_create("models");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_models_merged_in_libvirt_order);
    tcase_add_test(tc, test_features_sorted_by_what_xen_has);
    tcase_add_test(tc, test_aliases_and_skipped_models);
    tcase_add_test(tc, test_models_never_widen_the_universe);
    tcase_add_test(tc, test_broken_installed_map_is_quoted);
    tcase_add_test(tc, test_map_needs_libxml2_when_read);
    tcase_add_test(tc, test_bad_shipped_data_is_refused);
    tcase_add_test(tc, test_shipped_data_of_the_tree);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
