# tests of the xfer room.
check_PROGRAMS += unit/test_xfer
unit_test_xfer_SOURCES = unit/test_xfer.c
unit_test_xfer_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_xfer

check_PROGRAMS += unit/test_seal
unit_test_seal_SOURCES = unit/test_seal.c
unit_test_seal_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_seal

# Benchmark (not a test): scripts/bench-streams runs it.
noinst_PROGRAMS += bench/xfer-bench
bench_xfer_bench_SOURCES = bench/xfer-bench.c
bench_xfer_bench_LDADD = $(LIBMIG_TEST_LIBS)

# Benchmark helper (not a test): scripts/bench-peer writes the sim guest's
# memory to a file with it, for QEMU and the raw sender.
noinst_PROGRAMS += bench/sim-image
bench_sim_image_SOURCES = bench/sim-image.c
bench_sim_image_LDADD = $(LIBMIG_TEST_LIBS)

# Benchmark helper (not a test): scripts/bench-peer starts xenmig's receiver
# under it, for the receiver's CPU and the source's when it started.
noinst_PROGRAMS += bench/cpu-wrap
bench_cpu_wrap_SOURCES = bench/cpu-wrap.c

# Benchmark (not a test): which codec compresses pages (docs/benchmarks.md,
# "Page compression"); zstd beside LZ4 when configure found libzstd.
noinst_PROGRAMS += bench/codec-bench
bench_codec_bench_SOURCES = bench/codec-bench.c
bench_codec_bench_CPPFLAGS = $(AM_CPPFLAGS) $(ZSTD_CFLAGS)
bench_codec_bench_LDADD = $(LIBMIG_TEST_LIBS) $(ZSTD_LIBS)

check_PROGRAMS += unit/test_precopy
unit_test_precopy_SOURCES = unit/test_precopy.c
unit_test_precopy_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_precopy

check_PROGRAMS += unit/test_migrate
unit_test_migrate_SOURCES = unit/test_migrate.c unit/mem_backend.c unit/mem_backend.h
unit_test_migrate_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_migrate

TESTS += sim/migrate-sim.sh sim/fault-matrix.sh sim/migrate-predict.sh
EXTRA_DIST += sim/migrate-sim.sh sim/fault-matrix.sh sim/flood.py sim/migrate-predict.sh sim/sim-lib.sh
# the switchover's fixed costs, learned per host and put into the prediction
TESTS += sim/switchover-costs.sh
EXTRA_DIST += sim/switchover-costs.sh

if ENABLE_FUZZING
# libFuzzer targets of the data-stream receiver and the control channel.
noinst_PROGRAMS += fuzz/fuzz_xfer_frames fuzz/fuzz_control_lines
fuzz_fuzz_xfer_frames_SOURCES = fuzz/fuzz_xfer_frames.c
fuzz_fuzz_xfer_frames_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_xfer_frames_LDADD = $(LIBMIG_TEST_LIBS)
fuzz_fuzz_control_lines_SOURCES = fuzz/fuzz_control_lines.c
fuzz_fuzz_control_lines_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_control_lines_LDADD = $(LIBMIG_TEST_LIBS)
endif
EXTRA_DIST += fuzz/fuzz_xfer_frames.c fuzz/fuzz_control_lines.c \
	fuzz/corpus/xfer_frames fuzz/corpus/control_lines
