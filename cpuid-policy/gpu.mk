# vGPU and domain-config room sources.
