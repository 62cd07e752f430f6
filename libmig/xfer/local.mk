# libmig/xfer: N parallel data streams (mig_xfer.h; wire format in docs/formats.md).
libmig_a_SOURCES += mig_xfer.h xfer/wire.h xfer/wire.c xfer/sender.c \
	xfer/receiver.h xfer/accept.c xfer/receiver.c xfer/seal.h xfer/seal.c
