# xl-ext subcommands of the migration room.
xl_ext_SOURCES += cmd_migrate.c cmd_migrate_receive.c cmd_save.c save_xen.c restore_preflight.c restore_preflight.h restore_xen.c cmd_restore.c restore_savefile.c cmd_convert.c replay_common.c replay_common.h migrate_common.c migrate_common.h \
	progress_line.c progress_line.h \
	migrate_source.c migrate_source.h migrate_sim_source.c migrate_xen_source.c \
	migrate_metadata.c migrate_metadata.h switchover_costs.c switchover_costs.h \
	switchover_probe.c switchover_probe.h
# -- xen destination room --
xl_ext_SOURCES += migrate_xen.c migrate_xen.h
xl_ext_SOURCES += migrate_preflight.c migrate_preflight.h
