/*
 * test_gpu_level.c: the GPU level table, gpu_baseline parsing, the
 * host >= requirement check and cluster intersection (cpuid_policy.h, "GPU levels").
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "test_gpu_helpers.h"

static cpuid_gpu_level_table *levels;

static void setup(void)
{
    levels = test_shipped_levels();
}

static void teardown(void)
{
    cpuid_gpu_level_table_free(levels);
    levels = NULL;
}

/* The table from a string, or NULL with the error kept for the caller. */
static int parse_levels(const char *text, cpuid_gpu_level_table **table)
{
    return cpuid_gpu_level_table_parse(text, strlen(text), "t.levels", table);
}

START_TEST(test_shipped_order_is_the_issue_order)
{
    struct cpuid_gpu_requirement a, b, c;

    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "d3d10.0-gl3.3", &a), 0);
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "d3d10.1-gl3.3", &b), 0);
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "d3d11.0-gl4.1", &c), 0);
    ck_assert_int_lt(a.graphics_level, b.graphics_level);
    ck_assert_int_lt(b.graphics_level, c.graphics_level);
    ck_assert_int_eq(a.compute_major, -1);
    ck_assert_ptr_nonnull(strstr(cpuid_gpu_level_table_names(levels), "none, d3d10.0-gl3.3, d3d10.1-gl3.3, d3d11.0-gl4.1"));
    /* compute levels are listed sorted by capability, 9.0 before 10.0 */
    ck_assert_ptr_nonnull(strstr(cpuid_gpu_level_table_names(levels), "cuda-9.0, cuda-10.0"));
}
END_TEST

START_TEST(test_requirement_forms)
{
    struct cpuid_gpu_requirement req;
    char text[CPUID_GPU_BASELINE_TEXT_MAX];

    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "cuda-8.0, d3d11.0-gl4.1", &req), 0);
    ck_assert_str_eq(req.graphics_name, "d3d11.0-gl4.1");
    ck_assert_int_eq(req.compute_major, 8);
    ck_assert_int_eq(req.compute_minor, 0);
    cpuid_gpu_requirement_format(&req, text, sizeof(text));
    ck_assert_str_eq(text, "d3d11.0-gl4.1,cuda-8.0");

    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "none", &req), 0);
    ck_assert_int_eq(req.graphics_level, -1);
    ck_assert_int_eq(req.compute_major, -1);
    cpuid_gpu_requirement_format(&req, text, sizeof(text));
    ck_assert_str_eq(text, "none");

    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "cuda-10.0", &req), 0);
    ck_assert_int_eq(req.compute_major, 10);
    ck_assert_int_eq(req.graphics_level, -1);
}
END_TEST

static const struct bad_baseline {
    const char *text;
    const char *expect;      /* substring of the message */
} bad_baselines[] = {
    { "d3d9-gl2.1", "unknown GPU level 'd3d9-gl2.1'" },
    { "cuda-9.1", "unknown GPU level 'cuda-9.1'" },
    { "", "empty level name" },
    { "cuda-8.0,", "empty level name after a comma" },
    { "d3d10.0-gl3.3,d3d11.0-gl4.1", "names two graphics levels ('d3d10.0-gl3.3' and 'd3d11.0-gl4.1')" },
    { "cuda-8.0,cuda-9.0", "names two compute levels" },
    { "none,cuda-8.0", "'none' cannot be combined" },
    { "CUDA-8.0", "unknown GPU level 'CUDA-8.0'" },
    { "cuda-8.0\n", "unknown GPU level 'cuda-8.0\\x0a'" },
    { "d3d11.0-gl4.1,cuda-8.0,none", "'none' cannot be combined" },
};

START_TEST(test_bad_baseline_is_quoted_with_valid_levels)
{
    const struct bad_baseline *bad = &bad_baselines[_i];
    struct cpuid_gpu_requirement req;

    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, bad->text, &req), MIG_EINVAL);
    ck_assert_msg(strstr(mig_error_last(), bad->expect) != NULL, "'%s' gave: %s", bad->text,
                  mig_error_last());
    if (strstr(bad->expect, "unknown") || strstr(bad->expect, "empty"))
        ck_assert_ptr_nonnull(strstr(mig_error_last(), "d3d11.0-gl4.1, "));
}
END_TEST

START_TEST(test_overlong_baseline)
{
    char text[400];
    struct cpuid_gpu_requirement req;

    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, text, &req), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "longer than 127 characters"));
}
END_TEST

START_TEST(test_shortfall_names_exactly_what_is_missing)
{
    struct cpuid_gpu_requirement req;
    struct cpuid_gpu_capability a10;
    char shortfall[512];

    test_recorded_capability(levels, "nvidia-a10.json", &a10);
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "cuda-9.0", &req), 0);
    ck_assert_int_eq(cpuid_gpu_capability_check(&req, &a10, shortfall, sizeof(shortfall)), MIG_ECOMPAT);
    ck_assert_str_eq(shortfall, "needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)");
    ck_assert_str_eq(mig_error_last(),
                     "GPU baseline 'cuda-9.0' not met: needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)");

    /* met: lower compute, and graphics the A10's GL 4.6 reaches */
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "d3d11.0-gl4.1,cuda-8.0", &req), 0);
    ck_assert_int_eq(cpuid_gpu_capability_check(&req, &a10, shortfall, sizeof(shortfall)), 0);
    ck_assert_str_eq(shortfall, "");
}
END_TEST

START_TEST(test_shortfall_lists_both_axes)
{
    struct cpuid_gpu_requirement req;
    struct cpuid_gpu_capability none;
    char shortfall[512];

    test_recorded_capability(levels, "no-gpu.json", &none);
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "d3d10.0-gl3.3,cuda-7.5", &req), 0);
    ck_assert_int_eq(cpuid_gpu_capability_check(&req, &none, shortfall, sizeof(shortfall)), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(shortfall, "needs d3d10.0-gl3.3, host has none (no OpenGL: "));
    ck_assert_ptr_nonnull(strstr(shortfall, "; needs cuda-7.5, host has none (no NVIDIA GPU: "));

    /* "none" asks for nothing: every host meets it */
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "none", &req), 0);
    ck_assert_int_eq(cpuid_gpu_capability_check(&req, &none, NULL, 0), 0);
}
END_TEST

START_TEST(test_compute_order_is_major_then_minor)
{
    struct cpuid_gpu_requirement req;
    struct cpuid_gpu_capability h100, t4;

    test_recorded_capability(levels, "nvidia-h100.json", &h100);
    test_recorded_capability(levels, "nvidia-t4.json", &t4);
    /* 9.0 >= 8.6 although 0 < 6, and 7.5 < 8.0 although 5 > 0 */
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "cuda-8.6", &req), 0);
    ck_assert_int_eq(cpuid_gpu_capability_check(&req, &h100, NULL, 0), 0);
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "cuda-8.0", &req), 0);
    ck_assert_int_eq(cpuid_gpu_capability_check(&req, &t4, NULL, 0), MIG_ECOMPAT);
    ck_assert_int_eq(cpuid_gpu_requirement_parse(levels, "cuda-10.0", &req), 0);
    ck_assert_int_eq(cpuid_gpu_capability_check(&req, &h100, NULL, 0), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "host has cuda-9.0 (NVIDIA H100 80GB HBM3)"));
}
END_TEST

START_TEST(test_cluster_is_the_minimum_of_its_hosts)
{
    struct cpuid_gpu_capability h100, a10, llvmpipe, cluster;
    char baseline[CPUID_GPU_BASELINE_TEXT_MAX];

    test_recorded_capability(levels, "nvidia-h100.json", &h100);
    test_recorded_capability(levels, "nvidia-a10.json", &a10);
    test_recorded_capability(levels, "mesa-llvmpipe-gl4.5.json", &llvmpipe);
    cpuid_gpu_capability_intersect(&h100, &a10, &cluster);
    cpuid_gpu_capability_format_baseline(&cluster, baseline, sizeof(baseline));
    ck_assert_str_eq(baseline, "d3d12-gl4.6,cuda-8.6");
    ck_assert_str_eq(cluster.compute_detail, "NVIDIA A10");
    cpuid_gpu_capability_intersect(&cluster, &llvmpipe, &cluster);   /* aliasing allowed */
    cpuid_gpu_capability_format_baseline(&cluster, baseline, sizeof(baseline));
    ck_assert_str_eq(baseline, "d3d11.0-gl4.5");
    ck_assert_int_eq(cluster.compute_major, -1);
}
END_TEST

/* The GL version -> graphics level map the README documents. */
static const struct gl_mapping {
    const char *version;
    const char *extensions;
    const char *level;
} gl_mappings[] = {
    { "3.2 Mesa 9.0",      "",                          "none" },
    { "3.3 (Core Profile)", "",                         "d3d10.0-gl3.3" },
    { "3.3 (Core Profile)", "GL_ARB_texture_cube_map_array GL_ARB_sample_shading "
                            "GL_ARB_draw_buffers_blend GL_ARB_texture_gather", "d3d10.1-gl3.3" },
    { "3.3 (Core Profile)", "GL_ARB_texture_cube_map_array_x GL_ARB_sample_shading "
                            "GL_ARB_draw_buffers_blend GL_ARB_texture_gather", "d3d10.0-gl3.3" },
    { "4.0 Mesa",          "",                          "d3d10.1-gl3.3" },
    { "4.2.0 NVIDIA",      "",                          "d3d11.0-gl4.1" },
    { "4.4 (Core Profile)", "",                         "d3d11.0-gl4.3" },
    { "4.5.0",             "",                          "d3d11.0-gl4.5" },
    { "4.6",               "",                          "d3d12-gl4.6" },
    { "5.0 future",        "",                          "d3d12-gl4.6" },
};

START_TEST(test_gl_version_to_level)
{
    const struct gl_mapping *m = &gl_mappings[_i];
    struct cpuid_gpu_facts *facts = malloc(sizeof(*facts));
    struct cpuid_gpu_capability cap;

    ck_assert_ptr_nonnull(facts);
    cpuid_gpu_facts_init(facts);
    facts->gl_status = CPUID_GPU_SOURCE_OK;
    snprintf(facts->gl_version, sizeof(facts->gl_version), "%s", m->version);
    snprintf(facts->gl_extensions, sizeof(facts->gl_extensions), "%s", m->extensions);
    ck_assert_int_eq(cpuid_gpu_capability_from_facts(levels, facts, &cap), 0);
    ck_assert_msg(!strcmp(cap.graphics_name, m->level), "GL '%s' (%s): %s, expected %s",
                  m->version, m->extensions, cap.graphics_name, m->level);
    free(facts);
}
END_TEST

START_TEST(test_gl_version_strings)
{
    int major, minor;

    ck_assert_int_eq(cpuid_gpu_gl_version_parse("4.6.0 NVIDIA 535.129.03", &major, &minor), 0);
    ck_assert_int_eq(major, 4);
    ck_assert_int_eq(minor, 6);
    ck_assert_int_eq(cpuid_gpu_gl_version_parse("4.5 (Compatibility Profile) Mesa 22.3.6", &major, &minor), 0);
    ck_assert_int_eq(minor, 5);
    ck_assert_int_eq(cpuid_gpu_gl_version_parse("3.3", &major, &minor), 0);
    ck_assert_int_eq(major, 3);
    ck_assert_int_eq(cpuid_gpu_gl_version_parse("OpenGL ES 3.2 Mesa", &major, &minor), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "'OpenGL ES 3.2 Mesa' is OpenGL ES"));
    ck_assert_int_eq(cpuid_gpu_gl_version_parse("four point five", &major, &minor), MIG_EFORMAT);
    ck_assert_int_eq(cpuid_gpu_gl_version_parse("4", &major, &minor), MIG_EFORMAT);
    ck_assert_int_eq(cpuid_gpu_gl_version_parse("4.", &major, &minor), MIG_EFORMAT);
    ck_assert_int_eq(cpuid_gpu_gl_version_parse("12345.1", &major, &minor), MIG_EFORMAT);
}
END_TEST

static const struct bad_table {
    const char *text;
    int code;
    const char *expect;
} bad_tables[] = {
    { "graphics a gl=3.3\nshader b gl=4.0\n", MIG_EFORMAT, "t.levels:2: unknown line kind 'shader'" },
    { "graphics a\n", MIG_EFORMAT, "t.levels:1: graphics level 'a' has no gl=MAJOR.MINOR" },
    { "graphics a gl=4.1\ngraphics b gl=3.3\n", MIG_EFORMAT, "t.levels:2: level 'b' (gl=3.3) is listed after 'a'" },
    { "graphics a gl=3.3\ngraphics a gl=4.0\n", MIG_EFORMAT, "t.levels:2: level 'a' is defined twice" },
    { "graphics A gl=3.3\n", MIG_EFORMAT, "t.levels:1: bad level name 'A'" },
    { "graphics none gl=3.3\n", MIG_EFORMAT, "bad level name 'none'" },
    { "graphics a gl=x.y\n", MIG_EFORMAT, "t.levels:1: bad 'gl=x.y'" },
    { "graphics a gl=3.3 colour=blue\n", MIG_EFORMAT, "unknown attribute 'colour=blue'" },
    { "graphics a gl=3.3 ext=A,,B\n", MIG_EFORMAT, "bad 'ext=A,,B'" },
    { "compute cuda-8\n", MIG_EFORMAT, "t.levels:1: bad compute level 'cuda-8'" },
    { "compute cuda-08.0\n", MIG_EFORMAT, "write 'cuda-08.0' as 'cuda-8.0'" },
    { "compute cuda-8.0 extra\n", MIG_EFORMAT, "t.levels:1: write 'compute cuda-MAJOR.MINOR'" },
    { "compute cuda-8.0\ncompute cuda-8.0\n", MIG_EFORMAT, "t.levels:2: level 'cuda-8.0' is defined twice" },
    { "graphics cuda-8.0 gl=3.3\ncompute cuda-8.0\n", MIG_EFORMAT, "is defined twice" },
};

START_TEST(test_bad_level_files)
{
    const struct bad_table *bad = &bad_tables[_i];
    cpuid_gpu_level_table *table = (cpuid_gpu_level_table *)1;

    ck_assert_int_eq(parse_levels(bad->text, &table), bad->code);
    ck_assert_ptr_null(table);
    ck_assert_msg(strstr(mig_error_last(), bad->expect) != NULL, "got: %s", mig_error_last());
}
END_TEST

START_TEST(test_level_file_limits)
{
    cpuid_gpu_level_table *table = NULL;
    size_t big = 65 * 1024;
    char *text = malloc(big);

    ck_assert_ptr_nonnull(text);
    memset(text, '#', big);
    ck_assert_int_eq(cpuid_gpu_level_table_parse(text, big, "big", &table), MIG_ELIMIT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "big: GPU levels file is 66560 bytes"));
    ck_assert_int_eq(cpuid_gpu_level_table_parse("compute cuda-8.0\0x", 18, "nul", &table), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "NUL byte at offset 16"));
    ck_assert_int_eq(cpuid_gpu_level_table_load("/nonexistent/gpu-levels", &table), MIG_EIO);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "'/nonexistent/gpu-levels'"));
    free(text);
}
END_TEST

START_TEST(test_new_level_needs_no_rebuild)
{
    cpuid_gpu_level_table *table = NULL;
    struct cpuid_gpu_requirement req;

    /* A level added to the data: usable at once, and ordered by its line. */
    ck_assert_int_eq(parse_levels("graphics low gl=3.0\ngraphics high gl=4.0 # comment\n"
                                  "compute cuda-11.0\n", &table), 0);
    ck_assert_str_eq(cpuid_gpu_level_table_names(table), "none, low, high, cuda-11.0");
    ck_assert_int_eq(cpuid_gpu_requirement_parse(table, "high,cuda-11.0", &req), 0);
    ck_assert_int_eq(req.graphics_level, 1);
    ck_assert_int_eq(cpuid_gpu_requirement_parse(table, "d3d11.0-gl4.1", &req), MIG_EINVAL);
    cpuid_gpu_level_table_free(table);
}
END_TEST

START_TEST(test_default_table_from_environment)
{
    cpuid_gpu_level_table *table = NULL;
    char path[4096];

    setenv("XENMIG_GPU_LEVELS", test_src_path(path, sizeof(path), "cpuid-policy/data/gpu-levels"), 1);
    ck_assert_int_eq(cpuid_gpu_level_table_load(NULL, &table), 0);
    ck_assert_str_eq(cpuid_gpu_level_table_origin(table), path);
    cpuid_gpu_level_table_free(table);
    setenv("XENMIG_GPU_LEVELS", "/nonexistent/levels", 1);
    ck_assert_int_eq(cpuid_gpu_level_table_load(NULL, &table), MIG_EIO);
    unsetenv("XENMIG_GPU_LEVELS");
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_shipped_order_is_the_issue_order);
    tcase_add_test(tc, test_requirement_forms);
    tcase_add_loop_test(tc, test_bad_baseline_is_quoted_with_valid_levels, 0,
                        sizeof(bad_baselines) / sizeof(bad_baselines[0]));
    tcase_add_test(tc, test_overlong_baseline);
    tcase_add_test(tc, test_shortfall_names_exactly_what_is_missing);
    tcase_add_test(tc, test_shortfall_lists_both_axes);
    tcase_add_test(tc, test_compute_order_is_major_then_minor);
    tcase_add_test(tc, test_cluster_is_the_minimum_of_its_hosts);
    tcase_add_test(tc, test_gl_version_strings);
    tcase_add_loop_test(tc, test_gl_version_to_level, 0, sizeof(gl_mappings) / sizeof(gl_mappings[0]));
    tcase_add_loop_test(tc, test_bad_level_files, 0, sizeof(bad_tables) / sizeof(bad_tables[0]));
    tcase_add_test(tc, test_level_file_limits);
    tcase_add_test(tc, test_new_level_needs_no_rebuild);
    tcase_add_test(tc, test_default_table_from_environment);
    return test_run_suite("gpu_level", tc);
}
