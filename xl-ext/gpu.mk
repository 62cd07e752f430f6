# xl-ext subcommands of the vGPU room.
