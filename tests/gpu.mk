# tests of the vGPU room: GPU levels, the GPU probe, domain config keys.
GPU_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) $(XLUTIL_CFLAGS)
GPU_TEST_LIBS = ../cpuid-policy/libcpuidpolicy.a $(LIBMIG_TEST_LIBS) $(JSONC_LIBS) \
	$(XLUTIL_LIBS) $(XENLIGHT_LIBS)

check_PROGRAMS += unit/test_gpu_level
unit_test_gpu_level_SOURCES = unit/test_gpu_level.c unit/test_gpu_helpers.h
unit_test_gpu_level_CPPFLAGS = $(GPU_TEST_CPPFLAGS)
unit_test_gpu_level_LDADD = $(GPU_TEST_LIBS)
TESTS += unit/test_gpu_level

check_PROGRAMS += unit/test_gpu_probe
unit_test_gpu_probe_SOURCES = unit/test_gpu_probe.c unit/test_gpu_helpers.h
unit_test_gpu_probe_CPPFLAGS = $(GPU_TEST_CPPFLAGS)
unit_test_gpu_probe_LDADD = $(GPU_TEST_LIBS)
TESTS += unit/test_gpu_probe

check_PROGRAMS += unit/test_domain_config
unit_test_domain_config_SOURCES = unit/test_domain_config.c unit/test_gpu_helpers.h
unit_test_domain_config_CPPFLAGS = $(GPU_TEST_CPPFLAGS)
unit_test_domain_config_LDADD = $(GPU_TEST_LIBS)
TESTS += unit/test_domain_config

# A stand-in libnvidia-ml.so.1 for test_gpu_probe (built unsanitised:
# it is dlopen'ed, never linked).
check_PROGRAMS += gpu/libfake-nvml.so
gpu_libfake_nvml_so_SOURCES = gpu/fake_nvml.c
gpu_libfake_nvml_so_CFLAGS = -std=c11 -fPIC -Wall -Wextra
gpu_libfake_nvml_so_LDFLAGS = -shared

TESTS += gpu/gpu-probe.sh
EXTRA_DIST += gpu/gpu-probe.sh gpu/facts gpu/configs

if ENABLE_FUZZING
noinst_PROGRAMS += fuzz/fuzz_gpu_levels fuzz/fuzz_gpu_facts fuzz/fuzz_domain_config
fuzz_fuzz_gpu_levels_SOURCES = fuzz/fuzz_gpu_levels.c
fuzz_fuzz_gpu_levels_CPPFLAGS = $(GPU_TEST_CPPFLAGS)
fuzz_fuzz_gpu_levels_LDFLAGS = -fsanitize=fuzzer $(AM_LDFLAGS)
fuzz_fuzz_gpu_levels_LDADD = $(GPU_TEST_LIBS)
fuzz_fuzz_gpu_facts_SOURCES = fuzz/fuzz_gpu_facts.c
fuzz_fuzz_gpu_facts_CPPFLAGS = $(GPU_TEST_CPPFLAGS)
fuzz_fuzz_gpu_facts_LDFLAGS = -fsanitize=fuzzer $(AM_LDFLAGS)
fuzz_fuzz_gpu_facts_LDADD = $(GPU_TEST_LIBS)
fuzz_fuzz_domain_config_SOURCES = fuzz/fuzz_domain_config.c
fuzz_fuzz_domain_config_CPPFLAGS = $(GPU_TEST_CPPFLAGS)
fuzz_fuzz_domain_config_LDFLAGS = -fsanitize=fuzzer $(AM_LDFLAGS)
fuzz_fuzz_domain_config_LDADD = $(GPU_TEST_LIBS)
endif
EXTRA_DIST += fuzz/corpus/gpu_levels fuzz/corpus/gpu_facts fuzz/corpus/domain_config
