# tests of the dirty room: dirty bitmaps, compacted encoding, simulated guest.
check_PROGRAMS += unit/test_dirty_bitmap unit/test_dirty_compact
unit_test_dirty_bitmap_SOURCES = unit/test_dirty_bitmap.c unit/dirty_testutil.h
unit_test_dirty_bitmap_LDADD = $(LIBMIG_TEST_LIBS)
unit_test_dirty_compact_SOURCES = unit/test_dirty_compact.c unit/dirty_testutil.h
unit_test_dirty_compact_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_dirty_bitmap unit/test_dirty_compact

# Benchmarks: built with the tree, never run by make check.
# Run: make -C build/tests bench-dirty
noinst_PROGRAMS += bench/dirty-bench
bench_dirty_bench_SOURCES = bench/dirty-bench.c unit/dirty_testutil.h
bench_dirty_bench_LDADD = ../libmig/libmig.a $(XENTOOLLOG_LIBS) $(XXHASH_LIBS) $(PTHREAD_LIBS)

.PHONY: bench-dirty
bench-dirty: bench/dirty-bench$(EXEEXT)
	./bench/dirty-bench$(EXEEXT)

EXTRA_DIST += fuzz/corpus/dirty_decode

if ENABLE_FUZZING
noinst_PROGRAMS += fuzz/fuzz_dirty_decode
fuzz_fuzz_dirty_decode_SOURCES = fuzz/fuzz_dirty_decode.c
fuzz_fuzz_dirty_decode_LDADD = ../libmig/libmig.a $(XENTOOLLOG_LIBS) $(XXHASH_LIBS) $(PTHREAD_LIBS)
fuzz_fuzz_dirty_decode_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

# the simulated guest (libmig/backend/sim)
check_PROGRAMS += unit/test_sim
unit_test_sim_SOURCES = unit/test_sim.c
unit_test_sim_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_sim

noinst_PROGRAMS += bench/sim-trace-bench
bench_sim_trace_bench_SOURCES = bench/sim-trace-bench.c
bench_sim_trace_bench_LDADD = ../libmig/libmig.a $(XENTOOLLOG_LIBS) $(XXHASH_LIBS) $(PTHREAD_LIBS)

.PHONY: bench-sim-trace
bench-sim-trace: bench/sim-trace-bench$(EXEEXT)
	./bench/sim-trace-bench$(EXEEXT)

# How compressible real memory and the sim guest's fills are (LZ4 per page):
# docs/benchmarks.md, "Sim guest memory".
noinst_PROGRAMS += bench/page-compress-bench
bench_page_compress_bench_SOURCES = bench/page-compress-bench.c
bench_page_compress_bench_CFLAGS = $(AM_CFLAGS) $(LZ4_CFLAGS)
bench_page_compress_bench_LDADD = $(LIBMIG_TEST_LIBS) $(LZ4_LIBS)
