# libmig/dirty: dirty bitmaps and compacted dirty-set encoding.
libmig_a_SOURCES += \
	mig_dirty.h \
	dirty/dirty_private.h \
	dirty/bitmap.c \
	dirty/compact.c
