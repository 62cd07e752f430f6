# libmig/stream: libxc v3, libxl v2 and xl save-file codecs.
libmig_a_SOURCES += stream/stream_internal.h stream/format.c stream/reader.c stream/writer.c
noinst_HEADERS += mig_stream.h
