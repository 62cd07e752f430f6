# libmig/backend/xen: real domains (source) and the merged stock stream
# fed to `xl migrate-receive` (destination); see mig_xen.h.
libmig_a_CPPFLAGS += $(XENCTRL_CFLAGS) $(XENGUEST_CFLAGS) $(XENLIGHT_CFLAGS) \
	$(XENFOREIGNMEMORY_CFLAGS) $(XENSTORE_CFLAGS)
libmig_a_SOURCES += mig_xen.h
# -- xen source room --
libmig_a_SOURCES += backend/xen/source.c backend/xen/source_stream.c backend/xen/xen_private.h \
	backend/xen/throttle.c backend/xen/throttle.h \
	backend/xen/emulator.c
libmig_a_SOURCES += backend/xen/source_pv.c backend/xen/source_pv_stream.c \
	backend/xen/pv_tables.c backend/xen/pv_tables.h
# -- xen destination room --
libmig_a_SOURCES += backend/xen/prologue.c backend/xen/destination.c
# -- ranged room --
libmig_a_SOURCES += backend/xen/ranged.c backend/xen/ranged.h
