# tests of the xfer room.
check_PROGRAMS += unit/test_xfer
unit_test_xfer_SOURCES = unit/test_xfer.c
unit_test_xfer_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_xfer

# Benchmark (not a test): scripts/bench-streams runs it.
noinst_PROGRAMS += bench/xfer-bench
bench_xfer_bench_SOURCES = bench/xfer-bench.c
bench_xfer_bench_LDADD = $(LIBMIG_TEST_LIBS)

check_PROGRAMS += unit/test_precopy
unit_test_precopy_SOURCES = unit/test_precopy.c
unit_test_precopy_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_precopy

check_PROGRAMS += unit/test_migrate
unit_test_migrate_SOURCES = unit/test_migrate.c unit/mem_backend.c unit/mem_backend.h
unit_test_migrate_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_migrate

TESTS += sim/migrate-sim.sh sim/fault-matrix.sh
EXTRA_DIST += sim/migrate-sim.sh sim/fault-matrix.sh
