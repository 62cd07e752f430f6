# tests of the savefile room (libmig/savefile): the mapped save file written
# through the engine and by hand, replayed, and refused when cut short or
# damaged; the sim's sequential file replayed.
check_PROGRAMS += unit/test_savefile
unit_test_savefile_SOURCES = unit/test_savefile.c unit/mem_backend.c unit/mem_backend.h
unit_test_savefile_LDADD = $(XENDEST_TEST_LIBS)
TESTS += unit/test_savefile

# save --sim then restore --sim on every format; the files' refusals
TESTS += sim/save-restore.sh
EXTRA_DIST += sim/save-restore.sh
