# tests of the PV source (libmig/backend/xen: pv_tables, the PV head and
# tail records); no Xen needed: crafted page tables, m2p and p2m.
PVSRC_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/libmig/backend/xen $(XENCTRL_CFLAGS)
PVSRC_TEST_LIBS = ../libmig/libmig.a $(XENGUEST_LIBS) $(XENCTRL_LIBS) \
	$(XENFOREIGNMEMORY_LIBS) $(XENSTORE_LIBS) $(XENTOOLLOG_LIBS) $(XXHASH_LIBS) \
	$(JSONC_LIBS) $(CHECK_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += unit/test_pv_tables unit/test_pv_stream
unit_test_pv_tables_SOURCES = unit/test_pv_tables.c
unit_test_pv_tables_CPPFLAGS = $(PVSRC_TEST_CPPFLAGS)
unit_test_pv_tables_LDADD = $(PVSRC_TEST_LIBS)
unit_test_pv_stream_SOURCES = unit/test_pv_stream.c
unit_test_pv_stream_CPPFLAGS = $(PVSRC_TEST_CPPFLAGS)
unit_test_pv_stream_LDADD = $(PVSRC_TEST_LIBS)
TESTS += unit/test_pv_tables unit/test_pv_stream

# the HVM source's device model (libmig/backend/xen/emulator.c): QMP against
# a fake server, qemu's saved state, the tail's EMULATOR records.
check_PROGRAMS += unit/test_xen_emulator
unit_test_xen_emulator_SOURCES = unit/test_xen_emulator.c
unit_test_xen_emulator_CPPFLAGS = $(PVSRC_TEST_CPPFLAGS)
unit_test_xen_emulator_LDADD = $(PVSRC_TEST_LIBS)
TESTS += unit/test_xen_emulator
