# libmig/backend/sim: simulated guest with kernel dirty tracking (uffd-wp).
libmig_a_SOURCES += \
	mig_sim.h \
	backend/sim/sim_private.h \
	backend/sim/guest.c \
	backend/sim/fill.c \
	backend/sim/tracker.c
