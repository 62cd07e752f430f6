# libmig/backend/xen: real domains (source) and the merged stock stream
# fed to `xl migrate-receive` (destination); see mig_xen.h.
libmig_a_CPPFLAGS += $(XENCTRL_CFLAGS) $(XENGUEST_CFLAGS) $(XENLIGHT_CFLAGS) \
	$(XENFOREIGNMEMORY_CFLAGS)
libmig_a_SOURCES += mig_xen.h
# -- xen source room --
libmig_a_SOURCES += backend/xen/source.c backend/xen/source_stream.c backend/xen/xen_private.h
# -- xen destination room --
# -- ranged room --
libmig_a_SOURCES += backend/xen/ranged.c backend/xen/ranged.h
