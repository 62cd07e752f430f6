# tests of the cpuid room.
CPUID_TEST_LIBS = ../cpuid-policy/libcpuidpolicy.a ../libmig/libmig.a $(JSONC_LIBS) \
	$(XLUTIL_LIBS) $(XENLIGHT_LIBS) $(CRYPTO_LIBS) \
	$(XENGUEST_LIBS) $(XENCTRL_LIBS) $(XENTOOLLOG_LIBS) $(CHECK_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += unit/test_cpuid_featureset unit/test_cpuid_corpus
unit_test_cpuid_featureset_SOURCES = unit/test_cpuid_featureset.c
unit_test_cpuid_featureset_LDADD = $(CPUID_TEST_LIBS)
unit_test_cpuid_corpus_SOURCES = unit/test_cpuid_corpus.c unit/test_cpuid_helpers.h
unit_test_cpuid_corpus_LDADD = $(CPUID_TEST_LIBS)
TESTS += unit/test_cpuid_featureset unit/test_cpuid_corpus

# Clusters that change: OS-state bits, create/remove/relevel, the file's
# version, hash and compare-and-swap.
check_PROGRAMS += unit/test_cpuid_cluster
unit_test_cpuid_cluster_SOURCES = unit/test_cpuid_cluster.c unit/test_cpuid_helpers.h
unit_test_cpuid_cluster_LDADD = $(CPUID_TEST_LIBS)
TESTS += unit/test_cpuid_cluster

# The cpuid= mask of xl-ext create, checked with libxenlight's own parser;
# the GPU level of clusters.
check_PROGRAMS += unit/test_cpuid_libxl_mask
unit_test_cpuid_libxl_mask_SOURCES = unit/test_cpuid_libxl_mask.c unit/test_cpuid_helpers.h
unit_test_cpuid_libxl_mask_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) $(XENLIGHT_CFLAGS)
unit_test_cpuid_libxl_mask_LDADD = $(CPUID_TEST_LIBS)
TESTS += unit/test_cpuid_libxl_mask

# libvirt's CPU models as levels, on small maps written by the test.
check_PROGRAMS += unit/test_cpuid_libvirt
unit_test_cpuid_libvirt_SOURCES = unit/test_cpuid_libvirt.c unit/test_cpuid_helpers.h
unit_test_cpuid_libvirt_LDADD = $(CPUID_TEST_LIBS)
TESTS += unit/test_cpuid_libvirt

TESTS += cpuid/cli.sh cpuid/create.sh cpuid/xen-cpuid-oracle.sh cpuid/feature-table.sh \
	cpuid/cluster.sh
# libvirt's CPU models: the mapping table, the models against their XML,
# libvirt's cpu-baseline as the oracle of cluster baselines (SKIP without
# the installed map or virsh)
TESTS += cpuid/libvirt-features.sh cpuid/libvirt-models.sh cpuid/libvirt-oracle.sh
EXTRA_DIST += cpuid/cli.sh cpuid/create.sh cpuid/xen-cpuid-oracle.sh cpuid/feature-table.sh \
	cpuid/libvirt_xml.py cpuid/libvirt-env.sh cpuid/libvirt-features.sh cpuid/libvirt-models.sh \
	cpuid/libvirt-oracle.sh cpuid/cluster.sh \
	cpuid/data/lab-run5-xen-cpuid-p.txt \
	fuzz/corpus/cpuid_names fuzz/corpus/cpuid_hex fuzz/corpus/cpuid_libxl \
	fuzz/corpus/cpuid_host_json

if ENABLE_FUZZING
noinst_PROGRAMS += fuzz/fuzz_cpuid_names fuzz/fuzz_cpuid_hex fuzz/fuzz_cpuid_libxl \
	fuzz/fuzz_cpuid_host_json
CPUID_FUZZ_LIBS = ../cpuid-policy/libcpuidpolicy.a ../libmig/libmig.a $(JSONC_LIBS) \
	$(XLUTIL_LIBS) $(XENLIGHT_LIBS) $(CRYPTO_LIBS) \
	$(XENGUEST_LIBS) $(XENCTRL_LIBS) $(XENTOOLLOG_LIBS)
fuzz_fuzz_cpuid_names_SOURCES = fuzz/fuzz_cpuid_names.c
fuzz_fuzz_cpuid_names_LDADD = $(CPUID_FUZZ_LIBS)
fuzz_fuzz_cpuid_names_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_cpuid_hex_SOURCES = fuzz/fuzz_cpuid_hex.c
fuzz_fuzz_cpuid_hex_LDADD = $(CPUID_FUZZ_LIBS)
fuzz_fuzz_cpuid_hex_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_cpuid_libxl_SOURCES = fuzz/fuzz_cpuid_libxl.c
fuzz_fuzz_cpuid_libxl_LDADD = $(CPUID_FUZZ_LIBS)
fuzz_fuzz_cpuid_libxl_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_cpuid_host_json_SOURCES = fuzz/fuzz_cpuid_host_json.c
fuzz_fuzz_cpuid_host_json_LDADD = $(CPUID_FUZZ_LIBS)
fuzz_fuzz_cpuid_host_json_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
endif
