# vGPU and domain-config room sources.
libcpuidpolicy_a_SOURCES += gpu_level.c gpu_probe.c domain_config.c
dist_pkgdata_DATA += data/gpu-levels
