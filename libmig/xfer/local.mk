# libmig/xfer: N parallel data streams (wire format in mig_xfer.h).
libmig_a_SOURCES += mig_xfer.h xfer/wire.h xfer/wire.c xfer/sender.c xfer/receiver.c \
	xfer/seal.h xfer/seal.c
