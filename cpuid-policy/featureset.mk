# CPU featureset room sources.
libcpuidpolicy_a_SOURCES += cpuid_internal.h util.c feature_table.c featureset.c \
	levels.c corpus.c host.c cluster.c domain.c cluster_gpu.c libxl_mask.c \
	libvirt_data.c libvirt_map.c libvirt_models.c
libcpuidpolicy_a_CPPFLAGS += $(XENCTRL_CFLAGS) $(XENGUEST_CFLAGS) $(LIBXML_CFLAGS)
# Cluster files on disk (lock, compare-and-swap); content hashes (libcrypto).
libcpuidpolicy_a_SOURCES += cluster_file.c
libcpuidpolicy_a_CPPFLAGS += $(CRYPTO_CFLAGS)

# Named levels and the corpus of real CPUs: data, installed, read at run time.
levelsdir = $(pkgdatadir)/levels
dist_levels_DATA = \
	data/levels/amd-bulldozer.level \
	data/levels/amd-excavator.level \
	data/levels/amd-opteron-barcelona.level \
	data/levels/amd-opteron-k8-sse3.level \
	data/levels/amd-opteron-k8.level \
	data/levels/amd-piledriver.level \
	data/levels/amd-steamroller.level \
	data/levels/amd-zen1.level \
	data/levels/amd-zen2.level \
	data/levels/amd-zen3.level \
	data/levels/amd-zen4.level \
	data/levels/intel-broadwell.level \
	data/levels/intel-cascadelake.level \
	data/levels/intel-cooperlake.level \
	data/levels/intel-haswell.level \
	data/levels/intel-icelake-server.level \
	data/levels/intel-ivybridge.level \
	data/levels/intel-nehalem.level \
	data/levels/intel-sandybridge.level \
	data/levels/intel-sapphirerapids.level \
	data/levels/intel-skylake-server.level \
	data/levels/intel-skylake.level \
	data/levels/intel-westmere.level \
	data/levels/x86-64-v1.level \
	data/levels/x86-64-v2.level \
	data/levels/x86-64-v3.level \
	data/levels/x86-64-v4.level
# libvirt's CPU models: the feature mapping table and the models newer than
# Debian 12's libvirt (the installed map is read where libvirt0 put it).
libvirtdir = $(pkgdatadir)/libvirt
dist_libvirt_DATA = data/libvirt/x86-features.map data/libvirt/x86-models.txt
cpusdir = $(pkgdatadir)/cpus
dist_cpus_DATA = data/cpus/corpus.txt
EXTRA_DIST += gen-feature-table.py data/gen-levels.py data/feature-deps.txt \
	data/gen-libvirt-features.py
