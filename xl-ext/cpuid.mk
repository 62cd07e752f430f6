# xl-ext subcommands of the cpuid-policy room.
