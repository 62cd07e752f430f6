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

if ENABLE_FUZZING
# libFuzzer target of the mapped save file's reader and replay (scripts/fuzz)
noinst_PROGRAMS += fuzz/fuzz_mapped_reader
fuzz_fuzz_mapped_reader_SOURCES = fuzz/fuzz_mapped_reader.c
fuzz_fuzz_mapped_reader_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_mapped_reader_LDADD = $(XENDEST_TEST_LIBS)
endif
EXTRA_DIST += fuzz/fuzz_mapped_reader.c fuzz/corpus/mapped_reader
