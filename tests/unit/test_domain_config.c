/*
 * test_domain_config.c: reading cpuid_baseline / gpu_baseline / name from
 * real-looking xl.cfg files (tests/gpu/configs) with libxlutil, parse
 * errors surfaced with file and line, blobs as they travel with a domain,
 * and writing a key back into config text.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "test_gpu_helpers.h"

static cpuid_gpu_level_table *levels;
static struct cpuid_domain_config_read_options options = CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT;

static void setup(void)
{
    levels = test_shipped_levels();
    options.gpu_levels = levels;
}

static void teardown(void)
{
    cpuid_gpu_level_table_free(levels);
}

static const char *config_path(const char *name)
{
    static char path[4096];
    char relative[256];

    snprintf(relative, sizeof(relative), "tests/gpu/configs/%s", name);
    return test_src_path(path, sizeof(path), relative);
}

static const struct good_config {
    const char *file;
    const char *name;
    const char *type;
    const char *cpuid_baseline;   /* NULL: absent */
    const char *gpu_baseline;
    const char *gpu_formatted;    /* the parsed requirement, formatted */
} good_configs[] = {
    { "pv.cfg",      "web1",      "pv",  "x86-64-v3",     NULL,                      "none" },
    { "pvh.cfg",     "build-pvh", "pvh", "cluster",       "none",                    "none" },
    { "hvm.cfg",     "cad-ws",    "hvm", "intel-skylake", "d3d11.0-gl4.1,cuda-8.0",  "d3d11.0-gl4.1,cuda-8.0" },
    { "no-keys.cfg", "legacy",    "hvm", NULL,            NULL,                      "none" },
    { "builder-hvm.cfg", "old-win", "hvm", NULL,          "d3d10.0-gl3.3",           "d3d10.0-gl3.3" },
    { "builder-generic.cfg", "old-pv", "pv", "amd-zen2",  NULL,                      "none" },
};

static void assert_same(const char *got, const char *expected, const char *what)
{
    if (!expected)
        ck_assert_msg(got == NULL, "%s: expected absent, got '%s'", what, got);
    else
        ck_assert_msg(got && !strcmp(got, expected), "%s: expected '%s', got '%s'", what, expected,
                      got ? got : "(absent)");
}

START_TEST(test_read_real_configs)
{
    const struct good_config *c = &good_configs[_i];
    struct cpuid_domain_config_keys *keys = NULL;
    char formatted[CPUID_GPU_BASELINE_TEXT_MAX];

    ck_assert_msg(cpuid_domain_config_read_file(config_path(c->file), &options, &keys) == 0, "%s",
                  mig_error_last());
    assert_same(keys->name, c->name, "name");
    assert_same(keys->type, c->type, "type");
    assert_same(keys->cpuid_baseline, c->cpuid_baseline, "cpuid_baseline");
    assert_same(keys->gpu_baseline, c->gpu_baseline, "gpu_baseline");
    cpuid_gpu_requirement_format(&keys->gpu_requirement, formatted, sizeof(formatted));
    ck_assert_str_eq(formatted, c->gpu_formatted);
    cpuid_domain_config_keys_free(keys);
}
END_TEST

static const struct bad_config {
    const char *file;
    int code;
    const char *expect[3];        /* substrings of the message */
} bad_configs[] = {
    { "bad-quoting.cfg", MIG_EFORMAT, { "bad-quoting.cfg:3: config parsing error near", NULL } },
    { "list-baseline.cfg", MIG_EINVAL, { "list-baseline.cfg: gpu_baseline must be a string", "not a list" } },
    { "bad-gpu-level.cfg", MIG_EINVAL, { "bad-gpu-level.cfg: gpu_baseline 'cuda-9.5'",
                                         "unknown GPU level 'cuda-9.5'", "cuda-9.0, cuda-10.0" } },
    { "bad-cpu-name.cfg", MIG_EINVAL, { "bad-cpu-name.cfg: cpuid_baseline 'x86 64 v3; rm -rf /' is not a CPU level name",
                                        "\"x86-64-v3\"" } },
    { "save-config-libxl.json", MIG_EUNSUPP, { "save-config-libxl.json: this config is libxl JSON",
                                               "no cpuid_baseline or gpu_baseline" } },
    { "bad-type.cfg", MIG_EINVAL, { "bad-type.cfg: type 'hvm-pv' is not a domain type", "\"pvh\"" } },
    { "does-not-exist.cfg", MIG_EIO, { "cannot open domain config", "does-not-exist.cfg", "No such file" } },
};

START_TEST(test_bad_configs_are_quoted)
{
    const struct bad_config *c = &bad_configs[_i];
    struct cpuid_domain_config_keys *keys = (struct cpuid_domain_config_keys *)1;

    ck_assert_int_eq(cpuid_domain_config_read_file(config_path(c->file), &options, &keys), c->code);
    ck_assert_ptr_null(keys);
    for (int i = 0; i < 3 && c->expect[i]; i++)
        ck_assert_msg(strstr(mig_error_last(), c->expect[i]) != NULL, "%s: no '%s' in: %s",
                      c->file, c->expect[i], mig_error_last());
}
END_TEST

START_TEST(test_blob_from_a_save_file)
{
    /* the blob as it travels: not NUL-terminated, or with xl's trailing NUL */
    static const char blob[] = "name = \"moved\"\ngpu_baseline = \"cuda-9.0\"\n";
    struct cpuid_domain_config_keys *keys = NULL;

    ck_assert_int_eq(cpuid_domain_config_read_blob(blob, sizeof(blob) - 1, "moved.save:config", &options, &keys), 0);
    ck_assert_str_eq(keys->name, "moved");
    ck_assert_str_eq(keys->gpu_baseline, "cuda-9.0");
    ck_assert_int_eq(keys->gpu_requirement.compute_major, 9);
    cpuid_domain_config_keys_free(keys);
    ck_assert_int_eq(cpuid_domain_config_read_blob(blob, sizeof(blob), "moved.save:config", &options, &keys), 0);
    ck_assert_str_eq(keys->gpu_baseline, "cuda-9.0");
    cpuid_domain_config_keys_free(keys);

    /* a NUL inside the text (libxlutil would abort on it in a string) */
    ck_assert_int_eq(cpuid_domain_config_read_blob("name = \"a\0b\"\n", 12, "nul.save:config", &options, &keys),
                     MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "nul.save:config: NUL byte at offset 9"));

    /* a cut blob: the error names the blob and the line */
    ck_assert_int_eq(cpuid_domain_config_read_blob(blob, 30, "cut.save:config", &options, &keys), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "cut.save:config:2: config parsing error"));
}
END_TEST

START_TEST(test_default_levels_and_options_version)
{
    struct cpuid_domain_config_read_options bad = CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT;
    struct cpuid_domain_config_keys *keys = NULL;
    char path[4096];

    /* NULL options: the default table is found through XENMIG_GPU_LEVELS */
    setenv("XENMIG_GPU_LEVELS", test_src_path(path, sizeof(path), "cpuid-policy/data/gpu-levels"), 1);
    ck_assert_msg(cpuid_domain_config_read_file(config_path("hvm.cfg"), NULL, &keys) == 0, "%s",
                  mig_error_last());
    ck_assert_str_eq(keys->gpu_requirement.compute_name, "cuda-8.0");
    cpuid_domain_config_keys_free(keys);
    unsetenv("XENMIG_GPU_LEVELS");

    bad.version = 7;
    ck_assert_int_eq(cpuid_domain_config_read_file(config_path("hvm.cfg"), &bad, &keys), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "version 7"));
}
END_TEST

/* cpuid_baseline takes Xen's 19 hex words as well as a level name or "cluster". */
START_TEST(test_cpuid_baseline_hex_words)
{
    static const char hex[] = "178bfbff:f6f83203:2c100800:00000121:00000000:009c47ab:"
                              "00000000:00000000:00000000:00000000:00000000:00000000:"
                              "00000000:00000000:00000000:00000000:00000000:00000000:00000000";
    struct cpuid_domain_config_keys *keys = NULL;
    char text[512];

    snprintf(text, sizeof(text), "name = \"hex\"\ncpuid_baseline = \"%s\"\n", hex);
    ck_assert_msg(cpuid_domain_config_read_blob(text, strlen(text), "hex.cfg", &options, &keys) == 0,
                  "%s", mig_error_last());
    ck_assert_str_eq(keys->cpuid_baseline, hex);
    cpuid_domain_config_keys_free(keys);

    /* eighteen words: refused, quoting the count, naming the config */
    snprintf(text, sizeof(text), "cpuid_baseline = \"%.*s\"\n", (int)(sizeof(hex) - 10), hex);
    ck_assert_int_eq(cpuid_domain_config_read_blob(text, strlen(text), "short.cfg", &options, &keys),
                     MIG_EINVAL);
    ck_assert_ptr_null(keys);
    ck_assert_msg(strstr(mig_error_last(), "short.cfg") && strstr(mig_error_last(), "has 18 words"),
                  "%s", mig_error_last());
}
END_TEST

/* Set key in text, and read the result back through the reader. */
static char *set_and_check(const char *text, const char *key, const char *value)
{
    struct cpuid_domain_config_keys *keys = NULL;
    char *out = NULL;

    ck_assert_msg(cpuid_domain_config_set_string(text, strlen(text), key, value, &out) == 0, "%s",
                  mig_error_last());
    ck_assert_msg(cpuid_domain_config_read_blob(out, strlen(out), "updated", &options, &keys) == 0, "%s",
                  mig_error_last());
    if (!strcmp(key, "gpu_baseline"))
        assert_same(keys->gpu_baseline, value, key);
    else if (!strcmp(key, "cpuid_baseline"))
        assert_same(keys->cpuid_baseline, value, key);
    cpuid_domain_config_keys_free(keys);
    return out;
}

START_TEST(test_set_replaces_in_place_keeping_the_rest)
{
    char *text = test_read_file(config_path("hvm.cfg"), NULL), *out, *expected;
    const char *old_line = "gpu_baseline = \"d3d11.0-gl4.1,cuda-8.0\"";
    size_t at;

    out = set_and_check(text, "gpu_baseline", "cuda-9.0");
    /* the expected text: the original with only that one line changed */
    at = (size_t)(strstr(text, old_line) - text);
    expected = malloc(strlen(text) + 16);
    ck_assert_ptr_nonnull(expected);
    memcpy(expected, text, at);
    strcpy(expected + at, "gpu_baseline = \"cuda-9.0\"");
    strcat(expected, text + at + strlen(old_line));
    ck_assert_str_eq(out, expected);
    free(out);
    free(expected);

    /* a trailing comment and ';' survive; the comment is kept */
    out = set_and_check("name = \"a\"\ncpuid_baseline = 'x86-64-v2'; # pool level\n",
                        "cpuid_baseline", "x86-64-v3");
    ck_assert_str_eq(out, "name = \"a\"\ncpuid_baseline = \"x86-64-v3\" # pool level\n");
    free(out);
    free(text);
}
END_TEST

START_TEST(test_set_appends_new_key)
{
    char *out;

    out = set_and_check("name = \"a\"\nmemory = 512", "cpuid_baseline_features",
                        "fpu,sse2,avx2");
    ck_assert_str_eq(out, "name = \"a\"\nmemory = 512\ncpuid_baseline_features = \"fpu,sse2,avx2\"\n");
    free(out);
    /* a key that merely starts with ours is another key */
    out = set_and_check("gpu_baseline_note = \"x\"\n", "gpu_baseline", "none");
    ck_assert_str_eq(out, "gpu_baseline_note = \"x\"\ngpu_baseline = \"none\"\n");
    free(out);
}
END_TEST

START_TEST(test_set_duplicate_assignments_last_wins)
{
    char *out = set_and_check("gpu_baseline = \"cuda-7.5\"\ngpu_baseline = \"cuda-8.0\"\n",
                              "gpu_baseline", "cuda-9.0");

    ck_assert_str_eq(out, "gpu_baseline = \"cuda-7.5\"\ngpu_baseline = \"cuda-9.0\"\n");
    free(out);
    /* an assignment behind another statement is shadowed by the appended one */
    out = set_and_check("memory = 5; gpu_baseline = \"cuda-7.5\"\n", "gpu_baseline", "cuda-9.0");
    ck_assert_str_eq(out, "memory = 5; gpu_baseline = \"cuda-7.5\"\ngpu_baseline = \"cuda-9.0\"\n");
    free(out);
}
END_TEST

static const struct bad_set {
    const char *text;
    const char *key;
    const char *value;
    int code;
    const char *expect;
} bad_sets[] = {
    { "name = \"a\"\n", "Gpu", "x", MIG_EINVAL, "config key 'Gpu' is not a key name" },
    { "name = \"a\"\n", "", "x", MIG_EINVAL, "config key '' is not a key name" },
    { "name = \"a\"\n", "gpu_baseline", "a\"b", MIG_EINVAL, "value 'a\"b' for gpu_baseline has a character" },
    { "name = \"a\"\n", "gpu_baseline", "a\nb", MIG_EINVAL, "(byte 1)" },
    { "name = \"a\n", "gpu_baseline", "x", MIG_EFORMAT, "(config):1: config parsing error" },
    { "gpu_baseline = [ \"x\" ]\n", "gpu_baseline", "x", MIG_EUNSUPP,
      "(config):1: 'gpu_baseline = [ \"x\" ]' assigns gpu_baseline in a form xl-ext does not rewrite" },
    { "gpu_baseline = \"x\"; memory = 5\n", "gpu_baseline", "y", MIG_EUNSUPP, "fix that line by hand" },
    { "gpu_baseline += \"x\"\n", "gpu_baseline", "y", MIG_EUNSUPP, "does not rewrite" },
};

START_TEST(test_set_refuses_what_it_cannot_do_safely)
{
    const struct bad_set *b = &bad_sets[_i];
    char *out = (char *)1;

    ck_assert_int_eq(cpuid_domain_config_set_string(b->text, strlen(b->text), b->key, b->value, &out), b->code);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(mig_error_last(), b->expect) != NULL, "no '%s' in: %s", b->expect,
                  mig_error_last());
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_read_real_configs, 0, sizeof(good_configs) / sizeof(good_configs[0]));
    tcase_add_loop_test(tc, test_bad_configs_are_quoted, 0, sizeof(bad_configs) / sizeof(bad_configs[0]));
    tcase_add_test(tc, test_blob_from_a_save_file);
    tcase_add_test(tc, test_default_levels_and_options_version);
    tcase_add_test(tc, test_cpuid_baseline_hex_words);
    tcase_add_test(tc, test_set_replaces_in_place_keeping_the_rest);
    tcase_add_test(tc, test_set_appends_new_key);
    tcase_add_test(tc, test_set_duplicate_assignments_last_wins);
    tcase_add_loop_test(tc, test_set_refuses_what_it_cannot_do_safely, 0,
                        sizeof(bad_sets) / sizeof(bad_sets[0]));
    return test_run_suite("domain_config", tc);
}
