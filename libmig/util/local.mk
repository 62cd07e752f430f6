# libmig/util: helpers every room shares (byte order, I/O).
libmig_a_SOURCES += util/le.h
