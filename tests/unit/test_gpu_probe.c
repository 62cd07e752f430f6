/*
 * test_gpu_probe.c: levels derived from recorded probe facts
 * (tests/gpu/facts), the facts JSON (round trip and bad input), and the
 * NVML half of the real collector against a fake libnvidia-ml
 * (tests/gpu/fake_nvml.c), in process and in its isolating child.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cpuid_policy.h"
#include "mig_error.h"
#include "test_gpu_helpers.h"

static cpuid_gpu_level_table *levels;
static struct cpuid_gpu_facts *facts;

static void setup(void)
{
    levels = test_shipped_levels();
    facts = malloc(sizeof(*facts));
    ck_assert_ptr_nonnull(facts);
}

static void teardown(void)
{
    cpuid_gpu_level_table_free(levels);
    free(facts);
}

/* What each recorded host must come out as. */
static const struct recorded_host {
    const char *file;
    const char *graphics;
    const char *compute;
} recorded_hosts[] = {
    { "nvidia-h100.json",           "d3d12-gl4.6",   "cuda-9.0" },
    { "nvidia-a100.json",           "none",          "cuda-8.0" },
    { "nvidia-t4.json",             "d3d12-gl4.6",   "cuda-7.5" },
    { "nvidia-a10.json",            "d3d12-gl4.6",   "cuda-8.6" },
    { "nvidia-mixed-a10-h100.json", "none",          "cuda-9.0" },
    { "mesa-llvmpipe-gl4.5.json",   "d3d11.0-gl4.5", "none" },
    { "mesa-gl3.3-no-d3d10.1.json", "d3d10.0-gl3.3", "none" },
    { "mesa-gl3.3-d3d10.1.json",    "d3d10.1-gl3.3", "none" },
    { "gles-only.json",             "none",          "none" },
    { "no-gpu.json",                "none",          "none" },
};

START_TEST(test_levels_from_recorded_facts)
{
    const struct recorded_host *host = &recorded_hosts[_i];
    struct cpuid_gpu_capability cap;

    test_recorded_capability(levels, host->file, &cap);
    ck_assert_msg(!strcmp(cap.graphics_name, host->graphics), "%s: graphics %s, expected %s",
                  host->file, cap.graphics_name, host->graphics);
    ck_assert_msg(!strcmp(cap.compute_name, host->compute), "%s: compute %s, expected %s",
                  host->file, cap.compute_name, host->compute);
    ck_assert_int_gt(strlen(cap.graphics_detail), 0);
    ck_assert_int_gt(strlen(cap.compute_detail), 0);
}
END_TEST

START_TEST(test_mixed_host_names_the_best_device)
{
    struct cpuid_gpu_capability cap;

    test_recorded_facts("nvidia-mixed-a10-h100.json", facts);
    ck_assert_int_eq(cpuid_gpu_capability_from_facts(levels, facts, &cap), 0);
    ck_assert_str_eq(cap.compute_detail, "NVIDIA H100 PCIe, best of 2 devices");
}
END_TEST

START_TEST(test_json_round_trip)
{
    struct cpuid_gpu_facts *again = malloc(sizeof(*again));
    struct cpuid_gpu_capability cap;
    json_object *json = NULL;
    const char *text;

    ck_assert_ptr_nonnull(again);
    test_recorded_facts(recorded_hosts[_i].file, facts);
    ck_assert_int_eq(cpuid_gpu_facts_to_json(facts, &json), 0);
    text = json_object_to_json_string(json);
    ck_assert_int_eq(cpuid_gpu_facts_from_json_text(text, strlen(text), "round trip", again), 0);
    ck_assert_int_eq(memcmp(facts, again, sizeof(*facts)), 0);
    json_object_put(json);

    /* the host-dump object reads back through its "facts" member */
    ck_assert_int_eq(cpuid_gpu_capability_from_facts(levels, facts, &cap), 0);
    ck_assert_int_eq(cpuid_gpu_host_to_json(facts, &cap, &json), 0);
    text = json_object_to_json_string(json);
    ck_assert_ptr_nonnull(strstr(text, cap.compute_name));
    ck_assert_int_eq(cpuid_gpu_facts_from_json_text(text, strlen(text), "host dump", again), 0);
    ck_assert_int_eq(memcmp(facts, again, sizeof(*facts)), 0);
    json_object_put(json);
    free(again);
}
END_TEST

static const struct bad_json {
    const char *text;
    const char *expect;
} bad_jsons[] = {
    { "", "bad.json: not valid JSON at offset 0: text ends early" },
    { "{\"nvml\": ", "text ends early" },
    { "[1, 2]", "GPU facts must be a JSON object" },
    { "{} {}", "unexpected data after the JSON value at offset 3" },
    { "{\"nvml\": 3}", "\"nvml\" must be an object" },
    { "{\"nvml\": {\"status\": \"fine\"}}", "nvml.status is 'fine': expected \"ok\", \"absent\" or \"error\"" },
    { "{\"nvml\": {\"status\": \"ok\", \"devices\": {}}}", "nvml.devices must be an array" },
    { "{\"nvml\": {\"status\": \"ok\", \"devices\": [{\"name\": \"x\", \"compute_capability\": \"9\"}]}}",
      "nvml.devices[0].compute_capability '9' is not MAJOR.MINOR" },
    { "{\"nvml\": {\"status\": \"ok\", \"devices\": [{\"name\": \"x\", \"compute_capability\": \"-1.0\"}]}}",
      "compute_capability '-1.0' is not MAJOR.MINOR" },
    { "{\"nvml\": {\"status\": \"ok\", \"devices\": [{\"name\": \"x\", \"compute_capability\": \"1234.0\"}]}}",
      "compute_capability '1234.0' is not MAJOR.MINOR" },
    { "{\"nvml\": {\"status\": \"ok\", \"device_count\": 0, \"devices\": [{\"name\": \"x\"}]}}",
      "nvml.device_count 0 is below the 1 devices listed" },
    { "{\"nvml\": {\"status\": \"ok\", \"devices\": [{\"name\": 7}]}}",
      "nvml.devices[0].name must be a string, not int" },
    { "{\"gl\": {\"status\": \"ok\"}}", "gl.status is \"ok\" but gl.version is missing" },
    { "{\"gl\": {\"status\": \"ok\", \"version\": \"4.6\\u0000x\"}}", "gl.version contains a NUL character" },
    { "{\"nvml\": {\"status\": \"ok\", \"devices\": [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}]}}",
      "nvml.devices lists 17 devices, at most 16" },
};

START_TEST(test_bad_facts_json)
{
    const struct bad_json *bad = &bad_jsons[_i];

    ck_assert_int_eq(cpuid_gpu_facts_from_json_text(bad->text, strlen(bad->text), "bad.json", facts),
                     MIG_EFORMAT);
    ck_assert_msg(strstr(mig_error_last(), bad->expect) != NULL, "'%s' gave: %s", bad->text,
                  mig_error_last());
}
END_TEST

START_TEST(test_overlong_fact_string)
{
    char text[512];

    snprintf(text, sizeof(text), "{\"gl\": {\"status\": \"ok\", \"version\": \"4.6 %0200d\"}}", 0);
    ck_assert_int_eq(cpuid_gpu_facts_from_json_text(text, strlen(text), "long.json", facts), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "long.json: gl.version is 204 bytes, more than the 127 allowed"));
}
END_TEST

START_TEST(test_unparsable_gl_version_is_reported)
{
    struct cpuid_gpu_capability cap;
    const char *text = "{\"gl\": {\"status\": \"ok\", \"version\": \"v4\"}}";

    ck_assert_int_eq(cpuid_gpu_facts_from_json_text(text, strlen(text), "v4.json", facts), 0);
    ck_assert_int_eq(cpuid_gpu_capability_from_facts(levels, facts, &cap), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "GL_VERSION 'v4' does not start with MAJOR.MINOR"));
}
END_TEST

/* ---- the collector against the fake NVML ---- */

static const char *fake_nvml_path(char *buf, size_t size)
{
    const char *build = getenv("XENMIG_BUILDDIR");

    snprintf(buf, size, "%s/tests/gpu/libfake-nvml.so", build ? build : "..");
    return buf;
}

/*
 * The probe child's time limit: the hung driver's case is about it (that
 * child sleeps for an hour, so it runs out whatever the machine's load);
 * in every other case it is a bound of last resort, as the child answers
 * or dies long before.
 */
#define HUNG_LIMIT_MS 2000
#define PATIENCE_MS 30000

static void probe_with_fake(int in_process, const char *devices, const char *fail)
{
    struct cpuid_gpu_probe_options options = CPUID_GPU_PROBE_OPTIONS_INIT;
    char path[4096];

    options.nvml_library = fake_nvml_path(path, sizeof(path));
    options.skip_gl = 1;
    options.in_process = in_process;
    options.timeout_ms = fail && !strcmp(fail, "hang") ? HUNG_LIMIT_MS : PATIENCE_MS;
    setenv("FAKE_NVML_DEVICES", devices, 1);
    setenv("FAKE_NVML_DRIVER", "535.129.03", 1);
    if (fail)
        setenv("FAKE_NVML_FAIL", fail, 1);
    else
        unsetenv("FAKE_NVML_FAIL");
    ck_assert_msg(cpuid_gpu_probe_collect(&options, facts) == 0, "%s", mig_error_last());
}

START_TEST(test_probe_reads_nvml)
{
    struct cpuid_gpu_capability cap;

    /* _i == 0: in this process; _i == 1: in the isolating child */
    probe_with_fake(_i == 0, "NVIDIA A10:8.6;NVIDIA H100 80GB HBM3:9.0", NULL);
    ck_assert_int_eq(facts->nvml_status, CPUID_GPU_SOURCE_OK);
    ck_assert_str_eq(facts->driver_version, "535.129.03");
    ck_assert_uint_eq(facts->device_count, 2);
    ck_assert_uint_eq(facts->devices_recorded, 2);
    ck_assert_str_eq(facts->devices[1].name, "NVIDIA H100 80GB HBM3");
    ck_assert_int_eq(facts->devices[1].compute_major, 9);
    ck_assert_int_eq(facts->devices[1].compute_minor, 0);
    ck_assert_int_eq(facts->gl_status, CPUID_GPU_SOURCE_ABSENT);
    ck_assert_str_eq(facts->gl_reason, "not probed (skipped)");
    ck_assert_int_eq(cpuid_gpu_capability_from_facts(levels, facts, &cap), 0);
    ck_assert_str_eq(cap.compute_name, "cuda-9.0");
}
END_TEST

START_TEST(test_probe_nvml_without_devices)
{
    probe_with_fake(0, "", NULL);
    ck_assert_int_eq(facts->nvml_status, CPUID_GPU_SOURCE_ABSENT);
    ck_assert_str_eq(facts->nvml_reason, "NVML is loaded but reports no device");
}
END_TEST

START_TEST(test_probe_nvml_init_failure)
{
    probe_with_fake(0, "NVIDIA A10:8.6", "init");
    ck_assert_int_eq(facts->nvml_status, CPUID_GPU_SOURCE_ERROR);
    ck_assert_str_eq(facts->nvml_reason, "nvmlInit_v2 failed (9): Driver Not Loaded");
}
END_TEST

START_TEST(test_probe_survives_a_crashing_driver)
{
    probe_with_fake(0 /* child */, "NVIDIA A10:8.6", "crash");
    ck_assert_int_eq(facts->nvml_status, CPUID_GPU_SOURCE_ERROR);
    /* killed by SIGSEGV, or (under ASan) exited after its report */
    ck_assert_msg(strstr(facts->nvml_reason, "NVML probe process died of signal 11") ||
                  strstr(facts->nvml_reason, "NVML probe process exited with status"),
                  "reason: %s", facts->nvml_reason);
}
END_TEST

START_TEST(test_probe_survives_a_hanging_driver)
{
    probe_with_fake(0 /* child */, "NVIDIA A10:8.6", "hang");
    ck_assert_int_eq(facts->nvml_status, CPUID_GPU_SOURCE_ERROR);
    ck_assert_str_eq(facts->nvml_reason, "NVML probe timed out after 2000 ms (driver hung?)");
}
END_TEST

START_TEST(test_probe_missing_library_is_absent)
{
    struct cpuid_gpu_probe_options options = CPUID_GPU_PROBE_OPTIONS_INIT;
    struct cpuid_gpu_capability cap;

    options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
    options.egl_library = "/nonexistent/libEGL.so.1";
    ck_assert_int_eq(cpuid_gpu_probe_collect(&options, facts), 0);
    ck_assert_int_eq(facts->nvml_status, CPUID_GPU_SOURCE_ABSENT);
    ck_assert_ptr_nonnull(strstr(facts->nvml_reason, "no NVIDIA driver: /nonexistent/libnvidia-ml.so.1"));
    ck_assert_int_eq(facts->gl_status, CPUID_GPU_SOURCE_ABSENT);
    ck_assert_ptr_nonnull(strstr(facts->gl_reason, "no EGL library: /nonexistent/libEGL.so.1"));
    ck_assert_int_eq(cpuid_gpu_capability_from_facts(levels, facts, &cap), 0);
    ck_assert_str_eq(cap.graphics_name, "none");
    ck_assert_str_eq(cap.compute_name, "none");
}
END_TEST

START_TEST(test_probe_options_version_checked)
{
    struct cpuid_gpu_probe_options options = CPUID_GPU_PROBE_OPTIONS_INIT;

    options.version = 99;
    ck_assert_int_eq(cpuid_gpu_probe_collect(&options, facts), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "version 99"));
}
END_TEST

START_TEST(test_host_json_add_then_read_back)
{
    struct cpuid_gpu_probe_options options = CPUID_GPU_PROBE_OPTIONS_INIT;
    json_object *host = json_object_new_object(), *copy = NULL;
    struct cpuid_gpu_capability cap;
    char path[4096];
    const char *text;

    ck_assert_ptr_nonnull(host);
    json_object_object_add(host, "hostname", json_object_new_string("node7"));
    options.nvml_library = fake_nvml_path(path, sizeof(path));
    options.skip_gl = 1;
    setenv("FAKE_NVML_DEVICES", "NVIDIA A100-SXM4-80GB:8.0", 1);
    unsetenv("FAKE_NVML_FAIL");
    ck_assert_msg(cpuid_gpu_host_json_add(host, levels, &options) == 0, "%s", mig_error_last());

    /* as another machine reads it: through text */
    text = json_object_to_json_string(host);
    copy = json_tokener_parse(text);
    ck_assert_ptr_nonnull(copy);
    ck_assert_msg(cpuid_gpu_host_json_capability(copy, levels, "node7.json", &cap) == 0, "%s",
                  mig_error_last());
    ck_assert_str_eq(cap.compute_name, "cuda-8.0");
    ck_assert_str_eq(cap.compute_detail, "NVIDIA A100-SXM4-80GB");
    ck_assert_str_eq(cap.graphics_name, "none");
    json_object_put(copy);
    json_object_put(host);
}
END_TEST

START_TEST(test_host_json_without_gpu)
{
    json_object *host = json_tokener_parse("{\"hostname\": \"old\"}");
    json_object *bad = json_tokener_parse("{\"gpu\": {\"levels\": {}}}");
    struct cpuid_gpu_capability cap;

    ck_assert_int_eq(cpuid_gpu_host_json_capability(host, levels, "old.json", &cap), 0);
    ck_assert_str_eq(cap.compute_name, "none");
    ck_assert_ptr_nonnull(strstr(cap.compute_detail, "old.json has no \"gpu\" object"));
    ck_assert_int_eq(cpuid_gpu_host_json_capability(bad, levels, "bad.json", &cap), MIG_EFORMAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "bad.json: gpu.facts is missing"));
    json_object_put(host);
    json_object_put(bad);
}
END_TEST

/* The real probe of this host: whatever it finds, the facts must be coherent. */
START_TEST(test_probe_this_host_is_coherent)
{
    struct cpuid_gpu_capability cap;

    ck_assert_int_eq(cpuid_gpu_probe_collect(NULL, facts), 0);
    ck_assert_msg(facts->nvml_status == CPUID_GPU_SOURCE_OK || facts->nvml_reason[0],
                  "a missing NVIDIA GPU must come with a reason");
    ck_assert_msg(facts->gl_status == CPUID_GPU_SOURCE_OK || facts->gl_reason[0],
                  "a missing OpenGL must come with a reason");
    ck_assert_msg(cpuid_gpu_capability_from_facts(levels, facts, &cap) == 0, "%s", mig_error_last());
    if (facts->gl_status == CPUID_GPU_SOURCE_OK)
        ck_assert_int_ge(cap.gl_major, 1);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("core");
    int hosts = (int)(sizeof(recorded_hosts) / sizeof(recorded_hosts[0]));

    /* Above a probe's bound of last resort (PATIENCE_MS), and above this
     * host's own probe: two children of the default 20 s limit each. */
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_levels_from_recorded_facts, 0, hosts);
    tcase_add_test(tc, test_mixed_host_names_the_best_device);
    tcase_add_loop_test(tc, test_json_round_trip, 0, hosts);
    tcase_add_loop_test(tc, test_bad_facts_json, 0, sizeof(bad_jsons) / sizeof(bad_jsons[0]));
    tcase_add_test(tc, test_overlong_fact_string);
    tcase_add_test(tc, test_unparsable_gl_version_is_reported);
    tcase_add_loop_test(tc, test_probe_reads_nvml, 0, 2);
    tcase_add_test(tc, test_probe_nvml_without_devices);
    tcase_add_test(tc, test_probe_nvml_init_failure);
    tcase_add_test(tc, test_probe_survives_a_crashing_driver);
    tcase_add_test(tc, test_probe_survives_a_hanging_driver);
    tcase_add_test(tc, test_probe_missing_library_is_absent);
    tcase_add_test(tc, test_probe_options_version_checked);
    tcase_add_test(tc, test_probe_this_host_is_coherent);
    tcase_add_test(tc, test_host_json_add_then_read_back);
    tcase_add_test(tc, test_host_json_without_gpu);
    return test_run_suite("gpu_probe", tc);
}
