# tests of the stream room.
# mkstream: synthetic Xen 4.17 save images for tests, the fuzz corpus and the demo.
noinst_PROGRAMS += stream/mkstream
stream_mkstream_SOURCES = stream/mkstream.c
stream_mkstream_LDADD = $(LIBMIG_TEST_LIBS)

check_PROGRAMS += unit/test_stream
unit_test_stream_SOURCES = unit/test_stream.c
unit_test_stream_LDADD = $(LIBMIG_TEST_LIBS)
TESTS += unit/test_stream

TESTS += stream/stream-dump-cli.sh stream/roundtrip-corpus.sh stream/verify-oracle.sh
EXTRA_DIST += stream/stream-dump-cli.sh stream/roundtrip-corpus.sh stream/verify-oracle.sh \
	data/streams

# libFuzzer target of the stream reader (scripts/fuzz builds and runs it).
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz/fuzz_stream_reader
fuzz_fuzz_stream_reader_SOURCES = fuzz/fuzz_stream_reader.c
fuzz_fuzz_stream_reader_LDFLAGS = $(XENMIG_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_stream_reader_LDADD = ../libmig/libmig.a $(XENTOOLLOG_LIBS) $(PTHREAD_LIBS)
endif
EXTRA_DIST += fuzz/fuzz_stream_reader.c fuzz/corpus/stream_reader
EXTRA_DIST += stream/bench-reader.sh
