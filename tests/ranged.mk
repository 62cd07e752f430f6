# tests of the ranged room: the ranged log-dirty harvest of the lab's
# patched Xen (libmig/backend/xen/ranged.c).
#
# In `make check` (no Xen needed): xen_ranged_clean()'s argument checks.
# On a real patched Xen: tests/lab/ranged-check.c, run by the lab
# (scripts/lab --ranged, and in --full) as the scenario *-ranged-check.
check_PROGRAMS += unit/test_ranged
unit_test_ranged_SOURCES = unit/test_ranged.c
unit_test_ranged_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/libmig/backend/xen $(XENCTRL_CFLAGS)
unit_test_ranged_LDADD = $(LIBMIG_TEST_LIBS) $(XENCTRL_LIBS)
TESTS += unit/test_ranged
EXTRA_DIST += lab/ranged-check.c lab/patches/xen-4.17-ranged-logdirty.patch
