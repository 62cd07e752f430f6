# tests of the xen destination room (libmig/backend/xen prologue and
# destination, xl-ext migrate-receive --xen); no Xen needed: a fake xl
# speaks xl's migration handshake.
XENDEST_TEST_LIBS = ../cpuid-policy/libcpuidpolicy.a ../libmig/libmig.a $(JSONC_LIBS) \
	$(XLUTIL_LIBS) $(XENLIGHT_LIBS) $(XENGUEST_LIBS) $(XENCTRL_LIBS) \
	$(XENFOREIGNMEMORY_LIBS) $(XENSTORE_LIBS) $(XENTOOLLOG_LIBS) $(XXHASH_LIBS) $(CRYPTO_LIBS) \
	$(LZ4_LIBS) 	$(CHECK_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += unit/test_xen_prologue
unit_test_xen_prologue_SOURCES = unit/test_xen_prologue.c
unit_test_xen_prologue_LDADD = $(XENDEST_TEST_LIBS)
TESTS += unit/test_xen_prologue

# The stand-in for xl migrate-receive and the source double that drives
# xl-ext migrate-receive --xen (xen/xendest.sh).
check_PROGRAMS += xen/fake-xl xen/xen-source-double
xen_fake_xl_SOURCES = xen/fake-xl.c
xen_fake_xl_LDADD = $(XENDEST_TEST_LIBS)
xen_xen_source_double_SOURCES = xen/xen-source-double.c unit/mem_backend.c unit/mem_backend.h
xen_xen_source_double_LDADD = $(XENDEST_TEST_LIBS)
TESTS += xen/xendest.sh xen/xen-mapped.sh
EXTRA_DIST += xen/xendest.sh xen/xen-mapped.sh xen/xen-lib.sh

if ENABLE_FUZZING
noinst_PROGRAMS += fuzz/fuzz_xen_prologue
fuzz_fuzz_xen_prologue_SOURCES = fuzz/fuzz_xen_prologue.c
fuzz_fuzz_xen_prologue_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_xen_prologue_LDADD = ../libmig/libmig.a $(XENTOOLLOG_LIBS) $(PTHREAD_LIBS)
endif
EXTRA_DIST += fuzz/fuzz_xen_prologue.c fuzz/corpus/xen_prologue

# The xen source's explanation of a domain that crashed or vanished while
# being migrated (libmig/backend/xen/source.c), and its throttle's cap
# arithmetic (throttle.c); no Xen needed.
check_PROGRAMS += unit/test_xen_source
unit_test_xen_source_SOURCES = unit/test_xen_source.c
unit_test_xen_source_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/libmig/backend/xen \
	$(XENCTRL_CFLAGS) $(XENLIGHT_CFLAGS)
unit_test_xen_source_LDADD = $(XENDEST_TEST_LIBS)
TESTS += unit/test_xen_source
