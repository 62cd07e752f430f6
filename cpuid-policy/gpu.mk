# vGPU and domain-config room sources: the facts of a GPU host and their
# JSON (gpu_facts.c), the probe that collects them (gpu_probe.c, one source
# per file), the levels derived from them (gpu_level.c), the "gpu" object of
# a host description where the three meet (gpu_host.c), and the domain
# config keys (domain_config.c).
libcpuidpolicy_a_SOURCES += gpu_facts.c gpu_probe.c gpu_probe_nvml.c gpu_probe_gl.c \
	gpu_level.c gpu_host.c domain_config.c
dist_pkgdata_DATA += data/gpu-levels
