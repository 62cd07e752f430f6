# tests of the stream room.
# mkstream: synthetic Xen 4.17 save images for tests, the fuzz corpus and the demo.
noinst_PROGRAMS += stream/mkstream
stream_mkstream_SOURCES = stream/mkstream.c
stream_mkstream_LDADD = $(LIBMIG_TEST_LIBS)
