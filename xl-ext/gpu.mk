# xl-ext subcommands of the vGPU room.
xl_ext_SOURCES += cmd_gpu_probe.c
