# libmig/stream: libxc v3, libxl v2 and xl save-file codecs.
