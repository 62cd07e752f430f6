# xl-ext subcommands of the cpuid-policy room.
xl_ext_SOURCES += cmd_cpuid_policy.h cmd_cpuid_policy.c cmd_cpuid_policy_host.c \
	cmd_cpuid_policy_cluster.c cmd_cpuid_policy_check.c cmd_create.c \
	domain_record.h domain_record.c
# Clusters that change (create, remove, relevel), hosts collected over ssh.
xl_ext_SOURCES += cmd_cpuid_policy_relevel.c cpuid_remote.h cpuid_remote.c
# create records baselines in xenstore.
xl_ext_CPPFLAGS += $(XENSTORE_CFLAGS)
xl_ext_LDADD += $(XENSTORE_LIBS)
# libcpuidpolicy probes Xen hosts through libxenguest/libxenctrl.
xl_ext_LDADD += $(XENGUEST_LIBS) $(XENCTRL_LIBS)
