# The sim guest as a migration backend (mig_sim_backend.h).
libmig_a_SOURCES += mig_sim_backend.h backend/sim/sim_backend.c
