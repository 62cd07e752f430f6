# vGPU and domain-config room sources.
libcpuidpolicy_a_SOURCES += gpu_level.h gpu_level.c gpu_probe.h gpu_probe.c \
	domain_config.h domain_config.c
dist_pkgdata_DATA += data/gpu-levels
