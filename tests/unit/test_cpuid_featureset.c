/*
 * test_cpuid_featureset.c: the featureset model: the feature table, the
 * three text syntaxes, Xen's dependency closure, raw leaves (a real Xen
 * host policy from the lab) and their error messages.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"
#include "mig_error.h"

static unsigned int index_of(const char *name)
{
    bool ambiguous;
    const struct cpuid_feature_info *f = cpuid_feature_lookup(name, strlen(name), &ambiguous);

    ck_assert_msg(f != NULL, "feature '%s' should exist", name);
    return f->word * 32 + f->bit;
}

/* Every Xen-defined bit set. */
static struct cpuid_featureset all_xen_features(void)
{
    struct cpuid_featureset fs = { { 0 } };

    for (unsigned int i = 0; i < cpuid_features_count; i++)
        if (cpuid_features[i].xen_defined)
            cpuid_featureset_set(&fs, cpuid_features[i].word * 32 + cpuid_features[i].bit);
    return fs;
}

START_TEST(test_every_name_looks_itself_up)
{
    unsigned int defined = 0;

    for (unsigned int i = 0; i < cpuid_features_count; i++) {
        const struct cpuid_feature_info *f = &cpuid_features[i], *g;
        bool ambiguous;

        ck_assert_uint_lt(f->word, CPUID_FEATURESET_WORDS);
        ck_assert_uint_lt(f->bit, 32);
        if (!f->xen_defined)
            continue;
        defined++;
        g = cpuid_feature_lookup(f->name, strlen(f->name), &ambiguous);
        ck_assert_ptr_eq(g, f);
        ck_assert_ptr_eq(cpuid_feature_by_index(f->word * 32 + f->bit), f);
    }
    /* Xen 4.17's cpufeatureset.h defines far more than 200 features. */
    ck_assert_uint_gt(defined, 200);
}
END_TEST

START_TEST(test_spellings_agree)
{
    unsigned int want = index_of("sse4-2");

    ck_assert_uint_eq(index_of("sse4_2"), want);
    ck_assert_uint_eq(index_of("SSE4_2"), want);
    ck_assert_uint_eq(index_of("sse4.2"), want);
    ck_assert_uint_eq(index_of("sse42"), want);       /* xen-cpuid's spelling */
    ck_assert_uint_eq(index_of("aes"), index_of("aesni"));  /* libxl's legacy alias */
    ck_assert_uint_eq(want, 1 * 32 + 20);              /* CPUID.1:ECX[20] */
}
END_TEST

START_TEST(test_hex_round_trip_and_word_count)
{
    const char *text = "178bfbff:f6f83203:2fd3fbff:00000000:0000000f:209c01a9:00000000:"
                       "00006799:00000007:00000000:00000000:00000000:00000000:00000000:"
                       "00000000:00000000:00000000:00000000:00000000";
    struct cpuid_featureset fs;
    char hex[CPUID_FEATURESET_HEX_LEN];

    ck_assert_int_eq(cpuid_featureset_parse_hex(text, 0, &fs), 0);
    cpuid_featureset_format_hex(&fs, hex);
    ck_assert_str_eq(hex, text);

    ck_assert_int_eq(cpuid_featureset_parse_hex("178bfbff:f6f83203", 0, &fs), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "\"178bfbff:f6f83203\" has 2 words"));
    ck_assert_int_eq(cpuid_featureset_parse_hex("178bfbff:f6f83203", CPUID_PARSE_ALLOW_SHORT,
                                                &fs), 0);
    ck_assert_uint_eq(fs.words[1], 0xf6f83203u);
    ck_assert_uint_eq(fs.words[2], 0);

    ck_assert_int_eq(cpuid_featureset_parse_hex("1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:"
                                                "18:19:20", 0, &fs), MIG_ELIMIT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "more than 19 words"));
    ck_assert_int_eq(cpuid_featureset_parse_hex("12:zz", CPUID_PARSE_ALLOW_SHORT, &fs),
                     MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "word 1 of \"12:zz\""));
    ck_assert_int_eq(cpuid_featureset_parse_hex("123456789", CPUID_PARSE_ALLOW_SHORT, &fs),
                     MIG_EINVAL);
    ck_assert_int_eq(cpuid_featureset_parse_hex("", CPUID_PARSE_ALLOW_SHORT, &fs), MIG_EINVAL);
}
END_TEST

START_TEST(test_unknown_and_ambiguous_names_are_quoted)
{
    struct cpuid_featureset fs;

    ck_assert_int_eq(cpuid_featureset_parse_names("sse4_2,avx513f", &fs), MIG_EINVAL);
    ck_assert_str_eq(mig_error_last(), "unknown feature 'avx513f' in \"sse4_2,avx513f\": run "
                     "'xl-ext cpuid-policy features' to list names");
    /* xen-cpuid prints "ppin" for both AMD's and Intel's PPIN bit. */
    ck_assert_int_eq(cpuid_featureset_parse_names("ppin", &fs), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "amd-ppin"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "intel-ppin"));
    ck_assert_int_eq(cpuid_featureset_parse_names("amd-ppin intel-ppin", &fs), 0);
    ck_assert_uint_eq(cpuid_featureset_count(&fs), 2);
}
END_TEST

START_TEST(test_names_must_be_closed)
{
    struct cpuid_featureset fs;

    ck_assert_int_eq(cpuid_featureset_parse_names("avx2", &fs), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "'avx2'"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "needs 'avx'"));
    ck_assert_int_eq(cpuid_featureset_parse_names(
        "fpu fxsr sse sse2 xsave avx avx2 w9b5", &fs), 0);
    ck_assert(cpuid_featureset_test(&fs, 9 * 32 + 5));
    ck_assert(cpuid_featureset_test(&fs, index_of("avx2")));
}
END_TEST

/* Every direct dependency of the table: clearing the prerequisite clears it. */
START_TEST(test_every_dependency_is_enforced)
{
    ck_assert_uint_gt(cpuid_feature_dependencies_count, 50);
    for (unsigned int i = 0; i < cpuid_feature_dependencies_count; i++) {
        struct cpuid_featureset fs = all_xen_features();
        unsigned int pre = cpuid_feature_dependencies[i].prerequisite;
        unsigned int dep = cpuid_feature_dependencies[i].dependent;

        ck_assert(cpuid_featureset_test(&fs, dep));
        cpuid_featureset_disable(&fs, pre);
        ck_assert_msg(!cpuid_featureset_test(&fs, dep), "clearing %s left %s",
                      cpuid_feature_by_index(pre)->name, cpuid_feature_by_index(dep)->name);
    }
}
END_TEST

START_TEST(test_disabling_avx_follows_xen)
{
    struct cpuid_featureset fs = all_xen_features();
    static const char *const gone[] = {
        "avx", "avx2", "fma", "fma4", "f16c", "xop", "avx512f", "avx512bw", "avx512-vbmi",
        "vaes", "vpclmulqdq", "avx-vnni", "avx512-fp16",
    };
    static const char *const kept[] = { "xsave", "sse4-2", "aesni", "pclmulqdq", "bmi1" };

    cpuid_featureset_disable(&fs, index_of("avx"));
    for (unsigned int i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        ck_assert_msg(!cpuid_featureset_test(&fs, index_of(gone[i])), "%s kept", gone[i]);
    for (unsigned int i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        ck_assert_msg(cpuid_featureset_test(&fs, index_of(kept[i])), "%s lost", kept[i]);
    ck_assert_uint_eq(cpuid_featureset_close(&fs), 0);
}
END_TEST

START_TEST(test_libxl_strings)
{
    struct cpuid_featureset host = all_xen_features(), fs;

    ck_assert_int_eq(cpuid_featureset_parse_libxl("host,avx512f=0,sse4_2=1", &host, &fs), 0);
    ck_assert(!cpuid_featureset_test(&fs, index_of("avx512f")));
    ck_assert(!cpuid_featureset_test(&fs, index_of("avx512-vnni")));
    ck_assert(cpuid_featureset_test(&fs, index_of("avx2")));
    ck_assert_uint_eq(cpuid_featureset_close(&fs), 0);

    /* Set without its prerequisite: closed away, as Xen would. */
    ck_assert_int_eq(cpuid_featureset_parse_libxl("avx2=1", NULL, &fs), 0);
    ck_assert(cpuid_featureset_is_empty(&fs));

    ck_assert_int_eq(cpuid_featureset_parse_libxl("host,avx=0", NULL, &fs), MIG_EMISSING);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "no host featureset was given"));
    ck_assert_int_eq(cpuid_featureset_parse_libxl("host,avx2=x", &host, &fs), MIG_EUNSUPP);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "'avx2=x'"));
    ck_assert_int_eq(cpuid_featureset_parse_libxl("host,0x00000001:ecx=xxxx", &host, &fs),
                     MIG_EUNSUPP);
    ck_assert_int_eq(cpuid_featureset_parse_libxl("host,avx512g=0", &host, &fs), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "unknown feature 'avx512g'"));
    ck_assert_int_eq(cpuid_featureset_parse_libxl("host,,avx=0", &host, &fs), MIG_EINVAL);
    ck_assert_int_eq(cpuid_featureset_parse_libxl("avx=0,host", &host, &fs), MIG_EINVAL);
}
END_TEST

START_TEST(test_names_round_trip_with_non_xen_bits)
{
    struct cpuid_featureset fs, back;
    char *names;

    /* An AMD e1d word repeats word 0's bits; Xen does not define those. */
    ck_assert_int_eq(cpuid_featureset_parse_hex("178bfbff:f6d8320b:2fd3fbff",
                                                CPUID_PARSE_ALLOW_SHORT, &fs), 0);
    ck_assert_int_eq(cpuid_featureset_format_names(&fs, CPUID_NAMES_XEN, ",", &names), 0);
    ck_assert_ptr_nonnull(strstr(names, "w2b0"));
    ck_assert_int_eq(cpuid_featureset_parse_names(names, &back), 0);
    ck_assert_mem_eq(&back, &fs, sizeof(fs));
    free(names);
}
END_TEST

/* Leaves of one policy of the lab's `xen-cpuid -p` output. */
static size_t read_lab_policy(const char *title, struct cpuid_leaf_value *leaves, size_t max)
{
    char path[4096], line[256];
    const char *src = getenv("XENMIG_SRCDIR");
    bool in = false;
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/cpuid/data/lab-run5-xen-cpuid-p.txt",
             src ? src : "..");
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (fgets(line, sizeof(line), f)) {
        struct cpuid_leaf_value v;
        unsigned int sub;

        if (strstr(line, " policy:"))
            in = strstr(line, title) != NULL;
        if (in && n < max && sscanf(line, "[ %*f ] %x:%x -> %x:%x:%x:%x", &v.leaf, &sub,
                                    &v.eax, &v.ebx, &v.ecx, &v.edx) == 6) {
            v.subleaf = sub == 0xffffffffu ? 0 : sub;
            leaves[n++] = v;
        }
    }
    fclose(f);
    return n;
}

START_TEST(test_lab_xen_host_policy)
{
    struct cpuid_leaf_value leaves[64];
    struct cpuid_featureset host, pv_max;
    size_t n;

    n = read_lab_policy("Host policy", leaves, 64);
    ck_assert_uint_ge(n, 10);
    cpuid_featureset_from_leaves(leaves, n, 0, &host);
    n = read_lab_policy("PV Max policy", leaves, 64);
    ck_assert_uint_ge(n, 10);
    cpuid_featureset_from_leaves(leaves, n, 0, &pv_max);

    /* QEMU's qemu64,+npt: SSE3 and CX16 but no SSSE3; AMD SVM on the host. */
    ck_assert(cpuid_featureset_test(&host, index_of("sse3")));
    ck_assert(cpuid_featureset_test(&host, index_of("cx16")));
    ck_assert(!cpuid_featureset_test(&host, index_of("ssse3")));
    ck_assert(cpuid_featureset_test(&host, index_of("svm")));
    /* Xen never offers SVM to PV guests, and marks them as virtualised. */
    ck_assert(!cpuid_featureset_test(&pv_max, index_of("svm")));
    ck_assert(cpuid_featureset_test(&pv_max, index_of("hypervisor")));
    ck_assert(cpuid_featureset_test(&pv_max, index_of("lm")));
}
END_TEST

START_TEST(test_signature_and_vendor)
{
    unsigned int family, model, stepping;

    cpuid_signature_decode(0x00050654, &family, &model, &stepping); /* Xeon Gold 6148 */
    ck_assert_uint_eq(family, 6);
    ck_assert_uint_eq(model, 0x55);
    ck_assert_uint_eq(stepping, 4);
    cpuid_signature_decode(0x00830f10, &family, &model, &stepping); /* EPYC 7502 */
    ck_assert_uint_eq(family, 0x17);
    ck_assert_uint_eq(model, 0x31);
    ck_assert_int_eq(cpuid_vendor_from_leaf0(0x68747541, 0x444d4163, 0x69746e65),
                     CPUID_VENDOR_AMD);
    ck_assert_int_eq(cpuid_vendor_from_leaf0(0x756e6547, 0x6c65746e, 0x49656e69),
                     CPUID_VENDOR_INTEL);
    ck_assert_int_eq(cpuid_vendor_parse("via"), CPUID_VENDOR_UNKNOWN);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpuid-featureset");
    TCase *tc = tcase_create("featureset");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_every_name_looks_itself_up);
    tcase_add_test(tc, test_spellings_agree);
    tcase_add_test(tc, test_hex_round_trip_and_word_count);
    tcase_add_test(tc, test_unknown_and_ambiguous_names_are_quoted);
    tcase_add_test(tc, test_names_must_be_closed);
    tcase_add_test(tc, test_every_dependency_is_enforced);
    tcase_add_test(tc, test_disabling_avx_follows_xen);
    tcase_add_test(tc, test_libxl_strings);
    tcase_add_test(tc, test_names_round_trip_with_non_xen_bits);
    tcase_add_test(tc, test_lab_xen_host_policy);
    tcase_add_test(tc, test_signature_and_vendor);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
