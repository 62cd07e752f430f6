# libmig/util: helpers every room shares (byte order, writing every byte, whole files, the machine's memory, a process nobody dumps).
libmig_a_SOURCES += util/le.h util/io.h util/io.c util/file.h util/file.c util/host.h util/host.c util/trace.h util/trace.c
