# libmig/savefile: save files the engine writes and reads back (mig_savefile.h):
# the mapped format's destination, reader and replay, and the replay of the
# sim's sequential save file.
libmig_a_SOURCES += mig_savefile.h savefile/savefile_private.h \
	savefile/mapped_format.h savefile/mapped_format.c savefile/mapped_dest.c \
	savefile/mapped_read.c savefile/walk.c savefile/replay.c
